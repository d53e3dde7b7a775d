/* SPDX-License-Identifier: MIT */
/* fuzz_idx.c — libFuzzer target for gm_idx_parse (IDX header and sizes; gzip via zlib when the input
 * starts with 1f 8b). */
#include <stddef.h>
#include <stdint.h>

#include "genmix/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gm_array a;
    if (gm_idx_parse(data, size, "fuzz.idx", &a) == GM_OK) {
        gm_array_stats s;
        gm_array_summary(&a, &s);
        gm_array_free(&a);
    }
    return 0;
}
