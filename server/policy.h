/* berthd policy ... and berthd retention: manage tag immutability and retention rules,
 * and run retention, on the data folder (while berthd serves or not). */
#ifndef BERTH_POLICY_H
#define BERTH_POLICY_H

/* berthd policy ...; returns the process exit status. */
int policy_main(int argc, char **argv);
/* berthd webhook ...; returns the process exit status. */
int policy_webhook_main(int argc, char **argv);
/* berthd retention [--dry-run]; returns the process exit status. */
int policy_retention_main(int argc, char **argv);

#endif
