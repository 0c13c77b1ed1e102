/* Byte ranges in HTTP headers: the request's `Range: bytes=...` for blob downloads and
 * the upload chunk's `Content-Range: <start>-<end>` of the distribution spec. */
#ifndef BERTH_RANGE_H
#define BERTH_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"

struct byte_range {
	uint64_t start; /* first byte, inclusive */
	uint64_t end;   /* last byte, inclusive */
};

enum range_result {
	RANGE_NONE = 0,         /* header absent/empty or not a "bytes" range we serve: send the whole body (200) */
	RANGE_OK = 1,           /* one satisfiable range in out (206) */
	RANGE_UNSATISFIABLE = 2 /* syntactically valid but outside [0, size): answer 416 */
};

/* Parse a Range request header against a resource of `size` bytes. Supports one range:
 * "bytes=a-b", "bytes=a-" and the suffix form "bytes=-n"; b is clamped to size-1.
 * Multiple ranges ("bytes=0-1,5-6") and malformed values are RANGE_NONE, as RFC 9110
 * allows ignoring them. A size of 0 makes any range unsatisfiable. */
enum range_result range_parse_request(const char *header, uint64_t size, struct byte_range *out);

/* Parse an upload chunk's Content-Range "start-end" (both inclusive, decimal, end >=
 * start; an optional "bytes " prefix and "/total" suffix are accepted). Returns 0 or -1
 * with BERR_RANGE_INVALID. */
int range_parse_content_range(const char *header, struct byte_range *out, struct berr *err);

#endif
