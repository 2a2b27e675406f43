/* Syrena public maps: the city's live zones (outlines and names) drawn over the tiles, or without them when
   they cannot load. window.SyrenaZones.draw(map, url) for a page's own map; on the alerts page, every
   element with data-zones-url gets them on the Leaflet map campaign-map.js made (el.syrenaMap). Without
   JavaScript the server's SVG drawing (public/_zone_outlines.html) shows the same zones. */
(function () {
  "use strict";

  function draw(map, url) {
    return fetch(url, { headers: { "Accept": "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : { type: "FeatureCollection", features: [] }; })
      .then(function (data) {
        var layer = L.geoJSON(data, {
          interactive: false,
          style: function (f) {
            var colour = (f.properties && f.properties.colour) || "#2e86ab";
            return { color: colour, weight: 2, fillOpacity: 0.08, interactive: false };
          },
          onEachFeature: function (feature, lyr) {
            var name = (feature.properties && feature.properties.name) || "";
            lyr.bindTooltip(function () {
              var s = document.createElement("span");
              s.textContent = name;
              return s;
            }, { permanent: true, direction: "center", className: "zone-tooltip", interactive: false });
          }
        }).addTo(map);
        layer.bringToBack();
        map.getContainer().dataset.zones = String(data.features.length);
        return layer;
      })
      .catch(function () { return null; });
  }

  /* A tile layer that gives way when its tiles cannot load: the zones stay readable on a plain background. */
  function tiles(map, url, attribution) {
    if (!url) { return null; }
    var layer = L.tileLayer(url, { attribution: attribution || "", maxZoom: 19 });
    layer.on("tileerror", function () { if (map.hasLayer(layer)) { map.removeLayer(layer); } });
    return layer.addTo(map);
  }

  window.SyrenaZones = { draw: draw, tiles: tiles };

  /* Maps the server asked for: shown (they are hidden for browsers without script), zones added once the
     page's own map script made the map. */
  Array.prototype.forEach.call(document.querySelectorAll("[data-zones-url][hidden]"), function (el) {
    el.hidden = false;
  });
  window.addEventListener("load", function () {
    if (typeof L === "undefined") { return; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-zones-url]"), function (el) {
      if (el.syrenaMap) {
        draw(el.syrenaMap, el.dataset.zonesUrl);
        var drawing = document.getElementById("zone-outlines");
        if (drawing) { drawing.hidden = true; }
      }
    });
  });
}());
