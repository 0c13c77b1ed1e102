#!/usr/bin/env python3
"""Peak anonymous memory of processes: VmHWM counts the pages of shared libraries a process
has touched, which a static Go binary has none of, so the benchmark also reports the largest
RssAnon seen, sampled every 20 ms (a peak between two samples can be missed).

usage: rss_sampler.py OUTFILE PID...   runs until every PID has exited; OUTFILE always holds
                                       {"PID": max RssAnon kB, ...} for the samples so far
"""
import json
import os
import sys
import time


def anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main(out, pids):
    peak = {p: 0 for p in pids}
    while True:
        alive, changed = False, False
        for p in pids:
            kb = anon_kb(p)
            if kb is None:
                continue
            alive = True
            if kb > peak[p]:
                peak[p], changed = kb, True
        if changed:
            with open(out + ".tmp", "w") as f:
                json.dump(peak, f)
            os.replace(out + ".tmp", out)
        if not alive:
            return
        time.sleep(0.02)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
