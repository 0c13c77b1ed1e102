/* A node-local read cache of whole blobs on local disk, in front of an object store: a hit
 * is served from a file (sendfile), a full read of a miss is copied into the cache while it
 * streams to the client, and the oldest files (by mtime) go when the cache is over its size.
 * Attached to a blob store with blobstore_set_cache; see docs/storage.md. */
#ifndef BERTH_BLOB_CACHE_H
#define BERTH_BLOB_CACHE_H

#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"
#include "storage/blobstore.h"

struct blob_cache;

/* Open (creating it if needed) the cache folder dir holding at most max_bytes. Removes the
 * temporary files a crash left and empty files, counts what is there, and evicts down to
 * max_bytes. Caller frees with blob_cache_close. */
struct blob_cache *blob_cache_open(const char *dir, uint64_t max_bytes, struct berr *err);
void blob_cache_close(struct blob_cache *c);
/* If blob d is cached with exactly `size` bytes, fill *out with an fd reader and return 1
 * (touching the file's mtime at most once a minute). A file of another size is removed.
 * Returns 0 on a miss; never fails (a cache that cannot be read is a miss). */
int blob_cache_lookup(struct blob_cache *c, const struct digest *d, uint64_t size, struct blob_reader *out);
/* Wrap the stream reader br (fd < 0) of blob d so that reading it whole, in order, copies it
 * into the cache when it is closed, if the bytes have d's digest. A ranged or partial read
 * caches nothing. Blobs over a quarter of the cache's size are left unwrapped. */
void blob_cache_wrap(struct blob_cache *c, const struct digest *d, struct blob_reader *br);
/* Remove blob d from the cache (no-op if absent). */
void blob_cache_drop(struct blob_cache *c, const struct digest *d);
/* Bytes the cache holds now. */
uint64_t blob_cache_used(struct blob_cache *c);

#endif
