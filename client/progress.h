/* The pull progress display: on a terminal, one line per layer redrawn in place with its
 * state, bytes and rate; otherwise one line per layer when it is done. Thread-safe: workers
 * update items, the main thread draws. */
#ifndef BERTH_CLIENT_PROGRESS_H
#define BERTH_CLIENT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct progress;

/* nitems lines on out; tty selects redrawing; quiet prints nothing at all. Free with
 * progress_free. */
struct progress *progress_new(FILE *out, bool tty, bool quiet, size_t nitems);
void progress_free(struct progress *p);
/* Name an item (a digest's first 12 hex digits are shown) and its size in bytes. */
void progress_item(struct progress *p, size_t i, const char *name, uint64_t total);
/* A new state ("Waiting", "Downloading", "Extracting", "Pull complete", "Already exists").
 * done marks the item finished: off a terminal that is when its line is printed. */
void progress_state(struct progress *p, size_t i, const char *state, bool done);
/* Bytes of item i received so far (absolute). */
void progress_bytes(struct progress *p, size_t i, uint64_t bytes);
/* Redraw (terminal only); final also leaves the cursor below the block. */
void progress_draw(struct progress *p, bool final);

#endif
