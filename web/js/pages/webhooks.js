// The Webhooks section of a repository's settings and of a namespace page
// (/api/v1/webhooks): the webhooks of one repository or namespace, each with its delivery
// history (newest first, a page at a time, the payload on demand); adding one (its secret
// shown once, to check the X-Berth-Signature-256 header with); deleting one with a second
// click.
import { api } from "../api.js";
import { alertBox, badge, confirmButton, copyButton, emptyState, h, mount, table, timeAgo } from "../dom.js";

const DELIVERIES_PAGE = 20;
const EVENT_LABELS = {
  push: "push (a tag pushed)",
  delete: "delete (a tag or manifest deleted)",
  mirror: "mirror (the pull-through cache stored a tag from its upstream)",
};

// One delivery as a table row, with its payload in a disclosure.
function deliveryRow(d) {
  return h("tr", { "data-delivery": d.id, class: "delivery-" + d.state },
    h("td", {}, timeAgo(d.created_at)),
    h("td", {}, h("span", { class: "chip" }, d.event)),
    h("td", { class: "delivery-state" }, badge(d.state, d.state === "delivered" ? "ok" : d.state === "failed" ? "failed" : "queued")),
    h("td", { class: "num" }, String(d.attempts)),
    h("td", { class: "num delivery-status" }, d.last_status === null ? h("span", { class: "muted" }, "—") : String(d.last_status)),
    h("td", { class: "wrap small delivery-detail" },
      d.last_error ? h("span", { class: "error-text" }, d.last_error) : null,
      d.state === "pending" && d.next_attempt_at ? h("div", { class: "muted" }, "next attempt ", timeAgo(d.next_attempt_at)) : null,
      d.finished_at ? h("div", { class: "muted" }, d.state === "delivered" ? "delivered " : "given up ", timeAgo(d.finished_at)) : null,
      d.payload ? h("details", { class: "raw payload" }, h("summary", {}, "Payload"), h("pre", {}, JSON.stringify(d.payload, null, 2))) : null));
}

// The delivery history of one webhook: a table, Refresh, and Load more (older ones).
function deliveriesPanel(hook, fail) {
  const box = h("div", { class: "deliveries", id: "deliveries-" + hook.id });
  let oldest = 0;
  const more = h("button", { type: "button", class: "btn btn-small", hidden: true }, "Load older");
  const tbody = h("tbody", {});
  const load = async (reset) => {
    const q = "?limit=" + DELIVERIES_PAGE + (!reset && oldest ? "&before=" + oldest : "");
    const doc = await api("GET", `/webhooks/${hook.id}/deliveries${q}`);
    if (reset) tbody.replaceChildren();
    tbody.append(...doc.deliveries.map(deliveryRow));
    if (doc.deliveries.length) oldest = doc.deliveries[doc.deliveries.length - 1].id;
    more.hidden = doc.deliveries.length < DELIVERIES_PAGE;
    tableBox.hidden = !tbody.children.length;
    none.hidden = !!tbody.children.length;
  };
  const none = h("p", { class: "muted" }, "No deliveries yet: events (a push, a delete) are sent as they happen.");
  const tableBox = h("div", { class: "table-wrap" },
    h("table", { class: "table deliveries-table" },
      h("thead", {}, h("tr", {}, ["When", "Event", "State", "Attempts", "Status", "Detail"].map((x) => h("th", { scope: "col" }, x)))),
      tbody));
  more.addEventListener("click", () => load(false).catch(fail));
  const refresh = h("button", { type: "button", class: "btn btn-small refresh-btn", onclick: () => load(true).catch(fail) }, "Refresh");
  mount(box, h("div", { class: "deliveries-head" }, h("h4", {}, "Deliveries"), refresh), none, tableBox, more);
  return { box, load };
}

function hookRow(hook, reload, fail) {
  const panel = deliveriesPanel(hook, fail);
  const cell = h("td", { colspan: 4 }, panel.box);
  const detail = h("tr", { class: "webhook-deliveries", hidden: true }, cell);
  const toggle = h("button", { type: "button", class: "btn btn-small history-btn", "aria-expanded": "false", "aria-controls": "deliveries-" + hook.id }, "Deliveries");
  toggle.addEventListener("click", async () => {
    const open = detail.hidden;
    detail.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) await panel.load(true).catch(fail);
  });
  const row = h("tr", { "data-webhook": hook.id },
    h("td", { class: "wrap mono small webhook-url" }, hook.url),
    h("td", {}, h("div", { class: "chips" }, hook.events.map((e) => h("span", { class: "chip" }, e)))),
    h("td", {}, timeAgo(hook.created_at), h("div", { class: "muted small" }, "by " + hook.created_by)),
    h("td", {}, h("div", { class: "actions" }, toggle, confirmButton("Delete", "Confirm delete", async () => {
      try {
        await api("DELETE", "/webhooks/" + hook.id);
        reload();
      } catch (e) {
        fail(e);
      }
    }))));
  return [row, detail];
}

// The URL and secret checked as berthd checks them (webhooks_check); {field: message}.
export function checkWebhook(url, secret, events) {
  const errors = {};
  if (!/^https?:\/\/\S+$/.test(url) || /[\x00-\x1f\x7f]/.test(url)) errors.url = "an http:// or https:// URL without spaces";
  else if (url.length < 9 || url.length > 2048) errors.url = "9 to 2048 characters";
  if (secret && (secret.length < 16 || secret.length > 256)) errors.secret = "16 to 256 characters, or empty to have one made";
  if (!events.length) errors.events = "at least one event";
  return errors;
}

function hookForm(kind, scope, events, onAdded) {
  const msg = h("div", { "aria-live": "polite" });
  const url = h("input", { name: "url", id: "webhook-url", type: "url", placeholder: "https://ci.example.org/hooks/berth", autocomplete: "off", "aria-describedby": "webhook-url-error" });
  const secret = h("input", { name: "secret", id: "webhook-secret", autocomplete: "off", placeholder: "(made by berthd)", "aria-describedby": "webhook-secret-hint webhook-secret-error" });
  const boxes = events.map((e) => h("input", { type: "checkbox", name: "events", value: e, checked: e !== "mirror" || events.length === 1 }));
  const err = { url: h("p", { class: "field-error", id: "webhook-url-error", hidden: true }), secret: h("p", { class: "field-error", id: "webhook-secret-error", hidden: true }), events: h("p", { class: "field-error", id: "webhook-events-error", hidden: true }) };
  const inputs = { url, secret, events: boxes[0] };
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
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Add webhook");
  const form = h("form", { id: "webhook-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    mount(msg);
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    const errors = checkWebhook(url.value.trim(), secret.value, events);
    show(errors);
    if (Object.keys(errors).length) return;
    const body = { [kind]: scope, url: url.value.trim(), events };
    if (secret.value) body.secret = secret.value;
    submit.disabled = true;
    try {
      const hook = await api("POST", "/webhooks", body);
      form.reset();
      mount(msg, h("div", { class: "alert alert-success", role: "status" },
        h("p", {}, "Webhook added. Its secret signs every delivery (X-Berth-Signature-256); copy it now, it is not shown again:"),
        h("div", { class: "pull-cmd" }, h("code", { id: "webhook-secret-new" }, hook.secret), copyButton(hook.secret, "Copy the secret"))));
      onAdded();
    } catch (e) {
      const f = /\burl\b/.test(e.message) ? "url" : /secret/.test(e.message) ? "secret" : /events/.test(e.message) ? "events" : null;
      if (f) show({ [f]: e.message });
      else mount(msg, alertBox(e.message));
    } finally {
      submit.disabled = false;
    }
  } },
  h("div", { class: "field" }, h("label", { for: url.id }, "Payload URL"), url, err.url),
  h("div", { class: "field" }, h("label", { for: secret.id }, "Secret"), secret,
    h("p", { class: "hint", id: "webhook-secret-hint" }, "16 to 256 characters; leave empty and berthd makes one"), err.secret),
  h("fieldset", { class: "checks" }, h("legend", {}, "Events"),
    events.map((e, i) => h("label", { class: "check" }, boxes[i], " ", EVENT_LABELS[e])),
    err.events),
  h("div", {}, submit));
  return [msg, form];
}

// kind is "repository" or "namespace"; scope its name. events: those the form offers (a
// repository of the pull-through cache gets only "mirror" events; others never do).
export async function webhooksSection(kind, scope, events = ["push", "delete", "mirror"]) {
  const section = h("section", { class: "card section", "aria-labelledby": "webhooks-h", id: "webhooks" });
  const msg = h("div", { "aria-live": "polite" });
  const list = h("div", {});
  const fail = (e) => mount(msg, alertBox(e.message));
  const load = async () => {
    const doc = await api("GET", `/webhooks?${kind}=${encodeURIComponent(scope)}`);
    const rows = doc.webhooks.flatMap((hk) => hookRow(hk, () => load().catch(fail), fail));
    mount(list, doc.webhooks.length
      ? table(["URL", "Events", "Added", ""], rows, "webhooks-table")
      : emptyState("No webhooks", kind === "repository" ? "Add one to be told of this repository's pushes and deletes." : "Add one to be told of pushes and deletes in every repository of " + scope + "."));
  };
  mount(section, h("h2", { id: "webhooks-h" }, "Webhooks"),
    h("p", { class: "muted" }, "berthd POSTs a JSON event to each URL on ", events.map((e, i) => [i ? (i === events.length - 1 ? " or " : ", ") : "a ", h("code", {}, e)]),
      kind === "repository" ? " in this repository" : " in any repository of " + scope,
      ", signed with the webhook's secret, and retries until it is answered with 2xx."),
    msg, list, h("h3", {}, "New webhook"), ...hookForm(kind, scope, events, () => load().catch(fail)));
  await load();
  return section;
}
