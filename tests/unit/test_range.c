/* Unit tests for common/range.c: Range request headers against a resource size, and upload
 * Content-Range headers. */
#include <stdint.h>

#include "common/range.h"
#include "tests/unit/tap.h"

static const struct {
	const char *header;
	uint64_t size;
	enum range_result want;
	uint64_t start, end;
} request_cases[] = {
    {NULL, 1000, RANGE_NONE, 0, 0},
    {"", 1000, RANGE_NONE, 0, 0},
    {"bytes=0-99", 1000, RANGE_OK, 0, 99},
    {"bytes=900-", 1000, RANGE_OK, 900, 999},
    {"bytes=-100", 1000, RANGE_OK, 900, 999},
    {"bytes=-2000", 1000, RANGE_OK, 0, 999},
    {"bytes=0-5000", 1000, RANGE_OK, 0, 999},
    {"bytes=999-999", 1000, RANGE_OK, 999, 999},
    {"bytes=0-0", 1000, RANGE_OK, 0, 0},
    {"bytes=0-", 1000, RANGE_OK, 0, 999},
    {"bytes=-1", 1000, RANGE_OK, 999, 999},
    {"  bytes=0-99  ", 1000, RANGE_OK, 0, 99},
    {"\tbytes=10-20\t", 1000, RANGE_OK, 10, 20},
    {"Bytes=0-99", 1000, RANGE_OK, 0, 99},
    {"bytes = 1-2", 1000, RANGE_OK, 1, 2},
    {"bytes=0-18446744073709551615", 1000, RANGE_OK, 0, 999},
    {"bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=1000-2000", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-0", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-0", 0, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-5", 0, RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=5-3", 1000, RANGE_NONE, 0, 0},
    {"items=0-1", 1000, RANGE_NONE, 0, 0},
    {"bytes=0-1,3-4", 1000, RANGE_NONE, 0, 0},
    {"bytes=0-1, 3-4", 1000, RANGE_NONE, 0, 0},
    {"bytes=", 1000, RANGE_NONE, 0, 0},
    {"bytes=-", 1000, RANGE_NONE, 0, 0},
    {"bytes=--5", 1000, RANGE_NONE, 0, 0},
    {"bytes=5", 1000, RANGE_NONE, 0, 0},
    {"bytes=a-b", 1000, RANGE_NONE, 0, 0},
    {"bytes=0-99x", 1000, RANGE_NONE, 0, 0},
    {"bytes=+1-2", 1000, RANGE_NONE, 0, 0},
    {"bytes 0-99", 1000, RANGE_NONE, 0, 0},
    {"bytesx=0-99", 1000, RANGE_NONE, 0, 0},
    {"bytes=0-99 9", 1000, RANGE_NONE, 0, 0},
    {"bytes=18446744073709551616-", 1000, RANGE_NONE, 0, 0},
    {"bytes=0-18446744073709551616", 1000, RANGE_NONE, 0, 0},
    {"bytes=-99999999999999999999", 1000, RANGE_NONE, 0, 0},
};

static void test_request(void)
{
	for (size_t i = 0; i < sizeof request_cases / sizeof request_cases[0]; i++) {
		struct byte_range r = {0, 0};
		enum range_result got = range_parse_request(request_cases[i].header, request_cases[i].size, &r);
		const char *h = request_cases[i].header ? request_cases[i].header : "(null)";
		tap_is_int(got, request_cases[i].want, "Range '%s' size %llu", h,
		           (unsigned long long)request_cases[i].size);
		if (request_cases[i].want == RANGE_OK && got == RANGE_OK) {
			tap_is_int(r.start, request_cases[i].start, "  start");
			tap_is_int(r.end, request_cases[i].end, "  end");
		}
	}
}

static const struct {
	const char *header;
	int ok;
	uint64_t start, end;
} content_cases[] = {
    {"0-99", 1, 0, 99},
    {"100-199", 1, 100, 199},
    {"0-0", 1, 0, 0},
    {"bytes 0-99/100", 1, 0, 99},
    {"bytes 0-99/*", 1, 0, 99},
    {"0-99/*", 1, 0, 99},
    {"0-99/1000", 1, 0, 99},
    {" 5-10 ", 1, 5, 10},
    {"0-18446744073709551615", 1, 0, UINT64_MAX},
    {"5-3", 0, 0, 0},
    {"-1", 0, 0, 0},
    {"abc", 0, 0, 0},
    {"", 0, 0, 0},
    {NULL, 0, 0, 0},
    {"0-", 0, 0, 0},
    {"0", 0, 0, 0},
    {"0-99/99", 0, 0, 0},
    {"0-99/", 0, 0, 0},
    {"0-99/abc", 0, 0, 0},
    {"0-99x", 0, 0, 0},
    {"0 - 99", 0, 0, 0},
    {"bytes=0-99", 0, 0, 0},
    {"18446744073709551616-18446744073709551617", 0, 0, 0},
    {"0-99999999999999999999999", 0, 0, 0},
};

static void test_content_range(void)
{
	for (size_t i = 0; i < sizeof content_cases / sizeof content_cases[0]; i++) {
		struct byte_range r = {0, 0};
		struct berr err = {0};
		const char *h = content_cases[i].header ? content_cases[i].header : "(null)";
		int got = range_parse_content_range(content_cases[i].header, &r, &err);
		tap_is_int(got, content_cases[i].ok ? 0 : -1, "Content-Range '%s'", h);
		if (content_cases[i].ok && got == 0) {
			tap_is_int(r.start, content_cases[i].start, "  start");
			tap_ok(r.end == content_cases[i].end, "  end %llu", (unsigned long long)r.end);
		} else if (!content_cases[i].ok) {
			tap_is_int(err.code, BERR_RANGE_INVALID, "  code RANGE_INVALID (%s)", err.message);
		}
	}
	struct byte_range r;
	tap_is_int(range_parse_content_range("x", &r, NULL), -1, "NULL err is allowed");
}

int main(void)
{
	test_request();
	test_content_range();
	return tap_done();
}
