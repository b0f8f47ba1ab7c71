/* petakota: a button with data-print prints the page (instead of an inline onclick handler,
 * which the Content-Security-Policy refuses). */
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
