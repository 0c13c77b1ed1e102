/* Fixed-size hash tables of counters guarded by one mutex: each entry is a key (an
 * address or an account), a count and a window start. Old entries are reused, so memory
 * stays bounded whatever the number of clients. */
#include "server/throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define THROTTLE_SLOTS   4096
#define THROTTLE_KEY_MAX 96

struct counter {
	char key[THROTTLE_KEY_MAX];
	int count;
	time_t window_start;
	time_t locked_until;
	time_t last_failure;
};

static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct counter logins[THROTTLE_SLOTS];
static struct counter pulls[THROTTLE_SLOTS];

static unsigned throttle_hash(const char *key)
{
	unsigned h = 2166136261u;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

/* The counter for key in table, claiming its slot (probing 8 places) when it has none;
 * the stalest of those places is reused. Caller holds the lock. */
static struct counter *throttle_slot(struct counter *table, const char *key, time_t now, int window)
{
	unsigned h = throttle_hash(key);
	struct counter *victim = NULL;
	for (unsigned i = 0; i < 8; i++) {
		struct counter *c = &table[(h + i) % THROTTLE_SLOTS];
		if (strcmp(c->key, key) == 0)
			return c;
		bool stale = c->key[0] == '\0' || (now - c->window_start > window && now >= c->locked_until);
		if (stale && !victim)
			victim = c;
		if (!victim && i == 7)
			victim = &table[h % THROTTLE_SLOTS];
	}
	memset(victim, 0, sizeof *victim);
	snprintf(victim->key, sizeof victim->key, "%s", key);
	victim->window_start = now;
	return victim;
}

int throttle_login_wait(const char *key)
{
	time_t now = time(NULL);
	pthread_mutex_lock(&throttle_lock);
	struct counter *c = throttle_slot(logins, key, now, THROTTLE_WINDOW_SECONDS);
	int wait = c->locked_until > now ? (int)(c->locked_until - now) : 0;
	/* Past THROTTLE_SLOW_AFTER failures, one more try per THROTTLE_SLOW_SECONDS only. */
	if (!wait && c->count >= THROTTLE_SLOW_AFTER && now - c->last_failure < THROTTLE_SLOW_SECONDS)
		wait = (int)(THROTTLE_SLOW_SECONDS - (now - c->last_failure));
	pthread_mutex_unlock(&throttle_lock);
	return wait;
}

void throttle_login_failed(const char *key)
{
	time_t now = time(NULL);
	pthread_mutex_lock(&throttle_lock);
	struct counter *c = throttle_slot(logins, key, now, THROTTLE_WINDOW_SECONDS);
	if (now - c->window_start > THROTTLE_WINDOW_SECONDS) {
		c->window_start = now;
		c->count = 0;
	}
	c->last_failure = now;
	if (++c->count >= THROTTLE_MAX_FAILURES) {
		c->locked_until = now + THROTTLE_LOCK_SECONDS;
		c->count = 0;
		c->window_start = now;
	}
	pthread_mutex_unlock(&throttle_lock);
}

void throttle_login_ok(const char *key)
{
	time_t now = time(NULL);
	pthread_mutex_lock(&throttle_lock);
	struct counter *c = throttle_slot(logins, key, now, THROTTLE_WINDOW_SECONDS);
	if (c->locked_until <= now)
		memset(c, 0, sizeof *c);
	pthread_mutex_unlock(&throttle_lock);
}

bool throttle_pull(const char *key, int limit, int window, int *remaining)
{
	if (limit <= 0) {
		*remaining = 0;
		return true;
	}
	time_t now = time(NULL);
	pthread_mutex_lock(&throttle_lock);
	struct counter *c = throttle_slot(pulls, key, now, window);
	if (now - c->window_start >= window) {
		c->window_start = now;
		c->count = 0;
	}
	bool ok = c->count < limit;
	if (ok)
		c->count++;
	*remaining = limit - c->count;
	pthread_mutex_unlock(&throttle_lock);
	return ok;
}

void throttle_reset(void)
{
	pthread_mutex_lock(&throttle_lock);
	memset(logins, 0, sizeof logins);
	memset(pulls, 0, sizeof pulls);
	pthread_mutex_unlock(&throttle_lock);
}
