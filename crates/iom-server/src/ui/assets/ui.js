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
// A map to pick a place on (a node's form): a click sets the latitude and longitude inputs,
// inverting the projection the server drew the map with (its data- attributes).
(function () {
  "use strict";
  var map = document.getElementById("pick-map");
  if (!map) return;
  var d = map.dataset, num = function (k) { return parseFloat(d[k]); };
  map.addEventListener("click", function (event) {
    var lat = document.getElementById("lat"), lon = document.getElementById("lon");
    if (!lat || !lon || lat.disabled) return;
    var pt = map.createSVGPoint();
    pt.x = event.clientX; pt.y = event.clientY;
    var p = pt.matrixTransform(map.getScreenCTM().inverse());
    var la = num("lat1") - (p.y - num("oy")) / num("scale");
    var lo = num("lon0") + (p.x - num("ox")) / (num("kx") * num("scale"));
    lat.value = (Math.round(la * 10000) / 10000).toString();
    lon.value = (Math.round(lo * 10000) / 10000).toString();
    var marker = document.getElementById("picked");
    if (marker) { marker.setAttribute("cx", p.x); marker.setAttribute("cy", p.y); }
  });
})();
