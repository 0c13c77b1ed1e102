/* Base64 in its two alphabets: standard with padding (HTTP Basic credentials) and
 * URL-safe without padding (JWT segments). */
#ifndef BERTH_BASE64_H
#define BERTH_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Encode len bytes; returns a NUL-terminated heap string the caller frees. */
char *base64_encode(const void *data, size_t len);
char *base64url_encode(const void *data, size_t len);
/* Decode; returns a heap buffer (NUL-terminated for convenience, *outlen excludes it) or
 * NULL when the input is not valid in that alphabet. The caller frees it. */
unsigned char *base64_decode(const char *s, size_t len, size_t *outlen);
unsigned char *base64url_decode(const char *s, size_t len, size_t *outlen);

#endif
