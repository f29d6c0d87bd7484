// Progressive enhancement only: every page works without this script.
// A page that declares data-refresh="SECONDS" on <main> or any element reloads itself while it is
// visible, so a dashboard left on a screen stays live. Forms are never interrupted: a reload
// waits while an input has focus.
(function () {
  "use strict";
  // Styles (and tests) can tell whether scripts run.
  document.documentElement.classList.replace("no-js", "js");
  // A destructive form (data-confirm) asks here instead of on a confirmation page.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) { e.preventDefault(); return; }
    var confirmed = form.querySelector('input[name="confirmed"]');
    if (confirmed) confirmed.value = "yes";
  });
  var el = document.querySelector("[data-refresh]");
  if (!el) return;
  var seconds = parseInt(el.getAttribute("data-refresh"), 10);
  if (!(seconds > 0)) return;
  setInterval(function () {
    if (document.hidden) return;
    var active = document.activeElement;
    if (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return;
    window.location.reload();
  }, seconds * 1000);
})();
