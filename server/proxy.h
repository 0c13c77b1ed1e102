/* The pull-through cache: `berthd --mirror [PREFIX=]URL` serves the repositories of
 * upstream registries, fetching manifests and blobs on first pull, keeping them, and
 * revalidating tags after --mirror-ttl (see docs/mirroring.md). Cached repositories are
 * read-only to clients. proxy.c maps names and fills manifests; proxy_blob.c streams
 * blobs to clients while storing them, one upstream download per blob. */
#ifndef BERTH_PROXY_H
#define BERTH_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"
#include "common/reference.h"

struct config;
struct req;
struct registry_client;
struct blobstore;

/* One configured upstream. */
struct proxy_upstream {
	char *prefix;   /* "" for the root mirror */
	char *url;      /* "https://host[:port]" */
	char *registry; /* "host[:port]" */
	bool plain_http;
	char *username, *password; /* NULL: anonymous (Bearer tokens as Docker Hub issues them) */
	int ttl;                   /* seconds */
	char *ns[8];               /* registry names containerd's ?ns= may give for it */
	size_t nns;
};

/* Parse cfg->mirrors (before anything touches the data folder). Returns -1 with err for a
 * bad entry. */
int proxy_init(const struct config *cfg, struct berr *err);
/* Start the cache on the blob store. */
void proxy_start(struct blobstore *blobs);
/* Shutdown has begun: downloads still running after `seconds` are dropped and the
 * responses following them closed, so stopping the HTTP server does not wait for them. */
void proxy_stop_after(int seconds);
/* Stop the cache: aborts downloads in flight and waits until none touches the database. */
void proxy_shutdown(void);
/* True if repository name is served from an upstream. */
bool proxy_is_mirrored(const char *name);
/* True if some repositories of namespace ns (ns/...) are served from an upstream: under a
 * root mirror, or a prefix that is ns or lies under ns/. Such a namespace is not wholly its
 * owner's, so only administrators set rules or webhooks on the namespace as a whole. */
bool proxy_namespace_cached(const char *ns);
/* True if anonymous callers may pull a mirrored repository not cached yet
 * (--default-visibility public). */
bool proxy_default_public(void);

/* api_begin's hook, before authorization: applies containerd's ?ns= (rewriting the route's
 * name to PREFIX/name) and refuses writes to mirrored names with DENIED. Returns false
 * once it has responded. */
bool proxy_route(struct req *r);
/* For GET/HEAD of a manifest in a mirrored repository: make the route's reference current in
 * the cache (fetch on a miss, revalidate a tag past its TTL). 0: serve from the cache;
 * -1 with r->err. */
int proxy_manifest_fill(struct req *r, bool is_digest, const struct digest *d);
/* For GET/HEAD of a blob not linked into a mirrored repository: 1 when it has responded
 * (streaming the blob from upstream, or an error), 0 when the blob is now linked and is
 * to be served from the store. */
int proxy_blob(struct req *r, const struct digest *d);

/* Internal to the proxy modules. */
/* The upstream and upstream repository (into urepo) of a local name; NULL if none. */
const struct proxy_upstream *proxy_map(const char *name, char urepo[REFERENCE_NAME_MAX + 1]);
/* A client for (up, urepo), shared and reused; release with proxy_client_put. */
struct registry_client *proxy_client_get(const struct proxy_upstream *up, const char *urepo);
void proxy_client_put(struct registry_client *c);
/* Blob downloads (proxy_blob.c). */
void proxy_blob_init(struct blobstore *blobs);
/* Stop downloads; false if some are still stuck in the network after a few seconds (they
 * still use their upstream and client, and never touch the database again). */
bool proxy_blob_shutdown(void);

#endif
