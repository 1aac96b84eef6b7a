// The wallboard's alerts (crm/wallboard/thresholds.py): the snapshot's `alerts` colour the
// figures that reached a level (amber: warn, red: alert) and the agent rows paused too long;
// a "wallboard_alert" message (a threshold just crossed) is shown as a notice on whichever
// page the supervisor has open (socket.js).
import { h } from "./dom.js";
import { duration, queueName, t } from "./i18n.js";
import { toast } from "./toast.js";

const FIGURE = { callers_waiting: "waiting", longest_wait: "longest_now",
                 abandon_rate: "abandon_rate" };
const RANK = { warn: 1, alert: 2 };

function higher(a, b) {
  return (RANK[a] || 0) >= (RANK[b] || 0) ? a : b;
}

/** What the alert's message says: the queue or agent, the figure and the level reached. */
export function alertParams(alert) {
  const number = (v) => (alert.measure === "longest_wait" ? duration(v)
    : alert.measure === "abandon_rate" ? `${v.toFixed(1)}%` : String(Math.floor(v)));
  return {
    queue: alert.queue ? queueName(alert.queue) : "",
    name: alert.agent_name || "",
    reason: alert.reason ? t(`reason.${alert.reason}`) : "",
    value: number(alert.value),
    limit: number(alert.limit),
  };
}

/** Mark the figures and rows the snapshot's alerts are about (after they were drawn). */
export function colourAlerts(root, snapshot) {
  for (const alert of snapshot.alerts) {
    const message = t(`wallboard.alert.${alert.measure}`, alertParams(alert));
    if (alert.queue !== null && alert.queue !== undefined) {
      const tile = [...root.querySelectorAll(".wb-queue")]
        .find((el) => el.dataset.queue === alert.queue);
      if (!tile) continue;
      tile.dataset.alert = higher(tile.dataset.alert, alert.level);
      const figure = tile.querySelector(`[data-figure="${FIGURE[alert.measure]}"]`);
      if (figure) {
        figure.dataset.alert = alert.level;
        figure.title = message;
      }
    } else if (alert.agent_id !== null && alert.agent_id !== undefined) {
      const row = root.querySelector(`tr[data-agent="${alert.agent_id}"]`);
      if (!row) continue;
      row.dataset.alert = alert.level;
      row.querySelector(".wb-state")?.append(" ", h("span", {
        class: ["chip", alert.level === "alert" ? "chip-bad" : "chip-warn", "wb-alert-chip"],
        title: message, i18n: "wallboard.alert.paused_chip" }));
    }
  }
}

/** A threshold just crossed: one notice per alert (an alarm stays until closed). */
export function showWallboardAlerts(message) {
  for (const alert of message.alerts) {
    const notice = toast(`wallboard.alert.${alert.measure}`, alertParams(alert), {
      kind: alert.level === "alert" ? "error" : "warn", sticky: alert.level === "alert",
      href: location.pathname === "/wallboard" ? undefined : "/wallboard" });
    notice.classList.add("toast-wallboard-alert");
    Object.assign(notice.dataset, { measure: alert.measure, level: alert.level });
  }
}
