/* The web UI: the static files of web/, compiled into berthd, served at "/". */
#ifndef BERTH_WEB_H
#define BERTH_WEB_H

#include "server/http.h"

/* The Content-Security-Policy of every page: scripts, styles and connections only from
 * berthd itself, nothing inline, no frames, no plugins. */
#define WEB_CSP                                                                                           \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "          \
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; " \
	"frame-ancestors 'none'"

/* Answer a GET or HEAD for path r->path from the embedded files: the file itself, or
 * index.html for a page path (the UI routes in the browser), 404 for a missing asset,
 * 405 for other methods. */
void web_serve(struct req *r);

#endif
