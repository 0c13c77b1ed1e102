/* berthd fsck [--repair]: check the blob store against the metadata. */
#ifndef BERTH_FSCK_H
#define BERTH_FSCK_H

/* Run `berthd fsck ...` (argv[1] is "fsck"); returns the exit status: 0 when everything is
 * consistent (or was repaired), 1 when problems remain, 2 for bad usage. */
int fsck_main(int argc, char **argv);

#endif
