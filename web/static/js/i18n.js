// Translation: the message catalogues, the current language (the `cc_lang` cookie), text that
// re-translates itself in place when the language changes, and the formats of dates and times.
// The catalogues are JSON (web/static/i18n/<lang>.json), the same files the server renders the
// first paint and the report exports from (web/catalogues.py); placeholders are {name}.
import en from "../i18n/en.json" with { type: "json" };
import zhCN from "../i18n/zh-CN.json" with { type: "json" };

export const LANGUAGES = { "zh-CN": "中文", en: "English" };
const CATALOGUES = { "zh-CN": zhCN, en };
const COOKIE = "cc_lang";
const listeners = new Set();

let current = pick(document.documentElement.lang);

function pick(lang) {
  return lang in CATALOGUES ? lang : "zh-CN";
}

export function language() {
  return current;
}

/** The message for `key` in the current language, with {placeholders} filled in. A parameter
 * may itself be a message: `{ $t: "task.start", args: {...} }`, or a name the configuration
 * gives in each language: `{ $names: { "zh-CN": "客服热线", en: "Service hotline" } }`. */
export function t(key, params) {
  // A code the catalogue does not know yet (a new ring-stop reason …) shows as itself.
  const template = CATALOGUES[current][key] ?? CATALOGUES["zh-CN"][key] ?? key.split(".").at(-1);
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value === undefined || value === null) return "";
    if (typeof value === "object" && value.$t) return t(value.$t, value.args);
    if (typeof value === "object" && value.$names) return value.$names[current] ?? value.$names["zh-CN"];
    return String(value);
  });
}

// The queues' display names in each language (web/queue_names.py, in the page's boot block).
let queueNames = null;

/** A queue as people call it, as a message parameter (it follows language changes): its
 * configured name, else "queue <name>". */
export function queueName(queue) {
  queueNames ??= JSON.parse(document.getElementById("cc-boot")?.textContent || "{}").queues || {};
  const names = queueNames[queue];
  return names ? { $names: names } : msg("queue.other", { name: queue });
}

/** True when the current language (not the fallback) has this key. */
export function has(key) {
  return Object.hasOwn(CATALOGUES[current], key);
}

/** A message reference, for use as a parameter of another message. */
export function msg(key, args) {
  return { $t: key, args };
}

/** Give an element translated text that follows language changes. */
export function setText(el, key, params) {
  el.dataset.i18n = key;
  if (params) el.dataset.i18nArgs = JSON.stringify(params);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, params);
  return el;
}

/** Give an element translated attributes (placeholder, aria-label, title) that follow changes.
 * `attrs` maps an attribute to a key or to [key, params]. */
export function setAttrs(el, attrs) {
  const all = { ...JSON.parse(el.dataset.i18nAttrs || "{}"), ...attrs };
  el.dataset.i18nAttrs = JSON.stringify(all);
  applyAttrs(el, all);
  return el;
}

function applyAttrs(el, attrs) {
  for (const [attr, spec] of Object.entries(attrs)) {
    const [key, params] = Array.isArray(spec) ? spec : [spec, undefined];
    el.setAttribute(attr, t(key, params));
  }
}

/** Translate every marked element under `root`. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const args = el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : undefined;
    el.textContent = t(el.dataset.i18n, args);
  }
  for (const el of root.querySelectorAll("[data-i18n-attrs]")) {
    applyAttrs(el, JSON.parse(el.dataset.i18nAttrs));
  }
}

/** Switch the language everywhere on the page, and remember it in the cookie. */
export function setLanguage(lang) {
  current = pick(lang);
  document.cookie = `${COOKIE}=${current}; path=/; max-age=31536000; samesite=lax`;
  document.documentElement.lang = current;
  translate(document);
  for (const listener of listeners) listener(current);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
}

/** The text to show for an API problem {field, code, message}: our translation of its code,
 * else the API's own (English) message. */
export function problemText(problem) {
  const key = `errors.${problem.code}`;
  if (has(key)) return t(key, problem.params);
  return problem.message || t("errors.generic");
}

// --- formats: numeric, so they read the same in both languages --------------------------

const pad = (n) => String(n).padStart(2, "0");

/** "2026-11-24 10:05" in the browser's time zone, from an ISO timestamp. */
export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "10:05" today, else the date and time. */
export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return dateTime(iso);
}

/** "03:07" or "1:02:07" from seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/** "2026-11-24": a Date's day in the browser's time zone (compares with the API's dates). */
export function localDate(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The value of a date-time field (date-input.js) for a Date: "2026-12-07 10:05". */
export function localInputValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
