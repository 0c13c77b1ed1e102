/* Markdown to HTML for repository descriptions: GitHub-flavoured (tables, strikethrough,
 * autolinks, task lists) through Debian's libcmark-gfm, with raw HTML left out and links or
 * images to anything but http(s), mailto and relative URLs removed, so the result can be
 * put into a page as it is. */
#ifndef BERTH_MARKDOWN_H
#define BERTH_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

/* Largest input rendered; longer text is cut at this many bytes. */
#define MARKDOWN_INPUT_MAX (64 * 1024)

/* Render len bytes of Markdown as safe HTML. Returns a heap string the caller frees;
 * never NULL (allocation failure aborts). */
char *markdown_to_html(const char *text, size_t len);
/* Whether url may be a link or image target: no scheme (relative, #fragment), or http,
 * https or mailto (ASCII case-insensitive). Control characters and spaces before the
 * scheme make it unsafe, as browsers strip them. */
bool markdown_url_safe(const char *url);

#endif
