// Sign in with a user name and password (a session cookie, HttpOnly and SameSite=Strict).
import { session, signIn } from "../api.js";
import { alertBox, emptyState, field, h, mount, setTitle } from "../dom.js";

// Where to go after signing in: a local path only.
function nextPath(params) {
  const n = params.get("next") || "/";
  return n.startsWith("/") && !n.startsWith("//") && !n.startsWith("/signin") ? n : "/";
}

export async function signinPage(root, ctx) {
  setTitle("Sign in");
  if (session.accountsDisabled) {
    mount(root, emptyState("Accounts are disabled", "This registry runs without authentication (--auth none): everything is public and there is nothing to sign in to."));
    return;
  }
  if (session.user) {
    ctx.navigate(nextPath(ctx.params), true);
    return;
  }
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const msg = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Sign in");
  const form = h("form", { class: "card auth-card", id: "signin-form", onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    mount(msg);
    try {
      await signIn(user.value.trim(), pass.value);
      ctx.navigate(nextPath(ctx.params), true);
    } catch (e) {
      mount(msg, alertBox(e.status === 401 ? "Wrong user name or password." : e.message));
      pass.value = "";
      pass.focus();
    } finally {
      submit.disabled = false;
    }
  } },
  h("h1", {}, "Sign in to Berth"), msg,
  field("User name", user), field("Password", pass), submit,
  h("p", { class: "hint" }, "Clients (docker, podman, skopeo, berth) sign in with the same password or a personal access token."));
  mount(root, h("div", { class: "page page-narrow" }, form));
  user.focus();
}
