/* Upload page: choose between a mask file and a mask drawn on the video's first frame.
 *
 * The first frame is decoded in the browser when it can (H.264, VP9, …); otherwise (e.g. HEVC in Chromium)
 * the video is posted to the site, which decodes frame 0 with ffmpeg. The drawing lives on an off-screen
 * canvas at the video's full size; on submit it is exported as a black/white PNG into the `mask` file input,
 * so the server receives an ordinary mask file.
 */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var videoInput = form.querySelector('input[name="video"]');
  var maskInput = form.querySelector('input[name="mask"]');
  var radios = form.querySelectorAll('input[name="mask_source"]');
  var filePanel = document.getElementById("mask-file-panel");
  var drawPanel = document.getElementById("mask-draw-panel");
  var canvas = document.getElementById("mask-canvas");
  var ctx = canvas.getContext("2d");
  var statusEl = document.getElementById("frame-status");
  var sizeInput = document.getElementById("brush-size");
  var submitStatus = document.getElementById("submit-status");
  var submitButton = form.querySelector('[data-testid="submit"]');
  var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]').value;

  var frame = null;          // ImageBitmap / canvas of frame 0
  var maskCanvas = document.createElement("canvas");
  var maskCtx = maskCanvas.getContext("2d");
  var tintCanvas = document.createElement("canvas");
  var tintCtx = tintCanvas.getContext("2d");
  var tool = "brush";
  var drawing = false, last = null, polygon = [], hover = null;
  var history = [];
  var painted = false;
  var loadedFor = null;      // the File whose first frame is shown
  var loading = null;

  function mode() {
    var checked = form.querySelector('input[name="mask_source"]:checked');
    return checked ? checked.value : "file";
  }

  function setStatus(text, ready) {
    statusEl.textContent = text;
    statusEl.setAttribute("data-ready", ready ? "1" : "0");
  }

  function applyMode() {
    var draw = mode() === "drawn";
    filePanel.hidden = draw;
    drawPanel.hidden = !draw;
    maskInput.required = !draw;
    if (draw) ensureFrame();
  }

  radios.forEach(function (r) { r.addEventListener("change", applyMode); });
  videoInput.addEventListener("change", function () {
    loadedFor = null;
    if (mode() === "drawn") ensureFrame();
  });

  // ---- first frame -------------------------------------------------------------------------------------
  function frameInBrowser(file, timeoutMs) {
    return new Promise(function (resolve, reject) {
      var video = document.createElement("video");
      var url = URL.createObjectURL(file);
      var done = false;
      function finish(err, result) {
        if (done) return;
        done = true;
        window.clearTimeout(timer);
        video.removeAttribute("src");
        video.load();
        URL.revokeObjectURL(url);
        if (err) reject(err); else resolve(result);
      }
      var timer = window.setTimeout(function () { finish(new Error("timeout")); }, timeoutMs);
      video.muted = true;
      video.playsInline = true;
      video.preload = "auto";
      video.addEventListener("error", function () { finish(new Error("cannot decode")); });
      video.addEventListener("loadeddata", function () {
        if (!video.videoWidth || !video.videoHeight) { finish(new Error("no video track")); return; }
        var c = document.createElement("canvas");
        c.width = video.videoWidth;
        c.height = video.videoHeight;
        var cx = c.getContext("2d");
        cx.drawImage(video, 0, 0);
        // A decoder that "plays" but gives black frames (unsupported codec) is caught by the pixel check.
        var px = cx.getImageData(0, 0, c.width, c.height).data, lit = 0;
        for (var i = 0; i < px.length; i += 4 * 97) { if (px[i] + px[i + 1] + px[i + 2] > 24) { lit++; } }
        if (lit === 0) { finish(new Error("blank frame")); return; }
        finish(null, c);
      });
      video.src = url;
    });
  }

  function frameFromServer(file) {
    var body = new FormData();
    body.append("video", file);
    return fetch(form.getAttribute("data-first-frame-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "image/png, application/json" }
    }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          throw new Error(j.detail || ("the server could not read the video (HTTP " + r.status + ")"));
        });
      }
      return r.blob();
    }).then(function (blob) { return createImageBitmap(blob); });
  }

  function ensureFrame() {
    var file = videoInput.files && videoInput.files[0];
    if (!file) { setStatus("Choose a video to see its first frame.", false); return; }
    if (loadedFor === file || loading === file) return;
    loading = file;
    setStatus("Reading the first frame…", false);
    var source = "browser";
    frameInBrowser(file, 4000)
      .catch(function () {
        source = "server";
        setStatus("Your browser cannot decode this video; the server is extracting the first frame…", false);
        return frameFromServer(file);
      })
      .then(function (img) {
        if (loading !== file) return;
        setFrame(img);
        loadedFor = file;
        setStatus("First frame " + img.width + "×" + img.height, true);
        statusEl.setAttribute("data-source", source);
      })
      .catch(function (e) { setStatus("Could not show the first frame: " + e.message, false); })
      .then(function () { if (loading === file) loading = null; });
  }

  function setFrame(img) {
    var resize = canvas.width !== img.width || canvas.height !== img.height;
    frame = img;
    canvas.width = maskCanvas.width = tintCanvas.width = img.width;
    canvas.height = maskCanvas.height = tintCanvas.height = img.height;
    if (resize) { history = []; painted = false; polygon = []; }
    render();
  }

  // ---- drawing -----------------------------------------------------------------------------------------
  function brushSize() { return Number(sizeInput.value) * Math.max(1, canvas.width / 854); }

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return { x: (event.clientX - rect.left) * canvas.width / rect.width,
             y: (event.clientY - rect.top) * canvas.height / rect.height };
  }

  function snapshot() {
    if (!maskCanvas.width) return;
    history.push(maskCtx.getImageData(0, 0, maskCanvas.width, maskCanvas.height));
    if (history.length > 30) history.shift();
  }

  function stroke(a, b) {
    maskCtx.save();
    maskCtx.globalCompositeOperation = tool === "eraser" ? "destination-out" : "source-over";
    maskCtx.strokeStyle = maskCtx.fillStyle = "#fff";
    maskCtx.lineWidth = brushSize();
    maskCtx.lineCap = maskCtx.lineJoin = "round";
    maskCtx.beginPath();
    maskCtx.moveTo(a.x, a.y);
    maskCtx.lineTo(b.x + 0.01, b.y);
    maskCtx.stroke();
    maskCtx.restore();
    if (tool === "brush") painted = true;
  }

  function closePolygon() {
    if (polygon.length >= 3) {
      snapshot();
      maskCtx.save();
      maskCtx.fillStyle = "#fff";
      maskCtx.beginPath();
      polygon.forEach(function (p, i) { if (i) maskCtx.lineTo(p.x, p.y); else maskCtx.moveTo(p.x, p.y); });
      maskCtx.closePath();
      maskCtx.fill();
      maskCtx.restore();
      painted = true;
    }
    polygon = [];
    render();
  }

  function render() {
    if (!frame) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(frame, 0, 0);
    tintCtx.globalCompositeOperation = "source-over";
    tintCtx.clearRect(0, 0, tintCanvas.width, tintCanvas.height);
    tintCtx.drawImage(maskCanvas, 0, 0);
    tintCtx.globalCompositeOperation = "source-in";
    tintCtx.fillStyle = "#ff2d55";
    tintCtx.fillRect(0, 0, tintCanvas.width, tintCanvas.height);
    ctx.globalAlpha = 0.55;
    ctx.drawImage(tintCanvas, 0, 0);
    ctx.globalAlpha = 1;
    if (polygon.length) {
      var unit = canvas.width / canvas.getBoundingClientRect().width || 1;
      ctx.strokeStyle = "#ffd400";
      ctx.lineWidth = 2 * unit;
      ctx.beginPath();
      polygon.forEach(function (p, i) { if (i) ctx.lineTo(p.x, p.y); else ctx.moveTo(p.x, p.y); });
      if (hover) ctx.lineTo(hover.x, hover.y);
      ctx.stroke();
      ctx.fillStyle = "#ffd400";
      polygon.forEach(function (p) { ctx.beginPath(); ctx.arc(p.x, p.y, 4 * unit, 0, 2 * Math.PI); ctx.fill(); });
    }
  }

  canvas.addEventListener("pointerdown", function (event) {
    if (!frame) return;
    event.preventDefault();
    var p = point(event);
    if (tool === "polygon") {
      var unit = canvas.width / canvas.getBoundingClientRect().width || 1;
      if (polygon.length >= 3 && Math.hypot(p.x - polygon[0].x, p.y - polygon[0].y) < 10 * unit) { closePolygon(); return; }
      polygon.push(p);
      render();
      return;
    }
    canvas.setPointerCapture(event.pointerId);
    snapshot();
    drawing = true;
    last = p;
    stroke(p, p);
    render();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!frame) return;
    var p = point(event);
    if (tool === "polygon") { hover = p; if (polygon.length) render(); return; }
    if (!drawing) return;
    stroke(last, p);
    last = p;
    render();
  });
  function endStroke() { drawing = false; last = null; }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("dblclick", function (event) {
    if (tool === "polygon") { event.preventDefault(); closePolygon(); }
  });

  function selectTool(name) {
    if (tool === "polygon" && name !== "polygon") { polygon = []; render(); }
    tool = name;
    drawPanel.querySelectorAll("[data-tool]").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-tool") === name); });
  }
  drawPanel.querySelectorAll("[data-tool]").forEach(function (b) {
    b.addEventListener("click", function () { selectTool(b.getAttribute("data-tool")); });
  });
  function undo() {
    if (polygon.length) { polygon.pop(); render(); return; }
    var prev = history.pop();
    if (prev) { maskCtx.putImageData(prev, 0, 0); render(); }
  }
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("clear").addEventListener("click", function () {
    snapshot();
    maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
    polygon = [];
    painted = false;
    render();
  });
  document.addEventListener("keydown", function (event) {
    if (drawPanel.hidden || /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) return;
    if ((event.ctrlKey || event.metaKey) && event.key === "z") { event.preventDefault(); undo(); }
    else if (event.key === "b") selectTool("brush");
    else if (event.key === "e") selectTool("eraser");
    else if (event.key === "p") selectTool("polygon");
    else if (event.key === "Enter" && tool === "polygon") { event.preventDefault(); closePolygon(); }
    else if (event.key === "Escape") { polygon = []; render(); }
  });

  function hasPaint() {
    if (!painted || !maskCanvas.width) return false;
    var data = maskCtx.getImageData(0, 0, maskCanvas.width, maskCanvas.height).data;
    for (var i = 3; i < data.length; i += 4 * 7) if (data[i] > 0) return true;
    return false;
  }

  function exportMask() {
    var out = document.createElement("canvas");
    out.width = maskCanvas.width;
    out.height = maskCanvas.height;
    var o = out.getContext("2d");
    o.fillStyle = "#000";
    o.fillRect(0, 0, out.width, out.height);
    o.drawImage(maskCanvas, 0, 0);
    return new Promise(function (resolve) { out.toBlob(resolve, "image/png"); });
  }

  // ---- submit ------------------------------------------------------------------------------------------
  var sending = false;
  form.addEventListener("submit", function (event) {
    if (sending) { event.preventDefault(); return; }
    if (mode() !== "drawn") {
      sending = true;
      submitButton.disabled = true;
      submitStatus.textContent = "Uploading…";
      return;
    }
    event.preventDefault();
    if (polygon.length >= 3) closePolygon();
    if (!frame || loadedFor !== (videoInput.files && videoInput.files[0])) {
      setStatus("Wait for the first frame, then draw the object.", false);
      submitStatus.textContent = "The first frame is not loaded yet.";
      return;
    }
    if (!hasPaint()) {
      submitStatus.textContent = "Draw the object on the first frame first.";
      return;
    }
    sending = true;
    submitButton.disabled = true;
    submitStatus.textContent = "Uploading…";
    exportMask().then(function (blob) {
      var transfer = new DataTransfer();
      transfer.items.add(new File([blob], "drawn-mask.png", { type: "image/png" }));
      maskInput.files = transfer.files;
      form.submit();
    });
  });
  window.addEventListener("pageshow", function () { sending = false; submitButton.disabled = false; submitStatus.textContent = ""; });

  applyMode();
})();
