/* berth rm [-f] CONTAINER...: remove stopped containers (-f: kill running ones first). */
#include <getopt.h>
#include <stdio.h>

#include "client/cmd.h"
#include "client/container.h"

#define RM_USAGE "usage: berth rm [-f|--force] CONTAINER..."

int cmd_rm(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			printf(RM_USAGE "\n\nRemove containers and their files (-f: kill running ones first).\n");
			return 0;
		default:
			fprintf(stderr, "berth: rm: " RM_USAGE "\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "berth: rm: " RM_USAGE "\n");
		return 2;
	}
	int status = 0;
	for (int i = optind; i < argc; i++) {
		struct berr err = {0};
		struct container_state s;
		if (container_find(g->root, argv[i], &s, &err) < 0 || container_remove(g->root, &s, force, &err) < 0) {
			status = cmd_fail("rm: %s", err.message);
			continue;
		}
		container_state_free(&s);
		printf("%s\n", argv[i]);
	}
	return status;
}
