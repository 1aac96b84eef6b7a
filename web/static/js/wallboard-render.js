// The wallboard's tiles and tables, drawn from one snapshot of GET /api/wallboard (or the
// "wallboard" websocket message). Clocks that run (waits, time in state) carry
// `data-since`; wallboard.js ticks them every second against the server's time.
import { h, replace } from "./dom.js";
import { dateTime, duration, queueName, shortTime, t } from "./i18n.js";

const STATE_ORDER = ["on_call", "ringing", "ready", "wrapup", "paused", "logged_out"];
const STATE_CHIP = { on_call: "info", ringing: "info", ready: "good", wrapup: "warn",
                     paused: "muted", logged_out: "muted" };

function percent(value) {
  return value === null || value === undefined ? "—" : `${value.toFixed(1)}%`;
}

function seconds(value) {
  return value === null || value === undefined ? "—" : duration(value);
}

/** A running clock: its text is set by `tick()`. */
function clock(since, attrs = {}) {
  return h("span", { ...attrs, class: ["mono", attrs.class], dataset: { since: since || "" } },
           since ? "" : "—");
}

function figure(name, labelKey, value, { big = false, cls = "" } = {}) {
  return h("div", { class: ["wb-figure", big && "wb-figure-big", cls],
                    dataset: { figure: name } },
    h("span", { class: "wb-figure-value mono" }, value),
    h("span", { class: "wb-figure-label", i18n: labelKey }));
}

function slClass(level) {
  if (level === null || level === undefined) return "";
  return level >= 80 ? "is-good" : level >= 60 ? "is-warn" : "is-bad";
}

function queueTile(q, threshold) {
  const waitingNow = q.waiting > 0 ? "is-waiting" : "";
  return h("article", { class: ["wb-queue", waitingNow], dataset: { queue: q.queue },
                        "aria-labelledby": `wb-queue-${q.queue}` },
    h("h2", { id: `wb-queue-${q.queue}`, class: "wb-queue-name",
              i18n: ["queue.name", { name: queueName(q.queue) }] }),
    h("div", { class: "wb-queue-now" },
      figure("waiting", "wallboard.fig.waiting", q.waiting, { big: true }),
      h("div", { class: ["wb-figure", "wb-figure-big"], dataset: { figure: "longest_now" } },
        clock(q.oldest_waiting_since, { class: "wb-figure-value" }),
        h("span", { class: "wb-figure-label", i18n: "wallboard.fig.longest_now" }))),
    h("div", { class: "wb-queue-day" },
      figure("offered", "wallboard.fig.offered", q.offered),
      figure("answered", "wallboard.fig.answered", q.answered),
      figure("abandoned", "wallboard.fig.abandoned", q.abandoned),
      figure("no_agent", "wallboard.fig.no_agent", q.no_agent),
      h("div", { class: ["wb-figure", slClass(q.service_level)],
                 dataset: { figure: "service_level" } },
        h("span", { class: "wb-figure-value mono" }, percent(q.service_level)),
        h("span", { class: "wb-figure-label",
                    i18n: ["wallboard.fig.service_level", { t: threshold }] })),
      figure("asa", "wallboard.fig.asa", seconds(q.average_speed_of_answer)),
      figure("abandon_rate", "wallboard.fig.abandon_rate", percent(q.abandon_rate)),
      figure("longest_wait", "wallboard.fig.longest_wait", seconds(q.longest_wait))));
}

export function renderQueues(el, snapshot) {
  replace(el, snapshot.queues.map((q) => queueTile(q, snapshot.threshold_seconds)));
}

function stateChip(agent) {
  const key = agent.status === "on_call" ? "wallboard.status.on_call" : `status.${agent.status}`;
  const chip = h("span", { class: ["chip", `chip-${STATE_CHIP[agent.status] || "muted"}`],
                           i18n: key });
  const reason = agent.reason ? h("span", { class: "muted small", i18n: `reason.${agent.reason}` })
    : null;
  return [chip, reason && " ", reason];
}

export function sortAgents(agents) {
  return [...agents].sort((a, b) => STATE_ORDER.indexOf(a.status) - STATE_ORDER.indexOf(b.status)
    || (a.extension || "").localeCompare(b.extension || ""));
}

export function renderAgents(body, summary, snapshot) {
  const agents = sortAgents(snapshot.agents);
  if (!agents.length) {
    replace(body, h("tr", {}, h("td", { colspan: 7, class: "muted",
                                         i18n: "wallboard.no_agents" })));
  } else {
    replace(body, agents.map((a) => h("tr", {
      class: [`is-${a.status}`], dataset: { agent: a.user_id, extension: a.extension || "",
                                           status: a.status } },
      h("th", { scope: "row" }, a.name,
        a.extension ? h("span", { class: "muted small wb-ext", text: a.extension }) : null),
      h("td", { class: "wb-state" }, stateChip(a)),
      h("td", { class: "num" }, a.status === "logged_out" ? "—" : clock(a.since)),
      h("td", { class: "num mono", dataset: { figure: "handled" }, text: a.handled }),
      h("td", { class: "num mono", dataset: { figure: "talk" }, text: duration(a.talk_seconds) }),
      h("td", { class: "num mono", dataset: { figure: "wrapup" },
                text: duration(a.wrapup_seconds) }))));
  }
  const counts = Object.fromEntries(STATE_ORDER.map((s) => [s, 0]));
  for (const a of agents) counts[a.status] = (counts[a.status] || 0) + 1;
  summary.dataset.i18n = "wallboard.agents_summary";
  summary.dataset.i18nArgs = JSON.stringify(counts);
  summary.textContent = t("wallboard.agents_summary", counts);
}

function listOrEmpty(list, items, emptyKey) {
  replace(list, items.length ? items : h("li", { class: "muted", i18n: emptyKey }));
}

function counts(el, key, params, level) {
  el.className = ["wb-counts", level].filter(Boolean).join(" ");
  el.dataset.i18n = key;
  el.dataset.i18nArgs = JSON.stringify(params);
  el.textContent = t(key, params);
}

export function renderWork(root, snapshot) {
  const $ = (id) => root.querySelector(id);
  listOrEmpty($("#wb-campaigns .wb-list"), snapshot.campaigns.map((c) => h("li", {
    dataset: { campaign: c.id } },
    h("strong", { text: c.name }), " ",
    h("span", { class: "muted small",
                i18n: ["wallboard.campaign_line", { attempts: c.attempts_today,
                                                    effective: c.effective_today }] }))),
  "wallboard.no_campaigns");

  const complaintsLevel = snapshot.complaints_overdue ? "is-bad"
    : snapshot.complaints_due_soon ? "is-warn" : "is-good";
  counts($("#wb-complaints .wb-counts"), "wallboard.complaint_counts",
         { overdue: snapshot.complaints_overdue, soon: snapshot.complaints_due_soon },
         complaintsLevel);
  listOrEmpty($("#wb-complaints .wb-list"), snapshot.complaints.map((c) => h("li", {
    class: c.overdue ? "is-overdue" : "is-due-soon", dataset: { complaint: c.id } },
    h("span", { class: ["chip", c.overdue ? "chip-bad" : "chip-warn"],
                i18n: c.overdue ? "wallboard.overdue" : "wallboard.due_soon" }), " ",
    h("strong", { text: c.customer }), " ",
    h("span", { class: "muted small", text: `${c.department} · ${dateTime(c.next_due_at)}` }))),
  "wallboard.nothing_late");

  counts($("#wb-repairs .wb-counts"), "wallboard.repair_counts",
         { overdue: snapshot.repairs_overdue }, snapshot.repairs_overdue ? "is-bad" : "is-good");
  listOrEmpty($("#wb-repairs .wb-list"), snapshot.repairs.map((r) => h("li", {
    dataset: { repair: r.id } },
    h("strong", { text: r.customer }), " ",
    h("span", { class: "muted small",
                i18n: ["wallboard.repair_line", { crew: r.crew,
                                                  due: shortTime(r.arrival_due_at) }] }))),
  "wallboard.nothing_late");

  counts($("#wb-projects .wb-counts"), "wallboard.project_counts",
         { n: snapshot.projects_missing_callbacks },
         snapshot.projects_missing_callbacks ? "is-bad" : "is-good");
  listOrEmpty($("#wb-projects .wb-list"), snapshot.projects.map((p) => h("li", {
    dataset: { project: p.project_id } },
    h("strong", { text: p.contract_number }), " ", h("span", { text: p.customer }), " ",
    p.stages.map((s) => [h("span", { class: "chip chip-stage", i18n: `stage.${s}` }), " "]))),
  "wallboard.nothing_late");
}

const DEFINITIONS = ["waiting", "offered", "answered", "abandoned", "no_agent", "wait",
                     "service_level",
                     "asa", "abandon_rate", "longest_wait", "handled", "talk", "wrapup",
                     "in_state", "complaints", "repairs", "projects", "alerts"];

function alertLevels(limits) {
  if (!limits) return {};
  return { cw1: limits.callers_waiting.warn, cw2: limits.callers_waiting.alert,
           lw1: limits.longest_wait_seconds.warn, lw2: limits.longest_wait_seconds.alert,
           ar1: limits.abandon_rate.warn, ar2: limits.abandon_rate.alert,
           n: limits.abandon_min_offered,
           pm1: limits.paused_minutes.warn, pm2: limits.paused_minutes.alert };
}

export function renderDefinitions(dl, snapshot) {
  const params = { t: snapshot.threshold_seconds, ...alertLevels(snapshot.thresholds) };
  replace(dl, DEFINITIONS.map((name) => [
    h("dt", { i18n: [`wallboard.def.${name}.term`, params] }),
    h("dd", { i18n: [`wallboard.def.${name}`, params] })]));
}

/** Set every running clock under `root` to the time since its `data-since`. */
export function tick(root, serverNow) {
  for (const el of root.querySelectorAll("[data-since]")) {
    if (!el.dataset.since) continue;
    el.textContent = duration((serverNow - Date.parse(el.dataset.since)) / 1000);
  }
}
