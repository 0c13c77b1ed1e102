"""Shared helpers for Berth's API tests: start and stop a real berthd, a raw HTTP/1.1 client
that can send odd requests, push helpers, image/index builders, state snapshots, and a tiny
TAP runner. Python 3 standard library only.

Environment:
  BERTHD             absolute path of the berthd binary (default: <repo>/berthd if executable)
  BERTH_TEST_TMP     scratch directory (default: the system temp dir)
  TEST_REGISTRY_URL  http://127.0.0.1:PORT of an already running registry: nothing is
                     started, restart and read-only tests skip
  BERTH_TEST_IMPL=docker-registry  start Debian's /usr/bin/docker-registry (CNCF
                     Distribution) instead of berthd, as a reference implementation
  BERTH_TEST_VERBOSE=1  print every request as a "# " line
  BERTH_TEST_TIMEOUT    seconds to wait for an answer (default 5)
  BERTH_TEST_ONLY=REGEX  run only the cases whose description matches
  BERTH_TEST_ARGS    extra berthd arguments (shell words), e.g. "--storage s3 --s3-endpoint
                     URL --s3-bucket B" to run a suite against another blob store
  BERTH_TEST_POSTGRES  postgres://USER@HOST:PORT of a PostgreSQL server: each berthd data
                     folder gets a fresh database there (--database), so the suite runs on
                     PostgreSQL metadata instead of SQLite
"""

import base64
import hashlib
import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

API_VERSION_HEADER = "Docker-Distribution-API-Version"


class PgConnection:
    """The few sqlite3.Connection calls the tests use, over psycopg2."""

    def __init__(self, url):
        try:
            import psycopg2
        except ImportError:  # Debian's python3-psycopg2, under a python3 not Debian's own
            sys.path.append("/usr/lib/python3/dist-packages")
            import psycopg2
        self.conn = psycopg2.connect(url)

    def execute(self, sql, params=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", "%s"), tuple(params))
        return cur

    def commit(self):
        self.conn.commit()

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()
        return False


def data_args(data_dir):
    """berthd arguments for the data folder data_dir: --data, and with BERTH_TEST_POSTGRES
    the --database made for that folder."""
    pg = postgres_database(data_dir)
    return ["--data", data_dir] + (["--database", pg] if pg else [])


def db_contents(data_dir):
    """Every byte the metadata database of data_dir holds: the SQLite files, or on
    PostgreSQL a plain pg_dump of its database."""
    pg = postgres_database(data_dir)
    if pg:
        return subprocess.run(["pg_dump", "--no-owner", pg], check=True, stdout=subprocess.PIPE).stdout
    raw = b""
    for f in ("berth.db", "berth.db-wal"):
        p = os.path.join(data_dir, f)
        if os.path.exists(p):
            with open(p, "rb") as fh:
                raw += fh.read()
    return raw


def postgres_database(data_dir):
    """With BERTH_TEST_POSTGRES set, the URL of a database for the berthd whose data folder is
    data_dir: created empty the first time (one per folder, so a restart keeps its data and
    every new registry starts empty), else None."""
    server = os.environ.get("BERTH_TEST_POSTGRES")
    if not server:
        return None
    os.makedirs(data_dir, exist_ok=True)
    name = "berth_" + hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:16]
    marker = os.path.join(data_dir, ".test-postgres-db")
    if not os.path.exists(marker):
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server.rstrip("/") + "/postgres",
                        "-c", "DROP DATABASE IF EXISTS %s" % name, "-c", "CREATE DATABASE %s" % name],
                       check=True, stdout=subprocess.DEVNULL)
        with open(marker, "w") as f:
            f.write(name + "\n")
    return server.rstrip("/") + "/" + name

MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
MT_DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"

EMPTY_CONFIG_DATA = b"{}"
EMPTY_CONFIG_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
EMPTY_BLOB_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

MANIFEST_ACCEPT = ", ".join([MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST,
                             MT_DOCKER_SCHEMA1_SIGNED, MT_DOCKER_SCHEMA1, "*/*"])

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Every response that lacked Docker-Distribution-API-Version, as "METHOD path -> status".
MISSING_API_HEADER = []
_missing_lock = threading.Lock()
VERBOSE = os.environ.get("BERTH_TEST_VERBOSE") == "1"
# Seconds a request may wait for the server to answer (each socket operation): a server that
# never answers costs this much per case. BERTH_TEST_TIMEOUT overrides it.
DEFAULT_TIMEOUT = float(os.environ.get("BERTH_TEST_TIMEOUT", "5"))


# ---------------------------------------------------------------------------------------
# Digests and random data


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def rand_bytes(n):
    return os.urandom(n)


def rand_name(k=8):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(k))


class BigData:
    """A deterministic pseudo-random byte stream of `size` bytes, generated block by block
    so that neither the test nor the sender holds it in memory. Iterate for the blocks."""

    BLOCK = 1 << 20

    def __init__(self, size, seed=1):
        self.size = size
        self.seed = seed
        self._digest = None

    def __iter__(self):
        rng = random.Random(self.seed)
        left = self.size
        while left > 0:
            n = min(self.BLOCK, left)
            yield rng.randbytes(n)
            left -= n

    def range(self, start, length):
        """Bytes [start, start+length) without materializing the rest."""
        out = bytearray()
        pos = 0
        for block in self:
            end = pos + len(block)
            if end > start and pos < start + length:
                out += block[max(0, start - pos):min(len(block), start + length - pos)]
            pos = end
            if pos >= start + length:
                break
        return bytes(out)

    @property
    def digest(self):
        if self._digest is None:
            h = hashlib.sha256()
            for block in self:
                h.update(block)
            self._digest = "sha256:" + h.hexdigest()
        return self._digest


# ---------------------------------------------------------------------------------------
# Raw HTTP/1.1 client


class Response:
    def __init__(self, method, path):
        self.method = method
        self.path = path
        self.status = 0
        self.reason = ""
        self.version = ""
        self.headers = []
        self.body = b""
        self.body_len = 0
        self.send_error = None  # the server stopped reading before the body was sent
        self.incomplete = None  # the body was shorter than its Content-Length

    def h(self, name):
        """First value of header `name` (case-insensitive), or None."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def hs(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error_codes(self):
        """The `code` of each entry of the spec's error body, or [] if there is no such body."""
        try:
            doc = self.json()
            return [e.get("code") for e in doc.get("errors", [])]
        except Exception:
            return []

    def diag(self):
        lines = ["%s %s -> %s %s" % (self.method, self.path, self.status, self.reason)]
        interesting = ("location", "range", "content-range", "content-type", "content-length",
                       "docker-content-digest", "docker-upload-uuid", "link", "oci-subject",
                       "oci-filters-applied", "transfer-encoding", "etag")
        hl = ["%s: %s" % (k, v) for k, v in self.headers if k.lower() in interesting]
        if hl:
            lines.append("headers: " + "; ".join(hl))
        if self.body:
            ex = self.body[:400]
            try:
                ex = ex.decode("utf-8")
            except UnicodeDecodeError:
                ex = "<%d bytes of binary data>" % len(self.body)
            lines.append("body: " + ex.replace("\n", "\\n") + ("..." if len(self.body) > 400 else ""))
        if self.incomplete:
            lines.append("(incomplete response: %s)" % self.incomplete)
        if self.send_error:
            lines.append("(server stopped reading the request body: %s)" % self.send_error)
        return lines

    def __repr__(self):
        return "<Response %s %s %d>" % (self.method, self.path, self.status)


class Conn:
    """One TCP connection; several requests may be sent on it (keep-alive)."""

    def __init__(self, host, port, timeout=30):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")

    def close(self):
        try:
            self.rfile.close()
        except Exception:
            pass
        try:
            self.sock.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _readable(self):
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def send_request(self, method, path, headers=None, body=None, chunked=False,
                     auto_length=True, truncate=None):
        """Send one request. headers: dict or list of pairs, sent as given (a Content-Length
        or Transfer-Encoding among them suppresses the automatic one). body: bytes or an
        iterable of bytes. chunked: frame the body with chunked transfer-encoding.
        truncate: send only this many bytes of the body and stop (the caller then closes or
        half-closes). Returns the send error (e.g. EPIPE) or None."""
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in hdrs}
        out = ["%s %s HTTP/1.1" % (method, path)]
        if "host" not in names:
            out.append("Host: %s:%d" % (self.host, self.port))
        if chunked and "transfer-encoding" not in names:
            out.append("Transfer-Encoding: chunked")
        elif auto_length and "content-length" not in names and "transfer-encoding" not in names:
            if isinstance(body, (bytes, bytearray)):
                out.append("Content-Length: %d" % len(body))
            elif body is None and method in ("POST", "PUT", "PATCH"):
                out.append("Content-Length: 0")
        for k, v in hdrs:
            out.append("%s: %s" % (k, v))
        head = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        try:
            self.sock.sendall(head)
            if body is None:
                if chunked:
                    self.sock.sendall(b"0\r\n\r\n")
                return None
            pieces = [body] if isinstance(body, (bytes, bytearray)) else body
            sent = 0
            for piece in pieces:
                for off in range(0, len(piece), 65536):
                    part = piece[off:off + 65536]
                    if truncate is not None:
                        if sent >= truncate:
                            return None
                        part = part[:truncate - sent]
                    if self._readable():
                        # The server answered (or closed) before reading the whole body.
                        return "server responded early"
                    if chunked:
                        self.sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                    else:
                        self.sock.sendall(part)
                    sent += len(part)
            if truncate is not None:
                return None
            if chunked:
                self.sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError) as e:
            return str(e)
        return None

    def _readline(self):
        line = self.rfile.readline(65537)
        if not line:
            raise ConnectionError("connection closed by server")
        return line

    def read_response(self, method, path, sink=None):
        """Read one response. sink: callable given each body piece instead of keeping it."""
        resp = Response(method, path)
        while True:
            line = self._readline().decode("latin-1").rstrip("\r\n")
            parts = line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise ConnectionError("bad status line %r" % line)
            resp.version = parts[0]
            resp.status = int(parts[1])
            resp.reason = parts[2] if len(parts) > 2 else ""
            resp.headers = []
            while True:
                hl = self._readline().decode("latin-1").rstrip("\r\n")
                if hl == "":
                    break
                if ":" in hl:
                    k, v = hl.split(":", 1)
                    resp.headers.append((k.strip(), v.strip()))
            if 100 <= resp.status < 200:
                continue
            break
        chunks = []

        def take(data):
            resp.body_len += len(data)
            if sink:
                sink(data)
            else:
                chunks.append(data)

        te = (resp.h("Transfer-Encoding") or "").lower()
        cl = resp.h("Content-Length")
        if method == "HEAD" or resp.status in (204, 304):
            pass
        elif "chunked" in te:
            while True:
                size_line = self._readline().decode("latin-1").strip()
                size = int(size_line.split(";")[0], 16)
                if size == 0:
                    while self._readline() not in (b"\r\n", b"\n"):
                        pass
                    break
                left = size
                while left:
                    data = self.rfile.read(min(left, 1 << 20))
                    if not data:
                        raise ConnectionError("connection closed inside a chunk")
                    take(data)
                    left -= len(data)
                self._readline()
        elif cl is not None:
            left = int(cl)
            while left:
                data = self.rfile.read(min(left, 1 << 20))
                if not data:
                    resp.incomplete = ("connection closed with %d of %s body bytes missing"
                                       % (left, cl))
                    break
                take(data)
                left -= len(data)
        else:
            while True:
                data = self.rfile.read(1 << 20)
                if not data:
                    break
                take(data)
        resp.body = b"".join(chunks)
        if resp.h(API_VERSION_HEADER) is None:
            with _missing_lock:
                MISSING_API_HEADER.append("%s %s -> %d" % (method, path, resp.status))
        if VERBOSE:
            print("# %s %s -> %d" % (method, path, resp.status))
        return resp

    def request(self, method, path, headers=None, body=None, chunked=False, auto_length=True,
                sink=None):
        err = self.send_request(method, path, headers, body, chunked, auto_length)
        try:
            resp = self.read_response(method, path, sink)
        except (ConnectionError, OSError) as e:
            if err:
                raise ConnectionError("%s %s: send failed (%s) and no response (%s)"
                                      % (method, path, err, e))
            raise ConnectionError("%s %s: %s" % (method, path, e))
        resp.send_error = err
        return resp


def loc_path(location):
    """The path+query of a Location header value (absolute URL or absolute path)."""
    if location is None:
        return None
    if location.startswith("http://") or location.startswith("https://"):
        u = urllib.parse.urlsplit(location)
        return u.path + ("?" + u.query if u.query else "")
    return location


def add_query(path, **params):
    sep = "&" if "?" in path else "?"
    return path + sep + urllib.parse.urlencode(params)


# ---------------------------------------------------------------------------------------
# The registry under test


class Tap:
    """A bare TAP printer for scripts that run their own steps instead of a Suite: call it
    with (ok, description, diagnostics); n and failed count the lines printed."""

    def __init__(self, keep=40):
        self.n = 0
        self.failed = 0
        self.keep = keep

    def __call__(self, ok, desc, diag=""):
        self.n += 1
        if not ok:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, desc))
        if not ok and diag:
            for line in str(diag).splitlines()[-self.keep:]:
                print("#   " + line)
        sys.stdout.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test script dies (Linux), so a killed
    test run leaves no server behind."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Registry:
    """A registry under test: either a berthd (or docker-registry) process this object
    started, or an external one (TEST_REGISTRY_URL)."""

    def __init__(self, read_only=False):
        self.url = os.environ.get("TEST_REGISTRY_URL")
        self.external = bool(self.url)
        self.impl = os.environ.get("BERTH_TEST_IMPL", "berthd")
        self.proc = None
        self.tmp = None
        self.data = None
        self.read_only = read_only
        self.known_repos = set()
        self.known_manifests = set()  # (repo, ref)
        self.known_blobs = set()  # (repo, digest)
        self.prefix = "bt" + rand_name(6)
        self.log_path = None
        if self.external:
            u = urllib.parse.urlsplit(self.url)
            self.host, self.port = u.hostname, u.port or 80
        else:
            self.host = "127.0.0.1"
            self.port = None

    # --- process control

    def binary(self):
        if self.impl == "docker-registry":
            return shutil.which("docker-registry") or "/usr/bin/docker-registry"
        b = os.environ.get("BERTHD")
        if b:
            return b
        cand = os.path.join(REPO_ROOT, "berthd")
        if os.access(cand, os.X_OK):
            return cand
        return None

    def data_args(self):
        """Arguments naming this registry's data (for berthd's subcommands): its data folder
        and, on PostgreSQL, its database."""
        return data_args(self.data)

    def db(self):
        """A connection to this registry's metadata database (sqlite3's, or on PostgreSQL a
        psycopg2 one behind the same execute/commit/close calls and ? parameters)."""
        pg = postgres_database(self.data)
        if not pg:
            import sqlite3
            return sqlite3.connect(os.path.join(self.data, "berth.db"), timeout=30)
        return PgConnection(pg)

    def signing_key_path(self):
        """The PEM file of the token signing key: the data folder's, or on PostgreSQL (where
        every node shares the key kept in the database) a copy read from the database."""
        pg = postgres_database(self.data)
        if not pg:
            return os.path.join(self.data, "token-signing-key.pem")
        p = subprocess.run(["psql", "-qAt", pg, "-c",
                            "SELECT value FROM shared_settings WHERE name = 'token-signing-key'"],
                           check=True, stdout=subprocess.PIPE)
        path = os.path.join(self.tmp, "shared-signing-key.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(p.stdout)
        return path

    def _command(self, port, read_only):
        if self.impl == "docker-registry":
            cfg = os.path.join(self.tmp, "config-%d.yml" % port)
            with open(cfg, "w") as f:
                f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                        "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n"
                        "    enabled: true\n" % self.data)
                if read_only:
                    f.write("  maintenance:\n    readonly:\n      enabled: true\n")
                f.write("http:\n  addr: 127.0.0.1:%d\n  secret: berthtest\n" % port)
            return [self.binary(), "serve", cfg]
        # The conformance suites test an open registry; accounts have tests of their own.
        cmd = [self.binary(), "--listen", "127.0.0.1:%d" % port, "--data", self.data,
               "--log-level", "warn", "--auth", os.environ.get("BERTH_TEST_AUTH", "none")]
        if read_only:
            cmd.append("--read-only")
        pg = postgres_database(self.data)
        if pg:
            cmd += ["--database", pg]
        cmd += shlex.split(os.environ.get("BERTH_TEST_ARGS", ""))
        return cmd

    def start(self):
        if self.external:
            self.wait_ready(10)
            return
        if self.binary() is None:
            raise SkipAll("no BERTHD (set BERTHD to the berthd binary, TEST_REGISTRY_URL, "
                          "or BERTH_TEST_IMPL=docker-registry)")
        if self.tmp is None:
            base = os.environ.get("BERTH_TEST_TMP") or None
            if base:
                os.makedirs(base, exist_ok=True)
            self.tmp = tempfile.mkdtemp(prefix="berth-api-", dir=base)
            self.data = os.path.join(self.tmp, "data")
            os.makedirs(self.data)
            self.log_path = os.path.join(self.tmp, "server.log")
        last = None
        for _attempt in range(3):
            port = self.port if (self._keep_port and self.port) else free_port()
            cmd = self._command(port, self.read_only)
            log = open(self.log_path, "ab")
            log.write(("\n=== %s\n" % " ".join(cmd)).encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            log.close()
            self.port = port
            try:
                self.wait_ready(10)
                return
            except Exception as e:
                last = e
                exited = self.proc.poll() is not None
                self._kill()
                if exited and _attempt < 2:
                    time.sleep(0.2)
                    continue
                break
        raise RuntimeError("server did not become ready: %s; log tail:\n%s" % (last, self.log_tail()))

    _keep_port = False

    def log_tail(self, n=20):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])

    def wait_ready(self, timeout):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("server exited with status %s" % self.proc.returncode)
            try:
                r = self.request("GET", "/v2/", timeout=2)
                if r.status == 200 or (r.status == 401 and self.impl != "docker-registry"):
                    return  # 401: ready, asking for credentials (--auth token)
                last = "GET /v2/ -> %d" % r.status
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise RuntimeError("GET /v2/ not 200 within %ds (%s)" % (timeout, last))

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s. Returns (exit status, seconds taken)."""
        if self.proc is None:
            return None, 0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc, time.time() - t0

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, read_only=None):
        """Stop and start again on the same data dir (and port). read_only: new mode."""
        if self.external:
            raise Skip("external registry: cannot restart")
        rc, took = self.stop()
        if read_only is not None:
            self.read_only = read_only
        self._keep_port = True
        try:
            self.start()
        finally:
            self._keep_port = False
        return rc, took

    def cleanup(self, keep):
        if not self.external:
            if self.proc is not None:
                self.stop()
            if self.tmp and not keep:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # --- requests

    def repo(self, name):
        """A repository name unique to this run (so runs against a shared registry don't
        collide): "<prefix>/<name>"."""
        return "%s/%s" % (self.prefix, name)

    def connect(self, timeout=None):
        return Conn(self.host, self.port, timeout or DEFAULT_TIMEOUT)

    # Credentials ("Basic ..." or "Bearer ...") that request() sends with every /v2/ and
    # /metrics request having no Authorization of its own: against berthd --auth token, the
    # push helpers and state snapshots then act as this caller (see as_user).
    default_auth = None

    def request(self, method, path, headers=None, body=None, chunked=False, auto_length=True,
                sink=None, timeout=None):
        if self.default_auth and (path.startswith("/v2/") or path == "/metrics"):
            h = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
            if not any(k.lower() == "authorization" for k, _ in h):
                headers = h + [("Authorization", self.default_auth)]
        with self.connect(timeout or DEFAULT_TIMEOUT) as c:
            return c.request(method, path, headers, body, chunked, auto_length, sink)

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers, **kw)

    def head(self, path, headers=None, **kw):
        return self.request("HEAD", path, headers, **kw)

    def truncated(self, method, path, headers, declared_length, body, send_bytes, wait=3):
        """Send a request that declares Content-Length `declared_length` but only sends the
        first `send_bytes` of body, then half-close. Returns the response the server sent
        (or None if it just closed); either way the request must not have stored anything."""
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        hdrs.append(("Content-Length", str(declared_length)))
        c = Conn(self.host, self.port, timeout=wait)
        try:
            c.send_request(method, path, hdrs, body, truncate=send_bytes)
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            try:
                return c.read_response(method, path)
            except (OSError, ConnectionError, ValueError):
                return None
        finally:
            c.close()

    def raw(self, data, timeout=5):
        """Send raw bytes; read until the server closes or `timeout`. Returns
        (bytes read, seconds, closed_by_server)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        t0 = time.time()
        got = b""
        closed = False
        try:
            s.sendall(data)
            while True:
                left = timeout - (time.time() - t0)
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not d:
                    closed = True
                    break
                got += d
        finally:
            s.close()
        return got, time.time() - t0, closed

    # --- pushing

    def start_upload(self, repo, headers=None):
        r = self.request("POST", "/v2/%s/blobs/uploads/" % repo, headers)
        expect_status(r, 202)
        loc = r.h("Location")
        check(loc, "POST upload: no Location header", r)
        return loc_path(loc)

    def push_blob(self, repo, data, digest=None):
        """POST then PUT ?digest= with the whole body (the portable two-step monolithic
        upload). Returns the digest."""
        digest = digest or sha256(data)
        loc = self.start_upload(repo)
        r = self.request("PUT", add_query(loc, digest=digest),
                         {"Content-Type": "application/octet-stream"}, data)
        expect_status(r, 201)
        self.known_repos.add(repo)
        self.known_blobs.add((repo, digest))
        return digest

    def push_blob_chunked(self, repo, data, chunk=1024, content_range=True):
        """POST, one PATCH per `chunk` bytes (with Content-Range unless content_range is
        False), then PUT ?digest= without body. Returns the digest."""
        digest = sha256(data)
        loc = self.start_upload(repo)
        off = 0
        while off < len(data):
            piece = data[off:off + chunk]
            hdrs = {"Content-Type": "application/octet-stream"}
            if content_range:
                hdrs["Content-Range"] = "%d-%d" % (off, off + len(piece) - 1)
            r = self.request("PATCH", loc, hdrs, piece)
            expect_status(r, 202)
            check(r.h("Range") == "0-%d" % (off + len(piece) - 1),
                  "PATCH: Range %r, want 0-%d" % (r.h("Range"), off + len(piece) - 1), r)
            loc = loc_path(r.h("Location")) or loc
            off += len(piece)
        r = self.request("PUT", add_query(loc, digest=digest))
        expect_status(r, 201)
        self.known_repos.add(repo)
        self.known_blobs.add((repo, digest))
        return digest

    def push_manifest(self, repo, ref, body, media_type, expect=201):
        """PUT a manifest; checks the status (unless expect is None) and returns the
        response. On success the manifest is remembered for snapshots."""
        r = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref),
                         {"Content-Type": media_type}, body)
        if expect is not None:
            expect_status(r, expect)
        if r.status == 201:
            self.known_repos.add(repo)
            self.known_manifests.add((repo, ref))
            self.known_manifests.add((repo, sha256(body)))
        return r

    def get_manifest(self, repo, ref, method="GET", accept=MANIFEST_ACCEPT):
        return self.request(method, "/v2/%s/manifests/%s" % (repo, ref), {"Accept": accept})

    def push_image(self, repo, tag=None, kind="oci", layers=1, layer_size=512, subject=None,
                   artifact_type=None, annotations=None, extra=None):
        """Push config + layer blobs and an image manifest. kind: "oci", "docker" or
        "artifact" (empty config, artifactType). Returns an Image."""
        blobs = []
        if kind == "artifact":
            cfg_data, cfg_mt = EMPTY_CONFIG_DATA, MT_OCI_EMPTY
        else:
            cfg_data = json.dumps({"architecture": "amd64", "os": "linux",
                                   "rootfs": {"type": "layers", "diff_ids": []},
                                   "nonce": rand_name(16)}).encode()
            cfg_mt = MT_DOCKER_CONFIG if kind == "docker" else MT_OCI_CONFIG
        self.push_blob(repo, cfg_data)
        blobs.append((sha256(cfg_data), cfg_data))
        layer_descs = []
        for _ in range(layers):
            d = rand_bytes(layer_size)
            self.push_blob(repo, d)
            blobs.append((sha256(d), d))
            lmt = MT_DOCKER_LAYER if kind == "docker" else (
                "application/vnd.example.data" if kind == "artifact" else MT_OCI_LAYER)
            layer_descs.append(descriptor(lmt, d))
        cfg_desc = descriptor(cfg_mt, cfg_data)
        if kind == "docker":
            m = docker_manifest(cfg_desc, layer_descs)
            mt = MT_DOCKER_MANIFEST
        else:
            m = oci_manifest(cfg_desc, layer_descs, subject=subject,
                             artifact_type=artifact_type or ("application/vnd.example.test"
                                                             if kind == "artifact" else None),
                             annotations=annotations)
            mt = MT_OCI_MANIFEST
        if extra:
            m.update(extra)
        body = canon(m)
        digest = sha256(body)
        r = self.push_manifest(repo, tag or digest, body, mt)
        return Image(repo, tag, body, mt, digest, blobs, r)

    # --- observable state

    def snapshot(self, repos=(), manifests=(), blobs=(), uploads=(), scope=None):
        """Observable state: this run's part of the catalog, tags of known + given repos,
        every known + given manifest (status, digest, type, body hash) and blob (HEAD
        status, length, digest), and the status of given upload locations. scope: a list
        of repositories to limit the known items to (the given ones are always taken)."""
        def inscope(repo):
            return scope is None or repo in scope

        state = {}
        state["catalog"] = tuple(n for n in self.catalog_all() if n.startswith(self.prefix + "/"))
        conn = [None]

        def req(method, path, headers=None):
            for attempt in (0, 1):
                if conn[0] is None:
                    conn[0] = self.connect()
                try:
                    r = conn[0].request(method, path, headers)
                except (OSError, ConnectionError):
                    conn[0].close()
                    conn[0] = None
                    if attempt:
                        raise
                    continue
                if (r.h("Connection") or "").lower() == "close":
                    conn[0].close()
                    conn[0] = None
                return r

        try:
            for repo in sorted(set(repos) | {r for r in self.known_repos if inscope(r)}):
                r = req("GET", "/v2/%s/tags/list" % repo)
                tags = None
                if r.status == 200:
                    try:
                        tags = tuple(sorted(r.json().get("tags") or []))
                    except Exception:
                        tags = "unparsable"
                state["tags " + repo] = (r.status, tags)
            for repo, ref in sorted(set(manifests) | {m for m in self.known_manifests if inscope(m[0])}):
                r = req("GET", "/v2/%s/manifests/%s" % (repo, ref), {"Accept": MANIFEST_ACCEPT})
                state["manifest %s:%s" % (repo, ref)] = (
                    r.status, r.h("Docker-Content-Digest") if r.status == 200 else None,
                    r.h("Content-Type") if r.status == 200 else None,
                    sha256(r.body) if r.status == 200 else None)
            for repo, d in sorted(set(blobs) | {b for b in self.known_blobs if inscope(b[0])}):
                r = req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
                state["blob %s@%s" % (repo, d)] = (
                    r.status, r.h("Content-Length") if r.status == 200 else None,
                    r.h("Docker-Content-Digest") if r.status == 200 else None)
            for repo, loc in uploads:
                r = req("GET", loc)
                state["upload " + loc] = (r.status, r.h("Range") if r.status == 204 else None)
        finally:
            if conn[0] is not None:
                conn[0].close()
        return state

    def catalog_all(self, limit=200):
        """Every repository name, following Link pagination (at most `limit` pages)."""
        names = []
        path = "/v2/_catalog"
        for _ in range(limit):
            r = self.get(path)
            if r.status != 200:
                return ["<catalog status %d>" % r.status]
            names += r.json().get("repositories") or []
            nxt = link_next(r)
            if not nxt:
                break
            path = nxt
        return names

    def unchanged(self, before, **kw):
        """Compare a fresh snapshot with `before`; raise CheckFailed listing differences."""
        after = self.snapshot(**kw)
        diffs = diff_snapshots(before, after)
        if diffs:
            raise CheckFailed("stored state changed after a rejected request", extra=diffs)


# ---------------------------------------------------------------------------------------
# Accounts: suites that run berthd with --auth token (BERTH_TEST_AUTH=token before the
# Registry is made) create their users with `berthd user add` and call /api/v1 as them.


def basic_auth(user, password):
    """The Authorization value of HTTP Basic credentials."""
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def berthd_cli(reg, *args, stdin=None, text=False):
    """Run `berthd ARGS...` on reg's data (folder and database). Returns the
    subprocess.CompletedProcess with stdout and stderr (bytes, or str with text)."""
    if stdin is not None and not text and isinstance(stdin, str):
        stdin = stdin.encode()
    return subprocess.run([reg.binary()] + list(args) + reg.data_args(), input=stdin, capture_output=True,
                          text=text, timeout=60)


class Accounts:
    """A suite's accounts, {name: password}; those named in admins are administrators.

        ACCOUNTS = Accounts({"admin": "admin-password-1", "alice": "alice-password-1"})
        ACCOUNTS.add(reg)                          # berthd user add, in a set-up case
        ACCOUNTS.as_user(reg, "alice")             # /v2/ requests (pushes) as alice
        ACCOUNTS.api(reg, "alice", "GET", "/user") # /api/v1 as alice (None: anonymous)
    """

    def __init__(self, passwords, admins=("admin",)):
        self.passwords = dict(passwords)
        self.admins = tuple(admins)

    def add(self, reg):
        """Create every account with `berthd user add` on reg's data."""
        for name, password in self.passwords.items():
            admin = ["--admin"] if name in self.admins else []
            p = berthd_cli(reg, "user", "add", name, "--password-stdin", *admin, stdin=password + "\n")
            check(p.returncode == 0, "berthd user add %s: %s" % (name, (p.stdout + p.stderr).decode()))

    def basic(self, user):
        """The Basic Authorization value of user."""
        return basic_auth(user, self.passwords[user])

    def as_user(self, reg, user):
        """Make reg's /v2/ and /metrics requests carry user's credentials (None: none)."""
        reg.default_auth = self.basic(user) if user else None

    def api(self, reg, user, method, path, body=None):
        """METHOD /api/v1 + path as user (None: anonymous), body sent as JSON unless None."""
        h = {"Authorization": self.basic(user)} if user else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        return reg.request(method, "/api/v1" + path, h, data)


def json_doc(resp, status=200):
    """resp's JSON body, after checking its status."""
    expect_status(resp, status)
    try:
        return resp.json()
    except ValueError:
        raise CheckFailed("body is not JSON", resp)


def diff_snapshots(a, b):
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            out.append("%s: before %r, after %r" % (k, a.get(k), b.get(k)))
    return out


def link_next(resp):
    """The URL path of a `Link: <...>; rel="next"` header, or None."""
    for v in resp.hs("Link"):
        for part in v.split(","):
            part = part.strip()
            if 'rel="next"' in part or "rel=next" in part:
                if part.startswith("<") and ">" in part:
                    return loc_path(part[1:part.index(">")])
    return None


class Image:
    def __init__(self, repo, tag, body, media_type, digest, blobs, resp):
        self.repo, self.tag, self.body, self.media_type = repo, tag, body, media_type
        self.digest, self.blobs, self.resp = digest, blobs, resp
        self.size = len(body)

    def desc(self, **extra):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


# ---------------------------------------------------------------------------------------
# Manifest builders


def canon(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def descriptor(media_type, data=None, digest=None, size=None, **extra):
    d = {"mediaType": media_type,
         "digest": digest or sha256(data),
         "size": size if size is not None else len(data)}
    d.update(extra)
    return d


def docker_manifest(config_desc, layer_descs):
    return {"schemaVersion": 2, "mediaType": MT_DOCKER_MANIFEST,
            "config": config_desc, "layers": layer_descs}


def oci_manifest(config_desc, layer_descs, subject=None, artifact_type=None, annotations=None,
                 with_media_type=True):
    m = {"schemaVersion": 2}
    if with_media_type:
        m["mediaType"] = MT_OCI_MANIFEST
    if artifact_type:
        m["artifactType"] = artifact_type
    m["config"] = config_desc
    m["layers"] = layer_descs
    if subject:
        m["subject"] = subject
    if annotations:
        m["annotations"] = annotations
    return m


def index(children, kind="oci", subject=None, artifact_type=None, annotations=None):
    """children: list of descriptors (dicts, e.g. Image.desc(platform=...))."""
    mt = MT_DOCKER_LIST if kind == "docker" else MT_OCI_INDEX
    m = {"schemaVersion": 2, "mediaType": mt}
    if artifact_type:
        m["artifactType"] = artifact_type
    m["manifests"] = children
    if subject:
        m["subject"] = subject
    if annotations:
        m["annotations"] = annotations
    return m


def platform(arch="amd64", os_="linux"):
    return {"architecture": arch, "os": os_}


# ---------------------------------------------------------------------------------------
# Checks and the TAP runner


class CheckFailed(Exception):
    def __init__(self, msg, resp=None, extra=None):
        super().__init__(msg)
        self.resp = resp
        self.extra = extra or []


class Skip(Exception):
    pass


class SkipAll(Exception):
    pass


def check(cond, msg, resp=None, extra=None):
    if not cond:
        raise CheckFailed(msg, resp, extra)


def expect_status(resp, *statuses):
    if resp.status not in statuses:
        raise CheckFailed("status %d, want %s" % (resp.status, " or ".join(map(str, statuses))), resp)
    if resp.incomplete:
        raise CheckFailed("status %d but broken response: %s" % (resp.status, resp.incomplete), resp)


def expect_error(resp, status, *codes):
    """status (int or tuple) and, unless HEAD, an error body whose codes include one of
    `codes`. Returns the matched code."""
    statuses = status if isinstance(status, tuple) else (status,)
    expect_status(resp, *statuses)
    if resp.method == "HEAD" or not codes:
        return None
    got = resp.error_codes()
    if not got:
        raise CheckFailed("no {\"errors\":[...]} body, want code %s" % "/".join(codes), resp)
    try:
        doc = resp.json()
        for e in doc["errors"]:
            check(isinstance(e.get("code"), str) and isinstance(e.get("message", ""), str),
                  "error entry without string code/message: %r" % e, resp)
    except (ValueError, KeyError):
        raise CheckFailed("malformed error body", resp)
    for c in got:
        if c in codes:
            return c
    raise CheckFailed("error codes %s, want %s" % (got, " or ".join(codes)), resp)


def expect_header(resp, name, want=None):
    v = resp.h(name)
    if v is None:
        raise CheckFailed("no %s header" % name, resp)
    if want is not None and v != want:
        raise CheckFailed("%s: %r, want %r" % (name, v, want), resp)
    return v


def note(msg):
    for line in str(msg).splitlines():
        print("# " + line)
    sys.stdout.flush()


class Suite:
    """Collects cases and runs them against one registry, printing TAP.

        suite = Suite("blobs")
        @suite.case("GET returns the blob")
        def _(reg): ...
        @suite.case("invalid digest {0}", params=["sha256:xyz", ...])
        def _(reg, p): ...
        suite.run()
    """

    def __init__(self, name, needs_process=False):
        self.name = name
        self.cases = []
        self.needs_process = needs_process
        self.n = 0
        self.failed = 0
        self.failures = []

    def case(self, desc, params=None):
        def deco(fn):
            self.cases.append((desc, fn, params))
            return fn
        return deco

    def _emit(self, ok, desc, directive=None, lines=()):
        self.n += 1
        if not ok:
            self.failed += 1
            self.failures.append(desc)
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, desc,
                                " # " + directive if directive else ""))
        for line in lines:
            for sub in str(line).splitlines():
                print("#   " + sub)
        sys.stdout.flush()

    def _run_one(self, reg, desc, fn, args):
        t0 = time.time()
        try:
            fn(reg, *args)
        except Skip as e:
            self._emit(True, desc, "SKIP %s" % e)
            return
        except CheckFailed as e:
            lines = [str(e)]
            if e.resp is not None:
                lines += e.resp.diag()
            lines += e.extra
            self._emit(False, desc, lines=lines)
            return
        except Exception as e:
            lines = ["exception: %s: %s" % (type(e).__name__, e)]
            lines += traceback.format_exc().splitlines()[-6:]
            self._emit(False, desc, lines=lines)
            return
        self._emit(True, desc)
        took = time.time() - t0
        if took > 2:
            note("(took %.1f s)" % took)

    def run(self):
        reg = Registry()
        if self.needs_process and reg.external:
            print("1..0 # SKIP %s tests need to start the server (TEST_REGISTRY_URL is set)"
                  % self.name)
            return 0
        try:
            reg.start()
        except SkipAll as e:
            print("1..0 # SKIP %s" % e)
            return 0
        except Exception as e:
            print("not ok 1 - start registry")
            for line in str(e).splitlines():
                print("#   " + line)
            print("1..1")
            return 1
        note("%s tests against %s at %s:%d (repos under %s/)" % (
            self.name, reg.url or "%s %s" % (reg.impl, reg.binary()), reg.host, reg.port,
            reg.prefix))
        try:
            only = os.environ.get("BERTH_TEST_ONLY")
            for desc, fn, params in self.cases:
                if only and not re.search(only, desc):
                    continue
                if params is None:
                    self._run_one(reg, desc, fn, ())
                else:
                    for p in params:
                        args = p if isinstance(p, tuple) else (p,)
                        label = desc.format(*[a if len(repr(a)) < 60 else repr(a)[:57] + "..."
                                              for a in (repr(x) if isinstance(x, str) else x
                                                        for x in args)])
                        self._run_one(reg, label, fn, args)
            with _missing_lock:
                missing = list(MISSING_API_HEADER)
            self._emit(not missing, "every response carried %s" % API_VERSION_HEADER,
                       lines=["%d responses without it, e.g.:" % len(missing)] + missing[:10]
                       if missing else ())
            if reg.proc is not None:
                alive = reg.proc.poll() is None
                rc, took = reg.stop()
                ok = alive and rc == 0 and took < 10
                self._emit(ok, "server exits on SIGTERM within 10 s with status 0",
                           lines=() if ok else ["%s; exit status %s after %.1f s%s" % (
                               "was running" if alive else "had already exited", rc, took,
                               " (killed)" if took >= 10 else "")])
        finally:
            if reg.proc is not None and reg.proc.poll() is not None:
                note("server exited unexpectedly with status %s" % reg.proc.returncode)
            keep = self.failed > 0
            if keep and reg.tmp:
                note("server data and log kept in %s" % reg.tmp)
                tail = reg.log_tail(15)
                if tail:
                    note("server log tail:\n" + tail)
            reg.cleanup(keep)
        print("1..%d" % self.n)
        if self.failed:
            note("%d of %d failed" % (self.failed, self.n))
        return 1 if self.failed else 0

    def main(self):
        sys.exit(self.run())


def run_all(argv):
    """python3 tests/lib/berthtest.py [pattern...]: run every tests/api/test_*.py (or those
    whose name contains a pattern) and print a summary."""
    api = os.path.join(REPO_ROOT, "tests", "api")
    scripts = sorted(f for f in os.listdir(api) if f.startswith("test_") and f.endswith(".py"))
    if argv:
        scripts = [s for s in scripts if any(p in s for p in argv)]
    total_fail = 0
    t_all = time.time()
    summary = []
    for s in scripts:
        t0 = time.time()
        p = subprocess.run([sys.executable, os.path.join(api, s)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        out = p.stdout.decode("utf-8", "replace")
        fails = [l for l in out.splitlines() if l.startswith("not ok")]
        oks = [l for l in out.splitlines() if l.startswith("ok ")]
        total_fail += len(fails) + (1 if p.returncode and not fails else 0)
        summary.append("%-28s %3d ok %3d not ok  %5.1fs%s" % (s, len(oks), len(fails),
                                                           time.time() - t0,
                                                           "" if p.returncode == 0 else "  FAIL"))
        sys.stdout.write(out)
    print("# ---- summary (%.1fs)" % (time.time() - t_all))
    for line in summary:
        print("# " + line)
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
