/* berthd mirror ...: replication rules on the data folder's database (WAL lets this run
 * while berthd serves). `run` only asks: the running berthd's scheduler starts the rule
 * within REPLICATION_POLL seconds; --wait follows the rule's status until that run ends. */
#include "server/replication_cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "server/config.h"
#include "server/meta.h"
#include "server/replication.h"
#include "server/secrets.h"

static const char *const mirror_usage =
    "Usage:\n"
    "  berthd mirror add NAME --source URL --repositories GLOB [--tags GLOB|/REGEX/]\n"
    "                [--destination NAMESPACE] [--interval DURATION] [--username USER --password-stdin]\n"
    "  berthd mirror list\n"
    "  berthd mirror del NAME\n"
    "  berthd mirror run NAME [--wait]\n"
    "A rule copies the tags matching --tags (default *) of the source's repositories matching\n"
    "--repositories (a glob; without * ? [ one repository, no catalog needed) into local\n"
    "repositories named DESTINATION/REPOSITORY (default: the same names), every --interval\n"
    "(90s, 15m, 6h, 1d; default 1h; 0: only with `run`). Tags whose digest is the same locally\n"
    "are skipped. `run` asks the running berthd to run the rule now; --wait waits (up to 1 h)\n"
    "for the result and exits 1 unless it is ok.\n"
    "Each also takes --data DIR / --config FILE like the server.\n";

__attribute__((format(printf, 1, 2))) static int mirror_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "berthd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static void mirror_time(int64_t t, char *buf, size_t len)
{
	if (!t) {
		snprintf(buf, len, "never");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int mirror_print(void *ctx, const struct meta_replication_rule *r)
{
	(void)ctx;
	char started[32], finished[32];
	mirror_time(r->last_started_at, started, sizeof started);
	mirror_time(r->last_finished_at, finished, sizeof finished);
	printf("%s source=%s%s%s repositories=%s tags=%s destination=%s interval=%lld\n", r->name, r->source,
	       r->username[0] ? " username=" : "", r->username, r->repositories, r->tags,
	       r->destination[0] ? r->destination : "(same names)", (long long)r->interval);
	printf("  last=%s%s started=%s finished=%s copied=%lld unchanged=%lld errors=%lld total=%lld message=%s\n",
	       r->last_result[0] ? r->last_result : "none", r->run_requested ? " (run requested)" : "", started,
	       finished, (long long)r->last_images, (long long)r->last_unchanged, (long long)r->last_errors,
	       (long long)r->total_images, r->last_message);
	return 0;
}

/* The options of `mirror add` and `run`. */
struct mirror_args {
	const char *pos[3];
	int npos;
	const char *source, *repositories, *tags, *destination, *interval, *username;
	bool password_stdin, wait;
};

static int mirror_add(struct meta *m, const struct mirror_args *a, struct berr *err)
{
	struct meta_replication_rule *r = xcalloc(1, sizeof *r);
	int rc = 0;
	int64_t interval = a->interval ? replication_parse_interval(a->interval) : 3600;
	if (!a->source || !a->repositories)
		rc = berr_set(err, BERR_BAD_REQUEST, "mirror add needs --source URL and --repositories GLOB");
	else if (interval < 0)
		rc = berr_set(err, BERR_BAD_REQUEST, "--interval '%s' is no duration (90s, 15m, 6h, 1d, or 0)",
		              a->interval);
	else if (a->password_stdin && !a->username)
		rc = berr_set(err, BERR_BAD_REQUEST, "--password-stdin needs --username");
	else if (strlen(a->pos[1]) >= sizeof r->name || strlen(a->source) >= sizeof r->source ||
	         strlen(a->repositories) >= sizeof r->repositories || (a->tags && strlen(a->tags) >= sizeof r->tags) ||
	         (a->destination && strlen(a->destination) >= sizeof r->destination) ||
	         (a->username && strlen(a->username) >= sizeof r->username))
		rc = berr_set(err, BERR_BAD_REQUEST, "a value is too long");
	if (rc == 0) {
		snprintf(r->name, sizeof r->name, "%s", a->pos[1]);
		snprintf(r->source, sizeof r->source, "%s", a->source);
		snprintf(r->repositories, sizeof r->repositories, "%s", a->repositories);
		snprintf(r->tags, sizeof r->tags, "%s", a->tags ? a->tags : "*");
		snprintf(r->destination, sizeof r->destination, "%s", a->destination ? a->destination : "");
		snprintf(r->username, sizeof r->username, "%s", a->username ? a->username : "");
		r->interval = interval;
	}
	if (rc == 0 && a->password_stdin) {
		char buf[SECRETS_PASSWORD_MAX + 2];
		if (!fgets(buf, sizeof buf, stdin) || !*buf)
			rc = berr_set(err, BERR_BAD_REQUEST, "no password on standard input");
		else {
			buf[strcspn(buf, "\r\n")] = '\0';
			size_t n = strlen(buf);
			if (n >= sizeof r->password)
				rc = berr_set(err, BERR_BAD_REQUEST, "the password is longer than %d bytes",
				              SECRETS_PASSWORD_MAX);
			else
				memcpy(r->password, buf, n + 1);
			explicit_bzero(buf, sizeof buf);
		}
	}
	if (rc == 0)
		rc = replication_rule_check(r, err);
	if (rc == 0)
		rc = meta_replication_create(m, r, err);
	if (rc == 0) {
		meta_audit(m, "cli", "replication_add", r->name, NULL, "local", NULL);
		printf("added replication rule %s: %s %s (tags %s) -> %s, %s\n", r->name, r->source, r->repositories,
		       r->tags, r->destination[0] ? r->destination : "the same names",
		       r->interval ? "scheduled" : "only when run");
	}
	explicit_bzero(r->password, sizeof r->password);
	free(r);
	return rc;
}

/* Ask for a run; with wait, follow the rule until that run has finished. */
static int mirror_run(struct meta *m, const char *name, bool wait, struct berr *err)
{
	int64_t asked = (int64_t)time(NULL);
	if (meta_replication_request_run(m, name, err) < 0)
		return -1;
	meta_audit(m, "cli", "replication_run", name, NULL, "local", NULL);
	if (!wait) {
		printf("asked berthd to run %s now (see `berthd mirror list`)\n", name);
		return 0;
	}
	struct meta_replication_rule *r = xmalloc(sizeof *r);
	int rc = -1;
	for (int i = 0; i < 7200; i++) { /* 0.5 s steps: one hour */
		if (meta_replication_get(m, name, r, err) < 0)
			break;
		if (!r->run_requested && r->last_finished_at >= asked && r->last_started_at >= asked &&
		    strcmp(r->last_result, "running") != 0) {
			mirror_print(NULL, r);
			rc = strcmp(r->last_result, "ok") == 0 ? 0 : 1;
			break;
		}
		struct timespec ts = {0, 500 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc < 0 && err->code == BERR_NONE)
		berr_set(err, BERR_UNAVAILABLE, "%s did not finish within an hour (is berthd running?)", name);
	free(r);
	if (rc == 1)
		return berr_set(err, BERR_INTERNAL, "the run of %s did not succeed", name);
	return rc;
}

int replication_cli_main(int argc, char **argv)
{
	struct mirror_args a = {0};
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0;
	for (int i = 2; i < argc; i++) {
		const char *w = argv[i];
		const char **slot = NULL;
		if (!strcmp(w, "--help") || !strcmp(w, "-h")) {
			fputs(mirror_usage, stdout);
			free(rest);
			return 0;
		} else if (!strcmp(w, "--source"))
			slot = &a.source;
		else if (!strcmp(w, "--repositories"))
			slot = &a.repositories;
		else if (!strcmp(w, "--tags"))
			slot = &a.tags;
		else if (!strcmp(w, "--destination"))
			slot = &a.destination;
		else if (!strcmp(w, "--interval"))
			slot = &a.interval;
		else if (!strcmp(w, "--username"))
			slot = &a.username;
		else if (!strcmp(w, "--password-stdin"))
			a.password_stdin = true;
		else if (!strcmp(w, "--wait"))
			a.wait = true;
		else if (!strncmp(w, "--", 2)) {
			rest[nrest++] = argv[i];
			if (!strchr(w, '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 &&
			    strcmp(w, "--read-only") != 0)
				rest[nrest++] = argv[++i];
		} else if (a.npos < 2)
			a.pos[a.npos++] = w;
		else {
			free(rest);
			return mirror_fail("unexpected argument '%s'", w);
		}
		if (slot) {
			if (i + 1 >= argc) {
				free(rest);
				return mirror_fail("%s needs a value", w);
			}
			*slot = argv[++i];
		}
	}
	const char *verb = a.npos ? a.pos[0] : "";
	bool named = !strcmp(verb, "add") || !strcmp(verb, "del") || !strcmp(verb, "run");
	if ((!named && strcmp(verb, "list") != 0) || (named && a.npos != 2) || (!named && a.npos != 1)) {
		free(rest);
		fputs(mirror_usage, stderr);
		return 2;
	}
	struct config cfg;
	struct berr err = {0};
	bool exit_now;
	int rc = config_load(&cfg, nrest, rest, &exit_now, &err);
	free(rest);
	if (rc < 0) {
		config_free(&cfg);
		return mirror_fail("%s", err.message);
	}
	cleanup_free char *db = config_database(&cfg);
	if (config_database_missing(db)) {
		config_free(&cfg);
		return mirror_fail("no database at %s (start berthd once first)", db);
	}
	struct meta *m = NULL;
	if (meta_init(db, &err) < 0 || !(m = meta_get(&err))) {
		config_free(&cfg);
		return mirror_fail("%s", err.message);
	}
	if (!strcmp(verb, "list"))
		rc = meta_replication_list(m, mirror_print, NULL, &err);
	else if (!strcmp(verb, "add"))
		rc = mirror_add(m, &a, &err);
	else if (!strcmp(verb, "del")) {
		rc = meta_replication_delete(m, a.pos[1], &err);
		if (rc == 0) {
			meta_audit(m, "cli", "replication_del", a.pos[1], NULL, "local", NULL);
			printf("deleted replication rule %s\n", a.pos[1]);
		}
	} else
		rc = mirror_run(m, a.pos[1], a.wait, &err);
	meta_shutdown();
	config_free(&cfg);
	if (rc < 0)
		return mirror_fail("%s", err.message);
	return 0;
}
