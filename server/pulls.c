/* Pending pull counts in a small open-addressed table under one mutex; a thread swaps the
 * table out and writes it with meta_repo_add_pulls. Counts of a crash since the last write
 * are lost; that is the price of not writing on every pull. */
#include "server/pulls.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/meta.h"

#define PULLS_SLOTS 4096

struct pull_slot {
	int64_t repo_id; /* 0: empty */
	int64_t count;
};

/* A manifest pulled since the last write. */
struct pull_touch {
	int64_t repo_id; /* 0: empty */
	char digest[DIGEST_STR_MAX + 1];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stopping;
	int interval;
	struct pull_slot *table; /* PULLS_SLOTS entries */
	size_t used;
	int64_t dropped;            /* pulls not counted because the table was full */
	struct pull_touch *touched; /* PULLS_SLOTS entries */
	size_t ntouched;
} pulls = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void pulls_count(int64_t repo_id)
{
	if (repo_id <= 0)
		return;
	pthread_mutex_lock(&pulls.lock);
	if (pulls.table) {
		size_t h = (size_t)repo_id * 2654435761u % PULLS_SLOTS;
		for (size_t i = 0; i < PULLS_SLOTS; i++) {
			struct pull_slot *s = &pulls.table[(h + i) % PULLS_SLOTS];
			if (s->repo_id == repo_id || s->repo_id == 0) {
				if (s->repo_id == 0) {
					if (pulls.used * 4 >= PULLS_SLOTS * 3)
						break;
					s->repo_id = repo_id;
					pulls.used++;
				}
				s->count++;
				pthread_mutex_unlock(&pulls.lock);
				return;
			}
		}
		pulls.dropped++;
	}
	pthread_mutex_unlock(&pulls.lock);
}

void pulls_touch(int64_t repo_id, const char *digest)
{
	if (repo_id <= 0 || strlen(digest) > DIGEST_STR_MAX)
		return;
	size_t h = (size_t)repo_id * 2654435761u;
	for (const char *p = digest; *p; p++)
		h = h * 31 + (unsigned char)*p;
	pthread_mutex_lock(&pulls.lock);
	if (pulls.touched) {
		for (size_t i = 0; i < PULLS_SLOTS; i++) {
			struct pull_touch *s = &pulls.touched[(h + i) % PULLS_SLOTS];
			if (s->repo_id == repo_id && strcmp(s->digest, digest) == 0)
				break;
			if (s->repo_id == 0) {
				/* Full: this pull time is lost, as with the counts. */
				if (pulls.ntouched * 4 < PULLS_SLOTS * 3) {
					s->repo_id = repo_id;
					snprintf(s->digest, sizeof s->digest, "%s", digest);
					pulls.ntouched++;
				}
				break;
			}
		}
	}
	pthread_mutex_unlock(&pulls.lock);
}

/* Write the pull times gathered in `touched` (n of its slots used). */
static void pulls_flush_touched(struct pull_touch *touched, size_t n)
{
	int64_t *ids = xmalloc(n * sizeof *ids);
	char(*digests)[DIGEST_STR_MAX + 1] = xmalloc(n * sizeof *digests);
	size_t k = 0;
	for (size_t i = 0; i < PULLS_SLOTS && k < n; i++)
		if (touched[i].repo_id) {
			ids[k] = touched[i].repo_id;
			memcpy(digests[k++], touched[i].digest, sizeof touched[i].digest);
		}
	struct berr err = {0};
	struct meta *m = meta_get(&err);
	if (!m || meta_manifests_mark_pulled(m, ids, digests, k, (int64_t)time(NULL), &err) < 0)
		log_warn("pull times: could not record %zu manifests' pulls: %s", k, err.message);
	free(ids);
	free(digests);
}

/* Swap the table for an empty one and write what it held. */
static void pulls_flush(void)
{
	pthread_mutex_lock(&pulls.lock);
	struct pull_slot *full = pulls.table;
	size_t used = pulls.used;
	pulls.table = xcalloc(PULLS_SLOTS, sizeof *pulls.table);
	pulls.used = 0;
	struct pull_touch *touched = pulls.touched;
	size_t ntouched = pulls.ntouched;
	pulls.touched = xcalloc(PULLS_SLOTS, sizeof *pulls.touched);
	pulls.ntouched = 0;
	pthread_mutex_unlock(&pulls.lock);
	if (ntouched)
		pulls_flush_touched(touched, ntouched);
	free(touched);
	if (used) {
		int64_t *ids = xmalloc(used * sizeof *ids), *counts = xmalloc(used * sizeof *counts);
		size_t n = 0;
		for (size_t i = 0; i < PULLS_SLOTS && n < used; i++)
			if (full[i].repo_id) {
				ids[n] = full[i].repo_id;
				counts[n++] = full[i].count;
			}
		struct berr err = {0};
		struct meta *m = meta_get(&err);
		if (!m || meta_repo_add_pulls(m, ids, counts, n, &err) < 0)
			log_warn("pull counts: could not record %zu repositories' pulls: %s", n, err.message);
		free(ids);
		free(counts);
	}
	free(full);
}

static void *pulls_main(void *arg)
{
	pthread_mutex_lock(&pulls.lock);
	while (!pulls.stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += pulls.interval;
		pthread_cond_timedwait(&pulls.wake, &pulls.lock, &until);
		pthread_mutex_unlock(&pulls.lock);
		pulls_flush();
		pthread_mutex_lock(&pulls.lock);
	}
	pthread_mutex_unlock(&pulls.lock);
	return NULL;
}

int pulls_start(int interval)
{
	pulls.table = xcalloc(PULLS_SLOTS, sizeof *pulls.table);
	pulls.touched = xcalloc(PULLS_SLOTS, sizeof *pulls.touched);
	pulls.interval = interval;
	if (pthread_create(&pulls.thread, NULL, pulls_main, NULL) != 0)
		return -1;
	pulls.running = true;
	return 0;
}

void pulls_stop(void)
{
	if (!pulls.running)
		return;
	pthread_mutex_lock(&pulls.lock);
	pulls.stopping = true;
	pthread_cond_signal(&pulls.wake);
	pthread_mutex_unlock(&pulls.lock);
	pthread_join(pulls.thread, NULL);
	pulls_flush();
	pulls.running = false;
	free(pulls.table);
	pulls.table = NULL;
	free(pulls.touched);
	pulls.touched = NULL;
}
