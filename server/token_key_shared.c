/* The token signing key kept in the shared database, for several berthd nodes on one
 * PostgreSQL: apart from server/token.c so that the JWT code needs no metadata (the fuzz
 * target links it alone). */
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/meta.h"
#include "server/token.h"

/* The key's name among the shared settings. */
#define TOKEN_KEY_SETTING "token-signing-key"

int token_keys_init_shared(struct meta *m, struct berr *err)
{
	char *pem = NULL;
	int found = meta_setting_get(m, TOKEN_KEY_SETTING, &pem, err);
	if (found < 0)
		return -1;
	if (found == 0) {
		/* The first node to start makes the key; one that starts at the same moment keeps
		 * whichever was stored first. */
		cleanup_free char *fresh = token_key_new_pem();
		if (!fresh)
			return berr_set(err, BERR_INTERNAL, "could not generate the token signing key");
		if (meta_setting_put_new(m, TOKEN_KEY_SETTING, fresh, err) < 0)
			return -1;
		found = meta_setting_get(m, TOKEN_KEY_SETTING, &pem, err);
		if (found < 0)
			return -1;
		if (found == 0)
			return berr_set(err, BERR_INTERNAL, "the token signing key vanished from the database");
		log_info("stored a new token signing key in the shared database");
	}
	int rc = token_keys_init_pem(pem, "the token signing key in the database", err);
	free(pem);
	return rc;
}
