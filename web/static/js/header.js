// What every page's header shares: the language switch, signing out, and the deadline
// warnings.
import { api, startSigningOut } from "./api.js";
import { bootData } from "./dom.js";
import { language, onLanguageChange, setLanguage, translate } from "./i18n.js";
import { watchDeadlines } from "./socket.js";

/** Translate the page, wire the language <select id="lang-select"> and the sign-out button,
 * and show the page (it stays hidden until its text is in the right language). */
export function initPage() {
  translate(document);
  const select = document.getElementById("lang-select");
  if (select) {
    select.value = language();
    select.addEventListener("change", () => setLanguage(select.value));
    onLanguageChange((lang) => { select.value = lang; });
  }
  const logout = document.getElementById("logout");
  logout?.addEventListener("click", async () => {
    logout.disabled = true;
    startSigningOut();
    try {
      await api.post("/api/auth/logout", undefined, { loginOn401: false });
    } catch {
      // signed out already, or the server is away: the login page sorts it out
    }
    location.assign("/login");
  });
  document.documentElement.classList.remove("i18n-pending");
  const boot = bootData();
  if (boot.page !== "login") watchDeadlines(boot.user);
}
