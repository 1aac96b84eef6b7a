// What waits for the person on the QA page (issue 17). A reviewer or supervisor: the review
// queue the sampling rules filled ("待复核", each call with why it was picked: a complaint,
// a low score, the weekly random share), the rules in effect, and the agents' disputes to
// answer. An agent: "我的质检", their reviewed calls with the reviewer's comment, the score
// after review and where the feedback stands. Each row opens the call (#call=ID).
import { api } from "./api.js";
import { chip, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { dateTime } from "./i18n.js";
import { feedbackChip } from "./qa-feedback.js";
import { phoneText, scoreKind } from "./qa-labels.js";
import { toast, toastError } from "./toast.js";

const REASON_KIND = { complaint: "bad", low_score: "warn", share: "info" };
const SHOWN = 20;

export function reasonChip(reason) {
  const el = chip(REASON_KIND[reason] ?? "muted", `qa.reason.${reason}`);
  el.classList.add("qa-reason");
  el.dataset.reason = reason;
  return el;
}

function score(item) {
  if (item.score === null || item.score === undefined) {
    return h("span", { class: "muted", i18n: "qa.not_scored" });
  }
  return h("span", { class: ["qa-score", "mono", `qa-score-${scoreKind(item.score, item.max_score)}`],
                     text: `${item.score}/${item.max_score}` });
}

function openLink(callId, startedAt) {
  return h("a", { href: `#call=${callId}`, class: "qa-work-open mono",
                  text: dateTime(startedAt) });
}

function table(columns, rows) {
  return h("div", { class: "table-wrap qa-work-table-wrap", tabindex: "0" },
    h("table", { class: "qa-table qa-work-table" },
      h("thead", {}, h("tr", {}, columns.map((key) => h("th", { scope: "col", i18n: key })))),
      h("tbody", {}, rows)));
}

export class QaWork {
  /** root: the element to fill; options: role. */
  constructor(root, { role }) {
    this.root = root;
    this.role = role;
    this.canReview = role === "qa" || role === "supervisor";
    this.rules = null;
  }

  async load() {
    try {
      if (this.canReview) {
        const [queue, disputes, rules] = await Promise.all([
          api.get(`/api/qa/queue?limit=${SHOWN + 1}`),
          api.get("/api/qa/feedback?status=disputed&limit=50"),
          this.rules ? Promise.resolve(this.rules) : api.get("/api/qa/sampling"),
        ]);
        this.rules = rules;
        replace(this.root, this.queue(queue), disputes.length ? this.disputes(disputes) : null);
      } else {
        replace(this.root, this.mine(await api.get("/api/qa/feedback?limit=50")));
      }
    } catch (error) {
      replace(this.root, h("p", { class: "form-error", role: "alert",
                                  text: errorMessage(error) }));
    }
  }

  rulesLine() {
    const r = this.rules;
    const parts = [];
    if (r.share > 0) parts.push(h("span", { i18n: ["qa.sampling.share", { p: Math.round(r.share * 100) }] }));
    if (r.complaint_calls) parts.push(h("span", { i18n: "qa.sampling.complaints" }));
    if (r.below_percent > 0) parts.push(h("span", { i18n: ["qa.sampling.below", { p: r.below_percent }] }));
    const line = h("p", { class: "qa-sampling-rules muted small" },
      h("span", { i18n: "qa.sampling.label" }), " ");
    parts.forEach((part, i) => line.append(i ? " · " : "", part));
    return line;
  }

  queue(items) {
    const more = items.length > SHOWN;
    const shown = items.slice(0, SHOWN);
    const sample = h("button", {
      type: "button", class: "button-small qa-sample-now", i18n: "qa.work.sample_now",
      onclick: async () => {
        sample.disabled = true;
        try {
          const run = await api.post("/api/qa/queue/sample", {});
          toast("qa.work.sampled", { n: run.call_ids.length });
          await this.load();
        } catch (error) {
          toastError(errorMessage(error));
        } finally {
          sample.disabled = false;
        }
      },
    });
    const rows = shown.map((item) => h("tr", { dataset: { callId: item.call_id, id: item.id } },
      h("td", {}, reasonChip(item.reason)),
      h("td", {}, openLink(item.call_id, item.call_started_at)),
      h("td", { text: item.agent_name || "—" }),
      h("td", { text: item.customer_name || phoneText(item.customer_number) || "—" }),
      h("td", {}, score(item)),
      h("td", {}, item.reviewer_name
        ? h("span", { class: "qa-taken-by", text: item.reviewer_name })
        : h("button", { type: "button", class: "button-small qa-take", i18n: "qa.work.take",
                        onclick: (event) => this.take(item, event.currentTarget) }))));
    return h("section", { class: "panel qa-work-panel qa-review-queue", id: "qa-review-queue",
                          "aria-labelledby": "qa-review-queue-heading" },
      h("div", { class: "panel-head qa-work-head" },
        h("h2", { id: "qa-review-queue-heading" }, h("span", { i18n: "qa.work.queue" }), " ",
          h("span", { class: "qa-work-count muted",
                      i18n: [more ? "qa.work.count_more" : "qa.work.count", { n: shown.length }] })),
        sample),
      this.rulesLine(),
      shown.length
        ? table(["qa.work.col.reason", "qa.col.time", "qa.col.agent", "qa.col.customer",
                 "qa.col.score", "qa.work.col.reviewer"], rows)
        : h("p", { class: "muted qa-work-empty", i18n: "qa.work.queue_empty" }));
  }

  async take(item, button) {
    button.disabled = true;
    try {
      await api.post(`/api/qa/queue/${item.id}/take`);
      location.hash = `#call=${item.call_id}`;
    } catch (error) {
      button.disabled = false;
      toastError(errorMessage(error));
      this.load();
    }
  }

  disputes(items) {
    const rows = items.map((fb) => h("tr", { dataset: { callId: fb.call_id, id: fb.id } },
      h("td", {}, openLink(fb.call_id, fb.call_started_at)),
      h("td", { text: fb.agent_name || "—" }),
      h("td", { text: fb.reviewer_name || "—" }),
      h("td", { class: "qa-work-text", text: fb.dispute })));
    return h("section", { class: "panel qa-work-panel qa-disputes", id: "qa-disputes",
                          "aria-labelledby": "qa-disputes-heading" },
      h("div", { class: "panel-head qa-work-head" },
        h("h2", { id: "qa-disputes-heading" }, h("span", { i18n: "qa.work.disputes" }), " ",
          h("span", { class: "qa-work-count muted", i18n: ["qa.work.count", { n: items.length }] }))),
      table(["qa.col.time", "qa.col.agent", "qa.work.col.reviewer", "qa.work.col.dispute"], rows));
  }

  mine(items) {
    const waiting = items.filter((fb) => fb.status === "sent" || fb.status === "answered").length;
    const rows = items.map((fb) => h("tr", {
      class: (fb.status === "sent" || fb.status === "answered") && "is-waiting",
      dataset: { callId: fb.call_id, id: fb.id } },
      h("td", {}, openLink(fb.call_id, fb.call_started_at)),
      h("td", {}, score(fb)),
      h("td", {}, feedbackChip(fb.status)),
      h("td", { text: fb.reviewer_name || "—" }),
      h("td", { class: "qa-work-text", text: fb.comment })));
    return h("section", { class: "panel qa-work-panel qa-mine", id: "qa-mine",
                          "aria-labelledby": "qa-mine-heading" },
      h("div", { class: "panel-head qa-work-head" },
        h("h2", { id: "qa-mine-heading" }, h("span", { i18n: "qa.work.mine" }), " ",
          waiting ? h("span", { class: "chip chip-warn qa-mine-waiting",
                                i18n: ["qa.work.mine_waiting", { n: waiting }] }) : null)),
      items.length
        ? table(["qa.col.time", "qa.col.score", "qa.work.col.status", "qa.work.col.reviewer",
                 "qa.work.col.comment"], rows)
        : h("p", { class: "muted qa-work-empty", i18n: "qa.work.mine_empty" }));
  }
}
