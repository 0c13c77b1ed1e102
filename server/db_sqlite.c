/* The SQLite driver of server/db.h, the embedded default: one connection per thread (WAL,
 * synchronous=FULL, foreign keys on), statements prepared once and kept, writers queued by
 * BEGIN IMMEDIATE on the busy timeout instead of failing to upgrade a read lock. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/db_driver.h"

struct sqlite_db {
	struct db base;
	sqlite3 *h;
	sqlite3_stmt *begin, *commit, *rollback;
};

struct sqlite_stmt {
	struct db_stmt base;
	sqlite3_stmt *s;
};

static const struct db_ops sqlite_ops;

static sqlite3 *sq(struct db *db)
{
	return ((struct sqlite_db *)db)->h;
}

static sqlite3_stmt *sqs(struct db_stmt *st)
{
	return ((struct sqlite_stmt *)st)->s;
}

static int sqlite_rc(int rc)
{
	switch (rc) {
	case SQLITE_OK:
		return DB_OK;
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_BUSY;
	case SQLITE_FULL:
		return DB_FULL;
	case SQLITE_CONSTRAINT:
		return DB_CONSTRAINT;
	default:
		return DB_ERROR;
	}
}

int db_sqlite_open(const char *path, int busy_timeout_ms, struct db **out, struct berr *err)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		berr_set(err, BERR_INTERNAL, "open database %s: %s", path, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, busy_timeout_ms);
	sqlite3_extended_result_codes(h, 0);
	char *msg = NULL;
	if (sqlite3_exec(h,
	                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
	                 "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -4000;",
	                 NULL, NULL, &msg) != SQLITE_OK) {
		berr_set(err, BERR_INTERNAL, "open database %s: %s", path, msg ? msg : sqlite3_errmsg(h));
		sqlite3_free(msg);
		sqlite3_close(h);
		return -1;
	}
	struct sqlite_db *db = xcalloc(1, sizeof *db);
	db->base.ops = &sqlite_ops;
	db->h = h;
	*out = &db->base;
	return 0;
}

static void sqlite_close(struct db *base)
{
	struct sqlite_db *db = (struct sqlite_db *)base;
	sqlite3_finalize(db->begin);
	sqlite3_finalize(db->commit);
	sqlite3_finalize(db->rollback);
	sqlite3_close(db->h);
	free(db);
}

static const char *sqlite_errmsg(struct db *db)
{
	return sqlite3_errmsg(sq(db));
}

static int sqlite_exec(struct db *db, const char *sql)
{
	return sqlite_rc(sqlite3_exec(sq(db), sql, NULL, NULL, NULL));
}

static int sqlite_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(sq(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK)
		return sqlite_rc(rc);
	struct sqlite_stmt *st = xcalloc(1, sizeof *st);
	st->base.db = db;
	st->s = s;
	*out = &st->base;
	return DB_OK;
}

static void sqlite_finalize(struct db_stmt *st)
{
	sqlite3_finalize(sqs(st));
	free(st);
}

static void sqlite_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(sqs(st), i, v);
}

static void sqlite_bind_textn(struct db_stmt *st, int i, const char *s, size_t n, bool copy)
{
	if (s)
		sqlite3_bind_text64(sqs(st), i, s, n, copy ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8);
	else
		sqlite3_bind_null(sqs(st), i);
}

static void sqlite_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(sqs(st), i, p, n, SQLITE_STATIC);
}

static int sqlite_step(struct db_stmt *st)
{
	return sqlite_rc(sqlite3_step(sqs(st)));
}

static void sqlite_reset(struct db_stmt *st)
{
	sqlite3_reset(sqs(st));
	sqlite3_clear_bindings(sqs(st));
}

static bool sqlite_column_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(sqs(st), col) == SQLITE_NULL;
}

static int64_t sqlite_column_int64(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(sqs(st), col);
}

static const char *sqlite_column_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(sqs(st), col);
}

static const void *sqlite_column_blob(struct db_stmt *st, int col)
{
	return sqlite3_column_blob(sqs(st), col);
}

static size_t sqlite_column_bytes(struct db_stmt *st, int col)
{
	return (size_t)sqlite3_column_bytes(sqs(st), col);
}

static int64_t sqlite_changes(struct db *db)
{
	return sqlite3_changes(sq(db));
}

/* Run one of the connection's kept transaction statements. */
static int sqlite_tx(struct sqlite_db *db, sqlite3_stmt **slot, const char *sql)
{
	if (!*slot) {
		int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
		if (rc != SQLITE_OK)
			return sqlite_rc(rc);
	}
	int rc = sqlite3_step(*slot);
	sqlite3_reset(*slot);
	return rc == SQLITE_DONE ? DB_OK : sqlite_rc(rc);
}

static int sqlite_begin(struct db *base)
{
	struct sqlite_db *db = (struct sqlite_db *)base;
	return sqlite_tx(db, &db->begin, "BEGIN IMMEDIATE");
}

static int sqlite_commit(struct db *base)
{
	struct sqlite_db *db = (struct sqlite_db *)base;
	return sqlite_tx(db, &db->commit, "COMMIT");
}

static void sqlite_rollback(struct db *base)
{
	struct sqlite_db *db = (struct sqlite_db *)base;
	if (!sqlite3_get_autocommit(db->h))
		sqlite_tx(db, &db->rollback, "ROLLBACK");
}

/* One process owns a SQLite database (the data folder's lock files keep others out). */
static int sqlite_try_lock(struct db *db, int64_t key, bool *got)
{
	(void)db;
	(void)key;
	*got = true;
	return DB_OK;
}

static void sqlite_unlock(struct db *db, int64_t key)
{
	(void)db;
	(void)key;
}

static int sqlite_check(struct db *db, struct berr *err)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(sq(db), "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0);
		if (!res || strcmp(res, "ok") != 0)
			rc = berr_set(err, BERR_INTERNAL, "the database failed its integrity check: %s",
			              res ? res : "?");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_backup(struct db *db, const char *path, struct berr *err)
{
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL);
	if (rc != SQLITE_OK) {
		berr_set(err, BERR_INTERNAL, "create %s: %s", path, dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", sq(db), "main");
	if (!b) {
		berr_set(err, BERR_INTERNAL, "backup to %s: %s", path, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	/* All pages in one step: one consistent snapshot of the source. */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
		sqlite3_sleep(50);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		berr_set(err, BERR_INTERNAL, "backup to %s: %s", path, sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	rc = sqlite3_exec(dst, "PRAGMA journal_mode = WAL; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
	sqlite3_close(dst);
	return rc == SQLITE_OK ? 0 : berr_set(err, BERR_INTERNAL, "finish %s", path);
}

static const struct db_ops sqlite_ops = {
    .engine = DB_SQLITE,
    .close = sqlite_close,
    .errmsg = sqlite_errmsg,
    .exec = sqlite_exec,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .bind_int64 = sqlite_bind_int64,
    .bind_textn = sqlite_bind_textn,
    .bind_blob = sqlite_bind_blob,
    .step = sqlite_step,
    .reset = sqlite_reset,
    .column_null = sqlite_column_null,
    .column_int64 = sqlite_column_int64,
    .column_text = sqlite_column_text,
    .column_blob = sqlite_column_blob,
    .column_bytes = sqlite_column_bytes,
    .changes = sqlite_changes,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .try_lock = sqlite_try_lock,
    .unlock = sqlite_unlock,
    .check = sqlite_check,
    .backup = sqlite_backup,
};
