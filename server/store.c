/* Maps the --storage settings onto the blob store's drivers, so main, fsck and backup
 * open the same store the same way. */
#include "server/store.h"

#include <string.h>

#include "common/xalloc.h"
#include "storage/blob_cache.h"

struct blobstore *store_open(const struct config *cfg, struct berr *err)
{
	if (strcmp(cfg->storage, "s3") != 0)
		return blobstore_open(cfg->data_dir, err);
	struct blobstore_s3_config s3 = {
	    .endpoint = cfg->s3_endpoint,
	    .bucket = cfg->s3_bucket,
	    .region = cfg->s3_region,
	    .prefix = cfg->s3_prefix,
	    .access_key = cfg->s3_access_key,
	    .secret_key = cfg->s3_secret_key,
	};
	return blobstore_open_s3(&s3, err);
}

char *store_describe(const struct config *cfg)
{
	if (strcmp(cfg->storage, "s3") != 0)
		return xasprintf("data folder %s", cfg->data_dir);
	return xasprintf("S3 bucket %s%s%s at %s", cfg->s3_bucket, *cfg->s3_prefix ? " prefix " : "", cfg->s3_prefix,
	                 cfg->s3_endpoint);
}

int store_open_cache(const struct config *cfg, struct blobstore *bs, struct berr *err)
{
	if (!cfg->blob_cache)
		return 0;
	struct blob_cache *c = blob_cache_open(cfg->blob_cache, cfg->blob_cache_size, err);
	if (!c)
		return -1;
	blobstore_set_cache(bs, c);
	return 0;
}
