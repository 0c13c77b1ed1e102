/* Layer extraction. libarchive reads the blob twice over, in one pass: a "raw" reader
 * decompresses it and its bytes are hashed for the DiffID, then fed to a tar reader through
 * a callback. Entries are created by hand with *at() calls on directory fds resolved with
 * openat2(RESOLVE_BENEATH), so no symlink or ".." in the layer can send a write outside it,
 * and the last path component is never followed. Directory modes and times are applied
 * at the end, once their contents are written. */
#include "client/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/xalloc.h"

#define UNPACK_BLOCK     (128 * 1024)
#define UNPACK_WH_PREFIX ".wh."
#define UNPACK_WH_OPAQUE ".wh..wh..opq"

struct unpack_dir {
	char *path; /* cleaned, relative; "" is the layer root */
	mode_t mode;
	struct timespec mtime;
};

struct unpack_ctx {
	const struct digest *diffid;
	int rootfd;
	bool chown_ok; /* running as root: keep the archive's owners */
	struct archive *raw;
	struct archive *tar;
	struct digest_ctx *hash;
	uint64_t total;
	bool raw_eof;
	struct unpack_dir *dirs;
	size_t ndirs, capdirs;
	char entry[96]; /* printable name of the current entry, for messages */
};

/* The entry name as it appears in messages: printable, bounded. */
static void unpack_set_entry_name(struct unpack_ctx *c, const char *name)
{
	size_t i = 0;
	for (; name[i] && i < sizeof c->entry - 4; i++)
		c->entry[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	if (name[i])
		c->entry[i++] = '.', c->entry[i++] = '.', c->entry[i++] = '.';
	c->entry[i] = '\0';
}

/* Fill err with "layer DIFFID: entry 'NAME': <what>" and return -1. */
__attribute__((format(printf, 3, 4))) static int unpack_fail(struct unpack_ctx *c, struct berr *err, const char *fmt,
                                                             ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "layer %.19s: refusing entry '%s': %s", c->diffid->str, c->entry,
	                what);
}

/* libarchive read callback of the tar reader: the next decompressed block, hashed. */
static la_ssize_t unpack_read_raw(struct archive *a, void *arg, const void **buf)
{
	struct unpack_ctx *c = arg;
	if (c->raw_eof)
		return 0;
	size_t size;
	la_int64_t offset;
	int r = archive_read_data_block(c->raw, buf, &size, &offset);
	if (r == ARCHIVE_EOF) {
		c->raw_eof = true;
		return 0;
	}
	if (r < ARCHIVE_OK) {
		archive_set_error(a, EIO, "%s", archive_error_string(c->raw));
		return -1;
	}
	digest_ctx_update(c->hash, *buf, size);
	c->total += size;
	return (la_ssize_t)size;
}

/* Normalize an archive path: drop "." and empty components; refuse ".." and absolute
 * paths. out gets "" for the root. Returns 0, or -1 with *why set. */
static int unpack_clean_path(const char *in, char *out, size_t outlen, const char **why)
{
	if (in[0] == '/') {
		*why = "absolute path";
		return -1;
	}
	size_t n = 0;
	const char *p = in;
	while (*p) {
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		if (*p == '/')
			p++;
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			*why = "path contains '..'";
			return -1;
		}
		if (n + len + 2 > outlen) {
			*why = "path too long";
			return -1;
		}
		if (n)
			out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}

/* Without openat2 (old kernels, valgrind): walk the cleaned path one directory at a time
 * with O_NOFOLLOW, so any symlink on the way is refused (stricter than RESOLVE_BENEATH). */
static int unpack_walk(int dirfd, const char *path, int flags)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	char *save = NULL;
	for (char *comp = strtok_r(buf, "/", &save); comp && fd >= 0; comp = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, comp, flags | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		struct stat st;
		if (next < 0 && (e == ELOOP || e == ENOTDIR) && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			e = EXDEV; /* a symlink on the way */
		close(fd);
		fd = next;
		errno = e;
	}
	return fd;
}

/* Open path beneath dirfd: no symlink or ".." may lead out of it. */
static int unpack_openat2(int dirfd, const char *path, int flags)
{
	static bool no_openat2;
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = -1;
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		do
			fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		while (fd < 0 && errno == EAGAIN);
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		__atomic_store_n(&no_openat2, true, __ATOMIC_RELAXED);
	}
	return unpack_walk(dirfd, path, flags);
}

/* Why resolving a parent directory failed, for the message. */
static const char *unpack_resolve_why(int e)
{
	switch (e) {
	case EXDEV:
	case ELOOP:
		return "its path leads outside the layer through a symlink";
	case ENOTDIR:
		return "a parent of it is not a directory";
	default:
		return strerror(e);
	}
}

/* Open directory rel (cleaned, may be "") beneath the root, creating missing components
 * with mode 0755 as tar does. Returns an fd or -1 with errno set. */
static int unpack_open_dir(struct unpack_ctx *c, const char *rel)
{
	if (!*rel)
		return fcntl(c->rootfd, F_DUPFD_CLOEXEC, 0);
	int fd = unpack_openat2(c->rootfd, rel, O_RDONLY | O_DIRECTORY);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", rel);
	int parent = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 0);
	char *comp = buf;
	for (;;) {
		char *slash = strchr(comp, '/');
		if (slash)
			*slash = '\0';
		if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			close(parent);
			errno = e;
			return -1;
		}
		int next = unpack_openat2(c->rootfd, buf, O_RDONLY | O_DIRECTORY);
		int e = errno;
		close(parent);
		if (next < 0) {
			errno = e;
			return -1;
		}
		parent = next;
		if (!slash)
			return parent;
		*slash = '/';
		comp = slash + 1;
	}
}

/* Split cleaned path into its parent directory (opened) and last component. */
static int unpack_open_parent(struct unpack_ctx *c, char *path, const char **base, struct berr *err)
{
	char *slash = strrchr(path, '/');
	int fd;
	if (slash) {
		*slash = '\0';
		fd = unpack_open_dir(c, path);
		*slash = '/';
		*base = slash + 1;
	} else {
		fd = unpack_open_dir(c, "");
		*base = path;
	}
	if (fd < 0)
		return unpack_fail(c, err, "%s", unpack_resolve_why(errno));
	return fd;
}

/* Remove whatever is at name (a file, a symlink, or a whole tree). */
static int unpack_remove(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    unpack_remove(dirfd(d), e->d_name) < 0)
			rc = -1;
	closedir(d);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = -1;
	return rc;
}

/* Apply the entry's extended attributes to fd. overlayfs's own trusted.overlay.* names are
 * dropped: a layer must not forge redirects or metacopy in the overlay stack. */
static int unpack_xattrs(struct unpack_ctx *c, struct archive_entry *e, int fd, struct berr *err)
{
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (strncmp(name, "trusted.overlay.", 16) == 0)
			continue;
		if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP && !(errno == EPERM && !c->chown_ok))
			return unpack_fail(c, err, "cannot set xattr %s: %s", name, strerror(errno));
	}
	return 0;
}

static int unpack_owner_mode_times(struct unpack_ctx *c, struct archive_entry *e, int fd, struct berr *err)
{
	if (c->chown_ok && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return unpack_fail(c, err, "chown: %s", strerror(errno));
	/* After chown, which clears set-id bits. */
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return unpack_fail(c, err, "chmod: %s", strerror(errno));
	if (unpack_xattrs(c, e, fd, err) < 0)
		return -1;
	struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	                         {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
	futimens(fd, ts);
	return 0;
}

static int unpack_file(struct unpack_ctx *c, struct archive_entry *e, int pfd, const char *base, struct berr *err)
{
	if (unpack_remove(pfd, base) < 0)
		return unpack_fail(c, err, "cannot replace existing entry: %s", strerror(errno));
	cleanup_close int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return unpack_fail(c, err, "create: %s", strerror(errno));
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(c->tar, &buf, &size, &offset)) == ARCHIVE_OK) {
		const char *p = buf;
		while (size > 0) {
			ssize_t w = pwrite(fd, p, size, (off_t)offset);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return unpack_fail(c, err, "write: %s", strerror(errno));
			p += w;
			size -= (size_t)w;
			offset += w;
		}
	}
	if (r != ARCHIVE_EOF)
		return unpack_fail(c, err, "%s", archive_error_string(c->tar));
	/* Sparse files end in a hole pwrite never reached. */
	if (ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		return unpack_fail(c, err, "truncate: %s", strerror(errno));
	return unpack_owner_mode_times(c, e, fd, err);
}

static int unpack_directory(struct unpack_ctx *c, struct archive_entry *e, int pfd, const char *base, const char *path,
                            struct berr *err)
{
	cleanup_close int fd = -1;
	if (!*path) {
		fd = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 0);
	} else {
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
		    unpack_remove(pfd, base) < 0)
			return unpack_fail(c, err, "cannot replace existing entry: %s", strerror(errno));
		if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
			return unpack_fail(c, err, "mkdir: %s", strerror(errno));
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return unpack_fail(c, err, "open directory: %s", strerror(errno));
	if (c->chown_ok && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return unpack_fail(c, err, "chown: %s", strerror(errno));
	if (unpack_xattrs(c, e, fd, err) < 0)
		return -1;
	if (c->ndirs == c->capdirs) {
		c->capdirs = c->capdirs ? c->capdirs * 2 : 64;
		c->dirs = xrealloc(c->dirs, c->capdirs * sizeof *c->dirs);
	}
	c->dirs[c->ndirs++] = (struct unpack_dir){
	    .path = xstrdup(path),
	    .mode = archive_entry_perm(e) & 07777,
	    .mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	};
	return 0;
}

static int unpack_symlink(struct unpack_ctx *c, struct archive_entry *e, int pfd, const char *base, struct berr *err)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return unpack_fail(c, err, "symlink without a target");
	if (unpack_remove(pfd, base) < 0)
		return unpack_fail(c, err, "cannot replace existing entry: %s", strerror(errno));
	/* The target is only data here: it is never followed while unpacking. */
	if (symlinkat(target, pfd, base) < 0)
		return unpack_fail(c, err, "symlink: %s", strerror(errno));
	if (c->chown_ok &&
	    fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return unpack_fail(c, err, "chown: %s", strerror(errno));
	struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	                         {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int unpack_hardlink(struct unpack_ctx *c, const char *link, int pfd, const char *base, struct berr *err)
{
	char target[PATH_MAX];
	const char *why = NULL;
	if (unpack_clean_path(link, target, sizeof target, &why) < 0 || !*target)
		return unpack_fail(c, err, "hard link to '%.100s' outside the layer (%s)", link,
		                   why ? why : "the root");
	char *slash = strrchr(target, '/');
	const char *tbase = slash ? slash + 1 : target;
	if (slash)
		*slash = '\0';
	/* Resolved without creating anything: a missing target is an error, not a new directory. */
	cleanup_close int tfd =
	    slash ? unpack_openat2(c->rootfd, target, O_RDONLY | O_DIRECTORY) : fcntl(c->rootfd, F_DUPFD_CLOEXEC, 0);
	if (tfd < 0)
		return unpack_fail(c, err, "hard link to '%.100s': %s", link, unpack_resolve_why(errno));
	struct stat st;
	if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return unpack_fail(c, err, "hard link to '%.100s', which is not in the layer", link);
	if (S_ISDIR(st.st_mode))
		return unpack_fail(c, err, "hard link to directory '%.100s'", link);
	struct stat cur;
	if (fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_ino == st.st_ino && cur.st_dev == st.st_dev)
		return 0;
	if (unpack_remove(pfd, base) < 0)
		return unpack_fail(c, err, "cannot replace existing entry: %s", strerror(errno));
	if (linkat(tfd, tbase, pfd, base, 0) < 0)
		return unpack_fail(c, err, "link: %s", strerror(errno));
	return 0;
}

/* An OCI whiteout entry: ".wh..wh..opq" marks the parent opaque, ".wh.NAME" hides NAME. */
static int unpack_whiteout(struct unpack_ctx *c, int pfd, const char *base, struct berr *err)
{
	if (strcmp(base, UNPACK_WH_OPAQUE) == 0) {
		if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return unpack_fail(c, err,
			                   "cannot mark the directory opaque (xattr trusted.overlay.opaque): %s",
			                   strerror(errno));
		return 0;
	}
	if (strncmp(base, ".wh..wh.", 8) == 0) /* other aufs metadata: meaningless here */
		return 0;
	const char *name = base + strlen(UNPACK_WH_PREFIX);
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return unpack_fail(c, err, "whiteout of an invalid name");
	if (unpack_remove(pfd, name) < 0)
		return unpack_fail(c, err, "cannot replace existing entry: %s", strerror(errno));
	if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return unpack_fail(c, err, "cannot create the overlay whiteout (char device 0/0): %s", strerror(errno));
	return 0;
}

static int unpack_entry(struct unpack_ctx *c, struct archive_entry *e, struct berr *err)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		raw = archive_entry_pathname_utf8(e);
	if (!raw)
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "layer %.19s: an entry has no readable name",
		                c->diffid->str);
	unpack_set_entry_name(c, raw);
	char path[PATH_MAX];
	const char *why = NULL;
	if (unpack_clean_path(raw, path, sizeof path, &why) < 0)
		return unpack_fail(c, err, "%s", why);
	mode_t type = archive_entry_filetype(e);
	const char *link = archive_entry_hardlink(e);
	if (!*path) {
		if (link || type != AE_IFDIR)
			return unpack_fail(c, err, "the layer root is not a directory");
		return unpack_directory(c, e, -1, "", "", err);
	}
	const char *base;
	cleanup_close int pfd = unpack_open_parent(c, path, &base, err);
	if (pfd < 0)
		return -1;
	if (strncmp(base, UNPACK_WH_PREFIX, strlen(UNPACK_WH_PREFIX)) == 0)
		return unpack_whiteout(c, pfd, base, err);
	if (link)
		return unpack_hardlink(c, link, pfd, base, err);
	switch (type) {
	case AE_IFREG:
		return unpack_file(c, e, pfd, base, err);
	case AE_IFDIR:
		return unpack_directory(c, e, pfd, base, path, err);
	case AE_IFLNK:
		return unpack_symlink(c, e, pfd, base, err);
	case AE_IFIFO:
		if (unpack_remove(pfd, base) < 0 || mkfifoat(pfd, base, archive_entry_perm(e) & 0777) < 0)
			return unpack_fail(c, err, "mkfifo: %s", strerror(errno));
		return 0;
	case AE_IFCHR:
	case AE_IFBLK:
		return unpack_fail(c, err, "device nodes are not allowed in layers");
	default:
		return unpack_fail(c, err, "unsupported entry type %o", (unsigned)type);
	}
}

/* Directory modes and times, deepest last-created first so parents' times stick. */
static void unpack_finish_dirs(struct unpack_ctx *c)
{
	for (size_t i = c->ndirs; i-- > 0;) {
		struct unpack_dir *d = &c->dirs[i];
		int fd = *d->path ? unpack_openat2(c->rootfd, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
		                  : fcntl(c->rootfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			continue;
		fchmod(fd, d->mode);
		struct timespec ts[2] = {d->mtime, d->mtime};
		futimens(fd, ts);
		close(fd);
	}
}

static void unpack_ctx_free(struct unpack_ctx *c)
{
	if (c->tar)
		archive_read_free(c->tar);
	if (c->raw)
		archive_read_free(c->raw);
	digest_ctx_free(c->hash);
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	if (c->rootfd >= 0)
		close(c->rootfd);
}

static int unpack_run(struct unpack_ctx *c, int blob_fd, const char *dir, struct berr *err)
{
	c->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->rootfd < 0)
		return berr_sys(err, errno, "open %s", dir);

	c->raw = archive_read_new();
	archive_read_support_filter_gzip(c->raw);
	archive_read_support_filter_zstd(c->raw);
	archive_read_support_filter_xz(c->raw);
	archive_read_support_filter_bzip2(c->raw);
	archive_read_support_format_raw(c->raw);
	struct archive_entry *e;
	if (archive_read_open_fd(c->raw, blob_fd, UNPACK_BLOCK) != ARCHIVE_OK ||
	    archive_read_next_header(c->raw, &e) != ARCHIVE_OK)
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "layer %.19s: cannot decompress: %s", c->diffid->str,
		                archive_error_string(c->raw));

	c->tar = archive_read_new();
	archive_read_support_format_tar(c->tar);
	if (archive_read_open(c->tar, c, NULL, unpack_read_raw, NULL) != ARCHIVE_OK)
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "layer %.19s: not a tar archive: %s", c->diffid->str,
		                archive_error_string(c->tar));
	for (;;) {
		int r = archive_read_next_header(c->tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "layer %.19s: corrupt tar stream: %s",
			                c->diffid->str, archive_error_string(c->tar));
		if (unpack_entry(c, e, err) < 0)
			return -1;
	}
	/* The DiffID covers the whole stream, including what follows the end-of-archive mark. */
	const void *buf;
	la_ssize_t n;
	while ((n = unpack_read_raw(c->tar, c, &buf)) > 0)
		;
	if (n < 0)
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "layer %.19s: cannot decompress: %s", c->diffid->str,
		                archive_error_string(c->raw));
	struct digest got;
	digest_ctx_final(c->hash, &got);
	if (!digest_equal(&got, c->diffid))
		return berr_set(err, BERR_DIGEST_INVALID,
		                "layer %s: the uncompressed content does not match the config's DiffID (got %s)",
		                c->diffid->str, got.str);
	unpack_finish_dirs(c);
	return 0;
}

int unpack_layer(int blob_fd, const struct digest *diffid, const char *dir, uint64_t *unpacked_size, struct berr *err)
{
	struct unpack_ctx c = {
	    .diffid = diffid,
	    .rootfd = -1,
	    .chown_ok = geteuid() == 0,
	    .hash = digest_ctx_new(diffid->algo),
	};
	int rc = unpack_run(&c, blob_fd, dir, err);
	if (unpacked_size)
		*unpacked_size = c.total;
	unpack_ctx_free(&c);
	return rc;
}
