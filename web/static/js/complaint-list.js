// The complaints list: a filter (open, overdue, due soon, mine, all; a department for those
// who see every department) and one row per complaint with its most urgent clock.
import { api, query } from "./api.js";
import { chip, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { dateTime, setText } from "./i18n.js";
import { shownClock, STATE_KIND, STATUS_KIND, untilMessage } from "./complaint-labels.js";

const FILTERS = ["open", "overdue", "due_soon", "mine", "all"];

/** A row of toggle buttons; `onChange(value)` when one is pressed. */
export function filterButtons(values, current, labelPrefix, onChange) {
  const group = h("div", { class: "segmented", role: "group" });
  for (const value of values) {
    group.append(h("button", {
      type: "button", class: "segment", dataset: { filter: value },
      "aria-pressed": String(value === current), i18n: `${labelPrefix}.${value}`,
      onclick: (event) => {
        for (const b of group.querySelectorAll("button")) {
          b.setAttribute("aria-pressed", String(b === event.currentTarget));
        }
        onChange(value);
      },
    }));
  }
  return group;
}

export class ComplaintList {
  /** options: user, departments, filter, onOpen(id) */
  constructor({ filters, rows, status }, options) {
    this.rows = rows;
    this.status = status;
    this.options = options;
    this.filter = FILTERS.includes(options.filter) ? options.filter : "open";
    this.department = "";
    this.current = null;
    this.complaints = [];
    const role = options.user.role;
    const shown = FILTERS.filter((f) => f !== "mine" || ["agent", "supervisor"].includes(role));
    if (!shown.includes(this.filter)) this.filter = "open";
    const parts = [filterButtons(shown, this.filter, "complaint.filter", (value) => {
      this.filter = value;
      this.options.onFilter?.(value);
      this.load();
    })];
    if (role !== "department") {
      const select = h("select", { id: "complaint-f-department",
                                   i18nAttrs: { "aria-label": "complaint.col.department" } },
        h("option", { value: "", i18n: "complaint.all_departments" }),
        options.departments.map((d) => h("option", { value: d, text: d })));
      select.addEventListener("change", () => {
        this.department = select.value;
        this.load();
      });
      parts.push(select);
    }
    replace(filters, parts);
  }

  params() {
    const base = { department: this.department, limit: 500 };
    if (this.filter === "overdue" || this.filter === "due_soon") return [{ ...base, state: this.filter }];
    if (this.filter === "mine") return [{ ...base, mine: true }];
    if (this.filter === "open") return [{ ...base, status: "open" }, { ...base, status: "resolved" }];
    return [base];
  }

  async load() {
    const asked = this.filter;
    this.rows.closest("table").setAttribute("aria-busy", "true");
    let found;
    try {
      const lists = await Promise.all(this.params().map((p) => api.get(`/api/complaints${query(p)}`)));
      found = lists.flat();
    } catch (error) {
      setText(this.status, "complaint.list_failed", { error: errorMessage(error) });
      return;
    } finally {
      this.rows.closest("table").removeAttribute("aria-busy");
    }
    if (asked !== this.filter) return; // a newer filter is loading
    if (asked === "open") found.sort(byUrgency);
    this.complaints = found;
    this.render();
  }

  setCurrent(id) {
    this.current = id;
    for (const row of this.rows.querySelectorAll("tr[data-complaint-id]")) {
      row.classList.toggle("is-current", Number(row.dataset.complaintId) === id);
    }
  }

  render() {
    setText(this.status, this.complaints.length ? "complaint.count" : "complaint.none",
            { n: this.complaints.length });
    if (!this.complaints.length) {
      replace(this.rows, h("tr", { class: "ticket-empty-row" },
        h("td", { colspan: 8, class: "muted", i18n: "complaint.none" })));
      return;
    }
    replace(this.rows, this.complaints.map((c) => this.row(c)));
    this.setCurrent(this.current);
  }

  row(c) {
    const clock = shownClock(c);
    const open = (event) => {
      event.preventDefault();
      this.options.onOpen(c.id);
    };
    return h("tr", { dataset: { complaintId: c.id, status: c.status,
                                state: clock?.state ?? "" }, onclick: open },
      h("td", {}, h("a", { href: `/complaints?open=${c.id}`, class: "ticket-open mono",
                           text: `#${c.id}`, onclick: open })),
      h("td", { class: "mono nowrap", text: dateTime(c.received_at) }),
      h("td", { text: c.customer_name }),
      h("td", { text: c.department }),
      h("td", { i18n: `complaint.category.${c.category}` }),
      h("td", {}, chip(c.grade === "major" ? "bad" : "muted", `complaint.grade.${c.grade}`)),
      h("td", {}, chip(STATUS_KIND[c.status], `complaint.status.${c.status}`)),
      h("td", { class: "ticket-clock" }, clockCell(clock, c.server_time)));
  }
}

/** A step's clock in a cell: the step, its state, and time left or late by. */
export function clockCell(clock, serverTime) {
  if (!clock) return h("span", { class: "muted", text: "—" });
  const until = clock.due_at && !clock.done_at ? untilMessage(clock.due_at, serverTime) : null;
  return h("span", { class: ["clock", `clock-${clock.state}`], dataset: { step: clock.step } },
    h("span", { class: "clock-step", i18n: `complaint.step.${clock.step}` }),
    chip(STATE_KIND[clock.state], `complaint.state.${clock.state}`),
    until && h("span", { class: "clock-until mono", i18n: [until.$t, until.args] }));
}

const RANK = { overdue: 0, due_soon: 1 };

function byUrgency(a, b) {
  const rank = (c) => RANK[c.urgent?.state] ?? 2;
  const due = (c) => (c.next_due_at ? Date.parse(c.next_due_at) : Infinity);
  return rank(a) - rank(b) || due(a) - due(b) || b.id - a.id;
}
