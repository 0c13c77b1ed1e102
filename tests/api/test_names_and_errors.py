#!/usr/bin/env python3
"""Repository names and error responses: nested and unusual-but-valid names (including
segments named like API keywords: blobs, manifests, uploads, tags), the name grammar and
length limit on every endpoint (400 NAME_INVALID), the error code/status table, methods an
endpoint does not support; and that no rejected request changed anything."""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("names_and_errors")
S = {}


def full_cycle(reg, repo):
    """Push a blob + manifest into repo and read everything back through every endpoint."""
    img = reg.push_image(repo, "t1")
    r = reg.get_manifest(repo, "t1")
    expect_status(r, 200)
    check(r.body == img.body, "manifest bytes differ", r)
    r = reg.get_manifest(repo, img.digest, method="HEAD")
    expect_status(r, 200)
    d, data = img.blobs[1]
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    check(r.body == data, "blob bytes differ", r)
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(r.json().get("name") == repo and r.json().get("tags") == ["t1"],
          "tags/list %r, want name %r tags ['t1']" % (r.json(), repo), r)
    # chunked upload too, whose Location contains the name
    reg.push_blob_chunked(repo, rand_bytes(3000), chunk=1000)
    check(repo in reg.catalog_all(), "%s not in the catalog" % repo)
    return img


@suite.case("valid name {0}: push and pull through every endpoint", params=[
    "a/b/c", "a.b/c-d/e__f", "a--b/c", "x/blobs/y", "x/manifests/y", "x/blobs/uploads",
    "x/tags/list", "x/referrers/y", "v2/v2", "blobs", "manifests/blobs/uploads/tags/list",
    "0/9", "a/b/c/d/e/f/g/h/i/j"])
def _(reg, name):
    full_cycle(reg, reg.repo("names/" + name))


@suite.case("name of exactly 255 characters is accepted")
def _(reg):
    base = reg.repo("n/")
    name = base + "a" * (255 - len(base))
    check(len(name) == 255, "test bug")
    full_cycle(reg, name)


def bad_names(reg):
    p = reg.repo("bad")
    long_name = p + "/" + "a" * (300 - len(p) - 1)
    n256 = p + "/" + "a" * (256 - len(p) - 1)
    return [("uppercase", p + "/Upper"), ("dot-dot segment", p + "/../x"),
            ("dot segment", p + "/./x"), ("encoded dot-dot", p + "/%2e%2e/x"),
            ("empty segment a//b", p + "//x"),
            ("trailing slash", p + "/x/"), ("300 characters", long_name),
            ("256 characters", n256), ("leading dash", p + "/-x"), ("trailing dash", p + "/x-"),
            ("leading underscore", p + "/_x"), ("triple underscore", p + "/a___b"),
            ("double dot", p + "/a..b"), ("space", p + "/a%20b"), ("colon", p + "/a:b"),
            ("non-ASCII", p + "/caf%C3%A9"), ("NUL", p + "/a%00b"), ("leading slash", "/" + p)]


BAD_LABELS = ["uppercase", "dot-dot segment", "dot segment", "encoded dot-dot",
              "empty segment a//b", "trailing slash", "300 characters", "256 characters",
              "leading dash", "trailing dash", "leading underscore", "triple underscore",
              "double dot", "space", "colon", "non-ASCII", "NUL", "leading slash"]


def endpoints(name):
    d = sha256(b"x")
    return [("POST upload", "POST", "/v2/%s/blobs/uploads/" % name),
            ("GET tags/list", "GET", "/v2/%s/tags/list" % name),
            ("PUT manifest", "PUT", "/v2/%s/manifests/t" % name),
            ("GET manifest", "GET", "/v2/%s/manifests/t" % name),
            ("GET blob", "GET", "/v2/%s/blobs/%s" % (name, d)),
            ("DELETE manifest", "DELETE", "/v2/%s/manifests/%s" % (name, d))]


@suite.case("invalid name ({0}) -> 400 NAME_INVALID on every endpoint", params=BAD_LABELS)
def _(reg, label):
    name = dict(bad_names(reg))[label]
    if "before" not in S:
        reg.push_image(reg.repo("bad/x"), "t")  # something that a traversal could reach
        reg.push_image(reg.repo("x"), "t")
        S["before"] = reg.snapshot()
    m = b'{"schemaVersion":2,"mediaType":"%s","config":{},"layers":[]}' % MT_OCI_MANIFEST.encode()
    fails = []
    for ep, method, path in endpoints(name):
        body = m if method == "PUT" else None
        hdrs = {"Content-Type": MT_OCI_MANIFEST} if method == "PUT" else None
        r = reg.request(method, path, hdrs, body)
        codes = r.error_codes()
        if r.status != 400 or "NAME_INVALID" not in codes:
            fails.append("%s %s -> %d %s" % (method, path if len(path) < 120 else path[:117] + "...",
                                             r.status, codes or r.body[:60]))
    if fails:
        raise CheckFailed("%d of %d endpoints did not answer 400 NAME_INVALID" % (len(fails), len(endpoints(name))),
                          extra=fails)


@suite.case("no request with an invalid name changed anything")
def _(reg):
    if "before" not in S:
        raise Skip("no snapshot")
    reg.unchanged(S["before"])


@suite.case("mount with invalid `from` name does not mount anything")
def _(reg):
    src = reg.repo("names/src")
    d = reg.push_blob(src, b"mount me " + rand_bytes(4))
    dst = reg.repo("names/dst")
    reg.push_blob(dst, b"dst exists")
    before = reg.snapshot(blobs=[(dst, d)])
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, urllib.parse.quote(src.upper())))
    check(r.status in (202, 400), "status %d, want 202 (new upload) or 400" % r.status, r)
    reg.unchanged(before, blobs=[(dst, d)])


# --- the error table


def error_table(reg):
    repo = reg.repo("err/r")
    if "img" not in S:
        S["img"] = reg.push_image(repo, "t")
    unknown_d = sha256(b"unknown")
    return repo, [
        ("BLOB_UNKNOWN", 404, "GET", "/v2/%s/blobs/%s" % (repo, unknown_d), None, None),
        ("BLOB_UPLOAD_UNKNOWN", 404, "GET", "/v2/%s/blobs/uploads/%s" % (repo, "f" * 32), None, None),
        ("DIGEST_INVALID", 400, "GET", "/v2/%s/blobs/sha256:%s" % (repo, "0" * 10 + "Z" * 54), None, None),
        ("MANIFEST_UNKNOWN", 404, "GET", "/v2/%s/manifests/nope" % repo, None, None),
        ("MANIFEST_INVALID", 400, "PUT", "/v2/%s/manifests/x" % repo, {"Content-Type": MT_OCI_MANIFEST}, b"{"),
        ("MANIFEST_BLOB_UNKNOWN", 400, "PUT", "/v2/%s/manifests/x" % repo, {"Content-Type": MT_OCI_MANIFEST},
         canon(oci_manifest(descriptor(MT_OCI_CONFIG, digest=unknown_d, size=5), []))),
        ("NAME_INVALID", 400, "GET", "/v2/%s/tags/list" % (repo + "/UP"), None, None),
        ("NAME_UNKNOWN", 404, "GET", "/v2/%s/tags/list" % reg.repo("err/none"), None, None),
        ("PAGINATION_NUMBER_INVALID", 400, "GET", "/v2/%s/tags/list?n=x" % repo, None, None),
    ]


CODES = ["BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_INVALID",
         "MANIFEST_BLOB_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "PAGINATION_NUMBER_INVALID"]


@suite.case("error {0}: right status, JSON body with code and non-empty message", params=CODES)
def _(reg, code):
    repo, table = error_table(reg)
    for c, status, method, path, hdrs, body in table:
        if c != code:
            continue
        before = reg.snapshot(scope=[repo])
        r = reg.request(method, path, hdrs, body)
        expect_error(r, status, code)
        check((r.h("Content-Type") or "").startswith("application/json"), "Content-Type %r" % r.h("Content-Type"), r)
        for e in r.json()["errors"]:
            check(e.get("message"), "empty message in %r" % e, r)
        reg.unchanged(before, scope=[repo])


@suite.case("unsupported method {0} {1} -> 405 (or 404), error body if any is well-formed", params=[
    ("DELETE", "/v2/_catalog"), ("POST", "/v2/%s/tags/list"), ("PATCH", "/v2/%s/manifests/t"),
    ("POST", "/v2/%s/manifests/t"), ("PUT", "/v2/%s/blobs/%s"), ("POST", "/v2/%s/blobs/%s"),
    ("PUT", "/v2/"), ("POST", "/v2/%s/referrers/%s")])
def _(reg, method, path):
    repo, _ = error_table(reg)
    img = S["img"]
    if path.count("%s") == 2:
        path = path % (repo, img.blobs[1][0])
    elif "%s" in path:
        path = path % repo
    before = reg.snapshot(scope=[repo])
    r = reg.request(method, path, {"Content-Type": "application/octet-stream"}, b"x")
    expect_status(r, 405, 404)
    if r.body and (r.h("Content-Type") or "").startswith("application/json"):
        check(r.error_codes(), "JSON body without errors[]", r)
    reg.unchanged(before, scope=[repo])


@suite.case("unknown query parameters are ignored")
def _(reg):
    repo, _ = error_table(reg)
    r = reg.get("/v2/%s/tags/list?foo=bar&x" % repo)
    expect_status(r, 200)
    r = reg.get_manifest(repo, "t?foo=bar")
    expect_status(r, 200)


@suite.case("percent-encoded ordinary characters in a name: same repo or 400/404, never another repo")
def _(reg):
    repo, _ = error_table(reg)
    enc = repo.replace("r", "%72")
    r = reg.get("/v2/%s/tags/list" % enc)
    if r.status == 200:
        check(r.json().get("name") == repo, "name %r" % r.json().get("name"), r)
    else:
        expect_status(r, 400, 404)


@suite.case("encoded slash in a name (a%2Fb): the repo a/b or 400/404, never anything else")
def _(reg):
    repo, _ = error_table(reg)
    head, tail = repo.rsplit("/", 1)
    r = reg.get("/v2/%s%%2F%s/tags/list" % (head, tail))
    if r.status == 200:
        check(r.json().get("name") == repo, "name %r" % r.json().get("name"), r)
    else:
        expect_status(r, 400, 404)


@suite.case("overlong request path (10 KB) -> 4xx (414/400/404), server survives")
def _(reg):
    r = reg.get("/v2/" + "a/" * 5000 + "tags/list")
    check(400 <= r.status < 500, "status %d" % r.status, r)
    expect_status(reg.get("/v2/"), 200)


@suite.case("request bytes that are not UTF-8 in errors ({0}): a JSON error with '?', the server stays up",
            params=["/v2/%ff", "/v2/a/tags/list?n=%ff", "/v2/_catalog?n=1%ff", "/v2/a/blobs/uploads/%ff",
                    "/api/v1/%ff", "/api/v1/repositories/x/tags/%ff", "/v2/a%c3%28/manifests/x",
                    "/v2/a/manifests/%fe%ff", "/v2/a/blobs/sha256:%ff"])
def _(reg, path):
    r = reg.get(path)
    check(400 <= r.status < 500, "status %d" % r.status)
    doc = json.loads(r.body)
    check(doc["errors"][0]["code"] and "\ufffd" not in doc["errors"][0]["message"], "body %r" % r.body)
    expect_status(reg.get("/v2/"), 200)


if __name__ == "__main__":
    suite.main()
