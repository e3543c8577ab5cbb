// Live sessions: the participant's page follows the facilitator, and the facilitator's board
// follows the organizations, through the shared polling loop (poll.js: If-None-Match, 304 when
// nothing changed). Without JavaScript both pages still work: they render the current state
// and link to refresh.
(function () {
  "use strict";

  var poll = window.TrainingDesk.poll;

  // Replace `container`'s content, keeping keyboard focus on the same control if it is there.
  function swap(container, html, focusFallback) {
    var active = document.activeElement;
    var hadFocus = active && container.contains(active) && active !== container;
    var focusedId = hadFocus ? active.id : null;
    container.innerHTML = html;
    if (!hadFocus) return;
    var again = focusedId && document.getElementById(focusedId);
    var target = again || (focusFallback && document.getElementById(focusFallback));
    if (target) target.focus();
  }

  function startTimer() {
    var timer = document.getElementById("live-timer");
    if (!timer || timer.dataset.ticking) return;
    timer.dataset.ticking = "yes";
    var started = Date.parse(timer.dataset.startedAt);
    function show() {
      var ended = timer.dataset.endedAt ? Date.parse(timer.dataset.endedAt) : Date.now();
      var seconds = Math.max(0, Math.floor((ended - started) / 1000));
      var minutes = Math.floor(seconds / 60) % 60;
      timer.textContent =
        Math.floor(seconds / 3600) + ":" + String(minutes).padStart(2, "0") + ":" +
        String(seconds % 60).padStart(2, "0");
    }
    show();
    if (!timer.dataset.endedAt) window.setInterval(show, 1000);
  }

  function followParticipant(root) {
    var region = document.getElementById("live-step");
    var announce = document.getElementById("live-announce");
    var stepId = (region.querySelector("[data-step-id]") || {}).dataset;
    var shownStep = stepId ? stepId.stepId : null;
    // A step answered from the server's shared cache leaves the forms' CSRF fields empty: they
    // get this page's, which belongs to this browser's session.
    var csrf = (region.querySelector('input[name="csrf_token"]') || {}).value || "";
    var shownVersion = root.dataset.version;
    var shownState = root.dataset.state;
    // The organization's own signals as the page shows them: asked for help, done with the
    // step, marked helped by a facilitator (the order of data-signals).
    var shownSignals = root.dataset.signals || "";
    var wasHelped = shownSignals.split(" ")[2] === "1";
    poll(root.dataset.stateUrl, {
      etag: root.dataset.etag,
      intervalMs: Number(root.dataset.pollMs) || 1000,
      onChange: function (data) {
        // A message about a press (its flash) spoke of the state it was pressed in: once the
        // facilitator moves on (a step, End, Restart), the organization's signals change (a
        // facilitator marked it helped, another tab pressed a button) or the session goes,
        // only the server's state, rendered below, still holds.
        var signals = [data.needs_help, data.is_done, data.was_helped].map(Number).join(" ");
        if (
          String(data.version) !== shownVersion ||
          data.state !== shownState ||
          signals !== shownSignals
        ) {
          document.querySelectorAll("main > .flash").forEach(function (flash) {
            flash.remove();
          });
        }
        if (data.state === "no_session") {
          var when = document.getElementById("live-when");
          if (when) when.remove();
        }
        shownVersion = String(data.version);
        shownState = data.state;
        shownSignals = signals;
        swap(region, data.html, "step-title");
        region.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
          if (input.value) csrf = input.value;
          else input.value = csrf;
        });
        var news = [];
        var newStep = data.step ? String(data.step.id) : null;
        if (newStep !== shownStep && data.step) {
          news.push("Now on step " + data.step.number + ": " + data.step.title);
        }
        if (data.was_helped && !wasHelped) news.push("A facilitator marked you as helped");
        if (news.length) announce.textContent = news.join(". ");
        shownStep = newStep;
        wasHelped = Boolean(data.was_helped);
      },
      onGone: function (message) {
        // The step and its buttons no longer work: the server's reason replaces them.
        var notice = document.createElement("p");
        notice.className = "notice";
        notice.id = "live-gone";
        notice.setAttribute("role", "alert");
        notice.textContent = message;
        region.replaceChildren(notice);
      },
    });
  }

  function followBoard(root) {
    var board = document.getElementById("live-board");
    var stepPanel = document.getElementById("step");
    var version = root.dataset.version;
    poll(root.dataset.boardUrl, {
      etag: root.dataset.etag,
      intervalMs: Number(root.dataset.pollMs) || 2000,
      onChange: function (data) {
        swap(board, data.board_html);
        if (String(data.version) !== version) {
          swap(stepPanel, data.step_html, "next-step");
          version = String(data.version);
          startTimer();
        }
        document.title = document.title.replace(/^\(\d+ need help\) /, "");
        if (data.help.length) document.title = "(" + data.help.length + " need help) " + document.title;
      },
    });
    startTimer();
  }

  var participant = document.getElementById("live-follow");
  if (participant) followParticipant(participant);
  var console_ = document.getElementById("live-console");
  if (console_) followBoard(console_);
})();
