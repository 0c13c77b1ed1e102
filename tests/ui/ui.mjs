// The web UI in headless Chromium (playwright-core driving Debian's /usr/bin/chromium),
// against the berthd that test_ui.sh started and filled. Prints TAP, numbering from
// UI_TAP_START + 1; saves a screenshot of every page under UI_SHOTS.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";

const BASE = process.env.UI_BASE;
const SHOTS = process.env.UI_SHOTS;
const HOST = new URL(BASE).host;
const PW = { admin: process.env.UI_ADMIN_PW, alice: process.env.UI_ALICE_PW };
let n = Number(process.env.UI_TAP_START || 0);
let failed = 0;
mkdirSync(SHOTS, { recursive: true });

function diag(text) {
  for (const line of String(text).split("\n")) console.log("# " + line);
}

async function test(name, fn) {
  n++;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    diag(e && e.stack ? e.stack : e);
  }
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

function eq(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

// Plain HTTP to berthd (not through the browser).
async function http(method, path, headers = {}, body) {
  const res = await fetch(BASE + path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}
// The name of alice's most recently pushed repository, as the API orders them.
async function newestRepo() {
  const r = await http("GET", "/api/v1/repositories?namespace=alice&sort=updated&per_page=1", { Authorization: basic("alice", PW.alice) });
  return r.json().repositories[0].name;
}
const basic = (u, p) => "Basic " + Buffer.from(u + ":" + p).toString("base64");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
  headless: true,
});

// Every page of every context reports dialogs, uncaught errors and CSP violations here.
const problems = [];
async function newContext(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light", ...opts });
  ctx.on("page", watch);
  return ctx;
}
function watch(page) {
  page.on("dialog", async (d) => {
    problems.push(`dialog (${d.type()}): ${d.message()}`);
    await d.dismiss();
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[134]/.test(m.text())) problems.push("console error: " + m.text());
  });
}
async function open(ctx, path) {
  const page = await ctx.newPage();
  await page.goto(BASE + path);
  await page.waitForSelector("main :is(.page, .empty)");
  return page;
}

const anon = await newContext();
const alice = await newContext({ permissions: ["clipboard-read", "clipboard-write"] });
let page;

await test("berthd serves the UI with a strict CSP and security headers; page paths get index.html, missing assets 404", async () => {
  const r = await http("GET", "/r/alice/app");
  eq(r.status, 200, "status of /r/alice/app");
  check(r.text.includes('<script type="module" src="/js/main.js">'), "index.html not served for a page path");
  const csp = r.headers.get("content-security-policy") || "";
  check(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp) && /frame-ancestors 'none'/.test(csp), "CSP: " + csp);
  eq(r.headers.get("x-content-type-options"), "nosniff", "X-Content-Type-Options");
  eq(r.headers.get("referrer-policy"), "same-origin", "Referrer-Policy");
  const js = await http("GET", "/js/main.js");
  eq(js.headers.get("content-type"), "text/javascript; charset=utf-8", "Content-Type of main.js");
  const etag = js.headers.get("etag");
  check(etag && etag.startsWith('"'), "no ETag");
  eq((await http("GET", "/js/main.js", { "If-None-Match": etag })).status, 304, "revalidation with If-None-Match");
  eq((await http("GET", "/js/nope.js")).status, 404, "missing asset");
  eq((await http("POST", "/")).status, 405, "POST /");
  eq((await http("GET", "/api/v2/x")).status, 404, "unknown /api/ path");
});

await test("anonymous Explore lists the public repositories and not the private one", async () => {
  page = await open(anon, "/");
  await page.waitForSelector(".repo-card");
  const names = await page.$$eval(".repo-card .repo-name", (els) => els.map((e) => e.textContent));
  for (const want of ["alice/app", "alice/tool", "alice/evil"]) check(names.includes(want), want + " missing from " + names);
  check(!names.includes("alice/secret"), "private alice/secret is listed");
  check(await page.isVisible("text=Sign in"), "no Sign in link");
  await shot(page, "explore-anonymous");
});

await test("sign in with the keyboard (Tab, typing, Enter)", async () => {
  page = await open(alice, "/signin");
  await shot(page, "signin");
  await page.focus("input[name=username]");
  await page.keyboard.type("alice");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PW.alice);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#signout");
  check(await page.isVisible("#nav-user >> text=alice"), "user name not in the top bar");
});

await test("a wrong password shows an error and keeps the user signed out", async () => {
  const p = await open(anon, "/signin");
  await p.fill("input[name=username]", "alice");
  await p.fill("input[name=password]", "wrong-password");
  await p.click("button[type=submit]");
  await p.waitForSelector(".alert-error");
  check((await p.textContent(".alert-error")).includes("Wrong user name or password"), "error text");
  check(!(await p.isVisible("#signout")), "signed in anyway");
  await shot(p, "signin-error");
  await p.close();
});

await test("signed in, Explore also lists alice's private repository", async () => {
  await page.goto(BASE + "/");
  await page.waitForSelector(".repo-card");
  const names = await page.$$eval(".repo-card .repo-name", (els) => els.map((e) => e.textContent));
  check(names.includes("alice/secret"), "alice/secret missing: " + names);
  await shot(page, "explore-signed-in");
});

await test("search by description from the top bar ('/' focuses it)", async () => {
  await page.keyboard.press("/");
  eq(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Search repositories", "focused element");
  await page.keyboard.type("demo app");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\?q=demo/);
  await page.waitForSelector("#result-count");
  const names = await page.$$eval(".repo-card .repo-name", (els) => els.map((e) => e.textContent));
  eq(JSON.stringify(names), JSON.stringify(["alice/app"]), "search results");
  await shot(page, "search");
  await page.goto(BASE + "/?q=no-such-thing-anywhere");
  await page.waitForSelector(".empty");
  check((await page.textContent(".empty")).includes("No repositories match"), "empty state");
  await shot(page, "search-empty");
});

await test("Explore sorts by name and pages are linked", async () => {
  await page.goto(BASE + "/?sort=name");
  await page.waitForSelector(".repo-card");
  const names = await page.$$eval(".repo-card .repo-name", (els) => els.map((e) => e.textContent));
  eq(JSON.stringify(names), JSON.stringify([...names].sort()), "order");
  eq(await page.inputValue("#explore-sort"), "name", "sort select");
});

await test("Explore pages through 34 repositories, 24 at a time", async () => {
  await page.goto(BASE + "/");
  await page.waitForSelector(".repo-card");
  eq(await page.locator(".repo-card").count(), 24, "cards on page 1");
  eq(await page.textContent(".pager-info"), "Page 1 of 2", "pager");
  check((await page.textContent("#result-count")).startsWith("34 repositories"), "count: " + (await page.textContent("#result-count")));
  await page.click(".pager a[rel=next]");
  await page.waitForURL(/page=2/);
  await page.waitForSelector(".pager-info >> text=Page 2 of 2");
  eq(await page.locator(".repo-card").count(), 10, "cards on page 2");
  eq(await page.textContent(".repo-card:last-child .repo-name"), "alice/zz-bulk-29", "last repository");
  await page.goBack();
  await page.waitForSelector(".pager-info >> text=Page 1 of 2");
  await page.goto(BASE + "/?sort=updated");
  await page.waitForSelector(".repo-card");
  eq(await page.inputValue("#explore-sort"), "updated", "sort select");
  eq(await page.textContent(".repo-card:first-child .repo-name"), await newestRepo(), "most recently pushed first");
});

await test("repository page: badge, descriptions, Markdown overview, tags with platforms, sizes and pull times", async () => {
  await page.goto(BASE + "/r/alice/app");
  await page.waitForSelector(".tags-table");
  check((await page.textContent(".repo-title")).includes("public"), "visibility badge");
  eq(await page.textContent("#repo-description"), "A small demo app for the web UI", "short description");
  check(await page.isVisible("#readme table"), "Markdown table not rendered");
  check(await page.isVisible("#readme del"), "strikethrough not rendered");
  eq(await page.locator("#readme input[type=checkbox]").count(), 2, "task list checkboxes");
  const rows = await page.$$eval(".tags-table tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  eq(rows.length, 2, "tag rows");
  const latest = rows.find((r) => r[0] === "latest");
  check(latest, "no latest row: " + JSON.stringify(rows));
  check(latest[2].includes("linux/amd64") && latest[2].includes("linux/arm64"), "platforms: " + latest[2]);
  check(/\d+(\.\d+)? (B|KB|MB)/.test(latest[3]), "size: " + latest[3]);
  check(latest[4].includes("ago") || latest[4].includes("now"), "pushed: " + latest[4]);
  const one = rows.find((r) => r[0] === "1.0");
  check(one[2].includes("linux/amd64"), "platform of 1.0: " + one[2]);
  const title = await page.getAttribute(".tags-table tbody tr time", "title");
  check(title && /\d/.test(title), "exact time on hover: " + title);
  await shot(page, "repository");
});

await test("the pull and run commands are copied to the clipboard, for docker, podman and berth", async () => {
  const copy = async (kind, want) => {
    await page.click(`.pull-box .pull-cmd[data-kind=${kind}] .copy-btn`);
    await page.waitForSelector(`.pull-box .pull-cmd[data-kind=${kind}] .copy-btn >> text=Copied!`);
    eq(await page.evaluate(() => navigator.clipboard.readText()), want, "clipboard");
  };
  await copy("pull", `docker pull ${HOST}/alice/app:latest`);
  await copy("run", `docker run --rm -it ${HOST}/alice/app:latest`);
  await page.click(".pull-box [data-client=podman]");
  await copy("pull", `podman pull ${HOST}/alice/app:latest`);
  await page.click(".pull-box [data-client=berth]");
  eq(await page.textContent("#pull-run-cmd"), `berth run --rm -it ${HOST}/alice/app:latest`, "berth run command");
  await copy("run", `berth run --rm -it ${HOST}/alice/app:latest`);
  await copy("pull", `berth pull ${HOST}/alice/app:latest`);
  await shot(page, "repository-berth-commands");
  await page.click(".pull-box [data-client=docker]");
});

await test("the last pulled time appears once berthd wrote it", async () => {
  let text = "";
  for (let i = 0; i < 20; i++) {
    await page.goto(BASE + "/r/alice/app");
    await page.waitForSelector(".tags-table");
    text = await page.$$eval(".tags-table tbody tr", (trs) => trs.find((tr) => tr.cells[0].textContent === "latest").cells[5].textContent);
    if (text !== "never") break;
    await page.waitForTimeout(500);
  }
  check(text !== "never" && /ago|now/.test(text), "last pulled: " + text);
});

await test("index page lists each platform; an image page shows layers with commands, config and total size", async () => {
  await page.click(".tags-table a.tag-link >> text=latest");
  await page.waitForSelector(".platforms-table");
  const plats = await page.$$eval(".platforms-table tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent));
  eq(JSON.stringify(plats), JSON.stringify(["linux/amd64", "linux/arm64"]), "platforms");
  check((await page.textContent("#raw-manifest")).includes("application/vnd.oci.image.index.v1+json"), "raw manifest");
  await shot(page, "tag-index");
  await page.click(".platforms-table tbody tr:first-child a");
  await page.waitForSelector(".layers-table");
  const layers = await page.$$eval(".layers-table tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  eq(layers.length, 3, "layers");
  check(layers[0][1].includes("mkimage.sh layer 1: busybox"), "command of layer 1: " + layers[0][1]);
  check(/ (B|KB|MB)$/.test(layers[0][3]), "layer size: " + layers[0][3]);
  check(/(KB|MB)/.test(await page.textContent("#total-size")), "total size");
  eq(await page.textContent("#manifest-platform"), "linux/amd64", "platform next to the title");
  const config = await page.textContent(".kv-wide");
  check(config.includes('["/bin/sh"]') && config.includes("linux/amd64"), "config: " + config);
  await page.click("details.raw summary");
  check((await page.textContent("#raw-manifest")).includes('"layers"'), "raw image manifest");
  await shot(page, "tag-image");
});

await test("a tag page shows Cmd from the image config (alice/tool:v1)", async () => {
  await page.goto(BASE + "/r/alice/tool/-/tags/v1");
  await page.waitForSelector(".layers-table");
  check((await page.textContent(".kv-wide")).includes("hello-from-berth"), "Cmd not shown");
  eq(await page.locator(".layers-table tbody tr").count(), 2, "layers");
});

let tokenSecret = "";
await test("create a personal access token: shown once, and it works", async () => {
  await page.goto(BASE + "/account");
  await page.waitForSelector("#token-form");
  await page.fill("#token-form input[name=name]", "ui-token");
  await page.selectOption("#token-form select[name=scope]", "read");
  await page.click("#token-form button[type=submit]");
  await page.waitForSelector("#new-token");
  tokenSecret = await page.textContent("#new-token");
  check(tokenSecret.startsWith("berth_pat_"), "token: " + tokenSecret);
  await shot(page, "account-token-created");
  eq((await http("GET", "/api/v1/user", { Authorization: "Bearer " + tokenSecret })).status, 200, "token use");
  await page.reload();
  await page.waitForSelector(".tokens-table");
  check(!(await page.content()).includes(tokenSecret), "the secret is shown again after a reload");
});

await test("revoke the token (two clicks); it stops working", async () => {
  const row = page.locator(".tokens-table tbody tr", { hasText: "ui-token" });
  await row.locator("button", { hasText: "Revoke" }).click();
  await row.locator("button", { hasText: "Confirm revoke" }).click();
  await page.waitForSelector(".tokens-table tbody tr.revoked");
  check((await row.textContent()).includes("revoked"), "row not marked revoked");
  eq((await http("GET", "/api/v1/user", { Authorization: "Bearer " + tokenSecret })).status, 401, "revoked token use");
  await shot(page, "account");
});

await test("password change: wrong current password is refused, then it changes", async () => {
  await page.fill("#password-form input[name=current]", "not-my-password");
  await page.fill("#password-form input[name=new]", "alice-password-2");
  await page.fill("#password-form input[name=confirm]", "alice-password-2");
  await page.click("#password-form button[type=submit]");
  await page.waitForSelector("#password-form >> xpath=.. >> .alert-error");
  await page.fill("#password-form input[name=current]", PW.alice);
  await page.fill("#password-form input[name=new]", "alice-password-2");
  await page.fill("#password-form input[name=confirm]", "alice-password-2");
  await page.click("#password-form button[type=submit]");
  await page.waitForSelector(".alert-success >> text=Password changed");
  eq((await http("GET", "/api/v1/user", { Authorization: basic("alice", "alice-password-2") })).status, 200, "new password");
  PW.alice = "alice-password-2";
});

await test("make alice/tool private in its settings; an anonymous browser can no longer see it", async () => {
  await page.goto(BASE + "/r/alice/tool");
  await page.waitForSelector("#settings-link");
  await page.click("#settings-link");
  await page.waitForSelector("#visibility-form");
  await shot(page, "settings");
  await page.check("#visibility-form input[value=private]");
  await page.click("#visibility-form button[type=submit]");
  await page.waitForSelector(".alert-success >> text=now private");
  const a = await open(anon, "/");
  await a.waitForSelector(".repo-card");
  const names = await a.$$eval(".repo-card .repo-name", (els) => els.map((e) => e.textContent));
  check(!names.includes("alice/tool"), "alice/tool still listed: " + names);
  await a.goto(BASE + "/r/alice/tool");
  await a.waitForSelector(".empty");
  check((await a.textContent(".empty")).includes("Not found"), "not-found page");
  await shot(a, "repository-private-anonymous");
  await a.close();
  eq((await http("GET", "/v2/alice/tool/manifests/v1")).status, 401, "anonymous /v2/ pull of the private repository");
});

// A webhook receiver: records every request; /fail answers 500, anything else 204.
const received = [];
const receiver = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(req.url === "/fail" ? 500 : 204);
    res.end();
  });
});
await new Promise((res) => receiver.listen(0, "127.0.0.1", res));
const HOOK = `http://127.0.0.1:${receiver.address().port}`;
let hookSecret = "";

await test("repository settings: add webhooks (bad fields refused at the field); the secret is shown once", async () => {
  await page.goto(BASE + "/r/alice/app/-/settings");
  await page.waitForSelector("#webhooks .empty");
  await page.fill("#webhook-url", "ftp://example.org/x");
  await page.fill("#webhook-secret", "too-short");
  for (const b of await page.$$("#webhook-form input[name=events]")) await b.uncheck();
  await page.click("#webhook-form button[type=submit]");
  await page.waitForSelector("#webhook-url-error:not([hidden])");
  check(await page.isVisible("#webhook-secret-error"), "no error at the secret");
  check(await page.isVisible("#webhook-events-error"), "no error at the events");
  eq(await page.getAttribute("#webhook-url", "aria-invalid"), "true", "url aria-invalid");
  await page.locator("#webhooks").screenshot({ path: `${SHOTS}/settings-webhooks-errors.png` });
  eq((await http("GET", "/api/v1/webhooks?repository=alice/app", { Authorization: basic("alice", PW.alice) })).json().webhooks.length, 0, "webhooks after the bad form");
  await page.fill("#webhook-url", HOOK + "/hook");
  await page.fill("#webhook-secret", "");
  for (const b of await page.$$("#webhook-form input[name=events]")) await b.check();
  await page.click("#webhook-form button[type=submit]");
  await page.waitForSelector("#webhook-secret-new");
  hookSecret = await page.textContent("#webhook-secret-new");
  check(hookSecret.startsWith("whsec_"), "secret: " + hookSecret);
  check(!(await page.isVisible("#webhook-url-error")), "error left at the url");
  await page.waitForSelector(".webhooks-table tbody tr[data-webhook]");
  await page.fill("#webhook-url", HOOK + "/fail");
  await page.fill("#webhook-secret", "sixteen-chars-ok!");
  await page.uncheck("#webhook-form input[value=delete]");
  await page.click("#webhook-form button[type=submit]");
  await page.waitForSelector(`.webhooks-table tr[data-webhook] >> text=${HOOK}/fail`);
  const rows = await page.$$eval(".webhooks-table tbody tr[data-webhook]", (trs) => trs.map((tr) => tr.cells[0].textContent + " " + tr.cells[1].textContent));
  eq(JSON.stringify(rows.sort()), JSON.stringify([`${HOOK}/fail push`, `${HOOK}/hook pushdelete`]), "webhook rows");
  await page.reload();
  await page.waitForSelector(".webhooks-table");
  check(!(await page.content()).includes(hookSecret), "the secret is shown again after a reload");
});

await test("delete a tag in the settings (two clicks); it is gone", async () => {
  await page.goto(BASE + "/r/alice/app/-/settings");
  await page.waitForSelector(".settings-tags");
  const row = page.locator(".settings-tags tbody tr", { hasText: "1.0" });
  await row.locator("button", { hasText: "Delete" }).click();
  await row.locator("button", { hasText: "Confirm delete" }).click();
  // (polled from here: waitForFunction evaluates strings, which the page's CSP forbids)
  let names = [];
  for (let i = 0; i < 50; i++) {
    names = await page.$$eval(".settings-tags tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent));
    if (names.length && !names.includes("1.0")) break;
    await page.waitForTimeout(100);
  }
  eq(JSON.stringify(names), JSON.stringify(["latest"]), "tags in the settings table");
  const tags = (await http("GET", "/api/v1/repositories/alice/app/tags", { Authorization: basic("alice", PW.alice) })).json();
  eq(JSON.stringify(tags.tags.map((t) => t.name)), JSON.stringify(["latest"]), "tags left");
});

await test("a push and a delete reach the webhook, signed with its secret; the history shows them, and the failing one's status", async () => {
  const auth = { Authorization: basic("alice", PW.alice) };
  const raw = await http("GET", "/v2/alice/app/manifests/latest", { ...auth, Accept: "application/vnd.oci.image.index.v1+json" });
  eq((await http("PUT", "/v2/alice/app/manifests/hooked", { ...auth, "Content-Type": raw.headers.get("content-type") }, raw.text)).status, 201, "push of alice/app:hooked");
  const events = () => received.filter((r) => r.path === "/hook").map((r) => JSON.parse(r.body));
  for (let i = 0; i < 100 && !(events().some((e) => e.event === "push" && e.tag === "hooked") && events().some((e) => e.event === "delete" && e.tag === "1.0")); i++) await page.waitForTimeout(200);
  check(events().some((e) => e.event === "push" && e.tag === "hooked" && e.pusher === "alice"), "push event: " + JSON.stringify(events()));
  check(events().some((e) => e.event === "delete" && e.tag === "1.0"), "delete event: " + JSON.stringify(events()));
  for (const r of received.filter((x) => x.path === "/hook"))
    eq(r.headers["x-berth-signature-256"], "sha256=" + createHmac("sha256", hookSecret).update(r.body).digest("hex"), "signature with the secret shown once");
  await page.goto(BASE + "/r/alice/app/-/settings");
  await page.waitForSelector(".webhooks-table");
  const ok = page.locator(".webhooks-table tr[data-webhook]", { hasText: HOOK + "/hook" });
  await ok.locator(".history-btn").click();
  const okId = await ok.getAttribute("data-webhook");
  let states = [];
  for (let i = 0; i < 50; i++) {
    states = await page.$$eval(`#deliveries-${okId} tbody tr`, (trs) => trs.map((tr) => tr.cells[1].textContent + ":" + tr.cells[2].textContent));
    if (states.includes("push:delivered") && states.includes("delete:delivered")) break;
    await page.waitForTimeout(200);
    await page.click(`#deliveries-${okId} .refresh-btn`);
  }
  check(states.includes("push:delivered") && states.includes("delete:delivered"), "deliveries: " + states);
  eq(await ok.locator(".history-btn").getAttribute("aria-expanded"), "true", "aria-expanded");
  const bad = page.locator(".webhooks-table tr[data-webhook]", { hasText: HOOK + "/fail" });
  const badId = await bad.getAttribute("data-webhook");
  await bad.locator(".history-btn").click();
  let cells = [];
  for (let i = 0; i < 50; i++) {
    cells = await page.$$eval(`#deliveries-${badId} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    if (cells.length && cells[0][4] === "500") break;
    await page.waitForTimeout(200);
    await page.click(`#deliveries-${badId} .refresh-btn`);
  }
  check(cells.length === 1 && cells[0][1] === "push" && cells[0][2] === "pending" && Number(cells[0][3]) >= 1 && cells[0][4] === "500", "failing deliveries: " + JSON.stringify(cells));
  check(cells[0][5].includes("next attempt"), "next attempt: " + cells[0][5]);
  await page.click(`#deliveries-${okId} details.payload summary`);
  check((await page.textContent(`#deliveries-${okId} details.payload pre`)).includes('"repository": "alice/app"'), "payload");
  await page.locator("#webhooks").screenshot({ path: `${SHOTS}/settings-webhooks.png` });
});

await test("delete a webhook (two clicks); the namespace page lists namespace webhooks for alice only", async () => {
  const bad = page.locator(".webhooks-table tr[data-webhook]", { hasText: HOOK + "/fail" });
  await bad.locator("button", { hasText: "Delete" }).click();
  await bad.locator("button", { hasText: "Confirm delete" }).click();
  await bad.waitFor({ state: "detached" });
  const left = (await http("GET", "/api/v1/webhooks?repository=alice/app", { Authorization: basic("alice", PW.alice) })).json().webhooks;
  eq(JSON.stringify(left.map((w) => w.url)), JSON.stringify([HOOK + "/hook"]), "webhooks left");
  await page.goto(BASE + "/u/alice");
  await page.waitForSelector("#webhooks .empty");
  const a = await open(anon, "/u/alice");
  await a.waitForSelector(".repo-card");
  eq(await a.locator("#webhooks").count(), 0, "webhooks section for an anonymous visitor");
  await a.close();
});

await test("tag rules in repository settings: bad fields refused at the field; an immutable rule takes the delete button off its tags", async () => {
  const auth = { Authorization: basic("alice", PW.alice) };
  await page.goto(BASE + "/r/alice/app/-/settings");
  await page.waitForSelector("#tag-rules .empty");
  await page.selectOption("#tagrule-kind", "retention");
  await page.fill("#tagrule-pattern", "bad pattern");
  await page.fill("#tagrule-keep", "0");
  await page.click("#tagrule-form button[type=submit]");
  await page.waitForSelector("#tagrule-pattern-error:not([hidden])");
  check(await page.isVisible("#tagrule-keep-error"), "no error at keep");
  eq((await http("GET", "/api/v1/tag-rules?repository=alice/app", auth)).json().rules.length, 0, "rules after the bad form");
  await page.selectOption("#tagrule-kind", "immutable");
  check(!(await page.isVisible("#tagrule-keep")), "keep shown for an immutable rule");
  await page.fill("#tagrule-pattern", "lat*");
  await page.click("#tagrule-form button[type=submit]");
  await page.waitForSelector(".tagrules-table >> text=lat*");
  const latest = page.locator(".settings-tags tr[data-tag=latest]");
  await latest.locator(".badge-immutable").waitFor();
  eq(await latest.locator("button").isVisible(), false, "delete button of the immutable tag");
  check((await latest.locator(".badge-immutable").getAttribute("title")).includes("lat*"), "badge title");
  check(await page.locator(".settings-tags tr[data-tag=hooked] button").isVisible(), "delete button of a tag no rule protects");
  eq((await http("DELETE", "/api/v1/repositories/alice/app/tags/latest", auth)).status, 403, "berthd refuses to delete the immutable tag");
  // A retention rule keeping the most recent hook* tag, and a second such tag a second later.
  await page.waitForTimeout(1100);
  const raw = await http("GET", "/v2/alice/app/manifests/latest", { ...auth, Accept: "application/vnd.oci.image.index.v1+json" });
  eq((await http("PUT", "/v2/alice/app/manifests/hooked2", { ...auth, "Content-Type": raw.headers.get("content-type") }, raw.text)).status, 201, "push of alice/app:hooked2");
  await page.selectOption("#tagrule-kind", "retention");
  await page.fill("#tagrule-pattern", "hook*");
  await page.selectOption("#tagrule-keep-by", "keep_last");
  await page.fill("#tagrule-keep", "1");
  await page.click("#tagrule-form button[type=submit]");
  await page.waitForSelector(".tagrules-table >> text=the 1 most recent");
  await page.locator("#tag-rules").screenshot({ path: `${SHOTS}/settings-tag-rules.png` });
});

await test("narrow screen (phone): the settings page with tag rules and webhooks does not scroll sideways", async () => {
  const phone = await newContext({ viewport: { width: 390, height: 844 } });
  await phone.addCookies(await alice.cookies());
  const p = await open(phone, "/r/alice/app/-/settings");
  await p.waitForSelector(".webhooks-table");
  await p.click(".webhooks-table .history-btn");
  await p.waitForSelector(".deliveries-table");
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, "the settings page scrolls sideways by " + overflow + "px");
  await shot(p, "settings-phone");
  await phone.close();
});

await test("namespace tag rules: added on the namespace page, listed in the repository's settings, deleted (two clicks)", async () => {
  await page.goto(BASE + "/u/alice");
  await page.waitForSelector("#tagrule-form");
  await page.fill("#tagrule-pattern", "v[0-9]*");
  await page.click("#tagrule-form button[type=submit]");
  await page.waitForSelector(".tagrules-table >> text=v[0-9]*");
  await page.goto(BASE + "/r/alice/app/-/settings");
  const row = page.locator(".tagrules-table tr", { hasText: "v[0-9]*" });
  await row.waitFor();
  check((await row.textContent()).includes("namespace alice"), "scope: " + (await row.textContent()));
  await page.goto(BASE + "/u/alice");
  const nsRow = page.locator(".tagrules-table tr", { hasText: "v[0-9]*" });
  await nsRow.locator("button", { hasText: "Delete" }).click();
  await nsRow.locator("button", { hasText: "Confirm delete" }).click();
  await page.waitForSelector("#tag-rules .empty");
  eq((await http("GET", "/api/v1/tag-rules?namespace=alice", { Authorization: basic("alice", PW.alice) })).json().rules.length, 0, "namespace rules left");
});

const EVIL = [
  "# Totally normal",
  "<script>window.__xss = 1; alert('script')</script>",
  "<img src=x onerror=\"window.__xss = 2; alert('img')\">",
  "[click me](javascript:window.__xss=3;alert('js-link'))",
  "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "<a href=\"javascript:alert('raw-a')\">raw link</a>",
  "<iframe src=\"javascript:alert('frame')\"></iframe>",
  "<svg onload=\"alert('svg')\"></svg>",
  "[vb](vbscript:msgbox(1))",
].join("\n\n");

await test("a malicious description saved through the settings page stays inert", async () => {
  await page.goto(BASE + "/r/alice/evil/-/settings");
  await page.waitForSelector("#description-form");
  await page.fill("#description-form input[name=description]", "<b onmouseover=alert(1)>bold</b>");
  await page.fill("#description-form textarea", EVIL);
  await page.click("#description-form button[type=submit]");
  await page.waitForSelector(".alert-success >> text=Descriptions saved");
  const before = problems.length;
  await page.goto(BASE + "/r/alice/evil");
  await page.waitForSelector("#readme");
  check((await page.textContent("#readme h1")) === "Totally normal", "Markdown not rendered");
  const found = await page.evaluate(() => ({
    xss: window.__xss,
    scripts: document.querySelectorAll("#readme script, #readme iframe, #readme svg, #readme img").length,
    handlers: [...document.querySelectorAll("#readme *")].filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
    badLinks: [...document.querySelectorAll("#readme a")].filter((a) => /^(javascript|data|vbscript):/i.test(a.getAttribute("href") || "")).length,
    desc: document.getElementById("repo-description").textContent,
  }));
  eq(found.xss, undefined, "window.__xss");
  eq(found.scripts, 0, "script/iframe/svg/img elements in the overview");
  eq(found.handlers, 0, "elements with on* attributes");
  eq(found.badLinks, 0, "javascript:/data:/vbscript: links");
  eq(found.desc, "<b onmouseover=alert(1)>bold</b>", "short description shown as text");
  await shot(page, "repository-malicious-description");
  await page.click("#readme >> text=click me");
  await page.waitForTimeout(300);
  eq(await page.evaluate(() => window.__xss), undefined, "window.__xss after clicking the link");
  await page.goto(BASE + "/?q=evil");
  await page.waitForSelector(".repo-card");
  eq(await page.evaluate(() => document.querySelectorAll(".repo-card img").length), 0, "img from the short description in the listing");
  eq(problems.length, before, "dialogs or errors: " + problems.slice(before).join("; "));
  await shot(page, "search-malicious-description");
});

await test("keyboard: skip link, Tab to a repository card, Enter opens it, copy button works with Enter", async () => {
  const p = await open(alice, "/");
  await p.waitForSelector(".repo-card");
  await p.keyboard.press("Tab");
  eq(await p.evaluate(() => document.activeElement.className), "skip-link", "first Tab stop");
  await p.keyboard.press("Enter");
  eq(await p.evaluate(() => document.activeElement.id), "main", "focus after the skip link");
  let name = "";
  for (let i = 0; i < 30; i++) {
    await p.keyboard.press("Tab");
    name = await p.evaluate(() => (document.activeElement.classList.contains("repo-name") ? document.activeElement.textContent : ""));
    if (name) break;
  }
  check(name, "no repository link reached with Tab");
  await p.keyboard.press("Enter");
  await p.waitForSelector(".tags-table, .repo-title");
  eq(decodeURIComponent(new URL(p.url()).pathname), "/r/" + name, "page opened with Enter");
  await p.focus(".pull-box .copy-btn");
  await p.keyboard.press("Enter");
  await p.waitForSelector(".pull-box .copy-btn >> text=Copied!");
  check((await p.evaluate(() => navigator.clipboard.readText())).includes(HOST + "/" + name), "clipboard after Enter");
  const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline && outline !== "none", "no visible focus outline");
  await p.close();
});

await test("dark mode (prefers-color-scheme: dark) renders dark", async () => {
  const dark = await newContext({ colorScheme: "dark" });
  const p = await open(dark, "/r/alice/app");
  await p.waitForSelector(".tags-table");
  const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
  eq(bg, "rgb(13, 17, 23)", "body background");
  const fg = await p.evaluate(() => getComputedStyle(document.body).color);
  eq(fg, "rgb(230, 237, 243)", "body text");
  await shot(p, "repository-dark");
  await p.goto(BASE + "/r/alice/app/-/tags/latest");
  await p.waitForSelector(".platforms-table");
  await shot(p, "tag-index-dark");
  await dark.close();
});

await test("narrow screen (phone): no horizontal page scroll", async () => {
  const phone = await newContext({ viewport: { width: 390, height: 844 } });
  const p = await open(phone, "/r/alice/app");
  await p.waitForSelector(".tags-table");
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, "page scrolls sideways by " + overflow + "px");
  await shot(p, "repository-phone");
  await phone.close();
});

await test("namespace and organization pages: repositories, members", async () => {
  await page.goto(BASE + "/u/alice");
  await page.waitForSelector(".repo-card");
  eq(await page.textContent(".repo-card:first-child .repo-name"), await newestRepo(), "most recently pushed first");
  eq(await page.textContent(".pager-info"), "Page 1 of 2", "pager");
  await shot(page, "namespace");
  await page.goto(BASE + "/u/acme");
  await page.waitForSelector("#members-h");
  const members = await page.$$eval("#members-h ~ .table-wrap tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent + ":" + (tr.cells[1].querySelector("select") ? tr.cells[1].querySelector("select").value : tr.cells[1].textContent)));
  eq(JSON.stringify(members.sort()), JSON.stringify(["alice:owner", "bob:reader"]), "members");
  check(await page.isVisible(".empty"), "empty state for an organization without repositories");
  await shot(page, "organization");
});

await test("an organization owner changes a member's role on the organization page", async () => {
  await page.selectOption("select[aria-label='Role of bob']", "writer");
  let role = "";
  for (let i = 0; i < 50 && role !== "writer"; i++) {
    await page.waitForTimeout(100);
    const org = await http("GET", "/api/v1/orgs/acme", { Authorization: basic("alice", PW.alice) });
    role = (org.json().members.find((m) => m.name === "bob") || {}).role;
  }
  eq(role, "writer", "bob's role");
});

await test("delete a repository from its settings: the button waits for its name", async () => {
  await page.goto(BASE + "/r/alice/secret/-/settings");
  await page.waitForSelector("#delete-repo-form");
  check(await page.isDisabled("#delete-repo-form button[type=submit]"), "button enabled before the name is typed");
  await page.fill("#delete-repo-form input[name=confirm]", "alice/secre");
  check(await page.isDisabled("#delete-repo-form button[type=submit]"), "button enabled for a wrong name");
  await page.fill("#delete-repo-form input[name=confirm]", "alice/secret");
  await page.click("#delete-repo-form button[type=submit]");
  await page.waitForURL(/\/u\/alice$/);
  await page.waitForSelector(".repo-card");
  const names = await page.$$eval(".repo-card .repo-name", (e) => e.map((x) => x.textContent));
  check(!names.includes("alice/secret"), "alice/secret still listed: " + names);
  eq((await http("GET", "/api/v1/repositories/alice/secret", { Authorization: basic("alice", PW.alice) })).status, 404, "API after deleting");
});

await test("admin page: users and audit log (and non-admins are kept out)", async () => {
  await page.goto(BASE + "/admin");
  await page.waitForSelector(".empty");
  check((await page.textContent(".empty")).includes("Administrators only"), "alice sees the admin page");
  const adm = await newContext();
  const p = await open(adm, "/signin");
  await p.fill("input[name=username]", "admin");
  await p.fill("input[name=password]", PW.admin);
  await p.click("button[type=submit]");
  await p.waitForSelector("#signout");
  await p.goto(BASE + "/admin");
  await p.waitForSelector(".audit-table");
  const users = await p.$$eval(".users-table tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent));
  eq(JSON.stringify(users), JSON.stringify(["admin", "alice", "bob"]), "users");
  const actions = await p.$$eval(".audit-table tbody tr", (trs) => trs.map((tr) => tr.cells[2].textContent));
  for (const a of ["visibility", "tag_delete", "token_create", "token_revoke", "login", "member_set", "repo_delete"]) check(actions.includes(a), "audit log lacks " + a + ": " + actions);
  await shot(p, "admin");
  await adm.close();
});

// ---- the pull-through cache (up/ is --mirror up=UI_UPSTREAM) and replication rules, as admin
const UPSTREAM = process.env.UI_UPSTREAM;
const adminAuth = { Authorization: basic("admin", PW.admin) };
const admin = await newContext();
await (async () => {
  const p = await open(admin, "/signin");
  await p.fill("input[name=username]", "admin");
  await p.fill("input[name=password]", PW.admin);
  await p.click("button[type=submit]");
  await p.waitForSelector("#signout");
  await p.close();
})();
let ap; // the admin's page
const cached = (await http("GET", "/api/v1/repositories/up/library/base", adminAuth)).json();

// The text and exact time (title) of a <time> showing UNIX seconds, and whether they agree.
async function checkTime(loc, unix, what) {
  const dt = await loc.getAttribute("datetime");
  eq(dt, new Date(unix * 1000).toISOString(), what + " datetime");
  check(/\d/.test((await loc.getAttribute("title")) || ""), what + ": no exact time on hover");
  check(/ago|now|second|minute/.test(await loc.textContent()), what + ": " + (await loc.textContent()));
}

await test("Explore and the namespace page mark the cached repository: Mirror badge with the upstream, last check time", async () => {
  check(cached.mirror && cached.mirror.upstream === UPSTREAM + "/library/base", "API mirror: " + JSON.stringify(cached.mirror));
  ap = await open(admin, "/?q=up/library");
  await ap.waitForSelector(".repo-card");
  const card = ap.locator(".repo-card", { hasText: "up/library/base" });
  eq(await card.locator(".badge-mirror").textContent(), "Mirror", "badge");
  check((await card.locator(".badge-mirror").getAttribute("title")).includes(UPSTREAM + "/library/base"), "badge title");
  eq(await card.locator(".mirror-line .upstream").textContent(), UPSTREAM + "/library/base", "upstream on the card");
  await checkTime(card.locator(".mirror-line time"), cached.mirror.last_checked, "last check on the card");
  await shot(ap, "explore-mirror");
  await ap.goto(BASE + "/?q=alice/app");
  await ap.waitForSelector(".repo-card");
  eq(await ap.locator(".repo-card .badge-mirror, .repo-card .mirror-line").count(), 0, "mirror marks on an ordinary repository");
  await ap.goto(BASE + "/u/up");
  await ap.waitForSelector(".repo-card");
  eq(await ap.locator(".repo-card .badge-mirror").count(), 1, "badge on the namespace page");
  await checkTime(ap.locator(".repo-card .mirror-line time"), cached.mirror.last_checked, "last check on the namespace page");
});

await test("the cached repository's page: badge, notice naming the upstream, last check, read-only access", async () => {
  await ap.goto(BASE + "/r/up/library/base");
  await ap.waitForSelector(".tags-table");
  eq(await ap.textContent(".repo-title .badge-mirror"), "Mirror", "badge in the title");
  check((await ap.textContent("#mirror-notice")).includes(UPSTREAM + "/library/base"), "notice: " + (await ap.textContent("#mirror-notice")));
  eq(await ap.textContent("#mirror-upstream"), UPSTREAM + "/library/base", "About: mirror of");
  await checkTime(ap.locator("#mirror-checked time"), cached.mirror.last_checked, "About: last checked");
  check((await ap.textContent(".about")).includes("read-only cache"), "access text");
  const tags = await ap.$$eval(".tags-table tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent));
  eq(JSON.stringify(tags), JSON.stringify(["v1"]), "cached tags");
  await ap.click(".pull-box [data-client=berth]");
  eq(await ap.textContent("#pull-run-cmd"), `berth run --rm -it ${HOST}/up/library/base:v1`, "run command");
  await ap.click(".pull-box [data-client=docker]");
  await shot(ap, "repository-mirror");
  const dark = await newContext({ colorScheme: "dark" });
  const d = await open(dark, "/signin");
  await d.fill("input[name=username]", "admin");
  await d.fill("input[name=password]", PW.admin);
  await d.click("button[type=submit]");
  await d.waitForSelector("#signout");
  await d.goto(BASE + "/r/up/library/base");
  await d.waitForSelector(".tags-table");
  await shot(d, "repository-mirror-dark");
  await dark.close();
});

await test("settings of a cached repository: no tag deletion (berthd refuses it) or tag rules, webhooks for mirror events; removal from the cache", async () => {
  eq((await http("DELETE", "/v2/up/library/base/manifests/v1", adminAuth)).status, 403, "DELETE of a cached tag through /v2/");
  await ap.goto(BASE + "/r/up/library/base/-/settings");
  await ap.waitForSelector(".settings-tags");
  eq(await ap.locator(".settings-tags button").count(), 0, "delete buttons for cached tags");
  check(await ap.isVisible("#mirror-tags-note"), "no note on cached tags");
  eq(await ap.textContent("#danger-h"), "Remove from the cache", "danger section");
  check(await ap.isVisible("#visibility-form"), "visibility form");
  eq(await ap.locator("#tag-rules").count(), 0, "tag rules offered for a cache");
  eq(JSON.stringify(await ap.$$eval("#webhook-form input[name=events]", (els) => els.map((e) => e.value + ":" + e.checked))), '["mirror:true"]', "webhook events offered for a cache");
  // A mirror webhook: pulling a new tag through the cache is delivered as a "mirror" event.
  await ap.fill("#webhook-url", HOOK + "/mirror");
  await ap.click("#webhook-form button[type=submit]");
  await ap.waitForSelector("#webhook-secret-new");
  eq((await http("GET", "/v2/up/library/base/manifests/v2", { ...adminAuth, Accept: "application/vnd.oci.image.manifest.v1+json" })).status, 200, "pull of v2 through the cache");
  let ev = null;
  for (let i = 0; i < 100 && !ev; i++) {
    ev = received.filter((r) => r.path === "/mirror").map((r) => JSON.parse(r.body)).find((e) => e.event === "mirror" && e.tag === "v2");
    if (!ev) await ap.waitForTimeout(200);
  }
  check(ev && ev.repository === "up/library/base" && ev.pusher === "mirror", "mirror event: " + JSON.stringify(ev));
  const hook = ap.locator(".webhooks-table tr[data-webhook]", { hasText: HOOK + "/mirror" });
  await hook.locator(".history-btn").click();
  const id = await hook.getAttribute("data-webhook");
  let states = [];
  for (let i = 0; i < 50 && !states.includes("mirror:delivered"); i++) {
    await ap.click(`#deliveries-${id} .refresh-btn`);
    await ap.waitForTimeout(200);
    states = await ap.$$eval(`#deliveries-${id} tbody tr`, (trs) => trs.map((tr) => tr.cells[1].textContent + ":" + tr.cells[2].textContent));
  }
  check(states.includes("mirror:delivered"), "deliveries: " + states);
  await shot(ap, "settings-mirror");
  await ap.fill("#delete-repo-form input[name=confirm]", "up/library/base");
  await ap.click("#delete-repo-form button[type=submit]");
  await ap.waitForURL(/\/u\/up$/);
  eq((await http("GET", "/api/v1/repositories/up/library/base", adminAuth)).status, 404, "API after removing from the cache");
});

await test("admin page: a replication rule with bad fields shows an error at each field and is not sent", async () => {
  await ap.goto(BASE + "/admin");
  await ap.waitForSelector("#replication .empty");
  await ap.fill("#rule-name", "Bad Name");
  await ap.fill("#rule-source", "ftp://example.org");
  await ap.fill("#rule-interval", "3s");
  await ap.fill("#rule-password", "secret");
  await ap.click("#rule-form button[type=submit]");
  await ap.waitForSelector("#rule-name-error:not([hidden])");
  for (const f of ["name", "source", "repositories", "interval", "username"]) {
    check(await ap.isVisible(`#rule-${f}-error`), "no error at " + f);
    eq(await ap.getAttribute(`#rule-${f}`, "aria-invalid"), "true", f + " aria-invalid");
  }
  check(!(await ap.isVisible("#rule-tags-error")), "error at the valid tags field");
  eq(await ap.evaluate(() => document.activeElement.id), "rule-name", "focus on the first wrong field");
  await ap.locator("#replication").screenshot({ path: `${SHOTS}/admin-replication-errors.png` });
  eq((await http("GET", "/api/v1/replication", adminAuth)).json().rules.length, 0, "rules after the bad form");
});

await test("add a rule; berthd's own refusals (a name in use, a bad regular expression) show at their field", async () => {
  const fill = async (v) => {
    for (const f of ["name", "source", "repositories", "tags", "destination", "interval", "username", "password"]) await ap.fill("#rule-" + f, v[f] || "");
    await ap.click("#rule-form button[type=submit]");
  };
  await fill({ name: "copy-up", source: UPSTREAM, repositories: "team/*", destination: "replica", interval: "0" });
  await ap.waitForSelector("#replication tr[data-rule=copy-up]");
  check(!(await ap.isVisible("#rule-name-error")), "errors left after a good rule");
  const row = ap.locator("#replication tr[data-rule=copy-up]");
  check((await row.textContent()).includes("never run") && (await row.textContent()).includes("on request"), "new row: " + (await row.textContent()));
  const before = problems.length;
  await fill({ name: "copy-up", source: UPSTREAM, repositories: "x" });
  await ap.waitForSelector("#rule-name-error:not([hidden])");
  check(/exists|in use/i.test(await ap.textContent("#rule-name-error")), "name error: " + (await ap.textContent("#rule-name-error")));
  await fill({ name: "other", source: UPSTREAM, repositories: "x", tags: "/[/" });
  await ap.waitForSelector("#rule-tags-error:not([hidden])");
  check((await ap.textContent("#rule-tags-error")).includes("regular expression"), "tags error: " + (await ap.textContent("#rule-tags-error")));
  eq(JSON.stringify((await http("GET", "/api/v1/replication", adminAuth)).json().rules.map((r) => r.name)), '["copy-up"]', "rules");
  // The browser logs the two refused requests (409, 400) as console errors: expected here.
  const logged = problems.splice(before).filter((x) => !/status of (409|400)/.test(x));
  problems.push(...logged);
});

await test("run the rule now: its row follows the run to 'ok' with 2 images copied", async () => {
  const row = ap.locator("#replication tr[data-rule=copy-up]");
  await row.locator(".run-btn").click();
  let status = "", copied = "";
  for (let i = 0; i < 120; i++) {
    status = await row.locator(".rule-status .badge").textContent().catch(() => "");
    copied = await row.locator(".rule-copied").textContent().catch(() => "");
    if (status === "ok" || status === "failed" || status === "partial") break;
    await ap.waitForTimeout(500);
  }
  eq(status, "ok", "status (message: " + (await row.locator(".rule-message").textContent()) + ")");
  eq(copied, "2", "images copied");
  check((await ap.textContent("#replication .alert-success")).includes("Rule copy-up ran: ok"), "announcement of the run's end");
  check((await row.locator(".rule-message").textContent()).includes("2 copied"), "message");
  await checkTime(row.locator(".rule-status time"), (await http("GET", "/api/v1/replication/copy-up", adminAuth)).json().status.last_finished_at, "last run");
  const tags = (await http("GET", "/v2/replica/team/app/tags/list", adminAuth)).json().tags.sort();
  eq(JSON.stringify(tags), '["1.0","latest"]', "replicated tags");
  await ap.locator("#replication").screenshot({ path: `${SHOTS}/admin-replication.png` });
});

await test("a rule whose source is down: its run ends 'failed', with the error counted and its message shown", async () => {
  const v = { name: "broken", source: "http://127.0.0.1:9", repositories: "team/app", interval: "0" };
  for (const f of ["name", "source", "repositories", "tags", "destination", "interval", "username", "password"]) await ap.fill("#rule-" + f, v[f] || "");
  await ap.click("#rule-form button[type=submit]");
  const row = ap.locator("#replication tr[data-rule=broken]");
  await row.waitFor();
  await row.locator(".run-btn").click();
  let status = "";
  for (let i = 0; i < 120 && status !== "failed" && status !== "ok"; i++) {
    await ap.waitForTimeout(500);
    status = await row.locator(".rule-status .badge").textContent().catch(() => "");
  }
  eq(status, "failed", "status");
  check((await ap.textContent("#replication .alert-error")).includes("Rule broken ran: failed"), "announcement of the failed run");
  const api = (await http("GET", "/api/v1/replication/broken", adminAuth)).json().status;
  check(api.message && api.errors >= 1, "API status: " + JSON.stringify(api));
  eq(await row.locator(".rule-message").textContent(), api.message, "message");
  eq(await row.locator(".rule-errors").textContent(), String(api.errors), "errors");
  check(await row.locator(".rule-errors.error-text").count() === 1, "errors not marked");
  await ap.locator("#replication").screenshot({ path: `${SHOTS}/admin-replication-failed.png` });
  await row.locator("button", { hasText: "Delete" }).click();
  await row.locator("button", { hasText: "Confirm delete" }).click();
  await row.waitFor({ state: "detached" });
});

await test("retention on the admin page: a dry run lists what would go, then the run untags it", async () => {
  await ap.goto(BASE + "/admin");
  await ap.click("#retention-dry");
  await ap.waitForSelector("#retention-summary");
  check((await ap.textContent("#retention-summary")).startsWith("Dry run:"), "summary: " + (await ap.textContent("#retention-summary")));
  const rows = await ap.$$eval(".retention-table tbody tr", (trs) => trs.map((tr) => [...tr.cells].slice(0, 3).map((c) => c.textContent).join(" ")));
  eq(JSON.stringify(rows), JSON.stringify(["would be untagged alice/app hooked"]), "dry run");
  const tags = async () => (await http("GET", "/api/v1/repositories/alice/app/tags", adminAuth)).json().tags.map((t) => t.name);
  check((await tags()).includes("hooked"), "the dry run untagged");
  await ap.locator("#retention").screenshot({ path: `${SHOTS}/admin-retention.png` });
  await ap.click("#retention button >> text=Run retention");
  await ap.click("#retention button >> text=Confirm: untag now");
  await ap.waitForSelector("#retention-summary >> text=Done:");
  eq(JSON.stringify(await ap.$$eval(".retention-table tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent))), '["untagged"]', "run");
  eq(JSON.stringify((await tags()).sort()), '["hooked2","latest"]', "tags after the run");
});

await test("garbage collection on the admin page: a dry run, then a run, each followed to its end with the bytes freed", async () => {
  await ap.goto(BASE + "/admin");
  await ap.waitForSelector("#gc-settings");
  check((await ap.textContent("#gc-settings")).startsWith("Runs only when started"), "settings: " + (await ap.textContent("#gc-settings")));
  const runs = async () => (await http("GET", "/api/v1/gc", adminAuth)).json().runs;
  const before = (await runs()).length;
  await ap.click("#gc-dry");
  await ap.waitForSelector("#gc .alert-success >> text=Dry run done");
  let all = await runs();
  eq(all.length, before + 1, "runs after the dry run");
  check(all[0].dry_run && all[0].bytes_freed > 0, "dry run: " + JSON.stringify(all[0]));
  const row = ap.locator(`.gc-table tr[data-run="${all[0].id}"]`);
  check((await row.textContent()).includes("dry run"), "dry-run row: " + (await row.textContent()));
  eq(await row.locator(".gc-freed").textContent(), await ap.evaluate(async (n) => (await import("/js/dom.js")).humanSize(n), all[0].bytes_freed), "bytes freed shown");
  await ap.click("#gc-start");
  await ap.waitForSelector("#gc .alert-success >> text=Collection done");
  all = await runs();
  check(!all[0].dry_run && all[0].bytes_freed === all[1].bytes_freed && !all[0].error, "run: " + JSON.stringify(all.slice(0, 2)));
  check((await ap.locator(`.gc-table tr[data-run="${all[0].id}"] .gc-result`).textContent()) === "ok", "result");
  eq(await ap.isDisabled("#gc-start"), false, "start button after the run");
  await ap.locator("#gc").screenshot({ path: `${SHOTS}/admin-gc.png` });
  await ap.click("#gc-start");
  let disabled = false;
  for (let i = 0; i < 40 && !disabled; i++) {
    disabled = await ap.isDisabled("#gc-start");
    if (!disabled) await ap.waitForTimeout(25);
  }
  check(disabled, "start button enabled while a run goes on");
  await ap.waitForSelector("#gc .alert-success >> text=Collection done: 0 B freed");
  eq((await runs()).length, before + 3, "runs in all");
  const actions = (await http("GET", "/api/v1/audit?limit=50", adminAuth)).json().entries.map((e) => e.action);
  check(actions.includes("gc_start"), "audit lacks gc_start");
});

await test("delete the rule (two clicks): it is gone, the copied repository stays, all three changes are audited", async () => {
  const row = ap.locator("#replication tr[data-rule=copy-up]");
  await row.locator("button", { hasText: "Delete" }).click();
  await row.locator("button", { hasText: "Confirm delete" }).click();
  await ap.waitForSelector("#replication .empty");
  eq((await http("GET", "/api/v1/replication", adminAuth)).json().rules.length, 0, "rules after deleting");
  eq((await http("GET", "/api/v1/repositories/replica/team/app", adminAuth)).status, 200, "the replicated repository");
  const actions = (await http("GET", "/api/v1/audit?limit=50", adminAuth)).json().entries.map((e) => e.action);
  for (const a of ["replication_add", "replication_run", "replication_del"]) check(actions.includes(a), "audit lacks " + a);
  const phone = await newContext({ viewport: { width: 390, height: 844 } });
  await phone.addCookies(await admin.cookies());
  const p = await open(phone, "/admin");
  await p.waitForSelector("#rule-form");
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, "the admin page scrolls sideways by " + overflow + "px on a phone");
  await p.locator("#replication").screenshot({ path: `${SHOTS}/admin-replication-phone.png` });
  await phone.close();
});
await test("storage quotas: usage on the namespace page for its user, the admin's table, and a quota set (bad size refused) and removed", async () => {
  const q = (await http("GET", "/api/v1/quotas/alice", adminAuth)).json();
  check(q.used > 0 && q.quota === null, "alice's usage: " + JSON.stringify(q));
  const size = (n) => ap.evaluate(async (x) => (await import("/js/dom.js")).humanSize(x), n);
  const p = await open(alice, "/u/alice");
  await p.waitForSelector("#quota-usage");
  eq(await p.textContent("#quota-usage"), `${await size(q.used)} used, no quota`, "usage for alice");
  eq(await p.locator("#quota-form").count(), 0, "quota form for a non-admin");
  await p.close();
  const a = await open(anon, "/u/alice");
  await a.waitForSelector(".repo-card");
  eq(await a.locator("#quota").count(), 0, "storage card for an anonymous visitor");
  await a.close();
  await ap.goto(BASE + "/admin");
  await ap.waitForSelector(".quotas-table");
  eq(await ap.textContent(".quotas-table tr[data-namespace=alice] td:nth-child(2)"), await size(q.used), "used in the admin's table");
  await ap.goto(BASE + "/u/alice");
  await ap.waitForSelector("#quota-form");
  await ap.fill("#quota-size", "ten gigs");
  await ap.click("#quota-form button[type=submit]");
  await ap.waitForSelector("#quota-size-error:not([hidden])");
  eq((await http("GET", "/api/v1/quotas/alice", adminAuth)).json().quota, null, "quota after a bad size");
  await ap.fill("#quota-size", "2G");
  await ap.click("#quota-form button[type=submit]");
  await ap.waitForSelector("#quota .alert-success >> text=Quota set to");
  eq((await http("GET", "/api/v1/quotas/alice", adminAuth)).json().quota, 2 * 1024 ** 3, "2G is 2 GiB, as berthd quota set reads it");
  await ap.fill("#quota-size", "1 kB");
  await ap.click("#quota-form button[type=submit]");
  await ap.waitForSelector("#quota .alert-success >> text=Quota set to 1.00 KB");
  eq((await http("GET", "/api/v1/quotas/alice", adminAuth)).json().quota, 1000, "quota stored");
  check((await ap.textContent("#quota-usage")).includes("(100%)") && (await ap.textContent("#quota-usage")).includes("full"), "usage: " + (await ap.textContent("#quota-usage")));
  eq((await http("POST", "/v2/alice/over-quota/blobs/uploads/", { Authorization: basic("alice", PW.alice) })).status, 403, "upload into a full namespace");
  await ap.locator("#quota").screenshot({ path: `${SHOTS}/namespace-quota.png` });
  await ap.click("#quota-remove");
  await ap.waitForSelector("#quota .alert-success >> text=Quota removed");
  eq((await http("GET", "/api/v1/quotas/alice", adminAuth)).json().quota, null, "quota removed");
  const actions = (await http("GET", "/api/v1/audit?limit=50", adminAuth)).json().entries.map((e) => e.action);
  check(actions.includes("quota_set"), "audit lacks quota_set");
});

await admin.close();

await test("unknown pages and repositories get error pages", async () => {
  const p = await open(anon, "/no/such/page");
  check((await p.textContent(".empty")).includes("Page not found"), "page not found");
  await shot(p, "not-found");
  await p.goto(BASE + "/r/alice/nothing-here");
  await p.waitForSelector(".empty");
  check((await p.textContent(".empty")).includes("Not found"), "repository not found");
  await p.close();
});

await test("sign out ends the session", async () => {
  await page.goto(BASE + "/");
  await page.waitForSelector("#signout");
  await page.click("#signout");
  await page.waitForSelector("#nav-user >> text=Sign in");
  const status = await page.evaluate(async () => (await fetch("/api/v1/session")).status);
  eq(status, 401, "GET /api/v1/session after signing out");
});

await test("no dialogs, uncaught errors or CSP violations in the whole run", async () => {
  eq(problems.length, 0, problems.join("\n"));
});

receiver.close();
await browser.close();
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
