// Deadline warnings ("deadline" websocket messages) as notices that stay until closed, on
// every page with a live channel: each links to the complaint or repair. A warning replayed
// from before this page was loaded is shown only if this browser has not shown it already.
import { deadlineHref, deadlineMessage } from "./complaint-labels.js";
import { toast } from "./toast.js";

const STORE = "cc_deadlines_seen";
const KEEP = 200;
const MAX_ON_SCREEN = 5;
const shown = new Set(); // on this page (two sockets on one page would otherwise show twice)

function seen() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "[]");
  } catch {
    return [];
  }
}

function remember(key) {
  try {
    localStorage.setItem(STORE, JSON.stringify([...seen().filter((k) => k !== key), key]
      .slice(-KEEP)));
  } catch {
    // private mode or full: the page's own memory still stops repeats here
  }
}

/** Show a warning; `replayed` for messages from the server's backlog. */
export function showDeadline(message, { replayed = false } = {}) {
  const key = [message.kind, message.id, message.step, message.state, message.due_at].join(":");
  if (shown.has(key) || (replayed && seen().includes(key))) return null;
  shown.add(key);
  remember(key);
  const reference = deadlineMessage(message);
  const notice = toast(reference.$t, reference.args, {
    kind: message.state === "overdue" ? "error" : "warn", href: deadlineHref(message),
    sticky: true });
  notice.classList.add("toast-deadline");
  Object.assign(notice.dataset, { kind: message.kind, id: message.id, state: message.state });
  const all = document.querySelectorAll(".toast-deadline");
  for (const old of [...all].slice(0, Math.max(0, all.length - MAX_ON_SCREEN))) old.remove();
  window.dispatchEvent(new CustomEvent("cc:deadline", { detail: message }));
  return notice;
}
