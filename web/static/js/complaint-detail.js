// One complaint: its facts, the five step clocks (due, done, state), what can be done next
// by this user (complaint-actions.js) and the history of everything that happened to it.
import { api } from "./api.js";
import { chip, h, replace, uid } from "./dom.js";
import { errorMessage, redrawKeeping } from "./forms.js";
import { dateTime, msg } from "./i18n.js";
import { complaintActions } from "./complaint-actions.js";
import { STATE_KIND, STATUS_KIND, untilMessage } from "./complaint-labels.js";

export class ComplaintDetail {
  /** options: user, onChanged(complaint) */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.complaint = null;
    this.showEmpty();
  }

  showEmpty() {
    this.complaint = null;
    replace(this.root, h("p", { class: "muted empty-note", i18n: "complaint.pick" }));
  }

  async open(id, { focus = false, keep = false } = {}) {
    try {
      this.show(await api.get(`/api/complaints/${id}`), { keep });
    } catch (error) {
      this.complaint = null;
      replace(this.root, h("p", { class: "form-error", role: "alert", text: errorMessage(error) }));
      return;
    }
    if (focus) this.root.focus({ preventScroll: false });
  }

  /** The same complaint again (every half minute, on each warning): what the user is typing
   * in its forms stays. */
  async reload() {
    if (this.complaint) await this.open(this.complaint.id, { keep: true });
  }

  show(c, { keep = false } = {}) {
    if (keep && this.complaint?.id === c.id) redrawKeeping(this.root, () => this.draw(c));
    else this.draw(c);
  }

  draw(c) {
    this.complaint = c;
    const titleId = uid("cmp");
    replace(this.root, h("article", { class: "complaint", dataset: { complaintId: c.id,
                                                                    status: c.status },
                                      "aria-labelledby": titleId },
      h("header", { class: "ticket-title" },
        h("h2", { id: titleId, i18n: ["complaint.title", { id: c.id }] }),
        chip(STATUS_KIND[c.status], `complaint.status.${c.status}`),
        chip(c.grade === "major" ? "bad" : "muted", `complaint.grade.${c.grade}`),
        c.reopened ? chip("warn", "complaint.reopened", { n: c.reopened }) : null),
      facts(c),
      clocks(c),
      complaintActions(c, { user: this.options.user, onDone: (saved) => this.saved(saved) }),
      history(c)));
  }

  async saved(complaint) {
    await this.open(complaint.id);
    this.options.onChanged?.(complaint);
  }
}

function fact(label, value, className) {
  if (value === null || value === undefined || value === "") return null;
  return h("div", { class: className },
    h("dt", { i18n: label }),
    h("dd", {}, value instanceof Node ? value : String(value)));
}

function facts(c) {
  const compensation = c.compensation ? h("span", {},
    h("span", { class: "mono", text: `¥${c.compensation} ` }),
    c.compensation_approved_at
      ? chip("good", "complaint.compensation_approved", { at: dateTime(c.compensation_approved_at) })
      : chip("warn", "complaint.compensation_pending")) : null;
  return h("dl", { class: "ticket-facts" },
    fact("complaint.f.customer", h("span", {}, c.customer_name,
      h("span", { class: "muted small", i18n: ["customer.id", { id: c.customer_id }] }))),
    fact("complaint.f.project", c.project_id ? `#${c.project_id}` : null),
    fact("complaint.f.department", c.department),
    fact("complaint.f.category", h("span", { i18n: `complaint.category.${c.category}` })),
    fact("complaint.f.source", h("span", { i18n: `complaint.source.${c.source}` })),
    fact("complaint.f.received", dateTime(c.received_at)),
    fact("complaint.f.first_contact", c.first_contact_name),
    fact("complaint.f.manager", c.manager_name),
    fact("complaint.f.signed_by", c.signed_by),
    fact("complaint.f.visit", c.visit_at ? dateTime(c.visit_at) : null),
    fact("complaint.f.compensation", compensation),
    fact("complaint.f.description", c.description, "wide pre"),
    fact("complaint.f.demand", c.customer_demand, "wide pre"),
    fact("complaint.f.solution", c.solution, "wide pre"));
}

function clocks(c) {
  const headingId = uid("clk");
  return h("section", { class: "ticket-clocks", "aria-labelledby": headingId },
    h("h3", { id: headingId, class: "section-title", i18n: "complaint.clocks" }),
    h("table", { class: "data-table clock-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", i18n: "complaint.clock.step" }),
        h("th", { scope: "col", i18n: "complaint.clock.due" }),
        h("th", { scope: "col", i18n: "complaint.clock.done" }),
        h("th", { scope: "col", i18n: "complaint.clock.state" }))),
      h("tbody", {}, c.clocks.map((clock) => {
        const until = clock.due_at && !clock.done_at && c.status !== "closed"
          ? untilMessage(clock.due_at, c.server_time) : null;
        return h("tr", { dataset: { step: clock.step, state: clock.state } },
          h("th", { scope: "row", i18n: `complaint.step.${clock.step}` }),
          h("td", { class: "mono nowrap", text: clock.due_at ? dateTime(clock.due_at) : "—" }),
          h("td", { class: "mono nowrap", text: clock.done_at ? dateTime(clock.done_at) : "—" }),
          h("td", {}, chip(STATE_KIND[clock.state], `complaint.state.${clock.state}`),
            until && h("span", { class: "clock-until mono", i18n: [until.$t, until.args] })));
      }))));
}

/** What an event says, beyond its kind. */
function eventDetail(event) {
  const d = event.detail || {};
  const parts = [];
  if (d.signed_by) parts.push(msg("complaint.ev.signed_by", { name: d.signed_by }));
  if (d.solution) parts.push(msg("complaint.ev.solution", { text: d.solution }));
  if (d.visit_at) parts.push(msg("complaint.ev.visit", { at: dateTime(d.visit_at) }));
  if (d.reason) {
    parts.push(d.reason === "compensation" ? msg("complaint.ev.for_compensation")
      : msg("complaint.ev.reason", { text: d.reason }));
  }
  if (d.amount) parts.push(msg("complaint.ev.amount", { amount: d.amount }));
  if (event.kind === "call_back") {
    parts.push(msg(d.satisfied ? "complaint.ev.satisfied" : "complaint.ev.unsatisfied"));
  }
  if (event.kind === "alert") {
    parts.push(msg("complaint.ev.alert", { step: msg(`complaint.step.${d.step}`),
                                           state: msg(`complaint.state.${d.state}`) }));
  }
  if (event.kind === "opened" && d.source) {
    parts.push(msg("complaint.ev.opened", { source: msg(`complaint.source.${d.source}`),
                                            department: d.department || "" }));
  }
  if (d.notes) parts.push(msg("complaint.ev.notes", { text: d.notes }));
  return parts;
}

function history(c) {
  const headingId = uid("hist");
  return h("section", { class: "ticket-history", "aria-labelledby": headingId },
    h("h3", { id: headingId, class: "section-title", i18n: "complaint.history" }),
    h("ol", { class: "ticket-events" }, (c.events || []).map((event) => h("li", {
      dataset: { kind: event.kind } },
      h("span", { class: "mono small event-time", text: dateTime(event.at) }),
      h("span", { class: "event-kind", i18n: `complaint.ev.kind.${event.kind}` }),
      event.actor_name ? h("span", { class: "muted small", text: event.actor_name })
        : h("span", { class: "muted small", i18n: event.actor_id ? "complaint.ev.someone"
                                                                   : "complaint.ev.system" }),
      h("span", { class: "event-detail" }, eventDetail(event).map((part) => h("span", {
        i18n: [part.$t, part.args] })))))));
}
