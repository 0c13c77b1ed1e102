#!/usr/bin/env python3
"""API base: GET /v2/, the API version header on every kind of response, the error body
shape, keep-alive, and odd or hostile bytes on the plain-HTTP port (TLS ClientHello,
garbage, huge headers) that must be answered or closed promptly without hurting the server."""

import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("base")


@suite.case("GET /v2/ -> 200 with Docker-Distribution-API-Version: registry/2.0")
def _(reg):
    r = reg.get("/v2/")
    expect_status(r, 200)
    expect_header(r, API_VERSION_HEADER, "registry/2.0")


@suite.case("GET /v2/ body is a JSON object")
def _(reg):
    r = reg.get("/v2/")
    expect_status(r, 200)
    try:
        doc = r.json()
    except ValueError:
        raise CheckFailed("body is not JSON", r)
    check(isinstance(doc, dict), "body is not a JSON object", r)


@suite.case("HEAD /v2/ -> 200, no body")
def _(reg):
    with reg.connect() as c:
        r = c.request("HEAD", "/v2/")
        expect_status(r, 200)
        expect_header(r, API_VERSION_HEADER, "registry/2.0")
        # A body after a HEAD response would be read as the next response's status line.
        r2 = c.request("GET", "/v2/")
        expect_status(r2, 200)


@suite.case("API version header on {0}",
            params=[("404 unknown blob", "GET", "/v2/%s/blobs/sha256:" + "0" * 64),
                    ("404 unknown manifest", "GET", "/v2/%s/manifests/nosuchtag"),
                    ("404 unknown tags repo", "GET", "/v2/%s/tags/list"),
                    ("404 unknown route", "GET", "/v2/%s/nosuchendpoint"),
                    ("404 path outside /v2/", "GET", "/api/nosuchpath"),
                    ("404 missing web UI asset", "GET", "/js/nosuchfile.js"),
                    ("400 invalid digest", "GET", "/v2/%s/blobs/sha256:" + "0" * 63),
                    ("404 HEAD unknown blob", "HEAD", "/v2/%s/blobs/sha256:" + "1" * 64),
                    ("400 bad upload finish", "PUT", "/v2/%s/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=bad"),
                    ("405 wrong method", "PUT", "/v2/%s/tags/list")])
def _(reg, label, method, path):
    p = path % reg.repo("nothere") if "%s" in path else path
    r = reg.request(method, p)
    check(r.status >= 400, "status %d, expected an error" % r.status, r)
    expect_header(r, API_VERSION_HEADER, "registry/2.0")


@suite.case("error body is {\"errors\":[{code,message,detail}]} with a JSON content type")
def _(reg):
    r = reg.get("/v2/%s/blobs/sha256:%s" % (reg.repo("x"), "0" * 64))
    expect_error(r, 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")
    ct = r.h("Content-Type") or ""
    check(ct.startswith("application/json"), "Content-Type %r, want application/json" % ct, r)
    e = r.json()["errors"][0]
    check(isinstance(e.get("message"), str) and e["message"], "no message", r)
    check(set(e) <= {"code", "message", "detail"}, "unexpected keys %s" % sorted(e), r)


@suite.case("keep-alive: several requests on one connection")
def _(reg):
    with reg.connect() as c:
        for i in range(5):
            r = c.request("GET", "/v2/")
            expect_status(r, 200)
        r = c.request("GET", "/v2/%s/tags/list" % reg.repo("nope"))
        expect_status(r, 404)
        r = c.request("GET", "/v2/")
        expect_status(r, 200)


@suite.case("keep-alive: connection usable after a 4xx with a body")
def _(reg):
    repo = reg.repo("ka")
    with reg.connect() as c:
        r = c.request("PUT", "/v2/%s/manifests/t" % repo, {"Content-Type": MT_OCI_MANIFEST},
                      b"{not json")
        expect_status(r, 400)
        r = c.request("GET", "/v2/")
        expect_status(r, 200)


@suite.case("pipelined requests are answered in order")
def _(reg):
    with reg.connect() as c:
        req = ("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /v2/%s/tags/list HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n" % reg.repo("pipe")).encode()
        c.sock.sendall(req)
        got = [c.read_response("GET", p).status for p in ("/v2/", "tags", "/v2/")]
        check(got == [200, 404, 200], "statuses %s, want [200, 404, 200]" % got)


@suite.case("HTTP/1.0 request is answered")
def _(reg):
    data, took, closed = reg.raw(b"GET /v2/ HTTP/1.0\r\n\r\n", timeout=5)
    check(data.startswith(b"HTTP/1.") and b" 200" in data.split(b"\r\n")[0],
          "response %r" % data[:200])
    check(closed, "server did not close an HTTP/1.0 connection without keep-alive")


@suite.case("TLS ClientHello on the plain-HTTP port is closed promptly (< 2 s)")
def _(reg):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection((reg.host, reg.port), timeout=5)
    t0 = time.time()
    outcome = "handshake succeeded?!"
    try:
        ss = ctx.wrap_socket(s, server_hostname="localhost")
        ss.close()
    except socket.timeout:
        outcome = "timed out after 5 s"
    except (ssl.SSLError, OSError) as e:
        outcome = "closed: %s" % e
    finally:
        s.close()
    took = time.time() - t0
    check(took < 2.0 and outcome.startswith("closed"),
          "TLS handshake attempt: %s after %.2f s" % (outcome, took))
    expect_status(reg.get("/v2/"), 200)


@suite.case("garbage request line -> 400 (or close) promptly, server still serves")
def _(reg):
    data, took, closed = reg.raw(b"\x16\x03\x01 \x00\xffGARBAGE\r\n\r\n", timeout=5)
    check(took < 2.0, "no answer and no close within %.1f s" % took)
    if data:
        check(data.startswith(b"HTTP/1.") and data.split(b" ")[1][:1] == b"4",
              "answer %r" % data[:100])
    expect_status(reg.get("/v2/"), 200)


@suite.case("request with a {0} header -> answered or closed promptly, server still serves",
            params=[("100 KiB", 100 * 1024, False), ("2 MiB", 2 << 20, True)])
def _(reg, label, size, must_reject):
    req = (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"a" * size
           + b"\r\n\r\n")
    try:
        data, took, _closed = reg.raw(req, timeout=5)
    except (BrokenPipeError, ConnectionResetError):
        data, took, _closed = b"", 0, True
    check(took < 4.0, "no answer and no close within %.1f s" % took)
    if data:
        status = data.split(b" ")[1][:3] if b" " in data else b"?"
        if must_reject:
            check(status[:1] == b"4", "status %r for a %s header, want 4xx (431)" % (status, label))
        else:
            check(status[:1] in (b"2", b"4"), "status %r for a %s header" % (status, label))
    expect_status(reg.get("/v2/"), 200)


@suite.case("client that connects and sends nothing does not block others")
def _(reg):
    idle = socket.create_connection((reg.host, reg.port), timeout=5)
    try:
        half = socket.create_connection((reg.host, reg.port), timeout=5)
        half.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        try:
            t0 = time.time()
            expect_status(reg.get("/v2/", timeout=5), 200)
            check(time.time() - t0 < 2, "GET /v2/ took %.1f s with idle clients" % (time.time() - t0))
        finally:
            half.close()
    finally:
        idle.close()


@suite.case("unknown path under /v2/ -> 404 with API version header")
def _(reg):
    r = reg.get("/v2/%s/notanendpoint/x" % reg.repo("r"))
    expect_status(r, 404)
    expect_header(r, API_VERSION_HEADER)


@suite.case("request with a body of chunks to /v2/ is drained, keep-alive continues")
def _(reg):
    with reg.connect() as c:
        r = c.request("GET", "/v2/", body=[b"abc", b"defg"], chunked=True)
        expect_status(r, 200)
        r = c.request("GET", "/v2/")
        expect_status(r, 200)


if __name__ == "__main__":
    suite.main()
