/* Syrena: replies to a campaign's question on the campaign page (issue 15). Polls replies.json every 5 s and
   updates the tally tables (counts, shares of delivered) and the replies table; draws the replies on a Leaflet
   map at the residents' registered places: needs help red, other answers green, not recognised hollow green,
   delivered-but-silent grey (behind a checkbox, off by default: there may be many). A dot's popup shows phone,
   address, answer, time and text. Labels come from data-* attributes (no inline JS under the CSP). */
(function () {
  "use strict";

  var INTERVAL_MS = 5000;
  var root = document.getElementById("campaign-replies");
  if (!root || !window.fetch) { return; }
  var note = document.getElementById("replies-live-note");
  var lang = document.documentElement.lang || undefined;
  var numberFormat = new Intl.NumberFormat(lang);
  var shareFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  var timeFormat = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short",
    timeZone: document.body.dataset.timezone || undefined });
  var STYLE = {
    needs_help: { color: "#ffffff", weight: 1, fillColor: "#c8102e", fillOpacity: 0.95, radius: 7 },
    answered: { color: "#ffffff", weight: 1, fillColor: "#1d7a46", fillOpacity: 0.9, radius: 6 },
    unrecognised: { color: "#1d7a46", weight: 2, fillColor: "#ffffff", fillOpacity: 0.9, radius: 6 },
    silent: { color: "#ffffff", weight: 1, fillColor: "#8a929c", fillOpacity: 0.7, radius: 4 }
  };
  var map = null, layer = null, lastTally = null, failures = 0;
  var labels = {};  /* answer key → "1 – label", from the tally table's row headers */
  Array.prototype.forEach.call(root.querySelectorAll("#reply-tally [data-tally]"), function (cell) {
    labels[cell.dataset.tally] = cell.parentNode.querySelector("th").childNodes[0].textContent.trim();
  });

  function set(el, value) { if (el && el.textContent !== value) { el.textContent = value; } }
  function pct(share) { return shareFormat.format(100 * share) + " %"; }
  function when(iso) { return iso ? timeFormat.format(new Date(iso)) : ""; }

  function answerText(p) {
    if (p.kind === "silent") { return root.dataset.labelSilent; }
    return p.answer ? (labels[p.answer] || p.answer) : root.dataset.labelUnrecognised;
  }

  function popup(p) {
    var dl = document.createElement("dl");
    dl.className = "reply-popup";
    [[root.dataset.labelPhone, p.phone], [root.dataset.labelAddress, p.address || "—"],
     [root.dataset.labelAnswer, answerText(p)], [root.dataset.labelTime, when(p.received_at || p.delivered_at)],
     [root.dataset.labelText, p.text || ""]].forEach(function (row) {
      if (row[1] === "" && row[0] === root.dataset.labelText) { return; }
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = row[0];
      dd.textContent = row[1];
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    return dl;
  }

  function renderTallies(r) {
    Object.keys(r.tally).forEach(function (key) {
      set(root.querySelector('#reply-tally [data-tally="' + key + '"]'), numberFormat.format(r.tally[key]));
      set(root.querySelector('#reply-tally [data-share="' + key + '"]'), pct(r.share[key] || 0));
    });
    (r.by_zone || []).forEach(function (zone) {
      var row = root.querySelector('#reply-zones tr[data-zone-id="' + zone.zone_id + '"]');
      if (!row) { return; }
      Object.keys(zone.tally).forEach(function (key) {
        var cell = row.querySelector('[data-zone-tally="' + key + '"]');
        if (!cell) { return; }
        set(cell.firstChild, numberFormat.format(zone.tally[key]) + " ");
        set(cell.querySelector("[data-zone-share]"), "(" + pct(zone.share[key] || 0) + ")");
      });
      set(row.querySelector("[data-zone-delivered]"), numberFormat.format(zone.delivered));
    });
  }

  function renderList(r) {
    var body = root.querySelector("#reply-list tbody");
    if (!body || !r.replies || !r.replies.length) { return; }
    var rows = document.createDocumentFragment();
    r.replies.forEach(function (reply) {
      var tr = document.createElement("tr");
      if (reply.needs_help) { tr.className = "reply-help"; }
      [reply.phone, answerText(reply), reply.address || "—", when(reply.received_at), reply.text || ""]
        .forEach(function (value) {
          var td = document.createElement("td");
          td.textContent = value;
          tr.appendChild(td);
        });
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
  }

  function loadDots() {
    if (!map) { return; }
    var silent = document.getElementById("show-silent");
    var url = root.dataset.mapUrl + (silent && silent.checked ? "?silent=1" : "");
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        var next = L.geoJSON(data, {
          pointToLayer: function (feature, latlng) {
            return L.circleMarker(latlng, STYLE[feature.properties.kind] || STYLE.answered);
          },
          onEachFeature: function (feature, marker) { marker.bindPopup(popup(feature.properties)); }
        });
        if (layer) { map.removeLayer(layer); }
        layer = next.addTo(map);
        /* needs help on top: drawn last */
        layer.eachLayer(function (m) { if (m.feature.properties.kind === "needs_help") { m.bringToFront(); } });
        if (!root.dataset.fitted && data.features.length) {
          map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 16 });
          root.dataset.fitted = "true";
        }
        root.dataset.dots = String(data.features.length);
      })
      .catch(function () { /* the table below the map stays the source */ });
  }

  function startMap() {
    var el = document.getElementById("replies-map");
    if (!el || !window.L || !root.dataset.mapUrl) { return; }
    map = L.map(el, { zoomSnap: 0.25, preferCanvas: true });  /* canvas: thousands of grey dots */
    window.syrenaRepliesMap = map;
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
    }
    map.setView([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)], parseFloat(el.dataset.zoom));
    el.dataset.ready = "true";
    var silent = document.getElementById("show-silent");
    if (silent) { silent.addEventListener("change", loadDots); }
    loadDots();
  }

  function poll() {
    var started = Date.now();
    fetch(root.dataset.repliesUrl, { credentials: "same-origin", headers: { "Accept": "application/json" },
                                     cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || !response.ok || type.indexOf("application/json") !== 0) {
          throw new Error("replies unavailable: " + response.status);
        }
        return response.json();
      })
      .then(function (r) {
        failures = 0;
        renderTallies(r);
        renderList(r);
        var tally = JSON.stringify(r.tally);
        if (tally !== lastTally) { lastTally = tally; loadDots(); }  /* the map only when something changed */
        set(note, root.dataset.liveLabel || "");
        root.dataset.polled = String((parseInt(root.dataset.polled || "0", 10)) + 1);
        /* Every 5 s, or more slowly when the tallies take long to count (a campaign of 100,000): the database
           never spends more than a fifth of its time on one page's poll. */
        window.setTimeout(poll, Math.max(INTERVAL_MS, 5 * (Date.now() - started)));
      })
      .catch(function () {
        failures += 1;
        if (failures < 5) { window.setTimeout(poll, INTERVAL_MS * failures); }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startMap();
    lastTally = null;
    window.setTimeout(poll, INTERVAL_MS);
  });
}());
