/* HTTP serving over libmicrohttpd. berthd accepts connections itself and hands them to
 * libmicrohttpd's worker threads: that way a TLS ClientHello sent to a plain-HTTP port
 * (skopeo and podman try HTTPS first) is seen in its first byte and the connection closed
 * at once, instead of the client waiting out a handshake timeout. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/tls.h"

/* Per-connection buffer: bounds the header size and sets the size of body pieces. All of
 * it is touched, so it is paid per open connection: 32 KiB halved peak RSS at 500
 * connections and doubled their request rate, with uploads just as fast (bench/). */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
#define HTTP_MAX_PENDING       4096

/* A connection libmicrohttpd serves, as the slow-client guard sees it. */
struct http_conn {
	int fd;
	long idle_since; /* CLOCK_MONOTONIC s: connection start or the end of its last request */
	long hdr_since;  /* when the current request's line arrived */
	long win_start;  /* the current body-rate window */
	uint64_t win_bytes;
	struct req *cur; /* the request being received, or NULL between requests */
	bool killed;
	struct http_conn *prev, *next;
};

struct pending_conn {
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	time_t deadline;
	struct pending_conn *prev, *next;
};

static struct {
	struct registry *reg;
	struct MHD_Daemon *daemon;
	int listen_fd;
	int epfd;
	int wake[2];
	bool tls;
	pthread_t acceptor;
	atomic_bool stopping;
	pthread_mutex_t active_lock;
	struct req *active; /* requests whose handler may run: what a shutdown waits for */
	int nactive;
	struct pending_conn *pending;
	int npending;
	pthread_mutex_t conns_lock;
	struct http_conn *conns; /* every connection libmicrohttpd serves */
	int request_timeout, idle_timeout, body_min_rate, per_address;
} http = {.listen_fd = -1,
          .epfd = -1,
          .wake = {-1, -1},
          .active_lock = PTHREAD_MUTEX_INITIALIZER,
          .conns_lock = PTHREAD_MUTEX_INITIALIZER};

/* A request that has received nothing for this long does not hold up a shutdown: its
 * client is gone or stalled (libmicrohttpd's idle timeout will close it). */
#define HTTP_STALLED_SECONDS 5

static char listen_marker, wake_marker;

/* Body size of the response last created on this thread, for req_respond to record in
 * r->bytes_out: a handler creates its response and queues it on the same thread. */
static __thread uint64_t http_resp_len;
static long http_now(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)now.tv_sec;
}

/* True if two socket addresses name the same host (ports are ignored). */
static bool http_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return false;
}

static void http_pending_remove(struct pending_conn *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		http.pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	http.npending--;
	epoll_ctl(http.epfd, EPOLL_CTL_DEL, p->fd, NULL);
}

static void http_pending_close(struct pending_conn *p)
{
	http_pending_remove(p);
	close(p->fd);
	free(p);
}

static void http_hand_over(int fd, const struct sockaddr_storage *addr, socklen_t addrlen)
{
	/* On failure libmicrohttpd closes the socket itself. */
	if (MHD_add_connection(http.daemon, fd, (const struct sockaddr *)addr, addrlen) == MHD_YES)
		return;
	if (errno == ENFILE)
		log_debug("http: refusing a connection: --max-connections or --max-connections-per-address reached");
	else
		log_warn("http: could not hand a connection to a worker: %s", strerror(errno));
}

static void http_accept_all(void)
{
	for (;;) {
		struct sockaddr_storage addr;
		socklen_t addrlen = sizeof addr;
		int fd = accept4(http.listen_fd, (struct sockaddr *)&addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("http: accept: %s", strerror(errno));
			return;
		}
		if (http.tls) {
			http_hand_over(fd, &addr, addrlen);
			continue;
		}
		if (http.npending >= HTTP_MAX_PENDING) {
			close(fd);
			continue;
		}
		/* Connections that have not sent their first byte yet count against their address
		 * here; once handed over, libmicrohttpd's per-address limit applies. */
		if (http.per_address > 0) {
			int same = 0;
			for (struct pending_conn *q = http.pending; q && same < http.per_address; q = q->next)
				same += http_same_host(&q->addr, &addr);
			if (same >= http.per_address) {
				log_debug("http: refusing a connection: its address has %d silent connections open",
				          same);
				close(fd);
				continue;
			}
		}
		struct pending_conn *p = xcalloc(1, sizeof *p);
		p->fd = fd;
		p->addr = addr;
		p->addrlen = addrlen;
		p->deadline = time(NULL) + http.request_timeout;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = p};
		if (epoll_ctl(http.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(p);
			continue;
		}
		p->next = http.pending;
		if (p->next)
			p->next->prev = p;
		http.pending = p;
		http.npending++;
	}
}

/* The first byte decides: 0x16 opens a TLS record, 0x80 an SSLv2-style hello. */
static void http_sniff(struct pending_conn *p)
{
	unsigned char c;
	ssize_t n = recv(p->fd, &c, 1, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 1 && c != 0x16 && c != 0x80) {
		http_pending_remove(p);
		http_hand_over(p->fd, &p->addr, p->addrlen);
		free(p);
		return;
	}
	if (n == 1)
		log_debug("http: closing a TLS handshake sent to the plain-HTTP port");
	http_pending_close(p);
}

/* Close a connection that is too slow: shutting its socket down makes libmicrohttpd see
 * the connection end and clean it up in its own thread. Called with conns_lock held:
 * libmicrohttpd reports a connection closed (which takes the lock) before it closes the
 * socket, so the fd cannot have been closed and reused meanwhile. */
static void http_guard_kill(struct http_conn *c, const char *why)
{
	log_info("http: closing a slow connection: %s", why);
	c->killed = true;
	shutdown(c->fd, SHUT_RDWR);
}

/* The slow-client guard, run by the acceptor once a second. libmicrohttpd's idle timeout
 * only catches silence; a client trickling a byte now and then (slowloris) would hold its
 * connection and thread memory forever. Here a request line and headers must arrive
 * within --request-timeout, and a body must bring --body-min-rate bytes per second over
 * each window of --request-timeout seconds. */
static void http_guard_run(void)
{
	long now = http_now();
	long t = http.request_timeout;
	pthread_mutex_lock(&http.conns_lock);
	for (struct http_conn *c = http.conns; c; c = c->next) {
		if (c->killed)
			continue;
		struct req *r = c->cur;
		if (!r) {
			/* Between requests: a silent connection is libmicrohttpd's to time out; one
			 * still sending its request line after that long is trickling it. */
			if (now - c->idle_since > http.idle_timeout + t)
				http_guard_kill(c, "request line not complete in time");
		} else if (!atomic_load(&r->headers_done)) {
			if (now - c->hdr_since > t)
				http_guard_kill(c, "request headers not complete in time");
		} else if (!atomic_load(&r->body_done) && http.body_min_rate > 0) {
			uint64_t bytes = atomic_load(&r->body_bytes);
			if (c->win_start == 0) {
				c->win_start = now;
				c->win_bytes = bytes;
			} else if (now - c->win_start >= t) {
				if (bytes - c->win_bytes < (uint64_t)http.body_min_rate * (uint64_t)t)
					http_guard_kill(c, "request body slower than the minimum rate");
				c->win_start = now;
				c->win_bytes = bytes;
			}
		}
	}
	pthread_mutex_unlock(&http.conns_lock);
}

/* libmicrohttpd's connection start and end: the guard's list of connections. */
static void http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                   enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct http_conn *c = xcalloc(1, sizeof *c);
		c->fd = ci ? ci->connect_fd : -1;
		c->idle_since = http_now();
		pthread_mutex_lock(&http.conns_lock);
		c->next = http.conns;
		if (c->next)
			c->next->prev = c;
		http.conns = c;
		pthread_mutex_unlock(&http.conns_lock);
		*socket_context = c;
		return;
	}
	struct http_conn *c = *socket_context;
	if (!c)
		return;
	pthread_mutex_lock(&http.conns_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		http.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&http.conns_lock);
	*socket_context = NULL;
	free(c);
}

/* The guard's record of a connection, or NULL. */
static struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void *http_acceptor_main(void *arg)
{
	struct epoll_event evs[64];
	while (!atomic_load(&http.stopping)) {
		int n = epoll_wait(http.epfd, evs, 64, 1000);
		for (int i = 0; i < n; i++) {
			void *ptr = evs[i].data.ptr;
			if (ptr == &listen_marker)
				http_accept_all();
			else if (ptr != &wake_marker)
				http_sniff(ptr);
		}
		http_guard_run();
		time_t now = time(NULL);
		for (struct pending_conn *p = http.pending, *next; p; p = next) {
			next = p->next;
			if (now > p->deadline)
				http_pending_close(p);
		}
	}
	return NULL;
}

int http_bind(const struct config *cfg, struct berr *err)
{
	const char *host = cfg->listen_host;
	int port = cfg->listen_port;
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
	struct addrinfo *ai = NULL;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	int rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0)
		return berr_set(err, BERR_INTERNAL, "listen address '%s': %s", host, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return berr_sys(err, errno, "socket");
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6) {
		int zero = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		freeaddrinfo(ai);
		return berr_sys(err, e, "listen on %s:%d", host, port);
	}
	freeaddrinfo(ai);
	http.listen_fd = fd;
	return 0;
}

static int http_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum http_method http_method_parse(const char *m)
{
	static const struct {
		const char *name;
		enum http_method method;
	} methods[] = {{"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},      {"PUT", HTTP_PUT},
	               {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS}};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].method;
	return HTTP_OTHER;
}

/* Percent-decode the path of a request target (up to '?'). An encoded '/' or NUL becomes
 * 0x01, which no name, tag, digest or upload id may contain: "a%2Fb" is one invalid path
 * segment, never two valid ones, and "%00" cannot cut a path short. Heap; caller frees. */
static char *http_decode_path(const char *target)
{
	size_t len = strcspn(target, "?#");
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = target[i];
		int hi, lo;
		if (c == '%' && i + 2 < len + 1 && (hi = http_hexval(target[i + 1])) >= 0 &&
		    (lo = http_hexval(target[i + 2])) >= 0) {
			c = (char)(hi * 16 + lo);
			if (c == '/' || c == '\0')
				c = 0x01;
			i += 2;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

/* Called by libmicrohttpd with the request target as sent, before anything is decoded:
 * the request context starts here so that routing sees the raw path. */
static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct req *r = xcalloc(1, sizeof *r);
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	r->path = http_decode_path(uri ? uri : "");
	r->url = r->path;
	struct http_conn *c = http_conn_of(conn);
	if (c) {
		pthread_mutex_lock(&http.conns_lock);
		c->cur = r;
		c->hdr_since = r->started.tv_sec;
		c->win_start = 0;
		pthread_mutex_unlock(&http.conns_lock);
	}
	return r;
}

static void http_begin(struct req *r)
{
	r->begun = true;
	if (atomic_load(&http.stopping))
		req_fail(r, BERR_UNAVAILABLE, "berthd is shutting down");
	else if (router_match(r->path, &r->route, &r->err) < 0)
		req_respond_error(r, &r->err);
	else
		api_begin(r);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
	struct req *r = *con_cls;
	if (!r) /* the URI callback always runs first; this is only a safety net */
		*con_cls = r = http_uri_log(NULL, url, conn);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	atomic_store(&r->last_active, (long)now.tv_sec);
	if (!r->conn) {
		/* In flight from here: a request whose headers are still arriving does not hold
		 * up a shutdown. */
		pthread_mutex_lock(&http.active_lock);
		r->next_active = http.active;
		if (http.active)
			http.active->prev_active = r;
		http.active = r;
		http.nactive++;
		pthread_mutex_unlock(&http.active_lock);
		r->conn = conn;
		atomic_store(&r->headers_done, true);
		r->reg = http.reg;
		r->method_str = method;
		r->method = http_method_parse(method);
		/* A request without a body starts its handler on the second call: a response
		 * queued on the first one, before libmicrohttpd knows there is no body, would cost
		 * the keep-alive. A request with a body starts now, while a response may still be
		 * queued: an early refusal then skips the body (and closes the connection),
		 * where one queued later could only be sent once the whole body was read. */
		bool takes_body = r->method == HTTP_POST || r->method == HTTP_PUT || r->method == HTTP_PATCH;
		if (takes_body && req_has_body(r))
			http_begin(r);
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* Before the handler began (a GET or DELETE with a body) the body is skipped. */
		size_t n = *upload_data_size;
		r->bytes_in += n;
		atomic_store(&r->body_bytes, r->bytes_in);
		*upload_data_size = 0;
		if (r->begun && !r->responded && !r->body_failed) {
			if (!r->on_body)
				r->body_failed =
				    berr_set(&r->err, BERR_UNSUPPORTED, "this endpoint takes no request body") < 0;
			else if (r->on_body(r, upload_data, n) < 0)
				r->body_failed = true;
		}
		return MHD_YES;
	}
	atomic_store(&r->body_done, true);
	if (!r->begun)
		http_begin(r);
	if (!r->responded) {
		if (r->body_failed)
			req_respond_error(r, &r->err);
		else if (r->on_end)
			r->on_end(r);
		if (!r->responded)
			req_fail(r, BERR_INTERNAL, "the handler gave no response");
	}
	return MHD_YES;
}

/* The client's address as text ("-" if unknown) in buf. */
static const char *http_client_addr(struct MHD_Connection *conn, char buf[64])
{
	snprintf(buf, 64, "-");
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, 64);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, 64);
	}
	return buf;
}

const char *req_remote_addr(struct req *r, char buf[64])
{
	return http_client_addr(r->conn, buf);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	struct http_conn *c = http_conn_of(conn);
	if (c) {
		pthread_mutex_lock(&http.conns_lock);
		if (c->cur == r)
			c->cur = NULL;
		c->idle_since = http_now();
		pthread_mutex_unlock(&http.conns_lock);
	}
	if (r->on_cleanup)
		r->on_cleanup(r);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ms = (double)(now.tv_sec - r->started.tv_sec) * 1e3 + (double)(now.tv_nsec - r->started.tv_nsec) / 1e6;
	metrics_observe(r->route.kind, r->method, r->status, ms / 1e3, r->bytes_in,
	                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->bytes_out : 0);
	if (log_enabled(LOG_INFO)) {
		char addr[64];
		http_client_addr(conn, addr);
		const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
		log_info("access %s \"%s %s\" %u in=%llu %.2fms%s \"%s\"", addr, r->method_str ? r->method_str : "-",
		         r->url, r->status, (unsigned long long)r->bytes_in, ms,
		         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)", ua ? ua : "-");
	}
	if (r->conn) {
		pthread_mutex_lock(&http.active_lock);
		if (r->prev_active)
			r->prev_active->next_active = r->next_active;
		else
			http.active = r->next_active;
		if (r->next_active)
			r->next_active->prev_active = r->prev_active;
		http.nactive--;
		pthread_mutex_unlock(&http.active_lock);
	}
	auth_identity_free(r->auth);
	free(r->path);
	free(r);
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

int http_start(struct registry *reg, struct berr *err)
{
	const struct config *cfg = reg->cfg;
	http.reg = reg;
	http.tls = cfg->tls_cert != NULL;
	http.request_timeout = cfg->request_timeout;
	http.idle_timeout = cfg->idle_timeout;
	http.body_min_rate = cfg->body_min_rate;
	http.per_address = cfg->max_connections_per_address;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
	                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (http.tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return berr_set(err, BERR_INTERNAL, "this libmicrohttpd was built without TLS support");
		if (tls_init(cfg->tls_cert, cfg->tls_key, err) < 0)
			return -1;
		flags |= MHD_USE_TLS;
	}
	if (http.listen_fd < 0 && http_bind(cfg, err) < 0)
		return -1;
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, NULL},
	    {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL},
	    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_connections_per_address, NULL},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_notify_connection, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->idle_timeout, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTP_CONNECTION_MEMORY, NULL},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, NULL},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_uri_log, NULL},
	    {http.tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0, (void *)tls_cert_callback},
	    {http.tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0, (void *)TLS_PRIORITIES},
	    {MHD_OPTION_END, 0, NULL},
	};
	http.daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_access, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!http.daemon) {
		close(http.listen_fd);
		http.listen_fd = -1;
		return berr_set(err, BERR_INTERNAL,
		                "could not start the HTTP server (libmicrohttpd refused the settings)");
	}
	http.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (http.epfd < 0 || pipe2(http.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return berr_sys(err, errno, "epoll");
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_marker};
	epoll_ctl(http.epfd, EPOLL_CTL_ADD, http.listen_fd, &ev);
	ev.data.ptr = &wake_marker;
	epoll_ctl(http.epfd, EPOLL_CTL_ADD, http.wake[0], &ev);
	if (pthread_create(&http.acceptor, NULL, http_acceptor_main, NULL) != 0)
		return berr_set(err, BERR_INTERNAL, "could not start the acceptor thread");
	return 0;
}

/* Requests in flight that made progress within HTTP_STALLED_SECONDS. */
static int http_busy_requests(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int busy = 0;
	pthread_mutex_lock(&http.active_lock);
	for (struct req *r = http.active; r; r = r->next_active)
		if (now.tv_sec - atomic_load(&r->last_active) < HTTP_STALLED_SECONDS)
			busy++;
	pthread_mutex_unlock(&http.active_lock);
	return busy;
}

void http_stop(int grace_seconds)
{
	if (!http.daemon)
		return;
	atomic_store(&http.stopping, true);
	ssize_t w = write(http.wake[1], "x", 1);
	(void)w;
	pthread_join(http.acceptor, NULL);
	close(http.listen_fd);
	while (http.pending)
		http_pending_close(http.pending);
	int busy = 0;
	for (int i = 0; i < grace_seconds * 20 && (busy = http_busy_requests()) > 0; i++)
		usleep(50 * 1000);
	if (busy > 0)
		log_warn("shutdown: %d requests still running after %d s; closing them", busy, grace_seconds);
	MHD_stop_daemon(http.daemon);
	http.daemon = NULL;
	close(http.epfd);
	close(http.wake[0]);
	close(http.wake[1]);
	if (http.tls)
		tls_shutdown();
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_each {
	const char *name;
	int (*fn)(void *ctx, const char *value);
	void *ctx;
	int stopped;
};

static enum MHD_Result http_query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_each *q = cls;
	if (strcmp(key, q->name) != 0)
		return MHD_YES;
	q->stopped = q->fn(q->ctx, value ? value : "");
	return q->stopped ? MHD_NO : MHD_YES;
}

int req_query_each(struct req *r, const char *name, int (*fn)(void *ctx, const char *value), void *ctx)
{
	struct query_each q = {name, fn, ctx, 0};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, http_query_iter, &q);
	return q.stopped;
}

int64_t req_content_length(struct req *r)
{
	const char *cl = req_header(r, "Content-Length");
	if (!cl)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(cl, &end, 10);
	if (errno || end == cl || *end || v < 0)
		return -1;
	return v;
}

bool req_has_body(struct req *r)
{
	return req_content_length(r) > 0 || req_header(r, "Transfer-Encoding") != NULL;
}

struct MHD_Response *resp_empty(void)
{
	http_resp_len = 0;
	return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
}

struct MHD_Response *resp_take(void *buf, size_t len)
{
	http_resp_len = len;
	return MHD_create_response_from_buffer_with_free_callback(len, buf, free);
}

struct MHD_Response *resp_copy(const void *buf, size_t len)
{
	http_resp_len = len;
	return MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_MUST_COPY);
}

struct MHD_Response *resp_fd(int fd, uint64_t offset, uint64_t len)
{
	http_resp_len = len;
	return MHD_create_response_from_fd_at_offset64(len, fd, offset);
}

static ssize_t http_no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

struct MHD_Response *resp_head(uint64_t len)
{
	http_resp_len = 0; /* HEAD: the length is announced, nothing is sent */
	return MHD_create_response_from_callback(len, 4096, http_no_body, NULL, NULL);
}

void resp_header(struct MHD_Response *resp, const char *name, const char *value)
{
	MHD_add_response_header(resp, name, value);
}

void resp_headerf(struct MHD_Response *resp, const char *name, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	MHD_add_response_header(resp, name, buf);
}

void req_respond(struct req *r, unsigned int status, struct MHD_Response *resp)
{
	if (r->responded) {
		MHD_destroy_response(resp);
		return;
	}
	r->responded = true;
	r->status = status;
	r->bytes_out = http_resp_len;
	http_resp_len = 0;
	MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
	/* While stopping, every answer ends its connection: a keep-alive client must not keep
	 * the shutdown waiting with one request after another. */
	if (atomic_load(&http.stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (r->rate_limit > 0) {
		resp_headerf(resp, "RateLimit-Limit", "%d;w=%d", r->rate_limit, r->rate_window);
		resp_headerf(resp, "RateLimit-Remaining", "%d;w=%d", r->rate_remaining, r->rate_window);
	}
	if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
		log_warn("http: could not queue a %u response for %s %s", status, r->method_str, r->url);
	MHD_destroy_response(resp);
}

void req_respond_json(struct req *r, unsigned int status, char *json_text, const char *content_type)
{
	struct MHD_Response *resp = resp_take(json_text, strlen(json_text));
	resp_header(resp, "Content-Type", content_type ? content_type : "application/json");
	req_respond(r, status, resp);
}

json_t *http_json_string(const char *s)
{
	if (!s)
		return json_null();
	json_t *v = json_string(s);
	if (v)
		return v;
	cleanup_free char *copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(copy);
}

struct MHD_Response *resp_error(struct req *r, const struct berr *err, unsigned int *status)
{
	enum berr_code code = err->code == BERR_NONE ? BERR_INTERNAL : err->code;
	*status = (unsigned int)berr_http_status(code);
	const char *message = err->message[0] ? err->message : berr_code_message(code);
	if (*status >= 500)
		log_error("%s %s: %s", r->method_str, r->url, message);
	else
		log_debug("%s %s: %s %s", r->method_str, r->url, berr_code_name(code), message);
	/* Messages quote request bytes (names, query values), which need not be UTF-8. */
	json_t *body = json_pack("{s:[{s:s,s:o*,s:{}}]}", "errors", "code", berr_code_name(code), "message",
	                         http_json_string(message), "detail");
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		text = xstrdup("{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"error\",\"detail\":{}}]}");
	struct MHD_Response *resp = resp_take(text, strlen(text));
	resp_header(resp, "Content-Type", "application/json");
	if (code == BERR_UNAVAILABLE || code == BERR_TOOMANYREQUESTS)
		resp_header(resp, "Retry-After", "1");
	return resp;
}

void req_respond_error(struct req *r, const struct berr *err)
{
	unsigned int status;
	struct MHD_Response *resp = resp_error(r, err, &status);
	req_respond(r, status, resp);
}

void req_fail(struct req *r, enum berr_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char msg[sizeof r->err.message];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	berr_set(&r->err, code, "%s", msg);
	req_respond_error(r, &r->err);
}
