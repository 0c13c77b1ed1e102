/* The pull-through cache: which local names come from which upstream registry, the
 * upstream clients (one per upstream repository, keeping its token), and the manifest
 * side: fetch on a miss, revalidate a tag with HEAD once its TTL has passed, and serve
 * the cached tag whenever the upstream is down, slow or rate-limiting. Blobs are in
 * proxy_blob.c. The v2 client and its WWW-Authenticate flow are the ones berth uses too
 * (common/registry_client.c). */
#include "server/proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/manifest.h"
#include "common/registry_client.h"
#include "common/xalloc.h"
#include "server/config.h"
#include "server/http.h"
#include "server/meta.h"
#include "server/metrics.h"
#include "server/webhooks.h"

#define PROXY_MAX_UPSTREAMS 64
/* Upstream clients kept for reuse (each holds a token and a connection cache). */
#define PROXY_CLIENTS_MAX 128
#define PROXY_SECRET_MAX  4096

/* After a failed revalidation, cached tags of that upstream are served without asking it
 * again for this long (or its TTL, if shorter), so a hanging upstream delays one pull per
 * window, not every pull. */
#define PROXY_BACKOFF 30

static struct proxy_upstream proxy_ups[PROXY_MAX_UPSTREAMS];
static size_t proxy_nups;
/* time() until which proxy_ups[i] is not asked to revalidate tags */
static _Atomic long proxy_backoff_until[PROXY_MAX_UPSTREAMS];
static bool proxy_public;
static int proxy_timeout;

struct proxy_client_slot {
	const struct proxy_upstream *up;
	char *urepo;
	struct registry_client *client;
	int refs;
	uint64_t used; /* proxy_clock at last use, to evict the least recently used */
};
static struct proxy_client_slot proxy_clients[PROXY_CLIENTS_MAX];
static pthread_mutex_t proxy_clients_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t proxy_clock;

/* Read a password file's first line; heap, or NULL with err. */
static char *proxy_read_secret(const char *path, struct berr *err)
{
	cleanup_fclose FILE *f = fopen(path, "r");
	if (!f) {
		berr_sys(err, errno, "--mirror password-file %s", path);
		return NULL;
	}
	char buf[PROXY_SECRET_MAX];
	if (!fgets(buf, sizeof buf, f)) {
		berr_set(err, BERR_INTERNAL, "--mirror password-file %s is empty", path);
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

/* Add ns to the names containerd's ?ns= may use for up (once; at most eight). */
static void proxy_add_ns(struct proxy_upstream *up, const char *ns)
{
	for (size_t i = 0; i < up->nns; i++)
		if (strcasecmp(up->ns[i], ns) == 0)
			return;
	if (up->nns < sizeof up->ns / sizeof up->ns[0])
		up->ns[up->nns++] = xstrdup(ns);
}

/* Parse "[PREFIX=]URL [username=U] [password=P] [password-file=F] [ttl=S] [ns=NAME]". */
static int proxy_parse_entry(const char *entry, int default_ttl, struct proxy_upstream *up, struct berr *err)
{
	memset(up, 0, sizeof *up);
	up->ttl = default_ttl;
	cleanup_free char *copy = xstrdup(entry);
	char *save = NULL;
	char *first = strtok_r(copy, " \t", &save);
	if (!first)
		return berr_set(err, BERR_INTERNAL, "--mirror: empty entry");
	char *scheme = strstr(first, "://");
	char *eq = strchr(first, '=');
	const char *url = first;
	if (eq && (!scheme || eq < scheme)) {
		*eq = '\0';
		url = eq + 1;
		/* One component, so the cache has a namespace to itself: a deeper prefix would share
		 * its first component with an account's namespace (see proxy_namespace_cached). */
		if (!*first || reference_check_name(first, strlen(first), NULL) < 0 || strchr(first, '/'))
			return berr_set(
			    err, BERR_INTERNAL,
			    "--mirror %s: the prefix '%s' must be one lowercase path component (a-z, 0-9, . _ -)",
			    entry, first);
		up->prefix = xstrdup(first);
	} else {
		up->prefix = xstrdup("");
	}
	if (strncmp(url, "http://", 7) == 0)
		up->plain_http = true;
	else if (strncmp(url, "https://", 8) != 0)
		return berr_set(err, BERR_INTERNAL, "--mirror %s: the upstream must be an http:// or https:// URL",
		                entry);
	const char *host = url + (up->plain_http ? 7 : 8);
	size_t hl = strcspn(host, "/");
	if (hl == 0 || hl > 255 || strspn(host + hl, "/") != strlen(host + hl))
		return berr_set(err, BERR_INTERNAL, "--mirror %s: give the registry's address only (no path)", entry);
	for (size_t i = 0; i < hl; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_", host[i]))
			return berr_set(err, BERR_INTERNAL, "--mirror %s: bad character in the registry address",
			                entry);
	up->registry = xstrndup(host, hl);
	up->url = xasprintf("%s://%s", up->plain_http ? "http" : "https", up->registry);
	for (char *t = strtok_r(NULL, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		char *v = strchr(t, '=');
		if (!v)
			return berr_set(err, BERR_INTERNAL, "--mirror %s: '%s' is not key=value", up->url, t);
		*v++ = '\0';
		if (strcmp(t, "username") == 0) {
			free(up->username);
			up->username = xstrdup(v);
		} else if (strcmp(t, "password") == 0) {
			free(up->password);
			up->password = xstrdup(v);
		} else if (strcmp(t, "password-file") == 0) {
			free(up->password);
			if (!(up->password = proxy_read_secret(v, err)))
				return -1;
		} else if (strcmp(t, "ttl") == 0) {
			char *end;
			long ttl = strtol(v, &end, 10);
			if (*end || end == v || ttl < 0 || ttl > 100000000)
				return berr_set(err, BERR_INTERNAL, "--mirror %s: ttl wants seconds, not '%s'", up->url,
				                v);
			up->ttl = (int)ttl;
		} else if (strcmp(t, "ns") == 0) {
			proxy_add_ns(up, v);
		} else {
			return berr_set(
			    err, BERR_INTERNAL,
			    "--mirror %s: unknown setting '%s' (username, password, password-file, ttl, ns)", up->url,
			    t);
		}
	}
	if (!!up->username != !!up->password)
		return berr_set(err, BERR_INTERNAL, "--mirror %s: username and password go together", up->url);
	char hostonly[256];
	snprintf(hostonly, sizeof hostonly, "%.*s", (int)strcspn(up->registry, ":"), up->registry);
	proxy_add_ns(up, up->registry);
	proxy_add_ns(up, hostonly);
	if (strcmp(hostonly, "registry-1.docker.io") == 0 || strcmp(hostonly, "docker.io") == 0 ||
	    strcmp(hostonly, "index.docker.io") == 0)
		proxy_add_ns(up, "docker.io");
	return 0;
}

/* Free what proxy_parse_entry allocated in up. */
static void proxy_upstream_free(struct proxy_upstream *up)
{
	free(up->prefix);
	free(up->url);
	free(up->registry);
	free(up->username);
	free(up->password);
	for (size_t i = 0; i < up->nns; i++)
		free(up->ns[i]);
	memset(up, 0, sizeof *up);
}

int proxy_init(const struct config *cfg, struct berr *err)
{
	proxy_public = strcmp(cfg->default_visibility, "public") == 0;
	proxy_timeout = cfg->mirror_timeout;
	for (size_t i = 0; i < cfg->nmirrors; i++) {
		if (proxy_nups == PROXY_MAX_UPSTREAMS)
			return berr_set(err, BERR_INTERNAL, "at most %d --mirror entries", PROXY_MAX_UPSTREAMS);
		struct proxy_upstream *up = &proxy_ups[proxy_nups];
		if (proxy_parse_entry(cfg->mirrors[i], cfg->mirror_ttl, up, err) < 0) {
			proxy_upstream_free(up);
			return -1;
		}
		for (size_t j = 0; j < proxy_nups; j++)
			if (strcmp(proxy_ups[j].prefix, up->prefix) == 0) {
				berr_set(err, BERR_INTERNAL, "--mirror: two upstreams %s %s",
				         *up->prefix ? "under prefix" : "at the root", up->prefix);
				proxy_upstream_free(up);
				return -1;
			}
		proxy_nups++;
		log_info("pull-through cache of %s %s%s%s", up->url, *up->prefix ? "under " : "at the root", up->prefix,
		         *up->prefix ? "/" : "");
	}
	return 0;
}

void proxy_start(struct blobstore *blobs)
{
	if (proxy_nups)
		proxy_blob_init(blobs);
}

void proxy_shutdown(void)
{
	if (!proxy_nups)
		return;
	if (!proxy_blob_shutdown()) {
		log_warn("mirror: downloads still running at exit are dropped; nothing of them is stored");
		return;
	}
	pthread_mutex_lock(&proxy_clients_lock);
	for (size_t i = 0; i < PROXY_CLIENTS_MAX; i++) {
		registry_client_free(proxy_clients[i].client);
		free(proxy_clients[i].urepo);
		memset(&proxy_clients[i], 0, sizeof proxy_clients[i]);
	}
	pthread_mutex_unlock(&proxy_clients_lock);
	for (size_t i = 0; i < proxy_nups; i++)
		proxy_upstream_free(&proxy_ups[i]);
	proxy_nups = 0;
}

bool proxy_default_public(void)
{
	return proxy_public;
}

const struct proxy_upstream *proxy_map(const char *name, char urepo[REFERENCE_NAME_MAX + 1])
{
	const struct proxy_upstream *root = NULL;
	for (size_t i = 0; i < proxy_nups; i++) {
		const struct proxy_upstream *up = &proxy_ups[i];
		size_t pl = strlen(up->prefix);
		if (!pl) {
			root = up;
			continue;
		}
		if (strncmp(name, up->prefix, pl) == 0 && name[pl] == '/') {
			snprintf(urepo, REFERENCE_NAME_MAX + 1, "%s", name + pl + 1);
			return up;
		}
	}
	if (!root)
		return NULL;
	/* Docker Hub keeps its official images under library/, as docker itself assumes. */
	bool hub = false;
	for (size_t i = 0; i < root->nns; i++)
		hub |= strcmp(root->ns[i], "docker.io") == 0;
	snprintf(urepo, REFERENCE_NAME_MAX + 1, "%s%s", hub && !strchr(name, '/') ? "library/" : "", name);
	return root;
}

bool proxy_is_mirrored(const char *name)
{
	char urepo[REFERENCE_NAME_MAX + 1];
	return proxy_nups && proxy_map(name, urepo) != NULL;
}

bool proxy_namespace_cached(const char *ns)
{
	size_t n = strlen(ns);
	for (size_t i = 0; i < proxy_nups; i++) {
		const char *p = proxy_ups[i].prefix;
		if (!*p || (strncmp(p, ns, n) == 0 && (p[n] == '\0' || p[n] == '/')))
			return true;
	}
	return false;
}

struct registry_client *proxy_client_get(const struct proxy_upstream *up, const char *urepo)
{
	pthread_mutex_lock(&proxy_clients_lock);
	struct proxy_client_slot *free_slot = NULL, *lru = NULL;
	for (size_t i = 0; i < PROXY_CLIENTS_MAX; i++) {
		struct proxy_client_slot *s = &proxy_clients[i];
		if (!s->client) {
			free_slot = free_slot ? free_slot : s;
			continue;
		}
		if (s->up == up && strcmp(s->urepo, urepo) == 0) {
			s->refs++;
			s->used = ++proxy_clock;
			pthread_mutex_unlock(&proxy_clients_lock);
			return s->client;
		}
		if (s->refs == 0 && (!lru || s->used < lru->used))
			lru = s;
	}
	struct credential cred = {.username = up->username, .password = up->password};
	struct registry_client *c =
	    registry_client_new(up->registry, urepo, up->plain_http, up->username ? &cred : NULL);
	registry_client_set_timeout(c, proxy_timeout);
	struct proxy_client_slot *s = free_slot ? free_slot : lru;
	if (s) {
		if (s->client) {
			registry_client_free(s->client);
			free(s->urepo);
		}
		s->up = up;
		s->urepo = xstrdup(urepo);
		s->client = c;
		s->refs = 1;
		s->used = ++proxy_clock;
	}
	pthread_mutex_unlock(&proxy_clients_lock);
	return c;
}

void proxy_client_put(struct registry_client *c)
{
	pthread_mutex_lock(&proxy_clients_lock);
	for (size_t i = 0; i < PROXY_CLIENTS_MAX; i++)
		if (proxy_clients[i].client == c) {
			proxy_clients[i].refs--;
			pthread_mutex_unlock(&proxy_clients_lock);
			return;
		}
	pthread_mutex_unlock(&proxy_clients_lock);
	/* Every slot was in use when it was made: it was never shared. */
	registry_client_free(c);
}

/* Is route kind + method a write? Those are refused on mirrored names. */
static bool proxy_is_write(const struct req *r)
{
	switch (r->route.kind) {
	case ROUTE_UPLOAD_START:
	case ROUTE_UPLOAD:
		return true;
	case ROUTE_MANIFEST:
	case ROUTE_BLOB:
		return r->method != HTTP_GET && r->method != HTTP_HEAD;
	default:
		return false;
	}
}

bool proxy_route(struct req *r)
{
	if (!proxy_nups || !r->route.name[0])
		return true;
	const char *ns = req_query(r, "ns");
	if (ns && *ns) {
		for (size_t i = 0; i < proxy_nups; i++) {
			const struct proxy_upstream *up = &proxy_ups[i];
			bool match = false;
			for (size_t j = 0; j < up->nns; j++)
				match |= strcasecmp(up->ns[j], ns) == 0;
			if (!match || !*up->prefix)
				continue;
			size_t pl = strlen(up->prefix);
			if (strncmp(r->route.name, up->prefix, pl) == 0 && r->route.name[pl] == '/')
				break;
			char name[REFERENCE_NAME_MAX + 2];
			int n = snprintf(name, sizeof name, "%s/%s", up->prefix, r->route.name);
			if (n < 0 || (size_t)n > REFERENCE_NAME_MAX) {
				req_fail(r, BERR_NAME_INVALID, "%s/%s is longer than %d characters", up->prefix,
				         r->route.name, REFERENCE_NAME_MAX);
				return false;
			}
			memcpy(r->route.name, name, (size_t)n + 1);
			break;
		}
	}
	if (proxy_is_write(r)) {
		char urepo[REFERENCE_NAME_MAX + 1];
		const struct proxy_upstream *up = proxy_map(r->route.name, urepo);
		if (up) {
			req_fail(r, BERR_DENIED,
			         "%s is a read-only pull-through cache of %s/%s: push to a name outside the mirror",
			         r->route.name, up->url, urepo);
			return false;
		}
	}
	return true;
}

/* An upstream failure as the client should see it: a missing or refused repository is
 * unknown here too, rate limiting stays 429, anything else is 503 naming the upstream. */
static int proxy_upstream_error(struct req *r, const struct proxy_upstream *up, const char *urepo,
                                enum berr_code unknown, const struct berr *e)
{
	switch (e->code) {
	case BERR_MANIFEST_UNKNOWN:
	case BERR_BLOB_UNKNOWN:
	case BERR_NAME_UNKNOWN:
		return berr_set(&r->err, unknown, "%s", e->message);
	default:
		break;
	}
	metrics_count(METRICS_UPSTREAM_ERRORS, 1);
	switch (e->code) {
	case BERR_UNAUTHORIZED:
	case BERR_DENIED:
		return berr_set(&r->err, unknown,
		                "upstream %s refused %s (it does not exist there, or berthd's credentials for it are "
		                "missing or wrong): %s",
		                up->url, urepo, e->message);
	case BERR_TOOMANYREQUESTS:
		return berr_set(&r->err, BERR_TOOMANYREQUESTS, "upstream %s is rate-limiting: %s", up->url, e->message);
	default:
		return berr_set(&r->err, BERR_UNAVAILABLE, "upstream %s is unavailable: %s", up->url, e->message);
	}
}

/* GET reference from upstream, check it (digest want when given), and store it under
 * tag (may be NULL). */
static int proxy_manifest_fetch(struct req *r, const struct proxy_upstream *up, const char *urepo,
                                struct registry_client *c, const char *reference, const struct digest *want,
                                const char *tag, struct digest *got)
{
	cleanup_free char *body = NULL, *ctype = NULL;
	size_t len = 0;
	struct berr e;
	if (registry_client_get_manifest(c, reference, &body, &len, &ctype, &e) < 0)
		return proxy_upstream_error(r, up, urepo, BERR_MANIFEST_UNKNOWN, &e);
	digest_buffer(want ? want->algo : DIGEST_SHA256, body, len, got);
	if (want && !digest_equal(want, got))
		return berr_set(&r->err, BERR_UNAVAILABLE,
		                "upstream %s sent manifest %s for %s/%s@%s: it does not match, nothing was cached",
		                up->url, got->str, up->url, urepo, want->str);
	struct manifest mf;
	if (manifest_parse(ctype, body, len, &mf, &e) < 0)
		return berr_set(&r->err, BERR_UNAVAILABLE, "upstream %s sent a manifest berthd cannot keep: %s",
		                up->url, e.message);
	cleanup_free char *source = xasprintf("%s/%s", up->url, urepo);
	int rc = meta_mirror_manifest_put(r->meta, r->route.name, source, &mf, got, body, len, tag, &r->err);
	manifest_free(&mf);
	if (rc == 0) {
		log_info("mirror: cached %s%s%s (%s) from %s", r->route.name, tag ? ":" : "@", tag ? tag : got->str,
		         got->str, source);
		if (tag)
			webhooks_emit(r->meta, "mirror", r->route.name, tag, got->str, "mirror");
	}
	return rc;
}

int proxy_manifest_fill(struct req *r, bool is_digest, const struct digest *d)
{
	char urepo[REFERENCE_NAME_MAX + 1];
	const struct proxy_upstream *up = proxy_map(r->route.name, urepo);
	if (!up)
		return 0;
	const char *ref = r->route.param;
	int64_t repo_id = -1;
	struct meta_manifest mm;
	struct berr e;
	bool cached = false;
	if (meta_repo_lookup(r->meta, r->route.name, &repo_id, &e) == 0)
		cached = meta_manifest_get(r->meta, repo_id, is_digest ? d->str : ref, is_digest, false, &mm, &e) == 0;
	metrics_count(cached ? METRICS_MIRROR_HITS : METRICS_MIRROR_MISSES, 1);
	/* Content addressed: what is cached is right forever. */
	if (cached && is_digest)
		return 0;
	int64_t checked = 0;
	if (cached && meta_mirror_tag_checked(r->meta, repo_id, ref, &checked, &e) < 0)
		log_warn("mirror: %s:%s: %s", r->route.name, ref, e.message);
	if (cached && (int64_t)time(NULL) - checked < up->ttl)
		return 0;
	size_t upi = (size_t)(up - proxy_ups);
	if (cached && time(NULL) < atomic_load(&proxy_backoff_until[upi])) {
		log_debug("mirror: %s:%s: %s failed recently; serving the cached %s", r->route.name, ref, up->url,
		          mm.digest.str);
		return 0;
	}

	struct registry_client *c = proxy_client_get(up, urepo);
	struct digest got;
	int rc = 0;
	if (!cached) {
		rc = proxy_manifest_fetch(r, up, urepo, c, ref, is_digest ? d : NULL, is_digest ? NULL : ref, &got);
		proxy_client_put(c);
		return rc;
	}
	/* A cached tag past its TTL: HEAD is free of Docker Hub's pull limit. Whatever goes
	 * wrong upstream, the cached tag is still served. */
	struct digest head;
	int hr = registry_client_head_manifest(c, ref, &head, &e);
	if (hr == 1 && digest_equal(&head, &mm.digest)) {
		cleanup_free char *source = xasprintf("%s/%s", up->url, urepo);
		if (meta_mirror_tag_confirmed(r->meta, repo_id, source, ref, &e) < 0)
			log_warn("mirror: %s:%s: %s", r->route.name, ref, e.message);
	} else if (hr >= 0) {
		if (proxy_manifest_fetch(r, up, urepo, c, ref, hr == 1 ? &head : NULL, ref, &got) < 0)
			log_warn("mirror: %s:%s: serving the cached %s: %s", r->route.name, ref, mm.digest.str,
			         r->err.message);
		else if (!digest_equal(&got, &mm.digest))
			log_info("mirror: %s:%s moved upstream from %s to %s", r->route.name, ref, mm.digest.str,
			         got.str);
		berr_clear(&r->err);
	} else {
		metrics_count(METRICS_UPSTREAM_ERRORS, 1);
		log_warn("mirror: %s:%s: could not revalidate with %s (%s); serving the cached %s", r->route.name, ref,
		         up->url, e.message, mm.digest.str);
		atomic_store(&proxy_backoff_until[upi],
		             (long)time(NULL) + (up->ttl < PROXY_BACKOFF ? up->ttl : PROXY_BACKOFF));
	}
	proxy_client_put(c);
	return 0;
}
