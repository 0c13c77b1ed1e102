/* ES256 JWTs for the registry's token authentication, built on OpenSSL's EVP and jansson.
 * The signature is the JWS form (r || s, 32 bytes each), converted from and to the DER
 * form OpenSSL produces. */
#include "server/token.h"

#include <errno.h>
#include <openssl/bio.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/xalloc.h"

#define TOKEN_LEEWAY  60
#define TOKEN_MAX_LEN 16384

static EVP_PKEY *token_key;
static char token_kid[64];

/* libtrust's key id form, which Distribution also uses: the first 240 bits of the SHA-256
 * of the DER public key, in base32, in groups of four separated by ':'. */
static void token_make_kid(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key, &der);
	unsigned char md[32];
	unsigned int mdlen;
	EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char plain[49];
	unsigned acc = 0;
	int bits = 0, o = 0, i = 0;
	while (o < 48) {
		if (bits < 5) {
			acc = acc << 8 | md[i++];
			bits += 8;
		}
		bits -= 5;
		plain[o++] = b32[(acc >> bits) & 31];
	}
	plain[48] = '\0';
	o = 0;
	for (int g = 0; g < 12; g++) {
		if (g)
			token_kid[o++] = ':';
		memcpy(token_kid + o, plain + g * 4, 4);
		o += 4;
	}
	token_kid[o] = '\0';
}

int token_keys_init(const char *data_dir, struct berr *err)
{
	cleanup_free char *path = xasprintf("%s/token-signing-key.pem", data_dir);
	FILE *f = fopen(path, "r");
	if (f) {
		token_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!token_key || EVP_PKEY_get_base_id(token_key) != EVP_PKEY_EC)
			return berr_set(err, BERR_INTERNAL, "%s is not an EC private key", path);
	} else if (errno == ENOENT) {
		token_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (!token_key)
			return berr_set(err, BERR_INTERNAL, "could not generate the token signing key");
		cleanup_free char *tmp = xasprintf("%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!out || !PEM_write_PrivateKey(out, token_key, NULL, NULL, 0, NULL, NULL) || fflush(out) != 0 ||
		    fsync(fd) != 0) {
			int e = errno;
			if (out)
				fclose(out);
			else if (fd >= 0)
				close(fd);
			unlink(tmp);
			return berr_sys(err, e, "write %s", path);
		}
		fclose(out);
		if (rename(tmp, path) < 0)
			return berr_sys(err, errno, "install %s", path);
		log_info("generated the token signing key %s", path);
	} else {
		return berr_sys(err, errno, "open %s", path);
	}
	token_make_kid(token_key);
	return 0;
}

/* A PEM private key from memory: the EC key tokens are signed with, or NULL. */
static EVP_PKEY *token_key_from_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (key && EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

char *token_key_new_pem(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	if (key && bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		char *data;
		long n = BIO_get_mem_data(bio, &data);
		if (n > 0)
			pem = xstrndup(data, (size_t)n);
	}
	BIO_free(bio);
	EVP_PKEY_free(key);
	return pem;
}

int token_keys_init_pem(const char *pem, const char *what, struct berr *err)
{
	token_key = token_key_from_pem(pem);
	if (!token_key)
		return berr_set(err, BERR_INTERNAL, "%s is not an EC private key", what);
	token_make_kid(token_key);
	return 0;
}

void token_keys_shutdown(void)
{
	EVP_PKEY_free(token_key);
	token_key = NULL;
}

const char *token_key_id(void)
{
	return token_kid;
}

size_t token_actions_names(unsigned actions, const char *names[4])
{
	size_t n = 0;
	if ((actions & ACTION_STAR) && (actions & ACTION_ALL) == ACTION_ALL) {
		names[n++] = "*";
		return n;
	}
	if (actions & ACTION_PULL)
		names[n++] = "pull";
	if (actions & ACTION_PUSH)
		names[n++] = "push";
	if (actions & ACTION_DELETE)
		names[n++] = "delete";
	return n;
}

static unsigned token_action_bit(const char *a, size_t len)
{
	if (len == 4 && !memcmp(a, "pull", 4))
		return ACTION_PULL;
	if (len == 4 && !memcmp(a, "push", 4))
		return ACTION_PUSH;
	if (len == 6 && !memcmp(a, "delete", 6))
		return ACTION_DELETE;
	if (len == 1 && a[0] == '*')
		return ACTION_ALL | ACTION_STAR;
	return 0;
}

int token_scope_parse(const char *scope, struct token_access *out)
{
	memset(out, 0, sizeof *out);
	const char *c1 = strchr(scope, ':');
	const char *c2 = strrchr(scope, ':');
	if (!c1 || c1 == c2)
		return -1;
	size_t tlen = (size_t)(c1 - scope);
	const char *paren = memchr(scope, '(', tlen);
	size_t typelen = paren ? (size_t)(paren - scope) : tlen;
	size_t namelen = (size_t)(c2 - c1 - 1);
	if (typelen == 0 || typelen >= sizeof out->type || namelen == 0 || namelen >= sizeof out->name)
		return -1;
	memcpy(out->type, scope, typelen);
	memcpy(out->name, c1 + 1, namelen);
	for (const char *a = c2 + 1; *a;) {
		size_t alen = strcspn(a, ",");
		out->actions |= token_action_bit(a, alen);
		a += alen;
		if (*a == ',')
			a++;
	}
	return 0;
}

/* DER ECDSA signature -> 64-byte r||s. */
static int token_der_to_jws(const unsigned char *der, size_t len, unsigned char out[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (!sig)
		return -1;
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(sig, &r, &s);
	int ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok ? 0 : -1;
}

/* 64-byte r||s -> DER (heap, *len). */
static unsigned char *token_jws_to_der(const unsigned char in[64], size_t *len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(in, 32, NULL), *s = BN_bin2bn(in + 32, 32, NULL);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	unsigned char *der = NULL;
	int n = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}

char *token_issue(const char *issuer, const char *audience, const char *subject, const struct token_access *access,
                  size_t naccess, int ttl, struct berr *err)
{
	time_t now = time(NULL);
	unsigned char jti_raw[16];
	RAND_bytes(jti_raw, sizeof jti_raw);
	cleanup_free char *jti = base64url_encode(jti_raw, sizeof jti_raw);
	json_t *header = json_pack("{s:s,s:s,s:s}", "typ", "JWT", "alg", "ES256", "kid", token_kid);
	json_t *acc = json_array();
	for (size_t i = 0; i < naccess; i++) {
		const char *names[4];
		size_t n = token_actions_names(access[i].actions, names);
		json_t *acts = json_array();
		for (size_t k = 0; k < n; k++)
			json_array_append_new(acts, json_string(names[k]));
		json_array_append_new(
		    acc, json_pack("{s:s,s:s,s:o}", "type", access[i].type, "name", access[i].name, "actions", acts));
	}
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o}", "iss", issuer, "sub", subject, "aud", audience,
	                           "exp", (json_int_t)(now + ttl), "nbf", (json_int_t)(now - 1), "iat", (json_int_t)now,
	                           "jti", jti, "access", acc);
	char *h = json_dumps(header, JSON_COMPACT);
	char *c = json_dumps(claims, JSON_COMPACT);
	json_decref(header);
	json_decref(claims);
	cleanup_free char *h64 = base64url_encode(h, strlen(h));
	cleanup_free char *c64 = base64url_encode(c, strlen(c));
	free(h);
	free(c);
	cleanup_free char *signing_input = xasprintf("%s.%s", h64, c64);

	unsigned char der[128];
	size_t derlen = sizeof der;
	unsigned char jws[64];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, token_key) == 1 &&
	         EVP_DigestSign(md, der, &derlen, (const unsigned char *)signing_input, strlen(signing_input)) == 1 &&
	         token_der_to_jws(der, derlen, jws) == 0;
	EVP_MD_CTX_free(md);
	if (!ok) {
		berr_set(err, BERR_INTERNAL, "signing a token failed");
		return NULL;
	}
	cleanup_free char *s64 = base64url_encode(jws, sizeof jws);
	return xasprintf("%s.%s", signing_input, s64);
}

static int token_reject(struct berr *err, const char *why)
{
	return berr_set(err, BERR_UNAUTHORIZED, "invalid token: %s", why);
}

/* Decode one base64url JWT segment as a JSON object. */
static json_t *token_segment_json(const char *s, size_t len)
{
	size_t n;
	cleanup_free unsigned char *raw = base64url_decode(s, len, &n);
	if (!raw)
		return NULL;
	json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int token_fill_access(json_t *claims, struct token_claims *out)
{
	json_t *acc = json_object_get(claims, "access");
	if (!acc)
		return 0;
	if (!json_is_array(acc) || json_array_size(acc) > 256)
		return -1;
	out->access = xcalloc(json_array_size(acc) + 1, sizeof *out->access);
	size_t i;
	json_t *e;
	json_array_foreach(acc, i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *acts = json_object_get(e, "actions");
		if (!type || !name || !json_is_array(acts) || strlen(type) >= sizeof out->access[0].type ||
		    strlen(name) >= sizeof out->access[0].name)
			return -1;
		struct token_access *a = &out->access[out->naccess++];
		strcpy(a->type, type);
		strcpy(a->name, name);
		size_t k;
		json_t *act;
		json_array_foreach(acts, k, act)
		{
			const char *s = json_string_value(act);
			if (s)
				a->actions |= token_action_bit(s, strlen(s));
		}
	}
	return 0;
}

int token_verify(const char *jwt, const char *issuer, const char *audience, struct token_claims *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	size_t len = strlen(jwt);
	if (len > TOKEN_MAX_LEN)
		return token_reject(err, "too long");
	const char *d1 = strchr(jwt, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return token_reject(err, "not a JWS compact token");

	json_t *header = token_segment_json(jwt, (size_t)(d1 - jwt));
	const char *alg = json_string_value(json_object_get(header, "alg"));
	const char *kid = json_string_value(json_object_get(header, "kid"));
	int hdr_ok = header && alg && strcmp(alg, "ES256") == 0 && kid && strcmp(kid, token_kid) == 0 &&
	             !json_object_get(header, "crit");
	json_decref(header);
	if (!hdr_ok)
		return token_reject(err, "wrong algorithm or key");

	size_t siglen;
	cleanup_free unsigned char *sig = base64url_decode(d2 + 1, strlen(d2 + 1), &siglen);
	if (!sig || siglen != 64)
		return token_reject(err, "bad signature encoding");
	size_t derlen;
	unsigned char *der = token_jws_to_der(sig, &derlen);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int good = der && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, token_key) == 1 &&
	           EVP_DigestVerify(md, der, derlen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	if (!good)
		return token_reject(err, "signature does not verify");

	json_t *claims = token_segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!claims)
		return token_reject(err, "claims are not a JSON object");
	time_t now = time(NULL);
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	json_t *aud = json_object_get(claims, "aud");
	json_t *exp = json_object_get(claims, "exp");
	json_t *nbf = json_object_get(claims, "nbf");
	bool aud_ok = false;
	if (json_is_string(aud))
		aud_ok = strcmp(json_string_value(aud), audience) == 0;
	else if (json_is_array(aud)) {
		size_t i;
		json_t *a;
		json_array_foreach(aud, i, a) aud_ok |=
		    json_is_string(a) && strcmp(json_string_value(a), audience) == 0;
	}
	const char *why = NULL;
	if (!iss || strcmp(iss, issuer) != 0)
		why = "wrong issuer";
	else if (!aud_ok)
		why = "wrong audience";
	else if (!json_is_integer(exp) || json_integer_value(exp) + TOKEN_LEEWAY < now)
		why = "expired";
	else if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) - TOKEN_LEEWAY > now))
		why = "not yet valid";
	else if (!sub || strlen(sub) >= sizeof out->subject)
		why = "bad subject";
	else if (token_fill_access(claims, out) < 0)
		why = "bad access claim";
	if (!why) {
		strcpy(out->subject, sub);
		out->expires = (time_t)json_integer_value(exp);
	}
	json_decref(claims);
	if (why) {
		token_claims_free(out);
		return token_reject(err, why);
	}
	return 0;
}

void token_claims_free(struct token_claims *c)
{
	free(c->access);
	c->access = NULL;
	c->naccess = 0;
}

unsigned token_claims_actions(const struct token_claims *c, const char *type, const char *name)
{
	unsigned acts = 0;
	for (size_t i = 0; i < c->naccess; i++)
		if (strcmp(c->access[i].type, type) == 0 && strcmp(c->access[i].name, name) == 0)
			acts |= c->access[i].actions;
	return acts & ACTION_ALL;
}
