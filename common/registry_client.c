/* The registry HTTP client. Each request is one libcurl easy handle; handles share a
 * connection cache, DNS and TLS sessions through a CURLSH, so parallel blob downloads reuse
 * connections. A 401 runs the challenge in its WWW-Authenticate header once (fetching a
 * Bearer token or switching to Basic) and the request is retried with the new
 * Authorization; the token is shared by all threads. Every body read is size-capped. */
#include "autoconfig.h"

#include "common/registry_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include "common/certs_d.h"
#include "common/curl_lazy.h"
#include "common/manifest.h"
#include "common/reference.h"
#include "common/www_auth.h"
#include "common/xalloc.h"

/* Caps on what is read from the network besides blobs. */
#define REGISTRY_ERROR_BODY_MAX (64 * 1024)
#define REGISTRY_TOKEN_MAX      (1024 * 1024)
#define REGISTRY_HEADER_MAX     8192
/* Tags asked for per page, and the most accepted for one repository. */
#define REGISTRY_TAGS_PAGE 1000
#define REGISTRY_TAGS_MAX  100000

#define REGISTRY_ACCEPT                                                                       \
	"Accept: " MEDIATYPE_OCI_INDEX ", " MEDIATYPE_OCI_MANIFEST ", " MEDIATYPE_DOCKER_LIST \
	", " MEDIATYPE_DOCKER_MANIFEST

struct registry_client {
	char *registry;
	/* "https://registry-1.docker.io": base_http or base_https, switched once (by any
	 * thread) when a registry probed for TLS turns out to speak it. */
	char *_Atomic base;
	char *base_http;
	char *base_https;
	_Atomic int tls_probe; /* enum registry_tls_probe */
	char *repository;
	char *scopes; /* token scopes asked for, space-separated; NULL: repository:R:pull */
	struct credential cred;
	bool has_cred;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t auth_lock;
	char *authorization; /* "Bearer ..." / "Basic ...", or NULL; guarded by auth_lock */
	unsigned auth_generation;
	bool tls_no_verify;
	long timeout; /* seconds for requests other than blob downloads; 0: none */
	/* registry_client_use_certs_d: the registry's certs.d folder (NULL: none), and the CAs
	 * trusted for it (CURLOPT_CAINFO_BLOB: the folder's *.crt, then the --ca-cert file;
	 * data NULL when the folder has none), or why they could not be read (every request
	 * fails with it). */
	char *certs_dir;
	struct certs_pem ca_pem;
	char *ca_error;
};

/* One exchange: what is sent and what came back. */
struct registry_req {
	const char *method;
	char *url;
	bool accept_manifests;
	uint64_t range_from;
	/* request body: a Content-Type and a source (PUT), or an empty POST */
	const char *req_content_type;
	struct registry_upload *upload;
	bool post_empty;
	CURLcode curl_rc; /* of the last exchange */
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
	char *location;
	char *link;
	char *oci_subject;
	int64_t content_length; /* -1: not announced */
};

/* A PUT body: bytes in memory (data) or read from fd with pread, so a retry after a 401
 * or a redirect can rewind. progress (may be NULL) hears the bytes sent so far. */
struct registry_upload {
	const char *data;
	int fd;
	uint64_t size;
	uint64_t off;
	void (*progress)(void *arg, uint64_t sent);
	void *arg;
	int read_errno;
	/* a one-way stream instead (data and fd unused): cannot rewind */
	ssize_t (*stream)(void *arg, void *buf, size_t len);
	void *stream_arg;
	bool stream_failed;
};

/* The CA certificates trusted in place of libcurl's CA bundle file (PEM), and the
 * option that named them, for error hints; set once before any thread exists. */
static char *registry_ca_file;
static const char *registry_ca_option = "--ca-cert";
/* registry_client_use_certs_d was called. */
static bool registry_certs_d;

void registry_client_global_cleanup(void)
{
	free(registry_ca_file);
	registry_ca_file = NULL;
}

int registry_client_set_ca_file(const char *path, const char *option, struct berr *err)
{
	registry_ca_option = option;
	if (!path || !*path)
		return 0;
	/* Checked now, so a wrong path is one clear message at start instead of a TLS error
	 * on the first HTTPS connection. */
	FILE *f = fopen(path, "re");
	if (!f)
		return berr_sys(err, errno, "%s %s", option, path);
	struct stat sb;
	if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
		fclose(f);
		return berr_set(err, BERR_BAD_REQUEST, "%s %s: not a file (name the CA's certificate, e.g. %s/ca.crt)",
		                option, path, path);
	}
	char line[128];
	bool pem = false;
	for (int i = 0; i < 100000 && !pem && fgets(line, sizeof line, f); i++)
		pem = strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
	fclose(f);
	if (!pem)
		return berr_set(err, BERR_BAD_REQUEST,
		                "%s %s: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file", option, path);
	free(registry_ca_file);
	registry_ca_file = xstrdup(path);
	return 0;
}

void registry_client_use_certs_d(void)
{
	registry_certs_d = true;
}

/* For registry_client_use_certs_d: find c's certs.d folder and gather the CAs trusted for
 * it, or keep why that failed in c->ca_error. */
static void registry_client_load_certs_d(struct registry_client *c)
{
	struct berr err = {0};
	cleanup_free char *dir = NULL;
	int found = certs_d_find(c->registry, NULL, 0, &dir, &err);
	if (found == 0)
		return;
	if (found > 0 && (certs_d_load_cas(dir, &c->ca_pem, &err) < 0 ||
	                  (c->ca_pem.files && registry_ca_file &&
	                   certs_pem_append_file(&c->ca_pem, registry_ca_file, registry_ca_option, &err) < 0)))
		found = -1;
	if (found < 0) {
		certs_pem_free(&c->ca_pem);
		c->ca_error = xstrdup(err.message);
		return;
	}
	c->certs_dir = dir;
	dir = NULL;
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

/* localhost, 127.0.0.0/8 or ::1. */
static bool registry_is_loopback(const char *registry)
{
	char host[256];
	registry_host(registry, host, sizeof host);
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	struct in_addr a4;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* registry (or its host) is one of the insecure entries. */
static bool registry_listed(const char *registry, char *const *insecure, size_t ninsecure)
{
	char host[256];
	registry_host(registry, host, sizeof host);
	for (size_t i = 0; i < ninsecure; i++)
		if (strcasecmp(insecure[i], registry) == 0 || strcasecmp(insecure[i], host) == 0)
			return true;
	return false;
}

bool registry_is_insecure(const char *registry, char *const *insecure, size_t ninsecure)
{
	return registry_is_loopback(registry) || registry_listed(registry, insecure, ninsecure);
}

bool registry_wants_tls_probe(const char *registry, char *const *insecure, size_t ninsecure)
{
	return registry_is_loopback(registry) && !registry_listed(registry, insecure, ninsecure);
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

/* registry_client_probe_tls's state: off, or still unknown, or settled either way. */
enum registry_tls_probe {
	REGISTRY_PROBE_OFF,
	REGISTRY_PROBE_PENDING,
	REGISTRY_PROBE_HTTP,
	REGISTRY_PROBE_HTTPS,
};

struct registry_client *registry_client_new(const char *registry, const char *repository, bool plain_http,
                                            const struct credential *cred)
{
	struct registry_client *c = xcalloc(1, sizeof *c);
	c->registry = xstrdup(registry);
	const char *api_host = strcmp(registry, "docker.io") == 0 ? "registry-1.docker.io" : registry;
	c->base_http = xasprintf("http://%s", api_host);
	c->base_https = xasprintf("https://%s", api_host);
	c->base = plain_http ? c->base_http : c->base_https;
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
	if (registry_certs_d)
		registry_client_load_certs_d(c);
	return c;
}

void registry_client_probe_tls(struct registry_client *c)
{
	if (atomic_load(&c->base) == c->base_http)
		atomic_store(&c->tls_probe, REGISTRY_PROBE_PENDING);
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
	free(c->base_http);
	free(c->base_https);
	free(c->repository);
	free(c->scopes);
	free(c->certs_dir);
	certs_pem_free(&c->ca_pem);
	free(c->ca_error);
	free(c);
}

static void registry_req_reset(struct registry_req *r)
{
	free(r->body);
	free(r->www_authenticate);
	free(r->content_type);
	free(r->docker_digest);
	free(r->content_range);
	free(r->location);
	free(r->link);
	free(r->oci_subject);
	r->body = r->www_authenticate = r->content_type = r->docker_digest = r->content_range = NULL;
	r->location = r->link = r->oci_subject = NULL;
	r->body_len = 0;
	r->too_big = r->began = r->sink_failed = false;
	r->status = 0;
	r->content_length = -1;
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
	    {"location:", offsetof(struct registry_req, location)},
	    {"link:", offsetof(struct registry_req, link)},
	    {"oci-subject:", offsetof(struct registry_req, oci_subject)},
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
	} else if (r->sink->length) {
		curl_off_t cl = r->content_length;
		if (r->curl && curl_easy_getinfo(r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK)
			cl = -1;
		if (cl >= 0)
			r->sink->length(r->sink->arg, (uint64_t)cl);
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

static size_t registry_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct registry_upload *u = arg;
	size_t want = size * n;
	if (want > u->size - u->off)
		want = (size_t)(u->size - u->off);
	if (want == 0)
		return 0;
	if (u->stream) {
		ssize_t got = u->stream(u->stream_arg, buf, want);
		if (got <= 0) {
			u->stream_failed = true;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	} else if (u->data) {
		memcpy(buf, u->data + u->off, want);
	} else {
		ssize_t got;
		do
			got = pread(u->fd, buf, want, (off_t)u->off);
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			u->read_errno = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	u->off += want;
	if (u->progress)
		u->progress(u->arg, u->off);
	return want;
}

static int registry_seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct registry_upload *u = arg;
	if (u->stream) /* the bytes sent are gone */
		return u->off == (uint64_t)offset && origin == SEEK_SET ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > u->size)
		return CURL_SEEKFUNC_CANTSEEK;
	u->off = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* One HTTP exchange with the given Authorization value (may be NULL). Fails only when no
 * HTTP answer was obtained or the sink refused the bytes. */
static int registry_do_once(struct registry_client *c, struct registry_req *r, const char *authorization,
                            struct berr *err)
{
	registry_req_reset(r);
	r->curl_rc = CURLE_OK;
	if (c->ca_error) /* as containers/image, even for a plain-HTTP registry */
		return berr_set(err, BERR_BAD_REQUEST, "%s", c->ca_error);
	CURL *h = curl_easy_init();
	if (!h)
		return berr_set(err, BERR_INTERNAL, "curl_easy_init failed: %s", curl_easy_strerror(CURLE_FAILED_INIT));
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
	cleanup_free char *ct_hdr = r->req_content_type ? xasprintf("Content-Type: %s", r->req_content_type) : NULL;
	if (ct_hdr)
		hdrs = curl_slist_append(hdrs, ct_hdr);
	if (r->upload) /* no 100-continue round trip: registries answer auth errors before reading */
		hdrs = curl_slist_append(hdrs, "Expect:");
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
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout > 0 && c->timeout < 30 ? c->timeout : 30L);
	if (c->timeout > 0 && !r->sink)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
	/* A stalled transfer (under 1 byte/s for a minute) fails instead of hanging. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	if (c->tls_no_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	struct curl_blob ca_blob = {.data = c->ca_pem.data, .len = c->ca_pem.len, .flags = CURL_BLOB_NOCOPY};
	if (c->ca_pem.data) { /* with OpenSSL, this replaces CAINFO; CAPATH stays trusted */
		if (curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca_blob) != CURLE_OK) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(h);
			r->curl = NULL;
			return berr_set(
			    err, BERR_UNSUPPORTED,
			    "%s: this libcurl cannot take the CA certificates of %s (CURLOPT_CAINFO_BLOB needs "
			    "libcurl 7.77 or later)",
			    r->url, c->certs_dir);
		}
	} else if (registry_ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, registry_ca_file);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (r->upload) {
		if (r->upload->stream && r->upload->off)
			return berr_set(err, BERR_BLOB_UPLOAD_INVALID,
			                "%s: a streamed upload cannot be sent again (the registry asked to retry it)",
			                r->url);
		r->upload->off = 0;
		r->upload->read_errno = 0;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->upload->size);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, registry_read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, r->upload);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, registry_seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r->upload);
	} else if (r->post_empty) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (strcmp(r->method, "PUT") == 0 && !r->upload)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	CURLcode rc = curl_easy_perform(h);
	r->curl_rc = rc;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_off_t cl = -1;
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0)
		r->content_length = (int64_t)cl;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	r->curl = NULL;
	if (r->sink_failed)
		return -1;
	if (r->upload && r->upload->read_errno)
		return berr_sys(err, r->upload->read_errno, "read the blob to upload");
	if (r->upload && r->upload->stream_failed)
		return berr_set(err, BERR_BLOB_UPLOAD_INVALID, "%s: the blob's source stopped", r->url);
	if (rc == CURLE_OK && r->sink && !r->began && (r->status == 200 || r->status == 206) &&
	    registry_begin_sink(r) < 0)
		return -1;
	if (rc == CURLE_WRITE_ERROR && r->too_big)
		return berr_set(err, BERR_SIZE_INVALID, "%s: the response is larger than the %zu bytes accepted",
		                r->url, r->body_max);
	if (rc != CURLE_OK) {
		char hint[384] = "";
		/* OpenSSL's words for a chain that ends at no trusted CA. */
		bool untrusted = rc == CURLE_PEER_FAILED_VERIFICATION &&
		                 (strstr(errbuf, "issuer certificate") || strstr(errbuf, "self-signed") ||
		                  strstr(errbuf, "self signed"));
		if (untrusted && c->ca_pem.data)
			snprintf(hint, sizeof hint, " (its CA is in none of %s/*.crt%s%s%s nor the system's)",
			         c->certs_dir, registry_ca_file ? ", " : "", registry_ca_file ? registry_ca_option : "",
			         registry_ca_file ? "'s file" : "");
		else if (untrusted && registry_ca_file)
			snprintf(hint, sizeof hint, " (its CA is neither in %s %s nor one of the system's)",
			         registry_ca_option, registry_ca_file);
		else if (untrusted && registry_certs_d)
			snprintf(hint, sizeof hint,
			         " (for a certificate from a private CA, put the CA's certificate in "
			         "/etc/containers/certs.d/%s/ca.crt or name it with %s FILE)",
			         c->registry, registry_ca_option);
		else if (untrusted)
			snprintf(hint, sizeof hint,
			         " (for a certificate from a private CA, name the CA's certificate with %s FILE)",
			         registry_ca_option);
		else if (rc == CURLE_SSL_CONNECT_ERROR)
			snprintf(hint, sizeof hint, " (if the registry speaks plain HTTP, use --insecure-registry)");
		return berr_set(err, BERR_UNAVAILABLE, "%s %s: %s%s", r->method, r->url,
		                errbuf[0] ? errbuf : curl_easy_strerror(rc), hint);
	}
	return 0;
}

/* One HTTP exchange (registry_do_once), and for a client probing for TLS
 * (registry_client_probe_tls) the probe: while the registry has not answered in plain HTTP,
 * a request that got no HTTP answer goes again over HTTPS (certificate checked). An answer or
 * a refused certificate there proves a TLS server, and the client switches to HTTPS; any
 * other failure leaves it on HTTP with the plain attempt's error (a plain server that
 * dropped one connection is not switched). Several threads may race here: each failed
 * request decides for itself from the state it sees, and only the first proof switches.
 * Nothing secret goes in a plain attempt: until the probe settles no challenge has been
 * answered (a 401 is an HTTP answer, which settles it). */
static int registry_do(struct registry_client *c, struct registry_req *r, const char *authorization, struct berr *err)
{
	int rc = registry_do_once(c, r, authorization, err);
	int probe = atomic_load(&c->tls_probe);
	if (probe == REGISTRY_PROBE_OFF || probe == REGISTRY_PROBE_HTTP)
		return rc;
	size_t n = strlen(c->base_http);
	bool was_http = strncmp(r->url, c->base_http, n) == 0 && (r->url[n] == '/' || r->url[n] == '\0');
	if (!was_http)
		return rc;
	bool no_http_answer = r->status == 0 && (r->curl_rc == CURLE_GOT_NOTHING || r->curl_rc == CURLE_RECV_ERROR ||
	                                         r->curl_rc == CURLE_SEND_ERROR);
	if (rc == 0 || !no_http_answer) {
		if (r->status > 0) {
			int pending = REGISTRY_PROBE_PENDING;
			atomic_compare_exchange_strong(&c->tls_probe, &pending, REGISTRY_PROBE_HTTP);
		}
		return rc;
	}
	char *plain_url = r->url;
	r->url = xasprintf("%s%s", c->base_https, plain_url + n);
	struct berr tls_err = {0};
	int tls_rc = registry_do_once(c, r, authorization, &tls_err);
	bool proven = tls_rc == 0 || r->curl_rc == CURLE_PEER_FAILED_VERIFICATION || r->status > 0 ||
	              probe == REGISTRY_PROBE_HTTPS;
	if (!proven) {
		free(r->url);
		r->url = plain_url;
		return rc;
	}
	free(plain_url);
	int expected = REGISTRY_PROBE_PENDING;
	if (atomic_compare_exchange_strong(&c->tls_probe, &expected, REGISTRY_PROBE_HTTPS))
		atomic_store(&c->base, c->base_https);
	if (tls_rc < 0 && err)
		*err = tls_err;
	return tls_rc;
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
	cleanup_free char *scopes = c->scopes ? xstrdup(c->scopes)
	                                      : (c->repository ? xasprintf("repository:%s:pull", c->repository)
	                                                       : (ch->scope ? xstrdup(ch->scope) : NULL));
	/* One scope= parameter per scope, as docker's token protocol has it. */
	char *query = xstrdup("");
	if (ch->service) {
		char *e = curl_easy_escape(esc, ch->service, 0);
		char *q = xasprintf("service=%s", e);
		curl_free(e);
		free(query);
		query = q;
	}
	char *save = NULL;
	for (char *t = scopes ? strtok_r(scopes, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save)) {
		char *e = curl_easy_escape(esc, t, 0);
		char *q = xasprintf("%s%sscope=%s", query, *query ? "&" : "", e);
		curl_free(e);
		free(query);
		query = q;
	}
	curl_easy_cleanup(esc);
	const char *sep = strchr(ch->realm, '?') ? "&" : "?";
	struct registry_req r = {.method = "GET", .body_max = REGISTRY_TOKEN_MAX};
	r.url = xasprintf("%s%s%s", ch->realm, *query ? sep : "", query);
	free(query);
	cleanup_free char *basic = NULL;
	if (c->has_cred) {
		cleanup_free char *b64 = credential_encode_basic(c->cred.username, c->cred.password);
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
		cleanup_free char *b64 = credential_encode_basic(c->cred.username, c->cred.password);
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
	/* The registry's own code and message say more (a token without the scope asked for). */
	char detail[256];
	registry_error_detail(r, detail, sizeof detail);
	pthread_mutex_lock(&c->auth_lock);
	bool bearer = c->authorization && strncmp(c->authorization, "Bearer ", 7) == 0;
	pthread_mutex_unlock(&c->auth_lock);
	/* The token service accepted the credentials but granted less than the scope asked for. */
	if (c->has_cred && bearer)
		return berr_set(err, BERR_DENIED, "%s: denied: requested access to the resource is denied%s",
		                c->registry, detail);
	if (c->has_cred)
		return berr_set(err, BERR_UNAUTHORIZED, "%s: unauthorized: the credentials were rejected%s",
		                c->registry, detail);
	return berr_set(err, BERR_UNAUTHORIZED, "%s: unauthorized: authentication required (run `berth login %s`)%s",
	                c->registry, c->registry, detail);
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

void registry_client_set_scopes(struct registry_client *c, const char *scopes)
{
	free(c->scopes);
	c->scopes = scopes ? xstrdup(scopes) : NULL;
}

void registry_client_set_timeout(struct registry_client *c, long seconds)
{
	c->timeout = seconds > 0 ? seconds : 0;
}

int registry_client_stat_blob(struct registry_client *c, const struct digest *d, uint64_t *size, struct berr *err)
{
	struct registry_req r = {.method = "HEAD", .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repository, d->str);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status == 200) {
		*size = r.content_length >= 0 ? (uint64_t)r.content_length : UINT64_MAX;
		rc = 1;
	} else if (rc == 0 && r.status != 404) {
		cleanup_free char *what = xasprintf("blob %s", d->str);
		rc = registry_status_error(c, &r, what, BERR_BLOB_UNKNOWN, err);
	}
	registry_req_free(&r);
	return rc;
}

int registry_client_head_blob(struct registry_client *c, const struct digest *d, struct berr *err)
{
	struct registry_req r = {.method = "HEAD", .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repository, d->str);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status == 200)
		rc = 1;
	else if (rc == 0 && r.status != 404) {
		cleanup_free char *what = xasprintf("blob %s", d->str);
		rc = registry_status_error(c, &r, what, BERR_BLOB_UNKNOWN, err);
	}
	registry_req_free(&r);
	return rc;
}

/* An upload session's Location made absolute (registries may answer a path); heap. */
static char *registry_upload_url(struct registry_client *c, const struct registry_req *r, struct berr *err)
{
	if (!r->location || !*r->location) {
		berr_set(err, BERR_BLOB_UPLOAD_INVALID, "%s started an upload without a Location", c->registry);
		return NULL;
	}
	if (strncmp(r->location, "http://", 7) == 0 || strncmp(r->location, "https://", 8) == 0)
		return xstrdup(r->location);
	return xasprintf("%s%s%s", c->base, r->location[0] == '/' ? "" : "/", r->location);
}

/* POST to the uploads endpoint with query (may be ""): 201 is a finished mount, 202 an
 * upload session whose URL goes to *location. */
static int registry_post_upload(struct registry_client *c, const char *query, char **location, struct berr *err)
{
	struct registry_req r = {.method = "POST", .post_empty = true, .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s/v2/%s/blobs/uploads/%s", c->base, c->repository, query);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status == 201)
		rc = 1;
	else if (rc == 0 && r.status == 202)
		rc = (*location = registry_upload_url(c, &r, err)) ? 0 : -1;
	else if (rc == 0) {
		cleanup_free char *what = xasprintf("upload to %s", c->repository);
		rc = registry_status_error(c, &r, what, BERR_BLOB_UPLOAD_UNKNOWN, err);
	}
	registry_req_free(&r);
	return rc;
}

int registry_client_mount_blob(struct registry_client *c, const struct digest *d, const char *from, char **location,
                               struct berr *err)
{
	CURL *esc = curl_easy_init();
	char *e_from = curl_easy_escape(esc, from, 0);
	cleanup_free char *query = xasprintf("?mount=%s&from=%s", d->str, e_from);
	curl_free(e_from);
	curl_easy_cleanup(esc);
	*location = NULL;
	return registry_post_upload(c, query, location, err);
}

int registry_client_start_upload(struct registry_client *c, char **location, struct berr *err)
{
	*location = NULL;
	int rc = registry_post_upload(c, "", location, err);
	if (rc == 1)
		rc = berr_set(err, BERR_BLOB_UPLOAD_INVALID, "%s answered an upload start with 201", c->registry);
	return rc;
}

/* The registry's Docker-Content-Digest, when it sent one, must name what was sent. */
static int registry_check_digest(struct registry_client *c, const struct registry_req *r, const struct digest *want,
                                 struct berr *err)
{
	struct digest got;
	if (!r->docker_digest)
		return 0;
	if (digest_parse(r->docker_digest, &got, NULL) < 0 || !digest_equal(&got, want))
		return berr_set(err, BERR_DIGEST_INVALID, "%s stored %s but answered digest %.100s", c->registry,
		                want->str, r->docker_digest);
	return 0;
}

/* PUT ?digest=d to an upload's location with body u; 201 and the digest echoed back. */
static int registry_put_blob_body(struct registry_client *c, const char *location, const struct digest *d,
                                  struct registry_upload *u, struct berr *err)
{
	struct registry_req r = {.method = "PUT",
	                         .upload = u,
	                         .req_content_type = "application/octet-stream",
	                         .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", d->str);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status != 201) {
		cleanup_free char *what = xasprintf("blob %s", d->str);
		rc = registry_status_error(c, &r, what, BERR_BLOB_UPLOAD_INVALID, err);
	}
	if (rc == 0)
		rc = registry_check_digest(c, &r, d, err);
	registry_req_free(&r);
	return rc;
}

int registry_client_put_blob(struct registry_client *c, const char *location, const struct digest *d, int fd,
                             uint64_t size, void (*progress)(void *arg, uint64_t sent), void *arg, struct berr *err)
{
	struct registry_upload u = {.fd = fd, .size = size, .progress = progress, .arg = arg};
	return registry_put_blob_body(c, location, d, &u, err);
}

int registry_client_put_manifest(struct registry_client *c, const char *reference, const char *body, size_t len,
                                 const char *media_type, const struct digest *d, struct berr *err)
{
	return registry_client_put_manifest_subject(c, reference, body, len, media_type, d, NULL, err);
}

int registry_client_put_blob_stream(struct registry_client *c, const char *location, const struct digest *d,
                                    uint64_t size, ssize_t (*read_fn)(void *arg, void *buf, size_t len), void *arg,
                                    struct berr *err)
{
	struct registry_upload u = {.fd = -1, .size = size, .stream = read_fn, .stream_arg = arg};
	return registry_put_blob_body(c, location, d, &u, err);
}

int registry_client_put_manifest_subject(struct registry_client *c, const char *reference, const char *body, size_t len,
                                         const char *media_type, const struct digest *d, bool *subject_acked,
                                         struct berr *err)
{
	struct registry_upload u = {.data = body, .fd = -1, .size = len};
	struct registry_req r = {
	    .method = "PUT", .upload = &u, .req_content_type = media_type, .body_max = REGISTRY_ERROR_BODY_MAX};
	r.url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repository, reference);
	int rc = registry_request(c, &r, err);
	if (rc == 0 && r.status != 201) {
		cleanup_free char *what = xasprintf("manifest %s", reference);
		rc = registry_status_error(c, &r, what, BERR_MANIFEST_INVALID, err);
	}
	if (rc == 0)
		rc = registry_check_digest(c, &r, d, err);
	if (subject_acked)
		*subject_acked = r.oci_subject != NULL;
	registry_req_free(&r);
	return rc;
}

/* The next page's URL from a Link header (`<URL>; rel="next"`), absolute; heap or NULL. */
static char *registry_next_link(struct registry_client *c, const char *link)
{
	if (!link || !strstr(link, "rel=\"next\"") || link[0] != '<')
		return NULL;
	const char *end = strchr(link, '>');
	if (!end || end == link + 1)
		return NULL;
	size_t n = (size_t)(end - link - 1);
	if (strncmp(link + 1, "http://", 7) == 0 || strncmp(link + 1, "https://", 8) == 0)
		return xstrndup(link + 1, n);
	return xasprintf("%s%s%.*s", c->base, link[1] == '/' ? "" : "/", (int)n, link + 1);
}

/* GET the paged list at path ("/v2/R/tags/list", "/v2/_catalog") and collect the strings of
 * its key ("tags", "repositories") that valid(s, len) accepts, following Link headers. */
static int registry_list(struct registry_client *c, const char *path, const char *key,
                         bool (*valid)(const char *s, size_t len), char ***out, size_t *nout, struct berr *err)
{
	*out = NULL;
	*nout = 0;
	char *url = xasprintf("%s%s?n=%d", c->base, path, REGISTRY_TAGS_PAGE);
	int rc = 0;
	for (int page = 0; url && rc == 0; page++) {
		if (page >= REGISTRY_TAGS_MAX / 10) {
			rc = berr_set(err, BERR_SIZE_INVALID, "%s%s: the list has too many pages", c->registry, path);
			break;
		}
		struct registry_req r = {.method = "GET", .body_max = MANIFEST_MAX_SIZE, .url = url};
		url = NULL;
		rc = registry_request(c, &r, err);
		if (rc == 0 && r.status != 200) {
			cleanup_free char *what = xasprintf("%s%s", c->registry, path);
			rc = registry_status_error(c, &r, what, BERR_NAME_UNKNOWN, err);
		}
		json_t *o = rc == 0 ? json_loadb(r.body ? r.body : "", r.body_len, 0, NULL) : NULL;
		json_t *list = json_object_get(o, key);
		if (rc == 0 && (!json_is_object(o) || (list && !json_is_array(list) && !json_is_null(list))))
			rc = berr_set(err, BERR_INTERNAL, "%s%s: the answer is not JSON with a %s array", c->registry,
			              path, key);
		size_t i;
		json_t *t;
		json_array_foreach(list, i, t)
		{
			const char *s = json_string_value(t);
			if (rc < 0 || !s || !valid(s, strlen(s)))
				continue; /* a name we could not ask for anyway */
			if (*nout >= REGISTRY_TAGS_MAX) {
				rc = berr_set(err, BERR_SIZE_INVALID, "%s%s: more than %d entries", c->registry, path,
				              REGISTRY_TAGS_MAX);
				break;
			}
			*out = xrealloc(*out, (*nout + 1) * sizeof **out);
			(*out)[(*nout)++] = xstrdup(s);
		}
		/* A page without entries ends the list even if a Link says otherwise. */
		if (rc == 0 && json_array_size(list) > 0)
			url = registry_next_link(c, r.link);
		json_decref(o);
		registry_req_free(&r);
	}
	free(url);
	if (rc < 0) {
		for (size_t i = 0; i < *nout; i++)
			free((*out)[i]);
		free(*out);
		*out = NULL;
		*nout = 0;
	}
	return rc;
}

int registry_client_list_tags(struct registry_client *c, char ***tags, size_t *ntags, struct berr *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/tags/list", c->repository);
	return registry_list(c, path, "tags", reference_tag_valid, tags, ntags, err);
}

int registry_client_list_catalog(struct registry_client *c, char ***repos, size_t *nrepos, struct berr *err)
{
	return registry_list(c, "/v2/_catalog", "repositories", reference_name_valid, repos, nrepos, err);
}

void registry_client_set_tls_verify(struct registry_client *c, bool verify)
{
	c->tls_no_verify = !verify;
}

int registry_client_get_referrers(struct registry_client *c, const struct digest *d, char **body, size_t *len,
                                  struct berr *err)
{
	*body = NULL;
	*len = 0;
	struct registry_req r = {.method = "GET", .body_max = MANIFEST_MAX_SIZE};
	r.url = xasprintf("%s/v2/%s/referrers/%s", c->base, c->repository, d->str);
	int rc = registry_request(c, &r, err);
	const char *ct = r.content_type ? r.content_type : "";
	if (rc == 0 && r.status == 200 && strncmp(ct, MEDIATYPE_OCI_INDEX, strlen(MEDIATYPE_OCI_INDEX)) == 0) {
		*body = r.body ? r.body : xstrdup("");
		*len = r.body_len;
		r.body = NULL;
		rc = 1;
	} else if (rc == 0 && (r.status == 200 || r.status == 404 || r.status == 400 || r.status == 405)) {
		rc = 0; /* no Referrers API: a 404, or a page that is no index */
	} else if (rc == 0) {
		cleanup_free char *what = xasprintf("referrers of %s", d->str);
		rc = registry_status_error(c, &r, what, BERR_MANIFEST_UNKNOWN, err);
	}
	registry_req_free(&r);
	return rc;
}

const char *registry_client_registry(const struct registry_client *c)
{
	return c->registry;
}

void registry_client_send_basic(struct registry_client *c)
{
	if (!c->has_cred)
		return;
	cleanup_free char *b64 = credential_encode_basic(c->cred.username, c->cred.password);
	pthread_mutex_lock(&c->auth_lock);
	free(c->authorization);
	c->authorization = xasprintf("Basic %s", b64);
	c->auth_generation++;
	pthread_mutex_unlock(&c->auth_lock);
}
