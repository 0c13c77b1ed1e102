/* berthd's administration commands (user, org, token, repo), run against the data folder
 * while the server runs or not. */
#ifndef BERTH_ADMIN_H
#define BERTH_ADMIN_H

#include <stdbool.h>

/* True if argv[1] names an administration command. */
bool admin_is_command(const char *word);
/* Run it; returns the process exit status. */
int admin_main(int argc, char **argv);

#endif
