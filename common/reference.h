/* The names of the OCI Distribution spec: repository names, tags, and full image
 * references ("host:port/ns/repo:tag@sha256:..."), normalized the way docker does. */
#ifndef BERTH_REFERENCE_H
#define BERTH_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/berr.h"
#include "common/digest.h"

#define REFERENCE_NAME_MAX 255
#define REFERENCE_TAG_MAX  128

/* Repository name grammar of the OCI distribution spec:
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * and at most REFERENCE_NAME_MAX characters. */
bool reference_name_valid(const char *name, size_t len);
/* Tag grammar: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
bool reference_tag_valid(const char *tag, size_t len);

/* An account (user or organization) name, which is a namespace: one component of the
 * repository name grammar, 2 to REFERENCE_NAMESPACE_MAX characters. */
#define REFERENCE_NAMESPACE_MAX 64
bool reference_namespace_valid(const char *name);

/* Same as the above, filling err with BERR_NAME_INVALID / BERR_TAG_INVALID and a message
 * saying what is wrong. Return 0 or -1. */
int reference_check_name(const char *name, size_t len, struct berr *err);
int reference_check_tag(const char *tag, size_t len, struct berr *err);

/* A parsed image reference, as a client writes it. */
struct reference {
	char *registry;   /* "docker.io", "localhost:5000", "[::1]:5000"; heap */
	char *repository; /* "library/busybox"; heap */
	char *tag;        /* "latest" when neither tag nor digest given; NULL if only a digest; heap */
	bool has_digest;
	struct digest digest;
};

/* Parse s with docker's normalization: "busybox" -> docker.io/library/busybox:latest;
 * the first component is a registry if it contains '.' or ':' or is "localhost";
 * "index.docker.io" and "registry-1.docker.io" are normalized to "docker.io".
 * Fills out (free with reference_free) or err (BERR_NAME_INVALID / BERR_TAG_INVALID /
 * BERR_DIGEST_INVALID). */
int reference_parse(const char *s, struct reference *out, struct berr *err);
void reference_free(struct reference *ref);
/* Canonical string form "registry/repository[:tag][@digest]"; heap, caller frees. */
char *reference_format(const struct reference *ref);

#endif
