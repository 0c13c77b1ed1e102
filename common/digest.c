/* Content digests: strict parsing of the "algo:hex" string form, and incremental hashing
 * over OpenSSL 3's EVP interface (sha256, sha512). */
#include "common/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"

/* Longest part of a rejected input quoted back in an error message. */
#define DIGEST_QUOTE_MAX 80
/* digest_fd reads this much per pread. */
#define DIGEST_FD_CHUNK (1024 * 1024)

static const struct {
	const char *name;
	size_t hex_len;
} digest_algos[] = {
    [DIGEST_SHA256] = {"sha256", 64},
    [DIGEST_SHA512] = {"sha512", 128},
};

struct digest_ctx {
	EVP_MD_CTX *md;
	enum digest_algo algo;
	uint64_t length;
};

static bool digest_is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Fill err for a rejected digest, quoting the input and saying why. */
static int digest_invalid(struct berr *err, const char *s, size_t len, const char *why)
{
	char q[DIGEST_QUOTE_MAX * 4 + 8];
	berr_quote(s, len, DIGEST_QUOTE_MAX, q, sizeof q);
	return berr_set(err, BERR_DIGEST_INVALID, "invalid digest '%s': %s", q, why);
}

int digest_parse_n(const char *s, size_t len, struct digest *out, struct berr *err)
{
	if (!s || len == 0)
		return berr_set(err, BERR_DIGEST_INVALID, "invalid digest '': empty");
	const char *colon = memchr(s, ':', len);
	if (!colon)
		return digest_invalid(err, s, len, "expected '<algorithm>:<hex>'");
	size_t alen = (size_t)(colon - s), hlen = len - alen - 1;
	for (size_t a = 0; a < sizeof digest_algos / sizeof digest_algos[0]; a++) {
		if (alen != strlen(digest_algos[a].name) || memcmp(s, digest_algos[a].name, alen) != 0)
			continue;
		if (hlen != digest_algos[a].hex_len || !digest_is_lower_hex(colon + 1, hlen)) {
			char why[64];
			snprintf(why, sizeof why, "%s needs exactly %zu lowercase hex characters", digest_algos[a].name,
			         digest_algos[a].hex_len);
			return digest_invalid(err, s, len, why);
		}
		out->algo = (enum digest_algo)a;
		memcpy(out->str, s, len);
		out->str[len] = '\0';
		return 0;
	}
	return digest_invalid(err, s, len, "unsupported algorithm (sha256 or sha512)");
}

int digest_parse(const char *s, struct digest *out, struct berr *err)
{
	return digest_parse_n(s, s ? strlen(s) : 0, out, err);
}

const char *digest_hex(const struct digest *d)
{
	const char *colon = strchr(d->str, ':');
	return colon ? colon + 1 : d->str;
}

const char *digest_algo_name(enum digest_algo algo)
{
	return (unsigned)algo <= DIGEST_SHA512 ? digest_algos[algo].name : "unknown";
}

bool digest_equal(const struct digest *a, const struct digest *b)
{
	return a->algo == b->algo && strcmp(a->str, b->str) == 0;
}

/* EVP only fails here on allocation failure or a broken OpenSSL install; like xmalloc, we
 * abort rather than make every caller of a hash update handle an impossible error. */
static void digest_evp_fail(const char *what)
{
	fprintf(stderr, "berth: OpenSSL %s failed\n", what);
	abort();
}

static void digest_ctx_init(struct digest_ctx *ctx)
{
	const EVP_MD *md = ctx->algo == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
	if (EVP_DigestInit_ex(ctx->md, md, NULL) != 1)
		digest_evp_fail("EVP_DigestInit_ex");
	ctx->length = 0;
}

struct digest_ctx *digest_ctx_new(enum digest_algo algo)
{
	struct digest_ctx *ctx = xcalloc(1, sizeof *ctx);
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md)
		digest_evp_fail("EVP_MD_CTX_new");
	ctx->algo = algo;
	digest_ctx_init(ctx);
	return ctx;
}

void digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (EVP_DigestUpdate(ctx->md, data, len) != 1)
		digest_evp_fail("EVP_DigestUpdate");
	ctx->length += len;
}

void digest_ctx_final(struct digest_ctx *ctx, struct digest *out)
{
	static const char hexdig[] = "0123456789abcdef";
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx->md, raw, &n) != 1)
		digest_evp_fail("EVP_DigestFinal_ex");
	out->algo = ctx->algo;
	int o = snprintf(out->str, sizeof out->str, "%s:", digest_algos[ctx->algo].name);
	for (unsigned int i = 0; i < n; i++) {
		out->str[o++] = hexdig[raw[i] >> 4];
		out->str[o++] = hexdig[raw[i] & 0xf];
	}
	out->str[o] = '\0';
}

void digest_ctx_reset(struct digest_ctx *ctx)
{
	digest_ctx_init(ctx);
}

uint64_t digest_ctx_length(const struct digest_ctx *ctx)
{
	return ctx->length;
}

enum digest_algo digest_ctx_algo(const struct digest_ctx *ctx)
{
	return ctx->algo;
}

void digest_ctx_free(struct digest_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

void digest_buffer(enum digest_algo algo, const void *data, size_t len, struct digest *out)
{
	struct digest_ctx *ctx = digest_ctx_new(algo);
	digest_ctx_update(ctx, data, len);
	digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
}

int digest_fd(int fd, enum digest_algo algo, struct digest *out, uint64_t *size_out, struct berr *err)
{
	cleanup_free unsigned char *buf = xmalloc(DIGEST_FD_CHUNK);
	struct digest_ctx *ctx = digest_ctx_new(algo);
	uint64_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, DIGEST_FD_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			digest_ctx_free(ctx);
			return berr_sys(err, e, "digest: read at offset %llu", (unsigned long long)off);
		}
		if (n == 0)
			break;
		digest_ctx_update(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
	if (size_out)
		*size_out = off;
	return 0;
}
