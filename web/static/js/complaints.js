// The complaints page (投诉与报修): complaints with their clocks, repairs and the crews'
// records, and access requests for callback records, as three tabs. The address says what is
// shown (?tab=repairs, ?open=ID for a complaint, ?repair=ID), so a deadline warning's link
// opens the right ticket. Lists are re-read when a warning arrives and every half minute.
import { api } from "./api.js";
import { bootData } from "./dom.js";
import { initPage } from "./header.js";
import { AccessTab } from "./access-tab.js";
import { ComplaintDetail } from "./complaint-detail.js";
import { ComplaintList } from "./complaint-list.js";
import { RepairsTab } from "./repairs-tab.js";

const REFRESH_MS = 30_000;
const $ = (id) => document.getElementById(id);

initPage();
const user = bootData().user;
const params = new URLSearchParams(location.search);
const canSeeAccess = ["department", "supervisor", "admin"].includes(user.role);
if (!canSeeAccess) $("tab-access").hidden = true;

/** Keep the address in step with what is shown (without adding history entries). */
function remember(changes) {
  const next = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") next.delete(key);
    else next.set(key, value);
  }
  const search = next.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

let options = { departments: [] };
try {
  options = await api.get("/api/complaints/options");
} catch {
  // the department filter stays empty; the list still loads
}

const detail = new ComplaintDetail($("complaint-detail"), {
  user, onChanged: () => list.load(),
});
const list = new ComplaintList(
  { filters: $("complaint-filters"), rows: $("complaint-rows"), status: $("complaints-status") },
  { user, departments: options.departments, filter: params.get("filter"),
    onFilter: (value) => remember({ filter: value }),
    onOpen: (id) => openComplaint(id) });

function openComplaint(id, { focus = true } = {}) {
  list.setCurrent(id);
  remember({ open: id, repair: null });
  return detail.open(id, { focus });
}

const repairs = new RepairsTab(
  { filters: $("repair-filters"), rows: $("repair-rows"), status: $("repairs-status"),
    detail: $("repair-detail"), crews: $("crew-rows") },
  { user, filter: params.get("repairs"),
    onFilter: (value) => remember({ repairs: value }),
    onOpen: (id) => {
      remember({ repair: id, open: null });
      repairs.open(id);
    } });
const access = canSeeAccess ? new AccessTab($("access-view"), { user }) : null;

const loaded = new Set();

function load(tab) {
  loaded.add(tab);
  if (tab === "complaints") return list.load();
  if (tab === "repairs") return repairs.load();
  return access?.load();
}

function showTab(tab, { focus = false } = {}) {
  for (const button of document.querySelectorAll("#tickets-tabs [role=tab]")) {
    const selected = button.dataset.tab === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(button.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focus) button.focus();
  }
  remember({ tab: tab === "complaints" ? null : tab });
  if (!loaded.has(tab)) load(tab);
}

const tabs = [...document.querySelectorAll("#tickets-tabs [role=tab]")].filter((b) => !b.hidden);
for (const button of tabs) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
  button.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const at = tabs.indexOf(button);
    showTab(tabs[(at + step + tabs.length) % tabs.length].dataset.tab, { focus: true });
  });
}

function refresh() {
  if (document.hidden) return;
  for (const tab of loaded) load(tab);
  if (detail.complaint) detail.reload();
}

// A warning (deadline-toast.js) means a clock changed state: show it.
window.addEventListener("cc:deadline", (event) => {
  if (event.detail.kind === "complaint" && loaded.has("complaints")) list.load();
  if (event.detail.kind === "complaint" && detail.complaint?.id === event.detail.id) detail.reload();
  if (event.detail.kind === "repair" && loaded.has("repairs")) repairs.load();
});
setInterval(refresh, REFRESH_MS);
document.addEventListener("visibilitychange", refresh);

const wanted = params.get("repair") ? "repairs" : params.get("tab");
showTab(["repairs", "access"].includes(wanted) && (wanted !== "access" || canSeeAccess)
  ? wanted : "complaints");
if (Number(params.get("open"))) openComplaint(Number(params.get("open")), { focus: false });
if (Number(params.get("repair"))) repairs.open(Number(params.get("repair")));
