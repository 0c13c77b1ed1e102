/* docker config.json credentials: reading, storing and erasing `auths` entries. Entry keys
 * are matched by host name the way docker does, so "https://index.docker.io/v1/" is the
 * entry for docker.io and "http://host:5000" the one for host:5000. */
#include "client/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

/* Largest config file read: docker's holds a few entries; anything bigger is not ours. */
#define CREDENTIALS_FILE_MAX (4 * 1024 * 1024)
/* The key docker uses for Docker Hub. */
#define CREDENTIALS_DOCKER_HUB_KEY "https://index.docker.io/v1/"

char *credentials_path(void)
{
	const char *dir = getenv("BERTH_CONFIG_DIR");
	if (!dir || !*dir)
		dir = getenv("DOCKER_CONFIG");
	if (dir && *dir)
		return xasprintf("%s/config.json", dir);
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.docker/config.json", home);
}

/* Decode base64 "user:password" into out; returns 0 or -1 if malformed. */
static int credentials_decode_basic(const char *b64, struct credential *out)
{
	size_t len = strlen(b64);
	if (len == 0 || len % 4 != 0 || len > 64 * 1024)
		return -1;
	cleanup_free unsigned char *buf = xmalloc(len / 4 * 3 + 1);
	int n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock keeps the padding as NUL bytes. */
	for (size_t i = len; i > 0 && b64[i - 1] == '='; i--)
		n--;
	buf[n] = '\0';
	char *colon = memchr(buf, ':', (size_t)n);
	if (!colon || memchr(buf, '\0', (size_t)n))
		return -1;
	out->username = xstrndup((char *)buf, (size_t)(colon - (char *)buf));
	out->password = xstrdup(colon + 1);
	OPENSSL_cleanse(buf, (size_t)n);
	return 0;
}

/* The host part of an auths key: scheme and path stripped ("https://h:5000/v1/" -> "h:5000"),
 * Docker Hub's aliases folded to "docker.io". Heap, caller frees. */
static char *credentials_key_host(const char *key)
{
	const char *p = key;
	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	char *host = xstrndup(p, strcspn(p, "/"));
	if (strcmp(host, "index.docker.io") == 0 || strcmp(host, "registry-1.docker.io") == 0) {
		free(host);
		host = xstrdup("docker.io");
	}
	return host;
}

static bool credentials_key_matches(const char *key, const char *registry)
{
	cleanup_free char *host = credentials_key_host(key);
	return strcmp(host, registry) == 0;
}

/* Load the config file: a new empty object if it does not exist. Returns a new reference
 * or NULL with err filled. */
static json_t *credentials_load(const char *path, struct berr *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return json_object();
		berr_sys(err, errno, "open %s", path);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		berr_sys(err, errno, "stat %s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CREDENTIALS_FILE_MAX) {
		berr_set(err, BERR_INTERNAL, "%s is not a regular file of at most %d bytes", path,
		         CREDENTIALS_FILE_MAX);
		return NULL;
	}
	if (st.st_size == 0)
		return json_object();
	json_error_t jerr;
	json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		berr_set(err, BERR_INTERNAL, "%s is not a JSON object: %s", path, root ? "wrong type" : jerr.text);
		return NULL;
	}
	return root;
}

int credentials_get(const char *registry, struct credential *out, struct berr *err)
{
	memset(out, 0, sizeof *out);
	cleanup_free char *path = credentials_path();
	json_t *root = credentials_load(path, err);
	if (!root)
		return -1;
	json_t *auths = json_object_get(root, "auths");
	const char *key;
	json_t *entry;
	int found = 0;
	json_object_foreach(auths, key, entry)
	{
		if (!json_is_object(entry) || !credentials_key_matches(key, registry))
			continue;
		const char *auth = json_string_value(json_object_get(entry, "auth"));
		const char *user = json_string_value(json_object_get(entry, "username"));
		const char *pass = json_string_value(json_object_get(entry, "password"));
		if (auth && *auth) {
			if (credentials_decode_basic(auth, out) < 0) {
				json_decref(root);
				return berr_set(err, BERR_INTERNAL,
				                "%s: the auth entry for %s is not base64 of user:password", path, key);
			}
			found = 1;
		} else if (user && pass) {
			out->username = xstrdup(user);
			out->password = xstrdup(pass);
			found = 1;
		}
		if (found)
			break;
	}
	json_decref(root);
	return found;
}

/* Write root to path atomically: temp file 0600 beside it, fsync, rename, fsync(dir). */
static int credentials_save(const char *path, json_t *root, struct berr *err)
{
	cleanup_free char *dircopy = xstrdup(path);
	const char *dir = dirname(dircopy);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return berr_sys(err, errno, "mkdir %s", dir);
	cleanup_free char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	cleanup_free char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return berr_set(err, BERR_INTERNAL, "cannot serialize %s", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berr_sys(err, errno, "create %s", tmp);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return berr_sys(err, e, "write %s", tmp);
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fchmod(fd, 0600) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return berr_sys(err, e, "write %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return berr_sys(err, e, "rename %s", tmp);
	}
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

/* Remove every auths entry for registry; returns how many. */
static int credentials_remove_entries(json_t *auths, const char *registry)
{
	int removed = 0;
	const char *key;
	json_t *entry;
	void *tmp;
	json_object_foreach_safe(auths, tmp, key, entry)
	{
		if (credentials_key_matches(key, registry)) {
			json_object_del(auths, key);
			removed++;
		}
	}
	return removed;
}

int credentials_store(const char *registry, const char *username, const char *password, struct berr *err)
{
	cleanup_free char *path = credentials_path();
	json_t *root = credentials_load(path, err);
	if (!root)
		return -1;
	json_t *auths = json_object_get(root, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(root, "auths", auths);
	}
	credentials_remove_entries(auths, registry);
	cleanup_free char *b64 = credential_encode_basic(username, password);
	const char *key = strcmp(registry, "docker.io") == 0 ? CREDENTIALS_DOCKER_HUB_KEY : registry;
	json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64));
	int rc = credentials_save(path, root, err);
	OPENSSL_cleanse(b64, strlen(b64));
	json_decref(root);
	return rc;
}

int credentials_erase(const char *registry, bool *found, struct berr *err)
{
	*found = false;
	cleanup_free char *path = credentials_path();
	json_t *root = credentials_load(path, err);
	if (!root)
		return -1;
	json_t *auths = json_object_get(root, "auths");
	int rc = 0;
	if (json_is_object(auths) && credentials_remove_entries(auths, registry) > 0) {
		*found = true;
		rc = credentials_save(path, root, err);
	}
	json_decref(root);
	return rc;
}
