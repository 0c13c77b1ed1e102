// The administration page's replication section (/api/v1/replication, admins only): the
// rules that copy images from other registries on a schedule, each with the status of its
// last run; a form to add one (checked here first, then by berthd, errors shown at their
// field); run now (the row follows the run until it ends); delete with a second click.
import { api } from "../api.js";
import { alertBox, badge, confirmButton, emptyState, h, mount, table, timeAgo } from "../dom.js";

const POLL_MS = 1000;
const POLL_MAX = 300; // five minutes: a run still going on after that is shown as running

// 3600 -> "1h", 90 -> "90s", 0 -> "on request".
export function intervalText(s) {
  if (!s) return "on request";
  for (const [n, u] of [[86400, "d"], [3600, "h"], [60, "m"]]) if (s % n === 0) return s / n + u;
  return s + "s";
}

// The status of a rule: its state while queued or running, else the last result.
function statusBadge(st) {
  if (st.state === "queued" || st.state === "running") return badge(st.state);
  if (!st.last_result) return h("span", { class: "muted" }, "never run");
  return badge(st.last_result);
}

function ruleRow(rule, actions) {
  const st = rule.status || {};
  const filter = rule.repositories + (rule.tags && rule.tags !== "*" ? " : " + rule.tags : "");
  return h("tr", { "data-rule": rule.name },
    h("td", { class: "nowrap" }, h("strong", {}, rule.name)),
    h("td", { class: "wrap rule-source" }, h("span", { class: "mono small" }, rule.source), h("br"),
      h("span", { class: "mono small", title: "repositories : tags" }, filter),
      rule.username ? h("div", { class: "muted small" }, "as " + rule.username) : null),
    h("td", { class: "mono small" }, rule.destination ? rule.destination + "/" : h("span", { class: "muted" }, "same names")),
    h("td", {}, intervalText(rule.interval),
      st.next_run_at && rule.interval ? h("div", { class: "muted small" }, "next ", timeAgo(st.next_run_at)) : null),
    h("td", { class: "rule-status" }, statusBadge(st),
      h("div", { class: "muted small" }, st.last_finished_at ? timeAgo(st.last_finished_at) : st.last_started_at ? ["started ", timeAgo(st.last_started_at)] : null)),
    h("td", { class: "rule-counts small" },
      h("div", { title: "images copied by the last run" }, h("strong", { class: "rule-copied" }, String(st.images_copied || 0)), " copied"),
      h("div", { title: "tags the last run found up to date" }, String(st.unchanged || 0), " up to date"),
      h("div", { title: "tags the last run could not copy" }, h("span", { class: st.errors ? "rule-errors error-text" : "rule-errors" }, String(st.errors || 0)), st.errors === 1 ? " error" : " errors"),
      h("div", { class: "muted", title: "images copied by every run" }, String(st.total_images_copied || 0), " in all")),
    h("td", { class: "wrap small rule-message" }, st.message || h("span", { class: "muted" }, "—")),
    h("td", {}, h("div", { class: "actions" }, actions)));
}

// A text input of the rule form (no autocompletion: these are not the user's own details).
function input(attrs) {
  return h("input", { autocomplete: "off", ...attrs });
}

const NAME_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const SOURCE_RE = /^https?:\/\/[^/\s?#@]+$/;
const INTERVAL_RE = /^(\d+)([smhd]?)$/;
const UNIT = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

// The form's values checked as berthd checks them (replication_rule_check): a map of field
// name to message, empty when all is well, and the request body.
export function checkRule(v) {
  const errors = {};
  if (v.name.length < 2 || v.name.length > 64 || !NAME_RE.test(v.name))
    errors.name = "2 to 64 of a-z, 0-9, with . _ - between them";
  if (!SOURCE_RE.test(v.source)) errors.source = "http://HOST[:PORT] or https://HOST[:PORT], without a path";
  if (!v.repositories) errors.repositories = "a repository name or a glob such as library/*";
  else if (/\s/.test(v.repositories) || v.repositories.length > 255) errors.repositories = "no spaces, at most 255 characters";
  if (/\s/.test(v.tags) || v.tags.length > 255) errors.tags = "no spaces, at most 255 characters";
  else if (v.tags.startsWith("/") && (v.tags.length < 3 || !v.tags.endsWith("/"))) errors.tags = "a regular expression goes between two slashes: /1\\.[0-9]+/";
  if (v.destination && !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(v.destination))
    errors.destination = "a namespace: lowercase letters, digits and . _ - / between them";
  let interval;
  if (v.interval) {
    const m = INTERVAL_RE.exec(v.interval);
    if (!m) errors.interval = "seconds, or 90s, 15m, 6h, 1d; 0 for runs on request only";
    else {
      interval = Number(m[1]) * UNIT[m[2]];
      if (interval !== 0 && (interval < 5 || interval > 366 * 86400)) errors.interval = "0, or 5 seconds to 366 days";
    }
  }
  if (v.password && !v.username) errors.username = "a password needs a user name";
  if (/[:\r\n]/.test(v.username)) errors.username = "no ':' in a user name";
  const body = { name: v.name, source: v.source, repositories: v.repositories };
  if (v.tags) body.tags = v.tags;
  if (v.destination) body.destination = v.destination;
  if (interval !== undefined) body.interval = interval;
  if (v.username) body.username = v.username;
  if (v.password) body.password = v.password;
  return { errors, body };
}

// The field an error of berthd's is about (its messages start with the field's name).
function fieldOf(err) {
  if (err.code === "CONFLICT" || (err.code === "NAME_INVALID" && /^rule name/.test(err.message))) return "name";
  const m = /^field '(\w+)'/.exec(err.message) || /^(source|repositories|tags|destination|interval)\b/.exec(err.message);
  if (m) return m[1];
  if (/username|password/.test(err.message)) return "username";
  return null;
}

function ruleForm(onAdded) {
  const fields = {
    name: input({ name: "name", placeholder: "hub" }),
    source: input({ name: "source", placeholder: "https://registry.example.com", inputmode: "url" }),
    repositories: input({ name: "repositories", placeholder: "library/* or team/app" }),
    tags: input({ name: "tags", placeholder: "*" }),
    destination: input({ name: "destination", placeholder: "(the source's names)" }),
    interval: input({ name: "interval", placeholder: "1h" }),
    username: input({ name: "username", placeholder: "(anonymous)" }),
    password: input({ name: "password", type: "password", autocomplete: "new-password" }),
  };
  const errs = {};
  const msg = h("div", { "aria-live": "polite" });
  const LABELS = {
    name: ["Rule name", "2 to 64 of a-z, 0-9 and . _ -"],
    source: ["Source registry", "http[s]://HOST[:PORT]"],
    repositories: ["Repositories", "a glob over the source's catalog (* also matches /), or one repository"],
    tags: ["Tags", "a glob (default *), or /regular expression/ matching the whole tag"],
    destination: ["Destination namespace", "local names become NAMESPACE/<source name>"],
    interval: ["Interval", "90s, 15m, 6h, 1d (default 1h); 0: only when run by hand"],
    username: ["Source user name", "optional"],
    password: ["Source password", "stored by berthd, never shown again"],
  };
  const wraps = Object.entries(fields).map(([k, el]) => {
    el.id = "rule-" + k;
    errs[k] = h("p", { class: "field-error", id: "rule-" + k + "-error", hidden: true });
    el.setAttribute("aria-describedby", "rule-" + k + "-hint rule-" + k + "-error");
    return h("div", { class: "field" }, h("label", { for: el.id }, LABELS[k][0]), el,
      h("p", { class: "hint", id: "rule-" + k + "-hint" }, LABELS[k][1]), errs[k]);
  });
  const showErrors = (errors) => {
    for (const [k, el] of Object.entries(fields)) {
      const m = errors[k];
      errs[k].textContent = m || "";
      errs[k].hidden = !m;
      if (m) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    }
    const first = Object.keys(fields).find((k) => errors[k]);
    if (first) fields[first].focus();
  };
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Add rule");
  const form = h("form", { id: "rule-form", class: "rule-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    mount(msg);
    const v = Object.fromEntries(Object.entries(fields).map(([k, el]) => [k, k === "password" ? el.value : el.value.trim()]));
    const { errors, body } = checkRule(v);
    showErrors(errors);
    if (Object.keys(errors).length) {
      mount(msg, alertBox("Correct the marked fields."));
      return;
    }
    submit.disabled = true;
    try {
      const rule = await api("POST", "/replication", body);
      form.reset();
      mount(msg, alertBox("Rule " + rule.name + " added.", "success"));
      onAdded(rule);
    } catch (e) {
      const f = fieldOf(e);
      if (f) showErrors({ [f]: e.message });
      mount(msg, alertBox(e.message));
    } finally {
      submit.disabled = false;
    }
  } }, h("div", { class: "form-grid" }, wraps), h("div", {}, submit));
  return [msg, form];
}

// The section; it reloads only itself after a change, so the rest of the page stays.
export async function replicationSection() {
  const section = h("section", { class: "card section", "aria-labelledby": "replication-h", id: "replication" });
  const msg = h("div", { "aria-live": "polite" });
  const listBox = h("div", {});
  const polling = new Set();

  const fail = (e) => mount(msg, alertBox(e.message));
  const load = async () => {
    const doc = await api("GET", "/replication");
    draw(doc.rules);
    for (const r of doc.rules) if (r.status && (r.status.state === "queued" || r.status.state === "running")) follow(r.name);
  };
  const reload = () => load().catch(fail);
  // Follow one rule's run: re-read it every second until it is idle again.
  const follow = async (name) => {
    if (polling.has(name)) return;
    polling.add(name);
    try {
      for (let i = 0; i < POLL_MAX && section.isConnected; i++) {
        await new Promise((res) => setTimeout(res, POLL_MS));
        const rule = await api("GET", "/replication/" + encodeURIComponent(name));
        replaceRow(rule);
        if (rule.status.state === "idle") {
          // Said once the run ends (the live region announces it to screen readers too).
          const st = rule.status;
          mount(msg, alertBox(`Rule ${rule.name} ran: ${st.last_result || "no result"}` + (st.message ? ` (${st.message})` : "") + ".",
            st.last_result === "ok" ? "success" : "error"));
          break;
        }
      }
    } catch (e) {
      if (e.status === 404) reload();
      else fail(e);
    } finally {
      polling.delete(name);
    }
  };
  const actions = (rule) => [
    h("button", { type: "button", class: "btn btn-small run-btn", "aria-label": "Run " + rule.name + " now", onclick: async () => {
      try {
        const r = await api("POST", "/replication/" + encodeURIComponent(rule.name) + "/run");
        replaceRow(r);
        follow(rule.name);
      } catch (e) {
        fail(e);
      }
    } }, "Run now"),
    confirmButton("Delete", "Confirm delete", async () => {
      try {
        await api("DELETE", "/replication/" + encodeURIComponent(rule.name));
        mount(msg, alertBox("Rule " + rule.name + " deleted; the repositories it copied stay.", "success"));
        await load();
      } catch (e) {
        fail(e);
      }
    }),
  ];
  const replaceRow = (rule) => {
    const old = [...listBox.querySelectorAll("tr[data-rule]")].find((tr) => tr.dataset.rule === rule.name);
    if (old) old.replaceWith(ruleRow(rule, actions(rule)));
  };
  const draw = (rules) => mount(listBox, rules.length
    ? table(["Rule", "Source", "Destination", "Schedule", "Last run", "Images", "Message", ""],
      rules.map((r) => ruleRow(r, actions(r))), "replication-table")
    : emptyState("No replication rules", "Add one to copy images from another registry on a schedule."));

  mount(section,
    h("h2", { id: "replication-h" }, "Replication"),
    h("p", { class: "muted" }, "Rules that copy images, with every digest kept, from other registries into this one (the same rules as ",
      h("code", {}, "berthd mirror"), "). Deleting a rule leaves the repositories it copied."),
    msg, listBox,
    h("h3", {}, "New rule"),
    ...ruleForm(() => reload()));
  await load();
  return section;
}
