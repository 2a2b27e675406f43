/* Syrena: a read-only map of a campaign's target (review page) or of the current alerts (public page).
   The GeoJSON comes from a <script type="application/json"> block named by data-source. */
(function () {
  "use strict";

  var COLOURS = { extreme: "#8b0000", severe: "#d7263d", moderate: "#f18f01", minor: "#2e86ab" };

  function show(el) {
    var data = JSON.parse(document.getElementById(el.dataset.source).textContent);
    var map = L.map(el, { zoomSnap: 0.25 });
    el.syrenaMap = map;
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
    }
    var layer = L.geoJSON(data, {
      style: function (f) {
        var colour = COLOURS[(f.properties || {}).severity] || (f.properties.kind === "zone" ? "#2e86ab" : "#d7263d");
        return { color: colour, weight: 2, fillOpacity: 0.25 };
      }
    }).addTo(map);
    if (data.features && data.features.length) {
      map.fitBounds(layer.getBounds(), { padding: [20, 20] });
    } else {
      map.setView([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)], parseFloat(el.dataset.zoom));
    }
    el.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".campaign-map[data-source]"), show);
  });
}());
