#!/usr/bin/env python3
"""Schema parity between the two metadata engines: schema/NNN_*.sql (SQLite) and
schema/postgres/NNN_*.sql (PostgreSQL) must build the same database.

A throwaway PostgreSQL 15 runs on loopback (initdb + pg_ctl, no systemd; stopped and removed
on exit). Checked:
- both folders hold the same migration file names, and Makefile.am embeds all of them;
- after 001..N applied to a fresh database of each engine (each file in one transaction, as
  berthd's runner does), table by table: column names in order, types (SQLite INTEGER and
  BIGINT -> bigint, TEXT -> text, BLOB -> bytea), nullability, defaults, primary keys, the
  indexes (column lists with DESC, unique, partial), the named indexes, foreign keys with
  their ON DELETE, the number of CHECK constraints and the triggers (name, timing, event);
- on PostgreSQL: every text column sorts by bytes (COLLATE "C"), ids are identity columns,
  and instr() behaves as SQLite's;
- the upgrade path: the migrations applied one by one to a second database of each engine,
  with the same rows written between them, end in the same schema as the fresh database,
  and in the same rows on both engines (what the data-moving statements and the triggers of
  each migration computed), also after deletes that cascade through the triggers; the rows
  are compared in ORDER BY order, in a PostgreSQL database whose default collation is not
  bytewise (ICU), so a text column without COLLATE "C" shows;
- bad rows (CHECK, UNIQUE, NOT NULL and foreign-key violations) are refused by both engines.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import Tap, free_port  # noqa: E402

TOP = os.environ.get("BERTH_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_BIN = os.environ.get("BERTH_PG_BIN", "/usr/lib/postgresql/15/bin")
SQLITE_FILES = sorted(glob.glob(os.path.join(TOP, "schema", "[0-9][0-9][0-9]_*.sql")))
PG_FILES = sorted(glob.glob(os.path.join(TOP, "schema", "postgres", "[0-9][0-9][0-9]_*.sql")))
SEP = "\t"
NULL = "<NULL>"

tap = Tap(40)


class Failed(Exception):
    pass


class Postgres:
    """A PostgreSQL cluster of its own in a temporary folder, on 127.0.0.1 and a unix socket
    in that folder; the postgres OS user runs it when this test runs as root."""

    def __init__(self):
        # Not under BERTH_TEST_TMP: that folder is private to root, and the server runs as
        # the postgres user.
        self.dir = tempfile.mkdtemp(prefix="berth-pgschema.", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = None
        self.started = False
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def start(self):
        r = subprocess.run(self.as_user + [os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                                           "--auth=trust", "--locale=C.UTF-8", "--no-sync"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise Failed("initdb failed:\n" + r.stdout + r.stderr)
        last = ""
        for _ in range(5):  # a free port may be taken again before the server binds it
            self.port = free_port()
            opts = "-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off" % (self.dir, self.port)
            r = subprocess.run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log,
                                               "-o", opts, "-w", "-t", "60", "start"],
                               capture_output=True, text=True, timeout=90)
            if r.returncode == 0:
                self.started = True
                return
            last = r.stdout + r.stderr
            if os.path.exists(self.log):
                with open(self.log) as f:
                    last += f.read()[-2000:]
        raise Failed("pg_ctl start failed:\n" + last)

    def stop(self):
        if self.started:
            subprocess.run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "immediate",
                                           "-w", "stop"], capture_output=True, timeout=60)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, db, sql=None, path=None, one_transaction=False):
        """(exit status, stdout, stderr) of psql on database db: rows as tab-separated text."""
        cmd = ["psql", "-X", "-q", "-A", "-t", "-F", SEP, "-P", "null=" + NULL, "-v", "ON_ERROR_STOP=1",
               "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db]
        if one_transaction and path:
            cmd.append("-1")
        elif one_transaction:
            sql = "BEGIN;\n" + sql + "\nCOMMIT;\n"  # psql's -1 covers -c and -f only
        if path:
            cmd += ["-f", path]
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def rows(self, db, sql):
        rc, out, err = self.run(db, sql)
        if rc != 0:
            raise Failed("psql failed on %s:\n%s\n%s" % (db, sql, err))
        return [line.split(SEP) for line in out.splitlines() if line != ""]


def sqlite_run(path, sql):
    """(exit status, stdout, stderr) of the sqlite3 shell on path, foreign keys on as in berthd."""
    r = subprocess.run(["sqlite3", "-bail", "-batch", "-noheader", "-list", "-separator", SEP, "-nullvalue", NULL,
                        path], input="PRAGMA foreign_keys = ON;\n" + sql, capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def sqlite_rows(path, sql):
    rc, out, err = sqlite_run(path, sql)
    if rc != 0 or err.strip():
        raise Failed("sqlite3 failed on %s:\n%s\n%s" % (path, sql, err))
    return [line.split(SEP) for line in out.splitlines() if line != ""]


def sqlite_migrate(path, mig):
    """Apply one SQLite migration the way berthd's runner does: in one transaction."""
    with open(mig) as f:
        body = f.read()
    rc, _, err = sqlite_run(path, "BEGIN IMMEDIATE;\n" + body + "\nCOMMIT;\n")
    if rc != 0 or err.strip():
        raise Failed("%s on SQLite: %s" % (os.path.basename(mig), err))


def pg_migrate(pg, db, mig):
    rc, _, err = pg.run(db, path=mig, one_transaction=True)
    if rc != 0:
        raise Failed("%s on PostgreSQL: %s" % (os.path.basename(mig), err))


# --- schema descriptions, one canonical form for both engines

SQLITE_TYPES = {"INTEGER": "bigint", "BIGINT": "bigint", "TEXT": "text", "BLOB": "bytea"}
PG_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
CHECK_RE = re.compile(r"\bCHECK\s*\(", re.I)
TRIGGER_RE = re.compile(r"CREATE\s+TRIGGER\s+\S+\s+(BEFORE|AFTER|INSTEAD\s+OF)\s+(INSERT|UPDATE|DELETE)\b", re.I)


def norm_default(d):
    if d == NULL:
        return None
    return re.sub(r"::[a-z ]+$", "", d)


def sqlite_schema(path):
    """{table: description} of the SQLite database at path."""
    tables = {}
    for (t, sql) in sqlite_rows(path, "SELECT name, replace(replace(sql, char(10), ' '), char(9), ' ') "
                                "FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%';"):
        tables[t] = {"columns": [], "pk": [], "indexes": set(), "index_names": set(), "fks": set(),
                     "checks": len(CHECK_RE.findall(sql)), "triggers": set()}
    pk = {}
    types = {}
    for (t, cid, name, typ, notnull, dflt, pkpos) in sqlite_rows(
            path, "SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk "
            "FROM sqlite_master m JOIN pragma_table_info(m.name) p "
            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid;"):
        typ_pg = SQLITE_TYPES.get(typ.upper(), "? " + typ)
        types[(t, name)] = typ.upper()
        # A PRIMARY KEY column holds no NULL in PostgreSQL; in SQLite the rowid alias cannot
        # either, and the other key columns must not (berthd never writes one).
        tables[t]["columns"].append((name, typ_pg, notnull == "1" or pkpos != "0", norm_default(dflt)))
        if pkpos != "0":
            pk.setdefault(t, []).append((int(pkpos), name))
    for t, cols in pk.items():
        tables[t]["pk"] = [c for _, c in sorted(cols)]
        # INTEGER PRIMARY KEY is the rowid: SQLite lists no index for it, PostgreSQL has one.
        if len(cols) == 1 and types[(t, cols[0][1])] == "INTEGER":
            tables[t]["indexes"].add(((cols[0][1],), True, False))
    idx = {}
    for (t, iname, unique, origin, partial, seq, col, desc) in sqlite_rows(
            path, "SELECT m.name, il.name, il.\"unique\", il.origin, il.partial, x.seqno, x.name, x.\"desc\" "
            "FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_xinfo(il.name) x "
            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND x.key = 1;"):
        e = idx.setdefault((t, iname), {"unique": unique == "1", "partial": partial == "1", "origin": origin,
                                         "cols": []})
        e["cols"].append((int(seq), col + (" DESC" if desc == "1" else "")))
    for (t, iname), e in idx.items():
        tables[t]["indexes"].add((tuple(c for _, c in sorted(e["cols"])), e["unique"], e["partial"]))
        if e["origin"] == "c":
            tables[t]["index_names"].add(iname)
    fks = {}
    for (t, fid, seq, ref, frm, to, on_delete) in sqlite_rows(
            path, "SELECT m.name, f.id, f.seq, f.\"table\", f.\"from\", f.\"to\", f.on_delete "
            "FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f "
            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%';"):
        e = fks.setdefault((t, fid), {"ref": ref, "on_delete": on_delete, "cols": []})
        e["cols"].append((int(seq), frm, to))
    for (t, _), e in fks.items():
        cols = sorted(e["cols"])
        tables[t]["fks"].add((tuple(c[1] for c in cols), e["ref"], tuple(c[2] for c in cols), e["on_delete"]))
    for (t, name, sql) in sqlite_rows(path, "SELECT tbl_name, name, replace(replace(sql, char(10), ' '), "
                                      "char(9), ' ') FROM sqlite_master WHERE type = 'trigger';"):
        m = TRIGGER_RE.search(sql)
        tables[t]["triggers"].add((name, m.group(1).upper() if m else "?", m.group(2).upper() if m else "?"))
    return tables


def pg_schema(pg, db):
    """({table: description}, {(table, column): (collation, identity)}) of a PostgreSQL database."""
    tables = {}
    extra = {}
    for (t,) in pg.rows(db, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind = 'r'"):
        tables[t] = {"columns": [], "pk": [], "indexes": set(), "index_names": set(), "fks": set(),
                     "checks": 0, "triggers": set()}
    for (t, name, typ, notnull, dflt, coll, ident) in pg.rows(
            db, "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::int, "
            "pg_get_expr(d.adbin, d.adrelid), COALESCE(co.collname, ''), a.attidentity "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY c.relname, a.attnum"):
        tables[t]["columns"].append((name, typ, notnull == "1", norm_default(dflt)))
        extra[(t, name)] = (typ, coll, ident)
    for (t, iname, unique, primary, partial, k, col, desc, constraint) in pg.rows(
            db, "SELECT t.relname, i.relname, ix.indisunique::int, ix.indisprimary::int, "
            "(ix.indpred IS NOT NULL)::int, k, COALESCE(a.attname, pg_get_indexdef(ix.indexrelid, k, true)), "
            "ix.indoption[k - 1] & 1, "
            "(EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = ix.indexrelid))::int "
            "FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "CROSS JOIN generate_series(1, ix.indnkeyatts) k "
            "LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[k - 1] "
            "WHERE n.nspname = 'public' ORDER BY t.relname, i.relname, k"):
        e = tables[t].setdefault("_idx", {}).setdefault(iname, {"unique": unique == "1", "partial": partial == "1",
                                                                 "cols": [], "primary": primary == "1",
                                                                 "constraint": constraint == "1"})
        e["cols"].append(col + (" DESC" if desc == "1" else ""))
    for t, d in tables.items():
        for iname, e in d.pop("_idx", {}).items():
            d["indexes"].add((tuple(e["cols"]), e["unique"], e["partial"]))
            if e["primary"]:
                d["pk"] = list(e["cols"])
            if not e["constraint"]:
                d["index_names"].add(iname)
    for (t, con, ref, deltype, cols, refcols) in pg.rows(
            db, "SELECT c.conrelid::regclass::text, c.conname, c.confrelid::regclass::text, c.confdeltype, "
            "(SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.conkey) WITH ORDINALITY k(n, o) "
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), "
            "(SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.confkey) WITH ORDINALITY k(n, o) "
            " JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'public' AND c.contype = 'f'"):
        tables[t]["fks"].add((tuple(cols.split(",")), ref, tuple(refcols.split(",")), PG_ON_DELETE[deltype]))
    for (t, count) in pg.rows(db, "SELECT c.conrelid::regclass::text, COUNT(*) FROM pg_constraint c "
                              "JOIN pg_namespace n ON n.oid = c.connamespace "
                              "WHERE n.nspname = 'public' AND c.contype = 'c' GROUP BY 1"):
        tables[t]["checks"] = int(count)
    for (t, name, tgtype) in pg.rows(db, "SELECT tgrelid::regclass::text, tgname, tgtype FROM pg_trigger "
                                     "WHERE NOT tgisinternal"):
        bits = int(tgtype)
        timing = "INSTEAD OF" if bits & 64 else ("BEFORE" if bits & 2 else "AFTER")
        events = [e for b, e in ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE")) if bits & b]
        row = "" if bits & 1 else " (FOR EACH STATEMENT)"
        tables[t]["triggers"].add((name, timing + row, "|".join(events)))
    return tables, extra


def diff_table(a, b, la, lb):
    """Lines describing how table descriptions a (engine la) and b (engine lb) differ."""
    out = []
    if a["columns"] != b["columns"]:
        out.append("columns (name, type, NOT NULL, default):")
        out.append("  %s: %s" % (la, a["columns"]))
        out.append("  %s: %s" % (lb, b["columns"]))
    for key in ("pk", "indexes", "index_names", "fks", "checks", "triggers"):
        if a[key] != b[key]:
            if isinstance(a[key], set):
                out.append("%s only in %s: %s; only in %s: %s" % (key, la, sorted(a[key] - b[key]), lb,
                                                                 sorted(b[key] - a[key])))
            else:
                out.append("%s: %s %s, %s %s" % (key, la, a[key], lb, b[key]))
    return out


def compare_schemas(sa, sb, la, lb, what):
    tap(set(sa) == set(sb), "%s: the same tables" % what,
        "only in %s: %s\nonly in %s: %s" % (la, sorted(set(sa) - set(sb)), lb, sorted(set(sb) - set(sa))))
    for t in sorted(set(sa) & set(sb)):
        d = diff_table(sa[t], sb[t], la, lb)
        tap(not d, "%s: table %s matches (columns, types, NULL, defaults, keys, indexes, FKs, CHECKs, triggers)"
            % (what, t), "\n".join(d))


# --- rows written between the migrations of the upgrade path, and after the last one. Each
# step runs unchanged on both engines, except {hex:...} (a BLOB/BYTEA literal).

R = "(SELECT id FROM repositories WHERE name = '%s')"
M = "(SELECT id FROM manifests WHERE digest = '%s' AND repository_id = " + R + ")"
A = "(SELECT id FROM accounts WHERE name = '%s')"

STEPS = {
    1: """
INSERT INTO repositories (name, created_at, updated_at) VALUES
    ('library/busybox', 100, 100), ('alpine', 101, 101), ('acme/api', 102, 102), ('Zeta/app', 103, 103),
    ('acme/api-v2', 104, 104), ('acme/api_v2', 105, 105), ('acme/Api', 106, 106);
INSERT INTO blobs (digest, size, created_at) VALUES
    ('sha256:c1', 1000, 50), ('sha256:l1', 20000, 51), ('sha256:l2', 300000, 52), ('sha256:c2', 1100, 53);
INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES
    (%(busybox)s, 'sha256:c1', 60), (%(busybox)s, 'sha256:l1', 60), (%(api)s, 'sha256:c1', 61),
    (%(api)s, 'sha256:l2', 61);
INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) VALUES
    (%(busybox)s, 'sha256:m1', 'application/vnd.oci.image.manifest.v1+json', 2, {hex:7b7d}, 110),
    (%(api)s, 'sha256:m2', 'application/vnd.oci.image.manifest.v1+json', 3, {hex:00ff10}, 111),
    (%(api)s, 'sha256:m3', 'application/vnd.oci.image.index.v1+json', 1, {hex:41}, 112);
INSERT INTO manifest_references (manifest_id, kind, position, digest, size, media_type) VALUES
    (%(m1)s, 0, 0, 'sha256:c1', 1000, 'application/vnd.oci.image.config.v1+json'),
    (%(m1)s, 1, 0, 'sha256:l1', 20000, 'application/vnd.oci.image.layer.v1.tar+gzip'),
    (%(m2)s, 0, 0, 'sha256:c1', 1000, 'application/vnd.oci.image.config.v1+json'),
    (%(m2)s, 1, 0, 'sha256:l2', 300000, 'application/vnd.oci.image.layer.v1.tar+gzip'),
    (%(m2)s, 1, 1, 'sha256:foreign', 5, 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'),
    (%(m3)s, 2, 0, 'sha256:m2', 3, 'application/vnd.oci.image.manifest.v1+json');
INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES
    (%(busybox)s, 'latest', %(m1)s, 120), (%(busybox)s, 'Latest', %(m1)s, 120), (%(busybox)s, '1.36', %(m1)s, 120),
    (%(api)s, 'v1', %(m2)s, 121), (%(api)s, 'multi', %(m3)s, 121), (%(api)s, 'V2', %(m2)s, 121),
    (%(api)s, 'v10', %(m2)s, 121), (%(api)s, 'v1_b', %(m2)s, 121), (%(api)s, 'v1-b', %(m2)s, 121);
INSERT INTO uploads (id, repository_id, created_at, updated_at) VALUES ('u-1', %(busybox)s, 130, 130);
""",
    2: """
INSERT INTO repositories (name, created_at, updated_at, namespace, visibility) VALUES
    ('alice/tool', 200, 200, 'alice', 'private');
INSERT INTO accounts (name, kind, email, password_hash, is_admin, created_at, updated_at) VALUES
    ('admin', 'user', 'admin@example.org', '$argon2id$x', 1, 201, 201),
    ('alice', 'user', NULL, '$argon2id$y', 0, 202, 202),
    ('acme', 'org', NULL, NULL, 0, 203, 203);
INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (%(acme)s, %(alice)s, 'owner', 204);
INSERT INTO repository_grants (repository_id, user_id, permission, created_at) VALUES
    (%(busybox)s, %(alice)s, 'write', 205);
INSERT INTO access_tokens (user_id, name, scope, secret_hash, created_at) VALUES
    (%(alice)s, 'ci', 'read-write', 'hash-1', 206);
INSERT INTO refresh_tokens (user_id, client_id, secret_hash, scope_cap, created_at) VALUES
    (%(alice)s, 'podman', 'hash-2', 'read', 207);
INSERT INTO audit_log (at, actor, action, target, detail, remote_addr) VALUES
    (208, 'alice', 'login', 'alice', '{"ok":true}', '127.0.0.1'), (209, '-', 'login_failed', 'bob', NULL, NULL);
""",
    3: """
INSERT INTO sessions (user_id, secret_hash, csrf_token, created_at, last_seen_at, expires_at) VALUES
    (%(alice)s, 'hash-3', 'csrf', 300, 301, 400);
UPDATE repositories SET pull_count = pull_count + 7 WHERE name = 'library/busybox';
UPDATE repositories SET pull_count = pull_count + 2 WHERE name = 'acme/api';
""",
    4: """
UPDATE tags SET manifest_id = %(m1)s, updated_at = 410 WHERE repository_id = %(busybox)s AND name = '1.36';
INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (%(api)s, 'v1.1', %(m2)s, 411);
DELETE FROM tags WHERE repository_id = %(busybox)s AND name = 'Latest';
""",
    5: """
UPDATE manifests SET last_pulled_at = 500 WHERE digest = 'sha256:m1';
""",
    6: """
INSERT INTO mirror_repositories (repository_id, upstream, last_checked) VALUES
    (%(alpine)s, 'https://upstream.example/library/alpine', 600);
INSERT INTO mirror_tags (repository_id, name, checked_at) VALUES (%(alpine)s, 'edge', 601);
""",
    7: """
INSERT INTO replication_rules (name, source, username, password, repositories, tags, destination,
    interval_seconds, created_at) VALUES ('hub', 'https://registry.example', NULL, NULL, 'library/*', '*', 'mirror',
    3600, 700);
UPDATE replication_rules SET run_requested = 1, last_result = 'ok', last_images = 3, total_images = 3
    WHERE name = 'hub';
""",
    8: """
INSERT INTO blobs (digest, size, created_at, last_used_at) VALUES ('sha256:l3', 4000, 800, 801);
INSERT INTO gc_runs (started_at, finished_at, trigger_source, dry_run, manifests_deleted, blobs_deleted, bytes_freed,
    files_removed, uploads_expired, error) VALUES (810, 811, 'command', 1, 0, 1, 4000, 0, 0, NULL);
UPDATE repositories SET manifests_version = manifests_version + 1 WHERE name = 'acme/api';
""",
    9: """
INSERT INTO tag_rules (kind, scope_kind, scope, pattern, keep_last, keep_days, created_by, created_at) VALUES
    ('immutable', 'repository', 'library/busybox', 'v*', NULL, NULL, 'admin', 900),
    ('retention', 'namespace', 'acme', '*', 5, NULL, 'admin', 901);
INSERT INTO webhooks (scope_kind, scope, url, secret, events, created_by, created_at) VALUES
    ('namespace', 'acme', 'http://127.0.0.1:1/hook', 's3cret', 'push,delete', 'alice', 902);
INSERT INTO webhook_deliveries (webhook_id, event, payload, state, next_attempt_at, created_at) VALUES
    ((SELECT id FROM webhooks WHERE url = 'http://127.0.0.1:1/hook'), 'push', '{}', 'pending', 903, 903);
""",
    10: """
UPDATE namespace_usage SET quota = 1000000 WHERE namespace = 'acme';
INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at, pushed_at) VALUES
    (%(apiv2)s, 'sha256:m4', 'application/vnd.oci.image.manifest.v1+json', 2, {hex:7b7d}, 1000, 1000),
    (%(alice_tool)s, 'sha256:m5', 'application/vnd.oci.image.manifest.v1+json', 2, {hex:7b7d}, 1001, 1001);
INSERT INTO manifest_references (manifest_id, kind, position, digest, size, media_type) VALUES
    (%(m4)s, 0, 0, 'sha256:c1', 1000, 'application/vnd.oci.image.config.v1+json'),
    (%(m4)s, 1, 0, 'sha256:l2', 300000, 'application/vnd.oci.image.layer.v1.tar+gzip'),
    (%(m4)s, 1, 1, 'sha256:l3', 4000, 'application/vnd.oci.image.layer.v1.tar+gzip'),
    (%(m4)s, 1, 2, 'sha256:l3', 4000, 'application/vnd.oci.image.layer.v1.tar+gzip'),
    (%(m5)s, 0, 0, 'sha256:c2', 1100, 'application/vnd.oci.image.config.v1+json'),
    (%(m5)s, 1, 0, 'sha256:l1', 20000, 'application/vnd.oci.image.layer.v1.tar+gzip');
INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (%(apiv2)s, 'latest', %(m4)s, 1002);
""",
    11: """
INSERT INTO shared_settings (name, value, created_at) VALUES ('token_signing_key', 'base64-key', 1100);
""",
}

# After the last migration: deletes that cascade through the triggers.
FINAL = """
DELETE FROM manifests WHERE digest = 'sha256:m2';
DELETE FROM repositories WHERE name = 'acme/api-v2';
DELETE FROM accounts WHERE name = 'acme';
UPDATE repositories SET updated_at = 1200 WHERE name = 'library/busybox';
"""

NAMES = {"busybox": R % "library/busybox", "api": R % "acme/api", "alpine": R % "alpine",
         "apiv2": R % "acme/api-v2", "alice_tool": R % "alice/tool",
         "m1": M % ("sha256:m1", "library/busybox"), "m2": M % ("sha256:m2", "acme/api"),
         "m3": M % ("sha256:m3", "acme/api"), "m4": M % ("sha256:m4", "acme/api-v2"),
         "m5": M % ("sha256:m5", "alice/tool"), "acme": A % "acme", "alice": A % "alice"}

# Bad rows, refused by both engines once every migration ran.
BAD = [
    ("an account kind other than user or org",
     "INSERT INTO accounts (name, kind, created_at, updated_at) VALUES ('robot1', 'robot', 1, 1)"),
    ("a second repository of the same name",
     "INSERT INTO repositories (name, created_at, updated_at) VALUES ('alpine', 1, 1)"),
    ("a repository without a name",
     "INSERT INTO repositories (name, created_at, updated_at) VALUES (NULL, 1, 1)"),
    ("a link to a blob that does not exist",
     "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (%(alpine)s, 'sha256:none', 1)"),
    ("a tag of a repository that does not exist",
     "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (999999, 'x', %(m1)s, 1)"),
    ("a retention rule with both keep_last and keep_days",
     "INSERT INTO tag_rules (kind, scope_kind, scope, pattern, keep_last, keep_days, created_by, created_at) "
     "VALUES ('retention', 'namespace', 'acme', '*', 1, 1, 'admin', 1)"),
    ("a retention rule with neither keep_last nor keep_days",
     "INSERT INTO tag_rules (kind, scope_kind, scope, pattern, created_by, created_at) "
     "VALUES ('retention', 'namespace', 'acme', '*', 'admin', 1)"),
    ("a webhook delivery in an unknown state",
     "INSERT INTO webhook_deliveries (webhook_id, event, payload, state, next_attempt_at, created_at) "
     "VALUES ((SELECT MIN(id) FROM webhooks), 'push', '{}', 'lost', 1, 1)"),
    ("a token scope that does not exist",
     "INSERT INTO access_tokens (user_id, name, scope, secret_hash, created_at) "
     "VALUES (%(alice)s, 'x', 'admin', 'hash-9', 1)"),
    ("a second shared setting of the same name",
     "INSERT INTO shared_settings (name, value, created_at) VALUES ('token_signing_key', 'other', 1)"),
    ("a shared setting without a value",
     "INSERT INTO shared_settings (name, value, created_at) VALUES ('other', NULL, 1)"),
]


def for_sqlite(sql):
    return re.sub(r"\{hex:([0-9a-f]*)\}", r"X'\1'", sql % NAMES)


def for_pg(sql):
    return re.sub(r"\{hex:([0-9a-f]*)\}", r"'\\x\1'::bytea", sql % NAMES)


def dump_sqlite(path, schema):
    out = {}
    for t, d in schema.items():
        cols = ["hex(%s)" % c[0] if c[1] == "bytea" else c[0] for c in d["columns"]]
        order = ", ".join("%d NULLS FIRST" % (i + 1) for i in range(len(cols)))
        out[t] = sqlite_rows(path, "SELECT %s FROM %s ORDER BY %s;" % (", ".join(cols), t, order))
    return out


def dump_pg(pg, db, schema):
    out = {}
    for t, d in schema.items():
        cols = ["upper(encode(%s, 'hex'))" % c[0] if c[1] == "bytea" else c[0] for c in d["columns"]]
        order = ", ".join("%d NULLS FIRST" % (i + 1) for i in range(len(cols)))
        out[t] = pg.rows(db, "SELECT %s FROM %s ORDER BY %s" % (", ".join(cols), t, order))
    return out


def compare_order(sq_path, pg, db, schema):
    """Every text column, sorted and compared with > as pagination does, on both engines."""
    for t, d in sorted(schema.items()):
        texts = [c[0] for c in d["columns"] if c[1] == "text"]
        if not texts:
            continue
        diffs = []
        for c in texts:
            # (NULLs sort first on SQLite, last on PostgreSQL: berthd orders by no nullable
            # column, and neither does this.)
            for where in (" WHERE %s IS NOT NULL" % c, " WHERE %s > 'Latest'" % c):
                sql = "SELECT %s FROM %s%s ORDER BY %s" % (c, t, where, c)
                a = sqlite_rows(sq_path, sql + ";")
                b = pg.rows(db, sql)
                if a != b:
                    diffs.append("%s\n  SQLite: %s\n  PostgreSQL: %s" % (sql, a, b))
        tap(not diffs, "table %s: its text columns sort and compare (>) the same on both engines" % t,
            "\n".join(diffs))


def compare_rows(da, db_, what):
    for t in sorted(da):
        a, b = da[t], db_.get(t)
        tap(a == b, "%s: table %s holds the same rows, in the same order, on both engines (%d rows)"
            % (what, t, len(a)), "SQLite:\n%s\nPostgreSQL:\n%s" % (
                "\n".join(SEP.join(r) for r in a), "\n".join(SEP.join(r) for r in (b or []))))


def makefile_lists():
    with open(os.path.join(TOP, "Makefile.am")) as f:
        text = f.read().replace("\\\n", " ")
    lists = {}
    for var in ("SCHEMA_FILES", "SCHEMA_PG_FILES"):
        m = re.search(r"^%s\s*=(.*)$" % var, text, re.M)
        lists[var] = m.group(1).split() if m else []
    return lists


def main():
    sq_names = [os.path.basename(f) for f in SQLITE_FILES]
    pg_names = [os.path.basename(f) for f in PG_FILES]
    tap(len(sq_names) > 0 and sq_names == pg_names, "schema/ and schema/postgres/ hold the same migrations (%d)"
        % len(sq_names), "SQLite: %s\nPostgreSQL: %s" % (sq_names, pg_names))
    versions = [int(x[:3]) for x in sq_names]
    tap(versions == list(range(1, len(versions) + 1)), "migrations are numbered 001..%03d without a gap"
        % len(versions), str(versions))
    lists = makefile_lists()
    tap(lists["SCHEMA_FILES"] == ["schema/" + x for x in sq_names], "Makefile.am SCHEMA_FILES lists schema/*.sql",
        str(lists["SCHEMA_FILES"]))
    tap(lists["SCHEMA_PG_FILES"] == ["schema/postgres/" + x for x in pg_names],
        "Makefile.am SCHEMA_PG_FILES lists schema/postgres/*.sql", str(lists["SCHEMA_PG_FILES"]))
    for f in PG_FILES:
        with open(f) as fh:
            body = re.sub(r"--[^\n]*", "", fh.read())
        bad = [w for w in ("schema_migrations", "AUTOINCREMENT", "WITHOUT ROWID", "INSERT OR", "strftime",
                           "BLOB", "INTEGER PRIMARY KEY", "datetime", "julianday", "GLOB", "PRAGMA")
               if re.search(r"\b%s\b" % w.replace(" ", r"\s+"), body, re.I)]
        tap(not bad, "%s has no SQLite-only idiom and leaves schema_migrations to the runner"
            % os.path.relpath(f, TOP), "found: %s" % bad)

    for tool in (os.path.join(PG_BIN, "initdb"), os.path.join(PG_BIN, "pg_ctl")):
        if not os.access(tool, os.X_OK):
            tap(False, "PostgreSQL 15 is installed (%s)" % tool, "run scripts/deps.sh test")
            return
    if not shutil.which("sqlite3") or not shutil.which("psql"):
        tap(False, "the sqlite3 and psql shells are installed", "run scripts/deps.sh test")
        return

    work = tempfile.mkdtemp(prefix="schema-parity.", dir=os.environ.get("BERTH_TEST_TMP") or None)
    pg = Postgres()
    try:
        pg.start()
        tap(True, "a throwaway PostgreSQL 15 runs on 127.0.0.1:%d" % pg.port)
        # Databases whose default collation is not bytewise, when ICU is there: any text
        # column without COLLATE "C" then sorts differently from SQLite.
        icu = pg.run("postgres", "CREATE DATABASE probe TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
        create = "CREATE DATABASE %s TEMPLATE template0" + (" LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                                                           if icu[0] == 0 else "")
        if icu[0] != 0:
            print("# no ICU collation: the test databases use C.UTF-8 (%s)" % icu[2].strip())
        for db in ("fresh", "upgraded"):
            rc, _, err = pg.run("postgres", create % db)
            if rc != 0:
                raise Failed("CREATE DATABASE %s: %s" % (db, err))

        fresh_sq = os.path.join(work, "fresh.db")
        up_sq = os.path.join(work, "upgraded.db")
        for sq, pgf in zip(SQLITE_FILES, PG_FILES):
            sqlite_migrate(fresh_sq, sq)
            pg_migrate(pg, "fresh", pgf)
        tap(True, "001..%03d apply to a fresh database of each engine" % len(SQLITE_FILES))

        s_sq = sqlite_schema(fresh_sq)
        s_pg, extra = pg_schema(pg, "fresh")
        compare_schemas(s_sq, s_pg, "SQLite", "PostgreSQL", "fresh")

        not_c = sorted("%s.%s (%s)" % (t, c, v[1] or "default") for (t, c), v in extra.items()
                       if v[0] == "text" and v[1] != "C")
        tap(not not_c, "PostgreSQL: every text column is COLLATE \"C\"", "\n".join(not_c))
        want_ident = set()
        for t, d in s_sq.items():
            fk_cols = {c for fk in d["fks"] for c in fk[0]}
            if len(d["pk"]) == 1 and d["pk"][0] not in fk_cols and \
                    [c for c in d["columns"] if c[0] == d["pk"][0]][0][1] == "bigint":
                want_ident.add((t, d["pk"][0]))
        have_ident = {k for k, v in extra.items() if v[2] == "d"}
        other_ident = {k for k, v in extra.items() if v[2] not in ("", "d")}
        tap(want_ident == have_ident and not other_ident,
            "PostgreSQL: the rowid ids (%d) and nothing else are GENERATED BY DEFAULT AS IDENTITY" % len(want_ident),
            "missing: %s\nextra: %s\nALWAYS: %s" % (sorted(want_ident - have_ident), sorted(have_ident - want_ident),
                                                    sorted(other_ident)))
        got = pg.rows("fresh", "SELECT instr('library/busybox', '/'), instr('busybox', '/'), instr('a/b/c', '/'), "
                      "instr('', ''), pg_typeof(instr('a', 'b')), COALESCE(instr(NULL, '/')::text, 'NULL')")
        want = sqlite_rows(fresh_sq, "SELECT instr('library/busybox', '/'), instr('busybox', '/'), "
                           "instr('a/b/c', '/'), instr('', ''), 'integer', COALESCE(instr(NULL, '/'), 'NULL');")
        tap(got == want, "PostgreSQL: instr() answers as SQLite's and returns integer", "PG %s SQLite %s" % (got, want))

        # The upgrade path: one migration at a time, rows written in between.
        for v, (sq, pgf) in enumerate(zip(SQLITE_FILES, PG_FILES), start=1):
            sqlite_migrate(up_sq, sq)
            pg_migrate(pg, "upgraded", pgf)
            step = STEPS.get(v)
            if step:
                rc, _, err = sqlite_run(up_sq, "BEGIN;\n" + for_sqlite(step) + "\nCOMMIT;\n")
                if rc != 0 or err.strip():
                    raise Failed("rows after %03d on SQLite: %s" % (v, err))
                rc, _, err = pg.run("upgraded", for_pg(step), one_transaction=True)
                if rc != 0:
                    raise Failed("rows after %03d on PostgreSQL: %s" % (v, err))
        tap(True, "001..%03d apply one by one with rows written after each" % len(SQLITE_FILES))
        s_up_pg, _ = pg_schema(pg, "upgraded")
        compare_schemas(s_pg, s_up_pg, "fresh", "upgraded", "PostgreSQL upgraded vs fresh")
        s_up_sq = sqlite_schema(up_sq)
        diffs = ["%s: %s" % (t, x) for t in sorted(set(s_sq) | set(s_up_sq))
                 for x in (diff_table(s_sq[t], s_up_sq[t], "fresh", "upgraded")
                           if t in s_sq and t in s_up_sq else ["missing on one side"])]
        tap(not diffs, "SQLite upgraded vs fresh: the same schema", "\n".join(diffs))

        compare_rows(dump_sqlite(up_sq, s_sq), dump_pg(pg, "upgraded", s_pg), "after the upgrade path")
        compare_order(up_sq, pg, "upgraded", s_sq)

        rc, _, err = sqlite_run(up_sq, "BEGIN;\n" + for_sqlite(FINAL) + "\nCOMMIT;\n")
        rc2, _, err2 = pg.run("upgraded", for_pg(FINAL), one_transaction=True)
        tap(rc == 0 and not err.strip() and rc2 == 0, "deletes that cascade run on both engines", err + err2)
        compare_rows(dump_sqlite(up_sq, s_sq), dump_pg(pg, "upgraded", s_pg), "after cascading deletes")

        for desc, sql in BAD:
            rc, _, err = sqlite_run(up_sq, for_sqlite(sql) + ";\n")
            rc2, _, err2 = pg.run("upgraded", for_pg(sql))
            tap(rc != 0 and rc2 != 0, "both engines refuse %s" % desc,
                "SQLite: status %d %s\nPostgreSQL: status %d %s" % (rc, err.strip(), rc2, err2.strip()))
        compare_rows(dump_sqlite(up_sq, s_sq), dump_pg(pg, "upgraded", s_pg), "after the refused rows")
    except Failed as e:
        tap(False, "schema parity run", str(e))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def on_signal(signum, frame):
    raise SystemExit("killed by signal %d" % signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    main()
    print("1..%d" % tap.n)
    sys.exit(1 if tap.failed else 0)
