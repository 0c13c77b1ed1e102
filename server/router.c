/* Path routing for the /v2/ API. A repository name may itself contain "blobs" or
 * "manifests" segments, so the endpoint is recognised from the end of the path. */
#include "server/router.h"

#include <stdio.h>
#include <string.h>

static int route_set(struct route *out, enum route_kind kind, const char *name, size_t name_len, const char *param,
                     struct berr *err)
{
	out->kind = kind;
	if (reference_check_name(name, name_len, err) < 0)
		return -1;
	memcpy(out->name, name, name_len);
	out->name[name_len] = '\0';
	size_t plen = strlen(param);
	if (plen >= sizeof out->param) {
		switch (kind) {
		case ROUTE_MANIFEST:
			return berr_set(err, BERR_TAG_INVALID, "reference is longer than %d characters",
			                ROUTE_PARAM_MAX - 1);
		case ROUTE_UPLOAD:
			return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload id is not known");
		default:
			return berr_set(err, BERR_DIGEST_INVALID, "digest is too long");
		}
	}
	memcpy(out->param, param, plen + 1);
	return 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);
	return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

int router_match(const char *path, struct route *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	out->kind = ROUTE_NONE;
	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0) {
		out->kind = ROUTE_BASE;
		return 0;
	}
	if (strcmp(path, "/token") == 0) {
		out->kind = ROUTE_TOKEN;
		return 0;
	}
	if (strcmp(path, "/metrics") == 0) {
		out->kind = ROUTE_METRICS;
		return 0;
	}
	if (strncmp(path, "/api/v1/", 8) == 0) {
		out->kind = ROUTE_API_V1;
		return 0;
	}
	if (strncmp(path, "/v2/", 4) != 0) {
		if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0)
			out->kind = ROUTE_WEB;
		return 0;
	}
	const char *s = path + 4;
	size_t len = strlen(s);
	if (strcmp(s, "_catalog") == 0 || strcmp(s, "_catalog/") == 0) {
		out->kind = ROUTE_CATALOG;
		return 0;
	}
	/* Uploads first: "<name>/blobs/uploads/" and "<name>/blobs/uploads/<id>". */
	if (ends_with(s, len, "/blobs/uploads/"))
		return route_set(out, ROUTE_UPLOAD_START, s, len - strlen("/blobs/uploads/"), "", err);
	if (ends_with(s, len, "/blobs/uploads"))
		return route_set(out, ROUTE_UPLOAD_START, s, len - strlen("/blobs/uploads"), "", err);

	const char *slash = memrchr(s, '/', len);
	if (!slash)
		return 0;
	const char *last = slash + 1;
	size_t head_len = (size_t)(slash - s);
	const char *kw_slash = memrchr(s, '/', head_len);
	if (!kw_slash)
		return 0;
	const char *kw = kw_slash + 1;
	size_t kw_len = (size_t)(slash - kw);
	size_t name_len = (size_t)(kw_slash - s);

#define KW(word) (kw_len == strlen(word) && memcmp(kw, word, kw_len) == 0)
	if (KW("tags") && strcmp(last, "list") == 0)
		return route_set(out, ROUTE_TAGS, s, name_len, "", err);
	if (KW("manifests") && *last)
		return route_set(out, ROUTE_MANIFEST, s, name_len, last, err);
	if (KW("referrers") && *last)
		return route_set(out, ROUTE_REFERRERS, s, name_len, last, err);
	if (KW("blobs") && *last)
		return route_set(out, ROUTE_BLOB, s, name_len, last, err);
	if (KW("uploads") && *last && ends_with(s, name_len, "/blobs"))
		return route_set(out, ROUTE_UPLOAD, s, name_len - strlen("/blobs"), last, err);
#undef KW
	return 0;
}
