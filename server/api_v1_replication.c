/* /api/v1/replication: replication rules and their status, for admins, with the semantics
 * and audit actions of `berthd mirror ...`. The source password is write-only: answers
 * say only whether there is one. */
#include <stdio.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/api_v1.h"
#include "server/replication.h"
#include "server/secrets.h"

/* A rule and its status as JSON (no password). */
static json_t *api_v1_rule_json(const struct meta_replication_rule *r)
{
	const char *state = !strcmp(r->last_result, "running") ? "running" : r->run_requested ? "queued" : "idle";
	int64_t next = 0;
	if (r->run_requested)
		next = r->last_started_at; /* as soon as the scheduler looks */
	else if (r->interval > 0)
		next = r->last_started_at ? r->last_started_at + r->interval : r->created_at;
	json_t *status = json_pack(
	    "{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o}", "state", state, "last_result",
	    r->last_result[0] ? json_string(r->last_result) : json_null(), "last_started_at",
	    api_v1_time(r->last_started_at), "last_finished_at", api_v1_time(r->last_finished_at), "images_copied",
	    (json_int_t)r->last_images, "unchanged", (json_int_t)r->last_unchanged, "errors",
	    (json_int_t)r->last_errors, "total_images_copied", (json_int_t)r->total_images, "message",
	    r->last_message[0] ? api_v1_string(r->last_message) : json_null(), "next_run_at", api_v1_time(next));
	return json_pack("{s:s, s:s, s:o, s:b, s:s, s:s, s:s, s:I, s:o, s:o}", "name", r->name, "source", r->source,
	                 "username", r->username[0] ? json_string(r->username) : json_null(), "has_password",
	                 r->password[0] != '\0', "repositories", r->repositories, "tags", r->tags, "destination",
	                 r->destination, "interval", (json_int_t)r->interval, "created_at", api_v1_time(r->created_at),
	                 "status", status);
}

static int api_v1_rules_add(void *ctx, const struct meta_replication_rule *r)
{
	json_array_append_new(ctx, api_v1_rule_json(r));
	return 0;
}

/* Copy a string field of the body into dst (dstlen bytes); required fields must be there.
 * Returns 0, or -1 having responded. */
static int api_v1_rule_field(struct req *r, struct api_v1 *c, const char *key, bool required, bool allow_empty,
                             char *dst, size_t dstlen)
{
	const char *v = NULL;
	int got = api_v1_field_string(r, c, key, dstlen - 1, allow_empty, &v);
	if (got < 0)
		return -1;
	if (got == 0 && required) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' is required", key);
		return -1;
	}
	if (got == 1)
		snprintf(dst, dstlen, "%s", v);
	return 0;
}

/* POST /api/v1/replication {"name","source","repositories","tags","destination","interval",
 * "username","password"} */
static void api_v1_replication_create(struct req *r, struct api_v1 *c)
{
	struct meta_replication_rule *rule = xcalloc(1, sizeof *rule);
	snprintf(rule->tags, sizeof rule->tags, "*");
	rule->interval = 3600;
	if (!api_v1_require_full_scope(r) || !api_v1_require_body(r, c) ||
	    api_v1_rule_field(r, c, "name", true, false, rule->name, sizeof rule->name) < 0 ||
	    api_v1_rule_field(r, c, "source", true, false, rule->source, sizeof rule->source) < 0 ||
	    api_v1_rule_field(r, c, "repositories", true, false, rule->repositories, sizeof rule->repositories) < 0 ||
	    api_v1_rule_field(r, c, "tags", false, false, rule->tags, sizeof rule->tags) < 0 ||
	    api_v1_rule_field(r, c, "destination", false, true, rule->destination, sizeof rule->destination) < 0 ||
	    api_v1_rule_field(r, c, "username", false, true, rule->username, sizeof rule->username) < 0 ||
	    api_v1_rule_field(r, c, "password", false, true, rule->password, sizeof rule->password) < 0)
		goto out;
	json_t *iv = json_object_get(c->body, "interval");
	if (json_is_integer(iv))
		rule->interval = (int64_t)json_integer_value(iv);
	else if (json_is_string(iv))
		rule->interval = replication_parse_interval(json_string_value(iv));
	else if (iv && !json_is_null(iv))
		rule->interval = -1;
	if (rule->interval < 0) {
		req_fail(r, BERR_BAD_REQUEST, "field 'interval' must be seconds or a duration (90s, 15m, 6h, 1d)");
		goto out;
	}
	if (replication_rule_check(rule, &r->err) < 0 || meta_replication_create(r->meta, rule, &r->err) < 0 ||
	    meta_replication_get(r->meta, rule->name, rule, &r->err) < 0) {
		api_v1_fail(r);
		goto out;
	}
	api_v1_audit_log(r, "replication_add", rule->name, json_pack("{s:s}", "source", rule->source));
	api_v1_respond(r, 201, api_v1_rule_json(rule));
out:
	explicit_bzero(rule->password, sizeof rule->password);
	free(rule);
}

/* GET/POST /api/v1/replication (admins) */
void api_v1_replication(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r))
		return;
	if (r->method == HTTP_POST) {
		api_v1_replication_create(r, c);
		return;
	}
	json_t *list = json_array();
	if (meta_replication_list(r->meta, api_v1_rules_add, list, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", "rules", list));
}

/* GET/DELETE /api/v1/replication/{name} (admins) */
void api_v1_replication_rule(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r) || (r->method == HTTP_DELETE && !api_v1_require_full_scope(r)))
		return;
	struct meta_replication_rule *rule = xmalloc(sizeof *rule);
	if (meta_replication_get(r->meta, c->p1, rule, &r->err) < 0) {
		api_v1_fail(r);
	} else if (r->method == HTTP_GET) {
		api_v1_respond(r, 200, api_v1_rule_json(rule));
	} else if (meta_replication_delete(r->meta, c->p1, &r->err) < 0) {
		api_v1_fail(r);
	} else {
		api_v1_audit_log(r, "replication_del", rule->name, NULL);
		api_v1_no_content(r);
	}
	explicit_bzero(rule->password, sizeof rule->password);
	free(rule);
}

/* POST /api/v1/replication/{name}/run (admins): run the rule now; 202 with its status. */
void api_v1_replication_run(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r) || !api_v1_require_full_scope(r))
		return;
	struct meta_replication_rule *rule = xmalloc(sizeof *rule);
	if (meta_replication_request_run(r->meta, c->p1, &r->err) < 0 ||
	    meta_replication_get(r->meta, c->p1, rule, &r->err) < 0) {
		api_v1_fail(r);
	} else {
		replication_wake();
		api_v1_audit_log(r, "replication_run", rule->name, NULL);
		api_v1_respond(r, 202, api_v1_rule_json(rule));
	}
	explicit_bzero(rule->password, sizeof rule->password);
	free(rule);
}
