// Today's figures for the agent on the console: calls handled, talk time, callbacks made and
// how many were effective, calls coded — GET /api/agent/today, counted as the wallboard counts.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { duration } from "./i18n.js";

const REFRESH_MS = 60_000;

function figure(name, labelKey, value) {
  return h("div", { class: "today-figure", dataset: { figure: name } },
    h("span", { class: "today-value mono", text: value }),
    h("span", { class: "today-label small", i18n: labelKey }));
}

export class TodayPanel {
  constructor(root) {
    this.root = root;
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    let today;
    try {
      today = await api.get("/api/agent/today");
    } catch {
      return; // the next refresh will do
    }
    replace(this.root,
      figure("calls", "today.calls", today.calls_handled),
      figure("talk", "today.talk", duration(today.talk_seconds)),
      figure("callbacks", "today.callbacks",
             `${today.callbacks_effective} / ${today.callbacks_made}`),
      figure("coded", "today.coded", today.calls_coded));
  }
}
