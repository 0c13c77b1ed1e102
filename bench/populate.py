#!/usr/bin/env python3
"""Pushes the benchmark's data set into a registry through the HTTP API, fast: a pool of
threads, each with its own keep-alive connection. Standard library only.

usage: populate.py URL base                      blobs + one small image (bench/base:latest)
       populate.py URL repos FROM TO [PREFIX]    repositories PREFIX%06d (default repos/r),
                                                 each with the small image as :latest
       populate.py URL tags REPO FROM TO         tags t%06d in REPO, all on the small image
       populate.py URL manifest-digest           prints the small image's manifest digest
Options (before URL): --threads N (default 16).
Repositories get their blobs by cross-repository mount, so each costs two requests.
Exits non-zero on the first unexpected status.
"""
import hashlib
import http.client
import json
import sys
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
BASE = "bench/base"

CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": []}},
                    separators=(",", ":")).encode()
LAYER = b"berth bench layer\n" * 64


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def manifest():
    return json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": sha(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": MT_LAYER, "digest": sha(LAYER), "size": len(LAYER)}],
    }, separators=(",", ":")).encode()


class Client:
    """One keep-alive connection per thread."""
    local = threading.local()

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return c

    def req(self, method, path, body=None, headers=None, ok=(200, 201, 202, 204)):
        for attempt in (1, 2):
            c = self.conn()
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                data = r.read()
                break
            except (ConnectionError, http.client.HTTPException):
                c.close()
                self.local.c = None
                if attempt == 2:
                    raise
        if r.status not in ok:
            raise SystemExit(f"populate: {method} {path}: {r.status} {data[:300]!r}")
        return r, data


def push_blob(cl, repo, data):
    d = sha(data)
    r, _ = cl.req("HEAD", f"/v2/{repo}/blobs/{d}", ok=(200, 404))
    if r.status == 200:
        return
    r, _ = cl.req("POST", f"/v2/{repo}/blobs/uploads/")
    loc = r.getheader("Location")
    sep = "&" if "?" in loc else "?"
    if loc.startswith("http"):
        loc = urllib.parse.urlsplit(loc)
        loc = loc.path + ("?" + loc.query if loc.query else "")
    cl.req("PUT", f"{loc}{sep}digest={d}", body=data,
           headers={"Content-Type": "application/octet-stream"})


def put_manifest(cl, repo, ref):
    cl.req("PUT", f"/v2/{repo}/manifests/{ref}", body=manifest(),
           headers={"Content-Type": MT_MANIFEST})


def mount_repo(cl, repo):
    for b in (CONFIG, LAYER):
        cl.req("POST", f"/v2/{repo}/blobs/uploads/?mount={sha(b)}&from={BASE}", ok=(201,))
    put_manifest(cl, repo, "latest")


def run_pool(threads, fn, items):
    with ThreadPoolExecutor(threads) as ex:
        for _ in ex.map(fn, items):
            pass


def main(argv):
    threads = 16
    if argv[:1] == ["--threads"]:
        threads = int(argv[1])
        argv = argv[2:]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cl = Client(argv[0])
    cmd, args = argv[1], argv[2:]
    if cmd == "base":
        push_blob(cl, BASE, CONFIG)
        push_blob(cl, BASE, LAYER)
        put_manifest(cl, BASE, "latest")
        print(sha(manifest()))
    elif cmd == "manifest-digest":
        print(sha(manifest()))
    elif cmd == "repos":
        lo, hi = int(args[0]), int(args[1])
        prefix = args[2] if len(args) > 2 else "repos/r"
        run_pool(threads, lambda i: mount_repo(cl, f"{prefix}{i:06d}"), range(lo, hi))
    elif cmd == "tags":
        repo, lo, hi = args[0], int(args[1]), int(args[2])
        for b in (CONFIG, LAYER):
            cl.req("POST", f"/v2/{repo}/blobs/uploads/?mount={sha(b)}&from={BASE}", ok=(201,))
        run_pool(threads, lambda i: put_manifest(cl, repo, f"t{i:06d}"), range(lo, hi))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
