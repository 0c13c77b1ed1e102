/* Registry metadata: repositories, blob links, manifests, tags, referrers and upload
 * sessions. Handlers call only these functions, never SQL, so a second database driver
 * (PostgreSQL) is a new implementation of this header, not edits across the handlers.
 * Each thread gets its own connection (meta_get); every call is one transaction. */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"
#include "common/manifest.h"

struct meta;

/* Open (creating if needed) the database at `path`, apply pending migrations from schema/
 * and check it. Call once at start-up, before any meta_get. */
int meta_init(const char *path, struct berr *err);
/* Close every thread's connection. Call once at shutdown, when no request runs. */
void meta_shutdown(void);
/* The calling thread's connection, opened on first use. */
struct meta *meta_get(struct berr *err);
/* Schema version the database is at. */
int meta_schema_version(struct meta *m);

/* Repository id by name; BERR_NAME_UNKNOWN if there is none. */
int meta_repo_lookup(struct meta *m, const char *name, int64_t *id, struct berr *err);
/* Repository id by name, creating the repository if needed. */
int meta_repo_ensure(struct meta *m, const char *name, int64_t *id, struct berr *err);

/* Size of blob d if it is linked into repository repo_id; BERR_BLOB_UNKNOWN otherwise. */
int meta_repo_blob_get(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t *size, struct berr *err);
/* Size of blob d if it is stored at all; BERR_BLOB_UNKNOWN otherwise. */
int meta_blob_get(struct meta *m, const struct digest *d, uint64_t *size, struct berr *err);
/* Record blob d (size) as stored, and link it into repo_id. Idempotent. */
int meta_blob_link(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t size, struct berr *err);
/* Link an already stored blob into repo_id if it is linked into from_repo (from_repo < 0:
 * if it is stored at all). Sets *linked; fills *size when linked. */
int meta_blob_mount(struct meta *m, int64_t repo_id, int64_t from_repo, const struct digest *d, bool *linked,
                    uint64_t *size, struct berr *err);
/* Remove blob d's link from repo_id; BERR_BLOB_UNKNOWN if it was not linked. */
int meta_repo_blob_unlink(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err);

/* A manifest as stored. */
struct meta_manifest {
	struct digest digest;
	char media_type[256];
	uint64_t size;
	void *content; /* heap, `size` bytes, only when asked for; caller frees */
};

/* Store a validated manifest in repository `name` (created if needed) and point each of
 * `tags` at it, in one transaction. Fails with BERR_MANIFEST_BLOB_UNKNOWN when a config or
 * layer blob is not linked into the repository (foreign layers excepted), or a child
 * manifest is not in it. */
int meta_manifest_put(struct meta *m, const char *name, const struct manifest *mf, const struct digest *d,
                      const void *content, size_t size, const char *const *tags, size_t ntags, struct berr *err);
/* Find a manifest by tag (is_digest false) or digest string; with_content also loads the
 * bytes. BERR_MANIFEST_UNKNOWN if absent. */
int meta_manifest_get(struct meta *m, int64_t repo_id, const char *reference, bool is_digest, bool with_content,
                      struct meta_manifest *out, struct berr *err);
/* Delete the manifest with digest d and every tag pointing at it; BERR_MANIFEST_UNKNOWN if absent. */
int meta_manifest_delete(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err);
/* Delete tag `tag` only; BERR_MANIFEST_UNKNOWN if absent. */
int meta_tag_delete(struct meta *m, int64_t repo_id, const char *tag, struct berr *err);

/* Called once per listed name, in lexical order; return non-zero to stop. */
typedef int (*meta_name_fn)(void *ctx, const char *name);
/* Tags of repo_id after `last` (NULL: from the start), at most `limit` (< 0: all).
 * Sets *more when tags remain after the last one listed. */
int meta_tags_list(struct meta *m, int64_t repo_id, const char *last, int64_t limit, meta_name_fn fn, void *ctx,
                   bool *more, struct berr *err);
/* Names of repositories holding at least one manifest, after `last`, at most `limit`.
 * Sets *more like meta_tags_list. */
int meta_catalog(struct meta *m, const char *last, int64_t limit, meta_name_fn fn, void *ctx, bool *more,
                 struct berr *err);

/* A manifest whose subject is the asked digest. Strings point into driver memory that is
 * valid only during the callback. */
struct meta_referrer {
	const char *digest;
	const char *media_type;
	const char *artifact_type; /* may be NULL */
	const char *annotations;   /* JSON object text, may be NULL */
	uint64_t size;
};
typedef int (*meta_referrer_fn)(void *ctx, const struct meta_referrer *r);
/* Manifests in repo_id whose subject is `subject`, optionally only those of artifact_type. */
int meta_referrers(struct meta *m, int64_t repo_id, const struct digest *subject, const char *artifact_type,
                   meta_referrer_fn fn, void *ctx, struct berr *err);

/* Upload sessions. */
int meta_upload_create(struct meta *m, const char *id, int64_t repo_id, struct berr *err);
/* Repository of upload `id`; BERR_BLOB_UPLOAD_UNKNOWN if there is none. */
int meta_upload_get(struct meta *m, const char *id, int64_t *repo_id, struct berr *err);
int meta_upload_touch(struct meta *m, const char *id, struct berr *err);
int meta_upload_delete(struct meta *m, const char *id, struct berr *err);

#endif
