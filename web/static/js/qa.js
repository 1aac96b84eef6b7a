// The QA review page: what waits (the review queue and disputes; an agent's own reviews),
// the list of calls with their automatic scores, and one call (#call=ID) with its recording,
// transcript, the reviewer's feedback and the scorecard. QA reviewers and supervisors confirm
// or override each rule and send the agent feedback; agents read their own calls and
// acknowledge or dispute it. Keyboard on a call: space plays or pauses, ← → jump 5 seconds
// (not while typing).
import { bootData } from "./dom.js";
import { initPage } from "./header.js";
import { setText } from "./i18n.js";
import { CallView } from "./qa-call.js";
import { FeedbackPanel } from "./qa-feedback.js";
import { CallList } from "./qa-list.js";
import { QaWork } from "./qa-work.js";
import { LiveSocket } from "./socket.js";

initPage();
const user = bootData().user;
const role = user.role;
const canReview = role === "qa" || role === "supervisor";
const $ = (id) => document.getElementById(id);

setText($("qa-heading"), role === "agent" ? "qa.heading_mine" : "qa.heading");

const list = new CallList({ filters: $("qa-filters"), rowsElement: $("qa-rows"),
                            status: $("qa-status"), pager: $("qa-pager") }, { role });
let stale = false; // a review changed a row: reload the list on the way back
const work = new QaWork($("qa-work"), { role });
let feedback = null; // the open call's

function feedbackPanel(detail) {
  feedback = new FeedbackPanel({ callId: detail.call.id, role,
                                 onChange: () => { stale = true; work.load(); } });
  feedback.load();
  return feedback.element;
}

const view = new CallView($("qa-call-view"), {
  canReview,
  neighbours: (id) => {
    const ids = list.ids();
    const at = ids.indexOf(id);
    return at < 0 ? {} : { previous: ids[at - 1], next: ids[at + 1] };
  },
  onReviewed: () => { stale = true; },
  panel: feedbackPanel,
});

function callFromHash() {
  const match = /^#call=(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

function route() {
  const id = callFromHash();
  const listView = $("qa-list-view");
  const callView = $("qa-call-view");
  if (id !== null) {
    listView.hidden = true;
    callView.hidden = false;
    list.mark(id);
    if (view.id !== id) view.open(id);
    return;
  }
  view.close();
  callView.replaceChildren();
  callView.hidden = true;
  listView.hidden = false;
  if (stale) {
    stale = false;
    list.load();
  }
  const row = $("qa-rows").querySelector("tr.is-current a.qa-open");
  if (row) {
    row.scrollIntoView({ block: "nearest" });
    row.focus({ preventScroll: true });
  }
}

// --- the keyboard, on a call ------------------------------------------------------------

const TYPING = "input:not([type=radio]):not([type=checkbox]), textarea, select, [contenteditable]";

function onKey(event) {
  const player = view.player;
  if (!player || $("qa-call-view").hidden) return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  const target = event.target;
  if (target.closest?.(TYPING) || target.closest?.("audio, dialog")) return;
  if (event.key === " " || event.code === "Space") {
    // A button that seeks (a word's turn, an evidence) plays from there with space; other
    // buttons and links keep their own space.
    const control = target.closest?.("button, a, [role=button], input");
    if (control && !control.matches(".seek")) return;
    event.preventDefault();
    player.toggle();
  } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
    if (target.closest?.("input, [role=radiogroup], .radios")) return; // arrows move in a group
    event.preventDefault();
    player.jump(event.key === "ArrowLeft" ? -5 : 5);
  }
}

// Feedback changed elsewhere (the agent disputed, the reviewer answered): what waits, and
// the open call's feedback, follow.
window.addEventListener("cc:qa-feedback", (event) => {
  work.load();
  if (feedback && view.id === event.detail.call_id) feedback.load();
});
new LiveSocket({}).start();

document.addEventListener("keydown", onKey);
window.addEventListener("hashchange", route);
route();
list.load().then(() => view.refreshSteps());
work.load();
list.loadAgents();
