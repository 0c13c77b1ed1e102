#!/usr/bin/env python3
"""Accounts and Docker token auth (berthd --auth token): the 401 challenges, /token by GET
and POST (password, refresh and offline tokens), the intersection of what is asked and what
is allowed, forged and stale JWTs (alg none, edited payload, another key, HMAC with the public
key, expired, wrong audience), passwords, disabled and deleted users, personal access tokens
and their scopes, namespaces, organizations and their roles, private and public
repositories (invisible, never mountable, absent from the catalog), failed-login throttling,
pull rate limits and the audit log. Every denial is checked for its status and error code,
and that nothing stored changed.

Several berthd processes run: the main one (the suite's), a second one with its own key and
--token-ttl 1 (foreign signatures; a real expiry, checked at the end of the run), one for
login throttling and one with pull rate limits. Requests come from several loopback source
addresses (127.0.0.N) so per-address limits do not spill over between cases.
Needs the openssl CLI to sign crafted JWTs (those cases skip without it)."""

import base64
import copy
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ["BERTH_TEST_AUTH"] = "token"
import berthtest as bt  # noqa: E402
from berthtest import *  # noqa: E402,F401,F403

PW = {"root": "root-password-1", "alice": "alice-password-1", "bob": "bob-password-1",
      "mallory": "mallory-password-1", "olga": "olga-password-1", "wendy": "wendy-password-1",
      "rita": "rita-password-1", "dora": "dora-password-1", "gone": "gone-password-1",
      "tim": "tim-password-1", "paula": "paula-password-1"}
S = {}  # state shared by the cases (they run in order)
EXTRA = []  # further berthd instances, stopped at the end


# ---------------------------------------------------------------------------------------
# A registry with credentials and a source address


class AuthConn(bt.Conn):
    """A Conn that adds an Authorization header (unless the request has one) and connects
    from a chosen loopback source address."""

    def __init__(self, host, port, timeout, auth=None, src=None):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(src, 0) if src else None)
        self.rfile = self.sock.makefile("rb")
        self.auth = auth

    def send_request(self, method, path, headers=None, body=None, chunked=False,
                     auto_length=True, truncate=None):
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if self.auth and not any(k.lower() == "authorization" for k, _ in hdrs):
            hdrs.append(("Authorization", self.auth))
        return super().send_request(method, path, hdrs, body, chunked, auto_length, truncate)


class AuthRegistry(bt.Registry):
    auth = None  # Authorization header value sent with every request
    src = None  # source address
    extra_args = ()

    def _command(self, port, read_only):
        return super()._command(port, read_only) + list(self.extra_args)

    def wait_ready(self, timeout):
        # With --auth token, GET /v2/ answers 401 to anonymous callers.
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("server exited with status %s" % self.proc.returncode)
            try:
                r = bt.Conn(self.host, self.port, 2).request("GET", "/v2/")
                if r.status in (200, 401):
                    return
                last = "GET /v2/ -> %d" % r.status
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise RuntimeError("GET /v2/ not 200/401 within %ds (%s)" % (timeout, last))

    def connect(self, timeout=None):
        return AuthConn(self.host, self.port, timeout or bt.DEFAULT_TIMEOUT, self.auth, self.src)

    def as_(self, auth=None, src=None):
        """The same server seen by another caller (shares known repos/blobs/manifests)."""
        c = copy.copy(self)
        c.auth = auth
        c.src = src
        return c

    def snapshot(self, **kw):
        st = super().snapshot(**kw)
        st["whole catalog"] = tuple(self.catalog_all())
        return st

    def cli(self, *args, stdin=None, ok=True):
        p = subprocess.run([self.binary()] + list(args) + self.data_args(),
                           input=(stdin or "").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        out, err = p.stdout.decode(), p.stderr.decode()
        if ok and p.returncode != 0:
            raise CheckFailed("berthd %s: exit %d" % (" ".join(args), p.returncode),
                              extra=[out, err])
        return p.returncode, out, err

    def add_user(self, name, *flags):
        self.cli("user", "add", name, "--password-stdin", *flags, stdin=PW[name] + "\n")

    def pat(self, user, scope, name=None):
        args = ["token", "add", user, "--scope", scope] + (["--name", name] if name else [])
        _, out, _ = self.cli(*args)
        toks = [w for w in out.split() if w.startswith("berth_pat_")]
        check(len(toks) == 1, "token add printed %r, want one berth_pat_ token" % out)
        return toks[0]


bt.Registry = AuthRegistry  # Suite.run() starts the main server through this name


def start_extra(*args):
    reg = AuthRegistry()
    reg.extra_args = args
    EXTRA.append(reg)
    reg.start()
    return reg


def stop_extras():
    for r in EXTRA:
        r.cleanup(keep=False)
    EXTRA.clear()


# ---------------------------------------------------------------------------------------
# Credentials, tokens and JWTs


def basic(user, pw=None):
    return "Basic " + base64.b64encode(("%s:%s" % (user, PW[user] if pw is None else pw))
                                       .encode()).decode()


def bearer(tok):
    return "Bearer " + tok


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_split(tok):
    h, p, s = tok.split(".")
    return json.loads(unb64u(h)), json.loads(unb64u(p)), s


def access_of(tok):
    """{(type, name): set(actions)} of a JWT's access claim."""
    _, claims, _ = jwt_split(tok)
    out = {}
    for a in claims.get("access") or []:
        out.setdefault((a["type"], a["name"]), set()).update(a.get("actions") or [])
    return out


def token_path(scopes=(), service="berth", **extra):
    q = [("service", service)] + [("scope", s) for s in scopes] + list(extra.items())
    return "/token?" + urllib.parse.urlencode(q)


def get_token(reg, auth=None, scopes=(), src=None, **extra):
    """GET /token; returns the response."""
    return reg.as_(auth, src).get(token_path(scopes, **extra))


def token_for(reg, user, *scopes, pw=None, src=None):
    """A bearer token for `user` (None: anonymous) asking `scopes`; asserts 200."""
    r = get_token(reg, basic(user, pw) if user else None, scopes, src)
    expect_status(r, 200)
    return r.json()["token"]


def post_token(reg, form, src=None, auth=None):
    return reg.as_(auth, src).request(
        "POST", "/token", {"Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(form).encode())


def www_auth(resp):
    """(scheme, {param: value}) of the WWW-Authenticate header."""
    v = resp.h("WWW-Authenticate")
    if v is None:
        raise CheckFailed("no WWW-Authenticate header", resp)
    scheme, _, rest = v.partition(" ")
    params = {}
    for k, val in re.findall(r'([A-Za-z_]+)="([^"]*)"', rest):
        params[k] = val
    return scheme, params


def expect_challenge(resp, scope=None, error=None):
    scheme, p = www_auth(resp)
    check(scheme == "Bearer", "WWW-Authenticate scheme %r, want Bearer" % scheme, resp)
    check(p.get("service") == "berth", "service=%r, want \"berth\"" % p.get("service"), resp)
    check(p.get("realm", "").endswith("/token"), "realm %r does not end in /token" % p.get("realm"), resp)
    if scope is not None:
        check(p.get("scope") == scope, "scope=%r, want %r" % (p.get("scope"), scope), resp,
              extra=["WWW-Authenticate: " + resp.h("WWW-Authenticate")])
    if error is not None:
        check(p.get("error") == error, "error=%r, want %r" % (p.get("error"), error), resp,
              extra=["WWW-Authenticate: " + resp.h("WWW-Authenticate")])
    return p


def expect_401(resp, scope=None, error=None):
    expect_error(resp, 401, "UNAUTHORIZED")
    return expect_challenge(resp, scope, error)


def have_openssl():
    return shutil.which("openssl") is not None


def ossl(*args, stdin=b""):
    p = subprocess.run(["openssl"] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def der_to_raw(sig):
    """ECDSA DER SEQUENCE{r, s} -> r||s, 32 bytes each (JWS ES256 form)."""
    assert sig[0] == 0x30
    i = 2 if sig[1] < 0x80 else 2 + (sig[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert sig[i] == 0x02
        n = sig[i + 1]
        v = sig[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


def sign_jwt(header, claims, key_pem=None, alg_sig="es256", secret=None):
    """A compact JWS. alg_sig: "es256" (openssl, key file key_pem), "hs256" (HMAC with
    `secret`) or "none" (empty signature)."""
    si = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
          b64u(json.dumps(claims, separators=(",", ":")).encode()))
    if alg_sig == "none":
        return si + "."
    if alg_sig == "hs256":
        return si + "." + b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())
    der = ossl("dgst", "-sha256", "-sign", key_pem, stdin=si.encode())
    return si + "." + b64u(der_to_raw(der))


def claims_now(sub, access, **over):
    now = int(time.time())
    c = {"iss": "berth", "sub": sub, "aud": "berth", "exp": now + 300, "nbf": now - 1,
         "iat": now, "jti": rand_name(16), "access": access}
    c.update(over)
    return c


def push_access(name, *actions):
    return [{"type": "repository", "name": name, "actions": list(actions or ("pull", "push"))}]


# ---------------------------------------------------------------------------------------
# Helpers on the main server


def reg_admin(reg):
    """The main server seen by the admin (a PAT with every scope: no password hashing)."""
    return reg.as_("Basic " + base64.b64encode(("root:" + S["root_pat"]).encode()).decode())


def small_image(client, repo, tag="v1"):
    return client.push_image(repo, tag, layers=1, layer_size=300)


def manifest_path(repo, ref):
    return "/v2/%s/manifests/%s" % (repo, ref)


def same_response(a, b, what):
    """Two denials must be indistinguishable (status, codes, challenge scheme)."""
    ka = (a.status, a.error_codes(), (a.h("WWW-Authenticate") or "").split(" ")[0])
    kb = (b.status, b.error_codes(), (b.h("WWW-Authenticate") or "").split(" ")[0])
    check(ka == kb, "%s: %r vs %r" % (what, ka, kb), extra=a.diag() + b.diag())


def try_push(client, repo, expect_statuses, codes):
    """A blob upload and a manifest PUT by `client` into `repo`; both must be refused."""
    r = client.request("POST", "/v2/%s/blobs/uploads/" % repo)
    expect_error(r, expect_statuses, *codes)
    data = rand_bytes(200)
    r = client.request("POST", add_query("/v2/%s/blobs/uploads/" % repo, digest=sha256(data)),
                       {"Content-Type": "application/octet-stream"}, data)
    expect_error(r, expect_statuses, *codes)
    cfg = descriptor(MT_OCI_CONFIG, b"{}")
    body = canon(oci_manifest(cfg, []))
    r = client.request("PUT", manifest_path(repo, "evil"), {"Content-Type": MT_OCI_MANIFEST}, body)
    expect_error(r, expect_statuses, *codes)


suite = Suite("auth")


# ---------------------------------------------------------------------------------------
# Setup


@suite.case("setup: berthd user/org/token CLI creates the accounts (server running)")
def _(reg):
    check(reg.data is not None, "no data dir (external registry?)")
    reg.add_user("root", "--admin")
    for u in ("alice", "bob", "mallory", "olga", "wendy", "rita", "dora", "gone", "tim", "paula"):
        reg.add_user(u)
    reg.cli("org", "add", "acme", "--owner", "olga")
    reg.cli("org", "member", "add", "acme", "wendy", "--role", "writer")
    reg.cli("org", "member", "add", "acme", "rita", "--role", "reader")
    S["root_pat"] = reg.pat("root", "read-write-delete", "suite-admin")
    _, out, _ = reg.cli("user", "list")
    for u in ("root", "alice", "mallory"):
        check(u in out, "user list lacks %s: %r" % (u, out))
    _, out, _ = reg.cli("org", "list")
    check("acme" in out, "org list lacks acme: %r" % out)
    key = reg.signing_key_path()
    check(b"PRIVATE KEY" in open(key, "rb").read(), "no token signing key in %s" % key)
    st = os.stat(key)
    check(st.st_mode & 0o777 == 0o600, "token-signing-key.pem mode %o, want 600" % (st.st_mode & 0o777))


@suite.case("setup: second berthd (own data dir and key, --token-ttl 1) issues a token")
def _(reg):
    b = start_extra("--token-ttl", "1")
    S["b"] = b
    b.add_user("alice")
    r = get_token(b, basic("alice"), ["repository:alice/app:pull,push"])
    expect_status(r, 200)
    doc = r.json()
    S["b_token"] = doc["token"]
    S["b_token_t"] = time.time()
    check(doc.get("expires_in") == 1, "expires_in %r, want 1" % doc.get("expires_in"), r)
    # Works at once on its own server.
    r = b.as_(bearer(S["b_token"])).get("/v2/")
    expect_status(r, 200)
    h, c, _ = jwt_split(S["b_token"])
    check(c["exp"] - c["iat"] <= 2, "exp-iat = %d with --token-ttl 1" % (c["exp"] - c["iat"]))


# ---------------------------------------------------------------------------------------
# Challenges


@suite.case("GET /v2/ anonymous -> 401 UNAUTHORIZED, Bearer realm=http://HOST:PORT/token, service=berth, no scope")
def _(reg):
    r = reg.get("/v2/")
    p = expect_401(r)
    want = "http://%s:%d/token" % (reg.host, reg.port)
    check(p.get("realm") == want, "realm %r, want %r" % (p.get("realm"), want), r)
    check("scope" not in p, "scope on /v2/: %r" % p.get("scope"), r)


@suite.case("challenge realm follows the Host header")
def _(reg):
    r = reg.get("/v2/", {"Host": "registry.example:5000"})
    p = expect_401(r)
    check(p.get("realm") == "http://registry.example:5000/token", "realm %r" % p.get("realm"), r)


@suite.case("anonymous {0} {1} -> 401 with scope=\"{2}\"",
            params=[("GET", "/v2/alice/app/manifests/v1", "repository:alice/app:pull"),
                    ("HEAD", "/v2/alice/app/manifests/v1", "repository:alice/app:pull"),
                    ("GET", "/v2/alice/app/blobs/" + EMPTY_BLOB_DIGEST, "repository:alice/app:pull"),
                    ("HEAD", "/v2/alice/app/blobs/" + EMPTY_BLOB_DIGEST, "repository:alice/app:pull"),
                    ("GET", "/v2/alice/app/tags/list", "repository:alice/app:pull"),
                    ("GET", "/v2/alice/app/referrers/" + EMPTY_BLOB_DIGEST, "repository:alice/app:pull"),
                    ("POST", "/v2/alice/app/blobs/uploads/", "repository:alice/app:pull,push"),
                    ("PUT", "/v2/alice/app/manifests/v1", "repository:alice/app:pull,push"),
                    ("GET", "/v2/_catalog", "registry:catalog:*")])
def _(reg, method, path, scope):
    r = reg.request(method, path)
    if method == "HEAD":
        expect_status(r, 401)
        expect_challenge(r, scope)
    else:
        expect_401(r, scope)


@suite.case("anonymous DELETE manifest -> 401 with a repository scope that includes delete or *")
def _(reg):
    r = reg.request("DELETE", manifest_path("alice/app", EMPTY_BLOB_DIGEST))
    p = expect_401(r)
    sc = p.get("scope", "")
    check(sc.startswith("repository:alice/app:") and ("delete" in sc or "*" in sc),
          "scope %r" % sc, r)


@suite.case("--external-url sets the realm")
def _(reg):
    x = start_extra("--external-url", "https://registry.example:8443/")
    r = x.get("/v2/")
    p = expect_401(r)
    check(p.get("realm") == "https://registry.example:8443/token", "realm %r" % p.get("realm"), r)
    x.cleanup(keep=False)
    EXTRA.remove(x)


# ---------------------------------------------------------------------------------------
# /token


@suite.case("GET /token anonymous -> 200: token == access_token, expires_in 300, issued_at, ES256 JWT with kid")
def _(reg):
    r = get_token(reg, None, ["repository:alice/app:pull"])
    expect_status(r, 200)
    check((r.h("Content-Type") or "").startswith("application/json"), "Content-Type %r" % r.h("Content-Type"), r)
    doc = r.json()
    check(doc.get("token") and doc.get("token") == doc.get("access_token"),
          "token and access_token differ or are missing", r)
    check(doc.get("expires_in") == 300, "expires_in %r" % doc.get("expires_in"), r)
    check(isinstance(doc.get("issued_at"), str) and doc["issued_at"].endswith("Z"),
          "issued_at %r" % doc.get("issued_at"), r)
    check("refresh_token" not in doc, "refresh_token without offline_token", r)
    h, c, _ = jwt_split(doc["token"])
    check(h.get("alg") == "ES256" and h.get("kid"), "header %r" % h, r)
    check(c.get("iss") == "berth" and c.get("aud") == "berth", "iss/aud %r/%r" % (c.get("iss"), c.get("aud")), r)
    for k in ("exp", "nbf", "iat", "jti"):
        check(k in c, "claim %s missing: %r" % (k, c), r)
    check(c["exp"] - c["iat"] == 300, "exp-iat %d" % (c["exp"] - c["iat"]), r)
    check(not c.get("sub"), "anonymous sub %r" % c.get("sub"), r)
    check(access_of(doc["token"]).get(("repository", "alice/app"), set()) == set(),
          "anonymous got access to a private repository: %r" % c.get("access"), r)
    S["kid"] = h["kid"]


@suite.case("GET /token with Basic: pull,push on own namespace granted; sub is the user")
def _(reg):
    tok = token_for(reg, "alice", "repository:alice/app:pull,push")
    _, c, _ = jwt_split(tok)
    check(c.get("sub") == "alice", "sub %r" % c.get("sub"))
    got = access_of(tok).get(("repository", "alice/app"))
    check(got == {"pull", "push"}, "actions %r, want pull,push" % got)


@suite.case("GET /token: intersection - push on another user's repository is dropped, 200 not an error")
def _(reg):
    r = get_token(reg, basic("mallory"), ["repository:alice/app:pull,push",
                                          "repository:mallory/app:pull,push,delete",
                                          "registry:catalog:*"])
    expect_status(r, 200)
    acc = access_of(r.json()["token"])
    check(not acc.get(("repository", "alice/app")), "mallory got %r on alice/app" % acc.get(("repository", "alice/app")), r)
    # The Docker token spec grants the intersection: never an action that was not asked.
    check(acc.get(("repository", "mallory/app")) == {"pull", "push", "delete"},
          "mallory/app: asked pull,push,delete, granted %r" % acc.get(("repository", "mallory/app")), r)
    check(acc.get(("registry", "catalog")) == {"*"},
          "registry:catalog: asked *, granted %r" % acc.get(("registry", "catalog")), r)


@suite.case("GET /token with a wrong password / unknown user -> 401, no token")
def _(reg):
    for auth in (basic("alice", "not-the-password"), basic("alice", ""),
                 "Basic " + base64.b64encode(b"nosuchuser:whatever-123").decode()):
        r = get_token(reg, auth, ["repository:alice/app:pull"], src="127.0.0.2")
        expect_status(r, 401)
        check(b"token" not in r.body, "body mentions a token", r)


@suite.case("GET /token with a malformed Authorization header -> 401 (not 500)")
def _(reg):
    for auth in ("Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode(),
                 "Basic", "Digest abc"):
        r = get_token(reg, auth, ["repository:alice/app:pull"], src="127.0.0.3")
        expect_status(r, 400, 401)


@suite.case("GET /token?service=other -> refused, or a token whose aud is still berth")
def _(reg):
    r = reg.as_(basic("alice")).get(token_path(["repository:alice/app:pull"], service="other"))
    expect_status(r, 200, 400, 401)
    if r.status == 200:
        _, c, _ = jwt_split(r.json()["token"])
        check(c.get("aud") == "berth", "aud %r for service=other" % c.get("aud"), r)


@suite.case("GET /token offline_token=true&client_id=x -> refresh_token; refresh grant works")
def _(reg):
    r = get_token(reg, basic("alice"), ["repository:alice/app:pull"], offline_token="true",
                  client_id="berth-test")
    expect_status(r, 200)
    rt = r.json().get("refresh_token")
    check(rt, "no refresh_token", r)
    S["alice_rt"] = rt
    r = post_token(reg, {"grant_type": "refresh_token", "refresh_token": rt,
                         "service": "berth", "client_id": "berth-test",
                         "scope": "repository:alice/app:pull,push"})
    expect_status(r, 200)
    doc = r.json()
    acc = access_of(doc["access_token"])
    check(acc.get(("repository", "alice/app")) == {"pull", "push"}, "access %r" % acc, r)
    check("scope" in doc, "no scope in POST response", r)


@suite.case("POST /token grant_type=password -> token, scope; access_type=offline -> refresh_token")
def _(reg):
    r = post_token(reg, {"grant_type": "password", "username": "alice", "password": PW["alice"],
                         "service": "berth", "client_id": "berth-test",
                         "scope": "repository:alice/app:pull,push repository:bob/x:pull"})
    expect_status(r, 200)
    doc = r.json()
    check("refresh_token" not in doc, "refresh_token without access_type=offline", r)
    acc = access_of(doc["access_token"])
    check(acc.get(("repository", "alice/app")) == {"pull", "push"}, "access %r" % acc, r)
    check(not acc.get(("repository", "bob/x")), "alice got %r on bob/x" % acc.get(("repository", "bob/x")), r)
    check(isinstance(doc.get("expires_in"), int), "expires_in %r" % doc.get("expires_in"), r)
    r = post_token(reg, {"grant_type": "password", "username": "alice", "password": PW["alice"],
                         "service": "berth", "client_id": "berth-test", "access_type": "offline",
                         "scope": "repository:alice/app:pull"})
    expect_status(r, 200)
    check(r.json().get("refresh_token"), "no refresh_token with access_type=offline", r)


@suite.case("POST /token bad password, missing password, bogus refresh token -> 400 or 401")
def _(reg):
    src = "127.0.0.4"
    r = post_token(reg, {"grant_type": "password", "username": "alice", "password": "wrong-pass-99",
                         "service": "berth", "client_id": "x", "scope": ""}, src)
    expect_status(r, 401)
    r = post_token(reg, {"grant_type": "refresh_token", "refresh_token": "bogus" + rand_name(20),
                         "service": "berth", "client_id": "x"}, src)
    expect_status(r, 400, 401)
    check(b"access_token" not in r.body, "token issued for a bogus refresh token", r)
    r = post_token(reg, {"grant_type": "password", "username": "alice", "service": "berth",
                         "client_id": "x"}, src)
    expect_status(r, 400, 401)


@suite.case("POST /token with an unsupported grant_type -> 400 (RFC 6749 unsupported_grant_type), not 405")
def _(reg):
    for g in ("client_credentials", "authorization_code", ""):
        r = post_token(reg, {"grant_type": g, "service": "berth", "client_id": "x"}, "127.0.0.4")
        expect_status(r, 400)
    # 405 belongs to methods: PUT /token
    r = reg.request("PUT", "/token")
    expect_status(r, 405)


@suite.case("a refresh token is refused while its user is disabled, works again once enabled")
def _(reg):
    r = post_token(reg, {"grant_type": "password", "username": "dora", "password": PW["dora"],
                         "service": "berth", "client_id": "x", "access_type": "offline",
                         "scope": "repository:dora/app:pull"})
    expect_status(r, 200)
    rt = r.json()["refresh_token"]
    reg.cli("user", "disable", "dora")
    try:
        r = post_token(reg, {"grant_type": "refresh_token", "refresh_token": rt, "service": "berth",
                             "client_id": "x", "scope": "repository:dora/app:pull"}, "127.0.0.5")
        expect_status(r, 400, 401)
    finally:
        reg.cli("user", "enable", "dora")
    r = post_token(reg, {"grant_type": "refresh_token", "refresh_token": rt, "service": "berth",
                         "client_id": "x", "scope": "repository:dora/app:pull"})
    expect_status(r, 200)


# ---------------------------------------------------------------------------------------
# Pushing and pulling with tokens and Basic


@suite.case("alice pushes alice/app with a bearer token (201) and pulls it back")
def _(reg):
    tok = token_for(reg, "alice", "repository:alice/app:pull,push")
    a = reg.as_(bearer(tok))
    img = small_image(a, "alice/app", "v1")
    S["alice_img"] = img
    r = a.get_manifest("alice/app", "v1")
    expect_status(r, 200)
    check(r.body == img.body, "manifest differs", r)
    for d, data in img.blobs:
        r = a.get("/v2/alice/app/blobs/%s" % d)
        expect_status(r, 200)
        check(r.body == data, "blob %s differs" % d, r)
    r = a.get("/v2/")
    expect_status(r, 200)


@suite.case("Basic auth directly on /v2/ and on a repository (password and PAT)")
def _(reg):
    r = reg.as_(basic("alice")).get("/v2/")
    expect_status(r, 200)
    r = reg.as_(basic("alice")).get_manifest("alice/app", "v1")
    expect_status(r, 200)
    pat = reg.pat("alice", "read", "ci-read")
    S["alice_pat_read"] = pat
    r = reg.as_("Basic " + base64.b64encode(("alice:" + pat).encode()).decode()).get_manifest("alice/app", "v1")
    expect_status(r, 200)
    # A PAT as the password on /token too.
    tok = token_for(reg, "alice", "repository:alice/app:pull,push", pw=pat)
    acc = access_of(tok).get(("repository", "alice/app"))
    check(acc == {"pull"}, "read PAT got %r (want pull only)" % acc)


@suite.case("Basic with a wrong password on /v2/ -> 401 UNAUTHORIZED, nothing else")
def _(reg):
    r = reg.as_(basic("alice", "wrong-password-x"), "127.0.0.6").get_manifest("alice/app", "v1")
    expect_401(r)
    check(not r.h("Docker-Content-Digest"), "manifest digest leaked", r)


@suite.case("push with a read PAT: Basic -> 403 DENIED, token lacks push -> 401 insufficient_scope; nothing stored")
def _(reg):
    adm = reg_admin(reg)
    before = adm.snapshot()
    pat = S["alice_pat_read"]
    c = reg.as_("Basic " + base64.b64encode(("alice:" + pat).encode()).decode())
    try_push(c, "alice/app", 403, ("DENIED",))
    tok = token_for(reg, "alice", "repository:alice/app:pull,push", pw=pat)
    c = reg.as_(bearer(tok))
    r = c.request("POST", "/v2/alice/app/blobs/uploads/")
    expect_401(r, "repository:alice/app:pull,push", "insufficient_scope")
    adm.unchanged(before)


@suite.case("read-write PAT pushes but cannot delete; read-write-delete PAT deletes")
def _(reg):
    rw = reg.pat("alice", "read-write")
    rwd = reg.pat("alice", "read-write-delete")
    c = reg.as_("Basic " + base64.b64encode(("alice:" + rw).encode()).decode())
    img = small_image(c, "alice/patrepo", "v1")
    adm = reg_admin(reg)
    before = adm.snapshot()
    r = c.request("DELETE", manifest_path("alice/patrepo", img.digest))
    expect_error(r, 403, "DENIED")
    r = c.request("DELETE", "/v2/alice/patrepo/blobs/%s" % img.blobs[1][0])
    expect_error(r, 403, "DENIED")
    adm.unchanged(before)
    d = reg.as_("Basic " + base64.b64encode(("alice:" + rwd).encode()).decode())
    r = d.request("DELETE", manifest_path("alice/patrepo", img.digest))
    expect_status(r, 202)
    reg.known_manifests.discard(("alice/patrepo", "v1"))
    reg.known_manifests.discard(("alice/patrepo", img.digest))


@suite.case("revoked PAT -> 401 on /v2/ and on /token")
def _(reg):
    pat = reg.pat("alice", "read", "to-revoke")
    c = reg.as_("Basic " + base64.b64encode(("alice:" + pat).encode()).decode(), "127.0.0.7")
    expect_status(c.get("/v2/"), 200)
    _, out, _ = reg.cli("token", "list", "alice")
    line = [l for l in out.splitlines() if "to-revoke" in l]
    check(line, "token list lacks the token named to-revoke: %r" % out)
    check(pat not in out, "token list shows the secret")
    tid = line[0].split()[0]
    reg.cli("token", "revoke", "alice", tid)
    expect_401(c.get("/v2/"))
    r = get_token(reg, "Basic " + base64.b64encode(("alice:" + pat).encode()).decode(),
                  ["repository:alice/app:pull"], "127.0.0.7")
    expect_status(r, 401)


@suite.case("disabled user: password and PAT refused (401) on /v2/ and /token; enabled again works")
def _(reg):
    pat = reg.pat("tim", "read")
    reg.cli("user", "disable", "tim")
    src = "127.0.0.8"
    try:
        expect_401(reg.as_(basic("tim"), src).get("/v2/"))
        expect_401(reg.as_("Basic " + base64.b64encode(("tim:" + pat).encode()).decode(), src).get("/v2/"))
        expect_status(get_token(reg, basic("tim"), ["repository:tim/x:pull"], src), 401)
    finally:
        reg.cli("user", "enable", "tim")
    expect_status(reg.as_(basic("tim")).get("/v2/"), 200)


@suite.case("a disabled user's unexpired bearer token is refused")
def _(reg):
    tok = token_for(reg, "tim", "repository:tim/x:pull,push")
    expect_status(reg.as_(bearer(tok)).get("/v2/"), 200)
    reg.cli("user", "disable", "tim")
    try:
        r = reg.as_(bearer(tok)).request("POST", "/v2/tim/x/blobs/uploads/")
        expect_401(r)
    finally:
        reg.cli("user", "enable", "tim")


@suite.case("deleted user: password, PAT and old bearer token refused; namespace not writable")
def _(reg):
    pat = reg.pat("gone", "read-write")
    tok = token_for(reg, "gone", "repository:gone/app:pull,push")
    reg.cli("user", "del", "gone")
    _, out, _ = reg.cli("user", "list")
    check("gone" not in out.split(), "user list still lists gone: %r" % out)
    src = "127.0.0.9"
    expect_401(reg.as_(basic("gone"), src).get("/v2/"))
    expect_401(reg.as_("Basic " + base64.b64encode(("gone:" + pat).encode()).decode(), src).get("/v2/"))
    adm = reg_admin(reg)
    before = adm.snapshot()
    r = reg.as_(bearer(tok)).request("POST", "/v2/gone/app/blobs/uploads/")
    expect_401(r)
    adm.unchanged(before)


@suite.case("user passwd: old password refused, new one works, refresh tokens revoked")
def _(reg):
    r = post_token(reg, {"grant_type": "password", "username": "paula", "password": PW["paula"],
                         "service": "berth", "client_id": "x", "access_type": "offline",
                         "scope": "repository:paula/app:pull"})
    expect_status(r, 200)
    rt = r.json()["refresh_token"]
    old = PW["paula"]
    PW["paula"] = "paula-new-password-2"
    reg.cli("user", "passwd", "paula", "--password-stdin", stdin=PW["paula"] + "\n")
    src = "127.0.0.12"
    expect_401(reg.as_(basic("paula", old), src).get("/v2/"))
    expect_status(reg.as_(basic("paula")).get("/v2/"), 200)
    r = post_token(reg, {"grant_type": "refresh_token", "refresh_token": rt, "service": "berth",
                         "client_id": "x", "scope": "repository:paula/app:pull"}, src)
    expect_status(r, 400, 401)
    for pw in ("short", "x" * 1025):
        rc, out, err = reg.cli("user", "passwd", "paula", "--password-stdin", stdin=pw + "\n", ok=False)
        check(rc != 0, "passwd accepted a %d-character password" % len(pw))
    expect_status(reg.as_(basic("paula")).get("/v2/"), 200)


@suite.case("another user's upload session: mallory can neither use nor see alice's upload; it stays intact")
def _(reg):
    a = reg.as_(basic("alice"))
    loc = a.start_upload("alice/app")
    first = rand_bytes(100)
    r = a.request("PATCH", loc, {"Content-Type": "application/octet-stream",
                                 "Content-Range": "0-99"}, first)
    expect_status(r, 202)
    loc = loc_path(r.h("Location")) or loc
    m = reg.as_(basic("mallory"))
    uuid = loc.split("?")[0].rstrip("/").split("/")[-1]
    evil = rand_bytes(50)
    for method, body in (("GET", None), ("PATCH", evil), ("PUT", evil), ("DELETE", None)):
        path = loc if method != "PUT" else add_query(loc, digest=sha256(first + evil))
        r = m.request(method, path, {"Content-Type": "application/octet-stream"} if body else None, body)
        check(r.status in (401, 403, 404), "%s alice's upload as mallory -> %d" % (method, r.status), r)
        other = "/v2/mallory/box/blobs/uploads/" + uuid
        if method == "PUT":
            other = add_query(other, digest=sha256(first + evil))
        r = m.request(method, other, {"Content-Type": "application/octet-stream"} if body else None, body)
        expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    r = a.get(loc)
    expect_status(r, 204)
    check(r.h("Range") == "0-99", "alice's upload now at Range %r" % r.h("Range"), r)
    rest = rand_bytes(30)
    r = a.request("PUT", add_query(loc, digest=sha256(first + rest)),
                  {"Content-Type": "application/octet-stream"}, rest)
    expect_status(r, 201)
    reg.known_blobs.add(("alice/app", sha256(first + rest)))
    expect_error(m.get("/v2/mallory/box/blobs/" + sha256(first + evil)), 404, "BLOB_UNKNOWN")


@suite.case("auth scheme names are case-insensitive (RFC 7235): 'basic', 'bearer'")
def _(reg):
    tok = token_for(reg, "alice", "repository:alice/app:pull")
    expect_status(reg.as_("bearer " + tok).get_manifest("alice/app", "v1"), 200)
    expect_status(reg.as_("basic " + basic("alice").split(" ", 1)[1]).get_manifest("alice/app", "v1"), 200)


@suite.case("oversized or odd Authorization headers -> 4xx, no crash")
def _(reg):
    for v in ("Bearer " + "A" * 20000, "Basic " + base64.b64encode(b"alice:" + b"p" * 5000).decode(),
              "Bearer " + "a." * 3000, "Bearer \x01\x02", "Bearer", "Bearer  ", "Basic Og=="):
        try:
            r = reg.as_(v, "127.0.0.13").get("/v2/alice/app/manifests/v1")
            check(400 <= r.status < 500, "Authorization %r... -> %d" % (v[:20], r.status), r)
        except (OSError, ConnectionError):
            pass  # closing the connection is acceptable for a huge header
    expect_status(reg.as_(basic("alice")).get("/v2/"), 200)


# ---------------------------------------------------------------------------------------
# Forged and misused tokens


@suite.case("token for repo A used on repo B -> 401 insufficient_scope with B's scope; nothing stored")
def _(reg):
    tok = token_for(reg, "alice", "repository:alice/app:pull,push")
    c = reg.as_(bearer(tok))
    adm = reg_admin(reg)
    before = adm.snapshot(repos=["alice/other"])
    r = c.request("POST", "/v2/alice/other/blobs/uploads/")
    expect_401(r, "repository:alice/other:pull,push", "insufficient_scope")
    r = c.get_manifest("alice/other", "v1")
    expect_401(r, "repository:alice/other:pull", "insufficient_scope")
    r = c.get_manifest("alice/app", "v1")
    expect_status(r, 200)
    # pull-only token used to push
    tok = token_for(reg, "alice", "repository:alice/app:pull")
    r = reg.as_(bearer(tok)).request("PUT", manifest_path("alice/app", "v2"),
                                     {"Content-Type": MT_OCI_MANIFEST}, S["alice_img"].body)
    expect_401(r, "repository:alice/app:pull,push", "insufficient_scope")
    adm.unchanged(before, repos=["alice/other"])


@suite.case("bearer token without registry:catalog:* -> catalog 401 insufficient_scope")
def _(reg):
    tok = token_for(reg, "alice", "repository:alice/app:pull")
    r = reg.as_(bearer(tok)).get("/v2/_catalog")
    expect_401(r, "registry:catalog:*", "insufficient_scope")


def forged_cases(reg):
    """(label, token) pairs that must all be refused; they ask push on alice/app."""
    good = token_for(reg, "alice", "repository:alice/app:pull")
    h, c, sig = jwt_split(good)
    p0, p1, _ = good.split(".")
    out = []
    wide = dict(c, access=push_access("alice/app", "pull", "push", "delete"))
    out.append(("alg none", sign_jwt(dict(h, alg="none"), wide, alg_sig="none")))
    out.append(("alg none, typ none, no kid", sign_jwt({"alg": "none", "typ": "JWT"}, wide, alg_sig="none")))
    out.append(("alg NONE", sign_jwt(dict(h, alg="NONE"), wide, alg_sig="none")))
    out.append(("changed payload, original signature",
                p0 + "." + b64u(json.dumps(wide, separators=(",", ":")).encode()) + "." + sig))
    out.append(("original payload, signature of another token",
                p0 + "." + p1 + "." + jwt_split(token_for(reg, "alice", "repository:alice/x:pull"))[2]))
    out.append(("no signature", p0 + "." + p1 + "."))
    out.append(("signature truncated", p0 + "." + p1 + "." + sig[:-4]))
    out.append(("two segments", p0 + "." + p1))
    out.append(("garbage", "not.a.jwt"))
    out.append(("empty", ""))
    if have_openssl():
        key = reg.signing_key_path()
        pub = ossl("pkey", "-in", key, "-pubout")
        out.append(("HS256 keyed with the server's public key (PEM)",
                    sign_jwt(dict(h, alg="HS256"), wide, alg_sig="hs256", secret=pub)))
        other = os.path.join(reg.tmp, "other-key.pem")
        if not os.path.exists(other):
            ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", other)
        out.append(("ES256 by another key, same kid", sign_jwt(h, wide, other)))
        now = int(time.time())
        out.append(("expired 2 minutes ago (real key)", sign_jwt(h, dict(wide, exp=now - 120, iat=now - 420, nbf=now - 421), key)))
        out.append(("exp missing (real key)", sign_jwt(h, {k: v for k, v in wide.items() if k != "exp"}, key)))
        out.append(("exp a string (real key)", sign_jwt(h, dict(wide, exp=str(now + 300)), key)))
        out.append(("nbf 10 minutes ahead (real key)", sign_jwt(h, dict(wide, nbf=now + 600, iat=now + 600, exp=now + 900), key)))
        out.append(("aud other (real key)", sign_jwt(h, dict(wide, aud="other"), key)))
        out.append(("aud missing (real key)", sign_jwt(h, {k: v for k, v in wide.items() if k != "aud"}, key)))
        out.append(("iss other (real key)", sign_jwt(h, dict(wide, iss="evil"), key)))
        out.append(("alg ES384 header (real ES256 signature)", sign_jwt(dict(h, alg="ES384"), wide, key)))
        out.append(("alg RS256 header (real ES256 signature)", sign_jwt(dict(h, alg="RS256"), wide, key)))
        out.append(("sub a user that does not exist (real key)", sign_jwt(h, dict(wide, sub="ghost"), key)))
    return out


@suite.case("forged JWTs are refused with 401 and store nothing")
def _(reg):
    adm = reg_admin(reg)
    before = adm.snapshot()
    bad = []
    for label, tok in forged_cases(reg):
        c = reg.as_(bearer(tok))
        for method, path in (("POST", "/v2/alice/app/blobs/uploads/"),
                             ("GET", manifest_path("alice/app", "v1"))):
            r = c.request(method, path)
            if r.status != 401 or "UNAUTHORIZED" not in r.error_codes() or not r.h("WWW-Authenticate"):
                bad.append("%s: %s %s -> %d %s" % (label, method, path, r.status, r.error_codes()))
    if not have_openssl():
        note("openssl CLI missing: tokens signed with a key were not tried")
    check(not bad, "%d forged tokens not refused with 401 UNAUTHORIZED" % len(bad), extra=bad)
    adm.unchanged(before)


@suite.case("a token crafted with the real key and exp 30 s ago is still accepted (60 s leeway)")
def _(reg):
    if not have_openssl():
        raise Skip("no openssl CLI")
    good = token_for(reg, "alice", "repository:alice/app:pull")
    h, c, _ = jwt_split(good)
    now = int(time.time())
    key = reg.signing_key_path()
    tok = sign_jwt(h, dict(c, exp=now - 30, iat=now - 330, nbf=now - 331), key)
    expect_status(reg.as_(bearer(tok)).get_manifest("alice/app", "v1"), 200)
    # and the crafting itself is sound: the same claims with a fresh exp work too
    tok = sign_jwt(h, dict(c, exp=now + 100), key)
    expect_status(reg.as_(bearer(tok)).get_manifest("alice/app", "v1"), 200)


@suite.case("a valid token from another berthd (same service, other key) is refused")
def _(reg):
    tok = S["b_token"]
    adm = reg_admin(reg)
    before = adm.snapshot()
    r = reg.as_(bearer(tok)).request("POST", "/v2/alice/app/blobs/uploads/")
    expect_401(r)
    r = reg.as_(bearer(tok)).get_manifest("alice/app", "v1")
    expect_401(r)
    adm.unchanged(before)


# ---------------------------------------------------------------------------------------
# Namespaces, private repositories, mounts


@suite.case("mallory pushing into alice/ (existing and new repo) -> 403 DENIED (Basic), 401 (token); nothing stored")
def _(reg):
    adm = reg_admin(reg)
    before = adm.snapshot(repos=["alice/newrepo"])
    m = reg.as_(basic("mallory"))
    try_push(m, "alice/app", 403, ("DENIED",))
    try_push(m, "alice/newrepo", 403, ("DENIED",))
    tok = token_for(reg, "mallory", "repository:alice/app:pull,push")
    try_push(reg.as_(bearer(tok)), "alice/app", 401, ("UNAUTHORIZED",))
    r = m.request("DELETE", manifest_path("alice/app", S["alice_img"].digest))
    expect_error(r, (403, 404), "DENIED", "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
    r = m.request("DELETE", "/v2/alice/app/blobs/%s" % S["alice_img"].blobs[1][0])
    expect_error(r, (403, 404), "DENIED", "NAME_UNKNOWN", "BLOB_UNKNOWN")
    adm.unchanged(before, repos=["alice/newrepo"])


@suite.case("non-admin pushing a top-level name (busybox) -> 403; admin pushes it (201)")
def _(reg):
    adm = reg_admin(reg)
    before = adm.snapshot(repos=["busybox"])
    try_push(reg.as_(basic("alice")), "busybox", 403, ("DENIED",))
    adm.unchanged(before, repos=["busybox"])
    small_image(adm, "busybox", "latest")
    expect_status(reg.as_(basic("root")).get_manifest("busybox", "latest"), 200)


@suite.case("private repo looks like a missing one to mallory: manifest, blob, tags (same answers)")
def _(reg):
    m = reg.as_(basic("mallory"))
    img = S["alice_img"]
    layer = img.blobs[1][0]
    pairs = [(manifest_path("alice/app", "v1"), manifest_path("alice/nothere", "v1")),
             (manifest_path("alice/app", img.digest), manifest_path("alice/nothere", img.digest)),
             ("/v2/alice/app/blobs/" + layer, "/v2/alice/nothere/blobs/" + layer),
             ("/v2/alice/app/tags/list", "/v2/alice/nothere/tags/list"),
             ("/v2/alice/app/referrers/" + img.digest, "/v2/alice/nothere/referrers/" + img.digest)]
    for exist, missing in pairs:
        a, b = m.get(exist), m.get(missing)
        check(a.status in (401, 403, 404), "GET %s as mallory -> %d" % (exist, a.status), a)
        check(layer.encode() not in a.body and img.body not in a.body, "content leaked", a)
        same_response(a, b, "mallory: %s vs %s" % (exist, missing))
        a, b = m.head(exist), m.head(missing)
        check(a.status == b.status and a.status in (401, 403, 404),
              "HEAD %s %d vs %s %d" % (exist, a.status, missing, b.status), a)
    # anonymous: the same challenge for existing and missing
    anon = reg.as_(None)
    for exist, missing in pairs:
        a, b = anon.get(exist), anon.get(missing)
        expect_401(a)
        same_response(a, b, "anonymous: %s vs %s" % (exist, missing))


@suite.case("private blob via mallory's own repo: GET by digest 404, ?mount=&from= and automatic mount -> 202, no blob")
def _(reg):
    m = reg.as_(basic("mallory"))
    small_image(m, "mallory/box", "v1")
    img = S["alice_img"]
    layer, data = img.blobs[1]
    adm = reg_admin(reg)
    before = adm.snapshot(blobs=[("mallory/box", layer)])
    r = m.get("/v2/mallory/box/blobs/" + layer)
    expect_error(r, 404, "BLOB_UNKNOWN")
    r = m.request("POST", "/v2/mallory/box/blobs/uploads/?mount=%s&from=alice/app" % layer)
    expect_status(r, 202)
    check(r.h("Location"), "no Location for the new upload", r)
    r2 = m.request("POST", "/v2/mallory/box/blobs/uploads/?mount=%s" % layer)
    expect_status(r2, 202)
    tok = token_for(reg, "mallory", "repository:mallory/box:pull,push", "repository:alice/app:pull")
    r3 = reg.as_(bearer(tok)).request("POST", "/v2/mallory/box/blobs/uploads/?mount=%s&from=alice/app" % layer)
    expect_status(r3, 202)
    expect_error(m.get("/v2/mallory/box/blobs/" + layer), 404, "BLOB_UNKNOWN")
    expect_status(m.head("/v2/mallory/box/blobs/" + layer), 404)
    # cancel the uploads the mounts opened
    for rr, who in ((r, m), (r2, m), (r3, reg.as_(bearer(tok)))):
        loc = loc_path(rr.h("Location"))
        if loc:
            who.request("DELETE", loc)
    adm.unchanged(before, blobs=[("mallory/box", layer)])


@suite.case("manifest in mallory's repo referencing alice's private layer -> 400 MANIFEST_BLOB_UNKNOWN; blob stays unreadable")
def _(reg):
    m = reg.as_(basic("mallory"))
    img = S["alice_img"]
    m.push_blob("mallory/box", b"{}")  # mallory's own config
    adm = reg_admin(reg)
    before = adm.snapshot(manifests=[("mallory/box", "stolen")],
                          blobs=[("mallory/box", img.blobs[1][0])])
    body = json.loads(img.body)
    body["config"] = descriptor(MT_OCI_CONFIG, b"{}")
    r = m.request("PUT", manifest_path("mallory/box", "stolen"), {"Content-Type": MT_OCI_MANIFEST},
                  canon(body))
    expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN")
    expect_error(m.get("/v2/mallory/box/blobs/" + img.blobs[1][0]), 404, "BLOB_UNKNOWN")
    adm.unchanged(before, manifests=[("mallory/box", "stolen")],
                  blobs=[("mallory/box", img.blobs[1][0])])


@suite.case("alice mounts her own blob across her repositories (201)")
def _(reg):
    a = reg.as_(basic("alice"))
    layer = S["alice_img"].blobs[1][0]
    r = a.request("POST", "/v2/alice/copy/blobs/uploads/?mount=%s&from=alice/app" % layer)
    expect_status(r, 201)
    expect_status(a.head("/v2/alice/copy/blobs/" + layer), 200)
    reg.known_blobs.add(("alice/copy", layer))


@suite.case("admin reads alice's private repo; bob cannot")
def _(reg):
    expect_status(reg_admin(reg).get_manifest("alice/app", "v1"), 200)
    expect_status(reg.as_(basic("root")).get_manifest("alice/app", "v1"), 200)
    r = reg.as_(basic("bob")).get_manifest("alice/app", "v1")
    check(r.status in (403, 404), "bob -> %d" % r.status, r)


# ---------------------------------------------------------------------------------------
# Catalog and tags


def catalog_as(client):
    r = client.get("/v2/_catalog?n=1000")
    expect_status(r, 200)
    return r.json().get("repositories") or []


@suite.case("catalog: alice sees hers, mallory not alice's, admin all, anonymous token none private")
def _(reg):
    small_image(reg.as_(basic("bob")), "bob/secret", "v1")
    a = catalog_as(reg.as_(basic("alice")))
    check("alice/app" in a and "bob/secret" not in a and "mallory/box" not in a, "alice sees %r" % a)
    m = catalog_as(reg.as_(basic("mallory")))
    check("mallory/box" in m and "alice/app" not in m and "bob/secret" not in m, "mallory sees %r" % m)
    root = catalog_as(reg_admin(reg))
    for n in ("alice/app", "bob/secret", "mallory/box", "busybox"):
        check(n in root, "admin catalog lacks %s: %r" % (n, root))
    tok = token_for(reg, None, "registry:catalog:*")
    check(not access_of(tok).get(("registry", "catalog")) or "*" in access_of(tok)[("registry", "catalog")],
          "anon catalog access %r" % access_of(tok))
    r = reg.as_(bearer(tok)).get("/v2/_catalog")
    if r.status == 200:
        anon = r.json().get("repositories") or []
        check(not any(n in anon for n in ("alice/app", "bob/secret", "mallory/box", "busybox")),
              "anonymous catalog shows private repos: %r" % anon, r)
    else:
        expect_401(r)
    tok = token_for(reg, "mallory", "registry:catalog:*")
    r = reg.as_(bearer(tok)).get("/v2/_catalog")
    expect_status(r, 200)
    m2 = r.json().get("repositories") or []
    check("alice/app" not in m2 and "mallory/box" in m2, "mallory (bearer) sees %r" % m2, r)


@suite.case("catalog pagination (n=1) does not reveal private names in Link headers")
def _(reg):
    c = reg.as_(basic("mallory"))
    path, seen = "/v2/_catalog?n=1", []
    for _ in range(50):
        r = c.get(path)
        expect_status(r, 200)
        seen += r.json().get("repositories") or []
        for v in r.hs("Link"):
            check("alice" not in v and "bob" not in v, "Link reveals %r" % v, r)
        path = link_next(r)
        if not path:
            break
    check("alice/app" not in seen and "bob/secret" not in seen, "mallory paged through %r" % seen)


@suite.case("tags list: owner 200, mallory and anonymous same as a missing repo")
def _(reg):
    r = reg.as_(basic("alice")).get("/v2/alice/app/tags/list")
    expect_status(r, 200)
    check("v1" in (r.json().get("tags") or []), "tags %r" % r.body, r)
    same_response(reg.as_(basic("mallory")).get("/v2/alice/app/tags/list"),
                  reg.as_(basic("mallory")).get("/v2/alice/zzz/tags/list"), "tags as mallory")
    expect_401(reg.get("/v2/alice/app/tags/list"), "repository:alice/app:pull")


# ---------------------------------------------------------------------------------------
# Visibility


@suite.case("repo visibility public: anonymous pulls (no token and anonymous token), catalog shows it; push still refused")
def _(reg):
    img = small_image(reg.as_(basic("alice")), "alice/pub", "v1")
    reg.cli("repo", "visibility", "alice/pub", "public")
    anon = reg.as_(None)
    r = anon.get_manifest("alice/pub", "v1")
    expect_status(r, 200)
    check(r.body == img.body, "manifest differs", r)
    r = anon.get("/v2/alice/pub/blobs/" + img.blobs[1][0])
    expect_status(r, 200)
    expect_status(anon.get("/v2/alice/pub/tags/list"), 200)
    tok = token_for(reg, None, "repository:alice/pub:pull,push", "registry:catalog:*")
    check(access_of(tok).get(("repository", "alice/pub")) == {"pull"},
          "anonymous token on a public repo: %r" % access_of(tok))
    expect_status(reg.as_(bearer(tok)).get_manifest("alice/pub", "v1"), 200)
    r = reg.as_(bearer(tok)).get("/v2/_catalog")
    expect_status(r, 200)
    check("alice/pub" in (r.json().get("repositories") or []), "anonymous catalog %r" % r.body, r)
    check("alice/pub" in catalog_as(reg.as_(basic("mallory"))), "mallory's catalog lacks the public repo")
    expect_status(reg.as_(basic("mallory")).get_manifest("alice/pub", "v1"), 200)
    adm = reg_admin(reg)
    before = adm.snapshot()
    r = anon.request("POST", "/v2/alice/pub/blobs/uploads/")
    expect_401(r, "repository:alice/pub:pull,push")
    try_push(reg.as_(basic("mallory")), "alice/pub", 403, ("DENIED",))
    r = reg.as_(basic("mallory")).request("DELETE", manifest_path("alice/pub", img.digest))
    expect_error(r, 403, "DENIED")
    r = reg.as_(bearer(tok)).request("DELETE", manifest_path("alice/pub", img.digest))
    expect_status(r, 401)
    adm.unchanged(before)
    S["pub_img"] = img


@suite.case("repo visibility back to private: anonymous -> 401, mallory denied, catalog hides it")
def _(reg):
    reg.cli("repo", "visibility", "alice/pub", "private")
    expect_401(reg.get(manifest_path("alice/pub", "v1")), "repository:alice/pub:pull")
    r = reg.as_(basic("mallory")).get_manifest("alice/pub", "v1")
    check(r.status in (403, 404), "mallory -> %d" % r.status, r)
    check("alice/pub" not in catalog_as(reg.as_(basic("mallory"))), "still in mallory's catalog")
    tok = token_for(reg, None, "repository:alice/pub:pull")
    check(not access_of(tok).get(("repository", "alice/pub")), "anonymous token still grants pull")


@suite.case("--default-visibility public: a new repository is pullable anonymously")
def _(reg):
    x = start_extra("--default-visibility", "public")
    try:
        x.add_user("alice")
        img = small_image(x.as_(basic("alice")), "alice/open", "v1")
        expect_status(x.get_manifest("alice/open", "v1"), 200)
        expect_401(x.request("POST", "/v2/alice/open/blobs/uploads/"))
        expect_status(x.get("/v2/alice/open/blobs/" + img.blobs[1][0]), 200)
    finally:
        x.cleanup(keep=False)
        EXTRA.remove(x)


# ---------------------------------------------------------------------------------------
# Organizations


@suite.case("org: owner pushes, writer pushes and pulls, reader pulls; others see nothing")
def _(reg):
    olga, wendy, rita = (reg.as_(basic(u)) for u in ("olga", "wendy", "rita"))
    img = small_image(olga, "acme/api", "v1")
    S["acme_img"] = img
    small_image(wendy, "acme/web", "v1")
    expect_status(wendy.get_manifest("acme/api", "v1"), 200)
    expect_status(rita.get_manifest("acme/api", "v1"), 200)
    expect_status(rita.get_manifest("acme/web", "v1"), 200)
    r = reg.as_(basic("mallory")).get_manifest("acme/api", "v1")
    check(r.status in (403, 404), "non-member -> %d" % r.status, r)
    check("acme/api" in catalog_as(rita), "rita's catalog lacks acme/api")
    check("acme/api" not in catalog_as(reg.as_(basic("mallory"))), "mallory's catalog shows acme/api")
    tok = token_for(reg, "rita", "repository:acme/api:pull,push,delete")
    check(access_of(tok).get(("repository", "acme/api")) == {"pull"}, "reader token %r" % access_of(tok))
    tok = token_for(reg, "wendy", "repository:acme/api:pull,push,delete")
    check(access_of(tok).get(("repository", "acme/api")) == {"pull", "push"}, "writer token %r" % access_of(tok))
    tok = token_for(reg, "olga", "repository:acme/api:pull,push,delete")
    check({"pull", "push", "delete"} <= access_of(tok).get(("repository", "acme/api"), set()),
          "owner token %r" % access_of(tok))


@suite.case("org: reader cannot push, writer cannot delete (403 DENIED, nothing changed)")
def _(reg):
    adm = reg_admin(reg)
    before = adm.snapshot()
    try_push(reg.as_(basic("rita")), "acme/api", 403, ("DENIED",))
    try_push(reg.as_(basic("rita")), "acme/newthing", 403, ("DENIED",))
    img = S["acme_img"]
    for who in ("wendy", "rita"):
        c = reg.as_(basic(who))
        expect_error(c.request("DELETE", manifest_path("acme/api", img.digest)), 403, "DENIED")
        expect_error(c.request("DELETE", manifest_path("acme/api", "v1")), (403, 405), "DENIED", "UNSUPPORTED")
        expect_error(c.request("DELETE", "/v2/acme/api/blobs/" + img.blobs[1][0]), 403, "DENIED")
    adm.unchanged(before)


@suite.case("org: owner deletes a manifest (202); removed member loses access")
def _(reg):
    olga = reg.as_(basic("olga"))
    img = small_image(olga, "acme/tmp", "v1")
    r = olga.request("DELETE", manifest_path("acme/tmp", img.digest))
    expect_status(r, 202)
    expect_error(olga.get_manifest("acme/tmp", img.digest), 404, "MANIFEST_UNKNOWN")
    reg.known_manifests.discard(("acme/tmp", "v1"))
    reg.known_manifests.discard(("acme/tmp", img.digest))
    reg.cli("org", "member", "del", "acme", "wendy")
    try:
        r = reg.as_(basic("wendy")).get_manifest("acme/api", "v1")
        check(r.status in (403, 404), "removed member -> %d" % r.status, r)
    finally:
        reg.cli("org", "member", "add", "acme", "wendy", "--role", "writer")


@suite.case("a user cannot take an org's name, and users' namespaces are separate from orgs'")
def _(reg):
    rc, out, err = reg.cli("user", "add", "acme", "--password-stdin", stdin="password-123\n", ok=False)
    check(rc != 0, "user add acme (an org) succeeded: %r %r" % (out, err))
    rc, out, err = reg.cli("org", "add", "alice", "--owner", "mallory", ok=False)
    check(rc != 0, "org add alice (a user) succeeded: %r %r" % (out, err))


# ---------------------------------------------------------------------------------------
# Deletes by the owner, and the audit log


@suite.case("alice deletes her tag and manifest (202); bob gets 403 first and changes nothing")
def _(reg):
    a = reg.as_(basic("alice"))
    img = small_image(a, "alice/del", "v1")
    adm = reg_admin(reg)
    before = adm.snapshot()
    expect_error(reg.as_(basic("bob")).request("DELETE", manifest_path("alice/del", "v1")),
                 (403, 405), "DENIED", "UNSUPPORTED")
    adm.unchanged(before)
    r = a.request("DELETE", manifest_path("alice/del", img.digest))
    expect_status(r, 202)
    r = a.request("DELETE", "/v2/alice/del/blobs/" + img.blobs[1][0])
    expect_status(r, 202, 404)
    reg.known_manifests.discard(("alice/del", "v1"))
    reg.known_manifests.discard(("alice/del", img.digest))
    reg.known_blobs.discard(("alice/del", img.blobs[1][0]))


@suite.case("audit_log has login, login_failed, push, delete_manifest, token_create, token_revoke, user_create, visibility, member_set")
def _(reg):
    db = reg.db()
    try:
        rows = db.execute("SELECT at, actor, action, target, detail, remote_addr FROM audit_log").fetchall()
    finally:
        db.close()
    acts = {}
    for row in rows:
        acts.setdefault(row[2], []).append(row)
    missing = [a for a in ("login", "login_failed", "push", "delete_manifest", "token_create",
                           "token_revoke", "user_create", "visibility", "member_set")
               if a not in acts]
    check(not missing, "no audit rows for %s (have %s)" % (missing, sorted(acts)))
    check(any(r[1] == "alice" for r in acts["login"]), "no login row for alice")
    check(any("127.0.0." in (r[5] or "") for r in acts["login_failed"]),
          "login_failed rows without a remote address: %r" % acts["login_failed"][:3])
    check(any(r[3] and "alice/app" in r[3] for r in acts["push"]), "no push row for alice/app: %r" % acts["push"][:3])
    check(any(r[3] and "alice/del" in r[3] for r in acts["delete_manifest"]), "no delete row for alice/del")
    for r in acts["login_failed"]:
        for pw in PW.values():
            check(pw not in " ".join(str(x) for x in r), "password in the audit log: %r" % (r,))
    for r in rows:
        check("berth_pat_" not in " ".join(str(x) for x in r), "a PAT secret in the audit log: %r" % (r,))
    for r in acts["push"] + acts["login"]:
        check(r[0], "row without a time: %r" % (r,))


@suite.case("the database holds no plaintext password or PAT")
def _(reg):
    raw = db_contents(reg.data)
    check(len(raw) > 1000, "no database contents read (%d bytes)" % len(raw))
    for u, pw in PW.items():
        check(pw.encode() not in raw, "password of %s stored in clear" % u)
    check(S["root_pat"].encode() not in raw and S["root_pat"][len("berth_pat_"):].encode() not in raw,
          "a PAT is stored in clear")


# ---------------------------------------------------------------------------------------
# Throttling and rate limits (their own servers)


def bad_login(reg, user, src, how):
    """One failed login by `how` ("get", "post", "basic")."""
    if how == "get":
        return get_token(reg, basic(user, "wrong-password-%s" % rand_name(4)),
                         ["repository:%s/x:pull" % user], src)
    if how == "post":
        return post_token(reg, {"grant_type": "password", "username": user,
                                "password": "wrong-password-x", "service": "berth",
                                "client_id": "t", "scope": ""}, src)
    return reg.as_(basic(user, "wrong-password-y"), src).get("/v2/")


@suite.case("throttling: 10 failed logins from one address -> 429 TOOMANYREQUESTS even with the right password; other addresses fine")
def _(reg):
    t = start_extra()
    S["throttle"] = t
    for u in ("alice", "bob", "mallory"):
        t.add_user(u)
    src = "127.0.0.40"
    got = []
    for i in range(10):
        r = bad_login(t, "mallory" if i % 2 else "bob", src, ("get", "post", "basic")[i % 3])
        got.append(r.status)
    check(all(s in (401, 429) for s in got), "statuses of failed logins: %r" % got)
    check(got[0] == 401, "first failure -> %d" % got[0])
    check(got[:5] == [401] * 5 and 429 in got[5:], "slowed down after 5 failures: %r" % got)
    r = get_token(t, basic("alice"), ["repository:alice/x:pull"], src)
    expect_error(r, 429, "TOOMANYREQUESTS")
    r = t.as_(basic("alice"), src).get("/v2/")
    expect_error(r, 429, "TOOMANYREQUESTS")
    r = post_token(t, {"grant_type": "password", "username": "alice", "password": PW["alice"],
                       "service": "berth", "client_id": "t", "scope": ""}, src)
    expect_status(r, 429)
    # X-Forwarded-For from a direct client must not move it to another address
    r = t.as_(basic("alice"), src).get("/v2/", {"X-Forwarded-For": "10.9.8.7",
                                                "Authorization": basic("alice")})
    expect_error(r, 429, "TOOMANYREQUESTS")
    # another address is not affected
    expect_status(get_token(t, basic("alice"), ["repository:alice/x:pull"], "127.0.0.41"), 200)


@suite.case("throttling: 10 failed logins for one account from many addresses -> that account gets 429 from a fresh address; others fine")
def _(reg):
    t = S["throttle"]
    got = []
    for i in range(10):
        got.append(bad_login(t, "bob", "127.0.0.%d" % (50 + i), ("get", "post", "basic")[i % 3]).status)
    check(all(s in (401, 429) for s in got), "statuses %r" % got)
    r = get_token(t, basic("bob"), ["repository:bob/x:pull"], "127.0.0.70")
    expect_error(r, 429, "TOOMANYREQUESTS")
    r = t.as_(basic("bob"), "127.0.0.71").get("/v2/")
    expect_error(r, 429, "TOOMANYREQUESTS")
    expect_status(get_token(t, basic("alice"), ["repository:alice/x:pull"], "127.0.0.72"), 200)
    note("the lock-out lifts after 5 minutes; not waited for here")


@suite.case("throttling: a locked-out caller's existing bearer token keeps working")
def _(reg):
    t = S["throttle"]
    tok = token_for(t, "alice", "repository:alice/x:pull,push", src="127.0.0.73")
    r = t.as_(bearer(tok), "127.0.0.40").get("/v2/")
    expect_status(r, 200)


@suite.case("pull rate limit (anonymous 3): GET manifest 3x 200 with RateLimit headers, 4th 429; HEAD and blobs not counted")
def _(reg):
    x = start_extra("--anonymous-pull-rate-limit", "3", "--pull-rate-limit", "2",
                    "--default-visibility", "public")
    S["ratelimit"] = x
    x.add_user("alice")
    x.add_user("bob")
    img = small_image(x.as_(basic("alice")), "alice/pub", "v1")
    anon = x.as_(None, "127.0.0.80")
    for _ in range(5):
        expect_status(anon.get_manifest("alice/pub", "v1", method="HEAD"), 200)
        expect_status(anon.get("/v2/alice/pub/blobs/" + img.blobs[1][0]), 200)
    for i in range(3):
        r = anon.get_manifest("alice/pub", "v1")
        expect_status(r, 200)
        lim = expect_header(r, "RateLimit-Limit")
        rem = expect_header(r, "RateLimit-Remaining")
        check(lim.split(";")[0].strip() == "3", "RateLimit-Limit %r" % lim, r)
        check(rem.split(";")[0].strip() == str(2 - i), "RateLimit-Remaining %r after %d pulls" % (rem, i + 1), r)
    r = anon.get_manifest("alice/pub", "v1")
    expect_error(r, 429, "TOOMANYREQUESTS")
    check((expect_header(r, "RateLimit-Remaining")).split(";")[0].strip() == "0", "remaining", r)
    check(expect_header(r, "RateLimit-Limit").split(";")[0].strip() == "3", "limit", r)
    check(img.body not in r.body, "manifest served with the 429", r)
    # an anonymous token does not reset the count for that address
    tok = token_for(x, None, "repository:alice/pub:pull", src="127.0.0.80")
    expect_error(x.as_(bearer(tok), "127.0.0.80").get_manifest("alice/pub", "v1"), 429, "TOOMANYREQUESTS")
    # another address has its own allowance; HEAD still works when limited
    expect_status(x.as_(None, "127.0.0.81").get_manifest("alice/pub", "v1"), 200)
    expect_status(anon.get_manifest("alice/pub", "v1", method="HEAD"), 200)


@suite.case("pull rate limit per user (2): third GET 429, other user and anonymous count separately")
def _(reg):
    x = S["ratelimit"]
    a = x.as_(basic("alice"), "127.0.0.80")  # the address anonymous exhausted
    for i in range(2):
        r = a.get_manifest("alice/pub", "v1")
        expect_status(r, 200)
    r = a.get_manifest("alice/pub", "v1")
    expect_error(r, 429, "TOOMANYREQUESTS")
    expect_header(r, "RateLimit-Limit")
    # the same user from another address: still limited (per user)
    expect_error(x.as_(basic("alice"), "127.0.0.82").get_manifest("alice/pub", "v1"), 429, "TOOMANYREQUESTS")
    expect_status(x.as_(basic("bob"), "127.0.0.80").get_manifest("alice/pub", "v1"), 200)


# ---------------------------------------------------------------------------------------
# Per-repository grants (CLI and /api/v1)


@suite.case("repository grants: CLI grant read, API grant write, listing, revoke; mallory cannot grant")
def _(reg):
    alice, bob, mallory = reg.as_(basic("alice")), reg.as_(basic("bob")), reg.as_(basic("mallory"))
    img = alice.push_image("alice/granted", tag="v1")
    expect_error(bob.get("/v2/alice/granted/manifests/v1"), 403, "DENIED")
    reg.cli("repo", "grant", "alice/granted", "bob", "read")
    expect_status(bob.get("/v2/alice/granted/manifests/v1"), 200)
    expect_error(bob.request("POST", "/v2/alice/granted/blobs/uploads/"), 403, "DENIED")
    rc, _, err = reg.cli("repo", "grant", "alice/granted", "bob", "sudo", ok=False)
    check(rc != 0 and "permission" in err, "bad permission accepted: %r" % err)
    hdr = {"Content-Type": "application/json"}
    r = alice.request("PUT", "/api/v1/repositories/alice/granted/grants/bob", hdr, b'{"permission":"write"}')
    expect_status(r, 200)
    check(r.json().get("permission") == "write", "grant answer %r" % r.body, r)
    bob.push_image("alice/granted", tag="from-bob")
    r = alice.get("/api/v1/repositories/alice/granted/grants")
    expect_status(r, 200)
    check(r.json().get("grants") == [{"user": "bob", "permission": "write"}], "grants %r" % r.body, r)
    r = mallory.request("PUT", "/api/v1/repositories/alice/granted/grants/mallory", hdr, b'{"permission":"admin"}')
    expect_status(r, 404)
    expect_status(bob.request("PUT", "/api/v1/repositories/alice/granted/grants/mallory", hdr,
                              b'{"permission":"admin"}'), 403)
    expect_status(alice.request("DELETE", "/api/v1/repositories/alice/granted/grants/bob"), 204)
    expect_error(bob.get("/v2/alice/granted/manifests/v1"), 403, "DENIED")
    expect_status(alice.request("DELETE", "/api/v1/repositories/alice/granted/grants/bob"), 404)
    rc, out, _ = reg.cli("repo", "revoke", "alice/granted", "bob", ok=False)
    check(rc != 0, "revoking a missing grant succeeded: %r" % out)


# ---------------------------------------------------------------------------------------
# Real expiry (the token from the second server, kept since the start)


@suite.case("expired token (--token-ttl 1, 60 s leeway): refused after ~62 s on its own server")
def _(reg):
    b = S["b"]
    _, c, _ = jwt_split(S["b_token"])
    wait = c["exp"] + 62 - time.time()
    if wait > 0:
        note("waiting %.0f s for the token to expire" % wait)
        time.sleep(wait)
    r = b.as_(bearer(S["b_token"])).get("/v2/")
    expect_401(r)
    r = b.as_(bearer(S["b_token"])).request("POST", "/v2/alice/app/blobs/uploads/")
    expect_401(r)


@suite.case("stop the extra servers")
def _(reg):
    stop_extras()


if __name__ == "__main__":
    try:
        suite.main()
    finally:
        stop_extras()
