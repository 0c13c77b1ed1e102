#!/usr/bin/env python3
"""Concurrency: many clients pushing distinct and identical images at once, two writers
racing on one tag while readers watch, parallel pulls of one blob, racing PATCH/PUT on one
upload session, concurrent repository creation, and many simultaneous connections."""

import hashlib
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("concurrency")
OCTET = {"Content-Type": "application/octet-stream"}


def run_threads(n, fn):
    """Run fn(i) in n threads started together; return (results, errors)."""
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait(10)
            results[i] = fn(i)
        except CheckFailed as e:
            errors.append("thread %d: %s%s" % (i, e, (" | " + " | ".join(e.resp.diag())) if e.resp else ""))
        except Exception as e:
            errors.append("thread %d: %s: %s" % (i, type(e).__name__, e))

    ts = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return results, errors


def no_errors(errors, what):
    if errors:
        raise CheckFailed("%d failures in %s" % (len(errors), what), extra=errors[:8])


@suite.case("20 threads push 20 distinct images (own repo each): all 201, all pullable")
def _(reg):
    def push(i):
        return reg.push_image(reg.repo("cc/distinct-%02d" % i), "t", layers=2, layer_size=20000)
    imgs, errors = run_threads(20, push)
    no_errors(errors, "pushes")
    for img in imgs:
        r = reg.get_manifest(img.repo, "t")
        expect_status(r, 200)
        check(r.body == img.body, "manifest of %s differs" % img.repo, r)
        for d, data in img.blobs:
            r = reg.get("/v2/%s/blobs/%s" % (img.repo, d))
            expect_status(r, 200)
            check(r.body == data, "blob %s in %s differs" % (d, img.repo), r)


@suite.case("20 threads push the same image (same blobs, manifest, tag, repo): all 201, result intact")
def _(reg):
    repo = reg.repo("cc/same")
    cfg = b'{"architecture":"amd64","os":"linux","same":true}'
    layer = rand_bytes(200000)
    body = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, layer)]))

    def push(i):
        reg.push_blob(repo, cfg)
        if i % 2:
            reg.push_blob(repo, layer)
        else:
            reg.push_blob_chunked(repo, layer, chunk=65536)
        r = reg.push_manifest(repo, "t", body, MT_OCI_MANIFEST, expect=None)
        expect_status(r, 201)
        return r.h("Docker-Content-Digest")
    digests, errors = run_threads(20, push)
    no_errors(errors, "pushes")
    check(set(digests) == {sha256(body)}, "digests %r" % set(digests))
    r = reg.get_manifest(repo, "t")
    expect_status(r, 200)
    check(r.body == body, "manifest differs", r)
    r = reg.get("/v2/%s/blobs/%s" % (repo, sha256(layer)))
    expect_status(r, 200)
    check(r.body == layer, "layer differs", r)
    r = reg.get("/v2/%s/tags/list" % repo)
    check(r.json().get("tags") == ["t"], "tags %r" % r.json().get("tags"), r)


@suite.case("two writers alternate two manifests on one tag, readers see only whole manifests; tag ends on one, both by digest")
def _(reg):
    repo = reg.repo("cc/race")
    a = reg.push_image(repo, None)
    b = reg.push_image(repo, None)
    stop = threading.Event()
    bad_reads = []

    def reader():
        while not stop.is_set():
            r = reg.get_manifest(repo, "t")
            if r.status == 404:
                continue  # before the first PUT
            if r.status != 200 or r.body not in (a.body, b.body) or \
                    r.h("Docker-Content-Digest") != sha256(r.body):
                bad_reads.append("GET tag -> %d, %d bytes, digest %s" % (r.status, len(r.body), r.h("Docker-Content-Digest")))

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()

    def writer(i):
        img = a if i == 0 else b
        for _ in range(25):
            r = reg.push_manifest(repo, "t", img.body, img.media_type, expect=None)
            expect_status(r, 201)
    try:
        _, errors = run_threads(2, writer)
    finally:
        stop.set()
        for t in readers:
            t.join(30)
    no_errors(errors, "writers")
    no_errors(bad_reads, "concurrent reads")
    r = reg.get_manifest(repo, "t")
    expect_status(r, 200)
    check(r.body in (a.body, b.body), "tag points to neither manifest", r)
    for img in (a, b):
        r = reg.get_manifest(repo, img.digest)
        expect_status(r, 200)
        check(r.body == img.body, "manifest %s differs" % img.digest, r)
    r = reg.get("/v2/%s/tags/list" % repo)
    check(r.json().get("tags") == ["t"], "tags %r" % r.json().get("tags"), r)


@suite.case("20 parallel pulls of one 4 MiB blob return identical bytes")
def _(reg):
    repo = reg.repo("cc/pull")
    data = rand_bytes(4 << 20)
    d = reg.push_blob(repo, data)

    def pull(i):
        h = hashlib.sha256()
        r = reg.get("/v2/%s/blobs/%s" % (repo, d), sink=h.update)
        expect_status(r, 200)
        return "sha256:" + h.hexdigest(), r.body_len
    res, errors = run_threads(20, pull)
    no_errors(errors, "pulls")
    check(all(x == (d, len(data)) for x in res), "differing pulls: %r" % [x for x in res if x != (d, len(data))][:3])


@suite.case("20 parallel ranged pulls of different slices are each correct")
def _(reg):
    repo = reg.repo("cc/pull")
    data = rand_bytes(1 << 20)
    d = reg.push_blob(repo, data)

    def pull(i):
        start = i * 40000
        r = reg.get("/v2/%s/blobs/%s" % (repo, d), {"Range": "bytes=%d-%d" % (start, start + 39999)})
        expect_status(r, 206)
        check(r.body == data[start:start + 40000], "slice %d differs" % i, r)
    _, errors = run_threads(20, pull)
    no_errors(errors, "ranged pulls")


@suite.case("two PATCHes racing with the same Content-Range 0-999: one 202, one 416; upload holds one chunk")
def _(reg):
    repo = reg.repo("cc/patch")
    loc = reg.start_upload(repo)
    chunks = [rand_bytes(1000), rand_bytes(1000)]

    def p(i):
        return reg.request("PATCH", loc, dict(OCTET, **{"Content-Range": "0-999"}), chunks[i])
    res, errors = run_threads(2, p)
    no_errors(errors, "patches")
    res = [r.status for r in res]
    check(sorted(res) == [202, 416], "statuses %r, want [202, 416]" % res)
    r = reg.get(loc)
    expect_status(r, 204)
    expect_header(r, "Range", "0-999")
    winner = chunks[res.index(202)]
    r = reg.request("PUT", add_query(loc, digest=sha256(winner)))
    expect_status(r, 201)
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, sha256(winner)))


@suite.case("two PUTs racing to finish one upload: one 201, the other 201 or 404; blob intact")
def _(reg):
    repo = reg.repo("cc/put")
    data = rand_bytes(300000)
    d = sha256(data)
    loc = reg.start_upload(repo)
    r = reg.request("PATCH", loc, OCTET, data)
    expect_status(r, 202)
    loc = loc_path(r.h("Location")) or loc

    def put(i):
        return reg.request("PUT", add_query(loc, digest=d))
    res, errors = run_threads(2, put)
    no_errors(errors, "puts")
    st = sorted(r.status for r in res)
    if st not in ([201, 201], [201, 404]):
        raise CheckFailed("statuses %r" % st, extra=sum((r.diag() for r in res), []))
    for r in res:
        if r.status == 404:
            expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    reg.known_repos.add(repo)
    reg.known_blobs.add((repo, d))
    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
    expect_status(r, 200)
    check(r.body == data, "blob differs", r)


@suite.case("20 threads create 20 repositories: catalog has each once, sorted")
def _(reg):
    names = [reg.repo("cc/cat/r%02d" % i) for i in range(20)]

    def mk(i):
        reg.push_image(names[i], "t", layer_size=64)
    _, errors = run_threads(20, mk)
    no_errors(errors, "pushes")
    cat = reg.catalog_all()
    check(cat == sorted(cat), "catalog not sorted")
    mine = [n for n in cat if n in names]
    check(mine == sorted(names), "catalog has %d of 20 (dupes or missing): %r" % (len(mine), mine[:5]))


@suite.case("60 simultaneous connections each doing 3 requests: all answered")
def _(reg):
    def go(i):
        with reg.connect(timeout=30) as c:
            for _ in range(3):
                r = c.request("GET", "/v2/")
                expect_status(r, 200)
    _, errors = run_threads(60, go)
    no_errors(errors, "requests")


@suite.case("delete of a manifest racing with its re-push ends consistent (GET by digest 200 or 404, no 500)")
def _(reg):
    repo = reg.repo("cc/delpush")
    img = reg.push_image(repo, "t")

    def f(i):
        out = []
        for _ in range(10):
            if i == 0:
                r = reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, img.digest))
                check(r.status in (202, 404), "DELETE -> %d" % r.status, r)
            else:
                r = reg.push_manifest(repo, "t", img.body, img.media_type, expect=None)
                check(r.status == 201, "PUT -> %d" % r.status, r)
        return out
    _, errors = run_threads(2, f)
    no_errors(errors, "delete/push race")
    r = reg.get_manifest(repo, img.digest)
    expect_status(r, 200, 404)
    if r.status == 200:
        check(r.body == img.body, "manifest differs", r)
    r2 = reg.get_manifest(repo, "t")
    expect_status(r2, 200, 404)
    check(not (r2.status == 200 and r.status == 404), "tag resolves but digest is gone", r2)


if __name__ == "__main__":
    suite.main()
