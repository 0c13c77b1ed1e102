// A repository: name, visibility, descriptions (the long one rendered from Markdown by
// berthd, sanitized there), the pull and run commands with copy buttons, pull count and the
// tag table (digest, platforms, size, last pushed, last pulled), a page at a time. A
// repository of the pull-through cache is marked with its upstream and last check time.
import { api, session } from "../api.js";
import { apiRepoPath, badge, copyButton, emptyState, h, humanCount, humanSize, mirrorBadge, mount, pager, repoPath, setTitle, shortDigest, table, timeAgo } from "../dom.js";

const PER_PAGE = 25;
// Each client's commands: pull, and run (each pulls what is missing, then runs it).
const CLIENTS = [
  ["docker", "docker pull", "docker run --rm -it"],
  ["podman", "podman pull", "podman run --rm -it"],
  ["berth", "berth pull", "berth run --rm -it"],
];

// The command box: a tab per client, then its pull and run commands, each with a copy
// button. The chosen client is remembered (localStorage) for every page.
export function pullCommand(ref, id = "pull") {
  let client = localStorage.getItem("berth.client") || "docker";
  if (!CLIENTS.some(([k]) => k === client)) client = "docker";
  const pullCode = h("code", { id: id + "-cmd" });
  const runCode = h("code", { id: id + "-run-cmd" });
  const cmds = () => CLIENTS.find(([k]) => k === client);
  const pullText = () => cmds()[1] + " " + ref;
  const runText = () => cmds()[2] + " " + ref;
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Client" });
  const panel = h("div", { class: "pull-cmds", role: "tabpanel", id: id + "-panel", "aria-label": "Commands" },
    h("div", { class: "pull-cmd", "data-kind": "pull" }, h("span", { class: "cmd-kind" }, "Pull"), pullCode, copyButton(pullText, "Copy pull command")),
    h("div", { class: "pull-cmd", "data-kind": "run" }, h("span", { class: "cmd-kind" }, "Run"), runCode, copyButton(runText, "Copy run command")));
  const update = () => {
    pullCode.textContent = pullText();
    runCode.textContent = runText();
    for (const b of tabs.children) {
      const on = b.dataset.client === client;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
  };
  CLIENTS.forEach(([k]) => {
    const b = h("button", { type: "button", role: "tab", class: "tab", "data-client": k, "aria-controls": id + "-panel" }, k);
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
  return h("div", { class: "pull-box" }, tabs, panel);
}

function platformChips(list) {
  if (!list || !list.length) return h("span", { class: "muted" }, "—");
  return h("div", { class: "chips" }, list.map((p) => h("span", { class: "chip" }, p)));
}

// What the caller may do here. A cached repository is read-only to everyone (berthd refuses
// pushes under a mirrored name); its admins may still change it and drop it from the cache.
function accessText(repo) {
  const p = repo.permissions;
  if (repo.mirror) return p.admin ? "pull, admin (read-only cache)" : session.user ? "pull (read-only cache)" : "pull (read-only cache, not signed in)";
  return p.admin ? "admin" : p.push ? "push and pull" : session.user ? "pull" : "pull (not signed in)";
}

// The note above a cached repository's content: where it comes from and what that means.
function mirrorNotice(mirror) {
  if (!mirror) return null;
  return h("div", { class: "alert alert-info mirror-notice", id: "mirror-notice", role: "note" },
    h("strong", {}, "Pull-through cache"), " of ", h("span", { class: "mono" }, mirror.upstream),
    ". A pull of a tag not cached yet, or cached longer than the registry's TTL, asks the upstream; pushes to this name are refused. Upstream last checked ",
    timeAgo(mirror.last_checked), ".");
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
        h("h1", { class: "repo-title" }, name, " ", mirrorBadge(repo.mirror), badge(repo.visibility)),
        h("p", { class: repo.description ? "lead" : "lead muted", id: "repo-description" }, repo.description || "No description"),
        mirrorNotice(repo.mirror)),
      h("div", { class: "repo-stats" },
        h("div", { class: "stat" }, h("strong", { id: "pull-count", title: String(repo.pull_count) }, humanCount(repo.pull_count)), h("span", {}, repo.pull_count === 1 ? "pull" : "pulls")),
        h("div", { class: "stat" }, h("strong", {}, String(repo.tag_count)), h("span", {}, repo.tag_count === 1 ? "tag" : "tags")),
        h("div", { class: "stat" }, h("strong", {}, timeAgo(repo.updated_at)), h("span", {}, repo.mirror ? "last fetched" : "last push")))),
    h("div", { class: "layout" },
      h("div", { class: "layout-main" },
        h("section", { class: "card section", "aria-labelledby": "tags-h" },
          h("h2", { id: "tags-h" }, "Tags ", h("span", { class: "count" }, String(tags.total))),
          repo.mirror ? h("p", { class: "muted small" }, "The tags pulled through this registry so far, not every tag upstream.") : null,
          tags.tags.length
            ? table(["Tag", "Digest", "Platforms", "Size", repo.mirror ? "Cached" : "Last pushed", "Last pulled"], rows, "tags-table")
            : emptyState("No tags", "Every manifest here is untagged; push one with a tag."),
          pager(page, PER_PAGE, tags.total, (p) => repoPath(name) + "?page=" + p)),
        h("section", { class: "card section", "aria-labelledby": "overview-h" }, h("h2", { id: "overview-h" }, "Overview"), overview)),
      h("aside", { class: "layout-side" },
        h("section", { class: "card section" }, h("h2", {}, "Pull and run"),
          pullCommand(host + "/" + name + (first ? ":" + first.name : ""))),
        repo.permissions.admin
          ? h("section", { class: "card section" }, h("h2", {}, "Manage"), h("p", { class: "muted" }, repo.mirror ? "Visibility, descriptions, removal from the cache." : "Visibility, descriptions, tags."),
            h("a", { class: "btn", href: repoPath(name) + "/-/settings", id: "settings-link" }, "Repository settings"))
          : null,
        h("section", { class: "card section about" }, h("h2", {}, "About"),
          h("dl", { class: "kv" },
            h("dt", {}, "Visibility"), h("dd", {}, repo.visibility),
            repo.mirror ? [h("dt", {}, "Mirror of"), h("dd", { class: "mono", id: "mirror-upstream" }, repo.mirror.upstream),
              h("dt", {}, "Last checked"), h("dd", { id: "mirror-checked" }, timeAgo(repo.mirror.last_checked))] : null,
            h("dt", {}, "Created"), h("dd", {}, timeAgo(repo.created_at)),
            h("dt", {}, "Your access"), h("dd", {}, accessText(repo))))))));
}
