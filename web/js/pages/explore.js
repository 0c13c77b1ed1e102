// Explore: every repository the viewer may see, searched by name and description, sorted
// by name, last push or pulls, a page at a time.
import { api } from "../api.js";
import { badge, emptyState, h, humanCount, icon, mirrorBadge, mirrorLine, mount, pager, repoPath, setTitle, timeAgo } from "../dom.js";

const PER_PAGE = 24;
const SORTS = [["name", "Name"], ["updated", "Recently pushed"], ["pulls", "Most pulled"]];

export function repoCard(r) {
  return h("li", { class: "card repo-card" },
    h("div", { class: "repo-card-head" },
      h("a", { class: "repo-name", href: repoPath(r.name) }, r.name),
      h("span", { class: "badges" }, mirrorBadge(r.mirror), badge(r.visibility))),
    h("p", { class: r.description ? "repo-desc" : "repo-desc muted" }, r.description || "No description"),
    mirrorLine(r.mirror, "mirror-line small"),
    h("div", { class: "repo-meta" },
      h("span", { title: r.pull_count + (r.pull_count === 1 ? " pull" : " pulls") }, icon("pull"), humanCount(r.pull_count), r.pull_count === 1 ? " pull" : " pulls"),
      h("span", {}, icon("tag"), String(r.tag_count), r.tag_count === 1 ? " tag" : " tags"),
      h("span", {}, icon("clock"), "Updated ", timeAgo(r.updated_at))));
}

export async function explorePage(root, ctx) {
  const q = ctx.params.get("q") || "";
  const sort = SORTS.some(([k]) => k === ctx.params.get("sort")) ? ctx.params.get("sort") : "name";
  const page = Math.max(1, parseInt(ctx.params.get("page") || "1", 10) || 1);
  setTitle(q ? `"${q}"` : "Explore");
  const top = document.querySelector("#top-search input");
  if (top) top.value = q;
  const qs = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE), sort });
  if (q) qs.set("q", q);
  const doc = await api("GET", "/repositories?" + qs);
  if (!ctx.isCurrent()) return;
  const href = (p, s = sort) => {
    const u = new URLSearchParams();
    if (q) u.set("q", q);
    if (s !== "name") u.set("sort", s);
    if (p > 1) u.set("page", String(p));
    const t = u.toString();
    return "/" + (t ? "?" + t : "");
  };
  const search = h("input", { type: "search", name: "q", value: q, placeholder: "Search by name or description", "aria-label": "Search repositories", id: "explore-q" });
  const sortSel = h("select", { name: "sort", "aria-label": "Sort by", id: "explore-sort" },
    SORTS.map(([k, label]) => h("option", { value: k, selected: k === sort }, label)));
  const form = h("form", { class: "toolbar", role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    const u = new URLSearchParams();
    const v = search.value.trim();
    if (v) u.set("q", v);
    if (sortSel.value !== "name") u.set("sort", sortSel.value);
    ctx.navigate("/" + (u.toString() ? "?" + u : ""));
  } }, search, sortSel, h("button", { type: "submit", class: "btn btn-primary" }, "Search"));
  sortSel.addEventListener("change", () => form.requestSubmit());
  const list = doc.repositories.length
    ? h("ul", { class: "repo-grid", "aria-label": "Repositories" }, doc.repositories.map(repoCard))
    : q
      ? emptyState("No repositories match “" + q + "”", "Try another word, or clear the search.", h("a", { class: "btn", href: "/" }, "Clear search"))
      : emptyState("No repositories yet", "Push an image and it shows up here: docker push " + location.host + "/NAMESPACE/NAME:TAG");
  mount(root, h("div", { class: "page" },
    h("div", { class: "page-head" },
      h("h1", {}, q ? "Search results" : "Explore repositories"),
      h("p", { class: "muted", id: "result-count" }, `${doc.total} ${doc.total === 1 ? "repository" : "repositories"}${q ? " matching “" + q + "”" : ""}`)),
    form, list, pager(page, PER_PAGE, doc.total, (p) => href(p))));
}
