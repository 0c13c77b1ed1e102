/* GET /v2/_catalog and GET /v2/<name>/tags/list: lexically sorted name listings with
 * n/last pagination and a Link header to the next page, answered from the metadata.
 * The JSON is written straight into one buffer: repository names and tags are checked
 * against their grammars when stored, and neither grammar allows a character that JSON
 * would need to escape, so no per-name objects are built. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/meta.h"
#include "server/tagcache.h"

/* Catalog pages: default and largest size. */
#define CATALOG_DEFAULT_N 1000
#define CATALOG_MAX_N     10000
/* Tags: all of them unless n asks for a page, as Distribution does. */
#define TAGS_MAX_N 100000

/* A growing JSON text and the last name written (for the Link header). */
struct list_buf {
	char *data;
	size_t len, cap;
	size_t count;
	size_t last_off, last_len;
};

static void list_put(struct list_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append one name as a JSON string; a name that would need escaping (impossible under the
 * grammars, but the database is not trusted blindly) is skipped. */
static int list_add_name(void *ctx, const char *name)
{
	struct list_buf *b = ctx;
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (name[i] == '"' || name[i] == '\\' || (unsigned char)name[i] < 0x20)
			return 0;
	if (b->count++)
		list_put(b, ",", 1);
	list_put(b, "\"", 1);
	b->last_off = b->len;
	b->last_len = n;
	list_put(b, name, n);
	list_put(b, "\"", 1);
	return 0;
}

/* Respond with the finished JSON (list_close), with a Link header when more remain. */
static void api_list_respond(struct req *r, struct list_buf *b, bool more, int64_t n, const char *link_path)
{
	char *lastname = more && b->count ? xstrndup(b->data + b->last_off, b->last_len) : NULL;
	struct MHD_Response *resp = resp_take(b->data, b->len);
	b->data = NULL;
	resp_header(resp, "Content-Type", "application/json");
	if (lastname)
		resp_headerf(resp, "Link", "<%s?last=%s&n=%lld>; rel=\"next\"", link_path, lastname, (long long)n);
	free(lastname);
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
	struct list_buf b = {0};
	list_put(&b, "{\"repositories\":[", 17);
	bool more = false;
	struct meta_viewer viewer;
	auth_viewer(r, &viewer);
	if (n > 0 && meta_catalog_visible(r->meta, &viewer, last, n, list_add_name, &b, &more, &r->err) < 0) {
		free(b.data);
		req_respond_error(r, &r->err);
		return;
	}
	list_put(&b, "]}", 2);
	api_list_respond(r, &b, more, n, "/v2/_catalog");
}

void api_tags(struct req *r)
{
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on tags/list", r->method_str);
		return;
	}
	int64_t n, repo_id, version;
	const char *last;
	if (api_pagination(r, -1, TAGS_MAX_N, &n, &last) < 0 ||
	    meta_repo_lookup_version(r->meta, r->route.name, &repo_id, &version, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	/* The whole list (what most clients ask for) comes from the cache while current. */
	bool whole = n < 0 && !last;
	size_t cached_len;
	char *cached = whole ? tagcache_get(repo_id, r->route.name, version, &cached_len) : NULL;
	if (cached) {
		struct MHD_Response *resp = resp_take(cached, cached_len);
		resp_header(resp, "Content-Type", "application/json");
		req_respond(r, 200, resp);
		return;
	}
	struct list_buf b = {0};
	list_put(&b, "{\"name\":\"", 9);
	list_put(&b, r->route.name, strlen(r->route.name));
	list_put(&b, "\",\"tags\":[", 10);
	bool more = false;
	if (n != 0 && meta_tags_list(r->meta, repo_id, last, n, list_add_name, &b, &more, &r->err) < 0) {
		free(b.data);
		req_respond_error(r, &r->err);
		return;
	}
	list_put(&b, "]}", 2);
	if (whole)
		tagcache_put(repo_id, r->route.name, version, b.data, b.len);
	cleanup_free char *path = xasprintf("/v2/%s/tags/list", r->route.name);
	api_list_respond(r, &b, more, n, path);
}
