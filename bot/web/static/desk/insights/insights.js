/*
 * The leads' insights dashboard: every figure of GET /api/insights as a chart (Chart.js, bundled from npm into
 * ../vendor/charts.js by `make insights`) with its table below; each number of a table links to the conversations
 * behind it (GET /api/insights/conversations), each conversation to its transcript with personal details masked
 * (GET /api/insights/transcript), and each table to its CSV (GET /api/insights/{table}.csv).
 *
 * Intent names, reasons and conversation ids come from customers' conversations: in tables they go on the page as
 * text nodes (common.js `el`), never parsed as HTML; on charts Chart.js draws them on a canvas, which shows text
 * as pixels. Links inside the page are built from URLSearchParams, so an id cannot break out of its parameter.
 */
import { $, el, asArray, asObject, present, formatTime, ApiError, useCsrfToken, api, alertText, applyBrand } from "../common.js";
import { Chart } from "../vendor/charts.js";

const COLORS = {
  blue: "#0b4f9c", green: "#17663a", orange: "#b35c00", red: "#a11d2b", purple: "#6a3d9a", grey: "#5b6670", teal: "#00707a",
};
const REASON_COLORS = [COLORS.blue, COLORS.grey, COLORS.orange, COLORS.purple, COLORS.red, COLORS.teal];
const PERIOD_KEYS = ["since", "until", "channel", "bucket"];
const DAY_MS = 86400000;

const state = { me: null, charts: [], period: null, loadSeq: 0 };

// --- formatting ----------------------------------------------------------------------------------

const count = (value) => (value === null || value === undefined ? "—" : String(value));
const share = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`);
const seconds = (value) => (value === null || value === undefined ? "—" : `${Math.round(value)} s`);
const decimal = (value) => (value === null || value === undefined ? "—" : value.toFixed(2));
const day = (iso) => String(iso).slice(0, 10);  // a bucket starts at midnight UTC: its date names it
const isoDay = (date) => date.toISOString().slice(0, 10);

function bucketLabel(iso) {
  return state.period && state.period.bucket === "week" ? `week of ${day(iso)}` : day(iso);
}

// --- links -----------------------------------------------------------------------------------------

/** The query of the period shown, for the API and for links that keep it. */
function periodQuery(period = state.period) {
  const query = new URLSearchParams();
  for (const name of PERIOD_KEYS) if (period && present(period[name])) query.set(name, period[name]);
  return query;
}

/** A number linking to the conversations behind it (plain text when there are none to see). */
function figureLink(value, text, figure, { bucketStart = null, key = null } = {}) {
  if (!value) return text;
  const query = periodQuery();
  query.set("figure", figure);
  if (bucketStart) query.set("bucket_start", bucketStart);
  if (key !== null && key !== undefined) query.set("key", String(key));
  const anchor = el("a", { class: "figure-link", "data-figure": figure }, text);
  anchor.href = `#/conversations?${query}`;
  return anchor;
}

/** A conversation's id linking to its masked transcript (the way back returns to the dashboard's period). */
function conversationLink(conversationId) {
  const anchor = el("a", { class: "conversation-link" }, conversationId);
  anchor.href = `#/conversation/${encodeURIComponent(conversationId)}?${periodQuery()}`;
  return anchor;
}

function csvLink(table) {
  const anchor = el("a", { class: "csv-link", download: "", "data-table": table }, "CSV");
  anchor.href = `/api/insights/${encodeURIComponent(table)}.csv?${periodQuery()}`;
  return anchor;
}

// --- the dashboard's charts --------------------------------------------------------------------------

/** A table: columns of {title, cell(row) → text or node, number}. */
function table(caption, columns, rows) {
  return el("table", { class: "grid figures" },
    el("caption", { class: "visually-hidden" }, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.number ? "number" : null }, c.title)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map((c) => el("td", { class: c.number ? "number" : null }, c.cell(row)))))));
}

const startColumn = { title: "Period", cell: (row) => bucketLabel(row.start) };
const linked = (title, field, figure, keyOf = null) => ({
  title, number: true,
  cell: (row) => figureLink(row[field], count(row[field]), figure, { bucketStart: row.start || null, key: keyOf ? keyOf(row) : null }),
});
const plainColumn = (title, format, field) => ({ title, number: true, cell: (row) => format(row[field]) });

function bars(label, data, color, extra = {}) {
  return { type: "bar", label, data, backgroundColor: color, borderColor: color, ...extra };
}
function line(label, data, color, extra = {}) {
  return { type: "line", label, data, borderColor: color, backgroundColor: color, pointRadius: 2, tension: 0.2, spanGaps: true, ...extra };
}

const rateAxis = { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "%" } };
const pct = (value) => (value === null || value === undefined ? null : Math.round(value * 1000) / 10);

/** Every chart of the page: its title, the API table it draws, the CSV to export and how to draw it. */
function chartSpecs(data) {
  const conv = asArray(data.conversations);
  const labels = conv.map((row) => bucketLabel(row.start));
  const reasons = [...new Set(asArray(data.handoff_reasons).map((row) => row.reason))];
  const reasonLabel = Object.fromEntries(asArray(data.handoff_reasons).map((row) => [row.reason, row.label]));
  const byStart = (rows) => {
    const grouped = new Map();
    for (const row of rows) {
      if (!grouped.has(row.start)) grouped.set(row.start, { start: row.start });
      grouped.get(row.start)[row.reason] = row.handoffs;
    }
    return [...grouped.values()];
  };
  const reasonRows = byStart(asArray(data.handoff_reasons));
  const times = asArray(data.agent_times);
  const csat = asArray(data.csat);
  const kb = asArray(data.knowledge);
  const frustration = asArray(data.frustration);
  const intents = data.intents === null || data.intents === undefined ? null : asArray(data.intents);
  const queue = asArray(data.queue);
  const distribution = asArray(data.csat_distribution);
  const nps = asArray(data.nps);
  const npsDistribution = asArray(data.nps_distribution);
  const comments = asArray(data.comments);
  const npsAnswers = nps.reduce((sum, r) => sum + (r.answers || 0), 0);
  const npsOverall = npsAnswers
    ? Math.round(nps.reduce((sum, r) => sum + (r.promoters || 0) - (r.detractors || 0), 0) * 1000 / npsAnswers) / 10 : null;
  const bandColor = { promoter: COLORS.green, passive: COLORS.grey, detractor: COLORS.red };
  return [
    {
      id: "conversations", title: "Conversations and containment", csv: "conversations", rows: conv,
      note: "Contained: no handoff and no offline ticket in that period.",
      chart: { labels, datasets: [
        bars("Conversations", conv.map((r) => r.conversations), COLORS.blue, { yAxisID: "y" }),
        bars("With a person", conv.map((r) => r.with_person), COLORS.orange, { yAxisID: "y" }),
        line("Containment rate (%)", conv.map((r) => pct(r.containment_rate)), COLORS.green, { yAxisID: "rate" }),
      ], scales: { rate: rateAxis } },
      columns: [startColumn, linked("Conversations", "conversations", "conversations"), linked("With a person", "with_person", "with_person"),
        linked("Contained", "contained", "contained"), plainColumn("Containment", share, "containment_rate")],
    },
    {
      id: "handoff_reasons", title: "Handoffs by reason", csv: "handoff_reasons", rows: reasonRows,
      chart: { labels: reasonRows.map((r) => bucketLabel(r.start)), stacked: true,
        datasets: reasons.map((reason, i) => bars(reasonLabel[reason] || reason, reasonRows.map((r) => r[reason] || 0),
          REASON_COLORS[i % REASON_COLORS.length])) },
      columns: [startColumn, ...reasons.map((reason) => ({
        title: reasonLabel[reason] || reason, number: true,
        cell: (row) => figureLink(row[reason], count(row[reason] || 0), "handoffs", { bucketStart: row.start, key: reason }),
      }))],
    },
    {
      id: "offline_tickets", title: "Offline tickets", csv: "conversations", rows: conv,
      chart: { labels, datasets: [bars("Offline tickets", conv.map((r) => r.offline_tickets), COLORS.purple)] },
      columns: [startColumn, linked("Offline tickets", "offline_tickets", "offline_tickets"), linked("Handed off", "handed_off", "handoffs")],
    },
    {
      id: "csat_distribution", title: "CSAT: how customers rated (1–5)", csv: "csat_distribution", rows: distribution,
      chart: { labels: distribution.map((r) => `${r.rating} ★`),
        datasets: [bars("Ratings", distribution.map((r) => r.count), COLORS.teal)] },
      columns: [{ title: "Rating", cell: (row) => String(row.rating) }, linked("Ratings", "count", "csat", (row) => row.rating),
        plainColumn("Share", share, "share")],
    },
    {
      id: "csat_trend", title: "CSAT trend", csv: "csat", rows: csat,
      chart: { labels: csat.map((r) => bucketLabel(r.start)), datasets: [
        line("Average rating", csat.map((r) => r.average), COLORS.teal, { yAxisID: "y" }),
        bars("Ratings", csat.map((r) => r.ratings), "#b9d7da", { yAxisID: "count" }),
      ], scales: { y: { min: 1, max: 5 }, count: { type: "linear", position: "right", min: 0, grid: { drawOnChartArea: false } } } },
      columns: [startColumn, linked("Ratings", "ratings", "csat"), plainColumn("Average", decimal, "average")],
    },
    {
      id: "nps_distribution", title: "NPS: how likely customers are to recommend us (0–10)", csv: "nps_distribution",
      rows: npsDistribution,
      note: npsAnswers ? `NPS over the period: ${npsOverall} (promoters 9–10 minus detractors 0–6, of ${npsAnswers} answers).`
        : "Asked after a resolved conversation, of the share feedback.yml names.",
      chart: { labels: npsDistribution.map((r) => String(r.score)),
        datasets: [bars("Answers", npsDistribution.map((r) => r.count), npsDistribution.map((r) => bandColor[r.band] || COLORS.grey))] },
      columns: [{ title: "Score", cell: (row) => String(row.score) }, { title: "Band", cell: (row) => row.band },
        linked("Answers", "count", "nps", (row) => row.score), plainColumn("Share", share, "share")],
    },
    {
      id: "nps_trend", title: "NPS trend", csv: "nps", rows: nps,
      chart: { labels: nps.map((r) => bucketLabel(r.start)), datasets: [
        line("NPS", nps.map((r) => (r.nps === null || r.nps === undefined ? null : Math.round(r.nps * 10) / 10)), COLORS.green, { yAxisID: "y" }),
        bars("Answers", nps.map((r) => r.answers), "#c6e0cf", { yAxisID: "count" }),
      ], scales: { y: { min: -100, max: 100, beginAtZero: false },
        count: { type: "linear", position: "right", min: 0, grid: { drawOnChartArea: false } } } },
      columns: [startColumn, linked("Answers", "answers", "nps"), linked("Promoters", "promoters", "nps", () => "promoter"),
        linked("Passives", "passives", "nps", () => "passive"), linked("Detractors", "detractors", "nps", () => "detractor"),
        plainColumn("NPS", (value) => (value === null || value === undefined ? "—" : value.toFixed(1)), "nps")],
    },
    {
      id: "comments", title: "What customers wrote with their rating", csv: "comments", rows: comments, noChart: true,
      note: `CSAT and NPS comments, newest first${comments.length >= 100 ? " (the newest 100; the CSV has them all)" : ""}; personal details masked.`,
      columns: [{ title: "When", cell: (row) => formatTime(row.at) },
        { title: "Survey", cell: (row) => (row.survey === "nps" ? "NPS" : "CSAT") },
        { title: "Score", number: true, cell: (row) => String(row.score) },
        { title: "Comment", cell: (row) => row.text },
        { title: "Conversation", cell: (row) => conversationLink(row.conversation_id) }],
    },
    {
      id: "first_reply", title: "Time to the first agent reply", csv: "agent_times", rows: times,
      chart: { labels: times.map((r) => bucketLabel(r.start)), datasets: [
        line("p50 (s)", times.map((r) => r.first_reply_p50), COLORS.blue), line("p90 (s)", times.map((r) => r.first_reply_p90), COLORS.red),
      ] },
      columns: [startColumn, linked("Handoffs", "handoffs", "handoffs"), linked("Replied", "replied", "replied"),
        plainColumn("p50", seconds, "first_reply_p50"), plainColumn("p90", seconds, "first_reply_p90")],
    },
    {
      id: "resolution", title: "Time to resolution", csv: "agent_times", rows: times,
      chart: { labels: times.map((r) => bucketLabel(r.start)), datasets: [
        line("p50 (s)", times.map((r) => r.resolution_p50), COLORS.blue), line("p90 (s)", times.map((r) => r.resolution_p90), COLORS.red),
      ] },
      columns: [startColumn, linked("Resolved", "resolved", "resolved"), plainColumn("p50", seconds, "resolution_p50"),
        plainColumn("p90", seconds, "resolution_p90")],
    },
    {
      id: "queue", title: "Queue length over the day (UTC)", csv: "queue", rows: queue,
      note: "Handoffs waiting at each full hour of the period, per hour of the day.",
      chart: { labels: queue.map((r) => `${String(r.hour).padStart(2, "0")}:00`), datasets: [
        bars("Mean waiting", queue.map((r) => r.mean_waiting), COLORS.blue), line("Most waiting", queue.map((r) => r.max_waiting), COLORS.red),
      ] },
      columns: [{ title: "Hour", cell: (row) => `${String(row.hour).padStart(2, "0")}:00` },
        plainColumn("Mean waiting", decimal, "mean_waiting"),
        { title: "Most waiting", number: true,
          cell: (row) => figureLink(row.max_waiting, count(row.max_waiting), "queue", { key: row.hour }) }],
    },
    {
      id: "abandoned", title: "Abandoned handoffs", csv: "agent_times", rows: times,
      chart: { labels: times.map((r) => bucketLabel(r.start)), stacked: false, datasets: [
        bars("Abandoned", times.map((r) => r.abandoned), COLORS.red), bars("Before anyone claimed it", times.map((r) => r.abandoned_unclaimed), COLORS.orange),
      ] },
      columns: [startColumn, linked("Handoffs", "handoffs", "handoffs"), linked("Abandoned", "abandoned", "abandoned"),
        plainColumn("Before a claim", count, "abandoned_unclaimed")],
    },
    {
      id: "knowledge", title: "Help centre: answered and helpful", csv: "knowledge", rows: kb,
      chart: { labels: kb.map((r) => bucketLabel(r.start)), datasets: [
        line("Answer rate (%)", kb.map((r) => pct(r.answer_rate)), COLORS.blue), line("\"Did this help\" yes (%)", kb.map((r) => pct(r.helpful_rate)), COLORS.green),
      ], scales: { y: { min: 0, max: 100 } } },
      columns: [startColumn, linked("Answered", "answered", "answered"), linked("Unsure", "clarified", "clarified"),
        linked("No answer", "unanswered", "unanswered"), plainColumn("Answer rate", share, "answer_rate"),
        plainColumn("Rated", count, "rated"), linked("Helped", "helpful", "helpful"), plainColumn("Helpful rate", share, "helpful_rate")],
    },
    {
      id: "intents", title: "Top intents and their fallback rate", csv: "intents", rows: intents || [], missing: intents === null,
      chart: { labels: (intents || []).map((r) => r.intent), horizontal: true, datasets: [
        bars("Messages", (intents || []).map((r) => r.messages), COLORS.blue), bars("Fallbacks", (intents || []).map((r) => r.fallbacks), COLORS.orange),
      ] },
      columns: [{ title: "Intent", cell: (row) => row.intent }, linked("Messages", "messages", "intent", (row) => row.intent),
        linked("Fallbacks", "fallbacks", "fallback", (row) => row.intent), plainColumn("Fallback rate", share, "fallback_rate")],
    },
    {
      id: "frustration", title: "Frustration: who reached the threshold, and what happened next", csv: "frustration", rows: frustration,
      chart: { labels: frustration.map((r) => bucketLabel(r.start)), stacked: true, datasets: [
        bars("Handed to a person", frustration.map((r) => r.handed_off), COLORS.blue, { yAxisID: "y" }),
        bars("Offline ticket", frustration.map((r) => r.offline_tickets), COLORS.purple, { yAxisID: "y" }),
        bars("Stayed with the assistant", frustration.map((r) => r.stayed_with_bot), COLORS.grey, { yAxisID: "y" }),
        line("Share of conversations (%)", frustration.map((r) => pct(r.share)), COLORS.red, { yAxisID: "rate", stack: "share" }),
      ], scales: { rate: rateAxis } },
      columns: [startColumn, linked("Reached", "reached", "frustrated"), plainColumn("Share", share, "share"),
        linked("Handed off", "handed_off", "frustrated_handed_off"), plainColumn("Resolved by a person", count, "resolved_by_person"),
        plainColumn("Abandoned", count, "abandoned"), linked("Offline ticket", "offline_tickets", "frustrated_ticket"),
        linked("Stayed with the assistant", "stayed_with_bot", "frustrated_stayed_with_bot")],
    },
  ];
}

function drawChart(canvas, spec) {
  const scales = {
    x: { stacked: !!spec.stacked, ticks: { maxRotation: 0, autoSkip: true } },
    y: { stacked: !!spec.stacked, beginAtZero: true },
  };
  for (const [name, scale] of Object.entries(spec.scales || {})) scales[name] = { ...(scales[name] || {}), ...scale };
  if (spec.horizontal) {
    scales.x = { beginAtZero: true };
    scales.y = { ticks: { autoSkip: false } };
  }
  return new Chart(canvas, {
    data: { labels: spec.labels, datasets: spec.datasets },
    options: {
      animation: false,  // the numbers are the point; redrawing on every period change should be instant
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: spec.horizontal ? "y" : "x",
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales,
    },
  });
}

function render(data) {
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  $("no-tracker").hidden = !!data.tracker_store;
  const container = $("charts");
  container.replaceChildren();
  for (const spec of chartSpecs(data)) {
    const canvas = el("canvas", { role: "img", "aria-label": `${spec.title}: chart; the table below has the numbers` });
    const section = el("section", { class: "panel chart-panel", id: `chart-${spec.id}`, "data-chart": spec.id, "aria-labelledby": `title-${spec.id}` },
      el("div", { class: "chart-head" }, el("h2", { id: `title-${spec.id}` }, spec.title), csvLink(spec.csv)),
      spec.note ? el("p", { class: "hint" }, spec.note) : null,
      spec.missing ? el("p", { class: "muted" }, "Needs the SQL conversation store.")
        : spec.noChart ? null : el("div", { class: "chart-box" }, canvas),
      spec.rows.length ? table(spec.title, spec.columns, spec.rows) : el("p", { class: "muted" }, "Nothing in this period."));
    container.appendChild(section);
    if (!spec.missing && !spec.noChart) state.charts.push(drawChart(canvas, spec.chart));
  }
  container.setAttribute("aria-busy", "false");
  container.dataset.loaded = String(state.loadSeq);
}

// --- the period ----------------------------------------------------------------------------------

function periodFromForm() {
  return { since: $("p-since").value, until: $("p-until").value, channel: $("p-channel").value, bucket: $("p-bucket").value };
}

function fillForm(period) {
  $("p-since").value = period.since || "";
  $("p-until").value = period.until || "";
  $("p-channel").value = period.channel || "";
  $("p-bucket").value = period.bucket === "week" ? "week" : "day";
  const days = period.since && period.until ? Math.round((Date.parse(period.until) - Date.parse(period.since)) / DAY_MS) + 1 : 30;
  const today = isoDay(new Date());
  const preset = period.until === today && ["7", "30", "90", "365"].includes(String(days)) ? String(days) : "custom";
  $("p-preset").value = preset;
}

function applyPreset() {
  const preset = $("p-preset").value;
  if (preset === "custom") return;
  const until = new Date();
  const since = new Date(until.getTime() - (Number(preset) - 1) * DAY_MS);
  $("p-until").value = isoDay(until);
  $("p-since").value = isoDay(since);
  showPeriod();
}

function showPeriod() {
  if (!$("period-form").reportValidity()) return;
  window.location.hash = `#/dashboard?${periodQuery(periodFromForm())}`;
}

async function loadDashboard(params) {
  show("dashboard-view", "dashboard");
  const period = Object.fromEntries(PERIOD_KEYS.map((name) => [name, params.get(name) || ""]));
  const seq = ++state.loadSeq;
  $("charts").setAttribute("aria-busy", "true");
  try {
    const data = await api("GET", `/api/insights?${periodQuery(period)}`);
    if (seq !== state.loadSeq) return;  // the lead has asked for another period meanwhile
    const shown = asObject(data.period);
    // the server's period (its defaults filled in): the last day is the day before `until`, which is excluded
    state.period = { since: day(shown.since), until: isoDay(new Date(Date.parse(shown.until) - DAY_MS)),
                     channel: shown.channel || "", bucket: shown.bucket || "day" };
    fillForm(state.period);
    render(data);
  } catch (error) {
    failed(error);
  }
}

// --- the conversations behind a figure, and one of them ------------------------------------------------

async function loadConversations(params) {
  show("conversations-view", "dashboard");
  const period = Object.fromEntries(PERIOD_KEYS.map((name) => [name, params.get(name) || ""]));
  state.period = period;
  $("conversations-back").href = `#/dashboard?${periodQuery(period)}`;
  const figure = params.get("figure") || "";
  const where = [figure.replace(/_/g, " ")];
  if (params.get("key")) where.push(params.get("key"));
  where.push(params.get("bucket_start") ? bucketLabel(params.get("bucket_start")) : `${period.since || "…"} to ${period.until || "…"}`);
  if (period.channel) where.push(period.channel);
  $("conversations-title").textContent = `Conversations: ${where.join(" · ")}`;
  $("conversations-list").replaceChildren();
  $("conversations-meta").textContent = "";
  try {
    const data = await api("GET", `/api/insights/conversations?${params}`);
    const rows = asArray(data.conversations);
    $("conversations-meta").textContent = data.available === false
      ? "This figure needs the SQL conversation store."
      : `${rows.length} conversation${rows.length === 1 ? "" : "s"}${rows.length >= data.limit ? ` (the first ${data.limit})` : ""}`;
    $("conversations-empty").hidden = rows.length > 0;
    const back = new URLSearchParams(params);
    $("conversations-list").replaceChildren(...rows.map((row) => {
      const anchor = el("a", { class: "conversation-link" }, row.conversation_id);
      anchor.href = `#/conversation/${encodeURIComponent(row.conversation_id)}?${back}`;
      return el("li", {}, anchor, " ", el("span", { class: "badge" }, row.channel));
    }));
    $("conversations-title").focus();
  } catch (error) {
    failed(error);
  }
}

async function loadTranscript(conversationId, params) {
  show("transcript-view", "dashboard");
  $("transcript-title").textContent = `Conversation ${conversationId}`;
  $("transcript-back").href = params.get("figure") ? `#/conversations?${params}` : `#/dashboard?${periodQuery()}`;
  $("transcript-lines").replaceChildren();
  try {
    const data = await api("GET", `/api/insights/transcript?${new URLSearchParams({ conversation_id: conversationId })}`);
    const lines = asArray(data.lines);
    $("transcript-truncated").hidden = !data.truncated;
    $("transcript-empty").hidden = lines.length > 0;
    const who = { customer: "Customer", bot: "Assistant", agent: "Agent" };
    $("transcript-lines").replaceChildren(...lines.map((row) => el("li", { class: `line ${row.who === "customer" ? "customer" : "team"}` },
      el("p", { class: "meta muted" }, `${row.agent ? `${who.agent} ${row.agent}` : who[row.who] || row.who} · ${formatTime(row.at)}`),
      el("p", { class: "text" }, row.text))));
    $("transcript-title").focus();
  } catch (error) {
    failed(error);
  }
}

// --- routing and sign-in ------------------------------------------------------------------------------

function show(viewId, navKey) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== viewId;
  for (const a of document.querySelectorAll(".top nav a[data-view]")) {
    if (a.dataset.view === navKey) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  if (!state.me) return;
  const hash = window.location.hash.replace(/^#\/?/, "");
  const cut = hash.indexOf("?");
  const path = cut < 0 ? hash : hash.slice(0, cut);
  const params = new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1));
  const parts = path.split("/");
  if (parts[0] === "conversations") loadConversations(params);
  else if (parts[0] === "conversation" && parts[1]) {
    let id = parts.slice(1).join("/");
    try { id = decodeURIComponent(id); } catch (error) { /* shown as it is */ }
    loadTranscript(id, params);
  } else loadDashboard(params);
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    showSignInNeeded("Your session has ended. Sign in again.");
    return;
  }
  if (error instanceof ApiError && error.status === 403) {
    showLeadsOnly();
    return;
  }
  alertText(error.message || String(error));
}

function showSignInNeeded(message) {
  state.me = null;
  $("top").hidden = true;
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  $("leads-only").hidden = true;
  $("signin-needed").hidden = false;
  $("signin-error").textContent = message || "";
}

function showLeadsOnly() {
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  $("leads-only").hidden = false;
}

async function signOut() {
  try {
    await api("POST", "/api/auth/logout", {});
  } catch (error) {
    // signed out either way on this screen
  }
  showSignInNeeded("You are signed out.");
}

function start(me) {
  state.me = me;
  useCsrfToken(me.csrf_token);
  $("signin-needed").hidden = true;
  $("top").hidden = false;
  $("whoami").textContent = `${me.name} (${me.role})`;
  if (me.role !== "lead") {
    showLeadsOnly();
    return;
  }
  route();
}

async function boot() {
  applyBrand("Insights");
  $("sign-out").addEventListener("click", signOut);
  $("period-form").addEventListener("submit", (event) => { event.preventDefault(); $("p-preset").value = "custom"; showPeriod(); });
  $("p-preset").addEventListener("change", applyPreset);
  for (const id of ["p-channel", "p-bucket"]) $(id).addEventListener("change", showPeriod);
  window.addEventListener("hashchange", route);
  try {
    start(await api("GET", "/api/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignInNeeded("");
    else alertText(error.message || String(error));
  }
}

boot();
