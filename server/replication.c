/* The replication scheduler and one rule's run. One thread wakes every REPLICATION_POLL
 * seconds (or when woken), claims the rule that is asked for or due in the metadata, and
 * runs it: rules run one at a time, each copy with its own blob parallelism. The status of
 * a run is written to the rule's row, where `berthd mirror list` and the API read it. */
#include "autoconfig.h"

#include "server/replication.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/copy.h"
#include "common/log.h"
#include "common/reference.h"
#include "common/registry_client.h"
#include "common/xalloc.h"
#include "server/secrets.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t tid;
	bool started;
	bool stop;
	bool wake;
	const struct config *cfg;
	char *secret;        /* the loopback client's password; heap, only under --auth token */
	char *dst_registry;  /* "127.0.0.1:5000" */
	bool dst_plain_http; /* berthd serves plain HTTP */
} repl = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

int64_t replication_parse_interval(const char *s)
{
	if (!s || !*s)
		return -1;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || v < 0 || v > 366LL * 86400)
		return -1;
	long long unit = 1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		unit = 1;
	else if (!strcmp(end, "m"))
		unit = 60;
	else if (!strcmp(end, "h"))
		unit = 3600;
	else if (!strcmp(end, "d"))
		unit = 86400;
	else
		return -1;
	if (v * unit > 366LL * 86400)
		return -1;
	return (int64_t)(v * unit);
}

/* The registry ("host:port") of a source URL, and whether it is plain HTTP; NULL if the URL
 * is not "http[s]://host[:port][/]". Heap. */
static char *replication_source_registry(const char *url, bool *plain_http)
{
	const char *rest;
	if (!strncmp(url, "https://", 8)) {
		rest = url + 8;
		*plain_http = false;
	} else if (!strncmp(url, "http://", 7)) {
		rest = url + 7;
		*plain_http = true;
	} else {
		return NULL;
	}
	size_t n = strlen(rest);
	if (n && rest[n - 1] == '/')
		n--;
	if (n == 0 || n > 255)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char ch = rest[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-' || ch == ':' || ch == '[' || ch == ']'))
			return NULL;
	}
	return xstrndup(rest, n);
}

/* A pattern field: printable ASCII without spaces, 1 to 255 bytes. */
static bool replication_pattern_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* The tag filter as a compiled regex when it is written /regex/: 1 compiled into re, 0 a
 * glob, -1 a bad regex. */
static int replication_tag_regex(const char *filter, regex_t *re)
{
	size_t n = strlen(filter);
	if (n < 3 || filter[0] != '/' || filter[n - 1] != '/')
		return 0;
	cleanup_free char *anchored = xasprintf("^(%.*s)$", (int)(n - 2), filter + 1);
	return regcomp(re, anchored, REG_EXTENDED | REG_NOSUB) == 0 ? 1 : -1;
}

int replication_rule_check(const struct meta_replication_rule *r, struct berr *err)
{
	if (!reference_namespace_valid(r->name))
		return berr_set(err, BERR_NAME_INVALID,
		                "rule name '%.80s' is not valid: 2 to 64 of a-z, 0-9 and . _ - between them", r->name);
	bool plain;
	cleanup_free char *reg = replication_source_registry(r->source, &plain);
	if (!reg)
		return berr_set(err, BERR_BAD_REQUEST, "source '%.200s' is not http[s]://HOST[:PORT]", r->source);
	if (!replication_pattern_ok(r->repositories))
		return berr_set(err, BERR_BAD_REQUEST,
		                "repositories '%.200s' is no pattern: 1 to 255 printable characters, no spaces",
		                r->repositories);
	if (!replication_pattern_ok(r->tags))
		return berr_set(err, BERR_BAD_REQUEST,
		                "tags '%.200s' is no pattern: 1 to 255 printable characters, no spaces", r->tags);
	regex_t re;
	int rx = replication_tag_regex(r->tags, &re);
	if (rx < 0)
		return berr_set(err, BERR_BAD_REQUEST, "tags '%.200s' is not a valid regular expression", r->tags);
	if (rx == 1)
		regfree(&re);
	if (r->destination[0] && !reference_name_valid(r->destination, strlen(r->destination)))
		return berr_set(err, BERR_NAME_INVALID, "destination '%.200s' is not a valid repository namespace",
		                r->destination);
	if (r->interval != 0 && (r->interval < REPLICATION_INTERVAL_MIN || r->interval > 366LL * 86400))
		return berr_set(err, BERR_BAD_REQUEST, "interval must be 0 (only when asked) or %d s to 366 days",
		                REPLICATION_INTERVAL_MIN);
	if (!r->username[0] && r->password[0])
		return berr_set(err, BERR_BAD_REQUEST, "a password needs a username");
	if (strpbrk(r->username, ":\r\n"))
		return berr_set(err, BERR_BAD_REQUEST, "the username may not contain ':' or line breaks");
	return 0;
}

bool replication_is_loopback(const char *addr)
{
	unsigned char a[16];
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (inet_pton(AF_INET, addr, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, addr, a) != 1)
		return false;
	if (memcmp(a, v4mapped, sizeof v4mapped) == 0)
		return a[12] == 127;
	return memcmp(a, &in6addr_loopback, 16) == 0;
}

bool replication_internal_login(const char *user, const char *password, const char *addr)
{
	/* repl.secret is set before the server starts and never changes while it serves. */
	return repl.secret && strcmp(user, REPLICATION_USER) == 0 && addr && replication_is_loopback(addr) &&
	       secrets_equal(password, repl.secret);
}

/* ---------------------------------------------------------------- one run */

struct replication_run {
	const struct meta_replication_rule *rule;
	struct meta *m;
	struct copy_side src, dst;
	regex_t re;
	bool is_regex;
	int64_t images, unchanged, errors;
	char first_error[400];
};

static void replication_error(struct replication_run *run, const char *what, const struct berr *e)
{
	run->errors++;
	log_warn("replication %s: %s: %s", run->rule->name, what, e->message);
	if (!run->first_error[0])
		snprintf(run->first_error, sizeof run->first_error, "%.120s: %.270s", what, e->message);
}

/* The digest the local tag points at, or false when there is none. */
static bool replication_local_digest(struct replication_run *run, const char *name, const char *tag, struct digest *out)
{
	int64_t id;
	struct berr e = {0};
	struct meta_manifest mm = {0};
	if (meta_repo_lookup(run->m, name, &id, &e) < 0 ||
	    meta_manifest_get(run->m, id, tag, false, false, &mm, &e) < 0)
		return false;
	*out = mm.digest;
	return true;
}

static bool replication_tag_matches(struct replication_run *run, const char *tag)
{
	if (run->is_regex)
		return regexec(&run->re, tag, 0, NULL, 0) == 0;
	return fnmatch(run->rule->tags, tag, 0) == 0;
}

/* Copy every matching tag of one source repository whose digest differs from the local one. */
static void replication_repository(struct replication_run *run, const char *repo)
{
	const struct meta_replication_rule *r = run->rule;
	cleanup_free char *local = r->destination[0] ? xasprintf("%s/%s", r->destination, repo) : xstrdup(repo);
	struct berr e = {0};
	if (!reference_name_valid(local, strlen(local))) {
		berr_set(&e, BERR_NAME_INVALID, "the local name %.300s is not a valid repository name", local);
		replication_error(run, repo, &e);
		return;
	}
	char **tags = NULL;
	size_t n = 0;
	if (copy_list_tags(&run->src, repo, &tags, &n, &e) < 0) {
		replication_error(run, repo, &e);
		return;
	}
	struct copy_opts o = {.stop = &repl.stop};
	for (size_t i = 0; i < n && !__atomic_load_n(&repl.stop, __ATOMIC_RELAXED); i++) {
		if (!replication_tag_matches(run, tags[i]))
			continue;
		cleanup_free char *what = xasprintf("%s:%s", repo, tags[i]);
		struct digest src_d, have;
		int found = copy_resolve(&run->src, repo, tags[i], &src_d, &e);
		if (found < 0) {
			replication_error(run, what, &e);
			continue;
		}
		if (found == 0) /* deleted since the listing */
			continue;
		struct copy_stats st = {0};
		if (replication_local_digest(run, local, tags[i], &have) && digest_equal(&have, &src_d)) {
			/* Unchanged, but it may have been signed (or given an SBOM) since. */
			if (copy_referrers_of(&run->src, repo, &src_d, &run->dst, local, &o, &st, &e) < 0)
				replication_error(run, what, &e);
			else
				run->unchanged++;
			if (st.referrers)
				log_info("replication %s: %s: copied %zu new referrers", r->name, what, st.referrers);
			continue;
		}
		struct digest got;
		if (copy_image(&run->src, repo, tags[i], &run->dst, local, tags[i], &o, &st, &got, &e) < 0) {
			replication_error(run, what, &e);
			continue;
		}
		run->images++;
		log_info("replication %s: copied %s to %s:%s (%s; %zu blobs copied, %zu present)", r->name, what, local,
		         tags[i], got.str, st.blobs_copied, st.blobs_present);
	}
	copy_list_free(tags, n);
}

static bool replication_is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Run rule r and record its outcome. */
static void replication_run_rule(struct meta *m, const struct meta_replication_rule *r)
{
	struct replication_run run = {.rule = r, .m = m};
	struct credential src_cred = {.username = (char *)r->username, .password = (char *)r->password};
	struct credential dst_cred = {.username = (char *)REPLICATION_USER, .password = repl.secret};
	bool plain = false;
	cleanup_free char *src_reg = replication_source_registry(r->source, &plain);
	struct berr e = {0};
	log_info("replication %s: run started (%s, repositories %s, tags %s)", r->name, r->source, r->repositories,
	         r->tags);
	if (!src_reg) {
		berr_set(&e, BERR_BAD_REQUEST, "source '%s' is not http[s]://HOST[:PORT]", r->source);
		replication_error(&run, "source", &e);
		goto done;
	}
	run.src =
	    (struct copy_side){.registry = src_reg, .plain_http = plain, .cred = r->username[0] ? &src_cred : NULL};
	run.dst = (struct copy_side){.registry = repl.dst_registry,
	                             .plain_http = repl.dst_plain_http,
	                             .tls_no_verify = !repl.dst_plain_http,
	                             .cred = repl.secret ? &dst_cred : NULL,
	                             .basic_first = repl.secret != NULL};
	int rx = replication_tag_regex(r->tags, &run.re);
	if (rx < 0) {
		berr_set(&e, BERR_BAD_REQUEST, "tags '%s' is not a valid regular expression", r->tags);
		replication_error(&run, "tags", &e);
		goto done;
	}
	run.is_regex = rx == 1;
	if (!replication_is_glob(r->repositories)) {
		replication_repository(&run, r->repositories);
	} else {
		char **repos = NULL;
		size_t n = 0;
		if (copy_list_repositories(&run.src, &repos, &n, &e) < 0) {
			replication_error(&run, "catalog", &e);
		} else {
			for (size_t i = 0; i < n && !__atomic_load_n(&repl.stop, __ATOMIC_RELAXED); i++)
				if (fnmatch(r->repositories, repos[i], 0) == 0)
					replication_repository(&run, repos[i]);
			copy_list_free(repos, n);
		}
	}
	if (run.is_regex)
		regfree(&run.re);
done:;
	const char *result = run.errors == 0 ? "ok" : (run.images || run.unchanged) ? "partial" : "failed";
	char message[512];
	if (run.errors)
		snprintf(message, sizeof message, "%.400s%s", run.first_error,
		         run.errors > 1 ? " (and more errors: see berthd's log)" : "");
	else
		snprintf(message, sizeof message, "%lld copied, %lld up to date", (long long)run.images,
		         (long long)run.unchanged);
	log_info("replication %s: run finished: %s: %s", r->name, result, message);
	if (meta_replication_finish(m, r->id, result, run.images, run.unchanged, run.errors, message, &e) < 0)
		log_warn("replication %s: could not record the run: %s", r->name, e.message);
}

/* ---------------------------------------------------------------- scheduler */

static void *replication_thread(void *arg)
{
	(void)arg;
	struct meta_replication_rule *rule = xmalloc(sizeof *rule);
	for (;;) {
		pthread_mutex_lock(&repl.lock);
		if (!repl.stop && !repl.wake) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += REPLICATION_POLL;
			pthread_cond_timedwait(&repl.cond, &repl.lock, &until);
		}
		repl.wake = false;
		bool stop = repl.stop;
		pthread_mutex_unlock(&repl.lock);
		if (stop)
			break;
		struct berr e = {0};
		struct meta *m = meta_get(&e);
		int got = m ? meta_replication_claim_due(m, rule, &e) : -1;
		if (got < 0) {
			log_warn("replication: cannot read the rules: %s", e.message);
			continue;
		}
		if (got == 1) {
			replication_run_rule(m, rule);
			pthread_mutex_lock(&repl.lock);
			repl.wake = true; /* another may be due already */
			pthread_mutex_unlock(&repl.lock);
		}
	}
	free(rule);
	return NULL;
}

int replication_start(const struct config *cfg, struct berr *err)
{
	repl.cfg = cfg;
	repl.stop = false;
	if (strcmp(cfg->auth, "token") == 0)
		repl.secret = secrets_token_new("berth_replication_");
	/* Always loopback, never a name or an outside address (the internal credential is
	 * only accepted from loopback): a loopback address berthd listens on as given,
	 * otherwise 127.0.0.1, or [::1] when it listens on an IPv6 address. */
	const char *h = cfg->listen_host;
	if (replication_is_loopback(h))
		repl.dst_registry = xasprintf(strchr(h, ':') ? "[%s]:%d" : "%s:%d", h, cfg->listen_port);
	else if (strchr(h, ':'))
		repl.dst_registry = xasprintf("[::1]:%d", cfg->listen_port);
	else
		repl.dst_registry = xasprintf("127.0.0.1:%d", cfg->listen_port);
	unsigned char a[16];
	if (strcmp(h, "0.0.0.0") != 0 && strcmp(h, "::") != 0 && !replication_is_loopback(h) &&
	    (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1))
		log_warn("replication writes through %s, but berthd listens on %s only: replication rules will fail "
		         "(listen on 0.0.0.0, :: or a loopback address)",
		         repl.dst_registry, h);
	repl.dst_plain_http = cfg->tls_cert == NULL;
	struct meta *m = meta_get(err);
	/* On a database several nodes share, a run marked running may be another node's. */
	if (!m || (!meta_is_shared(m) && meta_replication_reset_running(m, err) < 0))
		return -1;
	int rc = pthread_create(&repl.tid, NULL, replication_thread, NULL);
	if (rc != 0)
		return berr_sys(err, rc, "start the replication scheduler");
	repl.started = true;
	return 0;
}

void replication_wake(void)
{
	pthread_mutex_lock(&repl.lock);
	repl.wake = true;
	pthread_cond_signal(&repl.cond);
	pthread_mutex_unlock(&repl.lock);
}

void replication_cancel(void)
{
	pthread_mutex_lock(&repl.lock);
	__atomic_store_n(&repl.stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&repl.cond);
	pthread_mutex_unlock(&repl.lock);
}

void replication_stop(void)
{
	if (!repl.started)
		return;
	replication_cancel();
	pthread_join(repl.tid, NULL);
	repl.started = false;
	free(repl.secret);
	free(repl.dst_registry);
	repl.secret = repl.dst_registry = NULL;
}
