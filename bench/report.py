#!/usr/bin/env python3
"""Turns the benchmark's raw records into its report (bench/run calls it).

usage: report.py parse-ab AB_OUTPUT AB_CSV   one JSON object from an ab run (req/s, p50, p99, errors)
       report.py report RAW.jsonl OUTDIR     raw.json, results.md, summary.txt, *.png (gnuplot)
"""
import json
import math
import os
import re
import statistics
import subprocess
import sys

MB = 1e6


def parse_ab(out_path, csv_path):
    text = open(out_path, errors="replace").read()

    def num(label, default=0.0):
        m = re.search(r"^" + re.escape(label) + r":\s+([0-9.]+)", text, re.M)
        return float(m.group(1)) if m else default

    pct = {}
    if os.path.exists(csv_path):
        for line in open(csv_path):
            p, _, v = line.strip().partition(",")
            try:
                pct[int(float(p))] = float(v)
            except ValueError:
                pass
    done = int(num("Complete requests"))
    failed = int(num("Failed requests"))
    non2xx = int(num("Non-2xx responses"))
    r = {"requests": done, "seconds": num("Time taken for tests"),
         "rps": num("Requests per second"), "p50_ms": pct.get(50, -1), "p90_ms": pct.get(90, -1),
         "p99_ms": pct.get(99, -1), "max_ms": pct.get(100, -1),
         "errors": failed + non2xx, "non2xx": non2xx}
    if done == 0:
        r["errors"] = -1
        r["ab_error"] = text.strip().splitlines()[-1:] if text.strip() else ["no output"]
    print(json.dumps(r))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def stats(xs):
    return {"median": med(xs), "min": min(xs) if xs else float("nan"),
            "max": max(xs) if xs else float("nan"), "n": len(xs)}


def fmt_bps(v):
    return f"{v / MB:,.0f} MB/s"


def fmt_ratio(v):
    return "n/a" if v is None or math.isnan(v) else f"{v:.2f}x"


def fmt_ms(v):
    return "n/a" if v is None or v < 0 or math.isnan(v) else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def pairs(recs, key, value):
    """Per-run ratio berthd/distribution of value(rec), runs matched by `key` fields."""
    by = {}
    for r in recs:
        by.setdefault(tuple(r[k] for k in key), {})[r["impl"]] = value(r)
    out = []
    for v in by.values():
        if "berthd" in v and "distribution" in v and v["distribution"] > 0:
            out.append(v["berthd"] / v["distribution"])
    return out


def report(raw_path, outdir):
    recs = [json.loads(line) for line in open(raw_path) if line.strip()]
    meta = next((r for r in recs if r["kind"] == "meta"), {})
    ceil = {r["name"]: r["bytes_per_s"] for r in recs if r["kind"] == "ceiling"}
    res = {"meta": meta, "ceilings": ceil, "blob": {}, "req": {}, "skopeo": {}, "rss": {},
           "rss_blob": {}, "growth": {}, "entries": [], "populate": [], "targets": []}
    summary = []
    targets = res["targets"]

    def target(name, ok, detail):
        targets.append({"target": name, "pass": bool(ok), "detail": detail})

    # ---- blob cases: throughput per run
    for case in ("push_mono", "push_chunked", "pull", "pull_range"):
        rs = [r for r in recs if r["kind"] == "blob" and r["case"] == case]
        if not rs:
            continue
        tp = lambda r: r["bytes"] / r["seconds"]
        d = {impl: stats([tp(r) for r in rs if r["impl"] == impl]) for impl in ("berthd", "distribution")}
        ratios = pairs(rs, ("run",), tp)
        d["ratio"] = stats(ratios)
        res["blob"][case] = d
        summary.append(f"{case}: berthd {fmt_bps(d['berthd']['median'])}, distribution "
                       f"{fmt_bps(d['distribution']['median'])}, ratio {fmt_ratio(d['ratio']['median'])}")

    sha, loop, disk = ceil.get("sha256"), ceil.get("loopback"), ceil.get("disk_fsync")
    for case in ("push_mono", "push_chunked"):
        if case in res["blob"] and sha:
            b = res["blob"][case]
            target(f"{case} >= 4x distribution", b["ratio"]["median"] >= 4, fmt_ratio(b["ratio"]["median"]))
            frac = b["berthd"]["median"] / sha
            target(f"{case} >= 70% of SHA-256 ceiling", frac >= 0.7,
                   f"{frac:.0%} of {fmt_bps(sha)}" + (f" (disk fsync ceiling {fmt_bps(disk)} = "
                                                      f"{disk / sha:.0%} of it)" if disk else ""))
    for case in ("pull", "pull_range"):
        if case in res["blob"] and loop:
            b = res["blob"][case]
            target(f"{case} >= 1.3x distribution", b["ratio"]["median"] >= 1.3, fmt_ratio(b["ratio"]["median"]))
            frac = b["berthd"]["median"] / loop
            target(f"{case} >= 90% of loopback ceiling", frac >= 0.9, f"{frac:.0%} of {fmt_bps(loop)}")

    # ---- request cases
    # A run in which a server completed nothing (Distribution's catalog under load) bounds
    # its rate by one request over the run's length, and the ratio becomes a lower bound.
    for r in recs:
        if r["kind"] == "req" and r["rps"] <= 0 and r.get("seconds", 0) > 0:
            r["rps_floor"] = 1 / r["seconds"]
    for r in recs:
        if r["kind"] == "req":
            res["req"].setdefault(r["case"], {}).setdefault(str(r["conns"]), []).append(r)
    for case, byc in res["req"].items():
        for conns, rs in list(byc.items()):
            d = {}
            for impl in ("berthd", "distribution"):
                x = [r for r in rs if r["impl"] == impl]
                d[impl] = {"rps": stats([r["rps"] for r in x]),
                           "p50_ms": med([r["p50_ms"] for r in x]),
                           "p99_ms": med([r["p99_ms"] for r in x]),
                           "p99_ms_max": max([r["p99_ms"] for r in x], default=-1),
                           "errors": sum(max(r.get("errors", 0), 0) for r in x),
                           "failed_runs": sum(1 for r in x if r.get("errors", 0) < 0 or r["rps"] == 0)}
            d["ratio"] = stats(pairs(rs, ("run",), lambda r: r["rps"] if r["rps"] > 0 else r.get("rps_floor", 0)))
            d["ratio_is_bound"] = any(r["rps"] <= 0 and "rps_floor" in r for r in rs if r["impl"] == "distribution")
            byc[conns] = d
            if not case.startswith("growth_"):
                summary.append(
                    f"{case} c={conns}: berthd {d['berthd']['rps']['median']:,.0f} req/s "
                    f"(p50 {fmt_ms(d['berthd']['p50_ms'])} ms, p99 {fmt_ms(d['berthd']['p99_ms'])} ms), "
                    f"distribution {d['distribution']['rps']['median']:,.0f} req/s "
                    f"(p50 {fmt_ms(d['distribution']['p50_ms'])} ms, p99 {fmt_ms(d['distribution']['p99_ms'])} ms), "
                    f"ratio {'>= ' if d['ratio_is_bound'] else ''}{fmt_ratio(d['ratio']['median'])}")
    for case, want in (("manifest_head", 10), ("manifest_get", 10), ("base", 10), ("tags_list", 20), ("catalog", 20)):
        byc = res["req"].get(case, {})
        if "50" in byc:
            d = byc["50"]
            target(f"{case} >= {want}x distribution at 50 connections", d["ratio"]["median"] >= want,
                   (">= " if d["ratio_is_bound"] else "") + fmt_ratio(d["ratio"]["median"])
                   + (" (Distribution completed no request in some runs: its rate counted as one per run)"
                      if d["ratio_is_bound"] else ""))
            if want == 10:
                target(f"{case} p99 < 5 ms at 50 connections", 0 <= d["berthd"]["p99_ms"] < 5,
                       f"p99 {fmt_ms(d['berthd']['p99_ms'])} ms (worst run {fmt_ms(d['berthd']['p99_ms_max'])})")
        if "500" in byc:
            d = byc["500"]["berthd"]
            target(f"{case} no errors at 500 connections", d["errors"] == 0 and d["failed_runs"] == 0,
                   f"{d['errors']} errors, {d['failed_runs']} failed runs")

    # ---- skopeo
    rs = [r for r in recs if r["kind"] == "skopeo"]
    if rs:
        d = {impl: stats([r["seconds"] for r in rs if r["impl"] == impl]) for impl in ("berthd", "distribution")}
        d["failures"] = {impl: sum(r["failures"] for r in rs if r["impl"] == impl) for impl in ("berthd", "distribution")}
        # ratio as a speed-up: distribution's time over berthd's
        d["ratio"] = stats([1 / x for x in pairs(rs, ("run",), lambda r: r["seconds"])])
        d["images"] = rs[0]["images"]
        res["skopeo"] = d
        summary.append(f"skopeo_push ({d['images']} parallel): berthd {d['berthd']['median']:.2f} s, "
                       f"distribution {d['distribution']['median']:.2f} s, ratio {fmt_ratio(d['ratio']['median'])} "
                       f"(failures: berthd {d['failures']['berthd']}, distribution {d['failures']['distribution']})")

    # ---- RSS
    for r in recs:
        if r["kind"] == "rss":
            res["rss"].setdefault(r["case"], {})[r["impl"]] = r["kb"]
            if "anon_kb" in r:
                res["rss"][r["case"]][r["impl"] + "_anon"] = r["anon_kb"]
        elif r["kind"] == "rss_blob":
            res["rss_blob"].setdefault(str(r["bytes"]), {})[r["impl"]] = r["kb"]
            if "anon_kb" in r:
                res["rss_blob"][str(r["bytes"])][r["impl"] + "_anon"] = r["anon_kb"]
    worst = []
    for case, d in res["rss"].items():
        b, x = d.get("berthd", 0), d.get("distribution", 0)
        d["ratio"] = x / b if b else float("nan")
        summary.append(f"rss {case}: berthd {b / 1024:.1f} MiB, distribution {x / 1024:.1f} MiB, "
                       f"ratio {fmt_ratio(d['ratio'])}")
        if b and x and b * 4 > x:
            worst.append(f"{case} ({b / 1024:.1f} vs {x / 1024:.1f} MiB)")
    if res["rss"]:
        target("peak RSS <= 1/4 of distribution in every case", not worst,
               "over in: " + ", ".join(worst) if worst else "all cases")
        anon = [(c, d["berthd_anon"], d["distribution_anon"]) for c, d in res["rss"].items()
                if d.get("berthd_anon") and d.get("distribution_anon")]
        if anon:
            over = [f"{c} ({b / 1024:.1f} vs {x / 1024:.1f} MiB)" for c, b, x in anon if b * 4 > x]
            target("(supplementary) peak anonymous RSS <= 1/4 of distribution in every case", not over,
                   "over in: " + ", ".join(over) if over else "all cases")
    if len(res["rss_blob"]) >= 2:
        sizes = sorted(res["rss_blob"], key=int)
        lo, hi = res["rss_blob"][sizes[0]]["berthd"], res["rss_blob"][sizes[-1]]["berthd"]
        target("berthd peak RSS flat in blob size", hi <= lo * 1.2 + 4096,
               f"{lo / 1024:.1f} MiB at {int(sizes[0]) >> 20} MiB, {hi / 1024:.1f} MiB at {int(sizes[-1]) >> 20} MiB")
        for s in sizes:
            d = res["rss_blob"][s]
            summary.append(f"rss push+pull {int(s) >> 20} MiB blob: berthd {d['berthd'] / 1024:.1f} MiB, "
                           f"distribution {d['distribution'] / 1024:.1f} MiB, "
                           f"ratio {fmt_ratio(d['distribution'] / d['berthd'])}")

    # ---- growth
    for r in recs:
        if r["kind"] == "req" and r["case"].startswith("growth_"):
            g = res["growth"].setdefault(r["case"][7:], {}).setdefault(str(r["run"]), {})
            g[r["impl"]] = {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "rps": r["rps"]}
        elif r["kind"] == "entries":
            res["entries"].append(r)
        elif r["kind"] == "populate":
            res["populate"].append(r)
    for case, byn in res["growth"].items():
        ns = sorted(byn, key=int)
        summary.append(f"growth {case} p50 (ms) at " + ", ".join(ns) + ": berthd "
                       + " / ".join(fmt_ms(byn[n].get("berthd", {}).get("p50_ms", -1)) for n in ns)
                       + ", distribution "
                       + " / ".join(fmt_ms(byn[n].get("distribution", {}).get("p50_ms", -1)) for n in ns))
    for case, lim, what in (("manifest_head", 1.5, "lookup"), ("catalog_page", 1.5, "100-entry page")):
        byn = res["growth"].get(case, {})
        if "10000" in byn and "100000" in byn:
            a, b = byn["10000"]["berthd"]["p50_ms"], byn["100000"]["berthd"]["p50_ms"]
            target(f"{case}: {what} latency 10,000 -> 100,000 entries at most logarithmic", b <= a * lim,
                   f"{fmt_ms(a)} -> {fmt_ms(b)} ms ({b / a:.2f}x; log growth is 1.25x, linear 10x)")

    # ---- write
    json.dump(res, open(os.path.join(outdir, "raw.json"), "w"), indent=1, default=str)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write("\n".join(summary) + "\n\nTargets:\n")
        for t in targets:
            f.write(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['detail']}\n")
    write_md(res, outdir)
    plots(res, outdir)


def write_md(res, outdir):
    m, c = res["meta"], res["ceilings"]
    L = [f"# Benchmark results {m.get('date', '')}{' (quick)' if m.get('quick') else ''}", "",
         f"berthd `{m.get('commit', '?')}` (-O2 -g) against Distribution (docker-registry {m.get('distribution', '?')}); "
         f"{m.get('cores')} cores ({m.get('cpu')}), {m.get('memory')}, kernel {m.get('kernel')}. "
         f"Blob {m.get('blob_bytes', 0) >> 20} MiB, {m.get('runs')} A/B pairs per blob case, "
         f"{m.get('load_runs')} pairs of {m.get('duration_s')} s per load case. "
         "Values are medians (min-max); a ratio is berthd over Distribution per A/B pair, median of pairs "
         "(for times and memory: Distribution over berthd, so higher is better for berthd).", "",
         "## Ceilings", "", "| ceiling | value |", "| --- | --- |"]
    names = {"sha256": "SHA-256 (`openssl speed -evp sha256`, 16 KiB blocks)",
             "loopback": "loopback transfer (sendfile server -> curl)",
             "disk_fsync": "disk write + fsync (`dd conv=fsync`, 16 MiB blocks)"}
    for k, v in c.items():
        L.append(f"| {names.get(k, k)} | {fmt_bps(v)} |")
    L += ["", "## Blobs", "", "| case | berthd | Distribution | ratio | berthd / ceiling |",
          "| --- | --- | --- | --- | --- |"]
    for case, d in res["blob"].items():
        ce = c.get("sha256") if case.startswith("push") else c.get("loopback")
        cname = "SHA-256" if case.startswith("push") else "loopback"
        extra = ""
        if case.startswith("push") and c.get("disk_fsync"):
            extra = f", {d['berthd']['median'] / c['disk_fsync']:.0%} of disk"
        L.append(f"| {case} | {fmt_bps(d['berthd']['median'])} ({d['berthd']['min'] / MB:,.0f}-{d['berthd']['max'] / MB:,.0f}) "
                 f"| {fmt_bps(d['distribution']['median'])} ({d['distribution']['min'] / MB:,.0f}-{d['distribution']['max'] / MB:,.0f}) "
                 f"| {fmt_ratio(d['ratio']['median'])} ({d['ratio']['min']:.2f}-{d['ratio']['max']:.2f}) "
                 f"| {d['berthd']['median'] / ce:.0%} of {cname}{extra} |" if ce else "| |")
    L += ["", "## Requests", "",
          "| case | conns | berthd req/s | p50 ms | p99 ms | errors | Distribution req/s | p50 ms | p99 ms | errors | ratio |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for case, byc in res["req"].items():
        if case.startswith("growth_"):
            continue
        for conns in sorted(byc, key=int):
            d = byc[conns]
            b, x = d["berthd"], d["distribution"]
            L.append(f"| {case} | {conns} | {b['rps']['median']:,.0f} ({b['rps']['min']:,.0f}-{b['rps']['max']:,.0f}) "
                     f"| {fmt_ms(b['p50_ms'])} | {fmt_ms(b['p99_ms'])} | {b['errors']}{'+' + str(b['failed_runs']) + ' failed runs' if b['failed_runs'] else ''} "
                     f"| {x['rps']['median']:,.0f} ({x['rps']['min']:,.0f}-{x['rps']['max']:,.0f}) "
                     f"| {fmt_ms(x['p50_ms'])} | {fmt_ms(x['p99_ms'])} | {x['errors']}{'+' + str(x['failed_runs']) + ' failed runs' if x['failed_runs'] else ''} "
                     f"| {'>= ' if d['ratio_is_bound'] else ''}{fmt_ratio(d['ratio']['median'])} |")
    if res["skopeo"]:
        s = res["skopeo"]
        L += ["", f"## {s['images']} parallel `skopeo copy` pushes", "",
              "| berthd s | Distribution s | ratio (speed-up) | failures berthd / Distribution |",
              "| --- | --- | --- | --- |",
              f"| {s['berthd']['median']:.2f} ({s['berthd']['min']:.2f}-{s['berthd']['max']:.2f}) "
              f"| {s['distribution']['median']:.2f} ({s['distribution']['min']:.2f}-{s['distribution']['max']:.2f}) "
              f"| {fmt_ratio(s['ratio']['median'])} | {s['failures']['berthd']} / {s['failures']['distribution']} |"]
    L += ["", "## Peak RSS (VmHWM, and the largest RssAnon sampled every 20 ms; servers restarted for each case)", "",
          "| case | berthd MiB | Distribution MiB | Distribution / berthd | berthd anon MiB | Distribution anon MiB |",
          "| --- | --- | --- | --- | --- | --- |"]

    def anon_cols(d):
        if "berthd_anon" not in d:
            return "| n/a | n/a |"
        return f"| {d['berthd_anon'] / 1024:.1f} | {d['distribution_anon'] / 1024:.1f} |"
    for case, d in res["rss"].items():
        L.append(f"| {case} | {d.get('berthd', 0) / 1024:.1f} | {d.get('distribution', 0) / 1024:.1f} "
                 f"| {fmt_ratio(d['ratio'])} " + anon_cols(d))
    for s in sorted(res["rss_blob"], key=int):
        d = res["rss_blob"][s]
        L.append(f"| push (mono + chunked) + pull, {int(s) >> 20} MiB blob | {d['berthd'] / 1024:.1f} "
                 f"| {d['distribution'] / 1024:.1f} | {fmt_ratio(d['distribution'] / d['berthd'])} " + anon_cols(d))
    if res["growth"]:
        L += ["", "## Growth (one connection, p50 ms)", "", "| case | entries | berthd | Distribution |",
              "| --- | --- | --- | --- |"]
        for case, byn in res["growth"].items():
            for n in sorted(byn, key=int):
                d = byn[n]
                L.append(f"| {case} | {int(n):,} | {fmt_ms(d.get('berthd', {}).get('p50_ms', -1))} "
                         f"| {fmt_ms(d.get('distribution', {}).get('p50_ms', -1))} |")
    L += ["", "## Targets", "", "| target | result | measured |", "| --- | --- | --- |"]
    for t in res["targets"]:
        L.append(f"| {t['target']} | {'PASS' if t['pass'] else '**FAIL**'} | {t['detail']} |")
    if res["populate"]:
        L += ["", "## Populating (seconds)", "", "| what | berthd | Distribution |", "| --- | --- | --- |"]
        by = {}
        for p in res["populate"]:
            by.setdefault(p["what"], {})[p["impl"]] = p["seconds"]
        for w, d in by.items():
            L.append(f"| `{w}` | {d.get('berthd', 0):.1f} | {d.get('distribution', 0):.1f} |")
    L += ["", "Plots: `blobs.png`, `requests.png`, `growth.png`, `rss.png`; every record in `raw.json`."]
    open(os.path.join(outdir, "results.md"), "w").write("\n".join(L) + "\n")


def gnuplot(script, outdir):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, cwd=outdir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: gnuplot failed: {getattr(e, 'stderr', e)}", file=sys.stderr)


def plots(res, outdir):
    term = "set terminal pngcairo size 1000,600 noenhanced font ',10'\n" \
        if subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True).returncode == 0 \
        else "set terminal png size 1000,600 noenhanced\n"
    common = term + "set style data histogram\nset style histogram cluster gap 1\n" \
        "set style fill solid border -1\nset boxwidth 0.9\nset key top left\nset grid ytics\n"
    # blobs
    with open(os.path.join(outdir, "blobs.dat"), "w") as f:
        f.write("case berthd distribution\n")
        for case, d in res["blob"].items():
            f.write(f"{case} {d['berthd']['median'] / MB:.1f} {d['distribution']['median'] / MB:.1f}\n")
    lines = ""
    for k, v in res["ceilings"].items():
        lines += f"set arrow from graph 0, first {v / MB:.1f} to graph 1, first {v / MB:.1f} nohead dt 2 lw 2\n" \
                 f"set label '{k} ceiling' at graph 0.75, first {v / MB:.1f} offset 0,0.6\n"
    gnuplot(common + "set output 'blobs.png'\nset title 'Blob throughput (MB/s, median)'\nset yrange [0:*]\n"
            + lines + "plot 'blobs.dat' using 2:xtic(1) title col, '' using 3 title col\n", outdir)
    # requests: req/s at each connection count, one group per case+conns
    with open(os.path.join(outdir, "requests.dat"), "w") as f:
        f.write("case berthd distribution\n")
        for case, byc in res["req"].items():
            if case.startswith("growth_"):
                continue
            for conns in sorted(byc, key=int):
                d = byc[conns]
                f.write(f"{case}/c{conns} {max(d['berthd']['rps']['median'], 1):.0f} "
                        f"{max(d['distribution']['rps']['median'], 1):.0f}\n")
    gnuplot(common + "set output 'requests.png'\nset title 'Requests per second (median, log scale)'\n"
            "set logscale y\nset xtics rotate by -45\n"
            "plot 'requests.dat' using 2:xtic(1) title col, '' using 3 title col\n", outdir)
    # growth
    if res["growth"]:
        plot = []
        for case, byn in res["growth"].items():
            fn = f"growth_{case}.dat"
            with open(os.path.join(outdir, fn), "w") as f:
                for n in sorted(byn, key=int):
                    d = byn[n]
                    f.write(f"{n} {d.get('berthd', {}).get('p50_ms', 'NaN')} {d.get('distribution', {}).get('p50_ms', 'NaN')}\n")
            plot.append(f"'{fn}' using 1:2 with linespoints title 'berthd {case}'")
            plot.append(f"'{fn}' using 1:3 with linespoints dt 2 title 'distribution {case}'")
        gnuplot(term + "set output 'growth.png'\nset title 'Latency against entries (p50 ms, one connection)'\n"
                "set logscale xy\nset grid\nset key outside right\nset xlabel 'entries'\nset ylabel 'ms'\n"
                "plot " + ", ".join(plot) + "\n", outdir)
    # rss
    with open(os.path.join(outdir, "rss.dat"), "w") as f:
        f.write("case berthd distribution\n")
        for case, d in res["rss"].items():
            f.write(f"{case} {d.get('berthd', 0) / 1024:.1f} {d.get('distribution', 0) / 1024:.1f}\n")
        for s in sorted(res["rss_blob"], key=int):
            d = res["rss_blob"][s]
            f.write(f"blob{int(s) >> 20}MiB {d['berthd'] / 1024:.1f} {d['distribution'] / 1024:.1f}\n")
    gnuplot(common + "set output 'rss.png'\nset title 'Peak RSS per case (MiB)'\nset yrange [0:*]\n"
            "set xtics rotate by -45\nplot 'rss.dat' using 2:xtic(1) title col, '' using 3 title col\n", outdir)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["parse-ab"] and len(a) == 3:
        parse_ab(a[1], a[2])
    elif a[:1] == ["report"] and len(a) == 3:
        report(a[1], a[2])
    else:
        raise SystemExit(__doc__)
