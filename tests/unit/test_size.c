/* Unit tests for common/size.c: every accepted form and every refusal of size_parse under
 * the flags of each caller (berthd's size options, berthd quota set, berth run --memory)
 * and of each flag alone, its messages, and size_format. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/size.h"
#include "tests/unit/tap.h"

/* The flags each caller passes (server/config.c, server/admin.c, client/run_config.c). */
#define CONFIG SIZE_IEC
#define QUOTA  (SIZE_ZERO | SIZE_BYTES_UNIT | SIZE_IEC | SIZE_SI_BYTES)
#define RUN    (SIZE_FRACTION | SIZE_BYTES_UNIT)

#define KI (UINT64_C(1) << 10)
#define MI (UINT64_C(1) << 20)
#define GI (UINT64_C(1) << 30)
#define TI (UINT64_C(1) << 40)

static const struct {
	unsigned flags;
	const char *in;
	uint64_t want;   /* when why is NULL */
	const char *why; /* NULL: accepted; else a part of the error message */
} cases[] = {
    /* berthd options (--blob-cache-size): whole, K/M/G/T (+B or iB) all 1024^n, more than 0. */
    {CONFIG, "1", 1, NULL},
    {CONFIG, "1024", 1024, NULL},
    {CONFIG, "0010k", 10 * KI, NULL},
    {CONFIG, "1k", KI, NULL},
    {CONFIG, "1K", KI, NULL},
    {CONFIG, "1kb", KI, NULL},
    {CONFIG, "1KB", KI, NULL},
    {CONFIG, "1Kb", KI, NULL},
    {CONFIG, "1KiB", KI, NULL},
    {CONFIG, "1kib", KI, NULL},
    {CONFIG, "1KIB", KI, NULL},
    {CONFIG, "500M", 500 * MI, NULL},
    {CONFIG, "1MB", MI, NULL},
    {CONFIG, "1MiB", MI, NULL},
    {CONFIG, "10G", 10 * GI, NULL},
    {CONFIG, "1gb", GI, NULL},
    {CONFIG, "1GiB", GI, NULL},
    {CONFIG, "1t", TI, NULL},
    {CONFIG, "1TB", TI, NULL},
    {CONFIG, "1TiB", TI, NULL},
    {CONFIG, "4611686018427387904", SIZE_LIMIT, NULL},
    {CONFIG, "4611686018427387905", 0, "too large"},
    {CONFIG, "4194304T", SIZE_LIMIT, NULL},
    {CONFIG, "4194305T", 0, "too large"},
    {CONFIG, "4294967296G", SIZE_LIMIT, NULL},
    {CONFIG, "4294967297G", 0, "too large"},
    {CONFIG, "18446744073709551615", 0, "too large"},
    {CONFIG, "18446744073709551616", 0, "too large"},
    {CONFIG, "999999999999999999999999999999k", 0, "too large"},
    {CONFIG, "", 0, "it is empty"},
    {CONFIG, "k", 0, "it must start with a digit"},
    {CONFIG, "+1", 0, "it must start with a digit"},
    {CONFIG, ".5G", 0, "it must start with a digit"},
    {CONFIG, "-1", 0, "cannot be negative"},
    {CONFIG, "-0", 0, "cannot be negative"},
    {CONFIG, "0", 0, "it must be more than 0"},
    {CONFIG, "0K", 0, "it must be more than 0"},
    {CONFIG, "1.5", 0, "whole numbers only"},
    {CONFIG, "1.5G", 0, "whole numbers only"},
    {CONFIG, "1x", 0, "unknown unit 'x' (use K, M, G or T, or KiB, MiB, GiB, TiB)"},
    {CONFIG, "1b", 0, "unknown unit 'b'"},
    {CONFIG, "1B", 0, "unknown unit 'B'"},
    {CONFIG, "1ki", 0, "unknown unit 'ki'"},
    {CONFIG, "1kbb", 0, "unknown unit 'kbb'"},
    {CONFIG, "1p", 0, "unknown unit 'p'"},
    {CONFIG, "1e3", 0, "unknown unit 'e3'"},
    {CONFIG, "0x10", 0, "unknown unit 'x10'"},
    {CONFIG, "1 ", 0, "no spaces allowed"},
    {CONFIG, "1K ", 0, "no spaces allowed"},
    {CONFIG, " 1K", 0, "no spaces allowed"},
    {CONFIG, "1 K", 0, "no spaces allowed"},
    {CONFIG, "1K\t", 0, "no spaces allowed"},

    /* berthd quota set: K/KiB... 1024^n, KB/MB... 1000^n, bare or B bytes, 0 allowed. */
    {QUOTA, "0", 0, NULL},
    {QUOTA, "0b", 0, NULL},
    {QUOTA, "0KB", 0, NULL},
    {QUOTA, "123", 123, NULL},
    {QUOTA, "12b", 12, NULL},
    {QUOTA, "12B", 12, NULL},
    {QUOTA, "1k", KI, NULL},
    {QUOTA, "1K", KI, NULL},
    {QUOTA, "1KiB", KI, NULL},
    {QUOTA, "1kib", KI, NULL},
    {QUOTA, "1KB", 1000, NULL},
    {QUOTA, "1kb", 1000, NULL},
    {QUOTA, "5KB", 5000, NULL},
    {QUOTA, "1M", MI, NULL},
    {QUOTA, "1MiB", MI, NULL},
    {QUOTA, "1MB", 1000000, NULL},
    {QUOTA, "2GiB", 2 * GI, NULL},
    {QUOTA, "1GB", 1000000000, NULL},
    {QUOTA, "1T", TI, NULL},
    {QUOTA, "1TiB", TI, NULL},
    {QUOTA, "1TB", 1000000000000, NULL},
    {QUOTA, "4611686018427387904", SIZE_LIMIT, NULL},
    {QUOTA, "4611686018427387905", 0, "too large"},
    {QUOTA, "4611686018427387904B", SIZE_LIMIT, NULL},
    {QUOTA, "4611686018427387905b", 0, "too large"},
    {QUOTA, "4611686018427387KB", 4611686018427387000, NULL},
    {QUOTA, "4611686018427388KB", 0, "too large"},
    {QUOTA, "4611686TB", 4611686000000000000, NULL},
    {QUOTA, "4611687TB", 0, "too large"},
    {QUOTA, "4194304TiB", SIZE_LIMIT, NULL},
    {QUOTA, "4194305TiB", 0, "too large"},
    {QUOTA, "99999999999T", 0, "too large"},
    {QUOTA, "", 0, "it is empty"},
    {QUOTA, "none", 0, "it must start with a digit"},
    {QUOTA, "-5", 0, "cannot be negative"},
    {QUOTA, "1.5", 0, "whole numbers only"},
    {QUOTA, "1.5KB", 0, "whole numbers only"},
    {QUOTA, "10X", 0,
     "unknown unit 'X' (use B, K, M, G or T, or KiB, MiB, GiB, TiB; KB, MB, GB, TB are powers of 1000)"},
    {QUOTA, "1Ki", 0, "unknown unit 'Ki'"},
    {QUOTA, "1bb", 0, "unknown unit 'bb'"},
    {QUOTA, "1iB", 0, "unknown unit 'iB'"},
    {QUOTA, "1G ", 0, "no spaces allowed"},

    /* berth run --memory: docker's decimal with a fraction, b/k/m/g/t (+b) 1024^n, > 0. */
    {RUN, "1048576", 1048576, NULL},
    {RUN, "64m", 64 * MI, NULL},
    {RUN, "64M", 64 * MI, NULL},
    {RUN, "1g", GI, NULL},
    {RUN, "1.5g", 3 * (GI / 2), NULL},
    {RUN, "1.5G", 3 * (GI / 2), NULL},
    {RUN, "0.1g", 107374182, NULL},
    {RUN, "1.1k", 1126, NULL},
    {RUN, "100k", 100 * KI, NULL},
    {RUN, "10mb", 10 * MI, NULL},
    {RUN, "10MB", 10 * MI, NULL},
    {RUN, "1.5KB", 1536, NULL},
    {RUN, "1t", TI, NULL},
    {RUN, "12b", 12, NULL},
    {RUN, "12B", 12, NULL},
    {RUN, "1.5", 1, NULL},
    {RUN, "1.", 1, NULL},
    {RUN, "1.g", GI, NULL},
    {RUN, "0.5k", 512, NULL},
    {RUN, "0.0009765625k", 1, NULL},
    {RUN, "1.0000000000000000000000000000001k", KI, NULL},
    {RUN, "4611686018427387904", SIZE_LIMIT, NULL},
    {RUN, "4611686018427387905", 0, "too large"},
    {RUN, "4611686018427387903.9", SIZE_LIMIT - 1, NULL},
    {RUN, "4611686018427387904.9", SIZE_LIMIT, NULL},
    {RUN, "4194304t", SIZE_LIMIT, NULL},
    {RUN, "4194303.9999999999t", SIZE_LIMIT - 110, NULL},
    {RUN, "4194304.0000001t", 0, "too large"},
    {RUN, "8000000t", 0, "too large"},
    {RUN, "", 0, "it is empty"},
    {RUN, "m", 0, "it must start with a digit"},
    {RUN, ".5g", 0, "it must start with a digit"},
    {RUN, "inf", 0, "it must start with a digit"},
    {RUN, "-5m", 0, "cannot be negative"},
    {RUN, "0", 0, "it must be more than 0"},
    {RUN, "0.0", 0, "it must be more than 0"},
    {RUN, "0.000k", 0, "it must be more than 0"},
    {RUN, "0.5", 0, "less than 1 byte"},
    {RUN, "0.0009765624k", 0, "less than 1 byte"},
    {RUN, "5x", 0, "unknown unit 'x' (use B, K, M, G or T)"},
    {RUN, "12q", 0, "unknown unit 'q'"},
    {RUN, "5mm", 0, "unknown unit 'mm'"},
    {RUN, "1kib", 0, "unknown unit 'kib'"},
    {RUN, "1bb", 0, "unknown unit 'bb'"},
    {RUN, "1e3", 0, "unknown unit 'e3'"},
    {RUN, "0x10", 0, "unknown unit 'x10'"},
    {RUN, "1.5.5g", 0, "unknown unit '.5g'"},
    {RUN, "1 g", 0, "no spaces allowed"},
    {RUN, "1g ", 0, "no spaces allowed"},
    {RUN, "\n1g", 0, "no spaces allowed"},

    /* Each flag on its own against none at all. */
    {0, "1K", KI, NULL},
    {0, "1KB", KI, NULL},
    {0, "1KiB", 0, "unknown unit 'KiB' (use K, M, G or T)"},
    {0, "1B", 0, "unknown unit 'B'"},
    {0, "0", 0, "it must be more than 0"},
    {0, "1.5K", 0, "whole numbers only"},
    {SIZE_IEC, "1KiB", KI, NULL},
    {SIZE_SI_BYTES, "1KB", 1000, NULL},
    {SIZE_SI_BYTES, "1kB", 1000, NULL},
    {SIZE_SI_BYTES, "1K", KI, NULL},
    {SIZE_SI_BYTES, "1KiB", 0, "unknown unit 'KiB' (use K, M, G or T; KB, MB, GB, TB are powers of 1000)"},
    {SIZE_BYTES_UNIT, "7b", 7, NULL},
    {SIZE_BYTES_UNIT, "0b", 0, "it must be more than 0"},
    {SIZE_ZERO, "0", 0, NULL},
    {SIZE_ZERO, "0K", 0, NULL},
    {SIZE_ZERO, "-0", 0, "cannot be negative"},
    {SIZE_FRACTION, "2.25K", 2304, NULL},
    {SIZE_FRACTION, "0.5", 0, "less than 1 byte"},
    {SIZE_ZERO | SIZE_FRACTION, "0.5", 0, NULL},
    {SIZE_ZERO | SIZE_FRACTION, "0.0", 0, NULL},
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t got = 12345;
		struct berr err = {0};
		int rc = size_parse(cases[i].in, cases[i].flags, &got, &err);
		char in[256]; /* the input as TAP can show it on one line */
		berr_quote(cases[i].in, strlen(cases[i].in), 60, in, sizeof in);
		if (!cases[i].why) {
			if (!tap_ok(rc == 0 && got == cases[i].want, "flags %#x: '%s' is %llu", cases[i].flags, in,
			            (unsigned long long)cases[i].want))
				printf("#   rc %d, got %llu: %s\n", rc, (unsigned long long)got, err.message);
			continue;
		}
		bool ok = rc < 0 && got == 12345 && strstr(err.message, cases[i].why) &&
		          !strncmp(err.message, "invalid size '", 14) && !strchr(err.message, '\n') &&
		          err.code == BERR_BAD_REQUEST;
		if (!tap_ok(ok, "flags %#x: '%s' refused: %s", cases[i].flags, in, cases[i].why))
			printf("#   rc %d, got %llu, message \"%s\"\n", rc, (unsigned long long)got, err.message);
	}
}

static void test_messages(void)
{
	struct berr err = {0};
	uint64_t v;
	size_parse("5Q", CONFIG, &v, &err);
	tap_is_str(err.message, "invalid size '5Q': unknown unit 'Q' (use K, M, G or T, or KiB, MiB, GiB, TiB)",
	           "the whole message names the input and the units to use");
	size_parse("12q", RUN, &v, &err);
	tap_is_str(err.message, "invalid size '12q': unknown unit 'q' (use B, K, M, G or T)", "berth run's units");
	size_parse("1\x1b[2J", CONFIG, &v, &err);
	tap_is_str(err.message,
	           "invalid size '1\\x1b[2J': unknown unit '\\x1b[2J' (use K, M, G or T, or KiB, MiB, GiB, TiB)",
	           "control bytes in the input are escaped");
	size_parse("1111111111222222222233333333334444444444x", CONFIG, &v, &err);
	tap_ok(strstr(err.message, "'1111111111222222222233333333334444444444...'") != NULL,
	       "a long input is cut after 40 bytes: %s", err.message);
	size_parse("1kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", CONFIG, &v, &err);
	tap_ok(strstr(err.message, "unknown unit 'kkkkkkkkkkkkkkkk...'") != NULL,
	       "a long unit is cut after 16 bytes: %s", err.message);
	tap_ok(size_parse("1x", RUN, &v, NULL) < 0 && size_parse("1k", RUN, &v, NULL) == 0 && v == KI,
	       "err may be NULL");
}

static void test_format(void)
{
	static const struct {
		uint64_t n;
		const char *want;
	} fmt[] = {
	    {0, "0 B"},
	    {1, "1 B"},
	    {1023, "1023 B"},
	    {1024, "1.0 KiB"},
	    {1536, "1.5 KiB"},
	    {5000, "4.9 KiB"},
	    {10 * MI, "10.0 MiB"},
	    {3 * (GI / 2), "1.5 GiB"},
	    {TI, "1.0 TiB"},
	    {UINT64_C(1) << 50, "1.0 PiB"},
	    {UINT64_C(1) << 60, "1024.0 PiB"},
	    {UINT64_MAX, "16384.0 PiB"},
	};
	for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
		char buf[32];
		size_format(fmt[i].n, buf, sizeof buf);
		tap_is_str(buf, fmt[i].want, "%llu bytes formatted", (unsigned long long)fmt[i].n);
	}
	char small[4] = "xxx";
	size_format(3 * (GI / 2), small, sizeof small);
	tap_is_str(small, "1.5", "a short buffer is cut and terminated");
}

int main(void)
{
	test_cases();
	test_messages();
	test_format();
	return tap_done();
}
