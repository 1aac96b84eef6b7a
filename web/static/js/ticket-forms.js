// On the agent console: open a complaint or report a repair for the customer on screen (and
// one of their projects), tied to the call being handled as the callback form is (the pop's
// linkedid), with the department, category and grade choices of /api/complaints/options.
// Below the buttons, the customer's complaints and repairs still open.
import { api, query } from "./api.js";
import { chip, h, replace, uid } from "./dom.js";
import { field, formError, radioGroup, submitting } from "./forms.js";
import { msg } from "./i18n.js";
import { REPAIR_STATUS_KIND, shownClock, STATE_KIND, STATUS_KIND } from "./complaint-labels.js";
import { toast } from "./toast.js";

export class TicketPanel {
  /** options: canOpen (agents and supervisors) */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.card = null;
    this.context = null; // {linkedid, number, customerId}
    this.choices = null; // /api/complaints/options, read once
    this.form = null;
    this.renderEmpty();
  }

  get dirty() {
    return Boolean(this.form?.hasAttribute("data-dirty"));
  }

  renderEmpty() {
    if (this.dirty) return;
    this.card = null;
    this.form = null;
    this.root.replaceChildren();
  }

  /** The call being handled; a form opened from now on links to it. */
  bind(context) {
    this.context = context;
  }

  setCustomer(card) {
    if (this.dirty) return; // the form names its customer; finish or cancel it first
    const same = this.card?.id === card.id;
    this.card = card;
    if (!same || !this.form) {
      this.form = null;
      this.render();
    }
  }

  linked() {
    const ctx = this.context;
    return ctx?.linkedid && ctx.customerId === this.card?.id ? ctx : null;
  }

  render() {
    if (!this.options.canOpen || !this.card) {
      this.root.replaceChildren();
      return;
    }
    const headingId = uid("tk");
    this.open = h("ul", { class: "ticket-open-list", id: "customer-tickets" });
    replace(this.root, h("section", { class: "panel ticket-panel", "aria-labelledby": headingId },
      h("h2", { id: headingId, i18n: "tickets.console_heading" }),
      h("div", { class: "ticket-buttons" },
        h("button", { type: "button", id: "open-complaint", i18n: "tickets.open_complaint",
                      onclick: () => this.showForm("complaint") }),
        h("button", { type: "button", id: "report-repair", i18n: "tickets.report_repair",
                      onclick: () => this.showForm("repair") })),
      this.open));
    this.loadOpen();
  }

  async loadOpen() {
    const card = this.card;
    let complaints = [];
    let repairs = [];
    try {
      [complaints, repairs] = await Promise.all([
        api.get(`/api/complaints${query({ customer_id: card.id, limit: 20 })}`),
        api.get(`/api/repairs${query({ customer_id: card.id, limit: 20 })}`)]);
    } catch {
      return; // a detail: the buttons work without it
    }
    if (this.card !== card || !this.open?.isConnected) return;
    const items = [
      ...complaints.filter((c) => c.status !== "closed").map((c) => {
        const clock = shownClock(c);
        return h("li", { dataset: { complaintId: c.id } },
          h("a", { href: `/complaints?open=${c.id}`, target: "_blank",
                   i18n: ["tickets.complaint_line", { id: c.id, department: c.department }] }),
          chip(STATUS_KIND[c.status], `complaint.status.${c.status}`),
          clock && chip(STATE_KIND[clock.state], `complaint.state.${clock.state}`));
      }),
      ...repairs.filter((r) => r.status !== "closed").map((r) => h("li", {
        dataset: { repairId: r.id } },
        h("a", { href: `/complaints?tab=repairs&repair=${r.id}`, target: "_blank",
                 i18n: ["tickets.repair_line", { id: r.id, crew: r.crew }] }),
        chip(REPAIR_STATUS_KIND[r.status], `repair.status.${r.status}`),
        r.arrival_late && r.status === "assigned" ? chip("bad", "repair.late") : null)),
    ];
    replace(this.open, items.length ? items
      : h("li", { class: "muted small", i18n: "tickets.none_open" }));
  }

  async loadChoices() {
    if (!this.choices) this.choices = await api.get("/api/complaints/options");
    return this.choices;
  }

  projectField(name = "project_id") {
    const projects = this.card.projects;
    const select = h("select", {},
      h("option", { value: "", i18n: "tickets.no_project" }),
      projects.map((p) => h("option", { value: p.id,
                                        i18n: ["project.contract", { n: p.contract_number }] })));
    const active = projects.find((p) => p.status === "in_progress") ?? projects[0];
    if (active) select.value = String(active.id);
    return field({ name, label: "tickets.project", input: select });
  }

  async showForm(kind) {
    let choices;
    try {
      choices = kind === "complaint" ? await this.loadChoices() : null;
    } catch {
      toast("tickets.options_failed", null, { kind: "error" });
      return;
    }
    const card = this.card;
    const link = this.linked();
    const headingId = uid("tkf");
    const fields = kind === "complaint" ? [
      this.projectField(),
      h("div", { class: "form-grid" },
        field({ name: "department", label: "tickets.department", input: h("select", {},
          h("option", { value: "", i18n: "tickets.choose" }),
          choices.departments.map((d) => h("option", { value: d, text: d }))) }),
        field({ name: "category", label: "tickets.category", input: h("select", {},
          h("option", { value: "", i18n: "tickets.choose" }),
          choices.categories.map((c) => h("option", { value: c,
                                                      i18n: `complaint.category.${c}` }))) })),
      radioGroup({ name: "grade", legend: "tickets.grade", value: "general",
                   hint: "tickets.grade_hint",
                   options: choices.grades.map((g) => ({ value: g, label: `complaint.grade.${g}`,
                                                         className: `grade-${g}` })) }),
      field({ name: "description", label: "tickets.description",
              input: h("textarea", { rows: 3, maxlength: 4000 }) }),
      field({ name: "customer_demand", label: "tickets.demand",
              input: h("textarea", { rows: 2, maxlength: 4000 }) }),
    ] : [
      this.projectField(),
      field({ name: "crew", label: "tickets.crew", hint: "tickets.crew_hint",
              input: h("input", { maxlength: 100 }) }),
      field({ name: "description", label: "tickets.repair_description",
              input: h("textarea", { rows: 3, maxlength: 4000 }) }),
    ];
    const form = h("form", { class: "card-form ticket-form", id: `${kind}-form`, novalidate: true,
                             "aria-labelledby": headingId },
      h("h2", { id: headingId, i18n: [kind === "complaint" ? "tickets.complaint_heading"
        : "tickets.repair_heading", { name: card.name }] }),
      link ? h("p", { class: "linked-call", role: "status",
                      i18n: ["tickets.linked_call", { number: link.number || "" }] }) : null,
      formError(),
      fields,
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary", i18n: kind === "complaint"
          ? "tickets.complaint_submit" : "tickets.repair_submit" }),
        h("button", { type: "button", class: "button-quiet", i18n: "tickets.cancel",
                      onclick: () => this.close() })));
    form.addEventListener("input", () => { form.dataset.dirty = ""; });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(kind, form, card, link);
    });
    this.form = form;
    replace(this.root, h("section", { class: "panel ticket-panel" }, form));
    form.querySelector("select, textarea")?.focus();
  }

  close() {
    this.form = null;
    this.render();
  }

  async submit(kind, form, card, link) {
    const v = form.elements;
    const value = (name) => v[name].value.trim() || undefined;
    const body = { customer_id: card.id, project_id: Number(v.project_id.value) || null,
                   linkedid: link?.linkedid ?? null };
    if (kind === "complaint") {
      Object.assign(body, { department: value("department"), category: value("category"),
                            grade: v.grade.value || "general", description: value("description") ?? "",
                            customer_demand: v.customer_demand.value.trim() });
    } else {
      Object.assign(body, { crew: value("crew") ?? null, description: value("description") ?? "" });
    }
    const saved = await submitting(form, () => api.post(
      kind === "complaint" ? "/api/complaints" : "/api/repairs", body),
    { rename: (f) => (f === "call_id" || f === "linkedid" ? null : f) });
    if (!saved) return;
    const done = kind === "complaint"
      ? msg("tickets.complaint_opened", { id: saved.id, department: saved.department })
      : msg("tickets.repair_reported", { id: saved.id, crew: saved.crew });
    toast(done.$t, done.args); // the open list below links to it (the console stays put)
    this.close();
  }
}
