// The login page: username and password, errors in the page's language, then on to `next`.
import { api } from "./api.js";
import { submitting } from "./forms.js";
import { initPage } from "./header.js";

/** Only a path on this site: never another origin (`//evil`, `https://…`). */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
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
