// Wrap-up on the agent console: after each answered call the agent codes why the customer
// called (the configured dispositions), adds a note and, when the caller was not known by
// their number, links the call to the customer (and project) open in the middle. The calls
// still to code come from /api/dispositions/owed, oldest first; while dispositions are
// required the header's ready button waits for them (state.js).
import { api } from "./api.js";
import { dispositionCodes, dispositionName } from "./dispositions.js";
import { h, replace, uid } from "./dom.js";
import { field, formError, submitting } from "./forms.js";
import { onLanguageChange, shortTime } from "./i18n.js";
import { phoneText } from "./qa-labels.js";
import { toast } from "./toast.js";

export class WrapUpPanel {
  /** options: currentCard() → the customer card open in the middle, or null;
   *  onSaved(disposition) after a call is coded */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.codes = null;
    this.owed = [];
    this.skipped = new Set(); // calls put off on this page (only when coding is optional)
    this.call = null; // the call the form codes
    this.form = null;
    onLanguageChange(() => this.relabel());
  }

  get dirty() {
    return Boolean(this.form?.hasAttribute("data-dirty"));
  }

  /** Read the calls still to code and show the first (a form being filled in stays). */
  async refresh() {
    try {
      this.codes ??= await dispositionCodes();
      this.owed = await api.get("/api/dispositions/owed");
    } catch {
      return; // the next refresh will do
    }
    const next = this.owed.find((c) => !this.skipped.has(c.call_id)) ?? null;
    if (this.dirty && next && this.call?.call_id === next.call_id) {
      this.showCount();
      return;
    }
    if (this.dirty && this.owed.some((c) => c.call_id === this.call?.call_id)) return;
    this.show(next);
  }

  /** The customer open in the middle changed: the link offer follows it. */
  setCustomer() {
    if (this.form && !this.dirty) this.renderLink();
  }

  show(call) {
    this.call = call;
    this.form = null;
    if (!call) {
      this.root.replaceChildren();
      return;
    }
    const headingId = uid("wu");
    const legendId = uid("wu");
    this.codeRow = h("div", { class: "radio-row wrapup-codes" });
    for (const code of this.codes.codes) {
      const id = uid("r");
      this.codeRow.append(h("span", { class: "radio" },
        h("input", { type: "radio", id, name: "code", value: code.code }),
        h("label", { for: id, dataset: { code: code.code },
                     text: dispositionName(this.codes, code.code) })));
    }
    this.note = h("textarea", { rows: 2, maxlength: 2000 });
    this.link = h("div", { class: "wrapup-link", dataset: { field: "customer_id" } });
    this.count = h("p", { class: "muted small wrapup-count" });
    const required = this.codes.required;
    this.form = h("form", { class: "wrapup-form", id: "wrapup-form", novalidate: true,
                            dataset: { callId: call.call_id },
                            onsubmit: (event) => { event.preventDefault(); this.submit(); },
                            oninput: () => this.form.setAttribute("data-dirty", "") },
      formError(),
      h("fieldset", { class: "field radios", dataset: { field: "code" },
                      "aria-labelledby": legendId },
        h("legend", { id: legendId, i18n: "wrapup.code" }), this.codeRow,
        h("p", { class: "field-error" })),
      field({ name: "note", label: "wrapup.note", input: this.note }),
      this.link,
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary", i18n: "wrapup.save" }),
        required ? null : h("button", { type: "button", class: "button-quiet",
                                        i18n: "wrapup.later", onclick: () => this.skip() })));
    replace(this.root, h("section", { class: "panel wrapup-panel", id: "wrapup",
                                      "aria-labelledby": headingId },
      h("h2", { id: headingId, i18n: required ? "wrapup.heading_required" : "wrapup.heading" }),
      h("p", { class: "wrapup-call", i18n: ["wrapup.call", {
        who: call.customer_name || phoneText(call.customer_number) || "—",
        time: shortTime(call.ended_at || call.started_at) }] }),
      this.count, this.form));
    this.renderLink();
    this.showCount();
  }

  showCount() {
    if (!this.count) return;
    const more = this.owed.length - 1;
    this.count.hidden = more <= 0;
    if (more > 0) replace(this.count, h("span", { i18n: ["wrapup.more", { n: more }] }));
  }

  /** An unknown caller: offer the customer open in the middle (and a project of theirs). */
  renderLink() {
    const call = this.call;
    if (!call || !this.link) return;
    if (call.customer_id) {
      this.link.replaceChildren();
      return;
    }
    const card = this.options.currentCard();
    if (!card) {
      replace(this.link, h("p", { class: "muted small", i18n: "wrapup.link_hint" }));
      return;
    }
    this.linkBox = h("input", { type: "checkbox", name: "link_customer", checked: true,
                                value: String(card.id) });
    const boxId = uid("wu");
    this.linkBox.id = boxId;
    this.project = h("select", { name: "project_id" },
      h("option", { value: "", i18n: "wrapup.no_project" }),
      card.projects.map((p) => h("option", { value: p.id,
                                             i18n: ["project.contract", { n: p.contract_number }] })));
    replace(this.link,
      h("div", { class: "checkbox-row" }, this.linkBox,
        h("label", { for: boxId, i18n: ["wrapup.link", { name: card.name }] })),
      card.projects.length ? field({ name: "project_id", label: "wrapup.project",
                                     input: this.project }) : null,
      h("p", { class: "field-error" }));
  }

  relabel() {
    for (const label of this.codeRow?.querySelectorAll("label[data-code]") ?? []) {
      label.textContent = dispositionName(this.codes, label.dataset.code);
    }
  }

  skip() {
    if (this.call) this.skipped.add(this.call.call_id);
    this.form?.removeAttribute("data-dirty");
    this.show(this.owed.find((c) => !this.skipped.has(c.call_id)) ?? null);
  }

  async submit() {
    const call = this.call;
    const form = this.form;
    const linking = !call.customer_id && this.linkBox?.checked;
    const body = {
      code: form.elements.code.value || undefined, // none chosen: the API says it is required
      note: this.note.value.trim(),
      customer_id: linking ? Number(this.linkBox.value) : null,
      project_id: linking && this.project?.value ? Number(this.project.value) : null,
    };
    const saved = await submitting(form, () =>
      api.put(`/api/calls/${call.call_id}/disposition`, body));
    if (!saved) return;
    toast("wrapup.saved", { name: dispositionName(this.codes, saved.code) });
    form.removeAttribute("data-dirty");
    this.owed = this.owed.filter((c) => c.call_id !== call.call_id);
    this.show(this.owed.find((c) => !this.skipped.has(c.call_id)) ?? null);
    this.options.onSaved?.(saved);
  }
}
