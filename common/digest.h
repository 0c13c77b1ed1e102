/* Content digests ("sha256:<64 hex>", "sha512:<128 hex>"): parsing and validating the
 * string form, and computing them incrementally over a stream with OpenSSL's EVP. */
#ifndef BERTH_DIGEST_H
#define BERTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"

enum digest_algo { DIGEST_SHA256 = 0, DIGEST_SHA512 = 1 };

/* Longest string form: "sha512:" + 128 hex + NUL. */
#define DIGEST_STR_MAX 136

struct digest {
	enum digest_algo algo;
	char str[DIGEST_STR_MAX]; /* canonical "algo:hex", lowercase */
};

/* Parse and validate s (exactly "sha256:" + 64 lowercase hex, or "sha512:" + 128).
 * Unknown algorithm, wrong length, uppercase or other characters: BERR_DIGEST_INVALID. */
int digest_parse(const char *s, struct digest *out, struct berr *err);
/* Same for a slice that is not NUL-terminated. */
int digest_parse_n(const char *s, size_t len, struct digest *out, struct berr *err);
/* The hex part of d ("abcd..."), pointing into d->str. */
const char *digest_hex(const struct digest *d);
/* "sha256" or "sha512". */
const char *digest_algo_name(enum digest_algo algo);
bool digest_equal(const struct digest *a, const struct digest *b);

/* Incremental hashing. digest_ctx_new returns a heap object the caller frees with
 * digest_ctx_free. digest_ctx_final fills out and leaves the context unusable until
 * digest_ctx_reset. */
struct digest_ctx;
struct digest_ctx *digest_ctx_new(enum digest_algo algo);
void digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len);
void digest_ctx_final(struct digest_ctx *ctx, struct digest *out);
void digest_ctx_reset(struct digest_ctx *ctx);
/* Bytes hashed so far since new/reset. */
uint64_t digest_ctx_length(const struct digest_ctx *ctx);
enum digest_algo digest_ctx_algo(const struct digest_ctx *ctx);
void digest_ctx_free(struct digest_ctx *ctx);
/* The running state as a short printable string (no newline, under 512 bytes) that
 * digest_ctx_import turns back into a context continuing where this one stands, on any
 * host. Caller frees. */
char *digest_ctx_export(const struct digest_ctx *ctx);
/* A context from digest_ctx_export's string; NULL with err if it is malformed. */
struct digest_ctx *digest_ctx_import(const char *state, struct berr *err);

/* One-shot digest of a buffer. */
void digest_buffer(enum digest_algo algo, const void *data, size_t len, struct digest *out);
/* Digest of an open file from offset 0 to EOF (reads with pread, 1 MiB at a time). */
int digest_fd(int fd, enum digest_algo algo, struct digest *out, uint64_t *size_out, struct berr *err);

#endif
