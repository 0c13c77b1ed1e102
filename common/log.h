/* Leveled logging to stderr, one line per message, with a timestamp. Thread-safe. */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };
/* text: "TIME LEVEL message"; json: one object {"time","level","msg"} per line. */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Parse "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int log_level_parse(const char *s);
/* The name of a level ("info"). */
const char *log_level_name(enum log_level level);
/* Parse "text" or "json"; returns -1 if unknown. */
int log_format_parse(const char *s);
void log_set_format(enum log_format format);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
