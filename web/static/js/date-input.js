// Date and date-time fields that read in the page's language. Chromium draws a native
// <input type="date"> in the browser's own language ("mm/dd/yyyy" on a Chinese page, whatever
// the page's `lang`), so the pages use text fields in the numeric form both languages read the
// same (2026-12-07, 2026-12-07 10:05), with a translated example as placeholder. A date field's
// value is what the API takes (YYYY-MM-DD); `instantOf` reads a date-time field. What cannot
// be read goes to the API as typed, which refuses it in the field's own words.
import { localInputValue } from "./i18n.js";
import { h } from "./dom.js";

const DATE = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$/;
const DATE_TIME = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})\s*$/;
const pad = (n) => String(n).padStart(2, "0");

/** A date field: `attrs` as for h(); value YYYY-MM-DD. */
export function dateInput(attrs = {}) {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off",
                             maxlength: 10, spellcheck: "false", ...attrs,
                             i18nAttrs: { placeholder: "form.date_placeholder" } });
  input.dataset.kind = "date";
  input.addEventListener("change", () => {
    const m = DATE.exec(input.value);
    if (m) input.value = `${m[1]}-${pad(m[2])}-${pad(m[3])}`;
  });
  return input;
}

/** A date-time field (local time): `attrs` as for h(); read it with instantOf(). */
export function dateTimeInput(attrs = {}) {
  const { value, ...rest } = attrs;
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off",
                             maxlength: 16, spellcheck: "false", ...rest,
                             i18nAttrs: { placeholder: "form.datetime_placeholder" } });
  input.dataset.kind = "datetime";
  if (value) input.value = value;
  input.addEventListener("change", () => {
    const d = localDateTime(input.value);
    if (d) input.value = localInputValue(d);
  });
  return input;
}

/** The local moment a date-time text names, or null when it names none. */
export function localDateTime(text) {
  const m = DATE_TIME.exec(text || "");
  if (!m) return null;
  const [year, month, day, hour, minute] = m.slice(1).map(Number);
  const d = new Date(year, month - 1, day, hour, minute);
  const same = d.getFullYear() === year && d.getMonth() === month - 1 && d.getDate() === day
    && d.getHours() === hour && d.getMinutes() === minute;
  return same ? d : null;
}

/** A date-time field's value for the API: an ISO instant, null when empty, else the text as
 * typed (the API refuses it with a field error). */
export function instantOf(input) {
  const text = input.value.trim();
  if (!text) return null;
  const d = localDateTime(text);
  return d ? d.toISOString() : text;
}
