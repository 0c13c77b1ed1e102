/* AWS Signature Version 4: canonical request, string to sign, the derived signing key and
 * the signature, as the S3 API reference describes them. */
#include "storage/s3_sigv4.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define SIGV4_MAX_HEADERS 16

/* HMAC-SHA256 of msg under key into out (32 bytes). Aborts if OpenSSL cannot do HMAC,
 * as for any broken-install crypto failure (see common/digest.c). */
static void sigv4_hmac(const unsigned char *key, size_t keylen, const char *msg, size_t msglen, unsigned char *out)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	size_t n = 0;
	if (!ctx || EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)msg, msglen) != 1 || EVP_MAC_final(ctx, out, &n, 32) != 1 ||
	    n != 32) {
		fprintf(stderr, "berth: OpenSSL HMAC-SHA256 failed\n");
		abort();
	}
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

static void sigv4_hex(const unsigned char *raw, size_t n, char *out)
{
	static const char hexdig[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[raw[i] >> 4];
		out[2 * i + 1] = hexdig[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sigv4_sha256_hex(const char *s, size_t len, char *out)
{
	unsigned char raw[32];
	unsigned int n = 0;
	if (EVP_Digest(s, len, raw, &n, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "berth: OpenSSL SHA-256 failed\n");
		abort();
	}
	sigv4_hex(raw, 32, out);
}

char *sigv4_uri_encode(const char *s, bool keep_slash)
{
	static const char hexdig[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hexdig[c >> 4];
			*o++ = hexdig[c & 15];
		}
	}
	*o = '\0';
	return out;
}

void sigv4_amz_date(time_t t, char *out)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int sigv4_header_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sigv4_header *)a)->name, ((const struct sigv4_header *)b)->name);
}

/* The signature (64 hex + NUL into sig) of a canonical request, and its credential scope. */
static void sigv4_signature(const struct sigv4_creds *c, const char *canonical, const char *amz_date, char *scope,
                            size_t scopelen, char *sig)
{
	char day[9], hash[65];
	snprintf(day, sizeof day, "%.8s", amz_date);
	snprintf(scope, scopelen, "%s/%s/%s/aws4_request", day, c->region, c->service);
	sigv4_sha256_hex(canonical, strlen(canonical), hash);
	cleanup_free char *sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);
	cleanup_free char *k0 = xasprintf("AWS4%s", c->secret_key);
	unsigned char k1[32], k2[32], k3[32], k4[32], raw[32];
	sigv4_hmac((unsigned char *)k0, strlen(k0), day, strlen(day), k1);
	sigv4_hmac(k1, 32, c->region, strlen(c->region), k2);
	sigv4_hmac(k2, 32, c->service, strlen(c->service), k3);
	sigv4_hmac(k3, 32, "aws4_request", 12, k4);
	sigv4_hmac(k4, 32, sts, strlen(sts), raw);
	sigv4_hex(raw, 32, sig);
}

int sigv4_authorization(const struct sigv4_creds *c, const char *method, const char *path, const char *query,
                        const struct sigv4_header *headers, size_t nheaders, const char *payload_hash,
                        const char *amz_date, char *out, size_t outlen)
{
	if (nheaders > SIGV4_MAX_HEADERS)
		return -1;
	struct sigv4_header sorted[SIGV4_MAX_HEADERS];
	memcpy(sorted, headers, nheaders * sizeof *headers);
	qsort(sorted, nheaders, sizeof *sorted, sigv4_header_cmp);
	size_t hlen = 1, slen = 1;
	for (size_t i = 0; i < nheaders; i++) {
		hlen += strlen(sorted[i].name) + strlen(sorted[i].value) + 2;
		slen += strlen(sorted[i].name) + 1;
	}
	cleanup_free char *canon_headers = xmalloc(hlen);
	cleanup_free char *signed_headers = xmalloc(slen);
	char *h = canon_headers, *s = signed_headers;
	*h = *s = '\0';
	for (size_t i = 0; i < nheaders; i++) {
		h += sprintf(h, "%s:%s\n", sorted[i].name, sorted[i].value);
		s += sprintf(s, "%s%s", i ? ";" : "", sorted[i].name);
	}
	cleanup_free char *canonical =
	    xasprintf("%s\n%s\n%s\n%s\n%s\n%s", method, path, query, canon_headers, signed_headers, payload_hash);
	char scope[256], sig[65];
	sigv4_signature(c, canonical, amz_date, scope, sizeof scope, sig);
	int n = snprintf(out, outlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
	                 c->access_key, scope, signed_headers, sig);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

char *sigv4_presign(const struct sigv4_creds *c, const char *method, const char *base_url, const char *host,
                    const char *path, const char *amz_date, unsigned expires)
{
	char day[9];
	snprintf(day, sizeof day, "%.8s", amz_date);
	cleanup_free char *cred = xasprintf("%s/%s/%s/%s/aws4_request", c->access_key, day, c->region, c->service);
	cleanup_free char *cred_enc = sigv4_uri_encode(cred, false);
	/* Already in sorted order: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders. */
	cleanup_free char *query = xasprintf("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s"
	                                     "&X-Amz-Expires=%u&X-Amz-SignedHeaders=host",
	                                     cred_enc, amz_date, expires);
	cleanup_free char *canonical =
	    xasprintf("%s\n%s\n%s\nhost:%s\n\nhost\n%s", method, path, query, host, SIGV4_UNSIGNED_PAYLOAD);
	char scope[256], sig[65];
	sigv4_signature(c, canonical, amz_date, scope, sizeof scope, sig);
	return xasprintf("%s%s?%s&X-Amz-Signature=%s", base_url, path, query, sig);
}
