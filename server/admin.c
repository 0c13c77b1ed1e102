/* berthd user|org|token|repo ...: account administration on the data folder. Each command
 * opens the SQLite database (WAL allows this while berthd serves), does one change,
 * records it in the audit log as done by "cli", and prints one line. */
#include "server/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/reference.h"
#include "common/size.h"
#include "common/xalloc.h"
#include "server/cli_args.h"
#include "server/config.h"
#include "server/meta.h"
#include "server/secrets.h"

struct admin_args {
	const char *pos[4]; /* positional words after the command */
	int npos;
	bool admin;
	bool password_stdin;
	const char *email;
	const char *owner;
	const char *role;
	const char *scope;
	const char *name;
};

static const char *const admin_usage =
    "Usage:\n"
    "  berthd user add NAME [--admin] [--email ADDR] [--password-stdin]\n"
    "  berthd user passwd NAME [--password-stdin]\n"
    "  berthd user disable|enable NAME\n"
    "  berthd user admin|noadmin NAME\n"
    "  berthd user del NAME\n"
    "  berthd user list\n"
    "  berthd org add NAME --owner USER\n"
    "  berthd org member add ORG USER [--role owner|writer|reader]   (default writer)\n"
    "  berthd org member del ORG USER\n"
    "  berthd org list\n"
    "  berthd token add USER --scope read|read-write|read-write-delete [--name NAME]\n"
    "  berthd token list USER\n"
    "  berthd token revoke USER ID\n"
    "  berthd repo visibility NAME public|private\n"
    "  berthd repo grant NAME USER read|write|admin\n"
    "  berthd repo revoke NAME USER\n"
    "  berthd quota set NAMESPACE SIZE|none   (SIZE: bytes, or with K M G T = 1024^n, KB MB GB TB = 1000^n)\n"
    "  berthd quota show [NAMESPACE]\n"
    "Each also takes --data DIR / --config FILE like the server.\n";

bool admin_is_command(const char *word)
{
	return word && (!strcmp(word, "user") || !strcmp(word, "org") || !strcmp(word, "token") ||
	                !strcmp(word, "repo") || !strcmp(word, "quota"));
}

__attribute__((format(printf, 1, 2))) static int admin_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "berthd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

/* A password from stdin (one line) or, on a terminal, typed twice without echo. Heap. */
static char *admin_read_password(bool from_stdin)
{
	char buf[SECRETS_PASSWORD_MAX + 2];
	if (!from_stdin && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "berthd: no terminal to ask for the password; use --password-stdin\n");
		return NULL;
	}
	if (from_stdin) {
		if (!fgets(buf, sizeof buf, stdin)) {
			fprintf(stderr, "berthd: no password on standard input\n");
			return NULL;
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		return xstrdup(buf);
	}
	struct termios old, quiet;
	tcgetattr(STDIN_FILENO, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	char again[sizeof buf];
	fprintf(stderr, "Password: ");
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	bool ok = fgets(buf, sizeof buf, stdin) != NULL;
	fprintf(stderr, "\nAgain: ");
	ok = ok && fgets(again, sizeof again, stdin) != NULL;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	buf[strcspn(buf, "\r\n")] = '\0';
	again[strcspn(again, "\r\n")] = '\0';
	if (!ok || strcmp(buf, again) != 0) {
		fprintf(stderr, "berthd: the passwords differ\n");
		return NULL;
	}
	return xstrdup(buf);
}

static void admin_audit(struct meta *m, const char *action, const char *target, const char *detail)
{
	meta_audit(m, "cli", action, target, detail, "local", NULL);
}

static int admin_print_user(void *ctx, const struct meta_account *acct)
{
	printf("%s%s%s\n", acct->name, acct->is_admin ? " admin" : "", acct->disabled ? " disabled" : "");
	return 0;
}

static int admin_print_token(void *ctx, const struct meta_pat *t)
{
	printf("%lld %s %s%s\n", (long long)t->id, t->name, t->scope, t->revoked_at ? " revoked" : "");
	return 0;
}

static int admin_user(struct meta *m, struct admin_args *a, struct berr *err)
{
	const char *verb = a->npos > 0 ? a->pos[0] : "";
	const char *name = a->npos > 1 ? a->pos[1] : NULL;
	if (!strcmp(verb, "list")) {
		return meta_accounts_list(m, 1, admin_print_user, NULL, err);
	}
	if (!name)
		return berr_set(err, BERR_INTERNAL, "user %s needs a NAME", verb);
	if (!strcmp(verb, "add")) {
		if (!reference_namespace_valid(name))
			return berr_set(err, BERR_INTERNAL,
			                "'%s' is not a valid name: 2 to 64 of a-z, 0-9 and . _ - between them", name);
		cleanup_free char *pw = admin_read_password(a->password_stdin);
		if (!pw)
			return berr_set(err, BERR_INTERNAL, "no password");
		cleanup_free char *hash = secrets_password_hash(pw, err);
		if (!hash || meta_account_create(m, name, false, a->email, hash, a->admin, NULL, err) < 0)
			return -1;
		admin_audit(m, "user_create", name, a->admin ? "{\"admin\":true}" : NULL);
		printf("created user %s%s\n", name, a->admin ? " (admin)" : "");
		return 0;
	}
	if (!strcmp(verb, "passwd")) {
		cleanup_free char *pw = admin_read_password(a->password_stdin);
		if (!pw)
			return berr_set(err, BERR_INTERNAL, "no password");
		cleanup_free char *hash = secrets_password_hash(pw, err);
		struct meta_account acct;
		if (!hash || meta_account_get(m, name, &acct, err) < 0 ||
		    meta_account_update(m, name, hash, NULL, -1, -1, err) < 0 ||
		    meta_refresh_revoke_all(m, acct.id, err) < 0)
			return -1;
		admin_audit(m, "password_change", name, NULL);
		printf("changed the password of %s\n", name);
		return 0;
	}
	if (!strcmp(verb, "disable") || !strcmp(verb, "enable")) {
		bool dis = !strcmp(verb, "disable");
		if (meta_account_update(m, name, NULL, NULL, -1, dis, err) < 0)
			return -1;
		admin_audit(m, dis ? "user_disable" : "user_enable", name, NULL);
		printf("%s %s\n", dis ? "disabled" : "enabled", name);
		return 0;
	}
	if (!strcmp(verb, "admin") || !strcmp(verb, "noadmin")) {
		bool adm = !strcmp(verb, "admin");
		if (meta_account_update(m, name, NULL, NULL, adm, -1, err) < 0)
			return -1;
		admin_audit(m, adm ? "admin_grant" : "admin_revoke", name, NULL);
		printf("%s is %san admin\n", name, adm ? "" : "no longer ");
		return 0;
	}
	if (!strcmp(verb, "del")) {
		struct meta_account acct;
		if (meta_account_get(m, name, &acct, err) < 0)
			return -1;
		if (acct.is_org)
			return berr_set(err, BERR_INTERNAL, "%s is an organization", name);
		if (meta_account_delete(m, name, err) < 0)
			return -1;
		admin_audit(m, "user_delete", name, NULL);
		printf("deleted user %s\n", name);
		return 0;
	}
	return berr_set(err, BERR_INTERNAL, "unknown command: user %s", verb);
}

static int admin_org(struct meta *m, struct admin_args *a, struct berr *err)
{
	const char *verb = a->npos > 0 ? a->pos[0] : "";
	if (!strcmp(verb, "list")) {
		return meta_accounts_list(m, 2, admin_print_user, NULL, err);
	}
	if (!strcmp(verb, "add")) {
		const char *name = a->npos > 1 ? a->pos[1] : NULL;
		if (!name || !a->owner)
			return berr_set(err, BERR_INTERNAL, "usage: berthd org add NAME --owner USER");
		if (!reference_namespace_valid(name))
			return berr_set(err, BERR_INTERNAL, "'%s' is not a valid name", name);
		if (meta_account_create(m, name, true, NULL, NULL, false, NULL, err) < 0)
			return -1;
		if (meta_org_member_set(m, name, a->owner, "owner", err) < 0) {
			meta_account_delete(m, name, NULL);
			return -1;
		}
		admin_audit(m, "org_create", name, NULL);
		printf("created organization %s, owned by %s\n", name, a->owner);
		return 0;
	}
	if (!strcmp(verb, "member") && a->npos >= 4) {
		const char *sub = a->pos[1], *org = a->pos[2], *user = a->pos[3];
		if (!strcmp(sub, "add")) {
			const char *role = a->role ? a->role : "writer";
			if (meta_org_member_set(m, org, user, role, err) < 0)
				return -1;
			char detail[64];
			snprintf(detail, sizeof detail, "{\"user\":\"%s\",\"role\":\"%s\"}", user, role);
			admin_audit(m, "member_set", org, detail);
			printf("%s is now %s of %s\n", user, role, org);
			return 0;
		}
		if (!strcmp(sub, "del")) {
			if (meta_org_member_remove(m, org, user, err) < 0)
				return -1;
			admin_audit(m, "member_remove", org, NULL);
			printf("removed %s from %s\n", user, org);
			return 0;
		}
	}
	return berr_set(err, BERR_INTERNAL, "unknown or incomplete command: org %s (see berthd user --help)", verb);
}

static int admin_token(struct meta *m, struct admin_args *a, struct berr *err)
{
	const char *verb = a->npos > 0 ? a->pos[0] : "";
	const char *user = a->npos > 1 ? a->pos[1] : NULL;
	struct meta_account acct;
	if (!user)
		return berr_set(err, BERR_INTERNAL, "token %s needs a USER", verb);
	if (meta_account_get(m, user, &acct, err) < 0)
		return -1;
	if (!strcmp(verb, "add")) {
		const char *scope = a->scope ? a->scope : "";
		if (strcmp(scope, "read") && strcmp(scope, "read-write") && strcmp(scope, "read-write-delete"))
			return berr_set(err, BERR_INTERNAL, "--scope must be read, read-write or read-write-delete");
		cleanup_free char *secret = secrets_token_new(SECRETS_PAT_PREFIX);
		char hash[65];
		secrets_token_hash(secret, hash);
		char defname[64];
		snprintf(defname, sizeof defname, "cli-%lld", (long long)time(NULL));
		int64_t id;
		if (meta_pat_create(m, acct.id, a->name ? a->name : defname, scope, hash, &id, err) < 0)
			return -1;
		admin_audit(m, "token_create", user, NULL);
		printf("%s\n", secret);
		fprintf(stderr, "token %lld for %s (%s); it is shown only once\n", (long long)id, user, scope);
		return 0;
	}
	if (!strcmp(verb, "list")) {
		return meta_pat_list(m, acct.id, admin_print_token, NULL, err);
	}
	if (!strcmp(verb, "revoke") && a->npos > 2) {
		char *end;
		long long id = strtoll(a->pos[2], &end, 10);
		if (*end || id <= 0)
			return berr_set(err, BERR_INTERNAL, "token revoke wants a numeric ID");
		if (meta_pat_revoke(m, acct.id, id, err) < 0)
			return -1;
		admin_audit(m, "token_revoke", user, NULL);
		printf("revoked token %lld of %s\n", id, user);
		return 0;
	}
	return berr_set(err, BERR_INTERNAL, "unknown command: token %s", verb);
}

static int admin_repo(struct meta *m, struct admin_args *a, struct berr *err)
{
	if (a->npos == 3 && !strcmp(a->pos[0], "visibility") &&
	    (!strcmp(a->pos[2], "public") || !strcmp(a->pos[2], "private"))) {
		bool pub = !strcmp(a->pos[2], "public");
		if (meta_repo_set_visibility(m, a->pos[1], pub, err) < 0)
			return -1;
		admin_audit(m, "visibility", a->pos[1],
		            pub ? "{\"visibility\":\"public\"}" : "{\"visibility\":\"private\"}");
		printf("%s is now %s\n", a->pos[1], a->pos[2]);
		return 0;
	}
	if ((a->npos == 4 && !strcmp(a->pos[0], "grant")) || (a->npos == 3 && !strcmp(a->pos[0], "revoke"))) {
		struct meta_repo_info info;
		struct meta_account acct;
		if (meta_repo_info(m, a->pos[1], &info, err) < 0 || meta_account_get(m, a->pos[2], &acct, err) < 0)
			return -1;
		if (!info.exists)
			return berr_set(err, BERR_INTERNAL, "repository %s does not exist", a->pos[1]);
		if (acct.is_org)
			return berr_set(err, BERR_INTERNAL, "%s is an organization; grants are for users", a->pos[2]);
		if (!strcmp(a->pos[0], "grant")) {
			if (meta_repo_grant_set(m, info.id, acct.id, a->pos[3], err) < 0)
				return -1;
			char detail[96];
			snprintf(detail, sizeof detail, "{\"user\":\"%s\",\"permission\":\"%s\"}", acct.name,
			         a->pos[3]);
			admin_audit(m, "grant_set", a->pos[1], detail);
			printf("%s may now %s %s\n", acct.name, a->pos[3], a->pos[1]);
		} else {
			if (meta_repo_grant_delete(m, info.id, acct.id, err) < 0)
				return -1;
			admin_audit(m, "grant_revoke", a->pos[1], NULL);
			printf("revoked the grant of %s on %s\n", acct.name, a->pos[1]);
		}
		return 0;
	}
	return berr_set(err, BERR_INTERNAL,
	                "usage: berthd repo visibility NAME public|private | repo grant NAME USER read|write|admin | "
	                "repo revoke NAME USER");
}

static int admin_quota_print(void *ctx, const struct meta_usage *u)
{
	char used[32], quota[32] = "none";
	size_format((uint64_t)u->used, used, sizeof used);
	if (u->quota >= 0)
		size_format((uint64_t)u->quota, quota, sizeof quota);
	char qbytes[24] = "-";
	if (u->quota >= 0)
		snprintf(qbytes, sizeof qbytes, "%lld", (long long)u->quota);
	printf("%-32s %12s %12s %16lld %16s\n", u->namespace[0] ? u->namespace : "(top level)", used, quota,
	       (long long)u->used, qbytes);
	return 0;
}

/* berthd quota set NS SIZE|none, berthd quota show [NS]. */
static int admin_quota(struct meta *m, struct admin_args *a, struct berr *err)
{
	if (a->npos == 3 && !strcmp(a->pos[0], "set")) {
		if (!reference_namespace_valid(a->pos[1]))
			return berr_set(err, BERR_INTERNAL, "'%s' is not a valid namespace name", a->pos[1]);
		/* K/KiB... are powers of 1024, KB... powers of 1000; a bare number or B is bytes. */
		uint64_t bytes = 0;
		if (strcmp(a->pos[2], "none") != 0 &&
		    size_parse(a->pos[2], SIZE_ZERO | SIZE_BYTES_UNIT | SIZE_IEC | SIZE_SI_BYTES, &bytes, err) < 0) {
			berr_prefix(err, "quota must be a size like 500M, 10G or 1TB (or none)");
			return -1;
		}
		int64_t q = !strcmp(a->pos[2], "none") ? -1 : (int64_t)bytes;
		if (meta_quota_set(m, a->pos[1], q, err) < 0)
			return -1;
		char detail[64];
		snprintf(detail, sizeof detail, "{\"quota\":%lld}", (long long)q);
		admin_audit(m, "quota_set", a->pos[1], q >= 0 ? detail : "{\"quota\":null}");
		struct meta_usage u;
		if (meta_usage_get(m, a->pos[1], &u, err) < 0)
			return -1;
		char used[32], quota[32];
		size_format((uint64_t)u.used, used, sizeof used);
		if (q >= 0) {
			size_format((uint64_t)q, quota, sizeof quota);
			printf("namespace %s: quota %s (%lld bytes), %s used\n", u.namespace, quota, (long long)q,
			       used);
		} else
			printf("namespace %s: no quota, %s used\n", u.namespace, used);
		return 0;
	}
	if ((a->npos == 1 || a->npos == 2) && !strcmp(a->pos[0], "show")) {
		printf("%-32s %12s %12s %16s %16s\n", "NAMESPACE", "USED", "QUOTA", "USED_BYTES", "QUOTA_BYTES");
		if (a->npos == 1)
			return meta_usage_list(m, admin_quota_print, NULL, err);
		struct meta_usage u;
		if (meta_usage_get(m, a->pos[1], &u, err) < 0)
			return -1;
		return admin_quota_print(NULL, &u);
	}
	return berr_set(err, BERR_INTERNAL, "usage: berthd quota set NAMESPACE SIZE|none | quota show [NAMESPACE]");
}

int admin_main(int argc, char **argv)
{
	const char *cmd = argv[1];
	struct admin_args a = {.npos = 0};
	const struct cli_opt opts[] = {{"--admin", .flag = &a.admin},  {"--password-stdin", .flag = &a.password_stdin},
	                               {"--email", .value = &a.email}, {"--owner", .value = &a.owner},
	                               {"--role", .value = &a.role},   {"--scope", .value = &a.scope},
	                               {"--name", .value = &a.name},   {NULL}};
	/* Split our flags and words from the server's (--data, --config...). */
	struct cli_args args = {.pos = a.pos, .maxpos = 4};
	struct berr err = {0};
	if (cli_args_parse(argc, argv, 2, opts, &args, &err) < 0) {
		cli_args_free(&args);
		return admin_fail("%s", err.message);
	}
	if (args.help) {
		cli_args_free(&args);
		fputs(admin_usage, stdout);
		return 0;
	}
	a.npos = args.npos;
	struct config cfg;
	bool exit_now;
	int rc = config_load(&cfg, args.nrest, args.rest, &exit_now, &err);
	cli_args_free(&args);
	if (rc < 0) {
		config_free(&cfg);
		return admin_fail("%s", err.message);
	}
	mkdir(cfg.data_dir, 0750);
	cleanup_free char *db = config_database(&cfg);
	if (config_database_missing(db) && strcmp(cmd, "user") != 0) {
		fprintf(stderr, "berthd: no database at %s (start berthd once, or create a user first)\n", db);
		config_free(&cfg);
		return 1;
	}
	struct meta *m = NULL;
	if (meta_init(db, &err) < 0 || !(m = meta_get(&err))) {
		config_free(&cfg);
		return admin_fail("%s", err.message);
	}
	if (!strcmp(cmd, "user"))
		rc = admin_user(m, &a, &err);
	else if (!strcmp(cmd, "org"))
		rc = admin_org(m, &a, &err);
	else if (!strcmp(cmd, "token"))
		rc = admin_token(m, &a, &err);
	else if (!strcmp(cmd, "quota"))
		rc = admin_quota(m, &a, &err);
	else
		rc = admin_repo(m, &a, &err);
	meta_shutdown();
	config_free(&cfg);
	if (rc < 0)
		return admin_fail("%s", err.message);
	return 0;
}
