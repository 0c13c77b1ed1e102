/* Unit tests for common/reference.c: the repository name and tag grammars, and parsing,
 * normalizing and formatting full image references. */
#include <stdlib.h>
#include <string.h>

#include "common/reference.h"
#include "tests/unit/tap.h"

#define D64 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct {
	const char *name;
	int ok;
} name_cases[] = {
    {"a", 1},
    {"0", 1},
    {"a/b/c", 1},
    {"a-b", 1},
    {"a--b", 1},
    {"a---b", 1},
    {"a__b", 1},
    {"a.b", 1},
    {"a_b", 1},
    {"library/busybox", 1},
    {"my-org/sub.team/app_v2", 1},
    {"a0/b1-c2.d3__e4", 1},
    {"", 0},
    {"A", 0},
    {"a/B", 0},
    {"a//b", 0},
    {"/a", 0},
    {"a/", 0},
    {"-a", 0},
    {"a-", 0},
    {".a", 0},
    {"a.", 0},
    {"_a", 0},
    {"a_", 0},
    {"a..b", 0},
    {"..", 0},
    {"a/../b", 0},
    {"a/./b", 0},
    {"a___b", 0},
    {"a._b", 0},
    {"a.-b", 0},
    {"a-.b", 0},
    {"a_-b", 0},
    {"a%b", 0},
    {"a b", 0},
    {"a:b", 0},
    {"a@b", 0},
    {"a\nb", 0},
    {"é", 0},
};

static void test_names(void)
{
	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		const char *n = name_cases[i].name;
		struct berr err = {0};
		tap_is_int(reference_name_valid(n, strlen(n)), name_cases[i].ok, "name '%s'", n);
		int r = reference_check_name(n, strlen(n), &err);
		tap_is_int(r, name_cases[i].ok ? 0 : -1, "  check_name agrees");
		if (!name_cases[i].ok)
			tap_ok(err.code == BERR_NAME_INVALID && strchr(err.message, '\n') == NULL, "  NAME_INVALID: %s",
			       err.message);
	}
}

static void test_name_lengths(void)
{
	char buf[300];
	memset(buf, 'a', sizeof buf);
	tap_ok(reference_name_valid(buf, 255), "255-char name valid");
	tap_ok(!reference_name_valid(buf, 256), "256-char name invalid");
	/* 255 chars made of components, slashes included in the count. */
	for (size_t i = 1; i < 255; i += 2)
		buf[i] = '/';
	tap_ok(reference_name_valid(buf, 255), "255-char name with components valid");
	tap_ok(!reference_name_valid(buf, 256), "256-char name with components invalid");
	const char nul[] = "ab\0cd";
	tap_ok(!reference_name_valid(nul, 5), "NUL inside a name is invalid");
	tap_ok(reference_name_valid(nul, 2), "a slice before the NUL is valid");
	tap_ok(!reference_name_valid(NULL, 0), "NULL name invalid");
	struct berr err = {0};
	memset(buf, 'a', sizeof buf);
	tap_is_int(reference_check_name(buf, 300, &err), -1, "check_name 300 chars");
	tap_ok(strstr(err.message, "...") != NULL, "  message truncates the quote: %s", err.message);
}

static const struct {
	const char *tag;
	int ok;
} tag_cases[] = {
    {"latest", 1}, {"v1.0.0", 1}, {"_hidden", 1}, {"A", 1},   {"1", 1},   {"a-b_c.d", 1}, {"V1-RC.2", 1}, {"", 0},
    {".a", 0},     {"-a", 0},     {"a/b", 0},     {"a:b", 0}, {"a b", 0}, {"a@b", 0},     {"a+b", 0},     {"tag\n", 0},
};

static void test_tags(void)
{
	for (size_t i = 0; i < sizeof tag_cases / sizeof tag_cases[0]; i++) {
		const char *t = tag_cases[i].tag;
		struct berr err = {0};
		tap_is_int(reference_tag_valid(t, strlen(t)), tag_cases[i].ok, "tag '%s'", t);
		tap_is_int(reference_check_tag(t, strlen(t), &err), tag_cases[i].ok ? 0 : -1, "  check_tag agrees");
		if (!tag_cases[i].ok)
			tap_is_int(err.code, BERR_TAG_INVALID, "  TAG_INVALID: %s", err.message);
	}
	char buf[200];
	memset(buf, 'x', sizeof buf);
	tap_ok(reference_tag_valid(buf, 128), "128-char tag valid");
	tap_ok(!reference_tag_valid(buf, 129), "129-char tag invalid");
	tap_ok(!reference_tag_valid("ab\0c", 4), "NUL inside a tag invalid");
}

static const struct {
	const char *in;
	const char *registry, *repository, *tag, *digest;
	const char *formatted;
} parse_cases[] = {
    {"busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest"},
    {"busybox:1.36", "docker.io", "library/busybox", "1.36", NULL, "docker.io/library/busybox:1.36"},
    {"library/busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest"},
    {"user/app", "docker.io", "user/app", "latest", NULL, "docker.io/user/app:latest"},
    {"docker.io/busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest"},
    {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest"},
    {"registry-1.docker.io/user/app:v1", "docker.io", "user/app", "v1", NULL, "docker.io/user/app:v1"},
    {"busybox@" D64, "docker.io", "library/busybox", NULL, D64, "docker.io/library/busybox@" D64},
    {"repo:tag@" D64, "docker.io", "library/repo", "tag", D64, "docker.io/library/repo:tag@" D64},
    {"localhost/foo", "localhost", "foo", "latest", NULL, "localhost/foo:latest"},
    {"localhost:5000/foo/bar:t", "localhost:5000", "foo/bar", "t", NULL, "localhost:5000/foo/bar:t"},
    {"example.com/a/b/c", "example.com", "a/b/c", "latest", NULL, "example.com/a/b/c:latest"},
    {"my-registry.example.com:443/x", "my-registry.example.com:443", "x", "latest", NULL,
     "my-registry.example.com:443/x:latest"},
    {"127.0.0.1:5000/foo", "127.0.0.1:5000", "foo", "latest", NULL, "127.0.0.1:5000/foo:latest"},
    {"[::1]:5000/foo", "[::1]:5000", "foo", "latest", NULL, "[::1]:5000/foo:latest"},
    {"[2001:db8::1]/foo@" D64, "[2001:db8::1]", "foo", NULL, D64, "[2001:db8::1]/foo@" D64},
    {"Docker.io/foo", "Docker.io", "foo", "latest", NULL, "Docker.io/foo:latest"},
    {"Registry.Example.COM/a", "Registry.Example.COM", "a", "latest", NULL, "Registry.Example.COM/a:latest"},
    {"localhost:5000", "docker.io", "library/localhost", "5000", NULL, "docker.io/library/localhost:5000"},
    {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:v1", "docker.io",
     "library/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "v1", NULL,
     "docker.io/library/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:v1"},
    {"foo/bar:Latest_1.0-x", "docker.io", "foo/bar", "Latest_1.0-x", NULL, "docker.io/foo/bar:Latest_1.0-x"},
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		struct reference ref, again;
		struct berr err = {0};
		int r = reference_parse(parse_cases[i].in, &ref, &err);
		tap_is_int(r, 0, "parse '%s' %s", parse_cases[i].in, r ? err.message : "");
		if (r)
			continue;
		tap_is_str(ref.registry, parse_cases[i].registry, "  registry");
		tap_is_str(ref.repository, parse_cases[i].repository, "  repository");
		tap_is_str(ref.tag, parse_cases[i].tag, "  tag");
		tap_is_str(ref.has_digest ? ref.digest.str : NULL, parse_cases[i].digest, "  digest");
		char *s = reference_format(&ref);
		tap_is_str(s, parse_cases[i].formatted, "  format");
		tap_is_int(reference_parse(s, &again, &err), 0, "  formatted form parses");
		char *s2 = reference_format(&again);
		tap_is_str(s2, s, "  and round-trips");
		free(s);
		free(s2);
		reference_free(&again);
		reference_free(&ref);
	}
}

static const struct {
	const char *in;
	enum berr_code code;
} bad_cases[] = {
    {"", BERR_NAME_INVALID},
    {"Busybox", BERR_NAME_INVALID},
    {"docker.io/Library/busybox", BERR_NAME_INVALID},
    {"foo/Bar", BERR_NAME_INVALID},
    {"a//b", BERR_NAME_INVALID},
    {"a/../b", BERR_NAME_INVALID},
    {"/foo", BERR_NAME_INVALID},
    {"foo/", BERR_NAME_INVALID},
    {"example.com/", BERR_NAME_INVALID},
    {"a b", BERR_NAME_INVALID},
    {"a%2fb", BERR_NAME_INVALID},
    {"-bad.com/foo", BERR_NAME_INVALID},
    {"bad-.com/foo", BERR_NAME_INVALID},
    {"bad..com/foo", BERR_NAME_INVALID},
    {"host:/foo", BERR_NAME_INVALID},
    {"host:50a0/foo", BERR_NAME_INVALID},
    {"[::1/foo", BERR_NAME_INVALID},
    {"[]:5000/foo", BERR_NAME_INVALID},
    {"[::g]/foo", BERR_NAME_INVALID},
    {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", BERR_NAME_INVALID},
    {"@" D64, BERR_NAME_INVALID},
    {"foo:", BERR_TAG_INVALID},
    {"foo:.bad", BERR_TAG_INVALID},
    {"foo:a:b", BERR_TAG_INVALID},
    {"localhost:5000/foo:", BERR_TAG_INVALID},
    {"foo@", BERR_DIGEST_INVALID},
    {"foo@sha256:abc", BERR_DIGEST_INVALID},
    {"foo@md5:d41d8cd98f00b204e9800998ecf8427e", BERR_DIGEST_INVALID},
    {"foo@" D64 "@" D64, BERR_DIGEST_INVALID},
    {"foo:tag@" D64 "x", BERR_DIGEST_INVALID},
};

static void test_parse_errors(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct reference ref;
		struct berr err = {0};
		int r = reference_parse(bad_cases[i].in, &ref, &err);
		tap_is_int(r, -1, "reject '%s'", bad_cases[i].in);
		tap_is_int(err.code, bad_cases[i].code, "  code %s: %s", berr_code_name(bad_cases[i].code),
		           err.message);
		tap_ok(!ref.registry && !ref.repository && !ref.tag, "  nothing left allocated");
		reference_free(&ref);
	}
	struct reference ref;
	tap_is_int(reference_parse(NULL, &ref, NULL), -1, "NULL input, NULL err");
	reference_free(NULL);
}

static void test_parse_lengths(void)
{
	char buf[400];
	struct reference ref;
	struct berr err = {0};
	/* "example.com/" + 255-char path: the path alone is at the limit. */
	memset(buf, 'a', sizeof buf);
	memcpy(buf, "example.com/", 12);
	buf[12 + 255] = '\0';
	tap_is_int(reference_parse(buf, &ref, &err), 0, "255-char repository with registry");
	reference_free(&ref);
	buf[12 + 255] = 'a';
	buf[12 + 256] = '\0';
	tap_is_int(reference_parse(buf, &ref, &err), -1, "256-char repository rejected");
	tap_is_int(err.code, BERR_NAME_INVALID, "  NAME_INVALID");
	/* A 250-char docker.io short name exceeds 255 once "library/" is added. */
	memset(buf, 'b', 250);
	buf[250] = '\0';
	tap_is_int(reference_parse(buf, &ref, &err), -1, "short name too long after library/");
	tap_is_int(err.code, BERR_NAME_INVALID, "  NAME_INVALID");
}

int main(void)
{
	test_names();
	test_name_lengths();
	test_tags();
	test_parse();
	test_parse_errors();
	test_parse_lengths();
	return tap_done();
}
