/* Syrena: refreshes a campaign's delivery counts every 2 s from the admin's progress.json. */
(function () {
  "use strict";

  var INTERVAL_MS = 2000;
  var root = document.getElementById("campaign-progress");
  if (!root || !window.fetch) { return; }
  var note = document.getElementById("live-note");
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);
  var timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined,
    { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  var failures = 0;

  function setText(selector, value) {
    var el = root.querySelector(selector);
    if (el && el.textContent !== value) { el.textContent = value; }
  }

  function render(p) {
    Object.keys(p.counts).forEach(function (status) {
      setText('[data-count="' + status + '"]', numberFormat.format(p.counts[status]));
    });
    setText('[data-count="total"]', numberFormat.format(p.total));
    setText('[data-field="recipients"]', p.recipients == null ? "—" : numberFormat.format(p.recipients));
    setText('[data-field="cost"]', p.cost_display);
    var badge = document.getElementById("campaign-status");
    if (badge) {
      badge.textContent = p.status_label;
      badge.dataset.status = p.status;
      badge.className = "badge status-" + p.status;
    }
    var done = p.counts.delivered + p.counts.failed + p.counts.expired;
    var bar = root.querySelector(".progress-bar");
    if (bar) {
      bar.setAttribute("aria-valuemax", String(p.total));
      bar.setAttribute("aria-valuenow", String(done));
      var pct = function (n) { return p.total ? (100 * n / p.total) + "%" : "0%"; };
      bar.querySelector(".progress-delivered").style.width = pct(p.counts.delivered);
      bar.querySelector(".progress-failed").style.width = pct(p.counts.failed + p.counts.expired);
    }
    root.dataset.final = p.final ? "true" : "false";
    if (note) {
      note.textContent = p.final ? "" : root.dataset.labelLive + " · " + root.dataset.labelUpdated + ": " +
        timeFormat.format(new Date());
    }
  }

  function stop() {
    if (note) { note.textContent = root.dataset.labelStopped; }
  }

  function poll() {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { "Accept": "application/json" },
                                      cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || !response.ok || type.indexOf("application/json") !== 0) {
          throw new Error("progress unavailable: " + response.status);
        }
        return response.json();
      })
      .then(function (p) {
        failures = 0;
        render(p);
        if (!p.final) { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () {
        failures += 1;
        if (failures >= 5) { stop(); } else { window.setTimeout(poll, INTERVAL_MS * failures); }
      });
  }

  if (root.dataset.final !== "true") { window.setTimeout(poll, INTERVAL_MS); }
})();
