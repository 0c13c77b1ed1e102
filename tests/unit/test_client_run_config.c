/* Unit tests for client/run_config.c: Entrypoint/Cmd combination, -e and --env-file
 * parsing, user resolution against passwd/group files, sizes and CPU counts. */
#include <stdlib.h>

#include "client/run_config.h"
#include "tests/unit/tap.h"

/* "a b c" of an argv, for comparison. */
static const char *joined(const struct strv *v)
{
	static char buf[512];
	buf[0] = '\0';
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			strcat(buf, "|");
		strcat(buf, v->v[i]);
	}
	return buf;
}

static const char *fake_getenv(const char *k)
{
	return strcmp(k, "FROM_HOST") == 0 ? "host value" : NULL;
}

static void test_argv(void)
{
	char *entry[] = {"/entry", "-x", NULL};
	char *cmd[] = {"/bin/sh", "-c", "echo hi", NULL};
	char *user[] = {"ls", "-l"};
	static const struct {
		bool has_entry_img, has_cmd_img, has_entry_flag;
		const char *entry_flag;
		size_t nuser;
		const char *want; /* NULL: error */
	} cases[] = {
	    {false, true, false, NULL, 0, "/bin/sh|-c|echo hi"},
	    {false, true, false, NULL, 2, "ls|-l"},
	    {true, true, false, NULL, 0, "/entry|-x|/bin/sh|-c|echo hi"},
	    {true, true, false, NULL, 2, "/entry|-x|ls|-l"},
	    {true, true, true, "/other", 0, "/other"},
	    {true, true, true, "/other", 2, "/other|ls|-l"},
	    {true, true, true, "", 2, "ls|-l"},
	    {true, true, true, "", 0, NULL},
	    {false, false, false, NULL, 0, NULL},
	    {true, false, false, NULL, 0, "/entry|-x"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct strv out;
		struct berr err = {0};
		int rc =
		    run_config_argv(cases[i].has_entry_img ? entry : NULL, cases[i].has_cmd_img ? cmd : NULL,
		                    cases[i].has_entry_flag, cases[i].entry_flag, user, cases[i].nuser, &out, &err);
		if (cases[i].want)
			tap_is_str(rc == 0 ? joined(&out) : err.message, cases[i].want, "argv case %zu", i);
		else
			tap_ok(rc < 0 && strstr(err.message, "no command specified"), "argv case %zu: no command", i);
		strv_free(&out);
	}
}

static void test_env(void)
{
	struct strv env = {0};
	struct berr err = {0};
	run_config_env_set(&env, "PATH=/bin");
	run_config_env_set(&env, "A=1");
	tap_ok(run_config_env_arg(&env, "A=2", fake_getenv, &err) == 0, "-e A=2");
	tap_is_str(run_config_env_get(&env, "A"), "2", "-e replaces the image's value");
	tap_ok(run_config_env_arg(&env, "FROM_HOST", fake_getenv, &err) == 0, "-e bare name");
	tap_is_str(run_config_env_get(&env, "FROM_HOST"), "host value", "bare name takes berth's environment");
	tap_ok(run_config_env_arg(&env, "UNSET_ONE", fake_getenv, &err) == 0, "-e unset bare name");
	tap_ok(run_config_env_get(&env, "UNSET_ONE") == NULL, "an unset bare name adds nothing");
	tap_ok(run_config_env_arg(&env, "=x", fake_getenv, &err) < 0 && strstr(err.message, "no variable name"),
	       "-e =x is refused");
	tap_ok(run_config_env_arg(&env, "BAD NAME=x", fake_getenv, &err) < 0 && strstr(err.message, "whitespace"),
	       "-e with whitespace in the name is refused");
	tap_ok(run_config_env_arg(&env, "EMPTY=", fake_getenv, &err) == 0 &&
	           strcmp(run_config_env_get(&env, "EMPTY"), "") == 0,
	       "-e EMPTY= sets an empty value");

	const char file[] = "# comment\n\n  B=two words  \nFROM_HOST\nC=a=b\r\n\t# indented comment\nQ=\"quoted\"\n";
	FILE *f = fmemopen((void *)file, sizeof file - 1, "r");
	tap_ok(run_config_env_file(&env, f, "envf", fake_getenv, &err) == 0, "env-file parses: %s", err.message);
	fclose(f);
	tap_is_str(run_config_env_get(&env, "B"), "two words  ", "env-file value kept literally");
	tap_is_str(run_config_env_get(&env, "C"), "a=b", "env-file value with '=' and CRLF");
	tap_is_str(run_config_env_get(&env, "Q"), "\"quoted\"", "env-file quotes are not interpreted");
	const char bad[] = "OK=1\nNOT OK=2\n";
	f = fmemopen((void *)bad, sizeof bad - 1, "r");
	tap_ok(run_config_env_file(&env, f, "envf", fake_getenv, &err) < 0 && strstr(err.message, "envf:2:"),
	       "env-file error names the line: %s", err.message);
	fclose(f);
	strv_free(&env);
}

static void test_user(void)
{
	const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
	                      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
	                      "app:x:1000:1000:App:/home/app:/bin/sh\n"
	                      "broken line\n";
	const char group[] = "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1000:\n";
	static const struct {
		const char *spec;
		int rc;
		unsigned uid, gid;
		const char *groups, *home, *errtext;
	} cases[] = {
	    {"", 0, 0, 0, "0,10", "/root", NULL},
	    {"root", 0, 0, 0, "0,10", "/root", NULL},
	    {"app", 0, 1000, 1000, "1000,10,50", "/home/app", NULL},
	    {"1000", 0, 1000, 1000, "1000,10,50", "/home/app", NULL},
	    {"4242", 0, 4242, 0, "0", "/", NULL},
	    {"4242:77", 0, 4242, 77, "77", "/", NULL},
	    {"app:staff", 0, 1000, 50, "50", "/home/app", NULL},
	    {"daemon:0", 0, 1, 0, "0", "/usr/sbin", NULL},
	    {"nobody", -1, 0, 0, NULL, NULL, "unable to find user nobody"},
	    {"app:nogroup", -1, 0, 0, NULL, NULL, "unable to find group nogroup"},
	    {":10", -1, 0, 0, NULL, NULL, "no user"},
	    {"app:", -1, 0, 0, NULL, NULL, "empty group"},
	    {"99999999999", -1, 0, 0, NULL, NULL, "out of range"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		FILE *pw = fmemopen((void *)passwd, sizeof passwd - 1, "r");
		FILE *gr = fmemopen((void *)group, sizeof group - 1, "r");
		struct run_user u;
		struct berr err = {0};
		int rc = run_config_user(cases[i].spec, pw, gr, &u, &err);
		fclose(pw);
		fclose(gr);
		if (cases[i].rc < 0) {
			tap_ok(rc < 0 && strstr(err.message, cases[i].errtext), "user '%s' refused: %s", cases[i].spec,
			       err.message);
			continue;
		}
		char groups[128] = "";
		for (size_t k = 0; k < u.ngroups; k++)
			snprintf(groups + strlen(groups), sizeof groups - strlen(groups), "%s%u", k ? "," : "",
			         (unsigned)u.groups[k]);
		tap_ok(rc == 0 && u.uid == cases[i].uid && u.gid == cases[i].gid &&
		           strcmp(groups, cases[i].groups) == 0 && strcmp(u.home, cases[i].home) == 0,
		       "user '%s' -> %u:%u groups [%s] home %s", cases[i].spec, (unsigned)u.uid, (unsigned)u.gid,
		       groups, u.home);
	}
	struct run_user u;
	struct berr err = {0};
	tap_ok(run_config_user("1234", NULL, NULL, &u, &err) == 0 && u.uid == 1234 && u.gid == 0,
	       "numeric user without passwd file");
	tap_ok(run_config_user("app", NULL, NULL, &u, &err) < 0, "named user without passwd file is refused");
}

static void test_sizes(void)
{
	static const struct {
		const char *in;
		long long want; /* -1: error */
	} cases[] = {
	    {"1048576", 1048576},
	    {"64m", 64LL << 20},
	    {"64M", 64LL << 20},
	    {"1g", 1LL << 30},
	    {"1.5g", 3LL << 29},
	    {"100k", 102400},
	    {"10mb", 10LL << 20},
	    {"12b", 12},
	    {"", -1},
	    {"-5m", -1},
	    {"5x", -1},
	    {"m", -1},
	    {"0", -1},
	    {"5mm", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t v = 0;
		int rc = run_config_parse_size(cases[i].in, &v, NULL);
		if (cases[i].want < 0)
			tap_ok(rc < 0, "size '%s' refused", cases[i].in);
		else
			tap_is_int(rc == 0 ? v : -2, cases[i].want, "size '%s'", cases[i].in);
	}
	int64_t m = 0;
	tap_ok(run_config_parse_cpus("0.5", &m, NULL) == 0 && m == 500, "--cpus 0.5");
	tap_ok(run_config_parse_cpus("2", &m, NULL) == 0 && m == 2000, "--cpus 2");
	tap_ok(run_config_parse_cpus("0", &m, NULL) < 0, "--cpus 0 refused");
	tap_ok(run_config_parse_cpus("abc", &m, NULL) < 0, "--cpus abc refused");
}

int main(void)
{
	test_argv();
	test_env();
	test_user();
	test_sizes();
	return tap_done();
}
