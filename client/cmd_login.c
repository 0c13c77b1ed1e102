/* berth login [REGISTRY] [-u USER] [--password-stdin | -p PASSWORD] and berth logout
 * [REGISTRY]: credentials are checked against the registry before they are stored. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/credentials.h"
#include "common/registry_client.h"
#include "common/xalloc.h"

#define LOGIN_LINE_MAX 4096

/* The registry as the store keys it: scheme and path dropped, Docker Hub's names folded. */
static char *login_registry_name(const char *arg)
{
	const char *p = arg ? arg : "docker.io";
	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	char *r = xstrndup(p, strcspn(p, "/"));
	if (strcmp(r, "index.docker.io") == 0 || strcmp(r, "registry-1.docker.io") == 0) {
		free(r);
		r = xstrdup("docker.io");
	}
	return r;
}

/* Read one line from fd (without its newline) into a new heap string, or NULL. */
static char *login_read_line(int fd)
{
	char *buf = xmalloc(LOGIN_LINE_MAX + 1);
	size_t n = 0;
	while (n < LOGIN_LINE_MAX) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	while (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return buf;
}

/* Prompt on the terminal; echo off for secrets. NULL without a terminal. */
static char *login_prompt(const char *prompt, bool secret)
{
	cleanup_close int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (write(fd, prompt, strlen(prompt)) < 0)
		return NULL;
	struct termios old, quiet;
	bool restore = secret && tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	char *line = login_read_line(fd);
	if (restore) {
		tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0)
			line[0] = line[0];
	}
	return line;
}

int cmd_login(const struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"password-stdin", no_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] = "usage: berth login [REGISTRY] [-u USER] [--password-stdin | -p PASSWORD]\n";
	cleanup_free char *user = NULL, *pass = NULL;
	bool from_stdin = false;
	int c;
	while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			free(user);
			user = xstrdup(optarg);
			break;
		case 'p':
			free(pass);
			pass = xstrdup(optarg);
			break;
		case 's':
			from_stdin = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (argc - optind > 1) {
		fputs(usage, stderr);
		return 2;
	}
	cleanup_free char *registry = login_registry_name(optind < argc ? argv[optind] : NULL);
	if (from_stdin && pass)
		return cmd_fail("--password and --password-stdin are mutually exclusive");
	if (from_stdin && !user)
		return cmd_fail("--password-stdin needs --username");
	if (!user && !(user = login_prompt("Username: ", false)))
		return cmd_fail("no username given (-u) and no terminal to ask on");
	if (from_stdin)
		pass = login_read_line(STDIN_FILENO);
	else if (!pass && !(pass = login_prompt("Password: ", true)))
		return cmd_fail("no password given (--password-stdin) and no terminal to ask on");
	if (!*user || !*pass)
		return cmd_fail("username and password must not be empty");

	struct berr err = {0};
	struct credential cred = {.username = user, .password = pass};
	struct registry_client *rc =
	    registry_client_new(registry, NULL, registry_is_insecure(registry, g->insecure, g->ninsecure), &cred);
	if (registry_wants_tls_probe(registry, g->insecure, g->ninsecure))
		registry_client_probe_tls(rc);
	int r = registry_client_ping(rc, &err);
	registry_client_free(rc);
	if (r < 0)
		return cmd_fail("login to %s failed: %s", registry, err.message);
	if (credentials_store(registry, user, pass, &err) < 0)
		return cmd_fail("login to %s: cannot save the credentials: %s", registry, err.message);
	printf("Login Succeeded\n");
	return 0;
}

int cmd_logout(const struct cli *g, int argc, char **argv)
{
	(void)g;
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		bool help = argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
		fputs("usage: berth logout [REGISTRY]\n", help ? stdout : stderr);
		return help ? 0 : 2;
	}
	cleanup_free char *registry = login_registry_name(argc == 2 ? argv[1] : NULL);
	struct berr err = {0};
	bool found;
	if (credentials_erase(registry, &found, &err) < 0)
		return cmd_fail("logout %s: %s", registry, err.message);
	if (found)
		printf("Removing login credentials for %s\n", registry);
	else
		printf("Not logged in to %s\n", registry);
	return 0;
}
