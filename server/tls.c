/* TLS certificates, loaded with GnuTLS and swapped atomically on reload. A handshake may
 * be using the previous certificate while a reload happens, so earlier ones are kept until
 * shutdown: a reload costs a few KiB, and reloads are rare. */
#include "server/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

/* The longest certificate chain accepted. */
#define TLS_MAX_CHAIN 16
/* The largest PEM file read. */
#define TLS_MAX_PEM (1 << 20)

struct tls_cert {
	gnutls_pcert_st chain[TLS_MAX_CHAIN];
	unsigned int nchain;
	gnutls_privkey_t key;
	struct tls_cert *older;
};

static struct {
	char *cert_path;
	char *key_path;
	_Atomic(struct tls_cert *) current;
	pthread_mutex_t reload_lock;
} tls = {.reload_lock = PTHREAD_MUTEX_INITIALIZER};

/* Read a whole PEM file (at most TLS_MAX_PEM bytes) into a heap datum. */
static int tls_read_file(const char *path, gnutls_datum_t *out, struct berr *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return berr_sys(err, errno, "read %s", path);
	if (st.st_size > TLS_MAX_PEM)
		return berr_set(err, BERR_INTERNAL, "%s is too large for a PEM file", path);
	unsigned char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		return berr_sys(err, errno, "read %s", path);
	}
	buf[n] = '\0';
	out->data = buf;
	out->size = (unsigned int)n;
	return 0;
}

static void tls_cert_free(struct tls_cert *c)
{
	for (unsigned int i = 0; i < c->nchain; i++)
		gnutls_pcert_deinit(&c->chain[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c);
}

/* Load and check a certificate chain and its key. Heap result, or NULL with err. */
static struct tls_cert *tls_load(const char *cert_path, const char *key_path, struct berr *err)
{
	gnutls_datum_t cert = {0}, key = {0};
	struct tls_cert *c = NULL;
	gnutls_certificate_credentials_t check = NULL;
	if (tls_read_file(cert_path, &cert, err) < 0 || tls_read_file(key_path, &key, err) < 0)
		goto out;
	/* GnuTLS's own pairing check: the key must belong to the first certificate. */
	int rc = gnutls_certificate_allocate_credentials(&check);
	if (rc == 0)
		rc = gnutls_certificate_set_x509_key_mem2(check, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		berr_set(err, BERR_INTERNAL, "TLS certificate %s with key %s: %s", cert_path, key_path,
		         gnutls_strerror(rc));
		goto out;
	}
	c = xcalloc(1, sizeof *c);
	c->nchain = TLS_MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(c->chain, &c->nchain, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		c->nchain = 0;
		berr_set(err, BERR_INTERNAL, "TLS certificate %s: %s", cert_path, gnutls_strerror(rc));
		goto fail;
	}
	rc = gnutls_privkey_init(&c->key);
	if (rc == 0)
		rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		berr_set(err, BERR_INTERNAL, "TLS key %s: %s", key_path, gnutls_strerror(rc));
		goto fail;
	}
	goto out;
fail:
	tls_cert_free(c);
	c = NULL;
out:
	if (check)
		gnutls_certificate_free_credentials(check);
	if (key.data) {
		/* The key is secret: do not leave it in freed memory. */
		explicit_bzero(key.data, key.size);
		free(key.data);
	}
	free(cert.data);
	return c;
}

int tls_init(const char *cert_path, const char *key_path, struct berr *err)
{
	struct tls_cert *c = tls_load(cert_path, key_path, err);
	if (!c)
		return -1;
	tls.cert_path = xstrdup(cert_path);
	tls.key_path = xstrdup(key_path);
	atomic_store(&tls.current, c);
	return 0;
}

int tls_reload(struct berr *err)
{
	if (!tls.cert_path)
		return berr_set(err, BERR_INTERNAL, "TLS is not enabled");
	struct tls_cert *c = tls_load(tls.cert_path, tls.key_path, err);
	if (!c)
		return -1;
	pthread_mutex_lock(&tls.reload_lock);
	c->older = atomic_load(&tls.current);
	atomic_store(&tls.current, c);
	pthread_mutex_unlock(&tls.reload_lock);
	return 0;
}

void tls_shutdown(void)
{
	struct tls_cert *c = atomic_exchange(&tls.current, NULL);
	while (c) {
		struct tls_cert *older = c->older;
		tls_cert_free(c);
		c = older;
	}
	free(tls.cert_path);
	free(tls.key_path);
	tls.cert_path = tls.key_path = NULL;
}

int tls_cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct tls_cert *c = atomic_load(&tls.current);
	if (!c)
		return -1;
	*pcert = c->chain;
	*pcert_length = c->nchain;
	*pkey = c->key;
	return 0;
}
