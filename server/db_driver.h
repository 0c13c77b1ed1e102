/* What a database driver provides (server/db_sqlite.c, server/db_postgres.c); server/db.c
 * dispatches the calls of server/db.h to the connection's driver. Only drivers include this. */
#ifndef BERTH_DB_DRIVER_H
#define BERTH_DB_DRIVER_H

#include "server/db.h"

struct db_ops {
	enum db_engine engine;
	void (*close)(struct db *db);
	const char *(*errmsg)(struct db *db);
	int (*exec)(struct db *db, const char *sql);
	int (*prepare)(struct db *db, const char *sql, struct db_stmt **out);
	void (*finalize)(struct db_stmt *st);
	void (*bind_int64)(struct db_stmt *st, int i, int64_t v);
	void (*bind_textn)(struct db_stmt *st, int i, const char *s, size_t n, bool copy);
	void (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t n);
	int (*step)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	bool (*column_null)(struct db_stmt *st, int col);
	int64_t (*column_int64)(struct db_stmt *st, int col);
	const char *(*column_text)(struct db_stmt *st, int col);
	const void *(*column_blob)(struct db_stmt *st, int col);
	size_t (*column_bytes)(struct db_stmt *st, int col);
	int64_t (*changes)(struct db *db);
	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	int (*try_lock)(struct db *db, int64_t key, bool *got);
	void (*unlock)(struct db *db, int64_t key);
	int (*check)(struct db *db, struct berr *err);
	int (*backup)(struct db *db, const char *path, struct berr *err);
};

/* The first member of every driver's connection and statement. */
struct db {
	const struct db_ops *ops;
};
struct db_stmt {
	struct db *db;
};

int db_sqlite_open(const char *path, int busy_timeout_ms, struct db **out, struct berr *err);
int db_postgres_open(const char *url, int busy_timeout_ms, struct db **out, struct berr *err);

#endif
