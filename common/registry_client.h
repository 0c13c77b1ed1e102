/* An HTTP client for one repository of a v2 registry (libcurl): manifests and blobs, with
 * the WWW-Authenticate flow (anonymous or credentialed Bearer tokens, Basic). One client
 * may serve several threads downloading blobs at once; they share connections and token. */
#ifndef BERTH_REGISTRY_CLIENT_H
#define BERTH_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/berr.h"
#include "common/credential.h"
#include "common/digest.h"

struct registry_client;

/* Where a blob's bytes go. begin is called once the response is known to carry the blob,
 * with the offset it starts at (the one asked for if the server honoured Range, else 0);
 * write gets the bytes. Either returning -1 (with err filled) aborts the download. */
struct registry_blob_sink {
	int (*begin)(void *arg, uint64_t offset, struct berr *err);
	int (*write)(void *arg, const void *data, size_t len, struct berr *err);
	void *arg;
	/* Optional (may be NULL): called before begin with the whole blob's size when a 200
	 * answer announces its Content-Length. */
	void (*length)(void *arg, uint64_t total);
};

/* Free what registry_client_set_ca_file kept; call once at exit. (libcurl itself is loaded
 * and initialised at the first request: common/curl_lazy.h.) */
void registry_client_global_cleanup(void);
/* Trust the CA certificates of the PEM file path for HTTPS in place of libcurl's CA bundle
 * file (CURLOPT_CAINFO; its CA directory, /etc/ssl/certs on Debian, stays trusted); option ("--ca-cert") names where
 * path came from in messages. The file must be readable and hold a certificate. path NULL only sets the option's name
 * (the hint of a certificate error). Call before any thread exists. */
int registry_client_set_ca_file(const char *path, const char *option, struct berr *err);
/* From now on, clients made with registry_client_new trust, besides the system's CAs, the
 * *.crt files of their registry's certs.d folder as podman/skopeo and docker have it
 * (common/certs_d.h: $HOME/.config/containers/certs.d/HOST:PORT, /etc/containers/certs.d/...,
 * /etc/docker/certs.d/..., the first that exists), with registry_client_set_ca_file's file
 * if any. A folder that cannot be read, or a *.crt in it without a certificate, fails every
 * request of that client with the reason. For the berth client; call before any thread
 * exists. */
void registry_client_use_certs_d(void);
/* True if registry ("host", "host:port", "[::1]:port") must be spoken to in plain HTTP:
 * localhost, 127.0.0.0/8, ::1, or listed in insecure (host or host:port entries). */
bool registry_is_insecure(const char *registry, char *const *insecure, size_t ninsecure);
/* True if a client of registry, named without a scheme, should find out whether it speaks
 * TLS (registry_client_probe_tls): a loopback registry the user did not list in insecure. */
bool registry_wants_tls_probe(const char *registry, char *const *insecure, size_t ninsecure);

/* A client for repository at registry ("docker.io" means registry-1.docker.io). repository
 * may be NULL for registry_client_ping only. cred (may be NULL) is copied. */
struct registry_client *registry_client_new(const char *registry, const char *repository, bool plain_http,
                                            const struct credential *cred);
/* For a client made with plain_http: until the registry has answered in plain HTTP once, a
 * request that gets no HTTP answer at all (a TLS server closes a plain connection) is tried
 * again over HTTPS, certificate checked; if that reaches a TLS server (an answer, or a
 * certificate it refused), the client uses HTTPS from then on. Anything else (a plain server
 * that dropped the connection, say) leaves it on HTTP and reports the plain attempt's error.
 * For registries named without a scheme (the berth client); never for an explicit http://. */
void registry_client_probe_tls(struct registry_client *c);
void registry_client_free(struct registry_client *c);

/* GET /v2/ with the authentication flow: checks credentials for `berth login`. */
int registry_client_ping(struct registry_client *c, struct berr *err);
/* HEAD a manifest: 1 and *out when the registry names its digest (Docker-Content-Digest),
 * 0 when it does not, -1 on error (BERR_MANIFEST_UNKNOWN when absent). */
int registry_client_head_manifest(struct registry_client *c, const char *reference, struct digest *out,
                                  struct berr *err);
/* GET a manifest (at most MANIFEST_MAX_SIZE bytes). *body (NUL-terminated) and
 * *content_type (parameters stripped, may be "") are heap; caller frees. */
int registry_client_get_manifest(struct registry_client *c, const char *reference, char **body, size_t *len,
                                 char **content_type, struct berr *err);
/* GET a blob from byte offset on, into sink. */
int registry_client_get_blob(struct registry_client *c, const struct digest *d, uint64_t offset,
                             const struct registry_blob_sink *sink, struct berr *err);

/* Token scopes to ask for instead of repository:R:pull, space-separated
 * ("repository:a/b:pull,push repository:c/d:pull"); NULL restores the default. */
void registry_client_set_scopes(struct registry_client *c, const char *scopes);
/* Bound every request but blob downloads to `seconds` in all (connecting included); blob
 * downloads still fail when stalled for a minute. 0 restores the default (no bound). */
void registry_client_set_timeout(struct registry_client *c, long seconds);
/* HEAD a blob: 1 and *size (the Content-Length, or UINT64_MAX when none was sent) if the
 * repository has it, 0 if not (404), -1 on error. */
int registry_client_stat_blob(struct registry_client *c, const struct digest *d, uint64_t *size, struct berr *err);
/* HEAD a blob: 1 if the repository has it, 0 if not (404), -1 on error. */
int registry_client_head_blob(struct registry_client *c, const struct digest *d, struct berr *err);
/* Ask to mount blob d from repository from of the same registry: 1 when mounted; 0 when the
 * registry started an upload session instead (its URL in *location, heap); -1 on error. */
int registry_client_mount_blob(struct registry_client *c, const struct digest *d, const char *from, char **location,
                               struct berr *err);
/* Start an upload session (POST); its URL goes to *location (heap, caller frees). */
int registry_client_start_upload(struct registry_client *c, char **location, struct berr *err);
/* Finish a monolithic upload: PUT size bytes read from fd (with pread, from offset 0) to
 * location with ?digest=d, and check the registry's Docker-Content-Digest answer. progress
 * (may be NULL) gets the bytes sent so far. */
int registry_client_put_blob(struct registry_client *c, const char *location, const struct digest *d, int fd,
                             uint64_t size, void (*progress)(void *arg, uint64_t sent), void *arg, struct berr *err);
/* PUT manifest bytes (digest d) under reference with media_type; checks the answered digest. */
int registry_client_put_manifest(struct registry_client *c, const char *reference, const char *body, size_t len,
                                 const char *media_type, const struct digest *d, struct berr *err);

/* Like registry_client_put_blob, but the size bytes come from read_fn (returns bytes > 0, or
 * 0/-1 to abort the upload), a one-way stream that cannot be rewound: a request the
 * registry wants sent again fails. */
int registry_client_put_blob_stream(struct registry_client *c, const char *location, const struct digest *d,
                                    uint64_t size, ssize_t (*read_fn)(void *arg, void *buf, size_t len), void *arg,
                                    struct berr *err);
/* registry_client_put_manifest that also says whether the registry answered OCI-Subject
 * (it keeps the Referrers API up to date for this manifest's subject). */
int registry_client_put_manifest_subject(struct registry_client *c, const char *reference, const char *body, size_t len,
                                         const char *media_type, const struct digest *d, bool *subject_acked,
                                         struct berr *err);
/* Every tag of the repository, following the Link header's pages (1000 a page, 100000 tags
 * at most). *tags is a heap array of heap strings; caller frees each and the array. */
int registry_client_list_tags(struct registry_client *c, char ***tags, size_t *ntags, struct berr *err);
/* Every repository of the registry's catalog (GET /v2/_catalog, all pages); same ownership. */
int registry_client_list_catalog(struct registry_client *c, char ***repos, size_t *nrepos, struct berr *err);
/* Skip TLS certificate checks (for a registry reached over loopback only). */
void registry_client_set_tls_verify(struct registry_client *c, bool verify);
/* GET the Referrers API index of manifest d: 1 with *body (heap, NUL-terminated), 0 when the
 * registry has no Referrers API (404 or an answer that is no OCI index), -1 on error. */
int registry_client_get_referrers(struct registry_client *c, const struct digest *d, char **body, size_t *len,
                                  struct berr *err);
/* Send the credential as Basic from the first request on, without waiting for a challenge
 * (for a registry that accepts Basic on every endpoint, and whose token realm must not be
 * asked). */
void registry_client_send_basic(struct registry_client *c);
/* The registry name the client was made for ("host:port"). */
const char *registry_client_registry(const struct registry_client *c);

#endif
