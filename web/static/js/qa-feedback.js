// The reviewer's feedback on one call, on the call's page (issue 17): a QA reviewer or
// supervisor writes the agent a comment; the agent reads it beside the scorecard and
// acknowledges it or disputes it once, saying why; the dispute comes back to the reviewers,
// whose answer the agent then acknowledges. Each step shows who and when.
import { api } from "./api.js";
import { chip, h, replace } from "./dom.js";
import { errorMessage, field, formError, submitting } from "./forms.js";
import { dateTime } from "./i18n.js";
import { toast, toastError } from "./toast.js";

export const FEEDBACK_KIND = { sent: "info", disputed: "warn", answered: "info",
  acknowledged: "good" };

export function feedbackChip(status) {
  const el = chip(FEEDBACK_KIND[status] ?? "muted", `qa.fb.status.${status}`);
  el.classList.add("qa-fb-status");
  el.dataset.status = status;
  return el;
}

function note(kind, key, who, at, text) {
  return h("div", { class: ["qa-fb-note", `qa-fb-${kind}`], dataset: { kind } },
    h("p", { class: "qa-fb-who muted small", i18n: [key, { who: who || "—", t: dateTime(at) }] }),
    text ? h("p", { class: "qa-fb-text", text }) : null);
}

export class FeedbackPanel {
  /** options: callId, role, onChange(feedback) after this page changed it. */
  constructor(options) {
    this.options = options;
    this.feedback = null;
    this.loaded = false;
    this.version = 0; // of what is shown: a slower, older answer never replaces a newer one
    this.element = h("section", { class: "panel qa-feedback", id: "qa-feedback",
                                  "aria-labelledby": "qa-feedback-heading" });
  }

  get canReview() {
    return this.options.role === "qa" || this.options.role === "supervisor";
  }

  async load() {
    const asked = ++this.version;
    let fresh;
    try {
      fresh = await api.get(`/api/qa/calls/${this.options.callId}/feedback`);
    } catch {
      fresh = null; // the call itself failed to load and says so
    }
    if (asked !== this.version) return this; // a newer answer, or this page's change, came first
    // The same feedback told again (a notice replayed when the live channel resumes, a change
    // this page made itself): the form open here, and what was typed in it, stay.
    if (this.loaded && JSON.stringify(fresh) === JSON.stringify(this.feedback)) return this;
    this.loaded = true;
    this.feedback = fresh;
    this.render();
    return this;
  }

  changed(feedback, toastKey, params) {
    this.version += 1;
    this.loaded = true;
    this.feedback = feedback;
    this.render();
    if (toastKey) toast(toastKey, params);
    this.options.onChange?.(feedback);
  }

  render() {
    const fb = this.feedback;
    const heading = h("h2", { id: "qa-feedback-heading", i18n: "qa.fb.heading" });
    if (!fb) {
      // The form opens on demand: the call's recording and scorecard keep the room.
      const slot = h("div", { class: "qa-fb-slot" });
      const write = this.canReview && h("button", {
        type: "button", class: "button-small qa-fb-write", i18n: "qa.fb.write",
        onclick: () => {
          write.hidden = true;
          replace(slot, this.sendForm());
          slot.querySelector("textarea")?.focus();
        },
      });
      replace(this.element, h("div", { class: "qa-fb-head" }, heading, write),
        this.canReview ? slot : h("p", { class: "muted qa-fb-none", i18n: "qa.fb.none_agent" }));
      return;
    }
    this.element.dataset.status = fb.status;
    replace(this.element,
      h("div", { class: "qa-fb-head" }, heading, feedbackChip(fb.status)),
      note("comment", "qa.fb.comment_by", fb.reviewer_name, fb.sent_at, fb.comment),
      fb.dispute && note("dispute", "qa.fb.dispute_by", fb.agent_name, fb.disputed_at, fb.dispute),
      fb.answer && note("answer", "qa.fb.answer_by", fb.answered_by_name, fb.answered_at, fb.answer),
      fb.acknowledged_at && note("ack", "qa.fb.ack_by", fb.agent_name, fb.acknowledged_at,
                                 fb.acknowledgement),
      this.actions(fb));
  }

  actions(fb) {
    if (this.options.role === "agent") {
      const canAcknowledge = fb.status === "sent" || fb.status === "answered";
      if (!canAcknowledge) return null;
      const slot = h("div", { class: "qa-fb-slot" });
      const acknowledge = h("button", {
        type: "button", class: "primary button-small qa-fb-acknowledge", i18n: "qa.fb.acknowledge",
        onclick: async () => {
          acknowledge.disabled = true;
          try {
            const fresh = await api.post(`/api/qa/feedback/${fb.id}/acknowledge`, {});
            this.changed(fresh, "qa.fb.acknowledged_toast");
          } catch (error) {
            acknowledge.disabled = false;
            toastError(errorMessage(error));
          }
        },
      });
      const dispute = fb.status === "sent" && h("button", {
        type: "button", class: "button-small qa-fb-dispute-open", i18n: "qa.fb.dispute",
        "aria-expanded": "false",
        onclick: () => {
          if (slot.firstChild) {
            slot.replaceChildren();
            dispute.setAttribute("aria-expanded", "false");
            return;
          }
          replace(slot, this.textForm({
            name: "reason", label: "qa.fb.dispute_reason", hint: "qa.fb.dispute_hint",
            submit: "qa.fb.send_dispute", className: "qa-fb-dispute-form",
            send: (reason) => api.post(`/api/qa/feedback/${fb.id}/dispute`, { reason }),
            done: (fresh) => this.changed(fresh, "qa.fb.disputed_toast"),
          }));
          dispute.setAttribute("aria-expanded", "true");
          slot.querySelector("textarea")?.focus();
        },
      });
      return h("div", { class: "qa-fb-actions" },
        h("div", { class: "qa-fb-buttons" }, acknowledge, dispute), slot);
    }
    if (this.canReview && fb.status === "disputed") {
      return this.textForm({
        name: "answer", label: "qa.fb.answer", hint: "qa.fb.answer_hint",
        submit: "qa.fb.send_answer", className: "qa-fb-answer-form",
        send: (answer) => api.post(`/api/qa/feedback/${fb.id}/answer`, { answer }),
        done: (fresh) => this.changed(fresh, "qa.fb.answered_toast"),
      });
    }
    return null;
  }

  sendForm() {
    return this.textForm({
      name: "comment", label: "qa.fb.comment", hint: "qa.fb.comment_hint",
      submit: "qa.fb.send", className: "qa-fb-send-form",
      send: (comment) => api.post(`/api/qa/calls/${this.options.callId}/feedback`, { comment }),
      done: (fresh) => this.changed(fresh, "qa.fb.sent_toast", { who: fresh.agent_name || "—" }),
    });
  }

  /** A one-text form: the text is required by the API, whose problem shows by the field. */
  textForm({ name, label, hint, submit, className, send, done }) {
    const form = h("form", { class: ["qa-fb-form", className], novalidate: true },
      formError(),
      field({ name, label, hint,
              input: h("textarea", { rows: 2, maxlength: 4000 }) }),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary button-small", i18n: submit })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const fresh = await submitting(form, () => send(form.elements[name].value));
      if (fresh) done(fresh);
    });
    return form;
  }
}
