/* Pulling an image into the local store: resolve the reference at its registry, pick the
 * platform's manifest from an index, fetch config and layers (verified, in parallel,
 * resumable), unpack each layer once by DiffID, then record the name. */
#ifndef BERTH_CLIENT_PULL_H
#define BERTH_CLIENT_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client/platform.h"
#include "client/store.h"
#include "common/berr.h"

struct pull_opts {
	char *const *insecure; /* registries spoken to in plain HTTP besides localhost/loopback */
	size_t ninsecure;
	const struct platform *platform; /* NULL: the host's */
	FILE *out;                       /* progress and status lines */
	bool tty;                        /* out is a terminal: redraw progress */
	bool quiet;                      /* print nothing */
	unsigned parallel;               /* layers downloaded at once (0: 3) */
};

struct pull_result {
	char *name;            /* canonical name recorded; heap */
	struct digest digest;  /* what the name resolved to */
	size_t layers;         /* layers in the image */
	size_t layers_fetched; /* layers downloaded (not already local) */
	bool changed;          /* the name now points at a different image than before */
};

/* Pull ref_text into s. Fills res (free with pull_result_free). */
int pull_image(struct store *s, const char *ref_text, const struct pull_opts *o, struct pull_result *res,
               struct berr *err);
void pull_result_free(struct pull_result *res);

#endif
