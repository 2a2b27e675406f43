/* Syrena: times in scripts read like the server's localtime filter ("2026-12-06 23:15 CET"): in the city's
   time zone ([app] timezone, from <body data-timezone>), never the browser's own. */
(function () {
  "use strict";

  var zone = (document.body && document.body.dataset.timezone) || undefined;
  var formats = {};

  function formatter(seconds) {
    var key = seconds ? "s" : "m";
    if (!formats[key]) {
      var options = { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
                      hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
      if (seconds) { options.second = "2-digit"; }
      try {
        formats[key] = new Intl.DateTimeFormat("en-GB", options);
      } catch (e) {  /* a zone this browser does not know: its own, still labelled */
        delete options.timeZone;
        formats[key] = new Intl.DateTimeFormat("en-GB", options);
      }
    }
    return formats[key];
  }

  /* An ISO 8601 string (with its offset) or a Date, as "YYYY-MM-DD HH:MM[:SS] ZONE"; "" for nothing. */
  window.syrenaLocalTime = function (value, seconds) {
    if (value == null || value === "") { return ""; }
    var date = value instanceof Date ? value : new Date(value);
    if (isNaN(date.getTime())) { return String(value); }
    var p = {};
    formatter(seconds).formatToParts(date).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + (seconds ? ":" + p.second : "") +
      " " + p.timeZoneName;
  };
}());
