// Forms about the customer: create (e.g. for an unknown caller, number pre-filled), edit, and
// add a note. Validation is the API's; its problems land next to the inputs (`phones[1]` on
// the second number).
import { api } from "./api.js";
import { append, h, uid } from "./dom.js";
import { field, formError, radioGroup, submitting } from "./forms.js";
import { setText } from "./i18n.js";
import { toast } from "./toast.js";

function markDirty(form) {
  form.addEventListener("input", () => { form.dataset.dirty = ""; });
}

function phoneRow(list, value = "") {
  const index = list.children.length;
  const input = h("input", { type: "tel", value, autocomplete: "off", inputmode: "tel",
                             class: "mono", maxlength: 64 });
  const row = field({ name: `phones[${index}]`, label: "cf.phone_n",
                      labelParams: { n: index + 1 }, input, className: "phone-row" });
  row.querySelector("label").classList.add("sr-only");
  row.append(h("button", {
    type: "button", class: "icon-button", text: "×",
    i18nAttrs: { "aria-label": ["cf.remove_phone", { n: index + 1 }] },
    onclick: () => {
      if (list.children.length > 1) {
        row.remove();
        renumber(list);
      } else {
        input.value = "";
      }
    },
  }));
  list.append(row);
  return input;
}

/** After a removal: phones[0], phones[1] … again, so API problems find their input. */
function renumber(list) {
  [...list.children].forEach((row, i) => {
    row.dataset.field = `phones[${i}]`;
    row.querySelector("input").name = `phones[${i}]`;
    setText(row.querySelector("label"), "cf.phone_n", { n: i + 1 });
  });
}

/**
 * mode "create" | "edit"; values: a card or {name, phones: [numbers], address, grade};
 * onDone(card) after saving; onCancel().
 */
export function customerForm({ mode, values = {}, fromCall = false, onDone, onCancel }) {
  const creating = mode === "create";
  const headingId = uid("cf");
  const form = h("form", { class: ["customer-form", "card-form"], novalidate: true,
                           "aria-labelledby": headingId, dataset: { form: mode } });
  markDirty(form);
  const phonesList = h("div", { class: "phone-list" });
  const phones = (values.phones || []).map((p) => (typeof p === "string" ? p : p.display));
  for (const phone of phones.length ? phones : [""]) phoneRow(phonesList, phone);
  const dnc = h("input", { type: "checkbox", name: "do_not_call", checked: Boolean(values.do_not_call) });
  const reasonInput = h("input", { value: values.do_not_call_reason || "", maxlength: 255 });
  const reasonField = field({ name: "do_not_call_reason", label: "cf.dnc_reason",
                              input: reasonInput });
  reasonField.hidden = !dnc.checked;
  dnc.addEventListener("change", () => { reasonField.hidden = !dnc.checked; });
  const dncId = uid("dnc");
  dnc.id = dncId;

  append(form, [
    h("h2", { id: headingId, class: "form-title",
              i18n: creating ? "cf.create_heading" : "cf.edit_heading" }),
    creating && fromCall && h("p", { class: "hint", i18n: "cf.from_call" }),
    formError(),
    h("div", { class: "form-grid" },
      field({ name: "name", label: "cf.name",
              input: h("input", { value: values.name || "", autocomplete: "off", maxlength: 100 }) }),
      radioGroup({ name: "grade", legend: "cf.grade", value: values.grade || "B",
                   className: "grade-choice",
                   options: ["A", "B", "C"].map((g) => ({ value: g, label: `grade.${g}`,
                                                          className: `grade-option-${g}` })) }),
      h("div", { class: "field phones-field wide", dataset: { field: "phones" } },
        h("span", { class: "label", i18n: "cf.phones" }),
        phonesList,
        h("button", { type: "button", class: "button-link", i18n: "cf.add_phone",
                      onclick: () => phoneRow(phonesList).focus() }),
        h("p", { class: "field-error" })),
      field({ name: "address", label: "cf.address", className: "wide",
              input: h("input", { value: values.address || "", maxlength: 255 }) }),
      h("div", { class: "field checkbox-field wide", dataset: { field: "do_not_call" } },
        dnc, h("label", { for: dncId, i18n: "cf.dnc" }), h("p", { class: "field-error" })),
      h("div", { class: "wide" }, reasonField),
      creating && field({ name: "notes", label: "cf.notes", className: "wide",
                          input: h("textarea", { rows: 3, maxlength: 10000 }) })),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "primary", i18n: creating ? "cf.create" : "cf.save" }),
      h("button", { type: "button", class: "button-quiet", i18n: "cf.cancel",
                    onclick: () => onCancel?.() }))]);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Send the filled-in numbers; remember which input each came from for the errors.
    const inputs = [...phonesList.querySelectorAll("input")];
    const filled = inputs.map((input, i) => [input.value.trim(), i]).filter(([v]) => v);
    const body = {
      name: form.elements.name.value.trim(),
      phones: filled.map(([v]) => v),
      address: form.elements.address.value.trim(),
      grade: form.elements.grade.value,
      do_not_call: dnc.checked,
      do_not_call_reason: dnc.checked ? reasonInput.value.trim() : null,
    };
    if (creating) body.notes = form.elements.notes.value.trim();
    const rename = (name) => name.replace(/^phones\[(\d+)\]/,
                                          (_, k) => `phones[${filled[Number(k)]?.[1] ?? k}]`);
    const card = await submitting(form, () => (creating
      ? api.post("/api/customers", body)
      : api.patch(`/api/customers/${values.id}`, body)), { rename });
    if (!card) return;
    delete form.dataset.dirty;
    toast(creating ? "cf.created" : "cf.saved", { name: card.name });
    onDone?.(card);
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") onCancel?.();
  });
  return form;
}

/** The customer's notes and the form to add one (POST …/notes returns the new card). */
export function notesSection(card, { canEdit, onSaved }) {
  const headingId = uid("notes");
  const section = h("section", { class: "notes panel", "aria-labelledby": headingId },
    h("h2", { id: headingId, i18n: "customer.notes" }),
    card.notes ? h("div", { class: "notes-text", text: card.notes })
      : h("p", { class: "muted", i18n: "customer.no_notes" }));
  if (!canEdit) return section;
  const text = h("textarea", { rows: 2, maxlength: 2000,
                               i18nAttrs: { placeholder: "notes.placeholder" } });
  const form = h("form", { class: "note-form", novalidate: true },
    formError(),
    field({ name: "text", label: "notes.label", input: text }),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "button-quiet", i18n: "notes.add" })));
  markDirty(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const updated = await submitting(form, () => api.post(`/api/customers/${card.id}/notes`,
                                                          { text: text.value.trim() }));
    if (!updated) return;
    text.value = "";
    delete form.dataset.dirty;
    toast("notes.added");
    onSaved?.(updated);
  });
  section.append(form);
  return section;
}
