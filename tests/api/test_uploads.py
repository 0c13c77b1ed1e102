#!/usr/bin/env python3
"""Blob uploads: POST/PATCH/PUT/GET/DELETE on upload sessions, monolithic and chunked
pushes, Content-Range rules, digest checks, cross-repository mounts, truncated and chunked
request bodies, the empty blob and a 50 MiB streamed blob. After every rejected request the
stored state is compared with a snapshot taken before it."""

import hashlib
import os
import socket
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("uploads")
OCTET = {"Content-Type": "application/octet-stream"}


def patch(reg, loc, data, content_range=None, headers=None):
    h = dict(OCTET)
    if content_range:
        h["Content-Range"] = content_range
    if headers:
        h.update(headers)
    return reg.request("PATCH", loc, h, data)


def blob_absent(reg, repo, digest):
    r = reg.head("/v2/%s/blobs/%s" % (repo, digest))
    check(r.status == 404, "blob %s exists in %s after a rejected upload (HEAD %d)"
          % (digest, repo, r.status), r)


def blob_is(reg, repo, digest, data):
    r = reg.get("/v2/%s/blobs/%s" % (repo, digest))
    expect_status(r, 200)
    check(r.body == data, "stored blob differs (%d bytes, want %d)" % (len(r.body), len(data)), r)
    expect_header(r, "Docker-Content-Digest", digest)


# --- starting an upload


@suite.case("POST upload -> 202 with Location, Range 0-0, Docker-Upload-UUID")
def _(reg):
    repo = reg.repo("up/start")
    r = reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
    expect_status(r, 202)
    loc = expect_header(r, "Location")
    check(loc_path(loc).startswith("/v2/%s/blobs/uploads/" % repo),
          "Location %r is not under /v2/%s/blobs/uploads/" % (loc, repo), r)
    expect_header(r, "Range", "0-0")
    u = expect_header(r, "Docker-Upload-UUID")
    check(u and u in loc, "Docker-Upload-UUID %r not in Location %r" % (u, loc), r)
    cl = r.h("Content-Length")
    check(cl in ("0", None) and r.body == b"", "202 with a body", r)


@suite.case("POST upload -> OCI-Chunk-Min-Length header present [OCI 1.1]")
def _(reg):
    r = reg.request("POST", "/v2/%s/blobs/uploads/" % reg.repo("up/start"))
    expect_status(r, 202)
    v = expect_header(r, "OCI-Chunk-Min-Length")
    check(v.isdigit(), "OCI-Chunk-Min-Length %r is not a number" % v, r)


@suite.case("two POSTs give two different upload sessions")
def _(reg):
    repo = reg.repo("up/start")
    a = reg.start_upload(repo)
    b = reg.start_upload(repo)
    check(a != b, "same Location twice: %s" % a)


# --- monolithic


@suite.case("monolithic POST ?digest= with body -> 201 Location + Docker-Content-Digest")
def _(reg):
    repo = reg.repo("up/mono")
    data = rand_bytes(3000)
    d = sha256(data)
    r = reg.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), OCTET, data)
    expect_status(r, 201)
    loc = expect_header(r, "Location")
    check(loc_path(loc) == "/v2/%s/blobs/%s" % (repo, d), "Location %r, want the blob URL" % loc, r)
    expect_header(r, "Docker-Content-Digest", d)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, data)


@suite.case("monolithic POST with wrong digest -> 400 DIGEST_INVALID, no blob, nothing changed")
def _(reg):
    repo = reg.repo("up/mono")
    data = rand_bytes(100)
    wrong = sha256(b"other")
    before = reg.snapshot(blobs=[(repo, wrong), (repo, sha256(data))])
    r = reg.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, wrong), OCTET, data)
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before, blobs=[(repo, wrong), (repo, sha256(data))])


@suite.case("monolithic POST with malformed digest -> 400 DIGEST_INVALID, nothing changed")
def _(reg):
    repo = reg.repo("up/mono")
    data = rand_bytes(100)
    before = reg.snapshot(blobs=[(repo, sha256(data))])
    r = reg.request("POST", "/v2/%s/blobs/uploads/?digest=sha256:1234" % repo, OCTET, data)
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before, blobs=[(repo, sha256(data))])


@suite.case("POST + PUT ?digest= with the whole body -> 201, blob readable")
def _(reg):
    repo = reg.repo("up/twostep")
    data = rand_bytes(5000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = reg.request("PUT", add_query(loc, digest=d), OCTET, data)
    expect_status(r, 201)
    check(loc_path(r.h("Location")) == "/v2/%s/blobs/%s" % (repo, d),
          "Location %r, want the blob URL" % r.h("Location"), r)
    expect_header(r, "Docker-Content-Digest", d)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, data)


# --- streamed and chunked PATCH


@suite.case("PATCH streamed (no Content-Range) x2, GET status 204, PUT without body -> 201")
def _(reg):
    repo = reg.repo("up/stream")
    data = rand_bytes(2500)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = patch(reg, loc, data[:1000])
    expect_status(r, 202)
    expect_header(r, "Range", "0-999")
    expect_header(r, "Docker-Upload-UUID")
    loc = loc_path(expect_header(r, "Location"))
    r = patch(reg, loc, data[1000:])
    expect_status(r, 202)
    expect_header(r, "Range", "0-2499")
    loc = loc_path(expect_header(r, "Location"))
    r = reg.get(loc)
    expect_status(r, 204)
    expect_header(r, "Range", "0-2499")
    expect_header(r, "Docker-Upload-UUID")
    check(r.body == b"", "204 with a body", r)
    r = reg.request("PUT", add_query(loc, digest=d))
    expect_status(r, 201)
    check(loc_path(r.h("Location")) == "/v2/%s/blobs/%s" % (repo, d),
          "Location %r, want the blob URL" % r.h("Location"), r)
    expect_header(r, "Docker-Content-Digest", d)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, data)


@suite.case("PATCH chunked with Content-Range start-end -> 202 Range 0-(size-1); PUT -> 201")
def _(reg):
    repo = reg.repo("up/chunked")
    data = rand_bytes(4096 * 3 + 17)
    d = reg.push_blob_chunked(repo, data, chunk=4096, content_range=True)
    blob_is(reg, repo, d, data)


@suite.case("PATCH chunks then PUT ?digest= with a final body chunk -> 201")
def _(reg):
    repo = reg.repo("up/final")
    data = rand_bytes(3000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = patch(reg, loc, data[:2000], "0-1999")
    expect_status(r, 202)
    expect_header(r, "Range", "0-1999")
    loc = loc_path(r.h("Location")) or loc
    r = reg.request("PUT", add_query(loc, digest=d), OCTET, data[2000:])
    expect_status(r, 201)
    expect_header(r, "Docker-Content-Digest", d)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, data)


def started_with_100(reg, repo):
    loc = reg.start_upload(repo)
    data = rand_bytes(100)
    r = patch(reg, loc, data, "0-99")
    expect_status(r, 202)
    return loc_path(r.h("Location")) or loc, data


@suite.case("PATCH chunk {0} after 0-99 -> 416, upload still at 0-99",
            params=[("out of order 200-299", "200-299"), ("overlapping 50-149", "50-149"),
                    ("repeated 0-99", "0-99"), ("gap 101-200", "101-200")])
def _(reg, label, cr):
    repo = reg.repo("up/order")
    loc, first = started_with_100(reg, repo)
    before = reg.snapshot(uploads=[(repo, loc)])
    r = patch(reg, loc, rand_bytes(100), cr)
    expect_status(r, 416)
    reg.unchanged(before, uploads=[(repo, loc)])
    # and the upload can still be finished correctly
    rest = rand_bytes(50)
    r = patch(reg, loc, rest, "100-149")
    expect_status(r, 202)
    loc = loc_path(r.h("Location")) or loc
    d = sha256(first + rest)
    r = reg.request("PUT", add_query(loc, digest=d))
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, first + rest)


@suite.case("first PATCH with Content-Range not starting at 0 -> 416")
def _(reg):
    repo = reg.repo("up/order")
    loc = reg.start_upload(repo)
    r = patch(reg, loc, rand_bytes(10), "5-14")
    expect_status(r, 416)


@suite.case("PATCH Content-Range whose length differs from the body -> 416 or 400")
def _(reg):
    repo = reg.repo("up/order")
    loc = reg.start_upload(repo)
    before = reg.snapshot(uploads=[(repo, loc)])
    r = patch(reg, loc, rand_bytes(10), "0-19")
    expect_status(r, 400, 416)
    reg.unchanged(before, uploads=[(repo, loc)])


@suite.case("PATCH with malformed Content-Range {0} -> 416 or 400",
            params=["abc", "-5", "10-5", "bytes=0-9x"])
def _(reg, cr):
    repo = reg.repo("up/order")
    loc = reg.start_upload(repo)
    before = reg.snapshot(uploads=[(repo, loc)])
    r = patch(reg, loc, rand_bytes(10), cr)
    expect_status(r, 400, 416)
    reg.unchanged(before, uploads=[(repo, loc)])


@suite.case("GET upload status -> 204 with Range and Location; fresh upload Range 0-0")
def _(reg):
    repo = reg.repo("up/status")
    loc = reg.start_upload(repo)
    r = reg.get(loc)
    expect_status(r, 204)
    expect_header(r, "Range", "0-0")
    expect_header(r, "Location")
    loc, _ = started_with_100(reg, repo)
    r = reg.get(loc)
    expect_status(r, 204)
    expect_header(r, "Range", "0-99")


@suite.case("PATCH with chunked transfer-encoding body -> 202, PUT -> 201, blob correct")
def _(reg):
    repo = reg.repo("up/te")
    data = rand_bytes(70000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = reg.request("PATCH", loc, OCTET, [data[:1], data[1:30000], data[30000:]], chunked=True)
    expect_status(r, 202)
    expect_header(r, "Range", "0-%d" % (len(data) - 1))
    loc = loc_path(r.h("Location")) or loc
    r = reg.request("PUT", add_query(loc, digest=d))
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, data)


@suite.case("PUT ?digest= with a chunked transfer-encoding body -> 201, blob correct")
def _(reg):
    repo = reg.repo("up/te")
    data = rand_bytes(20000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = reg.request("PUT", add_query(loc, digest=d), OCTET, [data[:7], data[7:]], chunked=True)
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    blob_is(reg, repo, d, data)


# --- finishing


@suite.case("PUT with wrong digest -> 400 DIGEST_INVALID, neither digest appears")
def _(reg):
    repo = reg.repo("up/wrong")
    data = rand_bytes(500)
    wrong = sha256(b"not this " + rand_bytes(4))
    loc = reg.start_upload(repo)
    r = patch(reg, loc, data)
    expect_status(r, 202)
    loc = loc_path(r.h("Location")) or loc
    extra = [(repo, wrong), (repo, sha256(data))]
    before = reg.snapshot(blobs=extra)
    r = reg.request("PUT", add_query(loc, digest=wrong))
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before, blobs=extra)
    blob_absent(reg, repo, wrong)
    blob_absent(reg, repo, sha256(data))


@suite.case("PUT with wrong digest and final body -> 400 DIGEST_INVALID, nothing changed")
def _(reg):
    repo = reg.repo("up/wrong")
    data = rand_bytes(500)
    wrong = sha256(b"not this either")
    loc = reg.start_upload(repo)
    extra = [(repo, wrong), (repo, sha256(data))]
    before = reg.snapshot(blobs=extra)
    r = reg.request("PUT", add_query(loc, digest=wrong), OCTET, data)
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before, blobs=extra)


@suite.case("PUT without ?digest -> 400 DIGEST_INVALID, nothing changed")
def _(reg):
    repo = reg.repo("up/nodigest")
    data = rand_bytes(100)
    loc = reg.start_upload(repo)
    before = reg.snapshot(blobs=[(repo, sha256(data))])
    r = reg.request("PUT", loc, OCTET, data)
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before, blobs=[(repo, sha256(data))])


@suite.case("PUT with malformed ?digest={0} -> 400 DIGEST_INVALID",
            params=["sha256:abc", "sha256:" + "Z" * 64, "", "foo"])
def _(reg, bad):
    repo = reg.repo("up/nodigest")
    data = rand_bytes(100)
    loc = reg.start_upload(repo)
    before = reg.snapshot(blobs=[(repo, sha256(data))])
    r = reg.request("PUT", add_query(loc, digest=bad), OCTET, data)
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before, blobs=[(repo, sha256(data))])


@suite.case("finished upload is gone: GET/PATCH/PUT its Location -> 404 BLOB_UPLOAD_UNKNOWN")
def _(reg):
    repo = reg.repo("up/done")
    data = rand_bytes(10)
    loc = reg.start_upload(repo)
    r = reg.request("PUT", add_query(loc, digest=sha256(data)), OCTET, data)
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, sha256(data)))
    expect_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(patch(reg, loc, b"more"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(reg.request("PUT", add_query(loc, digest=sha256(data))), 404, "BLOB_UPLOAD_UNKNOWN")


@suite.case("DELETE upload -> 204, then GET/PATCH/PUT/DELETE -> 404 BLOB_UPLOAD_UNKNOWN")
def _(reg):
    repo = reg.repo("up/cancel")
    loc, data = started_with_100(reg, repo)
    r = reg.request("DELETE", loc)
    expect_status(r, 204)
    expect_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(patch(reg, loc, b"x" * 10, "100-109"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(reg.request("PUT", add_query(loc, digest=sha256(data))), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(reg.request("DELETE", loc), 404, "BLOB_UPLOAD_UNKNOWN")
    blob_absent(reg, repo, sha256(data))


GARBAGE_IDS = [str(uuid.uuid4()), "notauuid", "0" * 200, "..", "..%2f..%2fetc", "%00", "a.b-c_d",
               "00000000-0000-0000-0000-000000000000"]


@suite.case("GET unknown/garbage upload id {0} -> 404 BLOB_UPLOAD_UNKNOWN", params=GARBAGE_IDS)
def _(reg, uid):
    repo = reg.repo("up/garbage")
    reg.push_blob(repo, b"make the repo exist")
    r = reg.get("/v2/%s/blobs/uploads/%s" % (repo, uid))
    if ".." in uid or "%" in uid:
        # traversal-looking or undecodable ids: rejected one way or the other, never served
        expect_status(r, 404, 400)
    else:
        expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


@suite.case("PATCH/PUT/DELETE garbage upload id -> 404 BLOB_UPLOAD_UNKNOWN, nothing changed")
def _(reg):
    repo = reg.repo("up/garbage")
    reg.push_blob(repo, b"make the repo exist")
    before = reg.snapshot(blobs=[(repo, sha256(b"abc"))])
    for uid in (str(uuid.uuid4()), "notauuid", "..%2f..%2f..%2fx"):
        p = "/v2/%s/blobs/uploads/%s" % (repo, uid)
        expect_error(patch(reg, p, b"abc"), 404, "BLOB_UPLOAD_UNKNOWN")
        expect_error(reg.request("PUT", add_query(p, digest=sha256(b"abc")), OCTET, b"abc"),
                     404, "BLOB_UPLOAD_UNKNOWN")
        expect_error(reg.request("DELETE", p), 404, "BLOB_UPLOAD_UNKNOWN")
    reg.unchanged(before, blobs=[(repo, sha256(b"abc"))])


@suite.case("upload created in repo A used via repo B -> 404 BLOB_UPLOAD_UNKNOWN, nothing changed")
def _(reg):
    a = reg.repo("up/owner-a")
    b = reg.repo("up/owner-b")
    reg.push_blob(b, b"b exists")
    loc, data = started_with_100(reg, a)
    check(loc.startswith("/v2/%s/blobs/uploads/" % a), "unexpected Location %s" % loc)
    other = "/v2/%s/blobs/uploads/%s" % (b, loc[len("/v2/%s/blobs/uploads/" % a):])
    d = sha256(data)
    before = reg.snapshot(blobs=[(a, d), (b, d)], uploads=[(a, loc)])
    expect_error(reg.get(other), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(patch(reg, other, b"y" * 10), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(reg.request("PUT", add_query(other, digest=d)), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(reg.request("DELETE", other), 404, "BLOB_UPLOAD_UNKNOWN")
    reg.unchanged(before, blobs=[(a, d), (b, d)], uploads=[(a, loc)])


# --- mounts


@suite.case("mount ?mount=D&from=R -> 201 with Location and Docker-Content-Digest")
def _(reg):
    src = reg.repo("up/mount-src")
    dst = reg.repo("up/mount-dst")
    data = rand_bytes(1234)
    d = reg.push_blob(src, data)
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
    expect_status(r, 201)
    check(loc_path(r.h("Location")) == "/v2/%s/blobs/%s" % (dst, d),
          "Location %r, want the blob URL in the target repo" % r.h("Location"), r)
    expect_header(r, "Docker-Content-Digest", d)
    reg.known_repos.add(dst)
    reg.known_blobs.add((dst, d))
    blob_is(reg, dst, d, data)


@suite.case("mount of a blob not in `from` -> 202 new upload, no blob appears")
def _(reg):
    src = reg.repo("up/mount-src")
    dst = reg.repo("up/mount-dst2")
    other = reg.repo("up/mount-other")
    data = rand_bytes(99)
    d = reg.push_blob(other, data)  # stored, but not in src
    reg.push_blob(src, b"src exists " + rand_bytes(4))
    reg.push_blob(dst, b"dst exists " + rand_bytes(4))
    before = reg.snapshot(blobs=[(dst, d), (src, d)])
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
    expect_status(r, 202)
    loc = loc_path(expect_header(r, "Location"))
    check("/blobs/uploads/" in loc, "Location %r is not an upload" % loc, r)
    reg.unchanged(before, blobs=[(dst, d), (src, d)])
    # the new upload works
    r = reg.request("PUT", add_query(loc, digest=d), OCTET, data)
    expect_status(r, 201)
    reg.known_blobs.add((dst, d))
    reg.known_repos.add(dst)


@suite.case("mount of a digest stored nowhere -> 202 new upload")
def _(reg):
    src = reg.repo("up/mount-src")
    reg.push_blob(src, b"src exists")
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s"
                    % (reg.repo("up/mount-dst3"), sha256(rand_bytes(9)), src))
    expect_status(r, 202)


@suite.case("mount from a repository that does not exist -> 202 new upload")
def _(reg):
    data = rand_bytes(20)
    d = reg.push_blob(reg.repo("up/mount-src"), data)
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s"
                    % (reg.repo("up/mount-dst4"), d, reg.repo("up/mount-nonexistent")))
    expect_status(r, 202)
    blob_absent(reg, reg.repo("up/mount-dst4"), d)


@suite.case("mount without `from` of a blob stored anywhere -> 201 (automatic mount) [OCI 1.1]")
def _(reg):
    src = reg.repo("up/auto-src")
    dst = reg.repo("up/auto-dst")
    data = rand_bytes(321)
    d = reg.push_blob(src, data)
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s" % (dst, d))
    expect_status(r, 201)
    expect_header(r, "Docker-Content-Digest", d)
    reg.known_repos.add(dst)
    reg.known_blobs.add((dst, d))
    blob_is(reg, dst, d, data)


@suite.case("mount with an invalid digest -> 400 DIGEST_INVALID or 202 new upload")
def _(reg):
    src = reg.repo("up/mount-src")
    reg.push_blob(src, b"src exists")
    reg.push_blob(reg.repo("up/mount-dst5"), b"dst exists")
    before = reg.snapshot()
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=sha256:zz&from=%s" % (reg.repo("up/mount-dst5"), src))
    if r.status == 400:
        expect_error(r, 400, "DIGEST_INVALID")
    else:
        expect_status(r, 202)
    reg.unchanged(before)


@suite.case("mount with an invalid `from` name -> 400 NAME_INVALID or 202 new upload")
def _(reg):
    src = reg.repo("up/mount-src")
    d = reg.push_blob(src, b"src exists")
    reg.push_blob(reg.repo("up/mount-dst6"), b"dst exists")
    before = reg.snapshot(blobs=[(reg.repo("up/mount-dst6"), d)])
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (reg.repo("up/mount-dst6"), d, "../" + src))
    if r.status == 400:
        expect_error(r, 400, "NAME_INVALID")
    else:
        expect_status(r, 202)
    reg.unchanged(before, blobs=[(reg.repo("up/mount-dst6"), d)])


# --- broken bodies


@suite.case("monolithic POST with Content-Length > body, connection closed -> no blob")
def _(reg):
    repo = reg.repo("up/trunc")
    reg.push_blob(repo, b"exists")
    data = rand_bytes(10000)
    d = sha256(data)
    before = reg.snapshot(blobs=[(repo, d)])
    reg.truncated("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), OCTET, len(data), data, 4000)
    reg.unchanged(before, blobs=[(repo, d)])


@suite.case("PUT ?digest= with Content-Length > body, connection closed -> no blob")
def _(reg):
    repo = reg.repo("up/trunc")
    data = rand_bytes(10000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    before = reg.snapshot(blobs=[(repo, d)])
    reg.truncated("PUT", add_query(loc, digest=d), OCTET, len(data), data, 9999)
    reg.unchanged(before, blobs=[(repo, d)])


@suite.case("truncated PATCH then PUT of the full digest -> not 201 with a wrong blob")
def _(reg):
    repo = reg.repo("up/trunc")
    data = rand_bytes(10000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    reg.truncated("PATCH", loc, OCTET, len(data), data, 5000)
    r = reg.request("PUT", add_query(loc, digest=d))
    # The upload holds at most 5000 bytes (or is gone): finishing with the digest of all
    # 10000 must fail, and no blob under that digest may appear.
    check(r.status != 201, "PUT after a truncated PATCH succeeded", r)
    blob_absent(reg, repo, d)


@suite.case("chunked transfer-encoding PUT cut off before the last chunk -> no blob")
def _(reg):
    repo = reg.repo("up/trunc")
    data = rand_bytes(8000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    before = reg.snapshot(blobs=[(repo, d)])
    c = reg.connect(timeout=3)
    try:
        c.sock.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Type: application/octet-stream\r\n\r\n"
                        % add_query(loc, digest=d)).encode())
        c.sock.sendall(b"%x\r\n" % 4000 + data[:4000] + b"\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        try:
            c.read_response("PUT", loc)
        except Exception:
            pass
    finally:
        c.close()
    reg.unchanged(before, blobs=[(repo, d)])


# --- special sizes


@suite.case("empty blob (sha256 of \"\") via monolithic POST -> 201, GET 200 Content-Length 0")
def _(reg):
    repo = reg.repo("up/empty")
    r = reg.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, EMPTY_BLOB_DIGEST), OCTET, b"")
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, EMPTY_BLOB_DIGEST))
    r = reg.get("/v2/%s/blobs/%s" % (repo, EMPTY_BLOB_DIGEST))
    expect_status(r, 200)
    expect_header(r, "Content-Length", "0")
    expect_header(r, "Docker-Content-Digest", EMPTY_BLOB_DIGEST)


@suite.case("empty blob via POST + PUT ?digest= without PATCH -> 201")
def _(reg):
    repo = reg.repo("up/empty2")
    loc = reg.start_upload(repo)
    r = reg.request("PUT", add_query(loc, digest=EMPTY_BLOB_DIGEST))
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, EMPTY_BLOB_DIGEST))
    r = reg.head("/v2/%s/blobs/%s" % (repo, EMPTY_BLOB_DIGEST))
    expect_status(r, 200)
    expect_header(r, "Content-Length", "0")


@suite.case("empty PATCH (0 bytes) keeps Range and the upload usable")
def _(reg):
    repo = reg.repo("up/empty3")
    loc, data = started_with_100(reg, repo)
    r = patch(reg, loc, b"")
    expect_status(r, 202, 416, 400)
    r = reg.get(loc)
    expect_status(r, 204)
    expect_header(r, "Range", "0-99")


@suite.case("50 MiB blob streamed (PATCH without Content-Range) -> 201, GET digest matches")
def _(reg):
    repo = reg.repo("up/big")
    big = BigData(50 << 20, seed=7)
    d = big.digest
    loc = reg.start_upload(repo)
    r = reg.request("PATCH", loc, dict(OCTET, **{"Content-Length": str(big.size)}), iter(big), timeout=60)
    expect_status(r, 202)
    expect_header(r, "Range", "0-%d" % (big.size - 1))
    loc = loc_path(r.h("Location")) or loc
    r = reg.request("PUT", add_query(loc, digest=d), timeout=60)
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    r = reg.head("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    expect_header(r, "Content-Length", str(big.size))
    h = hashlib.sha256()
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), sink=h.update, timeout=60)
    expect_status(r, 200)
    check("sha256:" + h.hexdigest() == d and r.body_len == big.size,
          "GET returned %d bytes with digest sha256:%s, want %d bytes %s"
          % (r.body_len, h.hexdigest(), big.size, d), r)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": "bytes=33554430-33554449"})
    expect_status(r, 206)
    check(r.body == big.range(33554430, 20), "range across the 32 MiB mark differs", r)


@suite.case("upload with Content-Type other than octet-stream on PATCH still works or is 400")
def _(reg):
    repo = reg.repo("up/ctype")
    loc = reg.start_upload(repo)
    r = reg.request("PATCH", loc, {"Content-Type": "text/plain"}, b"hello")
    expect_status(r, 202, 400, 415)


if __name__ == "__main__":
    suite.main()
