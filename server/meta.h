/* Registry metadata: repositories, blob links, manifests, tags, referrers and upload
 * sessions. Handlers call only these functions, never SQL, so a second database driver
 * (PostgreSQL) is a new implementation of this header, not edits across the handlers.
 * Each thread gets its own connection (meta_get); every call is one transaction. */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"
#include "common/manifest.h"
#include "common/reference.h"

struct meta;

/* Longest tag pattern of a tag rule. */
#define META_TAG_PATTERN_MAX 128

/* Open (creating if needed) the database at `path`, apply pending migrations from schema/
 * and check it. Call once at start-up, before any meta_get. */
int meta_init(const char *path, struct berr *err);
/* Close every thread's connection. Call once at shutdown, when no request runs. */
void meta_shutdown(void);
/* The calling thread's connection, opened on first use. */
struct meta *meta_get(struct berr *err);
/* Whether several berthd nodes may share this database (PostgreSQL), so what a node would
 * keep for itself (the token signing key) must live in the database instead. */
bool meta_is_shared(struct meta *m);
/* Take the lock one garbage collection holds across every node sharing the database;
 * BERR_CONFLICT while another node's collection holds it. Release with meta_gc_unlock. */
int meta_gc_lock(struct meta *m, struct berr *err);
void meta_gc_unlock(struct meta *m);
/* The lock a request holds while it writes to upload id, so nodes sharing the database
 * refuse a second writer as one process does: *got is false when another holds it. */
int meta_upload_lock(struct meta *m, const char *id, bool *got, struct berr *err);
void meta_upload_unlock(struct meta *m, const char *id);
/* A value every node must agree on (shared_settings): 1 and *value (heap, caller frees) if
 * set, 0 if not. */
int meta_setting_get(struct meta *m, const char *name, char **value, struct berr *err);
/* Set name to value unless some node set it first (then the stored value stays). */
int meta_setting_put_new(struct meta *m, const char *name, const char *value, struct berr *err);

/* Repository id by name; BERR_NAME_UNKNOWN if there is none. */
int meta_repo_lookup(struct meta *m, const char *name, int64_t *id, struct berr *err);
/* Repository id by name and its tags_version (changes whenever a tag does); BERR_NAME_UNKNOWN. */
int meta_repo_lookup_version(struct meta *m, const char *name, int64_t *id, int64_t *tags_version, struct berr *err);
/* Repository id by name, creating the repository if needed. */
int meta_repo_ensure(struct meta *m, const char *name, int64_t *id, struct berr *err);

/* Size of blob d if it is linked into repository repo_id; BERR_BLOB_UNKNOWN otherwise. */
int meta_repo_blob_get(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t *size, struct berr *err);
/* Size of blob d if it is stored at all; BERR_BLOB_UNKNOWN otherwise. */
int meta_blob_get(struct meta *m, const struct digest *d, uint64_t *size, struct berr *err);
/* Link an already stored blob into repo_id if it is linked into from_repo (from_repo < 0:
 * if it is stored at all). Sets *linked; fills *size when linked. */
int meta_blob_mount(struct meta *m, int64_t repo_id, int64_t from_repo, const struct digest *d, bool *linked,
                    uint64_t *size, struct berr *err);
/* Remove blob d's link from repo_id; BERR_BLOB_UNKNOWN if it was not linked. */
int meta_repo_blob_unlink(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err);

/* A manifest as stored. */
struct meta_manifest {
	struct digest digest;
	char media_type[256];
	uint64_t size;
	void *content; /* heap, `size` bytes, only when asked for; caller frees */
};

/* Store a validated manifest in repository `name` (created if needed) and point each of
 * `tags` at it, in one transaction. Fails with BERR_MANIFEST_BLOB_UNKNOWN when a config or
 * layer blob is not linked into the repository (foreign layers excepted), or a child
 * manifest is not in it. */
int meta_manifest_put(struct meta *m, const char *name, const struct manifest *mf, const struct digest *d,
                      const void *content, size_t size, const char *const *tags, size_t ntags, struct berr *err);
/* Find a manifest by tag (is_digest false) or digest string; with_content also loads the
 * bytes. BERR_MANIFEST_UNKNOWN if absent. */
int meta_manifest_get(struct meta *m, int64_t repo_id, const char *reference, bool is_digest, bool with_content,
                      struct meta_manifest *out, struct berr *err);
/* Delete the manifest with digest d and every tag pointing at it; BERR_MANIFEST_UNKNOWN if absent. */
int meta_manifest_delete(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err);
/* Delete tag `tag` only; BERR_MANIFEST_UNKNOWN if absent. */
int meta_tag_delete(struct meta *m, int64_t repo_id, const char *tag, struct berr *err);

/* Called once per listed name, in lexical order; return non-zero to stop. */
typedef int (*meta_name_fn)(void *ctx, const char *name);
/* Tags of repo_id after `last` (NULL: from the start), at most `limit` (< 0: all).
 * Sets *more when tags remain after the last one listed. */
int meta_tags_list(struct meta *m, int64_t repo_id, const char *last, int64_t limit, meta_name_fn fn, void *ctx,
                   bool *more, struct berr *err);
/* Names of repositories holding at least one manifest, after `last`, at most `limit`.
 * Sets *more like meta_tags_list. */
int meta_catalog(struct meta *m, const char *last, int64_t limit, meta_name_fn fn, void *ctx, bool *more,
                 struct berr *err);

/* A manifest whose subject is the asked digest. Strings point into driver memory that is
 * valid only during the callback. */
struct meta_referrer {
	const char *digest;
	const char *media_type;
	const char *artifact_type; /* may be NULL */
	const char *annotations;   /* JSON object text, may be NULL */
	uint64_t size;
};
typedef int (*meta_referrer_fn)(void *ctx, const struct meta_referrer *r);
/* Manifests in repo_id whose subject is `subject`, optionally only those of artifact_type. */
int meta_referrers(struct meta *m, int64_t repo_id, const struct digest *subject, const char *artifact_type,
                   meta_referrer_fn fn, void *ctx, struct berr *err);

/* Who is asking, for listings that show only what the viewer may see. */
struct meta_viewer {
	bool sees_all;    /* an admin, or a registry without authentication */
	int64_t user_id;  /* -1: anonymous */
	const char *name; /* the user's name (its namespace), or NULL */
};

/* Like meta_catalog, limited to the repositories viewer may read. */
int meta_catalog_visible(struct meta *m, const struct meta_viewer *viewer, const char *last, int64_t limit,
                         meta_name_fn fn, void *ctx, bool *more, struct berr *err);

/* Visibility given to repositories created from now on (default private). */
void meta_set_default_visibility(bool public_default);

/* Accounts: users and organizations. */
#define META_NAME_MAX REFERENCE_NAMESPACE_MAX
struct meta_account {
	int64_t id;
	char name[META_NAME_MAX + 1];
	bool is_org;
	bool is_admin;
	bool disabled;
	char email[256];
	char password_hash[256];
	int64_t created_at;
};
typedef int (*meta_account_fn)(void *ctx, const struct meta_account *a);

/* BERR_NOT_FOUND if there is no such account. */
int meta_account_get(struct meta *m, const char *name, struct meta_account *out, struct berr *err);
int meta_account_get_by_id(struct meta *m, int64_t id, struct meta_account *out, struct berr *err);
/* BERR_CONFLICT if the name is taken. */
int meta_account_create(struct meta *m, const char *name, bool is_org, const char *email, const char *password_hash,
                        bool is_admin, int64_t *id, struct berr *err);
/* Change what is given: NULL strings and negative flags stay as they are. */
int meta_account_update(struct meta *m, const char *name, const char *password_hash, const char *email, int is_admin,
                        int disabled, struct berr *err);
int meta_account_delete(struct meta *m, const char *name, struct berr *err);
/* kind: 0 all, 1 users, 2 organizations; in name order. */
int meta_accounts_list(struct meta *m, int kind, meta_account_fn fn, void *ctx, struct berr *err);
int meta_users_count(struct meta *m, int64_t *n, struct berr *err);

/* Organization members: role "owner", "writer" or "reader". */
int meta_org_member_set(struct meta *m, const char *org, const char *user, const char *role, struct berr *err);
int meta_org_member_remove(struct meta *m, const char *org, const char *user, struct berr *err);
typedef int (*meta_member_fn)(void *ctx, const char *user, const char *role);
int meta_org_members(struct meta *m, const char *org, meta_member_fn fn, void *ctx, struct berr *err);
/* user_id's role in the organization named org: "" when none (or org is no organization). */
int meta_org_role(struct meta *m, int64_t user_id, const char *org, char role[16], struct berr *err);

/* What access decisions need to know of a repository. */
struct meta_repo_info {
	bool exists;
	int64_t id;
	bool is_public;
};
int meta_repo_info(struct meta *m, const char *name, struct meta_repo_info *out, struct berr *err);
/* user_id's grant on repo_id: "read", "write", "admin" or "" */
int meta_repo_grant_get(struct meta *m, int64_t repo_id, int64_t user_id, char perm[16], struct berr *err);
int meta_repo_set_visibility(struct meta *m, const char *name, bool is_public, struct berr *err);
/* Give user_id permission ("read", "write" or "admin") on repo_id, replacing any other. */
int meta_repo_grant_set(struct meta *m, int64_t repo_id, int64_t user_id, const char *perm, struct berr *err);
/* BERR_NOT_FOUND if user_id had no grant on repo_id. */
int meta_repo_grant_delete(struct meta *m, int64_t repo_id, int64_t user_id, struct berr *err);
/* Each grant on repo_id: user name and permission, in name order. */
int meta_repo_grants(struct meta *m, int64_t repo_id, meta_member_fn fn, void *ctx, struct berr *err);
/* Names of repositories holding blob d, to find one the caller may read (automatic mount). */
int meta_blob_repositories(struct meta *m, const struct digest *d, meta_name_fn fn, void *ctx, struct berr *err);

/* Personal access tokens ("read", "read-write", "read-write-delete"). */
struct meta_pat {
	int64_t id;
	int64_t user_id;
	char name[128];
	char scope[24];
	int64_t created_at;
	int64_t last_used_at; /* 0: never */
	int64_t revoked_at;   /* 0: active */
};
typedef int (*meta_pat_fn)(void *ctx, const struct meta_pat *t);
int meta_pat_create(struct meta *m, int64_t user_id, const char *name, const char *scope, const char *secret_hash,
                    int64_t *id, struct berr *err);
/* The token with this secret hash (BERR_UNAUTHORIZED if none); records its use. */
int meta_pat_use(struct meta *m, const char *secret_hash, struct meta_pat *out, struct berr *err);
int meta_pat_list(struct meta *m, int64_t user_id, meta_pat_fn fn, void *ctx, struct berr *err);
/* BERR_NOT_FOUND if user_id has no such active token. */
int meta_pat_revoke(struct meta *m, int64_t user_id, int64_t id, struct berr *err);

/* Refresh tokens. scope_cap: the access token scope they were issued under, or NULL. */
int meta_refresh_create(struct meta *m, int64_t user_id, const char *client_id, const char *secret_hash,
                        const char *scope_cap, struct berr *err);
int meta_refresh_use(struct meta *m, const char *secret_hash, int64_t *user_id, char scope_cap[24], struct berr *err);
int meta_refresh_revoke_all(struct meta *m, int64_t user_id, struct berr *err);

/* Audit log. detail: JSON object text or NULL. */
int meta_audit(struct meta *m, const char *actor, const char *action, const char *target, const char *detail,
               const char *remote_addr, struct berr *err);
struct meta_audit_entry {
	int64_t id;
	int64_t at;
	const char *actor, *action, *target, *detail, *remote_addr;
};
typedef int (*meta_audit_fn)(void *ctx, const struct meta_audit_entry *e);
/* Newest first, ids below before_id (0: from the newest), at most limit. */
int meta_audit_list(struct meta *m, int64_t before_id, int64_t limit, meta_audit_fn fn, void *ctx, struct berr *err);

/* Browser sessions of the web UI (/api/v1); only a hash of the cookie's secret is stored. */
struct meta_session {
	int64_t id;
	int64_t user_id;
	char csrf_token[80];
	int64_t created_at;
	int64_t last_seen_at;
	int64_t expires_at;
};
int meta_session_create(struct meta *m, int64_t user_id, const char *secret_hash, const char *csrf_token,
                        int64_t expires_at, int64_t *id, struct berr *err);
/* The session with this secret hash, unless it expired or sat idle since before idle_since
 * (BERR_UNAUTHORIZED then); records its use. */
int meta_session_use(struct meta *m, const char *secret_hash, int64_t idle_since, struct meta_session *out,
                     struct berr *err);
int meta_session_delete(struct meta *m, int64_t id, struct berr *err);
/* Delete every session of user_id except keep_id (<= 0: all of them). */
int meta_sessions_delete_user(struct meta *m, int64_t user_id, int64_t keep_id, struct berr *err);
/* Delete sessions that expired or sat idle since before idle_since. */
int meta_sessions_purge(struct meta *m, int64_t idle_since, struct berr *err);

/* Organizations user_id belongs to, with its role, in name order. */
int meta_user_orgs(struct meta *m, int64_t user_id, meta_member_fn fn, void *ctx, struct berr *err);

/* A repository as the web UI lists it. Strings point into driver memory valid only during
 * the callback; full_description is NULL in listings. */
struct meta_repo_row {
	int64_t id;
	const char *name, *ns, *visibility, *description, *full_description;
	int64_t created_at, updated_at, tag_count, pull_count;
};
typedef int (*meta_repo_fn)(void *ctx, const struct meta_repo_row *row);
enum meta_repo_sort { META_REPO_SORT_NAME, META_REPO_SORT_UPDATED, META_REPO_SORT_PULLS };
/* Repositories viewer may read that hold a manifest (as the catalog), optionally only in
 * namespace ns and only those whose name or description contains q (ASCII case-insensitive),
 * sorted, `limit` of them from `offset`. *total gets how many match in all. */
int meta_repo_search(struct meta *m, const struct meta_viewer *viewer, const char *q, const char *ns,
                     enum meta_repo_sort sort, int64_t offset, int64_t limit, meta_repo_fn fn, void *ctx,
                     int64_t *total, struct berr *err);
/* Repository name with its descriptions; BERR_NAME_UNKNOWN if there is none. */
int meta_repo_describe(struct meta *m, const char *name, meta_repo_fn fn, void *ctx, struct berr *err);
/* Change what is given (NULL: unchanged); BERR_NAME_UNKNOWN if there is no such repository. */
int meta_repo_update(struct meta *m, const char *name, const char *visibility, const char *description,
                     const char *full_description, struct berr *err);
/* Delete a repository with its manifests, tags, blob links, grants and uploads (the blobs
 * themselves stay for garbage collection). BERR_DENIED (nothing deleted) while one of its
 * tags is immutable. After the commit, fn (may be NULL) is called with each tag removed and
 * its manifest's digest. */
typedef void (*meta_repo_deleted_tag_fn)(void *ctx, const char *tag, const char *digest);
int meta_repo_delete(struct meta *m, int64_t repo_id, meta_repo_deleted_tag_fn fn, void *ctx, struct berr *err);
/* Add counts[i] pulls to repository repo_ids[i], all in one transaction. */
int meta_repo_add_pulls(struct meta *m, const int64_t *repo_ids, const int64_t *counts, size_t n, struct berr *err);

/* When a manifest was last pulled (web UI). */
struct meta_pull_mark {
	int64_t repo_id;
	char digest[DIGEST_STR_MAX];
	int64_t at;
};
/* Record the last pull time of each manifest (repository, digest) in marks, in one transaction. */
int meta_manifests_pulled(struct meta *m, const struct meta_pull_mark *marks, size_t n, struct berr *err);

/* A tag as the web UI lists it; strings valid only during the callback. size: the
 * compressed size, config and layers (for an index, those of its manifests). */
struct meta_tag_row {
	const char *name, *digest, *media_type;
	uint64_t size;
	int64_t pushed_at;
	int64_t last_pulled_at; /* 0: never (or before berthd recorded it) */
};
typedef int (*meta_tag_fn)(void *ctx, const struct meta_tag_row *t);
/* Tags of repo_id in name order, `limit` of them from `offset`; *total gets how many there are. */
int meta_tags_page(struct meta *m, int64_t repo_id, int64_t offset, int64_t limit, meta_tag_fn fn, void *ctx,
                   int64_t *total, struct berr *err);

/* Write a consistent copy of the whole database to path (SQLite's online backup: a
 * snapshot, taken while berthd serves). path must not exist. */
int meta_backup(struct meta *m, const char *path, struct berr *err);
/* For fsck: every stored blob's digest and recorded size. */
typedef int (*meta_blob_fn)(void *ctx, const char *digest, uint64_t size);
int meta_blobs_each(struct meta *m, meta_blob_fn fn, void *ctx, struct berr *err);
/* Forget blob d: its repository links and its row, in one transaction. */
int meta_blob_forget(struct meta *m, const struct digest *d, struct berr *err);
/* Manifests referencing a config or layer blob that is not stored (foreign layers
 * excepted), or a child manifest missing from their repository. */
struct meta_dangling {
	const char *repository;
	const char *manifest;
	const char *missing;
	int kind; /* enum manifest_ref_kind */
};
typedef int (*meta_dangling_fn)(void *ctx, const struct meta_dangling *dref);
int meta_dangling_each(struct meta *m, meta_dangling_fn fn, void *ctx, struct berr *err);

/* Upload sessions. */
int meta_upload_create(struct meta *m, const char *id, int64_t repo_id, struct berr *err);
/* Repository of upload `id`; BERR_BLOB_UPLOAD_UNKNOWN if there is none. */
int meta_upload_get(struct meta *m, const char *id, int64_t *repo_id, struct berr *err);
int meta_upload_delete(struct meta *m, const char *id, struct berr *err);

/* Replication rules: images copied from another registry into local repositories. */
struct meta_replication_rule {
	int64_t id;
	char name[META_NAME_MAX + 1];
	char source[512];       /* "https://host[:port]" */
	char username[256];     /* "" for anonymous */
	char password[1025];    /* "" for none; a secret, never shown */
	char repositories[256]; /* glob over the source's repository names */
	char tags[256];         /* glob, or /regex/ */
	char destination[256];  /* local namespace prefix, or "" */
	int64_t interval;       /* seconds between runs; 0: only when asked */
	int64_t created_at;
	bool run_requested;
	int64_t last_started_at; /* 0: never */
	int64_t last_finished_at;
	char last_result[16]; /* "", "running", "ok", "partial", "failed" */
	int64_t last_images, last_unchanged, last_errors, total_images;
	char last_message[512];
};
typedef int (*meta_replication_fn)(void *ctx, const struct meta_replication_rule *r);
/* Store a new rule (its configuration fields); BERR_CONFLICT if the name is taken. */
int meta_replication_create(struct meta *m, const struct meta_replication_rule *r, struct berr *err);
/* BERR_NOT_FOUND if there is no such rule. */
int meta_replication_get(struct meta *m, const char *name, struct meta_replication_rule *out, struct berr *err);
/* Every rule in name order. */
int meta_replication_list(struct meta *m, meta_replication_fn fn, void *ctx, struct berr *err);
int meta_replication_delete(struct meta *m, const char *name, struct berr *err);
/* Ask for a run as soon as the scheduler looks (BERR_NOT_FOUND if there is no such rule). */
int meta_replication_request_run(struct meta *m, const char *name, struct berr *err);
/* The rule to run now (asked for, or due by its interval), marked running: 1 and *out, 0
 * when none is due. */
int meta_replication_claim_due(struct meta *m, struct meta_replication_rule *out, struct berr *err);
/* Record the outcome of rule id's run. */
int meta_replication_finish(struct meta *m, int64_t id, const char *result, int64_t images, int64_t unchanged,
                            int64_t errors, const char *message, struct berr *err);
/* Runs still marked running (berthd stopped during them) become failed. */
int meta_replication_reset_running(struct meta *m, struct berr *err);
/* The pull-through cache (server/proxy.c). */
/* Store a manifest fetched from upstream (the "https://host/repository" it came from) in
 * repository name, created if needed, without requiring its blobs (they are fetched when
 * first pulled); point tag (may be NULL) at it and record the tag as confirmed now. */
int meta_mirror_manifest_put(struct meta *m, const char *name, const char *upstream, const struct manifest *mf,
                             const struct digest *d, const void *content, size_t size, const char *tag,
                             struct berr *err);
/* Record that upstream confirmed tag of repo_id now (a revalidation found it unchanged). */
int meta_mirror_tag_confirmed(struct meta *m, int64_t repo_id, const char *upstream, const char *tag, struct berr *err);
/* When upstream last confirmed tag of repo_id: 1 and *checked_at, or 0 if never. */
int meta_mirror_tag_checked(struct meta *m, int64_t repo_id, const char *tag, int64_t *checked_at, struct berr *err);
/* Where repo_id is cached from and when it was last checked: 1, or 0 if it is no mirror. */
int meta_mirror_repo_get(struct meta *m, int64_t repo_id, char *upstream, size_t upstream_len, int64_t *last_checked,
                         struct berr *err);
/* Close the calling thread's connection (for a short-lived thread, before it ends). */
void meta_release(void);
/* ops: metrics. Blobs and their bytes per namespace ("" for names without one), in
 * namespace order; a blob counts once per namespace it is linked into. */
typedef int (*meta_storage_fn)(void *ctx, const char *ns, int64_t blobs, uint64_t bytes);
int meta_storage_each(struct meta *m, meta_storage_fn fn, void *ctx, struct berr *err);
/* Every stored blob, counted once. */
int meta_storage_total(struct meta *m, int64_t *blobs, uint64_t *bytes, struct berr *err);
/* Upload sessions started and neither finished nor cancelled. */
int meta_uploads_count(struct meta *m, int64_t *n, struct berr *err);

/* ops: tag rules. kind "immutable" or "retention"; scope_kind "repository" (scope: its
 * name) or "namespace"; pattern a shell glob over tag names (fnmatch). Retention rules keep
 * the keep_last most recently pushed matching tags, or (keep_days) those pushed or pulled
 * within that many days; the unused one is -1. */
struct meta_tag_rule {
	int64_t id;
	char kind[16];
	char scope_kind[16];
	char scope[REFERENCE_NAME_MAX + 1];
	char pattern[META_TAG_PATTERN_MAX + 1];
	int64_t keep_last, keep_days;
	char created_by[META_NAME_MAX + 1];
	int64_t created_at;
};
typedef int (*meta_tag_rule_fn)(void *ctx, const struct meta_tag_rule *rule);
/* Add rule (its id and created_at are ignored); sets *id. */
int meta_tag_rule_add(struct meta *m, const struct meta_tag_rule *rule, int64_t *id, struct berr *err);
/* Rule by id; BERR_NOT_FOUND. */
int meta_tag_rule_get(struct meta *m, int64_t id, struct meta_tag_rule *out, struct berr *err);
/* Delete rule id; BERR_NOT_FOUND. */
int meta_tag_rule_delete(struct meta *m, int64_t id, struct berr *err);
/* Rules in id order, filtered by kind, scope_kind and scope where these are not NULL. */
int meta_tag_rules_list(struct meta *m, const char *kind, const char *scope_kind, const char *scope,
                        meta_tag_rule_fn fn, void *ctx, struct berr *err);
/* Whether an immutability rule matches tag in repo_id (whether or not the tag exists). */
int meta_tag_is_immutable(struct meta *m, int64_t repo_id, const char *tag, bool *immutable, struct berr *err);
/* Every repository: id, name and namespace ("" when the name has none), in name order. */
typedef int (*meta_repo_each_fn)(void *ctx, int64_t id, const char *name, const char *ns);
int meta_repos_each(struct meta *m, meta_repo_each_fn fn, void *ctx, struct berr *err);
/* The tags of repo_id with their manifest digest, when they were last pushed and when that
 * manifest was last pulled (0: never), in name order. */
typedef int (*meta_tag_times_fn)(void *ctx, const char *tag, const char *digest, int64_t pushed_at, int64_t pulled_at);
int meta_repo_tag_rows(struct meta *m, int64_t repo_id, meta_tag_times_fn fn, void *ctx, struct berr *err);
/* Delete tag only if it still points at digest and was last pushed at pushed_at (so a
 * concurrent push wins); immutable tags are refused with BERR_DENIED. Sets *deleted. */
int meta_tag_delete_if(struct meta *m, int64_t repo_id, const char *tag, const char *digest, int64_t pushed_at,
                       bool *deleted, struct berr *err);

/* ops: webhooks. A webhook POSTs events ("push", "delete"; events holds them comma-separated)
 * of a repository or of a namespace's repositories to url, signed with secret. */
#define META_WEBHOOK_URL_MAX    2048
#define META_WEBHOOK_SECRET_MAX 256
struct meta_webhook {
	int64_t id;
	char scope_kind[16];
	char scope[REFERENCE_NAME_MAX + 1];
	char url[META_WEBHOOK_URL_MAX + 1];
	char secret[META_WEBHOOK_SECRET_MAX + 1];
	char events[32];
	char created_by[META_NAME_MAX + 1];
	int64_t created_at;
};
typedef int (*meta_webhook_fn)(void *ctx, const struct meta_webhook *h);
/* Add h (id and created_at ignored); sets *id. */
int meta_webhook_add(struct meta *m, const struct meta_webhook *h, int64_t *id, struct berr *err);
/* Webhook by id; BERR_NOT_FOUND. */
int meta_webhook_get(struct meta *m, int64_t id, struct meta_webhook *out, struct berr *err);
/* Delete webhook id and its delivery history; BERR_NOT_FOUND. */
int meta_webhook_delete(struct meta *m, int64_t id, struct berr *err);
/* Webhooks in id order, filtered by scope_kind and scope where not NULL. */
int meta_webhooks_list(struct meta *m, const char *scope_kind, const char *scope, meta_webhook_fn fn, void *ctx,
                       struct berr *err);
/* The webhooks of repository `name` (in namespace ns) and of its namespace. */
int meta_webhooks_for_repo(struct meta *m, const char *name, const char *ns, meta_webhook_fn fn, void *ctx,
                           struct berr *err);
/* One delivery of an event to a webhook: queued (state "pending") until delivered or failed. */
struct meta_delivery {
	int64_t id, webhook_id;
	char event[16];
	char *payload; /* heap, owned by the listing that passes it */
	char state[16];
	int64_t attempts, next_attempt_at;
	int64_t last_status; /* HTTP status of the last attempt; 0: none or no answer */
	char last_error[256];
	int64_t created_at, finished_at;
};
/* Queue event with payload (JSON text) for webhook_id, due now. */
int meta_delivery_add(struct meta *m, int64_t webhook_id, const char *event, const char *payload, struct berr *err);
/* Pending deliveries due at `now`, oldest first, at most limit, with their webhook's url
 * and secret (only id, webhook_id, event, payload and attempts of d are filled). */
typedef int (*meta_due_fn)(void *ctx, const struct meta_delivery *d, const char *url, const char *secret);
/* On a database several nodes share, each delivery passed to fn is first claimed for `lease`
 * seconds (no other node takes it meanwhile): make it longer than sending the batch takes. */
int meta_deliveries_due(struct meta *m, int64_t now, int64_t limit, int64_t lease, meta_due_fn fn, void *ctx,
                        struct berr *err);
/* Store d's state, attempts, next_attempt_at, last_status, last_error and finished_at. */
int meta_delivery_update(struct meta *m, const struct meta_delivery *d, struct berr *err);
/* Deliveries of webhook_id, newest first, with id < before_id (0: from the newest), at most limit. */
typedef int (*meta_delivery_fn)(void *ctx, const struct meta_delivery *d);
int meta_deliveries_list(struct meta *m, int64_t webhook_id, int64_t before_id, int64_t limit, meta_delivery_fn fn,
                         void *ctx, struct berr *err);
/* Garbage collection (server/gc.c; the argument for its safety is docs/internals/gc.md). */
#define META_GC_BATCH 64
typedef int (*meta_install_fn)(void *ctx, struct berr *err);
/* Install blob d and link it into repo_id in one write transaction: install (which puts the
 * bytes in place) runs while the database's write lock is held, so it cannot interleave with
 * a garbage collector deleting d (meta_gc_blob_delete). Also starts d's grace period anew. */
int meta_blob_install(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t size, meta_install_fn install,
                      void *ctx, struct berr *err);
/* Run fn inside one write transaction (holding the database's write lock); fn failing rolls back. */
typedef int (*meta_locked_fn)(void *ctx, struct meta *m, struct berr *err);
int meta_locked(struct meta *m, meta_locked_fn fn, void *ctx, struct berr *err);
/* A manifest garbage collection may delete, with the state of its repository when it was
 * listed: any tag change or push there since makes meta_gc_manifests_delete keep it. */
struct meta_gc_manifest {
	int64_t id, repo_id, tags_version, manifests_version;
};
typedef int (*meta_gc_manifest_fn)(void *ctx, const struct meta_gc_manifest *c);
/* Manifests no tag reaches (through index children, referrer subjects and referrers) and not
 * pushed after cutoff, from one consistent read (no write lock). */
int meta_gc_untagged(struct meta *m, int64_t cutoff, meta_gc_manifest_fn fn, void *ctx, struct berr *err);
/* In one write transaction, delete those of list[0..n) whose repository is unchanged since
 * they were listed (same tags_version and manifests_version) and that are still untagged and not
 * pushed after cutoff, with their references. *deleted gets how many went. */
int meta_gc_manifests_delete(struct meta *m, const struct meta_gc_manifest *list, size_t n, int64_t cutoff,
                             int64_t *deleted, struct berr *err);
/* Blobs no manifest references and not used since cutoff, digests after `after` in order,
 * at most limit. fn gets the digest and size. */
int meta_gc_blob_candidates(struct meta *m, int64_t cutoff, const char *after, int64_t limit, meta_blob_fn fn,
                            void *ctx, struct berr *err);
/* In one write transaction: check blob d is still unreferenced and unused since cutoff; if
 * so forget it and call remove (which takes its bytes out of the store) before committing.
 * *deleted says whether it was; *size gets its size then. */
int meta_gc_blob_delete(struct meta *m, const struct digest *d, int64_t cutoff, meta_install_fn remove, void *ctx,
                        bool *deleted, uint64_t *size, struct berr *err);
/* A client asked whether blob d exists (HEAD), probably to push a manifest using it: if no
 * manifest references it and it was last used at stale_before or earlier, start its grace
 * period anew. BERR_BLOB_UNKNOWN if it was collected meanwhile. */
int meta_blob_keep(struct meta *m, const struct digest *d, int64_t stale_before, struct berr *err);
/* Ids of upload sessions with no activity since cutoff, oldest first, at most limit. */
int meta_uploads_expired(struct meta *m, int64_t cutoff, int64_t limit, meta_name_fn fn, void *ctx, struct berr *err);
/* Delete session id if it still had no activity since cutoff; *expired says whether. */
int meta_upload_expire(struct meta *m, const char *id, int64_t cutoff, bool *expired, struct berr *err);
/* Record activity on upload id (written at most once a minute). */
int meta_upload_touch(struct meta *m, const char *id, struct berr *err);
/* One garbage collection run, as recorded. */
struct meta_gc_run {
	int64_t id;
	int64_t started_at, finished_at;
	char trigger[16]; /* "schedule", "api", "command" */
	bool dry_run;
	int64_t manifests_deleted, blobs_deleted, bytes_freed, files_removed, uploads_expired;
	char error[256]; /* "" when the run completed */
};
typedef int (*meta_gc_run_fn)(void *ctx, const struct meta_gc_run *run);
int meta_gc_run_record(struct meta *m, const struct meta_gc_run *run, struct berr *err);
/* The newest runs first, at most limit. */
int meta_gc_runs(struct meta *m, int64_t limit, meta_gc_run_fn fn, void *ctx, struct berr *err);
/* Storage quotas (schema 010). A namespace's usage is the sum of the sizes of the distinct
 * stored blobs its manifests reference (docs/security.md), kept by triggers in the same
 * transaction as each manifest change; meta_manifest_put refuses a manifest that would take
 * its namespace over the quota with BERR_DENIED. */
struct meta_usage {
	char namespace[META_NAME_MAX + 1];
	int64_t quota; /* bytes; -1: no quota */
	int64_t used;  /* bytes */
};
typedef int (*meta_usage_fn)(void *ctx, const struct meta_usage *u);
/* Set namespace ns's quota to `quota` bytes, or remove it (quota < 0). */
int meta_quota_set(struct meta *m, const char *ns, int64_t quota, struct berr *err);
/* Usage and quota of ns: 0 bytes and no quota if nothing was ever counted there. */
int meta_usage_get(struct meta *m, const char *ns, struct meta_usage *out, struct berr *err);
/* Usage and quota of the namespace of repository repo_id. */
int meta_usage_of_repo(struct meta *m, int64_t repo_id, struct meta_usage *out, struct berr *err);
/* Each namespace that has usage or a quota, by name; fn returns non-zero to stop. */
int meta_usage_list(struct meta *m, meta_usage_fn fn, void *ctx, struct berr *err);

#endif
