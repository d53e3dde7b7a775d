/* SPDX-License-Identifier: MIT */
/* fuzz_npy.c — libFuzzer target for gm_npy_parse (header parser, size checks, byte swap, Fortran order),
 * then conversion and statistics over whatever parsed. */
#include <stddef.h>
#include <stdint.h>

#include "genmix/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gm_array a;
    if (gm_npy_parse(data, size, "fuzz.npy", &a) == GM_OK) {
        gm_array_stats s;
        gm_array_summary(&a, &s);
        if (a.ndim <= 4) {
            gm_tensor t;
            if (gm_array_to_tensor(&a, &t) == GM_OK) gm_tensor_free(&t);
        }
        gm_array_free(&a);
    }
    return 0;
}
