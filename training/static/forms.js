// Progressive enhancement: a form marked data-submit-once sends once, however often it is clicked.
// The server also books a twice-sent form once; this only spares the second request.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-submit-once")) return;
  if (form.dataset.submitting === "true") {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "true";
  form.setAttribute("aria-busy", "true");
});

// After a failed submit, move focus to the list of problems so screen readers announce it; after
// a submit that shows something new on the same page (a preview), move focus to what it shows.
// After a button whose page comes back at what it changed (a #fragment naming an element that
// takes focus: an organization's row on the live board, a status message), focus goes there,
// not to the top of the page, and the page's messages about the press describe it, so a screen
// reader says what changed where the person is.
document.addEventListener("DOMContentLoaded", function () {
  var target =
    document.getElementById("form-errors") || document.querySelector("[data-focus-on-load]");
  if (target) {
    target.focus();
    return;
  }
  var point = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (!point || !(point.tabIndex >= 0 || point.hasAttribute("tabindex"))) return;
  var own = point.getAttribute("aria-describedby"); // kept: the messages are added to it
  var said = own ? [own] : [];
  document.querySelectorAll("main > .flash").forEach(function (flash, index) {
    if (!flash.id) flash.id = "flash-" + (index + 1);
    said.push(flash.id);
  });
  if (said.length) point.setAttribute("aria-describedby", said.join(" "));
  point.focus();
});

// A "Print" button needs a script, so it shows only where one runs; without it, the browser's
// own Print command prints the same page.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
});
