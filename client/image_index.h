/* The local image index: which names ("host/repo:tag", "host/repo@sha256:...") the store
 * holds, each a small JSON file ROOT/images/<sha256 of the name>.json written atomically,
 * pointing at the image's manifest and config in the content store. Also loads an image's
 * manifest and config, and removes content no name needs any more. */
#ifndef BERTH_CLIENT_IMAGE_INDEX_H
#define BERTH_CLIENT_IMAGE_INDEX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "client/store.h"
#include "common/berr.h"
#include "common/digest.h"
#include "common/manifest.h"

struct image_record {
	char *name;             /* canonical reference; heap */
	struct digest digest;   /* what the name resolved to at the registry (index or manifest) */
	struct digest manifest; /* the image manifest chosen for this platform */
	struct digest config;   /* the image config: its digest is the image ID */
	char *platform;         /* "linux/amd64"; heap */
};

/* An image's manifest and config, loaded from the store. */
struct image_info {
	struct manifest manifest;
	json_t *config;         /* the parsed config (owned reference) */
	size_t nlayers;         /* layers of the manifest == diff_ids of the config */
	struct digest *diffids; /* heap, nlayers */
	int64_t size;           /* config plus compressed layers, bytes */
};

/* Largest image config accepted. */
#define IMAGE_CONFIG_MAX (8 * 1024 * 1024)

/* Write (or replace) the record for r->name. */
int image_index_put(struct store *s, const struct image_record *r, struct berr *err);
/* Returns 1 and fills out (free with image_record_free) when name is known, 0 if not. */
int image_index_get(struct store *s, const char *name, struct image_record *out, struct berr *err);
/* Returns 1 if the record was removed, 0 if there was none. */
int image_index_delete(struct store *s, const char *name, struct berr *err);
/* All records sorted by name; *out is heap (free with image_records_free). */
int image_index_list(struct store *s, struct image_record **out, size_t *n, struct berr *err);
/* Find a local image by reference text or by image ID (config digest or a prefix of at
 * least 4 hex digits). A name that is not stored is BERR_NAME_UNKNOWN; an ID prefix naming
 * several different images is BERR_NAME_INVALID. *by_id (may be NULL) says which matched. */
int image_index_resolve(struct store *s, const char *text, struct image_record *out, bool *by_id, struct berr *err);
/* Canonical name for a reference ("registry/repo:tag", or "registry/repo@digest" when it has
 * a digest); heap. */
char *image_index_name(const char *registry, const char *repository, const char *tag, const struct digest *digest);
void image_record_free(struct image_record *r);
void image_records_free(struct image_record *r, size_t n);

/* Parse manifest bytes whose media type may be unknown (content_type NULL or not a
 * manifest type, and an OCI body without "mediaType"): the type is then inferred from the
 * body's shape, as OCI allows. Free with manifest_free. */
int image_manifest_parse(const char *content_type, const char *body, size_t len, struct manifest *out,
                         struct berr *err);
/* Parse a config blob's JSON: its rootfs.diff_ids must be nlayers sha256/sha512 digests.
 * Fills info->config and info->diffids (info->manifest untouched). */
int image_config_parse(const char *data, size_t len, size_t nlayers, struct image_info *info, struct berr *err);
/* Load the manifest and config of a record from the store (free with image_info_free). */
int image_info_load(struct store *s, const struct image_record *r, struct image_info *out, struct berr *err);
void image_info_free(struct image_info *info);

/* Remove blobs and layer directories no record refers to; needs the exclusive store lock
 * (returns 1 without removing anything if a pull holds the store). */
int image_index_gc(struct store *s, size_t *removed, struct berr *err);

#endif
