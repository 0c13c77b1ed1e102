/* The state one berthd process serves from: its settings, the blob store and the upload
 * session cache. Created in main, shared read-only by every request. */
#ifndef BERTH_REGISTRY_H
#define BERTH_REGISTRY_H

#include "server/config.h"
#include "storage/blobstore.h"

struct uploads;

struct registry {
	const struct config *cfg;
	struct blobstore *blobs;
	struct uploads *uploads;
};

#endif
