#!/usr/bin/env python3
"""The JSON API of the web UI under /api/v1 against a berthd with --auth token: sessions
(cookie flags, CSRF), personal access tokens, password change, user administration,
organizations and members, repository listing/search/pagination/visibility, repository
settings, tag and repository deletion, the audit log, every bad input (with nothing
changed), login throttling, and the read-only API of --auth none."""

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

# With accounts, GET /v2/ answers 401 to an anonymous caller: that is ready too.
_orig_wait_ready = Registry.wait_ready


def _wait_ready(self, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("server exited with status %s" % self.proc.returncode)
        try:
            r = _orig_request(self, "GET", "/v2/", timeout=2)
            if r.status in (200, 401):
                return
            last = "GET /v2/ -> %d" % r.status
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError("GET /v2/ not ready within %ds (%s)" % (timeout, last))


# Registry helpers push without credentials; reg.default_auth adds them to /v2/ requests.
_orig_request = Registry.request


def _request(self, method, path, headers=None, body=None, **kw):
    auth = getattr(self, "default_auth", None)
    if auth and path.startswith("/v2/"):
        h = dict(headers.items()) if isinstance(headers, dict) else dict(headers or [])
        if not any(k.lower() == "authorization" for k in h):
            h["Authorization"] = auth
        headers = h
    return _orig_request(self, method, path, headers, body, **kw)


Registry.wait_ready = _wait_ready
Registry.request = _request

suite = Suite("api_v1")
S = {}
PW = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-1",
      "carol": "carol-password-1"}


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Client:
    """A caller of /api/v1: Authorization header credentials, or a session cookie."""

    def __init__(self, reg, auth=None):
        self.reg, self.auth, self.cookie, self.csrf = reg, auth, None, None

    def call(self, method, path, body=None, headers=None, csrf=True, raw=None, ctype=None, chunked=False):
        h = {}
        if self.auth:
            h["Authorization"] = self.auth
        if self.cookie:
            h["Cookie"] = "berth_session=" + self.cookie
            if csrf and self.csrf and method in ("POST", "PUT", "PATCH", "DELETE"):
                h["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            data = json.dumps(body).encode()
        if raw is not None:
            data = raw
        if data is not None:
            h["Content-Type"] = ctype or "application/json"
        h.update(headers or {})
        return self.reg.request(method, "/api/v1" + path, h, data, chunked=chunked)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def login(self, user, password, expect=200):
        r = self.call("POST", "/session", {"username": user, "password": password})
        expect_status(r, expect)
        if r.status == 200:
            cookie = r.h("Set-Cookie") or ""
            check(cookie.startswith("berth_session="), "no berth_session cookie", r)
            self.cookie = cookie.split(";")[0].split("=", 1)[1]
            self.csrf = r.json()["csrf_token"]
        return r


def doc(r, status=200):
    expect_status(r, status)
    try:
        return r.json()
    except ValueError:
        raise CheckFailed("body is not JSON", r)


def as_user(reg, name):
    return Client(reg, basic(name, PW[name]))


def admin(reg):
    return as_user(reg, "admin")


def users_state(reg):
    return doc(admin(reg).get("/users"))["users"]


def push(reg, user, repo, tag="latest", **kw):
    reg.default_auth = basic(user, PW[user])
    try:
        return reg.push_image(repo, tag, **kw)
    finally:
        reg.default_auth = None


def v2(reg, method, path, auth=None):
    return _orig_request(reg, method, path, {"Authorization": auth} if auth else None)


# ---------------------------------------------------------------------------------------
# Set-up and sessions


@suite.case("the first admin is created with berthd user add on the data folder")
def _(reg):
    p = subprocess.run([reg.binary(), "user", "add", "admin", "--admin", "--password-stdin",
                        *reg.data_args()], input=(PW["admin"] + "\n").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    check(p.returncode == 0, "berthd user add: %s" % p.stdout.decode())
    r = admin(reg).get("/user")
    d = doc(r)
    check(d["name"] == "admin" and d["admin"] is True, "GET /user: %r" % d, r)


@suite.case("GET /session without credentials is 401 UNAUTHORIZED")
def _(reg):
    expect_error(Client(reg).get("/session"), 401, "UNAUTHORIZED")
    expect_error(Client(reg).get("/user"), 401, "UNAUTHORIZED")


@suite.case("POST /session signs in: HttpOnly SameSite=Strict Path=/ cookie (no Secure on HTTP), CSRF token")
def _(reg):
    c = Client(reg)
    r = c.login("admin", PW["admin"])
    d = r.json()
    check(d["user"]["name"] == "admin" and d["user"]["admin"] is True, "user %r" % d, r)
    check(isinstance(d.get("csrf_token"), str) and len(d["csrf_token"]) >= 32, "csrf_token %r" % d, r)
    attrs = [a.strip().lower() for a in r.h("Set-Cookie").split(";")]
    for want in ("httponly", "samesite=strict", "path=/"):
        check(want in attrs, "cookie lacks %s: %s" % (want, r.h("Set-Cookie")), r)
    check("secure" not in attrs, "Secure on plain HTTP: %s" % r.h("Set-Cookie"), r)
    check(c.cookie not in json.dumps(d), "the cookie secret is in the body", r)
    g = doc(c.get("/session"))
    check(g["user"]["name"] == "admin" and g["csrf_token"] == c.csrf, "GET /session: %r" % g)
    check(doc(c.get("/user"))["name"] == "admin", "GET /user with the cookie")
    S["admin_session"] = c


@suite.case("only a hash of the session secret is stored")
def _(reg):
    c = S["admin_session"]
    db = reg.db()
    rows = db.execute("SELECT secret_hash, csrf_token, expires_at - created_at FROM sessions").fetchall()
    db.close()
    check(rows, "no session row")
    check(all(c.cookie not in r[0] for r in rows), "the secret itself is stored")
    check(any(r[1] == c.csrf for r in rows), "csrf token not stored")
    check(all(0 < r[2] <= 7 * 86400 for r in rows), "absolute expiry: %r" % rows)


@suite.case("sign-in failures: wrong password 401, unknown user 401, missing fields 400, PAT 401")
def _(reg):
    c = Client(reg)
    expect_error(c.call("POST", "/session", {"username": "admin", "password": "wrong-password"}), 401,
                 "UNAUTHORIZED")
    expect_error(c.call("POST", "/session", {"username": "nobody", "password": "wrong-password"}), 401,
                 "UNAUTHORIZED")
    expect_error(c.call("POST", "/session", {"username": "admin"}), 400, "BAD_REQUEST")
    expect_error(c.call("POST", "/session", {"username": 5, "password": "x"}), 400, "BAD_REQUEST")
    expect_error(c.call("POST", "/session"), 400, "BAD_REQUEST")
    c.login("admin", PW["admin"])  # a success clears the address's failure count


@suite.case("CSRF: a cookie-authenticated change without or with a wrong X-CSRF-Token is 403 and changes nothing")
def _(reg):
    c = S["admin_session"]
    before = doc(c.get("/user/tokens"))["tokens"]
    expect_error(c.call("POST", "/user/tokens", {"name": "csrf", "scope": "read"}, csrf=False), 403, "DENIED")
    expect_error(c.call("POST", "/user/tokens", {"name": "csrf", "scope": "read"},
                        headers={"X-CSRF-Token": "csrf_" + "a" * 52}), 403, "DENIED")
    expect_error(c.call("POST", "/users", {"name": "mallory", "password": "mallory-pass"}, csrf=False), 403,
                 "DENIED")
    expect_error(c.call("DELETE", "/session", csrf=False), 403, "DENIED")
    check(doc(c.get("/user/tokens"))["tokens"] == before, "tokens changed")
    check(all(u["name"] != "mallory" for u in users_state(reg)), "user created without CSRF token")
    # With the token it works; reads never need it.
    r = c.call("POST", "/user/tokens", {"name": "csrf-ok", "scope": "read"})
    expect_status(r, 201)
    expect_status(c.call("DELETE", "/user/tokens/%d" % r.json()["id"]), 204)


@suite.case("requests authenticated by Authorization need no CSRF token")
def _(reg):
    r = admin(reg).call("POST", "/user/tokens", {"name": "hdr", "scope": "read"})
    expect_status(r, 201)
    expect_status(admin(reg).call("DELETE", "/user/tokens/%d" % r.json()["id"]), 204)


@suite.case("DELETE /session signs out: cookie cleared, the old cookie no longer works")
def _(reg):
    c = Client(reg)
    c.login("admin", PW["admin"])
    r = c.call("DELETE", "/session")
    expect_status(r, 204)
    check("max-age=0" in (r.h("Set-Cookie") or "").lower(), "cookie not cleared", r)
    expect_error(c.get("/session"), 401, "UNAUTHORIZED")
    expect_error(c.get("/user"), 401, "UNAUTHORIZED")
    expect_error(Client(reg).call("DELETE", "/session"), 401, "UNAUTHORIZED")


@suite.case("a forged or garbage session cookie is anonymous")
def _(reg):
    c = Client(reg)
    c.cookie, c.csrf = "berth_s_" + "a" * 52, "x"
    expect_error(c.get("/user"), 401, "UNAUTHORIZED")
    c.cookie = "garbage;;=="
    expect_error(c.get("/session"), 401, "UNAUTHORIZED")


# ---------------------------------------------------------------------------------------
# User administration


@suite.case("admin creates users alice, bob, carol (201, audited)")
def _(reg):
    a = admin(reg)
    for name in ("alice", "bob", "carol"):
        r = a.call("POST", "/users", {"name": name, "password": PW[name], "email": name + "@example.org"})
        d = doc(r, 201)
        check(d["name"] == name and d["admin"] is False and d["email"] == name + "@example.org",
              "created %r" % d, r)
        check("password" not in json.dumps(d), "password in response", r)
    names = [u["name"] for u in users_state(reg)]
    check(names == sorted(names) and {"admin", "alice", "bob", "carol"} <= set(names), "users %r" % names)


@suite.case("POST /users refuses bad input with 400/409 and creates nothing")
def _(reg):
    a = admin(reg)
    before = users_state(reg)
    cases = [
        ({"name": "alice", "password": "another-pass"}, 409, "CONFLICT"),
        ({"name": "A!", "password": "another-pass"}, 400, "NAME_INVALID"),
        ({"name": "x", "password": "another-pass"}, 400, "NAME_INVALID"),
        ({"name": "a/b", "password": "another-pass"}, 400, "NAME_INVALID"),
        ({"name": "n" * 65, "password": "another-pass"}, 400, "BAD_REQUEST", "NAME_INVALID"),
        ({"name": "newbie", "password": "short"}, 400, "BAD_REQUEST"),
        ({"name": "newbie"}, 400, "BAD_REQUEST"),
        ({"password": "another-pass"}, 400, "BAD_REQUEST"),
        ({"name": 7, "password": "another-pass"}, 400, "BAD_REQUEST"),
        ({"name": "newbie", "password": "another-pass", "admin": "yes"}, 400, "BAD_REQUEST"),
        ({"name": "newbie", "password": "another-pass", "email": "not-an-address"}, 400, "BAD_REQUEST"),
        ({"name": "newbie", "password": "another-pass", "email": ["x"]}, 400, "BAD_REQUEST"),
    ]
    for body, status, *codes in cases:
        expect_error(a.call("POST", "/users", body), status, *codes)
    check(users_state(reg) == before, "users changed")


@suite.case("non-admins get 403 DENIED on user administration and the audit log; anonymous 401")
def _(reg):
    al = as_user(reg, "alice")
    expect_error(al.get("/users"), 403, "DENIED")
    expect_error(al.call("POST", "/users", {"name": "evil", "password": "evil-password"}), 403, "DENIED")
    expect_error(al.call("PATCH", "/users/bob", {"disabled": True}), 403, "DENIED")
    expect_error(al.call("DELETE", "/users/bob"), 403, "DENIED")
    expect_error(al.get("/audit"), 403, "DENIED")
    expect_error(Client(reg).get("/users"), 401, "UNAUTHORIZED")
    expect_error(Client(reg).call("POST", "/users", {"name": "evil", "password": "evil-password"}), 401,
                 "UNAUTHORIZED")
    check(all(u["name"] != "evil" for u in users_state(reg)), "evil created")
    check(not next(u for u in users_state(reg) if u["name"] == "bob")["disabled"], "bob disabled")


@suite.case("PATCH /users/{name}: disable (sign-in refused), enable, admin flag, password")
def _(reg):
    a = admin(reg)
    d = doc(a.call("PATCH", "/users/bob", {"disabled": True}))
    check(d["disabled"] is True, "not disabled: %r" % d)
    expect_error(Client(reg).call("POST", "/session", {"username": "bob", "password": PW["bob"]}), 401,
                 "UNAUTHORIZED")
    expect_error(as_user(reg, "bob").get("/user"), 401, "UNAUTHORIZED")
    d = doc(a.call("PATCH", "/users/bob", {"disabled": False, "admin": True}))
    check(d["disabled"] is False and d["admin"] is True, "patch: %r" % d)
    doc(as_user(reg, "bob").get("/users"))  # bob is an admin now
    doc(a.call("PATCH", "/users/bob", {"admin": False}))
    expect_error(as_user(reg, "bob").get("/users"), 403, "DENIED")
    doc(a.call("PATCH", "/users/carol", {"password": "carol-password-2"}))
    expect_error(as_user(reg, "carol").get("/user"), 401, "UNAUTHORIZED")
    PW["carol"] = "carol-password-2"
    doc(as_user(reg, "carol").get("/user"))


@suite.case("PATCH /users/{name} refuses bad input and self-lockout, changing nothing")
def _(reg):
    a = admin(reg)
    before = users_state(reg)
    expect_error(a.call("PATCH", "/users/bob", {}), 400, "BAD_REQUEST")
    expect_error(a.call("PATCH", "/users/bob", {"disabled": "true"}), 400, "BAD_REQUEST")
    expect_error(a.call("PATCH", "/users/bob", {"admin": 1}), 400, "BAD_REQUEST")
    expect_error(a.call("PATCH", "/users/bob", {"password": "short"}), 400, "BAD_REQUEST")
    expect_error(a.call("PATCH", "/users/nobody", {"disabled": True}), 404, "NOT_FOUND")
    expect_error(a.call("PATCH", "/users/admin", {"disabled": True}), 403, "DENIED")
    expect_error(a.call("PATCH", "/users/admin", {"admin": False}), 403, "DENIED")
    check(users_state(reg) == before, "users changed")


@suite.case("DELETE /users/{name}: 204, then 404; an admin cannot delete itself")
def _(reg):
    a = admin(reg)
    doc(a.call("POST", "/users", {"name": "dave", "password": "dave-password"}), 201)
    expect_status(a.call("DELETE", "/users/dave"), 204)
    expect_error(a.call("DELETE", "/users/dave"), 404, "NOT_FOUND")
    expect_error(a.get("/users/dave"), 404, "NOT_FOUND")
    expect_error(a.call("DELETE", "/users/admin"), 403, "DENIED")
    expect_error(Client(reg, basic("dave", "dave-password")).get("/user"), 401, "UNAUTHORIZED")


# ---------------------------------------------------------------------------------------
# Personal access tokens


@suite.case("tokens: create shows the secret once; list has times; the PAT works on /v2/ and as Bearer")
def _(reg):
    al = as_user(reg, "alice")
    d = doc(al.call("POST", "/user/tokens", {"name": "ci", "scope": "read-write"}), 201)
    check(set(d) >= {"id", "name", "scope", "token"} and d["token"].startswith("berth_pat_"), "%r" % d)
    S["alice_pat"] = d
    lst = doc(al.get("/user/tokens"))["tokens"]
    t = next(x for x in lst if x["id"] == d["id"])
    check(t["name"] == "ci" and t["scope"] == "read-write" and t["created_at"] > 0, "%r" % t)
    check(t["last_used_at"] is None and t["revoked_at"] is None, "%r" % t)
    check("token" not in t and d["token"] not in json.dumps(lst), "the secret is listed again")
    expect_status(v2(reg, "GET", "/v2/", basic("alice", d["token"])), 200)
    me = doc(Client(reg, "Bearer " + d["token"]).get("/user"))
    check(me["name"] == "alice", "Bearer PAT: %r" % me)
    t = next(x for x in doc(al.get("/user/tokens"))["tokens"] if x["id"] == d["id"])
    check(t["last_used_at"], "last_used_at not recorded: %r" % t)
    # A browser session is opened with the password, not with a token.
    expect_error(Client(reg).call("POST", "/session", {"username": "alice", "password": d["token"]}), 401,
                 "UNAUTHORIZED")


@suite.case("tokens: bad input is 400/409 and creates nothing; a narrow PAT cannot make tokens")
def _(reg):
    al = as_user(reg, "alice")
    before = doc(al.get("/user/tokens"))["tokens"]
    expect_error(al.call("POST", "/user/tokens", {"name": "ci", "scope": "read"}), 409, "CONFLICT")
    expect_error(al.call("POST", "/user/tokens", {"name": "x", "scope": "admin"}), 400, "BAD_REQUEST")
    expect_error(al.call("POST", "/user/tokens", {"name": "", "scope": "read"}), 400, "BAD_REQUEST")
    expect_error(al.call("POST", "/user/tokens", {"name": "x" * 101, "scope": "read"}), 400, "BAD_REQUEST")
    expect_error(al.call("POST", "/user/tokens", {"name": "a\nb", "scope": "read"}), 400, "BAD_REQUEST")
    expect_error(al.call("POST", "/user/tokens", {"scope": "read"}), 400, "BAD_REQUEST")
    expect_error(al.call("POST", "/user/tokens", {"name": ["x"], "scope": "read"}), 400, "BAD_REQUEST")
    narrow = Client(reg, "Bearer " + S["alice_pat"]["token"])
    expect_error(narrow.call("POST", "/user/tokens", {"name": "wider", "scope": "read-write-delete"}), 403,
                 "DENIED")
    expect_error(narrow.call("PUT", "/user/password", {"current_password": PW["alice"],
                                                       "new_password": "whatever-123"}), 403, "DENIED")
    check(doc(al.get("/user/tokens"))["tokens"] == before, "tokens changed")
    expect_error(Client(reg, "Bearer not-a-pat").get("/user"), 401, "UNAUTHORIZED")
    al.get("/user")  # a success clears the address's failure count


@suite.case("tokens: revoke (204, audited); the PAT stops working; revoking again is 404")
def _(reg):
    al = as_user(reg, "alice")
    d = doc(al.call("POST", "/user/tokens", {"name": "tmp", "scope": "read"}), 201)
    expect_status(v2(reg, "GET", "/v2/", basic("alice", d["token"])), 200)
    expect_error(as_user(reg, "bob").call("DELETE", "/user/tokens/%d" % d["id"]), 404, "NOT_FOUND")
    expect_status(al.call("DELETE", "/user/tokens/%d" % d["id"]), 204)
    expect_status(v2(reg, "GET", "/v2/", basic("alice", d["token"])), 401)
    t = next(x for x in doc(al.get("/user/tokens"))["tokens"] if x["id"] == d["id"])
    check(t["revoked_at"], "revoked_at not set: %r" % t)
    expect_error(al.call("DELETE", "/user/tokens/%d" % d["id"]), 404, "NOT_FOUND")
    expect_error(al.call("DELETE", "/user/tokens/abc"), 404, "NOT_FOUND")
    al.get("/user")


# ---------------------------------------------------------------------------------------
# Password change


@suite.case("PUT /user/password: wrong current 403, short new 400; success ends other sessions")
def _(reg):
    s1, s2 = Client(reg), Client(reg)
    s1.login("alice", PW["alice"])
    s2.login("alice", PW["alice"])
    expect_error(s2.call("PUT", "/user/password", {"current_password": "wrong-password",
                                                   "new_password": "alice-password-2"}), 403, "DENIED")
    expect_error(s2.call("PUT", "/user/password", {"current_password": PW["alice"], "new_password": "short"}),
                 400, "BAD_REQUEST")
    expect_error(s2.call("PUT", "/user/password", {"current_password": PW["alice"]}), 400, "BAD_REQUEST")
    expect_error(s2.call("PUT", "/user/password", {"current_password": PW["alice"], "new_password": 12345678}),
                 400, "BAD_REQUEST")
    doc(as_user(reg, "alice").get("/user"))  # nothing changed
    expect_status(s2.call("PUT", "/user/password", {"current_password": PW["alice"],
                                                    "new_password": "alice-password-2"}), 204)
    expect_error(Client(reg, basic("alice", PW["alice"])).get("/user"), 401, "UNAUTHORIZED")
    PW["alice"] = "alice-password-2"
    doc(as_user(reg, "alice").get("/user"))
    expect_error(s1.get("/user"), 401, "UNAUTHORIZED")
    doc(s2.get("/user"))
    # The PAT made before still works: tokens are revoked one by one.
    expect_status(v2(reg, "GET", "/v2/", basic("alice", S["alice_pat"]["token"])), 200)


# ---------------------------------------------------------------------------------------
# Organizations


@suite.case("orgs: create (creator is owner), list, duplicates 409, bad names 400")
def _(reg):
    al = as_user(reg, "alice")
    d = doc(al.call("POST", "/orgs", {"name": "acme"}), 201)
    check(d["name"] == "acme" and d["role"] == "owner", "%r" % d)
    expect_error(al.call("POST", "/orgs", {"name": "acme"}), 409, "CONFLICT")
    expect_error(al.call("POST", "/orgs", {"name": "bob"}), 409, "CONFLICT")
    expect_error(al.call("POST", "/orgs", {"name": "Bad Name"}), 400, "NAME_INVALID")
    expect_error(al.call("POST", "/orgs", {"name": 3}), 400, "BAD_REQUEST")
    expect_error(al.call("POST", "/orgs", {}), 400, "BAD_REQUEST")
    check(doc(al.get("/orgs"))["orgs"] == [{"name": "acme", "role": "owner"}], "alice's orgs")
    check(doc(as_user(reg, "bob").get("/orgs"))["orgs"] == [], "bob's orgs")
    check(any(o["name"] == "acme" for o in doc(admin(reg).get("/orgs"))["orgs"]), "admin sees all")
    expect_error(Client(reg).get("/orgs"), 401, "UNAUTHORIZED")


@suite.case("org members: owner adds and changes roles; members see members, others do not")
def _(reg):
    al = as_user(reg, "alice")
    d = doc(al.call("PUT", "/orgs/acme/members/bob", {"role": "writer"}))
    check(d == {"name": "bob", "role": "writer"}, "%r" % d)
    o = doc(as_user(reg, "bob").get("/orgs/acme"))
    check({"name": "bob", "role": "writer"} in o["members"] and o["role"] == "writer", "%r" % o)
    o = doc(as_user(reg, "carol").get("/orgs/acme"))
    check("members" not in o and o["role"] is None, "non-member sees members: %r" % o)
    check("members" in doc(admin(reg).get("/orgs/acme")), "admin does not see members")
    expect_error(al.get("/orgs/nope"), 404, "NOT_FOUND")
    expect_error(al.get("/orgs/alice"), 404, "NOT_FOUND")  # a user, not an organization


@suite.case("org members: non-owners 403, bad role 400, unknown user 404, last owner 409; nothing changed")
def _(reg):
    al = as_user(reg, "alice")
    before = doc(al.get("/orgs/acme"))["members"]
    expect_error(as_user(reg, "bob").call("PUT", "/orgs/acme/members/carol", {"role": "owner"}), 403, "DENIED")
    expect_error(as_user(reg, "carol").call("DELETE", "/orgs/acme/members/bob"), 403, "DENIED")
    expect_error(al.call("PUT", "/orgs/acme/members/carol", {"role": "god"}), 400, "BAD_REQUEST")
    expect_error(al.call("PUT", "/orgs/acme/members/carol", {"role": 1}), 400, "BAD_REQUEST")
    expect_error(al.call("PUT", "/orgs/acme/members/carol", {}), 400, "BAD_REQUEST")
    expect_error(al.call("PUT", "/orgs/acme/members/nobody", {"role": "reader"}), 404, "NOT_FOUND")
    expect_error(al.call("PUT", "/orgs/acme/members/acme", {"role": "reader"}), 404, "NOT_FOUND")
    expect_error(al.call("PUT", "/orgs/acme/members/alice", {"role": "reader"}), 409, "CONFLICT")
    expect_error(al.call("DELETE", "/orgs/acme/members/alice"), 409, "CONFLICT")
    expect_error(al.call("DELETE", "/orgs/acme/members/carol"), 404, "NOT_FOUND")
    check(doc(al.get("/orgs/acme"))["members"] == before, "members changed")


@suite.case("org members: remove (204), admin may manage any organization")
def _(reg):
    expect_status(as_user(reg, "alice").call("DELETE", "/orgs/acme/members/bob"), 204)
    check(doc(as_user(reg, "bob").get("/orgs"))["orgs"] == [], "bob still a member")
    doc(admin(reg).call("PUT", "/orgs/acme/members/bob", {"role": "reader"}))
    check(doc(as_user(reg, "bob").get("/orgs"))["orgs"] == [{"name": "acme", "role": "reader"}], "bob's role")


# ---------------------------------------------------------------------------------------
# Repositories


def names(d):
    return [r["name"] for r in d["repositories"]]


@suite.case("repositories: set-up pushes (alice/app, alice/web, alice/tool, acme/api, bob/secret, busybox)")
def _(reg):
    S["img"] = push(reg, "alice", "alice/app", "1.0", layers=2, layer_size=1000)
    reg.default_auth = basic("alice", PW["alice"])
    reg.push_manifest("alice/app", "latest", S["img"].body, S["img"].media_type)
    reg.default_auth = None
    push(reg, "alice", "alice/web")
    push(reg, "alice", "alice/tool")
    push(reg, "alice", "acme/api")
    push(reg, "bob", "bob/secret")
    push(reg, "admin", "busybox")
    a = admin(reg)
    doc(a.call("PATCH", "/repositories/alice/web", {"visibility": "public", "description": "The Web frontend"}))
    doc(a.call("PATCH", "/repositories/busybox", {"visibility": "public"}))
    doc(as_user(reg, "alice").call("PATCH", "/repositories/alice/tool", {"description": "a WEB helper"}))


@suite.case("repositories: each viewer sees what the catalog would show it")
def _(reg):
    everyone = ["acme/api", "alice/app", "alice/tool", "alice/web", "bob/secret", "busybox"]
    got = {
        "anonymous": names(doc(Client(reg).get("/repositories"))),
        "alice": names(doc(as_user(reg, "alice").get("/repositories"))),
        "bob": names(doc(as_user(reg, "bob").get("/repositories"))),
        "carol": names(doc(as_user(reg, "carol").get("/repositories"))),
        "admin": names(doc(admin(reg).get("/repositories"))),
    }
    want = {
        "anonymous": ["alice/web", "busybox"],
        "alice": ["acme/api", "alice/app", "alice/tool", "alice/web", "busybox"],
        "bob": ["acme/api", "alice/web", "bob/secret", "busybox"],  # bob reads acme's
        "carol": ["alice/web", "busybox"],
        "admin": everyone,
    }
    check(got == want, "listings differ", extra=["%s: got %r want %r" % (k, got[k], want[k])
                                                 for k in want if got[k] != want[k]])
    d = doc(Client(reg).get("/repositories"))
    check(d["total"] == 2 and d["page"] == 1 and d["per_page"] == 25, "%r" % d)
    r0 = d["repositories"][0]
    for k in ("name", "namespace", "visibility", "description", "created_at", "updated_at", "tag_count",
              "pull_count"):
        check(k in r0, "no %s in %r" % (k, r0))
    check(r0["namespace"] == "alice" and r0["visibility"] == "public", "%r" % r0)


@suite.case("repositories: q searches name and description, namespace filters, sort orders")
def _(reg):
    a = admin(reg)
    check(names(doc(a.get("/repositories?q=web"))) == ["alice/tool", "alice/web"], "q=web")
    check(names(doc(a.get("/repositories?q=WEB"))) == ["alice/tool", "alice/web"], "q=WEB")
    check(names(doc(a.get("/repositories?q=frontend"))) == ["alice/web"], "q=frontend")
    check(names(doc(Client(reg).get("/repositories?q=web"))) == ["alice/web"], "anonymous q=web")
    check(names(doc(a.get("/repositories?namespace=alice"))) == ["alice/app", "alice/tool", "alice/web"], "ns")
    check(names(doc(a.get("/repositories?q=zzz"))) == [], "q=zzz")
    d = doc(a.get("/repositories?sort=updated"))
    upd = names(d)
    times = [r["updated_at"] for r in d["repositories"]]
    check(times == sorted(times, reverse=True) and len(upd) == 6, "sort=updated: %r" % d)
    check(len(names(doc(a.get("/repositories?sort=pulls")))) == 6, "sort=pulls")
    check(names(doc(a.get("/repositories?sort=name"))) == sorted(upd), "sort=name")


@suite.case("repositories: pagination with total")
def _(reg):
    a = admin(reg)
    seen = []
    for page in (1, 2, 3, 4):
        d = doc(a.get("/repositories?per_page=2&page=%d" % page))
        check(d["total"] == 6 and d["per_page"] == 2 and d["page"] == page, "%r" % d)
        seen += names(d)
    check(seen == sorted(seen) and len(seen) == 6, "pages: %r" % seen)


@suite.case("repositories: bad query arguments are 400")
def _(reg):
    c = Client(reg)
    for q in ("page=0", "page=x", "per_page=0", "per_page=101", "per_page=-1", "sort=size", "namespace=A%20B",
              "q=" + "x" * 300):
        expect_error(c.get("/repositories?" + q), 400, "BAD_REQUEST", "NAME_INVALID")


@suite.case("GET /repositories/{name}: fields for readers; a private one is 404 to others; bad name 400")
def _(reg):
    d = doc(as_user(reg, "alice").get("/repositories/alice/app"))
    for k, v in (("name", "alice/app"), ("namespace", "alice"), ("visibility", "private"), ("tag_count", 2),
                 ("full_description", "")):
        check(d.get(k) == v, "%s: %r" % (k, d))
    check(d["permissions"] == {"pull": True, "push": True, "admin": True}, "%r" % d)
    d = doc(as_user(reg, "bob").get("/repositories/acme/api"))
    check(d["permissions"] == {"pull": True, "push": False, "admin": False}, "%r" % d)
    for who in (Client(reg), as_user(reg, "bob"), as_user(reg, "carol")):
        expect_error(who.get("/repositories/alice/app"), 404, "NAME_UNKNOWN")
        expect_error(who.get("/repositories/alice/app/tags"), 404, "NAME_UNKNOWN")
    expect_error(admin(reg).get("/repositories/alice/nothing"), 404, "NAME_UNKNOWN")
    expect_error(admin(reg).get("/repositories/Alice/App"), 400, "NAME_INVALID")
    expect_error(admin(reg).get("/repositories/a%2Fb"), 400, "NAME_INVALID")


@suite.case("GET .../tags: name, digest, media type, compressed size, pushed_at; paginated")
def _(reg):
    img = S["img"]
    d = doc(as_user(reg, "alice").get("/repositories/alice/app/tags"))
    check(d["total"] == 2 and [t["name"] for t in d["tags"]] == ["1.0", "latest"], "%r" % d)
    size = sum(len(b) for _, b in img.blobs)
    for t in d["tags"]:
        check(t["digest"] == img.digest and t["media_type"] == img.media_type and t["size"] == size
              and t["pushed_at"] > 0, "tag %r (want size %d)" % (t, size))
    d = doc(as_user(reg, "alice").get("/repositories/alice/app/tags?per_page=1&page=2"))
    check([t["name"] for t in d["tags"]] == ["latest"] and d["total"] == 2, "%r" % d)
    expect_error(as_user(reg, "alice").get("/repositories/alice/app/tags?page=0"), 400, "BAD_REQUEST")


@suite.case("PATCH visibility: anonymous GET /v2/<repo>/tags/list follows it; audited")
def _(reg):
    al = as_user(reg, "alice")
    expect_status(v2(reg, "GET", "/v2/alice/app/tags/list"), 401)
    d = doc(al.call("PATCH", "/repositories/alice/app", {"visibility": "public"}))
    check(d["visibility"] == "public", "%r" % d)
    expect_status(v2(reg, "GET", "/v2/alice/app/tags/list"), 200)
    check("alice/app" in names(doc(Client(reg).get("/repositories"))), "not listed for anonymous")
    doc(Client(reg).get("/repositories/alice/app"))
    doc(al.call("PATCH", "/repositories/alice/app", {"visibility": "private"}))
    expect_status(v2(reg, "GET", "/v2/alice/app/tags/list"), 401)
    expect_error(Client(reg).get("/repositories/alice/app"), 404, "NAME_UNKNOWN")


@suite.case("PATCH descriptions; full_description round-trips as given")
def _(reg):
    text = "# App\n\n<script>alert(1)</script> [x](javascript:alert(1)) ünïcödé"
    d = doc(as_user(reg, "alice").call("PATCH", "/repositories/alice/app",
                                       {"description": "short one", "full_description": text}))
    check(d["description"] == "short one" and d["full_description"] == text, "%r" % d)


@suite.case("PATCH refusals: no rights 403, unreadable 404, anonymous 401, bad fields 400; nothing changed")
def _(reg):
    before = doc(admin(reg).get("/repositories/alice/app"))
    before_web = doc(admin(reg).get("/repositories/alice/web"))
    expect_error(as_user(reg, "bob").call("PATCH", "/repositories/alice/app", {"visibility": "public"}), 404,
                 "NAME_UNKNOWN")
    expect_error(as_user(reg, "bob").call("PATCH", "/repositories/alice/web", {"visibility": "private"}), 403,
                 "DENIED")
    expect_error(as_user(reg, "bob").call("PATCH", "/repositories/acme/api", {"visibility": "public"}), 403,
                 "DENIED")
    expect_error(Client(reg).call("PATCH", "/repositories/alice/web", {"visibility": "private"}), 401,
                 "UNAUTHORIZED")
    al = as_user(reg, "alice")
    for body in ({"visibility": "hidden"}, {"visibility": True}, {"description": "x" * 101},
                 {"full_description": 5}, {}, {"description": ["a"]}):
        expect_error(al.call("PATCH", "/repositories/alice/app", body), 400, "BAD_REQUEST")
    check(doc(admin(reg).get("/repositories/alice/app")) == before, "alice/app changed")
    check(doc(admin(reg).get("/repositories/alice/web")) == before_web, "alice/web changed")


@suite.case("DELETE .../tags/{tag}: 204, gone from /v2/ tags; refusals 403/404/400 change nothing")
def _(reg):
    al = as_user(reg, "alice")
    auth = basic("alice", PW["alice"])
    expect_error(as_user(reg, "bob").call("DELETE", "/repositories/alice/app/tags/1.0"), 404, "NAME_UNKNOWN")
    expect_error(as_user(reg, "bob").call("DELETE", "/repositories/acme/api/tags/latest"), 403, "DENIED")
    expect_error(al.call("DELETE", "/repositories/alice/app/tags/-bad"), 400, "TAG_INVALID")
    expect_error(al.call("DELETE", "/repositories/alice/app/tags/nope"), 404, "MANIFEST_UNKNOWN")
    tags = v2(reg, "GET", "/v2/alice/app/tags/list", auth).json()["tags"]
    check(sorted(tags) == ["1.0", "latest"], "tags changed: %r" % tags)
    expect_status(al.call("DELETE", "/repositories/alice/app/tags/1.0"), 204)
    tags = v2(reg, "GET", "/v2/alice/app/tags/list", auth).json()["tags"]
    check(tags == ["latest"], "tags after delete: %r" % tags)
    expect_status(v2(reg, "GET", "/v2/alice/app/manifests/" + S["img"].digest, auth), 200)
    expect_error(al.call("DELETE", "/repositories/alice/app/tags/1.0"), 404, "MANIFEST_UNKNOWN")
    check(doc(al.get("/repositories/alice/app"))["tag_count"] == 1, "tag_count")


@suite.case("DELETE /repositories/{name}: 204; gone from the API, the listing and /v2/; refusals change nothing")
def _(reg):
    al = as_user(reg, "alice")
    auth = basic("alice", PW["alice"])
    expect_error(as_user(reg, "bob").call("DELETE", "/repositories/alice/tool"), 404, "NAME_UNKNOWN")
    expect_error(as_user(reg, "bob").call("DELETE", "/repositories/acme/api"), 403, "DENIED")
    expect_error(Client(reg).call("DELETE", "/repositories/alice/web"), 401, "UNAUTHORIZED")
    doc(al.get("/repositories/alice/tool"))
    doc(al.get("/repositories/alice/web"))
    expect_status(al.call("DELETE", "/repositories/alice/tool"), 204)
    expect_error(al.get("/repositories/alice/tool"), 404, "NAME_UNKNOWN")
    check("alice/tool" not in names(doc(al.get("/repositories"))), "still listed")
    expect_status(v2(reg, "GET", "/v2/alice/tool/tags/list", auth), 404)
    expect_error(al.call("DELETE", "/repositories/alice/tool"), 404, "NAME_UNKNOWN")


# ---------------------------------------------------------------------------------------
# Audit log


@suite.case("GET /audit: newest first with actor, action, target, address; paged by before")
def _(reg):
    a = admin(reg)
    # A user name that is not UTF-8 is audited (login_failed) and listed readably.
    raw = b"Basic " + base64.b64encode(b"\xff\xfeuser:password")
    expect_status(Client(reg, raw.decode()).get("/user"), 401)
    d = doc(a.get("/audit?limit=500"))
    check(any(e["action"] == "login_failed" and "user" in e["actor"] for e in d["entries"]), "non-UTF-8 actor")
    entries = d["entries"]
    ids = [e["id"] for e in entries]
    check(ids == sorted(ids, reverse=True), "not newest first")
    got = {(e["actor"], e["action"], e["target"]) for e in entries}
    for want in [("admin", "user_create", "alice"), ("admin", "user_disable", "bob"),
                 ("admin", "password_change", "carol"), ("admin", "user_delete", "dave"),
                 ("alice", "token_create", "alice"), ("alice", "token_revoke", "alice"),
                 ("alice", "password_change", "alice"), ("alice", "org_create", "acme"),
                 ("alice", "member_set", "acme"), ("alice", "member_remove", "acme"),
                 ("alice", "visibility", "alice/app"), ("alice", "repo_update", "alice/app"),
                 ("alice", "tag_delete", "alice/app:1.0"), ("alice", "repo_delete", "alice/tool"),
                 ("admin", "login", "admin"), ("admin", "logout", "admin"), ("bob", "login_failed", "bob")]:
        check(want in got, "no audit entry %r" % (want,))
    vis = next(e for e in entries if e["action"] == "visibility")
    check(vis["detail"] == {"visibility": "private"} and vis["remote_addr"] == "127.0.0.1", "%r" % vis)
    p1 = doc(a.get("/audit?limit=3"))
    check(len(p1["entries"]) == 3 and p1["next_before"] == p1["entries"][-1]["id"], "%r" % p1)
    p2 = doc(a.get("/audit?limit=3&before=%d" % p1["next_before"]))
    check([e["id"] for e in p2["entries"]] == ids[3:6], "page 2 %r" % p2)
    for q in ("limit=0", "limit=501", "before=-1", "limit=x"):
        expect_error(a.get("/audit?" + q), 400, "BAD_REQUEST")


# ---------------------------------------------------------------------------------------
# Bad requests


@suite.case("malformed JSON, non-object bodies, wrong Content-Type: 400 BAD_REQUEST, nothing changed")
def _(reg):
    a = admin(reg)
    before = users_state(reg)
    for raw in (b"{", b"not json", b"[1,2]", b"\"str\"", b"{\"name\":\"x\",\"name\":\"y\"}", b"\xff\xfe",
                b"{\"name\":\"zed\",\"password\":\"zed-password\"} trailing"):
        expect_error(a.call("POST", "/users", raw=raw), 400, "BAD_REQUEST")
    expect_error(a.call("POST", "/users", raw=b"name=zed&password=zed-password",
                        ctype="application/x-www-form-urlencoded"), 400, "BAD_REQUEST")
    expect_error(a.call("POST", "/users", raw=json.dumps({"name": "zed", "password": "zed-password"}).encode(),
                        ctype="text/plain"), 400, "BAD_REQUEST")
    check(users_state(reg) == before, "users changed")


@suite.case("an oversized body is 413 SIZE_INVALID and changes nothing")
def _(reg):
    a = admin(reg)
    before = doc(a.get("/repositories/alice/web"))
    big = {"full_description": "x" * (70 * 1024)}
    expect_error(a.call("PATCH", "/repositories/alice/web", big), 413, "SIZE_INVALID")
    r = a.call("PATCH", "/repositories/alice/web", raw=json.dumps(big).encode(), chunked=True)
    expect_error(r, 413, "SIZE_INVALID")
    check(doc(a.get("/repositories/alice/web")) == before, "changed")


@suite.case("unknown endpoints are 404 NOT_FOUND, wrong methods 405 UNSUPPORTED")
def _(reg):
    a = admin(reg)
    for p in ("/", "/nothing", "/user/", "/users/", "/orgs/acme/members", "/orgs/acme/x/bob", "/repositories/",
              "/user/tokens/1/x"):
        expect_error(a.get(p), 404, "NOT_FOUND")
    expect_error(reg.get("/api/v1"), 404, "NOT_FOUND")
    for m, p in (("PUT", "/session"), ("POST", "/user"), ("GET", "/user/password"), ("PUT", "/users"),
                 ("POST", "/audit"), ("DELETE", "/orgs"), ("PATCH", "/orgs/acme"), ("GET", "/orgs/acme/members/bob"),
                 ("POST", "/repositories"), ("POST", "/repositories/alice/web"),
                 ("PUT", "/repositories/alice/web/tags"), ("GET", "/repositories/alice/web/tags/latest")):
        expect_error(a.call(m, p, {} if m in ("POST", "PUT", "PATCH") else None), 405, "UNSUPPORTED")


# ---------------------------------------------------------------------------------------
# A deleted repository leaves nothing behind


@suite.case("a repository created after one was deleted never shows its tag list nor inherits its pulls")
def _(reg):
    push(reg, "admin", "admin/zz-secret", "topsecret-plan")
    t = v2(reg, "GET", "/v2/admin/zz-secret/tags/list", basic("admin", PW["admin"]))
    check(b"topsecret-plan" in t.body, "tags %r" % t.body)
    for _ in range(3):  # pulls counted in memory, written within 5 s: they must not move to a new repository
        expect_status(v2(reg, "GET", "/v2/admin/zz-secret/manifests/topsecret-plan", basic("admin", PW["admin"])), 200)
    expect_status(admin(reg).call("DELETE", "/repositories/admin/zz-secret"), 204)
    # SQLite gives the deleted repository's id (the largest) to the next one created.
    push(reg, "alice", "alice/zz-other", "v1")
    t = v2(reg, "GET", "/v2/alice/zz-other/tags/list", basic("alice", PW["alice"]))
    d = json.loads(t.body)
    check(d == {"name": "alice/zz-other", "tags": ["v1"]}, "tags list %r" % t.body)
    time.sleep(6)
    info = doc(as_user(reg, "alice").get("/repositories/alice/zz-other"))
    check(info["pull_count"] == 0 and all(t["last_pulled_at"] is None
                                          for t in doc(as_user(reg, "alice").get("/repositories/alice/zz-other/tags"))["tags"]),
          "the new repository inherited pulls: %r" % info)


# ---------------------------------------------------------------------------------------
# Speed with 10,000 repositories


@suite.case("10,000 repositories and 10,000 tags: listing, search, sort and late pages answer correctly (times noted; bench/ measures them)")
def _(reg):
    if postgres_database(reg.data):
        raise Skip("fills the SQLite file directly; bench/web.sh measures the same on SQLite")
    db = sqlite3.connect(os.path.join(reg.data, "berth.db"), timeout=30)
    now = int(time.time())
    with db:
        for i in range(10000):
            name = "perf%02d/repo-%05d" % (i % 50, i)
            cur = db.execute("INSERT INTO repositories (name, namespace, visibility, description, created_at, "
                             "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                             (name, "perf%02d" % (i % 50), "public" if i % 3 else "private",
                              "service number %d" % i, now - i, now - i))
            db.execute("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) "
                       "VALUES (?, ?, ?, 2, X'7B7D', ?)", (cur.lastrowid, "sha256:%064x" % i, MT_OCI_MANIFEST, now))
        # and 10,000 tags in one repository
        rid = db.execute("SELECT id FROM repositories WHERE name = 'perf00/repo-00000'").fetchone()[0]
        mid = db.execute("SELECT id FROM manifests WHERE repository_id = ?", (rid,)).fetchone()[0]
        db.executemany("INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)",
                       [(rid, "t%05d" % i, mid, now) for i in range(10000)])
    db.close()
    slow = []
    times = []
    for q in ("", "?page=100&per_page=100"):
        t0 = time.time()
        d = doc(admin(reg).get("/repositories/perf00/repo-00000/tags" + q))
        ms = (time.time() - t0) * 1000
        times.append(ms)
        if ms > 100:
            slow.append("tags%s: %.0f ms" % (q, ms))
        check(d["total"] == 10000 and len(d["tags"]) == (25 if not q else 100), "tags %s" % q)
    for who in (Client(reg), as_user(reg, "alice"), admin(reg)):
        for q in ("", "?q=number%20123", "?sort=updated&per_page=100", "?sort=pulls&page=60&per_page=100",
                  "?namespace=perf07&per_page=100"):
            t0 = time.time()
            d = doc(who.get("/repositories" + q))
            ms = (time.time() - t0) * 1000
            times.append(ms)
            if ms > 100:
                slow.append("%s %s: %.0f ms" % (who.auth and who.auth[:12], q, ms))
            check(d["total"] > 0 or "page=60" in q, "no result for %s" % q)
    # Times are noted, never asserted (a loaded CI machine is not a benchmark): bench/web.sh
    # measures them against the 100 ms target.
    note("slowest answer %.1f ms, median %.1f ms%s" % (max(times), sorted(times)[len(times) // 2],
                                                       "; over 100 ms: " + ", ".join(slow) if slow else ""))
    d = doc(Client(reg).get("/repositories?q=repo-0000&per_page=100"))
    check(all(r["visibility"] == "public" for r in d["repositories"]), "private repositories listed")


# ---------------------------------------------------------------------------------------
# Throttling (last: it locks out the test's address)


@suite.case("repeated failed sign-ins are refused with 429 TOOMANYREQUESTS")
def _(reg):
    c = Client(reg)
    statuses = []
    for _ in range(12):
        statuses.append(c.call("POST", "/session", {"username": "carol", "password": "wrong-password"}).status)
    check(set(statuses) <= {401, 429} and statuses[-1] == 429, "statuses %r" % statuses)
    r = c.call("POST", "/session", {"username": "carol", "password": PW["carol"]})
    expect_error(r, 429, "TOOMANYREQUESTS")


# ---------------------------------------------------------------------------------------
# --auth none


@suite.case("--auth none: repositories and tags are readable; accounts 404; changes refused")
def _(reg):
    os.environ["BERTH_TEST_AUTH"] = "none"
    other = Registry()
    try:
        other.start()
    finally:
        os.environ["BERTH_TEST_AUTH"] = "token"
    try:
        img = other.push_image("open/app", "v1")
        c = Client(other)
        d = doc(c.get("/repositories"))
        check(names(d) == ["open/app"], "%r" % d)
        d = doc(c.get("/repositories/open/app/tags"))
        check([t["name"] for t in d["tags"]] == ["v1"] and d["tags"][0]["digest"] == img.digest, "%r" % d)
        doc(c.get("/repositories/open/app"))
        for m, p in (("GET", "/user"), ("GET", "/session"), ("POST", "/session"), ("GET", "/users"),
                     ("GET", "/orgs"), ("GET", "/user/tokens"), ("GET", "/audit")):
            r = c.call(m, p, {"username": "a", "password": "b"} if m == "POST" else None)
            expect_error(r, 404, "NOT_FOUND")
            check("accounts are disabled" in r.body.decode(), "message: %r" % r.body)
        expect_error(c.call("PATCH", "/repositories/open/app", {"visibility": "private"}), 403, "DENIED")
        expect_error(c.call("DELETE", "/repositories/open/app/tags/v1"), 403, "DENIED")
        expect_error(c.call("DELETE", "/repositories/open/app"), 403, "DENIED")
        expect_status(other.get("/v2/open/app/manifests/v1"), 200)
    finally:
        other.cleanup(False)


@suite.case("pull_count counts manifest GETs (not HEADs), survives a restart, and sorts the listing")
def _(reg):
    reg.restart()  # forgets the login lock-out an earlier case left on 127.0.0.1
    push(reg, "alice", "alice/pulled", "v1")
    push(reg, "alice", "alice/unpulled", "v1")
    auth = basic("alice", PW["alice"])
    for _ in range(3):
        expect_status(v2(reg, "GET", "/v2/alice/pulled/manifests/v1", auth), 200)
    expect_status(v2(reg, "HEAD", "/v2/alice/pulled/manifests/v1", auth), 200)
    reg.restart()  # counts are written at least every 5 s, and at shutdown
    alice = as_user(reg, "alice")
    check(doc(alice.get("/repositories/alice/pulled")).get("pull_count") == 3, "pull_count after 3 GETs")
    check(doc(alice.get("/repositories/alice/unpulled")).get("pull_count") == 0, "pull_count of an unpulled repo")
    names = [x["name"] for x in doc(alice.get("/repositories?namespace=alice&sort=pulls"))["repositories"]]
    check(names.index("alice/pulled") < names.index("alice/unpulled"), "sort=pulls order %r" % names)


# Every change needs a read-write-delete token; --read-only refuses every change.
CHANGES = [
    ("alice", "POST", "/tag-rules", {"kind": "immutable", "namespace": "alice", "pattern": "x*"}),
    ("alice", "POST", "/webhooks", {"namespace": "alice", "url": "http://127.0.0.1:9/x",
                                    "secret": "0123456789abcdef0123"}),
    ("alice", "PATCH", "/repositories/alice/app", {"description": "changed"}),
    ("alice", "DELETE", "/repositories/alice/app/tags/v1", None),
    ("alice", "PUT", "/repositories/alice/app/grants/bob", {"permission": "read"}),
    ("alice", "DELETE", "/repositories/alice/app", None),
    ("admin", "POST", "/retention", {"dry_run": False}),
    ("admin", "POST", "/gc", {"dry_run": False}),
    ("admin", "POST", "/users", {"name": "tokenmade", "password": "tokenmade-password-1"}),
    ("admin", "POST", "/orgs", {"name": "tokenorg"}),
    ("admin", "PUT", "/quotas/alice", {"quota": 1}),
    ("admin", "POST", "/replication", {"name": "r1", "source": "http://127.0.0.1:9", "repositories": "x/*",
                                       "destination": "y"}),
]


def change_state(reg):
    a = admin(reg)
    return [doc(a.get(p)) for p in ("/tag-rules", "/webhooks", "/repositories/alice/app",
                                    "/repositories/alice/app/tags", "/repositories/alice/app/grants",
                                    "/users", "/orgs", "/quotas", "/replication")]


@suite.case("read and read-write tokens cannot change anything through /api/v1: 403 DENIED, nothing changes")
def _(reg):
    pats = {}
    for user in ("alice", "admin"):
        for scope in ("read", "read-write"):
            d = doc(as_user(reg, user).call("POST", "/user/tokens", {"name": "narrow-" + scope, "scope": scope}),
                    201)
            pats[user, scope] = d["token"]
    before = change_state(reg)
    for (user, scope), token in sorted(pats.items()):
        for who, method, path, body in CHANGES:
            if who != user:
                continue
            for auth in ("Bearer " + token, basic(user, token)):
                r = Client(reg, auth).call(method, path, body)
                expect_error(r, 403, "DENIED")
                check("scope" in r.json()["errors"][0]["message"], "%s %s with %s: %r" % (method, path, scope, r.body))
    check(change_state(reg) == before, "a narrow token changed something")
    # Reads still work with a read token; sessions are no change (a token has none to end: 401).
    doc(Client(reg, "Bearer " + pats["alice", "read"]).get("/repositories/alice/app"))
    expect_error(Client(reg, "Bearer " + pats["alice", "read"]).call("DELETE", "/session"), 401, "UNAUTHORIZED")


@suite.case("--read-only: every change through /api/v1 is 405 UNSUPPORTED, sign-in and dry runs still work")
def _(reg):
    reg.restart(read_only=True)
    try:
        before = change_state(reg)
        extra = [("admin", "POST", "/user/tokens", {"name": "ro", "scope": "read"}),
                 ("alice", "PUT", "/user/password", {"current_password": PW["alice"], "new_password": "x" * 20}),
                 ("admin", "PATCH", "/users/bob", {"disabled": True}),
                 ("admin", "DELETE", "/users/carol", None)]
        for who, method, path, body in CHANGES + extra:
            r = as_user(reg, who).call(method, path, body)
            expect_error(r, 405, "UNSUPPORTED")
            check("read-only" in r.json()["errors"][0]["message"], "%s %s: %r" % (method, path, r.body))
        check(change_state(reg) == before, "a change happened on a read-only berthd")
        c = Client(reg)
        c.login("alice", PW["alice"])
        expect_status(c.call("DELETE", "/session"), 204)
        doc(admin(reg).call("POST", "/retention", {"dry_run": True}))
        expect_status(admin(reg).call("POST", "/gc", {"dry_run": True}), 202)
    finally:
        reg.restart(read_only=False)

if __name__ == "__main__":
    suite.main()
