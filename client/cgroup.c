/* cgroups for containers. The layout is found once: pure v2 (/sys/fs/cgroup is cgroup2),
 * hybrid with a usable unified mount, or v1. In v2 the controllers are enabled down the
 * path (root's and berth/'s cgroup.subtree_control); the container's cgroup is a leaf. */
#include "client/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_V1_MAX 3
static const char *const cgroup_v1_controllers[CGROUP_V1_MAX] = {"memory", "pids", "cpu"};

struct cgroup {
	bool v2;
	char *dirs[CGROUP_V1_MAX]; /* v2: dirs[0] only; v1: per controller, NULL if not created */
};

/* Write text to dir/file. */
static int cg_write(const char *dir, const char *file, const char *text, struct berr *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys(err, errno, "cgroup: open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return berr_sys(err, errno, "cgroup: write '%s' to %s", text, path);
	return 0;
}

/* Read dir/file (first 4 KiB) into buf. */
static bool cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* True if the whitespace-separated list has word. */
static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') && (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
			return true;
	return false;
}

/* The unified hierarchy's mount point when it has every controller we need, else NULL. */
static const char *cgroup_v2_root(void)
{
	static const char *const roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	for (size_t i = 0; i < 2; i++) {
		struct statfs st;
		char buf[512];
		if (statfs(roots[i], &st) < 0 || st.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		if (cg_read(roots[i], "cgroup.controllers", buf, sizeof buf) && has_word(buf, "memory") &&
		    has_word(buf, "pids") && has_word(buf, "cpu"))
			return roots[i];
	}
	return NULL;
}

/* mkdir that accepts an existing directory. */
static int cg_mkdir(const char *path, struct berr *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return berr_sys(err, errno, "cgroup: mkdir %s", path);
	return 0;
}

/* berth/<id> in the unified hierarchy at root, controllers enabled on the way. */
static int cgroup_create_v2(struct cgroup *cg, const char *root, const char *id, const struct cgroup_limits *lim,
                            struct berr *err)
{
	cleanup_free char *parent = xasprintf("%s/berth", root);
	if (cg_mkdir(parent, err) < 0)
		return -1;
	/* Enable the controllers for berth/ and its children (EBUSY-free: root and berth/
	 * hold no processes of ours). */
	if (cg_write(root, "cgroup.subtree_control", "+memory +pids +cpu", err) < 0 ||
	    cg_write(parent, "cgroup.subtree_control", "+memory +pids +cpu", err) < 0)
		return -1;
	cg->dirs[0] = xasprintf("%s/%s", parent, id);
	if (mkdir(cg->dirs[0], 0755) < 0)
		return berr_sys(err, errno, "cgroup: mkdir %s", cg->dirs[0]);
	char v[64];
	if (lim->memory) {
		snprintf(v, sizeof v, "%lld", (long long)lim->memory);
		if (cg_write(cg->dirs[0], "memory.max", v, err) < 0)
			return -1;
		struct berr ignore;
		cg_write(cg->dirs[0], "memory.swap.max", "0", &ignore); /* no swap controller: fine */
	}
	if (lim->pids) {
		snprintf(v, sizeof v, "%lld", (long long)lim->pids);
		if (cg_write(cg->dirs[0], "pids.max", v, err) < 0)
			return -1;
	}
	if (lim->cpu_millis) {
		snprintf(v, sizeof v, "%lld 100000", (long long)lim->cpu_millis * 100);
		if (cg_write(cg->dirs[0], "cpu.max", v, err) < 0)
			return -1;
	}
	return 0;
}

/* berth/<id> in each v1 hierarchy whose limit is asked for. */
static int cgroup_create_v1(struct cgroup *cg, const char *id, const struct cgroup_limits *lim, struct berr *err)
{
	for (int i = 0; i < CGROUP_V1_MAX; i++) {
		bool wanted = (i == 0 && lim->memory) || (i == 1 && lim->pids) || (i == 2 && lim->cpu_millis);
		cleanup_free char *mnt = xasprintf("/sys/fs/cgroup/%s", cgroup_v1_controllers[i]);
		struct statfs st;
		if (!wanted)
			continue;
		if (statfs(mnt, &st) < 0 || st.f_type == CGROUP2_SUPER_MAGIC)
			return berr_set(err, BERR_UNSUPPORTED,
			                "cgroup: the %s controller is not available (neither v2 nor %s)",
			                cgroup_v1_controllers[i], mnt);
		cleanup_free char *parent = xasprintf("%s/berth", mnt);
		if (cg_mkdir(parent, err) < 0)
			return -1;
		cg->dirs[i] = xasprintf("%s/%s", parent, id);
		if (mkdir(cg->dirs[i], 0755) < 0) {
			free(cg->dirs[i]);
			cg->dirs[i] = NULL;
			return berr_sys(err, errno, "cgroup: mkdir %s/%s", parent, id);
		}
	}
	char v[64];
	struct berr ignore;
	if (lim->memory) {
		snprintf(v, sizeof v, "%lld", (long long)lim->memory);
		if (cg_write(cg->dirs[0], "memory.limit_in_bytes", v, err) < 0)
			return -1;
		/* memsw exists only with swap accounting; without it there is no swap to limit. */
		cg_write(cg->dirs[0], "memory.memsw.limit_in_bytes", v, &ignore);
		cg_write(cg->dirs[0], "memory.swappiness", "0", &ignore);
	}
	if (lim->pids) {
		snprintf(v, sizeof v, "%lld", (long long)lim->pids);
		if (cg_write(cg->dirs[1], "pids.max", v, err) < 0)
			return -1;
	}
	if (lim->cpu_millis) {
		if (cg_write(cg->dirs[2], "cpu.cfs_period_us", "100000", err) < 0)
			return -1;
		snprintf(v, sizeof v, "%lld", (long long)lim->cpu_millis * 100);
		if (cg_write(cg->dirs[2], "cpu.cfs_quota_us", v, err) < 0)
			return -1;
	}
	return 0;
}

struct cgroup *cgroup_create(const char *id, const struct cgroup_limits *lim, struct berr *err)
{
	struct cgroup *cg = xcalloc(1, sizeof *cg);
	const char *root = cgroup_v2_root();
	cg->v2 = root != NULL;
	if (!lim->memory && !lim->cpu_millis && !lim->pids)
		return cg; /* nothing to limit: no cgroup (moving a task costs an RCU grace period) */
	int rc = cg->v2 ? cgroup_create_v2(cg, root, id, lim, err) : cgroup_create_v1(cg, id, lim, err);
	if (rc < 0) {
		cgroup_destroy(cg);
		return NULL;
	}
	return cg;
}

int cgroup_add(struct cgroup *cg, pid_t pid, struct berr *err)
{
	char v[32];
	snprintf(v, sizeof v, "%d", (int)pid);
	for (int i = 0; i < CGROUP_V1_MAX; i++)
		if (cg->dirs[i] && cg_write(cg->dirs[i], "cgroup.procs", v, err) < 0)
			return -1;
	return 0;
}

bool cgroup_oom_killed(struct cgroup *cg)
{
	char buf[4096];
	if (!cg->dirs[0])
		return false;
	const char *file = cg->v2 ? "memory.events" : "memory.oom_control";
	if (!cg_read(cg->dirs[0], file, buf, sizeof buf))
		return false;
	const char *p = strstr(buf, "oom_kill ");
	return p && atol(p + 9) > 0;
}

const char *cgroup_version(const struct cgroup *cg)
{
	return cg->v2 ? "v2" : "v1";
}

/* Kill every process listed in dir/cgroup.procs with SIGKILL. */
static void cg_kill_all(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/cgroup.procs", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	int pid;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			kill(pid, SIGKILL);
	fclose(f);
}

/* rmdir, retrying for up to 2 s while tasks are still leaving (EBUSY). */
static void cg_rmdir(const char *dir)
{
	for (int i = 0; i < 200; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			return;
		cg_kill_all(dir);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void cgroup_destroy(struct cgroup *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < CGROUP_V1_MAX; i++) {
		if (cg->dirs[i]) {
			cg_rmdir(cg->dirs[i]);
			free(cg->dirs[i]);
		}
	}
	free(cg);
}

void cgroup_remove_stale(const char *id)
{
	const char *root = cgroup_v2_root();
	if (root) {
		cleanup_free char *d = xasprintf("%s/berth/%s", root, id);
		cg_rmdir(d);
		return;
	}
	for (int i = 0; i < CGROUP_V1_MAX; i++) {
		cleanup_free char *d = xasprintf("/sys/fs/cgroup/%s/berth/%s", cgroup_v1_controllers[i], id);
		cg_rmdir(d);
	}
}
