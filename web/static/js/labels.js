// The business's words for the API's codes: stages, callback tasks, outcomes, satisfaction.
import { localDate, msg, t } from "./i18n.js";

export const OUTCOMES = ["effective", "no_answer", "busy", "wrong_person", "refused",
  "call_later", "failed"];
export const AREAS = ["quality", "crew", "supervisor", "designer"];
export const SATISFACTION = ["satisfied", "neutral", "unsatisfied"];
export const MILESTONES = ["contract_date", "start_date", "concealed_works_date", "midterm_date",
  "completion_date"];
export const MILESTONE_STAGE = { start_date: "start", concealed_works_date: "concealed_works",
  midterm_date: "midterm", completion_date: "completion" };
export const OPEN_TASK = new Set(["pending", "in_progress"]);

/** A message reference naming a callback task: 开工回访, 回访 第3月 … */
export function taskMessage(task) {
  if (task.stage === "post_completion") return msg("task.post_completion", { n: task.month });
  if (task.stage === "complaint") return msg("task.complaint", { n: task.complaint_id });
  return msg(`task.${task.stage}`);
}

export function taskText(task) {
  const m = taskMessage(task);
  return t(m.$t, m.args);
}

/** The task the agent most likely calls about: an open one that is due (the earliest), else
 * the next open one, else the last one. */
export function likelyTask(tasks, today = new Date()) {
  const day = localDate(today);
  const open = tasks.filter((task) => OPEN_TASK.has(task.status));
  return open.find((task) => task.due_date <= day) ?? open[0] ?? tasks.at(-1) ?? null;
}
