/* Finding a registry's certificate folder (containers-certs.d(5), docker's certs.d) and
 * gathering its CA certificates as one PEM text, so that an HTTP client can trust them
 * (libcurl's CURLOPT_CAINFO_BLOB) besides the system's. */
#include "autoconfig.h"

#include "common/certs_d.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/xalloc.h"

#define CERTS_D_PEM_BEGIN "-----BEGIN CERTIFICATE-----"

int certs_d_find(const char *registry, const char *const *roots, size_t nroots, char **dir, struct berr *err)
{
	*dir = NULL;
	if (!*registry || strchr(registry, '/') || strcmp(registry, ".") == 0 || strcmp(registry, "..") == 0)
		return berr_set(err, BERR_NAME_INVALID, "%s: not a registry host name (for its certs.d folder)",
		                registry);
	cleanup_free char *home_root = NULL;
	const char *defaults[3];
	if (!roots) {
		size_t n = 0;
		const char *home = getenv("HOME");
		if (home && *home)
			defaults[n++] = home_root = xasprintf("%s/.config/containers/certs.d", home);
		defaults[n++] = "/etc/containers/certs.d";
		defaults[n++] = "/etc/docker/certs.d";
		roots = defaults;
		nroots = n;
	}
	for (size_t i = 0; i < nroots; i++) {
		char *path = xasprintf("%s/%s", roots[i], registry);
		struct stat sb;
		if (stat(path, &sb) < 0) {
			int e = errno;
			if (e == ENOENT || e == ENOTDIR || e == EACCES) {
				free(path);
				continue;
			}
			berr_sys(err, e, "%s", path);
			free(path);
			return -1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			berr_set(err, BERR_BAD_REQUEST, "%s: not a folder (it should hold the registry's CA as ca.crt)",
			         path);
			free(path);
			return -1;
		}
		*dir = path;
		return 1;
	}
	return 0;
}

void certs_pem_free(struct certs_pem *pem)
{
	free(pem->data);
	pem->data = NULL;
	pem->len = 0;
	pem->files = 0;
}

/* True if every CERTIFICATE block of the n bytes at text parses as an X.509 certificate
 * (other PEM blocks are skipped, as OpenSSL skips them when it loads a CA file). */
static bool certs_pem_parses(const char *text, size_t n)
{
	BIO *b = BIO_new_mem_buf(text, (int)n);
	if (!b)
		return false;
	bool ok = true;
	for (;;) {
		ERR_clear_error();
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (x) {
			X509_free(x);
			continue;
		}
		unsigned long e = ERR_peek_last_error();
		ok = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
		break;
	}
	ERR_clear_error();
	BIO_free(b);
	return ok;
}

/* Append path to pem as certs_pem_append_file says; with skip_missing, a file that is not
 * there (a dangling symlink in a folder) returns 0 and adds nothing. */
static int certs_pem_add(struct certs_pem *pem, const char *path, const char *what, bool skip_missing, struct berr *err)
{
	const char *sep = *what ? " " : "";
	/* O_NONBLOCK: a FIFO named *.crt must not block the open; it is refused below. */
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (skip_missing && errno == ENOENT)
			return 0;
		return berr_sys(err, errno, "%s%s%s", what, sep, path);
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return berr_sys(err, errno, "%s%s%s", what, sep, path);
	if (!S_ISREG(sb.st_mode))
		return berr_set(err, BERR_BAD_REQUEST, "%s%s%s: not a file", what, sep, path);
	if (sb.st_size > CERTS_D_FILE_MAX)
		return berr_set(err, BERR_SIZE_INVALID, "%s%s%s: larger than the %d bytes accepted for CA certificates",
		                what, sep, path, CERTS_D_FILE_MAX);
	/* Read at most one byte past the cap: a file growing meanwhile is still bounded. */
	cleanup_free char *buf = xmalloc(CERTS_D_FILE_MAX + 2);
	size_t len = 0;
	while (len <= CERTS_D_FILE_MAX) {
		ssize_t n = read(fd, buf + len, CERTS_D_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_sys(err, errno, "read %s%s%s", what, sep, path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CERTS_D_FILE_MAX)
		return berr_set(err, BERR_SIZE_INVALID, "%s%s%s: larger than the %d bytes accepted for CA certificates",
		                what, sep, path, CERTS_D_FILE_MAX);
	buf[len] = '\0';
	if (!memmem(buf, len, CERTS_D_PEM_BEGIN, strlen(CERTS_D_PEM_BEGIN)))
		return berr_set(err, BERR_BAD_REQUEST, "%s%s%s: no PEM certificate (" CERTS_D_PEM_BEGIN ") in the file",
		                what, sep, path);
	/* Parsed here, certificate by certificate: libcurl would refuse the whole text for one bad
	 * block, without naming the file. */
	if (!certs_pem_parses(buf, len))
		return berr_set(err, BERR_BAD_REQUEST, "%s%s%s: a PEM certificate in the file does not parse", what,
		                sep, path);
	if (pem->len + len + 1 > CERTS_D_TOTAL_MAX)
		return berr_set(err, BERR_SIZE_INVALID,
		                "%s%s%s: the CA certificates add up to more than the %d bytes accepted", what, sep,
		                path, CERTS_D_TOTAL_MAX);
	/* A newline between files, so that an END line without one cannot run into the next BEGIN. */
	pem->data = xrealloc(pem->data, pem->len + len + 2);
	memcpy(pem->data + pem->len, buf, len);
	pem->len += len;
	pem->data[pem->len++] = '\n';
	pem->data[pem->len] = '\0';
	pem->files++;
	return 0;
}

int certs_pem_append_file(struct certs_pem *pem, const char *path, const char *what, struct berr *err)
{
	return certs_pem_add(pem, path, what, false, err);
}

/* scandir's filter: names ending in ".crt". */
static int certs_d_is_crt(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n >= 4 && strcmp(d->d_name + n - 4, ".crt") == 0;
}

int certs_d_load_cas(const char *dir, struct certs_pem *pem, struct berr *err)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, certs_d_is_crt, alphasort);
	if (n < 0 && errno == EACCES)
		return 0; /* skipped, as containers/image skips a folder it may not read */
	if (n < 0)
		return berr_sys(err, errno, "list the CA certificates in %s", dir);
	int rc = 0;
	if (n > CERTS_D_FILES_MAX)
		rc = berr_set(err, BERR_SIZE_INVALID, "%s: more than %d *.crt files", dir, CERTS_D_FILES_MAX);
	/* Gathered apart, so that a bad file leaves pem as it was. */
	struct certs_pem add = {0};
	for (int i = 0; rc == 0 && i < n; i++) {
		cleanup_free char *path = xasprintf("%s/%s", dir, list[i]->d_name);
		if (pem->len + add.len > CERTS_D_TOTAL_MAX)
			rc = berr_set(err, BERR_SIZE_INVALID,
			              "%s: the CA certificates add up to more than the %d bytes accepted", dir,
			              CERTS_D_TOTAL_MAX);
		else
			rc = certs_pem_add(&add, path, "", true, err);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (rc == 0 && add.len) {
		if (pem->len + add.len > CERTS_D_TOTAL_MAX) {
			rc = berr_set(err, BERR_SIZE_INVALID,
			              "%s: the CA certificates add up to more than the %d bytes accepted", dir,
			              CERTS_D_TOTAL_MAX);
		} else {
			pem->data = xrealloc(pem->data, pem->len + add.len + 1);
			memcpy(pem->data + pem->len, add.data, add.len);
			pem->len += add.len;
			pem->data[pem->len] = '\0';
			pem->files += add.files;
		}
	}
	certs_pem_free(&add);
	return rc;
}
