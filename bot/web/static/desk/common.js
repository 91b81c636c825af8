/*
 * What the desk's pages share (the queue and console in desk.js, the knowledge workspace in knowledge.js):
 * building the page safely and talking to the desk's JSON API.
 *
 * Everything that comes from the server is put on the page as text (text nodes), never parsed as HTML;
 * links are only made from http(s) URLs. The session lives in an HttpOnly cookie the scripts cannot
 * read; every request that changes something is sent as JSON with the session's CSRF token, which is
 * what the server asks of cookie-authenticated calls.
 */

const $ = (id) => document.getElementById(id);

// --- building the page safely --------------------------------------------------------

/** An element with attributes and children; strings become text nodes, so markup in data stays text. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "href" || name === "src" || name.startsWith("on")) throw new Error(`set ${name} through link()`);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  appendAll(node, children);
  return node;
}

function appendAll(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendAll(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** An http(s) URL as an absolute string, or null (javascript:, data: and friends are never links). */
function safeUrl(raw) {
  if (typeof raw !== "string" || !raw.trim()) return null;
  try {
    const url = new URL(raw, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (error) {
    return null;
  }
}

function link(raw, text) {
  const href = safeUrl(raw);
  const label = text || (typeof raw === "string" ? raw : "");
  if (!href) return el("span", {}, label);
  const anchor = el("a", { rel: "noopener noreferrer", target: "_blank" }, label);
  anchor.href = href;
  return anchor;
}

/**
 * Re-render a live list without losing the keyboard focus: a queue that updates while someone
 * tabs through it must not throw them back to the top of the page.
 */
function keepingFocus(container, attribute, render) {
  const focused = container.contains(document.activeElement) ? document.activeElement : null;
  const holder = focused ? focused.closest(`[${attribute}]`) : null;
  const key = holder ? holder.getAttribute(attribute) : null;
  const tag = focused ? focused.tagName : null;
  render(container);
  if (key === null) return;
  const again = container.querySelector(`[${attribute}="${CSS.escape(key)}"]`);
  const target = again && (again.tagName === tag ? again : again.querySelector(tag.toLowerCase()));
  if (target) target.focus();
}

const asArray = (value) => (Array.isArray(value) ? value : []);
const asObject = (value) => (value && typeof value === "object" && !Array.isArray(value) ? value : {});
const present = (value) => value !== null && value !== undefined && value !== "";

function plain(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  try {
    return JSON.stringify(value);
  } catch (error) {
    return String(value);
  }
}

/** Any JSON value as nested lists, for packet keys this desk does not know yet. */
function renderValue(value, depth = 0) {
  if (value === null || value === undefined || value === "") return el("span", { class: "muted" }, "—");
  if (typeof value !== "object") return el("span", {}, plain(value));
  if (depth > 4) return el("span", {}, plain(value));
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { class: "muted" }, "none");
    return el("ul", {}, value.map((item) => el("li", {}, renderValue(item, depth + 1))));
  }
  const entries = Object.entries(value);
  if (!entries.length) return el("span", { class: "muted" }, "none");
  return el("dl", {}, entries.map(([key, item]) => [el("dt", {}, humanKey(key)), el("dd", {}, renderValue(item, depth + 1))]));
}

const humanKey = (key) => String(key).replace(/_/g, " ");

function toDate(value) {
  if (typeof value === "number") return new Date(value < 1e12 ? value * 1000 : value);  // Rasa stamps seconds
  if (typeof value === "string" && value) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

function formatTime(value) {
  const date = toDate(value);
  if (!date) return typeof value === "string" ? value : "";
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const percent = (share) => `${Math.round(share * 100)}%`;

// --- talking to the server -----------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data || {};
  }
}

let csrfToken = "";

/** The session's CSRF token (from sign-in or /api/me): sent with every request that changes something. */
function useCsrfToken(token) {
  csrfToken = typeof token === "string" ? token : "";
}

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRF-Token"] = csrfToken;
    options.body = JSON.stringify(body || {});
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new ApiError(0, "The desk server cannot be reached. Check the connection and try again.");
  }
  let data = {};
  if ((response.headers.get("content-type") || "").includes("application/json")) {
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
  }
  if (!response.ok) throw new ApiError(response.status, data.error || `The server answered ${response.status}.`, data);
  return data;
}

let statusTimer = null;
function say(text) {
  $("status").textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { $("status").textContent = ""; }, 6000);
}

// --- the company's brand (company.yml, GET /api/brand) -----------------------------------

/**
 * Put the company's name and logo on the page: the header's `.brand` and the document title become
 * "<name> desk" (the desk) or "<name> · <page>" (the leads' pages). The colour comes from /brand.css.
 * Returns the brand document, or null when it could not be read (the page keeps its neutral words).
 */
async function applyBrand(page) {
  let brand;
  try {
    const response = await fetch("/api/brand", { credentials: "omit" });
    if (!response.ok) return null;
    brand = asObject(await response.json());
  } catch (error) {
    return null;
  }
  const name = typeof brand.short_name === "string" ? brand.short_name.trim() : "";
  if (!name) return null;
  const label = page ? `${name} · ${page}` : `${name} desk`;
  for (const node of document.querySelectorAll(".top .brand")) {
    node.textContent = label;
    if (brand.logo_url) {
      const image = el("img", { class: "brand-logo", alt: "", width: "24", height: "24" });
      // from this page's own origin (the CSP's img-src 'self'): logo_url is absolute for the widget on other sites,
      // and names the address the web app is published at, which need not be the one this page came from
      image.src = "/brand/logo";
      node.prepend(image);
    }
  }
  document.title = label;
  return { ...brand, label };
}

let alertTimer = null;
function alertText(text) {
  $("alert").textContent = text;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => { $("alert").textContent = ""; }, 9000);
}

export {
  $,
  el,
  appendAll,
  safeUrl,
  link,
  keepingFocus,
  asArray,
  asObject,
  present,
  plain,
  renderValue,
  humanKey,
  toDate,
  formatTime,
  formatDuration,
  percent,
  ApiError,
  useCsrfToken,
  api,
  say,
  alertText,
  applyBrand,
};
