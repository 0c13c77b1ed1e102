/* Registry credentials in docker's config.json format ({"auths": {"host": {"auth":
 * base64("user:password")}}}), so `berth login` and `docker login` share one file. The file
 * is $BERTH_CONFIG_DIR/config.json, else $DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json; it is written atomically with mode 0600 and keys berth does not
 * know are kept. */
#ifndef BERTH_CLIENT_CREDENTIALS_H
#define BERTH_CLIENT_CREDENTIALS_H

#include <stdbool.h>

#include "common/berr.h"
#include "common/credential.h"

/* Path of the config file; heap, caller frees. */
char *credentials_path(void);
/* Look up the credential for a registry ("docker.io", "host:port"). Returns 1 and fills out
 * (free with credential_free) when found, 0 when not, -1 on a read or format error. */
int credentials_get(const char *registry, struct credential *out, struct berr *err);
/* Save user/password for registry, replacing any entry for the same host. */
int credentials_store(const char *registry, const char *username, const char *password, struct berr *err);
/* Remove the registry's entries; *found says whether there was one. */
int credentials_erase(const char *registry, bool *found, struct berr *err);

#endif
