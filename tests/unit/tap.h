/* A minimal TAP producer for the unit tests: one "ok N - name" line per check and a plan
 * line at the end, read by tests/run and by automake's test driver. */
#ifndef BERTH_TAP_H
#define BERTH_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define tap_is_int(got, want, ...)                                                                      \
	do {                                                                                            \
		long long _g = (long long)(got), _w = (long long)(want);                                \
		if (!tap_ok(_g == _w, __VA_ARGS__))                                                     \
			printf("#   got %lld, want %lld\n", _g, _w);                                        \
	} while (0)

#define tap_is_str(got, want, ...)                                                                      \
	do {                                                                                            \
		const char *_g = (got), *_w = (want);                                                   \
		int _eq = (_g == NULL && _w == NULL) || (_g && _w && strcmp(_g, _w) == 0);              \
		if (!tap_ok(_eq, __VA_ARGS__))                                                          \
			printf("#   got \"%s\", want \"%s\"\n", _g ? _g : "(null)", _w ? _w : "(null)"); \
	} while (0)

/* Print the plan and return the exit status for main. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
