/* berth: the runtime client. Parses the global options (store root, insecure registries)
 * and hands the rest of the command line to the command's cmd_* function. */
#include "autoconfig.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cmd.h"
#include "common/curl_lazy.h"
#include "common/registry_client.h"
#include "common/xalloc.h"

static const struct {
	const char *name;
	int (*fn)(const struct cli *g, int argc, char **argv);
	const char *help;
} commands[] = {
    {"pull", cmd_pull, "Pull an image from a registry"},
    {"push", cmd_push, "Push a local image to a registry"},
    {"copy", cmd_copy, "Copy images between registries (no local store)"},
    {"images", cmd_images, "List local images"},
    {"inspect", cmd_inspect, "Show an image's details as JSON"},
    {"tag", cmd_tag, "Give a local image another name"},
    {"rmi", cmd_rmi, "Remove local image names (and content nothing else uses)"},
    {"login", cmd_login, "Store credentials for a registry"},
    {"logout", cmd_logout, "Remove stored credentials for a registry"},
    {"run", cmd_run, "Run a command in a new container"},
    {"ps", cmd_ps, "List containers"},
    {"logs", cmd_logs, "Show a detached container's output"},
    {"stop", cmd_stop, "Stop running containers"},
    {"rm", cmd_rm, "Remove containers"},
};

/* The commands speaking to registries: libcurl is loaded before them (common/curl_lazy.h),
 * so a missing library is one clear line, and the others run without it. */
static bool cmd_speaks_http(const char *name)
{
	return strcmp(name, "pull") == 0 || strcmp(name, "push") == 0 || strcmp(name, "copy") == 0 ||
	       strcmp(name, "login") == 0;
}

int cmd_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("berth: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: berth [OPTIONS] COMMAND [ARGS...]\n\n"
	             "Pull, manage and run container images.\n\n"
	             "Options:\n"
	             "  --root DIR                local store (default /var/lib/berth as root,\n"
	             "                            ~/.local/share/berth otherwise; env BERTH_ROOT)\n"
	             "  --insecure-registry HOST  use plain HTTP for HOST[:PORT] (repeatable; env\n"
	             "                            BERTH_INSECURE_REGISTRIES, comma-separated)\n"
	             "  --ca-cert FILE            also trust the CA certificates of this PEM file\n"
	             "                            for HTTPS registries (env BERTH_CA_CERT); always\n"
	             "                            trusted too, as by podman and docker: the *.crt\n"
	             "                            files of HOST:PORT/ in the first of\n"
	             "                            ~/.config/containers/certs.d,\n"
	             "                            /etc/containers/certs.d, /etc/docker/certs.d\n"
	             "                            that has that folder\n"
	             "  -h, --help                show this help\n"
	             "  -v, --version             show the version\n\n"
	             "Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nRun 'berth COMMAND --help' for a command's options.\n");
}

static void add_insecure(struct cli *g, const char *list)
{
	cleanup_free char *copy = xstrdup(list);
	char *save = NULL;
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		g->insecure = xrealloc(g->insecure, (g->ninsecure + 1) * sizeof *g->insecure);
		g->insecure[g->ninsecure++] = xstrdup(t);
	}
}

/* The store root when --root is not given; heap. */
static char *default_root(void)
{
	const char *env = getenv("BERTH_ROOT");
	if (env && *env)
		return xstrdup(env);
	if (geteuid() == 0)
		return xstrdup("/var/lib/berth");
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg)
		return xasprintf("%s/berth", xdg);
	const char *home = getenv("HOME");
	return xasprintf("%s/.local/share/berth", home && *home ? home : ".");
}

int main(int argc, char **argv)
{
	/* clang-format off */
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"ca-cert", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    {0},
	};
	/* clang-format on */
	struct cli g = {0};
	cleanup_free char *root = NULL;
	const char *ca_cert = getenv("BERTH_CA_CERT");
	if (ca_cert && !*ca_cert)
		ca_cert = NULL;
	bool ca_cert_from_env = ca_cert != NULL;
	const char *env = getenv("BERTH_INSECURE_REGISTRIES");
	if (env)
		add_insecure(&g, env);
	int c;
	while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			free(root);
			root = xstrdup(optarg);
			break;
		case 'i':
			add_insecure(&g, optarg);
			break;
		case 'c':
			ca_cert = optarg;
			ca_cert_from_env = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("berth %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!root)
		root = default_root();
	g.root = root;
	int first = optind;
	const char *name = argv[first];
	int rc = -1;
	signal(SIGPIPE, SIG_IGN);
	struct berr err = {0};
	registry_client_use_certs_d();
	if (ca_cert &&
	    registry_client_set_ca_file(ca_cert, ca_cert_from_env ? "BERTH_CA_CERT" : "--ca-cert", &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		rc = 2;
	}
	for (size_t i = 0; rc == -1 && i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(commands[i].name, name) == 0) {
			optind = 0; /* reinitialize getopt for the command's own options */
			if (cmd_speaks_http(name) && curl_lazy_load(&err) < 0) {
				rc = cmd_fail("%s", err.message);
				break;
			}
			rc = commands[i].fn(&g, argc - first, argv + first);
			break;
		}
	}
	registry_client_global_cleanup();
	for (size_t i = 0; i < g.ninsecure; i++)
		free(g.insecure[i]);
	free(g.insecure);
	if (rc == -1) {
		fprintf(stderr, "berth: unknown command \"%s\" (see berth --help)\n", name);
		return 2;
	}
	return rc;
}
