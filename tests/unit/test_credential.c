/* Unit tests for common/credential.c: the Basic encoding of user and password (RFC 7617)
 * and credential_free. */
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/credential.h"
#include "common/xalloc.h"
#include "tests/unit/tap.h"

static const struct {
	const char *user, *password, *want;
} encode_cases[] = {
    {"Aladdin", "open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, /* RFC 7617's example */
    {"u", "p:w", "dTpwOnc="},                                   /* a colon in the password */
    {"hub", "pw", "aHViOnB3"},                                  /* no padding */
    {"a", "", "YTo="},                                          /* empty password */
    {"", "", "Og=="},                                           /* both empty */
    {"user", "p\xc3\xa4ss", "dXNlcjpww6Rzcw=="},                /* UTF-8 bytes as they are */
};

int main(void)
{
	for (size_t i = 0; i < sizeof encode_cases / sizeof encode_cases[0]; i++) {
		cleanup_free char *got = credential_encode_basic(encode_cases[i].user, encode_cases[i].password);
		tap_is_str(got, encode_cases[i].want, "encode %s:%s", encode_cases[i].user, encode_cases[i].password);
	}

	/* A long password: no fixed buffer, and it decodes back to exactly user:password. */
	size_t n = 10000;
	cleanup_free char *longpw = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		longpw[i] = (char)('!' + i % 90);
	longpw[n] = '\0';
	cleanup_free char *b64 = credential_encode_basic("svc", longpw);
	size_t outlen = 0;
	cleanup_free unsigned char *plain = base64_decode(b64, strlen(b64), &outlen);
	tap_ok(plain != NULL, "long credential is valid standard base64");
	tap_is_int(outlen, 4 + n, "long credential decodes to its full length");
	tap_ok(plain && memcmp(plain, "svc:", 4) == 0 && memcmp(plain + 4, longpw, n) == 0,
	       "long credential decodes to user:password");

	struct credential c = {.username = xstrdup("u"), .password = xstrdup("secret")};
	credential_free(&c);
	tap_ok(c.username == NULL && c.password == NULL, "credential_free clears both fields");
	credential_free(&c); /* a second free of the same credential: nothing left to free */
	tap_ok(c.username == NULL && c.password == NULL, "credential_free twice");
	credential_free(NULL); /* allowed, like free(NULL); a crash here fails the program */
	struct credential anon = {0};
	credential_free(&anon);
	tap_ok(anon.username == NULL && anon.password == NULL, "credential_free on an anonymous credential");
	return tap_done();
}
