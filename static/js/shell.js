// The site sidebar folds into its Menu button under 768 px and stays open on wider screens.
// A static file because the Content Security Policy forbids inline script; without it the menu is open.
(function () {
  "use strict";
  var narrow = window.matchMedia("(max-width: 767px)");
  function fit() {
    var menus = document.querySelectorAll("details.site-menu");
    for (var i = 0; i < menus.length; i++) { menus[i].open = !narrow.matches; }
  }
  document.addEventListener("DOMContentLoaded", fit);
  narrow.addEventListener("change", fit);
})();
