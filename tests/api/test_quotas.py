#!/usr/bin/env python3
"""Per-namespace storage quotas against a berthd with --auth token: usage counts the distinct
stored blobs a namespace's manifests reference (shared blobs once per namespace), a push
that would exceed the quota is refused with 403 DENIED naming the quota and stores nothing,
re-tagging what is already counted still works, deletions give the space back, usage
survives a restart; /api/v1/quotas (who may see and set what, every bad input) and the
`berthd quota` command (sizes, bad input)."""

import base64
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ["BERTH_TEST_AUTH"] = "token"
from berthtest import *  # noqa: E402,F401,F403

_orig_request = Registry.request


def _wait_ready(self, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("server exited with status %s" % self.proc.returncode)
        try:
            if _orig_request(self, "GET", "/v2/", timeout=2).status in (200, 401):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("GET /v2/ not ready within %ds" % timeout)


def _request(self, method, path, headers=None, body=None, **kw):
    """Every request carries the admin's credentials unless it has its own."""
    h = dict(headers.items()) if isinstance(headers, dict) else dict(headers or [])
    if getattr(self, "default_auth", None) and not any(k.lower() == "authorization" for k in h):
        h["Authorization"] = self.default_auth
    return _orig_request(self, method, path, h, body, **kw)


Registry.wait_ready = _wait_ready
Registry.request = _request

suite = Suite("quotas", needs_process=True)
S = {}
PW = {"admin": "admin-password-1", "qalice": "alice-password-1", "qbob": "bob-password-1"}


def basic(user):
    return "Basic " + base64.b64encode(("%s:%s" % (user, PW[user])).encode()).decode()


def cli(reg, *args, stdin=None):
    return subprocess.run([reg.binary()] + list(args) + reg.data_args(), input=stdin,
                          capture_output=True, text=True, timeout=30)


def setup(reg):
    if S:
        return
    for user, admin in (("admin", True), ("qalice", False), ("qbob", False)):
        p = cli(reg, "user", "add", user, *(["--admin"] if admin else []), "--password-stdin",
                stdin=PW[user] + "\n")
        check(p.returncode == 0, "user add %s: %s" % (user, p.stderr))
    p = cli(reg, "org", "add", "qacme", "--owner", "qalice")
    check(p.returncode == 0, "org add: %s" % p.stderr)
    reg.default_auth = basic("admin")
    S["ready"] = True


def api(reg, method, path, body=None, user="admin"):
    data = json.dumps(body).encode() if body is not None else None
    return reg.request(method, "/api/v1" + path,
                       {"Authorization": basic(user), "Content-Type": "application/json"}, data)


def usage(reg, ns):
    r = api(reg, "GET", "/quotas/" + ns)
    expect_status(r, 200)
    return r.json()


def blob_bytes(img):
    return sum(len(d) for _, d in img.blobs)


@suite.case("a namespace with nothing pushed uses 0 bytes and has no quota")
def _(reg):
    setup(reg)
    u = usage(reg, "qacme")
    check(u == {"namespace": "qacme", "used": 0, "quota": None}, "got %r" % u)


@suite.case("a push counts its config and layers in the namespace; the CLI shows the same bytes")
def _(reg):
    setup(reg)
    img = reg.push_image("qacme/app", "v1", layers=2, layer_size=3000)
    S["img"] = img
    want = blob_bytes(img)
    check(usage(reg, "qacme")["used"] == want, "used %r, want %d" % (usage(reg, "qacme"), want))
    p = cli(reg, "quota", "show", "qacme")
    check(p.returncode == 0 and str(want) in p.stdout, "quota show: %r %r" % (p.stdout, p.stderr))
    p = cli(reg, "quota", "show")
    check(p.returncode == 0 and "qacme" in p.stdout, "quota show (all): %r" % p.stdout)


@suite.case("blobs shared by two repositories of one namespace count once")
def _(reg):
    setup(reg)
    img = S["img"]
    before = usage(reg, "qacme")["used"]
    for digest, _ in img.blobs:
        r = reg.request("POST", "/v2/qacme/other/blobs/uploads/?mount=%s&from=qacme/app" % digest)
        expect_status(r, 201)
    reg.push_manifest("qacme/other", "v1", img.body, img.media_type)
    check(usage(reg, "qacme")["used"] == before, "usage changed: %r" % usage(reg, "qacme"))


@suite.case("the same blobs in another namespace count there too")
def _(reg):
    setup(reg)
    img = S["img"]
    for digest, _ in img.blobs:
        r = reg.request("POST", "/v2/qalice/copy/blobs/uploads/?mount=%s&from=qacme/app" % digest)
        expect_status(r, 201)
    reg.push_manifest("qalice/copy", "v1", img.body, img.media_type)
    check(usage(reg, "qalice")["used"] == blob_bytes(img), "qalice: %r" % usage(reg, "qalice"))


@suite.case("a push over the quota: 403 DENIED naming the quota, nothing stored, usage unchanged")
def _(reg):
    setup(reg)
    used = usage(reg, "qacme")["used"]
    r = api(reg, "PUT", "/quotas/qacme", {"quota": used + 100})
    expect_status(r, 200)
    check(r.json()["quota"] == used + 100, "PUT answer %r" % r.json())
    r_img = None
    try:
        reg.push_image("qacme/app", "big", layers=1, layer_size=1000)
    except CheckFailed as e:
        r_img = e.resp
    check(r_img is not None, "the push over the quota succeeded")
    expect_error(r_img, 403, "DENIED")
    msg = r_img.json()["errors"][0]["message"]
    check("quota" in msg and str(used + 100) in msg and "qacme" in msg, "message: %r" % msg)
    expect_status(reg.get_manifest("qacme/app", "big"), 404)
    check(usage(reg, "qacme")["used"] == used, "usage changed: %r" % usage(reg, "qacme"))


@suite.case("a push that fits in what is left of the quota succeeds")
def _(reg):
    setup(reg)
    used = usage(reg, "qacme")["used"]
    img = reg.push_image("qacme/app", "small", kind="artifact", layers=1, layer_size=50)
    # The empty config "{}" (2 bytes) and the 50-byte layer.
    check(usage(reg, "qacme")["used"] == used + blob_bytes(img), "usage %r" % usage(reg, "qacme"))
    S["small"] = img


@suite.case("with the quota lowered under the usage, re-tagging counted content still works")
def _(reg):
    setup(reg)
    expect_status(api(reg, "PUT", "/quotas/qacme", {"quota": 1}), 200)
    img = S["img"]
    reg.push_manifest("qacme/app", "again", img.body, img.media_type)
    reg.push_manifest("qacme/third", "v1", img.body, img.media_type, expect=None)
    try:
        reg.push_image("qacme/app", "more", layers=1, layer_size=10)
        check(False, "a push adding bytes went through")
    except CheckFailed as e:
        if e.resp is None:
            raise
        expect_error(e.resp, 403, "DENIED")


@suite.case("a namespace at its quota gets no new upload session (403 DENIED), a mount still works")
def _(reg):
    setup(reg)
    before = reg.snapshot(repos=["qacme/app"])
    r = reg.request("POST", "/v2/qacme/app/blobs/uploads/")
    expect_error(r, 403, "DENIED")
    check("quota" in r.json()["errors"][0]["message"], "message %r" % r.json())
    r = reg.request("POST", "/v2/qacme/app/blobs/uploads/?digest=%s" % sha256(b"x"),
                    {"Content-Type": "application/octet-stream"}, b"x")
    expect_error(r, 403, "DENIED")
    expect_status(reg.request("HEAD", "/v2/qacme/app/blobs/%s" % sha256(b"x")), 404)
    reg.unchanged(before, repos=["qacme/app"])
    digest = S["img"].blobs[0][0]
    r = reg.request("POST", "/v2/qacme/mounted/blobs/uploads/?mount=%s&from=qacme/app" % digest)
    expect_status(r, 201)


@suite.case("deleting manifests gives space back once no manifest of the namespace references a blob")
def _(reg):
    setup(reg)
    img, small = S["img"], S["small"]
    before = usage(reg, "qacme")["used"]
    r = reg.request("DELETE", "/v2/qacme/other/manifests/%s" % img.digest)
    expect_status(r, 202)
    check(usage(reg, "qacme")["used"] == before, "still referenced by qacme/app, but usage changed")
    r = reg.request("DELETE", "/v2/qacme/app/manifests/%s" % small.digest)
    expect_status(r, 202)
    # The small artifact's empty config may be shared; its 50-byte layer is not.
    check(usage(reg, "qacme")["used"] <= before - 50, "usage %r after deleting the artifact" % usage(reg, "qacme"))


@suite.case("deleting a repository gives its space back")
def _(reg):
    setup(reg)
    r = api(reg, "DELETE", "/repositories/qalice/copy")
    expect_status(r, 204)
    check(usage(reg, "qalice")["used"] == 0, "qalice: %r" % usage(reg, "qalice"))


@suite.case("usage and quotas survive a restart")
def _(reg):
    setup(reg)
    before = usage(reg, "qacme")
    reg.restart()
    check(usage(reg, "qacme") == before, "%r became %r" % (before, usage(reg, "qacme")))


@suite.case("quota null removes it; pushes then go through")
def _(reg):
    setup(reg)
    r = api(reg, "PUT", "/quotas/qacme", {"quota": None})
    expect_status(r, 200)
    check(r.json()["quota"] is None, "answer %r" % r.json())
    reg.push_image("qacme/app", "free", layers=1, layer_size=2000)


@suite.case("who may see and set quotas")
def _(reg):
    setup(reg)
    expect_status(api(reg, "GET", "/quotas/qacme", user="qalice"), 200)   # owner of the org
    expect_status(api(reg, "GET", "/quotas/qalice", user="qalice"), 200)  # own namespace
    expect_error(api(reg, "GET", "/quotas/qacme", user="qbob"), 403, "DENIED")
    expect_error(api(reg, "GET", "/quotas", user="qalice"), 403, "DENIED")
    expect_error(api(reg, "PUT", "/quotas/qalice", {"quota": 10 ** 9}, user="qalice"), 403, "DENIED")
    r = reg.request("GET", "/api/v1/quotas/qacme", {"Authorization": ""})
    check(r.status == 401, "anonymous: %d" % r.status, r)
    r = api(reg, "GET", "/quotas")
    expect_status(r, 200)
    names = [q["namespace"] for q in r.json()["quotas"]]
    check("qacme" in names, "list %r" % names)


@suite.case("PUT /api/v1/quotas bad input {0}: 400, nothing changed",
            params=[{"quota": -1}, {"quota": "10G"}, {"quota": 1.5}, {"quota": True}, {}, {"limit": 5}])
def _(reg, body):
    setup(reg)
    before = usage(reg, "qbob")
    r = api(reg, "PUT", "/quotas/qbob", body)
    expect_error(r, 400, "BAD_REQUEST")
    check(usage(reg, "qbob") == before, "changed to %r" % usage(reg, "qbob"))


@suite.case("PUT /api/v1/quotas with a bad namespace or body: 400")
def _(reg):
    setup(reg)
    expect_error(api(reg, "PUT", "/quotas/Not..Valid", {"quota": 1}), 400, "NAME_INVALID")
    r = reg.request("PUT", "/api/v1/quotas/qbob", {"Authorization": basic("admin"),
                                                   "Content-Type": "application/json"}, b"{not json")
    check(r.status == 400, "status %d" % r.status, r)
    expect_status(api(reg, "POST", "/quotas/qbob", {"quota": 1}), 405)


@suite.case("berthd quota set accepts sizes with units")
def _(reg):
    setup(reg)
    for arg, want in (("1M", 1 << 20), ("2GiB", 2 << 30), ("5KB", 5000), ("1TB", 10 ** 12), ("123", 123),
                      ("0", 0)):
        p = cli(reg, "quota", "set", "qbob", arg)
        check(p.returncode == 0, "quota set %s: %s" % (arg, p.stderr))
        check(usage(reg, "qbob")["quota"] == want, "%s gave %r" % (arg, usage(reg, "qbob")))
    p = cli(reg, "quota", "set", "qbob", "none")
    check(p.returncode == 0 and usage(reg, "qbob")["quota"] is None, "none: %r" % p.stderr)


@suite.case("berthd quota bad input {0}: one-line error, non-zero exit, nothing changed",
            params=["set|qbob|10X", "set|qbob|-5", "set|qbob|", "set|qbob|99999999999T",
                    "set|Bad Name|1G", "set|qbob", "frob", "show|a|b"])
def _(reg, words):
    setup(reg)
    args = words.split("|")
    before = usage(reg, "qbob")
    p = cli(reg, "quota", *args)
    check(p.returncode != 0, "exit 0 for %r: %r" % (args, p.stdout))
    check(p.stderr.startswith("berthd: ") and p.stderr.count("\n") == 1, "stderr %r" % p.stderr)
    check(usage(reg, "qbob") == before, "changed to %r" % usage(reg, "qbob"))


if __name__ == "__main__":
    suite.main()
