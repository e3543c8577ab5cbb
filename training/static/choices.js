// Progressive enhancement: in a group of lists marked data-distinct-choices (the signup form's
// first, second and third choice of date), a date chosen in one list is disabled in the others,
// so no choice repeats another. The attribute's value is the "no choice" option's value, which
// every list may hold. Without JavaScript the server refuses a repeat and says to pick another.
(function () {
  function update(group) {
    var none = group.getAttribute("data-distinct-choices");
    var lists = Array.prototype.slice.call(group.querySelectorAll("select"));
    lists.forEach(function (list) {
      var taken = lists
        .filter(function (other) {
          return other !== list && other.value !== none;
        })
        .map(function (other) {
          return other.value;
        });
      Array.prototype.forEach.call(list.options, function (option) {
        // A list's own selection stays enabled: a disabled option would not be sent at all.
        option.disabled =
          option.value !== none && !option.selected && taken.indexOf(option.value) !== -1;
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
