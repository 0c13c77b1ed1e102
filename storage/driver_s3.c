/* The S3 blob driver: blobs and upload staging in an S3-compatible bucket (Ceph RGW, AWS,
 * MinIO), over libcurl with Signature V4 and path-style addressing. Keys, under the
 * configured prefix P:
 *   P blobs/<algo>/<2 hex>/<hex>      a finished blob, written only by a copy or a complete
 *   P uploads/<id>/state               the upload's state (JSON, see docs/internals/s3.md)
 *   P uploads/<id>/tail-<gen>          bytes received but not yet sent as a multipart part
 *   P uploads/<id>/data                the multipart upload's key, completed at commit
 *   P quarantine/<algo>-<hex>          blobs fsck --repair moved aside
 *   P trash/<algo>-<hex>               blobs garbage collection set aside (server/gc.c)
 * Nothing lives in process memory between requests, so any node can continue an upload
 * (the state cache below only saves re-reading a state S3 says is unchanged).
 * No blob is ever held whole in memory: parts are at most S3_PART_SIZE bytes, reads stream. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/curl_lazy.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "storage/driver.h"
#include "storage/s3_sigv4.h"

/* Bytes per multipart part (S3's minimum is 5 MiB for all but the last part). An upload
 * holds at most one part buffer in memory while a chunk is written; S3 allows 10000 parts,
 * so a chunked upload may reach about 78 GiB. */
#define S3_PART_SIZE (8u << 20)
#define S3_MAX_PARTS 10000
/* Largest single CopyObject S3 allows; bigger objects are copied as a multipart copy.
 * (tests/scaleout/s3_copy_check.c compiles this file with smaller values.) */
#ifndef S3_COPY_MAX
#define S3_COPY_MAX  (UINT64_C(5) << 30)
#define S3_COPY_PART (UINT64_C(1) << 30)
#endif
/* Cap on an XML or state answer read into memory (a ListObjectsV2 page is ~300 KiB). */
#define S3_MAX_RESPONSE (4u << 20)
/* Bytes a blob stream buffers between S3 and the HTTP client. */
#define S3_STREAM_BUF      (256u << 10)
#define S3_RETRIES         3
#define S3_TIMEOUT_CONNECT 10L
/* The upload state cache: slots (one state each, by a hash of the upload id) and the
 * largest state text kept (16 KiB: about 100 parts, an upload of 800 MiB; larger ones are
 * read in full each time). At most 16 MiB. */
#define S3_STATE_SLOTS     1024
#define S3_STATE_CACHE_MAX (16u << 10)
/* At most this many bytes of small writes to a blob's key are held in memory between their
 * end and their commit, in all; past it they are staged as a tail object instead. */
#ifndef S3_PENDING_BUDGET
#define S3_PENDING_BUDGET (UINT64_C(64) << 20)
#endif

/* The last state text of one upload this process wrote or read, with the ETag S3 gave it. */
struct s3_state_slot {
	char id[64]; /* "" when free */
	char etag[128];
	char *text;
	size_t len;
};

struct s3_pending;
struct s3_driver;
static void s3_pending_clear(struct s3_driver *s3);

/* Uploads whose staging objects wait for the janitor, at most; past it a commit deletes them
 * itself before answering, as it always did. */
#define S3_JANITOR_QUEUE 256

/* The staging objects of a committed upload (its state, tail, completed data: three or four
 * DELETEs, 5-15 ms on RGW) are removed after the commit has answered, by one thread per
 * driver started on first use. An upload id is never used again once committed, and what a
 * crash leaves is found by the expiry of uploads or a node's start-up sweep, as before. */
struct s3_janitor {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* an id was queued, or stopping was set */
	pthread_cond_t idle; /* the queue is empty and nothing is being deleted */
	char *ids[S3_JANITOR_QUEUE];
	size_t head, n;
	bool started, stopping, busy;
	pthread_t thread;
};

struct s3_driver {
	char *endpoint; /* without trailing '/' */
	char *host;     /* authority, as signed */
	char *bucket;
	char *prefix;
	char *access_key, *secret_key, *region;
	pthread_mutex_t lock; /* guards the handle pool */
	CURL *pool[16];
	size_t npool;
	/* A state read is a GET with If-None-Match: the cached ETag; an unchanged state comes
	 * back as a 304 without a body. A response with a body costs a TCP round trip more than
	 * one without, which on some gateways is a delayed ACK (40 ms on Ceph RGW's beast
	 * without tcp_nodelay): an upload reads its state several times per request. */
	pthread_mutex_t state_lock;
	struct s3_state_slot states[S3_STATE_SLOTS];
	struct s3_pending *pending; /* under state_lock: see s3_blob_writer_finish */
	uint64_t pending_bytes;     /* under state_lock: bytes held in pending writes' buffers */
	struct s3_janitor janitor;
};

/* A growing response buffer with a hard cap, or (fixed) the caller's buffer of cap bytes. */
struct s3_buf {
	char *data;
	size_t len, cap;
	bool overflow;
	bool fixed;
};

struct s3_req {
	const char *method;
	const char *key;   /* full object key, NULL for the bucket itself */
	const char *query; /* canonical query string, "" for none */
	const char *range; /* "bytes=A-B" or NULL */
	const char *copy_source;
	const char *copy_range;
	const char *if_none_match; /* an ETag, or NULL */
	const void *body;
	size_t body_len;
	char *into; /* if set: the answer body goes here (at most into_cap bytes), not to resp */
	size_t into_cap;
	/* answers */
	long status;
	struct s3_buf resp;
	char etag[128];
	uint64_t content_length;
	bool has_length;
};

static CURL *s3_handle_get(struct s3_driver *s3)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s3->lock);
	if (s3->npool > 0)
		h = s3->pool[--s3->npool];
	pthread_mutex_unlock(&s3->lock);
	if (h)
		curl_easy_reset(h);
	else if (!(h = curl_easy_init())) {
		log_error("s3: curl_easy_init failed");
		abort();
	}
	return h;
}

/* Give a handle back (keeping its connection alive for the next request). */
static void s3_handle_put(struct s3_driver *s3, CURL *h)
{
	pthread_mutex_lock(&s3->lock);
	if (s3->npool < sizeof s3->pool / sizeof s3->pool[0]) {
		s3->pool[s3->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s3->lock);
	if (h)
		curl_easy_cleanup(h);
}

static size_t s3_buf_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct s3_buf *b = ctx;
	size_t n = size * nmemb;
	if (b->fixed) {
		if (n > b->cap - b->len) {
			b->overflow = true;
			return 0;
		}
		memcpy(b->data + b->len, ptr, n);
		b->len += n;
		return n;
	}
	if (b->len + n > S3_MAX_RESPONSE) {
		b->overflow = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

struct s3_body {
	const char *data;
	size_t len, off;
};

static size_t s3_body_read(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct s3_body *b = ctx;
	size_t n = size * nmemb;
	if (n > b->len - b->off)
		n = b->len - b->off;
	memcpy(ptr, b->data + b->off, n);
	b->off += n;
	return n;
}

static size_t s3_header_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct s3_req *r = ctx;
	size_t n = size * nmemb;
	if (n > 5 && strncasecmp(ptr, "ETag:", 5) == 0) {
		const char *v = ptr + 5;
		size_t vl = n - 5;
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof r->etag)
			snprintf(r->etag, sizeof r->etag, "%.*s", (int)vl, v);
	}
	return n;
}

/* The value of the first <tag>...</tag> in xml after *from (NULL: from the start), XML
 * entities decoded; advances *from past it. Returns a heap string or NULL. */
static char *s3_xml_next(const char *xml, const char *tag, const char **from)
{
	char open[64], close[64];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *p = strstr(from && *from ? *from : xml, open);
	if (!p)
		return NULL;
	p += strlen(open);
	const char *e = strstr(p, close);
	if (!e)
		return NULL;
	if (from)
		*from = e + strlen(close);
	char *out = xmalloc((size_t)(e - p) + 1), *o = out;
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	while (p < e) {
		size_t i;
		for (i = 0; i < sizeof ents / sizeof ents[0]; i++)
			if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
				break;
		if (i < sizeof ents / sizeof ents[0]) {
			*o++ = ents[i].c;
			p += strlen(ents[i].ent);
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* A message for a failed request: S3's error code from the body when there is one. */
static int s3_fail(struct s3_req *r, const char *what, struct berr *err)
{
	cleanup_free char *code = r->resp.data && !r->resp.fixed ? s3_xml_next(r->resp.data, "Code", NULL) : NULL;
	enum berr_code bc = r->status == 503 || r->status == 0 ? BERR_UNAVAILABLE : BERR_INTERNAL;
	return berr_set(err, bc, "S3 %s: HTTP %ld%s%s", what, r->status, code ? " " : "", code ? code : "");
}

/* Set the URL, signature and body of one request on h. */
static void s3_prepare(struct s3_driver *s3, CURL *h, struct s3_req *r, struct curl_slist **hdrs, struct s3_body *body)
{
	cleanup_free char *keyenc = r->key ? sigv4_uri_encode(r->key, true) : NULL;
	cleanup_free char *path = keyenc ? xasprintf("/%s/%s", s3->bucket, keyenc) : xasprintf("/%s", s3->bucket);
	char payload[65];
	if (r->body_len > 0) {
		struct digest d;
		digest_buffer(DIGEST_SHA256, r->body, r->body_len, &d);
		snprintf(payload, sizeof payload, "%s", digest_hex(&d));
	} else {
		snprintf(payload, sizeof payload, "%s", SIGV4_EMPTY_SHA256);
	}
	char amzdate[17];
	sigv4_amz_date(time(NULL), amzdate);
	struct sigv4_header sh[6];
	size_t n = 0;
	sh[n++] = (struct sigv4_header){"host", s3->host};
	sh[n++] = (struct sigv4_header){"x-amz-content-sha256", payload};
	sh[n++] = (struct sigv4_header){"x-amz-date", amzdate};
	if (r->range)
		sh[n++] = (struct sigv4_header){"range", r->range};
	if (r->copy_source)
		sh[n++] = (struct sigv4_header){"x-amz-copy-source", r->copy_source};
	if (r->copy_range)
		sh[n++] = (struct sigv4_header){"x-amz-copy-source-range", r->copy_range};
	struct sigv4_creds c = {s3->access_key, s3->secret_key, s3->region, "s3"};
	char auth[512];
	sigv4_authorization(&c, r->method, path, r->query, sh, n, payload, amzdate, auth, sizeof auth);
	for (size_t i = 1; i < n; i++) {
		char line[1024];
		snprintf(line, sizeof line, "%s: %s", sh[i].name, sh[i].value);
		*hdrs = curl_slist_append(*hdrs, line);
	}
	char line[600];
	snprintf(line, sizeof line, "Authorization: %s", auth);
	*hdrs = curl_slist_append(*hdrs, line);
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (r->if_none_match) {
		snprintf(line, sizeof line, "If-None-Match: %.200s", r->if_none_match);
		*hdrs = curl_slist_append(*hdrs, line);
	}
	cleanup_free char *url = xasprintf("%s%s%s%s", s3->endpoint, path, *r->query ? "?" : "", r->query);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, S3_TIMEOUT_CONNECT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* A stalled store fails the request instead of hanging a worker thread forever. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(r->method, "PUT") == 0) {
		body->data = r->body;
		body->len = r->body_len;
		body->off = 0;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_body_read);
		curl_easy_setopt(h, CURLOPT_READDATA, body);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
}

/* At debug level, one line per request sent (method, key under the prefix, query, status,
 * time): how many requests an operation costs is read from it (docs/performance.md). */
static void s3_log_request(struct s3_driver *s3, CURL *h, const struct s3_req *r)
{
	if (!log_enabled(LOG_DEBUG))
		return;
	double secs = 0;
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs);
	const char *key = r->key ? r->key : "";
	size_t skip = strlen(s3->prefix);
	if (strncmp(key, s3->prefix, skip) == 0)
		key += skip;
	log_debug("s3: %s %s%s%.60s%s -> %ld in %.1f ms", r->copy_source ? "COPY" : r->method, *key ? key : "(bucket)",
	          *r->query ? "?" : "", r->query, strlen(r->query) > 60 ? "..." : "", r->status, secs * 1000);
}

/* Run one request to completion, its answer body in r->resp (capped). Transient failures
 * (no connection, 5xx) of idempotent requests are retried. Returns 0 with r->status set
 * (any status), or -1 with err when no answer came. */
static int s3_do(struct s3_driver *s3, struct s3_req *r, struct berr *err)
{
	bool idempotent = strcmp(r->method, "POST") != 0;
	CURLcode cc = CURLE_OK;
	for (int attempt = 0; attempt < S3_RETRIES; attempt++) {
		if (attempt > 0) {
			struct timespec ts = {0, 100000000L * attempt * attempt};
			nanosleep(&ts, NULL);
		}
		if (!r->resp.fixed)
			free(r->resp.data);
		memset(&r->resp, 0, sizeof r->resp);
		if (r->into) {
			r->resp.data = r->into;
			r->resp.cap = r->into_cap;
			r->resp.fixed = true;
		}
		r->etag[0] = '\0';
		r->status = 0;
		CURL *h = s3_handle_get(s3);
		struct curl_slist *hdrs = NULL;
		struct s3_body body;
		s3_prepare(s3, h, r, &hdrs, &body);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_buf_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->resp);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_header_cb);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
		cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		s3_log_request(s3, h, r);
		curl_off_t cl = -1;
		curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		r->has_length = cl >= 0;
		r->content_length = cl >= 0 ? (uint64_t)cl : 0;
		curl_slist_free_all(hdrs);
		s3_handle_put(s3, h);
		if (r->resp.overflow)
			return berr_set(err, BERR_INTERNAL, "S3 %s: answer larger than %zu bytes", r->method,
			                r->into ? r->into_cap : (size_t)S3_MAX_RESPONSE);
		if (cc == CURLE_OK && r->status < 500)
			return 0;
		if (!idempotent)
			break;
	}
	if (cc != CURLE_OK)
		return berr_set(err, BERR_UNAVAILABLE, "S3 %s %s: %s", r->method, r->key ? r->key : s3->bucket,
		                curl_easy_strerror(cc));
	return 0;
}

static void s3_req_free(struct s3_req *r)
{
	if (!r->resp.fixed)
		free(r->resp.data);
	r->resp.data = NULL;
}

static char *s3_blob_key(struct s3_driver *s3, const struct digest *d)
{
	const char *hex = digest_hex(d);
	return xasprintf("%sblobs/%s/%.2s/%s", s3->prefix, digest_algo_name(d->algo), hex, hex);
}

static char *s3_upload_key(struct s3_driver *s3, const char *id, const char *leaf)
{
	return xasprintf("%suploads/%s/%s", s3->prefix, id, leaf);
}

/* Whether r is S3's answer that the multipart upload it names does not exist (404 with
 * NoSuchUpload in the body). */
static bool s3_no_such_upload(const struct s3_req *r)
{
	if (r->status != 404 || !r->resp.data || r->resp.fixed)
		return false;
	cleanup_free char *code = s3_xml_next(r->resp.data, "Code", NULL);
	return code && strcmp(code, "NoSuchUpload") == 0;
}

/* After a request on multipart upload mp at key (full key) failed with answer r: whether
 * that multipart upload is gone for good, aborted behind the driver's back (by another node
 * opening a writer on the upload, a bucket lifecycle rule AbortIncompleteMultipartUpload, an
 * operator), its parts with it, so no retry can help. S3 says so with 404 NoSuchUpload;
 * Ceph RGW (16) answers a CompleteMultipartUpload of an unknown upload with 500
 * InternalError ("This multipart completion is already in progress"), which a transient
 * failure could give too, so any other S3 error is settled by asking: a ListParts that
 * answers 404 (NoSuchUpload on AWS, NoSuchKey on RGW) means gone. No answer (no connection)
 * is never taken for gone. */
static bool s3_mp_gone(struct s3_driver *s3, const char *key, const char *mp, const struct s3_req *r)
{
	if (s3_no_such_upload(r))
		return true;
	if (r->status == 0)
		return false;
	cleanup_free char *upenc = sigv4_uri_encode(mp, false);
	cleanup_free char *q = xasprintf("max-parts=1&uploadId=%s", upenc);
	struct s3_req l = {.method = "GET", .key = key, .query = q};
	bool gone = false;
	if (s3_do(s3, &l, NULL) == 0 && l.status == 404 && l.resp.data && !l.resp.fixed) {
		cleanup_free char *code = s3_xml_next(l.resp.data, "Code", NULL);
		gone = code && (strcmp(code, "NoSuchUpload") == 0 || strcmp(code, "NoSuchKey") == 0);
	}
	s3_req_free(&l);
	return gone;
}

/* After s3_mp_gone found the multipart upload of key gone: whether a completion went through
 * after all, its answer lost or wrong (key holds the size bytes it should): 1 yes, 0 no (the
 * upload is really gone), -1 the HEAD got no answer (so nothing is known: transient). */
static int s3_completed_anyway(struct s3_driver *s3, const char *key, uint64_t size);

/* The error of an upload whose multipart upload is gone (s3_mp_gone), found by request
 * `what`: the upload cannot be completed any more, so the caller ends it. */
static int s3_upload_gone(const char *id, const char *what, struct berr *err)
{
	return berr_set(err, BERR_BLOB_UPLOAD_INVALID,
	                "upload %s: the upload's data is gone from the object store (multipart upload aborted; "
	                "S3 %s: no such upload); push the blob again",
	                id, what);
}

/* A simple request on key: 0 for 2xx, 1 for 404, -1 with err otherwise. */
static int s3_simple(struct s3_driver *s3, const char *method, const char *key, const void *body, size_t len,
                     uint64_t *length, struct berr *err)
{
	struct s3_req r = {.method = method, .key = key, .query = "", .body = body, .body_len = len};
	int rc = s3_do(s3, &r, err);
	if (rc == 0) {
		if (r.status == 404)
			rc = 1;
		else if (r.status >= 300) {
			char what[64];
			snprintf(what, sizeof what, "%s %.40s", method, key);
			rc = s3_fail(&r, what, err);
		} else if (length)
			*length = r.content_length;
	}
	s3_req_free(&r);
	return rc;
}

/* Server-side copy of src to dst (both full keys) of `size` bytes: one CopyObject up to
 * 5 GiB, a multipart copy in 1 GiB parts beyond. Returns 0, 1 if src is gone, -1. */
static int s3_copy(struct s3_driver *s3, const char *src, const char *dst, uint64_t size, struct berr *err)
{
	cleanup_free char *srcenc = sigv4_uri_encode(src, true);
	cleanup_free char *source = xasprintf("/%s/%s", s3->bucket, srcenc);
	if (size <= S3_COPY_MAX) {
		struct s3_req r = {.method = "PUT", .key = dst, .query = "", .copy_source = source};
		int rc = s3_do(s3, &r, err);
		/* A copy can fail after its 200 has been sent: the error is then in the body. */
		if (rc == 0 && r.status == 404)
			rc = 1;
		else if (rc == 0 && (r.status >= 300 || !r.resp.data || strstr(r.resp.data, "<Error>")))
			rc = s3_fail(&r, "copy object", err);
		s3_req_free(&r);
		return rc;
	}
	struct s3_req c = {.method = "POST", .key = dst, .query = "uploads="};
	if (s3_do(s3, &c, err) < 0)
		return -1;
	cleanup_free char *upid = c.status == 200 && c.resp.data ? s3_xml_next(c.resp.data, "UploadId", NULL) : NULL;
	if (!upid) {
		int rc = s3_fail(&c, "create multipart copy", err);
		s3_req_free(&c);
		return rc;
	}
	s3_req_free(&c);
	cleanup_free char *upenc = sigv4_uri_encode(upid, false);
	size_t nparts = (size_t)((size + S3_COPY_PART - 1) / S3_COPY_PART);
	cleanup_free char *xml = xmalloc(nparts * 200 + 128);
	char *x = xml + sprintf(xml, "<CompleteMultipartUpload>");
	int rc = 0;
	for (size_t i = 0; i < nparts && rc == 0; i++) {
		uint64_t a = (uint64_t)i * S3_COPY_PART, b = a + S3_COPY_PART > size ? size - 1 : a + S3_COPY_PART - 1;
		char range[64];
		snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, a, b);
		cleanup_free char *q = xasprintf("partNumber=%zu&uploadId=%s", i + 1, upenc);
		struct s3_req p = {.method = "PUT", .key = dst, .query = q, .copy_source = source, .copy_range = range};
		rc = s3_do(s3, &p, err);
		cleanup_free char *etag =
		    rc == 0 && p.status == 200 && p.resp.data ? s3_xml_next(p.resp.data, "ETag", NULL) : NULL;
		if (rc == 0 && !etag)
			rc = s3_fail(&p, "copy part", err);
		else if (rc == 0)
			x += sprintf(x, "<Part><PartNumber>%zu</PartNumber><ETag>%.120s</ETag></Part>", i + 1, etag);
		s3_req_free(&p);
	}
	cleanup_free char *q = xasprintf("uploadId=%s", upenc);
	if (rc == 0) {
		x += sprintf(x, "</CompleteMultipartUpload>");
		struct s3_req f = {.method = "POST", .key = dst, .query = q, .body = xml, .body_len = strlen(xml)};
		rc = s3_do(s3, &f, err);
		if (rc == 0 && (f.status != 200 || !f.resp.data || strstr(f.resp.data, "<Error>")))
			rc = s3_fail(&f, "complete multipart copy", err);
		s3_req_free(&f);
	}
	if (rc < 0) {
		struct s3_req a = {.method = "DELETE", .key = dst, .query = q};
		s3_do(s3, &a, NULL);
		s3_req_free(&a);
	}
	return rc;
}

/* ListObjectsV2 over prefix; fn gets every key (delimiter NULL) or every common prefix
 * (delimiter "/"). Follows continuation tokens; fn returning non-zero stops. */
static int s3_list(struct s3_driver *s3, const char *prefix, const char *delimiter,
                   int (*fn)(void *ctx, const char *name), void *ctx, struct berr *err)
{
	cleanup_free char *token = NULL;
	cleanup_free char *pfx = sigv4_uri_encode(prefix, false);
	for (;;) {
		cleanup_free char *tok = token ? sigv4_uri_encode(token, false) : NULL;
		/* Canonical query: parameters sorted by name. */
		cleanup_free char *q =
		    xasprintf("%s%s%s%slist-type=2&max-keys=1000&prefix=%s", tok ? "continuation-token=" : "",
		              tok ? tok : "", tok ? "&" : "", delimiter ? "delimiter=%2F&" : "", pfx);
		struct s3_req r = {.method = "GET", .query = q};
		if (s3_do(s3, &r, err) < 0)
			return -1;
		if (r.status != 200 || !r.resp.data) {
			int rc = s3_fail(&r, "list objects", err);
			s3_req_free(&r);
			return rc;
		}
		char *item;
		int stop = 0;
		const char *tag = delimiter ? "Prefix" : "Key";
		/* Common prefixes come inside <CommonPrefixes>; the top-level <Prefix> echoes ours. */
		const char *at = delimiter ? strstr(r.resp.data, "<CommonPrefixes>") : r.resp.data;
		while (!stop && at && (item = s3_xml_next(r.resp.data, tag, &at))) {
			stop = fn(ctx, item);
			free(item);
		}
		free(token);
		cleanup_free char *trunc = s3_xml_next(r.resp.data, "IsTruncated", NULL);
		token = trunc && strcmp(trunc, "true") == 0 ? s3_xml_next(r.resp.data, "NextContinuationToken", NULL)
		                                            : NULL;
		s3_req_free(&r);
		if (stop || !token)
			return 0;
	}
}

/* ---------------------------------------------------------------- upload state */

struct s3_part {
	char etag[128];
};

struct s3_state {
	uint64_t size;
	uint64_t gen;
	char *mp;   /* multipart UploadId, NULL before the first part */
	char *key;  /* the key mp is at when it is not uploads/<id>/data (a blob's own key) */
	char *tail; /* key of the tail object, NULL when empty */
	uint64_t tail_size;
	char *hash; /* digest_ctx_export of the first `size` bytes */
	struct s3_part *parts;
	size_t nparts;
};

static void s3_state_free(struct s3_state *st)
{
	free(st->mp);
	free(st->key);
	free(st->tail);
	free(st->hash);
	free(st->parts);
	memset(st, 0, sizeof *st);
}

/* The cache slot of upload id (by a hash of the id; collisions replace each other). */
static struct s3_state_slot *s3_state_slot(struct s3_driver *s3, const char *id)
{
	unsigned h = 5381;
	for (const char *p = id; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return &s3->states[h % S3_STATE_SLOTS];
}

/* The cached state of id: its ETag into etag (etag_size bytes) and a heap copy of its text,
 * or NULL if none is cached. */
static char *s3_state_cached(struct s3_driver *s3, const char *id, char *etag, size_t etag_size, size_t *len)
{
	char *text = NULL;
	pthread_mutex_lock(&s3->state_lock);
	struct s3_state_slot *sl = s3_state_slot(s3, id);
	if (sl->text && strcmp(sl->id, id) == 0) {
		snprintf(etag, etag_size, "%s", sl->etag);
		text = xmalloc(sl->len + 1);
		memcpy(text, sl->text, sl->len + 1);
		*len = sl->len;
	}
	pthread_mutex_unlock(&s3->state_lock);
	return text;
}

/* Remember text (len bytes) as id's state with this ETag; text NULL or too large (or no
 * ETag) forgets what was cached for id. */
static void s3_state_remember(struct s3_driver *s3, const char *id, const char *etag, const char *text, size_t len)
{
	bool keep = text && etag && etag[0] && len <= S3_STATE_CACHE_MAX && strlen(id) < sizeof s3->states[0].id &&
	            strlen(etag) < sizeof s3->states[0].etag;
	pthread_mutex_lock(&s3->state_lock);
	struct s3_state_slot *sl = s3_state_slot(s3, id);
	if (keep) {
		free(sl->text);
		snprintf(sl->id, sizeof sl->id, "%s", id);
		snprintf(sl->etag, sizeof sl->etag, "%s", etag);
		sl->text = xmalloc(len + 1);
		memcpy(sl->text, text, len);
		sl->text[len] = '\0';
		sl->len = len;
	} else if (strcmp(sl->id, id) == 0) {
		free(sl->text);
		sl->text = NULL;
		sl->id[0] = '\0';
	}
	pthread_mutex_unlock(&s3->state_lock);
}

/* Parse a state object's text into st: 0, or -1 with err if it is malformed. */
static int s3_state_parse(const char *id, const char *text, size_t len, struct s3_state *st, struct berr *err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	json_t *parts = j ? json_object_get(j, "parts") : NULL;
	if (!j || !json_is_integer(json_object_get(j, "size")) || !json_is_array(parts) ||
	    json_array_size(parts) > S3_MAX_PARTS) {
		json_decref(j);
		return berr_set(err, BERR_INTERNAL, "upload %s: its state object is malformed", id);
	}
	st->size = (uint64_t)json_integer_value(json_object_get(j, "size"));
	st->gen = (uint64_t)json_integer_value(json_object_get(j, "gen"));
	st->tail_size = (uint64_t)json_integer_value(json_object_get(j, "tail_size"));
	const char *s;
	if ((s = json_string_value(json_object_get(j, "mp"))))
		st->mp = xstrdup(s);
	if ((s = json_string_value(json_object_get(j, "key"))))
		st->key = xstrdup(s);
	if ((s = json_string_value(json_object_get(j, "tail"))))
		st->tail = xstrdup(s);
	if ((s = json_string_value(json_object_get(j, "hash"))))
		st->hash = xstrdup(s);
	st->nparts = json_array_size(parts);
	st->parts = xcalloc(st->nparts + 1, sizeof *st->parts);
	bool ok = st->tail_size < S3_PART_SIZE && (st->tail != NULL) == (st->tail_size > 0) &&
	          st->size == (uint64_t)st->nparts * S3_PART_SIZE + st->tail_size && (st->nparts == 0 || st->mp);
	for (size_t i = 0; ok && i < st->nparts; i++) {
		const char *e = json_string_value(json_array_get(parts, i));
		ok = e && strlen(e) < sizeof st->parts[i].etag;
		if (ok)
			snprintf(st->parts[i].etag, sizeof st->parts[i].etag, "%s", e);
	}
	json_decref(j);
	if (!ok) {
		s3_state_free(st);
		return berr_set(err, BERR_INTERNAL, "upload %s: its state object is inconsistent", id);
	}
	return 0;
}

/* Read uploads/<id>/state: 0, or -1 with BERR_BLOB_UPLOAD_UNKNOWN if there is none. The GET
 * names the ETag of the cached copy, if any: S3 answers 304 (no body) when it is current. */
static int s3_state_load(struct s3_driver *s3, const char *id, struct s3_state *st, struct berr *err)
{
	memset(st, 0, sizeof *st);
	cleanup_free char *key = s3_upload_key(s3, id, "state");
	char etag[128];
	size_t cached_len = 0;
	cleanup_free char *cached = s3_state_cached(s3, id, etag, sizeof etag, &cached_len);
	struct s3_req r = {.method = "GET", .key = key, .query = "", .if_none_match = cached ? etag : NULL};
	if (s3_do(s3, &r, err) < 0)
		return -1;
	if (r.status == 404) {
		s3_req_free(&r);
		s3_state_remember(s3, id, NULL, NULL, 0);
		return berr_set(err, BERR_BLOB_UPLOAD_UNKNOWN, "upload %s has no data in the bucket", id);
	}
	if (r.status == 304 && cached) {
		s3_req_free(&r);
		return s3_state_parse(id, cached, cached_len, st, err);
	}
	if (r.status != 200) {
		int rc = s3_fail(&r, "read upload state", err);
		s3_req_free(&r);
		return rc;
	}
	const char *text = r.resp.data ? r.resp.data : "";
	int rc = s3_state_parse(id, text, r.resp.len, st, err);
	s3_state_remember(s3, id, rc == 0 ? r.etag : NULL, text, r.resp.len);
	s3_req_free(&r);
	return rc;
}

/* Write uploads/<id>/state: one PUT, so a reader sees the old state or the new one. */
static int s3_state_save(struct s3_driver *s3, const char *id, const struct s3_state *st, struct berr *err)
{
	json_t *parts = json_array();
	for (size_t i = 0; i < st->nparts; i++)
		json_array_append_new(parts, json_string(st->parts[i].etag));
	json_t *j = json_pack("{s:i, s:I, s:I, s:o, s:o, s:I, s:o, s:o}", "v", 1, "size", (json_int_t)st->size, "gen",
	                      (json_int_t)st->gen, "mp", st->mp ? json_string(st->mp) : json_null(), "tail",
	                      st->tail ? json_string(st->tail) : json_null(), "tail_size", (json_int_t)st->tail_size,
	                      "hash", st->hash ? json_string(st->hash) : json_null(), "parts", parts);
	if (st->key)
		json_object_set_new(j, "key", json_string(st->key));
	cleanup_free char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	cleanup_free char *key = s3_upload_key(s3, id, "state");
	size_t len = strlen(text);
	struct s3_req r = {.method = "PUT", .key = key, .query = "", .body = text, .body_len = len};
	int rc = s3_do(s3, &r, err);
	if (rc == 0 && r.status >= 300)
		rc = r.status == 404 ? berr_set(err, BERR_INTERNAL, "S3 PUT upload state: the bucket is gone")
		                     : s3_fail(&r, "write upload state", err);
	/* Whatever happened, what is cached must not be taken for the state any more unless
	 * this PUT is known to have stored it. */
	s3_state_remember(s3, id, rc == 0 ? r.etag : NULL, text, len);
	s3_req_free(&r);
	return rc;
}

/* ---------------------------------------------------------------- driver ops */

static void s3_janitor_stop(struct s3_driver *s3);

static void s3_close(void *drv)
{
	struct s3_driver *s3 = drv;
	s3_janitor_stop(s3);
	for (size_t i = 0; i < s3->npool; i++)
		curl_easy_cleanup(s3->pool[i]);
	pthread_mutex_destroy(&s3->lock);
	for (size_t i = 0; i < S3_STATE_SLOTS; i++)
		free(s3->states[i].text);
	s3_pending_clear(s3);
	pthread_mutex_destroy(&s3->state_lock);
	free(s3->endpoint);
	free(s3->host);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->access_key);
	free(s3->secret_key);
	free(s3->region);
	free(s3);
}

static int s3_stat(void *drv, const struct digest *d, uint64_t *size, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *key = s3_blob_key(s3, d);
	int rc = s3_simple(s3, "HEAD", key, NULL, 0, size, err);
	if (rc == 1)
		return berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not stored", d->str);
	return rc;
}

/* A blob being read: a GET on a curl multi handle, driven from blob_reader_read, paused
 * whenever the buffer is full so memory stays at S3_STREAM_BUF per reader. */
struct s3_stream {
	struct blob_stream base;
	struct s3_driver *s3;
	char *key;
	CURL *h;
	CURLM *multi;
	struct curl_slist *hdrs;
	uint64_t at; /* offset of the next byte the transfer delivers to the caller */
	char *buf;
	size_t len, off;
	bool paused, done, failed;
	long status;
	CURLcode cc;
};

static size_t s3_stream_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct s3_stream *st = ctx;
	size_t n = size * nmemb;
	if (st->status == 0)
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->status);
	if (st->status != 200 && st->status != 206) {
		st->failed = true;
		return 0;
	}
	if (st->off > 0 && st->off == st->len)
		st->off = st->len = 0;
	if (S3_STREAM_BUF - st->len < n) {
		st->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	memcpy(st->buf + st->len, ptr, n);
	st->len += n;
	return n;
}

static void s3_stream_stop(struct s3_stream *st)
{
	if (st->multi) {
		curl_multi_remove_handle(st->multi, st->h);
		curl_multi_cleanup(st->multi);
		curl_easy_cleanup(st->h);
		curl_slist_free_all(st->hdrs);
	}
	st->multi = NULL;
	st->h = NULL;
	st->hdrs = NULL;
	st->len = st->off = 0;
	st->paused = st->done = st->failed = false;
	st->status = 0;
}

static int s3_stream_start(struct s3_stream *st, uint64_t pos, uint64_t end, struct berr *err)
{
	s3_stream_stop(st);
	char range[64];
	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, pos, end - 1);
	struct s3_req r = {.method = "GET", .key = st->key, .query = "", .range = range};
	struct s3_body unused;
	st->h = curl_easy_init();
	st->multi = curl_multi_init();
	if (!st->h || !st->multi) {
		log_error("s3: curl init failed");
		abort();
	}
	s3_prepare(st->s3, st->h, &r, &st->hdrs, &unused);
	log_debug("s3: GET %s (streamed, %s)", st->key + strlen(st->s3->prefix), range);
	curl_easy_setopt(st->h, CURLOPT_WRITEFUNCTION, s3_stream_write);
	curl_easy_setopt(st->h, CURLOPT_WRITEDATA, st);
	if (curl_multi_add_handle(st->multi, st->h) != CURLM_OK)
		return berr_set(err, BERR_INTERNAL, "S3 GET: cannot start the transfer");
	st->at = pos;
	return 0;
}

static ssize_t s3_stream_read(struct blob_stream *bs, void *buf, size_t max, uint64_t pos, uint64_t end,
                              struct berr *err)
{
	struct s3_stream *st = (struct s3_stream *)bs;
	if (!st->multi || pos != st->at) {
		if (s3_stream_start(st, pos, end, err) < 0)
			return -1;
	}
	while (st->len == st->off && !st->done) {
		if (st->paused) {
			st->paused = false;
			st->off = st->len = 0;
			curl_easy_pause(st->h, CURLPAUSE_CONT);
		}
		int running = 0;
		if (curl_multi_perform(st->multi, &running) != CURLM_OK)
			return berr_set(err, BERR_INTERNAL, "S3 GET %s: transfer failed", st->key);
		int left;
		CURLMsg *m;
		while ((m = curl_multi_info_read(st->multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				st->done = true;
				st->cc = m->data.result;
			}
		if (st->len > st->off || st->done)
			break;
		if (running && !st->paused)
			curl_multi_poll(st->multi, NULL, 0, 1000, NULL);
	}
	if (st->len == st->off) {
		if (st->status == 0)
			curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->status);
		if (st->failed || (st->status != 200 && st->status != 206))
			return berr_set(err, st->status == 404 ? BERR_BLOB_UNKNOWN : BERR_INTERNAL,
			                "S3 GET %s: HTTP %ld", st->key, st->status);
		if (st->cc != CURLE_OK)
			return berr_set(err, BERR_UNAVAILABLE, "S3 GET %s: %s", st->key, curl_easy_strerror(st->cc));
		return berr_set(err, BERR_INTERNAL, "S3 GET %s: the object ended early", st->key);
	}
	size_t n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(buf, st->buf + st->off, n);
	st->off += n;
	st->at += n;
	return (ssize_t)n;
}

static void s3_stream_close(struct blob_stream *bs)
{
	struct s3_stream *st = (struct s3_stream *)bs;
	s3_stream_stop(st);
	free(st->key);
	free(st->buf);
	free(st);
}

static int s3_open_read(void *drv, const struct digest *d, struct blob_reader *out, struct berr *err)
{
	struct s3_driver *s3 = drv;
	uint64_t size;
	if (s3_stat(drv, d, &size, err) < 0)
		return -1;
	struct s3_stream *st = xcalloc(1, sizeof *st);
	st->base.read = s3_stream_read;
	st->base.close = s3_stream_close;
	st->s3 = s3;
	st->key = s3_blob_key(s3, d);
	st->buf = xmalloc(S3_STREAM_BUF);
	out->fd = -1;
	out->size = size;
	out->stream = &st->base;
	return 0;
}

static int s3_remove(void *drv, const struct digest *d, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *key = s3_blob_key(s3, d);
	return s3_simple(s3, "DELETE", key, NULL, 0, NULL, err) < 0 ? -1 : 0;
}

static int s3_upload_begin(void *drv, const char *id, struct berr *err)
{
	struct s3_state st = {0};
	return s3_state_save(drv, id, &st, err);
}

static int s3_upload_size(void *drv, const char *id, uint64_t *size, struct berr *err)
{
	struct s3_state st;
	if (s3_state_load(drv, id, &st, err) < 0)
		return -1;
	*size = st.size;
	s3_state_free(&st);
	return 0;
}

static int s3_upload_checkpoint(void *drv, const char *id, uint64_t *size, char **state, struct berr *err)
{
	struct s3_state st;
	if (s3_state_load(drv, id, &st, err) < 0)
		return -1;
	*size = st.size;
	int rc = 0;
	if (st.hash) {
		*state = st.hash;
		st.hash = NULL;
		rc = 1;
	} else if (st.size > 0) {
		rc = berr_set(err, BERR_INTERNAL, "upload %s: no digest state was saved with its data", id);
	}
	s3_state_free(&st);
	return rc;
}

struct s3_writer {
	struct blob_writer base;
	struct s3_driver *s3;
	char id[64];
	struct s3_state st;    /* as saved in the bucket */
	struct s3_part *fresh; /* parts sent by this writer, not yet in the saved state */
	size_t nfresh;
	char *buf; /* the part being filled: starts with the saved tail */
	size_t len;
	uint64_t written; /* bytes given to this writer */
	char *hash;
	/* Writing straight to the blob's own key (s3_upload_open_at_blob): expect is the digest
	 * the bytes must have, blob_key where they go. */
	bool at_blob;
	struct digest expect;
	char *blob_key;
	/* The chunk is probably the whole blob (s3_upload_open_early). */
	bool early;
};

/* Send the full buffer as the next part, starting the multipart upload if needed. */
static int s3_writer_flush_part(struct s3_writer *w, struct berr *err)
{
	struct s3_driver *s3 = w->s3;
	if (w->st.nparts + w->nfresh >= S3_MAX_PARTS)
		return berr_set(err, BERR_SIZE_INVALID, "upload %s: more than %u parts of %u MiB", w->id, S3_MAX_PARTS,
		                S3_PART_SIZE >> 20);
	cleanup_free char *key = w->at_blob ? xstrdup(w->blob_key) : s3_upload_key(s3, w->id, "data");
	if (!w->st.mp) {
		struct s3_req c = {.method = "POST", .key = key, .query = "uploads="};
		if (s3_do(s3, &c, err) < 0)
			return -1;
		char *upid = c.status == 200 && c.resp.data ? s3_xml_next(c.resp.data, "UploadId", NULL) : NULL;
		if (!upid) {
			int rc = s3_fail(&c, "create multipart upload", err);
			s3_req_free(&c);
			return rc;
		}
		s3_req_free(&c);
		/* Record it (and where it is) at once, so an abort finds it even if this chunk
		 * fails or this process dies. */
		w->st.mp = upid;
		w->st.key = w->at_blob ? xstrdup(key) : NULL;
		if (s3_state_save(s3, w->id, &w->st, err) < 0)
			return -1;
	}
	cleanup_free char *upenc = sigv4_uri_encode(w->st.mp, false);
	cleanup_free char *q = xasprintf("partNumber=%zu&uploadId=%s", w->st.nparts + w->nfresh + 1, upenc);
	struct s3_req p = {.method = "PUT", .key = key, .query = q, .body = w->buf, .body_len = w->len};
	if (s3_do(s3, &p, err) < 0)
		return -1;
	if (p.status != 200 || !p.etag[0]) {
		int rc = s3_mp_gone(s3, key, w->st.mp, &p) ? s3_upload_gone(w->id, "upload part", err)
		                                           : s3_fail(&p, "upload part", err);
		s3_req_free(&p);
		return rc;
	}
	w->fresh = xrealloc(w->fresh, (w->nfresh + 1) * sizeof *w->fresh);
	snprintf(w->fresh[w->nfresh++].etag, sizeof w->fresh[0].etag, "%s", p.etag);
	s3_req_free(&p);
	w->len = 0;
	return 0;
}

static int s3_writer_write(struct blob_writer *bw, const void *data, size_t len, struct berr *err)
{
	struct s3_writer *w = (struct s3_writer *)bw;
	const char *p = data;
	while (len > 0) {
		size_t n = S3_PART_SIZE - w->len < len ? S3_PART_SIZE - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		w->written += n;
		p += n;
		len -= n;
		if (w->len == S3_PART_SIZE && s3_writer_flush_part(w, err) < 0)
			return -1;
	}
	return 0;
}

static void s3_writer_checkpoint(struct blob_writer *bw, const char *state)
{
	struct s3_writer *w = (struct s3_writer *)bw;
	free(w->hash);
	w->hash = xstrdup(state);
}

static void s3_writer_free(struct s3_writer *w)
{
	free(w->blob_key);
	s3_state_free(&w->st);
	free(w->fresh);
	free(w->buf);
	free(w->hash);
	free(w);
}

/* keep: save the unfinished part as a new tail object, then the new state in one PUT (the
 * commit point of the chunk), then drop the old tail. Not keeping saves nothing: parts
 * this writer sent are overwritten by the next chunk or dropped by the abort. */
static int s3_blob_writer_finish(struct s3_writer *w, bool keep, struct berr *err);

/* An upload that started empty and whose first chunk, kept and fitting in one part, is
 * probably all of it (a PATCH without Content-Range, as docker, podman and skopeo send): its
 * bytes are in the buffer and their digest in the state, so they are also PUT at the blob
 * key of that digest. The commit then finds the blob in place (one HEAD) instead of copying
 * the tail there, which costs more than this PUT. Content-addressed, so the object is right
 * whatever comes next; if the client sends more, or never commits, it is an object without
 * a metadata row, which garbage collection removes; if garbage collection removes it before
 * the commit, the commit copies the tail as before. A failure here only loses the shortcut. */
static void s3_writer_early_blob(struct s3_writer *w)
{
	struct berr e2 = {0};
	struct digest_ctx *ctx = digest_ctx_import(w->st.hash, &e2);
	if (!ctx || digest_ctx_length(ctx) != w->len) {
		digest_ctx_free(ctx);
		return;
	}
	struct digest d;
	digest_ctx_final(ctx, &d);
	digest_ctx_free(ctx);
	cleanup_free char *key = s3_blob_key(w->s3, &d);
	if (s3_simple(w->s3, "PUT", key, w->buf, w->len, NULL, &e2) != 0)
		log_debug("s3: upload %s: no early copy at %s: %s", w->id, d.str, e2.message);
}

static int s3_writer_finish(struct blob_writer *bw, bool keep, struct berr *err)
{
	struct s3_writer *w = (struct s3_writer *)bw;
	struct s3_driver *s3 = w->s3;
	if (w->at_blob)
		return s3_blob_writer_finish(w, keep, err);
	/* An empty chunk changes nothing: the saved state already covers these bytes. */
	if (!keep || w->written == 0) {
		s3_writer_free(w);
		return 0;
	}
	int rc = 0;
	cleanup_free char *old_tail = w->st.tail;
	w->st.tail = NULL;
	w->st.gen++;
	if (w->len > 0) {
		char leaf[64];
		snprintf(leaf, sizeof leaf, "tail-%" PRIu64, w->st.gen);
		w->st.tail = s3_upload_key(s3, w->id, leaf);
		rc = s3_simple(s3, "PUT", w->st.tail, w->buf, w->len, NULL, err);
		if (rc == 1)
			rc = berr_set(err, BERR_INTERNAL, "S3 PUT upload tail: the bucket is gone");
	}
	if (rc == 0) {
		w->st.parts = xrealloc(w->st.parts, (w->st.nparts + w->nfresh + 1) * sizeof *w->st.parts);
		if (w->nfresh > 0) /* fresh is NULL then: memcpy wants a pointer even for 0 bytes */
			memcpy(w->st.parts + w->st.nparts, w->fresh, w->nfresh * sizeof *w->fresh);
		w->st.nparts += w->nfresh;
		w->st.tail_size = w->len;
		w->st.size += w->written;
		free(w->st.hash);
		w->st.hash = w->hash;
		w->hash = NULL;
		rc = s3_state_save(s3, w->id, &w->st, err);
	}
	struct berr e2 = {0};
	if (rc == 0 && old_tail && s3_simple(s3, "DELETE", old_tail, NULL, 0, NULL, &e2) < 0)
		log_warn("s3: upload %s: the previous tail %s stays behind until the upload is cancelled or "
		         "expires, or after its commit until a start-up sweep: %s",
		         w->id, old_tail, e2.message);
	if (rc == 0 && w->early && w->st.nparts == 0 && w->st.size == w->len && w->st.hash)
		s3_writer_early_blob(w);
	s3_writer_free(w);
	return rc;
}

/* Read the whole tail object (under S3_PART_SIZE) straight into buf; its length must be
 * `size`. */
static int s3_read_tail(struct s3_driver *s3, const char *key, uint64_t size, char *buf, struct berr *err)
{
	struct s3_req r = {.method = "GET", .key = key, .query = "", .into = buf, .into_cap = S3_PART_SIZE};
	if (s3_do(s3, &r, err) < 0)
		return -1;
	int rc = 0;
	if (r.status != 200)
		rc = s3_fail(&r, "read upload tail", err);
	else if (r.resp.len != size)
		rc = berr_set(err, BERR_INTERNAL, "upload tail %s has %zu bytes, not %" PRIu64, key, r.resp.len, size);
	s3_req_free(&r);
	return rc;
}

/* Abort multipart upload mp at key (full key); one that is gone already is no error. */
static int s3_mp_abort(struct s3_driver *s3, const char *key, const char *mp, struct berr *err)
{
	cleanup_free char *upenc = sigv4_uri_encode(mp, false);
	cleanup_free char *q = xasprintf("uploadId=%s", upenc);
	struct s3_req a = {.method = "DELETE", .key = key, .query = q};
	int rc = s3_do(s3, &a, err);
	/* 404 NoSuchUpload: completed or aborted already. */
	if (rc == 0 && a.status >= 300 && a.status != 404)
		rc = s3_fail(&a, "abort multipart upload", err);
	s3_req_free(&a);
	return rc;
}

/* A multipart upload the state records without any part in it (its chunk failed, or a
 * write to the blob's own key was cut off) is aborted before a writer starts another. */
static int s3_drop_unused_mp(struct s3_driver *s3, const char *id, struct s3_state *st, struct berr *err)
{
	if (!st->mp || st->nparts > 0)
		return 0;
	cleanup_free char *data_key = s3_upload_key(s3, id, "data");
	if (s3_mp_abort(s3, st->key ? st->key : data_key, st->mp, err) < 0)
		return -1;
	free(st->mp);
	free(st->key);
	st->mp = st->key = NULL;
	return 0;
}

/* ---------------------------------------------------------------- writes to a blob's key
 *
 * An upload whose digest is known before its body (POST ?digest=, or a PUT ?digest= with
 * the body on an empty upload) is written straight to the blob's own key, so committing it
 * needs no copy:
 *   - up to S3_PART_SIZE bytes stay in the writer's buffer: once the digest and size are
 *     verified, prepare (outside the metadata's write lock) PUTs them to the blob key, and
 *     the commit (under the lock) HEADs it and PUTs them again if garbage collection took
 *     the object away in between: the bytes are in memory until the blob is recorded;
 *   - larger ones are a multipart upload at the blob key, recorded in the upload's state
 *     (mp, key) as soon as it starts so that an abort, expiry or the start-up sweep finds
 *     it; nothing is visible at the key until CompleteMultipartUpload, which the commit
 *     sends under the write lock after the digest was verified (a wrong digest, or a client
 *     that goes away, aborts it instead). Garbage collection, which removes objects without
 *     a metadata row only under that lock, can never see such a blob before its row.
 * Between the writer's finish and the commit, what is left to do waits in s3->pending. */
struct s3_pending {
	char id[64];
	struct digest d;
	uint64_t size, gen;
	char *buf; /* the bytes (small), or NULL; counted in s3->pending_bytes */
	size_t len;
	char *hash; /* digest_ctx_export of the bytes (small) */
	char *mp;   /* the multipart upload (large), or NULL */
	struct s3_part *parts;
	size_t nparts;
	bool completed; /* under s3->state_lock */
	/* References (under s3->state_lock): one for s3->pending while linked, one for each
	 * request using it (s3_pending_get), so a cancel racing a commit frees nothing in use. */
	unsigned refs;
	struct s3_pending *next;
};

/* Free p and what it holds (the caller has the last reference). */
static void s3_pending_free(struct s3_pending *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p->hash);
	free(p->mp);
	free(p->parts);
	free(p);
}

/* Free every pending write (at close). */
static void s3_pending_clear(struct s3_driver *s3)
{
	while (s3->pending) {
		struct s3_pending *p = s3->pending;
		s3->pending = p->next;
		s3_pending_free(p);
	}
}

/* The pending write of upload id with a reference for the caller (NULL if none); take
 * also unlinks it (the caller gets the list's reference). Release with s3_pending_put. */
static struct s3_pending *s3_pending_get(struct s3_driver *s3, const char *id, bool take)
{
	pthread_mutex_lock(&s3->state_lock);
	struct s3_pending **pp = &s3->pending;
	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	struct s3_pending *p = *pp;
	if (p && take)
		*pp = p->next;
	else if (p)
		p->refs++;
	pthread_mutex_unlock(&s3->state_lock);
	return p;
}

/* Drop a reference from s3_pending_get; the last one frees it. */
static void s3_pending_put(struct s3_driver *s3, struct s3_pending *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&s3->state_lock);
	bool last = --p->refs == 0;
	if (last)
		s3->pending_bytes -= p->len;
	pthread_mutex_unlock(&s3->state_lock);
	if (last)
		s3_pending_free(p);
}

/* Link p (taken with s3_pending_get) back into s3->pending. */
static void s3_pending_relink(struct s3_driver *s3, struct s3_pending *p)
{
	pthread_mutex_lock(&s3->state_lock);
	p->next = s3->pending;
	s3->pending = p;
	pthread_mutex_unlock(&s3->state_lock);
}

/* Unlink p (the caller holds a reference from s3_pending_get) from s3->pending if it is
 * still there, dropping the list's reference. */
static void s3_pending_unlink(struct s3_driver *s3, struct s3_pending *p)
{
	pthread_mutex_lock(&s3->state_lock);
	struct s3_pending **pp = &s3->pending;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	bool linked = *pp == p;
	if (linked) {
		*pp = p->next;
		p->refs--;
	}
	pthread_mutex_unlock(&s3->state_lock);
}

/* Count len more bytes held back, unless that goes over S3_PENDING_BUDGET (false). */
static bool s3_pending_budget(struct s3_driver *s3, size_t len)
{
	pthread_mutex_lock(&s3->state_lock);
	bool ok = s3->pending_bytes + len <= S3_PENDING_BUDGET;
	if (ok)
		s3->pending_bytes += len;
	pthread_mutex_unlock(&s3->state_lock);
	return ok;
}

/* Whether p's multipart upload was completed (by a commit on another thread, maybe). */
static bool s3_pending_completed(struct s3_driver *s3, struct s3_pending *p)
{
	pthread_mutex_lock(&s3->state_lock);
	bool done = p->completed;
	pthread_mutex_unlock(&s3->state_lock);
	return done;
}

/* keep=false, or bytes that are not what was announced: the multipart upload is aborted,
 * nothing reaches the blob key. keep=true with the right digest and size: the last part is
 * sent (large) and the rest waits in s3->pending for prepare and commit. */
static int s3_blob_writer_finish(struct s3_writer *w, bool keep, struct berr *err)
{
	struct s3_driver *s3 = w->s3;
	int rc = 0;
	if (keep) {
		struct berr e2 = {0};
		struct digest got;
		struct digest_ctx *ctx = w->hash ? digest_ctx_import(w->hash, &e2) : NULL;
		if (!ctx)
			rc = berr_set(err, BERR_INTERNAL, "upload %s: no digest state came with its bytes%s%s", w->id,
			              e2.message[0] ? ": " : "", e2.message);
		else if (digest_ctx_length(ctx) != w->written || digest_ctx_algo(ctx) != w->expect.algo)
			rc = berr_set(err, BERR_INTERNAL,
			              "upload %s: the digest state covers other bytes than were written", w->id);
		if (ctx) {
			digest_ctx_final(ctx, &got);
			digest_ctx_free(ctx);
		}
		if (rc == 0 && !digest_equal(&got, &w->expect))
			rc = berr_set(err, BERR_DIGEST_INVALID, "the uploaded content has digest %s, not %s", got.str,
			              w->expect.str);
		if (rc == 0 && w->nfresh > 0 && w->len > 0)
			rc = s3_writer_flush_part(w, err);
	}
	if (keep && rc == 0 && w->nfresh == 0 && !s3_pending_budget(s3, w->len)) {
		/* Too much held back already: staged as a tail, as a chunk of the normal path
		 * would be (verified, with its digest state), and committed by a copy. */
		log_debug("s3: upload %s: %zu bytes staged as a tail, over the %" PRIu64 " bytes held back", w->id,
		          w->len, (uint64_t)S3_PENDING_BUDGET);
		w->at_blob = false;
		return s3_writer_finish(&w->base, true, err);
	}
	if (keep && rc == 0) {
		struct s3_pending *p = xcalloc(1, sizeof *p);
		snprintf(p->id, sizeof p->id, "%s", w->id);
		p->d = w->expect;
		p->size = w->written;
		p->gen = w->st.gen;
		if (w->nfresh > 0) {
			p->mp = w->st.mp;
			w->st.mp = NULL;
			p->parts = w->fresh;
			p->nparts = w->nfresh;
			w->fresh = NULL;
		} else {
			/* Counted by s3_pending_budget above; only its length is kept. */
			p->buf = xrealloc(w->buf, w->len ? w->len : 1);
			p->len = w->len;
			w->buf = NULL;
			p->hash = w->hash;
			w->hash = NULL;
		}
		p->refs = 1;
		pthread_mutex_lock(&s3->state_lock);
		p->next = s3->pending;
		s3->pending = p;
		pthread_mutex_unlock(&s3->state_lock);
	} else if (w->st.mp) {
		/* Keep the first error; the upload's abort tries again if this one fails. */
		s3_mp_abort(s3, w->blob_key, w->st.mp, NULL);
	}
	s3_writer_free(w);
	return rc;
}

/* Forget the pending write of upload id, if any, aborting its multipart upload unless a
 * commit completed it. */
static void s3_pending_drop(struct s3_driver *s3, const char *id)
{
	struct s3_pending *p = s3_pending_get(s3, id, true);
	if (p && p->mp && !s3_pending_completed(s3, p)) {
		cleanup_free char *key = s3_blob_key(s3, &p->d);
		s3_mp_abort(s3, key, p->mp, NULL);
	}
	s3_pending_put(s3, p);
}

/* Open a writer to blob d's own key for upload id, which must be empty. */
static int s3_upload_open_at_blob(void *drv, const char *id, const struct digest *d, struct blob_writer **out,
                                  struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_writer *w = xcalloc(1, sizeof *w);
	w->base.write = s3_writer_write;
	w->base.finish = s3_writer_finish;
	w->base.checkpoint = s3_writer_checkpoint;
	w->s3 = s3;
	w->at_blob = true;
	w->expect = *d;
	w->blob_key = s3_blob_key(s3, d);
	snprintf(w->id, sizeof w->id, "%s", id);
	if (s3_state_load(s3, id, &w->st, err) < 0) {
		s3_writer_free(w);
		return -1;
	}
	if (w->st.size != 0) {
		berr_set(err, BERR_RANGE_INVALID, "upload %s already has %" PRIu64 " bytes", id, w->st.size);
		s3_writer_free(w);
		return -1;
	}
	if (s3_drop_unused_mp(s3, id, &w->st, err) < 0) {
		s3_writer_free(w);
		return -1;
	}
	/* An earlier attempt of this upload on this node that was never committed. */
	s3_pending_drop(s3, id);
	w->buf = xmalloc(S3_PART_SIZE);
	*out = &w->base;
	return 0;
}

/* The commit of a pending write to a blob key (see above); under_lock: the commit proper,
 * else prepare. */
static int s3_pending_commit(struct s3_driver *s3, struct s3_pending *p, const struct digest *d, uint64_t size,
                             bool under_lock, struct berr *err)
{
	if (!digest_equal(d, &p->d))
		return berr_set(err, BERR_DIGEST_INVALID, "upload %s was written as %s, not %s", p->id, p->d.str,
		                d->str);
	if (size != p->size)
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID,
		                "upload %s was written with %" PRIu64 " bytes, not %" PRIu64, p->id, p->size, size);
	cleanup_free char *key = s3_blob_key(s3, d);
	if (p->mp && !under_lock)
		return 0;
	uint64_t have = 0;
	int rc = s3_simple(s3, "HEAD", key, NULL, 0, &have, err);
	if (rc < 0)
		return -1;
	/* Content-addressed: a blob of this digest and size is these bytes already. */
	if (rc == 0 && have == p->size)
		return 0;
	/* Its multipart upload was completed by an earlier commit whose metadata failed, and the
	 * object went since (garbage collection: it had no row): the parts are gone with it. */
	if (p->mp && s3_pending_completed(s3, p))
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID,
		                "upload %s: the blob it wrote is gone from the bucket; upload it again", p->id);
	if (p->buf) {
		rc = s3_simple(s3, "PUT", key, p->buf, p->len, NULL, err);
		return rc == 1 ? berr_set(err, BERR_INTERNAL, "S3 PUT blob: the bucket is gone") : rc;
	}
	cleanup_free char *upenc = sigv4_uri_encode(p->mp, false);
	cleanup_free char *xml = xmalloc(p->nparts * 200 + 128);
	char *x = xml + sprintf(xml, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < p->nparts; i++)
		x += sprintf(x, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1, p->parts[i].etag);
	sprintf(x, "</CompleteMultipartUpload>");
	cleanup_free char *q = xasprintf("uploadId=%s", upenc);
	struct s3_req f = {.method = "POST", .key = key, .query = q, .body = xml, .body_len = strlen(xml)};
	rc = s3_do(s3, &f, err);
	bool failed = rc == 0 && (f.status != 200 || !f.resp.data || strstr(f.resp.data, "<Error>"));
	bool gone = failed && s3_mp_gone(s3, key, p->mp, &f);
	/* Gone because a completion that succeeded although its answer said otherwise made it
	 * the blob: then the blob is in place. */
	if (gone) {
		int done = s3_completed_anyway(s3, key, p->size);
		if (done != 0)
			gone = false;
		if (done == 1)
			failed = false;
	}
	if (failed)
		rc = gone ? s3_upload_gone(p->id, "complete multipart upload", err)
		          : s3_fail(&f, "complete multipart upload", err);
	s3_req_free(&f);
	/* Nothing is left to complete: what is held for the commit goes, so no later call
	 * tries again (the caller ends the upload, which deletes its state). */
	if (gone)
		s3_pending_unlink(s3, p);
	if (rc == 0) {
		pthread_mutex_lock(&s3->state_lock);
		p->completed = true;
		pthread_mutex_unlock(&s3->state_lock);
	}
	return rc;
}

/* Drop what a pending write to a blob key left: its multipart upload unless completed, the
 * upload's state object and the one tail a failed chunk may have left before. */
static int s3_pending_end(struct s3_driver *s3, struct s3_pending *p, struct berr *err)
{
	cleanup_free char *key = s3_blob_key(s3, &p->d);
	int rc = p->mp && !s3_pending_completed(s3, p) ? s3_mp_abort(s3, key, p->mp, err) : 0;
	char leaf[64];
	snprintf(leaf, sizeof leaf, "tail-%" PRIu64, p->gen + 1);
	cleanup_free char *next_tail = s3_upload_key(s3, p->id, leaf);
	cleanup_free char *state_key = s3_upload_key(s3, p->id, "state");
	if (rc == 0 && p->gen > 0 && s3_simple(s3, "DELETE", next_tail, NULL, 0, NULL, err) < 0)
		rc = -1;
	if (rc == 0 && s3_simple(s3, "DELETE", state_key, NULL, 0, NULL, err) < 0)
		rc = -1;
	s3_state_remember(s3, p->id, NULL, NULL, 0);
	return rc;
}

static int s3_upload_open(void *drv, const char *id, uint64_t offset, struct blob_writer **out, struct berr *err);

/* upload_open at 0 for a chunk that is probably the whole blob (s3_writer_early_blob). */
static int s3_upload_open_early(void *drv, const char *id, struct blob_writer **out, struct berr *err)
{
	if (s3_upload_open(drv, id, 0, out, err) < 0)
		return -1;
	((struct s3_writer *)*out)->early = true;
	return 0;
}

static int s3_upload_open(void *drv, const char *id, uint64_t offset, struct blob_writer **out, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_writer *w = xcalloc(1, sizeof *w);
	w->base.write = s3_writer_write;
	w->base.finish = s3_writer_finish;
	w->base.checkpoint = s3_writer_checkpoint;
	w->s3 = s3;
	snprintf(w->id, sizeof w->id, "%s", id);
	if (s3_state_load(s3, id, &w->st, err) < 0) {
		free(w);
		return -1;
	}
	if (w->st.size != offset) {
		berr_set(err, BERR_RANGE_INVALID, "upload %s: chunk must start at byte %" PRIu64, id, w->st.size);
		s3_writer_free(w);
		return -1;
	}
	/* A write to the blob's key of this upload kept after a failed commit is not what the
	 * upload holds any more once it goes on by the normal path. */
	s3_pending_drop(s3, id);
	/* A write to the blob's own key that was cut off may have left one at that key. */
	if (w->st.key && s3_drop_unused_mp(s3, id, &w->st, err) < 0) {
		s3_writer_free(w);
		return -1;
	}
	w->buf = xmalloc(S3_PART_SIZE);
	if (w->st.tail && s3_read_tail(s3, w->st.tail, w->st.tail_size, w->buf, err) < 0) {
		s3_writer_free(w);
		return -1;
	}
	w->len = (size_t)w->st.tail_size;
	*out = &w->base;
	return 0;
}

static ssize_t s3_upload_pread(void *drv, const char *id, void *buf, size_t len, uint64_t offset, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_state st;
	if (s3_state_load(s3, id, &st, err) < 0)
		return -1;
	uint64_t parts_end = st.size - st.tail_size;
	ssize_t rc;
	if (offset >= st.size) {
		rc = 0;
	} else if (offset < parts_end) {
		rc = berr_set(
		    err, BERR_UNSUPPORTED,
		    "upload %s: bytes already sent to S3 as multipart parts cannot be read back before the upload "
		    "completes (finish it with the digest algorithm it was started with)",
		    id);
	} else {
		uint64_t want = st.size - offset < len ? st.size - offset : len;
		char range[64];
		snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset - parts_end,
		         offset - parts_end + want - 1);
		struct s3_req r = {.method = "GET",
		                   .key = st.tail,
		                   .query = "",
		                   .range = range,
		                   .into = buf,
		                   .into_cap = (size_t)want};
		rc = s3_do(s3, &r, err);
		if (rc == 0 && (r.status != 206 && r.status != 200))
			rc = s3_fail(&r, "read upload tail", err);
		else if (rc == 0 && r.resp.len != want)
			rc = berr_set(err, BERR_INTERNAL, "upload %s: short read of its tail", id);
		else if (rc == 0)
			rc = (ssize_t)want;
		s3_req_free(&r);
	}
	s3_state_free(&st);
	return rc;
}

/* Complete the multipart upload (the tail copied in as its last part) into uploads/<id>/data. */
static int s3_complete(struct s3_driver *s3, const char *id, struct s3_state *st, const char *data_key,
                       struct berr *err)
{
	cleanup_free char *upenc = sigv4_uri_encode(st->mp, false);
	size_t n = st->nparts;
	cleanup_free char *last_etag = NULL;
	if (st->tail) {
		cleanup_free char *tailenc = sigv4_uri_encode(st->tail, true);
		cleanup_free char *source = xasprintf("/%s/%s", s3->bucket, tailenc);
		cleanup_free char *q = xasprintf("partNumber=%zu&uploadId=%s", n + 1, upenc);
		struct s3_req p = {.method = "PUT", .key = data_key, .query = q, .copy_source = source};
		if (s3_do(s3, &p, err) < 0)
			return -1;
		last_etag = p.status == 200 && p.resp.data ? s3_xml_next(p.resp.data, "ETag", NULL) : NULL;
		if (!last_etag) {
			/* Gone, or completed by an earlier attempt whose answer was lost (RGW then answers
			 * the copy with NoSuchUpload): the object is in place and nothing is left to do. */
			int done =
			    s3_mp_gone(s3, data_key, st->mp, &p) ? s3_completed_anyway(s3, data_key, st->size) : -1;
			int rc = done == 1   ? 0
			         : done == 0 ? s3_upload_gone(id, "copy upload tail into the last part", err)
			                     : s3_fail(&p, "copy upload tail into the last part", err);
			s3_req_free(&p);
			return rc;
		}
		s3_req_free(&p);
	}
	cleanup_free char *xml = xmalloc((n + 1) * 200 + 128);
	char *x = xml + sprintf(xml, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < n; i++)
		x += sprintf(x, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1, st->parts[i].etag);
	if (last_etag)
		x += sprintf(x, "<Part><PartNumber>%zu</PartNumber><ETag>%.120s</ETag></Part>", n + 1, last_etag);
	sprintf(x, "</CompleteMultipartUpload>");
	cleanup_free char *q = xasprintf("uploadId=%s", upenc);
	struct s3_req f = {.method = "POST", .key = data_key, .query = q, .body = xml, .body_len = strlen(xml)};
	int rc = s3_do(s3, &f, err);
	bool failed = rc == 0 && (f.status != 200 || !f.resp.data || strstr(f.resp.data, "<Error>"));
	bool gone = failed && s3_mp_gone(s3, data_key, st->mp, &f);
	/* Gone because a completion that succeeded although its answer said otherwise made it
	 * the object: then it is in place. */
	if (gone) {
		int done = s3_completed_anyway(s3, data_key, st->size);
		if (done != 0)
			gone = false;
		if (done == 1)
			failed = false;
	}
	if (failed)
		rc = gone ? s3_upload_gone(id, "complete multipart upload", err)
		          : s3_fail(&f, "complete multipart upload", err);
	s3_req_free(&f);
	return rc;
}

static int s3_completed_anyway(struct s3_driver *s3, const char *key, uint64_t size)
{
	uint64_t have = 0;
	int there = s3_simple(s3, "HEAD", key, NULL, 0, &have, NULL);
	if (there < 0)
		return -1;
	return there == 0 && have == size;
}

/* Whether d is the digest of no bytes. */
static bool s3_digest_is_empty(const struct digest *d)
{
	struct digest e;
	struct digest_ctx *ctx = digest_ctx_new(d->algo);
	digest_ctx_final(ctx, &e);
	digest_ctx_free(ctx);
	return digest_equal(&e, d);
}

static int s3_upload_commit(void *drv, const char *id, const struct digest *d, uint64_t size, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_pending *p = s3_pending_get(s3, id, false);
	if (p) {
		int rc = s3_pending_commit(s3, p, d, size, true, err);
		s3_pending_put(s3, p);
		return rc;
	}
	struct s3_state st;
	if (s3_state_load(s3, id, &st, err) < 0)
		return -1;
	/* The state must describe exactly the bytes the caller verified: a write to the blob's
	 * key whose held-back bytes are gone (its upload cancelled meanwhile, this process not
	 * the one that received it) leaves a state of 0 bytes, and nothing else may reach d. */
	if (st.size != size) {
		berr_set(err, BERR_BLOB_UPLOAD_INVALID,
		         "upload %s has %" PRIu64 " bytes staged, not the %" PRIu64 " bytes of %s; upload it again", id,
		         st.size, size, d->str);
		s3_state_free(&st);
		return -1;
	}
	cleanup_free char *dst = s3_blob_key(s3, d);
	uint64_t have;
	int rc = s3_simple(s3, "HEAD", dst, NULL, 0, &have, err);
	if (rc == 0 && have == st.size) {
		/* Content-addressed: a blob of this digest and size is this content already. */
		s3_state_free(&st);
		return 0;
	}
	if (rc < 0) {
		s3_state_free(&st);
		return -1;
	}
	/* The blob key only ever receives a whole object, by one copy or one empty PUT, so
	 * readers see no blob or all of it. */
	if (st.nparts == 0 && !st.tail && !s3_digest_is_empty(d)) {
		rc = berr_set(err, BERR_BLOB_UPLOAD_INVALID, "upload %s has no bytes but %s is not the empty blob", id,
		              d->str);
	} else if (st.nparts == 0 && !st.tail) {
		rc = s3_simple(s3, "PUT", dst, NULL, 0, NULL, err);
	} else if (st.nparts == 0) {
		rc = s3_copy(s3, st.tail, dst, st.tail_size, err);
	} else {
		cleanup_free char *data_key = s3_upload_key(s3, id, "data");
		/* An earlier call (upload_prepare) may have completed it already. */
		uint64_t done = 0;
		rc = s3_simple(s3, "HEAD", data_key, NULL, 0, &done, err);
		if (rc == 1 || (rc == 0 && done != st.size))
			rc = s3_complete(s3, id, &st, data_key, err);
		if (rc == 0)
			rc = s3_copy(s3, data_key, dst, st.size, err);
	}
	if (rc == 1)
		rc = berr_set(err, BERR_INTERNAL, "upload %s: its data vanished from the bucket while committing", id);
	s3_state_free(&st);
	return rc;
}

/* The blob key is content-addressed and written whole, so copying into it early is safe;
 * the commit under the lock then finds it in place with one HEAD (or copies again if
 * garbage collection removed it in between). A write to the blob's key sends its bytes
 * here (small) or leaves the completion to the commit (multipart). */
static int s3_upload_prepare(void *drv, const char *id, const struct digest *d, uint64_t size, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_pending *p = s3_pending_get(s3, id, false);
	if (p) {
		int rc = s3_pending_commit(s3, p, d, size, false, err);
		s3_pending_put(s3, p);
		return rc;
	}
	return s3_upload_commit(drv, id, d, size, err);
}

/* Stage the bytes of upload id held back in memory for its commit (a small write to the
 * blob's key whose commit failed) as a tail recorded in its state, as a chunk of the normal
 * path would be, and free them: any node can then finish the upload. 1 if it did, 0 if
 * nothing of id is held in memory, -1 with err (they stay held). */
static int s3_upload_spill(void *drv, const char *id, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_pending *p = s3_pending_get(s3, id, true);
	if (!p)
		return 0;
	if (!p->buf || !p->hash) {
		s3_pending_relink(s3, p);
		return 0;
	}
	struct blob_writer *w = NULL;
	int rc = s3_upload_open(drv, id, 0, &w, err);
	if (rc == 0) {
		w->checkpoint(w, p->hash);
		bool ok = w->write(w, p->buf, p->len, err) == 0;
		struct berr e2 = {0};
		rc = w->finish(w, ok, ok ? err : &e2) == 0 && ok ? 1 : -1;
	}
	if (rc < 0)
		s3_pending_relink(s3, p);
	else
		s3_pending_put(s3, p);
	return rc;
}

static int s3_collect(void *ctx, const char *key)
{
	struct {
		char **keys;
		size_t n, cap;
	} *c = ctx;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->keys = xrealloc(c->keys, c->cap * sizeof *c->keys);
	}
	c->keys[c->n++] = xstrdup(key);
	return 0;
}

static int s3_upload_abort(void *drv, const char *id, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_pending *p = s3_pending_get(s3, id, true);
	if (p) {
		cleanup_free char *key = s3_blob_key(s3, &p->d);
		int rc = p->mp && !s3_pending_completed(s3, p) ? s3_mp_abort(s3, key, p->mp, err) : 0;
		s3_pending_put(s3, p);
		if (rc < 0)
			return -1;
	}
	struct s3_state st;
	struct berr e2 = {0};
	if (s3_state_load(s3, id, &st, &e2) == 0) {
		if (st.mp) {
			cleanup_free char *key = s3_upload_key(s3, id, "data");
			int rc = s3_mp_abort(s3, st.key ? st.key : key, st.mp, err);
			if (rc < 0) {
				s3_state_free(&st);
				return -1;
			}
		}
		s3_state_free(&st);
	} else if (e2.code != BERR_BLOB_UPLOAD_UNKNOWN && e2.code != BERR_INTERNAL) {
		if (err)
			*err = e2;
		return -1;
	}
	/* Every object under uploads/<id>/, the state last so a failed abort can be redone. */
	struct {
		char **keys;
		size_t n, cap;
	} c = {0};
	cleanup_free char *prefix = xasprintf("%suploads/%s/", s3->prefix, id);
	int rc = s3_list(s3, prefix, NULL, s3_collect, &c, err);
	cleanup_free char *state_key = s3_upload_key(s3, id, "state");
	bool has_state = false;
	for (size_t i = 0; i < c.n; i++) {
		if (rc == 0 && strcmp(c.keys[i], state_key) != 0 &&
		    s3_simple(s3, "DELETE", c.keys[i], NULL, 0, NULL, err) < 0)
			rc = -1;
		has_state |= strcmp(c.keys[i], state_key) == 0;
		free(c.keys[i]);
	}
	free(c.keys);
	if (rc == 0 && has_state && s3_simple(s3, "DELETE", state_key, NULL, 0, NULL, err) < 0)
		rc = -1;
	s3_state_remember(s3, id, NULL, NULL, 0);
	return rc;
}

/* Drop the staging objects of an upload that was committed, by the keys its state names
 * (no listing): the multipart upload (completed into data, or still open if the blob was
 * there already), the tail, the one tail a chunk that failed after writing it may have left
 * (tail-<gen+1>), then the state. A tail whose deletion failed earlier (logged then) is not
 * looked for; upload_abort, which lists, is the thorough way. */
static int s3_upload_finish_now(struct s3_driver *s3, const char *id, struct berr *err)
{
	struct s3_state st;
	struct berr e2 = {0};
	if (s3_state_load(s3, id, &st, &e2) < 0)
		return e2.code == BERR_BLOB_UPLOAD_UNKNOWN ? 0 : s3_upload_abort(s3, id, err);
	int rc = 0;
	if (st.mp && st.key) {
		rc = s3_mp_abort(s3, st.key, st.mp, err);
	} else if (st.mp) {
		cleanup_free char *key = s3_upload_key(s3, id, "data");
		/* Completed (the usual case): the object is there, and a DELETE of its finished
		 * multipart upload would only fetch a NoSuchUpload error body. */
		int there = s3_simple(s3, "HEAD", key, NULL, 0, NULL, err);
		if (there == 1) {
			rc = s3_mp_abort(s3, key, st.mp, err);
		} else if (there == 0) {
			rc = s3_simple(s3, "DELETE", key, NULL, 0, NULL, err) < 0 ? -1 : 0;
		} else {
			rc = -1;
		}
	}
	char leaf[64];
	snprintf(leaf, sizeof leaf, "tail-%" PRIu64, st.gen + 1);
	cleanup_free char *next_tail = s3_upload_key(s3, id, leaf);
	cleanup_free char *state_key = s3_upload_key(s3, id, "state");
	if (rc == 0 && st.tail && s3_simple(s3, "DELETE", st.tail, NULL, 0, NULL, err) < 0)
		rc = -1;
	if (rc == 0 && s3_simple(s3, "DELETE", next_tail, NULL, 0, NULL, err) < 0)
		rc = -1;
	if (rc == 0 && s3_simple(s3, "DELETE", state_key, NULL, 0, NULL, err) < 0)
		rc = -1;
	s3_state_remember(s3, id, NULL, NULL, 0);
	s3_state_free(&st);
	return rc;
}

/* The janitor's thread: deletes the staging objects of each queued upload, in order, until
 * s3_janitor_stop; what is still queued then is left to a node's start-up sweep, as after a
 * crash. */
static void *s3_janitor_main(void *arg)
{
	struct s3_driver *s3 = arg;
	struct s3_janitor *j = &s3->janitor;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (j->n == 0 && !j->stopping)
			pthread_cond_wait(&j->wake, &j->lock);
		if (j->stopping) {
			if (j->n)
				log_warn("s3: %zu committed uploads' staging objects left for a node's start-up sweep",
				         j->n);
			for (; j->n; j->n--, j->head = (j->head + 1) % S3_JANITOR_QUEUE)
				free(j->ids[j->head]);
			break;
		}
		char *id = j->ids[j->head];
		j->head = (j->head + 1) % S3_JANITOR_QUEUE;
		j->n--;
		j->busy = true;
		pthread_mutex_unlock(&j->lock);
		struct berr e = {0};
		if (s3_upload_finish_now(s3, id, &e) < 0)
			log_warn(
			    "s3: upload %s: its staging objects stay until the upload expires or a node's start-up "
			    "sweep: %s",
			    id, e.message);
		free(id);
		pthread_mutex_lock(&j->lock);
		j->busy = false;
		if (j->n == 0)
			pthread_cond_broadcast(&j->idle);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* Queue upload id for the janitor (starting it on first use). False when the queue is full,
 * the driver is closing or no thread can be started: the caller deletes them itself. */
static bool s3_janitor_queue(struct s3_driver *s3, const char *id)
{
	struct s3_janitor *j = &s3->janitor;
	pthread_mutex_lock(&j->lock);
	bool ok = !j->stopping && j->n < S3_JANITOR_QUEUE;
	if (ok && !j->started) {
		int rc = pthread_create(&j->thread, NULL, s3_janitor_main, s3);
		if (rc != 0)
			log_warn("s3: no thread to delete committed uploads' staging objects: %s", strerror(rc));
		ok = j->started = rc == 0;
	}
	if (ok) {
		j->ids[(j->head + j->n) % S3_JANITOR_QUEUE] = xstrdup(id);
		j->n++;
		pthread_cond_signal(&j->wake);
	}
	pthread_mutex_unlock(&j->lock);
	return ok;
}

/* Wait up to seconds until the janitor has nothing queued or running (s3_janitor_stop;
 * tests). False if it still had work when the time was up. */
static bool s3_janitor_drain(struct s3_driver *s3, int seconds)
{
	struct s3_janitor *j = &s3->janitor;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&j->lock);
	while (j->started && (j->n > 0 || j->busy))
		if (pthread_cond_timedwait(&j->idle, &j->lock, &until) == ETIMEDOUT)
			break;
	bool done = !j->started || (j->n == 0 && !j->busy);
	pthread_mutex_unlock(&j->lock);
	return done;
}

/* Let the janitor finish what is queued, then end its thread (s3_close). */
static void s3_janitor_stop(struct s3_driver *s3)
{
	struct s3_janitor *j = &s3->janitor;
	/* Ten seconds for what is queued (a store that does not answer must not hold up the
	 * stop for minutes); the deletion under way then finishes, the rest is dropped. */
	s3_janitor_drain(s3, 10);
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_signal(&j->wake);
	bool started = j->started;
	pthread_mutex_unlock(&j->lock);
	if (started)
		pthread_join(j->thread, NULL);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->idle);
	pthread_mutex_destroy(&j->lock);
}

/* A committed upload's staging objects go after the commit has answered (the janitor); a
 * write to the blob's key that held its bytes or parts in memory ends here and now. */
static int s3_upload_finished(void *drv, const char *id, struct berr *err)
{
	struct s3_driver *s3 = drv;
	struct s3_pending *p = s3_pending_get(s3, id, true);
	if (p) {
		int rc = s3_pending_end(s3, p, err);
		s3_pending_put(s3, p);
		return rc;
	}
	if (s3_janitor_queue(s3, id))
		return 0;
	return s3_upload_finish_now(s3, id, err);
}

struct s3_id_walk {
	size_t skip;
	int (*fn)(void *ctx, const char *id);
	void *ctx;
};

static int s3_upload_list_one(void *ctx, const char *prefix)
{
	struct s3_id_walk *w = ctx;
	size_t n = strlen(prefix);
	if (n <= w->skip + 1 || n - w->skip > 200)
		return 0;
	char id[256];
	snprintf(id, sizeof id, "%.*s", (int)(n - w->skip - 1), prefix + w->skip);
	return w->fn(w->ctx, id);
}

static int s3_upload_list(void *drv, int (*fn)(void *ctx, const char *id), void *ctx, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *prefix = xasprintf("%suploads/", s3->prefix);
	struct s3_id_walk w = {strlen(prefix), fn, ctx};
	return s3_list(s3, prefix, "/", s3_upload_list_one, &w, err);
}

struct s3_blob_walk {
	size_t skip;
	int (*fn)(void *ctx, const struct digest *d);
	void *ctx;
};

/* "<algo>/<2 hex>/<hex>" after the prefix; anything else in blobs/ is not ours. */
static int s3_list_one(void *ctx, const char *key)
{
	struct s3_blob_walk *w = ctx;
	const char *rel = key + w->skip;
	const char *s1 = strchr(rel, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s1 || !s2 || s2 - s1 != 3 || strlen(s2 + 1) > 128 || s1 - rel > 16)
		return 0;
	char name[DIGEST_STR_MAX + 8];
	snprintf(name, sizeof name, "%.*s:%s", (int)(s1 - rel), rel, s2 + 1);
	struct digest d;
	if (digest_parse(name, &d, NULL) < 0 || strncmp(s1 + 1, s2 + 1, 2) != 0)
		return 0;
	return w->fn(w->ctx, &d);
}

static int s3_list_blobs(void *drv, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *prefix = xasprintf("%sblobs/", s3->prefix);
	struct s3_blob_walk w = {strlen(prefix), fn, ctx};
	return s3_list(s3, prefix, NULL, s3_list_one, &w, err);
}

/* Move object src to dst (S3 has no rename: a copy, then a delete). A missing src is no
 * error: it was moved already. */
static int s3_move(struct s3_driver *s3, const char *src, const char *dst, struct berr *err)
{
	uint64_t size;
	int rc = s3_simple(s3, "HEAD", src, NULL, 0, &size, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (s3_copy(s3, src, dst, size, err) < 0)
		return -1;
	return s3_simple(s3, "DELETE", src, NULL, 0, NULL, err) < 0 ? -1 : 0;
}

static int s3_quarantine(void *drv, const struct digest *d, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *src = s3_blob_key(s3, d);
	cleanup_free char *dst = xasprintf("%squarantine/%s-%s", s3->prefix, digest_algo_name(d->algo), digest_hex(d));
	return s3_move(s3, src, dst, err);
}

/* The trash: where garbage collection moves a blob before it forgets it for good, so a
 * collection killed half-way can put it back (server/gc.c, docs/internals/gc.md). */
static char *s3_trash_key(struct s3_driver *s3, const struct digest *d)
{
	return xasprintf("%strash/%s-%s", s3->prefix, digest_algo_name(d->algo), digest_hex(d));
}

static int s3_trash(void *drv, const struct digest *d, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *src = s3_blob_key(s3, d);
	cleanup_free char *dst = s3_trash_key(s3, d);
	return s3_move(s3, src, dst, err);
}

static int s3_untrash(void *drv, const struct digest *d, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *src = s3_trash_key(s3, d);
	cleanup_free char *dst = s3_blob_key(s3, d);
	return s3_move(s3, src, dst, err);
}

static int s3_trash_remove(void *drv, const struct digest *d, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *key = s3_trash_key(s3, d);
	return s3_simple(s3, "DELETE", key, NULL, 0, NULL, err) < 0 ? -1 : 0;
}

/* "<algo>-<hex>" after the trash prefix; anything else there is not ours. */
static int s3_trash_one(void *ctx, const char *key)
{
	struct s3_blob_walk *w = ctx;
	const char *rel = key + w->skip;
	const char *dash = strchr(rel, '-');
	if (!dash || dash - rel > 16 || strlen(dash + 1) > 128)
		return 0;
	char name[DIGEST_STR_MAX + 8];
	snprintf(name, sizeof name, "%.*s:%s", (int)(dash - rel), rel, dash + 1);
	struct digest d;
	if (digest_parse(name, &d, NULL) < 0)
		return 0;
	return w->fn(w->ctx, &d);
}

static int s3_trash_list(void *drv, int (*fn)(void *ctx, const struct digest *d), void *ctx, struct berr *err)
{
	struct s3_driver *s3 = drv;
	cleanup_free char *prefix = xasprintf("%strash/", s3->prefix);
	struct s3_blob_walk w = {strlen(prefix), fn, ctx};
	return s3_list(s3, prefix, NULL, s3_trash_one, &w, err);
}

static char *s3_presign(void *drv, const struct digest *d, unsigned expires, struct berr *err)
{
	(void)err;
	struct s3_driver *s3 = drv;
	cleanup_free char *key = s3_blob_key(s3, d);
	cleanup_free char *keyenc = sigv4_uri_encode(key, true);
	cleanup_free char *path = xasprintf("/%s/%s", s3->bucket, keyenc);
	char amzdate[17];
	sigv4_amz_date(time(NULL), amzdate);
	struct sigv4_creds c = {s3->access_key, s3->secret_key, s3->region, "s3"};
	return sigv4_presign(&c, "GET", s3->endpoint, s3->host, path, amzdate, expires);
}

static const struct blob_driver_ops s3_ops = {
    .name = "s3",
    .close = s3_close,
    .stat = s3_stat,
    .open_read = s3_open_read,
    .remove = s3_remove,
    .upload_begin = s3_upload_begin,
    .upload_size = s3_upload_size,
    .upload_open = s3_upload_open,
    .upload_pread = s3_upload_pread,
    .upload_commit = s3_upload_commit,
    .upload_prepare = s3_upload_prepare,
    .upload_spill = s3_upload_spill,
    .upload_abort = s3_upload_abort,
    .upload_finished = s3_upload_finished,
    .upload_open_at_blob = s3_upload_open_at_blob,
    .upload_open_early = s3_upload_open_early,
    .upload_list = s3_upload_list,
    .list = s3_list_blobs,
    .quarantine = s3_quarantine,
    .trash = s3_trash,
    .untrash = s3_untrash,
    .trash_remove = s3_trash_remove,
    .trash_list = s3_trash_list,
    .upload_checkpoint = s3_upload_checkpoint,
    .presign = s3_presign,
};

void *driver_s3_open(const struct blobstore_s3_config *cfg, const struct blob_driver_ops **ops, struct berr *err)
{
	const char *ep = cfg->endpoint;
	size_t skip = strncmp(ep, "http://", 7) == 0 ? 7 : strncmp(ep, "https://", 8) == 0 ? 8 : 0;
	if (!skip || !ep[skip]) {
		berr_set(err, BERR_INTERNAL, "S3 endpoint must be an http:// or https:// URL, not '%s'", ep);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		berr_set(err, BERR_INTERNAL, "libcurl failed to initialise");
		return NULL;
	}
	struct s3_driver *s3 = xcalloc(1, sizeof *s3);
	s3->endpoint = xstrdup(ep);
	size_t n = strlen(s3->endpoint);
	while (n > skip && s3->endpoint[n - 1] == '/')
		s3->endpoint[--n] = '\0';
	s3->host = xstrndup(s3->endpoint + skip, strcspn(s3->endpoint + skip, "/"));
	s3->bucket = xstrdup(cfg->bucket);
	s3->prefix = xstrdup(cfg->prefix ? cfg->prefix : "");
	s3->region = xstrdup(cfg->region ? cfg->region : "us-east-1");
	s3->access_key = xstrdup(cfg->access_key);
	s3->secret_key = xstrdup(cfg->secret_key);
	pthread_mutex_init(&s3->lock, NULL);
	pthread_mutex_init(&s3->state_lock, NULL);
	pthread_mutex_init(&s3->janitor.lock, NULL);
	pthread_cond_init(&s3->janitor.wake, NULL);
	pthread_cond_init(&s3->janitor.idle, NULL);
	/* Fail at start-up, with S3's reason, rather than on the first push. */
	cleanup_free char *pfx = sigv4_uri_encode(s3->prefix, false);
	cleanup_free char *q = xasprintf("list-type=2&max-keys=1&prefix=%s", pfx);
	struct s3_req r = {.method = "GET", .query = q};
	int rc = s3_do(s3, &r, err);
	if (rc == 0 && r.status != 200) {
		char what[200];
		snprintf(what, sizeof what, "bucket %.64s at %.100s", s3->bucket, s3->endpoint);
		s3_fail(&r, what, err);
		rc = -1;
	}
	s3_req_free(&r);
	if (rc < 0) {
		s3_close(s3);
		return NULL;
	}
	*ops = &s3_ops;
	return s3;
}
