/* The scope of tag rules and webhooks, a repository or a namespace: who may manage one,
 * the body fields that name it, and the GET of a collection of scoped objects, which lists
 * only those the caller may manage. */
#include <string.h>

#include "common/reference.h"
#include "server/api_v1.h"
#include "server/auth.h"
#include "server/proxy.h"
#include "server/registry.h"

bool api_v1_may_manage_scope(struct req *r, const char *scope_kind, const char *scope, bool respond)
{
	struct berr err = {0};
	if (r->auth->is_admin)
		return true;
	if (r->auth->authenticated) {
		char ns[REFERENCE_NAME_MAX + 1];
		snprintf(ns, sizeof ns, "%s", scope);
		if (strcmp(scope_kind, "repository") == 0) {
			unsigned actions = 0;
			if (auth_repo_actions(r->meta, r->auth, scope, &actions, &err) < 0) {
				if (respond)
					req_respond_error(r, &err);
				return false;
			}
			if (actions & ACTION_DELETE)
				return true;
			/* The pull-through cache is the administrators' (see auth_repo_actions). */
			if (proxy_is_mirrored(scope))
				goto denied;
			char *slash = strchr(ns, '/');
			if (!slash)
				goto denied;
			*slash = '\0';
		}
		/* A namespace rule or webhook would reach the cached names in it, whatever the
		 * depth of the mirror's prefix. */
		if (strcmp(scope_kind, "namespace") == 0 && proxy_namespace_cached(ns))
			goto denied;
		if (strcmp(ns, r->auth->name) == 0)
			return true;
		char role[16];
		if (meta_org_role(r->meta, r->auth->user_id, ns, role, &err) < 0) {
			if (respond)
				req_respond_error(r, &err);
			return false;
		}
		if (strcmp(role, "owner") == 0)
			return true;
	}
denied:
	if (respond)
		req_fail(r, r->auth->authenticated ? BERR_DENIED : BERR_UNAUTHORIZED,
		         "managing rules of %s %s needs admin rights on it (its namespace's owner or an administrator)",
		         scope_kind, scope);
	return false;
}

int api_v1_scope_field(struct req *r, struct api_v1 *c, const char **scope_kind, const char **scope)
{
	const char *ns = NULL, *repo = NULL;
	if (api_v1_field_string(r, c, "namespace", REFERENCE_NAME_MAX, false, &ns) < 0 ||
	    api_v1_field_string(r, c, "repository", REFERENCE_NAME_MAX, false, &repo) < 0)
		return -1;
	if (!!ns == !!repo) {
		req_fail(r, BERR_BAD_REQUEST, "give exactly one of the fields 'namespace' and 'repository'");
		return -1;
	}
	*scope_kind = ns ? "namespace" : "repository";
	*scope = ns ? ns : repo;
	struct berr e2 = {0};
	if (ns ? !reference_namespace_valid(ns) : reference_check_name(repo, strlen(repo), &e2) < 0) {
		req_fail(r, BERR_BAD_REQUEST, "'%s' is not a valid %s name", *scope, *scope_kind);
		return -1;
	}
	return 0;
}

void api_v1_scoped_get(struct req *r, const char *key, api_v1_scoped_lister list)
{
	if (!api_v1_require_user(r))
		return;
	const char *ns = req_query(r, "namespace"), *repo = req_query(r, "repository");
	if (ns && repo) {
		req_fail(r, BERR_BAD_REQUEST, "give namespace or repository, not both");
		return;
	}
	struct api_v1_scoped l = {.r = r, .items = json_array()};
	if (list(r, ns ? "namespace" : repo ? "repository" : NULL, ns ? ns : repo, &l) < 0) {
		json_decref(l.items);
		api_v1_fail(r);
		return;
	}
	api_v1_respond(r, 200, json_pack("{s:o}", key, l.items));
}

void api_v1_scoped_add(struct api_v1_scoped *l, const char *scope_kind, const char *scope, json_t *item)
{
	if (api_v1_may_manage_scope(l->r, scope_kind, scope, false))
		json_array_append_new(l->items, item);
	else
		json_decref(item);
}

bool api_v1_scoped_found(struct req *r, const char *scope_kind, const char *scope, const char *what, int64_t id)
{
	if (api_v1_may_manage_scope(r, scope_kind, scope, false))
		return true;
	req_fail(r, BERR_NOT_FOUND, "there is no %s %lld", what, (long long)id);
	return false;
}
