#!/usr/bin/env python3
"""A full disk: berthd's data folder on a 64 MiB tmpfs (in a private mount namespace, so
nothing outlives the test). Filling it with blob uploads must give clients a clean 507
(error code UNKNOWN, a message saying the disk is full), never a 500 or a broken
connection without an answer; blob uploads, manifest pushes and database writes all fail
cleanly; what was stored before stays intact and keeps being served; fsck stays clean; and
once garbage collection frees space, pushes work again. Needs root (mount); skipped
otherwise."""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

if os.environ.get("BERTH_DISK_FULL_NS") != "1":
    # Re-run in a private mount namespace; the tmpfs disappears with it.
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root to mount a small tmpfs")
        sys.exit(0)
    env = dict(os.environ, BERTH_DISK_FULL_NS="1")
    try:
        p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__)],
                           env=env)
    except FileNotFoundError:
        print("1..0 # SKIP no unshare(1)")
        sys.exit(0)
    sys.exit(p.returncode)

from berthtest import (MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, add_query, canon, descriptor,  # noqa: E402
                       loc_path, oci_manifest, sha256)
from torturelib import BERTHD, request, scratch, start_berthd, tap, tap_done, tap_failed  # noqa: E402


def push_blob(port, repo, data):
    """POST + monolithic PUT; returns the final response (or the POST's if it failed)."""
    r = request(port, "POST", "/v2/%s/blobs/uploads/" % repo)
    if r.status != 202:
        return r
    return request(port, "PUT", add_query(loc_path(r.h("Location")), digest=sha256(data)),
                   {"Content-Type": "application/octet-stream"}, data)


def push_image(port, repo, tag, layer):
    cfg = canon({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex()})
    for b in (cfg, layer):
        r = push_blob(port, repo, b)
        if r.status != 201:
            return r, None
    m = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, layer)]))
    r = request(port, "PUT", "/v2/%s/manifests/%s" % (repo, tag), {"Content-Type": MT_OCI_MANIFEST}, m)
    return r, (repo, tag, m, [cfg, layer])


def pulls(port, img):
    repo, tag, m, blobs = img
    r = request(port, "GET", "/v2/%s/manifests/%s" % (repo, tag), {"Accept": MT_OCI_MANIFEST})
    if r.status != 200 or r.body != m:
        return "manifest %s:%s -> %d" % (repo, tag, r.status)
    for b in blobs:
        r = request(port, "GET", "/v2/%s/blobs/%s" % (repo, sha256(b)))
        if r.status != 200 or sha256(r.body) != sha256(b):
            return "blob %s -> %d" % (sha256(b), r.status)
    return None


def full_error(r):
    """True for the answer a full disk must give: 507, code UNKNOWN, message naming it."""
    try:
        errs = r.json()["errors"]
    except Exception:
        return False
    return (r.status == 507 and errs and errs[0].get("code") == "UNKNOWN"
            and ("full" in errs[0].get("message", "") or "space" in errs[0].get("message", "")))


def desc(r):
    return "%d %s" % (r.status, r.body[:200])


def skopeo_full(port, tmp):
    """A real client against the full disk: skopeo (containers/image, as podman) must fail
    with the registry's message, not hang or report something else."""
    if not shutil.which("skopeo"):
        tap(True, "skopeo copy to a full disk # SKIP no skopeo")
        return
    layout = os.path.join(tmp, "layout")
    p = subprocess.run(["bash", os.path.join(HERE, "..", "fixtures", "mkimage.sh"), layout, "--layers", "2",
                        "--extra-kb", "512", "--seed", "diskfull"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        tap(False, "mkimage.sh: %s" % p.stdout.decode()[-300:])
        return
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        f.write('{"default":[{"type":"insecureAcceptAnything"}]}')
    conf = os.path.join(tmp, "registries.conf")
    open(conf, "w").close()
    env = dict(os.environ, CONTAINERS_REGISTRIES_CONF=conf, TMPDIR=tmp, HOME=tmp)
    p = subprocess.run(["skopeo", "--policy", policy, "copy", "--dest-tls-verify=false", "--retry-times", "0",
                        "oci:%s:latest" % layout, "docker://127.0.0.1:%d/full/skopeo:v1" % port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    tap(p.returncode != 0 and ("full" in out or "No space" in out or "507" in out),
        "skopeo copy to a full disk fails, showing the registry's message", out.strip().splitlines()[-3:])


def main():
    if not os.access(BERTHD, os.X_OK):
        print("1..0 # SKIP no berthd at %s" % BERTHD)
        return 0
    tmp = scratch("berth-diskfull-")
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", data],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        print("1..0 # SKIP cannot mount a tmpfs: %s" % p.stdout.decode().strip())
        return 0
    proc = None
    try:
        proc, port = start_berthd(tmp, data, ["--gc-interval", "0"])
        run(port, data, proc)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(20)
        subprocess.run(["umount", data])
    if tap_failed():
        with open(os.path.join(tmp, "berthd.log"), "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines()[-20:]:
                print("# " + line)
    return tap_done()


def run(port, data, proc):
    r, before = push_image(port, "full/app", "v1", os.urandom(200000))
    tap(r.status == 201, "an image pushed before the disk fills: %s" % desc(r))

    # Keep 4 MiB aside for the recovery: with the disk full to the last byte, even deleting
    # needs room in the database's log (docs/reliability.md).
    reserve = os.path.join(data, "zz-reserve")
    with open(reserve, "wb") as f:
        f.write(b"\0" * (4 << 20))

    # Fill the disk with 6 MiB blobs until the registry says it is full.
    stored, answers, full = [], [], None
    for i in range(30):
        blob = os.urandom(6 << 20)
        try:
            r = push_blob(port, "full/filler", blob)
        except (OSError, ConnectionError) as e:
            answers.append("connection: %s" % e)
            break
        if r.status == 201:
            stored.append(blob)
            continue
        full = r
        break
    tap(full is not None and full_error(full),
        "filling the disk: blob uploads end with 507 UNKNOWN saying the disk is full (after %d stored)" %
        len(stored), [desc(full)] if full is not None else answers)

    # Fill the last bytes so the database cannot grow either (once berthd has cut the
    # failed upload's bytes off again).
    time.sleep(0.5)
    filler = os.path.join(data, "zz-filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    for size in (65536, 4096, 512, 1):
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass
    os.close(fd)
    try:
        r = push_blob(port, "full/more", os.urandom(100000))
        tap(full_error(r), "a blob upload on a full disk: 507 UNKNOWN: %s" % desc(r))
        r = request(port, "POST", "/v2/full/more/blobs/uploads/")
        tap(r.status == 202 or full_error(r), "starting an upload on a full disk: 202 or 507, never 500: %s" % desc(r))
        r = request(port, "PATCH", "/v2/full/app/blobs/uploads/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
                    {"Content-Type": "application/octet-stream"}, b"x" * 1000)
        tap(r.status == 404, "an unknown upload is still 404 on a full disk: %s" % desc(r))
        # Manifests are database writes only: push them until the database cannot grow.
        repo, _tag, _m, blobs = before
        cfg, layer = blobs
        last, n = None, 0
        for n in range(1, 401):
            m = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, layer)],
                                   annotations={"n": str(n), "pad": "p" * 2000}))
            last = request(port, "PUT", "/v2/%s/manifests/t%d" % (repo, n), {"Content-Type": MT_OCI_MANIFEST}, m)
            if last.status != 201:
                break
        tap(last.status == 201 or full_error(last),
            "manifest pushes on a full disk: 201 while the database has room, then 507 UNKNOWN, never 500 "
            "(%d pushed; last %s)" % (n - (last.status != 201), desc(last)))
        if last.status == 201:
            print("# note: the database never ran out of room in %d pushes" % n)
        skopeo_full(port, os.path.dirname(data))
    except (OSError, ConnectionError) as e:
        tap(False, "requests on a full disk are answered: %s" % e)

    problem = pulls(port, before)
    tap(problem is None, "the image pushed before is served intact while the disk is full (%s)" % problem)
    bad = 0
    for b in stored:
        rr = request(port, "GET", "/v2/full/filler/blobs/%s" % sha256(b))
        if rr.status != 200 or sha256(rr.body) != sha256(b):
            bad += 1
    tap(bad == 0, "every blob acknowledged before the disk filled is served intact (%d of %d bad)" %
        (bad, len(stored)))
    tap(proc.poll() is None, "berthd is still running")

    os.unlink(filler)
    os.unlink(reserve)
    p = subprocess.run([BERTHD, "gc", "--data", data, "--gc-grace", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode()
    tap(p.returncode == 0 and " %d blobs" % len(stored) in out,
        "garbage collection frees the unreferenced filler blobs", out.splitlines()[-3:])
    r, after = push_image(port, "full/app", "v3", os.urandom(3 << 20))
    tap(r.status == 201, "pushes work again once space is freed: %s" % desc(r))
    problem = pulls(port, before) or (after and pulls(port, after))
    tap(problem is None, "old and new images pull intact (%s)" % problem)
    p = subprocess.run([BERTHD, "fsck", "--data", data], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = p.stdout.decode()
    tap(p.returncode == 0 and "0 corrupt, 0 missing" in out and "0 dangling" in out,
        "fsck: no corruption", out.splitlines()[-3:])
    proc.terminate()
    rc = proc.wait(20)
    tap(rc == 0, "berthd stops cleanly (status %s)" % rc)
    import sqlite3
    db = sqlite3.connect(os.path.join(data, "berth.db"))
    try:
        res = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    tap(res == [("ok",)], "PRAGMA integrity_check: %r" % (res[:3],))


if __name__ == "__main__":
    sys.exit(main())
