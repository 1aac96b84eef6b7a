// The QA words: the scorecard's rules by id, verdicts, transcription states, how much a score
// lost (the rules' evidence: qa-evidence.js).
import { has, t } from "./i18n.js";

/** The default scorecard's rules, in its order (crm/quality/default_rules.toml). A company's
 * own rules show with the title from its file. */
export const RULE_IDS = ["answer_within_3_rings", "greeting", "offer_help", "polite_words",
  "forbidden_phrases", "long_hold", "interruption", "closing", "customer_hangs_up_first",
  "satisfaction_question"];
export const JOB_KIND = { queued: "info", running: "info", failed: "bad", done: "muted" };

/** The catalogue key of a rule's title, or null when the catalogue does not know the rule. */
export function ruleKey(id) {
  const key = `qa.rule.${id}`;
  return has(key) ? key : null;
}

/** A rule's title: ours, else the scorecard file's, else its id. */
export function ruleTitle(id, fileTitle) {
  const key = ruleKey(id);
  return key ? t(key) : fileTitle || id;
}

/** i18n attrs for an element naming a rule: a key when we know the rule, else plain text. */
export function ruleText(id, fileTitle) {
  const key = ruleKey(id);
  return key ? { i18n: key } : { text: fileTitle || id };
}

export function verdictKey(passed) {
  return passed === true ? "qa.verdict.pass" : passed === false ? "qa.verdict.fail"
    : "qa.verdict.null";
}

export function verdictKind(passed) {
  return passed === true ? "good" : passed === false ? "bad" : "muted";
}

/** The colour of a score by the points it lost: none, a little, a lot. */
export function scoreKind(score, max) {
  if (score === null || score === undefined || !max) return "none";
  const lost = max - score;
  return lost <= 0 ? "good" : lost <= 2 ? "warn" : "bad";
}

/** "01:09.5": a moment in a recording. */
export function stamp(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${String(m).padStart(2, "0")}:${rest.toFixed(1).padStart(4, "0")}`;
}

/** A mobile number as people write it (138 0013 8000); anything else unchanged. */
export function phoneText(number) {
  const digits = String(number || "");
  return /^1\d{10}$/.test(digits)
    ? `${digits.slice(0, 3)} ${digits.slice(3, 7)} ${digits.slice(7)}` : digits;
}

/** What was said, as Chinese is written: the recogniser's spaces between characters go. */
export function spokenText(text) {
  return String(text ?? "").replace(/(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])/gu, "");
}
