// Creating and editing a campaign: every field the API takes (the selection, who takes the
// calls, when and how fast, the retry policy), each with the server's problems shown next to
// it in the reader's language. The form sends what it shows; a cleared number is sent as null
// and the server says what is missing.
import { api } from "./api.js";
import { dateInput } from "./date-input.js";
import { h, uid } from "./dom.js";
import { field, formError, radioGroup, submitting } from "./forms.js";
import { DEFAULTS, GRADES, MODES, PROJECT_STATUSES, STAGES, stageText } from "./campaign-labels.js";

const INTEGERS = ["max_concurrent", "busy_retry_minutes", "no_answer_retry_minutes",
  "failed_retry_minutes", "max_attempts_per_day", "max_attempts_total", "redial_guard_minutes"];

/** A fieldset of checkboxes sending a list: `[{value, attrs}]`, where attrs label the box. */
function checkboxes({ name, legend, hint, options, chosen, className }) {
  const errorId = uid("e");
  const hintId = hint ? uid("h") : null;
  const picked = new Set((chosen || []).map(String));
  return h("fieldset", {
    class: ["field", "checks", className], dataset: { field: name },
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
  },
  h("legend", { i18n: legend }),
  h("div", { class: "check-row" }, options.map((option) => {
    const id = uid("c");
    return h("span", { class: "check" },
      h("input", { type: "checkbox", id, name, value: option.value,
                   checked: picked.has(String(option.value)) }),
      h("label", { for: id, ...option.attrs }));
  })),
  hint && h("p", { class: "hint", id: hintId, i18n: hint }),
  h("p", { class: "field-error", id: errorId }));
}

function number(name, value, { min, max, step = 1 }) {
  return h("input", { type: "number", name, min, max, step, inputmode: step === 1 ? "numeric" : "decimal",
                      class: "mono", value: value ?? "" });
}

/** An input's number: empty → null; not a number → the text itself, for the server to refuse. */
function numberValue(input) {
  const text = String(input.value).trim();
  if (text === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[type=checkbox][name="${name}"]:checked`)]
    .map((box) => box.value);
}

export class CampaignForm {
  /** campaign: null for a new one; agents: /api/agents; onSaved(campaign); onCancel() */
  constructor(campaign, { agents, onSaved, onCancel }) {
    this.campaign = campaign;
    this.agents = agents;
    this.onSaved = onSaved;
    this.onCancel = onCancel;
    this.element = this.build(campaign ?? DEFAULTS);
  }

  build(v) {
    const editing = Boolean(this.campaign);
    const mode = radioGroup({ name: "mode", legend: "campaigns.f.mode", value: v.mode,
                              hint: "campaigns.f.mode_hint", className: "campaign-f-mode",
                              options: MODES.map((m) => ({ value: m, label: `campaigns.mode.${m}` })) });
    const agents = checkboxes({
      name: "agent_ids", legend: "campaigns.f.agents", hint: "campaigns.f.agents_hint",
      chosen: v.agent_ids, className: "campaign-f-agents wide",
      options: this.agents.map((a) => ({ value: a.user_id, attrs: {
        i18n: ["campaigns.agent_option", { name: a.display_name, ext: a.extension || "—" }] } })),
    });
    if (!this.agents.length) {
      agents.querySelector(".check-row").append(h("span", { class: "muted small",
                                                            i18n: "campaigns.f.no_agents" }));
    }
    const queue = field({ name: "queue", label: "campaigns.f.queue", hint: "campaigns.f.queue_hint",
                          input: h("input", { value: v.queue ?? "", maxlength: 64, autocomplete: "off",
                                              class: "mono" }) });
    const pacing = field({ name: "pacing_ratio", label: "campaigns.f.pacing_ratio",
                           hint: "campaigns.f.pacing_ratio_hint",
                           input: number("pacing_ratio", v.pacing_ratio, { min: 0.1, max: 3, step: 0.1 }) });
    const form = h("form", { id: "campaign-form", class: "panel campaign-form", novalidate: true },
      h("div", { class: "panel-head" },
        h("h2", { id: "campaign-form-heading",
                  i18n: editing ? ["campaigns.edit_title", { name: v.name }] : "campaigns.new_title" })),
      formError(),
      h("div", { class: "form-grid campaign-grid" },
        field({ name: "name", label: "campaigns.f.name", className: "wide",
                input: h("input", { value: v.name, maxlength: 100, autocomplete: "off",
                                    i18nAttrs: { placeholder: "campaigns.f.name_placeholder" } }) }),

        h("h3", { class: "wide campaign-f-section", i18n: "campaigns.f.selection" }),
        checkboxes({ name: "stages", legend: "campaigns.f.stages", hint: "campaigns.f.stages_hint",
                     chosen: v.stages, className: "wide",
                     options: STAGES.map((s) => ({ value: s, attrs: stageText(s) })) }),
        checkboxes({ name: "grades", legend: "campaigns.f.grades", hint: "campaigns.f.grades_hint",
                     chosen: v.grades,
                     options: GRADES.map((g) => ({ value: g, attrs: { i18n: ["campaigns.grade_option", { g }] } })) }),
        checkboxes({ name: "project_statuses", legend: "campaigns.f.project_statuses",
                     hint: "campaigns.f.project_statuses_hint", chosen: v.project_statuses,
                     className: "campaign-f-span2",
                     options: PROJECT_STATUSES.map((s) => ({ value: s,
                                                             attrs: { i18n: `project.status.${s}` } })) }),
        field({ name: "due_from", label: "campaigns.f.due_from",
                input: dateInput({ value: v.due_from ?? "" }) }),
        field({ name: "due_to", label: "campaigns.f.due_to", hint: "campaigns.f.due_to_hint",
                input: dateInput({ value: v.due_to ?? "" }) }),

        h("h3", { class: "wide campaign-f-section", i18n: "campaigns.f.dialing" }),
        mode,
        agents,
        queue,
        pacing,
        field({ name: "calling_hours", label: "campaigns.f.calling_hours",
                hint: "campaigns.f.calling_hours_hint",
                input: h("input", { value: v.calling_hours ?? "", maxlength: 100, class: "mono",
                                    autocomplete: "off", placeholder: "09:00-12:00,14:00-20:00" }) }),
        field({ name: "max_concurrent", label: "campaigns.f.max_concurrent",
                hint: "campaigns.f.max_concurrent_hint",
                input: number("max_concurrent", v.max_concurrent, { min: 1, max: 200 }) }),

        h("h3", { class: "wide campaign-f-section", i18n: "campaigns.f.retries" }),
        field({ name: "busy_retry_minutes", label: "campaigns.f.busy_retry_minutes",
                hint: "campaigns.f.minutes_hint",
                input: number("busy_retry_minutes", v.busy_retry_minutes, { min: 0, max: 10080 }) }),
        field({ name: "no_answer_retry_minutes", label: "campaigns.f.no_answer_retry_minutes",
                hint: "campaigns.f.minutes_hint",
                input: number("no_answer_retry_minutes", v.no_answer_retry_minutes, { min: 0, max: 10080 }) }),
        field({ name: "failed_retry_minutes", label: "campaigns.f.failed_retry_minutes",
                hint: "campaigns.f.minutes_hint",
                input: number("failed_retry_minutes", v.failed_retry_minutes, { min: 0, max: 10080 }) }),
        field({ name: "redial_guard_minutes", label: "campaigns.f.redial_guard_minutes",
                hint: "campaigns.f.redial_guard_hint",
                input: number("redial_guard_minutes", v.redial_guard_minutes, { min: 0, max: 10080 }) }),
        field({ name: "max_attempts_per_day", label: "campaigns.f.max_attempts_per_day",
                hint: "campaigns.f.max_attempts_per_day_hint",
                input: number("max_attempts_per_day", v.max_attempts_per_day, { min: 1, max: 20 }) }),
        field({ name: "max_attempts_total", label: "campaigns.f.max_attempts_total",
                hint: "campaigns.f.max_attempts_total_hint",
                input: number("max_attempts_total", v.max_attempts_total, { min: 1, max: 50 }) })),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary",
                      i18n: editing ? "campaigns.save" : "campaigns.create" }),
        h("button", { type: "button", class: "button-quiet", i18n: "campaigns.cancel",
                      onclick: () => this.onCancel() })));
    // Agent-first calls ring the chosen agents; customer-first ones join a queue at a pace.
    const follow = () => {
      const value = form.elements.mode.value;
      agents.hidden = value !== "agent_first";
      queue.hidden = pacing.hidden = value !== "customer_first";
    };
    mode.addEventListener("change", follow);
    follow();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    return form;
  }

  values() {
    const form = this.element;
    const elements = form.elements;
    const text = (name) => String(elements[name].value).trim() || null;
    const body = {
      name: String(elements.namedItem("name").value).trim(),
      mode: elements.mode.value,
      stages: checked(form, "stages"),
      grades: checked(form, "grades"),
      project_statuses: checked(form, "project_statuses"),
      due_from: text("due_from"),
      due_to: text("due_to"),
      agent_ids: checked(form, "agent_ids").map(Number),
      queue: text("queue"),
      calling_hours: text("calling_hours"),
      pacing_ratio: numberValue(elements.pacing_ratio),
    };
    for (const name of INTEGERS) body[name] = numberValue(elements[name]);
    return body;
  }

  async save() {
    const form = this.element;
    const body = this.values();
    const saved = await submitting(form, () => (this.campaign
      ? api.patch(`/api/campaigns/${this.campaign.id}`, body)
      : api.post("/api/campaigns", body)));
    // A problem in a field the mode hides would go unseen: show that field.
    for (const hidden of form.querySelectorAll(".field.has-error[hidden]")) hidden.hidden = false;
    if (saved) this.onSaved(saved, { created: !this.campaign });
  }
}
