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
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from berthtest import (MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, add_query, canon, descriptor,  # noqa: E402
                       loc_path, oci_manifest, sha256)
from torturelib import BERTHD, request, scratch, start_berthd, tap, tap_done, tap_failed  # noqa: E402

HOLD = 3.0


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
    tmp = scratch("berth-busy-")
    data = os.path.join(tmp, "data")
    proc, port = start_berthd(tmp, data, ["--threads", "32"])
    try:
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
    if not tap_failed():
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return tap_done()


if __name__ == "__main__":
    sys.exit(main())
