/* Maps a request path under /v2/ to an API endpoint and its parameters (repository name,
 * reference, digest or upload id). Names may contain slashes, so the endpoint is found by
 * its suffix. */
#ifndef BERTH_ROUTER_H
#define BERTH_ROUTER_H

#include <stddef.h>

#include "common/berr.h"
#include "common/reference.h"

enum route_kind {
	ROUTE_NONE,         /* not an API path: 404 */
	ROUTE_BASE,         /* /v2/ */
	ROUTE_CATALOG,      /* /v2/_catalog */
	ROUTE_BLOB,         /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOAD_START, /* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,       /* /v2/<name>/blobs/uploads/<id> */
	ROUTE_MANIFEST,     /* /v2/<name>/manifests/<reference> */
	ROUTE_TAGS,         /* /v2/<name>/tags/list */
	ROUTE_REFERRERS,    /* /v2/<name>/referrers/<digest> */
	ROUTE_TOKEN,        /* /token: the token service */
	ROUTE_API_V1,       /* /api/v1/...: the JSON API of the web UI (server/api_v1.c routes further) */
	ROUTE_WEB,          /* anything else outside /v2/, /api/ and /token: the web UI (server/web.c) */
	ROUTE_METRICS,      /* /metrics: Prometheus metrics (server/metrics.c) */
};

#define ROUTE_PARAM_MAX 256

struct route {
	enum route_kind kind;
	char name[REFERENCE_NAME_MAX + 1];
	char param[ROUTE_PARAM_MAX]; /* reference, digest or upload id, as in the path */
};

/* Route `path`. Returns 0 with out filled (kind ROUTE_NONE for unknown paths), or -1 with
 * err (BERR_NAME_INVALID) when the path is an API endpoint but the name breaks the grammar. */
int router_match(const char *path, struct route *out, struct berr *err);

#endif
