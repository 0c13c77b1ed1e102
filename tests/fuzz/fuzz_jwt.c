/* libFuzzer target: bearer-token (JWT) parsing and verification (server/token.c), and
 * scope strings. The first byte picks what the rest is:
 *   0: a whole token as a client would send it;
 *   1: the claims JSON of a token with a valid header, signed with berthd's own key, so
 *      the claim checks (issuer, audience, times, subject, access list) are reached;
 *   2: the header JSON of a token with valid claims, signed with berthd's key;
 *   3: a scope string ("repository:NAME:pull,push").
 * A token that verifies must carry what the claim checks promise. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "server/token.h"
#include "tests/fuzz/fuzz.h"

static EVP_PKEY *signing_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/berth-fuzz-jwt.XXXXXX";
	struct berr err;
	if (!mkdtemp(dir) || token_keys_init(dir, &err) < 0) {
		fprintf(stderr, "fuzz_jwt: no signing key: %s\n", err.message);
		abort();
	}
	char path[256];
	snprintf(path, sizeof path, "%s/token-signing-key.pem", dir);
	FILE *f = fopen(path, "r");
	signing_key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!signing_key)
		abort();
	unlink(path);
	rmdir(dir);
	return 0;
}

/* header.claims.signature, signed with berthd's key (JWS ES256: r || s, 32 bytes each). */
static char *sign_token(const char *header, size_t hlen, const char *claims, size_t clen)
{
	char *h = base64url_encode(header, hlen);
	char *c = base64url_encode(claims, clen);
	size_t inlen = strlen(h) + 1 + strlen(c);
	char *input = malloc(inlen + 1);
	snprintf(input, inlen + 1, "%s.%s", h, c);
	free(h);
	free(c);
	unsigned char der[128];
	size_t derlen = sizeof der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signing_key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)input, inlen) != 1)
		abort();
	EVP_MD_CTX_free(md);
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	unsigned char jws[64];
	BN_bn2binpad(ECDSA_SIG_get0_r(sig), jws, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(sig), jws + 32, 32);
	ECDSA_SIG_free(sig);
	char *s = base64url_encode(jws, sizeof jws);
	size_t total = inlen + 1 + strlen(s);
	char *token = malloc(total + 1);
	snprintf(token, total + 1, "%s.%s", input, s);
	free(input);
	free(s);
	return token;
}

static void verify(const char *jwt)
{
	struct token_claims claims;
	struct berr err;
	if (token_verify(jwt, "berth", "berth", &claims, &err) == 0) {
		FUZZ_CHECK(claims.expires + 60 >= time(NULL));
		FUZZ_CHECK(strlen(claims.subject) < sizeof claims.subject);
		for (size_t i = 0; i < claims.naccess; i++)
			(void)token_claims_actions(&claims, claims.access[i].type, claims.access[i].name);
		token_claims_free(&claims);
	} else {
		FUZZ_CHECK(err.code == BERR_UNAUTHORIZED);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 4;
	char *s = fuzz_cstr(data + 1, size - 1);
	size_t len = strlen(s);
	char header[160];
	snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", token_key_id());
	char claims[256];
	long now = (long)time(NULL);
	snprintf(claims, sizeof claims,
	         "{\"iss\":\"berth\",\"aud\":\"berth\",\"sub\":\"u\",\"exp\":%ld,\"nbf\":%ld,\"access\":[]}", now + 300,
	         now);
	if (mode == 0) {
		verify(s);
	} else if (mode == 1 || mode == 2) {
		char *jwt =
		    mode == 1 ? sign_token(header, strlen(header), s, len) : sign_token(s, len, claims, strlen(claims));
		verify(jwt);
		free(jwt);
	} else {
		struct token_access a;
		if (token_scope_parse(s, &a) == 0) {
			FUZZ_CHECK(strlen(a.type) < sizeof a.type && strlen(a.name) < sizeof a.name);
			const char *names[4];
			FUZZ_CHECK(token_actions_names(a.actions, names) <= 4);
		}
	}
	free(s);
	return 0;
}
