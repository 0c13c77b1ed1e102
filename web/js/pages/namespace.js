// A namespace (a user or an organization): its repositories; for an organization its
// members, which its owners (and admins) can add, change and remove; for those who manage
// the namespace (its user, an organization's owners, admins) its tag rules and webhooks;
// for its user, its organization's members and admins its storage usage and quota (admins
// set it there).
import { api, session } from "../api.js";
import { alertBox, confirmButton, emptyState, h, mount, pager, setTitle, table } from "../dom.js";
import { repoCard } from "./explore.js";
import { quotaCard } from "./quota.js";
import { tagRulesSection } from "./tagrules.js";
import { webhooksSection } from "./webhooks.js";

const PER_PAGE = 24;
const ROLES = ["owner", "writer", "reader"];

function membersSection(org, rerender) {
  const canManage = (session.user && session.user.admin) || org.role === "owner";
  const msg = h("div", { "aria-live": "polite" });
  const fail = (e) => mount(msg, alertBox(e.message));
  const rows = (org.members || []).map((m) => h("tr", {},
    h("td", {}, h("a", { href: "/u/" + encodeURIComponent(m.name) }, m.name)),
    h("td", {}, canManage
      ? h("select", { "aria-label": "Role of " + m.name, onchange: async (ev) => {
        try {
          await api("PUT", `/orgs/${encodeURIComponent(org.name)}/members/${encodeURIComponent(m.name)}`, { role: ev.target.value });
          rerender();
        } catch (e) {
          fail(e);
        }
      } }, ROLES.map((r) => h("option", { value: r, selected: r === m.role }, r)))
      : m.role),
    canManage ? h("td", {}, confirmButton("Remove", "Really remove?", async () => {
      try {
        await api("DELETE", `/orgs/${encodeURIComponent(org.name)}/members/${encodeURIComponent(m.name)}`);
        rerender();
      } catch (e) {
        fail(e);
      }
    })) : null));
  const user = h("input", { name: "user", required: true, placeholder: "user name", "aria-label": "User to add", autocomplete: "off" });
  const role = h("select", { name: "role", "aria-label": "Role" }, ROLES.map((r) => h("option", { value: r, selected: r === "reader" }, r)));
  const add = canManage ? h("form", { class: "inline-form", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", `/orgs/${encodeURIComponent(org.name)}/members/${encodeURIComponent(user.value.trim())}`, { role: role.value });
      rerender();
    } catch (e) {
      fail(e);
    }
  } }, user, role, h("button", { type: "submit", class: "btn btn-primary" }, "Add member")) : null;
  return h("section", { class: "card section", "aria-labelledby": "members-h" },
    h("h2", { id: "members-h" }, "Members"), msg,
    table(["User", "Role", canManage ? "" : null].filter((x) => x !== null), rows), add);
}

export async function namespacePage(root, ns, ctx) {
  const page = Math.max(1, parseInt(ctx.params.get("page") || "1", 10) || 1);
  setTitle(ns);
  const qs = new URLSearchParams({ namespace: ns, page: String(page), per_page: String(PER_PAGE), sort: "updated" });
  const [doc, org] = await Promise.all([
    api("GET", "/repositories?" + qs),
    api("GET", "/orgs/" + encodeURIComponent(ns)).catch(() => null),
  ]);
  if (!ctx.isCurrent()) return;
  const mine = session.user && session.user.name === ns;
  const manages = mine || (session.user && session.user.admin) || (org && org.role === "owner");
  const [hooks, rules, quota] = await Promise.all([
    manages ? webhooksSection("namespace", ns).catch(() => null) : null,
    manages ? tagRulesSection("namespace", ns).catch(() => null) : null,
    session.user ? quotaCard(ns, !!session.user.admin).catch(() => null) : null,
  ]);
  if (!ctx.isCurrent()) return;
  const list = doc.repositories.length
    ? h("ul", { class: "repo-grid" }, doc.repositories.map(repoCard))
    : emptyState("No repositories" + (mine ? " yet" : ""), mine
      ? "Push one: docker push " + location.host + "/" + ns + "/NAME:TAG"
      : "This namespace has no repositories you can see.");
  mount(root, h("div", { class: "page" },
    h("div", { class: "page-head" },
      h("div", { class: "avatar", "aria-hidden": "true" }, ns.slice(0, 1).toUpperCase()),
      h("div", {}, h("h1", {}, ns), h("p", { class: "muted" }, org ? "Organization" + (org.role ? " · you are " + org.role : "") : "Namespace", " · ", `${doc.total} ${doc.total === 1 ? "repository" : "repositories"}`))),
    quota,
    list,
    pager(page, PER_PAGE, doc.total, (p) => `/u/${encodeURIComponent(ns)}?page=${p}`),
    org && org.members ? membersSection(org, ctx.rerender) : null,
    rules,
    hooks));
}
