// Progressive enhancement for the dashboard: show times in the reader's own time zone.
// Without JavaScript the page shows the same times in UTC.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var moment = new Date(node.getAttribute("datetime"));
    if (!isNaN(moment.getTime())) {
      node.title = node.textContent;
      node.textContent = format.format(moment);
    }
  });
})();
