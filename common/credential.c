/* Registry credentials in the form they travel: the base64 "user:password" of HTTP Basic.
 * Secrets are wiped from memory before it is freed. */
#include "common/credential.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

char *credential_encode_basic(const char *username, const char *password)
{
	cleanup_free char *plain = xasprintf("%s:%s", username, password);
	size_t len = strlen(plain);
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)plain, (int)len);
	OPENSSL_cleanse(plain, len);
	return out;
}

void credential_free(struct credential *c)
{
	if (!c)
		return;
	if (c->password)
		OPENSSL_cleanse(c->password, strlen(c->password));
	free(c->username);
	free(c->password);
	c->username = c->password = NULL;
}
