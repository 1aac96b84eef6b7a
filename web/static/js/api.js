// The JSON API client: the session cookie goes by itself, the CSRF token in a header on every
// state-changing request; every failure becomes an ApiError carrying the API's problems
// ({field, code, message}), so forms can put each message next to its field.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

export function setCsrfToken(token) {
  csrfToken = token || "";
}

export class ApiError extends Error {
  constructor(status, problems) {
    super(problems.map((p) => p.message).join("; ") || `HTTP ${status}`);
    this.status = status;
    this.problems = problems;
  }

  get code() {
    return this.problems[0]?.code;
  }
}

let leaving = false;

/** The user asked to sign out: their session ends under every request still out, whose 401
 * must not send the page to "log in and come back here" instead of the plain login page. */
export function startSigningOut() {
  leaving = true;
}

/** Send the browser to the login page, coming back here afterwards. */
export function goToLogin() {
  if (leaving) return;
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

function problemsOf(status, body) {
  if (Array.isArray(body?.detail)) return body.detail;
  const message = typeof body?.detail === "string" ? body.detail : "";
  return [{ field: null, code: status >= 500 ? "server" : "error", message,
            params: { status } }];
}

/**
 * request("POST", "/api/customers", {...}) → the parsed JSON (null for 204).
 * A 401 sends the page to the login form unless `{ loginOn401: false }` (the login page).
 */
export async function request(method, path, body, { loginOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, [{ field: null, code: "network", message: "network error" }]);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401 && loginOn401) goToLogin();
    throw new ApiError(response.status, problemsOf(response.status, data));
  }
  return data;
}

export const api = {
  get: (path, options) => request("GET", path, undefined, options),
  post: (path, body, options) => request("POST", path, body ?? {}, options),
  put: (path, body, options) => request("PUT", path, body ?? {}, options),
  patch: (path, body, options) => request("PATCH", path, body ?? {}, options),
  delete: (path, options) => request("DELETE", path, undefined, options),
};

/** A query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
