/* Drives storage/driver_s3.c directly against a real bucket with the single-CopyObject limit
 * lowered from 5 GiB to 6 MiB, so the multipart copy (UploadPartCopy in ranges) that commits
 * and quarantines blobs over 5 GiB is exercised with a 13 MB blob. Run by test_s3.sh with
 * S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and S3_PREFIX set. TAP.
 * Also the commit of writes to a blob's own key when what it expects is not there: the
 * held-back bytes gone (a cancel took them), another size, no bytes for a digest that is
 * not the empty blob's, a completed multipart upload whose object went: each is refused and
 * nothing is written at the blob's key. And the memory such writes hold: over the budget
 * (lowered to 400 kB) one is staged as a tail instead, and one whose commit failed is
 * staged by upload_spill; both then commit from the staged bytes. And the multipart upload
 * an upload recorded gone (aborted by a second driver on the bucket, or by a raw
 * AbortMultipartUpload): its commit, preparation or next part answers BLOB_UPLOAD_INVALID,
 * nothing reaches the blob key, the upload's abort leaves nothing. */
#define S3_COPY_MAX  (UINT64_C(6) << 20)
#define S3_COPY_PART (UINT64_C(5) << 20)
/* Room for one held-back write of 300 kB, not two. */
#define S3_PENDING_BUDGET 400000
#include "storage/driver_s3.c"

#include "tests/unit/tap.h"

#define BLOB_SIZE 13000000u

/* Write `len` bytes of data to upload id at blob d's key (as a monolithic upload does):
 * 0 once the writer finished with them verified and held back for the commit. */
static int write_at_blob(void *drv, const struct blob_driver_ops *ops, const char *id, const struct digest *d,
                         const char *data, size_t len, struct berr *err)
{
	struct blob_writer *w = NULL;
	if (ops->upload_begin(drv, id, err) < 0 || ops->upload_open_at_blob(drv, id, d, &w, err) < 0)
		return -1;
	struct digest_ctx *ctx = digest_ctx_new(d->algo);
	digest_ctx_update(ctx, data, len);
	char *state = digest_ctx_export(ctx);
	digest_ctx_free(ctx);
	w->checkpoint(w, state);
	free(state);
	bool ok = w->write(w, data, len, err) == 0;
	return w->finish(w, ok, err) == 0 && ok ? 0 : -1;
}

/* Whether blob d is absent from the bucket. */
static bool blob_absent(void *drv, const struct blob_driver_ops *ops, const struct digest *d)
{
	uint64_t size = 0;
	struct berr e = {0};
	return ops->stat(drv, d, &size, &e) < 0 && e.code == BERR_BLOB_UNKNOWN;
}

/* The commits of writes to a blob's key that must be refused, leaving nothing at the key. */
static void refused_commits(void *drv, const struct blob_driver_ops *ops, const char *data)
{
	struct s3_driver *s3 = drv;
	struct berr err = {0};
	const size_t small = 300000, large = S3_PART_SIZE + 700000;
	struct digest ds, dl, dempty;
	digest_buffer(DIGEST_SHA256, data + 1, small, &ds);
	digest_buffer(DIGEST_SHA256, data + 2, large, &dl);
	digest_buffer(DIGEST_SHA256, "", 0, &dempty);

	/* A cancel takes the held-back bytes (s3_upload_abort) before it removes the state. */
	const char *id = "0c0c0c0c-0000-4000-8000-000000000021";
	bool ok = write_at_blob(drv, ops, id, &ds, data + 1, small, &err) == 0;
	s3_pending_put(s3, s3_pending_get(s3, id, true));
	struct berr e2 = {0};
	ok = ok && ops->upload_prepare(drv, id, &ds, small, &e2) < 0 && e2.code == BERR_BLOB_UPLOAD_INVALID;
	struct berr e3 = {0};
	ok = ok && ops->upload_commit(drv, id, &ds, small, &e3) < 0 && e3.code == BERR_BLOB_UPLOAD_INVALID;
	if (!tap_ok(ok && blob_absent(drv, ops, &ds),
	            "held-back bytes gone: prepare and commit refuse, nothing at the blob key"))
		printf("# %s | %s | %s\n", err.message, e2.message, e3.message);
	ops->upload_abort(drv, id, NULL);

	id = "0c0c0c0c-0000-4000-8000-000000000022";
	ok = write_at_blob(drv, ops, id, &dl, data + 2, large, &err) == 0;
	s3_pending_drop(s3, id);
	berr_clear(&e3);
	ok = ok && ops->upload_commit(drv, id, &dl, large, &e3) < 0 && e3.code == BERR_BLOB_UPLOAD_INVALID;
	if (!tap_ok(ok && blob_absent(drv, ops, &dl),
	            "multipart write at the blob key gone: commit refuses, nothing at the blob key"))
		printf("# %s | %s\n", err.message, e3.message);
	ops->upload_abort(drv, id, NULL);

	id = "0c0c0c0c-0000-4000-8000-000000000023";
	ok = write_at_blob(drv, ops, id, &ds, data + 1, small, &err) == 0;
	berr_clear(&e3);
	ok = ok && ops->upload_commit(drv, id, &ds, small - 1, &e3) < 0 && e3.code == BERR_BLOB_UPLOAD_INVALID;
	if (!tap_ok(ok && blob_absent(drv, ops, &ds), "a commit with another size than was written is refused"))
		printf("# %s | %s\n", err.message, e3.message);
	ops->upload_abort(drv, id, NULL);

	id = "0c0c0c0c-0000-4000-8000-000000000024";
	ok = ops->upload_begin(drv, id, &err) == 0;
	berr_clear(&e3);
	ok = ok && ops->upload_commit(drv, id, &ds, 0, &e3) < 0 && e3.code == BERR_BLOB_UPLOAD_INVALID;
	if (!tap_ok(ok && blob_absent(drv, ops, &ds), "an empty upload commits only as the empty blob"))
		printf("# %s | %s\n", err.message, e3.message);
	ok = ops->upload_commit(drv, id, &dempty, 0, &err) == 0;
	uint64_t size = 1;
	ok = ok && ops->stat(drv, &dempty, &size, &err) == 0 && size == 0;
	if (!tap_ok(ok, "and as that it is stored"))
		printf("# %s\n", err.message);
	ops->upload_abort(drv, id, NULL);
	ops->remove(drv, &dempty, NULL);

	/* Completed under the lock, the metadata failed, the object was collected: a retry
	 * cannot complete that multipart upload again. */
	id = "0c0c0c0c-0000-4000-8000-000000000025";
	ok = write_at_blob(drv, ops, id, &dl, data + 2, large, &err) == 0 &&
	     ops->upload_commit(drv, id, &dl, large, &err) == 0 && ops->remove(drv, &dl, &err) == 0;
	berr_clear(&e3);
	ok = ok && ops->upload_commit(drv, id, &dl, large, &e3) < 0 && e3.code == BERR_BLOB_UPLOAD_INVALID;
	if (!tap_ok(ok && blob_absent(drv, ops, &dl), "a completed multipart upload whose object went is not retried"))
		printf("# %s | %s\n", err.message, e3.message);
	ops->upload_abort(drv, id, NULL);
}

/* How many objects are under uploads/<id>/ (-1 if the listing failed). */
static int upload_objects(struct s3_driver *s3, const char *id)
{
	struct {
		char **keys;
		size_t n, cap;
	} c = {0};
	char *prefix = xasprintf("%suploads/%s/", s3->prefix, id);
	struct berr e = {0};
	int rc = s3_list(s3, prefix, NULL, s3_collect, &c, &e);
	free(prefix);
	for (size_t i = 0; i < c.n; i++)
		free(c.keys[i]);
	free(c.keys);
	return rc < 0 ? -1 : (int)c.n;
}

/* Abort the multipart upload upload id's state records, behind the driver's back (a raw
 * AbortMultipartUpload, as a lifecycle rule or an operator would). */
static bool abort_recorded_mp(struct s3_driver *s3, const char *id, struct berr *err)
{
	struct s3_state st;
	if (s3_state_load(s3, id, &st, err) < 0)
		return false;
	char *data_key = s3_upload_key(s3, id, "data");
	bool ok = st.mp && s3_mp_abort(s3, st.key ? st.key : data_key, st.mp, err) == 0;
	free(data_key);
	s3_state_free(&st);
	return ok;
}

/* A staged upload of len bytes of data as one chunk (the normal path). */
static bool stage(void *drv, const struct blob_driver_ops *ops, const char *id, const char *data, size_t len,
                  struct berr *err)
{
	struct blob_writer *w = NULL;
	if (ops->upload_begin(drv, id, err) < 0 || ops->upload_open(drv, id, 0, &w, err) < 0)
		return false;
	struct digest_ctx *ctx = digest_ctx_new(DIGEST_SHA256);
	digest_ctx_update(ctx, data, len);
	char *state = digest_ctx_export(ctx);
	digest_ctx_free(ctx);
	w->checkpoint(w, state);
	free(state);
	bool ok = w->write(w, data, len, err) == 0;
	return w->finish(w, ok, err) == 0 && ok;
}

static bool blob_is(void *drv, const struct blob_driver_ops *ops, const struct digest *d, const char *data, size_t len);

/* The multipart upload an upload recorded is gone (another node aborted it, a lifecycle rule,
 * an operator): every call that needs it answers BLOB_UPLOAD_INVALID, nothing reaches the
 * blob key, and the upload's abort (what the server does on that error) leaves nothing; a
 * transient failure (no connection) keeps what is held for a retry. node2 is a second
 * driver on the same bucket: another node. */
static void gone_multipart(void *drv, void *node2, const struct blob_driver_ops *ops, const char *data)
{
	struct s3_driver *s3 = drv;
	struct berr err = {0}, e2 = {0};
	const size_t large = S3_PART_SIZE + 500000;
	struct digest dl, dp;
	digest_buffer(DIGEST_SHA256, data + 5, large, &dl);
	digest_buffer(DIGEST_SHA256, data + 6, S3_PART_SIZE, &dp);

	/* Another node opens a writer on the upload (a PATCH sent there between the body and
	 * the commit): it aborts the multipart write at the blob key this node holds. */
	const char *id = "0c0c0c0c-0000-4000-8000-000000000041";
	struct blob_writer *w = NULL;
	bool ok = write_at_blob(drv, ops, id, &dl, data + 5, large, &err) == 0 &&
	          ops->upload_open(node2, id, 0, &w, &err) == 0 && w->finish(w, false, &err) == 0;
	ok = ok && ops->upload_prepare(drv, id, &dl, large, &err) == 0;
	ok = ok && ops->upload_commit(drv, id, &dl, large, &e2) < 0 && e2.code == BERR_BLOB_UPLOAD_INVALID &&
	     strstr(e2.message, "multipart upload aborted");
	struct s3_pending *p = s3_pending_get(s3, id, false);
	ok = ok && !p;
	s3_pending_put(s3, p);
	/* What the server does on that error: end the upload. */
	struct berr ea = {0};
	bool ended = ops->upload_abort(drv, id, &ea) == 0 && upload_objects(s3, id) == 0;
	if (!tap_ok(ok && blob_absent(drv, ops, &dl) && ended,
	            "multipart write at the blob key aborted by another node: BLOB_UPLOAD_INVALID, nothing held, "
	            "nothing at the blob key, the upload's objects go with it"))
		printf("# %s | %s | %s\n", err.message, e2.message, ea.message);

	/* The same, the multipart upload aborted behind every node's back (a lifecycle rule);
	 * first the store is unreachable: that failure is transient and keeps the write. */
	id = "0c0c0c0c-0000-4000-8000-000000000042";
	ok = write_at_blob(drv, ops, id, &dl, data + 5, large, &err) == 0;
	char *endpoint = s3->endpoint;
	s3->endpoint = xstrdup("http://127.0.0.1:1");
	berr_clear(&e2);
	ok = ok && ops->upload_commit(drv, id, &dl, large, &e2) < 0 && e2.code == BERR_UNAVAILABLE;
	free(s3->endpoint);
	s3->endpoint = endpoint;
	p = s3_pending_get(s3, id, false);
	ok = ok && p;
	s3_pending_put(s3, p);
	if (!tap_ok(ok, "a commit that cannot reach the store fails as unavailable and keeps the write"))
		printf("# %s | %s\n", err.message, e2.message);
	ok = abort_recorded_mp(s3, id, &err);
	berr_clear(&e2);
	ok = ok && ops->upload_commit(drv, id, &dl, large, &e2) < 0 && e2.code == BERR_BLOB_UPLOAD_INVALID;
	p = s3_pending_get(s3, id, false);
	ok = ok && !p;
	s3_pending_put(s3, p);
	/* What the server does on that error: end the upload. */
	berr_clear(&ea);
	ended = ops->upload_abort(drv, id, &ea) == 0 && upload_objects(s3, id) == 0;
	if (!tap_ok(ok && blob_absent(drv, ops, &dl) && ended,
	            "its multipart upload aborted behind its back: BLOB_UPLOAD_INVALID, nothing held, nothing at "
	            "the blob key, the upload's objects go with it"))
		printf("# %s | %s | %s\n", err.message, e2.message, ea.message);

	/* The normal path: staged parts and a tail, the multipart upload aborted, then a commit
	 * (UploadPartCopy of the tail), or parts and no tail (CompleteMultipartUpload). */
	const size_t sizes[] = {large, S3_PART_SIZE};
	const char *ids[] = {"0c0c0c0c-0000-4000-8000-000000000043", "0c0c0c0c-0000-4000-8000-000000000044"};
	const struct digest *ds[] = {&dl, &dp};
	const char *what[] = {"a tail", "no tail"};
	for (size_t i = 0; i < 2; i++) {
		berr_clear(&err);
		berr_clear(&e2);
		ok = stage(drv, ops, ids[i], data + 5 + i, sizes[i], &err) && abort_recorded_mp(s3, ids[i], &err);
		ok = ok && ops->upload_prepare(drv, ids[i], ds[i], sizes[i], &e2) < 0 &&
		     e2.code == BERR_BLOB_UPLOAD_INVALID;
		struct berr e3 = {0};
		ok = ok && ops->upload_commit(drv, ids[i], ds[i], sizes[i], &e3) < 0 &&
		     e3.code == BERR_BLOB_UPLOAD_INVALID;
		/* What the server does on that error: end the upload. */
		berr_clear(&ea);
		ended = ops->upload_abort(drv, ids[i], &ea) == 0 && upload_objects(s3, ids[i]) == 0;
		if (!tap_ok(ok && blob_absent(drv, ops, ds[i]) && ended,
		            "staged parts and %s, multipart upload aborted: prepare and commit answer "
		            "BLOB_UPLOAD_INVALID, nothing at the blob key, the upload's objects go with it",
		            what[i]))
			printf("# %s | %s | %s | %s\n", err.message, e2.message, e3.message, ea.message);
	}

	/* A later chunk that fills a part (UploadPart) on an upload whose multipart upload is
	 * gone: refused as BLOB_UPLOAD_INVALID, the chunk saves nothing. */
	id = "0c0c0c0c-0000-4000-8000-000000000045";
	berr_clear(&e2);
	ok = stage(drv, ops, id, data + 5, large, &err) && abort_recorded_mp(s3, id, &err) &&
	     ops->upload_open(drv, id, large, &w, &err) == 0;
	if (ok) {
		ok = w->write(w, data, S3_PART_SIZE, &e2) < 0 && e2.code == BERR_BLOB_UPLOAD_INVALID;
		w->finish(w, false, NULL);
	}
	uint64_t size = 0;
	ok = ok && ops->upload_size(drv, id, &size, &err) == 0 && size == large;
	/* What the server does on that error: end the upload. */
	berr_clear(&ea);
	ended = ops->upload_abort(drv, id, &ea) == 0 && upload_objects(s3, id) == 0;
	if (!tap_ok(ok && ended, "a later chunk's UploadPart to the aborted multipart upload: BLOB_UPLOAD_INVALID, "
	                         "nothing saved, the upload's objects go with its end"))
		printf("# %s | %s | %s\n", err.message, e2.message, ea.message);
	/* Not gone but done: an earlier commit's completion (the tail copied in as the last part,
	 * the multipart upload completed into uploads/<id>/data) went through and its answer was
	 * lost. The next commit finds the object in place, of the upload's size, and makes the blob
	 * from it instead of ending the upload. (When the completion finishes only between that
	 * commit's HEAD and its UploadPartCopy, the copy's NoSuchUpload leads to the same HEAD,
	 * s3_completed_anyway; that interleaving is not reproduced here.) */
	id = "0c0c0c0c-0000-4000-8000-000000000046";
	berr_clear(&err);
	berr_clear(&e2);
	ok = stage(drv, ops, id, data + 5, large, &err);
	struct s3_state st;
	char *data_key = s3_upload_key(s3, id, "data");
	if (ok && s3_state_load(s3, id, &st, &err) == 0) {
		ok = st.tail && s3_complete(s3, id, &st, data_key, &err) == 0;
		s3_state_free(&st);
	} else {
		ok = false;
	}
	free(data_key);
	ok = ok && ops->upload_prepare(drv, id, &dl, large, &e2) == 0 &&
	     ops->upload_commit(drv, id, &dl, large, &e2) == 0;
	bool made = ok && blob_is(drv, ops, &dl, data + 5, large);
	berr_clear(&ea);
	ended = ops->upload_finished(drv, id, &ea) == 0;
	s3_janitor_drain(s3, 60); /* the staging objects go after the commit's answer */
	ended = ended && upload_objects(s3, id) == 0;
	if (!tap_ok(made && ended, "a completion whose answer was lost: the next commit finds the object in place "
	                           "and makes the blob from it; nothing is left under uploads/"))
		printf("# %s | %s | %s\n", err.message, e2.message, ea.message);
	ops->remove(drv, &dl, NULL);
}

/* Whether blob d in the bucket has exactly the len bytes at data. */
static bool blob_is(void *drv, const struct blob_driver_ops *ops, const struct digest *d, const char *data, size_t len)
{
	struct blob_reader br = {.fd = -1};
	struct berr e = {0};
	if (ops->open_read(drv, d, &br, &e) < 0)
		return false;
	char *buf = xmalloc(len + 1);
	size_t pos = 0;
	ssize_t n = 1;
	while (pos < len && (n = br.stream->read(br.stream, buf + pos, len - pos, pos, len, &e)) > 0)
		pos += (size_t)n;
	bool same = br.size == len && pos == len && memcmp(buf, data, len) == 0;
	br.stream->close(br.stream);
	free(buf);
	return same;
}

/* Small writes to a blob's key held in memory: bounded, and staged when their commit fails. */
static void held_back_bounds(void *drv, const struct blob_driver_ops *ops, const char *data)
{
	struct s3_driver *s3 = drv;
	struct berr err = {0};
	const size_t small = 300000;
	struct digest d1, d2;
	digest_buffer(DIGEST_SHA256, data + 3, small, &d1);
	digest_buffer(DIGEST_SHA256, data + 4, small, &d2);
	const char *id1 = "0c0c0c0c-0000-4000-8000-000000000031", *id2 = "0c0c0c0c-0000-4000-8000-000000000032";
	bool ok = write_at_blob(drv, ops, id1, &d1, data + 3, small, &err) == 0 &&
	          write_at_blob(drv, ops, id2, &d2, data + 4, small, &err) == 0;
	struct s3_pending *p1 = s3_pending_get(s3, id1, false), *p2 = s3_pending_get(s3, id2, false);
	uint64_t staged = 0, held = s3->pending_bytes;
	ok = ok && p1 && p1->len == small && !p2 && ops->upload_size(drv, id2, &staged, &err) == 0;
	s3_pending_put(s3, p1);
	s3_pending_put(s3, p2);
	if (!tap_ok(ok && staged == small && held == small,
	            "over the budget a write to a blob key is staged as a tail (held %llu, staged %llu)",
	            (unsigned long long)held, (unsigned long long)staged))
		printf("# %s\n", err.message);
	ok =
	    ops->upload_prepare(drv, id2, &d2, small, &err) == 0 && ops->upload_commit(drv, id2, &d2, small, &err) == 0;
	if (!tap_ok(ok && blob_is(drv, ops, &d2, data + 4, small), "and it commits from there"))
		printf("# %s\n", err.message);
	ops->upload_finished(drv, id2, NULL);

	/* The commit of id1 failed (say the database's lock timed out): its bytes are staged. */
	int sp = ops->upload_spill(drv, id1, &err);
	p1 = s3_pending_get(s3, id1, false);
	staged = 0;
	char *hash = NULL;
	ok = sp == 1 && !p1 && s3->pending_bytes == 0 && ops->upload_checkpoint(drv, id1, &staged, &hash, &err) == 1;
	s3_pending_put(s3, p1);
	if (!tap_ok(ok && staged == small && hash,
	            "a held-back write whose commit failed is staged with its digest state"))
		printf("# %s\n", err.message);
	free(hash);
	ok = ops->upload_spill(drv, id1, &err) == 0 && ops->upload_prepare(drv, id1, &d1, small, &err) == 0 &&
	     ops->upload_commit(drv, id1, &d1, small, &err) == 0;
	if (!tap_ok(ok && blob_is(drv, ops, &d1, data + 3, small), "and its retry commits it"))
		printf("# %s\n", err.message);
	ops->upload_finished(drv, id1, NULL);
	ops->remove(drv, &d1, NULL);
	ops->remove(drv, &d2, NULL);
}

static int count_blob(void *ctx, const struct digest *d)
{
	(void)d;
	(*(int *)ctx)++;
	return 0;
}

int main(void)
{
	const char *ep = getenv("S3_ENDPOINT"), *bucket = getenv("S3_BUCKET");
	if (!ep || !bucket) {
		printf("Bail out! S3_ENDPOINT and S3_BUCKET must be set\n");
		return 1;
	}
	struct blobstore_s3_config cfg = {ep,
	                                  bucket,
	                                  "us-east-1",
	                                  getenv("S3_PREFIX") ? getenv("S3_PREFIX") : "copycheck/",
	                                  getenv("AWS_ACCESS_KEY_ID"),
	                                  getenv("AWS_SECRET_ACCESS_KEY")};
	struct berr err = {0};
	const struct blob_driver_ops *ops;
	void *drv = driver_s3_open(&cfg, &ops, &err);
	if (!tap_ok(drv != NULL, "open the bucket")) {
		printf("# %s\n", err.message);
		return tap_done();
	}
	char *data = xmalloc(BLOB_SIZE);
	for (size_t i = 0; i < BLOB_SIZE; i++)
		data[i] = (char)(i * 7 + i / 4099);
	struct digest d;
	digest_buffer(DIGEST_SHA256, data, BLOB_SIZE, &d);

	const char *id = "0c0c0c0c-0000-4000-8000-000000000013";
	struct blob_writer *w = NULL;
	int ok = ops->upload_begin(drv, id, &err) == 0 && ops->upload_open(drv, id, 0, &w, &err) == 0;
	for (size_t off = 0; ok && off < BLOB_SIZE; off += 1000000)
		ok = w->write(w, data + off, BLOB_SIZE - off < 1000000 ? BLOB_SIZE - off : 1000000, &err) == 0;
	if (w)
		ok = w->finish(w, ok, &err) == 0 && ok;
	if (!tap_ok(ok, "stage 13 MB as one chunk (one 8 MiB part and a tail)"))
		printf("# %s\n", err.message);

	ok = ops->upload_commit(drv, id, &d, BLOB_SIZE, &err) == 0;
	if (!tap_ok(ok, "commit copies the completed upload with a multipart copy (3 ranges)"))
		printf("# %s\n", err.message);
	ops->upload_abort(drv, id, NULL);

	uint64_t size = 0;
	ok = ops->stat(drv, &d, &size, &err) == 0;
	tap_ok(ok && size == BLOB_SIZE, "the blob has its size (%llu)", (unsigned long long)size);

	struct blob_reader br = {.fd = -1};
	struct digest got = {0};
	ok = ops->open_read(drv, &d, &br, &err) == 0;
	if (ok) {
		struct digest_ctx *ctx = digest_ctx_new(DIGEST_SHA256);
		char buf[65536];
		uint64_t pos = 0;
		ssize_t n;
		while ((n = br.stream->read(br.stream, buf, sizeof buf, pos, BLOB_SIZE, &err)) > 0) {
			digest_ctx_update(ctx, buf, (size_t)n);
			pos += (uint64_t)n;
			if (pos == BLOB_SIZE)
				break;
		}
		digest_ctx_final(ctx, &got);
		digest_ctx_free(ctx);
		br.stream->close(br.stream);
		ok = n > 0 && pos == BLOB_SIZE;
	}
	tap_ok(ok && digest_equal(&got, &d), "the copy reads back with the right digest");

	ok = ops->quarantine(drv, &d, &err) == 0;
	if (!tap_ok(ok, "quarantine moves it aside with a multipart copy"))
		printf("# %s\n", err.message);
	struct berr e2 = {0};
	tap_ok(ops->stat(drv, &d, &size, &e2) < 0 && e2.code == BERR_BLOB_UNKNOWN, "and the blob key is gone");
	int n = 0;
	ok = ops->list(drv, count_blob, &n, &err) == 0;
	tap_ok(ok && n == 0, "no blob is listed any more (%d)", n);

	refused_commits(drv, ops, data);
	held_back_bounds(drv, ops, data);
	void *node2 = driver_s3_open(&cfg, &ops, &err);
	if (tap_ok(node2 != NULL, "open the bucket as a second node")) {
		gone_multipart(drv, node2, ops, data);
		ops->close(node2);
	} else {
		printf("# %s\n", err.message);
	}

	free(data);
	ops->close(drv);
	return tap_done();
}
