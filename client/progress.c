/* Progress lines. On a terminal the block of lines is redrawn by moving the cursor up over
 * it (ANSI CUU) and clearing each line; the rate is the item's bytes over the time since
 * its download started. */
#include "client/progress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"

struct progress_item {
	char name[16];
	char state[24];
	uint64_t total, bytes;
	double started; /* seconds, monotonic; 0 before the first byte */
	double rate;    /* bytes/s, frozen when done */
	bool done;
};

struct progress {
	FILE *out;
	bool tty, quiet;
	size_t n;
	size_t drawn; /* lines currently on screen (terminal) */
	struct progress_item *items;
	pthread_mutex_t lock;
};

static double progress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "12.3 MB" into buf (decimal units, as docker shows). */
static void progress_fmt_bytes(double v, char *buf, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	size_t u = 0;
	while (v >= 1000 && u < 4)
		v /= 1000, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

struct progress *progress_new(FILE *out, bool tty, bool quiet, size_t nitems)
{
	struct progress *p = xcalloc(1, sizeof *p);
	p->out = out;
	p->tty = tty && !quiet;
	p->quiet = quiet;
	p->n = nitems;
	p->items = xcalloc(nitems ? nitems : 1, sizeof *p->items);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->items);
	free(p);
}

void progress_item(struct progress *p, size_t i, const char *name, uint64_t total)
{
	pthread_mutex_lock(&p->lock);
	snprintf(p->items[i].name, sizeof p->items[i].name, "%.12s", name);
	snprintf(p->items[i].state, sizeof p->items[i].state, "Waiting");
	p->items[i].total = total;
	pthread_mutex_unlock(&p->lock);
}

void progress_state(struct progress *p, size_t i, const char *state, bool done)
{
	pthread_mutex_lock(&p->lock);
	struct progress_item *it = &p->items[i];
	snprintf(it->state, sizeof it->state, "%s", state);
	if (done && !it->done) {
		it->done = true;
		if (it->started > 0)
			it->rate = (double)it->bytes / (progress_now() - it->started + 1e-9);
		if (!p->tty && !p->quiet) {
			fprintf(p->out, "%s: %s\n", it->name, it->state);
			fflush(p->out);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_bytes(struct progress *p, size_t i, uint64_t bytes)
{
	pthread_mutex_lock(&p->lock);
	struct progress_item *it = &p->items[i];
	if (it->started == 0)
		it->started = progress_now();
	it->bytes = bytes;
	pthread_mutex_unlock(&p->lock);
}

void progress_draw(struct progress *p, bool final)
{
	if (!p->tty)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->drawn)
		fprintf(p->out, "\033[%zuA", p->drawn);
	double now = progress_now();
	for (size_t i = 0; i < p->n; i++) {
		struct progress_item *it = &p->items[i];
		char got[16], total[16], rate[16];
		fprintf(p->out, "\033[2K%s: %-14s", it->name, it->state);
		if (it->started > 0 && (strcmp(it->state, "Downloading") == 0 || strcmp(it->state, "Pushing") == 0)) {
			double r = (double)it->bytes / (now - it->started + 1e-9);
			progress_fmt_bytes((double)it->bytes, got, sizeof got);
			progress_fmt_bytes((double)it->total, total, sizeof total);
			progress_fmt_bytes(r, rate, sizeof rate);
			fprintf(p->out, " %s / %s  %s/s", got, total, rate);
		} else if (it->done && it->started > 0) {
			progress_fmt_bytes((double)it->total, total, sizeof total);
			progress_fmt_bytes(it->rate, rate, sizeof rate);
			fprintf(p->out, " %s  %s/s", total, rate);
		}
		fputc('\n', p->out);
	}
	p->drawn = p->n;
	if (final)
		p->drawn = 0;
	fflush(p->out);
	pthread_mutex_unlock(&p->lock);
}
