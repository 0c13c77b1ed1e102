#!/usr/bin/env python3
"""Blob reads and deletes: GET/HEAD headers, Range requests (206/416), unknown and invalid
digests, DELETE, and repository isolation (a blob is visible only in repositories that
hold it) with the cross-repository mount that makes it visible."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("blobs")
S = {}  # state shared by the cases: one blob of 1000 bytes in repo "a"


def blob(reg):
    if "data" not in S:
        S["repo"] = reg.repo("blobs/a")
        S["data"] = rand_bytes(1000)
        S["digest"] = reg.push_blob(S["repo"], S["data"])
    return S["repo"], S["data"], S["digest"]


@suite.case("GET blob -> 200, exact bytes, Content-Length, Docker-Content-Digest, ETag")
def _(reg):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    check(r.body == data, "body differs (%d bytes, want %d)" % (len(r.body), len(data)), r)
    expect_header(r, "Content-Length", str(len(data)))
    expect_header(r, "Docker-Content-Digest", d)
    etag = expect_header(r, "ETag")
    check(d in etag, "ETag %r does not contain the digest" % etag, r)


@suite.case("HEAD blob -> 200, Content-Length, Docker-Content-Digest, no body")
def _(reg):
    repo, data, d = blob(reg)
    with reg.connect() as c:
        r = c.request("HEAD", "/v2/%s/blobs/%s" % (repo, d))
        expect_status(r, 200)
        expect_header(r, "Content-Length", str(len(data)))
        expect_header(r, "Docker-Content-Digest", d)
        # If HEAD sent a body, it would be taken as the next response's status line.
        r2 = c.request("GET", "/v2/")
        expect_status(r2, 200)


@suite.case("Range {0} -> 206, Content-Range {2}",
            params=[("bytes=10-19", 10, "bytes 10-19/1000", 10),
                    ("bytes=0-0", 0, "bytes 0-0/1000", 1),
                    ("bytes=-5", 995, "bytes 995-999/1000", 5),
                    ("bytes=990-", 990, "bytes 990-999/1000", 10),
                    ("bytes=900-5000", 900, "bytes 900-999/1000", 100),
                    ("bytes=0-999", 0, "bytes 0-999/1000", 1000),
                    ("bytes=-2000", 0, "bytes 0-999/1000", 1000)])
def _(reg, rng, start, content_range, length):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": rng})
    expect_status(r, 206)
    expect_header(r, "Content-Range", content_range)
    expect_header(r, "Content-Length", str(length))
    check(r.body == data[start:start + length], "body is not bytes %d..%d" % (start, start + length - 1), r)


@suite.case("HEAD with Range bytes=10-19 -> 206 or 200, no body")
def _(reg):
    repo, data, d = blob(reg)
    r = reg.head("/v2/%s/blobs/%s" % (repo, d), {"Range": "bytes=10-19"})
    expect_status(r, 200, 206)


@suite.case("unsatisfiable Range {0} -> 416 with Content-Range bytes */1000",
            params=["bytes=1000-", "bytes=1000-1001", "bytes=5000-6000"])
def _(reg, rng):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": rng})
    expect_status(r, 416)
    cr = r.h("Content-Range")
    check(cr == "bytes */1000", "Content-Range %r, want 'bytes */1000'" % cr, r)


@suite.case("malformed Range {0} -> 200 whole blob (ignored) or 416",
            params=["bytes=abc", "items=0-1", "bytes=5-2"])
def _(reg, rng):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": rng})
    expect_status(r, 200, 416)
    if r.status == 200:
        check(r.body == data, "body is not the whole blob", r)


@suite.case("Range on the empty blob -> 416 (or 200 empty)")
def _(reg):
    repo = reg.repo("blobs/empty")
    d = reg.push_blob(repo, b"")
    check(d == EMPTY_BLOB_DIGEST, "digest of empty blob")
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": "bytes=0-"})
    expect_status(r, 416, 200)
    if r.status == 200:
        check(r.body == b"", "body not empty", r)


@suite.case("GET unknown blob -> 404 BLOB_UNKNOWN")
def _(reg):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, sha256(b"never pushed " + rand_bytes(8))))
    expect_error(r, 404, "BLOB_UNKNOWN")


@suite.case("HEAD unknown blob -> 404, no body")
def _(reg):
    repo, data, d = blob(reg)
    r = reg.head("/v2/%s/blobs/%s" % (repo, sha256(b"never pushed either")))
    expect_status(r, 404)


@suite.case("GET blob in unknown repository -> 404 BLOB_UNKNOWN or NAME_UNKNOWN")
def _(reg):
    r = reg.get("/v2/%s/blobs/%s" % (reg.repo("never/created"), sha256(b"x")))
    expect_error(r, 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


INVALID_DIGESTS = ["sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha256:" + "A" * 64,
                   "sha256:" + "g" * 64, "sha256:xyz", "md5:" + "a" * 32, "sha256" + "a" * 64,
                   "sha512:" + "a" * 64, "sha256:", ":" + "a" * 64]


@suite.case("GET blob with invalid digest {0} -> 400 DIGEST_INVALID", params=INVALID_DIGESTS)
def _(reg, bad):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, bad))
    expect_error(r, 400, "DIGEST_INVALID")


@suite.case("DELETE blob with invalid digest -> 400 DIGEST_INVALID, nothing changed")
def _(reg):
    repo, data, d = blob(reg)
    before = reg.snapshot()
    r = reg.request("DELETE", "/v2/%s/blobs/%s" % (repo, "sha256:" + d[7:].upper()))
    expect_error(r, 400, "DIGEST_INVALID")
    reg.unchanged(before)


@suite.case("DELETE unknown blob -> 404 BLOB_UNKNOWN, nothing changed")
def _(reg):
    repo, data, d = blob(reg)
    before = reg.snapshot()
    r = reg.request("DELETE", "/v2/%s/blobs/%s" % (repo, sha256(b"nope" + rand_bytes(4))))
    expect_error(r, 404, "BLOB_UNKNOWN")
    reg.unchanged(before)


@suite.case("blob pushed into repo A is not readable through repo B (GET/HEAD 404)")
def _(reg):
    repo, data, d = blob(reg)
    b = reg.repo("blobs/b")
    reg.push_blob(b, b"something else in b " + rand_bytes(8))  # b exists
    r = reg.get("/v2/%s/blobs/%s" % (b, d))
    expect_error(r, 404, "BLOB_UNKNOWN")
    r = reg.head("/v2/%s/blobs/%s" % (b, d))
    expect_status(r, 404)
    r = reg.get("/v2/%s/blobs/%s" % (b, d), {"Range": "bytes=0-9"})
    expect_error(r, 404, "BLOB_UNKNOWN")


@suite.case("blob not readable through a repo that does not exist at all")
def _(reg):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (reg.repo("blobs/ghost"), d))
    expect_error(r, 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


@suite.case("after mount into B the blob is readable through B with the same bytes")
def _(reg):
    repo, data, d = blob(reg)
    b = reg.repo("blobs/b")
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (b, d, repo))
    expect_status(r, 201)
    reg.known_blobs.add((b, d))
    r = reg.get("/v2/%s/blobs/%s" % (b, d))
    expect_status(r, 200)
    check(r.body == data, "body differs", r)


@suite.case("DELETE blob -> 202, then GET/HEAD 404 BLOB_UNKNOWN; other repo's copy stays")
def _(reg):
    a = reg.repo("blobs/del-a")
    b = reg.repo("blobs/del-b")
    data = rand_bytes(300)
    d = reg.push_blob(a, data)
    reg.push_blob(b, data)
    r = reg.request("DELETE", "/v2/%s/blobs/%s" % (a, d))
    expect_status(r, 202)
    r = reg.get("/v2/%s/blobs/%s" % (a, d))
    expect_error(r, 404, "BLOB_UNKNOWN")
    r = reg.head("/v2/%s/blobs/%s" % (a, d))
    expect_status(r, 404)
    r = reg.get("/v2/%s/blobs/%s" % (b, d))
    expect_status(r, 200)
    check(r.body == data, "copy in B damaged", r)


@suite.case("DELETE blob twice -> second is 404 BLOB_UNKNOWN")
def _(reg):
    a = reg.repo("blobs/del2")
    d = reg.push_blob(a, rand_bytes(50))
    expect_status(reg.request("DELETE", "/v2/%s/blobs/%s" % (a, d)), 202)
    expect_error(reg.request("DELETE", "/v2/%s/blobs/%s" % (a, d)), 404, "BLOB_UNKNOWN")


@suite.case("deleted blob can be pushed again and read")
def _(reg):
    a = reg.repo("blobs/del3")
    data = rand_bytes(77)
    d = reg.push_blob(a, data)
    expect_status(reg.request("DELETE", "/v2/%s/blobs/%s" % (a, d)), 202)
    reg.push_blob(a, data)
    r = reg.get("/v2/%s/blobs/%s" % (a, d))
    expect_status(r, 200)
    check(r.body == data, "body differs", r)


@suite.case("sha512 blob: push and GET with Docker-Content-Digest sha512:...")
def _(reg):
    repo = reg.repo("blobs/sha512")
    data = rand_bytes(200)
    d = sha512(data)
    loc = reg.start_upload(repo)
    r = reg.request("PUT", add_query(loc, digest=d), {"Content-Type": "application/octet-stream"}, data)
    expect_status(r, 201)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    check(r.body == data, "body differs", r)
    expect_header(r, "Docker-Content-Digest", d)


@suite.case("GET with a huge Range start -> 416, not a crash")
def _(reg):
    repo, data, d = blob(reg)
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": "bytes=99999999999999999999-"})
    expect_status(r, 416, 200)
    expect_status(reg.get("/v2/"), 200)


if __name__ == "__main__":
    suite.main()
