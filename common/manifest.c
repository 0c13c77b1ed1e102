/* Manifest parsing and validation with jansson: decides the effective media type from the
 * request's Content-Type and the body, checks the fields each type requires, and copies out
 * the descriptors (config, layers, child manifests, subject) the registry must know about. */
#include "common/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_depth.h"
#include "common/xalloc.h"

/* Longest part of a body string quoted back in an error message. */
#define MANIFEST_QUOTE_MAX 80

/* A json_t that is released when it goes out of scope. */
static void manifest_json_cleanup(json_t **j)
{
	json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(manifest_json_cleanup)))

static const char *const manifest_known_types[] = {
    MEDIATYPE_DOCKER_MANIFEST,
    MEDIATYPE_DOCKER_LIST,
    MEDIATYPE_OCI_MANIFEST,
    MEDIATYPE_OCI_INDEX,
};

bool manifest_media_type_known(const char *media_type)
{
	if (!media_type)
		return false;
	for (size_t i = 0; i < sizeof manifest_known_types / sizeof manifest_known_types[0]; i++)
		if (strcmp(media_type, manifest_known_types[i]) == 0)
			return true;
	return false;
}

bool manifest_media_type_is_index(const char *media_type)
{
	return media_type &&
	       (strcmp(media_type, MEDIATYPE_DOCKER_LIST) == 0 || strcmp(media_type, MEDIATYPE_OCI_INDEX) == 0);
}

static bool manifest_type_is_docker(const char *media_type)
{
	return strcmp(media_type, MEDIATYPE_DOCKER_MANIFEST) == 0 || strcmp(media_type, MEDIATYPE_DOCKER_LIST) == 0;
}

static bool manifest_type_is_schema1(const char *media_type)
{
	return media_type && (strcmp(media_type, MEDIATYPE_DOCKER_SCHEMA1) == 0 ||
	                      strcmp(media_type, MEDIATYPE_DOCKER_SCHEMA1_SIGNED) == 0);
}

/* Copy s into buf for an error message: control bytes, non-ASCII and backslashes become
 * \xNN escapes and more than `max` bytes are cut with "...", so body strings (and
 * jansson's error text, which echoes the body) cannot forge log lines. */
static void manifest_sanitize(const char *s, size_t max, char *buf, size_t bufsize)
{
	size_t o = 0, i = 0;
	for (; s[i] && i < max && o + 5 < bufsize; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, bufsize - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (s[i] && o + 4 <= bufsize) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

static void manifest_quote(const char *s, char *buf, size_t bufsize)
{
	manifest_sanitize(s, MANIFEST_QUOTE_MAX, buf, bufsize);
}

/* Copy an optional string member of obj into *out (heap). Absent or null is fine; another
 * type is an error naming where/key. */
static int manifest_opt_string(json_t *obj, const char *key, const char *where, char **out, struct berr *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s%s%s must be a string", where, *where ? "." : "", key);
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* An annotations member must be an object whose values are all strings. */
static int manifest_check_annotations(json_t *v, const char *where, struct berr *err)
{
	const char *key;
	json_t *val;
	if (!json_is_object(v))
		return berr_set(err, BERR_MANIFEST_INVALID, "%sannotations must be an object", where);
	json_object_foreach(v, key, val)
	{
		if (!json_is_string(val)) {
			char q[MANIFEST_QUOTE_MAX * 4 + 8];
			manifest_quote(key, q, sizeof q);
			return berr_set(err, BERR_MANIFEST_INVALID, "%sannotations['%s'] must be a string", where, q);
		}
	}
	return 0;
}

/* "urls" (non-distributable layers) must be an array of strings; a non-empty one makes the
 * descriptor foreign. */
static int manifest_parse_urls(json_t *v, const char *where, bool *foreign, struct berr *err)
{
	size_t i;
	json_t *u;
	if (!json_is_array(v))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s.urls must be an array of strings", where);
	json_array_foreach(v, i, u)
	{
		if (!json_is_string(u))
			return berr_set(err, BERR_MANIFEST_INVALID, "%s.urls[%zu] must be a string", where, i);
	}
	*foreign = json_array_size(v) > 0;
	return 0;
}

/* An index child's "platform": an object whose os, architecture and variant, when present,
 * are strings. */
static int manifest_parse_platform(json_t *v, const char *where, struct manifest_descriptor *d, struct berr *err)
{
	char pw[64];
	if (!json_is_object(v))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s.platform must be an object", where);
	snprintf(pw, sizeof pw, "%s.platform", where);
	if (manifest_opt_string(v, "os", pw, &d->platform_os, err) < 0 ||
	    manifest_opt_string(v, "architecture", pw, &d->platform_architecture, err) < 0 ||
	    manifest_opt_string(v, "variant", pw, &d->platform_variant, err) < 0)
		return -1;
	return 0;
}

/* The fields every descriptor needs: mediaType string, valid digest, integer size >= 0. */
static int manifest_parse_core(json_t *v, const char *where, struct manifest_descriptor *d, struct berr *err)
{
	json_t *mt = json_object_get(v, "mediaType");
	json_t *dg = json_object_get(v, "digest");
	json_t *sz = json_object_get(v, "size");
	if (!json_is_string(mt))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s.mediaType is required and must be a string", where);
	if (!json_is_string(dg))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s.digest is required and must be a string", where);
	if (digest_parse_n(json_string_value(dg), json_string_length(dg), &d->digest, err) < 0) {
		if (err)
			err->code = BERR_MANIFEST_INVALID;
		berr_prefix(err, "%s.digest", where);
		return -1;
	}
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return berr_set(err, BERR_MANIFEST_INVALID, "%s.size is required and must be a non-negative integer",
		                where);
	d->media_type = xstrdup(json_string_value(mt));
	d->size = (int64_t)json_integer_value(sz);
	return 0;
}

/* Parse the descriptor object v, found at `where` ("layers[2]"), into d. */
static int manifest_parse_descriptor(json_t *v, const char *where, enum manifest_ref_kind kind,
                                     struct manifest_descriptor *d, struct berr *err)
{
	char aw[72];
	json_t *x;
	d->kind = kind;
	if (!json_is_object(v))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s must be an object", where);
	if (manifest_parse_core(v, where, d, err) < 0)
		return -1;
	if ((x = json_object_get(v, "urls")) && manifest_parse_urls(x, where, &d->foreign, err) < 0)
		return -1;
	snprintf(aw, sizeof aw, "%s.", where);
	if ((x = json_object_get(v, "annotations")) && manifest_check_annotations(x, aw, err) < 0)
		return -1;
	if ((x = json_object_get(v, "artifactType")) && !json_is_string(x))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s.artifactType must be a string", where);
	if (kind == MANIFEST_REF_CHILD && (x = json_object_get(v, "platform")) &&
	    manifest_parse_platform(x, where, d, err) < 0)
		return -1;
	return 0;
}

static void manifest_descriptor_free(struct manifest_descriptor *d)
{
	free(d->media_type);
	free(d->platform_os);
	free(d->platform_architecture);
	free(d->platform_variant);
}

/* Parse the array member `key` of root into out->descriptors starting at index `first`,
 * allocating room for first + its length entries. */
static int manifest_parse_list(json_t *root, const char *key, enum manifest_ref_kind kind, size_t first,
                               struct manifest *out, struct berr *err)
{
	json_t *arr = json_object_get(root, key);
	json_t *v;
	size_t i;
	if (!json_is_array(arr))
		return berr_set(err, BERR_MANIFEST_INVALID, "%s is required and must be an array", key);
	out->descriptors = xcalloc(first + json_array_size(arr), sizeof *out->descriptors);
	out->ndescriptors = first;
	json_array_foreach(arr, i, v)
	{
		char where[48];
		snprintf(where, sizeof where, "%s[%zu]", key, i);
		/* Count the entry first so manifest_free releases what a failed parse copied. */
		out->ndescriptors++;
		if (manifest_parse_descriptor(v, where, kind, &out->descriptors[first + i], err) < 0)
			return -1;
	}
	return 0;
}

/* Image manifest: config (descriptors[0]) then layers. Layers may be empty (artifacts,
 * and docker images built FROM scratch with no filesystem changes). */
static int manifest_parse_image(json_t *root, struct manifest *out, struct berr *err)
{
	json_t *config = json_object_get(root, "config");
	out->kind = MANIFEST_KIND_IMAGE;
	if (!config)
		return berr_set(err, BERR_MANIFEST_INVALID, "config is required");
	if (manifest_parse_list(root, "layers", MANIFEST_REF_LAYER, 1, out, err) < 0)
		return -1;
	return manifest_parse_descriptor(config, "config", MANIFEST_REF_CONFIG, &out->descriptors[0], err);
}

/* The OCI-only fields: subject and artifactType. */
static int manifest_parse_oci_extras(json_t *root, struct manifest *out, struct berr *err)
{
	json_t *subject = json_object_get(root, "subject");
	if (manifest_opt_string(root, "artifactType", "", &out->artifact_type, err) < 0)
		return -1;
	if (!subject)
		return 0;
	struct manifest_descriptor d = {0};
	int r = manifest_parse_descriptor(subject, "subject", MANIFEST_REF_CHILD, &d, err);
	if (r == 0) {
		out->has_subject = true;
		out->subject = d.digest;
		out->subject_size = d.size;
	}
	manifest_descriptor_free(&d);
	return r;
}

/* Trim a Content-Type to its media type: drop parameters ("; charset=utf-8") and
 * surrounding blanks. NULL or empty gives NULL. Heap. */
static char *manifest_content_type(const char *ct)
{
	if (!ct)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n ? xstrndup(ct, n) : NULL;
}

/* Fill out->media_type from the Content-Type (ct, trimmed, may be NULL) and the body's
 * mediaType (bt, may be NULL), following the rules in manifest.h. */
static int manifest_pick_type(const char *ct, const char *bt, struct manifest *out, struct berr *err)
{
	char q[MANIFEST_QUOTE_MAX * 4 + 8];
	/* Some clients send a generic JSON type; accept it only when the body says what it is. */
	if (ct && strcmp(ct, "application/json") == 0 && manifest_media_type_known(bt))
		ct = NULL;
	if (manifest_type_is_schema1(ct) || manifest_type_is_schema1(bt))
		return berr_set(err, BERR_MANIFEST_INVALID,
		                "schema1 manifests are not supported; push a Docker schema2 or OCI manifest");
	if (!ct && !bt)
		return berr_set(err, BERR_MANIFEST_INVALID, "manifest has no mediaType and no Content-Type was given");
	if (ct && !manifest_media_type_known(ct)) {
		manifest_quote(ct, q, sizeof q);
		return berr_set(err, BERR_MANIFEST_INVALID, "unsupported manifest media type '%s'", q);
	}
	if (ct && bt && strcmp(ct, bt) != 0) {
		char qb[sizeof q];
		manifest_quote(ct, q, sizeof q);
		manifest_quote(bt, qb, sizeof qb);
		return berr_set(err, BERR_MANIFEST_INVALID,
		                "Content-Type '%s' does not match the manifest's mediaType '%s'", q, qb);
	}
	if (!ct && !manifest_media_type_known(bt)) {
		manifest_quote(bt, q, sizeof q);
		return berr_set(err, BERR_MANIFEST_INVALID, "unsupported manifest media type '%s'", q);
	}
	if (!bt && manifest_type_is_docker(ct))
		return berr_set(err, BERR_MANIFEST_INVALID, "mediaType is required in Docker manifests");
	out->media_type = xstrdup(ct ? ct : bt);
	return 0;
}

/* schemaVersion must be the integer 2; 1 is the retired schema1 format. */
static int manifest_check_schema_version(json_t *root, struct berr *err)
{
	json_t *sv = json_object_get(root, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 2)
		return 0;
	if (json_is_integer(sv) && json_integer_value(sv) == 1)
		return berr_set(err, BERR_MANIFEST_INVALID,
		                "schemaVersion must be 2: schema1 manifests are not supported; push a Docker "
		                "schema2 or OCI manifest");
	return berr_set(err, BERR_MANIFEST_INVALID, "schemaVersion must be 2");
}

/* A body that carries both image fields and index fields could be read as either kind
 * when its mediaType is omitted; refuse it, as the OCI image spec advises. */
static int manifest_check_ambiguity(json_t *root, const char *media_type, struct berr *err)
{
	bool index = manifest_media_type_is_index(media_type);
	if (index && (json_object_get(root, "config") || json_object_get(root, "layers")))
		return berr_set(err, BERR_MANIFEST_INVALID, "an index must not have config or layers");
	if (!index && json_object_get(root, "manifests"))
		return berr_set(err, BERR_MANIFEST_INVALID, "an image manifest must not have manifests");
	return 0;
}

/* Everything after the JSON is loaded: type, version, body fields. */
static int manifest_parse_root(const char *content_type, json_t *root, struct manifest *out, struct berr *err)
{
	cleanup_free char *ct = manifest_content_type(content_type);
	json_t *bt = json_object_get(root, "mediaType");
	json_t *ann = json_object_get(root, "annotations");
	if (bt && !json_is_string(bt))
		return berr_set(err, BERR_MANIFEST_INVALID, "mediaType must be a string");
	if (manifest_check_schema_version(root, err) < 0 || manifest_pick_type(ct, json_string_value(bt), out, err) < 0)
		return -1;
	if (ann && manifest_check_annotations(ann, "", err) < 0)
		return -1;
	if (ann)
		out->annotations_json = json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS);
	if (manifest_check_ambiguity(root, out->media_type, err) < 0)
		return -1;
	if (manifest_media_type_is_index(out->media_type)) {
		out->kind = MANIFEST_KIND_INDEX;
		if (manifest_parse_list(root, "manifests", MANIFEST_REF_CHILD, 0, out, err) < 0)
			return -1;
	} else if (manifest_parse_image(root, out, err) < 0) {
		return -1;
	}
	if (manifest_type_is_docker(out->media_type))
		return 0;
	return manifest_parse_oci_extras(root, out, err);
}

int manifest_parse(const char *content_type, const void *body, size_t len, struct manifest *out, struct berr *err)
{
	json_error_t jerr;
	memset(out, 0, sizeof *out);
	if (len > MANIFEST_MAX_SIZE)
		return berr_set(err, BERR_MANIFEST_TOO_LARGE, "manifest is %zu bytes; the limit is %d", len,
		                MANIFEST_MAX_SIZE);
	if (!json_depth_ok(body, len, MANIFEST_MAX_DEPTH))
		return berr_set(err, BERR_MANIFEST_INVALID, "manifest JSON is nested deeper than %d levels",
		                MANIFEST_MAX_DEPTH);
	cleanup_json json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		char text[sizeof jerr.text * 4 + 8];
		manifest_sanitize(jerr.text, sizeof jerr.text, text, sizeof text);
		return berr_set(err, BERR_MANIFEST_INVALID, "manifest is not valid JSON: %s (line %d, column %d)", text,
		                jerr.line, jerr.column);
	}
	if (!json_is_object(root))
		return berr_set(err, BERR_MANIFEST_INVALID, "manifest must be a JSON object");
	if (manifest_parse_root(content_type, root, out, err) < 0) {
		manifest_free(out);
		return -1;
	}
	return 0;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ndescriptors; i++)
		manifest_descriptor_free(&m->descriptors[i]);
	free(m->descriptors);
	free(m->media_type);
	free(m->artifact_type);
	free(m->annotations_json);
	memset(m, 0, sizeof *m);
}
