/* berth ps [-a] [-q]: running containers (all with -a), newest first. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/cmd.h"
#include "client/container.h"
#include "common/xalloc.h"

#define PS_USAGE "usage: berth ps [-a|--all] [-q|--quiet]"

int cmd_ps(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool all = false, quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "+aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf(PS_USAGE "\n\nList containers (running ones; -a: all; -q: IDs only).\n");
			return 0;
		default:
			fprintf(stderr, "berth: ps: " PS_USAGE "\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "berth: ps: " PS_USAGE "\n");
		return 2;
	}
	struct berr err = {0};
	struct container_state *list;
	size_t n;
	if (container_list(g->root, &list, &n, &err) < 0)
		return cmd_fail("ps: %s", err.message);
	if (!quiet)
		printf("%-12s   %-30s %-22s %-26s %s\n", "CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "NAMES");
	for (size_t i = 0; i < n; i++) {
		if (!all && list[i].status != CONTAINER_RUNNING)
			continue;
		if (quiet) {
			printf("%.12s\n", list[i].id);
			continue;
		}
		cleanup_free char *status = container_status_text(&list[i]);
		char cmd[24];
		snprintf(cmd, sizeof cmd, "%s", list[i].command);
		if (strlen(list[i].command) > 20)
			snprintf(cmd, sizeof cmd, "\"%.16s…\"", list[i].command);
		else
			snprintf(cmd, sizeof cmd, "\"%s\"", list[i].command);
		printf("%.12s   %-30s %-22s %-26s %s\n", list[i].id, list[i].image, cmd, status, list[i].name);
	}
	container_states_free(list, n);
	return 0;
}
