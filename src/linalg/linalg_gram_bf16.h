/* SPDX-License-Identifier: MIT */
/* linalg_gram_bf16.h — private: bfloat16 rounding, AMX tile packing and the AMX bf16 Gram kernel
 * (linalg_gram_bf16.c) used by the certified k-NN filter (src/eval/eval_knn_cert.c). Never installed. */
#ifndef GM_LINALG_GRAM_BF16_H
#define GM_LINALG_GRAM_BF16_H

#include <stddef.h>
#include <stdint.h>

/* Panel layouts (linalg_gram_bf16.c header): rows in blocks of 16, columns (the dot-product dimension) in chunks
 * of 32; one 1 KiB tile per (block, chunk). GM_BF16_A: tile row r = 32 values of row r (A operand);
 * GM_BF16_B: tile row kk holds, for each of the 16 rows, the pair of values 2kk, 2kk+1 (VNNI, B operand). */
enum { GM_BF16_A = 0, GM_BF16_B = 1 };

/* 1 when this CPU and OS run AMX-BF16 tiles (cpuid, XCR0, and the Linux arch_prctl permission, requested
 * once per process); 0 otherwise, or when the environment sets GM_NO_AMX=1. Thread-safe. */
int gm_amx_available(void);

/* Nearest-even bfloat16 of a finite float; a result below 2^-126 in magnitude becomes a signed zero (the
 * AMX unit treats bf16 subnormals as zero). Overflow gives ±Inf. */
static inline uint16_t gm_bf16_round(float x) {
    union {
        float f;
        uint32_t u;
    } v = {x};
    uint32_t u = v.u + 0x7fffu + ((v.u >> 16) & 1u); /* nearest, ties to even (finite input) */
    uint16_t h = (uint16_t)(u >> 16);
    return (h & 0x7f80u) == 0 ? (uint16_t)(h & 0x8000u) : h; /* subnormal or zero: read as zero by AMX */
}
static inline float gm_bf16_to_float(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* Size in uint16 of a packed panel of n rows x d columns: ceil(n/32)·32 · ceil(d/32)·32. */
size_t gm_bf16_panel_size(size_t n, size_t d);
/* Store row i (d bf16 values) into a panel in `layout`. The panel (gm_bf16_panel_size entries) must be
 * zero-filled first: padding rows and columns stay zero. */
void gm_bf16_pack_row(const uint16_t *row, size_t i, size_t d, int layout, uint16_t *panel);

/* C (m x n block, row stride ldc) = A Bᵀ in float32 from packed panels: A = rows [r0, r0+m) of an A panel,
 * B = rows [c0, c0+n) of a B panel, both with d columns; r0, c0, m, n multiples of 32. With upper != 0 the
 * 32 x 32 blocks entirely below the diagonal of the global matrix (c0 + col < r0 + row for all entries) are
 * not computed (C left as is there). The AMX kernel needs gm_amx_available(); the _ref twin is portable
 * C with float32 products (exact for bf16 inputs) accumulated in float32, chunk by chunk. */
void gm_amx_gram(const uint16_t *A, size_t r0, size_t m, const uint16_t *B, size_t c0, size_t n, size_t d,
                 int upper, float *C, size_t ldc);
void gm_amx_gram_ref(const uint16_t *A, size_t r0, size_t m, const uint16_t *B, size_t c0, size_t n, size_t d,
                     int upper, float *C, size_t ldc);

#endif /* GM_LINALG_GRAM_BF16_H */
