/* GET /v2/<name>/referrers/<digest>: an OCI image index of the manifests whose subject is
 * the digest, optionally filtered by artifactType. An unknown subject gives an empty index.
 * At most REFERRERS_MAX_N per answer, in digest order; a Link header (which the spec lets
 * clients follow) leads to the rest. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "server/api.h"
#include "server/meta.h"

/* Referrers per answer: bounds the JSON built in memory (each may carry annotations). */
#define REFERRERS_MAX_N 1000

struct referrers_page {
	json_t *manifests;
	const char *after; /* list digests after this one; NULL: from the first */
	int64_t n, listed;
	bool more;
	char last[DIGEST_STR_MAX];
};

static int api_add_referrer(void *ctx, const struct meta_referrer *ref)
{
	struct referrers_page *p = ctx;
	if (!ref->digest || (p->after && strcmp(ref->digest, p->after) <= 0))
		return 0;
	if (p->listed == p->n) {
		p->more = p->n > 0; /* n=0 asks for nothing, not for an endless walk */
		return 1;
	}
	p->listed++;
	snprintf(p->last, sizeof p->last, "%s", ref->digest);
	json_t *desc = json_pack("{s:s,s:s,s:I}", "mediaType", ref->media_type ? ref->media_type : "", "digest",
	                         ref->digest ? ref->digest : "", "size", (json_int_t)ref->size);
	if (ref->artifact_type)
		json_object_set_new(desc, "artifactType", json_string(ref->artifact_type));
	if (ref->annotations) {
		json_t *ann = json_loads(ref->annotations, 0, NULL);
		if (json_is_object(ann) && json_object_size(ann) > 0)
			json_object_set_new(desc, "annotations", ann);
		else
			json_decref(ann);
	}
	json_array_append_new(p->manifests, desc);
	return 0;
}

/* "&artifactType=" and the filter percent-encoded, for the next page's link (the filter
 * is client input: nothing but unreserved characters goes into the header as is). */
static void api_referrers_type_query(const char *type, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = (size_t)snprintf(out, outlen, "&artifactType=");
	for (const unsigned char *p = (const unsigned char *)type; *p && o + 4 < outlen; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

void api_referrers(struct req *r)
{
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on referrers", r->method_str);
		return;
	}
	struct digest subject;
	if (digest_parse(r->route.param, &subject, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	const char *artifact_type = req_query(r, "artifactType");
	if (artifact_type && !*artifact_type)
		artifact_type = NULL;
	struct referrers_page page = {.n = REFERRERS_MAX_N};
	if (api_pagination(r, REFERRERS_MAX_N, REFERRERS_MAX_N, &page.n, &page.after) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	struct digest after;
	if (page.after && digest_parse(page.after, &after, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	json_t *manifests = json_array();
	page.manifests = manifests;
	int64_t repo_id;
	struct berr e2;
	if (meta_repo_lookup(r->meta, r->route.name, &repo_id, &e2) == 0) {
		if (meta_referrers(r->meta, repo_id, &subject, artifact_type, api_add_referrer, &page, &r->err) < 0) {
			json_decref(manifests);
			req_respond_error(r, &r->err);
			return;
		}
	} else if (e2.code != BERR_NAME_UNKNOWN) {
		json_decref(manifests);
		req_respond_error(r, &e2);
		return;
	}
	json_t *index = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType",
	                          "application/vnd.oci.image.index.v1+json", "manifests", manifests);
	char *text = json_dumps(index, JSON_COMPACT);
	json_decref(index);
	struct MHD_Response *resp = resp_take(text, strlen(text));
	resp_header(resp, "Content-Type", "application/vnd.oci.image.index.v1+json");
	if (artifact_type)
		resp_header(resp, "OCI-Filters-Applied", "artifactType");
	if (page.more) {
		char type_q[3 * 256 + 16] = "";
		if (artifact_type)
			api_referrers_type_query(artifact_type, type_q, sizeof type_q);
		resp_headerf(resp, "Link", "</v2/%s/referrers/%s?n=%lld&last=%s%s>; rel=\"next\"", r->route.name,
		             subject.str, (long long)page.n, page.last, type_q);
	}
	req_respond(r, 200, resp);
}
