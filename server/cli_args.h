/* The command lines of berthd's subcommands (`berthd user add ...`, `berthd policy ...`,
 * `berthd gc ...`): one parser that tells a subcommand's own options and words from the
 * server options (--data, --config...) it hands on to config_load. */
#ifndef BERTH_CLI_ARGS_H
#define BERTH_CLI_ARGS_H

#include <stdbool.h>

#include "common/berr.h"

struct config;

/* One option of a subcommand: "--NAME VALUE" or "--NAME=VALUE" stores VALUE (pointing into
 * argv) in *value; a switch "--NAME" sets *flag. Exactly one of value and flag is set; a
 * table ends with an entry whose name is NULL. */
struct cli_opt {
	const char *name; /* with its dashes: "--email" */
	const char **value;
	bool *flag;
};

/* What cli_args_parse found. */
struct cli_args {
	const char **pos; /* the caller's array for the subcommand's words */
	int maxpos;       /* its size: one word more is an error */
	int npos;
	char **rest; /* the server options, in order, for config_load (heap: cli_args_free) */
	int nrest;
	bool help; /* --help or -h: the words after it were not read */
};

/* Split argv[from..argc) into the options of opts, words (into a->pos, at most a->maxpos)
 * and server options with their values (into a->rest). Returns 0, or -1 with err for a
 * missing value, a value given to a switch, or one word too many. */
int cli_args_parse(int argc, char **argv, int from, const struct cli_opt *opts, struct cli_args *a, struct berr *err);
/* For the commands on an existing data folder (gc, fsck): cli_args_parse, usage on stdout for
 * --help, then config_load_data. Returns true with cfg loaded and *db set (heap, caller
 * frees); false when the command is over (help printed, or an error printed): *status is
 * then its exit status (0 or 2) and cfg holds nothing to free. */
bool cli_args_load_data(int argc, char **argv, const struct cli_opt *opts, const char *usage, struct config *cfg,
                        char **db, int *status);
/* Free what cli_args_parse allocated (a->rest); the words point into argv. */
void cli_args_free(struct cli_args *a);

#endif
