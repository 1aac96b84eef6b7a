// The scorecard of a call: the score before and after review, then each rule with its points,
// the automatic verdict and, beside it, the reviewed one (who, when, why), its evidence (click:
// hear that moment) and, for QA reviewers and supervisors, confirm / override with a reason.
import { api } from "./api.js";
import { append, chip, h, replace, uid } from "./dom.js";
import { errorMessage, field, formError, radioGroup, submitting } from "./forms.js";
import { dateTime } from "./i18n.js";
import { evidenceMessage, evidenceTime, evidenceWords } from "./qa-evidence.js";
import { ruleText, ruleTitle, scoreKind, verdictKey, verdictKind } from "./qa-labels.js";
import { toast, toastError } from "./toast.js";

const VERDICT_VALUE = { true: true, false: false, null: null };

function verdictChip(passed, attrs = {}) {
  return h("span", { ...attrs, class: ["chip", `chip-${verdictKind(passed)}`, "qa-verdict-chip"],
                     i18n: verdictKey(passed) });
}

function scoreBox(kind, label, score, max, extra) {
  return h("div", { class: ["qa-score-box", `qa-score-${scoreKind(score, max)}`],
                    dataset: { kind } },
    h("span", { class: "qa-score-label", i18n: label }),
    h("span", { class: "qa-score-value mono" },
      h("strong", { text: score }), h("span", { class: "qa-score-max", text: ` / ${max}` })),
    extra);
}

export class Scorecard {
  /** options: callId, canReview; onSeek(evidence) plays that moment; onReviewed(detail). */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.detail = null;
  }

  render(detail) {
    this.detail = detail;
    const scored = detail.score;
    const heading = h("h2", { id: "qa-scorecard-heading", i18n: "qa.scorecard" });
    if (!scored) {
      replace(this.root, heading, this.unscored(detail.job));
      return;
    }
    const reviewed = scored.rules.filter((rule) => rule.review).length;
    const failed = scored.rules.filter((rule) => rule.final_passed === false).length;
    const delta = scored.score - scored.automatic_score;
    // The scores stay in sight (sticky) while the reviewer goes down the rules.
    replace(this.root, h("div", { class: "qa-scorecard-top" },
      h("div", { class: "qa-scorecard-head" }, heading,
        h("span", { class: "muted small", i18n: ["qa.reviewed_count",
                                                 { n: reviewed, total: scored.rules.length }] })),
      h("div", { class: "qa-score-summary", role: "group",
                 i18nAttrs: { "aria-label": "qa.score_summary" } },
        scoreBox("automatic", "qa.auto_score", scored.automatic_score, scored.automatic_max),
        h("span", { class: "qa-score-arrow", "aria-hidden": "true", text: "→" }),
        scoreBox("final", "qa.final_score", scored.score, scored.max,
          delta ? h("span", { class: ["qa-score-delta", delta > 0 ? "is-up" : "is-down"],
                              text: delta > 0 ? `+${delta}` : String(delta) }) : null)),
      h("p", { class: "qa-score-meta muted small" },
        h("span", { i18n: ["qa.failed_count", { n: failed }] }), " · ",
        h("span", { i18n: ["qa.rules_version", { v: scored.rules_version,
                                                 t: dateTime(scored.scored_at) }] }))),
      !this.options.canReview && h("p", { class: "qa-read-only", role: "note", i18n: "qa.read_only" }),
      h("ol", { class: "qa-rules" }, scored.rules.map((rule) => h("li", {}, this.rule(rule)))));
  }

  unscored(job) {
    const status = job?.status ?? "none";
    return h("div", { class: "qa-unscored" },
      h("p", { class: "qa-unscored-title", i18n: "qa.not_scored_yet" }),
      h("p", {}, h("span", { class: "muted", i18n: "qa.job_label" }), " ",
        chip(status === "failed" ? "bad" : "info", `qa.job.${status}`),
        job?.attempts ? [" ", h("span", { class: "muted small",
                                          i18n: ["qa.job.attempts", { n: job.attempts }] })] : null),
      job?.last_error && h("pre", { class: "qa-job-error", text: job.last_error }));
  }

  rule(rule) {
    const changed = rule.review && rule.final_passed !== rule.passed;
    const titleId = uid("rule");
    const article = h("article", {
      class: ["qa-rule", `is-${verdictKind(rule.final_passed)}`, rule.review && "is-reviewed",
              changed && "is-changed"],
      dataset: { ruleId: rule.id, final: String(rule.final_passed),
                 automatic: String(rule.passed) },
      "aria-labelledby": titleId,
    });
    const lost = rule.final_points_lost;
    append(article, [
      h("header", { class: "qa-rule-head" },
        h("h3", { class: "qa-rule-title", id: titleId, tabindex: "-1",
                  ...ruleText(rule.id, rule.title) }),
        h("span", { class: "qa-rule-points mono", i18n: ["qa.points", { n: rule.points }] }),
        lost ? h("span", { class: "qa-rule-lost mono", i18n: ["qa.lost", { n: lost }] }) : null),
      this.verdicts(rule),
      this.evidence(rule)]);
    if (this.options.canReview) article.append(this.actions(rule, article));
    return article;
  }

  verdicts(rule) {
    const review = rule.review;
    const row = h("div", { class: "qa-verdicts" },
      h("span", { class: "qa-verdict", dataset: { kind: "automatic" } },
        h("span", { class: "qa-verdict-label", i18n: "qa.automatic" }),
        verdictChip(rule.passed)));
    if (review) {
      row.append(
        h("span", { class: "qa-verdict-arrow", "aria-hidden": "true", text: "→" }),
        h("span", { class: "qa-verdict", dataset: { kind: "final" } },
          h("span", { class: "qa-verdict-label",
                      i18n: review.decision === "overridden" ? "qa.overridden" : "qa.confirmed" }),
          verdictChip(rule.final_passed)));
    }
    if (!review) return row;
    const who = review.reviewer_name || "—";
    return h("div", { class: "qa-verdict-block" }, row,
      h("p", { class: "qa-review-note" },
        h("span", { i18n: [review.decision === "overridden" ? "qa.review.overridden"
          : "qa.review.confirmed", { who, t: dateTime(review.at) }] }),
        review.reason && h("span", { class: "qa-review-reason" },
          h("span", { class: "muted", i18n: "qa.reason_label" }), " ",
          h("span", { class: "qa-review-reason-text", text: review.reason }))));
  }

  evidence(rule) {
    if (!rule.evidence?.length) return null;
    const title = ruleTitle(rule.id, rule.title);
    return h("ul", { class: "qa-evidence", i18nAttrs: { "aria-label": ["qa.evidence_of", { rule: title }] } },
      rule.evidence.map((item) => {
        const note = evidenceMessage(rule.id, item);
        const text = note ? h("span", { class: "qa-evidence-text", i18n: note })
          : h("q", { class: "qa-evidence-text", text: evidenceWords(item) });
        const leg = item.leg === "agent" || item.leg === "customer"
          ? h("span", { class: ["qa-evidence-leg", `is-${item.leg}`], i18n: `qa.lane.${item.leg}` })
          : null;
        const at = evidenceTime(item);
        if (at === null) {
          return h("li", { class: "qa-evidence-fact", dataset: { kind: item.kind } }, leg, text);
        }
        return h("li", { dataset: { kind: item.kind } }, h("button", {
          type: "button", class: "seek qa-evidence-item",
          dataset: { start: item.start, end: item.end ?? item.start },
          i18nAttrs: { title: ["qa.seek_to", { t: at }] },
          onclick: (event) => {
            for (const el of this.root.querySelectorAll(".qa-evidence-item.is-active")) {
              el.classList.remove("is-active");
            }
            event.currentTarget.classList.add("is-active");
            this.options.onSeek?.(item);
          },
        }, h("span", { class: "qa-evidence-time mono", text: at }), leg, text));
      }));
  }

  actions(rule, article) {
    const title = ruleTitle(rule.id, rule.title);
    const slot = h("div", { class: "qa-override-slot" });
    const confirmed = rule.review?.decision === "confirmed";
    const overrideButton = h("button", {
      type: "button", class: "button-small qa-override-open", i18n: "qa.override",
      "aria-expanded": "false",
      i18nAttrs: { "aria-label": ["qa.override_label", { rule: title }] },
      onclick: () => {
        if (slot.firstChild) {
          this.closeOverride(slot, overrideButton);
        } else {
          replace(slot, this.overrideForm(rule, () => this.closeOverride(slot, overrideButton)));
          overrideButton.setAttribute("aria-expanded", "true");
          slot.querySelector("textarea")?.focus();
        }
      },
    });
    const confirm = h("button", {
      type: "button", class: "button-small qa-confirm", disabled: confirmed,
      i18n: confirmed ? "qa.already_confirmed" : "qa.confirm",
      i18nAttrs: { "aria-label": ["qa.confirm_label", { rule: title }] },
      onclick: async () => {
        confirm.disabled = true;
        try {
          const detail = await api.post(`/api/qa/calls/${this.options.callId}/reviews`,
                                        { rule_id: rule.id, decision: "confirmed" });
          toast("qa.confirmed_toast", { rule: title });
          this.reviewed(detail, rule.id);
        } catch (error) {
          confirm.disabled = false;
          toastError(errorMessage(error));
        }
      },
    });
    article.dataset.canReview = "";
    return h("div", { class: "qa-review" },
      h("div", { class: "qa-review-actions" }, confirm, overrideButton), slot);
  }

  closeOverride(slot, button) {
    slot.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  overrideForm(rule, close) {
    const title = ruleTitle(rule.id, rule.title);
    const current = rule.final_passed;
    // The likely new verdict: the opposite of the automatic one.
    const proposed = rule.passed === false ? "true" : rule.passed === true ? "false" : null;
    const options = ["true", "false", "null"].map((value) => ({
      value, label: verdictKey(VERDICT_VALUE[value]), className: `qa-option-${value}`,
    }));
    const form = h("form", { class: "qa-override-form", novalidate: true,
                             i18nAttrs: { "aria-label": ["qa.override_label", { rule: title }] } },
      formError(),
      radioGroup({ name: "passed", legend: "qa.new_verdict", options,
                   value: proposed ?? String(current) }),
      field({ name: "reason", label: "qa.reason", hint: "qa.reason_hint",
              input: h("textarea", { rows: 2, maxlength: 2000,
                                     i18nAttrs: { placeholder: "qa.reason_placeholder" } }) }),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary button-small", i18n: "qa.save_override" }),
        h("button", { type: "button", class: "button-quiet button-small", i18n: "qa.cancel",
                      onclick: close })));
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const choice = form.querySelector("input[name=passed]:checked")?.value ?? "null";
      const body = { rule_id: rule.id, decision: "overridden", passed: VERDICT_VALUE[choice],
                     reason: form.elements.reason.value };
      const detail = await submitting(form, () => api.post(
        `/api/qa/calls/${this.options.callId}/reviews`, body));
      if (!detail) return;
      toast("qa.overridden_toast", { rule: title, v: { $t: verdictKey(body.passed) } });
      this.reviewed(detail, rule.id);
    });
    return form;
  }

  reviewed(detail, ruleId) {
    const scroll = this.root.scrollTop;
    // Other rules' override forms being written survive the fresh scorecard.
    const drafts = [...this.root.querySelectorAll(".qa-rule form.qa-override-form")]
      .map((form) => ({ id: form.closest(".qa-rule").dataset.ruleId,
                        passed: form.querySelector("input[name=passed]:checked")?.value,
                        reason: form.elements.reason.value }))
      .filter((draft) => draft.id !== ruleId);
    this.render(detail);
    for (const draft of drafts) {
      const rule = this.root.querySelector(`.qa-rule[data-rule-id="${CSS.escape(draft.id)}"]`);
      rule?.querySelector(".qa-override-open")?.click();
      const form = rule?.querySelector("form.qa-override-form");
      if (!form) continue;
      form.elements.reason.value = draft.reason;
      const choice = form.querySelector(`input[name=passed][value="${draft.passed}"]`);
      if (choice) choice.checked = true;
    }
    this.root.scrollTop = scroll;
    this.root.querySelector(`.qa-rule[data-rule-id="${CSS.escape(ruleId)}"] .qa-rule-title`)
      ?.focus({ preventScroll: true });
    this.options.onReviewed?.(detail);
  }
}
