// The agent console: wires the header (status, PBX and live indicators), the search box, the
// screen pops, the customer view and the callback/notes panel to the API and the websocket.
import { TodayPanel } from "./agent-today.js";
import { api } from "./api.js";
import { CallbackForm } from "./callback-form.js";
import { CallControls, DialPad } from "./call-controls.js";
import { callerDisplay, CallPanel } from "./calls.js";
import { notesSection } from "./customer-form.js";
import { CustomerView } from "./customer.js";
import { dial } from "./dial.js";
import { dispositionCodes, dispositionName } from "./dispositions.js";
import { bootData, chip, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { initPage } from "./header.js";
import { duration, setText, shortTime } from "./i18n.js";
import { SearchBox } from "./search.js";
import { LiveSocket } from "./socket.js";
import { StateControl } from "./state.js";
import { TicketPanel } from "./ticket-forms.js";
import { toast } from "./toast.js";
import { WorklistPanel } from "./worklist.js";
import { WrapUpPanel } from "./wrap-up.js";

initPage();
const user = bootData().user;
const isAgent = user.role === "agent";
const can = {
  edit: ["agent", "supervisor", "admin"].includes(user.role),
  log: ["agent", "supervisor"].includes(user.role),
  dial: isAgent && Boolean(user.extension),
};
const $ = (id) => document.getElementById(id);

// --- the right-hand panel: log a callback, complaints and repairs, the customer's notes ------

const work = $("work-panel");
const wrapupSlot = h("div", { class: "wrapup-slot" });
const callbackSlot = h("div", { class: "callback-slot" });
const ticketSlot = h("div", { class: "ticket-slot" });
const notesSlot = h("div", { class: "notes-slot" });
const endedCalls = new Set(); // linkedids told `ended`: the console acts on each end once
work.append(wrapupSlot, callbackSlot, ticketSlot, notesSlot);
const tickets = new TicketPanel(ticketSlot, { canOpen: can.log });
const callbackForm = new CallbackForm(callbackSlot, {
  canLog: can.log, lookUpCalls: isAgent,
  onSaved: (task) => {
    view.updateTask(task);
    callbackForm.setCustomer(view.card);
    calls.refreshCustomer(view.card);
    // A dissatisfied answer opened complaints: say so, and list them with the customer's.
    for (const c of task.complaints_opened ?? []) {
      toast("cb.complaint_opened", { id: c.id, department: c.department },
            { kind: "warn", href: `/complaints?open=${c.id}` });
    }
    if (task.complaints_opened?.length) tickets.loadOpen();
    refreshMyDay();
  },
});

// --- the agent's day: wrap-up, the worklist, today's figures (agents only) ------------------

const wrapUp = isAgent ? new WrapUpPanel(wrapupSlot, {
  currentCard: () => view.card,
  onSaved: () => {
    loadMyCalls();
    today?.refresh();
  },
}) : null;
const worklist = isAgent ? new WorklistPanel($("worklist"), $("worklist-status"), {
  onOpen: (item) => openCustomer(item.customer_id, { taskId: item.task_id }),
  onDial: (item) => dialCustomer(item.phone.number, item.phone.display, { id: item.customer_id },
                                 { id: item.task_id }),
}) : null;
const today = isAgent ? new TodayPanel($("today")) : null;
for (const id of ["worklist", "today"]) $(id).closest("section").hidden = !isAgent;

function refreshMyDay() {
  worklist?.refresh();
  today?.refresh();
}

function showNotes(card) {
  // A note being typed survives a fresher copy of the same customer.
  const typing = notesSlot.querySelector("form[data-dirty] textarea");
  const sameCustomer = card && notesSlot.dataset.customerId === String(card.id);
  const draft = sameCustomer && typing ? typing.value : "";
  const focused = typing && document.activeElement === typing;
  replace(notesSlot, card ? notesSection(card, { canEdit: can.edit, onSaved: showCard }) : null);
  notesSlot.dataset.customerId = card ? String(card.id) : "";
  const textarea = notesSlot.querySelector("textarea");
  if (draft && textarea) {
    textarea.value = draft;
    textarea.closest("form").dataset.dirty = "";
    if (focused) textarea.focus({ preventScroll: true });
  }
}

// --- the customer in the middle ------------------------------------------------------------

const view = new CustomerView($("customer-view"), {
  canEdit: can.edit, canDial: can.dial, canLog: can.log,
  onDial: (phone, card) => dialCustomer(phone.number, phone.display, card),
  onDialTask: (task, card) => dialCustomer(card.phones[0].number, card.phones[0].display, card,
                                           task),
  onLogTask: (task) => callbackForm.selectTask(task),
  onSaved: (card) => showCard(card),
  onCreated: (card, context) => {
    if (context.call) {
      calls.identified(context.call, card);
      bindCall({ ...bindingOf(context.call), customerId: card.id });
    }
    showCard(card);
  },
  onCancelCreate: () => (lastCard ? showCard(lastCard) : clearCustomer()),
});
let lastCard = null;

function showCard(card) {
  lastCard = card;
  view.show(card);
  callbackForm.setCustomer(card);
  tickets.setCustomer(card);
  showNotes(card);
  calls.refreshCustomer(card);
  calls.setShowing(card.id);
  wrapUp?.setCustomer();
}

function clearCustomer() {
  lastCard = null;
  view.showEmpty();
  callbackForm.renderEmpty();
  tickets.renderEmpty();
  showNotes(null);
  calls.setShowing(null);
  wrapUp?.setCustomer();
}

/** Open a customer in the middle; with `taskId` (from the worklist) that callback is the one
 * the form logs. */
async function openCustomer(customerId, { taskId = null } = {}) {
  if (view.card?.id !== customerId) view.showLoading();
  try {
    showCard(await api.get(`/api/customers/${customerId}`));
    if (taskId) callbackForm.selectTask({ id: taskId });
    $("customer-view").focus({ preventScroll: true });
  } catch (error) {
    view.showError(errorMessage(error));
  }
}

/** Reload the open customer (after a call or an attempt), unless the agent is editing. */
async function refreshCard(customerId) {
  if (!customerId || view.card?.id !== customerId || view.dirty) return;
  try {
    const card = await api.get(`/api/customers/${customerId}`);
    if (view.card?.id === customerId && !view.dirty) showCard(card);
  } catch {
    // the next refresh will do
  }
}

async function dialCustomer(number, display, card, task = null) {
  const result = await dial(number, { taskId: task?.id ?? null, display });
  if (result) {
    bindCall({ linkedid: null, number: display, customerId: card.id,
                        taskId: task?.id ?? null, attemptId: result.attempt_id });
    if (view.card?.id !== card.id) await openCustomer(card.id); // dialed from the worklist
    if (task) callbackForm.selectTask(task);
    worklist?.refresh();
  }
}

// --- screen pops ---------------------------------------------------------------------------

/** The call being handled: the callback form and the complaint/repair forms link to it. */
function bindCall(context) {
  callbackForm.bind(context);
  tickets.bind(context);
}

function bindingOf(call) {
  const pop = call.pop;
  return { linkedid: call.linkedid, number: callerDisplay(pop), customerId: pop.customer?.id,
           taskId: pop.task_id, attemptId: pop.call.attempt_id };
}

const calls = new CallPanel($("calls"), $("calls-empty"), {
  onPop: (call) => {
    const pop = call.pop;
    if (view.dirty || callbackForm.dirty || tickets.dirty) return; // typing: the pop waits
    if (pop.customer) {
      bindCall(bindingOf(call));
      showCard(pop.customer);
    } else {
      view.showCreate({ phones: [pop.unknown_number || pop.call.caller].filter(Boolean) },
                      { call });
      callbackForm.renderEmpty();
      tickets.renderEmpty();
      showNotes(null);
      calls.setShowing(null);
    }
  },
  onOpen: (customerId, call) => {
    if (call?.pop.customer?.id === customerId) bindCall(bindingOf(call));
    openCustomer(customerId);
  },
  onCreate: (call) => view.showCreate(
    { phones: [call.pop.unknown_number || call.pop.call.caller].filter(Boolean) }, { call }),
});

// Without an extension no phone rings for this user, so there is nothing to pop.
if (!user.extension) $("calls").closest("section").hidden = true;

// The call being talked on: its controls. The dial pad calls a typed number.
const controls = can.dial ? new CallControls($("call-controls")) : null;
const talking = () => [...calls.calls.values()].reverse()
  .find((call) => call.status === "answered") ?? null;
if (can.dial) {
  new DialPad($("dial-pad"), {
    onDialled: (result) => bindCall({ linkedid: null, number: result.number, customerId: null,
                                      taskId: null, attemptId: result.attempt_id }),
  });
} else {
  $("dial-pad").closest("section").hidden = true;
}

// --- my recent calls -----------------------------------------------------------------------

async function loadMyCalls() {
  if (!isAgent) {
    $("mycalls").closest("section").hidden = true;
    return;
  }
  let mine;
  try {
    mine = await api.get("/api/calls/mine?limit=8");
  } catch {
    return;
  }
  const list = $("mycalls");
  if (!mine.length) {
    replace(list, h("li", { class: "muted", i18n: "mycalls.none" }));
    return;
  }
  const codes = await dispositionCodes().catch(() => null);
  replace(list, mine.map((call) => {
    const who = call.customer_name || call.customer_number || "—";
    const content = [
      h("span", { class: "mono", text: shortTime(call.started_at) }),
      h("span", { class: "mycall-who", text: who }),
      call.outcome ? h("span", { class: "small", i18n: `call.outcome.${call.outcome}` })
        : h("span"),
      h("span", { class: "mono small", text: call.talk_seconds ? duration(call.talk_seconds) : "" }),
      call.disposition
        ? h("span", { class: "chip chip-info mycall-disposition",
                      dataset: { disposition: call.disposition },
                      text: dispositionName(codes, call.disposition) })
        : call.outcome === "answered" ? chip("warn", "mycalls.not_coded") : null,
    ];
    return h("li", {}, call.customer_id
      ? h("button", { type: "button", class: "mycall", onclick: () => openCustomer(call.customer_id) }, content)
      : h("div", { class: "mycall" }, content));
  }));
}
$("mycalls-refresh").addEventListener("click", loadMyCalls);

// --- header indicators ---------------------------------------------------------------------

const stateControl = isAgent ? new StateControl($("state-control")) : null;
if (!stateControl) $("state-control").hidden = true;
let owedShown = null;

/** The agent's state, pushed on every change: the pill, and the calls left to code. */
function showState(state) {
  if (!state) return;
  stateControl?.update(state);
  if (state.dispositions_owed !== owedShown) {
    owedShown = state.dispositions_owed;
    wrapUp?.refresh();
  }
}

function showPbx(connected) {
  const el = $("pbx-indicator");
  el.dataset.state = connected === true ? "up" : connected === false ? "down" : "unknown";
  setText(el.querySelector(".indicator-text"),
          connected === true ? "pbx.connected" : connected === false ? "pbx.disconnected"
            : "pbx.unknown");
}

function showLive(status, attempt) {
  const el = $("live-indicator");
  el.dataset.state = status === "open" ? "up" : status === "closed" ? "down" : "connecting";
  setText(el.querySelector(".indicator-text"),
          status === "open" ? "live.connected" : status === "closed" ? "live.reconnecting"
            : "live.connecting");
  const banner = $("live-banner");
  banner.hidden = status !== "closed";
  if (status === "closed") setText($("live-banner-text"), "live.banner", { n: attempt });
}

// --- the live channel ----------------------------------------------------------------------

function handle(message, { replaying = false } = {}) {
  switch (message.type) {
    case "pop":
      calls.pop(message, { quiet: replaying });
      break;
    case "answered":
      calls.answered(message);
      break;
    case "ring_stopped":
      calls.ringStopped(message);
      break;
    case "ended": {
      // One end per call: a repeated `ended` (the same call told twice) changes nothing.
      if (endedCalls.has(message.linkedid)) break;
      endedCalls.add(message.linkedid);
      if (endedCalls.size > 500) endedCalls.delete(endedCalls.values().next().value);
      const call = calls.ended(message);
      if (message.attempt_id && message.outcome !== "answered") {
        callbackForm.autoRecorded(message.attempt_id, message.outcome);
      }
      if (!replaying) {
        setTimeout(loadMyCalls, 300);
        setTimeout(() => refreshCard(call?.pop.customer?.id), 300);
        if (message.outcome === "answered") setTimeout(() => wrapUp?.refresh(), 300);
        setTimeout(refreshMyDay, 300);
      }
      break;
    }
    case "state":
      if (!replaying) showState(message);
      break;
    case "callback_reminder":
      worklist?.remind(message, { replayed: replaying });
      break;
    case "pbx":
      if (!replaying) showPbx(message.connected);
      break;
    default:
      break;
  }
  controls?.follow(talking());
}

const socket = new LiveSocket({
  onHello: (hello) => {
    showState(hello.state);
    showPbx(hello.pbx?.connected);
  },
  onMessage: (message) => handle(message),
  // History from before this page (a reload): rebuild the calls still going on, quietly.
  onReplay: (messages) => {
    for (const message of messages) handle(message, { replaying: true });
    for (const call of [...calls.calls.values()]) {
      if (call.status === "ended" || call.status === "ring_stopped") calls.dismiss(call);
    }
    const current = calls.current();
    if (current) calls.handlers.onPop(current);
    controls?.follow(talking());
  },
  onStatus: showLive,
});
$("live-reconnect").addEventListener("click", () => socket.reconnectNow());

// --- search --------------------------------------------------------------------------------

new SearchBox({
  form: $("search-form"), input: $("search-q"), results: $("search-results"),
  status: $("search-status"), onOpen: openCustomer,
});
const newCustomer = $("new-customer");
if (can.edit) newCustomer.addEventListener("click", () => view.showCreate({}, {}));
else newCustomer.hidden = true;

// Start: the state first, then the live channel (both would create an agent's first state
// row at once, and the second would fail), and my calls.
(stateControl ? stateControl.load() : Promise.resolve()).finally(() => socket.start());
loadMyCalls();
refreshMyDay();
