/* The mask drawing canvas, shared by the upload page (frame 0) and the correction page (any frame).
 *
 * `MaskCanvas(panel, onEdit)` takes the element that holds a <canvas> and the tools of
 * templates/studio/_mask_tools.html ([data-tool] brush / eraser / polygon, [data-role] size, undo, clear).
 * The mask lives on an off-screen canvas at the frame's full size (white = object) and is drawn tinted red over
 * the frame; `onEdit()` is called after every change the user makes. Keys (while the panel is shown): B, E, P
 * pick a tool, Ctrl+Z undoes, Enter closes a polygon, Escape drops it.
 */
(function () {
  "use strict";

  window.MaskCanvas = function (panel, onEdit) {
    var canvas = panel.querySelector("canvas");
    var ctx = canvas.getContext("2d");
    var sizeInput = panel.querySelector('[data-role="size"]');
    var maskCanvas = document.createElement("canvas");
    var maskCtx = maskCanvas.getContext("2d", { willReadFrequently: true });
    var tintCanvas = document.createElement("canvas");
    var tintCtx = tintCanvas.getContext("2d");
    var frame = null;
    var tool = "brush";
    var drawing = false, last = null, polygon = [], hover = null;
    var history = [];

    function edited() { if (onEdit) onEdit(); }

    function brushSize() { return Number(sizeInput.value) * Math.max(1, canvas.width / 854); }

    function unit() { return canvas.width / canvas.getBoundingClientRect().width || 1; }

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
        polygon = [];
        render();
        edited();
        return;
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
        var u = unit();
        ctx.strokeStyle = "#ffd400";
        ctx.lineWidth = 2 * u;
        ctx.beginPath();
        polygon.forEach(function (p, i) { if (i) ctx.lineTo(p.x, p.y); else ctx.moveTo(p.x, p.y); });
        if (hover) ctx.lineTo(hover.x, hover.y);
        ctx.stroke();
        ctx.fillStyle = "#ffd400";
        polygon.forEach(function (p) { ctx.beginPath(); ctx.arc(p.x, p.y, 4 * u, 0, 2 * Math.PI); ctx.fill(); });
      }
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (!frame) return;
      event.preventDefault();
      var p = point(event);
      if (tool === "polygon") {
        if (polygon.length >= 3 && Math.hypot(p.x - polygon[0].x, p.y - polygon[0].y) < 10 * unit()) {
          closePolygon();
          return;
        }
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
    function endStroke() {
      if (!drawing) return;
      drawing = false;
      last = null;
      edited();
    }
    canvas.addEventListener("pointerup", endStroke);
    canvas.addEventListener("pointercancel", endStroke);
    canvas.addEventListener("dblclick", function (event) {
      if (tool === "polygon") { event.preventDefault(); closePolygon(); }
    });

    function selectTool(name) {
      if (tool === "polygon" && name !== "polygon") { polygon = []; render(); }
      tool = name;
      panel.querySelectorAll("[data-tool]").forEach(function (b) {
        b.classList.toggle("active", b.getAttribute("data-tool") === name);
      });
    }
    panel.querySelectorAll("[data-tool]").forEach(function (b) {
      b.addEventListener("click", function () { selectTool(b.getAttribute("data-tool")); });
    });
    function undo() {
      if (polygon.length) { polygon.pop(); render(); return; }
      var prev = history.pop();
      if (prev) { maskCtx.putImageData(prev, 0, 0); render(); edited(); }
    }
    panel.querySelector('[data-role="undo"]').addEventListener("click", undo);
    panel.querySelector('[data-role="clear"]').addEventListener("click", function () {
      snapshot();
      maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
      polygon = [];
      render();
      edited();
    });
    document.addEventListener("keydown", function (event) {
      if (panel.hidden || /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) return;
      if ((event.ctrlKey || event.metaKey) && event.key === "z") { event.preventDefault(); undo(); }
      else if (event.key === "b") selectTool("brush");
      else if (event.key === "e") selectTool("eraser");
      else if (event.key === "p") selectTool("polygon");
      else if (event.key === "Enter" && tool === "polygon") { event.preventDefault(); closePolygon(); }
      else if (event.key === "Escape") { polygon = []; render(); }
    });

    function hasPaint(data) {
      for (var i = 3; i < data.length; i += 4 * 7) if (data[i] > 0) return true;
      return false;
    }

    function maskData() { return maskCtx.getImageData(0, 0, maskCanvas.width, maskCanvas.height); }

    return {
      /** Show `image` (an ImageBitmap or canvas); a frame of another size starts an empty mask. */
      setFrame: function (image) {
        var resize = maskCanvas.width !== image.width || maskCanvas.height !== image.height;
        frame = image;
        if (resize) {
          canvas.width = maskCanvas.width = tintCanvas.width = image.width;
          canvas.height = maskCanvas.height = tintCanvas.height = image.height;
          history = [];
          polygon = [];
        }
        render();
      },
      hasFrame: function () { return frame !== null; },
      /** Replace the mask by a 0/255 mask image (light = object), e.g. the predicted mask; null empties it. */
      loadMask: function (image) {
        maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
        if (image) {
          maskCtx.drawImage(image, 0, 0);
          var pixels = maskData();
          for (var i = 0; i < pixels.data.length; i += 4) {
            var on = pixels.data[i] > 127;
            pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = 255;
            pixels.data[i + 3] = on ? 255 : 0;
          }
          maskCtx.putImageData(pixels, 0, 0);
        }
        history = [];
        polygon = [];
        render();
      },
      /** The mask as ImageData (to keep an edit while another frame is shown), and back. */
      getMask: maskData,
      putMask: function (pixels) { maskCtx.putImageData(pixels, 0, 0); history = []; render(); },
      /** Whether the mask (or the given ImageData) marks anything. */
      hasPaint: function (pixels) { return maskCanvas.width > 0 && hasPaint((pixels || maskData()).data); },
      closePolygon: function () { if (polygon.length >= 3) closePolygon(); },
      /** The mask (or the given ImageData) as a black-and-white PNG at full size. */
      exportMask: function (pixels) {
        var layer = document.createElement("canvas");
        layer.width = maskCanvas.width;
        layer.height = maskCanvas.height;
        layer.getContext("2d").putImageData(pixels || maskData(), 0, 0);
        var out = document.createElement("canvas");
        out.width = layer.width;
        out.height = layer.height;
        var o = out.getContext("2d");
        o.fillStyle = "#000";
        o.fillRect(0, 0, out.width, out.height);
        o.drawImage(layer, 0, 0);
        return new Promise(function (resolve) { out.toBlob(resolve, "image/png"); });
      }
    };
  };

  /** An image from the site for the canvas (ImageBitmap); a refusal's JSON `detail` (else `fallback` and the
   * HTTP status) becomes the error's message. */
  window.MaskCanvas.fetchImage = function (url, init, fallback) {
    return fetch(url, Object.assign({ credentials: "same-origin" }, init)).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          throw new Error(j.detail || (fallback + " (HTTP " + r.status + ")"));
        });
      }
      return r.blob();
    }).then(function (blob) { return createImageBitmap(blob); });
  };
})();
