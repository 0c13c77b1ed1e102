/* Tag rules: validation of immutability and retention rules, and the retention run that
 * untags what the retention rules say should go (the garbage collector then reclaims what
 * no tag or manifest holds). Enforcement of immutability happens in the metadata layer,
 * inside the transaction of each push or delete (server/meta.h). */
#ifndef BERTH_RETENTION_H
#define BERTH_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"
#include "server/meta.h"

/* Check a rule before it is stored: kind, scope (a valid repository name or namespace),
 * pattern (1..META_TAG_PATTERN_MAX bytes of tag characters and * ? [ ] ! -), and for
 * retention exactly one of keep_last (1..100000) and keep_days (1..36500). BERR_BAD_REQUEST. */
int retention_rule_check(const struct meta_tag_rule *rule, struct berr *err);

/* One decision of a retention run. */
enum retention_action {
	RETENTION_UNTAG,          /* untagged (or, in a dry run, would be) */
	RETENTION_KEEP_IMMUTABLE, /* would go, but an immutability rule protects it */
	RETENTION_SKIP_CHANGED,   /* pushed again while the run looked at it: left alone */
};

struct retention_report {
	/* Called for each tag a rule does not keep; may be NULL. */
	void (*on_tag)(void *ctx, enum retention_action action, const char *repository, const char *tag,
	               const char *digest, int64_t rule_id);
	void *ctx;
	/* Totals, filled by retention_run. */
	int64_t repositories; /* repositories at least one retention rule applies to */
	int64_t examined;     /* tags matched by a retention rule */
	int64_t untagged;     /* RETENTION_UNTAG decisions */
	int64_t protected_;   /* RETENTION_KEEP_IMMUTABLE */
	int64_t skipped;      /* RETENTION_SKIP_CHANGED */
};

/* Apply every retention rule (each tag untagged also sends a webhook "delete" event with
 * pusher "retention"): of the tags a rule's pattern matches in its repositories, a
 * tag stays when any matching rule keeps it (the keep_last most recently pushed; or pushed
 * or pulled within keep_days), and is untagged otherwise. Tags no retention rule matches
 * always stay; immutable tags stay. With dry_run nothing changes and the report says what
 * would. The GC calls this before marking. Returns 0, or -1 with err (the untagging done
 * before a failure stays done). */
int retention_run(struct meta *m, bool dry_run, struct retention_report *report, struct berr *err);

#endif
