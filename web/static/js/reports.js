// The reports page: pick a report and a date (the URL keeps them: /reports?kind=weekly&date=…),
// see it with its charts and tables, download it as XLSX or PDF — the same figures.
import { api, query } from "./api.js";
import { initPage } from "./header.js";
import { language, onLanguageChange, setText } from "./i18n.js";
import { renderReport } from "./reports-view.js";

initPage();
const $ = (id) => document.getElementById(id);
const form = $("reports-form");
const kindSelect = $("reports-kind");
const dateInput = $("reports-date");
const report = $("report");
const status = $("reports-status");
const KINDS = ["weekly", "monthly", "daily"];
let current = null; // the document shown
let loadId = 0;

function fromUrl() {
  const params = new URLSearchParams(location.search);
  const kind = KINDS.includes(params.get("kind")) ? params.get("kind") : "weekly";
  const date = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") ?? "") ? params.get("date") : "";
  return { kind, date };
}

function downloads(kind, date) {
  const params = query({ date, lang: language() });
  $("reports-xlsx").href = `/api/reports/${kind}.xlsx${params}`;
  $("reports-pdf").href = `/api/reports/${kind}.pdf${params}`;
}

function hint(kind) {
  setText($("reports-date-hint"), `reports.date_hint.${kind}`);
}

async function load(kind, date) {
  const id = ++loadId;
  hint(kind);
  setText(status, "reports.loading");
  report.setAttribute("aria-busy", "true");
  try {
    const model = await api.get(`/api/reports/${kind}${query({ date })}`);
    if (id !== loadId) return;
    current = model;
    dateInput.value = model.day;
    history.replaceState(null, "", `/reports${query({ kind, date: model.day })}`);
    downloads(kind, model.day);
    renderReport(report, model);
    status.textContent = "";
    delete status.dataset.i18n;
  } catch (error) {
    if (id !== loadId) return;
    setText(status, "reports.failed", { error: error.message });
  } finally {
    if (id === loadId) report.removeAttribute("aria-busy");
  }
}

function shift(step) {
  const kind = kindSelect.value;
  const day = new Date(`${dateInput.value || current?.day}T00:00:00Z`);
  if (Number.isNaN(day.getTime())) return;
  if (kind === "monthly") day.setUTCMonth(day.getUTCMonth() + step, 1);
  else day.setUTCDate(day.getUTCDate() + step * (kind === "weekly" ? 7 : 1));
  load(kind, day.toISOString().slice(0, 10));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load(kindSelect.value, dateInput.value);
});
kindSelect.addEventListener("change", () => load(kindSelect.value, ""));
$("reports-previous").addEventListener("click", () => shift(-1));
$("reports-next").addEventListener("click", () => shift(1));
onLanguageChange(() => {
  if (current) {
    renderReport(report, current);
    downloads(kindSelect.value, current.day);
  }
});

const start = fromUrl();
kindSelect.value = start.kind;
load(start.kind, start.date);
