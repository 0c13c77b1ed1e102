/* berth push. The local record gives the image manifest; its config and layers are pushed
 * one by one: HEAD first (nothing to send when the registry has the blob), then a
 * cross-repository mount when another local name of the same image lives in another
 * repository of the same registry, else a monolithic upload (POST, then PUT ?digest=)
 * streamed from the blob file. The manifest goes last, byte for byte as stored. */
#include "client/push.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/credentials.h"
#include "client/image_index.h"
#include "client/progress.h"
#include "common/reference.h"
#include "common/registry_client.h"
#include "common/xalloc.h"

struct push_blob_progress {
	struct progress *progress;
	size_t item;
	double last_draw;
};

static double push_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push_on_bytes(void *arg, uint64_t sent)
{
	struct push_blob_progress *b = arg;
	progress_bytes(b->progress, b->item, sent);
	double now = push_now();
	if (now - b->last_draw >= 0.1) {
		b->last_draw = now;
		progress_draw(b->progress, false);
	}
}

/* A repository of the same registry where another local name of this image lives: the
 * registry may hold its blobs there, ready to mount. NULL if none; heap. */
static char *push_mount_source(struct store *s, const struct reference *ref, const struct digest *manifest)
{
	struct image_record *recs = NULL;
	size_t n = 0;
	struct berr ignored = {0};
	char *from = NULL;
	if (image_index_list(s, &recs, &n, &ignored) < 0)
		return NULL;
	for (size_t i = 0; i < n && !from; i++) {
		struct reference other;
		if (!digest_equal(&recs[i].manifest, manifest) || reference_parse(recs[i].name, &other, &ignored) < 0)
			continue;
		if (strcmp(other.registry, ref->registry) == 0 && strcmp(other.repository, ref->repository) != 0)
			from = xstrdup(other.repository);
		reference_free(&other);
	}
	image_records_free(recs, n);
	return from;
}

/* Get one blob to the registry unless it is there. */
static int push_blob(struct store *s, struct registry_client *c, const struct manifest_descriptor *d, const char *from,
                     struct progress *pr, size_t item, struct push_result *res, struct berr *err)
{
	int have = registry_client_head_blob(c, &d->digest, err);
	if (have < 0)
		return -1;
	if (have == 1) {
		res->present++;
		progress_state(pr, item, "Layer already exists", true);
		return 0;
	}
	cleanup_free char *location = NULL;
	int rc = from ? registry_client_mount_blob(c, &d->digest, from, &location, err)
	              : registry_client_start_upload(c, &location, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		res->mounted++;
		progress_state(pr, item, "Mounted", true);
		return 0;
	}
	cleanup_free char *path = store_blob_path(s, &d->digest);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "open %s", path);
	progress_state(pr, item, "Pushing", false);
	struct push_blob_progress b = {.progress = pr, .item = item};
	if (registry_client_put_blob(c, location, &d->digest, fd, (uint64_t)d->size, push_on_bytes, &b, err) < 0)
		return -1;
	res->uploaded++;
	progress_state(pr, item, "Pushed", true);
	return 0;
}

static int push_run(struct store *s, const struct reference *ref, const struct push_opts *o, struct push_result *res,
                    struct berr *err)
{
	struct image_record rec;
	int found = image_index_get(s, res->name, &rec, err);
	if (found < 0)
		return -1;
	if (found == 0)
		return berr_set(err, BERR_NAME_UNKNOWN, "no such local image: %s", res->name);
	struct image_info info = {0};
	cleanup_free char *body = NULL;
	size_t len = 0;
	int rc = image_info_load(s, &rec, &info, err);
	if (rc == 0)
		rc = store_blob_read(s, &rec.manifest, MANIFEST_MAX_SIZE, &body, &len, err);
	const struct manifest *m = &info.manifest;
	for (size_t i = 0; rc == 0 && i < m->ndescriptors; i++)
		if (!store_blob_exists(s, &m->descriptors[i].digest, m->descriptors[i].size))
			rc =
			    berr_set(err, BERR_BLOB_UNKNOWN, "blob %s is not in the local store (pull the image again)",
			             m->descriptors[i].digest.str);
	if (rc < 0) {
		image_info_free(&info);
		image_record_free(&rec);
		return -1;
	}
	/* Only the platform's manifest of a pulled index is here: push that image, as docker does. */
	if (!digest_equal(&rec.digest, &rec.manifest)) {
		res->single_of_index = true;
		snprintf(res->platform, sizeof res->platform, "%s", rec.platform ? rec.platform : "?");
	}
	res->digest = rec.manifest;
	res->size = len;

	struct credential cred;
	int have = credentials_get(ref->registry, &cred, err);
	cleanup_free char *from = have < 0 ? NULL : push_mount_source(s, ref, &rec.manifest);
	struct registry_client *c = NULL;
	if (have >= 0) {
		c = registry_client_new(ref->registry, ref->repository,
		                        registry_is_insecure(ref->registry, o->insecure, o->ninsecure),
		                        have ? &cred : NULL);
		if (registry_wants_tls_probe(ref->registry, o->insecure, o->ninsecure))
			registry_client_probe_tls(c);
		credential_free(&cred);
		cleanup_free char *scopes =
		    from ? xasprintf("repository:%s:pull,push repository:%s:pull", ref->repository, from)
		         : xasprintf("repository:%s:pull,push", ref->repository);
		registry_client_set_scopes(c, scopes);
	}
	rc = have < 0 ? -1 : 0;
	if (rc == 0 && !o->quiet)
		fprintf(o->out, "The push refers to repository [%s/%s]\n", ref->registry, ref->repository);
	struct progress *pr = progress_new(o->out, o->tty, o->quiet || !o->tty, m->ndescriptors);
	for (size_t i = 0; i < m->ndescriptors; i++)
		progress_item(pr, i, digest_hex(&m->descriptors[i].digest), (uint64_t)m->descriptors[i].size);
	for (size_t i = 0; rc == 0 && i < m->ndescriptors; i++) {
		bool dup = false; /* a layer listed twice is pushed once */
		for (size_t k = 0; k < i; k++)
			dup |= digest_equal(&m->descriptors[k].digest, &m->descriptors[i].digest);
		if (dup)
			progress_state(pr, i, "Layer already exists", true);
		else
			rc = push_blob(s, c, &m->descriptors[i], from, pr, i, res, err);
		progress_draw(pr, false);
	}
	progress_draw(pr, true);
	progress_free(pr);
	if (rc == 0) {
		const char *reference = ref->has_digest ? ref->digest.str : ref->tag;
		rc = registry_client_put_manifest(c, reference, body, len, m->media_type, &rec.manifest, err);
	}
	registry_client_free(c);
	image_info_free(&info);
	image_record_free(&rec);
	return rc;
}

int push_image(struct store *s, const char *ref_text, const struct push_opts *o, struct push_result *res,
               struct berr *err)
{
	memset(res, 0, sizeof *res);
	struct reference ref;
	if (reference_parse(ref_text, &ref, err) < 0)
		return -1;
	res->name = image_index_name(ref.registry, ref.repository, ref.tag, ref.has_digest ? &ref.digest : NULL);
	/* Shared: rmi's collection of unreferenced content waits until the push is done. */
	int rc = store_lock(s, false, true, err);
	if (rc == 0)
		rc = push_run(s, &ref, o, res, err);
	if (rc < 0)
		berr_prefix(err, "push %s", res->name);
	reference_free(&ref);
	return rc;
}

void push_result_free(struct push_result *res)
{
	free(res->name);
	res->name = NULL;
}
