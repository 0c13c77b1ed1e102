/* A bound on JSON nesting, checked before parsing: jansson's parser recurses once per
 * level, so input read from the network is measured first. */
#ifndef BERTH_JSON_DEPTH_H
#define BERTH_JSON_DEPTH_H

#include <stdbool.h>
#include <stddef.h>

/* True if no bracket in text (outside strings) nests deeper than max_depth. Malformed JSON
 * is left for the parser to report. */
bool json_depth_ok(const char *text, size_t len, int max_depth);

#endif
