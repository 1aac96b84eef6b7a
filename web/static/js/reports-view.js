// One report drawn from its table model (web/report_exports/document.py): the headline
// figures, the charts (Chart.js, vendored, loaded on first use) and every table. The XLSX and
// PDF downloads render the same model, so the page and the files show the same figures.
import { h, replace } from "./dom.js";
import { language, t } from "./i18n.js";
import { loadChart } from "./chart-loader.js";

const NUMERIC = new Set(["count", "percent", "seconds"]);

/** A message ({$t, args}), a configured name ({$names: {lang: name}}) or plain text, in the
 * current language. */
export function text(value) {
  if (value && typeof value === "object" && value.$t) return t(value.$t, value.args);
  if (value && typeof value === "object" && value.$names) {
    return value.$names[language()] ?? value.$names["zh-CN"] ?? "";
  }
  return value === null || value === undefined ? "" : String(value);
}

/** A cell as the PDF shows it (labels.py Labels.cell). */
export function cellText(value, kind) {
  if (value === null || value === undefined) return kind === "percent" || kind === "seconds" ? "—" : "";
  if (Array.isArray(value)) return value.map(text).join(t("reports.list_separator"));
  if (typeof value === "object") return text(value);
  if (kind === "percent" && typeof value === "number") return `${(value * 100).toFixed(1)}%`;
  if (kind === "seconds" && typeof value === "number") return t("reports.seconds", { n: value.toFixed(1) });
  return String(value);
}

function facts(model) {
  return h("section", { class: "report-facts-panel", "aria-labelledby": "report-facts-heading" },
    h("h2", { id: "report-facts-heading", class: "sr-only", i18n: "reports.figures" }),
    h("dl", { class: "report-facts" }, model.facts.map((fact) =>
      h("div", { class: "report-fact", dataset: { fact: fact.id } },
        h("dt", { text: text(fact.label) }),
        h("dd", { text: cellText(fact.value, fact.kind) })))));
}

function table(model) {
  const headingId = `report-table-${model.id}`;
  const head = h("tr", {}, model.columns.map((c) =>
    h("th", { scope: "col", class: [NUMERIC.has(c.kind) && "num"], text: text(c.label) })));
  const row = (values, attrs = {}) => h("tr", attrs, values.map((v, i) => {
    const kind = model.columns[i].kind;
    return h("td", { class: [NUMERIC.has(kind) && "num", model.columns[i].wide && "wide"],
                     text: cellText(v, kind) });
  }));
  const body = model.rows.length
    ? model.rows.map((values, i) => row(values, { class: model.flagged[i] && "is-flagged" }))
    : [h("tr", {}, h("td", { colspan: model.columns.length, class: "muted", i18n: "reports.empty" }))];
  return h("section", { class: "panel report-table-panel", dataset: { table: model.id },
                        "aria-labelledby": headingId },
    h("h2", { id: headingId, text: text(model.title) }),
    h("div", { class: "table-wrap", tabindex: "0" },
      h("table", { class: "report-table", "aria-labelledby": headingId },
        h("thead", {}, head), h("tbody", {}, body),
        model.total ? h("tfoot", {}, row(model.total, { class: "is-total" })) : null)),
    model.note ? h("p", { class: "muted small", text: text(model.note) }) : null);
}

function chartConfig(chart) {
  const stacked = chart.series.some((s) => s.stack);
  const datasets = chart.series.map((s) => ({
    label: text(s.label), data: s.data.map((v) => v ?? 0), stack: s.stack ?? undefined,
    backgroundColor: s.color ?? "#1565c0",
  }));
  if (chart.threshold !== null && chart.threshold !== undefined) {
    datasets.push({ type: "line", label: t("reports.qa_flag", { n: chart.threshold }),
                    data: chart.labels.map(() => chart.threshold), borderColor: "#c62828",
                    borderDash: [6, 4], pointRadius: 0, borderWidth: 2 });
  }
  return {
    type: chart.type,
    data: { labels: chart.labels.map(text), datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      indexAxis: chart.horizontal ? "y" : "x",
      scales: { x: { stacked, ticks: { precision: 0 } }, y: { stacked, beginAtZero: true,
                                                              ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  };
}

function charts(model) {
  const figures = model.charts.map((chart) => {
    const canvas = h("canvas", { role: "img", dataset: { chart: chart.id },
                                 "aria-label": t("reports.chart_label", { title: text(chart.title) }) });
    return { chart, canvas, figure: h("figure", { class: "panel report-chart" },
      h("figcaption", { text: text(chart.title) }), h("div", { class: "report-chart-box" }, canvas)) };
  });
  loadChart().then((Chart) => {
    for (const { chart, canvas } of figures) {
      if (canvas.isConnected) new Chart(canvas, chartConfig(chart));
    }
  }).catch(() => { /* the tables carry the same numbers */ });
  return h("section", { class: "report-charts", "aria-label": t("reports.charts") },
    figures.map((f) => f.figure));
}

/** Draw a report document into `root` (again, after a language change). */
export function renderReport(root, model) {
  for (const canvas of root.querySelectorAll("canvas")) window.Chart?.getChart(canvas)?.destroy();
  const running = model.as_of.slice(0, 10) <= model.last;
  replace(root,
    h("header", { class: "report-head" },
      h("h2", { id: "report-title", class: "report-title", text: text(model.title) }),
      h("p", { id: "report-period", text: text(model.period) }),
      h("p", { class: "muted small", text: running
        ? t("reports.running", { t: model.as_of })
        : `${t("reports.as_of")} ${model.as_of}` })),
    facts(model), charts(model), model.tables.map(table),
    h("section", { class: "panel report-definitions" },
      h("h2", { i18n: "reports.definitions" }),
      h("ul", {}, model.definitions.map((d) => h("li", { text: text(d) })))));
}
