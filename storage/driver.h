/* The interface every blob storage driver implements (local disk now, S3-compatible
 * object storage later). storage/blobstore.c dispatches to it; nothing else includes this.
 * A driver stores finished blobs by digest and staging objects ("uploads") by id. */
#ifndef BERTH_STORAGE_DRIVER_H
#define BERTH_STORAGE_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/berr.h"
#include "common/digest.h"
#include "storage/blobstore.h"

struct blob_driver_ops {
	const char *name;
	void (*close)(void *drv);
	int (*stat)(void *drv, const struct digest *d, uint64_t *size, struct berr *err);
	int (*open_read)(void *drv, const struct digest *d, struct blob_reader *out, struct berr *err);
	int (*remove)(void *drv, const struct digest *d, struct berr *err);
	int (*upload_begin)(void *drv, const char *id, struct berr *err);
	int (*upload_size)(void *drv, const char *id, uint64_t *size, struct berr *err);
	int (*upload_open)(void *drv, const char *id, uint64_t offset, struct blob_writer **out, struct berr *err);
	ssize_t (*upload_pread)(void *drv, const char *id, void *buf, size_t len, uint64_t offset, struct berr *err);
	/* size: the bytes the caller verified as d; a store whose staged bytes differ refuses
	 * (BERR_BLOB_UPLOAD_INVALID) and writes nothing at d. */
	int (*upload_commit)(void *drv, const char *id, const struct digest *d, uint64_t size, struct berr *err);
	int (*upload_abort)(void *drv, const char *id, struct berr *err);
	int (*upload_list)(void *drv, int (*fn)(void *ctx, const char *id), void *ctx, struct berr *err);
	int (*list)(void *drv, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err);
	int (*quarantine)(void *drv, const struct digest *d, struct berr *err);
	int (*trash)(void *drv, const struct digest *d, struct berr *err);
	int (*untrash)(void *drv, const struct digest *d, struct berr *err);
	int (*trash_remove)(void *drv, const struct digest *d, struct berr *err);
	int (*trash_list)(void *drv, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err);
	/* Optional (NULL: not supported). */
	int (*upload_checkpoint)(void *drv, const char *id, uint64_t *size, char **state, struct berr *err);
	char *(*presign)(void *drv, const struct digest *d, unsigned expires, struct berr *err);
	/* Do the slow part of upload_commit ahead of it, outside the metadata's write lock,
	 * leaving upload_commit only a quick check (it must still work if this was not called,
	 * or if the blob was removed since). */
	int (*upload_prepare)(void *drv, const char *id, const struct digest *d, uint64_t size, struct berr *err);
	/* Drop the staging object of an upload that was committed, the quick way (upload_abort
	 * if NULL). */
	int (*upload_finished)(void *drv, const char *id, struct berr *err);
	/* A writer of empty upload id straight to blob d's own place (NULL: not supported). Its
	 * finish with keep checks the bytes against d (from the digest state given to its
	 * checkpoint: BERR_DIGEST_INVALID if they differ) and leaves upload_prepare and
	 * upload_commit to make them blob d; nothing is visible as blob d before. */
	int (*upload_open_at_blob)(void *drv, const char *id, const struct digest *d, struct blob_writer **out,
	                           struct berr *err);
	/* upload_open at 0 for a chunk that is probably the whole upload (NULL: upload_open):
	 * the driver may also store its bytes as the blob of their digest when it ends. */
	int (*upload_open_early)(void *drv, const char *id, struct blob_writer **out, struct berr *err);
	/* Move what a finished upload_open_at_blob writer holds in memory for the commit into
	 * upload id's staging object (NULL: nothing is ever held): 1 if it did, 0 if nothing is
	 * held for id, -1 with err. */
	int (*upload_spill)(void *drv, const char *id, struct berr *err);
};

/* A writer appends to one staging object; drivers embed this as their first member. */
struct blob_writer {
	int (*write)(struct blob_writer *w, const void *buf, size_t len, struct berr *err);
	int (*finish)(struct blob_writer *w, bool keep, struct berr *err);
	void (*checkpoint)(struct blob_writer *w, const char *state); /* NULL: not kept */
};

/* A stream reader (struct blob_reader with fd < 0); drivers embed this as first member.
 * read gives bytes from offset pos, never past end; successive calls continue in order. */
struct blob_stream {
	ssize_t (*read)(struct blob_stream *s, void *buf, size_t max, uint64_t pos, uint64_t end, struct berr *err);
	void (*close)(struct blob_stream *s);
};

/* The local filesystem driver: blobs under ROOT/blobs, staging under ROOT/uploads, blobs
 * being deleted by garbage collection under ROOT/trash. */
void *driver_fs_open(const char *root, const struct blob_driver_ops **ops, struct berr *err);
/* The S3 driver (storage/driver_s3.c). */
void *driver_s3_open(const struct blobstore_s3_config *cfg, const struct blob_driver_ops **ops, struct berr *err);

#endif
