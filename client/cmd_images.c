/* berth images [-q]: the local image names, one line each. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"
#include "client/image_index.h"
#include "common/xalloc.h"

/* "12.3MB" (decimal, as docker prints sizes). */
static void images_fmt_size(int64_t v, char *buf, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double d = (double)v;
	size_t u = 0;
	while (d >= 1000 && u < 4)
		d /= 1000, u++;
	snprintf(buf, len, u ? "%.3g%s" : "%.0f%s", d, units[u]);
}

/* Split "registry/repo:tag" or "registry/repo@digest" into repository and tag columns. */
static void images_split(const char *name, char **repo, const char **tag)
{
	const char *at = strchr(name, '@');
	if (at) {
		*repo = xstrndup(name, (size_t)(at - name));
		*tag = "<none>";
		return;
	}
	const char *colon = strrchr(name, ':');
	const char *slash = strrchr(name, '/');
	if (colon && (!slash || colon > slash)) {
		*repo = xstrndup(name, (size_t)(colon - name));
		*tag = colon + 1;
	} else {
		*repo = xstrdup(name);
		*tag = "<none>";
	}
}

int cmd_images(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = true;
		else if (c == 'h') {
			printf("usage: berth images [-q|--quiet]\n");
			return 0;
		} else
			return 2;
	}
	struct berr err = {0};
	struct store *s = store_open(g->root, &err);
	if (!s)
		return cmd_fail("%s", err.message);
	struct image_record *recs;
	size_t n;
	if (image_index_list(s, &recs, &n, &err) < 0) {
		store_close(s);
		return cmd_fail("%s", err.message);
	}
	if (!quiet)
		printf("%-48s %-16s %-14s %-21s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	for (size_t i = 0; i < n; i++) {
		const char *id = digest_hex(&recs[i].config);
		if (quiet) {
			printf("%.12s\n", id);
			continue;
		}
		struct image_info info;
		char created[32] = "-", size[16] = "-";
		if (image_info_load(s, &recs[i], &info, NULL) == 0) {
			const char *cr = json_string_value(json_object_get(info.config, "created"));
			if (cr && strlen(cr) >= 19)
				snprintf(created, sizeof created, "%.10s %.8s", cr, cr + 11);
			images_fmt_size(info.size, size, sizeof size);
			image_info_free(&info);
		}
		cleanup_free char *repo = NULL;
		const char *tag;
		images_split(recs[i].name, &repo, &tag);
		printf("%-48s %-16s %-14.12s %-21s %s\n", repo, tag, id, created, size);
	}
	image_records_free(recs, n);
	store_close(s);
	return 0;
}
