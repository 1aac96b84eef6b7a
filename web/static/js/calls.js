// Screen pops: one card per call ringing this agent's phone, shown before the agent answers
// (the caller's grade, name, projects and what is due), then following the call: answered,
// stopped ringing, ended. Keyed by linkedid, so a call never shows twice.
import { gradeBadge, h } from "./dom.js";
import { duration, msg, queueName, setText, shortTime } from "./i18n.js";
import { AREAS, likelyTask, OPEN_TASK, taskMessage } from "./labels.js";

const KEEP_FINISHED = 3;

function digits(text) {
  return String(text || "").replace(/\D/g, "");
}

/** The caller's number as the customer card writes it (138 0013 8000), when it is theirs. */
export function callerDisplay(pop) {
  const caller = pop.call.caller || pop.unknown_number;
  const key = digits(caller);
  const phone = pop.customer?.phones.find((p) => key && (key.endsWith(p.number)
                                                         || p.number.endsWith(key)));
  return phone?.display || caller || null;
}

/** The customer's most recent finished callback attempt, with its task. */
function lastAttempt(customer) {
  let found = null;
  for (const project of customer.projects) {
    for (const task of project.callbacks) {
      for (const attempt of task.attempts) {
        if (attempt.outcome && (!found || attempt.started_at > found.attempt.started_at)) {
          found = { task, attempt };
        }
      }
    }
  }
  return found;
}

export class CallPanel {
  /** handlers: onPop(call), onOpen(customerId), onCreate(call), onDismiss(call) */
  constructor(root, empty, handlers) {
    this.root = root;
    this.empty = empty;
    this.handlers = handlers;
    this.calls = new Map();
    this.showing = null; // the customer id open in the main view
    setInterval(() => this.tick(), 1000);
  }

  get(linkedid) {
    return this.calls.get(linkedid);
  }

  /** The newest call still ringing or talking. */
  current() {
    return [...this.calls.values()].reverse()
      .find((call) => call.status === "ringing" || call.status === "answered") ?? null;
  }

  pop(message, { quiet = false } = {}) {
    const linkedid = message.call.linkedid;
    let call = this.calls.get(linkedid);
    const again = Boolean(call);
    if (again) {
      // The same call ringing this phone again (the queue's next round): the same card. The
      // server sends the card it built at the first ring; ours may be fresher (edits since).
      const known = call.pop.customer;
      call.pop = known && known.id === message.customer?.id ? { ...message, customer: known }
        : message;
      if (call.status === "ring_stopped") {
        Object.assign(call, { status: "ringing", reason: null, since: Date.now() });
      }
    } else {
      call = { linkedid, pop: message, status: "ringing", reason: null, outcome: null,
               since: (quiet && Date.parse(message.call.at)) || Date.now(), talkSeconds: null };
      this.calls.set(linkedid, call);
    }
    this.render(call);
    if (!quiet && !again) {
      this.announce(call);
      this.handlers.onPop?.(call);
    }
    this.prune();
    return call;
  }

  /** Tell a screen reader who is calling (the cards themselves are not a live region). */
  announce(call) {
    const region = document.getElementById("calls-announce");
    if (!region) return;
    const who = call.pop.customer?.name ?? msg("call.unknown_number");
    setText(region, "call.announce", { who, number: callerDisplay(call.pop) || "" });
  }

  answered(message) {
    const call = this.calls.get(message.linkedid);
    if (!call) return;
    call.status = "answered";
    call.since = Date.now(); // the page's clock: the server's may differ
    this.render(call);
  }

  ringStopped(message) {
    const call = this.calls.get(message.linkedid);
    if (!call || call.status === "ended") return;
    call.status = "ring_stopped";
    call.reason = message.reason;
    this.render(call);
  }

  ended(message) {
    const call = this.calls.get(message.linkedid);
    if (!call) return null;
    call.status = "ended";
    call.outcome = message.outcome;
    call.talkSeconds = message.talk_seconds;
    this.render(call);
    this.prune();
    return call;
  }

  /** The customer created for an unknown caller: the card now shows them. */
  identified(call, card) {
    call.pop = { ...call.pop, customer: card, unknown_number: null, candidates: [] };
    this.render(call);
  }

  /** A fresher card of a customer (after an edit or a logged callback): the pops follow. */
  refreshCustomer(card) {
    for (const call of this.calls.values()) {
      if (call.pop.customer?.id === card.id) {
        call.pop = { ...call.pop, customer: card };
        this.render(call);
      }
    }
  }

  setShowing(customerId) {
    this.showing = customerId;
    for (const call of this.calls.values()) this.render(call);
  }

  dismiss(call) {
    call.el?.remove();
    this.calls.delete(call.linkedid);
    this.updateEmpty();
    this.handlers.onDismiss?.(call);
  }

  prune() {
    const finished = [...this.calls.values()]
      .filter((c) => c.status === "ended" || c.status === "ring_stopped");
    for (const call of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.dismiss(call);
    }
  }

  updateEmpty() {
    this.empty.hidden = this.calls.size > 0;
  }

  tick() {
    for (const call of this.calls.values()) {
      if (call.timer && (call.status === "ringing" || call.status === "answered")) {
        call.timer.textContent = duration((Date.now() - call.since) / 1000);
      }
    }
  }

  render(call) {
    const { pop } = call;
    const number = callerDisplay(pop);
    const customer = pop.customer;
    const over = call.status === "ended" || call.status === "ring_stopped";
    call.timer = h("span", { class: "call-timer", "aria-hidden": "true" });
    const head = h("div", { class: "call-head" },
      h("span", { class: ["call-status", `call-status-${call.status}`],
                  i18n: `call.status.${call.status}` }),
      h("span", { class: "call-direction" },
        h("span", { i18n: pop.call.direction === "outbound" ? "call.outbound" : "call.inbound" }),
        " · ",
        pop.call.queue ? h("span", { i18n: ["call.queue", { q: queueName(pop.call.queue) }] })
          : h("span", { i18n: "call.direct" })),
      call.timer,
      over && h("button", { type: "button", class: "icon-button call-dismiss", text: "×",
        i18nAttrs: { "aria-label": "call.dismiss_label", title: "call.dismiss" },
        onclick: () => this.dismiss(call) }));
    const detail = [];
    if (call.status === "ring_stopped" && call.reason) {
      detail.push(h("p", { class: "call-note", i18n: `ring_stop.${call.reason}` }));
    } else if (call.status === "ended") {
      detail.push(h("p", { class: "call-note" },
        call.outcome && h("span", { i18n: `call.outcome.${call.outcome}` }),
        call.talkSeconds ? " · " : "",
        call.talkSeconds ? h("span", { i18n: ["call.talked", { d: duration(call.talkSeconds) }] }) : ""));
    }
    const body = customer ? this.customerPart(call, customer)
      : this.unknownPart(call);
    const el = h("article", {
      class: ["call-card", `is-${call.status}`, customer && `grade-edge-${customer.grade}`],
      dataset: { linkedid: call.linkedid, status: call.status },
      i18nAttrs: { "aria-label": ["call.card_label",
                                  { number: number || msg("call.no_number") }] },
    }, head,
      h("div", { class: "call-number", text: number || "" }, !number && h("span", { i18n: "call.no_number" })),
      body, detail);
    if (call.el?.isConnected) call.el.replaceWith(el);
    else this.root.prepend(el);
    call.el = el;
    this.tick();
    this.updateEmpty();
  }

  customerPart(call, customer) {
    const { pop } = call;
    const parts = [];
    parts.push(h("div", { class: "call-customer" },
      gradeBadge(customer.grade, "lg"),
      h("div", { class: "call-who" },
        h("h3", { class: "call-name", text: customer.name }),
        h("p", { class: "call-address", text: customer.address || "" }))));
    if (customer.do_not_call) {
      parts.push(h("p", { class: "dnc-line",
                          i18n: ["customer.dnc", { reason: customer.do_not_call_reason || "" }] }));
    }
    const task = pop.task_id && customer.projects.flatMap((p) => p.callbacks)
      .find((c) => c.id === pop.task_id);
    if (task) {
      parts.push(h("p", { class: "call-task", i18n: ["call.callback_task",
                                                       { task: taskMessage(task) }] }));
    }
    const projects = h("ul", { class: "call-projects" });
    for (const project of customer.projects) {
      const next = likelyTask(project.callbacks.filter((c) => OPEN_TASK.has(c.status)));
      projects.append(h("li", {},
        h("span", { class: "mono", text: project.contract_number }), " ",
        h("span", { class: "chip chip-stage",
                    i18n: project.current_stage ? `stage.${project.current_stage}`
                      : `project.status.${project.status}` }), " ",
        next ? h("span", { class: ["call-next", next.overdue && "is-overdue"],
                           i18n: ["call.next_callback", { task: taskMessage(next),
                                                          due: next.due_date }] })
          : h("span", { class: "muted", i18n: "call.no_pending" })));
    }
    if (customer.projects.length) parts.push(projects);
    const latest = lastAttempt(customer);
    if (latest) {
      const { task, attempt } = latest;
      const unhappy = AREAS.filter((a) => attempt.satisfaction?.[a] === "unsatisfied");
      parts.push(h("p", { class: "call-last-callback" },
        h("span", { i18n: ["call.last_callback", { task: taskMessage(task),
                                                   outcome: msg(`outcome.${attempt.outcome}`),
                                                   t: shortTime(attempt.started_at) }] }),
        unhappy.map((a) => h("span", { class: "sat sat-bad", i18n: ["sat.pair", {
          area: msg(`area.${a}`), value: msg("sat.unsatisfied") }] }))));
    }
    const note = customer.notes?.trim().split("\n").filter((line) => line.trim()).at(-1);
    if (note) parts.push(h("p", { class: "call-note-excerpt", text: note }));
    const last = customer.recent_calls?.find((c) => c.outcome); // not this call, still going
    if (last) {
      parts.push(h("p", { class: "muted small",
                          i18n: ["call.last_call", { t: shortTime(last.started_at) }] }));
    }
    if (pop.candidates?.length > 1) {
      parts.push(this.candidatesPart(pop.candidates, customer.id));
    }
    const showing = this.showing === customer.id;
    parts.push(h("div", { class: "call-actions" },
      h("button", { type: "button", class: showing ? "button-quiet" : "primary",
        disabled: showing, i18n: showing ? "call.showing" : "call.open",
        onclick: () => this.handlers.onOpen?.(customer.id, call) })));
    return parts;
  }

  candidatesPart(candidates, shownId) {
    const list = h("ul", { class: "candidates" });
    for (const candidate of candidates) {
      list.append(h("li", {}, h("button", {
        type: "button", class: ["candidate", candidate.id === shownId && "is-current"],
        "aria-current": candidate.id === shownId ? "true" : false,
        onclick: () => this.handlers.onOpen?.(candidate.id),
      }, gradeBadge(candidate.grade), h("span", { class: "candidate-name", text: candidate.name }),
      h("span", { class: "muted small", text: candidate.address || "" }))));
    }
    return h("div", { class: "call-candidates" },
      h("p", { i18n: ["call.candidates", { n: candidates.length }] }), list);
  }

  unknownPart(call) {
    return h("div", { class: "call-unknown" },
      h("h3", { class: "call-name", i18n: "call.unknown_number" }),
      h("p", { i18n: "call.unknown_offer" }),
      h("button", { type: "button", class: "primary", i18n: "call.create_customer",
                    onclick: () => this.handlers.onCreate?.(call) }));
  }
}
