/* Per-registry certificate folders as podman, skopeo, buildah (containers/image) and docker
 * read them: ROOT/HOST:PORT/ holding a registry's CA certificates as *.crt files, ROOT being
 * $HOME/.config/containers/certs.d, /etc/containers/certs.d or /etc/docker/certs.d (the first
 * of them where the registry's folder exists is used, as containers/image does). */
#ifndef BERTH_CERTS_D_H
#define BERTH_CERTS_D_H

#include <stddef.h>

#include "common/berr.h"

/* Caps on what is read: one file, all of a registry's CA certificates, files in a folder. */
#define CERTS_D_FILE_MAX  (1024 * 1024)
#define CERTS_D_TOTAL_MAX (4 * 1024 * 1024) /* under libcurl's 8,000,000-byte limit on a blob */
#define CERTS_D_FILES_MAX 1000

/* PEM text gathered from CA files (heap; certs_pem_free). */
struct certs_pem {
	char *data;
	size_t len;
	size_t files; /* how many files were added */
};

/* The folder holding registry's ("host", "host:port", "[v6]:port") certificates: ROOT/registry
 * for the first of roots[0..nroots) where it exists (roots NULL: the three above, the one
 * under $HOME only when HOME is set). 1 with *dir (heap, caller frees), 0 when there is none
 * (an unreadable root is skipped, as containers/image does), -1 when it exists but is not a
 * folder, or registry is no host name (holds '/', is "." or ".."). */
int certs_d_find(const char *registry, const char *const *roots, size_t nroots, char **dir, struct berr *err);
/* Append the *.crt files of dir to pem, in name order (a dangling symlink is skipped, and a
 * folder this user may not read adds nothing, as containers/image does). Each must be a
 * readable regular file of at most CERTS_D_FILE_MAX bytes whose PEM certificates all parse;
 * -1 with err naming the file otherwise, pem unchanged. A folder without *.crt adds nothing. */
int certs_d_load_cas(const char *dir, struct certs_pem *pem, struct berr *err);
/* Append the PEM file path (named `what` in messages: "--ca-cert", "" for none) to pem,
 * checked as certs_d_load_cas checks each *.crt. */
int certs_pem_append_file(struct certs_pem *pem, const char *path, const char *what, struct berr *err);
/* Free pem's text and reset it. */
void certs_pem_free(struct certs_pem *pem);

#endif
