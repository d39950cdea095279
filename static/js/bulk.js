// The User list's bulk bar (templates/members/_list.html): shown while rows are selected, with their count.
// Without this script the bar is always shown; the server refuses an empty selection.
(function () {
  "use strict";

  function update(form) {
    var bar = form.querySelector("[data-bulk-bar]");
    if (!bar) { return; }
    var count = form.querySelectorAll("input[name=selected]:checked").length;
    var shown = bar.querySelector("[data-bulk-count]");
    if (shown) { shown.textContent = String(count); }
    bar.hidden = count === 0 && !form.querySelector(".bulk-preview");
  }

  function updateAll(root) {
    (root.matches && root.matches("[data-bulk-form]") ? [root] : [])
      .concat(Array.prototype.slice.call(root.querySelectorAll("[data-bulk-form]")))
      .forEach(update);
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "selected") {
      var form = event.target.closest("[data-bulk-form]");
      if (form) { update(form); }
    }
  });
  document.addEventListener("DOMContentLoaded", function () { updateAll(document); });
  document.addEventListener("htmx:load", function (event) { updateAll(event.target); });
}());
