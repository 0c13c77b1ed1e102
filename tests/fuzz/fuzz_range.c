/* libFuzzer target: Range request headers and upload Content-Range headers
 * (common/range.c). The first 8 bytes are the resource size for Range; a satisfiable range
 * must lie inside the resource, a parsed Content-Range must have start <= end. */
#include "common/range.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rsize = 0;
	if (size >= 8) {
		memcpy(&rsize, data, 8);
		rsize %= (uint64_t)1 << 50;
		data += 8;
		size -= 8;
	}
	char *s = fuzz_cstr(data, size);
	struct byte_range br;
	enum range_result rr = range_parse_request(s, rsize, &br);
	FUZZ_CHECK(rr == RANGE_NONE || rr == RANGE_OK || rr == RANGE_UNSATISFIABLE);
	if (rr == RANGE_OK)
		FUZZ_CHECK(rsize > 0 && br.start <= br.end && br.end < rsize);
	struct berr err;
	if (range_parse_content_range(s, &br, &err) == 0)
		FUZZ_CHECK(br.start <= br.end);
	else
		FUZZ_CHECK(err.code == BERR_RANGE_INVALID);
	free(s);
	return 0;
}
