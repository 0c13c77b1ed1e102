/* Webhook delivery. Emitting is one indexed query (and an insert per interested webhook)
 * on the request's own connection; delivering happens on a thread of its own, which takes
 * up to WEBHOOKS_BATCH due deliveries at a time, POSTs them one by one with libcurl (short
 * timeouts, no redirects, http/https only, the answer's body discarded) and writes each
 * outcome back. */
#include "server/webhooks.h"

#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "autoconfig.h"
#include "common/curl_lazy.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "server/metrics.h"

#define WEBHOOKS_BATCH   16
#define WEBHOOKS_TIMEOUT 10 /* seconds for one attempt */
/* Seconds a node sharing the database holds the deliveries of one batch: the whole batch
 * at the longest, so no other node sends one of them meanwhile. */
#define WEBHOOKS_LEASE       (WEBHOOKS_BATCH * WEBHOOKS_TIMEOUT + 60)
#define WEBHOOKS_BACKOFF_MAX 3600 /* seconds between attempts at most */
#define WEBHOOKS_REPLY_MAX   (64 * 1024)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	atomic_bool stopping;
	bool poked; /* an event was queued since the thread last looked */
	int retry_base, max_attempts;
} wh = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void webhooks_sign(const char *secret, const char *body, size_t len, char out[WEBHOOKS_SIGNATURE_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &maclen);
	int n = snprintf(out, WEBHOOKS_SIGNATURE_LEN, "sha256=");
	for (unsigned i = 0; i < maclen && i < 32; i++)
		n += snprintf(out + n, (size_t)(WEBHOOKS_SIGNATURE_LEN - n), "%02x", mac[i]);
}

int webhooks_check(const struct meta_webhook *h, struct berr *err)
{
	size_t ul = strlen(h->url);
	if (strncmp(h->url, "http://", 7) != 0 && strncmp(h->url, "https://", 8) != 0)
		return berr_set(err, BERR_BAD_REQUEST, "the url must start with http:// or https://");
	if (ul > META_WEBHOOK_URL_MAX || ul < 9)
		return berr_set(err, BERR_BAD_REQUEST, "the url must be 9 to %d characters", META_WEBHOOK_URL_MAX);
	for (const char *p = h->url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return berr_set(err, BERR_BAD_REQUEST, "the url must not contain spaces or control characters");
	size_t sl = strlen(h->secret);
	if (sl < 16 || sl > META_WEBHOOK_SECRET_MAX)
		return berr_set(err, BERR_BAD_REQUEST, "the secret must be 16 to %d characters",
		                META_WEBHOOK_SECRET_MAX);
	for (const char *p = h->secret; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return berr_set(err, BERR_BAD_REQUEST, "the secret must not contain control characters");
	bool push = false, del = false, mirror = false;
	const char *p = h->events;
	if (!*p)
		return berr_set(err, BERR_BAD_REQUEST, "events must name push, delete and/or mirror");
	while (*p) {
		size_t n = strcspn(p, ",");
		bool *seen = n == 4 && !strncmp(p, "push", 4)     ? &push
		             : n == 6 && !strncmp(p, "delete", 6) ? &del
		             : n == 6 && !strncmp(p, "mirror", 6) ? &mirror
		                                                  : NULL;
		if (!seen || *seen)
			return berr_set(err, BERR_BAD_REQUEST, "events must be push, delete and/or mirror, each once");
		*seen = true;
		p += n;
		if (*p == ',' && !*++p)
			return berr_set(err, BERR_BAD_REQUEST, "events must be push, delete and/or mirror, each once");
	}
	return 0;
}

/* Whether the comma list `events` holds `event`. */
static bool webhooks_wants(const char *events, const char *event)
{
	size_t el = strlen(event);
	for (const char *p = events; *p;) {
		size_t n = strcspn(p, ",");
		if (n == el && strncmp(p, event, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

struct webhooks_ids {
	int64_t ids[64];
	size_t n;
	const char *event;
};

static int webhooks_collect(void *ctx, const struct meta_webhook *h)
{
	struct webhooks_ids *w = ctx;
	if (webhooks_wants(h->events, w->event) && w->n < sizeof w->ids / sizeof w->ids[0])
		w->ids[w->n++] = h->id;
	return 0;
}

void webhooks_emit(struct meta *m, const char *event, const char *repository, const char *tag, const char *digest,
                   const char *actor)
{
	char ns[REFERENCE_NAME_MAX + 1];
	snprintf(ns, sizeof ns, "%s", repository);
	char *slash = strchr(ns, '/');
	if (slash)
		*slash = '\0';
	else
		ns[0] = '\0';
	struct webhooks_ids w = {.event = event};
	struct berr err = {0};
	if (meta_webhooks_for_repo(m, repository, ns, webhooks_collect, &w, &err) < 0) {
		log_warn("webhooks: %s of %s not queued: %s", event, repository, err.message);
		return;
	}
	if (w.n == 0)
		return;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *doc =
	    json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:I}", "event", event, "repository", repository, "namespace", ns,
	              "tag", tag ? json_string(tag) : json_null(), "digest", digest ? json_string(digest) : json_null(),
	              "pusher", actor && *actor ? actor : "anonymous", "time", stamp, "timestamp", (json_int_t)now);
	char *payload = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!payload) {
		log_warn("webhooks: %s of %s: the payload could not be built", event, repository);
		return;
	}
	for (size_t i = 0; i < w.n; i++)
		if (meta_delivery_add(m, w.ids[i], event, payload, &err) < 0)
			log_warn("webhooks: %s of %s not queued for webhook %lld: %s", event, repository,
			         (long long)w.ids[i], err.message);
	free(payload);
	pthread_mutex_lock(&wh.lock);
	wh.poked = true;
	pthread_cond_signal(&wh.wake);
	pthread_mutex_unlock(&wh.lock);
}

/* A due delivery, copied out of the listing so the HTTP call runs with no statement open. */
struct webhooks_job {
	struct meta_delivery d;
	char *url;
	char *secret;
};

struct webhooks_jobs {
	struct webhooks_job v[WEBHOOKS_BATCH];
	size_t n;
};

static int webhooks_take(void *ctx, const struct meta_delivery *d, const char *url, const char *secret)
{
	struct webhooks_jobs *j = ctx;
	struct webhooks_job *job = &j->v[j->n++];
	job->d = *d;
	job->d.payload = xstrdup(d->payload);
	job->url = xstrdup(url);
	job->secret = xstrdup(secret);
	return j->n == WEBHOOKS_BATCH;
}

/* The answer's body is read (so the connection completes) and dropped, up to a cap. */
static size_t webhooks_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t *seen = ud;
	(void)ptr;
	*seen += size * nmemb;
	return *seen > WEBHOOKS_REPLY_MAX ? 0 : size * nmemb;
}

/* Abort an attempt in progress when berthd stops. */
static int webhooks_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)ud, (void)a, (void)b, (void)c, (void)d;
	return atomic_load(&wh.stopping) ? 1 : 0;
}

/* One attempt: fills d->last_status / last_error; returns true when answered 2xx. */
static bool webhooks_attempt(struct webhooks_job *job)
{
	struct meta_delivery *d = &job->d;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(d->last_error, sizeof d->last_error, "could not create an HTTP client: %s",
		         curl_easy_strerror(CURLE_FAILED_INIT));
		return false;
	}
	char sig[WEBHOOKS_SIGNATURE_LEN], h_sig[128], h_event[64], h_id[64];
	size_t len = strlen(d->payload);
	webhooks_sign(job->secret, d->payload, len, sig);
	snprintf(h_sig, sizeof h_sig, "X-Berth-Signature-256: %s", sig);
	snprintf(h_event, sizeof h_event, "X-Berth-Event: %s", d->event);
	snprintf(h_id, sizeof h_id, "X-Berth-Delivery: %lld", (long long)d->id);
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, h_sig);
	hdrs = curl_slist_append(hdrs, h_event);
	hdrs = curl_slist_append(hdrs, h_id);
	hdrs = curl_slist_append(hdrs, "Expect:");
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t seen = 0;
	curl_easy_setopt(c, CURLOPT_URL, job->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOKS_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-webhook/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->payload);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, webhooks_discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, webhooks_progress);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	d->last_status = status;
	d->last_error[0] = '\0';
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status)) {
		snprintf(d->last_error, sizeof d->last_error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return false;
	}
	if (status < 200 || status > 299) {
		snprintf(d->last_error, sizeof d->last_error, "answered HTTP %ld", status);
		return false;
	}
	return true;
}

/* Deliver what is due now; returns how many attempts were made (-1: database trouble). */
static int webhooks_round(void)
{
	struct berr err = {0};
	struct meta *m = meta_get(&err);
	struct webhooks_jobs *jobs = xcalloc(1, sizeof *jobs);
	int made = 0;
	if (!m || meta_deliveries_due(m, (int64_t)time(NULL), WEBHOOKS_BATCH, WEBHOOKS_LEASE, webhooks_take, jobs,
	                              &err) < 0) {
		log_warn("webhooks: could not read the delivery queue: %s", err.message);
		made = -1;
	}
	for (size_t i = 0; i < jobs->n; i++) {
		struct webhooks_job *job = &jobs->v[i];
		if (!atomic_load(&wh.stopping)) {
			bool ok = webhooks_attempt(job);
			if (atomic_load(&wh.stopping) && !ok) {
				/* Cut short by the shutdown: not an attempt; it is made again after the next start. */
			} else {
				struct meta_delivery *d = &job->d;
				int64_t now = (int64_t)time(NULL);
				d->attempts++;
				made++;
				if (ok) {
					snprintf(d->state, sizeof d->state, "delivered");
					d->finished_at = now;
					metrics_count(METRICS_WEBHOOK_DELIVERIES, 1);
					log_info("webhooks: delivered %s #%lld to webhook %lld (HTTP %lld)", d->event,
					         (long long)d->id, (long long)d->webhook_id, (long long)d->last_status);
				} else {
					metrics_count(METRICS_WEBHOOK_FAILURES, 1);
					if (d->attempts >= wh.max_attempts) {
						snprintf(d->state, sizeof d->state, "failed");
						d->finished_at = now;
					} else {
						snprintf(d->state, sizeof d->state, "pending");
					}
					int64_t wait = wh.retry_base;
					for (int64_t k = 1; k < d->attempts && wait < WEBHOOKS_BACKOFF_MAX; k++)
						wait *= 2;
					d->next_attempt_at =
					    now + (wait < WEBHOOKS_BACKOFF_MAX ? wait : WEBHOOKS_BACKOFF_MAX);
					log_warn("webhooks: %s #%lld to webhook %lld failed (attempt %lld of %d): %s%s",
					         d->event, (long long)d->id, (long long)d->webhook_id,
					         (long long)d->attempts, wh.max_attempts, d->last_error,
					         d->finished_at ? "; giving up" : "");
				}
				if (m && meta_delivery_update(m, d, &err) < 0)
					log_warn("webhooks: could not record delivery #%lld: %s", (long long)d->id,
					         err.message);
			}
		}
		free(job->d.payload);
		free(job->url);
		free(job->secret);
	}
	free(jobs);
	return made;
}

static void *webhooks_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&wh.stopping)) {
		int made = webhooks_round();
		pthread_mutex_lock(&wh.lock);
		/* A full batch may have left more due: look again at once. */
		if (made < WEBHOOKS_BATCH && !wh.poked && !atomic_load(&wh.stopping)) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&wh.wake, &wh.lock, &until);
		}
		wh.poked = false;
		pthread_mutex_unlock(&wh.lock);
	}
	return NULL;
}

int webhooks_start(int retry_base, int max_attempts, struct berr *err)
{
	wh.retry_base = retry_base;
	wh.max_attempts = max_attempts;
	atomic_store(&wh.stopping, false);
	if (pthread_create(&wh.thread, NULL, webhooks_main, NULL) != 0)
		return berr_set(err, BERR_INTERNAL, "webhooks: could not start the delivery thread");
	wh.running = true;
	return 0;
}

void webhooks_stop(void)
{
	if (!wh.running)
		return;
	pthread_mutex_lock(&wh.lock);
	atomic_store(&wh.stopping, true);
	pthread_cond_signal(&wh.wake);
	pthread_mutex_unlock(&wh.lock);
	pthread_join(wh.thread, NULL);
	wh.running = false;
}
