/* The token service of the Docker token specification: GET /token (Basic credentials or
 * anonymous; service, repeated scope, offline_token, client_id) and POST /token (OAuth2
 * form: grant_type=password or refresh_token). A token grants the intersection of what
 * was asked and what the caller may do; asking for more is never an error, only bad
 * credentials are (401). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/reference.h"
#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/meta.h"
#include "server/registry.h"
#include "server/secrets.h"
#include "server/token.h"

#define TOKEN_MAX_SCOPES 32
#define TOKEN_FORM_MAX   16384

struct token_req {
	struct token_access scopes[TOKEN_MAX_SCOPES];
	size_t nscopes;
	char *form; /* POST body */
	size_t formlen;
};

/* Add the space-separated scopes in value. */
static int token_add_scopes(void *ctx, const char *value)
{
	struct token_req *tr = ctx;
	cleanup_free char *copy = xstrdup(value);
	char *save = NULL;
	for (char *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
		struct token_access a;
		if (tr->nscopes == TOKEN_MAX_SCOPES || token_scope_parse(s, &a) < 0)
			continue; /* a scope we cannot read is simply not granted */
		tr->scopes[tr->nscopes++] = a;
	}
	return 0;
}

/* Grant each asked scope as far as id may have it. */
static size_t token_grant(struct req *r, const struct auth_identity *id, struct token_req *tr, struct token_access *out)
{
	size_t n = 0;
	for (size_t i = 0; i < tr->nscopes; i++) {
		struct token_access a = tr->scopes[i];
		unsigned allowed = 0;
		if (strcmp(a.type, "repository") == 0 && reference_name_valid(a.name, strlen(a.name))) {
			struct berr e2;
			if (auth_repo_actions(r->meta, id, a.name, &allowed, &e2) < 0)
				allowed = 0;
		} else if (strcmp(a.type, "registry") == 0 && strcmp(a.name, "catalog") == 0) {
			allowed = ACTION_ALL; /* the listing itself is filtered per caller */
		}
		bool star = (a.actions & ACTION_STAR) && (allowed & ACTION_ALL) == ACTION_ALL;
		a.actions &= allowed & ACTION_ALL;
		if (star)
			a.actions |= ACTION_STAR;
		if (a.actions)
			out[n++] = a;
	}
	return n;
}

static void token_respond(struct req *r, const struct auth_identity *id, struct token_req *tr, bool offline,
                          const char *client_id, bool oauth)
{
	struct token_access granted[TOKEN_MAX_SCOPES];
	size_t n = token_grant(r, id, tr, granted);
	const struct config *cfg = r->reg->cfg;
	cleanup_free char *jwt = token_issue(cfg->service, cfg->service, id->name, granted, n, cfg->token_ttl, &r->err);
	if (!jwt) {
		req_respond_error(r, &r->err);
		return;
	}
	char issued[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *body = json_pack("{s:s,s:s,s:i,s:s}", "token", jwt, "access_token", jwt, "expires_in", cfg->token_ttl,
	                         "issued_at", issued);
	if (oauth) {
		json_t *scope = json_array();
		for (size_t i = 0; i < n; i++) {
			const char *names[4];
			size_t k = token_actions_names(granted[i].actions, names);
			char buf[512];
			int o = snprintf(buf, sizeof buf, "%s:%s:", granted[i].type, granted[i].name);
			for (size_t j = 0; j < k && o > 0 && (size_t)o < sizeof buf; j++)
				o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%s", j ? "," : "", names[j]);
			json_array_append_new(scope, json_string(buf));
		}
		/* OAuth2 wants one space-separated string. */
		size_t i;
		json_t *e;
		char *joined = xstrdup("");
		json_array_foreach(scope, i, e)
		{
			char *next = xasprintf("%s%s%s", joined, i ? " " : "", json_string_value(e));
			free(joined);
			joined = next;
		}
		json_decref(scope);
		json_object_set_new(body, "scope", json_string(joined));
		free(joined);
	}
	if (offline && id->authenticated) {
		cleanup_free char *refresh = secrets_token_new(SECRETS_REFRESH_PREFIX);
		char hash[65];
		secrets_token_hash(refresh, hash);
		const char *cap = id->cap == ACTION_ALL ? NULL : id->cap == ACTION_PULL ? "read" : "read-write";
		if (meta_refresh_create(r->meta, id->user_id, client_id ? client_id : "unknown", hash, cap, &r->err) <
		    0) {
			json_decref(body);
			req_respond_error(r, &r->err);
			return;
		}
		json_object_set_new(body, "refresh_token", json_string(refresh));
	}
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct MHD_Response *resp = resp_take(text, strlen(text));
	resp_header(resp, "Content-Type", "application/json");
	resp_header(resp, "Cache-Control", "no-store");
	req_respond(r, 200, resp);
}

/* Credentials refused: 401 (or 429 when locked out), with a Basic challenge. */
static void token_refuse(struct req *r)
{
	if (r->err.code != BERR_TOOMANYREQUESTS)
		r->err.code = BERR_UNAUTHORIZED;
	unsigned int status;
	struct MHD_Response *resp = resp_error(r, &r->err, &status);
	if (status == 401)
		resp_header(resp, "WWW-Authenticate", "Basic realm=\"berth\"");
	req_respond(r, status, resp);
}

static void token_audit_login(struct req *r, const struct auth_identity *id)
{
	char addr[64];
	char detail[64];
	snprintf(detail, sizeof detail, "{\"via\":\"%s\"}", id->via);
	meta_audit(r->meta, id->name, "login", id->name, detail, req_remote_addr(r, addr), NULL);
}

static void token_get(struct req *r)
{
	struct token_req tr = {.nscopes = 0};
	req_query_each(r, "scope", token_add_scopes, &tr);
	struct auth_identity id;
	memset(&id, 0, sizeof id);
	id.user_id = -1;
	id.cap = ACTION_ALL;
	const char *h = req_header(r, "Authorization");
	if (h && strncasecmp(h, "Basic ", 6) == 0) {
		size_t len;
		cleanup_free unsigned char *raw = base64_decode(h + 6, strlen(h + 6), &len);
		char *colon = raw && !memchr(raw, '\0', len) ? strchr((char *)raw, ':') : NULL;
		if (!colon) {
			req_fail(r, BERR_UNAUTHORIZED, "malformed Basic credentials");
			return;
		}
		*colon = '\0';
		char addr[64];
		if (auth_login(r->meta, (char *)raw, colon + 1, req_remote_addr(r, addr), &id, &r->err) < 0) {
			token_refuse(r);
			return;
		}
		token_audit_login(r, &id);
	} else if (h && *h) {
		req_fail(r, BERR_UNAUTHORIZED, "the token endpoint takes Basic credentials or none");
		return;
	}
	const char *offline = req_query(r, "offline_token");
	token_respond(r, &id, &tr, offline && strcmp(offline, "true") == 0, req_query(r, "client_id"), false);
}

static int token_form_body(struct req *r, const char *data, size_t len)
{
	struct token_req *tr = r->state;
	if (tr->formlen + len > TOKEN_FORM_MAX)
		return berr_set(&r->err, BERR_UNSUPPORTED, "token request body too large");
	tr->form = xrealloc(tr->form, tr->formlen + len + 1);
	memcpy(tr->form + tr->formlen, data, len);
	tr->formlen += len;
	tr->form[tr->formlen] = '\0';
	return 0;
}

/* Percent-decode a form value in place ('+' is a space). */
static void token_form_decode(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '+') {
			*o++ = ' ';
		} else if (*p == '%' && p[1] && p[2]) {
			char hex[3] = {p[1], p[2], 0};
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end || v == 0) {
				*o++ = *p;
				continue;
			}
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

static const char *token_form_get(char **keys, char **vals, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return vals[i];
	return NULL;
}

static void token_post_end(struct req *r)
{
	struct token_req *tr = r->state;
	char *keys[64], *vals[64];
	size_t n = 0;
	char *save = NULL;
	for (char *pair = strtok_r(tr->form ? tr->form : (char[]){""}, "&", &save); pair && n < 64;
	     pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (!eq)
			continue;
		*eq = '\0';
		token_form_decode(pair);
		token_form_decode(eq + 1);
		keys[n] = pair;
		vals[n++] = eq + 1;
	}
	const char *grant = token_form_get(keys, vals, n, "grant_type");
	const char *scope = token_form_get(keys, vals, n, "scope");
	const char *client_id = token_form_get(keys, vals, n, "client_id");
	const char *access_type = token_form_get(keys, vals, n, "access_type");
	if (scope)
		token_add_scopes(tr, scope);
	struct auth_identity id;
	memset(&id, 0, sizeof id);
	id.user_id = -1;
	id.cap = ACTION_ALL;
	char addr[64];
	if (grant && strcmp(grant, "password") == 0) {
		const char *user = token_form_get(keys, vals, n, "username");
		const char *pass = token_form_get(keys, vals, n, "password");
		if (!user || !pass) {
			req_fail(r, BERR_UNAUTHORIZED, "username and password are required");
			return;
		}
		if (auth_login(r->meta, user, pass, req_remote_addr(r, addr), &id, &r->err) < 0) {
			token_refuse(r);
			return;
		}
		token_audit_login(r, &id);
		token_respond(r, &id, tr, access_type && strcmp(access_type, "offline") == 0, client_id, true);
	} else if (grant && strcmp(grant, "refresh_token") == 0) {
		const char *rt = token_form_get(keys, vals, n, "refresh_token");
		char hash[65], cap[24];
		int64_t user_id;
		struct meta_account acct;
		if (!rt) {
			req_fail(r, BERR_UNAUTHORIZED, "refresh_token is required");
			return;
		}
		secrets_token_hash(rt, hash);
		if (meta_refresh_use(r->meta, hash, &user_id, cap, &r->err) < 0 ||
		    meta_account_get_by_id(r->meta, user_id, &acct, &r->err) < 0 || acct.disabled) {
			if (r->err.code == BERR_NONE || r->err.code == BERR_NOT_FOUND)
				berr_set(&r->err, BERR_UNAUTHORIZED, "refresh token no longer valid");
			token_refuse(r);
			return;
		}
		id.authenticated = true;
		id.user_id = acct.id;
		snprintf(id.name, sizeof id.name, "%s", acct.name);
		id.is_admin = acct.is_admin;
		id.cap = !cap[0] ? ACTION_ALL : strcmp(cap, "read") == 0 ? ACTION_PULL : ACTION_PULL | ACTION_PUSH;
		snprintf(id.via, sizeof id.via, "refresh");
		/* The same refresh token keeps working; no new one is handed out. */
		token_respond(r, &id, tr, false, client_id, true);
	} else {
		/* RFC 6749 section 5.2. */
		json_t *e = json_pack("{s:s,s:s}", "error", "unsupported_grant_type", "error_description",
		                      "grant_type must be password or refresh_token");
		req_respond_json(r, 400, json_dumps(e, JSON_COMPACT), NULL);
		json_decref(e);
	}
}

static void token_cleanup(struct req *r)
{
	struct token_req *tr = r->state;
	if (tr) {
		free(tr->form);
		free(tr);
		r->state = NULL;
	}
}

void api_token(struct req *r)
{
	if (auth_disabled(r)) {
		req_fail(r, BERR_NOT_FOUND, "this registry runs without authentication (--auth none): no tokens");
		return;
	}
	if (r->method == HTTP_GET) {
		token_get(r);
		return;
	}
	if (r->method != HTTP_POST) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on /token", r->method_str);
		return;
	}
	struct token_req *tr = xcalloc(1, sizeof *tr);
	r->state = tr;
	r->on_cleanup = token_cleanup;
	r->on_body = token_form_body;
	r->on_end = token_post_end;
}
