/* berth tag SRC DST: record another name for a local image. */
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"
#include "client/image_index.h"
#include "common/reference.h"
#include "common/xalloc.h"

int cmd_tag(const struct cli *g, int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: berth tag SRC DST\n");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: berth tag SRC DST\n");
		return 2;
	}
	struct berr err = {0};
	struct reference dst;
	if (reference_parse(argv[2], &dst, &err) < 0)
		return cmd_fail("invalid target name %s: %s", argv[2], err.message);
	if (dst.has_digest) {
		reference_free(&dst);
		return cmd_fail("invalid target name %s: a tag cannot be a digest", argv[2]);
	}
	cleanup_free char *name = image_index_name(dst.registry, dst.repository, dst.tag, NULL);
	reference_free(&dst);
	struct store *s = store_open(g->root, &err);
	if (!s)
		return cmd_fail("%s", err.message);
	struct image_record rec;
	int rc = image_index_resolve(s, argv[1], &rec, NULL, &err);
	if (rc == 0) {
		char *old = rec.name;
		rec.name = name;
		rc = image_index_put(s, &rec, &err);
		rec.name = old;
		image_record_free(&rec);
	}
	store_close(s);
	return rc < 0 ? cmd_fail("tag %s: %s", argv[1], err.message) : 0;
}
