#!/usr/bin/env python3
"""Times the calls the web UI's pages make against a populated berthd (see bench/web.sh):
each case N times on one keep-alive connection, after one untimed warm-up request, as an
anonymous visitor and as the signed-in user "viewer" (a session cookie). Prints a Markdown
table with the median, p95 and max in milliseconds and whether the max is within the
100 ms target. Standard library only.

usage: web_timing.py URL N
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse

TARGET_MS = 100.0

CASES = [
    ("page /", "/"),
    ("page /r/repos/many (index.html)", "/r/repos/many"),
    ("/js/main.js", "/js/main.js"),
    ("repositories, by name", "/api/v1/repositories?per_page=24"),
    ("repositories, by last push", "/api/v1/repositories?per_page=24&sort=updated"),
    ("repositories, by pulls", "/api/v1/repositories?per_page=24&sort=pulls"),
    ("repositories, search q=r0099", "/api/v1/repositories?per_page=24&q=r0099"),
    ("repositories, search no match", "/api/v1/repositories?per_page=24&q=zzzz"),
    ("repositories, page 400", "/api/v1/repositories?per_page=24&page=400"),
    ("repositories, namespace repos", "/api/v1/repositories?per_page=24&namespace=repos&sort=updated"),
    ("repository repos/many", "/api/v1/repositories/repos/many"),
    ("tags of repos/many, page 1", "/api/v1/repositories/repos/many/tags?per_page=25"),
    ("tags of repos/many, page 400", "/api/v1/repositories/repos/many/tags?per_page=25&page=400"),
    ("manifest repos/many:t005000", "/api/v1/repositories/repos/many/manifests/t005000"),
]


def main():
    url, n = sys.argv[1], int(sys.argv[2])
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def get(path, headers):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t) * 1000
        if r.status != 200:
            raise SystemExit("GET %s: %d %r" % (path, r.status, body[:200]))
        return ms, r, body

    conn.request("POST", "/api/v1/session", body=json.dumps({"username": "viewer", "password": "bench-password-1"}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise SystemExit("sign-in failed: %d" % r.status)
    cookie = r.getheader("Set-Cookie").split(";")[0]

    print("| case | caller | median ms | p95 ms | max ms | within %d ms |" % TARGET_MS)
    print("| --- | --- | ---: | ---: | ---: | --- |")
    worst = 0.0
    for who, headers in (("anonymous", {}), ("signed in", {"Cookie": cookie})):
        for name, path in CASES:
            get(path, headers)
            times = sorted(get(path, headers)[0] for _ in range(n))
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            worst = max(worst, times[-1])
            print("| %s | %s | %.2f | %.2f | %.2f | %s |" % (name, who, statistics.median(times), p95, times[-1],
                                                          "yes" if times[-1] <= TARGET_MS else "**no**"))
    _, _, body = get("/api/v1/repositories?per_page=1", {})
    print()
    print("%d repositories listed; %d timed requests per case; slowest request %.1f ms" %
          (json.loads(body)["total"], n, worst))


if __name__ == "__main__":
    main()
