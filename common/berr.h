/* The error object every fallible function fills: a registry error code (the OCI
 * Distribution spec's codes), the HTTP status that goes with it, and a message with
 * context. The API layer turns it into the spec's JSON error body. */
#ifndef BERTH_BERR_H
#define BERTH_BERR_H

#include <stddef.h>

enum berr_code {
	BERR_NONE = 0,
	BERR_BLOB_UNKNOWN,
	BERR_BLOB_UPLOAD_INVALID,
	BERR_BLOB_UPLOAD_UNKNOWN,
	BERR_DIGEST_INVALID,
	BERR_MANIFEST_BLOB_UNKNOWN,
	BERR_MANIFEST_INVALID,
	BERR_MANIFEST_UNKNOWN,
	BERR_NAME_INVALID,
	BERR_NAME_UNKNOWN,
	BERR_SIZE_INVALID,
	BERR_TAG_INVALID,
	BERR_UNAUTHORIZED,
	BERR_DENIED,
	BERR_UNSUPPORTED,
	BERR_TOOMANYREQUESTS,
	BERR_RANGE_INVALID,
	BERR_PAGINATION_NUMBER_INVALID,
	BERR_MANIFEST_TOO_LARGE, /* reported as SIZE_INVALID with 413 */
	BERR_UNAVAILABLE,        /* 503: a transient condition (busy database, shutdown) */
	BERR_INTERNAL,           /* 500: I/O failure, database failure: the message says which */
	BERR_NOT_FOUND,          /* 404 for a path that is no API endpoint */
	BERR_CONFLICT,           /* 409: it exists already (an account, a token name) */
	BERR_BAD_REQUEST,        /* 400: a malformed JSON body or field (/api/v1) */
	BERR_STORAGE_FULL,       /* 507: the disk (blobs or database) is full; nothing was stored */
	BERR_CODE_COUNT
};

struct berr {
	enum berr_code code;
	int sys_errno;     /* errno of the failing system call, 0 if none */
	char message[512]; /* human-readable, with context; never includes secrets */
};

/* Fill err (if not NULL) and return -1, so callers can `return berr_set(...)`. */
int berr_set(struct berr *err, enum berr_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like berr_set with BERR_INTERNAL (BERR_STORAGE_FULL for ENOSPC and EDQUOT), appending
 * strerror(errnum). */
int berr_sys(struct berr *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix existing message with more context ("open upload: " + old). */
void berr_prefix(struct berr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Quote s[0..len) for an error message into buf: control bytes, non-ASCII and backslashes
 * become \xNN, and input beyond max bytes is cut with "...". Request input quoted this way
 * cannot forge log lines. buf should hold max * 4 + 8 bytes. */
void berr_quote(const char *s, size_t len, size_t max, char *buf, size_t bufsize);
/* Reset to BERR_NONE. */
void berr_clear(struct berr *err);
/* The spec's code string ("BLOB_UNKNOWN"). */
const char *berr_code_name(enum berr_code code);
/* The HTTP status the API answers with for this code. */
int berr_http_status(enum berr_code code);
/* The spec's short generic message for the code ("blob unknown to registry"). */
const char *berr_code_message(enum berr_code code);

#endif
