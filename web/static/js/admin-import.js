// The admin page's spreadsheet import: upload a file, follow the check on a progress bar, read
// the preview (every row with its problems, in the page's language), and commit it all at once
// when no row has a problem. The job runs on the server; this page polls it (web/imports.py).
import { ApiError, api } from "./api.js";
import { h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { has, onLanguageChange, setText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;
const PAGE_ROWS = 200; // the table shows a page of rows; the counts cover every row
const section = $("import");
const maxBytes = Number(section.dataset.maxBytes);
const maxMb = (maxBytes / 1048576).toFixed(0);
let job = null; // the latest answer of /api/imports/{id}
let rows = { total: 0, offset: 0, rows: [] };

/** A problem in the page's language: its code's message, with the params; else the server's
 * (English) words, so a problem is never hidden. */
function problemText(problem) {
  const key = `import.problem.${problem.code}`;
  if (t(key) === problem.code && problem.message) return problem.message; // not in a catalogue
  const params = { ...problem.params };
  if (params.field && has(`import.field.${params.field}`)) {
    params.field = t(`import.field.${params.field}`);
  }
  return t(key, params);
}

function problemItem(problem) {
  const column = problem.column || "";
  const where = !column ? ""
    : problem.value ? t("import.where", { column, value: problem.value })
      : t("import.where_column", { column });
  return h("li", { dataset: { code: problem.code } }, where, problemText(problem));
}

function setProgress(percent, phase) {
  const bar = $("import-bar");
  bar.setAttribute("aria-valuenow", String(percent));
  const label = t("import.progress_text", {
    phase: t(`import.phase.${phase || "waiting"}`), percent });
  bar.setAttribute("aria-valuetext", label);
  bar.querySelector(".import-bar-fill").style.width = `${percent}%`;
  $("import-progress-text").textContent = label;
}

async function upload(file) {
  const body = new FormData();
  body.append("file", file);
  const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
  let response;
  try {
    response = await fetch("/api/imports", {
      method: "POST", body, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": token },
    });
  } catch {
    throw new ApiError(0, [{ field: null, code: "network", message: "network error" }]);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, Array.isArray(data?.detail) ? data.detail
      : [{ field: null, code: "error", message: "", params: { status: response.status } }]);
  }
  return data;
}

function uploadError(error) {
  const problems = error instanceof ApiError ? error.problems : [];
  if (problems.some((p) => p.code === "body_too_large")) return t("import.too_big", { mb: maxMb });
  if (problems.length && problems.every((p) => has(`import.problem.${p.code}`))) {
    return problems.map(problemText).join("；");
  }
  return errorMessage(error);
}

async function onSubmit(event) {
  event.preventDefault();
  const file = $("import-file").files[0];
  const error = $("import-file-error");
  error.textContent = "";
  $("import-result").textContent = "";
  if (!file) {
    setText(error, "import.choose_file");
    $("import-file").focus();
    return;
  }
  if (file.size > maxBytes) {
    setText(error, "import.too_big", { mb: maxMb });
    return;
  }
  $("import-check").disabled = true;
  $("import-preview").hidden = true;
  $("import-progress").hidden = false;
  setProgress(0, "read");
  try {
    job = await upload(file);
    await follow();
  } catch (failure) {
    $("import-progress").hidden = true;
    error.textContent = uploadError(failure);
    $("import-file").setAttribute("aria-invalid", "true");
  } finally {
    $("import-check").disabled = false;
  }
}

/** Poll the job until it stops working, moving the bar; then show what it came to. */
async function follow() {
  $("import-file").removeAttribute("aria-invalid");
  while (job.status === "checking" || job.status === "committing") {
    setProgress(job.percent, job.phase);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api.get(`/api/imports/${job.id}`);
  }
  setProgress(job.percent, job.phase);
  if (job.status === "checked") await showPreview();
  else if (job.status === "committed") showCommitted();
  else showFailed();
}

/** One page of the preview's rows (of those with problems only, when so filtered). */
async function loadRows(offset = 0) {
  const onlyBad = $("import-only-bad").checked;
  rows = await api.get(
    `/api/imports/${job.id}/rows?offset=${offset}&limit=${PAGE_ROWS}&problems_only=${onlyBad}`);
  renderRows();
}

function renderRows() {
  const columns = job.columns;
  replace($("import-head"),
    h("th", { scope: "col", i18n: "import.row" }),
    columns.map((c) => h("th", { scope: "col", text: c })),
    h("th", { scope: "col", i18n: "import.problems" }));
  replace($("import-rows"), rows.rows.map((r) => h("tr",
    { class: r.problems.length ? "import-bad" : "", dataset: { row: r.row } },
    h("th", { scope: "row", text: r.row }),
    columns.map((c) => h("td", { text: r.values[c] ?? "" })),
    h("td", { class: "import-problems" }, r.problems.length
      ? h("ul", {}, r.problems.map(problemItem))
      : h("span", { class: "import-ok", i18n: "import.ok" })))));
  const first = rows.rows.length ? rows.offset + 1 : 0;
  setText($("import-showing"), "import.showing",
    { first, last: rows.offset + rows.rows.length, total: rows.total });
  $("import-previous").disabled = rows.offset === 0;
  $("import-next").disabled = rows.offset + rows.rows.length >= rows.total;
  $("import-pages").hidden = rows.total <= PAGE_ROWS;
}

function turnPage(step) {
  const offset = Math.max(0, rows.offset + step * PAGE_ROWS);
  loadRows(offset).catch(() => {});
}

async function showPreview() {
  $("import-progress").hidden = true;
  $("import-preview").hidden = false;
  setText($("import-preview-heading"), "import.preview_heading", { file: job.filename });
  setText($("import-summary"), "import.summary",
    { rows: job.rows, ok: job.ok_rows, bad: job.bad_rows });
  setText($("import-plan"), "import.plan", { cn: job.customers_new, cu: job.customers_updated,
    pn: job.projects_new, pu: job.projects_updated });
  $("import-plan").hidden = !job.committable;
  replace($("import-file-problems"), job.file_problems.length
    ? [h("p", { i18n: "import.file_problems" }), h("ul", {}, job.file_problems.map(problemItem))]
    : []);
  replace($("import-warnings"), job.warnings.length
    ? [h("span", { i18n: "import.warnings" }), " ", job.warnings.join("；")] : []);
  $("import-only-bad").checked = job.bad_rows > 0;
  await loadRows();
  const commit = $("import-commit");
  commit.disabled = !job.committable;
  if (job.committable) setText($("import-commit-note"), "import.commit_ready");
  else setText($("import-commit-note"), "import.commit_blocked", { bad: job.bad_rows });
}

function showCommitted() {
  $("import-progress").hidden = false; // left full: the work is done
  $("import-preview").hidden = true;
  const report = job.report || {};
  const result = $("import-result");
  result.classList.remove("is-failed");
  setText(result, "import.committed", {
    cc: report.customers_created, cu: report.customers_updated,
    pc: report.projects_created, pu: report.projects_updated,
    tasks: report.callback_tasks_created });
  $("import-file").value = "";
}

function showFailed() {
  $("import-progress").hidden = true;
  $("import-commit").disabled = true;
  const result = $("import-result");
  result.classList.add("is-failed");
  replace(result, h("p", { i18n: "import.failed" }),
    h("ul", {}, (job.problems || []).map(problemItem)));
}

async function onCommit() {
  const commit = $("import-commit");
  if (commit.disabled) return;
  commit.disabled = true; // a second press finds the job taken anyway (the server's guard)
  setText($("import-commit-note"), "import.committing");
  $("import-progress").hidden = false;
  try {
    job = await api.post(`/api/imports/${job.id}/commit`);
    await follow();
  } catch (error) {
    $("import-progress").hidden = true;
    $("import-commit-note").textContent = errorMessage(error);
  }
}

export function initImport() {
  setText($("import-hint"), "import.hint", { mb: maxMb });
  $("import-form").addEventListener("submit", onSubmit);
  $("import-commit").addEventListener("click", onCommit);
  $("import-only-bad").addEventListener("change", () => loadRows().catch(() => {}));
  $("import-previous").addEventListener("click", () => turnPage(-1));
  $("import-next").addEventListener("click", () => turnPage(1));
  onLanguageChange(() => {
    if (job && !$("import-preview").hidden) renderRows();
  });
}
