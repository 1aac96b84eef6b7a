// The wallboard's charts (Chart.js, vendored, loaded on first use): today's queue calls per
// hour, answered against abandoned, and how many agents are in each state now. The tiles and
// the table carry the same numbers, so the board reads fine without them.
import { onLanguageChange, t } from "./i18n.js";
import { loadChart } from "./chart-loader.js";

const STATES = ["on_call", "ringing", "ready", "wrapup", "paused", "logged_out"];
const STATE_COLOURS = { on_call: "#1d5fd1", ringing: "#0e7490", ready: "#15803d",
                        wrapup: "#a55a00", paused: "#8592a3", logged_out: "#d5dae1" };
const ANSWERED = "#15803d";
const ABANDONED = "#c42020";
const NO_AGENT = "#7c3aed"; // lost for want of an agent: the staffing, not the caller
// The hotline's day, always on the axis; earlier or later hours appear when they had calls.
const FIRST_HOUR = 8;
const LAST_HOUR = 20;


function stateLabel(state) {
  return t(state === "on_call" ? "wallboard.status.on_call" : `status.${state}`);
}

/** The hours worth showing: the working day, widened to the hour now and any hour with calls. */
export function shownHours(hours, currentHour) {
  const active = hours.filter((h) => h.answered || h.abandoned || h.no_agent).map((h) => h.hour);
  const from = Math.min(FIRST_HOUR, ...active, currentHour);
  const to = Math.max(LAST_HOUR, ...active, currentHour);
  return hours.filter((h) => h.hour >= from && h.hour <= to);
}

export class WallboardCharts {
  constructor(hoursCanvas, statesCanvas) {
    this.hoursCanvas = hoursCanvas;
    this.statesCanvas = statesCanvas;
    this.hours = null;
    this.states = null;
    this.snapshot = null;
    onLanguageChange(() => this.relabel());
  }

  async update(snapshot) {
    this.snapshot = snapshot;
    let Chart;
    try {
      Chart = await loadChart();
    } catch {
      return; // no charts: the figures are on the tiles and in the table
    }
    if (this.snapshot !== snapshot) return; // a newer one is being drawn
    this.drawHours(Chart, snapshot);
    this.drawStates(Chart, snapshot);
  }

  drawHours(Chart, snapshot) {
    const currentHour = new Date(snapshot.server_time).getHours();
    const hours = shownHours(snapshot.hours, currentHour);
    const labels = hours.map((h) => `${String(h.hour).padStart(2, "0")}:00`);
    const answered = hours.map((h) => h.answered);
    const abandoned = hours.map((h) => h.abandoned);
    const noAgent = hours.map((h) => h.no_agent);
    if (!this.hours) {
      this.hours = new Chart(this.hoursCanvas, {
        type: "bar",
        data: { labels, datasets: [
          { label: t("wallboard.fig.answered"), data: answered, backgroundColor: ANSWERED },
          { label: t("wallboard.fig.abandoned"), data: abandoned, backgroundColor: ABANDONED },
          { label: t("wallboard.fig.no_agent"), data: noAgent, backgroundColor: NO_AGENT }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
                                                         ticks: { precision: 0 } } },
                   plugins: { legend: { position: "bottom" } } },
      });
      return;
    }
    this.hours.data.labels = labels;
    this.hours.data.datasets[0].data = answered;
    this.hours.data.datasets[1].data = abandoned;
    this.hours.data.datasets[2].data = noAgent;
    this.hours.update("none");
  }

  drawStates(Chart, snapshot) {
    const counts = STATES.map((s) => snapshot.agents.filter((a) => a.status === s).length);
    if (!this.states) {
      this.states = new Chart(this.statesCanvas, {
        type: "doughnut",
        data: { labels: STATES.map(stateLabel),
                datasets: [{ data: counts, backgroundColor: STATES.map((s) => STATE_COLOURS[s]) }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { position: "right" } } },
      });
      return;
    }
    this.states.data.datasets[0].data = counts;
    this.states.update("none");
  }

  relabel() {
    if (this.hours) {
      this.hours.data.datasets[0].label = t("wallboard.fig.answered");
      this.hours.data.datasets[1].label = t("wallboard.fig.abandoned");
      this.hours.data.datasets[2].label = t("wallboard.fig.no_agent");
      this.hours.update("none");
    }
    if (this.states) {
      this.states.data.labels = STATES.map(stateLabel);
      this.states.update("none");
    }
  }
}
