/* Upload page: choose between a mask file and a mask drawn on the video's first frame.
 *
 * The first frame is decoded in the browser when it can (H.264, VP9, …); otherwise (e.g. HEVC in Chromium)
 * the video is posted to the site, which decodes frame 0 with ffmpeg. The drawing (mask_canvas.js) is kept at
 * the video's full size; on submit it is exported as a black/white PNG into the `mask` file input, so the
 * server receives an ordinary mask file.
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
  var statusEl = document.getElementById("frame-status");
  var submitStatus = document.getElementById("submit-status");
  var submitButton = form.querySelector('[data-testid="submit"]');
  var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]').value;

  var editor = window.MaskCanvas(drawPanel);
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
    return window.MaskCanvas.fetchImage(form.getAttribute("data-first-frame-url"), {
      method: "POST", body: body, headers: { "X-CSRFToken": csrf, "Accept": "image/png, application/json" }
    }, "the server could not read the video");
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
        editor.setFrame(img);
        loadedFor = file;
        setStatus("First frame " + img.width + "×" + img.height, true);
        statusEl.setAttribute("data-source", source);
      })
      .catch(function (e) { setStatus("Could not show the first frame: " + e.message, false); })
      .then(function () { if (loading === file) loading = null; });
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
    editor.closePolygon();
    if (!editor.hasFrame() || loadedFor !== (videoInput.files && videoInput.files[0])) {
      setStatus("Wait for the first frame, then draw the object.", false);
      submitStatus.textContent = "The first frame is not loaded yet.";
      return;
    }
    if (!editor.hasPaint()) {
      submitStatus.textContent = "Draw the object on the first frame first.";
      return;
    }
    sending = true;
    submitButton.disabled = true;
    submitStatus.textContent = "Uploading…";
    editor.exportMask().then(function (blob) {
      var transfer = new DataTransfer();
      transfer.items.add(new File([blob], "drawn-mask.png", { type: "image/png" }));
      maskInput.files = transfer.files;
      form.submit();
    });
  });
  window.addEventListener("pageshow", function () { sending = false; submitButton.disabled = false; submitStatus.textContent = ""; });

  applyMode();
})();
