// The level matrix (templates/macros/matrix.html): a profile fills it without a round trip, the form's
// `manual` field lists the tools whose level the person set by hand (models.profile.chosen_levels applies
// the profile, then those), and a role change locks or frees the rows reserved to secondary contacts.
// Without this script no `manual` field is sent, and every posted level counts as set by hand.
(function () {
  "use strict";

  function toolId(radio) {
    var match = /tool_(\d+)$/.exec(radio.name);
    return match ? match[1] : null;
  }

  function manualField(matrix) {
    var field = matrix.querySelector("input[name=manual]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "manual";
      field.value = "";
      matrix.appendChild(field);
    }
    return field;
  }

  function markByHand(matrix, id) {
    var field = manualField(matrix);
    var ids = field.value ? field.value.split(",") : [];
    if (ids.indexOf(id) < 0) { ids.push(id); }
    field.value = ids.join(",");
  }

  function isLocked(row) {
    return row.hasAttribute("data-secondary-only") && row.getAttribute("data-locked") === "true";
  }

  function fill(matrix, levels) {
    manualField(matrix).value = "";
    matrix.querySelectorAll("tbody tr").forEach(function (row) {
      if (row.hasAttribute("data-fixed")) { return; }
      var radios = row.querySelectorAll("input[type=radio]");
      if (!radios.length) { return; }
      var rank = isLocked(row) ? 0 : (levels[toolId(radios[0])] || 0);
      radios.forEach(function (radio) { radio.checked = Number(radio.value) === rank; });
    });
  }

  function setRole(matrix, role) {
    matrix.querySelectorAll("tr[data-secondary-only]").forEach(function (row) {
      var lock = role !== "secondary";
      var note = row.querySelector("[data-lock-note]");
      row.setAttribute("data-locked", lock ? "true" : "false");
      if (note) { note.hidden = !lock; }
      row.querySelectorAll("input[type=radio]").forEach(function (radio) {
        if (Number(radio.value) === 0) {
          if (lock) { radio.checked = true; }
          return;
        }
        radio.disabled = lock || radio.hasAttribute("data-above");
        if (lock && note) { radio.setAttribute("aria-describedby", note.id); }
      });
    });
  }

  function matricesFor(control) {
    if (control.dataset.roleFor) {
      var one = document.getElementById(control.dataset.roleFor);
      return one ? [one] : [];
    }
    var form = control.closest("form");
    return form ? Array.prototype.slice.call(form.querySelectorAll("[data-matrix]")) : [];
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var matrix = target.closest && target.closest("[data-matrix]");
    if (matrix && target.type === "radio") {
      var id = toolId(target);
      if (id) { markByHand(matrix, id); }
      return;
    }
    if (target.matches && target.matches("select[data-fills]")) {
      var filled = document.getElementById(target.dataset.fills);
      var option = target.options[target.selectedIndex];
      if (filled && option && option.dataset.levels) { fill(filled, JSON.parse(option.dataset.levels)); }
      return;
    }
    if (target.name === "role") {
      matricesFor(target).forEach(function (each) { setRole(each, target.value); });
    }
  });

  // A matrix shown with a locked row knows it from its markup. A choice made while this (deferred)
  // script was still loading fired its change event before anyone listened: catch up with it here, or a
  // quick person's profile would be posted as the old levels set by hand.
  function init(root) {
    root.querySelectorAll("tr[data-secondary-only]").forEach(function (row) {
      var note = row.querySelector("[data-lock-note]");
      row.setAttribute("data-locked", note && !note.hidden ? "true" : "false");
    });
    root.querySelectorAll("input[name=role]:checked").forEach(function (radio) {
      if (!radio.defaultChecked) { matricesFor(radio).forEach(function (each) { setRole(each, radio.value); }); }
    });
    root.querySelectorAll("select[data-fills]").forEach(function (select) {
      var option = select.options[select.selectedIndex];
      var filled = document.getElementById(select.dataset.fills);
      if (filled && option && !option.defaultSelected && option.dataset.levels) {
        fill(filled, JSON.parse(option.dataset.levels));
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
}());
