/* A blob writer that hands the bytes to a driver's writer on a second thread, so the
 * thread receiving a push (and hashing it) never waits for the copy into the page cache
 * or the object store: the two stages overlap, each on its own core.
 *
 * The bytes pass through a bounded ring of WRITER_PIPE_SLOTS buffers of
 * WRITER_PIPE_SLOT_SIZE bytes; the receiving side blocks when the ring is full, so memory
 * stays bounded however fast the client sends. The thread starts only when the first
 * buffer fills: small blobs (configs, manifests' layers of a few KiB) are written on the
 * caller's thread when the writer finishes, with no thread at all.
 *
 * When given a digest state, the thread also feeds it every byte, in order, before writing
 * them: the receiving thread then only copies, and hashing and writing share the other core.
 *
 * A write error on the thread is reported by the next write (or by finish); the caller
 * then finishes with keep=false, which cuts the staged bytes back as before. */
#include "storage/writer_pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "storage/driver.h"

#define WRITER_PIPE_SLOTS     4
#define WRITER_PIPE_SLOT_SIZE (256 * 1024)

struct writer_pipe_slot {
	char *buf;
	size_t len;
};

struct writer_pipe {
	struct blob_writer base;
	struct blob_writer *inner;
	struct digest_ctx *hash; /* fed every byte before it is written; may be NULL */
	pthread_mutex_t lock;
	pthread_cond_t filled;  /* a slot was queued, or closing was set */
	pthread_cond_t drained; /* a slot was written (or the thread failed) */
	struct writer_pipe_slot slots[WRITER_PIPE_SLOTS];
	unsigned head;   /* the slot the caller fills */
	unsigned tail;   /* the next slot the thread writes */
	unsigned queued; /* full slots waiting for the thread */
	bool started;
	bool closing;
	bool failed;
	struct berr err; /* the thread's error once failed */
	pthread_t thread;
};

static void *writer_pipe_main(void *arg)
{
	struct writer_pipe *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->queued == 0 && !p->closing)
			pthread_cond_wait(&p->filled, &p->lock);
		if (p->queued == 0)
			break;
		struct writer_pipe_slot *s = &p->slots[p->tail];
		pthread_mutex_unlock(&p->lock);
		struct berr err;
		berr_clear(&err);
		int rc = 0;
		if (!p->failed) {
			if (p->hash)
				digest_ctx_update(p->hash, s->buf, s->len);
			rc = p->inner->write(p->inner, s->buf, s->len, &err);
		}
		pthread_mutex_lock(&p->lock);
		if (rc < 0) {
			p->failed = true;
			p->err = err;
		}
		s->len = 0;
		p->tail = (p->tail + 1) % WRITER_PIPE_SLOTS;
		p->queued--;
		pthread_cond_signal(&p->drained);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Queue the full head slot for the thread (starting it on first use). Waits while the
 * ring is full. Returns -1 with err when the thread has failed. Caller holds no lock. */
static int writer_pipe_push(struct writer_pipe *p, struct berr *err)
{
	pthread_mutex_lock(&p->lock);
	if (!p->started) {
		if (pthread_create(&p->thread, NULL, writer_pipe_main, p) != 0) {
			pthread_mutex_unlock(&p->lock);
			/* No thread: write synchronously; the pipe still works, only slower. */
			struct writer_pipe_slot *s = &p->slots[p->head];
			if (p->hash)
				digest_ctx_update(p->hash, s->buf, s->len);
			int rc = p->inner->write(p->inner, s->buf, s->len, err);
			s->len = 0;
			return rc;
		}
		p->started = true;
	}
	p->queued++;
	p->head = (p->head + 1) % WRITER_PIPE_SLOTS;
	pthread_cond_signal(&p->filled);
	while (p->queued == WRITER_PIPE_SLOTS && !p->failed)
		pthread_cond_wait(&p->drained, &p->lock);
	int rc = 0;
	if (p->failed) {
		if (err)
			*err = p->err;
		rc = -1;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int writer_pipe_write(struct blob_writer *bw, const void *buf, size_t len, struct berr *err)
{
	struct writer_pipe *p = (struct writer_pipe *)bw;
	const char *src = buf;
	while (len > 0) {
		struct writer_pipe_slot *s = &p->slots[p->head];
		/* The thread never touches the head slot: only queued slots are its. */
		if (!s->buf)
			s->buf = xmalloc(WRITER_PIPE_SLOT_SIZE);
		size_t n = WRITER_PIPE_SLOT_SIZE - s->len;
		if (n > len)
			n = len;
		memcpy(s->buf + s->len, src, n);
		s->len += n;
		src += n;
		len -= n;
		if (s->len == WRITER_PIPE_SLOT_SIZE && writer_pipe_push(p, err) < 0)
			return -1;
	}
	return 0;
}

static int writer_pipe_finish(struct blob_writer *bw, bool keep, struct berr *err)
{
	struct writer_pipe *p = (struct writer_pipe *)bw;
	int rc = 0;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->closing = true;
		pthread_cond_signal(&p->filled);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
		if (p->failed) {
			if (err)
				*err = p->err;
			rc = -1;
		}
	}
	struct writer_pipe_slot *head = &p->slots[p->head];
	if (rc == 0 && keep && head->len > 0) {
		if (p->hash)
			digest_ctx_update(p->hash, head->buf, head->len);
		rc = p->inner->write(p->inner, head->buf, head->len, err);
	}
	/* A driver that keeps the digest state with the staged bytes (so another process can
	 * continue the upload) gets it now that it covers every byte kept. */
	if (rc == 0 && keep && p->hash && p->inner->checkpoint) {
		cleanup_free char *state = digest_ctx_export(p->hash);
		p->inner->checkpoint(p->inner, state);
	}
	/* After a failure the caller's keep no longer holds: the staged bytes are cut back. */
	int frc = p->inner->finish(p->inner, keep && rc == 0, rc == 0 ? err : NULL);
	for (unsigned i = 0; i < WRITER_PIPE_SLOTS; i++)
		free(p->slots[i].buf);
	pthread_cond_destroy(&p->drained);
	pthread_cond_destroy(&p->filled);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return rc < 0 ? rc : frc;
}

struct blob_writer *writer_pipe_wrap(struct blob_writer *inner, struct digest_ctx *hash)
{
	struct writer_pipe *p = xcalloc(1, sizeof *p);
	p->hash = hash;
	p->base.write = writer_pipe_write;
	p->base.finish = writer_pipe_finish;
	p->inner = inner;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->filled, NULL);
	pthread_cond_init(&p->drained, NULL);
	return &p->base;
}
