/* Syrena: the live campaign page. Polls the admin's progress.json every 2 s and updates the counts, the
   sending rate, the ETA, the times to 50 % / 95 % delivered, which control buttons apply, and shows the final
   report when the campaign ends. Data and labels come from data-* attributes and a JSON block (no inline JS). */
(function () {
  "use strict";

  var INTERVAL_MS = 2000;
  var root = document.getElementById("campaign-progress");
  if (!root) { return; }
  var note = document.getElementById("live-note");
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);
  var timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined,
    { hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZone: document.body.dataset.timezone || undefined });  /* the city's time, not the browser's */
  var failures = 0;

  function setAll(selector, value) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (el) {
      if (el.textContent !== value) { el.textContent = value; }
    });
  }

  function render(p) {
    Object.keys(p.counts).forEach(function (status) {
      setAll('[data-count="' + status + '"]', numberFormat.format(p.counts[status]));
      setAll('[data-field="' + status + '"]', numberFormat.format(p.counts[status]));
    });
    setAll('[data-count="total"]', numberFormat.format(p.total));
    setAll('[data-field="total"]', numberFormat.format(p.total));
    setAll('[data-field="recipients"]', p.recipients == null ? "—" : numberFormat.format(p.recipients));
    setAll('[data-field="cost"]', p.cost_display);
    setAll('[data-field="rate"]', p.rate_display);
    setAll('[data-field="eta"]', p.eta_display);
    setAll('[data-field="time_to_warn_display"]', p.time_to_warn_display);
    setAll('[data-field="time_to_warn_notes"]', p.time_to_warn_notes);
    setAll('[data-field="time_to_50"]', p.time_to_50_display);
    setAll('[data-field="time_to_95"]', p.time_to_95_display);
    setAll('[data-field="duration"]', p.duration_display);
    setAll('[data-field="delivery_rate"]', p.delivery_rate_display);
    setAll('[data-field="completed"]', p.completed_display);
    setAll('[data-field="status_label"]', p.status_label);
    var badge = document.getElementById("campaign-status");
    if (badge) {
      badge.textContent = p.status_label;
      badge.dataset.status = p.status;
      badge.className = "badge status-" + p.status;
    }
    var done = p.counts.delivered + p.counts.failed + p.counts.expired + (p.counts.cancelled || 0);
    var bar = root.querySelector(".progress-bar");
    if (bar) {
      bar.setAttribute("aria-valuemax", String(p.total));
      bar.setAttribute("aria-valuenow", String(done));
      var pct = function (n) { return p.total ? (100 * n / p.total) + "%" : "0%"; };
      bar.querySelector(".progress-delivered").style.width = pct(p.counts.delivered);
      bar.querySelector(".progress-failed").style.width = pct(p.counts.failed + p.counts.expired);
    }
    Array.prototype.forEach.call(root.querySelectorAll("form[data-action]"), function (form) {
      form.hidden = p.actions.indexOf(form.dataset.action) < 0;
    });
    var report = document.getElementById("final-report");
    if (report) { report.hidden = !p.final; }
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

  // Cancelling cannot be undone: ask first.
  Array.prototype.forEach.call(root.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  var initial = document.getElementById("campaign-progress-data");
  if (initial) { render(JSON.parse(initial.textContent)); }
  if (root.dataset.final !== "true" && window.fetch) { window.setTimeout(poll, INTERVAL_MS); }
})();
