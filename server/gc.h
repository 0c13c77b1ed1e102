/* Online garbage collection: removes blobs no manifest references (after a grace period),
 * optionally untagged manifests no tag reaches, blob files no metadata owns, and expired
 * upload sessions, while berthd serves. The database arbitrates every race with pushes;
 * docs/internals/gc.md gives the argument. */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"
#include "server/meta.h"

struct blobstore;
struct config;
struct registry;

struct gc_options {
	int64_t grace;         /* seconds since last use before an unreferenced blob may go */
	bool untagged;         /* delete untagged manifests no tag reaches, older than grace */
	int64_t upload_expiry; /* seconds of inactivity before an upload session goes */
	bool dry_run;          /* count only */
	const char *trigger;   /* "schedule", "api", "command" */
};

/* What a run in progress has done so far, for GET /api/v1/gc. */
struct gc_status {
	bool running;
	const char *phase; /* static string */
	struct meta_gc_run run;
};

/* The options from berthd's settings. */
void gc_options_from_config(const struct config *cfg, struct gc_options *opt);
/* One collection with m (the calling thread's connection). Fills *run (also on failure,
 * with run->error) and records it in the database. BERR_CONFLICT if this process is
 * already collecting. */
int gc_run(struct registry *reg, struct meta *m, const struct gc_options *opt, struct meta_gc_run *run,
           struct berr *err);
/* Start the background collector: every cfg->gc_interval seconds (0: never on its own)
 * and whenever gc_request asks. */
int gc_start(struct registry *reg, struct berr *err);
/* Ask the background collector for a run now; BERR_CONFLICT if one is running or queued. */
int gc_request(bool dry_run, struct berr *err);
/* Stop the background collector (a run in progress stops at its next step). */
void gc_stop(void);
/* The run in progress, if any. */
void gc_status_get(struct gc_status *out);
/* A run killed between moving a blob to the trash and committing its deletion leaves the
 * blob recorded but its file in DATA/trash/. gc_trash_recover (at start-up and at the start
 * of each run) puts back every such file and frees the others; gc_blob_restore puts back one
 * blob whose file a reader found missing (*restored: it was in the trash). Both hold the
 * database's write lock, so no collection is half-way through the blobs they look at. */
int gc_trash_recover(struct blobstore *bs, struct meta *m, size_t *restored, size_t *freed, struct berr *err);
int gc_blob_restore(struct blobstore *bs, struct meta *m, const struct digest *d, bool *restored, struct berr *err);
/* Collections and backups of data_dir exclude each other through DATA/gc.lock: runs take it
 * shared and without waiting (BERR_CONFLICT: a backup holds it), a backup exclusive and
 * waiting for runs to end. Returns the lock's file descriptor (close to release), or -1. */
int gc_data_lock(const char *data_dir, bool exclusive, bool wait, struct berr *err);
/* `berthd gc [--dry-run] [settings]`: one run in this process; exit status 0 or 1 (2: usage). */
int gc_main(int argc, char **argv);

#endif
