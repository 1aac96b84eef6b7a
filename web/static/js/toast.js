// Short notices in the corner: confirmations (polite) and failures (assertive).
import { h } from "./dom.js";

const QUIET_MS = 5000;
const ERROR_MS = 9000;

function region() {
  let el = document.getElementById("toasts");
  if (!el) {
    el = h("div", { id: "toasts", class: "toasts" });
    document.body.append(el);
  }
  return el;
}

/** toast("cb.saved", {…}) or toast(null, null, {text}); kind: "ok" | "error" | "info" |
 * "warn". `href` makes the text a link; `sticky` keeps it until it is closed. */
export function toast(key, params, { kind = "ok", text, href, sticky = false } = {}) {
  const message = h("div", {
    class: ["toast", `toast-${kind}`],
    role: kind === "error" ? "alert" : "status",
  });
  const content = text !== undefined ? { text } : { i18n: params ? [key, params] : key };
  const body = href ? h("a", { ...content, href, class: "toast-link" }) : h("span", content);
  const close = h("button", {
    type: "button", class: "icon-button", text: "×",
    i18nAttrs: { "aria-label": "toast.close" },
    onclick: () => message.remove(),
  });
  message.append(body, close);
  region().append(message);
  if (!sticky) setTimeout(() => message.remove(), kind === "error" ? ERROR_MS : QUIET_MS);
  return message;
}

export function toastError(text) {
  return toast(null, null, { kind: "error", text });
}
