/* From an image config and `berth run` flags to the process a container runs, exactly as
 * docker decides it: argv (Entrypoint/Cmd and the user's command), the environment (image
 * Env, --env-file, -e), the working directory, and the user (names resolved in the image's
 * /etc/passwd and /etc/group). Pure functions, unit-tested in tests/unit. */
#ifndef BERTH_CLIENT_RUN_CONFIG_H
#define BERTH_CLIENT_RUN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/berr.h"

/* A NULL-terminated heap array of heap strings. */
struct strv {
	char **v;
	size_t n;
};

void strv_add(struct strv *s, const char *str);
void strv_add_owned(struct strv *s, char *str);
void strv_free(struct strv *s);

/* The process argv, docker's way: with has_entrypoint (--entrypoint given) the image's
 * Entrypoint AND Cmd are replaced (an empty entrypoint means none); otherwise the image's
 * Entrypoint stays and the user's args (if any) replace its Cmd. img_entry and img_cmd are
 * NULL-terminated (NULL for none). An empty result is BERR_BAD_REQUEST. */
int run_config_argv(char *const *img_entry, char *const *img_cmd, bool has_entrypoint, const char *entrypoint,
                    char *const *user_args, size_t nuser, struct strv *out, struct berr *err);

/* Set or replace "KEY=VALUE" in env by its key. */
void run_config_env_set(struct strv *env, const char *kv);
/* Value of key in env, or NULL. */
const char *run_config_env_get(const struct strv *env, const char *key);
/* One -e/--env argument: "K=V" is set; a bare "K" takes K's value from getenv_fn (when
 * set; otherwise nothing). An empty or whitespace-containing name is BERR_BAD_REQUEST. */
int run_config_env_arg(struct strv *env, const char *arg, const char *(*getenv_fn)(const char *), struct berr *err);
/* An --env-file, as docker reads it: one K=V or bare K per line, leading whitespace
 * dropped, blank lines and lines starting with '#' skipped, values taken literally. Errors
 * name the line. Lines longer than 64 KiB are refused. */
int run_config_env_file(struct strv *env, FILE *f, const char *fname, const char *(*getenv_fn)(const char *),
                        struct berr *err);

/* The user a process runs as. */
struct run_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[64]; /* supplementary groups */
	size_t ngroups;
	char home[256]; /* from passwd, "/" when unknown */
};

/* Resolve a -u/USER spec ("", "name", "uid", "name:group", "uid:gid", ...) against the
 * image's passwd and group files (either may be NULL when the image has none), with
 * docker's rules: a name must exist; a numeric uid need not (gid 0, home "/"); a group name
 * must exist in group; the supplementary groups are the primary group plus, without an
 * explicit group, the groups whose member lists name the user. Errors are BERR_BAD_REQUEST with a message naming the
 * spec. */
int run_config_user(const char *spec, FILE *passwd, FILE *group, struct run_user *out, struct berr *err);

/* Parse a docker size ("512m", "1g", "1048576", "100k", "1.5g", "10mb": b, k, m, g, t,
 * powers of 1024, fractions rounded down to bytes); bytes > 0 into *out. Errors are
 * BERR_BAD_REQUEST naming s. */
int run_config_parse_size(const char *s, int64_t *out, struct berr *err);
/* Parse --cpus ("0.5", "2") into thousandths of a CPU (> 0). */
int run_config_parse_cpus(const char *s, int64_t *millis, struct berr *err);

#endif
