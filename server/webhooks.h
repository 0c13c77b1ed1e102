/* Webhooks: events (a push, a delete) of a repository are queued in the database for each
 * webhook of the repository or its namespace, and POSTed as signed JSON by one background
 * thread, with retries and exponential backoff. The queue survives restarts; delivery is
 * at least once (an attempt cut short by a crash is made again). */
#ifndef BERTH_WEBHOOKS_H
#define BERTH_WEBHOOKS_H

#include <stddef.h>

#include "common/berr.h"
#include "server/meta.h"

/* "sha256=" and 64 hex digits, with its NUL. */
#define WEBHOOKS_SIGNATURE_LEN 72

/* Start the delivery thread: the first retry waits retry_base seconds, each next one twice
 * as long (at most an hour); after max_attempts attempts a delivery is marked failed. */
int webhooks_start(int retry_base, int max_attempts, struct berr *err);
/* Stop it (an attempt in progress is abandoned and made again after the next start). */
void webhooks_stop(void);
/* Queue `event` ("push", "delete", or "mirror": the pull-through cache stored a tag) of repository/tag/digest done by
 * actor (NULL: anonymous) for every webhook that wants it. tag or digest may be NULL. Never fails the caller: a
 * database failure is logged. */
void webhooks_emit(struct meta *m, const char *event, const char *repository, const char *tag, const char *digest,
                   const char *actor);
/* The X-Berth-Signature-256 value for body: "sha256=" + hex HMAC-SHA256 under secret. */
void webhooks_sign(const char *secret, const char *body, size_t len, char out[WEBHOOKS_SIGNATURE_LEN]);
/* Check a webhook before it is stored: url http(s)://, at most META_WEBHOOK_URL_MAX bytes,
 * no spaces or control characters; secret 16..META_WEBHOOK_SECRET_MAX printable bytes;
 * events a non-empty comma list of push, delete and mirror without repeats. BERR_BAD_REQUEST. */
int webhooks_check(const struct meta_webhook *h, struct berr *err);

#endif
