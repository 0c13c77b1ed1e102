/* berthd's TLS certificate: the PEM chain and key of --tls-cert/--tls-key, held as GnuTLS
 * credentials that libmicrohttpd asks for at each handshake, so that a reload (SIGHUP)
 * serves the new certificate to new connections without touching open ones. */
#ifndef BERTH_TLS_H
#define BERTH_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "common/berr.h"

/* The protocol versions and ciphers berthd offers: TLS 1.2 and 1.3 only, forward-secret
 * key exchange, AEAD ciphers only (GnuTLS priority string). */
#define TLS_PRIORITIES                                                                                         \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* Load the certificate chain and key (the key must match the first certificate). */
int tls_init(const char *cert_path, const char *key_path, struct berr *err);
/* Load them again from the same files. On failure the certificate in use stays, and err
 * says why. */
int tls_reload(struct berr *err);
/* Free every certificate loaded. Only once nothing serves TLS any more. */
void tls_shutdown(void);
/* For MHD_OPTION_HTTPS_CERT_CALLBACK: the current certificate chain and key. */
int tls_cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned int *pcert_length, gnutls_privkey_t *pkey);

#endif
