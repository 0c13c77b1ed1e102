/* Markdown rendering with cmark-gfm. cmark's default (no CMARK_OPT_UNSAFE) already
 * replaces raw HTML by a comment and drops javascript:, vbscript: and file: URLs, but it
 * lets data:image/... through; we walk the tree and clear every link and image target
 * that is not http(s), mailto or relative, so what reaches the page can only navigate
 * to ordinary places. */
#include "server/markdown.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

static const char *const markdown_extensions[] = {"table", "strikethrough", "autolink", "tasklist", "tagfilter"};

/* cmark's allocator aborts by itself when memory runs out; a NULL here means the same. */
static void markdown_oom(void)
{
	fprintf(stderr, "berth: out of memory rendering Markdown\n");
	abort();
}

static pthread_once_t markdown_once = PTHREAD_ONCE_INIT;

static void markdown_register(void)
{
	cmark_gfm_core_extensions_ensure_registered();
}

bool markdown_url_safe(const char *url)
{
	if (!url)
		return true;
	/* Browsers skip leading spaces and control characters, and drop tabs and newlines
	 * anywhere, before they look for the scheme: refuse all of those outright. */
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	size_t n = strcspn(url, ":/?#");
	if (url[n] != ':')
		return true; /* no scheme: relative or a fragment */
	static const char *const ok[] = {"http", "https", "mailto"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (n == strlen(ok[i]) && strncasecmp(url, ok[i], n) == 0)
			return true;
	return false;
}

/* Clear unsafe link and image targets in the tree under root. */
static void markdown_scrub(cmark_node *root)
{
	cmark_iter *it = cmark_iter_new(root);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		if (ev != CMARK_EVENT_ENTER)
			continue;
		cmark_node *node = cmark_iter_get_node(it);
		cmark_node_type t = cmark_node_get_type(node);
		if ((t == CMARK_NODE_LINK || t == CMARK_NODE_IMAGE) && !markdown_url_safe(cmark_node_get_url(node)))
			cmark_node_set_url(node, "");
	}
	cmark_iter_free(it);
}

char *markdown_to_html(const char *text, size_t len)
{
	pthread_once(&markdown_once, markdown_register);
	if (len > MARKDOWN_INPUT_MAX)
		len = MARKDOWN_INPUT_MAX;
	/* No CMARK_OPT_UNSAFE: raw HTML and dangerous URLs are left out by cmark itself. */
	int options =
	    CMARK_OPT_DEFAULT | CMARK_OPT_SAFE | CMARK_OPT_GITHUB_PRE_LANG | CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE;
	cmark_parser *parser = cmark_parser_new(options);
	if (!parser)
		markdown_oom();
	for (size_t i = 0; i < sizeof markdown_extensions / sizeof markdown_extensions[0]; i++) {
		cmark_syntax_extension *ext = cmark_find_syntax_extension(markdown_extensions[i]);
		if (ext)
			cmark_parser_attach_syntax_extension(parser, ext);
	}
	cmark_parser_feed(parser, text ? text : "", text ? len : 0);
	cmark_node *doc = cmark_parser_finish(parser);
	if (!doc)
		markdown_oom();
	markdown_scrub(doc);
	char *html = cmark_render_html(doc, options, cmark_parser_get_syntax_extensions(parser));
	cmark_node_free(doc);
	cmark_parser_free(parser);
	if (!html)
		markdown_oom();
	/* cmark allocates with its own allocator (malloc by default); hand out ours. */
	char *out = xstrdup(html);
	free(html);
	return out;
}
