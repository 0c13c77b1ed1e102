/* The node-local blob read cache: files DIR/<algo>/<xx>/<hex>, filled by copying a blob
 * while it streams whole from the object store (into an unnamed O_TMPFILE, or a .tmp- file
 * where the filesystem lacks it, linked into place only once its digest checks out), served
 * back as fds, and kept under a byte budget by removing the files with the oldest mtime.
 * The copy runs on a thread per fill behind a bounded ring, so the request's thread only
 * receives and sends; when the ring is full the copy is never waited for: the thread reads
 * the rest from the store itself, at idle priority, once the response is over.
 * An in-memory list of entries and their total, rebuilt by one scan at start-up, spares
 * every request a directory scan; the cache need not survive a crash (no fsync). */
#include "storage/blob_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "storage/driver.h"

/* A hit touches its file's mtime (the LRU clock) at most this often. */
#define BLOB_CACHE_TOUCH_SECONDS 60
/* The ring between a reader and its fill thread: 16 slots of 256 KiB, so at most 4 MiB per
 * blob being filled, about 7 ms of S3 reading at 600 MB/s for the thread to catch up. */
#define BLOB_CACHE_FILL_SLOTS 16
#define BLOB_CACHE_SLOT_SIZE  (256 * 1024)
/* Fills that fell behind and read the rest from the store themselves, at most at a time. */
#define BLOB_CACHE_CATCH_UPS 4
/* How fast a catch-up reads, at most (bytes/s). Idle CPU priority covers only berthd's
 * thread, not the object store's work for it: unpaced, a catch-up took half of a single
 * gateway from the next client's GET. At this pace a 256 MiB blob catches up in under 3 s
 * and leaves the store's bandwidth to the clients. */
#define BLOB_CACHE_CATCH_UP_RATE (100ULL * 1000 * 1000)
/* Fills at once (each a thread, up to 4 MiB of ring and a temporary file growing to its
 * blob's size); a miss beyond them, or of a blob being filled already, is served from the
 * store without filling. */
#define BLOB_CACHE_FILLS_MAX 16

/* How a fill ends; the last three index the abandoned counters. */
enum blob_cache_outcome {
	BLOB_CACHE_FILLED, /* so far, so good */
	BLOB_CACHE_BEHIND,
	BLOB_CACHE_INCOMPLETE,
	BLOB_CACHE_ERROR,
	BLOB_CACHE_OUTCOMES
};

struct blob_cache_entry {
	struct digest d;
	uint64_t size;
	time_t mtime; /* as last seen; eviction re-reads it before removing */
};

struct blob_cache {
	char *dir;
	uint64_t max;
	pthread_mutex_t lock; /* guards entries, n, total, and linking/removing files */
	pthread_cond_t idle;  /* fills_active went to 0 */
	struct blob_cache_entry *entries;
	size_t n, cap;
	uint64_t total;
	unsigned fills_active;                       /* fills wrapped and not finished */
	struct digest filling[BLOB_CACHE_FILLS_MAX]; /* their blobs */
	uint64_t drop_gen;                           /* bumped by each drop: a fill begun before one is not linked */
	uint64_t evictions;
	struct digest catching[BLOB_CACHE_CATCH_UPS]; /* blobs whose catch-up runs */
	unsigned catching_n;
	atomic_bool hold;               /* blob_cache_hold_fills */
	_Atomic uint64_t catch_up_rate; /* bytes/s; BLOB_CACHE_CATCH_UP_RATE, or a test's */
	atomic_bool closing;            /* blob_cache_close: catch-ups stop */
	_Atomic uint64_t st_hits, st_misses, st_fills, st_catch_ups, st_served, st_skipped;
	_Atomic uint64_t st_abandoned[BLOB_CACHE_OUTCOMES];
};

struct blob_cache_slot {
	char *buf; /* BLOB_CACHE_SLOT_SIZE bytes, allocated on first use */
	size_t len;
};

/* The stream wrapper that hands what it reads to a thread that hashes it and writes it to a
 * temporary file. The reader side owns inner, queued_bytes, reached, copied and gave_up; the thread
 * owns fd, tmpname, hash and written; lock guards the ring and the flags between them. */
struct blob_cache_fill {
	struct blob_stream base;
	struct blob_stream *inner;
	struct blob_cache *c;
	struct digest d;
	uint64_t size;
	uint64_t gen;          /* c->drop_gen when the fill began */
	uint64_t queued_bytes; /* reader: bytes put into the ring */
	uint64_t reached;      /* reader: bytes read in order from 0, also after giving up */
	bool copied;           /* reader: some bytes were put into the ring */
	bool gave_up;          /* reader: stop copying */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* a slot was queued, the outcome changed, or closing was set */
	struct blob_cache_slot slots[BLOB_CACHE_FILL_SLOTS];
	unsigned head, tail, queued;
	bool started, closing;
	bool caught_up; /* fell behind, then read the rest from the store */
	enum blob_cache_outcome outcome;
	int (*reopen)(void *ctx, const struct digest *d, struct blob_reader *out, struct berr *err);
	void *reopen_ctx;
	int fd;        /* -1: not started */
	char *tmpname; /* NULL with O_TMPFILE */
	struct digest_ctx *hash;
	uint64_t written;
};

/* The path of blob d's file (heap; caller frees). */
static char *blob_cache_path(const struct blob_cache *c, const struct digest *d)
{
	const char *hex = digest_hex(d);
	return xasprintf("%s/%s/%.2s/%s", c->dir, digest_algo_name(d->algo), hex, hex);
}

/* mkdir that accepts an existing folder. */
static int blob_cache_mkdir(const char *path, struct berr *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return berr_sys(err, errno, "blob cache: create %s", path);
	return 0;
}

/* Index of d in the entry list, or -1. Caller holds the lock. */
static ssize_t blob_cache_find(struct blob_cache *c, const struct digest *d)
{
	for (size_t i = 0; i < c->n; i++)
		if (digest_equal(&c->entries[i].d, d))
			return (ssize_t)i;
	return -1;
}

/* Add an entry. Caller holds the lock. */
static void blob_cache_add(struct blob_cache *c, const struct digest *d, uint64_t size, time_t mtime)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->entries = xrealloc(c->entries, c->cap * sizeof *c->entries);
	}
	c->entries[c->n++] = (struct blob_cache_entry){.d = *d, .size = size, .mtime = mtime};
	c->total += size;
}

/* Remove entry i and its file. Caller holds the lock. */
static void blob_cache_remove_at(struct blob_cache *c, size_t i)
{
	cleanup_free char *path = blob_cache_path(c, &c->entries[i].d);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("blob cache: remove %s: %s", path, strerror(errno));
	c->total -= c->entries[i].size;
	c->entries[i] = c->entries[--c->n];
}

/* Remove the oldest files until the total fits. An entry whose file was touched since it was
 * last seen (a hit) gets its new mtime and another chance. Caller holds the lock. */
static void blob_cache_evict(struct blob_cache *c)
{
	while (c->total > c->max && c->n > 0) {
		size_t oldest = 0;
		for (size_t i = 1; i < c->n; i++)
			if (c->entries[i].mtime < c->entries[oldest].mtime)
				oldest = i;
		cleanup_free char *path = blob_cache_path(c, &c->entries[oldest].d);
		struct stat st;
		if (stat(path, &st) == 0 && st.st_mtime != c->entries[oldest].mtime) {
			c->entries[oldest].mtime = st.st_mtime;
			continue;
		}
		log_debug("blob cache: evict %s", c->entries[oldest].d.str);
		blob_cache_remove_at(c, oldest);
		c->evictions++;
	}
}

/* Count the files of one DIR/<algo>/<xx> folder; remove temporary and empty ones. */
static void blob_cache_scan_dir(struct blob_cache *c, enum digest_algo algo, const char *sub)
{
	cleanup_free char *path = xasprintf("%s/%s/%s", c->dir, digest_algo_name(algo), sub);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		cleanup_free char *file = xasprintf("%s/%s", path, e->d_name);
		cleanup_free char *name = xasprintf("%s:%s", digest_algo_name(algo), e->d_name);
		struct digest d;
		struct stat st;
		if (lstat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (digest_parse(name, &d, NULL) < 0 || strncmp(e->d_name, sub, 2) != 0 || st.st_size == 0) {
			/* A temporary file or one a crash left empty: a cache need not survive one. */
			if (unlink(file) < 0)
				log_warn("blob cache: remove %s: %s", file, strerror(errno));
			continue;
		}
		blob_cache_add(c, &d, (uint64_t)st.st_size, st.st_mtime);
	}
	closedir(dir);
}

/* Rebuild the entry list from the folder. */
static void blob_cache_scan(struct blob_cache *c)
{
	for (int algo = DIGEST_SHA256; algo <= DIGEST_SHA512; algo++) {
		cleanup_free char *path = xasprintf("%s/%s", c->dir, digest_algo_name(algo));
		DIR *dir = opendir(path);
		if (!dir)
			continue;
		struct dirent *e;
		while ((e = readdir(dir)))
			if (e->d_name[0] != '.' && strlen(e->d_name) == 2)
				blob_cache_scan_dir(c, algo, e->d_name);
		closedir(dir);
	}
	/* Temporary files of the fallback (no O_TMPFILE) sit at the top. */
	DIR *dir = opendir(c->dir);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, ".tmp-", 5) != 0)
			continue;
		cleanup_free char *file = xasprintf("%s/%s", c->dir, e->d_name);
		if (unlink(file) < 0)
			log_warn("blob cache: remove %s: %s", file, strerror(errno));
	}
	closedir(dir);
}

struct blob_cache *blob_cache_open(const char *dir, uint64_t max_bytes, struct berr *err)
{
	if (blob_cache_mkdir(dir, err) < 0)
		return NULL;
	for (int algo = DIGEST_SHA256; algo <= DIGEST_SHA512; algo++) {
		cleanup_free char *sub = xasprintf("%s/%s", dir, digest_algo_name(algo));
		if (blob_cache_mkdir(sub, err) < 0)
			return NULL;
	}
	cleanup_free char *probe = xasprintf("%s/.tmp-probe", dir);
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		berr_sys(err, errno, "blob cache: cannot write in %s", dir);
		return NULL;
	}
	close(fd);
	unlink(probe);
	struct blob_cache *c = xcalloc(1, sizeof *c);
	c->dir = xstrdup(dir);
	c->max = max_bytes;
	atomic_init(&c->catch_up_rate, BLOB_CACHE_CATCH_UP_RATE);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	blob_cache_scan(c);
	blob_cache_evict(c);
	log_info("blob cache: %s holds %zu blobs, %" PRIu64 " of %" PRIu64 " bytes", dir, c->n, c->total, c->max);
	return c;
}

void blob_cache_close(struct blob_cache *c)
{
	if (!c)
		return;
	atomic_store(&c->closing, true);
	blob_cache_settle(c);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	free(c->entries);
	free(c->dir);
	free(c);
}

uint64_t blob_cache_used(struct blob_cache *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t t = c->total;
	pthread_mutex_unlock(&c->lock);
	return t;
}

int blob_cache_lookup(struct blob_cache *c, const struct digest *d, uint64_t size, struct blob_reader *out)
{
	cleanup_free char *path = blob_cache_path(c, d);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		atomic_fetch_add_explicit(&c->st_misses, 1, memory_order_relaxed);
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
		close(fd);
		log_warn("blob cache: %s has the wrong size, removed", path);
		blob_cache_drop(c, d);
		atomic_fetch_add_explicit(&c->st_misses, 1, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&c->st_hits, 1, memory_order_relaxed);
	if (time(NULL) - st.st_mtime >= BLOB_CACHE_TOUCH_SECONDS && futimens(fd, NULL) < 0)
		log_debug("blob cache: touch %s: %s", path, strerror(errno));
	out->fd = fd;
	out->size = size;
	return 1;
}

void blob_cache_drop(struct blob_cache *c, const struct digest *d)
{
	pthread_mutex_lock(&c->lock);
	c->drop_gen++;
	ssize_t i = blob_cache_find(c, d);
	if (i >= 0) {
		blob_cache_remove_at(c, (size_t)i);
	} else {
		/* A file no entry knows (another process put it there): remove it all the same. */
		cleanup_free char *path = blob_cache_path(c, d);
		unlink(path);
	}
	pthread_mutex_unlock(&c->lock);
}

/* The filler's temporary file goes (filler side; no lock needed: only it touches them). */
static void blob_cache_fill_discard(struct blob_cache_fill *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->tmpname) {
		unlink(f->tmpname);
		free(f->tmpname);
		f->tmpname = NULL;
	}
}

/* Open the temporary file: unnamed where the filesystem can, else a .tmp- name. */
static int blob_cache_fill_start(struct blob_cache_fill *f)
{
	f->fd = open(f->c->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (f->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		log_warn("blob cache: temporary file in %s: %s", f->c->dir, strerror(errno));
		return -1;
	}
	f->tmpname = xasprintf("%s/.tmp-XXXXXX", f->c->dir);
	f->fd = mkostemp(f->tmpname, O_CLOEXEC);
	if (f->fd < 0) {
		log_warn("blob cache: temporary file in %s: %s", f->c->dir, strerror(errno));
		free(f->tmpname);
		f->tmpname = NULL;
		return -1;
	}
	fchmod(f->fd, 0644);
	return 0;
}

/* Hash and write one buffer into the temporary file (filler side). Returns -1 on an error. */
static int blob_cache_fill_copy(struct blob_cache_fill *f, const char *buf, size_t n)
{
	if (f->fd < 0 && blob_cache_fill_start(f) < 0)
		return -1;
	for (size_t off = 0; off < n;) {
		ssize_t w = write(f->fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("blob cache: write %s: %s", f->d.str, strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	digest_ctx_update(f->hash, buf, n);
	f->written += n;
	return 0;
}

/* Put the finished temporary file at its place and count it. Caller holds the lock. */
static int blob_cache_fill_link(struct blob_cache_fill *f, const char *path)
{
	if (f->tmpname) {
		/* link, not rename: an existing file (a racing fill) is kept, not replaced. */
		int rc = link(f->tmpname, path);
		int e = errno;
		unlink(f->tmpname);
		errno = e;
		return rc;
	}
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc path works for everyone. */
	if (linkat(f->fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return -1;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* The whole blob was copied: link the file in if it has the digest and no drop happened
 * since the fill began, and evict what is too much. Returns true if the blob is cached. */
static bool blob_cache_fill_commit(struct blob_cache_fill *f)
{
	struct digest got;
	digest_ctx_final(f->hash, &got);
	if (!digest_equal(&got, &f->d)) {
		log_warn("blob cache: %s read from the store has digest %s; not cached", f->d.str, got.str);
		return false;
	}
	struct blob_cache *c = f->c;
	cleanup_free char *path = blob_cache_path(c, &f->d);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (blob_cache_mkdir(path, NULL) < 0) {
		log_warn("blob cache: create %s: %s", path, strerror(errno));
		return false;
	}
	*slash = '/';
	bool ok = false;
	pthread_mutex_lock(&c->lock);
	if (c->drop_gen != f->gen) {
		/* Garbage collection may have dropped this very blob while it was copied. */
		log_debug("blob cache: %s not cached: blobs were dropped while it was copied", f->d.str);
	} else if (blob_cache_fill_link(f, path) == 0) {
		if (blob_cache_find(c, &f->d) < 0)
			blob_cache_add(c, &f->d, f->size, time(NULL));
		blob_cache_evict(c);
		ok = true;
	} else if (errno == EEXIST) {
		ok = true; /* a racing fill of the same blob was first */
	} else {
		log_warn("blob cache: link %s: %s", path, strerror(errno));
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The end of a fill, on whichever thread did the copying: link or discard, count, free. */
static void blob_cache_fill_finish(struct blob_cache_fill *f)
{
	struct blob_cache *c = f->c;
	enum blob_cache_outcome why = f->outcome;
	if (why == BLOB_CACHE_FILLED && (f->fd < 0 || f->written != f->size))
		why = BLOB_CACHE_INCOMPLETE;
	if (why == BLOB_CACHE_FILLED && !blob_cache_fill_commit(f))
		why = BLOB_CACHE_ERROR;
	blob_cache_fill_discard(f);
	digest_ctx_free(f->hash);
	for (unsigned i = 0; i < BLOB_CACHE_FILL_SLOTS; i++)
		free(f->slots[i].buf);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	/* Only fills that copied something count: a ranged read of a miss is no fill. */
	if (why == BLOB_CACHE_FILLED) {
		atomic_fetch_add_explicit(&c->st_fills, 1, memory_order_relaxed);
		if (f->caught_up)
			atomic_fetch_add_explicit(&c->st_catch_ups, 1, memory_order_relaxed);
	} else if (f->copied) {
		atomic_fetch_add_explicit(&c->st_abandoned[why], 1, memory_order_relaxed);
		log_debug("blob cache: fill of %s given up (%s)", f->d.str,
		          why == BLOB_CACHE_BEHIND       ? "the copy fell behind"
		          : why == BLOB_CACHE_INCOMPLETE ? "the read did not cover the blob"
		                                         : "error");
	}
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->fills_active; i++)
		if (digest_equal(&c->filling[i], &f->d)) {
			c->filling[i] = c->filling[c->fills_active - 1];
			break;
		}
	if (--c->fills_active == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	free(f);
}

/* True if a catch-up of blob d runs. Caller holds the cache lock. */
static bool blob_cache_catching(struct blob_cache *c, const struct digest *d)
{
	for (unsigned i = 0; i < c->catching_n; i++)
		if (digest_equal(&c->catching[i], d))
			return true;
	return false;
}

/* Sleep until n bytes since t0 are no more than rate bytes per second. */
static void blob_cache_pace(const struct timespec *t0, uint64_t n, uint64_t rate)
{
	if (!rate || !n)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t due_ns = (uint64_t)((double)n / (double)rate * 1e9);
	uint64_t spent_ns = (uint64_t)((now.tv_sec - t0->tv_sec) * 1000000000LL + (now.tv_nsec - t0->tv_nsec));
	if (spent_ns >= due_ns)
		return;
	uint64_t wait = due_ns - spent_ns;
	struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The fill fell behind its reader, which has closed: read the rest of the blob from the
 * store on this thread, at idle CPU priority (a client's request always goes first), so a
 * blob pulled while the machine is busy is still cached. At most BLOB_CACHE_CATCH_UPS at a
 * time, one per blob; none while the cache closes. Returns true if every byte was copied. */
static bool blob_cache_fill_catch_up(struct blob_cache_fill *f)
{
	struct blob_cache *c = f->c;
	if (!f->reopen)
		return false;
	pthread_mutex_lock(&c->lock);
	bool busy = c->catching_n >= BLOB_CACHE_CATCH_UPS || blob_cache_catching(c, &f->d);
	if (!busy)
		c->catching[c->catching_n++] = f->d;
	pthread_mutex_unlock(&c->lock);
	if (busy) {
		log_debug("blob cache: no catch-up for %s: enough run already", f->d.str);
		return false;
	}
	/* The ring is empty and stays so: its memory is not needed while catching up. */
	for (unsigned i = 0; i < BLOB_CACHE_FILL_SLOTS; i++) {
		free(f->slots[i].buf);
		f->slots[i].buf = NULL;
	}
	/* Only the reading and copying run at idle priority: the thread takes the cache's lock
	 * afterwards, and must not hold it while preempted by everything else. */
	int policy;
	struct sched_param saved, idle = {0};
	bool reniced = pthread_getschedparam(pthread_self(), &policy, &saved) == 0 &&
	               pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) == 0;
	bool ok = false;
	struct blob_reader br = {.fd = -1};
	struct berr err = {0};
	if (atomic_load(&c->closing)) {
		log_debug("blob cache: no catch-up for %s: the cache is closing", f->d.str);
	} else if (f->reopen(f->reopen_ctx, &f->d, &br, &err) < 0) {
		log_warn("blob cache: catch-up of %s: %s", f->d.str, err.message);
	} else if (br.size != f->size) {
		log_warn("blob cache: catch-up of %s: the store has %" PRIu64 " bytes, not %" PRIu64, f->d.str, br.size,
		         f->size);
	} else {
		blob_reader_range(&br, f->written, f->size - f->written);
		cleanup_free char *buf = xmalloc(BLOB_CACHE_SLOT_SIZE);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		uint64_t from = f->written, rate = atomic_load(&c->catch_up_rate);
		ok = true;
		while (ok && f->written < f->size) {
			blob_cache_pace(&t0, f->written - from, rate);
			ssize_t n =
			    atomic_load(&c->closing) ? 0 : blob_reader_read(&br, buf, BLOB_CACHE_SLOT_SIZE, &err);
			if (n <= 0) {
				log_warn("blob cache: catch-up of %s stopped: %s", f->d.str,
				         n < 0 ? err.message : "the cache is closing");
				ok = false;
			} else if (blob_cache_fill_copy(f, buf, (size_t)n) < 0) {
				ok = false;
			}
		}
	}
	blob_reader_close(&br);
	if (reniced)
		pthread_setschedparam(pthread_self(), policy, &saved);
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->catching_n; i++)
		if (digest_equal(&c->catching[i], &f->d)) {
			c->catching[i] = c->catching[--c->catching_n];
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The copying thread: hashes and writes the queued slots in order. After the reader's
 * failure (or its own) it removes the temporary file at once; after falling behind it
 * writes what was queued and, once the reader has closed, catches up from the store. When
 * the reader has closed, it finishes the fill and frees it. */
static void *blob_cache_fill_main(void *arg)
{
	struct blob_cache_fill *f = arg;
	struct blob_cache *c = f->c;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (f->outcome == BLOB_CACHE_INCOMPLETE || f->outcome == BLOB_CACHE_ERROR) {
			pthread_mutex_unlock(&f->lock);
			blob_cache_fill_discard(f);
			pthread_mutex_lock(&f->lock);
			while (!f->closing)
				pthread_cond_wait(&f->wake, &f->lock);
			break;
		}
		bool held = atomic_load(&c->hold);
		if (f->queued > 0 && !held) {
			struct blob_cache_slot *s = &f->slots[f->tail];
			pthread_mutex_unlock(&f->lock);
			int rc = blob_cache_fill_copy(f, s->buf, s->len);
			pthread_mutex_lock(&f->lock);
			s->len = 0;
			f->tail = (f->tail + 1) % BLOB_CACHE_FILL_SLOTS;
			f->queued--;
			if (rc < 0)
				f->outcome = BLOB_CACHE_ERROR;
			continue;
		}
		if (f->queued == 0 && f->closing) {
			if (f->outcome == BLOB_CACHE_BEHIND) {
				pthread_mutex_unlock(&f->lock);
				bool ok = blob_cache_fill_catch_up(f);
				pthread_mutex_lock(&f->lock);
				if (ok) {
					f->outcome = BLOB_CACHE_FILLED;
					f->caught_up = true;
				}
			}
			break;
		}
		if (held) { /* blob_cache_hold_fills: look again in a millisecond */
			pthread_mutex_unlock(&f->lock);
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
			pthread_mutex_lock(&f->lock);
			continue;
		}
		pthread_cond_wait(&f->wake, &f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	blob_cache_fill_finish(f);
	return NULL;
}

/* Give up the fill for reason why (reader side); the thread, if any, notices. */
static void blob_cache_fill_give_up(struct blob_cache_fill *f, enum blob_cache_outcome why)
{
	pthread_mutex_lock(&f->lock);
	if (f->outcome == BLOB_CACHE_FILLED)
		f->outcome = why;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	f->gave_up = true;
}

/* Hand the head slot to the thread (starting it on first use), without waiting: a full ring
 * means the copy fell behind, and the fill is given up. Reader side. */
static void blob_cache_fill_push(struct blob_cache_fill *f)
{
	pthread_mutex_lock(&f->lock);
	if (!f->started) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_t t;
		int rc = pthread_create(&t, &attr, blob_cache_fill_main, f);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			log_warn("blob cache: no thread to copy %s: %s", f->d.str, strerror(rc));
			f->outcome = BLOB_CACHE_ERROR;
			pthread_mutex_unlock(&f->lock);
			f->gave_up = true;
			return;
		}
		f->started = true;
	}
	if (f->outcome != BLOB_CACHE_FILLED) {
		pthread_mutex_unlock(&f->lock);
		f->gave_up = true;
		return;
	}
	if (f->queued == BLOB_CACHE_FILL_SLOTS - 1) {
		/* The head slot is the reader's; all others wait for the thread. */
		f->outcome = BLOB_CACHE_BEHIND;
		pthread_cond_signal(&f->wake);
		pthread_mutex_unlock(&f->lock);
		f->gave_up = true;
		return;
	}
	f->queued++;
	f->head = (f->head + 1) % BLOB_CACHE_FILL_SLOTS;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

/* Copy n bytes read at pos into the ring (reader side): a copy into memory, never a wait. */
static void blob_cache_fill_queue(struct blob_cache_fill *f, const char *buf, size_t n, uint64_t pos)
{
	if (pos != f->queued_bytes) {
		blob_cache_fill_give_up(f, BLOB_CACHE_INCOMPLETE);
		return;
	}
	f->copied = true;
	f->queued_bytes += n;
	while (n > 0 && !f->gave_up) {
		/* The thread never touches the head slot: only queued slots are its. */
		struct blob_cache_slot *s = &f->slots[f->head];
		if (!s->buf)
			s->buf = xmalloc(BLOB_CACHE_SLOT_SIZE);
		size_t k = BLOB_CACHE_SLOT_SIZE - s->len;
		if (k > n)
			k = n;
		memcpy(s->buf + s->len, buf, k);
		s->len += k;
		buf += k;
		n -= k;
		if (s->len == BLOB_CACHE_SLOT_SIZE)
			blob_cache_fill_push(f);
	}
}

static ssize_t blob_cache_fill_read(struct blob_stream *s, void *buf, size_t max, uint64_t pos, uint64_t end,
                                    struct berr *err)
{
	struct blob_cache_fill *f = (struct blob_cache_fill *)s;
	ssize_t n = f->inner->read(f->inner, buf, max, pos, end, err);
	if (n > 0 && pos == f->reached)
		f->reached += (uint64_t)n;
	if (f->gave_up)
		return n;
	if (n < 0)
		blob_cache_fill_give_up(f, BLOB_CACHE_INCOMPLETE);
	else if (n > 0)
		blob_cache_fill_queue(f, buf, (size_t)n, pos);
	return n;
}

/* The reader is done. The last, partly filled slot is queued; the thread (if started) then
 * finishes on its own; a blob that fit in one slot is copied here, with no thread at all. */
static void blob_cache_fill_close(struct blob_stream *s)
{
	struct blob_cache_fill *f = (struct blob_cache_fill *)s;
	f->inner->close(f->inner);
	if (!f->gave_up && f->queued_bytes != f->size)
		blob_cache_fill_give_up(f, BLOB_CACHE_INCOMPLETE);
	if (f->reached != f->size) {
		/* Only a whole read fills the cache: a client that left early after the copy fell
		 * behind gets no catch-up either. */
		pthread_mutex_lock(&f->lock);
		if (f->outcome == BLOB_CACHE_BEHIND)
			f->outcome = BLOB_CACHE_INCOMPLETE;
		pthread_mutex_unlock(&f->lock);
	}
	if (!f->started) {
		struct blob_cache_slot *h = &f->slots[f->head];
		if (f->outcome == BLOB_CACHE_FILLED && h->len > 0 && blob_cache_fill_copy(f, h->buf, h->len) < 0)
			f->outcome = BLOB_CACHE_ERROR;
		blob_cache_fill_finish(f);
		return;
	}
	if (!f->gave_up && f->slots[f->head].len > 0)
		blob_cache_fill_push(f);
	pthread_mutex_lock(&f->lock);
	f->closing = true;
	pthread_cond_signal(&f->wake);
	/* From here the thread owns f and frees it. */
	pthread_mutex_unlock(&f->lock);
}

void blob_cache_wrap(struct blob_cache *c, const struct digest *d, struct blob_reader *br,
                     int (*reopen)(void *ctx, const struct digest *d, struct blob_reader *out, struct berr *err),
                     void *reopen_ctx)
{
	if (br->fd >= 0 || !br->stream || br->size > c->max / 4 || br->size == 0)
		return;
	pthread_mutex_lock(&c->lock);
	bool skip = c->fills_active >= BLOB_CACHE_FILLS_MAX;
	for (unsigned i = 0; !skip && i < c->fills_active; i++)
		skip = digest_equal(&c->filling[i], d);
	if (!skip)
		c->filling[c->fills_active++] = *d;
	uint64_t gen = c->drop_gen;
	pthread_mutex_unlock(&c->lock);
	if (skip) {
		atomic_fetch_add_explicit(&c->st_skipped, 1, memory_order_relaxed);
		return;
	}
	struct blob_cache_fill *f = xcalloc(1, sizeof *f);
	f->base.read = blob_cache_fill_read;
	f->base.close = blob_cache_fill_close;
	f->inner = br->stream;
	f->c = c;
	f->d = *d;
	f->size = br->size;
	f->fd = -1;
	f->hash = digest_ctx_new(d->algo);
	f->outcome = BLOB_CACHE_FILLED;
	f->reopen = reopen;
	f->reopen_ctx = reopen_ctx;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	f->gen = gen;
	br->stream = &f->base;
}

void blob_cache_settle(struct blob_cache *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->fills_active > 0)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void blob_cache_count_served(struct blob_cache *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->st_served, n, memory_order_relaxed);
}

void blob_cache_stats(struct blob_cache *c, struct blob_cache_stats *out)
{
	*out = (struct blob_cache_stats){
	    .hits = atomic_load_explicit(&c->st_hits, memory_order_relaxed),
	    .misses = atomic_load_explicit(&c->st_misses, memory_order_relaxed),
	    .fills = atomic_load_explicit(&c->st_fills, memory_order_relaxed),
	    .catch_ups = atomic_load_explicit(&c->st_catch_ups, memory_order_relaxed),
	    .abandoned_behind = atomic_load_explicit(&c->st_abandoned[BLOB_CACHE_BEHIND], memory_order_relaxed),
	    .abandoned_incomplete = atomic_load_explicit(&c->st_abandoned[BLOB_CACHE_INCOMPLETE], memory_order_relaxed),
	    .abandoned_error = atomic_load_explicit(&c->st_abandoned[BLOB_CACHE_ERROR], memory_order_relaxed),
	    .served_bytes = atomic_load_explicit(&c->st_served, memory_order_relaxed),
	    .skipped = atomic_load_explicit(&c->st_skipped, memory_order_relaxed),
	    .max_bytes = c->max,
	};
	pthread_mutex_lock(&c->lock);
	out->evictions = c->evictions;
	out->bytes = c->total;
	out->files = c->n;
	pthread_mutex_unlock(&c->lock);
}

void blob_cache_hold_fills(struct blob_cache *c, bool hold)
{
	atomic_store(&c->hold, hold);
}

void blob_cache_set_catch_up_rate(struct blob_cache *c, uint64_t bytes_per_second)
{
	atomic_store(&c->catch_up_rate, bytes_per_second);
}
