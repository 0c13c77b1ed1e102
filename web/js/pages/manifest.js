// A tag or digest: for an index, each platform's manifest; for an image, its config
// (entrypoint, command, environment, ports, labels...), the layers with the command that
// made each, annotations, referrers (signatures, SBOMs) and the raw manifest.
import { api } from "../api.js";
import { apiRepoPath, copyButton, emptyState, h, humanSize, mount, repoPath, setTitle, shortDigest, table, timeAgoIso } from "../dom.js";
import { pullCommand } from "./repo.js";

function keyValueTable(obj, empty) {
  const keys = obj ? Object.keys(obj).sort() : [];
  if (!keys.length) return h("p", { class: "muted" }, empty);
  return table(["Key", "Value"], keys.map((k) => h("tr", {}, h("td", { class: "mono" }, k), h("td", { class: "mono wrap" }, String(obj[k])))));
}

function list(v) {
  if (v === null || v === undefined || (Array.isArray(v) && !v.length) || v === "") return h("span", { class: "muted" }, "—");
  if (Array.isArray(v)) return h("code", { class: "mono wrap" }, JSON.stringify(v));
  return h("code", { class: "mono" }, String(v));
}

function configSection(c, missing) {
  if (!c) return h("section", { class: "card section" }, h("h2", {}, "Configuration"), h("p", { class: "muted" }, missing || "No configuration."));
  const env = c.env && c.env.length
    ? h("ul", { class: "env-list" }, c.env.map((e) => h("li", { class: "mono wrap" }, e)))
    : h("span", { class: "muted" }, "—");
  return h("section", { class: "card section", "aria-labelledby": "config-h" },
    h("h2", { id: "config-h" }, "Configuration"),
    h("dl", { class: "kv kv-wide" },
      h("dt", {}, "Platform"), h("dd", {}, [c.os, c.architecture, c.variant].filter(Boolean).join("/") || "—"),
      h("dt", {}, "Created"), h("dd", {}, c.created ? timeAgoIso(c.created) : h("span", { class: "muted" }, "—")),
      h("dt", {}, "Entrypoint"), h("dd", {}, list(c.entrypoint)),
      h("dt", {}, "Cmd"), h("dd", {}, list(c.cmd)),
      h("dt", {}, "WorkingDir"), h("dd", {}, list(c.working_dir)),
      h("dt", {}, "User"), h("dd", {}, list(c.user)),
      h("dt", {}, "ExposedPorts"), h("dd", {}, c.exposed_ports.length ? h("div", { class: "chips" }, c.exposed_ports.map((p) => h("span", { class: "chip" }, p))) : h("span", { class: "muted" }, "—")),
      h("dt", {}, "Env"), h("dd", {}, env)),
    h("h3", {}, "Labels"), keyValueTable(c.labels, "No labels."));
}

function layersSection(doc) {
  const rows = doc.layers.map((l, i) => h("tr", {},
    h("td", { class: "num" }, String(i + 1)),
    h("td", { class: "cmd" }, l.created_by ? h("code", { class: "mono wrap", title: l.created_by }, l.created_by.replace(/^\/bin\/sh -c #\(nop\)\s*/, "")) : h("span", { class: "muted" }, "—")),
    h("td", { class: "mono", title: l.digest }, shortDigest(l.digest)),
    h("td", { class: "num" }, humanSize(l.size))));
  return h("section", { class: "card section", "aria-labelledby": "layers-h" },
    h("h2", { id: "layers-h" }, "Layers ", h("span", { class: "count" }, String(doc.layers.length))),
    doc.layers.length ? table(["#", "Command", "Digest", "Size"], rows, "layers-table") : h("p", { class: "muted" }, "No layers."),
    h("p", { class: "total" }, "Total compressed size: ", h("strong", { id: "total-size" }, humanSize(doc.total_size))));
}

function platformsSection(name, doc) {
  const rows = doc.manifests.map((m) => h("tr", {},
    h("td", {}, m.platform ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join("/") : h("span", { class: "muted" }, "—"), m.attestation ? " (attestation)" : ""),
    h("td", {}, h("a", { class: "mono digest", href: repoPath(name) + "/-/tags/" + encodeURIComponent(m.digest), title: m.digest }, shortDigest(m.digest))),
    h("td", { class: "num" }, humanSize(m.compressed_size))));
  return h("section", { class: "card section", "aria-labelledby": "platforms-h" },
    h("h2", { id: "platforms-h" }, "Platforms ", h("span", { class: "count" }, String(doc.manifests.length))),
    table(["Platform", "Manifest", "Compressed size"], rows, "platforms-table"),
    h("p", { class: "total" }, "Total compressed size: ", h("strong", {}, humanSize(doc.total_size))));
}

function referrersSection(name, doc) {
  const rows = doc.referrers.map((r) => h("tr", {},
    h("td", {}, r.artifact_type || r.media_type),
    h("td", {}, h("a", { class: "mono digest", href: repoPath(name) + "/-/tags/" + encodeURIComponent(r.digest), title: r.digest }, shortDigest(r.digest))),
    h("td", { class: "num" }, humanSize(r.size)),
    h("td", {}, r.annotations && r.annotations["org.opencontainers.image.created"] ? timeAgoIso(r.annotations["org.opencontainers.image.created"]) : h("span", { class: "muted" }, "—"))));
  return h("section", { class: "card section", "aria-labelledby": "referrers-h" },
    h("h2", { id: "referrers-h" }, "Referrers ", h("span", { class: "count" }, String(doc.referrers.length))),
    doc.referrers.length ? table(["Artifact type", "Digest", "Size", "Created"], rows) : h("p", { class: "muted" }, "Nothing refers to this manifest (no signatures, SBOMs or attestations)."));
}

export async function manifestPage(root, name, ref, ctx) {
  setTitle(name + (ref.includes(":") ? "@" + shortDigest(ref) : ":" + ref));
  const doc = await api("GET", apiRepoPath(name) + "/manifests/" + encodeURIComponent(ref));
  if (!ctx.isCurrent()) return;
  const isDigest = ref.includes(":");
  const full = location.host + "/" + name + (isDigest ? "@" + ref : ":" + ref);
  const raw = JSON.stringify(doc.manifest, null, 2);
  mount(root, h("div", { class: "page" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "/u/" + encodeURIComponent(name.split("/")[0]) }, name.split("/")[0]), " / ",
      h("a", { href: repoPath(name) }, name.split("/").slice(1).join("/") || name), " / ",
      h("span", { "aria-current": "page" }, isDigest ? shortDigest(ref) : ref)),
    h("div", { class: "repo-head" },
      h("div", {},
        h("h1", { class: "repo-title" }, isDigest ? h("span", { class: "mono" }, shortDigest(ref)) : ref, " ", h("span", { class: "badge badge-kind" }, doc.kind === "index" ? "multi-platform index" : doc.artifact_type ? "artifact" : "image"),
          doc.config && doc.config.os ? h("span", { class: "chip", id: "manifest-platform" }, [doc.config.os, doc.config.architecture, doc.config.variant].filter(Boolean).join("/")) : null),
        h("p", { class: "digest-line" }, h("code", { class: "mono", id: "manifest-digest" }, doc.digest), copyButton(doc.digest, "Copy digest")),
        h("p", { class: "muted" }, doc.media_type, " · manifest ", humanSize(doc.size), doc.artifact_type ? " · " + doc.artifact_type : "")),
      h("div", { class: "repo-stats" }, h("div", { class: "stat" }, h("strong", {}, humanSize(doc.total_size)), h("span", {}, "compressed")))),
    h("div", { class: "layout" },
      h("div", { class: "layout-main" },
        doc.kind === "index" ? platformsSection(name, doc) : [layersSection(doc), configSection(doc.config, doc.config_missing)],
        h("section", { class: "card section", "aria-labelledby": "ann-h" }, h("h2", { id: "ann-h" }, "Annotations"), keyValueTable(doc.annotations, "No annotations.")),
        referrersSection(name, doc),
        h("section", { class: "card section" },
          h("details", { class: "raw" }, h("summary", {}, "Raw manifest"),
            h("div", { class: "raw-tools" }, copyButton(raw, "Copy raw manifest")),
            h("pre", { class: "mono", id: "raw-manifest" }, raw)))),
      h("aside", { class: "layout-side" },
        h("section", { class: "card section" }, h("h2", {}, "Pull and run"), pullCommand(full, "pull-ref")),
        doc.subject ? h("section", { class: "card section" }, h("h2", {}, "Refers to"),
          h("a", { class: "mono digest", href: repoPath(name) + "/-/tags/" + encodeURIComponent(doc.subject) }, shortDigest(doc.subject))) : null))));
  if (doc.kind !== "index" && !doc.layers.length && !doc.config) root.querySelector(".layout-main").prepend(emptyState("An artifact", "This manifest carries no image layers."));
}
