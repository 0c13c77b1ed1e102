/* Unit tests for storage/writer_pipe.c: bytes arrive in order and complete whatever the
 * write sizes, small writes need no thread, an inner writer's failure is reported and the
 * inner writer is finished with keep=false. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/xalloc.h"
#include "storage/driver.h"
#include "storage/writer_pipe.h"
#include "tests/unit/tap.h"

/* An inner writer collecting into memory; fails once `fail_after` bytes were accepted. */
struct mem_writer {
	struct blob_writer base;
	char *data;
	size_t len, cap;
	size_t fail_after;
	int finished; /* 1 + keep */
	size_t calls;
};

static int mem_write(struct blob_writer *bw, const void *buf, size_t len, struct berr *err)
{
	struct mem_writer *m = (struct mem_writer *)bw;
	m->calls++;
	if (m->len + len > m->fail_after)
		return berr_set(err, BERR_INTERNAL, "disk full (test)");
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->data = xrealloc(m->data, m->cap);
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

static int mem_finish(struct blob_writer *bw, bool keep, struct berr *err)
{
	(void)err;
	struct mem_writer *m = (struct mem_writer *)bw;
	m->finished = 1 + keep;
	return 0;
}

static void mem_init(struct mem_writer *m, size_t fail_after)
{
	memset(m, 0, sizeof *m);
	m->base.write = mem_write;
	m->base.finish = mem_finish;
	m->fail_after = fail_after;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 131 + (i >> 9));
}

static void test_order(size_t total, size_t step, const char *what)
{
	struct mem_writer m;
	mem_init(&m, SIZE_MAX);
	struct digest_ctx *hash = digest_ctx_new(DIGEST_SHA256);
	struct blob_writer *w = writer_pipe_wrap(&m.base, hash);
	unsigned char *src = xmalloc(total ? total : 1);
	for (size_t i = 0; i < total; i++)
		src[i] = pattern(i);
	struct berr err;
	int ok = 1;
	size_t off = 0, k = 0;
	while (off < total) {
		size_t n = step ? step : (size_t)(1 + (k++ * 7919) % 70000); /* step 0: irregular */
		if (n > total - off)
			n = total - off;
		if (w->write(w, src + off, n, &err) < 0)
			ok = 0;
		off += n;
	}
	tap_ok(ok && w->finish(w, true, &err) == 0, "%s: writes and finish succeed", what);
	tap_ok(m.finished == 2, "%s: inner writer finished with keep", what);
	tap_ok(m.len == total && (total == 0 || memcmp(m.data, src, total) == 0), "%s: %zu bytes arrive in order", what,
	       total);
	struct digest got, want;
	digest_ctx_final(hash, &got);
	digest_buffer(DIGEST_SHA256, src, total, &want);
	tap_ok(digest_equal(&got, &want) && digest_ctx_length(hash) == total, "%s: the digest covers every byte", what);
	digest_ctx_free(hash);
	free(src);
	free(m.data);
}

static void test_failure(void)
{
	struct mem_writer m;
	mem_init(&m, 600 * 1024);
	struct blob_writer *w = writer_pipe_wrap(&m.base, NULL);
	char *buf = xcalloc(1, 64 * 1024);
	struct berr err;
	berr_clear(&err);
	int failed_at = -1;
	for (int i = 0; i < 200; i++)
		if (w->write(w, buf, 64 * 1024, &err) < 0) {
			failed_at = i;
			break;
		}
	tap_ok(failed_at > 0, "a failing inner writer is reported by a later write (at write %d)", failed_at);
	tap_ok(strstr(err.message, "disk full") != NULL, "with the inner writer's message (%s)", err.message);
	berr_clear(&err);
	tap_ok(w->finish(w, false, &err) < 0, "finish reports the failure again");
	tap_ok(m.finished == 1, "the inner writer is finished without keep");
	free(buf);
	free(m.data);

	/* Failure noticed only at finish: the last slots were still queued. */
	mem_init(&m, 300 * 1024);
	w = writer_pipe_wrap(&m.base, NULL);
	buf = xcalloc(1, 512 * 1024);
	int wrc = w->write(w, buf, 512 * 1024, &err);
	int frc = w->finish(w, true, &err);
	tap_ok(wrc < 0 || frc < 0, "a failure in the last queued slot fails the finish");
	tap_ok(m.finished == 1, "and the inner writer is not kept");
	free(buf);
	free(m.data);
}

static void test_discard(void)
{
	struct mem_writer m;
	mem_init(&m, SIZE_MAX);
	struct blob_writer *w = writer_pipe_wrap(&m.base, NULL);
	char buf[1000] = {0};
	struct berr err;
	w->write(w, buf, sizeof buf, &err);
	tap_ok(w->finish(w, false, &err) == 0, "finish without keep succeeds");
	tap_ok(m.calls == 0 && m.finished == 1, "a discarded small write never reaches the inner writer");

	/* The digest counts only what was kept. */
	struct digest_ctx *hash = digest_ctx_new(DIGEST_SHA256);
	mem_init(&m, SIZE_MAX);
	w = writer_pipe_wrap(&m.base, hash);
	w->write(w, buf, sizeof buf, &err);
	w->finish(w, false, &err);
	tap_is_int(digest_ctx_length(hash), 0, "a discarded small write is not hashed");
	digest_ctx_free(hash);
}

int main(void)
{
	test_order(0, 1, "empty");
	test_order(10, 10, "10 bytes");
	test_order(256 * 1024, 256 * 1024, "exactly one slot");
	test_order(256 * 1024 + 1, 4096, "one slot and a byte");
	test_order(5 * 1024 * 1024 + 17, 0, "5 MiB in irregular writes");
	test_order(3 * 1024 * 1024, 3 * 1024 * 1024, "3 MiB in one write");
	test_failure();
	test_discard();
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}
