// The administration page's Garbage collection section (/api/v1/gc): the run in progress
// (its phase and counts so far), the settings berthd collects with, the last runs (trigger,
// when, how long, what was deleted, bytes freed, error), and starting a run or a dry run,
// which the section follows until it ends.
import { api } from "../api.js";
import { alertBox, badge, emptyState, h, humanSize, mount, table, timeAgo } from "../dom.js";

const POLL_MS = 1000;
const POLL_MAX = 600;

function duration(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function seconds(s) {
  if (!s) return "off";
  for (const [n, u] of [[86400, " d"], [3600, " h"], [60, " min"]]) if (s % n === 0) return s / n + u;
  return s + " s";
}

function counts(r) {
  return `${r.manifests_deleted} ${r.manifests_deleted === 1 ? "manifest" : "manifests"}, ${r.blobs_deleted} ${r.blobs_deleted === 1 ? "blob" : "blobs"}, ` +
    `${r.files_removed} ${r.files_removed === 1 ? "file" : "files"}, ${r.uploads_expired} expired ${r.uploads_expired === 1 ? "upload" : "uploads"}`;
}

function runRow(r) {
  return h("tr", { "data-run": r.id },
    h("td", {}, timeAgo(r.started_at)),
    h("td", {}, r.trigger, r.dry_run ? [" ", badge("dry run", "queued")] : null),
    h("td", { class: "num" }, duration(r.finished_at ? r.finished_at - r.started_at : null)),
    h("td", { class: "num gc-freed" }, humanSize(r.bytes_freed)),
    h("td", { class: "small gc-counts" }, counts(r)),
    h("td", { class: "wrap small gc-result" }, r.error ? h("span", { class: "error-text" }, r.error) : r.finished_at ? badge("ok") : badge("running")));
}

export async function gcSection() {
  const section = h("section", { class: "card section", "aria-labelledby": "gc-h", id: "gc" });
  const msg = h("div", { "aria-live": "polite" });
  const now = h("div", { id: "gc-current" });
  const runs = h("div", {});
  const settings = h("p", { class: "muted small", id: "gc-settings" });
  let polling = false;
  const start = h("button", { type: "button", class: "btn btn-primary", id: "gc-start" }, "Collect garbage now");
  const dry = h("button", { type: "button", class: "btn", id: "gc-dry" }, "Dry run");

  const draw = (doc) => {
    const s = doc.settings || {};
    settings.textContent = (s.interval ? `Runs every ${seconds(s.interval)}` : "Runs only when started (here, or with berthd gc)") +
      `; blobs unreferenced for ${s.grace ? seconds(s.grace) : "any time at all"} are deleted` +
      `${s.untagged ? ", untagged manifests too" : ", untagged manifests are kept"}; unfinished uploads expire after ${seconds(s.upload_expiry)}. Retention rules are applied first.`;
    const c = doc.current;
    mount(now, c
      ? alertBox(h("span", {}, h("strong", {}, c.dry_run ? "Dry run " : "Collection "), c.phase === "queued" ? "queued" : "in progress: " + c.phase,
        ` (started by ${c.trigger} `, timeAgo(c.started_at), `): ${humanSize(c.bytes_freed)} freed so far; ${counts(c)}.`), "info")
      : null);
    start.disabled = dry.disabled = !!doc.running;
    mount(runs, doc.runs.length
      ? table(["Started", "Trigger", "Took", "Freed", "Deleted", "Result"], doc.runs.map(runRow), "gc-table")
      : emptyState("No collections yet", "berthd collects on its schedule, or when you start a run here."));
  };
  const load = async () => {
    const doc = await api("GET", "/gc?limit=10");
    draw(doc);
    return doc;
  };
  // Re-read every second while a run is queued or going on.
  const follow = async () => {
    if (polling) return;
    polling = true;
    try {
      for (let i = 0; i < POLL_MAX && section.isConnected; i++) {
        await new Promise((res) => setTimeout(res, POLL_MS));
        const doc = await load();
        if (!doc.running) {
          const last = doc.runs[0];
          if (last) mount(msg, alertBox(`${last.dry_run ? "Dry run" : "Collection"} done: ${humanSize(last.bytes_freed)} ${last.dry_run ? "could be freed" : "freed"}` + (last.error ? ` (error: ${last.error})` : "") + ".", last.error ? "error" : "success"));
          break;
        }
      }
    } catch (e) {
      mount(msg, alertBox(e.message));
    } finally {
      polling = false;
    }
  };
  const run = async (dryRun) => {
    mount(msg);
    try {
      await api("POST", "/gc", dryRun ? { dry_run: true } : undefined);
      start.disabled = dry.disabled = true;
      follow();
    } catch (e) {
      mount(msg, alertBox(e.message));
    }
  };
  start.addEventListener("click", () => run(false));
  dry.addEventListener("click", () => run(true));
  mount(section, h("h2", { id: "gc-h" }, "Garbage collection"),
    h("p", { class: "muted" }, "Deletes the blobs (and, if set, the untagged manifests) that nothing references any more, and expires abandoned uploads. Pushes and pulls go on meanwhile."),
    settings, msg, now, h("div", { class: "button-row" }, start, dry), runs);
  const doc = await load();
  if (doc.running) follow();
  return section;
}
