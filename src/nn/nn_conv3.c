/* SPDX-License-Identifier: MIT */
/* nn_conv3.c — convolutions without im2col on a padded grid ("implicit GEMM over shifted rows"): 3x3
 * stride-1 pad-1 (the diffusion U-Net's), and (at the end of the file) 4x4/3x3 stride-2 pad-1 convolutions and
 * 4x4 stride-2 transposed convolutions on the input's stride phases, with conv + bias + LeakyReLU fused (the
 * conv PR-GAN's); naive twins: gm_conv2d_*_ref and gm_conv_transpose2d_*_ref (nn_conv.c).
 *
 * The padded grid: each channel of a (B, C, H, W) tensor is stored as one row of L floats, GRID_FRONT zeros,
 * then per image a zero row followed by H rows of W values and one zero each (row stride Wp = W + 1, image
 * stride S = (H + 1) Wp), then zeros to the end. Output pixel (b, y, x) sits at grid position
 * q = b S + y Wp + x and its 3x3 window starts at data index q + kh Wp + kw - 1: the zero column of the
 * previous row, the zero row of the image and that of the next image are the padding. So the convolution is
 * y(o, q) = sum_{c,k} w(o, c, k) x(c, q + off_k) over all q < Qr (Qr = B S rounded up to the tile), a dense
 * loop with no index arithmetic; positions that are not pixels are computed and dropped. The input gradient
 * is the same loop over the padded output gradient with flipped, transposed weights; the weight gradient is
 * sum_q dy(o, q) x(c, q + off_k) with dy placed on the output grid (zeros off the pixels), summed in fixed
 * chunks of q whose partials are added in chunk order.
 *
 * Inner loops (nn_conv3_simd.h) are compiled for AVX-512, AVX2+FMA and plain C (fmaf); the widest the CPU
 * has is used. Forward and input-gradient bits are the same on every path (each output is one fused sum in
 * a fixed order); weight-gradient bits depend on the vector width only. Owns nothing (caller-owned buffers).
 * Thread safety: reentrant; OpenMP over fixed tiles and chunks, so results do not depend on the thread
 * count. The 1x1 convolution (the U-Net's skip projections) is here too: one GEMM per image on the NCHW
 * planes, images in order for the weight gradient. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "genmix/nn.h"
#include "nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define C3_X86 1
#endif

#define GRID_FRONT 16 /* leading zeros of a channel row (the window of q = 0 starts at index -1) */
#define QTILE 48      /* Qr is a multiple of every path's tile width (3 vectors of 16, 8 or 1 floats) */
#define FR_MAX 8      /* output rows are padded to a multiple of the widest forward tile */
#define DW_CHUNK 13824 /* grid positions per weight-gradient chunk (a multiple of QTILE) */
#define DW_CHUNKS_MAX 64

/* ==== output descriptor of the grid convolution (its scatter is in nn_conv3_simd.h) ============== */

#define SCATTER_RUNS 64 /* pixel runs per tile: at most 96 / Wp + 2 <= 50 (the one-row pairs of tiles) */

typedef struct {
    float *out;        /* (B, OC, Hf, Wf) */
    const float *bias; /* (OC) or NULL; ignored when acc */
    size_t B, OC, H, W, Wp, S; /* the grid's plane is H x W (row stride Wp, image stride S) */
    int acc;                   /* 1: out += y, 0: out = y + bias */
    size_t Hf, Wf, st, py, px; /* plane pixel (y, x) goes to output pixel (y st + py, x st + px) */
    int act;                   /* 1 (st = 1, !acc only): LeakyReLU with slope alpha after the bias */
    float alpha;
} c3_dst;

/* 1 where v > 0, else alpha, chosen by bit masks: a branch on the sign would mispredict half the time */
static inline float c3_lrelu_slope(float v, float alpha) {
    uint32_t one, al, m = -(uint32_t)(v > 0.0f);
    const float f1 = 1.0f;
    memcpy(&one, &f1, sizeof one);
    memcpy(&al, &alpha, sizeof al);
    uint32_t r = (m & one) | (~m & al);
    float s;
    memcpy(&s, &r, sizeof s);
    return s;
}

/* The runs of output pixels of a tile covering grid positions [q0, q0 + nq) (at most one per grid row it
 * touches): tile offset src, output offset dst (within a channel plane's image), length; returns their count */
static inline size_t c3_runs(const c3_dst *d, size_t q0, size_t nq, size_t *src, size_t *dst, size_t *len) {
    const size_t qe = q0 + nq, HWf = d->Hf * d->Wf;
    size_t b = q0 / d->S, rem = q0 % d->S, y = rem / d->Wp, x = rem % d->Wp, nrun = 0;
    for (size_t q = q0; q < qe && b < d->B && nrun < SCATTER_RUNS;) {
        size_t run = d->Wp - x < qe - q ? d->Wp - x : qe - q;
        if (y < d->H && x < d->W) {
            src[nrun] = q - q0;
            dst[nrun] = b * d->OC * HWf + (y * d->st + d->py) * d->Wf + x * d->st + d->px;
            len[nrun++] = d->W - x < run ? d->W - x : run;
        }
        q += run, x += run;
        if (x == d->Wp) { /* next grid row */
            x = 0;
            if (++y == d->H + 1) y = 0, b++;
        }
    }
    return nrun;
}

/* ==== instruction-set variants ================================================================= */

/* plain C: the reference order of the SIMD paths, one lane */
#define SFX(n) n##_c
#define VW 1
#define VT float
#define VZERO() 0.0f
#define VLD(p) (*(p))
#define VST(p, v) (*(p) = (v))
#define VBC(p) (*(p))
#define VFMA(a, b, c) fmaf((a), (b), (c))
#define VKEEP(v) ((void)0)
#define FR 8
#define DWR 1
#define DKR 3
#include "nn_conv3_simd.h"

#ifdef C3_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SFX(n) n##_avx2
#define VW 8
#define VT __m256
#define VZERO() _mm256_setzero_ps()
#define VLD(p) _mm256_loadu_ps(p)
#define VST(p, v) _mm256_storeu_ps((p), (v))
#define VBC(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VKEEP(v) __asm__("" : "+x"(v))
#define FR 4
#define DWR 1
#define DKR 3
#include "nn_conv3_simd.h"
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#define SFX(n) n##_avx512
#define VW 16
#define VT __m512
#define VZERO() _mm512_setzero_ps()
#define VLD(p) _mm512_loadu_ps(p)
#define VST(p, v) _mm512_storeu_ps((p), (v))
#define VBC(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VKEEP(v) __asm__("" : "+v"(v))
#define FR 8
#define DWR 3
#define DKR 6
#include "nn_conv3_simd.h"

/* Weight gradient from the transposed grid (C a multiple of 16): lanes run over 16 input channels, so no
 * lane sums: part[(o C + c) 9 + k] = sum_q dy[o ldy + q] xT[(q + off_k) C + c], rows of dy in blocks of 3. */
static void c3_dwT_chunk_avx512(double *part, const float *dy, size_t ldy, const float *xT, size_t C, size_t OC,
                                size_t q0, size_t q1, const ptrdiff_t *off) {
    for (size_t cb = 0; cb < C; cb += 16) {
        size_t o = 0;
        for (; o < OC; o += 3) {
            const size_t nr = OC - o < 3 ? OC - o : 3;
            const float *d0 = dy + o * ldy, *d1 = nr > 1 ? d0 + ldy : d0, *d2 = nr > 2 ? d0 + 2 * ldy : d0;
            __m512 a0[9], a1[9], a2[9];
#pragma GCC unroll 9
            for (int k = 0; k < 9; k++) a0[k] = a1[k] = a2[k] = _mm512_setzero_ps();
            for (size_t q = q0; q < q1; q++) {
                const __m512 g0 = _mm512_set1_ps(d0[q]), g1 = _mm512_set1_ps(d1[q]), g2 = _mm512_set1_ps(d2[q]);
                const float *xq = xT + (ptrdiff_t)q * (ptrdiff_t)C + (ptrdiff_t)cb;
#pragma GCC unroll 9
                for (int k = 0; k < 9; k++) {
                    const __m512 xv = _mm512_loadu_ps(xq + off[k] * (ptrdiff_t)C);
                    a0[k] = _mm512_fmadd_ps(g0, xv, a0[k]);
                    a1[k] = _mm512_fmadd_ps(g1, xv, a1[k]);
                    a2[k] = _mm512_fmadd_ps(g2, xv, a2[k]);
                }
            }
            for (int k = 0; k < 9; k++) {
                float l[3][16];
                _mm512_storeu_ps(l[0], a0[k]);
                _mm512_storeu_ps(l[1], a1[k]);
                _mm512_storeu_ps(l[2], a2[k]);
                for (size_t r = 0; r < nr; r++)
                    for (size_t j = 0; j < 16; j++) part[((o + r) * C + cb + j) * 9 + (size_t)k] = (double)l[r][j];
            }
        }
    }
}
/* st = 1 layout of whole image blocks (grid.h: the image's zero row, then H rows of W values and one zero),
 * B images of stride istride in NCHW: vector v of a block gets the next popcount(mk[v]) values expanded to
 * its pixel lanes mk[v] (zeros elsewhere), stored on the block's lanes sm[v]; with ys, times the LeakyReLU
 * slope at ys (1 where ys > 0, else alpha), the products of c3_grid_row */
static void grid_images_avx512(float *dat, const float *in, const float *ys, size_t istride, float alpha, size_t B,
                               size_t S, const uint16_t *mk, const uint16_t *sm, size_t nv) {
    for (size_t b = 0; b < B; b++) {
        const float *src = in + b * istride, *ysrc = ys ? ys + b * istride : NULL;
        float *d = dat + b * S;
        for (size_t v = 0; v < nv; v++) {
            const __mmask16 m = (__mmask16)mk[v];
            __m512 x = _mm512_maskz_expandloadu_ps(m, src);
            if (ysrc) {
                const __mmask16 pos =
                    _mm512_cmp_ps_mask(_mm512_maskz_expandloadu_ps(m, ysrc), _mm512_setzero_ps(), _CMP_GT_OQ);
                x = _mm512_mul_ps(x, _mm512_mask_blend_ps(pos, _mm512_set1_ps(alpha), _mm512_set1_ps(1.0f)));
                ysrc += __builtin_popcount(mk[v]);
            }
            _mm512_mask_storeu_ps(d + 16 * v, (__mmask16)sm[v], x);
            src += __builtin_popcount(mk[v]);
        }
    }
}

/* st = 2 layout of channel c's rows (W = 2 PW <= 30 pixels, one or two masked loads per input row): input
 * row y to phase rows 2 (y % 2) + b (b = 0: even columns, 1: odd), grid row y / 2 + 1 of each image, the zero
 * column after it included: c3_grid_row's AVX-512 path without a call per row */
static void grid_phases_avx512(float *rows, const float *in, size_t istride, size_t B, size_t H, size_t W, size_t L,
                               size_t S, size_t Wp) {
    const size_t PW = W / 2, W2 = 2 * PW;
    const __mmask16 m1 = (__mmask16)((1u << (PW + 1)) - 1u), mlo = (__mmask16)(W2 >= 16 ? 0xFFFFu : (1u << W2) - 1u),
                    mhi = (__mmask16)(W2 > 16 ? (1u << (W2 - 16)) - 1u : 0u);
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0),
                  od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (size_t b = 0; b < B; b++) {
        const float *img = in + b * istride;
        for (size_t y = 0; y < H / 2 * 2; y++) {
            float *r0 = rows + (y % 2) * 2 * L + GRID_FRONT + b * S + (y / 2 + 1) * Wp;
            const float *src = img + y * W;
            const __m512 lo = _mm512_maskz_loadu_ps(mlo, src), hi = _mm512_maskz_loadu_ps(mhi, src + 16);
            _mm512_mask_storeu_ps(r0, m1, _mm512_permutex2var_ps(lo, ev, hi));
            _mm512_mask_storeu_ps(r0 + L, m1, _mm512_permutex2var_ps(lo, od, hi));
        }
    }
}

/* dw[i] += the 16 lanes of lanes[16 i ..] summed pairwise in double (t[j] += t[j + h], h = 8, 4, 2, 1), as
 * gm__lane_sums_ref, one weight per vector: the same adds in the same order, so the same bits */
static void lane_sums16_avx512(float *dw, const float *lanes, size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i++) {
        const __m512 v = _mm512_loadu_ps(lanes + i * 16);
        const __m512d s8 = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                                         _mm512_cvtps_pd(_mm256_castsi256_ps(_mm512_extracti64x4_epi64(_mm512_castps_si512(v), 1))));
        const __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
        const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
        dw[i] += (float)_mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    }
}
#pragma GCC pop_options
#endif

/* dw[i] += sum of the vw lanes of lanes[vw i ..] (vw a power of 2 <= 16) in double, pairwise: t[j] += t[j + h]
 * for h = vw/2, .., 1 (independent adds), a fixed order */
void gm__lane_sums_ref(float *dw, const float *lanes, size_t n, int vw) {
    for (size_t i = 0; i < n; i++) {
        double t[16];
        for (int j = 0; j < vw; j++) t[j] = (double)lanes[i * (size_t)vw + (size_t)j];
        for (int h = vw / 2; h >= 1; h /= 2)
            for (int j = 0; j < h; j++) t[j] += t[j + h];
        dw[i] += (float)t[0];
    }
}

/* the same, 16 lanes one vector at a time on AVX-512 (the same bits); over the threads in fixed blocks */
void gm__lane_sums(float *dw, const float *lanes, size_t n, int vw) {
    const size_t nb = (n + 255) / 256;
    long ib;
#pragma omp parallel for schedule(static) if (n * (size_t)vw > GM__PAR_MIN)
    for (ib = 0; ib < (long)nb; ib++) {
        const size_t i0 = (size_t)ib * 256, i1 = i0 + 256 < n ? i0 + 256 : n;
#ifdef C3_X86
        if (vw == 16 && __builtin_cpu_supports("avx512f")) {
            lane_sums16_avx512(dw, lanes, i0, i1);
            continue;
        }
#endif
        gm__lane_sums_ref(dw + i0, lanes + i0 * (size_t)vw, i1 - i0, vw);
    }
}

static int forced_isa = -1; /* tests only: gm__conv3_force_isa */

int gm__conv3_isa(void) {
    if (forced_isa >= 0) return forced_isa;
#ifdef C3_X86
    if (__builtin_cpu_supports("avx512f")) return GM__ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GM__ISA_AVX2;
#endif
    return GM__ISA_C;
}

void gm__conv3_force_isa(int isa) { forced_isa = isa; }

static int fwd_rows(int isa) { return isa == GM__ISA_AVX2 ? 4 : 8; }

static void grid_conv(int isa, const c3_dst *y, size_t Qr, const float *x, size_t ldx, const float *wt, size_t C,
                      size_t OC, const ptrdiff_t *off, int nk) {
#ifdef C3_X86
    if (isa == GM__ISA_AVX512) {
        c3_grid_avx512(y, Qr, x, ldx, wt, C, OC, off, nk);
        return;
    }
    if (isa == GM__ISA_AVX2) {
        c3_grid_avx2(y, Qr, x, ldx, wt, C, OC, off, nk);
        return;
    }
#endif
    c3_grid_c(y, Qr, x, ldx, wt, C, OC, off, nk);
}

static void grid_conv2(int isa, const c3_dst *y, size_t Qr, const float *x, size_t ldx, const float *wt0,
                       const float *wt1, size_t C, size_t OC, const ptrdiff_t *off0, const ptrdiff_t *off1, int nk0,
                       int nk1) {
#ifdef C3_X86
    if (isa == GM__ISA_AVX512) {
        c3_grid2_avx512(y, Qr, x, ldx, wt0, wt1, C, OC, off0, off1, nk0, nk1);
        return;
    }
    if (isa == GM__ISA_AVX2) {
        c3_grid2_avx2(y, Qr, x, ldx, wt0, wt1, C, OC, off0, off1, nk0, nk1);
        return;
    }
#endif
    c3_grid2_c(y, Qr, x, ldx, wt0, wt1, C, OC, off0, off1, nk0, nk1);
}

static void dw_chunk(int isa, double *part, const float *dy, size_t ldy, const float *x, size_t ldx, size_t C,
                     size_t OC, size_t q0, size_t q1, const ptrdiff_t *off) {
#ifdef C3_X86
    if (isa == GM__ISA_AVX512) {
        c3_dw_chunk_avx512(part, dy, ldy, x, ldx, C, OC, q0, q1, off);
        return;
    }
    if (isa == GM__ISA_AVX2) {
        c3_dw_chunk_avx2(part, dy, ldy, x, ldx, C, OC, q0, q1, off);
        return;
    }
#endif
    c3_dw_chunk_c(part, dy, ldy, x, ldx, C, OC, q0, q1, off);
}

static int dwT_applies(int isa, size_t C) { return isa == GM__ISA_AVX512 && C % 16 == 0; }

static void dwT_chunk(double *part, const float *dy, size_t ldy, const float *xT, size_t C, size_t OC, size_t q0,
                      size_t q1, const ptrdiff_t *off) {
#ifdef C3_X86
    c3_dwT_chunk_avx512(part, dy, ldy, xT, C, OC, q0, q1, off);
#else
    (void)part, (void)dy, (void)ldy, (void)xT, (void)C, (void)OC, (void)q0, (void)q1, (void)off;
#endif
}

/* ==== geometry ================================================================================= */

typedef struct {
    size_t Wp, S, Q, Qr, L, OCr, Cr, nch, chunk;
    ptrdiff_t off[9];
} c3_geom;

static c3_geom geom_of(const gm_conv_dims *d) {
    c3_geom g;
    g.Wp = d->W + 1;
    g.S = (d->H + 1) * g.Wp;
    g.Q = d->B * g.S;
    g.Qr = (g.Q + QTILE - 1) / QTILE * QTILE;
    if (g.Qr == 0) g.Qr = QTILE;
    /* reads reach data index Qr - 1 + 2 Wp + 1; the input-gradient pass reads dy at q + Wp */
    g.L = (GRID_FRONT + g.Qr + 2 * g.Wp + 2 + 15) / 16 * 16;
    g.OCr = (d->OC + FR_MAX - 1) / FR_MAX * FR_MAX;
    g.Cr = (d->C + FR_MAX - 1) / FR_MAX * FR_MAX;
    g.chunk = DW_CHUNK;
    g.nch = (g.Qr + g.chunk - 1) / g.chunk;
    if (g.nch > DW_CHUNKS_MAX) {
        g.nch = DW_CHUNKS_MAX;
        g.chunk = (g.Qr / QTILE + g.nch - 1) / g.nch * QTILE;
        g.nch = (g.Qr + g.chunk - 1) / g.chunk;
    }
    for (int k = 0; k < 9; k++) g.off[k] = (ptrdiff_t)((size_t)(k / 3) * g.Wp + (size_t)(k % 3)) - 1;
    return g;
}

int gm__conv3_applies(const gm_conv_dims *d) { return d->K == 3 && d->stride == 1 && d->pad == 1; }

/* work: [alignment][input grid, C L][output-gradient grid, OC L][packed weights][weight-gradient partials] */
size_t gm__conv3_work_size(const gm_conv_dims *d) {
    c3_geom g = geom_of(d);
    size_t wt = g.OCr * d->C * 9 > g.Cr * d->OC * 9 ? g.OCr * d->C * 9 : g.Cr * d->OC * 9;
    return 16 + d->C * g.L + d->OC * g.L + wt + 2 * g.nch * d->OC * d->C * 9;
}

/* the work's first 64-byte boundary (the grids' vectors then never straddle cache lines needlessly) */
static float *align64(float *p) { return (float *)(void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* ==== layout =================================================================================== */

/* NCHW (B, C, H, W) -> padded grid rows of L floats; with st = 2, each channel becomes four rows, its
 * phases (a, b) in the order 2a + b, phase row pixel (i, j) = x(2i + a, 2j + b) on an (H/2) x (W/2) plane.
 * With ys (st = 1 only), the values are multiplied by the LeakyReLU slope at ys (1 where ys > 0, else
 * alpha): the output gradient of a fused conv + LeakyReLU becomes the conv's, as gm_act_backward has it. */
static void to_grid_s(float *xp, const float *in, const float *ys, float alpha, size_t B, size_t C, size_t H,
                      size_t W, size_t st, const c3_geom *g) {
    const size_t PH = H / st, PW = W / st, np = st * st, L = g->L;
    void (*row)(float *, float *, const float *, const float *, float, size_t, size_t) = c3_grid_row_c;
    void (*zeros)(float *, size_t) = c3_zeros_c;
#ifdef C3_X86
    const int isa = gm__conv3_isa();
    if (isa == GM__ISA_AVX512) row = c3_grid_row_avx512, zeros = c3_zeros_avx512;
    if (isa == GM__ISA_AVX2) row = c3_grid_row_avx2, zeros = c3_zeros_avx2;
#endif
    long c;
#ifdef C3_X86
    enum { NV_MAX = 256 };
    if (st == 1 && isa == GM__ISA_AVX512 && g->S <= 16 * NV_MAX) { /* whole image blocks by expanding loads */
        uint16_t mk[NV_MAX], sm[NV_MAX];
        const size_t nv = (g->S + 15) / 16;
        for (size_t v = 0; v < nv; v++) { /* the lanes of each vector of a block: inside it, and pixels */
            unsigned m = 0, k = 0;
            for (size_t l = 0; l < 16; l++) {
                const size_t j = 16 * v + l;
                if (j < g->S) k |= 1u << l;
                if (j < g->S && j >= g->Wp && j % g->Wp < W) m |= 1u << l;
            }
            mk[v] = (uint16_t)m, sm[v] = (uint16_t)k;
        }
#pragma omp parallel for schedule(static) if (B * C * H * W > GM__PAR_MIN)
        for (c = 0; c < (long)C; c++) {
            float *dat = xp + (size_t)c * L + GRID_FRONT;
            zeros(dat - GRID_FRONT, GRID_FRONT);
            grid_images_avx512(dat, in + (size_t)c * H * W, ys ? ys + (size_t)c * H * W : NULL, C * H * W, alpha, B,
                               g->S, mk, sm, nv);
            zeros(dat + B * g->S, L - GRID_FRONT - B * g->S);
        }
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (B * C * H * W > GM__PAR_MIN)
    for (c = 0; c < (long)C; c++) {
        float *rows = xp + (size_t)c * np * L;
        for (size_t p = 0; p < np; p++) {
            float *dat = rows + p * L + GRID_FRONT;
            zeros(dat - GRID_FRONT, GRID_FRONT);
            for (size_t b = 0; b < B; b++) zeros(dat + b * g->S, g->Wp); /* the images' zero rows */
            zeros(dat + B * g->S, L - GRID_FRONT - B * g->S);
        }
#ifdef C3_X86
        if (st == 2 && !ys && isa == GM__ISA_AVX512 && PW < 16) {
            grid_phases_avx512(rows, in + (size_t)c * H * W, C * H * W, B, H, W, L, g->S, g->Wp);
            continue;
        }
#endif
        for (size_t b = 0; b < B; b++) {
            const size_t img = (b * C + (size_t)c) * H * W;
            for (size_t y = 0; y < PH * st; y++) { /* each input row once, split into its column phases */
                float *r0 = rows + (y % st) * st * L + GRID_FRONT + b * g->S + (y / st + 1) * g->Wp;
                row(r0, r0 + L, in + img + y * W, ys ? ys + img + y * W : NULL, alpha, PW, st);
            }
        }
    }
}
static void to_grid(float *xp, const float *in, size_t B, size_t C, size_t H, size_t W, const c3_geom *g) {
    to_grid_s(xp, in, NULL, 0.0f, B, C, H, W, 1, g);
}

/* NCHW -> transposed grid: xT[(GRID_FRONT + i) C + c] = grid row c at data index i (zeros off the pixels) */
static void to_gridT(float *xT, const float *in, size_t B, size_t C, size_t H, size_t W, const c3_geom *g) {
    memset(xT, 0, GRID_FRONT * C * sizeof(float));
    memset(xT + (GRID_FRONT + B * g->S) * C, 0, (g->L - GRID_FRONT - B * g->S) * C * sizeof(float));
    long bl;
#pragma omp parallel for schedule(static) if (B * C * H * W > GM__PAR_MIN)
    for (bl = 0; bl < (long)B; bl++) {
        const size_t b = (size_t)bl;
        float *img = xT + (GRID_FRONT + b * g->S) * C;
        memset(img, 0, g->Wp * C * sizeof(float)); /* the image's zero row */
        for (size_t y = 0; y < H; y++) {
            float *row = img + (y + 1) * g->Wp * C;
            for (size_t c = 0; c < C; c++) {
                const float *src = in + ((b * C + c) * H + y) * W;
                for (size_t x = 0; x < W; x++) row[x * C + c] = src[x];
            }
            memset(row + W * C, 0, C * sizeof(float)); /* the row's zero column */
        }
    }
}

/* w(OC, C, KK taps) -> blocks of R rows over nk chosen taps: wt[((ob cols + c) nk + t) R + r] = the weight
 * of row ob R + r, column c, tap tap[t] (0 past the rows). Rows are the output channels, or with tr (the
 * input-gradient / adjoint passes) the input channels: w'(c, o, t) = w(o, c, tap[t]). */
static void pack_taps(float *wt, const float *w, size_t OC, size_t C, size_t KK, size_t R, int tr, const int *tap,
                      size_t nk) {
    size_t rows = tr ? C : OC, cols = tr ? OC : C, nob = rows == 1 ? 1 : (rows + R - 1) / R;
    if (rows == 1) R = 1;
    for (size_t ob = 0; ob < nob; ob++)
        for (size_t c = 0; c < cols; c++)
            for (size_t t = 0; t < nk; t++)
                for (size_t r = 0; r < R; r++) {
                    size_t o = ob * R + r;
                    float v = 0.0f;
                    if (o < rows) v = tr ? w[(c * C + o) * KK + (size_t)tap[t]] : w[(o * C + c) * KK + (size_t)tap[t]];
                    wt[((ob * cols + c) * nk + t) * R + r] = v;
                }
}
static const int TAPS[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, FLIP9[9] = {8, 7, 6, 5, 4, 3, 2, 1, 0};
static void pack_w(float *wt, const float *w, size_t OC, size_t C, size_t R, int flip) {
    pack_taps(wt, w, OC, C, 9, R, flip, flip ? FLIP9 : TAPS, 9);
}

/* ==== kernels ================================================================================== */

/* dw[i] += sum over chunks (in chunk order) of part[ch nw + i] */
static void sum_parts(float *dw, const double *part, size_t nw, size_t nch) {
    long i;
#pragma omp parallel for schedule(static) if (nw * nch > GM__PAR_MIN)
    for (i = 0; i < (long)nw; i++) {
        double s = 0.0;
        for (size_t ch = 0; ch < nch; ch++) s += part[ch * nw + (size_t)i];
        dw[i] += (float)s;
    }
}

void gm__conv3_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                       float *work) {
    GM_ASSERT(out && in && w && work && gm__conv3_applies(d));
    const c3_geom g = geom_of(d);
    const int isa = gm__conv3_isa();
    float *xp = align64(work), *wt = xp + d->C * g.L + d->OC * g.L;
    c3_dst dst = {out, b, d->B, d->OC, d->H, d->W, g.Wp, g.S, 0, d->H, d->W, 1, 0, 0, 0, 0.0f};
    to_grid(xp, in, d->B, d->C, d->H, d->W, &g);
    pack_w(wt, w, d->OC, d->C, (size_t)fwd_rows(isa), 0);
    grid_conv(isa, &dst, g.Qr, xp + GRID_FRONT, g.L, wt, d->C, d->OC, g.off, 9);
}

void gm__conv3_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const gm_conv_dims *d, int din_set, float *work) {
    GM_ASSERT(dout && in && w && work && gm__conv3_applies(d));
    const c3_geom g = geom_of(d);
    const int isa = gm__conv3_isa();
    const size_t B = d->B, C = d->C, OC = d->OC, H = d->H, W = d->W, nw = OC * C * 9;
    if (db) gm__channel_sums(db, dout, B, OC, H * W);
    if (!dw && !din) return;
    float *xg = align64(work), *dp = xg + C * g.L;
    float *wt = dp + OC * g.L;
    size_t nwt = g.OCr * C * 9 > g.Cr * OC * 9 ? g.OCr * C * 9 : g.Cr * OC * 9;
    double *part = (double *)(void *)(wt + nwt);
    to_grid(dp, dout, B, OC, H, W, &g);
    if (dw) {
        /* dy on the output grid is the padded gradient shifted by one row */
        const float *dy = dp + GRID_FRONT + g.Wp;
        const int tr = dwT_applies(isa, C);
        if (tr)
            to_gridT(xg, in, B, C, H, W, &g);
        else
            to_grid(xg, in, B, C, H, W, &g);
        long ch;
#pragma omp parallel for schedule(static) if (g.nch > 1 && nw * g.Qr > 4 * GM__PAR_MIN)
        for (ch = 0; ch < (long)g.nch; ch++) {
            size_t q0 = (size_t)ch * g.chunk, q1 = q0 + g.chunk < g.Qr ? q0 + g.chunk : g.Qr;
            if (tr)
                dwT_chunk(part + (size_t)ch * nw, dy, g.L, xg + GRID_FRONT * C, C, OC, q0, q1, g.off);
            else
                dw_chunk(isa, part + (size_t)ch * nw, dy, g.L, xg + GRID_FRONT, g.L, C, OC, q0, q1, g.off);
        }
        sum_parts(dw, part, nw, g.nch);
    }
    if (din) {
        pack_w(wt, w, OC, C, (size_t)fwd_rows(isa), 1);
        /* din_set: din holds garbage and is written (the same bits as adding into zeros: t + 0.0f) */
        c3_dst dst = {din, NULL, B, C, H, W, g.Wp, g.S, !din_set, H, W, 1, 0, 0, 0, 0.0f};
        grid_conv(isa, &dst, g.Qr, dp + GRID_FRONT, g.L, wt, OC, C, g.off, 9);
    }
}

/* ==== 1x1 convolution: one GEMM per image on the NCHW planes (no im2col, no layout copies) ========= */

int gm__conv1x1_applies(const gm_conv_dims *d) { return d->K == 1 && d->stride == 1 && d->pad == 0; }

void gm__conv1x1_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d) {
    GM_ASSERT(out && in && w && gm__conv1x1_applies(d));
    const size_t P = d->H * d->W, C = d->C, OC = d->OC;
    long bi;
#pragma omp parallel for schedule(static) if (d->B * OC * C * P > GM__PAR_MIN)
    for (bi = 0; bi < (long)d->B; bi++) {
        float *o = out + (size_t)bi * OC * P;
        for (size_t oc = 0; oc < OC; oc++) /* out_b(OC, P) = W(OC, C) in_b(C, P) + b */
            for (size_t p = 0; p < P; p++) o[oc * P + p] = b ? b[oc] : 0.0f;
        gm__sgemm_serial(0, 0, OC, P, C, 1.0f, w, C, in + (size_t)bi * C * P, P, 1.0f, o, P);
    }
}

void gm__conv1x1_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          const gm_conv_dims *d) {
    GM_ASSERT(dout && in && w && gm__conv1x1_applies(d));
    const size_t P = d->H * d->W, C = d->C, OC = d->OC, B = d->B;
    if (db) gm__channel_sums(db, dout, B, OC, P);
    /* dW(OC, C) += sum_b dY_b(OC, P) in_b(C, P)^T, images in order on one thread */
    if (dw)
        for (size_t bi = 0; bi < B; bi++)
            gm__sgemm_serial(0, 1, OC, C, P, 1.0f, dout + bi * OC * P, P, in + bi * C * P, P, 1.0f, dw, C);
    if (din) { /* din_b(C, P) += W(OC, C)^T dY_b(OC, P) */
        long bi;
#pragma omp parallel for schedule(static) if (B * OC * C * P > GM__PAR_MIN)
        for (bi = 0; bi < (long)B; bi++)
            gm__sgemm_serial(1, 0, C, P, OC, 1.0f, w, C, dout + (size_t)bi * OC * P, P, 1.0f,
                             din + (size_t)bi * C * P, P);
    }
}

/* ==== stride-2 convolution (K = 3 or 4, pad 1, even input) on phase grids ======================== */
/* Conv (C, H, W) -> (OC, OH, OW), H = 2 OH, W = 2 OW. Input row ih = 2 oy + kh - 1 = 2 (oy + dr) + a with
 * dr = floor((kh - 1) / 2) in {-1, 0, 1} and phase a = kh - 1 - 2 dr in {0, 1} (columns alike: dc, b). Each
 * input channel is split into its four phases x(2i + a, 2j + b), each laid out as a grid plane of OH x OW
 * pixels like the output (to_grid_s), so tap (kh, kw) reads phase plane 2a + b at grid offset
 * (dr + 1) Wp + dc: the forward is the grid loop with K^2 taps over channels of stride 4L. The adjoint (the
 * input gradient, and the transposed convolution's forward) splits by the phase of its output: phase (a, b)
 * of dx is a grid convolution of dy (on the output grid) with that phase's taps at offsets (1 - dr) Wp - dc,
 * scattered to every second pixel; the two column phases of a row phase run together (c3_grid2), so each
 * output row is written once. The weight gradient is c3_dwk_chunk over dy and the phase grids. The
 * same bit guarantees as the 3x3 kernels (forward and adjoint: one fused sum per output in a fixed order on
 * every instruction set; weight gradient: fixed chunks). */

typedef struct {
    c3_geom g; /* the output plane's grid (OH x OW) */
    int KK;
    ptrdiff_t off[16];                /* forward: tap kh K + kw */
    int nph[4], ptap[4][4];           /* adjoint: the taps of phase 2a + b */
    ptrdiff_t poff[4][4];             /* and their offsets on the dy grid */
} s2_geom;

static s2_geom s2_geom_of(const gm_conv_dims *d) {
    s2_geom G;
    gm_conv_dims pd = *d;
    pd.H = d->OH, pd.W = d->OW;
    G.g = geom_of(&pd);
    G.KK = (int)(d->K * d->K);
    const ptrdiff_t L = (ptrdiff_t)G.g.L, Wp = (ptrdiff_t)G.g.Wp;
    memset(G.nph, 0, sizeof G.nph);
    for (int kh = 0; kh < (int)d->K; kh++)
        for (int kw = 0; kw < (int)d->K; kw++) {
            const int dr = (kh + 1) / 2 - 1, a = kh - 1 - 2 * dr, dc = (kw + 1) / 2 - 1, b = kw - 1 - 2 * dc;
            const int k = kh * (int)d->K + kw, ph = 2 * a + b;
            G.off[k] = (2 * a + b) * L + (dr + 1) * Wp + dc;
            G.ptap[ph][G.nph[ph]] = k;
            G.poff[ph][G.nph[ph]++] = (1 - dr) * Wp - dc;
        }
    return G;
}

int gm__convs2_applies(const gm_conv_dims *d) {
    return d->stride == 2 && d->pad == 1 && (d->K == 3 || d->K == 4) && d->OH > 0 && d->OW > 0 &&
           d->H == 2 * d->OH && d->W == 2 * d->OW;
}

/* work layout: [alignment][packed weights][phase grids, 4 C L][shift < 16][dy grid, OC L][bias partial sums,
 * 8 OC doubles][weight-gradient lane accumulators] */
static size_t s2_wt_size(const gm_conv_dims *d, const s2_geom *G) {
    const size_t r = G->g.OCr * d->C > G->g.Cr * d->OC ? G->g.OCr * d->C : G->g.Cr * d->OC;
    return (r * (size_t)G->KK + 15) / 16 * 16;
}
static float *s2_wt(float *work) { return align64(work); }

/* floats of work for any pass (layout above) */
size_t gm__convs2_work_size(const gm_conv_dims *d) {
    const s2_geom G = s2_geom_of(d);
    return 32 + s2_wt_size(d, &G) + 4 * d->C * G.g.L + d->OC * G.g.L + 2 * GM__CSUM_LANES * d->OC + 16 * d->OC * d->C * (size_t)G.KK;
}
static float *s2_xp(float *work, const gm_conv_dims *d, const s2_geom *G) { return s2_wt(work) + s2_wt_size(d, G); }
/* the dy grid starts 0-15 floats late, so that the rows the weight gradient reads (from data index Wp on)
 * are 64-byte aligned */
static float *s2_dp(float *work, const gm_conv_dims *d, const s2_geom *G) {
    return s2_xp(work, d, G) + 4 * d->C * G->g.L + (16 - (GRID_FRONT + G->g.Wp) % 16) % 16;
}

/* The forward and adjoint passes run over chunks of S2_CHUNK_FLOATS grid floats' worth of images, so a
 * chunk's grid is still in L2 when the kernel reads it (each output is one sum whatever the chunking). */
#define S2_CHUNK_FLOATS ((size_t)96 * 1024)
static size_t s2_chunk(size_t B, size_t per_image) {
    size_t n = S2_CHUNK_FLOATS / (per_image ? per_image : 1);
    return n < 1 ? 1 : n > B ? B : n;
}

/* out(B, OC, OH, OW) = conv(in) + b, or += conv(in) (acc); in_ready: the phase grids already hold in (and
 * when in_ready > 1, the packed weights are there too); lrelu (!acc only): LeakyReLU with slope *lrelu
 * after the bias */
static void s2_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d, int acc,
                       int in_ready, const float *lrelu, float *work) {
    const s2_geom G = s2_geom_of(d);
    const int isa = gm__conv3_isa();
    float *wt = s2_wt(work), *xp = s2_xp(work, d, &G);
    if (in_ready < 2) pack_taps(wt, w, d->OC, d->C, (size_t)G.KK, (size_t)fwd_rows(isa), 0, TAPS, (size_t)G.KK);
    const size_t nb = in_ready ? d->B : s2_chunk(d->B, 4 * d->C * G.g.S);
    for (size_t b0 = 0; b0 < d->B; b0 += nb) {
        gm_conv_dims dc = *d;
        dc.B = d->B - b0 < nb ? d->B - b0 : nb;
        const s2_geom Gc = dc.B == d->B ? G : s2_geom_of(&dc);
        if (!in_ready) to_grid_s(xp, in + b0 * d->C * d->H * d->W, NULL, 0.0f, dc.B, d->C, d->H, d->W, 2, &Gc.g);
        c3_dst dst = {out + b0 * d->OC * d->OH * d->OW, b, dc.B, d->OC, d->OH, d->OW, Gc.g.Wp, Gc.g.S, acc, d->OH,
                      d->OW, 1, 0, 0, lrelu != NULL, lrelu ? *lrelu : 0.0f};
        grid_conv(isa, &dst, Gc.g.Qr, xp + GRID_FRONT, 4 * Gc.g.L, wt, d->C, d->OC, Gc.off, G.KK);
    }
}

/* dx(B, C, H, W) = conv^T(dy) + b, or += conv^T(dy) (acc); dy_ready: the dy grid already holds dy (and
 * when dy_ready > 1, the packed weights are there too) */
static void s2_adjoint(float *dx, const float *dy, const float *w, const float *b, const gm_conv_dims *d, int acc,
                       int dy_ready, float *work) {
    const s2_geom G = s2_geom_of(d);
    const int isa = gm__conv3_isa();
    float *wt = s2_wt(work), *dp = s2_dp(work, d, &G), *wph[4];
    for (int ph = 0, at = 0; ph < 4; at += G.nph[ph++]) { /* each phase's weights, packed once */
        wph[ph] = wt + G.g.Cr * d->OC * (size_t)at;
        if (dy_ready < 2)
            pack_taps(wph[ph], w, d->OC, d->C, (size_t)G.KK, (size_t)fwd_rows(isa), 1, G.ptap[ph], (size_t)G.nph[ph]);
    }
    const size_t nb = dy_ready ? d->B : s2_chunk(d->B, d->OC * G.g.S);
    for (size_t b0 = 0; b0 < d->B; b0 += nb) {
        gm_conv_dims dc = *d;
        dc.B = d->B - b0 < nb ? d->B - b0 : nb;
        const s2_geom Gc = dc.B == d->B ? G : s2_geom_of(&dc);
        if (!dy_ready) to_grid(dp, dy + b0 * d->OC * d->OH * d->OW, dc.B, d->OC, d->OH, d->OW, &Gc.g);
        for (int ph = 0; ph < 4; ph++) {
            c3_dst dst = {dx + b0 * d->C * d->H * d->W, b, dc.B, d->C, d->OH, d->OW, Gc.g.Wp, Gc.g.S, acc, d->H, d->W, 2,
                          (size_t)ph / 2, (size_t)ph % 2, 0, 0.0f};
            if (d->C > 1) { /* both column phases of row phase ph / 2 at once, whole output rows */
                grid_conv2(isa, &dst, Gc.g.Qr, dp + GRID_FRONT, Gc.g.L, wph[ph], wph[ph + 1], d->OC, d->C, Gc.poff[ph],
                           Gc.poff[ph + 1], G.nph[ph], G.nph[ph + 1]);
                ph++;
                continue;
            }
            grid_conv(isa, &dst, Gc.g.Qr, dp + GRID_FRONT, Gc.g.L, wph[ph], d->OC, d->C, Gc.poff[ph], G.nph[ph]);
        }
    }
}

/* dw(OC, C, K, K) += sum_q dy(o, q) x(c, q + off_k) with both grids laid out */
void gm__convs2_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                        float *work) {
    GM_ASSERT(out && in && w && work && gm__convs2_applies(d));
    s2_forward(out, in, w, b, d, 0, 0, NULL, work);
}
void gm__convs2_forward_lrelu(float *out, const float *in, const float *w, const float *b, float alpha,
                              const gm_conv_dims *d, float *work) {
    GM_ASSERT(out && in && w && work && gm__convs2_applies(d) && alpha >= 0.0f);
    s2_forward(out, in, w, b, d, 0, 0, &alpha, work);
}

static int isa_vw(int isa) { return isa == GM__ISA_AVX512 ? 16 : isa == GM__ISA_AVX2 ? 8 : 1; }

/* The backward passes of the conv view d over batch chunks (their grids stay in L2): x is the conv's input
 * (B, C, H, W), g the gradient of its output (B, OC, OH, OW), times the LeakyReLU slope at y when y is given.
 * Per chunk, as asked: db += the channel sums of the gradient grid's pixels (the same double partial sums in
 * the same order as gm__channel_sums, carried across chunks); the weight gradient's lanes
 * (c3_dwk, rows split over the threads) continue from chunk to chunk and are summed in double at the end;
 * adj (B, C, H, W) (+)= conv^T(g) (the conv's input gradient); fwd (B, OC, OH, OW) (+)= conv(x) (the
 * transposed conv's input gradient). The bits depend on the chunking (a function of the shapes), never on
 * the thread count. */
#define S2_DB_PIECE 1024
static void s2_back(const gm_conv_dims *d, const float *x, const float *g, const float *y, float alpha, float *dw,
                    float *db, float *adj, int adj_acc, float *fwd, int fwd_acc, const float *w, float *work) {
    const s2_geom G = s2_geom_of(d);
    const int isa = gm__conv3_isa(), vw = isa_vw(isa);
    const size_t B = d->B, C = d->C, OC = d->OC, nw = OC * C * (size_t)G.KK;
    const int need_g = dw || db || adj, need_x = dw || fwd;
    GM_ASSERT(!(adj && fwd)); /* they would share the packed-weights slot */
    double *dbs = (double *)(void *)(s2_xp(work, d, &G) + 4 * C * G.g.L + 16 + OC * G.g.L);
    float *lanes = (float *)(void *)(dbs + GM__CSUM_LANES * OC);
    if (db)
        for (size_t i = 0; i < GM__CSUM_LANES * OC; i++) dbs[i] = 0.0;
    const size_t nb = s2_chunk(B, 4 * C * G.g.S + OC * G.g.S);
    for (size_t b0 = 0; b0 < B; b0 += nb) {
        gm_conv_dims dc = *d;
        dc.B = B - b0 < nb ? B - b0 : nb;
        const s2_geom Gc = dc.B == B ? G : s2_geom_of(&dc);
        float *xp = s2_xp(work, &dc, &Gc), *dp = s2_dp(work, &dc, &Gc);
        const size_t xo = b0 * C * d->H * d->W, go = b0 * OC * d->OH * d->OW;
        if (need_g) to_grid_s(dp, g + go, y ? y + go : NULL, alpha, dc.B, OC, d->OH, d->OW, 1, &Gc.g);
        if (need_x) to_grid_s(xp, x + xo, NULL, 0.0f, dc.B, C, d->H, d->W, 2, &Gc.g);
        if (db) { /* the pixels of each plane in order, pixel p into partial sum p mod 8, as gm__channel_sums */
            const size_t OH = d->OH, OW = d->OW, P = OH * OW;
            long o;
#pragma omp parallel for schedule(static) if (OC * dc.B * P > GM__PAR_MIN)
            for (o = 0; o < (long)OC; o++) {
                double *s = dbs + (size_t)o * GM__CSUM_LANES;
                float buf[S2_DB_PIECE + 64]; /* rows of up to 64 pixels gathered, summed in pieces of ~1k */
                for (size_t bi = 0; bi < dc.B; bi++) {
                    const float *r = dp + (size_t)o * Gc.g.L + GRID_FRONT + bi * Gc.g.S + Gc.g.Wp;
                    if (OW > 64) { /* wide rows: pixel by pixel */
                        for (size_t yy = 0, p = 0; yy < OH; yy++, r += Gc.g.Wp)
                            for (size_t xx = 0; xx < OW; xx++, p++) s[p % GM__CSUM_LANES] += (double)r[xx];
                        continue;
                    }
                    size_t nbuf = 0; /* pixels in buf; a piece ends at a multiple of 8 pixels, so the lanes go on */
                    for (size_t yy = 0; yy < OH; yy++, r += Gc.g.Wp) {
                        for (size_t xx = 0; xx < OW; xx++) buf[nbuf + xx] = r[xx]; /* short rows: no call */
                        nbuf += OW;
                        if (nbuf >= S2_DB_PIECE || yy + 1 == OH) {
                            const size_t m = yy + 1 == OH ? nbuf : nbuf / GM__CSUM_LANES * GM__CSUM_LANES;
                            gm__csum_plane(s, buf, m);
                            for (size_t i = m; i < nbuf; i++) buf[i - m] = buf[i];
                            nbuf -= m;
                        }
                    }
                }
            }
        }
        if (dw) {
            const float *dy = dp + GRID_FRONT + Gc.g.Wp, *xg = xp + GRID_FRONT;
            const size_t nob = (OC + 5) / 6;
            long ob;
#pragma omp parallel for schedule(static) if (nob > 1 && nw * Gc.g.Qr > 4 * GM__PAR_MIN)
            for (ob = 0; ob < (long)nob; ob++) {
                const size_t o0 = (size_t)ob * 6, o1 = o0 + 6 < OC ? o0 + 6 : OC;
#ifdef C3_X86
                if (isa == GM__ISA_AVX512)
                    c3_dwk_avx512(lanes, dy, Gc.g.L, xg, 4 * Gc.g.L, C, o0, o1, 0, Gc.g.Qr, Gc.off, G.KK, b0 == 0);
                else if (isa == GM__ISA_AVX2)
                    c3_dwk_avx2(lanes, dy, Gc.g.L, xg, 4 * Gc.g.L, C, o0, o1, 0, Gc.g.Qr, Gc.off, G.KK, b0 == 0);
                else
#endif
                    c3_dwk_c(lanes, dy, Gc.g.L, xg, 4 * Gc.g.L, C, o0, o1, 0, Gc.g.Qr, Gc.off, G.KK, b0 == 0);
            }
        }
        /* (the weights are packed by the first chunk's call, for all) */
        if (adj) s2_adjoint(adj + xo, NULL, w, NULL, &dc, adj_acc, b0 ? 2 : 1, work);
        if (fwd) s2_forward(fwd + go, NULL, w, NULL, &dc, fwd_acc, b0 ? 2 : 1, NULL, work);
    }
    if (db)
        for (size_t o = 0; o < OC; o++) db[o] += (float)gm__csum_total(dbs + o * GM__CSUM_LANES);
    if (dw) gm__lane_sums(dw, lanes, nw, vw); /* the lanes summed pairwise (independent adds), a fixed order */
}

/* with y (the fused op's output): the output gradient is dout times the LeakyReLU slope at y */
static void s2_backward(float *din, float *dw, float *db, const float *dout, const float *y, float alpha,
                        const float *in, const float *w, const gm_conv_dims *d, int din_set, float *work) {
    GM_ASSERT(dout && in && w && work && gm__convs2_applies(d));
    if (db && !y) gm__channel_sums(db, dout, d->B, d->OC, d->OH * d->OW);
    if (!dw && !din && !(db && y)) return;
    s2_back(d, in, dout, y, alpha, dw, y ? db : NULL, din, !din_set, NULL, 0, w, work);
}
void gm__convs2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                         const gm_conv_dims *d, int din_set, float *work) {
    s2_backward(din, dw, db, dout, NULL, 0.0f, in, w, d, din_set, work);
}
void gm__convs2_backward_lrelu(float *din, float *dw, float *db, const float *dout, const float *y, float alpha,
                               const float *in, const float *w, const gm_conv_dims *d, int din_set, float *work) {
    GM_ASSERT(y);
    s2_backward(din, dw, db, dout, y, alpha, in, w, d, din_set, work);
}

/* ---- the transposed convolution (C, H, W) -> (OC, 2H, 2W), K 3/4, stride 2, pad 1, w(C, OC, K, K): the
 * adjoint of the conv view (OC, 2H, 2W) -> (C, H, W) with the same weight tensor ---- */
static gm_conv_dims conv_view(const gm_conv_dims *t) {
    gm_conv_dims c = *t;
    c.C = t->OC, c.H = t->OH, c.W = t->OW, c.OC = t->C, c.OH = t->H, c.OW = t->W;
    return c;
}
int gm__convts2_applies(const gm_conv_dims *t) {
    gm_conv_dims c = conv_view(t);
    return gm__convs2_applies(&c);
}
size_t gm__convts2_work_size(const gm_conv_dims *t) {
    gm_conv_dims c = conv_view(t);
    return gm__convs2_work_size(&c);
}
void gm__convts2_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *t,
                         float *work) {
    gm_conv_dims c = conv_view(t);
    GM_ASSERT(out && in && w && work && gm__convs2_applies(&c));
    s2_adjoint(out, in, w, b, &c, 0, 0, work);
}
void gm__convts2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          const gm_conv_dims *t, int din_set, float *work) {
    gm_conv_dims c = conv_view(t);
    GM_ASSERT(dout && in && w && work && gm__convs2_applies(&c));
    if (db) gm__channel_sums(db, dout, t->B, t->OC, t->OH * t->OW);
    if (!dw && !din) return;
    s2_back(&c, dout, in, NULL, 0.0f, dw, NULL, NULL, 0, din, !din_set, w, work);
}
