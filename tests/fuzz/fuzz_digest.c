/* libFuzzer target: digest strings (common/digest.c). An accepted digest is canonical: its
 * string is exactly the input, "algo:" plus lowercase hex of the algorithm's length. */
#include "common/digest.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest d;
	struct berr err;
	if (digest_parse_n((const char *)data, size, &d, &err) == 0) {
		FUZZ_CHECK(strlen(d.str) == size && memcmp(d.str, data, size) == 0);
		const char *hex = digest_hex(&d);
		FUZZ_CHECK(strlen(hex) == (d.algo == DIGEST_SHA256 ? 64 : 128));
		for (const char *p = hex; *p; p++)
			FUZZ_CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
	}
	char *s = fuzz_cstr(data, size);
	int rc = digest_parse(s, &d, &err);
	if (strlen(s) == size)
		FUZZ_CHECK((rc == 0) == (digest_parse_n((const char *)data, size, &d, &err) == 0));
	free(s);
	return 0;
}
