// A campaign's attempts, newest first, a page at a time: when, whom (and the number dialed),
// which stage, which agent, the outcome (or still in progress), the customer's satisfaction
// and the agent's notes; and the whole list as an XLSX file.
import { api, query } from "./api.js";
import { chip, h, replace } from "./dom.js";
import { dateTime, msg, setText } from "./i18n.js";
import { OUTCOME_KIND, SATISFACTION_KIND, stageText } from "./campaign-labels.js";
import { AREAS } from "./labels.js";
import { phoneText } from "./qa-labels.js";

export const PAGE_SIZE = 20;
const COLUMNS = ["time", "customer", "stage", "agent", "outcome", "satisfaction", "notes"];

export class AttemptsView {
  /** agentName(id) → the agent's name, or null when unknown */
  constructor(campaignId, { agentName }) {
    this.campaignId = campaignId;
    this.agentName = agentName;
    this.offset = 0;
    this.asked = 0;
    this.body = h("tbody", { id: "campaign-attempts-rows" });
    this.status = h("p", { class: "muted small", role: "status" });
    this.pager = h("div", { class: "qa-pager campaign-pager" });
    this.pager.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-page]");
      if (!button) return;
      this.offset = Math.max(0, this.offset + Number(button.dataset.page) * PAGE_SIZE);
      this.load();
    });
    this.element = h("section", { class: "panel campaign-attempts",
                                  "aria-labelledby": "campaign-attempts-heading" },
      h("div", { class: "panel-head" },
        h("h2", { id: "campaign-attempts-heading", i18n: "campaigns.attempts" }),
        this.status,
        h("a", { id: "campaign-export", class: "button button-small",
                 href: `/api/campaigns/${campaignId}/attempts.xlsx`, download: "",
                 i18n: "campaigns.export" })),
      h("div", { class: "table-wrap", tabindex: "0" },
        h("table", { class: "data-table campaign-attempts-table",
                     "aria-labelledby": "campaign-attempts-heading" },
          h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", {
            scope: "col", i18n: `campaigns.acol.${name}` })))),
          this.body)),
      this.pager);
  }

  /** Fetch the current page (quietly: a failed refresh keeps what is shown). */
  async load() {
    const asked = ++this.asked;
    let rows;
    try {
      rows = await api.get(`/api/campaigns/${this.campaignId}/attempts${query({
        limit: PAGE_SIZE + 1, offset: this.offset })}`);
    } catch {
      if (asked === this.asked && !this.body.childElementCount) {
        setText(this.status, "campaigns.attempts_failed");
      }
      return;
    }
    if (asked !== this.asked) return;
    if (!rows.length && this.offset > 0) { // the page emptied: back to the first one
      this.offset = 0;
      this.load();
      return;
    }
    this.render(rows.slice(0, PAGE_SIZE), rows.length > PAGE_SIZE);
  }

  render(rows, more) {
    if (!rows.length) {
      replace(this.body, h("tr", {}, h("td", { colspan: COLUMNS.length, class: "muted",
                                              i18n: "campaigns.no_attempts" })));
    } else {
      replace(this.body, rows.map((row) => this.row(row)));
    }
    const page = Math.floor(this.offset / PAGE_SIZE) + 1;
    setText(this.status, "campaigns.attempts_count", { n: rows.length, page });
    const focused = document.activeElement?.closest?.(".campaign-pager button")?.dataset.page;
    replace(this.pager,
      h("button", { type: "button", class: "button-small", dataset: { page: -1 },
                    disabled: this.offset === 0, i18n: "qa.prev_page" }),
      h("span", { class: "mono", i18n: ["qa.page", { n: page }] }),
      h("button", { type: "button", class: "button-small", dataset: { page: 1 },
                    disabled: !more, i18n: "qa.next_page" }));
    if (focused) this.pager.querySelector(`button[data-page="${focused}"]:not(:disabled)`)?.focus();
  }

  row(row) {
    const satisfaction = h("span", { class: "satisfaction" });
    for (const area of AREAS) {
      const value = row.satisfaction?.[area];
      if (!value) continue;
      satisfaction.append(h("span", {
        class: ["sat", `sat-${SATISFACTION_KIND[value]}`], dataset: { area, value },
        i18n: ["sat.pair", { area: msg(`area.${area}`), value: msg(`sat.${value}`) }] }));
    }
    const agent = row.agent_id ? this.agentName(row.agent_id) : null;
    return h("tr", { dataset: { attemptId: row.id, outcome: row.outcome || "" } },
      h("td", { class: "mono nowrap", text: dateTime(row.started_at) }),
      h("td", {},
        h("span", { class: "campaign-customer", text: row.customer_name }),
        row.dialed_number && h("span", { class: "muted small mono",
                                         text: phoneText(row.dialed_number) })),
      h("td", { class: "nowrap", ...stageText(row.stage, row.month) }),
      h("td", { class: "nowrap" }, agent ? h("span", { text: agent })
        : row.agent_id ? h("span", { class: "mono", text: `#${row.agent_id}` })
          : h("span", { class: "muted", i18n: "campaigns.via_queue" })),
      h("td", {}, row.outcome
        ? chip(OUTCOME_KIND[row.outcome] || "muted", `outcome.${row.outcome}`)
        : chip("info", "attempt.in_progress")),
      h("td", {}, satisfaction.childElementCount ? satisfaction : h("span", { class: "muted", text: "—" })),
      h("td", { class: "campaign-notes", text: row.notes || "" }));
  }
}
