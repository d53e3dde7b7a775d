/* SPDX-License-Identifier: MIT */
/* eval_knn_cert.c — k-NN precision/recall (P/R alone, float32 profiles) with certified cheap distances.
 *
 * What the results are. Every squared distance that decides anything is the "exact" value
 *     D(a, b) = max(|a|² + |b|² − 2 a·b, 0),  each of |a|², |b|², a·b = gm_cert_dot (float32 inputs,
 * products exact in double, 32 partial sums by column index mod 32, combined in one fixed tree), so the
 * radii (k-th smallest D within a set, self excluded) and the in-ball flags (D <= r or D < r) are a function
 * of the data alone: independent of the thread count, the schedule and of which filter ran (or none).
 *
 * How they are found cheaply. All pairs first get an approximate value D~ from a cheap Gram matrix of the
 * rows shifted by a common centre c (the mean of the two set means; distances do not change) and rounded
 * to a low precision: AMX bfloat16 tiles with float32 accumulation (src/linalg/linalg_gram_bf16.c) when the CPU
 * has them, float32 SGEMM otherwise. Each pair carries a rigorous bound M with |D~ − D| <= M; a decision
 * is taken from D~ when D~ ± M settle it, and from D (computed for that pair only) otherwise.
 *
 * The bound. For a row a let x = a − c (double), x~ its low-precision rounding, t = |x~|, e = |x − x~| (both
 * in double, from the actual rounded values), P = |x|² (double). With y, y~ the same for b:
 *   x·y − x~·y~ = (x − x~)·y + x~·(y − y~)  ⇒  |x·y − x~·y~| <= e_a (t_b + e_b) + t_a e_b   (Cauchy–Schwarz).
 * The products of two bf16 (8-bit significands) are exact in float32 and AMX adds them into a float32
 * accumulator with round-to-nearest; whatever the grouping, every product goes through at most d roundings
 * of relative size 2^-24, so |g~ − x~·y~| <= γ Σ|x~_i y~_i| <= γ t_a t_b with γ = 2(d + 2)·2^-24 (twice the
 * classical (d + 1)u/(1 − (d + 1)u) for d·u < 1/2, which also covers a unit that truncates instead of
 * rounding to nearest; the same γ covers SGEMM with or without FMA). AMX treats bf16 subnormals as zero
 * (the rounding here flushes them itself, so x~ is what the unit reads) and flushes float32 subnormal
 * products and sums: at most 2d losses below 2^-126 each, covered by h = d·2^-120.
 * Overflow is excluded by using a filter only when every t < 2^48 (all partial sums < 2^96). Finally the
 * double-precision parts (P, |a|², a·b, the centring, D~ = P_a + P_b − 2 g~) round with relative errors
 * below (d + 8)·2^-53 of |a|² + |b|² + P_a + P_b; τ = (d + 16)·2^-48 covers them 32 times over. So
 *   |D~ − D| <= M = (2 (e_a s_b + t_a q_b) + R_a + R_b)(1 + 2^-20),  s = t + e,  q = e + γ t,  R = τ(|a|² + P) + h,
 * symmetric in a and b (the (1 + 2^-20) absorbs the rounding of M itself). With U = max(D~ + M, 0), L = D~ − M:
 * L <= D <= U. In-ball decisions: certainly inside when U < r and r > 0, certainly outside when L > r.
 *
 * Radii (upper-triangle items of each set, each pair once). Per thread and point, the k smallest U seen
 * (their k-th, T, only decreases); a pair is recorded (i, j, L) when L <= T of either end at that time.
 * Afterwards T* = k-th smallest U over all threads (a superset argument: r = k-th smallest D <= T*, and
 * every j with D_ij <= r has L_ij <= r <= T* <= T at the time it was scanned, so it was recorded); the
 * recorded pairs with L <= T* of an end get their exact D, and r = k-th smallest of those. The records are
 * capped at 64·n + 1024 pairs per thread (near-ties everywhere, e.g. many duplicates): past it the set is
 * swept again recording only L <= T* (one more Gram pass), and past it again once more with exact D for
 * every pair (no records; O(n² d) float64 work, bounded memory). Real x fake:
 * per pair, the flags still open for this thread are settled by D~ ± M or by the exact D; items whose
 * rows and columns are all inside already are skipped (flags are ORs: skipping cannot change them).
 * Filter off (GM_KNN_FILTER_OFF): the same passes with exact D everywhere (tests: identical results).
 *
 * Memory: the float32 rows (borrowed when the input is float32), per row 6 doubles, per thread one
 * 512 x 1024 float Gram block, top-k lists and the recorded pairs; AMX: two bf16 panels per set (2 · n · d ·
 * 2 bytes each); SGEMM filter: one centred float32 copy per set. Thread safety: re-entrant. */
#include "eval_internal.h"
#include "eval_knn_internal.h"
#include "linalg_gram_bf16.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GM_CERT_AVX512 1
#endif

enum { CR_RB = 512, CR_CB = 1024, CR_CENTRE = 512 }; /* item: rows x columns (multiples of 32) */

/* ---- exact dot product --------------------------------------------------------------------------- */

/* 32 partial sums (lane = column index mod 32, the tail included), then lanes u, u+8, u+16, u+24 as
 * ((u + (u+8)) + ((u+16) + (u+24))), then the eight results as ((0+1)+(2+3))+((4+5)+(6+7)). */
static double dot_tail(double s[32], const float *a, const float *b, size_t t, size_t d) {
    for (; t < d; t++) s[t % 32] += (double)a[t] * (double)b[t];
    double v[8];
    for (size_t u = 0; u < 8; u++) v[u] = (s[u] + s[u + 8]) + (s[u + 16] + s[u + 24]);
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

double gm_cert_dot_ref(const float *a, const float *b, size_t d) {
    double s[32];
    memset(s, 0, sizeof s);
    size_t t = 0;
    for (; t + 32 <= d; t += 32)
        for (size_t u = 0; u < 32; u++) s[u] += (double)a[t + u] * (double)b[t + u];
    return dot_tail(s, a, b, t, d);
}

#ifdef GM_CERT_AVX512
/* The same 32 partial sums in four registers: a float product is exact in double, so the fused
 * multiply-add rounds exactly like the multiply-then-add of the _ref twin. */
__attribute__((target("avx512f"))) static double dot_avx512(const float *a, const float *b, size_t d) {
    __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
    size_t t = 0;
    for (; t + 32 <= d; t += 32)
        for (int q = 0; q < 4; q++) {
            __m512d x = _mm512_cvtps_pd(_mm256_loadu_ps(a + t + 8 * q));
            __m512d y = _mm512_cvtps_pd(_mm256_loadu_ps(b + t + 8 * q));
            acc[q] = _mm512_fmadd_pd(x, y, acc[q]);
        }
    double s[32];
    for (int q = 0; q < 4; q++) _mm512_storeu_pd(s + 8 * q, acc[q]);
    return dot_tail(s, a, b, t, d);
}
#endif

double gm_cert_dot(const float *a, const float *b, size_t d) {
#ifdef GM_CERT_AVX512
    static int has = -1; /* benign: every thread computes the same answer */
    if (has < 0) has = __builtin_cpu_supports("avx512f") ? 1 : 0;
    if (has) return dot_avx512(a, b, d);
#endif
    return gm_cert_dot_ref(a, b, d);
}

/* ---- engine state -------------------------------------------------------------------------------- */

typedef struct {
    const float *x; /* n x d float rows (borrowed or own) */
    float *own;
    size_t n;
    double *nrm;              /* exact |a|² (gm_cert_dot) */
    double *P, *t, *e, *q, *R; /* filter terms (file header) */
    uint16_t *pa, *pb;        /* AMX panels (layouts A and B), 64-byte aligned inside pa_m, pb_m */
    void *pa_m, *pb_m;
    float *f;                 /* SGEMM filter: centred float rows */
} cset;

typedef struct {
    uint32_t i, j;
    double L;
} cpair;

typedef struct {
    float *G;          /* CR_RB x CR_CB Gram block, 64-byte aligned inside G_m */
    void *G_m;
    double *top[2];    /* per point: k smallest U (filter) or D (filter off) */
    cpair *pairs;      /* recorded radius pairs */
    size_t np, cap;
    double *thr[2];    /* per point: the k-th of top (contiguous copy for the row screen) */
    double *L, *U;     /* one row of bounds, indexed by column (max(n_real, n_fake)) */
    uint32_t *hit;     /* columns of a row to look at */
    uint8_t *rin;      /* real in manifold(fake) */
    double *gate;      /* per fake: +1 while not known to be in manifold(real), -1 after */
    size_t n_exact;
    double gram_s; /* seconds in the Gram kernel (statistics) */
    int oom, full;  /* allocation failed; pair_cap reached */
} cthr;

typedef struct {
    cset s[2];
    size_t d, k;
    gm_cmp cmp;
    int mode; /* resolved: GM_KNN_FILTER_AMX / _F32 / _OFF */
    int nthr;
    cthr *t;
    const double *rad[2];
    const double *fixed; /* radius pass with known T* (second try): record only L <= T* of an end */
    size_t pair_cap;     /* recorded pairs per thread */
    const gm_knn_config *cfg;
    size_t done, total;
    const char *stage;
} ceng;

typedef struct {
    int s; /* 0, 1: set s with itself (upper triangle); 2: real x fake */
    size_t r0, mb, c0, wd;
} citem;

static double exact_d2(const ceng *e, int sa, size_t i, int sb, size_t j) {
    const cset *A = &e->s[sa], *B = &e->s[sb];
    double v = A->nrm[i] + B->nrm[j] - 2.0 * gm_cert_dot(A->x + i * e->d, B->x + j * e->d, e->d);
    return v > 0 ? v : 0;
}

/* ---- preparation --------------------------------------------------------------------------------- */

static void cset_free(cset *s) {
    gm_free(s->own);
    gm_free(s->nrm);
    gm_free(s->P);
    gm_free(s->t);
    gm_free(s->e);
    gm_free(s->q);
    gm_free(s->R);
    gm_free(s->pa_m);
    gm_free(s->pb_m);
    gm_free(s->f);
    memset(s, 0, sizeof *s);
}

static int cset_rows(cset *s, const gm_feats *x) {
    s->n = x->n;
    if (x->is_f64) {
        if (!(s->own = gm_malloc(x->n * x->d * sizeof(float)))) return GM_ENOMEM;
        gm_feats_rows_f32(x, 0, x->n, s->own);
        s->x = s->own;
    } else {
        s->x = x->data;
    }
    if (!(s->nrm = gm_malloc(x->n * sizeof(double)))) return GM_ENOMEM;
    return GM_OK;
}

/* Centre: the mean of the two sets' means over their first CR_CENTRE rows (each column summed in row
 * order). Any centre gives correct results; this one removes the common offset of both sets. */
static void centre_of(const ceng *e, double *c) {
    size_t d = e->d;
    for (size_t t = 0; t < d; t++) c[t] = 0;
    for (int s = 0; s < 2; s++) {
        size_t m = e->s[s].n < CR_CENTRE ? e->s[s].n : CR_CENTRE;
        for (size_t i = 0; i < m; i++) {
            const float *x = e->s[s].x + i * d;
            for (size_t t = 0; t < d; t++) c[t] += (double)x[t] / (double)(2 * m);
        }
    }
}

/* One row for the AMX filter: hb = bf16 of (float)(a − c), sums[0..2] = |a − c|², |x~|², |(a − c) − x~|² (any
 * summation order: their rounding is inside τ). */
static void bf16_row_ref(const float *a, const double *c, size_t j, size_t d, uint16_t *hb, double sums[3]) {
    for (; j < d; j++) {
        double xc = (double)a[j] - c[j];
        hb[j] = gm_bf16_round((float)xc);
        double xr = (double)gm_bf16_to_float(hb[j]);
        sums[0] += xc * xc;
        sums[1] += xr * xr;
        sums[2] += (xc - xr) * (xc - xr);
    }
}

#ifdef GM_CERT_AVX512
__attribute__((target("avx512f,avx512vl,avx512bw"))) static void bf16_row_avx512(const float *a, const double *c,
                                                                                 size_t d, uint16_t *hb,
                                                                                 double sums[3]) {
    __m512d P = _mm512_setzero_pd(), T = _mm512_setzero_pd(), E = _mm512_setzero_pd();
    const __m256i k7fff = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), kexp = _mm256_set1_epi32(0x7f80);
    const __m256i ksign = _mm256_set1_epi32(0x8000), zero = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        __m512d xc = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + j)), _mm512_loadu_pd(c + j));
        __m256i u = _mm256_castps_si256(_mm512_cvtpd_ps(xc));
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), one); /* nearest, ties to even */
        __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(k7fff, odd)), 16);
        __m256i z = _mm256_cmpeq_epi32(_mm256_and_si256(r, kexp), zero); /* subnormal or zero: signed zero */
        r = _mm256_blendv_epi8(r, _mm256_and_si256(r, ksign), z);
        _mm_storeu_si128((__m128i *)(void *)(hb + j), _mm256_cvtepi32_epi16(r));
        __m512d xr = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_slli_epi32(r, 16)));
        __m512d df = _mm512_sub_pd(xc, xr);
        P = _mm512_fmadd_pd(xc, xc, P);
        T = _mm512_fmadd_pd(xr, xr, T);
        E = _mm512_fmadd_pd(df, df, E);
    }
    sums[0] = _mm512_reduce_add_pd(P);
    sums[1] = _mm512_reduce_add_pd(T);
    sums[2] = _mm512_reduce_add_pd(E);
    bf16_row_ref(a, c, j, d, hb, sums);
}
#endif

/* Filter terms of every row of set s (and its panels / centred copy). Returns the largest t. */
static double cset_filter(ceng *e, cset *s, const double *c, double gam, uint16_t *hbuf) {
    size_t d = e->d;
    double tmax = 0;
    double tau = ((double)d + 16) * 0x1p-48, h = (double)d * 0x1p-120;
    int amx = e->mode == GM_KNN_FILTER_AMX;
#pragma omp parallel num_threads(e->nthr) reduction(max : tmax)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        uint16_t *hb = hbuf + (size_t)tid * d; /* one bf16 row per thread */
#pragma omp for schedule(static)
        for (long il = 0; il < (long)s->n; il++) {
            size_t i = (size_t)il;
            const float *a = s->x + i * d;
            double sums[3] = {0, 0, 0};
            if (amx) {
#ifdef GM_CERT_AVX512
                bf16_row_avx512(a, c, d, hb, sums); /* AMX implies AVX-512 */
#else
                bf16_row_ref(a, c, 0, d, hb, sums);
#endif
            } else {
                for (size_t j = 0; j < d; j++) {
                    double xc = (double)a[j] - c[j];
                    float v = (float)xc;
                    s->f[i * d + j] = v;
                    sums[0] += xc * xc;
                    sums[1] += (double)v * (double)v;
                    sums[2] += (xc - (double)v) * (xc - (double)v);
                }
            }
            double P = sums[0], tt = sums[1], ee = sums[2];
            if (amx) {
                gm_bf16_pack_row(hb, i, d, GM_BF16_A, s->pa);
                gm_bf16_pack_row(hb, i, d, GM_BF16_B, s->pb);
            }
            double t = sqrt(tt), er = sqrt(ee);
            s->P[i] = P;
            s->t[i] = t;
            s->e[i] = er;
            s->q[i] = er + gam * t;
            s->R[i] = tau * (s->nrm[i] + P) + h;
            if (!(t <= tmax)) tmax = isnan(t) ? (double)INFINITY : t;
        }
    }
    return tmax;
}

/* Zero-filled block of `size` bytes at a 64-byte boundary (tile rows are 64 bytes: an unaligned tile load
 * touches twice the cache lines); *raw receives what to gm_free. */
static void *calloc_aligned(size_t size, void **raw) {
    char *p = gm_calloc(size + 64, 1);
    *raw = p;
    return p ? p + (64 - (uintptr_t)p % 64) % 64 : NULL;
}

static int eng_prepare(ceng *e, int want) {
    size_t d = e->d;
    for (int k = 0; k < 2; k++) {
        cset *s = &e->s[k];
#pragma omp parallel for schedule(static) if (s->n * d > 65536)
        for (long i = 0; i < (long)s->n; i++) s->nrm[i] = gm_cert_dot(s->x + (size_t)i * d, s->x + (size_t)i * d, d);
    }
    if (want == GM_KNN_FILTER_OFF || d >= ((size_t)1 << 20)) {
        e->mode = GM_KNN_FILTER_OFF;
        return GM_OK;
    }
    e->mode = (want == GM_KNN_FILTER_F32 || !gm_amx_available()) ? GM_KNN_FILTER_F32 : GM_KNN_FILTER_AMX;
#ifndef GM_HAVE_BLAS
    if (e->mode == GM_KNN_FILTER_F32) { /* no fast float GEMM to filter with */
        e->mode = GM_KNN_FILTER_OFF;
        return GM_OK;
    }
#endif
    double *c = gm_malloc(d * sizeof(double));
    uint16_t *hb = gm_malloc((size_t)e->nthr * d * sizeof(uint16_t));
    if (!c || !hb) {
        gm_free(c);
        gm_free(hb);
        return GM_ENOMEM;
    }
    centre_of(e, c);
    double gam = 2.0 * ((double)d + 2) * 0x1p-24, tmax = 0;
    for (int k = 0; k < 2; k++) {
        cset *s = &e->s[k];
        size_t n = s->n;
        s->P = gm_malloc(n * sizeof(double));
        s->t = gm_malloc(n * sizeof(double));
        s->e = gm_malloc(n * sizeof(double));
        s->q = gm_malloc(n * sizeof(double));
        s->R = gm_malloc(n * sizeof(double));
        if (e->mode == GM_KNN_FILTER_AMX) {
            s->pa = calloc_aligned(gm_bf16_panel_size(n, d) * sizeof(uint16_t), &s->pa_m);
            s->pb = calloc_aligned(gm_bf16_panel_size(n, d) * sizeof(uint16_t), &s->pb_m);
        } else {
            s->f = gm_malloc(n * d * sizeof(float));
        }
        if (!s->P || !s->t || !s->e || !s->q || !s->R || (e->mode == GM_KNN_FILTER_AMX ? !s->pa || !s->pb : !s->f)) {
            gm_free(c);
            gm_free(hb);
            return GM_ENOMEM;
        }
        double tm = cset_filter(e, s, c, gam, hb);
        if (!(tm <= tmax)) tmax = tm;
    }
    gm_free(c);
    gm_free(hb);
    if (!(tmax < 0x1p48)) e->mode = GM_KNN_FILTER_OFF; /* could overflow float32 */
    return GM_OK;
}

/* ---- items --------------------------------------------------------------------------------------- */

/* Approximate Gram block of an item into w->G (row stride CR_CB). */
static void item_gram_(const ceng *e, cthr *w, const citem *it);
static void item_gram(const ceng *e, cthr *w, const citem *it) {
    double t0 = gm_time_now();
    item_gram_(e, w, it);
    w->gram_s += gm_time_now() - t0;
}

static void item_gram_(const ceng *e, cthr *w, const citem *it) {
    int sa = it->s == 2 ? 0 : it->s, sb = it->s == 2 ? 1 : it->s;
    const cset *A = &e->s[sa], *B = &e->s[sb];
    if (e->mode == GM_KNN_FILTER_AMX) {
        gm_amx_gram(A->pa, it->r0, (it->mb + 31) / 32 * 32, B->pb, it->c0, (it->wd + 31) / 32 * 32, e->d, it->s < 2,
                    w->G, CR_CB);
        return;
    }
#ifdef GM_HAVE_BLAS
    int d = (int)e->d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)it->mb, (int)it->wd, d, 1.0f, A->f + it->r0 * e->d, d,
                B->f + it->c0 * e->d, d, 0.0f, w->G, CR_CB);
#endif
}

static void record(const ceng *e, cthr *w, size_t i, size_t j, double L) {
    if (w->np >= e->pair_cap) { /* bounded memory: radii_pass redoes the set (file header) */
        w->full = 1;
        return;
    }
    if (w->np == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        cpair *p = gm_realloc(w->pairs, cap * sizeof(cpair));
        if (!p) {
            w->oom = 1;
            return;
        }
        w->pairs = p;
        w->cap = cap;
    }
    w->pairs[w->np].i = (uint32_t)i;
    w->pairs[w->np].j = (uint32_t)j;
    w->pairs[w->np].L = L;
    w->np++;
}

/* One row of an item against columns [j0, j1): L[j] and U[j] (file header) from the Gram row g, and the
 * list of columns where L <= max(th, colthr[j]) or (L <= rowthr and gate[j] > 0); colthr and gate may be
 * NULL (no such test). Returns the number of hits. The AVX-512 variant rounds differently, but both
 * results are valid bounds (the (1 + 2^-20) of M), and the caller decides from the L and U written here. */
typedef struct {
    const double *P, *t, *e, *q, *R; /* the column set's terms, indexed by column */
    double Pi, ti, ei, qi, Ri;       /* the row's */
    const float *g;                  /* Gram row: column j at g[j - c0] */
    size_t c0;
    double rowthr;
    const double *colthr, *gate;
} rowscan;

static size_t screen_ref(const rowscan *rs, size_t j0, size_t j1, double *L, double *U, uint32_t *hit) {
    size_t nh = 0;
    for (size_t j = j0; j < j1; j++) {
        double dt = rs->Pi + rs->P[j] - 2.0 * (double)rs->g[j - rs->c0];
        double m = (2.0 * (rs->ei * (rs->t[j] + rs->e[j]) + rs->ti * rs->q[j]) + rs->Ri + rs->R[j]) * (1 + 0x1p-20);
        double l = dt - m, u = dt + m;
        L[j] = l;
        U[j] = u > 0 ? u : 0;
        int h = (rs->colthr && l <= rs->colthr[j]) || (l <= rs->rowthr && (!rs->gate || rs->gate[j] > 0));
        if (h) hit[nh++] = (uint32_t)j;
    }
    return nh;
}

#ifdef GM_CERT_AVX512
__attribute__((target("avx512f"))) static size_t screen_avx512(const rowscan *rs, size_t j0, size_t j1, double *L,
                                                               double *U, uint32_t *hit) {
    size_t nh = 0, j = j0;
    __m512d Pi = _mm512_set1_pd(rs->Pi), ti = _mm512_set1_pd(rs->ti), ei = _mm512_set1_pd(rs->ei);
    __m512d Ri = _mm512_set1_pd(rs->Ri), two = _mm512_set1_pd(2.0), sf = _mm512_set1_pd(1 + 0x1p-20);
    __m512d rt = _mm512_set1_pd(rs->rowthr), zero = _mm512_setzero_pd(), ninf = _mm512_set1_pd(-(double)INFINITY);
    for (; j + 8 <= j1; j += 8) {
        __m512d g = _mm512_cvtps_pd(_mm256_loadu_ps(rs->g + (j - rs->c0)));
        __m512d dt = _mm512_fnmadd_pd(two, g, _mm512_add_pd(Pi, _mm512_loadu_pd(rs->P + j)));
        __m512d se = _mm512_add_pd(_mm512_loadu_pd(rs->t + j), _mm512_loadu_pd(rs->e + j));
        __m512d m = _mm512_fmadd_pd(ti, _mm512_loadu_pd(rs->q + j), _mm512_mul_pd(ei, se));
        m = _mm512_mul_pd(_mm512_fmadd_pd(two, m, _mm512_add_pd(Ri, _mm512_loadu_pd(rs->R + j))), sf);
        __m512d l = _mm512_sub_pd(dt, m), u = _mm512_max_pd(_mm512_add_pd(dt, m), zero);
        _mm512_storeu_pd(L + j, l);
        _mm512_storeu_pd(U + j, u);
        __m512d rth = rt;
        if (rs->gate) rth = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(_mm512_loadu_pd(rs->gate + j), zero, _CMP_GT_OQ), ninf, rt);
        __mmask8 h = _mm512_cmp_pd_mask(l, rth, _CMP_LE_OQ);
        if (rs->colthr) h |= _mm512_cmp_pd_mask(l, _mm512_loadu_pd(rs->colthr + j), _CMP_LE_OQ);
        while (h) {
            int b = __builtin_ctz(h);
            hit[nh++] = (uint32_t)(j + (size_t)b);
            h &= (__mmask8)(h - 1);
        }
    }
    return nh + screen_ref(rs, j, j1, L, U, hit + nh);
}
#endif

static size_t screen(const rowscan *rs, size_t j0, size_t j1, double *L, double *U, uint32_t *hit) {
#ifdef GM_CERT_AVX512
    static int has = -1; /* benign: every thread computes the same answer */
    if (has < 0) has = __builtin_cpu_supports("avx512f") ? 1 : 0;
    if (has) return screen_avx512(rs, j0, j1, L, U, hit);
#endif
    return screen_ref(rs, j0, j1, L, U, hit);
}

static void rowscan_set(rowscan *rs, const cset *A, size_t i, const cset *B, size_t c0, const float *g) {
    rs->P = B->P;
    rs->t = B->t;
    rs->e = B->e;
    rs->q = B->q;
    rs->R = B->R;
    rs->Pi = A->P[i];
    rs->ti = A->t[i];
    rs->ei = A->e[i];
    rs->qi = A->q[i];
    rs->Ri = A->R[i];
    rs->g = g;
    rs->c0 = c0;
}

static void run_sym(ceng *e, cthr *w, const citem *it) {
    size_t k = e->k, d2 = 0, c1 = it->c0 + it->wd;
    const cset *S = &e->s[it->s];
    double *top = w->top[it->s], *thr = w->thr[it->s];
    int off = e->mode == GM_KNN_FILTER_OFF;
    if (!off) item_gram(e, w, it);
    rowscan rs;
    for (size_t ii = 0; ii < it->mb; ii++) {
        size_t i = it->r0 + ii, j0 = i + 1 > it->c0 ? i + 1 : it->c0, nh;
        double *rt = top + i * k, *L = w->L, *U = w->U;
        uint32_t *hit = w->hit;
        if (off) {
            for (size_t j = j0; j < c1; j++) {
                U[j] = exact_d2(e, it->s, i, it->s, j);
                hit[j - j0] = (uint32_t)j;
            }
            nh = c1 > j0 ? c1 - j0 : 0;
            d2 += nh;
        } else {
            rowscan_set(&rs, S, i, S, it->c0, w->G + ii * CR_CB);
            rs.rowthr = e->fixed ? e->fixed[i] : rt[k - 1];
            rs.colthr = e->fixed ? e->fixed : thr;
            rs.gate = NULL;
            nh = j0 < c1 ? screen(&rs, j0, c1, L, U, hit) : 0;
        }
        if (e->fixed) {
            for (size_t h = 0; h < nh; h++) {
                size_t j = hit[h];
                if (L[j] <= e->fixed[i] || L[j] <= e->fixed[j]) record(e, w, i, j, L[j]);
            }
            continue;
        }
        for (size_t h = 0; h < nh; h++) {
            size_t j = hit[h];
            double *ct = top + j * k, u = U[j];
            if (u < rt[k - 1]) topk_insert(rt, k, u);
            if (u < ct[k - 1]) {
                topk_insert(ct, k, u);
                thr[j] = ct[k - 1];
            }
            if (!off && (L[j] <= rt[k - 1] || L[j] <= ct[k - 1])) record(e, w, i, j, L[j]);
        }
        thr[i] = rt[k - 1];
    }
    w->n_exact += d2;
}

static int cross_done(const cthr *w, const citem *it) {
    for (size_t i = it->r0; i < it->r0 + it->mb; i++)
        if (!w->rin[i]) return 0;
    for (size_t j = it->c0; j < it->c0 + it->wd; j++)
        if (w->gate[j] > 0) return 0;
    return 1;
}

static void run_cross(ceng *e, cthr *w, const citem *it) {
    if (cross_done(w, it)) return;
    int off = e->mode == GM_KNN_FILTER_OFF;
    if (!off) item_gram(e, w, it);
    const double *rr = e->rad[0], *rf = e->rad[1];
    gm_cmp cmp = e->cmp;
    size_t nx = 0, c1 = it->c0 + it->wd;
    double *L = w->L, *U = w->U, *gate = w->gate;
    rowscan rs;
    for (size_t ii = 0; ii < it->mb; ii++) {
        size_t i = it->r0 + ii, nh = 0;
        int in = w->rin[i];
        double ri = rr[i];
        if (off) {
            for (size_t j = it->c0; j < c1; j++)
                if (!in || gate[j] > 0) w->hit[nh++] = (uint32_t)j;
        } else {
            rowscan_set(&rs, &e->s[0], i, &e->s[1], it->c0, w->G + ii * CR_CB);
            rs.rowthr = ri;
            rs.gate = gate;
            rs.colthr = in ? NULL : rf;
            nh = screen(&rs, it->c0, c1, L, U, w->hit);
        }
        for (size_t h = 0; h < nh; h++) {
            size_t j = w->hit[h];
            int fj = gate[j] <= 0;
            if (in && fj) continue;
            double rj = rf[j];
            int need_i = !in, need_j = !fj; /* still open: i in ball(j), j in ball(i) */
            if (!off) {
                if (need_i && L[j] > rj) need_i = 0; /* certainly outside */
                if (need_j && L[j] > ri) need_j = 0;
                if (need_i && U[j] < rj && rj > 0) need_i = 0, in = 1; /* certainly inside */
                if (need_j && U[j] < ri && ri > 0) need_j = 0, fj = 1;
            }
            if (need_i || need_j) {
                double v = exact_d2(e, 0, i, 1, j);
                nx++;
                if (need_i && inside(v, rj, cmp)) in = 1;
                if (need_j && inside(v, ri, cmp)) fj = 1;
            }
            if (fj) gate[j] = -1;
        }
        w->rin[i] = (uint8_t)in;
    }
    w->n_exact += nx;
}

static void run_items(ceng *e, const citem *items, size_t m) {
    const gm_knn_config *c = e->cfg;
#pragma omp parallel num_threads(e->nthr)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        cthr *w = &e->t[tid];
#pragma omp for schedule(dynamic, 1)
        for (long q = 0; q < (long)m; q++) {
            if (items[q].s < 2)
                run_sym(e, w, &items[q]);
            else
                run_cross(e, w, &items[q]);
            size_t dn;
#pragma omp atomic capture
            dn = ++e->done;
            if (tid == 0 && c->progress) c->progress(e->stage, (double)dn / (double)e->total, c->progress_ctx);
        }
    }
}

/* Upper-triangle items of set s: row blocks of CR_RB against column tiles of CR_CB. */
static size_t sym_items(size_t n, int s, citem *out) {
    size_t m = 0;
    for (size_t c0 = 0; c0 < n; c0 += CR_CB) {
        size_t wd = n - c0 < CR_CB ? n - c0 : CR_CB;
        for (size_t r0 = 0; r0 < c0 + wd; r0 += CR_RB) {
            size_t mb = n - r0 < CR_RB ? n - r0 : CR_RB;
            if (r0 + 1 >= c0 + wd) continue; /* no pair j > i */
            if (out) out[m] = (citem){s, r0, mb, c0, wd};
            m++;
        }
    }
    return m;
}

/* k-th smallest of the per-thread lists of set s into tk (n). */
static int merge_kth(const ceng *e, int s, double *tk) {
    size_t n = e->s[s].n, k = e->k;
    double *buf = gm_malloc(k * sizeof(double));
    if (!buf) return GM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, e->t[0].top[s] + i * k, k * sizeof(double));
        for (int t = 1; t < e->nthr; t++)
            for (size_t u = 0; u < k; u++) topk_insert(buf, k, e->t[t].top[s][i * k + u]);
        tk[i] = buf[k - 1];
    }
    gm_free(buf);
    return GM_OK;
}

/* Filter on: exact radii of set s from the recorded pairs (file header). tk holds T* on entry, the radii
 * on return. */
static int resolve_radii(ceng *e, int s, double *tk, size_t *n_exact) {
    size_t total = 0, k = e->k, n = e->s[s].n;
    for (int t = 0; t < e->nthr; t++) total += e->t[t].np;
    size_t *off = gm_malloc(((size_t)e->nthr + 1) * sizeof(size_t));
    double *dv = gm_malloc((total ? total : 1) * sizeof(double)), *top = gm_malloc(n * k * sizeof(double));
    int rc = GM_ENOMEM;
    if (!off || !dv || !top) goto done;
    off[0] = 0;
    for (int t = 0; t < e->nthr; t++) off[t + 1] = off[t] + e->t[t].np;
    size_t nx = 0;
#pragma omp parallel for schedule(dynamic, 256) reduction(+ : nx)
    for (long q = 0; q < (long)total; q++) {
        int t = 0;
        while (off[t + 1] <= (size_t)q) t++;
        const cpair *p = &e->t[t].pairs[(size_t)q - off[t]];
        if (p->L <= tk[p->i] || p->L <= tk[p->j]) {
            dv[q] = exact_d2(e, s, p->i, s, p->j);
            nx++;
        } else {
            dv[q] = NAN;
        }
    }
    *n_exact += nx;
    for (size_t i = 0; i < n * k; i++) top[i] = INFINITY;
    for (int t = 0; t < e->nthr; t++)
        for (size_t p = 0; p < e->t[t].np; p++) {
            double v = dv[off[t] + p];
            if (isnan(v)) continue;
            const cpair *pr = &e->t[t].pairs[p];
            topk_insert(top + (size_t)pr->i * k, k, v);
            topk_insert(top + (size_t)pr->j * k, k, v);
        }
    for (size_t i = 0; i < n; i++) tk[i] = top[i * k + k - 1];
    rc = GM_OK;
done:
    gm_free(off);
    gm_free(dv);
    gm_free(top);
    return rc;
}

static void eng_free(ceng *e) {
    for (int t = 0; e->t && t < e->nthr; t++) {
        cthr *w = &e->t[t];
        gm_free(w->G_m);
        gm_free(w->top[0]);
        gm_free(w->top[1]);
        gm_free(w->pairs);
        gm_free(w->thr[0]);
        gm_free(w->thr[1]);
        gm_free(w->L);
        gm_free(w->U);
        gm_free(w->hit);
        gm_free(w->rin);
        gm_free(w->gate);
    }
    gm_free(e->t);
    cset_free(&e->s[0]);
    cset_free(&e->s[1]);
}

static size_t test_pair_cap; /* gm_knn_cert_test_pair_cap */

void gm_knn_cert_test_pair_cap(size_t cap) { test_pair_cap = cap; }

/* One sweep of the upper-triangle items of set s (fresh top-k lists and pair records). */
static int sym_sweep(ceng *e, int s) {
    size_t n = e->s[s].n, k = e->k;
    for (int t = 0; t < e->nthr; t++) {
        cthr *w = &e->t[t];
        if (!w->top[s] && !(w->top[s] = gm_malloc(n * k * sizeof(double)))) return GM_ENOMEM;
        if (!w->thr[s] && !(w->thr[s] = gm_malloc(n * sizeof(double)))) return GM_ENOMEM;
        for (size_t i = 0; i < n * k; i++) w->top[s][i] = INFINITY;
        for (size_t i = 0; i < n; i++) w->thr[s][i] = INFINITY;
        w->np = 0;
        w->full = 0;
        w->n_exact = 0;
    }
    size_t m = sym_items(n, s, NULL);
    citem *it = gm_malloc((m ? m : 1) * sizeof(citem));
    if (!it) return GM_ENOMEM;
    sym_items(n, s, it);
    e->stage = "k-NN radii";
    e->total = m;
    e->done = 0;
    run_items(e, it, m);
    gm_free(it);
    for (int t = 0; t < e->nthr; t++)
        if (e->t[t].oom) return GM_ENOMEM;
    return GM_OK;
}

static int any_full(const ceng *e) {
    int f = 0;
    for (int t = 0; t < e->nthr; t++) f |= e->t[t].full;
    return f;
}

/* Radii of set s into rad. When a thread's pair records reach pair_cap (many near-ties), the set is swept
 * again recording only the pairs with L <= T* (known from the first sweep); if that still does not fit,
 * once more without the filter (every pair exact, no records). */
static int radii_pass(ceng *e, int s, double *rad, gm_knn_cert_stats *st) {
    int rc = sym_sweep(e, s);
    if (!rc) rc = merge_kth(e, s, rad);
    if (rc || e->mode == GM_KNN_FILTER_OFF) return rc;
    if (any_full(e)) {
        st->resweeps++;
        e->fixed = rad; /* T*: unchanged by the second sweep, which only records */
        rc = sym_sweep(e, s);
        e->fixed = NULL;
        if (rc) return rc;
        if (any_full(e)) {
            st->exact_sweeps++;
            int mode = e->mode;
            e->mode = GM_KNN_FILTER_OFF;
            rc = sym_sweep(e, s);
            e->mode = mode;
            if (!rc) rc = merge_kth(e, s, rad);
            for (int t = 0; t < e->nthr; t++) st->exact_radii += e->t[t].n_exact;
            return rc;
        }
    }
    for (int t = 0; t < e->nthr; t++) st->recorded += e->t[t].np;
    return resolve_radii(e, s, rad, &st->exact_radii);
}

int gm_knn_pr_cert(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, int filter,
                   gm_knn_result *out, gm_knn_cert_stats *stats) {
    gm_knn_cert_stats st0;
    gm_knn_cert_stats *st = stats ? stats : &st0;
    memset(st, 0, sizeof *st);
    memset(out, 0, sizeof *out);
    GM_ASSERT(real->d == fake->d && cfg->k_pr >= 1 && cfg->k_pr < real->n && cfg->k_pr < fake->n);
    ceng e;
    memset(&e, 0, sizeof e);
    e.d = real->d;
    e.k = cfg->k_pr;
    e.cmp = cfg->cmp_pr;
    e.cfg = cfg;
#ifdef _OPENMP
    e.nthr = omp_get_max_threads();
#else
    e.nthr = 1;
#endif
    size_t nr = real->n, nf = fake->n;
    int rc = GM_ENOMEM;
    double t0 = gm_time_now();
    if (!(e.t = gm_calloc((size_t)e.nthr, sizeof(cthr)))) goto done;
    if ((rc = cset_rows(&e.s[0], real)) || (rc = cset_rows(&e.s[1], fake))) goto done;
    if ((rc = eng_prepare(&e, filter))) goto done;
    e.pair_cap = test_pair_cap ? test_pair_cap : 64 * (nr > nf ? nr : nf) + 1024;
    rc = GM_ENOMEM;
    for (int t = 0; t < e.nthr; t++) {
        cthr *w = &e.t[t];
        if (e.mode != GM_KNN_FILTER_OFF && !(w->G = calloc_aligned((size_t)CR_RB * CR_CB * sizeof(float), &w->G_m)))
            goto done;
        w->L = gm_malloc((nr > nf ? nr : nf) * sizeof(double));
        w->U = gm_malloc((nr > nf ? nr : nf) * sizeof(double));
        w->hit = gm_malloc(CR_CB * sizeof(uint32_t));
        if (!w->L || !w->U || !w->hit || !(w->rin = gm_calloc(nr, 1)) || !(w->gate = gm_malloc(nf * sizeof(double))))
            goto done;
        for (size_t j = 0; j < nf; j++) w->gate[j] = 1;
    }
    st->mode = e.mode;
    double t1 = gm_time_now();
    st->prep_s = t1 - t0;
    out->n_real = nr;
    out->n_fake = nf;
    out->fake_in_real = gm_calloc(nf, 1);
    out->real_in_fake = gm_calloc(nr, 1);
    out->radius_real_pr = gm_malloc(nr * sizeof(double));
    out->radius_fake_pr = gm_malloc(nf * sizeof(double));
    if (!out->fake_in_real || !out->real_in_fake || !out->radius_real_pr || !out->radius_fake_pr) goto done;
    if ((rc = radii_pass(&e, 0, out->radius_real_pr, st))) goto done;
    if ((rc = radii_pass(&e, 1, out->radius_fake_pr, st))) goto done;
    double t2 = gm_time_now();
    st->radii_s = t2 - t1;
    e.rad[0] = out->radius_real_pr;
    e.rad[1] = out->radius_fake_pr;
    size_t nb = (nr + CR_RB - 1) / CR_RB, nt = (nf + CR_CB - 1) / CR_CB, q = 0;
    citem *it = gm_malloc(nb * nt * sizeof(citem));
    rc = GM_ENOMEM;
    if (!it) goto done;
    for (size_t b = 0; b < nb; b++)
        for (size_t J = 0; J < nt; J++) {
            size_t r0 = b * CR_RB, c0 = J * CR_CB;
            it[q++] = (citem){2, r0, nr - r0 < CR_RB ? nr - r0 : CR_RB, c0, nf - c0 < CR_CB ? nf - c0 : CR_CB};
        }
    for (int t = 0; t < e.nthr; t++) e.t[t].n_exact = 0;
    e.stage = "k-NN real x fake";
    e.total = q;
    e.done = 0;
    run_items(&e, it, q);
    gm_free(it);
    size_t a = 0, b = 0;
    for (int t = 0; t < e.nthr; t++) st->exact_cross += e.t[t].n_exact;
    for (size_t j = 0; j < nf; j++) {
        int f = 0;
        for (int t = 0; t < e.nthr; t++) f |= e.t[t].gate[j] <= 0;
        out->fake_in_real[j] = (uint8_t)f;
        a += (size_t)f;
    }
    for (size_t i = 0; i < nr; i++) {
        int f = 0;
        for (int t = 0; t < e.nthr; t++) f |= e.t[t].rin[i];
        out->real_in_fake[i] = (uint8_t)f;
        b += (size_t)f;
    }
    out->precision = (double)a / (double)nf;
    out->recall = (double)b / (double)nr;
    double sm = out->precision + out->recall;
    out->f1 = 2 * out->precision * out->recall / (sm > 1e-5 ? sm : 1e-5);
    st->cross_s = gm_time_now() - t2;
    for (int t = 0; t < e.nthr; t++) st->gram_s += e.t[t].gram_s;
    rc = GM_OK;
done:
    eng_free(&e);
    if (rc) gm_knn_result_free(out);
    return rc;
}
