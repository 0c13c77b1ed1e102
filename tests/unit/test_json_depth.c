/* Unit tests for common/json_depth.c: nesting counted over brackets outside strings. */
#include <string.h>

#include "common/json_depth.h"
#include "tests/unit/tap.h"

static const struct {
	const char *json;
	int max;
	bool ok;
} cases[] = {
    {"", 0, true},
    {"1", 0, true},
    {"{}", 0, false},
    {"{}", 1, true},
    {"[[]]", 1, false},
    {"[[]]", 2, true},
    {"{\"a\":[{\"b\":1}]}", 3, true},
    {"{\"a\":[{\"b\":1}]}", 2, false},
    {"[1],[2],[3]", 1, true},      /* siblings do not add up */
    {"\"[[[[[[\"", 0, true},       /* brackets inside a string */
    {"[\"\\\"[[[[\"]", 1, true},   /* an escaped quote does not end the string */
    {"[\"\\\\\"]", 1, true},       /* an escaped backslash does */
    {"[\"\\\\\",[[]]]", 2, false}, /* ... so what follows counts again */
    {"]]]]][", 1, true},           /* unbalanced closers do not go negative */
    {"]]]]][[", 1, false},
};

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tap_ok(json_depth_ok(cases[i].json, strlen(cases[i].json), cases[i].max) == cases[i].ok,
		       "%s at most %d deep: %s", cases[i].json, cases[i].max, cases[i].ok ? "ok" : "refused");
	char deep[100001];
	memset(deep, '[', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	tap_ok(!json_depth_ok(deep, strlen(deep), 32), "100000 opening brackets refused at 32");
	tap_ok(json_depth_ok(deep, 32, 32), "the first 32 of them fit");
	return tap_done();
}
