/* berth copy [OPTIONS] SRC DST: copy an image (or, with --all-tags, a repository) from one
 * registry to another through common/copy.c, without the local store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cmd.h"
#include "client/credentials.h"
#include "common/copy.h"
#include "common/reference.h"
#include "common/registry_client.h"
#include "common/xalloc.h"

#define COPY_USAGE                                                                                  \
	"usage: berth copy [OPTIONS] SRC DST\n"                                                     \
	"       berth copy --all-tags [OPTIONS] SRC_REPO DST_REPO\n\n"                              \
	"Copy an image from one registry to another: every platform of an index, and the\n"         \
	"referrers (signatures, SBOMs) of everything copied. Manifests are copied byte for byte,\n" \
	"so digests stay the same. Blobs the destination has are skipped, blobs of the same\n"      \
	"registry are mounted, the rest stream from source to destination (nothing is written\n"    \
	"to the local disk). DST without a tag takes the tag (or digest) of SRC.\n\n"               \
	"Options:\n"                                                                                \
	"  -a, --all-tags         copy every tag of SRC_REPO to DST_REPO\n"                         \
	"  -j, --parallel N       blobs copied at once (default 4, at most 32)\n"                   \
	"      --no-referrers     copy only the images, not what refers to them\n"                  \
	"      --src-creds U:P    credentials for the source (default: from `berth login`)\n"       \
	"      --dest-creds U:P   credentials for the destination (default: from `berth login`)\n"  \
	"  -q, --quiet            print only the result\n"                                          \
	"  -h, --help             show this help\n"

/* True when the last path component of text names a tag or digest. */
static bool copy_has_reference(const char *text)
{
	const char *slash = strrchr(text, '/');
	const char *last = slash ? slash + 1 : text;
	return strchr(last, ':') || strchr(last, '@');
}

/* A side of the copy from a parsed reference and optional "user:password". */
static int copy_side_init(const struct cli *g, const struct reference *ref, const char *creds, struct copy_side *side,
                          struct credential *cred, const char *which)
{
	memset(cred, 0, sizeof *cred);
	*side = (struct copy_side){
	    .registry = ref->registry,
	    .plain_http = registry_is_insecure(ref->registry, g->insecure, g->ninsecure),
	    .probe_tls = registry_wants_tls_probe(ref->registry, g->insecure, g->ninsecure),
	};
	if (creds) {
		const char *colon = strchr(creds, ':');
		if (!colon || colon == creds)
			return cmd_fail("--%s-creds wants USER:PASSWORD", which);
		cred->username = xstrndup(creds, (size_t)(colon - creds));
		cred->password = xstrdup(colon + 1);
		side->cred = cred;
		return 0;
	}
	struct berr err = {0};
	int have = credentials_get(ref->registry, cred, &err);
	if (have < 0)
		return cmd_fail("%s", err.message);
	if (have)
		side->cred = cred;
	return 0;
}

static void copy_print_stats(const struct copy_stats *st)
{
	printf("%zu manifests (%zu referrers); blobs: %zu copied, %zu mounted, %zu already present; %llu bytes\n",
	       st->manifests, st->referrers, st->blobs_copied, st->blobs_mounted, st->blobs_present,
	       (unsigned long long)st->bytes);
}

/* Every tag of src's repository to dst's. */
static int copy_all_tags(const struct copy_side *s, const struct reference *src, const struct copy_side *d,
                         const struct reference *dst, const struct copy_opts *o, bool quiet)
{
	struct berr err = {0};
	char **tags = NULL;
	size_t n = 0;
	if (copy_list_tags(s, src->repository, &tags, &n, &err) < 0)
		return cmd_fail("list the tags of %s/%s: %s", src->registry, src->repository, err.message);
	if (n == 0) {
		copy_list_free(tags, n);
		return cmd_fail("%s/%s has no tags", src->registry, src->repository);
	}
	struct copy_stats st = {0};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct digest dg;
		if (copy_image(s, src->repository, tags[i], d, dst->repository, tags[i], o, &st, &dg, &err) < 0)
			rc = cmd_fail("copy %s/%s:%s: %s", src->registry, src->repository, tags[i], err.message);
		else if (!quiet)
			printf("%s: %s\n", tags[i], dg.str);
	}
	if (rc == 0) {
		printf("copied %zu tags of %s/%s to %s/%s: ", n, src->registry, src->repository, dst->registry,
		       dst->repository);
		copy_print_stats(&st);
	}
	copy_list_free(tags, n);
	return rc;
}

int cmd_copy(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all-tags", no_argument, NULL, 'a'},
	    {"parallel", required_argument, NULL, 'j'},
	    {"no-referrers", no_argument, NULL, 'R'},
	    {"src-creds", required_argument, NULL, 'S'},
	    {"dest-creds", required_argument, NULL, 'D'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool all_tags = false, quiet = false;
	const char *src_creds = NULL, *dst_creds = NULL;
	struct copy_opts o = {0};
	int c;
	while ((c = getopt_long(argc, argv, "+aj:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all_tags = true;
			break;
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 32)
				return cmd_fail("--parallel wants a number from 1 to 32, not '%s'", optarg);
			o.parallel = (unsigned)v;
			break;
		}
		case 'R':
			o.no_referrers = true;
			break;
		case 'S':
			src_creds = optarg;
			break;
		case 'D':
			dst_creds = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf(COPY_USAGE);
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 2) {
		fputs(COPY_USAGE, stderr);
		return 2;
	}
	const char *src_text = argv[optind], *dst_text = argv[optind + 1];
	if (all_tags && (copy_has_reference(src_text) || copy_has_reference(dst_text)))
		return cmd_fail("--all-tags copies repositories: give SRC_REPO and DST_REPO without a tag or digest");
	struct berr err = {0};
	struct reference src, dst;
	if (reference_parse(src_text, &src, &err) < 0)
		return cmd_fail("source %s: %s", src_text, err.message);
	if (reference_parse(dst_text, &dst, &err) < 0) {
		reference_free(&src);
		return cmd_fail("destination %s: %s", dst_text, err.message);
	}
	o.out = quiet ? NULL : stdout;
	struct copy_side s, d;
	struct credential scred = {0}, dcred = {0};
	int rc = copy_side_init(g, &src, src_creds, &s, &scred, "src");
	if (rc == 0)
		rc = copy_side_init(g, &dst, dst_creds, &d, &dcred, "dest");
	if (rc == 0 && all_tags) {
		rc = copy_all_tags(&s, &src, &d, &dst, &o, quiet);
	} else if (rc == 0) {
		const char *ref = src.has_digest ? src.digest.str : src.tag;
		const char *dref = !copy_has_reference(dst_text) ? ref : dst.has_digest ? dst.digest.str : dst.tag;
		struct copy_stats st = {0};
		struct digest dg;
		if (src.has_digest && dst.has_digest && !digest_equal(&src.digest, &dst.digest))
			rc = cmd_fail("the destination's digest differs from the source's: a copy keeps the digest");
		else if (copy_image(&s, src.repository, ref, &d, dst.repository, dref, &o, &st, &dg, &err) < 0)
			rc = cmd_fail("copy %s to %s: %s", src_text, dst_text, err.message);
		else {
			printf("copied %s/%s%s%s to %s/%s%s%s: %s\n", src.registry, src.repository,
			       src.has_digest ? "@" : ":", ref, dst.registry, dst.repository,
			       digest_parse(dref, &(struct digest){0}, NULL) == 0 ? "@" : ":", dref, dg.str);
			if (!quiet)
				copy_print_stats(&st);
		}
	}
	credential_free(&scred);
	credential_free(&dcred);
	reference_free(&src);
	reference_free(&dst);
	return rc;
}
