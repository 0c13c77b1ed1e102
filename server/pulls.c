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
/* Manifests whose last pull time waits to be written; more in one interval are dropped
 * (only a displayed time is lost, and the next interval records them again). */
#define PULLS_MARK_SLOTS 1024

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
	int64_t dropped;              /* pulls not counted because the table was full */
	struct meta_pull_mark *marks; /* PULLS_MARK_SLOTS entries; repo_id 0: empty */
	size_t marks_used;
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

void pulls_mark(int64_t repo_id, const char *digest)
{
	size_t dlen = strlen(digest);
	if (repo_id <= 0 || dlen >= DIGEST_STR_MAX)
		return;
	size_t h = (size_t)repo_id * 2654435761u;
	for (size_t i = 0; i < dlen; i++)
		h = h * 31 + (unsigned char)digest[i];
	int64_t now = (int64_t)time(NULL);
	pthread_mutex_lock(&pulls.lock);
	if (pulls.marks && pulls.marks_used * 4 < PULLS_MARK_SLOTS * 3) {
		for (size_t i = 0; i < PULLS_MARK_SLOTS; i++) {
			struct meta_pull_mark *s = &pulls.marks[(h + i) % PULLS_MARK_SLOTS];
			if (s->repo_id == 0) {
				s->repo_id = repo_id;
				memcpy(s->digest, digest, dlen + 1);
				pulls.marks_used++;
			} else if (s->repo_id != repo_id || strcmp(s->digest, digest) != 0) {
				continue;
			}
			s->at = now;
			break;
		}
	}
	pthread_mutex_unlock(&pulls.lock);
}

void pulls_forget(int64_t repo_id)
{
	pthread_mutex_lock(&pulls.lock);
	/* Slots stay taken (the probe chains through them must hold): their values go. */
	for (size_t i = 0; pulls.table && i < PULLS_SLOTS; i++)
		if (pulls.table[i].repo_id == repo_id)
			pulls.table[i].count = 0;
	for (size_t i = 0; pulls.marks && i < PULLS_MARK_SLOTS; i++)
		if (pulls.marks[i].repo_id == repo_id)
			pulls.marks[i].at = 0;
	pthread_mutex_unlock(&pulls.lock);
}

/* Write the last pull times gathered in marks (PULLS_MARK_SLOTS entries, `used` of them set;
 * those with no time were forgotten). */
static void pulls_flush_marks(struct meta_pull_mark *marks, size_t used)
{
	size_t n = 0;
	for (size_t i = 0; i < PULLS_MARK_SLOTS && used > 0; i++)
		if (marks[i].repo_id) {
			used--;
			if (marks[i].at)
				marks[n++] = marks[i];
		}
	if (n == 0)
		return;
	struct berr err = {0};
	struct meta *m = meta_get(&err);
	if (!m || meta_manifests_pulled(m, marks, n, &err) < 0)
		log_warn("last pulled times: could not record %zu manifests: %s", n, err.message);
}

/* Swap the tables for empty ones and write what they held. */
static void pulls_flush(void)
{
	pthread_mutex_lock(&pulls.lock);
	struct pull_slot *full = pulls.table;
	size_t used = pulls.used;
	pulls.table = xcalloc(PULLS_SLOTS, sizeof *pulls.table);
	pulls.used = 0;
	struct meta_pull_mark *marks = pulls.marks;
	size_t marks_used = pulls.marks_used;
	pulls.marks = xcalloc(PULLS_MARK_SLOTS, sizeof *pulls.marks);
	pulls.marks_used = 0;
	pthread_mutex_unlock(&pulls.lock);
	if (marks_used)
		pulls_flush_marks(marks, marks_used);
	free(marks);
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
	pulls.marks = xcalloc(PULLS_MARK_SLOTS, sizeof *pulls.marks);
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
	free(pulls.marks);
	pulls.marks = NULL;
}
