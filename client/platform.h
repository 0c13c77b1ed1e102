/* Image platforms ("linux/arm64/v8"): the host's, parsing --platform, and choosing the
 * matching manifest of a multi-platform index. */
#ifndef BERTH_CLIENT_PLATFORM_H
#define BERTH_CLIENT_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/berr.h"
#include "common/manifest.h"

#define PLATFORM_FIELD_MAX 32

struct platform {
	char os[PLATFORM_FIELD_MAX];
	char arch[PLATFORM_FIELD_MAX];
	char variant[PLATFORM_FIELD_MAX]; /* "" when none */
};

/* The platform this process runs on, with the OCI names (x86_64 -> amd64, aarch64 ->
 * arm64/v8, armv7l -> arm/v7). */
void platform_host(struct platform *out);
/* Parse "os/arch[/variant]"; an unknown or malformed string is BERR_UNSUPPORTED. Architecture
 * aliases are normalized as for platform_host. */
int platform_parse(const char *s, struct platform *out, struct berr *err);
/* "os/arch[/variant]" into buf. */
void platform_format(const struct platform *p, char *buf, size_t len);
/* True if an index entry's os/arch/variant (NULLs allowed) runs on want. A missing variant
 * matches when want names the architecture's default (arm64 -> v8) or none. */
bool platform_match(const struct platform *want, const char *os, const char *arch, const char *variant);
/* Index of the first child descriptor of index m whose platform matches want, preferring an
 * exact variant match; -1 if none. */
long platform_select(const struct manifest *m, const struct platform *want);

#endif
