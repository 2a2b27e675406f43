/* Syrena: residents' reports as dots on a map (the list page, a report's page). Each dot links to its report; the
   table on the list page says the same for keyboards and screen readers. Works without tiles. */
(function () {
  "use strict";

  var COLOURS = { "new": "#b3122a", "in_progress": "#8a5a00", "closed": "#1d7a46" };

  function start() {
    var el = document.getElementById("reports-map");
    var source = document.getElementById("reports-map-data");
    if (!el || !source || typeof L === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var map = L.map(el, { scrollWheelZoom: false });
    map.attributionControl.setPrefix(false);
    if (el.dataset.tiles) {
      var tiles = L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" });
      tiles.on("tileerror", function () { if (map.hasLayer(tiles)) { map.removeLayer(tiles); } });
      tiles.addTo(map);
    }
    var layer = L.geoJSON(data, {
      pointToLayer: function (feature, latlng) {
        var colour = COLOURS[feature.properties.status] || "#13315c";
        return L.circleMarker(latlng, { radius: 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.9 });
      },
      onEachFeature: function (feature, lyr) {
        var p = feature.properties || {};
        lyr.bindPopup(function () {
          var a = document.createElement("a");
          a.href = p.url;
          a.textContent = p.label;
          return a;
        });
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
