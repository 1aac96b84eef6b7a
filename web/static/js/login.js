// The login page: username and password, errors in the page's language, then on to `next`.
import { api } from "./api.js";
import { submitting } from "./forms.js";
import { initPage } from "./header.js";

/**
 * Only a path on this site. The server already checked `next` (web/redirects.py); this parses
 * it as the browser will (tabs and newlines dropped, `\\` read as `/`) and keeps it only when
 * it resolves to this origin, so `/%09/evil.example/` can never leave the site.
 */
function nextPage() {
  const next = form.dataset.next || "/";
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return "/";
  }
  // The whole URL, not its path: `/a/..//evil` has the path `//evil`, another host's.
  return url.origin === location.origin ? url.href : "/";
}

initPage();
const form = document.getElementById("login-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { username: form.username.value.trim(), password: form.password.value };
  const done = await submitting(form, () => api.post("/api/auth/login", body,
                                                     { loginOn401: false }));
  if (done) {
    location.assign(nextPage());
  } else {
    form.password.value = "";
    if (!form.querySelector(".has-error")) form.password.focus();
  }
});
