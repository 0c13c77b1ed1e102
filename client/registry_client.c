/* The registry HTTP client. Each request is one libcurl easy handle; handles share a
 * connection cache, DNS and TLS sessions through a CURLSH, so parallel blob downloads reuse
 * connections. A 401 runs the challenge in its WWW-Authenticate header once (fetching a
 * Bearer token or switching to Basic) and the request is retried with the new
 * Authorization; the token is shared by all threads. Every body read is size-capped. */
#include "autoconfig.h"

#include "client/registry_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/www_auth.h"
#include "common/manifest.h"
#include "common/xalloc.h"

/* Caps on what is read from the network besides blobs. */
#define REGISTRY_ERROR_BODY_MAX (64 * 1024)
#define REGISTRY_TOKEN_MAX      (1024 * 1024)
#define REGISTRY_HEADER_MAX     8192

#define REGISTRY_ACCEPT                                                                       \
	"Accept: " MEDIATYPE_OCI_INDEX ", " MEDIATYPE_OCI_MANIFEST ", " MEDIATYPE_DOCKER_LIST \
	", " MEDIATYPE_DOCKER_MANIFEST

struct registry_client {
	char *registry;
	char *base; /* "https://registry-1.docker.io" */
	char *repository;
	struct credential cred;
	bool has_cred;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t auth_lock;
	char *authorization; /* "Bearer ..." / "Basic ...", or NULL; guarded by auth_lock */
	unsigned auth_generation;
};

/* One exchange: what is sent and what came back. */
struct registry_req {
	const char *method;
	char *url;
	bool accept_manifests;
	uint64_t range_from;
	/* body destination: a capped buffer, or a blob sink for 200/206 answers */
	const struct registry_blob_sink *sink;
	size_t body_max;
	char *body;
	size_t body_len;
	bool too_big;
	bool began;
	struct berr *sink_err;
	bool sink_failed;
	/* response */
	CURL *curl;
	long status;
	char *www_authenticate;
	char *content_type;
	char *docker_digest;
	char *content_range;
};

void registry_client_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void registry_client_global_cleanup(void)
{
	curl_global_cleanup();
}

/* The host of "host:port", "[v6]:port" or "host" into buf. */
static void registry_host(const char *registry, char *buf, size_t len)
{
	if (registry[0] == '[') {
		const char *end = strchr(registry, ']');
		size_t n = end ? (size_t)(end - registry - 1) : strlen(registry + 1);
		snprintf(buf, len, "%.*s", (int)n, registry + 1);
		return;
	}
	snprintf(buf, len, "%.*s", (int)strcspn(registry, ":"), registry);
}

bool registry_is_insecure(const char *registry, char *const *insecure, size_t ninsecure)
{
	char host[256];
	registry_host(registry, host, sizeof host);
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127)
		return true;
	for (size_t i = 0; i < ninsecure; i++)
		if (strcasecmp(insecure[i], registry) == 0 || strcasecmp(insecure[i], host) == 0)
			return true;
	return false;
}

static void registry_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h;
	(void)access;
	struct registry_client *c = arg;
	pthread_mutex_lock(&c->share_locks[data]);
}

static void registry_share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h;
	struct registry_client *c = arg;
	pthread_mutex_unlock(&c->share_locks[data]);
}

struct registry_client *registry_client_new(const char *registry, const char *repository, bool plain_http,
                                            const struct credential *cred)
{
	struct registry_client *c = xcalloc(1, sizeof *c);
	c->registry = xstrdup(registry);
	const char *api_host = strcmp(registry, "docker.io") == 0 ? "registry-1.docker.io" : registry;
	c->base = xasprintf("%s://%s", plain_http ? "http" : "https", api_host);
	c->repository = repository ? xstrdup(repository) : NULL;
	if (cred && cred->username && cred->password) {
		c->cred.username = xstrdup(cred->username);
		c->cred.password = xstrdup(cred->password);
		c->has_cred = true;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	pthread_mutex_init(&c->auth_lock, NULL);
	c->share = curl_share_init();
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, registry_share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, registry_share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return c;
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	pthread_mutex_destroy(&c->auth_lock);
	credential_free(&c->cred);
	free(c->authorization);
	free(c->registry);
	free(c->base);
	free(c->repository);
	free(c);
}

static void registry_req_reset(struct registry_req *r)
{
	free(r->body);
	free(r->www_authenticate);
	free(r->content_type);
	free(r->docker_digest);
	free(r->content_range);
	r->body = r->www_authenticate = r->content_type = r->docker_digest = r->content_range = NULL;
	r->body_len = 0;
	r->too_big = r->began = r->sink_failed = false;
	r->status = 0;
}

static void registry_req_free(struct registry_req *r)
{
	registry_req_reset(r);
	free(r->url);
}

/* Keep a response header's value (trimmed, capped) in *slot. */
static void registry_keep_header(char **slot, const char *v, size_t len)
{
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	if (len > REGISTRY_HEADER_MAX)
		return;
	free(*slot);
	*slot = xstrndup(v, len);
}

static size_t registry_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct registry_req *r = arg;
	size_t len = size * n;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or 100): forget the previous one's headers. */
		registry_req_reset(r);
		return len;
	}
	static const struct {
		const char *name;
		size_t off;
	} keep[] = {
	    {"www-authenticate:", offsetof(struct registry_req, www_authenticate)},
	    {"content-type:", offsetof(struct registry_req, content_type)},
	    {"docker-content-digest:", offsetof(struct registry_req, docker_digest)},
	    {"content-range:", offsetof(struct registry_req, content_range)},
	};
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		size_t nl = strlen(keep[i].name);
		if (len > nl && strncasecmp(data, keep[i].name, nl) == 0) {
			char **slot = (char **)((char *)r + keep[i].off);
			/* The first challenge is the one registries mean. */
			if (keep[i].off == offsetof(struct registry_req, www_authenticate) && *slot)
				break;
			registry_keep_header(slot, data + nl, len - nl);
			break;
		}
	}
	return len;
}

/* The first byte of a blob answer: tell the sink where the bytes start. */
static int registry_begin_sink(struct registry_req *r)
{
	uint64_t offset = 0;
	if (r->status == 206) {
		unsigned long long start = 0;
		if (!r->content_range || sscanf(r->content_range, "bytes %llu-", &start) != 1 ||
		    start != r->range_from) {
			berr_set(r->sink_err, BERR_RANGE_INVALID,
			         "the registry answered a resumed download with range %s",
			         r->content_range ? r->content_range : "(none)");
			return -1;
		}
		offset = start;
	}
	r->began = true;
	return r->sink->begin(r->sink->arg, offset, r->sink_err);
}

static size_t registry_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct registry_req *r = arg;
	size_t len = size * n;
	if (!r->status)
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->sink && (r->status == 200 || r->status == 206)) {
		if ((!r->began && registry_begin_sink(r) < 0) ||
		    r->sink->write(r->sink->arg, data, len, r->sink_err) < 0) {
			r->sink_failed = true;
			return 0;
		}
		return len;
	}
	size_t max = (r->sink || r->status >= 300) ? REGISTRY_ERROR_BODY_MAX : r->body_max;
	if (r->body_len + len > max) {
		r->too_big = true;
		return 0;
	}
	r->body = xrealloc(r->body, r->body_len + len + 1);
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

/* One HTTP exchange with the given Authorization value (may be NULL). Fails only when no
 * HTTP answer was obtained or the sink refused the bytes. */
static int registry_do(struct registry_client *c, struct registry_req *r, const char *authorization, struct berr *err)
{
	registry_req_reset(r);
	CURL *h = curl_easy_init();
	if (!h)
		return berr_set(err, BERR_INTERNAL, "curl_easy_init failed");
	r->curl = h;
	r->sink_err = err;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	cleanup_free char *auth_hdr = authorization ? xasprintf("Authorization: %s", authorization) : NULL;
	cleanup_free char *range_hdr =
	    r->range_from ? xasprintf("Range: bytes=%llu-", (unsigned long long)r->range_from) : NULL;
	if (auth_hdr)
		hdrs = curl_slist_append(hdrs, auth_hdr);
	if (range_hdr)
		hdrs = curl_slist_append(hdrs, range_hdr);
	if (r->accept_manifests)
		hdrs = curl_slist_append(hdrs, REGISTRY_ACCEPT);
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, registry_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, registry_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled transfer (under 1 byte/s for a minute) fails instead of hanging. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	r->curl = NULL;
	if (r->sink_failed)
		return -1;
	if (rc == CURLE_OK && r->sink && !r->began && (r->status == 200 || r->status == 206) &&
	    registry_begin_sink(r) < 0)
		return -1;
	if (rc == CURLE_WRITE_ERROR && r->too_big)
		return berr_set(err, BERR_SIZE_INVALID, "%s: the response is larger than the %zu bytes accepted",
		                r->url, r->body_max);
	if (rc != CURLE_OK) {
		const char *hint = (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION)
		                       ? " (if the registry speaks plain HTTP, use --insecure-registry)"
		                       : "";
		return berr_set(err, BERR_UNAVAILABLE, "%s %s: %s%s", r->method, r->url,
		                errbuf[0] ? errbuf : curl_easy_strerror(rc), hint);
	}
	return 0;
}

/* "CODE: message" of a registry's JSON error body, or "" . */
static void registry_error_detail(const struct registry_req *r, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!r->body)
		return;
	json_t *o = json_loadb(r->body, r->body_len, 0, NULL);
	json_t *e0 = json_array_get(json_object_get(o, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	if (code || msg)
		snprintf(buf, len, ": %s%s%.200s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
	json_decref(o);
}

/* Request a Bearer token from the challenge's realm; fills *token (heap). */
static int registry_fetch_token(struct registry_client *c, const struct www_auth *ch, char **token, struct berr *err)
{
	if (!ch->realm || (strncmp(ch->realm, "https://", 8) != 0 && strncmp(ch->realm, "http://", 7) != 0))
		return berr_set(err, BERR_UNAUTHORIZED, "%s: the Bearer challenge has no usable realm", c->registry);
	CURL *esc = curl_easy_init();
	cleanup_free char *scope =
	    c->repository ? xasprintf("repository:%s:pull", c->repository) : (ch->scope ? xstrdup(ch->scope) : NULL);
	char *e_service = ch->service ? curl_easy_escape(esc, ch->service, 0) : NULL;
	char *e_scope = scope ? curl_easy_escape(esc, scope, 0) : NULL;
	const char *sep = strchr(ch->realm, '?') ? "&" : "?";
	struct registry_req r = {.method = "GET", .body_max = REGISTRY_TOKEN_MAX};
	r.url = xasprintf("%s%s%s%s%s%s%s", ch->realm, (e_service || e_scope) ? sep : "", e_service ? "service=" : "",
	                  e_service ? e_service : "", e_service && e_scope ? "&" : "", e_scope ? "scope=" : "",
	                  e_scope ? e_scope : "");
	curl_free(e_service);
	curl_free(e_scope);
	curl_easy_cleanup(esc);
	cleanup_free char *basic = NULL;
	if (c->has_cred) {
		cleanup_free char *b64 = credentials_encode_basic(c->cred.username, c->cred.password);
		basic = xasprintf("Basic %s", b64);
	}
	int rc = registry_do(c, &r, basic, err);
	if (rc == 0 && r.status != 200) {
		char detail[256];
		registry_error_detail(&r, detail, sizeof detail);
		if (r.status == 401 || r.status == 403)
			rc =
			    berr_set(err, BERR_UNAUTHORIZED, "%s: %s%s", c->registry,
			             c->has_cred ? "the credentials were rejected" : "authentication required", detail);
		else
			rc = berr_set(err, BERR_UNAUTHORIZED, "%s: token request answered HTTP %ld%s", c->registry,
			              r.status, detail);
	}
	if (rc == 0) {
		json_t *o = json_loadb(r.body ? r.body : "", r.body_len, 0, NULL);
		const char *t = json_string_value(json_object_get(o, "token"));
		if (!t || !*t)
			t = json_string_value(json_object_get(o, "access_token"));
		if (t && *t && strlen(t) < REGISTRY_TOKEN_MAX && !strpbrk(t, "\r\n"))
			*token = xstrdup(t);
		else
			rc = berr_set(err, BERR_UNAUTHORIZED, "%s: the token answer holds no token", c->registry);
		json_decref(o);
	}
	registry_req_free(&r);
	return rc;
}

/* Answer a 401 challenge, unless another thread already did since generation seen. */
static int registry_authenticate(struct registry_client *c, const char *challenge, unsigned seen, struct berr *err)
{
	pthread_mutex_lock(&c->auth_lock);
	int rc = 0;
	if (c->auth_generation != seen)
		goto out;
	struct www_auth ch;
	if (!challenge) {
		rc = berr_set(err, BERR_UNAUTHORIZED, "%s answered 401 without a WWW-Authenticate challenge",
		              c->registry);
		goto out;
	}
	if ((rc = www_auth_parse(challenge, &ch, err)) < 0)
		goto out;
	char *authz = NULL;
	if (ch.scheme == WWW_AUTH_BEARER) {
		char *token = NULL;
		rc = registry_fetch_token(c, &ch, &token, err);
		if (rc == 0) {
			authz = xasprintf("Bearer %s", token);
			free(token);
		}
	} else if (ch.scheme == WWW_AUTH_BASIC && c->has_cred) {
		cleanup_free char *b64 = credentials_encode_basic(c->cred.username, c->cred.password);
		authz = xasprintf("Basic %s", b64);
	} else if (ch.scheme == WWW_AUTH_BASIC) {
		rc = berr_set(err, BERR_UNAUTHORIZED, "%s: authentication required (run `berth login %s`)", c->registry,
		              c->registry);
	} else {
		rc = berr_set(err, BERR_UNAUTHORIZED, "%s: unsupported authentication challenge: %.100s", c->registry,
		              challenge);
	}
	www_auth_free(&ch);
	if (rc == 0) {
		free(c->authorization);
		c->authorization = authz;
		c->auth_generation++;
	}
out:
	pthread_mutex_unlock(&c->auth_lock);
	return rc;
}

/* Run r with the current Authorization, answering one 401 challenge. On return r->status is
 * the final answer's; a 401 after authenticating is BERR_UNAUTHORIZED. */
static int registry_request(struct registry_client *c, struct registry_req *r, struct berr *err)
{
	for (int attempt = 0;; attempt++) {
		pthread_mutex_lock(&c->auth_lock);
		cleanup_free char *authz = c->authorization ? xstrdup(c->authorization) : NULL;
		unsigned gen = c->auth_generation;
		pthread_mutex_unlock(&c->auth_lock);
		if (registry_do(c, r, authz, err) < 0)
			return -1;
		if (r->status != 401)
			return 0;
		if (attempt == 1)
			break;
		cleanup_free char *challenge = r->www_authenticate ? xstrdup(r->www_authenticate) : NULL;
		if (registry_authenticate(c, challenge, gen, err) < 0)
			return -1;
	}
	if (c->has_cred)
		return berr_set(err, BERR_UNAUTHORIZED, "%s: unauthorized: the credentials were rejected", c->registry);
	return berr_set(err, BERR_UNAUTHORIZED, "%s: unauthorized: authentication required (run `berth login %s`)",
	                c->registry, c->registry);
}

/* Turn a non-2xx answer into an error naming what was asked. */
static int registry_status_error(struct registry_client *c, const struct registry_req *r, const char *what,
                                 enum berr_code not_found, struct berr *err)
{
	char detail[256];
	registry_error_detail(r, detail, sizeof detail);
	switch (r->status) {
	case 404:
		return berr_set(err, not_found, "%s: not found in %s/%s%s", what, c->registry, c->repository, detail);
	case 403:
		return berr_set(err, BERR_DENIED, "%s: access denied by %s%s", what, c->registry, detail);
	case 429:
		return berr_set(err, BERR_TOOMANYREQUESTS, "%s: %s says too many requests%s", what, c->registry,
		                detail);
	default:
		return berr_set(err, BERR_INTERNAL, "%s: %s answered HTTP %ld%s", what, c->registry, r->status, detail);
	}
}

int registry_client_ping(struct registry_client *c, struct berr *err)
{
	struct registry_req r = {.method = "GET", .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s/v2/", c->base);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status != 200)
		rc = registry_status_error(c, &r, "/v2/", BERR_NOT_FOUND, err);
	registry_req_free(&r);
	return rc;
}

int registry_client_head_manifest(struct registry_client *c, const char *reference, struct digest *out,
                                  struct berr *err)
{
	struct registry_req r = {.method = "HEAD", .accept_manifests = true, .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repository, reference);
	cleanup_free char *what = xasprintf("manifest %s", reference);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status != 200)
		rc = registry_status_error(c, &r, what, BERR_MANIFEST_UNKNOWN, err);
	if (rc == 0)
		rc = r.docker_digest && digest_parse(r.docker_digest, out, NULL) == 0 ? 1 : 0;
	registry_req_free(&r);
	return rc;
}

int registry_client_get_manifest(struct registry_client *c, const char *reference, char **body, size_t *len,
                                 char **content_type, struct berr *err)
{
	struct registry_req r = {.method = "GET", .accept_manifests = true, .body_max = MANIFEST_MAX_SIZE};
	r.url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repository, reference);
	cleanup_free char *what = xasprintf("manifest %s", reference);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status != 200)
		rc = registry_status_error(c, &r, what, BERR_MANIFEST_UNKNOWN, err);
	if (rc == 0) {
		*body = r.body ? r.body : xstrdup("");
		*len = r.body_len;
		r.body = NULL;
		const char *ct = r.content_type ? r.content_type : "";
		*content_type = xstrndup(ct, strcspn(ct, "; \t"));
	}
	registry_req_free(&r);
	return rc;
}

int registry_client_get_blob(struct registry_client *c, const struct digest *d, uint64_t offset,
                             const struct registry_blob_sink *sink, struct berr *err)
{
	struct registry_req r = {.method = "GET", .sink = sink, .range_from = offset};
	r.url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repository, d->str);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status == 416 && offset > 0) {
		/* The partial file is no prefix the server knows: start over. */
		r.range_from = 0;
		rc = registry_request(c, &r, err);
	}
	if (rc == 0 && r.status != 200 && r.status != 206) {
		cleanup_free char *what = xasprintf("blob %s", d->str);
		rc = registry_status_error(c, &r, what, BERR_BLOB_UNKNOWN, err);
	}
	registry_req_free(&r);
	return rc;
}
