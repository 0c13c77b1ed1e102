/* berth inspect REF...: a JSON array with one object per image, shaped like docker's
 * (Id, RepoTags, RepoDigests, Created, Os, Architecture, Config, RootFS...). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"
#include "client/image_index.h"
#include "common/xalloc.h"

/* Every name of the image with config digest id: "RepoTags" (tags) and "RepoDigests"
 * ("repo@digest"), as docker lists them. */
static void inspect_names(struct store *s, const struct image_record *rec, json_t *tags, json_t *digests)
{
	struct image_record *all;
	size_t n;
	if (image_index_list(s, &all, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!digest_equal(&all[i].config, &rec->config))
			continue;
		const char *at = strchr(all[i].name, '@');
		const char *colon = strrchr(all[i].name, ':');
		const char *slash = strrchr(all[i].name, '/');
		size_t repolen = at                         ? (size_t)(at - all[i].name)
		                 : (colon && colon > slash) ? (size_t)(colon - all[i].name)
		                                            : strlen(all[i].name);
		if (!at)
			json_array_append_new(tags, json_string(all[i].name));
		cleanup_free char *rd = xasprintf("%.*s@%s", (int)repolen, all[i].name, all[i].digest.str);
		bool seen = false;
		size_t k;
		json_t *v;
		json_array_foreach(digests, k, v) seen |= strcmp(json_string_value(v), rd) == 0;
		if (!seen)
			json_array_append_new(digests, json_string(rd));
	}
	image_records_free(all, n);
}

static json_t *inspect_one(struct store *s, const char *text, struct berr *err)
{
	struct image_record rec;
	if (image_index_resolve(s, text, &rec, NULL, err) < 0)
		return NULL;
	struct image_info info;
	if (image_info_load(s, &rec, &info, err) < 0) {
		image_record_free(&rec);
		return NULL;
	}
	json_t *cfg = info.config;
	json_t *tags = json_array(), *digests = json_array(), *layers = json_array();
	inspect_names(s, &rec, tags, digests);
	for (size_t i = 0; i < info.nlayers; i++)
		json_array_append_new(layers, json_string(info.diffids[i].str));
	json_t *o = json_object();
	json_object_set_new(o, "Id", json_string(rec.config.str));
	json_object_set_new(o, "Name", json_string(rec.name));
	json_object_set_new(o, "RepoTags", tags);
	json_object_set_new(o, "RepoDigests", digests);
	json_object_set_new(o, "Digest", json_string(rec.digest.str));
	json_object_set_new(o, "Manifest", json_string(rec.manifest.str));
	json_object_set_new(o, "MediaType", json_string(info.manifest.media_type ? info.manifest.media_type : ""));
	json_object_set_new(o, "Platform", json_string(rec.platform));
	static const char *const copy[][2] = {
	    {"created", "Created"}, {"author", "Author"}, {"os", "Os"},           {"architecture", "Architecture"},
	    {"variant", "Variant"}, {"config", "Config"}, {"history", "History"},
	};
	for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
		json_t *v = json_object_get(cfg, copy[i][0]);
		if (v)
			json_object_set(o, copy[i][1], v);
	}
	json_object_set_new(o, "Size", json_integer(info.size));
	json_object_set_new(o, "RootFS", json_pack("{s:s, s:o}", "Type", "layers", "Layers", layers));
	image_info_free(&info);
	image_record_free(&rec);
	return o;
}

int cmd_inspect(const struct cli *g, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: berth inspect REF|ID...\n");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: berth inspect REF|ID...\n");
		return 2;
	}
	struct berr err = {0};
	struct store *s = store_open(g->root, &err);
	if (!s)
		return cmd_fail("%s", err.message);
	json_t *arr = json_array();
	int status = 0;
	for (int i = 1; i < argc; i++) {
		json_t *o = inspect_one(s, argv[i], &err);
		if (o)
			json_array_append_new(arr, o);
		else
			status = cmd_fail("inspect %s: %s", argv[i], err.message);
	}
	store_close(s);
	if (json_array_size(arr) > 0 || status == 0) {
		cleanup_free char *text = json_dumps(arr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", text);
	}
	json_decref(arr);
	return status;
}
