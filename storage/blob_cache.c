/* The node-local blob read cache: files DIR/<algo>/<xx>/<hex>, filled by copying a blob
 * while it streams whole from the object store (into an unnamed O_TMPFILE, or a .tmp- file
 * where the filesystem lacks it, linked into place only once its digest checks out), served
 * back as fds, and kept under a byte budget by removing the files with the oldest mtime.
 * An in-memory list of entries and their total, rebuilt by one scan at start-up, spares
 * every request a directory scan; the cache need not survive a crash (no fsync). */
#include "storage/blob_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
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

struct blob_cache_entry {
	struct digest d;
	uint64_t size;
	time_t mtime; /* as last seen; eviction re-reads it before removing */
};

struct blob_cache {
	char *dir;
	uint64_t max;
	pthread_mutex_t lock; /* guards entries, n, total, and linking/removing files */
	struct blob_cache_entry *entries;
	size_t n, cap;
	uint64_t total;
};

/* The stream wrapper that copies what it reads into a temporary file. */
struct blob_cache_fill {
	struct blob_stream base;
	struct blob_stream *inner;
	struct blob_cache *c;
	struct digest d;
	uint64_t size, done;
	int fd; /* -1: not started */
	bool failed;
	char *tmpname; /* NULL with O_TMPFILE */
	struct digest_ctx *hash;
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
	pthread_mutex_init(&c->lock, NULL);
	blob_cache_scan(c);
	blob_cache_evict(c);
	log_info("blob cache: %s holds %zu blobs, %" PRIu64 " of %" PRIu64 " bytes", dir, c->n, c->total, c->max);
	return c;
}

void blob_cache_close(struct blob_cache *c)
{
	if (!c)
		return;
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
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
		close(fd);
		log_warn("blob cache: %s has the wrong size, removed", path);
		blob_cache_drop(c, d);
		return 0;
	}
	if (time(NULL) - st.st_mtime >= BLOB_CACHE_TOUCH_SECONDS && futimens(fd, NULL) < 0)
		log_debug("blob cache: touch %s: %s", path, strerror(errno));
	out->fd = fd;
	out->size = size;
	return 1;
}

void blob_cache_drop(struct blob_cache *c, const struct digest *d)
{
	pthread_mutex_lock(&c->lock);
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

/* Give up filling: the temporary file goes. */
static void blob_cache_fill_abandon(struct blob_cache_fill *f)
{
	f->failed = true;
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

/* Copy n bytes read at pos into the temporary file; any gap or error ends the copy. */
static void blob_cache_fill_copy(struct blob_cache_fill *f, const char *buf, size_t n, uint64_t pos)
{
	if (f->failed)
		return;
	if (pos != f->done || (f->fd < 0 && blob_cache_fill_start(f) < 0)) {
		blob_cache_fill_abandon(f);
		return;
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(f->fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("blob cache: write %s: %s", f->d.str, strerror(errno));
			blob_cache_fill_abandon(f);
			return;
		}
		off += (size_t)w;
	}
	digest_ctx_update(f->hash, buf, n);
	f->done += n;
}

static ssize_t blob_cache_fill_read(struct blob_stream *s, void *buf, size_t max, uint64_t pos, uint64_t end,
                                    struct berr *err)
{
	struct blob_cache_fill *f = (struct blob_cache_fill *)s;
	ssize_t n = f->inner->read(f->inner, buf, max, pos, end, err);
	if (n < 0)
		blob_cache_fill_abandon(f);
	else if (n > 0)
		blob_cache_fill_copy(f, buf, (size_t)n, pos);
	return n;
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

/* The whole blob was read and has its digest: link the file in and evict what is too much. */
static void blob_cache_fill_commit(struct blob_cache_fill *f)
{
	struct digest got;
	digest_ctx_final(f->hash, &got);
	if (!digest_equal(&got, &f->d)) {
		log_warn("blob cache: %s read from the store has digest %s; not cached", f->d.str, got.str);
		return;
	}
	struct blob_cache *c = f->c;
	cleanup_free char *path = blob_cache_path(c, &f->d);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (blob_cache_mkdir(path, NULL) < 0) {
		log_warn("blob cache: create %s: %s", path, strerror(errno));
		return;
	}
	*slash = '/';
	pthread_mutex_lock(&c->lock);
	if (blob_cache_fill_link(f, path) == 0) {
		if (blob_cache_find(c, &f->d) < 0)
			blob_cache_add(c, &f->d, f->size, time(NULL));
		blob_cache_evict(c);
	} else if (errno != EEXIST) {
		log_warn("blob cache: link %s: %s", path, strerror(errno));
	}
	pthread_mutex_unlock(&c->lock);
}

static void blob_cache_fill_close(struct blob_stream *s)
{
	struct blob_cache_fill *f = (struct blob_cache_fill *)s;
	f->inner->close(f->inner);
	if (!f->failed && f->fd >= 0 && f->done == f->size)
		blob_cache_fill_commit(f);
	blob_cache_fill_abandon(f);
	digest_ctx_free(f->hash);
	free(f);
}

void blob_cache_wrap(struct blob_cache *c, const struct digest *d, struct blob_reader *br)
{
	if (br->fd >= 0 || !br->stream || br->size > c->max / 4 || br->size == 0)
		return;
	struct blob_cache_fill *f = xcalloc(1, sizeof *f);
	f->base.read = blob_cache_fill_read;
	f->base.close = blob_cache_fill_close;
	f->inner = br->stream;
	f->c = c;
	f->d = *d;
	f->size = br->size;
	f->fd = -1;
	f->hash = digest_ctx_new(d->algo);
	br->stream = &f->base;
}
