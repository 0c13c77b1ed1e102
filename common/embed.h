/* Data files compiled into a binary (schema migrations, web UI) by build-aux/embed.sh. */
#ifndef BERTH_EMBED_H
#define BERTH_EMBED_H

#include <stddef.h>

struct embed_file {
	const char *name;          /* path relative to its source folder, e.g. "001_initial.sql" */
	const unsigned char *data; /* NUL-terminated for convenience; size excludes the NUL */
	size_t size;
};

#endif
