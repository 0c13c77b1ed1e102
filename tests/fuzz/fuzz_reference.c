/* libFuzzer target: image references and repository names (common/reference.c). A parsed
 * reference must format to a string that parses back to the same reference. */
#include "common/reference.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct berr err;
	size_t len = strlen(s);
	bool name_ok = reference_name_valid(s, len);
	FUZZ_CHECK(name_ok == (reference_check_name(s, len, &err) == 0));
	bool tag_ok = reference_tag_valid(s, len);
	FUZZ_CHECK(tag_ok == (reference_check_tag(s, len, &err) == 0));
	(void)reference_namespace_valid(s);
	struct reference ref;
	if (reference_parse(s, &ref, &err) == 0) {
		FUZZ_CHECK(ref.registry && ref.repository);
		FUZZ_CHECK(reference_name_valid(ref.repository, strlen(ref.repository)));
		char *text = reference_format(&ref);
		struct reference again;
		FUZZ_CHECK(reference_parse(text, &again, &err) == 0);
		char *text2 = reference_format(&again);
		FUZZ_CHECK(strcmp(text, text2) == 0);
		free(text2);
		free(text);
		reference_free(&again);
		reference_free(&ref);
	}
	free(s);
	return 0;
}
