/* berthd user|org|token|repo ...: account administration on the data folder. Each command
 * opens the SQLite database (WAL allows this while berthd serves), does one change,
 * records it in the audit log as done by "cli", and prints one line. */
#include "server/admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/reference.h"
#include "common/xalloc.h"
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

/* Parse a size: digits with an optional unit, K/KiB M/MiB G/GiB T/TiB (powers of 1024) or
 * KB MB GB TB (powers of 1000), case-insensitive. Returns -1 when malformed or over 2^62. */
static int64_t admin_parse_size(const char *s)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"", 1},
	             {"b", 1},
	             {"k", 1LL << 10},
	             {"kib", 1LL << 10},
	             {"m", 1LL << 20},
	             {"mib", 1LL << 20},
	             {"g", 1LL << 30},
	             {"gib", 1LL << 30},
	             {"t", 1LL << 40},
	             {"tib", 1LL << 40},
	             {"kb", 1000LL},
	             {"mb", 1000LL * 1000},
	             {"gb", 1000LL * 1000 * 1000},
	             {"tb", 1000LL * 1000 * 1000 * 1000}};
	if (!isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcasecmp(end, units[i].unit)) {
			if (v > (1ULL << 62) / (unsigned long long)units[i].mult)
				return -1;
			return (int64_t)v * units[i].mult;
		}
	return -1;
}

/* Bytes as "1.5 GiB" (and the exact count when not whole bytes below 1 KiB). */
static void admin_format_size(int64_t n, char *buf, size_t len)
{
	static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof names / sizeof names[0]) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld B", (long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, names[u]);
}

static int admin_quota_print(void *ctx, const struct meta_usage *u)
{
	char used[32], quota[32] = "none";
	admin_format_size(u->used, used, sizeof used);
	if (u->quota >= 0)
		admin_format_size(u->quota, quota, sizeof quota);
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
		int64_t q = !strcmp(a->pos[2], "none") ? -1 : admin_parse_size(a->pos[2]);
		if (q < 0 && strcmp(a->pos[2], "none") != 0)
			return berr_set(err, BERR_INTERNAL,
			                "quota must be a size like 500M, 10G or 1TB (or none), not '%s'", a->pos[2]);
		if (meta_quota_set(m, a->pos[1], q, err) < 0)
			return -1;
		char detail[64];
		snprintf(detail, sizeof detail, "{\"quota\":%lld}", (long long)q);
		admin_audit(m, "quota_set", a->pos[1], q >= 0 ? detail : "{\"quota\":null}");
		struct meta_usage u;
		if (meta_usage_get(m, a->pos[1], &u, err) < 0)
			return -1;
		char used[32], quota[32];
		admin_format_size(u.used, used, sizeof used);
		admin_format_size(q, quota, sizeof quota);
		if (q >= 0)
			printf("namespace %s: quota %s (%lld bytes), %s used\n", u.namespace, quota, (long long)q,
			       used);
		else
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
	/* Split our flags and words from the server's (--data, --config...). */
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0;
	for (int i = 2; i < argc; i++) {
		const char *w = argv[i];
		const char **slot = NULL;
		if (!strcmp(w, "--help") || !strcmp(w, "-h")) {
			fputs(admin_usage, stdout);
			free(rest);
			return 0;
		} else if (!strcmp(w, "--admin"))
			a.admin = true;
		else if (!strcmp(w, "--password-stdin"))
			a.password_stdin = true;
		else if (!strcmp(w, "--email"))
			slot = &a.email;
		else if (!strcmp(w, "--owner"))
			slot = &a.owner;
		else if (!strcmp(w, "--role"))
			slot = &a.role;
		else if (!strcmp(w, "--scope"))
			slot = &a.scope;
		else if (!strcmp(w, "--name"))
			slot = &a.name;
		else if (!strncmp(w, "--", 2)) {
			rest[nrest++] = argv[i];
			if (!strchr(w, '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 &&
			    strcmp(w, "--read-only") != 0)
				rest[nrest++] = argv[++i];
		} else if (a.npos < 4)
			a.pos[a.npos++] = w;
		else {
			free(rest);
			return admin_fail("unexpected argument '%s'", w);
		}
		if (slot) {
			if (i + 1 >= argc) {
				free(rest);
				return admin_fail("%s needs a value", w);
			}
			*slot = argv[++i];
		}
	}
	struct config cfg;
	struct berr err = {0};
	bool exit_now;
	int rc = config_load(&cfg, nrest, rest, &exit_now, &err);
	free(rest);
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
