#!/usr/bin/env python3
"""Webhooks against a berthd with --auth token and a receiver on 127.0.0.1: managing them
through /api/v1/webhooks (who may, every bad input, the secret shown once), signed push and
delete deliveries (HMAC-SHA256 checked here), the events filter, retries with backoff when
the receiver answers 500, giving up after --webhook-max-attempts, the delivery history,
and a queue that survives a restart."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ["BERTH_TEST_AUTH"] = "token"
import berthtest  # noqa: E402
from berthtest import *  # noqa: E402,F401,F403

_orig_request = Registry.request
_orig_command = Registry._command


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
        h.setdefault("Authorization", auth)
        headers = h
    return _orig_request(self, method, path, headers, body, **kw)


def _command(self, port, read_only):
    return _orig_command(self, port, read_only) + ["--webhook-retry-base", "1", "--webhook-max-attempts", "4"]


Registry.wait_ready = _wait_ready
Registry.request = _request
Registry._command = _command

suite = Suite("webhooks", needs_process=True)
PW = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-1"}
SECRET = "s3cret-for-the-tests-0123456789"
S = {}


class Receiver:
    """Records every POST; a path in `fail` answers 500 that many times (-1: always)."""

    def __init__(self, port=0):
        self.got = []
        self.fail = {}
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.got.append((self.path, dict(self.headers), body))
                    left = outer.fail.get(self.path, 0)
                    if left:
                        outer.fail[self.path] = left - 1 if left > 0 else -1
                code = 500 if left else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def posts(self, path):
        with self.lock:
            return [(h, b) for p, h, b in self.got if p == path]

    def wait(self, path, n, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.posts(path)
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise CheckFailed("%s got %d posts within %ds, want %d" % (path, len(self.posts(path)), timeout, n))

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


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


def hooks(reg, user="admin"):
    return doc(api(reg, user, "GET", "/webhooks"))["webhooks"]


def add_hook(reg, user, **body):
    return doc(api(reg, user, "POST", "/webhooks", body), 201)


def deliveries(reg, hid, user="admin"):
    return doc(api(reg, user, "GET", "/webhooks/%d/deliveries" % hid))["deliveries"]


def wait_delivery(reg, hid, cond, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = deliveries(reg, hid)
        if last and cond(last[0]):
            return last[0]
        time.sleep(0.2)
    raise CheckFailed("delivery of webhook %d not as expected within %ds: %r" % (hid, timeout, last))


def signed(headers, body, secret=SECRET):
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return headers.get("X-Berth-Signature-256") == want


@suite.case("set-up: admin, alice and bob; a receiver on 127.0.0.1")
def _(reg):
    for name in ("admin", "alice", "bob"):
        args = [reg.binary(), "user", "add", name, "--password-stdin", *reg.data_args()]
        if name == "admin":
            args.append("--admin")
        p = subprocess.run(args, input=(PW[name] + "\n").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        check(p.returncode == 0, "user add %s: %s" % (name, p.stdout.decode()))
    S["rx"] = Receiver()


@suite.case("POST /webhooks: alice adds one on her namespace; the secret is shown once")
def _(reg):
    rx = S["rx"]
    d = add_hook(reg, "alice", namespace="alice", url=rx.url("/ns"), secret=SECRET)
    check(d["namespace"] == "alice" and d["url"] == rx.url("/ns") and d["events"] == ["push", "delete"]
          and d["secret"] == SECRET and d["created_by"] == "alice", "hook %r" % d)
    S["ns"] = d["id"]
    one = doc(api(reg, "alice", "GET", "/webhooks/%d" % d["id"]))
    check("secret" not in one and "secret" not in json.dumps(hooks(reg, "alice")), "the secret is shown again")
    g = add_hook(reg, "alice", repository="alice/gen", url=rx.url("/gen"), events=["push"])
    check(g["secret"].startswith("whsec_") and len(g["secret"]) > 40 and g["events"] == ["push"], "generated %r" % g)
    S["gen"] = g


BAD = [
    ({"namespace": "alice", "secret": SECRET}, "url missing"),
    ({"namespace": "alice", "url": "ftp://127.0.0.1/x", "secret": SECRET}, "ftp url"),
    ({"namespace": "alice", "url": "http://127.0.0.1/a b", "secret": SECRET}, "space in url"),
    ({"namespace": "alice", "url": "http://127.0.0.1/" + "a" * 2100, "secret": SECRET}, "url too long"),
    ({"namespace": "alice", "url": "http://127.0.0.1/x", "secret": "short"}, "short secret"),
    ({"namespace": "alice", "url": "http://127.0.0.1/x", "secret": SECRET, "events": ["pull"]}, "unknown event"),
    ({"namespace": "alice", "url": "http://127.0.0.1/x", "secret": SECRET, "events": "push"}, "events a string"),
    ({"namespace": "alice", "url": "http://127.0.0.1/x", "secret": SECRET, "events": ["push", "push"]}, "repeat"),
    ({"namespace": "alice", "url": "http://127.0.0.1/x", "secret": SECRET, "events": []}, "no events"),
    ({"namespace": "alice", "repository": "alice/x", "url": "http://127.0.0.1/x", "secret": SECRET}, "both"),
    ({"url": "http://127.0.0.1/x", "secret": SECRET}, "no scope"),
    ({"namespace": "-bad-", "url": "http://127.0.0.1/x", "secret": SECRET}, "bad namespace"),
    ({"repository": "alice/UPPER", "url": "http://127.0.0.1/x", "secret": SECRET}, "bad repository"),
    ({"namespace": "alice", "url": 7, "secret": SECRET}, "url a number"),
]


@suite.case("POST /webhooks with bad input: 400 BAD_REQUEST, nothing stored ({1})", params=BAD)
def _(reg, body, why):
    before = hooks(reg)
    expect_error(api(reg, "alice", "POST", "/webhooks", body), 400, "BAD_REQUEST")
    check(hooks(reg) == before, "webhooks changed")


@suite.case("only owners and admins: bob 403 on alice's namespace, anonymous 401, 404 for others' hooks")
def _(reg):
    before = hooks(reg)
    body = {"namespace": "alice", "url": "http://127.0.0.1/x", "secret": SECRET}
    expect_error(api(reg, "bob", "POST", "/webhooks", body), 403, "DENIED")
    expect_error(api(reg, None, "POST", "/webhooks", body), 401, "UNAUTHORIZED")
    check(hooks(reg, "bob") == [], "bob sees alice's webhooks")
    for path in ("/webhooks/%d" % S["ns"], "/webhooks/%d/deliveries" % S["ns"]):
        expect_error(api(reg, "bob", "GET", path), 404, "NOT_FOUND")
    expect_error(api(reg, "bob", "DELETE", "/webhooks/%d" % S["ns"]), 404, "NOT_FOUND")
    expect_error(api(reg, "alice", "GET", "/webhooks/0"), 404, "NOT_FOUND")
    expect_error(api(reg, "alice", "PATCH", "/webhooks/%d" % S["ns"], {}), 405, "UNSUPPORTED")
    expect_error(api(reg, "alice", "GET", "/webhooks/%d/deliveries?limit=0" % S["ns"]), 400, "BAD_REQUEST")
    check(hooks(reg) == before, "webhooks changed")


@suite.case("a push is delivered signed, with repository, tag, digest, pusher and time")
def _(reg):
    rx = S["rx"]
    reg.default_auth = basic("alice")
    img = reg.push_image("alice/app", "v1")
    S["img"] = img
    (h, body), = rx.wait("/ns", 1)
    check(signed(h, body), "bad signature %r" % h.get("X-Berth-Signature-256"))
    check(not signed(h, body, "another secret 0123456789"), "signature does not depend on the secret")
    p = json.loads(body)
    check(p["event"] == "push" and p["repository"] == "alice/app" and p["namespace"] == "alice"
          and p["tag"] == "v1" and p["digest"] == img.digest and p["pusher"] == "alice"
          and abs(p["timestamp"] - time.time()) < 60 and p["time"].endswith("Z"), "payload %r" % p)
    check(h.get("X-Berth-Event") == "push" and h.get("Content-Type") == "application/json"
          and h.get("User-Agent", "").startswith("berth-webhook/"), "headers %r" % h)
    d = wait_delivery(reg, S["ns"], lambda d: d["state"] == "delivered")
    check(str(d["id"]) == h.get("X-Berth-Delivery") and d["attempts"] == 1 and d["last_status"] == 200
          and d["payload"] == p and d["finished_at"], "history %r" % d)
    check(rx.posts("/gen") == [], "a repository hook of another repository got it")


@suite.case("a tag delete is delivered; a push-only webhook gets pushes and no deletes")
def _(reg):
    rx = S["rx"]
    reg.default_auth = basic("alice")
    img = reg.push_image("alice/gen", "t1")
    (h, body), = rx.wait("/gen", 1)
    check(signed(h, body, S["gen"]["secret"]), "generated secret signature")
    expect_status(reg.request("DELETE", "/v2/alice/gen/manifests/t1"), 202)
    posts = rx.wait("/ns", 3)  # v1 push, t1 push, t1 delete
    events = [json.loads(b)["event"] + ":" + str(json.loads(b)["tag"]) for _, b in posts]
    check(events[-1] == "delete:t1", "events %r" % events)
    time.sleep(1.5)
    check(len(rx.posts("/gen")) == 1, "push-only hook got the delete")
    expect_status(reg.request("DELETE", "/v2/alice/gen/manifests/%s" % img.digest), 202)
    (_, b), = rx.wait("/ns", 4)[-1:]
    p = json.loads(b)
    check(p["event"] == "delete" and p["tag"] is None and p["digest"] == img.digest, "digest delete %r" % p)


@suite.case("the first two attempts answered 500 are retried with backoff and then delivered")
def _(reg):
    rx = S["rx"]
    rx.fail["/flaky"] = 2
    hid = add_hook(reg, "alice", repository="alice/flaky", url=rx.url("/flaky"), secret=SECRET)["id"]
    reg.default_auth = basic("alice")
    reg.push_image("alice/flaky", "v1")
    d = wait_delivery(reg, hid, lambda d: d["state"] == "delivered")
    posts = rx.posts("/flaky")
    check(len(posts) == 3 and d["attempts"] == 3 and d["last_status"] == 200 and d["last_error"] is None,
          "%d posts, %r" % (len(posts), d))
    check(len({b for _, b in posts}) == 1 and all(signed(h, b) for h, b in posts), "retries differ or unsigned")
    check(len({h["X-Berth-Delivery"] for h, _ in posts}) == 1, "one delivery id across retries")


@suite.case("a receiver that always fails is given up after --webhook-max-attempts (4)")
def _(reg):
    rx = S["rx"]
    rx.fail["/down"] = -1
    hid = add_hook(reg, "alice", repository="alice/down", url=rx.url("/down"), secret=SECRET)["id"]
    reg.default_auth = basic("alice")
    t0 = time.time()
    reg.push_image("alice/down", "v1")
    pend = wait_delivery(reg, hid, lambda d: d["attempts"] >= 1)
    check(pend["state"] == "pending" and pend["next_attempt_at"] and pend["last_status"] == 500
          and pend["last_error"] == "answered HTTP 500", "after one attempt %r" % pend)
    d = wait_delivery(reg, hid, lambda d: d["state"] == "failed", timeout=30)
    took = time.time() - t0
    check(d["attempts"] == 4 and len(rx.posts("/down")) == 4 and d["next_attempt_at"] is None, "%r" % d)
    check(took >= 1 + 2 + 4 - 1, "backoff too short: gave up after %.1f s" % took)


@suite.case("pending deliveries survive a restart and are delivered once the receiver is up")
def _(reg):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    hid = add_hook(reg, "alice", repository="alice/later", url="http://127.0.0.1:%d/later" % port,
                   secret=SECRET)["id"]
    reg.default_auth = basic("alice")
    reg.push_image("alice/later", "v1")
    d = wait_delivery(reg, hid, lambda d: d["attempts"] >= 1)
    check(d["state"] == "pending" and d["last_status"] is None and d["last_error"], "refused %r" % d)
    reg.restart()
    rx2 = Receiver(port)
    try:
        (h, b), = rx2.wait("/later", 1, timeout=20)
        check(signed(h, b) and json.loads(b)["repository"] == "alice/later", "after restart")
        d = wait_delivery(reg, hid, lambda d: d["state"] == "delivered")
        check(d["attempts"] >= 2, "%r" % d)
    finally:
        rx2.close()


@suite.case("berthd webhook add/list/deliveries/del on the data folder; bad input is one line and exit 1")
def _(reg):
    rx = S["rx"]

    def cli(*args):
        return subprocess.run([reg.binary(), "webhook"] + list(args) + reg.data_args(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)

    p = cli("add", "--repository", "alice/cli", "--url", rx.url("/cli"), "--secret", SECRET, "--events", "push")
    check(p.returncode == 0 and p.stdout.startswith(b"added webhook "), "add: %r %r" % (p.stdout, p.stderr))
    hid = int(p.stdout.split()[2])
    check(("%d repository alice/cli push %s" % (hid, rx.url("/cli"))).encode() in cli("list").stdout, "list")
    reg.default_auth = basic("alice")
    reg.push_image("alice/cli", "v1")
    (h, b), = rx.wait("/cli", 1)
    check(signed(h, b), "CLI webhook signature")
    wait_delivery(reg, hid, lambda d: d["state"] == "delivered")
    out = cli("deliveries", str(hid)).stdout.decode()
    check(" push delivered attempts=1 status=200" in out, "deliveries: %r" % out)
    for args in (["add", "--namespace", "alice", "--url", "ftp://x"], ["add", "--url", "http://127.0.0.1/x"],
                 ["add", "--namespace", "alice", "--url", "http://127.0.0.1/x", "--events", "pull"],
                 ["add", "--namespace", "alice", "--url", "http://127.0.0.1/x", "--secret", "short"],
                 ["del", "x"], ["del", "999999"], ["deliveries", "999999"], ["frob"]):
        before = cli("list").stdout
        p = cli(*args)
        check(p.returncode == 1 and len(p.stderr.splitlines()) == 1 and p.stderr.startswith(b"berthd: ")
              and cli("list").stdout == before, "%s: %d %r" % (args, p.returncode, p.stderr))
    p = cli("del", str(hid))
    left = [l for l in cli("list").stdout.decode().splitlines() if l.split()[0] == str(hid)]
    check(p.returncode == 0 and p.stdout == b"deleted webhook %d\n" % hid and not left, "del: %r %r" % (p.stdout, left))


@suite.case("a tag untagged by retention sends a delete event with pusher \"retention\"")
def _(reg):
    rx = S["rx"]
    reg.default_auth = basic("alice")
    reg.push_image("alice/ret", "r1")
    reg.push_image("alice/ret", "r2")
    doc(api(reg, "alice", "POST", "/tag-rules", {"kind": "retention", "repository": "alice/ret", "pattern": "r*",
                                                 "keep_last": 1}), 201)
    rep = doc(api(reg, "admin", "POST", "/retention", {"dry_run": False}))
    gone = [t for t in rep["tags"] if t["repository"] == "alice/ret" and t["action"] == "untag"]
    check(len(gone) == 1, "untagged %r" % rep["tags"])
    deadline, dels = time.time() + 15, []
    while time.time() < deadline and not dels:
        dels = [json.loads(b) for _, b in rx.posts("/ns")
                if json.loads(b)["event"] == "delete" and json.loads(b)["repository"] == "alice/ret"]
        time.sleep(0.1)
    check(len(dels) == 1, "delete events of alice/ret: %r" % dels)
    p = dels[0]
    check(p["tag"] == gone[0]["tag"] and p["digest"] == gone[0]["digest"] and p["pusher"] == "retention",
          "event %r" % p)


@suite.case("DELETE /api/v1/repositories/{name} sends a delete event for each of its tags")
def _(reg):
    rx = S["rx"]
    reg.default_auth = basic("alice")
    imgs = {t: reg.push_image("alice/gone", t) for t in ("g1", "g2")}
    expect_status(api(reg, "alice", "DELETE", "/repositories/alice/gone"), 204)
    deadline, dels = time.time() + 15, []
    while time.time() < deadline and len(dels) < 2:
        dels = [json.loads(b) for _, b in rx.posts("/ns")
                if json.loads(b)["event"] == "delete" and json.loads(b)["repository"] == "alice/gone"]
        time.sleep(0.1)
    got = sorted((p["tag"], p["digest"], p["pusher"]) for p in dels)
    check(got == [("g1", imgs["g1"].digest, "alice"), ("g2", imgs["g2"].digest, "alice")], "events %r" % got)


@suite.case("DELETE /webhooks/{id} (204) stops deliveries; the metrics count deliveries and failures")
def _(reg):
    rx = S["rx"]
    n = len(rx.posts("/ns"))
    expect_status(api(reg, "alice", "DELETE", "/webhooks/%d" % S["ns"]), 204)
    expect_error(api(reg, "alice", "DELETE", "/webhooks/%d" % S["ns"]), 404, "NOT_FOUND")
    reg.default_auth = basic("alice")
    reg.push_image("alice/app", "v2")
    time.sleep(1.5)
    check(len(rx.posts("/ns")) == n, "a deleted webhook still gets events")
    reg.default_auth = basic("admin")
    r = reg.get("/metrics")
    expect_status(r, 200)
    vals = {l.split()[0]: float(l.split()[1]) for l in r.body.decode().splitlines() if l and l[0] != "#"}
    check(vals.get("berth_webhook_deliveries_total", 0) >= 1, "deliveries counter %r" % vals)
    S["rx"].close()


if __name__ == "__main__":
    suite.main()
