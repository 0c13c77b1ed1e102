/* Drives storage/driver_s3.c directly against a real bucket with the single-CopyObject limit
 * lowered from 5 GiB to 6 MiB, so the multipart copy (UploadPartCopy in ranges) that commits
 * and quarantines blobs over 5 GiB is exercised with a 13 MB blob. Run by test_s3.sh with
 * S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and S3_PREFIX set. TAP. */
#define S3_COPY_MAX  (UINT64_C(6) << 20)
#define S3_COPY_PART (UINT64_C(5) << 20)
#include "storage/driver_s3.c"

#include "tests/unit/tap.h"

#define BLOB_SIZE 13000000u

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

	ok = ops->upload_commit(drv, id, &d, &err) == 0;
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

	free(data);
	ops->close(drv);
	return tap_done();
}
