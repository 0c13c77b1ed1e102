/* Byte sizes as people type them ("500M", "10GiB", "1TB", "1.5g") and as berthd prints them
 * ("1.5 GiB"). Every option and command of berthd and berth that takes a size uses
 * size_parse; what differs between them (fractions, zero, what "KB" means...) is its flags.
 * The web UI's quota form (web/js/pages/quota.js parseSize) reads sizes as `berthd quota
 * set` does, and also takes spaces and fractions. */
#ifndef BERTH_SIZE_H
#define BERTH_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "common/berr.h"

/* The largest size size_parse accepts: 2^62 bytes (4 EiB). */
#define SIZE_LIMIT (UINT64_C(1) << 62)

/* What size_parse accepts beyond digits with an optional K, M, G or T (powers of 1024, any
 * case, "KB" and the like meaning the same). */
enum size_flags {
	SIZE_FRACTION = 1 << 0,   /* "1.5g": a decimal fraction, rounded down to whole bytes */
	SIZE_ZERO = 1 << 1,       /* "0" is a size (otherwise at least 1 byte) */
	SIZE_BYTES_UNIT = 1 << 2, /* "12b": B alone means bytes */
	SIZE_IEC = 1 << 3,        /* "1KiB", "1MiB"...: the binary units written out */
	SIZE_SI_BYTES = 1 << 4,   /* "1KB" is 1000 bytes: KB, MB, GB and TB are powers of 1000 */
};

/* Parse s, a whole size with no spaces, under `flags` (enum size_flags) into *out, in bytes.
 * Returns 0, or -1 with BERR_BAD_REQUEST and a one-line message naming s and what is wrong
 * ("invalid size '5Q': unknown unit 'Q' (use K, M, G or T)"). Never more than SIZE_LIMIT. */
int size_parse(const char *s, unsigned flags, uint64_t *out, struct berr *err);

/* Write n bytes for people into buf: "512 B" below 1 KiB, else one decimal in the largest
 * binary unit up to PiB ("1.5 GiB"). 32 bytes of buf always suffice. */
void size_format(uint64_t n, char *buf, size_t len);

#endif
