// QA feedback pushed over the live channel ("qa_feedback" messages, web/qa_feedback.py) as
// notices on every page with a socket: the agent learns a reviewer commented on their call or
// answered their dispute, the reviewer that the agent acknowledged or disputed. Each links to
// the call; the page hears of it too (the `cc:qa-feedback` event) to refresh what it shows.
import { toast } from "./toast.js";

const shown = new Set(); // two sockets on one page would otherwise show it twice

/** Show a feedback notice; one replayed from the server's backlog only refreshes the page. */
export function showQaFeedback(message, { replayed = false } = {}) {
  const key = [message.feedback_id, message.status].join(":");
  window.dispatchEvent(new CustomEvent("cc:qa-feedback", { detail: message }));
  if (shown.has(key) || replayed) return null;
  shown.add(key);
  const notice = toast(`qa.push.${message.status}`, { by: message.by, call: message.call_id }, {
    kind: message.status === "disputed" ? "warn" : "info",
    href: `/qa#call=${message.call_id}`, sticky: true });
  notice.classList.add("toast-qa-feedback");
  Object.assign(notice.dataset, { callId: message.call_id, status: message.status });
  return notice;
}
