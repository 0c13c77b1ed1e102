/* berth's local content store under ROOT: blobs by digest (ROOT/blobs/sha256/HEX), shared
 * by every image; unpacked layers by DiffID (ROOT/layers/sha256/HEX/); scratch space
 * (ROOT/tmp/) for downloads and unpacking in progress; and the store lock. Nothing appears
 * under blobs/ or layers/ unless it is complete and verified. */
#ifndef BERTH_CLIENT_STORE_H
#define BERTH_CLIENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"

struct store;
struct store_writer;

enum store_kind { STORE_BLOB, STORE_LAYER };

/* Open (creating if needed) the store at root; sweeps scratch files left by processes that
 * are gone. Free with store_close. */
struct store *store_open(const char *root, struct berr *err);
void store_close(struct store *s);
const char *store_root(const struct store *s);
/* Take the store lock: shared while pulling, exclusive to remove content. With wait false
 * a lock held by another process returns 1. Released by store_close. */
int store_lock(struct store *s, bool exclusive, bool wait, struct berr *err);

/* Path of a blob (which may not exist); heap, caller frees. */
char *store_blob_path(const struct store *s, const struct digest *d);
/* True if the blob is stored (and has this size, unless size < 0). */
bool store_blob_exists(const struct store *s, const struct digest *d, int64_t size);
/* Read a whole blob of at most max bytes into a new heap buffer (NUL-terminated, *len
 * excludes the NUL); a missing blob is BERR_BLOB_UNKNOWN. */
int store_blob_read(const struct store *s, const struct digest *d, size_t max, char **out, size_t *len,
                    struct berr *err);
/* Store bytes held in memory after checking they hash to d (BERR_DIGEST_INVALID if not). */
int store_blob_put(struct store *s, const struct digest *d, const void *data, size_t len, struct berr *err);

/* A blob being written: bytes are hashed and size-checked as they arrive, kept in a scratch
 * file, and only renamed into place by store_writer_commit when digest and size match. A
 * download interrupted earlier is resumed: store_writer_offset is where it stopped. */
struct store_writer *store_writer_open(struct store *s, const struct digest *d, int64_t size, struct berr *err);
/* Bytes already present (verified against nothing yet, hashed). */
uint64_t store_writer_offset(const struct store_writer *w);
/* Drop everything written so far and start again at byte 0 (a server ignored Range). */
int store_writer_restart(struct store_writer *w, struct berr *err);
/* Append; more bytes than the declared size is BERR_SIZE_INVALID. */
int store_writer_write(struct store_writer *w, const void *data, size_t len, struct berr *err);
/* Verify size and digest, fsync, rename into place. A mismatch (BERR_DIGEST_INVALID or
 * BERR_SIZE_INVALID) deletes the scratch file. The writer must still be closed. */
int store_writer_commit(struct store_writer *w, struct berr *err);
/* Free the writer. keep_partial keeps an uncommitted scratch file for a later resume;
 * otherwise it is deleted. */
void store_writer_close(struct store_writer *w, bool keep_partial);

/* Path of a layer directory (which may not exist); heap, caller frees. */
char *store_layer_path(const struct store *s, const struct digest *diffid);
bool store_layer_exists(const struct store *s, const struct digest *diffid);
/* Create an empty scratch directory to unpack a layer into; *tmpdir is heap. */
int store_layer_begin(struct store *s, const struct digest *diffid, char **tmpdir, struct berr *err);
/* Sync the unpacked tree and rename it into place. If another process got there first the
 * scratch tree is removed and the call succeeds. */
int store_layer_commit(struct store *s, const char *tmpdir, const struct digest *diffid, struct berr *err);
/* Remove a scratch directory tree (after a failed unpack). */
void store_layer_abort(struct store *s, const char *tmpdir);

/* Every digest stored of a kind; *out is heap (caller frees). */
int store_list(const struct store *s, enum store_kind kind, struct digest **out, size_t *n, struct berr *err);
/* Delete one blob or layer directory. */
int store_remove(struct store *s, enum store_kind kind, const struct digest *d, struct berr *err);

/* Remove the tree at name under dirfd without following any symlink. */
int store_remove_tree(int dirfd, const char *name, struct berr *err);

#endif
