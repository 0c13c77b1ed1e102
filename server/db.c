/* Dispatch of server/db.h to the connection's driver (server/db_driver.h). */
#include <string.h>

#include "server/db_driver.h"

bool db_is_postgres(const char *target)
{
	return strncmp(target, "postgres://", 11) == 0 || strncmp(target, "postgresql://", 13) == 0;
}

int db_open(const char *target, int busy_timeout_ms, struct db **out, struct berr *err)
{
	if (db_is_postgres(target))
		return db_postgres_open(target, busy_timeout_ms, out, err);
	return db_sqlite_open(target, busy_timeout_ms, out, err);
}

void db_close(struct db *db)
{
	if (db)
		db->ops->close(db);
}

enum db_engine db_engine(const struct db *db)
{
	return db->ops->engine;
}

const char *db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}

int db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	return db->ops->prepare(db, sql, out);
}

void db_finalize(struct db_stmt *st)
{
	if (st)
		st->db->ops->finalize(st);
}

void db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	st->db->ops->bind_int64(st, i, v);
}

void db_bind_text(struct db_stmt *st, int i, const char *s)
{
	/* A NULL string is a NULL of type text, which PostgreSQL needs for `?1 IS NULL`. */
	st->db->ops->bind_textn(st, i, s, s ? strlen(s) : 0, false);
}

void db_bind_textn(struct db_stmt *st, int i, const char *s, size_t n)
{
	st->db->ops->bind_textn(st, i, s, n, true);
}

void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	st->db->ops->bind_blob(st, i, p, n);
}

int db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

void db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
}

bool db_column_null(struct db_stmt *st, int col)
{
	return st->db->ops->column_null(st, col);
}

int64_t db_column_int64(struct db_stmt *st, int col)
{
	return st->db->ops->column_int64(st, col);
}

const char *db_column_text(struct db_stmt *st, int col)
{
	return st->db->ops->column_text(st, col);
}

const void *db_column_blob(struct db_stmt *st, int col)
{
	return st->db->ops->column_blob(st, col);
}

size_t db_column_bytes(struct db_stmt *st, int col)
{
	return st->db->ops->column_bytes(st, col);
}

int64_t db_changes(struct db *db)
{
	return db->ops->changes(db);
}

int db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int db_commit(struct db *db)
{
	return db->ops->commit(db);
}

void db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

int db_try_lock(struct db *db, int64_t key, bool *got)
{
	return db->ops->try_lock(db, key, got);
}

void db_unlock(struct db *db, int64_t key)
{
	db->ops->unlock(db, key);
}

int db_check(struct db *db, struct berr *err)
{
	return db->ops->check(db, err);
}

int db_backup(struct db *db, const char *path, struct berr *err)
{
	return db->ops->backup(db, path, err);
}
