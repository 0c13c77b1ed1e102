/* /api/v1/repositories/{name}/manifests/{reference}: one manifest as the web UI's tag page
 * shows it. For an index, each platform's manifest with its compressed size; for an image,
 * its layers with the history step that made each, its config (entrypoint, command,
 * environment, ports, labels...), annotations and referrers; the raw manifest always. Also
 * the platforms of a tag for the tag list. Config blobs are read with a size cap: they are
 * small JSON documents, and one that is not is reported as such, never loaded whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/manifest.h"
#include "common/xalloc.h"
#include "server/api_v1.h"
#include "server/registry.h"
#include "storage/blobstore.h"

/* Largest image config read (Docker Hub's biggest real ones are far below this). */
#define API_V1_CONFIG_MAX (1024 * 1024)
/* Most child manifests of an index looked into for one answer. */
#define API_V1_CHILDREN_MAX 64

/* The config blob d parsed, or NULL (with *why set) when it is missing, too large or not a
 * JSON object. Returns a new reference. */
static json_t *api_v1_config_load(struct req *r, const struct digest *d, const char **why)
{
	struct blob_reader br;
	struct berr e2;
	*why = NULL;
	if (blobstore_open_read(r->reg->blobs, d, &br, &e2) < 0) {
		*why = "the config blob is not stored";
		return NULL;
	}
	if (br.size > API_V1_CONFIG_MAX) {
		blob_reader_close(&br);
		*why = "the config is larger than 1 MiB";
		return NULL;
	}
	cleanup_free char *buf = xmalloc(br.size + 1);
	size_t got = 0;
	while (got < br.size) {
		ssize_t n = blob_reader_read(&br, buf + got, br.size - got, &e2);
		if (n <= 0) {
			blob_reader_close(&br);
			*why = "the config blob could not be read";
			return NULL;
		}
		got += (size_t)n;
	}
	blob_reader_close(&br);
	json_t *doc = json_loadb(buf, got, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		*why = "the config is not a JSON object";
		return NULL;
	}
	return doc;
}

/* "os/architecture[/variant]" of a config or a platform object; NULL without an os. */
static char *api_v1_platform_string(json_t *obj)
{
	const char *os = json_string_value(json_object_get(obj, "os"));
	const char *arch = json_string_value(json_object_get(obj, "architecture"));
	const char *variant = json_string_value(json_object_get(obj, "variant"));
	if (!os || !*os)
		return NULL;
	return xasprintf("%s/%s%s%s", os, arch ? arch : "unknown", variant && *variant ? "/" : "",
	                 variant && *variant ? variant : "");
}

/* Attestation manifests that buildx puts in an index are no platform one could pull. */
static bool api_v1_platform_real(const struct manifest_descriptor *d)
{
	return d->platform_os && strcmp(d->platform_os, "unknown") != 0;
}

/* The manifest reference of repo_id (tag or digest), parsed; content stays in mm. */
static int api_v1_manifest_load(struct req *r, int64_t repo_id, const char *reference, struct meta_manifest *mm,
                                struct manifest *mf, struct berr *err)
{
	bool is_digest = strchr(reference, ':') != NULL;
	struct digest d;
	if (is_digest && digest_parse(reference, &d, err) < 0)
		return -1;
	if (!is_digest && reference_check_tag(reference, strlen(reference), err) < 0)
		return -1;
	if (meta_manifest_get(r->meta, repo_id, is_digest ? d.str : reference, is_digest, true, mm, err) < 0)
		return -1;
	if (manifest_parse(mm->media_type, mm->content, mm->size, mf, err) < 0) {
		free(mm->content);
		mm->content = NULL;
		return -1;
	}
	return 0;
}

json_t *api_v1_manifest_platforms(struct req *r, int64_t repo_id, const char *digest)
{
	json_t *list = json_array();
	struct meta_manifest mm;
	struct manifest mf;
	struct berr e2;
	if (api_v1_manifest_load(r, repo_id, digest, &mm, &mf, &e2) < 0)
		return list;
	if (mf.kind == MANIFEST_KIND_INDEX) {
		for (size_t i = 0; i < mf.ndescriptors; i++) {
			const struct manifest_descriptor *c = &mf.descriptors[i];
			if (!api_v1_platform_real(c))
				continue;
			cleanup_free char *p =
			    xasprintf("%s/%s%s%s", c->platform_os,
			              c->platform_architecture ? c->platform_architecture : "unknown",
			              c->platform_variant ? "/" : "", c->platform_variant ? c->platform_variant : "");
			json_array_append_new(list, api_v1_string(p));
		}
	} else if (mf.ndescriptors > 0 && mf.descriptors[0].kind == MANIFEST_REF_CONFIG) {
		const char *why;
		json_t *config = api_v1_config_load(r, &mf.descriptors[0].digest, &why);
		cleanup_free char *p = config ? api_v1_platform_string(config) : NULL;
		if (p)
			json_array_append_new(list, api_v1_string(p));
		json_decref(config);
	}
	manifest_free(&mf);
	free(mm.content);
	return list;
}

static json_t *api_v1_descriptor_json(const struct manifest_descriptor *d)
{
	return json_pack("{s:s,s:o,s:I}", "digest", d->digest.str, "media_type", api_v1_string(d->media_type), "size",
	                 (json_int_t)d->size);
}

/* Copy key of src into dst as name when it has JSON type `want` (a config is whatever a
 * client pushed: a wrong type becomes null, so readers can rely on the documented types);
 * arrays keep only their string elements. */
static void api_v1_copy(json_t *dst, const char *name, json_t *src, const char *key, json_type want)
{
	json_t *v = src ? json_object_get(src, key) : NULL;
	if (!v || json_typeof(v) != want) {
		json_object_set_new(dst, name, json_null());
		return;
	}
	if (want != JSON_ARRAY) {
		json_object_set(dst, name, v);
		return;
	}
	json_t *strings = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) if (json_is_string(e)) json_array_append(strings, e);
	json_object_set_new(dst, name, strings);
}

/* The string-valued entries of a config's Labels object, or null. */
static json_t *api_v1_labels(json_t *cc)
{
	json_t *labels = cc ? json_object_get(cc, "Labels") : NULL;
	if (!json_is_object(labels))
		return json_null();
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(labels, k, v) if (json_is_string(v)) json_object_set(out, k, v);
	return out;
}

/* What the page shows of a config: platform, dates and the runtime settings. */
static json_t *api_v1_config_json(json_t *config, const struct manifest_descriptor *desc)
{
	json_t *out = api_v1_descriptor_json(desc);
	json_t *cc = json_object_get(config, "config");
	if (!json_is_object(cc))
		cc = NULL;
	api_v1_copy(out, "os", config, "os", JSON_STRING);
	api_v1_copy(out, "architecture", config, "architecture", JSON_STRING);
	api_v1_copy(out, "variant", config, "variant", JSON_STRING);
	api_v1_copy(out, "created", config, "created", JSON_STRING);
	api_v1_copy(out, "author", config, "author", JSON_STRING);
	api_v1_copy(out, "entrypoint", cc, "Entrypoint", JSON_ARRAY);
	api_v1_copy(out, "cmd", cc, "Cmd", JSON_ARRAY);
	api_v1_copy(out, "env", cc, "Env", JSON_ARRAY);
	api_v1_copy(out, "working_dir", cc, "WorkingDir", JSON_STRING);
	api_v1_copy(out, "user", cc, "User", JSON_STRING);
	api_v1_copy(out, "stop_signal", cc, "StopSignal", JSON_STRING);
	json_object_set_new(out, "labels", api_v1_labels(cc));
	json_t *ports = json_array(), *exposed = cc ? json_object_get(cc, "ExposedPorts") : NULL;
	const char *port;
	json_t *unused;
	if (json_is_object(exposed))
		json_object_foreach(exposed, port, unused) json_array_append_new(ports, api_v1_string(port));
	json_object_set_new(out, "exposed_ports", ports);
	return out;
}

/* The image's layers, each with the history step that created it (the non-empty steps of
 * the config's history, in order), and the whole history. */
static void api_v1_image_layers(json_t *doc, const struct manifest *mf, json_t *config)
{
	json_t *history = config ? json_object_get(config, "history") : NULL;
	size_t nhist = json_is_array(history) ? json_array_size(history) : 0, h = 0;
	json_t *layers = json_array(), *steps = json_array();
	int64_t total = 0;
	for (size_t i = 0; i < mf->ndescriptors; i++) {
		const struct manifest_descriptor *d = &mf->descriptors[i];
		total += d->size;
		if (d->kind != MANIFEST_REF_LAYER)
			continue;
		json_t *layer = api_v1_descriptor_json(d);
		json_t *step = NULL;
		while (h < nhist) {
			json_t *s = json_array_get(history, h++);
			if (json_is_object(s) && !json_is_true(json_object_get(s, "empty_layer"))) {
				step = s;
				break;
			}
		}
		api_v1_copy(layer, "created_by", step, "created_by", JSON_STRING);
		api_v1_copy(layer, "created", step, "created", JSON_STRING);
		api_v1_copy(layer, "comment", step, "comment", JSON_STRING);
		json_array_append_new(layers, layer);
	}
	for (size_t i = 0; i < nhist; i++) {
		json_t *s = json_array_get(history, i), *step = json_object();
		if (!json_is_object(s))
			s = NULL;
		api_v1_copy(step, "created_by", s, "created_by", JSON_STRING);
		api_v1_copy(step, "created", s, "created", JSON_STRING);
		api_v1_copy(step, "comment", s, "comment", JSON_STRING);
		json_object_set_new(step, "empty_layer",
		                    json_boolean(s && json_is_true(json_object_get(s, "empty_layer"))));
		json_array_append_new(steps, step);
	}
	json_object_set_new(doc, "layers", layers);
	json_object_set_new(doc, "history", steps);
	json_object_set_new(doc, "total_size", json_integer(total));
}

/* Each platform of an index with its manifest's compressed size (config and layers). */
static void api_v1_index_children(struct req *r, int64_t repo_id, json_t *doc, const struct manifest *mf)
{
	json_t *children = json_array();
	int64_t total = 0;
	for (size_t i = 0; i < mf->ndescriptors; i++) {
		const struct manifest_descriptor *d = &mf->descriptors[i];
		json_t *c = api_v1_descriptor_json(d);
		json_t *platform = json_null();
		if (d->platform_os)
			platform = json_pack("{s:o,s:o,s:o}", "os", api_v1_string(d->platform_os), "architecture",
			                     api_v1_string(d->platform_architecture), "variant",
			                     api_v1_string(d->platform_variant));
		json_object_set_new(c, "platform", platform);
		json_object_set_new(c, "attestation", json_boolean(d->platform_os && !api_v1_platform_real(d)));
		struct meta_manifest cm;
		struct manifest cmf;
		struct berr e2;
		json_t *size = json_null();
		if (i < API_V1_CHILDREN_MAX && api_v1_manifest_load(r, repo_id, d->digest.str, &cm, &cmf, &e2) == 0) {
			int64_t sum = 0;
			for (size_t k = 0; k < cmf.ndescriptors; k++)
				sum += cmf.descriptors[k].size;
			size = json_integer(sum);
			total += sum;
			manifest_free(&cmf);
			free(cm.content);
		}
		json_object_set_new(c, "compressed_size", size);
		json_array_append_new(children, c);
	}
	json_object_set_new(doc, "manifests", children);
	json_object_set_new(doc, "total_size", json_integer(total));
}

static int api_v1_referrer_add(void *ctx, const struct meta_referrer *ref)
{
	json_t *ann = ref->annotations ? json_loads(ref->annotations, 0, NULL) : NULL;
	json_array_append_new(ctx, json_pack("{s:s,s:o,s:o,s:I,s:o}", "digest", ref->digest, "media_type",
	                                     api_v1_string(ref->media_type), "artifact_type",
	                                     api_v1_string(ref->artifact_type), "size", (json_int_t)ref->size,
	                                     "annotations", ann ? ann : json_null()));
	return 0;
}

/* GET /api/v1/repositories/{name}/manifests/{reference} */
void api_v1_repo_manifest(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET) {
		api_v1_bad_method(r);
		return;
	}
	struct meta_repo_info info;
	unsigned actions;
	if (!api_v1_repo_access(r, c->p1, &info, &actions))
		return;
	struct meta_manifest mm;
	struct manifest mf;
	if (api_v1_manifest_load(r, info.id, c->p2, &mm, &mf, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	cleanup_free void *content = mm.content;
	json_t *raw = json_loadb(content, mm.size, 0, NULL);
	json_t *ann = mf.annotations_json ? json_loads(mf.annotations_json, 0, NULL) : NULL;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:o,s:I,s:s,s:o,s:o,s:o,s:o}", "repository", c->p1, "reference", c->p2,
	                        "digest", mm.digest.str, "media_type", api_v1_string(mm.media_type), "size",
	                        (json_int_t)mm.size, "kind", mf.kind == MANIFEST_KIND_INDEX ? "index" : "image",
	                        "artifact_type", api_v1_string(mf.artifact_type), "subject",
	                        mf.has_subject ? json_string(mf.subject.str) : json_null(), "annotations",
	                        ann ? ann : json_null(), "manifest", raw ? raw : json_null());
	if (mf.kind == MANIFEST_KIND_INDEX) {
		api_v1_index_children(r, info.id, doc, &mf);
	} else {
		const struct manifest_descriptor *cd = mf.ndescriptors ? &mf.descriptors[0] : NULL;
		const char *why = "the manifest has no config";
		json_t *config = NULL;
		if (cd && cd->kind == MANIFEST_REF_CONFIG && strcmp(cd->media_type, MEDIATYPE_OCI_EMPTY) != 0)
			config = api_v1_config_load(r, &cd->digest, &why);
		else if (cd && cd->kind == MANIFEST_REF_CONFIG)
			why = "an artifact with an empty config";
		json_object_set_new(doc, "config", config ? api_v1_config_json(config, cd) : json_null());
		json_object_set_new(doc, "config_missing", config ? json_null() : json_string(why));
		api_v1_image_layers(doc, &mf, config);
		json_decref(config);
	}
	json_t *referrers = json_array();
	struct berr e2;
	if (meta_referrers(r->meta, info.id, &mm.digest, NULL, api_v1_referrer_add, referrers, &e2) < 0) {
		json_decref(referrers);
		json_decref(doc);
		manifest_free(&mf);
		r->err = e2;
		api_v1_fail(r);
		return;
	}
	json_object_set_new(doc, "referrers", referrers);
	manifest_free(&mf);
	api_v1_respond(r, 200, doc);
}
