/* GET /v2/<name>/referrers/<digest>: an OCI image index of the manifests whose subject is
 * the digest, optionally filtered by artifactType. An unknown subject gives an empty index. */
#include <jansson.h>
#include <string.h>

#include "server/api.h"
#include "server/meta.h"

static int api_add_referrer(void *ctx, const struct meta_referrer *ref)
{
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
	json_array_append_new(ctx, desc);
	return 0;
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
	json_t *manifests = json_array();
	int64_t repo_id;
	struct berr e2;
	if (meta_repo_lookup(r->meta, r->route.name, &repo_id, &e2) == 0) {
		if (meta_referrers(r->meta, repo_id, &subject, artifact_type, api_add_referrer, manifests, &r->err) <
		    0) {
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
	req_respond(r, 200, resp);
}
