// Building elements without innerHTML: text always goes in as text nodes, so nothing from the
// API can become markup. `i18n` and `i18nAttrs` give translated text that follows the language.
import { setAttrs, setText } from "./i18n.js";

const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden", "open",
  "multiple", "indeterminate"]);

/**
 * h("button", { class: "primary", onclick: fn, i18n: "cb.submit" }, child, "text", …)
 * - `i18n`: a key or [key, params]; `i18nAttrs`: { placeholder: key | [key, params] }
 * - `dataset`: data-* values; `on…`: event listeners; `text`: plain text content
 * - false/null/undefined attributes and children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "i18n") Array.isArray(value) ? setText(el, ...value) : setText(el, value);
    else if (name === "i18nAttrs") setAttrs(el, value);
    else if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append children: nodes, strings (as text), arrays of either; skips null/false. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A translated text span. */
export function tx(key, params, attrs = {}) {
  return h("span", { ...attrs, i18n: params ? [key, params] : key });
}

let ids = 0;
/** A unique element id, for label/aria wiring. */
export function uid(prefix = "cc") {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** The grade badge: A/B/C, coloured, with an accessible label. */
export function gradeBadge(grade, size = "") {
  return h("span", {
    class: ["grade", `grade-${grade}`, size && `grade-${size}`],
    i18nAttrs: { "aria-label": ["customer.grade", { g: grade }],
                 title: ["customer.grade", { g: grade }] },
    role: "img",
    text: grade,
  });
}

/** A small coloured label. */
export function chip(kind, key, params) {
  return h("span", { class: ["chip", kind && `chip-${kind}`], i18n: params ? [key, params] : key });
}

/** Read the JSON the template put in <script type="application/json" id="cc-boot">. */
export function bootData() {
  const el = document.getElementById("cc-boot");
  return el ? JSON.parse(el.textContent) : {};
}
