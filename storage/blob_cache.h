/* A node-local read cache of whole blobs on local disk, in front of an object store: a hit
 * is served from a file (sendfile), a full read of a miss is copied into the cache by a
 * second thread while it streams to the client, and the oldest files (by mtime) go when the
 * cache is over its size. Attached to a blob store with blobstore_set_cache; see
 * docs/storage.md and docs/internals/blob_cache.md. */
#ifndef BERTH_BLOB_CACHE_H
#define BERTH_BLOB_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"
#include "common/digest.h"
#include "storage/blobstore.h"

struct blob_cache;

/* What the cache did since it was opened (counters) and holds now (the last three). */
struct blob_cache_stats {
	uint64_t hits, misses;         /* lookups */
	uint64_t fills;                /* blobs copied whole, verified and linked in */
	uint64_t catch_ups;            /* of those, fills that fell behind and read the rest */
	uint64_t abandoned_behind;     /* fills that fell behind and could not catch up */
	uint64_t abandoned_incomplete; /* fills given up because the read did not cover the blob */
	uint64_t abandoned_error;      /* fills given up on a local error, a wrong digest or a drop */
	uint64_t served_bytes;         /* bytes answered from cached files (blob_cache_count_served) */
	uint64_t skipped;              /* misses not filled: the blob was being filled, or enough fills ran */
	uint64_t evictions;            /* files removed to stay under the size */
	uint64_t bytes, files, max_bytes;
};

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
 * into the cache, if the bytes have d's digest. The copy (hashing, writing) runs on a thread
 * of its own fed through a bounded ring: reads never wait for it. If it falls behind, the
 * reader stops feeding it and, after the reader is closed, the thread reads the rest of the
 * blob with reopen(reopen_ctx, d, ...) (a fresh reader of the store; NULL: give up instead)
 * at idle CPU priority. A ranged or partial read caches nothing. Blobs over a quarter of the
 * cache's size are left unwrapped. The file appears some time after the reader is closed
 * (blob_cache_settle). */
void blob_cache_wrap(struct blob_cache *c, const struct digest *d, struct blob_reader *br,
                     int (*reopen)(void *ctx, const struct digest *d, struct blob_reader *out, struct berr *err),
                     void *reopen_ctx);
/* Wait until every fill started so far has been linked in or given up (catch-ups included). */
void blob_cache_settle(struct blob_cache *c);
/* Count n bytes answered to a client from a reader blob_cache_lookup gave. */
void blob_cache_count_served(struct blob_cache *c, uint64_t n);
/* The counters and current size. */
void blob_cache_stats(struct blob_cache *c, struct blob_cache_stats *out);
/* For tests: while held, fill threads copy nothing (so the ring fills up as it would behind
 * a slow disk). */
void blob_cache_hold_fills(struct blob_cache *c, bool hold);
/* For tests: the most a catch-up (a fill that fell behind, reading the rest from the store)
 * reads per second; 0 for no limit. The default is BLOB_CACHE_CATCH_UP_RATE (blob_cache.c). */
void blob_cache_set_catch_up_rate(struct blob_cache *c, uint64_t bytes_per_second);
/* Remove blob d from the cache (no-op if absent). */
void blob_cache_drop(struct blob_cache *c, const struct digest *d);
/* Bytes the cache holds now. */
uint64_t blob_cache_used(struct blob_cache *c);

#endif
