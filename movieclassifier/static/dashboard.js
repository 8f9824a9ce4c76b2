// Progressive enhancement for the dashboard: show times in the reader's own time zone,
// named after the time ("3 Dec 2026, 09:02 CET"), so a time never reads without its zone.
// Without JavaScript the page shows the same times in UTC ("2026-12-03 08:02 UTC").
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var moment = new Date(node.getAttribute("datetime"));
    if (!isNaN(moment.getTime())) {
      node.title = node.textContent;
      node.textContent = format.format(moment);
    }
  });
})();
