/* Syrena: a subscriber's zones (polygons) and places (pins) on one map, for staff (the subscriber's page) and
   for the resident (their data page, where the map is hidden until this script shows it); works without tiles. */
(function () {
  "use strict";

  function start() {
    var el = document.getElementById("subscriber-map");
    if (!el || typeof L === "undefined") { return; }
    el.hidden = false;
    var data = JSON.parse(document.getElementById("subscriber-map-data").textContent);
    var map = L.map(el, { scrollWheelZoom: false });
    map.attributionControl.setPrefix(false);
    if (el.dataset.tiles) {
      var tiles = L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" });
      tiles.on("tileerror", function () { if (map.hasLayer(tiles)) { map.removeLayer(tiles); } });
      tiles.addTo(map);
    }
    var layer = L.geoJSON(data, {
      style: function () { return { color: "#b3122a", weight: 2, fillOpacity: 0.15 }; },
      onEachFeature: function (feature, lyr) {
        var name = (feature.properties && feature.properties.name) || "";
        lyr.bindTooltip(function () { var s = document.createElement("span"); s.textContent = name; return s; });
      }
    }).addTo(map);
    if (data.features.length) {
      map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 16 });
    } else {
      map.setView([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)], parseFloat(el.dataset.zoom));
    }
    el.dataset.ready = "true";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
