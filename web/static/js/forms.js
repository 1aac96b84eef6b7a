// Form building blocks and validation display: each API problem goes next to the input its
// `field` names (`phones[0]`, `satisfaction.quality`, `call_back_at` …); problems with no
// matching input are shown at the top of the form.
import { ApiError } from "./api.js";
import { h, uid } from "./dom.js";
import { onLanguageChange, problemText, setText, t } from "./i18n.js";

/** A labelled input with its error slot: <div class="field" data-field=name>. */
export function field({ name, label, labelParams, input, hint, className }) {
  const id = input.id || uid("f");
  input.id = id;
  if (!input.name && name) input.name = name;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  input.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h("div", { class: ["field", className], dataset: { field: name } },
    h("label", { for: id, i18n: labelParams ? [label, labelParams] : label }),
    input,
    hint && h("p", { class: "hint", id: hintId, i18n: hint }),
    h("p", { class: "field-error", id: errorId }));
}

/** A group of radio buttons in a fieldset (keyboard: arrows move within the group). */
export function radioGroup({ name, legend, legendParams, options, value, className, hint }) {
  const errorId = uid("e");
  const hintId = hint ? uid("h") : null;
  const set = h("fieldset", {
    class: ["field", "radios", className], dataset: { field: name },
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
  }, h("legend", { i18n: legendParams ? [legend, legendParams] : legend }));
  const row = h("div", { class: "radio-row" });
  for (const option of options) {
    const id = uid("r");
    // The input inside its label, laid over it: a click anywhere on the toggle, on the words
    // or beside them, lands on the input or its label and chooses the option.
    row.append(h("span", { class: ["radio", option.className] },
      h("label", { for: id },
        h("input", { type: "radio", id, name, value: option.value,
                     checked: option.value === value }),
        h("span", { class: "radio-text", i18n: option.label }))));
  }
  set.append(row);
  if (hint) set.append(h("p", { class: "hint", id: hintId, i18n: hint }));
  set.append(h("p", { class: "field-error", id: errorId }));
  return set;
}

/** The form-level message area (problems without a field of their own). */
export function formError() {
  return h("div", { class: "form-error", role: "alert", dataset: { formError: "" }, hidden: true });
}

// Forms showing an API error, with what they show: said again in a new language, since a
// problem's words are the catalogue's, not the page's text that re-translates itself.
const showing = new Map();
onLanguageChange(() => {
  for (const [form, shown] of [...showing]) { // a copy: showing again re-adds the form
    if (form.isConnected) showErrors(form, shown.error, { ...shown.options, focus: false });
    else showing.delete(form);
  }
});

export function clearErrors(form) {
  showing.delete(form);
  for (const el of form.querySelectorAll(".has-error")) el.classList.remove("has-error");
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const top = form.querySelector("[data-form-error]");
  if (top) {
    top.replaceChildren();
    top.hidden = true;
  }
}

/** The field container for an API field name, trying shorter names (`phones[2]` → `phones`,
 * `satisfaction.crew` → `satisfaction`) when there is no exact match. */
export function fieldFor(form, name) {
  let candidate = name;
  while (candidate) {
    const found = form.querySelector(`[data-field="${CSS.escape(candidate)}"]`);
    if (found) return found;
    const cut = Math.max(candidate.lastIndexOf("."), candidate.lastIndexOf("["));
    candidate = cut > 0 ? candidate.slice(0, cut) : "";
  }
  return null;
}

function problemsOf(error) {
  if (error instanceof ApiError) return error.problems;
  return [{ field: null, code: "error", message: String(error?.message || error) }];
}

/** Show an error from the API on a form. `rename` maps an API field to a form field (or
 * returns it unchanged). Returns the number of problems shown. */
export function showErrors(form, error, { rename = (f) => f, focus = true } = {}) {
  clearErrors(form);
  showing.set(form, { error, options: { rename } });
  const problems = problemsOf(error);
  const loose = new Set();
  const said = new Map(); // slot → the messages in it: each said once, however often sent
  let first = null;
  for (const problem of problems) {
    const name = problem.field ? rename(problem.field) : null;
    const container = name ? fieldFor(form, name) : null;
    if (!container) {
      loose.add(problemText(problem));
      continue;
    }
    container.classList.add("has-error");
    const slot = container.querySelector(":scope > .field-error")
      ?? container.querySelector(".field-error");
    const messages = said.get(slot) ?? new Set();
    messages.add(problemText(problem));
    said.set(slot, messages);
    slot.textContent = [...messages].join("；");
    const inputs = container.matches("input, select, textarea")
      ? [container] : [...container.querySelectorAll("input, select, textarea")];
    for (const input of inputs) input.setAttribute("aria-invalid", "true");
    first ??= inputs.find((i) => !i.disabled && i.type !== "hidden") ?? null;
  }
  const top = form.querySelector("[data-form-error]");
  if (top && (loose.size || first)) {
    top.hidden = false;
    if (loose.size) {
      for (const text of loose) top.append(h("p", { text }));
    } else {
      top.append(setText(h("p"), "form.error_summary"));
    }
  }
  if (focus) first?.focus();
  return problems.length;
}

/** Run `action` with the form marked busy (submit disabled, aria-busy); errors are shown on
 * the form. Returns the action's result, or undefined when it failed. */
export async function submitting(form, action, options) {
  const buttons = [...form.querySelectorAll("button[type=submit]")];
  form.setAttribute("aria-busy", "true");
  for (const b of buttons) b.disabled = true;
  try {
    const result = await action();
    clearErrors(form);
    return result;
  } catch (error) {
    showErrors(form, error, options);
    return undefined;
  } finally {
    form.removeAttribute("aria-busy");
    for (const b of buttons) b.disabled = false;
  }
}

/** The text of a problem list, for a toast. */
export function errorMessage(error) {
  return problemsOf(error).map(problemText).join("；") || t("errors.generic");
}

/**
 * Redraw `root` with `draw()`, keeping what the user typed or chose in its forms: a refresh
 * (a timer, a pushed change) must never take half-written text away. A field is carried over
 * when the user changed it and the redrawn page has a form of the same `data-action` (or id)
 * with a field of the same name; so is the focus.
 */
export function redrawKeeping(root, draw) {
  const typed = new Map();
  let focused = null;
  for (const [at, el] of namedFields(root)) {
    if (el === document.activeElement) focused = at;
    if (isChoice(el) ? el.checked !== el.defaultChecked : changedValue(el)) {
      typed.set(at, isChoice(el) ? el.checked : el.value);
    }
  }
  draw();
  for (const [at, el] of namedFields(root)) {
    if (typed.has(at)) {
      if (isChoice(el)) el.checked = typed.get(at);
      else el.value = typed.get(at);
    }
    if (at === focused) el.focus({ preventScroll: true });
  }
}

/** Each named field of the forms under `root` that say which they are (`data-action` or
 * id), with a key that finds the same field in the same form once redrawn. */
function* namedFields(root) {
  for (const form of root.querySelectorAll("form")) {
    const key = form.dataset.action || form.id;
    if (!key) continue;
    for (const el of form.elements) {
      if (el.name) yield [`${key}\u0000${el.name}\u0000${isChoice(el) ? el.value : ""}`, el];
    }
  }
}

function isChoice(el) {
  return el.type === "radio" || el.type === "checkbox";
}

function changedValue(el) {
  if (el.tagName === "SELECT") return [...el.options].some((o) => o.selected !== o.defaultSelected);
  return "defaultValue" in el && el.value !== el.defaultValue;
}
