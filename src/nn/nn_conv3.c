/* SPDX-License-Identifier: MIT */
/* nn_conv3.c — 3x3 stride-1 pad-1 convolution without im2col ("implicit GEMM over shifted rows"), the
 * convolution of the diffusion U-Net; its naive twins are gm_conv2d_forward_ref/backward_ref (nn_conv.c).
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

#define SCATTER_RUNS 64 /* pixel runs per tile: at most 48 / Wp + 2 <= 26 */

typedef struct {
    float *out;        /* (B, OC, H, W) */
    const float *bias; /* (OC) or NULL; ignored when acc */
    size_t B, OC, H, W, Wp, S;
    int acc; /* 1: out += y, 0: out = y + bias */
} c3_dst;

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
#define FR 8
#define DWR 1
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
#define FR 4
#define DWR 1
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
#define FR 8
#define DWR 3
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
#pragma GCC pop_options
#endif

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
                      size_t OC, const ptrdiff_t *off) {
#ifdef C3_X86
    if (isa == GM__ISA_AVX512) {
        c3_grid_avx512(y, Qr, x, ldx, wt, C, OC, off);
        return;
    }
    if (isa == GM__ISA_AVX2) {
        c3_grid_avx2(y, Qr, x, ldx, wt, C, OC, off);
        return;
    }
#endif
    c3_grid_c(y, Qr, x, ldx, wt, C, OC, off);
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

/* NCHW (B, C, H, W) -> padded grid rows of L floats */
static void to_grid(float *xp, const float *in, size_t B, size_t C, size_t H, size_t W, const c3_geom *g) {
    long c;
#pragma omp parallel for schedule(static) if (B * C * H * W > GM__PAR_MIN)
    for (c = 0; c < (long)C; c++) {
        float *row = xp + (size_t)c * g->L, *dat = row + GRID_FRONT;
        memset(row, 0, GRID_FRONT * sizeof(float));
        for (size_t b = 0; b < B; b++) {
            float *s = dat + b * g->S;
            memset(s, 0, g->Wp * sizeof(float));
            const float *src = in + (b * C + (size_t)c) * H * W;
            for (size_t y = 0; y < H; y++) {
                float *r = s + (y + 1) * g->Wp;
                const float *sr = src + y * W;
#pragma omp simd
                for (size_t x = 0; x < W; x++) r[x] = sr[x]; /* short rows: a loop beats memcpy calls */
                r[W] = 0.0f;
            }
        }
        memset(dat + B * g->S, 0, (g->L - GRID_FRONT - B * g->S) * sizeof(float));
    }
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

/* w(OC, C, 3, 3) -> blocks of R rows: wt[((ob C + c) 9 + k) R + r] = w(ob R + r, c, k) (0 past OC); with
 * flip, the weights of the input-gradient pass: rows are input channels, w'(c, o, k) = w(o, c, 8 - k). */
static void pack_w(float *wt, const float *w, size_t OC, size_t C, size_t R, int flip) {
    size_t rows = flip ? C : OC, cols = flip ? OC : C, nob = rows == 1 ? 1 : (rows + R - 1) / R;
    if (rows == 1) R = 1;
    for (size_t ob = 0; ob < nob; ob++)
        for (size_t c = 0; c < cols; c++)
            for (size_t k = 0; k < 9; k++)
                for (size_t r = 0; r < R; r++) {
                    size_t o = ob * R + r;
                    float v = 0.0f;
                    if (o < rows) v = flip ? w[(c * C + o) * 9 + (8 - k)] : w[(o * C + c) * 9 + k];
                    wt[((ob * cols + c) * 9 + k) * R + r] = v;
                }
}

/* ==== kernels ================================================================================== */

void gm__conv3_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                       float *work) {
    GM_ASSERT(out && in && w && work && gm__conv3_applies(d));
    const c3_geom g = geom_of(d);
    const int isa = gm__conv3_isa();
    float *xp = align64(work), *wt = xp + d->C * g.L + d->OC * g.L;
    c3_dst dst = {out, b, d->B, d->OC, d->H, d->W, g.Wp, g.S, 0};
    to_grid(xp, in, d->B, d->C, d->H, d->W, &g);
    pack_w(wt, w, d->OC, d->C, (size_t)fwd_rows(isa), 0);
    grid_conv(isa, &dst, g.Qr, xp + GRID_FRONT, g.L, wt, d->C, d->OC, g.off);
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
        long i;
#pragma omp parallel for schedule(static) if (nw * g.nch > GM__PAR_MIN)
        for (i = 0; i < (long)nw; i++) {
            double s = 0.0;
            for (size_t ch2 = 0; ch2 < g.nch; ch2++) s += part[ch2 * nw + (size_t)i];
            dw[i] += (float)s;
        }
    }
    if (din) {
        pack_w(wt, w, OC, C, (size_t)fwd_rows(isa), 1);
        /* din_set: din holds garbage and is written (the same bits as adding into zeros: t + 0.0f) */
        c3_dst dst = {din, NULL, B, C, H, W, g.Wp, g.S, !din_set};
        grid_conv(isa, &dst, g.Qr, dp + GRID_FRONT, g.L, wt, OC, C, g.off);
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
