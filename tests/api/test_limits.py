#!/usr/bin/env python3
"""Limits on hostile and broken clients: connections per client address (silent ones and
served ones), request headers too large, headers and bodies trickled in (slowloris), deep
JSON in API bodies and manifests. Each refused client must be refused promptly while a
client from another address (127.0.0.2, also loopback) is served meanwhile. Starts its own
berthd with small limits, so it skips with TEST_REGISTRY_URL."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ["BERTH_TEST_ARGS"] = (os.environ.get("BERTH_TEST_ARGS", "") +
                                 " --max-connections-per-address 6 --request-timeout 2 "
                                 "--body-min-rate 2000 --idle-timeout 4")
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("limits", needs_process=True)
PER_ADDRESS = 6
TIMEOUT = 2
IDLE = 4


def connect(reg, src="127.0.0.1"):
    s = socket.socket()
    s.bind((src, 0))
    s.connect((reg.host, reg.port))
    s.settimeout(5)
    return s


def get_v2(s):
    """Send GET /v2/ on a kept-alive connection and return the status line ('' if closed)."""
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        return ""
    return data.split(b"\r\n", 1)[0].decode(errors="replace") if data else ""


def closed_within(s, seconds):
    """True if the server ends the connection (EOF or reset) within `seconds`."""
    s.settimeout(seconds)
    t0 = time.time()
    try:
        while time.time() - t0 < seconds:
            if not s.recv(4096):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True
    return False


def other_address_served(reg):
    s = connect(reg, "127.0.0.2")
    try:
        st = get_v2(s)
        check(st.startswith("HTTP/1.1 200"), "a client from another address was not served: %r" % st)
    finally:
        s.close()


@suite.case("served connections past --max-connections-per-address are refused at once; other addresses are served")
def _(reg):
    held = [connect(reg) for _ in range(PER_ADDRESS)]
    try:
        for s in held:
            st = get_v2(s)
            check(st.startswith("HTTP/1.1 200"), "connection within the limit: %r" % st)
        extra = connect(reg)
        t0 = time.time()
        st = get_v2(extra)
        gone = st == "" or closed_within(extra, 2)
        check(gone and time.time() - t0 < 2, "connection %d from one address was served (%r)"
              % (PER_ADDRESS + 1, st))
        extra.close()
        other_address_served(reg)
        for s in held:
            check(get_v2(s).startswith("HTTP/1.1 200"), "held connections keep working")
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    s = connect(reg)
    check(get_v2(s).startswith("HTTP/1.1 200"), "once they close, the address is served again")
    s.close()


@suite.case("silent connections count against their address and are closed after --request-timeout")
def _(reg):
    silent = [connect(reg) for _ in range(PER_ADDRESS)]
    try:
        time.sleep(0.3)
        extra = connect(reg)
        check(get_v2(extra) == "", "a connection past the limit of silent ones was served")
        extra.close()
        other_address_served(reg)
        for s in silent:
            check(closed_within(s, TIMEOUT + 3), "a silent connection was kept past --request-timeout")
    finally:
        for s in silent:
            s.close()
    s = connect(reg)
    check(get_v2(s).startswith("HTTP/1.1 200"), "the address is served again")
    s.close()


@suite.case("request headers over the connection buffer: 431")
def _(reg):
    s = connect(reg)
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
        data = s.recv(200)
    except OSError as e:
        data = repr(e).encode()
    finally:
        s.close()
    check(data.startswith(b"HTTP/1.1 431"), "got %r" % data[:60])
    other_address_served(reg)


@suite.case("many small headers adding up over the buffer: 431")
def _(reg):
    s = connect(reg)
    hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(1000))
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
        data = s.recv(200)
    except OSError as e:
        data = repr(e).encode()
    finally:
        s.close()
    check(data.startswith(b"HTTP/1.1 431"), "got %r" % data[:60])


@suite.case("a request line trickled in is cut off")
def _(reg):
    s = connect(reg)
    t0 = time.time()
    try:
        # The first byte reaches the acceptor; the rest arrives a byte at a time.
        line = b"GET /v2/" + b"a" * 200 + b" HTTP/1.1\r\n"
        cut = False
        for i in range(len(line)):
            s.sendall(line[i:i + 1])
            time.sleep(0.2)
            if time.time() - t0 > IDLE + TIMEOUT + 5:
                break
    except OSError:
        cut = True
    finally:
        s.close()
    # A trickled request line is cut once --idle-timeout and --request-timeout have passed
    # (6 s here); this line would take 42 s at 0.2 s per byte.
    check(cut and time.time() - t0 < IDLE + TIMEOUT + 3, "a request line trickled for %.0f s was not cut off" % (time.time() - t0))


@suite.case("headers trickled in (slowloris) are cut off after --request-timeout; others are served meanwhile")
def _(reg):
    s = connect(reg)
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    cut = False
    served = False
    try:
        while time.time() - t0 < TIMEOUT + 6:
            s.sendall(b"X-Slow: 1\r\n")
            if not served and time.time() - t0 > 0.5:
                other_address_served(reg)
                served = True
            time.sleep(0.3)
    except OSError:
        cut = True
    finally:
        s.close()
    took = time.time() - t0
    check(cut and took < TIMEOUT + 4, "trickled headers kept the connection for %.1f s" % took)


@suite.case("a body trickled in below --body-min-rate is cut off; its upload is not committed")
def _(reg):
    repo = reg.repo("limits/slowbody")
    r = reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
    expect_status(r, 202)
    loc = loc_path(r.h("Location"))
    s = connect(reg)
    s.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
               "Content-Length: 100000\r\n\r\n" % loc).encode())
    t0 = time.time()
    cut = False
    try:
        while time.time() - t0 < 3 * TIMEOUT + 6:
            s.sendall(b"x" * 10)
            time.sleep(0.2)
    except OSError:
        cut = True
    finally:
        s.close()
    took = time.time() - t0
    check(cut and took < 2 * TIMEOUT + 4, "a body at 50 B/s kept the connection for %.1f s" % took)
    time.sleep(0.3)
    r = reg.request("GET", loc)
    expect_status(r, 204)
    check(r.h("Range") == "0-0", "the cut-off chunk was kept: Range %r" % r.h("Range"), r)


@suite.case("a body sent slowly but above --body-min-rate completes")
def _(reg):
    repo = reg.repo("limits/steady")
    data = rand_bytes(4 * 1024 * 8)
    r = reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
    expect_status(r, 202)
    loc = loc_path(r.h("Location"))
    s = connect(reg)
    try:
        s.sendall(("PUT %s?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %d\r\n\r\n" % (loc, sha256(data), len(data))).encode())
        # 4 KiB every 0.5 s (8 KiB/s, over the 2000 B/s minimum) for 4 s: two guard windows.
        for i in range(0, len(data), 4096):
            s.sendall(data[i:i + 4096])
            time.sleep(0.5)
        s.settimeout(5)
        status = s.recv(100).split(b"\r\n", 1)[0]
    finally:
        s.close()
    check(status.startswith(b"HTTP/1.1 201"), "got %r" % status)
    r = reg.get("/v2/%s/blobs/%s" % (repo, sha256(data)))
    expect_status(r, 200)
    check(r.body == data, "blob content differs")


@suite.case("manifest nested deeper than the limit: 400 MANIFEST_INVALID, nothing stored")
def _(reg):
    repo = reg.repo("limits/deep")
    body = b'{"schemaVersion":2,"mediaType":"%s","x":' % MT_OCI_MANIFEST.encode() + b"[" * 100000 + \
        b"]" * 100000 + b"}"
    r = reg.request("PUT", "/v2/%s/manifests/deep" % repo, headers={"Content-Type": MT_OCI_MANIFEST},
                    body=body)
    expect_error(r, 400, "MANIFEST_INVALID")
    expect_status(reg.get("/v2/%s/manifests/deep" % repo), 404)


@suite.case("manifest over 4 MiB: 413 with MANIFEST_INVALID or SIZE_INVALID, nothing stored")
def _(reg):
    repo = reg.repo("limits/huge")
    body = b'{"schemaVersion":2,"pad":"' + b"a" * (4 * 1024 * 1024 + 10) + b'"}'
    r = reg.request("PUT", "/v2/%s/manifests/huge" % repo, headers={"Content-Type": MT_OCI_MANIFEST},
                    body=body)
    check(r.status == 413, "status %d" % r.status, r)
    check(set(r.error_codes()) & {"MANIFEST_INVALID", "SIZE_INVALID"}, "codes %r" % r.error_codes(), r)
    expect_status(reg.get("/v2/%s/manifests/huge" % repo), 404)


@suite.case("JSON API body nested 10000 deep: a 400 error, the server stays up")
def _(reg):
    body = b'{"username":' + b"[" * 10000 + b"]" * 10000 + b"}"
    r = reg.request("POST", "/api/v1/session", headers={"Content-Type": "application/json"}, body=body)
    # With --auth none the session endpoint is absent (404); the depth check comes first.
    check(r.status == 400 and b"nested deeper" in r.body, "status %d" % r.status, r)
    expect_status(reg.get("/v2/"), 200)


@suite.case("tag and catalog pages: n above the maximum is clamped, a bad n is 400")
def _(reg):
    repo = reg.repo("limits/pages")
    reg.push_image(repo, "t1")
    r = reg.get("/v2/_catalog?n=100000000")
    expect_status(r, 200)
    r = reg.get("/v2/%s/tags/list?n=100000000" % repo)
    expect_status(r, 200)
    check(r.json()["tags"] == ["t1"], "tags %r" % r.json())
    for bad in ("-1", "x", "99999999999999999999999"):
        r = reg.get("/v2/_catalog?n=" + bad)
        check(r.status == 400, "n=%s gave %d" % (bad, r.status), r)


@suite.case("referrers come in pages of n (at most 1000) with a Link to the next; bad n or last: 400")
def _(reg):
    repo = reg.repo("limits/refs")
    base = reg.push_image(repo, "base")
    want = set()
    for i in range(5):
        art = reg.push_image(repo, None, kind="artifact", subject=base.desc(),
                             annotations={"n": str(i)})
        want.add(art.digest)
    path = "/v2/%s/referrers/%s?n=2" % (repo, base.digest)
    got, pages = [], 0
    while path and pages < 10:
        r = reg.get(path)
        expect_status(r, 200)
        got += [m["digest"] for m in r.json()["manifests"]]
        check(len(r.json()["manifests"]) <= 2, "page of %d" % len(r.json()["manifests"]), r)
        pages += 1
        path = link_next(r)
    check(pages == 3 and sorted(got) == sorted(want) and len(got) == 5,
          "%d pages, %d referrers (want 3 pages of the 5)" % (pages, len(got)))
    r = reg.get("/v2/%s/referrers/%s?n=100000" % (repo, base.digest))
    expect_status(r, 200)
    check(len(r.json()["manifests"]) == 5 and not r.h("Link"), "n above the maximum", r)
    r = reg.get("/v2/%s/referrers/%s?n=0" % (repo, base.digest))
    check(r.status == 200 and r.json()["manifests"] == [] and not r.h("Link"), "n=0", r)
    r = reg.get("/v2/%s/referrers/%s?n=2&artifactType=application%%2Fvnd.example.test" % (repo, base.digest))
    nxt = link_next(r)
    check(nxt and "artifactType=application%2Fvnd.example.test" in nxt, "filter kept in Link: %r" % nxt, r)
    r = reg.get(nxt)
    expect_status(r, 200)
    check(r.h("OCI-Filters-Applied") == "artifactType", "next page keeps the filter", r)
    for bad in ("n=-1", "n=x", "last=notadigest", "last=sha256:zz"):
        r = reg.get("/v2/%s/referrers/%s?%s" % (repo, base.digest, bad))
        check(r.status == 400, "%s gave %d" % (bad, r.status), r)


if __name__ == "__main__":
    suite.main()
