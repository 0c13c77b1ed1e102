/* GET /v2/_catalog and GET /v2/<name>/tags/list: lexically sorted name listings with
 * n/last pagination and a Link header to the next page, answered from the metadata. */
#include <jansson.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/meta.h"

/* Catalog pages: default and largest size. */
#define CATALOG_DEFAULT_N 1000
#define CATALOG_MAX_N     10000
/* Tags: all of them unless n asks for a page, as Distribution does. */
#define TAGS_MAX_N 100000

static int api_collect_name(void *ctx, const char *name)
{
	json_array_append_new(ctx, json_string(name));
	return 0;
}

/* Respond with {key_name: name?, key: [...]} and a Link header when more remain. */
static void api_list_respond(struct req *r, const char *name, const char *key, json_t *items, bool more, int64_t n,
                             const char *link_path)
{
	json_t *body = json_object();
	if (name)
		json_object_set_new(body, "name", json_string(name));
	json_object_set_new(body, key, items); /* body owns items from here */
	char *text = json_dumps(body, JSON_COMPACT);
	struct MHD_Response *resp = resp_take(text, strlen(text));
	resp_header(resp, "Content-Type", "application/json");
	size_t count = json_array_size(items);
	if (more && count > 0) {
		const char *lastname = json_string_value(json_array_get(items, count - 1));
		resp_headerf(resp, "Link", "<%s?last=%s&n=%lld>; rel=\"next\"", link_path, lastname, (long long)n);
	}
	json_decref(body);
	req_respond(r, 200, resp);
}

void api_catalog(struct req *r)
{
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on the catalog", r->method_str);
		return;
	}
	int64_t n;
	const char *last;
	if (api_pagination(r, CATALOG_DEFAULT_N, CATALOG_MAX_N, &n, &last) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	json_t *items = json_array();
	bool more = false;
	struct meta_viewer viewer;
	auth_viewer(r, &viewer);
	if (n > 0 && meta_catalog_visible(r->meta, &viewer, last, n, api_collect_name, items, &more, &r->err) < 0) {
		json_decref(items);
		req_respond_error(r, &r->err);
		return;
	}
	api_list_respond(r, NULL, "repositories", items, more, n, "/v2/_catalog");
}

void api_tags(struct req *r)
{
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on tags/list", r->method_str);
		return;
	}
	int64_t n, repo_id;
	const char *last;
	if (api_pagination(r, -1, TAGS_MAX_N, &n, &last) < 0 ||
	    meta_repo_lookup(r->meta, r->route.name, &repo_id, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	json_t *items = json_array();
	bool more = false;
	if (n != 0 && meta_tags_list(r->meta, repo_id, last, n, api_collect_name, items, &more, &r->err) < 0) {
		json_decref(items);
		req_respond_error(r, &r->err);
		return;
	}
	cleanup_free char *path = xasprintf("/v2/%s/tags/list", r->route.name);
	api_list_respond(r, r->route.name, "tags", items, more, n, path);
}
