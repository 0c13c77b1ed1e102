/* Password hashing with Debian's libargon2 (Argon2id), random tokens from OpenSSL's
 * CSPRNG, and constant-time comparison. Tokens carry 256 bits of randomness, so a
 * plain SHA-256 of them is a safe stored form; passwords need the slow hash. */
#include "server/secrets.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

/* OWASP's Argon2id minimum: 19 MiB, 2 passes, 1 lane. */
#define ARGON2_T_COST   2
#define ARGON2_M_COST   (19 * 1024)
#define ARGON2_LANES    1
#define ARGON2_SALT_LEN 16
#define ARGON2_HASH_LEN 32

static void secrets_random(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1) {
		log_error("the random generator failed");
		abort();
	}
}

char *secrets_password_hash(const char *password, struct berr *err)
{
	size_t plen = strlen(password);
	if (plen < SECRETS_PASSWORD_MIN || plen > SECRETS_PASSWORD_MAX) {
		berr_set(err, BERR_DENIED, "a password must have %d to %d characters", SECRETS_PASSWORD_MIN,
		         SECRETS_PASSWORD_MAX);
		return NULL;
	}
	unsigned char salt[ARGON2_SALT_LEN];
	secrets_random(salt, sizeof salt);
	size_t enclen =
	    argon2_encodedlen(ARGON2_T_COST, ARGON2_M_COST, ARGON2_LANES, ARGON2_SALT_LEN, ARGON2_HASH_LEN, Argon2_id);
	char *encoded = xmalloc(enclen);
	int rc = argon2id_hash_encoded(ARGON2_T_COST, ARGON2_M_COST, ARGON2_LANES, password, plen, salt, sizeof salt,
	                               ARGON2_HASH_LEN, encoded, enclen);
	if (rc != ARGON2_OK) {
		free(encoded);
		berr_set(err, BERR_INTERNAL, "password hashing failed: %s", argon2_error_message(rc));
		return NULL;
	}
	return encoded;
}

bool secrets_password_verify(const char *encoded, const char *password)
{
	if (!encoded || !*encoded || strncmp(encoded, "$argon2id$", 10) != 0)
		return false;
	size_t plen = strlen(password);
	if (plen > SECRETS_PASSWORD_MAX)
		return false;
	return argon2id_verify(encoded, password, plen) == ARGON2_OK;
}

char *secrets_token_new(const char *prefix)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char raw[33]; /* 264 bits: 52 base32 characters + a bit */
	secrets_random(raw, sizeof raw);
	size_t plen = strlen(prefix);
	char *out = xmalloc(plen + 53);
	memcpy(out, prefix, plen);
	unsigned acc = 0;
	int bits = 0;
	size_t o = plen, i = 0;
	while (o < plen + 52) {
		if (bits < 5) {
			acc = acc << 8 | raw[i++];
			bits += 8;
		}
		bits -= 5;
		out[o++] = alphabet[(acc >> bits) & 31];
	}
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	return out;
}

void secrets_token_hash(const char *token, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

bool secrets_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	/* Compare digests so the time does not depend on where the strings differ. */
	unsigned char da[32], db[32];
	unsigned int n;
	EVP_Digest(a, la, da, &n, EVP_sha256(), NULL);
	EVP_Digest(b, lb, db, &n, EVP_sha256(), NULL);
	return CRYPTO_memcmp(da, db, sizeof da) == 0 && la == lb;
}
