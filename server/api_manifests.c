/* GET/HEAD/PUT/DELETE /v2/<name>/manifests/<tag or digest>. A pushed manifest is kept as
 * the exact bytes received (its digest is of those bytes) after validation: well-formed,
 * a known media type, every referenced blob and child manifest present in the repository. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/manifest.h"
#include "common/reference.h"
#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/throttle.h"
#include "server/meta.h"
#include "server/proxy.h"
#include "server/pulls.h"
#include "server/webhooks.h"
#include "server/registry.h"

#define MANIFEST_MAX_TAGS 64

struct manifest_req {
	char *body;
	size_t len;
	size_t cap;
};

static void api_manifest_cleanup(struct req *r)
{
	struct manifest_req *mr = r->state;
	if (mr) {
		free(mr->body);
		free(mr);
		r->state = NULL;
	}
}

static int api_manifest_body(struct req *r, const char *data, size_t len)
{
	struct manifest_req *mr = r->state;
	if (mr->len + len > MANIFEST_MAX_SIZE)
		return berr_set(&r->err, BERR_MANIFEST_TOO_LARGE, "manifest is larger than %d bytes",
		                MANIFEST_MAX_SIZE);
	if (mr->len + len > mr->cap) {
		size_t cap = mr->cap ? mr->cap : 16384;
		while (cap < mr->len + len)
			cap *= 2;
		mr->body = xrealloc(mr->body, cap);
		mr->cap = cap;
	}
	memcpy(mr->body + mr->len, data, len);
	mr->len += len;
	return 0;
}

struct tag_list {
	const char *tags[MANIFEST_MAX_TAGS];
	size_t n;
	struct berr *err;
};

static int api_collect_tag(void *ctx, const char *value)
{
	struct tag_list *tl = ctx;
	if (reference_check_tag(value, strlen(value), tl->err) < 0)
		return 1;
	for (size_t i = 0; i < tl->n; i++)
		if (strcmp(tl->tags[i], value) == 0)
			return 0;
	if (tl->n == MANIFEST_MAX_TAGS) {
		berr_set(tl->err, BERR_TAG_INVALID, "at most %d tags per push", MANIFEST_MAX_TAGS);
		return 1;
	}
	tl->tags[tl->n++] = value;
	return 0;
}

/* The media type from Content-Type, without parameters. */
static void api_content_type(struct req *r, char *out, size_t outlen)
{
	const char *ct = req_header(r, "Content-Type");
	out[0] = '\0';
	if (!ct)
		return;
	size_t n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, ct, n);
	out[n] = '\0';
}

/* {"tags":[...]} for the audit log; heap. */
static char *api_tags_detail(const struct tag_list *tl)
{
	json_t *tags = json_array();
	for (size_t i = 0; i < tl->n; i++)
		json_array_append_new(tags, json_string(tl->tags[i]));
	json_t *o = json_pack("{s:o}", "tags", tags);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void api_manifest_put_end(struct req *r)
{
	struct manifest_req *mr = r->state;
	const char *ref = r->route.param;
	bool by_digest = strchr(ref, ':') != NULL;
	struct digest want, got;
	struct tag_list tl = {.n = 0, .err = &r->err};

	if (by_digest) {
		if (digest_parse(ref, &want, &r->err) < 0)
			goto fail;
		digest_buffer(want.algo, mr->body, mr->len, &got);
		if (!digest_equal(&want, &got)) {
			berr_set(&r->err, BERR_DIGEST_INVALID, "the manifest has digest %s, not %s", got.str, want.str);
			goto fail;
		}
	} else {
		digest_buffer(DIGEST_SHA256, mr->body, mr->len, &got);
		api_collect_tag(&tl, ref);
	}
	if (req_query_each(r, "tag", api_collect_tag, &tl))
		goto fail;

	char ctype[256];
	api_content_type(r, ctype, sizeof ctype);
	struct manifest mf;
	if (manifest_parse(ctype, mr->body, mr->len, &mf, &r->err) < 0)
		goto fail;
	int rc = meta_manifest_put(r->meta, r->route.name, &mf, &got, mr->body, mr->len, tl.tags, tl.n, &r->err);
	if (rc < 0) {
		manifest_free(&mf);
		goto fail;
	}
	char target[600];
	snprintf(target, sizeof target, "%s@%s", r->route.name, got.str);
	char *detail = api_tags_detail(&tl); /* no cleanup_ here: the goto below jumps past it */
	api_audit(r, "push", target, detail);
	free(detail);
	for (size_t i = 0; i < tl.n; i++) /* ops: webhooks, one event per tag pushed */
		webhooks_emit(r->meta, "push", r->route.name, tl.tags[i], got.str, r->auth ? r->auth->name : NULL);
	struct MHD_Response *resp = resp_empty();
	resp_headerf(resp, "Location", "/v2/%s/manifests/%s", r->route.name, got.str);
	resp_header(resp, "Docker-Content-Digest", got.str);
	if (mf.has_subject)
		resp_header(resp, "OCI-Subject", mf.subject.str);
	manifest_free(&mf);
	req_respond(r, 201, resp);
	return;
fail:
	req_respond_error(r, &r->err);
}

static void api_manifest_put(struct req *r)
{
	const char *ref = r->route.param;
	if (!strchr(ref, ':') && reference_check_tag(ref, strlen(ref), &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	int64_t cl = req_content_length(r);
	if (cl > MANIFEST_MAX_SIZE) {
		req_fail(r, BERR_MANIFEST_TOO_LARGE, "manifest of %" PRId64 " bytes is larger than %d bytes", cl,
		         MANIFEST_MAX_SIZE);
		return;
	}
	struct manifest_req *mr = xcalloc(1, sizeof *mr);
	if (cl > 0) {
		mr->cap = (size_t)cl;
		mr->body = xmalloc(mr->cap);
	}
	r->state = mr;
	r->on_cleanup = api_manifest_cleanup;
	r->on_body = api_manifest_body;
	r->on_end = api_manifest_put_end;
}

/* Resolve the reference of the route: a digest or a valid tag. */
static int api_manifest_ref(struct req *r, bool *is_digest, struct digest *d)
{
	const char *ref = r->route.param;
	*is_digest = strchr(ref, ':') != NULL;
	if (*is_digest)
		return digest_parse(ref, d, &r->err);
	return reference_check_tag(ref, strlen(ref), &r->err);
}

/* Docker Hub's pull limit: manifest GETs per user (or per address for anonymous callers)
 * per window; HEAD is free. Sets the RateLimit headers; answers 429 past the limit. */
static bool api_pull_allowed(struct req *r)
{
	const struct config *cfg = r->reg->cfg;
	bool anonymous = !r->auth || r->auth->user_id < 0;
	int limit = anonymous ? cfg->anonymous_pull_rate_limit : cfg->pull_rate_limit;
	if (limit <= 0)
		return true;
	char key[128], addr[64];
	if (anonymous)
		snprintf(key, sizeof key, "addr:%s", req_remote_addr(r, addr));
	else
		snprintf(key, sizeof key, "user:%s", r->auth->name);
	int remaining;
	bool ok = throttle_pull(key, limit, cfg->pull_rate_window, &remaining);
	r->rate_limit = limit;
	r->rate_remaining = remaining;
	r->rate_window = cfg->pull_rate_window;
	if (!ok)
		req_fail(r, BERR_TOOMANYREQUESTS, "pull rate limit of %d per %d s reached", limit,
		         cfg->pull_rate_window);
	return ok;
}

static void api_manifest_get(struct req *r)
{
	bool is_digest;
	struct digest d;
	int64_t repo_id;
	if (api_manifest_ref(r, &is_digest, &d) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	/* The pull-through cache fetches or revalidates first; then it is served from here. */
	if (proxy_is_mirrored(r->route.name) && proxy_manifest_fill(r, is_digest, &d) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	if (api_repo_id(r, BERR_MANIFEST_UNKNOWN, &repo_id) < 0)
		return;
	bool head = r->method == HTTP_HEAD;
	if (!head && !api_pull_allowed(r))
		return;
	struct meta_manifest mm;
	if (meta_manifest_get(r->meta, repo_id, is_digest ? d.str : r->route.param, is_digest, !head, &mm, &r->err) <
	    0) {
		req_respond_error(r, &r->err);
		return;
	}
	if (!head) {
		pulls_count(repo_id);
		pulls_mark(repo_id, mm.digest.str);
	}
	const char *inm = req_header(r, "If-None-Match");
	char etag[DIGEST_STR_MAX + 2];
	snprintf(etag, sizeof etag, "\"%s\"", mm.digest.str);
	unsigned int status = 200;
	struct MHD_Response *resp;
	if (inm && (strstr(inm, etag) || strcmp(inm, mm.digest.str) == 0)) {
		free(mm.content);
		status = 304;
		resp = resp_empty();
	} else {
		resp = head ? resp_head(mm.size) : resp_take(mm.content, mm.size);
	}
	resp_header(resp, "Content-Type", mm.media_type);
	resp_header(resp, "Docker-Content-Digest", mm.digest.str);
	resp_header(resp, "ETag", etag);
	req_respond(r, status, resp);
}

static void api_manifest_delete(struct req *r)
{
	bool is_digest;
	struct digest d;
	int64_t repo_id;
	if (api_manifest_ref(r, &is_digest, &d) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	if (api_repo_id(r, BERR_MANIFEST_UNKNOWN, &repo_id) < 0)
		return;
	int rc = is_digest ? meta_manifest_delete(r->meta, repo_id, &d, &r->err)
	                   : meta_tag_delete(r->meta, repo_id, r->route.param, &r->err);
	if (rc < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	char target[600];
	snprintf(target, sizeof target, "%s%c%s", r->route.name, is_digest ? '@' : ':', r->route.param);
	api_audit(r, is_digest ? "delete_manifest" : "delete_tag", target, NULL);
	webhooks_emit(r->meta, "delete", r->route.name, is_digest ? NULL : r->route.param, is_digest ? d.str : NULL,
	              r->auth ? r->auth->name : NULL); /* ops: webhooks */
	req_respond(r, 202, resp_empty());
}

void api_manifest(struct req *r)
{
	switch (r->method) {
	case HTTP_GET:
	case HTTP_HEAD:
		api_manifest_get(r);
		break;
	case HTTP_PUT:
		api_manifest_put(r);
		break;
	case HTTP_DELETE:
		api_manifest_delete(r);
		break;
	default:
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on manifests", r->method_str);
	}
}
