/* berth push [-q] REF */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/push.h"
#include "client/store.h"

#define PUSH_USAGE "usage: berth push [-q|--quiet] REF\n"

int cmd_push(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf(PUSH_USAGE);
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(PUSH_USAGE, stderr);
		return 2;
	}
	struct berr err = {0};
	struct store *s = store_open(g->root, &err);
	if (!s)
		return cmd_fail("%s", err.message);
	struct push_opts o = {
	    .insecure = g->insecure,
	    .ninsecure = g->ninsecure,
	    .out = stdout,
	    .tty = isatty(STDOUT_FILENO),
	    .quiet = quiet,
	};
	struct push_result res;
	int rc = push_image(s, argv[optind], &o, &res, &err);
	store_close(s);
	if (rc < 0) {
		push_result_free(&res);
		fflush(stdout);
		return cmd_fail("%s", err.message);
	}
	if (res.single_of_index)
		fprintf(stderr, "berth: %s was pulled from a multi-platform index; pushing only its %s image\n",
		        res.name, res.platform);
	if (!quiet)
		printf("%zu blobs uploaded, %zu mounted, %zu already present\n", res.uploaded, res.mounted,
		       res.present);
	const char *at = strrchr(res.name, '@');
	const char *tag = at ? at + 1 : strrchr(res.name, ':') + 1;
	printf("%s: digest: %s size: %zu\n", tag, res.digest.str, res.size);
	push_result_free(&res);
	return 0;
}
