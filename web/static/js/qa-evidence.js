// A rule's evidence in the reader's language. The scorer sends each piece as a kind and its
// parameters (crm/quality/scorecard.py, EvidenceKind), never as prose, so the Chinese page
// holds no English; only what happened at a moment of the call has a time: a phrase nobody
// said has none, and shows none.
import { has, msg } from "./i18n.js";
import { spokenText, stamp } from "./qa-labels.js";

/** Every kind the scorer sends (tests/test_browser_qa_evidence.py renders each one). */
export const EVIDENCE_KINDS = ["said", "not_found", "ring_time", "hung_up_first", "silence",
  "silence_after_hold"];

/** A phrase set of a rule: the catalogue's words when it knows the rule's set, else the label
 * of the company's scorecard file. */
function phraseLabel(ruleId, params) {
  const key = params.set ? `qa.phrase.${ruleId}.${params.set}` : null;
  return key && has(key) ? msg(key) : String(params.label ?? "");
}

function seconds(value) {
  return Number(value).toFixed(1);
}

/** The message of a piece of evidence as [key, args]; null when it is what was said (quoted
 * as recognised, in the words' own language). */
export function evidenceMessage(ruleId, item) {
  const p = item.params ?? {};
  switch (item.kind) {
    case "said":
      return null;
    case "not_found": {
      const label = phraseLabel(ruleId, p);
      if (p.first_seconds !== null && p.first_seconds !== undefined) {
        return ["qa.evidence.not_found_first", { label, s: p.first_seconds }];
      }
      if (p.last_seconds !== null && p.last_seconds !== undefined) {
        return ["qa.evidence.not_found_last", { label, s: p.last_seconds }];
      }
      return ["qa.evidence.not_found", { label }];
    }
    case "ring_time":
      return ["qa.evidence.ring", { s: seconds(p.seconds), max: Number(p.limit) }];
    case "hung_up_first":
      return [p.party === "agent" ? "qa.evidence.hung_up_agent" : "qa.evidence.hung_up_customer"];
    case "silence":
      return ["qa.evidence.silence", { s: seconds(p.seconds) }];
    case "silence_after_hold":
      return ["qa.evidence.silence_announced", { s: seconds(p.seconds), said: spokenText(p.said) }];
    default: // a kind from a newer scorer: say there is evidence, not what it is
      return ["qa.evidence.other"];
  }
}

/** The quoted words of a "said" piece. */
export function evidenceWords(item) {
  return spokenText(item.params?.words ?? "");
}

/** The moment to hear, as "01:09.5", or null when the evidence is not of a moment. */
export function evidenceTime(item) {
  return typeof item.start === "number" ? stamp(item.start) : null;
}
