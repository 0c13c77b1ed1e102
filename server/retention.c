/* Retention: per repository, load the tags once, evaluate every rule that applies, then
 * untag the losers one by one, each in its own transaction that re-checks the tag has not
 * been pushed again meanwhile. Memory is one repository's tag list at a time. */
#include "server/retention.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/reference.h"
#include "common/xalloc.h"
#include "server/metrics.h"
#include "server/webhooks.h"

int retention_rule_check(const struct meta_tag_rule *rule, struct berr *err)
{
	bool immutable = strcmp(rule->kind, "immutable") == 0;
	if (!immutable && strcmp(rule->kind, "retention") != 0)
		return berr_set(err, BERR_BAD_REQUEST, "kind must be immutable or retention, not '%s'", rule->kind);
	if (strcmp(rule->scope_kind, "repository") == 0) {
		struct berr e2;
		if (reference_check_name(rule->scope, strlen(rule->scope), &e2) < 0)
			return berr_set(err, BERR_BAD_REQUEST, "'%s' is not a valid repository name", rule->scope);
	} else if (strcmp(rule->scope_kind, "namespace") == 0) {
		if (!reference_namespace_valid(rule->scope))
			return berr_set(err, BERR_BAD_REQUEST, "'%s' is not a valid namespace", rule->scope);
	} else {
		return berr_set(err, BERR_BAD_REQUEST, "a rule applies to a repository or a namespace");
	}
	size_t pl = strlen(rule->pattern);
	if (pl == 0 || pl > META_TAG_PATTERN_MAX)
		return berr_set(err, BERR_BAD_REQUEST, "pattern must be 1 to %d characters", META_TAG_PATTERN_MAX);
	for (const char *p = rule->pattern; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("_.-*?[]!", *p)))
			return berr_set(
			    err, BERR_BAD_REQUEST,
			    "pattern '%s': only tag characters and the glob characters * ? [ ] ! may appear",
			    rule->pattern);
	if (immutable) {
		if (rule->keep_last >= 0 || rule->keep_days >= 0)
			return berr_set(err, BERR_BAD_REQUEST, "keep_last and keep_days are for retention rules");
		return 0;
	}
	if ((rule->keep_last >= 0) == (rule->keep_days >= 0))
		return berr_set(err, BERR_BAD_REQUEST, "a retention rule needs exactly one of keep_last and keep_days");
	if (rule->keep_last >= 0 && (rule->keep_last < 1 || rule->keep_last > 100000))
		return berr_set(err, BERR_BAD_REQUEST, "keep_last must be 1 to 100000");
	if (rule->keep_days >= 0 && (rule->keep_days < 1 || rule->keep_days > 36500))
		return berr_set(err, BERR_BAD_REQUEST, "keep_days must be 1 to 36500");
	return 0;
}

struct retention_rules {
	struct meta_tag_rule *v;
	size_t n, cap;
};

static int retention_rule_add(void *ctx, const struct meta_tag_rule *rule)
{
	struct retention_rules *rs = ctx;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		rs->v = xrealloc(rs->v, rs->cap * sizeof *rs->v);
	}
	rs->v[rs->n++] = *rule;
	return 0;
}

struct retention_repo {
	int64_t id;
	char *name;
	char *ns;
};

struct retention_repos {
	struct retention_repo *v;
	size_t n, cap;
	const struct retention_rules *rules;
};

static bool retention_applies(const struct meta_tag_rule *rule, const char *name, const char *ns)
{
	if (strcmp(rule->scope_kind, "repository") == 0)
		return strcmp(rule->scope, name) == 0;
	return strcmp(rule->scope, ns) == 0;
}

static int retention_repo_add(void *ctx, int64_t id, const char *name, const char *ns)
{
	struct retention_repos *rr = ctx;
	bool any = false;
	for (size_t i = 0; i < rr->rules->n && !any; i++)
		any = retention_applies(&rr->rules->v[i], name, ns);
	if (!any)
		return 0;
	if (rr->n == rr->cap) {
		rr->cap = rr->cap ? rr->cap * 2 : 16;
		rr->v = xrealloc(rr->v, rr->cap * sizeof *rr->v);
	}
	rr->v[rr->n++] = (struct retention_repo){.id = id, .name = xstrdup(name), .ns = xstrdup(ns)};
	return 0;
}

struct retention_tag {
	char *name;
	char *digest;
	int64_t pushed, pulled;
	bool matched, kept;
	int64_t rule; /* the first retention rule that matched it */
};

struct retention_tags {
	struct retention_tag *v;
	size_t n, cap;
};

static int retention_tag_add(void *ctx, const char *tag, const char *digest, int64_t pushed, int64_t pulled)
{
	struct retention_tags *ts = ctx;
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 32;
		ts->v = xrealloc(ts->v, ts->cap * sizeof *ts->v);
	}
	ts->v[ts->n++] =
	    (struct retention_tag){.name = xstrdup(tag), .digest = xstrdup(digest), .pushed = pushed, .pulled = pulled};
	return 0;
}

/* Most recently pushed first; the name breaks ties so runs are repeatable. */
static int retention_by_push(const void *a, const void *b)
{
	const struct retention_tag *x = *(struct retention_tag *const *)a, *y = *(struct retention_tag *const *)b;
	if (x->pushed != y->pushed)
		return x->pushed > y->pushed ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Mark which tags `rule` matches and which of those it keeps. */
static void retention_apply_rule(const struct meta_tag_rule *rule, struct retention_tags *ts, int64_t now)
{
	struct retention_tag **match = xmalloc((ts->n ? ts->n : 1) * sizeof *match);
	size_t nm = 0;
	for (size_t i = 0; i < ts->n; i++)
		if (fnmatch(rule->pattern, ts->v[i].name, 0) == 0) {
			match[nm++] = &ts->v[i];
			if (!ts->v[i].matched) {
				ts->v[i].matched = true;
				ts->v[i].rule = rule->id;
			}
		}
	if (rule->keep_last >= 0) {
		qsort(match, nm, sizeof *match, retention_by_push);
		for (size_t i = 0; i < nm && (int64_t)i < rule->keep_last; i++)
			match[i]->kept = true;
	} else {
		int64_t cutoff = now - rule->keep_days * 86400;
		for (size_t i = 0; i < nm; i++)
			if (match[i]->pushed >= cutoff || match[i]->pulled >= cutoff)
				match[i]->kept = true;
	}
	free(match);
}

static void retention_report_tag(struct retention_report *report, enum retention_action action, const char *repo,
                                 const struct retention_tag *t)
{
	if (report->on_tag)
		report->on_tag(report->ctx, action, repo, t->name, t->digest, t->rule);
}

/* Evaluate and apply the rules for one repository. */
static int retention_repo(struct meta *m, const struct retention_repo *repo, const struct retention_rules *rules,
                          bool dry_run, struct retention_report *report, struct berr *err)
{
	struct retention_tags ts = {0};
	int rc = meta_repo_tag_rows(m, repo->id, retention_tag_add, &ts, err);
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; rc == 0 && i < rules->n; i++)
		if (retention_applies(&rules->v[i], repo->name, repo->ns))
			retention_apply_rule(&rules->v[i], &ts, now);
	for (size_t i = 0; rc == 0 && i < ts.n; i++) {
		struct retention_tag *t = &ts.v[i];
		if (!t->matched)
			continue;
		report->examined++;
		if (t->kept)
			continue;
		if (dry_run) {
			/* The real run would be refused for an immutable tag: say so now. */
			bool imm = false;
			if (meta_tag_is_immutable(m, repo->id, t->name, &imm, err) < 0) {
				rc = -1;
				break;
			}
			if (imm) {
				report->protected_++;
				retention_report_tag(report, RETENTION_KEEP_IMMUTABLE, repo->name, t);
			} else {
				report->untagged++;
				retention_report_tag(report, RETENTION_UNTAG, repo->name, t);
			}
			continue;
		}
		bool deleted = false;
		struct berr e2 = {0};
		if (meta_tag_delete_if(m, repo->id, t->name, t->digest, t->pushed, &deleted, &e2) < 0) {
			if (e2.code == BERR_DENIED) {
				report->protected_++;
				retention_report_tag(report, RETENTION_KEEP_IMMUTABLE, repo->name, t);
				continue;
			}
			*err = e2;
			rc = -1;
			break;
		}
		if (deleted) {
			report->untagged++;
			metrics_count(METRICS_RETENTION_UNTAGGED, 1);
			log_info("retention: untagged %s:%s (%s, rule %lld)", repo->name, t->name, t->digest,
			         (long long)t->rule);
			webhooks_emit(m, "delete", repo->name, t->name, t->digest, "retention");
			retention_report_tag(report, RETENTION_UNTAG, repo->name, t);
		} else {
			report->skipped++;
			retention_report_tag(report, RETENTION_SKIP_CHANGED, repo->name, t);
		}
	}
	for (size_t i = 0; i < ts.n; i++) {
		free(ts.v[i].name);
		free(ts.v[i].digest);
	}
	free(ts.v);
	return rc;
}

int retention_run(struct meta *m, bool dry_run, struct retention_report *report, struct berr *err)
{
	report->repositories = report->examined = report->untagged = report->protected_ = report->skipped = 0;
	struct retention_rules rules = {0};
	if (meta_tag_rules_list(m, "retention", NULL, NULL, retention_rule_add, &rules, err) < 0)
		return -1;
	int rc = 0;
	struct retention_repos repos = {.rules = &rules};
	if (rules.n)
		rc = meta_repos_each(m, retention_repo_add, &repos, err);
	for (size_t i = 0; rc == 0 && i < repos.n; i++) {
		report->repositories++;
		rc = retention_repo(m, &repos.v[i], &rules, dry_run, report, err);
	}
	for (size_t i = 0; i < repos.n; i++) {
		free(repos.v[i].name);
		free(repos.v[i].ns);
	}
	free(repos.v);
	free(rules.v);
	return rc;
}
