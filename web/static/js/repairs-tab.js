// Repairs (报修): the list (open ones, crews late to arrive, all), one repair with what can be
// done next (the crew arrived, finished; customer service's calls during and after, with the
// customer's satisfaction), and each crew's record from /api/repairs/crews.
import { api, query } from "./api.js";
import { dateTimeInput } from "./date-input.js";
import { chip, h, replace, uid } from "./dom.js";
import { errorMessage, field, formError, radioGroup, submitting } from "./forms.js";
import { dateTime, msg, setText } from "./i18n.js";
import { REPAIR_STATUS_KIND, SATISFACTION_KIND, untilMessage } from "./complaint-labels.js";
import { isoOf } from "./complaint-actions.js";
import { filterButtons } from "./complaint-list.js";
import { toast } from "./toast.js";

const FILTERS = ["open", "overdue", "all"];
const WORKERS = ["agent", "supervisor", "department"]; // arrived, completed
const CALLERS = ["agent", "supervisor"]; // calls during and after

export class RepairsTab {
  /** els: filters, rows, status, detail, crews; options: user, filter, onOpen(id) */
  constructor(els, options) {
    this.els = els;
    this.options = options;
    this.filter = FILTERS.includes(options.filter) ? options.filter : "open";
    this.repairs = [];
    this.current = null;
    replace(els.filters, filterButtons(FILTERS, this.filter, "repair.filter", (value) => {
      this.filter = value;
      this.options.onFilter?.(value);
      this.load();
    }));
    this.showEmpty();
  }

  showEmpty() {
    this.current = null;
    replace(this.els.detail, h("p", { class: "muted empty-note", i18n: "repair.pick" }));
  }

  async load() {
    const asked = this.filter;
    let found;
    try {
      found = await api.get(`/api/repairs${query({ overdue: asked === "overdue" || "",
                                                   limit: 500 })}`);
    } catch (error) {
      setText(this.els.status, "repair.list_failed", { error: errorMessage(error) });
      return;
    }
    if (asked !== this.filter) return;
    this.repairs = asked === "open" ? found.filter((r) => r.status !== "closed") : found;
    this.render();
    this.loadCrews();
  }

  render() {
    setText(this.els.status, this.repairs.length ? "repair.count" : "repair.none",
            { n: this.repairs.length });
    if (!this.repairs.length) {
      replace(this.els.rows, h("tr", { class: "ticket-empty-row" },
        h("td", { colspan: 7, class: "muted", i18n: "repair.none" })));
      return;
    }
    replace(this.els.rows, this.repairs.map((r) => this.row(r)));
    this.markCurrent();
  }

  markCurrent() {
    for (const row of this.els.rows.querySelectorAll("tr[data-repair-id]")) {
      row.classList.toggle("is-current", Number(row.dataset.repairId) === this.current);
    }
  }

  row(r) {
    const open = (event) => {
      event.preventDefault();
      this.options.onOpen(r.id);
    };
    return h("tr", { dataset: { repairId: r.id, status: r.status,
                                late: String(r.arrival_late) }, onclick: open },
      h("td", {}, h("a", { href: `/complaints?tab=repairs&repair=${r.id}`,
                           class: "ticket-open mono", text: `#${r.id}`, onclick: open })),
      h("td", { class: "mono nowrap", text: dateTime(r.reported_at) }),
      h("td", { text: r.customer_name }),
      h("td", { text: r.crew }),
      h("td", {}, chip(REPAIR_STATUS_KIND[r.status], `repair.status.${r.status}`)),
      h("td", { class: "ticket-clock" }, arrivalCell(r)),
      h("td", { class: "small" },
        r.during_call_at ? chip("info", "repair.called_during") : null,
        r.satisfaction ? chip(SATISFACTION_KIND[r.satisfaction], `sat.${r.satisfaction}`) : null));
  }

  async open(id) {
    this.current = id;
    this.markCurrent();
    let repair;
    try {
      repair = await api.get(`/api/repairs/${id}`);
    } catch (error) {
      replace(this.els.detail, h("p", { class: "form-error", role: "alert",
                                        text: errorMessage(error) }));
      return;
    }
    this.show(repair);
  }

  show(r) {
    const titleId = uid("rep");
    replace(this.els.detail, h("article", { class: "repair", "aria-labelledby": titleId,
                                            dataset: { repairId: r.id, status: r.status } },
      h("header", { class: "ticket-title" },
        h("h2", { id: titleId, i18n: ["repair.title", { id: r.id }] }),
        chip(REPAIR_STATUS_KIND[r.status], `repair.status.${r.status}`),
        r.arrival_late ? chip("bad", "repair.late") : null),
      h("dl", { class: "ticket-facts" },
        fact("repair.f.customer", r.customer_name),
        fact("repair.f.project", r.project_id ? `#${r.project_id}` : null),
        fact("repair.f.crew", r.crew),
        fact("repair.f.reported", dateTime(r.reported_at)),
        fact("repair.f.due", dateTime(r.arrival_due_at)),
        fact("repair.f.arrived", r.arrived_at ? dateTime(r.arrived_at) : null),
        fact("repair.f.completed", r.completed_at ? dateTime(r.completed_at) : null),
        fact("repair.f.during", r.during_call_at ? dateTime(r.during_call_at) : null),
        fact("repair.f.after", r.after_call_at ? dateTime(r.after_call_at) : null),
        fact("repair.f.satisfaction", r.satisfaction
          ? chip(SATISFACTION_KIND[r.satisfaction], `sat.${r.satisfaction}`) : null),
        fact("repair.f.description", r.description, "wide pre"),
        fact("repair.f.notes", r.notes, "wide pre")),
      this.actions(r)));
  }

  actions(r) {
    const role = this.options.user.role;
    const forms = [];
    const url = `/api/repairs/${r.id}`;
    const when = () => field({ name: "at", label: "repair.a.at", hint: "complaint.a.at_hint",
                               input: dateTimeInput() });
    const notes = () => field({ name: "notes", label: "complaint.a.notes",
                                input: h("textarea", { rows: 2, maxlength: 4000 }) });
    if (r.status === "assigned" && WORKERS.includes(role)) {
      forms.push(this.form("arrived", "repair.a.arrived", [when()],
        (v) => api.post(`${url}/arrived`, { at: isoOf(v.at) })));
    }
    if (r.status === "on_site" && CALLERS.includes(role)) {
      forms.push(this.form("call-during", "repair.a.call_during", [notes()],
        (v) => api.post(`${url}/call-during`, { notes: v.notes.value.trim() })));
    }
    if (r.status === "on_site" && WORKERS.includes(role)) {
      forms.push(this.form("completed", "repair.a.completed", [when(), notes()],
        (v) => api.post(`${url}/completed`, { at: isoOf(v.at), notes: v.notes.value.trim() })));
    }
    if (r.status === "done" && CALLERS.includes(role)) {
      forms.push(this.form("call-after", "repair.a.call_after", [
        radioGroup({ name: "satisfaction", legend: "repair.a.satisfaction", value: "",
                     options: ["satisfied", "neutral", "unsatisfied"].map((s) => ({
                       value: s, label: `sat.${s}`, className: `sat-option-${s}` })) }),
        notes(),
      ], (v) => api.post(`${url}/call-after`, { satisfaction: v.satisfaction.value || undefined,
                                                notes: v.notes.value.trim() })));
    }
    if (!forms.length) return null;
    return h("section", { class: "ticket-actions" },
      h("h3", { class: "section-title", i18n: "complaint.actions" }), forms);
  }

  form(name, heading, fields, send) {
    const form = h("form", { class: ["card-form", "ticket-action"], novalidate: true,
                             dataset: { action: name } },
      h("h4", { i18n: heading }), formError(), fields,
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary", i18n: "complaint.a.record" })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const saved = await submitting(form, () => send(form.elements));
      if (!saved) return;
      toast("repair.a.saved", { id: saved.id, what: msg(heading) });
      this.show(saved);
      this.load();
    });
    return form;
  }

  async loadCrews() {
    let crews;
    try {
      crews = await api.get("/api/repairs/crews");
    } catch {
      return; // the list says when the server is away
    }
    const num = (value) => h("td", { class: ["num", "mono", value === 0 && "is-zero"],
                                     text: value });
    replace(this.els.crews, crews.length ? crews.map((c) => h("tr", { dataset: { crew: c.crew } },
      h("th", { scope: "row", text: c.crew }),
      num(c.repairs), num(c.arrived), num(c.arrived_on_time),
      h("td", { class: "num mono", text: c.on_time_rate === null ? "—"
        : `${Math.round(c.on_time_rate * 100)}%` }),
      num(c.satisfied), num(c.neutral), num(c.unsatisfied)))
      : h("tr", {}, h("td", { colspan: 8, class: "muted", i18n: "repair.no_crews" })));
  }
}

function fact(label, value, className) {
  if (value === null || value === undefined || value === "") return null;
  return h("div", { class: className }, h("dt", { i18n: label }),
    h("dd", {}, value instanceof Node ? value : String(value)));
}

/** The crew's arrival: due in / late by, or when it arrived (late or not). */
function arrivalCell(r) {
  if (r.arrived_at) {
    return h("span", { class: "clock" },
      chip(r.arrival_late ? "warn" : "good", r.arrival_late ? "repair.arrived_late"
        : "repair.arrived_on_time"),
      h("span", { class: "mono small", text: dateTime(r.arrived_at) }));
  }
  if (r.status !== "assigned") return h("span", { class: "muted", text: "—" });
  const until = untilMessage(r.arrival_due_at, r.server_time);
  return h("span", { class: ["clock", r.arrival_late && "clock-overdue"] },
    chip(r.arrival_late ? "bad" : "info", r.arrival_late ? "repair.late" : "repair.waiting"),
    h("span", { class: "clock-until mono", i18n: [until.$t, until.args] }));
}
