/* Content digests: strict parsing of the "algo:hex" string form, and incremental hashing
 * (sha256, sha512) over OpenSSL's SHA256_CTX/SHA512_CTX. Those plain structs (the same
 * assembly EVP uses) let a running hash be exported and resumed on another node. */
/* The SHA*_Init/Update/Final functions are deprecated in OpenSSL 3 in favour of EVP, which
 * cannot export its state; they are kept and tested upstream. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/digest.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
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
	union {
		SHA256_CTX s256;
		SHA512_CTX s512;
	} u;
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

static void digest_ctx_init(struct digest_ctx *ctx)
{
	if (ctx->algo == DIGEST_SHA512)
		SHA512_Init(&ctx->u.s512);
	else
		SHA256_Init(&ctx->u.s256);
	ctx->length = 0;
}

struct digest_ctx *digest_ctx_new(enum digest_algo algo)
{
	struct digest_ctx *ctx = xcalloc(1, sizeof *ctx);
	ctx->algo = algo;
	digest_ctx_init(ctx);
	return ctx;
}

void digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (ctx->algo == DIGEST_SHA512)
		SHA512_Update(&ctx->u.s512, data, len);
	else
		SHA256_Update(&ctx->u.s256, data, len);
	ctx->length += len;
}

void digest_ctx_final(struct digest_ctx *ctx, struct digest *out)
{
	static const char hexdig[] = "0123456789abcdef";
	unsigned char raw[SHA512_DIGEST_LENGTH];
	unsigned int n;
	if (ctx->algo == DIGEST_SHA512) {
		SHA512_Final(raw, &ctx->u.s512);
		n = SHA512_DIGEST_LENGTH;
	} else {
		SHA256_Final(raw, &ctx->u.s256);
		n = SHA256_DIGEST_LENGTH;
	}
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

/* The export format, all numbers in lowercase hex, separated by single spaces:
 *   "v1 ALGO LENGTH H0 .. H7 NUM PENDING"
 * H0..H7 the chaining words, NUM the bytes of the unfinished block and PENDING those
 * bytes (empty when NUM is 0). The bit count is LENGTH * 8 and is not stored twice. */
char *digest_ctx_export(const struct digest_ctx *ctx)
{
	static const char hexdig[] = "0123456789abcdef";
	char pending[2 * SHA512_CBLOCK + 1];
	const unsigned char *p;
	unsigned num;
	uint64_t h[8];
	if (ctx->algo == DIGEST_SHA512) {
		num = ctx->u.s512.num;
		p = ctx->u.s512.u.p;
		for (int i = 0; i < 8; i++)
			h[i] = ctx->u.s512.h[i];
	} else {
		num = ctx->u.s256.num;
		p = (const unsigned char *)ctx->u.s256.data;
		for (int i = 0; i < 8; i++)
			h[i] = ctx->u.s256.h[i];
	}
	for (unsigned i = 0; i < num; i++) {
		pending[2 * i] = hexdig[p[i] >> 4];
		pending[2 * i + 1] = hexdig[p[i] & 15];
	}
	pending[2 * num] = '\0';
	return xasprintf("v1 %s %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64
	                 " %" PRIx64 " %" PRIx64 " %x %s",
	                 digest_algos[ctx->algo].name, ctx->length, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], num,
	                 pending);
}

static int digest_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse one space-terminated lowercase hex number of at most `digits` digits at *s. */
static int digest_take_hex(const char **s, unsigned digits, uint64_t *out)
{
	uint64_t v = 0;
	unsigned n = 0;
	int d;
	while ((d = digest_hexval(**s)) >= 0) {
		if (++n > digits)
			return -1;
		v = v << 4 | (uint64_t)d;
		(*s)++;
	}
	if (n == 0 || **s != ' ')
		return -1;
	(*s)++;
	*out = v;
	return 0;
}

struct digest_ctx *digest_ctx_import(const char *state, struct berr *err)
{
	const char *s = state;
	enum digest_algo algo;
	if (strncmp(s, "v1 sha256 ", 10) == 0)
		algo = DIGEST_SHA256;
	else if (strncmp(s, "v1 sha512 ", 10) == 0)
		algo = DIGEST_SHA512;
	else {
		berr_set(err, BERR_INTERNAL, "saved digest state: unknown format");
		return NULL;
	}
	s += 10;
	unsigned block = algo == DIGEST_SHA512 ? SHA512_CBLOCK : SHA256_CBLOCK;
	unsigned word = algo == DIGEST_SHA512 ? 16 : 8;
	uint64_t length, h[8], num;
	bool ok = digest_take_hex(&s, 16, &length) == 0;
	for (int i = 0; ok && i < 8; i++)
		ok = digest_take_hex(&s, word, &h[i]) == 0;
	/* The pending bytes are exactly what the length leaves of the last block. */
	ok = ok && length < (UINT64_C(1) << 61) && digest_take_hex(&s, 4, &num) == 0 && num == length % block &&
	     strlen(s) == 2 * num;
	for (size_t i = 0; ok && s[i]; i++)
		ok = digest_hexval(s[i]) >= 0;
	if (!ok) {
		berr_set(err, BERR_INTERNAL, "saved digest state is malformed");
		return NULL;
	}
	struct digest_ctx *ctx = digest_ctx_new(algo);
	unsigned char *p;
	if (algo == DIGEST_SHA512) {
		for (int i = 0; i < 8; i++)
			ctx->u.s512.h[i] = h[i];
		ctx->u.s512.Nl = length << 3;
		ctx->u.s512.Nh = length >> 61;
		ctx->u.s512.num = (unsigned)num;
		p = ctx->u.s512.u.p;
	} else {
		for (int i = 0; i < 8; i++)
			ctx->u.s256.h[i] = (SHA_LONG)h[i];
		ctx->u.s256.Nl = (SHA_LONG)(length << 3);
		ctx->u.s256.Nh = (SHA_LONG)(length >> 29);
		ctx->u.s256.num = (unsigned)num;
		p = (unsigned char *)ctx->u.s256.data;
	}
	for (unsigned i = 0; i < num; i++)
		p[i] = (unsigned char)(digest_hexval(s[2 * i]) << 4 | digest_hexval(s[2 * i + 1]));
	ctx->length = length;
	return ctx;
}
