/* A registry credential (user and password) as the registry client sends it: in a Basic
 * Authorization header, or to a token realm. Where credentials are kept is the caller's
 * business (berth: docker's config.json, client/credentials.c; berthd: its database). */
#ifndef BERTH_CREDENTIAL_H
#define BERTH_CREDENTIAL_H

struct credential {
	char *username; /* heap */
	char *password; /* heap; never printed */
};

/* Free both strings (the password wiped first) and set them to NULL; c may be NULL. */
void credential_free(struct credential *c);
/* base64("user:password"), the value of a Basic Authorization header and of a docker
 * config.json `auth` entry; heap, caller frees. */
char *credential_encode_basic(const char *username, const char *password);

#endif
