// The words and colours of complaints and repairs: clock states, steps, time left or late by
// (counted against the server's clock, which the API sends as `server_time`), and the text of
// a deadline warning.
import { msg, t } from "./i18n.js";

export const STEPS = ["signed", "verified", "solution", "resolved", "callback"];
export const DEPARTMENT_STEPS = ["signed", "verified", "solution", "resolved"];
export const STATE_KIND = { overdue: "bad", due_soon: "warn", running: "info", done: "good",
  done_late: "warn", waiting: "muted" };
export const STATUS_KIND = { open: "info", resolved: "warn", closed: "good" };
export const REPAIR_STATUS_KIND = { assigned: "info", on_site: "stage", done: "warn",
  closed: "good" };
export const GRANT_STATUS_KIND = { requested: "info", approved: "good", expired: "muted",
  rejected: "bad", revoked: "muted" };
export const SATISFACTION_KIND = { satisfied: "good", neutral: "warn", unsatisfied: "bad" };

const MINUTE = 60 * 1000;

/** "2小时5分", "1天3小时", "12分钟": a span of time, rounded to the minute. */
export function spanMessage(ms) {
  const minutes = Math.max(0, Math.round(Math.abs(ms) / MINUTE));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days) return msg("tickets.span.dh", { d: days, h: hours });
  if (hours) return msg("tickets.span.hm", { h: hours, m: minutes % 60 });
  return msg("tickets.span.m", { m: minutes });
}

/** "剩余 2小时5分" or "已超时 1小时" from a deadline and the server's now (ISO strings). */
export function untilMessage(dueAt, serverTime) {
  const left = Date.parse(dueAt) - Date.parse(serverTime);
  return msg(left >= 0 ? "tickets.left" : "tickets.late", { span: spanMessage(left) });
}

/** The clock to show in a list: the most urgent one, else the next one still running. */
export function shownClock(complaint) {
  if (complaint.status === "closed") return null;
  const step = complaint.urgent?.step;
  return complaint.clocks.find((c) => c.step === step)
    ?? complaint.clocks.find((c) => !c.done_at && c.due_at) ?? null;
}

/** The next department step not yet recorded, or null. */
export function nextStep(complaint) {
  if (complaint.status !== "open") return null;
  const clock = complaint.clocks.find((c) => DEPARTMENT_STEPS.includes(c.step) && !c.done_at);
  return clock ? clock.step : null;
}

/** A message reference for a deadline warning pushed over the websocket. */
export function deadlineMessage(message) {
  const who = { customer: message.customer || "—", owner: message.owner || "—" };
  if (message.kind === "repair") {
    return msg(`deadline.repair.${message.state}`, { id: message.id, ...who });
  }
  return msg(`deadline.complaint.${message.state}`, {
    id: message.id, step: msg(`complaint.step.${message.step}`), ...who });
}

/** Where a deadline warning leads. */
export function deadlineHref(message) {
  return message.kind === "repair" ? `/complaints?tab=repairs&repair=${message.id}`
    : `/complaints?open=${message.id}`;
}

export function text(reference) {
  return t(reference.$t, reference.args);
}
