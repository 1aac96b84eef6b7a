// One campaign: its status with the buttons that status allows (start or resume, pause, stop,
// edit), what it selects and how it dials, whether the dialer is working, the live progress
// by stage and the attempts. refresh() re-reads it all; the page calls it every few seconds.
import { api } from "./api.js";
import { chip, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { dateTime, msg, queueName, setText, t } from "./i18n.js";
import { ACTIONS, STATUS_KIND, stageMessage } from "./campaign-labels.js";
import { AttemptsView } from "./campaign-attempts.js";
import { ProgressView } from "./campaign-progress.js";
import { toast, toastError } from "./toast.js";

const CONFIRM = { stop: "campaigns.confirm_stop" };
const DONE = { start: "campaigns.started", pause: "campaigns.paused", stop: "campaigns.stopped" };

/** "开工回访、中期回访", or "any" for an empty selection. */
function list(values, message) {
  if (!values.length) return t("campaigns.any");
  return values.map((v) => {
    const m = message(v);
    return t(m.$t, m.args);
  }).join(t("campaigns.list_separator"));
}

export class CampaignView {
  /** agents: Map id → {display_name, extension}; onChanged(campaign) after an action */
  constructor(campaignId, { agents, onChanged }) {
    this.id = campaignId;
    this.agents = agents;
    this.onChanged = onChanged;
    this.campaign = null;
    this.busy = false;
    this.progress = new ProgressView();
    this.attempts = new AttemptsView(campaignId, {
      agentName: (id) => this.agents.get(id)?.display_name ?? null });
    this.head = h("div", { class: "panel campaign-head" });
    this.element = h("div", { class: "campaign-detail", dataset: { campaignId } },
      this.head, this.progress.element, this.attempts.element);
    setText(this.head, "campaigns.loading");
  }

  /** Re-read the campaign, its progress and its attempts. False when it could not. */
  async refresh() {
    let detail;
    try {
      detail = await api.get(`/api/campaigns/${this.id}`);
    } catch (error) {
      if (!this.campaign) {
        replace(this.head, h("p", { class: "form-error", role: "alert", text: errorMessage(error) }));
      }
      return false;
    }
    this.show(detail.campaign, detail.dialer);
    this.progress.update(detail.progress);
    await this.attempts.load();
    return true;
  }

  show(campaign, dialer) {
    const changed = JSON.stringify(this.campaign) !== JSON.stringify(campaign);
    this.campaign = campaign;
    this.dialer = dialer;
    if (changed) this.renderHead();
    this.renderDialer();
  }

  /** The head's facts are text made in the current language: redraw them on a change. */
  renderHead() {
    const c = this.campaign;
    if (!c) return;
    this.dialerLine = h("span", { id: "campaign-dialer", class: "campaign-dialer" });
    const actions = h("div", { class: "campaign-actions", id: "campaign-actions" },
      ACTIONS[c.status].map((action) => h("button", {
        type: "button", id: `campaign-${action}`,
        class: ["button-small", action === "start" && "primary", action === "stop" && "danger"],
        dataset: { action },
        i18n: action === "start" && c.status === "paused" ? "campaigns.resume" : `campaigns.action.${action}`,
        onclick: () => this.act(action) })),
      c.status !== "stopped" && h("a", { href: `#edit=${c.id}`, id: "campaign-edit",
                                         class: "button button-small", i18n: "campaigns.edit" }));
    const agents = c.agent_ids.map((id) => this.agents.get(id)?.display_name ?? `#${id}`);
    const facts = [
      ["campaigns.fact.mode", t(`campaigns.mode.${c.mode}`)],
      ["campaigns.fact.stages", list(c.stages, (s) => stageMessage(s))],
      ["campaigns.fact.grades", list(c.grades, (g) => msg("campaigns.grade_option", { g }))],
      ["campaigns.fact.project_statuses", list(c.project_statuses, (s) => msg(`project.status.${s}`))],
      ["campaigns.fact.due", t("campaigns.due_range", {
        from: c.due_from || t("campaigns.any_date"), to: c.due_to || t("campaigns.today") })],
      ["campaigns.fact.hours", c.calling_hours || t("campaigns.default_hours")],
      ["campaigns.fact.max_concurrent", String(c.max_concurrent)],
      c.mode === "agent_first"
        ? ["campaigns.fact.agents", agents.length ? agents.join(t("campaigns.list_separator")) : t("campaigns.all_agents")]
        : ["campaigns.fact.queue", t("campaigns.queue_pacing", {
          queue: c.queue ? queueName(c.queue) : t("campaigns.default_queue"), ratio: c.pacing_ratio })],
      ["campaigns.fact.retries", t("campaigns.retry_summary", {
        busy: c.busy_retry_minutes, no_answer: c.no_answer_retry_minutes,
        failed: c.failed_retry_minutes, day: c.max_attempts_per_day, total: c.max_attempts_total })],
      ["campaigns.fact.redial_guard", t("campaigns.minutes", { n: c.redial_guard_minutes })],
    ];
    const focused = Boolean(document.activeElement?.closest?.("#campaign-actions"));
    replace(this.head,
      h("div", { class: "campaign-title" },
        h("h2", { id: "campaign-title", text: c.name }),
        h("span", { id: "campaign-status", dataset: { status: c.status } },
          chip(STATUS_KIND[c.status], `campaigns.status.${c.status}`)),
        actions),
      h("p", { class: "muted small campaign-times" },
        c.started_at && h("span", { i18n: ["campaigns.started_at", { t: dateTime(c.started_at) }] }),
        c.stopped_at && h("span", { i18n: ["campaigns.stopped_at", { t: dateTime(c.stopped_at) }] }),
        this.dialerLine),
      h("dl", { class: "campaign-facts" }, facts.map(([key, value]) => [
        h("dt", { i18n: key }), h("dd", { text: value })])));
    if (focused) actions.querySelector("button, a")?.focus();
  }

  renderDialer() {
    if (!this.dialerLine) return;
    const d = this.dialer;
    const key = !d ? "campaigns.dialer.off"
      : d.active ? (d.standby ? "campaigns.dialer.active_standby" : "campaigns.dialer.active")
      : "campaigns.dialer.standby";
    setText(this.dialerLine, key, { n: d?.calls_started ?? 0, standby: d?.standby ?? 0 });
    this.dialerLine.dataset.state = !d ? "off" : d.active ? "active" : "standby";
  }

  async act(action) {
    if (this.busy) return;
    if (CONFIRM[action] && !window.confirm(t(CONFIRM[action], { name: this.campaign.name }))) return;
    this.busy = true;
    for (const button of this.head.querySelectorAll("#campaign-actions button")) button.disabled = true;
    let campaign = null;
    try {
      campaign = await api.post(`/api/campaigns/${this.id}/${action}`);
      toast(DONE[action], { name: campaign.name });
    } catch (error) {
      toastError(errorMessage(error));
    } finally {
      // Done before the redraw: the buttons it draws work at once (a click while the
      // progress and attempts still load was lost).
      this.busy = false;
    }
    this.campaign = null; // redraw the buttons for the status the server now holds
    await this.refresh();
    if (campaign) this.onChanged(campaign);
  }

  destroy() {
    this.progress.destroy();
  }
}
