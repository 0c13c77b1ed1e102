/* libcurl loaded on demand. berthd speaks HTTP outwards only for S3 storage, the pull-through
 * cache, replication and webhooks; most deployments use none of them, and linking libcurl
 * maps some twenty libraries (TLS, Kerberos, LDAP, SASL, SSH, HTTP/2, IDN...) into every
 * berthd. So no Berth code calls libcurl directly: including this header in place of
 * <curl/curl.h> keeps the curl_* names but sends each call through a table that
 * common/curl_lazy.c fills by dlopen()ing libcurl.so.4 at the first call (or at
 * curl_lazy_load). If the library cannot be loaded the table holds stand-ins that fail the
 * way libcurl does (curl_easy_init returns NULL, curl_easy_perform CURLE_FAILED_INIT...).
 *
 * berth goes through the same table: it shares these objects (libregistry_client.a) with
 * berthd, so one build and one code path serve both, and with the linker's --as-needed
 * (Debian's default) a -lcurl beside the table would be dropped anyway. Its commands that
 * need no registry (run, images...) then work without libcurl too.
 *
 * curl's gcc type checks of curl_easy_setopt/getinfo are macros over the real names, which
 * cannot be redirected: they are off (CURL_DISABLE_TYPECHECK) in the files using this. */
#ifndef BERTH_CURL_LAZY_H
#define BERTH_CURL_LAZY_H

#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK 1
#endif
#include <curl/curl.h>

#include "common/berr.h"

/* The soname loaded: Debian's libcurl4 (OpenSSL flavour). */
#define CURL_LAZY_SONAME "libcurl.so.4"

/* Every libcurl function Berth calls. A new one goes here and in curl_lazy.c's stand-ins. */
#define CURL_LAZY_FUNCS(X)          \
	X(curl_easy_cleanup)        \
	X(curl_easy_escape)         \
	X(curl_easy_getinfo)        \
	X(curl_easy_init)           \
	X(curl_easy_pause)          \
	X(curl_easy_perform)        \
	X(curl_easy_reset)          \
	X(curl_easy_setopt)         \
	X(curl_easy_strerror)       \
	X(curl_free)                \
	X(curl_global_cleanup)      \
	X(curl_global_init)         \
	X(curl_multi_add_handle)    \
	X(curl_multi_cleanup)       \
	X(curl_multi_info_read)     \
	X(curl_multi_init)          \
	X(curl_multi_perform)       \
	X(curl_multi_poll)          \
	X(curl_multi_remove_handle) \
	X(curl_share_cleanup)       \
	X(curl_share_init)          \
	X(curl_share_setopt)        \
	X(curl_slist_append)        \
	X(curl_slist_free_all)

#define CURL_LAZY_MEMBER(f) __typeof__(f) *f;
/* The functions calls go to: libcurl's, or the stand-ins when it could not be loaded. */
struct curl_lazy_api {
	CURL_LAZY_FUNCS(CURL_LAZY_MEMBER)
};
#undef CURL_LAZY_MEMBER

/* Load libcurl now (once per process; later calls return the first outcome): 0, or -1
 * with err saying why ("libcurl.so.4 could not be loaded (...): install Debian's libcurl4").
 * Called where a feature needing it is configured, so that is one clear start-up error. */
int curl_lazy_load(struct berr *err);
/* The table, loading libcurl at the first call; a failure is logged once (log_error). */
const struct curl_lazy_api *curl_lazy_api(void);
/* curl_global_init: loads libcurl (which is then initialised already) and counts one more
 * user, as libcurl does; CURLE_FAILED_INIT if it cannot be loaded. */
CURLcode curl_lazy_global_init(long flags);
/* curl_global_cleanup for a matching curl_lazy_global_init; never loads libcurl. */
void curl_lazy_global_cleanup(void);

#ifndef CURL_LAZY_IMPLEMENTATION
/* curl.h defines these three as plain macros over themselves when type checks are off. */
#undef curl_easy_getinfo
#undef curl_easy_setopt
#undef curl_share_setopt
#define curl_easy_cleanup        (curl_lazy_api()->curl_easy_cleanup)
#define curl_easy_escape         (curl_lazy_api()->curl_easy_escape)
#define curl_easy_getinfo        (curl_lazy_api()->curl_easy_getinfo)
#define curl_easy_init           (curl_lazy_api()->curl_easy_init)
#define curl_easy_pause          (curl_lazy_api()->curl_easy_pause)
#define curl_easy_perform        (curl_lazy_api()->curl_easy_perform)
#define curl_easy_reset          (curl_lazy_api()->curl_easy_reset)
#define curl_easy_setopt         (curl_lazy_api()->curl_easy_setopt)
#define curl_easy_strerror       (curl_lazy_api()->curl_easy_strerror)
#define curl_free                (curl_lazy_api()->curl_free)
#define curl_global_cleanup      curl_lazy_global_cleanup
#define curl_global_init         curl_lazy_global_init
#define curl_multi_add_handle    (curl_lazy_api()->curl_multi_add_handle)
#define curl_multi_cleanup       (curl_lazy_api()->curl_multi_cleanup)
#define curl_multi_info_read     (curl_lazy_api()->curl_multi_info_read)
#define curl_multi_init          (curl_lazy_api()->curl_multi_init)
#define curl_multi_perform       (curl_lazy_api()->curl_multi_perform)
#define curl_multi_poll          (curl_lazy_api()->curl_multi_poll)
#define curl_multi_remove_handle (curl_lazy_api()->curl_multi_remove_handle)
#define curl_share_cleanup       (curl_lazy_api()->curl_share_cleanup)
#define curl_share_init          (curl_lazy_api()->curl_share_init)
#define curl_share_setopt        (curl_lazy_api()->curl_share_setopt)
#define curl_slist_append        (curl_lazy_api()->curl_slist_append)
#define curl_slist_free_all      (curl_lazy_api()->curl_slist_free_all)
#endif

#endif
