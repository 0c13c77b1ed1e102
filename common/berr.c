/* Error object: codes, their HTTP statuses and spec strings, and message formatting. */
#include "common/berr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int status;
	const char *message;
} berr_table[BERR_CODE_COUNT] = {
    [BERR_NONE] = {"NONE", 200, "no error"},
    [BERR_BLOB_UNKNOWN] = {"BLOB_UNKNOWN", 404, "blob unknown to registry"},
    [BERR_BLOB_UPLOAD_INVALID] = {"BLOB_UPLOAD_INVALID", 400, "blob upload invalid"},
    [BERR_BLOB_UPLOAD_UNKNOWN] = {"BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"},
    [BERR_DIGEST_INVALID] = {"DIGEST_INVALID", 400, "provided digest did not match uploaded content"},
    [BERR_MANIFEST_BLOB_UNKNOWN] = {"MANIFEST_BLOB_UNKNOWN", 400,
                                    "manifest references a manifest or blob unknown to registry"},
    [BERR_MANIFEST_INVALID] = {"MANIFEST_INVALID", 400, "manifest invalid"},
    [BERR_MANIFEST_UNKNOWN] = {"MANIFEST_UNKNOWN", 404, "manifest unknown to registry"},
    [BERR_NAME_INVALID] = {"NAME_INVALID", 400, "invalid repository name"},
    [BERR_NAME_UNKNOWN] = {"NAME_UNKNOWN", 404, "repository name not known to registry"},
    [BERR_SIZE_INVALID] = {"SIZE_INVALID", 400, "provided length did not match content length"},
    [BERR_TAG_INVALID] = {"TAG_INVALID", 400, "manifest tag did not match URI"},
    [BERR_UNAUTHORIZED] = {"UNAUTHORIZED", 401, "authentication required"},
    [BERR_DENIED] = {"DENIED", 403, "requested access to the resource is denied"},
    [BERR_UNSUPPORTED] = {"UNSUPPORTED", 405, "the operation is unsupported"},
    [BERR_TOOMANYREQUESTS] = {"TOOMANYREQUESTS", 429, "too many requests"},
    [BERR_RANGE_INVALID] = {"RANGE_INVALID", 416, "invalid content range"},
    [BERR_PAGINATION_NUMBER_INVALID] = {"PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"},
    [BERR_MANIFEST_TOO_LARGE] = {"SIZE_INVALID", 413, "manifest too large"},
    [BERR_UNAVAILABLE] = {"UNAVAILABLE", 503, "service unavailable"},
    [BERR_INTERNAL] = {"UNKNOWN", 500, "unknown error"},
    [BERR_NOT_FOUND] = {"NOT_FOUND", 404, "no such API endpoint"},
    [BERR_CONFLICT] = {"CONFLICT", 409, "already exists"},
    [BERR_BAD_REQUEST] = {"BAD_REQUEST", 400, "the request is malformed"},
    /* Distribution answers a full disk with 500 UNKNOWN; clients (containers/image, docker,
     * Distribution's own client) treat any 5xx as a failed step and show the message, so
     * 507 Insufficient Storage only makes the cause plain. */
    [BERR_STORAGE_FULL] = {"UNKNOWN", 507, "insufficient storage"},
};

static int berr_vset(struct berr *err, enum berr_code code, int errnum, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->code = code;
	err->sys_errno = errnum;
	int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof err->message)
		snprintf(err->message + n, sizeof err->message - (size_t)n, ": %s", strerror(errnum));
	return -1;
}

int berr_set(struct berr *err, enum berr_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	berr_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int berr_sys(struct berr *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	berr_vset(err, errnum == ENOSPC || errnum == EDQUOT ? BERR_STORAGE_FULL : BERR_INTERNAL, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

void berr_prefix(struct berr *err, const char *fmt, ...)
{
	if (!err)
		return;
	char prefix[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	char old[sizeof err->message];
	memcpy(old, err->message, sizeof old);
	int plen = (int)strnlen(prefix, sizeof prefix);
	int room = (int)sizeof err->message - plen - 3;
	if (room < 0)
		room = 0;
	snprintf(err->message, sizeof err->message, "%.*s: %.*s", plen, prefix, room, old);
}

void berr_clear(struct berr *err)
{
	if (!err)
		return;
	err->code = BERR_NONE;
	err->sys_errno = 0;
	err->message[0] = '\0';
}

const char *berr_code_name(enum berr_code code)
{
	return code < BERR_CODE_COUNT ? berr_table[code].name : "UNKNOWN";
}

int berr_http_status(enum berr_code code)
{
	return code < BERR_CODE_COUNT ? berr_table[code].status : 500;
}

const char *berr_code_message(enum berr_code code)
{
	return code < BERR_CODE_COUNT ? berr_table[code].message : "unknown error";
}

void berr_quote(const char *s, size_t len, size_t max, char *buf, size_t bufsize)
{
	size_t o = 0, n = len < max ? len : max;
	for (size_t i = 0; i < n && o + 5 < bufsize; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, bufsize - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (n < len && o + 4 <= bufsize) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}
