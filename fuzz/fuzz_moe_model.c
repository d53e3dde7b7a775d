/* SPDX-License-Identifier: MIT */
/* fuzz_moe_model.c — libFuzzer target for gm_moe_load_mem (format told by content: JSON or .safetensors,
 * then genmix's checks on fields, shapes, names and finiteness). Loading must either fail cleanly (no
 * leak, no crash) or give a model whose names match its sizes; a small loaded model is evaluated once
 * (class probabilities and arg-max of the row x = 0.5). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "genmix/moe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gm_moe m;
    gm_moe_meta meta;
    if (gm_moe_load_mem(data, size, "fuzz.model", &m, &meta) != GM_OK) return 0;
    if (meta.n_features != m.dim || meta.n_classes != m.n_classes || !meta.target) abort();
    /* the loader caps the sizes; evaluate one row when the model is small enough to be cheap */
    if (m.dim <= 64 && m.n_experts <= 64 && m.n_classes <= 64) {
        double x[64], P[64];
        int lab;
        for (size_t j = 0; j < m.dim; j++) x[j] = 0.5;
        gm_moe_predict_proba(&m, x, 1, P);
        gm_moe_predict(&m, x, 1, &lab);
        if (lab < 0 || (size_t)lab >= m.n_classes) abort();
    }
    gm_moe_meta_free(&meta);
    gm_moe_free(&m);
    return 0;
}
