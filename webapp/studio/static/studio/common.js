/* Small helpers shared by the pages: confirm before destructive POSTs. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("js-confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) event.preventDefault();
    }
  });
})();
