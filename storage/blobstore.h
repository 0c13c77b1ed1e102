/* The blob store: content-addressed blobs and the staging objects uploads write into.
 * It knows nothing of HTTP or repositories: callers hand it digests, ids and bytes.
 * All functions are thread-safe; no lock is held across blob I/O. */
#ifndef BERTH_BLOBSTORE_H
#define BERTH_BLOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/berr.h"
#include "common/digest.h"

struct blobstore;
struct blob_writer;

/* An open blob for reading. The local driver gives a file descriptor the HTTP layer can
 * sendfile from; the caller owns fd and closes it. */
struct blob_reader {
	int fd;
	uint64_t size;
};

/* Open the store described by `url`: a plain path (or "file://PATH") for the local
 * filesystem driver. Creates the folders it needs. Caller frees with blobstore_close. */
struct blobstore *blobstore_open(const char *url, struct berr *err);
void blobstore_close(struct blobstore *bs);
/* The driver's name ("fs"). */
const char *blobstore_driver_name(const struct blobstore *bs);

/* Size of a stored blob; BERR_BLOB_UNKNOWN if it is not stored. */
int blobstore_stat(struct blobstore *bs, const struct digest *d, uint64_t *size, struct berr *err);
/* Open a stored blob for reading; BERR_BLOB_UNKNOWN if it is not stored. */
int blobstore_open_read(struct blobstore *bs, const struct digest *d, struct blob_reader *out, struct berr *err);
/* Remove a stored blob (no error if already absent). */
int blobstore_delete(struct blobstore *bs, const struct digest *d, struct berr *err);

/* Staging objects. `id` must be a validated upload id (letters, digits, '-'). */
int blobstore_upload_begin(struct blobstore *bs, const char *id, struct berr *err);
/* Bytes written so far; BERR_BLOB_UPLOAD_UNKNOWN if there is no such staging object. */
int blobstore_upload_size(struct blobstore *bs, const char *id, uint64_t *size, struct berr *err);
/* Open a writer that appends at `offset`, which must be the current size. The caller ends
 * it with blob_writer_finish: keep=true makes what was written durable-in-order, keep=false
 * truncates back to `offset` (a failed chunk leaves no trace). */
struct blob_writer *blobstore_upload_open(struct blobstore *bs, const char *id, uint64_t offset, struct berr *err);
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct berr *err);
/* Ends and frees the writer. */
int blob_writer_finish(struct blob_writer *w, bool keep, struct berr *err);
/* Read back staged bytes (to rebuild a digest after a restart). Returns bytes read, 0 at end. */
ssize_t blobstore_upload_pread(struct blobstore *bs, const char *id, void *buf, size_t len, uint64_t offset,
                               struct berr *err);
/* Make the staging object the blob `d`, durably (fsync, rename, fsync dir). The caller has
 * verified the digest. If the blob already exists the staging object is just dropped. */
int blobstore_upload_commit(struct blobstore *bs, const char *id, const struct digest *d, struct berr *err);
/* Call fn with the id of every staging object, in no order; fn returning non-zero stops. */
int blobstore_upload_list(struct blobstore *bs, int (*fn)(void *ctx, const char *id), void *ctx, struct berr *err);
/* Call fn with the digest of every stored blob, in no order; fn returning non-zero stops.
 * Files whose names are no valid digest are skipped. */
int blobstore_list(struct blobstore *bs, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err);
/* Move blob d out of the store into its quarantine (for fsck --repair), keeping the bytes. */
int blobstore_quarantine(struct blobstore *bs, const struct digest *d, struct berr *err);
/* Garbage collection takes a blob out of the store in two steps: trash moves it aside (in
 * the same transaction that forgets it, so it can be put back if that fails), trash_remove
 * frees it after the commit. None is an error when the blob is not where it is looked for. */
int blobstore_trash(struct blobstore *bs, const struct digest *d, struct berr *err);
/* Put a trashed blob back (a collection that did not commit). */
int blobstore_untrash(struct blobstore *bs, const struct digest *d, struct berr *err);
int blobstore_trash_remove(struct blobstore *bs, const struct digest *d, struct berr *err);
/* Call fn with the digest of every trashed blob, in no order; fn returning non-zero stops. */
int blobstore_trash_list(struct blobstore *bs, int (*fn)(void *ctx, const struct digest *d), void *ctx,
                         struct berr *err);
/* Drop a staging object (no error if absent). */
int blobstore_upload_abort(struct blobstore *bs, const char *id, struct berr *err);

#endif
