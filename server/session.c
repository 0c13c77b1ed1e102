/* Browser sessions: creation, lookup with idle and absolute expiry, and the cookie. The
 * secret never reaches the database, only its hash does, so a copy of the database
 * cannot be used to sign in. */
#include "server/session.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "server/secrets.h"

#define SESSION_PREFIX      "berth_s_"
#define SESSION_CSRF_PREFIX "csrf_"

char *session_start(struct meta *m, int64_t user_id, struct meta_session *out, struct berr *err)
{
	int64_t now = (int64_t)time(NULL);
	/* Not a reason to refuse a sign-in if it fails: the next one tries again. */
	meta_sessions_purge(m, now - SESSION_IDLE_SECONDS, NULL);
	cleanup_free char *secret = secrets_token_new(SESSION_PREFIX);
	cleanup_free char *csrf = secrets_token_new(SESSION_CSRF_PREFIX);
	char hash[65];
	secrets_token_hash(secret, hash);
	memset(out, 0, sizeof *out);
	if (meta_session_create(m, user_id, hash, csrf, now + SESSION_MAX_SECONDS, &out->id, err) < 0)
		return NULL;
	out->user_id = user_id;
	snprintf(out->csrf_token, sizeof out->csrf_token, "%s", csrf);
	out->created_at = out->last_seen_at = now;
	out->expires_at = now + SESSION_MAX_SECONDS;
	return steal_pointer(&secret);
}

int session_find(struct meta *m, const char *secret, struct meta_session *out, struct berr *err)
{
	if (strncmp(secret, SESSION_PREFIX, strlen(SESSION_PREFIX)) != 0)
		return berr_set(err, BERR_UNAUTHORIZED, "not a session cookie");
	char hash[65];
	secrets_token_hash(secret, hash);
	return meta_session_use(m, hash, (int64_t)time(NULL) - SESSION_IDLE_SECONDS, out, err);
}

bool session_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = header;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = len - nlen - 1;
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (vlen == 0 || vlen >= outlen)
				return false;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

char *session_cookie_header(const char *secret, bool secure)
{
	/* The cookie lives as long as the session may; the server ends an idle one sooner. */
	if (!secret)
		return xasprintf("%s=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s", SESSION_COOKIE,
		                 secure ? "; Secure" : "");
	return xasprintf("%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d%s", SESSION_COOKIE, secret,
	                 SESSION_MAX_SECONDS, secure ? "; Secure" : "");
}
