/* Job page: poll the small status view and update the progress bar, stage, ETA and links. */
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) return;
  var url = root.getAttribute("data-status-url");
  var bar = root.querySelector('[data-testid="progress"]');
  var fill = bar.querySelector(".progress-bar");
  var apiDown = document.getElementById("api-down");
  var field = function (name) { return document.querySelector('[data-field="' + name + '"]'); };
  var delay = 1000;

  function duration(s) {
    if (s === null || s === undefined || isNaN(s)) return "—";
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60), r = s % 60;
    if (m < 60) return m + " min " + String(r).padStart(2, "0") + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }

  function show(el, visible) { if (el) el.hidden = !visible; }

  function render(s) {
    var pct = Math.round((s.progress || 0) * 100);
    bar.setAttribute("data-state", s.state);
    bar.className = "progress state-" + s.state;
    bar.setAttribute("aria-valuenow", pct);
    fill.style.width = (s.state === "done" ? 100 : pct) + "%";
    field("state").textContent = s.state;
    field("stage").textContent = s.final ? "" : (s.stage || "");
    field("percent").textContent = (s.state === "done" ? 100 : pct) + " %";
    field("eta").textContent = s.final ? "—" : duration(s.eta_s);
    var err = field("error");
    err.textContent = s.error || "";
    show(err, !!s.error);
    show(field("done-links"), s.state === "done");
    show(field("cancel-form"), !s.final);
    show(field("delete-form"), s.final);
    if (apiDown) {
      show(apiDown, !!s.api_down);
      if (s.api_down && s.message) field("api-message").textContent = s.message;
    }
    if (s.final && s.state !== "done") {
      document.title = s.state + " · " + document.title.replace(/^\w+ · /, "");
    }
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 404) return r.json().then(function (body) { throw Object.assign(new Error(body.detail || "not found"), { fatal: true }); });
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (s) {
        render(s);
        delay = s.api_down ? Math.min(delay * 2, 8000) : 1000;
        if (!s.final) window.setTimeout(poll, delay);
      })
      .catch(function (e) {
        if (e.fatal) { var err = field("error"); err.textContent = e.message; show(err, true); return; }
        delay = Math.min(delay * 2, 8000);
        window.setTimeout(poll, delay);
      });
  }

  if (bar.getAttribute("data-final") !== "true" || (apiDown && !apiDown.hidden)) poll();
})();
