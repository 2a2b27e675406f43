/* Syrena: the campaign composer. A live SMS counter (the server counts with the very encoder the gateway
   sends with) highlighting the characters that force UCS-2 and offering one-click transliteration; a map to
   pick zones and draw areas with Leaflet-Geoman (polygon, circle, line + buffer); a live preview of
   recipients, parts, cost and the time to warn everyone; a hazard point (a marker set by a click on the map,
   dragged, or typed as coordinates: the recipients nearest it are sent first); save as a draft, then the review
   page. No innerHTML: texts are user input. */
(function () {
  "use strict";

  var DELAY_MS = 350;

  function $(id) { return document.getElementById(id); }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? String(values[key]) : m; });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  /* Polish (the body) first, then the other languages as they come (JSON objects arrive sorted by key). */
  function languagesInOrder(byLanguage) {
    var rest = Object.keys(byLanguage).filter(function (l) { return l !== "pl"; });
    return ("pl" in byLanguage ? ["pl"] : []).concat(rest);
  }

  function debounce(fn) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, DELAY_MS);
    };
  }

  function Composer(root) {
    this.root = root;
    this.csrf = root.dataset.csrf;
    this.labels = JSON.parse($("composer-labels").textContent);
    this.initial = JSON.parse($("composer-initial").textContent);
    this.zonesData = JSON.parse($("composer-zones").textContent);
    this.areas = [];            /* {spec, layer} */
    this.zoneLayers = {};       /* zone id → layer */
    this.lastAnalysis = null;
    this.lastPreview = null;
    this.analyseSoon = debounce(this.analyse.bind(this));
    this.previewSoon = debounce(this.preview.bind(this));
    this.hazardMarker = null;
    this.placingHazard = false;
    this.initMap();
    this.initForm();
    this.initHazard();
    this.initKeyboardTargets();
    this.templates = JSON.parse($("composer-templates").textContent);
    this.templateId = null;
    this.initTemplates();
    if (this.initial) { this.load(this.initial); }
    this.analyse();
    this.preview();
    root.dataset.ready = "true";
  }

  Composer.prototype.post = function (url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf, "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    });
  };

  Composer.prototype.initMap = function () {
    var self = this, mapEl = $("compose-map");
    var map = this.map = L.map(mapEl, { zoomSnap: 0.25 });
    mapEl.syrenaMap = map;
    if (mapEl.dataset.tiles) {
      L.tileLayer(mapEl.dataset.tiles, { attribution: mapEl.dataset.attribution, maxZoom: 19 }).addTo(map);
    }
    var zones = L.geoJSON(this.zonesData, {
      pmIgnore: true,
      style: function () { return { color: "#2e86ab", weight: 1, fillOpacity: 0.08 }; },
      onEachFeature: function (feature, layer) {
        self.zoneLayers[feature.properties.id] = layer;
        // A string would be set as HTML: zone names are user input, so a text node.
        layer.bindTooltip(function () { return document.createTextNode(feature.properties.name); });
        layer.on("click", function () {
          if (map.pm.globalDrawModeEnabled() || self.placingHazard) { return; }
          var box = self.zoneBox(feature.properties.id);
          box.checked = !box.checked;
          self.targetChanged();
        });
      }
    }).addTo(map);
    if (this.zonesData.features.length) {
      map.fitBounds(zones.getBounds(), { padding: [10, 10] });
    } else {
      map.setView([parseFloat(mapEl.dataset.lat), parseFloat(mapEl.dataset.lon)], parseFloat(mapEl.dataset.zoom));
    }
    if (mapEl.dataset.lang && map.pm.setLang) { map.pm.setLang({ pl: "pl", uk: "ua" }[mapEl.dataset.lang] || "en"); }
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawRectangle: false, drawText: false,
      drawPolygon: true, drawCircle: true, drawPolyline: true,
      editMode: false, dragMode: false, cutPolygon: false, removalMode: false, rotateMode: false
    });
    map.on("pm:create", function (e) { self.created(e.layer, e.shape); });
    if (window.SyrenaMapA11y) { window.SyrenaMapA11y.nameDrawButtons(map); }
    map.on("click", function (e) {
      if (!self.placingHazard || map.pm.globalDrawModeEnabled()) { return; }
      self.setHazard(e.latlng.lat, e.latlng.lng);
      self.placing(false);
      self.previewSoon();
    });
  };

  /* The hazard point: a marker (a click on the map after "Set", or dragged), or typed coordinates. */
  Composer.prototype.initHazard = function () {
    var self = this;
    $("hazard-place").addEventListener("click", function () { self.placing(!self.placingHazard); });
    $("hazard-clear").addEventListener("click", function () {
      self.clearHazard();
      self.placing(false);
      self.previewSoon();
    });
    ["hazard-lat", "hazard-lon"].forEach(function (id) {
      $(id).addEventListener("change", function () {
        var lat = parseFloat($("hazard-lat").value), lon = parseFloat($("hazard-lon").value);
        if (isFinite(lat) && isFinite(lon)) { self.setHazard(lat, lon, true); }
        self.previewSoon();
      });
    });
    this.hazardStatus();
  };

  Composer.prototype.placing = function (on) {
    this.placingHazard = on;
    $("hazard-place").setAttribute("aria-pressed", on ? "true" : "false");
    $("compose-map").classList.toggle("placing-hazard", on);
    this.hazardStatus();
  };

  Composer.prototype.setHazard = function (lat, lon, typed) {
    var self = this;
    if (!typed) {
      $("hazard-lat").value = lat.toFixed(5);
      $("hazard-lon").value = lon.toFixed(5);
    }
    if (!this.hazardMarker) {
      this.hazardMarker = L.marker([lat, lon], {
        draggable: true, pmIgnore: true, title: this.labels.hazardMarker, alt: this.labels.hazardMarker,
        icon: L.divIcon({ className: "hazard-marker", html: "!", iconSize: [26, 26], iconAnchor: [13, 13] })
      }).addTo(this.map);
      this.hazardMarker.on("dragend", function () {
        var at = self.hazardMarker.getLatLng();
        $("hazard-lat").value = at.lat.toFixed(5);
        $("hazard-lon").value = at.lng.toFixed(5);
        self.hazardStatus();
        self.previewSoon();
      });
    } else {
      this.hazardMarker.setLatLng([lat, lon]);
    }
    this.hazardStatus();
  };

  Composer.prototype.clearHazard = function () {
    if (this.hazardMarker) { this.map.removeLayer(this.hazardMarker); this.hazardMarker = null; }
    $("hazard-lat").value = "";
    $("hazard-lon").value = "";
    this.hazardStatus();
  };

  Composer.prototype.hazardStatus = function () {
    var lat = $("hazard-lat").value, lon = $("hazard-lon").value;
    $("hazard-status").textContent = this.placingHazard ? this.labels.hazardPlacing
      : (lat !== "" || lon !== "") ? format(this.labels.hazardSet, { lat: lat || "?", lon: lon || "?" })
      : this.labels.hazardNone;
  };

  /* What the API takes: null when both are empty; anything half-typed goes as is, for the server to name. */
  Composer.prototype.hazardData = function () {
    var lat = $("hazard-lat"), lon = $("hazard-lon");
    if (lat.value === "" && lon.value === "" && lat.validity.valid && lon.validity.valid) { return null; }
    var number = function (input) {
      if (input.value === "") { return input.validity.badInput ? "?" : null; }
      return parseFloat(input.value);
    };
    return { lat: number(lat), lon: number(lon) };
  };

  Composer.prototype.zoneBox = function (id) {
    return this.root.querySelector('input[name="zone_ids"][value="' + id + '"]');
  };

  Composer.prototype.created = function (layer, shape) {
    var spec;
    if (shape === "Circle") {
      var c = layer.getLatLng();
      spec = { circle: { lat: c.lat, lon: c.lng, radius_m: Math.round(layer.getRadius()) } };
    } else if (shape === "Line") {
      spec = { line: layer.toGeoJSON().geometry, buffer_m: parseFloat($("buffer-m").value) || 100 };
    } else {
      spec = layer.toGeoJSON().geometry;
    }
    this.addArea(spec, layer);
    this.targetChanged();
  };

  /* `label` names the area in the list when it was not drawn (a circle around an address, a pasted area). */
  Composer.prototype.addArea = function (spec, layer, label) {
    var self = this;
    if (!layer) {
      if (spec.circle) {
        layer = L.circle([spec.circle.lat, spec.circle.lon], { radius: spec.circle.radius_m });
      } else if (spec.line) {
        layer = L.geoJSON(spec.line);
      } else {
        layer = L.geoJSON(spec.geometry || spec);
      }
      layer.addTo(this.map);
    }
    var entry = { spec: spec.type === "polygon" ? spec.geometry : spec.type === "circle"
      ? { circle: { lat: spec.lat, lon: spec.lon, radius_m: spec.radius_m } }
      : spec.type === "line" ? { line: spec.line, buffer_m: spec.buffer_m } : spec, layer: layer };
    this.areas.push(entry);
    var s = entry.spec;
    var text = label || (s.circle ? format(this.labels.circle, { radius: s.circle.radius_m })
      : s.line ? format(this.labels.line, { buffer: s.buffer_m }) : this.labels.polygon);
    var item = el("li");
    item.appendChild(el("span", text));
    var remove = el("button", this.labels.remove, "button button-small button-outline");
    remove.type = "button";
    remove.setAttribute("aria-label", this.labels.remove + ": " + text);
    remove.addEventListener("click", function () {
      self.map.removeLayer(entry.layer);
      self.areas.splice(self.areas.indexOf(entry), 1);
      item.remove();
      self.targetChanged();
    });
    item.appendChild(remove);
    $("drawn-areas").appendChild(item);
  };

  /* Targeting without a mouse: a circle of N metres around an address from the gazetteer (suggested while
     typing, picked in a list), or an area pasted as GeoJSON or "lat, lon" lines (the server parses and checks
     it). Both become areas exactly like drawn ones: the same list, preview and save. */
  Composer.prototype.initKeyboardTargets = function () {
    var self = this, found = [], asked = 0;
    var address = $("circle-address"), place = $("circle-place"), status = $("circle-status");
    var suggest = function () {
      var typed = address.value.trim(), ticket = ++asked;
      if (typed.length < 3) { return Promise.resolve(); }
      var url = self.root.dataset.urlAddresses + "?q=" + encodeURIComponent(typed);
      return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (matches) {
          if (ticket !== asked) { return; }  /* an answer to an older text */
          found = matches;
          place.textContent = "";
          matches.forEach(function (m, i) {
            var option = el("option", m.label);
            option.value = String(i);
            place.appendChild(option);
          });
          if (!matches.length) { place.appendChild(el("option", "—")); }
          place.disabled = !matches.length;
          status.textContent = matches.length ? format(self.labels.addressesFound, { count: matches.length })
            : self.labels.noAddress;
        });
    };
    var suggestSoon = debounce(suggest);
    address.addEventListener("input", suggestSoon);
    address.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); suggest(); }
    });
    $("circle-find").addEventListener("click", function () { suggest(); });
    $("circle-add").addEventListener("click", function () {
      var match = found[parseInt(place.value, 10)];
      var radius = Number($("circle-radius").value);
      if (!match) { status.textContent = self.labels.pickAddress; address.focus(); return; }
      if (!(radius >= 1 && radius <= 50000 && Math.round(radius) === radius)) {
        status.textContent = self.labels.badRadius;
        $("circle-radius").focus();
        return;
      }
      self.addArea({ circle: { lat: match.lat, lon: match.lon, radius_m: radius } }, null,
        format(self.labels.circleAt, { radius: radius, address: match.label }));
      self.fitLast();
      status.textContent = self.labels.circleAdded;
      self.targetChanged();
    });
    $("paste-add").addEventListener("click", function () { self.addPasted(); });
  };

  Composer.prototype.pasteError = function (message) {
    var box = $("paste-error");
    box.hidden = !message;
    box.textContent = message || "";
    $("paste-area").setAttribute("aria-invalid", message ? "true" : "false");
  };

  Composer.prototype.addPasted = function () {
    var self = this, typed = $("paste-area").value;
    return this.post(this.root.dataset.urlAreaFromText, { text: typed }).then(function (r) {
      if (!r.ok) { self.pasteError(r.data.error.message); $("paste-area").focus(); return; }
      self.pasteError(null);
      r.data.areas.forEach(function (geometry) { self.addArea(geometry, null, self.labels.pasted); });
      self.fitLast();
      $("circle-status").textContent = "";
      $("paste-area").value = "";
      self.targetChanged();
    });
  };

  Composer.prototype.fitLast = function () {
    var last = this.areas[this.areas.length - 1];
    if (last && last.layer.getBounds) { this.map.fitBounds(last.layer.getBounds(), { padding: [20, 20] }); }
  };

  Composer.prototype.targetChanged = function () {
    var self = this;
    Object.keys(this.zoneLayers).forEach(function (id) {
      var on = self.zoneBox(id) && self.zoneBox(id).checked;
      self.zoneLayers[id].setStyle({ weight: on ? 3 : 1, fillOpacity: on ? 0.35 : 0.08 });
    });
    this.previewSoon();
  };

  Composer.prototype.initForm = function () {
    var self = this;
    $("body").addEventListener("input", function () { self.renderHighlight(); self.analyseSoon(); self.previewSoon(); });
    $("kind").addEventListener("change", function () { self.kindChanged(); self.previewSoon(); });
    /* Exercises and tests (issue 16): a test group, or the real target only after the second confirmation. */
    ["cap_status", "test_group_id"].forEach(function (id) {
      $(id).addEventListener("change", function () { self.exerciseChanged(); self.previewSoon(); });
    });
    $("confirm_real_target").addEventListener("change", function () { self.previewSoon(); });
    ["severity", "topic", "flash", "title"].forEach(function (id) {
      $(id).addEventListener("change", function () { self.previewSoon(); });
    });
    Array.prototype.forEach.call(this.root.querySelectorAll(".variant"), function (v) {
      v.addEventListener("input", function () { self.previewSoon(); });
    });
    Array.prototype.forEach.call(this.root.querySelectorAll('input[name="zone_ids"]'), function (box) {
      box.addEventListener("change", function () { self.targetChanged(); });
    });
    $("transliterate").addEventListener("click", function () {
      if (!self.lastAnalysis) { return; }
      $("body").value = self.lastAnalysis.transliteration.text;
      self.renderHighlight();
      self.analyse();
      self.preview();
    });
    $("preview-button").addEventListener("click", function () { self.preview(); });
    $("save-button").addEventListener("click", function () { self.save(); });
    $("question-on").addEventListener("change", function () { self.questionToggled(); self.previewSoon(); });
    Array.prototype.forEach.call($("question-answers").querySelectorAll("input"), function (input) {
      input.addEventListener(input.type === "checkbox" ? "change" : "input", function () { self.previewSoon(); });
    });
    this.kindChanged();
    this.exerciseChanged();
  };

  Composer.prototype.exerciseChanged = function () {
    var exercise = $("cap_status").value !== "actual";
    $("exercise-target").hidden = !exercise;
    var real = exercise && !$("test_group_id").value;
    $("real-target-confirm").hidden = !real;
    if (!real) { $("confirm_real_target").checked = false; }
  };

  Composer.prototype.exerciseData = function () {
    var status = $("cap_status").value, group = $("test_group_id").value;
    if (status === "actual") { return { cap_status: status, test_group_id: null, confirm_real_target: false }; }
    return {
      cap_status: status,
      test_group_id: group ? parseInt(group, 10) : null,
      confirm_real_target: !group && $("confirm_real_target").checked
    };
  };

  /* The question (issue 15): on, its answers shown; the two usual answers offered when none is written yet. */
  Composer.prototype.questionToggled = function () {
    var on = $("question-on").checked;
    $("question-answers").hidden = !on;
    if (!on) { return; }
    var empty = !Array.prototype.some.call(this.root.querySelectorAll(".answer-label"), function (i) {
      return i.value.trim();
    });
    if (empty) {
      this.labels.defaultAnswers.forEach(function (labels, i) {
        Object.keys(labels).forEach(function (lang) {
          var input = $("answer-" + (i + 1) + "-" + lang);
          if (input) { input.value = labels[lang]; }
        });
      });
      $("answer-2-help").checked = true;
    }
  };

  /* The question as the API takes it: answers with a label in some language, in order; null when off. */
  Composer.prototype.question = function () {
    if (!$("question-on").checked) { return null; }
    var answers = [];
    Array.prototype.forEach.call(this.root.querySelectorAll(".answer-row"), function (row) {
      var label = {};
      Array.prototype.forEach.call(row.querySelectorAll(".answer-label"), function (input) {
        if (input.value.trim()) { label[input.dataset.language] = input.value; }
      });
      if (!Object.keys(label).length) { return; }
      answers.push({ key: row.dataset.key, label: label, needs_help: row.querySelector(".answer-help").checked });
    });
    var hours = parseFloat($("reply-hours").value);
    return { answers: answers, reply_minutes: isNaN(hours) ? 720 : Math.round(hours * 60) };
  };

  Composer.prototype.loadQuestion = function (q) {
    $("question-on").checked = !!q;
    if (q) {
      q.answers.forEach(function (a) {
        Object.keys(a.label || {}).forEach(function (lang) {
          var input = $("answer-" + a.key + "-" + lang);
          if (input) { input.value = a.label[lang]; }
        });
        var help = $("answer-" + a.key + "-help");
        if (help) { help.checked = !!a.needs_help; }
      });
      $("reply-hours").value = String(q.reply_minutes / 60);
      $("question-field").open = true;  /* a campaign that asks: shown, not folded away */
    }
    this.questionToggled();
  };

  /* "Choose a hazard" (issue 16): picking a template from the searchable list fills the text of each language, the
     CAP fields and the languages; the server fills the placeholders (the values typed here, zone names, date, time)
     and says in the preview when a filled value pushes a text over an SMS part boundary. */
  Composer.prototype.initTemplates = function () {
    var self = this, input = $("hazard-template");
    var pick = function () {
      var chosen = null;
      Array.prototype.forEach.call($("hazard-template-options").options, function (o) {
        if (o.value === input.value) { chosen = parseInt(o.dataset.template, 10); }
      });
      if (chosen !== null && chosen !== self.templateId) { self.applyTemplate(chosen); }
      if (!input.value.trim() && self.templateId !== null) {
        self.templateId = null;
        $("template-status").textContent = self.labels.templateNone;
      }
    };
    input.addEventListener("input", pick);
    input.addEventListener("change", pick);
    Array.prototype.forEach.call(this.root.querySelectorAll(".placeholder-value"), function (box) {
      box.addEventListener("input", function () { self.previewSoon(); });
    });
  };

  Composer.prototype.applyTemplate = function (id) {
    var self = this, t = null;
    this.templates.forEach(function (candidate) { if (candidate.id === id) { t = candidate; } });
    if (!t) { return; }
    this.templateId = t.id;
    $("kind").value = "alert";
    this.kindChanged();
    $("body").value = t.texts.pl || "";
    Array.prototype.forEach.call(this.root.querySelectorAll(".variant"), function (v) {
      v.value = t.texts[v.dataset.language] || "";
    });
    var variants = this.root.querySelector(".variant");
    if (variants) { variants.closest("details").open = true; }
    ["severity", "urgency", "certainty", "event"].forEach(function (k) {
      if (t.cap[k]) { $(k).value = t.cap[k]; }
    });
    if (!$("title").value.trim()) { $("title").value = t.name; }
    Array.prototype.forEach.call(this.root.querySelectorAll(".placeholder-value"), function (box) {
      box.closest(".pair").classList.toggle("placeholder-used", t.placeholders.indexOf(box.dataset.placeholder) >= 0);
    });
    var names = languagesInOrder(t.texts).map(function (l) { return self.labels.languageNames[l] || l; });
    $("template-status").textContent = format(this.labels.templateApplied, {
      name: t.name, version: t.version, languages: names.join(", ") }) +
      (t.preapproved ? " " + this.labels.templatePreapproved : "");
    this.renderHighlight();
    this.analyse();
    return this.preview();
  };

  Composer.prototype.values = function () {
    var values = {};
    Array.prototype.forEach.call(this.root.querySelectorAll(".placeholder-value"), function (box) {
      if (box.value.trim()) { values[box.dataset.placeholder] = box.value.trim(); }
    });
    return values;
  };

  Composer.prototype.kindChanged = function () {
    $("topic-field").hidden = $("kind").value !== "info";
  };

  Composer.prototype.load = function (c) {
    var self = this;
    ["kind", "severity", "title", "topic", "urgency", "certainty", "event", "sender_id", "validity_minutes",
     "department"].forEach(function (k) { if (c[k] !== null && c[k] !== undefined) { $(k).value = c[k]; } });
    $("body").value = c.template || c.body || "";
    $("flash").checked = !!c.flash;
    $("cap_status").value = c.cap_status || "actual";
    $("test_group_id").value = c.test_group_id ? String(c.test_group_id) : "";
    $("confirm_real_target").checked = !!c.confirm_real_target;
    this.exerciseChanged();
    $("scheduled_for").value = c.scheduled_for_local || "";
    Object.keys(c.variants || {}).forEach(function (lang) {
      var box = $("variant-" + lang);
      if (box) { box.value = c.variants[lang]; }
    });
    (c.zone_ids || []).forEach(function (id) { var b = self.zoneBox(id); if (b) { b.checked = true; } });
    (c.area || []).forEach(function (spec) { self.addArea(spec, null); });
    if (c.hazard) { this.setHazard(c.hazard.lat, c.hazard.lon); }
    this.loadQuestion(c.question);
    this.kindChanged();
    this.targetChanged();
    this.renderHighlight();
  };

  /* The text with every character that forces UCS-2 marked (built from text nodes, never HTML). */
  Composer.prototype.renderHighlight = function () {
    var box = $("body-highlight"), text = $("body").value;
    var bad = this.lastAnalysis ? this.lastAnalysis.ucs2_characters : [];
    box.textContent = "";
    var run = "";
    /* By code point, as the server names them: an emoji is one character (two UTF-16 units), marked whole. */
    Array.from(text).forEach(function (ch) {
      if (bad.indexOf(ch) >= 0) {
        if (run) { box.appendChild(document.createTextNode(run)); run = ""; }
        box.appendChild(el("mark", ch, "ucs2"));
      } else {
        run += ch;
      }
    });
    if (run) { box.appendChild(document.createTextNode(run)); }
  };

  Composer.prototype.analyse = function () {
    var self = this;
    return this.post(this.root.dataset.urlAnalyse, { text: $("body").value }).then(function (r) {
      if (!r.ok) { return; }
      var a = self.lastAnalysis = r.data;
      var counter = $("counter");
      counter.textContent = format(self.labels.counter, {
        characters: a.characters, parts: a.parts,
        encoding: a.encoding === "ucs2" ? self.labels.ucs2name : self.labels.gsm7 });
      counter.classList.toggle("over-limit", a.parts > a.max_parts);
      if (a.parts > a.max_parts) { counter.textContent += " " + format(self.labels.overLimit, { max: a.max_parts }); }
      var chars = $("ucs2-chars");
      chars.textContent = "";
      chars.hidden = !a.ucs2_characters.length;
      if (a.ucs2_characters.length) {
        chars.appendChild(document.createTextNode(self.labels.ucs2 + " "));
        a.ucs2_characters.forEach(function (c) { chars.appendChild(el("mark", c)); });
      }
      self.renderHighlight();
      self.renderTransliteration();
    });
  };

  Composer.prototype.renderTransliteration = function () {
    var a = this.lastAnalysis;
    var t = a && a.transliteration;
    var useful = t && t.text !== $("body").value && (t.parts < a.parts || t.encoding !== a.encoding);
    $("translit-box").hidden = !useful;
    if (!useful) { return; }
    var offer = format(this.labels.translitOffer, { before: a.parts, after: t.parts });
    var recipients = this.lastPreview ? (this.lastPreview.by_language.pl || 0) : 0;
    if (recipients && t.parts < a.parts) {
      var saving = ((a.parts - t.parts) * recipients * parseFloat(t.price_per_part)).toFixed(2);
      offer += " — " + format(this.labels.translitSaving, {
        saving: saving, currency: this.lastPreview.currency, recipients: recipients });
    }
    $("translit-offer").textContent = offer;
  };

  Composer.prototype.data = function () {
    var self = this, body = $("body").value, variants = {};
    Array.prototype.forEach.call(this.root.querySelectorAll(".variant"), function (v) {
      if (v.value.trim()) { variants[v.dataset.language] = v.value; }
    });
    var data = {
      kind: $("kind").value, severity: $("severity").value, title: $("title").value,
      urgency: $("urgency").value, certainty: $("certainty").value, event: $("event").value,
      sender_id: $("sender_id").value, validity_minutes: parseInt($("validity_minutes").value, 10) || 0,
      flash: $("flash").checked, department: $("department").value, variants: variants,
      zone_ids: Array.prototype.map.call(this.root.querySelectorAll('input[name="zone_ids"]:checked'),
        function (b) { return parseInt(b.value, 10); }),
      area: this.areas.map(function (a) { return a.spec; }),
      hazard: this.hazardData(),
      question: this.question()
    };
    var exercise = this.exerciseData();
    Object.keys(exercise).forEach(function (k) { data[k] = exercise[k]; });
    if ($("kind").value === "info") { data.topic = $("topic").value; }
    if (/\{(zone|zones|date|time|title|until|phone|place|details)\}/.test(body)) { data.template = body; } else { data.body = body; }
    var values = this.values();
    if (this.templateId !== null) { data.template_id = this.templateId; }
    if (this.templateId !== null || Object.keys(values).length) { data.values = values; }
    var when = $("scheduled_for").value;
    /* As typed: the city's wall-clock time, read in [app] timezone by the server (never the browser's zone). */
    data.scheduled_for = when || null;
    if (this.initial && this.initial.id) { data.id = this.initial.id; }
    return data;
  };

  Composer.prototype.showError = function (message) {
    var box = $("compose-error");
    box.hidden = !message;
    box.textContent = message || "";
  };

  Composer.prototype.preview = function () {
    var self = this, data = this.data();
    delete data.id;
    if (!data.zone_ids.length && !data.area.length) {
      this.showError(this.labels.noTarget);
      return Promise.resolve();
    }
    if (!(data.body || data.template || "").trim()) { return Promise.resolve(); }
    return this.post(this.root.dataset.urlPreview, data).then(function (r) {
      if (!r.ok) { self.showError(r.data.error.message); return; }
      self.showError(null);
      var p = self.lastPreview = r.data;
      $("preview-recipients").textContent = p.recipients.toLocaleString();
      $("preview-parts").textContent = p.parts_per_message;
      $("preview-total-parts").textContent = p.total_parts.toLocaleString();
      $("preview-cost").textContent = p.cost + " " + p.currency;
      var ttw = p.time_to_warn;
      $("preview-time-to-warn").textContent = ttw.duration + " · " + ttw.last_at;
      var notes = $("preview-time-to-warn-notes");
      notes.textContent = "";
      ttw.notes.forEach(function (n) { notes.appendChild(el("li", n)); });
      self.renderLanguages(p);
      var warnings = $("preview-warnings");
      warnings.textContent = "";
      p.warnings.forEach(function (w) { warnings.appendChild(el("li", w)); });
      /* The target as the server built it: line buffers and circles in true metres. */
      if (self.targetLayer) { self.map.removeLayer(self.targetLayer); }
      self.targetLayer = L.geoJSON(p.target, {
        pmIgnore: true, interactive: false,
        filter: function (f) { return f.properties.kind !== "zone"; },
        style: function () { return { color: "#d7263d", weight: 1, dashArray: "4 4", fillOpacity: 0.15 }; }
      }).addTo(self.map);
      /* The Polish SMS as sent: with the question's answer lines, which the parts and cost above include. */
      var sms = p.sms_texts && p.sms_texts.pl;
      $("preview-sms").hidden = !(data.question && sms);
      $("preview-sms-text").textContent = sms || "";
      self.root.dataset.previewed = String(p.recipients);
      self.renderTransliteration();
    });
  };

  /* Each language's recipients, parts and cost, as the server counted them. */
  Composer.prototype.renderLanguages = function (p) {
    var self = this, body = $("preview-languages").querySelector("tbody");
    body.textContent = "";
    languagesInOrder(p.texts).forEach(function (language) {
      var t = p.texts[language], row = document.createElement("tr");
      var head = el("th", self.labels.languageNames[language] || language);
      head.scope = "row";
      row.appendChild(head);
      row.appendChild(el("td", String(t.recipients || 0), "num"));
      row.appendChild(el("td", format(self.labels.languageParts, {
        parts: t.parts, encoding: t.encoding === "ucs2" ? self.labels.ucs2name : self.labels.gsm7 })));
      row.appendChild(el("td", (t.cost || "0") + " " + p.currency, "num"));
      row.dataset.language = language;
      body.appendChild(row);
    });
  };

  Composer.prototype.save = function () {
    var self = this;
    return this.post(this.root.dataset.urlSave, this.data()).then(function (r) {
      if (!r.ok) { self.showError(r.data.error.message); return; }
      window.location.assign(r.data.url);
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("composer");
    if (root) { root.syrenaComposer = new Composer(root); }
  });
}());
