/* /api/v1/audit: the audit log for administrators, newest first, paged by id. */
#include "server/api_v1.h"

#define API_V1_AUDIT_DEFAULT 50
#define API_V1_AUDIT_MAX     500

struct api_v1_audit_page {
	json_t *list;
	int64_t last_id;
};

static int api_v1_audit_add(void *ctx, const struct meta_audit_entry *e)
{
	struct api_v1_audit_page *p = ctx;
	/* detail is JSON text berthd wrote; show it as an object, or as text if it is not one. */
	json_t *detail = NULL;
	if (e->detail) {
		detail = json_loads(e->detail, 0, NULL);
		if (!detail)
			detail = api_v1_string(e->detail);
	}
	json_array_append_new(p->list,
	                      json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)e->id, "at",
	                                (json_int_t)e->at, "actor", api_v1_string(e->actor), "action",
	                                api_v1_string(e->action), "target", api_v1_string(e->target), "detail",
	                                detail ? detail : json_null(), "remote_addr", api_v1_string(e->remote_addr)));
	p->last_id = e->id;
	return 0;
}

/* GET /api/v1/audit?before=ID&limit=N */
void api_v1_audit(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	int64_t before, limit;
	if (!api_v1_require_admin(r) || api_v1_query_int(r, "before", 0, 0, INT64_MAX, &before) < 0 ||
	    api_v1_query_int(r, "limit", API_V1_AUDIT_DEFAULT, 1, API_V1_AUDIT_MAX, &limit) < 0)
		return;
	struct api_v1_audit_page p = {.list = json_array(), .last_id = 0};
	if (meta_audit_list(r->meta, before, limit, api_v1_audit_add, &p, &r->err) < 0) {
		json_decref(p.list);
		api_v1_fail(r);
		return;
	}
	/* A full page may have a next one; its entries are those below the last id. */
	bool full = (int64_t)json_array_size(p.list) == limit;
	api_v1_respond(r, 200,
	               json_pack("{s:o,s:o}", "entries", p.list, "next_before",
	                         full && p.last_id > 1 ? json_integer(p.last_id) : json_null()));
}
