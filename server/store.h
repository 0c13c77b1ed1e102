/* Opening the blob store berthd's settings name: the data folder, or an S3 bucket. */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include "common/berr.h"
#include "server/config.h"
#include "storage/blobstore.h"

/* Open the store of cfg (--storage). Caller frees with blobstore_close. */
struct blobstore *store_open(const struct config *cfg, struct berr *err);
/* Put the --blob-cache in front of bs (berthd's server only: the subcommands read the store
 * directly). No-op without --blob-cache; -1 with err if the folder cannot be used. */
int store_open_cache(const struct config *cfg, struct blobstore *bs, struct berr *err);
/* "data folder DIR" or "S3 bucket B at URL", for log lines. Caller frees. */
char *store_describe(const struct config *cfg);

#endif
