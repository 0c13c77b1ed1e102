/* berth logs CONTAINER: the output of a detached container (stdout and stderr, as written). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/container.h"
#include "common/xalloc.h"

int cmd_logs(const struct cli *g, int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: berth logs CONTAINER\n\nPrint what a detached container wrote to stdout and stderr.\n");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "berth: logs: usage: berth logs CONTAINER\n");
		return 2;
	}
	struct berr err = {0};
	struct container_state s;
	if (container_find(g->root, argv[1], &s, &err) < 0)
		return cmd_fail("logs: %s", err.message);
	cleanup_free char *path = container_log_path(g->root, s.id);
	container_state_free(&s);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* a foreground container: its output went to the terminal */
		return cmd_fail("logs: open %s: %s", path, strerror(errno));
	}
	char buf[65536];
	ssize_t n;
	fflush(stdout);
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			return cmd_fail("logs: write: %s", strerror(errno));
	}
	if (n < 0)
		return cmd_fail("logs: read %s: %s", path, strerror(errno));
	return 0;
}
