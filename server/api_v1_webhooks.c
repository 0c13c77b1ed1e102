/* /api/v1/webhooks: webhooks of a repository or a namespace (admins and owners, as tag
 * rules), and their delivery history. The secret is shown once, when the webhook is made. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/api_v1.h"
#include "server/auth.h"
#include "server/registry.h"
#include "server/secrets.h"
#include "server/webhooks.h"

#define API_V1_DELIVERIES_DEFAULT 50
#define API_V1_DELIVERIES_MAX     500

static json_t *api_v1_webhook_json(const struct meta_webhook *h)
{
	json_t *events = json_array();
	for (const char *p = h->events; *p;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(events, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return json_pack("{s:I,s:s,s:o,s:o,s:s,s:I}", "id", (json_int_t)h->id, h->scope_kind, h->scope, "url",
	                 api_v1_string(h->url), "events", events, "created_by", h->created_by, "created_at",
	                 (json_int_t)h->created_at);
}

/* meta_webhooks_list's callback: the webhook, if the caller may manage it. */
static int api_v1_hooks_add(void *ctx, const struct meta_webhook *h)
{
	api_v1_scoped_add(ctx, h->scope_kind, h->scope, api_v1_webhook_json(h));
	return 0;
}

/* The webhooks of scope_kind scope (NULL: all), for api_v1_scoped_get. */
static int api_v1_hooks_list(struct req *r, const char *scope_kind, const char *scope, struct api_v1_scoped *l)
{
	return meta_webhooks_list(r->meta, scope_kind, scope, api_v1_hooks_add, l, &r->err);
}

/* The "events" field: an array of "push", "delete", "mirror" (absent: push and delete), as a
 * comma list in out (webhooks_check validates the names). */
static int api_v1_webhook_events(struct req *r, struct api_v1 *c, char *out, size_t outlen)
{
	json_t *v = json_object_get(c->body, "events");
	snprintf(out, outlen, "push,delete");
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 3) {
		req_fail(r, BERR_BAD_REQUEST,
		         "field 'events' must be a list of \"push\", \"delete\" and/or \"mirror\"");
		return -1;
	}
	out[0] = '\0';
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) > 8) {
			req_fail(r, BERR_BAD_REQUEST,
			         "field 'events' must be a list of \"push\", \"delete\" and/or \"mirror\"");
			return -1;
		}
		size_t l = strlen(out);
		snprintf(out + l, outlen - l, "%s%s", l ? "," : "", json_string_value(e));
	}
	return 0;
}

/* GET: the webhooks the caller may manage (?namespace= or ?repository= narrows them);
 * POST {"namespace"|"repository", "url", "secret"?, "events"?}. */
void api_v1_webhooks(struct req *r, struct api_v1 *c)
{
	if (r->method == HTTP_GET) {
		api_v1_scoped_get(r, "webhooks", api_v1_hooks_list);
		return;
	}
	if (r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (r->reg->cfg->read_only) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return;
	}
	const char *url = NULL, *secret = NULL, *scope_kind = NULL, *scope = NULL;
	struct meta_webhook h = {0};
	if (!api_v1_require_user(r) || !api_v1_require_body(r, c) ||
	    api_v1_field_string(r, c, "url", META_WEBHOOK_URL_MAX, false, &url) < 0 ||
	    api_v1_field_string(r, c, "secret", META_WEBHOOK_SECRET_MAX, false, &secret) < 0 ||
	    api_v1_scope_field(r, c, &scope_kind, &scope) < 0 ||
	    api_v1_webhook_events(r, c, h.events, sizeof h.events) < 0)
		return;
	if (!url) {
		req_fail(r, BERR_BAD_REQUEST, "field 'url' is required");
		return;
	}
	cleanup_free char *generated = secret ? NULL : secrets_token_new("whsec_");
	snprintf(h.scope_kind, sizeof h.scope_kind, "%s", scope_kind);
	snprintf(h.scope, sizeof h.scope, "%s", scope);
	snprintf(h.url, sizeof h.url, "%s", url);
	snprintf(h.secret, sizeof h.secret, "%s", secret ? secret : generated);
	snprintf(h.created_by, sizeof h.created_by, "%s", r->auth->name);
	if (webhooks_check(&h, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (!api_v1_may_manage_scope(r, scope_kind, scope, true))
		return;
	if (meta_webhook_add(r->meta, &h, &h.id, &r->err) < 0 || meta_webhook_get(r->meta, h.id, &h, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "webhook_add", h.scope,
	                 json_pack("{s:I,s:o}", "id", (json_int_t)h.id, "url", api_v1_string(h.url)));
	json_t *doc = api_v1_webhook_json(&h);
	json_object_set_new(doc, "secret", json_string(h.secret)); /* shown this once */
	api_v1_respond(r, 201, doc);
}

/* The webhook in c->p1 if the caller may manage it; otherwise responds 404 and returns -1. */
static int api_v1_webhook_load(struct req *r, struct api_v1 *c, struct meta_webhook *h)
{
	int64_t id;
	if (!api_v1_require_user(r) || api_v1_param_id(r, c->p1, &id) < 0)
		return -1;
	if (meta_webhook_get(r->meta, id, h, &r->err) < 0) {
		api_v1_fail(r);
		return -1;
	}
	return api_v1_scoped_found(r, h->scope_kind, h->scope, "webhook", id) ? 0 : -1;
}

/* GET or DELETE /api/v1/webhooks/{id}. */
void api_v1_webhook(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_webhook h;
	if (api_v1_webhook_load(r, c, &h) < 0)
		return;
	if (r->method == HTTP_GET) {
		api_v1_respond(r, 200, api_v1_webhook_json(&h));
		return;
	}
	if (r->reg->cfg->read_only) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return;
	}
	if (meta_webhook_delete(r->meta, h.id, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "webhook_delete", h.scope, json_pack("{s:I}", "id", (json_int_t)h.id));
	api_v1_no_content(r);
}

static int api_v1_deliveries_add(void *ctx, const struct meta_delivery *d)
{
	json_error_t jerr;
	json_t *payload = json_loads(d->payload, 0, &jerr);
	json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:o,s:o,s:o,s:I,s:o,s:o}", "id", (json_int_t)d->id, "event", d->event,
	                      "state", d->state, "attempts", (json_int_t)d->attempts, "last_status",
	                      d->last_status ? json_integer(d->last_status) : json_null(), "last_error",
	                      d->last_error[0] ? api_v1_string(d->last_error) : json_null(), "next_attempt_at",
	                      strcmp(d->state, "pending") == 0 ? json_integer(d->next_attempt_at) : json_null(),
	                      "created_at", (json_int_t)d->created_at, "finished_at", api_v1_time(d->finished_at),
	                      "payload", payload ? payload : json_null());
	json_array_append_new(ctx, o);
	return 0;
}

/* GET /api/v1/webhooks/{id}/deliveries?before=ID&limit=N: newest first. */
void api_v1_webhook_deliveries(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_webhook h;
	int64_t before, limit;
	if (api_v1_webhook_load(r, c, &h) < 0 || api_v1_query_int(r, "before", 0, 0, INT64_MAX, &before) < 0 ||
	    api_v1_query_int(r, "limit", API_V1_DELIVERIES_DEFAULT, 1, API_V1_DELIVERIES_MAX, &limit) < 0)
		return;
	json_t *list = json_array();
	if (meta_deliveries_list(r->meta, h.id, before, limit, api_v1_deliveries_add, list, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", "deliveries", list));
}
