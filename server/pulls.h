/* Pull counts per repository (what the web UI shows and sorts by). A manifest GET counts
 * one pull, as on Docker Hub. Counts gather in memory and are written to the metadata in
 * one transaction every few seconds, so counting never costs a pull a database write. The
 * time each manifest was last pulled is gathered and written the same way. */
#ifndef BERTH_PULLS_H
#define BERTH_PULLS_H

#include <stdint.h>

/* Start the writer thread (every `interval` seconds). */
int pulls_start(int interval);
/* Count one pull of repo_id. */
void pulls_count(int64_t repo_id);
/* Note that the manifest `digest` of repo_id was pulled now (its "last pulled" time). */
void pulls_mark(int64_t repo_id, const char *digest);
/* Drop what is pending for repo_id (the repository was deleted: SQLite may give its id to
 * the next repository created, which must not inherit its pulls). */
void pulls_forget(int64_t repo_id);
/* Stop the writer after a last write of what is pending. */
void pulls_stop(void);

#endif
