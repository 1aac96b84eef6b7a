// Access to callback records (查阅申请): a department asks for one project's or one customer's
// records (why, until when) and, once the customer-service manager approves, reads them here;
// the manager sees every request and approves (perhaps for less time), rejects or revokes.
import { api } from "./api.js";
import { dateTimeInput } from "./date-input.js";
import { chip, h, replace, uid } from "./dom.js";
import { errorMessage, field, formError, radioGroup, submitting } from "./forms.js";
import { dateTime, localInputValue, msg, setText } from "./i18n.js";
import { GRANT_STATUS_KIND } from "./complaint-labels.js";
import { isoOf } from "./complaint-actions.js";
import { AREAS, taskMessage } from "./labels.js";
import { toast } from "./toast.js";

const WEEK_MS = 7 * 24 * 3600 * 1000;

export class AccessTab {
  /** options: user */
  constructor(root, options) {
    this.root = root;
    this.user = options.user;
    this.requests = [];
    this.status = h("p", { class: "muted small", role: "status" });
    this.rows = h("tbody", { id: "access-rows" });
    this.records = h("section", { id: "access-records", class: "panel access-records",
                                  tabindex: "-1", hidden: true });
    const headingId = uid("acc");
    const list = h("section", { class: "panel", "aria-labelledby": headingId },
      h("div", { class: "panel-head" },
        h("h2", { id: headingId, i18n: this.user.role === "department" ? "access.mine"
                                                                          : "access.all" }),
        this.status),
      h("div", { class: "table-wrap", tabindex: "0" }, h("table", { class: "data-table access-table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", i18n: "access.col.id" }),
          this.user.role !== "department" && h("th", { scope: "col", i18n: "access.col.requester" }),
          h("th", { scope: "col", i18n: "access.col.target" }),
          h("th", { scope: "col", i18n: "access.col.reason" }),
          h("th", { scope: "col", i18n: "access.col.wanted" }),
          h("th", { scope: "col", i18n: "access.col.status" }),
          h("th", { scope: "col", i18n: "access.col.until" }),
          h("th", { scope: "col", i18n: "access.col.actions" }))),
        this.rows)));
    replace(root, this.user.role === "department" ? this.requestForm() : null, list,
            this.records);
  }

  requestForm() {
    const target = radioGroup({ name: "target", legend: "access.target", value: "project",
      options: [{ value: "project", label: "access.target.project" },
                { value: "customer", label: "access.target.customer" }] });
    const until = dateTimeInput({ value: localInputValue(new Date(Date.now() + WEEK_MS)) });
    const form = h("form", { id: "access-request-form", class: "panel card-form access-form",
                             novalidate: true },
      h("h2", { i18n: "access.request" }),
      formError(),
      h("div", { class: "form-grid" },
        target,
        field({ name: "target_id", label: "access.target_id",
                input: h("input", { inputmode: "numeric", class: "mono", maxlength: 12 }) }),
        field({ name: "wanted_until", label: "access.wanted_until", input: until }),
        field({ name: "reason", label: "access.reason", className: "wide",
                input: h("textarea", { rows: 2, maxlength: 2000 }) })),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary", i18n: "access.request_submit" })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const v = form.elements;
      const id = Number(v.target_id.value.trim()) || null;
      const kind = v.target.value;
      const saved = await submitting(form, () => api.post("/api/access-requests", {
        project_id: kind === "project" ? id : null, customer_id: kind === "customer" ? id : null,
        reason: v.reason.value.trim(), wanted_until: isoOf(v.wanted_until) ?? undefined,
      }), { rename: (f) => (f === "project_id" || f === "customer_id" ? "target_id" : f) });
      if (!saved) return;
      toast("access.requested", { id: saved.id });
      v.target_id.value = "";
      v.reason.value = "";
      this.load();
    });
    return form;
  }

  async load() {
    try {
      this.requests = await api.get("/api/access-requests?limit=500");
    } catch (error) {
      setText(this.status, "access.list_failed", { error: errorMessage(error) });
      return;
    }
    setText(this.status, this.requests.length ? "access.count" : "access.none",
            { n: this.requests.length });
    const columns = this.user.role === "department" ? 7 : 8;
    replace(this.rows, this.requests.length ? this.requests.map((g) => this.row(g))
      : h("tr", {}, h("td", { colspan: columns, class: "muted", i18n: "access.none" })));
  }

  row(g) {
    const target = g.project_id ? msg("access.project", { id: g.project_id })
      : msg("access.customer", { id: g.customer_id });
    const row = h("tr", { dataset: { grantId: g.id, status: g.status } },
      h("td", { class: "mono", text: `#${g.id}` }),
      this.user.role !== "department" && h("td", { text: g.requester_name }),
      h("td", { i18n: [target.$t, target.args] }),
      h("td", { class: "pre", text: g.reason }),
      h("td", { class: "mono nowrap", text: dateTime(g.wanted_until) }),
      h("td", {}, chip(GRANT_STATUS_KIND[g.status], `access.status.${g.status}`),
        g.decision_note ? h("span", { class: "muted small block", text: g.decision_note }) : null),
      h("td", { class: "mono nowrap", text: g.expires_at ? dateTime(g.expires_at) : "—" }),
      h("td", { class: "row-actions" }, this.buttons(g, () => row)));
    return row;
  }

  buttons(g, rowOf) {
    const role = this.user.role;
    const button = (label, onclick, className) => h("button", {
      type: "button", class: ["button-small", className], i18n: label,
      dataset: { action: label.split(".").at(-1) }, onclick });
    if (role === "department" && g.status === "approved") {
      return button("access.read", () => (g.project_id ? this.read(g.project_id)
        : this.askProject(g, rowOf())));
    }
    if (role !== "supervisor") return null;
    if (g.status === "requested") {
      return [button("access.approve", () => this.decide(g, rowOf(), "approve"), "primary"),
              button("access.reject", () => this.decide(g, rowOf(), "reject"), "danger")];
    }
    if (g.status === "approved") {
      return button("access.revoke", () => this.decide(g, rowOf(), "revoke"), "danger");
    }
    return null;
  }

  /** The decision's form in a row under the request: an end (approve) and a note. */
  decide(g, row, action) {
    row.nextElementSibling?.classList.contains("inline-row") && row.nextElementSibling.remove();
    const fields = [];
    if (action === "approve") {
      fields.push(field({ name: "expires_at", label: "access.expires_at",
                          hint: "access.expires_hint",
                          input: dateTimeInput() }));
    }
    fields.push(field({ name: "note", label: "access.note",
                        input: h("input", { maxlength: 2000 }) }));
    const form = h("form", { class: "card-form inline-form", novalidate: true,
                             dataset: { decision: action } },
      formError(), h("div", { class: "form-grid" }, fields),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: action === "approve" ? "primary" : "danger",
                      i18n: `access.${action}_submit` }),
        h("button", { type: "button", class: "button-quiet", i18n: "access.cancel",
                      onclick: () => inline.remove() })));
    const inline = h("tr", { class: "inline-row" },
      h("td", { colspan: row.children.length }, form));
    row.after(inline);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const v = form.elements;
      const saved = await submitting(form, () => api.post(
        `/api/access-requests/${g.id}/${action}`,
        { note: v.note.value.trim(), expires_at: v.expires_at ? isoOf(v.expires_at) : undefined }));
      if (!saved) return;
      toast(`access.done.${action}`, { id: g.id });
      this.load();
    });
    form.querySelector("input")?.focus();
  }

  /** A customer's grant covers each of their projects: which one to read. */
  askProject(g, row) {
    row.nextElementSibling?.classList.contains("inline-row") && row.nextElementSibling.remove();
    const form = h("form", { class: "card-form inline-form", novalidate: true },
      h("div", { class: "form-grid" },
        field({ name: "project_id", label: "access.project_id",
                input: h("input", { inputmode: "numeric", class: "mono", maxlength: 12 }) })),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary", i18n: "access.read" })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const id = Number(form.elements.project_id.value.trim());
      if (id) this.read(id);
    });
    row.after(h("tr", { class: "inline-row" }, h("td", { colspan: row.children.length }, form)));
    form.querySelector("input").focus();
  }

  /** A project's callback records, read under the grant (the server audits each read). */
  async read(projectId) {
    const box = this.records;
    box.hidden = false;
    let project;
    try {
      project = await api.get(`/api/granted/projects/${projectId}/callbacks`);
    } catch (error) {
      replace(box, h("p", { class: "form-error", role: "alert", text: errorMessage(error) }));
      box.focus();
      return;
    }
    replace(box,
      h("div", { class: "panel-head" },
        h("h2", { i18n: ["access.records", { n: project.contract_number }] }),
        h("span", { class: "muted small", i18n: "access.audited" }),
        h("button", { type: "button", class: "button-quiet", i18n: "access.close",
                      onclick: () => { box.hidden = true; } })),
      h("dl", { class: "ticket-facts" },
        ["address", "designer", "project_manager", "foreman", "crew"].map((name) => project[name]
          ? h("div", {}, h("dt", { i18n: `project.${name}` }), h("dd", { text: project[name] }))
          : null)),
      h("table", { class: "data-table access-callbacks" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", i18n: "access.cb.stage" }),
          h("th", { scope: "col", i18n: "access.cb.due" }),
          h("th", { scope: "col", i18n: "access.cb.status" }),
          h("th", { scope: "col", i18n: "access.cb.attempts" }))),
        h("tbody", {}, project.callbacks.map((task) => {
          const name = taskMessage(task);
          return h("tr", { dataset: { taskId: task.id } },
            h("th", { scope: "row", i18n: [name.$t, name.args] }),
            h("td", { class: "mono nowrap", text: task.due_date }),
            h("td", { i18n: `task.status.${task.status}` }),
            h("td", {}, task.attempts.length ? h("ul", { class: "access-attempts" },
              task.attempts.map((a) => h("li", {},
                h("span", { class: "mono small", text: dateTime(a.started_at) }),
                a.outcome && h("span", { i18n: `outcome.${a.outcome}` }),
                AREAS.filter((area) => a.satisfaction?.[area]).map((area) => h("span", {
                  class: "small", i18n: ["sat.pair", { area: msg(`area.${area}`),
                                                      value: msg(`sat.${a.satisfaction[area]}`) }] })),
                a.notes && h("span", { class: "small pre", text: a.notes }))))
              : h("span", { class: "muted", text: "—" })));
        }))));
    box.focus();
  }
}
