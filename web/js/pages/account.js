// The signed-in user's account: personal access tokens (created and shown once, revoked),
// the password, and organizations.
import { api, session } from "../api.js";
import { alertBox, badge, confirmButton, copyButton, emptyState, field, h, mount, setTitle, table, timeAgo } from "../dom.js";

const SCOPES = [["read", "Read: pull"], ["read-write", "Read & write: pull and push"], ["read-write-delete", "Read, write & delete: everything"]];

function tokensSection(tokens, rerender) {
  const msg = h("div", { "aria-live": "polite", id: "token-msg" });
  const rows = tokens.map((t) => h("tr", { class: t.revoked_at ? "revoked" : "" },
    h("td", {}, t.name),
    h("td", {}, t.scope),
    h("td", {}, timeAgo(t.created_at)),
    h("td", {}, timeAgo(t.last_used_at)),
    h("td", {}, t.revoked_at ? badge("revoked") : badge("active")),
    h("td", {}, t.revoked_at ? null : confirmButton("Revoke", "Confirm revoke", async () => {
      try {
        await api("DELETE", "/user/tokens/" + t.id);
        rerender();
      } catch (e) {
        mount(msg, alertBox(e.message));
      }
    }))));
  const name = h("input", { name: "name", required: true, maxlength: 100, placeholder: "e.g. ci-laptop", autocomplete: "off" });
  const scope = h("select", { name: "scope" }, SCOPES.map(([k, l]) => h("option", { value: k, selected: k === "read-write" }, l)));
  const form = h("form", { class: "form-row", id: "token-form", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const t = await api("POST", "/user/tokens", { name: name.value.trim(), scope: scope.value });
      const fresh = await api("GET", "/user/tokens");
      const next = tokensSection(fresh.tokens, rerender);
      section.replaceWith(next);
      next.querySelector("#token-msg").replaceChildren(h("div", { class: "alert alert-success new-token", role: "status" },
        h("p", {}, h("strong", {}, "Token “" + t.name + "” created."), " Copy it now: it is not shown again."),
        h("div", { class: "pull-cmd" }, h("code", { class: "mono", id: "new-token" }, t.token), copyButton(t.token, "Copy token"))));
    } catch (e) {
      mount(msg, alertBox(e.message));
    }
  } }, field("Token name", name), field("Scope", scope), h("button", { type: "submit", class: "btn btn-primary" }, "Create token"));
  const section = h("section", { class: "card section", "aria-labelledby": "tokens-h" },
    h("h2", { id: "tokens-h" }, "Personal access tokens"),
    h("p", { class: "muted" }, "Use a token instead of your password with docker, podman, skopeo or berth: ", h("code", {}, "docker login " + location.host + " -u " + session.user.name)),
    msg,
    tokens.length ? table(["Name", "Scope", "Created", "Last used", "Status", ""], rows, "tokens-table") : emptyState("No tokens yet", "Create one for each machine or CI job."),
    form);
  return section;
}

function passwordSection() {
  const cur = h("input", { type: "password", name: "current", autocomplete: "current-password", required: true });
  const n1 = h("input", { type: "password", name: "new", autocomplete: "new-password", required: true, minlength: 8 });
  const n2 = h("input", { type: "password", name: "confirm", autocomplete: "new-password", required: true, minlength: 8 });
  const msg = h("div", { "aria-live": "polite" });
  return h("section", { class: "card section", "aria-labelledby": "pw-h" },
    h("h2", { id: "pw-h" }, "Password"), msg,
    h("form", { class: "stack", id: "password-form", onsubmit: async (ev) => {
      ev.preventDefault();
      if (n1.value !== n2.value) {
        mount(msg, alertBox("The new passwords differ."));
        return;
      }
      try {
        await api("PUT", "/user/password", { current_password: cur.value, new_password: n1.value });
        ev.target.reset();
        mount(msg, alertBox("Password changed. Your other sessions were signed out.", "success"));
      } catch (e) {
        mount(msg, alertBox(e.status === 403 ? "The current password is wrong." : e.message));
      }
    } }, field("Current password", cur), field("New password", n1, "8 characters or more."), field("New password again", n2),
    h("div", {}, h("button", { type: "submit", class: "btn btn-primary" }, "Change password"))));
}

function orgsSection(orgs, ctx) {
  const name = h("input", { name: "org", required: true, placeholder: "organization name", autocomplete: "off" });
  const msg = h("div", { "aria-live": "polite" });
  return h("section", { class: "card section", "aria-labelledby": "orgs-h" },
    h("h2", { id: "orgs-h" }, "Organizations"), msg,
    orgs.length ? h("ul", { class: "plain-list" }, orgs.map((o) => h("li", {}, h("a", { href: "/u/" + encodeURIComponent(o.name) }, o.name), o.role ? h("span", { class: "muted" }, " · " + o.role) : null)))
      : h("p", { class: "muted" }, "You belong to no organization."),
    h("form", { class: "inline-form", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const o = await api("POST", "/orgs", { name: name.value.trim() });
        ctx.navigate("/u/" + encodeURIComponent(o.name));
      } catch (e) {
        mount(msg, alertBox(e.message));
      }
    } }, name, h("button", { type: "submit", class: "btn" }, "Create organization")));
}

export async function accountPage(root, ctx) {
  setTitle("Account");
  if (!session.user) {
    ctx.navigate("/signin?next=/account", true);
    return;
  }
  const [tokens, orgs] = await Promise.all([api("GET", "/user/tokens"), api("GET", "/orgs")]);
  if (!ctx.isCurrent()) return;
  const u = session.user;
  mount(root, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", { class: "avatar", "aria-hidden": "true" }, u.name.slice(0, 1).toUpperCase()),
      h("div", {}, h("h1", {}, u.name), h("p", { class: "muted" }, u.email || "no e-mail", u.admin ? " · administrator" : "", " · joined ", timeAgo(u.created_at)))),
    h("div", { class: "layout" },
      h("div", { class: "layout-main" }, tokensSection(tokens.tokens, ctx.rerender)),
      h("aside", { class: "layout-side" }, passwordSection(), orgsSection(orgs.orgs, ctx)))));
}
