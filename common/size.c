/* Sizes with units: the one parser behind berthd's size options and quotas and berth run's
 * --memory, and the "1.5 GiB" formatter of berthd's output. Digits are read exactly, the
 * fraction too (no floating point), so every bound holds to the byte. */
#include "common/size.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Fill err with "invalid size '<s>': <reason>" and return -1; s is quoted (control bytes
 * escaped, cut after 40 bytes) since it may come from a config file or the environment. */
__attribute__((format(printf, 3, 4))) static int size_fail(struct berr *err, const char *s, const char *fmt, ...)
{
	char quoted[40 * 4 + 8], reason[256];
	berr_quote(s, strlen(s), 40, quoted, sizeof quoted);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	return berr_set(err, BERR_BAD_REQUEST, "invalid size '%s': %s", quoted, reason);
}

/* An ASCII digit, whatever the locale. */
static bool size_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The multiplier of unit u (all that follows the number), or 0 when flags do not accept
 * it: "" (bytes), [B], K M G T alone or followed by B (or iB). */
static uint64_t size_unit(const char *u, unsigned flags)
{
	static const char prefixes[] = "kmgt";
	if (!*u)
		return 1;
	if (!strcasecmp(u, "b"))
		return flags & SIZE_BYTES_UNIT ? 1 : 0;
	const char *p = strchr(prefixes, tolower((unsigned char)*u));
	if (!p)
		return 0;
	unsigned power = (unsigned)(p - prefixes) + 1;
	uint64_t binary = UINT64_C(1) << (10 * power), decimal = 1;
	for (unsigned i = 0; i < power; i++)
		decimal *= 1000;
	const char *rest = u + 1;
	if (!*rest)
		return binary;
	if (!strcasecmp(rest, "b"))
		return flags & SIZE_SI_BYTES ? decimal : binary;
	if (!strcasecmp(rest, "ib") && (flags & SIZE_IEC))
		return binary;
	return 0;
}

int size_parse(const char *s, unsigned flags, uint64_t *out, struct berr *err)
{
	if (!*s)
		return size_fail(err, s, "it is empty");
	for (const char *c = s; *c; c++)
		if (isspace((unsigned char)*c))
			return size_fail(err, s, "no spaces allowed");
	if (*s == '-')
		return size_fail(err, s, "a size cannot be negative");
	if (!size_is_digit(*s))
		return size_fail(err, s, "it must start with a digit");

	/* Whole part, saturated just above SIZE_LIMIT: the syntax is checked before the range. */
	const char *p = s;
	uint64_t whole = 0;
	for (; size_is_digit(*p); p++)
		whole = whole > SIZE_LIMIT / 10 ? SIZE_LIMIT + 1 : whole * 10 + (uint64_t)(*p - '0');
	const char *frac = p;
	size_t nfrac = 0;
	if (*p == '.') {
		if (!(flags & SIZE_FRACTION))
			return size_fail(err, s, "whole numbers only");
		for (frac = ++p; size_is_digit(*p); p++)
			nfrac++;
	}

	uint64_t mult = size_unit(p, flags);
	if (!mult) {
		char unit[16 * 4 + 8];
		berr_quote(p, strlen(p), 16, unit, sizeof unit);
		return size_fail(err, s, "unknown unit '%s' (use %sK, M, G or T%s%s)", unit,
		                 flags & SIZE_BYTES_UNIT ? "B, " : "",
		                 flags & SIZE_IEC ? ", or KiB, MiB, GiB, TiB" : "",
		                 flags & SIZE_SI_BYTES ? "; KB, MB, GB, TB are powers of 1000" : "");
	}
	if (whole > SIZE_LIMIT / mult)
		return size_fail(err, s, "too large (at most 2^62 bytes, 4 EiB)");
	uint64_t bytes = whole * mult;

	/* floor(mult * 0.d1d2...dn), exactly, from the last digit up: floor((d + x) / 10) with
	 * d whole equals floor((d + floor(x)) / 10), and each step stays below 10 * mult. */
	uint64_t part = 0;
	for (size_t i = nfrac; i-- > 0;)
		part = ((uint64_t)(frac[i] - '0') * mult + part) / 10;
	if (part > SIZE_LIMIT - bytes)
		return size_fail(err, s, "too large (at most 2^62 bytes, 4 EiB)");
	bytes += part;

	if (!bytes && !(flags & SIZE_ZERO))
		return size_fail(err, s, strspn(frac, "0") < nfrac ? "less than 1 byte" : "it must be more than 0");
	*out = bytes;
	return 0;
}

void size_format(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}
