"""Helpers of the programs under tests/torture/ (they run their own berthd processes, so they
print TAP themselves rather than through berthtest.Suite): TAP lines, one-shot requests, the
berthd binary and a scratch folder."""

import os
import subprocess
import sys
import tempfile
import time

from berthtest import Conn, free_port

BERTHD = os.environ.get("BERTHD") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "berthd")

_counts = {"n": 0, "failed": 0}


def tap(ok, desc, details=()):
    """One TAP line; details are printed as comments under it."""
    _counts["n"] += 1
    if not ok:
        _counts["failed"] += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", _counts["n"], desc))
    for line in details:
        print("#   %s" % line)
    sys.stdout.flush()


def diag(msg):
    print("# %s" % msg)
    sys.stdout.flush()


def tap_done():
    """Print the plan; returns the exit status (1 if a line failed)."""
    print("1..%d" % _counts["n"])
    return 1 if _counts["failed"] else 0


def tap_failed():
    return _counts["failed"]


def request(port, method, path, headers=None, body=None, timeout=60):
    """One request on a connection of its own to berthd on 127.0.0.1:port."""
    c = Conn("127.0.0.1", port, timeout)
    try:
        return c.request(method, path, headers, body)
    finally:
        c.close()


def scratch(prefix):
    """A new folder under $BERTH_TEST_TMP (or the system's temporary folder)."""
    base = os.environ.get("BERTH_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def start_berthd(tmp, data, args=()):
    """berthd --auth none on a free port with data folder `data`, its log in tmp/berthd.log;
    returns (process, port) once GET /v2/ answers 200 (at most 10 s)."""
    port = free_port()
    with open(os.path.join(tmp, "berthd.log"), "ab") as log:
        proc = subprocess.Popen([BERTHD, "--listen", "127.0.0.1:%d" % port, "--data", data, "--auth", "none",
                                 "--log-level", "warn"] + list(args),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline and proc.poll() is None:
        try:
            if request(port, "GET", "/v2/", timeout=2).status == 200:
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("berthd did not start; see %s" % os.path.join(tmp, "berthd.log"))
