#!/usr/bin/env python3
"""What /api/v1 adds for the web UI, against berthd --auth token: the manifest detail
endpoint (image: config, layers with their history step, total size; index: platforms and
their sizes; annotations, referrers, raw manifest), tag platforms and last-pulled times in
the tag list, the Markdown overview rendered safely (full_description_html), every bad
input and permission check, and the web UI's own files at / (types, ETags, security
headers, page fallback)."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ["BERTH_TEST_AUTH"] = "token"
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("api_v1_web")
PW = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-1"}
S = {}


ACCOUNTS = Accounts(PW)
doc = json_doc


def call(reg, method, path, user=None, body=None):
    return ACCOUNTS.api(reg, user, method, path, body)


def push_blob_as(reg, user, repo, data):
    ACCOUNTS.as_user(reg, user)
    try:
        return reg.push_blob(repo, data)
    finally:
        ACCOUNTS.as_user(reg, None)


def put_manifest_as(reg, user, repo, ref, body, mt):
    ACCOUNTS.as_user(reg, user)
    try:
        return reg.push_manifest(repo, ref, body, mt)
    finally:
        ACCOUNTS.as_user(reg, None)


def push_configured_image(reg, repo, tag, arch="amd64", nlayers=2, annotations=None):
    """An image whose config has runtime settings and a history with an empty step between
    its layers. Returns (digest, manifest bytes, layer descriptors, config size)."""
    layers = [rand_bytes(300 + 100 * i) for i in range(nlayers)]
    history = []
    for i in range(nlayers):
        history.append({"created": "2024-01-01T00:00:00Z", "created_by": "RUN step %d" % (i + 1)})
        history.append({"created": "2024-01-01T00:00:00Z", "created_by": "ENV X=%d" % i, "empty_layer": True})
    config = {"architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"Entrypoint": ["/entry"], "Cmd": ["serve", "--port", "80"], "Env": ["PATH=/bin", "A=b"],
                         "WorkingDir": "/srv", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}},
                         "Labels": {"org.opencontainers.image.title": "<b>demo</b>"}},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": history}
    cfg = json.dumps(config).encode()
    push_blob_as(reg, "alice", repo, cfg)
    for d in layers:
        push_blob_as(reg, "alice", repo, d)
    descs = [descriptor(MT_OCI_LAYER, d) for d in layers]
    body = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), descs, annotations=annotations))
    put_manifest_as(reg, "alice", repo, tag, body, MT_OCI_MANIFEST)
    return sha256(body), body, descs, len(cfg)


@suite.case("set-up: accounts admin, alice, bob; alice pushes an image, an index and a signature")
def _(reg):
    ACCOUNTS.add(reg)
    S["img"] = push_configured_image(reg, "alice/web", "v1", annotations={"org.example.note": "hi <there>"})
    S["arm"] = push_configured_image(reg, "alice/web", "arm-only", arch="arm64", nlayers=1)
    amd_d, amd_body = S["img"][0], S["img"][1]
    arm_d, arm_body = S["arm"][0], S["arm"][1]
    att = {"mediaType": MT_OCI_MANIFEST, "digest": arm_d, "size": len(arm_body),
           "platform": {"os": "unknown", "architecture": "unknown"}}
    idx = canon(index([
        {"mediaType": MT_OCI_MANIFEST, "digest": amd_d, "size": len(amd_body), "platform": platform("amd64")},
        {"mediaType": MT_OCI_MANIFEST, "digest": arm_d, "size": len(arm_body),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        att]))
    put_manifest_as(reg, "alice", "alice/web", "multi", idx, MT_OCI_INDEX)
    S["idx"] = (sha256(idx), idx)
    sig_layer = b"signature bytes"
    push_blob_as(reg, "alice", "alice/web", EMPTY_CONFIG_DATA)
    push_blob_as(reg, "alice", "alice/web", sig_layer)
    sig = canon(oci_manifest(descriptor(MT_OCI_EMPTY, EMPTY_CONFIG_DATA), [descriptor("application/vnd.example.sig", sig_layer)],
                             subject={"mediaType": MT_OCI_MANIFEST, "digest": amd_d, "size": len(amd_body)},
                             artifact_type="application/vnd.example.signature",
                             annotations={"org.opencontainers.image.created": "2024-02-02T00:00:00Z"}))
    put_manifest_as(reg, "alice", "alice/web", sha256(sig), sig, MT_OCI_MANIFEST)
    S["sig"] = sha256(sig)


@suite.case("GET manifests/{tag} of an image: config settings, layers with their history step, total size")
def _(reg):
    d = doc(call(reg, "GET", "/repositories/alice/web/manifests/v1", "alice"))
    digest, body, descs, cfg_size = S["img"]
    check(d["digest"] == digest and d["kind"] == "image" and d["media_type"] == MT_OCI_MANIFEST, "head %r" % d)
    check(d["size"] == len(body) and d["manifest"] == json.loads(body), "size and raw manifest")
    c = d["config"]
    check(c["os"] == "linux" and c["architecture"] == "amd64", "platform %r" % c)
    check(c["entrypoint"] == ["/entry"] and c["cmd"] == ["serve", "--port", "80"], "entrypoint/cmd %r" % c)
    check(c["env"] == ["PATH=/bin", "A=b"] and c["working_dir"] == "/srv" and c["user"] == "1000:1000", "env %r" % c)
    check(c["exposed_ports"] == ["80/tcp"], "ports %r" % c["exposed_ports"])
    check(c["labels"] == {"org.opencontainers.image.title": "<b>demo</b>"}, "labels %r" % c["labels"])
    check([x["created_by"] for x in d["layers"]] == ["RUN step 1", "RUN step 2"],
          "layers matched to non-empty history steps: %r" % d["layers"])
    check([x["size"] for x in d["layers"]] == [x["size"] for x in descs], "layer sizes")
    check(len(d["history"]) == 4 and d["history"][1]["empty_layer"] is True, "history %r" % d["history"])
    check(d["total_size"] == cfg_size + sum(x["size"] for x in descs), "total_size %r" % d["total_size"])
    check(d["annotations"] == {"org.example.note": "hi <there>"}, "annotations %r" % d["annotations"])
    check(d["config_missing"] is None, "config_missing %r" % d["config_missing"])


@suite.case("GET manifests/{digest}: the same by digest; referrers list the signature")
def _(reg):
    digest = S["img"][0]
    d = doc(call(reg, "GET", "/repositories/alice/web/manifests/" + digest, "alice"))
    check(d["digest"] == digest and d["reference"] == digest, "digest %r" % d["digest"])
    refs = d["referrers"]
    check(len(refs) == 1 and refs[0]["digest"] == S["sig"], "referrers %r" % refs)
    check(refs[0]["artifact_type"] == "application/vnd.example.signature", "artifact_type %r" % refs[0])
    check(refs[0]["annotations"]["org.opencontainers.image.created"] == "2024-02-02T00:00:00Z", "annotations")
    s = doc(call(reg, "GET", "/repositories/alice/web/manifests/" + S["sig"], "alice"))
    check(s["subject"] == digest and s["artifact_type"] == "application/vnd.example.signature", "subject %r" % s)
    check(s["config"] is None and "empty" in s["config_missing"], "artifact config %r" % s["config_missing"])


@suite.case("GET manifests/{tag} of an index: each platform with its compressed size; attestations marked")
def _(reg):
    d = doc(call(reg, "GET", "/repositories/alice/web/manifests/multi", "alice"))
    check(d["kind"] == "index" and d["digest"] == S["idx"][0], "kind %r" % d["kind"])
    m = d["manifests"]
    check(len(m) == 3, "children %r" % m)
    check(m[0]["platform"] == {"os": "linux", "architecture": "amd64", "variant": None}, "platform %r" % m[0])
    check(m[1]["platform"]["variant"] == "v8" and m[2]["attestation"] is True and m[0]["attestation"] is False,
          "variant and attestation %r" % m)
    amd = doc(call(reg, "GET", "/repositories/alice/web/manifests/v1", "alice"))
    check(m[0]["compressed_size"] == amd["total_size"], "child size %r vs %r" % (m[0]["compressed_size"], amd["total_size"]))
    check("layers" not in d and "config" not in d, "index has no layers/config")


@suite.case("tag list: platforms per tag (index without attestations, image from its config)")
def _(reg):
    tags = {t["name"]: t for t in doc(call(reg, "GET", "/repositories/alice/web/tags", "alice"))["tags"]}
    check(tags["v1"]["platforms"] == ["linux/amd64"], "v1 %r" % tags["v1"])
    check(tags["arm-only"]["platforms"] == ["linux/arm64"], "arm-only %r" % tags["arm-only"])
    check(tags["multi"]["platforms"] == ["linux/amd64", "linux/arm64/v8"], "multi %r" % tags["multi"])
    check(all(t["last_pulled_at"] is None for t in tags.values()), "last_pulled_at before any pull %r" % tags)


@suite.case("tag list: last_pulled_at is set by a manifest GET (not HEAD), per manifest, within seconds")
def _(reg):
    auth = ACCOUNTS.basic("alice")
    expect_status(reg.request("HEAD", "/v2/alice/web/manifests/arm-only", {"Authorization": auth}), 200)
    before = int(time.time())
    expect_status(reg.request("GET", "/v2/alice/web/manifests/v1", {"Authorization": auth,
                                                                         "Accept": MT_OCI_MANIFEST}), 200)
    tags = {}
    for _ in range(40):
        tags = {t["name"]: t for t in doc(call(reg, "GET", "/repositories/alice/web/tags", "alice"))["tags"]}
        if tags["v1"]["last_pulled_at"]:
            break
        time.sleep(0.25)
    check(tags["v1"]["last_pulled_at"] and tags["v1"]["last_pulled_at"] >= before - 1, "v1 %r" % tags["v1"])
    check(tags["arm-only"]["last_pulled_at"] is None, "HEAD counted as a pull: %r" % tags["arm-only"])
    reg.restart()
    tags = {t["name"]: t for t in doc(call(reg, "GET", "/repositories/alice/web/tags", "alice"))["tags"]}
    check(tags["v1"]["last_pulled_at"] and tags["v1"]["last_pulled_at"] >= before - 1, "after a restart %r" % tags["v1"])


@suite.case("manifests/{reference}: bad input and permissions (400, 404, 405; private repositories hidden)")
def _(reg):
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/nope", "alice"), 404, "MANIFEST_UNKNOWN")
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/sha256:" + "0" * 64, "alice"), 404,
                 "MANIFEST_UNKNOWN")
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/sha256:abc", "alice"), 400, "DIGEST_INVALID")
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/-bad", "alice"), 400, "TAG_INVALID")
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/" + "a" * 200, "alice"), 400, "TAG_INVALID")
    expect_error(call(reg, "GET", "/repositories/Alice/web/manifests/v1", "alice"), 400, "NAME_INVALID")
    expect_error(call(reg, "GET", "/repositories/alice/none/manifests/v1", "alice"), 404, "NAME_UNKNOWN")
    expect_error(call(reg, "DELETE", "/repositories/alice/web/manifests/v1", "alice"), 405, "UNSUPPORTED")
    # private (the default): bob and anonymous callers see nothing, as if it did not exist
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/v1", "bob"), 404, "NAME_UNKNOWN")
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/v1"), 404, "NAME_UNKNOWN")
    expect_error(call(reg, "GET", "/repositories/alice/web/tags", "bob"), 404, "NAME_UNKNOWN")
    doc(call(reg, "GET", "/repositories/alice/web/manifests/v1", "admin"))
    doc(call(reg, "PATCH", "/repositories/alice/web", "alice", {"visibility": "public"}))
    d = doc(call(reg, "GET", "/repositories/alice/web/manifests/v1"))
    check(d["digest"] == S["img"][0], "anonymous read of a public repository")
    doc(call(reg, "PATCH", "/repositories/alice/web", "alice", {"visibility": "private"}))
    expect_error(call(reg, "GET", "/repositories/alice/web/manifests/v1"), 404, "NAME_UNKNOWN")


@suite.case("a config blob that is not JSON is reported, not fatal")
def _(reg):
    cfg = b"this is not json"
    layer = rand_bytes(100)
    push_blob_as(reg, "alice", "alice/odd", cfg)
    push_blob_as(reg, "alice", "alice/odd", layer)
    body = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, layer)]))
    put_manifest_as(reg, "alice", "alice/odd", "v1", body, MT_OCI_MANIFEST)
    d = doc(call(reg, "GET", "/repositories/alice/odd/manifests/v1", "alice"))
    check(d["config"] is None and "not a JSON object" in d["config_missing"], "config_missing %r" % d)
    check(len(d["layers"]) == 1 and d["layers"][0]["created_by"] is None, "layers %r" % d["layers"])
    t = doc(call(reg, "GET", "/repositories/alice/odd/tags", "alice"))["tags"][0]
    check(t["platforms"] == [], "platforms of an unreadable config %r" % t)


@suite.case("config fields of the wrong JSON type come back as null (or without the wrong elements)")
def _(reg):
    config = {"os": 7, "architecture": ["x"], "config": {"Cmd": "not-an-array", "Env": [1, "A=b", None],
                                                          "Entrypoint": {"x": 1}, "User": 1000,
                                                          "Labels": {"good": "yes", "bad": 1, "worse": {"a": 1}},
                                                          "ExposedPorts": ["80/tcp"]},
              "history": [{"created_by": 42}, "not an object"]}
    cfg = json.dumps(config).encode()
    layers = [rand_bytes(50), rand_bytes(60)]
    push_blob_as(reg, "alice", "alice/types", cfg)
    for d in layers:
        push_blob_as(reg, "alice", "alice/types", d)
    body = canon(oci_manifest(descriptor(MT_OCI_CONFIG, cfg), [descriptor(MT_OCI_LAYER, d) for d in layers]))
    put_manifest_as(reg, "alice", "alice/types", "v1", body, MT_OCI_MANIFEST)
    d = doc(call(reg, "GET", "/repositories/alice/types/manifests/v1", "alice"))
    c = d["config"]
    check(c["os"] is None and c["architecture"] is None and c["cmd"] is None and c["entrypoint"] is None, "%r" % c)
    check(c["user"] is None and c["env"] == ["A=b"] and c["labels"] == {"good": "yes"}, "%r" % c)
    check(c["exposed_ports"] == [], "exposed_ports %r" % c["exposed_ports"])
    check([x["created_by"] for x in d["layers"]] == [None, None], "layers %r" % d["layers"])
    check(len(d["history"]) == 2 and d["history"][1]["created_by"] is None, "history %r" % d["history"])
    t = doc(call(reg, "GET", "/repositories/alice/types/tags", "alice"))["tags"][0]
    check(t["platforms"] == [], "platforms without a string os %r" % t)


@suite.case("full_description_html: GitHub-flavoured Markdown, raw HTML and unsafe links removed")
def _(reg):
    md = ("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n\n~~old~~ https://example.org\n\n"
          "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))\n\n"
          "[y](data:text/html;base64,AAAA)\n")
    d = doc(call(reg, "PATCH", "/repositories/alice/web", "alice", {"full_description": md}))
    check(d["full_description"] == md, "stored as written")
    html = d["full_description_html"]
    for want in ("<h1>Title</h1>", "<table>", "checked", "<del>old</del>", '<a href="https://example.org">'):
        check(want in html, "%s missing from %r" % (want, html))
    for bad in ("<script", "onerror", "javascript:", "data:", "<img"):
        check(bad not in html, "%s in %r" % (bad, html))
    g = doc(call(reg, "GET", "/repositories/alice/web", "alice"))
    check(g["full_description_html"] == html, "GET renders the same")
    empty = doc(call(reg, "PATCH", "/repositories/alice/web", "alice", {"full_description": ""}))
    check(empty["full_description_html"] == "", "empty overview %r" % empty["full_description_html"])
    listed = doc(call(reg, "GET", "/repositories?namespace=alice", "alice"))["repositories"]
    check(all("full_description_html" not in r for r in listed), "listings carry no rendered overview")


@suite.case("web UI files: types, ETag and 304, security headers, page fallback, 404 and 405")
def _(reg):
    r = reg.request("GET", "/")
    expect_status(r, 200)
    check(r.h("Content-Type") == "text/html; charset=utf-8", "type %r" % r.h("Content-Type"))
    csp = r.h("Content-Security-Policy") or ""
    for want in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                 "base-uri 'none'"):
        check(want in csp, "CSP lacks %s: %r" % (want, csp))
    check("unsafe" not in csp, "CSP allows unsafe: %r" % csp)
    check(r.h("X-Content-Type-Options") == "nosniff" and r.h("X-Frame-Options") == "DENY", "headers", r)
    check(r.h("Referrer-Policy") == "same-origin", "Referrer-Policy %r" % r.h("Referrer-Policy"))
    for path, ctype in (("/app.css", "text/css; charset=utf-8"), ("/js/main.js", "text/javascript; charset=utf-8"),
                        ("/favicon.svg", "image/svg+xml")):
        a = reg.request("GET", path)
        expect_status(a, 200)
        check(a.h("Content-Type") == ctype, "%s type %r" % (path, a.h("Content-Type")))
        etag = a.h("ETag")
        check(etag and etag.startswith('"') and a.h("Cache-Control") == "no-cache", "%s caching" % path, a)
        expect_status(reg.request("GET", path, {"If-None-Match": etag}), 304)
        expect_status(reg.request("GET", path, {"If-None-Match": '"other"'}), 200)
    for page in ("/r/alice/web", "/r/alice/web/-/tags/v1", "/u/alice", "/account", "/signin?next=/admin",
                 "/r/some.name/with.dots"):
        p = reg.request("GET", page)
        expect_status(p, 200)
        check(p.body == r.body, "%s is not index.html" % page)
    h = reg.request("HEAD", "/js/main.js")
    expect_status(h, 200)
    check(h.body == b"", "HEAD has a body")
    for missing in ("/js/nope.js", "/nope.css", "/favicon.ico"):
        m = reg.request("GET", missing)
        expect_status(m, 404)
        check(m.h("Content-Security-Policy") == csp, "404 lacks the CSP")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        x = reg.request(method, "/", {"Content-Type": "text/plain"}, b"x")
        expect_status(x, 405)
        check(x.h("Allow") == "GET, HEAD", "Allow %r" % x.h("Allow"))
    expect_error(reg.request("GET", "/api/nope"), 404, "NOT_FOUND")


@suite.case("under TLS the session cookie is Secure, and the UI is served with its headers")
def _(reg):
    import http.client
    import shutil
    import ssl
    import tempfile
    tmp = tempfile.mkdtemp(prefix="berth-web-tls.")
    proc = None
    try:
        cert, key, data = (os.path.join(tmp, x) for x in ("cert.pem", "key.pem", "data"))
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "1", "-subj", "/CN=127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        check(p.returncode == 0, "openssl: %s" % p.stdout.decode())
        p = subprocess.run([reg.binary(), "user", "add", "alice", "--password-stdin", *data_args(data)],
                           input=(PW["alice"] + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        check(p.returncode == 0, "berthd user add: %s" % p.stdout.decode())
        port = free_port()
        proc = subprocess.Popen([reg.binary(), "--listen", "127.0.0.1:%d" % port, *data_args(data), "--auth", "token",
                                 "--tls-cert", cert, "--tls-key", key, "--log-level", "warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def tls(method, path, body=None, headers=None):
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                return r.status, r.getheader("Set-Cookie"), r.getheader("Content-Security-Policy"), r.read()
            finally:
                c.close()
        deadline = time.time() + 10
        while True:
            try:
                tls("GET", "/v2/")
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise CheckFailed("berthd with TLS did not start")
                time.sleep(0.1)
        status, cookie, _, _ = tls("POST", "/api/v1/session", json.dumps({"username": "alice", "password": PW["alice"]}),
                                   {"Content-Type": "application/json"})
        check(status == 200, "sign-in over TLS: %d" % status)
        attrs = [a.strip().lower() for a in (cookie or "").split(";")]
        for want in ("secure", "httponly", "samesite=strict"):
            check(want in attrs, "cookie lacks %s: %r" % (want, cookie))
        status, _, csp, body = tls("GET", "/r/alice/app")
        check(status == 200 and b"/js/main.js" in body and "frame-ancestors 'none'" in (csp or ""), "UI over TLS")
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    suite.main()
