/* Trajectory page: d3 reads trajectory.csv (frame,time_s,area_px,cx,cy,x_min,y_min,x_max,y_max);
 * plotly draws the 3-D scatter of the centre and the bbox corners over (x, y, frame), coloured by frame;
 * d3 draws area and centre x/y over time with a frame cursor that follows the video (click to seek). */
(function () {
  "use strict";
  var plotEl = document.getElementById("plot3d");
  if (!plotEl || !window.d3) return;
  var video = document.getElementById("traj-video");
  var statusEl = plotEl.querySelector('[data-field="plot-status"]');
  var readout = function (name) { return document.querySelector('#readout [data-field="' + name + '"]'); };
  var rows = [];
  var fps = Number(plotEl.getAttribute("data-fps")) || 0;
  var charts = [];
  var current = -1;
  var lastRestyle = 0, restyleTimer = null;
  var num = function (v) { return (v === null || v === undefined || v === "" || isNaN(v)) ? null : Number(v); };

  d3.csv(plotEl.getAttribute("data-csv-url"), function (d) {
    return { frame: num(d.frame), t: num(d.time_s), area: num(d.area_px), cx: num(d.cx), cy: num(d.cy),
             x0: num(d.x_min), y0: num(d.y_min), x1: num(d.x_max), y1: num(d.y_max) };
  }).then(function (data) {
    rows = data.filter(function (r) { return r.frame !== null; });
    rows.forEach(function (r, i) { if (r.t === null) r.t = fps ? r.frame / fps : i; });
    if (!fps && rows.length > 1) fps = (rows.length - 1) / ((rows[rows.length - 1].t - rows[0].t) || 1);
    plotEl.setAttribute("data-points", String(rows.length));
    draw3d();
    drawCharts();
    setFrame(0);
    plotEl.setAttribute("data-ready", "1");
  }).catch(function (e) {
    if (statusEl) statusEl.textContent = "Could not load the trajectory: " + e.message;
    plotEl.setAttribute("data-error", e.message);
  });

  // ---- 3-D ---------------------------------------------------------------------------------------------
  function draw3d() {
    if (!window.Plotly) { statusEl.textContent = "plotly.js did not load."; return; }
    if (statusEl) statusEl.remove();
    var frames = rows.map(function (r) { return r.frame; });
    var cornerX = [], cornerY = [], cornerZ = [], cornerC = [];
    rows.forEach(function (r) {
      if (r.x0 === null) return;
      [[r.x0, r.y0], [r.x1, r.y0], [r.x1, r.y1], [r.x0, r.y1]].forEach(function (c) {
        cornerX.push(c[0]); cornerY.push(c[1]); cornerZ.push(r.frame); cornerC.push(r.frame);
      });
    });
    var width = Number(plotEl.getAttribute("data-width")) || d3.max(rows, function (r) { return r.x1; }) || 1;
    var height = Number(plotEl.getAttribute("data-height")) || d3.max(rows, function (r) { return r.y1; }) || 1;
    var traces = [
      { type: "scatter3d", mode: "lines+markers", name: "centre",
        x: rows.map(function (r) { return r.cx; }), y: rows.map(function (r) { return r.cy; }), z: frames,
        marker: { size: 3.5, color: frames, colorscale: "Viridis", showscale: true,
                  colorbar: { title: { text: "frame" }, thickness: 14, len: 0.7 } },
        line: { color: "rgba(80,80,80,0.45)", width: 2 },
        hovertemplate: "frame %{z}<br>centre (%{x:.1f}, %{y:.1f})<extra></extra>" },
      { type: "scatter3d", mode: "markers", name: "bbox corners",
        x: cornerX, y: cornerY, z: cornerZ,
        marker: { size: 2, color: cornerC, colorscale: "Viridis", opacity: 0.55 },
        hovertemplate: "frame %{z}<br>corner (%{x:.0f}, %{y:.0f})<extra></extra>" },
      { type: "scatter3d", mode: "markers", name: "current frame", x: [null], y: [null], z: [null],
        marker: { size: 7, color: "#d6336c", symbol: "diamond" }, hoverinfo: "skip" }
    ];
    var layout = {
      margin: { l: 0, r: 0, t: 10, b: 0 }, height: 520, showlegend: true,
      legend: { x: 0, y: 1 },
      scene: {
        xaxis: { title: { text: "x (px)" }, range: [0, width] },
        yaxis: { title: { text: "y (px)" }, range: [height, 0] },
        zaxis: { title: { text: "frame" } },
        aspectmode: "manual", aspectratio: { x: 1.3, y: 1.3 * height / width, z: 1 },
        camera: { eye: { x: 1.6, y: -1.6, z: 0.9 } }
      }
    };
    Plotly.newPlot(plotEl, traces, layout, { responsive: true, displaylogo: false });
  }

  function markCurrent(r) {
    if (!window.Plotly || !plotEl.data) return;
    var now = Date.now();
    var apply = function () {
      lastRestyle = Date.now();
      Plotly.restyle(plotEl, { x: [[r.cx]], y: [[r.cy]], z: [[r.frame]] }, [2]);
    };
    window.clearTimeout(restyleTimer);
    if (now - lastRestyle > 120) apply(); else restyleTimer = window.setTimeout(apply, 120);
  }

  // ---- 2-D ---------------------------------------------------------------------------------------------
  function chart(container, series, yLabel) {
    var el = document.getElementById(container);
    el.innerHTML = "";
    var width = el.clientWidth || 800, height = 220;
    var m = { top: 12, right: 90, bottom: 32, left: 58 };
    var x = d3.scaleLinear().domain(d3.extent(rows, function (r) { return r.t; })).range([m.left, width - m.right]);
    var all = [];
    series.forEach(function (s) { rows.forEach(function (r) { if (r[s.key] !== null) all.push(r[s.key]); }); });
    var y = d3.scaleLinear().domain([d3.min(all) || 0, d3.max(all) || 1]).nice().range([height - m.bottom, m.top]);
    var svg = d3.select(el).append("svg").attr("viewBox", [0, 0, width, height]).attr("height", height);
    svg.append("g").attr("transform", "translate(0," + (height - m.bottom) + ")")
      .call(d3.axisBottom(x).ticks(Math.max(2, width / 90)).tickFormat(function (v) { return v + " s"; }));
    svg.append("g").attr("transform", "translate(" + m.left + ",0)").call(d3.axisLeft(y).ticks(5, "~s"));
    svg.append("text").attr("transform", "translate(14," + ((height - m.bottom + m.top) / 2) + ") rotate(-90)")
      .attr("text-anchor", "middle").attr("font-size", 11).attr("fill", "#667085").text(yLabel);
    series.forEach(function (s, i) {
      svg.append("path").datum(rows).attr("class", "line").attr("stroke", s.color)
        .attr("d", d3.line().defined(function (r) { return r[s.key] !== null; })
          .x(function (r) { return x(r.t); }).y(function (r) { return y(r[s.key]); }));
      var lg = svg.append("g").attr("class", "legend").attr("transform", "translate(" + (width - m.right + 12) + "," + (m.top + 8 + i * 18) + ")");
      lg.append("rect").attr("width", 12).attr("height", 3).attr("y", -2).attr("fill", s.color);
      lg.append("text").attr("x", 16).attr("dy", "0.32em").text(s.label);
    });
    var cursor = svg.append("line").attr("class", "cursor").attr("y1", m.top).attr("y2", height - m.bottom);
    var dots = series.map(function (s) { return svg.append("circle").attr("r", 3.5).attr("fill", s.color); });
    svg.append("rect").attr("x", m.left).attr("y", m.top).attr("width", width - m.left - m.right)
      .attr("height", height - m.top - m.bottom).attr("fill", "transparent")
      .on("click", function (event) {
        var t = x.invert(d3.pointer(event)[0]);
        seekTo(nearest(t));
      });
    return { x: x, y: y, cursor: cursor, dots: dots, series: series };
  }

  function drawCharts() {
    charts = [
      chart("chart-area", [{ key: "area", label: "area (px)", color: "#2f6fed" }], "area (px)"),
      chart("chart-centre", [{ key: "cx", label: "centre x", color: "#2f9e44" },
                             { key: "cy", label: "centre y", color: "#e8590c" }], "pixels")
    ];
    if (current >= 0) { var c = current; current = -1; setFrame(c); }
  }

  function nearest(t) {
    var i = d3.bisector(function (r) { return r.t; }).center(rows, t);
    return Math.max(0, Math.min(rows.length - 1, i));
  }

  function frameAt(time) {  // the frame on screen at a media time: the last one that starts at or before it
    var i = d3.bisector(function (r) { return r.t; }).right(rows, time + 1e-4) - 1;
    return Math.max(0, Math.min(rows.length - 1, i));
  }

  function seekTo(index) {
    setFrame(index);
    if (video && rows[index]) {
      var step = fps ? 0.5 / fps : 0;
      video.currentTime = rows[index].t + step;  // mid-frame: lands on this frame, not the one before
    }
  }

  function setFrame(index) {
    if (!rows.length || index === current) return;
    current = index;
    var r = rows[index];
    charts.forEach(function (c) {
      var cx = c.x(r.t);
      c.cursor.attr("x1", cx).attr("x2", cx);
      c.series.forEach(function (s, i) {
        var v = r[s.key];
        c.dots[i].attr("cx", cx).attr("cy", v === null ? -10 : c.y(v)).attr("opacity", v === null ? 0 : 1);
      });
    });
    readout("frame").textContent = r.frame + " / " + (rows.length - 1);
    readout("time").textContent = r.t.toFixed(2) + " s";
    readout("area").textContent = r.area === null ? "—" : d3.format(",")(r.area) + " px";
    readout("centre").textContent = r.cx === null ? "—" : "(" + r.cx.toFixed(1) + ", " + r.cy.toFixed(1) + ")";
    plotEl.setAttribute("data-current-frame", String(r.frame));
    markCurrent(r);
  }

  if (video) {
    var follow = function () { if (rows.length) setFrame(frameAt(video.currentTime)); };
    video.addEventListener("timeupdate", follow);
    video.addEventListener("seeked", follow);
    if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
      var onFrame = function (now, meta) {
        if (rows.length) setFrame(frameAt(meta.mediaTime));
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () { if (rows.length) drawCharts(); }, 200);
  });
})();
