/* The WWW-Authenticate challenge a registry answers 401 with (RFC 9110 section 11.6.1):
 * `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`. Parsing only; the
 * token request itself is registry_client's. */
#ifndef BERTH_WWW_AUTH_H
#define BERTH_WWW_AUTH_H

#include <stddef.h>

#include "common/berr.h"

enum www_auth_scheme { WWW_AUTH_NONE = 0, WWW_AUTH_BASIC, WWW_AUTH_BEARER };

struct www_auth {
	enum www_auth_scheme scheme;
	char *realm;   /* heap or NULL */
	char *service; /* heap or NULL */
	char *scope;   /* heap or NULL */
};

/* Parse one header value. A scheme other than Basic/Bearer leaves scheme WWW_AUTH_NONE and
 * returns 0; malformed parameters are BERR_UNAUTHORIZED. Fills out (free with
 * www_auth_free). */
int www_auth_parse(const char *value, struct www_auth *out, struct berr *err);
void www_auth_free(struct www_auth *a);

#endif
