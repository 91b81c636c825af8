/*!
 * Support chat widget: one <script> tag adds a launcher button and a chat panel to any page.
 *
 *   <script src="https://support.example.com/widget.js" async
 *           data-config='{"title": "Help", "customer": {"customer_id": "...", "email": "...", "signature": "..."}}'></script>
 *
 * (or set `window.SupportChat = {...}` before the tag; data-config wins). The panel lives in a Shadow DOM,
 * so the host page's CSS does not reach it and its CSS does not leak out. It talks to Rasa's socket.io
 * channel with session persistence: the session id kept in localStorage brings the same conversation back
 * after a reload or in a second tab (history from GET {server}/api/widget/history/{id}), and after a network
 * drop it fetches what it missed, de-duplicating by timestamp and text.
 *
 * Everything that comes from the server or the customer is put on the page as text (text nodes,
 * textContent); the little formatting bot messages use (**bold**, line breaks, [label](url), bare URLs) is
 * parsed here into DOM nodes, and links are made only from http(s) and mailto URLs. Markup is never parsed.
 */
(function () {
  "use strict";

  if (window.__supportChatWidget) return; // the tag was included twice
  window.__supportChatWidget = true;

  const script = document.currentScript;
  const SESSION_RE = /^[A-Za-z0-9_-]{16,128}$/;
  const EMAIL_RE = /^[^@\s<>"']{1,64}@[^@\s<>"']+\.[A-Za-z]{2,}$/;
  const PERSON = { title: "Talk to a person", payload: "/request_human" };
  const MAX_CHARS = 5000;
  const TYPING_MS = 25000;
  const OFFLINE_STEP_MS = 10000;

  // --- configuration -----------------------------------------------------------------------------

  function readConfig() {
    const given = {};
    if (window.SupportChat && typeof window.SupportChat === "object") Object.assign(given, window.SupportChat);
    const raw = script && script.getAttribute("data-config");
    if (raw) {
      try {
        Object.assign(given, JSON.parse(raw));
      } catch (error) {
        console.warn("Support chat: data-config is not valid JSON; it was ignored");
      }
    }
    const own = script && script.src ? new URL(script.src, location.href).origin : location.origin;
    const colors = given.colors && typeof given.colors === "object" ? given.colors : {};
    const primary = hexColour(colors.primary);
    return {
      server: stripSlash(httpUrl(given.server) || own),
      socketUrl: httpUrl(given.socketUrl) ? stripSlash(given.socketUrl) : null,
      socketPath: typeof given.socketPath === "string" && given.socketPath ? given.socketPath : "/socket.io",
      title: textOr(given.title, "Support"),
      greeting: textOr(given.greeting, "Hi! How can I help you today?"),
      primary: primary || "#1d4ed8",
      logo: httpUrl(given.logo),
      privacyUrl: httpUrl(given.privacyUrl),
      // what the host page left out is taken from the company's profile on the server (GET /api/widget/config)
      fromServer: {
        title: !textOr(given.title, ""), greeting: !textOr(given.greeting, ""), primary: !primary,
        logo: given.logo === undefined, privacyUrl: given.privacyUrl === undefined,
      },
      position: given.position === "left" ? "left" : "right",
      customer: identityOf(given.customer),
    };
  }

  function textOr(value, fallback) {
    return typeof value === "string" && value.trim() ? value.trim() : fallback;
  }

  function stripSlash(url) {
    return String(url).replace(/\/+$/, "");
  }

  function httpUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function hexColour(value) {
    if (typeof value !== "string") return null;
    const v = value.trim();
    if (/^#[0-9a-f]{6}$/i.test(v)) return v;
    if (/^#[0-9a-f]{3}$/i.test(v)) return "#" + v.slice(1).split("").map((c) => c + c).join("");
    if (v) console.warn("Support chat: colours must be #rgb or #rrggbb; using the default");
    return null;
  }

  /** The signed identity the host site passed, checked for shape only (the server checks the signature). */
  function identityOf(value) {
    if (!value) return null;
    const fields = ["customer_id", "email", "signature"];
    if (typeof value !== "object" || !fields.every((f) => typeof value[f] === "string" && value[f].trim())) {
      console.warn("Support chat: customer needs customer_id, email and signature; chatting anonymously");
      return null;
    }
    return { customer_id: value.customer_id.trim(), email: value.email.trim(), signature: value.signature.trim() };
  }

  /** Text colour with the better WCAG contrast on the brand colour. */
  function textOn(hex) {
    const channel = (i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    const lum = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    return (1.05) / (lum + 0.05) >= (lum + 0.05) / 0.05 ? "#ffffff" : "#111111";
  }

  // --- the session, kept per host site and per signed-in customer ---------------------------------

  function storage(kind) {
    try {
      const store = window[kind];
      const probe = "__bw_probe";
      store.setItem(probe, "1");
      store.removeItem(probe);
      return store;
    } catch (error) {
      return null; // storage blocked: the conversation lasts as long as the page
    }
  }

  function newSessionId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** A visitor's conversation is theirs alone: another customer (or signing out) starts a new one. */
  function loadSession(cfg) {
    const store = storage("localStorage");
    const key = "support-chat:" + cfg.server;
    const who = cfg.customer ? cfg.customer.customer_id : null;
    let saved = null;
    try {
      saved = store && JSON.parse(store.getItem(key) || "null");
    } catch (error) {
      saved = null;
    }
    if (saved && typeof saved.id === "string" && SESSION_RE.test(saved.id) && (saved.customer || null) === who) {
      return { id: saved.id, known: true, save: (id) => store && store.setItem(key, JSON.stringify({ id, customer: who })) };
    }
    const id = newSessionId();
    if (store) store.setItem(key, JSON.stringify({ id, customer: who }));
    return { id, known: false, save: (other) => store && store.setItem(key, JSON.stringify({ id: other, customer: who })) };
  }

  // --- building DOM safely ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else if (name === "href" || name === "src" || name.startsWith("on")) throw new Error("set " + name + " through link()");
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** An absolute http(s) or mailto URL, or null: javascript:, data: and relative links are never links. */
  function safeUrl(raw) {
    if (typeof raw !== "string" || !/^(https?:\/\/|mailto:)/i.test(raw.trim())) return null;
    try {
      const url = new URL(raw.trim());
      return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function link(url, label) {
    const a = el("a", { target: "_blank", rel: "noopener noreferrer" }, label);
    a.href = url;
    return a;
  }

  // [label](url) | **bold** | bare URL; anything else, and any link that is not safe, stays text
  const INLINE = /\[([^\]\n]{1,300})\]\(([^()\s]{1,2048})\)|\*\*([^*\n]{1,500})\*\*|((?:https?:\/\/|mailto:)[^\s<>"']+)/gi;

  function inline(parent, text, allowBold) {
    let at = 0;
    INLINE.lastIndex = 0;
    const matches = Array.from(text.matchAll(INLINE));
    for (const m of matches) {
      if (m.index > at) parent.appendChild(document.createTextNode(text.slice(at, m.index)));
      at = m.index + m[0].length;
      if (m[1] !== undefined) {
        const url = safeUrl(m[2]);
        parent.appendChild(url ? link(url, m[1]) : document.createTextNode(m[0]));
      } else if (m[3] !== undefined) {
        if (!allowBold) {
          parent.appendChild(document.createTextNode(m[0]));
          continue;
        }
        const strong = el("strong");
        inline(strong, m[3], false);
        parent.appendChild(strong);
      } else {
        let raw = m[4];
        const trail = raw.match(/[.,;:!?)\]]+$/); // "see https://x.example/a." : the dot ends the sentence
        if (trail) {
          raw = raw.slice(0, -trail[0].length);
          at -= trail[0].length;
        }
        const url = safeUrl(raw);
        parent.appendChild(url ? link(url, raw) : document.createTextNode(raw));
      }
    }
    if (at < text.length) parent.appendChild(document.createTextNode(text.slice(at)));
  }

  /** Bot and agent text with its simple formatting, as DOM nodes. */
  function rich(text) {
    const box = el("div", { class: "text" });
    String(text || "").split(/\r?\n/).forEach((line, i) => {
      if (i) box.appendChild(el("br"));
      inline(box, line, true);
    });
    return box;
  }

  /** Customer text: exactly what they typed, line breaks kept. */
  function plain(text) {
    const box = el("div", { class: "text" });
    String(text || "").split(/\r?\n/).forEach((line, i) => {
      if (i) box.appendChild(el("br"));
      box.appendChild(document.createTextNode(line));
    });
    return box;
  }

  function formatTime(seconds) {
    const at = new Date(seconds * 1000);
    const today = new Date().toDateString() === at.toDateString();
    const options = today ? { hour: "numeric", minute: "2-digit" } : { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" };
    return at.toLocaleString([], options);
  }

  function svgIcon(paths) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of paths) {
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    }
    return svg;
  }

  // --- the widget ---------------------------------------------------------------------------------

  function start() {
    const cfg = readConfig();
    const session = loadSession(cfg);
    const tabState = storage("sessionStorage");
    const openKey = "support-chat-open:" + cfg.server;

    const entries = []; // every message shown, in order: {key, who, text, buttons, custom, agent, ts, local, ...}
    const byKey = new Map(); // server messages by timestamp and text: each is shown once
    const outbox = [];
    let socket = null;
    let confirmed = false; // joined the conversation's room: messages can go out
    let everConfirmed = false;
    let disconnectedAt = 0;
    let lastSentAt = 0;
    let unread = 0;
    let typingTimer = null;
    let syncTimer = null;
    let offlineStep = null; // the offline form's description, sent once the bot has taken the email

    // the host element: its own tag, and inline !important styles (CSSOM, allowed by CSP) so the page's CSS cannot hide or move it
    const host = document.createElement("support-chat");
    for (const [prop, value] of [["all", "initial"], ["display", "block"], ["position", "static"], ["z-index", "2147483000"]]) {
      host.style.setProperty(prop, value, "important");
    }
    const root = host.attachShadow({ mode: "open" });
    adoptStyles(root, STYLES);
    host.style.setProperty("--bw-primary", cfg.primary);
    host.style.setProperty("--bw-on-primary", textOn(cfg.primary));

    const badge = el("span", { class: "badge", "aria-hidden": "true", hidden: true });
    const launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "bw-panel" },
      svgIcon(["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"]), badge);
    const connection = el("p", { class: "connection", role: "status" });
    const personButton = el("button", { type: "button", class: "person" }, PERSON.title);
    const closeButton = el("button", { type: "button", class: "close", "aria-label": "Close chat" },
      svgIcon(["M6 6l12 12M18 6L6 18"]));
    const log = el("ol", { class: "log", "aria-label": "Conversation", tabindex: "0" }); // scrollable by keyboard
    const typing = el("div", { class: "typing", hidden: true }, el("span", { class: "sr-only" }, "The assistant is typing"),
      el("i"), el("i"), el("i"));
    const input = el("textarea", { id: "bw-input", rows: "1", maxlength: String(MAX_CHARS), autocomplete: "off",
      placeholder: "Type your message…", "aria-describedby": "bw-hint" });
    const sendButton = el("button", { type: "submit", class: "send", "aria-label": "Send" },
      svgIcon(["M3 20l18-8L3 4v6l12 2-12 2z"]));
    const composer = el("form", { class: "composer" },
      el("label", { class: "sr-only", for: "bw-input" }, "Message"),
      el("span", { id: "bw-hint", class: "sr-only" }, "Enter sends, Shift+Enter starts a new line, Escape closes the chat."),
      input, sendButton);
    const titleText = el("h2", { id: "bw-title" }, cfg.title);
    const logo = el("img", { class: "logo", alt: "", width: "28", height: "28", hidden: true });
    const privacy = el("p", { class: "privacy", hidden: true });
    const panel = el("section", { id: "bw-panel", class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "bw-title", hidden: true },
      el("header", { class: "head" }, logo,
        el("div", { class: "titles" }, titleText, connection),
        personButton, closeButton),
      log, typing, composer, privacy);
    const announcer = el("div", { class: "sr-only", "aria-live": "polite", "aria-atomic": "true", "data-role": "announcer" });
    const frame = el("div", { class: "bw " + cfg.position }, panel, launcher, announcer);
    root.appendChild(frame);
    const welcome = el("li", { class: "msg bot welcome" }, el("span", { class: "sr-only" }, "Assistant said: "), rich(cfg.greeting));
    log.appendChild(welcome);
    document.body.appendChild(host);
    showBrand();
    setLauncherLabel();
    if (Object.values(cfg.fromServer).some(Boolean)) brandFromServer();

    // --- the company's brand: the host page's configuration, else the server's profile (company.yml) ---

    function showBrand() {
      titleText.textContent = cfg.title;
      welcome.replaceChildren(el("span", { class: "sr-only" }, "Assistant said: "), rich(cfg.greeting));
      host.style.setProperty("--bw-primary", cfg.primary);
      host.style.setProperty("--bw-on-primary", textOn(cfg.primary));
      logo.hidden = !cfg.logo;
      if (cfg.logo) logo.src = cfg.logo; // an http(s) URL only (httpUrl); an image runs no script
      privacy.replaceChildren();
      privacy.hidden = !cfg.privacyUrl;
      if (cfg.privacyUrl) privacy.appendChild(link(cfg.privacyUrl, "Privacy"));
    }

    async function brandFromServer() {
      let brand;
      try {
        const response = await fetch(cfg.server + "/api/widget/config", { credentials: "omit" });
        brand = (await response.json()).brand;
      } catch (error) {
        return; // the defaults stay; the chat itself reports a server it cannot reach
      }
      if (!brand || typeof brand !== "object") return;
      const colors = brand.colors && typeof brand.colors === "object" ? brand.colors : {};
      const given = { title: textOr(brand.title, ""), greeting: textOr(brand.greeting, ""), primary: hexColour(colors.primary),
        logo: httpUrl(brand.logo), privacyUrl: httpUrl(brand.privacyUrl) };
      for (const [key, value] of Object.entries(given)) if (cfg.fromServer[key] && value) cfg[key] = value;
      showBrand();
      setLauncherLabel();
    }

    // --- opening and closing ---

    function isOpen() {
      return !panel.hidden;
    }

    function openPanel(focus) {
      panel.hidden = false;
      frame.classList.add("is-open");
      launcher.setAttribute("aria-expanded", "true");
      unread = 0;
      setLauncherLabel();
      if (tabState) tabState.setItem(openKey, "1");
      connect();
      scrollToEnd(true);
      if (focus !== false) input.focus();
    }

    function closePanel() {
      const hadFocus = root.activeElement && panel.contains(root.activeElement);
      panel.hidden = true;
      frame.classList.remove("is-open");
      launcher.setAttribute("aria-expanded", "false");
      if (tabState) tabState.removeItem(openKey);
      if (hadFocus) launcher.focus(); // never take the focus from the host page
    }

    function setLauncherLabel() {
      const open = isOpen();
      const label = (open ? "Close chat" : "Open chat") + ": " + cfg.title + (unread && !open ? ", " + unread + " new" : "");
      launcher.setAttribute("aria-label", label);
      badge.hidden = !unread || open;
      badge.textContent = unread > 9 ? "9+" : String(unread);
    }

    launcher.addEventListener("click", () => {
      if (isOpen()) closePanel();
      else openPanel();
      setLauncherLabel();
    });
    closeButton.addEventListener("click", () => {
      closePanel();
      setLauncherLabel();
    });
    frame.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isOpen()) {
        event.stopPropagation();
        closePanel();
        setLauncherLabel();
        launcher.focus();
      }
    });
    personButton.addEventListener("click", () => {
      send(PERSON.payload, PERSON.title);
      input.focus();
    });

    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      autosize();
      send(text, text);
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    input.addEventListener("input", autosize);

    function autosize() {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 120) + "px";
    }

    // --- messages ---

    function keyOf(who, ts, text) {
      return (who === "customer" ? "c" : "b") + "|" + ts + "|" + text;
    }

    function fromServer(m) {
      const who = m.agent ? "agent" : m.who === "customer" ? "customer" : "bot";
      const buttons = (m.buttons || m.quick_replies || []).filter((b) => b && typeof b.payload === "string")
        .map((b) => ({ title: String(b.title || b.payload), payload: b.payload }));
      const ts = typeof m.timestamp === "number" ? m.timestamp : null;
      const text = typeof m.text === "string" ? m.text : "";
      return { key: ts === null ? null : keyOf(who, ts, text), who, text, buttons,
        custom: m.custom && typeof m.custom === "object" ? m.custom : {}, agent: m.agent ? String(m.agent) : null, ts };
    }

    function render(entry) {
      const who = entry.who;
      const li = el("li", { class: "msg " + who });
      const speaker = who === "customer" ? "You said: " : who === "agent" ? entry.agent + " from our team said: " : "Assistant said: ";
      if (who === "agent") li.appendChild(el("p", { class: "agent-name", "aria-hidden": "true" }, entry.agent, el("span", {}, " · our team")));
      li.appendChild(el("span", { class: "sr-only" }, speaker));
      const kb = entry.custom.kb;
      const handoff = entry.custom.handoff;
      if (kb && typeof kb === "object") {
        li.classList.add("has-card");
        li.appendChild(card(kb, entry.text));
      } else {
        li.appendChild(who === "customer" ? plain(entry.text) : rich(entry.text));
      }
      if (handoff && typeof handoff === "object") {
        li.classList.add("notice");
        if (handoff.state === "waiting" && handoff.position > 0) {
          const wait = handoff.wait_minutes > 1 ? "about " + handoff.wait_minutes + " min" : "about a minute";
          li.appendChild(el("p", { class: "chip", "aria-hidden": "true" }, "Place in queue: " + handoff.position + " · " + wait));
        }
      }
      const meta = el("p", { class: "meta" });
      const ts = entry.ts || entry.localTs;
      if (ts) {
        const time = el("time", { datetime: new Date(ts * 1000).toISOString() }, formatTime(ts));
        meta.appendChild(time);
      }
      li.appendChild(meta);
      li.appendChild(el("div", { class: "actions" }));
      entry.node = li;
      entry.meta = meta;
      return li;
    }

    function card(kb, text) {
      const box = el("div", { class: "card" });
      box.appendChild(el("p", { class: "card-label" }, "From our help centre"));
      box.appendChild(rich(typeof kb.passage === "string" && kb.passage ? kb.passage : text));
      const url = safeUrl(kb.url);
      const title = typeof kb.title === "string" && kb.title ? kb.title : "the article";
      box.appendChild(el("p", { class: "source" }, url ? link(url, title) : title));
      box.appendChild(el("p", { class: "ask" }, "Did this help?"));
      return box;
    }

    function plainText(entry) {
      const kb = entry.custom.kb;
      if (kb && typeof kb === "object") return (kb.passage || entry.text) + " From " + (kb.title || "our help centre") + ". Did this help?";
      return entry.text.replace(/\*\*/g, "");
    }

    /** Buttons, rating and the offline form belong to the bot's latest messages (after the customer last wrote). */
    function refreshActions() {
      let lastCustomer = -1;
      entries.forEach((e, i) => {
        if (e.who === "customer") lastCustomer = i;
      });
      entries.forEach((e, i) => {
        const box = e.node.querySelector(".actions");
        const active = i > lastCustomer && e.who !== "customer";
        if (active && !box.firstChild) fillActions(e, box);
        else if (!active && box.firstChild) {
          if (box.contains(root.activeElement)) input.focus();
          box.replaceChildren();
        }
      });
    }

    function fillActions(entry, box) {
      const handoff = entry.custom.handoff;
      if (entry.custom.csat && entry.buttons.length) {
        const group = el("div", { class: "rating", role: "group", "aria-label": "Rate the help you got, from 1 (poor) to 5 (excellent)" });
        entry.buttons.forEach((b, i) => {
          const found = /"rating"\s*:\s*"?(\d)/.exec(b.payload);
          const stars = found ? Number(found[1]) : i + 1;
          group.appendChild(el("button", { type: "button", class: "star", "aria-label": stars + (stars === 1 ? " star" : " stars"),
            onclick: () => choose(b) }, String(stars), el("span", { "aria-hidden": "true" }, " ★")));
        });
        box.appendChild(group);
        return;
      }
      if (handoff && handoff.state === "offline") box.appendChild(offlineForm(handoff));
      if (entry.buttons.length) {
        box.appendChild(el("div", { class: "replies", role: "group", "aria-label": "Suggested replies" },
          entry.buttons.map((b) => el("button", { type: "button", class: "reply", onclick: () => choose(b) }, b.title))));
      }
    }

    function choose(button) {
      send(button.payload, button.title);
      input.focus();
    }

    function offlineForm(handoff) {
      const emailKnown = handoff.email_known === true;
      const n = entries.length;
      const email = emailKnown ? null : el("input", { id: "bw-off-email-" + n, type: "email", required: true, autocomplete: "email",
        maxlength: "254", value: cfg.customer ? cfg.customer.email : null });
      const about = el("textarea", { id: "bw-off-about-" + n, required: true, minlength: "3", maxlength: "2000", rows: "3" });
      const form = el("form", { class: "offline", "aria-label": "Leave a message for our team" },
        email && el("label", { for: email.id }, "Your email"), email,
        el("label", { for: about.id }, "How can we help?"), about,
        el("button", { type: "submit" }, "Send to our team"));
      if (email) email.addEventListener("input", () => email.setCustomValidity(""));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (email) email.setCustomValidity(EMAIL_RE.test(email.value.trim()) ? "" : "Enter an email address like name@example.com");
        if (!form.reportValidity()) return;
        const description = about.value.trim();
        // the bot's offline form asks for the email, then the description: answer one question at a time
        if (email) {
          send(email.value.trim(), email.value.trim());
          offlineStep = { text: description, timer: setTimeout(sendOfflineStep, OFFLINE_STEP_MS) };
        } else {
          send(description, description);
        }
        input.focus();
      });
      return form;
    }

    function sendOfflineStep() {
      if (!offlineStep) return;
      const step = offlineStep;
      offlineStep = null;
      clearTimeout(step.timer);
      send(step.text, step.text);
    }

    function append(entry) {
      entries.push(entry);
      if (entry.key) byKey.set(entry.key, entry);
      log.appendChild(render(entry));
    }

    /** A message the tab did not see live (another tab, a network drop) goes right after the one before it. */
    function insertAfter(anchor, entry) {
      const at = anchor ? entries.indexOf(anchor) + 1 : 0;
      const next = entries[at];
      entries.splice(at, 0, entry);
      const node = render(entry);
      if (next) log.insertBefore(node, next.node);
      else log.appendChild(node);
      byKey.set(entry.key, entry);
    }

    function inHandoff() {
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i];
        if (e.who === "customer") continue;
        const state = e.custom.handoff && e.custom.handoff.state;
        return e.who === "agent" || state === "waiting" || state === "assigned";
      }
      return false;
    }

    function scrollToEnd(force) {
      const near = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
      if (force || near) log.scrollTop = log.scrollHeight;
    }

    function announce(entry) {
      const who = entry.who === "agent" ? entry.agent + " from our team" : cfg.title;
      announcer.textContent = "";
      // a fresh text node after a tick, so the same words twice are read twice
      setTimeout(() => {
        announcer.textContent = who + ": " + plainText(entry);
      }, 50);
    }

    function showTyping(on) {
      clearTimeout(typingTimer);
      typing.hidden = !on;
      if (on) typingTimer = setTimeout(() => showTyping(false), TYPING_MS);
      scrollToEnd(false);
    }

    // --- sending ---

    function send(text, shown) {
      text = String(text).slice(0, MAX_CHARS);
      const entry = { key: null, who: "customer", text: shown, sent: text, id: messageId(), buttons: [], custom: {}, agent: null, ts: null,
        localTs: Date.now() / 1000, local: true, bound: false, state: "queued" };
      append(entry);
      refreshActions();
      scrollToEnd(true);
      outbox.push(entry);
      flush();
      if (!inHandoff()) showTyping(true);
    }

    function messageId() {
      if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
      return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
    }

    function flush() {
      if (!confirmed || !socket) {
        connect();
        return;
      }
      while (outbox.length) {
        const entry = outbox.shift();
        const metadata = cfg.customer ? { customer: cfg.customer } : {};
        // the same id on "Send again": a copy the server already has (queued when the connection dropped) is not
        // handled twice, and its answers come back instead (bot/rasa_durability.py)
        socket.emit("user_uttered", { message: entry.sent, session_id: session.id, message_id: entry.id, metadata });
        entry.state = "sent";
        entry.sentAt = Date.now();
        lastSentAt = entry.sentAt;
        setDelivery(entry, null);
      }
    }

    function setDelivery(entry, problem) {
      const old = entry.meta.querySelector(".undelivered");
      if (old) old.remove();
      if (!problem) return;
      entry.state = "failed";
      const retry = el("button", { type: "button", class: "retry", onclick: () => {
        setDelivery(entry, null);
        entry.state = "queued";
        outbox.push(entry);
        flush();
        input.focus();
      } }, "Send again");
      entry.meta.appendChild(el("span", { class: "undelivered" }, problem + " ", retry));
    }

    // --- receiving ---

    function receive(message) {
      if (!message || typeof message !== "object") return;
      const entry = fromServer(message);
      if (entry.key && byKey.has(entry.key)) return;
      showTyping(false);
      append(entry);
      refreshActions();
      scrollToEnd(entry.who !== "customer");
      announce(entry);
      if (!isOpen()) {
        unread += 1;
        setLauncherLabel();
      }
      if (offlineStep) setTimeout(sendOfflineStep, 300);
      // another tab may have written this turn: fetch what this one did not see
      if (Date.now() - lastSentAt > 30000) {
        clearTimeout(syncTimer);
        syncTimer = setTimeout(() => sync(true), 1500);
      }
    }

    /** Merge the conversation as the server has it: missing messages in their place, our own bound to theirs. */
    function merge(messages, announceNew) {
      const fresh = [];
      let anchor = null;
      for (const m of messages) {
        const entry = fromServer(m);
        if (entry.key === null) continue;
        const known = byKey.get(entry.key);
        if (known) {
          anchor = known;
          continue;
        }
        if (entry.who === "customer") {
          const mine = entries.find((e) => e.local && !e.bound && e.text === entry.text);
          if (mine) {
            mine.bound = true;
            mine.ts = entry.ts;
            mine.key = entry.key;
            byKey.set(entry.key, mine);
            setDelivery(mine, null);
            anchor = mine;
            continue;
          }
        }
        insertAfter(anchor, entry);
        anchor = entry;
        fresh.push(entry);
      }
      if (fresh.length) {
        refreshActions();
        scrollToEnd(!announceNew); // a conversation shown again opens at its latest message
        const last = fresh.filter((e) => e.who !== "customer").pop();
        if (announceNew && last) announce(last);
        if (announceNew && !isOpen()) {
          unread += fresh.filter((e) => e.who !== "customer").length;
          setLauncherLabel();
        }
      }
    }

    async function sync(announceNew) {
      try {
        const response = await fetch(cfg.server + "/api/widget/history/" + encodeURIComponent(session.id),
          { credentials: "omit", cache: "no-store" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const body = await response.json();
        merge(Array.isArray(body.messages) ? body.messages : [], announceNew);
        return true;
      } catch (error) {
        console.warn("Support chat: could not load the conversation", error);
        return false;
      }
    }

    // --- the connection ---

    let loading = null;

    function loadClient() {
      if (!loading) {
        loading = new Promise((resolve, reject) => {
          const previous = window.io; // the host page's own socket.io client, if any, stays theirs
          const tag = document.createElement("script");
          tag.src = cfg.server + "/widget/socket.io.min.js";
          tag.async = true;
          tag.onload = () => {
            const client = window.io;
            if (previous === undefined) delete window.io;
            else window.io = previous;
            if (typeof client === "function") resolve(client);
            else reject(new Error("socket.io client did not load"));
          };
          tag.onerror = () => reject(new Error("could not load " + tag.src));
          document.head.appendChild(tag);
        });
      }
      return loading;
    }

    async function socketTarget() {
      if (cfg.socketUrl) return { url: cfg.socketUrl, path: cfg.socketPath };
      const response = await fetch(cfg.server + "/api/widget/config", { credentials: "omit" });
      const body = await response.json();
      return { url: stripSlash(body.socket_url), path: body.socket_path || cfg.socketPath };
    }

    let connecting = false;

    async function connect() {
      if (socket || connecting) return;
      connecting = true;
      setConnection("Connecting…");
      try {
        const [io, target] = await Promise.all([loadClient(), socketTarget()]);
        // WebSocket first: one connection, so a load balancer may put it on any worker (deploy/nginx.conf.template);
        // long-polling where a proxy blocks WebSockets
        socket = io(target.url, { path: target.path, transports: ["websocket", "polling"], tryAllTransports: true,
          reconnectionDelayMax: 8000, timeout: 15000 });
      } catch (error) {
        console.warn("Support chat:", error);
        setConnection("Chat is unavailable right now. Please try again later.");
        connecting = false;
        loading = null;
        return;
      }
      connecting = false;
      socket.on("connect", () => socket.emit("session_request", { session_id: session.id }));
      socket.on("session_confirm", (id) => {
        if (typeof id === "string" && id !== session.id && SESSION_RE.test(id)) {
          session.id = id;
          session.save(id);
        }
        confirmed = true;
        setConnection("");
        if (everConfirmed) recover();
        else if (session.known) loaded.then(() => sync(true)); // anything said between the first load and joining the room
        everConfirmed = true;
        flush();
      });
      socket.on("bot_uttered", receive);
      socket.on("error", (problem) => {
        const last = entries.filter((e) => e.local && e.state === "sent").pop();
        if (last) setDelivery(last, "Not sent: " + ((problem && problem.error) || "the message was refused") + ".");
        showTyping(false);
      });
      socket.on("disconnect", () => {
        confirmed = false;
        disconnectedAt = Date.now();
        setConnection("Connection lost. Reconnecting…");
      });
      socket.on("connect_error", () => setConnection(everConfirmed ? "Connection lost. Reconnecting…" : "Connecting…"));
    }

    /** Back after a drop: show what was missed; what we sent just before it and the server never got is marked. */
    function recover() {
      const inFlight = entries.filter((e) => e.local && !e.bound && e.state === "sent" && e.sentAt <= disconnectedAt);
      sync(true).then(() => {
        // the tracker is saved when a turn ends: look again before calling a message lost
        setTimeout(() => sync(true).then((ok) => {
          if (ok) inFlight.filter((e) => !e.bound && e.state === "sent").forEach((e) => setDelivery(e, "Not delivered."));
        }), 5000);
      });
    }

    function setConnection(text) {
      connection.textContent = text;
    }

    // --- start ---

    window.SupportChatWidget = { open: () => openPanel(), close: () => closePanel() };
    const loaded = session.known ? sync(false) : Promise.resolve(true);
    if (session.known) connect(); // agents' replies arrive while the panel is closed, counted on the launcher
    if (tabState && tabState.getItem(openKey)) openPanel(false);
  }

  function adoptStyles(root, css) {
    // a constructed stylesheet is not an inline <style>, so host pages need no 'unsafe-inline' in their CSP
    if ("adoptedStyleSheets" in Document.prototype && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", {}, css));
    }
  }

  const STYLES = `
:host { all: initial; }
.bw { all: initial; display: block; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; -webkit-text-size-adjust: 100%; }
.bw *, .bw *::before, .bw *::after { box-sizing: border-box; }
.sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
[hidden] { display: none !important; }
button, input, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 3px solid #1f2328; outline-offset: 2px; }
.launcher { position: fixed; bottom: 20px; right: 20px; width: 60px; height: 60px; border-radius: 50%; border: 0;
  background: var(--bw-primary); color: var(--bw-on-primary); cursor: pointer; display: grid; place-items: center;
  box-shadow: 0 6px 20px rgba(0,0,0,.25); }
.left .launcher { right: auto; left: 20px; }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;
  background: #b91c1c; color: #fff; font-size: 12px; font-weight: 700; line-height: 22px; text-align: center; }
.panel { position: fixed; bottom: 92px; right: 20px; width: 380px; height: min(640px, calc(100vh - 120px));
  display: flex; flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(0,0,0,.28); border: 1px solid #d0d7de; }
.left .panel { right: auto; left: 20px; }
.head { display: flex; align-items: center; gap: 8px; padding: 12px 12px 12px 16px; background: var(--bw-primary);
  color: var(--bw-on-primary); }
.titles { flex: 1; min-width: 0; }
.head h2 { margin: 0; font-size: 17px; font-weight: 700; }
.head .logo { width: 28px; height: 28px; border-radius: 6px; flex: none; }
.privacy { margin: 0; padding: 0 16px 8px; font-size: 12px; color: #57606a; }
.privacy a { color: inherit; }
.connection { margin: 0; font-size: 13px; }
.connection:empty { display: none; }
.person { border: 2px solid currentColor; background: transparent; color: inherit; border-radius: 999px; padding: 5px 12px;
  font-size: 13px; font-weight: 600; cursor: pointer; white-space: nowrap; }
.close { border: 0; background: transparent; color: inherit; width: 36px; height: 36px; border-radius: 8px; cursor: pointer;
  display: grid; place-items: center; }
.close svg { width: 20px; height: 20px; stroke: currentColor; stroke-width: 2.5; fill: none; }
.head :focus-visible { outline-color: var(--bw-on-primary); }
.log { flex: 1; overflow-y: auto; margin: 0; padding: 16px 12px; list-style: none; display: flex; flex-direction: column;
  gap: 10px; background: #f6f8fa; overscroll-behavior: contain; }
.msg { max-width: 85%; padding: 9px 12px; border-radius: 14px; background: #fff; border: 1px solid #d8dee4;
  overflow-wrap: anywhere; align-self: flex-start; }
.msg.customer { align-self: flex-end; background: var(--bw-primary); color: var(--bw-on-primary); border-color: transparent; }
.msg.customer .meta { color: inherit; opacity: .95; }
.msg.agent { background: #fff8e6; border: 1px solid #e3b341; border-left: 5px solid #9a6700; }
.agent-name { margin: 0 0 2px; font-weight: 700; font-size: 13px; color: #6b4500; }
.agent-name span { font-weight: 400; }
.msg.notice { background: #ecf4ff; border-color: #8ab4f8; }
.msg.has-card { max-width: 92%; }
.msg a { color: #0b4fcf; text-decoration: underline; }
.msg.customer a { color: inherit; }
.text strong { font-weight: 700; }
.meta { margin: 4px 0 0; font-size: 12px; color: #57606a; }
.meta:empty { display: none; }
.undelivered { margin-left: 6px; font-weight: 600; }
.retry { border: 0; background: transparent; text-decoration: underline; cursor: pointer; padding: 0; font-weight: 600; }
.card-label { margin: 0 0 4px; font-size: 12px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; color: #57606a; }
.card .text { padding-left: 10px; border-left: 3px solid var(--bw-primary); }
.source { margin: 8px 0 0; font-weight: 600; }
.ask { margin: 8px 0 0; }
.chip { display: inline-block; margin: 6px 0 0; padding: 2px 10px; border-radius: 999px; background: #fff; border: 1px solid #8ab4f8;
  font-size: 13px; font-weight: 600; }
.actions:empty { display: none; }
.actions { margin-top: 8px; }
.replies, .rating { display: flex; flex-wrap: wrap; gap: 6px; }
.reply, .star { border: 2px solid var(--bw-primary); background: #fff; color: #1f2328; border-radius: 999px; padding: 6px 12px;
  cursor: pointer; font-weight: 600; min-height: 40px; }
.reply:hover, .star:hover { background: #eef3ff; }
.star { min-width: 48px; }
.offline { display: grid; gap: 6px; margin-bottom: 8px; }
.offline label { font-weight: 600; font-size: 14px; }
.offline input, .offline textarea { width: 100%; padding: 8px; border: 1px solid #6e7781; border-radius: 8px; background: #fff; font-size: 16px; }
.offline button { justify-self: start; border: 0; border-radius: 8px; padding: 8px 14px; background: var(--bw-primary);
  color: var(--bw-on-primary); font-weight: 700; cursor: pointer; }
.typing { display: flex; gap: 4px; padding: 6px 18px 10px; background: #f6f8fa; }
.typing i { width: 8px; height: 8px; border-radius: 50%; background: #57606a; animation: bw-blink 1.2s infinite ease-in-out; }
.typing i:nth-of-type(2) { animation-delay: .2s; }
.typing i:nth-of-type(3) { animation-delay: .4s; }
@keyframes bw-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .typing i { animation: none; opacity: .7; } }
.composer { display: flex; gap: 8px; align-items: flex-end; padding: 10px; border-top: 1px solid #d0d7de; background: #fff; }
.composer textarea { flex: 1; resize: none; border: 1px solid #6e7781; border-radius: 10px; padding: 9px 10px; font-size: 16px;
  line-height: 1.35; max-height: 120px; background: #fff; }
.send { width: 44px; height: 44px; border: 0; border-radius: 10px; background: var(--bw-primary); color: var(--bw-on-primary);
  cursor: pointer; display: grid; place-items: center; }
.send svg { width: 22px; height: 22px; fill: currentColor; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; border: 0; }
  .left .panel { left: 0; }
  .is-open .launcher { display: none; }
  .msg { max-width: 92%; }
  .person { padding: 5px 10px; }
}
`;

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
