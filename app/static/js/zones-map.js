/* Syrena: draws zones (inline GeoJSON) on a Leaflet map. Works without tiles: the zones are drawn
   on a plain background, and a tile layer that cannot load fails silently. */
(function () {
  "use strict";

  var ZONE_STYLE = { color: "#b3122a", weight: 2, opacity: 0.9, fillColor: "#d7263d", fillOpacity: 0.18 };
  var HOVER_STYLE = { weight: 3, fillOpacity: 0.35 };

  function text(tag, value, className) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    el.textContent = value;  /* never innerHTML: zone names are user input */
    return el;
  }

  function zoneInfo(props, labels) {
    var box = document.createElement("div");
    box.className = "zone-info";
    box.appendChild(text("strong", props.name || "", "zone-info-name"));
    var code = document.createElement("div");
    code.appendChild(text("span", labels.code + ": ", "zone-info-label"));
    code.appendChild(text("code", props.code || ""));
    box.appendChild(code);
    var subs = document.createElement("div");
    subs.appendChild(text("span", labels.subscribers + ": ", "zone-info-label"));
    subs.appendChild(text("span", String(props.subscribers == null ? "—" : props.subscribers), "zone-info-count"));
    box.appendChild(subs);
    return box;
  }

  function initMap(el) {
    var source = document.getElementById(el.dataset.source);
    var data = source ? JSON.parse(source.textContent) : { type: "FeatureCollection", features: [] };
    var labels = { code: el.dataset.labelCode || "SMS", subscribers: el.dataset.labelSubscribers || "" };
    var map = L.map(el, { zoomSnap: 0.25, scrollWheelZoom: false });
    map.attributionControl.setPrefix(false);
    if (el.dataset.tiles) {
      /* Offline (or the tile server is down): drop the layer after its first tiles all fail, so the
         zones stay on a plain background with no broken images, no retries and no false attribution. */
      var tiles = L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" });
      var loaded = 0;
      tiles.on("tileload", function () { loaded += 1; });
      tiles.on("tileerror", function () {
        if (loaded === 0 && map.hasLayer(tiles)) {
          map.removeLayer(tiles);
          el.classList.add("tiles-unavailable");
        }
      });
      tiles.addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    var layer = L.geoJSON(data, {
      style: function () { return ZONE_STYLE; },
      onEachFeature: function (feature, lyr) {
        var props = feature.properties || {};
        lyr.bindTooltip(function () { return zoneInfo(props, labels); }, { sticky: true });
        lyr.bindPopup(function () { return zoneInfo(props, labels); });
        lyr.on("mouseover", function () { lyr.setStyle(HOVER_STYLE); });
        lyr.on("mouseout", function () { layer.resetStyle(lyr); });
      }
    }).addTo(map);
    /* Names on the map itself: without tiles there is nothing else to find one's way by. */
    layer.eachLayer(function (lyr) {
      var name = (lyr.feature && lyr.feature.properties && lyr.feature.properties.name) || "";
      if (!name) { return; }
      L.marker(lyr.getBounds().getCenter(), {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: "zone-label", html: text("span", name), iconSize: null })
      }).addTo(map);
    });
    if (data.features && data.features.length) {
      map.fitBounds(layer.getBounds(), { padding: [20, 20] });
    } else {
      map.setView([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)], parseFloat(el.dataset.zoom));
    }
    el.dataset.ready = "true";
    return map;
  }

  function start() {
    if (typeof L === "undefined") { return; }
    document.querySelectorAll(".zone-map").forEach(initMap);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
