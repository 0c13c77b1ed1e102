#!/usr/bin/env python3
"""SQLite busy/locked never surfaces as an error: another process (here: this test, as a
`berthd gc` or `berthd backup` would) holds the database's write lock for 3 seconds while
20 clients push and pull. Writers wait on the busy timeout and then succeed (201), readers
are not blocked by the lock (WAL), and nobody gets a 500 or a 503. berthd gets more worker
threads than there are waiting writers here: a writer waiting for the lock holds its
worker thread and the connections that thread serves, so with the default (4 per core)
ten of them would make every pull queue for a thread (not for the database) on a 2-core
machine."""

import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from berthtest import (MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, Conn, add_query, canon,  # noqa: E402
                       descriptor, free_port, loc_path, oci_manifest, sha256)

BERTHD = os.environ.get("BERTHD") or os.path.join(HERE, "..", "..", "berthd")
HOLD = 3.0
tap_n = 0
tap_failed = 0


def tap(ok, desc, details=()):
    global tap_n, tap_failed
    tap_n += 1
    if not ok:
        tap_failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", tap_n, desc))
    for line in details:
        print("#   %s" % line)
    sys.stdout.flush()


def request(port, method, path, headers=None, body=None):
    c = Conn("127.0.0.1", port, 60)
    try:
        return c.request(method, path, headers, body)
    finally:
        c.close()


def push(port, repo, tag, results):
    t0 = time.time()
    cfg = canon({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex()})
    layer = os.urandom(5000)
    for b in (cfg, layer):
        r = request(port, "POST", "/v2/%s/blobs/uploads/" % repo)
        if r.status != 202:
            results.append(("push", r.status, r.body[:200], time.time() - t0))
            return
        r = request(port, "PUT", add_query(loc_path(r.h("Location")), digest=sha256(b)),
                    {"Content-Type": "application/octet-stream"}, b)
        if r.status != 201:
            results.append(("push", r.status, r.body[:200], time.time() - t0))
            return
    m = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, layer)]))
    r = request(port, "PUT", "/v2/%s/manifests/%s" % (repo, tag), {"Content-Type": MT_OCI_MANIFEST}, m)
    results.append(("push", r.status, r.body[:200], time.time() - t0))


def pull(port, repo, tag, results):
    t0 = time.time()
    r = request(port, "GET", "/v2/%s/manifests/%s" % (repo, tag), {"Accept": MT_OCI_MANIFEST})
    results.append(("pull", r.status, r.body[:200] if r.status != 200 else b"", time.time() - t0))


def main():
    if not os.access(BERTHD, os.X_OK):
        print("1..0 # SKIP no berthd at %s" % BERTHD)
        return 0
    base = os.environ.get("BERTH_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="berth-busy-", dir=base)
    data = os.path.join(tmp, "data")
    port = free_port()
    log = open(os.path.join(tmp, "berthd.log"), "ab")
    proc = subprocess.Popen([BERTHD, "--listen", "127.0.0.1:%d" % port, "--data", data, "--auth", "none",
                             "--log-level", "warn", "--threads", "32"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if request(port, "GET", "/v2/").status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        seed = []
        push(port, "busy/app", "seed", seed)
        tap(seed and seed[0][1] == 201, "an image pushed before the lock: %r" % (seed,))

        db = sqlite3.connect(os.path.join(data, "berth.db"), isolation_level=None, timeout=10)
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE repositories SET updated_at = updated_at")
        locked_at = time.time()
        results = []
        threads = [threading.Thread(target=push, args=(port, "busy/app", "t%d" % i, results)) for i in range(10)]
        threads += [threading.Thread(target=pull, args=(port, "busy/app", "seed", results)) for i in range(10)]
        for t in threads:
            t.start()
        time.sleep(HOLD)
        db.execute("COMMIT")
        db.close()
        for t in threads:
            t.join(60)
        pushes = [x for x in results if x[0] == "push"]
        pulls = [x for x in results if x[0] == "pull"]
        tap(len(pushes) == 10 and all(x[1] == 201 for x in pushes),
            "10 pushes during a %.0f s write lock held by another process all end with 201" % HOLD,
            ["%s %d %s after %.1f s" % x for x in pushes if x[1] != 201])
        slow = [x for x in pushes if x[3] >= HOLD - 0.5]
        tap(len(slow) > 0, "the pushes waited for the lock (%d of them >= %.1f s) instead of failing" %
            (len(slow), HOLD - 0.5))
        tap(len(pulls) == 10 and all(x[1] == 200 for x in pulls), "10 pulls during the lock answered 200",
            ["%s %d %s after %.1f s" % x for x in pulls if x[1] != 200])
        fast = [x for x in pulls if x[3] < HOLD - 0.5]
        tap(len(fast) > 0, "pulls do not wait for the write lock (%d of 10 answered within %.1f s; the rest "
            "shared a worker thread with a waiting push)" % (len(fast), HOLD - 0.5))
        tap(time.time() - locked_at < 30, "all done well within the busy timeout")
    finally:
        proc.terminate()
        rc = proc.wait(20)
    tap(rc == 0, "berthd stops cleanly (status %s)" % rc)
    print("1..%d" % tap_n)
    if not tap_failed:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if tap_failed else 0


if __name__ == "__main__":
    sys.exit(main())
