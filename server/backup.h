/* berthd backup DIR: a consistent online copy of a data folder. */
#ifndef BERTH_BACKUP_H
#define BERTH_BACKUP_H

/* Run `berthd backup DIR [--data SRC]` (argv[1] is "backup"); returns the exit status. */
int backup_main(int argc, char **argv);

#endif
