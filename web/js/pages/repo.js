// A repository: name, visibility, descriptions (the long one rendered from Markdown by
// berthd, sanitized there), the pull command with a copy button, pull count and the tag
// table (digest, platforms, size, last pushed, last pulled), a page at a time.
import { api, session } from "../api.js";
import { apiRepoPath, badge, copyButton, emptyState, h, humanCount, humanSize, mount, pager, repoPath, setTitle, shortDigest, table, timeAgo } from "../dom.js";

const PER_PAGE = 25;
const CLIENTS = [["docker", "docker pull"], ["podman", "podman pull"], ["berth", "berth pull"]];

// The pull command box: a tab per client, the command, and a copy button.
export function pullCommand(ref, id = "pull") {
  let client = localStorage.getItem("berth.client") || "docker";
  if (!CLIENTS.some(([k]) => k === client)) client = "docker";
  const code = h("code", { id: id + "-cmd" });
  const text = () => CLIENTS.find(([k]) => k === client)[1] + " " + ref;
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Client" });
  const update = () => {
    code.textContent = text();
    for (const b of tabs.children) {
      const on = b.dataset.client === client;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
  };
  CLIENTS.forEach(([k]) => {
    const b = h("button", { type: "button", role: "tab", class: "tab", "data-client": k }, k);
    b.addEventListener("click", () => {
      client = k;
      localStorage.setItem("berth.client", k);
      update();
    });
    b.addEventListener("keydown", (ev) => {
      const i = CLIENTS.findIndex(([c]) => c === client);
      const n = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
      if (!n) return;
      ev.preventDefault();
      client = CLIENTS[(i + n + CLIENTS.length) % CLIENTS.length][0];
      update();
      tabs.querySelector(`[data-client="${client}"]`).focus();
    });
    tabs.appendChild(b);
  });
  update();
  return h("div", { class: "pull-box" }, tabs, h("div", { class: "pull-cmd" }, code, copyButton(text, "Copy pull command")));
}

function platformChips(list) {
  if (!list || !list.length) return h("span", { class: "muted" }, "—");
  return h("div", { class: "chips" }, list.map((p) => h("span", { class: "chip" }, p)));
}

export async function repoPage(root, name, ctx) {
  const page = Math.max(1, parseInt(ctx.params.get("page") || "1", 10) || 1);
  setTitle(name);
  const [repo, tags] = await Promise.all([
    api("GET", apiRepoPath(name)),
    api("GET", apiRepoPath(name) + `/tags?page=${page}&per_page=${PER_PAGE}`),
  ]);
  if (!ctx.isCurrent()) return;
  const host = location.host;
  const first = tags.tags.find((t) => t.name === "latest") || tags.tags[0];
  const ns = repo.namespace;
  const rows = tags.tags.map((t) => h("tr", {},
    h("td", {}, h("a", { class: "tag-link", href: repoPath(name) + "/-/tags/" + encodeURIComponent(t.name) }, t.name)),
    h("td", {}, h("a", { class: "mono digest", href: repoPath(name) + "/-/tags/" + encodeURIComponent(t.digest), title: t.digest }, shortDigest(t.digest))),
    h("td", {}, platformChips(t.platforms)),
    h("td", { class: "num" }, humanSize(t.size)),
    h("td", {}, timeAgo(t.pushed_at)),
    h("td", {}, timeAgo(t.last_pulled_at))));
  const overview = repo.full_description_html
    ? h("div", { class: "markdown", id: "readme" })
    : emptyState("No overview yet", repo.permissions.admin ? "Write one in the repository settings: it is shown here, rendered from Markdown." : "The owners have not written an overview.");
  if (repo.full_description_html) {
    // Rendered by berthd with cmark-gfm without raw HTML and with unsafe links removed
    // (server/markdown.c); parsed inert here and only then put into the page.
    const doc = new DOMParser().parseFromString(repo.full_description_html, "text/html");
    overview.replaceChildren(...doc.body.childNodes);
    for (const a of overview.querySelectorAll("a[href]")) {
      // berthd empties unsafe targets; such a link leads nowhere, so it is no link at all.
      if (a.getAttribute("href") === "") a.removeAttribute("href");
      else a.setAttribute("rel", "nofollow noopener noreferrer");
    }
  }
  mount(root, h("div", { class: "page" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/u/" + encodeURIComponent(ns) }, ns), " / ", h("span", { "aria-current": "page" }, name.slice(ns.length + 1) || name)),
    h("div", { class: "repo-head" },
      h("div", {},
        h("h1", { class: "repo-title" }, name, " ", badge(repo.visibility)),
        h("p", { class: repo.description ? "lead" : "lead muted", id: "repo-description" }, repo.description || "No description")),
      h("div", { class: "repo-stats" },
        h("div", { class: "stat" }, h("strong", { id: "pull-count", title: String(repo.pull_count) }, humanCount(repo.pull_count)), h("span", {}, repo.pull_count === 1 ? "pull" : "pulls")),
        h("div", { class: "stat" }, h("strong", {}, String(repo.tag_count)), h("span", {}, repo.tag_count === 1 ? "tag" : "tags")),
        h("div", { class: "stat" }, h("strong", {}, timeAgo(repo.updated_at)), h("span", {}, "last push")))),
    h("div", { class: "layout" },
      h("div", { class: "layout-main" },
        h("section", { class: "card section", "aria-labelledby": "tags-h" },
          h("h2", { id: "tags-h" }, "Tags ", h("span", { class: "count" }, String(tags.total))),
          tags.tags.length
            ? table(["Tag", "Digest", "Platforms", "Size", "Last pushed", "Last pulled"], rows, "tags-table")
            : emptyState("No tags", "Every manifest here is untagged; push one with a tag."),
          pager(page, PER_PAGE, tags.total, (p) => repoPath(name) + "?page=" + p)),
        h("section", { class: "card section", "aria-labelledby": "overview-h" }, h("h2", { id: "overview-h" }, "Overview"), overview)),
      h("aside", { class: "layout-side" },
        h("section", { class: "card section" }, h("h2", {}, "Pull this image"),
          pullCommand(host + "/" + name + (first ? ":" + first.name : ""))),
        repo.permissions.admin
          ? h("section", { class: "card section" }, h("h2", {}, "Manage"), h("p", { class: "muted" }, "Visibility, descriptions, tags."),
            h("a", { class: "btn", href: repoPath(name) + "/-/settings", id: "settings-link" }, "Repository settings"))
          : null,
        h("section", { class: "card section about" }, h("h2", {}, "About"),
          h("dl", { class: "kv" },
            h("dt", {}, "Visibility"), h("dd", {}, repo.visibility),
            h("dt", {}, "Created"), h("dd", {}, timeAgo(repo.created_at)),
            h("dt", {}, "Your access"), h("dd", {}, repo.permissions.admin ? "admin" : repo.permissions.push ? "push and pull" : session.user ? "pull" : "pull (not signed in)")))))));
}
