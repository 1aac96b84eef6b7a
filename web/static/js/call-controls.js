// The agent's call controls: hang up, hold/resume, mute, transfer (blind or consult first),
// three-way call — buttons on the call being talked on, each enabled only when the server says
// the call's state allows it (GET …/controls), each result shown in a toast. And the dial pad:
// a typed number, called through the agent's own phone (the same rules as every call).
import { api } from "./api.js";
import { dial } from "./dial.js";
import { h, replace, uid } from "./dom.js";
import { errorMessage } from "./forms.js";
import { setText } from "./i18n.js";
import { toast, toastError } from "./toast.js";

const POLL_MS = 2000;
const BUTTONS = [
  // [control, label key, when shown: the state's allowed list holds the control]
  ["hangup", "controls.hangup", "danger"],
  ["hold", "controls.hold"],
  ["resume", "controls.resume"],
  ["mute", "controls.mute"],
  ["unmute", "controls.unmute"],
  ["transfer", "controls.transfer"],
  ["complete", "controls.complete", "primary"],
  ["cancel", "controls.cancel"],
  ["conference", "controls.conference"],
];
const PATHS = { complete: "transfer/complete", cancel: "transfer/cancel" };

export class CallControls {
  /** root: the panel; it stays hidden without a call to control. */
  constructor(root) {
    this.root = root;
    this.linkedid = null;
    this.state = null;
    this.busy = false;
    this.form = null; // "transfer" | "conference" while its target form is open
    this.timer = null;
    this.status = h("p", { class: "controls-status", role: "status" });
    this.bar = h("div", { class: "controls-bar", role: "group",
                          i18nAttrs: { "aria-label": "controls.heading" } });
    this.buttons = new Map(BUTTONS.map(([control, label, look]) => [control, h("button", {
      type: "button", class: ["control", look], dataset: { control }, i18n: label,
      onclick: () => this.press(control),
    })]));
    this.bar.append(...this.buttons.values());
    this.formSlot = h("div", { class: "controls-form-slot" });
    replace(root, h("h2", { id: "controls-heading", i18n: "controls.heading" }),
            this.status, this.bar, this.formSlot);
    this.render();
  }

  /** The call being talked on (a CallPanel entry, status "answered") or null. */
  follow(call) {
    const linkedid = call && call.status === "answered" ? call.linkedid : null;
    if (linkedid === this.linkedid) return;
    this.linkedid = linkedid;
    this.state = null;
    this.form = null;
    clearInterval(this.timer);
    this.timer = null;
    this.render();
    if (linkedid) {
      this.refresh();
      this.timer = setInterval(() => this.refresh(), POLL_MS);
    }
  }

  async refresh() {
    const linkedid = this.linkedid;
    if (!linkedid || this.busy) return;
    try {
      const state = await api.get(`/api/calls/live/${encodeURIComponent(linkedid)}/controls`);
      if (linkedid === this.linkedid) this.show(state);
    } catch (error) {
      if (linkedid !== this.linkedid) return;
      if (["no_live_call", "call_ended", "not_on_call"].includes(error.code)) {
        this.show({ linkedid, phase: "ended", allowed: [], muted: false, added_party: null });
      }
    }
  }

  show(state) {
    this.state = state;
    if (state.phase === "ended") {
      clearInterval(this.timer);
      this.timer = null;
    }
    this.render();
  }

  render() {
    const state = this.state;
    this.root.hidden = !this.linkedid;
    this.root.dataset.phase = state?.phase || "";
    const phase = state ? `controls.phase.${state.phase}` : "controls.none";
    setText(this.status, phase, { party: state?.added_party || "" });
    if (state?.muted) this.status.append(" · ", h("span", { i18n: "controls.muted" }));
    const allowed = new Set(state?.allowed || []);
    for (const [control, button] of this.buttons) {
      const on = allowed.has(control);
      button.hidden = !on && ["resume", "unmute", "complete", "cancel"].includes(control);
      if (control === "hold") button.hidden = allowed.has("resume");
      if (control === "mute") button.hidden = allowed.has("unmute");
      button.disabled = !on || this.busy;
    }
    const cancel = this.buttons.get("cancel");
    setText(cancel, state?.phase === "conference" ? "controls.cancel_conference"
      : "controls.cancel");
    setText(this.buttons.get("conference"), state?.phase === "consulting" ? "controls.join"
      : "controls.conference");
    // The open form is built once: a poll must not wipe what the agent is typing.
    const wanted = this.form && allowed.has(this.form) ? this.form : null;
    if (this.formSlot.firstChild?.dataset.form !== wanted) {
      replace(this.formSlot, wanted ? this.targetForm(wanted) : null);
    }
    for (const button of this.formSlot.querySelectorAll("button")) button.disabled = this.busy;
  }

  press(control) {
    if (control === "transfer" || (control === "conference" && this.state?.phase !== "consulting")) {
      this.form = this.form === control ? null : control;
      this.render();
      this.formSlot.querySelector("input[name=target]")?.focus();
      return;
    }
    this.act(control);
  }

  /** Where a transfer or a third party goes: kind, value and (a transfer) blind or consult. */
  targetForm(control) {
    const kind = uid("target-kind");
    const value = uid("target");
    const form = h("form", { class: "controls-form", dataset: { form: control }, novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const target = { kind: data.get("kind"), value: String(data.get("target") || "").trim() };
        if (control === "transfer") {
          const attended = data.get("mode") === "attended";
          this.act(attended ? "consult" : "transfer", { target, attended }, target.value);
        } else {
          this.act("conference", { target }, target.value);
        }
      } },
    h("label", { for: kind, i18n: "controls.target_kind" }),
    h("select", { id: kind, name: "kind" },
      ["extension", "queue", "number"].map((k) => h("option", { value: k,
                                                            i18n: `controls.kind.${k}` }))),
    h("label", { for: value, i18n: "controls.target" }),
    h("input", { id: value, name: "target", required: true, maxlength: 64, autocomplete: "off",
                 i18nAttrs: { placeholder: "controls.target_placeholder" } }),
    control === "transfer" && h("fieldset", { class: "controls-mode" },
      h("legend", { i18n: "controls.mode" }),
      ["blind", "attended"].map((mode) => h("label", {},
        h("input", { type: "radio", name: "mode", value: mode, checked: mode === "blind" }),
        h("span", { i18n: `controls.${mode}` })))),
    h("div", { class: "controls-form-actions" },
      h("button", { type: "submit", class: "primary", i18n: "controls.go" }),
      h("button", { type: "button", class: "button-quiet", i18n: "controls.close",
                    onclick: () => { this.form = null; this.render(); } })));
    return form;
  }

  async act(control, body = undefined, target = "") {
    const linkedid = this.linkedid;
    if (!linkedid || this.busy) return;
    const path = PATHS[control] || (control === "consult" ? "transfer" : control);
    this.busy = true;
    this.render();
    try {
      const state = await api.post(`/api/calls/live/${encodeURIComponent(linkedid)}/${path}`,
                                   body ?? {});
      this.form = null;
      toast(`controls.done.${control}`, { target });
      if (linkedid === this.linkedid) this.show(state);
    } catch (error) {
      toastError(errorMessage(error));
    } finally {
      this.busy = false;
      this.render();
    }
  }
}

export class DialPad {
  /** root: a <form> with an input[name=number]; onDialled(result) after the PBX took it. */
  constructor(root, { onDialled } = {}) {
    this.root = root;
    root.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = root.querySelector("input[name=number]");
      const number = input.value.trim();
      if (!number) {
        input.focus();
        return;
      }
      const button = root.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const result = await dial(number, { display: number });
        if (result) {
          input.value = "";
          onDialled?.(result);
        }
      } finally {
        button.disabled = false;
      }
    });
  }
}
