/* API dispatch: which handler serves which route and method, the read-only switch, the
 * version check endpoint GET /v2/, and pagination arguments shared by listings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/meta.h"
#include "server/proxy.h"
#include "server/registry.h"
#include "server/web.h"

static bool api_is_write(enum http_method m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

/* The actions a route and method need on the route's repository. */
static unsigned api_needed_actions(const struct req *r)
{
	switch (r->route.kind) {
	case ROUTE_BLOB:
	case ROUTE_MANIFEST:
		if (r->method == HTTP_DELETE)
			return ACTION_DELETE;
		if (r->method == HTTP_PUT)
			return ACTION_PUSH;
		return ACTION_PULL;
	case ROUTE_UPLOAD_START:
	case ROUTE_UPLOAD:
		return ACTION_PUSH;
	case ROUTE_TAGS:
	case ROUTE_REFERRERS:
		return ACTION_PULL;
	default:
		return 0;
	}
}

/* Identify the caller and check it may do what the request asks; responds if not. */
static bool api_authorize(struct req *r)
{
	if (auth_identify(r, &r->err) < 0) {
		if (r->err.code == BERR_UNAUTHORIZED)
			auth_respond_invalid(r);
		else
			req_respond_error(r, &r->err);
		return false;
	}
	switch (r->route.kind) {
	case ROUTE_BASE:
		return auth_require_login(r);
	case ROUTE_CATALOG:
		return auth_require_catalog(r);
	default:
		return auth_require(r, r->route.name, api_needed_actions(r));
	}
}

void api_begin(struct req *r)
{
	if (r->route.kind == ROUTE_WEB) {
		web_serve(r);
		return;
	}
	if (r->route.kind == ROUTE_NONE) {
		req_fail(r, BERR_NOT_FOUND, "%s is not an API endpoint", r->url);
		return;
	}
	if (r->route.kind == ROUTE_METRICS) {
		metrics_serve(r);
		return;
	}
	if (r->route.kind == ROUTE_TOKEN || r->route.kind == ROUTE_API_V1) {
		r->meta = meta_get(&r->err);
		if (!r->meta)
			req_respond_error(r, &r->err);
		else if (r->route.kind == ROUTE_TOKEN)
			api_token(r);
		else
			api_v1(r);
		return;
	}
	if (r->reg->cfg->read_only && api_is_write(r->method)) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return;
	}
	r->meta = meta_get(&r->err);
	if (!r->meta) {
		req_respond_error(r, &r->err);
		return;
	}
	if (!proxy_route(r) || !api_authorize(r))
		return;
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
	case ROUTE_TOKEN:
	case ROUTE_API_V1:
	case ROUTE_WEB:
	case ROUTE_METRICS:
		break;
	}
}

void api_audit(struct req *r, const char *action, const char *target, const char *detail)
{
	char addr[64];
	struct berr e2;
	if (auth_disabled(r))
		return;
	if (meta_audit(r->meta, r->auth->name, action, target, detail, req_remote_addr(r, addr), &e2) < 0)
		log_warn("audit log: %s", e2.message);
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

int api_repo_id(struct req *r, enum berr_code missing, int64_t *repo_id)
{
	struct berr e2;
	if (meta_repo_lookup(r->meta, r->route.name, repo_id, &e2) == 0)
		return 0;
	if (e2.code == BERR_NAME_UNKNOWN)
		req_fail(r, missing, "%s %s is not in repository %s",
		         missing == BERR_BLOB_UNKNOWN ? "blob" : "manifest", r->route.param, r->route.name);
	else
		req_respond_error(r, &e2);
	return -1;
}
