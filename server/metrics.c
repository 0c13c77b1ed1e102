/* Prometheus metrics. The request path only does relaxed atomic adds into fixed arrays
 * indexed by route, method and status: no lock, no allocation. A scrape reads the arrays
 * (each value atomically; a scrape racing requests may see a count one request ahead of
 * its histogram, which Prometheus tolerates) and asks the database for the gauges. */
#include "server/metrics.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/meta.h"
#include "server/registry.h"
#include "storage/blob_cache.h"

/* Route labels, indexed by enum route_kind; ROUTE_METRICS is the scrape itself. */
static const char *const metrics_routes[] = {
    [ROUTE_NONE] = "none",
    [ROUTE_BASE] = "base",
    [ROUTE_CATALOG] = "catalog",
    [ROUTE_BLOB] = "blob",
    [ROUTE_UPLOAD_START] = "upload_start",
    [ROUTE_UPLOAD] = "upload",
    [ROUTE_MANIFEST] = "manifest",
    [ROUTE_TAGS] = "tags",
    [ROUTE_REFERRERS] = "referrers",
    [ROUTE_TOKEN] = "token",
    [ROUTE_API_V1] = "api_v1",
    [ROUTE_METRICS] = "metrics",
};
#define NROUTES (sizeof metrics_routes / sizeof metrics_routes[0])

static const char *const metrics_methods[] = {
    [HTTP_GET] = "GET",     [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",       [HTTP_PUT] = "PUT",
    [HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS", [HTTP_OTHER] = "other",
};
#define NMETHODS (sizeof metrics_methods / sizeof metrics_methods[0])

/* The statuses berthd answers with; anything else is counted as "other". 0: the client
 * went away before any answer. */
static const unsigned metrics_codes[] = {0,   200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401,
                                         403, 404, 405, 406, 409, 411, 413, 415, 416, 429, 500, 503};
#define NCODES (sizeof metrics_codes / sizeof metrics_codes[0] + 1)

/* Upper bounds of the latency buckets, in seconds; +Inf is the request count. */
static const double metrics_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBOUNDS (sizeof metrics_bounds / sizeof metrics_bounds[0])

struct metrics_series {
	_Atomic uint64_t count;
	_Atomic uint64_t micros; /* sum of durations */
	_Atomic uint64_t bucket[NBOUNDS];
};

static struct {
	struct metrics_series req[NROUTES][NMETHODS][NCODES];
	_Atomic uint64_t bytes_in[NROUTES];
	_Atomic uint64_t bytes_out[NROUTES];
	_Atomic uint64_t counters[METRICS_COUNTER_COUNT];
	_Atomic uint64_t scrape_errors;
	_Atomic int64_t started;
} metrics;

/* The node-local blob cache whose counters are exported (metrics_set_blob_cache), or NULL. */
static struct blob_cache *metrics_blob_cache;

static const struct {
	const char *name;
	const char *help;
} metrics_counter_info[METRICS_COUNTER_COUNT] = {
    [METRICS_GC_RUNS] = {"berth_gc_runs_total", "Garbage collection runs completed."},
    [METRICS_GC_BLOBS_DELETED] = {"berth_gc_blobs_deleted_total", "Blobs deleted by garbage collection."},
    [METRICS_MIRROR_HITS] = {"berth_mirror_hits_total", "Pull-through mirror requests served from local storage."},
    [METRICS_MIRROR_MISSES] = {"berth_mirror_misses_total", "Pull-through mirror requests fetched from upstream."},
    [METRICS_UPSTREAM_ERRORS] = {"berth_upstream_errors_total", "Failed requests to upstream registries."},
    [METRICS_WEBHOOK_DELIVERIES] = {"berth_webhook_deliveries_total", "Webhook deliveries answered with 2xx."},
    [METRICS_WEBHOOK_FAILURES] = {"berth_webhook_failures_total",
                                  "Webhook delivery attempts that failed (each retry counts)."},
    [METRICS_RETENTION_UNTAGGED] = {"berth_retention_untagged_total", "Tags removed by retention rules."},
    [METRICS_IMMUTABLE_REFUSALS] = {"berth_immutable_tag_refusals_total",
                                    "Pushes or deletes refused by tag immutability rules."},
};

void metrics_count(enum metrics_counter c, uint64_t n)
{
	if (c < METRICS_COUNTER_COUNT)
		atomic_fetch_add_explicit(&metrics.counters[c], n, memory_order_relaxed);
}

static size_t metrics_code_index(unsigned status)
{
	for (size_t i = 0; i < NCODES - 1; i++)
		if (metrics_codes[i] == status)
			return i;
	return NCODES - 1;
}

void metrics_observe(enum route_kind route, enum http_method method, unsigned status, double seconds, uint64_t bytes_in,
                     uint64_t bytes_out)
{
	size_t ri = (size_t)route < NROUTES ? (size_t)route : ROUTE_NONE;
	size_t mi = (size_t)method < NMETHODS ? (size_t)method : HTTP_OTHER;
	struct metrics_series *s = &metrics.req[ri][mi][metrics_code_index(status)];
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->micros, (uint64_t)(seconds * 1e6), memory_order_relaxed);
	for (size_t b = 0; b < NBOUNDS; b++)
		if (seconds <= metrics_bounds[b]) {
			atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
			break;
		}
	if (bytes_in)
		atomic_fetch_add_explicit(&metrics.bytes_in[ri], bytes_in, memory_order_relaxed);
	if (bytes_out)
		atomic_fetch_add_explicit(&metrics.bytes_out[ri], bytes_out, memory_order_relaxed);
}

/* A growing text buffer for the exposition. */
struct metrics_buf {
	char *data;
	size_t len, cap;
};

static void metrics_printf(struct metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
		b->data = xrealloc(b->data, b->cap);
	}
}

/* A label value escaped per the text format: backslash, double quote and newline. */
static void metrics_label(struct metrics_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			metrics_printf(b, "\\%c", *v);
		else if (*v == '\n')
			metrics_printf(b, "\\n");
		else
			metrics_printf(b, "%c", *v);
	}
}

static uint64_t metrics_load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void metrics_render_requests(struct metrics_buf *b)
{
	metrics_printf(b, "# HELP berth_http_requests_total HTTP requests answered, by route, method and status.\n"
	                  "# TYPE berth_http_requests_total counter\n");
	for (size_t r = 0; r < NROUTES; r++)
		for (size_t m = 0; m < NMETHODS; m++)
			for (size_t c = 0; c < NCODES; c++) {
				uint64_t n = metrics_load(&metrics.req[r][m][c].count);
				if (!n)
					continue;
				char code[16];
				snprintf(code, sizeof code, c == NCODES - 1 ? "other" : "%u", metrics_codes[c]);
				metrics_printf(
				    b, "berth_http_requests_total{route=\"%s\",method=\"%s\",code=\"%s\"} %llu\n",
				    metrics_routes[r], metrics_methods[m], code, (unsigned long long)n);
			}
	metrics_printf(b, "# HELP berth_http_request_duration_seconds Time from request start to completion.\n"
	                  "# TYPE berth_http_request_duration_seconds histogram\n");
	for (size_t r = 0; r < NROUTES; r++)
		for (size_t m = 0; m < NMETHODS; m++)
			for (size_t c = 0; c < NCODES; c++) {
				struct metrics_series *s = &metrics.req[r][m][c];
				uint64_t buckets[NBOUNDS], cum = 0;
				for (size_t i = 0; i < NBOUNDS; i++)
					buckets[i] = metrics_load(&s->bucket[i]);
				uint64_t count = metrics_load(&s->count);
				uint64_t micros = metrics_load(&s->micros);
				if (!count)
					continue;
				char labels[128];
				char code[16];
				snprintf(code, sizeof code, c == NCODES - 1 ? "other" : "%u", metrics_codes[c]);
				snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",code=\"%s\"",
				         metrics_routes[r], metrics_methods[m], code);
				for (size_t i = 0; i < NBOUNDS; i++) {
					cum += buckets[i];
					/* A scrape racing a request can see a bucket before its count. */
					if (cum > count)
						count = cum;
					metrics_printf(
					    b, "berth_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
					    labels, metrics_bounds[i], (unsigned long long)cum);
				}
				metrics_printf(b, "berth_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
				               labels, (unsigned long long)count);
				metrics_printf(b, "berth_http_request_duration_seconds_sum{%s} %.6f\n", labels,
				               (double)micros / 1e6);
				metrics_printf(b, "berth_http_request_duration_seconds_count{%s} %llu\n", labels,
				               (unsigned long long)count);
			}
	static const char *const dir_name[2] = {"received", "sent"};
	static const char *const dir_help[2] = {"Request body bytes received, by route.",
	                                        "Response body bytes queued for sending, by route."};
	for (int d = 0; d < 2; d++) {
		metrics_printf(b, "# HELP berth_http_%s_bytes_total %s\n# TYPE berth_http_%s_bytes_total counter\n",
		               dir_name[d], dir_help[d], dir_name[d]);
		for (size_t r = 0; r < NROUTES; r++) {
			uint64_t v = metrics_load(d ? &metrics.bytes_out[r] : &metrics.bytes_in[r]);
			if (v)
				metrics_printf(b, "berth_http_%s_bytes_total{route=\"%s\"} %llu\n", dir_name[d],
				               metrics_routes[r], (unsigned long long)v);
		}
	}
}

static int metrics_storage_row(void *ctx, const char *ns, int64_t blobs, uint64_t bytes)
{
	struct metrics_buf *b = ctx;
	metrics_printf(b, "berth_storage_namespace_bytes{namespace=\"");
	metrics_label(b, ns);
	metrics_printf(b, "\"} %llu\n", (unsigned long long)bytes);
	(void)blobs;
	return 0;
}

void metrics_set_blob_cache(struct blob_cache *c)
{
	metrics_blob_cache = c;
}

/* The berth_blob_cache_* series, when berthd runs with --blob-cache. */
static void metrics_render_blob_cache(struct metrics_buf *b)
{
	if (!metrics_blob_cache)
		return;
	struct blob_cache_stats st;
	blob_cache_stats(metrics_blob_cache, &st);
	static const char *const counters[][2] = {
	    {"berth_blob_cache_hits_total", "Blob reads answered from the node-local cache (GET and HEAD)."},
	    {"berth_blob_cache_misses_total", "Blob reads the node-local cache could not answer."},
	    {"berth_blob_cache_fills_total", "Blobs copied whole into the node-local cache, digest checked."},
	    {"berth_blob_cache_catch_ups_total",
	     "Cache fills that fell behind the client and read the rest of the blob "
	     "from the store after the response (counted in fills too)."},
	    {"berth_blob_cache_served_bytes_total", "Bytes of blob responses sent from the node-local cache."},
	    {"berth_blob_cache_evictions_total", "Files removed from the node-local cache to keep it under its size."},
	    {"berth_blob_cache_fills_skipped_total",
	     "Whole-blob misses served from the store without filling the cache: a fill of the same blob "
	     "was running, or 16 fills were."},
	};
	uint64_t values[] = {st.hits, st.misses, st.fills, st.catch_ups, st.served_bytes, st.evictions, st.skipped};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		metrics_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i][0], counters[i][1],
		               counters[i][0], counters[i][0], (unsigned long long)values[i]);
	metrics_printf(b,
	               "# HELP berth_blob_cache_fills_abandoned_total Cache fills given up, by reason: behind (the "
	               "copying thread fell behind the client and could not catch up), incomplete (the read did not "
	               "cover the whole blob), "
	               "error (a local error, a wrong digest, or garbage collection dropping blobs meanwhile).\n"
	               "# TYPE berth_blob_cache_fills_abandoned_total counter\n"
	               "berth_blob_cache_fills_abandoned_total{reason=\"behind\"} %llu\n"
	               "berth_blob_cache_fills_abandoned_total{reason=\"incomplete\"} %llu\n"
	               "berth_blob_cache_fills_abandoned_total{reason=\"error\"} %llu\n",
	               (unsigned long long)st.abandoned_behind, (unsigned long long)st.abandoned_incomplete,
	               (unsigned long long)st.abandoned_error);
	metrics_printf(b,
	               "# HELP berth_blob_cache_bytes Bytes the node-local blob cache holds.\n"
	               "# TYPE berth_blob_cache_bytes gauge\nberth_blob_cache_bytes %llu\n"
	               "# HELP berth_blob_cache_files Blobs the node-local blob cache holds.\n"
	               "# TYPE berth_blob_cache_files gauge\nberth_blob_cache_files %llu\n"
	               "# HELP berth_blob_cache_max_bytes The size of the node-local blob cache (--blob-cache-size).\n"
	               "# TYPE berth_blob_cache_max_bytes gauge\nberth_blob_cache_max_bytes %llu\n",
	               (unsigned long long)st.bytes, (unsigned long long)st.files, (unsigned long long)st.max_bytes);
}

char *metrics_render(struct meta *m, size_t *len)
{
	struct metrics_buf b = {.data = xmalloc(16384), .cap = 16384};
	int64_t started = atomic_load(&metrics.started);
	metrics_printf(&b,
	               "# HELP berth_start_time_seconds When berthd started, in Unix time.\n"
	               "# TYPE berth_start_time_seconds gauge\nberth_start_time_seconds %lld\n",
	               (long long)started);
	metrics_render_requests(&b);
	for (int c = 0; c < METRICS_COUNTER_COUNT; c++)
		metrics_printf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", metrics_counter_info[c].name,
		               metrics_counter_info[c].help, metrics_counter_info[c].name, metrics_counter_info[c].name,
		               (unsigned long long)metrics_load(&metrics.counters[c]));
	metrics_render_blob_cache(&b);

	/* Database gauges: into a side buffer, so a failure half-way leaves none of them. */
	struct metrics_buf g = {.data = xmalloc(4096), .cap = 4096};
	struct berr err = {0};
	int64_t uploads = 0, blobs = 0;
	uint64_t bytes = 0;
	int rc = m ? 0 : berr_set(&err, BERR_INTERNAL, "no database connection");
	if (rc == 0)
		rc = meta_uploads_count(m, &uploads, &err);
	if (rc == 0)
		rc = meta_storage_total(m, &blobs, &bytes, &err);
	if (rc == 0) {
		metrics_printf(&g,
		               "# HELP berth_uploads_in_progress Upload sessions started and not yet finished.\n"
		               "# TYPE berth_uploads_in_progress gauge\nberth_uploads_in_progress %lld\n",
		               (long long)uploads);
		metrics_printf(&g,
		               "# HELP berth_storage_blobs Blobs stored.\n# TYPE berth_storage_blobs gauge\n"
		               "berth_storage_blobs %lld\n",
		               (long long)blobs);
		metrics_printf(&g,
		               "# HELP berth_storage_bytes Bytes of all stored blobs, each counted once.\n"
		               "# TYPE berth_storage_bytes gauge\nberth_storage_bytes %llu\n",
		               (unsigned long long)bytes);
		metrics_printf(&g, "# HELP berth_storage_namespace_bytes Bytes of the blobs linked into a namespace's "
		                   "repositories (a blob shared by namespaces counts in each).\n"
		                   "# TYPE berth_storage_namespace_bytes gauge\n");
		rc = meta_storage_each(m, metrics_storage_row, &g, &err);
	}
	if (rc == 0) {
		metrics_printf(&b, "%.*s", (int)g.len, g.data);
	} else {
		atomic_fetch_add(&metrics.scrape_errors, 1);
		log_warn("metrics: database gauges left out: %s", err.message);
	}
	free(g.data);
	metrics_printf(&b,
	               "# HELP berth_metrics_scrape_errors_total Scrapes whose database gauges failed.\n"
	               "# TYPE berth_metrics_scrape_errors_total counter\nberth_metrics_scrape_errors_total %llu\n",
	               (unsigned long long)metrics_load(&metrics.scrape_errors));
	*len = b.len;
	return b.data;
}

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void metrics_serve(struct req *r)
{
	if (r->reg->cfg->metrics_listen) {
		req_fail(r, BERR_NOT_FOUND, "metrics are served on %s (--metrics-listen)", r->reg->cfg->metrics_listen);
		return;
	}
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on /metrics", r->method_str);
		return;
	}
	r->meta = meta_get(&r->err);
	if (!r->meta) {
		req_respond_error(r, &r->err);
		return;
	}
	if (!auth_disabled(r)) {
		if (auth_identify(r, &r->err) < 0) {
			auth_respond_invalid(r);
			return;
		}
		if (!r->auth->authenticated) {
			req_fail(r, BERR_UNAUTHORIZED, "metrics need an administrator's credentials");
			return;
		}
		if (!r->auth->is_admin) {
			req_fail(r, BERR_DENIED, "only administrators may read the metrics");
			return;
		}
	}
	size_t len;
	char *text = metrics_render(r->meta, &len);
	struct MHD_Response *resp;
	if (r->method == HTTP_HEAD) {
		free(text);
		resp = resp_head(len);
	} else {
		resp = resp_take(text, len);
	}
	resp_header(resp, "Content-Type", METRICS_CONTENT_TYPE);
	resp_header(resp, "Cache-Control", "no-store");
	req_respond(r, 200, resp);
}

/* ------------------------------------------------------------------ separate listener */

static struct MHD_Daemon *metrics_daemon;

static enum MHD_Result metrics_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
	(void)cls, (void)version, (void)upload_data;
	if (!*con_cls) { /* first call: headers only */
		*con_cls = conn;
		return MHD_YES;
	}
	if (*upload_data_size) { /* a body nobody asked for: skip it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	bool head = strcmp(method, "HEAD") == 0;
	unsigned status = 200;
	struct MHD_Response *resp;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t len = 0;
	if (strcmp(url, "/metrics") != 0) {
		static const char msg[] = "not found: only /metrics is served here\n";
		status = 404;
		resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
	} else if (!head && strcmp(method, "GET") != 0) {
		static const char msg[] = "method not allowed: use GET\n";
		status = 405;
		resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	} else {
		struct berr err = {0};
		struct meta *m = meta_get(&err);
		char *text = metrics_render(m, &len);
		if (head) {
			free(text);
			resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		} else {
			resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		}
		MHD_add_response_header(resp, "Content-Type", METRICS_CONTENT_TYPE);
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_observe(ROUTE_METRICS,
	                head                         ? HTTP_HEAD
	                : strcmp(method, "GET") == 0 ? HTTP_GET
	                                             : HTTP_OTHER,
	                status, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, 0,
	                head ? 0 : len);
	return ret;
}

/* Log libmicrohttpd's messages about the metrics listener at debug level. */
static void metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof buf, fmt, ap);
	buf[strcspn(buf, "\r\n")] = '\0';
	log_debug("metrics listener: %s", buf);
}

int metrics_listen_start(const char *addr, struct berr *err)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr)
		return berr_set(err, BERR_INTERNAL, "--metrics-listen wants ADDR:PORT, not '%s'", addr);
	char host[256];
	const char *h = addr;
	size_t hl = (size_t)(colon - addr);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		return berr_set(err, BERR_INTERNAL, "--metrics-listen: address too long");
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0)
		return berr_set(err, BERR_INTERNAL, "--metrics-listen %s: %s", addr, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return berr_sys(err, e, "--metrics-listen %s", addr);
	}
	freeaddrinfo(ai);
	metrics_daemon =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, metrics_access, NULL,
	                     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log, NULL,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_END);
	if (!metrics_daemon) {
		close(fd);
		return berr_set(err, BERR_INTERNAL, "could not start the metrics listener on %s", addr);
	}
	return 0;
}

void metrics_listen_stop(void)
{
	if (metrics_daemon) {
		MHD_stop_daemon(metrics_daemon);
		metrics_daemon = NULL;
	}
}

void metrics_init(void)
{
	atomic_store(&metrics.started, (int64_t)time(NULL));
}
