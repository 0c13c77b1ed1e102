#!/usr/bin/env python3
"""Tag immutability and retention rules against a berthd with --auth token: managing rules
through /api/v1/tag-rules (who may, every bad input, nothing stored on refusal) and
`berthd policy`; immutable tags refuse pushes over them and deletes (403 DENIED, the tag
unchanged), also through a manifest delete; retention by count and by push/pull age, dry
runs that change nothing (API and `berthd retention --dry-run`), immutable tags kept,
untagged manifests still there by digest; the metrics counters move."""

import base64
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ["BERTH_TEST_AUTH"] = "token"
import berthtest  # noqa: E402
from berthtest import *  # noqa: E402,F401,F403

_orig_request = Registry.request


def _wait_ready(self, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if _orig_request(self, "GET", "/v2/", timeout=2).status in (200, 401):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("GET /v2/ not ready within %ds" % timeout)


def _request(self, method, path, headers=None, body=None, **kw):
    auth = getattr(self, "default_auth", None)
    if auth and (path.startswith("/v2/") or path == "/metrics"):
        h = dict(headers or {})
        if not any(k.lower() == "authorization" for k in h):
            h["Authorization"] = auth
        headers = h
    return _orig_request(self, method, path, headers, body, **kw)


Registry.wait_ready = _wait_ready
Registry.request = _request

suite = Suite("tag_rules", needs_process=True)
PW = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-1"}
S = {}


def basic(user):
    return "Basic " + base64.b64encode(("%s:%s" % (user, PW[user])).encode()).decode()


def api(reg, user, method, path, body=None):
    h = {"Authorization": basic(user)} if user else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return _orig_request(reg, method, "/api/v1" + path, h, data)


def doc(r, status=200):
    expect_status(r, status)
    return r.json()


def as_user(reg, user):
    reg.default_auth = basic(user)


def rules(reg, user="admin"):
    return doc(api(reg, user, "GET", "/tag-rules"))["rules"]


def tags(reg, repo):
    as_user(reg, "admin")
    r = reg.get("/v2/%s/tags/list" % repo)
    expect_status(r, 200)
    return sorted(r.json().get("tags") or [])


def berthd(reg, *args):
    return subprocess.run([reg.binary()] + list(args) + reg.data_args(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def backdate(reg, repo, tag, days, pulled_days=None):
    """Make tag look pushed `days` ago (and its manifest pulled pulled_days ago, or never)."""
    db = reg.db()
    now = int(time.time())
    rid = db.execute("SELECT id FROM repositories WHERE name = ?", (repo,)).fetchone()[0]
    db.execute("UPDATE tags SET updated_at = ? WHERE repository_id = ? AND name = ?", (now - days * 86400, rid, tag))
    db.execute("UPDATE manifests SET last_pulled_at = ? WHERE id = (SELECT manifest_id FROM tags "
               "WHERE repository_id = ? AND name = ?)",
               (None if pulled_days is None else now - pulled_days * 86400, rid, tag))
    db.commit()
    db.close()


@suite.case("set-up: admin, alice and bob; alice pushes alice/app:v1")
def _(reg):
    for name in ("admin", "alice", "bob"):
        args = [reg.binary(), "user", "add", name, "--password-stdin", *reg.data_args()]
        if name == "admin":
            args.append("--admin")
        p = subprocess.run(args, input=(PW[name] + "\n").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        check(p.returncode == 0, "user add %s: %s" % (name, p.stdout.decode()))
    as_user(reg, "alice")
    S["v1"] = reg.push_image("alice/app", "v1")
    S["other"] = reg.push_image("alice/app", "scratch")


@suite.case("POST /tag-rules: alice adds an immutable rule on her namespace (201)")
def _(reg):
    d = doc(api(reg, "alice", "POST", "/tag-rules", {"kind": "immutable", "namespace": "alice", "pattern": "v*"}),
            201)
    check(d["kind"] == "immutable" and d["namespace"] == "alice" and d["pattern"] == "v*"
          and d["created_by"] == "alice" and "keep_last" not in d, "rule %r" % d)
    S["imm"] = d["id"]
    check(doc(api(reg, "alice", "GET", "/tag-rules/%d" % d["id"])) == d, "GET one")
    check([x["id"] for x in rules(reg, "alice")] == [d["id"]], "alice's list")


BAD = [
    ({"kind": "immutable", "namespace": "alice"}, "pattern missing"),
    ({"kind": "frozen", "namespace": "alice", "pattern": "v*"}, "unknown kind"),
    ({"kind": "immutable", "namespace": "alice", "repository": "alice/app", "pattern": "v*"}, "both scopes"),
    ({"kind": "immutable", "pattern": "v*"}, "no scope"),
    ({"kind": "immutable", "namespace": "Alice!", "pattern": "v*"}, "bad namespace"),
    ({"kind": "immutable", "repository": "alice//app", "pattern": "v*"}, "bad repository"),
    ({"kind": "immutable", "namespace": "alice", "pattern": "v/1"}, "slash in pattern"),
    ({"kind": "immutable", "namespace": "alice", "pattern": "x" * 129}, "pattern too long"),
    ({"kind": "immutable", "namespace": "alice", "pattern": "v*", "keep_last": 3}, "keep on immutable"),
    ({"kind": "retention", "namespace": "alice", "pattern": "*"}, "retention without keep"),
    ({"kind": "retention", "namespace": "alice", "pattern": "*", "keep_last": 1, "keep_days": 1}, "both keeps"),
    ({"kind": "retention", "namespace": "alice", "pattern": "*", "keep_last": 0}, "keep_last 0"),
    ({"kind": "retention", "namespace": "alice", "pattern": "*", "keep_days": "7"}, "keep_days a string"),
    ({"kind": 5, "namespace": "alice", "pattern": "*"}, "kind a number"),
]


@suite.case("POST /tag-rules with bad input: 400 BAD_REQUEST, nothing stored ({1})", params=BAD)
def _(reg, body, why):
    before = rules(reg)
    expect_error(api(reg, "alice", "POST", "/tag-rules", body), 400, "BAD_REQUEST")
    check(rules(reg) == before, "rules changed")


@suite.case("only owners and admins manage rules: bob 403, anonymous 401; bob cannot see or delete alice's")
def _(reg):
    before = rules(reg)
    body = {"kind": "immutable", "namespace": "alice", "pattern": "x*"}
    expect_error(api(reg, "bob", "POST", "/tag-rules", body), 403, "DENIED")
    expect_error(api(reg, None, "POST", "/tag-rules", body), 401, "UNAUTHORIZED")
    expect_error(api(reg, "bob", "POST", "/tag-rules", dict(body, namespace=None, repository="alice/app")), 403,
                 "DENIED")
    check(rules(reg, "bob") == [], "bob sees alice's rules")
    expect_error(api(reg, "bob", "GET", "/tag-rules/%d" % S["imm"]), 404, "NOT_FOUND")
    expect_error(api(reg, "bob", "DELETE", "/tag-rules/%d" % S["imm"]), 404, "NOT_FOUND")
    expect_error(api(reg, "alice", "GET", "/tag-rules/99999"), 404, "NOT_FOUND")
    expect_error(api(reg, "alice", "GET", "/tag-rules/abc"), 404, "NOT_FOUND")
    expect_error(api(reg, "alice", "PUT", "/tag-rules/%d" % S["imm"], {}), 405, "UNSUPPORTED")
    check(rules(reg) == before, "rules changed")


@suite.case("pushing over an immutable tag is 403 DENIED and the tag keeps its manifest")
def _(reg):
    as_user(reg, "alice")
    o = S["other"]
    r = reg.push_manifest("alice/app", "v1", o.body, o.media_type, expect=None)
    expect_error(r, 403, "DENIED")
    msg = r.json()["errors"][0]["message"]
    check("immutable" in msg and "v1" in msg and "v*" in msg, "message %r" % msg)
    r = reg.get_manifest("alice/app", "v1")
    expect_status(r, 200)
    check(r.h("Docker-Content-Digest") == S["v1"].digest, "v1 moved")


@suite.case("pushing the same manifest again and new matching tags are allowed; other tags move freely")
def _(reg):
    as_user(reg, "alice")
    v1 = S["v1"]
    reg.push_manifest("alice/app", "v1", v1.body, v1.media_type, expect=201)
    reg.push_manifest("alice/app", "v2", S["other"].body, S["other"].media_type, expect=201)
    reg.push_manifest("alice/app", "scratch", v1.body, v1.media_type, expect=201)


@suite.case("deleting an immutable tag, or its manifest by digest, is 403 DENIED; nothing changes")
def _(reg):
    as_user(reg, "alice")
    before = tags(reg, "alice/app")
    as_user(reg, "alice")
    expect_error(reg.request("DELETE", "/v2/alice/app/manifests/v1"), 403, "DENIED")
    expect_error(reg.request("DELETE", "/v2/alice/app/manifests/%s" % S["v1"].digest), 403, "DENIED")
    expect_error(api(reg, "alice", "DELETE", "/repositories/alice/app/tags/v2"), 403, "DENIED")
    check(tags(reg, "alice/app") == before, "tags changed")


def refusals(reg):
    as_user(reg, "admin")
    r = reg.get("/metrics")
    expect_status(r, 200)
    for line in r.body.decode().splitlines():
        if line.startswith("berth_immutable_tag_refusals_total "):
            return float(line.split()[1])
    return 0.0


@suite.case("DELETE /api/v1/repositories/{name} is 403 DENIED while a tag is immutable; counted, nothing deleted")
def _(reg):
    before, n = tags(reg, "alice/app"), refusals(reg)
    for user in ("alice", "admin"):
        r = api(reg, user, "DELETE", "/repositories/alice/app")
        expect_error(r, 403, "DENIED")
        msg = r.json()["errors"][0]["message"]
        check("immutable" in msg and "v*" in msg and "deleted" in msg, "message %r" % msg)
    check(tags(reg, "alice/app") == before, "tags changed")
    check(refusals(reg) == n + 2, "refusals %r -> %r" % (n, refusals(reg)))
    check(doc(api(reg, "alice", "GET", "/repositories/alice/app"))["tag_count"] == len(before), "repository gone")


@suite.case("DELETE /tag-rules/{id} (204) lifts the rule: the tag can be pushed over")
def _(reg):
    expect_status(api(reg, "alice", "DELETE", "/tag-rules/%d" % S["imm"]), 204)
    expect_error(api(reg, "alice", "DELETE", "/tag-rules/%d" % S["imm"]), 404, "NOT_FOUND")
    as_user(reg, "alice")
    reg.push_manifest("alice/app", "v1", S["other"].body, S["other"].media_type, expect=201)


@suite.case("berthd policy: add, list, refuse bad input with one line, delete")
def _(reg):
    p = berthd(reg, "policy", "immutable", "--repository", "alice/app", "--pattern", "release-*")
    check(p.returncode == 0 and p.stdout.startswith(b"added rule "), "add: %r %r" % (p.stdout, p.stderr))
    rid = int(p.stdout.split()[2])
    p = berthd(reg, "policy", "list")
    check(("%d immutable repository alice/app release-*" % rid).encode() in p.stdout, "list: %r" % p.stdout)
    for args in (["policy", "retention", "--namespace", "alice", "--pattern", "*"],
                 ["policy", "immutable", "--pattern", "*"],
                 ["policy", "retention", "--namespace", "alice", "--pattern", "*", "--keep-last", "x"],
                 ["policy", "del", "abc"], ["policy", "del", "424242"], ["policy", "frobnicate"]):
        p = berthd(reg, *args)
        check(p.returncode != 0 and len(p.stderr.splitlines()) == 1 and p.stderr.startswith(b"berthd: "),
              "%s: %d %r" % (args, p.returncode, p.stderr))
    S["release_rule"] = rid
    as_user(reg, "alice")
    img = reg.push_image("alice/app", "release-1")
    r = reg.push_manifest("alice/app", "release-1", S["v1"].body, S["v1"].media_type, expect=None)
    expect_error(r, 403, "DENIED")
    S["release-1"] = img


@suite.case("retention dry run (API and CLI) reports the oldest beyond keep_last and changes nothing")
def _(reg):
    as_user(reg, "alice")
    S["builds"] = {}
    for i in range(1, 5):
        S["builds"][i] = reg.push_image("alice/ci", "build-%d" % i)
        backdate(reg, "alice/ci", "build-%d" % i, 10 - i)  # build-4 is the newest
    reg.push_image("alice/ci", "stable")
    backdate(reg, "alice/ci", "stable", 100)
    d = doc(api(reg, "alice", "POST", "/tag-rules", {"kind": "retention", "repository": "alice/ci",
                                                     "pattern": "build-*", "keep_last": 2}), 201)
    check(d["keep_last"] == 2 and "keep_days" not in d, "rule %r" % d)
    S["ret"] = d["id"]
    before = tags(reg, "alice/ci")
    expect_error(api(reg, "alice", "POST", "/retention", {"dry_run": True}), 403, "DENIED")
    expect_error(api(reg, "admin", "POST", "/retention", {"dry_run": "yes"}), 400, "BAD_REQUEST")
    rep = doc(api(reg, "admin", "POST", "/retention", {"dry_run": True}))
    gone = sorted(t["tag"] for t in rep["tags"] if t["repository"] == "alice/ci" and t["action"] == "untag")
    check(rep["dry_run"] is True and gone == ["build-1", "build-2"], "report %r" % rep)
    check(all(t["rule"] == d["id"] for t in rep["tags"] if t["repository"] == "alice/ci"), "rule ids")
    p = berthd(reg, "retention", "--dry-run")
    out = p.stdout.decode()
    check(p.returncode == 0 and "would untag alice/ci:build-1 " in out and "would untag alice/ci:build-2 " in out
          and "build-3" not in out and out.splitlines()[-1].startswith("dry run: "), "cli: %r %r" % (out, p.stderr))
    check(tags(reg, "alice/ci") == before, "a dry run changed tags")


@suite.case("retention by days keeps tags pushed or pulled recently; immutable tags are kept")
def _(reg):
    as_user(reg, "alice")
    for t in ("nightly-old", "nightly-pulled", "nightly-new"):
        reg.push_image("alice/nightly", t)
    backdate(reg, "alice/nightly", "nightly-old", 30)
    backdate(reg, "alice/nightly", "nightly-pulled", 30, pulled_days=1)
    backdate(reg, "alice/app", "release-1", 30)
    doc(api(reg, "alice", "POST", "/tag-rules", {"kind": "retention", "namespace": "alice",
                                                 "pattern": "nightly-*", "keep_days": 7}), 201)
    doc(api(reg, "alice", "POST", "/tag-rules", {"kind": "retention", "repository": "alice/app",
                                                 "pattern": "release-*", "keep_days": 7}), 201)
    rep = doc(api(reg, "admin", "POST", "/retention", {"dry_run": True}))
    acts = {(t["repository"], t["tag"]): t["action"] for t in rep["tags"]}
    check(acts.get(("alice/nightly", "nightly-old")) == "untag", "nightly-old: %r" % acts)
    check(("alice/nightly", "nightly-pulled") not in acts and ("alice/nightly", "nightly-new") not in acts,
          "recent tags reported: %r" % acts)
    check(acts.get(("alice/app", "release-1")) == "kept_immutable", "release-1: %r" % acts)


@suite.case("a pull counts: a manifest GET refreshes the pull time retention reads")
def _(reg):
    as_user(reg, "alice")
    reg.push_image("alice/nightly", "nightly-fresh-pull")
    backdate(reg, "alice/nightly", "nightly-fresh-pull", 30)
    expect_status(reg.get_manifest("alice/nightly", "nightly-fresh-pull"), 200)
    reg.restart()  # pull times are written every few seconds and at shutdown
    rep = doc(api(reg, "admin", "POST", "/retention", {"dry_run": True}))
    acts = {(t["repository"], t["tag"]): t["action"] for t in rep["tags"]}
    check(("alice/nightly", "nightly-fresh-pull") not in acts, "pulled tag would go: %r" % acts)


@suite.case("a real run untags what the dry run said; manifests stay reachable by digest; metrics count")
def _(reg):
    rep = doc(api(reg, "admin", "POST", "/retention", {}))
    gone = sorted((t["repository"], t["tag"]) for t in rep["tags"] if t["action"] == "untag")
    check(gone == [("alice/ci", "build-1"), ("alice/ci", "build-2"), ("alice/nightly", "nightly-old")],
          "untagged %r" % gone)
    check(rep["kept_immutable"] == 1 and rep["untagged"] == 3, "counts %r" % rep)
    check(tags(reg, "alice/ci") == ["build-3", "build-4", "stable"], "alice/ci tags %r" % tags(reg, "alice/ci"))
    check("nightly-old" not in tags(reg, "alice/nightly"), "nightly-old still tagged")
    check("release-1" in tags(reg, "alice/app"), "immutable release-1 untagged")
    as_user(reg, "alice")
    expect_error(reg.get_manifest("alice/ci", "build-1"), 404, "MANIFEST_UNKNOWN")
    expect_status(reg.get_manifest("alice/ci", S["builds"][1].digest), 200)
    rep2 = doc(api(reg, "admin", "POST", "/retention", {"dry_run": False}))
    check(rep2["untagged"] == 0, "a second run untagged more: %r" % rep2)
    p = berthd(reg, "retention")
    check(p.returncode == 0 and p.stdout.decode().startswith("kept (immutable) alice/app:release-1"),
          "cli run: %r" % p.stdout)
    as_user(reg, "admin")
    r = reg.get("/metrics")
    expect_status(r, 200)
    text = r.body.decode()
    vals = {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l and not l.startswith("#")}
    check(vals.get("berth_retention_untagged_total", 0) >= 3, "retention counter")
    check(vals.get("berth_immutable_tag_refusals_total", 0) >= 1, "immutable refusals counter")


@suite.case("garbage collection applies retention first: berthd gc untags what the rules let go, and frees it")
def _(reg):
    as_user(reg, "alice")
    for i in range(1, 4):
        reg.push_image("alice/gcret", "snap-%d" % i)
        backdate(reg, "alice/gcret", "snap-%d" % i, 10 - i)  # snap-3 is the newest
    doc(api(reg, "alice", "POST", "/tag-rules", {"kind": "retention", "repository": "alice/gcret",
                                                 "pattern": "snap-*", "keep_last": 1}), 201)
    p = berthd(reg, "gc", "--dry-run")
    check(p.returncode == 0, "gc --dry-run: %r" % p.stderr)
    check(tags(reg, "alice/gcret") == ["snap-1", "snap-2", "snap-3"], "a dry run untagged: %r" % tags(reg, "alice/gcret"))
    p = berthd(reg, "gc", "--gc-grace", "0", "--gc-untagged")
    check(p.returncode == 0, "gc: %r" % p.stderr)
    check(tags(reg, "alice/gcret") == ["snap-3"], "after gc: %r" % tags(reg, "alice/gcret"))
    log = (p.stdout + p.stderr).decode()
    check("retention rules untagged 2 tags" in log, "gc log: %r" % log)
    expect_status(reg.get_manifest("alice/gcret", "snap-3"), 200)


if __name__ == "__main__":
    suite.main()
