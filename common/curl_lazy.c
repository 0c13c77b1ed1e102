/* libcurl loaded on demand (see curl_lazy.h): dlopen("libcurl.so.4") once per process,
 * curl_global_init right after (before any thread can use a handle), and a table of the
 * functions Berth calls, or of stand-ins failing as libcurl does when it cannot be loaded. */
#define CURL_LAZY_IMPLEMENTATION 1
#include "common/curl_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "common/log.h"

static char curl_lazy_error[400];

/* The stand-ins: what each call returns when libcurl could not be loaded. Nothing they
 * return was allocated, so the cleanups have nothing to do. */
static void none_curl_easy_cleanup(CURL *h)
{
}

static char *none_curl_easy_escape(CURL *h, const char *s, int len)
{
	return NULL;
}

static CURLcode none_curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	return CURLE_FAILED_INIT;
}

static CURL *none_curl_easy_init(void)
{
	return NULL;
}

static CURLcode none_curl_easy_pause(CURL *h, int bitmask)
{
	return CURLE_FAILED_INIT;
}

static CURLcode none_curl_easy_perform(CURL *h)
{
	return CURLE_FAILED_INIT;
}

static void none_curl_easy_reset(CURL *h)
{
}

static CURLcode none_curl_easy_setopt(CURL *h, CURLoption option, ...)
{
	return CURLE_FAILED_INIT;
}

/* The reason, so a caller logging curl_easy_strerror(rc) tells the operator what to do. */
static const char *none_curl_easy_strerror(CURLcode rc)
{
	return curl_lazy_error;
}

static void none_curl_free(void *p)
{
}

static void none_curl_global_cleanup(void)
{
}

static CURLcode none_curl_global_init(long flags)
{
	return CURLE_FAILED_INIT;
}

static CURLMcode none_curl_multi_add_handle(CURLM *m, CURL *h)
{
	return CURLM_BAD_HANDLE;
}

static CURLMcode none_curl_multi_cleanup(CURLM *m)
{
	return CURLM_BAD_HANDLE;
}

static CURLMsg *none_curl_multi_info_read(CURLM *m, int *msgs_in_queue)
{
	if (msgs_in_queue)
		*msgs_in_queue = 0;
	return NULL;
}

static CURLM *none_curl_multi_init(void)
{
	return NULL;
}

static CURLMcode none_curl_multi_perform(CURLM *m, int *running)
{
	if (running)
		*running = 0;
	return CURLM_BAD_HANDLE;
}

static CURLMcode none_curl_multi_poll(CURLM *m, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms,
                                      int *ret)
{
	if (ret)
		*ret = 0;
	return CURLM_BAD_HANDLE;
}

static CURLMcode none_curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return CURLM_BAD_HANDLE;
}

static CURLSHcode none_curl_share_cleanup(CURLSH *sh)
{
	return CURLSHE_INVALID;
}

static CURLSH *none_curl_share_init(void)
{
	return NULL;
}

static CURLSHcode none_curl_share_setopt(CURLSH *sh, CURLSHoption option, ...)
{
	return CURLSHE_INVALID;
}

static struct curl_slist *none_curl_slist_append(struct curl_slist *list, const char *s)
{
	return NULL;
}

static void none_curl_slist_free_all(struct curl_slist *list)
{
}

/* Each member's stand-in is none_<name>: one missing from the list above fails the build. */
#define CURL_LAZY_NONE(f) .f = none_##f,
static const struct curl_lazy_api curl_lazy_none = {CURL_LAZY_FUNCS(CURL_LAZY_NONE)};
#undef CURL_LAZY_NONE

static struct curl_lazy_api curl_lazy_real;
/* Set once by curl_lazy_open under curl_lazy_once, read only after pthread_once. */
static const struct curl_lazy_api *curl_lazy_table = &curl_lazy_none;
static pthread_once_t curl_lazy_once = PTHREAD_ONCE_INIT;
static atomic_bool curl_lazy_ok;
/* Whether the failure was told (by curl_lazy_load's caller, or logged): told once. */
static atomic_bool curl_lazy_told;

/* Map libcurl and resolve the table; on any failure the stand-ins stay and
 * curl_lazy_error says why. The library stays mapped and initialised until exit. */
static void curl_lazy_open(void)
{
	void *h = dlopen(CURL_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(curl_lazy_error, sizeof curl_lazy_error,
		         "%s could not be loaded (%s): install Debian's libcurl4 (apt-get install libcurl4)",
		         CURL_LAZY_SONAME, dlerror());
		return;
	}
#define CURL_LAZY_RESOLVE(f)                                                                                \
	if (!(curl_lazy_real.f = (__typeof__(f) *)dlsym(h, #f))) {                                          \
		snprintf(curl_lazy_error, sizeof curl_lazy_error, "%s lacks %s: install Debian's libcurl4", \
		         CURL_LAZY_SONAME, #f);                                                             \
		dlclose(h);                                                                                 \
		return;                                                                                     \
	}
	CURL_LAZY_FUNCS(CURL_LAZY_RESOLVE)
#undef CURL_LAZY_RESOLVE
	CURLcode rc = curl_lazy_real.curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(curl_lazy_error, sizeof curl_lazy_error, "%s could not be initialised: %s", CURL_LAZY_SONAME,
		         curl_lazy_real.curl_easy_strerror(rc));
		return;
	}
	curl_lazy_table = &curl_lazy_real;
	atomic_store(&curl_lazy_ok, true);
}

int curl_lazy_load(struct berr *err)
{
	pthread_once(&curl_lazy_once, curl_lazy_open);
	if (atomic_load(&curl_lazy_ok))
		return 0;
	atomic_store(&curl_lazy_told, true);
	return berr_set(err, BERR_INTERNAL, "%s", curl_lazy_error);
}

const struct curl_lazy_api *curl_lazy_api(void)
{
	pthread_once(&curl_lazy_once, curl_lazy_open);
	if (!atomic_load(&curl_lazy_ok) && !atomic_exchange(&curl_lazy_told, true))
		log_error("%s", curl_lazy_error);
	return curl_lazy_table;
}

CURLcode curl_lazy_global_init(long flags)
{
	return curl_lazy_api()->curl_global_init(flags);
}

void curl_lazy_global_cleanup(void)
{
	if (atomic_load(&curl_lazy_ok))
		curl_lazy_real.curl_global_cleanup();
}
