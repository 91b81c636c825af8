/*
 * The leads' knowledge workspace: help articles (edit, lint, publish, history), content gaps, article quality
 * and "Try it", over the desk's JSON API (/api/kb). Agents get the same pages read-only.
 *
 * As on the desk, everything from the server - article text above all, which anyone with write access to
 * the files could have written - goes on the page as text nodes (common.js `el`), never parsed as HTML;
 * the article body is edited in CodeMirror (bundled from npm, ../vendor/editor.js), which shows text as text.
 */
import {
  $, el, link, asArray, asObject, present, formatTime, percent, ApiError, useCsrfToken, api, say, alertText, applyBrand,
} from "../common.js";
import { createEditor } from "../vendor/editor.js";

const LINT_DELAY_MS = 700;
const LIVE_POLL_MS = 5000;
const PUBLISH_POLL_MS = 300;
const PUBLISH_WAIT_MS = 30000;

const state = {
  me: null,
  lead: false,
  body: null,            // the CodeMirror editor of the article body
  editing: null,         // {id (null: new), etag, gapId, bodyLine, status, opened}
  lintTimer: null,
  lintSeq: 0,
  revisions: [],
  revision: null,        // the revision shown in the history panel
  gap: null,
  quality: [],
  qualitySort: { key: "shown", descending: true },
  liveTimer: null,
};

const enc = encodeURIComponent;

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    showSignInNeeded("Your session has ended. Sign in again.");
    return;
  }
  alertText(error.message || String(error));
}

// --- sign-in (on the desk; this page uses the same session) ------------------------------------

function showSignInNeeded(message) {
  state.me = null;
  clearInterval(state.liveTimer);
  $("top").hidden = true;
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  $("signin-needed").hidden = false;
  $("signin-error").textContent = message || "";
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
  state.lead = me.role === "lead";
  useCsrfToken(me.csrf_token);
  document.body.classList.toggle("read-only", !state.lead);
  for (const node of document.querySelectorAll(".lead-only")) node.hidden = !state.lead;
  $("read-only-note").hidden = state.lead;
  $("signin-needed").hidden = true;
  $("top").hidden = false;
  $("whoami").textContent = `${me.name} (${me.role})`;
  checkLive();
  state.liveTimer = setInterval(checkLive, LIVE_POLL_MS);
  route();
}

// --- routing ------------------------------------------------------------------------------------

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
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (e) { return p; } });
  if (parts[0] === "articles" && parts[1]) openArticle(parts[1]);
  else if (parts[0] === "new") openNew(params.get("gap"));
  else if (parts[0] === "gaps" && parts[1]) openGap(parts[1]);
  else if (parts[0] === "gaps") loadGaps();
  else if (parts[0] === "quality") loadQuality();
  else if (parts[0] === "try") showTry();
  else loadArticles();
}

// --- the article list ---------------------------------------------------------------------------

/** The filters changed: refresh the list, unless the lead has moved on to another page meanwhile. */
function refreshArticles() {
  if (!$("articles-view").hidden) loadArticles();
}

async function loadArticles() {
  show("articles-view", "articles");
  const query = new URLSearchParams();
  if ($("f-q").value.trim()) query.set("q", $("f-q").value.trim());
  for (const [id, name] of [["f-category", "category"], ["f-status", "status"], ["f-tag", "tag"]]) {
    if ($(id).value) query.set(name, $(id).value);
  }
  if ($("f-attention").checked) query.set("attention", "true");
  try {
    const data = await api("GET", `/api/kb/articles?${query}`);
    fillOptions($("f-category"), asArray(data.categories));
    fillOptions($("f-tag"), asArray(data.tags));
    $("category-list").replaceChildren(...asArray(data.categories).map((c) => el("option", { value: c })));
    renderArticles(asArray(data.articles));
  } catch (error) {
    failed(error);
  }
}

function fillOptions(select, values) {
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "All"), ...values.map((v) => el("option", { value: v }, v)));
  select.value = values.includes(chosen) ? chosen : "";
}

function statusBadge(status) {
  return el("span", { class: `badge ${["published", "draft", "unreadable"].includes(status) ? status : ""}` }, status);
}

function renderArticles(rows) {
  $("articles-count").textContent = `(${rows.length})`;
  $("articles-empty").hidden = rows.length > 0;
  $("articles-rows").replaceChildren(...rows.map((row) => {
    const title = el("a", { "data-article": row.id }, row.title || row.id);
    title.href = `#/articles/${enc(row.id)}`;
    const findings = [];
    if (row.errors) findings.push(`${row.errors} error${row.errors === 1 ? "" : "s"}`);
    if (row.warnings) findings.push(`${row.warnings} warning${row.warnings === 1 ? "" : "s"}`);
    return el("tr", {},
      el("td", {}, title, el("div", { class: "hint" }, row.path)),
      el("td", {}, row.category),
      el("td", {}, statusBadge(row.status)),
      el("td", {}, asArray(row.tags).join(", ")),
      el("td", {}, row.attention.length ? el("ul", { class: "attention" }, row.attention.map((a) => el("li", {}, a))) : "",
        findings.length ? el("div", { class: "hint" }, findings.join(", ")) : ""),
      el("td", {}, row.last_editor ? `${row.last_editor}, ${formatTime(row.last_edited_at)}` : (row.updated || "")));
  }));
}

// --- the editor ---------------------------------------------------------------------------------

function ensureEditor() {
  if (state.body) return;
  state.body = createEditor($("body-editor"), { onChange: lintSoon, label: "Article text (Markdown)" });
}

function questionsInputs() {
  return Array.from($("questions-list").querySelectorAll("input"));
}

function addQuestionRow(text) {
  const input = el("input", { type: "text", maxlength: "300", "aria-label": "A customer's question" });
  input.value = text || "";
  input.disabled = !state.lead;
  input.addEventListener("input", lintSoon);
  const remove = el("button", { type: "button", class: "secondary lead-only", "aria-label": "Remove this question",
    onclick: () => { item.remove(); lintSoon(); } }, "Remove");
  remove.hidden = !state.lead;
  const item = el("li", {}, input, remove);
  $("questions-list").appendChild(item);
  return input;
}

/** The article as on screen, in the API's shape. */
function fieldsOnScreen() {
  return {
    id: $("a-id").value.trim(),
    title: $("a-title").value.trim(),
    category: $("a-category").value.trim(),
    tags: $("a-tags").value.split(",").map((t) => t.trim()).filter(Boolean),
    status: $("a-status").value,
    url: $("a-url").value.trim(),
    body: state.body.get(),
    questions: questionsInputs().map((i) => i.value.trim()).filter(Boolean),
  };
}

function fillForm(article) {
  $("a-id").value = article.id || "";
  $("a-title").value = article.title || "";
  $("a-category").value = article.category || "";
  $("a-tags").value = asArray(article.tags).join(", ");
  $("a-url").value = article.url || "";
  $("a-status").value = article.status === "published" ? "published" : "draft";
  $("questions-list").replaceChildren();
  for (const q of asArray(article.questions)) addQuestionRow(q);
  state.body.set(article.body || "");
  for (const id of ["a-title", "a-category", "a-tags", "a-url", "a-status"]) $(id).disabled = !state.lead;
  $("a-id").disabled = !state.lead || state.editing.id !== null;
  state.body.setReadOnly(!state.lead);
}

function resetEditorPanels() {
  $("conflict").hidden = true;
  $("refusal").hidden = true;
  $("delete-confirm").hidden = true;
  $("publish-state").textContent = "";
  $("publish-state").dataset.state = "";
  $("preview-cards").replaceChildren();
  $("preview-empty").hidden = false;
  $("revision-detail").hidden = true;
}

async function openArticle(articleId) {
  show("editor-view", "articles");
  ensureEditor();
  resetEditorPanels();
  try {
    const view = await api("GET", `/api/kb/articles/${enc(articleId)}`);
    showArticle(view);
    await loadHistory(view.id);
    $("editor-title").focus();
  } catch (error) {
    if (error.status === 404) {
      $("editor-title").textContent = "No such article";
      $("editor-meta").textContent = error.message;
      state.editing = null;
      await loadHistory(articleId);  // a deleted article can be brought back from its history
    } else failed(error);
  }
}

function showArticle(view) {
  const article = view.article;
  state.editing = { id: view.id, etag: view.etag, gapId: null, bodyLine: view.body_line, status: article ? article.status : null };
  $("editor-title").textContent = article ? article.title : view.id;
  $("editor-meta").textContent = `${view.path}${article ? ` · ${article.status}` : " · cannot be read as an article"}`;
  if (article) fillForm(article);
  else {
    fillForm({ id: view.id, body: view.text });
    state.body.setReadOnly(true);
  }
  showProblems(asArray(view.problems), view.body_line);
  updateButtons();
}

async function openNew(gapId) {
  show("editor-view", "articles");
  ensureEditor();
  resetEditorPanels();
  state.editing = { id: null, etag: null, gapId: gapId ? Number(gapId) : null, bodyLine: 1, status: null };
  $("editor-title").textContent = "New article";
  $("editor-meta").textContent = gapId ? "Started from a content gap: its questions are filled in below." : "";
  $("revisions").replaceChildren(el("li", { class: "muted" }, "Saved revisions appear here."));
  let article = { status: "draft", questions: [] };
  if (gapId) {
    try {
      article = (await api("GET", `/api/kb/gaps/${enc(gapId)}/draft`)).article;
    } catch (error) {
      failed(error);
    }
  }
  fillForm(article);
  showProblems([], 1);
  updateButtons();
  $("a-title").focus();
}

function updateButtons() {
  const editing = state.editing;
  const exists = editing && editing.id !== null;
  $("save-button").textContent = exists ? "Save" : "Create";
  $("publish-button").hidden = !state.lead || (exists && editing.status === "published");
  $("unpublish-button").hidden = !state.lead || !exists || editing.status !== "published";
  $("delete-button").hidden = !state.lead || !exists;
  $("history-panel").hidden = !exists && !(editing === null);
}

function showProblems(problems, bodyLine) {
  const line = (p) => (bodyLine && p.line >= bodyLine ? `text line ${p.line - bodyLine + 1}` : `front matter line ${p.line}`);
  $("problems-count").textContent = problems.length ? `(${problems.length})` : "";
  $("problems-none").hidden = problems.length > 0;
  $("problems-list").replaceChildren(...problems.map((p) =>
    el("li", { class: p.severity === "error" ? "error" : "warning" }, `${p.severity}: ${p.message} (${line(p)})`)));
  if (state.body) {
    state.body.showProblems(problems.filter((p) => bodyLine && p.line >= bodyLine)
      .map((p) => ({ ...p, line: p.line - bodyLine + 1 })));
  }
}

function lintSoon() {
  if (!state.lead || !state.editing) return;
  clearTimeout(state.lintTimer);
  state.lintTimer = setTimeout(lintNow, LINT_DELAY_MS);
}

async function lintNow() {
  const seq = ++state.lintSeq;
  const article = fieldsOnScreen();
  if (!article.id || !article.title) return;
  try {
    const data = await api("POST", "/api/kb/check", { article, article_id: state.editing.id });
    if (seq === state.lintSeq) {
      state.editing.bodyLine = data.body_line;
      showProblems(asArray(data.problems), data.body_line);
    }
  } catch (error) {
    if (error.status === 422 || error.status === 400) return;  // a field is still being typed; the save says why
    failed(error);
  }
}

function showRefusal(error) {
  const problems = asArray(error.data && error.data.problems);
  $("refusal").replaceChildren(el("p", {}, el("strong", {}, "Not saved: "), error.message));
  $("refusal").hidden = false;
  if (problems.length) showProblems(problems, state.editing.bodyLine);
  $("refusal").scrollIntoView({ block: "nearest" });
}

function showConflict(error, retry) {
  const box = $("conflict");
  const theirs = el("pre", { hidden: true });
  box.replaceChildren(
    el("p", {}, el("strong", {}, "Conflict: "), error.message),
    el("p", {}, "Your edits are still on this page. Compare, then choose."),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary", onclick: async () => {
        try {
          const view = await api("GET", `/api/kb/articles/${enc(state.editing.id)}`);
          theirs.textContent = view.text;
          theirs.hidden = false;
        } catch (e) {
          theirs.textContent = e.status === 404 ? "The article was deleted." : e.message;
          theirs.hidden = false;
        }
      } }, "Show the current version"),
      el("button", { type: "button", onclick: () => { box.hidden = true; retry(error.data.current_etag); } },
        "Save mine over it"),
      el("button", { type: "button", class: "secondary", onclick: () => openArticle(state.editing.id) },
        "Discard mine, open the current version")),
    theirs);
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

/** Run a change; a 409 shows the conflict (retry with the current version only when the lead says so). */
async function change(run, describe) {
  state.pressedAt = performance.now();  // "live N s after publishing" counts from the lead's click
  $("refusal").hidden = true;
  $("conflict").hidden = true;
  try {
    const result = await run(state.editing.etag);
    await afterChange(result, describe);
  } catch (error) {
    if (error.status === 409 && state.editing.id !== null) {
      showConflict(error, async (etag) => {
        try {
          await afterChange(await run(etag), describe);
        } catch (again) {
          if (again.status === 409) showConflict(again, () => {});
          else if (again.status === 400 || again.status === 422) showRefusal(again);
          else failed(again);
        }
      });
    } else if (error.status === 400 || error.status === 422 || error.status === 409) showRefusal(error);
    else failed(error);
  }
}

async function afterChange(result, describe) {
  say(describe);
  if (result.recheck) showRecheckNote(result.recheck);
  if (!result.article) {  // deleted
    window.location.hash = "#/articles";
    return;
  }
  const wasNew = state.editing.id === null;
  showArticle(result.article);
  if (asArray(result.problems).length) showProblems(asArray(result.problems), result.article.body_line);
  await loadHistory(result.article.id);
  if (wasNew) history.replaceState(null, "", `#/articles/${enc(result.article.id)}`);
  if (result.publication) waitUntilLive(result.publication);
  else $("publish-state").textContent = result.recheck ? $("publish-state").textContent : "Saved.";
}

function showRecheckNote(recheck) {
  $("publish-state").textContent = recheckText(recheck);
}

function recheckText(recheck) {
  return `The content gap's ${recheck.questions} question${recheck.questions === 1 ? "" : "s"}, run again: ` +
    `${recheck.answered} would now be answered, ${recheck.clarified} offered a choice, ${recheck.unanswered} not answered.`;
}

async function save(event) {
  if (event) event.preventDefault();
  if (!state.lead) return;
  const article = fieldsOnScreen();
  if (state.editing.id === null) {
    const body = { article };
    if (state.editing.gapId) body.gap_id = state.editing.gapId;
    await change(() => api("POST", "/api/kb/articles", body), `Created "${article.title}".`);
  } else {
    await change((etag) => api("PUT", `/api/kb/articles/${enc(state.editing.id)}`, { article, etag }), `Saved "${article.title}".`);
  }
}

async function publish() {
  $("a-status").value = "published";
  await save();
}

async function unpublish() {
  await change((etag) => api("POST", `/api/kb/articles/${enc(state.editing.id)}/unpublish`, { etag }),
    "Unpublished: customers are no longer answered from it.");
}

function askDelete() {
  $("delete-question").textContent = `Delete "${$("a-title").value}"? Its file is removed; its text stays in the history.`;
  $("delete-confirm").hidden = false;
  $("delete-no").focus();
}

async function confirmDelete() {
  $("delete-confirm").hidden = true;
  await change((etag) => api("POST", `/api/kb/articles/${enc(state.editing.id)}/delete`, { etag }), "Deleted.");
}

/** After a publish: poll until the running assistant answers from the new index, and say so. */
async function waitUntilLive(publication) {
  const box = $("publish-state");
  const started = state.pressedAt || performance.now();
  box.dataset.state = "waiting";
  box.textContent = "Published. Waiting for the assistant to answer from this version…";
  const waitFrom = performance.now();
  while (performance.now() - waitFrom < PUBLISH_WAIT_MS) {
    try {
      const live = await api("GET", "/api/kb/live");
      if (live.live && live.serving_version === publication.index_version) {
        box.dataset.state = "live";
        box.textContent = `Live: the assistant answers from this version (${((performance.now() - started) / 1000).toFixed(1)} s after publishing).`;
        renderLive(live);
        return;
      }
      if (live.serving_version === null && live.index_version === publication.index_version) {
        box.dataset.state = "waiting";
        box.textContent = "Published. The assistant did not say which version it answers from (is it running?).";
      }
    } catch (error) {
      // keep waiting; the top bar says when the server cannot be reached
    }
    await new Promise((resolve) => setTimeout(resolve, PUBLISH_POLL_MS));
  }
  box.dataset.state = "waiting";
  box.textContent = "Published, but the assistant has not picked it up yet. It will on its next search; check the top bar.";
}

async function checkLive() {
  try {
    renderLive(await api("GET", "/api/kb/live"));
  } catch (error) {
    if (error.status === 401) showSignInNeeded("Your session has ended. Sign in again.");
  }
}

function renderLive(live) {
  const badge = $("kb-live");
  if (live.live) {
    badge.dataset.state = "on";
    badge.textContent = "Assistant up to date";
  } else if (live.serving_version === null) {
    badge.dataset.state = "off";
    badge.textContent = "Assistant not answering";
  } else {
    badge.dataset.state = "stale";
    badge.textContent = "Assistant on an older version";
  }
  badge.title = `index ${live.index_version || "none"}; assistant ${live.serving_version || "unknown"}`;
}

// --- preview: each passage drawn as the widget draws a help-centre answer ----------------------------

// The widget's inline formatting (widget/src/widget.js `inline`): [label](url), **bold**, bare URLs; nothing else.
const INLINE = /\[([^\]\n]{1,300})\]\(([^()\s]{1,2048})\)|\*\*([^*\n]{1,500})\*\*|((?:https?:\/\/|mailto:)[^\s<>"']+)/gi;

/** An absolute http(s) or mailto URL, or null - the widget's rule (relative links are not links there). */
function widgetUrl(raw) {
  if (typeof raw !== "string" || !/^(https?:\/\/|mailto:)/i.test(raw.trim())) return null;
  try {
    const url = new URL(raw.trim());
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch (error) {
    return null;
  }
}

function inline(parent, text, allowBold) {
  let at = 0;
  for (const m of Array.from(text.matchAll(INLINE))) {
    if (m.index > at) parent.appendChild(document.createTextNode(text.slice(at, m.index)));
    at = m.index + m[0].length;
    if (m[1] !== undefined) {
      const url = widgetUrl(m[2]);
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
      const trail = raw.match(/[.,;:!?)\]]+$/);
      if (trail) {
        raw = raw.slice(0, -trail[0].length);
        at -= trail[0].length;
      }
      const url = widgetUrl(raw);
      parent.appendChild(url ? link(url, raw) : document.createTextNode(raw));
    }
  }
  if (at < text.length) parent.appendChild(document.createTextNode(text.slice(at)));
}

function rich(text) {
  const box = el("div", { class: "text" });
  String(text || "").split(/\r?\n/).forEach((line, i) => {
    if (i) box.appendChild(el("br"));
    inline(box, line, true);
  });
  return box;
}

function widgetCard(kb, text) {
  const url = widgetUrl(kb.url);
  const title = typeof kb.title === "string" && kb.title ? kb.title : "the article";
  return el("div", { class: "card" },
    el("p", { class: "card-label" }, "From our help centre"),
    rich(typeof kb.passage === "string" && kb.passage ? kb.passage : text),
    el("p", { class: "source" }, url ? link(url, title) : title),
    el("p", { class: "ask" }, "Did this help?"));
}

async function preview() {
  try {
    const data = await api("POST", "/api/kb/preview", { article: fieldsOnScreen() });
    const cards = asArray(data.cards);
    $("preview-empty").hidden = cards.length > 0;
    $("preview-cards").replaceChildren(...cards.map((card) =>
      el("li", {}, el("p", { class: "section" }, card.section ? `Section: ${card.section}` : "Introduction"),
        el("div", { class: "msg bot has-card" }, widgetCard(asObject(asObject(card.custom).kb), card.text)))));
  } catch (error) {
    if (error.status === 400 || error.status === 422) showRefusal(error);
    else failed(error);
  }
}

// --- history ------------------------------------------------------------------------------------

async function loadHistory(articleId) {
  $("history-panel").hidden = false;
  try {
    const data = await api("GET", `/api/kb/articles/${enc(articleId)}/history`);
    state.revisions = asArray(data.revisions);
    state.historyOf = articleId;
    $("revisions").replaceChildren(...(state.revisions.length ? state.revisions.map((r) =>
      el("li", {}, el("button", { type: "button", "data-revision": r.id, "aria-pressed": "false", onclick: () => showRevision(r.id) },
        `${formatTime(r.at)} · ${r.editor} · ${r.action}${r.detail ? ` · ${r.detail}` : ""}`)))
      : [el("li", { class: "muted" }, "No revisions yet.")]));
  } catch (error) {
    failed(error);
  }
}

async function showRevision(revisionId) {
  try {
    const data = await api("GET", `/api/kb/revisions/${enc(revisionId)}`);
    state.revision = data.revision;
    for (const b of $("revisions").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.revision === String(revisionId)));
    $("revision-title").textContent = `${data.revision.action} by ${data.revision.editor}, ${formatTime(data.revision.at)}`;
    $("revision-diff").replaceChildren(...String(data.diff || "(no change in the text)").split("\n").map((line) => {
      const kind = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del"
        : line.startsWith("@@") ? "hunk" : "";
      return el("span", { class: kind || null }, `${line}\n`);
    }));
    $("revert-button").hidden = !state.lead || data.text === null;
    $("revision-detail").hidden = false;
  } catch (error) {
    failed(error);
  }
}

async function revert() {
  const revision = state.revision;
  if (!revision) return;
  const articleId = state.historyOf;
  if (!state.editing || state.editing.id === null) {  // a deleted article: nothing on screen to conflict with
    state.editing = { id: articleId, etag: null, gapId: null, bodyLine: 1, status: null };
  }
  await change((etag) => api("POST", `/api/kb/articles/${enc(articleId)}/revert`, { revision_id: revision.id, etag }),
    `Reverted to the revision of ${formatTime(revision.at)}.`);
}

// --- content gaps -------------------------------------------------------------------------------

const gapQuery = () => {
  const query = new URLSearchParams({ days: $("g-days").value });
  if ($("g-channel").value) query.set("channel", $("g-channel").value);
  return query;
};

async function loadGaps() {
  show("gaps-view", "gaps");
  const query = gapQuery();
  if ($("g-dismissed").checked) query.set("dismissed", "true");
  try {
    const clusters = asArray((await api("GET", `/api/kb/gaps?${query}`)).clusters);
    $("gaps-empty").hidden = clusters.length > 0;
    $("gaps-list").replaceChildren(...clusters.map(gapCard));
  } catch (error) {
    failed(error);
  }
}

function describeCounts(counts) {
  return Object.entries(asObject(counts)).map(([k, n]) => `${k} ${n}`).join(", ");
}

function gapCard(c) {
  const open = el("a", { "data-gap": c.id }, `“${asArray(c.examples)[0] || "…"}”`);
  open.href = `#/gaps/${c.id}`;
  const rising = c.questions > c.previous;
  return el("li", { class: "card gap-card" },
    el("h2", {}, open),
    el("p", { class: "figures-line" },
      el("span", {}, `${c.questions} question${c.questions === 1 ? "" : "s"}`),
      el("span", {}, `${c.conversations} conversation${c.conversations === 1 ? "" : "s"}`),
      el("span", { class: rising ? "trend-rising" : null }, `trend: ${c.trend} (${c.previous} the period before)`),
      el("span", {}, `channels: ${describeCounts(c.channels)}`),
      el("span", {}, `kinds: ${describeCounts(c.kinds)}`),
      c.handed_off ? el("span", {}, `${c.handed_off} handed to a person`) : null,
      el("span", {}, `last asked ${formatTime(c.last_asked)}`)),
    c.fixed_article ? el("p", { class: "hint" }, `Fixed with ${c.fixed_article} ${formatTime(c.fixed_at)}; asked ${c.asked_since_fix} time(s) since.`) : null,
    c.dismissed ? el("p", { class: "hint" }, "Dismissed as out of scope.") : null,
    el("ul", { class: "examples" }, asArray(c.examples).map((e) => el("li", {}, e))));
}

async function openGap(clusterId) {
  show("gap-view", "gaps");
  $("gap-recheck").textContent = "";
  $("gap-new-article").hidden = true;  // until this gap is loaded: its link must carry this gap's id
  $("wordings").replaceChildren();
  $("suggestions").replaceChildren();
  try {
    const detail = await api("GET", `/api/kb/gaps/${enc(clusterId)}?days=365`);
    state.gap = { id: Number(clusterId), detail };
    const c = detail.cluster;
    $("gap-title").textContent = c ? `Content gap: “${asArray(c.examples)[0] || ""}”` : `Content gap ${clusterId}`;
    $("gap-meta").textContent = c ? `${c.questions} questions in ${c.conversations} conversations · trend ${c.trend} · ` +
      `channels ${describeCounts(c.channels)}${c.dismissed ? " · dismissed" : ""}` : "";
    $("gap-dismiss").textContent = c && c.dismissed ? "Bring back (not out of scope)" : "Dismiss as out of scope";
    $("gap-new-article").href = `#/new?gap=${enc(clusterId)}`;
    $("gap-new-article").hidden = !state.lead;
    const wordings = asArray(detail.wordings);
    $("wordings-empty").hidden = wordings.length > 0;
    $("wordings").replaceChildren(...wordings.map((w, i) => {
      const box = el("input", { type: "checkbox", id: `wording-${i}`, checked: true, disabled: !state.lead });
      box.dataset.wording = w;
      return el("li", {}, box, el("label", { for: `wording-${i}` }, w));
    }));
    $("suggestions").replaceChildren(...asArray(detail.suggestions).map((s) => {
      const open = el("a", {}, s.title);
      open.href = `#/articles/${enc(s.article_id)}`;
      const add = el("button", { type: "button", class: "secondary", "data-add-to": s.article_id,
        onclick: () => addWordings(s.article_id, s.title) }, "Add the chosen wordings");
      add.hidden = !state.lead || !wordings.length;
      return el("li", {}, open, ` (closeness ${s.score.toFixed(2)}) `, add);
    }));
    $("gap-questions").replaceChildren(...asArray(detail.questions).map((q) =>
      el("li", {}, el("div", {}, q.text), el("div", { class: "meta" }, `${q.kind} · ${q.channel} · ${formatTime(q.at)}`))));
    $("gap-title").focus();
  } catch (error) {
    failed(error);
  }
}

async function addWordings(articleId, title) {
  const chosen = Array.from($("wordings").querySelectorAll("input:checked")).map((b) => b.dataset.wording);
  if (!chosen.length) {
    alertText("Choose at least one wording.");
    return;
  }
  try {
    const view = await api("GET", `/api/kb/articles/${enc(articleId)}`);
    const result = await api("POST", `/api/kb/gaps/${state.gap.id}/questions`, { article_id: articleId, questions: chosen, etag: view.etag });
    $("gap-recheck").textContent = `Added ${chosen.length} question${chosen.length === 1 ? "" : "s"} to “${title}”. ${recheckText(result.recheck)}`;
    say(`Added to ${title}.`);
  } catch (error) {
    if (error.status === 409) alertText(`${error.message} Open the article, then try again.`);
    else failed(error);
  }
}

async function recheckGap() {
  try {
    const result = await api("POST", `/api/kb/gaps/${state.gap.id}/recheck`, {});
    $("gap-recheck").textContent = recheckText(result);
  } catch (error) {
    failed(error);
  }
}

async function dismissGap() {
  const dismissed = !(state.gap.detail.cluster && state.gap.detail.cluster.dismissed);
  try {
    await api("POST", `/api/kb/gaps/${state.gap.id}/dismiss`, { dismissed });
    say(dismissed ? "Dismissed as out of scope." : "Brought back.");
    window.location.hash = "#/gaps";
  } catch (error) {
    failed(error);
  }
}

// --- article quality ----------------------------------------------------------------------------

async function loadQuality() {
  show("quality-view", "quality");
  const query = new URLSearchParams({ days: $("q-days").value });
  if ($("q-channel").value) query.set("channel", $("q-channel").value);
  try {
    state.quality = asArray((await api("GET", `/api/kb/quality?${query}`)).articles);
    renderQuality();
  } catch (error) {
    failed(error);
  }
}

function sortValue(row, key) {
  if (key === "title") return (row.title || row.article_id).toLowerCase();
  if (key === "flagged") return row.flagged ? 1 : 0;
  const value = row[key];
  return value === null || value === undefined ? -1 : value;
}

function renderQuality() {
  const { key, descending } = state.qualitySort;
  const rows = [...state.quality].sort((a, b) => {
    const x = sortValue(a, key);
    const y = sortValue(b, key);
    return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
  });
  for (const th of $("quality-table").querySelectorAll("th")) {
    const button = th.querySelector("button");
    th.setAttribute("aria-sort", button.dataset.sort === key ? (descending ? "descending" : "ascending") : "none");
  }
  $("quality-empty").hidden = rows.length > 0;
  $("quality-rows").replaceChildren(...rows.map((r) => {
    const open = el("a", {}, r.title || r.article_id);
    open.href = `#/articles/${enc(r.article_id)}`;
    return el("tr", { class: r.flagged ? "flagged" : null, "data-article": r.article_id },
      el("td", {}, open, r.status ? el("span", { class: "hint" }, ` ${r.status}`) : el("span", { class: "hint" }, " (no longer a file)")),
      el("td", { class: "number" }, String(r.shown)),
      el("td", { class: "number" }, String(r.helpful)),
      el("td", { class: "number" }, String(r.not_helpful)),
      el("td", { class: "number" }, present(r.helpful_share) ? percent(r.helpful_share) : "—"),
      el("td", { class: "number" }, `${r.handoffs_after}${present(r.handoff_share) ? ` (${percent(r.handoff_share)})` : ""}`),
      el("td", {}, r.flagged ? el("strong", {}, `Flagged: ${r.why}`) : ""));
  }));
}

function sortQuality(event) {
  const button = event.target.closest("button[data-sort]");
  if (!button) return;
  const key = button.dataset.sort;
  state.qualitySort = { key, descending: state.qualitySort.key === key ? !state.qualitySort.descending : key !== "title" };
  renderQuality();
}

// --- Try it -------------------------------------------------------------------------------------

function showTry() {
  show("try-view", "try");
  $("try-question").focus();
}

async function tryIt(event) {
  event.preventDefault();
  const question = $("try-question").value.trim();
  if (!question) return;
  try {
    const data = await api("POST", "/api/kb/try", { question, k: 5 });
    const decision = asObject(data.decision);
    const words = { answer: "Answer", clarify: "Offer a choice of articles", no_answer: "No answer (says so, offers a person)" };
    $("try-result").replaceChildren(
      el("p", { class: "try-decision" }, el("strong", {}, `${words[decision.action] || decision.action}`), ` — ${decision.reason}`),
      el("p", { class: "hint" }, `index ${data.index_version}`),
      el("table", { class: "grid try-hits" },
        el("thead", {}, el("tr", {}, ["#", "Article", "Section", "Score", "Dense", "Lexical", "Passage"].map((h) =>
          el("th", { scope: "col", class: ["Score", "Dense", "Lexical"].includes(h) ? "number" : null }, h)))),
        el("tbody", {}, asArray(data.hits).map((h, i) => {
          const open = el("a", {}, h.title);
          open.href = `#/articles/${enc(h.article_id)}`;
          return el("tr", { "data-article": h.article_id },
            el("td", {}, String(i + 1)), el("td", {}, open), el("td", {}, h.section || "—"),
            el("td", { class: "number" }, h.score.toFixed(3)), el("td", { class: "number" }, h.dense.toFixed(3)),
            el("td", { class: "number" }, h.lexical.toFixed(3)), el("td", { class: "passage" }, h.passage));
        }))));
  } catch (error) {
    failed(error);
  }
}

// --- wiring -------------------------------------------------------------------------------------

function wire() {
  $("sign-out").addEventListener("click", signOut);
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); refreshArticles(); });
  let searchTimer = null;
  $("f-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(refreshArticles, 250); });
  for (const id of ["f-category", "f-status", "f-tag", "f-attention"]) $(id).addEventListener("change", refreshArticles);
  $("article-form").addEventListener("submit", save);
  for (const id of ["a-title", "a-category", "a-tags", "a-url", "a-id"]) $(id).addEventListener("input", lintSoon);
  $("a-status").addEventListener("change", lintSoon);
  $("add-question").addEventListener("click", () => addQuestionRow("").focus());
  $("publish-button").addEventListener("click", publish);
  $("unpublish-button").addEventListener("click", unpublish);
  $("preview-button").addEventListener("click", preview);
  $("delete-button").addEventListener("click", askDelete);
  $("delete-yes").addEventListener("click", confirmDelete);
  $("delete-no").addEventListener("click", () => { $("delete-confirm").hidden = true; $("delete-button").focus(); });
  $("revert-button").addEventListener("click", revert);
  for (const id of ["g-days", "g-channel", "g-dismissed"]) $(id).addEventListener("change", loadGaps);
  $("gap-recheck-button").addEventListener("click", recheckGap);
  $("gap-dismiss").addEventListener("click", dismissGap);
  for (const id of ["q-days", "q-channel"]) $(id).addEventListener("change", loadQuality);
  $("quality-table").querySelector("thead").addEventListener("click", sortQuality);
  $("try-form").addEventListener("submit", tryIt);
  window.addEventListener("hashchange", route);
}

async function boot() {
  wire();
  applyBrand("Knowledge workspace");
  try {
    start(await api("GET", "/api/me"));
  } catch (error) {
    showSignInNeeded(error.status === 401 ? "" : error.message);
  }
}

boot();
