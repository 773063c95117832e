/* Correction page: step to any frame, see it with its predicted mask, redraw the mask, run again.
 *
 * Frames are chosen by number, never by time: the slider gives n, and the page loads <job>/frames/n (frame n,
 * decoded by index on the server) and <job>/masks/n (mask n of masks.zip), so the mask always belongs to the
 * frame shown. Changed masks are kept per frame while the user steps around, and sent together as
 * (frame, mask PNG) pairs; the answer names the new job, whose page the browser then follows.
 */
(function () {
  "use strict";
  var form = document.getElementById("correct-form");
  if (!form) return;
  var jobUrl = form.getAttribute("data-job-url");
  var frames = Number(form.getAttribute("data-frames"));
  var annotated = (form.getAttribute("data-annotated") || "").split(",").filter(Boolean).map(Number);
  var slider = document.getElementById("frame-slider");
  var label = form.querySelector('[data-testid="frame-label"]');
  var status = form.querySelector('[data-testid="frame-status"]');
  var list = form.querySelector('[data-testid="edited-frames"]');
  var submitStatus = document.getElementById("submit-status");
  var submitButton = form.querySelector('[data-testid="submit-correction"]');
  var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]').value;

  var edits = {};        // frame index -> ImageData of its corrected mask
  var current = null;    // the frame on the canvas (once loaded)
  var wanted = null;     // the frame being loaded
  var editor = window.MaskCanvas(document.getElementById("mask-draw-panel"), function () {
    if (current === null) return;
    edits[current] = editor.getMask();
    renderList();
  });

  function clamp(n) { return Math.max(0, Math.min(frames - 1, Math.round(n))); }

  function describe(n) {
    return "Frame " + n + " of 0–" + (frames - 1) + (annotated.indexOf(n) >= 0 ? " (annotated)" : "")
      + (edits[n] ? " · corrected" : "");
  }

  function setStatus(text, ready) {
    status.textContent = text;
    status.setAttribute("data-ready", ready ? "1" : "0");
  }

  function show(n) {
    n = clamp(n);
    wanted = n;
    slider.value = n;
    label.textContent = describe(n);
    setStatus("Loading frame " + n + "…", false);
    status.removeAttribute("data-frame");
    Promise.all([window.MaskCanvas.fetchImage(jobUrl + "frames/" + n, {}, "the server has no such frame"),
                 edits[n] ? null : window.MaskCanvas.fetchImage(jobUrl + "masks/" + n, {}, "the server has no mask")])
      .then(function (loaded) {
        if (wanted !== n) return;
        current = n;
        editor.setFrame(loaded[0]);
        if (edits[n]) editor.putMask(edits[n]); else editor.loadMask(loaded[1]);
        setStatus("Frame " + n, true);
        status.setAttribute("data-frame", String(n));
      })
      .catch(function (e) { if (wanted === n) setStatus("Could not load frame " + n + ": " + e.message, false); });
  }

  function renderList() {
    list.textContent = "";
    Object.keys(edits).map(Number).sort(function (a, b) { return a - b; }).forEach(function (n) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "frame " + n;
      button.setAttribute("data-testid", "edited-frame");
      button.setAttribute("data-frame", String(n));
      button.addEventListener("click", function () { show(n); });
      item.appendChild(button);
      list.appendChild(item);
    });
    if (current !== null) label.textContent = describe(current);
  }

  slider.addEventListener("input", function () { label.textContent = describe(Number(slider.value)); });
  slider.addEventListener("change", function () { show(Number(slider.value)); });
  form.querySelector('[data-role="previous"]').addEventListener("click", function () { show((wanted || 0) - 1); });
  form.querySelector('[data-role="next"]').addEventListener("click", function () { show((wanted || 0) + 1); });
  document.addEventListener("keydown", function (event) {
    if (/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) return;
    if (event.key === "ArrowLeft") { event.preventDefault(); show((wanted || 0) - 1); }
    else if (event.key === "ArrowRight") { event.preventDefault(); show((wanted || 0) + 1); }
  });
  form.querySelector('[data-role="restore"]').addEventListener("click", function () {
    if (current === null) return;
    delete edits[current];
    renderList();
    show(current);
  });

  var sending = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return;
    editor.closePolygon();
    var corrected = Object.keys(edits).map(Number).sort(function (a, b) { return a - b; });
    if (!corrected.length) { submitStatus.textContent = "Correct the mask of at least one frame first."; return; }
    var empty = corrected.filter(function (n) { return !editor.hasPaint(edits[n]); });
    if (empty.length) {
      submitStatus.textContent = "The mask of frame " + empty[0] + " is empty: mark the object, or restore the prediction.";
      return;
    }
    sending = true;
    submitButton.disabled = true;
    submitStatus.textContent = "Sending " + corrected.length + " corrected frame" + (corrected.length > 1 ? "s" : "") + "…";
    Promise.all(corrected.map(function (n) { return editor.exportMask(edits[n]); }))
      .then(function (blobs) {
        var body = new FormData();
        corrected.forEach(function (n, i) {
          body.append("frame", String(n));
          body.append("mask", blobs[i], "frame-" + n + ".png");
        });
        return fetch(form.getAttribute("action"), {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
        });
      })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (reply) {
        if (!reply.ok) throw new Error(reply.body.detail || "the correction was refused");
        window.location.href = reply.body.url;
      })
      .catch(function (e) {
        sending = false;
        submitButton.disabled = false;
        submitStatus.textContent = "Not sent: " + e.message;
      });
  });

  var asked = new URLSearchParams(window.location.search).get("frame");
  show(asked !== null && asked !== "" && !isNaN(Number(asked)) ? Number(asked) : Math.floor(frames / 2));
})();
