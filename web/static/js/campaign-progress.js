// A campaign's progress by stage: the table (tasks due, dialing now, reached, effective,
// satisfied, unsatisfied, unreachable, with totals) and the same numbers as a bar chart. The
// chart (Chart.js, vendored) is loaded on first use; without it the table says everything.
import { h, replace } from "./dom.js";
import { onLanguageChange, t } from "./i18n.js";
import { COUNTERS, stageMessage, stageText } from "./campaign-labels.js";
import { loadChart } from "./chart-loader.js";

const COLOURS = { due: "#8592a3", dialing: "#1d5fd1", reached: "#0f766e", effective: "#15803d",
  satisfied: "#4ade80", unsatisfied: "#c42020", unreachable: "#a55a00" };

let shown = null; // the view on the page: its chart follows the language
onLanguageChange(() => shown?.drawChart());

function stageLabel(stage) {
  const m = stageMessage(stage);
  return t(m.$t, m.args);
}

export class ProgressView {
  constructor() {
    this.rows = [];
    this.chart = null;
    this.body = h("tbody", { id: "campaign-progress-rows" });
    this.foot = h("tfoot");
    this.canvas = h("canvas", { id: "campaign-chart", role: "img",
                                i18nAttrs: { "aria-label": "campaigns.chart_label" } });
    this.element = h("section", { class: "panel campaign-progress",
                                  "aria-labelledby": "campaign-progress-heading" },
      h("div", { class: "panel-head" },
        h("h2", { id: "campaign-progress-heading", i18n: "campaigns.progress" }),
        h("p", { class: "muted small", i18n: "campaigns.progress_hint" })),
      h("div", { class: "campaign-progress-body" },
        h("div", { class: "table-wrap", tabindex: "0" },
          h("table", { class: "data-table campaign-progress-table",
                       "aria-labelledby": "campaign-progress-heading" },
            h("thead", {}, h("tr", {},
              h("th", { scope: "col", i18n: "campaigns.col.stage" }),
              COUNTERS.map((name) => h("th", { scope: "col", class: "num",
                                               i18n: `campaigns.count.${name}` })))),
            this.body, this.foot)),
        h("div", { class: "campaign-chart-box" }, this.canvas)));
    shown = this;
  }

  update(rows) {
    this.rows = rows;
    if (!rows.length) {
      replace(this.body, h("tr", {}, h("td", { colspan: COUNTERS.length + 1, class: "muted",
                                              i18n: "campaigns.no_progress" })));
      replace(this.foot);
    } else {
      replace(this.body, rows.map((row) => h("tr", { dataset: { stage: row.stage } },
        h("th", { scope: "row", ...stageText(row.stage) }),
        COUNTERS.map((name) => h("td", { class: ["num", "mono", row[name] ? "" : "is-zero"],
                                         dataset: { counter: name }, text: row[name] })))));
      replace(this.foot, h("tr", { dataset: { stage: "total" } },
        h("th", { scope: "row", i18n: "campaigns.total" }),
        COUNTERS.map((name) => h("td", { class: "num mono", dataset: { counter: name },
                                         text: rows.reduce((sum, row) => sum + row[name], 0) }))));
    }
    this.drawChart();
  }

  async drawChart() {
    let Chart;
    try {
      Chart = await loadChart();
    } catch {
      return; // the table has the numbers
    }
    if (!this.canvas.isConnected) return;
    const labels = this.rows.map((row) => stageLabel(row.stage));
    const datasets = COUNTERS.map((name) => ({
      label: t(`campaigns.count.${name}`), data: this.rows.map((row) => row[name]),
      backgroundColor: COLOURS[name], borderRadius: 3, maxBarThickness: 28 }));
    if (this.chart) {
      this.chart.data.labels = labels;
      this.chart.data.datasets.forEach((set, i) => Object.assign(set, datasets[i]));
      this.chart.update("none");
      return;
    }
    this.chart = new Chart(this.canvas, {
      type: "bar",
      data: { labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }

  destroy() {
    if (shown === this) shown = null;
    this.chart?.destroy();
    this.chart = null;
  }
}
