/* Authentication and authorization of registry requests.
 *
 * Namespace rules (what an account may do on repository NS/REST):
 * - an admin may do everything, everywhere;
 * - a public repository may be pulled by anyone, anonymous callers included;
 * - a user may do everything in the namespace of its own name;
 * - in an organization's namespace, owners may do everything, writers pull and push,
 *   readers pull;
 * - a per-repository grant adds read (pull), write (pull, push) or admin (everything);
 * - a top-level repository ("busybox") belongs to the admins.
 * A personal access token caps all of this at its scope. Bearer tokens carry the result
 * of these rules as computed when /token issued them. */
#include "server/auth.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "server/http.h"
#include "server/proxy.h"
#include "server/registry.h"
#include "server/replication.h"
#include "server/secrets.h"
#include "server/throttle.h"

#define AUTH_HEADER_MAX 8192

bool auth_disabled(const struct req *r)
{
	return strcmp(r->reg->cfg->auth, "none") == 0;
}

void auth_external_base(struct req *r, char *out, size_t outlen)
{
	const struct config *cfg = r->reg->cfg;
	if (cfg->external_url) {
		snprintf(out, outlen, "%s", cfg->external_url);
		return;
	}
	const char *host = req_header(r, "Host");
	/* A Host header is client input: keep only what a host[:port] may contain. */
	char clean[256];
	size_t n = 0;
	for (const char *p = host ? host : ""; *p && n < sizeof clean - 1; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr(".-:[]_", *p))
			clean[n++] = *p;
	clean[n] = '\0';
	if (!n)
		snprintf(clean, sizeof clean, "%s:%d", cfg->listen_host, cfg->listen_port);
	snprintf(out, outlen, "%s://%s", cfg->tls_cert ? "https" : "http", clean);
}

static unsigned auth_scope_cap(const char *scope)
{
	if (strcmp(scope, "read") == 0)
		return ACTION_PULL;
	if (strcmp(scope, "read-write") == 0)
		return ACTION_PULL | ACTION_PUSH;
	return ACTION_ALL;
}

static void auth_anonymous(struct auth_identity *id)
{
	memset(id, 0, sizeof *id);
	id->user_id = -1;
	id->cap = ACTION_ALL;
}

void auth_identity_free(struct auth_identity *id)
{
	if (!id)
		return;
	token_claims_free(&id->claims);
	free(id);
}

int auth_login(struct meta *m, const char *user, const char *password, const char *addr, struct auth_identity *out,
               struct berr *err)
{
	auth_anonymous(out);
	/* berthd's own replication client over loopback (server/replication.h). */
	if (replication_internal_login(user, password, addr)) {
		out->authenticated = true;
		out->user_id = 0;
		snprintf(out->name, sizeof out->name, "%s", REPLICATION_USER);
		out->is_admin = true;
		snprintf(out->via, sizeof out->via, "internal");
		return 0;
	}
	char addr_key[96], user_key[96];
	snprintf(addr_key, sizeof addr_key, "addr:%s", addr);
	snprintf(user_key, sizeof user_key, "user:%.80s", user);
	int wait = throttle_login_wait(addr_key);
	int wait_user = throttle_login_wait(user_key);
	if (wait_user > wait)
		wait = wait_user;
	if (wait > 0)
		return berr_set(err, BERR_TOOMANYREQUESTS, "too many failed logins; try again in %d s", wait);

	struct meta_account acct;
	struct berr e2;
	bool ok = false;
	const char *via = "password";
	unsigned cap = ACTION_ALL;
	if (strlen(user) <= META_NAME_MAX && meta_account_get(m, user, &acct, &e2) == 0 && !acct.is_org) {
		if (strncmp(password, SECRETS_PAT_PREFIX, strlen(SECRETS_PAT_PREFIX)) == 0) {
			char hash[65];
			struct meta_pat pat;
			secrets_token_hash(password, hash);
			via = "token";
			if (meta_pat_use(m, hash, &pat, &e2) == 0 && pat.user_id == acct.id) {
				ok = true;
				cap = auth_scope_cap(pat.scope);
			}
		} else {
			ok = secrets_password_verify(acct.password_hash, password);
		}
	} else {
		/* Spend the same time on an unknown user as on a wrong password. */
		secrets_password_verify("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
		                        "ZGVjb3lkZWNveWRlY295ZGVjb3lkZWNveWRlY295ZGU",
		                        password);
	}
	if (ok && acct.disabled) {
		meta_audit(m, user, "login_failed", user, "{\"reason\":\"disabled\"}", addr, NULL);
		return berr_set(err, BERR_UNAUTHORIZED, "account %s is disabled", user);
	}
	if (!ok) {
		throttle_login_failed(addr_key);
		throttle_login_failed(user_key);
		meta_audit(m, user, "login_failed", user, NULL, addr, NULL);
		return berr_set(err, BERR_UNAUTHORIZED, "incorrect username or password");
	}
	throttle_login_ok(addr_key);
	throttle_login_ok(user_key);
	out->authenticated = true;
	out->user_id = acct.id;
	snprintf(out->name, sizeof out->name, "%s", acct.name);
	out->is_admin = acct.is_admin;
	out->cap = cap;
	snprintf(out->via, sizeof out->via, "%s", via);
	return 0;
}

/* Basic credentials: "Basic base64(user:password)". */
static int auth_basic(struct req *r, const char *value, struct auth_identity *id, struct berr *err)
{
	size_t len;
	cleanup_free unsigned char *raw = base64_decode(value, strlen(value), &len);
	if (!raw || memchr(raw, '\0', len))
		return berr_set(err, BERR_UNAUTHORIZED, "malformed Basic credentials");
	char *colon = strchr((char *)raw, ':');
	if (!colon)
		return berr_set(err, BERR_UNAUTHORIZED, "malformed Basic credentials");
	*colon = '\0';
	char addr[64];
	return auth_login(r->meta, (char *)raw, colon + 1, req_remote_addr(r, addr), id, err);
}

static int auth_bearer(struct req *r, const char *value, struct auth_identity *id, struct berr *err)
{
	/* berthd is both the token issuer and its audience: iss = aud = the service name. */
	if (token_verify(value, r->reg->cfg->service, r->reg->cfg->service, &id->claims, err) < 0)
		return -1;
	id->bearer = true;
	id->authenticated = id->claims.subject[0] != '\0';
	snprintf(id->via, sizeof id->via, "bearer");
	if (id->authenticated) {
		struct meta_account acct;
		struct berr e2;
		if (meta_account_get(r->meta, id->claims.subject, &acct, &e2) < 0 || acct.disabled)
			return berr_set(err, BERR_UNAUTHORIZED,
			                "invalid token: its account no longer exists or is disabled");
		id->user_id = acct.id;
		snprintf(id->name, sizeof id->name, "%s", acct.name);
		id->is_admin = acct.is_admin;
	}
	return 0;
}

int auth_identify(struct req *r, struct berr *err)
{
	struct auth_identity *id = xcalloc(1, sizeof *id);
	auth_anonymous(id);
	r->auth = id;
	if (auth_disabled(r))
		return 0;
	const char *h = req_header(r, "Authorization");
	if (!h || !*h)
		return 0;
	if (strlen(h) > AUTH_HEADER_MAX)
		return berr_set(err, BERR_UNAUTHORIZED, "Authorization header too long");
	if (strncasecmp(h, "Basic ", 6) == 0)
		return auth_basic(r, h + 6, id, err);
	if (strncasecmp(h, "Bearer ", 7) == 0)
		return auth_bearer(r, h + 7, id, err);
	return berr_set(err, BERR_UNAUTHORIZED, "unsupported Authorization scheme");
}

int auth_repo_actions(struct meta *m, const struct auth_identity *id, const char *name, unsigned *actions,
                      struct berr *err)
{
	*actions = 0;
	struct meta_repo_info info;
	if (meta_repo_info(m, name, &info, err) < 0)
		return -1;
	unsigned acts = 0;
	if (info.exists && info.is_public)
		acts |= ACTION_PULL;
	/* A mirrored repository not cached yet is pulled as it will be created: with the
	 * default visibility. */
	if (!info.exists && proxy_default_public() && proxy_is_mirrored(name))
		acts |= ACTION_PULL;
	if (id->user_id >= 0) {
		const char *slash = strchr(name, '/');
		char ns[META_NAME_MAX + 1] = "";
		if (slash && (size_t)(slash - name) <= META_NAME_MAX)
			snprintf(ns, sizeof ns, "%.*s", (int)(slash - name), name);
		/* Only administrators manage the pull-through cache: a user or organization whose
		 * name is a mirrored namespace gets at most pull on its cached repositories. */
		bool mirrored = !id->is_admin && proxy_is_mirrored(name);
		if (id->is_admin || (ns[0] && strcmp(ns, id->name) == 0 && !mirrored)) {
			acts = ACTION_ALL;
		} else if (ns[0] && strcmp(ns, id->name) == 0) {
			acts |= ACTION_PULL;
		} else if (ns[0]) {
			char role[16];
			if (meta_org_role(m, id->user_id, ns, role, err) < 0)
				return -1;
			if (mirrored && role[0])
				acts |= ACTION_PULL;
			else if (strcmp(role, "owner") == 0)
				acts |= ACTION_ALL;
			else if (strcmp(role, "writer") == 0)
				acts |= ACTION_PULL | ACTION_PUSH;
			else if (strcmp(role, "reader") == 0)
				acts |= ACTION_PULL;
		}
		if (info.exists && acts != ACTION_ALL) {
			char perm[16];
			if (meta_repo_grant_get(m, info.id, id->user_id, perm, err) < 0)
				return -1;
			if (strcmp(perm, "admin") == 0)
				acts |= ACTION_ALL;
			else if (strcmp(perm, "write") == 0)
				acts |= ACTION_PULL | ACTION_PUSH;
			else if (strcmp(perm, "read") == 0)
				acts |= ACTION_PULL;
		}
	}
	*actions = acts & id->cap;
	return 0;
}

int auth_request_actions(struct req *r, const char *name, unsigned *actions, struct berr *err)
{
	if (auth_disabled(r)) {
		*actions = ACTION_ALL;
		return 0;
	}
	if (r->auth->bearer) {
		*actions = token_claims_actions(&r->auth->claims, "repository", name);
		return 0;
	}
	return auth_repo_actions(r->meta, r->auth, name, actions, err);
}

/* 401 with the challenge that starts the token flow. scope may be NULL. */
static void auth_challenge(struct req *r, const char *scope, const char *error, const char *message)
{
	char base[512];
	auth_external_base(r, base, sizeof base);
	berr_set(&r->err, BERR_UNAUTHORIZED, "%s", message);
	unsigned int status;
	struct MHD_Response *resp = resp_error(r, &r->err, &status);
	char challenge[1024];
	int n = snprintf(challenge, sizeof challenge, "Bearer realm=\"%s/token\",service=\"%s\"", base,
	                 r->reg->cfg->service);
	if (scope && n > 0 && (size_t)n < sizeof challenge)
		n += snprintf(challenge + n, sizeof challenge - (size_t)n, ",scope=\"%s\"", scope);
	if (error && n > 0 && (size_t)n < sizeof challenge)
		snprintf(challenge + n, sizeof challenge - (size_t)n, ",error=\"%s\"", error);
	resp_header(resp, "WWW-Authenticate", challenge);
	req_respond(r, 401, resp);
}

static void auth_scope_string(const char *name, unsigned needed, char *out, size_t outlen)
{
	const char *names[4];
	size_t n = token_actions_names(needed, names);
	int o = snprintf(out, outlen, "repository:%s:", name);
	for (size_t i = 0; i < n && o > 0 && (size_t)o < outlen; i++)
		o += snprintf(out + o, outlen - (size_t)o, "%s%s", i ? "," : "", names[i]);
}

bool auth_require(struct req *r, const char *name, unsigned needed)
{
	unsigned have;
	if (auth_request_actions(r, name, &have, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return false;
	}
	if ((have & needed) == needed)
		return true;
	char scope[512];
	/* Ask for pull too when pushing: clients request both and mount needs it. */
	auth_scope_string(name, needed & ACTION_PUSH ? needed | ACTION_PULL : needed, scope, sizeof scope);
	if (!r->auth->authenticated && !r->auth->bearer) {
		auth_challenge(r, scope, NULL, "authentication required");
	} else if (r->auth->bearer) {
		auth_challenge(r, scope, "insufficient_scope", "the token does not grant this access");
	} else {
		/* Good credentials, not enough rights. Reads answer as for a missing repository. */
		req_fail(r, BERR_DENIED, "requested access to the resource is denied");
	}
	return false;
}

void auth_respond_invalid(struct req *r)
{
	char message[sizeof r->err.message];
	snprintf(message, sizeof message, "%s", r->err.message);
	auth_challenge(r, NULL, r->auth && r->auth->bearer ? "invalid_token" : NULL, message);
}

bool auth_require_login(struct req *r)
{
	if (auth_disabled(r) || r->auth->authenticated || r->auth->bearer)
		return true;
	auth_challenge(r, NULL, NULL, "authentication required");
	return false;
}

bool auth_require_catalog(struct req *r)
{
	if (auth_disabled(r))
		return true;
	if (r->auth->bearer) {
		if (token_claims_actions(&r->auth->claims, "registry", "catalog") == ACTION_ALL)
			return true;
		auth_challenge(r, "registry:catalog:*", "insufficient_scope", "the token does not grant the catalog");
		return false;
	}
	if (r->auth->authenticated)
		return true;
	auth_challenge(r, "registry:catalog:*", NULL, "authentication required");
	return false;
}

void auth_viewer(struct req *r, struct meta_viewer *out)
{
	out->sees_all = auth_disabled(r) || r->auth->is_admin;
	out->user_id = r->auth->user_id;
	out->name = r->auth->user_id >= 0 ? r->auth->name : NULL;
}
