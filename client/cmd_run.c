/* berth run [FLAGS] REF [CMD [ARG...]]: pull the image when needed, build the process spec
 * from its config and the flags (docker's rules, client/run_config.c), and run it as a
 * container (client/container.c), in the foreground or detached (-d). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/container.h"
#include "client/image_index.h"
#include "client/linux.h"
#include "client/pull.h"
#include "client/store.h"
#include "common/xalloc.h"

#define RUN_USAGE "usage: berth run [OPTIONS] IMAGE [COMMAND [ARG...]]"

/* berth run --help. */
static void run_help(void)
{
	printf(RUN_USAGE "\n\nRun a command in a new container.\n\n"
	                 "Options:\n"
	                 "  -d, --detach              run in the background and print the container ID\n"
	                 "  -e, --env K=V|K           set an environment variable (bare K: from berth's environment)\n"
	                 "      --env-file FILE       read environment variables from FILE (one K=V per line)\n"
	                 "      --entrypoint CMD      override the image's entrypoint (\"\" for none)\n"
	                 "  -h, --hostname NAME       the container's host name\n"
	                 "  -i, --interactive         keep stdin open\n"
	                 "  -t, --tty                 allocate a pseudo-terminal\n"
	                 "      --name NAME           name the container\n"
	                 "      --network none|host   own network namespace with only lo (default), or the host's\n"
	                 "  -m, --memory SIZE         memory limit (e.g. 64m); exceeding it kills the process (137)\n"
	                 "      --cpus N              CPU limit (e.g. 0.5)\n"
	                 "      --pids-limit N        maximum number of processes\n"
	                 "      --pull always|missing|never  when to pull the image (default missing)\n"
	                 "      --platform OS/ARCH    platform to pull (default: the host's)\n"
	                 "      --read-only           mount the root filesystem read-only\n"
	                 "      --rm                  remove the container when it exits\n"
	                 "  -u, --user USER[:GROUP]   user name or uid (and group name or gid) to run as\n"
	                 "  -v, --volume SRC:DST[:ro] bind-mount the host path SRC at DST\n"
	                 "  -w, --workdir DIR         working directory in the container\n"
	                 "      --cap-add CAP         add a capability (e.g. NET_ADMIN, ALL)\n"
	                 "      --cap-drop CAP        drop a capability\n"
	                 "      --privileged          every capability, no seccomp filter, writable /sys\n"
	                 "\nEnvironment: BERTH_ROOTFS=copy copies the layers instead of using overlayfs.\n");
}

/* berth's own environment, for bare -e K and K lines of --env-file. */
static const char *env_lookup(const char *k)
{
	return getenv(k);
}

/* A NULL-terminated string array from a JSON array of strings (NULL if v is not one). */
static char **json_strv(json_t *v)
{
	if (!json_is_array(v))
		return NULL;
	char **out = xcalloc(json_array_size(v) + 1, sizeof *out);
	size_t i, k = 0;
	json_t *e;
	json_array_foreach(v, i, e) if (json_is_string(e)) out[k++] = (char *)json_string_value(e);
	return out;
}

/* -v SRC:DST[:ro|rw] into vol (SRC must be an absolute host path; it is created as a
 * directory when missing, as docker does). */
static int parse_volume(const char *arg, struct linux_volume *vol, struct berr *err)
{
	cleanup_free char *copy = xstrdup(arg);
	char *parts[4] = {0};
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, ":", &save); t && n < 4; t = strtok_r(NULL, ":", &save))
		parts[n++] = t;
	if (n < 2 || n > 3)
		return berr_set(err, BERR_BAD_REQUEST, "invalid volume '%.200s': want SRC:DST[:ro]", arg);
	if (parts[0][0] != '/')
		return berr_set(
		    err, BERR_BAD_REQUEST,
		    "invalid volume '%.200s': SRC must be an absolute host path (named volumes are not supported)",
		    arg);
	if (parts[1][0] != '/' || strcmp(parts[1], "/") == 0)
		return berr_set(err, BERR_BAD_REQUEST,
		                "invalid volume '%.200s': DST must be an absolute path other than /", arg);
	bool ro = false;
	if (n == 3) {
		if (strcmp(parts[2], "ro") == 0)
			ro = true;
		else if (strcmp(parts[2], "rw") != 0)
			return berr_set(err, BERR_BAD_REQUEST,
			                "invalid volume '%.200s': unknown mode '%.20s' (ro or rw)", arg, parts[2]);
	}
	struct stat st;
	if (stat(parts[0], &st) < 0) {
		if (errno != ENOENT || linux_mkdir_p(parts[0], err) < 0)
			return berr_sys(err, errno, "volume source %.200s", parts[0]);
	}
	char real[PATH_MAX];
	if (!realpath(parts[0], real))
		return berr_sys(err, errno, "volume source %.200s", parts[0]);
	vol->src = xstrdup(real);
	vol->dst = xstrdup(parts[1]);
	vol->ro = ro;
	return 0;
}

/* Resolve the image locally, pulling it as --pull says; fills rec and info. */
static int run_image(const struct cli *g, struct store *s, const char *ref, const char *pull,
                     const struct platform *plat, struct image_record *rec, struct image_info *info, struct berr *err)
{
	int rc = -1;
	bool want_pull = strcmp(pull, "always") == 0;
	if (!want_pull) {
		rc = image_index_resolve(s, ref, rec, NULL, err);
		if (rc < 0 && err->code != BERR_NAME_UNKNOWN)
			return -1;
		if (rc < 0 && strcmp(pull, "never") == 0) {
			berr_prefix(err, "--pull never");
			return -1;
		}
		want_pull = rc < 0;
		if (want_pull)
			fprintf(stderr, "Unable to find image '%s' locally\n", ref);
	}
	if (want_pull) {
		struct pull_opts o = {
		    .insecure = g->insecure,
		    .ninsecure = g->ninsecure,
		    .platform = plat,
		    .out = stderr,
		    .tty = isatty(STDERR_FILENO),
		};
		struct pull_result res;
		berr_clear(err);
		rc = pull_image(s, ref, &o, &res, err);
		if (rc == 0)
			rc = image_index_resolve(s, res.name, rec, NULL, err);
		pull_result_free(&res);
		if (rc < 0)
			return -1;
	}
	return image_info_load(s, rec, info, err);
}

/* Fill c from the image config and the parsed flags. */
static int run_build(struct store *s, const struct image_record *rec, const struct image_info *info,
                     struct container_config *c, const struct strv *env_args, const struct strv *env_files,
                     bool has_entry, const char *entry, const char *workdir, const char *user, char **args,
                     size_t nargs, struct berr *err)
{
	json_t *cfg = json_object_get(info->config, "config");
	cleanup_free char **img_entry = json_strv(json_object_get(cfg, "Entrypoint"));
	cleanup_free char **img_cmd = json_strv(json_object_get(cfg, "Cmd"));
	if (run_config_argv(img_entry, img_cmd, has_entry, entry, args, nargs, &c->argv, err) < 0)
		return -1;
	json_t *env = json_object_get(cfg, "Env");
	size_t i;
	json_t *e;
	json_array_foreach(env, i, e) if (json_is_string(e) && strchr(json_string_value(e), '='))
	    run_config_env_set(&c->env, json_string_value(e));
	if (!run_config_env_get(&c->env, "PATH"))
		run_config_env_set(&c->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (c->tty)
		run_config_env_set(&c->env, "TERM=xterm");
	for (i = 0; i < env_files->n; i++) {
		FILE *f = fopen(env_files->v[i], "re");
		if (!f)
			return berr_sys(err, errno, "open env file %s", env_files->v[i]);
		int rc = run_config_env_file(&c->env, f, env_files->v[i], env_lookup, err);
		fclose(f);
		if (rc < 0)
			return -1;
	}
	for (i = 0; i < env_args->n; i++)
		if (run_config_env_arg(&c->env, env_args->v[i], env_lookup, err) < 0)
			return -1;
	const char *wd = workdir ? workdir : json_string_value(json_object_get(cfg, "WorkingDir"));
	if (!wd || !*wd)
		wd = "/";
	if (wd[0] != '/')
		return berr_set(err, BERR_BAD_REQUEST,
		                "the working directory '%.200s' is invalid, it needs to be an absolute path", wd);
	c->cwd = xstrdup(wd);
	const char *u = user ? user : json_string_value(json_object_get(cfg, "User"));
	c->user = xstrdup(u ? u : "");
	c->image = xstrdup(rec->name);
	c->image_id = xstrdup(rec->config.str);
	c->lowers = xcalloc(info->nlayers + 1, sizeof *c->lowers);
	for (i = 0; i < info->nlayers; i++) {
		if (!store_layer_exists(s, &info->diffids[i]))
			return berr_set(err, BERR_BLOB_UNKNOWN,
			                "layer %s of %s is missing from the store: pull the image again",
			                info->diffids[i].str, rec->name);
		c->lowers[c->nlowers++] = store_layer_path(s, &info->diffids[i]);
	}
	if (c->nlowers == 0)
		return berr_set(err, BERR_MANIFEST_INVALID, "image %s has no layers", rec->name);
	return 0;
}

/* Detached: a monitor process (new session, output to the container's log) runs the
 * container; we wait for it to start and print the ID. */
static int run_detached(const struct cli *g, struct container_config *c)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return cmd_fail("pipe: %s", strerror(errno));
	cleanup_free char *log = container_log_path(g->root, c->id);
	fflush(NULL);
	pid_t m = fork();
	if (m < 0)
		return cmd_fail("fork: %s", strerror(errno));
	if (m == 0) {
		close(p[0]);
		setsid();
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (nul < 0 || out < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(CONTAINER_EXIT_BERTH);
		close(nul);
		close(out);
		c->interactive = false;
		struct berr err = {0};
		int status;
		if (container_run(g->root, c, p[1], &status, &err) < 0) {
			/* Tell the waiting berth why (the pipe is still open: not started). */
			dprintf(p[1], "%s", err.message);
			_exit(status);
		}
		_exit(status);
	}
	close(p[1]);
	char buf[1200];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof buf - 1 && (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(p[0]);
	buf[got] = '\0';
	if (strcmp(buf, "ok\n") != 0) {
		int st;
		waitpid(m, &st, 0);
		fprintf(stderr, "berth: run: %s\n", got ? buf : "the container monitor failed");
		return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : CONTAINER_EXIT_BERTH;
	}
	printf("%s\n", c->id);
	return 0;
}

int cmd_run(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"detach", no_argument, NULL, 'd'},
	    {"env", required_argument, NULL, 'e'},
	    {"env-file", required_argument, NULL, 'E'},
	    {"entrypoint", required_argument, NULL, 'P'},
	    {"hostname", required_argument, NULL, 'h'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"name", required_argument, NULL, 'n'},
	    {"network", required_argument, NULL, 'N'},
	    {"net", required_argument, NULL, 'N'},
	    {"memory", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"pids-limit", required_argument, NULL, 'L'},
	    {"pull", required_argument, NULL, 'p'},
	    {"platform", required_argument, NULL, 'F'},
	    {"read-only", no_argument, NULL, 'R'},
	    {"rm", no_argument, NULL, 'r'},
	    {"user", required_argument, NULL, 'u'},
	    {"volume", required_argument, NULL, 'v'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"cap-add", required_argument, NULL, 'A'},
	    {"cap-drop", required_argument, NULL, 'D'},
	    {"privileged", no_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'H'},
	    {0},
	};
	struct container_config c = {0};
	struct strv env_args = {0}, env_files = {0}, cap_add = {0}, cap_drop = {0};
	const char *entry = NULL, *workdir = NULL, *user = NULL, *pull = "missing";
	bool has_entry = false, detach = false, have_plat = false;
	struct platform plat;
	struct berr err = {0};
	int status = CONTAINER_EXIT_BERTH, ch;
	struct store *s = NULL;
	struct image_record rec = {0};
	struct image_info info = {0};
	bool have_image = false;
	c.caps = caps_default();
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+de:h:itm:u:v:w:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			detach = true;
			break;
		case 'e':
			strv_add(&env_args, optarg);
			break;
		case 'E':
			strv_add(&env_files, optarg);
			break;
		case 'P':
			has_entry = true;
			entry = optarg;
			break;
		case 'h':
			free(c.hostname);
			c.hostname = xstrdup(optarg);
			if (!*optarg || strlen(optarg) > 64) {
				cmd_fail("invalid --hostname '%.80s': 1 to 64 characters", optarg);
				goto done;
			}
			break;
		case 'i':
			c.interactive = true;
			break;
		case 't':
			c.tty = true;
			break;
		case 'n':
			free(c.name);
			c.name = xstrdup(optarg);
			break;
		case 'N':
			if (strcmp(optarg, "host") == 0) {
				c.net_host = true;
			} else if (strcmp(optarg, "none") == 0) {
				c.net_host = false;
			} else {
				cmd_fail("unsupported --network '%.80s' (none or host)", optarg);
				goto done;
			}
			break;
		case 'm':
			if (run_config_parse_size(optarg, &c.limits.memory, &err) < 0) {
				cmd_fail("--memory: %s", err.message);
				goto done;
			}
			if (c.limits.memory < 6 * 1024 * 1024) {
				cmd_fail("--memory: the minimum memory limit is 6MB");
				goto done;
			}
			break;
		case 'c':
			if (run_config_parse_cpus(optarg, &c.limits.cpu_millis, &err) < 0) {
				cmd_fail("%s", err.message);
				goto done;
			}
			break;
		case 'L': {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (end == optarg || *end || errno || v < -1 || v > 4194304) {
				cmd_fail("invalid --pids-limit '%.40s' (a number; -1 or 0 for no limit)", optarg);
				goto done;
			}
			c.limits.pids = v > 0 ? v : 0;
			break;
		}
		case 'p':
			if (strcmp(optarg, "always") && strcmp(optarg, "missing") && strcmp(optarg, "never")) {
				cmd_fail("invalid --pull '%.40s' (always, missing or never)", optarg);
				goto done;
			}
			pull = optarg;
			break;
		case 'F':
			if (platform_parse(optarg, &plat, &err) < 0) {
				cmd_fail("%s", err.message);
				goto done;
			}
			have_plat = true;
			break;
		case 'R':
			c.read_only = true;
			break;
		case 'r':
			c.rm = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			c.volumes = xrealloc(c.volumes, (c.nvolumes + 1) * sizeof *c.volumes);
			memset(&c.volumes[c.nvolumes], 0, sizeof c.volumes[0]);
			if (parse_volume(optarg, &c.volumes[c.nvolumes], &err) < 0) {
				cmd_fail("%s", err.message);
				goto done;
			}
			c.nvolumes++;
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'A':
			strv_add(&cap_add, optarg);
			break;
		case 'D':
			strv_add(&cap_drop, optarg);
			break;
		case 'X':
			c.privileged = true;
			break;
		case 'H':
			run_help();
			status = 0;
			goto done;
		default:
			if (optopt && optopt != '?')
				fprintf(stderr, "berth: run: bad option '-%c' or its argument (see berth run --help)\n",
				        optopt);
			else
				fprintf(
				    stderr,
				    "berth: run: unknown option '%.80s' or missing argument (see berth run --help)\n",
				    argv[optind - 1]);
			goto done;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "berth: run: " RUN_USAGE "\n");
		goto done;
	}
	if (c.privileged)
		c.caps = caps_all();
	/* docker: --cap-drop ALL empties the set before the additions; other drops win over adds. */
	for (size_t i = 0; i < cap_drop.n; i++)
		if (strcasecmp(cap_drop.v[i], "ALL") == 0 || strcasecmp(cap_drop.v[i], "CAP_ALL") == 0)
			c.caps = 0;
	for (size_t i = 0; i < cap_add.n; i++)
		if (caps_change(&c.caps, cap_add.v[i], true, &err) < 0) {
			cmd_fail("--cap-add: %s", err.message);
			goto done;
		}
	for (size_t i = 0; i < cap_drop.n; i++)
		if (strcasecmp(cap_drop.v[i], "ALL") != 0 && strcasecmp(cap_drop.v[i], "CAP_ALL") != 0 &&
		    caps_change(&c.caps, cap_drop.v[i], false, &err) < 0) {
			cmd_fail("--cap-drop: %s", err.message);
			goto done;
		}
	if (geteuid() != 0) {
		cmd_fail("run: containers need root (namespaces, mounts, cgroups)");
		goto done;
	}
	const char *copy = getenv("BERTH_ROOTFS");
	c.force_copy = copy && strcmp(copy, "copy") == 0;
	s = store_open(g->root, &err);
	if (!s || store_lock(s, false, true, &err) < 0) {
		cmd_fail("%s", err.message);
		goto done;
	}
	const char *ref = argv[optind];
	if (run_image(g, s, ref, pull, have_plat ? &plat : NULL, &rec, &info, &err) < 0) {
		cmd_fail("run %s: %s", ref, err.message);
		goto done;
	}
	have_image = true;
	if (run_build(s, &rec, &info, &c, &env_args, &env_files, has_entry, entry, workdir, user, argv + optind + 1,
	              (size_t)(argc - optind - 1), &err) < 0) {
		cmd_fail("run %s: %s", ref, err.message);
		goto done;
	}
	if (container_create(g->root, &c, &err) < 0) {
		cmd_fail("run: %s", err.message);
		goto done;
	}
	/* HOSTNAME is known once the container is created (an -e HOSTNAME wins). */
	if (!run_config_env_get(&c.env, "HOSTNAME")) {
		cleanup_free char *hn = xasprintf("HOSTNAME=%s", c.hostname);
		run_config_env_set(&c.env, hn);
	}
	if (detach) {
		status = run_detached(g, &c);
	} else if (container_run(g->root, &c, -1, &status, &err) < 0) {
		fprintf(stderr, "berth: run: %s\n", err.message);
	}
done:
	if (have_image) {
		image_info_free(&info);
		image_record_free(&rec);
	}
	if (s)
		store_close(s);
	container_config_free(&c);
	strv_free(&env_args);
	strv_free(&env_files);
	strv_free(&cap_add);
	strv_free(&cap_drop);
	return status;
}
