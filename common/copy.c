/* The copy engine. A manifest is read from the source, its blobs (or its children, for an
 * index) are made present at the destination, and then its exact bytes are PUT there, so
 * the destination never holds a manifest whose content is missing. Blobs are HEADed first
 * (present: skipped), mounted when both repositories live on the same registry, else
 * streamed: a producer thread GETs the blob from the source and writes it into one end of a
 * socketpair (the kernel's bounded buffer); the PUT's read callback reads the other end,
 * hashes the bytes and aborts before the last byte when the digest does not match, so a
 * corrupt blob never completes at the destination. Nothing touches the local disk. */
#include "autoconfig.h"

#include "common/copy.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/manifest.h"
#include "common/registry_client.h"
#include "common/xalloc.h"

/* Manifests one copy may visit (an index's children, referrers and theirs). */
#define COPY_MANIFESTS_MAX 10000
/* Blob workers when the caller does not say. */
#define COPY_PARALLEL_DEFAULT 4
#define COPY_PARALLEL_MAX     32

/* One copy_image call: both clients and what was done. */
struct copy_job {
	struct registry_client *src;
	struct registry_client *dst;
	const char *src_repo;
	const char *dst_repo;
	bool same_registry; /* mounts are possible */
	const struct copy_opts *o;
	struct copy_stats *st;
	pthread_mutex_t lock; /* st and o->out, from the blob workers */
	struct digest *visited;
	size_t nvisited;
};

/* The caller asked to stop. */
static bool copy_stopped(const struct copy_job *j)
{
	return j->o->stop && __atomic_load_n(j->o->stop, __ATOMIC_RELAXED);
}

static struct registry_client *copy_client(const struct copy_side *side, const char *repo)
{
	struct registry_client *c = registry_client_new(side->registry, repo, side->plain_http, side->cred);
	if (side->tls_no_verify)
		registry_client_set_tls_verify(c, false);
	if (side->probe_tls)
		registry_client_probe_tls(c);
	if (side->basic_first)
		registry_client_send_basic(c);
	return c;
}

__attribute__((format(printf, 2, 3))) static void copy_say(struct copy_job *j, const char *fmt, ...)
{
	if (!j->o->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&j->lock);
	vfprintf(j->o->out, fmt, ap);
	fputc('\n', j->o->out);
	fflush(j->o->out);
	pthread_mutex_unlock(&j->lock);
	va_end(ap);
}

/* ---------------------------------------------------------------- streaming one blob */

/* The two ends of one blob's transfer. The producer owns fds[1], the consumer fds[0]. */
struct copy_stream {
	struct copy_job *job;
	const struct manifest_descriptor *d;
	int fds[2];
	/* producer */
	uint64_t received;
	struct berr src_err;
	int src_rc;
	/* consumer */
	struct digest_ctx *hash;
	uint64_t sent;
	bool starved; /* the producer ended before the last byte */
	bool mismatch;
	struct berr check_err;
};

static int copy_sink_begin(void *arg, uint64_t offset, struct berr *err)
{
	(void)arg;
	if (offset != 0)
		return berr_set(err, BERR_RANGE_INVALID, "the source answered a partial blob");
	return 0;
}

static int copy_sink_write(void *arg, const void *data, size_t len, struct berr *err)
{
	struct copy_stream *s = arg;
	if (s->received + len > (uint64_t)s->d->size)
		return berr_set(err, BERR_SIZE_INVALID, "blob %s: the source sent more than its %lld bytes",
		                s->d->digest.str, (long long)s->d->size);
	s->received += len;
	const char *p = data;
	while (len) {
		ssize_t n = send(s->fds[1], p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* the consumer gave up: its error is the one to report */
			return berr_sys(err, errno, "blob %s: pass the bytes on", s->d->digest.str);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *copy_producer(void *arg)
{
	struct copy_stream *s = arg;
	struct registry_blob_sink sink = {.begin = copy_sink_begin, .write = copy_sink_write, .arg = s};
	s->src_rc = registry_client_get_blob(s->job->src, &s->d->digest, 0, &sink, &s->src_err);
	if (s->src_rc == 0 && s->received != (uint64_t)s->d->size)
		s->src_rc = berr_set(&s->src_err, BERR_SIZE_INVALID, "blob %s: the source sent %llu of its %lld bytes",
		                     s->d->digest.str, (unsigned long long)s->received, (long long)s->d->size);
	/* EOF for the consumer: it has all the bytes, or it sees the source stopped short. */
	shutdown(s->fds[1], SHUT_WR);
	return NULL;
}

/* The PUT's body: bytes from the producer, hashed; the last ones are given to the
 * destination only when the digest matches. */
static ssize_t copy_consumer_read(void *arg, void *buf, size_t len)
{
	struct copy_stream *s = arg;
	uint64_t size = (uint64_t)s->d->size;
	if (len > size - s->sent)
		len = (size_t)(size - s->sent);
	if (len == 0)
		return 0;
	ssize_t n;
	do
		n = recv(s->fds[0], buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		s->starved = true; /* the producer stopped short; its error says why */
		return -1;
	}
	digest_ctx_update(s->hash, buf, (size_t)n);
	s->sent += (uint64_t)n;
	if (s->sent == size) {
		struct digest got;
		digest_ctx_final(s->hash, &got);
		if (!digest_equal(&got, &s->d->digest)) {
			s->mismatch = true;
			berr_set(&s->check_err, BERR_DIGEST_INVALID,
			         "blob %s: the source's bytes hash to %s (digest mismatch); nothing was stored",
			         s->d->digest.str, got.str);
			return -1;
		}
	}
	return n;
}

/* Stream blob d from the source into the upload session at location. */
static int copy_stream_blob(struct copy_job *j, const struct manifest_descriptor *d, const char *location,
                            struct berr *err)
{
	struct copy_stream s = {.job = j, .d = d, .fds = {-1, -1}};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.fds) < 0)
		return berr_sys(err, errno, "socketpair");
	s.hash = digest_ctx_new(d->digest.algo);
	pthread_t tid;
	int perr = pthread_create(&tid, NULL, copy_producer, &s);
	if (perr != 0) {
		close(s.fds[0]);
		close(s.fds[1]);
		digest_ctx_free(s.hash);
		return berr_sys(err, perr, "start a blob transfer");
	}
	struct berr put_err = {0};
	int rc = registry_client_put_blob_stream(j->dst, location, &d->digest, (uint64_t)d->size, copy_consumer_read,
	                                         &s, &put_err);
	/* Unblock a producer still writing (it gets EPIPE) and wait for it. */
	shutdown(s.fds[0], SHUT_RDWR);
	pthread_join(tid, NULL);
	close(s.fds[0]);
	close(s.fds[1]);
	digest_ctx_free(s.hash);
	/* Which side failed first: a producer that stopped short explains a failed PUT; a
	 * failed PUT explains a producer whose writes were refused. */
	if (s.mismatch)
		*err = s.check_err;
	else if (s.starved && s.src_rc < 0)
		*err = s.src_err;
	else if (rc < 0)
		*err = put_err;
	else if (s.src_rc < 0)
		*err = s.src_err;
	else
		return 0;
	return -1;
}

/* Make blob d present at the destination. */
static int copy_blob(struct copy_job *j, const struct manifest_descriptor *d, struct berr *err)
{
	int have = registry_client_head_blob(j->dst, &d->digest, err);
	if (have < 0)
		return -1;
	if (have == 1) {
		pthread_mutex_lock(&j->lock);
		j->st->blobs_present++;
		pthread_mutex_unlock(&j->lock);
		copy_say(j, "blob %s: already present", d->digest.str);
		return 0;
	}
	cleanup_free char *location = NULL;
	int rc = j->same_registry ? registry_client_mount_blob(j->dst, &d->digest, j->src_repo, &location, err)
	                          : registry_client_start_upload(j->dst, &location, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		pthread_mutex_lock(&j->lock);
		j->st->blobs_mounted++;
		pthread_mutex_unlock(&j->lock);
		copy_say(j, "blob %s: mounted from %s", d->digest.str, j->src_repo);
		return 0;
	}
	if (copy_stream_blob(j, d, location, err) < 0)
		return -1;
	pthread_mutex_lock(&j->lock);
	j->st->blobs_copied++;
	j->st->bytes += (uint64_t)d->size;
	pthread_mutex_unlock(&j->lock);
	copy_say(j, "blob %s: copied (%lld bytes)", d->digest.str, (long long)d->size);
	return 0;
}

/* Blob workers: each takes the next descriptor until none are left or one failed. */
struct copy_pool {
	struct copy_job *job;
	const struct manifest_descriptor **blobs;
	size_t n;
	size_t next;
	bool failed;
	struct berr err;
	pthread_mutex_t lock;
};

static void *copy_worker(void *arg)
{
	struct copy_pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (!p->failed && copy_stopped(p->job)) {
			berr_set(&p->err, BERR_UNAVAILABLE, "the copy was stopped");
			p->failed = true;
		}
		if (p->failed || p->next >= p->n) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		const struct manifest_descriptor *d = p->blobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		struct berr e = {0};
		if (copy_blob(p->job, d, &e) < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed)
				p->err = e;
			p->failed = true;
			pthread_mutex_unlock(&p->lock);
		}
	}
}

/* Copy the config and layers of image manifest m, several at once. */
static int copy_blobs(struct copy_job *j, const struct manifest *m, struct berr *err)
{
	struct copy_pool p = {.job = j};
	p.blobs = xcalloc(m->ndescriptors + 1, sizeof *p.blobs);
	for (size_t i = 0; i < m->ndescriptors; i++) {
		const struct manifest_descriptor *d = &m->descriptors[i];
		bool dup = false; /* a layer listed twice is copied once */
		for (size_t k = 0; k < p.n; k++)
			dup |= digest_equal(&p.blobs[k]->digest, &d->digest);
		/* Non-distributable layers live at their URLs, not in registries. */
		if (!dup && !d->foreign)
			p.blobs[p.n++] = d;
	}
	pthread_mutex_init(&p.lock, NULL);
	unsigned want = j->o->parallel ? j->o->parallel : COPY_PARALLEL_DEFAULT;
	if (want > COPY_PARALLEL_MAX)
		want = COPY_PARALLEL_MAX;
	if (want > p.n)
		want = (unsigned)p.n;
	pthread_t tids[COPY_PARALLEL_MAX];
	unsigned started = 0;
	for (; started < want; started++)
		if (pthread_create(&tids[started], NULL, copy_worker, &p) != 0)
			break;
	if (started == 0 && p.n > 0)
		copy_worker(&p); /* no thread could start: do the work here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&p.lock);
	free(p.blobs);
	if (p.failed) {
		*err = p.err;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- manifests and referrers */

static int copy_manifest(struct copy_job *j, const char *reference, const char *dst_reference, bool is_referrer,
                         struct digest *out, struct berr *err);

/* Update the destination's `sha256-<hex>` referrers tag (for a registry without the
 * Referrers API) so it lists every descriptor of add. src_body (may be NULL) is the
 * source's own tag index: written as is when the destination has none, keeping its digest. */
static int copy_fallback_tag(struct copy_job *j, const struct digest *subject, json_t *add, const char *src_body,
                             size_t src_len, struct berr *err)
{
	cleanup_free char *tag = xasprintf("%s-%s", digest_algo_name(subject->algo), digest_hex(subject));
	cleanup_free char *body = NULL, *ct = NULL;
	size_t len = 0;
	struct berr e2 = {0};
	json_t *have = NULL;
	if (registry_client_get_manifest(j->dst, tag, &body, &len, &ct, &e2) == 0)
		have = json_loadb(body, len, 0, NULL);
	else if (e2.code != BERR_MANIFEST_UNKNOWN) {
		*err = e2;
		return -1;
	}
	json_t *list = json_object_get(have, "manifests");
	if (have && !json_is_array(list)) {
		json_decref(have);
		return berr_set(err, BERR_MANIFEST_INVALID, "%s/%s:%s is no referrers index",
		                registry_client_registry(j->dst), j->dst_repo, tag);
	}
	int rc = 0;
	if (!have && src_body) {
		struct digest d;
		digest_buffer(DIGEST_SHA256, src_body, src_len, &d);
		rc = registry_client_put_manifest(j->dst, tag, src_body, src_len, MEDIATYPE_OCI_INDEX, &d, err);
	} else {
		if (!have) {
			have = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MEDIATYPE_OCI_INDEX,
			                 "manifests");
			list = json_object_get(have, "manifests");
		}
		bool changed = false;
		size_t i, k;
		json_t *a, *b;
		json_array_foreach(add, i, a)
		{
			const char *da = json_string_value(json_object_get(a, "digest"));
			bool found = false;
			json_array_foreach(list, k, b)
			{
				const char *db = json_string_value(json_object_get(b, "digest"));
				found |= da && db && strcmp(da, db) == 0;
			}
			if (!found && da) {
				json_array_append(list, a);
				changed = true;
			}
		}
		if (changed) {
			cleanup_free char *text = json_dumps(have, JSON_COMPACT);
			struct digest d;
			digest_buffer(DIGEST_SHA256, text, strlen(text), &d);
			rc =
			    registry_client_put_manifest(j->dst, tag, text, strlen(text), MEDIATYPE_OCI_INDEX, &d, err);
		}
	}
	json_decref(have);
	return rc;
}

/* Copy whatever refers to manifest subject: the source's Referrers API, else its
 * `sha256-<hex>` tag. */
static int copy_referrers(struct copy_job *j, const struct digest *subject, struct berr *err)
{
	cleanup_free char *body = NULL;
	size_t len = 0;
	int api = registry_client_get_referrers(j->src, subject, &body, &len, err);
	if (api < 0)
		return -1;
	cleanup_free char *tag = xasprintf("%s-%s", digest_algo_name(subject->algo), digest_hex(subject));
	if (api == 0) {
		cleanup_free char *ct = NULL;
		struct berr e2 = {0};
		if (registry_client_get_manifest(j->src, tag, &body, &len, &ct, &e2) < 0) {
			if (e2.code == BERR_MANIFEST_UNKNOWN)
				return 0;
			*err = e2;
			return -1;
		}
	}
	json_t *idx = json_loadb(body, len, 0, NULL);
	json_t *list = json_object_get(idx, "manifests");
	if (!json_is_array(list)) {
		json_decref(idx);
		return berr_set(err, BERR_MANIFEST_INVALID, "the referrers of %s at %s are no OCI index", subject->str,
		                registry_client_registry(j->src));
	}
	int rc = 0;
	bool all_acked = true;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		const char *ds = json_string_value(json_object_get(e, "digest"));
		struct digest d, got;
		if (!ds || digest_parse(ds, &d, NULL) < 0) {
			rc = berr_set(err, BERR_MANIFEST_INVALID, "a referrer of %s has no valid digest", subject->str);
			break;
		}
		/* A referrer the destination has (a manifest by digest never changes): skip it. */
		struct berr e2 = {0};
		if (registry_client_head_manifest(j->dst, d.str, &got, &e2) >= 0) {
			all_acked = false; /* unknown: ask the destination below */
			continue;
		}
		if (e2.code != BERR_MANIFEST_UNKNOWN) {
			*err = e2;
			rc = -1;
			break;
		}
		int c = copy_manifest(j, d.str, d.str, true, &got, err);
		if (c < 0) {
			rc = -1;
			break;
		}
		/* c == 2: the destination's answer named the subject (it has the Referrers API) */
		all_acked &= c == 2;
	}
	/* A destination without the Referrers API finds referrers by the tag schema. */
	if (rc == 0 && json_array_size(list) > 0 && !all_acked) {
		cleanup_free char *dst_body = NULL;
		size_t dst_len = 0;
		int dst_api = registry_client_get_referrers(j->dst, subject, &dst_body, &dst_len, err);
		if (dst_api < 0)
			rc = -1;
		else if (dst_api == 0)
			rc = copy_fallback_tag(j, subject, list, api == 0 ? body : NULL, len, err);
	}
	json_decref(idx);
	return rc;
}

/* Copy the manifest at reference (tag or digest) to dst_reference. Returns 0, or 2 when a
 * manifest with a subject was acknowledged by the destination's Referrers API; -1 on error.
 * *out gets its digest. A manifest already copied in this job is not copied again. */
static int copy_manifest(struct copy_job *j, const char *reference, const char *dst_reference, bool is_referrer,
                         struct digest *out, struct berr *err)
{
	cleanup_free char *body = NULL, *ct = NULL;
	size_t len = 0;
	if (copy_stopped(j))
		return berr_set(err, BERR_UNAVAILABLE, "the copy was stopped");
	if (registry_client_get_manifest(j->src, reference, &body, &len, &ct, err) < 0)
		return -1;
	struct digest want, got;
	bool by_digest = digest_parse(reference, &want, NULL) == 0;
	digest_buffer(by_digest ? want.algo : DIGEST_SHA256, body, len, &got);
	if (by_digest && !digest_equal(&want, &got))
		return berr_set(err, BERR_DIGEST_INVALID,
		                "manifest %s: the source's bytes hash to %s (digest mismatch)", want.str, got.str);
	*out = got;
	for (size_t i = 0; i < j->nvisited; i++)
		if (digest_equal(&j->visited[i], &got) && strcmp(dst_reference, reference) == 0)
			return 0;
	if (j->nvisited >= COPY_MANIFESTS_MAX)
		return berr_set(err, BERR_SIZE_INVALID, "more than %d manifests to copy", COPY_MANIFESTS_MAX);
	j->visited = xrealloc(j->visited, (j->nvisited + 1) * sizeof *j->visited);
	j->visited[j->nvisited++] = got;

	struct manifest m;
	if (manifest_parse(*ct ? ct : NULL, body, len, &m, err) < 0) {
		berr_prefix(err, "manifest %s at %s/%s", reference, registry_client_registry(j->src), j->src_repo);
		return -1;
	}
	int rc = 0;
	if (m.kind == MANIFEST_KIND_INDEX) {
		for (size_t i = 0; rc == 0 && i < m.ndescriptors; i++) {
			struct digest child;
			const struct digest *d = &m.descriptors[i].digest;
			rc = copy_manifest(j, d->str, d->str, false, &child, err) < 0 ? -1 : 0;
		}
	} else {
		rc = copy_blobs(j, &m, err);
	}
	bool acked = false;
	if (rc == 0)
		rc = registry_client_put_manifest_subject(j->dst, dst_reference, body, len, m.media_type, &got, &acked,
		                                          err);
	if (rc == 0) {
		pthread_mutex_lock(&j->lock);
		j->st->manifests++;
		if (is_referrer)
			j->st->referrers++;
		pthread_mutex_unlock(&j->lock);
		copy_say(j, "%s %s: copied%s", m.kind == MANIFEST_KIND_INDEX ? "index" : "manifest", got.str,
		         is_referrer ? " (referrer)" : "");
	}
	bool has_subject = m.has_subject;
	manifest_free(&m);
	if (rc == 0 && !j->o->no_referrers)
		rc = copy_referrers(j, &got, err);
	if (rc < 0)
		return -1;
	return has_subject && acked ? 2 : 0;
}

/* Set up j for a copy from src_repo at src to dst_repo at dst; free with copy_job_free. */
static void copy_job_init(struct copy_job *j, const struct copy_side *src, const char *src_repo,
                          const struct copy_side *dst, const char *dst_repo, const struct copy_opts *o,
                          struct copy_stats *st)
{
	*j = (struct copy_job){.src_repo = src_repo, .dst_repo = dst_repo, .o = o, .st = st};
	j->same_registry = strcmp(src->registry, dst->registry) == 0 && src->plain_http == dst->plain_http &&
	                   strcmp(src_repo, dst_repo) != 0;
	j->src = copy_client(src, src_repo);
	j->dst = copy_client(dst, dst_repo);
	cleanup_free char *scopes = j->same_registry
	                                ? xasprintf("repository:%s:pull,push repository:%s:pull", dst_repo, src_repo)
	                                : xasprintf("repository:%s:pull,push", dst_repo);
	registry_client_set_scopes(j->dst, scopes);
	pthread_mutex_init(&j->lock, NULL);
}

static void copy_job_free(struct copy_job *j)
{
	pthread_mutex_destroy(&j->lock);
	free(j->visited);
	registry_client_free(j->src);
	registry_client_free(j->dst);
}

int copy_image(const struct copy_side *src, const char *src_repo, const char *reference, const struct copy_side *dst,
               const char *dst_repo, const char *dst_reference, const struct copy_opts *o, struct copy_stats *st,
               struct digest *digest, struct berr *err)
{
	struct copy_job j;
	copy_job_init(&j, src, src_repo, dst, dst_repo, o, st);
	struct digest top;
	int rc = copy_manifest(&j, reference, dst_reference ? dst_reference : reference, false, &top, err);
	if (rc >= 0 && digest)
		*digest = top;
	copy_job_free(&j);
	return rc < 0 ? -1 : 0;
}

int copy_referrers_of(const struct copy_side *src, const char *src_repo, const struct digest *subject,
                      const struct copy_side *dst, const char *dst_repo, const struct copy_opts *o,
                      struct copy_stats *st, struct berr *err)
{
	if (o->no_referrers)
		return 0;
	struct copy_job j;
	copy_job_init(&j, src, src_repo, dst, dst_repo, o, st);
	int rc = copy_referrers(&j, subject, err);
	copy_job_free(&j);
	return rc;
}

int copy_resolve(const struct copy_side *side, const char *repo, const char *reference, struct digest *out,
                 struct berr *err)
{
	struct registry_client *c = copy_client(side, repo);
	struct berr e2 = {0};
	int rc = registry_client_head_manifest(c, reference, out, &e2);
	if (rc == 0) { /* no Docker-Content-Digest: hash the bytes */
		cleanup_free char *body = NULL, *ct = NULL;
		size_t len;
		rc = registry_client_get_manifest(c, reference, &body, &len, &ct, &e2);
		if (rc == 0) {
			digest_buffer(DIGEST_SHA256, body, len, out);
			rc = 1;
		}
	}
	registry_client_free(c);
	if (rc < 0 && e2.code == BERR_MANIFEST_UNKNOWN)
		return 0;
	if (rc < 0)
		*err = e2;
	return rc;
}

int copy_list_tags(const struct copy_side *side, const char *repo, char ***tags, size_t *n, struct berr *err)
{
	struct registry_client *c = copy_client(side, repo);
	int rc = registry_client_list_tags(c, tags, n, err);
	registry_client_free(c);
	return rc;
}

int copy_list_repositories(const struct copy_side *side, char ***repos, size_t *n, struct berr *err)
{
	struct registry_client *c = copy_client(side, NULL);
	registry_client_set_scopes(c, "registry:catalog:*");
	int rc = registry_client_list_catalog(c, repos, n, err);
	registry_client_free(c);
	return rc;
}

void copy_list_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}
