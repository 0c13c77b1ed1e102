/* AWS Signature Version 4 for S3 requests: the Authorization header of a request and
 * presigned URLs. Pure functions over strings (OpenSSL 3 EVP_MAC HMAC and SHA-256), so
 * they are unit-tested against AWS's published examples. */
#ifndef BERTH_S3_SIGV4_H
#define BERTH_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The hex SHA-256 of an empty payload. */
#define SIGV4_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *region;
	const char *service; /* "s3" */
};

/* One header to sign: name in lower case, value trimmed. */
struct sigv4_header {
	const char *name;
	const char *value;
};

/* Percent-encode s as SigV4 wants (unreserved A-Z a-z 0-9 - _ . ~ kept); with keep_slash
 * '/' is kept too (object keys in paths). Returns a heap string the caller frees. */
char *sigv4_uri_encode(const char *s, bool keep_slash);

/* "20130524T000000Z" for t, into out (at least 17 bytes). */
void sigv4_amz_date(time_t t, char *out);

/* Sign one request. path is the canonical (already encoded) URI path; query the canonical
 * query string (names and values encoded, sorted by name; "" for none). headers (any
 * order, at most 16) must include host and x-amz-date; payload_hash is the hex SHA-256
 * of the body or SIGV4_UNSIGNED_PAYLOAD. amz_date is "YYYYMMDDTHHMMSSZ". Writes the
 * Authorization header value into out; returns 0, or -1 if out is too small or there are
 * too many headers. */
int sigv4_authorization(const struct sigv4_creds *c, const char *method, const char *path, const char *query,
                        const struct sigv4_header *headers, size_t nheaders, const char *payload_hash,
                        const char *amz_date, char *out, size_t outlen);

/* A presigned GET URL for base_url + path (base_url is "http://host:port", host its
 * authority as signed), valid expires seconds from amz_date. Returns a heap string. */
char *sigv4_presign(const struct sigv4_creds *c, const char *method, const char *base_url, const char *host,
                    const char *path, const char *amz_date, unsigned expires);

#endif
