/* SPDX-License-Identifier: MIT */
/* linalg_gram_bf16.c — AMX tile panels of bfloat16 rows and the AMX-BF16 Gram kernel (linalg_gram_bf16.h),
 * the cheap approximate dot products of the certified k-NN filter (src/eval/eval_knn_cert.c). Owns nothing but the
 * once-per-process AMX availability answer.
 *
 * Panels: the n rows of a matrix are cut into blocks of 16 and its d columns into chunks of 32 (both padded
 * with zeros, n to a multiple of 32); each (block, chunk) is one 1 KiB tile of 16 x 64 bytes, stored at
 * ((block · nchunks) + chunk) · 512. Layout A: tile row r holds the 32 values of row r in this chunk (the
 * TDPBF16PS "A" operand). Layout B: tile row kk holds, for rows 0..15 of the block, the pair of values at
 * columns 2kk, 2kk+1 (the "B" operand, VNNI pairs). A row's dot products with another row are then one
 * TDPBF16PS per 16 x 16 output tile and chunk.
 *
 * Kernel: C = A Bᵀ in 32 x 32 output blocks (2 x 2 accumulator tiles, two A and two B tiles loaded per
 * chunk), all chunks of d accumulated in the tile registers (the accumulator starts at +0); column panels
 * of 256 rows of B are walked for every 32-row block of A, so a B panel stays in L2. What AMX computes per
 * entry (Intel SDM, TDPBF16PS): products of bf16 pairs (exact in float32 when no underflow) added into the
 * float32 accumulator with round-to-nearest-even, bf16 subnormal inputs treated as zero and float32
 * subnormal results flushed to zero, whatever MXCSR says. The error bound that eval_knn_cert.c uses only
 * needs: at most d roundings to float32 on any product's path into the sum, and absolute losses below
 * 2^-126 per operation from flushing; both hold for any grouping of the pair sums.
 *
 * Thread safety: gm_amx_gram configures the calling thread's tiles on every call and releases them before
 * it returns; any number of threads may call it at once. gm_amx_available is race-free (atomic). */
#define _GNU_SOURCE /* syscall */
#include "linalg_gram_bf16.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define GM_AMX_BUILD 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static size_t chunks(size_t d) { return (d + 31) / 32; }

size_t gm_bf16_panel_size(size_t n, size_t d) { return (n + 31) / 32 * 32 * chunks(d) * 32; }

void gm_bf16_pack_row(const uint16_t *row, size_t i, size_t d, int layout, uint16_t *panel) {
    size_t nk = chunks(d), r = i % 16;
    uint16_t *base = panel + i / 16 * nk * 512;
    for (size_t kc = 0; kc < nk; kc++) {
        uint16_t *tile = base + kc * 512;
        const uint16_t *src = row + kc * 32;
        size_t m = d - kc * 32 < 32 ? d - kc * 32 : 32;
        if (layout == GM_BF16_A)
            memcpy(tile + r * 32, src, m * sizeof(uint16_t));
        else
            for (size_t c = 0; c < m; c++) tile[(c / 2) * 32 + r * 2 + c % 2] = src[c];
    }
}

/* ---- availability -------------------------------------------------------------------------------- */

#ifdef GM_AMX_BUILD
static int amx_probe(void) {
    const char *env = getenv("GM_NO_AMX");
    if (env && env[0] == '1') return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 22)) || !(d & (1u << 24))) return 0; /* AMX-BF16, AMX-TILE */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return 0; /* XTILECFG, XTILEDATA enabled by the OS */
    /* Linux: ask for the tile data state (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}
#endif

int gm_amx_available(void) {
#ifdef GM_AMX_BUILD
    static atomic_int cached = -1;
    int v = atomic_load(&cached);
    if (v < 0) {
        v = amx_probe();
        atomic_store(&cached, v);
    }
    return v;
#else
    return 0;
#endif
}

/* ---- kernels ------------------------------------------------------------------------------------- */

/* 32 x 32 block of C at (bi, bj) (in 32-row units of the panels) is below the diagonal */
static int below(size_t r0, size_t c0, size_t bi, size_t bj) { return c0 + 32 * bj + 31 < r0 + 32 * bi; }

#ifdef GM_AMX_BUILD
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

__attribute__((target("amx-tile,amx-bf16"))) void gm_amx_gram(const uint16_t *A, size_t r0, size_t m,
                                                               const uint16_t *B, size_t c0, size_t n, size_t d,
                                                               int upper, float *C, size_t ldc) {
    amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    size_t nk = chunks(d), ts = nk * 512; /* one 16-row block of a panel */
    const size_t PW = 256;                /* B rows per column panel */
    for (size_t p = 0; p < n; p += PW) {
        size_t pe = p + PW < n ? p + PW : n;
        for (size_t i = 0; i < m; i += 32) {
            const uint16_t *a0 = A + (r0 + i) / 16 * ts, *a1 = a0 + ts;
            for (size_t j = p; j < pe; j += 32) {
                if (upper && below(r0, c0, i / 32, j / 32)) continue;
                const uint16_t *b0 = B + (c0 + j) / 16 * ts, *b1 = b0 + ts;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (size_t kc = 0; kc < nk; kc++) {
                    _tile_loadd(4, a0 + kc * 512, 64);
                    _tile_loadd(5, a1 + kc * 512, 64);
                    _tile_loadd(6, b0 + kc * 512, 64);
                    _tile_loadd(7, b1 + kc * 512, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                float *c = C + i * ldc + j;
                _tile_stored(0, c, (long)(ldc * 4));
                _tile_stored(1, c + 16, (long)(ldc * 4));
                _tile_stored(2, c + 16 * ldc, (long)(ldc * 4));
                _tile_stored(3, c + 16 * ldc + 16, (long)(ldc * 4));
            }
        }
    }
    _tile_release();
}
#else
void gm_amx_gram(const uint16_t *A, size_t r0, size_t m, const uint16_t *B, size_t c0, size_t n, size_t d,
                 int upper, float *C, size_t ldc) {
    gm_amx_gram_ref(A, r0, m, B, c0, n, d, upper, C, ldc); /* never reached: gm_amx_available() is 0 */
}
#endif

void gm_amx_gram_ref(const uint16_t *A, size_t r0, size_t m, const uint16_t *B, size_t c0, size_t n, size_t d,
                     int upper, float *C, size_t ldc) {
    size_t nk = chunks(d), ts = nk * 512;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (upper && below(r0, c0, i / 32, j / 32)) continue;
            size_t ri = r0 + i, cj = c0 + j;
            const uint16_t *a = A + ri / 16 * ts + (ri % 16) * 32, *b = B + cj / 16 * ts + (cj % 16) * 2;
            float s = 0;
            for (size_t kc = 0; kc < nk; kc++)
                for (size_t t = 0; t < 32; t++)
                    s += gm_bf16_to_float(a[kc * 512 + t]) * gm_bf16_to_float(b[kc * 512 + (t / 2) * 32 + t % 2]);
            C[i * ldc + j] = s;
        }
}
