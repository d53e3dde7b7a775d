/* SPDX-License-Identifier: MIT */
/* fuzz_npz.c — libFuzzer target for gm_npz_parse (zip directory walk, stored/deflate extraction, CRC,
 * then the .npy parser on the member): the first member and a member named "a". */
#include <stddef.h>
#include <stdint.h>

#include "genmix/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gm_array a;
    if (gm_npz_parse(data, size, "fuzz.npz", NULL, &a) == GM_OK) {
        if (gm_array_convert(&a, GM_DTYPE_F64) == GM_OK) (void)gm_array_numel(&a);
        gm_array_free(&a);
    }
    if (gm_npz_parse(data, size, "fuzz.npz", "a", &a) == GM_OK) gm_array_free(&a);
    return 0;
}
