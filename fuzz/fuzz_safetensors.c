/* SPDX-License-Identifier: MIT */
/* fuzz_safetensors.c — libFuzzer target for gm_safetensors_parse (cJSON + genmix's checks on types,
 * offsets, sizes, duplicates), then every tensor view converted and every metadata key looked up. */
#include <stddef.h>
#include <stdint.h>

#include "genmix/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gm_safetensors *st;
    if (gm_safetensors_parse(&st, data, size, "fuzz.safetensors") != GM_OK) return 0;
    for (size_t i = 0; i < gm_safetensors_count(st); i++) {
        gm_array v;
        if (gm_safetensors_get(st, gm_safetensors_name(st, i), &v) != GM_OK) continue;
        if (gm_array_convert(&v, GM_DTYPE_F32) == GM_OK) gm_array_free(&v);
        float x[4];
        (void)gm_safetensors_copy_f32(st, gm_safetensors_name(st, i), x, 4);
    }
    for (size_t i = 0; i < gm_safetensors_meta_count(st); i++)
        (void)gm_safetensors_meta(st, gm_safetensors_meta_key(st, i));
    gm_safetensors_free(st);
    return 0;
}
