#!/usr/bin/env python3
"""Restarts and read-only mode: everything pushed survives a SIGTERM + start on the same
data dir, an upload interrupted by a restart can be continued, SIGTERM ends the server
promptly even with idle clients connected, and with --read-only every pull works while
every write is refused with 405 UNSUPPORTED and changes nothing. Needs to start the server
itself, so it skips with TEST_REGISTRY_URL."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("restart", needs_process=True)
S = {}
OCTET = {"Content-Type": "application/octet-stream"}


def populate(reg):
    """Docker and OCI images, an index, extra tags, an artifact with subject, a mounted blob,
    a deleted manifest and a deleted blob."""
    if "done" in S:
        return
    a = reg.repo("rs/a")
    b = reg.repo("rs/nested/b")
    d1 = reg.push_image(a, "docker", kind="docker", layers=2)
    o1 = reg.push_image(a, "oci")
    reg.push_manifest(a, "oci-alias", o1.body, o1.media_type)
    idx = canon(index([d1.desc(platform=platform("amd64")), o1.desc(platform=platform("arm64"))]))
    reg.push_manifest(a, "multi", idx, MT_OCI_INDEX)
    art = reg.push_image(a, None, kind="artifact", subject=o1.desc())
    gone = reg.push_image(b, "gone")
    expect_status(reg.request("DELETE", "/v2/%s/manifests/%s" % (b, gone.digest)), 202)
    keep = reg.push_image(b, "keep")
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (b, d1.blobs[1][0], a))
    expect_status(r, 201)
    reg.known_blobs.add((b, d1.blobs[1][0]))
    lone = reg.push_blob(b, b"lone blob to delete")
    expect_status(reg.request("DELETE", "/v2/%s/blobs/%s" % (b, lone)), 202)
    S.update(done=True, a=a, b=b, o1=o1, art=art, keep=keep)


@suite.case("SIGTERM with idle keep-alive clients: exits within 10 s with status 0; restart works")
def _(reg):
    populate(reg)
    idle = socket.create_connection((reg.host, reg.port), timeout=5)
    half = socket.create_connection((reg.host, reg.port), timeout=5)
    half.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
    try:
        S["before"] = reg.snapshot()
        rc, took = reg.restart()
    finally:
        idle.close()
        half.close()
    note("stopped in %.2f s, exit status %s" % (took, rc))
    check(took < 10, "SIGTERM took %.1f s (killed)" % took)
    check(rc == 0, "exit status %s after SIGTERM, want 0" % rc)


@suite.case("everything pushed before the restart is there after it (catalog, tags, manifests, blobs, deletes)")
def _(reg):
    if "before" not in S:
        raise Skip("no snapshot")
    reg.unchanged(S["before"])


@suite.case("referrers survive a restart [OCI 1.1]")
def _(reg):
    populate(reg)
    r = reg.get("/v2/%s/referrers/%s" % (S["a"], S["o1"].digest))
    expect_status(r, 200)
    digests = [m.get("digest") for m in r.json().get("manifests", [])]
    check(digests == [S["art"].digest], "referrers %r, want [%s]" % (digests, S["art"].digest), r)


@suite.case("chunked upload interrupted by a restart after the first PATCH: status, next PATCH, PUT 201")
def _(reg):
    repo = reg.repo("rs/upload")
    data = rand_bytes(300000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = reg.request("PATCH", loc, dict(OCTET, **{"Content-Range": "0-99999"}), data[:100000])
    expect_status(r, 202)
    expect_header(r, "Range", "0-99999")
    loc = loc_path(r.h("Location")) or loc
    reg.restart()
    r = reg.get(loc)
    expect_status(r, 204)
    expect_header(r, "Range", "0-99999")
    loc = loc_path(r.h("Location")) or loc
    r = reg.request("PATCH", loc, dict(OCTET, **{"Content-Range": "100000-199999"}), data[100000:200000])
    expect_status(r, 202)
    expect_header(r, "Range", "0-199999")
    loc = loc_path(r.h("Location")) or loc
    r = reg.request("PUT", add_query(loc, digest=d), OCTET, data[200000:])
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    check(r.body == data, "blob differs after a restart mid-upload", r)


@suite.case("streamed upload (no Content-Range) continued after a restart")
def _(reg):
    repo = reg.repo("rs/upload2")
    data = rand_bytes(50000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = reg.request("PATCH", loc, OCTET, data[:20000])
    expect_status(r, 202)
    loc = loc_path(r.h("Location")) or loc
    reg.restart()
    r = reg.request("PATCH", loc, OCTET, data[20000:])
    expect_status(r, 202)
    expect_header(r, "Range", "0-49999")
    loc = loc_path(r.h("Location")) or loc
    r = reg.request("PUT", add_query(loc, digest=d))
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    check(r.body == data, "blob differs", r)


@suite.case("upload cancelled before a restart stays unknown after it")
def _(reg):
    repo = reg.repo("rs/upload3")
    loc = reg.start_upload(repo)
    expect_status(reg.request("DELETE", loc), 204)
    reg.restart()
    expect_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")


# --- read-only


def ro_setup(reg):
    if "ro_loc" not in S:
        populate(reg)
        repo = reg.repo("rs/ro")
        S["ro_img"] = reg.push_image(repo, "t")
        loc = reg.start_upload(repo)
        r = reg.request("PATCH", loc, OCTET, b"partial")
        expect_status(r, 202)
        S["ro_repo"] = repo
        S["ro_loc"] = loc_path(r.h("Location")) or loc
        S["ro_before"] = reg.snapshot(uploads=[(repo, S["ro_loc"])])
        reg.restart(read_only=True)
    return S["ro_repo"], S["ro_img"], S["ro_loc"]


@suite.case("--read-only: pulls work (GET/HEAD manifest and blob, tags, catalog)")
def _(reg):
    repo, img, loc = ro_setup(reg)
    r = reg.get_manifest(repo, "t")
    expect_status(r, 200)
    check(r.body == img.body, "manifest differs", r)
    expect_status(reg.get_manifest(repo, img.digest, method="HEAD"), 200)
    d, data = img.blobs[1]
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    check(r.body == data, "blob differs", r)
    expect_status(reg.head("/v2/%s/blobs/%s" % (repo, d)), 200)
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(r.json().get("tags") == ["t"], "tags %r" % r.json().get("tags"), r)
    check(repo in reg.catalog_all(), "catalog lacks %s" % repo)


def ro_writes(reg):
    repo, img, loc = ro_setup(reg)
    d = img.blobs[1][0]
    other = S["a"]
    return [
        ("POST upload", "POST", "/v2/%s/blobs/uploads/" % repo, None, None),
        ("POST monolithic", "POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(b"ro")), OCTET, b"ro"),
        ("POST mount", "POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repo, S["o1"].blobs[1][0], other), None, None),
        ("PATCH upload", "PATCH", loc, OCTET, b"more"),
        ("PUT upload", "PUT", add_query(loc, digest=sha256(b"partial")), None, None),
        ("DELETE upload", "DELETE", loc, None, None),
        ("PUT manifest by tag", "PUT", "/v2/%s/manifests/new" % repo, {"Content-Type": img.media_type}, img.body),
        ("PUT manifest by digest", "PUT", "/v2/%s/manifests/%s" % (repo, img.digest), {"Content-Type": img.media_type}, img.body),
        ("DELETE manifest by tag", "DELETE", "/v2/%s/manifests/t" % repo, None, None),
        ("DELETE manifest by digest", "DELETE", "/v2/%s/manifests/%s" % (repo, img.digest), None, None),
        ("DELETE blob", "DELETE", "/v2/%s/blobs/%s" % (repo, d), None, None),
    ]


RO_LABELS = ["POST upload", "POST monolithic", "POST mount", "PATCH upload", "PUT upload", "DELETE upload",
             "PUT manifest by tag", "PUT manifest by digest", "DELETE manifest by tag",
             "DELETE manifest by digest", "DELETE blob"]


@suite.case("--read-only: {0} -> 405 UNSUPPORTED", params=RO_LABELS)
def _(reg, label):
    for lab, method, path, hdrs, body in ro_writes(reg):
        if lab == label:
            r = reg.request(method, path, hdrs, body)
            expect_error(r, 405, "UNSUPPORTED")


@suite.case("--read-only: nothing changed by the refused writes")
def _(reg):
    repo, img, loc = ro_setup(reg)
    reg.unchanged(S["ro_before"], uploads=[(repo, loc)])


@suite.case("restart without --read-only: writes work again, the pending upload can finish")
def _(reg):
    repo, img, loc = ro_setup(reg)
    reg.restart(read_only=False)
    r = reg.request("PUT", add_query(loc, digest=sha256(b"partial")))
    expect_status(r, 201)
    reg.push_image(repo, "after-ro")
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    check(sorted(r.json().get("tags") or []) == ["after-ro", "t"], "tags %r" % r.json().get("tags"), r)


@suite.case("two quick restarts in a row keep all data")
def _(reg):
    before = reg.snapshot()
    reg.restart()
    reg.restart()
    reg.unchanged(before)


if __name__ == "__main__":
    suite.main()
