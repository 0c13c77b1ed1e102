/* Unit tests for common/www_auth.c: WWW-Authenticate challenges registries send. */
#include "common/www_auth.h"
#include "tests/unit/tap.h"

static const struct {
	const char *header;
	int rc;
	enum www_auth_scheme scheme;
	const char *realm, *service, *scope;
} cases[] = {
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/"
     "busybox:pull\"",
     0, WWW_AUTH_BEARER, "https://auth.docker.io/token", "registry.docker.io", "repository:library/busybox:pull"},
    {"Basic realm=\"berth-test\"", 0, WWW_AUTH_BASIC, "berth-test", NULL, NULL},
    {"bearer Realm=http://h:1/t, Service=s", 0, WWW_AUTH_BEARER, "http://h:1/t", "s", NULL},
    {"Bearer realm=\"a\\\"b\"", 0, WWW_AUTH_BEARER, "a\"b", NULL, NULL},
    {"Negotiate abc", 0, WWW_AUTH_NONE, NULL, NULL, NULL},
    {"Bearer realm=\"unterminated", -1, WWW_AUTH_NONE, NULL, NULL, NULL},
    {"Bearer =x", -1, WWW_AUTH_NONE, NULL, NULL, NULL},
    {"Bearer realm=\"r\", Basic realm=\"x\"", 0, WWW_AUTH_BEARER, "r", NULL, NULL},
};

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct www_auth a;
		struct berr err = {0};
		int rc = www_auth_parse(cases[i].header, &a, &err);
		tap_is_int(rc, cases[i].rc, "parse rc: %s", cases[i].header);
		if (rc == 0) {
			tap_is_int(a.scheme, cases[i].scheme, "scheme: %s", cases[i].header);
			tap_is_str(a.realm, cases[i].realm, "realm: %s", cases[i].header);
			tap_is_str(a.service, cases[i].service, "service: %s", cases[i].header);
			tap_is_str(a.scope, cases[i].scope, "scope: %s", cases[i].header);
		}
		www_auth_free(&a);
	}
	return tap_done();
}
