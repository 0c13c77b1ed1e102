/* The HTTP layer over libmicrohttpd: the listening socket and its acceptor (which closes
 * TLS handshakes sent to a plain-HTTP port), the per-request context every handler works
 * on, streamed request bodies, responses, and the access log. */
#ifndef BERTH_HTTP_H
#define BERTH_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/berr.h"
#include "server/router.h"

struct registry;
struct meta;
struct auth_identity;

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS, HTTP_OTHER };

struct req;

/* A handler that wants the request body sets these in its begin step.
 * on_body gets the body in pieces as they arrive; on_end runs once it has all arrived and
 * must respond. After a failed on_body (it returns -1 with r->err set), further body
 * bytes are discarded and the error is the response. */
typedef int (*req_body_fn)(struct req *r, const char *data, size_t len);
typedef void (*req_end_fn)(struct req *r);
typedef void (*req_cleanup_fn)(struct req *r);

/* Everything one request owns; freed when libmicrohttpd reports the request finished. */
struct req {
	struct MHD_Connection *conn;
	struct registry *reg;
	struct meta *meta;
	enum http_method method;
	const char *method_str;
	const char *url; /* the decoded path, for messages */
	char *path;      /* the path, percent-decoded for routing (see http.c); owned */
	struct route route;
	struct timespec started;
	unsigned int status; /* status sent, for the access log */
	uint64_t bytes_in;
	uint64_t bytes_out; /* body bytes of the response queued (for the metrics) */
	bool begun;         /* routing and the handler's begin step have run */
	bool responded;
	bool body_failed;
	req_body_fn on_body;
	req_end_fn on_end;
	req_cleanup_fn on_cleanup;
	void *state;                                 /* handler-owned, released by on_cleanup */
	struct auth_identity *auth;                  /* the caller (server/auth.h); owned */
	int rate_limit, rate_remaining, rate_window; /* RateLimit headers when rate_limit > 0 */
	_Atomic long last_active;                    /* CLOCK_MONOTONIC seconds of the last progress */
	/* What the slow-client guard reads from the acceptor thread (http.c). */
	_Atomic bool headers_done, body_done;
	_Atomic uint64_t body_bytes;
	struct req *prev_active, *next_active; /* in the list a shutdown waits on */
	struct berr err;
};

struct config;
/* Open the listening socket (so a busy port is reported before anything else starts). */
int http_bind(const struct config *cfg, struct berr *err);
/* Start serving according to reg->cfg (binding first if http_bind was not called).
 * Returns 0, or -1 with err. */
int http_start(struct registry *reg, struct berr *err);
/* Stop accepting, wait up to grace_seconds for requests in flight, then close everything. */
void http_stop(int grace_seconds);

/* Request details. */
const char *req_header(struct req *r, const char *name);
const char *req_query(struct req *r, const char *name);
/* Call fn for each value of query argument `name`, in order. Stops early if fn returns non-zero. */
int req_query_each(struct req *r, const char *name, int (*fn)(void *ctx, const char *value), void *ctx);
/* The client's address as text ("-" if unknown), written to buf. */
const char *req_remote_addr(struct req *r, char buf[64]);
/* Content-Length of the request, or -1 if absent/invalid (chunked). */
int64_t req_content_length(struct req *r);
/* True if the request announces a body (Content-Length > 0 or Transfer-Encoding). */
bool req_has_body(struct req *r);

/* s as a JSON string (json_null for NULL). Text from requests or users need not be UTF-8,
 * which JSON cannot carry: then every byte outside ASCII becomes '?'. */
json_t *http_json_string(const char *s);
/* Responses. Each queues exactly one response (later calls are ignored). Every response
 * carries Docker-Distribution-API-Version. */
struct MHD_Response *resp_empty(void);
/* A response from a heap buffer the response takes ownership of (freed with free()). */
struct MHD_Response *resp_take(void *buf, size_t len);
/* A copy of buf. */
struct MHD_Response *resp_copy(const void *buf, size_t len);
/* A response whose body is `len` bytes of fd from `offset`, sent with sendfile; takes fd. */
struct MHD_Response *resp_fd(int fd, uint64_t offset, uint64_t len);
/* A body-less response announcing Content-Length `len` (for HEAD). */
struct MHD_Response *resp_head(uint64_t len);
void resp_header(struct MHD_Response *resp, const char *name, const char *value);
void resp_headerf(struct MHD_Response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queue resp with status and drop our reference. */
void req_respond(struct req *r, unsigned int status, struct MHD_Response *resp);
/* The spec's JSON error response for err, and its status, for a caller that adds headers. */
struct MHD_Response *resp_error(struct req *r, const struct berr *err, unsigned int *status);
/* Respond with the spec's JSON error body for err (status from its code). */
void req_respond_error(struct req *r, const struct berr *err);
/* Shorthand: set r->err from code + message and respond with it. */
void req_fail(struct req *r, enum berr_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Respond 200 (or status) with a JSON body (takes the text, heap). */
void req_respond_json(struct req *r, unsigned int status, char *json_text, const char *content_type);

#endif
