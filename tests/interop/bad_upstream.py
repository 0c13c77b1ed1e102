#!/usr/bin/env python3
"""A small v2 registry that misbehaves on request, as the upstream of berthd's pull-through
cache in tests/interop/test_mirror.sh. Python stdlib only; 127.0.0.1 only.

Every repository holds the same image: tag v1, an OCI manifest with one config blob and one
small layer. Besides it, one big blob (--big-mb MiB of deterministic bytes, generated as it
is sent, never held whole) can be fetched by digest from any repository.

POST /_mode/MODE switches what it does:
  good       serve everything correctly (the start mode)
  corrupt    the small layer's bytes do not match its digest (one byte flipped)
  ratelimit  manifest requests answer 429 TOOMANYREQUESTS
  slow       manifest requests hang for 30 s before answering
GET /_count/DIGEST  how many GETs of that blob it has answered (any status).
GET /_info          the digests: {"manifest", "config", "layer", "big", "big_size"}.

usage: bad_upstream.py PORT_FILE [--big-mb N] [--rate-mb N]
The port it listens on (chosen by the kernel) is written to PORT_FILE once it is ready.
"""
import hashlib
import http.server
import json
import sys
import threading
import time

CHUNK = 1 << 20


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Upstream:
    def __init__(self, big_mb, rate_mb):
        self.mode = "good"
        self.lock = threading.Lock()
        self.counts = {}
        self.rate = rate_mb * CHUNK if rate_mb > 0 else 0
        self.layer = b"berth mirror test layer\n" * 4096
        self.config = json.dumps({"architecture": "amd64", "os": "linux",
                                  "rootfs": {"type": "layers", "diff_ids": [sha(self.layer)]},
                                  "config": {"Cmd": ["/bin/sh"]}}).encode()
        self.manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(self.config), "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": sha(self.layer), "size": len(self.layer)}],
        }).encode()
        # The big blob: a 1 MiB block of pseudo-random bytes, each copy salted with its index.
        self.block = b"".join(hashlib.sha256(b"berth-big-%d" % i).digest() for i in range(CHUNK // 32))
        self.big_chunks = big_mb
        h = hashlib.sha256()
        for i in range(self.big_chunks):
            h.update(self.big_chunk(i))
        self.big = "sha256:" + h.hexdigest()

    def big_chunk(self, i):
        salt = i.to_bytes(8, "big")
        return salt + self.block[8:]

    def count(self, digest):
        with self.lock:
            self.counts[digest] = self.counts.get(digest, 0) + 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    up = None

    def log_message(self, fmt, *args):
        sys.stderr.write("bad_upstream: " + (fmt % args) + "\n")

    def reply(self, status, body=b"", ctype="application/json", headers=None, head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, status, code, message, head=False):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.reply(status, body, head=head)

    def do_POST(self):
        up = self.up
        if self.path.startswith("/_mode/"):
            mode = self.path[len("/_mode/"):]
            if mode not in ("good", "corrupt", "ratelimit", "slow"):
                return self.error(400, "UNSUPPORTED", "unknown mode")
            up.mode = mode
            return self.reply(200, b"{}")
        self.error(404, "UNSUPPORTED", "not here")

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    def route(self, head):
        up = self.up
        path = self.path.split("?", 1)[0]
        if path == "/_info":
            return self.reply(200, json.dumps({
                "manifest": sha(up.manifest), "config": sha(up.config), "layer": sha(up.layer),
                "big": up.big, "big_size": up.big_chunks * CHUNK}).encode())
        if path.startswith("/_count/"):
            d = path[len("/_count/"):]
            with up.lock:
                n = up.counts.get(d, 0)
            return self.reply(200, str(n).encode(), "text/plain")
        if path in ("/v2", "/v2/"):
            return self.reply(200, b"{}", head=head)
        if "/manifests/" in path:
            ref = path.rsplit("/manifests/", 1)[1]
            if up.mode == "ratelimit":
                return self.error(429, "TOOMANYREQUESTS", "slow down", head=head)
            if up.mode == "slow":
                time.sleep(30)
            if ref not in ("v1", sha(up.manifest)):
                return self.error(404, "MANIFEST_UNKNOWN", "no such manifest", head=head)
            return self.reply(200, up.manifest, "application/vnd.oci.image.manifest.v1+json",
                              {"Docker-Content-Digest": sha(up.manifest)}, head=head)
        if "/blobs/" in path:
            d = path.rsplit("/blobs/", 1)[1]
            if not head:
                up.count(d)
            if d == up.big:
                return self.send_big(head)
            blobs = {sha(up.config): up.config, sha(up.layer): up.layer}
            if d not in blobs:
                return self.error(404, "BLOB_UNKNOWN", "no such blob", head=head)
            body = blobs[d]
            if up.mode == "corrupt" and d == sha(up.layer):
                body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
            return self.reply(200, body, "application/octet-stream", {"Docker-Content-Digest": d}, head=head)
        self.error(404, "NAME_UNKNOWN", "not here", head=head)

    def send_big(self, head):
        up = self.up
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(up.big_chunks * CHUNK))
        self.send_header("Docker-Content-Digest", up.big)
        self.end_headers()
        if head:
            return
        start = time.monotonic()
        for i in range(up.big_chunks):
            self.wfile.write(up.big_chunk(i))
            if up.rate:
                ahead = (i + 1) * CHUNK / up.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    port_file = args[0]
    big_mb, rate_mb = 8, 0
    i = 1
    while i < len(args):
        if args[i] == "--big-mb":
            big_mb = int(args[i + 1])
        elif args[i] == "--rate-mb":
            rate_mb = int(args[i + 1])
        else:
            sys.exit("bad_upstream.py: unknown argument " + args[i])
        i += 2
    Handler.up = Upstream(big_mb, rate_mb)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
