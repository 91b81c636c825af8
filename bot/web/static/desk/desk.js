/*
 * The agent desk: vanilla JavaScript over the desk's JSON API (/api), live through Server-Sent Events.
 *
 * Everything that comes from the server - customers' and agents' words above all - is put on the
 * page as text (textContent / text nodes), never parsed as HTML; links are only made from
 * http(s) URLs (the helpers in common.js). The session lives in an HttpOnly cookie this script cannot
 * read; every request that changes something is sent as JSON with the session's CSRF token.
 */
import {
  $, el, link, keepingFocus, asArray, asObject, present, plain, renderValue, humanKey, formatTime,
  formatDuration, percent, ApiError, useCsrfToken, api, say, alertText, applyBrand,
} from "./common.js";

// the pages whose "sign in first" sends a person here with ?next=: back there after sign-in, and nowhere else
const RETURN_PAGES = new Map([["knowledge", "knowledge/"], ["insights", "insights/"]]);

(() => {
  const state = {
    me: null,
    source: null,
    queue: [],
    queueSeen: null,       // ids of handoffs already shown, to announce new arrivals
    queueReceived: 0,      // when the last queue snapshot arrived
    current: null,         // {handoff, packet, messages, history} of the open conversation
    onlineAgents: [],
    title: "Support desk",  // "<company> desk" once the brand is read (company.yml)
  };

  const customerName = (name) => (present(name) ? name : "Anonymous visitor");

  /** Report a failed request: a lost session goes back to sign-in, anything else is said out loud. */
  function failed(error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignIn("Your session has ended. Sign in again.");
      return;
    }
    alertText(error.message || String(error));
  }

  // --- sign-in ------------------------------------------------------------------------------

  function showSignIn(message) {
    stopLive();
    state.me = null;
    state.current = null;
    state.queueSeen = null;
    $("top").hidden = true;
    for (const view of document.querySelectorAll(".view")) view.hidden = true;
    $("signin-view").hidden = false;
    $("signin-error").textContent = message || "";
    $("signin-email").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const email = $("signin-email").value.trim();
    const password = $("signin-password").value;
    if (!email || !password) {
      $("signin-error").textContent = "Enter your email and password.";
      (email ? $("signin-password") : $("signin-email")).focus();
      return;
    }
    $("signin-submit").disabled = true;
    try {
      const data = await api("POST", "/api/auth/login", { email, password });
      $("signin-password").value = "";
      $("signin-error").textContent = "";
      useCsrfToken(data.csrf_token);
      // signed in from the knowledge workspace's or the insights page's "sign in first": back there (a fixed
      // page of this list, never a URL the query gives, so a link cannot send a lead elsewhere)
      const back = RETURN_PAGES.get(new URLSearchParams(window.location.search).get("next"));
      if (back) {
        window.location.assign(back);
        return;
      }
      startDesk(data.agent);
    } catch (error) {
      $("signin-error").textContent = error.message;
      $("signin-password").focus();
    } finally {
      $("signin-submit").disabled = false;
    }
  }

  async function signOut() {
    try {
      await api("POST", "/api/auth/logout", {});
    } catch (error) {
      // signed out either way on this screen
    }
    showSignIn("You are signed out.");
  }

  function startDesk(agent) {
    state.me = agent;
    $("signin-view").hidden = true;
    $("top").hidden = false;
    $("whoami").textContent = `${agent.name} (${agent.role})`;
    $("nav-console").hidden = agent.role !== "lead";
    $("nav-insights").hidden = agent.role !== "lead";
    connectLive();
    route();
  }

  // --- live feed ------------------------------------------------------------------------------

  function connectLive() {
    stopLive();
    const source = new EventSource("/api/events");
    state.source = source;
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("queue", (event) => queueArrived(parse(event).handoffs));
    source.addEventListener("handoff", (event) => handoffChanged(parse(event)));
    source.addEventListener("message", (event) => messageArrived(parse(event)));
    source.addEventListener("signed_out", () => showSignIn("Your session has ended. Sign in again."));
    source.addEventListener("error", () => {
      setLive(false);
      if (source.readyState === EventSource.CLOSED) setTimeout(checkSession, 3000);  // refused: maybe signed out
    });
  }

  function stopLive() {
    if (state.source) state.source.close();
    state.source = null;
    setLive(false);
  }

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (error) {
      return {};
    }
  }

  function setLive(on) {
    const badge = $("live-state");
    badge.dataset.state = on ? "on" : "off";
    badge.textContent = on ? "Live" : "Reconnecting…";
  }

  async function checkSession() {
    if (!state.me) return;
    try {
      await api("GET", "/api/me");
      connectLive();
    } catch (error) {
      if (error.status === 401) showSignIn("Your session has ended. Sign in again.");
      else setTimeout(checkSession, 5000);
    }
  }

  // --- views ------------------------------------------------------------------------------

  function route() {
    if (!state.me) return;
    const hash = window.location.hash || "#/queue";
    const match = hash.match(/^#\/handoff\/(\d+)$/);
    if (match) {
      showView("queue");
      openHandoff(Number(match[1]), { focus: true });
    } else if (hash === "#/tickets") {
      showView("tickets");
      loadTickets();
    } else if (hash === "#/console" && state.me.role === "lead") {
      showView("console");
      loadConsole();
    } else {
      showView("queue");
      closeConversation();
    }
  }

  // Tickets are not on the live feed (they arrive a few a day, from the offline form): the open list
  // is fetched again every TICKETS_REFRESH_MS, unless the agent is working in it (focus would be lost).
  const TICKETS_REFRESH_MS = 15000;
  let ticketsTimer = null;

  function showView(name) {
    for (const view of ["queue", "tickets", "console"]) $(`${view}-view`).hidden = view !== name;
    clearInterval(ticketsTimer);
    ticketsTimer = name === "tickets" ? setInterval(() => {
      if (!$("tickets-list").contains(document.activeElement)) loadTickets();
    }, TICKETS_REFRESH_MS) : null;
    for (const anchor of document.querySelectorAll("nav a[data-view]")) {
      if (anchor.dataset.view === name) anchor.setAttribute("aria-current", "page");
      else anchor.removeAttribute("aria-current");
    }
  }

  // --- the queue ------------------------------------------------------------------------------

  /** A queue snapshot from the live feed: announce newcomers (not on the first snapshot), then show it. */
  function queueArrived(handoffs) {
    const items = asArray(handoffs);
    if (state.queueSeen) {
      for (const handoff of items) {
        if (!state.queueSeen.has(handoff.id) && handoff.state === "waiting") {
          say(`New conversation waiting: ${customerName(handoff.customer_name)} (${handoff.reason_label}).`);
        }
      }
    }
    state.queueSeen = new Set(items.map((handoff) => handoff.id));
    state.queueReceived = Date.now();  // waiting times count on from here between snapshots
    renderQueue(items);
  }

  function renderQueue(handoffs) {
    const items = asArray(handoffs);
    const received = state.queueReceived || Date.now();
    state.queue = items;
    keepingFocus($("queue-list"), "data-handoff-id",
      (list) => list.replaceChildren(...items.map((handoff) => queueItem(handoff, received))));
    const waiting = items.filter((handoff) => handoff.state === "waiting").length;
    $("queue-count").textContent = `(${waiting} waiting, ${items.length - waiting} with agents)`;
    $("queue-empty").hidden = items.length > 0;
    document.title = waiting ? `(${waiting}) ${state.title}` : state.title;
  }

  function queueItem(handoff, received) {
    const selected = state.current && state.current.handoff.id === handoff.id;
    const stateText = handoff.state === "waiting"
      ? `waiting · place ${handoff.position}`
      : handoff.state === "assigned" ? `with ${handoff.agent_id === state.me.id ? "you" : handoff.agent_name || "an agent"}` : handoff.state;
    const frustration = Number(handoff.frustration) || 0;
    const anchor = el("a", { "data-handoff-id": handoff.id },
      el("span", { class: "who" }, customerName(handoff.customer_name)), " ",
      verifiedBadge(handoff.customer_verified),
      el("span", { class: "line" },
        el("span", { class: `badge ${handoff.state}` }, stateText),
        el("span", {}, `channel: ${handoff.channel}`),
        el("span", {}, handoff.reason_label),
        el("span", { class: frustration >= 0.7 ? "badge frustration-high" : "" }, `frustration ${frustration.toFixed(2)}`),
        waitingSpan(handoff.waiting_seconds, received)),
      present(handoff.summary) ? el("p", { class: "summary" }, handoff.summary) : null);
    anchor.href = `#/handoff/${Number(handoff.id)}`;
    if (selected) anchor.setAttribute("aria-current", "true");
    return el("li", { class: `queue-item${selected ? " selected" : ""}`, "data-state": handoff.state }, anchor);
  }

  function waitingSpan(seconds, received) {
    return el("span", { class: "wait", "data-seconds": Number(seconds) || 0, "data-received": received },
      `waiting ${formatDuration(Number(seconds) || 0)}`);
  }

  function tickWaits() {
    for (const span of document.querySelectorAll(".wait")) {
      const seconds = Number(span.dataset.seconds) + (Date.now() - Number(span.dataset.received)) / 1000;
      span.textContent = `waiting ${formatDuration(seconds)}`;
    }
  }

  function verifiedBadge(verified) {
    return verified
      ? el("span", { class: "badge verified", title: "identity verified" }, "verified")
      : el("span", { class: "badge unverified", title: "identity not verified" }, "not verified");
  }

  async function loadRecent() {
    try {
      const data = await api("GET", "/api/handoffs/recent?limit=20");
      const closed = asArray(data.handoffs).filter((handoff) => handoff.state !== "waiting" && handoff.state !== "assigned");
      $("recent-list").replaceChildren(...closed.map((handoff) => queueItem(handoff, Date.now())));
      for (const span of $("recent-list").querySelectorAll(".wait")) span.remove();
    } catch (error) {
      failed(error);
    }
  }

  // --- one conversation ------------------------------------------------------------------

  function closeConversation() {
    state.current = null;
    $("conv-body").hidden = true;
    $("conv-placeholder").hidden = false;
    renderQueue(state.queue);
  }

  async function openHandoff(id, { focus = false } = {}) {
    try {
      const detail = await api("GET", `/api/handoffs/${id}`);
      const switched = !state.current || state.current.handoff.id !== detail.handoff.id;
      state.current = detail;
      renderConversation(switched);
      renderQueue(state.queue);
      if (focus && switched) $("conv-title").focus();
      refreshOnlineAgents();
    } catch (error) {
      failed(error);
      if (error.status === 404) window.location.hash = "#/queue";
    }
  }

  const mine = (handoff) => handoff.state === "assigned" && handoff.agent_id === state.me.id;
  const isLead = () => state.me && state.me.role === "lead";

  function renderConversation(switched) {
    const { handoff, packet } = state.current;
    $("conv-placeholder").hidden = true;
    $("conv-body").hidden = false;
    $("conv-title").textContent = customerName(handoff.customer_name);
    $("conv-meta").replaceChildren(
      verifiedBadge(handoff.customer_verified), " ",
      `${handoff.reason_label} · channel: ${handoff.channel} · opened ${formatTime(handoff.created_at)} · conversation ${handoff.conversation_id}`);
    $("conv-state").textContent = stateLine(handoff);

    const active = handoff.state === "waiting" || handoff.state === "assigned";
    $("claim-button").hidden = handoff.state !== "waiting";
    $("resolve-button").hidden = !(handoff.state === "assigned" && (mine(handoff) || isLead()));
    $("abandon-button").hidden = !(active && (handoff.state === "waiting" || mine(handoff) || isLead()));
    $("reply-form").hidden = !mine(handoff);
    $("transfer-form").hidden = !(handoff.state === "assigned" && (mine(handoff) || isLead()));
    $("note-form").hidden = false;
    if (switched) {
      $("reply-text").value = "";
      $("note-text").value = "";
      $("transfer-note").value = "";
    }
    $("packet").replaceChildren(...renderPacket(asObject(packet), handoff));
    renderMessages();
    const names = knownAgents();
    $("history").replaceChildren(...asArray(state.current.history).map((entry) => historyItem(entry, names)));
  }

  function stateLine(handoff) {
    if (handoff.state === "waiting") return `Waiting for an agent (place ${handoff.position || "?"}) for ${formatDuration(handoff.waiting_seconds)}.`;
    if (handoff.state === "assigned") {
      return mine(handoff) ? "You have this conversation." : `${handoff.agent_name || "Another agent"} has this conversation.`;
    }
    if (handoff.state === "resolved") return `Resolved at ${formatTime(handoff.resolved_at)}; the assistant has the conversation again.`;
    if (handoff.state === "abandoned") return `Closed without an answer at ${formatTime(handoff.abandoned_at)}.`;
    return handoff.state;
  }

  /** Names of the agents this conversation mentions, for history lines that only carry an id. */
  function knownAgents() {
    const names = new Map(state.onlineAgents.map((agent) => [agent.id, agent.name]));
    const { handoff, messages, history } = state.current;
    if (handoff.agent_id) names.set(handoff.agent_id, handoff.agent_name);
    for (const item of [...asArray(messages), ...asArray(history)]) {
      if (item.agent_id && item.agent_name) names.set(item.agent_id, item.agent_name);
    }
    if (state.me) names.set(state.me.id, state.me.name);
    return names;
  }

  function historyItem(entry, names) {
    let detail = entry.kind === "created" ? "" : entry.detail || "";
    if (entry.kind === "transferred") {
      const moved = (() => { try { return asObject(JSON.parse(detail)); } catch (error) { return {}; } })();
      detail = moved.to_agent_id ? `to ${names.get(moved.to_agent_id) || `agent #${moved.to_agent_id}`}` : "back to the queue";
    }
    const who = entry.agent_name || (entry.agent_id ? names.get(entry.agent_id) || `agent #${entry.agent_id}` : "");
    return el("li", {}, `${formatTime(entry.at)} · ${String(entry.kind).replace(/_/g, " ")}${who ? ` by ${who}` : ""}${detail ? ` · ${detail}` : ""}`);
  }

  // The context packet: the keys this desk knows first, then anything else the assistant added.
  const PACKET_KEYS = new Set(["customer", "channel", "reason", "reason_detail", "summary", "wants", "transcript", "slots",
    "articles_shown", "frustration", "suggested_articles"]);

  function renderPacket(packet, handoff) {
    const sections = [];
    const customer = asObject(packet.customer);
    const verified = customer.verified !== undefined ? Boolean(customer.verified) : handoff.customer_verified;
    sections.push(section("Customer", definitions([
      ["Name", customerName(customer.name || handoff.customer_name)],
      ["Identity", verifiedBadge(verified)],
      ["Email", customer.email || handoff.customer_email],
      ["Customer id", customer.id],
      ...Object.entries(customer).filter(([key]) => !["name", "email", "id", "verified"].includes(key))
        .map(([key, value]) => [humanKey(key), renderValue(value)]),
    ])));
    sections.push(section("Why a person", definitions([
      ["Reason", handoff.reason_label],
      ["Detail", packet.reason_detail || handoff.reason_detail],
      ["Channel", packet.channel || handoff.channel],
      ["Wants", packet.wants],
      ["Summary", packet.summary || handoff.summary],
    ])));
    sections.push(frustrationSection(asObject(packet.frustration), handoff));
    const suggested = asArray(packet.suggested_articles);
    if (suggested.length) {
      sections.push(section("Suggested articles", el("ul", {}, suggested.map((article) => {
        const item = asObject(article);
        return el("li", {}, link(item.url, plain(item.title || item.article_id || item.url)));
      }))));
    }
    sections.push(section("Transcript before the handoff", transcript(asArray(packet.transcript))));
    const slots = asObject(packet.slots);
    if (Object.keys(slots).length) sections.push(section("Slots", renderValue(slots)));
    const shown = asArray(packet.articles_shown);
    if (shown.length) {
      sections.push(section("Articles shown and ratings", el("ul", {}, shown.map((article) => {
        const item = asObject(article);
        return el("li", {}, link(item.url, plain(item.title || item.article_id || item.url)), " · ", ratingText(item.rating));
      }))));
    }
    const extra = Object.entries(packet).filter(([key]) => !PACKET_KEYS.has(key));
    if (extra.length) sections.push(section("More", renderValue(Object.fromEntries(extra))));
    return sections;
  }

  function section(title, ...content) {
    return el("section", {}, el("h4", {}, title), ...content);
  }

  function definitions(rows) {
    const shown = rows.filter(([, value]) => present(value));
    return el("dl", {}, shown.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value instanceof Node ? value : plain(value))]));
  }

  function ratingText(rating) {
    if (rating === true || rating === "helpful" || rating === "yes") return "helped";
    if (rating === false || rating === "not_helpful" || rating === "no") return "did not help";
    return present(rating) ? plain(rating) : "not rated";
  }

  function frustrationSection(frustration, handoff) {
    const score = Number(frustration.score !== undefined ? frustration.score : handoff.frustration) || 0;
    const meter = el("meter", { min: 0, max: 1, low: 0.4, high: 0.7, optimum: 0, value: score, "aria-label": "frustration score" });
    const trajectory = asArray(frustration.trajectory).map((value) => (Number(value) || 0).toFixed(2));
    const reasons = asArray(frustration.reasons);
    const rest = Object.entries(frustration).filter(([key]) => !["score", "trajectory", "reasons"].includes(key));
    return section("Frustration", definitions([
      ["Score", el("span", {}, meter, ` ${score.toFixed(2)}`)],
      ["Trajectory", trajectory.length ? el("span", { class: "trajectory" }, trajectory.join(" → ")) : null],
      ["Signals", reasons.length ? el("ul", {}, reasons.map((reason) => el("li", {}, plain(reason)))) : null],
      ...rest.map(([key, value]) => [humanKey(key), renderValue(value)]),
    ]));
  }

  const WHO = { customer: "Customer", user: "Customer", bot: "Assistant", agent: "Agent" };

  function transcript(turns) {
    if (!turns.length) return el("p", { class: "muted" }, "No transcript.");
    return el("ol", { class: "transcript" }, turns.map((raw) => {
      const turn = asObject(raw);
      const who = plain(turn.who || turn.author || "");
      const nlu = [];
      if (present(turn.intent)) {
        const confidence = Number(turn.confidence);
        nlu.push(`intent ${plain(turn.intent)}${Number.isFinite(confidence) ? ` (${Math.round(confidence * 100)}%)` : ""}`);
      }
      const entities = entityText(turn.entities);
      if (entities) nlu.push(`entities ${entities}`);
      return el("li", { class: `turn ${WHO[who] ? who : "other"}` },
        el("span", { class: "head" }, el("span", {}, WHO[who] || who || "?"), el("span", {}, formatTime(turn.at))),
        el("p", { class: "text" }, plain(turn.text)),
        nlu.length ? el("p", { class: "nlu" }, nlu.join(" · ")) : null);
    }));
  }

  function entityText(entities) {
    if (Array.isArray(entities)) {
      return entities.map((entity) => {
        const item = asObject(entity);
        return item.entity !== undefined ? `${plain(item.entity)}=${plain(item.value)}` : plain(entity);
      }).join(", ");
    }
    const object = asObject(entities);
    return Object.entries(object).map(([key, value]) => `${key}=${plain(value)}`).join(", ");
  }

  // --- messages since the handoff -------------------------------------------------------

  function renderMessages() {
    const messages = asArray(state.current.messages);
    keepingFocus($("messages"), "data-message-id", (list) => list.replaceChildren(...messages.map(messageItem)));
    $("messages-empty").hidden = messages.length > 0;
  }

  function messageItem(message) {
    const author = message.author;
    let label = { customer: "Customer", agent: message.agent_name || "Agent", note: `Internal note · ${message.agent_name || "agent"}`,
      system: "System" }[author] || author;
    if (author === "agent" && message.agent_id === state.me.id) label = `You (${message.agent_name || state.me.name})`;
    const classes = `message ${["customer", "agent", "note", "system"].includes(author) ? author : "system"}${message.delivered ? "" : " undelivered"}`;
    const failedLine = !message.delivered && author === "agent"
      ? el("p", {}, el("span", { class: "failed" }, "Not delivered yet. "),
        message.agent_id === state.me.id ? el("button", { type: "button", class: "secondary", onclick: () => retry(message.id) }, "Send again") : null)
      : null;
    return el("li", { class: classes, "data-message-id": message.id },
      el("span", { class: "head" }, el("span", {}, label), el("span", {}, formatTime(message.at))),
      el("p", { class: "text" }, message.text),
      failedLine);
  }

  function upsertMessage(message) {
    if (!state.current || state.current.handoff.id !== message.handoff_id) return;
    const messages = asArray(state.current.messages);
    const index = messages.findIndex((existing) => existing.id === message.id);
    if (index >= 0) messages[index] = message;
    else messages.push(message);
    messages.sort((a, b) => a.id - b.id);
    state.current.messages = messages;
    renderMessages();
  }

  function messageArrived(message) {
    if (!message || !state.current || state.current.handoff.id !== message.handoff_id) return;
    upsertMessage(message);
    if (message.author === "customer") say(`${customerName(state.current.handoff.customer_name)} wrote a new message.`);
  }

  function handoffChanged(handoff) {
    if (!handoff || !state.current || state.current.handoff.id !== handoff.id) return;
    const before = state.current.handoff;
    if (before.state !== handoff.state || before.agent_id !== handoff.agent_id) {
      if (before.state === "assigned" && before.agent_id === state.me.id && !mine(handoff)) {
        say(handoff.state === "assigned" ? `${handoff.agent_name} has this conversation now.` : `This conversation is ${handoff.state} now.`);
      }
      openHandoff(handoff.id);  // the state changed: fetch the history too
    }
  }

  // --- actions --------------------------------------------------------------------------------

  async function act(path, body, done) {
    try {
      const result = await api("POST", path, body);
      await done(result);
    } catch (error) {
      failed(error);
      if (state.current && error.status !== 401) await openHandoff(state.current.handoff.id);
    }
  }

  function claim() {
    const id = state.current.handoff.id;
    act(`/api/handoffs/${id}/claim`, {}, async () => {
      say("You have this conversation.");
      await openHandoff(id);
      $("reply-text").focus();
    });
  }

  function resolve() {
    const id = state.current.handoff.id;
    act(`/api/handoffs/${id}/resolve`, {}, async () => {
      say("Resolved. The assistant has the conversation again and asks the customer for a rating.");
      await openHandoff(id);
      $("conv-title").focus();
    });
  }

  function abandon() {
    const id = state.current.handoff.id;
    act(`/api/handoffs/${id}/abandon`, { detail: "customer left" }, async () => {
      say("Closed without an answer.");
      await openHandoff(id);
      $("conv-title").focus();
    });
  }

  async function reply(event) {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text) {
      alertText("Write a reply first.");
      $("reply-text").focus();
      return;
    }
    const id = state.current.handoff.id;
    try {
      const message = await api("POST", `/api/handoffs/${id}/reply`, { text });
      $("reply-text").value = "";
      upsertMessage(message);
    } catch (error) {
      if (error.status === 502) {
        $("reply-text").value = "";  // saved on the server: it is in the list with "Send again"
        await openHandoff(id);
      }
      failed(error);
    }
    $("reply-text").focus();
  }

  function retry(messageId) {
    act(`/api/messages/${messageId}/retry`, {}, async (message) => {
      upsertMessage(message);
      say("Delivered.");
    });
  }

  async function addNote(event) {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) {
      alertText("Write the note first.");
      $("note-text").focus();
      return;
    }
    const id = state.current.handoff.id;
    try {
      upsertMessage(await api("POST", `/api/handoffs/${id}/notes`, { text }));
      $("note-text").value = "";
    } catch (error) {
      failed(error);
    }
  }

  async function refreshOnlineAgents() {
    try {
      state.onlineAgents = asArray((await api("GET", "/api/agents/online")).agents);
    } catch (error) {
      state.onlineAgents = [];
    }
    const select = $("transfer-to");
    const chosen = select.value;
    const others = state.onlineAgents.filter((agent) => !state.current || agent.id !== state.current.handoff.agent_id);
    select.replaceChildren(el("option", { value: "" }, "Back to the queue"),
      ...others.map((agent) => el("option", { value: agent.id }, `${agent.name} (${agent.role}, online)`)));
    if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  }

  function transfer(event) {
    event.preventDefault();
    const id = state.current.handoff.id;
    const target = $("transfer-to").value;
    const body = { to_agent_id: target ? Number(target) : null, note: $("transfer-note").value.trim() };
    act(`/api/handoffs/${id}/transfer`, body, async (handoff) => {
      $("transfer-note").value = "";
      say(handoff.state === "waiting" ? "Back in the queue." : `Transferred to ${handoff.agent_name}.`);
      await openHandoff(id);
    });
  }

  // --- offline tickets --------------------------------------------------------------------------

  async function loadTickets() {
    const chosen = $("tickets-state").value;
    try {
      const data = await api("GET", chosen ? `/api/tickets?state=${encodeURIComponent(chosen)}` : "/api/tickets");
      const tickets = asArray(data.tickets);
      $("tickets-list").replaceChildren(...tickets.map(ticketCard));
      $("tickets-empty").hidden = tickets.length > 0;
    } catch (error) {
      failed(error);
    }
  }

  function ticketCard(ticket) {
    const mail = el("a", {}, ticket.email);
    mail.href = `mailto:${encodeURIComponent(ticket.email)}`;
    const packet = asObject(ticket.packet);
    return el("li", { class: "card", "data-ticket-id": ticket.id },
      el("div", { class: "head" },
        el("strong", {}, customerName(ticket.customer_name)), mail,
        el("span", { class: "muted" }, `${formatTime(ticket.created_at)} · ${ticket.reason_label} · ${ticket.channel}`),
        el("span", { class: `badge ${ticket.state === "open" ? "waiting" : "resolved"}` }, ticket.state)),
      el("p", { class: "text" }, ticket.description),
      present(packet.summary) ? el("p", { class: "muted" }, `Summary: ${plain(packet.summary)}`) : null,
      el("p", { class: "muted" }, `Conversation ${ticket.conversation_id}`),
      ticket.state === "open"
        ? el("button", { type: "button", class: "secondary", onclick: () => closeTicket(ticket.id) }, "Mark as answered (close)")
        : el("p", { class: "muted" }, `Closed ${formatTime(ticket.closed_at)}`));
  }

  async function closeTicket(id) {
    try {
      await api("POST", `/api/tickets/${id}/close`, {});
      say("Ticket closed.");
      await loadTickets();
      $("tickets-title").focus();
    } catch (error) {
      failed(error);
    }
  }

  // --- leads' console ---------------------------------------------------------------------------

  async function loadConsole() {
    try {
      const [report, knowledge, agents] = await Promise.all([
        api("GET", `/api/reports/handoffs?days=${encodeURIComponent($("report-days").value)}`),
        api("GET", "/api/reports/knowledge"),
        api("GET", "/api/agents"),
      ]);
      renderHandoffReport(report);
      renderKnowledgeReport(knowledge);
      renderAgents(asArray(agents.agents));
    } catch (error) {
      failed(error);
    }
  }

  function figure(value, label) {
    return el("div", { class: "figure" }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  }

  function table(caption, headers, rows, numeric = []) {
    return el("table", { class: "grid" },
      el("caption", { class: "visually-hidden" }, caption),
      el("thead", {}, el("tr", {}, headers.map((header, i) => el("th", { scope: "col", class: numeric.includes(i) ? "number" : "" }, header)))),
      el("tbody", {}, rows.length
        ? rows.map((row) => el("tr", {}, row.map((cell, i) => el("td", { class: numeric.includes(i) ? "number" : "" }, cell))))
        : el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, "Nothing yet."))));
  }

  function renderHandoffReport(report) {
    const total = report.handoffs || 0;
    $("report-handoffs").replaceChildren(
      el("div", { class: "figures" },
        figure(String(total), "handoffs"),
        figure(formatDuration(report.median_wait_seconds), "median wait for an agent"),
        figure(formatDuration(report.median_handling_seconds), "median handling time"),
        figure(report.csat_average !== null && report.csat_average !== undefined ? `${report.csat_average} / 5` : "—",
          `satisfaction (${report.csat_count} ratings)`),
        figure(String(report.open_tickets), "open offline tickets")),
      el("h3", {}, "Why the assistant handed off"),
      table("Handoffs by reason", ["Reason", "Handoffs", "Share"],
        asArray(report.by_reason).map((row) => [row.label, String(row.count), total ? percent(row.count / total) : "—"]), [1, 2]),
      el("h3", {}, "How handoffs ended"),
      table("Handoffs by state", ["State", "Handoffs"], asArray(report.by_state).map((row) => [row.state, String(row.count)]), [1]),
      el("h3", {}, "Customer satisfaction"),
      table("Ratings", ["Rating", "Customers"], asArray(report.csat_distribution).map((row) => [`${row.rating} of 5`, String(row.count)]), [1]));
  }

  function renderKnowledgeReport(knowledge) {
    const summary = asObject(knowledge.summary);
    $("report-knowledge").replaceChildren(
      el("div", { class: "figures" },
        figure(String(summary.answers || 0), "answers from articles"),
        figure(String(summary.rated || 0), "answers rated"),
        figure(summary.rated ? percent(summary.helpful_share || 0) : "—", "said the answer helped")),
      el("h3", {}, "What the assistant could not answer"),
      table("Unanswered questions", ["Question", "Times asked"],
        asArray(knowledge.unanswered).map((row) => [row.question, String(row.count)]), [1]),
      el("h3", {}, "Articles"),
      table("Articles and their ratings", ["Article", "Answers", "Helped", "Did not help"],
        asArray(knowledge.articles).map((row) => [
          row.title ? link(row.url, plain(row.title)) : plain(row.article_id),
          String(row.answers), String(row.helpful), String(row.not_helpful)]),
        [1, 2, 3]));
  }

  function renderAgents(agents) {
    $("agents-rows").replaceChildren(...agents.map((agent) => {
      const self = agent.id === state.me.id;
      const toggle = self ? el("span", { class: "muted" }, "you")
        : el("button", { type: "button", class: agent.active ? "danger" : "secondary", onclick: () => setActive(agent, !agent.active) },
          agent.active ? `Deactivate ${agent.name}` : `Activate ${agent.name}`);
      return el("tr", {},
        el("td", {}, agent.name), el("td", {}, agent.email), el("td", {}, agent.role),
        el("td", {}, agent.last_seen_at ? formatTime(agent.last_seen_at) : "never"),
        el("td", {}, agent.active ? "active " : "deactivated ", toggle));
    }));
  }

  async function setActive(agent, active) {
    try {
      await api("PATCH", `/api/agents/${agent.id}`, { active });
      say(`${agent.name} is ${active ? "active" : "deactivated"}.`);
      await loadConsole();
      $("agents-title").focus();
    } catch (error) {
      failed(error);
    }
  }

  async function addAgent(event) {
    event.preventDefault();
    const body = { name: $("agent-name").value.trim(), email: $("agent-email").value.trim(), role: $("agent-role").value,
      password: $("agent-password").value };
    try {
      const agent = await api("POST", "/api/agents", body);
      $("agent-form").reset();
      say(`Account created for ${agent.name}.`);
      await loadConsole();
    } catch (error) {
      failed(error);
    }
  }

  // --- wiring ------------------------------------------------------------------------------------

  function wire() {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("claim-button").addEventListener("click", claim);
    $("resolve-button").addEventListener("click", resolve);
    $("abandon-button").addEventListener("click", abandon);
    $("reply-form").addEventListener("submit", reply);
    $("reply-text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit();
    });
    $("note-form").addEventListener("submit", addNote);
    $("transfer-form").addEventListener("submit", transfer);
    $("tickets-state").addEventListener("change", loadTickets);
    $("report-days").addEventListener("change", loadConsole);
    $("agent-form").addEventListener("submit", addAgent);
    $("recent").addEventListener("toggle", () => { if ($("recent").open) loadRecent(); });
    $("tickets-title").setAttribute("tabindex", "-1");
    $("agents-title").setAttribute("tabindex", "-1");
    window.addEventListener("hashchange", route);
    setInterval(tickWaits, 10000);
  }

  async function boot() {
    wire();
    applyBrand("").then((brand) => {
      if (!brand) return;
      state.title = brand.label;
      $("signin-title").textContent = `Sign in to the ${brand.label}`;
      if (state.queue.length) renderQueue(state.queue);
    });
    try {
      const me = await api("GET", "/api/me");
      useCsrfToken(me.csrf_token);
      startDesk(me);
    } catch (error) {
      showSignIn(error.status === 401 ? "" : error.message);
    }
  }

  boot();
})();
