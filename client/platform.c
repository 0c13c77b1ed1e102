/* Platform names as the OCI image index spells them, and matching them the way docker
 * does: os and architecture must be equal, the variant must be equal when both sides name
 * one, and arm64's default variant v8 equals no variant. */
#include "client/platform.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

struct platform_alias {
	const char *name; /* uname -m or a user's spelling */
	const char *arch;
	const char *variant;
};

static const struct platform_alias platform_aliases[] = {
    {"x86_64", "amd64", ""},    {"x86-64", "amd64", ""},    {"amd64", "amd64", ""},
    {"aarch64", "arm64", ""},   {"arm64", "arm64", ""},     {"armv8l", "arm", "v8"},
    {"armv7l", "arm", "v7"},    {"armhf", "arm", "v7"},     {"armel", "arm", "v6"},
    {"armv6l", "arm", "v6"},    {"armv5tel", "arm", "v5"},  {"i386", "386", ""},
    {"i486", "386", ""},        {"i586", "386", ""},        {"i686", "386", ""},
    {"386", "386", ""},         {"ppc64le", "ppc64le", ""}, {"s390x", "s390x", ""},
    {"riscv64", "riscv64", ""}, {"mips64", "mips64", ""},   {"loongarch64", "loong64", ""},
};

static const struct platform_alias *platform_alias_find(const char *name)
{
	for (size_t i = 0; i < sizeof platform_aliases / sizeof platform_aliases[0]; i++)
		if (strcmp(platform_aliases[i].name, name) == 0)
			return &platform_aliases[i];
	return NULL;
}

void platform_host(struct platform *out)
{
	struct utsname u;
	memset(out, 0, sizeof *out);
	snprintf(out->os, sizeof out->os, "linux");
	if (uname(&u) < 0) {
		snprintf(out->arch, sizeof out->arch, "amd64");
		return;
	}
	const struct platform_alias *a = platform_alias_find(u.machine);
	snprintf(out->arch, sizeof out->arch, "%.*s", PLATFORM_FIELD_MAX - 1, a ? a->arch : u.machine);
	snprintf(out->variant, sizeof out->variant, "%s", a ? a->variant : "");
}

static bool platform_field_valid(const char *s, size_t len)
{
	if (len == 0 || len >= PLATFORM_FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

int platform_parse(const char *s, struct platform *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	const char *parts[3] = {0};
	size_t lens[3] = {0};
	size_t n = 0;
	const char *p = s;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 3 || !platform_field_valid(p, len))
			return berr_set(err, BERR_UNSUPPORTED, "invalid platform \"%s\": want os/arch[/variant]", s);
		parts[n] = p;
		lens[n++] = len;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (n < 2)
		return berr_set(err, BERR_UNSUPPORTED, "invalid platform \"%s\": want os/arch[/variant]", s);
	snprintf(out->os, sizeof out->os, "%.*s", (int)lens[0], parts[0]);
	snprintf(out->arch, sizeof out->arch, "%.*s", (int)lens[1], parts[1]);
	if (n == 3)
		snprintf(out->variant, sizeof out->variant, "%.*s", (int)lens[2], parts[2]);
	const struct platform_alias *a = platform_alias_find(out->arch);
	if (a) {
		snprintf(out->arch, sizeof out->arch, "%s", a->arch);
		if (!out->variant[0])
			snprintf(out->variant, sizeof out->variant, "%s", a->variant);
	}
	return 0;
}

void platform_format(const struct platform *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

/* The variant an architecture has when none is named. */
static const char *platform_default_variant(const char *arch)
{
	return strcmp(arch, "arm64") == 0 ? "v8" : "";
}

bool platform_match(const struct platform *want, const char *os, const char *arch, const char *variant)
{
	if (!os || !arch || strcmp(os, want->os) != 0 || strcmp(arch, want->arch) != 0)
		return false;
	const char *have = variant && *variant ? variant : platform_default_variant(arch);
	const char *need = want->variant[0] ? want->variant : platform_default_variant(arch);
	/* An entry without a variant is taken for any variant wanted, as docker does. */
	return !*have || !*need || strcmp(have, need) == 0;
}

long platform_select(const struct manifest *m, const struct platform *want)
{
	long loose = -1;
	for (size_t i = 0; i < m->ndescriptors; i++) {
		const struct manifest_descriptor *d = &m->descriptors[i];
		if (d->kind != MANIFEST_REF_CHILD ||
		    !platform_match(want, d->platform_os, d->platform_architecture, d->platform_variant))
			continue;
		const char *have = d->platform_variant ? d->platform_variant : "";
		if (strcmp(have, want->variant) == 0)
			return (long)i;
		if (loose < 0)
			loose = (long)i;
	}
	return loose;
}
