/* Parser for WWW-Authenticate challenges: a scheme token, then comma-separated
 * `name=token` or `name="quoted \"string\""` parameters. Only the first challenge of the
 * value is read, which is what registries send. */
#include "common/www_auth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

/* Longest parameter value accepted; realms and scopes are short URLs and names. */
#define WWW_AUTH_VALUE_MAX 4096

static const char *www_auth_skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int www_auth_is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~/:", c));
}

/* Read a quoted-string or token at *pp into a new heap string; advances *pp. */
static char *www_auth_read_value(const char **pp)
{
	const char *p = *pp;
	char *out = xmalloc(WWW_AUTH_VALUE_MAX + 1);
	size_t n = 0;
	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			if (n == WWW_AUTH_VALUE_MAX)
				goto fail;
			out[n++] = *p++;
		}
		if (*p != '"')
			goto fail;
		p++;
	} else {
		while (www_auth_is_tchar((unsigned char)*p) || *p == '=') {
			if (n == WWW_AUTH_VALUE_MAX)
				goto fail;
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	*pp = p;
	return out;
fail:
	free(out);
	return NULL;
}

int www_auth_parse(const char *value, struct www_auth *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	const char *p = www_auth_skip_space(value);
	const char *s = p;
	while (www_auth_is_tchar((unsigned char)*p))
		p++;
	size_t slen = (size_t)(p - s);
	if (slen == 5 && strncasecmp(s, "Basic", 5) == 0)
		out->scheme = WWW_AUTH_BASIC;
	else if (slen == 6 && strncasecmp(s, "Bearer", 6) == 0)
		out->scheme = WWW_AUTH_BEARER;
	else
		return 0;

	for (;;) {
		p = www_auth_skip_space(p);
		while (*p == ',')
			p = www_auth_skip_space(p + 1);
		if (!*p)
			break;
		const char *name = p;
		while (www_auth_is_tchar((unsigned char)*p))
			p++;
		size_t nlen = (size_t)(p - name);
		p = www_auth_skip_space(p);
		if (nlen == 0 || *p != '=') {
			/* A second challenge after the first one's parameters: ignore it. */
			if (out->realm)
				break;
			www_auth_free(out);
			return berr_set(err, BERR_UNAUTHORIZED, "malformed WWW-Authenticate header: %.200s", value);
		}
		p = www_auth_skip_space(p + 1);
		char *v = www_auth_read_value(&p);
		if (!v) {
			www_auth_free(out);
			return berr_set(err, BERR_UNAUTHORIZED, "malformed WWW-Authenticate header: %.200s", value);
		}
		char **slot = NULL;
		if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
			slot = &out->realm;
		else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
			slot = &out->service;
		else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
			slot = &out->scope;
		if (slot && !*slot)
			*slot = v;
		else
			free(v);
	}
	return 0;
}

void www_auth_free(struct www_auth *a)
{
	if (!a)
		return;
	free(a->realm);
	free(a->service);
	free(a->scope);
	memset(a, 0, sizeof *a);
}
