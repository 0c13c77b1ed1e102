/* Byte-range headers: a blob GET's "Range: bytes=..." (RFC 9110, single range only) and an
 * upload PATCH's "Content-Range: start-end". Plain scanners; no input is echoed back. */
#include "common/range.h"

#include <stddef.h>
#include <strings.h>

static bool range_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Advance *p past leading OWS. */
static void range_skip_ows(const char **p)
{
	while (range_is_ows(**p))
		(*p)++;
}

/* Parse one or more decimal digits at *p into *out, advancing *p. Fails (false) when there
 * is no digit or the value does not fit in 64 bits. */
static bool range_parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

/* True if only OWS remains at p. */
static bool range_at_end(const char *p)
{
	range_skip_ows(&p);
	return *p == '\0';
}

/* The suffix form "-n": the last n bytes. n = 0 selects nothing, so is unsatisfiable. */
static enum range_result range_suffix(const char *p, uint64_t size, struct byte_range *out)
{
	uint64_t n;
	if (!range_parse_u64(&p, &n) || !range_at_end(p))
		return RANGE_NONE;
	if (n == 0 || size == 0)
		return RANGE_UNSATISFIABLE;
	out->start = n >= size ? 0 : size - n;
	out->end = size - 1;
	return RANGE_OK;
}

enum range_result range_parse_request(const char *header, uint64_t size, struct byte_range *out)
{
	if (!header)
		return RANGE_NONE;
	const char *p = header;
	range_skip_ows(&p);
	/* The range unit is case-insensitive (RFC 9110 14.1). */
	if (strncasecmp(p, "bytes", 5) != 0)
		return RANGE_NONE;
	p += 5;
	range_skip_ows(&p);
	if (*p++ != '=')
		return RANGE_NONE;
	range_skip_ows(&p);
	if (*p == '-')
		return range_suffix(p + 1, size, out);
	uint64_t first, last = UINT64_MAX;
	if (!range_parse_u64(&p, &first) || *p++ != '-')
		return RANGE_NONE;
	if (*p >= '0' && *p <= '9' && !range_parse_u64(&p, &last))
		return RANGE_NONE;
	/* Anything else, including a second range after ',', makes us ignore the header. */
	if (!range_at_end(p) || last < first)
		return RANGE_NONE;
	if (first >= size)
		return RANGE_UNSATISFIABLE;
	out->start = first;
	out->end = last < size - 1 ? last : size - 1;
	return RANGE_OK;
}

int range_parse_content_range(const char *header, struct byte_range *out, struct berr *err)
{
	static const char expect[] = "expected '<start>-<end>' with end >= start";
	if (!header)
		return berr_set(err, BERR_RANGE_INVALID, "Content-Range: missing");
	const char *p = header;
	range_skip_ows(&p);
	if (strncasecmp(p, "bytes ", 6) == 0)
		p += 6;
	range_skip_ows(&p);
	uint64_t start, end, total;
	if (!range_parse_u64(&p, &start) || *p++ != '-' || !range_parse_u64(&p, &end))
		return berr_set(err, BERR_RANGE_INVALID, "Content-Range: %s", expect);
	if (end < start)
		return berr_set(err, BERR_RANGE_INVALID, "Content-Range: end %llu is before start %llu",
		                (unsigned long long)end, (unsigned long long)start);
	if (*p == '/') {
		p++;
		if (*p == '*')
			p++;
		else if (!range_parse_u64(&p, &total))
			return berr_set(err, BERR_RANGE_INVALID, "Content-Range: total must be a number or '*'");
		else if (end >= total)
			return berr_set(err, BERR_RANGE_INVALID, "Content-Range: end %llu is not below total %llu",
			                (unsigned long long)end, (unsigned long long)total);
	}
	if (!range_at_end(p))
		return berr_set(err, BERR_RANGE_INVALID, "Content-Range: %s", expect);
	out->start = start;
	out->end = end;
	return 0;
}
