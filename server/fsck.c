/* berthd fsck: verifies every recorded blob's size and digest against its bytes, finds
 * recorded blobs with no file, files with no record, and manifests that reference blobs or
 * child manifests that are not there. With --repair, corrupt blobs are moved to
 * DATA/quarantine/ and forgotten, missing ones forgotten, and manifests that reference
 * what is gone are deleted with their tags, so clients get a clean "unknown" instead of a
 * manifest whose layers fail. Files with no record are only reported: garbage collection
 * removes them. Works while berthd serves (SQLite WAL), and while garbage collection runs:
 * a blob it deletes meanwhile is not reported missing. */
#include "server/fsck.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/xalloc.h"
#include "server/cli_args.h"
#include "server/config.h"
#include "server/store.h"
#include "server/gc.h"
#include "server/meta.h"
#include "storage/blobstore.h"

struct fsck {
	struct meta *m;
	struct blobstore *bs;
	bool repair;
	char **recorded; /* digests recorded in the metadata, sorted */
	size_t nrecorded, caprecorded;
	uint64_t *sizes;
	size_t checked, corrupt, missing, unreferenced, dangling, repaired;
	bool failed;
};

static int fsck_collect(void *ctx, const char *digest, uint64_t size)
{
	struct fsck *f = ctx;
	if (f->nrecorded == f->caprecorded) {
		f->caprecorded = f->caprecorded ? f->caprecorded * 2 : 256;
		f->recorded = xrealloc(f->recorded, f->caprecorded * sizeof *f->recorded);
		f->sizes = xrealloc(f->sizes, f->caprecorded * sizeof *f->sizes);
	}
	f->sizes[f->nrecorded] = size;
	f->recorded[f->nrecorded++] = xstrdup(digest);
	return 0;
}

static int fsck_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Quarantine (if present) and forget blob d. */
static void fsck_repair_blob(struct fsck *f, const struct digest *d, bool quarantine)
{
	struct berr err = {0};
	if ((quarantine && blobstore_quarantine(f->bs, d, &err) < 0) || meta_blob_forget(f->m, d, &err) < 0) {
		printf("  repair failed: %s\n", err.message);
		f->failed = true;
		return;
	}
	printf("  repaired: %s%s\n", quarantine ? "moved to quarantine/ and " : "", "removed from the metadata");
	f->repaired++;
}

/* Digest and size of what the reader gives, streamed 1 MiB at a time. */
static int fsck_digest(struct blob_reader *br, enum digest_algo algo, struct digest *out, uint64_t *size,
                       struct berr *err)
{
	cleanup_free char *buf = xmalloc(1 << 20);
	struct digest_ctx *ctx = digest_ctx_new(algo);
	ssize_t n;
	*size = 0;
	while ((n = blob_reader_read(br, buf, 1 << 20, err)) > 0) {
		digest_ctx_update(ctx, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
	return n < 0 ? -1 : 0;
}

struct fsck_recheck {
	struct blobstore *bs;
	const struct digest *d;
	bool fine;
};

static int fsck_recheck_locked(void *ctx, struct meta *m, struct berr *err)
{
	(void)err;
	struct fsck_recheck *rc = ctx;
	uint64_t size;
	struct berr e2;
	/* Gone from the metadata (collected), or there again (collected, then pushed anew
	 * between the first look and this one): either way nothing is missing. */
	rc->fine = (meta_blob_get(m, rc->d, &size, &e2) < 0 && e2.code == BERR_BLOB_UNKNOWN) ||
	           blobstore_stat(rc->bs, rc->d, &size, &e2) == 0;
	return 0;
}

/* A recorded blob without its file: true if garbage collection deleted it while fsck ran,
 * or it was deleted and pushed again meanwhile (checked with the write lock held, so no
 * collection or push is half-way through it). */
static bool fsck_collected(struct fsck *f, const struct digest *d)
{
	struct fsck_recheck rc = {.bs = f->bs, .d = d};
	return meta_locked(f->m, fsck_recheck_locked, &rc, NULL) == 0 && rc.fine;
}

/* A recorded blob without its file: put it back if an interrupted garbage collection left
 * it in the trash, and open it. */
static bool fsck_restored(struct fsck *f, const struct digest *d, struct blob_reader *br)
{
	bool restored = false;
	if (gc_blob_restore(f->bs, f->m, d, &restored, NULL) < 0 || !restored ||
	    blobstore_open_read(f->bs, d, br, NULL) < 0)
		return false;
	printf("blob %s was in the trash of an interrupted garbage collection: put back\n", d->str);
	return true;
}

/* Check one recorded blob: file present, size and digest right. */
static void fsck_check_blob(struct fsck *f, const char *digest, uint64_t size)
{
	struct digest d;
	struct berr err = {0};
	f->checked++;
	if (digest_parse(digest, &d, &err) < 0) {
		printf("invalid digest recorded: %s\n", err.message);
		f->failed = true;
		return;
	}
	struct blob_reader br;
	if (blobstore_open_read(f->bs, &d, &br, &err) < 0 &&
	    !(err.code == BERR_BLOB_UNKNOWN && fsck_restored(f, &d, &br))) {
		if (err.code == BERR_BLOB_UNKNOWN && fsck_collected(f, &d))
			return;
		f->missing++;
		printf("missing blob file: %s (%s)\n", d.str, err.message);
		if (f->repair)
			fsck_repair_blob(f, &d, false);
		return;
	}
	struct digest got;
	uint64_t got_size = 0;
	int rc = fsck_digest(&br, d.algo, &got, &got_size, &err);
	blob_reader_close(&br);
	if (rc < 0) {
		printf("unreadable blob: %s (%s)\n", d.str, err.message);
		f->failed = true;
		return;
	}
	if (got_size != size || !digest_equal(&got, &d)) {
		f->corrupt++;
		printf("corrupt blob: %s: %llu bytes hashing to %s (recorded: %llu bytes)\n", d.str,
		       (unsigned long long)got_size, got.str, (unsigned long long)size);
		if (f->repair)
			fsck_repair_blob(f, &d, true);
	}
}

static int fsck_stored(void *ctx, const struct digest *d)
{
	struct fsck *f = ctx;
	const char *key = d->str;
	if (!bsearch(&key, f->recorded, f->nrecorded, sizeof *f->recorded, fsck_cmp)) {
		f->unreferenced++;
		printf("unreferenced blob file: %s (no metadata; garbage collection removes it)\n", d->str);
	}
	return 0;
}

struct dangling_list {
	char (*items)[2][DIGEST_STR_MAX + 300];
	size_t n, cap;
};

static int fsck_dangling(void *ctx, const struct meta_dangling *dr)
{
	struct fsck *f = ((void **)ctx)[0];
	struct dangling_list *dl = ((void **)ctx)[1];
	static const char *const kinds[] = {"config", "layer", "child manifest"};
	f->dangling++;
	printf("dangling reference: %s@%s needs %s %s, which is not there\n", dr->repository ? dr->repository : "?",
	       dr->manifest ? dr->manifest : "?", dr->kind >= 0 && dr->kind <= 2 ? kinds[dr->kind] : "blob",
	       dr->missing ? dr->missing : "?");
	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? dl->cap * 2 : 16;
		dl->items = xrealloc(dl->items, dl->cap * sizeof *dl->items);
	}
	snprintf(dl->items[dl->n][0], sizeof dl->items[0][0], "%s", dr->repository ? dr->repository : "");
	snprintf(dl->items[dl->n][1], sizeof dl->items[0][1], "%s", dr->manifest ? dr->manifest : "");
	dl->n++;
	return 0;
}

/* Delete each manifest that references what is gone (a manifest may be listed twice). */
static void fsck_repair_dangling(struct fsck *f, struct dangling_list *dl)
{
	for (size_t i = 0; i < dl->n; i++) {
		int64_t repo_id;
		struct digest d;
		struct berr err = {0};
		if (meta_repo_lookup(f->m, dl->items[i][0], &repo_id, &err) < 0 ||
		    digest_parse(dl->items[i][1], &d, &err) < 0)
			continue;
		if (meta_manifest_delete(f->m, repo_id, &d, &err) == 0) {
			printf("  repaired: deleted manifest %s@%s and its tags\n", dl->items[i][0], d.str);
			f->repaired++;
		} else if (err.code != BERR_MANIFEST_UNKNOWN) {
			printf("  repair failed: %s\n", err.message);
			f->failed = true;
		}
	}
}

static const char *const fsck_usage =
    "Usage: berthd fsck [--repair] [--data DIR | --config FILE]\n"
    "Checks every blob against the metadata; --repair quarantines corrupt blobs and fixes the metadata.\n";

int fsck_main(int argc, char **argv)
{
	struct fsck f = {0};
	const struct cli_opt opts[] = {{"--repair", .flag = &f.repair}, {NULL}};
	struct config cfg;
	cleanup_free char *db = NULL;
	int rc;
	if (!cli_args_load_data(argc, argv, opts, fsck_usage, &cfg, &db, &rc))
		return rc;
	struct berr err = {0};
	if (meta_init(db, &err) < 0 || !(f.m = meta_get(&err)) || !(f.bs = store_open(&cfg, &err))) {
		fprintf(stderr, "berthd: %s\n", err.message);
		meta_shutdown();
		config_free(&cfg);
		return 2;
	}
	if (meta_blobs_each(f.m, fsck_collect, &f, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		f.failed = true;
	}
	qsort(f.recorded, f.nrecorded, sizeof *f.recorded, fsck_cmp);
	for (size_t i = 0; i < f.nrecorded; i++)
		fsck_check_blob(&f, f.recorded[i], f.sizes[i]);
	if (blobstore_list(f.bs, fsck_stored, &f, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		f.failed = true;
	}
	struct dangling_list dl = {0};
	void *ctx[2] = {&f, &dl};
	if (meta_dangling_each(f.m, fsck_dangling, ctx, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		f.failed = true;
	}
	if (f.repair)
		fsck_repair_dangling(&f, &dl);
	free(dl.items);
	printf("fsck: %zu blobs checked: %zu corrupt, %zu missing, %zu unreferenced files, %zu dangling references; "
	       "%zu repaired\n",
	       f.checked, f.corrupt, f.missing, f.unreferenced, f.dangling, f.repaired);
	for (size_t i = 0; i < f.nrecorded; i++)
		free(f.recorded[i]);
	free(f.recorded);
	free(f.sizes);
	blobstore_close(f.bs);
	meta_shutdown();
	config_free(&cfg);
	bool problems = f.corrupt + f.missing + f.dangling > 0;
	return f.failed || (problems && !f.repair) ? 1 : 0;
}
