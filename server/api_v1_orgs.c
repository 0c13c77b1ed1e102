/* /api/v1/orgs: organizations and their members. Anyone signed in may create one (and owns
 * it); owners and admins manage members; members and admins see the member list. An
 * organization always keeps one owner. */
#include <string.h>

#include "server/api_v1.h"
#include "server/auth.h"

struct api_v1_org_list {
	json_t *list;
	struct meta *m;
	int64_t user_id;
	struct berr *err;
};

static int api_v1_orgs_add_mine(void *ctx, const char *org, const char *role)
{
	struct api_v1_org_list *l = ctx;
	json_array_append_new(l->list, json_pack("{s:s,s:s}", "name", org, "role", role));
	return 0;
}

/* Every organization, for an admin, with the admin's own role where it has one. */
static int api_v1_orgs_add_any(void *ctx, const struct meta_account *a)
{
	struct api_v1_org_list *l = ctx;
	char role[16];
	if (meta_org_role(l->m, l->user_id, a->name, role, l->err) < 0)
		return 1;
	json_array_append_new(
	    l->list, json_pack("{s:s,s:o}", "name", a->name, "role", role[0] ? json_string(role) : json_null()));
	return 0;
}

/* GET/POST /api/v1/orgs */
void api_v1_orgs(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_user(r))
		return;
	if (r->method == HTTP_GET) {
		struct api_v1_org_list l = {json_array(), r->meta, r->auth->user_id, &r->err};
		berr_clear(&r->err);
		int rc = r->auth->is_admin
		             ? meta_accounts_list(r->meta, 2, api_v1_orgs_add_any, &l, &r->err)
		             : meta_user_orgs(r->meta, r->auth->user_id, api_v1_orgs_add_mine, &l, &r->err);
		if (rc < 0 || r->err.code != BERR_NONE) {
			json_decref(l.list);
			api_v1_fail(r);
			return;
		}
		api_v1_respond(r, 200, json_pack("{s:o}", "orgs", l.list));
		return;
	}
	const char *name = NULL;
	if (!api_v1_require_full_scope(r) || !api_v1_require_body(r, c) ||
	    api_v1_field_string(r, c, "name", META_NAME_MAX, false, &name) < 0)
		return;
	if (!name) {
		req_fail(r, BERR_BAD_REQUEST, "field 'name' is required");
		return;
	}
	if (!reference_namespace_valid(name)) {
		req_fail(r, BERR_NAME_INVALID,
		         "field 'name': '%s' is not a valid name: 2 to 64 of a-z, 0-9 and . _ - "
		         "between them",
		         name);
		return;
	}
	if (meta_account_create(r->meta, name, true, NULL, NULL, false, NULL, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (meta_org_member_set(r->meta, name, r->auth->name, "owner", &r->err) < 0) {
		meta_account_delete(r->meta, name, NULL);
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "org_create", name, NULL);
	api_v1_respond(r, 201,
	               json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "name", name, "role", "owner", "members", "name",
	                         r->auth->name, "role", "owner"));
}

/* The organization named c->p1, or a 404 response. */
static bool api_v1_org_find(struct req *r, const char *name, struct meta_account *org)
{
	struct berr e2;
	if (!reference_namespace_valid(name) || meta_account_get(r->meta, name, org, &e2) < 0 || !org->is_org) {
		req_fail(r, BERR_NOT_FOUND, "there is no organization named '%s'", name);
		return false;
	}
	return true;
}

static int api_v1_org_member_add(void *ctx, const char *user, const char *role)
{
	json_array_append_new(ctx, json_pack("{s:s,s:s}", "name", user, "role", role));
	return 0;
}

/* GET /api/v1/orgs/{org} */
void api_v1_org(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_account org;
	if (!api_v1_require_user(r) || !api_v1_org_find(r, c->p1, &org))
		return;
	char role[16];
	if (meta_org_role(r->meta, r->auth->user_id, org.name, role, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	json_t *doc = json_pack("{s:s,s:I,s:o}", "name", org.name, "created_at", (json_int_t)org.created_at, "role",
	                        role[0] ? json_string(role) : json_null());
	if (role[0] || r->auth->is_admin) {
		json_t *members = json_array();
		if (meta_org_members(r->meta, org.name, api_v1_org_member_add, members, &r->err) < 0) {
			json_decref(members);
			json_decref(doc);
			api_v1_fail(r);
			return;
		}
		json_object_set_new(doc, "members", members);
	}
	api_v1_respond(r, 200, doc);
}

struct api_v1_owners {
	int count;
	bool user_is_owner;
	const char *user;
};

static int api_v1_org_count_owners(void *ctx, const char *user, const char *role)
{
	struct api_v1_owners *o = ctx;
	if (strcmp(role, "owner") == 0) {
		o->count++;
		if (strcmp(user, o->user) == 0)
			o->user_is_owner = true;
	}
	return 0;
}

/* PUT/DELETE /api/v1/orgs/{org}/members/{user} (owners and admins) */
void api_v1_org_member(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_PUT && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_account org, user;
	struct berr e2;
	if (!api_v1_require_user(r) || !api_v1_require_full_scope(r) || !api_v1_org_find(r, c->p1, &org))
		return;
	char myrole[16];
	if (meta_org_role(r->meta, r->auth->user_id, org.name, myrole, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (!r->auth->is_admin && strcmp(myrole, "owner") != 0) {
		req_fail(r, BERR_DENIED, "only owners of %s and administrators may change its members", org.name);
		return;
	}
	const char *role = NULL;
	if (r->method == HTTP_PUT) {
		if (!api_v1_require_body(r, c) || api_v1_field_string(r, c, "role", 16, false, &role) < 0)
			return;
		if (!role || (strcmp(role, "owner") && strcmp(role, "writer") && strcmp(role, "reader"))) {
			req_fail(r, BERR_BAD_REQUEST, "field 'role' must be owner, writer or reader");
			return;
		}
	}
	if (!reference_namespace_valid(c->p2) || meta_account_get(r->meta, c->p2, &user, &e2) < 0 || user.is_org) {
		req_fail(r, BERR_NOT_FOUND, "there is no user named '%s'", c->p2);
		return;
	}
	struct api_v1_owners owners = {.user = user.name};
	if (meta_org_members(r->meta, org.name, api_v1_org_count_owners, &owners, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (owners.user_is_owner && owners.count == 1 && (!role || strcmp(role, "owner") != 0)) {
		req_fail(r, BERR_CONFLICT, "%s is the last owner of %s; make someone else owner first", user.name,
		         org.name);
		return;
	}
	if (role) {
		if (meta_org_member_set(r->meta, org.name, user.name, role, &r->err) < 0) {
			api_v1_fail(r);
			return;
		}
		api_v1_audit_log(r, "member_set", org.name, json_pack("{s:s,s:s}", "user", user.name, "role", role));
		api_v1_respond(r, 200, json_pack("{s:s,s:s}", "name", user.name, "role", role));
		return;
	}
	if (meta_org_member_remove(r->meta, org.name, user.name, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "member_remove", org.name, json_pack("{s:s}", "user", user.name));
	api_v1_no_content(r);
}
