/* berthd mirror add|list|del|run: replication rules managed on the data folder, while
 * berthd runs or not (a running berthd picks changes up within REPLICATION_POLL seconds). */
#ifndef BERTH_REPLICATION_CLI_H
#define BERTH_REPLICATION_CLI_H

/* Run `berthd mirror ...` (argv[1] is "mirror"); returns the exit status (2: bad usage). */
int replication_cli_main(int argc, char **argv);

#endif
