// The one polling loop of the pages that follow the server: the live pages (the participant's
// step, the facilitator's board) and the sandbox's progress bar. It asks `url` for JSON every
// `intervalMs` ms, with If-None-Match once it knows an ETag (304: nothing changed), and hands
// each new answer to `onChange`, which returns false to stop. An address gone for good (404 or
// 410) stops the loop and hands the server's message (and its whole answer) to `onGone`. Each
// wait is the interval ±10% at random, and the first a random part of it, so the pages of a
// room opened together spread their asks evenly instead of arriving at once. A failed ask
// waits twice as long; a page shown again asks at once. Without JavaScript every page still
// works: it renders the current state and links to refresh, and says nothing of updating by
// itself.
(function () {
  "use strict";

  function poll(url, options) {
    // Words that say the page updates by itself ([data-with-script], hidden in the markup)
    // show only on a page whose loop runs: without JavaScript they would be untrue.
    document.documentElement.classList.add("page-follows");
    var etag = options.etag || null;
    var wait = options.intervalMs;
    var stopped = false;
    var busy = false;
    var timer = null;

    function later(delay) {
      if (!stopped) timer = window.setTimeout(ask, delay * (0.9 + 0.2 * Math.random()));
    }

    function ask() {
      if (busy || stopped) return;
      window.clearTimeout(timer);
      busy = true;
      var failed = false;
      var headers = { Accept: "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 304) return null;
          if (response.status === 404 || response.status === 410) {
            // The address will not answer again (a replaced manage link, say): stop, and hand
            // the server's message to the page, which shows it instead of stale content.
            stopped = true;
            return response
              .json()
              .catch(function () {
                return {};
              })
              .then(function (error) {
                if (options.onGone) {
                  options.onGone(error.message || "This page can no longer be followed; reload it.", error);
                }
                return null;
              });
          }
          if (!response.ok) {
            failed = true;
            return null;
          }
          etag = response.headers.get("ETag") || etag;
          return response.json();
        })
        .then(function (data) {
          if (data && options.onChange(data) === false) stopped = true;
        })
        .catch(function () {
          failed = true;
        })
        .then(function () {
          busy = false;
          later(failed ? wait * 2 : wait);
        });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) ask();
    });
    if (!stopped) timer = window.setTimeout(ask, wait * Math.random());
  }

  window.TrainingDesk = window.TrainingDesk || {};
  window.TrainingDesk.poll = poll;
})();
