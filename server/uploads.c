/* Upload sessions: staging bytes in the blob store, a row in the metadata, and an
 * in-memory digest state per session so the digest is computed once, while receiving. */
#include "server/uploads.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/meta.h"
#include "server/registry.h"
#include "storage/blobstore.h"

#define UPLOADS_BUCKETS 256
/* At most this many cached digest states; past it idle ones are dropped (and rebuilt
 * from the staged bytes if their upload continues). */
#define UPLOADS_MAX_CACHED 4096
/* Seconds a PUT completing an upload waits for another request on the same upload. */
#define UPLOADS_FINISH_WAIT 2
/* Seconds a cancel (DELETE) waits for a chunk still arriving or a commit running. */
#define UPLOADS_CANCEL_WAIT 30

struct upload_state {
	char id[UPLOAD_ID_LEN + 1];
	struct digest_ctx *ctx; /* covers the first `hashed` bytes; NULL if unknown */
	uint64_t hashed;
	bool busy; /* a chunk is being written */
	/* A DELETE came while busy: whoever holds the upload ends it when done (uploads_unbusy),
	 * as a request handler must not wait for another request: the one it waits for may be
	 * served by the same HTTP worker thread. */
	bool cancelled;
	/* A chunk written straight to the blob's place (blobstore_upload_open_at_blob) ended
	 * with its at_size bytes verified as at_digest: uploads_finish only installs it. */
	bool at_blob;
	struct digest at_digest;
	uint64_t at_size;
	struct upload_state *next;
};

struct uploads {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* broadcast whenever an upload stops being busy */
	struct upload_state *buckets[UPLOADS_BUCKETS];
	size_t count;
};

struct upload_chunk {
	struct registry *reg;
	struct meta *m; /* holds the upload's lock (meta_upload_lock) until the chunk ends */
	char id[UPLOAD_ID_LEN + 1];
	struct upload_state *st;
	struct blob_writer *w;
	uint64_t start;
	uint64_t pos;
	bool at_blob; /* w writes straight to blob `expect` */
	struct digest expect;
};

struct uploads *uploads_new(void)
{
	struct uploads *u = xcalloc(1, sizeof *u);
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->idle, NULL);
	return u;
}

void uploads_free(struct uploads *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < UPLOADS_BUCKETS; i++)
		for (struct upload_state *s = u->buckets[i], *n; s; s = n) {
			n = s->next;
			digest_ctx_free(s->ctx);
			free(s);
		}
	pthread_cond_destroy(&u->idle);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

bool uploads_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n != UPLOAD_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static unsigned uploads_hash(const char *id)
{
	unsigned h = 5381;
	for (; *id; id++)
		h = h * 33 + (unsigned char)*id;
	return h % UPLOADS_BUCKETS;
}

/* Find (create=true: or add) the state of id. Caller holds the lock. */
static struct upload_state *uploads_find(struct uploads *u, const char *id, bool create)
{
	unsigned b = uploads_hash(id);
	for (struct upload_state *s = u->buckets[b]; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	if (!create)
		return NULL;
	if (u->count >= UPLOADS_MAX_CACHED) {
		/* Drop idle states; their uploads rebuild the digest from disk if they go on. One
		 * whose chunk went to the blob's place is kept: its PUT would find nothing. */
		for (size_t i = 0; i < UPLOADS_BUCKETS; i++) {
			struct upload_state **pp = &u->buckets[i];
			while (*pp) {
				struct upload_state *s = *pp;
				if (!s->busy && !s->at_blob) {
					*pp = s->next;
					digest_ctx_free(s->ctx);
					free(s);
					u->count--;
				} else {
					pp = &s->next;
				}
			}
		}
	}
	struct upload_state *s = xcalloc(1, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", id);
	s->next = u->buckets[b];
	u->buckets[b] = s;
	u->count++;
	return s;
}

static void uploads_forget(struct uploads *u, const char *id)
{
	pthread_mutex_lock(&u->lock);
	struct upload_state **pp = &u->buckets[uploads_hash(id)];
	for (; *pp; pp = &(*pp)->next) {
		struct upload_state *s = *pp;
		if (strcmp(s->id, id) == 0) {
			*pp = s->next;
			digest_ctx_free(s->ctx);
			free(s);
			u->count--;
			break;
		}
	}
	pthread_cond_broadcast(&u->idle);
	pthread_mutex_unlock(&u->lock);
}

static int uploads_lock_shared(struct meta *m, const char *id, int wait_seconds, struct berr *err);

/* The upload stops being this request's: busy cleared for whoever waits, or, if a DELETE
 * came meanwhile (st->cancelled), ended here for it (st freed). Ending it needs the upload's
 * lock across nodes: held already (locked), or taken now if free; if another node holds it
 * (it is writing the upload), the cancel stays marked for the next request here that holds
 * it, and the upload's expiry ends it otherwise. Then the lock is given back. */
static void uploads_unbusy(struct registry *reg, struct meta *m, struct upload_state *st, const char *id, bool locked)
{
	pthread_mutex_lock(&reg->uploads->lock);
	bool wanted = st->cancelled;
	pthread_mutex_unlock(&reg->uploads->lock);
	if (wanted && !locked && m)
		locked = uploads_lock_shared(m, id, 0, NULL) == 0;
	pthread_mutex_lock(&reg->uploads->lock);
	bool cancel = st->cancelled && locked && m;
	if (!cancel) {
		st->busy = false;
		pthread_cond_broadcast(&reg->uploads->idle);
	}
	pthread_mutex_unlock(&reg->uploads->lock);
	if (cancel) {
		struct berr e;
		berr_clear(&e);
		if (blobstore_upload_abort(reg->blobs, id, &e) < 0 || meta_upload_delete(m, id, &e) < 0)
			log_warn(
			    "upload %s: cancelled while in use, but not all of it was removed (its expiry will): %s",
			    id, e.message);
		uploads_forget(reg->uploads, id);
	}
	if (locked && m)
		meta_upload_unlock(m, id);
}

static void uploads_new_id(char *out)
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1) {
		log_error("uploads: the random generator failed");
		abort();
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant */
	snprintf(out, UPLOAD_ID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
	         b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int uploads_create(struct registry *reg, struct meta *m, int64_t repo_id, bool with_record, enum digest_algo algo,
                   char *id_out, struct berr *err)
{
	uploads_new_id(id_out);
	if (blobstore_upload_begin(reg->blobs, id_out, err) < 0)
		return -1;
	if (with_record && meta_upload_create(m, id_out, repo_id, err) < 0) {
		blobstore_upload_abort(reg->blobs, id_out, NULL);
		return -1;
	}
	pthread_mutex_lock(&reg->uploads->lock);
	struct upload_state *s = uploads_find(reg->uploads, id_out, true);
	s->ctx = digest_ctx_new(algo);
	s->hashed = 0;
	pthread_mutex_unlock(&reg->uploads->lock);
	return 0;
}

int uploads_status(struct registry *reg, struct meta *m, const char *id, int64_t repo_id, uint64_t *size,
                   struct berr *err)
{
	int64_t owner;
	if (!uploads_id_valid(id))
		return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload %.64s is not known", id);
	if (meta_upload_get(m, id, &owner, err) < 0)
		return -1;
	if (owner != repo_id)
		return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload %s is not known in this repository", id);
	return size ? blobstore_upload_size(reg->blobs, id, size, err) : 0;
}

/* Bring st->ctx up to `size` bytes of staged data with algorithm algo. Reads the staged
 * bytes back only when the cached state is missing, stale or of another algorithm. */
static int uploads_rehash(struct registry *reg, struct upload_state *st, enum digest_algo algo, uint64_t size,
                          struct berr *err)
{
	if (st->ctx && st->hashed == size && digest_ctx_algo(st->ctx) == algo)
		return 0;
	digest_ctx_free(st->ctx);
	st->ctx = NULL;
	st->hashed = 0;
	/* A store that keeps the digest state with the staged bytes (S3) lets any node go on
	 * from there; otherwise the bytes are read back. */
	uint64_t saved_size = 0;
	cleanup_free char *saved = NULL;
	int has = blobstore_upload_checkpoint(reg->blobs, st->id, &saved_size, &saved, err);
	if (has < 0)
		return -1;
	if (has == 1 && saved_size == size) {
		struct digest_ctx *ctx = digest_ctx_import(saved, err);
		if (!ctx)
			return -1;
		if (digest_ctx_algo(ctx) == algo && digest_ctx_length(ctx) == size) {
			st->ctx = ctx;
			st->hashed = size;
			return 0;
		}
		digest_ctx_free(ctx);
	}
	st->ctx = digest_ctx_new(algo);
	cleanup_free char *buf = xmalloc(1 << 20);
	while (st->hashed < size) {
		size_t want = size - st->hashed < (1 << 20) ? (size_t)(size - st->hashed) : (1 << 20);
		ssize_t n = blobstore_upload_pread(reg->blobs, st->id, buf, want, st->hashed, err);
		if (n < 0)
			goto fail;
		if (n == 0) {
			berr_set(err, BERR_INTERNAL, "upload %s is shorter than expected", st->id);
			goto fail;
		}
		digest_ctx_update(st->ctx, buf, (size_t)n);
		st->hashed += (uint64_t)n;
	}
	return 0;
fail:
	digest_ctx_free(st->ctx);
	st->ctx = NULL;
	st->hashed = 0;
	return -1;
}

/* Take upload id's lock across the nodes sharing the database (always free on SQLite),
 * waiting up to wait_seconds for a request writing to it on another node; if that one is
 * still at it, this one is a RANGE_INVALID, as in-process. */
static int uploads_lock_shared(struct meta *m, const char *id, int wait_seconds, struct berr *err)
{
	bool got = false;
	struct berr le = {0};
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_seconds;
	for (;;) {
		if (meta_upload_lock(m, id, &got, &le) < 0) {
			if (err)
				*err = le;
			return -1;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (got || now.tv_sec > deadline.tv_sec ||
		    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
			break;
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	}
	if (!got)
		return berr_set(err, BERR_RANGE_INVALID, "another request is writing to upload %s on another node", id);
	return 0;
}

static int uploads_finish_locked(struct registry *reg, struct meta *m, struct upload_state *st, const char *id,
                                 int64_t repo_id, const struct digest *expected, uint64_t *size_out, struct berr *err);

struct upload_chunk *uploads_chunk_begin(struct registry *reg, const char *id, uint64_t start,
                                         const struct digest *expected, bool likely_whole, struct berr *err)
{
	pthread_mutex_lock(&reg->uploads->lock);
	struct upload_state *st = uploads_find(reg->uploads, id, true);
	if (st->busy) {
		/* Another chunk is being written: this one cannot start where the upload ends. */
		pthread_mutex_unlock(&reg->uploads->lock);
		berr_set(err, BERR_RANGE_INVALID, "another chunk of upload %s is being written", id);
		return NULL;
	}
	st->busy = true;
	pthread_mutex_unlock(&reg->uploads->lock);

	/* Nodes sharing the database: the same, for a chunk being written on another node. The
	 * upload's size is read once it is this request's alone, so two chunks sent at once for
	 * the same range, even to two nodes, cannot both start at its end. */
	struct meta *m = meta_get(err);
	bool got = m && uploads_lock_shared(m, id, 0, err) == 0;
	uint64_t size = 0;
	bool placed = got && blobstore_upload_size(reg->blobs, id, &size, err) == 0;
	if (placed && start != UINT64_MAX && start != size) {
		berr_set(err, BERR_RANGE_INVALID, "chunk starts at byte %llu but the upload has %llu bytes",
		         (unsigned long long)start, (unsigned long long)size);
		placed = false;
	}
	enum digest_algo algo = st->ctx ? digest_ctx_algo(st->ctx) : DIGEST_SHA256;
	struct blob_writer *w = NULL;
	bool ok = placed && uploads_rehash(reg, st, algo, size, err) == 0;
	/* The whole blob in one request with its digest known: straight to where the blob
	 * goes, if the store can (no copy at the commit). */
	bool at_blob = false;
	if (ok && expected && size == 0 && digest_ctx_algo(st->ctx) == expected->algo) {
		struct berr e2;
		berr_clear(&e2);
		w = blobstore_upload_open_at_blob(reg->blobs, id, expected, st->ctx, &e2);
		at_blob = w != NULL;
		if (!w && e2.code != BERR_NONE) {
			if (err)
				*err = e2;
			ok = false;
		}
	}
	st->at_blob = false;
	if (ok && !w && likely_whole && size == 0)
		ok = (w = blobstore_upload_open_early(reg->blobs, id, st->ctx, err)) != NULL;
	if (!ok || (!w && !(w = blobstore_upload_open(reg->blobs, id, size, st->ctx, err)))) {
		uploads_unbusy(reg, m, st, id, got);
		return NULL;
	}
	struct upload_chunk *c = xcalloc(1, sizeof *c);
	c->reg = reg;
	c->m = m;
	snprintf(c->id, sizeof c->id, "%s", id);
	c->st = st;
	c->w = w;
	c->start = c->pos = size;
	c->at_blob = at_blob;
	if (at_blob)
		c->expect = *expected;
	return c;
}

int uploads_chunk_write(struct upload_chunk *c, const void *data, size_t len, struct berr *err)
{
	if (blob_writer_write(c->w, data, len, err) < 0)
		return -1;
	c->pos += len;
	return 0;
}

int uploads_chunk_end(struct upload_chunk *c, bool keep, uint64_t *size, struct berr *err)
{
	/* The writer hashes what it keeps and hands the driver the digest state to keep with
	 * the bytes (blobstore_upload_open). */
	int rc = blob_writer_finish(c->w, keep, err);
	pthread_mutex_lock(&c->reg->uploads->lock);
	c->st->hashed = c->pos; /* the writer fed the state every byte it kept */
	if (!keep || rc < 0) {
		/* The digest state ran ahead of what is kept: rebuild it next time. */
		digest_ctx_free(c->st->ctx);
		c->st->ctx = NULL;
		c->st->hashed = 0;
	} else if (c->at_blob) {
		c->st->at_blob = true;
		c->st->at_digest = c->expect;
		c->st->at_size = c->pos;
	}
	pthread_mutex_unlock(&c->reg->uploads->lock);
	uploads_unbusy(c->reg, c->m, c->st, c->id, true);
	if (size)
		*size = keep && rc == 0 ? c->pos : c->start;
	free(c);
	return rc;
}

struct uploads_install {
	struct registry *reg;
	const char *id;
	const struct digest *d;
	uint64_t size;
};

/* Called by meta_blob_install with the database's write lock held: a garbage collector
 * cannot be between forgetting this digest and removing its file (docs/internals/gc.md). */
static int uploads_install(void *ctx, struct berr *err)
{
	struct uploads_install *inst = ctx;
	return blobstore_upload_commit(inst->reg->blobs, inst->id, inst->d, inst->size, err);
}

/* Make upload id this request's alone: its state busy in this process (waiting up to
 * wait_seconds for a request using it) and its lock across nodes (as long). Whoever holds
 * it may free the state (uploads_forget); else uploads_release gives it back. NULL with
 * BERR_RANGE_INVALID if another request kept it. */
static struct upload_state *uploads_acquire(struct registry *reg, struct meta *m, const char *id, int wait_seconds,
                                            struct berr *err)
{
	pthread_mutex_lock(&reg->uploads->lock);
	/* The state is looked up again after each wait, since the other request frees it when
	 * it ends the upload. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_seconds;
	struct upload_state *st;
	while ((st = uploads_find(reg->uploads, id, true))->busy)
		if (wait_seconds == 0 ||
		    pthread_cond_timedwait(&reg->uploads->idle, &reg->uploads->lock, &deadline) == ETIMEDOUT)
			break;
	if (st->busy) {
		pthread_mutex_unlock(&reg->uploads->lock);
		berr_set(err, BERR_RANGE_INVALID, "another request is writing to upload %s", id);
		return NULL;
	}
	st->busy = true;
	pthread_mutex_unlock(&reg->uploads->lock);
	if (uploads_lock_shared(m, id, wait_seconds, err) < 0) {
		uploads_unbusy(reg, m, st, id, false);
		return NULL;
	}
	return st;
}

/* Give back what uploads_acquire took, the state kept. */
static void uploads_release(struct registry *reg, struct meta *m, struct upload_state *st, const char *id)
{
	uploads_unbusy(reg, m, st, id, true);
}

int uploads_finish(struct registry *reg, struct meta *m, const char *id, int64_t repo_id, const struct digest *expected,
                   uint64_t *size_out, struct berr *err)
{
	/* A racing PUT waits for the one in progress, on this node or another: afterwards the
	 * upload is gone (404) or, if that one failed, still there to finish. */
	struct upload_state *st = uploads_acquire(reg, m, id, UPLOADS_FINISH_WAIT, err);
	if (!st)
		return -1;
	int rc = uploads_finish_locked(reg, m, st, id, repo_id, expected, size_out, err);
	meta_upload_unlock(m, id);
	return rc;
}

/* uploads_finish once the upload is this request's alone (st->busy, meta_upload_lock). */
static int uploads_finish_locked(struct registry *reg, struct meta *m, struct upload_state *st, const char *id,
                                 int64_t repo_id, const struct digest *expected, uint64_t *size_out, struct berr *err)
{
	uint64_t size = 0;
	int rc = 0;
	bool at_blob = st->at_blob;
	st->at_blob = false;
	if (at_blob) {
		/* Written straight to the blob's place, its digest checked as it ended. */
		size = st->at_size;
		digest_ctx_free(st->ctx);
		st->ctx = NULL;
		if (!digest_equal(&st->at_digest, expected))
			rc = berr_set(err, BERR_DIGEST_INVALID, "the uploaded content has digest %s, not %s",
			              st->at_digest.str, expected->str);
	} else if (blobstore_upload_size(reg->blobs, id, &size, err) < 0) {
		pthread_mutex_lock(&reg->uploads->lock);
		bool cancelled = st->cancelled;
		pthread_mutex_unlock(&reg->uploads->lock);
		if (cancelled) { /* a DELETE came meanwhile: it gets what it asked for */
			blobstore_upload_abort(reg->blobs, id, NULL);
			meta_upload_delete(m, id, NULL);
		}
		uploads_forget(reg->uploads, id);
		return -1;
	}

	struct digest got;
	if (rc == 0 && !at_blob)
		rc = uploads_rehash(reg, st, expected->algo, size, err);
	if (rc == 0 && !at_blob) {
		digest_ctx_final(st->ctx, &got);
		digest_ctx_free(st->ctx);
		st->ctx = NULL;
		if (!digest_equal(&got, expected)) {
			berr_set(err, BERR_DIGEST_INVALID, "the uploaded content has digest %s, not %s", got.str,
			         expected->str);
			rc = -1;
		}
	}
	/* The slow part of storing the blob (on S3 a copy of all of it) runs before the write
	 * lock every node shares, so other writes do not wait behind a large layer. */
	if (rc == 0)
		rc = blobstore_upload_prepare(reg->blobs, id, expected, size, err);
	if (rc == 0) {
		struct uploads_install inst = {.reg = reg, .id = id, .d = expected, .size = size};
		rc = meta_blob_install(m, repo_id, expected, size, uploads_install, &inst, err);
	}
	if (rc < 0 && err && err->code != BERR_DIGEST_INVALID && err->code != BERR_BLOB_UPLOAD_INVALID) {
		/* A transient failure (disk, database): keep the session so the client may retry
		 * (on this node a bodiless PUT finds what was written to the blob's place). A
		 * digest or staged bytes that are not the blob (BLOB_UPLOAD_INVALID: they are gone
		 * or of another size) end the upload: the client must start again. Bytes held in
		 * memory for a write to the blob's place are staged instead, so they cost no memory
		 * while the client decides, and its retry works on any node. */
		if (at_blob) {
			struct berr e2;
			berr_clear(&e2);
			int sp = blobstore_upload_spill(reg->blobs, id, &e2);
			if (sp == 1)
				at_blob = false;
			else if (sp < 0)
				log_warn("upload %s: its bytes stay in memory until retried here or ended: %s", id,
				         e2.message);
		}
		pthread_mutex_lock(&reg->uploads->lock);
		st->at_blob = at_blob;
		bool cancelled = st->cancelled;
		if (!cancelled) {
			st->busy = false;
			pthread_cond_broadcast(&reg->uploads->idle);
		}
		pthread_mutex_unlock(&reg->uploads->lock);
		if (cancelled) { /* a DELETE came during the commit: end the upload for it */
			blobstore_upload_abort(reg->blobs, id, NULL);
			meta_upload_delete(m, id, NULL);
			uploads_forget(reg->uploads, id);
		}
		return -1;
	}
	if (rc == 0)
		blobstore_upload_finished(reg->blobs, id, NULL);
	else
		blobstore_upload_abort(reg->blobs, id, NULL);
	meta_upload_delete(m, id, NULL);
	uploads_forget(reg->uploads, id);
	if (rc == 0 && size_out)
		*size_out = size;
	return rc;
}

int uploads_cancel(struct registry *reg, struct meta *m, const char *id, struct berr *err)
{
	/* A chunk being written or a commit running keeps the upload's state and staged bytes
	 * in use. In use by a request on this node: that one ends the upload when it is done
	 * (uploads_unbusy); waiting here instead could wait for a request this very HTTP worker
	 * thread must serve. Checked and taken in one step, so no request starts in between. */
	pthread_mutex_lock(&reg->uploads->lock);
	struct upload_state *st = uploads_find(reg->uploads, id, true);
	if (st->busy) {
		st->cancelled = true;
		pthread_mutex_unlock(&reg->uploads->lock);
		return 0;
	}
	st->busy = true;
	pthread_mutex_unlock(&reg->uploads->lock);
	/* Another node writing it: wait for its lock (that node's requests go on meanwhile). */
	struct berr e2;
	berr_clear(&e2);
	if (uploads_lock_shared(m, id, UPLOADS_CANCEL_WAIT, &e2) < 0) {
		uploads_unbusy(reg, m, st, id, false);
		st = NULL;
	}
	if (!st) {
		if (e2.code == BERR_RANGE_INVALID)
			return berr_set(err, BERR_UNAVAILABLE,
			                "upload %s is still in use by another request; try again", id);
		if (err)
			*err = e2;
		return -1;
	}
	if (blobstore_upload_abort(reg->blobs, id, err) < 0) {
		uploads_release(reg, m, st, id);
		return -1;
	}
	int rc = meta_upload_delete(m, id, err);
	uploads_forget(reg->uploads, id);
	meta_upload_unlock(m, id);
	return rc;
}

struct sweep {
	struct meta *m;
	char **orphans;
	size_t n, cap;
};

static int uploads_sweep_one(void *ctx, const char *id)
{
	struct sweep *sw = ctx;
	int64_t repo_id;
	struct berr e2;
	if (uploads_id_valid(id) && meta_upload_get(sw->m, id, &repo_id, &e2) == 0)
		return 0;
	if (sw->n == sw->cap) {
		sw->cap = sw->cap ? sw->cap * 2 : 16;
		sw->orphans = xrealloc(sw->orphans, sw->cap * sizeof *sw->orphans);
	}
	sw->orphans[sw->n++] = xstrdup(id);
	return 0;
}

int uploads_sweep(struct registry *reg, struct meta *m, size_t *removed, struct berr *err)
{
	struct sweep sw = {.m = m};
	int rc = blobstore_upload_list(reg->blobs, uploads_sweep_one, &sw, err);
	*removed = 0;
	for (size_t i = 0; i < sw.n; i++) {
		/* On a shared bucket a staging object without a session may be a monolithic upload
		 * another node is receiving right now: it holds the upload's lock, so leave it. */
		bool got = true;
		if (rc == 0 && uploads_id_valid(sw.orphans[i]) && meta_upload_lock(m, sw.orphans[i], &got, err) < 0)
			rc = -1;
		if (rc == 0 && got) {
			if (blobstore_upload_abort(reg->blobs, sw.orphans[i], err) < 0)
				rc = -1;
			else
				(*removed)++;
		}
		if (got && uploads_id_valid(sw.orphans[i]))
			meta_upload_unlock(m, sw.orphans[i]);
		free(sw.orphans[i]);
	}
	free(sw.orphans);
	return rc;
}

struct expiry {
	struct registry *reg;
	char **ids;
	size_t n, cap;
};

static int uploads_expiry_collect(void *ctx, const char *id)
{
	struct expiry *ex = ctx;
	if (ex->n == ex->cap) {
		ex->cap = ex->cap ? ex->cap * 2 : 16;
		ex->ids = xrealloc(ex->ids, ex->cap * sizeof *ex->ids);
	}
	ex->ids[ex->n++] = xstrdup(id);
	return 0;
}

int uploads_expire(struct registry *reg, struct meta *m, int64_t cutoff, bool dry_run, size_t *expired,
                   struct berr *err)
{
	*expired = 0;
	for (;;) {
		struct expiry ex = {.reg = reg};
		int rc = meta_uploads_expired(m, cutoff, 256, uploads_expiry_collect, &ex, err);
		size_t gone = 0, seen = ex.n;
		for (size_t i = 0; i < ex.n; i++) {
			bool was = false;
			struct upload_state *st;
			if (rc == 0 && dry_run) {
				(*expired)++;
			} else if (rc == 0 && !uploads_id_valid(ex.ids[i])) {
				/* Not an id we issue: only its row can go. */
				if (meta_upload_expire(m, ex.ids[i], cutoff, &was, err) < 0)
					rc = -1;
				else if (was) {
					(*expired)++;
					gone++;
				}
			} else if (rc == 0 && (st = uploads_acquire(reg, m, ex.ids[i], 0, NULL))) {
				/* Not in use here or on another node, and nobody starts using it until it
				 * is released. The row goes first, in a statement that re-checks the age:
				 * a client that just wrote keeps its session, one that writes after gets 404. */
				if (meta_upload_expire(m, ex.ids[i], cutoff, &was, err) < 0) {
					rc = -1;
					uploads_release(reg, m, st, ex.ids[i]);
				} else if (was) {
					if (blobstore_upload_abort(reg->blobs, ex.ids[i], err) < 0)
						rc = -1;
					uploads_forget(reg->uploads, ex.ids[i]);
					meta_upload_unlock(m, ex.ids[i]);
					(*expired)++;
					gone++;
				} else {
					uploads_release(reg, m, st, ex.ids[i]);
				}
			}
			free(ex.ids[i]);
		}
		free(ex.ids);
		if (rc < 0)
			return -1;
		/* A full page where nothing could go (busy, or a dry run) would be listed again. */
		if (seen < 256 || gone == 0)
			return 0;
	}
}
