#!/usr/bin/env python3
"""Blob push client for the benchmark: the request body goes out with sendfile(2) from the
file, so the client spends almost nothing per byte and the time measured is the server's.

usage: blobclient.py push-mono URL REPO FILE DIGEST          POST, then one PUT ?digest= with the body
       blobclient.py push-chunked URL REPO FILE DIGEST CHUNK POST, PATCHes of CHUNK bytes
                                                             (Content-Range), PUT ?digest=
       blobclient.py pull URL REPO DIGEST [FIRST-LAST]       GET the blob (or that byte range);
                                                             the body is spliced from the socket
                                                             to /dev/null, never copied to memory
       blobclient.py delete URL REPO DIGEST                  DELETE the blob (404 is fine)
Prints one JSON object: {"bytes": N, "seconds": S, "requests": R} (pull adds "status").
"""
import json
import os
import socket
import sys
import time
import urllib.parse


class Conn:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.requests = 0

    def request(self, method, path, headers=None, body_file=None, offset=0, count=0):
        h = {"Host": f"{self.host}:{self.port}", "Content-Length": str(count)}
        h.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        self.sock.sendall(head.encode())
        if count:
            sent = 0
            while sent < count:
                n = self.sock.sendfile(body_file, offset + sent, count - sent)
                if not n:
                    raise SystemExit("blobclient: sendfile sent nothing")
                sent += n
        self.requests += 1
        return self.response(method)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise SystemExit("blobclient: connection closed by the server")
        self.buf += d

    def response(self, method):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = 0 if method == "HEAD" or status in (204, 304) else int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body


def location(hdrs):
    loc = hdrs["location"]
    if loc.startswith("http"):
        u = urllib.parse.urlsplit(loc)
        loc = u.path + ("?" + u.query if u.query else "")
    return loc


def check(what, got, want):
    status, _, body = got
    if status not in want:
        raise SystemExit(f"blobclient: {what}: HTTP {status}: {body[:300]!r}")
    return got


def push(url, repo, path, digest, chunk):
    size = os.path.getsize(path)
    c = Conn(url)
    with open(path, "rb") as f:
        t0 = time.perf_counter()
        _, h, _ = check("POST", c.request("POST", f"/v2/{repo}/blobs/uploads/"), (202,))
        loc = location(h)
        if chunk:
            off = 0
            while off < size:
                n = min(chunk, size - off)
                _, h, _ = check("PATCH", c.request("PATCH", loc, {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{off}-{off + n - 1}"}, f, off, n), (202,))
                loc = location(h)
                off += n
            body = 0
        else:
            body = size
        sep = "&" if "?" in loc else "?"
        check("PUT", c.request("PUT", f"{loc}{sep}digest={digest}",
                               {"Content-Type": "application/octet-stream"}, f, 0, body), (201,))
        dt = time.perf_counter() - t0
    print(json.dumps({"bytes": size, "seconds": dt, "requests": c.requests}))


def pull(url, repo, digest, byte_range):
    """GET the blob on one connection and splice(2) the body through a pipe into /dev/null:
    the client touches no byte of it, as the push side sends with sendfile, so the time is
    the server's and the kernel's. Redirects are not followed (neither server sends one here)."""
    c = Conn(url)
    h = {"Host": f"{c.host}:{c.port}"}
    if byte_range:
        h["Range"] = f"bytes={byte_range}"
    head = f"GET /v2/{repo}/blobs/{digest} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    t0 = time.perf_counter()
    c.sock.sendall(head.encode())
    while b"\r\n\r\n" not in c.buf:
        c._fill()
    raw, body = c.buf.split(b"\r\n\r\n", 1)
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if status not in ((206,) if byte_range else (200,)):
        raise SystemExit(f"blobclient: GET: HTTP {status}: {body[:300]!r}")
    if "content-length" not in hdrs:
        raise SystemExit("blobclient: GET: no Content-Length in the answer")
    want = int(hdrs["content-length"])
    got = len(body)
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        while got < want:
            n = os.splice(c.sock.fileno(), w, min(want - got, 1 << 20))
            if n == 0:
                raise SystemExit(f"blobclient: GET: connection closed after {got} of {want} bytes")
            got += n
            while n:
                n -= os.splice(r, null, n)
        dt = time.perf_counter() - t0
    finally:
        os.close(r)
        os.close(w)
        os.close(null)
    print(json.dumps({"bytes": want, "seconds": dt, "requests": 1, "status": status}))


def main(a):
    if a[:1] == ["push-mono"] and len(a) == 5:
        push(a[1], a[2], a[3], a[4], 0)
    elif a[:1] == ["push-chunked"] and len(a) == 6:
        push(a[1], a[2], a[3], a[4], int(a[5]))
    elif a[:1] == ["pull"] and len(a) in (4, 5):
        pull(a[1], a[2], a[3], a[4] if len(a) == 5 else None)
    elif a[:1] == ["delete"] and len(a) == 4:
        c = Conn(a[1])
        check("DELETE", c.request("DELETE", f"/v2/{a[2]}/blobs/{a[3]}"), (202, 404, 405))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
