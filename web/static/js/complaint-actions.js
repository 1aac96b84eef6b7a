// What a user may do with a complaint now, by role and status: record the department's next
// step (signed by; solution and visit time; notes), escalate, propose or approve compensation,
// and record customer service's call back. Each form shows the API's problems by field.
import { api } from "./api.js";
import { dateTimeInput, instantOf } from "./date-input.js";
import { h, uid } from "./dom.js";
import { field, formError, radioGroup, submitting } from "./forms.js";
import { msg } from "./i18n.js";
import { nextStep } from "./complaint-labels.js";
import { toast } from "./toast.js";

const WORKERS = ["agent", "supervisor", "department"]; // record steps, propose compensation
const RECEIVERS = ["agent", "supervisor"]; // escalate, call back

/** An ISO instant from a date-time field, or null when it is empty (date-input.js). */
export const isoOf = instantOf;

function actionForm(name, heading, fields, submitLabel, send, onDone, done) {
  const headingId = uid("act");
  const form = h("form", { class: ["card-form", "ticket-action"], novalidate: true,
                           dataset: { action: name }, "aria-labelledby": headingId },
    h("h4", { id: headingId, i18n: heading }),
    formError(),
    fields,
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "primary", i18n: submitLabel })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const saved = await submitting(form, () => send(form.elements));
    if (!saved) return;
    toast(done.$t, done.args);
    onDone(saved);
  });
  return form;
}

function stepForm(c, step, onDone) {
  const url = `/api/complaints/${c.id}/steps/${step}`;
  const fields = [];
  if (step === "signed") {
    fields.push(field({ name: "signed_by", label: "complaint.a.signed_by",
                        input: h("input", { maxlength: 100, autocomplete: "name" }) }));
  }
  if (step === "solution") {
    fields.push(field({ name: "solution", label: "complaint.a.solution",
                        input: h("textarea", { rows: 3, maxlength: 4000 }) }),
                field({ name: "visit_at", label: "complaint.a.visit_at",
                        input: dateTimeInput() }));
  }
  fields.push(
    field({ name: "at", label: "complaint.a.at", hint: "complaint.a.at_hint",
            input: dateTimeInput() }),
    field({ name: "notes", label: "complaint.a.notes",
            input: h("textarea", { rows: 2, maxlength: 4000 }) }));
  return actionForm(`step-${step}`, ["complaint.a.step", { step: msg(`complaint.step.${step}`) }],
    fields, "complaint.a.record", (v) => api.post(url, {
      at: isoOf(v.at), notes: v.notes.value.trim(),
      signed_by: v.signed_by ? v.signed_by.value.trim() : undefined,
      solution: v.solution ? v.solution.value.trim() : undefined,
      visit_at: v.visit_at ? isoOf(v.visit_at) : undefined,
    }), onDone, msg("complaint.a.step_saved", { id: c.id, step: msg(`complaint.step.${step}`) }));
}

function escalateForm(c, onDone) {
  return actionForm("escalate", "complaint.a.escalate",
    [field({ name: "reason", label: "complaint.a.reason",
             input: h("input", { maxlength: 1000 }) })],
    "complaint.a.escalate_submit",
    (v) => api.post(`/api/complaints/${c.id}/escalate`, { reason: v.reason.value.trim() }),
    onDone, msg("complaint.a.escalated", { id: c.id }));
}

function compensationForm(c, onDone) {
  return actionForm("compensation", c.compensation ? "complaint.a.compensation_change"
    : "complaint.a.compensation",
  [field({ name: "amount", label: "complaint.a.amount", hint: "complaint.a.amount_hint",
           input: h("input", { inputmode: "decimal", class: "mono", maxlength: 14,
                               value: c.compensation || "" }) })],
  "complaint.a.compensation_submit",
  (v) => api.post(`/api/complaints/${c.id}/compensation`, { amount: v.amount.value.trim() || undefined }),
  onDone, msg("complaint.a.compensation_saved", { id: c.id }));
}

function approveForm(c, onDone) {
  return actionForm("approve", ["complaint.a.approve", { amount: c.compensation }], [],
    "complaint.a.approve_submit",
    () => api.post(`/api/complaints/${c.id}/compensation/approve`),
    onDone, msg("complaint.a.approved", { id: c.id }));
}

function callBackForm(c, onDone) {
  return actionForm("call-back", "complaint.a.call_back", [
    radioGroup({ name: "satisfied", legend: "complaint.a.satisfied", value: "",
                 options: [{ value: "true", label: "complaint.a.yes", className: "sat-option-satisfied" },
                           { value: "false", label: "complaint.a.no",
                             className: "sat-option-unsatisfied" }] }),
    field({ name: "notes", label: "complaint.a.notes",
            input: h("textarea", { rows: 2, maxlength: 4000 }) }),
  ], "complaint.a.call_back_submit", (v) => api.post(`/api/complaints/${c.id}/call-back`, {
    satisfied: v.satisfied.value === "" ? undefined : v.satisfied.value === "true",
    notes: v.notes.value.trim(),
  }), onDone, msg("complaint.a.called_back", { id: c.id }));
}

/** The forms this user may use on this complaint now (none: nothing is shown). */
export function complaintActions(c, { user, onDone }) {
  const role = user.role;
  const forms = [];
  const step = nextStep(c);
  if (step && WORKERS.includes(role)) forms.push(stepForm(c, step, onDone));
  if (c.status === "resolved" && RECEIVERS.includes(role)) forms.push(callBackForm(c, onDone));
  if (c.compensation && !c.compensation_approved_at && c.status !== "closed"
      && role === "supervisor") {
    forms.push(approveForm(c, onDone));
  }
  if (c.status === "open" && WORKERS.includes(role) && !c.compensation_approved_at) {
    forms.push(compensationForm(c, onDone));
  }
  if (c.status !== "closed" && c.grade === "general" && RECEIVERS.includes(role)) {
    forms.push(escalateForm(c, onDone));
  }
  if (!forms.length) return null;
  const headingId = uid("acts");
  return h("section", { class: "ticket-actions", "aria-labelledby": headingId },
    h("h3", { id: headingId, class: "section-title", i18n: "complaint.actions" }), forms);
}
