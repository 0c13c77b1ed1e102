/* A node-local cache of rendered full tag lists (GET /v2/<name>/tags/list without n or
 * last), keyed by repository id, name and its tags_version from the metadata: an entry is
 * used only while the version it was rendered at is still the repository's. SQLite may give
 * a deleted repository's id to a new one, so the name is part of the key and a deleted
 * repository's entry is dropped (tagcache_forget). */
#ifndef BERTH_TAGCACHE_H
#define BERTH_TAGCACHE_H

#include <stddef.h>
#include <stdint.h>

/* A heap copy of the cached body for (repo_id, name, version), or NULL. Caller frees. */
char *tagcache_get(int64_t repo_id, const char *name, int64_t version, size_t *len);
/* Remember body (copied) as the list of repo_id (called name) at version. */
void tagcache_put(int64_t repo_id, const char *name, int64_t version, const char *body, size_t len);
/* Drop repo_id's entry (the repository was deleted). */
void tagcache_forget(int64_t repo_id);
/* Drop everything (shutdown). */
void tagcache_clear(void);

#endif
