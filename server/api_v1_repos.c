/* /api/v1/repositories: the listing the web UI searches and pages (what the catalog would
 * show the caller), one repository with its descriptions, its settings (visibility and
 * descriptions), deleting it, and its tags. A private repository the caller may not read
 * answers exactly as a missing one. Without accounts (--auth none) all of it is readable
 * and none of it changeable through this API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/reference.h"
#include "server/api_v1.h"
#include "server/auth.h"
#include "server/markdown.h"
#include "server/proxy.h"
#include "server/pulls.h"
#include "server/registry.h"
#include "server/tagcache.h"
#include "server/webhooks.h"

#define API_V1_PER_PAGE_DEFAULT 25
#define API_V1_PER_PAGE_MAX     100
#define API_V1_PAGE_MAX         1000000
#define API_V1_QUERY_MAX        256
/* Docker Hub's limits. */
#define API_V1_DESCRIPTION_MAX      100
#define API_V1_FULL_DESCRIPTION_MAX 25000

static json_t *api_v1_repo_json(const struct meta_repo_row *row)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "name", row->name ? row->name : "", "namespace",
	                        row->ns ? row->ns : "", "visibility", row->visibility ? row->visibility : "private",
	                        "description", row->description ? row->description : "", "created_at",
	                        (json_int_t)row->created_at, "updated_at", (json_int_t)row->updated_at, "tag_count",
	                        (json_int_t)row->tag_count, "pull_count", (json_int_t)row->pull_count);
	if (row->full_description)
		json_object_set_new(doc, "full_description", json_string(row->full_description));
	return doc;
}

/* "mirror": {"upstream", "last_checked"} for a repository of the pull-through cache,
 * null for the others. */
static void api_v1_repo_mirror(struct req *r, json_t *doc)
{
	const char *name = json_string_value(json_object_get(doc, "name"));
	int64_t repo_id, last_checked;
	char upstream[REFERENCE_NAME_MAX + 512];
	struct berr e2;
	json_t *mirror = json_null();
	if (name && meta_repo_lookup(r->meta, name, &repo_id, &e2) == 0 &&
	    meta_mirror_repo_get(r->meta, repo_id, upstream, sizeof upstream, &last_checked, &e2) == 1)
		mirror = json_pack("{s:s,s:I}", "upstream", upstream, "last_checked", (json_int_t)last_checked);
	json_object_set_new(doc, "mirror", mirror);
}

static int api_v1_repos_add(void *ctx, const struct meta_repo_row *row)
{
	json_array_append_new(ctx, api_v1_repo_json(row));
	return 0;
}

/* GET /api/v1/repositories?q=&namespace=&sort=&page=&per_page= */
void api_v1_repos(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	int64_t page, per_page, total;
	if (api_v1_query_int(r, "page", 1, 1, API_V1_PAGE_MAX, &page) < 0 ||
	    api_v1_query_int(r, "per_page", API_V1_PER_PAGE_DEFAULT, 1, API_V1_PER_PAGE_MAX, &per_page) < 0)
		return;
	const char *q = req_query(r, "q");
	const char *ns = req_query(r, "namespace");
	const char *sort = req_query(r, "sort");
	if (q && strlen(q) > API_V1_QUERY_MAX) {
		req_fail(r, BERR_BAD_REQUEST, "query argument q is longer than %d characters", API_V1_QUERY_MAX);
		return;
	}
	if (ns && *ns && (strlen(ns) > META_NAME_MAX || !reference_name_valid(ns, strlen(ns)) || strchr(ns, '/'))) {
		req_fail(r, BERR_NAME_INVALID, "query argument namespace is not a valid namespace");
		return;
	}
	enum meta_repo_sort order = META_REPO_SORT_NAME;
	if (sort && strcmp(sort, "updated") == 0)
		order = META_REPO_SORT_UPDATED;
	else if (sort && strcmp(sort, "pulls") == 0)
		order = META_REPO_SORT_PULLS;
	else if (sort && *sort && strcmp(sort, "name") != 0) {
		req_fail(r, BERR_BAD_REQUEST, "query argument sort must be name, updated or pulls");
		return;
	}
	struct meta_viewer viewer;
	auth_viewer(r, &viewer);
	json_t *list = json_array();
	if (meta_repo_search(r->meta, &viewer, q, ns, order, (page - 1) * per_page, per_page, api_v1_repos_add, list,
	                     &total, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item)
	{
		api_v1_repo_mirror(r, item);
	}
	api_v1_respond(r, 200,
	               json_pack("{s:o,s:I,s:I,s:I}", "repositories", list, "total", (json_int_t)total, "page",
	                         (json_int_t)page, "per_page", (json_int_t)per_page));
}

bool api_v1_repo_access(struct req *r, const char *name, struct meta_repo_info *info, unsigned *actions)
{
	if (reference_check_name(name, strlen(name), &r->err) < 0) {
		api_v1_fail(r);
		return false;
	}
	if (meta_repo_info(r->meta, name, info, &r->err) < 0) {
		api_v1_fail(r);
		return false;
	}
	*actions = 0;
	if (auth_disabled(r))
		*actions = ACTION_PULL; /* everything is readable; changes go through /v2/ */
	else if (info->exists && auth_repo_actions(r->meta, r->auth, name, actions, &r->err) < 0) {
		api_v1_fail(r);
		return false;
	}
	if (!info->exists || !(*actions & ACTION_PULL)) {
		req_fail(r, BERR_NAME_UNKNOWN, "repository %s is not known", name);
		return false;
	}
	return true;
}

/* For changes and the grants: refuse without accounts, and without admin rights on the
 * repository (ACTION_DELETE). --read-only is refused for every change by api_v1(). */
static bool api_v1_repo_may_change(struct req *r, unsigned actions)
{
	if (auth_disabled(r)) {
		req_fail(r, BERR_DENIED, "without accounts (--auth none) this API is read-only");
		return false;
	}
	if (!(actions & ACTION_DELETE)) {
		req_fail(r, r->auth->authenticated ? BERR_DENIED : BERR_UNAUTHORIZED,
		         "changing this repository needs admin rights on it");
		return false;
	}
	return true;
}

static int api_v1_repo_one(void *ctx, const struct meta_repo_row *row)
{
	*(json_t **)ctx = api_v1_repo_json(row);
	return 1;
}

static void api_v1_repo_respond(struct req *r, const char *name, unsigned actions)
{
	json_t *doc = NULL;
	if (meta_repo_describe(r->meta, name, api_v1_repo_one, &doc, &r->err) < 0) {
		json_decref(doc);
		api_v1_fail(r);
		return;
	}
	api_v1_repo_mirror(r, doc);
	/* The Markdown rendered here, safely, so no page has to render it itself. */
	json_t *full = json_object_get(doc, "full_description");
	if (json_is_string(full)) {
		char *html = markdown_to_html(json_string_value(full), json_string_length(full));
		json_object_set_new(doc, "full_description_html", api_v1_string(html));
		free(html);
	}
	json_object_set_new(doc, "permissions",
	                    json_pack("{s:b,s:b,s:b}", "pull", (actions & ACTION_PULL) != 0, "push",
	                              (actions & ACTION_PUSH) != 0, "admin", (actions & ACTION_DELETE) != 0));
	api_v1_respond(r, 200, doc);
}

/* PATCH /api/v1/repositories/{name} {"visibility","description","full_description"} */
static void api_v1_repo_patch(struct req *r, struct api_v1 *c, const char *name, unsigned actions)
{
	const char *visibility = NULL, *description = NULL, *full = NULL;
	int has_vis, has_desc, has_full;
	if (!api_v1_require_body(r, c) ||
	    (has_vis = api_v1_field_string(r, c, "visibility", 16, false, &visibility)) < 0 ||
	    (has_desc = api_v1_field_string(r, c, "description", API_V1_DESCRIPTION_MAX, true, &description)) < 0 ||
	    (has_full = api_v1_field_string(r, c, "full_description", API_V1_FULL_DESCRIPTION_MAX, true, &full)) < 0)
		return;
	if (has_vis && strcmp(visibility, "public") != 0 && strcmp(visibility, "private") != 0) {
		req_fail(r, BERR_BAD_REQUEST, "field 'visibility' must be public or private");
		return;
	}
	if (!has_vis && !has_desc && !has_full) {
		req_fail(r, BERR_BAD_REQUEST, "nothing to change: give visibility, description or full_description");
		return;
	}
	if (meta_repo_update(r->meta, name, visibility, description, full, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (has_vis)
		api_v1_audit_log(r, "visibility", name, json_pack("{s:s}", "visibility", visibility));
	if (has_desc || has_full) {
		json_t *fields = json_array();
		if (has_desc)
			json_array_append_new(fields, json_string("description"));
		if (has_full)
			json_array_append_new(fields, json_string("full_description"));
		api_v1_audit_log(r, "repo_update", name, json_pack("{s:o}", "fields", fields));
	}
	api_v1_repo_respond(r, name, actions);
}

struct api_v1_repo_deleted {
	struct req *r;
	const char *name;
};

/* A webhook delete event for each tag a repository deletion removed (ops: webhooks). */
static void api_v1_repo_deleted_tag(void *ctx, const char *tag, const char *digest)
{
	struct api_v1_repo_deleted *d = ctx;
	webhooks_emit(d->r->meta, "delete", d->name, tag, digest, d->r->auth->name);
}

/* GET/PATCH/DELETE /api/v1/repositories/{name} */
void api_v1_repo(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_PATCH && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_repo_info info;
	unsigned actions;
	if (!api_v1_repo_access(r, c->p1, &info, &actions))
		return;
	if (r->method == HTTP_GET) {
		api_v1_repo_respond(r, c->p1, actions);
		return;
	}
	if (!api_v1_repo_may_change(r, actions))
		return;
	if (r->method == HTTP_PATCH) {
		api_v1_repo_patch(r, c, c->p1, actions);
		return;
	}
	/* Refused while a tag is immutable (403, counted like every immutable refusal). */
	struct api_v1_repo_deleted ctx = {r, c->p1};
	if (meta_repo_delete(r->meta, info.id, api_v1_repo_deleted_tag, &ctx, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	/* Its id may be given to the next repository created. */
	tagcache_forget(info.id);
	pulls_forget(info.id);
	api_v1_audit_log(r, "repo_delete", c->p1, NULL);
	api_v1_no_content(r);
}

struct api_v1_tags_ctx {
	struct req *r;
	int64_t repo_id;
	json_t *list;
};

static int api_v1_tags_add(void *ctx, const struct meta_tag_row *t)
{
	struct api_v1_tags_ctx *tc = ctx;
	json_array_append_new(tc->list,
	                      json_pack("{s:s,s:s,s:s,s:I,s:I,s:o}", "name", t->name ? t->name : "", "digest",
	                                t->digest ? t->digest : "", "media_type", t->media_type ? t->media_type : "",
	                                "size", (json_int_t)t->size, "pushed_at", (json_int_t)t->pushed_at,
	                                "last_pulled_at", api_v1_time(t->last_pulled_at)));
	return 0;
}

/* GET /api/v1/repositories/{name}/tags?page=&per_page= */
void api_v1_repo_tags(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_repo_info info;
	unsigned actions;
	int64_t page, per_page, total;
	if (!api_v1_repo_access(r, c->p1, &info, &actions) ||
	    api_v1_query_int(r, "page", 1, 1, API_V1_PAGE_MAX, &page) < 0 ||
	    api_v1_query_int(r, "per_page", API_V1_PER_PAGE_DEFAULT, 1, API_V1_PER_PAGE_MAX, &per_page) < 0)
		return;
	json_t *list = json_array();
	struct api_v1_tags_ctx tc = {r, info.id, list};
	if (meta_tags_page(r->meta, info.id, (page - 1) * per_page, per_page, api_v1_tags_add, &tc, &total, &r->err) <
	    0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	/* Platforms after the listing: looking them up reads manifests and configs, which must
	 * not happen while the listing's statement is open. */
	size_t i;
	json_t *tag;
	json_array_foreach(list, i, tag)
	{
		json_object_set_new(
		    tag, "platforms",
		    api_v1_manifest_platforms(r, info.id, json_string_value(json_object_get(tag, "digest"))));
	}
	api_v1_respond(r, 200,
	               json_pack("{s:o,s:I,s:I,s:I}", "tags", list, "total", (json_int_t)total, "page",
	                         (json_int_t)page, "per_page", (json_int_t)per_page));
}

/* DELETE /api/v1/repositories/{name}/tags/{tag}: the tag only; its manifest stays. */
void api_v1_repo_tag(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_repo_info info;
	unsigned actions;
	if (!api_v1_repo_access(r, c->p1, &info, &actions))
		return;
	if (reference_check_tag(c->p2, strlen(c->p2), &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (!api_v1_repo_may_change(r, actions))
		return;
	/* The pull-through cache's tags follow the upstream, as on /v2/ (docs/mirroring.md). */
	if (proxy_is_mirrored(c->p1)) {
		req_fail(r, BERR_DENIED, "%s is a repository of the pull-through cache, which is read-only", c->p1);
		return;
	}
	if (meta_tag_delete(r->meta, info.id, c->p2, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	char target[API_V1_PARAM_MAX * 2 + 2];
	snprintf(target, sizeof target, "%s:%s", c->p1, c->p2);
	api_v1_audit_log(r, "tag_delete", target, NULL);
	webhooks_emit(r->meta, "delete", c->p1, c->p2, NULL, r->auth->name); /* ops: webhooks */
	api_v1_no_content(r);
}

static int api_v1_grants_add(void *ctx, const char *user, const char *perm)
{
	json_array_append_new(ctx, json_pack("{s:s,s:s}", "user", user ? user : "", "permission", perm ? perm : ""));
	return 0;
}

/* GET /api/v1/repositories/{name}/grants: who has access beyond the namespace's rules. */
void api_v1_repo_grants(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_repo_info info;
	unsigned actions;
	if (!api_v1_repo_access(r, c->p1, &info, &actions) || !api_v1_repo_may_change(r, actions))
		return;
	json_t *list = json_array();
	if (meta_repo_grants(r->meta, info.id, api_v1_grants_add, list, &r->err) < 0) {
		json_decref(list);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", "grants", list));
}

/* PUT /api/v1/repositories/{name}/grants/{user} {"permission": "read"|"write"|"admin"},
 * DELETE the same to revoke it. Needs admin rights on the repository. */
void api_v1_repo_grant(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_PUT && r->method != HTTP_DELETE) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_repo_info info;
	unsigned actions;
	if (!api_v1_repo_access(r, c->p1, &info, &actions) || !api_v1_repo_may_change(r, actions))
		return;
	struct meta_account acct;
	if (meta_account_get(r->meta, c->p2, &acct, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	if (acct.is_org) {
		req_fail(r, BERR_BAD_REQUEST, "%s is an organization; grants are for users", acct.name);
		return;
	}
	if (r->method == HTTP_DELETE) {
		if (meta_repo_grant_delete(r->meta, info.id, acct.id, &r->err) < 0) {
			api_v1_fail(r);
			return;
		}
		api_v1_audit_log(r, "grant_revoke", c->p1, json_pack("{s:s}", "user", acct.name));
		api_v1_no_content(r);
		return;
	}
	const char *perm = NULL;
	if (!api_v1_require_body(r, c) || api_v1_field_string(r, c, "permission", 16, false, &perm) < 0)
		return;
	if (!perm) {
		req_fail(r, BERR_BAD_REQUEST, "field 'permission' is required: read, write or admin");
		return;
	}
	if (meta_repo_grant_set(r->meta, info.id, acct.id, perm, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "grant_set", c->p1, json_pack("{s:s,s:s}", "user", acct.name, "permission", perm));
	api_v1_respond(r, 200, json_pack("{s:s,s:s}", "user", acct.name, "permission", perm));
}
