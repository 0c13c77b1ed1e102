/* Registry metadata over server/db.h: every SQL statement of berthd, written once for both
 * engines (SQLite, the embedded default, and PostgreSQL for several nodes), prepared once
 * per connection (one per thread) and reused; numbered migrations from schema/ (and
 * schema/postgres/) applied at start-up. Write transactions serialize writers on both. */
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/embed.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "server/db.h"
#include "server/meta.h"
#include "server/metrics.h"

extern const struct embed_file schema_files[];
extern const struct embed_file schema_pg_files[];

/* How long a writer waits for another connection's transaction before giving up with 503. */
#define META_BUSY_TIMEOUT_MS 30000

enum stmt_id {
	ST_REPO_LOOKUP,
	ST_REPO_LOOKUP_VERSION,
	ST_REPO_INSERT,
	ST_REPO_TOUCH,
	ST_REPO_BLOB_GET,
	ST_BLOB_GET,
	ST_BLOB_INSERT,
	ST_REPO_BLOB_INSERT,
	ST_REPO_BLOB_DELETE,
	ST_MANIFEST_BY_DIGEST,
	ST_MANIFEST_BY_DIGEST_CONTENT,
	ST_MANIFEST_BY_TAG,
	ST_MANIFEST_BY_TAG_CONTENT,
	ST_MANIFEST_ID,
	ST_MANIFEST_INSERT,
	ST_MANIFEST_UPDATE_TYPE,
	ST_MANIFEST_REF_INSERT,
	ST_MANIFEST_DELETE,
	ST_TAG_UPSERT,
	ST_TAG_DELETE,
	ST_TAGS_LIST,
	ST_CATALOG,
	ST_REFERRERS,
	ST_REFERRERS_TYPE,
	ST_UPLOAD_INSERT,
	ST_UPLOAD_GET,
	ST_UPLOAD_DELETE,
	ST_CATALOG_VISIBLE,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_GET_ID,
	ST_ACCOUNT_INSERT,
	ST_ACCOUNT_UPDATE,
	ST_ACCOUNT_DELETE,
	ST_ACCOUNT_LIST,
	ST_USERS_COUNT,
	ST_MEMBER_UPSERT,
	ST_MEMBER_DELETE,
	ST_MEMBER_LIST,
	ST_MEMBER_ROLE,
	ST_REPO_INFO,
	ST_REPO_GRANT,
	ST_REPO_VISIBILITY,
	ST_GRANT_UPSERT,
	ST_GRANT_DELETE,
	ST_GRANT_LIST,
	ST_BLOB_REPOS,
	ST_PAT_INSERT,
	ST_PAT_GET,
	ST_PAT_TOUCH,
	ST_PAT_LIST,
	ST_PAT_REVOKE,
	ST_REFRESH_INSERT,
	ST_REFRESH_GET,
	ST_REFRESH_TOUCH,
	ST_REFRESH_REVOKE_ALL,
	ST_AUDIT_INSERT,
	ST_AUDIT_LIST,
	ST_SESSION_INSERT,
	ST_SESSION_GET,
	ST_SESSION_TOUCH,
	ST_SESSION_DELETE,
	ST_SESSIONS_DELETE_USER,
	ST_SESSIONS_PURGE,
	ST_USER_ORGS,
	ST_REPO_SEARCH_NAME,
	ST_REPO_SEARCH_UPDATED,
	ST_REPO_SEARCH_PULLS,
	ST_REPO_SEARCH_COUNT,
	ST_REPO_DESCRIBE,
	ST_REPO_UPDATE,
	ST_REPO_DELETE,
	ST_REPO_COUNT_PULL,
	ST_TAGS_PAGE,
	ST_TAGS_COUNT,
	ST_MANIFEST_PULLED,
	ST_BLOBS_EACH,
	ST_BLOB_UNLINK_ALL,
	ST_BLOB_DELETE,
	ST_DANGLING,
	ST_REPL_INSERT,
	ST_REPL_GET,
	ST_REPL_LIST,
	ST_REPL_DELETE,
	ST_REPL_REQUEST,
	ST_REPL_DUE,
	ST_REPL_START,
	ST_REPL_FINISH,
	ST_REPL_RESET,
	/* the pull-through cache (server/proxy.c) */
	ST_MIRROR_REPO_UPSERT,
	ST_MIRROR_REPO_GET,
	ST_MIRROR_TAG_UPSERT,
	ST_MIRROR_TAG_GET,
	/* ops: metrics */
	ST_STORAGE_BY_NAMESPACE,
	ST_STORAGE_TOTAL,
	ST_UPLOADS_COUNT,
	/* ops: tag rules, retention */
	ST_RULE_INSERT,
	ST_RULE_GET,
	ST_RULE_DELETE,
	ST_RULES_LIST,
	ST_RULES_IMMUTABLE_FOR_REPO,
	ST_MANIFEST_TAGS,
	ST_REPOS_ALL,
	ST_REPO_TAG_ROWS,
	ST_TAG_DELETE_IF,
	/* ops: webhooks */
	ST_HOOK_INSERT,
	ST_HOOK_GET,
	ST_HOOK_DELETE,
	ST_HOOKS_LIST,
	ST_HOOKS_FOR_REPO,
	ST_DELIVERY_INSERT,
	ST_DELIVERIES_DUE,
	ST_DELIVERY_UPDATE,
	ST_DELIVERIES_LIST,
	ST_GC_UNTAGGED,
	ST_GC_MANIFEST_DELETE,
	ST_GC_BLOB_CANDIDATES,
	ST_GC_BLOB_RECHECK,
	ST_BLOB_STALE,
	ST_BLOB_KEEP,
	ST_UPLOADS_EXPIRED,
	ST_UPLOAD_EXPIRE,
	ST_UPLOAD_TOUCH,
	ST_GC_RUN_INSERT,
	ST_GC_RUNS_LIST,
	ST_QUOTA_SET,
	ST_USAGE_GET,
	ST_USAGE_LIST,
	ST_USAGE_BY_REPO,
	ST_SETTING_GET,
	ST_SETTING_PUT_NEW,
	ST_DELIVERY_CLAIM,
	ST_COUNT
};

/* The repository listing of the web UI: what the catalog shows the viewer (?1 sees all,
 * ?2 its namespace, ?3 its user id), in namespace ?4 and containing ?5, if given. */
#define REPO_SEARCH_WHERE                                                                                         \
	"EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id) AND (?1 = 1 OR r.visibility = 'public' " \
	"OR (?2 IS NOT NULL AND r.namespace = ?2) "                                                               \
	"OR r.namespace IN (SELECT a.name FROM org_members om JOIN accounts a ON a.id = om.org_id "               \
	"WHERE om.user_id = ?3) "                                                                                 \
	"OR r.id IN (SELECT repository_id FROM repository_grants WHERE user_id = ?3)) "                           \
	"AND (?4 IS NULL OR r.namespace = ?4) "                                                                   \
	"AND (?5 IS NULL OR instr(lower(r.name), ?5) > 0 OR instr(lower(r.description), ?5) > 0)"
#define REPO_SEARCH_SELECT                                                                              \
	"SELECT r.id, r.name, r.namespace, r.visibility, r.description, r.created_at, r.updated_at, "   \
	"(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id), r.pull_count FROM repositories r " \
	"WHERE " REPO_SEARCH_WHERE

#define REPL_SELECT                                                                                            \
	"SELECT id, name, source, COALESCE(username, ''), COALESCE(password, ''), repositories, tags, "        \
	"destination, interval_seconds, created_at, run_requested, COALESCE(last_started_at, 0), "             \
	"COALESCE(last_finished_at, 0), COALESCE(last_result, ''), last_images, last_unchanged, last_errors, " \
	"COALESCE(last_message, ''), total_images FROM replication_rules"

#define META_HOOK_COLUMNS "id, scope_kind, scope, url, secret, events, created_by, created_at"
#define META_RULE_COLUMNS "id, kind, scope_kind, scope, pattern, keep_last, keep_days, created_by, created_at"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_REPO_LOOKUP] = "SELECT id FROM repositories WHERE name = ?1",
    [ST_REPO_LOOKUP_VERSION] = "SELECT id, tags_version FROM repositories WHERE name = ?1",
    [ST_REPO_INSERT] = "INSERT INTO repositories (name, namespace, visibility, created_at, updated_at) "
                       "VALUES (?1, ?3, ?4, ?2, ?2) ON CONFLICT (name) DO NOTHING",
    /* After a manifest push: garbage collection reads manifests_version (docs/internals/gc.md). */
    [ST_REPO_TOUCH] =
        "UPDATE repositories SET updated_at = ?2, manifests_version = manifests_version + 1 WHERE id = ?1",
    [ST_REPO_BLOB_GET] = "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest "
                         "WHERE rb.repository_id = ?1 AND rb.digest = ?2",
    [ST_BLOB_GET] = "SELECT size FROM blobs WHERE digest = ?1",
    /* A blob uploaded or linked again starts its garbage collection grace period anew. */
    [ST_BLOB_INSERT] = "INSERT INTO blobs (digest, size, created_at, last_used_at) VALUES (?1, ?2, ?3, ?3) "
                       "ON CONFLICT (digest) DO UPDATE SET last_used_at = excluded.last_used_at",
    [ST_REPO_BLOB_INSERT] = "INSERT INTO repository_blobs (repository_id, digest, created_at) "
                            "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [ST_REPO_BLOB_DELETE] = "DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2",
    [ST_MANIFEST_BY_DIGEST] = "SELECT digest, media_type, size FROM manifests "
                              "WHERE repository_id = ?1 AND digest = ?2",
    [ST_MANIFEST_BY_DIGEST_CONTENT] = "SELECT digest, media_type, size, content FROM manifests "
                                      "WHERE repository_id = ?1 AND digest = ?2",
    [ST_MANIFEST_BY_TAG] = "SELECT m.digest, m.media_type, m.size FROM tags t "
                           "JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ?1 AND t.name = ?2",
    [ST_MANIFEST_BY_TAG_CONTENT] = "SELECT m.digest, m.media_type, m.size, m.content FROM tags t "
                                   "JOIN manifests m ON m.id = t.manifest_id "
                                   "WHERE t.repository_id = ?1 AND t.name = ?2",
    [ST_MANIFEST_ID] = "SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?2",
    [ST_MANIFEST_INSERT] = "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject, "
                           "annotations, size, content, created_at, pushed_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
    [ST_MANIFEST_UPDATE_TYPE] = "UPDATE manifests SET media_type = ?2, pushed_at = ?3 WHERE id = ?1",
    [ST_MANIFEST_REF_INSERT] = "INSERT INTO manifest_references (manifest_id, kind, position, digest, size, "
                               "media_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_MANIFEST_DELETE] = "DELETE FROM manifests WHERE repository_id = ?1 AND digest = ?2",
    [ST_TAG_UPSERT] = "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?1, ?2, ?3, ?4) "
                      "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, "
                      "updated_at = excluded.updated_at",
    [ST_TAG_DELETE] = "DELETE FROM tags WHERE repository_id = ?1 AND name = ?2",
    [ST_TAGS_LIST] = "SELECT name FROM tags WHERE repository_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
    [ST_CATALOG] = "SELECT r.name FROM repositories r WHERE r.name > ?1 AND EXISTS "
                   "(SELECT 1 FROM manifests m WHERE m.repository_id = r.id) ORDER BY r.name LIMIT ?2",
    [ST_REFERRERS] = "SELECT digest, media_type, artifact_type, annotations, size FROM manifests "
                     "WHERE repository_id = ?1 AND subject = ?2 ORDER BY digest",
    [ST_REFERRERS_TYPE] = "SELECT digest, media_type, artifact_type, annotations, size FROM manifests "
                          "WHERE repository_id = ?1 AND subject = ?2 AND artifact_type = ?3 ORDER BY digest",
    [ST_UPLOAD_INSERT] = "INSERT INTO uploads (id, repository_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
    [ST_UPLOAD_GET] = "SELECT repository_id FROM uploads WHERE id = ?1",
    [ST_UPLOAD_DELETE] = "DELETE FROM uploads WHERE id = ?1",
    [ST_CATALOG_VISIBLE] =
        "SELECT r.name FROM repositories r WHERE r.name > ?1 AND EXISTS "
        "(SELECT 1 FROM manifests m WHERE m.repository_id = r.id) AND (?3 = 1 OR r.visibility = 'public' "
        "OR (?4 IS NOT NULL AND r.namespace = ?4) "
        "OR r.namespace IN (SELECT a.name FROM org_members om JOIN accounts a ON a.id = om.org_id "
        "WHERE om.user_id = ?5) "
        "OR r.id IN (SELECT repository_id FROM repository_grants WHERE user_id = ?5)) ORDER BY r.name LIMIT ?2",
    [ST_ACCOUNT_GET] = "SELECT id, name, kind, COALESCE(email, ''), COALESCE(password_hash, ''), is_admin, "
                       "disabled, created_at FROM accounts WHERE name = ?1",
    [ST_ACCOUNT_GET_ID] = "SELECT id, name, kind, COALESCE(email, ''), COALESCE(password_hash, ''), is_admin, "
                          "disabled, created_at FROM accounts WHERE id = ?1",
    [ST_ACCOUNT_INSERT] = "INSERT INTO accounts (name, kind, email, password_hash, is_admin, disabled, created_at, "
                          "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6) RETURNING id",
    [ST_ACCOUNT_UPDATE] = "UPDATE accounts SET password_hash = COALESCE(?2, password_hash), "
                          "email = COALESCE(?3, email), is_admin = CASE WHEN ?4 < 0 THEN is_admin ELSE ?4 END, "
                          "disabled = CASE WHEN ?5 < 0 THEN disabled ELSE ?5 END, updated_at = ?6 WHERE name = ?1",
    [ST_ACCOUNT_DELETE] = "DELETE FROM accounts WHERE name = ?1",
    [ST_ACCOUNT_LIST] = "SELECT id, name, kind, COALESCE(email, ''), COALESCE(password_hash, ''), is_admin, "
                        "disabled, created_at FROM accounts WHERE ?1 = 0 OR (?1 = 1 AND kind = 'user') "
                        "OR (?1 = 2 AND kind = 'org') ORDER BY name",
    [ST_USERS_COUNT] = "SELECT COUNT(*) FROM accounts WHERE kind = 'user'",
    [ST_MEMBER_UPSERT] = "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4) "
                         "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
    [ST_MEMBER_DELETE] = "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
    [ST_MEMBER_LIST] = "SELECT a.name, om.role FROM org_members om JOIN accounts a ON a.id = om.user_id "
                       "WHERE om.org_id = ?1 ORDER BY a.name",
    [ST_MEMBER_ROLE] = "SELECT om.role FROM org_members om JOIN accounts o ON o.id = om.org_id "
                       "WHERE o.name = ?2 AND o.kind = 'org' AND om.user_id = ?1",
    [ST_REPO_INFO] = "SELECT id, visibility FROM repositories WHERE name = ?1",
    [ST_REPO_GRANT] = "SELECT permission FROM repository_grants WHERE repository_id = ?1 AND user_id = ?2",
    [ST_REPO_VISIBILITY] = "UPDATE repositories SET visibility = ?2, updated_at = ?3 WHERE name = ?1",
    [ST_GRANT_UPSERT] = "INSERT INTO repository_grants (repository_id, user_id, permission, created_at) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repository_id, user_id) "
                        "DO UPDATE SET permission = excluded.permission",
    [ST_GRANT_DELETE] = "DELETE FROM repository_grants WHERE repository_id = ?1 AND user_id = ?2",
    [ST_GRANT_LIST] = "SELECT a.name, g.permission FROM repository_grants g JOIN accounts a ON a.id = g.user_id "
                      "WHERE g.repository_id = ?1 ORDER BY a.name",
    [ST_BLOB_REPOS] = "SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id "
                      "WHERE rb.digest = ?1 ORDER BY r.name LIMIT 100",
    [ST_PAT_INSERT] = "INSERT INTO access_tokens (user_id, name, scope, secret_hash, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
    [ST_PAT_GET] = "SELECT id, user_id, name, scope, created_at, COALESCE(last_used_at, 0), COALESCE(revoked_at, 0) "
                   "FROM access_tokens WHERE secret_hash = ?1",
    [ST_PAT_TOUCH] = "UPDATE access_tokens SET last_used_at = ?2 WHERE id = ?1 AND "
                     "(last_used_at IS NULL OR last_used_at < ?2 - 60)",
    [ST_PAT_LIST] = "SELECT id, user_id, name, scope, created_at, COALESCE(last_used_at, 0), COALESCE(revoked_at, 0) "
                    "FROM access_tokens WHERE user_id = ?1 ORDER BY id",
    [ST_PAT_REVOKE] = "UPDATE access_tokens SET revoked_at = ?3 WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL",
    [ST_REFRESH_INSERT] = "INSERT INTO refresh_tokens (user_id, client_id, secret_hash, scope_cap, created_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_REFRESH_GET] = "SELECT id, user_id, COALESCE(scope_cap, '') FROM refresh_tokens "
                       "WHERE secret_hash = ?1 AND revoked_at IS NULL",
    [ST_REFRESH_TOUCH] = "UPDATE refresh_tokens SET last_used_at = ?2 WHERE id = ?1",
    [ST_REFRESH_REVOKE_ALL] = "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
    [ST_AUDIT_INSERT] = "INSERT INTO audit_log (at, actor, action, target, detail, remote_addr) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_AUDIT_LIST] = "SELECT id, at, actor, action, target, detail, remote_addr FROM audit_log "
                      "WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
    [ST_SESSION_INSERT] = "INSERT INTO sessions (user_id, secret_hash, csrf_token, created_at, last_seen_at, "
                          "expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5) RETURNING id",
    [ST_SESSION_GET] = "SELECT id, user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions "
                       "WHERE secret_hash = ?1 AND expires_at > ?2 AND last_seen_at > ?3",
    [ST_SESSION_TOUCH] = "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2 - 60",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
    [ST_SESSIONS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2",
    [ST_SESSIONS_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2",
    [ST_USER_ORGS] = "SELECT a.name, om.role FROM org_members om JOIN accounts a ON a.id = om.org_id "
                     "WHERE om.user_id = ?1 ORDER BY a.name",
    [ST_REPO_SEARCH_NAME] = REPO_SEARCH_SELECT " ORDER BY r.name LIMIT ?6 OFFSET ?7",
    [ST_REPO_SEARCH_UPDATED] = REPO_SEARCH_SELECT " ORDER BY r.updated_at DESC, r.name LIMIT ?6 OFFSET ?7",
    [ST_REPO_SEARCH_PULLS] = REPO_SEARCH_SELECT " ORDER BY r.pull_count DESC, r.name LIMIT ?6 OFFSET ?7",
    [ST_REPO_SEARCH_COUNT] = "SELECT COUNT(*) FROM repositories r WHERE " REPO_SEARCH_WHERE,
    [ST_REPO_DESCRIBE] = "SELECT r.id, r.name, r.namespace, r.visibility, r.description, r.created_at, "
                         "r.updated_at, (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id), r.pull_count, "
                         "r.full_description FROM repositories r WHERE r.name = ?1",
    [ST_REPO_UPDATE] = "UPDATE repositories SET visibility = COALESCE(?2, visibility), "
                       "description = COALESCE(?3, description), "
                       "full_description = COALESCE(?4, full_description) WHERE name = ?1",
    [ST_REPO_DELETE] = "DELETE FROM repositories WHERE id = ?1",
    [ST_REPL_INSERT] = "INSERT INTO replication_rules (name, source, username, password, repositories, tags, "
                       "destination, interval_seconds, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                       "ON CONFLICT (name) DO NOTHING",
    [ST_REPL_GET] = REPL_SELECT " WHERE name = ?1",
    [ST_REPL_LIST] = REPL_SELECT " ORDER BY name",
    [ST_REPL_DELETE] = "DELETE FROM replication_rules WHERE name = ?1",
    [ST_REPL_REQUEST] = "UPDATE replication_rules SET run_requested = 1 WHERE name = ?1",
    /* Asked-for runs first, then the rule waiting longest past its interval. */
    [ST_REPL_DUE] =
        REPL_SELECT " WHERE (run_requested = 1 OR (interval_seconds > 0 AND "
                    "COALESCE(last_started_at, 0) + interval_seconds <= ?1)) "
                    /* not while a run is going on (another node's, on a shared database),
                     * unless it started so long ago that its node must have died */
                    "AND (last_result IS NULL OR last_result <> 'running' OR last_started_at <= ?1 - ?2) "
                    "ORDER BY run_requested DESC, COALESCE(last_started_at, 0) + interval_seconds, id LIMIT 1",
    [ST_REPL_START] = "UPDATE replication_rules SET run_requested = 0, last_started_at = ?2, "
                      "last_result = 'running' WHERE id = ?1",
    [ST_REPL_FINISH] = "UPDATE replication_rules SET last_finished_at = ?2, last_result = ?3, last_images = ?4, "
                       "last_unchanged = ?5, last_errors = ?6, last_message = ?7, "
                       "total_images = total_images + ?4 WHERE id = ?1",
    [ST_REPL_RESET] = "UPDATE replication_rules SET last_result = 'failed', last_finished_at = ?1, "
                      "last_message = 'interrupted: berthd stopped during the run' WHERE last_result = 'running'",
    [ST_REPO_COUNT_PULL] = "UPDATE repositories SET pull_count = pull_count + ?2 WHERE id = ?1",
    /* An image's size is its config and layers; an index's, those of its manifests that
     * are in the repository. */
    [ST_TAGS_PAGE] = "SELECT t.name, m.digest, m.media_type, t.updated_at, "
                     "COALESCE((SELECT SUM(x.size) FROM manifest_references x WHERE x.manifest_id = m.id "
                     "AND x.kind IN (0, 1)), 0) + "
                     "COALESCE((SELECT SUM(y.size) FROM manifest_references c "
                     "JOIN manifests cm ON cm.repository_id = m.repository_id AND cm.digest = c.digest "
                     "JOIN manifest_references y ON y.manifest_id = cm.id AND y.kind IN (0, 1) "
                     "WHERE c.manifest_id = m.id AND c.kind = 2), 0), m.last_pulled_at "
                     "FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ?1 "
                     "ORDER BY t.name LIMIT ?2 OFFSET ?3",
    [ST_TAGS_COUNT] = "SELECT COUNT(*) FROM tags WHERE repository_id = ?1",
    [ST_MANIFEST_PULLED] = "UPDATE manifests SET last_pulled_at = ?3 WHERE repository_id = ?1 AND digest = ?2 "
                           "AND (last_pulled_at IS NULL OR last_pulled_at < ?3)",
    [ST_BLOBS_EACH] = "SELECT digest, size FROM blobs ORDER BY digest",
    [ST_BLOB_UNLINK_ALL] = "DELETE FROM repository_blobs WHERE digest = ?1",
    [ST_BLOB_DELETE] = "DELETE FROM blobs WHERE digest = ?1",
    [ST_DANGLING] = "SELECT r.name, m.digest, mr.digest, mr.kind FROM manifest_references mr "
                    "JOIN manifests m ON m.id = mr.manifest_id JOIN repositories r ON r.id = m.repository_id "
                    "WHERE ((mr.kind IN (0, 1) AND mr.media_type NOT LIKE '%foreign%' "
                    "AND mr.media_type NOT LIKE '%nondistributable%' "
                    "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mr.digest)) "
                    "OR (mr.kind = 2 AND NOT EXISTS (SELECT 1 FROM manifests c "
                    "WHERE c.repository_id = m.repository_id AND c.digest = mr.digest))) "
                    /* a cached repository fetches what its manifests name on first pull */
                    "AND NOT EXISTS (SELECT 1 FROM mirror_repositories mi WHERE mi.repository_id = r.id) "
                    "ORDER BY r.name, m.digest",
    [ST_MIRROR_REPO_UPSERT] = "INSERT INTO mirror_repositories (repository_id, upstream, last_checked) "
                              "VALUES (?1, ?2, ?3) ON CONFLICT (repository_id) "
                              "DO UPDATE SET upstream = ?2, last_checked = ?3",
    [ST_MIRROR_REPO_GET] = "SELECT upstream, last_checked FROM mirror_repositories WHERE repository_id = ?1",
    [ST_MIRROR_TAG_UPSERT] = "INSERT INTO mirror_tags (repository_id, name, checked_at) VALUES (?1, ?2, ?3) "
                             "ON CONFLICT (repository_id, name) DO UPDATE SET checked_at = ?3",
    [ST_MIRROR_TAG_GET] = "SELECT checked_at FROM mirror_tags WHERE repository_id = ?1 AND name = ?2",
    /* ops: metrics. A blob linked into several repositories of a namespace counts once
     * there, and once in every other namespace it is linked into. */
    [ST_STORAGE_BY_NAMESPACE] = "SELECT x.namespace, COUNT(*), COALESCE(SUM(b.size), 0) FROM "
                                "(SELECT DISTINCT r.namespace AS namespace, rb.digest AS digest "
                                "FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id) x "
                                "JOIN blobs b ON b.digest = x.digest GROUP BY x.namespace ORDER BY x.namespace",
    [ST_STORAGE_TOTAL] = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
    [ST_UPLOADS_COUNT] = "SELECT COUNT(*) FROM uploads",
    /* ops: tag rules, retention */
    [ST_RULE_INSERT] = "INSERT INTO tag_rules (kind, scope_kind, scope, pattern, keep_last, keep_days, created_by, "
                       "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    [ST_RULE_GET] = "SELECT " META_RULE_COLUMNS " FROM tag_rules WHERE id = ?1",
    [ST_RULE_DELETE] = "DELETE FROM tag_rules WHERE id = ?1",
    [ST_RULES_LIST] = "SELECT " META_RULE_COLUMNS " FROM tag_rules WHERE (?1 IS NULL OR kind = ?1) "
                      "AND (?2 IS NULL OR scope_kind = ?2) AND (?3 IS NULL OR scope = ?3) ORDER BY id",
    [ST_RULES_IMMUTABLE_FOR_REPO] = "SELECT " META_RULE_COLUMNS " FROM tag_rules WHERE kind = 'immutable' AND "
                                    "((scope_kind = 'repository' AND scope = (SELECT name FROM repositories "
                                    "WHERE id = ?1)) OR (scope_kind = 'namespace' AND scope = "
                                    "(SELECT namespace FROM repositories WHERE id = ?1))) ORDER BY id",
    [ST_MANIFEST_TAGS] = "SELECT t.name FROM tags t JOIN manifests m ON m.id = t.manifest_id "
                         "WHERE m.repository_id = ?1 AND m.digest = ?2 ORDER BY t.name",
    [ST_REPOS_ALL] = "SELECT id, name, namespace FROM repositories ORDER BY name",
    [ST_REPO_TAG_ROWS] = "SELECT t.name, m.digest, t.updated_at, m.last_pulled_at FROM tags t "
                         "JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ?1 ORDER BY t.name",
    [ST_TAG_DELETE_IF] = "DELETE FROM tags WHERE repository_id = ?1 AND name = ?2 AND updated_at = ?3 AND "
                         "manifest_id = (SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?4)",
    /* ops: webhooks */
    [ST_HOOK_INSERT] = "INSERT INTO webhooks (scope_kind, scope, url, secret, events, created_by, created_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    [ST_HOOK_GET] = "SELECT " META_HOOK_COLUMNS " FROM webhooks WHERE id = ?1",
    [ST_HOOK_DELETE] = "DELETE FROM webhooks WHERE id = ?1",
    [ST_HOOKS_LIST] = "SELECT " META_HOOK_COLUMNS " FROM webhooks WHERE (?1 IS NULL OR scope_kind = ?1) "
                      "AND (?2 IS NULL OR scope = ?2) ORDER BY id",
    [ST_HOOKS_FOR_REPO] = "SELECT " META_HOOK_COLUMNS " FROM webhooks WHERE (scope_kind = 'repository' AND "
                          "scope = ?1) OR (scope_kind = 'namespace' AND scope = ?2) ORDER BY id",
    [ST_DELIVERY_INSERT] = "INSERT INTO webhook_deliveries (webhook_id, event, payload, state, attempts, "
                           "next_attempt_at, created_at) VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4)",
    [ST_DELIVERIES_DUE] = "SELECT d.id, d.webhook_id, d.event, d.payload, d.attempts, w.url, w.secret "
                          "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                          "WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 ORDER BY d.next_attempt_at, d.id "
                          "LIMIT ?2",
    [ST_DELIVERY_UPDATE] = "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
                           "last_status = ?5, last_error = ?6, finished_at = ?7 WHERE id = ?1",
    [ST_DELIVERIES_LIST] = "SELECT id, webhook_id, event, payload, state, attempts, next_attempt_at, last_status, "
                           "last_error, created_at, finished_at FROM webhook_deliveries WHERE webhook_id = ?1 "
                           "AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
    /* Manifests garbage collection may delete: not reachable from a tag or from one pushed
     * after ?1, where reaching goes from an index to its children, from a referrer to its
     * subject and from a subject to its referrers (all within one repository). The edges are
     * built once, with index lookups, so the closure costs one pass per level, not a scan of
     * every manifest per live one. */
    [ST_GC_UNTAGGED] =
        "WITH RECURSIVE edges(src, dst) AS MATERIALIZED ("
        "SELECT p.id, n.id FROM manifests p JOIN manifests n "
        "ON n.repository_id = p.repository_id AND n.digest = p.subject WHERE p.subject IS NOT NULL "
        "UNION ALL "
        "SELECT p.id, n.id FROM manifests n JOIN manifests p "
        "ON p.repository_id = n.repository_id AND p.digest = n.subject WHERE n.subject IS NOT NULL "
        "UNION ALL "
        "SELECT x.manifest_id, n.id FROM manifest_references x JOIN manifests p ON p.id = x.manifest_id "
        "JOIN manifests n ON n.repository_id = p.repository_id AND n.digest = x.digest WHERE x.kind = 2), "
        "live(id) AS ("
        "SELECT m.id FROM manifests m WHERE m.pushed_at > ?1 "
        "OR EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id) "
        "UNION "
        "SELECT e.dst FROM live l JOIN edges e ON e.src = l.id) "
        "SELECT m.id, m.repository_id, r.tags_version, r.manifests_version FROM manifests m "
        "JOIN repositories r ON r.id = m.repository_id WHERE m.id NOT IN (SELECT id FROM live) ORDER BY m.id",
    /* Delete manifest ?1 if its repository ?2 changed no tag (?3) and took no manifest push
     * (?4) since the candidates were listed, and it is still untagged and old (?5). */
    [ST_GC_MANIFEST_DELETE] = "DELETE FROM manifests WHERE id = ?1 AND repository_id = ?2 AND pushed_at <= ?5 "
                              "AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = ?1) "
                              "AND EXISTS (SELECT 1 FROM repositories r WHERE r.id = ?2 "
                              "AND r.tags_version = ?3 AND r.manifests_version = ?4)",
    /* Blobs no manifest references as config or layer and last used at ?1 or before, after ?2. */
    [ST_GC_BLOB_CANDIDATES] = "SELECT b.digest, b.size FROM blobs b WHERE b.last_used_at <= ?1 AND b.digest > ?2 "
                              "AND NOT EXISTS (SELECT 1 FROM manifest_references r "
                              "WHERE r.digest = b.digest AND r.kind IN (0, 1)) ORDER BY b.digest LIMIT ?3",
    [ST_GC_BLOB_RECHECK] = "SELECT b.size FROM blobs b WHERE b.digest = ?1 AND b.last_used_at <= ?2 "
                           "AND NOT EXISTS (SELECT 1 FROM manifest_references r "
                           "WHERE r.digest = b.digest AND r.kind IN (0, 1))",
    [ST_BLOB_STALE] = "SELECT 1 FROM blobs b WHERE b.digest = ?1 AND b.last_used_at <= ?2 "
                      "AND NOT EXISTS (SELECT 1 FROM manifest_references r "
                      "WHERE r.digest = b.digest AND r.kind IN (0, 1))",
    [ST_BLOB_KEEP] = "UPDATE blobs SET last_used_at = ?2 WHERE digest = ?1",
    [ST_UPLOADS_EXPIRED] = "SELECT id FROM uploads WHERE updated_at <= ?1 ORDER BY updated_at LIMIT ?2",
    [ST_UPLOAD_EXPIRE] = "DELETE FROM uploads WHERE id = ?1 AND updated_at <= ?2",
    [ST_UPLOAD_TOUCH] = "UPDATE uploads SET updated_at = ?2 WHERE id = ?1 AND updated_at < ?2 - 60",
    [ST_GC_RUN_INSERT] = "INSERT INTO gc_runs (started_at, finished_at, trigger_source, dry_run, manifests_deleted, "
                         "blobs_deleted, bytes_freed, files_removed, uploads_expired, error) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_GC_RUNS_LIST] = "SELECT id, started_at, finished_at, trigger_source, dry_run, manifests_deleted, "
                        "blobs_deleted, bytes_freed, files_removed, uploads_expired, error FROM gc_runs "
                        "ORDER BY id DESC LIMIT ?1",
    [ST_QUOTA_SET] = "INSERT INTO namespace_usage (namespace, quota, used) "
                     "VALUES (?1, CASE WHEN ?2 < 0 THEN NULL ELSE ?2 END, 0) "
                     "ON CONFLICT (namespace) DO UPDATE SET quota = excluded.quota",
    [ST_USAGE_GET] = "SELECT namespace, COALESCE(quota, -1), used FROM namespace_usage WHERE namespace = ?1",
    [ST_USAGE_LIST] = "SELECT namespace, COALESCE(quota, -1), used FROM namespace_usage "
                      "WHERE used > 0 OR quota IS NOT NULL ORDER BY namespace",
    [ST_USAGE_BY_REPO] = "SELECT r.namespace, COALESCE(u.quota, -1), COALESCE(u.used, 0) FROM repositories r "
                         "LEFT JOIN namespace_usage u ON u.namespace = r.namespace WHERE r.id = ?1",
    /* A node takes a due delivery for a while, so no other node sends it too. */
    [ST_DELIVERY_CLAIM] = "UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1 AND state = 'pending' "
                          "AND next_attempt_at <= ?3",
    [ST_SETTING_GET] = "SELECT value FROM shared_settings WHERE name = ?1",
    [ST_SETTING_PUT_NEW] = "INSERT INTO shared_settings (name, value, created_at) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT (name) DO NOTHING",
};

struct meta {
	struct db *db;
	struct db_stmt *stmt[ST_COUNT];
	struct meta *next; /* in the list of all connections, for shutdown */
};

static struct db_stmt *meta_bind(struct meta *m, enum stmt_id id, struct berr *err, const char *types, ...);
static int meta_insert_id(struct meta *m, struct db_stmt *st, const char *what, int64_t *id, struct berr *err);
static int meta_exec_bound(struct meta *m, struct db_stmt *st, const char *what, int *changes, struct berr *err);
/* ops: tag immutability checks, run inside the transaction of the change they guard. */
static int meta_immutable_check_tag(struct meta *m, int64_t repo_id, const char *tag, const struct digest *new_digest,
                                    struct berr *err);
static int meta_immutable_check_put(struct meta *m, int64_t repo_id, const struct digest *d, const char *const *tags,
                                    size_t ntags, struct berr *err);
static int meta_immutable_check_manifest(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err);

static char *meta_target; /* the SQLite file's path or the PostgreSQL URL */
static bool meta_default_public;
static pthread_mutex_t meta_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct meta *meta_list;
static __thread struct meta *meta_tls;

static int64_t meta_now(void)
{
	return (int64_t)time(NULL);
}

/* Turn a database failure into a berr: busy/locked (or a lost PostgreSQL connection) is a
 * transient 503, a full disk 507, the rest a 500. */
static int meta_fail(struct meta *m, int rc, const char *what, struct berr *err)
{
	if (rc == DB_BUSY)
		return berr_set(err, BERR_UNAVAILABLE, "database busy (%s); retry", what);
	if (rc == DB_FULL)
		return berr_set(err, BERR_STORAGE_FULL, "the disk is full (%s): no space for the database", what);
	return berr_set(err, BERR_INTERNAL, "database error in %s: %s", what, m ? db_errmsg(m->db) : "");
}

static int meta_exec(struct db *db, const char *sql, struct berr *err)
{
	int rc = db_exec(db, sql);
	if (rc != DB_OK)
		return berr_set(err, rc == DB_BUSY ? BERR_UNAVAILABLE : BERR_INTERNAL, "database: %s", db_errmsg(db));
	return 0;
}

static struct db_stmt *meta_stmt(struct meta *m, enum stmt_id id, struct berr *err)
{
	struct db_stmt *st = m->stmt[id];
	if (!st) {
		int rc = db_prepare(m->db, stmt_sql[id], &st);
		if (rc != DB_OK) {
			meta_fail(m, rc, "prepare", err);
			return NULL;
		}
		m->stmt[id] = st;
	}
	return st;
}

/* Run a statement that returns no rows (bindings already made), then reset it. */
static int meta_step_done(struct meta *m, struct db_stmt *st, const char *what, struct berr *err)
{
	int rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE && rc != DB_ROW)
		return meta_fail(m, rc, what, err);
	return 0;
}

static int meta_begin(struct meta *m, struct berr *err)
{
	int rc = db_begin(m->db);
	return rc == DB_OK ? 0 : meta_fail(m, rc, "begin", err);
}

static int meta_commit(struct meta *m, struct berr *err)
{
	int rc = db_commit(m->db);
	return rc == DB_OK ? 0 : meta_fail(m, rc, "commit", err);
}

static void meta_rollback(struct meta *m)
{
	db_rollback(m->db);
}

static void bind_text(struct db_stmt *st, int i, const char *s)
{
	db_bind_text(st, i, s);
}

/* The schema's version: 0 before the first migration. */
static int meta_version(struct db *db, int *version, struct berr *err)
{
	struct db_stmt *st = NULL;
	int rc = db_prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &st);
	if (rc == DB_OK) {
		rc = db_step(st);
		if (rc == DB_ROW)
			*version = (int)db_column_int64(st, 0);
		db_finalize(st);
	}
	if (rc != DB_ROW)
		return berr_set(err, rc == DB_BUSY ? BERR_UNAVAILABLE : BERR_INTERNAL, "read the schema version: %s",
		                db_errmsg(db));
	return 0;
}

/* Apply every embedded migration newer than the database's version, each in its own write
 * transaction together with its row in schema_migrations. The version is read inside that
 * transaction, so nodes starting together against one PostgreSQL apply each step once. */
static int meta_migrate(struct db *db, struct berr *err)
{
	const struct embed_file *files = db_engine(db) == DB_POSTGRES ? schema_pg_files : schema_files;
	int latest = 0;
	for (const struct embed_file *f = files; f->name; f++) {
		int version = atoi(f->name);
		if (version > latest)
			latest = version;
	}
	for (;;) {
		if (db_begin(db) != DB_OK)
			return berr_set(err, BERR_UNAVAILABLE, "database: %s", db_errmsg(db));
		int current = 0;
		if (meta_exec(db,
		              "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
		              "name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
		              err) < 0 ||
		    meta_version(db, &current, err) < 0) {
			db_rollback(db);
			return -1;
		}
		if (current > latest) {
			db_rollback(db);
			return berr_set(err, BERR_INTERNAL,
			                "database schema version %d is newer than this berthd (%d): upgrade berthd",
			                current, latest);
		}
		if (current == latest)
			return db_commit(db) == DB_OK ? 0 : berr_set(err, BERR_INTERNAL, "database: %s", db_errmsg(db));
		/* The embedded table is in file-name order already, but do not rely on it. */
		int v = current + 1;
		const struct embed_file *mig = NULL;
		for (const struct embed_file *f = files; f->name; f++)
			if (atoi(f->name) == v)
				mig = f;
		if (!mig) {
			db_rollback(db);
			return berr_set(err, BERR_INTERNAL, "schema migration %03d is missing", v);
		}
		if (meta_exec(db, (const char *)mig->data, err) < 0) {
			berr_prefix(err, "schema migration %s", mig->name);
			db_rollback(db);
			return -1;
		}
		cleanup_free char *ins = xasprintf("INSERT INTO schema_migrations (version, name, applied_at) "
		                                   "VALUES (%d, '%s', %lld)",
		                                   v, mig->name, (long long)meta_now());
		if (meta_exec(db, ins, err) < 0 || db_commit(db) != DB_OK) {
			if (err && err->code == BERR_NONE)
				berr_set(err, BERR_INTERNAL, "database: %s", db_errmsg(db));
			db_rollback(db);
			return -1;
		}
		log_info("database: applied schema migration %s", mig->name);
	}
}

int meta_init(const char *target, struct berr *err)
{
	struct db *db = NULL;
	if (db_open(target, META_BUSY_TIMEOUT_MS, &db, err) < 0)
		return -1;
	int rc = meta_migrate(db, err);
	if (rc == 0 && db_check(db, err) < 0)
		rc = -1;
	if (rc < 0 && db_engine(db) == DB_SQLITE)
		berr_prefix(err, "database %s", target);
	db_close(db);
	if (rc == 0) {
		free(meta_target);
		meta_target = xstrdup(target);
	}
	return rc;
}

static void meta_close(struct meta *m)
{
	for (int i = 0; i < ST_COUNT; i++)
		db_finalize(m->stmt[i]);
	db_close(m->db);
	free(m);
}

void meta_shutdown(void)
{
	pthread_mutex_lock(&meta_list_lock);
	for (struct meta *m = meta_list, *next; m; m = next) {
		next = m->next;
		meta_close(m);
	}
	meta_list = NULL;
	pthread_mutex_unlock(&meta_list_lock);
	meta_tls = NULL;
	free(meta_target);
	meta_target = NULL;
}

struct meta *meta_get(struct berr *err)
{
	if (meta_tls)
		return meta_tls;
	if (!meta_target) {
		berr_set(err, BERR_INTERNAL, "database not initialised");
		return NULL;
	}
	struct meta *m = xcalloc(1, sizeof *m);
	if (db_open(meta_target, META_BUSY_TIMEOUT_MS, &m->db, err) < 0) {
		free(m);
		return NULL;
	}
	pthread_mutex_lock(&meta_list_lock);
	m->next = meta_list;
	meta_list = m;
	pthread_mutex_unlock(&meta_list_lock);
	meta_tls = m;
	return m;
}

bool meta_is_shared(struct meta *m)
{
	return db_engine(m->db) == DB_POSTGRES;
}

/* The advisory lock key of garbage collection: "BerthGC" in ASCII. */
#define META_GC_LOCK 0x4265727468474322LL

int meta_gc_lock(struct meta *m, struct berr *err)
{
	bool got = false;
	int rc = db_try_lock(m->db, META_GC_LOCK, &got);
	if (rc != DB_OK)
		return meta_fail(m, rc, "garbage collection lock", err);
	return got ? 0 : berr_set(err, BERR_CONFLICT, "a garbage collection is running on another node");
}

void meta_gc_unlock(struct meta *m)
{
	db_unlock(m->db, META_GC_LOCK);
}

/* An upload's lock key: FNV-1a of its id, kept clear of META_GC_LOCK's value. */
static int64_t meta_upload_key(const char *id)
{
	uint64_t h = 14695981039346656037ULL;
	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (int64_t)(h | 1ULL << 62);
}

int meta_upload_lock(struct meta *m, const char *id, bool *got, struct berr *err)
{
	int rc = db_try_lock(m->db, meta_upload_key(id), got);
	return rc == DB_OK ? 0 : meta_fail(m, rc, "upload lock", err);
}

void meta_upload_unlock(struct meta *m, const char *id)
{
	db_unlock(m->db, meta_upload_key(id));
}

int meta_setting_get(struct meta *m, const char *name, char **value, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_SETTING_GET, err, "t", name);
	if (!st)
		return -1;
	int rc = db_step(st);
	if (rc == DB_ROW) {
		const char *v = db_column_text(st, 0);
		*value = xstrdup(v ? v : "");
	}
	db_reset(st);
	if (rc == DB_ROW)
		return 1;
	return rc == DB_DONE ? 0 : meta_fail(m, rc, "read a shared setting", err);
}

int meta_setting_put_new(struct meta *m, const char *name, const char *value, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_SETTING_PUT_NEW, err, "tti", name, value, meta_now()),
	                       "store a shared setting", NULL, err);
}

/* Run a one-row lookup keyed by (int64, text) or (text); returns 1 found, 0 not, -1 error,
 * leaving the statement positioned on the row for the caller to read, then reset by it. */
static int meta_lookup_row(struct meta *m, struct db_stmt *st, const char *what, struct berr *err)
{
	int rc = db_step(st);
	if (rc == DB_ROW)
		return 1;
	db_reset(st);
	if (rc == DB_DONE)
		return 0;
	return meta_fail(m, rc, what, err);
}

static void meta_reset(struct db_stmt *st)
{
	db_reset(st);
}

int meta_repo_lookup(struct meta *m, const char *name, int64_t *id, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_REPO_LOOKUP, err);
	if (!st)
		return -1;
	bind_text(st, 1, name);
	int r = meta_lookup_row(m, st, "repository lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_NAME_UNKNOWN, "repository %s is not known", name);
	*id = db_column_int64(st, 0);
	meta_reset(st);
	return 0;
}

int meta_repo_lookup_version(struct meta *m, const char *name, int64_t *id, int64_t *tags_version, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_REPO_LOOKUP_VERSION, err, "t", name);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "repository lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_NAME_UNKNOWN, "repository %s is not known", name);
	*id = db_column_int64(st, 0);
	*tags_version = db_column_int64(st, 1);
	meta_reset(st);
	return 0;
}

/* repo_ensure inside an open transaction (or autocommit). */
static int meta_repo_ensure_in(struct meta *m, const char *name, int64_t *id, struct berr *err)
{
	struct berr e2;
	if (meta_repo_lookup(m, name, id, &e2) == 0)
		return 0;
	if (e2.code != BERR_NAME_UNKNOWN) {
		if (err)
			*err = e2;
		return -1;
	}
	struct db_stmt *st = meta_stmt(m, ST_REPO_INSERT, err);
	if (!st)
		return -1;
	const char *slash = strchr(name, '/');
	bind_text(st, 1, name);
	db_bind_int64(st, 2, meta_now());
	if (slash)
		db_bind_textn(st, 3, name, (size_t)(slash - name));
	else
		bind_text(st, 3, "");
	bind_text(st, 4, meta_default_public ? "public" : "private");
	if (meta_step_done(m, st, "create repository", err) < 0)
		return -1;
	return meta_repo_lookup(m, name, id, err);
}

int meta_repo_ensure(struct meta *m, const char *name, int64_t *id, struct berr *err)
{
	if (meta_repo_lookup(m, name, id, NULL) == 0)
		return 0;
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_repo_ensure_in(m, name, id, err) < 0 || meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_repo_blob_get(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t *size, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_REPO_BLOB_GET, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, d->str);
	int r = meta_lookup_row(m, st, "blob lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not in this repository", d->str);
	*size = (uint64_t)db_column_int64(st, 0);
	meta_reset(st);
	return 0;
}

int meta_blob_get(struct meta *m, const struct digest *d, uint64_t *size, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_BLOB_GET, err);
	if (!st)
		return -1;
	bind_text(st, 1, d->str);
	int r = meta_lookup_row(m, st, "blob lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not stored", d->str);
	*size = (uint64_t)db_column_int64(st, 0);
	meta_reset(st);
	return 0;
}

static int meta_link_in(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t size, struct berr *err)
{
	int64_t now = meta_now();
	struct db_stmt *st = meta_stmt(m, ST_BLOB_INSERT, err);
	if (!st)
		return -1;
	bind_text(st, 1, d->str);
	db_bind_int64(st, 2, (int64_t)size);
	db_bind_int64(st, 3, now);
	if (meta_step_done(m, st, "record blob", err) < 0)
		return -1;
	st = meta_stmt(m, ST_REPO_BLOB_INSERT, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, d->str);
	db_bind_int64(st, 3, now);
	return meta_step_done(m, st, "link blob", err);
}

int meta_blob_mount(struct meta *m, int64_t repo_id, int64_t from_repo, const struct digest *d, bool *linked,
                    uint64_t *size, struct berr *err)
{
	*linked = false;
	if (meta_begin(m, err) < 0)
		return -1;
	struct berr e2;
	int r = from_repo >= 0 ? meta_repo_blob_get(m, from_repo, d, size, &e2) : meta_blob_get(m, d, size, &e2);
	if (r < 0) {
		meta_rollback(m);
		if (e2.code == BERR_BLOB_UNKNOWN)
			return 0;
		if (err)
			*err = e2;
		return -1;
	}
	if (meta_link_in(m, repo_id, d, *size, err) < 0 || meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	*linked = true;
	return 0;
}

int meta_repo_blob_unlink(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_REPO_BLOB_DELETE, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, d->str);
	if (meta_step_done(m, st, "unlink blob", err) < 0)
		return -1;
	if (db_changes(m->db) == 0)
		return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not in this repository", d->str);
	return 0;
}

/* Check that everything mf references is present in repo_id. */
static int meta_check_references(struct meta *m, int64_t repo_id, const struct manifest *mf, struct berr *err)
{
	for (size_t i = 0; i < mf->ndescriptors; i++) {
		const struct manifest_descriptor *desc = &mf->descriptors[i];
		if (desc->foreign)
			continue;
		enum stmt_id id = desc->kind == MANIFEST_REF_CHILD ? ST_MANIFEST_ID : ST_REPO_BLOB_GET;
		struct db_stmt *st = meta_stmt(m, id, err);
		if (!st)
			return -1;
		db_bind_int64(st, 1, repo_id);
		bind_text(st, 2, desc->digest.str);
		int r = meta_lookup_row(m, st, "reference check", err);
		if (r < 0)
			return -1;
		if (r == 0)
			return berr_set(err, BERR_MANIFEST_BLOB_UNKNOWN, "%s %s is not in this repository",
			                desc->kind == MANIFEST_REF_CHILD    ? "manifest"
			                : desc->kind == MANIFEST_REF_CONFIG ? "config blob"
			                                                    : "layer blob",
			                desc->digest.str);
		if (desc->kind != MANIFEST_REF_CHILD && (uint64_t)db_column_int64(st, 0) != (uint64_t)desc->size) {
			int64_t have = db_column_int64(st, 0);
			meta_reset(st);
			return berr_set(err, BERR_MANIFEST_INVALID, "blob %s has size %lld, the manifest says %lld",
			                desc->digest.str, (long long)have, (long long)desc->size);
		}
		meta_reset(st);
	}
	return 0;
}

static int meta_manifest_insert(struct meta *m, int64_t repo_id, const struct manifest *mf, const struct digest *d,
                                const void *content, size_t size, int64_t *manifest_id, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_MANIFEST_ID, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, d->str);
	int r = meta_lookup_row(m, st, "manifest lookup", err);
	if (r < 0)
		return -1;
	if (r == 1) {
		/* Same digest, same bytes: only the media type it was pushed with may differ. */
		*manifest_id = db_column_int64(st, 0);
		meta_reset(st);
		st = meta_stmt(m, ST_MANIFEST_UPDATE_TYPE, err);
		if (!st)
			return -1;
		db_bind_int64(st, 1, *manifest_id);
		bind_text(st, 2, mf->media_type);
		db_bind_int64(st, 3, meta_now());
		return meta_step_done(m, st, "update manifest", err);
	}
	const char *artifact_type = mf->artifact_type;
	if (!artifact_type && mf->kind == MANIFEST_KIND_IMAGE && mf->ndescriptors > 0)
		artifact_type = mf->descriptors[0].media_type;
	st = meta_stmt(m, ST_MANIFEST_INSERT, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, d->str);
	bind_text(st, 3, mf->media_type);
	bind_text(st, 4, artifact_type);
	bind_text(st, 5, mf->has_subject ? mf->subject.str : NULL);
	bind_text(st, 6, mf->annotations_json);
	db_bind_int64(st, 7, (int64_t)size);
	db_bind_blob(st, 8, content, size);
	db_bind_int64(st, 9, meta_now());
	if (meta_insert_id(m, st, "insert manifest", manifest_id, err) < 0)
		return -1;

	for (size_t i = 0; i < mf->ndescriptors; i++) {
		const struct manifest_descriptor *desc = &mf->descriptors[i];
		st = meta_stmt(m, ST_MANIFEST_REF_INSERT, err);
		if (!st)
			return -1;
		db_bind_int64(st, 1, *manifest_id);
		db_bind_int64(st, 2, (int)desc->kind);
		db_bind_int64(st, 3, (int64_t)i);
		bind_text(st, 4, desc->digest.str);
		db_bind_int64(st, 5, desc->size);
		bind_text(st, 6, desc->media_type ? desc->media_type : "");
		if (meta_step_done(m, st, "insert manifest reference", err) < 0)
			return -1;
	}
	return 0;
}

static void meta_usage_row(struct db_stmt *st, struct meta_usage *u)
{
	const char *ns = (const char *)db_column_text(st, 0);
	snprintf(u->namespace, sizeof u->namespace, "%s", ns ? ns : "");
	u->quota = db_column_int64(st, 1);
	u->used = db_column_int64(st, 2);
}

int meta_usage_of_repo(struct meta *m, int64_t repo_id, struct meta_usage *out, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_USAGE_BY_REPO, err, "i", repo_id);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "namespace usage", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_INTERNAL, "repository %lld vanished", (long long)repo_id);
	meta_usage_row(st, out);
	meta_reset(st);
	return 0;
}

int meta_quota_set(struct meta *m, const char *ns, int64_t quota, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_QUOTA_SET, err, "ti", ns, quota);
	return st ? meta_step_done(m, st, "set quota", err) : -1;
}

int meta_usage_get(struct meta *m, const char *ns, struct meta_usage *out, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_USAGE_GET, err, "t", ns);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "namespace usage", err);
	if (r < 0)
		return -1;
	if (r == 0) {
		snprintf(out->namespace, sizeof out->namespace, "%s", ns);
		out->quota = -1;
		out->used = 0;
		return 0;
	}
	meta_usage_row(st, out);
	meta_reset(st);
	return 0;
}

int meta_usage_list(struct meta *m, meta_usage_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_USAGE_LIST, err, "");
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_usage u;
		meta_usage_row(st, &u);
		if (fn(ctx, &u))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list namespace usage", err);
	return 0;
}

int meta_manifest_put(struct meta *m, const char *name, const struct manifest *mf, const struct digest *d,
                      const void *content, size_t size, const char *const *tags, size_t ntags, struct berr *err)
{
	int64_t repo_id, manifest_id;
	if (meta_begin(m, err) < 0)
		return -1;
	struct meta_usage before, after;
	if (meta_repo_ensure_in(m, name, &repo_id, err) < 0 || meta_check_references(m, repo_id, mf, err) < 0 ||
	    meta_usage_of_repo(m, repo_id, &before, err) < 0 ||
	    meta_manifest_insert(m, repo_id, mf, d, content, size, &manifest_id, err) < 0 ||
	    meta_usage_of_repo(m, repo_id, &after, err) < 0)
		goto fail;
	if (meta_immutable_check_put(m, repo_id, d, tags, ntags, err) < 0)
		goto fail;
	/* Only a push that adds to the namespace's usage is refused: after a quota was lowered
	 * under the usage, tags and manifests of blobs already counted still go through. */
	if (after.quota >= 0 && after.used > after.quota && after.used > before.used) {
		berr_set(err, BERR_DENIED,
		         "storage quota of namespace '%s' exceeded: %lld bytes used of its quota of %lld; this push "
		         "needs %lld bytes more",
		         after.namespace, (long long)before.used, (long long)after.quota,
		         (long long)(after.used - before.used));
		goto fail;
	}
	int64_t now = meta_now();
	for (size_t i = 0; i < ntags; i++) {
		struct db_stmt *st = meta_stmt(m, ST_TAG_UPSERT, err);
		if (!st)
			goto fail;
		db_bind_int64(st, 1, repo_id);
		bind_text(st, 2, tags[i]);
		db_bind_int64(st, 3, manifest_id);
		db_bind_int64(st, 4, now);
		if (meta_step_done(m, st, "tag manifest", err) < 0)
			goto fail;
	}
	struct db_stmt *st = meta_stmt(m, ST_REPO_TOUCH, err);
	if (!st)
		goto fail;
	db_bind_int64(st, 1, repo_id);
	db_bind_int64(st, 2, now);
	if (meta_step_done(m, st, "touch repository", err) < 0 || meta_commit(m, err) < 0)
		goto fail;
	return 0;
fail:
	meta_rollback(m);
	return -1;
}

int meta_manifest_get(struct meta *m, int64_t repo_id, const char *reference, bool is_digest, bool with_content,
                      struct meta_manifest *out, struct berr *err)
{
	enum stmt_id id = is_digest ? (with_content ? ST_MANIFEST_BY_DIGEST_CONTENT : ST_MANIFEST_BY_DIGEST)
	                            : (with_content ? ST_MANIFEST_BY_TAG_CONTENT : ST_MANIFEST_BY_TAG);
	struct db_stmt *st = meta_stmt(m, id, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, reference);
	int r = meta_lookup_row(m, st, "manifest lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_MANIFEST_UNKNOWN, "manifest %s is not in this repository", reference);
	struct berr e2;
	const char *dg = (const char *)db_column_text(st, 0);
	if (digest_parse(dg ? dg : "", &out->digest, &e2) < 0) {
		meta_reset(st);
		return berr_set(err, BERR_INTERNAL, "stored manifest digest is corrupt");
	}
	const char *mt = (const char *)db_column_text(st, 1);
	snprintf(out->media_type, sizeof out->media_type, "%s", mt ? mt : "");
	out->size = (uint64_t)db_column_int64(st, 2);
	out->content = NULL;
	if (with_content) {
		const void *blob = db_column_blob(st, 3);
		size_t n = (size_t)db_column_bytes(st, 3);
		out->content = xmalloc(n);
		if (n)
			memcpy(out->content, blob, n);
		out->size = n;
	}
	meta_reset(st);
	return 0;
}

int meta_manifest_delete(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err)
{
	/* One transaction with the immutability check (ops: tag rules). */
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_immutable_check_manifest(m, repo_id, d, err) < 0)
		goto fail;
	struct db_stmt *st = meta_stmt(m, ST_MANIFEST_DELETE, err);
	if (!st)
		goto fail;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, d->str);
	if (meta_step_done(m, st, "delete manifest", err) < 0)
		goto fail;
	if (db_changes(m->db) == 0) {
		berr_set(err, BERR_MANIFEST_UNKNOWN, "manifest %s is not in this repository", d->str);
		goto fail;
	}
	if (meta_commit(m, err) < 0)
		goto fail;
	return 0;
fail:
	meta_rollback(m);
	return -1;
}

int meta_tag_delete(struct meta *m, int64_t repo_id, const char *tag, struct berr *err)
{
	/* One transaction with the immutability check (ops: tag rules). */
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_immutable_check_tag(m, repo_id, tag, NULL, err) < 0)
		goto fail;
	struct db_stmt *st = meta_stmt(m, ST_TAG_DELETE, err);
	if (!st)
		goto fail;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, tag);
	if (meta_step_done(m, st, "delete tag", err) < 0)
		goto fail;
	if (db_changes(m->db) == 0) {
		berr_set(err, BERR_MANIFEST_UNKNOWN, "tag %s is not in this repository", tag);
		goto fail;
	}
	if (meta_commit(m, err) < 0)
		goto fail;
	return 0;
fail:
	meta_rollback(m);
	return -1;
}

/* Shared by tags and catalog: step through a name listing, asking one row more than the
 * limit to learn whether another page follows. */
static int meta_list_names(struct meta *m, struct db_stmt *st, int limit_index, int64_t limit, meta_name_fn fn,
                           void *ctx, bool *more, struct berr *err)
{
	*more = false;
	db_bind_int64(st, limit_index, limit < 0 ? INT64_MAX : limit + 1);
	int64_t count = 0;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		if (limit >= 0 && count == limit) {
			*more = true;
			break;
		}
		const char *name = (const char *)db_column_text(st, 0);
		count++;
		if (fn(ctx, name ? name : ""))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list", err);
	return 0;
}

int meta_tags_list(struct meta *m, int64_t repo_id, const char *last, int64_t limit, meta_name_fn fn, void *ctx,
                   bool *more, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_TAGS_LIST, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, last ? last : "");
	return meta_list_names(m, st, 3, limit, fn, ctx, more, err);
}

int meta_catalog(struct meta *m, const char *last, int64_t limit, meta_name_fn fn, void *ctx, bool *more,
                 struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_CATALOG, err);
	if (!st)
		return -1;
	bind_text(st, 1, last ? last : "");
	return meta_list_names(m, st, 2, limit, fn, ctx, more, err);
}

int meta_referrers(struct meta *m, int64_t repo_id, const struct digest *subject, const char *artifact_type,
                   meta_referrer_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, artifact_type ? ST_REFERRERS_TYPE : ST_REFERRERS, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, subject->str);
	if (artifact_type)
		bind_text(st, 3, artifact_type);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_referrer r = {
		    .digest = (const char *)db_column_text(st, 0),
		    .media_type = (const char *)db_column_text(st, 1),
		    .artifact_type = (const char *)db_column_text(st, 2),
		    .annotations = (const char *)db_column_text(st, 3),
		    .size = (uint64_t)db_column_int64(st, 4),
		};
		if (fn(ctx, &r))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "referrers", err);
	return 0;
}

int meta_upload_create(struct meta *m, const char *id, int64_t repo_id, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_UPLOAD_INSERT, err);
	if (!st)
		return -1;
	bind_text(st, 1, id);
	db_bind_int64(st, 2, repo_id);
	db_bind_int64(st, 3, meta_now());
	return meta_step_done(m, st, "create upload", err);
}

int meta_upload_get(struct meta *m, const char *id, int64_t *repo_id, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_UPLOAD_GET, err);
	if (!st)
		return -1;
	bind_text(st, 1, id);
	int r = meta_lookup_row(m, st, "upload lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload %s is not known", id);
	*repo_id = db_column_int64(st, 0);
	meta_reset(st);
	return 0;
}

int meta_upload_delete(struct meta *m, const char *id, struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_UPLOAD_DELETE, err);
	if (!st)
		return -1;
	bind_text(st, 1, id);
	return meta_step_done(m, st, "delete upload", err);
}

void meta_set_default_visibility(bool public_default)
{
	meta_default_public = public_default;
}

/* Prepare statement id and bind arguments described by types: 'i' int64, 't' text (NULL
 * binds NULL), 'b' an int used as a boolean. Returns the statement, or NULL with err. */
static struct db_stmt *meta_bind(struct meta *m, enum stmt_id id, struct berr *err, const char *types, ...)
{
	struct db_stmt *st = meta_stmt(m, id, err);
	if (!st)
		return NULL;
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		switch (types[i]) {
		case 'i':
			db_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'b':
			db_bind_int64(st, i + 1, va_arg(ap, int) ? 1 : 0);
			break;
		case 't':
			bind_text(st, i + 1, va_arg(ap, const char *));
			break;
		}
	}
	va_end(ap);
	return st;
}

/* Run a bound statement that returns no rows. Sets *changes when not NULL. */
static int meta_exec_bound(struct meta *m, struct db_stmt *st, const char *what, int *changes, struct berr *err)
{
	if (!st || meta_step_done(m, st, what, err) < 0)
		return -1;
	if (changes)
		*changes = db_changes(m->db);
	return 0;
}

/* Run a bound INSERT ... RETURNING id; *id (if not NULL) gets the new row's id. */
static int meta_insert_id(struct meta *m, struct db_stmt *st, const char *what, int64_t *id, struct berr *err)
{
	if (!st)
		return -1;
	int rc = db_step(st);
	if (rc == DB_ROW && id)
		*id = db_column_int64(st, 0);
	db_reset(st);
	return rc == DB_ROW ? 0 : meta_fail(m, rc, what, err);
}

/* Call fn for each row's first column as text. */
static int meta_each_name(struct meta *m, struct db_stmt *st, meta_name_fn fn, void *ctx, const char *what,
                          struct berr *err)
{
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *v = (const char *)db_column_text(st, 0);
		if (fn(ctx, v ? v : ""))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, what, err);
	return 0;
}

/* Call fn for each row's first two columns as text (a name and its role or permission). */
static int meta_each_pair(struct meta *m, struct db_stmt *st, meta_member_fn fn, void *ctx, const char *what,
                          struct berr *err)
{
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		if (fn(ctx, (const char *)db_column_text(st, 0), (const char *)db_column_text(st, 1)))
			break;
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, what, err);
	return 0;
}

static void meta_copy_text(char *dst, size_t dstlen, struct db_stmt *st, int col)
{
	const char *v = (const char *)db_column_text(st, col);
	snprintf(dst, dstlen, "%s", v ? v : "");
}

int meta_catalog_visible(struct meta *m, const struct meta_viewer *viewer, const char *last, int64_t limit,
                         meta_name_fn fn, void *ctx, bool *more, struct berr *err)
{
	if (viewer->sees_all)
		return meta_catalog(m, last, limit, fn, ctx, more, err);
	/* ?2 is the limit meta_list_names binds; ?3 = 0: not everything is visible. */
	struct db_stmt *st = meta_bind(m, ST_CATALOG_VISIBLE, err, "iiiti", (int64_t)0, (int64_t)0, (int64_t)0,
	                               viewer->name, viewer->user_id);
	if (!st)
		return -1;
	bind_text(st, 1, last ? last : "");
	return meta_list_names(m, st, 2, limit, fn, ctx, more, err);
}

static void meta_account_row(struct db_stmt *st, struct meta_account *out)
{
	memset(out, 0, sizeof *out);
	out->id = db_column_int64(st, 0);
	meta_copy_text(out->name, sizeof out->name, st, 1);
	const char *kind = (const char *)db_column_text(st, 2);
	out->is_org = kind && strcmp(kind, "org") == 0;
	meta_copy_text(out->email, sizeof out->email, st, 3);
	meta_copy_text(out->password_hash, sizeof out->password_hash, st, 4);
	out->is_admin = db_column_int64(st, 5) != 0;
	out->disabled = db_column_int64(st, 6) != 0;
	out->created_at = db_column_int64(st, 7);
}

static int meta_account_fetch(struct meta *m, struct db_stmt *st, const char *what, struct meta_account *out,
                              struct berr *err)
{
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "account lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_NOT_FOUND, "account %s does not exist", what);
	meta_account_row(st, out);
	meta_reset(st);
	return 0;
}

int meta_account_get(struct meta *m, const char *name, struct meta_account *out, struct berr *err)
{
	return meta_account_fetch(m, meta_bind(m, ST_ACCOUNT_GET, err, "t", name), name, out, err);
}

int meta_account_get_by_id(struct meta *m, int64_t id, struct meta_account *out, struct berr *err)
{
	char what[32];
	snprintf(what, sizeof what, "#%lld", (long long)id);
	return meta_account_fetch(m, meta_bind(m, ST_ACCOUNT_GET_ID, err, "i", id), what, out, err);
}

int meta_account_create(struct meta *m, const char *name, bool is_org, const char *email, const char *password_hash,
                        bool is_admin, int64_t *id, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_ACCOUNT_INSERT, err, "ttttbi", name, is_org ? "org" : "user",
	                               email && *email ? email : NULL, password_hash, (int)is_admin, meta_now());
	if (!st)
		return -1;
	int rc = db_step(st);
	if (rc == DB_ROW && id)
		*id = db_column_int64(st, 0);
	meta_reset(st);
	if (rc == DB_CONSTRAINT)
		return berr_set(err, BERR_CONFLICT, "the name %s is taken", name);
	if (rc != DB_ROW)
		return meta_fail(m, rc, "create account", err);
	return 0;
}

int meta_account_update(struct meta *m, const char *name, const char *password_hash, const char *email, int is_admin,
                        int disabled, struct berr *err)
{
	int changes = 0;
	struct db_stmt *st = meta_bind(m, ST_ACCOUNT_UPDATE, err, "tttiii", name, password_hash, email,
	                               (int64_t)is_admin, (int64_t)disabled, meta_now());
	if (meta_exec_bound(m, st, "update account", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "account %s does not exist", name);
	return 0;
}

int meta_account_delete(struct meta *m, const char *name, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_ACCOUNT_DELETE, err, "t", name), "delete account", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "account %s does not exist", name);
	return 0;
}

int meta_accounts_list(struct meta *m, int kind, meta_account_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_ACCOUNT_LIST, err, "i", (int64_t)kind);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_account a;
		meta_account_row(st, &a);
		if (fn(ctx, &a))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list accounts", err);
	return 0;
}

int meta_users_count(struct meta *m, int64_t *n, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_USERS_COUNT, err, "");
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "count users", err);
	if (r < 0)
		return -1;
	*n = r ? db_column_int64(st, 0) : 0;
	if (r)
		meta_reset(st);
	return 0;
}

/* Look up an organization and a user for a membership change. */
static int meta_org_and_user(struct meta *m, const char *org, const char *user, int64_t *org_id, int64_t *user_id,
                             struct berr *err)
{
	struct meta_account o, u;
	if (meta_account_get(m, org, &o, err) < 0 || meta_account_get(m, user, &u, err) < 0)
		return -1;
	if (!o.is_org)
		return berr_set(err, BERR_NOT_FOUND, "%s is a user, not an organization", org);
	if (u.is_org)
		return berr_set(err, BERR_DENIED, "%s is an organization; only users can be members", user);
	*org_id = o.id;
	*user_id = u.id;
	return 0;
}

int meta_org_member_set(struct meta *m, const char *org, const char *user, const char *role, struct berr *err)
{
	int64_t org_id, user_id;
	if (strcmp(role, "owner") && strcmp(role, "writer") && strcmp(role, "reader"))
		return berr_set(err, BERR_DENIED, "role must be owner, writer or reader, not '%s'", role);
	if (meta_org_and_user(m, org, user, &org_id, &user_id, err) < 0)
		return -1;
	return meta_exec_bound(m, meta_bind(m, ST_MEMBER_UPSERT, err, "iiti", org_id, user_id, role, meta_now()),
	                       "set member", NULL, err);
}

int meta_org_member_remove(struct meta *m, const char *org, const char *user, struct berr *err)
{
	int64_t org_id, user_id;
	int changes = 0;
	if (meta_org_and_user(m, org, user, &org_id, &user_id, err) < 0 ||
	    meta_exec_bound(m, meta_bind(m, ST_MEMBER_DELETE, err, "ii", org_id, user_id), "remove member", &changes,
	                    err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "%s is not a member of %s", user, org);
	return 0;
}

int meta_org_members(struct meta *m, const char *org, meta_member_fn fn, void *ctx, struct berr *err)
{
	struct meta_account o;
	if (meta_account_get(m, org, &o, err) < 0)
		return -1;
	return meta_each_pair(m, meta_bind(m, ST_MEMBER_LIST, err, "i", o.id), fn, ctx, "list members", err);
}

/* One short text value of a one-row lookup into out ("" when there is no row). */
static int meta_lookup_text(struct meta *m, struct db_stmt *st, const char *what, char *out, size_t outlen,
                            struct berr *err)
{
	out[0] = '\0';
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, what, err);
	if (r < 0)
		return -1;
	if (r) {
		meta_copy_text(out, outlen, st, 0);
		meta_reset(st);
	}
	return 0;
}

int meta_org_role(struct meta *m, int64_t user_id, const char *org, char role[16], struct berr *err)
{
	return meta_lookup_text(m, meta_bind(m, ST_MEMBER_ROLE, err, "it", user_id, org), "member role", role, 16, err);
}

int meta_repo_info(struct meta *m, const char *name, struct meta_repo_info *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	struct db_stmt *st = meta_bind(m, ST_REPO_INFO, err, "t", name);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "repository lookup", err);
	if (r < 0)
		return -1;
	if (r) {
		out->exists = true;
		out->id = db_column_int64(st, 0);
		const char *vis = (const char *)db_column_text(st, 1);
		out->is_public = vis && strcmp(vis, "public") == 0;
		meta_reset(st);
	}
	return 0;
}

int meta_repo_grant_get(struct meta *m, int64_t repo_id, int64_t user_id, char perm[16], struct berr *err)
{
	return meta_lookup_text(m, meta_bind(m, ST_REPO_GRANT, err, "ii", repo_id, user_id), "repository grant", perm,
	                        16, err);
}

int meta_repo_set_visibility(struct meta *m, const char *name, bool is_public, struct berr *err)
{
	int changes = 0;
	struct db_stmt *st =
	    meta_bind(m, ST_REPO_VISIBILITY, err, "tti", name, is_public ? "public" : "private", meta_now());
	if (meta_exec_bound(m, st, "set visibility", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NAME_UNKNOWN, "repository %s is not known", name);
	return 0;
}

int meta_blob_repositories(struct meta *m, const struct digest *d, meta_name_fn fn, void *ctx, struct berr *err)
{
	return meta_each_name(m, meta_bind(m, ST_BLOB_REPOS, err, "t", d->str), fn, ctx, "blob repositories", err);
}

static void meta_pat_row(struct db_stmt *st, struct meta_pat *t)
{
	memset(t, 0, sizeof *t);
	t->id = db_column_int64(st, 0);
	t->user_id = db_column_int64(st, 1);
	meta_copy_text(t->name, sizeof t->name, st, 2);
	meta_copy_text(t->scope, sizeof t->scope, st, 3);
	t->created_at = db_column_int64(st, 4);
	t->last_used_at = db_column_int64(st, 5);
	t->revoked_at = db_column_int64(st, 6);
}

int meta_pat_create(struct meta *m, int64_t user_id, const char *name, const char *scope, const char *secret_hash,
                    int64_t *id, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_PAT_INSERT, err, "ittti", user_id, name, scope, secret_hash, meta_now());
	return meta_insert_id(m, st, "create token", id, err);
}

int meta_pat_use(struct meta *m, const char *secret_hash, struct meta_pat *out, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_PAT_GET, err, "t", secret_hash);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "token lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_UNAUTHORIZED, "unknown access token");
	meta_pat_row(st, out);
	meta_reset(st);
	if (out->revoked_at)
		return berr_set(err, BERR_UNAUTHORIZED, "access token '%s' was revoked", out->name);
	/* Recorded at most once a minute, so a busy CI token does not write on every request;
	 * a failure to record is no reason to refuse the request. */
	meta_exec_bound(m, meta_bind(m, ST_PAT_TOUCH, NULL, "ii", out->id, meta_now()), "touch token", NULL, NULL);
	return 0;
}

int meta_pat_list(struct meta *m, int64_t user_id, meta_pat_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_PAT_LIST, err, "i", user_id);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_pat t;
		meta_pat_row(st, &t);
		if (fn(ctx, &t))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list tokens", err);
	return 0;
}

int meta_pat_revoke(struct meta *m, int64_t user_id, int64_t id, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_PAT_REVOKE, err, "iii", user_id, id, meta_now()), "revoke token",
	                    &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "no active token %lld", (long long)id);
	return 0;
}

int meta_refresh_create(struct meta *m, int64_t user_id, const char *client_id, const char *secret_hash,
                        const char *scope_cap, struct berr *err)
{
	struct db_stmt *st =
	    meta_bind(m, ST_REFRESH_INSERT, err, "ittti", user_id, client_id, secret_hash, scope_cap, meta_now());
	return meta_exec_bound(m, st, "create refresh token", NULL, err);
}

int meta_refresh_use(struct meta *m, const char *secret_hash, int64_t *user_id, char scope_cap[24], struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_REFRESH_GET, err, "t", secret_hash);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "refresh token lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_UNAUTHORIZED, "unknown or revoked refresh token");
	int64_t id = db_column_int64(st, 0);
	*user_id = db_column_int64(st, 1);
	meta_copy_text(scope_cap, 24, st, 2);
	meta_reset(st);
	meta_exec_bound(m, meta_bind(m, ST_REFRESH_TOUCH, NULL, "ii", id, meta_now()), "touch refresh token", NULL,
	                NULL);
	return 0;
}

int meta_refresh_revoke_all(struct meta *m, int64_t user_id, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_REFRESH_REVOKE_ALL, err, "ii", user_id, meta_now()),
	                       "revoke refresh tokens", NULL, err);
}

int meta_audit(struct meta *m, const char *actor, const char *action, const char *target, const char *detail,
               const char *remote_addr, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_AUDIT_INSERT, err, "ittttt", meta_now(), actor && *actor ? actor : "-",
	                               action, target ? target : "", detail, remote_addr);
	return meta_exec_bound(m, st, "audit", NULL, err);
}

int meta_audit_list(struct meta *m, int64_t before_id, int64_t limit, meta_audit_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_AUDIT_LIST, err, "ii", before_id, limit);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_audit_entry e = {
		    .id = db_column_int64(st, 0),
		    .at = db_column_int64(st, 1),
		    .actor = (const char *)db_column_text(st, 2),
		    .action = (const char *)db_column_text(st, 3),
		    .target = (const char *)db_column_text(st, 4),
		    .detail = (const char *)db_column_text(st, 5),
		    .remote_addr = (const char *)db_column_text(st, 6),
		};
		if (fn(ctx, &e))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "audit list", err);
	return 0;
}

int meta_session_create(struct meta *m, int64_t user_id, const char *secret_hash, const char *csrf_token,
                        int64_t expires_at, int64_t *id, struct berr *err)
{
	struct db_stmt *st =
	    meta_bind(m, ST_SESSION_INSERT, err, "ittii", user_id, secret_hash, csrf_token, meta_now(), expires_at);
	return meta_insert_id(m, st, "create session", id, err);
}

int meta_session_use(struct meta *m, const char *secret_hash, int64_t idle_since, struct meta_session *out,
                     struct berr *err)
{
	int64_t now = meta_now();
	struct db_stmt *st = meta_bind(m, ST_SESSION_GET, err, "tii", secret_hash, now, idle_since);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "session lookup", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_UNAUTHORIZED, "the session has expired; sign in again");
	memset(out, 0, sizeof *out);
	out->id = db_column_int64(st, 0);
	out->user_id = db_column_int64(st, 1);
	meta_copy_text(out->csrf_token, sizeof out->csrf_token, st, 2);
	out->created_at = db_column_int64(st, 3);
	out->last_seen_at = db_column_int64(st, 4);
	out->expires_at = db_column_int64(st, 5);
	meta_reset(st);
	/* Recorded at most once a minute, like access tokens; failing to is no refusal. */
	meta_exec_bound(m, meta_bind(m, ST_SESSION_TOUCH, NULL, "ii", out->id, now), "touch session", NULL, NULL);
	return 0;
}

int meta_session_delete(struct meta *m, int64_t id, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_SESSION_DELETE, err, "i", id), "delete session", NULL, err);
}

int meta_sessions_delete_user(struct meta *m, int64_t user_id, int64_t keep_id, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_SESSIONS_DELETE_USER, err, "ii", user_id, keep_id), "delete sessions",
	                       NULL, err);
}

int meta_sessions_purge(struct meta *m, int64_t idle_since, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_SESSIONS_PURGE, err, "ii", meta_now(), idle_since), "purge sessions",
	                       NULL, err);
}

int meta_user_orgs(struct meta *m, int64_t user_id, meta_member_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_USER_ORGS, err, "i", user_id);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		if (fn(ctx, (const char *)db_column_text(st, 0), (const char *)db_column_text(st, 1)))
			break;
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list organizations", err);
	return 0;
}

/* Call fn for each repository row of a REPO_SEARCH_SELECT or ST_REPO_DESCRIBE statement;
 * *count gets the number of rows. */
static int meta_each_repo(struct meta *m, struct db_stmt *st, bool with_full, meta_repo_fn fn, void *ctx,
                          int64_t *count, struct berr *err)
{
	int rc;
	*count = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_repo_row row = {
		    .id = db_column_int64(st, 0),
		    .name = (const char *)db_column_text(st, 1),
		    .ns = (const char *)db_column_text(st, 2),
		    .visibility = (const char *)db_column_text(st, 3),
		    .description = (const char *)db_column_text(st, 4),
		    .created_at = db_column_int64(st, 5),
		    .updated_at = db_column_int64(st, 6),
		    .tag_count = db_column_int64(st, 7),
		    .pull_count = db_column_int64(st, 8),
		    .full_description = with_full ? db_column_text(st, 9) : NULL,
		};
		(*count)++;
		if (fn(ctx, &row))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list repositories", err);
	return 0;
}

int meta_repo_search(struct meta *m, const struct meta_viewer *viewer, const char *q, const char *ns,
                     enum meta_repo_sort sort, int64_t offset, int64_t limit, meta_repo_fn fn, void *ctx,
                     int64_t *total, struct berr *err)
{
	cleanup_free char *lq = NULL;
	if (q && *q) {
		lq = xstrdup(q);
		for (char *p = lq; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	const char *vname = viewer->sees_all ? NULL : viewer->name;
	int64_t vid = viewer->sees_all ? -1 : viewer->user_id;
	const char *nsf = ns && *ns ? ns : NULL;
	struct db_stmt *st =
	    meta_bind(m, ST_REPO_SEARCH_COUNT, err, "btitt", (int)viewer->sees_all, vname, vid, nsf, (const char *)lq);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "count repositories", err);
	if (r < 0)
		return -1;
	*total = r ? db_column_int64(st, 0) : 0;
	if (r)
		meta_reset(st);
	enum stmt_id id = sort == META_REPO_SORT_UPDATED ? ST_REPO_SEARCH_UPDATED
	                  : sort == META_REPO_SORT_PULLS ? ST_REPO_SEARCH_PULLS
	                                                 : ST_REPO_SEARCH_NAME;
	st = meta_bind(m, id, err, "btittii", (int)viewer->sees_all, vname, vid, nsf, (const char *)lq, limit, offset);
	if (!st)
		return -1;
	int64_t n;
	return meta_each_repo(m, st, false, fn, ctx, &n, err);
}

int meta_repo_describe(struct meta *m, const char *name, meta_repo_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_REPO_DESCRIBE, err, "t", name);
	int64_t n;
	if (!st || meta_each_repo(m, st, true, fn, ctx, &n, err) < 0)
		return -1;
	if (n == 0)
		return berr_set(err, BERR_NAME_UNKNOWN, "repository %s is not known", name);
	return 0;
}

int meta_repo_update(struct meta *m, const char *name, const char *visibility, const char *description,
                     const char *full_description, struct berr *err)
{
	int changes = 0;
	struct db_stmt *st = meta_bind(m, ST_REPO_UPDATE, err, "tttt", name, visibility, description, full_description);
	if (meta_exec_bound(m, st, "update repository", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NAME_UNKNOWN, "repository %s is not known", name);
	return 0;
}

struct meta_repo_delete_tags {
	char **names, **digests;
	size_t n, cap;
};

static int meta_repo_delete_tag_add(void *ctx, const char *tag, const char *digest, int64_t pushed_at,
                                    int64_t pulled_at)
{
	struct meta_repo_delete_tags *t = ctx;
	(void)pushed_at;
	(void)pulled_at;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->names = xrealloc(t->names, t->cap * sizeof *t->names);
		t->digests = xrealloc(t->digests, t->cap * sizeof *t->digests);
	}
	t->names[t->n] = xstrdup(tag);
	t->digests[t->n++] = xstrdup(digest);
	return 0;
}

int meta_repo_delete(struct meta *m, int64_t repo_id, meta_repo_deleted_tag_fn fn, void *ctx, struct berr *err)
{
	/* The tags and their immutability are checked in the transaction that deletes them. */
	struct meta_repo_delete_tags t = {0};
	int changes = 0, rc = -1;
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_repo_tag_rows(m, repo_id, meta_repo_delete_tag_add, &t, err) < 0)
		goto out;
	for (size_t i = 0; i < t.n; i++)
		if (meta_immutable_check_tag(m, repo_id, t.names[i], NULL, err) < 0)
			goto out;
	if (meta_exec_bound(m, meta_bind(m, ST_REPO_DELETE, err, "i", repo_id), "delete repository", &changes, err) < 0)
		goto out;
	if (changes == 0) {
		berr_set(err, BERR_NAME_UNKNOWN, "the repository is not known");
		goto out;
	}
	if (meta_commit(m, err) < 0)
		goto out;
	rc = 0;
	for (size_t i = 0; fn && i < t.n; i++)
		fn(ctx, t.names[i], t.digests[i]);
out:
	if (rc < 0)
		meta_rollback(m);
	for (size_t i = 0; i < t.n; i++) {
		free(t.names[i]);
		free(t.digests[i]);
	}
	free(t.names);
	free(t.digests);
	return rc;
}

int meta_repo_add_pulls(struct meta *m, const int64_t *repo_ids, const int64_t *counts, size_t n, struct berr *err)
{
	if (n == 0)
		return 0;
	if (meta_begin(m, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (meta_exec_bound(m, meta_bind(m, ST_REPO_COUNT_PULL, err, "ii", repo_ids[i], counts[i]),
		                    "count pulls", NULL, err) < 0) {
			meta_rollback(m);
			return -1;
		}
	if (meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_manifests_pulled(struct meta *m, const struct meta_pull_mark *marks, size_t n, struct berr *err)
{
	if (n == 0)
		return 0;
	if (meta_begin(m, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (meta_exec_bound(
		        m, meta_bind(m, ST_MANIFEST_PULLED, err, "iti", marks[i].repo_id, marks[i].digest, marks[i].at),
		        "record last pull", NULL, err) < 0) {
			meta_rollback(m);
			return -1;
		}
	if (meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_tags_page(struct meta *m, int64_t repo_id, int64_t offset, int64_t limit, meta_tag_fn fn, void *ctx,
                   int64_t *total, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_TAGS_COUNT, err, "i", repo_id);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "count tags", err);
	if (r < 0)
		return -1;
	*total = r ? db_column_int64(st, 0) : 0;
	if (r)
		meta_reset(st);
	st = meta_bind(m, ST_TAGS_PAGE, err, "iii", repo_id, limit, offset);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_tag_row t = {
		    .name = (const char *)db_column_text(st, 0),
		    .digest = (const char *)db_column_text(st, 1),
		    .media_type = (const char *)db_column_text(st, 2),
		    .pushed_at = db_column_int64(st, 3),
		    .size = (uint64_t)db_column_int64(st, 4),
		    .last_pulled_at = db_column_int64(st, 5),
		};
		if (fn(ctx, &t))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list tags", err);
	return 0;
}

int meta_repo_grant_set(struct meta *m, int64_t repo_id, int64_t user_id, const char *perm, struct berr *err)
{
	if (strcmp(perm, "read") && strcmp(perm, "write") && strcmp(perm, "admin"))
		return berr_set(err, BERR_BAD_REQUEST, "permission must be read, write or admin, not '%s'", perm);
	return meta_exec_bound(m, meta_bind(m, ST_GRANT_UPSERT, err, "iiti", repo_id, user_id, perm, meta_now()),
	                       "grant", NULL, err);
}

int meta_repo_grant_delete(struct meta *m, int64_t repo_id, int64_t user_id, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_GRANT_DELETE, err, "ii", repo_id, user_id), "revoke grant", &changes,
	                    err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "the user has no grant on this repository");
	return 0;
}

int meta_repo_grants(struct meta *m, int64_t repo_id, meta_member_fn fn, void *ctx, struct berr *err)
{
	return meta_each_pair(m, meta_bind(m, ST_GRANT_LIST, err, "i", repo_id), fn, ctx, "list grants", err);
}

int meta_blobs_each(struct meta *m, meta_blob_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_BLOBS_EACH, err, "");
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *d = (const char *)db_column_text(st, 0);
		if (fn(ctx, d ? d : "", (uint64_t)db_column_int64(st, 1)))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list blobs", err);
	return 0;
}

int meta_blob_forget(struct meta *m, const struct digest *d, struct berr *err)
{
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_exec_bound(m, meta_bind(m, ST_BLOB_UNLINK_ALL, err, "t", d->str), "unlink blob", NULL, err) < 0 ||
	    meta_exec_bound(m, meta_bind(m, ST_BLOB_DELETE, err, "t", d->str), "forget blob", NULL, err) < 0 ||
	    meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_dangling_each(struct meta *m, meta_dangling_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_DANGLING, err, "");
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_dangling dr = {
		    .repository = (const char *)db_column_text(st, 0),
		    .manifest = (const char *)db_column_text(st, 1),
		    .missing = (const char *)db_column_text(st, 2),
		    .kind = db_column_int64(st, 3),
		};
		if (fn(ctx, &dr))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "dangling references", err);
	return 0;
}

int meta_backup(struct meta *m, const char *path, struct berr *err)
{
	return db_backup(m->db, path, err);
}

static void meta_replication_row(struct db_stmt *st, struct meta_replication_rule *r)
{
	memset(r, 0, sizeof *r);
	r->id = db_column_int64(st, 0);
	meta_copy_text(r->name, sizeof r->name, st, 1);
	meta_copy_text(r->source, sizeof r->source, st, 2);
	meta_copy_text(r->username, sizeof r->username, st, 3);
	meta_copy_text(r->password, sizeof r->password, st, 4);
	meta_copy_text(r->repositories, sizeof r->repositories, st, 5);
	meta_copy_text(r->tags, sizeof r->tags, st, 6);
	meta_copy_text(r->destination, sizeof r->destination, st, 7);
	r->interval = db_column_int64(st, 8);
	r->created_at = db_column_int64(st, 9);
	r->run_requested = db_column_int64(st, 10) != 0;
	r->last_started_at = db_column_int64(st, 11);
	r->last_finished_at = db_column_int64(st, 12);
	meta_copy_text(r->last_result, sizeof r->last_result, st, 13);
	r->last_images = db_column_int64(st, 14);
	r->last_unchanged = db_column_int64(st, 15);
	r->last_errors = db_column_int64(st, 16);
	meta_copy_text(r->last_message, sizeof r->last_message, st, 17);
	r->total_images = db_column_int64(st, 18);
}

int meta_replication_create(struct meta *m, const struct meta_replication_rule *r, struct berr *err)
{
	int changes = 0;
	struct db_stmt *st =
	    meta_bind(m, ST_REPL_INSERT, err, "ttttttti", r->name, r->source, r->username[0] ? r->username : NULL,
	              r->password[0] ? r->password : NULL, r->repositories, r->tags, r->destination, r->interval);
	if (st)
		db_bind_int64(st, 9, meta_now());
	if (meta_exec_bound(m, st, "create replication rule", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_CONFLICT, "a replication rule named %s exists already", r->name);
	return 0;
}

/* One rule from a bound statement: 1 found, 0 none, -1 error. */
static int meta_replication_fetch(struct meta *m, struct db_stmt *st, struct meta_replication_rule *out,
                                  struct berr *err)
{
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "replication rule", err);
	if (r == 1) {
		meta_replication_row(st, out);
		meta_reset(st);
	}
	return r;
}

int meta_replication_get(struct meta *m, const char *name, struct meta_replication_rule *out, struct berr *err)
{
	int r = meta_replication_fetch(m, meta_bind(m, ST_REPL_GET, err, "t", name), out, err);
	if (r == 0)
		return berr_set(err, BERR_NOT_FOUND, "no replication rule named %s", name);
	return r < 0 ? -1 : 0;
}

int meta_replication_list(struct meta *m, meta_replication_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_REPL_LIST, err, "");
	if (!st)
		return -1;
	int rc;
	struct meta_replication_rule *rule = xmalloc(sizeof *rule);
	while ((rc = db_step(st)) == DB_ROW) {
		meta_replication_row(st, rule);
		if (fn(ctx, rule))
			break;
	}
	free(rule);
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list replication rules", err);
	return 0;
}

int meta_replication_delete(struct meta *m, const char *name, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_REPL_DELETE, err, "t", name), "delete replication rule", &changes, err) <
	    0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "no replication rule named %s", name);
	return 0;
}

int meta_replication_request_run(struct meta *m, const char *name, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_REPL_REQUEST, err, "t", name), "request a replication run", &changes,
	                    err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "no replication rule named %s", name);
	return 0;
}

/* Seconds after which a run still marked running is taken for one whose node died. */
#define META_REPL_STALE (6 * 3600)

int meta_replication_claim_due(struct meta *m, struct meta_replication_rule *out, struct berr *err)
{
	int64_t now = meta_now();
	/* One transaction, so of several nodes' schedulers exactly one starts the run. */
	if (meta_begin(m, err) < 0)
		return -1;
	int r =
	    meta_replication_fetch(m, meta_bind(m, ST_REPL_DUE, err, "ii", now, (int64_t)META_REPL_STALE), out, err);
	if (r != 1) {
		if (r == 0 && meta_commit(m, err) < 0)
			r = -1;
		meta_rollback(m);
		return r;
	}
	if (meta_exec_bound(m, meta_bind(m, ST_REPL_START, err, "ii", out->id, now), "start a replication run", NULL,
	                    err) < 0 ||
	    meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	out->run_requested = false;
	out->last_started_at = now;
	snprintf(out->last_result, sizeof out->last_result, "running");
	return 1;
}

int meta_replication_finish(struct meta *m, int64_t id, const char *result, int64_t images, int64_t unchanged,
                            int64_t errors, const char *message, struct berr *err)
{
	struct db_stmt *st =
	    meta_bind(m, ST_REPL_FINISH, err, "iitiiit", id, meta_now(), result, images, unchanged, errors, message);
	return meta_exec_bound(m, st, "record a replication run", NULL, err);
}

int meta_replication_reset_running(struct meta *m, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_REPL_RESET, err, "i", meta_now()), "reset replication runs", NULL,
	                       err);
}

/* ---- the pull-through cache (server/proxy.c) ---- */

/* Record that repo_id comes from upstream and was checked there now; with tag, that the
 * upstream confirmed tag now. Runs inside the caller's transaction. */
static int meta_mirror_mark(struct meta *m, int64_t repo_id, const char *upstream, const char *tag, struct berr *err)
{
	int64_t now = meta_now();
	struct db_stmt *st = meta_stmt(m, ST_MIRROR_REPO_UPSERT, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, upstream);
	db_bind_int64(st, 3, now);
	if (meta_step_done(m, st, "record mirror repository", err) < 0)
		return -1;
	if (!tag)
		return 0;
	st = meta_stmt(m, ST_MIRROR_TAG_UPSERT, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, tag);
	db_bind_int64(st, 3, now);
	return meta_step_done(m, st, "record mirror tag", err);
}

int meta_mirror_manifest_put(struct meta *m, const char *name, const char *upstream, const struct manifest *mf,
                             const struct digest *d, const void *content, size_t size, const char *tag,
                             struct berr *err)
{
	int64_t repo_id, manifest_id;
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_repo_ensure_in(m, name, &repo_id, err) < 0 ||
	    meta_manifest_insert(m, repo_id, mf, d, content, size, &manifest_id, err) < 0)
		goto fail;
	int64_t now = meta_now();
	struct db_stmt *st;
	if (tag) {
		st = meta_stmt(m, ST_TAG_UPSERT, err);
		if (!st)
			goto fail;
		db_bind_int64(st, 1, repo_id);
		bind_text(st, 2, tag);
		db_bind_int64(st, 3, manifest_id);
		db_bind_int64(st, 4, now);
		if (meta_step_done(m, st, "tag manifest", err) < 0)
			goto fail;
	}
	st = meta_stmt(m, ST_REPO_TOUCH, err);
	if (!st)
		goto fail;
	db_bind_int64(st, 1, repo_id);
	db_bind_int64(st, 2, now);
	if (meta_step_done(m, st, "touch repository", err) < 0 ||
	    meta_mirror_mark(m, repo_id, upstream, tag, err) < 0 || meta_commit(m, err) < 0)
		goto fail;
	return 0;
fail:
	meta_rollback(m);
	return -1;
}

int meta_mirror_tag_confirmed(struct meta *m, int64_t repo_id, const char *upstream, const char *tag, struct berr *err)
{
	if (meta_begin(m, err) < 0)
		return -1;
	if (meta_mirror_mark(m, repo_id, upstream, tag, err) < 0 || meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_mirror_tag_checked(struct meta *m, int64_t repo_id, const char *tag, int64_t *checked_at, struct berr *err)
{
	*checked_at = 0;
	struct db_stmt *st = meta_stmt(m, ST_MIRROR_TAG_GET, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	bind_text(st, 2, tag);
	int r = meta_lookup_row(m, st, "mirror tag lookup", err);
	if (r <= 0)
		return r;
	*checked_at = db_column_int64(st, 0);
	meta_reset(st);
	return 1;
}

int meta_mirror_repo_get(struct meta *m, int64_t repo_id, char *upstream, size_t upstream_len, int64_t *last_checked,
                         struct berr *err)
{
	struct db_stmt *st = meta_stmt(m, ST_MIRROR_REPO_GET, err);
	if (!st)
		return -1;
	db_bind_int64(st, 1, repo_id);
	int r = meta_lookup_row(m, st, "mirror repository lookup", err);
	if (r <= 0)
		return r;
	const char *u = (const char *)db_column_text(st, 0);
	snprintf(upstream, upstream_len, "%s", u ? u : "");
	*last_checked = db_column_int64(st, 1);
	meta_reset(st);
	return 1;
}

void meta_release(void)
{
	struct meta *m = meta_tls;
	if (!m)
		return;
	meta_tls = NULL;
	pthread_mutex_lock(&meta_list_lock);
	for (struct meta **p = &meta_list; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	pthread_mutex_unlock(&meta_list_lock);
	meta_close(m);
}

/* ops: metrics */

int meta_storage_each(struct meta *m, meta_storage_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_STORAGE_BY_NAMESPACE, err, "");
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *ns = (const char *)db_column_text(st, 0);
		if (fn(ctx, ns ? ns : "", db_column_int64(st, 1), (uint64_t)db_column_int64(st, 2)))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "storage by namespace", err);
	return 0;
}

/* Run a one-row statement with up to two integer columns. */
static int meta_two_ints(struct meta *m, enum stmt_id id, const char *what, int64_t *a, int64_t *b, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, id, err, "");
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, what, err);
	if (r < 0)
		return -1;
	*a = r ? db_column_int64(st, 0) : 0;
	if (b)
		*b = r ? db_column_int64(st, 1) : 0;
	if (r)
		meta_reset(st);
	return 0;
}

int meta_storage_total(struct meta *m, int64_t *blobs, uint64_t *bytes, struct berr *err)
{
	int64_t n = 0, sz = 0;
	if (meta_two_ints(m, ST_STORAGE_TOTAL, "storage total", &n, &sz, err) < 0)
		return -1;
	*blobs = n;
	*bytes = (uint64_t)sz;
	return 0;
}

int meta_uploads_count(struct meta *m, int64_t *n, struct berr *err)
{
	return meta_two_ints(m, ST_UPLOADS_COUNT, "count uploads", n, NULL, err);
}

/* ops: tag rules (immutability, retention) */

static void meta_rule_row(struct db_stmt *st, struct meta_tag_rule *r)
{
	memset(r, 0, sizeof *r);
	r->id = db_column_int64(st, 0);
	meta_copy_text(r->kind, sizeof r->kind, st, 1);
	meta_copy_text(r->scope_kind, sizeof r->scope_kind, st, 2);
	meta_copy_text(r->scope, sizeof r->scope, st, 3);
	meta_copy_text(r->pattern, sizeof r->pattern, st, 4);
	r->keep_last = db_column_null(st, 5) ? -1 : db_column_int64(st, 5);
	r->keep_days = db_column_null(st, 6) ? -1 : db_column_int64(st, 6);
	meta_copy_text(r->created_by, sizeof r->created_by, st, 7);
	r->created_at = db_column_int64(st, 8);
}

int meta_tag_rule_add(struct meta *m, const struct meta_tag_rule *rule, int64_t *id, struct berr *err)
{
	struct db_stmt *st =
	    meta_bind(m, ST_RULE_INSERT, err, "tttt", rule->kind, rule->scope_kind, rule->scope, rule->pattern);
	if (!st)
		return -1;
	if (rule->keep_last >= 0)
		db_bind_int64(st, 5, rule->keep_last);
	if (rule->keep_days >= 0)
		db_bind_int64(st, 6, rule->keep_days);
	bind_text(st, 7, rule->created_by);
	db_bind_int64(st, 8, meta_now());
	return meta_insert_id(m, st, "add tag rule", id, err);
}

int meta_tag_rule_get(struct meta *m, int64_t id, struct meta_tag_rule *out, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_RULE_GET, err, "i", id);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "tag rule", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_NOT_FOUND, "there is no tag rule %lld", (long long)id);
	meta_rule_row(st, out);
	meta_reset(st);
	return 0;
}

int meta_tag_rule_delete(struct meta *m, int64_t id, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_RULE_DELETE, err, "i", id), "delete tag rule", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "there is no tag rule %lld", (long long)id);
	return 0;
}

/* Call fn for each rule row of st (bound), then reset it. */
static int meta_each_rule(struct meta *m, struct db_stmt *st, meta_tag_rule_fn fn, void *ctx, struct berr *err)
{
	if (!st)
		return -1;
	int rc;
	struct meta_tag_rule rule;
	while ((rc = db_step(st)) == DB_ROW) {
		meta_rule_row(st, &rule);
		if (fn(ctx, &rule))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list tag rules", err);
	return 0;
}

int meta_tag_rules_list(struct meta *m, const char *kind, const char *scope_kind, const char *scope,
                        meta_tag_rule_fn fn, void *ctx, struct berr *err)
{
	return meta_each_rule(m, meta_bind(m, ST_RULES_LIST, err, "ttt", kind, scope_kind, scope), fn, ctx, err);
}

struct meta_immutable_ctx {
	const char *tag;
	struct meta_tag_rule hit;
	bool found;
};

static int meta_immutable_match(void *ctx, const struct meta_tag_rule *rule)
{
	struct meta_immutable_ctx *c = ctx;
	if (fnmatch(rule->pattern, c->tag, 0) != 0)
		return 0;
	c->hit = *rule;
	c->found = true;
	return 1;
}

/* BERR_DENIED when tag exists in repo_id, an immutable rule matches it and the change
 * would move it (new_digest differs from its manifest) or remove it (new_digest NULL). */
static int meta_immutable_check_tag(struct meta *m, int64_t repo_id, const char *tag, const struct digest *new_digest,
                                    struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_MANIFEST_BY_TAG, err, "it", repo_id, tag);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "tag lookup", err);
	if (r <= 0)
		return r; /* a new tag is never refused */
	const char *cur = (const char *)db_column_text(st, 0);
	bool same = new_digest && cur && strcmp(cur, new_digest->str) == 0;
	meta_reset(st);
	if (same)
		return 0; /* pushing the same manifest again changes nothing */
	struct meta_immutable_ctx c = {.tag = tag};
	if (meta_each_rule(m, meta_bind(m, ST_RULES_IMMUTABLE_FOR_REPO, err, "i", repo_id), meta_immutable_match, &c,
	                   err) < 0)
		return -1;
	if (!c.found)
		return 0;
	metrics_count(METRICS_IMMUTABLE_REFUSALS, 1);
	return berr_set(err, BERR_DENIED, "tag %s is immutable (rule %lld: %s %s, tags %s); it cannot be %s", tag,
	                (long long)c.hit.id, c.hit.scope_kind, c.hit.scope, c.hit.pattern,
	                new_digest ? "pushed over" : "deleted");
}

int meta_tag_is_immutable(struct meta *m, int64_t repo_id, const char *tag, bool *immutable, struct berr *err)
{
	struct meta_immutable_ctx c = {.tag = tag};
	if (meta_each_rule(m, meta_bind(m, ST_RULES_IMMUTABLE_FOR_REPO, err, "i", repo_id), meta_immutable_match, &c,
	                   err) < 0)
		return -1;
	*immutable = c.found;
	return 0;
}

static int meta_immutable_check_put(struct meta *m, int64_t repo_id, const struct digest *d, const char *const *tags,
                                    size_t ntags, struct berr *err)
{
	for (size_t i = 0; i < ntags; i++)
		if (meta_immutable_check_tag(m, repo_id, tags[i], d, err) < 0)
			return -1;
	return 0;
}

struct meta_tag_names {
	char **names;
	size_t n, cap;
};

static int meta_tag_names_add(void *ctx, const char *name)
{
	struct meta_tag_names *t = ctx;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->names = xrealloc(t->names, t->cap * sizeof *t->names);
	}
	t->names[t->n++] = xstrdup(name);
	return 0;
}

/* Deleting a manifest deletes its tags: refused when one of them is immutable. */
static int meta_immutable_check_manifest(struct meta *m, int64_t repo_id, const struct digest *d, struct berr *err)
{
	struct meta_tag_names t = {0};
	int rc = meta_each_name(m, meta_bind(m, ST_MANIFEST_TAGS, err, "it", repo_id, d->str), meta_tag_names_add, &t,
	                        "tags of a manifest", err);
	for (size_t i = 0; rc == 0 && i < t.n; i++)
		rc = meta_immutable_check_tag(m, repo_id, t.names[i], NULL, err);
	for (size_t i = 0; i < t.n; i++)
		free(t.names[i]);
	free(t.names);
	return rc;
}

int meta_repos_each(struct meta *m, meta_repo_each_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_REPOS_ALL, err, "");
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *name = (const char *)db_column_text(st, 1);
		const char *ns = (const char *)db_column_text(st, 2);
		if (fn(ctx, db_column_int64(st, 0), name ? name : "", ns ? ns : ""))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list repositories", err);
	return 0;
}

int meta_repo_tag_rows(struct meta *m, int64_t repo_id, meta_tag_times_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_REPO_TAG_ROWS, err, "i", repo_id);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *name = (const char *)db_column_text(st, 0);
		const char *dg = (const char *)db_column_text(st, 1);
		int64_t pulled = db_column_null(st, 3) ? 0 : db_column_int64(st, 3);
		if (fn(ctx, name ? name : "", dg ? dg : "", db_column_int64(st, 2), pulled))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list tags", err);
	return 0;
}

int meta_tag_delete_if(struct meta *m, int64_t repo_id, const char *tag, const char *digest, int64_t pushed_at,
                       bool *deleted, struct berr *err)
{
	*deleted = false;
	if (meta_begin(m, err) < 0)
		return -1;
	int changes = 0;
	if (meta_immutable_check_tag(m, repo_id, tag, NULL, err) < 0 ||
	    meta_exec_bound(m, meta_bind(m, ST_TAG_DELETE_IF, err, "itit", repo_id, tag, pushed_at, digest),
	                    "delete tag", &changes, err) < 0 ||
	    meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	*deleted = changes > 0;
	return 0;
}

/* ops: webhooks */

static void meta_hook_row(struct db_stmt *st, struct meta_webhook *h)
{
	memset(h, 0, sizeof *h);
	h->id = db_column_int64(st, 0);
	meta_copy_text(h->scope_kind, sizeof h->scope_kind, st, 1);
	meta_copy_text(h->scope, sizeof h->scope, st, 2);
	meta_copy_text(h->url, sizeof h->url, st, 3);
	meta_copy_text(h->secret, sizeof h->secret, st, 4);
	meta_copy_text(h->events, sizeof h->events, st, 5);
	meta_copy_text(h->created_by, sizeof h->created_by, st, 6);
	h->created_at = db_column_int64(st, 7);
}

int meta_webhook_add(struct meta *m, const struct meta_webhook *h, int64_t *id, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_HOOK_INSERT, err, "tttttt", h->scope_kind, h->scope, h->url, h->secret,
	                               h->events, h->created_by);
	if (!st)
		return -1;
	db_bind_int64(st, 7, meta_now());
	return meta_insert_id(m, st, "add webhook", id, err);
}

int meta_webhook_get(struct meta *m, int64_t id, struct meta_webhook *out, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_HOOK_GET, err, "i", id);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "webhook", err);
	if (r < 0)
		return -1;
	if (r == 0)
		return berr_set(err, BERR_NOT_FOUND, "there is no webhook %lld", (long long)id);
	meta_hook_row(st, out);
	meta_reset(st);
	return 0;
}

int meta_webhook_delete(struct meta *m, int64_t id, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_HOOK_DELETE, err, "i", id), "delete webhook", &changes, err) < 0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_NOT_FOUND, "there is no webhook %lld", (long long)id);
	return 0;
}

static int meta_each_hook(struct meta *m, struct db_stmt *st, meta_webhook_fn fn, void *ctx, struct berr *err)
{
	if (!st)
		return -1;
	int rc;
	struct meta_webhook h;
	while ((rc = db_step(st)) == DB_ROW) {
		meta_hook_row(st, &h);
		if (fn(ctx, &h))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list webhooks", err);
	return 0;
}

int meta_webhooks_list(struct meta *m, const char *scope_kind, const char *scope, meta_webhook_fn fn, void *ctx,
                       struct berr *err)
{
	return meta_each_hook(m, meta_bind(m, ST_HOOKS_LIST, err, "tt", scope_kind, scope), fn, ctx, err);
}

int meta_webhooks_for_repo(struct meta *m, const char *name, const char *ns, meta_webhook_fn fn, void *ctx,
                           struct berr *err)
{
	return meta_each_hook(m, meta_bind(m, ST_HOOKS_FOR_REPO, err, "tt", name, ns), fn, ctx, err);
}

int meta_delivery_add(struct meta *m, int64_t webhook_id, const char *event, const char *payload, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_DELIVERY_INSERT, err, "itti", webhook_id, event, payload, meta_now()),
	                       "queue delivery", NULL, err);
}

static void meta_delivery_row(struct db_stmt *st, struct meta_delivery *d, bool full)
{
	memset(d, 0, sizeof *d);
	d->id = db_column_int64(st, 0);
	d->webhook_id = db_column_int64(st, 1);
	meta_copy_text(d->event, sizeof d->event, st, 2);
	const char *p = (const char *)db_column_text(st, 3);
	d->payload = xstrdup(p ? p : "");
	if (!full)
		return;
	meta_copy_text(d->state, sizeof d->state, st, 4);
	d->attempts = db_column_int64(st, 5);
	d->next_attempt_at = db_column_int64(st, 6);
	d->last_status = db_column_null(st, 7) ? 0 : db_column_int64(st, 7);
	meta_copy_text(d->last_error, sizeof d->last_error, st, 8);
	d->created_at = db_column_int64(st, 9);
	d->finished_at = db_column_null(st, 10) ? 0 : db_column_int64(st, 10);
}

int meta_deliveries_due(struct meta *m, int64_t now, int64_t limit, int64_t lease, meta_due_fn fn, void *ctx,
                        struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_DELIVERIES_DUE, err, "ii", now, limit);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_delivery d;
		meta_delivery_row(st, &d, false);
		d.attempts = db_column_int64(st, 4);
		char url[META_WEBHOOK_URL_MAX + 1], secret[META_WEBHOOK_SECRET_MAX + 1];
		meta_copy_text(url, sizeof url, st, 5);
		meta_copy_text(secret, sizeof secret, st, 6);
		/* Nodes sharing the database each run a delivery worker: claim the delivery for
		 * the time one attempt may take (its outcome then sets the real next time). */
		int claimed = 1;
		if (meta_is_shared(m) &&
		    meta_exec_bound(m, meta_bind(m, ST_DELIVERY_CLAIM, err, "iii", d.id, now + lease, now),
		                    "claim a delivery", &claimed, err) < 0) {
			free(d.payload);
			meta_reset(st);
			return -1;
		}
		int stop = claimed ? fn(ctx, &d, url, secret) : 0;
		free(d.payload);
		if (stop)
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "due deliveries", err);
	return 0;
}

int meta_delivery_update(struct meta *m, const struct meta_delivery *d, struct berr *err)
{
	struct db_stmt *st =
	    meta_bind(m, ST_DELIVERY_UPDATE, err, "itii", d->id, d->state, d->attempts, d->next_attempt_at);
	if (!st)
		return -1;
	if (d->last_status)
		db_bind_int64(st, 5, d->last_status);
	bind_text(st, 6, d->last_error[0] ? d->last_error : NULL);
	if (d->finished_at)
		db_bind_int64(st, 7, d->finished_at);
	return meta_exec_bound(m, st, "update delivery", NULL, err);
}

int meta_deliveries_list(struct meta *m, int64_t webhook_id, int64_t before_id, int64_t limit, meta_delivery_fn fn,
                         void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_DELIVERIES_LIST, err, "iii", webhook_id, before_id, limit);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_delivery d;
		meta_delivery_row(st, &d, true);
		int stop = fn(ctx, &d);
		free(d.payload);
		if (stop)
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list deliveries", err);
	return 0;
}

/* Garbage collection, upload expiry and the record of collection runs. */

int meta_blob_install(struct meta *m, int64_t repo_id, const struct digest *d, uint64_t size, meta_install_fn install,
                      void *ctx, struct berr *err)
{
	if (meta_begin(m, err) < 0)
		return -1;
	if (install(ctx, err) < 0 || meta_link_in(m, repo_id, d, size, err) < 0 || meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_locked(struct meta *m, meta_locked_fn fn, void *ctx, struct berr *err)
{
	if (meta_begin(m, err) < 0)
		return -1;
	if (fn(ctx, m, err) < 0 || meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	return 0;
}

int meta_gc_untagged(struct meta *m, int64_t cutoff, meta_gc_manifest_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_GC_UNTAGGED, err, "i", cutoff);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_gc_manifest c = {
		    .id = db_column_int64(st, 0),
		    .repo_id = db_column_int64(st, 1),
		    .tags_version = db_column_int64(st, 2),
		    .manifests_version = db_column_int64(st, 3),
		};
		if (fn(ctx, &c))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "find untagged manifests", err);
	return 0;
}

int meta_gc_manifests_delete(struct meta *m, const struct meta_gc_manifest *list, size_t n, int64_t cutoff,
                             int64_t *deleted, struct berr *err)
{
	*deleted = 0;
	if (meta_begin(m, err) < 0)
		return -1;
	int64_t count = 0;
	for (size_t i = 0; i < n; i++) {
		int changes = 0;
		if (meta_exec_bound(m,
		                    meta_bind(m, ST_GC_MANIFEST_DELETE, err, "iiiii", list[i].id, list[i].repo_id,
		                              list[i].tags_version, list[i].manifests_version, cutoff),
		                    "delete manifest", &changes, err) < 0) {
			meta_rollback(m);
			return -1;
		}
		count += changes;
	}
	if (meta_commit(m, err) < 0) {
		meta_rollback(m);
		return -1;
	}
	*deleted = count;
	return 0;
}

int meta_gc_blob_candidates(struct meta *m, int64_t cutoff, const char *after, int64_t limit, meta_blob_fn fn,
                            void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_GC_BLOB_CANDIDATES, err, "iti", cutoff, after ? after : "", limit);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *dg = (const char *)db_column_text(st, 0);
		if (fn(ctx, dg ? dg : "", (uint64_t)db_column_int64(st, 1)))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "find unreferenced blobs", err);
	return 0;
}

int meta_gc_blob_delete(struct meta *m, const struct digest *d, int64_t cutoff, meta_install_fn remove, void *ctx,
                        bool *deleted, uint64_t *size, struct berr *err)
{
	*deleted = false;
	if (meta_begin(m, err) < 0)
		return -1;
	struct db_stmt *st = meta_bind(m, ST_GC_BLOB_RECHECK, err, "ti", d->str, cutoff);
	if (!st)
		goto fail;
	int r = meta_lookup_row(m, st, "recheck blob", err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		/* Referenced or used again since it was listed: it stays. */
		meta_rollback(m);
		return 0;
	}
	*size = (uint64_t)db_column_int64(st, 0);
	meta_reset(st);
	if (meta_exec_bound(m, meta_bind(m, ST_BLOB_UNLINK_ALL, err, "t", d->str), "unlink blob", NULL, err) < 0 ||
	    meta_exec_bound(m, meta_bind(m, ST_BLOB_DELETE, err, "t", d->str), "delete blob", NULL, err) < 0 ||
	    remove(ctx, err) < 0 || meta_commit(m, err) < 0)
		goto fail;
	*deleted = true;
	return 0;
fail:
	meta_rollback(m);
	return -1;
}

int meta_uploads_expired(struct meta *m, int64_t cutoff, int64_t limit, meta_name_fn fn, void *ctx, struct berr *err)
{
	return meta_each_name(m, meta_bind(m, ST_UPLOADS_EXPIRED, err, "ii", cutoff, limit), fn, ctx, "expired uploads",
	                      err);
}

int meta_upload_expire(struct meta *m, const char *id, int64_t cutoff, bool *expired, struct berr *err)
{
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_UPLOAD_EXPIRE, err, "ti", id, cutoff), "expire upload", &changes, err) <
	    0)
		return -1;
	*expired = changes > 0;
	return 0;
}

int meta_upload_touch(struct meta *m, const char *id, struct berr *err)
{
	return meta_exec_bound(m, meta_bind(m, ST_UPLOAD_TOUCH, err, "ti", id, meta_now()), "touch upload", NULL, err);
}

int meta_gc_run_record(struct meta *m, const struct meta_gc_run *run, struct berr *err)
{
	return meta_exec_bound(m,
	                       meta_bind(m, ST_GC_RUN_INSERT, err, "iitbiiiiit", run->started_at, run->finished_at,
	                                 run->trigger, (int)run->dry_run, run->manifests_deleted, run->blobs_deleted,
	                                 run->bytes_freed, run->files_removed, run->uploads_expired,
	                                 run->error[0] ? run->error : NULL),
	                       "record garbage collection", NULL, err);
}

int meta_gc_runs(struct meta *m, int64_t limit, meta_gc_run_fn fn, void *ctx, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_GC_RUNS_LIST, err, "i", limit);
	if (!st)
		return -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct meta_gc_run run = {
		    .id = db_column_int64(st, 0),
		    .started_at = db_column_int64(st, 1),
		    .finished_at = db_column_int64(st, 2),
		    .dry_run = db_column_int64(st, 4) != 0,
		    .manifests_deleted = db_column_int64(st, 5),
		    .blobs_deleted = db_column_int64(st, 6),
		    .bytes_freed = db_column_int64(st, 7),
		    .files_removed = db_column_int64(st, 8),
		    .uploads_expired = db_column_int64(st, 9),
		};
		meta_copy_text(run.trigger, sizeof run.trigger, st, 3);
		meta_copy_text(run.error, sizeof run.error, st, 10);
		if (fn(ctx, &run))
			break;
	}
	meta_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return meta_fail(m, rc, "list garbage collection runs", err);
	return 0;
}

int meta_blob_keep(struct meta *m, const struct digest *d, int64_t stale_before, struct berr *err)
{
	struct db_stmt *st = meta_bind(m, ST_BLOB_STALE, err, "ti", d->str, stale_before);
	if (!st)
		return -1;
	int r = meta_lookup_row(m, st, "blob lookup", err);
	if (r <= 0)
		return r;
	meta_reset(st);
	int changes = 0;
	if (meta_exec_bound(m, meta_bind(m, ST_BLOB_KEEP, err, "ti", d->str, meta_now()), "keep blob", &changes, err) <
	    0)
		return -1;
	if (changes == 0)
		return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not stored", d->str);
	return 0;
}
