/* Serving the embedded web UI (web/, turned into web_files[] by build-aux/embed.sh): one
 * binary carries its pages. Page paths that are no file get index.html, and the
 * JavaScript there picks the page; asset paths (with a file extension) that are no file
 * get 404. Every answer carries an ETag (a hash of the file, computed once) and asks the
 * browser to revalidate, so a new berthd is picked up at once and an unchanged file costs
 * a 304; and the security headers: the CSP of WEB_CSP, no sniffing, no framing, no
 * referrer leaving the site. */
#include "server/web.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/digest.h"
#include "common/embed.h"
#include "common/xalloc.h"

extern const struct embed_file web_files[];

#define WEB_ETAG_MAX 40

static pthread_once_t web_once = PTHREAD_ONCE_INIT;
static size_t web_count;
static char (*web_etags)[WEB_ETAG_MAX];

/* An ETag per file: the first 32 hex digits of its SHA-256, quoted. */
static void web_init(void)
{
	while (web_files[web_count].name)
		web_count++;
	web_etags = xcalloc(web_count ? web_count : 1, sizeof *web_etags);
	for (size_t i = 0; i < web_count; i++) {
		struct digest d;
		digest_buffer(DIGEST_SHA256, web_files[i].data, web_files[i].size, &d);
		snprintf(web_etags[i], WEB_ETAG_MAX, "\"%.32s\"", digest_hex(&d));
	}
}

static const char *web_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".json", "application/json"},
	    {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Index of the embedded file named name (no leading slash), or -1. */
static ssize_t web_find(const char *name)
{
	for (size_t i = 0; i < web_count; i++)
		if (strcmp(web_files[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static void web_headers(struct MHD_Response *resp)
{
	resp_header(resp, "Content-Security-Policy", WEB_CSP);
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	resp_header(resp, "X-Frame-Options", "DENY");
	resp_header(resp, "Referrer-Policy", "same-origin");
	resp_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

/* A page path is one whose last segment has no dot: /, /r/alice/app, /account. A repository
 * name may hold dots, so paths under /r/ and /u/ are always pages. */
static bool web_is_page(const char *path)
{
	if (strncmp(path, "/r/", 3) == 0 || strncmp(path, "/u/", 3) == 0)
		return true;
	const char *last = strrchr(path, '/');
	return !strchr(last ? last : path, '.');
}

static void web_not_found(struct req *r)
{
	static const char text[] = "404 not found\n";
	struct MHD_Response *resp = resp_copy(text, sizeof text - 1);
	resp_header(resp, "Content-Type", "text/plain; charset=utf-8");
	resp_header(resp, "Cache-Control", "no-store");
	web_headers(resp);
	req_respond(r, 404, resp);
}

void web_serve(struct req *r)
{
	pthread_once(&web_once, web_init);
	if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
		struct MHD_Response *resp = resp_empty();
		resp_header(resp, "Allow", "GET, HEAD");
		web_headers(resp);
		req_respond(r, 405, resp);
		return;
	}
	const char *name = r->path[0] == '/' ? r->path + 1 : r->path;
	ssize_t i = *name && strcmp(name, "index.html") != 0 ? web_find(name) : -1;
	if (i < 0) {
		if (!web_is_page(r->path) && strcmp(name, "index.html") != 0) {
			web_not_found(r);
			return;
		}
		i = web_find("index.html");
		if (i < 0) {
			web_not_found(r);
			return;
		}
	}
	const struct embed_file *f = &web_files[i];
	const char *inm = req_header(r, "If-None-Match");
	bool fresh = inm && strstr(inm, web_etags[i]);
	struct MHD_Response *resp =
	    fresh ? resp_empty() : MHD_create_response_from_buffer(f->size, (void *)f->data, MHD_RESPMEM_PERSISTENT);
	resp_header(resp, "Content-Type", web_content_type(f->name));
	resp_header(resp, "ETag", web_etags[i]);
	resp_header(resp, "Cache-Control", "no-cache");
	web_headers(resp);
	req_respond(r, fresh ? 304 : 200, resp);
}
