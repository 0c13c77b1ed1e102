/* Internals shared by the files of the JSON API under /api/v1 (the web UI's): the request
 * context, who the caller is and how they signed in, the endpoints, and helpers for JSON
 * bodies, fields, answers and the audit log. server/api.h has the one entry point. */
#ifndef BERTH_API_V1_H
#define BERTH_API_V1_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/reference.h"
#include "server/http.h"
#include "server/meta.h"

/* Largest JSON body accepted. */
#define API_V1_BODY_MAX (64 * 1024)
/* Deepest JSON nesting accepted in a body (they are flat objects). */
#define API_V1_MAX_DEPTH 16
/* Longest path parameter kept (a repository name is the longest). */
#define API_V1_PARAM_MAX (REFERENCE_NAME_MAX + 1)

enum api_v1_via {
	API_V1_ANONYMOUS,
	API_V1_SESSION, /* the berth_session cookie: state changes need X-CSRF-Token */
	API_V1_HEADER,  /* Authorization: Basic or Bearer personal access token */
};

struct api_v1;
typedef void (*api_v1_fn)(struct req *r, struct api_v1 *c);

/* One /api/v1 request; r->state, freed with the request. */
struct api_v1 {
	api_v1_fn handler;
	enum api_v1_via via;
	struct meta_session session; /* when via == API_V1_SESSION */
	char p1[API_V1_PARAM_MAX];   /* user, organization or repository name, token id */
	char p2[API_V1_PARAM_MAX];   /* member, tag or manifest reference */
	char *raw;                   /* the body as received; heap */
	size_t rawlen;
	json_t *body; /* the body parsed, a JSON object, or NULL when there was none */
};

/* The endpoints, one file per area. */
void api_v1_session(struct req *r, struct api_v1 *c);
void api_v1_user(struct req *r, struct api_v1 *c);
void api_v1_user_password(struct req *r, struct api_v1 *c);
void api_v1_user_tokens(struct req *r, struct api_v1 *c);
void api_v1_user_token(struct req *r, struct api_v1 *c);
void api_v1_users(struct req *r, struct api_v1 *c);
void api_v1_users_one(struct req *r, struct api_v1 *c);
void api_v1_audit(struct req *r, struct api_v1 *c);
void api_v1_gc(struct req *r, struct api_v1 *c);
void api_v1_orgs(struct req *r, struct api_v1 *c);
void api_v1_org(struct req *r, struct api_v1 *c);
void api_v1_org_member(struct req *r, struct api_v1 *c);
void api_v1_repos(struct req *r, struct api_v1 *c);
void api_v1_repo(struct req *r, struct api_v1 *c);
void api_v1_repo_tags(struct req *r, struct api_v1 *c);
void api_v1_repo_tag(struct req *r, struct api_v1 *c);
void api_v1_repo_grants(struct req *r, struct api_v1 *c);
void api_v1_repo_grant(struct req *r, struct api_v1 *c);
void api_v1_replication(struct req *r, struct api_v1 *c);
void api_v1_replication_rule(struct req *r, struct api_v1 *c);
void api_v1_replication_run(struct req *r, struct api_v1 *c);
void api_v1_repo_manifest(struct req *r, struct api_v1 *c);

/* What the caller may do on repository name, which must exist and be readable: otherwise
 * responds 404 NAME_UNKNOWN (or 400 for a bad name) and returns false. */
bool api_v1_repo_access(struct req *r, const char *name, struct meta_repo_info *info, unsigned *actions);
/* The platforms ("os/arch[/variant]") of manifest digest in repo_id, as a new JSON array:
 * an index's (attestations left out) or an image config's; empty when unknown. */
json_t *api_v1_manifest_platforms(struct req *r, int64_t repo_id, const char *digest);
/* ops: tag rules, retention (api_v1_policies.c) */
void api_v1_tag_rules(struct req *r, struct api_v1 *c);
void api_v1_tag_rule(struct req *r, struct api_v1 *c);
void api_v1_retention(struct req *r, struct api_v1 *c);
/* ops: webhooks (api_v1_webhooks.c) */
void api_v1_webhooks(struct req *r, struct api_v1 *c);
void api_v1_webhook(struct req *r, struct api_v1 *c);
void api_v1_webhook_deliveries(struct req *r, struct api_v1 *c);
/* The scope of tag rules and webhooks, a repository or a namespace (api_v1_scope.c). */
/* Whether the caller may manage rules or webhooks of a repository or namespace: admins,
 * the namespace's user or organization owners, and for a repository whoever has admin
 * rights on it; names of the pull-through cache only admins. With respond, a refusal is
 * answered (401/403). */
bool api_v1_may_manage_scope(struct req *r, const char *scope_kind, const char *scope, bool respond);
/* Read exactly one of the body fields "namespace" and "repository", a valid name of its kind
 * (400 otherwise). */
int api_v1_scope_field(struct req *r, struct api_v1 *c, const char **scope_kind, const char **scope);
/* A collection of scoped objects being listed for the caller. */
struct api_v1_scoped {
	struct req *r;
	json_t *items;
};
/* Lists a collection (meta's list of it, with api_v1_scoped_add for each object) narrowed
 * to scope_kind scope (both NULL: everything). Returns 0, or -1 with r->err. */
typedef int (*api_v1_scoped_lister)(struct req *r, const char *scope_kind, const char *scope, struct api_v1_scoped *l);
/* GET of a collection of scoped objects: a signed-in caller, at most one of ?namespace= and
 * ?repository= to narrow it; answers {key: [the objects the caller may manage]}. */
void api_v1_scoped_get(struct req *r, const char *key, api_v1_scoped_lister list);
/* Add item (JSON, taken) of scope_kind scope to l if the caller may manage it. */
void api_v1_scoped_add(struct api_v1_scoped *l, const char *scope_kind, const char *scope, json_t *item);
/* For one object (what id) of scope_kind scope: true if the caller may manage it, else
 * responds 404 as if there were no such object, so ids tell nothing to others. */
bool api_v1_scoped_found(struct req *r, const char *scope_kind, const char *scope, const char *what, int64_t id);
/* A numeric id path parameter p: positive decimal, or responds 404 and returns -1. */
int api_v1_param_id(struct req *r, const char *p, int64_t *id);
void api_v1_quotas(struct req *r, struct api_v1 *c);
void api_v1_quota(struct req *r, struct api_v1 *c);

/* Answer 405 UNSUPPORTED naming the path. */
void api_v1_bad_method(struct req *r);
/* Require a signed-in caller: 404 when accounts are disabled (--auth none), 401 for
 * anonymous callers. Returns false when it responded. */
bool api_v1_require_user(struct req *r);
/* Like api_v1_require_user, then 403 DENIED unless the caller is an admin. */
bool api_v1_require_admin(struct req *r);
/* For account changes (password, tokens, organizations, users): a personal access token
 * must have the read-write-delete scope, or one could mint itself a wider one. */
bool api_v1_require_full_scope(struct req *r);
/* A JSON body is required: 400 BAD_REQUEST when there was none. */
bool api_v1_require_body(struct req *r, struct api_v1 *c);

/* Read optional field key of the body. Absent or null: *out untouched, returns 0. Present
 * with the wrong type or too long (strings: more than max bytes; empty when !allow_empty):
 * responds 400 BAD_REQUEST naming the field and returns -1. Returns 1 when read. */
int api_v1_field_string(struct req *r, struct api_v1 *c, const char *key, size_t max, bool allow_empty,
                        const char **out);
int api_v1_field_bool(struct req *r, struct api_v1 *c, const char *key, bool *out);
/* Integer query argument `name` from min to max (absent: def); 400 naming it otherwise. */
int api_v1_query_int(struct req *r, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out);

/* Respond with doc (taken) as JSON, not cached. */
void api_v1_respond(struct req *r, unsigned status, json_t *doc);
/* 204 No Content. */
void api_v1_no_content(struct req *r);
/* Respond with r->err. */
void api_v1_fail(struct req *r);
/* Record a state change by the caller in the audit log; detail (taken) may be NULL. */
void api_v1_audit_log(struct req *r, const char *action, const char *target, json_t *detail);
/* An account as JSON (no secrets). */
json_t *api_v1_account_json(const struct meta_account *a);
/* A JSON string of text that may not be UTF-8 (it came from a client once): bytes that
 * are not become '?'. NULL gives null. */
json_t *api_v1_string(const char *s);
/* Unix time as JSON: null for 0. */
json_t *api_v1_time(int64_t t);

#endif
