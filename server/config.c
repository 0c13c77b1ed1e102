/* berthd settings from defaults, config file, environment and flags. One table names
 * every setting once, with its flag, its environment variable and its config-file key
 * (the flag without dashes), so the three sources cannot drift apart. */
#include "server/config.h"

#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/size.h"
#include "common/xalloc.h"
#include "server/db.h"

enum opt_kind { OPT_STRING, OPT_BOOL, OPT_INT, OPT_COUNT, OPT_LOGLEVEL, OPT_LIST, OPT_SIZE };

struct opt {
	const char *name; /* flag without "--", config-file key */
	const char *env;
	enum opt_kind kind;
	size_t offset;
	const char *help;
	const char *arg;
};

#define OFF(f) offsetof(struct config, f)
/* Most entries of a repeatable setting (--mirror); its count is config.nmirrors. */
#define CONFIG_LIST_MAX 64

/* Forget the repeatable entries an earlier source gave: a later source replaces them. */
static void config_list_clear(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nmirrors; i++)
		free(cfg->mirrors[i]);
	free(cfg->mirrors);
	cfg->mirrors = NULL;
	cfg->nmirrors = 0;
}

static const struct opt config_opts[] = {
    {"listen", "BERTH_LISTEN", OPT_STRING, OFF(listen), "address and port to serve on", "ADDR:PORT"},
    {"data", "BERTH_DATA", OPT_STRING, OFF(data_dir), "data folder (SQLite database and blobs)", "DIR"},
    {"database", "BERTH_DATABASE", OPT_STRING, OFF(database),
     "metadata database: a SQLite file (default DATA/berth.db) or postgres://USER@HOST:PORT/DB for several nodes "
     "sharing one database (see docs/scale-out.md)",
     "URL"},
    {"auth", "BERTH_AUTH", OPT_STRING, OFF(auth),
     "token (accounts and Docker token auth; the default) or none (an open registry)", "MODE"},
    {"service", "BERTH_SERVICE", OPT_STRING, OFF(service), "token service name (default berth)", "NAME"},
    {"external-url", "BERTH_EXTERNAL_URL", OPT_STRING, OFF(external_url),
     "URL clients reach berthd at, for the token realm behind a proxy", "URL"},
    {"token-ttl", "BERTH_TOKEN_TTL", OPT_INT, OFF(token_ttl), "seconds a bearer token is valid (default 300)",
     "SECONDS"},
    {"default-visibility", "BERTH_DEFAULT_VISIBILITY", OPT_STRING, OFF(default_visibility),
     "visibility of new repositories: private (default) or public", "VIS"},
    {"pull-rate-limit", "BERTH_PULL_RATE_LIMIT", OPT_COUNT, OFF(pull_rate_limit),
     "manifest pulls per user per window (default 0: unlimited)", "N"},
    {"anonymous-pull-rate-limit", "BERTH_ANONYMOUS_PULL_RATE_LIMIT", OPT_COUNT, OFF(anonymous_pull_rate_limit),
     "manifest pulls per address per window for anonymous callers (default 0: unlimited)", "N"},
    {"pull-rate-window", "BERTH_PULL_RATE_WINDOW", OPT_INT, OFF(pull_rate_window),
     "seconds of the pull rate window (default 21600)", "SECONDS"},
    {"mirror", "BERTH_MIRROR", OPT_LIST, OFF(mirrors),
     "pull-through cache of the registry at URL, under PREFIX/ or at the root (repeatable; "
     "see docs/mirroring.md)",
     "[PREFIX=]URL"},
    {"mirror-ttl", "BERTH_MIRROR_TTL", OPT_INT, OFF(mirror_ttl),
     "seconds a cached tag is served before it is revalidated upstream (default 300)", "SECONDS"},
    {"mirror-timeout", "BERTH_MIRROR_TIMEOUT", OPT_INT, OFF(mirror_timeout),
     "seconds an upstream manifest request may take before the cache answers alone (default 10)", "SECONDS"},
    {"upstream-ca", "BERTH_UPSTREAM_CA", OPT_STRING, OFF(upstream_ca),
     "also trust the CA certificates of this PEM file for HTTPS mirror and replication upstreams", "FILE"},
    {"storage", "BERTH_STORAGE", OPT_STRING, OFF(storage), "where blobs live: fs (the data folder; the default) or s3",
     "DRIVER"},
    {"s3-endpoint", "BERTH_S3_ENDPOINT", OPT_STRING, OFF(s3_endpoint), "S3 endpoint URL (path-style), for --storage s3",
     "URL"},
    {"s3-bucket", "BERTH_S3_BUCKET", OPT_STRING, OFF(s3_bucket), "S3 bucket (must exist)", "NAME"},
    {"s3-region", "BERTH_S3_REGION", OPT_STRING, OFF(s3_region), "S3 region for signing (default us-east-1)", "R"},
    {"s3-prefix", "BERTH_S3_PREFIX", OPT_STRING, OFF(s3_prefix), "key prefix inside the bucket (default none)", "P"},
    {"s3-access-key", "BERTH_S3_ACCESS_KEY", OPT_STRING, OFF(s3_access_key),
     "S3 access key (default: $AWS_ACCESS_KEY_ID)", "KEY"},
    {"s3-secret-key", "BERTH_S3_SECRET_KEY", OPT_STRING, OFF(s3_secret_key),
     "S3 secret key (default: $AWS_SECRET_ACCESS_KEY; prefer it or the config file)", "KEY"},
    {"storage-redirect", "BERTH_STORAGE_REDIRECT", OPT_BOOL, OFF(storage_redirect),
     "answer blob GETs with a redirect to a presigned S3 URL", NULL},
    {"blob-cache", "BERTH_BLOB_CACHE", OPT_STRING, OFF(blob_cache),
     "keep recently pulled blobs in this local folder and serve them from it (--storage s3 only)", "DIR"},
    {"blob-cache-size", "BERTH_BLOB_CACHE_SIZE", OPT_SIZE, OFF(blob_cache_size),
     "most bytes --blob-cache holds, like 500M or 10G (default 10G)", "SIZE"},
    {"gc-interval", "BERTH_GC_INTERVAL", OPT_COUNT, OFF(gc_interval),
     "seconds between garbage collections (default 3600; 0: only when asked)", "SECONDS"},
    {"gc-grace", "BERTH_GC_GRACE", OPT_COUNT, OFF(gc_grace),
     "seconds an unreferenced blob or untagged manifest is kept after its last use (default 3600)", "SECONDS"},
    {"gc-untagged", "BERTH_GC_UNTAGGED", OPT_BOOL, OFF(gc_untagged),
     "garbage collection also deletes untagged manifests no tag reaches", NULL},
    {"upload-expiry", "BERTH_UPLOAD_EXPIRY", OPT_INT, OFF(upload_expiry),
     "seconds an idle upload session is kept (default 86400)", "SECONDS"},
    {"tls-cert", "BERTH_TLS_CERT", OPT_STRING, OFF(tls_cert), "serve HTTPS with this PEM certificate", "FILE"},
    {"tls-key", "BERTH_TLS_KEY", OPT_STRING, OFF(tls_key), "PEM private key for --tls-cert", "FILE"},
    {"log-level", "BERTH_LOG_LEVEL", OPT_LOGLEVEL, OFF(log_level), "debug, info, warn, error or off", "LEVEL"},
    {"log-format", "BERTH_LOG_FORMAT", OPT_STRING, OFF(log_format), "text (default) or json: one JSON object per line",
     "FORMAT"},
    {"metrics-listen", "BERTH_METRICS_LISTEN", OPT_STRING, OFF(metrics_listen),
     "serve /metrics only on this address, without authentication (default: on --listen, admins only)", "ADDR:PORT"},
    {"webhook-retry-base", "BERTH_WEBHOOK_RETRY_BASE", OPT_INT, OFF(webhook_retry_base),
     "seconds before a webhook delivery's first retry, doubling each time (default 10)", "SECONDS"},
    {"webhook-max-attempts", "BERTH_WEBHOOK_MAX_ATTEMPTS", OPT_INT, OFF(webhook_max_attempts),
     "webhook delivery attempts before giving up (default 8)", "N"},
    {"read-only", "BERTH_READ_ONLY", OPT_BOOL, OFF(read_only), "serve pulls only; refuse every write", NULL},
    {"threads", "BERTH_THREADS", OPT_INT, OFF(threads), "HTTP worker threads (default 4 per core)", "N"},
    {"max-connections", "BERTH_MAX_CONNECTIONS", OPT_INT, OFF(max_connections),
     "most client connections at once (default 4096)", "N"},
    {"idle-timeout", "BERTH_IDLE_TIMEOUT", OPT_INT, OFF(idle_timeout),
     "seconds an idle connection is kept (default 60)", "SECONDS"},
    {"max-connections-per-address", "BERTH_MAX_CONNECTIONS_PER_ADDRESS", OPT_COUNT, OFF(max_connections_per_address),
     "most connections from one client address (default 256; 0: no limit)", "N"},
    {"request-timeout", "BERTH_REQUEST_TIMEOUT", OPT_INT, OFF(request_timeout),
     "seconds a client may take to send a request's headers (default 30)", "SECONDS"},
    {"body-min-rate", "BERTH_BODY_MIN_RATE", OPT_COUNT, OFF(body_min_rate),
     "bytes per second a request body must average over --request-timeout (default 1024; 0: any)", "BYTES"},
};
#define NOPTS (sizeof config_opts / sizeof config_opts[0])

void config_usage(FILE *out)
{
	fprintf(out, "Usage: berthd [OPTIONS]\n"
	             "       berthd user|org|token|repo ...   manage accounts (berthd user --help)\n"
	             "       berthd fsck [--repair]           check blobs against the metadata\n"
	             "       berthd backup DIR                copy the data folder while berthd runs\n"
	             "       berthd mirror add|list|del|run   replication rules: copy images from other\n"
	             "                                        registries on a schedule (berthd mirror --help)\n"
	             "       berthd policy ...                tag immutability and retention rules\n"
	             "       berthd retention [--dry-run]     untag what the retention rules say should go\n"
	             "       berthd webhook ...               webhooks and their deliveries\n"
	             "       berthd gc [--dry-run]            collect garbage while berthd runs\n"
	             "       berthd quota set|show ...        namespace storage quotas (berthd quota --help)\n"
	             "Berth registry server: the OCI Distribution / Docker Registry v2 API, and a web UI at /.\n\n"
	             "Options (each also as BERTH_<NAME> in the environment and NAME = VALUE in the config file):\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char flag[64];
		snprintf(flag, sizeof flag, "--%s%s%s", config_opts[i].name, config_opts[i].arg ? " " : "",
		         config_opts[i].arg ? config_opts[i].arg : "");
		fprintf(out, "  %-28s %s\n", flag, config_opts[i].help);
	}
	fprintf(out, "  %-28s %s\n", "--config FILE", "read settings from FILE (env BERTH_CONFIG)");
	fprintf(out, "  %-28s %s\n", "--help", "show this help");
	fprintf(out, "  %-28s %s\n", "--version", "show the version");
	fprintf(out, "\nDefaults: --listen 0.0.0.0:5000 --data ./berth-data --auth token --log-level info\n");
}

static const struct opt *config_find(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(config_opts[i].name, name) == 0)
			return &config_opts[i];
	return NULL;
}

bool config_option_is_switch(const char *name)
{
	const struct opt *o = config_find(name);
	return o && o->kind == OPT_BOOL;
}

static int config_parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

/* Apply one setting; `source` names where it came from for the error message. */
static int config_apply(struct config *cfg, const struct opt *o, const char *value, const char *source,
                        struct berr *err)
{
	void *field = (char *)cfg + o->offset;
	switch (o->kind) {
	case OPT_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case OPT_BOOL:
		if (config_parse_bool(value, (bool *)field) < 0)
			return berr_set(err, BERR_INTERNAL, "%s: %s wants true or false, not '%s'", source, o->name,
			                value);
		return 0;
	case OPT_INT:
	case OPT_COUNT: {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || *end || end == value || v < (o->kind == OPT_COUNT ? 0 : 1) || v > 100000000)
			return berr_set(err, BERR_INTERNAL, "%s: %s wants a %s number, not '%s'", source, o->name,
			                o->kind == OPT_COUNT ? "non-negative" : "positive", value);
		*(int *)field = (int)v;
		return 0;
	}
	case OPT_LIST: {
		/* Repeatable: each value adds one entry (BERTH_MIRROR may hold several, comma-separated). */
		if (!*value)
			return berr_set(err, BERR_INTERNAL, "%s: %s wants a value", source, o->name);
		if (cfg->nmirrors >= CONFIG_LIST_MAX)
			return berr_set(err, BERR_INTERNAL, "%s: at most %d %s entries", source, CONFIG_LIST_MAX,
			                o->name);
		char ***list = (char ***)field;
		*list = xrealloc(*list, (cfg->nmirrors + 1) * sizeof **list);
		(*list)[cfg->nmirrors++] = xstrdup(value);
		return 0;
	}
	case OPT_SIZE:
		/* K, M, G, T are powers of 1024, with or without B or iB; more than 0. */
		if (size_parse(value, SIZE_IEC, (uint64_t *)field, err) < 0) {
			berr_prefix(err, "%s: %s wants a size like 500M or 10G", source, o->name);
			return -1;
		}
		return 0;
	case OPT_LOGLEVEL: {
		int lvl = log_level_parse(value);
		if (lvl < 0)
			return berr_set(err, BERR_INTERNAL,
			                "%s: log-level must be debug, info, warn, error or off, not '%s'", source,
			                value);
		*(int *)field = lvl;
		return 0;
	}
	}
	return 0;
}

static char *config_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Lines "key = value" or "key value"; '#' starts a comment; values may be quoted. */
static int config_load_file(struct config *cfg, const char *path, struct berr *err)
{
	cleanup_fclose FILE *f = fopen(path, "r");
	if (!f)
		return berr_sys(err, errno, "config file %s", path);
	char line[4096];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = config_trim(line);
		if (!*s)
			continue;
		char *sep = s + strcspn(s, "= \t");
		char *value = sep;
		if (*sep) {
			*sep = '\0';
			value = config_trim(sep + 1);
			if (*value == '=')
				value = config_trim(value + 1);
		}
		size_t vl = strlen(value);
		if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
			value[vl - 1] = '\0';
			value++;
		}
		char where[512];
		snprintf(where, sizeof where, "%s:%d", path, lineno);
		const struct opt *o = config_find(s);
		if (!o)
			return berr_set(err, BERR_INTERNAL, "%s: unknown setting '%s'", where, s);
		if (!*value && o->kind == OPT_BOOL)
			value = "true";
		if (config_apply(cfg, o, value, where, err) < 0)
			return -1;
	}
	return 0;
}

/* Split "ADDR:PORT", "[v6]:PORT" or ":PORT". */
static int config_parse_listen(struct config *cfg, struct berr *err)
{
	const char *l = cfg->listen;
	const char *colon = strrchr(l, ':');
	if (!colon)
		return berr_set(err, BERR_INTERNAL, "--listen wants ADDR:PORT, not '%s'", l);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return berr_set(err, BERR_INTERNAL, "--listen: bad port in '%s'", l);
	free(cfg->listen_host);
	if (l[0] == '[') {
		const char *close = strchr(l, ']');
		if (!close || close + 1 != colon)
			return berr_set(err, BERR_INTERNAL, "--listen: bad IPv6 address in '%s'", l);
		cfg->listen_host = xstrndup(l + 1, (size_t)(close - l - 1));
	} else if (colon == l) {
		cfg->listen_host = xstrdup("0.0.0.0");
	} else {
		cfg->listen_host = xstrndup(l, (size_t)(colon - l));
	}
	cfg->listen_port = (int)port;
	return 0;
}

/* The S3 settings are complete and well-formed; credentials fall back to the AWS_*
 * environment variables every S3 tool reads. */
static int config_check_storage(struct config *cfg, struct berr *err)
{
	if (cfg->blob_cache_size && !cfg->blob_cache)
		return berr_set(err, BERR_INTERNAL, "--blob-cache-size needs --blob-cache");
	if (cfg->blob_cache && !*cfg->blob_cache)
		return berr_set(err, BERR_INTERNAL, "--blob-cache must not be empty");
	if (cfg->blob_cache && !cfg->blob_cache_size)
		cfg->blob_cache_size = 10ULL << 30;
	if (strcmp(cfg->storage, "fs") == 0) {
		if (cfg->storage_redirect)
			return berr_set(err, BERR_INTERNAL, "--storage-redirect needs --storage s3");
		if (cfg->blob_cache)
			return berr_set(
			    err, BERR_INTERNAL,
			    "--blob-cache needs --storage s3 (with fs the blobs are on local disk already)");
		return 0;
	}
	if (strcmp(cfg->storage, "s3") != 0)
		return berr_set(err, BERR_INTERNAL, "--storage must be fs or s3, not '%s'", cfg->storage);
	const char *env;
	if (!cfg->s3_access_key && (env = getenv("AWS_ACCESS_KEY_ID")))
		cfg->s3_access_key = xstrdup(env);
	if (!cfg->s3_secret_key && (env = getenv("AWS_SECRET_ACCESS_KEY")))
		cfg->s3_secret_key = xstrdup(env);
	if (!cfg->s3_endpoint ||
	    (strncmp(cfg->s3_endpoint, "http://", 7) != 0 && strncmp(cfg->s3_endpoint, "https://", 8) != 0))
		return berr_set(err, BERR_INTERNAL, "--storage s3 needs --s3-endpoint http://HOST:PORT or https://...");
	if (!cfg->s3_bucket)
		return berr_set(err, BERR_INTERNAL, "--storage s3 needs --s3-bucket");
	/* S3's bucket naming rules; the name goes into every request path unescaped. */
	size_t bl = strlen(cfg->s3_bucket);
	bool ok = bl >= 3 && bl <= 63;
	for (size_t i = 0; ok && i < bl; i++) {
		char c = cfg->s3_bucket[i];
		ok =
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || ((c == '-' || c == '.') && i > 0 && i < bl - 1);
	}
	if (!ok)
		return berr_set(err, BERR_INTERNAL, "--s3-bucket: '%s' is no valid bucket name (3-63 of a-z 0-9 . -)",
		                cfg->s3_bucket);
	if (!cfg->s3_access_key || !cfg->s3_secret_key || !*cfg->s3_access_key || !*cfg->s3_secret_key)
		return berr_set(err, BERR_INTERNAL,
		                "--storage s3 needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
		                "environment, or s3-access-key and s3-secret-key in the config file");
	if (!cfg->s3_region)
		cfg->s3_region = xstrdup("us-east-1");
	for (const char *p = cfg->s3_region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return berr_set(err, BERR_INTERNAL, "--s3-region: '%s' is no region name", cfg->s3_region);
	const char *pfx = cfg->s3_prefix ? cfg->s3_prefix : "";
	while (*pfx == '/')
		pfx++;
	size_t pl = strlen(pfx);
	for (size_t i = 0; i < pl; i++) {
		char c = pfx[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.' || c == '/'))
			return berr_set(err, BERR_INTERNAL,
			                "--s3-prefix: only letters, digits and - _ . / are allowed");
	}
	if (pl > 200)
		return berr_set(err, BERR_INTERNAL, "--s3-prefix is longer than 200 characters");
	char *norm = pl && pfx[pl - 1] != '/' ? xasprintf("%s/", pfx) : xstrdup(pfx);
	free(cfg->s3_prefix);
	cfg->s3_prefix = norm;
	return 0;
}

int config_load(struct config *cfg, int argc, char **argv, bool *exit_now, struct berr *err)
{
	memset(cfg, 0, sizeof *cfg);
	*exit_now = false;
	cfg->listen = xstrdup("0.0.0.0:5000");
	cfg->data_dir = xstrdup("./berth-data");
	cfg->auth = xstrdup("token");
	cfg->service = xstrdup("berth");
	cfg->token_ttl = 300;
	cfg->default_visibility = xstrdup("private");
	cfg->pull_rate_window = 6 * 3600;
	cfg->log_level = LOG_INFO;
	cfg->storage = xstrdup("fs");
	cfg->log_format = xstrdup("text");
	cfg->webhook_retry_base = 10;
	cfg->webhook_max_attempts = 8;
	/* A few per core: requests block on disk and database writes, but more threads than
	 * that only add queueing (bench/: p99 of manifest GETs). */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->threads = (int)(cores > 0 ? (cores > 16 ? 64 : 4 * cores) : 8);
	cfg->max_connections = 4096;
	cfg->idle_timeout = 60;
	cfg->mirror_ttl = 300;
	cfg->mirror_timeout = 10;
	cfg->gc_interval = 3600;
	cfg->gc_grace = 3600;
	cfg->upload_expiry = 24 * 3600;
	cfg->max_connections_per_address = 256;
	cfg->request_timeout = 30;
	cfg->body_min_rate = 1024;

	/* The config file comes first: find --config (or BERTH_CONFIG) before the rest. */
	const char *file = getenv("BERTH_CONFIG");
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			file = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			file = argv[i] + 9;
	}
	if (file) {
		cfg->config_file = xstrdup(file);
		if (config_load_file(cfg, file, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		const char *v = getenv(config_opts[i].env);
		if (v && config_opts[i].kind == OPT_LIST) {
			config_list_clear(cfg);
			cleanup_free char *copy = xstrdup(v);
			char *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				t = config_trim(t);
				if (*t && config_apply(cfg, &config_opts[i], t, config_opts[i].env, err) < 0)
					return -1;
			}
		} else if (v && config_apply(cfg, &config_opts[i], v, config_opts[i].env, err) < 0) {
			return -1;
		}
	}
	bool cli_list = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			config_usage(stdout);
			*exit_now = true;
			return 0;
		}
		if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("berthd %s\n", PACKAGE_VERSION);
			*exit_now = true;
			return 0;
		}
		if (strncmp(a, "--", 2) != 0)
			return berr_set(err, BERR_INTERNAL, "unexpected argument '%s' (see berthd --help)", a);
		char name[64];
		const char *value = NULL;
		const char *eq = strchr(a + 2, '=');
		snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a - 2) : (int)strlen(a + 2), a + 2);
		if (eq)
			value = eq + 1;
		if (!strcmp(name, "config")) {
			if (!eq)
				i++;
			continue;
		}
		const struct opt *o = config_find(name);
		if (!o)
			return berr_set(err, BERR_INTERNAL, "unknown option --%s (see berthd --help)", name);
		if (!value) {
			if (o->kind == OPT_BOOL)
				value = "true";
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return berr_set(err, BERR_INTERNAL, "option --%s needs a value", name);
		}
		if (o->kind == OPT_LIST && !cli_list) {
			config_list_clear(cfg);
			cli_list = true;
		}
		if (config_apply(cfg, o, value, "command line", err) < 0)
			return -1;
	}
	if (strcmp(cfg->auth, "none") != 0 && strcmp(cfg->auth, "token") != 0)
		return berr_set(err, BERR_INTERNAL, "--auth must be token or none, not '%s'", cfg->auth);
	if (strcmp(cfg->default_visibility, "private") != 0 && strcmp(cfg->default_visibility, "public") != 0)
		return berr_set(err, BERR_INTERNAL, "--default-visibility must be private or public, not '%s'",
		                cfg->default_visibility);
	if (cfg->external_url) {
		size_t n = strlen(cfg->external_url);
		if (strncmp(cfg->external_url, "http://", 7) != 0 && strncmp(cfg->external_url, "https://", 8) != 0)
			return berr_set(err, BERR_INTERNAL, "--external-url must start with http:// or https://");
		while (n > 0 && cfg->external_url[n - 1] == '/')
			cfg->external_url[--n] = '\0';
	}
	if (log_format_parse(cfg->log_format) < 0)
		return berr_set(err, BERR_INTERNAL, "--log-format must be text or json, not '%s'", cfg->log_format);
	if (!!cfg->tls_cert != !!cfg->tls_key)
		return berr_set(err, BERR_INTERNAL, "--tls-cert and --tls-key go together");
	if (!*cfg->data_dir)
		return berr_set(err, BERR_INTERNAL, "--data must not be empty");
	if (config_check_storage(cfg, err) < 0)
		return -1;
	return config_parse_listen(cfg, err);
}

void config_free(struct config *cfg)
{
	free(cfg->listen);
	free(cfg->listen_host);
	free(cfg->data_dir);
	free(cfg->database);
	free(cfg->auth);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->upstream_ca);
	free(cfg->config_file);
	free(cfg->service);
	free(cfg->external_url);
	free(cfg->default_visibility);
	config_list_clear(cfg);
	free(cfg->storage);
	free(cfg->s3_endpoint);
	free(cfg->s3_bucket);
	free(cfg->s3_region);
	free(cfg->s3_prefix);
	free(cfg->s3_access_key);
	free(cfg->s3_secret_key);
	free(cfg->blob_cache);
	free(cfg->log_format);
	free(cfg->metrics_listen);
	memset(cfg, 0, sizeof *cfg);
}

char *config_database(const struct config *cfg)
{
	if (cfg->database && *cfg->database)
		return xstrdup(cfg->database);
	return xasprintf("%s/berth.db", cfg->data_dir);
}

bool config_database_missing(const char *db)
{
	return !db_is_postgres(db) && access(db, F_OK) != 0;
}

int config_load_data(struct config *cfg, int argc, char **argv, char **db)
{
	struct berr err = {0};
	bool exit_now;
	*db = NULL;
	if (config_load(cfg, argc, argv, &exit_now, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		config_free(cfg);
		return 2;
	}
	*db = config_database(cfg);
	if (config_database_missing(*db)) {
		fprintf(stderr, "berthd: no database at %s\n", *db);
		free(*db);
		*db = NULL;
		config_free(cfg);
		return 2;
	}
	return 0;
}
