// The JSON API under /api/v1: every request goes through api(), which sends the session's
// CSRF token on changes and turns error bodies into ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || "request failed (" + status + ")");
    this.status = status;
    this.code = code || "";
  }
}

// The signed-in user and the session's CSRF token; user null when anonymous.
export const session = { user: null, csrf: null, loaded: false };

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  let res;
  try {
    res = await fetch("/api/v1" + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "NETWORK", "the registry cannot be reached: " + e.message);
  }
  if (res.status === 204) return null;
  let doc = null;
  try {
    doc = await res.json();
  } catch (e) {
    if (res.ok) throw new ApiError(res.status, "BAD_ANSWER", "the registry's answer is not JSON");
  }
  if (!res.ok) {
    const err = doc && doc.errors && doc.errors[0];
    throw new ApiError(res.status, err && err.code, err && err.message);
  }
  return doc;
}

export async function loadSession() {
  try {
    const s = await api("GET", "/session");
    session.user = s.user;
    session.csrf = s.csrf_token || null;
  } catch (e) {
    session.user = null;
    session.csrf = null;
    if (e.status !== 401 && e.status !== 404) throw e;
    session.accountsDisabled = e.status === 404;
  }
  session.loaded = true;
  return session;
}

export async function signIn(username, password) {
  const s = await api("POST", "/session", { username, password });
  session.user = s.user;
  session.csrf = s.csrf_token;
  return s;
}

export async function signOut() {
  try {
    await api("DELETE", "/session");
  } finally {
    session.user = null;
    session.csrf = null;
  }
}
