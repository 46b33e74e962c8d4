// The review queue: j and k move the highlighted row, Enter opens it. The highlighted row's
// link carries data-key="Enter", so app.js clicks it when Enter is pressed; a click anywhere
// on a row opens it too.
(function () {
  "use strict";

  var table = document.getElementById("queue");
  if (!table) return;
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]"));
  if (!rows.length) return;
  var current = -1;

  function highlight(index, scroll) {
    if (index < 0 || index >= rows.length) return;
    if (current >= 0) {
      rows[current].classList.remove("current");
      rows[current].removeAttribute("aria-current");
      var old = rows[current].querySelector("a.open-item");
      if (old) old.removeAttribute("data-key");
    }
    current = index;
    var row = rows[current];
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    var link = row.querySelector("a.open-item");
    if (link) link.setAttribute("data-key", "Enter");
    if (scroll !== false) row.scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "j") {
      event.preventDefault();
      highlight(Math.min(current + 1, rows.length - 1));
    } else if (event.key === "k") {
      event.preventDefault();
      highlight(Math.max(current - 1, 0));
    }
  });

  table.addEventListener("click", function (event) {
    if (event.target.closest("a, button")) return; // a link in the row goes where it says
    var row = event.target.closest("tr[data-href]");
    if (row) window.location.href = row.dataset.href;
  });

  // Enter on the filters' fields and buttons is theirs, not the highlighted row's.
  var filters = document.getElementById("queue-filters");
  if (filters) {
    filters.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.stopPropagation();
    });
  }

  highlight(0, false);
})();
