/* Unpacking one image layer (a tar stream, gzip/zstd/uncompressed) into its own directory
 * for an overlayfs stack: OCI whiteouts become overlay whiteouts (char device 0/0) and opaque
 * directories (xattr trusted.overlay.opaque=y); the uncompressed stream is hashed on the way
 * and must equal the layer's DiffID; nothing is ever created outside the directory. */
#ifndef BERTH_CLIENT_UNPACK_H
#define BERTH_CLIENT_UNPACK_H

#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"

/* Unpack the layer blob open at blob_fd (read from its current offset to EOF) into the
 * existing empty directory dir. Refused, with a one-line message naming the entry: paths
 * with "..", absolute paths, paths or hard links that would lead outside dir (through a
 * symlink or otherwise), device nodes and sockets. A DiffID mismatch is BERR_DIGEST_INVALID.
 * On failure dir may hold a partial tree the caller removes. *unpacked_size (may be NULL)
 * gets the uncompressed stream length. */
int unpack_layer(int blob_fd, const struct digest *diffid, const char *dir, uint64_t *unpacked_size, struct berr *err);

#endif
