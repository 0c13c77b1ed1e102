/* GET/HEAD/DELETE /v2/<name>/blobs/<digest>: blobs are served with sendfile straight from
 * the store (or streamed from an object store, or redirected to a presigned URL with
 * --storage-redirect), whole or as one byte range, and only through repositories they are
 * linked into. A manifest's digest is also served as a blob, as Distribution does. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/range.h"
#include "common/xalloc.h"
#include "server/api.h"
#include "server/gc.h"
#include "server/meta.h"
#include "server/metrics.h"
#include "server/proxy.h"
#include "server/registry.h"
#include "storage/blob_cache.h"

/* Seconds a presigned blob URL stays valid (Distribution's default too). */
#define BLOB_REDIRECT_EXPIRES 1200
/* Bytes handed to libmicrohttpd per read from a streamed blob. */
#define BLOB_STREAM_BLOCK (64 * 1024)

static void api_blob_headers(struct MHD_Response *resp, const struct digest *d, const char *content_type)
{
	resp_header(resp, "Docker-Content-Digest", d->str);
	resp_headerf(resp, "ETag", "\"%s\"", d->str);
	resp_header(resp, "Content-Type", content_type);
	resp_header(resp, "Accept-Ranges", "bytes");
	resp_header(resp, "Cache-Control", "max-age=31536000");
}

static bool api_not_modified(struct req *r, const struct digest *d)
{
	const char *inm = req_header(r, "If-None-Match");
	if (!inm)
		return false;
	char want[DIGEST_STR_MAX + 2];
	snprintf(want, sizeof want, "\"%s\"", d->str);
	return strstr(inm, want) != NULL || strcmp(inm, d->str) == 0;
}

/* Serve a manifest's bytes under the blob endpoint. Returns false if there is none. */
static bool api_blob_from_manifest(struct req *r, int64_t repo_id, const struct digest *d)
{
	struct meta_manifest mm;
	struct berr e2;
	if (meta_manifest_get(r->meta, repo_id, d->str, true, r->method == HTTP_GET, &mm, &e2) < 0)
		return false;
	struct MHD_Response *resp = r->method == HTTP_GET ? resp_take(mm.content, mm.size) : resp_head(mm.size);
	api_blob_headers(resp, d, "application/octet-stream");
	req_respond(r, 200, resp);
	return true;
}

/* libmicrohttpd pulls a streamed blob through these; the reader is owned by the response. */
static ssize_t api_blob_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct blob_reader *br = cls;
	(void)pos;
	struct berr err = {0};
	ssize_t n = blob_reader_read(br, buf, max, &err);
	if (n < 0)
		log_warn("blob stream: %s", err.message);
	if (n <= 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n;
}

static void api_blob_stream_free(void *cls)
{
	struct blob_reader *br = cls;
	blob_reader_close(br);
	free(br);
}

/* With --storage-redirect: answer a GET with 307 to a presigned URL. False if the store
 * cannot presign (the blob is then served directly). */
static bool api_blob_redirect(struct req *r, const struct digest *d)
{
	if (!r->reg->cfg->storage_redirect || r->method != HTTP_GET)
		return false;
	struct berr e2 = {0};
	cleanup_free char *url = blobstore_presign(r->reg->blobs, d, BLOB_REDIRECT_EXPIRES, &e2);
	if (!url)
		return false;
	struct MHD_Response *resp = resp_empty();
	resp_header(resp, "Location", url);
	resp_header(resp, "Docker-Content-Digest", d->str);
	req_respond(r, 307, resp);
	return true;
}

static void api_blob_get(struct req *r, const struct digest *d)
{
	int64_t repo_id;
	uint64_t size;
	struct berr e2;
	/* A blob the pull-through cache lacks is fetched (and streamed) by it, or linked. */
	if (proxy_is_mirrored(r->route.name)) {
		bool have = meta_repo_lookup(r->meta, r->route.name, &repo_id, &e2) == 0 &&
		            meta_repo_blob_get(r->meta, repo_id, d, &size, &e2) == 0;
		if (have)
			metrics_count(METRICS_MIRROR_HITS, 1);
		else if (proxy_blob(r, d))
			return;
	}
	if (api_repo_id(r, BERR_BLOB_UNKNOWN, &repo_id) < 0)
		return;
	if (meta_repo_blob_get(r->meta, repo_id, d, &size, &r->err) < 0) {
		if (r->err.code == BERR_BLOB_UNKNOWN && api_blob_from_manifest(r, repo_id, d))
			return;
		req_respond_error(r, &r->err);
		return;
	}
	/* A HEAD is how clients decide not to upload a blob again: keep an unreferenced one
	 * from garbage collection for the grace period that the manifest push may need. */
	int grace = r->reg->cfg->gc_grace;
	if (r->method == HTTP_HEAD && !r->reg->cfg->read_only &&
	    meta_blob_keep(r->meta, d, (int64_t)time(NULL) - (grace > 2 ? grace / 2 : 1), &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	if (api_not_modified(r, d)) {
		struct MHD_Response *resp = resp_empty();
		api_blob_headers(resp, d, "application/octet-stream");
		req_respond(r, 304, resp);
		return;
	}
	if (api_blob_redirect(r, d))
		return;
	struct blob_reader br;
	int rc = blobstore_open_read_cached(r->reg->blobs, d, size, &br, &r->err);
	bool restored = false;
	if (rc < 0 && r->err.code == BERR_BLOB_UNKNOWN &&
	    gc_blob_restore(r->reg->blobs, r->meta, d, &restored, NULL) == 0 && restored)
		rc = blobstore_open_read_cached(r->reg->blobs, d, size, &br, &r->err);
	if (rc < 0) {
		if (r->err.code == BERR_BLOB_UNKNOWN)
			berr_set(&r->err, BERR_BLOB_UNKNOWN, "blob %s is recorded but missing from storage", d->str);
		req_respond_error(r, &r->err);
		return;
	}
	struct byte_range range;
	enum range_result rr = range_parse_request(req_header(r, "Range"), br.size, &range);
	if (rr == RANGE_UNSATISFIABLE) {
		blob_reader_close(&br);
		berr_set(&r->err, BERR_RANGE_INVALID, "range not satisfiable for a blob of %" PRIu64 " bytes", br.size);
		unsigned int st;
		struct MHD_Response *resp = resp_error(r, &r->err, &st);
		resp_headerf(resp, "Content-Range", "bytes */%" PRIu64, br.size);
		req_respond(r, st, resp);
		return;
	}
	uint64_t off = 0, len = br.size;
	unsigned int status = 200;
	if (rr == RANGE_OK) {
		off = range.start;
		len = range.end - range.start + 1;
		status = 206;
	}
	struct MHD_Response *resp;
	if (r->method == HTTP_HEAD) {
		blob_reader_close(&br);
		resp = resp_head(len);
	} else if (br.fd >= 0) {
		/* With a cache (S3 storage only), an fd reader is a cache hit. */
		if (blobstore_cache(r->reg->blobs))
			blob_cache_count_served(blobstore_cache(r->reg->blobs), len);
		resp = resp_fd(br.fd, off, len);
	} else {
		struct blob_reader *owned = xmalloc(sizeof *owned);
		*owned = br;
		blob_reader_range(owned, off, len);
		resp = MHD_create_response_from_callback(len, BLOB_STREAM_BLOCK, api_blob_stream_read, owned,
		                                         api_blob_stream_free);
	}
	api_blob_headers(resp, d, "application/octet-stream");
	if (status == 206)
		resp_headerf(resp, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, range.start, range.end,
		             br.size);
	req_respond(r, status, resp);
}

static void api_blob_delete(struct req *r, const struct digest *d)
{
	int64_t repo_id;
	if (api_repo_id(r, BERR_BLOB_UNKNOWN, &repo_id) < 0)
		return;
	if (meta_repo_blob_unlink(r->meta, repo_id, d, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	char target[600];
	snprintf(target, sizeof target, "%s@%s", r->route.name, d->str);
	api_audit(r, "delete_blob", target, NULL);
	struct MHD_Response *resp = resp_empty();
	resp_header(resp, "Docker-Content-Digest", d->str);
	req_respond(r, 202, resp);
}

void api_blob(struct req *r)
{
	struct digest d;
	if (digest_parse(r->route.param, &d, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	switch (r->method) {
	case HTTP_GET:
	case HTTP_HEAD:
		api_blob_get(r, &d);
		break;
	case HTTP_DELETE:
		api_blob_delete(r, &d);
		break;
	default:
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on blobs", r->method_str);
	}
}
