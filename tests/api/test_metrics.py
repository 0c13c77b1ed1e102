#!/usr/bin/env python3
"""GET /metrics: the Prometheus text format (parsed with prometheus_client's parser),
request counters and latency histograms by route, method and status, bytes in and out,
uploads in progress, storage per namespace, the counters registered for later modules;
--metrics-listen (a separate listener, and 404 on the main one); admins only with
--auth token."""

import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import berthtest  # noqa: E402
from berthtest import *  # noqa: E402,F401,F403

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # Debian's python3-prometheus-client, under a python3 not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

suite = Suite("metrics", needs_process=True)


def scrape(reg, path="/metrics", headers=None):
    r = reg.get(path, headers)
    expect_status(r, 200)
    ct = r.h("Content-Type") or ""
    check(ct.startswith("text/plain; version=0.0.4"), "Content-Type %r" % ct, r)
    return parse(r.body.decode())


def parse(text):
    """{name: {frozenset(labels.items()): value}} for every sample, through the official parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return out


def val(m, name, **labels):
    return m.get(name, {}).get(frozenset(labels.items()))


@suite.case("GET /metrics parses as the Prometheus text format and registers every counter at 0")
def _(reg):
    m = scrape(reg)
    for name in ("berth_gc_runs_total", "berth_mirror_hits_total", "berth_mirror_misses_total",
                 "berth_upstream_errors_total", "berth_webhook_deliveries_total",
                 "berth_retention_untagged_total", "berth_immutable_tag_refusals_total"):
        check(val(m, name) == 0, "%s = %r" % (name, val(m, name)))
    check(val(m, "berth_uploads_in_progress") == 0, "uploads in progress %r" % val(m, "berth_uploads_in_progress"))
    check(val(m, "berth_start_time_seconds") > time.time() - 3600, "start time")


@suite.case("requests are counted by route, method and status, with a consistent histogram")
def _(reg):
    before = scrape(reg)
    base = val(before, "berth_http_requests_total", route="manifest", method="GET", code="404") or 0
    for _ in range(3):
        expect_status(reg.get("/v2/%s/m/manifests/nope" % reg.prefix), 404)
    reg.push_image("%s/m" % reg.prefix, "v1", layer_size=4096)
    expect_status(reg.get("/v2/%s/m/manifests/v1" % reg.prefix, {"Accept": MANIFEST_ACCEPT}), 200)
    # A request is counted when libmicrohttpd reports it complete, just after the client has
    # its answer: a scrape right away may come a moment early (a sanitizer build is slow).
    for _ in range(50):
        m = scrape(reg)
        if ((val(m, "berth_http_requests_total", route="manifest", method="PUT", code="201") or 0) >= 1 and
                (val(m, "berth_http_requests_total", route="manifest", method="GET", code="200") or 0) >= 1 and
                (val(m, "berth_http_requests_total", route="manifest", method="GET", code="404") or 0) >= base + 3):
            break
        time.sleep(0.1)
    got = val(m, "berth_http_requests_total", route="manifest", method="GET", code="404")
    check(got == base + 3, "manifest GET 404: %r, want %r" % (got, base + 3))
    check((val(m, "berth_http_requests_total", route="manifest", method="PUT", code="201") or 0) >= 1,
          "manifest PUT 201")
    check((val(m, "berth_http_requests_total", route="manifest", method="GET", code="200") or 0) >= 1,
          "manifest GET 200")
    lab = dict(route="manifest", method="GET", code="404")
    buckets = sorted(((float(dict(k)["le"]), v) for k, v in m["berth_http_request_duration_seconds_bucket"].items()
                      if all(dict(k).get(a) == b for a, b in lab.items())))
    check(buckets and buckets[-1][0] == float("inf"), "no +Inf bucket: %r" % buckets)
    check(all(buckets[i][1] <= buckets[i + 1][1] for i in range(len(buckets) - 1)), "buckets not cumulative")
    check(buckets[-1][1] == val(m, "berth_http_request_duration_seconds_count", **lab) == got,
          "+Inf bucket, _count and the counter differ")
    check(0 <= val(m, "berth_http_request_duration_seconds_sum", **lab) < 60, "duration sum")


@suite.case("bytes received and sent are counted per route")
def _(reg):
    before = scrape(reg)
    data = rand_bytes(20000)
    d = reg.push_blob("%s/bytes" % reg.prefix, data)
    r = reg.get("/v2/%s/bytes/blobs/%s" % (reg.prefix, d))
    expect_status(r, 200)
    pairs = (("berth_http_received_bytes_total", "upload"), ("berth_http_sent_bytes_total", "blob"))

    def deltas(m):
        return [(val(m, name, route=route) or 0) - (val(before, name, route=route) or 0) for name, route in pairs]

    # Counted when libmicrohttpd reports the request complete, just after the client has its
    # answer: a scrape right away may come a moment early (it did under ASan).
    for _ in range(50):
        m = scrape(reg)
        if all(x >= len(data) for x in deltas(m)):
            break
        time.sleep(0.1)
    for (name, route), delta in zip(pairs, deltas(m)):
        check(delta >= len(data), "%s{route=%s} grew by %r, want >= %d" % (name, route, delta, len(data)))


@suite.case("uploads in progress and storage per namespace are reported")
def _(reg):
    loc = reg.start_upload("%s/up" % reg.prefix)
    m = scrape(reg)
    check(val(m, "berth_uploads_in_progress") >= 1, "uploads %r" % val(m, "berth_uploads_in_progress"))
    expect_status(reg.request("DELETE", loc_path(loc)), 204)
    m2 = scrape(reg)
    check(val(m2, "berth_uploads_in_progress") == val(m, "berth_uploads_in_progress") - 1, "after cancel")
    ns = val(m2, "berth_storage_namespace_bytes", namespace=reg.prefix)
    check(ns and ns >= 20000, "namespace %s: %r" % (reg.prefix, ns))
    check(val(m2, "berth_storage_bytes") >= ns and val(m2, "berth_storage_blobs") >= 3, "totals")


@suite.case("HEAD /metrics answers 200 without a body; POST is 405 UNSUPPORTED")
def _(reg):
    r = reg.head("/metrics")
    expect_status(r, 200)
    check(r.body == b"", "HEAD body")
    expect_error(reg.request("POST", "/metrics", body=b""), 405, "UNSUPPORTED")


def spawn(reg, tag, *args):
    port = free_port()
    data = os.path.join(reg.tmp, "data-" + tag)
    log = open(os.path.join(reg.tmp, "berthd-%s.log" % tag), "wb")
    p = subprocess.Popen([reg.binary(), "--listen", "127.0.0.1:%d" % port, *data_args(data), "--log-level", "warn"]
                         + list(args), stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/v2/" % port, timeout=2)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    return p, port, data


def http(url, auth=None, method="GET"):
    req = urllib.request.Request(url, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@suite.case("--metrics-listen serves /metrics there only (404 elsewhere and on the main listener)")
def _(reg):
    mport = free_port()
    p, port, _ = spawn(reg, "ml", "--auth", "none", "--metrics-listen", "127.0.0.1:%d" % mport)
    try:
        st, body = http("http://127.0.0.1:%d/metrics" % mport)
        check(st == 200, "metrics listener: %d" % st)
        m = parse(body.decode())
        check("berth_gc_runs_total" in m, "no counters")
        check(http("http://127.0.0.1:%d/other" % mport)[0] == 404, "other path on the metrics listener")
        check(http("http://127.0.0.1:%d/metrics" % mport, method="DELETE")[0] == 405, "DELETE")
        st, body = http("http://127.0.0.1:%d/metrics" % port)
        check(st == 404 and b"NOT_FOUND" in body, "main listener: %d %r" % (st, body))
        m = parse(http("http://127.0.0.1:%d/metrics" % mport)[1].decode())
        check(val(m, "berth_http_requests_total", route="metrics", method="GET", code="200") >= 1,
              "the listener's own scrapes are counted")
    finally:
        p.terminate()
        p.wait(10)
    bad = subprocess.run([reg.binary(), "--listen", "127.0.0.1:%d" % free_port(), "--data",
                          os.path.join(reg.tmp, "data-bad"), "--metrics-listen", "nonsense"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    check(bad.returncode != 0 and b"metrics-listen" in bad.stdout, "bad --metrics-listen: %r" % bad.stdout)


@suite.case("with --auth token only administrators read /metrics (401 anonymous, 403 others)")
def _(reg):
    p, port, data = spawn(reg, "tok", "--auth", "token")
    try:
        for name, admin in (("root", True), ("joe", False)):
            args = [reg.binary(), "user", "add", name, "--password-stdin", *data_args(data)]
            if admin:
                args.insert(4, "--admin")
            r = subprocess.run(args, input=b"password-of-" + name.encode() + b"\n", stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            check(r.returncode == 0, "user add: %r" % r.stdout)
        url = "http://127.0.0.1:%d/metrics" % port
        st, body = http(url)
        check(st == 401 and b"UNAUTHORIZED" in body, "anonymous: %d %r" % (st, body))
        st, body = http(url, "joe:password-of-joe")
        check(st == 403 and b"DENIED" in body, "non-admin: %d %r" % (st, body))
        st, body = http(url, "root:wrong")
        check(st == 401, "bad password: %d" % st)
        st, body = http(url, "root:password-of-root")
        check(st == 200 and "berth_http_requests_total" in parse(body.decode()), "admin: %d" % st)
    finally:
        p.terminate()
        p.wait(10)


if __name__ == "__main__":
    suite.main()
