// Progressive enhancement: in a group of lists marked data-distinct-choices (the signup form's
// first, second and third choice of date), a date chosen in one list is disabled in the others,
// so no choice repeats another, and says why in its own text ("… — chosen as your date", the
// choosing list's data-choice), which is what sighted users and screen readers alike read. The
// group's attribute value is the "no choice" option's value, which every list may hold. Without
// JavaScript the server refuses a repeat and says to pick another.
(function () {
  function update(group) {
    var none = group.getAttribute("data-distinct-choices");
    var lists = Array.prototype.slice.call(group.querySelectorAll("select"));
    lists.forEach(function (list) {
      var takenBy = Object.create(null);
      lists.forEach(function (other) {
        if (other !== list && other.value !== none && !(other.value in takenBy)) {
          takenBy[other.value] = other.getAttribute("data-choice") || "another choice";
        }
      });
      Array.prototype.forEach.call(list.options, function (option) {
        if (option.dataset.label === undefined) option.dataset.label = option.textContent;
        // A list's own selection stays enabled: a disabled option would not be sent at all.
        var taken = option.value !== none && !option.selected && option.value in takenBy;
        option.disabled = taken;
        option.textContent = taken
          ? option.dataset.label + " \u2014 chosen as " + takenBy[option.value]
          : option.dataset.label;
      });
    });
  }

  function updateAll() {
    document.querySelectorAll("[data-distinct-choices]").forEach(update);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-distinct-choices]").forEach(function (group) {
      update(group);
      group.addEventListener("change", function () {
        update(group);
      });
    });
  });
  // Back and Forward: the browser puts the chosen dates back after the page is built (or
  // shows it from its cache), without a change event; judge the lists again as shown.
  window.addEventListener("pageshow", updateAll);
})();
