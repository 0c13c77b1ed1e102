// DOM building and formatting helpers. Everything a user or a client wrote (names,
// descriptions, labels, annotations, tags) goes into the page as text nodes or attribute
// values through h(); nothing here assigns HTML.

// h("a", {href: "/x", class: "btn", onclick: fn}, "text", child...): an element.
// Attributes: class, text (textContent), on<event> (listeners), dataset-like data-*, and
// any other attribute set with setAttribute. false/null/undefined attributes and children
// are skipped; strings and numbers become text nodes; arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Replace the children of el.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];
// 1234567 -> "1.2 MB" (decimal units, as registries and Docker Hub show them).
export function humanSize(n) {
  if (n === null || n === undefined) return "—";
  let i = 0;
  let v = Number(n);
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return (i === 0 ? String(v) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) + " " + UNITS[i];
}

export function humanCount(n) {
  n = Number(n || 0);
  if (n < 1000) return String(n);
  if (n < 1e6) return (n / 1e3).toFixed(n < 1e4 ? 1 : 0).replace(/\.0$/, "") + "K";
  return (n / 1e6).toFixed(n < 1e7 ? 1 : 0).replace(/\.0$/, "") + "M";
}

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const STEPS = [
  [60, "second"],
  [3600, "minute", 60],
  [86400, "hour", 3600],
  [86400 * 30, "day", 86400],
  [86400 * 365, "month", 86400 * 30],
  [Infinity, "year", 86400 * 365],
];

export function relativeText(unix) {
  const diff = unix - Date.now() / 1000;
  const abs = Math.abs(diff);
  for (const [limit, unit, div] of STEPS) {
    if (abs < limit) return rtf.format(Math.round(diff / (div || 1)), unit);
  }
  return "";
}

// A <time> showing "3 hours ago" with the exact time on hover; "never" for null.
export function timeAgo(unix, never = "never") {
  if (!unix) return h("span", { class: "muted" }, never);
  const d = new Date(unix * 1000);
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, relativeText(unix));
}

// An RFC 3339 string (from an image config) as timeAgo.
export function timeAgoIso(s) {
  const t = Date.parse(s);
  return isNaN(t) ? h("span", { class: "muted" }, s || "unknown") : timeAgo(Math.floor(t / 1000));
}

export function shortDigest(d) {
  if (!d) return "";
  const i = d.indexOf(":");
  return d.slice(i + 1, i + 13);
}

export function badge(text, kind) {
  return h("span", { class: "badge badge-" + (kind || text) }, text);
}

// For a repository of the pull-through cache (repo.mirror non-null): a "Mirror" badge whose
// hover text names the upstream.
export function mirrorBadge(mirror) {
  if (!mirror) return null;
  return h("span", { class: "badge badge-mirror", title: "Pull-through cache of " + mirror.upstream }, "Mirror");
}

// "Mirror of UPSTREAM · checked 3 minutes ago" (exact time on hover), for cards and pages.
export function mirrorLine(mirror, cls = "mirror-line") {
  if (!mirror) return null;
  return h("p", { class: cls }, "Mirror of ", h("span", { class: "mono upstream" }, mirror.upstream), " · checked ", timeAgo(mirror.last_checked));
}

export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), "Berth"].join(" · ");
}

// Copy text to the clipboard; the button says it worked (and announces it).
export function copyButton(getText, label = "Copy") {
  const btn = h("button", { type: "button", class: "btn btn-small copy-btn", "aria-label": label });
  btn.textContent = "Copy";
  btn.addEventListener("click", async () => {
    const text = typeof getText === "function" ? getText() : getText;
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = "Copied!";
    } catch (e) {
      btn.textContent = "Copy failed";
    }
    setTimeout(() => (btn.textContent = "Copy"), 2000);
  });
  return btn;
}

export function emptyState(title, text, ...extra) {
  return h("div", { class: "empty" }, h("div", { class: "empty-icon", "aria-hidden": "true" }, icon("box")),
    h("h3", {}, title), text ? h("p", {}, text) : null, ...extra);
}

export function spinner() {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spin", "aria-hidden": "true" }), "Loading…");
}

// An error region: role=alert so screen readers announce it.
export function alertBox(message, kind = "error") {
  return h("div", { class: "alert alert-" + kind, role: kind === "error" ? "alert" : "status" }, message);
}

// A table inside a scrolling wrapper, for narrow screens.
export function table(headers, rows, cls = "") {
  return h("div", { class: "table-wrap" },
    h("table", { class: "table " + cls },
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows)));
}

// Previous / next links for page (1-based) of total items, per page; href(page) builds links.
export function pager(page, perPage, total, href) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (pages <= 1) return null;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { class: "btn", href: href(page - 1), rel: "prev" }, "← Previous") : h("span", { class: "btn disabled", "aria-disabled": "true" }, "← Previous"),
    h("span", { class: "pager-info" }, `Page ${page} of ${pages}`),
    page < pages ? h("a", { class: "btn", href: href(page + 1), rel: "next" }, "Next →") : h("span", { class: "btn disabled", "aria-disabled": "true" }, "Next →"));
}

// A button that asks for a second click before acting (no blocking dialogs).
export function confirmButton(label, confirmLabel, action, cls = "btn btn-danger btn-small") {
  const btn = h("button", { type: "button", class: cls }, label);
  let armed = false;
  let timer;
  btn.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      btn.textContent = confirmLabel;
      btn.classList.add("armed");
      timer = setTimeout(() => {
        armed = false;
        btn.textContent = label;
        btn.classList.remove("armed");
      }, 5000);
      return;
    }
    clearTimeout(timer);
    btn.disabled = true;
    try {
      await action();
    } finally {
      btn.disabled = false;
      armed = false;
      btn.textContent = label;
      btn.classList.remove("armed");
    }
  });
  return btn;
}

export function field(label, input, hint) {
  const id = input.id || "f-" + Math.random().toString(36).slice(2, 9);
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint" }, hint) : null);
}

// Paths of repositories contain slashes; each segment is encoded on its own.
export function repoPath(name) {
  return "/r/" + name.split("/").map(encodeURIComponent).join("/");
}

export function apiRepoPath(name) {
  return "/repositories/" + name.split("/").map(encodeURIComponent).join("/");
}

// Small line icons (drawn here: no icon font, nothing fetched).
const ICONS = {
  pull: "M12 3v12m0 0-5-5m5 5 5-5M5 21h14",
  tag: "M3 12V4a1 1 0 0 1 1-1h8l9 9-9 9-9-9Zm5-4.5a1.5 1.5 0 1 0 0 .01",
  clock: "M12 7v5l3 2M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z",
  box: "M21 8 12 3 3 8v8l9 5 9-5V8Zm-18 0 9 5 9-5M12 13v8",
};
export function icon(name) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}
