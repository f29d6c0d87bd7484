// The definition editor, checked as one types. Without this script the page's "Check" button
// does the same through the form. After each pause in typing the text is posted to the form's
// `data-check` address (the same check as the API's), and the answer marks each error at its
// line, replaces the list of errors and, for flows, redraws the graph.
(function () {
  "use strict";
  var form = document.querySelector("form[data-check]");
  if (!form) return;
  var area = form.querySelector("textarea[name=source]");
  var editor = form.querySelector(".editor");
  var gutter = editor.querySelector(".gutter");
  var marks = editor.querySelector(".marks");
  var list = document.getElementById("problems");
  var status = document.getElementById("check-status");
  var graph = document.getElementById("graph");
  var drawing = document.getElementById("graph-drawing");
  var timer = null;
  var asked = 0;

  function lines() { return area.value.split("\n"); }

  // Numbers and height follow the text, so lines and marks stay side by side.
  function renumber() {
    var n = lines().length;
    var text = "";
    for (var i = 1; i <= n; i++) text += i + "\n";
    gutter.textContent = text;
    area.rows = Math.max(n, 12) + 1;
    editor.setAttribute("data-lines", n);
  }

  function mark(problems) {
    var all = lines();
    marks.textContent = "";
    problems.forEach(function (p) {
      if (!p.line) return;
      var row = document.createElement("div");
      row.className = "mark";
      row.setAttribute("data-line", p.line);
      row.style.setProperty("--line", p.line - 1);
      row.style.setProperty("--width", (all[p.line - 1] || "").length);
      var msg = document.createElement("span");
      msg.className = "msg";
      msg.textContent = "\u26a0 " + p.message;
      row.appendChild(msg);
      marks.appendChild(row);
    });
  }

  function check() {
    var mine = ++asked;
    var body = new URLSearchParams();
    body.set("csrf", form.querySelector("input[name=csrf]").value);
    body.set("name", form.getAttribute("data-name") || "");
    body.set("source", area.value);
    status.textContent = "Checking\u2026";
    fetch(form.getAttribute("data-check"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) throw new Error("the check answered " + r.status);
      return r.json();
    }).then(function (answer) {
      if (mine !== asked) return; // a newer check is under way
      mark(answer.problems);
      list.innerHTML = answer.problems_html;
      status.textContent = answer.summary;
      form.classList.toggle("invalid", !answer.valid);
      if (drawing && answer.graph) drawing.innerHTML = answer.graph;
      if (graph) graph.classList.toggle("stale", !answer.valid);
    }).catch(function (e) {
      if (mine === asked) status.textContent = "Could not check (" + e.message + "); use the Check button.";
    });
  }

  area.addEventListener("input", function () {
    renumber();
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  });

  // A click on an error's place puts the cursor at that line.
  list.addEventListener("click", function (event) {
    var item = event.target.closest("li[data-line]");
    if (!item) return;
    event.preventDefault();
    var line = parseInt(item.getAttribute("data-line"), 10);
    var offset = 0;
    var all = lines();
    for (var i = 0; i < line - 1 && i < all.length; i++) offset += all[i].length + 1;
    area.focus();
    area.setSelectionRange(offset, offset + (all[line - 1] || "").length);
  });

  // Tab indents (two spaces) rather than leaving the text area; Escape then Tab still leaves.
  var escaped = false;
  area.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { escaped = true; return; }
    if (event.key === "Tab" && !event.shiftKey && !escaped && !area.readOnly) {
      event.preventDefault();
      var start = area.selectionStart;
      area.setRangeText("  ", start, area.selectionEnd, "end");
      area.dispatchEvent(new Event("input"));
    }
    escaped = false;
  });
})();
