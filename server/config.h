/* berthd's settings: defaults, then a config file, then BERTH_* environment variables,
 * then command-line flags, each overriding the one before. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "common/berr.h"

struct config {
	char *listen;      /* "ADDR:PORT" as given */
	char *listen_host; /* parsed address ("0.0.0.0", "::1") */
	int listen_port;
	char *data_dir;
	char *auth; /* "none" */
	char *tls_cert;
	char *tls_key;
	int log_level; /* enum log_level */
	bool read_only;
	int threads; /* HTTP worker threads */
	int max_connections;
	int idle_timeout; /* seconds a keep-alive connection may sit idle */
	/* Limits on hostile or broken clients (docs/security.md). */
	int max_connections_per_address; /* 0: no per-address limit */
	int request_timeout;             /* seconds to send a request line and headers */
	int body_min_rate;               /* bytes/s a request body must average; 0: no minimum */
	char *config_file;
	char *service;                 /* the token service name (audience) */
	char *external_url;            /* how clients reach berthd, for the token realm; NULL: from Host */
	int token_ttl;                 /* seconds a bearer token is valid */
	char *default_visibility;      /* "private" or "public", for new repositories */
	int pull_rate_limit;           /* manifest pulls per user per window; 0: unlimited */
	int anonymous_pull_rate_limit; /* per address, for anonymous callers; 0: unlimited */
	int pull_rate_window;          /* seconds */
};

/* Fill cfg from all sources. argv is berthd's command line after the subcommand, if any.
 * Returns 0, or -1 with err (an unknown flag, a bad value, an unreadable config file).
 * Sets *exit_now for --help/--version (already printed). */
int config_load(struct config *cfg, int argc, char **argv, bool *exit_now, struct berr *err);
void config_free(struct config *cfg);
/* The usage text for --help. */
void config_usage(FILE *out);

#endif
