/* Preview page: video.js player, overlay / side-by-side switch that keeps the playback position. */
(function () {
  "use strict";
  var el = document.getElementById("preview");
  if (!el || !window.videojs) return;
  var player = window.videojs(el, { fluid: true, playbackRates: [0.25, 0.5, 1, 1.5, 2], preload: "auto" });
  // video.js moves the id to its wrapper and renames the <video>; keep the page's stable hook
  // (<video id="preview">) on the media element itself.
  var media = player.el().querySelector("video");
  player.el().id = "preview-player";
  if (media) media.id = "preview";

  // The correction page picks frames by number; the playback time only chooses where it opens.
  var correct = document.querySelector('[data-testid="correct-here"]');
  if (correct) {
    correct.addEventListener("click", function (event) {
      var fps = Number(correct.getAttribute("data-fps"));
      if (!fps) return;
      event.preventDefault();
      window.location.href = correct.getAttribute("href") + "?frame=" + Math.floor(player.currentTime() * fps + 1e-6);
    });
  }

  var buttons = document.querySelectorAll(".view-switch [data-src]");
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      if (button.classList.contains("active")) return;
      var t = player.currentTime(), paused = player.paused();
      buttons.forEach(function (b) { b.classList.toggle("active", b === button); b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
      player.src({ src: button.getAttribute("data-src"), type: "video/mp4" });
      player.one("loadedmetadata", function () {
        player.currentTime(t);
        if (!paused) player.play();
      });
    });
  });
})();
