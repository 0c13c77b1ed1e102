/* Shared helpers for Berth's libFuzzer targets: a NUL-terminated copy of the input, and a
 * check that aborts (so libFuzzer records a crash) when an invariant does not hold. */
#ifndef BERTH_FUZZ_H
#define BERTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input as a heap C string (NUL bytes inside are kept, so strlen may be shorter). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Abort with a message when cond is false: an invariant of the code under test broke. */
#define FUZZ_CHECK(cond)                                                                                    \
	do {                                                                                                \
		if (!(cond)) {                                                                              \
			fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                            \
		}                                                                                           \
	} while (0)

#endif
