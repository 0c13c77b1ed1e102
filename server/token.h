/* Registry bearer tokens: JWTs signed with ES256 by a key berthd generates on first start
 * and keeps in the data folder, as the Docker token specification describes. Verification
 * pins the algorithm and the key: no "none", no switching, expiry and audience checked. */
#ifndef BERTH_TOKEN_H
#define BERTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/berr.h"

/* Actions a token or a permission may grant, as a bit set. */
#define ACTION_PULL   1u
#define ACTION_PUSH   2u
#define ACTION_DELETE 4u
#define ACTION_ALL    7u
/* Marks a grant that was asked for as "*": listed back as "*" when all of it is granted. */
#define ACTION_STAR 8u

/* One entry of a token's "access" claim, or one requested scope. */
struct token_access {
	char type[32];  /* "repository" or "registry" */
	char name[256]; /* repository name, or "catalog" */
	unsigned actions;
};

struct token_claims {
	char subject[256]; /* account name, "" for anonymous */
	time_t expires;
	size_t naccess;
	struct token_access *access; /* heap */
};

/* Load the signing key from DIR/token-signing-key.pem, creating it (mode 0600) if absent. */
int token_keys_init(const char *data_dir, struct berr *err);
/* Load the signing key every node shares from the database (creating it the first time), for
 * several nodes on one PostgreSQL: a token any node issued is then accepted by all. */
struct meta;
int token_keys_init_shared(struct meta *m, struct berr *err);
/* Sign with the EC private key in pem (PEM text) from now on; what names it in the error
 * when it is none. */
int token_keys_init_pem(const char *pem, const char *what, struct berr *err);
/* A new P-256 private key as PEM text (heap, caller frees), or NULL. */
char *token_key_new_pem(void);
void token_keys_shutdown(void);
/* The key id put in each token's header. */
const char *token_key_id(void);

/* Issue a token for subject with the given access, valid for ttl seconds. Heap string. */
char *token_issue(const char *issuer, const char *audience, const char *subject, const struct token_access *access,
                  size_t naccess, int ttl, struct berr *err);
/* Verify a token (signature with our key, alg ES256, kid, iss, aud, exp/nbf with 60 s of
 * leeway) and fill out (free with token_claims_free). BERR_UNAUTHORIZED with the reason. */
int token_verify(const char *jwt, const char *issuer, const char *audience, struct token_claims *out, struct berr *err);
void token_claims_free(struct token_claims *c);
/* Actions the claims grant on (type, name). */
unsigned token_claims_actions(const struct token_claims *c, const char *type, const char *name);

/* Parse a scope "repository:NAME:pull,push" / "registry:catalog:*" (a resource class in
 * parentheses after the type is ignored). Returns -1 for a malformed scope. */
int token_scope_parse(const char *scope, struct token_access *out);
/* Format actions as a JSON-ready list: "*" for a "*" grant (ACTION_STAR with all actions),
 * else "pull", "push", "delete" as present; returns how many. */
size_t token_actions_names(unsigned actions, const char *names[4]);

#endif
