/* berthd backup DIR: copies a data folder while berthd serves. The database is copied first
 * as one snapshot (SQLite online backup); then every blob the metadata records is copied,
 * verified against its digest on the way, into DIR/blobs. Blobs are immutable and
 * recorded only once complete, so every blob the snapshot names is there to copy; a blob
 * recorded after the snapshot is copied too and is merely unreferenced in the copy. The
 * token signing key comes along, so tokens and sessions keep working after a restore.
 * A fresh berthd started with --data DIR serves the copy. */
#include "server/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/xalloc.h"
#include "server/config.h"
#include "server/db.h"
#include "server/store.h"
#include "server/gc.h"
#include "server/meta.h"
#include "storage/blobstore.h"

#define BACKUP_BUF (1 << 20)

struct backup {
	struct blobstore *src;
	const char *dir;
	char *buf;
	size_t blobs;
	uint64_t bytes;
	struct berr err;
	bool failed;
};

static int backup_mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Copy one blob, hashing it as it goes, to DIR/blobs/<algo>/<xx>/<hex> via a temp file. */
static int backup_blob(void *ctx, const char *digest, uint64_t size)
{
	struct backup *b = ctx;
	struct digest d;
	struct blob_reader br;
	if (digest_parse(digest, &d, &b->err) < 0 || blobstore_open_read(b->src, &d, &br, &b->err) < 0) {
		fprintf(stderr, "berthd: backup: %s\n", b->err.message);
		b->failed = true;
		return 0;
	}
	const char *hex = digest_hex(&d);
	cleanup_free char *dir = xasprintf("%s/blobs/%s/%.2s", b->dir, digest_algo_name(d.algo), hex);
	cleanup_free char *path = xasprintf("%s/%s", dir, hex);
	cleanup_free char *tmp = xasprintf("%s.tmp", path);
	int out = -1;
	struct digest got;
	struct digest_ctx *dc = digest_ctx_new(d.algo);
	uint64_t copied = 0;
	int rc = -1;
	if (backup_mkdirs(dir) < 0 || (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto done;
	for (;;) {
		ssize_t n = blob_reader_read(&br, b->buf, BACKUP_BUF, &b->err);
		if (n < 0) {
			errno = b->err.sys_errno ? b->err.sys_errno : EIO;
			goto done;
		}
		if (n == 0)
			break;
		digest_ctx_update(dc, b->buf, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, b->buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto done;
			off += w;
		}
		copied += (uint64_t)n;
	}
	digest_ctx_final(dc, &got);
	if (copied != size || !digest_equal(&got, &d)) {
		fprintf(stderr, "berthd: backup: blob %s does not match its digest (run berthd fsck)\n", d.str);
		unlink(tmp);
		b->failed = true;
		rc = 0;
		goto done;
	}
	if (fdatasync(out) < 0 || rename(tmp, path) < 0)
		goto done;
	b->blobs++;
	b->bytes += copied;
	rc = 0;
done:
	if (rc < 0) {
		fprintf(stderr, "berthd: backup: copy %s: %s\n", d.str, strerror(errno));
		unlink(tmp);
		b->failed = true;
	}
	digest_ctx_free(dc);
	if (out >= 0)
		close(out);
	blob_reader_close(&br);
	return 0;
}

/* Blobs a killed garbage collection left in the trash go back first: the snapshot names them. */
static int backup_trash_recover(struct blobstore *bs, struct meta *m, struct berr *err)
{
	size_t restored, freed;
	if (gc_trash_recover(bs, m, &restored, &freed, err) < 0)
		return -1;
	if (restored)
		fprintf(stderr, "berthd: backup: %zu blobs of an interrupted garbage collection put back first\n",
		        restored);
	return 0;
}

/* Copy a small file (the signing key) if it exists. */
static int backup_small_file(const char *from, const char *to)
{
	cleanup_close int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -1;
	cleanup_close int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	return n < 0 || fsync(out) < 0 ? -1 : 0;
}

int backup_main(int argc, char **argv)
{
	const char *target = NULL;
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf(
			    "Usage: berthd backup DIR [--data SRC | --config FILE]\n"
			    "Copies the data folder (database snapshot, blobs, signing key) to DIR while berthd runs.\n"
			    "Restore: start berthd with --data DIR (or copy DIR back in place of the data folder).\n");
			free(rest);
			return 0;
		}
		if (strncmp(argv[i], "--", 2) != 0 && !target)
			target = argv[i];
		else
			rest[nrest++] = argv[i];
	}
	struct config cfg;
	struct berr err = {0};
	bool exit_now;
	int rc = config_load(&cfg, nrest, rest, &exit_now, &err);
	free(rest);
	if (rc < 0 || !target) {
		fprintf(stderr, "berthd: %s\n", rc < 0 ? err.message : "usage: berthd backup DIR [--data SRC]");
		config_free(&cfg);
		return 2;
	}
	cleanup_free char *db = config_database(&cfg);
	struct stat st;
	if (db_is_postgres(db)) {
		fprintf(stderr, "berthd: backup copies a SQLite data folder; the metadata is in PostgreSQL: back it up "
		                "with pg_dump and the blobs with the object store's tools (docs/scale-out.md)\n");
		config_free(&cfg);
		return 2;
	}
	if (access(db, F_OK) != 0) {
		fprintf(stderr, "berthd: no database at %s\n", db);
		config_free(&cfg);
		return 2;
	}
	if (stat(target, &st) == 0) {
		fprintf(stderr, "berthd: %s exists already; back up into a new folder\n", target);
		config_free(&cfg);
		return 2;
	}
	struct backup b = {.dir = target};
	struct meta *m = NULL;
	cleanup_free char *dst_db = xasprintf("%s/berth.db", target);
	cleanup_free char *key_from = xasprintf("%s/token-signing-key.pem", cfg.data_dir);
	cleanup_free char *key_to = xasprintf("%s/token-signing-key.pem", target);
	/* Garbage collection must not delete blobs the snapshot names before they are copied. */
	cleanup_close int gc_lock = gc_data_lock(cfg.data_dir, true, false, NULL);
	if (gc_lock < 0) {
		fprintf(stderr, "berthd: backup: waiting for the garbage collection in progress to finish\n");
		gc_lock = gc_data_lock(cfg.data_dir, true, true, &err);
		if (gc_lock < 0) {
			fprintf(stderr, "berthd: %s\n", err.message);
			config_free(&cfg);
			return 1;
		}
	}
	if (backup_mkdirs(target) < 0) {
		fprintf(stderr, "berthd: create %s: %s\n", target, strerror(errno));
		rc = 1;
	} else if (meta_init(db, &err) < 0 || !(m = meta_get(&err)) || !(b.src = store_open(&cfg, &err)) ||
	           backup_trash_recover(b.src, m, &err) < 0 || meta_backup(m, dst_db, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		rc = 1;
	} else {
		b.buf = xmalloc(BACKUP_BUF);
		if (meta_blobs_each(m, backup_blob, &b, &err) < 0) {
			fprintf(stderr, "berthd: %s\n", err.message);
			b.failed = true;
		}
		if (backup_small_file(key_from, key_to) < 0) {
			fprintf(stderr, "berthd: copy the token signing key: %s\n", strerror(errno));
			b.failed = true;
		}
		free(b.buf);
		printf("backup: the database and %zu blobs (%llu bytes) copied to %s%s\n", b.blobs,
		       (unsigned long long)b.bytes, target, b.failed ? ", with errors (see above)" : "");
		rc = b.failed ? 1 : 0;
	}
	blobstore_close(b.src);
	meta_shutdown();
	config_free(&cfg);
	return rc;
}
