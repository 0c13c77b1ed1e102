/* Repository names, tags and image references: the distribution spec's grammars checked
 * by hand-written scanners (no regex engine), and docker's normalization of short names. */
#include "common/reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define REFERENCE_DEFAULT_REGISTRY "docker.io"
#define REFERENCE_DEFAULT_TAG      "latest"
/* Longest part of a rejected input quoted back in an error message. */
#define REFERENCE_QUOTE_MAX 80

static bool ref_is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool ref_is_alnum(char c)
{
	return ref_is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool ref_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* '/' or a character that can appear in a name separator. */
static bool ref_is_separator(char c)
{
	return c == '/' || c == '.' || c == '_' || c == '-';
}

/* Why name[0..len) breaks the repository name grammar, or NULL if it does not; *pos is the
 * offending offset. The grammar is a sequence of lowercase-alnum runs joined by '/' or by
 * one separator ('.', '_', '__' or a run of '-'), starting and ending with a run. */
static const char *ref_name_problem(const char *name, size_t len, size_t *pos)
{
	size_t i = 0;
	*pos = 0;
	if (len == 0)
		return "must not be empty";
	if (len > REFERENCE_NAME_MAX)
		return "is longer than 255 characters";
	for (;;) {
		/* Here a run of [a-z0-9] must start. */
		*pos = i;
		if (i == len)
			return "must not end with '/' or a separator";
		if (name[i] >= 'A' && name[i] <= 'Z')
			return "must be lowercase";
		if (!ref_is_lower_alnum(name[i]))
			return ref_is_separator(name[i]) ? "has an empty component or a misplaced separator"
			                                 : "contains a character outside [a-z0-9._/-]";
		while (i < len && ref_is_lower_alnum(name[i]))
			i++;
		if (i == len)
			return NULL;
		char c = name[i];
		if (c == '/' || c == '.') {
			i++;
		} else if (c == '_') {
			i += (i + 1 < len && name[i + 1] == '_') ? 2 : 1;
		} else if (c == '-') {
			while (i < len && name[i] == '-')
				i++;
		} else {
			*pos = i;
			if (c >= 'A' && c <= 'Z')
				return "must be lowercase";
			return "contains a character outside [a-z0-9._/-]";
		}
	}
}

bool reference_name_valid(const char *name, size_t len)
{
	size_t pos;
	return name && ref_name_problem(name, len, &pos) == NULL;
}

bool reference_tag_valid(const char *tag, size_t len)
{
	if (!tag || len == 0 || len > REFERENCE_TAG_MAX)
		return false;
	if (!ref_is_alnum(tag[0]) && tag[0] != '_')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!ref_is_alnum(tag[i]) && tag[i] != '.' && tag[i] != '_' && tag[i] != '-')
			return false;
	return true;
}

int reference_check_name(const char *name, size_t len, struct berr *err)
{
	size_t pos;
	const char *why = name ? ref_name_problem(name, len, &pos) : "must not be empty";
	if (!why)
		return 0;
	char q[REFERENCE_QUOTE_MAX * 4 + 8];
	berr_quote(name ? name : "", name ? len : 0, REFERENCE_QUOTE_MAX, q, sizeof q);
	if (name && len > 0 && len <= REFERENCE_NAME_MAX)
		return berr_set(err, BERR_NAME_INVALID, "invalid repository name '%s': %s (at offset %zu)", q, why,
		                pos);
	return berr_set(err, BERR_NAME_INVALID, "invalid repository name '%s': %s", q, why);
}

int reference_check_tag(const char *tag, size_t len, struct berr *err)
{
	if (reference_tag_valid(tag, len))
		return 0;
	char q[REFERENCE_QUOTE_MAX * 4 + 8];
	berr_quote(tag ? tag : "", tag ? len : 0, REFERENCE_QUOTE_MAX, q, sizeof q);
	if (!tag || len == 0)
		return berr_set(err, BERR_TAG_INVALID, "invalid tag '': must not be empty");
	if (len > REFERENCE_TAG_MAX)
		return berr_set(err, BERR_TAG_INVALID, "invalid tag '%s': longer than %d characters", q,
		                REFERENCE_TAG_MAX);
	return berr_set(err, BERR_TAG_INVALID, "invalid tag '%s': must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", q);
}

/* Docker's host grammar: dot-separated labels of [a-zA-Z0-9-] not starting or ending with
 * '-', or an IPv6 address in brackets; then an optional ":port". Case is preserved. */
static bool ref_registry_valid(const char *s, size_t len)
{
	size_t i = 0;
	if (len == 0 || len > REFERENCE_NAME_MAX)
		return false;
	if (s[0] == '[') {
		while (++i < len && (ref_is_hex(s[i]) || s[i] == ':'))
			;
		if (i == 1 || i >= len || s[i] != ']')
			return false;
		i++;
	} else {
		for (;;) {
			size_t start = i;
			while (i < len && (ref_is_alnum(s[i]) || s[i] == '-'))
				i++;
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return false;
			if (i < len && s[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == len)
		return true;
	if (s[i++] != ':' || i == len)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Docker's rule for "is the first component a registry": it has a '.' or ':', is
 * "localhost", or has uppercase letters (repository components cannot). */
static bool ref_is_registry(const char *s, size_t len)
{
	if (len == 9 && memcmp(s, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

/* Docker refuses a reference that is just 64 hex digits: it is an image ID. */
static bool ref_is_image_id(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Split "[registry/]path[:tag]" (s[0..len), no digest) into out's registry, repository and
 * tag, normalizing docker.io names. */
static int ref_parse_name(const char *s, size_t len, struct reference *out, struct berr *err)
{
	const char *slash = memchr(s, '/', len);
	const char *path = s;
	if (slash && ref_is_registry(s, (size_t)(slash - s))) {
		size_t rlen = (size_t)(slash - s);
		if (!ref_registry_valid(s, rlen)) {
			char q[REFERENCE_QUOTE_MAX * 4 + 8];
			berr_quote(s, rlen, REFERENCE_QUOTE_MAX, q, sizeof q);
			return berr_set(err, BERR_NAME_INVALID, "invalid registry '%s'", q);
		}
		out->registry = xstrndup(s, rlen);
		path = slash + 1;
	}
	if (!out->registry || strcmp(out->registry, "index.docker.io") == 0 ||
	    strcmp(out->registry, "registry-1.docker.io") == 0) {
		free(out->registry);
		out->registry = xstrdup(REFERENCE_DEFAULT_REGISTRY);
	}
	size_t plen = len - (size_t)(path - s);
	const char *colon = memchr(path, ':', plen);
	if (colon) {
		size_t tlen = plen - (size_t)(colon - path) - 1;
		if (reference_check_tag(colon + 1, tlen, err) < 0)
			return -1;
		out->tag = xstrndup(colon + 1, tlen);
		plen = (size_t)(colon - path);
	}
	/* Check what the user wrote before adding "library/", so the message quotes it. */
	if (reference_check_name(path, plen, err) < 0)
		return -1;
	bool library = strcmp(out->registry, REFERENCE_DEFAULT_REGISTRY) == 0 && !memchr(path, '/', plen);
	out->repository = xasprintf("%s%.*s", library ? "library/" : "", (int)plen, path);
	return reference_check_name(out->repository, strlen(out->repository), err);
}

int reference_parse(const char *s, struct reference *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	size_t len = s ? strlen(s) : 0;
	if (len == 0)
		return berr_set(err, BERR_NAME_INVALID, "invalid reference '': empty");
	if (ref_is_image_id(s, len))
		return berr_set(err, BERR_NAME_INVALID,
		                "invalid reference: a 64-character hex string is an image ID, not a repository");
	const char *at = strchr(s, '@');
	size_t nlen = at ? (size_t)(at - s) : len;
	if (at && digest_parse(at + 1, &out->digest, err) < 0)
		return -1;
	out->has_digest = at != NULL;
	if (ref_parse_name(s, nlen, out, err) < 0) {
		reference_free(out);
		return -1;
	}
	if (!out->tag && !out->has_digest)
		out->tag = xstrdup(REFERENCE_DEFAULT_TAG);
	return 0;
}

void reference_free(struct reference *ref)
{
	if (!ref)
		return;
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	memset(ref, 0, sizeof *ref);
}

char *reference_format(const struct reference *ref)
{
	return xasprintf("%s/%s%s%s%s%s", ref->registry, ref->repository, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
	                 ref->has_digest ? "@" : "", ref->has_digest ? ref->digest.str : "");
}

bool reference_namespace_valid(const char *name)
{
	size_t n = strlen(name);
	return n >= 2 && n <= REFERENCE_NAMESPACE_MAX && !strchr(name, '/') && reference_name_valid(name, n);
}
