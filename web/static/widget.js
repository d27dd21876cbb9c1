/*
 * Chat widget of the town hall's assistant (guichet). One script tag embeds it in any page:
 *   <script src="https://desk.example/widget.js" defer></script>
 * It finds the desk from its own address, reads /api/v1/widget/config, loads socket.io from the desk and talks to the
 * dialogue server's socket.io channel (session kept in localStorage: a reload keeps the conversation). When the bot
 * hands the conversation to an agent, the citizen talks to the agent through the desk's WebSocket /chat/live.
 * Every text is shown with textContent: nothing a citizen, the bot or an agent writes is ever parsed as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    Array.prototype.slice.call(document.querySelectorAll("script[src]")).filter(function (s) {
      return /\/widget\.js(\?|$)/.test(s.src);
    })[0];
  if (!script || window.__guichetWidget) return;
  window.__guichetWidget = true;

  var DESK = new URL(script.src, location.href).origin;
  var MAX_INPUT = 2000;         // the desk and the voice channel accept 2,000 characters at most
  var MAX_HISTORY = 200;        // messages kept in the browser
  var REPLY_TIMEOUT_MS = 30000; // no answer after that: tell the citizen
  var KEY = "guichet-widget:" + DESK + ":";
  var LABELS = {
    bot: "Assistant de la mairie",
    user: "Vous",
    operator: "Agent de la mairie",
    system: "Information"
  };

  // ---- storage (a browser that refuses storage still gets a working chat, without persistence) ----
  function load(store, name, fallback) {
    try {
      var raw = window[store].getItem(KEY + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }
  function save(store, name, value) {
    try {
      if (value === null) window[store].removeItem(KEY + name);
      else window[store].setItem(KEY + name, JSON.stringify(value));
    } catch (e) { /* quota or disabled storage: keep going */ }
  }

  // A conversation left alone for 12 hours is forgotten by this browser (shared computers: the next visitor does not
  // see it); the next message starts a new one.
  var FORGET_AFTER_MS = 12 * 3600 * 1000;
  var lastSeen = load("localStorage", "seen", 0);
  if (typeof lastSeen !== "number" || Date.now() - lastSeen > FORGET_AFTER_MS) {
    ["session", "history", "mode", "seen"].forEach(function (name) { save("localStorage", name, null); });
  }

  var state = {
    sessionId: load("localStorage", "session", null),
    history: load("localStorage", "history", []),
    mode: load("localStorage", "mode", "bot"), // bot | waiting (hand-off, no agent yet) | operator
    open: load("sessionStorage", "open", false),
    confirmed: false,
    pending: [],      // user messages waiting for the session to be confirmed
    livePending: [],  // citizen messages waiting for the live socket
    socket: null,
    live: null,
    liveRetry: 0,
    replyTimer: null,
    greeted: false
  };
  if (!Array.isArray(state.history)) state.history = [];
  if (["bot", "waiting", "operator"].indexOf(state.mode) < 0) state.mode = "bot";

  // ---- DOM helpers: elements and text only ----
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function clip(text) {
    text = String(text);
    if (text.length <= MAX_INPUT) return text;
    text = text.slice(0, MAX_INPUT);
    var last = text.charCodeAt(text.length - 1);
    return last >= 0xd800 && last <= 0xdbff ? text.slice(0, -1) : text; // never half an emoji
  }

  var URL_RE = /https?:\/\/[^\s<>"'«»]+/g;
  // Text with its web addresses as links; built from text nodes and <a> elements whose href is checked.
  function richText(container, text) {
    var at = 0;
    String(text).replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      var safe = null;
      try {
        var parsed = new URL(url);
        if (parsed.protocol === "https:" || parsed.protocol === "http:") safe = parsed.href;
      } catch (e) { safe = null; }
      if (!safe) return match;
      container.appendChild(document.createTextNode(text.slice(at, offset)));
      container.appendChild(el("a", { href: safe, target: "_blank", rel: "noopener noreferrer", text: url }));
      at = offset + url.length;
      return match;
    });
    container.appendChild(document.createTextNode(text.slice(at)));
  }

  // ---- the interface ----
  var host = el("div", { id: "guichet-widget", hidden: "" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = el("link", { rel: "stylesheet", href: DESK + "/static/widget.css" });
  css.addEventListener("load", function () { host.hidden = false; });
  css.addEventListener("error", function () { host.hidden = false; });

  var launcher = el("button", {
    type: "button", className: "gw-launcher", "aria-expanded": "false", "aria-controls": "gw-panel"
  });
  var SVG = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  icon.setAttribute("focusable", "false");
  icon.setAttribute("class", "gw-icon");
  var bubble = document.createElementNS(SVG, "path");
  bubble.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z");
  bubble.setAttribute("fill", "currentColor");
  icon.appendChild(bubble);
  launcher.appendChild(icon);
  launcher.appendChild(el("span", { text: "Prendre rendez-vous / poser une question" }));
  var title = el("p", { id: "gw-title", className: "gw-title", text: "Assistant de la mairie" });
  var subtitle = el("p", { id: "gw-subtitle", className: "gw-subtitle",
    text: "Passeport et carte d'identité" });
  var restart = el("button", { type: "button", className: "gw-tool", text: "Nouvelle conversation" });
  var close = el("button", { type: "button", className: "gw-tool gw-close", "aria-label": "Fermer la fenêtre de discussion" },
    [el("span", { "aria-hidden": "true", text: "×" })]);
  var log = el("div", {
    id: "gw-log", className: "gw-log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": "Conversation", tabindex: "0"
  });
  var typing = el("div", { className: "gw-typing", hidden: "" }, [
    el("span", { className: "gw-dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
    el("span", { className: "gw-typing-text", text: "L'assistant écrit…" })
  ]);
  var status = el("p", { className: "gw-status", role: "status" });
  var label = el("label", { for: "gw-input", className: "gw-sr", text: "Votre message" });
  var input = el("textarea", {
    id: "gw-input", className: "gw-input", rows: "2", maxlength: String(MAX_INPUT), autocomplete: "off",
    placeholder: "Écrivez votre message…", "aria-describedby": "gw-hint"
  });
  var hint = el("p", { id: "gw-hint", className: "gw-hint",
    text: "Entrée pour envoyer, Maj + Entrée pour aller à la ligne. 2 000 caractères au plus." });
  var send = el("button", { type: "submit", className: "gw-send", text: "Envoyer" });
  var form = el("form", { className: "gw-form", novalidate: "" }, [
    label, el("div", { className: "gw-row" }, [input, send]), hint
  ]);
  var panel = el("div", {
    id: "gw-panel", className: "gw-panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": "gw-title", "aria-describedby": "gw-subtitle", hidden: ""
  }, [
    el("div", { className: "gw-header" }, [
      el("div", { className: "gw-heading" }, [title, subtitle]),
      el("div", { className: "gw-tools" }, [restart, close])
    ]),
    log, typing, status, form
  ]);
  root.appendChild(css);
  root.appendChild(launcher);
  root.appendChild(panel);

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function setStatus(text) { status.textContent = text || ""; }

  function modeStatus() {
    if (state.mode === "waiting") setStatus("En attente d'un agent de la mairie : il va vous répondre ici.");
    else if (state.mode === "operator") setStatus("Vous échangez avec un agent de la mairie.");
    else setStatus("");
  }

  function disableOldButtons() {
    Array.prototype.forEach.call(log.querySelectorAll(".gw-replies button"), function (b) { b.disabled = true; });
  }

  function render(message) {
    var from = LABELS[message.from] ? message.from : "system";
    var item = el("div", { className: "gw-msg gw-msg--" + from });
    item.appendChild(el("p", { className: "gw-who", text: LABELS[from] }));
    var body = el("p", { className: "gw-text", dir: "auto" });
    if (from === "bot" || from === "operator") richText(body, message.text || "");
    else body.textContent = message.text || "";
    item.appendChild(body);
    if (Array.isArray(message.buttons) && message.buttons.length) {
      var group = el("div", { className: "gw-replies", role: "group", "aria-label": "Réponses proposées" });
      message.buttons.forEach(function (button) {
        var b = el("button", { type: "button", className: "gw-reply", dir: "auto", text: button.title });
        b.disabled = !!message.done;
        b.addEventListener("click", function () {
          if (b.disabled) return;
          userSays(button.title, button.payload);
          input.focus(); // the clicked button is now disabled: the focus goes on to the message field
        });
        group.appendChild(b);
      });
      item.appendChild(group);
    }
    log.appendChild(item);
    scrollDown();
    return item;
  }

  function add(message) {
    state.history.push(message);
    if (state.history.length > MAX_HISTORY) state.history = state.history.slice(-MAX_HISTORY);
    save("localStorage", "history", state.history);
    save("localStorage", "seen", Date.now());
    return render(message);
  }

  function markButtonsDone() {
    state.history.forEach(function (m) { if (m.buttons) m.done = true; });
    disableOldButtons();
  }

  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(state.replyTimer);
    if (on) {
      state.replyTimer = setTimeout(function () {
        typing.hidden = true;
        add({ from: "system", text: "L'assistant ne répond pas pour le moment. Réessayez dans un instant, ou " +
          "appelez la mairie aux heures d'ouverture." });
      }, REPLY_TIMEOUT_MS);
      scrollDown();
    }
  }

  function setMode(mode) {
    state.mode = mode;
    save("localStorage", "mode", mode === "bot" ? null : mode);
    modeStatus();
  }

  // ---- opening and closing ----
  function openPanel() {
    state.open = true;
    save("sessionStorage", "open", true);
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    scrollDown();
    input.focus();
    start();
  }

  function closePanel() {
    state.open = false;
    save("sessionStorage", "open", null);
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", openPanel);
  close.addEventListener("click", closePanel);
  var fullScreen = window.matchMedia("(max-width: 480px), (max-height: 500px)");
  function syncModal() { panel.setAttribute("aria-modal", fullScreen.matches ? "true" : "false"); }
  syncModal();
  if (fullScreen.addEventListener) fullScreen.addEventListener("change", syncModal);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    } else if (event.key === "Tab" && fullScreen.matches) {
      // Full screen on a phone: the page behind is covered, so Tab cycles inside the panel.
      var focusable = Array.prototype.filter.call(
        panel.querySelectorAll("button, textarea, [tabindex='0'], a[href]"),
        function (node) { return !node.disabled && node.offsetParent !== null; });
      if (!focusable.length) return;
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      var active = root.activeElement || document.activeElement;
      if (event.shiftKey && active === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && active === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });

  restart.addEventListener("click", function () {
    if (!window.confirm("Effacer cette conversation de ce navigateur et en commencer une nouvelle ?")) return;
    closeLive();
    state.history = [];
    state.sessionId = null;
    state.confirmed = false;
    state.greeted = false;
    save("localStorage", "history", null);
    save("localStorage", "session", null);
    setMode("bot");
    log.textContent = "";
    showTyping(false);
    if (state.socket) {
      state.socket.emit("session_request", { session_id: null });
    }
    input.focus();
  });

  // ---- typing and sending ----
  input.addEventListener("input", function () {
    if (input.value.length >= MAX_INPUT) {
      input.value = clip(input.value);
      setStatus("Votre message est limité à 2 000 caractères.");
    }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });

  function submit() {
    var text = clip(input.value).trim();
    if (!text) return;
    input.value = "";
    if (state.mode !== "bot" || state.confirmed) modeStatus(); // clears a former notice, or says who answers
    userSays(text, text);
    input.focus();
  }

  // What the citizen says: shown as their message, then to the agent (hand-off) or to the bot.
  function userSays(shown, payload) {
    markButtonsDone();
    add({ from: "user", text: shown });
    if (state.mode !== "bot") {
      sendLive(shown);
      return;
    }
    toBot(payload);
  }

  function toBot(text) {
    showTyping(true);
    if (state.socket && state.confirmed) {
      state.socket.emit("user_uttered", { message: text, session_id: state.sessionId });
    } else {
      state.pending.push(text);
      start();
    }
  }

  // ---- the dialogue server (Rasa socket.io channel) ----
  var config = null;
  var loading = null;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.io) return resolve();
      var tag = document.createElement("script");
      tag.src = src;
      tag.async = true;
      tag.onload = function () { resolve(); };
      tag.onerror = function () { reject(new Error("socket.io")); };
      document.head.appendChild(tag);
    });
  }

  function start() {
    if (loading) return loading;
    loading = fetch(DESK + "/api/v1/widget/config", { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("config " + response.status);
        return response.json();
      })
      .then(function (data) {
        config = data;
        return loadScript(DESK + "/static/vendor/socket.io.min.js");
      })
      .then(connect)
      .catch(function () {
        loading = null;
        showTyping(false);
        setStatus("Le service de discussion est indisponible. Réessayez plus tard ou appelez la mairie.");
      });
    return loading;
  }

  function connect() {
    var socket = window.io(config.dialogue_url, {
      path: config.socketio_path || "/socket.io",
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelayMax: 10000
    });
    state.socket = socket;
    socket.on("connect", function () {
      state.confirmed = false;
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (data) {
      var id = typeof data === "string" ? data : data && data.session_id;
      if (!id) return;
      state.sessionId = String(id);
      state.confirmed = true;
      save("localStorage", "session", state.sessionId);
      if (state.mode === "bot") setStatus("");
      else modeStatus();
      openLive();
      if (!state.greeted && !state.history.length && !state.pending.length) {
        state.greeted = true; // the bot introduces itself and offers its buttons
        showTyping(true);
        socket.emit("user_uttered", { message: "/greet", session_id: state.sessionId });
      }
      var waiting = state.pending;
      state.pending = [];
      waiting.forEach(function (text) {
        socket.emit("user_uttered", { message: text, session_id: state.sessionId });
      });
    });
    socket.on("disconnect", function () {
      state.confirmed = false;
      setStatus("Connexion interrompue : nouvelle tentative…");
    });
    socket.on("connect_error", function () {
      setStatus("Connexion impossible pour le moment : nouvelle tentative…");
    });
    socket.on("bot_uttered", botSays);
  }

  function botSays(data) {
    if (!data || typeof data !== "object") return;
    var custom = data.guichet || (data.data && data.data.guichet) || (data.custom && data.custom.guichet);
    if (custom && typeof custom === "object") {
      if (custom.handoff && custom.handoff.live) {
        showTyping(false);
        setMode("waiting");
        openLive();
      }
      return;
    }
    var text = typeof data.text === "string" ? data.text : "";
    var buttons = (Array.isArray(data.quick_replies) && data.quick_replies) ||
      (Array.isArray(data.buttons) && data.buttons) || [];
    buttons = buttons.filter(function (b) { return b && typeof b.title === "string"; })
      .map(function (b) { return { title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title }; });
    if (!text && !buttons.length) return; // custom JSON the widget does not know, images, …
    showTyping(false);
    add({ from: "bot", text: text, buttons: buttons.length ? buttons : undefined });
  }

  // ---- live hand-over with an agent (the desk's WebSocket) ----
  // The socket stays open while the chat is in use: the desk says on connection whether an agent is with this
  // conversation (after a reload too) and pushes the agent's arrival, messages and departure.
  function liveUrl() {
    var base = new URL((config && config.desk_url) || DESK);
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    base.pathname = "/chat/live";
    base.search = "?session=" + encodeURIComponent(state.sessionId);
    return base.href;
  }

  function openLive() {
    if (!state.sessionId || (state.live && state.live.readyState <= 1)) return;
    var ws;
    try {
      ws = new WebSocket(liveUrl());
    } catch (e) {
      return;
    }
    var session = state.sessionId;
    state.live = ws;
    ws.addEventListener("open", function () {
      state.liveRetry = 0;
      flushLive();
    });
    ws.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (state.live === ws && data && typeof data === "object") liveEvent(data);
    });
    ws.addEventListener("close", function () {
      if (state.live !== ws) return; // closed on purpose
      state.live = null;
      state.liveRetry = Math.min(state.liveRetry + 1, 6);
      setTimeout(function () { if (state.sessionId === session) openLive(); },
        (state.mode === "bot" ? 5000 : 1000) * state.liveRetry);
    });
  }

  function closeLive() {
    var ws = state.live;
    state.live = null;
    state.livePending = [];
    if (ws) ws.close();
  }

  function sendLive(text) {
    state.livePending.push(text);
    if (state.live && state.live.readyState === 1) flushLive();
    else openLive();
  }

  function flushLive() {
    var ws = state.live;
    while (ws && ws.readyState === 1 && state.livePending.length) {
      ws.send(JSON.stringify({ type: "citizen_message", text: state.livePending.shift() }));
    }
  }

  function backToBot(text) {
    setMode("bot");
    add({ from: "system", text: text });
  }

  function liveEvent(data) {
    if (data.type === "state") {
      if (data.operator) {
        if (state.mode !== "operator") setMode("operator");
        mergeLive(Array.isArray(data.messages) ? data.messages : []);
      }
    } else if (data.type === "operator_joined") {
      setMode("operator");
      showTyping(false);
      add({ from: "system", text: "Un agent de la mairie a rejoint la conversation." });
    } else if (data.type === "operator_message" && typeof data.text === "string") {
      if (state.mode !== "operator") setMode("operator");
      showTyping(false);
      add({ from: "operator", text: data.text, at: data.at });
    } else if (data.type === "operator_left") {
      if (state.mode !== "bot") backToBot("L'agent a rendu la main : l'assistant automatique vous répond à nouveau.");
    } else if (data.type === "resolved") {
      if (state.mode !== "bot") backToBot("L'agent a terminé votre demande. L'assistant automatique vous répond " +
        "à nouveau.");
    } else if (data.type === "error" && typeof data.message === "string") {
      add({ from: "system", text: data.message });
      // The hand-over ended while this page was away: the bot answers again.
      if (state.mode !== "bot" && data.code === "not_live") setMode("bot");
    }
    // any other message type: ignored
  }

  // Messages of the live exchange this browser has not shown yet (sent from another tab, or while away).
  function mergeLive(messages) {
    var seen = {};
    state.history.forEach(function (m) {
      if (m.from === "operator" || m.from === "user") {
        var key = m.from + "\u0000" + m.text;
        seen[key] = (seen[key] || 0) + 1;
      }
    });
    messages.forEach(function (m) {
      if (!m || typeof m.text !== "string") return;
      var from = m.from === "operator" ? "operator" : "user";
      var key = from + "\u0000" + m.text;
      if (seen[key]) seen[key] -= 1;
      else add({ from: from, text: m.text, at: m.at, live: true });
    });
  }

  // ---- start ----
  state.history.forEach(render);
  modeStatus();
  function mount() {
    document.body.appendChild(host);
    if (state.open) openPanel();
    else if (state.sessionId) start(); // reconnect quietly: answers and agents' messages keep arriving
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
