/* Unit tests for storage/blob_cache.c over a stream reader in memory: a whole, in-order read
 * fills the cache and a lookup then gives an fd; partial, ranged, failed and wrong-digest reads
 * leave nothing; a file of the wrong size is a miss and goes; eviction removes the oldest
 * files; drop removes one; start-up removes temporary and empty files and counts the rest.
 * Blobs of several ring slots go through the fill thread: it fills the cache, gives up
 * (leaving nothing) when held behind the reader, and a drop meanwhile keeps it out. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/xalloc.h"
#include "storage/blob_cache.h"
#include "storage/driver.h"
#include "tests/unit/tap.h"

/* A stream over a buffer; fails at `fail_at` bytes if it is not 0. */
struct mem_stream {
	struct blob_stream base;
	const unsigned char *data;
	uint64_t fail_at;
	int *closed;
};

/* Bytes per read: small, so that a blob takes several reads and they split ring slots. */
static size_t read_size = 1000;
/* Microseconds each read takes, as a network would (0: none). The fill thread keeps up with
 * a store, not with memcpy. */
static unsigned read_delay_us;

static ssize_t mem_read(struct blob_stream *s, void *buf, size_t max, uint64_t pos, uint64_t end, struct berr *err)
{
	struct mem_stream *m = (struct mem_stream *)s;
	if (max > end - pos)
		max = (size_t)(end - pos);
	if (max > read_size)
		max = read_size;
	if (m->fail_at && pos + max > m->fail_at)
		return berr_set(err, BERR_UNAVAILABLE, "store went away (test)");
	memcpy(buf, m->data + pos, max);
	if (read_delay_us)
		usleep(read_delay_us);
	return (ssize_t)max;
}

static void mem_close(struct blob_stream *s)
{
	struct mem_stream *m = (struct mem_stream *)s;
	(*m->closed)++;
	free(m);
}

static int closed_count;

/* A stream reader over data[0, size) as the S3 driver would hand it out. */
static void mem_reader(struct blob_reader *br, const unsigned char *data, uint64_t size, uint64_t fail_at)
{
	struct mem_stream *m = xcalloc(1, sizeof *m);
	m->base.read = mem_read;
	m->base.close = mem_close;
	m->data = data;
	m->fail_at = fail_at;
	m->closed = &closed_count;
	memset(br, 0, sizeof *br);
	br->fd = -1;
	br->size = size;
	br->stream = &m->base;
	br->pos = 0;
	br->end = size;
}

/* Read the reader's range to its end (or an error); returns the bytes read. */
static uint64_t drain(struct blob_reader *br, uint64_t limit)
{
	static char buf[65536];
	uint64_t total = 0;
	struct berr err = {0};
	while (total < limit) {
		ssize_t n = blob_reader_read(br, buf, sizeof buf, &err);
		if (n <= 0)
			break;
		total += (uint64_t)n;
	}
	return total;
}

static bool file_exists(const char *dir, const struct digest *d)
{
	cleanup_free char *p = xasprintf("%s/sha256/%.2s/%s", dir, digest_hex(d), digest_hex(d));
	return access(p, F_OK) == 0;
}

/* Files anywhere under dir (recursively). */
static int count_files(const char *dir)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		cleanup_free char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		n += S_ISDIR(st.st_mode) ? count_files(p) : 1;
	}
	closedir(dh);
	return n;
}

/* Fill the cache with blob `data` by one whole read; returns its digest in *d. */
static void fill(struct blob_cache *c, const unsigned char *data, size_t size, struct digest *d)
{
	digest_buffer(DIGEST_SHA256, data, size, d);
	struct blob_reader br;
	mem_reader(&br, data, size, 0);
	blob_cache_wrap(c, d, &br, NULL, NULL);
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	blob_cache_settle(c);
}

/* What a fill that fell behind reopens: the blob in memory again, or a store that fails. */
struct mem_blob {
	const unsigned char *data;
	uint64_t size;
	bool fail;
	int opened;
};

static int mem_reopen(void *ctx, const struct digest *d, struct blob_reader *out, struct berr *err)
{
	struct mem_blob *b = ctx;
	(void)d;
	b->opened++;
	if (b->fail)
		return berr_set(err, BERR_UNAVAILABLE, "store unreachable (test)");
	mem_reader(out, b->data, b->size, 0);
	return 0;
}

/* Count the temporary files a fill may leave at the top of the cache folder (the O_TMPFILE
 * ones have no name; .tmp- ones are the fallback's). */
static int count_tmp(const char *dir)
{
	DIR *dh = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (dh && (e = readdir(dh)))
		n += strncmp(e->d_name, ".tmp-", 5) == 0;
	if (dh)
		closedir(dh);
	return n;
}

/* The fill thread: blobs of several ring slots, a copy that falls behind, a drop while a
 * fill runs, and the counters. Uses a cache of its own at dir. */
static void test_fill_thread(const char *dir)
{
	struct berr err = {0};
	struct blob_cache *c = blob_cache_open(dir, 64 << 20, &err);
	tap_ok(c != NULL, "open a 64 MiB cache (%s)", err.message);
	size_t n = 9 << 20; /* 36 slots of 256 KiB, more than the ring holds */
	unsigned char *data = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 13 + i / 4093);
	struct digest d;
	digest_buffer(DIGEST_SHA256, data, n, &d);
	struct blob_cache_stats st;

	/* Whole, in reads of 64000 bytes (slots split across reads) at 128 MB/s: the thread
	 * fills it. */
	read_size = 64000;
	read_delay_us = 500;
	struct blob_reader br;
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	tap_is_int(drain(&br, UINT64_MAX), n, "a 9 MiB blob reads whole through the fill");
	blob_reader_close(&br);
	blob_cache_settle(c);
	tap_ok(file_exists(dir, &d), "the fill thread links it in");
	memset(&br, 0, sizeof br);
	br.fd = -1;
	tap_is_int(blob_cache_lookup(c, &d, n, &br), 1, "and a lookup is a hit");
	unsigned char *back = xmalloc(n);
	tap_ok(br.fd >= 0 && pread(br.fd, back, n, 0) == (ssize_t)n && !memcmp(back, data, n),
	       "with the blob's bytes, in order");
	close(br.fd);
	blob_cache_count_served(c, n);
	blob_cache_stats(c, &st);
	tap_is_int(st.fills, 1, "fills counts it");
	tap_is_int(st.hits, 1, "hits counts the lookup");
	tap_is_int(st.served_bytes, n, "served bytes counts what was sent");
	tap_is_int(st.bytes, n, "the current bytes count it");
	blob_cache_drop(c, &d);

	/* The copy is held (a stalled disk): the ring fills up, the reader never waits, and the
	 * fill is given up, leaving no file. */
	blob_cache_hold_fills(c, true);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	tap_is_int(drain(&br, UINT64_MAX), n, "a held fill does not stop the read");
	blob_cache_hold_fills(c, false);
	blob_reader_close(&br);
	blob_cache_settle(c);
	tap_ok(!file_exists(dir, &d), "a fill that fell behind leaves no file");
	tap_is_int(count_files(dir) + count_tmp(dir), 0, "and no temporary file");
	blob_cache_stats(c, &st);
	tap_is_int(st.abandoned_behind, 1, "it counts as abandoned, behind");
	tap_is_int(st.fills, 1, "and not as a fill");

	/* The same with a way to reopen the store: the thread reads the rest itself once the
	 * reader has closed, and the blob is cached all the same. */
	struct mem_blob mb = {.data = data, .size = n};
	blob_cache_set_catch_up_rate(c, 32 << 20); /* the rest, 5.25 MiB or more: at least 150 ms */
	blob_cache_hold_fills(c, true);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, mem_reopen, &mb);
	tap_is_int(drain(&br, UINT64_MAX), n, "a held fill with a store to reopen does not stop the read either");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	blob_cache_hold_fills(c, false);
	blob_reader_close(&br);
	blob_cache_settle(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double caught_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	tap_ok(caught_ms >= 100, "the catch-up keeps to its pace: 32 MiB/s, the rest took %.0f ms", caught_ms);
	blob_cache_set_catch_up_rate(c, 0);
	tap_is_int(mb.opened, 1, "the fill reopened the store once");
	tap_ok(file_exists(dir, &d), "and caught up: the blob is cached");
	memset(&br, 0, sizeof br);
	br.fd = -1;
	tap_ok(blob_cache_lookup(c, &d, n, &br) == 1 && pread(br.fd, back, n, 0) == (ssize_t)n &&
	           !memcmp(back, data, n),
	       "with the blob's bytes");
	close(br.fd);
	blob_cache_stats(c, &st);
	tap_ok(st.fills == 2 && st.catch_ups == 1 && st.abandoned_behind == 1, "counted as a fill and a catch-up");
	blob_cache_drop(c, &d);

	/* A client that stops early after the copy fell behind: no catch-up, nothing left. */
	blob_cache_stats(c, &st);
	uint64_t incomplete0 = st.abandoned_incomplete;
	blob_cache_hold_fills(c, true);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, mem_reopen, &mb);
	drain(&br, 6 << 20);
	blob_cache_hold_fills(c, false);
	blob_reader_close(&br);
	blob_cache_settle(c);
	blob_cache_stats(c, &st);
	tap_ok(mb.opened == 1 && !file_exists(dir, &d) && count_files(dir) + count_tmp(dir) == 0,
	       "a read cut short after the copy fell behind does not catch up and leaves no file");
	tap_ok(st.abandoned_incomplete == incomplete0 + 1 && st.abandoned_behind == 1,
	       "it counts as incomplete, not behind");

	/* A store that fails on reopen: given up, nothing left. */
	mb.fail = true;
	blob_cache_hold_fills(c, true);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, mem_reopen, &mb);
	drain(&br, UINT64_MAX);
	blob_cache_hold_fills(c, false);
	blob_reader_close(&br);
	blob_cache_settle(c);
	tap_ok(!file_exists(dir, &d) && count_files(dir) + count_tmp(dir) == 0,
	       "a catch-up the store refuses leaves no file");
	blob_cache_stats(c, &st);
	tap_is_int(st.abandoned_behind, 2, "and counts as abandoned, behind");

	/* Held only for a moment (less than the ring): the copy catches up and caches it. */
	blob_cache_hold_fills(c, true);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	tap_ok(drain(&br, 2 << 20) >= 2 << 20, "2 MiB read while the copy is held");
	blob_cache_hold_fills(c, false);
	/* The thread is woken by the next slot the reader queues. */
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	blob_cache_settle(c);
	tap_ok(file_exists(dir, &d), "a copy briefly behind, within the ring, still fills the cache");

	/* A drop (garbage collection) while a fill runs: the fill is not linked in. */
	blob_cache_drop(c, &d);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	drain(&br, n / 2);
	blob_cache_drop(c, &d);
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	blob_cache_settle(c);
	tap_ok(!file_exists(dir, &d), "a fill begun before a drop is not linked in");
	tap_is_int(count_files(dir) + count_tmp(dir), 0, "and leaves no temporary file");

	/* A partial read counts as incomplete; a ranged read of a miss copies nothing and counts
	 * as no fill at all. */
	blob_cache_stats(c, &st);
	uint64_t incomplete = st.abandoned_incomplete;
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	drain(&br, 3 << 20);
	blob_reader_close(&br);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	blob_reader_range(&br, 5, 1000);
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	blob_cache_settle(c);
	blob_cache_stats(c, &st);
	tap_is_int(st.abandoned_incomplete, incomplete + 1, "a read cut short counts as incomplete; a range does not");
	tap_is_int(count_files(dir) + count_tmp(dir), 0, "neither leaves a file");
	tap_is_int(st.abandoned_error, 1, "the fill the drop cancelled counts as an error");

	/* Two misses of one blob at once: only the first fills; the second is served from the
	 * store alone and counted as skipped. */
	uint64_t skipped = st.skipped;
	struct blob_reader b1, b2;
	mem_reader(&b1, data, n, 0);
	struct blob_stream *s1 = b1.stream;
	blob_cache_wrap(c, &d, &b1, NULL, NULL);
	mem_reader(&b2, data, n, 0);
	struct blob_stream *s2 = b2.stream;
	blob_cache_wrap(c, &d, &b2, NULL, NULL);
	tap_ok(b1.stream != s1 && b2.stream == s2, "a second miss of a blob being filled is not filled again");
	tap_ok(drain(&b2, UINT64_MAX) == n && drain(&b1, UINT64_MAX) == n, "both read whole");
	blob_reader_close(&b2);
	blob_reader_close(&b1);
	blob_cache_settle(c);
	blob_cache_stats(c, &st);
	tap_is_int(st.skipped, skipped + 1, "the second counts as skipped");
	tap_ok(file_exists(dir, &d), "the first fills the cache");
	blob_cache_drop(c, &d);

	/* At most 16 fills at once: the 17th miss (another blob) is not filled. */
	struct blob_reader many[17];
	struct digest md[17];
	int wrapped = 0;
	for (int i = 0; i < 17; i++) {
		digest_buffer(DIGEST_SHA256, data + i, 600000, &md[i]); /* 16 of them fit in the cache */
		mem_reader(&many[i], data + i, 600000, 0);
		struct blob_stream *before = many[i].stream;
		blob_cache_wrap(c, &md[i], &many[i], NULL, NULL);
		wrapped += many[i].stream != before;
	}
	tap_is_int(wrapped, 16, "16 misses at once are filled, the 17th is not");
	for (int i = 0; i < 17; i++) {
		drain(&many[i], UINT64_MAX);
		blob_reader_close(&many[i]);
	}
	blob_cache_settle(c);
	blob_cache_stats(c, &st);
	tap_is_int(st.skipped, skipped + 2, "and counts as skipped");
	tap_ok(file_exists(dir, &md[0]) && file_exists(dir, &md[15]) && !file_exists(dir, &md[16]),
	       "the 16 filled are cached, the 17th is not");
	blob_cache_close(c);
	read_size = 1000;
	read_delay_us = 0;
	free(data);
	free(back);
}

int main(void)
{
	char tmpl[] = "/tmp/berth-blobcache-XXXXXX";
	char *root = mkdtemp(tmpl);
	if (!root)
		return 1;
	cleanup_free char *dir = xasprintf("%s/cache", root);
	struct berr err = {0};
	struct blob_cache *c = blob_cache_open(dir, 100000, &err);
	tap_ok(c != NULL, "open creates the folder (%s)", err.message);
	tap_is_int(blob_cache_used(c), 0, "a new cache holds nothing");

	size_t n = 20000;
	unsigned char *data = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	struct digest d;
	digest_buffer(DIGEST_SHA256, data, n, &d);

	/* A miss before anything was read. */
	struct blob_reader br = {.fd = -1};
	tap_is_int(blob_cache_lookup(c, &d, n, &br), 0, "lookup of an uncached blob is a miss");
	struct blob_cache_stats st;
	blob_cache_stats(c, &st);
	tap_ok(st.misses == 1 && st.hits == 0, "and counts as one");

	/* Partial read, ranged read, failing stream, wrong digest: nothing is kept. */
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	tap_ok(br.stream != NULL && br.fd < 0, "wrap keeps a stream reader");
	drain(&br, 5000);
	blob_reader_close(&br);
	tap_ok(!file_exists(dir, &d), "a read that stops early leaves no file");
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	blob_reader_range(&br, 100, n - 100);
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	tap_ok(!file_exists(dir, &d), "a ranged read leaves no file");
	mem_reader(&br, data, n, 15000);
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	tap_ok(!file_exists(dir, &d), "a read the store breaks off leaves no file");
	struct digest other;
	digest_buffer(DIGEST_SHA256, "other", 5, &other);
	mem_reader(&br, data, n, 0);
	blob_cache_wrap(c, &other, &br, NULL, NULL);
	drain(&br, UINT64_MAX);
	blob_reader_close(&br);
	tap_ok(!file_exists(dir, &other), "bytes that do not have the blob's digest are not kept");
	tap_is_int(count_files(dir), 0, "no temporary file is left");
	tap_is_int(closed_count, 4, "the store's stream is closed each time");

	/* A whole read fills it; a lookup then gives the same bytes from an fd. */
	fill(c, data, n, &d);
	tap_ok(file_exists(dir, &d), "a whole read fills the cache");
	tap_is_int(blob_cache_used(c), n, "the total counts it");
	memset(&br, 0, sizeof br);
	br.fd = -1;
	tap_is_int(blob_cache_lookup(c, &d, n, &br), 1, "lookup is a hit");
	unsigned char *back = xmalloc(n);
	tap_ok(br.fd >= 0 && pread(br.fd, back, n, 0) == (ssize_t)n && !memcmp(back, data, n),
	       "the hit's fd has the blob's bytes");
	close(br.fd);
	fill(c, data, n, &d);
	tap_is_int(blob_cache_used(c), n, "filling it again counts it once");

	/* The wrong size: a miss, and the file goes. */
	br.fd = -1;
	tap_is_int(blob_cache_lookup(c, &d, n + 1, &br), 0, "a file of another size is a miss");
	tap_ok(!file_exists(dir, &d) && blob_cache_used(c) == 0, "and is removed");

	/* Too big (over a quarter of 100000) or empty: not wrapped. */
	unsigned char *big = xcalloc(1, 30000);
	mem_reader(&br, big, 30000, 0);
	struct blob_stream *inner = br.stream;
	blob_cache_wrap(c, &d, &br, NULL, NULL);
	tap_ok(br.stream == inner, "a blob over a quarter of the size is not wrapped");
	blob_reader_close(&br);

	/* Eviction: five 20000-byte blobs with mtimes a minute apart; 100000 fits five... */
	struct digest ds[6];
	unsigned char *blobs[6];
	for (int i = 0; i < 6; i++) {
		blobs[i] = xmalloc(n);
		for (size_t j = 0; j < n; j++)
			blobs[i][j] = (unsigned char)(j * (unsigned)(i + 3) + (unsigned)i);
	}
	for (int i = 0; i < 5; i++) {
		fill(c, blobs[i], n, &ds[i]);
		cleanup_free char *p = xasprintf("%s/sha256/%.2s/%s", dir, digest_hex(&ds[i]), digest_hex(&ds[i]));
		struct timespec ts[2] = {{.tv_sec = 1000000 + i * 60}, {.tv_sec = 1000000 + i * 60}};
		utimensat(AT_FDCWD, p, ts, 0);
	}
	tap_is_int(blob_cache_used(c), 5 * n, "five blobs fit");
	/* Start again, so the entries carry the mtimes set above. */
	blob_cache_close(c);
	c = blob_cache_open(dir, 100000, &err);
	tap_is_int(blob_cache_used(c), 5 * n, "a restart counts them");
	/* ...the oldest was used lately (a hit touches it), so the second oldest goes. */
	br.fd = -1;
	tap_is_int(blob_cache_lookup(c, &ds[0], n, &br), 1, "a hit on the oldest");
	close(br.fd);
	fill(c, blobs[5], n, &ds[5]);
	tap_is_int(blob_cache_used(c), 5 * n, "a sixth keeps the total at the size");
	tap_ok(file_exists(dir, &ds[0]), "the oldest file, touched by a hit, stays");
	tap_ok(!file_exists(dir, &ds[1]), "the least recently used file is evicted");
	tap_ok(file_exists(dir, &ds[5]), "the new one is there");
	blob_cache_stats(c, &st);
	tap_is_int(st.evictions, 1, "the eviction is counted");

	blob_cache_drop(c, &ds[2]);
	tap_ok(!file_exists(dir, &ds[2]) && blob_cache_used(c) == 4 * n, "drop removes a file and its bytes");
	blob_cache_close(c);

	/* Start-up: temporary and empty files go; the rest is counted. */
	cleanup_free char *tmp = xasprintf("%s/.tmp-abcdef", dir);
	cleanup_free char *empty = xasprintf("%s/sha256/%.2s/%s", dir, digest_hex(&d), digest_hex(&d));
	FILE *f = fopen(tmp, "w");
	fputs("partial", f);
	fclose(f);
	cleanup_free char *sub = xasprintf("%s/sha256/%.2s", dir, digest_hex(&d));
	mkdir(sub, 0755);
	fclose(fopen(empty, "w"));
	c = blob_cache_open(dir, 100000, &err);
	tap_ok(c && access(tmp, F_OK) != 0 && access(empty, F_OK) != 0, "start-up removes temporary and empty files");
	tap_is_int(blob_cache_used(c), 4 * n, "start-up counts the cached blobs");
	blob_cache_close(c);
	c = blob_cache_open(dir, 2 * n, &err);
	tap_is_int(blob_cache_used(c), 2 * n, "start-up with a smaller size evicts down to it");
	tap_ok(file_exists(dir, &ds[5]) && file_exists(dir, &ds[0]), "keeping the most recently used");
	blob_cache_close(c);

	cleanup_free char *tdir = xasprintf("%s/threaded", root);
	test_fill_thread(tdir);

	cleanup_free char *bad = xasprintf("%s/file", root);
	fclose(fopen(bad, "w"));
	c = blob_cache_open(bad, 100000, &err);
	tap_ok(c == NULL && err.message[0], "a cache folder that is a file is an error (%s)", err.message);

	cleanup_free char *rm = xasprintf("rm -rf '%s'", root);
	if (system(rm) != 0)
		return 1;
	free(data);
	free(back);
	free(big);
	for (int i = 0; i < 6; i++)
		free(blobs[i]);
	return tap_done();
}
