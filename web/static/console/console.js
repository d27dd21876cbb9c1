/* Operator console: plain JavaScript, no framework. Every text that comes from the server is put in the page with
   textContent (never innerHTML), so what a citizen typed is always shown as text. */
(function () {
  "use strict";

  var state = { csrf: null, me: null, outcomes: {}, cases: new Map(), selected: null, ws: null, retry: 0 };
  var FROM = { citoyen: "Citoyen", assistant: "Assistant", agent: "Agent" };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function announce(text) {
    var region = $("announce");
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function when(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : date.toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" });
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (method !== "GET" && state.csrf) { headers["X-CSRF-Token"] = state.csrf; }
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error((data.error && data.error.message) || "Erreur " + response.status + ".");
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  // Login and logout

  function showLogin() {
    state.me = null;
    state.csrf = null;
    if (state.ws) { state.ws.close(); state.ws = null; }
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
    $("login-username").focus();
  }

  function started(data) {
    state.me = data.operator;
    state.csrf = data.csrf;
    state.outcomes = data.outcomes || {};
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("who").hidden = false;
    $("operator-name").textContent = data.operator.username + " (" + data.operator.role + ")";
    fillOutcomes();
    loadQueue();
    connect();
    loadToday();
  }

  function login(event) {
    event.preventDefault();
    var error = $("login-error");
    error.textContent = "";
    var username = $("login-username").value.trim();
    var password = $("login-password").value;
    if (!username || !password) { error.textContent = "Indiquez votre identifiant et votre mot de passe."; return; }
    api("GET", "/api/v1/console/login").then(function (form) {
      state.csrf = form.csrf;
      return api("POST", "/api/v1/console/login", { username: username, password: password });
    }).then(function (data) {
      $("login-password").value = "";
      started(data);
      announce("Connecté en tant que " + data.operator.username + ".");
    }).catch(function (err) {
      state.csrf = null;
      error.textContent = err.message;
      $("login-password").focus();
    });
  }

  function logout() {
    api("POST", "/api/v1/console/logout", {}).catch(function () { return null; }).then(showLogin);
  }

  // The live queue

  function connect() {
    if (!state.me) { return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/console/ws");
    state.ws = ws;
    ws.onopen = function () { state.retry = 0; $("connection").textContent = "File mise à jour en direct."; };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "case_created") {
        state.cases.set(data.case.id, data.case);
        renderQueue();
        announce("Nouveau dossier n° " + data.case.id + " : " + data.case.reason_label + ", " + data.case.channel_label + ".");
      } else if (data.type === "case_updated") {
        if (data.case.status === "resolved") { state.cases.delete(data.case.id); } else { state.cases.set(data.case.id, data.case); }
        renderQueue();
        if (state.selected && state.selected.id === data.case.id) { openCase(data.case.id, false); }
      } else if (data.type === "message" && state.selected && state.selected.id === data.case_id) {
        if (!state.selected.transcript.some(function (m) { return m.id === data.message.id; })) {
          state.selected.transcript.push(data.message);
          addLine($("transcript"), data.message, true);
          if (data.message.from === "citoyen") { announce("Nouveau message du citoyen : " + data.message.text); }
        }
      }
    };
    ws.onclose = function () {
      if (state.ws !== ws || !state.me) { return; }
      $("connection").textContent = "Connexion perdue : nouvelle tentative…";
      state.retry = Math.min(state.retry + 1, 5);
      window.setTimeout(function () { api("GET", "/api/v1/console/me").then(function () { loadQueue(); connect(); })
        .catch(function (err) { if (err.status === 401) { showLogin(); } else { connect(); } }); }, 1000 * state.retry);
    };
  }

  function loadQueue() {
    return api("GET", "/api/v1/console/cases").then(function (data) {
      state.cases = new Map(data.cases.map(function (c) { return [c.id, c]; }));
      renderQueue();
    }).catch(failed($("case-error")));
  }

  function renderQueue() {
    var list = $("queue-list");
    clear(list);
    var cases = Array.from(state.cases.values()).sort(function (a, b) { return a.id - b.id; });
    cases.forEach(function (c) {
      var item = el("li");
      var button = el("button");
      button.type = "button";
      button.dataset.caseId = String(c.id);
      if (state.selected && state.selected.id === c.id) { button.setAttribute("aria-current", "true"); }
      if (c.live) { button.appendChild(el("span", "en direct", "badge live")); }
      button.appendChild(el("span", c.status_label, "badge " + c.status));
      var title = "n° " + c.id + " — " + (c.name || c.phone || "citoyen") + " — " + c.channel_label + " — " + c.reason_label;
      button.appendChild(el("span", title));
      if (c.claimed_by) { button.appendChild(el("span", " (pris par " + c.claimed_by + ")")); }
      button.addEventListener("click", function () { openCase(c.id, true); });
      item.appendChild(button);
      list.appendChild(item);
    });
    $("queue-count").textContent = "(" + cases.length + ")";
    $("queue-empty").hidden = cases.length > 0;
  }

  // One case

  function addLine(list, message, scroll) {
    var item = el("li", null, message.from);
    var who = FROM[message.from] || message.from;
    if (message.from === "agent" && message.operator) { who += " " + message.operator; }
    item.appendChild(el("span", who + " :", "who"));
    var text = el("span", message.text);
    text.dir = "auto";
    item.appendChild(text);
    var time = el("time", when(message.at));
    time.dateTime = message.at;
    item.appendChild(time);
    list.appendChild(item);
    if (scroll) { list.scrollTop = list.scrollHeight; }
  }

  function openCase(id, focus) {
    return api("GET", "/api/v1/console/cases/" + encodeURIComponent(id)).then(function (c) {
      state.selected = c;
      renderCase(c);
      renderQueue();
      if (focus) { $("case-title").focus(); }
    }).catch(failed($("case-error")));
  }

  function renderCase(c) {
    $("case-view").hidden = false;
    $("case-error").textContent = "";
    $("case-title").textContent = "Dossier n° " + c.id + (c.name ? " — " + c.name : "");
    var meta = [c.channel_label, c.reason_label, c.status_label, "créé le " + when(c.created_at)];
    if (c.phone) { meta.push("tél. " + c.phone); }
    if (c.claimed_by) { meta.push("pris en charge par " + c.claimed_by); }
    if (c.live) { meta.push("le citoyen attend dans le chat"); }
    if (c.outcome_label) { meta.push("issue : " + c.outcome_label); }
    $("case-meta").textContent = meta.join(" · ");
    var known = $("known");
    clear(known);
    c.known.forEach(function (k) { known.appendChild(el("dt", k.label)); known.appendChild(el("dd", k.value)); });
    $("known-empty").hidden = c.known.length > 0;
    var transcript = $("transcript");
    clear(transcript);
    c.transcript.forEach(function (m) { addLine(transcript, m, false); });
    transcript.scrollTop = transcript.scrollHeight;
    var mine = c.claimed_by === state.me.username || state.me.role === "superviseur";
    var open = c.status !== "resolved";
    $("claim").hidden = !open || c.claimed_by === state.me.username;
    $("claim").textContent = c.claimed_by ? "Reprendre le dossier" : "Prendre en charge";
    $("claim").disabled = Boolean(c.claimed_by) && state.me.role !== "superviseur";
    $("handback").hidden = !(open && c.live && c.claimed_by && mine);
    $("reply-form").hidden = !(open && c.live && c.claimed_by && mine);
    $("resolve-form").hidden = !(open && c.claimed_by && mine);
  }

  function act(path, body, message) {
    if (!state.selected) { return Promise.resolve(); }
    var id = state.selected.id;
    $("case-error").textContent = "";
    return api("POST", "/api/v1/console/cases/" + id + path, body).then(function () {
      if (message) { announce(message); }
      return openCase(id, false);
    }).catch(failed($("case-error")));
  }

  function fillOutcomes() {
    var select = $("resolve-outcome");
    clear(select);
    var placeholder = el("option", "— Choisissez —");
    placeholder.value = "";
    select.appendChild(placeholder);
    Object.keys(state.outcomes).forEach(function (code) {
      var option = el("option", state.outcomes[code]);
      option.value = code;
      select.appendChild(option);
    });
  }

  function failed(target) {
    return function (err) {
      if (err.status === 401) { showLogin(); return; }
      target.textContent = err.message;
    };
  }

  // Appointments (booking backend)

  function loadToday() {
    $("today-error").textContent = "";
    return api("GET", "/api/v1/console/appointments/today").then(function (data) {
      var rows = $("today-rows");
      clear(rows);
      data.appointments.forEach(function (a) {
        var row = el("tr");
        [new Date(a.start).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" }), a.reference_display,
          a.name, a.phone, a.procedure, a.people, a.status].forEach(function (v) { row.appendChild(el("td", v)); });
        rows.appendChild(row);
      });
      $("today-caption").textContent = data.appointments.length + " rendez-vous le " + data.date + ".";
      $("today-table").hidden = false;
    }).catch(failed($("today-error")));
  }

  function lookup(event) {
    event.preventDefault();
    var result = $("lookup-result");
    result.hidden = true;
    $("lookup-error").textContent = "";
    var reference = $("lookup-reference").value.trim();
    if (!reference) { $("lookup-error").textContent = "Indiquez une référence."; return; }
    api("GET", "/api/v1/console/appointments/" + encodeURIComponent(reference)).then(function (a) {
      clear(result);
      [["Référence", a.reference_display], ["Date", when(a.start)], ["Nom", a.name], ["Téléphone", a.phone],
        ["Démarche", a.procedure], ["Personnes", a.people], ["État", a.status],
        ["Pré-demandes", (a.application_ids || []).join(", ") || "—"]].forEach(function (pair) {
        result.appendChild(el("dt", pair[0]));
        result.appendChild(el("dd", pair[1]));
      });
      result.hidden = false;
      announce("Rendez-vous " + a.reference_display + " trouvé.");
    }).catch(failed($("lookup-error")));
  }

  // --- statistics: bar charts drawn as SVG, each with its figures in a table for screen readers ---
  var SVG = "http://www.w3.org/2000/svg";
  var REASONS = { asked: "Demande du citoyen", not_understood: "Incompréhensions", booking_unavailable:
    "Service de rendez-vous indisponible", technical: "Problème technique", other: "Autre" };

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  function barChart(target, titleId, rows, series) {
    // rows: [{label, values: [n per series]}]; series: [{name, className}]
    clear(target);
    var width = 640, height = 200, left = 36, bottom = 30;
    var max = Math.max(1, Math.max.apply(null, rows.map(function (r) {
      return r.values.reduce(function (a, b) { return a + b; }, 0); })));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": titleId,
      class: "bars" });
    var step = (width - left) / Math.max(1, rows.length);
    chart.appendChild(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: "axis" }));
    var top = svg("text", { x: 0, y: 16, class: "tick" }); top.textContent = String(max); chart.appendChild(top);
    rows.forEach(function (row, i) {
      var y = height - bottom;
      row.values.forEach(function (value, s) {
        var h = (height - bottom - 16) * value / max;
        if (h > 0) {
          var barWidth = Math.min(56, Math.max(2, step - 4));
          var bar = svg("rect", { x: left + i * step + (step - barWidth) / 2, y: y - h, width: barWidth, height: h,
            class: series[s].className });
          var tip = svg("title", {}); tip.textContent = row.label + " : " + value + " " + series[s].name;
          bar.appendChild(tip);
          chart.appendChild(bar);
          y -= h;
        }
      });
      if (rows.length <= 14 || i % 4 === 0) {
        var tick = svg("text", { x: left + i * step + step / 2, y: height - 8, class: "tick", "text-anchor": "middle" });
        tick.textContent = row.short || row.label;
        chart.appendChild(tick);
      }
    });
    target.appendChild(chart);
    var legend = el("p", "", "legend");
    series.forEach(function (s) {
      var key = el("span", s.name, "key " + s.className);
      legend.appendChild(key);
    });
    target.appendChild(legend);
    var table = el("table", "", "visually-hidden");
    var head = el("tr");
    head.appendChild(el("th", ""));
    series.forEach(function (s) { head.appendChild(el("th", s.name)); });
    table.appendChild(head);
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", row.label));
      row.values.forEach(function (v) { tr.appendChild(el("td", String(v))); });
      table.appendChild(tr);
    });
    target.appendChild(table);
  }

  function loadStats() {
    $("stats-error").textContent = "";
    return api("GET", "/api/v1/console/stats").then(function (data) {
      var figures = $("stats-figures");
      clear(figures);
      var week = data.week;
      var lat = data.latency_ms;
      [["Conversations (7 jours)", String(week.conversations)],
       ["Résolues sans agent", week.containment === null ? "—" : Math.round(week.containment * 100) + " %"],
       ["Passations à un agent", String(week.escalated)],
       ["Temps de réponse (médiane / 95 %)", lat.p50 === null ? "—" :
         Math.round(lat.p50) + " ms / " + Math.round(lat.p95) + " ms"]].forEach(function (pair) {
        var item = el("li");
        item.appendChild(el("span", pair[1], "figure"));
        item.appendChild(el("span", pair[0], "muted"));
        figures.appendChild(item);
      });
      barChart($("chart-hours"), "chart-hours-title", data.conversations_per_hour.map(function (h) {
        var hour = new Date(h.hour).getHours() + " h";
        return { label: hour, short: hour, values: [h.chat, h.phone] };
      }), [{ name: "chat", className: "s1" }, { name: "téléphone", className: "s2" }]);
      barChart($("chart-bookings"), "chart-bookings-title", data.bookings_per_day.map(function (d) {
        var b = d.booked || {};
        var day = d.date.slice(8, 10) + "/" + d.date.slice(5, 7);
        return { label: day, short: day, values: [b.chat || 0, b.voice || 0, b.api || 0] };
      }), [{ name: "chat", className: "s1" }, { name: "téléphone", className: "s2" }, { name: "autres", className: "s3" }]);
      barChart($("chart-reasons"), "chart-reasons-title", data.escalations_by_reason.map(function (r) {
        var name = REASONS[r.reason] || r.reason;
        return { label: name, short: name.split(" ")[0], values: [r.count] };
      }), [{ name: "dossiers", className: "s2" }]);
      if (data.problems.length) { $("stats-error").textContent = data.problems.join(" "); }
      $("stats-body").hidden = false;
      announce("Statistiques affichées.");
    }).catch(failed($("stats-error")));
  }

  function init() {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("claim").addEventListener("click", function () { act("/claim", {}, "Dossier pris en charge."); });
    $("handback").addEventListener("click", function () { act("/handback", {}, "La conversation est rendue à l'assistant."); });
    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var box = $("reply-text");
      if (!box.value.trim()) { $("case-error").textContent = "Écrivez votre réponse."; return; }
      act("/reply", { text: box.value }, "Réponse envoyée.").then(function () { box.value = ""; box.focus(); });
    });
    $("reply-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $("reply-form").requestSubmit();
      }
    });
    $("resolve-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var outcome = $("resolve-outcome").value;
      if (!outcome) { $("case-error").textContent = "Choisissez l'issue du dossier."; return; }
      act("/resolve", { outcome: outcome, note: $("resolve-note").value || null }, "Dossier résolu.").then(function () {
        $("resolve-note").value = "";
      });
    });
    $("today-load").addEventListener("click", loadToday);
    $("stats-load").addEventListener("click", loadStats);
    $("lookup-form").addEventListener("submit", lookup);
    api("GET", "/api/v1/console/me").then(started).catch(showLogin);
  }

  document.addEventListener("DOMContentLoaded", init);
}());
