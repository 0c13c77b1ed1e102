/* The command line of tag rules and webhooks: `berthd policy list|immutable|retention|del`,
 * `berthd retention [--dry-run]` and `berthd webhook list|add|del|deliveries`. Changes are
 * recorded in the audit log as done by "cli". */
#include "server/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/reference.h"
#include "common/xalloc.h"
#include "server/config.h"
#include "server/meta.h"
#include "server/retention.h"
#include "server/secrets.h"
#include "server/webhooks.h"

static const char *const policy_usage =
    "Usage:\n"
    "  berthd policy list [--namespace NS | --repository NAME]\n"
    "  berthd policy immutable --namespace NS|--repository NAME --pattern GLOB\n"
    "  berthd policy retention --namespace NS|--repository NAME --pattern GLOB --keep-last N|--keep-days D\n"
    "  berthd policy del ID\n"
    "  berthd retention [--dry-run]     untag what the retention rules say should go\n"
    "GLOB matches tag names: * any run, ? one character, [a-z] a class. Immutable tags cannot be\n"
    "pushed over or deleted. Retention keeps, of the tags GLOB matches, the N most recently pushed,\n"
    "or those pushed or pulled within D days; the rest are untagged by `berthd retention` (and GC).\n"
    "  berthd webhook list [--namespace NS | --repository NAME]\n"
    "  berthd webhook add --namespace NS|--repository NAME --url URL [--secret S] [--events push,delete,mirror]\n"
    "  berthd webhook del ID\n"
    "  berthd webhook deliveries ID      the latest 50 deliveries, newest first\n"
    "Each also takes --data DIR / --config FILE like the server.\n";

struct policy_args {
	const char *pos[2];
	int npos;
	const char *ns, *repo, *pattern, *keep_last, *keep_days, *url, *secret, *events;
	bool dry_run;
	char **rest; /* options for config_load */
	int nrest;
};

/* Split argv (from index `from`) into our options and the server's. Returns -1 after
 * printing an error. */
static int policy_parse(int argc, char **argv, int from, struct policy_args *a)
{
	a->rest = xcalloc((size_t)argc + 1, sizeof *a->rest);
	for (int i = from; i < argc; i++) {
		const char *w = argv[i];
		const char **slot = NULL;
		if (!strcmp(w, "--namespace"))
			slot = &a->ns;
		else if (!strcmp(w, "--repository"))
			slot = &a->repo;
		else if (!strcmp(w, "--pattern"))
			slot = &a->pattern;
		else if (!strcmp(w, "--keep-last"))
			slot = &a->keep_last;
		else if (!strcmp(w, "--keep-days"))
			slot = &a->keep_days;
		else if (!strcmp(w, "--url"))
			slot = &a->url;
		else if (!strcmp(w, "--secret"))
			slot = &a->secret;
		else if (!strcmp(w, "--events"))
			slot = &a->events;
		else if (!strcmp(w, "--dry-run"))
			a->dry_run = true;
		else if (!strncmp(w, "--", 2)) {
			a->rest[a->nrest++] = argv[i];
			if (!strchr(w, '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 &&
			    strcmp(w, "--read-only") != 0)
				a->rest[a->nrest++] = argv[++i];
		} else if (a->npos < 2)
			a->pos[a->npos++] = w;
		else {
			fprintf(stderr, "berthd: unexpected argument '%s'\n", w);
			return -1;
		}
		if (slot) {
			if (i + 1 >= argc) {
				fprintf(stderr, "berthd: %s needs a value\n", w);
				return -1;
			}
			*slot = argv[++i];
		}
	}
	return 0;
}

/* Open the data folder's database named by the server options in a. */
static struct meta *policy_open(struct policy_args *a, struct config *cfg)
{
	struct berr err = {0};
	bool exit_now;
	if (config_load(cfg, a->nrest, a->rest, &exit_now, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		return NULL;
	}
	cleanup_free char *db = config_database(cfg);
	if (config_database_missing(db)) {
		fprintf(stderr, "berthd: no database at %s (start berthd once first)\n", db);
		return NULL;
	}
	struct meta *m = NULL;
	if (meta_init(db, &err) < 0 || !(m = meta_get(&err))) {
		fprintf(stderr, "berthd: %s\n", err.message);
		return NULL;
	}
	return m;
}

/* A decimal count in 1..max, or -2 when s is not one. NULL: -1 (absent). */
static int64_t policy_number(const char *s)
{
	if (!s)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return -2;
	return v;
}

static int policy_print(void *ctx, const struct meta_tag_rule *r)
{
	(void)ctx;
	char keep[64] = "";
	if (r->keep_last >= 0)
		snprintf(keep, sizeof keep, " keep-last %lld", (long long)r->keep_last);
	else if (r->keep_days >= 0)
		snprintf(keep, sizeof keep, " keep-days %lld", (long long)r->keep_days);
	printf("%lld %s %s %s %s%s\n", (long long)r->id, r->kind, r->scope_kind, r->scope, r->pattern, keep);
	return 0;
}

/* Run one policy verb on m. Returns 0, or -1 with err. */
static int policy_run(struct meta *m, struct policy_args *a, struct berr *err)
{
	const char *verb = a->npos > 0 ? a->pos[0] : "";
	if (a->ns && a->repo)
		return berr_set(err, BERR_BAD_REQUEST, "give --namespace or --repository, not both");
	const char *scope_kind = a->ns ? "namespace" : a->repo ? "repository" : NULL;
	const char *scope = a->ns ? a->ns : a->repo;
	if (!strcmp(verb, "list") && a->npos == 1)
		return meta_tag_rules_list(m, NULL, scope_kind, scope, policy_print, NULL, err);
	if ((!strcmp(verb, "immutable") || !strcmp(verb, "retention")) && a->npos == 1) {
		struct meta_tag_rule rule = {.keep_last = policy_number(a->keep_last),
		                             .keep_days = policy_number(a->keep_days)};
		if (!scope)
			return berr_set(err, BERR_BAD_REQUEST, "policy %s needs --namespace NS or --repository NAME",
			                verb);
		if (!a->pattern)
			return berr_set(err, BERR_BAD_REQUEST, "policy %s needs --pattern GLOB", verb);
		if (rule.keep_last == -2 || rule.keep_days == -2)
			return berr_set(err, BERR_BAD_REQUEST, "--keep-last and --keep-days want a whole number");
		if (strlen(scope) >= sizeof rule.scope || strlen(a->pattern) >= sizeof rule.pattern)
			return berr_set(err, BERR_BAD_REQUEST, "the scope or the pattern is too long");
		snprintf(rule.kind, sizeof rule.kind, "%s", verb);
		snprintf(rule.scope_kind, sizeof rule.scope_kind, "%s", scope_kind);
		snprintf(rule.scope, sizeof rule.scope, "%s", scope);
		snprintf(rule.pattern, sizeof rule.pattern, "%s", a->pattern);
		snprintf(rule.created_by, sizeof rule.created_by, "cli");
		int64_t id;
		if (retention_rule_check(&rule, err) < 0 || meta_tag_rule_add(m, &rule, &id, err) < 0)
			return -1;
		rule.id = id;
		char detail[256];
		snprintf(detail, sizeof detail, "{\"id\":%lld}", (long long)id);
		meta_audit(m, "cli", "tag_rule_add", scope, detail, "local", NULL);
		printf("added rule ");
		return policy_print(NULL, &rule);
	}
	if (!strcmp(verb, "del") && a->npos == 2) {
		int64_t id = policy_number(a->pos[1]);
		if (id <= 0)
			return berr_set(err, BERR_BAD_REQUEST, "policy del wants a rule ID (see berthd policy list)");
		struct meta_tag_rule rule;
		if (meta_tag_rule_get(m, id, &rule, err) < 0 || meta_tag_rule_delete(m, id, err) < 0)
			return -1;
		char detail[64];
		snprintf(detail, sizeof detail, "{\"id\":%lld}", (long long)id);
		meta_audit(m, "cli", "tag_rule_delete", rule.scope, detail, "local", NULL);
		printf("deleted rule %lld\n", (long long)id);
		return 0;
	}
	return berr_set(err, BERR_BAD_REQUEST, "unknown or incomplete command: policy %s (see berthd policy --help)",
	                verb);
}

static bool policy_wants_help(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return argc < 3;
}

int policy_main(int argc, char **argv)
{
	if (policy_wants_help(argc, argv)) {
		fputs(policy_usage, argc < 3 ? stderr : stdout);
		return argc < 3 ? 2 : 0;
	}
	struct policy_args a = {0};
	struct config cfg = {0};
	int rc = 1;
	if (policy_parse(argc, argv, 2, &a) == 0) {
		struct meta *m = policy_open(&a, &cfg);
		if (m) {
			struct berr err = {0};
			rc = policy_run(m, &a, &err) < 0 ? 1 : 0;
			if (rc)
				fprintf(stderr, "berthd: %s\n", err.message);
			meta_shutdown();
		}
	}
	config_free(&cfg);
	free(a.rest);
	return rc;
}

static void policy_report_tag(void *ctx, enum retention_action action, const char *repo, const char *tag,
                              const char *digest, int64_t rule_id)
{
	bool dry = *(bool *)ctx;
	const char *what = action == RETENTION_UNTAG            ? (dry ? "would untag" : "untagged")
	                   : action == RETENTION_KEEP_IMMUTABLE ? "kept (immutable)"
	                                                        : "skipped (pushed again meanwhile)";
	printf("%s %s:%s %s (rule %lld)\n", what, repo, tag, digest, (long long)rule_id);
}

int policy_retention_main(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(policy_usage, stdout);
			return 0;
		}
	struct policy_args a = {0};
	struct config cfg = {0};
	int rc = 1;
	if (policy_parse(argc, argv, 2, &a) == 0) {
		if (a.npos > 0 || a.ns || a.repo || a.pattern || a.keep_last || a.keep_days) {
			fprintf(stderr, "berthd: usage: berthd retention [--dry-run] [--data DIR]\n");
		} else {
			struct meta *m = policy_open(&a, &cfg);
			if (m) {
				struct berr err = {0};
				struct retention_report rep = {.on_tag = policy_report_tag, .ctx = &a.dry_run};
				if (retention_run(m, a.dry_run, &rep, &err) < 0) {
					fprintf(stderr, "berthd: retention: %s\n", err.message);
				} else {
					printf("%s%lld tags %suntagged, %lld kept as immutable, %lld skipped; %lld "
					       "tags in %lld "
					       "repositories matched retention rules\n",
					       a.dry_run ? "dry run: " : "", (long long)rep.untagged,
					       a.dry_run ? "would be " : "", (long long)rep.protected_,
					       (long long)rep.skipped, (long long)rep.examined,
					       (long long)rep.repositories);
					if (!a.dry_run && rep.untagged)
						meta_audit(m, "cli", "retention_run", "-", NULL, "local", NULL);
					rc = 0;
				}
				meta_shutdown();
			}
		}
	}
	config_free(&cfg);
	free(a.rest);
	return rc;
}

static int policy_print_hook(void *ctx, const struct meta_webhook *h)
{
	(void)ctx;
	printf("%lld %s %s %s %s\n", (long long)h->id, h->scope_kind, h->scope, h->events, h->url);
	return 0;
}

static int policy_print_delivery(void *ctx, const struct meta_delivery *d)
{
	(void)ctx;
	printf("%lld %s %s attempts=%lld status=%lld%s%s\n", (long long)d->id, d->event, d->state,
	       (long long)d->attempts, (long long)d->last_status, d->last_error[0] ? " error=" : "", d->last_error);
	return 0;
}

/* Run one webhook verb on m. Returns 0, or -1 with err. */
static int policy_webhook_run(struct meta *m, struct policy_args *a, struct berr *err)
{
	const char *verb = a->npos > 0 ? a->pos[0] : "";
	if (a->ns && a->repo)
		return berr_set(err, BERR_BAD_REQUEST, "give --namespace or --repository, not both");
	const char *scope_kind = a->ns ? "namespace" : a->repo ? "repository" : NULL;
	const char *scope = a->ns ? a->ns : a->repo;
	if (!strcmp(verb, "list") && a->npos == 1)
		return meta_webhooks_list(m, scope_kind, scope, policy_print_hook, NULL, err);
	if (!strcmp(verb, "add") && a->npos == 1) {
		if (!scope || !a->url)
			return berr_set(err, BERR_BAD_REQUEST,
			                "webhook add needs --namespace NS or --repository NAME, and --url");
		struct meta_webhook h = {0};
		cleanup_free char *generated = a->secret ? NULL : secrets_token_new("whsec_");
		const char *secret = a->secret ? a->secret : generated;
		if (strlen(scope) >= sizeof h.scope || strlen(a->url) >= sizeof h.url ||
		    strlen(secret) >= sizeof h.secret || (a->events && strlen(a->events) >= sizeof h.events))
			return berr_set(err, BERR_BAD_REQUEST, "a value is too long");
		struct berr e2;
		bool scope_ok =
		    a->ns ? reference_namespace_valid(scope) : reference_check_name(scope, strlen(scope), &e2) == 0;
		if (!scope_ok)
			return berr_set(err, BERR_BAD_REQUEST, "'%s' is not a valid %s name", scope, scope_kind);
		snprintf(h.scope_kind, sizeof h.scope_kind, "%s", scope_kind);
		snprintf(h.scope, sizeof h.scope, "%s", scope);
		snprintf(h.url, sizeof h.url, "%s", a->url);
		snprintf(h.secret, sizeof h.secret, "%s", secret);
		snprintf(h.events, sizeof h.events, "%s", a->events ? a->events : "push,delete");
		snprintf(h.created_by, sizeof h.created_by, "cli");
		int64_t id;
		if (webhooks_check(&h, err) < 0 || meta_webhook_add(m, &h, &id, err) < 0)
			return -1;
		char detail[64];
		snprintf(detail, sizeof detail, "{\"id\":%lld}", (long long)id);
		meta_audit(m, "cli", "webhook_add", scope, detail, "local", NULL);
		h.id = id;
		printf("added webhook ");
		policy_print_hook(NULL, &h);
		if (!a->secret)
			printf("secret %s\n", secret); /* shown this once */
		return 0;
	}
	if ((!strcmp(verb, "del") || !strcmp(verb, "deliveries")) && a->npos == 2) {
		int64_t id = policy_number(a->pos[1]);
		if (id <= 0)
			return berr_set(err, BERR_BAD_REQUEST,
			                "webhook %s wants a webhook ID (see berthd webhook list)", verb);
		struct meta_webhook h;
		if (meta_webhook_get(m, id, &h, err) < 0)
			return -1;
		if (!strcmp(verb, "deliveries"))
			return meta_deliveries_list(m, id, 0, 50, policy_print_delivery, NULL, err);
		if (meta_webhook_delete(m, id, err) < 0)
			return -1;
		char detail[64];
		snprintf(detail, sizeof detail, "{\"id\":%lld}", (long long)id);
		meta_audit(m, "cli", "webhook_delete", h.scope, detail, "local", NULL);
		printf("deleted webhook %lld\n", (long long)id);
		return 0;
	}
	return berr_set(err, BERR_BAD_REQUEST, "unknown or incomplete command: webhook %s (see berthd webhook --help)",
	                verb);
}

int policy_webhook_main(int argc, char **argv)
{
	if (policy_wants_help(argc, argv)) {
		fputs(policy_usage, argc < 3 ? stderr : stdout);
		return argc < 3 ? 2 : 0;
	}
	struct policy_args a = {0};
	struct config cfg = {0};
	int rc = 1;
	if (policy_parse(argc, argv, 2, &a) == 0) {
		struct meta *m = policy_open(&a, &cfg);
		if (m) {
			struct berr err = {0};
			rc = policy_webhook_run(m, &a, &err) < 0 ? 1 : 0;
			if (rc)
				fprintf(stderr, "berthd: %s\n", err.message);
			meta_shutdown();
		}
	}
	config_free(&cfg);
	free(a.rest);
	return rc;
}
