/* Copying images between two registries without a local store: manifests byte for byte
 * (so every digest is kept), an index with all its platforms, the referrers of everything
 * copied, and blobs streamed from the source's GET straight into the destination's PUT,
 * several at once, verified on the way. Used by `berth copy` and by berthd's replication. */
#ifndef BERTH_COPY_H
#define BERTH_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/berr.h"
#include "common/credential.h"
#include "common/digest.h"

/* One registry end of a copy. */
struct copy_side {
	const char *registry;          /* "host", "host:port" */
	bool plain_http;               /* http:// instead of https:// */
	bool probe_tls;                /* registry_client_probe_tls (named without a scheme) */
	bool tls_no_verify;            /* https without certificate checks (berthd's loopback only) */
	const struct credential *cred; /* NULL: anonymous (the 401 flow may still get a token) */
	bool basic_first;              /* send cred as Basic at once, never asking a token realm */
};

struct copy_opts {
	unsigned parallel; /* blobs at once (0: 4) */
	bool no_referrers; /* copy only the image, not what refers to it */
	FILE *out;         /* one line per blob and manifest; NULL: silent */
	const bool *stop;  /* may be NULL; once true, no new manifest or blob starts */
};

struct copy_stats {
	size_t manifests;     /* manifests and indexes written to the destination */
	size_t referrers;     /* of which referrers (signatures, SBOMs...) */
	size_t blobs_copied;  /* blobs streamed from source to destination */
	size_t blobs_mounted; /* blobs mounted from the source repository (same registry) */
	size_t blobs_present; /* blobs the destination had already */
	uint64_t bytes;       /* bytes streamed */
};

/* Copy src_repo's reference (a tag or "sha256:...") to dst_repo under dst_reference (a tag,
 * or the digest: NULL means the same reference). Indexes bring every child manifest; with
 * referrers, the Referrers API (or the `sha256-<hex>` tag schema when the source lacks it)
 * brings what refers to each manifest copied. *digest (may be NULL) gets the top manifest's
 * digest. Adds to st. */
int copy_image(const struct copy_side *src, const char *src_repo, const char *reference, const struct copy_side *dst,
               const char *dst_repo, const char *dst_reference, const struct copy_opts *o, struct copy_stats *st,
               struct digest *digest, struct berr *err);

/* Copy only the referrers of manifest subject (already at the destination) that the
 * destination lacks, and theirs: for an image that did not change but got signed. */
int copy_referrers_of(const struct copy_side *src, const char *src_repo, const struct digest *subject,
                      const struct copy_side *dst, const char *dst_repo, const struct copy_opts *o,
                      struct copy_stats *st, struct berr *err);

/* The digest src_repo:reference resolves to at a registry (HEAD, else GET and hash): 1 and
 * *out, 0 when there is no such manifest, -1 on error. */
int copy_resolve(const struct copy_side *side, const char *repo, const char *reference, struct digest *out,
                 struct berr *err);

/* Every tag of repo (all pages). *tags: heap array of heap strings; copy_list_free frees. */
int copy_list_tags(const struct copy_side *side, const char *repo, char ***tags, size_t *n, struct berr *err);
/* Every repository of the registry's catalog (all pages); same ownership. */
int copy_list_repositories(const struct copy_side *side, char ***repos, size_t *n, struct berr *err);
void copy_list_free(char **list, size_t n);

#endif
