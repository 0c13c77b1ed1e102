/* Unit tests for common/certs_d.c: finding a registry's certs.d folder among roots, and
 * gathering its *.crt files (order, caps, files without a certificate, other entries). */
#include "common/certs_d.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/unit/tap.h"

/* Two real self-signed CA certificates (openssl req -x509 -newkey ec, P-256, 100 years):
 * the loader parses each certificate. PEM_A lacks its last newline on purpose. */
#define PEM_A                                                                \
	"-----BEGIN CERTIFICATE-----\n"                                      \
	"MIIBizCCATGgAwIBAgIULhiuMHGaQ1j/cs2i/Q1FNBtRMqUwCgYIKoZIzj0EAwIw\n" \
	"GjEYMBYGA1UEAwwPYmVydGggdGVzdCBDQSBhMCAXDTI2MTEyODE2MDk1OFoYDzIx\n" \
	"MjYxMTA0MTYwOTU4WjAaMRgwFgYDVQQDDA9iZXJ0aCB0ZXN0IENBIGEwWTATBgcq\n" \
	"hkjOPQIBBggqhkjOPQMBBwNCAARgtNtyhZIHM49NAYeOD5iODx89Df1HFuCU502c\n" \
	"1vZse8z3boj6URLgJ0jnJ6y+LavknKDtp66BGys8V2xWa8Moo1MwUTAdBgNVHQ4E\n" \
	"FgQUjyJq1FHEHahe1WBwTv6ySyuYKM4wHwYDVR0jBBgwFoAUjyJq1FHEHahe1WBw\n" \
	"Tv6ySyuYKM4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBylRX2\n" \
	"/ABuxGe9/7uJjo06r/k967RDrPFF+OVsQuT1BgIhAInKV8gatIu6zgHqsa+7Ytsz\n" \
	"sKHTJStVlFsBo4bHTiTR\n"                                             \
	"-----END CERTIFICATE-----"
#define PEM_B                                                                \
	"-----BEGIN CERTIFICATE-----\n"                                      \
	"MIIBizCCATGgAwIBAgIUWf2kK7zBkhNHT/5xH+KarTYA3wMwCgYIKoZIzj0EAwIw\n" \
	"GjEYMBYGA1UEAwwPYmVydGggdGVzdCBDQSBiMCAXDTI2MTEyODE2MDk1OFoYDzIx\n" \
	"MjYxMTA0MTYwOTU4WjAaMRgwFgYDVQQDDA9iZXJ0aCB0ZXN0IENBIGIwWTATBgcq\n" \
	"hkjOPQIBBggqhkjOPQMBBwNCAASs5DK9j+gFuAAiwZLK7Dov5qAaQdVCcyY4cUY8\n" \
	"jzAZu6u3RoWz5yV8PggB3hq27mUH1OKJpy+fj3q5Vi6KI2qPo1MwUTAdBgNVHQ4E\n" \
	"FgQUsQi8UFDN27d4ZHamfE0e4XdhKRswHwYDVR0jBBgwFoAUsQi8UFDN27d4ZHam\n" \
	"fE0e4XdhKRswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA1G6i\n" \
	"QmPgiUEh1tmE2O+GiGc1+h9XraeimidvabzhHF8CIA5QmL5MsP2kqAy2E+aOcmEY\n" \
	"Iss/CFEOcUMzTP2jEacA\n"                                             \
	"-----END CERTIFICATE-----\n"
/* The BEGIN and END lines of a certificate around bytes that are no certificate. */
#define PEM_GARBAGE "-----BEGIN CERTIFICATE-----\nZZZZ garbage\n-----END CERTIFICATE-----\n"

static char top[] = "/tmp/berth-certs-d-XXXXXX";

/* Write text to top/rel (a folder when text is NULL). */
static void put(const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", top, rel);
	if (!text) {
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			perror(p);
	} else {
		FILE *f = fopen(p, "w");
		if (!f || fputs(text, f) < 0 || fclose(f) != 0)
			perror(p);
	}
	free(p);
}

static void find_cases(void)
{
	char *r1 = xasprintf("%s/r1", top), *r2 = xasprintf("%s/r2", top), *r3 = xasprintf("%s/missing", top);
	const char *roots[] = {r3, r1, r2};
	put("r1", NULL);
	put("r2", NULL);
	put("r2/h:5000", NULL);
	put("r2/only2:1", NULL);
	put("r1/h:5000", NULL);
	put("r1/file:1", "x");
	put("r2/[::1]:5000", NULL);
	struct berr err = {0};
	char *dir = NULL;
	char *want = xasprintf("%s/h:5000", r1);
	tap_is_int(certs_d_find("h:5000", roots, 3, &dir, &err), 1, "find: the first root holding HOST:PORT wins");
	tap_is_str(dir, want, "find: its folder");
	free(dir);
	free(want);
	want = xasprintf("%s/only2:1", r2);
	tap_is_int(certs_d_find("only2:1", roots, 3, &dir, &err), 1, "find: a later root when earlier ones lack it");
	tap_is_str(dir, want, "find: the later root's folder");
	free(dir);
	free(want);
	want = xasprintf("%s/[::1]:5000", r2);
	tap_is_int(certs_d_find("[::1]:5000", roots, 3, &dir, &err), 1, "find: an IPv6 registry");
	tap_is_str(dir, want, "find: its folder");
	free(dir);
	free(want);
	tap_is_int(certs_d_find("h", roots, 3, &dir, &err), 0, "find: HOST without the port is another folder");
	tap_ok(dir == NULL, "find: none gives no folder");
	tap_is_int(certs_d_find("file:1", roots, 3, &dir, &err), -1, "find: a file in place of the folder is an error");
	tap_ok(strstr(err.message, "file:1: not a folder") != NULL, "find: the error names it: %s", err.message);
	tap_is_int(certs_d_find("../r1", roots, 3, &dir, &err), -1, "find: a name with / is refused");
	tap_is_int(certs_d_find("..", roots, 3, &dir, &err), -1, "find: .. is refused");
	tap_is_int(certs_d_find("", roots, 3, &dir, &err), -1, "find: an empty name is refused");
	free(r1);
	free(r2);
	free(r3);
}

static void load_cases(void)
{
	struct berr err = {0};
	struct certs_pem pem = {0};
	put("ok", NULL);
	put("ok/b.crt", PEM_B);
	put("ok/a.crt", PEM_A); /* no final newline */
	put("ok/client.cert", "not read");
	put("ok/client.key", "not read");
	put("ok/notes.txt", "not read");
	put("ok/sub.crt.d", NULL);
	char *dir = xasprintf("%s/ok", top);
	char *dangling = xasprintf("%s/ok/gone.crt", top);
	if (symlink("/nonexistent/berth-ca.crt", dangling) < 0)
		perror(dangling);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), 0, "load: a folder with two *.crt: %s", err.message);
	tap_is_str(pem.data, PEM_A "\n" PEM_B "\n", "load: both, in name order, each ending in a newline");
	tap_is_int(pem.files, 2, "load: two files (not *.cert, *.key, others, nor a dangling symlink)");
	size_t len = pem.len;
	tap_is_int(certs_d_load_cas(dir, &pem, &err), 0, "load: again appends");
	tap_is_int(pem.len, 2 * len, "load: twice the text");
	certs_pem_free(&pem);
	free(dir);
	free(dangling);

	put("empty", NULL);
	put("empty/ca.pem", PEM_A);
	dir = xasprintf("%s/empty", top);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), 0, "load: a folder without *.crt");
	tap_ok(pem.data == NULL && pem.files == 0, "load: adds nothing");
	free(dir);

	put("bad", NULL);
	put("bad/a.crt", PEM_A);
	put("bad/b.crt", "not a certificate\n");
	dir = xasprintf("%s/bad", top);
	put("seed.crt", PEM_B);
	char *seed = xasprintf("%s/seed.crt", top);
	tap_is_int(certs_pem_append_file(&pem, seed, "--ca-cert", &err), 0, "append: a PEM file");
	len = pem.len;
	tap_is_int(certs_d_load_cas(dir, &pem, &err), -1, "load: a *.crt without a certificate fails");
	tap_ok(strstr(err.message, "bad/b.crt: no PEM certificate") != NULL, "load: the error names it: %s",
	       err.message);
	tap_is_int(pem.len, len, "load: pem is unchanged by the failure");
	tap_is_int(pem.files, 1, "load: so is its file count");
	certs_pem_free(&pem);
	free(dir);

	/* A good CA next to a block that only looks like one: the whole folder is refused, and
	 * the message names the bad file (libcurl would refuse the text without naming it). */
	put("garbage", NULL);
	put("garbage/a.crt", PEM_A "\n");
	put("garbage/zz.crt", PEM_B PEM_GARBAGE);
	dir = xasprintf("%s/garbage", top);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), -1, "load: a *.crt with a block that does not parse fails");
	tap_ok(strstr(err.message, "garbage/zz.crt: a PEM certificate in the file does not parse") != NULL,
	       "load: the error names the file: %s", err.message);
	tap_ok(pem.data == NULL, "load: nothing added");
	free(dir);

	/* A FIFO named *.crt: refused at once (opened without blocking), not waited on. */
	put("fifo", NULL);
	char *fifo = xasprintf("%s/fifo/pipe.crt", top);
	tap_is_int(mkfifo(fifo, 0644), 0, "mkfifo %s", fifo);
	dir = xasprintf("%s/fifo", top);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), -1, "load: a FIFO named *.crt fails without blocking");
	tap_ok(strstr(err.message, "pipe.crt: not a file") != NULL, "load: the error says so: %s", err.message);
	free(fifo);
	free(dir);

	put("dir", NULL);
	put("dir/x.crt", NULL);
	dir = xasprintf("%s/dir", top);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), -1, "load: a folder named *.crt fails");
	tap_ok(strstr(err.message, "x.crt: not a file") != NULL, "load: the error says so: %s", err.message);
	free(dir);

	put("big", NULL);
	dir = xasprintf("%s/big", top);
	char *big = xasprintf("%s/big/huge.crt", top);
	FILE *f = fopen(big, "w");
	fputs(PEM_A "\n", f);
	for (int i = 0; i < CERTS_D_FILE_MAX / 64 + 1; i++)
		fprintf(f, "%063d\n", i);
	fclose(f);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), -1, "load: a *.crt over the size cap fails");
	tap_ok(strstr(err.message, "larger than") != NULL, "load: the error says so: %s", err.message);
	tap_ok(pem.data == NULL, "load: nothing added");
	free(big);
	free(dir);

	dir = xasprintf("%s/nonexistent", top);
	tap_is_int(certs_d_load_cas(dir, &pem, &err), -1, "load: a missing folder fails");
	free(dir);

	char *missing = xasprintf("%s/missing.pem", top);
	tap_is_int(certs_pem_append_file(&pem, missing, "--ca-cert", &err), -1, "append: a missing file fails");
	tap_ok(strncmp(err.message, "--ca-cert ", 10) == 0 && strstr(err.message, "No such file"),
	       "append: the error names the option and the cause: %s", err.message);
	free(missing);
	free(seed);
}

int main(void)
{
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		return 1;
	}
	find_cases();
	load_cases();
	char *rm = xasprintf("rm -rf '%s'", top);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	free(rm);
	return tap_done();
}
