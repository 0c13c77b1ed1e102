/* Secrets berthd keeps: password hashes (Argon2id), personal access tokens and refresh
 * tokens (random, stored as SHA-256), and comparisons that take constant time. */
#ifndef BERTH_SECRETS_H
#define BERTH_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/berr.h"

/* Prefixes that tell a token from a password. */
#define SECRETS_PAT_PREFIX     "berth_pat_"
#define SECRETS_REFRESH_PREFIX "berth_rt_"
/* Longest password accepted (Argon2 takes any, but a bound keeps hashing cheap to refuse). */
#define SECRETS_PASSWORD_MAX 1024
#define SECRETS_PASSWORD_MIN 8

/* Hash password with Argon2id and a random salt; returns the encoded string (heap). */
char *secrets_password_hash(const char *password, struct berr *err);
/* True if password matches the encoded hash (constant time in the password). */
bool secrets_password_verify(const char *encoded, const char *password);
/* A new random token "<prefix><52 base32 characters>" (heap). */
char *secrets_token_new(const char *prefix);
/* Hex SHA-256 of a token, the form it is stored in (out: 65 bytes). */
void secrets_token_hash(const char *token, char out[65]);
/* Constant-time equality of two NUL-terminated strings of possibly different length. */
bool secrets_equal(const char *a, const char *b);

#endif
