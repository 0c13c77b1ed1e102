/* Pull counts per repository (what the web UI shows and sorts by). A manifest GET counts
 * one pull, as on Docker Hub. Counts gather in memory and are written to the metadata in
 * one transaction every few seconds, so counting never costs a pull a database write. */
#ifndef BERTH_PULLS_H
#define BERTH_PULLS_H

#include <stdint.h>

/* Start the writer thread (every `interval` seconds). */
int pulls_start(int interval);
/* Count one pull of repo_id. */
void pulls_count(int64_t repo_id);
/* Note that manifest `digest` of repo_id was pulled now (when it was last pulled is what
 * retention rules by pull time read; written with the counts). */
void pulls_touch(int64_t repo_id, const char *digest);
/* Stop the writer after a last write of what is pending. */
void pulls_stop(void);

#endif
