/* Capabilities by name and applied with the raw capset(2)/prctl(2) interfaces, so berth
 * needs no libcap. */
#include "client/caps.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const caps_names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};
#define CAPS_KNOWN ((int)(sizeof caps_names / sizeof caps_names[0]))

/* Highest capability number of the running kernel (CAP_LAST_CAP at build time otherwise). */
static int caps_last(void)
{
	static int last = -1;
	if (last < 0) {
		FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
		int v;
		if (f && fscanf(f, "%d", &v) == 1 && v > 0 && v < 64)
			last = v;
		else
			last = CAP_LAST_CAP;
		if (f)
			fclose(f);
	}
	return last;
}

caps_t caps_default(void)
{
	static const int def[] = {CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
	                          CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
	                          CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
	                          CAP_KILL,    CAP_AUDIT_WRITE};
	caps_t s = 0;
	for (size_t i = 0; i < sizeof def / sizeof def[0]; i++)
		s |= (caps_t)1 << def[i];
	return s;
}

caps_t caps_all(void)
{
	int last = caps_last();
	return last >= 63 ? ~(caps_t)0 : (((caps_t)1 << (last + 1)) - 1);
}

int caps_change(caps_t *set, const char *name, bool add, struct berr *err)
{
	const char *n = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
	caps_t bits = 0;
	if (strcasecmp(n, "ALL") == 0) {
		bits = caps_all();
	} else {
		for (int i = 0; i < CAPS_KNOWN; i++)
			if (strcasecmp(n, caps_names[i]) == 0)
				bits = (caps_t)1 << i;
		if (!bits) {
			char q[160];
			berr_quote(name, strlen(name), 32, q, sizeof q);
			return berr_set(err, BERR_BAD_REQUEST, "unknown capability '%s'", q);
		}
	}
	if (add)
		*set |= bits;
	else
		*set &= ~bits;
	return 0;
}

bool caps_has(caps_t set, int cap)
{
	return cap >= 0 && cap < 64 && (set >> cap) & 1;
}

int caps_apply_bounding(caps_t set, struct berr *err)
{
	int last = caps_last();
	for (int c = 0; c <= last; c++) {
		if (caps_has(set, c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return berr_sys(err, errno, "drop capability %d from the bounding set", c);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return berr_sys(err, errno, "clear ambient capabilities");
	return 0;
}

int caps_apply_process(caps_t set, bool root, struct berr *err)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	if (root) {
		/* Never more than berth holds itself (it may run with a reduced set). */
		if (syscall(SYS_capget, &h, d) < 0)
			return berr_sys(err, errno, "get capabilities");
		caps_t held = (caps_t)d[0].permitted | ((caps_t)d[1].permitted << 32);
		memset(d, 0, sizeof d);
		h.version = _LINUX_CAPABILITY_VERSION_3;
		h.pid = 0;
		caps_t s = set & caps_all() & held;
		d[0].effective = d[0].permitted = (uint32_t)s;
		d[1].effective = d[1].permitted = (uint32_t)(s >> 32);
	}
	if (syscall(SYS_capset, &h, d) < 0)
		return berr_sys(err, errno, "set capabilities");
	return 0;
}
