/* A container's cgroup, holding its resource limits (--memory, --cpus, --pids-limit):
 * cgroup v2 when the unified hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified in the
 * hybrid layout) offers the memory, pids and cpu controllers; otherwise one directory per
 * v1 controller (/sys/fs/cgroup/<controller>/berth/<id>). */
#ifndef BERTH_CLIENT_CGROUP_H
#define BERTH_CLIENT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/berr.h"

struct cgroup_limits {
	int64_t memory;     /* bytes, 0 for none */
	int64_t cpu_millis; /* thousandths of a CPU, 0 for none */
	int64_t pids;       /* 0 for none */
};

struct cgroup;

/* Create the cgroup berth/<id> with these limits, in v1 only in the hierarchies of the
 * limits asked for; with no limit at all nothing is created (the container's PID namespace
 * already ends every process with its init) and cgroup_add does nothing. A limit whose
 * controller is unavailable is an error naming it. Free with cgroup_destroy. */
struct cgroup *cgroup_create(const char *id, const struct cgroup_limits *lim, struct berr *err);
/* Move process pid into the cgroup. */
int cgroup_add(struct cgroup *cg, pid_t pid, struct berr *err);
/* True if the kernel's OOM killer killed a process of the cgroup. */
bool cgroup_oom_killed(struct cgroup *cg);
/* "v1" or "v2". */
const char *cgroup_version(const struct cgroup *cg);
/* Kill what is left, remove the directories (retrying while the kernel still counts dying
 * tasks) and free cg. NULL is allowed. */
void cgroup_destroy(struct cgroup *cg);
/* Remove berth/<id> of a container whose monitor is gone (berth rm). */
void cgroup_remove_stale(const char *id);

#endif
