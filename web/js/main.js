// The web UI's entry point: the session, the top bar, and routing of page paths (berthd
// answers every page path with this same index.html) to the page modules in pages/.
import { ApiError, loadSession, session, signOut } from "./api.js";
import { alertBox, emptyState, h, mount, setTitle, spinner } from "./dom.js";
import { explorePage } from "./pages/explore.js";
import { namespacePage } from "./pages/namespace.js";
import { repoPage } from "./pages/repo.js";
import { manifestPage } from "./pages/manifest.js";
import { settingsPage } from "./pages/settings.js";
import { signinPage } from "./pages/signin.js";
import { accountPage } from "./pages/account.js";
import { adminPage } from "./pages/admin.js";

const main = () => document.getElementById("main");

// Page paths: /, /signin, /account, /admin, /u/NS, /r/NAME, /r/NAME/-/tags/REF,
// /r/NAME/-/settings. "-" cannot be a path component of a repository name.
function route(path) {
  const seg = path.split("/").slice(1).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch (e) {
      return s;
    }
  });
  if (path === "/" || path === "") return [explorePage];
  if (seg.length === 1 && seg[0] === "signin") return [signinPage];
  if (seg.length === 1 && seg[0] === "account") return [accountPage];
  if (seg.length === 1 && seg[0] === "admin") return [adminPage];
  if (seg[0] === "u" && seg.length === 2 && seg[1]) return [namespacePage, seg[1]];
  if (seg[0] === "r" && seg.length >= 2) {
    const dash = seg.indexOf("-");
    if (dash < 0) return [repoPage, seg.slice(1).join("/")];
    const name = seg.slice(1, dash).join("/");
    const rest = seg.slice(dash + 1);
    if (rest.length === 2 && rest[0] === "tags" && rest[1]) return [manifestPage, name, rest[1]];
    if (rest.length === 1 && rest[0] === "settings") return [settingsPage, name];
  }
  return [notFoundPage];
}

export function notFoundPage(root) {
  setTitle("Not found");
  mount(root, emptyState("Page not found", "There is nothing at this address.", h("a", { class: "btn btn-primary", href: "/" }, "Explore repositories")));
}

// An error page for an API failure while loading a page.
export function errorPage(root, err) {
  if (err instanceof ApiError && (err.status === 404)) {
    setTitle("Not found");
    mount(root, emptyState("Not found", err.message + (session.user ? "" : " — it may be private: sign in to see it."),
      session.user ? h("a", { class: "btn", href: "/" }, "Explore") : h("a", { class: "btn btn-primary", href: "/signin?next=" + encodeURIComponent(location.pathname) }, "Sign in")));
    return;
  }
  setTitle("Error");
  mount(root, h("div", { class: "page" }, h("h1", {}, "Something went wrong"), alertBox(err.message || String(err))));
}

export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

let renderId = 0;
export async function render() {
  const id = ++renderId;
  const root = main();
  renderNav();
  const [page, ...args] = route(location.pathname);
  mount(root, spinner());
  const q = document.querySelector("#top-search input");
  if (q && page !== explorePage) q.value = "";
  try {
    const ctx = { params: new URLSearchParams(location.search), navigate, rerender: render, isCurrent: () => id === renderId };
    await page(root, ...args, ctx);
  } catch (err) {
    if (id === renderId) errorPage(root, err);
  }
  // After moving to another page, focus goes to its content (screen readers read it from
  // there); on the first load it stays at the document's start, on the skip link's way.
  if (id === renderId && id > 1 && !root.contains(document.activeElement)) root.focus({ preventScroll: true });
}

function renderNav() {
  const nav = document.getElementById("nav-user");
  const here = location.pathname;
  const link = (href, text) => h("a", { href, class: "nav-link", "aria-current": here === href ? "page" : false }, text);
  if (session.user) {
    mount(nav,
      link("/", "Explore"),
      link("/u/" + encodeURIComponent(session.user.name), "My repositories"),
      session.user.admin ? link("/admin", "Admin") : null,
      link("/account", session.user.name),
      h("button", {
        type: "button", class: "btn btn-small", id: "signout", onclick: async () => {
          try {
            await signOut();
          } catch (e) {
            /* the session is gone either way */
          }
          navigate("/");
        },
      }, "Sign out"));
  } else {
    mount(nav, link("/", "Explore"), session.accountsDisabled ? null : h("a", { class: "btn btn-primary btn-small", href: "/signin?next=" + encodeURIComponent(here === "/signin" ? "/" : here + location.search) }, "Sign in"));
  }
}

// Same-origin links are handled here, without reloading the page.
document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest("a[href]");
  // Links in a rendered overview were written by users: the browser follows them itself.
  if (!a || a.target || a.hasAttribute("download") || a.closest(".markdown")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/v2/")) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", render);

document.getElementById("top-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = ev.target.elements.q.value.trim();
  navigate(q ? "/?q=" + encodeURIComponent(q) : "/");
});

// "/" focuses the search box, as on GitHub and Docker Hub.
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable) return;
  ev.preventDefault();
  document.querySelector("#top-search input").focus();
});

async function boot() {
  try {
    await loadSession();
  } catch (e) {
    /* shown by the page itself when the API is down */
  }
  render();
}
boot();
