// Administration, for registry administrators: users (create, disable, admin flag,
// delete), organizations, storage by namespace (pages/quota.js), garbage collection
// (pages/gc.js), replication rules (pages/replication.js), a retention run
// (pages/tagrules.js), and the audit log a page at a time.
import { api, session } from "../api.js";
import { alertBox, badge, confirmButton, emptyState, field, h, mount, setTitle, table, timeAgo } from "../dom.js";
import { gcSection } from "./gc.js";
import { quotasSection } from "./quota.js";
import { replicationSection } from "./replication.js";
import { retentionSection } from "./tagrules.js";

function usersSection(users, rerender) {
  const msg = h("div", { "aria-live": "polite" });
  const act = async (fn) => {
    try {
      await fn();
      rerender();
    } catch (e) {
      mount(msg, alertBox(e.message));
    }
  };
  const self = session.user.name;
  const rows = users.map((u) => h("tr", {},
    h("td", {}, h("a", { href: "/u/" + encodeURIComponent(u.name) }, u.name)),
    h("td", {}, u.email || h("span", { class: "muted" }, "—")),
    h("td", {}, u.admin ? badge("admin") : null, u.disabled ? badge("disabled") : null),
    h("td", {}, timeAgo(u.created_at)),
    h("td", { class: "actions" }, u.name === self ? h("span", { class: "muted" }, "you") : [
      h("button", { type: "button", class: "btn btn-small", onclick: () => act(() => api("PATCH", "/users/" + encodeURIComponent(u.name), { disabled: !u.disabled })) }, u.disabled ? "Enable" : "Disable"),
      h("button", { type: "button", class: "btn btn-small", onclick: () => act(() => api("PATCH", "/users/" + encodeURIComponent(u.name), { admin: !u.admin })) }, u.admin ? "Remove admin" : "Make admin"),
      confirmButton("Delete", "Confirm delete", () => act(() => api("DELETE", "/users/" + encodeURIComponent(u.name)))),
    ])));
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const email = h("input", { name: "email", type: "email", autocomplete: "off" });
  const pw = h("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const isAdmin = h("input", { type: "checkbox", name: "admin" });
  return h("section", { class: "card section", "aria-labelledby": "users-h" },
    h("h2", { id: "users-h" }, "Users ", h("span", { class: "count" }, String(users.length))), msg,
    table(["Name", "E-mail", "", "Created", ""], rows, "users-table"),
    h("h3", {}, "New user"),
    h("form", { class: "form-row", id: "user-form", onsubmit: (ev) => {
      ev.preventDefault();
      act(() => api("POST", "/users", { name: name.value.trim(), email: email.value.trim() || null, password: pw.value, admin: isAdmin.checked }));
    } }, field("Name", name), field("E-mail", email), field("Password", pw),
    h("label", { class: "check" }, isAdmin, " administrator"),
    h("button", { type: "submit", class: "btn btn-primary" }, "Create user")));
}

function auditRows(entries) {
  return entries.map((e) => h("tr", {},
    h("td", {}, timeAgo(e.at)),
    h("td", {}, e.actor),
    h("td", {}, h("span", { class: "chip" }, e.action)),
    h("td", { class: "wrap" }, e.target),
    h("td", { class: "mono wrap small" }, e.detail ? JSON.stringify(e.detail) : ""),
    h("td", { class: "mono small" }, e.remote_addr || "")));
}

function auditSection(first) {
  const body = table(["When", "Who", "Action", "Target", "Detail", "Address"], auditRows(first.entries), "audit-table");
  const tbody = body.querySelector("tbody");
  let before = first.next_before;
  const more = h("button", { type: "button", class: "btn", onclick: async () => {
    const next = await api("GET", "/audit?limit=50&before=" + before);
    tbody.append(...auditRows(next.entries));
    before = next.next_before;
    more.hidden = !before;
  } }, "Load more");
  more.hidden = !before;
  return h("section", { class: "card section", "aria-labelledby": "audit-h" },
    h("h2", { id: "audit-h" }, "Audit log"),
    first.entries.length ? body : emptyState("Nothing recorded yet", ""), more);
}

export async function adminPage(root, ctx) {
  setTitle("Administration");
  if (!session.user) {
    ctx.navigate("/signin?next=/admin", true);
    return;
  }
  if (!session.user.admin) {
    mount(root, emptyState("Administrators only", "This page is for the registry's administrators."));
    return;
  }
  const [users, audit, orgs, replication, gc, quotas] = await Promise.all([api("GET", "/users"), api("GET", "/audit?limit=50"), api("GET", "/orgs"), replicationSection(), gcSection(), quotasSection()]);
  if (!ctx.isCurrent()) return;
  mount(root, h("div", { class: "page" },
    h("h1", {}, "Administration"),
    usersSection(users.users, ctx.rerender),
    h("section", { class: "card section" }, h("h2", {}, "Organizations"),
      orgs.orgs.length ? h("ul", { class: "plain-list" }, orgs.orgs.map((o) => h("li", {}, h("a", { href: "/u/" + encodeURIComponent(o.name) }, o.name)))) : h("p", { class: "muted" }, "No organizations.")),
    quotas,
    gc,
    replication,
    retentionSection(),
    auditSection(audit)));
}
