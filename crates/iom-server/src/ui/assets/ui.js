// Progressive enhancement only: every page works without this script.
// - A page that declares data-refresh="SECONDS" on any element reloads itself while it is
//   visible, so a dashboard left on a screen stays live. A reload waits while an input has focus.
// - Live parts: an element with data-live="PREFIX" (an event type prefix such as "order.") is
//   fetched again and swapped in when an event of that type arrives; an element with
//   data-live-subject="ID" anywhere in <main> has the whole of <main> swapped when an event about
//   that subject arrives. Events come from /ui/events (server-sent events of the business event
//   log). Nothing is swapped while the person types in it.
// - The browser's time zone is remembered in a cookie, so the server shows times in it.
(function () {
  "use strict";
  // Styles (and tests) can tell whether scripts run.
  document.documentElement.classList.replace("no-js", "js");

  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("iom_tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "iom_tz=" + encodeURIComponent(zone) +
        "; path=/ui; max-age=31536000; SameSite=Strict";
    }
  } catch (e) { /* no Intl: times stay in UTC */ }

  // A destructive form (data-confirm) asks here instead of on a confirmation page.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) { e.preventDefault(); return; }
    var confirmed = form.querySelector('input[name="confirmed"]');
    if (confirmed) confirmed.value = "yes";
  });
  function typingIn(el) {
    var active = document.activeElement;
    return active && el.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var seconds = parseInt(refresh.getAttribute("data-refresh"), 10);
    if (seconds > 0) {
      setInterval(function () {
        if (document.hidden || typingIn(document.body)) return;
        window.location.reload();
      }, seconds * 1000);
    }
  }

  var main = document.querySelector("main");
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live][id]"));
  var subjectEl = main.querySelector("[data-live-subject]");
  var subject = subjectEl && subjectEl.getAttribute("data-live-subject");
  if (!regions.length && !subject) return;

  var timer = null;
  var dirty = { main: false, ids: {} };
  function schedule() {
    if (timer) return;
    // Events come in bursts (an order and its flow steps): one fetch for the burst.
    timer = setTimeout(swap, 250);
  }
  function swap() {
    timer = null;
    if (typingIn(main)) { schedule(); return; }
    var want = dirty;
    dirty = { main: false, ids: {} };
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (want.main) {
          var fresh = doc.querySelector("main");
          if (fresh) main.innerHTML = fresh.innerHTML;
        } else {
          Object.keys(want.ids).forEach(function (id) {
            var here = document.getElementById(id), there = doc.getElementById(id);
            if (here && there) here.innerHTML = there.innerHTML;
          });
        }
        document.documentElement.setAttribute("data-live-updated", String(Date.now()));
      })
      .catch(function () { /* the next event tries again */ });
  }

  // From the last event committed before the page was read: what happened while it loaded
  // is pushed too.
  var after = main.getAttribute("data-after");
  var source = new EventSource("/ui/events" + (after ? "?after=" + encodeURIComponent(after) : ""));
  source.onmessage = function (message) {
    var e;
    try { e = JSON.parse(message.data); } catch (err) { return; }
    if (subject && e.subject === subject) { dirty.main = true; schedule(); return; }
    regions.forEach(function (r) {
      var prefix = r.getAttribute("data-live");
      if (e.type && e.type.indexOf(prefix) === 0) { dirty.ids[r.id] = true; schedule(); }
    });
  };
  // Listening once the stream is open: from then on no event is missed (and a reconnect
  // resumes after the last one seen).
  source.onopen = function () {
    document.documentElement.setAttribute("data-live-state", "listening");
  };
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
