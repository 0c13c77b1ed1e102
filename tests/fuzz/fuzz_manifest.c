/* libFuzzer target: manifest and index parsing and validation (common/manifest.c). The
 * first byte picks the Content-Type the body is sent with; the rest is the body. */
#include "common/manifest.h"
#include "tests/fuzz/fuzz.h"

static const char *const content_types[] = {MEDIATYPE_OCI_MANIFEST,
                                            MEDIATYPE_OCI_INDEX,
                                            MEDIATYPE_DOCKER_MANIFEST,
                                            MEDIATYPE_DOCKER_LIST,
                                            MEDIATYPE_DOCKER_SCHEMA1,
                                            "application/json",
                                            "",
                                            NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *ct = content_types[data[0] % (sizeof content_types / sizeof content_types[0])];
	struct manifest m;
	struct berr err;
	if (manifest_parse(ct, data + 1, size - 1, &m, &err) == 0) {
		FUZZ_CHECK(m.media_type != NULL);
		for (size_t i = 0; i < m.ndescriptors; i++) {
			struct digest d;
			FUZZ_CHECK(digest_parse(m.descriptors[i].digest.str, &d, &err) == 0);
			FUZZ_CHECK(m.descriptors[i].size >= 0);
		}
		if (m.kind == MANIFEST_KIND_INDEX)
			for (size_t i = 0; i < m.ndescriptors; i++)
				FUZZ_CHECK(m.descriptors[i].kind == MANIFEST_REF_CHILD);
		manifest_free(&m);
	} else {
		FUZZ_CHECK(err.code != BERR_NONE);
	}
	return 0;
}
