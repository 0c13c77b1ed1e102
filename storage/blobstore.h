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
struct blob_stream;
struct blob_cache;

/* An open blob for reading. The local driver gives a file descriptor the HTTP layer can
 * sendfile from (fd >= 0); an object store gives a stream (fd < 0) read in order with
 * blob_reader_read. Either way blob_reader_read works, and blob_reader_close frees it. */
struct blob_reader {
	int fd;
	uint64_t size;
	struct blob_stream *stream;
	uint64_t pos, end; /* what blob_reader_read reads next: [pos, end) */
};

/* Settings of the S3 driver (see docs/storage.md). prefix is "" or ends with '/'. */
struct blobstore_s3_config {
	const char *endpoint; /* "http://127.0.0.1:7480" */
	const char *bucket;
	const char *region;
	const char *prefix;
	const char *access_key;
	const char *secret_key;
};

/* Open the store described by `url`: a plain path (or "file://PATH") for the local
 * filesystem driver. Creates the folders it needs. Caller frees with blobstore_close. */
struct blobstore *blobstore_open(const char *url, struct berr *err);
/* Open an S3-compatible bucket as the store (path-style addressing). Checks that the
 * bucket answers with these credentials. Caller frees with blobstore_close. */
struct blobstore *blobstore_open_s3(const struct blobstore_s3_config *cfg, struct berr *err);
void blobstore_close(struct blobstore *bs);
/* The driver's name ("fs", "s3"). */
const char *blobstore_driver_name(const struct blobstore *bs);
/* A URL the client may GET blob d from directly for `expires` seconds (a presigned S3
 * URL). Returns a heap string, or NULL with err (BERR_UNSUPPORTED for the fs driver). */
char *blobstore_presign(struct blobstore *bs, const struct digest *d, unsigned expires, struct berr *err);

/* Size of a stored blob; BERR_BLOB_UNKNOWN if it is not stored. */
int blobstore_stat(struct blobstore *bs, const struct digest *d, uint64_t *size, struct berr *err);
/* Open a stored blob for reading; BERR_BLOB_UNKNOWN if it is not stored. */
int blobstore_open_read(struct blobstore *bs, const struct digest *d, struct blob_reader *out, struct berr *err);
/* Put the node-local read cache (storage/blob_cache.h) in front of the store, which then
 * owns it: blobstore_open_read_cached serves from it, and delete, trash and quarantine drop
 * the blob from it too. */
void blobstore_set_cache(struct blobstore *bs, struct blob_cache *cache);
/* The cache set with blobstore_set_cache, or NULL (the store still owns it). */
struct blob_cache *blobstore_cache(struct blobstore *bs);
/* blobstore_open_read for serving blob d whose recorded size is `size`: from the cache on a
 * hit (an fd reader); on a miss from the store, filling the cache if the blob is read whole. */
int blobstore_open_read_cached(struct blobstore *bs, const struct digest *d, uint64_t size, struct blob_reader *out,
                               struct berr *err);
/* Limit what blob_reader_read gives to [off, off+len); call before the first read. */
void blob_reader_range(struct blob_reader *br, uint64_t off, uint64_t len);
/* Read up to max bytes of the range into buf; returns the count, 0 at its end, -1 with err. */
ssize_t blob_reader_read(struct blob_reader *br, void *buf, size_t max, struct berr *err);
/* Close the fd or end the stream. */
void blob_reader_close(struct blob_reader *br);
/* Remove a stored blob (no error if already absent). */
int blobstore_delete(struct blobstore *bs, const struct digest *d, struct berr *err);

/* Staging objects. `id` must be a validated upload id (letters, digits, '-'). */
int blobstore_upload_begin(struct blobstore *bs, const char *id, struct berr *err);
/* Bytes written so far; BERR_BLOB_UPLOAD_UNKNOWN if there is no such staging object. */
int blobstore_upload_size(struct blobstore *bs, const char *id, uint64_t *size, struct berr *err);
/* Open a writer that appends at `offset`, which must be the current size. The caller ends
 * it with blob_writer_finish: keep=true makes what was written durable-in-order, keep=false
 * truncates back to `offset` (a failed chunk leaves no trace). If hash is not NULL, the
 * writer feeds it every byte it writes, in order (on its own thread: the caller must not
 * touch hash until blob_writer_finish returns); a driver that keeps the digest state with the
 * staged bytes gets it at finish. Writing is handed to a second thread
 * through a small bounded ring, so the caller's receiving overlaps hashing and writing. */
struct blob_writer *blobstore_upload_open(struct blobstore *bs, const char *id, uint64_t offset,
                                          struct digest_ctx *hash, struct berr *err);
/* For an upload whose digest d is known before its bytes (a monolithic upload): the writer
 * of blobstore_upload_open for empty upload id, writing where blob d goes (S3: the blob's
 * own key, so the commit copies nothing). hash must be a fresh state of d's algorithm; its
 * blob_writer_finish with keep fails with BERR_DIGEST_INVALID if the bytes are not d, and
 * then nothing was stored. After a successful finish, blobstore_upload_prepare and
 * blobstore_upload_commit with d make it the blob, blobstore_upload_finished (or _abort)
 * drops the upload. Returns NULL without setting err when the store cannot do this (the
 * local disk, where a rename is free): use blobstore_upload_open then. */
struct blob_writer *blobstore_upload_open_at_blob(struct blobstore *bs, const char *id, const struct digest *d,
                                                  struct digest_ctx *hash, struct berr *err);
/* blobstore_upload_open at offset 0 for a chunk that is probably the whole blob (a PATCH
 * without Content-Range on an empty upload): a store where the commit would copy the bytes
 * (S3) may also store them, when the chunk ends, as the blob of their own digest, so that
 * the commit finds it in place. Being content-addressed, that object is never wrong; if the
 * upload goes on or is never committed it has no metadata row, and garbage collection
 * removes it. */
struct blob_writer *blobstore_upload_open_early(struct blobstore *bs, const char *id, struct digest_ctx *hash,
                                                struct berr *err);
/* The same writer without the second thread: when blob_writer_write returns, the bytes are
 * in the staging object and blobstore_upload_pread sees them (for readers that follow an
 * upload while it is written, as the pull-through cache's do). */
struct blob_writer *blobstore_upload_open_direct(struct blobstore *bs, const char *id, uint64_t offset,
                                                 struct berr *err);
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct berr *err);
/* Ends and frees the writer. */
int blob_writer_finish(struct blob_writer *w, bool keep, struct berr *err);
/* The digest state saved with the staged bytes (blobstore_upload_open's writer hands a
 * driver that keeps one (S3) the state of its hash when it finishes with keep) and the size it
 * covers. Returns 1 and a heap string in *state, 0 if the driver keeps none (read the bytes
 * back with blobstore_upload_pread instead), -1 with err. */
int blobstore_upload_checkpoint(struct blobstore *bs, const char *id, uint64_t *size, char **state, struct berr *err);
/* Read back staged bytes (to rebuild a digest after a restart). Returns bytes read, 0 at end.
 * The S3 driver can only read back the part not yet sent as a multipart part. */
ssize_t blobstore_upload_pread(struct blobstore *bs, const char *id, void *buf, size_t len, uint64_t offset,
                               struct berr *err);
/* Make the staging object the blob `d`, durably (fsync, rename, fsync dir). The caller has
 * verified the digest of its `size` bytes; if the staged upload has another size, nothing is
 * written and BERR_BLOB_UPLOAD_INVALID returned. If the blob already exists the staging
 * object is just dropped. */
int blobstore_upload_commit(struct blobstore *bs, const char *id, const struct digest *d, uint64_t size,
                            struct berr *err);
/* Before blobstore_upload_commit, outside any lock: the part of it that takes time on this
 * store (on S3 the copy into the blob's key; nothing on the local disk). */
int blobstore_upload_prepare(struct blobstore *bs, const char *id, const struct digest *d, uint64_t size,
                             struct berr *err);
/* After a failed commit of an upload written with blobstore_upload_open_at_blob: move what
 * the store holds in memory for it (S3: up to 8 MiB) into the upload's staging object, so the
 * memory is freed and a retry on any node finds the bytes staged, with their digest state,
 * as after blobstore_upload_open. 1 if it did, 0 if nothing was held, -1 with err. */
int blobstore_upload_spill(struct blobstore *bs, const char *id, struct berr *err);
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
/* Drop the staging object of an upload blobstore_upload_commit committed: as
 * blobstore_upload_abort, but a store may skip looking for leftovers of failed chunks (S3:
 * deletes the keys the upload's state names instead of listing them). */
int blobstore_upload_finished(struct blobstore *bs, const char *id, struct berr *err);

#endif
