/* Browser sessions of the web UI: a random secret in an HttpOnly cookie, only its SHA-256
 * stored, a CSRF token per session, an idle and an absolute lifetime. Knows nothing of
 * HTTP beyond the cookie syntax. */
#ifndef BERTH_SESSION_H
#define BERTH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"
#include "server/meta.h"

#define SESSION_COOKIE       "berth_session"
#define SESSION_IDLE_SECONDS (12 * 3600)
#define SESSION_MAX_SECONDS  (7 * 24 * 3600)
/* Longest cookie secret accepted (ours are 62 characters). */
#define SESSION_SECRET_MAX 128

/* Start a session for user_id. Returns the cookie secret (heap, caller frees) and fills
 * out, or NULL with err. Expired sessions of everyone are purged on the way. */
char *session_start(struct meta *m, int64_t user_id, struct meta_session *out, struct berr *err);
/* The live session whose cookie secret is `secret` (BERR_UNAUTHORIZED if none); records its use. */
int session_find(struct meta *m, const char *secret, struct meta_session *out, struct berr *err);
/* The value of cookie `name` in a Cookie header into out; false if absent or longer than outlen - 1. */
bool session_cookie_get(const char *header, const char *name, char *out, size_t outlen);
/* The Set-Cookie value that stores secret (NULL: that clears the cookie). Heap, caller frees. */
char *session_cookie_header(const char *secret, bool secure);

#endif
