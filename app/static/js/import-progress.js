/* Syrena: a registry import's progress. Polls the import's progress.json every 2 s, moves the <progress> bar
   and the counts, and reloads the page when the import has finished (the server renders the result). Without
   JavaScript the page refreshes itself (a <noscript> meta refresh) and offers a "Refresh" link. */
(function () {
  "use strict";

  var INTERVAL_MS = 2000;
  var root = document.getElementById("import-progress");
  if (!root || root.dataset.finished === "true") { return; }
  var bar = document.getElementById("import-bar");
  var status = document.getElementById("import-status");
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);

  function render(p) {
    var total = p.total_rows || 0;
    bar.max = total || 1;
    bar.value = total ? p.processed_rows : 0;
    bar.textContent = p.processed_rows + " / " + total;
    status.textContent = p.status_label;
    ["processed_rows", "total_rows", "added", "skipped"].forEach(function (name) {
      var el = root.querySelector('[data-field="' + name + '"]');
      if (el) { el.textContent = p[name] == null ? "…" : numberFormat.format(p[name]); }
    });
  }

  function poll() {
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        render(p);
        if (p.finished) { window.location.reload(); } else { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 2); });
  }

  window.setTimeout(poll, INTERVAL_MS);
}());
