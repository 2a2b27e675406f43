/* Syrena public page: subscribe (address with autocomplete, or a pin), confirm with the SMS code,
   unsubscribe or see one's data. Takes over the page's forms (which work without it, posted to the server)
   and talks to /api/v1/public/…; the zones are drawn on the map with or without tiles (zone-outlines.js). */
(function () {
  "use strict";

  var page = JSON.parse(document.getElementById("page-data").textContent);
  var T = JSON.parse(document.getElementById("page-text").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var pin = null;           /* {lat, lon} chosen on the map */
  /* What the last code is for: "subscribe", "cancel" or "export"; "server" when the server rendered the code
     step (a form posted before this script ran): that form then posts itself, whatever the code is for. */
  var pendingAction = $("verify-section").hidden ? null : "server";

  function show(el, visible) { el.hidden = !visible; }

  function say(message, isError) {
    var box = $("form-message");
    box.textContent = message;
    box.className = "flash " + (isError ? "flash-error" : "flash-success");
    box.setAttribute("role", isError ? "alert" : "status");
    show(box, true);
  }

  function post(path, body) {
    return fetch("/api/v1/public/" + path, {
      method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }

  function errorText(result) {
    return (result.data && result.data.error && result.data.error.message) || T.error;
  }

  /* ---- address autocomplete from the gazetteer */
  var timer = null;
  function suggest(input) {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q.length < 3) { return; }
      fetch("/subscribe/addresses?q=" + encodeURIComponent(q)).then(function (r) { return r.ok ? r.json() : []; })
        .then(function (items) {
          var list = $("address-options");
          list.textContent = "";
          items.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.label;
            list.appendChild(option);
          });
        }).catch(function () {});
    }, 200);
  }
  ["address", "second-address"].forEach(function (id) {
    $(id).addEventListener("input", function (e) { suggest(e.target); });
  });

  /* ---- a pin on the map (tiles optional) */
  function setupMap() {
    if (!window.L) { return; }
    show($("pin-map"), true); /* hidden for browsers without script, which see the server's drawing instead */
    var map = L.map("pin-map").setView([52.4064, 16.9252], 12);
    window.SyrenaZones.tiles(map, page.tileUrl, page.tileAttribution);
    window.SyrenaZones.draw(map, page.zonesUrl).then(function (layer) {
      if (layer && $("zone-outlines")) { show($("zone-outlines"), false); }
    });
    var marker = null;
    map.on("click", function (e) {
      pin = { lat: Math.round(e.latlng.lat * 1e6) / 1e6, lon: Math.round(e.latlng.lng * 1e6) / 1e6 };
      if (marker) { marker.setLatLng(e.latlng); } else { marker = L.marker(e.latlng).addTo(map); }
      $("pin-status").textContent = T.pinSet + " " + pin.lat.toFixed(5) + ", " + pin.lon.toFixed(5);
    });
  }
  window.addEventListener("load", setupMap);

  /* ---- subscribe: ask for a code */
  function codeSent(phone, action) {
    $("verify-phone").value = phone;
    pendingAction = action;
    say(T.codeSent, false);
    show($("verify-section"), true);
    $("code").focus();
  }

  function showCandidates(candidates, input) {
    var box = $("candidates");
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = T.choose;
    box.appendChild(p);
    candidates.forEach(function (c) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "button button-small button-outline candidate";
      b.textContent = c.label;
      b.addEventListener("click", function () { input.value = c.label; box.textContent = ""; });
      box.appendChild(b);
    });
  }

  $("subscribe-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var address = $("address").value.trim();
    if (!address && !pin) { say(T.needPlace, true); return; }
    if (!$("consent").checked) { say(T.needConsent, true); return; }
    var body = { phone: $("phone").value, language: $("language").value,
                 topics: Array.prototype.map.call(document.querySelectorAll("input[name=topics]:checked"),
                                                  function (c) { return c.value; }) };
    if (address) { body.address = address; } else { body.location = pin; }
    var second = $("second-address").value.trim();
    if (second) { body.second = { address: second, label: "work" }; }
    post("subscriptions", body).then(function (result) {
      if (result.status === 202) {
        codeSent(body.phone, "subscribe");
      } else if (result.data.error && result.data.error.code === "address_ambiguous") {
        say(result.data.error.message, true);
        showCandidates(result.data.error.details.candidates, $("address"));
      } else {
        say(errorText(result), true);
      }
    }).catch(function () { say(T.error, true); });
  });

  /* ---- unsubscribe / export: ask for a code */
  $("manage-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var action = (e.submitter && e.submitter.value) || "cancel";
    var phone = $("manage-phone").value;
    post("subscriptions/" + action, { phone: phone, language: page.language }).then(function (result) {
      if (result.status === 202) {
        codeSent(phone, action);
      } else {
        say(errorText(result), true);
      }
    }).catch(function () { say(T.error, true); });
  });

  /* ---- the code; for one's data the form posts itself: the server shows them on a page of their own */
  $("verify-form").addEventListener("submit", function (e) {
    if (pendingAction === "export" || pendingAction === "server") { return; }
    e.preventDefault();
    post("subscriptions/verify", { phone: $("verify-phone").value, code: $("code").value }).then(function (result) {
      if (result.status !== 200) { say(errorText(result), true); return; }
      show($("form-message"), false);
      show($("verify-section"), false);
      show($("result-section"), true);
      var zones = $("result-zones");
      zones.textContent = "";
      var data = result.data;
      if (data.action === "subscribed") {
        $("result-heading").textContent = T.active;
        data.zones.forEach(function (z) {
          var li = document.createElement("li");
          li.textContent = z.name + " (" + z.code + ")";
          li.className = "result-zone";
          zones.appendChild(li);
        });
        if (!data.zones.length) { $("result-heading").textContent = T.active + " —"; zones.textContent = T.noZone; }
      } else if (data.action === "unsubscribed") {
        $("result-heading").textContent = T.unsubscribed;
      }
      $("result-section").scrollIntoView();
    }).catch(function () { say(T.error, true); });
  });
})();
