// The agent's status in the header, as the wallboard shows it (the server derives both): the
// phone ringing, on a call (with the call's time), wrap-up (counting down, or held until the
// calls are coded), ready, paused with a reason, logged out; with a running time since it
// began. Changes go to PUT /api/agent/state; going ready waits while a required disposition
// is missing.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { duration, msg, setAttrs, setText } from "./i18n.js";
import { toastError } from "./toast.js";

const DEFAULT_REASONS = ["break", "lunch", "training", "meeting", "after_call_work", "other"];

export class StateControl {
  constructor(root) {
    this.root = root;
    this.state = null;
    this.reasons = DEFAULT_REASONS;
    this.build();
    setInterval(() => this.tick(), 1000);
  }

  build() {
    // Only the status itself is announced, not the seconds ticking beside it.
    this.chip = h("span", { class: "state-chip", id: "state-chip", dataset: { status: "unknown" } });
    this.chipLabel = h("strong", { class: "state-label", role: "status" });
    this.chipTime = h("span", { class: "state-time" });
    this.syncWarning = h("span", { class: "sync-warning", hidden: true, text: "!",
                                   i18nAttrs: { title: "state.not_synced",
                                                "aria-label": "state.not_synced" } });
    this.chip.append(this.chipLabel, this.chipTime, this.syncWarning);

    this.readyButton = h("button", { type: "button", class: "state-button", id: "state-ready",
      dataset: { target: "ready" }, i18n: "state.go_ready",
      onclick: () => this.change("ready") });
    this.menu = h("div", { id: "pause-menu", class: "menu", popover: "auto", role: "menu",
                           i18nAttrs: { "aria-label": "state.pause_menu" } });
    this.pauseButton = h("button", { type: "button", class: "state-button", id: "state-pause",
      dataset: { target: "paused" }, popovertarget: "pause-menu", "aria-haspopup": "menu",
      "aria-expanded": "false" }, h("span", { i18n: "state.pause" }), h("span", {
      class: "caret", "aria-hidden": "true", text: "▾" }));
    this.logoutButton = h("button", { type: "button", class: "state-button", id: "state-logout",
      dataset: { target: "logged_out" }, i18n: "state.log_out",
      onclick: () => this.change("logged_out") });
    this.error = h("span", { class: "state-error", role: "alert", id: "state-error" });
    this.menu.addEventListener("toggle", (event) => this.menuToggled(event));
    this.menu.addEventListener("keydown", (event) => this.menuKeys(event));
    this.renderMenu();
    replace(this.root,
      h("span", { class: "sr-only", id: "state-legend", i18n: "state.legend" }),
      this.chip,
      h("div", { class: "state-buttons", role: "group", "aria-labelledby": "state-legend",
                 dataset: { field: "status" } },
        this.readyButton, this.pauseButton, this.menu, this.logoutButton),
      this.error);
  }

  renderMenu() {
    replace(this.menu, this.reasons.map((reason) => h("button", {
      type: "button", role: "menuitem", class: "menu-item", dataset: { reason },
      i18n: `reason.${reason}`,
      onclick: () => {
        this.menu.hidePopover();
        this.change("paused", reason);
      },
    })));
  }

  menuToggled(event) {
    const open = event.newState === "open";
    this.pauseButton.setAttribute("aria-expanded", String(open));
    if (!open) return;
    const rect = this.pauseButton.getBoundingClientRect();
    this.menu.style.top = `${rect.bottom + 4}px`;
    this.menu.style.left = `${Math.min(rect.left, window.innerWidth - 200)}px`;
    const current = this.menu.querySelector(`[data-reason="${this.state?.reason}"]`);
    (current ?? this.menu.querySelector("button"))?.focus();
  }

  menuKeys(event) {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const items = [...this.menu.querySelectorAll("button")];
    const at = items.indexOf(document.activeElement);
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[event.key];
    items[(next + items.length) % items.length].focus();
  }

  async load() {
    try {
      this.update(await api.get("/api/agent/state"));
    } catch (error) {
      this.error.textContent = errorMessage(error);
    }
  }

  async change(status, reason = null) {
    this.error.textContent = "";
    this.setButtons(true);
    try {
      this.update(await api.put("/api/agent/state", { status, reason }));
    } catch (error) {
      this.error.textContent = errorMessage(error);
      toastError(errorMessage(error));
    } finally {
      this.setButtons();
    }
  }

  /** A state from the API or the websocket. */
  update(state) {
    if (!state) return;
    this.state = state;
    // The server's clock against this page's: the running times count from the server's.
    this.skew = state.server_time ? Date.now() - new Date(state.server_time) : 0;
    if (state.pause_reasons?.length && state.pause_reasons.join() !== this.reasons.join()) {
      this.reasons = state.pause_reasons;
      this.renderMenu();
    }
    const presence = state.presence ?? state.status;
    this.chip.dataset.status = presence;
    this.chip.dataset.linkedid = state.linkedid ?? "";
    this.syncWarning.hidden = state.pbx_synced !== false;
    const owed = state.disposition_required && state.dispositions_owed > 0;
    this.readyButton.dataset.blocked = owed ? "disposition" : "";
    if (owed) setAttrs(this.readyButton, { title: "state.code_first" });
    else this.readyButton.removeAttribute("title");
    this.setButtons();
    for (const button of [this.readyButton, this.pauseButton, this.logoutButton]) {
      button.setAttribute("aria-pressed", String(button.dataset.target === state.status));
    }
    for (const item of this.menu.querySelectorAll("[data-reason]")) {
      item.setAttribute("aria-current", String(state.status === "paused"
                                               && item.dataset.reason === state.reason));
    }
    if (presence === "paused" && state.reason) {
      setText(this.chipLabel, "state.paused_for", { reason: msg(`reason.${state.reason}`) });
    } else if (presence === "wrapup" && !state.wrapup_until) {
      setText(this.chipLabel, "state.wrapup_held");
    } else {
      setText(this.chipLabel, `status.${presence}`);
    }
    this.tick();
  }

  /** The buttons answer clicks unless a change is on its way; ready also waits for the
   * dispositions a required wrap-up still lacks. */
  setButtons(busy = false) {
    for (const b of [this.readyButton, this.pauseButton, this.logoutButton]) b.disabled = busy;
    if (this.readyButton.dataset.blocked) this.readyButton.disabled = true;
  }

  tick() {
    const state = this.state;
    if (!state) return;
    const now = Date.now() - (this.skew || 0);
    const presence = state.presence ?? state.status;
    if (presence === "wrapup" && state.wrapup_until) {
      const left = Math.max(0, Math.ceil((new Date(state.wrapup_until) - now) / 1000));
      setText(this.chipTime, "state.wrapup_left", { s: left });
      return;
    }
    const since = (now - new Date(state.presence_since ?? state.since)) / 1000;
    setText(this.chipTime, "state.since", { d: duration(since) });
  }

  get status() {
    return this.state?.status;
  }
}
