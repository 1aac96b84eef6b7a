// The admin page: list users, create them (agents with their softphone's extension, department
// users with their department), change roles, extensions and passwords, deactivate and
// reactivate. The spreadsheet import below them: admin-import.js.
import { api } from "./api.js";
import { bootData, chip, h, replace } from "./dom.js";
import { errorMessage, field, formError, submitting } from "./forms.js";
import { initImport } from "./admin-import.js";
import { initPage } from "./header.js";
import { setText, t } from "./i18n.js";
import { toast, toastError } from "./toast.js";

const ROLES = ["agent", "supervisor", "qa", "department", "admin"];
const me = bootData().user;
const $ = (id) => document.getElementById(id);
let users = [];
let departments = []; // /api/complaints/options: the departments complaints go to

function roleSelect(value) {
  return h("select", {}, ROLES.map((role) => h("option", {
    value: role, selected: role === value, i18n: `role.${role}` })));
}

// Who has a softphone: agents (required), supervisors (to listen in from the wallboard).
const PHONE_ROLES = new Set(["agent", "supervisor"]);

/** The extension is for agents and supervisors: shown only for them (the API requires it of
 * agents); the department only for department users. */
function followRole(select, extensionField, departmentField) {
  const update = () => {
    extensionField.hidden = !PHONE_ROLES.has(select.value);
    departmentField.hidden = select.value !== "department";
  };
  select.addEventListener("change", update);
  update();
}

function departmentField(value) {
  const known = departments.includes(value) || !value ? departments : [value, ...departments];
  return field({ name: "department", label: "admin.department", hint: "admin.department_hint",
                 input: h("select", {}, h("option", { value: "", i18n: "admin.no_department" }),
                          known.map((d) => h("option", { value: d, text: d,
                                                         selected: d === value }))) });
}

async function loadDepartments() {
  try {
    departments = (await api.get("/api/complaints/options")).departments;
  } catch {
    departments = [];
  }
}

async function load() {
  try {
    users = await api.get("/api/users");
  } catch (error) {
    toastError(errorMessage(error));
    return;
  }
  setText($("users-count"), "admin.count", { n: users.length });
  replace($("users"), users.map(row));
}

function row(user) {
  const self = user.id === me.id;
  return h("tr", { class: user.is_active ? "" : "is-inactive", dataset: { username: user.username } },
    h("td", { class: "mono" }, user.username, self && h("span", { class: "muted", i18n: "admin.you" })),
    h("td", { text: user.display_name }),
    h("td", {}, h("span", { i18n: `role.${user.role}` }),
      user.department && h("span", { class: "muted small", text: ` · ${user.department}` })),
    h("td", { class: "mono", text: user.extension || "—" }),
    h("td", {}, user.is_active ? chip("good", "admin.active") : chip("muted", "admin.inactive")),
    h("td", { class: "row-actions" },
      h("button", { type: "button", class: "button-small", i18n: "admin.edit",
                    i18nAttrs: { "aria-label": ["admin.edit_user", { u: user.username }] },
                    onclick: () => edit(user) }),
      !self && h("button", {
        type: "button", class: ["button-small", user.is_active && "danger"],
        i18n: user.is_active ? "admin.deactivate" : "admin.activate",
        onclick: () => setActive(user, !user.is_active),
      })));
}

async function setActive(user, active) {
  if (!active && !window.confirm(t("admin.confirm_deactivate", { u: user.username }))) return;
  try {
    await api.patch(`/api/users/${user.id}`, { is_active: active });
    toast(active ? "admin.activated" : "admin.deactivated", { u: user.username });
    await load();
  } catch (error) {
    toastError(errorMessage(error));
  }
}

function createForm() {
  const role = roleSelect("agent");
  const extension = field({ name: "extension", label: "admin.extension", hint: "admin.extension_hint",
                            input: h("input", { inputmode: "numeric", autocomplete: "off",
                                                class: "mono", maxlength: 32 }) });
  const department = departmentField("");
  const form = h("form", { id: "create-user-form", class: "card-form", novalidate: true },
    formError(),
    field({ name: "username", label: "admin.username",
            input: h("input", { autocomplete: "off", autocapitalize: "off", spellcheck: "false",
                                maxlength: 64 }) }),
    field({ name: "display_name", label: "admin.display_name",
            input: h("input", { autocomplete: "off", maxlength: 100 }) }),
    field({ name: "password", label: "admin.password",
            input: h("input", { type: "password", autocomplete: "new-password", maxlength: 1024 }) }),
    field({ name: "role", label: "admin.role", input: role }),
    extension,
    department,
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "primary", i18n: "admin.create_submit" })));
  followRole(role, extension, department);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = form.elements;
    const body = {
      username: values.username.value.trim(), display_name: values.display_name.value.trim(),
      password: values.password.value, role: values.role.value,
      extension: PHONE_ROLES.has(values.role.value) ? values.extension.value.trim() || null : null,
      department: values.role.value === "department" ? values.department.value || null : null,
    };
    const created = await submitting(form, () => api.post("/api/users", body));
    if (!created) return;
    toast("admin.created", { u: created.username });
    form.reset();
    role.value = "agent";
    role.dispatchEvent(new Event("change"));
    await load();
  });
  return form;
}

function edit(user) {
  const dialog = $("edit-dialog");
  setText($("edit-heading"), "admin.edit_user", { u: user.username });
  const role = roleSelect(user.role);
  const extension = field({ name: "extension", label: "admin.extension", hint: "admin.extension_hint",
                            input: h("input", { value: user.extension || "", class: "mono",
                                                inputmode: "numeric", maxlength: 32 }) });
  const department = departmentField(user.department || "");
  const form = h("form", { class: "card-form", novalidate: true, method: "dialog" },
    formError(),
    field({ name: "display_name", label: "admin.display_name",
            input: h("input", { value: user.display_name, maxlength: 100 }) }),
    field({ name: "role", label: "admin.role", input: role }),
    extension,
    department,
    field({ name: "password", label: "admin.new_password",
            input: h("input", { type: "password", autocomplete: "new-password", maxlength: 1024 }) }),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "primary", i18n: "admin.save" }),
      h("button", { type: "button", class: "button-quiet", i18n: "admin.cancel",
                    onclick: () => dialog.close() })));
  followRole(role, extension, department);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = form.elements;
    const body = {};
    const name = values.display_name.value.trim();
    if (name !== user.display_name) body.display_name = name;
    if (values.role.value !== user.role) body.role = values.role.value;
    const ext = PHONE_ROLES.has(values.role.value) ? values.extension.value.trim() : "";
    if (ext && ext !== user.extension) body.extension = ext;
    if (!ext && user.extension) body.clear_extension = true;
    const dept = values.role.value === "department" ? values.department.value : "";
    if (dept !== (user.department || "")) body.department = dept; // "" clears it
    if (values.password.value) body.password = values.password.value;
    const saved = await submitting(form, () => api.patch(`/api/users/${user.id}`, body));
    if (!saved) return;
    dialog.close();
    toast("admin.saved", { u: saved.username });
    await load();
  });
  replace($("edit-user"), form);
  dialog.showModal();
  form.elements.display_name.focus();
}

initPage();
initImport();
await loadDepartments();
replace($("create-user"), createForm());
load();
