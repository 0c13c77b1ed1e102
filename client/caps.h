/* Linux capabilities of a container's process: docker's default set, --cap-add/--cap-drop
 * by name ("NET_ADMIN", "CAP_NET_ADMIN", "ALL"), and applying a set before exec. */
#ifndef BERTH_CLIENT_CAPS_H
#define BERTH_CLIENT_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/berr.h"

/* A capability set: bit N is capability N. */
typedef uint64_t caps_t;

/* docker's default set: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
 * SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE. */
caps_t caps_default(void);
/* Every capability this kernel knows. */
caps_t caps_all(void);
/* Add (add true) or remove the capability named name ("ALL" for every one) to *set;
 * an unknown name is BERR_BAD_REQUEST. */
int caps_change(caps_t *set, const char *name, bool add, struct berr *err);
/* True if the capability numbered cap is in set. */
bool caps_has(caps_t set, int cap);
/* Limit the bounding set to set and clear the ambient set. Call as root before changing uid. */
int caps_apply_bounding(caps_t set, struct berr *err);
/* After the uid change: as uid 0 the effective and permitted sets become set (inheritable
 * empty); as another uid they stay empty, as docker leaves them. */
int caps_apply_process(caps_t set, bool root, struct berr *err);

#endif
