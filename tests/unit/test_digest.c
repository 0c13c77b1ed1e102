/* Unit tests for common/digest.c: the strict string grammar, error messages, known hash
 * vectors, streaming versus one-shot hashing, and digest_fd over a multi-chunk file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/digest.h"
#include "tests/unit/tap.h"

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HEX128                                                                                         \
	"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877e" \
	"ec2f63b931bd47417a81a538327af927da3e"

static const struct {
	const char *in;
	int ok;
	enum digest_algo algo;
} parse_cases[] = {
    {"sha256:" HEX64, 1, DIGEST_SHA256},
    {"sha512:" HEX128, 1, DIGEST_SHA512},
    {"sha256:0000000000000000000000000000000000000000000000000000000000000000", 1, DIGEST_SHA256},
    {"", 0, 0},
    {"sha256", 0, 0},
    {"sha256:", 0, 0},
    {":" HEX64, 0, 0},
    {HEX64, 0, 0},
    {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 0, 0},
    {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", 0, 0}, /* 63 */
    {"sha256:" HEX64 "5", 0, 0},                                                      /* 65 */
    {"sha256:" HEX64 " ", 0, 0},
    {" sha256:" HEX64, 0, 0},
    {"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0, 0},
    {"SHA256:" HEX64, 0, 0},
    {"sha512:" HEX64, 0, 0},
    {"sha256:" HEX128, 0, 0},
    {"md5:d41d8cd98f00b204e9800998ecf8427e", 0, 0},
    {"sha384:" HEX64, 0, 0},
    {"sha256::" HEX64, 0, 0},
    {"sha256+b64u:" HEX64, 0, 0},
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		struct digest d;
		struct berr err = {0};
		int r = digest_parse(parse_cases[i].in, &d, &err);
		tap_is_int(r, parse_cases[i].ok ? 0 : -1, "digest_parse '%s'", parse_cases[i].in);
		if (parse_cases[i].ok) {
			tap_is_str(d.str, parse_cases[i].in, "  canonical string kept");
			tap_is_int(d.algo, parse_cases[i].algo, "  algorithm");
		} else {
			tap_is_int(err.code, BERR_DIGEST_INVALID, "  code DIGEST_INVALID");
			tap_ok(strstr(err.message, "invalid digest '") != NULL, "  message quotes input: %s",
			       err.message);
		}
	}
}

static void test_parse_n(void)
{
	struct digest d;
	struct berr err = {0};
	char buf[] = "sha256:" HEX64 "trailing";
	tap_is_int(digest_parse_n(buf, 71, &d, &err), 0, "digest_parse_n takes a slice");
	tap_is_str(d.str, "sha256:" HEX64, "  and NUL-terminates it");
	tap_is_int(digest_parse_n(buf, 72, &d, &err), -1, "digest_parse_n rejects extra bytes");
	buf[20] = '\0';
	tap_is_int(digest_parse_n(buf, 71, &d, &err), -1, "digest_parse_n rejects a NUL inside");
	tap_ok(strstr(err.message, "\\x00") != NULL, "  and escapes it in the message: %s", err.message);
	tap_is_int(digest_parse_n(NULL, 0, &d, &err), -1, "digest_parse_n NULL");
	tap_is_int(digest_parse(NULL, &d, NULL), -1, "digest_parse NULL input, NULL err");
}

static void test_message_quoting(void)
{
	struct digest d;
	struct berr err = {0};
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[3] = '\n';
	big[4] = '\'';
	digest_parse(big, &d, &err);
	tap_ok(strchr(err.message, '\n') == NULL, "message has no raw newline");
	tap_ok(strstr(err.message, "xxx\\x0a'x") != NULL, "message escapes the newline: %s", err.message);
	tap_ok(strstr(err.message, "...'") != NULL, "message truncates long input");
	tap_ok(strlen(err.message) < 200, "message stays short (%zu)", strlen(err.message));
}

static void test_accessors(void)
{
	struct digest a, b;
	digest_parse("sha256:" HEX64, &a, NULL);
	digest_parse("sha512:" HEX128, &b, NULL);
	tap_is_str(digest_hex(&a), HEX64, "digest_hex sha256");
	tap_is_str(digest_hex(&b), HEX128, "digest_hex sha512");
	tap_is_str(digest_algo_name(DIGEST_SHA256), "sha256", "algo name sha256");
	tap_is_str(digest_algo_name(DIGEST_SHA512), "sha512", "algo name sha512");
	tap_ok(digest_equal(&a, &a), "digest_equal same");
	tap_ok(!digest_equal(&a, &b), "digest_equal different");
}

static const struct {
	enum digest_algo algo;
	const char *data;
	const char *want;
} vector_cases[] = {
    {DIGEST_SHA256, "", "sha256:" HEX64},
    {DIGEST_SHA256, "abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {DIGEST_SHA512, "", "sha512:" HEX128},
    {DIGEST_SHA512, "abc",
     "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
     "454d4423643ce80e2a9ac94fa54ca49f"},
};

static void test_vectors(void)
{
	for (size_t i = 0; i < sizeof vector_cases / sizeof vector_cases[0]; i++) {
		struct digest d, parsed;
		digest_buffer(vector_cases[i].algo, vector_cases[i].data, strlen(vector_cases[i].data), &d);
		tap_is_str(d.str, vector_cases[i].want, "%s('%s')", digest_algo_name(vector_cases[i].algo),
		           vector_cases[i].data);
		tap_is_int(digest_parse(d.str, &parsed, NULL), 0, "  output parses back");
	}
}

/* Hash one million 'a' in uneven pieces; compare with one shot and the known value. */
static void test_streaming(void)
{
	size_t n = 1000000;
	char *buf = malloc(n);
	memset(buf, 'a', n);
	struct digest one, streamed;
	digest_buffer(DIGEST_SHA256, buf, n, &one);
	tap_is_str(one.str, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	           "sha256 of a million 'a'");
	struct digest_ctx *ctx = digest_ctx_new(DIGEST_SHA256);
	tap_is_int(digest_ctx_algo(ctx), DIGEST_SHA256, "ctx algo");
	size_t off = 0, step = 1;
	while (off < n) {
		size_t k = step < n - off ? step : n - off;
		digest_ctx_update(ctx, buf + off, k);
		off += k;
		step = step * 3 + 1;
	}
	digest_ctx_update(ctx, buf, 0);
	tap_is_int(digest_ctx_length(ctx), n, "ctx counts length");
	digest_ctx_final(ctx, &streamed);
	tap_ok(digest_equal(&one, &streamed), "streamed equals one-shot");
	digest_ctx_reset(ctx);
	tap_is_int(digest_ctx_length(ctx), 0, "reset clears length");
	digest_ctx_update(ctx, "abc", 3);
	digest_ctx_final(ctx, &streamed);
	tap_is_str(streamed.str, vector_cases[1].want, "ctx reusable after reset");
	digest_ctx_free(ctx);
	digest_ctx_free(NULL);
	free(buf);
}

static void test_fd(void)
{
	char path[] = "/tmp/berth-test-digest-XXXXXX";
	int fd = mkstemp(path);
	tap_ok(fd >= 0, "mkstemp");
	if (fd < 0)
		return;
	unlink(path);
	struct digest d;
	uint64_t size = 1;
	struct berr err = {0};
	tap_is_int(digest_fd(fd, DIGEST_SHA256, &d, &size, &err), 0, "digest_fd empty file");
	tap_is_str(d.str, "sha256:" HEX64, "  empty digest");
	tap_is_int(size, 0, "  size 0");
	/* 2,560,000 bytes: spans three 1 MiB reads. */
	unsigned char block[256];
	for (int i = 0; i < 256; i++)
		block[i] = (unsigned char)i;
	for (int i = 0; i < 10000; i++)
		if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
			tap_ok(0, "write");
	tap_is_int(digest_fd(fd, DIGEST_SHA256, &d, &size, &err), 0, "digest_fd 2.5 MB file");
	tap_is_str(d.str, "sha256:2350b445eb01b3dc3c68b3e42b5b5678349472e2cbf75539fd75172f931ad1ee",
	           "  digest of the file");
	tap_is_int(size, 2560000, "  size");
	tap_is_int(digest_fd(fd, DIGEST_SHA512, &d, NULL, &err), 0, "digest_fd sha512, no size_out");
	tap_is_int(d.algo, DIGEST_SHA512, "  algo sha512");
	close(fd);
	tap_is_int(digest_fd(fd, DIGEST_SHA256, &d, &size, &err), -1, "digest_fd on a closed fd fails");
	tap_is_int(err.code, BERR_INTERNAL, "  code INTERNAL");
	tap_is_int(err.sys_errno, EBADF, "  errno EBADF");
}

/* Export the state after `split` bytes, import it into a fresh context, hash the rest
 * there: the result must equal the one-shot digest, for both algorithms and for splits
 * inside, at and across block boundaries. */
static void test_export_import(void)
{
	static const size_t splits[] = {0, 1, 55, 63, 64, 65, 111, 127, 128, 129, 1000, 4096, 100000};
	size_t total = 100003;
	unsigned char *data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 7));
	for (int a = 0; a < 2; a++) {
		enum digest_algo algo = a ? DIGEST_SHA512 : DIGEST_SHA256;
		struct digest want;
		digest_buffer(algo, data, total, &want);
		for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
			struct digest_ctx *ctx = digest_ctx_new(algo);
			digest_ctx_update(ctx, data, splits[i]);
			char *state = digest_ctx_export(ctx);
			digest_ctx_free(ctx);
			struct berr err = {0};
			struct digest_ctx *again = digest_ctx_import(state, &err);
			int ok = again != NULL && strlen(state) < 512;
			if (again) {
				ok = ok && digest_ctx_length(again) == splits[i] && digest_ctx_algo(again) == algo;
				digest_ctx_update(again, data + splits[i], total - splits[i]);
				struct digest got;
				digest_ctx_final(again, &got);
				ok = ok && digest_equal(&got, &want);
				digest_ctx_free(again);
			}
			tap_ok(ok, "%s state exported after %zu bytes continues to the right digest",
			       digest_algo_name(algo), splits[i]);
			free(state);
		}
	}
	free(data);

	static const char *const bad[] = {
	    "",
	    "v2 sha256 0 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 0 ",
	    "v1 md5 0 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 0 ",
	    /* num does not match the length */
	    "v1 sha256 3 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 2 6162",
	    /* pending bytes missing */
	    "v1 sha256 3 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 3 ",
	    /* a word too long for sha256 */
	    "v1 sha256 0 16a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 0 ",
	    /* upper case */
	    "v1 sha256 0 6A09E667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 0 ",
	    /* trailing garbage */
	    "v1 sha256 0 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 0 zz",
	    /* only seven words */
	    "v1 sha256 0 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 0 ",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct berr err = {0};
		struct digest_ctx *ctx = digest_ctx_import(bad[i], &err);
		tap_ok(ctx == NULL && err.code == BERR_INTERNAL, "malformed saved state %zu is refused", i);
		digest_ctx_free(ctx);
	}
	struct berr err = {0};
	struct digest_ctx *ctx = digest_ctx_import(
	    "v1 sha256 0 6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19 0 ", &err);
	struct digest got;
	if (ctx)
		digest_ctx_final(ctx, &got);
	tap_ok(ctx && strcmp(got.str, "sha256:" HEX64) == 0,
	       "the initial sha256 state imports and gives the empty digest");
	digest_ctx_free(ctx);
}

int main(void)
{
	test_parse();
	test_parse_n();
	test_message_quoting();
	test_accessors();
	test_vectors();
	test_streaming();
	test_fd();
	test_export_import();
	return tap_done();
}
