// The customer view in the middle of the console: who the customer is (grade first), their
// numbers (click to call), each renovation project with its milestones and the callback
// timeline per stage, and recent calls. Editing and creating customers open in place.
import { chip, gradeBadge, h, replace, tx, uid } from "./dom.js";
import { dateTime, duration, localDate, msg } from "./i18n.js";
import { customerForm } from "./customer-form.js";
import { AREAS, MILESTONES, MILESTONE_STAGE, OPEN_TASK, taskMessage } from "./labels.js";

const OUTCOME_KIND = { effective: "good", refused: "bad", wrong_person: "warn",
  call_later: "info" };
const SATISFACTION_KIND = { satisfied: "good", neutral: "warn", unsatisfied: "bad" };

export class CustomerView {
  /**
   * options: canEdit, canDial, canLog; handlers: onDial(phone, card), onDialTask(task, card),
   * onLogTask(task), onSaved(card), onCreated(card, context), onCancelCreate()
   */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.card = null;
    this.mode = "empty"; // empty | loading | card | create
  }

  /** True while a form here holds changes the agent has not saved. */
  get dirty() {
    return Boolean(this.root.querySelector("form[data-dirty]"));
  }

  showEmpty() {
    this.mode = "empty";
    this.card = null;
    replace(this.root, h("div", { class: "empty-state" },
      h("h2", { i18n: "customer.empty_title" }), h("p", { i18n: "customer.empty" })));
  }

  showLoading() {
    this.mode = "loading";
    replace(this.root, h("p", { class: "loading", role: "status", i18n: "customer.loading" }));
  }

  showError(text) {
    this.mode = "empty";
    replace(this.root, h("div", { class: "empty-state" },
      h("h2", { i18n: "customer.load_failed" }), h("p", { text })));
  }

  /** The form for a new customer, e.g. pre-filled with an unknown caller's number. */
  showCreate(prefill = {}, context = {}) {
    this.mode = "create";
    this.card = null;
    const form = customerForm({
      mode: "create", values: prefill, fromCall: Boolean(context.call),
      onDone: (card) => this.options.onCreated?.(card, context),
      onCancel: () => this.options.onCancelCreate?.(),
    });
    replace(this.root, h("div", { class: "customer create" }, form));
    form.querySelector("input[name=name]")?.focus();
  }

  show(card) {
    const sameCustomer = this.card?.id === card.id && this.mode === "card";
    const scroll = sameCustomer ? this.root.scrollTop : 0;
    // A fresher copy of the same customer must not throw away an edit in progress.
    const editing = sameCustomer ? this.root.querySelector("#customer-edit:not([hidden]) form")
      : null;
    const focused = editing?.contains(document.activeElement) ? document.activeElement : null;
    this.mode = "card";
    this.card = card;
    replace(this.root, this.render(card));
    if (editing) {
      const slot = this.root.querySelector("#customer-edit");
      slot.append(editing);
      slot.hidden = false;
      this.root.querySelector("[aria-controls=customer-edit]")?.setAttribute("aria-expanded", "true");
      focused?.focus({ preventScroll: true });
    }
    this.root.scrollTop = scroll;
  }

  /** A task came back from the API (an attempt was logged): show it in the timeline. */
  updateTask(task) {
    if (!this.card) return;
    for (const project of this.card.projects) {
      const at = project.callbacks.findIndex((c) => c.id === task.id);
      if (at >= 0) project.callbacks[at] = task;
    }
    this.show(this.card);
    const item = this.root.querySelector(`[data-task-id="${task.id}"]`);
    item?.classList.add("flash");
  }

  render(card) {
    const title = uid("cust");
    return h("article", { class: "customer", dataset: { customerId: card.id },
                          "aria-labelledby": title },
      this.header(card, title),
      card.do_not_call && h("p", { class: "dnc-banner", role: "note",
        i18n: ["customer.dnc", { reason: card.do_not_call_reason || "" }] }),
      h("div", { class: "customer-edit", id: "customer-edit", hidden: true }),
      this.projects(card),
      this.recentCalls(card));
  }

  header(card, titleId) {
    const phones = h("ul", { class: "phones", i18nAttrs: { "aria-label": "customer.phones" } });
    for (const phone of card.phones) {
      const dialable = this.options.canDial && !card.do_not_call;
      phones.append(h("li", {}, h("button", {
        type: "button", class: ["phone", "mono"], disabled: !dialable,
        dataset: { number: phone.number },
        i18nAttrs: { "aria-label": ["customer.call_number", { n: phone.display }],
                     title: card.do_not_call ? "dial.dnc" : ["customer.call_number", { n: phone.display }] },
        onclick: () => this.options.onDial?.(phone, card),
      }, h("span", { class: "phone-icon", "aria-hidden": "true", text: "☎" }),
      h("span", { text: phone.display }))));
    }
    const edit = this.options.canEdit && h("button", {
      type: "button", class: "button-quiet", i18n: "customer.edit",
      "aria-expanded": "false", "aria-controls": "customer-edit",
      onclick: () => this.toggleEdit(),
    });
    return h("header", { class: "customer-head" },
      gradeBadge(card.grade, "xl"),
      h("div", { class: "customer-title" },
        h("h2", { id: titleId, class: "customer-name", text: card.name }),
        h("p", { class: "customer-address" },
          card.address ? h("span", { text: card.address }) : tx("customer.no_address")),
        phones),
      h("div", { class: "customer-actions" },
        h("span", { class: "muted small", i18n: ["customer.id", { id: card.id }] }), edit));
  }

  toggleEdit() {
    const slot = this.root.querySelector("#customer-edit");
    if (slot.hidden) this.openEdit(slot);
    else this.closeEdit();
  }

  openEdit(slot) {
    const form = customerForm({
      mode: "edit", values: this.card,
      onDone: (card) => {
        this.closeEdit();
        this.options.onSaved?.(card);
      },
      onCancel: () => this.closeEdit(),
    });
    replace(slot, form);
    slot.hidden = false;
    this.root.querySelector("[aria-controls=customer-edit]")?.setAttribute("aria-expanded", "true");
    form.querySelector("input[name=name]")?.focus();
  }

  closeEdit() {
    const slot = this.root.querySelector("#customer-edit");
    if (!slot) return;
    slot.hidden = true;
    slot.replaceChildren();
    const button = this.root.querySelector("[aria-controls=customer-edit]");
    button?.setAttribute("aria-expanded", "false");
    button?.focus();
  }

  projects(card) {
    const section = h("section", { class: "projects", "aria-labelledby": "projects-heading" },
      h("h3", { id: "projects-heading", class: "section-title", i18n: "customer.projects" }));
    if (!card.projects.length) {
      section.append(h("p", { class: "muted", i18n: "customer.no_projects" }));
    }
    for (const project of card.projects) section.append(this.project(card, project));
    return section;
  }

  project(card, project) {
    const headingId = uid("proj");
    const construction = project.callbacks.filter(
      (c) => c.stage !== "post_completion" && c.stage !== "complaint");
    const effective = construction.filter((c) => c.effective).length;
    const people = h("dl", { class: "people" });
    for (const role of ["designer", "project_manager", "foreman", "crew"]) {
      people.append(h("div", {}, h("dt", { i18n: `project.${role}` }),
                      h("dd", { text: project[role] || "—" })));
    }
    if (project.address && project.address !== card.address) {
      people.append(h("div", { class: "wide" }, h("dt", { i18n: "project.address" }),
                      h("dd", { text: project.address })));
    }
    return h("section", { class: ["project", `project-${project.status}`],
                          dataset: { projectId: project.id }, "aria-labelledby": headingId },
      h("header", { class: "project-head" },
        h("h4", { id: headingId, i18n: ["project.contract", { n: project.contract_number }] }),
        chip(project.status === "cancelled" ? "muted" : "info",
             `project.status.${project.status}`),
        project.current_stage
          ? chip("stage", "project.current_stage", { stage: msg(`stage.${project.current_stage}`) })
          : null,
        construction.length ? h("span", { class: "progress",
          i18n: ["project.progress", { done: effective, total: construction.length }] }) : null),
      people,
      this.milestones(project),
      h("h5", { class: "timeline-title", i18n: "project.timeline" }),
      this.timeline(card, project));
  }

  milestones(project) {
    const list = h("ol", { class: "milestones", i18nAttrs: { "aria-label": "project.milestones" } });
    const today = localDate(new Date());
    for (const name of MILESTONES) {
      const date = project[name];
      const stage = MILESTONE_STAGE[name];
      list.append(h("li", {
        class: [date && date <= today && "is-reached", date && date > today && "is-planned",
                stage && stage === project.current_stage && "is-current"],
        "aria-current": stage && stage === project.current_stage ? "step" : false,
      }, h("span", { class: "milestone-name", i18n: `milestone.${name}` }),
      date ? h("span", { class: "milestone-date mono", text: date })
        : h("span", { class: "milestone-date muted", i18n: "milestone.unset" })));
    }
    return list;
  }

  timeline(card, project) {
    if (!project.callbacks.length) {
      return h("p", { class: "muted", i18n: "project.no_callbacks" });
    }
    const list = h("ol", { class: "timeline" });
    for (const task of project.callbacks) list.append(this.task(card, task));
    return list;
  }

  task(card, task) {
    const open = OPEN_TASK.has(task.status);
    const label = taskMessage(task);
    const actions = h("span", { class: "task-actions" },
      this.options.canLog && task.status !== "cancelled" && h("button", {
        type: "button", class: "button-small", i18n: "task.log",
        dataset: { action: "log" },
        onclick: () => this.options.onLogTask?.(task),
      }),
      this.options.canDial && open && !card.do_not_call && card.phones.length > 0 && h("button", {
        type: "button", class: "button-small primary", i18n: "task.call",
        dataset: { action: "call" },
        i18nAttrs: { "aria-label": ["task.call_label", { number: card.phones[0].display,
                                                         task: label }] },
        onclick: () => this.options.onDialTask?.(task, card),
      }));
    const attempts = task.attempts.length
      ? h("ol", { class: "attempts" }, [...task.attempts].reverse().map((a) => this.attempt(a)))
      : h("p", { class: "muted small", i18n: "task.no_attempts" });
    return h("li", {
      class: ["task", `task-${task.status}`, task.overdue && "is-overdue",
              task.effective && "is-effective"],
      dataset: { taskId: task.id, stage: task.stage, status: task.status },
    },
    h("span", { class: "task-marker", "aria-hidden": "true" }),
    h("div", { class: "task-body" },
      h("div", { class: "task-head" },
        h("span", { class: "task-name", i18n: [label.$t, label.args] }),
        chip(task.status === "done" ? "good" : open ? "info" : "muted",
             `task.status.${task.status}`),
        task.overdue && chip("bad", "task.overdue"),
        task.effective && task.status !== "done" && chip("good", "task.effective"),
        h("span", { class: "task-window mono",
                    i18n: ["task.window", { due: task.due_date, latest: task.latest_date }] }),
        actions),
      attempts));
  }

  attempt(attempt) {
    const who = attempt.made_by === "campaign" ? tx("attempt.campaign")
      : h("span", { text: attempt.agent_name || "—" });
    const satisfaction = h("span", { class: "satisfaction" });
    for (const area of AREAS) {
      const value = attempt.satisfaction?.[area];
      if (!value) continue;
      satisfaction.append(h("span", {
        class: ["sat", `sat-${SATISFACTION_KIND[value]}`],
        dataset: { area, value },
        i18n: ["sat.pair", { area: msg(`area.${area}`), value: msg(`sat.${value}`) }],
      }));
    }
    return h("li", { class: "attempt", dataset: { attemptId: attempt.id,
                                                  outcome: attempt.outcome || "" } },
      h("span", { class: "attempt-time mono", text: dateTime(attempt.started_at) }),
      h("span", { class: "attempt-who" }, who),
      attempt.outcome
        ? chip(OUTCOME_KIND[attempt.outcome] || "muted", `outcome.${attempt.outcome}`)
        : chip("info", "attempt.in_progress"),
      satisfaction.childElementCount ? satisfaction : null,
      attempt.call_back_at && h("span", { class: "small",
        i18n: ["attempt.call_back_at", { t: dateTime(attempt.call_back_at) }] }),
      attempt.notes && h("p", { class: "attempt-notes", text: attempt.notes }));
  }

  recentCalls(card) {
    const section = h("section", { class: "recent-calls", "aria-labelledby": "recent-heading" },
      h("h3", { id: "recent-heading", class: "section-title", i18n: "customer.recent_calls" }));
    if (!card.recent_calls.length) {
      section.append(h("p", { class: "muted", i18n: "customer.no_calls" }));
      return section;
    }
    const list = h("ul", { class: "call-history" });
    for (const call of card.recent_calls) {
      list.append(h("li", {},
        h("span", { class: "mono", text: dateTime(call.started_at) }),
        h("span", { i18n: call.direction === "outbound" ? "call.outbound" : "call.inbound" }),
        call.outcome ? chip(call.outcome === "answered" ? "good" : "muted",
                            `call.outcome.${call.outcome}`) : chip("info", "attempt.in_progress"),
        h("span", { text: call.agent_name || "" }),
        h("span", { class: "mono", text: call.talk_seconds ? duration(call.talk_seconds) : "" })));
    }
    section.append(list);
    return section;
  }
}
