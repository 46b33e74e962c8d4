// Keyboard first: an element with data-key="m" is clicked when m is pressed (not while
// typing in a field). Links and buttons both work; a form's submit button submits it.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (key === "?") {
      var help = document.getElementById("keys-help");
      if (help) help.hidden = !help.hidden;
      return;
    }
    var found = document.querySelector('[data-key="' + CSS.escape(key) + '"]:not([disabled])');
    if (!found) return;
    event.preventDefault();
    found.click();
  });

  // Buttons that need a reason: data-ask-reason="Why?" fills the form's "reason" field.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.dataset.askReason) || form.dataset.askReason;
    if (!question) return;
    var field = form.querySelector('[name="reason"]');
    if (field && field.value.trim()) return;
    var answer = window.prompt(question, "");
    if (answer === null || !answer.trim()) {
      event.preventDefault();
      return;
    }
    if (field) field.value = answer.trim();
  });
})();
