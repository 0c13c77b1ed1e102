#!/usr/bin/env python3
"""Manifests: PUT/GET/HEAD/DELETE by tag and by digest for every supported media type
(Docker schema2 and manifest list, OCI manifest, index and artifact), exact bytes and
headers, every validation error, tag grammar, OCI 1.1 `subject` and `?tag=`, and delete
semantics. Every rejected PUT/DELETE is checked to leave the stored state unchanged."""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("manifests")


def prep(reg, repo, kind="oci", layers=1):
    """Push config and layer blobs; return (manifest dict, media type) without pushing it."""
    if kind == "artifact":
        cfg, cmt = EMPTY_CONFIG_DATA, MT_OCI_EMPTY
    else:
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "n": rand_name()}).encode()
        cmt = MT_DOCKER_CONFIG if kind == "docker" else MT_OCI_CONFIG
    reg.push_blob(repo, cfg)
    ls = []
    for _ in range(layers):
        data = rand_bytes(256)
        reg.push_blob(repo, data)
        ls.append(descriptor(MT_DOCKER_LAYER if kind == "docker" else
                             ("application/vnd.example.sbom+json" if kind == "artifact"
                              else MT_OCI_LAYER), data))
    if kind == "docker":
        return docker_manifest(descriptor(cmt, cfg), ls), MT_DOCKER_MANIFEST
    return oci_manifest(descriptor(cmt, cfg), ls,
                        artifact_type="application/vnd.example.sbom" if kind == "artifact" else None), MT_OCI_MANIFEST


def put(reg, repo, ref, body, ct):
    return reg.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), {"Content-Type": ct}, body)


def rejected(reg, repo, ref, body, ct, status, *codes):
    """PUT that must fail with status and one of codes, changing nothing. Returns the code."""
    extra = [(repo, ref), (repo, sha256(body))]
    before = reg.snapshot(repos=[repo], manifests=extra, scope=[repo])
    r = put(reg, repo, ref, body, ct)
    code = expect_error(r, status, *codes)
    reg.unchanged(before, repos=[repo], manifests=extra, scope=[repo])
    return code


def check_served(reg, repo, ref, body, ct):
    """GET and HEAD of repo:ref serve exactly body with content type ct."""
    d = sha256(body)
    r = reg.get_manifest(repo, ref)
    expect_status(r, 200)
    check(r.body == body, "GET %s returned different bytes (%d, want %d)" % (ref, len(r.body), len(body)), r)
    expect_header(r, "Content-Type", ct)
    expect_header(r, "Docker-Content-Digest", d)
    expect_header(r, "Content-Length", str(len(body)))
    with reg.connect() as c:
        r = c.request("HEAD", "/v2/%s/manifests/%s" % (repo, ref), {"Accept": MANIFEST_ACCEPT})
        expect_status(r, 200)
        expect_header(r, "Content-Length", str(len(body)))
        expect_header(r, "Docker-Content-Digest", d)
        expect_header(r, "Content-Type", ct)
        r2 = c.request("GET", "/v2/")  # a HEAD body would break this
        expect_status(r2, 200)


def check_put(reg, r, repo, body):
    expect_status(r, 201)
    d = sha256(body)
    expect_header(r, "Docker-Content-Digest", d)
    loc = loc_path(expect_header(r, "Location"))
    check(loc.startswith("/v2/%s/manifests/" % repo), "Location %r not a manifest URL of %s" % (loc, repo), r)


def push_and_check(reg, repo, tag, body, ct):
    r = reg.push_manifest(repo, tag, body, ct, expect=None)
    check_put(reg, r, repo, body)
    check_served(reg, repo, tag, body, ct)
    check_served(reg, repo, sha256(body), body, ct)


# --- every kind, by tag and by digest


@suite.case("{0}: PUT by tag 201, GET/HEAD by tag and digest serve exact bytes and headers",
            params=["docker", "oci", "artifact"])
def _(reg, kind):
    repo = reg.repo("man/" + kind)
    m, mt = prep(reg, repo, kind)
    push_and_check(reg, repo, "v1", canon(m), mt)


@suite.case("{0}: odd whitespace and key order are stored byte for byte",
            params=["docker", "oci"])
def _(reg, kind):
    repo = reg.repo("man/odd-" + kind)
    m, mt = prep(reg, repo, kind)
    layers = ",\n      ".join(json.dumps(l, indent=None, separators=(" ,", ":  ")) for l in m["layers"])
    body = ('\n{\n   "layers" : [\n      %s ],\n\t"config":%s , "mediaType":  "%s",\r\n "schemaVersion"  :2 }\n\n'
            % (layers, json.dumps(dict(reversed(list(m["config"].items())))), mt)).encode()
    push_and_check(reg, repo, "odd", body, mt)


@suite.case("OCI manifest with unicode escapes and non-ASCII annotation stored byte for byte")
def _(reg):
    repo = reg.repo("man/unicode")
    m, mt = prep(reg, repo, "oci")
    m["annotations"] = {"org.example.note": "caf\u00e9 \u2603 \\u00e9"}
    body = json.dumps(m, ensure_ascii=False, indent=2).encode("utf-8")
    push_and_check(reg, repo, "u", body, mt)


@suite.case("OCI manifest without the optional mediaType field -> 201 with Content-Type as sent")
def _(reg):
    repo = reg.repo("man/nomt")
    m, mt = prep(reg, repo, "oci")
    del m["mediaType"]
    push_and_check(reg, repo, "nomt", canon(m), MT_OCI_MANIFEST)


@suite.case("OCI artifact: empty config blob {} has digest sha256:44136fa...; GET config blob")
def _(reg):
    repo = reg.repo("man/artifact2")
    m, mt = prep(reg, repo, "artifact")
    check(m["config"]["digest"] == EMPTY_CONFIG_DIGEST and m["config"]["size"] == 2, "empty descriptor")
    push_and_check(reg, repo, "a", canon(m), mt)
    r = reg.get("/v2/%s/blobs/%s" % (repo, EMPTY_CONFIG_DIGEST))
    expect_status(r, 200)
    check(r.body == b"{}", "empty config content", r)


@suite.case("OCI artifact without layers (config only, artifactType set) -> 201")
def _(reg):
    repo = reg.repo("man/artifact3")
    reg.push_blob(repo, EMPTY_CONFIG_DATA)
    m = oci_manifest(descriptor(MT_OCI_EMPTY, EMPTY_CONFIG_DATA), [],
                     artifact_type="application/vnd.example.signature")
    push_and_check(reg, repo, "sig", canon(m), MT_OCI_MANIFEST)


@suite.case("{0}: index of two manifests PUT by tag, GET/HEAD serve exact bytes",
            params=["docker-list", "oci-index"])
def _(reg, kind):
    repo = reg.repo("man/" + kind)
    ikind = "docker" if kind == "docker-list" else "oci"
    children = []
    for arch in ("amd64", "arm64"):
        img = reg.push_image(repo, None, kind=ikind)
        children.append(img.desc(platform=platform(arch)))
    body = json.dumps(index(children, kind=ikind), indent=3).encode()
    push_and_check(reg, repo, "multi", body, MT_DOCKER_LIST if ikind == "docker" else MT_OCI_INDEX)


@suite.case("OCI index containing an index -> 201")
def _(reg):
    repo = reg.repo("man/nested-index")
    img = reg.push_image(repo, None)
    inner = canon(index([img.desc(platform=platform())]))
    expect_status(reg.push_manifest(repo, sha256(inner), inner, MT_OCI_INDEX, expect=None), 201)
    outer = canon(index([{"mediaType": MT_OCI_INDEX, "digest": sha256(inner), "size": len(inner)}]))
    push_and_check(reg, repo, "outer", outer, MT_OCI_INDEX)


@suite.case("PUT by digest (no tag) -> 201 with Location; not in tags list")
def _(reg):
    repo = reg.repo("man/bydigest")
    reg.push_image(repo, "keep")  # so the repo has a tag list
    m, mt = prep(reg, repo, "oci")
    body = canon(m)
    d = sha256(body)
    r = reg.push_manifest(repo, d, body, mt, expect=None)
    check_put(reg, r, repo, body)
    check(loc_path(r.h("Location")) == "/v2/%s/manifests/%s" % (repo, d),
          "Location %r, want /v2/%s/manifests/%s" % (r.h("Location"), repo, d), r)
    check_served(reg, repo, d, body, mt)
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(r.json().get("tags") == ["keep"], "tags %r, want ['keep']" % r.json().get("tags"), r)


@suite.case("same manifest PUT twice -> 201 both times, same digest")
def _(reg):
    repo = reg.repo("man/twice")
    m, mt = prep(reg, repo, "docker")
    body = canon(m)
    for _ in range(2):
        r = reg.push_manifest(repo, "t", body, mt, expect=None)
        check_put(reg, r, repo, body)


@suite.case("re-tagging moves the tag; the old manifest stays fetchable by digest")
def _(reg):
    repo = reg.repo("man/retag")
    a = reg.push_image(repo, "t")
    b = reg.push_image(repo, "t")
    check_served(reg, repo, "t", b.body, b.media_type)
    check_served(reg, repo, a.digest, a.body, a.media_type)


@suite.case("manifest of repo A is not readable through repo B -> 404 MANIFEST_UNKNOWN")
def _(reg):
    a = reg.repo("man/iso-a")
    b = reg.repo("man/iso-b")
    img = reg.push_image(a, "t")
    reg.push_image(b, "other")
    expect_error(reg.get_manifest(b, img.digest), 404, "MANIFEST_UNKNOWN")
    expect_status(reg.get_manifest(b, img.digest, method="HEAD"), 404)


# --- lookups that fail


@suite.case("GET unknown tag -> 404 MANIFEST_UNKNOWN; HEAD -> 404")
def _(reg):
    repo = reg.repo("man/lookup")
    reg.push_image(repo, "exists")
    expect_error(reg.get_manifest(repo, "nosuchtag"), 404, "MANIFEST_UNKNOWN")
    expect_status(reg.get_manifest(repo, "nosuchtag", method="HEAD"), 404)


@suite.case("GET unknown digest -> 404 MANIFEST_UNKNOWN; HEAD -> 404")
def _(reg):
    repo = reg.repo("man/lookup")
    reg.push_image(repo, "exists")
    d = sha256(b"no such manifest")
    expect_error(reg.get_manifest(repo, d), 404, "MANIFEST_UNKNOWN")
    expect_status(reg.get_manifest(repo, d, method="HEAD"), 404)


@suite.case("GET manifest by the digest of a layer blob -> 404 MANIFEST_UNKNOWN")
def _(reg):
    repo = reg.repo("man/lookup2")
    img = reg.push_image(repo, "exists")
    expect_error(reg.get_manifest(repo, img.blobs[1][0]), 404, "MANIFEST_UNKNOWN")


@suite.case("GET manifest in unknown repository -> 404 MANIFEST_UNKNOWN or NAME_UNKNOWN")
def _(reg):
    expect_error(reg.get_manifest(reg.repo("man/never"), "latest"), 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")


@suite.case("GET manifest with invalid digest reference {0} -> 400 DIGEST_INVALID",
            params=["sha256:" + "a" * 63, "sha256:" + "A" * 64, "md5:" + "a" * 32])
def _(reg, ref):
    repo = reg.repo("man/lookup")
    reg.push_image(repo, "exists")
    expect_error(reg.get_manifest(repo, ref), 400, "DIGEST_INVALID")


# --- invalid bodies


@suite.case("PUT malformed body {0} -> 400 MANIFEST_INVALID, nothing changed",
            params=[("truncated JSON", b'{"schemaVersion": 2, "mediaType": "' + MT_OCI_MANIFEST.encode()),
                    ("empty body", b""),
                    ("JSON array", b"[]"),
                    ("JSON string", b'"manifest"'),
                    ("trailing garbage", b'{"schemaVersion":2}garbage'),
                    ("invalid UTF-8", b'{"schemaVersion":2,"mediaType":"\xff\xfe"}'),
                    ("NUL byte", b'{"schemaVersion":2,\x00}'),
                    ("deeply nested", b'{"schemaVersion":2,"x":' + b"[" * 5000 + b"]" * 5000 + b"}")])
def _(reg, label, body):
    repo = reg.repo("man/bad")
    reg.push_image(repo, "exists")
    rejected(reg, repo, "bad", body, MT_OCI_MANIFEST, 400, "MANIFEST_INVALID")
    expect_status(reg.get("/v2/"), 200)


@suite.case("PUT schemaVersion {0} -> 400 MANIFEST_INVALID, nothing changed",
            params=[1, 3, 0, "2", None])
def _(reg, sv):
    repo = reg.repo("man/bad")
    m, mt = prep(reg, repo, "docker")
    if sv is None:
        del m["schemaVersion"]
    else:
        m["schemaVersion"] = sv
    rejected(reg, repo, "badsv", canon(m), mt, 400, "MANIFEST_INVALID")


@suite.case("PUT schema1 manifest with Content-Type {0} -> 400 MANIFEST_INVALID",
            params=[MT_DOCKER_SCHEMA1_SIGNED, MT_DOCKER_SCHEMA1])
def _(reg, ct):
    repo = reg.repo("man/bad")
    layer = rand_bytes(100)
    reg.push_blob(repo, layer)
    body = canon({"schemaVersion": 1, "name": repo, "tag": "s1", "architecture": "amd64",
                  "fsLayers": [{"blobSum": sha256(layer)}],
                  "history": [{"v1Compatibility": json.dumps({"id": "a" * 64})}]})
    rejected(reg, repo, "s1", body, ct, 400, "MANIFEST_INVALID")


@suite.case("Content-Type {0} vs body mediaType {1} -> 400 MANIFEST_INVALID",
            params=[(MT_OCI_MANIFEST, MT_DOCKER_MANIFEST), (MT_DOCKER_MANIFEST, MT_OCI_MANIFEST),
                    (MT_OCI_INDEX, MT_OCI_MANIFEST), (MT_DOCKER_LIST, MT_OCI_MANIFEST),
                    (MT_OCI_MANIFEST, MT_OCI_INDEX)])
def _(reg, ct, body_mt):
    repo = reg.repo("man/mismatch")
    m, mt = prep(reg, repo, "oci")
    m["mediaType"] = body_mt
    rejected(reg, repo, "mm", canon(m), ct, 400, "MANIFEST_INVALID")


@suite.case("Docker schema2 body without mediaType -> 400 MANIFEST_INVALID")
def _(reg):
    repo = reg.repo("man/mismatch")
    m, mt = prep(reg, repo, "docker")
    del m["mediaType"]
    rejected(reg, repo, "nomt", canon(m), MT_DOCKER_MANIFEST, 400, "MANIFEST_INVALID")


@suite.case("image manifest {0} -> 400 MANIFEST_INVALID", params=[
    ("without config", lambda m: m.pop("config")),
    ("with config not an object", lambda m: m.__setitem__("config", "x")),
    ("with layers not an array", lambda m: m.__setitem__("layers", {"a": 1})),
    ("with a layer without digest", lambda m: m["layers"][0].pop("digest")),
    ("with a negative layer size", lambda m: m["layers"][0].__setitem__("size", -1)),
    ("with a string layer size", lambda m: m["layers"][0].__setitem__("size", "256")),
    ("with a layer digest 'sha256:xyz'", lambda m: m["layers"][0].__setitem__("digest", "sha256:xyz")),
])
def _(reg, label, mutate):
    repo = reg.repo("man/shape")
    m, mt = prep(reg, repo, "oci")
    mutate(m)
    code = rejected(reg, repo, "shape", canon(m), mt, 400, "MANIFEST_INVALID", "DIGEST_INVALID")
    if code != "MANIFEST_INVALID":
        note("answered %s" % code)


@suite.case("missing {0} blob -> 400 MANIFEST_BLOB_UNKNOWN, nothing changed",
            params=["layer", "config"])
def _(reg, which):
    repo = reg.repo("man/missing")
    m, mt = prep(reg, repo, "oci", layers=2)
    ghost = descriptor(MT_OCI_LAYER if which == "layer" else MT_OCI_CONFIG, b"never pushed " + rand_bytes(8))
    if which == "layer":
        m["layers"][1] = ghost
    else:
        m["config"] = ghost
    rejected(reg, repo, "missing", canon(m), mt, 400, "MANIFEST_BLOB_UNKNOWN")


@suite.case("layer blob stored only in another repository -> 400 MANIFEST_BLOB_UNKNOWN")
def _(reg):
    repo = reg.repo("man/missing2")
    other = reg.repo("man/missing2-other")
    m, mt = prep(reg, repo, "docker")
    data = rand_bytes(300)
    reg.push_blob(other, data)
    m["layers"].append(descriptor(MT_DOCKER_LAYER, data))
    rejected(reg, repo, "x", canon(m), mt, 400, "MANIFEST_BLOB_UNKNOWN")


@suite.case("{0} naming a missing child manifest -> 400 MANIFEST_BLOB_UNKNOWN",
            params=["oci-index", "docker-list"])
def _(reg, kind):
    repo = reg.repo("man/missing-child")
    ikind = "docker" if kind == "docker-list" else "oci"
    img = reg.push_image(repo, None, kind=ikind)
    mt = MT_DOCKER_MANIFEST if ikind == "docker" else MT_OCI_MANIFEST
    ghost = {"mediaType": mt, "digest": sha256(b"no such child"), "size": 100, "platform": platform("arm64")}
    body = canon(index([img.desc(platform=platform()), ghost], kind=ikind))
    rejected(reg, repo, "idx", body, MT_DOCKER_LIST if ikind == "docker" else MT_OCI_INDEX,
             400, "MANIFEST_BLOB_UNKNOWN")


@suite.case("index whose child exists only in another repository -> 400 MANIFEST_BLOB_UNKNOWN")
def _(reg):
    repo = reg.repo("man/missing-child2")
    other = reg.repo("man/missing-child2-other")
    img = reg.push_image(other, "t")
    reg.push_image(repo, "exists")
    body = canon(index([img.desc(platform=platform())]))
    rejected(reg, repo, "idx", body, MT_OCI_INDEX, 400, "MANIFEST_BLOB_UNKNOWN")


@suite.case("PUT by digest whose body hashes differently -> 400 DIGEST_INVALID, nothing changed")
def _(reg):
    repo = reg.repo("man/digest")
    m, mt = prep(reg, repo, "oci")
    body = canon(m)
    wrong = sha256(body + b" ")
    rejected(reg, repo, wrong, body, mt, 400, "DIGEST_INVALID")


@suite.case("PUT by malformed digest reference sha256:abc -> 400")
def _(reg):
    repo = reg.repo("man/digest")
    m, mt = prep(reg, repo, "oci")
    code = rejected(reg, repo, "sha256:abc", canon(m), mt, 400,
                    "DIGEST_INVALID", "TAG_INVALID", "MANIFEST_INVALID")
    note("answered %s" % code)


@suite.case("PUT body > 4 MiB -> 413, nothing changed")
def _(reg):
    repo = reg.repo("man/big")
    m, mt = prep(reg, repo, "oci")
    m["annotations"] = {"pad": "x" * ((4 << 20) + 1024)}
    body = canon(m)
    extra = [(repo, "big"), (repo, sha256(body))]
    before = reg.snapshot(repos=[repo], manifests=extra, scope=[repo])
    r = reg.request("PUT", "/v2/%s/manifests/big" % repo, {"Content-Type": mt}, body, timeout=20)
    expect_status(r, 413)
    if r.error_codes():
        note("413 with codes %s" % r.error_codes())
    reg.unchanged(before, repos=[repo], manifests=extra, scope=[repo])


@suite.case("PUT body just under 4 MiB -> 201")
def _(reg):
    repo = reg.repo("man/big")
    m, mt = prep(reg, repo, "oci")
    m["annotations"] = {"pad": ""}
    base = len(canon(m))
    m["annotations"]["pad"] = "x" * ((4 << 20) - base - 16)
    body = canon(m)
    check(len(body) < (4 << 20), "test bug: body %d" % len(body))
    r = reg.push_manifest(repo, "nearly4m", body, mt, expect=None)
    check_put(reg, r, repo, body)
    r = reg.get_manifest(repo, "nearly4m")
    expect_status(r, 200)
    check(r.body == body, "bytes differ", r)


@suite.case("PUT with Content-Length larger than the body, connection closed -> nothing stored")
def _(reg):
    repo = reg.repo("man/trunc")
    m, mt = prep(reg, repo, "oci")
    body = canon(m)
    extra = [(repo, "trunc"), (repo, sha256(body))]
    before = reg.snapshot(repos=[repo], manifests=extra, scope=[repo])
    reg.truncated("PUT", "/v2/%s/manifests/trunc" % repo, {"Content-Type": mt}, len(body) + 100, body, len(body))
    reg.unchanged(before, repos=[repo], manifests=extra, scope=[repo])


# --- tags


@suite.case("invalid tag {0} on PUT -> 400 TAG_INVALID or MANIFEST_INVALID, nothing changed",
            params=[".bad", "-bad", "a" * 129, "a+b", "a%20b", "%2e%2e", "a%2Fb", "t%C3%A9"])
def _(reg, tag):
    repo = reg.repo("man/tags")
    m, mt = prep(reg, repo, "oci")
    ref = tag if "%" in tag else urllib.parse.quote(tag, safe="")
    code = rejected(reg, repo, ref, canon(m), mt, 400, "TAG_INVALID", "MANIFEST_INVALID")
    note("answered %s" % code)


@suite.case("valid tag {0} -> 201 and GETtable", params=["a" * 128, "_x", "A.b-C_9", "9", "latest", "v1.2.3-rc.1_b"])
def _(reg, tag):
    repo = reg.repo("man/tags")
    m, mt = prep(reg, repo, "oci")
    body = canon(m)
    reg.push_manifest(repo, tag, body, mt)
    check_served(reg, repo, tag, body, mt)


@suite.case("PUT ?tag=a&tag=b (OCI 1.1) tags the manifest with all of them [OCI 1.1]")
def _(reg):
    repo = reg.repo("man/multitag")
    m, mt = prep(reg, repo, "oci")
    body = canon(m)
    d = sha256(body)
    r = reg.request("PUT", "/v2/%s/manifests/%s?tag=one&tag=two&tag=three" % (repo, d),
                    {"Content-Type": mt}, body)
    check_put(reg, r, repo, body)
    reg.known_repos.add(repo)
    reg.known_manifests.add((repo, d))
    for t in ("one", "two", "three"):
        check_served(reg, repo, t, body, mt)
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(sorted(r.json().get("tags") or []) == ["one", "three", "two"], "tags %r" % r.json().get("tags"), r)


@suite.case("PUT ?tag= with an invalid tag -> 400, nothing changed [OCI 1.1]")
def _(reg):
    repo = reg.repo("man/multitag")
    m, mt = prep(reg, repo, "oci")
    body = canon(m)
    d = sha256(body)
    extra = [(repo, d), (repo, "good")]
    before = reg.snapshot(repos=[repo], manifests=extra, scope=[repo])
    r = reg.request("PUT", "/v2/%s/manifests/%s?tag=good&tag=.bad" % (repo, d), {"Content-Type": mt}, body)
    expect_error(r, 400, "TAG_INVALID", "MANIFEST_INVALID")
    reg.unchanged(before, repos=[repo], manifests=extra, scope=[repo])


# --- subject


@suite.case("PUT with subject -> 201 and OCI-Subject header = subject digest [OCI 1.1]")
def _(reg):
    repo = reg.repo("man/subject")
    subj = reg.push_image(repo, "base")
    m, mt = prep(reg, repo, "artifact")
    m["subject"] = subj.desc()
    body = canon(m)
    r = reg.push_manifest(repo, sha256(body), body, mt, expect=None)
    check_put(reg, r, repo, body)
    expect_header(r, "OCI-Subject", subj.digest)


# --- delete


@suite.case("DELETE by tag -> 202: tag gone, manifest still GETtable by digest, other tag stays")
def _(reg):
    repo = reg.repo("man/deltag")
    img = reg.push_image(repo, "t1")
    reg.push_manifest(repo, "t2", img.body, img.media_type)
    r = reg.request("DELETE", "/v2/%s/manifests/t1" % repo)
    expect_status(r, 202)
    expect_error(reg.get_manifest(repo, "t1"), 404, "MANIFEST_UNKNOWN")
    check_served(reg, repo, img.digest, img.body, img.media_type)
    check_served(reg, repo, "t2", img.body, img.media_type)
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(r.json().get("tags") == ["t2"], "tags %r, want ['t2']" % r.json().get("tags"), r)


@suite.case("DELETE by digest -> 202: manifest and all its tags gone; second DELETE 404")
def _(reg):
    repo = reg.repo("man/deldigest")
    keep = reg.push_image(repo, "keep")
    img = reg.push_image(repo, "t1")
    reg.push_manifest(repo, "t2", img.body, img.media_type)
    r = reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, img.digest))
    expect_status(r, 202)
    expect_error(reg.get_manifest(repo, img.digest), 404, "MANIFEST_UNKNOWN")
    expect_status(reg.get_manifest(repo, img.digest, method="HEAD"), 404)
    expect_error(reg.get_manifest(repo, "t1"), 404, "MANIFEST_UNKNOWN")
    expect_error(reg.get_manifest(repo, "t2"), 404, "MANIFEST_UNKNOWN")
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(r.json().get("tags") == ["keep"], "tags %r, want ['keep']" % r.json().get("tags"), r)
    check_served(reg, repo, "keep", keep.body, keep.media_type)
    expect_error(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, img.digest)), 404, "MANIFEST_UNKNOWN")


@suite.case("deleted manifest can be pushed again")
def _(reg):
    repo = reg.repo("man/repush")
    img = reg.push_image(repo, "t")
    expect_status(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, img.digest)), 202)
    reg.push_manifest(repo, "t", img.body, img.media_type)
    check_served(reg, repo, "t", img.body, img.media_type)


@suite.case("DELETE unknown {0} -> 404 MANIFEST_UNKNOWN, nothing changed", params=["tag", "digest"])
def _(reg, what):
    repo = reg.repo("man/delunknown")
    reg.push_image(repo, "exists")
    ref = "nosuchtag" if what == "tag" else sha256(b"nothing")
    before = reg.snapshot()
    expect_error(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, ref)), 404, "MANIFEST_UNKNOWN")
    reg.unchanged(before)


@suite.case("DELETE with invalid digest reference -> 400 DIGEST_INVALID, nothing changed")
def _(reg):
    repo = reg.repo("man/delunknown")
    reg.push_image(repo, "exists")
    before = reg.snapshot()
    expect_error(reg.request("DELETE", "/v2/%s/manifests/sha256:%s" % (repo, "A" * 64)), 400, "DIGEST_INVALID")
    reg.unchanged(before)


@suite.case("DELETE manifest of repo A through repo B -> 404, A unchanged")
def _(reg):
    a = reg.repo("man/del-a")
    b = reg.repo("man/del-b")
    img = reg.push_image(a, "t")
    reg.push_image(b, "t")
    before = reg.snapshot()
    expect_error(reg.request("DELETE", "/v2/%s/manifests/%s" % (b, img.digest)), 404, "MANIFEST_UNKNOWN")
    reg.unchanged(before)


if __name__ == "__main__":
    suite.main()
