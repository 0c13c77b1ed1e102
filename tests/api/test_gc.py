#!/usr/bin/env python3
"""Garbage collection: `berthd gc [--dry-run]` against a serving berthd (grace period, blobs
used again, untagged manifests and what keeps them: tags, indexes, referrers, subjects),
stray blob files, blobs a crashed run left in the trash, expired upload sessions, bad usage;
then the admin API (GET/POST /api/v1/gc) and the schedule on a berthd with accounts."""

import base64
import glob
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import berthtest  # noqa: E402
from berthtest import *  # noqa: E402,F401,F403

# The suite's berthd collects only when told (the schedule has its own case below); its
# grace period (2 s) decides when a HEAD renews an unreferenced blob's.
_orig_command = Registry._command


def _command(self, port, read_only):
    return _orig_command(self, port, read_only) + ["--gc-interval", "0", "--gc-grace", "2"]


Registry._command = _command

suite = Suite("gc", needs_process=True)


def gc(reg, *args, expect=0):
    p = subprocess.run([reg.binary(), "gc", *reg.data_args(), "--log-level", "warn"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out = p.stdout.decode() + p.stderr.decode()
    check(p.returncode == expect, "berthd gc %s: exit %d, want %d: %s" % (" ".join(args), p.returncode, expect,
                                                                          out))
    return out


def counts(out):
    """The numbers of the summary line: (manifests, blobs, files, uploads)."""
    line = [l for l in out.splitlines() if l.startswith("gc: ")][-1]
    words = line.replace(";", "").split()
    nums = [int(w) for w in words if w.isdigit()]
    return tuple(nums[:4])


def blob_status(reg, repo, digest):
    return reg.head("/v2/%s/blobs/%s" % (repo, digest)).status


def blob_file(reg, digest):
    algo, hexd = digest.split(":")
    return os.path.join(reg.data, "blobs", algo, hexd[:2], hexd)


def pull_ok(reg, img):
    r = reg.get_manifest(img.repo, img.digest)
    expect_status(r, 200)
    check(sha256(r.body) == img.digest, "manifest digest changed")
    for d, data in img.blobs:
        r = reg.get("/v2/%s/blobs/%s" % (img.repo, d))
        expect_status(r, 200)
        check(sha256(r.body) == d, "blob %s: served bytes hash to %s" % (d, sha256(r.body)))


def fsck_clean(reg):
    p = subprocess.run([reg.binary(), "fsck", *reg.data_args()], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    check(p.returncode == 0 and "0 corrupt, 0 missing, 0 unreferenced files, 0 dangling" in p.stdout.decode(),
          "fsck: %s" % p.stdout.decode())


def clean_slate(reg):
    """Collect everything collectable, so each case counts only its own garbage."""
    gc(reg, "--gc-grace", "0")


@suite.case("--dry-run counts an unreferenced blob and deletes nothing")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("dry")
    d = reg.push_blob(repo, rand_bytes(3000))
    out = gc(reg, "--dry-run", "--gc-grace", "0")
    check(counts(out)[1] == 1 and "would" in out, "dry run: %s" % out)
    check(blob_status(reg, repo, d) == 200, "the blob went in a dry run")
    check(os.path.exists(blob_file(reg, d)), "the blob's file went in a dry run")


@suite.case("an unreferenced blob within the grace period stays, and a manifest can still use it")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("grace")
    img_blobs = [rand_bytes(700), rand_bytes(900)]
    ds = [reg.push_blob(repo, b) for b in img_blobs]
    out = gc(reg, "--gc-grace", "3600")
    check(counts(out)[1] == 0, "deleted blobs of a push in progress: %s" % out)
    cfg = descriptor(MT_OCI_CONFIG, img_blobs[0])
    m = canon(oci_manifest(cfg, [descriptor(MT_OCI_LAYER, img_blobs[1])]))
    reg.push_manifest(repo, "v1", m, MT_OCI_MANIFEST)
    for d in ds:
        check(blob_status(reg, repo, d) == 200, "blob %s gone" % d)


@suite.case("past the grace period an unreferenced blob goes: 404, file gone, bytes counted, fsck clean")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("old")
    data = rand_bytes(5000)
    d = reg.push_blob(repo, data)
    time.sleep(2.1)
    out = gc(reg, "--gc-grace", "1")
    check(counts(out)[1] == 1, "want 1 blob deleted: %s" % out)
    check("4.9 KiB" in out, "bytes freed not reported: %s" % out)
    expect_error(reg.head("/v2/%s/blobs/%s" % (repo, d)), 404)
    check(not os.path.exists(blob_file(reg, d)), "file still there")
    check(not os.listdir(os.path.join(reg.data, "trash")), "trash not empty")
    fsck_clean(reg)
    # It can be pushed again afterwards.
    reg.push_blob(repo, data)
    check(blob_status(reg, repo, d) == 200, "re-pushed blob not served")


@suite.case("a blob uploaded again or mounted starts its grace period anew")
def _(reg):
    clean_slate(reg)
    repo, other = reg.repo("again"), reg.repo("again2")
    a, b = rand_bytes(800), rand_bytes(801)
    da, db = reg.push_blob(repo, a), reg.push_blob(repo, b)
    time.sleep(2.1)
    reg.push_blob(repo, a)  # uploaded again
    r = reg.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (other, db, repo))
    expect_status(r, 201)  # mounted
    out = gc(reg, "--gc-grace", "2")
    check(counts(out)[1] == 0, "deleted a blob just used: %s" % out)
    check(blob_status(reg, repo, da) == 200 and blob_status(reg, other, db) == 200, "blob gone")


@suite.case("a HEAD of an unreferenced blob (a client deciding not to upload it) starts its grace period anew")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("head")
    a, b = rand_bytes(600), rand_bytes(601)
    da, db = reg.push_blob(repo, a), reg.push_blob(repo, b)
    time.sleep(2.1)
    check(blob_status(reg, repo, da) == 200, "HEAD")
    out = gc(reg, "--gc-grace", "2")
    check(counts(out)[1] == 1, "want only the blob nobody asked about deleted: %s" % out)
    check(blob_status(reg, repo, db) == 404, "the other blob stayed")
    m = canon(oci_manifest(descriptor(MT_OCI_CONFIG, a), []))
    reg.push_manifest(repo, "v1", m, MT_OCI_MANIFEST)


@suite.case("pushes racing a collector in a loop (grace 60 s) are never refused and pull complete")
def _(reg):
    import threading
    clean_slate(reg)
    stop = threading.Event()
    results, runs = [], [0]

    def pusher(i):
        n = 0
        while not stop.is_set():
            n += 1
            try:
                img = reg.push_image(reg.repo("race%d" % i), "t%d" % n, layers=2, layer_size=3000)
                results.append(img)
            except CheckFailed as e:
                results.append(e)

    def collector():
        while not stop.is_set():
            gc(reg, "--gc-grace", "60", "--gc-untagged")
            runs[0] += 1

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(8)] + [threading.Thread(target=collector)]
    for t in threads:
        t.start()
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join(60)
    failed = [e for e in results if isinstance(e, CheckFailed)]
    check(not failed and runs[0] > 0, "%d of %d pushes failed during %d runs" % (len(failed), len(results), runs[0]),
          extra=[str(e) + " " + " ".join(e.resp.diag() if e.resp else []) for e in failed[:5]])
    for img in results:
        pull_ok(reg, img)
    note("%d pushes beside %d collections" % (len(results), runs[0]))


@suite.case("blobs of tagged images stay with grace 0 and pull with their digests")
def _(reg):
    clean_slate(reg)
    img = reg.push_image(reg.repo("tagged"), "v1", layers=2)
    idx_child = reg.push_image(reg.repo("tagged"), None)
    reg.push_manifest(img.repo, "multi", canon(index([idx_child.desc(platform=platform())])), MT_OCI_INDEX)
    out = gc(reg, "--gc-grace", "0")
    check(counts(out)[1] == 0, "deleted referenced blobs: %s" % out)
    pull_ok(reg, img)
    pull_ok(reg, idx_child)


@suite.case("untagged manifests stay without --gc-untagged; with it they go with their blobs")
def _(reg):
    clean_slate(reg)
    img = reg.push_image(reg.repo("untagged"), None)  # pushed by digest only
    out = gc(reg, "--gc-grace", "0")
    check(counts(out)[:2] == (0, 0), "without --gc-untagged: %s" % out)
    pull_ok(reg, img)
    out = gc(reg, "--gc-grace", "3600", "--gc-untagged")
    check(counts(out)[0] == 0, "deleted an untagged manifest within the grace period: %s" % out)
    pull_ok(reg, img)
    out = gc(reg, "--gc-grace", "0", "--gc-untagged")
    check(counts(out)[:2] == (1, 2), "want 1 manifest and 2 blobs: %s" % out)
    expect_error(reg.get_manifest(img.repo, img.digest), 404, "MANIFEST_UNKNOWN")
    for d, _data in img.blobs:
        check(blob_status(reg, img.repo, d) == 404, "blob %s of the deleted manifest still served" % d)
    fsck_clean(reg)


@suite.case("a tag moved away leaves the old manifest to --gc-untagged")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("moved")
    old = reg.push_image(repo, "latest")
    new = reg.push_image(repo, "latest")
    out = gc(reg, "--gc-grace", "0", "--gc-untagged")
    check(counts(out)[0] == 1, "want the old manifest deleted: %s" % out)
    expect_error(reg.get_manifest(repo, old.digest), 404, "MANIFEST_UNKNOWN")
    pull_ok(reg, new)


@suite.case("--gc-untagged keeps index children, referrers of live manifests and subjects of tagged referrers")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("keep")
    child = reg.push_image(repo, None)
    reg.push_manifest(repo, "idx", canon(index([child.desc(platform=platform())])), MT_OCI_INDEX)
    tagged = reg.push_image(repo, "app")
    sig = reg.push_image(repo, None, kind="artifact", subject=tagged.desc())  # untagged referrer
    subj = reg.push_image(repo, None)  # untagged, but a tagged referrer names it
    tref = reg.push_image(repo, "sbom", kind="artifact", subject=subj.desc())
    orphan_ref_subject = reg.push_image(repo, None)
    orphan_ref = reg.push_image(repo, None, kind="artifact", subject=orphan_ref_subject.desc())
    out = gc(reg, "--gc-grace", "0", "--gc-untagged")
    check(counts(out)[0] == 2, "want exactly the untagged image and its untagged referrer deleted: %s" % out)
    for img in (child, tagged, sig, subj, tref):
        pull_ok(reg, img)
    for img in (orphan_ref_subject, orphan_ref):
        expect_error(reg.get_manifest(repo, img.digest), 404, "MANIFEST_UNKNOWN")
    r = reg.get("/v2/%s/referrers/%s" % (repo, tagged.digest))
    expect_status(r, 200)
    check([m["digest"] for m in r.json()["manifests"]] == [sig.digest], "referrers: %r" % r.json())
    fsck_clean(reg)


@suite.case("a blob file no metadata owns is removed (stray file), and counted")
def _(reg):
    clean_slate(reg)
    data = rand_bytes(1234)
    d = sha256(data)
    path = blob_file(reg, d)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    out = gc(reg, "--dry-run")
    check(counts(out)[2] == 1 and os.path.exists(path), "dry run: %s" % out)
    out = gc(reg)
    check(counts(out)[2] == 1, "want 1 stray file: %s" % out)
    check(not os.path.exists(path), "stray file still there")
    fsck_clean(reg)


def to_trash(reg, d):
    """What a collection killed between moving d aside and committing leaves behind."""
    os.rename(blob_file(reg, d), os.path.join(reg.data, "trash", d.replace(":", "-")))


@suite.case("blobs a killed run left in the trash: put back when still recorded, freed when not")
def _(reg):
    clean_slate(reg)
    img = reg.push_image(reg.repo("trash"), "v1", layers=4)
    trash = os.path.join(reg.data, "trash")
    (dc, _), (d1, _), (d2, _), (d3, _), (d4, _) = img.blobs
    gone = rand_bytes(99)
    with open(os.path.join(trash, sha256(gone).replace(":", "-")), "wb") as f:
        f.write(gone)
    # A run puts back what is still recorded and frees the rest.
    to_trash(reg, d1)
    gc(reg, "--gc-grace", "3600")
    check(not os.listdir(trash), "trash not empty after a run: %r" % os.listdir(trash))
    check(os.path.exists(blob_file(reg, d1)), "not put back by a run")
    # A pull finding the file missing puts it back on the spot.
    to_trash(reg, d2)
    pull_ok(reg, img)
    check(os.path.exists(blob_file(reg, d2)) and not os.listdir(trash), "not put back by a pull")
    # fsck puts it back and does not call it missing.
    to_trash(reg, d3)
    fsck_clean(reg)
    check(os.path.exists(blob_file(reg, d3)), "not put back by fsck")
    # berthd puts it back at start-up.
    to_trash(reg, d4)
    reg.restart()
    check(os.path.exists(blob_file(reg, d4)) and not os.listdir(trash), "not put back at start-up")
    pull_ok(reg, img)
    fsck_clean(reg)


@suite.case("an idle upload session expires with its staged bytes; a fresh one stays")
def _(reg):
    clean_slate(reg)
    repo = reg.repo("expiry")
    old = reg.start_upload(repo)
    r = reg.request("PATCH", old, {"Content-Type": "application/octet-stream"}, rand_bytes(2000))
    expect_status(r, 202)
    old = loc_path(r.h("Location")) or old
    staged = glob.glob(os.path.join(reg.data, "uploads", "*"))
    check(len(staged) == 1, "staged files: %r" % staged)
    time.sleep(2.1)
    fresh = reg.start_upload(repo)
    out = gc(reg, "--upload-expiry", "2")
    check(counts(out)[3] == 1, "want 1 expired upload: %s" % out)
    expect_error(reg.get(old), 404, "BLOB_UPLOAD_UNKNOWN")
    check(not os.path.exists(staged[0]), "staged bytes still there")
    r = reg.get(fresh)
    expect_status(r, 204)
    out = gc(reg, "--upload-expiry", "3600")
    check(counts(out)[3] == 0, "expired a fresh upload: %s" % out)


@suite.case("each run is recorded in the database (gc_runs) with its trigger and counts")
def _(reg):
    gc(reg, "--dry-run")
    db = reg.db()
    try:
        row = db.execute("SELECT trigger_source, dry_run, error FROM gc_runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    check(row == ("command", 1, None), "last run: %r" % (row,))


@suite.case("while a backup holds DATA/gc.lock, a run deletes nothing and says why (exit 1)")
def _(reg):
    import fcntl
    clean_slate(reg)
    repo = reg.repo("backup")
    d = reg.push_blob(repo, rand_bytes(700))
    fd = os.open(os.path.join(reg.data, "gc.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        out = gc(reg, "--gc-grace", "0", expect=1)
        check("a backup is copying the data folder" in out, "message: %s" % out)
        check(blob_status(reg, repo, d) == 200, "a blob went during the backup")
    finally:
        os.close(fd)
    out = gc(reg, "--gc-grace", "0")
    check(counts(out)[1] == 1, "after the backup: %s" % out)


@suite.case("bad usage: {0} exits 2 with a one-line message")
def _(reg, args):
    p = subprocess.run([reg.binary(), "gc"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    err = p.stderr.decode().strip()
    check(p.returncode == 2 and err.startswith("berthd:") and len(err.splitlines()) == 1,
          "exit %d, stderr %r" % (p.returncode, err))


suite.cases[-1] = (suite.cases[-1][0], suite.cases[-1][1], [
    ["--bogus"], ["--gc-grace", "-1"], ["--gc-grace", "soon"], ["--upload-expiry", "0"],
    ["--data", "/nonexistent/berth-gc-test"], ["extra-argument"]])


# ---------------------------------------------------------------------------------------
# The admin API and the schedule, on a berthd of their own with accounts.

def _api_server(reg, name="data-api", extra=()):
    data = os.path.join(reg.tmp, name)
    os.makedirs(data, exist_ok=True)
    p = subprocess.run([reg.binary(), "user", "add", "root", "--admin", "--password-stdin", *data_args(data)],
                       input=b"root-password-1\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    check(p.returncode == 0, "user add: %s" % p.stdout.decode())
    p = subprocess.run([reg.binary(), "user", "add", "joe", "--password-stdin", *data_args(data)],
                       input=b"joe-password-1\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    check(p.returncode == 0, "user add: %s" % p.stdout.decode())
    port = free_port()
    log = open(os.path.join(reg.tmp, "server-api.log"), "ab")
    proc = subprocess.Popen([reg.binary(), "--listen", "127.0.0.1:%d" % port, *data_args(data), "--auth", "token",
                             "--gc-interval", "1", "--gc-grace", "5", "--log-level", "info"] + list(extra),
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    api = Registry()
    api.host, api.port = "127.0.0.1", port
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if api.request("GET", "/v2/", timeout=2).status in (200, 401):
                break
        except OSError:
            time.sleep(0.05)
    return proc, api


def _basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


@suite.case("/api/v1/gc: admin only, runs on the schedule, POST starts one, bad input rejected, SIGTERM clean")
def _(reg):
    proc, api = _api_server(reg)
    try:
        root = _basic("root", "root-password-1")
        expect_error(api.get("/api/v1/gc"), 401, "UNAUTHORIZED")
        expect_error(api.get("/api/v1/gc", _basic("joe", "joe-password-1")), 403, "DENIED")
        expect_error(api.request("POST", "/api/v1/gc", _basic("joe", "joe-password-1")), 403, "DENIED")
        expect_error(api.request("PUT", "/api/v1/gc", root), 405, "UNSUPPORTED")
        expect_error(api.get("/api/v1/gc?limit=0", root), 400, "BAD_REQUEST")
        # The schedule (every second) records runs by itself.
        deadline, runs = time.time() + 10, []
        while time.time() < deadline and not any(x["trigger"] == "schedule" for x in runs):
            time.sleep(0.3)
            r = api.get("/api/v1/gc", root)
            expect_status(r, 200)
            doc = r.json()
            runs = doc["runs"]
        check(any(x["trigger"] == "schedule" for x in runs), "no scheduled run: %r" % runs)
        check(doc["settings"] == {"interval": 1, "grace": 5, "untagged": False, "upload_expiry": 86400},
              "settings: %r" % doc["settings"])
        h = dict(root, **{"Content-Type": "application/json"})
        expect_error(api.request("POST", "/api/v1/gc", h, b'{"dry_run": "yes"}'), 400, "BAD_REQUEST")
        expect_error(api.request("POST", "/api/v1/gc", h, b'{"dry_run": tru'), 400, "BAD_REQUEST")
        started = None
        deadline = time.time() + 10
        while time.time() < deadline and started is None:
            r = api.request("POST", "/api/v1/gc", h, b'{"dry_run": true}')
            if r.status == 202:
                started = r.json()
            else:
                expect_error(r, 409, "CONFLICT")  # a scheduled run was going on
                time.sleep(0.1)
        check(started == {"started": True, "dry_run": True}, "POST: %r" % started)
        deadline, found = time.time() + 10, None
        while time.time() < deadline and not found:
            doc = api.get("/api/v1/gc", root).json()
            found = [x for x in doc["runs"] if x["trigger"] == "api"]
            time.sleep(0.1)
        check(found and found[0]["dry_run"] is True and found[0]["error"] is None, "api run: %r" % doc)
        for key in ("manifests_deleted", "blobs_deleted", "bytes_freed", "files_removed", "uploads_expired",
                    "started_at", "finished_at", "id"):
            check(isinstance(found[0][key], int), "run field %s: %r" % (key, found[0]))
        r = api.get("/api/v1/audit", root)
        check(any(e["action"] == "gc_start" for e in r.json()["entries"]), "no gc_start in the audit log")
    finally:
        proc.terminate()
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    check(rc == 0, "berthd exited with %s on SIGTERM" % rc)



@suite.case("/api/v1/gc on a --read-only berthd: only dry runs, on the schedule and when asked")
def _(reg):
    proc, api = _api_server(reg, "data-ro", ["--read-only"])
    try:
        h = dict(_basic("root", "root-password-1"), **{"Content-Type": "application/json"})
        expect_error(api.request("POST", "/api/v1/gc", h, b'{"dry_run": false}'), 405, "UNSUPPORTED")
        expect_error(api.request("POST", "/api/v1/gc", h, b"{}"), 405, "UNSUPPORTED")
        deadline, runs = time.time() + 10, []
        while time.time() < deadline and not any(x["trigger"] == "schedule" for x in runs):
            time.sleep(0.3)
            runs = api.get("/api/v1/gc", h).json()["runs"]
        check(runs and all(x["dry_run"] for x in runs), "runs on a read-only berthd: %r" % runs)
        for _ in range(50):
            r = api.request("POST", "/api/v1/gc", h, b'{"dry_run": true}')
            if r.status == 202:
                break
            expect_error(r, 409, "CONFLICT")
            time.sleep(0.1)
        expect_status(r, 202)
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    suite.main()
