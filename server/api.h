/* The registry API's handlers. api_begin is called once per request, after the headers,
 * with r->route set; it responds at once or installs body callbacks (see server/http.h). */
#ifndef BERTH_API_H
#define BERTH_API_H

#include "server/http.h"

/* Dispatch on route and method; answers 405 UNSUPPORTED for methods an endpoint lacks. */
void api_begin(struct req *r);

void api_base(struct req *r);
void api_catalog(struct req *r);
void api_blob(struct req *r);
void api_upload_start(struct req *r);
void api_upload(struct req *r);
void api_manifest(struct req *r);
void api_tags(struct req *r);
void api_referrers(struct req *r);
void api_token(struct req *r);
/* /api/v1/...: the JSON API of the web UI, which identifies its callers itself (server/api_v1.c). */
void api_v1(struct req *r);

/* The id of the route's repository. When there is none, responds with `missing` (the
 * error clients expect for what they asked: BLOB_UNKNOWN, MANIFEST_UNKNOWN) and returns -1. */
int api_repo_id(struct req *r, enum berr_code missing, int64_t *repo_id);

/* Record action (push, delete, ...) on target in the audit log, as the request's caller. */
void api_audit(struct req *r, const char *action, const char *target, const char *detail);

/* Parse the pagination arguments n and last. n absent: *n = default_n; n larger than max_n
 * is clamped. Returns -1 with BERR_PAGINATION_NUMBER_INVALID for a bad n. */
int api_pagination(struct req *r, int64_t default_n, int64_t max_n, int64_t *n, const char **last);

#endif
