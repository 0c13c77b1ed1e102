/* berth rmi [-f] REF...: remove image names; content no remaining name uses is deleted. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"
#include "client/image_index.h"
#include "common/xalloc.h"

/* Remove one name, or every name of an image ID when force (or when it has only one). */
static int rmi_one(struct store *s, const char *text, bool force, struct berr *err)
{
	struct image_record rec;
	bool by_id;
	if (image_index_resolve(s, text, &rec, &by_id, err) < 0)
		return -1;
	struct image_record *all = NULL;
	size_t n = 0, same = 0;
	if (by_id) {
		if (image_index_list(s, &all, &n, err) < 0) {
			image_record_free(&rec);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			same += digest_equal(&all[i].config, &rec.config);
		if (same > 1 && !force) {
			image_records_free(all, n);
			image_record_free(&rec);
			return berr_set(err, BERR_DENIED, "image %s has %zu names; remove them by name or use -f", text,
			                same);
		}
	}
	int rc = 0;
	for (size_t i = 0; by_id && i < n && rc == 0; i++)
		if (digest_equal(&all[i].config, &rec.config) && (rc = image_index_delete(s, all[i].name, err)) >= 0)
			printf("Untagged: %s\n", all[i].name);
	if (!by_id && (rc = image_index_delete(s, rec.name, err)) >= 0)
		printf("Untagged: %s\n", rec.name);
	image_records_free(all, n);
	image_record_free(&rec);
	return rc < 0 ? -1 : 0;
}

int cmd_rmi(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else if (c == 'h') {
			printf("usage: berth rmi [-f|--force] REF|ID...\n");
			return 0;
		} else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: berth rmi [-f|--force] REF|ID...\n");
		return 2;
	}
	struct berr err = {0};
	struct store *s = store_open(g->root, &err);
	if (!s)
		return cmd_fail("%s", err.message);
	int status = 0;
	for (int i = optind; i < argc; i++)
		if (rmi_one(s, argv[i], force, &err) < 0)
			status = cmd_fail("rmi %s: %s", argv[i], err.message);
	size_t removed = 0;
	if (image_index_gc(s, &removed, &err) < 0)
		status = cmd_fail("removing unused content: %s", err.message);
	store_close(s);
	return status;
}
