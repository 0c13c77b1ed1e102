/* One parser for the command lines of berthd's subcommands (see cli_args.h). Server options
 * are passed on as given; which of them take a value is config's to say, so that a word
 * after a switch such as --read-only stays a word. */
#include "server/cli_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "server/config.h"

/* The entry of opts named by w ("--name" or "--name=value"), or NULL. */
static const struct cli_opt *cli_args_find(const struct cli_opt *opts, const char *w)
{
	size_t n = strcspn(w, "=");
	for (const struct cli_opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, w, n) == 0)
			return o;
	return NULL;
}

int cli_args_parse(int argc, char **argv, int from, const struct cli_opt *opts, struct cli_args *a, struct berr *err)
{
	a->npos = 0;
	a->nrest = 0;
	a->help = false;
	a->rest = xcalloc((size_t)argc + 1, sizeof *a->rest);
	for (int i = from; i < argc; i++) {
		const char *w = argv[i];
		if (!strcmp(w, "--help") || !strcmp(w, "-h")) {
			a->help = true;
			return 0;
		}
		const struct cli_opt *o = strncmp(w, "--", 2) == 0 ? cli_args_find(opts, w) : NULL;
		const char *eq = strchr(w, '=');
		if (o && o->flag) {
			if (eq)
				return berr_set(err, BERR_BAD_REQUEST, "%s takes no value", o->name);
			*o->flag = true;
		} else if (o && eq) {
			*o->value = eq + 1;
		} else if (o) {
			if (i + 1 >= argc)
				return berr_set(err, BERR_BAD_REQUEST, "%s needs a value", w);
			*o->value = argv[++i];
		} else if (!strncmp(w, "--", 2)) {
			/* A server option takes the next word unless config says it is a switch
			 * (an unknown one takes it too: config_load then names the option). */
			a->rest[a->nrest++] = argv[i];
			if (!eq && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 &&
			    !config_option_is_switch(w + 2))
				a->rest[a->nrest++] = argv[++i];
		} else if (a->npos < a->maxpos) {
			a->pos[a->npos++] = w;
		} else {
			return berr_set(err, BERR_BAD_REQUEST, "unexpected argument '%s'", w);
		}
	}
	return 0;
}

void cli_args_free(struct cli_args *a)
{
	free(a->rest);
	a->rest = NULL;
	a->nrest = 0;
}

bool cli_args_load_data(int argc, char **argv, const struct cli_opt *opts, const char *usage, struct config *cfg,
                        char **db, int *status)
{
	struct cli_args args = {0};
	struct berr err = {0};
	*db = NULL;
	*status = 0;
	if (cli_args_parse(argc, argv, 2, opts, &args, &err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.message);
		*status = 2;
	} else if (args.help) {
		fputs(usage, stdout);
	} else {
		*status = config_load_data(cfg, args.nrest, args.rest, db);
		cli_args_free(&args);
		return *status == 0;
	}
	cli_args_free(&args);
	return false;
}
