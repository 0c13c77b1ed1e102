/* Base64 encoding and strict decoding (RFC 4648): the standard alphabet with padding and
 * the URL-safe one without. Decoding rejects characters outside the alphabet, bad padding
 * and non-zero trailing bits, so one encoded text has exactly one decoding. */
#include "common/base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const char *alphabet, bool pad, const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alphabet[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

char *base64_encode(const void *data, size_t len)
{
	return b64_encode(b64_std, true, data, len);
}

char *base64url_encode(const void *data, size_t len)
{
	return b64_encode(b64_url, false, data, len);
}

static int b64_value(const char *alphabet, char c)
{
	const char *p = c ? memchr(alphabet, c, 64) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

static unsigned char *b64_decode(const char *alphabet, bool pad, const char *s, size_t len, size_t *outlen)
{
	if (pad) {
		if (len % 4)
			return NULL;
		size_t npad = 0;
		while (npad < 2 && len > 0 && s[len - 1] == '=') {
			len--;
			npad++;
		}
	}
	if (len % 4 == 1)
		return NULL;
	unsigned char *out = xmalloc(len / 4 * 3 + 3);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(alphabet, s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1))) { /* non-canonical trailing bits */
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

unsigned char *base64_decode(const char *s, size_t len, size_t *outlen)
{
	return b64_decode(b64_std, true, s, len, outlen);
}

unsigned char *base64url_decode(const char *s, size_t len, size_t *outlen)
{
	return b64_decode(b64_url, false, s, len, outlen);
}
