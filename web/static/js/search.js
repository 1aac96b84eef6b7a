// The search box: by name, any written form of a phone number, or contract number. Results
// are buttons (Enter or click opens the customer); arrow keys move between them.
import { api, query } from "./api.js";
import { gradeBadge, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { setText } from "./i18n.js";

const TYPING_PAUSE_MS = 350;

export class SearchBox {
  constructor({ form, input, results, status, onOpen }) {
    Object.assign(this, { form, input, results, status, onOpen });
    this.timer = null;
    this.asked = 0;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search({ openSingle: true });
    });
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      if (input.value.trim().length >= 2) this.timer = setTimeout(() => this.search(), TYPING_PAUSE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        this.results.querySelector("button")?.focus();
      } else if (event.key === "Escape") {
        input.value = "";
        this.clear();
      }
    });
    results.addEventListener("keydown", (event) => this.move(event));
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        input.focus();
        input.select();
      }
    });
  }

  clear() {
    this.results.replaceChildren();
    this.status.textContent = "";
    delete this.status.dataset.i18n;
  }

  move(event) {
    const buttons = [...this.results.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < buttons.length - 1) buttons[at + 1].focus();
    else if (event.key === "ArrowUp") (at > 0 ? buttons[at - 1] : this.input).focus();
    else return;
    event.preventDefault();
  }

  async search({ openSingle = false } = {}) {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (!q) return;
    const asked = ++this.asked;
    setText(this.status, "search.searching");
    let found;
    try {
      found = await api.get(`/api/customers${query({ q })}`);
    } catch (error) {
      if (asked !== this.asked) return;
      delete this.status.dataset.i18n;
      this.status.textContent = errorMessage(error);
      return;
    }
    if (asked !== this.asked) return; // a newer search is on its way
    setText(this.status, found.length ? "search.count" : "search.none",
            found.length ? { n: found.length } : { q });
    replace(this.results, found.map((customer) => h("li", {}, h("button", {
      type: "button", class: "result", dataset: { customerId: customer.id },
      onclick: () => this.onOpen(customer.id),
    }, gradeBadge(customer.grade),
    h("span", { class: "result-main" },
      h("span", { class: "result-name", text: customer.name }),
      customer.do_not_call && h("span", { class: "chip chip-bad", i18n: "customer.dnc_short" }),
      h("span", { class: "result-phones mono",
                  text: customer.phones.map((p) => p.display).join("  ") }),
      h("span", { class: "result-address", text: customer.address || "" }))))));
    if (openSingle && found.length === 1) this.onOpen(found[0].id);
  }
}
