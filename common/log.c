/* Leveled logging to stderr, as text or as one JSON object per line. Each message is
 * formatted into one buffer and written with a single write(2), so lines from different
 * threads never interleave. The level may change at run time (SIGHUP), hence atomic. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_current = LOG_INFO;
static _Atomic int log_format_current = LOG_FORMAT_TEXT;

static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_OFF; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return LOG_WARN;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level >= LOG_DEBUG && level <= LOG_OFF ? log_names[level] : "?";
}

int log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

void log_set_format(enum log_format format)
{
	log_format_current = format;
}

void log_set_level(enum log_level level)
{
	log_current = level;
}

enum log_level log_get_level(void)
{
	return (enum log_level)log_current;
}

bool log_enabled(enum log_level level)
{
	return (int)level >= log_current && level < LOG_OFF;
}

/* Append src to dst[*len..cap) as the inside of a JSON string, cutting it short (never
 * mid-escape) when the buffer is full. Bytes >= 0x80 pass through: messages are UTF-8. */
static void log_json_escape(char *dst, size_t *len, size_t cap, const char *src)
{
	size_t n = *len;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		char esc[8];
		size_t el = 0;
		switch (*p) {
		case '"':
			el = (size_t)snprintf(esc, sizeof esc, "\\\"");
			break;
		case '\\':
			el = (size_t)snprintf(esc, sizeof esc, "\\\\");
			break;
		case '\n':
			el = (size_t)snprintf(esc, sizeof esc, "\\n");
			break;
		case '\r':
			el = (size_t)snprintf(esc, sizeof esc, "\\r");
			break;
		case '\t':
			el = (size_t)snprintf(esc, sizeof esc, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				el = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
			else {
				esc[0] = (char)*p;
				el = 1;
			}
		}
		if (n + el >= cap) {
			/* Cut at a character boundary: drop a partly copied UTF-8 sequence. */
			while (n > *len && ((unsigned char)dst[n - 1] & 0x80))
				n--;
			break;
		}
		memcpy(dst + n, esc, el);
		n += el;
	}
	*len = n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char line[4096];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char stamp[96];
	snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	size_t len;
	if (log_format_current == LOG_FORMAT_JSON) {
		char msg[3072];
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		if (m >= (int)sizeof msg) /* cut short: drop a partly kept UTF-8 sequence */
			for (size_t k = sizeof msg - 1; k > 0 && ((unsigned char)msg[k - 1] & 0x80); k--)
				msg[k - 1] = '\0';
		len = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp,
		                       log_names[level]);
		/* Room is kept for the closing "}\n. */
		log_json_escape(line, &len, sizeof line - 3, msg);
		line[len++] = '"';
		line[len++] = '}';
	} else {
		int n = snprintf(line, sizeof line, "%s %-5s ", stamp, log_names[level]);
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
		va_end(ap);
		len = (size_t)n + (m < 0 ? 0 : (size_t)m);
		if (len > sizeof line - 2)
			len = sizeof line - 2;
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
