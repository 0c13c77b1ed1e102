/* A container's life. berth run is the monitor: it creates the cgroup, clones the init
 * process into new mount/PID/UTS/IPC (and network) namespaces, lets it go once it sits in
 * the cgroup, forwards signals, relays the pty, waits, and records the exit. The init (PID 1
 * of the container) builds the filesystem view, pivots into it, resolves the user, then
 * forks the container's process and reaps every zombie until that process exits, whose
 * status it returns. Setup errors travel back on a close-on-exec pipe as "CODE message". */
#include "client/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client/seccomp.h"
#include "client/store.h"
#include "common/xalloc.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

/* Largest state.json read. */
#define CONTAINER_STATE_MAX (256 * 1024)
/* Largest error message passed back from the init. */
#define CONTAINER_MSG_MAX 1024

void container_config_free(struct container_config *c)
{
	free(c->name);
	free(c->image);
	free(c->image_id);
	strv_free(&c->argv);
	strv_free(&c->env);
	free(c->cwd);
	free(c->user);
	free(c->hostname);
	for (size_t i = 0; i < c->nvolumes; i++) {
		free(c->volumes[i].src);
		free(c->volumes[i].dst);
	}
	free(c->volumes);
	for (size_t i = 0; i < c->nlowers; i++)
		free(c->lowers[i]);
	free(c->lowers);
	memset(c, 0, sizeof *c);
}

/* ROOT/containers; heap. */
static char *containers_dir(const char *root)
{
	return xasprintf("%s/containers", root);
}

/* A container's directory ROOT/containers/<id>; heap. */
static char *bundle_path(const char *root, const char *id)
{
	return xasprintf("%s/containers/%s", root, id);
}

char *container_log_path(const char *root, const char *id)
{
	return xasprintf("%s/containers/%s/log", root, id);
}

/* Write a whole file atomically (temp, rename). No fsync: these files describe processes,
 * which a crash ends anyway; a reader never sees a partial file. */
static int write_file(const char *path, const char *data, size_t len, struct berr *err)
{
	cleanup_free char *tmp = xasprintf("%s.tmp-%d", path, (int)getpid());
	cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return berr_sys(err, errno, "create %s", tmp);
	if (write(fd, data, len) != (ssize_t)len) {
		int e = errno;
		unlink(tmp);
		return berr_sys(err, e, "write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return berr_sys(err, e, "rename %s", tmp);
	}
	return 0;
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), 0 if gone. */
static uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return 0;
	unsigned long long v = 0;
	/* After ") ": state is field 3; starttime is field 22. */
	int field = 2;
	for (char *t = p + 1; *t; t++) {
		if (*t == ' ') {
			field++;
			if (field == 22) {
				v = strtoull(t + 1, NULL, 10);
				break;
			}
		}
	}
	return v;
}

/* The "Status" string of state.json. */
static const char *status_name(enum container_status s)
{
	return s == CONTAINER_RUNNING ? "running" : s == CONTAINER_EXITED ? "exited" : "created";
}

/* Write the state file of s. */
static int state_save(const char *root, const struct container_state *s, struct berr *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:i, s:I, s:i, s:b}", "Id", s->id, "Name",
	                      s->name, "Image", s->image, "Command", s->command, "Created", (json_int_t)s->created,
	                      "Finished", (json_int_t)s->finished, "Status", status_name(s->status), "ExitCode",
	                      s->exit_code, "Pid", (int)s->pid, "PidStart", (json_int_t)s->pid_start, "Monitor",
	                      (int)s->monitor, "AutoRemove", s->rm);
	cleanup_free char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	cleanup_free char *dir = bundle_path(root, s->id);
	cleanup_free char *path = xasprintf("%s/state.json", dir);
	return write_file(path, text, strlen(text), err);
}

void container_state_free(struct container_state *s)
{
	free(s->name);
	free(s->image);
	free(s->command);
	memset(s, 0, sizeof *s);
}

void container_states_free(struct container_state *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		container_state_free(&s[i]);
	free(s);
}

/* Load ROOT/containers/<id>/state.json; a running state whose processes are gone becomes
 * exited (exit code unknown). */
static int state_load(const char *root, const char *id, struct container_state *s, struct berr *err)
{
	memset(s, 0, sizeof *s);
	cleanup_free char *path = xasprintf("%s/containers/%s/state.json", root, id);
	json_error_t je;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return berr_set(err, BERR_NAME_UNKNOWN, "container %s: unreadable state: %s", id, je.text);
	const char *sid = json_string_value(json_object_get(o, "Id"));
	const char *st = json_string_value(json_object_get(o, "Status"));
	if (!sid || strlen(sid) != 64 || strcmp(sid, id) != 0 || !st) {
		json_decref(o);
		return berr_set(err, BERR_NAME_UNKNOWN, "container %s: invalid state file", id);
	}
	snprintf(s->id, sizeof s->id, "%s", sid);
	const char *v;
	s->name = xstrdup((v = json_string_value(json_object_get(o, "Name"))) ? v : "");
	s->image = xstrdup((v = json_string_value(json_object_get(o, "Image"))) ? v : "");
	s->command = xstrdup((v = json_string_value(json_object_get(o, "Command"))) ? v : "");
	s->created = json_integer_value(json_object_get(o, "Created"));
	s->finished = json_integer_value(json_object_get(o, "Finished"));
	s->status = strcmp(st, "running") == 0  ? CONTAINER_RUNNING
	            : strcmp(st, "exited") == 0 ? CONTAINER_EXITED
	                                        : CONTAINER_CREATED;
	s->exit_code = (int)json_integer_value(json_object_get(o, "ExitCode"));
	s->pid = (pid_t)json_integer_value(json_object_get(o, "Pid"));
	s->pid_start = (uint64_t)json_integer_value(json_object_get(o, "PidStart"));
	s->monitor = (pid_t)json_integer_value(json_object_get(o, "Monitor"));
	s->rm = json_is_true(json_object_get(o, "AutoRemove"));
	json_decref(o);
	if (s->status == CONTAINER_RUNNING && (s->pid <= 0 || proc_start_time(s->pid) != s->pid_start) &&
	    (s->monitor <= 0 || kill(s->monitor, 0) < 0)) {
		s->status = CONTAINER_EXITED;
		s->exit_code = -1;
	}
	return 0;
}

/* Every container id (64 hex digits) under ROOT/containers. */
static int list_ids(const char *root, char ***ids, size_t *n, struct berr *err)
{
	*ids = NULL;
	*n = 0;
	cleanup_free char *dir = containers_dir(root);
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return berr_sys(err, errno, "open %s", dir);
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 64 || strspn(e->d_name, "0123456789abcdef") != 64)
			continue;
		*ids = xrealloc(*ids, (*n + 1) * sizeof **ids);
		(*ids)[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	return 0;
}

/* qsort order: newest first, then by id. */
static int state_cmp(const void *a, const void *b)
{
	const struct container_state *x = a, *y = b;
	return x->created < y->created ? 1 : x->created > y->created ? -1 : strcmp(x->id, y->id);
}

int container_list(const char *root, struct container_state **out, size_t *n, struct berr *err)
{
	char **ids;
	size_t nids;
	*out = NULL;
	*n = 0;
	if (list_ids(root, &ids, &nids, err) < 0)
		return -1;
	for (size_t i = 0; i < nids; i++) {
		struct container_state s;
		struct berr ignore;
		if (state_load(root, ids[i], &s, &ignore) == 0) {
			*out = xrealloc(*out, (*n + 1) * sizeof **out);
			(*out)[(*n)++] = s;
		}
		free(ids[i]);
	}
	free(ids);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, state_cmp);
	return 0;
}

int container_find(const char *root, const char *ref, struct container_state *out, struct berr *err)
{
	struct container_state *all;
	size_t n;
	char q[160];
	berr_quote(ref, strlen(ref), 32, q, sizeof q);
	if (container_list(root, &all, &n, err) < 0)
		return -1;
	long hit = -1;
	size_t prefix_hits = 0;
	for (size_t i = 0; i < n && hit < 0; i++)
		if (strcmp(all[i].name, ref) == 0 || strcmp(all[i].id, ref) == 0)
			hit = (long)i;
	if (hit < 0 && strlen(ref) >= 3 && strspn(ref, "0123456789abcdef") == strlen(ref)) {
		for (size_t i = 0; i < n; i++) {
			if (strncmp(all[i].id, ref, strlen(ref)) == 0) {
				hit = (long)i;
				prefix_hits++;
			}
		}
		if (prefix_hits > 1) {
			container_states_free(all, n);
			return berr_set(err, BERR_NAME_INVALID, "container id prefix '%s' is ambiguous", q);
		}
	}
	if (hit < 0) {
		container_states_free(all, n);
		return berr_set(err, BERR_NAME_UNKNOWN, "no such container: %s", q);
	}
	*out = all[hit];
	memset(&all[hit], 0, sizeof all[hit]);
	container_states_free(all, n);
	return 0;
}

/* Valid container name (docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128). */
static bool name_valid(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 128 ||
	    !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= '0' && n[0] <= '9')))
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

/* "a b c" from argv, for display; heap. */
static char *join_argv(const struct strv *v)
{
	size_t len = 1;
	for (size_t i = 0; i < v->n; i++)
		len += strlen(v->v[i]) + 1;
	char *s = xcalloc(1, len);
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, v->v[i]);
	}
	return s;
}

/* Hold ROOT/containers/.lock exclusively; returns the fd (close to release). */
static int containers_lock(const char *root, struct berr *err)
{
	cleanup_free char *dir = containers_dir(root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return berr_sys(err, errno, "mkdir %s", dir);
	cleanup_free char *path = xasprintf("%s/.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return berr_sys(err, errno, "open %s", path);
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		close(fd);
		return berr_sys(err, e, "lock %s", path);
	}
	return fd;
}

/* The files bound on /etc/hosts, /etc/hostname and /etc/resolv.conf. */
static int write_etc(const char *bundle, const struct container_config *c, struct berr *err)
{
	cleanup_free char *hosts = NULL;
	if (c->net_host) {
		FILE *f = fopen("/etc/hosts", "re");
		if (f) {
			char buf[65536];
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = '\0';
			hosts = xstrdup(buf);
		}
	}
	if (!hosts)
		hosts = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
		                  "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
		                  "ff02::2\tip6-allrouters\n127.0.1.1\t%s\n",
		                  c->hostname);
	char resolv[65536] = "";
	FILE *f = fopen("/etc/resolv.conf", "re");
	if (f) {
		size_t n = fread(resolv, 1, sizeof resolv - 1, f);
		resolv[n] = '\0';
		fclose(f);
	}
	cleanup_free char *hn = xasprintf("%s\n", c->hostname);
	cleanup_free char *p1 = xasprintf("%s/hosts", bundle);
	cleanup_free char *p2 = xasprintf("%s/hostname", bundle);
	cleanup_free char *p3 = xasprintf("%s/resolv.conf", bundle);
	if (write_file(p1, hosts, strlen(hosts), err) < 0 || write_file(p2, hn, strlen(hn), err) < 0 ||
	    write_file(p3, resolv, strlen(resolv), err) < 0)
		return -1;
	return 0;
}

int container_create(const char *root, struct container_config *c, struct berr *err)
{
	unsigned char rnd[32];
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		return berr_sys(err, errno, "getrandom");
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(c->id + 2 * i, 3, "%02x", rnd[i]);
	if (!c->name)
		c->name = xstrndup(c->id, 12);
	else if (!name_valid(c->name))
		return berr_set(err, BERR_BAD_REQUEST,
		                "invalid container name '%.128s': only [a-zA-Z0-9][a-zA-Z0-9_.-]", c->name);
	if (!c->hostname) {
		char hn[256] = "";
		if (c->net_host && gethostname(hn, sizeof hn - 1) == 0 && hn[0])
			c->hostname = xstrdup(hn);
		else
			c->hostname = xstrndup(c->id, 12);
	}
	cleanup_close int lock = containers_lock(root, err);
	if (lock < 0)
		return -1;
	struct container_state *all;
	size_t n;
	if (container_list(root, &all, &n, err) < 0)
		return -1;
	bool taken = false;
	for (size_t i = 0; i < n; i++)
		taken |= strcmp(all[i].name, c->name) == 0;
	container_states_free(all, n);
	if (taken)
		return berr_set(err, BERR_CONFLICT,
		                "the container name \"%s\" is already in use (remove it with berth rm %s)", c->name,
		                c->name);
	cleanup_free char *bundle = bundle_path(root, c->id);
	static const char *const sub[] = {"", "/rootfs", "/upper", "/work"};
	for (size_t i = 0; i < 4; i++) {
		cleanup_free char *d = xasprintf("%s%s", bundle, sub[i]);
		if (mkdir(d, i == 0 ? 0700 : 0755) < 0)
			return berr_sys(err, errno, "mkdir %s", d);
	}
	if (write_etc(bundle, c, err) < 0)
		return -1;
	cleanup_free char *cmd = join_argv(&c->argv);
	struct container_state s = {.created = time(NULL),
	                            .status = CONTAINER_CREATED,
	                            .rm = c->rm,
	                            .name = c->name,
	                            .image = c->image,
	                            .command = cmd};
	memcpy(s.id, c->id, sizeof s.id);
	return state_save(root, &s, err);
}

/* ---------------------------------------------------------------- inside the container */

/* Report "CODE message" on the error pipe and exit with code. */
__attribute__((noreturn)) static void init_fail(int errfd, int code, const char *msg)
{
	char buf[CONTAINER_MSG_MAX + 16];
	int n = snprintf(buf, sizeof buf, "%d %s", code, msg);
	if (n > 0 && write(errfd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
		_exit(code);
	_exit(code);
}

/* execve argv[0], searched in the container's PATH when it has no '/'. Returns only on
 * failure, with the exit code (127 not found, 126 not executable) and a message. */
static int exec_process(char *const *argv, char *const *envp, const char *path, char *msg, size_t msglen)
{
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		int e = errno;
		snprintf(msg, msglen, "exec %s: %s", argv[0], strerror(e));
		return e == ENOENT || e == ENOTDIR ? 127 : 126;
	}
	bool denied = false;
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		cleanup_free char *full = xasprintf("%s/%s", *dir ? dir : ".", argv[0]);
		execve(full, argv, envp);
		if (errno == EACCES)
			denied = true;
	}
	if (denied) {
		snprintf(msg, msglen, "exec: \"%s\": permission denied", argv[0]);
		return 126;
	}
	snprintf(msg, msglen, "exec: \"%s\": executable file not found in $PATH", argv[0]);
	return 127;
}

static volatile pid_t init_child;

/* The init's handler: pass the signal on to the container's process. */
static void init_forward(int sig)
{
	if (init_child > 0)
		kill(init_child, sig);
}

struct init_args {
	const struct container_config *c;
	const char *bundle;
	int go_fd;  /* read: the monitor placed us in the cgroup */
	int err_fd; /* write, close-on-exec */
	int tty_fd; /* pty slave, or -1 */
	const char *tty_name;
};

/* The container's process: user, capabilities, no_new_privs, seccomp, exec. */
__attribute__((noreturn)) static void process_main(const struct init_args *a, const struct run_user *u,
                                                   char *const *envp)
{
	const struct container_config *c = a->c;
	struct berr err = {0};
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	if (a->tty_fd >= 0) {
		if (ioctl(a->tty_fd, TIOCSCTTY, 0) < 0)
			init_fail(a->err_fd, CONTAINER_EXIT_BERTH, "cannot make the pty the controlling terminal");
		for (int fd = 0; fd < 3; fd++)
			dup2(a->tty_fd, fd);
		if (a->tty_fd > 2)
			close(a->tty_fd);
	} else if (!c->interactive) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (nul < 0 || dup2(nul, 0) < 0)
			init_fail(a->err_fd, CONTAINER_EXIT_BERTH, "cannot open /dev/null for stdin");
		close(nul);
	}
	if (caps_apply_bounding(c->caps, &err) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	if (setgroups(u->ngroups, u->groups) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0) {
		char m[128];
		snprintf(m, sizeof m, "cannot switch to uid %u gid %u: %s", (unsigned)u->uid, (unsigned)u->gid,
		         strerror(errno));
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, m);
	}
	if (caps_apply_process(c->caps, u->uid == 0, &err) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	if (chdir(c->cwd) < 0) {
		char m[512];
		snprintf(m, sizeof m, "cannot enter the working directory %s: %s", c->cwd, strerror(errno));
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, m);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, "cannot set no_new_privs");
	if (!c->privileged && seccomp_apply_default(c->caps, &err) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	const char *path = NULL;
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	char msg[CONTAINER_MSG_MAX];
	int code =
	    exec_process(c->argv.v, envp, path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	                 msg, sizeof msg);
	init_fail(a->err_fd, code, msg);
}

/* PID 1 of the container. */
__attribute__((noreturn)) static void init_main(const struct init_args *a)
{
	const struct container_config *c = a->c;
	struct berr err = {0};
	char go;
	if (read(a->go_fd, &go, 1) != 1)
		_exit(CONTAINER_EXIT_BERTH);
	close(a->go_fd);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (sethostname(c->hostname, strlen(c->hostname)) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, "sethostname failed");
	if (!c->net_host && linux_loopback_up(&err) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	struct linux_rootfs r = {
	    .bundle = a->bundle,
	    .lowers = c->lowers,
	    .nlowers = c->nlowers,
	    .force_copy = c->force_copy,
	    .volatile_upper = c->rm,
	    .privileged = c->privileged,
	    .volumes = c->volumes,
	    .nvolumes = c->nvolumes,
	    .console = a->tty_name,
	};
	if (linux_rootfs_prepare(&r, &err) < 0 || linux_pivot_root(a->bundle, &err) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	FILE *pw = fopen("/etc/passwd", "re"), *gr = fopen("/etc/group", "re");
	struct run_user u;
	int urc = run_config_user(c->user ? c->user : "", pw, gr, &u, &err);
	if (pw)
		fclose(pw);
	if (gr)
		fclose(gr);
	if (urc < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	if (linux_mkdir_p(c->cwd, &err) < 0 || linux_finish(c->privileged, c->read_only, &err) < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, err.message);
	struct strv env = {0};
	for (size_t i = 0; i < c->env.n; i++)
		strv_add(&env, c->env.v[i]);
	if (!run_config_env_get(&env, "HOME")) {
		cleanup_free char *home = xasprintf("HOME=%s", u.home);
		run_config_env_set(&env, home);
	}
	/* Forward what the monitor (or berth stop) sends us; block until the handlers are in. */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0)
		init_fail(a->err_fd, CONTAINER_EXIT_BERTH, "fork failed");
	if (child == 0)
		process_main(a, &u, env.v);
	init_child = child;
	close(a->err_fd);
	if (a->tty_fd >= 0)
		close(a->tty_fd);
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	struct sigaction sa = {.sa_handler = init_forward};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
		sigaction(fwd[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Reap every zombie (orphans are re-parented to us); leave when the process exits. */
	for (;;) {
		int st;
		pid_t w = wait(&st);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(CONTAINER_EXIT_BERTH);
		}
		if (w == child)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
}

/* ---------------------------------------------------------------- the monitor */

static volatile pid_t monitor_child;
static volatile sig_atomic_t monitor_winch;

/* The monitor's handler: pass the signal on to the init (and note window changes). */
static void monitor_forward(int sig)
{
	if (sig == SIGWINCH)
		monitor_winch = 1;
	if (monitor_child > 0)
		kill(monitor_child, sig);
}

/* Copy the terminal size of fd from to the pty master. */
static void copy_winsize(int from, int master)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/* Write all of buf to fd (EINTR-safe). */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Relay stdin -> master (when interactive) and master -> stdout until the pty closes. */
static void relay_pty(int master, bool interactive)
{
	bool in_open = interactive;
	char buf[16384];
	for (;;) {
		if (monitor_winch) {
			monitor_winch = 0;
			copy_winsize(STDIN_FILENO, master);
		}
		struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = in_open ? 0 : -1, .events = POLLIN}};
		int n = poll(p, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = read(master, buf, sizeof buf);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return; /* EIO: every slave is closed */
			if (!write_all(STDOUT_FILENO, buf, (size_t)k))
				return;
		}
		if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(0, buf, sizeof buf);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				in_open = false;
				char eof = 4; /* ^D: the terminal's end of input */
				write_all(master, &eof, 1);
			} else if (!write_all(master, buf, (size_t)k)) {
				return;
			}
		}
	}
}

/* Read the init's "CODE message" until EOF (the process exec'd, or everything failed). */
static ssize_t read_report(int fd, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Remove the container's directory and cgroup. */
static void remove_bundle(const char *root, const char *id)
{
	cleanup_free char *dir = containers_dir(root);
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct berr ignore;
	if (dfd >= 0)
		store_remove_tree(dfd, id, &ignore);
}

int container_run(const char *root, struct container_config *c, int notify_fd, int *status, struct berr *err)
{
	*status = CONTAINER_EXIT_BERTH;
	cleanup_free char *bundle = bundle_path(root, c->id);
	cleanup_free char *cmd = join_argv(&c->argv);
	struct container_state st = {.created = time(NULL),
	                             .status = CONTAINER_RUNNING,
	                             .rm = c->rm,
	                             .name = c->name,
	                             .image = c->image,
	                             .command = cmd,
	                             .monitor = getpid()};
	memcpy(st.id, c->id, sizeof st.id);
	int rc = -1, master = -1, slave = -1, go[2] = {-1, -1}, rep[2] = {-1, -1};
	char tty_name[128] = "";
	struct termios saved;
	bool restore_tty = false;
	pid_t pid = -1;
	struct cgroup *cg = cgroup_create(c->id, &c->limits, err);
	if (!cg)
		goto out;
	if (c->tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
		    ptsname_r(master, tty_name, sizeof tty_name) != 0) {
			berr_sys(err, errno, "cannot allocate a pty");
			goto out;
		}
		slave = open(tty_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0) {
			berr_sys(err, errno, "open %s", tty_name);
			goto out;
		}
		if (isatty(STDIN_FILENO))
			copy_winsize(STDIN_FILENO, master);
	}
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		berr_sys(err, errno, "pipe");
		goto out;
	}
	unsigned long flags =
	    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | (c->net_host ? 0 : CLONE_NEWNET);
	fflush(NULL);
	pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		berr_sys(err, errno, "clone (new namespaces)");
		goto out;
	}
	if (pid == 0) {
		close(go[1]);
		close(rep[0]);
		if (notify_fd >= 0)
			close(notify_fd); /* the waiting berth must see EOF once the monitor is done */
		if (master >= 0)
			close(master);
		struct init_args a = {.c = c,
		                      .bundle = bundle,
		                      .go_fd = go[0],
		                      .err_fd = rep[1],
		                      .tty_fd = slave,
		                      .tty_name = slave >= 0 ? tty_name : NULL};
		init_main(&a);
	}
	close(go[0]);
	close(rep[1]);
	go[0] = rep[1] = -1;
	if (slave >= 0) {
		close(slave);
		slave = -1;
	}
	if (cgroup_add(cg, pid, err) < 0) {
		kill(pid, SIGKILL);
		goto out;
	}
	if (write(go[1], "g", 1) != 1) {
		berr_sys(err, errno, "start the container");
		kill(pid, SIGKILL);
		goto out;
	}
	char report[CONTAINER_MSG_MAX + 32];
	if (read_report(rep[0], report, sizeof report) > 0) {
		char *msg;
		long code = strtol(report, &msg, 10);
		*status = code > 0 && code < 256 ? (int)code : CONTAINER_EXIT_BERTH;
		berr_set(err, BERR_INTERNAL, "%s", *msg == ' ' ? msg + 1 : msg);
		kill(pid, SIGKILL);
		goto out;
	}
	st.pid = pid;
	st.pid_start = proc_start_time(pid);
	{
		struct berr ignore;
		state_save(root, &st, &ignore);
	}
	if (notify_fd >= 0) {
		if (write(notify_fd, "ok\n", 3) < 0) {
			/* the waiting berth is gone: keep running, detached */
		}
		close(notify_fd);
		notify_fd = -1;
	}
	monitor_child = pid;
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	struct sigaction sa = {.sa_handler = monitor_forward};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
		sigaction(fwd[i], &sa, NULL);
	if (master >= 0) {
		if (c->interactive && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
			struct termios raw = saved;
			cfmakeraw(&raw);
			restore_tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		}
		relay_pty(master, c->interactive);
	}
	int ws;
	pid_t w;
	do
		w = waitpid(pid, &ws, 0);
	while (w < 0 && errno == EINTR);
	pid = -1;
	monitor_child = 0;
	*status = w < 0 ? CONTAINER_EXIT_BERTH : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (cgroup_oom_killed(cg))
		*status = 137;
	rc = 0;
out:
	if (restore_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (pid > 0) {
		int ws2;
		while (waitpid(pid, &ws2, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	cgroup_destroy(cg);
	if (c->rm) {
		remove_bundle(root, c->id);
	} else {
		/* The upper and work directories stay (berth rm removes them) as docker keeps a
		 * stopped container's changes. */
		st.status = CONTAINER_EXITED;
		st.exit_code = *status;
		st.finished = time(NULL);
		st.pid = 0;
		st.pid_start = 0;
		struct berr ignore;
		state_save(root, &st, &ignore);
	}
	return rc;
}

/* ---------------------------------------------------------------- stop, rm, status */

/* True while the container's init (the recorded process) lives. */
static bool init_alive(const struct container_state *s)
{
	return s->pid > 0 && s->pid_start && proc_start_time(s->pid) == s->pid_start;
}

/* Wait up to ms milliseconds for the state to be recorded as exited. */
static bool wait_exited(const char *root, const char *id, int ms)
{
	for (int i = 0; i <= ms / 20; i++) {
		struct container_state s;
		struct berr ignore;
		if (state_load(root, id, &s, &ignore) < 0)
			return true; /* removed (--rm) */
		bool done = s.status != CONTAINER_RUNNING;
		container_state_free(&s);
		if (done)
			return true;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

int container_stop(const char *root, const struct container_state *s, unsigned timeout, struct berr *err)
{
	if (s->status != CONTAINER_RUNNING || !init_alive(s))
		return 0;
	if (kill(s->pid, SIGTERM) < 0 && errno != ESRCH)
		return berr_sys(err, errno, "signal container %s", s->name);
	for (unsigned i = 0; i < timeout * 50 && init_alive(s); i++) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (init_alive(s))
		kill(s->pid, SIGKILL);
	if (!wait_exited(root, s->id, 10000))
		return berr_set(err, BERR_INTERNAL, "container %s did not stop", s->name);
	return 0;
}

int container_remove(const char *root, const struct container_state *s, bool force, struct berr *err)
{
	if (s->status == CONTAINER_RUNNING) {
		if (!force)
			return berr_set(err, BERR_CONFLICT, "container %s is running: stop it first or use berth rm -f",
			                s->name);
		if (init_alive(s))
			kill(s->pid, SIGKILL);
		if (!wait_exited(root, s->id, 10000))
			return berr_set(err, BERR_INTERNAL, "container %s did not stop", s->name);
	}
	cleanup_close int lock = containers_lock(root, err);
	if (lock < 0)
		return -1;
	cgroup_remove_stale(s->id);
	cleanup_free char *dir = containers_dir(root);
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berr_sys(err, errno, "open %s", dir);
	if (store_remove_tree(dfd, s->id, err) < 0) {
		berr_prefix(err, "remove container %s", s->name);
		return -1;
	}
	return 0;
}

/* "3 seconds", "2 minutes", ... */
static void ago(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, len, "%lld second%s", (long long)secs, secs == 1 ? "" : "s");
	else if (secs < 3600)
		snprintf(buf, len, "%lld minute%s", (long long)(secs / 60), secs / 60 == 1 ? "" : "s");
	else if (secs < 86400)
		snprintf(buf, len, "%lld hour%s", (long long)(secs / 3600), secs / 3600 == 1 ? "" : "s");
	else
		snprintf(buf, len, "%lld day%s", (long long)(secs / 86400), secs / 86400 == 1 ? "" : "s");
}

char *container_status_text(const struct container_state *s)
{
	char t[64];
	int64_t now = time(NULL);
	switch (s->status) {
	case CONTAINER_RUNNING:
		ago(now - s->created, t, sizeof t);
		return xasprintf("Up %s", t);
	case CONTAINER_EXITED:
		ago(now - (s->finished ? s->finished : s->created), t, sizeof t);
		return xasprintf("Exited (%d) %s ago", s->exit_code, t);
	default:
		return xstrdup("Created");
	}
}
