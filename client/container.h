/* Containers: creating one from a process spec, running it (berth is its monitor: namespaces,
 * cgroup, init, signal forwarding, exit status), and the state kept for `ps`, `logs`, `stop`
 * and `rm` under ROOT/containers/<id>/ (state.json, log, rootfs/, upper/, work/, hosts,
 * hostname, resolv.conf). */
#ifndef BERTH_CLIENT_CONTAINER_H
#define BERTH_CLIENT_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/caps.h"
#include "client/cgroup.h"
#include "client/linux.h"
#include "client/run_config.h"
#include "common/berr.h"

/* Exit status of `berth run` when berth itself fails (docker's 125). */
#define CONTAINER_EXIT_BERTH 125

struct container_config {
	char id[65];    /* filled by container_create */
	char *name;     /* --name, or NULL for the id's first 12 digits; heap */
	char *image;    /* the image's name; heap */
	char *image_id; /* its config digest; heap */
	struct strv argv;
	struct strv env;
	char *cwd;      /* absolute; heap */
	char *user;     /* -u or the image's User ("" for root); heap */
	char *hostname; /* heap */
	bool net_host;  /* --network host (otherwise a new namespace with only lo) */
	bool read_only, tty, interactive, rm, privileged, force_copy;
	caps_t caps;
	struct linux_volume *volumes;
	size_t nvolumes;
	char **lowers; /* layer directories, bottom first; heap */
	size_t nlowers;
	struct cgroup_limits limits;
};

void container_config_free(struct container_config *c);

/* Give c an id, check its name is free, create its directory and state ("created"). */
int container_create(const char *root, struct container_config *c, struct berr *err);
/* Run the created container c and wait for it; *status gets the container's exit status
 * (128+N when killed by signal N; 137 when the memory limit was hit). Once the process
 * has started, notify_fd (if >= 0) gets "ok\n" and is closed; before that, a failure is
 * returned as -1 with err filled and *status set (125 berth, 126 not executable, 127 not
 * found). With c->rm, nothing of the container remains afterwards. */
int container_run(const char *root, struct container_config *c, int notify_fd, int *status, struct berr *err);

enum container_status { CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED };

struct container_state {
	char id[65];
	char *name, *image, *command; /* heap */
	int64_t created;              /* unix seconds */
	int64_t finished;
	enum container_status status;
	int exit_code;      /* -1 when unknown (the monitor died) */
	pid_t pid;          /* the container's init, on the host */
	uint64_t pid_start; /* its start time, to detect a reused pid */
	pid_t monitor;
	bool rm;
};

/* Find a container by name, id or unique id prefix (BERR_NAME_UNKNOWN if none). The status
 * is corrected to exited when the recorded processes are gone. */
int container_find(const char *root, const char *ref, struct container_state *out, struct berr *err);
/* All containers, newest first; *out is heap (free with container_states_free). */
int container_list(const char *root, struct container_state **out, size_t *n, struct berr *err);
void container_state_free(struct container_state *s);
void container_states_free(struct container_state *s, size_t n);
/* Path of the container's log (output of a detached container); heap. */
char *container_log_path(const char *root, const char *id);
/* SIGTERM (forwarded by the container's init to its process), then SIGKILL after timeout
 * seconds; waits until the monitor has recorded the exit. */
int container_stop(const char *root, const struct container_state *s, unsigned timeout, struct berr *err);
/* Remove a container that is not running (force: kill it first). */
int container_remove(const char *root, const struct container_state *s, bool force, struct berr *err);
/* A docker-like description of a state ("Up 3 seconds", "Exited (0) 2 minutes ago"); heap. */
char *container_status_text(const struct container_state *s);

#endif
