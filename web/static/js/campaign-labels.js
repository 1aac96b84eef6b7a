// The campaigns' words and choices: the selection's stages, grades and project statuses, what
// each status allows (the API's transitions), the defaults of a new campaign, and the stage of
// a progress row or an attempt in the reader's language.
import { msg } from "./i18n.js";

export const STAGES = ["start", "concealed_works", "midterm", "completion", "post_completion",
  "complaint"];
export const GRADES = ["A", "B", "C"];
// Cancelled projects are never dialed, so they are not offered.
export const PROJECT_STATUSES = ["signed", "in_progress", "completed"];
export const MODES = ["agent_first", "customer_first"];
export const STATUS_KIND = { draft: "muted", running: "good", paused: "warn", stopped: "bad" };

/** The buttons a campaign shows in each status (crm/campaigns/service.py TRANSITIONS). */
export const ACTIONS = {
  draft: ["start", "stop"],
  running: ["pause", "stop"],
  paused: ["start", "stop"],
  stopped: [],
};

/** A new campaign's values (web/campaigns.py CampaignIn). */
export const DEFAULTS = {
  name: "", mode: "agent_first", stages: [], grades: [], project_statuses: [], due_from: null,
  due_to: null, agent_ids: [], queue: null, calling_hours: null, max_concurrent: 2,
  pacing_ratio: 1.0, busy_retry_minutes: 10, no_answer_retry_minutes: 120,
  failed_retry_minutes: 30, max_attempts_per_day: 3, max_attempts_total: 6,
  redial_guard_minutes: 5,
};

/** The progress counters, in the order of the table and the chart. */
export const COUNTERS = ["due", "dialing", "reached", "effective", "satisfied", "unsatisfied",
  "unreachable"];

export const OUTCOME_KIND = { effective: "good", refused: "bad", wrong_person: "warn",
  call_later: "info", busy: "warn", no_answer: "muted", congestion: "muted", failed: "muted" };
export const SATISFACTION_KIND = { satisfied: "good", neutral: "warn", unsatisfied: "bad" };

/** A message reference for a stage: 中期回访, 完工后第3月回访 (an attempt knows its month). */
export function stageMessage(stage, month = 0) {
  if (stage === "post_completion" && month) return msg("campaigns.stage_month", { n: month });
  return msg(`campaigns.stage.${stage}`);
}

/** i18n attrs for an element naming a stage. */
export function stageText(stage, month = 0) {
  const m = stageMessage(stage, month);
  return { i18n: m.args ? [m.$t, m.args] : m.$t };
}
