/* API dispatch: which handler serves which route and method, the read-only switch, the
 * version check endpoint GET /v2/, and pagination arguments shared by listings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/meta.h"
#include "server/registry.h"

static bool api_is_write(enum http_method m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

void api_begin(struct req *r)
{
	if (r->route.kind == ROUTE_NONE) {
		req_fail(r, BERR_NOT_FOUND, "%s is not an API endpoint", r->url);
		return;
	}
	if (r->reg->cfg->read_only && api_is_write(r->method)) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return;
	}
	if (r->route.kind != ROUTE_BASE) {
		r->meta = meta_get(&r->err);
		if (!r->meta) {
			req_respond_error(r, &r->err);
			return;
		}
	}
	switch (r->route.kind) {
	case ROUTE_BASE:
		api_base(r);
		break;
	case ROUTE_CATALOG:
		api_catalog(r);
		break;
	case ROUTE_BLOB:
		api_blob(r);
		break;
	case ROUTE_UPLOAD_START:
		api_upload_start(r);
		break;
	case ROUTE_UPLOAD:
		api_upload(r);
		break;
	case ROUTE_MANIFEST:
		api_manifest(r);
		break;
	case ROUTE_TAGS:
		api_tags(r);
		break;
	case ROUTE_REFERRERS:
		api_referrers(r);
		break;
	case ROUTE_NONE:
		break;
	}
}

void api_base(struct req *r)
{
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on /v2/", r->method_str);
		return;
	}
	struct MHD_Response *resp = resp_copy("{}", 2);
	resp_header(resp, "Content-Type", "application/json");
	req_respond(r, 200, resp);
}

int api_pagination(struct req *r, int64_t default_n, int64_t max_n, int64_t *n, const char **last)
{
	const char *ns = req_query(r, "n");
	*last = req_query(r, "last");
	if (*last && !**last)
		*last = NULL;
	*n = default_n;
	if (!ns)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(ns, &end, 10);
	if (errno || end == ns || *end || v < 0)
		return berr_set(&r->err, BERR_PAGINATION_NUMBER_INVALID,
		                "n must be a number from 0 to %lld, not '%.32s'", (long long)max_n, ns);
	*n = v > max_n ? max_n : v;
	return 0;
}
