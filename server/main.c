/* berthd: the Berth registry server. Reads its settings, opens the data folder (blob
 * store and SQLite metadata), serves the registry API until SIGTERM/SIGINT, then stops
 * accepting, lets requests in flight finish (bounded) and closes the database cleanly. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/curl_lazy.h"
#include "common/log.h"
#include "common/registry_client.h"
#include "common/xalloc.h"
#include "server/admin.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/store.h"
#include "server/fsck.h"
#include "server/gc.h"
#include "server/http.h"
#include "server/meta.h"
#include "server/proxy.h"
#include "server/metrics.h"
#include "server/policy.h"
#include "server/pulls.h"
#include "server/registry.h"
#include "server/replication.h"
#include "server/replication_cli.h"
#include "server/tagcache.h"
#include "server/tls.h"
#include "server/token.h"
#include "server/uploads.h"
#include "server/webhooks.h"
#include "storage/blobstore.h"

/* Seconds requests in flight get to finish at shutdown. */
#define SHUTDOWN_GRACE 30
/* Seconds between writes of the pull counts. */
#define PULL_COUNT_INTERVAL 5

/* berthd's command line, kept for a SIGHUP reload. */
static int berthd_argc;
static char **berthd_argv;

/* SIGHUP: read the settings again (config file, environment, flags, in that order as at
 * start) and apply the log level. Everything else needs a restart. */
static void berthd_reload(void)
{
	struct config fresh;
	struct berr err = {0};
	bool exit_now = false;
	if (config_load(&fresh, berthd_argc, berthd_argv, &exit_now, &err) < 0) {
		log_error("SIGHUP: settings not reloaded: %s", err.message);
		config_free(&fresh);
		return;
	}
	enum log_level old = log_get_level();
	log_set_level(LOG_INFO); /* so that the change itself is always logged */
	log_info("SIGHUP: log level %s -> %s%s", log_level_name(old), log_level_name((enum log_level)fresh.log_level),
	         fresh.config_file ? "" : " (no config file: only the environment and flags were read)");
	log_set_level((enum log_level)fresh.log_level);
	config_free(&fresh);
}

/* meta_webhooks_list / meta_replication_list callbacks: note that there is one, stop. */
static int berthd_found_hook(void *found, const struct meta_webhook *h)
{
	*(bool *)found = true;
	return 1;
}

static int berthd_found_rule(void *found, const struct meta_replication_rule *r)
{
	*(bool *)found = true;
	return 1;
}

/* libcurl is mapped only for what speaks HTTP outwards (common/curl_lazy.h): when the
 * pull-through cache, --upstream-ca, webhooks or replication rules (run unless read-only)
 * are configured, load it now so that a missing library is one clear start-up error. (S3
 * storage loads it in blobstore_open_s3.) A webhook or rule added later loads it at its
 * first request. */
static int berthd_load_curl_if_used(const struct config *cfg, struct meta *m, struct berr *err)
{
	bool hooks = false, rules = false;
	if (!cfg->nmirrors && !cfg->upstream_ca && m &&
	    (meta_webhooks_list(m, NULL, NULL, berthd_found_hook, &hooks, err) < 0 ||
	     (!hooks && !cfg->read_only && meta_replication_list(m, berthd_found_rule, &rules, err) < 0)))
		return -1;
	const char *user = cfg->nmirrors      ? "the pull-through cache (--mirror)"
	                   : cfg->upstream_ca ? "--upstream-ca"
	                   : hooks            ? "webhooks"
	                   : rules            ? "replication rules"
	                                      : NULL;
	if (user && curl_lazy_load(err) < 0) {
		berr_prefix(err, "%s", user);
		return -1;
	}
	return 0;
}

static int berthd_serve(struct config *cfg)
{
	struct berr err = {0};
	struct stat st;
	if (proxy_init(cfg, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		return 2;
	}
	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		fprintf(stderr, "berthd: cannot create data folder %s: %s\n", cfg->data_dir, strerror(errno));
		return 1;
	}
	if (stat(cfg->data_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "berthd: data folder %s is not a directory\n", cfg->data_dir);
		return 1;
	}
	if (http_bind(cfg, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		return 1;
	}
	/* Block the stop signals in every thread; the main thread waits for them. */
	sigset_t stopset;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct registry reg = {.cfg = cfg};
	cleanup_free char *dbpath = config_database(cfg);
	reg.blobs = store_open(cfg, &err);
	if (reg.blobs && store_open_cache(cfg, reg.blobs, &err) < 0) {
		blobstore_close(reg.blobs);
		reg.blobs = NULL;
	}
	if (reg.blobs)
		metrics_set_blob_cache(blobstore_cache(reg.blobs));
	if (!reg.blobs || meta_init(dbpath, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		blobstore_close(reg.blobs);
		return 1;
	}
	struct meta *m0 = strcmp(cfg->auth, "token") == 0 ? meta_get(&err) : NULL;
	if (strcmp(cfg->auth, "token") == 0 &&
	    (!m0 ||
	     (meta_is_shared(m0) ? token_keys_init_shared(m0, &err) : token_keys_init(cfg->data_dir, &err)) < 0)) {
		fprintf(stderr, "berthd: %s\n", err.message);
		meta_shutdown();
		blobstore_close(reg.blobs);
		return 1;
	}
	if (berthd_load_curl_if_used(cfg, meta_get(&err), &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		meta_shutdown();
		blobstore_close(reg.blobs);
		return 1;
	}
	meta_set_default_visibility(strcmp(cfg->default_visibility, "public") == 0);
	proxy_start(reg.blobs);
	reg.uploads = uploads_new();
	struct meta *m = meta_get(&err);
	size_t swept = 0;
	if (!m || uploads_sweep(&reg, m, &swept, &err) < 0)
		log_warn("start-up: could not clean up interrupted uploads: %s", err.message);
	else if (swept)
		log_info("start-up: removed %zu interrupted uploads that no session owned", swept);
	size_t restored = 0, freed = 0;
	if (m && gc_trash_recover(reg.blobs, m, &restored, &freed, &err) < 0)
		log_warn("start-up: could not recover blobs of an interrupted garbage collection: %s", err.message);
	else if (restored || freed)
		log_info(
		    "start-up: an interrupted garbage collection left %zu blobs in the trash: %zu put back, %zu freed",
		    restored + freed, restored, freed);
	if (pulls_start(PULL_COUNT_INTERVAL) < 0) {
		fprintf(stderr, "berthd: could not start the pull counter\n");
		meta_shutdown();
		uploads_free(reg.uploads);
		blobstore_close(reg.blobs);
		return 1;
	}
	metrics_init();
	if (webhooks_start(cfg->webhook_retry_base, cfg->webhook_max_attempts, &err) < 0 ||
	    (cfg->metrics_listen && metrics_listen_start(cfg->metrics_listen, &err) < 0)) {
		webhooks_stop();
		pulls_stop();
		fprintf(stderr, "berthd: %s\n", err.message);
		meta_shutdown();
		uploads_free(reg.uploads);
		blobstore_close(reg.blobs);
		return 1;
	}
	if (gc_start(&reg, &err) < 0 || http_start(&reg, &err) < 0) {
		gc_stop();
		metrics_listen_stop();
		webhooks_stop();
		pulls_stop();
		fprintf(stderr, "berthd: %s\n", err.message);
		meta_shutdown();
		uploads_free(reg.uploads);
		blobstore_close(reg.blobs);
		return 1;
	}
	/* Replication pushes through the API, which refuses writes when read-only. */
	if (cfg->read_only)
		log_info("read-only: replication rules are not run");
	else if (replication_start(cfg, &err) < 0)
		log_warn("replication is off: %s", err.message);
	int64_t nusers = 0;
	if (m && strcmp(cfg->auth, "token") == 0 && meta_users_count(m, &nusers, &err) == 0 && nusers == 0)
		log_warn("no accounts yet: create the first admin with `berthd user add NAME --admin --data %s`",
		         cfg->data_dir);
	cleanup_free char *blobs_at = store_describe(cfg);
	log_info("berthd %s serving %s%s on %s (data in %s, blobs in %s, auth %s%s)", PACKAGE_VERSION,
	         cfg->tls_cert ? "https" : "http", "", cfg->listen, cfg->data_dir, blobs_at, cfg->auth,
	         cfg->read_only ? ", read-only" : "");

	for (;;) {
		int sig = 0;
		if (sigwait(&stopset, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			berthd_reload();
			if (cfg->tls_cert && tls_reload(&err) < 0)
				log_error("SIGHUP: %s; still serving the certificate loaded before", err.message);
			else if (cfg->tls_cert)
				log_info("SIGHUP: reloaded the TLS certificate %s and key %s", cfg->tls_cert,
				         cfg->tls_key);
			continue;
		}
		log_info("received %s: stopping (requests in flight get up to %d s)", strsignal(sig), SHUTDOWN_GRACE);
		break;
	}
	replication_cancel();
	proxy_stop_after(SHUTDOWN_GRACE);
	http_stop(SHUTDOWN_GRACE);
	replication_stop();
	proxy_shutdown();
	metrics_listen_stop();
	webhooks_stop();
	gc_stop();
	pulls_stop();
	tagcache_clear();
	meta_shutdown();
	token_keys_shutdown();
	uploads_free(reg.uploads);
	blobstore_close(reg.blobs);
	log_info("berthd stopped");
	return 0;
}

int main(int argc, char **argv)
{
	/* The database holds password and token hashes: nothing berthd writes is for others. */
	umask(077);
	if (argc > 1 && strcmp(argv[1], "backup") == 0)
		return backup_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "fsck") == 0)
		return fsck_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "mirror") == 0)
		return replication_cli_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "policy") == 0)
		return policy_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "webhook") == 0)
		return policy_webhook_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "retention") == 0)
		return policy_retention_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "gc") == 0)
		return gc_main(argc, argv);
	if (argc > 1 && admin_is_command(argv[1]))
		return admin_main(argc, argv);
	struct config cfg;
	struct berr err = {0};
	bool exit_now = false;
	if (config_load(&cfg, argc - 1, argv + 1, &exit_now, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		config_free(&cfg);
		return 2;
	}
	if (exit_now) {
		config_free(&cfg);
		return 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	log_set_format((enum log_format)log_format_parse(cfg.log_format));
	berthd_argc = argc - 1;
	berthd_argv = argv + 1;
	if (registry_client_set_ca_file(cfg.upstream_ca, "--upstream-ca", &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		registry_client_global_cleanup();
		config_free(&cfg);
		return 2;
	}
	int rc = berthd_serve(&cfg);
	registry_client_global_cleanup();
	config_free(&cfg);
	return rc;
}
