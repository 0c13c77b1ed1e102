// Repository settings, for those with admin rights on it: visibility, the short and long
// descriptions, deleting tags, tag rules (pages/tagrules.js), webhooks (pages/webhooks.js),
// deleting the repository. A repository of the pull-through cache is read-only (berthd
// refuses pushes and tag deletes under a mirrored name): its tags are listed without delete
// buttons, it has no tag rules, its webhooks are told of "mirror" events (a tag the cache
// stored) instead of pushes and deletes, and deleting it drops it from the cache.
import { api } from "../api.js";
import { alertBox, apiRepoPath, confirmButton, emptyState, field, h, humanSize, mirrorBadge, mount, pager, repoPath, setTitle, shortDigest, table, timeAgo } from "../dom.js";
import { immutableRulesFor, tagRulesSection } from "./tagrules.js";
import { webhooksSection } from "./webhooks.js";

const PER_PAGE = 25;

function visibilitySection(name, repo) {
  const msg = h("div", { "aria-live": "polite" });
  const radio = (v, label, hint) => h("label", { class: "radio-card" },
    h("input", { type: "radio", name: "visibility", value: v, checked: repo.visibility === v }),
    h("span", {}, h("strong", {}, label), h("span", { class: "hint" }, hint)));
  return h("section", { class: "card section", "aria-labelledby": "vis-h" },
    h("h2", { id: "vis-h" }, "Visibility"), msg,
    h("form", { class: "stack", id: "visibility-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const v = ev.target.elements.visibility.value;
      try {
        const r = await api("PATCH", apiRepoPath(name), { visibility: v });
        mount(msg, alertBox("The repository is now " + r.visibility + ".", "success"));
      } catch (e) {
        mount(msg, alertBox(e.message));
      }
    } },
    h("fieldset", { class: "radios" }, h("legend", { class: "sr-only" }, "Visibility"),
      radio("public", "Public", "Anyone can see and pull it, without signing in."),
      radio("private", "Private", "Only you, your organization's members and those you grant access.")),
    h("div", {}, h("button", { type: "submit", class: "btn btn-primary" }, "Save visibility"))));
}

function descriptionSection(name, repo) {
  const msg = h("div", { "aria-live": "polite" });
  const short = h("input", { name: "description", maxlength: 100, value: repo.description || "" });
  const full = h("textarea", { name: "full_description", rows: 14, maxlength: 25000, class: "mono" });
  full.value = repo.full_description || "";
  return h("section", { class: "card section", "aria-labelledby": "desc-h" },
    h("h2", { id: "desc-h" }, "Descriptions"), msg,
    h("form", { class: "stack", id: "description-form", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("PATCH", apiRepoPath(name), { description: short.value, full_description: full.value });
        mount(msg, alertBox("Descriptions saved.", "success"));
      } catch (e) {
        mount(msg, alertBox(e.message));
      }
    } },
    field("Short description", short, "Shown in listings and search; 100 characters at most."),
    field("Overview (Markdown)", full, "GitHub-flavoured Markdown: tables, task lists, strikethrough, autolinks. Raw HTML is not shown."),
    h("div", {}, h("button", { type: "submit", class: "btn btn-primary" }, "Save descriptions"))));
}

// The tags table with a delete button per tag; returns the section and markImmutable(rules),
// which swaps the button of each tag an immutable rule protects (berthd refuses to delete
// it) for an "immutable" badge naming the rule.
async function tagsSection(name, repo, page, ctx) {
  const tags = await api("GET", apiRepoPath(name) + `/tags?page=${page}&per_page=${PER_PAGE}`);
  const msg = h("div", { "aria-live": "polite" });
  const guards = [];
  const rows = tags.tags.map((t) => {
    const del = repo.mirror ? null : confirmButton("Delete", "Confirm delete", async () => {
      try {
        await api("DELETE", apiRepoPath(name) + "/tags/" + encodeURIComponent(t.name));
        ctx.rerender();
      } catch (e) {
        mount(msg, alertBox(e.message));
      }
    });
    const lock = h("span", { class: "badge badge-immutable", hidden: true }, "immutable");
    if (del) guards.push({ tag: t.name, del, lock });
    return h("tr", { "data-tag": t.name },
      h("td", {}, h("a", { href: repoPath(name) + "/-/tags/" + encodeURIComponent(t.name) }, t.name)),
      h("td", { class: "mono", title: t.digest }, shortDigest(t.digest)),
      h("td", { class: "num" }, humanSize(t.size)),
      h("td", {}, timeAgo(t.pushed_at)),
      del ? h("td", {}, del, lock) : null);
  });
  const markImmutable = (rules) => {
    for (const g of guards) {
      const by = immutableRulesFor(rules, g.tag);
      g.del.hidden = by.length > 0;
      g.lock.hidden = by.length === 0;
      g.lock.title = by.length ? "Protected by the immutable rule " + by.map((r) => r.pattern).join(", ") : "";
    }
  };
  const section = h("section", { class: "card section", "aria-labelledby": "stags-h" },
    h("h2", { id: "stags-h" }, "Tags"), msg,
    repo.mirror
      ? h("p", { class: "muted", id: "mirror-tags-note" }, "This repository is a read-only cache of ", h("span", { class: "mono" }, repo.mirror.upstream),
        ": its tags follow the upstream and cannot be deleted here. To drop cached content, remove the whole repository from the cache.")
      : h("p", { class: "muted" }, "Deleting a tag leaves its manifest reachable by digest. Tags an immutable rule protects cannot be deleted."),
    tags.tags.length ? table(repo.mirror ? ["Tag", "Digest", "Size", "Cached"] : ["Tag", "Digest", "Size", "Pushed", ""], rows, "settings-tags") : emptyState("No tags", ""),
    pager(page, PER_PAGE, tags.total, (p) => repoPath(name) + "/-/settings?page=" + p));
  return { section, markImmutable };
}

function dangerSection(name, repo, ctx) {
  const msg = h("div", { "aria-live": "polite" });
  const confirmInput = h("input", { name: "confirm", autocomplete: "off", placeholder: name });
  const btn = h("button", { type: "submit", class: "btn btn-danger", disabled: true }, repo.mirror ? "Remove from the cache" : "Delete this repository");
  confirmInput.addEventListener("input", () => (btn.disabled = confirmInput.value !== name));
  return h("section", { class: "card section danger", "aria-labelledby": "danger-h" },
    h("h2", { id: "danger-h" }, repo.mirror ? "Remove from the cache" : "Delete repository"), msg,
    repo.mirror
      ? h("p", {}, "This drops every cached tag and manifest of ", h("strong", {}, name), " from this registry. The upstream keeps them: the next pull fetches them again.")
      : h("p", {}, "This deletes every tag and manifest of ", h("strong", {}, name), ". It cannot be undone."),
    h("form", { class: "stack", id: "delete-repo-form", onsubmit: async (ev) => {
      ev.preventDefault();
      if (confirmInput.value !== name) return;
      try {
        await api("DELETE", apiRepoPath(name));
        ctx.navigate("/u/" + encodeURIComponent(name.split("/")[0]));
      } catch (e) {
        mount(msg, alertBox(e.message));
      }
    } }, field("Type the repository's name to confirm", confirmInput), h("div", {}, btn)));
}

export async function settingsPage(root, name, ctx) {
  setTitle("Settings", name);
  const page = Math.max(1, parseInt(ctx.params.get("page") || "1", 10) || 1);
  const repo = await api("GET", apiRepoPath(name));
  if (!ctx.isCurrent()) return;
  if (!repo.permissions.admin) {
    mount(root, emptyState("You cannot change this repository", "Its settings need admin rights on it: its owner, an organization owner, an admin grant or a registry administrator.", h("a", { class: "btn", href: repoPath(name) }, "Back to the repository")));
    return;
  }
  const failed = (title) => (e) => h("section", { class: "card section" }, h("h2", {}, title), alertBox(e.message));
  const tags = await tagsSection(name, repo, page, ctx);
  const [hooks, rules] = await Promise.all([
    webhooksSection("repository", name, repo.mirror ? ["mirror"] : ["push", "delete"]).catch(failed("Webhooks")),
    repo.mirror ? null : tagRulesSection("repository", name, tags.markImmutable).catch(failed("Tag rules")),
  ]);
  if (!ctx.isCurrent()) return;
  mount(root, h("div", { class: "page" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: repoPath(name) }, name), " / ", h("span", { "aria-current": "page" }, "Settings")),
    h("h1", {}, "Settings ", mirrorBadge(repo.mirror)),
    h("div", { class: "layout" },
      h("div", { class: "layout-main" }, descriptionSection(name, repo), tags.section, rules),
      h("aside", { class: "layout-side" }, visibilitySection(name, repo), dangerSection(name, repo, ctx))),
    hooks));
}
