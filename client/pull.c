/* berth pull. The manifest is resolved first (HEAD, so an unchanged tag costs no GET and
 * a digest already stored costs nothing), then the config, then the layers: worker threads
 * take layers in turn, download each blob into the store (hashed and size-checked while it
 * streams, resumed with Range after an interruption) and unpack it into its DiffID
 * directory. The name is recorded only once everything is in place. */
#include "client/pull.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/credentials.h"
#include "client/image_index.h"
#include "client/progress.h"
#include "client/unpack.h"
#include "common/reference.h"
#include "common/registry_client.h"
#include "common/xalloc.h"

#define PULL_PARALLEL_DEFAULT 3
#define PULL_RETRIES          3
#define PULL_NO_ITEM          ((size_t)-1)

struct pull_job {
	const struct manifest_descriptor *desc;
	struct digest diffid;
	size_t item;
};

struct pull {
	struct store *store;
	struct registry_client *client;
	const struct pull_opts *o;
	struct progress *progress;
	struct pull_job *jobs;
	size_t njobs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t next, running;
	bool failed; /* read without the lock by downloads, to stop early */
	struct berr err;
	size_t fetched;
};

struct pull_sink {
	struct pull *p;
	struct store_writer *w;
	size_t item;
};

static int pull_sink_begin(void *arg, uint64_t offset, struct berr *err)
{
	struct pull_sink *k = arg;
	if (offset == 0 && store_writer_offset(k->w) > 0 && store_writer_restart(k->w, err) < 0)
		return -1;
	if (k->item != PULL_NO_ITEM)
		progress_bytes(k->p->progress, k->item, store_writer_offset(k->w));
	return 0;
}

static int pull_sink_write(void *arg, const void *data, size_t len, struct berr *err)
{
	struct pull_sink *k = arg;
	if (__atomic_load_n(&k->p->failed, __ATOMIC_RELAXED))
		return berr_set(err, BERR_INTERNAL, "stopped: another layer failed");
	if (store_writer_write(k->w, data, len, err) < 0)
		return -1;
	if (k->item != PULL_NO_ITEM)
		progress_bytes(k->p->progress, k->item, store_writer_offset(k->w));
	return 0;
}

/* Download a blob into the store unless it is there. Network failures are retried,
 * resuming where the previous attempt stopped. */
static int pull_fetch_blob(struct pull *p, const struct digest *d, int64_t size, size_t item, struct berr *err)
{
	if (store_blob_exists(p->store, d, size))
		return 0;
	for (int attempt = 1;; attempt++) {
		struct store_writer *w = store_writer_open(p->store, d, size, err);
		if (!w)
			return -1;
		struct pull_sink k = {.p = p, .w = w, .item = item};
		struct registry_blob_sink sink = {.begin = pull_sink_begin, .write = pull_sink_write, .arg = &k};
		int rc = 0;
		if (item != PULL_NO_ITEM)
			progress_state(p->progress, item, "Downloading", false);
		if (store_writer_offset(w) < (uint64_t)size)
			rc = registry_client_get_blob(p->client, d, store_writer_offset(w), &sink, err);
		if (rc == 0)
			rc = store_writer_commit(w, err);
		bool transient = rc < 0 && err->code == BERR_UNAVAILABLE;
		store_writer_close(w, transient);
		if (rc == 0)
			return 0;
		if (!transient || attempt == PULL_RETRIES || __atomic_load_n(&p->failed, __ATOMIC_RELAXED))
			return -1;
		sleep((unsigned)attempt);
	}
}

static bool pull_layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	    "application/vnd.docker.image.rootfs.diff.tar",
	};
	for (size_t i = 0; mt && i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(mt, ok[i]) == 0)
			return true;
	return false;
}

static int pull_layer(struct pull *p, struct pull_job *j, struct berr *err)
{
	if (store_layer_exists(p->store, &j->diffid)) {
		progress_state(p->progress, j->item, "Already exists", true);
		return 0;
	}
	if (pull_fetch_blob(p, &j->desc->digest, j->desc->size, j->item, err) < 0)
		return -1;
	progress_state(p->progress, j->item, "Extracting", false);
	cleanup_free char *blob = store_blob_path(p->store, &j->desc->digest);
	cleanup_close int fd = open(blob, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "open %s", blob);
	char *tmp = NULL;
	if (store_layer_begin(p->store, &j->diffid, &tmp, err) < 0)
		return -1;
	int rc = unpack_layer(fd, &j->diffid, tmp, NULL, err);
	if (rc == 0)
		rc = store_layer_commit(p->store, tmp, &j->diffid, err);
	else
		store_layer_abort(p->store, tmp);
	free(tmp);
	if (rc == 0) {
		pthread_mutex_lock(&p->lock);
		p->fetched++;
		pthread_mutex_unlock(&p->lock);
		progress_state(p->progress, j->item, "Pull complete", true);
	}
	return rc;
}

static void *pull_worker(void *arg)
{
	struct pull *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->failed || p->next == p->njobs) {
			p->running--;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		struct pull_job *j = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		struct berr err = {0};
		if (pull_layer(p, j, &err) < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed) {
				p->err = err;
				__atomic_store_n(&p->failed, true, __ATOMIC_RELAXED);
			}
			pthread_mutex_unlock(&p->lock);
		}
	}
}

/* Run the layer jobs on worker threads while the main thread redraws the progress. */
static int pull_layers(struct pull *p, struct berr *err)
{
	size_t nthreads = p->o->parallel ? p->o->parallel : PULL_PARALLEL_DEFAULT;
	if (nthreads > p->njobs)
		nthreads = p->njobs;
	pthread_t *threads = xcalloc(nthreads ? nthreads : 1, sizeof *threads);
	size_t started = 0;
	pthread_mutex_lock(&p->lock);
	p->running = nthreads;
	pthread_mutex_unlock(&p->lock);
	for (; started < nthreads; started++) {
		if (pthread_create(&threads[started], NULL, pull_worker, p) != 0) {
			pthread_mutex_lock(&p->lock);
			p->running -= nthreads - started;
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
	if (started == 0 && p->njobs > 0) {
		free(threads);
		return berr_set(err, BERR_INTERNAL, "cannot start download threads");
	}
	pthread_mutex_lock(&p->lock);
	while (p->running > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000)
			ts.tv_sec++, ts.tv_nsec -= 1000000000;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		pthread_mutex_unlock(&p->lock);
		progress_draw(p->progress, false);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	progress_draw(p->progress, true);
	if (p->failed) {
		*err = p->err;
		return -1;
	}
	return 0;
}

/* Get the manifest named by reference (a tag or a digest) into the store and parse it.
 * want, when given, is the digest it must have. *out_digest gets its digest. */
static int pull_manifest(struct pull *p, const char *reference, const struct digest *want, struct digest *out_digest,
                         struct manifest *m, struct berr *err)
{
	struct digest head;
	if (!want) {
		int rc = registry_client_head_manifest(p->client, reference, &head, err);
		if (rc < 0)
			return -1;
		if (rc == 1 && store_blob_exists(p->store, &head, -1))
			want = &head;
	}
	if (want && store_blob_exists(p->store, want, -1)) {
		cleanup_free char *body = NULL;
		size_t len;
		if (store_blob_read(p->store, want, MANIFEST_MAX_SIZE, &body, &len, err) < 0)
			return -1;
		*out_digest = *want;
		return image_manifest_parse(NULL, body, len, m, err);
	}
	cleanup_free char *body = NULL, *ct = NULL;
	size_t len;
	if (registry_client_get_manifest(p->client, reference, &body, &len, &ct, err) < 0)
		return -1;
	digest_buffer(want ? want->algo : DIGEST_SHA256, body, len, out_digest);
	if (want && !digest_equal(out_digest, want))
		return berr_set(err, BERR_DIGEST_INVALID, "manifest %s: the registry sent content with digest %s",
		                want->str, out_digest->str);
	if (image_manifest_parse(ct, body, len, m, err) < 0)
		return -1;
	if (store_blob_put(p->store, out_digest, body, len, err) < 0) {
		manifest_free(m);
		return -1;
	}
	return 0;
}

/* "linux/amd64, linux/arm64/v8" of an index's entries, for the no-match message. */
static char *pull_platforms_listed(const struct manifest *m)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < m->ndescriptors; i++) {
		const struct manifest_descriptor *d = &m->descriptors[i];
		if (d->kind != MANIFEST_REF_CHILD || !d->platform_os)
			continue;
		char *n = xasprintf("%s%s%s/%s%s%s", s, *s ? ", " : "", d->platform_os,
		                    d->platform_architecture ? d->platform_architecture : "?",
		                    d->platform_variant ? "/" : "", d->platform_variant ? d->platform_variant : "");
		free(s);
		s = n;
	}
	return s;
}

/* From the top manifest to the image manifest for the wanted platform. */
static int pull_resolve(struct pull *p, const struct reference *ref, const struct platform *plat, struct digest *top,
                        struct digest *image, struct manifest *m, char *platstr, size_t platlen, struct berr *err)
{
	const char *reference = ref->has_digest ? ref->digest.str : ref->tag;
	if (pull_manifest(p, reference, ref->has_digest ? &ref->digest : NULL, top, m, err) < 0)
		return -1;
	*image = *top;
	platform_format(plat, platstr, platlen);
	if (m->kind == MANIFEST_KIND_IMAGE)
		return 0;
	long i = platform_select(m, plat);
	if (i < 0) {
		cleanup_free char *listed = pull_platforms_listed(m);
		manifest_free(m);
		return berr_set(err, BERR_MANIFEST_UNKNOWN, "no image for platform %s in %s (it has: %s)", platstr,
		                reference, *listed ? listed : "none");
	}
	struct digest child = m->descriptors[i].digest;
	const struct manifest_descriptor *d = &m->descriptors[i];
	snprintf(platstr, platlen, "%s/%s%s%s", d->platform_os, d->platform_architecture,
	         d->platform_variant ? "/" : "", d->platform_variant ? d->platform_variant : "");
	manifest_free(m);
	if (pull_manifest(p, child.str, &child, image, m, err) < 0)
		return -1;
	if (m->kind != MANIFEST_KIND_IMAGE) {
		manifest_free(m);
		return berr_set(err, BERR_MANIFEST_INVALID, "%s: the index entry for %s is not an image manifest",
		                reference, platstr);
	}
	return 0;
}

/* Fetch and parse the config; set up one job per distinct layer. */
static int pull_prepare(struct pull *p, const struct manifest *m, struct image_info *info, struct berr *err)
{
	const struct manifest_descriptor *cfg = &m->descriptors[0];
	if (m->ndescriptors == 0 || cfg->kind != MANIFEST_REF_CONFIG)
		return berr_set(err, BERR_MANIFEST_INVALID, "the image manifest has no config");
	if (pull_fetch_blob(p, &cfg->digest, cfg->size, PULL_NO_ITEM, err) < 0)
		return -1;
	cleanup_free char *body = NULL;
	size_t len;
	if (store_blob_read(p->store, &cfg->digest, IMAGE_CONFIG_MAX, &body, &len, err) < 0 ||
	    image_config_parse(body, len, m->ndescriptors - 1, info, err) < 0)
		return -1;
	p->jobs = xcalloc(m->ndescriptors, sizeof *p->jobs);
	for (size_t i = 1; i < m->ndescriptors; i++) {
		const struct manifest_descriptor *d = &m->descriptors[i];
		if (!pull_layer_type_ok(d->media_type))
			return berr_set(err, BERR_UNSUPPORTED, "layer %s has unsupported media type %s", d->digest.str,
			                d->media_type ? d->media_type : "(none)");
		bool dup = false;
		for (size_t k = 0; k < p->njobs; k++)
			dup |= digest_equal(&p->jobs[k].diffid, &info->diffids[i - 1]);
		if (!dup)
			p->jobs[p->njobs++] = (struct pull_job){.desc = d, .diffid = info->diffids[i - 1]};
	}
	p->progress = progress_new(p->o->out, p->o->tty, p->o->quiet, p->njobs);
	for (size_t k = 0; k < p->njobs; k++) {
		p->jobs[k].item = k;
		progress_item(p->progress, k, digest_hex(&p->jobs[k].desc->digest), (uint64_t)p->jobs[k].desc->size);
	}
	return 0;
}

static int pull_run(struct pull *p, const struct reference *ref, struct pull_result *res, struct berr *err)
{
	struct platform host;
	const struct platform *plat = p->o->platform;
	if (!plat) {
		platform_host(&host);
		plat = &host;
	}
	struct image_record old = {0};
	int had = image_index_get(p->store, res->name, &old, err);
	if (had < 0)
		return -1;
	struct manifest m;
	struct image_record rec = {.name = res->name};
	char platstr[3 * PLATFORM_FIELD_MAX + 4];
	if (!p->o->quiet)
		fprintf(p->o->out, "Pulling %s\n", res->name);
	if (pull_resolve(p, ref, plat, &rec.digest, &rec.manifest, &m, platstr, sizeof platstr, err) < 0) {
		image_record_free(&old);
		return -1;
	}
	struct image_info info = {0};
	int rc = pull_prepare(p, &m, &info, err);
	if (rc == 0)
		rc = pull_layers(p, err);
	if (rc == 0) {
		rec.config = m.descriptors[0].digest;
		rec.platform = platstr;
		rc = image_index_put(p->store, &rec, err);
	}
	if (rc == 0) {
		res->digest = rec.digest;
		res->layers = m.ndescriptors - 1;
		res->layers_fetched = p->fetched;
		res->changed = had != 1 || !digest_equal(&old.manifest, &rec.manifest);
	}
	image_info_free(&info);
	manifest_free(&m);
	image_record_free(&old);
	return rc;
}

int pull_image(struct store *s, const char *ref_text, const struct pull_opts *o, struct pull_result *res,
               struct berr *err)
{
	memset(res, 0, sizeof *res);
	struct reference ref;
	if (reference_parse(ref_text, &ref, err) < 0)
		return -1;
	/* A tag next to a digest is only a label: the digest is what is pulled. */
	res->name = image_index_name(ref.registry, ref.repository, ref.tag, ref.has_digest ? &ref.digest : NULL);
	if (store_lock(s, false, true, err) < 0) {
		reference_free(&ref);
		return -1;
	}
	struct credential cred;
	int have = credentials_get(ref.registry, &cred, err);
	if (have < 0) {
		reference_free(&ref);
		return -1;
	}
	struct pull p = {.store = s, .o = o};
	p.client =
	    registry_client_new(ref.registry, ref.repository,
	                        registry_is_insecure(ref.registry, o->insecure, o->ninsecure), have ? &cred : NULL);
	if (registry_wants_tls_probe(ref.registry, o->insecure, o->ninsecure))
		registry_client_probe_tls(p.client);
	credential_free(&cred);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	int rc = pull_run(&p, &ref, res, err);
	if (rc < 0)
		berr_prefix(err, "pull %s", res->name);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	progress_free(p.progress);
	free(p.jobs);
	registry_client_free(p.client);
	reference_free(&ref);
	return rc;
}

void pull_result_free(struct pull_result *res)
{
	free(res->name);
	res->name = NULL;
}
