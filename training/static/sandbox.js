// Progressive enhancement for the practice upload sandbox: without it the upload form posts as
// usual and the results page has a refresh link.
(function () {
  "use strict";

  // Send the file with XMLHttpRequest so a progress bar can show how much has gone up.
  function enhanceUpload(form) {
    var box = form.querySelector(".upload-progress");
    var bar = form.querySelector("progress");
    var text = form.querySelector(".upload-progress-text");
    var input = form.querySelector("input[type=file]");
    if (!box || !window.FormData || !window.XMLHttpRequest) return;

    form.addEventListener("submit", function (event) {
      var file = input && input.files && input.files[0];
      var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
      if (file && limit && file.size > limit) {
        event.preventDefault();
        box.hidden = false;
        text.textContent = form.getAttribute("data-too-large");
        return;
      }
      if (!file) return; // let the server say a file is needed
      event.preventDefault();
      if (form.dataset.submitting === "true") return;
      form.dataset.submitting = "true";
      form.setAttribute("aria-busy", "true");
      box.hidden = false;
      bar.value = 0;
      text.textContent = "Uploading " + file.name + "…";

      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      // The server answers a redirect with the address to open (training/scripted.py): opened
      // here as a navigation, its page shows the messages meant for it, as without a script.
      request.setRequestHeader("X-Sent-By-Script", "1");
      request.upload.addEventListener("progress", function (progress) {
        if (!progress.lengthComputable) return;
        var percent = Math.round((progress.loaded / progress.total) * 100);
        bar.value = percent;
        text.textContent = "Uploaded " + percent + "%";
      });
      request.upload.addEventListener("load", function () {
        bar.removeAttribute("value"); // the server is reading the file: no measure of that
        text.textContent = "Uploaded. Checking the file…";
      });
      request.addEventListener("load", function () {
        var goTo = request.getResponseHeader("X-Go-To");
        if (goTo) {
          window.location.assign(goTo);
          return;
        }
        if (request.status < 400 && request.responseURL && request.responseURL !== form.action) {
          window.location.assign(request.responseURL);
          return;
        }
        // A page with the problem (a form error, or a file too large): show it as the post would.
        var page = new DOMParser().parseFromString(request.responseText, "text/html");
        document.title = page.title;
        document.body.replaceWith(document.adoptNode(page.body));
        var summary = document.getElementById("form-errors") || document.querySelector("h1");
        if (summary) {
          summary.setAttribute("tabindex", "-1");
          summary.focus();
        }
        enhanceAll();
      });
      request.addEventListener("error", function () {
        delete form.dataset.submitting;
        form.removeAttribute("aria-busy");
        text.textContent =
          "The upload did not go through. Check your connection and the file's size, then try again.";
      });
      request.send(new FormData(form));
    });
  }

  // Follow a file being checked in the background (the shared loop of poll.js), then show its
  // results.
  function followJudging(section) {
    var url = section.getAttribute("data-status-url");
    if (!url) return;
    var bar = section.querySelector("progress");
    var text = section.querySelector(".judging-text");
    window.TrainingDesk.poll(url, {
      intervalMs: (parseFloat(section.getAttribute("data-poll-seconds")) || 2) * 1000,
      onChange: function (status) {
        // Finished, or stopped with its worker (or taken up again): the page words that state
        // (the warning, no promise of progress), so it is drawn afresh.
        var stopped = section.getAttribute("data-stopped") === "true";
        if (status.finished || (status.stopped !== undefined && status.stopped !== stopped)) {
          window.location.reload();
          return false;
        }
        if (status.percent !== null) bar.value = status.percent;
        // The server words the label ("Checking… 30,000 of about 50,000 rows"), one place.
        text.textContent = status.label;
        document.querySelectorAll("[data-progress-label]").forEach(function (badge) {
          badge.textContent = status.label;
        });
      },
      // The upload was deleted (from another tab, say): nothing on the page is true any more,
      // neither its progress nor its promise of download links, so only the server's message
      // and its way back remain, as the page says on reload.
      onGone: function (message, error) {
        var main = section.closest("main");
        if (!main) return; // another part of the page already said it
        var heading = document.createElement("h1");
        heading.textContent = (error && error.error) || "This page can no longer be followed";
        var said = document.createElement("p");
        said.setAttribute("role", "alert");
        said.textContent = message;
        main.replaceChildren(heading, said);
        if (error && error.back) {
          var link = document.createElement("a");
          link.href = error.back.url;
          link.textContent = error.back.text;
          var way = document.createElement("p");
          way.appendChild(link);
          main.appendChild(way);
        }
        document.title = heading.textContent;
      },
    });
  }

  function enhanceAll() {
    document.querySelectorAll("form[data-upload-progress]").forEach(enhanceUpload);
    document.querySelectorAll("[data-status-url]").forEach(followJudging);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhanceAll);
  } else {
    enhanceAll();
  }
})();
