// "Copy" buttons: a button marked data-copy="ID" copies the text of the field with that id and
// says so in the status next to it. Shown only where the browser lets a page copy; elsewhere
// the field is selected for the person's own Ctrl+C.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.copy + "-status");
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () {
        status.textContent = "Copied.";
      };
      var fallback = function () {
        field.focus();
        field.select();
        status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
});
