// "My worklist" on the agent console: the stage callbacks due today and overdue that this agent
// should make — those they promised a customer (稍后再打) and the shared pool's — by deadline,
// each one click from the customer's card and from the dial button. A promised call back's
// reminder ("callback_reminder" on the websocket) shows as a notice that opens the customer.
import { api } from "./api.js";
import { chip, gradeBadge, h, replace } from "./dom.js";
import { msg, shortTime } from "./i18n.js";
import { taskMessage } from "./labels.js";
import { toast } from "./toast.js";

const REFRESH_MS = 60_000;

/** A worklist item's task as labels.js names tasks (a complaint's call back has no number). */
function itemTask(item) {
  if (item.stage === "complaint") return msg("worklist.complaint_callback");
  return taskMessage(item);
}

export class WorklistPanel {
  /** options: onOpen(item) opens the customer; onDial(item) dials their first phone */
  constructor(list, status, options) {
    this.list = list;
    this.status = status;
    this.options = options;
    this.items = [];
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    try {
      this.items = await api.get("/api/agent/worklist");
    } catch {
      return; // the next refresh will do
    }
    this.render();
  }

  render() {
    const items = this.items;
    const overdue = items.filter((i) => i.overdue).length;
    this.status.dataset.count = String(items.length);
    replace(this.status, h("span", { i18n: ["worklist.count", { n: items.length, overdue }] }));
    if (!items.length) {
      replace(this.list, h("li", { class: "muted", i18n: "worklist.none" }));
      return;
    }
    replace(this.list, items.map((item) => this.row(item)));
  }

  row(item) {
    const task = itemTask(item);
    const when = item.promised_at
      ? h("span", { class: "small", i18n: ["worklist.promised", { t: shortTime(item.promised_at) }] })
      : h("span", { class: "small muted", i18n: ["worklist.deadline", { d: item.latest_date }] });
    const canDial = item.phone && !item.do_not_call;
    return h("li", { class: ["worklist-item", item.overdue && "is-overdue"],
                     dataset: { taskId: item.task_id, customerId: item.customer_id,
                                mine: String(item.mine) } },
      h("button", { type: "button", class: "worklist-open", onclick: () => this.options.onOpen(item),
                    i18nAttrs: { title: ["worklist.open", { name: item.customer_name }] } },
        gradeBadge(item.grade, "small"),
        h("span", { class: "worklist-name", text: item.customer_name }),
        h("span", { class: "worklist-task", i18n: ["worklist.task", { task, n: item.contract_number }] })),
      h("span", { class: "worklist-when" },
        when,
        item.overdue ? chip("bad", "task.overdue") : null,
        item.mine ? chip("info", "worklist.mine") : null),
      h("button", { type: "button", class: "worklist-dial", disabled: !canDial,
                    onclick: () => this.options.onDial(item),
                    i18n: "task.call",
                    i18nAttrs: { title: item.do_not_call ? "dial.dnc"
                      : item.phone ? ["task.call_label", { number: item.phone.display, task }]
                        : "dial.no_phone" } }));
  }

  /** Time to make a promised call back: a notice until closed, which opens the customer. */
  remind(message, { replayed = false } = {}) {
    this.refresh();
    if (replayed) return null;
    const notice = toast("worklist.reminder", {
      name: message.customer_name, task: itemTask(message), t: shortTime(message.call_back_at),
    }, { kind: "warn", sticky: true });
    notice.classList.add("toast-reminder");
    notice.dataset.taskId = String(message.task_id);
    notice.insertBefore(h("button", { type: "button", class: "button-link", i18n: "worklist.open_now",
                                      onclick: () => {
                                        notice.remove();
                                        this.options.onOpen(message);
                                      } }), notice.lastChild);
    return notice;
  }
}
