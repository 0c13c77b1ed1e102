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
#include "common/xalloc.h"

enum opt_kind { OPT_STRING, OPT_BOOL, OPT_INT, OPT_COUNT, OPT_LOGLEVEL };

struct opt {
	const char *name; /* flag without "--", config-file key */
	const char *env;
	enum opt_kind kind;
	size_t offset;
	const char *help;
	const char *arg;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt config_opts[] = {
    {"listen", "BERTH_LISTEN", OPT_STRING, OFF(listen), "address and port to serve on", "ADDR:PORT"},
    {"data", "BERTH_DATA", OPT_STRING, OFF(data_dir), "data folder (SQLite database and blobs)", "DIR"},
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
    {"tls-cert", "BERTH_TLS_CERT", OPT_STRING, OFF(tls_cert), "serve HTTPS with this PEM certificate", "FILE"},
    {"tls-key", "BERTH_TLS_KEY", OPT_STRING, OFF(tls_key), "PEM private key for --tls-cert", "FILE"},
    {"log-level", "BERTH_LOG_LEVEL", OPT_LOGLEVEL, OFF(log_level), "debug, info, warn, error or off", "LEVEL"},
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
	             "       berthd quota set|show ...        namespace storage quotas (berthd quota --help)\n"
	             "Berth registry server: the OCI Distribution / Docker Registry v2 API.\n\n"
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
	/* A few per core: requests block on disk and database writes, but more threads than
	 * that only add queueing (bench/: p99 of manifest GETs). */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->threads = (int)(cores > 0 ? (cores > 16 ? 64 : 4 * cores) : 8);
	cfg->max_connections = 4096;
	cfg->idle_timeout = 60;
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
		if (v && config_apply(cfg, &config_opts[i], v, config_opts[i].env, err) < 0)
			return -1;
	}
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
	if (!!cfg->tls_cert != !!cfg->tls_key)
		return berr_set(err, BERR_INTERNAL, "--tls-cert and --tls-key go together");
	if (!*cfg->data_dir)
		return berr_set(err, BERR_INTERNAL, "--data must not be empty");
	return config_parse_listen(cfg, err);
}

void config_free(struct config *cfg)
{
	free(cfg->listen);
	free(cfg->listen_host);
	free(cfg->data_dir);
	free(cfg->auth);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->config_file);
	free(cfg->service);
	free(cfg->external_url);
	free(cfg->default_visibility);
	memset(cfg, 0, sizeof *cfg);
}
