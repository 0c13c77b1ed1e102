/* berth stop [-t SECONDS] CONTAINER...: SIGTERM, then SIGKILL after the grace period. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/cmd.h"
#include "client/container.h"

#define STOP_USAGE "usage: berth stop [-t|--time SECONDS] CONTAINER..."

int cmd_stop(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"time", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	unsigned timeout = 10;
	int c;
	while ((c = getopt_long(argc, argv, "+t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || v < 0 || v > 3600)
				return cmd_fail("stop: invalid --time '%.40s' (seconds, 0 to 3600)", optarg);
			timeout = (unsigned)v;
			break;
		}
		case 'h':
			printf(STOP_USAGE "\n\nStop running containers: SIGTERM, then SIGKILL after --time (10 s).\n");
			return 0;
		default:
			fprintf(stderr, "berth: stop: " STOP_USAGE "\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "berth: stop: " STOP_USAGE "\n");
		return 2;
	}
	int status = 0;
	for (int i = optind; i < argc; i++) {
		struct berr err = {0};
		struct container_state s;
		if (container_find(g->root, argv[i], &s, &err) < 0 || container_stop(g->root, &s, timeout, &err) < 0) {
			status = cmd_fail("stop: %s", err.message);
			continue;
		}
		container_state_free(&s);
		printf("%s\n", argv[i]);
	}
	return status;
}
