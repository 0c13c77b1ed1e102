/* The local filesystem blob driver. Blobs live at ROOT/blobs/<algo>/<2 hex>/<hex>, one file
 * per digest; staging objects at ROOT/uploads/<id>. A staging file becomes a blob by
 * fsync + rename + fsync(dir), so a blob path only ever holds complete, verified content. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "storage/driver.h"

/* Start writeback every this many bytes so the final fsync of a large blob is short and
 * dirty pages do not pile up in memory. */
#define FS_WRITEBACK_EVERY (8u << 20)

struct fs_driver {
	char *root;
	int blobs_dirfd;
	int uploads_dirfd;
	int trash_dirfd;
};

struct fs_writer {
	struct blob_writer base;
	int fd;
	uint64_t start;   /* size when opened: where a discarded chunk is cut back to */
	uint64_t pos;     /* current end */
	uint64_t flushed; /* bytes handed to writeback so far */
};

static int fs_mkdir_p(const char *path, struct berr *err)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return berr_set(err, BERR_INTERNAL, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return berr_sys(err, errno, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return berr_sys(err, errno, "mkdir %s", buf);
	return 0;
}

/* "sha256/ab/abcdef..." relative to the blobs folder. */
static void fs_blob_relpath(const struct digest *d, char *out, size_t outlen)
{
	const char *hex = digest_hex(d);
	snprintf(out, outlen, "%s/%.2s/%s", digest_algo_name(d->algo), hex, hex);
}

static int fs_fsync_dirat(int dirfd, const char *rel, struct berr *err)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "open directory %s", rel);
	int r = fsync(fd);
	int e = errno;
	close(fd);
	if (r < 0)
		return berr_sys(err, e, "fsync directory %s", rel);
	return 0;
}

static void fs_close(void *drv)
{
	struct fs_driver *fs = drv;
	close(fs->blobs_dirfd);
	close(fs->uploads_dirfd);
	close(fs->trash_dirfd);
	free(fs->root);
	free(fs);
}

static int fs_stat(void *drv, const struct digest *d, uint64_t *size, struct berr *err)
{
	struct fs_driver *fs = drv;
	char rel[256];
	struct stat st;
	fs_blob_relpath(d, rel, sizeof rel);
	if (fstatat(fs->blobs_dirfd, rel, &st, 0) < 0) {
		if (errno == ENOENT)
			return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not stored", d->str);
		return berr_sys(err, errno, "stat blob %s", d->str);
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int fs_open_read(void *drv, const struct digest *d, struct blob_reader *out, struct berr *err)
{
	struct fs_driver *fs = drv;
	char rel[256];
	fs_blob_relpath(d, rel, sizeof rel);
	int fd = openat(fs->blobs_dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not stored", d->str);
		return berr_sys(err, errno, "open blob %s", d->str);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return berr_sys(err, e, "stat blob %s", d->str);
	}
	out->fd = fd;
	out->size = (uint64_t)st.st_size;
	return 0;
}

static int fs_remove(void *drv, const struct digest *d, struct berr *err)
{
	struct fs_driver *fs = drv;
	char rel[256];
	fs_blob_relpath(d, rel, sizeof rel);
	if (unlinkat(fs->blobs_dirfd, rel, 0) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "remove blob %s", d->str);
	return 0;
}

static int fs_upload_begin(void *drv, const char *id, struct berr *err)
{
	struct fs_driver *fs = drv;
	int fd = openat(fs->uploads_dirfd, id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return berr_sys(err, errno, "create upload %s", id);
	close(fd);
	return 0;
}

static int fs_upload_size(void *drv, const char *id, uint64_t *size, struct berr *err)
{
	struct fs_driver *fs = drv;
	struct stat st;
	if (fstatat(fs->uploads_dirfd, id, &st, 0) < 0) {
		if (errno == ENOENT)
			return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload %s has no data on disk", id);
		return berr_sys(err, errno, "stat upload %s", id);
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int fs_writer_write(struct blob_writer *bw, const void *buf, size_t len, struct berr *err)
{
	struct fs_writer *w = (struct fs_writer *)bw;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berr_sys(err, errno, "write upload data");
		}
		p += n;
		len -= (size_t)n;
		w->pos += (uint64_t)n;
	}
	if (w->pos - w->flushed >= FS_WRITEBACK_EVERY) {
		sync_file_range(w->fd, (off64_t)w->flushed, (off64_t)(w->pos - w->flushed), SYNC_FILE_RANGE_WRITE);
		w->flushed = w->pos;
	}
	return 0;
}

static int fs_writer_finish(struct blob_writer *bw, bool keep, struct berr *err)
{
	struct fs_writer *w = (struct fs_writer *)bw;
	int rc = 0;
	if (!keep && w->pos != w->start && ftruncate(w->fd, (off_t)w->start) < 0)
		rc = berr_sys(err, errno, "truncate upload after a failed chunk");
	close(w->fd);
	free(w);
	return rc;
}

static int fs_upload_open(void *drv, const char *id, uint64_t offset, struct blob_writer **out, struct berr *err)
{
	struct fs_driver *fs = drv;
	int fd = openat(fs->uploads_dirfd, id, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload %s has no data on disk", id);
		return berr_sys(err, errno, "open upload %s", id);
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != offset || lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		close(fd);
		return berr_set(err, BERR_RANGE_INVALID, "upload %s: chunk must start at byte %llu", id,
		                (unsigned long long)st.st_size);
	}
	struct fs_writer *w = xcalloc(1, sizeof *w);
	w->base.write = fs_writer_write;
	w->base.finish = fs_writer_finish;
	w->fd = fd;
	w->start = w->pos = w->flushed = offset;
	*out = &w->base;
	return 0;
}

static ssize_t fs_upload_pread(void *drv, const char *id, void *buf, size_t len, uint64_t offset, struct berr *err)
{
	struct fs_driver *fs = drv;
	int fd = openat(fs->uploads_dirfd, id, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "open upload %s", id);
	ssize_t n;
	do
		n = pread(fd, buf, len, (off_t)offset);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return berr_sys(err, e, "read upload %s", id);
	return n;
}

static int fs_upload_commit(void *drv, const char *id, const struct digest *d, uint64_t size, struct berr *err)
{
	struct fs_driver *fs = drv;
	int fd = openat(fs->uploads_dirfd, id, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "open upload %s", id);
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		return berr_sys(err, e, "stat upload %s", id);
	}
	if ((uint64_t)sb.st_size != size) {
		close(fd);
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "upload %s has %llu bytes, not the %llu verified as %s",
		                id, (unsigned long long)sb.st_size, (unsigned long long)size, d->str);
	}
	int r = fdatasync(fd);
	int e = errno;
	close(fd);
	if (r < 0)
		return berr_sys(err, e, "fsync upload %s", id);

	char rel[256], dir[256];
	fs_blob_relpath(d, rel, sizeof rel);
	snprintf(dir, sizeof dir, "%s/blobs/%s/%.2s", fs->root, digest_algo_name(d->algo), digest_hex(d));
	if (fs_mkdir_p(dir, err) < 0)
		return -1;
	/* The rename is atomic: readers see no blob or the whole verified blob. Two uploads
	 * of the same digest racing here both install identical bytes. */
	if (renameat(fs->uploads_dirfd, id, fs->blobs_dirfd, rel) < 0)
		return berr_sys(err, errno, "install blob %s", d->str);
	snprintf(dir, sizeof dir, "%s/%.2s", digest_algo_name(d->algo), digest_hex(d));
	return fs_fsync_dirat(fs->blobs_dirfd, dir, err);
}

static int fs_upload_abort(void *drv, const char *id, struct berr *err)
{
	struct fs_driver *fs = drv;
	if (unlinkat(fs->uploads_dirfd, id, 0) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "remove upload %s", id);
	return 0;
}

static int fs_upload_list(void *drv, int (*fn)(void *ctx, const char *id), void *ctx, struct berr *err)
{
	struct fs_driver *fs = drv;
	int fd = openat(fs->uploads_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return berr_sys(err, errno, "list uploads");
	}
	struct dirent *de;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && fn(ctx, de->d_name))
			break;
	closedir(dir);
	return 0;
}

/* Walk blobs/<algo>/<2 hex>/<hex>; names that are no valid digest are not ours and skipped. */
static int fs_list(void *drv, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err)
{
	struct fs_driver *fs = drv;
	static const char *const algos[] = {"sha256", "sha512"};
	for (size_t a = 0; a < 2; a++) {
		int afd = openat(fs->blobs_dirfd, algos[a], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *adir = afd >= 0 ? fdopendir(afd) : NULL;
		if (!adir) {
			if (afd >= 0)
				close(afd);
			if (errno == ENOENT)
				continue;
			return berr_sys(err, errno, "list blobs/%s", algos[a]);
		}
		struct dirent *pre;
		int stop = 0;
		while (!stop && (pre = readdir(adir))) {
			if (pre->d_name[0] == '.')
				continue;
			int pfd = openat(dirfd(adir), pre->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			DIR *pdir = pfd >= 0 ? fdopendir(pfd) : NULL;
			if (!pdir) {
				if (pfd >= 0)
					close(pfd);
				continue;
			}
			struct dirent *de;
			while (!stop && (de = readdir(pdir))) {
				char name[DIGEST_STR_MAX + 8];
				struct digest d;
				if (strlen(de->d_name) > 128)
					continue;
				snprintf(name, sizeof name, "%s:%.128s", algos[a], de->d_name);
				if (de->d_name[0] != '.' && digest_parse(name, &d, NULL) == 0 &&
				    strncmp(de->d_name, pre->d_name, 2) == 0)
					stop = fn(ctx, &d);
			}
			closedir(pdir);
		}
		closedir(adir);
		if (stop)
			break;
	}
	return 0;
}

static int fs_quarantine(void *drv, const struct digest *d, struct berr *err)
{
	struct fs_driver *fs = drv;
	cleanup_free char *qdir = xasprintf("%s/quarantine", fs->root);
	if (fs_mkdir_p(qdir, err) < 0)
		return -1;
	char rel[256];
	fs_blob_relpath(d, rel, sizeof rel);
	cleanup_free char *src = xasprintf("%s/blobs/%s", fs->root, rel);
	cleanup_free char *dst = xasprintf("%s/%s-%s", qdir, digest_algo_name(d->algo), digest_hex(d));
	if (rename(src, dst) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "quarantine blob %s", d->str);
	return 0;
}

/* "sha256-abcdef..." in the trash folder. */
static void fs_trash_name(const struct digest *d, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%s", digest_algo_name(d->algo), digest_hex(d));
}

static int fs_trash(void *drv, const struct digest *d, struct berr *err)
{
	struct fs_driver *fs = drv;
	char rel[256], name[256];
	fs_blob_relpath(d, rel, sizeof rel);
	fs_trash_name(d, name, sizeof name);
	if (renameat(fs->blobs_dirfd, rel, fs->trash_dirfd, name) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "move blob %s to the trash", d->str);
	return 0;
}

static int fs_untrash(void *drv, const struct digest *d, struct berr *err)
{
	struct fs_driver *fs = drv;
	char rel[256], name[256], dir[PATH_MAX];
	fs_blob_relpath(d, rel, sizeof rel);
	fs_trash_name(d, name, sizeof name);
	snprintf(dir, sizeof dir, "%s/blobs/%s/%.2s", fs->root, digest_algo_name(d->algo), digest_hex(d));
	if (fs_mkdir_p(dir, err) < 0)
		return -1;
	if (renameat(fs->trash_dirfd, name, fs->blobs_dirfd, rel) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "put blob %s back from the trash", d->str);
	return 0;
}

static int fs_trash_remove(void *drv, const struct digest *d, struct berr *err)
{
	struct fs_driver *fs = drv;
	char name[256];
	fs_trash_name(d, name, sizeof name);
	if (unlinkat(fs->trash_dirfd, name, 0) < 0 && errno != ENOENT)
		return berr_sys(err, errno, "remove trashed blob %s", d->str);
	return 0;
}

static int fs_trash_list(void *drv, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err)
{
	struct fs_driver *fs = drv;
	int fd = openat(fs->trash_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return berr_sys(err, errno, "list trash");
	}
	struct dirent *de;
	while ((de = readdir(dir))) {
		char name[DIGEST_STR_MAX + 8];
		char *dash = strchr(de->d_name, '-');
		struct digest d;
		if (de->d_name[0] == '.' || !dash || strlen(de->d_name) > DIGEST_STR_MAX)
			continue;
		snprintf(name, sizeof name, "%.*s:%s", (int)(dash - de->d_name), de->d_name, dash + 1);
		if (digest_parse(name, &d, NULL) == 0 && fn(ctx, &d))
			break;
	}
	closedir(dir);
	return 0;
}

static const struct blob_driver_ops fs_ops = {
    .name = "fs",
    .close = fs_close,
    .stat = fs_stat,
    .open_read = fs_open_read,
    .remove = fs_remove,
    .upload_begin = fs_upload_begin,
    .upload_size = fs_upload_size,
    .upload_open = fs_upload_open,
    .upload_pread = fs_upload_pread,
    .upload_commit = fs_upload_commit,
    .upload_abort = fs_upload_abort,
    .upload_list = fs_upload_list,
    .list = fs_list,
    .quarantine = fs_quarantine,
    .trash = fs_trash,
    .untrash = fs_untrash,
    .trash_remove = fs_trash_remove,
    .trash_list = fs_trash_list,
};

void *driver_fs_open(const char *root, const struct blob_driver_ops **ops, struct berr *err)
{
	cleanup_free char *blobs = xasprintf("%s/blobs", root);
	cleanup_free char *uploads = xasprintf("%s/uploads", root);
	cleanup_free char *trash = xasprintf("%s/trash", root);
	if (fs_mkdir_p(blobs, err) < 0 || fs_mkdir_p(uploads, err) < 0 || fs_mkdir_p(trash, err) < 0)
		return NULL;
	struct fs_driver *fs = xcalloc(1, sizeof *fs);
	fs->root = xstrdup(root);
	fs->blobs_dirfd = open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fs->uploads_dirfd = open(uploads, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fs->trash_dirfd = open(trash, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->blobs_dirfd < 0 || fs->uploads_dirfd < 0 || fs->trash_dirfd < 0) {
		berr_sys(err, errno, "open %s", root);
		if (fs->blobs_dirfd >= 0)
			close(fs->blobs_dirfd);
		if (fs->uploads_dirfd >= 0)
			close(fs->uploads_dirfd);
		if (fs->trash_dirfd >= 0)
			close(fs->trash_dirfd);
		free(fs->root);
		free(fs);
		return NULL;
	}
	*ops = &fs_ops;
	return fs;
}
