/* Prometheus metrics: counters and latency histograms the HTTP layer bumps per request
 * (lock-free atomics), counters other modules bump, and the text exposition (format
 * 0.0.4) served at GET /metrics, on the main listener or on --metrics-listen. */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include <stdint.h>

#include "common/berr.h"
#include "server/http.h"

struct blob_cache;

/* Counters other modules bump with metrics_count. Registered (and exported as 0) from the
 * start, so dashboards and alerts can refer to them before the feature first runs. */
enum metrics_counter {
	METRICS_GC_RUNS,            /* berth_gc_runs_total */
	METRICS_GC_BLOBS_DELETED,   /* berth_gc_blobs_deleted_total */
	METRICS_MIRROR_HITS,        /* berth_mirror_hits_total */
	METRICS_MIRROR_MISSES,      /* berth_mirror_misses_total */
	METRICS_UPSTREAM_ERRORS,    /* berth_upstream_errors_total */
	METRICS_WEBHOOK_DELIVERIES, /* berth_webhook_deliveries_total */
	METRICS_WEBHOOK_FAILURES,   /* berth_webhook_failures_total */
	METRICS_RETENTION_UNTAGGED, /* berth_retention_untagged_total */
	METRICS_IMMUTABLE_REFUSALS, /* berth_immutable_tag_refusals_total */
	METRICS_COUNTER_COUNT
};

/* Record the start time; call once at start-up. */
void metrics_init(void);
/* Add n to counter c. Safe from any thread. */
void metrics_count(enum metrics_counter c, uint64_t n);

/* Record a finished request: its route, method, status (0: none was sent), duration and
 * body bytes received and sent. Called by the HTTP layer once per request. */
void metrics_observe(enum route_kind route, enum http_method method, unsigned status, double seconds, uint64_t bytes_in,
                     uint64_t bytes_out);

/* The exposition text (heap, caller frees) with the database gauges read through m
 * (storage per namespace, uploads in progress); a database failure is reported in
 * berth_metrics_scrape_errors_total and leaves those gauges out rather than failing. */
char *metrics_render(struct meta *m, size_t *len);

/* GET /metrics on the main listener. With --auth token, only administrators (HTTP Basic
 * or a bearer token); with --metrics-listen set, 404 (served there instead). */
void metrics_serve(struct req *r);

/* Export the counters of the node-local blob cache c (berth_blob_cache_*); NULL: none.
 * c must outlive the metrics listeners. */
void metrics_set_blob_cache(struct blob_cache *c);

/* Start the separate listener of --metrics-listen (only /metrics, no authentication:
 * bind it to a private address). Returns 0, or -1 with err. */
int metrics_listen_start(const char *addr, struct berr *err);
/* Stop it (no-op when it was not started). */
void metrics_listen_stop(void);

#endif
