/* In-memory counters of this node: failed logins per address and per account (slowed,
 * then refused for a while), and pull rate limits per user or address. Per node by
 * design; see docs/auth.md. */
#ifndef BERTH_THROTTLE_H
#define BERTH_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

/* Failures within this window count; this many lock the key out for THROTTLE_LOCK_SECONDS. */
#define THROTTLE_WINDOW_SECONDS (15 * 60)
#define THROTTLE_MAX_FAILURES   10
#define THROTTLE_LOCK_SECONDS   (5 * 60)
/* After this many failures, a key may try once per THROTTLE_SLOW_SECONDS (slowed down). */
#define THROTTLE_SLOW_AFTER   5
#define THROTTLE_SLOW_SECONDS 2

/* Seconds until key may try again (0: now). */
int throttle_login_wait(const char *key);
/* Record a failed or a successful login for key. */
void throttle_login_failed(const char *key);
void throttle_login_ok(const char *key);

/* Pull limits: at most limit pulls per window seconds per key; limit 0 disables them.
 * Counts one pull and returns whether it is allowed; *remaining gets what is left. */
bool throttle_pull(const char *key, int limit, int window, int *remaining);

/* Forget everything (tests, shutdown). */
void throttle_reset(void);

#endif
