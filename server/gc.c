/* Online garbage collection. A run: puts back or frees blobs a crashed run left in the
 * trash, expires idle upload sessions, deletes untagged manifests no tag reaches (when
 * asked), deletes blobs no manifest references that were not used within the grace period,
 * and removes blob files no metadata owns. Every deletion re-checks its condition in the
 * write transaction that performs it, and blob files move only while that transaction
 * holds the database's write lock, so a push racing a run either sees the blob (and the
 * run keeps it) or is told it is unknown; never a manifest whose blobs are gone. */
#include "server/gc.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/size.h"
#include "common/xalloc.h"
#include "server/cli_args.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/retention.h"
#include "server/store.h"
#include "server/uploads.h"
#include "storage/blobstore.h"

/* Blob candidates read per page. */
#define GC_PAGE 256
/* Log progress every this many blobs deleted. */
#define GC_LOG_EVERY 1000

static pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gc_wake = PTHREAD_COND_INITIALIZER;
static struct gc_status gc_current; /* under gc_lock */
static bool gc_thread_started, gc_stopping, gc_pending, gc_pending_dry;
static pthread_t gc_thread;
static struct registry *gc_reg;

void gc_options_from_config(const struct config *cfg, struct gc_options *opt)
{
	opt->grace = cfg->gc_grace;
	opt->untagged = cfg->gc_untagged;
	opt->upload_expiry = cfg->upload_expiry;
	opt->dry_run = false;
	opt->trigger = "schedule";
}

/* Publish progress for gc_status_get. */
static void gc_publish(const char *phase, const struct meta_gc_run *run)
{
	pthread_mutex_lock(&gc_lock);
	gc_current.phase = phase;
	gc_current.run = *run;
	pthread_mutex_unlock(&gc_lock);
}

static bool gc_should_stop(void)
{
	pthread_mutex_lock(&gc_lock);
	bool stop = gc_stopping;
	pthread_mutex_unlock(&gc_lock);
	return stop;
}

/* Under the write lock: a trashed blob whose row still exists was trashed by a run that
 * did not commit (a crash): it goes back. One without a row was committed: it is freed. */
struct gc_trash {
	struct blobstore *bs;
	struct meta *m;
	const struct digest *d; /* gc_trash_settle: the one blob */
	size_t restored, freed;
};

static int gc_trash_one(void *ctx, const struct digest *d)
{
	struct gc_trash *t = ctx;
	uint64_t size;
	struct berr e2;
	if (meta_blob_get(t->m, d, &size, &e2) == 0) {
		if (blobstore_untrash(t->bs, d, &e2) < 0)
			log_warn("gc: %s", e2.message);
		else
			t->restored++;
	} else if (e2.code == BERR_BLOB_UNKNOWN) {
		if (blobstore_trash_remove(t->bs, d, &e2) < 0)
			log_warn("gc: %s", e2.message);
		else
			t->freed++;
	}
	return 0;
}

static int gc_trash_locked(void *ctx, struct meta *m, struct berr *err)
{
	struct gc_trash *t = ctx;
	t->m = m;
	return blobstore_trash_list(t->bs, gc_trash_one, t, err);
}

/* One trashed blob settled (put back or freed) with the write lock held. Every trash
 * operation but the move into it (done inside the deleting transaction) goes through here
 * or gc_trash_recover: a deletion freeing "its" trash file without the lock could free the
 * file of a later deletion of the same digest that has not committed yet. */
static int gc_settle_locked(void *ctx, struct meta *m, struct berr *err)
{
	(void)err;
	struct gc_trash *t = ctx;
	t->m = m;
	return gc_trash_one(t, t->d);
}

static void gc_trash_settle(struct blobstore *bs, struct meta *m, const struct digest *d)
{
	struct gc_trash t = {.bs = bs, .d = d};
	struct berr e2;
	if (meta_locked(m, gc_settle_locked, &t, &e2) < 0)
		log_warn("gc: could not settle trashed blob %s (the next run does): %s", d->str, e2.message);
}

int gc_trash_recover(struct blobstore *bs, struct meta *m, size_t *restored, size_t *freed, struct berr *err)
{
	struct gc_trash t = {.bs = bs};
	int rc = meta_locked(m, gc_trash_locked, &t, err);
	*restored = t.restored;
	*freed = t.freed;
	return rc;
}

struct gc_restore {
	struct blobstore *bs;
	const struct digest *d;
	bool restored;
};

static int gc_restore_locked(void *ctx, struct meta *m, struct berr *err)
{
	struct gc_restore *rs = ctx;
	uint64_t size;
	struct berr e2;
	if (meta_blob_get(m, rs->d, &size, &e2) < 0)
		return e2.code == BERR_BLOB_UNKNOWN ? 0 : (err ? (*err = e2, -1) : -1);
	if (blobstore_stat(rs->bs, rs->d, &size, &e2) == 0)
		return 0;
	if (blobstore_untrash(rs->bs, rs->d, err) < 0)
		return -1;
	rs->restored = blobstore_stat(rs->bs, rs->d, &size, NULL) == 0;
	return 0;
}

int gc_blob_restore(struct blobstore *bs, struct meta *m, const struct digest *d, bool *restored, struct berr *err)
{
	struct gc_restore rs = {.bs = bs, .d = d};
	int rc = meta_locked(m, gc_restore_locked, &rs, err);
	*restored = rs.restored;
	if (rs.restored)
		log_warn("gc: blob %s was in the trash of an interrupted collection yet still recorded: put back",
		         d->str);
	return rc;
}

/* Blob candidates of one page. */
struct gc_page {
	char (*digests)[DIGEST_STR_MAX];
	size_t n;
};

static int gc_page_add(void *ctx, const char *digest, uint64_t size)
{
	(void)size;
	struct gc_page *p = ctx;
	snprintf(p->digests[p->n++], DIGEST_STR_MAX, "%s", digest);
	return 0;
}

struct gc_remove {
	struct blobstore *bs;
	const struct digest *d;
};

/* Called inside the deleting transaction: move the bytes aside, still recoverable. */
static int gc_remove_trash(void *ctx, struct berr *err)
{
	struct gc_remove *rm = ctx;
	return blobstore_trash(rm->bs, rm->d, err);
}

/* Delete unreferenced blobs unused since cutoff. */
static int gc_blobs(struct registry *reg, struct meta *m, int64_t cutoff, bool dry_run, struct meta_gc_run *run,
                    struct berr *err)
{
	struct gc_page page = {.digests = xcalloc(GC_PAGE, sizeof *page.digests)};
	char after[DIGEST_STR_MAX] = "";
	int rc = 0;
	int64_t next_log = GC_LOG_EVERY;
	for (;;) {
		page.n = 0;
		if (meta_gc_blob_candidates(m, cutoff, after, GC_PAGE, gc_page_add, &page, err) < 0) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < page.n && rc == 0; i++) {
			struct digest d;
			if (digest_parse(page.digests[i], &d, NULL) < 0) {
				log_warn("gc: skipping invalid digest recorded in the database: %.80s",
				         page.digests[i]);
				continue;
			}
			if (dry_run) {
				uint64_t size;
				struct berr e2;
				if (meta_blob_get(m, &d, &size, &e2) == 0) {
					run->blobs_deleted++;
					run->bytes_freed += (int64_t)size;
				}
				continue;
			}
			struct gc_remove rm = {.bs = reg->blobs, .d = &d};
			bool deleted = false;
			uint64_t size = 0;
			if (meta_gc_blob_delete(m, &d, cutoff, gc_remove_trash, &rm, &deleted, &size, err) < 0) {
				/* Not committed: the row is still there, so the bytes go back. */
				gc_trash_settle(reg->blobs, m, &d);
				rc = -1;
				break;
			}
			if (!deleted)
				continue;
			gc_trash_settle(reg->blobs, m, &d);
			run->blobs_deleted++;
			run->bytes_freed += (int64_t)size;
			if (run->blobs_deleted >= next_log) {
				char b[32];
				size_format((uint64_t)run->bytes_freed, b, sizeof b);
				log_info("gc: %lld blobs deleted so far, %s freed", (long long)run->blobs_deleted, b);
				next_log += GC_LOG_EVERY;
			}
		}
		gc_publish("blobs", run);
		if (rc < 0 || page.n < GC_PAGE)
			break;
		if (gc_should_stop()) {
			rc = berr_set(err, BERR_UNAVAILABLE, "stopped: berthd is shutting down");
			break;
		}
		snprintf(after, sizeof after, "%s", page.digests[page.n - 1]);
	}
	free(page.digests);
	return rc;
}

/* Untagged manifest candidates, listed before any is deleted. */
struct gc_candidates {
	struct meta_gc_manifest *list;
	size_t n, cap;
};

static int gc_candidate_add(void *ctx, const struct meta_gc_manifest *c)
{
	struct gc_candidates *cs = ctx;
	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 64;
		cs->list = xrealloc(cs->list, cs->cap * sizeof *cs->list);
	}
	cs->list[cs->n++] = *c;
	return 0;
}

/* Delete untagged manifests no tag reaches: listed in one read, deleted in transactions of
 * META_GC_BATCH that each re-check that the repository did not change since. */
static int gc_manifests(struct meta *m, int64_t cutoff, bool dry_run, struct meta_gc_run *run, struct berr *err)
{
	gc_publish("manifests", run);
	struct gc_candidates cs = {0};
	int rc = meta_gc_untagged(m, cutoff, gc_candidate_add, &cs, err);
	if (rc == 0 && dry_run)
		run->manifests_deleted = (int64_t)cs.n;
	for (size_t i = 0; rc == 0 && !dry_run && i < cs.n; i += META_GC_BATCH) {
		size_t k = cs.n - i < META_GC_BATCH ? cs.n - i : META_GC_BATCH;
		int64_t deleted = 0;
		rc = meta_gc_manifests_delete(m, cs.list + i, k, cutoff, &deleted, err);
		run->manifests_deleted += deleted;
		gc_publish("manifests", run);
		if (rc == 0 && gc_should_stop())
			rc = berr_set(err, BERR_UNAVAILABLE, "stopped: berthd is shutting down");
	}
	free(cs.list);
	return rc;
}

/* Blob files with no row in the database: an install whose transaction failed, or a crash
 * of an older berthd between installing a file and recording it. */
struct gc_orphans {
	struct meta *m;
	struct digest *list;
	size_t n, cap;
};

static int gc_orphan_collect(void *ctx, const struct digest *d)
{
	struct gc_orphans *o = ctx;
	uint64_t size;
	struct berr e2;
	if (meta_blob_get(o->m, d, &size, &e2) == 0 || e2.code != BERR_BLOB_UNKNOWN)
		return 0;
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->list = xrealloc(o->list, o->cap * sizeof *o->list);
	}
	o->list[o->n++] = *d;
	return 0;
}

struct gc_orphan_one {
	struct blobstore *bs;
	const struct digest *d;
	bool removed;
	uint64_t size;
};

/* Under the write lock: still no row (an install in progress would hold the lock), so the
 * file is no one's. */
static int gc_orphan_locked(void *ctx, struct meta *m, struct berr *err)
{
	struct gc_orphan_one *o = ctx;
	uint64_t size;
	struct berr e2;
	if (meta_blob_get(m, o->d, &size, &e2) == 0)
		return 0;
	if (e2.code != BERR_BLOB_UNKNOWN) {
		if (err)
			*err = e2;
		return -1;
	}
	if (blobstore_stat(o->bs, o->d, &o->size, &e2) < 0)
		return 0;
	if (blobstore_trash(o->bs, o->d, err) < 0)
		return -1;
	o->removed = true;
	return 0;
}

static int gc_orphans(struct registry *reg, struct meta *m, bool dry_run, struct meta_gc_run *run, struct berr *err)
{
	struct gc_orphans o = {.m = m};
	int rc = blobstore_list(reg->blobs, gc_orphan_collect, &o, err);
	for (size_t i = 0; rc == 0 && i < o.n; i++) {
		if (i % GC_PAGE == GC_PAGE - 1 && gc_should_stop()) {
			rc = berr_set(err, BERR_UNAVAILABLE, "stopped: berthd is shutting down");
			break;
		}
		if (dry_run) {
			uint64_t size;
			if (blobstore_stat(reg->blobs, &o.list[i], &size, NULL) == 0) {
				run->files_removed++;
				run->bytes_freed += (int64_t)size;
			}
			continue;
		}
		struct gc_orphan_one one = {.bs = reg->blobs, .d = &o.list[i]};
		if (meta_locked(m, gc_orphan_locked, &one, err) < 0) {
			if (one.removed)
				gc_trash_settle(reg->blobs, m, &o.list[i]);
			rc = -1;
			break;
		}
		if (one.removed) {
			gc_trash_settle(reg->blobs, m, &o.list[i]);
			run->files_removed++;
			run->bytes_freed += (int64_t)one.size;
		}
	}
	free(o.list);
	return rc;
}

int gc_data_lock(const char *data_dir, bool exclusive, bool wait, struct berr *err)
{
	cleanup_free char *path = xasprintf("%s/gc.lock", data_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return berr_sys(err, errno, "open %s", path);
	int r;
	do
		r = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return berr_set(err, BERR_CONFLICT, "%s",
			                exclusive ? "a garbage collection is running"
			                          : "a backup is copying the data folder");
		return berr_sys(err, e, "lock %s", path);
	}
	return fd;
}

/* The phases of one run; stops at the first failure. */
static int gc_phases(struct registry *reg, struct meta *m, const struct gc_options *opt, struct meta_gc_run *run,
                     struct berr *err)
{
	int64_t now = run->started_at;
	/* A backup copies what its snapshot names: nothing may go until it is done. */
	cleanup_close int lock = gc_data_lock(reg->cfg->data_dir, false, false, err);
	if (lock < 0)
		return -1;
	if (!opt->dry_run) {
		size_t restored, freed;
		if (gc_trash_recover(reg->blobs, m, &restored, &freed, err) < 0)
			return -1;
		if (restored || freed)
			log_info("gc: an interrupted run left %zu blobs in the trash: %zu put back, %zu freed",
			         restored + freed, restored, freed);
	}

	gc_publish("uploads", run);
	size_t expired = 0;
	int rc = uploads_expire(reg, m, now - opt->upload_expiry, opt->dry_run, &expired, err);
	run->uploads_expired = (int64_t)expired;
	if (rc < 0)
		return -1;

	/* Retention rules untag first, so what they let go is collected in this same run
	 * (untagged manifests with --gc-untagged, then their blobs once the grace has passed). */
	gc_publish("retention", run);
	struct retention_report rr = {0};
	if (retention_run(m, opt->dry_run, &rr, err) < 0)
		return -1;
	if (rr.untagged)
		log_info("gc: retention rules %s %lld tags (%lld kept by immutability rules)",
		         opt->dry_run ? "would untag" : "untagged", (long long)rr.untagged, (long long)rr.protected_);

	if (opt->untagged && gc_manifests(m, now - opt->grace, opt->dry_run, run, err) < 0)
		return -1;

	gc_publish("blobs", run);
	if (gc_blobs(reg, m, now - opt->grace, opt->dry_run, run, err) < 0)
		return -1;
	gc_publish("files", run);
	return gc_orphans(reg, m, opt->dry_run, run, err);
}

int gc_run(struct registry *reg, struct meta *m, const struct gc_options *opt, struct meta_gc_run *run,
           struct berr *err)
{
	memset(run, 0, sizeof *run);
	run->started_at = (int64_t)time(NULL);
	run->dry_run = opt->dry_run;
	snprintf(run->trigger, sizeof run->trigger, "%s", opt->trigger ? opt->trigger : "command");
	pthread_mutex_lock(&gc_lock);
	if (gc_current.running) {
		pthread_mutex_unlock(&gc_lock);
		return berr_set(err, BERR_CONFLICT, "a garbage collection is already running");
	}
	gc_current.running = true;
	gc_current.phase = "trash";
	gc_current.run = *run;
	pthread_mutex_unlock(&gc_lock);
	/* Nodes sharing one database collect one at a time. */
	if (meta_gc_lock(m, err) < 0) {
		pthread_mutex_lock(&gc_lock);
		gc_current.running = false;
		gc_current.phase = NULL;
		pthread_mutex_unlock(&gc_lock);
		return -1;
	}

	log_info("gc: %s run started (%s; grace %llds, untagged manifests %s, upload expiry %llds)", run->trigger,
	         opt->dry_run ? "dry run" : "deleting", (long long)opt->grace, opt->untagged ? "deleted" : "kept",
	         (long long)opt->upload_expiry);
	struct berr e2 = {0};
	int rc = gc_phases(reg, m, opt, run, &e2);
	run->finished_at = (int64_t)time(NULL);
	if (rc < 0)
		snprintf(run->error, sizeof run->error, "%.255s", e2.message);
	char b[32];
	size_format((uint64_t)run->bytes_freed, b, sizeof b);
	const char *verb = opt->dry_run ? "would delete" : "deleted";
	if (rc < 0)
		log_error("gc: run failed after %llds: %s (so far %s %lld manifests, %lld blobs, %lld stray files, "
		          "%lld uploads; %s)",
		          (long long)(run->finished_at - run->started_at), e2.message, verb,
		          (long long)run->manifests_deleted, (long long)run->blobs_deleted,
		          (long long)run->files_removed, (long long)run->uploads_expired, b);
	else
		log_info("gc: run finished in %llds: %s %lld untagged manifests, %lld blobs, %lld stray files, "
		         "%lld expired uploads; %s %s",
		         (long long)(run->finished_at - run->started_at), verb, (long long)run->manifests_deleted,
		         (long long)run->blobs_deleted, (long long)run->files_removed, (long long)run->uploads_expired,
		         b, opt->dry_run ? "would be freed" : "freed");
	if (rc == 0 && !opt->dry_run) {
		metrics_count(METRICS_GC_RUNS, 1);
		metrics_count(METRICS_GC_BLOBS_DELETED, (uint64_t)run->blobs_deleted);
	}
	meta_gc_unlock(m);
	struct berr e3;
	if (meta_gc_run_record(m, run, &e3) < 0)
		log_warn("gc: could not record the run: %s", e3.message);

	pthread_mutex_lock(&gc_lock);
	gc_current.running = false;
	gc_current.phase = NULL;
	pthread_mutex_unlock(&gc_lock);
	if (rc < 0 && err)
		*err = e2;
	return rc;
}

void gc_status_get(struct gc_status *out)
{
	pthread_mutex_lock(&gc_lock);
	*out = gc_current;
	if (!out->running && gc_pending) {
		/* Asked for and about to start. */
		out->running = true;
		out->phase = "queued";
		memset(&out->run, 0, sizeof out->run);
		snprintf(out->run.trigger, sizeof out->run.trigger, "api");
		out->run.dry_run = gc_pending_dry;
	}
	pthread_mutex_unlock(&gc_lock);
}

static void *gc_loop(void *arg)
{
	(void)arg;
	const struct config *cfg = gc_reg->cfg;
	struct timespec next;
	clock_gettime(CLOCK_REALTIME, &next);
	next.tv_sec += cfg->gc_interval;
	pthread_mutex_lock(&gc_lock);
	while (!gc_stopping) {
		int r = 0;
		while (!gc_stopping && !gc_pending && r != ETIMEDOUT)
			r = cfg->gc_interval > 0 ? pthread_cond_timedwait(&gc_wake, &gc_lock, &next)
			                         : pthread_cond_wait(&gc_wake, &gc_lock);
		if (gc_stopping)
			break;
		struct gc_options opt;
		gc_options_from_config(cfg, &opt);
		if (gc_pending) {
			opt.trigger = "api";
			opt.dry_run = gc_pending_dry;
		} else if (cfg->read_only) {
			opt.dry_run = true; /* --read-only: the schedule only reports what would go */
		}
		pthread_mutex_unlock(&gc_lock);
		struct berr err = {0};
		struct meta *m = meta_get(&err);
		struct meta_gc_run run;
		if (!m)
			log_error("gc: %s", err.message);
		else
			gc_run(gc_reg, m, &opt, &run, &err); /* logs and records its outcome */
		pthread_mutex_lock(&gc_lock);
		gc_pending = false;
		if (strcmp(opt.trigger, "schedule") == 0 || r == ETIMEDOUT) {
			clock_gettime(CLOCK_REALTIME, &next);
			next.tv_sec += cfg->gc_interval;
		}
	}
	pthread_mutex_unlock(&gc_lock);
	return NULL;
}

int gc_start(struct registry *reg, struct berr *err)
{
	gc_reg = reg;
	gc_stopping = false;
	if (pthread_create(&gc_thread, NULL, gc_loop, NULL) != 0)
		return berr_set(err, BERR_INTERNAL, "could not start the garbage collector thread");
	gc_thread_started = true;
	if (reg->cfg->gc_interval > 0)
		log_info("gc: collecting every %ds (grace %ds, untagged manifests %s, upload expiry %ds)",
		         reg->cfg->gc_interval, reg->cfg->gc_grace, reg->cfg->gc_untagged ? "deleted" : "kept",
		         reg->cfg->upload_expiry);
	return 0;
}

int gc_request(bool dry_run, struct berr *err)
{
	pthread_mutex_lock(&gc_lock);
	bool local = gc_current.running || gc_pending;
	pthread_mutex_unlock(&gc_lock);
	if (local)
		return berr_set(err, BERR_CONFLICT, "a garbage collection is already running");
	/* A run on another node sharing the database is refused here, so the caller hears 409
	 * instead of a start the scheduler then cannot make. */
	struct meta *m = meta_get(err);
	if (!m || meta_gc_lock(m, err) < 0)
		return -1;
	meta_gc_unlock(m);
	pthread_mutex_lock(&gc_lock);
	int rc = 0;
	if (!gc_thread_started || gc_stopping)
		rc = berr_set(err, BERR_UNAVAILABLE, "the garbage collector is not running");
	else if (gc_current.running || gc_pending)
		rc = berr_set(err, BERR_CONFLICT, "a garbage collection is already running");
	else {
		gc_pending = true;
		gc_pending_dry = dry_run;
		pthread_cond_broadcast(&gc_wake);
	}
	pthread_mutex_unlock(&gc_lock);
	return rc;
}

void gc_stop(void)
{
	if (!gc_thread_started)
		return;
	pthread_mutex_lock(&gc_lock);
	gc_stopping = true;
	pthread_cond_broadcast(&gc_wake);
	pthread_mutex_unlock(&gc_lock);
	pthread_join(gc_thread, NULL);
	gc_thread_started = false;
}

static const char *const gc_usage =
    "Usage: berthd gc [--dry-run] [--gc-grace SECONDS] [--gc-untagged] [--upload-expiry SECONDS]\n"
    "                 [--data DIR | --config FILE]\n"
    "Deletes blobs no manifest references and not used within the grace period, blob files\n"
    "no metadata owns, upload sessions idle for longer than the upload expiry and, with\n"
    "--gc-untagged, untagged manifests no tag reaches. Safe while berthd serves the same\n"
    "data folder. --dry-run only counts what would go.\n";

int gc_main(int argc, char **argv)
{
	bool dry_run = false;
	const struct cli_opt opts[] = {{"--dry-run", .flag = &dry_run}, {NULL}};
	struct config cfg;
	cleanup_free char *db = NULL;
	int rc;
	if (!cli_args_load_data(argc, argv, opts, gc_usage, &cfg, &db, &rc))
		return rc;
	struct berr err = {0};
	log_set_level((enum log_level)cfg.log_level);
	struct registry reg = {.cfg = &cfg};
	struct meta *m = NULL;
	if (meta_init(db, &err) < 0 || !(m = meta_get(&err)) || !(reg.blobs = store_open(&cfg, &err))) {
		fprintf(stderr, "berthd: %s\n", err.message);
		meta_shutdown();
		config_free(&cfg);
		return 2;
	}
	reg.uploads = uploads_new();
	struct gc_options opt;
	gc_options_from_config(&cfg, &opt);
	opt.dry_run = dry_run;
	opt.trigger = "command";
	struct meta_gc_run run;
	rc = gc_run(&reg, m, &opt, &run, &err);
	char b[32];
	size_format((uint64_t)run.bytes_freed, b, sizeof b);
	printf("gc: %s%lld untagged manifests, %lld blobs, %lld stray files, %lld expired uploads; %s%s\n",
	       dry_run ? "would delete " : "deleted ", (long long)run.manifests_deleted, (long long)run.blobs_deleted,
	       (long long)run.files_removed, (long long)run.uploads_expired, b, dry_run ? " would be freed" : " freed");
	if (rc < 0)
		fprintf(stderr, "berthd: gc failed: %s\n", err.message);
	uploads_free(reg.uploads);
	blobstore_close(reg.blobs);
	meta_shutdown();
	config_free(&cfg);
	return rc < 0 ? 1 : 0;
}
