/* Unit tests for client/credentials.c: docker config.json read, store, erase (berth login). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/credentials.h"
#include "common/xalloc.h"
#include "tests/unit/tap.h"

int main(void)
{
	char dir[] = "/tmp/berth-cred.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("BERTH_CONFIG_DIR", dir, 1);
	cleanup_free char *path = credentials_path();
	FILE *f = fopen(path, "w");
	/* docker's own file: Hub's key form, a scheme-prefixed key, other settings to keep. */
	fprintf(f, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOnB3\"},"
	           "\"http://reg.example:5000\":{\"auth\":\"dTpwOnc=\"}},\"psFormat\":\"x\"}");
	fclose(f);
	struct credential c;
	struct berr err = {0};
	tap_is_int(credentials_get("docker.io", &c, &err), 1, "docker.io found under index.docker.io/v1/");
	tap_is_str(c.username, "hub", "docker.io user");
	tap_is_str(c.password, "pw", "docker.io password");
	credential_free(&c);
	tap_is_int(credentials_get("reg.example:5000", &c, &err), 1, "scheme-prefixed key matches");
	tap_is_str(c.password, "p:w", "password with a colon");
	credential_free(&c);
	tap_is_int(credentials_get("other:1", &c, &err), 0, "unknown registry");
	tap_is_int(credentials_store("reg.example:5000", "new", "secret", &err), 0, "store replaces");
	tap_is_int(credentials_get("reg.example:5000", &c, &err), 1, "stored found");
	tap_is_str(c.username, "new", "stored user");
	credential_free(&c);
	struct stat st;
	tap_is_int(stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1, 0600, "file mode 0600");
	bool found;
	tap_is_int(credentials_erase("docker.io", &found, &err), 0, "erase");
	tap_ok(found, "erase found the Hub entry");
	tap_is_int(credentials_get("docker.io", &c, &err), 0, "erased");
	f = fopen(path, "r");
	char buf[4096] = "";
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	tap_ok(strstr(buf, "psFormat") != NULL, "other settings kept");
	f = fopen(path, "w");
	fprintf(f, "not json");
	fclose(f);
	tap_is_int(credentials_get("docker.io", &c, &err), -1, "malformed file is an error");
	unlink(path);
	rmdir(dir);
	return tap_done();
}
