/* /api/v1/quotas: per-namespace storage quotas and usage (schema 010). Admins list every
 * namespace and set or remove quotas; a user sees its own namespace's and those of its
 * organizations. */
#include <string.h>

#include "server/api_v1.h"
#include "server/auth.h"

static json_t *api_v1_usage_json(const struct meta_usage *u)
{
	return json_pack("{s:s,s:I,s:o}", "namespace", u->namespace, "used", (json_int_t)u->used, "quota",
	                 u->quota >= 0 ? json_integer((json_int_t)u->quota) : json_null());
}

static int api_v1_usage_add(void *ctx, const struct meta_usage *u)
{
	json_array_append_new(ctx, api_v1_usage_json(u));
	return 0;
}

/* GET /api/v1/quotas: every namespace with usage or a quota (admins). */
void api_v1_quotas(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r))
		return;
	json_t *list = json_array();
	if (meta_usage_list(r->meta, api_v1_usage_add, list, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", "quotas", list));
}

/* May the caller see namespace ns's usage: an admin, the user of that name, or a member of
 * that organization. */
static bool api_v1_quota_visible(struct req *r, const char *ns)
{
	if (r->auth->is_admin || strcmp(r->auth->name, ns) == 0)
		return true;
	char role[16] = "";
	struct berr e2;
	return meta_org_role(r->meta, r->auth->user_id, ns, role, &e2) == 0 && role[0];
}

/* GET/PUT /api/v1/quotas/{namespace}; PUT takes {"quota": BYTES} or {"quota": null}. */
void api_v1_quota(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_PUT) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_user(r))
		return;
	const char *ns = c->p1;
	if (!reference_namespace_valid(ns)) {
		req_fail(r, BERR_NAME_INVALID, "'%.64s' is not a valid namespace", ns);
		return;
	}
	struct meta_usage u;
	if (r->method == HTTP_GET) {
		if (!api_v1_quota_visible(r, ns)) {
			req_fail(r, BERR_DENIED, "only admins and members of %s may see its quota", ns);
			return;
		}
		if (meta_usage_get(r->meta, ns, &u, &r->err) < 0) {
			api_v1_fail(r);
			return;
		}
		api_v1_respond(r, 200, api_v1_usage_json(&u));
		return;
	}
	if (!api_v1_require_admin(r) || !api_v1_require_full_scope(r) || !api_v1_require_body(r, c))
		return;
	json_t *q = json_object_get(c->body, "quota");
	if (!q || !(json_is_null(q) || (json_is_integer(q) && json_integer_value(q) >= 0))) {
		req_fail(r, BERR_BAD_REQUEST, "quota must be a number of bytes (0 or more) or null");
		return;
	}
	int64_t quota = json_is_null(q) ? -1 : (int64_t)json_integer_value(q);
	if (meta_quota_set(r->meta, ns, quota, &r->err) < 0 || meta_usage_get(r->meta, ns, &u, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "quota_set", ns, json_pack("{s:o}", "quota", json_deep_copy(q)));
	api_v1_respond(r, 200, api_v1_usage_json(&u));
}
