/* Unit tests for server/markdown.c: GitHub-flavoured rendering, and that nothing a
 * description can contain renders into script, event handlers or dangerous links. */
#include <stdlib.h>
#include <string.h>

#include "server/markdown.h"
#include "tests/unit/tap.h"

/* Markdown, then strings its HTML must contain and must not contain ("" for none). */
static const struct {
	const char *name, *markdown, *want, *want2, *forbid, *forbid2;
} render_cases[] = {
    {"heading and emphasis", "# Title\n\nSome *text*.", "<h1>Title</h1>", "<em>text</em>", "", ""},
    {"table", "| a | b |\n|---|---|\n| 1 | 2 |\n", "<table>", "<td>1</td>", "", ""},
    {"strikethrough", "~~gone~~", "<del>gone</del>", "", "~~", ""},
    {"autolink", "see https://example.org/x now", "<a href=\"https://example.org/x\">", "", "", ""},
    {"task list", "- [x] done\n- [ ] todo\n", "type=\"checkbox\"", "checked=\"\"", "", ""},
    {"fenced code with language", "```sh\necho hi\n```\n", "<pre lang=\"sh\"><code>echo hi", "", "", ""},
    {"code is escaped", "`<b>x</b>`", "&lt;b&gt;x&lt;/b&gt;", "", "<b>", ""},
    {"script block", "<script>alert(1)</script>\n", "raw HTML omitted", "", "<script", ""},
    {"inline script", "text <script>alert(1)</script> more", "", "", "<script", ""},
    {"img onerror", "<img src=x onerror=alert(1)>", "", "", "<img", "onerror"},
    {"iframe", "<iframe src=\"https://example.org\"></iframe>", "", "", "<iframe", ""},
    {"javascript link", "[click](javascript:alert(1))", "<a href=\"\">click</a>", "", "javascript:", ""},
    {"JaVaScRiPt link", "[click](JaVaScRiPt:alert(1))", "<a href=\"\">", "", "alert", ""},
    {"entity-encoded javascript", "[x](&#106;avascript:alert(1))", "<a href=\"\">", "", "avascript:", ""},
    {"vbscript link", "[x](vbscript:msgbox)", "<a href=\"\">", "", "vbscript", ""},
    {"data link", "[x](data:text/html;base64,PHNjcmlwdD4=)", "<a href=\"\">", "", "data:", ""},
    {"data image", "![x](data:image/png;base64,AAAA)", "<img src=\"\"", "", "data:", ""},
    {"javascript autolink", "<javascript:alert(1)>", "", "", "href=\"javascript", ""},
    {"javascript reference link", "[x][1]\n\n[1]: javascript:alert(1)\n", "<a href=\"\">", "", "javascript", ""},
    {"https link kept", "[x](https://example.org/a?b=c)", "<a href=\"https://example.org/a?b=c\">", "", "", ""},
    {"mailto kept", "[mail](mailto:a@example.org)", "href=\"mailto:a@example.org\"", "", "", ""},
    {"relative kept", "[docs](docs/usage.md#top)", "href=\"docs/usage.md#top\"", "", "", ""},
    {"attribute quote escaped", "[x](https://e.org/\"onmouseover=alert(1))", "", "", "\"onmouseover", ""},
    {"html comment", "<!-- <script>alert(1)</script> -->", "", "", "<script", ""},
    {"style tag", "<style>body{display:none}</style>", "", "", "<style", ""},
    {"empty input", "", "", "", "<", ""},
};

static const struct {
	const char *url;
	bool safe;
} url_cases[] = {
    {"https://example.org", true},
    {"HTTP://example.org", true},
    {"mailto:a@b.c", true},
    {"relative/path", true},
    {"#frag", true},
    {"/abs?x=y:z", true},
    {"javascript:alert(1)", false},
    {"JAVASCRIPT:alert(1)", false},
    {" javascript:alert(1)", false},
    {"java\tscript:alert(1)", false},
    {"java\nscript:alert(1)", false},
    {"vbscript:x", false},
    {"data:text/html,x", false},
    {"file:///etc/passwd", false},
    {"ftp://example.org", false},
};

static bool contains(const char *html, const char *s)
{
	return !*s || strstr(html, s) != NULL;
}

int main(void)
{
	for (size_t i = 0; i < sizeof render_cases / sizeof render_cases[0]; i++) {
		char *html = markdown_to_html(render_cases[i].markdown, strlen(render_cases[i].markdown));
		bool ok = contains(html, render_cases[i].want) && contains(html, render_cases[i].want2) &&
		          (!*render_cases[i].forbid || !strstr(html, render_cases[i].forbid)) &&
		          (!*render_cases[i].forbid2 || !strstr(html, render_cases[i].forbid2));
		if (!tap_ok(ok, "render: %s", render_cases[i].name))
			printf("#   html: %s\n", html);
		free(html);
	}
	for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
		/* Control characters and spaces shown as '?', to keep each TAP line one line. */
		char shown[64];
		snprintf(shown, sizeof shown, "%s", url_cases[i].url);
		for (char *p = shown; *p; p++)
			if ((unsigned char)*p <= 0x20)
				*p = '?';
		tap_is_int(markdown_url_safe(url_cases[i].url), url_cases[i].safe, "url %s is %s", shown,
		           url_cases[i].safe ? "safe" : "unsafe");
	}

	/* Input beyond MARKDOWN_INPUT_MAX is cut, not rendered whole. */
	size_t big = MARKDOWN_INPUT_MAX * 2;
	char *text = malloc(big);
	memset(text, 'a', big);
	char *html = markdown_to_html(text, big);
	tap_ok(strlen(html) < MARKDOWN_INPUT_MAX + 64, "over-long input is cut at %d bytes", MARKDOWN_INPUT_MAX);
	free(html);
	free(text);
	char *null_html = markdown_to_html(NULL, 0);
	tap_is_str(null_html, "", "NULL input renders as nothing");
	free(null_html);
	return tap_done();
}
