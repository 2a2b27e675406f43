/* Syrena: a call-out's live board (issue 20). Polls the board's JSON (the staff session, like the campaign page's
   progress.json) every 5 s and redraws each group's counts, the red banners of groups that cannot reach their
   needed confirmations, every person's row (deputies under the one they stand in for), the status and the
   confirmation steps of the timeline. Labels come from data-* attributes and JSON blocks (no inline JS under the
   CSP). Without JavaScript the page is complete as served, with a refresh link. */
(function () {
  "use strict";

  var INTERVAL_MS = 5000;
  var root = document.getElementById("callout-board");
  if (!root || !window.fetch) { return; }
  var stateLabels = JSON.parse(document.getElementById("callout-state-labels").textContent);
  var statusLabels = JSON.parse(document.getElementById("callout-status-labels").textContent);
  var note = document.getElementById("callout-live-note");
  var failures = 0, timer = null;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
  }
  function when(iso) { return window.syrenaLocalTime ? window.syrenaLocalTime(iso, true) : (iso || ""); }
  function set(el, value) { if (el && el.textContent !== String(value)) { el.textContent = String(value); } }
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text != null && text !== "") { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }
  function since(from, to) {
    if (!from || !to) { return ""; }
    var s = Math.max(0, Math.round((new Date(to) - new Date(from)) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return "+" + (h ? h + ":" + pad(m) : m) + ":" + pad(sec);
  }
  function timeCell(td, iso) {
    td.textContent = "";
    if (!iso) { return; }
    var t = el("time", when(iso));
    t.setAttribute("datetime", iso);
    td.appendChild(t);
  }

  function renderGroups(data) {
    var banners = document.getElementById("callout-unreachable");
    var fragment = document.createDocumentFragment();
    data.groups.forEach(function (g) {
      var row = document.querySelector('#callout-groups tr[data-group-id="' + g.id + '"]');
      if (row) {
        ["members", "confirmed", "needed", "declined", "possible"].forEach(function (key) {
          set(row.querySelector('[data-field="' + key + '"]'), g[key]);
        });
        row.classList.toggle("callout-unreachable", !!g.unreachable);
      }
      if (g.unreachable) {
        var p = el("p", fill(root.dataset.labelUnreachable,
          { group: g.name, confirmed: g.confirmed, needed: g.needed, possible: g.possible }),
          "flash flash-error callout-banner");
        p.setAttribute("role", "alert");
        p.dataset.groupId = g.id;
        fragment.appendChild(p);
      }
    });
    var before = Array.prototype.map.call(banners.children, function (b) { return b.textContent; }).join("\n");
    var after = Array.prototype.map.call(fragment.childNodes, function (b) { return b.textContent; }).join("\n");
    if (before !== after) { banners.replaceChildren(fragment); }  /* an unchanged alert is not read out again */
  }

  function renderPeople(data) {
    var body = document.querySelector("#callout-people tbody");
    var head = document.querySelectorAll("#callout-people thead th");
    var label = function (n) { return head[n] ? head[n].textContent.trim() : ""; };
    var names = {}, groupNames = {};
    data.members.forEach(function (m) { if (m.name) { names[m.phone] = m.name; } });
    data.groups.forEach(function (g) { groupNames[g.id] = g.name; });
    var rows = document.createDocumentFragment();
    data.members.forEach(function (m) {
      var tr = document.createElement("tr");
      tr.dataset.phone = m.phone;
      tr.dataset.state = m.state;
      tr.className = "depth-" + m.depth + (m.depth ? " deputy-row" : "");
      var th = el("th", m.name || "—");
      th.setAttribute("scope", "row");
      if (m.depth && m.deputy_for) {
        th.appendChild(document.createTextNode(" "));
        th.appendChild(el("span", fill(root.dataset.labelDeputyFor, { name: names[m.deputy_for] || m.deputy_for }),
          "deputy-for"));
      }
      tr.appendChild(th);
      var cells = [];
      for (var i = 1; i <= 6; i++) {
        var td = document.createElement("td");
        td.dataset.label = label(i);
        cells.push(td);
        tr.appendChild(td);
      }
      cells[0].textContent = m.function || "";
      var tel = el("a", m.phone, "nowrap");
      tel.href = "tel:" + m.phone;
      cells[1].appendChild(tel);
      cells[2].textContent = (m.group_ids || [m.group_id]).map(function (id) { return groupNames[id] || id; }).join(", ");
      cells[3].appendChild(el("span", stateLabels[m.state] || m.state, "state state-" + m.state));
      if (m.escalated_to) {  /* handed on: no answer in time, or declined */
        var to = (names[m.escalated_to] ? names[m.escalated_to] + " " : "") + m.escalated_to;
        cells[3].appendChild(document.createTextNode(" "));
        cells[3].appendChild(el("span", fill(root.dataset.labelEscalatedTo, { to: to }), "escalated-to"));
      }
      timeCell(cells[4], m.confirmed_at || m.declined_at);
      cells[5].textContent = m.reply_text || "";
      cells[5].className = "reply-text";
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
  }

  function renderStep(key, iso, created) {
    var row = document.querySelector('#callout-timeline tr[data-step="' + key + '"]');
    if (!row || !iso) { return; }
    var at = row.querySelector('[data-field="at"]');
    if (at.querySelector("time") && at.querySelector("time").getAttribute("datetime") === iso) { return; }
    timeCell(at, iso);
    set(row.querySelector('[data-field="since"]'), since(created, iso));
  }

  function render(data) {
    renderGroups(data);
    renderPeople(data);
    renderStep("first_confirmation_at", data.first_confirmation_at, data.created_at);
    renderStep("last_confirmation_at", data.last_confirmation_at, data.created_at);
    renderStep("closed_at", data.closed_at, data.created_at);
    var badge = document.getElementById("callout-status");
    if (badge && badge.dataset.status !== data.status) {
      badge.dataset.status = data.status;
      badge.className = "badge callout-status-" + data.status;
      badge.textContent = statusLabels[data.status] || data.status;
    }
    var actions = document.getElementById("callout-open-actions");
    if (actions) { actions.hidden = data.status !== "open"; }
    root.dataset.status = data.status;
    root.dataset.updated = String(Date.now());
  }

  function poll() {
    fetch(root.dataset.url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        failures = 0;
        render(data);
        set(note, fill(root.dataset.labelUpdated, { time: when(new Date()) }));
        schedule();
      })
      .catch(function () {
        failures += 1;
        if (failures >= 3) { set(note, root.dataset.labelStale); }
        schedule();
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden ? INTERVAL_MS * 3 : INTERVAL_MS);
  }

  set(note, root.dataset.labelUpdating);
  schedule();
}());
