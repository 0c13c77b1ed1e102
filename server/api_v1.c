/* The JSON API under /api/v1 that the web UI uses: which endpoint a path is, who the caller
 * is (a session cookie, or Basic or Bearer personal-access-token credentials), the CSRF
 * check for cookie-authenticated changes, JSON bodies capped at API_V1_BODY_MAX, the
 * session endpoints, and the helpers the other api_v1_*.c files share. */
#include "server/api_v1.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_depth.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/registry.h"
#include "server/secrets.h"
#include "server/session.h"
#include "server/throttle.h"

#define API_V1_PREFIX "/api/v1"

static bool api_v1_takes_body(enum http_method m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH;
}

static bool api_v1_is_change(enum http_method m)
{
	return api_v1_takes_body(m) || m == HTTP_DELETE;
}

/* Copy one path segment [s, s+len) into out; false if it is empty or too long. */
static bool api_v1_param(char out[API_V1_PARAM_MAX], const char *s, size_t len)
{
	if (len == 0 || len >= API_V1_PARAM_MAX)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static bool api_v1_seg_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* Find the endpoint of path (below /api/v1/) into c->handler and its parameters. Returns
 * false for a path that is no endpoint. Repository names contain slashes, so the endpoint
 * under repositories/ is recognised from the end, as server/router.c does for /v2/. */
static bool api_v1_route(const char *path, struct api_v1 *c)
{
	if (strncmp(path, API_V1_PREFIX "/", strlen(API_V1_PREFIX "/")) != 0)
		return false;
	const char *p = path + strlen(API_V1_PREFIX "/");
	if (strncmp(p, "repositories", 12) == 0 && (p[12] == '\0' || p[12] == '/')) {
		if (p[12] == '\0') {
			c->handler = api_v1_repos;
			return true;
		}
		const char *rest = p + 13;
		size_t len = strlen(rest);
		const char *slash = memrchr(rest, '/', len);
		if (slash && strcmp(slash, "/tags") == 0) {
			c->handler = api_v1_repo_tags;
			return api_v1_param(c->p1, rest, (size_t)(slash - rest));
		}
		if (slash && strcmp(slash, "/grants") == 0) {
			c->handler = api_v1_repo_grants;
			return api_v1_param(c->p1, rest, (size_t)(slash - rest));
		}
		const char *kw = slash ? memrchr(rest, '/', (size_t)(slash - rest)) : NULL;
		if (slash && kw && api_v1_seg_is(kw + 1, (size_t)(slash - kw - 1), "tags")) {
			c->handler = api_v1_repo_tag;
			return api_v1_param(c->p1, rest, (size_t)(kw - rest)) &&
			       api_v1_param(c->p2, slash + 1, strlen(slash + 1));
		}
		if (slash && kw && api_v1_seg_is(kw + 1, (size_t)(slash - kw - 1), "manifests")) {
			c->handler = api_v1_repo_manifest;
			return api_v1_param(c->p1, rest, (size_t)(kw - rest)) &&
			       api_v1_param(c->p2, slash + 1, strlen(slash + 1));
		}
		if (slash && kw && api_v1_seg_is(kw + 1, (size_t)(slash - kw - 1), "grants")) {
			c->handler = api_v1_repo_grant;
			return api_v1_param(c->p1, rest, (size_t)(kw - rest)) &&
			       api_v1_param(c->p2, slash + 1, strlen(slash + 1));
		}
		c->handler = api_v1_repo;
		return api_v1_param(c->p1, rest, len);
	}
	/* Everything else has at most four segments, none of them with a slash. */
	const char *seg[5];
	size_t seglen[5];
	size_t n = 0;
	for (const char *s = p;; n++) {
		const char *e = strchr(s, '/');
		if (n == 5)
			return false;
		seg[n] = s;
		seglen[n] = e ? (size_t)(e - s) : strlen(s);
		if (seglen[n] == 0)
			return false;
		if (!e) {
			n++;
			break;
		}
		s = e + 1;
	}
#define SEG(i, w)     api_v1_seg_is(seg[i], seglen[i], w)
#define PARAM(out, i) api_v1_param(out, seg[i], seglen[i])
	if (n == 1 && SEG(0, "session"))
		c->handler = api_v1_session;
	else if (n == 1 && SEG(0, "user"))
		c->handler = api_v1_user;
	else if (n == 2 && SEG(0, "user") && SEG(1, "password"))
		c->handler = api_v1_user_password;
	else if (n == 2 && SEG(0, "user") && SEG(1, "tokens"))
		c->handler = api_v1_user_tokens;
	else if (n == 3 && SEG(0, "user") && SEG(1, "tokens") && PARAM(c->p1, 2))
		c->handler = api_v1_user_token;
	else if (n == 1 && SEG(0, "users"))
		c->handler = api_v1_users;
	else if (n == 2 && SEG(0, "users") && PARAM(c->p1, 1))
		c->handler = api_v1_users_one;
	else if (n == 1 && SEG(0, "audit"))
		c->handler = api_v1_audit;
	else if (n == 1 && SEG(0, "gc"))
		c->handler = api_v1_gc;
	else if (n == 1 && SEG(0, "orgs"))
		c->handler = api_v1_orgs;
	else if (n == 2 && SEG(0, "orgs") && PARAM(c->p1, 1))
		c->handler = api_v1_org;
	else if (n == 4 && SEG(0, "orgs") && SEG(2, "members") && PARAM(c->p1, 1) && PARAM(c->p2, 3))
		c->handler = api_v1_org_member;
	else if (n == 1 && SEG(0, "replication"))
		c->handler = api_v1_replication;
	else if (n == 2 && SEG(0, "replication") && PARAM(c->p1, 1))
		c->handler = api_v1_replication_rule;
	else if (n == 3 && SEG(0, "replication") && SEG(2, "run") && PARAM(c->p1, 1))
		c->handler = api_v1_replication_run;
	else if (n == 1 && SEG(0, "tag-rules")) /* ops: tag rules, retention */
		c->handler = api_v1_tag_rules;
	else if (n == 2 && SEG(0, "tag-rules") && PARAM(c->p1, 1))
		c->handler = api_v1_tag_rule;
	else if (n == 1 && SEG(0, "retention"))
		c->handler = api_v1_retention;
	else if (n == 1 && SEG(0, "webhooks")) /* ops: webhooks */
		c->handler = api_v1_webhooks;
	else if (n == 2 && SEG(0, "webhooks") && PARAM(c->p1, 1))
		c->handler = api_v1_webhook;
	else if (n == 3 && SEG(0, "webhooks") && PARAM(c->p1, 1) && SEG(2, "deliveries"))
		c->handler = api_v1_webhook_deliveries;
	else if (n == 1 && SEG(0, "quotas"))
		c->handler = api_v1_quotas;
	else if (n == 2 && SEG(0, "quotas") && PARAM(c->p1, 1))
		c->handler = api_v1_quota;
	else
		return false;
#undef SEG
#undef PARAM
	return true;
}

static unsigned api_v1_scope_cap(const char *scope)
{
	if (strcmp(scope, "read") == 0)
		return ACTION_PULL;
	if (strcmp(scope, "read-write") == 0)
		return ACTION_PULL | ACTION_PUSH;
	return ACTION_ALL;
}

/* "Authorization: Bearer <personal access token>", throttled per address like passwords. */
static int api_v1_bearer_pat(struct req *r, const char *token, struct auth_identity *id, struct berr *err)
{
	char addr[64], key[96];
	req_remote_addr(r, addr);
	snprintf(key, sizeof key, "addr:%s", addr);
	int wait = throttle_login_wait(key);
	if (wait > 0)
		return berr_set(err, BERR_TOOMANYREQUESTS, "too many failed logins; try again in %d s", wait);
	if (strncmp(token, SECRETS_PAT_PREFIX, strlen(SECRETS_PAT_PREFIX)) != 0)
		return berr_set(err, BERR_UNAUTHORIZED,
		                "Bearer credentials on /api/v1 must be a personal access token");
	char hash[65];
	struct meta_pat pat;
	struct meta_account acct;
	secrets_token_hash(token, hash);
	if (meta_pat_use(r->meta, hash, &pat, err) < 0 ||
	    meta_account_get_by_id(r->meta, pat.user_id, &acct, err) < 0 || acct.disabled) {
		if (err->code == BERR_UNAVAILABLE || err->code == BERR_INTERNAL)
			return -1;
		throttle_login_failed(key);
		meta_audit(r->meta, "-", "login_failed", "-", "{\"via\":\"token\"}", addr, NULL);
		return berr_set(err, BERR_UNAUTHORIZED, "invalid, revoked or disabled access token");
	}
	throttle_login_ok(key);
	id->authenticated = true;
	id->user_id = acct.id;
	snprintf(id->name, sizeof id->name, "%s", acct.name);
	id->is_admin = acct.is_admin;
	id->cap = api_v1_scope_cap(pat.scope);
	snprintf(id->via, sizeof id->via, "token");
	return 0;
}

/* Who is calling, into r->auth: the Authorization header if there is one (Basic through
 * auth_identify, with its throttling; Bearer only with a personal access token), else
 * the session cookie. A stale cookie makes an anonymous caller, not an error, so public
 * pages keep working after a session ends. */
static int api_v1_identify(struct req *r, struct api_v1 *c)
{
	const char *h = req_header(r, "Authorization");
	if (!auth_disabled(r) && h && strncasecmp(h, "Basic ", 6) == 0) {
		c->via = API_V1_HEADER;
		return auth_identify(r, &r->err);
	}
	struct auth_identity *id = xcalloc(1, sizeof *id);
	id->user_id = -1;
	id->cap = ACTION_ALL;
	r->auth = id;
	if (auth_disabled(r))
		return 0;
	if (h && *h) {
		c->via = API_V1_HEADER;
		if (strlen(h) > 8192)
			return berr_set(&r->err, BERR_UNAUTHORIZED, "Authorization header too long");
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return berr_set(&r->err, BERR_UNAUTHORIZED, "unsupported Authorization scheme");
		return api_v1_bearer_pat(r, h + 7, id, &r->err);
	}
	const char *cookie = req_header(r, "Cookie");
	char secret[SESSION_SECRET_MAX];
	struct meta_account acct;
	struct berr e2;
	if (!cookie || !session_cookie_get(cookie, SESSION_COOKIE, secret, sizeof secret))
		return 0;
	if (session_find(r->meta, secret, &c->session, &e2) < 0) {
		if (e2.code == BERR_UNAVAILABLE || e2.code == BERR_INTERNAL) {
			r->err = e2;
			return -1;
		}
		return 0;
	}
	if (meta_account_get_by_id(r->meta, c->session.user_id, &acct, &e2) < 0 || acct.disabled)
		return 0;
	c->via = API_V1_SESSION;
	id->authenticated = true;
	id->user_id = acct.id;
	snprintf(id->name, sizeof id->name, "%s", acct.name);
	id->is_admin = acct.is_admin;
	snprintf(id->via, sizeof id->via, "session");
	return 0;
}

static void api_v1_cleanup(struct req *r)
{
	struct api_v1 *c = r->state;
	if (!c)
		return;
	json_decref(c->body);
	free(c->raw);
	free(c);
	r->state = NULL;
}

static int api_v1_on_body(struct req *r, const char *data, size_t len)
{
	struct api_v1 *c = r->state;
	if (c->rawlen + len > API_V1_BODY_MAX)
		return berr_set(&r->err, BERR_MANIFEST_TOO_LARGE, "the request body is larger than %d KiB",
		                API_V1_BODY_MAX / 1024);
	c->raw = xrealloc(c->raw, c->rawlen + len + 1);
	memcpy(c->raw + c->rawlen, data, len);
	c->rawlen += len;
	c->raw[c->rawlen] = '\0';
	return 0;
}

static void api_v1_on_end(struct req *r)
{
	struct api_v1 *c = r->state;
	if (c->rawlen) {
		json_error_t jerr;
		if (!json_depth_ok(c->raw, c->rawlen, API_V1_MAX_DEPTH)) {
			req_fail(r, BERR_BAD_REQUEST, "the body is JSON nested deeper than %d levels",
			         API_V1_MAX_DEPTH);
			return;
		}
		c->body = json_loadb(c->raw, c->rawlen, JSON_REJECT_DUPLICATES, &jerr);
		if (!c->body) {
			req_fail(r, BERR_BAD_REQUEST, "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
			         jerr.line, jerr.column);
			return;
		}
		if (!json_is_object(c->body)) {
			req_fail(r, BERR_BAD_REQUEST, "the body must be a JSON object");
			return;
		}
	}
	c->handler(r, c);
}

/* A body must be JSON, said so: a form cannot then post to the API from another site. */
static bool api_v1_check_content_type(struct req *r)
{
	const char *ct = req_header(r, "Content-Type");
	size_t n = strlen("application/json");
	if (ct && strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
		return true;
	req_fail(r, BERR_BAD_REQUEST, "Content-Type must be application/json");
	return false;
}

/* The rules every change (POST, PUT, PATCH, DELETE) follows, whatever its endpoint: a
 * personal access token needs the read-write-delete scope, and --read-only refuses it
 * (405). Signing in and out is no change to the registry; GC and retention check
 * --read-only themselves, as their dry runs stay allowed. */
static bool api_v1_change_allowed(struct req *r, const struct api_v1 *c)
{
	if (!api_v1_is_change(r->method) || c->handler == api_v1_session)
		return true;
	if (r->auth->cap != ACTION_ALL) {
		req_fail(r, BERR_DENIED, "this access token's scope does not allow changes (read-write-delete does)");
		return false;
	}
	if (r->reg->cfg->read_only && c->handler != api_v1_gc && c->handler != api_v1_retention) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode");
		return false;
	}
	return true;
}

void api_v1(struct req *r)
{
	struct api_v1 *c = xcalloc(1, sizeof *c);
	r->state = c;
	r->on_cleanup = api_v1_cleanup;
	if (!api_v1_route(r->path, c)) {
		req_fail(r, BERR_NOT_FOUND, "%s is not an API endpoint", r->url);
		return;
	}
	if (api_v1_identify(r, c) < 0) {
		if (r->err.code != BERR_TOOMANYREQUESTS && r->err.code != BERR_UNAVAILABLE &&
		    r->err.code != BERR_INTERNAL)
			r->err.code = BERR_UNAUTHORIZED;
		api_v1_fail(r);
		return;
	}
	/* Signing in needs no token: there is no session yet whose token it could carry. */
	bool login = c->handler == api_v1_session && r->method == HTTP_POST;
	if (c->via == API_V1_SESSION && api_v1_is_change(r->method) && !login) {
		const char *t = req_header(r, "X-CSRF-Token");
		if (!t || !secrets_equal(t, c->session.csrf_token)) {
			req_fail(r, BERR_DENIED, "missing or wrong X-CSRF-Token header");
			return;
		}
	}
	if (!api_v1_change_allowed(r, c))
		return;
	if (!api_v1_takes_body(r->method)) {
		c->handler(r, c);
		return;
	}
	if (req_has_body(r)) {
		if (req_content_length(r) > API_V1_BODY_MAX) {
			req_fail(r, BERR_MANIFEST_TOO_LARGE, "the request body is larger than %d KiB",
			         API_V1_BODY_MAX / 1024);
			return;
		}
		if (!api_v1_check_content_type(r))
			return;
	}
	r->on_body = api_v1_on_body;
	r->on_end = api_v1_on_end;
}

/* ---- helpers shared by the api_v1_*.c files */

void api_v1_bad_method(struct req *r)
{
	req_fail(r, BERR_UNSUPPORTED, "%s is not supported on %s", r->method_str, r->url);
}

bool api_v1_require_user(struct req *r)
{
	if (auth_disabled(r)) {
		req_fail(r, BERR_NOT_FOUND, "accounts are disabled (--auth none)");
		return false;
	}
	if (!r->auth->authenticated) {
		req_fail(r, BERR_UNAUTHORIZED, "sign in first");
		return false;
	}
	return true;
}

bool api_v1_require_admin(struct req *r)
{
	if (!api_v1_require_user(r))
		return false;
	if (!r->auth->is_admin) {
		req_fail(r, BERR_DENIED, "only administrators may do this");
		return false;
	}
	return true;
}

bool api_v1_require_full_scope(struct req *r)
{
	if (r->auth->cap == ACTION_ALL)
		return true;
	req_fail(r, BERR_DENIED, "this access token's scope does not allow account changes (read-write-delete does)");
	return false;
}

bool api_v1_require_body(struct req *r, struct api_v1 *c)
{
	if (c->body)
		return true;
	req_fail(r, BERR_BAD_REQUEST, "a JSON object body is required");
	return false;
}

int api_v1_field_string(struct req *r, struct api_v1 *c, const char *key, size_t max, bool allow_empty,
                        const char **out)
{
	json_t *v = c->body ? json_object_get(c->body, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' must be a string", key);
		return -1;
	}
	size_t len = json_string_length(v);
	if (len > max || (!allow_empty && len == 0) || memchr(json_string_value(v), '\0', len)) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' must be %s%zu characters at most", key,
		         allow_empty ? "" : "non-empty and ", max);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

int api_v1_field_bool(struct req *r, struct api_v1 *c, const char *key, bool *out)
{
	json_t *v = c->body ? json_object_get(c->body, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

int api_v1_query_int(struct req *r, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
	const char *s = req_query(r, name);
	*out = def;
	if (!s)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		req_fail(r, BERR_BAD_REQUEST, "query argument %s must be a number from %lld to %lld", name,
		         (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

void api_v1_respond(struct req *r, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		req_fail(r, BERR_INTERNAL, "could not encode the answer as JSON");
		return;
	}
	struct MHD_Response *resp = resp_take(text, strlen(text));
	resp_header(resp, "Content-Type", "application/json");
	resp_header(resp, "Cache-Control", "no-store");
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	req_respond(r, status, resp);
}

void api_v1_no_content(struct req *r)
{
	struct MHD_Response *resp = resp_empty();
	resp_header(resp, "Cache-Control", "no-store");
	req_respond(r, 204, resp);
}

void api_v1_fail(struct req *r)
{
	req_respond_error(r, &r->err);
}

void api_v1_audit_log(struct req *r, const char *action, const char *target, json_t *detail)
{
	char addr[64];
	struct berr e2;
	cleanup_free char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	if (meta_audit(r->meta, r->auth->name, action, target, text, req_remote_addr(r, addr), &e2) < 0)
		log_warn("audit log: %s", e2.message);
}

json_t *api_v1_string(const char *s)
{
	return http_json_string(s);
}

json_t *api_v1_time(int64_t t)
{
	return t ? json_integer(t) : json_null();
}

json_t *api_v1_account_json(const struct meta_account *a)
{
	return json_pack("{s:o,s:o,s:b,s:b,s:I}", "name", api_v1_string(a->name), "email",
	                 a->email[0] ? api_v1_string(a->email) : json_null(), "admin", a->is_admin, "disabled",
	                 a->disabled, "created_at", (json_int_t)a->created_at);
}

/* ---- /api/v1/session */

static void api_v1_session_body(struct req *r, struct api_v1 *c, const struct meta_account *acct, bool with_csrf)
{
	json_t *doc = json_pack("{s:o}", "user", api_v1_account_json(acct));
	if (with_csrf)
		json_object_set_new(doc, "csrf_token", json_string(c->session.csrf_token));
	json_object_set_new(doc, "via", json_string(r->auth->via));
	api_v1_respond(r, 200, doc);
}

static void api_v1_session_login(struct req *r, struct api_v1 *c)
{
	const char *user = NULL, *password = NULL;
	if (!api_v1_require_body(r, c) || api_v1_field_string(r, c, "username", 256, false, &user) < 0 ||
	    api_v1_field_string(r, c, "password", SECRETS_PASSWORD_MAX, false, &password) < 0)
		return;
	if (!user || !password) {
		req_fail(r, BERR_BAD_REQUEST, "field '%s' is required", user ? "password" : "username");
		return;
	}
	char addr[64];
	struct auth_identity id;
	if (auth_login(r->meta, user, password, req_remote_addr(r, addr), &id, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (strcmp(id.via, "password") != 0) {
		req_fail(r, BERR_UNAUTHORIZED, "sign in with a password; access tokens are for clients");
		return;
	}
	struct meta_account acct;
	if (meta_account_get_by_id(r->meta, id.user_id, &acct, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	/* A sign-in replaces the session the browser had, never extends it. */
	if (c->via == API_V1_SESSION)
		meta_session_delete(r->meta, c->session.id, NULL);
	cleanup_free char *secret = session_start(r->meta, acct.id, &c->session, &r->err);
	if (!secret) {
		api_v1_fail(r);
		return;
	}
	c->via = API_V1_SESSION;
	*r->auth = id;
	snprintf(r->auth->via, sizeof r->auth->via, "session");
	api_v1_audit_log(r, "login", acct.name, json_pack("{s:s}", "via", "session"));

	json_t *doc = json_pack("{s:o,s:s,s:s}", "user", api_v1_account_json(&acct), "csrf_token",
	                        c->session.csrf_token, "via", "session");
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	cleanup_free char *cookie = session_cookie_header(secret, r->reg->cfg->tls_cert != NULL);
	struct MHD_Response *resp = resp_take(text, strlen(text));
	resp_header(resp, "Content-Type", "application/json");
	resp_header(resp, "Cache-Control", "no-store");
	resp_header(resp, "Set-Cookie", cookie);
	req_respond(r, 200, resp);
}

static void api_v1_session_logout(struct req *r, struct api_v1 *c)
{
	if (c->via != API_V1_SESSION) {
		req_fail(r, BERR_UNAUTHORIZED, "no session to end: not signed in with a session cookie");
		return;
	}
	if (meta_session_delete(r->meta, c->session.id, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "logout", r->auth->name, NULL);
	cleanup_free char *cookie = session_cookie_header(NULL, r->reg->cfg->tls_cert != NULL);
	struct MHD_Response *resp = resp_empty();
	resp_header(resp, "Cache-Control", "no-store");
	resp_header(resp, "Set-Cookie", cookie);
	req_respond(r, 204, resp);
}

void api_v1_session(struct req *r, struct api_v1 *c)
{
	if (auth_disabled(r)) {
		req_fail(r, BERR_NOT_FOUND, "accounts are disabled (--auth none)");
		return;
	}
	if (r->method == HTTP_POST) {
		api_v1_session_login(r, c);
	} else if (r->method == HTTP_DELETE) {
		api_v1_session_logout(r, c);
	} else if (r->method == HTTP_GET) {
		struct meta_account acct;
		if (!api_v1_require_user(r))
			return;
		if (meta_account_get_by_id(r->meta, r->auth->user_id, &acct, &r->err) < 0) {
			api_v1_fail(r);
			return;
		}
		api_v1_session_body(r, c, &acct, c->via == API_V1_SESSION);
	} else {
		api_v1_bad_method(r);
	}
}
