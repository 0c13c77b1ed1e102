/* Image records as one small JSON file per name, so two berth processes touching different
 * names never contend, and replacing one is a single atomic rename. */
#include "client/image_index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/reference.h"
#include "common/xalloc.h"

/* Largest record file read. */
#define IMAGE_RECORD_MAX (64 * 1024)

static char *image_index_path(struct store *s, const char *name)
{
	struct digest d;
	digest_buffer(DIGEST_SHA256, name, strlen(name), &d);
	return xasprintf("%s/images/%s.json", store_root(s), digest_hex(&d));
}

char *image_index_name(const char *registry, const char *repository, const char *tag, const struct digest *digest)
{
	if (digest)
		return xasprintf("%s/%s@%s", registry, repository, digest->str);
	return xasprintf("%s/%s:%s", registry, repository, tag ? tag : "latest");
}

int image_index_put(struct store *s, const struct image_record *r, struct berr *err)
{
	cleanup_free char *path = image_index_path(s, r->name);
	cleanup_free char *tmp = xasprintf("%s.pid-%ld", path, (long)getpid());
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", r->name, "digest", r->digest.str, "manifest",
	                      r->manifest.str, "config", r->config.str, "platform", r->platform ? r->platform : "");
	cleanup_free char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berr_sys(err, errno, "create %s", tmp);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return berr_sys(err, e, "write %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return berr_sys(err, e, "rename %s", tmp);
	}
	cleanup_free char *dir = xasprintf("%s/images", store_root(s));
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

/* Read one record file; returns 1 (filled), 0 (absent) or -1. */
static int image_index_read(const char *path, struct image_record *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : berr_sys(err, errno, "open %s", path);
	char buf[IMAGE_RECORD_MAX];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0)
		return berr_sys(err, errno, "read %s", path);
	json_error_t jerr;
	json_t *o = json_loadb(buf, (size_t)n, 0, &jerr);
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *dg = json_string_value(json_object_get(o, "digest"));
	const char *man = json_string_value(json_object_get(o, "manifest"));
	const char *cfg = json_string_value(json_object_get(o, "config"));
	const char *plat = json_string_value(json_object_get(o, "platform"));
	if (!name || !dg || !man || !cfg || digest_parse(dg, &out->digest, NULL) < 0 ||
	    digest_parse(man, &out->manifest, NULL) < 0 || digest_parse(cfg, &out->config, NULL) < 0) {
		json_decref(o);
		return berr_set(err, BERR_INTERNAL, "%s is not a valid image record", path);
	}
	out->name = xstrdup(name);
	out->platform = xstrdup(plat ? plat : "");
	json_decref(o);
	return 1;
}

int image_index_get(struct store *s, const char *name, struct image_record *out, struct berr *err)
{
	cleanup_free char *path = image_index_path(s, name);
	int rc = image_index_read(path, out, err);
	if (rc == 1 && strcmp(out->name, name) != 0) {
		image_record_free(out);
		return 0;
	}
	return rc;
}

int image_index_delete(struct store *s, const char *name, struct berr *err)
{
	cleanup_free char *path = image_index_path(s, name);
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : berr_sys(err, errno, "unlink %s", path);
	cleanup_free char *dir = xasprintf("%s/images", store_root(s));
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 1;
}

static int image_record_cmp(const void *a, const void *b)
{
	return strcmp(((const struct image_record *)a)->name, ((const struct image_record *)b)->name);
}

int image_index_list(struct store *s, struct image_record **out, size_t *n, struct berr *err)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	cleanup_free char *dir = xasprintf("%s/images", store_root(s));
	DIR *d = opendir(dir);
	if (!d)
		return berr_sys(err, errno, "opendir %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len != 64 + 5 || strcmp(e->d_name + 64, ".json") != 0)
			continue;
		cleanup_free char *path = xasprintf("%s/%s", dir, e->d_name);
		struct image_record r;
		if (image_index_read(path, &r, NULL) != 1)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		(*out)[(*n)++] = r;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof **out, image_record_cmp);
	return 0;
}

/* True if s is a plausible image ID or prefix: [sha256:]hex{4,64}. */
static bool image_index_is_id(const char *s)
{
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	size_t n = strspn(s, "0123456789abcdef");
	return n >= 4 && n <= 64 && s[n] == '\0';
}

int image_index_resolve(struct store *s, const char *text, struct image_record *out, bool *by_id, struct berr *err)
{
	if (by_id)
		*by_id = false;
	struct reference ref;
	struct berr perr = {0};
	if (reference_parse(text, &ref, &perr) == 0) {
		cleanup_free char *name =
		    image_index_name(ref.registry, ref.repository, ref.tag, ref.has_digest ? &ref.digest : NULL);
		reference_free(&ref);
		int rc = image_index_get(s, name, out, err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		/* A hex string is also a valid repository name: fall through to IDs. */
		if (!image_index_is_id(text))
			return berr_set(err, BERR_NAME_UNKNOWN, "no such image: %s", name);
	} else if (!image_index_is_id(text)) {
		return berr_set(err, perr.code, "%s", perr.message);
	}
	/* An image ID or a prefix of one. */
	const char *hex = strncmp(text, "sha256:", 7) == 0 ? text + 7 : text;
	struct image_record *all;
	size_t n;
	if (image_index_list(s, &all, &n, err) < 0)
		return -1;
	long found = -1;
	for (size_t i = 0; i < n; i++) {
		if (all[i].config.algo != DIGEST_SHA256 || strncmp(digest_hex(&all[i].config), hex, strlen(hex)) != 0)
			continue;
		if (found >= 0 && !digest_equal(&all[found].config, &all[i].config)) {
			image_records_free(all, n);
			return berr_set(err, BERR_NAME_INVALID, "image ID prefix %s is ambiguous", text);
		}
		if (found < 0)
			found = (long)i;
	}
	if (found < 0) {
		image_records_free(all, n);
		return berr_set(err, BERR_NAME_UNKNOWN, "no such image: %s", text);
	}
	if (by_id)
		*by_id = true;
	*out = all[found];
	memset(&all[found], 0, sizeof all[found]);
	image_records_free(all, n);
	return 0;
}

void image_record_free(struct image_record *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->platform);
	r->name = r->platform = NULL;
}

void image_records_free(struct image_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_record_free(&r[i]);
	free(r);
}

int image_config_parse(const char *data, size_t len, size_t nlayers, struct image_info *info, struct berr *err)
{
	json_error_t jerr;
	json_t *cfg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return berr_set(err, BERR_MANIFEST_INVALID, "image config is not a JSON object: %s", jerr.text);
	}
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != nlayers) {
		json_decref(cfg);
		return berr_set(err, BERR_MANIFEST_INVALID,
		                "image config lists %zu layer DiffIDs (rootfs.diff_ids), the manifest %zu layers",
		                json_is_array(ids) ? json_array_size(ids) : 0, nlayers);
	}
	struct digest *diffids = xcalloc(nlayers ? nlayers : 1, sizeof *diffids);
	for (size_t i = 0; i < nlayers; i++) {
		const char *v = json_string_value(json_array_get(ids, i));
		struct berr derr = {0};
		if (!v || digest_parse(v, &diffids[i], &derr) < 0) {
			free(diffids);
			json_decref(cfg);
			return berr_set(err, BERR_MANIFEST_INVALID, "image config: DiffID %zu is not a valid digest",
			                i);
		}
	}
	info->config = cfg;
	info->diffids = diffids;
	info->nlayers = nlayers;
	return 0;
}

int image_manifest_parse(const char *content_type, const char *body, size_t len, struct manifest *out, struct berr *err)
{
	if (content_type && manifest_media_type_known(content_type))
		return manifest_parse(content_type, body, len, out, err);
	json_t *o = json_loadb(body, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(o, "mediaType"));
	const char *inferred = mt                                ? NULL
	                       : json_object_get(o, "manifests") ? MEDIATYPE_OCI_INDEX
	                       : json_object_get(o, "config")    ? MEDIATYPE_OCI_MANIFEST
	                                                         : NULL;
	json_decref(o);
	return manifest_parse(inferred, body, len, out, err);
}

int image_info_load(struct store *s, const struct image_record *r, struct image_info *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	cleanup_free char *mbody = NULL, *cbody = NULL;
	size_t mlen, clen;
	if (store_blob_read(s, &r->manifest, MANIFEST_MAX_SIZE, &mbody, &mlen, err) < 0)
		return -1;
	if (image_manifest_parse(NULL, mbody, mlen, &out->manifest, err) < 0)
		return -1;
	if (out->manifest.kind != MANIFEST_KIND_IMAGE) {
		manifest_free(&out->manifest);
		return berr_set(err, BERR_MANIFEST_INVALID, "%s: manifest %s is not an image manifest", r->name,
		                r->manifest.str);
	}
	size_t nlayers = 0;
	out->size = 0;
	for (size_t i = 0; i < out->manifest.ndescriptors; i++) {
		out->size += out->manifest.descriptors[i].size;
		nlayers += out->manifest.descriptors[i].kind == MANIFEST_REF_LAYER;
	}
	if (store_blob_read(s, &r->config, IMAGE_CONFIG_MAX, &cbody, &clen, err) < 0 ||
	    image_config_parse(cbody, clen, nlayers, out, err) < 0) {
		manifest_free(&out->manifest);
		return -1;
	}
	return 0;
}

void image_info_free(struct image_info *info)
{
	if (!info)
		return;
	manifest_free(&info->manifest);
	json_decref(info->config);
	free(info->diffids);
	memset(info, 0, sizeof *info);
}

static bool image_digest_in(const struct digest *d, const struct digest *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (digest_equal(d, &set[i]))
			return true;
	return false;
}

/* Append d to a growable digest array. */
static void image_digest_push(struct digest **set, size_t *n, size_t *cap, const struct digest *d)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*set = xrealloc(*set, *cap * sizeof **set);
	}
	(*set)[(*n)++] = *d;
}

int image_index_gc(struct store *s, size_t *removed, struct berr *err)
{
	*removed = 0;
	int lk = store_lock(s, true, false, err);
	if (lk != 0)
		return lk;
	struct image_record *recs;
	size_t nrecs;
	if (image_index_list(s, &recs, &nrecs, err) < 0)
		return -1;
	cleanup_free struct digest *blobs = NULL, *layers = NULL;
	size_t nb = 0, cb = 0, nl = 0, cl = 0;
	for (size_t i = 0; i < nrecs; i++) {
		struct image_info info;
		image_digest_push(&blobs, &nb, &cb, &recs[i].digest);
		image_digest_push(&blobs, &nb, &cb, &recs[i].manifest);
		image_digest_push(&blobs, &nb, &cb, &recs[i].config);
		/* A record whose content cannot be read keeps nothing else alive, but must not
		 * make the collection fail either: the next pull of it restores the content. */
		if (image_info_load(s, &recs[i], &info, NULL) < 0)
			continue;
		for (size_t j = 0; j < info.manifest.ndescriptors; j++)
			image_digest_push(&blobs, &nb, &cb, &info.manifest.descriptors[j].digest);
		for (size_t j = 0; j < info.nlayers; j++)
			image_digest_push(&layers, &nl, &cl, &info.diffids[j]);
		image_info_free(&info);
	}
	image_records_free(recs, nrecs);

	cleanup_free struct digest *have = NULL;
	size_t nhave;
	if (store_list(s, STORE_BLOB, &have, &nhave, err) < 0)
		return -1;
	for (size_t i = 0; i < nhave; i++)
		if (!image_digest_in(&have[i], blobs, nb) && store_remove(s, STORE_BLOB, &have[i], err) == 0)
			(*removed)++;
	free(have);
	have = NULL;
	if (store_list(s, STORE_LAYER, &have, &nhave, err) < 0)
		return -1;
	for (size_t i = 0; i < nhave; i++)
		if (!image_digest_in(&have[i], layers, nl) && store_remove(s, STORE_LAYER, &have[i], err) == 0)
			(*removed)++;
	return 0;
}
