// The disposition codes (why a customer called) as configured on the server, read once per
// page from /api/dispositions/codes, named in the page's language.
import { api } from "./api.js";
import { language } from "./i18n.js";

let loading = null;

/** {codes: [{code, names}], required} — the same promise for every caller on the page. */
export function dispositionCodes() {
  loading ??= api.get("/api/dispositions/codes").catch((error) => {
    loading = null; // try again next time
    throw error;
  });
  return loading;
}

/** A code's name in the page's language (a code no longer configured shows as itself). */
export function dispositionName(codes, code) {
  const found = codes?.codes.find((c) => c.code === code);
  return found ? found.names[language()] ?? found.names["zh-CN"] : code;
}
