/* Direct-mapped slots under one mutex: a repository always lands in the same slot, and a
 * newer list replaces whatever was there. Lists above TAGCACHE_MAX_ENTRY are not kept, so
 * the cache holds at most TAGCACHE_SLOTS * TAGCACHE_MAX_ENTRY bytes. */
#include "server/tagcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define TAGCACHE_SLOTS     64
#define TAGCACHE_MAX_ENTRY (2u << 20)

struct tagcache_slot {
	int64_t repo_id;
	char *name;
	int64_t version;
	char *body;
	size_t len;
};

static pthread_mutex_t tagcache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tagcache_slot tagcache_slots[TAGCACHE_SLOTS];

static struct tagcache_slot *tagcache_slot(int64_t repo_id)
{
	return &tagcache_slots[(uint64_t)repo_id % TAGCACHE_SLOTS];
}

char *tagcache_get(int64_t repo_id, const char *name, int64_t version, size_t *len)
{
	char *copy = NULL;
	pthread_mutex_lock(&tagcache_lock);
	struct tagcache_slot *s = tagcache_slot(repo_id);
	if (s->body && s->repo_id == repo_id && s->version == version && strcmp(s->name, name) == 0) {
		copy = xmalloc(s->len + 1);
		memcpy(copy, s->body, s->len + 1);
		*len = s->len;
	}
	pthread_mutex_unlock(&tagcache_lock);
	return copy;
}

void tagcache_put(int64_t repo_id, const char *name, int64_t version, const char *body, size_t len)
{
	if (len > TAGCACHE_MAX_ENTRY)
		return;
	char *copy = xmalloc(len + 1);
	memcpy(copy, body, len);
	copy[len] = '\0';
	char *name_copy = xstrdup(name);
	pthread_mutex_lock(&tagcache_lock);
	struct tagcache_slot *s = tagcache_slot(repo_id);
	char *old = s->body, *old_name = s->name;
	s->repo_id = repo_id;
	s->name = name_copy;
	s->version = version;
	s->body = copy;
	s->len = len;
	pthread_mutex_unlock(&tagcache_lock);
	free(old);
	free(old_name);
}

void tagcache_forget(int64_t repo_id)
{
	pthread_mutex_lock(&tagcache_lock);
	struct tagcache_slot *s = tagcache_slot(repo_id);
	char *old = NULL, *old_name = NULL;
	if (s->repo_id == repo_id) {
		old = s->body;
		old_name = s->name;
		memset(s, 0, sizeof *s);
	}
	pthread_mutex_unlock(&tagcache_lock);
	free(old);
	free(old_name);
}

void tagcache_clear(void)
{
	pthread_mutex_lock(&tagcache_lock);
	for (size_t i = 0; i < TAGCACHE_SLOTS; i++) {
		free(tagcache_slots[i].body);
		free(tagcache_slots[i].name);
		memset(&tagcache_slots[i], 0, sizeof tagcache_slots[i]);
	}
	pthread_mutex_unlock(&tagcache_lock);
}
