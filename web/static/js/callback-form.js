// Logging a callback attempt against a project's stage: outcome, the customer's satisfaction
// (quality, crew, supervisor, designer), notes, and when to call back. The form follows the
// current call: the pop's customer and callback task, and the attempt a click-to-call opened.
import { api, ApiError } from "./api.js";
import { dateTimeInput, instantOf } from "./date-input.js";
import { chip, h, replace, uid } from "./dom.js";
import { field, formError, radioGroup, submitting } from "./forms.js";
import { localDate, localInputValue, msg } from "./i18n.js";
import { AREAS, likelyTask, OPEN_TASK, OUTCOMES, SATISFACTION, taskMessage } from "./labels.js";
import { toast } from "./toast.js";

export class CallbackForm {
  /** options: canLog, lookUpCalls (agents may read their calls); onSaved(task) */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.card = null;
    this.context = null; // {linkedid, number, customerId, taskId, attemptId}
    this.note = null; // a notice shown once (the PBX recorded the attempt itself)
    this.form = null;
    this.renderEmpty();
  }

  get dirty() {
    return Boolean(this.form?.hasAttribute("data-dirty"));
  }

  renderEmpty() {
    this.card = null;
    this.form = null;
    if (!this.options.canLog) {
      this.root.replaceChildren(); // QA and admins read callbacks; they do not log them
      return;
    }
    replace(this.root, h("section", { class: "panel callback-panel" },
      h("h2", { i18n: "cb.heading" }), h("p", { class: "muted", i18n: "cb.pick_customer" })));
  }

  /** Show the form for this customer; keeps the agent's choices when it is the same one. */
  setCustomer(card) {
    const same = this.card?.id === card.id && this.form;
    const keep = same ? { projectId: Number(this.form.elements.project.value),
                          taskId: Number(this.form.elements.task_id.value) } : null;
    this.card = card;
    if (same) {
      this.fillProjects(keep.projectId, keep.taskId);
      this.showLink();
      return;
    }
    this.build();
    const bound = this.context?.customerId === card.id ? this.context.taskId : null;
    this.preselect(bound);
  }

  /** Tie the form to a call: the pop (or click-to-call) names the customer and maybe a task. */
  bind(context) {
    this.context = context;
    this.note = null;
    if (this.card && context.customerId === this.card.id && this.form) {
      if (context.taskId) this.preselect(context.taskId);
      this.showLink();
    }
  }

  unbind() {
    this.context = null;
    this.showLink();
  }

  /** The PBX completed the click-to-call attempt (busy, no answer …): nothing left to log. */
  autoRecorded(attemptId, outcome) {
    if (this.context?.attemptId !== attemptId) return;
    this.context = null;
    this.note = msg("cb.auto_recorded", { outcome: msg(`call.outcome.${outcome}`) });
    this.showLink();
  }

  /** Pick a task from the timeline ("log callback"). */
  selectTask(task) {
    if (!this.form) return;
    this.preselect(task.id);
    this.form.scrollIntoView({ block: "nearest" });
    (this.form.querySelector("input[name=outcome]:checked")
      ?? this.form.querySelector("input[name=outcome]"))?.focus();
  }

  preselect(taskId) {
    const projects = this.card.projects;
    const owner = taskId && projects.find((p) => p.callbacks.some((c) => c.id === taskId));
    const today = localDate(new Date());
    const open = (p) => p.callbacks.filter((c) => OPEN_TASK.has(c.status));
    const project = owner ?? projects.find((p) => open(p).some((c) => c.due_date <= today))
      ?? projects.find((p) => open(p).length) ?? projects[0];
    if (!project) return;
    const task = owner ? project.callbacks.find((c) => c.id === taskId)
      : likelyTask(project.callbacks);
    this.fillProjects(project.id, task?.id);
  }

  build() {
    const card = this.card;
    if (!this.options.canLog) {
      this.renderEmpty();
      return;
    }
    if (!card.projects.length) {
      this.form = null;
      replace(this.root, h("section", { class: "panel callback-panel" },
        h("h2", { i18n: "cb.heading" }),
        h("p", { class: "muted", i18n: "cb.no_projects" })));
      return;
    }
    const headingId = uid("cb");
    const form = h("form", { class: "callback-form", id: "callback-form", novalidate: true,
                             "aria-labelledby": headingId });
    this.form = form;
    this.link = h("div", { class: "linked-call", role: "status" });
    this.projectSelect = h("select", {});
    this.taskSelect = h("select", {});
    this.taskInfo = h("p", { class: "task-info" });
    this.projectSelect.addEventListener("change", () => this.fillProjects(
      Number(this.projectSelect.value)));
    this.taskSelect.addEventListener("change", () => this.showTaskInfo());

    const outcome = radioGroup({ name: "outcome", legend: "cb.outcome", className: "outcomes",
      options: OUTCOMES.map((o) => ({ value: o, label: `outcome.${o}`,
                                      className: `outcome-${o}` })) });
    this.satisfaction = h("fieldset", { class: "field satisfaction-set",
                                        dataset: { field: "satisfaction" }, hidden: true },
      h("legend", { i18n: "cb.satisfaction" }),
      h("p", { class: "field-error" }),
      AREAS.map((area) => radioGroup({
        name: `satisfaction.${area}`, legend: `area.${area}`, value: "", className: "sat-row",
        options: [...SATISFACTION.map((s) => ({ value: s, label: `sat.${s}`,
                                                className: `sat-option-${s}` })),
                  { value: "", label: "sat.unasked", className: "sat-option-none" }],
      })),
      h("p", { class: "hint", i18n: "cb.satisfaction_hint" }));
    this.unsatisfied = h("p", { class: "warning-note", hidden: true, i18n: "cb.unsatisfied_hint" });
    this.callBackAt = dateTimeInput();
    this.callBackField = field({ name: "call_back_at", label: "cb.call_back_at",
                                 input: this.callBackAt });
    this.callBackField.hidden = true;
    this.notes = h("textarea", { rows: 3, maxlength: 4000 });

    form.append(
      h("h2", { id: headingId, i18n: "cb.heading" }),
      this.link,
      formError(),
      h("div", { class: "form-grid" },
        field({ name: "project", label: "cb.project", input: this.projectSelect }),
        field({ name: "task_id", label: "cb.task", input: this.taskSelect })),
      this.taskInfo,
      outcome,
      this.satisfaction,
      this.unsatisfied,
      this.callBackField,
      field({ name: "notes", label: "cb.notes", input: this.notes }),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary", i18n: "cb.submit" })));
    form.addEventListener("input", () => { form.dataset.dirty = ""; });
    form.addEventListener("change", (event) => this.changed(event));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    replace(this.root, h("section", { class: "panel callback-panel" }, form));
    this.showLink();
  }

  fillProjects(projectId, taskId) {
    const card = this.card;
    if (!this.form) return;
    replace(this.projectSelect, card.projects.map((p) => h("option", {
      value: p.id, selected: p.id === projectId,
      i18n: ["project.contract", { n: p.contract_number }] })));
    const project = card.projects.find((p) => p.id === projectId) ?? card.projects[0];
    this.projectSelect.value = String(project.id);
    const chosen = taskId ?? likelyTask(project.callbacks)?.id;
    replace(this.taskSelect, project.callbacks.map((task) => h("option", {
      value: task.id, selected: task.id === chosen,
      i18n: ["task.option", { task: taskMessage(task), status: msg(`task.status.${task.status}`) }],
    })));
    if (chosen) this.taskSelect.value = String(chosen);
    this.showTaskInfo();
  }

  selectedTask() {
    const id = Number(this.taskSelect.value);
    return this.card.projects.flatMap((p) => p.callbacks).find((t) => t.id === id) ?? null;
  }

  showTaskInfo() {
    const task = this.selectedTask();
    if (!task) {
      this.taskInfo.replaceChildren();
      return;
    }
    replace(this.taskInfo,
      h("span", { class: "mono", i18n: ["task.window", { due: task.due_date, latest: task.latest_date }] }),
      task.overdue && chip("bad", "task.overdue"),
      h("span", { class: "muted", i18n: ["task.attempt_count", { n: task.attempt_count }] }));
  }

  showLink() {
    if (!this.link) return;
    const ctx = this.context;
    const parts = [];
    if (ctx && this.card && ctx.customerId === this.card.id) {
      if (ctx.number) parts.push(h("span", { i18n: ["cb.linked_call", { number: ctx.number }] }));
      if (ctx.attemptId) {
        parts.push(h("span", { i18n: ["cb.linked_attempt", { id: ctx.attemptId }] }));
      }
      if (parts.length) {
        parts.push(h("button", { type: "button", class: "button-link", i18n: "cb.unlink",
                                 onclick: () => this.unbind() }));
      }
    }
    if (this.note) parts.push(h("span", { i18n: [this.note.$t, this.note.args] }));
    replace(this.link, parts);
    this.link.hidden = !parts.length;
  }

  changed(event) {
    const form = this.form;
    if (event.target.name === "outcome") {
      const outcome = form.elements.outcome.value;
      this.satisfaction.hidden = outcome !== "effective";
      this.callBackField.hidden = outcome !== "call_later";
      if (outcome === "call_later" && !this.callBackAt.value) {
        const later = new Date(Date.now() + 60 * 60 * 1000);
        later.setMinutes(0, 0, 0);
        this.callBackAt.value = localInputValue(later);
      }
    }
    const unhappy = AREAS.some((a) => form.elements[`satisfaction.${a}`].value === "unsatisfied");
    this.unsatisfied.hidden = !(unhappy && form.elements.outcome.value === "effective");
  }

  /** The call's row id, so the attempt links to its recording (agents only; best effort). */
  async callId(linkedid) {
    if (!linkedid || !this.options.lookUpCalls) return null;
    try {
      const calls = await api.get("/api/calls/mine?limit=20");
      return calls.find((c) => c.linkedid === linkedid)?.id ?? null;
    } catch {
      return null;
    }
  }

  async submit() {
    const form = this.form;
    const task = this.selectedTask();
    const outcome = form.elements.outcome.value;
    const satisfaction = {};
    if (outcome === "effective") {
      for (const area of AREAS) satisfaction[area] = form.elements[`satisfaction.${area}`].value || null;
    }
    const ctx = this.context?.customerId === this.card.id ? this.context : null;
    const body = {
      outcome: outcome || undefined, // none chosen: the API says it is required
      satisfaction,
      notes: this.notes.value.trim(),
      call_back_at: outcome === "call_later" ? instantOf(this.callBackAt) : null,
    };
    if (ctx?.attemptId && ctx.taskId === task?.id) body.attempt_id = ctx.attemptId;
    const saved = await submitting(form, async () => {
      if (!task) {
        throw new ApiError(422, [{ field: "task_id", code: "required", message: "choose a stage" }]);
      }
      if (ctx?.linkedid && !body.attempt_id) body.call_id = await this.callId(ctx.linkedid);
      return api.post(`/api/callbacks/${task.id}/attempts`, body);
    });
    if (!saved) return;
    toast("cb.saved", { task: taskMessage(saved), outcome: msg(`outcome.${body.outcome}`) });
    if (body.attempt_id) this.context = { ...this.context, attemptId: null };
    this.reset();
    this.options.onSaved?.(saved);
  }

  reset() {
    const form = this.form;
    if (!form) return;
    for (const input of form.querySelectorAll("input[type=radio]")) {
      input.checked = input.value === "" && input.name.startsWith("satisfaction.");
    }
    this.notes.value = "";
    this.callBackAt.value = "";
    this.satisfaction.hidden = true;
    this.callBackField.hidden = true;
    this.unsatisfied.hidden = true;
    delete form.dataset.dirty;
  }
}
