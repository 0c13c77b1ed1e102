/* The SQL engine under the metadata (server/meta.c): one small interface with two drivers,
 * SQLite (server/db_sqlite.c, the embedded default) and PostgreSQL (server/db_postgres.c,
 * for several berthd nodes sharing one database). Statements are written once, with SQLite's
 * numbered parameters (?1, ?2, ...), in the SQL both engines accept; a statement is
 * prepared once per connection and stepped like a SQLite cursor. */
#ifndef BERTH_DB_H
#define BERTH_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"

struct db;
struct db_stmt;

enum db_engine { DB_SQLITE, DB_POSTGRES };

/* What db_step and db_exec report. */
enum db_rc {
	DB_OK = 0,          /* db_exec: done */
	DB_ROW = 100,       /* db_step: a row is ready */
	DB_DONE = 101,      /* db_step: no (more) rows */
	DB_BUSY = 5,        /* another connection holds a lock, or the server is unreachable: retry */
	DB_FULL = 13,       /* no space left for the database */
	DB_CONSTRAINT = 19, /* a UNIQUE, CHECK or foreign key constraint refused the change */
	DB_ERROR = 1,       /* anything else: db_errmsg says what */
};

/* Whether target names a PostgreSQL database (a postgres:// or postgresql:// URL) rather
 * than a SQLite file. */
bool db_is_postgres(const char *target);
/* Connect to target: a SQLite file path (created if needed) or a PostgreSQL URL.
 * busy_timeout_ms bounds how long a statement waits for another connection's lock. */
int db_open(const char *target, int busy_timeout_ms, struct db **out, struct berr *err);
/* Close the connection and every statement prepared on it. */
void db_close(struct db *db);
enum db_engine db_engine(const struct db *db);
/* The last error's message, for logs and error answers. */
const char *db_errmsg(struct db *db);

/* Run a script of one or more statements without parameters or rows (migrations, PRAGMAs). */
int db_exec(struct db *db, const char *sql);
/* Prepare sql (parameters ?N) on db; the statement lives until db_finalize or db_close. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
void db_finalize(struct db_stmt *st);

/* Bind parameter i (from 1). Text and blobs are copied or must outlive the step (SQLite:
 * they must stay valid until db_reset); a NULL string binds SQL NULL (of type text). */
void db_bind_int64(struct db_stmt *st, int i, int64_t v);
void db_bind_text(struct db_stmt *st, int i, const char *s);
void db_bind_textn(struct db_stmt *st, int i, const char *s, size_t n);
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);

/* Run the statement (first call) or move to its next row: DB_ROW, DB_DONE or an error rc. */
int db_step(struct db_stmt *st);
/* Back to before the first step, with no parameters bound. */
void db_reset(struct db_stmt *st);

bool db_column_null(struct db_stmt *st, int col);
int64_t db_column_int64(struct db_stmt *st, int col);
/* NULL for SQL NULL; valid until the next step or reset. */
const char *db_column_text(struct db_stmt *st, int col);
/* A BLOB/BYTEA column and its length; valid until the next step or reset. */
const void *db_column_blob(struct db_stmt *st, int col);
size_t db_column_bytes(struct db_stmt *st, int col);

/* Rows changed by the last statement run on db that changed rows. */
int64_t db_changes(struct db *db);

/* A write transaction. Writers are serialized: SQLite's BEGIN IMMEDIATE; on PostgreSQL a
 * transaction-level advisory lock every node takes, so the code's invariants hold across
 * nodes exactly as they do on one SQLite file. */
int db_begin(struct db *db);
int db_commit(struct db *db);
/* Roll back the open transaction, if there is one. */
void db_rollback(struct db *db);

/* A lock held by this connection until db_unlock (or the connection ends), for jobs only one
 * node may run at a time (garbage collection). *got is false when another connection holds
 * it. On SQLite, where one process owns the database, it always succeeds. */
int db_try_lock(struct db *db, int64_t key, bool *got);
void db_unlock(struct db *db, int64_t key);

/* Check the database's integrity (SQLite's quick_check; PostgreSQL checks its own pages). */
int db_check(struct db *db, struct berr *err);
/* Write a consistent copy of the whole database to the new file path (SQLite only: a
 * PostgreSQL database is backed up with pg_dump). */
int db_backup(struct db *db, const char *path, struct berr *err);

#endif
