/* Unit tests for common/manifest.c: the four manifest types, artifacts and subjects parse
 * into the expected descriptors; every rule of manifest_parse rejects what it should, with
 * a message that says why; hostile bodies (deep nesting, duplicates) fail cleanly. */
#include <stdlib.h>
#include <string.h>

#include "common/manifest.h"
#include "tests/unit/tap.h"

#define DA "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
#define DB "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
#define DC "sha256:c1aa4c7a2e0b9e5f0e4b2c6e5d2a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6"
#define DE "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#define DOCKER_MANIFEST                                                                                        \
	"{\"schemaVersion\":2,\"mediaType\":\"" MEDIATYPE_DOCKER_MANIFEST "\","                                \
	"\"config\":{\"mediaType\":\"" MEDIATYPE_DOCKER_CONFIG "\",\"size\":1469,\"digest\":\"" DA "\"},"      \
	"\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":2,"         \
	"\"digest\":\"" DB "\"},{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\"," \
	"\"size\":3,\"digest\":\"" DC "\",\"urls\":[\"https://example.com/layer\"]}]}"

#define DOCKER_LIST                                                                            \
	"{\"schemaVersion\":2,\"mediaType\":\"" MEDIATYPE_DOCKER_LIST "\",\"manifests\":["     \
	"{\"mediaType\":\"" MEDIATYPE_DOCKER_MANIFEST "\",\"size\":528,\"digest\":\"" DA "\"," \
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"                         \
	"{\"mediaType\":\"" MEDIATYPE_DOCKER_MANIFEST "\",\"size\":529,\"digest\":\"" DB "\"," \
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}}]}"

#define OCI_MANIFEST                                                                                   \
	"{\"schemaVersion\":2,\"mediaType\":\"" MEDIATYPE_OCI_MANIFEST "\","                           \
	"\"config\":{\"mediaType\":\"" MEDIATYPE_OCI_CONFIG "\",\"size\":7023,\"digest\":\"" DA "\"}," \
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":32654,"   \
	"\"digest\":\"" DB "\"}],\"annotations\":{\"z\":\"1\",\"a\":\"2\"}}"

/* No mediaType in the body: OCI allows it, and the Content-Type decides. */
#define OCI_INDEX                                                                                             \
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MEDIATYPE_OCI_MANIFEST "\","                  \
	"\"size\":7143,\"digest\":\"" DA "\",\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}}]," \
	"\"annotations\":{\"com.example.key\":\"value\"}}"

#define OCI_ARTIFACT                                                                               \
	"{\"schemaVersion\":2,\"mediaType\":\"" MEDIATYPE_OCI_MANIFEST "\","                       \
	"\"artifactType\":\"application/vnd.example.sbom.v1\","                                    \
	"\"config\":{\"mediaType\":\"" MEDIATYPE_OCI_EMPTY "\",\"size\":2,\"digest\":\"" DE "\"}," \
	"\"layers\":[],"                                                                           \
	"\"subject\":{\"mediaType\":\"" MEDIATYPE_OCI_MANIFEST "\",\"size\":1234,\"digest\":\"" DC "\"}}"

static void test_docker_manifest(void)
{
	struct manifest m;
	struct berr err = {0};
	int r = manifest_parse(MEDIATYPE_DOCKER_MANIFEST, DOCKER_MANIFEST, strlen(DOCKER_MANIFEST), &m, &err);
	tap_is_int(r, 0, "docker manifest parses %s", r ? err.message : "");
	if (r)
		return;
	tap_is_int(m.kind, MANIFEST_KIND_IMAGE, "  kind image");
	tap_is_str(m.media_type, MEDIATYPE_DOCKER_MANIFEST, "  media type");
	tap_is_int(m.ndescriptors, 3, "  config + 2 layers");
	tap_is_int(m.descriptors[0].kind, MANIFEST_REF_CONFIG, "  [0] config");
	tap_is_str(m.descriptors[0].media_type, MEDIATYPE_DOCKER_CONFIG, "  [0] media type");
	tap_is_str(m.descriptors[0].digest.str, DA, "  [0] digest");
	tap_is_int(m.descriptors[0].size, 1469, "  [0] size");
	tap_is_int(m.descriptors[1].kind, MANIFEST_REF_LAYER, "  [1] layer");
	tap_is_str(m.descriptors[1].digest.str, DB, "  [1] digest");
	tap_ok(!m.descriptors[1].foreign, "  [1] not foreign");
	tap_ok(m.descriptors[2].foreign, "  [2] foreign (has urls)");
	tap_ok(!m.has_subject, "  no subject");
	tap_is_str(m.artifact_type, NULL, "  no artifact type");
	tap_is_str(m.annotations_json, NULL, "  no annotations");
	manifest_free(&m);
	tap_is_int(m.ndescriptors, 0, "manifest_free resets");
	manifest_free(&m);
	manifest_free(NULL);
}

static void test_docker_list(void)
{
	struct manifest m;
	struct berr err = {0};
	/* No Content-Type: the body's mediaType decides. */
	int r = manifest_parse(NULL, DOCKER_LIST, strlen(DOCKER_LIST), &m, &err);
	tap_is_int(r, 0, "docker list parses %s", r ? err.message : "");
	if (r)
		return;
	tap_is_int(m.kind, MANIFEST_KIND_INDEX, "  kind index");
	tap_is_str(m.media_type, MEDIATYPE_DOCKER_LIST, "  media type");
	tap_is_int(m.ndescriptors, 2, "  two children");
	tap_is_int(m.descriptors[0].kind, MANIFEST_REF_CHILD, "  [0] child");
	tap_is_str(m.descriptors[0].platform_os, "linux", "  [0] os");
	tap_is_str(m.descriptors[0].platform_architecture, "amd64", "  [0] arch");
	tap_is_str(m.descriptors[0].platform_variant, NULL, "  [0] no variant");
	tap_is_str(m.descriptors[1].platform_variant, "v7", "  [1] variant");
	tap_is_int(m.descriptors[1].size, 529, "  [1] size");
	manifest_free(&m);
}

static void test_oci_manifest(void)
{
	struct manifest m;
	struct berr err = {0};
	int r = manifest_parse(MEDIATYPE_OCI_MANIFEST "; charset=utf-8", OCI_MANIFEST, strlen(OCI_MANIFEST), &m, &err);
	tap_is_int(r, 0, "OCI manifest parses (Content-Type with parameter) %s", r ? err.message : "");
	if (r)
		return;
	tap_is_int(m.kind, MANIFEST_KIND_IMAGE, "  kind image");
	tap_is_str(m.media_type, MEDIATYPE_OCI_MANIFEST, "  media type without parameter");
	tap_is_int(m.ndescriptors, 2, "  config + 1 layer");
	tap_is_str(m.annotations_json, "{\"a\":\"2\",\"z\":\"1\"}", "  annotations compact and sorted");
	tap_is_str(m.artifact_type, NULL, "  no artifact type");
	manifest_free(&m);
}

static void test_oci_index(void)
{
	struct manifest m;
	struct berr err = {0};
	int r = manifest_parse(MEDIATYPE_OCI_INDEX, OCI_INDEX, strlen(OCI_INDEX), &m, &err);
	tap_is_int(r, 0, "OCI index without body mediaType parses %s", r ? err.message : "");
	if (r)
		return;
	tap_is_int(m.kind, MANIFEST_KIND_INDEX, "  kind index");
	tap_is_str(m.media_type, MEDIATYPE_OCI_INDEX, "  media type from Content-Type");
	tap_is_int(m.ndescriptors, 1, "  one child");
	tap_is_str(m.descriptors[0].platform_architecture, "ppc64le", "  child arch");
	tap_is_str(m.annotations_json, "{\"com.example.key\":\"value\"}", "  annotations");
	manifest_free(&m);
}

static void test_oci_artifact(void)
{
	struct manifest m;
	struct berr err = {0};
	int r = manifest_parse("", OCI_ARTIFACT, strlen(OCI_ARTIFACT), &m, &err);
	tap_is_int(r, 0, "OCI artifact with subject parses (empty Content-Type) %s", r ? err.message : "");
	if (r)
		return;
	tap_is_int(m.ndescriptors, 1, "  only the config");
	tap_is_str(m.descriptors[0].media_type, MEDIATYPE_OCI_EMPTY, "  empty config");
	tap_is_str(m.artifact_type, "application/vnd.example.sbom.v1", "  artifactType");
	tap_ok(m.has_subject, "  has subject");
	tap_is_str(m.subject.str, DC, "  subject digest");
	tap_is_int(m.subject_size, 1234, "  subject size");
	manifest_free(&m);
}

/* application/json is tolerated when the body names a known type. */
static void test_lenient_json(void)
{
	struct manifest m;
	struct berr err = {0};
	int r = manifest_parse("application/json", OCI_MANIFEST, strlen(OCI_MANIFEST), &m, &err);
	tap_is_int(r, 0, "application/json with a known body mediaType %s", r ? err.message : "");
	tap_is_str(m.media_type, MEDIATYPE_OCI_MANIFEST, "  effective type from body");
	manifest_free(&m);
}

/* Build an OCI manifest body around one layer descriptor's inner JSON. */
#define OCI_WITH_LAYER(layer)                                                                   \
	"{\"schemaVersion\":2,\"mediaType\":\"" MEDIATYPE_OCI_MANIFEST                          \
	"\",\"config\":{\"mediaType\":\"" MEDIATYPE_OCI_CONFIG "\",\"size\":1,\"digest\":\"" DA \
	"\"},\"layers\":[" layer "]}"
#define LAYER_OK "{\"mediaType\":\"l\",\"size\":1,\"digest\":\"" DB "\"}"

static const struct {
	const char *name;
	const char *content_type;
	const char *body;
	const char *want_msg; /* substring of the error message */
} bad_cases[] = {
    {"not JSON", MEDIATYPE_OCI_MANIFEST, "this is not json", "not valid JSON"},
    {"empty body", MEDIATYPE_OCI_MANIFEST, "", "not valid JSON"},
    {"JSON array", MEDIATYPE_OCI_MANIFEST, "[1,2]", "must be a JSON object"},
    {"JSON string", MEDIATYPE_OCI_MANIFEST, "\"x\"", "must be a JSON object"},
    {"truncated", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":2,\"layers\":[", "not valid JSON"},
    {"trailing garbage", MEDIATYPE_OCI_MANIFEST, OCI_WITH_LAYER(LAYER_OK) "x", "not valid JSON"},
    {"duplicate keys", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":2,\"schemaVersion\":2}", "duplicate"},
    {"schemaVersion 1", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}",
     "schema1 manifests are not supported"},
    {"schemaVersion missing", MEDIATYPE_OCI_MANIFEST, "{\"config\":{},\"layers\":[]}", "schemaVersion must be 2"},
    {"schemaVersion string", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":\"2\"}", "schemaVersion must be 2"},
    {"schemaVersion 2.0", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":2.0}", "schemaVersion must be 2"},
    {"schemaVersion 3", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":3}", "schemaVersion must be 2"},
    {"schema1 content type", MEDIATYPE_DOCKER_SCHEMA1, "{\"schemaVersion\":2}", "schema1 manifests are not supported"},
    {"schema1 signed content type", MEDIATYPE_DOCKER_SCHEMA1_SIGNED, "{\"schemaVersion\":2}",
     "schema1 manifests are not supported"},
    {"schema1 body mediaType", NULL, "{\"schemaVersion\":2,\"mediaType\":\"" MEDIATYPE_DOCKER_SCHEMA1 "\"}",
     "schema1 manifests are not supported"},
    {"content type vs mediaType", MEDIATYPE_OCI_INDEX, OCI_WITH_LAYER(LAYER_OK), "does not match"},
    {"docker vs oci", MEDIATYPE_DOCKER_MANIFEST, OCI_WITH_LAYER(LAYER_OK), "does not match"},
    {"no type anywhere", NULL, "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}", "no mediaType"},
    {"unknown content type", "text/plain", OCI_WITH_LAYER(LAYER_OK), "unsupported manifest media type 'text/plain'"},
    {"octet-stream content type", "application/octet-stream", OCI_WITH_LAYER(LAYER_OK),
     "unsupported manifest media type"},
    {"application/json, no body type", "application/json", "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}",
     "unsupported manifest media type 'application/json'"},
    {"unknown body type", NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.example+json\"}",
     "unsupported manifest media type 'application/vnd.example+json'"},
    {"mediaType not a string", NULL, "{\"schemaVersion\":2,\"mediaType\":5}", "mediaType must be a string"},
    {"docker without body mediaType", MEDIATYPE_DOCKER_MANIFEST,
     "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\",\"size\":1,\"digest\":\"" DA "\"},\"layers\":[]}",
     "mediaType is required in Docker manifests"},
    {"missing config", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":2,\"layers\":[]}", "config is required"},
    {"config not an object", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":2,\"config\":\"x\",\"layers\":[]}",
     "config must be an object"},
    {"missing layers", MEDIATYPE_OCI_MANIFEST,
     "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\",\"size\":1,\"digest\":\"" DA "\"}}",
     "layers is required and must be an array"},
    {"layers not array", MEDIATYPE_OCI_MANIFEST,
     "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\",\"size\":1,\"digest\":\"" DA "\"},\"layers\":{}}",
     "layers is required and must be an array"},
    {"bad digest in layer 2", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER(LAYER_OK "," LAYER_OK ",{\"mediaType\":\"l\",\"size\":1,\"digest\":\"sha256:xyz\"}"),
     "layers[2].digest: invalid digest 'sha256:xyz'"},
    {"uppercase digest", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":\"sha256:"
                    "A3ED95CAEB02FFE68CDD9FD84406680AE93D633CB16422D00E8A7C22955B46D4\"}"),
     "layers[0].digest: invalid digest"},
    {"digest not a string", MEDIATYPE_OCI_MANIFEST, OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":1}"),
     "layers[0].digest is required"},
    {"negative size", MEDIATYPE_OCI_MANIFEST, OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":-1,\"digest\":\"" DB "\"}"),
     "layers[0].size is required and must be a non-negative integer"},
    {"size as string", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":\"1\",\"digest\":\"" DB "\"}"), "layers[0].size"},
    {"size as float", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1.5,\"digest\":\"" DB "\"}"), "layers[0].size"},
    {"size missing", MEDIATYPE_OCI_MANIFEST, OCI_WITH_LAYER("{\"mediaType\":\"l\",\"digest\":\"" DB "\"}"),
     "layers[0].size"},
    {"layer mediaType missing", MEDIATYPE_OCI_MANIFEST, OCI_WITH_LAYER("{\"size\":1,\"digest\":\"" DB "\"}"),
     "layers[0].mediaType is required"},
    {"layer not an object", MEDIATYPE_OCI_MANIFEST, OCI_WITH_LAYER("\"" DB "\""), "layers[0] must be an object"},
    {"urls not array", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":\"" DB "\",\"urls\":\"u\"}"), "layers[0].urls"},
    {"urls with a number", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":\"" DB "\",\"urls\":[1]}"), "layers[0].urls[0]"},
    {"layer annotations not strings", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":\"" DB "\",\"annotations\":{\"k\":1}}"),
     "layers[0].annotations['k'] must be a string"},
    {"annotations not object", MEDIATYPE_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":[]}",
     "annotations must be an object"},
    {"index missing manifests", MEDIATYPE_OCI_INDEX, "{\"schemaVersion\":2}", "manifests is required"},
    {"index manifests not array", MEDIATYPE_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":{}}",
     "manifests is required"},
    {"index child bad digest", MEDIATYPE_OCI_INDEX,
     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"size\":1,\"digest\":\"md5:abc\"}]}",
     "manifests[0].digest: invalid digest 'md5:abc'"},
    {"platform not object", MEDIATYPE_OCI_INDEX,
     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"size\":1,\"digest\":\"" DA
     "\",\"platform\":\"linux\"}]}",
     "manifests[0].platform must be an object"},
    {"platform os not string", MEDIATYPE_OCI_INDEX,
     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"size\":1,\"digest\":\"" DA
     "\",\"platform\":{\"os\":1}}]}",
     "manifests[0].platform.os must be a string"},
    {"index with layers", MEDIATYPE_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}",
     "must not have config or layers"},
    {"manifest with manifests", MEDIATYPE_OCI_MANIFEST,
     "{\"schemaVersion\":2,\"manifests\":[],\"config\":{},\"layers\":[]}", "must not have manifests"},
    {"bad subject", MEDIATYPE_OCI_MANIFEST,
     "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\",\"size\":1,\"digest\":\"" DA
     "\"},\"layers\":[],\"subject\":{\"mediaType\":\"m\",\"size\":1}}",
     "subject.digest is required"},
    {"artifactType not string", MEDIATYPE_OCI_MANIFEST,
     "{\"schemaVersion\":2,\"artifactType\":1,\"config\":{\"mediaType\":\"c\",\"size\":1,\"digest\":\"" DA
     "\"},\"layers\":[]}",
     "artifactType must be a string"},
    {"size over int64", MEDIATYPE_OCI_MANIFEST,
     OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":99999999999999999999,\"digest\":\"" DB "\"}"), "not valid JSON"},
    {"NUL escape in string", MEDIATYPE_OCI_MANIFEST, "{\"schemaVersion\":2,\"x\":\"a\\u0000b\"}", "not valid JSON"},
};

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct manifest m;
		struct berr err = {0};
		const char *b = bad_cases[i].body;
		int r = manifest_parse(bad_cases[i].content_type, b, strlen(b), &m, &err);
		tap_is_int(r, -1, "reject %s", bad_cases[i].name);
		tap_is_int(err.code, BERR_MANIFEST_INVALID, "  MANIFEST_INVALID");
		tap_ok(strstr(err.message, bad_cases[i].want_msg) != NULL, "  message: %s", err.message);
		tap_ok(m.media_type == NULL && m.descriptors == NULL && m.ndescriptors == 0, "  output left empty");
		manifest_free(&m);
	}
}

/* Deep nesting must fail cleanly, not recurse the stack away. */
static void test_deep_nesting(void)
{
	size_t n = 10000;
	char *buf = malloc(2 * n + 64);
	struct manifest m;
	struct berr err = {0};
	memset(buf, '[', n);
	tap_is_int(manifest_parse(MEDIATYPE_OCI_MANIFEST, buf, n, &m, &err), -1, "10000 '[' rejected");
	tap_ok(strstr(err.message, "nested deeper") != NULL, "  message: %s", err.message);
	memset(buf, '{', n);
	tap_is_int(manifest_parse(MEDIATYPE_OCI_MANIFEST, buf, n, &m, &err), -1, "10000 '{' rejected");

	/* 32 levels in total (the root object counts) is fine; 33 is not. */
	for (size_t depth = MANIFEST_MAX_DEPTH; depth <= MANIFEST_MAX_DEPTH + 1; depth++) {
		size_t o = (size_t)sprintf(buf, "{\"schemaVersion\":2,\"x\":");
		for (size_t i = 1; i < depth; i++)
			buf[o++] = '[';
		for (size_t i = 1; i < depth; i++)
			buf[o++] = ']';
		buf[o++] = '}';
		int r = manifest_parse(MEDIATYPE_OCI_INDEX, buf, o, &m, &err);
		if (depth == MANIFEST_MAX_DEPTH)
			tap_ok(r == -1 && strstr(err.message, "manifests is required"),
			       "depth %zu passes the depth check", depth);
		else
			tap_ok(r == -1 && strstr(err.message, "nested deeper"), "depth %zu fails the depth check",
			       depth);
	}

	/* Brackets inside strings (and escaped quotes) do not count. */
	size_t o = (size_t)sprintf(buf, "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"k\":\"\\\"");
	for (size_t i = 0; i < n; i++)
		buf[o++] = '[';
	o += (size_t)sprintf(buf + o, "\"}}");
	int r = manifest_parse(MEDIATYPE_OCI_INDEX, buf, o, &m, &err);
	tap_is_int(r, 0, "brackets inside strings are not nesting %s", r ? err.message : "");
	manifest_free(&m);
	free(buf);
}

static void test_too_large(void)
{
	struct manifest m;
	struct berr err = {0};
	char *buf = malloc(MANIFEST_MAX_SIZE + 1);
	memset(buf, ' ', MANIFEST_MAX_SIZE + 1);
	tap_is_int(manifest_parse(MEDIATYPE_OCI_MANIFEST, buf, MANIFEST_MAX_SIZE + 1, &m, &err), -1,
	           "over MANIFEST_MAX_SIZE rejected");
	tap_is_int(err.code, BERR_MANIFEST_TOO_LARGE, "  MANIFEST_TOO_LARGE");
	free(buf);
	tap_is_int(manifest_parse(NULL, "x", 1, &m, NULL), -1, "NULL err is allowed");
	tap_is_int(manifest_parse(MEDIATYPE_OCI_MANIFEST,
	                          OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":\"sha256:x\"}"),
	                          strlen(OCI_WITH_LAYER("{\"mediaType\":\"l\",\"size\":1,\"digest\":\"sha256:x\"}")),
	                          &m, NULL),
	           -1, "NULL err with a bad digest");
}

static const struct {
	const char *type;
	int known, index;
} type_cases[] = {
    {MEDIATYPE_DOCKER_MANIFEST, 1, 0},
    {MEDIATYPE_DOCKER_LIST, 1, 1},
    {MEDIATYPE_OCI_MANIFEST, 1, 0},
    {MEDIATYPE_OCI_INDEX, 1, 1},
    {MEDIATYPE_DOCKER_SCHEMA1, 0, 0},
    {"application/json", 0, 0},
    {"", 0, 0},
    {NULL, 0, 0},
};

static void test_media_types(void)
{
	for (size_t i = 0; i < sizeof type_cases / sizeof type_cases[0]; i++) {
		const char *t = type_cases[i].type ? type_cases[i].type : "(null)";
		tap_is_int(manifest_media_type_known(type_cases[i].type), type_cases[i].known, "known '%s'", t);
		tap_is_int(manifest_media_type_is_index(type_cases[i].type), type_cases[i].index, "is_index '%s'", t);
	}
}

int main(void)
{
	test_docker_manifest();
	test_docker_list();
	test_oci_manifest();
	test_oci_index();
	test_oci_artifact();
	test_lenient_json();
	test_invalid();
	test_deep_nesting();
	test_too_large();
	test_media_types();
	return tap_done();
}
