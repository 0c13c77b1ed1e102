// The Tag rules section of a repository's settings and of a namespace page
// (/api/v1/tag-rules): immutability (matching tags cannot be moved or deleted) and
// retention (keep the N most recent, or those pushed or pulled within D days; retention
// runs untag the rest). Lists the rules the caller may manage, adds one (checked here as
// berthd checks it, errors at their field), deletes one with a second click. globMatch()
// tells the tag tables which tags an immutable rule protects.
import { api } from "../api.js";
import { alertBox, badge, confirmButton, emptyState, h, mount, repoPath, shortDigest, table, timeAgo } from "../dom.js";

const PATTERN_RE = /^[A-Za-z0-9_.\-*?[\]!]{1,128}$/;

// fnmatch(pattern, name, 0) as berthd's retention.c uses it: * any run, ? one character,
// [abc] [a-z] [!x] classes; a [ without its ] is itself.
export function globMatch(pattern, name) {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, j);
      const neg = body.startsWith("!");
      if (neg) body = body.slice(1);
      re += "[" + (neg ? "^" : "") + body.replace(/[\\^]/g, "\\$&") + "]";
      i = j;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  try {
    return new RegExp(re + "$").test(name);
  } catch (e) {
    return false;
  }
}

// The immutable rules (of a list) that match tag; empty when it may be deleted.
export function immutableRulesFor(rules, tag) {
  return rules.filter((r) => r.kind === "immutable" && globMatch(r.pattern, tag));
}

// The form's values checked as retention_rule_check does: {field: message} and the body.
export function checkTagRule(v) {
  const errors = {};
  if (!PATTERN_RE.test(v.pattern)) errors.pattern = "1 to 128 tag characters (letters, digits, _ . -) and * ? [ ] !";
  const body = { kind: v.kind, pattern: v.pattern };
  if (v.kind === "retention") {
    const n = Number(v.keep);
    const [lo, hi] = v.keepBy === "keep_days" ? [1, 36500] : [1, 100000];
    if (!/^\d+$/.test(v.keep) || n < lo || n > hi) errors.keep = `a whole number from ${lo} to ${hi}`;
    else body[v.keepBy] = n;
  }
  return { errors, body };
}

function keepText(r) {
  if (r.kind !== "retention") return h("span", { class: "muted" }, "—");
  if (r.keep_last !== undefined && r.keep_last !== null) return `the ${r.keep_last} most recent`;
  return `pushed or pulled within ${r.keep_days} ${r.keep_days === 1 ? "day" : "days"}`;
}

function ruleForm(kind, scope, onAdded) {
  const msg = h("div", { "aria-live": "polite" });
  const kindSel = h("select", { name: "kind", id: "tagrule-kind" },
    h("option", { value: "immutable" }, "Immutable: matching tags cannot be moved or deleted"),
    h("option", { value: "retention" }, "Retention: keep only some matching tags"));
  const pattern = h("input", { name: "pattern", id: "tagrule-pattern", autocomplete: "off", placeholder: "v*", "aria-describedby": "tagrule-pattern-hint tagrule-pattern-error" });
  const keepBy = h("select", { name: "keep_by", id: "tagrule-keep-by", "aria-label": "Keep by" },
    h("option", { value: "keep_last" }, "keep the most recent"),
    h("option", { value: "keep_days" }, "keep those pushed or pulled within (days)"));
  const keep = h("input", { name: "keep", id: "tagrule-keep", inputmode: "numeric", autocomplete: "off", placeholder: "10", "aria-label": "How many (or days)", "aria-describedby": "tagrule-keep-error" });
  const err = { pattern: h("p", { class: "field-error", id: "tagrule-pattern-error", hidden: true }), keep: h("p", { class: "field-error", id: "tagrule-keep-error", hidden: true }) };
  const inputs = { pattern, keep };
  const keepRow = h("div", { class: "field", hidden: true }, h("label", { for: keep.id }, "Keep"), h("div", { class: "inline-inputs" }, keepBy, keep), err.keep);
  kindSel.addEventListener("change", () => (keepRow.hidden = kindSel.value !== "retention"));
  const show = (errors) => {
    for (const k of Object.keys(err)) {
      err[k].textContent = errors[k] || "";
      err[k].hidden = !errors[k];
      if (errors[k]) inputs[k].setAttribute("aria-invalid", "true");
      else inputs[k].removeAttribute("aria-invalid");
    }
    const first = Object.keys(err).find((k) => errors[k]);
    if (first) inputs[first].focus();
  };
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Add rule");
  const form = h("form", { id: "tagrule-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    mount(msg);
    const { errors, body } = checkTagRule({ kind: kindSel.value, pattern: pattern.value.trim(), keepBy: keepBy.value, keep: keep.value.trim() });
    show(errors);
    if (Object.keys(errors).length) return;
    body[kind] = scope;
    submit.disabled = true;
    try {
      await api("POST", "/tag-rules", body);
      form.reset();
      keepRow.hidden = true;
      onAdded();
    } catch (e) {
      const f = /pattern/.test(e.message) ? "pattern" : /keep_/.test(e.message) ? "keep" : null;
      if (f) show({ [f]: e.message });
      else mount(msg, alertBox(e.message));
    } finally {
      submit.disabled = false;
    }
  } },
  h("div", { class: "field" }, h("label", { for: kindSel.id }, "Kind"), kindSel),
  h("div", { class: "field" }, h("label", { for: pattern.id }, "Tag pattern"), pattern,
    h("p", { class: "hint", id: "tagrule-pattern-hint" }, "A glob over tag names: * any run, ? one character, [a-z] a class, [!x] not x"), err.pattern),
  keepRow,
  h("div", {}, submit));
  return [msg, form];
}

// kind is "repository" or "namespace"; scope its name. For a repository, the rules of its
// namespace that the caller may manage are listed too (they apply to it). onChange(rules)
// is told the rules that apply whenever the list is (re)loaded.
export async function tagRulesSection(kind, scope, onChange = () => {}) {
  const section = h("section", { class: "card section", "aria-labelledby": "tagrules-h", id: "tag-rules" });
  const msg = h("div", { "aria-live": "polite" });
  const list = h("div", {});
  const fail = (e) => mount(msg, alertBox(e.message));
  const load = async () => {
    const own = await api("GET", `/tag-rules?${kind}=${encodeURIComponent(scope)}`);
    let rules = own.rules;
    if (kind === "repository") {
      const ns = await api("GET", "/tag-rules?namespace=" + encodeURIComponent(scope.split("/")[0])).catch(() => ({ rules: [] }));
      rules = [...ns.rules, ...rules];
    }
    const rows = rules.map((r) => h("tr", { "data-rule": r.id },
      h("td", {}, badge(r.kind, r.kind === "immutable" ? "immutable" : "retention")),
      h("td", { class: "mono" }, r.pattern),
      h("td", {}, r.namespace ? ["namespace ", h("a", { href: "/u/" + encodeURIComponent(r.namespace) }, r.namespace)] : "this repository"),
      h("td", {}, keepText(r)),
      h("td", {}, timeAgo(r.created_at), h("div", { class: "muted small" }, "by " + r.created_by)),
      h("td", {}, confirmButton("Delete", "Confirm delete", async () => {
        try {
          await api("DELETE", "/tag-rules/" + r.id);
          await load();
        } catch (e) {
          fail(e);
        }
      }))));
    mount(list, rules.length
      ? table(["Kind", "Pattern", "Applies to", "Keeps", "Added", ""], rows, "tagrules-table")
      : emptyState("No tag rules", "Tags can be moved and deleted freely, and none is removed by retention."));
    onChange(rules);
  };
  mount(section, h("h2", { id: "tagrules-h" }, "Tag rules"),
    h("p", { class: "muted" }, "Immutable tags cannot be pushed over or deleted. Retention rules say which matching tags to keep; a retention run (",
      h("code", {}, "berthd retention"), ", every garbage collection, or an administrator's on the admin page) untags the others, whose manifests stay reachable by digest."),
    msg, list, h("h3", {}, "New rule"), ...ruleForm(kind, scope, () => load().catch(fail)));
  await load();
  return section;
}

// The administration page's Retention section: a dry run lists what every retention rule
// would untag (nothing changes); "Run retention" (a second click) untags it.
export function retentionSection() {
  const msg = h("div", { "aria-live": "polite" });
  const out = h("div", { id: "retention-result" });
  const ACTION = { untag: "untagged", kept_immutable: "kept: immutable", skipped_changed: "skipped: pushed meanwhile" };
  const run = async (dry) => {
    mount(msg);
    try {
      const r = await api("POST", "/retention", { dry_run: dry });
      const rows = r.tags.map((t) => h("tr", {},
        h("td", {}, dry && t.action === "untag" ? "would be untagged" : ACTION[t.action] || t.action),
        h("td", {}, h("a", { href: repoPath(t.repository) }, t.repository)),
        h("td", { class: "mono" }, t.tag),
        h("td", { class: "mono small", title: t.digest }, shortDigest(t.digest)),
        h("td", { class: "num" }, "#" + t.rule)));
      mount(out,
        h("p", { id: "retention-summary" }, (dry ? "Dry run: " : "Done: ") +
          `${r.examined} ${r.examined === 1 ? "tag" : "tags"} examined in ${r.repositories} ${r.repositories === 1 ? "repository" : "repositories"}; ` +
          `${r.untagged} ${dry ? "would be untagged" : "untagged"}, ${r.kept_immutable} kept as immutable, ${r.skipped_changed} skipped (pushed meanwhile).`),
        rows.length ? table(["Outcome", "Repository", "Tag", "Digest", "Rule"], rows, "retention-table") : null);
    } catch (e) {
      mount(msg, alertBox(e.message));
    }
  };
  return h("section", { class: "card section", "aria-labelledby": "retention-h", id: "retention" },
    h("h2", { id: "retention-h" }, "Retention"),
    h("p", { class: "muted" }, "Applies every retention rule now, as each garbage collection does first: the matching tags a rule does not keep are untagged (their manifests stay until garbage collection). Rules are set in each repository's settings and on namespace pages."),
    msg,
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "btn", id: "retention-dry", onclick: () => run(true) }, "Dry run"),
      confirmButton("Run retention", "Confirm: untag now", () => run(false), "btn btn-danger")),
    out);
}
