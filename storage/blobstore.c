/* The blob store front: picks a driver from the store's URL and dispatches to it, so the
 * rest of berthd never depends on where blobs live. */
#include "storage/blobstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/curl_lazy.h"
#include "common/xalloc.h"
#include "storage/blob_cache.h"
#include "storage/driver.h"
#include "storage/writer_pipe.h"

struct blobstore {
	const struct blob_driver_ops *ops;
	void *drv;
	struct blob_cache *cache; /* NULL: none (see blobstore_set_cache) */
};

struct blobstore *blobstore_open(const char *url, struct berr *err)
{
	const char *path = url;
	if (strncmp(url, "file://", 7) == 0)
		path = url + 7;
	else if (strstr(url, "://")) {
		berr_set(err, BERR_INTERNAL, "unsupported blob storage '%s' (only a local path is supported)", url);
		return NULL;
	}
	const struct blob_driver_ops *ops = NULL;
	void *drv = driver_fs_open(path, &ops, err);
	if (!drv)
		return NULL;
	struct blobstore *bs = xcalloc(1, sizeof *bs);
	bs->ops = ops;
	bs->drv = drv;
	return bs;
}

struct blobstore *blobstore_open_s3(const struct blobstore_s3_config *cfg, struct berr *err)
{
	const struct blob_driver_ops *ops = NULL;
	if (curl_lazy_load(err) < 0) { /* S3 speaks HTTP through libcurl, loaded only for it */
		berr_prefix(err, "S3 storage");
		return NULL;
	}
	void *drv = driver_s3_open(cfg, &ops, err);
	if (!drv)
		return NULL;
	struct blobstore *bs = xcalloc(1, sizeof *bs);
	bs->ops = ops;
	bs->drv = drv;
	return bs;
}

char *blobstore_presign(struct blobstore *bs, const struct digest *d, unsigned expires, struct berr *err)
{
	if (!bs->ops->presign) {
		berr_set(err, BERR_UNSUPPORTED, "the %s blob store cannot presign URLs", bs->ops->name);
		return NULL;
	}
	return bs->ops->presign(bs->drv, d, expires, err);
}

void blobstore_close(struct blobstore *bs)
{
	if (!bs)
		return;
	blob_cache_close(bs->cache); /* first: its fills may still read the store */
	bs->ops->close(bs->drv);
	free(bs);
}

const char *blobstore_driver_name(const struct blobstore *bs)
{
	return bs->ops->name;
}

int blobstore_stat(struct blobstore *bs, const struct digest *d, uint64_t *size, struct berr *err)
{
	return bs->ops->stat(bs->drv, d, size, err);
}

int blobstore_open_read(struct blobstore *bs, const struct digest *d, struct blob_reader *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	out->fd = -1;
	if (bs->ops->open_read(bs->drv, d, out, err) < 0)
		return -1;
	out->pos = 0;
	out->end = out->size;
	return 0;
}

void blobstore_set_cache(struct blobstore *bs, struct blob_cache *cache)
{
	bs->cache = cache;
}

struct blob_cache *blobstore_cache(struct blobstore *bs)
{
	return bs->cache;
}

/* A fresh reader of the store for a cache fill that fell behind (blob_cache_wrap). */
static int blobstore_reopen(void *ctx, const struct digest *d, struct blob_reader *out, struct berr *err)
{
	return blobstore_open_read(ctx, d, out, err);
}

int blobstore_open_read_cached(struct blobstore *bs, const struct digest *d, uint64_t size, struct blob_reader *out,
                               struct berr *err)
{
	if (!bs->cache)
		return blobstore_open_read(bs, d, out, err);
	memset(out, 0, sizeof *out);
	out->fd = -1;
	if (blob_cache_lookup(bs->cache, d, size, out) == 1) {
		out->pos = 0;
		out->end = out->size;
		return 0;
	}
	if (blobstore_open_read(bs, d, out, err) < 0)
		return -1;
	if (out->size == size)
		blob_cache_wrap(bs->cache, d, out, blobstore_reopen, bs);
	return 0;
}

void blob_reader_range(struct blob_reader *br, uint64_t off, uint64_t len)
{
	br->pos = off < br->size ? off : br->size;
	br->end = len < br->size - br->pos ? br->pos + len : br->size;
}

ssize_t blob_reader_read(struct blob_reader *br, void *buf, size_t max, struct berr *err)
{
	if (br->pos >= br->end || max == 0)
		return 0;
	if (max > br->end - br->pos)
		max = (size_t)(br->end - br->pos);
	ssize_t n;
	if (br->fd >= 0) {
		do
			n = pread(br->fd, buf, max, (off_t)br->pos);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return berr_sys(err, errno, "read blob");
		if (n == 0)
			return berr_set(err, BERR_INTERNAL, "blob is shorter than its recorded size");
	} else {
		n = br->stream->read(br->stream, buf, max, br->pos, br->end, err);
		if (n < 0)
			return -1;
	}
	br->pos += (uint64_t)n;
	return n;
}

void blob_reader_close(struct blob_reader *br)
{
	if (br->fd >= 0)
		close(br->fd);
	else if (br->stream)
		br->stream->close(br->stream);
	br->fd = -1;
	br->stream = NULL;
}

int blobstore_delete(struct blobstore *bs, const struct digest *d, struct berr *err)
{
	if (bs->cache)
		blob_cache_drop(bs->cache, d);
	return bs->ops->remove(bs->drv, d, err);
}

int blobstore_upload_begin(struct blobstore *bs, const char *id, struct berr *err)
{
	return bs->ops->upload_begin(bs->drv, id, err);
}

int blobstore_upload_size(struct blobstore *bs, const char *id, uint64_t *size, struct berr *err)
{
	return bs->ops->upload_size(bs->drv, id, size, err);
}

struct blob_writer *blobstore_upload_open(struct blobstore *bs, const char *id, uint64_t offset,
                                          struct digest_ctx *hash, struct berr *err)
{
	struct blob_writer *w = NULL;
	if (bs->ops->upload_open(bs->drv, id, offset, &w, err) < 0)
		return NULL;
	return writer_pipe_wrap(w, hash);
}

struct blob_writer *blobstore_upload_open_at_blob(struct blobstore *bs, const char *id, const struct digest *d,
                                                  struct digest_ctx *hash, struct berr *err)
{
	if (!bs->ops->upload_open_at_blob)
		return NULL;
	struct blob_writer *w = NULL;
	if (bs->ops->upload_open_at_blob(bs->drv, id, d, &w, err) < 0)
		return NULL;
	return writer_pipe_wrap(w, hash);
}

struct blob_writer *blobstore_upload_open_early(struct blobstore *bs, const char *id, struct digest_ctx *hash,
                                                struct berr *err)
{
	if (!bs->ops->upload_open_early)
		return blobstore_upload_open(bs, id, 0, hash, err);
	struct blob_writer *w = NULL;
	if (bs->ops->upload_open_early(bs->drv, id, &w, err) < 0)
		return NULL;
	return writer_pipe_wrap(w, hash);
}

struct blob_writer *blobstore_upload_open_direct(struct blobstore *bs, const char *id, uint64_t offset,
                                                 struct berr *err)
{
	struct blob_writer *w = NULL;
	if (bs->ops->upload_open(bs->drv, id, offset, &w, err) < 0)
		return NULL;
	return w;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct berr *err)
{
	return w->write(w, buf, len, err);
}

int blob_writer_finish(struct blob_writer *w, bool keep, struct berr *err)
{
	return w->finish(w, keep, err);
}

int blobstore_upload_checkpoint(struct blobstore *bs, const char *id, uint64_t *size, char **state, struct berr *err)
{
	if (!bs->ops->upload_checkpoint)
		return 0;
	return bs->ops->upload_checkpoint(bs->drv, id, size, state, err);
}

ssize_t blobstore_upload_pread(struct blobstore *bs, const char *id, void *buf, size_t len, uint64_t offset,
                               struct berr *err)
{
	return bs->ops->upload_pread(bs->drv, id, buf, len, offset, err);
}

int blobstore_upload_prepare(struct blobstore *bs, const char *id, const struct digest *d, uint64_t size,
                             struct berr *err)
{
	return bs->ops->upload_prepare ? bs->ops->upload_prepare(bs->drv, id, d, size, err) : 0;
}

int blobstore_upload_commit(struct blobstore *bs, const char *id, const struct digest *d, uint64_t size,
                            struct berr *err)
{
	return bs->ops->upload_commit(bs->drv, id, d, size, err);
}

int blobstore_upload_spill(struct blobstore *bs, const char *id, struct berr *err)
{
	return bs->ops->upload_spill ? bs->ops->upload_spill(bs->drv, id, err) : 0;
}

int blobstore_upload_abort(struct blobstore *bs, const char *id, struct berr *err)
{
	return bs->ops->upload_abort(bs->drv, id, err);
}

int blobstore_upload_finished(struct blobstore *bs, const char *id, struct berr *err)
{
	if (!bs->ops->upload_finished)
		return bs->ops->upload_abort(bs->drv, id, err);
	return bs->ops->upload_finished(bs->drv, id, err);
}

int blobstore_upload_list(struct blobstore *bs, int (*fn)(void *ctx, const char *id), void *ctx, struct berr *err)
{
	return bs->ops->upload_list(bs->drv, fn, ctx, err);
}

int blobstore_list(struct blobstore *bs, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err)
{
	return bs->ops->list(bs->drv, fn, ctx, err);
}

int blobstore_quarantine(struct blobstore *bs, const struct digest *d, struct berr *err)
{
	if (bs->cache)
		blob_cache_drop(bs->cache, d);
	return bs->ops->quarantine(bs->drv, d, err);
}

int blobstore_trash(struct blobstore *bs, const struct digest *d, struct berr *err)
{
	if (bs->cache)
		blob_cache_drop(bs->cache, d);
	return bs->ops->trash(bs->drv, d, err);
}

int blobstore_untrash(struct blobstore *bs, const struct digest *d, struct berr *err)
{
	return bs->ops->untrash(bs->drv, d, err);
}

int blobstore_trash_remove(struct blobstore *bs, const struct digest *d, struct berr *err)
{
	return bs->ops->trash_remove(bs->drv, d, err);
}

int blobstore_trash_list(struct blobstore *bs, int (*fn)(void *ctx, const struct digest *d), void *ctx,
                         struct berr *err)
{
	return bs->ops->trash_list(bs->drv, fn, ctx, err);
}
