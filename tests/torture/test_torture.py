#!/usr/bin/env python3
"""Torture: 50 clients push and pull distinct and overlapping images against one berthd
while it is SIGKILLed at random moments and restarted, and garbage collection runs in a
loop with grace 0 and --gc-untagged (a `berthd gc` process, itself sometimes killed, plus
berthd's own schedule every second). Some pushes are abandoned half-way and some move a tag
away from the image it named, so the collector has real garbage (blobs and untagged
manifests) to take while pushes are in flight.

Checked, during the run: every blob or manifest served whole (200 with all its bytes) has
the right digest; no acknowledged image is ever answered 404; no request gets a 500;
`berthd fsck`, run every few seconds beside it all, finds nothing corrupt, missing or
dangling.
Afterwards, on a berthd restarted from one last SIGKILL: every push that got its 201 pulls
completely with the right digests, `berthd gc` and `berthd fsck` run clean beside it, and
`PRAGMA integrity_check` says ok. The figures are printed as TAP comments.

Bounded: BERTH_TORTURE_SECONDS of chaos (default 45) with BERTH_TORTURE_CLIENTS clients
(default 50); loopback only."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import (MANIFEST_ACCEPT, MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, Conn,  # noqa: E402
                       canon, descriptor, free_port, loc_path, add_query, oci_manifest, sha256)
from torturelib import BERTHD, diag, scratch, tap, tap_done, tap_failed  # noqa: E402

CHAOS_SECONDS = float(os.environ.get("BERTH_TORTURE_SECONDS", "45"))
CLIENTS = int(os.environ.get("BERTH_TORTURE_CLIENTS", "50"))
SEED = int(os.environ.get("BERTH_TORTURE_SEED", str(int(time.time()))))

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.violations = []

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.c.get(key, 0)

    def violation(self, msg):
        with self.lock:
            if len(self.violations) < 50:
                self.violations.append(msg)
            self.c["violations"] = self.c.get("violations", 0) + 1


stats = Stats()


class Server:
    """berthd on a fixed port and data folder; killed and restarted by the chaos thread."""

    def __init__(self, tmp):
        self.data = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "berthd.log")
        self.port = free_port()
        self.proc = None
        self.lock = threading.Lock()

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BERTHD, "--listen", "127.0.0.1:%d" % self.port, "--data", self.data,
                                      "--auth", "none", "--log-level", "warn", "--gc-interval", "1",
                                      "--gc-grace", "0", "--gc-untagged"],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("berthd exited with %s; see %s" % (self.proc.returncode, self.log_path))
            try:
                c = Conn("127.0.0.1", self.port, 2)
                try:
                    if c.request("GET", "/v2/").status == 200:
                        return
                finally:
                    c.close()
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("berthd not ready in 15 s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class Down(Exception):
    """The server went away in the middle (killed): the operation is retried or dropped."""


class Client:
    def __init__(self, server, idx, shared, acked, acked_lock):
        self.server, self.idx, self.shared = server, idx, shared
        self.acked, self.acked_lock = acked, acked_lock
        self.rng = random.Random(SEED * 1000 + idx)
        self.conn = None
        self.n = 0
        self.moving_acked = None  # the last acknowledged push of this client's moving tag
        self.moving_sent = []  # manifests sent to it since (committed or not before a kill)
        self.moving_left = None  # (config, layers) of the image the moving tag named before

    def req(self, method, path, headers=None, body=None):
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = Conn("127.0.0.1", self.server.port, 20)
                r = self.conn.request(method, path, headers, body)
            except (OSError, ConnectionError, ValueError):
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                if attempt == 0 and method in ("GET", "HEAD"):
                    continue  # a kept-alive connection may have died with the old process
                # Never send an upload step twice: part of it may have been stored before
                # the kill. The push starts over instead.
                raise Down()
            if r.incomplete or r.send_error:
                self.conn.close()
                self.conn = None
                raise Down()
            if (r.h("Connection") or "").lower() == "close":
                self.conn.close()
                self.conn = None
            if r.status >= 500:
                stats.add("http %d" % r.status)
                if r.status != 503:
                    stats.violation("%s %s -> %d %s" % (method, path, r.status, r.body[:200]))
                raise Down()
            return r
        raise Down()

    def push_blob(self, repo, data):
        d = sha256(data)
        r = self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
        if r.status == 200:
            stats.add("blob uploads skipped (already there)")
            return d
        r = self.req("POST", "/v2/%s/blobs/uploads/" % repo)
        if r.status != 202:
            stats.violation("POST upload -> %d" % r.status)
            raise Down()
        loc = loc_path(r.h("Location"))
        if self.rng.random() < 0.3 and len(data) > 1:
            half = len(data) // 2
            r = self.req("PATCH", loc, {"Content-Type": "application/octet-stream"}, data[:half])
            if r.status != 202:
                stats.violation("PATCH -> %d %s" % (r.status, r.body[:200]))
                raise Down()
            loc = loc_path(r.h("Location")) or loc
            r = self.req("PUT", add_query(loc, digest=d), {"Content-Type": "application/octet-stream"},
                         data[half:])
        else:
            r = self.req("PUT", add_query(loc, digest=d), {"Content-Type": "application/octet-stream"}, data)
        if r.status != 201:
            stats.violation("PUT blob -> %d %s" % (r.status, r.body[:200]))
            raise Down()
        stats.add("blobs uploaded")
        return d

    def image(self):
        """A new image: a unique config, one or two shared layers, and usually one of its own."""
        layers = self.rng.sample(self.shared, self.rng.randint(1, 2))
        if self.rng.random() < 0.7:
            size = self.rng.choice([2000, 30000, 300000])
            layers.append(self.rng.randbytes(size))
        cfg = canon({"architecture": "amd64", "os": "linux", "client": self.idx, "n": self.n,
                     "nonce": self.rng.getrandbits(64)})
        return cfg, layers

    def push(self):
        self.n += 1
        moving = self.rng.random() < 0.2
        if moving:
            # A tag this client moves from image to image: the images it leaves are untagged
            # garbage for --gc-untagged, while the tag must always give a whole image.
            repo, tag = "torture/moving", "c%d-latest" % self.idx
        else:
            repo = "torture/c%d" % (self.idx % 10) if self.rng.random() < 0.5 else "torture/own%d" % self.idx
            tag = "c%d-n%d" % (self.idx, self.n)
        if moving and self.moving_left and self.rng.random() < 0.3:
            # Point the tag back at the image it left: a manifest the collector may be
            # deleting as untagged right now (and blobs it may be taking).
            cfg, layers = self.moving_left
            stats.add("moving tags pointed back at the image they left")
        else:
            cfg, layers = self.image()
        abandon = self.rng.random() < 0.2
        m = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, x) for x in layers]))
        for attempt in range(20):
            try:
                for data in [cfg] + layers:
                    self.push_blob(repo, data)
                if abandon:
                    stats.add("pushes abandoned before the manifest")
                    return
                if moving:
                    # Sent, so the tag may point here after a kill even without a 201.
                    self.moving_sent.append(m)
                r = self.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), {"Content-Type": MT_OCI_MANIFEST}, m)
            except Down:
                stats.add("push steps interrupted by a kill")
                time.sleep(0.05)
                continue
            if r.status == 201:
                if r.h("Docker-Content-Digest") != sha256(m):
                    stats.violation("manifest PUT: digest %s, want %s" % (r.h("Docker-Content-Digest"), sha256(m)))
                if moving:
                    if self.moving_acked is not None and self.moving_acked[2] != m:
                        self.moving_left = (self.moving_acked[3][0], self.moving_acked[3][1:])
                    self.moving_acked = (repo, tag, m, [cfg] + layers)
                    self.moving_sent = [m]
                    stats.add("pushes acknowledged (moving tag)")
                    stats.add("pushes acknowledged")
                    return
                with self.acked_lock:
                    self.acked.append((repo, tag, m, [cfg] + layers))
                stats.add("pushes acknowledged")
                return
            if r.status == 400 and "MANIFEST_BLOB_UNKNOWN" in r.body.decode("utf-8", "replace"):
                # The collector took a blob between its upload and the manifest: the
                # registry said so cleanly; push it again, as a client would.
                stats.add("manifest PUTs refused: a blob was collected first (retried)")
                continue
            stats.violation("manifest PUT -> %d %s" % (r.status, r.body[:200]))
            return
        stats.add("pushes given up after 20 attempts")

    def pull(self):
        with self.acked_lock:
            if not self.acked:
                return
            repo, tag, m, blobs = self.rng.choice(self.acked)
        try:
            r = self.req("GET", "/v2/%s/manifests/%s" % (repo, tag), {"Accept": MANIFEST_ACCEPT})
            if r.status != 200:
                stats.violation("GET acknowledged manifest %s:%s -> %d" % (repo, tag, r.status))
                return
            if r.body != m:
                stats.violation("GET %s:%s served other bytes (digest %s)" % (repo, tag, sha256(r.body)))
                return
            for data in blobs:
                d = sha256(data)
                r = self.req("GET", "/v2/%s/blobs/%s" % (repo, d))
                if r.status != 200:
                    stats.violation("GET blob %s of acknowledged %s:%s -> %d" % (d, repo, tag, r.status))
                    return
                if sha256(r.body) != d:
                    stats.violation("GET blob %s served %d bytes hashing to %s" % (d, len(r.body), sha256(r.body)))
                    return
                stats.add("blobs pulled and verified")
            stats.add("pulls verified")
        except Down:
            stats.add("pulls interrupted by a kill")

    def run(self, stop):
        while not stop.is_set():
            if self.rng.random() < 0.6:
                self.push()
            else:
                self.pull()
        if self.conn is not None:
            self.conn.close()


def chaos(server, stop, rng):
    """SIGKILL berthd at random moments and start it again at once."""
    while not stop.wait(rng.uniform(0.8, 2.5)):
        with server.lock:
            server.kill()
            stats.add("kills")
            try:
                server.start()
            except RuntimeError as e:
                stats.violation("restart after SIGKILL: %s" % e)
                stop.set()
                return


def collector(server, stop, rng, tmp):
    """`berthd gc --gc-grace 0` in a loop beside the server; sometimes killed mid-run."""
    log = open(os.path.join(tmp, "gc.log"), "ab")
    while not stop.is_set():
        p = subprocess.Popen([BERTHD, "gc", "--data", server.data, "--gc-grace", "0", "--gc-untagged",
                              "--log-level", "warn"],
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if rng.random() < 0.25:
            time.sleep(rng.uniform(0, 0.15))
            p.send_signal(signal.SIGKILL)
            p.wait()
            stats.add("gc processes killed")
            continue
        rc = p.wait()
        if rc == 0:
            stats.add("gc command runs")
        else:
            stats.add("gc command runs failed (exit %d)" % rc)
        time.sleep(rng.uniform(0, 0.2))
    log.close()


def checker(server, stop, rng):
    """`berthd fsck` beside it all, every few seconds: never a corrupt or missing blob or a
    dangling reference, whatever the kills and the collector are doing."""
    while not stop.wait(rng.uniform(2, 4)):
        p = subprocess.run([BERTHD, "fsck", "--data", server.data], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        summary = [l for l in out.splitlines() if l.startswith("fsck:")]
        if p.returncode != 0 or not summary:
            stats.violation("fsck during the chaos: exit %d: %s" % (p.returncode, " | ".join(out.splitlines()[-5:])))
        else:
            stats.add("fsck runs during the chaos, all clean")


def verify_all(server, acked):
    """Pull every acknowledged image completely; returns a list of problems."""
    problems = []
    c = None
    for repo, tag, m, blobs in acked:
        for attempt in range(3):
            try:
                if c is None:
                    c = Conn("127.0.0.1", server.port, 30)
                r = c.request("GET", "/v2/%s/manifests/%s" % (repo, tag), {"Accept": MANIFEST_ACCEPT})
                if r.status != 200 or r.body != m:
                    problems.append("%s:%s -> %d (%s)" % (repo, tag, r.status, sha256(r.body)))
                    break
                for data in blobs:
                    d = sha256(data)
                    r = c.request("GET", "/v2/%s/blobs/%s" % (repo, d))
                    if r.status != 200 or r.incomplete or sha256(r.body) != d:
                        problems.append("%s:%s blob %s -> %d, %d bytes" % (repo, tag, d, r.status, len(r.body)))
                break
            except (OSError, ConnectionError):
                if c is not None:
                    c.close()
                c = None
                if attempt == 2:
                    problems.append("%s:%s: connection failed" % (repo, tag))
    if c is not None:
        c.close()
    return problems


def verify_moving(server, clients):
    """Each client's moving tag: the manifest it gives is the last acknowledged one or one
    sent after it, and all its blobs are there."""
    problems, n = [], 0
    c = Conn("127.0.0.1", server.port, 30)
    try:
        for cl in clients:
            if cl.moving_acked is None:
                continue
            n += 1
            repo, tag, m, blobs = cl.moving_acked
            r = c.request("GET", "/v2/%s/manifests/%s" % (repo, tag), {"Accept": MANIFEST_ACCEPT})
            if r.status != 200 or r.body not in cl.moving_sent:
                problems.append("%s:%s -> %d, %s" % (repo, tag, r.status, sha256(r.body)))
                continue
            doc = json.loads(r.body)
            for d in [doc["config"]["digest"]] + [x["digest"] for x in doc["layers"]]:
                rb = c.request("GET", "/v2/%s/blobs/%s" % (repo, d))
                if rb.status != 200 or rb.incomplete or sha256(rb.body) != d:
                    problems.append("%s:%s blob %s -> %d" % (repo, tag, d, rb.status))
    finally:
        c.close()
    return problems, n


def run_cmd(args):
    p = subprocess.run([BERTHD] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def main():
    if not os.access(BERTHD, os.X_OK):
        print("1..0 # SKIP no berthd at %s" % BERTHD)
        return 0
    tmp = scratch("berth-torture-")
    diag("torture: %d clients, %.0f s of chaos, seed %d, data in %s" % (CLIENTS, CHAOS_SECONDS, SEED, tmp))
    server = Server(tmp)
    server.start()
    rng = random.Random(SEED)
    shared = [rng.randbytes(rng.choice([1500, 20000, 120000])) for _ in range(12)]
    acked, acked_lock = [], threading.Lock()
    stop = threading.Event()
    clients = [Client(server, i, shared, acked, acked_lock) for i in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    threads.append(threading.Thread(target=chaos, args=(server, stop, random.Random(SEED + 1)), daemon=True))
    threads.append(threading.Thread(target=collector, args=(server, stop, random.Random(SEED + 2), tmp),
                                    daemon=True))
    threads.append(threading.Thread(target=checker, args=(server, stop, random.Random(SEED + 3)), daemon=True))
    t0 = time.time()
    for t in threads:
        t.start()
    stop.wait(CHAOS_SECONDS)
    stop.set()
    for t in threads:
        t.join(120)
    alive = [t for t in threads if t.is_alive()]
    tap(not alive, "every client, the killer and the collector stopped (%d still running)" % len(alive))
    diag("chaos phase took %.1f s" % (time.time() - t0))

    # One last crash, then everything acknowledged must be there.
    with server.lock:
        server.kill()
        stats.add("kills")
        server.start()
    problems = verify_all(server, acked)
    tap(acked and not problems, "every one of the %d acknowledged pushes pulls completely with the right digests "
        "after %d kills" % (len(acked), stats.get("kills")), problems[:20])
    problems, moved = verify_moving(server, clients)
    tap(moved and not problems, "every moving tag (%d) gives its last acknowledged image (or one sent after it), "
        "whole, with the images it left collected by --gc-untagged" % moved, problems[:20])
    tap(stats.get("violations") == 0,
        "during the chaos: no 500, no acknowledged image missing, no blob or manifest served with wrong bytes",
        stats.violations[:20])

    rc, out = run_cmd(["gc", "--data", server.data, "--gc-grace", "0", "--gc-untagged"])
    tap(rc == 0, "a final berthd gc (grace 0, --gc-untagged) beside the running server succeeds",
        out.splitlines()[-5:])
    problems = verify_all(server, acked) + verify_moving(server, clients)[0]
    tap(not problems, "after it, every acknowledged push and moving tag still pulls completely", problems[:20])
    rc, out = run_cmd(["fsck", "--data", server.data])
    summary = [l for l in out.splitlines() if l.startswith("fsck:")]
    tap(rc == 0 and summary and "0 corrupt, 0 missing, 0 unreferenced files, 0 dangling" in summary[0],
        "berthd fsck beside the running server: clean", out.splitlines()[-10:])
    trash = os.listdir(os.path.join(server.data, "trash"))
    tap(not trash, "nothing left in the trash (%d files)" % len(trash))
    rc = server.stop()
    tap(rc == 0, "berthd stops on SIGTERM with status 0 (got %s)" % rc)
    db = sqlite3.connect(os.path.join(server.data, "berth.db"))
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        runs = db.execute("SELECT COUNT(*), COALESCE(SUM(blobs_deleted), 0), COALESCE(SUM(bytes_freed), 0), "
                          "COALESCE(SUM(files_removed), 0), COALESCE(SUM(manifests_deleted), 0) FROM gc_runs "
                          "WHERE error IS NULL").fetchone()
    finally:
        db.close()
    tap(integrity == [("ok",)], "PRAGMA integrity_check: %r" % (integrity[:5],))
    tap(runs[0] > 0 and runs[1] > 0 and runs[4] > 0, "garbage collection ran (%d runs), freed blobs (%d) and "
        "deleted untagged manifests (%d)" % (runs[0], runs[1], runs[4]))

    diag("figures (seed %d, %d clients, %.0f s):" % (SEED, CLIENTS, CHAOS_SECONDS))
    diag("  pushes acknowledged: %d (%d under tags of their own, all verified after the last kill; %d moving "
         "a tag, the last of each verified)" % (stats.get("pushes acknowledged"), len(acked),
                                                stats.get("pushes acknowledged (moving tag)")))
    diag("  kills survived (SIGKILL of berthd): %d" % stats.get("kills"))
    diag("  gc runs completed: %d (berthd gc processes: %d; killed mid-run: %d)" % (
        runs[0], stats.get("gc command runs"), stats.get("gc processes killed")))
    diag("  blobs freed: %d (%d bytes), stray files removed: %d, untagged manifests deleted: %d" % (
        runs[1], runs[2], runs[3], runs[4]))
    put_back = 0
    for name in ("berthd.log", "gc.log"):
        try:
            with open(os.path.join(tmp, name), "rb") as f:
                put_back += f.read().count(b"put back")
        except OSError:
            pass
    diag("  log lines about blobs put back from the trash of a killed collection: %d" % put_back)
    with stats.lock:
        for k in sorted(stats.c):
            diag("  %s: %d" % (k, stats.c[k]))
    if tap_failed():
        diag("data and logs kept in %s" % tmp)
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return tap_done()


if __name__ == "__main__":
    sys.exit(main())
