/* Blob uploads: POST /v2/<name>/blobs/uploads/ (new session, monolithic ?digest= upload,
 * cross-repository ?mount=&from= and automatic mount), and PATCH/PUT/GET/DELETE on
 * /v2/<name>/blobs/uploads/<id>. Bodies stream to the staging object while the digest is
 * computed; nothing is ever held whole in memory. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/range.h"
#include "common/reference.h"
#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/meta.h"
#include "server/registry.h"
#include "server/uploads.h"

/* What a body-carrying upload request keeps between its steps. */
struct upload_req {
	char id[UPLOAD_ID_LEN + 1];
	int64_t repo_id;
	struct upload_chunk *chunk; /* open while the body arrives */
	bool has_range;
	struct byte_range range;
	bool finish;         /* PUT or monolithic POST: complete the blob at the end */
	bool cancel_on_fail; /* monolithic POST: the session exists only for this request */
	struct digest digest;
};

static void api_upload_location(struct req *r, struct MHD_Response *resp, const char *id, uint64_t size)
{
	resp_headerf(resp, "Location", "/v2/%s/blobs/uploads/%s", r->route.name, id);
	resp_headerf(resp, "Range", "0-%" PRIu64, size > 0 ? size - 1 : 0);
	resp_header(resp, "Docker-Upload-UUID", id);
}

static void api_blob_created(struct req *r, const struct digest *d)
{
	struct MHD_Response *resp = resp_empty();
	resp_headerf(resp, "Location", "/v2/%s/blobs/%s", r->route.name, d->str);
	resp_header(resp, "Docker-Content-Digest", d->str);
	req_respond(r, 201, resp);
}

static void api_upload_cleanup(struct req *r)
{
	struct upload_req *u = r->state;
	if (!u)
		return;
	if (u->chunk) /* the client went away mid-body: the partial chunk is cut off again */
		uploads_chunk_end(u->chunk, false, NULL, NULL);
	if (u->cancel_on_fail)
		uploads_cancel(r->reg, r->meta, u->id, NULL);
	free(u);
	r->state = NULL;
}

static int api_upload_body(struct req *r, const char *data, size_t len)
{
	struct upload_req *u = r->state;
	if (uploads_chunk_write(u->chunk, data, len, &r->err) < 0) {
		/* The store refused the bytes because the upload can no longer proceed (its staged
		 * data is gone: BLOB_UPLOAD_INVALID): it ends now, before the answer (the rest of
		 * the body is skipped), and the client starts again. */
		if (r->err.code == BERR_BLOB_UPLOAD_INVALID && !u->cancel_on_fail) {
			uploads_chunk_end(u->chunk, false, NULL, NULL);
			u->chunk = NULL;
			uploads_cancel(r->reg, r->meta, u->id, NULL);
		}
		return -1;
	}
	return 0;
}

static void api_upload_end(struct req *r)
{
	struct upload_req *u = r->state;
	uint64_t size = 0;
	if (u->chunk) {
		bool keep = true;
		uint64_t got = r->bytes_in;
		if (u->has_range && got != u->range.end - u->range.start + 1) {
			keep = false;
			berr_set(&r->err, BERR_RANGE_INVALID,
			         "Content-Range announces %" PRIu64 " bytes but %" PRIu64 " arrived",
			         u->range.end - u->range.start + 1, got);
		}
		int rc = uploads_chunk_end(u->chunk, keep, &size, keep ? &r->err : NULL);
		u->chunk = NULL;
		/* A body written straight to the blob's place that is not that blob, or an upload
		 * whose staged data is gone from the store: the upload ends, as uploads_finish
		 * ends one whose digest does not match. */
		if (keep && rc < 0 && !u->cancel_on_fail &&
		    ((u->finish && r->err.code == BERR_DIGEST_INVALID) || r->err.code == BERR_BLOB_UPLOAD_INVALID))
			uploads_cancel(r->reg, r->meta, u->id, NULL);
		if (!keep || rc < 0) {
			req_respond_error(r, &r->err);
			return;
		}
	}
	if (!u->finish) {
		/* Activity keeps the session from expiring (--upload-expiry). */
		struct berr e2;
		if (meta_upload_touch(r->meta, u->id, &e2) < 0)
			log_warn("upload %s: could not record activity: %s", u->id, e2.message);
		struct MHD_Response *resp = resp_empty();
		api_upload_location(r, resp, u->id, size);
		req_respond(r, 202, resp);
		return;
	}
	if (uploads_finish(r->reg, r->meta, u->id, u->repo_id, &u->digest, NULL, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	u->cancel_on_fail = false;
	api_blob_created(r, &u->digest);
}

/* Install the body callbacks with a chunk opened at `start` (UINT64_MAX: at the end). */
static bool api_upload_stream(struct req *r, struct upload_req *u, uint64_t start)
{
	u->chunk = uploads_chunk_begin(r->reg, u->id, start, u->finish ? &u->digest : NULL,
	                               r->method == HTTP_PATCH && !u->has_range, &r->err);
	if (!u->chunk)
		return false;
	r->on_body = api_upload_body;
	return true;
}

/* Parse an optional Content-Range into u. */
static int api_upload_range(struct req *r, struct upload_req *u)
{
	const char *cr = req_header(r, "Content-Range");
	if (!cr)
		return 0;
	if (range_parse_content_range(cr, &u->range, &r->err) < 0)
		return -1;
	u->has_range = true;
	int64_t cl = req_content_length(r);
	if (cl >= 0 && (uint64_t)cl != u->range.end - u->range.start + 1)
		return berr_set(&r->err, BERR_RANGE_INVALID, "Content-Range %s does not match Content-Length %" PRId64,
		                cr, cl);
	return 0;
}

struct mount_search {
	struct req *r;
	char found[REFERENCE_NAME_MAX + 1];
};

static int api_mount_candidate(void *ctx, const char *name)
{
	struct mount_search *ms = ctx;
	unsigned acts;
	struct berr e2;
	if (auth_repo_actions(ms->r->meta, ms->r->auth, name, &acts, &e2) == 0 && (acts & ACTION_PULL)) {
		snprintf(ms->found, sizeof ms->found, "%s", name);
		return 1;
	}
	return 0;
}

/* POST ?mount=D[&from=R]: link the blob when it can be, else say why not (0 = not mounted). */
static int api_upload_mount(struct req *r, int64_t repo_id, const char *mount, const char *from)
{
	struct digest d;
	if (digest_parse(mount, &d, &r->err) < 0)
		return -1;
	int64_t from_id = -1;
	if (from) {
		if (reference_check_name(from, strlen(from), &r->err) < 0)
			return -1;
		/* Only from a repository the caller may read; otherwise a normal upload. */
		unsigned acts;
		if (auth_request_actions(r, from, &acts, &r->err) < 0)
			return -1;
		if (!(acts & ACTION_PULL))
			return 0;
		struct berr e2;
		if (meta_repo_lookup(r->meta, from, &from_id, &e2) < 0)
			return e2.code == BERR_NAME_UNKNOWN ? 0 : (r->err = e2, -1);
	} else if (!auth_disabled(r)) {
		/* Automatic mount: from some repository holding the blob that the caller may read. */
		struct mount_search ms = {.r = r};
		if (meta_blob_repositories(r->meta, &d, api_mount_candidate, &ms, &r->err) < 0)
			return -1;
		if (!ms.found[0])
			return 0;
		if (meta_repo_lookup(r->meta, ms.found, &from_id, &r->err) < 0)
			return -1;
	}
	bool linked = false;
	uint64_t size;
	if (meta_blob_mount(r->meta, repo_id, from_id, &d, &linked, &size, &r->err) < 0)
		return -1;
	if (!linked)
		return 0;
	api_blob_created(r, &d);
	return 1;
}

void api_upload_start(struct req *r)
{
	if (r->method != HTTP_POST) {
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on blob uploads", r->method_str);
		return;
	}
	int64_t repo_id;
	if (meta_repo_ensure(r->meta, r->route.name, &repo_id, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	const char *mount = req_query(r, "mount");
	if (mount) {
		int m = api_upload_mount(r, repo_id, mount, req_query(r, "from"));
		if (m < 0)
			req_respond_error(r, &r->err);
		if (m != 0)
			return;
	}
	/* A namespace already at its storage quota gets no new upload: the client stops at its
	 * first blob instead of after sending them all (the manifest PUT makes the exact check). */
	struct meta_usage usage;
	if (meta_usage_of_repo(r->meta, repo_id, &usage, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	if (usage.quota >= 0 && usage.used >= usage.quota) {
		req_fail(r, BERR_DENIED,
		         "namespace '%s' is at its storage quota: %lld bytes used of %lld; delete images or have the "
		         "quota raised",
		         usage.namespace, (long long)usage.used, (long long)usage.quota);
		return;
	}
	const char *dg = req_query(r, "digest");
	struct upload_req *u = xcalloc(1, sizeof *u);
	u->repo_id = repo_id;
	r->state = u;
	r->on_cleanup = api_upload_cleanup;
	if (dg) {
		/* Monolithic upload: the body is the whole blob. */
		if (digest_parse(dg, &u->digest, &r->err) < 0 ||
		    uploads_create(r->reg, r->meta, repo_id, false, u->digest.algo, u->id, &r->err) < 0) {
			req_respond_error(r, &r->err);
			return;
		}
		u->finish = true;
		u->cancel_on_fail = true;
		if (!api_upload_stream(r, u, 0)) {
			req_respond_error(r, &r->err);
			return;
		}
		r->on_end = api_upload_end;
		return;
	}
	if (uploads_create(r->reg, r->meta, repo_id, true, DIGEST_SHA256, u->id, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	struct MHD_Response *resp = resp_empty();
	api_upload_location(r, resp, u->id, 0);
	resp_header(resp, "OCI-Chunk-Min-Length", "0");
	req_respond(r, 202, resp);
}

void api_upload(struct req *r)
{
	const char *id = r->route.param;
	int64_t repo_id;
	uint64_t size;
	struct berr e2;
	if (!uploads_id_valid(id)) {
		req_fail(r, BERR_BLOB_UPLOAD_UNKNOWN, "upload %.64s is not known", id);
		return;
	}
	if (meta_repo_lookup(r->meta, r->route.name, &repo_id, &e2) < 0) {
		if (e2.code == BERR_NAME_UNKNOWN)
			req_fail(r, BERR_BLOB_UPLOAD_UNKNOWN, "upload %s is not known in %s", id, r->route.name);
		else
			req_respond_error(r, &e2);
		return;
	}
	if (uploads_status(r->reg, r->meta, id, repo_id, r->method == HTTP_DELETE ? NULL : &size, &r->err) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	struct MHD_Response *resp;
	switch (r->method) {
	case HTTP_GET:
	case HTTP_HEAD:
		resp = resp_empty();
		api_upload_location(r, resp, id, size);
		req_respond(r, 204, resp);
		return;
	case HTTP_DELETE:
		if (uploads_cancel(r->reg, r->meta, id, &r->err) < 0) {
			req_respond_error(r, &r->err);
			return;
		}
		req_respond(r, 204, resp_empty());
		return;
	case HTTP_PATCH:
	case HTTP_PUT:
		break;
	default:
		req_fail(r, BERR_UNSUPPORTED, "%s is not supported on blob uploads", r->method_str);
		return;
	}

	struct upload_req *u = xcalloc(1, sizeof *u);
	memcpy(u->id, id, UPLOAD_ID_LEN + 1);
	u->repo_id = repo_id;
	r->state = u;
	r->on_cleanup = api_upload_cleanup;
	r->on_end = api_upload_end;
	if (r->method == HTTP_PUT) {
		const char *dg = req_query(r, "digest");
		if (!dg) {
			req_fail(r, BERR_DIGEST_INVALID, "PUT to complete an upload needs ?digest=");
			return;
		}
		if (digest_parse(dg, &u->digest, &r->err) < 0) {
			req_respond_error(r, &r->err);
			return;
		}
		u->finish = true;
	}
	if (api_upload_range(r, u) < 0) {
		req_respond_error(r, &r->err);
		return;
	}
	/* A PUT without a body completes what the PATCHes sent; anything with a body, or a
	 * PATCH, appends a chunk. */
	if ((r->method == HTTP_PATCH || req_has_body(r) || u->has_range) &&
	    !api_upload_stream(r, u, u->has_range ? u->range.start : UINT64_MAX))
		req_respond_error(r, &r->err);
}
