// Storage quotas (/api/v1/quotas): a namespace's usage against its quota on the namespace
// page (for its user, its organization's members and admins; admins also set or remove the
// quota there), and the administration page's table of every namespace's usage.
import { api } from "../api.js";
import { alertBox, emptyState, h, humanSize, mount, table } from "../dom.js";

const UNITS = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

// "500 MB", "1.5GB", "2 GiB", "10G", "1073741824" -> bytes, as `berthd quota set` reads them:
// kB/MB/GB/TB decimal (as the UI shows sizes), K/M/G/T and KiB/MiB/GiB/TiB binary; null for
// anything else.
export function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt](?:i?b)?|b)?$/i.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]) * UNITS[(m[2] || "b").toLowerCase()];
  return Number.isSafeInteger(Math.round(n)) ? Math.round(n) : null;
}

// bytes as the form's text without rounding: "10 GB" when whole, else the bytes.
function exactSize(n) {
  for (const [u, f] of [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["kB", 1e3]]) if (n >= f && n % f === 0) return n / f + " " + u;
  return String(n);
}

// A bar of used against quota (a <meter>, so assistive technology reads it), with text.
export function usageBar(q, id) {
  if (q.quota === null) return h("p", { class: "quota-text", id }, humanSize(q.used), " used, no quota");
  const pct = q.quota ? Math.min(100, Math.round((q.used / q.quota) * 100)) : 100;
  return h("div", { class: "quota" },
    h("meter", { min: 0, max: q.quota || 1, value: Math.min(q.used, q.quota || 1), low: (q.quota || 1) * 0.8, high: (q.quota || 1) * 0.95, optimum: 0, "aria-label": "Storage used" }),
    h("p", { class: "quota-text", id }, `${humanSize(q.used)} of ${humanSize(q.quota)} used (${pct}%)`,
      q.used >= q.quota ? h("span", { class: "error-text" }, " — full: pushes that add data are refused") : null));
}

// The namespace page's Storage card; null when the caller may not see the usage.
export async function quotaCard(ns, isAdmin) {
  let q;
  try {
    q = await api("GET", "/quotas/" + encodeURIComponent(ns));
  } catch (e) {
    if (e.status === 403 || e.status === 401 || e.status === 404) return null;
    throw e;
  }
  const card = h("section", { class: "card section", "aria-labelledby": "quota-h", id: "quota" });
  const msg = h("div", { "aria-live": "polite" });
  const draw = () => {
    let form = null;
    if (isAdmin) {
      const size = h("input", { name: "quota", id: "quota-size", autocomplete: "off", placeholder: "e.g. 10 GB", value: q.quota === null ? "" : exactSize(q.quota), "aria-describedby": "quota-size-hint quota-size-error" });
      const err = h("p", { class: "field-error", id: "quota-size-error", hidden: true });
      const put = async (bytes) => {
        try {
          q = await api("PUT", "/quotas/" + encodeURIComponent(ns), { quota: bytes });
          draw();
          mount(msg, alertBox(bytes === null ? "Quota removed." : "Quota set to " + humanSize(q.quota) + ".", "success"));
        } catch (e) {
          mount(msg, alertBox(e.message));
        }
      };
      form = h("form", { id: "quota-form", class: "stack", novalidate: true, onsubmit: (ev) => {
        ev.preventDefault();
        const bytes = parseSize(size.value);
        err.hidden = bytes !== null;
        err.textContent = bytes === null ? "a size such as 500 MB, 10 GB, 2 GiB or 10G (or bytes)" : "";
        if (bytes === null) {
          size.setAttribute("aria-invalid", "true");
          size.focus();
          return;
        }
        size.removeAttribute("aria-invalid");
        put(bytes);
      } },
      h("div", { class: "field" }, h("label", { for: size.id }, "Quota"), size,
        h("p", { class: "hint", id: "quota-size-hint" }, "kB, MB, GB, TB (or KiB, MiB, GiB, TiB); 0 refuses every push that adds data"), err),
      h("div", { class: "button-row" }, h("button", { type: "submit", class: "btn btn-primary" }, "Set quota"),
        q.quota === null ? null : h("button", { type: "button", class: "btn", id: "quota-remove", onclick: () => put(null) }, "Remove quota")));
    }
    mount(card, h("h2", { id: "quota-h" }, "Storage"), msg, usageBar(q, "quota-usage"),
      h("p", { class: "muted small" }, "The distinct layers and configs this namespace's repositories reference."), form);
  };
  draw();
  return card;
}

// The administration page's table: every namespace with usage or a quota.
export async function quotasSection() {
  const doc = await api("GET", "/quotas");
  const rows = doc.quotas.map((q) => h("tr", { "data-namespace": q.namespace },
    h("td", {}, h("a", { href: "/u/" + encodeURIComponent(q.namespace) }, q.namespace)),
    h("td", { class: "num" }, humanSize(q.used)),
    h("td", { class: "num" }, q.quota === null ? h("span", { class: "muted" }, "none") : humanSize(q.quota)),
    h("td", { class: "quota-cell" }, q.quota === null ? null : usageBar(q))));
  return h("section", { class: "card section", "aria-labelledby": "quotas-h", id: "quotas" },
    h("h2", { id: "quotas-h" }, "Storage by namespace"),
    h("p", { class: "muted" }, "Set or remove a namespace's quota on its page."),
    rows.length ? table(["Namespace", "Used", "Quota", "Usage"], rows, "quotas-table") : emptyState("Nothing stored yet", ""));
}
