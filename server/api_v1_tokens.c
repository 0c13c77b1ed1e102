/* /api/v1/user/tokens: the caller's personal access tokens: list, create (the secret is
 * shown once, only its hash is kept) and revoke. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/api_v1.h"
#include "server/auth.h"
#include "server/secrets.h"

#define API_V1_TOKEN_NAME_MAX 100

static json_t *api_v1_token_json(const struct meta_pat *t)
{
	return json_pack("{s:I,s:o,s:s,s:I,s:o,s:o}", "id", (json_int_t)t->id, "name", api_v1_string(t->name), "scope",
	                 t->scope, "created_at", (json_int_t)t->created_at, "last_used_at",
	                 api_v1_time(t->last_used_at), "revoked_at", api_v1_time(t->revoked_at));
}

static int api_v1_tokens_add(void *ctx, const struct meta_pat *t)
{
	json_array_append_new(ctx, api_v1_token_json(t));
	return 0;
}

struct api_v1_token_find {
	const char *name;
	bool found;
};

static int api_v1_tokens_find(void *ctx, const struct meta_pat *t)
{
	struct api_v1_token_find *f = ctx;
	if (!t->revoked_at && strcmp(t->name, f->name) == 0)
		f->found = true;
	return f->found;
}

/* POST /api/v1/user/tokens {"name","scope"} */
static void api_v1_tokens_create(struct req *r, struct api_v1 *c)
{
	const char *name = NULL, *scope = NULL;
	if (!api_v1_require_full_scope(r) || !api_v1_require_body(r, c) ||
	    api_v1_field_string(r, c, "name", API_V1_TOKEN_NAME_MAX, false, &name) < 0 ||
	    api_v1_field_string(r, c, "scope", 32, false, &scope) < 0)
		return;
	if (!name || !scope) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' is required", name ? "scope" : "name");
		return;
	}
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			req_fail(r, BERR_BAD_REQUEST, "field 'name' must not contain control characters");
			return;
		}
	if (strcmp(scope, "read") && strcmp(scope, "read-write") && strcmp(scope, "read-write-delete")) {
		req_fail(r, BERR_BAD_REQUEST, "field 'scope' must be read, read-write or read-write-delete");
		return;
	}
	struct api_v1_token_find f = {.name = name};
	if (meta_pat_list(r->meta, r->auth->user_id, api_v1_tokens_find, &f, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (f.found) {
		req_fail(r, BERR_CONFLICT, "you already have an active token named '%s'", name);
		return;
	}
	cleanup_free char *secret = secrets_token_new(SECRETS_PAT_PREFIX);
	char hash[65];
	int64_t id;
	secrets_token_hash(secret, hash);
	if (meta_pat_create(r->meta, r->auth->user_id, name, scope, hash, &id, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "token_create", r->auth->name,
	                 json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "name", name, "scope", scope));
	api_v1_respond(
	    r, 201,
	    json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "name", name, "scope", scope, "token", secret));
}

/* GET/POST /api/v1/user/tokens */
void api_v1_user_tokens(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_user(r))
		return;
	if (r->method == HTTP_POST) {
		api_v1_tokens_create(r, c);
		return;
	}
	json_t *list = json_array();
	if (meta_pat_list(r->meta, r->auth->user_id, api_v1_tokens_add, list, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", "tokens", list));
}

/* DELETE /api/v1/user/tokens/{id} */
void api_v1_user_token(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_user(r) || !api_v1_require_full_scope(r))
		return;
	char *end;
	errno = 0;
	long long id = strtoll(c->p1, &end, 10);
	if (errno || *end || end == c->p1 || id <= 0) {
		req_fail(r, BERR_NOT_FOUND, "no active token %s", c->p1);
		return;
	}
	if (meta_pat_revoke(r->meta, r->auth->user_id, id, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "token_revoke", r->auth->name, json_pack("{s:I}", "id", (json_int_t)id));
	api_v1_no_content(r);
}
