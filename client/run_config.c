/* The process a container runs, decided as docker decides it from the image config and
 * the `berth run` flags: argv, environment, user. No system calls besides reading the
 * streams it is given, so every rule is unit-tested. */
#include "client/run_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/size.h"
#include "common/xalloc.h"

/* Longest line read from an env-file, passwd or group file. */
#define RUN_CONFIG_LINE_MAX (64 * 1024)
/* Largest uid/gid accepted (as docker and the kernel's 32-bit ids minus -1). */
#define RUN_CONFIG_ID_MAX 2147483647L

void strv_add_owned(struct strv *s, char *str)
{
	s->v = xrealloc(s->v, (s->n + 2) * sizeof *s->v);
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void strv_add(struct strv *s, const char *str)
{
	strv_add_owned(s, xstrdup(str));
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int run_config_argv(char *const *img_entry, char *const *img_cmd, bool has_entrypoint, const char *entrypoint,
                    char *const *user_args, size_t nuser, struct strv *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	if (has_entrypoint) {
		/* docker: --entrypoint resets the image's Cmd too; "" means no entrypoint. */
		if (entrypoint && *entrypoint)
			strv_add(out, entrypoint);
	} else {
		for (size_t i = 0; img_entry && img_entry[i]; i++)
			strv_add(out, img_entry[i]);
	}
	if (nuser > 0) {
		for (size_t i = 0; i < nuser; i++)
			strv_add(out, user_args[i]);
	} else if (!has_entrypoint) {
		for (size_t i = 0; img_cmd && img_cmd[i]; i++)
			strv_add(out, img_cmd[i]);
	}
	if (out->n == 0)
		return berr_set(err, BERR_BAD_REQUEST, "no command specified (the image has no Entrypoint or Cmd)");
	return 0;
}

/* Length of the key part of "K=V" or "K". */
static size_t env_keylen(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

void run_config_env_set(struct strv *env, const char *kv)
{
	size_t kl = env_keylen(kv);
	for (size_t i = 0; i < env->n; i++) {
		if (env_keylen(env->v[i]) == kl && strncmp(env->v[i], kv, kl) == 0) {
			free(env->v[i]);
			env->v[i] = xstrdup(kv);
			return;
		}
	}
	strv_add(env, kv);
}

const char *run_config_env_get(const struct strv *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < env->n; i++)
		if (env_keylen(env->v[i]) == kl && strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=')
			return env->v[i] + kl + 1;
	return NULL;
}

int run_config_env_arg(struct strv *env, const char *arg, const char *(*getenv_fn)(const char *), struct berr *err)
{
	size_t kl = env_keylen(arg);
	char quoted[160];
	berr_quote(arg, kl, 32, quoted, sizeof quoted);
	if (kl == 0)
		return berr_set(err, BERR_BAD_REQUEST, "invalid environment variable '%s': no variable name", quoted);
	for (size_t i = 0; i < kl; i++)
		if (isspace((unsigned char)arg[i]))
			return berr_set(err, BERR_BAD_REQUEST, "variable '%s' contains whitespaces", quoted);
	if (arg[kl] == '=') {
		run_config_env_set(env, arg);
		return 0;
	}
	const char *v = getenv_fn ? getenv_fn(arg) : NULL;
	if (v) {
		cleanup_free char *kv = xasprintf("%s=%s", arg, v);
		run_config_env_set(env, kv);
	}
	return 0;
}

int run_config_env_file(struct strv *env, FILE *f, const char *fname, const char *(*getenv_fn)(const char *),
                        struct berr *err)
{
	cleanup_free char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > RUN_CONFIG_LINE_MAX)
			return berr_set(err, BERR_BAD_REQUEST, "%s:%u: line too long", fname, lineno);
		if ((size_t)len != strlen(line))
			return berr_set(err, BERR_BAD_REQUEST, "%s:%u: line contains a NUL byte", fname, lineno);
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (run_config_env_arg(env, p, getenv_fn, err) < 0) {
			berr_prefix(err, "%s:%u", fname, lineno);
			return -1;
		}
	}
	if (ferror(f))
		return berr_sys(err, errno, "read %s", fname);
	return 0;
}

/* Parse a decimal id in [0, RUN_CONFIG_ID_MAX]; true on success. */
static bool parse_id(const char *s, long *out)
{
	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > RUN_CONFIG_ID_MAX)
		return false;
	*out = v;
	return true;
}

/* Split a colon-separated line into at most max fields (in place); returns the count. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		fields[n++] = p;
		char *c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

/* Read the next line of an /etc/passwd- or /etc/group-style file into fields; 0 at EOF. */
static int next_entry(FILE *f, char **line, size_t *cap, char **fields, size_t max, size_t *n)
{
	ssize_t len;
	while ((len = getline(line, cap, f)) >= 0) {
		if (len > RUN_CONFIG_LINE_MAX)
			continue;
		while (len > 0 && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r'))
			(*line)[--len] = '\0';
		if (len == 0 || (*line)[0] == '#')
			continue;
		*n = split_fields(*line, fields, max);
		return 1;
	}
	return 0;
}

int run_config_user(const char *spec, FILE *passwd, FILE *group, struct run_user *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	snprintf(out->home, sizeof out->home, "/");
	char quoted[300];
	berr_quote(spec, strlen(spec), 64, quoted, sizeof quoted);
	cleanup_free char *copy = xstrdup(spec);
	char *grp = strchr(copy, ':');
	if (grp)
		*grp++ = '\0';
	const char *usr = copy;
	if (*usr == '\0' && grp)
		return berr_set(err, BERR_BAD_REQUEST, "invalid user '%s': no user before the group", quoted);
	if (grp && *grp == '\0')
		return berr_set(err, BERR_BAD_REQUEST, "invalid user '%s': empty group", quoted);
	if (*usr == '\0')
		usr = "0";

	long uid = -1, num;
	bool numeric = parse_id(usr, &num);
	if (!numeric && isdigit((unsigned char)*usr))
		return berr_set(err, BERR_BAD_REQUEST, "invalid user '%s': uid out of range", quoted);
	cleanup_free char *line = NULL;
	size_t cap = 0, nf;
	char *f[7];
	bool found = false;
	char name[256] = "";
	long gid = 0;
	if (passwd) {
		rewind(passwd);
		while (next_entry(passwd, &line, &cap, f, 7, &nf)) {
			long pu, pg;
			if (nf < 7 || !parse_id(f[2], &pu) || !parse_id(f[3], &pg))
				continue;
			if (numeric ? pu == num : strcmp(f[0], usr) == 0) {
				found = true;
				uid = pu;
				gid = pg;
				snprintf(name, sizeof name, "%s", f[0]);
				snprintf(out->home, sizeof out->home, "%s", *f[5] ? f[5] : "/");
				break;
			}
		}
	}
	if (!found) {
		if (!numeric)
			return berr_set(err, BERR_BAD_REQUEST,
			                "unable to find user %s: no matching entries in passwd file", quoted);
		uid = num;
	}
	if (grp) {
		long g;
		if (parse_id(grp, &g)) {
			gid = g;
		} else if (isdigit((unsigned char)*grp)) {
			return berr_set(err, BERR_BAD_REQUEST, "invalid user '%s': gid out of range", quoted);
		} else {
			bool gfound = false;
			if (group) {
				rewind(group);
				while (next_entry(group, &line, &cap, f, 4, &nf)) {
					if (nf >= 3 && strcmp(f[0], grp) == 0 && parse_id(f[2], &g)) {
						gfound = true;
						gid = g;
						break;
					}
				}
			}
			if (!gfound)
				return berr_set(err, BERR_BAD_REQUEST,
				                "unable to find group %s: no matching entries in group file", grp);
		}
	}
	/* The primary group is always a supplementary group too; without an explicit group,
	 * so are the groups whose member lists name the user (docker's rule). */
	out->groups[out->ngroups++] = (gid_t)gid;
	if (!grp && found && group) {
		rewind(group);
		while (next_entry(group, &line, &cap, f, 4, &nf)) {
			long g;
			if (nf < 4 || !parse_id(f[2], &g))
				continue;
			char *save = NULL;
			for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
				if (strcmp(m, name) != 0)
					continue;
				bool dup = g == gid;
				for (size_t i = 0; i < out->ngroups; i++)
					dup |= out->groups[i] == (gid_t)g;
				if (!dup && out->ngroups < sizeof out->groups / sizeof out->groups[0])
					out->groups[out->ngroups++] = (gid_t)g;
			}
		}
	}
	out->uid = (uid_t)uid;
	out->gid = (gid_t)gid;
	return 0;
}

int run_config_parse_size(const char *s, int64_t *out, struct berr *err)
{
	/* docker's units: b, k, m, g, t (powers of 1024, "kb" the same), fractions allowed. */
	uint64_t bytes;
	if (size_parse(s, SIZE_FRACTION | SIZE_BYTES_UNIT, &bytes, err) < 0)
		return -1;
	*out = (int64_t)bytes;
	return 0;
}

int run_config_parse_cpus(const char *s, int64_t *millis, struct berr *err)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || !isdigit((unsigned char)*s) || v < 0.001 || v > 4096)
		return berr_set(err, BERR_BAD_REQUEST, "invalid --cpus '%.40s' (want a number like 0.5 or 2)", s);
	*millis = (int64_t)llround(v * 1000);
	return 0;
}
