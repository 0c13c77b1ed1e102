/* Image manifests and indexes: the media types Berth accepts (Docker schema2 manifest and
 * manifest list, OCI image manifest and index, OCI artifacts), parsing, validation, and
 * extracting the descriptors a manifest references. */
#ifndef BERTH_MANIFEST_H
#define BERTH_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"

#define MEDIATYPE_DOCKER_MANIFEST       "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIATYPE_DOCKER_LIST           "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIATYPE_DOCKER_SCHEMA1        "application/vnd.docker.distribution.manifest.v1+json"
#define MEDIATYPE_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MEDIATYPE_DOCKER_CONFIG         "application/vnd.docker.container.image.v1+json"
#define MEDIATYPE_OCI_MANIFEST          "application/vnd.oci.image.manifest.v1+json"
#define MEDIATYPE_OCI_INDEX             "application/vnd.oci.image.index.v1+json"
#define MEDIATYPE_OCI_CONFIG            "application/vnd.oci.image.config.v1+json"
#define MEDIATYPE_OCI_EMPTY             "application/vnd.oci.empty.v1+json"

/* The largest manifest accepted (the spec suggests 4 MiB). */
#define MANIFEST_MAX_SIZE (4 * 1024 * 1024)
/* Deepest JSON nesting accepted in a manifest. */
#define MANIFEST_MAX_DEPTH 32

enum manifest_kind {
	MANIFEST_KIND_IMAGE, /* Docker schema2 or OCI image manifest: config + layers */
	MANIFEST_KIND_INDEX  /* Docker manifest list or OCI index: child manifests */
};

enum manifest_ref_kind {
	MANIFEST_REF_CONFIG = 0,
	MANIFEST_REF_LAYER = 1,
	MANIFEST_REF_CHILD = 2 /* a manifest listed by an index */
};

struct manifest_descriptor {
	enum manifest_ref_kind kind;
	char *media_type; /* heap; may be NULL if absent (never for valid descriptors) */
	struct digest digest;
	int64_t size;
	bool foreign;                /* has "urls" (non-distributable layer): its blob need not be stored */
	char *platform_os;           /* children only, from "platform"; heap or NULL */
	char *platform_architecture; /* children only; heap or NULL */
	char *platform_variant;      /* children only; heap or NULL */
};

struct manifest {
	enum manifest_kind kind;
	char *media_type;    /* the effective media type (see manifest_parse); heap */
	char *artifact_type; /* "artifactType" if present, else NULL; heap */
	bool has_subject;
	struct digest subject;
	int64_t subject_size;
	char *annotations_json; /* compact JSON object text of "annotations", heap, or NULL */
	size_t ndescriptors;
	struct manifest_descriptor *descriptors; /* config first (images), then layers or children */
};

/* Parse and validate the bytes of a pushed manifest.
 * content_type is the request's Content-Type (may be NULL or empty). The effective media
 * type is content_type when given, else the body's "mediaType". It is an error
 * (BERR_MANIFEST_INVALID, with a message saying why) when: the body is not well-formed
 * JSON or not an object; nesting is deeper than MANIFEST_MAX_DEPTH; the media type is
 * unknown or schema1 ("schema1 manifests are not supported; push schema2 or OCI");
 * content_type and the body's mediaType are both present and differ; schemaVersion is not
 * 2; required fields are missing or of the wrong type (image: config descriptor, layers
 * array; index: manifests array); any descriptor lacks a valid mediaType string, digest
 * (invalid digest -> BERR_MANIFEST_INVALID too, message names it) or non-negative integer
 * size; subject is present but not a valid descriptor.
 * An OCI image manifest's artifact_type is "artifactType" if present, else NULL; an OCI
 * index's likewise. On success fills out (free with manifest_free). */
int manifest_parse(const char *content_type, const void *body, size_t len, struct manifest *out, struct berr *err);
void manifest_free(struct manifest *m);
/* True for the four manifest media types Berth stores. */
bool manifest_media_type_known(const char *media_type);
/* True if media_type is an index type (Docker list or OCI index). */
bool manifest_media_type_is_index(const char *media_type);

#endif
