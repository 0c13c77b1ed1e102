/* /api/v1/user (the caller's account and password) and /api/v1/users (administration of
 * users by admins), with the semantics and audit actions of `berthd user ...`. */
#include <stdio.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/api_v1.h"
#include "server/auth.h"
#include "server/secrets.h"

/* GET /api/v1/user */
void api_v1_user(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_account acct;
	if (!api_v1_require_user(r))
		return;
	if (meta_account_get_by_id(r->meta, r->auth->user_id, &acct, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, api_v1_account_json(&acct));
}

/* Read a new password field: SECRETS_PASSWORD_MIN to SECRETS_PASSWORD_MAX characters.
 * Returns 1 read, 0 absent, -1 responded. */
static int api_v1_password_field(struct req *r, struct api_v1 *c, const char *key, const char **out)
{
	int got = api_v1_field_string(r, c, key, SECRETS_PASSWORD_MAX, true, out);
	if (got == 1 && strlen(*out) < SECRETS_PASSWORD_MIN) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' must have at least %d characters", key, SECRETS_PASSWORD_MIN);
		return -1;
	}
	return got;
}

/* A new password ends every way in that the old one gave: refresh tokens and sessions
 * (but keep_session, the one making the change). */
static int api_v1_password_set(struct req *r, const struct meta_account *acct, const char *password,
                               int64_t keep_session)
{
	cleanup_free char *hash = secrets_password_hash(password, &r->err);
	if (!hash || meta_account_update(r->meta, acct->name, hash, NULL, -1, -1, &r->err) < 0 ||
	    meta_refresh_revoke_all(r->meta, acct->id, &r->err) < 0 ||
	    meta_sessions_delete_user(r->meta, acct->id, keep_session, &r->err) < 0)
		return -1;
	return 0;
}

/* PUT /api/v1/user/password {"current_password","new_password"} */
void api_v1_user_password(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_PUT) {
		api_v1_bad_method(r);
		return;
	}
	const char *current = NULL, *fresh = NULL;
	if (!api_v1_require_user(r) || !api_v1_require_full_scope(r) || !api_v1_require_body(r, c) ||
	    api_v1_field_string(r, c, "current_password", SECRETS_PASSWORD_MAX, false, &current) < 0 ||
	    api_v1_password_field(r, c, "new_password", &fresh) < 0)
		return;
	if (!current || !fresh) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' is required", current ? "new_password" : "current_password");
		return;
	}
	struct meta_account acct;
	if (meta_account_get_by_id(r->meta, r->auth->user_id, &acct, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	/* Through auth_login, so guessing the current password is throttled like signing in. */
	char addr[64];
	struct auth_identity check;
	if (auth_login(r->meta, acct.name, current, req_remote_addr(r, addr), &check, &r->err) < 0 ||
	    strcmp(check.via, "password") != 0) {
		if (r->err.code == BERR_TOOMANYREQUESTS)
			api_v1_fail(r);
		else
			req_fail(r, BERR_DENIED, "current_password is not the account's password");
		return;
	}
	if (api_v1_password_set(r, &acct, fresh, c->via == API_V1_SESSION ? c->session.id : 0) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "password_change", acct.name, NULL);
	api_v1_no_content(r);
}

static int api_v1_users_add(void *ctx, const struct meta_account *a)
{
	json_array_append_new(ctx, api_v1_account_json(a));
	return 0;
}

/* POST /api/v1/users {"name","password","email","admin"} */
static void api_v1_users_create(struct req *r, struct api_v1 *c)
{
	const char *name = NULL, *password = NULL, *email = NULL;
	bool admin = false;
	if (!api_v1_require_full_scope(r) || !api_v1_require_body(r, c) ||
	    api_v1_field_string(r, c, "name", META_NAME_MAX, false, &name) < 0 ||
	    api_v1_password_field(r, c, "password", &password) < 0 ||
	    api_v1_field_string(r, c, "email", 254, true, &email) < 0 || api_v1_field_bool(r, c, "admin", &admin) < 0)
		return;
	if (!name || !password) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' is required", name ? "password" : "name");
		return;
	}
	if (!reference_namespace_valid(name)) {
		req_fail(r, BERR_NAME_INVALID,
		         "field 'name': '%s' is not a valid name: 2 to 64 of a-z, 0-9 and . _ - "
		         "between them",
		         name);
		return;
	}
	if (email && *email && (!strchr(email, '@') || strpbrk(email, " \t\r\n<>\"'"))) {
		req_fail(r, BERR_BAD_REQUEST, "field 'email' is not an e-mail address");
		return;
	}
	cleanup_free char *hash = secrets_password_hash(password, &r->err);
	struct meta_account acct;
	if (!hash || meta_account_create(r->meta, name, false, email, hash, admin, NULL, &r->err) < 0 ||
	    meta_account_get(r->meta, name, &acct, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "user_create", name, admin ? json_pack("{s:b}", "admin", 1) : NULL);
	api_v1_respond(r, 201, api_v1_account_json(&acct));
}

/* GET/POST /api/v1/users (admins) */
void api_v1_users(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r))
		return;
	if (r->method == HTTP_POST) {
		api_v1_users_create(r, c);
		return;
	}
	json_t *list = json_array();
	if (meta_accounts_list(r->meta, 1, api_v1_users_add, list, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", "users", list));
}

/* PATCH /api/v1/users/{name} {"disabled","admin","password"} */
static void api_v1_users_patch(struct req *r, struct api_v1 *c, const struct meta_account *acct)
{
	bool disabled = false, admin = false;
	const char *password = NULL;
	int has_disabled, has_admin, has_password;
	if (!api_v1_require_body(r, c) || (has_disabled = api_v1_field_bool(r, c, "disabled", &disabled)) < 0 ||
	    (has_admin = api_v1_field_bool(r, c, "admin", &admin)) < 0 ||
	    (has_password = api_v1_password_field(r, c, "password", &password)) < 0)
		return;
	if (!has_disabled && !has_admin && !has_password) {
		req_fail(r, BERR_BAD_REQUEST, "nothing to change: give disabled, admin or password");
		return;
	}
	bool self = acct->id == r->auth->user_id;
	if (self && ((has_disabled && disabled) || (has_admin && !admin))) {
		req_fail(r, BERR_DENIED, "administrators cannot disable themselves or give up their own admin rights");
		return;
	}
	if ((has_disabled || has_admin) && meta_account_update(r->meta, acct->name, NULL, NULL, has_admin ? admin : -1,
	                                                       has_disabled ? disabled : -1, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (has_disabled && disabled)
		meta_sessions_delete_user(r->meta, acct->id, 0, NULL);
	if (has_password && api_v1_password_set(r, acct, password, 0) < 0) {
		api_v1_fail(r);
		return;
	}
	if (has_disabled)
		api_v1_audit_log(r, disabled ? "user_disable" : "user_enable", acct->name, NULL);
	if (has_admin)
		api_v1_audit_log(r, admin ? "admin_grant" : "admin_revoke", acct->name, NULL);
	if (has_password)
		api_v1_audit_log(r, "password_change", acct->name, NULL);
	struct meta_account now;
	if (meta_account_get(r->meta, acct->name, &now, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, api_v1_account_json(&now));
}

/* GET/PATCH/DELETE /api/v1/users/{name} (admins) */
void api_v1_users_one(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_PATCH && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r) || (r->method != HTTP_GET && !api_v1_require_full_scope(r)))
		return;
	struct meta_account acct;
	struct berr e2;
	if (!reference_namespace_valid(c->p1) || meta_account_get(r->meta, c->p1, &acct, &e2) < 0 || acct.is_org) {
		req_fail(r, BERR_NOT_FOUND, "there is no user named '%s'", c->p1);
		return;
	}
	if (r->method == HTTP_GET) {
		api_v1_respond(r, 200, api_v1_account_json(&acct));
	} else if (r->method == HTTP_PATCH) {
		api_v1_users_patch(r, c, &acct);
	} else {
		if (acct.id == r->auth->user_id) {
			req_fail(r, BERR_DENIED, "administrators cannot delete their own account");
			return;
		}
		if (meta_account_delete(r->meta, acct.name, &r->err) < 0) {
			api_v1_fail(r);
			return;
		}
		api_v1_audit_log(r, "user_delete", acct.name, NULL);
		api_v1_no_content(r);
	}
}
