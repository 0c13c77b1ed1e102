/* The content store: blobs and unpacked layers by digest, with a scratch area. Scratch
 * names end in ".pid-<pid>" when they belong to one process, so a later run can sweep what
 * a killed one left; partial downloads ("<algo>-<hex>.partial") are instead kept, locked with
 * flock while in use, and resumed. */
#include "client/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

struct store {
	char *root;
	int lock_fd;
};

struct store_writer {
	struct store *store;
	struct digest want;
	int64_t size;
	struct digest_ctx *ctx;
	char *path; /* scratch file */
	int fd;
	uint64_t written;
	bool resumable; /* path is the shared .partial name (kept on failure) */
	bool committed;
};

static int store_mkdirs(const char *root, struct berr *err)
{
	static const char *const subdirs[] = {"",        "/blobs",         "/blobs/sha256",  "/blobs/sha512",
	                                      "/layers", "/layers/sha256", "/layers/sha512", "/tmp",
	                                      "/images"};
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		cleanup_free char *p = xasprintf("%s%s", root, subdirs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return berr_sys(err, errno, "cannot create %s", p);
	}
	return 0;
}

/* Remove scratch entries named "*.pid-N" whose process N no longer exists. */
static void store_sweep(struct store *s)
{
	cleanup_free char *tmp = xasprintf("%s/tmp", s->root);
	cleanup_close int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dup(dfd));
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *p = strstr(e->d_name, ".pid-");
		if (!p)
			continue;
		long pid = strtol(p + 5, NULL, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			store_remove_tree(dfd, e->d_name, NULL);
	}
	closedir(d);
}

struct store *store_open(const char *root, struct berr *err)
{
	if (store_mkdirs(root, err) < 0)
		return NULL;
	struct store *s = xcalloc(1, sizeof *s);
	s->root = xstrdup(root);
	s->lock_fd = -1;
	store_sweep(s);
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->root);
	free(s);
}

const char *store_root(const struct store *s)
{
	return s->root;
}

int store_lock(struct store *s, bool exclusive, bool wait, struct berr *err)
{
	if (s->lock_fd < 0) {
		cleanup_free char *p = xasprintf("%s/lock", s->root);
		s->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->lock_fd < 0)
			return berr_sys(err, errno, "open %s", p);
	}
	int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
	while (flock(s->lock_fd, op) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return 1;
		return berr_sys(err, errno, "lock %s/lock", s->root);
	}
	return 0;
}

static const char *store_kind_dir(enum store_kind kind)
{
	return kind == STORE_BLOB ? "blobs" : "layers";
}

static char *store_path(const struct store *s, enum store_kind kind, const struct digest *d)
{
	return xasprintf("%s/%s/%s/%s", s->root, store_kind_dir(kind), digest_algo_name(d->algo), digest_hex(d));
}

char *store_blob_path(const struct store *s, const struct digest *d)
{
	return store_path(s, STORE_BLOB, d);
}

bool store_blob_exists(const struct store *s, const struct digest *d, int64_t size)
{
	cleanup_free char *p = store_blob_path(s, d);
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
}

int store_blob_read(const struct store *s, const struct digest *d, size_t max, char **out, size_t *len,
                    struct berr *err)
{
	cleanup_free char *p = store_blob_path(s, d);
	cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not in the local store", d->str);
		return berr_sys(err, errno, "open %s", p);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berr_sys(err, errno, "stat %s", p);
	if ((uint64_t)st.st_size > max)
		return berr_set(err, BERR_SIZE_INVALID, "blob %s is %lld bytes, more than the %zu accepted", d->str,
		                (long long)st.st_size, max);
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return berr_sys(err, r < 0 ? errno : EIO, "read %s", p);
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int store_blob_put(struct store *s, const struct digest *d, const void *data, size_t len, struct berr *err)
{
	if (store_blob_exists(s, d, (int64_t)len))
		return 0;
	struct store_writer *w = store_writer_open(s, d, (int64_t)len, err);
	if (!w)
		return -1;
	int rc = store_writer_restart(w, err);
	if (rc == 0)
		rc = store_writer_write(w, data, len, err);
	if (rc == 0)
		rc = store_writer_commit(w, err);
	store_writer_close(w, false);
	return rc;
}

/* Read the bytes already in a partial file into the hash; returns 0 or -1. */
static int store_writer_rehash(struct store_writer *w, struct berr *err)
{
	struct stat st;
	if (fstat(w->fd, &st) < 0)
		return berr_sys(err, errno, "stat %s", w->path);
	if (st.st_size > w->size) /* longer than the blob: not ours to trust */
		return store_writer_restart(w, err);
	cleanup_free char *buf = xmalloc(1 << 20);
	uint64_t off = 0;
	while (off < (uint64_t)st.st_size) {
		ssize_t r = pread(w->fd, buf, 1 << 20, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return store_writer_restart(w, err);
		digest_ctx_update(w->ctx, buf, (size_t)r);
		off += (uint64_t)r;
	}
	w->written = off;
	return 0;
}

struct store_writer *store_writer_open(struct store *s, const struct digest *d, int64_t size, struct berr *err)
{
	struct store_writer *w = xcalloc(1, sizeof *w);
	w->store = s;
	w->want = *d;
	w->size = size;
	w->ctx = digest_ctx_new(d->algo);
	w->path = xasprintf("%s/tmp/%s-%s.partial", s->root, digest_algo_name(d->algo), digest_hex(d));
	w->fd = open(w->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat a, b;
	if (w->fd >= 0 && flock(w->fd, LOCK_EX | LOCK_NB) == 0 && fstat(w->fd, &a) == 0 && stat(w->path, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		/* Same inode as the path after locking: no other process unlinked it meanwhile. */
		w->resumable = true;
		if (lseek(w->fd, 0, SEEK_END) < 0 || store_writer_rehash(w, err) < 0) {
			store_writer_close(w, false);
			return NULL;
		}
		return w;
	}
	/* Another process is downloading the same blob: use a private file, no resume. */
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	w->path = xasprintf("%s/tmp/%s-%s.pid-%ld", s->root, digest_algo_name(d->algo), digest_hex(d), (long)getpid());
	w->fd = open(w->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		berr_sys(err, errno, "create %s", w->path);
		store_writer_close(w, false);
		return NULL;
	}
	return w;
}

uint64_t store_writer_offset(const struct store_writer *w)
{
	return w->written;
}

int store_writer_restart(struct store_writer *w, struct berr *err)
{
	if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
		return berr_sys(err, errno, "truncate %s", w->path);
	digest_ctx_reset(w->ctx);
	w->written = 0;
	return 0;
}

int store_writer_write(struct store_writer *w, const void *data, size_t len, struct berr *err)
{
	if (w->written + len > (uint64_t)w->size)
		return berr_set(err, BERR_SIZE_INVALID, "blob %s: the registry sent more than the %lld bytes declared",
		                w->want.str, (long long)w->size);
	digest_ctx_update(w->ctx, data, len);
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_sys(err, errno, "write %s", w->path);
		p += n;
		len -= (size_t)n;
		w->written += (uint64_t)n;
	}
	return 0;
}

int store_writer_commit(struct store_writer *w, struct berr *err)
{
	if (w->written != (uint64_t)w->size) {
		store_writer_restart(w, NULL);
		return berr_set(err, BERR_SIZE_INVALID, "blob %s: got %llu bytes, the manifest declares %lld",
		                w->want.str, (unsigned long long)w->written, (long long)w->size);
	}
	struct digest got;
	digest_ctx_final(w->ctx, &got);
	if (!digest_equal(&got, &w->want)) {
		store_writer_restart(w, NULL);
		return berr_set(err, BERR_DIGEST_INVALID, "blob %s: content does not match its digest (got %s)",
		                w->want.str, got.str);
	}
	if (fsync(w->fd) < 0)
		return berr_sys(err, errno, "fsync %s", w->path);
	cleanup_free char *dst = store_blob_path(w->store, &w->want);
	if (rename(w->path, dst) < 0)
		return berr_sys(err, errno, "rename %s to %s", w->path, dst);
	w->committed = true;
	cleanup_free char *dir = xasprintf("%s/blobs/%s", w->store->root, digest_algo_name(w->want.algo));
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

void store_writer_close(struct store_writer *w, bool keep_partial)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		/* Unlink while the lock is held so no other process resumes a file being removed. */
		if (!w->committed && (!keep_partial || !w->resumable || w->written == 0))
			unlink(w->path);
		close(w->fd);
	}
	digest_ctx_free(w->ctx);
	free(w->path);
	free(w);
}

char *store_layer_path(const struct store *s, const struct digest *diffid)
{
	return store_path(s, STORE_LAYER, diffid);
}

bool store_layer_exists(const struct store *s, const struct digest *diffid)
{
	cleanup_free char *p = store_layer_path(s, diffid);
	struct stat st;
	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_layer_begin(struct store *s, const struct digest *diffid, char **tmpdir, struct berr *err)
{
	static unsigned counter;
	char *p = xasprintf("%s/tmp/layer-%s.%u.pid-%ld", s->root, digest_hex(diffid),
	                    __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), (long)getpid());
	if (mkdir(p, 0755) < 0) {
		berr_sys(err, errno, "mkdir %s", p);
		free(p);
		return -1;
	}
	*tmpdir = p;
	return 0;
}

int store_layer_commit(struct store *s, const char *tmpdir, const struct digest *diffid, struct berr *err)
{
	cleanup_close int fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		return berr_sys(err, errno, "sync %s", tmpdir);
	cleanup_free char *dst = store_layer_path(s, diffid);
	if (rename(tmpdir, dst) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			store_layer_abort(s, tmpdir);
			return 0;
		}
		return berr_sys(err, errno, "rename %s to %s", tmpdir, dst);
	}
	cleanup_free char *dir = xasprintf("%s/layers/%s", s->root, digest_algo_name(diffid->algo));
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

void store_layer_abort(struct store *s, const char *tmpdir)
{
	(void)s;
	store_remove_tree(AT_FDCWD, tmpdir, NULL);
}

int store_list(const struct store *s, enum store_kind kind, struct digest **out, size_t *n, struct berr *err)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	static const enum digest_algo algos[] = {DIGEST_SHA256, DIGEST_SHA512};
	for (size_t a = 0; a < 2; a++) {
		cleanup_free char *dir =
		    xasprintf("%s/%s/%s", s->root, store_kind_dir(kind), digest_algo_name(algos[a]));
		DIR *d = opendir(dir);
		if (!d) {
			if (errno == ENOENT)
				continue;
			free(*out);
			*out = NULL;
			return berr_sys(err, errno, "opendir %s", dir);
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			cleanup_free char *str = xasprintf("%s:%s", digest_algo_name(algos[a]), e->d_name);
			struct digest dg;
			if (digest_parse(str, &dg, NULL) < 0)
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 32;
				*out = xrealloc(*out, cap * sizeof **out);
			}
			(*out)[(*n)++] = dg;
		}
		closedir(d);
	}
	return 0;
}

int store_remove(struct store *s, enum store_kind kind, const struct digest *d, struct berr *err)
{
	cleanup_free char *p = store_path(s, kind, d);
	if (kind == STORE_BLOB) {
		if (unlink(p) < 0 && errno != ENOENT)
			return berr_sys(err, errno, "unlink %s", p);
		return 0;
	}
	/* Rename the layer out of the way first, so a half-removed tree is never taken as
	 * complete; the sweep finishes it if we are interrupted. */
	cleanup_free char *tmp = xasprintf("%s/tmp/rm-%s.pid-%ld", s->root, digest_hex(d), (long)getpid());
	if (rename(p, tmp) < 0)
		return errno == ENOENT ? 0 : berr_sys(err, errno, "rename %s", p);
	return store_remove_tree(AT_FDCWD, tmp, err);
}

/* Empty the directory open at fd (which this function closes). */
static int store_empty_dir(int fd, const char *what, struct berr *err)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return berr_sys(err, errno, "opendir %s", what);
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (store_remove_tree(dirfd(d), e->d_name, err) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

int store_remove_tree(int dirfd, const char *name, struct berr *err)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return berr_sys(err, errno, "unlink %s", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "open %s", name);
	/* A layer may hold directories without write permission for anyone. */
	fchmod(fd, 0700);
	if (store_empty_dir(fd, name, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "rmdir %s", name);
	return 0;
}
