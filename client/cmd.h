/* The berth command line: global options shared by every command, and one entry point
 * per command (client/cmd_<name>.c). Each returns the process exit status. */
#ifndef BERTH_CLIENT_CMD_H
#define BERTH_CLIENT_CMD_H

#include <stdbool.h>
#include <stddef.h>

struct cli {
	const char *root; /* local store */
	char **insecure;  /* --insecure-registry and BERTH_INSECURE_REGISTRIES */
	size_t ninsecure;
};

/* argv[0] is the command name; options follow. */
int cmd_pull(const struct cli *g, int argc, char **argv);
int cmd_push(const struct cli *g, int argc, char **argv);
int cmd_copy(const struct cli *g, int argc, char **argv);
int cmd_images(const struct cli *g, int argc, char **argv);
int cmd_inspect(const struct cli *g, int argc, char **argv);
int cmd_tag(const struct cli *g, int argc, char **argv);
int cmd_rmi(const struct cli *g, int argc, char **argv);
int cmd_login(const struct cli *g, int argc, char **argv);
int cmd_logout(const struct cli *g, int argc, char **argv);
/* Containers (client/cmd_run.c, cmd_ps.c, cmd_logs.c, cmd_stop.c, cmd_rm.c). */
int cmd_run(const struct cli *g, int argc, char **argv);
int cmd_ps(const struct cli *g, int argc, char **argv);
int cmd_logs(const struct cli *g, int argc, char **argv);
int cmd_stop(const struct cli *g, int argc, char **argv);
int cmd_rm(const struct cli *g, int argc, char **argv);

/* Print "berth: <msg>" on stderr; returns 1 for `return cmd_fail(...)`. */
int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
