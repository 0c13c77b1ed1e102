/* Server-side replication: rules that copy images from another registry into local
 * repositories, checked by a scheduler thread in berthd. A run lists the source's matching
 * repositories and tags and copies each tag whose digest differs from the local one with
 * the copy engine `berth copy` uses too (common/copy.c), the destination being berthd itself over
 * loopback HTTP: pushes go through the same validation, storage and metadata code as any
 * client's. Under --auth token that loopback client signs in as REPLICATION_USER with a
 * random secret that exists only in this process's memory. */
#ifndef BERTH_REPLICATION_H
#define BERTH_REPLICATION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"
#include "server/config.h"
#include "server/meta.h"

/* The identity the loopback client signs in as: no account can have this name. */
#define REPLICATION_USER "@replication"
/* Shortest interval a rule may have (seconds); 0 means "only when asked". */
#define REPLICATION_INTERVAL_MIN 5
/* How often the scheduler looks for due and asked-for rules (seconds). */
#define REPLICATION_POLL 2

/* Check a rule's configuration fields (name, source URL, filters, destination, interval);
 * BERR_BAD_REQUEST / BERR_NAME_INVALID with a message naming the field. */
int replication_rule_check(const struct meta_replication_rule *r, struct berr *err);
/* Parse a duration: "90", "90s", "15m", "6h", "1d" into seconds; -1 if malformed. */
int64_t replication_parse_interval(const char *s);

/* Start the scheduler for the server configured by cfg (kept). Rules left running by a
 * previous process are marked failed. */
int replication_start(const struct config *cfg, struct berr *err);
/* Look for work now (after a run was asked for in this process). */
void replication_wake(void);
/* Ask the scheduler to stop: no new run or blob starts. */
void replication_cancel(void);
/* Wait for the scheduler thread to end (after replication_cancel). */
void replication_stop(void);

/* True when user/password is the loopback client's internal credential, presented from
 * addr (the client's address), which must be loopback: 127.0.0.0/8 or ::1. */
bool replication_internal_login(const char *user, const char *password, const char *addr);
/* True when addr is a numeric loopback address (127.0.0.0/8, ::1, ::ffff:127.x.x.x). */
bool replication_is_loopback(const char *addr);

#endif
