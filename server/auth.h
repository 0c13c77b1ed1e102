/* Who is calling and what they may do: HTTP Basic credentials (a password or a personal
 * access token), bearer tokens from GET/POST /token, or nobody; the namespace rules that
 * turn an account into actions on a repository; and the 401/403 answers, with the
 * WWW-Authenticate challenge clients need to start the token flow. */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"
#include "server/meta.h"
#include "server/token.h"

struct req;

struct auth_identity {
	bool authenticated; /* valid credentials or token were presented */
	int64_t user_id;    /* -1 for anonymous */
	char name[META_NAME_MAX + 1];
	bool is_admin;
	unsigned cap; /* at most these actions (a personal access token's scope) */
	char via[16]; /* "password", "token" (personal access token), "bearer", "" */
	bool bearer;  /* decisions come from the token's claims */
	struct token_claims claims;
};

/* True when the registry runs with --auth none: everyone may do everything. */
bool auth_disabled(const struct req *r);

/* Identify the caller from the Authorization header into r->auth (heap, freed with the
 * request). Bad credentials or token: -1 with BERR_UNAUTHORIZED; a locked-out address or
 * account: BERR_TOOMANYREQUESTS. No header: an anonymous identity. */
int auth_identify(struct req *r, struct berr *err);
void auth_identity_free(struct auth_identity *id);

/* Check user's password or personal access token, throttled per address and per account,
 * recording the outcome in the audit log. Fills out. */
int auth_login(struct meta *m, const char *user, const char *password, const char *addr, struct auth_identity *out,
               struct berr *err);

/* What id may do on repository name by the namespace rules, capped by id->cap. */
int auth_repo_actions(struct meta *m, const struct auth_identity *id, const char *name, unsigned *actions,
                      struct berr *err);
/* What the caller of r may do on name: its bearer token's grant, or the rules above. */
int auth_request_actions(struct req *r, const char *name, unsigned *actions, struct berr *err);

/* Require `needed` on repository name for r. On refusal responds (401 with a challenge
 * for anonymous callers and tokens lacking the scope, 403 DENIED for callers whose
 * credentials are good but not enough) and returns false. */
bool auth_require(struct req *r, const char *name, unsigned needed);
/* Answer 401 for credentials or a token that failed auth_identify (message in r->err). */
void auth_respond_invalid(struct req *r);
/* GET /v2/: any authenticated caller. */
bool auth_require_login(struct req *r);
/* GET /v2/_catalog: the registry:catalog:* scope (listing is then filtered per caller). */
bool auth_require_catalog(struct req *r);
/* The viewer for filtered listings. */
void auth_viewer(struct req *r, struct meta_viewer *out);

/* "http(s)://host" as clients reach berthd (--external-url, else the Host header). */
void auth_external_base(struct req *r, char *out, size_t outlen);

#endif
