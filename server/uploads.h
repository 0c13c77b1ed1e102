/* Blob upload sessions: the session row in the metadata, the staging object in the blob
 * store, and the running digest of what was received. The digest state is cached in
 * memory and rebuilt from the staged bytes when it is missing (after a restart) or of
 * another algorithm than the client's final digest. */
#ifndef BERTH_UPLOADS_H
#define BERTH_UPLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"

struct registry;
struct meta;
struct uploads;
struct upload_chunk;

#define UPLOAD_ID_LEN 36

/* The session cache; one per registry. */
struct uploads *uploads_new(void);
void uploads_free(struct uploads *u);

/* True if id has the shape of an id we issue (so it is safe as a file name). */
bool uploads_id_valid(const char *id);

/* Start a session in repo_id; writes its id (UPLOAD_ID_LEN chars + NUL) to id_out.
 * with_record=false skips the metadata row (a monolithic upload finished in the same
 * request). */
int uploads_create(struct registry *reg, struct meta *m, int64_t repo_id, bool with_record, enum digest_algo algo,
                   char *id_out, struct berr *err);
/* Check that upload id exists and belongs to repo_id; give its size so far (size NULL:
 * only check the session, so a cancel works even when the staged data is unreadable). */
int uploads_status(struct registry *reg, struct meta *m, const char *id, int64_t repo_id, uint64_t *size,
                   struct berr *err);

/* Begin appending a chunk. start is where the client says it begins (UINT64_MAX: append
 * at the end); it must equal the current size, else BERR_RANGE_INVALID. Only one chunk of
 * an upload may be in progress at a time. expected: the digest the whole upload must have
 * when this chunk is all of it (a monolithic upload, finished right after), else NULL; on
 * an empty upload the chunk is then written straight to where the blob goes if the store
 * can (blobstore_upload_open_at_blob), and its end fails with BERR_DIGEST_INVALID if the
 * bytes are not that blob. likely_whole (no digest yet, but no Content-Range either): on an
 * empty upload the chunk is probably all of it (blobstore_upload_open_early). */
struct upload_chunk *uploads_chunk_begin(struct registry *reg, const char *id, uint64_t start,
                                         const struct digest *expected, bool likely_whole, struct berr *err);
int uploads_chunk_write(struct upload_chunk *c, const void *data, size_t len, struct berr *err);
/* End the chunk: keep=true keeps its bytes, false cuts them off again. Frees c; gives the
 * upload's size afterwards. */
int uploads_chunk_end(struct upload_chunk *c, bool keep, uint64_t *size, struct berr *err);

/* Finish upload id as blob `expected` in repo_id: check the digest and size, install the
 * blob, link it into the repository, end the session. On a digest mismatch the session
 * is removed and BERR_DIGEST_INVALID returned. */
int uploads_finish(struct registry *reg, struct meta *m, const char *id, int64_t repo_id, const struct digest *expected,
                   uint64_t *size, struct berr *err);
/* Cancel: remove staging bytes and session. An upload a request on this node is using is
 * only marked: that request ends it when it is done (this returns at once). */
int uploads_cancel(struct registry *reg, struct meta *m, const char *id, struct berr *err);

/* At start-up, before serving: remove staging objects that no session owns (a monolithic
 * upload or a cancelled one cut short by a crash). Gives how many were removed. */
int uploads_sweep(struct registry *reg, struct meta *m, size_t *removed, struct berr *err);

/* Remove upload sessions with no activity since cutoff (Unix seconds), with their staged
 * bytes; sessions this process is writing to are left alone. dry_run only counts them. */
int uploads_expire(struct registry *reg, struct meta *m, int64_t cutoff, bool dry_run, size_t *expired,
                   struct berr *err);

#endif
