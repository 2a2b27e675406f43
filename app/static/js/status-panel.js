/* Syrena: refreshes the operations status panel every 3 s from /admin/status.json (no inline script: CSP). */
(function () {
  "use strict";

  var INTERVAL_MS = 3000;
  var root = document.getElementById("status-panel");
  if (!root || !window.fetch) { return; }
  var L = root.dataset;

  function cell(tag, text, className) {
    var el = document.createElement(tag);
    el.textContent = text == null ? "" : String(text);
    if (className) { el.className = className; }
    return el;
  }

  function fill(tableId, rows, empty, columns) {
    var body = document.querySelector("#" + tableId + " tbody");
    if (!body) { return; }
    var fresh = document.createElement("tbody");
    if (!rows.length && empty) {
      var tr = document.createElement("tr");
      var td = cell("td", empty, "empty");
      td.colSpan = columns;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (c) { tr.appendChild(cell(c[0], c[1], c[2])); });
      fresh.appendChild(tr);
    });
    body.parentNode.replaceChild(fresh, body);
  }

  function setField(name, value) {
    var el = root.querySelector('[data-field="' + name + '"]');
    if (el) { el.textContent = String(value); }
  }

  function render(s) {
    var ready = document.getElementById("status-ready");
    ready.textContent = s.ready ? L.labelReady : L.labelNotReady;
    ready.className = "status-ready " + (s.ready ? "is-ready" : "is-not-ready");
    setField("rate", s.rate);
    setField("workers", s.workers.length);
    setField("binds", s.binds.filter(function (b) { return b.bound; }).length + " / " + s.binds.length);
    setField("lagging", s.receipts_lagging.count == null ? "—" : s.receipts_lagging.count);
    setField("lagging-oldest", s.receipts_lagging.oldest_seconds == null ? "—" : s.receipts_lagging.oldest_seconds);
    fill("status-checks", Object.keys(s.checks).map(function (name) {
      var ok = s.checks[name].ok;
      return [["th", name], ["td", ok ? "OK" : "✗", ok ? "ok" : "fail"]];
    }));
    fill("status-binds", s.binds.map(function (b) {
      return [["td", b.name], ["td", b.host + ":" + b.port], ["td", b.worker],
              ["td", b.bound ? L.labelBound : L.labelDown, b.bound ? "ok" : "fail"],
              ["td", b.outstanding + " / " + b.window, "num"],
              ["td", (b.rate_now == null ? "—" : b.rate_now) + " / " + (b.tps == null ? "—" : b.tps), "num"],
              ["td", b.refusals_per_s == null ? "—" : b.refusals_per_s, "num"], ["td", b.submitted, "num"],
              ["td", b.reconnects, "num"]];
    }), "—", 9);
    fill("status-queues", s.queues.map(function (q) {
      return [["th", q.name], ["td", q.queued, "num"], ["td", q.started, "num"], ["td", q.failed, "num"]];
    }));
    fill("status-workers", s.workers.map(function (w) {
      return [["td", w.id], ["td", w.rate, "num"], ["td", w.heartbeat_age, "num"], ["td", w.uptime, "num"],
              ["td", w.stopping ? L.labelStopping : (w.job || L.labelIdle)]];
    }), "—", 5);
    var rescued = s.rescued || { total: null, by_reason: [] };
    setField("rescued-total", rescued.total == null ? "—" : rescued.total);
    fill("status-rescued", rescued.by_reason.map(function (r) {
      return [["td", r.label], ["td", r.messages, "num"], ["td", r.last_24h, "num"],
              ["td", window.syrenaLocalTime(r.last_at, true)]];
    }), "—", 4);
    var e = s.last_error;
    document.getElementById("status-last-error").textContent = e ?
      window.syrenaLocalTime(e.at_iso, true) + " " + e.worker + " " + e.level + " " + e.logger + ": " + e.message :
      L.labelNone;
    document.getElementById("status-updated").textContent =
      L.labelUpdated + ": " + window.syrenaLocalTime(s.generated_at, true);
  }

  function poll() {
    fetch(L.url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || !response.ok || type.indexOf("application/json") !== 0) {
          throw new Error("status unavailable: " + response.status);
        }
        return response.json();
      })
      .then(render)
      .catch(function () {
        document.getElementById("status-updated").textContent = L.labelStale;
      })
      .then(function () { window.setTimeout(poll, INTERVAL_MS); });
  }
  window.setTimeout(poll, INTERVAL_MS);
}());
