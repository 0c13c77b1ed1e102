/* /api/v1/tag-rules and /api/v1/retention: tag immutability and retention rules of a
 * repository or a namespace (admins, and the namespace's or repository's owners), and a
 * retention run with dry run (admins). */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/api_v1.h"
#include "server/auth.h"
#include "server/registry.h"
#include "server/retention.h"

static json_t *api_v1_rule_json(const struct meta_tag_rule *t)
{
	json_t *o =
	    json_pack("{s:I,s:s,s:s,s:s,s:s,s:I}", "id", (json_int_t)t->id, "kind", t->kind, t->scope_kind, t->scope,
	              "pattern", t->pattern, "created_by", t->created_by, "created_at", (json_int_t)t->created_at);
	if (t->keep_last >= 0)
		json_object_set_new(o, "keep_last", json_integer(t->keep_last));
	if (t->keep_days >= 0)
		json_object_set_new(o, "keep_days", json_integer(t->keep_days));
	return o;
}

/* meta_tag_rules_list's callback: the rule, if the caller may manage it. */
static int api_v1_rules_add(void *ctx, const struct meta_tag_rule *t)
{
	api_v1_scoped_add(ctx, t->scope_kind, t->scope, api_v1_rule_json(t));
	return 0;
}

/* The tag rules of scope_kind scope (NULL: all), for api_v1_scoped_get. */
static int api_v1_rules_list(struct req *r, const char *scope_kind, const char *scope, struct api_v1_scoped *l)
{
	return meta_tag_rules_list(r->meta, NULL, scope_kind, scope, api_v1_rules_add, l, &r->err);
}

/* Integer field key of the body: absent or null leaves *out; otherwise min..max or 400. */
static int api_v1_field_count(struct req *r, struct api_v1 *c, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(c->body, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' must be a whole number from %lld to %lld", key,
		         (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 1;
}

/* GET: the rules the caller may manage (?namespace= or ?repository= narrows them);
 * POST {"kind", "namespace"|"repository", "pattern", "keep_last"|"keep_days"}. */
void api_v1_tag_rules(struct req *r, struct api_v1 *c)
{
	if (r->method == HTTP_GET) {
		api_v1_scoped_get(r, "rules", api_v1_rules_list);
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
	const char *kind = NULL, *pattern = NULL, *scope_kind = NULL, *scope = NULL;
	struct meta_tag_rule rule = {.keep_last = -1, .keep_days = -1};
	if (!api_v1_require_user(r) || !api_v1_require_body(r, c) ||
	    api_v1_field_string(r, c, "kind", 16, false, &kind) < 0 ||
	    api_v1_field_string(r, c, "pattern", META_TAG_PATTERN_MAX, false, &pattern) < 0 ||
	    api_v1_scope_field(r, c, &scope_kind, &scope) < 0 ||
	    api_v1_field_count(r, c, "keep_last", 1, 100000, &rule.keep_last) < 0 ||
	    api_v1_field_count(r, c, "keep_days", 1, 36500, &rule.keep_days) < 0)
		return;
	if (!kind || !pattern) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' is required", kind ? "pattern" : "kind");
		return;
	}
	snprintf(rule.kind, sizeof rule.kind, "%s", kind);
	snprintf(rule.scope_kind, sizeof rule.scope_kind, "%s", scope_kind);
	snprintf(rule.scope, sizeof rule.scope, "%s", scope);
	snprintf(rule.pattern, sizeof rule.pattern, "%s", pattern);
	snprintf(rule.created_by, sizeof rule.created_by, "%s", r->auth->name);
	if (retention_rule_check(&rule, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (!api_v1_may_manage_scope(r, scope_kind, scope, true))
		return;
	if (meta_tag_rule_add(r->meta, &rule, &rule.id, &r->err) < 0 ||
	    meta_tag_rule_get(r->meta, rule.id, &rule, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "tag_rule_add", rule.scope,
	                 json_pack("{s:I,s:s}", "id", (json_int_t)rule.id, "kind", kind));
	api_v1_respond(r, 201, api_v1_rule_json(&rule));
}

/* The id in c->p1: a positive decimal, or 404. */
int api_v1_param_id(struct req *r, const char *p, int64_t *id)
{
	char *end;
	long long v = strtoll(p, &end, 10);
	if (*end || end == p || v <= 0) {
		req_fail(r, BERR_NOT_FOUND, "%s is not an API endpoint", r->url);
		return -1;
	}
	*id = v;
	return 0;
}

/* GET or DELETE /api/v1/tag-rules/{id}; rules the caller may not manage are 404. */
void api_v1_tag_rule(struct req *r, struct api_v1 *c)
{
	int64_t id;
	if (r->method != HTTP_GET && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_user(r) || api_v1_param_id(r, c->p1, &id) < 0)
		return;
	struct meta_tag_rule rule;
	if (meta_tag_rule_get(r->meta, id, &rule, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (!api_v1_scoped_found(r, rule.scope_kind, rule.scope, "tag rule", id))
		return;
	if (r->method == HTTP_GET) {
		api_v1_respond(r, 200, api_v1_rule_json(&rule));
		return;
	}
	if (r->reg->cfg->read_only) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return;
	}
	if (meta_tag_rule_delete(r->meta, id, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "tag_rule_delete", rule.scope, json_pack("{s:I}", "id", (json_int_t)id));
	api_v1_no_content(r);
}

static void api_v1_retention_tag(void *ctx, enum retention_action action, const char *repo, const char *tag,
                                 const char *digest, int64_t rule_id)
{
	static const char *const names[] = {"untag", "kept_immutable", "skipped_changed"};
	json_array_append_new(ctx, json_pack("{s:s,s:s,s:s,s:s,s:I}", "action", names[action], "repository", repo,
	                                     "tag", tag, "digest", digest, "rule", (json_int_t)rule_id));
}

/* POST /api/v1/retention {"dry_run": bool}: run the retention rules now (admins). */
void api_v1_retention(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	bool dry_run = false;
	if (!api_v1_require_admin(r) || (c->body && api_v1_field_bool(r, c, "dry_run", &dry_run) < 0))
		return;
	if (!dry_run && r->reg->cfg->read_only) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return;
	}
	json_t *tags = json_array();
	struct retention_report rep = {.on_tag = api_v1_retention_tag, .ctx = tags};
	if (retention_run(r->meta, dry_run, &rep, &r->err) < 0) {
		json_decref(tags);
		api_v1_fail(r);
		return;
	}
	if (!dry_run)
		api_v1_audit_log(r, "retention_run", "-", json_pack("{s:I}", "untagged", (json_int_t)rep.untagged));
	api_v1_respond(r, 200,
	               json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:o}", "dry_run", dry_run, "repositories",
	                         (json_int_t)rep.repositories, "examined", (json_int_t)rep.examined, "untagged",
	                         (json_int_t)rep.untagged, "kept_immutable", (json_int_t)rep.protected_,
	                         "skipped_changed", (json_int_t)rep.skipped, "tags", tags));
}
