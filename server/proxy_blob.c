/* Blobs of the pull-through cache. A blob missing from the store is downloaded from the
 * upstream once, by a fetch thread, into a staging object of the blob store; every client
 * asking for it meanwhile (the first one and any that follow) is answered from that
 * staging object as it grows, so bytes reach clients while they are being stored. The
 * digest and size are checked when the download ends: only then is the blob committed and
 * the last byte released to clients. A failed or corrupt download is dropped, and the
 * connections that were following it are aborted, so no client takes it for complete.
 *
 * A client following a download waits for bytes inside the response callback, which holds
 * one of libmicrohttpd's worker threads for as long as the upstream is slower than the
 * client; downloads stall out after a minute without bytes (registry_client). */
#include "server/metrics.h"
#include "server/proxy.h"

#include <inttypes.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/registry_client.h"
#include "common/xalloc.h"
#include "server/http.h"
#include "server/meta.h"
#include "storage/blobstore.h"

#define PROXY_READ_CHUNK (256 * 1024)

enum fetch_state { FETCH_RUNNING, FETCH_DONE, FETCH_FAILED };

struct proxy_fetch {
	struct proxy_fetch *next; /* in proxy_fetches while running */
	char key[REFERENCE_NAME_MAX + DIGEST_STR_MAX + 300];
	const struct proxy_upstream *up;
	char urepo[REFERENCE_NAME_MAX + 1];
	char name[REFERENCE_NAME_MAX + 1]; /* the local repository to link the blob into */
	struct digest digest;
	char upload_id[64];
	/* guarded by proxy_fetch_lock */
	enum fetch_state state;
	bool begun;     /* the upstream answered with the blob */
	uint64_t total; /* announced size, UINT64_MAX when unknown */
	uint64_t written;
	int refs; /* the fetch thread and each response reading it */
	struct berr err;
	/* fetch thread only */
	struct blob_writer *writer;
	struct digest_ctx *dctx;
};

static struct blobstore *proxy_blobs;
static pthread_mutex_t proxy_fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t proxy_fetch_cond = PTHREAD_COND_INITIALIZER;
static struct proxy_fetch *proxy_fetches;
static bool proxy_stopping;
static int proxy_running;
/* Held (read) by fetch threads while they commit and touch the database; shutdown takes it
 * (write) so none does after the database is closed. */
static pthread_rwlock_t proxy_commit_lock = PTHREAD_RWLOCK_INITIALIZER;
static atomic_uint proxy_upload_seq;
/* CLOCK_MONOTONIC second after which downloads and their followers give up (0: none). */
static _Atomic long proxy_deadline;

static long proxy_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

/* True once shutdown has begun and its grace is over. */
static bool proxy_should_stop(void)
{
	long d = atomic_load(&proxy_deadline);
	return proxy_stopping || (d && proxy_now() >= d);
}

/* Wait for a change of any fetch, at most a second (to notice the shutdown deadline). Call
 * with proxy_fetch_lock held. */
static void proxy_fetch_wait(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_cond_timedwait(&proxy_fetch_cond, &proxy_fetch_lock, &until);
}

void proxy_stop_after(int seconds)
{
	atomic_store(&proxy_deadline, proxy_now() + (seconds > 0 ? seconds : 0) + 1);
}

void proxy_blob_init(struct blobstore *blobs)
{
	proxy_blobs = blobs;
}

bool proxy_blob_shutdown(void)
{
	pthread_mutex_lock(&proxy_fetch_lock);
	proxy_stopping = true;
	pthread_cond_broadcast(&proxy_fetch_cond);
	/* Downloads notice at their next bytes; give them a moment to end cleanly. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (proxy_running > 0 && pthread_cond_timedwait(&proxy_fetch_cond, &proxy_fetch_lock, &until) == 0)
		;
	bool idle = proxy_running == 0;
	pthread_mutex_unlock(&proxy_fetch_lock);
	pthread_rwlock_wrlock(&proxy_commit_lock);
	return idle;
}

/* Drop one reference; the last frees the fetch. Call with proxy_fetch_lock held. */
static void proxy_fetch_unref_locked(struct proxy_fetch *f)
{
	if (--f->refs == 0)
		free(f);
}

/* The sink's callbacks, on the fetch thread: the announced size, the start of the body,
 * and each piece of it (hashed, written to the staging object, then published). */
static void proxy_fetch_length(void *arg, uint64_t total)
{
	struct proxy_fetch *f = arg;
	pthread_mutex_lock(&proxy_fetch_lock);
	f->total = total;
	pthread_mutex_unlock(&proxy_fetch_lock);
}

static int proxy_fetch_begin(void *arg, uint64_t offset, struct berr *err)
{
	struct proxy_fetch *f = arg;
	if (offset != 0)
		return berr_set(err, BERR_RANGE_INVALID, "the upstream answered with a partial blob");
	pthread_mutex_lock(&proxy_fetch_lock);
	f->begun = true;
	pthread_cond_broadcast(&proxy_fetch_cond);
	pthread_mutex_unlock(&proxy_fetch_lock);
	return 0;
}

static int proxy_fetch_write(void *arg, const void *data, size_t len, struct berr *err)
{
	struct proxy_fetch *f = arg;
	pthread_mutex_lock(&proxy_fetch_lock);
	bool stop = proxy_should_stop();
	uint64_t total = f->total, written = f->written;
	pthread_mutex_unlock(&proxy_fetch_lock);
	if (stop)
		return berr_set(err, BERR_UNAVAILABLE, "berthd is stopping");
	if (total != UINT64_MAX && written + len > total)
		return berr_set(err, BERR_SIZE_INVALID,
		                "the upstream sent more than the %" PRIu64 " bytes it announced", total);
	digest_ctx_update(f->dctx, data, len);
	if (blob_writer_write(f->writer, data, len, err) < 0)
		return -1;
	pthread_mutex_lock(&proxy_fetch_lock);
	f->written += len;
	pthread_cond_broadcast(&proxy_fetch_cond);
	pthread_mutex_unlock(&proxy_fetch_lock);
	return 0;
}

/* Called by meta_blob_install with the database's write lock held, so a garbage collector
 * cannot interleave with the blob's arrival (docs/internals/gc.md). */
static int proxy_fetch_install(void *ctx, struct berr *err)
{
	struct proxy_fetch *f = ctx;
	pthread_mutex_lock(&proxy_fetch_lock);
	uint64_t written = f->written;
	pthread_mutex_unlock(&proxy_fetch_lock);
	return blobstore_upload_commit(proxy_blobs, f->upload_id, &f->digest, written, err);
}

/* Download, verify, commit and link; then publish the outcome. */
static int proxy_fetch_run(struct proxy_fetch *f, struct berr *err)
{
	if (blobstore_upload_begin(proxy_blobs, f->upload_id, err) < 0 ||
	    !(f->writer = blobstore_upload_open_direct(proxy_blobs, f->upload_id, 0, err)))
		return -1;
	f->dctx = digest_ctx_new(f->digest.algo);
	struct registry_blob_sink sink = {
	    .begin = proxy_fetch_begin, .write = proxy_fetch_write, .length = proxy_fetch_length, .arg = f};
	struct registry_client *c = proxy_client_get(f->up, f->urepo);
	int rc = registry_client_get_blob(c, &f->digest, 0, &sink, err);
	proxy_client_put(c);
	if (rc < 0)
		return -1;
	struct digest got;
	digest_ctx_final(f->dctx, &got);
	pthread_mutex_lock(&proxy_fetch_lock);
	uint64_t written = f->written, total = f->total;
	pthread_mutex_unlock(&proxy_fetch_lock);
	if (!digest_equal(&got, &f->digest))
		return berr_set(err, BERR_DIGEST_INVALID, "the upstream sent %" PRIu64 " bytes with digest %s, not %s",
		                written, got.str, f->digest.str);
	if (total != UINT64_MAX && written != total)
		return berr_set(err, BERR_SIZE_INVALID, "the upstream sent %" PRIu64 " of %" PRIu64 " bytes", written,
		                total);
	int frc = blob_writer_finish(f->writer, true, err);
	f->writer = NULL;
	if (frc < 0)
		return -1;
	pthread_rwlock_rdlock(&proxy_commit_lock);
	pthread_mutex_lock(&proxy_fetch_lock);
	bool stop = proxy_stopping;
	pthread_mutex_unlock(&proxy_fetch_lock);
	if (stop) {
		pthread_rwlock_unlock(&proxy_commit_lock);
		return berr_set(err, BERR_UNAVAILABLE, "berthd is stopping");
	}
	int64_t repo_id;
	struct meta *m = meta_get(err);
	rc = -1;
	if (m && meta_repo_ensure(m, f->name, &repo_id, err) == 0 &&
	    meta_blob_install(m, repo_id, &f->digest, written, proxy_fetch_install, f, err) == 0)
		rc = 0;
	meta_release();
	pthread_rwlock_unlock(&proxy_commit_lock);
	return rc;
}

static void *proxy_fetch_thread(void *arg)
{
	struct proxy_fetch *f = arg;
	struct berr err = {0};
	int rc = proxy_fetch_run(f, &err);
	if (f->writer)
		blob_writer_finish(f->writer, false, NULL);
	f->writer = NULL;
	digest_ctx_free(f->dctx);
	if (rc < 0) {
		/* A staging object that was committed is gone already; abort is a no-op then. */
		blobstore_upload_abort(proxy_blobs, f->upload_id, NULL);
		log_warn("mirror: %s@%s from %s/%s: download failed, nothing cached: %s", f->name, f->digest.str,
		         f->up->url, f->urepo, err.message);
	} else {
		log_info("mirror: cached blob %s@%s from %s/%s", f->name, f->digest.str, f->up->url, f->urepo);
	}
	pthread_mutex_lock(&proxy_fetch_lock);
	f->state = rc < 0 ? FETCH_FAILED : FETCH_DONE;
	f->err = err;
	for (struct proxy_fetch **p = &proxy_fetches; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	proxy_running--;
	pthread_cond_broadcast(&proxy_fetch_cond);
	proxy_fetch_unref_locked(f);
	pthread_mutex_unlock(&proxy_fetch_lock);
	return NULL;
}

/* The running download of (up, urepo, d), joined, or a new one; with a reference for the
 * caller. NULL with err when berthd is stopping or no thread can be started. */
static struct proxy_fetch *proxy_fetch_join(const struct proxy_upstream *up, const char *urepo, const char *name,
                                            const struct digest *d, struct berr *err)
{
	char key[sizeof((struct proxy_fetch *)0)->key];
	snprintf(key, sizeof key, "%s/%s@%s", up->url, urepo, d->str);
	pthread_mutex_lock(&proxy_fetch_lock);
	if (proxy_stopping) {
		pthread_mutex_unlock(&proxy_fetch_lock);
		berr_set(err, BERR_UNAVAILABLE, "berthd is stopping");
		return NULL;
	}
	for (struct proxy_fetch *f = proxy_fetches; f; f = f->next)
		if (strcmp(f->key, key) == 0) {
			f->refs++;
			pthread_mutex_unlock(&proxy_fetch_lock);
			return f;
		}
	struct proxy_fetch *f = xcalloc(1, sizeof *f);
	snprintf(f->key, sizeof f->key, "%s", key);
	f->up = up;
	snprintf(f->urepo, sizeof f->urepo, "%s", urepo);
	snprintf(f->name, sizeof f->name, "%s", name);
	f->digest = *d;
	f->total = UINT64_MAX;
	snprintf(f->upload_id, sizeof f->upload_id, "mirror-%ld-%u-%.16s", (long)getpid(),
	         atomic_fetch_add(&proxy_upload_seq, 1), digest_hex(d));
	f->refs = 2;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t tid;
	int rc = pthread_create(&tid, &attr, proxy_fetch_thread, f);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pthread_mutex_unlock(&proxy_fetch_lock);
		free(f);
		berr_sys(err, rc, "start a download thread");
		return NULL;
	}
	f->next = proxy_fetches;
	proxy_fetches = f;
	proxy_running++;
	pthread_mutex_unlock(&proxy_fetch_lock);
	return f;
}

/* A response reading one fetch: from its staging object while it runs, then from the
 * committed blob. */
struct proxy_reader {
	struct proxy_fetch *f;
	bool open;             /* br is the committed blob, once the download is done */
	struct blob_reader br; /* read in order from where the download left this client */
};

/* libmicrohttpd's content reader: the bytes at pos, waiting for the download to bring them. */
static ssize_t proxy_reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct proxy_reader *rd = cls;
	struct proxy_fetch *f = rd->f;
	if (max > PROXY_READ_CHUNK)
		max = PROXY_READ_CHUNK;
	if (!rd->open) {
		pthread_mutex_lock(&proxy_fetch_lock);
		for (;;) {
			if (f->state == FETCH_FAILED || (f->state == FETCH_RUNNING && proxy_should_stop())) {
				pthread_mutex_unlock(&proxy_fetch_lock);
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			if (f->state == FETCH_DONE)
				break;
			/* The last byte waits for the digest check, so a corrupt download never
			 * reaches a client as a complete body. */
			uint64_t avail = f->written;
			if (f->total != UINT64_MAX && avail == f->total && avail > 0)
				avail--;
			if (avail > pos) {
				if (max > avail - pos)
					max = (size_t)(avail - pos);
				break;
			}
			proxy_fetch_wait();
		}
		bool done = f->state == FETCH_DONE;
		uint64_t written = f->written;
		pthread_mutex_unlock(&proxy_fetch_lock);
		if (!done) {
			struct berr e;
			ssize_t n = blobstore_upload_pread(proxy_blobs, f->upload_id, buf, max, pos, &e);
			if (n > 0)
				return n;
			/* Committed (renamed) between the check and the read: the outcome is
			 * published once the blob is also recorded. */
			pthread_mutex_lock(&proxy_fetch_lock);
			while (f->state == FETCH_RUNNING && !proxy_should_stop())
				proxy_fetch_wait();
			done = f->state == FETCH_DONE;
			written = f->written;
			pthread_mutex_unlock(&proxy_fetch_lock);
			if (!done)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (pos >= written)
			return MHD_CONTENT_READER_END_OF_STREAM;
		struct berr e;
		if (blobstore_open_read(proxy_blobs, &f->digest, &rd->br, &e) < 0) {
			log_warn("mirror: %s: %s", f->digest.str, e.message);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		rd->open = true;
		/* The rest, read in order (an object store's blob is a stream, not a file). */
		blob_reader_range(&rd->br, pos, rd->br.size > pos ? rd->br.size - pos : 0);
	}
	struct berr e;
	ssize_t n = blob_reader_read(&rd->br, buf, max, &e);
	if (n < 0) {
		log_warn("mirror: %s: %s", f->digest.str, e.message);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

/* The response is done with (sent, aborted or the connection closed): drop its reference. */
static void proxy_reader_free(void *cls)
{
	struct proxy_reader *rd = cls;
	if (rd->open)
		blob_reader_close(&rd->br);
	pthread_mutex_lock(&proxy_fetch_lock);
	proxy_fetch_unref_locked(rd->f);
	pthread_mutex_unlock(&proxy_fetch_lock);
	free(rd);
}

/* The headers every blob answer of the cache carries. */
static void proxy_blob_headers(struct MHD_Response *resp, const struct digest *d)
{
	resp_header(resp, "Docker-Content-Digest", d->str);
	resp_headerf(resp, "ETag", "\"%s\"", d->str);
	resp_header(resp, "Content-Type", "application/octet-stream");
}

/* Stream d to the client from the running (or a new) download. */
static int proxy_blob_stream(struct req *r, const struct proxy_upstream *up, const char *urepo, const struct digest *d)
{
	struct proxy_fetch *f = proxy_fetch_join(up, urepo, r->route.name, d, &r->err);
	if (!f) {
		req_respond_error(r, &r->err);
		return 1;
	}
	pthread_mutex_lock(&proxy_fetch_lock);
	while (f->state == FETCH_RUNNING && !f->begun && !proxy_should_stop())
		proxy_fetch_wait();
	enum fetch_state state = f->state;
	bool begun = f->begun;
	uint64_t total = state == FETCH_DONE ? f->written : f->total;
	struct berr ferr = f->err;
	pthread_mutex_unlock(&proxy_fetch_lock);
	if (state == FETCH_FAILED && !begun) {
		pthread_mutex_lock(&proxy_fetch_lock);
		proxy_fetch_unref_locked(f);
		pthread_mutex_unlock(&proxy_fetch_lock);
		switch (ferr.code) {
		case BERR_BLOB_UNKNOWN:
		case BERR_UNAUTHORIZED:
		case BERR_DENIED:
			req_fail(r, BERR_BLOB_UNKNOWN, "upstream %s: %s", up->url, ferr.message);
			break;
		case BERR_TOOMANYREQUESTS:
			req_fail(r, BERR_TOOMANYREQUESTS, "upstream %s is rate-limiting: %s", up->url, ferr.message);
			break;
		default:
			req_fail(r, BERR_UNAVAILABLE, "upstream %s: %s", up->url, ferr.message);
		}
		return 1;
	}
	struct proxy_reader *rd = xcalloc(1, sizeof *rd);
	rd->f = f;
	struct MHD_Response *resp = MHD_create_response_from_callback(
	    total == UINT64_MAX ? MHD_SIZE_UNKNOWN : total, PROXY_READ_CHUNK, proxy_reader_cb, rd, proxy_reader_free);
	proxy_blob_headers(resp, d);
	req_respond(r, 200, resp);
	return 1;
}

int proxy_blob(struct req *r, const struct digest *d)
{
	char urepo[REFERENCE_NAME_MAX + 1];
	const struct proxy_upstream *up = proxy_map(r->route.name, urepo);
	if (!up)
		return 0;
	uint64_t size;
	struct berr e;
	bool stored = meta_blob_get(r->meta, d, &size, &e) == 0;
	if (stored || r->method == HTTP_HEAD) {
		/* Stored for another repository, or only its size asked: the upstream repository
		 * must have it before this one shows it. */
		struct registry_client *c = proxy_client_get(up, urepo);
		uint64_t usize = 0;
		int rc = registry_client_stat_blob(c, d, &usize, &e);
		proxy_client_put(c);
		if (rc == 0) {
			req_fail(r, BERR_BLOB_UNKNOWN, "blob %s is not in %s/%s", d->str, up->url, urepo);
			return 1;
		}
		if (rc < 0) {
			req_fail(r, e.code == BERR_TOOMANYREQUESTS ? BERR_TOOMANYREQUESTS : BERR_UNAVAILABLE,
			         "upstream %s: %s", up->url, e.message);
			return 1;
		}
		if (stored) {
			int64_t repo_id;
			bool linked = false;
			uint64_t lsize;
			if (meta_repo_ensure(r->meta, r->route.name, &repo_id, &r->err) < 0 ||
			    meta_blob_mount(r->meta, repo_id, -1, d, &linked, &lsize, &r->err) < 0) {
				req_respond_error(r, &r->err);
				return 1;
			}
			if (linked) {
				metrics_count(METRICS_MIRROR_HITS, 1);
				return 0;
			}
			/* Collected since it was looked up: fetch it again like any missing blob. */
			if (r->method != HTTP_HEAD) {
				metrics_count(METRICS_MIRROR_MISSES, 1);
				return proxy_blob_stream(r, up, urepo, d);
			}
		}
		struct MHD_Response *resp = usize == UINT64_MAX ? resp_empty() : resp_head(usize);
		proxy_blob_headers(resp, d);
		req_respond(r, 200, resp);
		return 1;
	}
	metrics_count(METRICS_MIRROR_MISSES, 1);
	return proxy_blob_stream(r, up, urepo, d);
}
