// The QA call list: filters (kept in the address, so a reload or a shared link shows the same
// calls), one row per answered call with its score coloured by what it lost, the failed rules,
// the transcription state and whether a reviewer has been through it; paging.
import { api, query } from "./api.js";
import { dateInput } from "./date-input.js";
import { chip, h, replace } from "./dom.js";
import { field, submitting } from "./forms.js";
import { dispositionCodes, dispositionName } from "./dispositions.js";
import { dateTime, duration, onLanguageChange, queueName, setAttrs, setText, t } from "./i18n.js";
import { JOB_KIND, phoneText, RULE_IDS, ruleText, scoreKind } from "./qa-labels.js";

export const PAGE_SIZE = 50;
const FILTERS = ["date_from", "date_to", "agent_id", "queue", "kind", "score_min", "score_max",
  "failed_rule", "disposition"];
const NOT_CODED = "none"; // the disposition filter's value for calls nobody coded
const AGENTS_KEY = "cc.qa.agents";

function rememberedAgents() {
  try {
    return new Map(JSON.parse(sessionStorage.getItem(AGENTS_KEY) || "[]"));
  } catch {
    return new Map();
  }
}

export class CallList {
  /** elements: filters, rowsElement (the tbody), status, pager; options: role. A row's
   * link is #call=ID: opening a call is the page's routing. */
  constructor(elements, { role }) {
    Object.assign(this, elements);
    this.role = role;
    this.rows = [];
    this.offset = 0;
    this.more = false;
    this.asked = 0;
    this.current = null; // the call last opened: marked in the list
    this.agents = rememberedAgents(); // id → name: from /api/agents, else as seen in the list
    this.queues = new Set();
    this.rules = new Set(RULE_IDS);
    this.values = this.fromAddress();
    this.codes = null; // the disposition codes, once read
    this.form = this.buildForm();
    replace(this.filters, this.form);
    this.pager.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-page]");
      if (!button) return;
      this.offset = Math.max(0, this.offset + Number(button.dataset.page) * PAGE_SIZE);
      this.saveAddress();
      this.load();
    });
  }

  fromAddress() {
    const params = new URLSearchParams(location.search);
    const values = {};
    for (const name of FILTERS) values[name] = params.get(name) ?? "";
    if (this.role === "agent") values.agent_id = "";
    this.offset = Math.max(0, Number(params.get("offset")) || 0);
    return values;
  }

  saveAddress() {
    const params = { ...this.values, offset: this.offset || "" };
    history.replaceState(history.state, "", `${location.pathname}${query(params)}${location.hash}`);
  }

  buildForm() {
    const v = this.values;
    const agentSelect = h("select", { id: "qa-f-agent" });
    this.agentSelect = agentSelect;
    const ruleSelect = h("select", { id: "qa-f-rule" });
    this.ruleSelect = ruleSelect;
    this.queueList = h("datalist", { id: "qa-queues" });
    this.dispositionSelect = h("select", { id: "qa-f-disposition" });
    const form = h("form", { id: "qa-filter-form", class: "qa-filter-form", role: "search",
                             novalidate: true },
      field({ name: "date_from", label: "qa.f.date_from",
              input: dateInput({ value: v.date_from }) }),
      field({ name: "date_to", label: "qa.f.date_to",
              input: dateInput({ value: v.date_to }) }),
      this.role !== "agent" && field({ name: "agent_id", label: "qa.f.agent", input: agentSelect,
                                       className: "qa-f-agent" }),
      field({ name: "queue", label: "qa.f.queue", className: "qa-f-queue",
              input: h("input", { value: v.queue, list: "qa-queues", maxlength: 64,
                                  autocomplete: "off", i18nAttrs: { placeholder: "qa.f.all" } }) }),
      this.queueList,
      field({ name: "kind", label: "qa.f.kind", className: "qa-f-kind",
              input: h("select", {},
                h("option", { value: "", i18n: "qa.f.all" }),
                h("option", { value: "inbound", selected: v.kind === "inbound", i18n: "qa.kind.inbound" }),
                h("option", { value: "outbound", selected: v.kind === "outbound",
                              i18n: "qa.kind.outbound" })) }),
      h("div", { class: "qa-f-score" },
        field({ name: "score_min", label: "qa.f.score_min", className: "qa-f-num",
                input: h("input", { type: "number", min: 0, step: 1, inputmode: "numeric",
                                    value: v.score_min }) }),
        h("span", { class: "qa-f-dash", "aria-hidden": "true", text: "–" }),
        field({ name: "score_max", label: "qa.f.score_max", className: "qa-f-num",
                input: h("input", { type: "number", min: 0, step: 1, inputmode: "numeric",
                                    value: v.score_max }) })),
      field({ name: "failed_rule", label: "qa.f.failed_rule", className: "qa-f-rule",
              input: ruleSelect }),
      field({ name: "disposition", label: "qa.f.disposition", className: "qa-f-disposition",
              input: this.dispositionSelect }),
      h("div", { class: "qa-f-actions" },
        h("button", { type: "submit", class: "primary", i18n: "qa.f.apply" }),
        h("button", { type: "button", class: "button-quiet", i18n: "qa.f.reset",
                      onclick: () => this.reset() })));
    this.fillAgents();
    this.fillRules();
    this.fillDispositions();
    dispositionCodes().then((codes) => {
      this.codes = codes;
      this.fillDispositions();
      if (this.rows.length) this.render();
    }, () => {});
    onLanguageChange(() => {
      this.fillDispositions();
      if (this.rows.length) this.render();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply();
    });
    // Choosing from a list filters at once; typed values wait for Enter or the button.
    form.addEventListener("change", (event) => {
      if (event.target.matches("select, input[type=date]")) this.apply();
    });
    return form;
  }

  apply() {
    const elements = this.form.elements;
    for (const name of FILTERS) {
      const input = elements[name];
      this.values[name] = input ? String(input.value).trim() : "";
    }
    this.offset = 0;
    this.saveAddress();
    this.load();
  }

  reset() {
    this.form.reset();
    for (const name of FILTERS) {
      const input = this.form.elements[name];
      if (input) input.value = "";
    }
    this.apply();
  }

  /** Supervisors may list the agents; QA reviewers learn them from the calls they see. */
  async loadAgents() {
    if (this.role !== "supervisor") return;
    try {
      for (const agent of await api.get("/api/agents")) {
        this.agents.set(String(agent.user_id), agent.display_name);
      }
      this.fillAgents();
    } catch {
      // the list still offers the agents seen in the calls
    }
  }

  fillAgents() {
    const select = this.agentSelect;
    const chosen = this.values.agent_id;
    if (chosen && !this.agents.has(chosen)) this.agents.set(chosen, `#${chosen}`);
    const sorted = [...this.agents].sort((a, b) => a[1].localeCompare(b[1], "zh-CN"));
    replace(select, h("option", { value: "", i18n: "qa.f.agent_all" }),
      sorted.map(([id, name]) => h("option", { value: id, text: name, selected: id === chosen })));
    try {
      sessionStorage.setItem(AGENTS_KEY, JSON.stringify([...this.agents]));
    } catch {
      // not remembered past this page
    }
  }

  fillRules() {
    const chosen = this.values.failed_rule;
    if (chosen) this.rules.add(chosen);
    replace(this.ruleSelect, h("option", { value: "", i18n: "qa.f.rule_any" }),
      [...this.rules].map((id) => h("option", { value: id, selected: id === chosen,
                                               ...ruleText(id) })));
  }

  /** Why customers called, as configured; and the calls nobody coded. */
  fillDispositions() {
    const chosen = this.values.disposition;
    const codes = this.codes?.codes ?? [];
    const known = chosen && chosen !== NOT_CODED && !codes.some((c) => c.code === chosen);
    replace(this.dispositionSelect, h("option", { value: "", i18n: "qa.f.disposition_any" }),
      codes.map((c) => h("option", { value: c.code, selected: c.code === chosen,
                                     text: dispositionName(this.codes, c.code) })),
      known ? h("option", { value: chosen, selected: true, text: chosen }) : null,
      h("option", { value: NOT_CODED, selected: chosen === NOT_CODED,
                    i18n: "qa.f.disposition_none" }));
  }

  /** Learn agents, queues and rules from the calls shown, for the filters' choices. */
  learn(rows) {
    let agents = false;
    let rules = false;
    for (const row of rows) {
      if (row.agent_id && row.agent_name && this.agents.get(String(row.agent_id)) !== row.agent_name) {
        this.agents.set(String(row.agent_id), row.agent_name);
        agents = true;
      }
      if (row.queue) this.queues.add(row.queue);
      for (const id of row.failed_rules) {
        if (!this.rules.has(id)) {
          this.rules.add(id);
          rules = true;
        }
      }
    }
    if (agents && this.role !== "agent") this.fillAgents();
    if (rules) this.fillRules();
    // The value is the queue's own name (what the filter asks for), the label its display name.
    replace(this.queueList, [...this.queues].sort().map((q) => h("option", {
      value: q, label: t("queue.name", { name: queueName(q) }) })));
  }

  async load() {
    const asked = ++this.asked;
    this.tbody().closest("table").setAttribute("aria-busy", "true");
    setText(this.status, "qa.loading");
    const params = { ...this.values, limit: PAGE_SIZE + 1, offset: this.offset };
    const rows = await submitting(this.form, () => api.get(`/api/qa/calls${query(params)}`));
    if (asked !== this.asked) return;
    this.tbody().closest("table").removeAttribute("aria-busy");
    if (!rows) {
      setText(this.status, "qa.load_failed");
      return;
    }
    this.more = rows.length > PAGE_SIZE;
    this.rows = rows.slice(0, PAGE_SIZE);
    this.learn(this.rows);
    this.render();
  }

  tbody() {
    return this.rowsElement;
  }

  render() {
    const body = this.tbody();
    if (!this.rows.length) {
      replace(body, h("tr", { class: "qa-empty-row" },
        h("td", { colspan: 9, class: "muted", i18n: "qa.none" })));
    } else {
      replace(body, this.rows.map((row) => this.row(row)));
    }
    const page = Math.floor(this.offset / PAGE_SIZE) + 1;
    setText(this.status, this.rows.length ? "qa.count" : "qa.count_none",
            { n: this.rows.length, page });
    replace(this.pager,
      h("button", { type: "button", class: "button-small", dataset: { page: -1 },
                    disabled: this.offset === 0, i18n: "qa.prev_page" }),
      h("span", { class: "mono", i18n: ["qa.page", { n: page }] }),
      h("button", { type: "button", class: "button-small", dataset: { page: 1 },
                    disabled: !this.more, i18n: "qa.next_page" }));
    this.mark(this.current);
  }

  /** Mark the call last opened, so the reviewer sees where they were. */
  mark(callId) {
    this.current = callId;
    for (const tr of this.tbody().querySelectorAll("tr.is-current")) tr.classList.remove("is-current");
    if (callId === null || callId === undefined) return;
    this.tbody().querySelector(`tr[data-call-id="${callId}"]`)?.classList.add("is-current");
  }

  /** The ids of the calls on this page, in order (for previous / next call). */
  ids() {
    return this.rows.map((row) => row.id);
  }

  row(row) {
    const lost = row.score === null ? null : row.max_score - row.score;
    const customer = row.customer_name || phoneText(row.customer_number) || "—";
    const open = h("a", { href: `#call=${row.id}`, class: "qa-open mono",
                          text: dateTime(row.started_at),
                          i18nAttrs: { "aria-label": ["qa.open_call", { id: row.id, who: customer }] } });
    const tr = h("tr", { dataset: { callId: row.id, score: row.score ?? "" },
                         class: row.reviewed ? "is-reviewed" : "" },
      h("td", {}, open),
      h("td", {}, chip(row.direction === "outbound" ? "stage" : "info",
                       `qa.kind.${row.direction === "outbound" ? "outbound" : "inbound"}`),
        row.queue && h("span", { class: "muted small qa-queue",
                                 i18n: ["queue.name", { name: queueName(row.queue) }] }),
        row.disposition && h("span", { class: "chip chip-info qa-disposition",
                                       dataset: { disposition: row.disposition },
                                       text: dispositionName(this.codes, row.disposition) })),
      h("td", { class: "qa-cell-agent", text: row.agent_name || "—" }),
      h("td", { class: "qa-cell-customer" },
        h("span", { class: "qa-customer-name", text: customer }),
        row.customer_name && row.customer_number
          && h("span", { class: "muted small mono", text: phoneText(row.customer_number) })),
      h("td", { class: "mono", text: row.talk_seconds === null ? "—" : duration(row.talk_seconds) }),
      h("td", {}, row.score === null
        ? h("span", { class: "muted small", i18n: "qa.not_scored" })
        : h("span", { class: ["qa-score", `qa-score-${scoreKind(row.score, row.max_score)}`, "mono"],
                      text: `${row.score}/${row.max_score}`,
                      i18nAttrs: { title: ["qa.score_title", { lost }],
                                   "aria-label": ["qa.score_aria", { score: row.score,
                                                                     max: row.max_score, lost }] } })),
      h("td", { class: "qa-cell-rules" }, row.failed_rules.map((id) => h("span", {
        class: "chip chip-bad qa-rule-chip", dataset: { rule: id }, ...ruleText(id) }))),
      h("td", {}, this.job(row)),
      h("td", {}, row.reviewed
        ? h("span", { class: "qa-reviewed", i18nAttrs: { title: "qa.reviewed" } },
          h("span", { "aria-hidden": "true", text: "✓ " }), h("span", { i18n: "qa.reviewed" }))
        : h("span", { class: "muted", i18nAttrs: { "aria-label": "qa.not_reviewed" }, text: "—" })));
    tr.addEventListener("click", (event) => {
      if (event.target.closest("a, button")) return;
      if (window.getSelection()?.toString()) return; // copying a number, not opening
      location.hash = `call=${row.id}`;
    });
    return tr;
  }

  job(row) {
    const status = row.job_status;
    if (!status || status === "done") return null;
    const label = chip(JOB_KIND[status], `qa.job.${status}`);
    label.classList.add("qa-job");
    label.dataset.job = status;
    if (status !== "failed") return label;
    // The list has no error text: fetch it the first time someone points at it.
    label.tabIndex = 0;
    setAttrs(label, { title: "qa.job.failed_more" });
    let asked = false;
    const explain = async () => {
      if (asked) return;
      asked = true;
      try {
        const detail = await api.get(`/api/qa/calls/${row.id}`);
        const error = detail.job?.last_error || "";
        const hint = ["qa.job.failed_hint", { error, n: detail.job?.attempts ?? 0 }];
        setAttrs(label, { title: hint, "aria-label": hint });
      } catch {
        asked = false;
      }
    };
    label.addEventListener("mouseenter", explain);
    label.addEventListener("focus", explain);
    return label;
  }
}
