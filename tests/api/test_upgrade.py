#!/usr/bin/env python3
"""Schema upgrades in place, from every earlier schema version: for each k, a data folder
whose database has only the first k embedded migrations (applied as berthd applies them:
each in a transaction, recorded in schema_migrations) is filled with the data a berthd of
that version wrote (repositories, blobs on disk, manifests, references, tags; accounts and a
private repository once they exist), then the current berthd starts on it. Checked: exactly
the missing migrations are applied, the data is intact and served through /v2/ and /api/v1,
writes and the newer features work, fsck is clean, and a second start applies nothing."""

import base64
import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import Tap, free_port  # noqa: E402

TOP = os.environ.get("BERTH_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BERTHD = os.environ.get("BERTHD") or os.path.join(TOP, "berthd")
SCHEMA = sorted(glob.glob(os.path.join(TOP, "schema", "[0-9][0-9][0-9]_*.sql")))
PASSWORD = "old-password-1"
tap = Tap(30)


def http(port, method, path, auth=None, body=None, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def version_of(path):
    return int(os.path.basename(path)[:3])


def make_old_db(data, files):
    """The database a berthd that embedded only `files` left behind."""
    db = sqlite3.connect(os.path.join(data, "berth.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
               "name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
    for f in files:
        db.execute("BEGIN IMMEDIATE")
        for stmt in split_sql(open(f).read()):
            db.execute(stmt)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                   (version_of(f), os.path.basename(f), int(time.time()) - 86400))
        db.execute("COMMIT")
    return db


def split_sql(text):
    """Statements of a migration (sqlite3's complete_statement decides where each ends)."""
    out, cur = [], ""
    for line in text.splitlines(True):
        cur += line
        if sqlite3.complete_statement(cur):
            if cur.strip():
                out.append(cur)
            cur = ""
    if cur.strip() and not re.fullmatch(r"(\s|--[^\n]*\n?)*", cur):
        out.append(cur)
    return out


def columns(db, table):
    return {r[1] for r in db.execute("PRAGMA table_info(%s)" % table)}


def put_blob(data, content):
    hx = hashlib.sha256(content).hexdigest()
    d = os.path.join(data, "blobs", "sha256", hx[:2])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hx), "wb") as f:
        f.write(content)
    return "sha256:" + hx


def fill(db, data, pwhash, k):
    """Data as a berthd at this schema wrote it; returns what to check."""
    now = int(time.time()) - 3600
    has_accounts = "accounts" in {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    repos = {}
    names = ["olduser/app", "library-less"] if has_accounts else ["legacy/app", "plain"]
    for i, name in enumerate(names):
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                          "n": "%s-%d" % (name, k)}).encode()
        layer = os.urandom(3000 + i)
        cd, ld = put_blob(data, cfg), put_blob(data, layer)
        man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                     "size": len(cfg)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld,
                                      "size": len(layer)}]}, separators=(",", ":")).encode()
        md = "sha256:" + hashlib.sha256(man).hexdigest()
        rcols = columns(db, "repositories")
        if "namespace" in rcols:
            ns = name.split("/")[0] if "/" in name else ""
            db.execute("INSERT INTO repositories (name, created_at, updated_at, namespace, visibility) "
                       "VALUES (?, ?, ?, ?, ?)", (name, now, now, ns, "private" if "/" in name else "public"))
        else:
            db.execute("INSERT INTO repositories (name, created_at, updated_at) VALUES (?, ?, ?)", (name, now, now))
        rid = db.execute("SELECT id FROM repositories WHERE name = ?", (name,)).fetchone()[0]
        for dg, sz in ((cd, len(cfg)), (ld, len(layer))):
            db.execute("INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)", (dg, sz, now))
            db.execute("INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)",
                       (rid, dg, now))
        db.execute("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (rid, md, "application/vnd.oci.image.manifest.v1+json", len(man),
                                                 man, now))
        mid = db.execute("SELECT id FROM manifests WHERE repository_id = ? AND digest = ?", (rid, md)).fetchone()[0]
        for kind, pos, dg, sz, mt in ((0, 0, cd, len(cfg), "application/vnd.oci.image.config.v1+json"),
                                      (1, 0, ld, len(layer), "application/vnd.oci.image.layer.v1.tar")):
            db.execute("INSERT INTO manifest_references (manifest_id, kind, position, digest, size, media_type) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (mid, kind, pos, dg, sz, mt))
        for tag in ("v1", "latest"):
            db.execute("INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)",
                       (rid, tag, mid, now))
        repos[name] = {"manifest": man, "digest": md, "layer": layer, "layer_digest": ld}
    if has_accounts:
        db.execute("INSERT INTO accounts (name, kind, email, password_hash, is_admin, created_at, updated_at) "
                   "VALUES ('olduser', 'user', 'old@example.com', ?, 1, ?, ?)", (pwhash, now, now))
        db.execute("INSERT INTO audit_log (at, actor, action, target) VALUES (?, 'olduser', 'push', 'olduser/app')",
                   (now,))
    return repos, has_accounts


def password_hash():
    """An account password hash as berthd writes it (the encoding is argon2id's own)."""
    d = tempfile.mkdtemp(dir=os.environ.get("BERTH_TEST_TMP"))
    try:
        p = subprocess.run([BERTHD, "user", "add", "someone", "--password-stdin", "--data", d],
                           input=(PASSWORD + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        assert p.returncode == 0, p.stdout
        db = sqlite3.connect(os.path.join(d, "berth.db"))
        h = db.execute("SELECT password_hash FROM accounts WHERE name = 'someone'").fetchone()[0]
        db.close()
        return h
    finally:
        shutil.rmtree(d, ignore_errors=True)


def start(data, log):
    port = free_port()
    p = subprocess.Popen([BERTHD, "--listen", "127.0.0.1:%d" % port, "--data", data, "--auth", "token",
                          "--log-level", "info"], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(150):
        if p.poll() is not None:
            return p, port, False
        try:
            if http(port, "GET", "/v2/")[0] in (200, 401):
                return p, port, True
        except OSError:
            pass
        time.sleep(0.1)
    return p, port, False


def stop(p):
    p.terminate()
    try:
        return p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def upgrade_from(k, pwhash, base):
    older, newer = SCHEMA[:k], SCHEMA[k:]
    label = "from schema %s" % (os.path.basename(older[-1])[:-4] if older else "none")
    data = os.path.join(base, "v%d" % k)
    os.makedirs(data)
    db = make_old_db(data, older)
    repos, has_accounts = fill(db, data, pwhash, k)
    db.close()
    logpath = os.path.join(base, "berthd-v%d.log" % k)
    with open(logpath, "ab") as log:
        p, port, ready = start(data, log)
    logtext = open(logpath, errors="replace").read()
    tap(ready, "%s: the current berthd starts on the old data folder" % label, logtext)
    if not ready:
        stop(p)
        return
    applied = re.findall(r"applied schema migration (\S+)", logtext)
    tap(applied == [os.path.basename(f) for f in newer], "%s: applies exactly %s" % (
        label, ", ".join(os.path.basename(f)[:3] for f in newer)), "applied: %r" % applied)
    auth = "olduser:" + PASSWORD if has_accounts else None
    ok, why = True, []
    for name, r in repos.items():
        st, h, body = http(port, "GET", "/v2/%s/manifests/v1" % name, auth,
                           headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        if st != 200 or body != r["manifest"] or h.get("Docker-Content-Digest") != r["digest"]:
            ok = False
            why.append("%s manifest: %d %r" % (name, st, body[:200]))
        st, h, body = http(port, "GET", "/v2/%s/blobs/%s" % (name, r["layer_digest"]), auth)
        if st != 200 or body != r["layer"]:
            ok, _ = False, why.append("%s layer: %d" % (name, st))
        st, h, body = http(port, "GET", "/v2/%s/tags/list" % name, auth)
        if st != 200 or sorted(json.loads(body).get("tags") or []) != ["latest", "v1"]:
            ok, _ = False, why.append("%s tags: %d %r" % (name, st, body))
    tap(ok, "%s: manifests, blobs and tags are intact and served" % label, "\n".join(why))
    if has_accounts:
        st, _, body = http(port, "GET", "/api/v1/user", auth)
        d = json.loads(body) if st == 200 else {}
        tap(st == 200 and d.get("name") == "olduser" and d.get("admin") is True,
            "%s: the old account signs in with its password and is still an admin" % label, "%d %r" % (st, body))
        st, _, _ = http(port, "GET", "/v2/olduser/app/manifests/v1")
        tap(st == 401, "%s: the private repository still refuses anonymous pulls (%d)" % (label, st))
        st, _, body = http(port, "GET", "/api/v1/audit", auth)
        tap(st == 200 and b'"olduser/app"' in body, "%s: the audit log kept its entry" % label, body[:300])
    else:
        st, _, body = http(port, "GET", "/v2/_catalog")
        tap(st in (200, 401), "%s: repositories from before accounts are public after the upgrade (catalog %d)"
            % (label, st))
        st, _, _ = http(port, "GET", "/v2/legacy/app/manifests/v1",
                        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        tap(st == 200, "%s: anonymous pull of a pre-accounts repository (%d)" % (label, st))
    # Writes and the newest features on the upgraded folder.
    if not has_accounts:  # the first account of a registry that had none
        u = subprocess.run([BERTHD, "user", "add", "newadmin", "--admin", "--password-stdin", "--data", data],
                           input=(PASSWORD + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        tap(u.returncode == 0, "%s: the first account is created while berthd serves" % label, u.stdout)
        auth = "newadmin:" + PASSWORD
    name = list(repos)[0]
    r = repos[name]
    st, _, body = http(port, "PUT", "/v2/%s/manifests/v2" % name, auth or None, r["manifest"],
                       {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    tap(st == 201, "%s: a new tag can be pushed (%d)" % (label, st), body[:300])
    rc = stop(p)
    tap(rc == 0, "%s: berthd stops cleanly (%s)" % (label, rc))
    pol = subprocess.run([BERTHD, "policy", "retention", "--repository", name, "--pattern", "v*", "--keep-last",
                          "1", "--data", data], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    ret = subprocess.run([BERTHD, "retention", "--dry-run", "--data", data], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    tap(pol.returncode == 0 and ret.returncode == 0 and b"would untag %s:v1 " % name.encode() in ret.stdout,
        "%s: tag rules and retention work on the upgraded data" % label, pol.stdout + ret.stdout)
    fs = subprocess.run([BERTHD, "fsck", "--data", data], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=120)
    tap(fs.returncode == 0, "%s: berthd fsck finds the upgraded folder consistent" % label, fs.stdout)
    with open(logpath, "ab") as log:
        p, port, ready = start(data, log)
    stop(p)
    text = open(logpath, errors="replace").read()
    tap(ready and len(re.findall(r"applied schema migration", text)) == len(newer),
        "%s: a second start applies nothing more" % label, text[-2000:])
    db = sqlite3.connect(os.path.join(data, "berth.db"))
    got = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")]
    db.close()
    tap(got == [version_of(f) for f in SCHEMA], "%s: schema_migrations lists every version" % label, got)


def main():
    if not os.access(BERTHD, os.X_OK):
        print("1..0 # SKIP no berthd binary")
        return 0
    if len(SCHEMA) < 2:
        print("1..0 # SKIP fewer than two schema migrations")
        return 0
    base = tempfile.mkdtemp(prefix="upgrade.", dir=os.environ.get("BERTH_TEST_TMP"))
    pwhash = password_hash()
    print("# schema files: %s" % ", ".join(os.path.basename(f) for f in SCHEMA))
    for k in range(1, len(SCHEMA)):
        upgrade_from(k, pwhash, base)
    print("1..%d" % tap.n)
    if tap.failed:
        print("# kept %s" % base)
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
