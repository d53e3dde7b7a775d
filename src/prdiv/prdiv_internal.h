/* prdiv_internal.h — private helpers shared by the files of src/prdiv (never installed). */
#ifndef GM_PRDIV_INTERNAL_H
#define GM_PRDIV_INTERNAL_H

#include <stddef.h>

/* The value of top-level member `key` of the JSON object text `js` as text (numbers printed with %.17g,
 * strings verbatim) into out; -1 if js does not parse, the key is missing or the value does not fit. */
int gm__json_field(const char *js, const char *key, char *out, size_t len);

#endif
