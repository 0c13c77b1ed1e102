/* Unit tests for client/platform.c: parsing, matching and index selection. */
#include "client/platform.h"
#include "tests/unit/tap.h"

static const struct {
	const char *in;
	int rc;
	const char *out;
} parse_cases[] = {
    {"linux/amd64", 0, "linux/amd64"},
    {"linux/arm64/v8", 0, "linux/arm64/v8"},
    {"linux/x86_64", 0, "linux/amd64"},
    {"linux/aarch64", 0, "linux/arm64"},
    {"linux/armhf", 0, "linux/arm/v7"},
    {"linux/arm/v6", 0, "linux/arm/v6"},
    {"linux", -1, NULL},
    {"linux/", -1, NULL},
    {"linux/amd64/v1/x", -1, NULL},
    {"Linux/AMD64", -1, NULL},
};

static const struct {
	const char *want, *os, *arch, *variant;
	bool match;
} match_cases[] = {
    {"linux/amd64", "linux", "amd64", NULL, true},    {"linux/amd64", "linux", "arm64", NULL, false},
    {"linux/arm64", "linux", "arm64", "v8", true},    {"linux/arm64/v8", "linux", "arm64", NULL, true},
    {"linux/arm/v7", "linux", "arm", "v6", false},    {"linux/arm/v7", "linux", "arm", NULL, true},
    {"linux/amd64", "windows", "amd64", NULL, false}, {"linux/amd64", NULL, "amd64", NULL, false},
};

int main(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		struct platform p;
		char buf[128];
		int rc = platform_parse(parse_cases[i].in, &p, NULL);
		tap_is_int(rc, parse_cases[i].rc, "parse %s", parse_cases[i].in);
		if (rc == 0) {
			platform_format(&p, buf, sizeof buf);
			tap_is_str(buf, parse_cases[i].out, "format %s", parse_cases[i].in);
		}
	}
	for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
		struct platform p;
		platform_parse(match_cases[i].want, &p, NULL);
		tap_is_int(platform_match(&p, match_cases[i].os, match_cases[i].arch, match_cases[i].variant),
		           match_cases[i].match, "%s vs %s/%s/%s", match_cases[i].want, match_cases[i].os,
		           match_cases[i].arch, match_cases[i].variant ? match_cases[i].variant : "");
	}
	static const char index[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
	    "1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
	    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
	    "2222222222222222222222222222222222222222222222222222222222222222\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
	    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
	    "3333333333333333333333333333333333333333333333333333333333333333\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	struct manifest m;
	tap_is_int(manifest_parse(NULL, index, sizeof index - 1, &m, NULL), 0, "index parses");
	struct platform p;
	platform_parse("linux/arm/v7", &p, NULL);
	tap_is_int(platform_select(&m, &p), 1, "arm/v7 picks the v7 entry");
	platform_parse("linux/amd64", &p, NULL);
	tap_is_int(platform_select(&m, &p), 2, "amd64 picks the amd64 entry");
	platform_parse("linux/s390x", &p, NULL);
	tap_is_int(platform_select(&m, &p), -1, "s390x has none");
	manifest_free(&m);
	platform_host(&p);
	tap_ok(p.arch[0] != '\0' && strcmp(p.os, "linux") == 0, "host platform linux/%s", p.arch);
	return tap_done();
}
