/* The PostgreSQL driver of server/db.h (libpq), for several berthd nodes sharing one
 * database. Each thread keeps one connection (reconnected when the server went away between
 * statements); a statement is prepared on the server at its first run, with the parameter
 * types of that run, and its rows come back whole as text. Write transactions take one
 * transaction-level advisory lock, so writers on every node queue as they do on SQLite. */
#include <dlfcn.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/db_driver.h"

/* Type oids of the parameters we send (pg_type.h is a server header). */
#define PG_BYTEA_OID 17
#define PG_INT8_OID  20
#define PG_TEXT_OID  25

/* The advisory lock every write transaction takes: "Berth" in ASCII. */
#define PG_WRITE_LOCK 0x4265727468LL

struct pg_stmt;

struct pg_db {
	struct db base;
	PGconn *conn;
	int busy_timeout_ms;
	unsigned generation; /* bumped on each reconnect: statements prepared before are gone */
	unsigned next_name;
	int64_t changes;
	int locks_held; /* session advisory locks taken and not released (db_try_lock) */
	char errmsg[512];
	struct pg_stmt *stmts;
};

struct pg_stmt {
	struct db_stmt base;
	char *sql;
	int nparams;
	char name[24];
	unsigned prepared_gen; /* 0: not prepared on this connection yet */
	Oid *types;
	char **values;
	int *lengths, *formats;
	PGresult *res;
	int row, nrows;
	unsigned char **blobs; /* BYTEA columns of the current row, decoded on demand */
	size_t *bloblens;
	int nblobs;
	struct pg_stmt *next;
};

static const struct db_ops pg_ops;

/* The libpq calls the driver makes, resolved from libpq.so.5 at the first connection. */
#define PG_FUNCS(X)             \
	X(PQclear)              \
	X(PQcmdStatus)          \
	X(PQcmdTuples)          \
	X(PQconnectdbParams)    \
	X(PQerrorMessage)       \
	X(PQexec)               \
	X(PQexecPrepared)       \
	X(PQfinish)             \
	X(PQfreemem)            \
	X(PQftype)              \
	X(PQgetisnull)          \
	X(PQgetlength)          \
	X(PQgetvalue)           \
	X(PQnfields)            \
	X(PQntuples)            \
	X(PQprepare)            \
	X(PQreset)              \
	X(PQresultErrorField)   \
	X(PQresultErrorMessage) \
	X(PQresultStatus)       \
	X(PQsetNoticeProcessor) \
	X(PQstatus)             \
	X(PQtransactionStatus)  \
	X(PQunescapeBytea)
#define PG_FUNC_PTR(f) __typeof__(f) *f;
static struct {
	PG_FUNCS(PG_FUNC_PTR)
} pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[256];

static void pq_load(void)
{
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(pq_error, sizeof pq_error, "PostgreSQL needs libpq (apt-get install libpq5): %s", dlerror());
		return;
	}
#define PG_FUNC_LOAD(f)                                                         \
	if (!(pq.f = (__typeof__(f) *)dlsym(h, #f))) {                          \
		snprintf(pq_error, sizeof pq_error, "libpq.so.5 lacks %s", #f); \
		return;                                                         \
	}
	PG_FUNCS(PG_FUNC_LOAD)
#undef PG_FUNC_LOAD
}

static void pg_set_error(struct pg_db *db, const char *what, const char *msg)
{
	snprintf(db->errmsg, sizeof db->errmsg, "%s%s%s", what ? what : "", what ? ": " : "", msg ? msg : "");
	size_t n = strlen(db->errmsg);
	while (n && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
		db->errmsg[--n] = 0;
}

/* Turn a failed result into a db_rc by its SQLSTATE; a lost connection is transient. */
static int pg_result_rc(struct pg_db *db, PGresult *res)
{
	const char *state = res ? pq.PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	pg_set_error(db, NULL, res ? pq.PQresultErrorMessage(res) : pq.PQerrorMessage(db->conn));
	if (pq.PQstatus(db->conn) != CONNECTION_OK || !state)
		return DB_BUSY;
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "53300") == 0)
		return DB_BUSY;
	if (strcmp(state, "53100") == 0)
		return DB_FULL;
	if (strncmp(state, "23", 2) == 0)
		return DB_CONSTRAINT;
	return DB_ERROR;
}

static void pg_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %s", message);
}

/* Settings every connection starts with: how long to wait for a lock, quiet notices. */
static int pg_session_setup(struct pg_db *db)
{
	pq.PQsetNoticeProcessor(db->conn, pg_notice, NULL);
	char sql[160];
	snprintf(sql, sizeof sql,
	         "SET lock_timeout = %d; SET client_min_messages = warning; SET TIME ZONE 'UTC'; "
	         "SET default_transaction_isolation = 'read committed'",
	         db->busy_timeout_ms);
	PGresult *res = pq.PQexec(db->conn, sql);
	int rc = pq.PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : pg_result_rc(db, res);
	pq.PQclear(res);
	return rc;
}

int db_postgres_open(const char *url, int busy_timeout_ms, struct db **out, struct berr *err)
{
	pthread_once(&pq_once, pq_load);
	if (pq_error[0])
		return berr_set(err, BERR_INTERNAL, "%s", pq_error);
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {url, "berthd", "10", NULL};
	PGconn *conn = pq.PQconnectdbParams(keys, vals, 1);
	if (!conn || pq.PQstatus(conn) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", conn ? pq.PQerrorMessage(conn) : "out of memory");
		msg[strcspn(msg, "\n")] = 0;
		pq.PQfinish(conn);
		/* Unreachable is transient: the caller answers 503 and tries again later. */
		return berr_set(err, BERR_UNAVAILABLE, "connect to PostgreSQL: %s", msg);
	}
	struct pg_db *db = xcalloc(1, sizeof *db);
	db->base.ops = &pg_ops;
	db->conn = conn;
	db->busy_timeout_ms = busy_timeout_ms;
	db->generation = 1;
	if (pg_session_setup(db) != DB_OK) {
		berr_set(err, BERR_INTERNAL, "PostgreSQL session set-up: %s", db->errmsg);
		pq.PQfinish(conn);
		free(db);
		return -1;
	}
	*out = &db->base;
	return 0;
}

/* Before a statement: if the server went away since the last one, connect again (any
 * transaction of the old connection is gone with it). */
static int pg_ensure_connected(struct pg_db *db)
{
	if (pq.PQstatus(db->conn) == CONNECTION_OK)
		return DB_OK;
	/* A new connection would not hold the locks this one held: their holders must learn
	 * it (their statements fail) and let go before the connection is made again. */
	if (db->locks_held > 0) {
		pg_set_error(db, "connection to PostgreSQL lost while holding a lock", pq.PQerrorMessage(db->conn));
		return DB_BUSY;
	}
	pq.PQreset(db->conn);
	if (pq.PQstatus(db->conn) != CONNECTION_OK) {
		pg_set_error(db, "connection to PostgreSQL lost", pq.PQerrorMessage(db->conn));
		return DB_BUSY;
	}
	db->generation++;
	log_info("postgres: reconnected");
	return pg_session_setup(db);
}

static void pg_stmt_clear(struct pg_stmt *st)
{
	pq.PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->nrows = 0;
	for (int i = 0; i < st->nblobs; i++) {
		pq.PQfreemem(st->blobs[i]);
		st->blobs[i] = NULL;
	}
}

static void pg_stmt_unbind(struct pg_stmt *st)
{
	for (int i = 0; i < st->nparams; i++) {
		free(st->values[i]);
		st->values[i] = NULL;
		st->lengths[i] = 0;
		st->formats[i] = 0;
		st->types[i] = 0;
	}
}

static void pg_stmt_free(struct pg_stmt *st)
{
	pg_stmt_clear(st);
	pg_stmt_unbind(st);
	free(st->sql);
	free(st->types);
	free(st->values);
	free(st->lengths);
	free(st->formats);
	free(st->blobs);
	free(st->bloblens);
	free(st);
}

static void pg_close(struct db *base)
{
	struct pg_db *db = (struct pg_db *)base;
	for (struct pg_stmt *st = db->stmts, *next; st; st = next) {
		next = st->next;
		pg_stmt_free(st);
	}
	pq.PQfinish(db->conn);
	free(db);
}

static const char *pg_errmsg(struct db *db)
{
	return ((struct pg_db *)db)->errmsg;
}

static int pg_exec(struct db *base, const char *sql)
{
	struct pg_db *db = (struct pg_db *)base;
	int rc = pg_ensure_connected(db);
	if (rc != DB_OK)
		return rc;
	log_debug("postgres: %.120s", sql);
	PGresult *res = pq.PQexec(db->conn, sql);
	ExecStatusType s = pq.PQresultStatus(res);
	rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY) ? DB_OK : pg_result_rc(db, res);
	pq.PQclear(res);
	return rc;
}

/* SQLite's ?N parameters as PostgreSQL's $N (a bare ? takes the number after the largest
 * so far, as in SQLite), leaving quoted strings and identifiers alone. */
static char *pg_translate(const char *sql, int *nparams)
{
	size_t len = strlen(sql);
	char *out = xmalloc(len * 2 + 1);
	size_t o = 0;
	int max = 0;
	char quote = 0;
	for (size_t i = 0; i < len; i++) {
		char c = sql[i];
		if (quote) {
			out[o++] = c;
			if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '\'' || c == '"') {
			quote = c;
			out[o++] = c;
			continue;
		}
		if (c != '?') {
			out[o++] = c;
			continue;
		}
		int n = 0;
		while (i + 1 < len && sql[i + 1] >= '0' && sql[i + 1] <= '9')
			n = n * 10 + (sql[++i] - '0');
		if (n == 0)
			n = max + 1;
		if (n > max)
			max = n;
		o += (size_t)sprintf(out + o, "$%d", n);
	}
	out[o] = 0;
	*nparams = max;
	return out;
}

static int pg_prepare(struct db *base, const char *sql, struct db_stmt **out)
{
	struct pg_db *db = (struct pg_db *)base;
	struct pg_stmt *st = xcalloc(1, sizeof *st);
	st->base.db = base;
	st->sql = pg_translate(sql, &st->nparams);
	size_t n = st->nparams ? (size_t)st->nparams : 1;
	st->types = xcalloc(n, sizeof *st->types);
	st->values = xcalloc(n, sizeof *st->values);
	st->lengths = xcalloc(n, sizeof *st->lengths);
	st->formats = xcalloc(n, sizeof *st->formats);
	st->row = -1;
	snprintf(st->name, sizeof st->name, "berth_%u", ++db->next_name);
	st->next = db->stmts;
	db->stmts = st;
	*out = &st->base;
	return DB_OK;
}

/* Forget the statement here and on the server. */
static void pg_finalize(struct db_stmt *base)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	struct pg_db *db = (struct pg_db *)base->db;
	for (struct pg_stmt **p = &db->stmts; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			break;
		}
	if (st->prepared_gen == db->generation && pq.PQstatus(db->conn) == CONNECTION_OK &&
	    pq.PQtransactionStatus(db->conn) != PQTRANS_INERROR) {
		char sql[48];
		snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
		pq.PQclear(pq.PQexec(db->conn, sql));
	}
	pg_stmt_free(st);
}

static void pg_bind(struct pg_stmt *st, int i, Oid type, char *value, int length, int format)
{
	if (i < 1 || i > st->nparams) {
		free(value);
		return;
	}
	free(st->values[i - 1]);
	st->values[i - 1] = value;
	st->lengths[i - 1] = length;
	st->formats[i - 1] = format;
	st->types[i - 1] = type;
}

static void pg_bind_int64(struct db_stmt *base, int i, int64_t v)
{
	pg_bind((struct pg_stmt *)base, i, PG_INT8_OID, xasprintf("%lld", (long long)v), 0, 0);
}

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0. */
static size_t pg_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = c & (0x3f >> (len - 1));
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A copy of s[0..n) PostgreSQL's text type accepts: SQLite keeps any bytes, PostgreSQL only
 * UTF-8, so a byte that is not (from a request's odd header, say) becomes U+FFFD. */
static char *pg_text_copy(const char *s, size_t n)
{
	char *out = xmalloc(n * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t len = pg_utf8_len((const unsigned char *)s + i, n - i);
		if (len && s[i]) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = 0;
	return out;
}

static void pg_bind_textn(struct db_stmt *base, int i, const char *s, size_t n, bool copy)
{
	(void)copy;
	pg_bind((struct pg_stmt *)base, i, PG_TEXT_OID, s ? pg_text_copy(s, n) : NULL, 0, 0);
}

static void pg_bind_blob(struct db_stmt *base, int i, const void *p, size_t n)
{
	char *copy = xmalloc(n ? n : 1);
	if (n)
		memcpy(copy, p, n);
	pg_bind((struct pg_stmt *)base, i, PG_BYTEA_OID, copy, (int)n, 1);
}

/* Run the statement: prepare it on this connection first if needed. */
static int pg_run(struct pg_stmt *st)
{
	struct pg_db *db = (struct pg_db *)st->base.db;
	int rc = pg_ensure_connected(db);
	if (rc != DB_OK)
		return rc;
	if (st->prepared_gen != db->generation) {
		PGresult *p = pq.PQprepare(db->conn, st->name, st->sql, st->nparams, st->types);
		if (pq.PQresultStatus(p) != PGRES_COMMAND_OK) {
			rc = pg_result_rc(db, p);
			pq.PQclear(p);
			return rc;
		}
		pq.PQclear(p);
		st->prepared_gen = db->generation;
	}
	log_debug("postgres: %.120s", st->sql);
	st->res = pq.PQexecPrepared(db->conn, st->name, st->nparams, (const char *const *)st->values, st->lengths,
	                            st->formats, 0);
	ExecStatusType s = pq.PQresultStatus(st->res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		rc = pg_result_rc(db, st->res);
		pq.PQclear(st->res);
		st->res = NULL;
		return rc;
	}
	/* As sqlite3_changes: rows an INSERT, UPDATE or DELETE touched; a SELECT leaves it. */
	const char *tuples = pq.PQcmdTuples(st->res);
	if (tuples && *tuples && strncmp(pq.PQcmdStatus(st->res), "SELECT", 6) != 0)
		db->changes = strtoll(tuples, NULL, 10);
	st->nrows = s == PGRES_TUPLES_OK ? pq.PQntuples(st->res) : 0;
	int ncols = pq.PQnfields(st->res);
	if (ncols > st->nblobs) {
		st->blobs = xrealloc(st->blobs, (size_t)ncols * sizeof *st->blobs);
		st->bloblens = xrealloc(st->bloblens, (size_t)ncols * sizeof *st->bloblens);
		for (int i = st->nblobs; i < ncols; i++)
			st->blobs[i] = NULL;
		st->nblobs = ncols;
	}
	st->row = -1;
	return DB_OK;
}

static int pg_step(struct db_stmt *base)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	if (!st->res) {
		int rc = pg_run(st);
		if (rc != DB_OK)
			return rc;
	}
	for (int i = 0; i < st->nblobs; i++) {
		pq.PQfreemem(st->blobs[i]);
		st->blobs[i] = NULL;
	}
	if (st->row + 1 >= st->nrows) {
		st->row = st->nrows;
		return DB_DONE;
	}
	st->row++;
	return DB_ROW;
}

static void pg_reset(struct db_stmt *base)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	pg_stmt_clear(st);
	pg_stmt_unbind(st);
}

static bool pg_has_cell(struct pg_stmt *st, int col)
{
	return st->res && st->row >= 0 && st->row < st->nrows && col >= 0 && col < pq.PQnfields(st->res);
}

static bool pg_column_null(struct db_stmt *base, int col)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	return !pg_has_cell(st, col) || pq.PQgetisnull(st->res, st->row, col);
}

static const char *pg_column_text(struct db_stmt *base, int col)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	if (pg_column_null(base, col))
		return NULL;
	return pq.PQgetvalue(st->res, st->row, col);
}

static int64_t pg_column_int64(struct db_stmt *base, int col)
{
	const char *v = pg_column_text(base, col);
	if (!v)
		return 0;
	if (v[0] == 't' && !v[1])
		return 1; /* a boolean expression */
	if (v[0] == 'f' && !v[1])
		return 0;
	return strtoll(v, NULL, 10);
}

/* A BYTEA column comes as text (\x and hex): decode it once per row. */
static const unsigned char *pg_blob(struct pg_stmt *st, int col, size_t *len)
{
	*len = 0;
	if (pg_column_null(&st->base, col))
		return NULL;
	if (pq.PQftype(st->res, col) != PG_BYTEA_OID) {
		*len = (size_t)pq.PQgetlength(st->res, st->row, col);
		return (const unsigned char *)pq.PQgetvalue(st->res, st->row, col);
	}
	if (!st->blobs[col]) {
		size_t n = 0;
		st->blobs[col] = pq.PQunescapeBytea((const unsigned char *)pq.PQgetvalue(st->res, st->row, col), &n);
		st->bloblens[col] = n;
	}
	*len = st->bloblens[col];
	return st->blobs[col];
}

static const void *pg_column_blob(struct db_stmt *base, int col)
{
	size_t n;
	return pg_blob((struct pg_stmt *)base, col, &n);
}

static size_t pg_column_bytes(struct db_stmt *base, int col)
{
	size_t n;
	pg_blob((struct pg_stmt *)base, col, &n);
	return n;
}

static int64_t pg_changes(struct db *db)
{
	return ((struct pg_db *)db)->changes;
}

static int pg_begin(struct db *base)
{
	struct pg_db *db = (struct pg_db *)base;
	char sql[96];
	snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)PG_WRITE_LOCK);
	int rc = pg_exec(base, sql);
	if (rc != DB_OK && pq.PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		PGresult *res = pq.PQexec(db->conn, "ROLLBACK");
		pq.PQclear(res);
	}
	return rc;
}

/* PostgreSQL answers the COMMIT of a transaction a statement failed in with ROLLBACK. */
static int pg_commit(struct db *base)
{
	struct pg_db *db = (struct pg_db *)base;
	log_debug("postgres: COMMIT");
	PGresult *res = pq.PQexec(db->conn, "COMMIT");
	int rc = pq.PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : pg_result_rc(db, res);
	if (rc == DB_OK && strcmp(pq.PQcmdStatus(res), "COMMIT") != 0) {
		pg_set_error(db, "commit", "the transaction had failed and was rolled back");
		rc = DB_ERROR;
	}
	pq.PQclear(res);
	return rc;
}

static void pg_rollback(struct db *base)
{
	struct pg_db *db = (struct pg_db *)base;
	PGTransactionStatusType s = pq.PQtransactionStatus(db->conn);
	if (s == PQTRANS_INTRANS || s == PQTRANS_INERROR) {
		PGresult *res = pq.PQexec(db->conn, "ROLLBACK");
		pq.PQclear(res);
	}
}

static int pg_try_lock(struct db *base, int64_t key, bool *got)
{
	struct pg_db *db = (struct pg_db *)base;
	*got = false;
	int rc = pg_ensure_connected(db);
	if (rc != DB_OK)
		return rc;
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%lld)", (long long)key);
	PGresult *res = pq.PQexec(db->conn, sql);
	if (pq.PQresultStatus(res) != PGRES_TUPLES_OK || pq.PQntuples(res) != 1) {
		rc = pg_result_rc(db, res);
		pq.PQclear(res);
		return rc;
	}
	*got = strcmp(pq.PQgetvalue(res, 0, 0), "t") == 0;
	pq.PQclear(res);
	if (*got)
		db->locks_held++;
	return DB_OK;
}

static void pg_unlock(struct db *base, int64_t key)
{
	struct pg_db *db = (struct pg_db *)base;
	if (db->locks_held > 0)
		db->locks_held--;
	if (pq.PQstatus(db->conn) != CONNECTION_OK)
		return; /* the lock went with the connection */
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", (long long)key);
	PGresult *res = pq.PQexec(db->conn, sql);
	pq.PQclear(res);
}

/* PostgreSQL checks its own pages (and data checksums, if the cluster has them). */
static int pg_check(struct db *base, struct berr *err)
{
	struct pg_db *db = (struct pg_db *)base;
	if (pg_exec(base, "SELECT 1") != DB_OK)
		return berr_set(err, BERR_UNAVAILABLE, "PostgreSQL: %s", db->errmsg);
	return 0;
}

static int pg_backup(struct db *db, const char *path, struct berr *err)
{
	(void)db;
	(void)path;
	return berr_set(err, BERR_UNSUPPORTED,
	                "the metadata is in PostgreSQL: back it up with pg_dump (docs/scale-out.md), and the blobs "
	                "with the object store's own tools");
}

static const struct db_ops pg_ops = {
    .engine = DB_POSTGRES,
    .close = pg_close,
    .errmsg = pg_errmsg,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_int64 = pg_bind_int64,
    .bind_textn = pg_bind_textn,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .reset = pg_reset,
    .column_null = pg_column_null,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .changes = pg_changes,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .try_lock = pg_try_lock,
    .unlock = pg_unlock,
    .check = pg_check,
    .backup = pg_backup,
};
