/* berth pull [--platform os/arch[/variant]] [-q] REF */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/pull.h"
#include "client/store.h"

int cmd_pull(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"platform", required_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct platform plat;
	bool have_plat = false, quiet = false;
	struct berr err = {0};
	int c;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (platform_parse(optarg, &plat, &err) < 0)
				return cmd_fail("%s", err.message);
			have_plat = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf("usage: berth pull [--platform os/arch[/variant]] [-q|--quiet] REF\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: berth pull [--platform os/arch[/variant]] [-q|--quiet] REF\n");
		return 2;
	}
	struct store *s = store_open(g->root, &err);
	if (!s)
		return cmd_fail("%s", err.message);
	struct pull_opts o = {
	    .insecure = g->insecure,
	    .ninsecure = g->ninsecure,
	    .platform = have_plat ? &plat : NULL,
	    .out = stdout,
	    .tty = isatty(STDOUT_FILENO),
	    .quiet = quiet,
	};
	struct pull_result res;
	int rc = pull_image(s, argv[optind], &o, &res, &err);
	store_close(s);
	if (rc < 0) {
		pull_result_free(&res);
		fflush(stdout);
		return cmd_fail("%s", err.message);
	}
	if (!quiet) {
		printf("Digest: %s\n", res.digest.str);
		if (res.changed || res.layers_fetched)
			printf("Status: Downloaded newer image for %s\n", res.name);
		else
			printf("Status: Image is up to date for %s\n", res.name);
	}
	printf("%s\n", res.name);
	pull_result_free(&res);
	return 0;
}
