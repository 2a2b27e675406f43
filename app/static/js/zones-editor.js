/* Syrena: the zones map page. Leaflet draws the zones; Leaflet-Geoman draws new ones (polygon, rectangle,
   circle — a circle is saved as a 64-sided polygon) and edits or moves a selected one. Every change goes to
   the server, which checks it exactly as the REST API does and answers with the saved zone or a message
   that is shown next to the drawing. Works without map tiles (a crisis room may be offline). */
(function () {
  "use strict";

  var CIRCLE_SIDES = 64;
  var EARTH_RADIUS_M = 6378137;
  var PREVIEW_DELAY_MS = 400;

  function text(tag, value, className) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    el.textContent = value;  /* never innerHTML: names and descriptions are user input */
    return el;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return String(values[key]); });
  }

  function styleFor(props, selected) {
    var colour = props.colour || "#d7263d";
    return { color: colour, weight: selected ? 4 : 2, opacity: 0.95, fillColor: colour,
             fillOpacity: selected ? 0.35 : 0.18, dashArray: selected ? "6 4" : null };
  }

  /* A circle as a polygon: Leaflet circles are a centre and a radius, zones are polygons. */
  function circleToLatLngs(circle) {
    var centre = circle.getLatLng(), radius = circle.getRadius(), points = [];
    var dLat = (radius / EARTH_RADIUS_M) * 180 / Math.PI;
    var dLng = dLat / Math.cos(centre.lat * Math.PI / 180);
    for (var i = 0; i < CIRCLE_SIDES; i += 1) {
      var angle = 2 * Math.PI * i / CIRCLE_SIDES;
      points.push([centre.lat + dLat * Math.sin(angle), centre.lng + dLng * Math.cos(angle)]);
    }
    return points;
  }

  function ZonesEditor(root) {
    this.root = root;
    this.canEdit = root.dataset.canEdit === "true";
    this.labels = JSON.parse(document.getElementById("zones-editor-labels").textContent);
    this.layers = {};          /* zone id → L.Polygon */
    this.features = {};        /* zone id → GeoJSON Feature as last saved */
    this.selected = null;      /* {id: number|null, layer: L.Polygon} while a zone is open in the panel */
    this.previewTimer = null;
    this.el = function (id) { return document.getElementById(id); };
    this.initMap();
    this.render(JSON.parse(document.getElementById("zones-editor-data").textContent), true);
    this.initPanel();
    this.initImport();
    this.mapEl.dataset.ready = "true";
  }

  ZonesEditor.prototype.initMap = function () {
    var el = this.mapEl = this.el("zones-editor-map");
    var map = this.map = L.map(el, { zoomSnap: 0.25 });
    el.syrenaMap = map;
    map.attributionControl.setPrefix(false);
    if (el.dataset.tiles) {
      /* Offline: drop the tile layer after its first tiles all fail; the zones stay on a plain background. */
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
    map.setView([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)], parseFloat(el.dataset.zoom));
    this.zoneGroup = L.featureGroup().addTo(map);
    this.labelGroup = L.layerGroup().addTo(map);
    if (!this.canEdit || !map.pm) { return; }
    // Geoman calls Ukrainian "ua" (our "uk" would fall back to English).
    if (el.dataset.lang && el.dataset.lang !== "en") { map.pm.setLang(el.dataset.lang === "uk" ? "ua" : el.dataset.lang); }
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawText: false,
      drawPolygon: true, drawRectangle: true, drawCircle: true,
      editMode: false, dragMode: false, cutPolygon: false, removalMode: false, rotateMode: false
    });
    /* New shapes are kept out of the zone layer until saved; Geoman must not snap them to labels. */
    map.pm.setGlobalOptions({ snappable: true, snapDistance: 12, allowSelfIntersection: true });
    if (window.SyrenaMapA11y) { window.SyrenaMapA11y.nameDrawButtons(map); }
    var self = this;
    map.on("pm:drawstart", function () { self.close(); });
    map.on("pm:create", function (e) { self.created(e.layer, e.shape); });
  };

  ZonesEditor.prototype.info = function (props) {
    var box = document.createElement("div");
    box.className = "zone-info";
    box.appendChild(text("strong", props.name || "", "zone-info-name"));
    var code = document.createElement("div");
    code.appendChild(text("span", this.labels.code + ": ", "zone-info-label"));
    code.appendChild(text("code", props.code || ""));
    box.appendChild(code);
    var subs = document.createElement("div");
    subs.appendChild(text("span", this.labels.subscribers + ": ", "zone-info-label"));
    subs.appendChild(text("span", String(props.subscribers == null ? "—" : props.subscribers), "zone-info-count"));
    box.appendChild(subs);
    if (props.description) { box.appendChild(text("p", props.description, "zone-info-description")); }
    return box;
  };

  /* Draw every zone and fill the table from a FeatureCollection. */
  ZonesEditor.prototype.render = function (collection, fit) {
    var self = this;
    /* A replaced zone's hover card must go with it: one left open under the pointer would show stale facts
       beside the new layer's card. */
    this.zoneGroup.eachLayer(function (layer) { layer.unbindTooltip(); });
    this.zoneGroup.clearLayers();
    this.labelGroup.clearLayers();
    this.layers = {};
    this.features = {};
    var tbody = document.querySelector("#zones-table tbody");
    tbody.textContent = "";
    collection.features.forEach(function (feature) {
      var props = feature.properties || {};
      var layer = L.GeoJSON.geometryToLayer(feature);
      layer.feature = feature;
      layer.setStyle(styleFor(props, false));
      layer.bindTooltip(function () { return self.info(props); }, { sticky: true });
      layer.on("click", function () {
        if (self.map.pm && self.map.pm.globalDrawModeEnabled()) { return; }
        self.open(feature.id);
      });
      layer.on("mouseover", function () { if (!self.isSelected(feature.id)) { layer.setStyle({ fillOpacity: 0.32 }); } });
      layer.on("mouseout", function () { if (!self.isSelected(feature.id)) { layer.setStyle(styleFor(props, false)); } });
      self.zoneGroup.addLayer(layer);
      self.layers[feature.id] = layer;
      self.features[feature.id] = feature;
      var label = document.createElement("div");
      label.appendChild(text("span", props.name || "", "zone-editor-label-name"));
      label.appendChild(text("code", props.code || "", "zone-editor-label-code"));
      L.marker(layer.getBounds().getCenter(), {
        interactive: false, keyboard: false, pmIgnore: true,
        icon: L.divIcon({ className: "zone-editor-label", html: label, iconSize: null })
      }).addTo(self.labelGroup);
      tbody.appendChild(self.row(feature));
    });
    if (!collection.features.length) {
      var empty = document.createElement("tr");
      var cell = text("td", this.labels.noZones, "empty");
      cell.colSpan = 3;
      empty.appendChild(cell);
      tbody.appendChild(empty);
    } else if (fit) {
      this.map.fitBounds(this.zoneGroup.getBounds(), { padding: [20, 20] });
    }
  };

  ZonesEditor.prototype.row = function (feature) {
    var self = this, props = feature.properties;
    var tr = document.createElement("tr");
    tr.dataset.zoneId = feature.id;
    var th = document.createElement("th");
    th.scope = "row";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link-button";
    var swatch = text("span", "", "swatch");
    swatch.style.background = props.colour;
    button.appendChild(swatch);
    button.appendChild(document.createTextNode(props.name));
    button.addEventListener("click", function () {
      self.open(feature.id);
      self.map.fitBounds(self.layers[feature.id].getBounds(), { padding: [30, 30], maxZoom: 15, animate: false });
    });
    th.appendChild(button);
    tr.appendChild(th);
    var code = document.createElement("td");
    code.appendChild(text("code", props.code));
    tr.appendChild(code);
    tr.appendChild(text("td", String(props.subscribers == null ? 0 : props.subscribers), "num"));
    return tr;
  };

  ZonesEditor.prototype.isSelected = function (id) {
    return this.selected !== null && this.selected.id === id;
  };

  /* ------------------------------------------------------------------ the panel */
  ZonesEditor.prototype.initPanel = function () {
    var self = this;
    this.form = this.el("zone-form");
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.save(); });
    this.el("zone-cancel").addEventListener("click", function () { self.close(); });
    this.el("zone-delete").addEventListener("click", function () { self.remove(); });
    this.el("zone-move").addEventListener("click", function () { self.toggleMove(); });
    if (!this.canEdit) {
      Array.prototype.forEach.call(this.form.elements, function (field) { field.disabled = true; });
      this.el("zone-cancel").disabled = false;
      ["zone-save", "zone-delete", "zone-move"].forEach(function (id) { self.el(id).hidden = true; });
      this.el("zone-repair").parentNode.hidden = true;
    }
  };

  ZonesEditor.prototype.showPanel = function (title, props, isNew) {
    this.el("zone-panel").hidden = false;
    this.el("zone-panel-heading").textContent = title;
    this.el("zone-name").value = props.name || "";
    this.el("zone-code").value = props.code || "";
    this.el("zone-colour").value = props.colour || "#d7263d";
    this.el("zone-description").value = props.description || "";
    this.el("zone-repair").checked = false;
    this.el("zone-delete").hidden = isNew || !this.canEdit;
    this.el("zone-move").setAttribute("aria-pressed", "false");
    this.showError("");
    this.el("zone-status").textContent = "";
    this.el("zone-facts").textContent = "";
    if (this.canEdit) { this.el("zone-name").focus(); }
  };

  ZonesEditor.prototype.editable = function (layer) {
    var self = this;
    if (!this.canEdit || !layer.pm) { return; }
    layer.pm.enable({ allowSelfIntersection: true, snappable: true });
    layer.on("pm:edit pm:dragend", function () { self.schedulePreview(); });
  };

  /* A shape was drawn: it becomes a new zone once named and saved. */
  ZonesEditor.prototype.created = function (layer, shape) {
    if (shape === "Circle") {
      var polygon = L.polygon(circleToLatLngs(layer));
      this.map.removeLayer(layer);
      layer = polygon.addTo(this.map);
    }
    layer.setStyle(styleFor({}, true));
    this.selected = { id: null, layer: layer };
    this.showPanel(this.labels.newZone, {}, true);
    this.editable(layer);
    this.schedulePreview();
  };

  /* An existing zone: its details in the panel, its vertices editable. */
  ZonesEditor.prototype.open = function (id) {
    if (this.isSelected(id)) { return; }
    this.close();
    var layer = this.layers[id], props = this.features[id].properties;
    this.selected = { id: id, layer: layer };
    layer.setStyle(styleFor(props, true));
    layer.bringToFront();
    this.showPanel(props.name, props, false);
    this.el("zone-facts").textContent = format(this.labels.inside, { n: props.subscribers, area: "…" });
    this.editable(layer);
    this.schedulePreview();
  };

  /* Leave the open zone as it was last saved (undoes unsaved vertex edits and moves). */
  ZonesEditor.prototype.close = function () {
    var selected = this.selected;
    this.selected = null;
    this.el("zone-panel").hidden = true;
    if (!selected) { return; }
    if (selected.layer.pm) {
      selected.layer.pm.disable();
      if (selected.layer.pm.layerDragEnabled && selected.layer.pm.layerDragEnabled()) { selected.layer.pm.disableLayerDrag(); }
    }
    selected.layer.off("pm:edit pm:dragend");
    if (selected.id === null) {
      this.map.removeLayer(selected.layer);
      return;
    }
    var feature = this.features[selected.id];
    selected.layer.setLatLngs(L.GeoJSON.geometryToLayer(feature).getLatLngs());
    selected.layer.setStyle(styleFor(feature.properties, false));
  };

  ZonesEditor.prototype.toggleMove = function () {
    if (!this.selected || !this.selected.layer.pm) { return; }
    var pm = this.selected.layer.pm, button = this.el("zone-move");
    if (pm.layerDragEnabled()) {
      pm.disableLayerDrag();
      pm.enable({ allowSelfIntersection: true });
      button.setAttribute("aria-pressed", "false");
    } else {
      pm.disable();
      pm.enableLayerDrag();
      button.setAttribute("aria-pressed", "true");
    }
  };

  ZonesEditor.prototype.showError = function (message, target) {
    var box = this.el(target || "zone-error");
    box.textContent = message;
    box.hidden = !message;
  };

  ZonesEditor.prototype.request = function (method, url, body, isForm) {
    var headers = { "X-CSRFToken": this.root.dataset.csrf, "Accept": "application/json" };
    if (!isForm) { headers["Content-Type"] = "application/json"; }
    var self = this;
    return fetch(url, { method: method, headers: headers, credentials: "same-origin",
                        body: isForm ? body : (body === undefined ? undefined : JSON.stringify(body)) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            throw new Error((data && data.error && data.error.message) || self.labels.failed);
          }
          return data;
        });
      }, function () { throw new Error(self.labels.failed); });
  };

  ZonesEditor.prototype.geometry = function () {
    return this.selected.layer.toGeoJSON(7).geometry;
  };

  ZonesEditor.prototype.schedulePreview = function () {
    var self = this;
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(function () { self.preview(); }, PREVIEW_DELAY_MS);
  };

  ZonesEditor.prototype.preview = function () {
    if (!this.selected) { return; }
    var selected = this.selected, self = this;
    var repair = this.el("zone-repair").checked ? "?repair=true" : "";
    this.request("POST", this.root.dataset.urlPreview + repair, this.geometry()).then(function (data) {
      if (self.selected !== selected) { return; }
      self.showError("");
      self.el("zone-facts").textContent = format(self.labels.inside,
        { n: data.subscribers, area: data.area_km2.toLocaleString(document.documentElement.lang) });
    }, function (error) {
      if (self.selected === selected) { self.showError(error.message); }
    });
  };

  ZonesEditor.prototype.reload = function () {
    var self = this;
    return this.request("GET", this.root.dataset.urlData).then(function (data) { self.render(data, false); });
  };

  ZonesEditor.prototype.save = function () {
    if (!this.selected) { return; }
    var name = this.el("zone-name").value.trim();
    if (!name) { this.showError(this.labels.nameRequired); this.el("zone-name").focus(); return; }
    var selected = this.selected, self = this;
    var feature = { type: "Feature", geometry: this.geometry(), properties: {
      name: name, code: this.el("zone-code").value.trim() || null, colour: this.el("zone-colour").value,
      description: this.el("zone-description").value } };
    var repair = this.el("zone-repair").checked ? "?repair=true" : "";
    var isNew = selected.id === null;
    var url = isNew ? this.root.dataset.urlCreate : this.root.dataset.urlZone + selected.id;
    this.el("zone-save").disabled = true;
    this.el("zones-status").textContent = "";  /* the last save's word must not stand for this one */
    this.request(isNew ? "POST" : "PUT", url + repair, feature).then(function (saved) {
      if (isNew) { self.map.removeLayer(selected.layer); }
      self.selected = null;
      self.el("zone-panel").hidden = true;
      if (!isNew && selected.layer.pm) { selected.layer.pm.disable(); }
      var message = self.labels.saved + (saved.repairs && saved.repairs.length
        ? " " + self.labels.repaired + " " + saved.repairs.join("; ") : "");
      return self.reload().then(function () { self.el("zones-status").textContent = message; });
    }, function (error) {
      self.showError(error.message);
    }).then(function () { self.el("zone-save").disabled = false; });
  };

  ZonesEditor.prototype.remove = function () {
    if (!this.selected || this.selected.id === null) { return; }
    var props = this.features[this.selected.id].properties, self = this, id = this.selected.id;
    if (!window.confirm(format(this.labels.confirmDelete, { name: props.name }))) { return; }
    this.el("zones-status").textContent = "";
    this.request("DELETE", this.root.dataset.urlZone + id).then(function () {
      self.close();
      return self.reload().then(function () { self.el("zones-status").textContent = self.labels.deleted; });
    }, function (error) { self.showError(error.message); });
  };

  /* ------------------------------------------------------------------ import */
  ZonesEditor.prototype.initImport = function () {
    var form = this.el("zones-import"), self = this;
    if (!form) { return; }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      if (!form.elements.repair.checked) { data.delete("repair"); }
      self.showError("", "import-error");
      self.el("import-status").textContent = "";
      self.request("POST", self.root.dataset.urlImport, data, true).then(function (result) {
        form.reset();
        var repaired = result.zones.filter(function (z) { return z.repairs.length; }).map(function (z) {
          return z.name + ": " + z.repairs.join("; ");
        });
        self.el("import-status").textContent = format(self.labels.imported, { n: result.imported })
          + (repaired.length ? " " + self.labels.repaired + " " + repaired.join(" · ") : "");
        return self.request("GET", self.root.dataset.urlData).then(function (zones) { self.render(zones, true); });
      }, function (error) { self.showError(error.message, "import-error"); });
    });
  };

  function start() {
    /* Colour swatches: set from data-colour here, as the Content-Security-Policy allows no style attributes. */
    Array.prototype.forEach.call(document.querySelectorAll(".swatch[data-colour]"), function (el) {
      el.style.background = el.getAttribute("data-colour");
    });
    var root = document.getElementById("zones-editor");
    if (!root || typeof L === "undefined") { return; }
    window.syrenaZonesEditor = new ZonesEditor(root);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
