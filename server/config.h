/* berthd's settings: defaults, then a config file, then BERTH_* environment variables,
 * then command-line flags, each overriding the one before. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/berr.h"

struct config {
	char *listen;      /* "ADDR:PORT" as given */
	char *listen_host; /* parsed address ("0.0.0.0", "::1") */
	int listen_port;
	char *data_dir;
	char *database; /* NULL: DATA/berth.db; or a SQLite path, or a postgres:// URL */
	char *auth;     /* "none" */
	char *tls_cert;
	char *tls_key;
	int log_level;            /* enum log_level */
	char *log_format;         /* "text" or "json" */
	char *metrics_listen;     /* "ADDR:PORT" of a separate /metrics listener, or NULL */
	int webhook_retry_base;   /* seconds before a webhook delivery's first retry */
	int webhook_max_attempts; /* attempts before a delivery is given up */
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
	/* The pull-through cache (server/proxy.c): one "[PREFIX=]URL [key=value...]" per upstream. */
	char **mirrors;
	size_t nmirrors;
	int mirror_ttl;     /* seconds a cached tag is served before it is revalidated */
	int mirror_timeout; /* seconds an upstream manifest or token request may take */
	char *upstream_ca;  /* PEM CA certificates trusted for HTTPS upstreams, or NULL */
	/* Blob storage: "fs" (the data folder) or "s3" (see docs/storage.md). */
	char *storage;
	char *s3_endpoint;
	char *s3_bucket;
	char *s3_region;
	char *s3_prefix; /* normalised: "" or ending in '/' */
	char *s3_access_key;
	char *s3_secret_key;
	bool storage_redirect; /* blob GETs answered with 307 to a presigned URL */
	int gc_interval;       /* seconds between garbage collections; 0: only when asked */
	int gc_grace;          /* seconds an unreferenced blob (or untagged manifest) is kept */
	bool gc_untagged;      /* also delete untagged manifests no tag reaches */
	int upload_expiry;     /* seconds an idle upload session is kept */

	/* Node-local blob read cache in front of S3 (storage/blob_cache.h): folder, bytes
	 * (10 GiB when only the folder is given). */
	char *blob_cache;
	uint64_t blob_cache_size;
};

/* Fill cfg from all sources. argv is berthd's command line after the subcommand, if any.
 * Returns 0, or -1 with err (an unknown flag, a bad value, an unreadable config file).
 * Sets *exit_now for --help/--version (already printed). */
int config_load(struct config *cfg, int argc, char **argv, bool *exit_now, struct berr *err);
void config_free(struct config *cfg);
/* The metadata database berthd uses: --database, else DATA/berth.db (heap, caller frees). */
char *config_database(const struct config *cfg);
/* Whether db (from config_database) is a SQLite file that does not exist yet. */
bool config_database_missing(const char *db);
/* For the commands that work on an existing data folder (fsck, gc): config_load from argv,
 * then check that DATA/berth.db exists. On failure prints the reason, frees cfg and returns
 * 2 (the exit status); else 0, with *db the database path (heap, caller frees). */
int config_load_data(struct config *cfg, int argc, char **argv, char **db);
/* Whether the command-line option --name (given without its dashes) is a switch, which
 * takes no separate value (--read-only); false for the others and for unknown names. */
bool config_option_is_switch(const char *name);
/* The usage text for --help. */
void config_usage(FILE *out);

#endif
