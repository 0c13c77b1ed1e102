/* Pushing a local image to its name's registry: every blob the registry lacks (mounted
 * from another repository of the same registry when a local name says where it came from,
 * else uploaded, streamed from the store), then the manifest's stored bytes. */
#ifndef BERTH_CLIENT_PUSH_H
#define BERTH_CLIENT_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client/store.h"
#include "common/berr.h"

struct push_opts {
	char *const *insecure; /* registries spoken to in plain HTTP besides localhost/loopback */
	size_t ninsecure;
	FILE *out; /* progress and status lines */
	bool tty;  /* out is a terminal: per-blob progress (none otherwise) */
	bool quiet;
};

struct push_result {
	char *name;           /* canonical name pushed; heap */
	struct digest digest; /* the manifest pushed */
	size_t size;          /* its bytes */
	size_t uploaded;      /* blobs uploaded */
	size_t mounted;       /* blobs mounted from another repository */
	size_t present;       /* blobs the registry already had */
	bool single_of_index; /* the name was pulled as an index; only its image was pushed */
	char platform[64];    /* that image's platform */
};

/* Push the local image named ref_text. Fills res (free with push_result_free). */
int push_image(struct store *s, const char *ref_text, const struct push_opts *o, struct push_result *res,
               struct berr *err);
void push_result_free(struct push_result *res);

#endif
