/* Unit tests for common/berr.c: the code table (names, statuses, messages) and message
 * formatting with berr_set, berr_sys, berr_prefix and berr_clear. */
#include <errno.h>
#include <string.h>

#include "common/berr.h"
#include "tests/unit/tap.h"

static const struct {
	enum berr_code code;
	const char *name;
	int status;
} code_cases[] = {
    {BERR_NONE, "NONE", 200},
    {BERR_BLOB_UNKNOWN, "BLOB_UNKNOWN", 404},
    {BERR_BLOB_UPLOAD_INVALID, "BLOB_UPLOAD_INVALID", 400},
    {BERR_BLOB_UPLOAD_UNKNOWN, "BLOB_UPLOAD_UNKNOWN", 404},
    {BERR_DIGEST_INVALID, "DIGEST_INVALID", 400},
    {BERR_MANIFEST_BLOB_UNKNOWN, "MANIFEST_BLOB_UNKNOWN", 400},
    {BERR_MANIFEST_INVALID, "MANIFEST_INVALID", 400},
    {BERR_MANIFEST_UNKNOWN, "MANIFEST_UNKNOWN", 404},
    {BERR_NAME_INVALID, "NAME_INVALID", 400},
    {BERR_NAME_UNKNOWN, "NAME_UNKNOWN", 404},
    {BERR_SIZE_INVALID, "SIZE_INVALID", 400},
    {BERR_TAG_INVALID, "TAG_INVALID", 400},
    {BERR_UNAUTHORIZED, "UNAUTHORIZED", 401},
    {BERR_DENIED, "DENIED", 403},
    {BERR_UNSUPPORTED, "UNSUPPORTED", 405},
    {BERR_TOOMANYREQUESTS, "TOOMANYREQUESTS", 429},
    {BERR_RANGE_INVALID, "RANGE_INVALID", 416},
    {BERR_PAGINATION_NUMBER_INVALID, "PAGINATION_NUMBER_INVALID", 400},
    {BERR_MANIFEST_TOO_LARGE, "SIZE_INVALID", 413},
    {BERR_UNAVAILABLE, "UNAVAILABLE", 503},
    {BERR_INTERNAL, "UNKNOWN", 500},
    {BERR_NOT_FOUND, "NOT_FOUND", 404},
    {BERR_CONFLICT, "CONFLICT", 409},
    {BERR_BAD_REQUEST, "BAD_REQUEST", 400},
    {BERR_CODE_COUNT, "UNKNOWN", 500}, /* out of range */
};

static void test_code_table(void)
{
	for (size_t i = 0; i < sizeof code_cases / sizeof code_cases[0]; i++) {
		tap_is_str(berr_code_name(code_cases[i].code), code_cases[i].name, "code %d name", code_cases[i].code);
		tap_is_int(berr_http_status(code_cases[i].code), code_cases[i].status, "code %d status",
		           code_cases[i].code);
		const char *m = berr_code_message(code_cases[i].code);
		tap_ok(m && *m, "code %d has a message", code_cases[i].code);
	}
}

static void test_set(void)
{
	struct berr err;
	berr_clear(&err);
	tap_is_int(berr_set(&err, BERR_NAME_INVALID, "bad name %s", "x"), -1, "berr_set returns -1");
	tap_is_int(err.code, BERR_NAME_INVALID, "berr_set code");
	tap_is_str(err.message, "bad name x", "berr_set message");
	tap_is_int(err.sys_errno, 0, "berr_set leaves errno 0");
	tap_is_int(berr_set(NULL, BERR_DENIED, "ignored"), -1, "berr_set on NULL returns -1");
}

static void test_sys(void)
{
	struct berr err;
	char want[256];
	snprintf(want, sizeof want, "open /x: %s", strerror(ENOENT));
	tap_is_int(berr_sys(&err, ENOENT, "open %s", "/x"), -1, "berr_sys returns -1");
	tap_is_int(err.code, BERR_INTERNAL, "berr_sys code is INTERNAL");
	tap_is_int(err.sys_errno, ENOENT, "berr_sys keeps errno");
	tap_is_str(err.message, want, "berr_sys appends strerror");
}

static void test_prefix_clear(void)
{
	struct berr err;
	berr_set(&err, BERR_BLOB_UNKNOWN, "no such blob");
	berr_prefix(&err, "layer %d", 3);
	tap_is_str(err.message, "layer 3: no such blob", "berr_prefix");
	berr_prefix(NULL, "nothing");
	tap_ok(1, "berr_prefix on NULL does not crash");
	berr_clear(&err);
	tap_is_int(err.code, BERR_NONE, "berr_clear code");
	tap_is_str(err.message, "", "berr_clear message");
}

static void test_truncation(void)
{
	struct berr err;
	char big[2000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	berr_set(&err, BERR_INTERNAL, "%s", big);
	tap_is_int(strlen(err.message), sizeof err.message - 1, "long message is truncated");
	berr_prefix(&err, "ctx");
	tap_is_int(strncmp(err.message, "ctx: aaa", 8), 0, "prefix on a full message keeps the prefix");
	tap_is_int(strlen(err.message), sizeof err.message - 1, "prefixed message stays in bounds");
}

int main(void)
{
	test_code_table();
	test_set();
	test_sys();
	test_prefix_clear();
	test_truncation();
	return tap_done();
}
