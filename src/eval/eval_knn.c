/* SPDX-License-Identifier: MIT */
/* eval_knn.c — tiled k-NN engine for k-NN precision/recall, density/coverage and realism.
 *
 * Work is cut into items: a block of `tile` rows against a column tile of `tile` rows. Pass 1 (radii) runs
 * the upper-triangle items of the real×real and fake×fake distances, each distance computed once and used
 * for its row and its column; the diagonal item of a tile is one SYRK (its upper triangle only, half the
 * flops of a GEMM). Pass 2 runs the real×fake items. Each item is one single-threaded GEMM/SYRK (OpenBLAS
 * runs single-threaded inside our parallel region) followed by a scan of the Gram block, one row at a time:
 * D = ||a||² + ||b||² − 2 a·b in double, clamped at 0, fed to per-thread top-k lists / flags / counts.
 * P/R alone (no density/coverage/realism, no fp16 emulation) skips a real×fake item whose rows and columns
 * this thread has already all found inside a ball: its flags could only be ORed with 1 again. Items are scheduled dynamically
 * (a descheduled thread on a shared machine does not stall the other), and the per-thread accumulators are
 * merged at the end: a radius is the k-th smallest value of a multiset, flags are ORs, counts are integer
 * sums, minima/maxima are order-free, and every item's GEMM has a shape fixed by (n, tile) — so the results
 * are bitwise the same for any thread count, any schedule and any batching of the streaming API.
 * Memory: O((n_real + n_fake)·k·threads + threads·(tile² + 2·tile·d)), the tile cut to the larger row count in
 * memory (gm_knn, gm_knn_radii; a stream does not know its rows and keeps the tile); never an n×n matrix.
 * Thread safety: re-entrant; a gm_knn_stream must not be used by two threads at once. */
#include "eval_internal.h"
#include "eval_knn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

gm_knn_config gm_knn_config_default(void) {
    gm_knn_config c;
    memset(&c, 0, sizeof c);
    c.k_pr = 3;
    c.cmp_pr = GM_CMP_LE;
    c.k_dc = 5;
    c.cmp_dc = GM_CMP_LT;
    c.want_pr = 1;
    c.want_dc = 1;
    c.realism = GM_REALISM_NONE;
    c.tile = 1024;
    c.f32 = 0;
    c.fp16 = 0;
    return c;
}

void gm_knn_result_free(gm_knn_result *r) {
    if (!r) return;
    gm_free(r->fake_in_real);
    gm_free(r->real_in_fake);
    gm_free(r->fake_in_real_dc);
    gm_free(r->real_in_fake_dc);
    gm_free(r->density_count);
    gm_free(r->covered);
    gm_free(r->realism);
    gm_free(r->radius_real_pr);
    gm_free(r->radius_fake_pr);
    gm_free(r->radius_real_dc);
    gm_free(r->radius_fake_dc);
    memset(r, 0, sizeof *r);
}

/* ---- binary16 emulation --------------------------------------------------------------------------- */

double gm_round_half(double x) {
    if (!isfinite(x) || x == 0) return x;
    double a = fabs(x), q;
    if (a >= 65520.0) return copysign((double)INFINITY, x); /* half-way to 2^16 ties to even = overflow */
    if (a < 0x1p-14) {
        q = 0x1p-24; /* subnormal quantum */
    } else {
        int e;
        (void)frexp(a, &e);
        q = ldexp(1.0, e - 11); /* 11 significant bits */
    }
    return copysign(nearbyint(a / q) * q, x); /* a / q is exact; nearbyint rounds half to even */
}

/* ---- helpers ------------------------------------------------------------------------------------- */

static inline double realism_term(gm_realism_kind kind, double r2, double thr, double d2) {
    if (kind == GM_REALISM_KYNKAAT) return r2 <= thr ? r2 / (d2 + 1e-5) : 0.0;
    if (!(r2 < thr)) return 0.0;
    return d2 > 0 ? sqrt(r2) / sqrt(d2) : (double)INFINITY;
}

/* Rows [r0, r0+cnt) of x in the compute precision, rounded to binary16 if fp16. */
static void load_rows(const gm_feats *x, size_t r0, size_t cnt, int f32, int fp16, void *dst) {
    size_t m = cnt * x->d;
    if (f32) {
        float *o = dst;
        gm_feats_rows_f32(x, r0, cnt, o);
        if (fp16)
            for (size_t i = 0; i < m; i++) o[i] = (float)gm_round_half((double)o[i]);
    } else {
        double *o = dst;
        gm_feats_rows_f64(x, r0, cnt, o);
        if (fp16)
            for (size_t i = 0; i < m; i++) o[i] = gm_round_half(o[i]);
    }
}

/* Element (i, j) of x in the compute precision, as a double. */
static inline double elem(const gm_feats *x, size_t i, size_t j, int f32, int fp16) {
    size_t o = i * x->d + j;
    double v = x->is_f64 ? ((const double *)x->data)[o] : (double)((const float *)x->data)[o];
    if (f32 && x->is_f64) v = (double)(float)v;
    return fp16 ? gm_round_half(v) : v;
}

/* Squared norms (double) of rows [r0, r0+cnt) as the GEMM sees them (rounded to binary16 if fp16). Each
 * row is summed in column order; four rows advance together so that their four chains overlap. */
static void row_norms(const gm_feats *x, size_t r0, size_t cnt, int f32, int fp16, double *out) {
    size_t d = x->d;
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
    for (long q = 0; q < (long)((cnt + 3) / 4); q++) {
        size_t i0 = r0 + 4 * (size_t)q, nq = r0 + cnt - i0 < 4 ? r0 + cnt - i0 : 4;
        double s[4] = {0, 0, 0, 0};
        if (!x->is_f64 && !fp16 && nq == 4) { /* float rows: the common case, without the per-element tests */
            const float *p = (const float *)x->data + i0 * d;
            for (size_t j = 0; j < d; j++)
                for (size_t u = 0; u < 4; u++) s[u] += (double)p[u * d + j] * (double)p[u * d + j];
        } else {
            for (size_t j = 0; j < d; j++)
                for (size_t u = 0; u < nq; u++) {
                    double v = elem(x, i0 + u, j, f32, fp16);
                    s[u] += v * v;
                }
        }
        for (size_t u = 0; u < nq; u++) out[i0 - r0 + u] = s[u];
    }
}

static void gemm_block(int f32, size_t m, size_t n, size_t k, const void *A, const void *B, void *C) {
#ifdef GM_HAVE_BLAS
    if (f32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, A, (int)k, B, (int)k, 0.0f,
                    C, (int)n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0, A, (int)k, B, (int)k, 0.0,
                    C, (int)n);
#else
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (f32) {
                const float *a = (const float *)A + i * k, *b = (const float *)B + j * k;
                float s = 0;
                for (size_t t = 0; t < k; t++) s += a[t] * b[t];
                ((float *)C)[i * n + j] = s;
            } else {
                const double *a = (const double *)A + i * k, *b = (const double *)B + j * k;
                double s = 0;
                for (size_t t = 0; t < k; t++) s += a[t] * b[t];
                ((double *)C)[i * n + j] = s;
            }
        }
#endif
}

/* Upper triangle (j >= i) of A Aᵀ (m x m): the diagonal item of a tile. */
static void syrk_block(int f32, size_t m, size_t k, const void *A, void *C) {
#ifdef GM_HAVE_BLAS
    if (f32)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)k, 1.0f, A, (int)k, 0.0f, C, (int)m);
    else
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)k, 1.0, A, (int)k, 0.0, C, (int)m);
#else
    gemm_block(f32, m, m, k, A, A, C);
#endif
}

/* ---- engine -------------------------------------------------------------------------------------- */

typedef struct {
    void *A, *B, *G;  /* tile x d, tile x d (conversion), tile x tile (Gram) */
    double *D;        /* one row of squared distances (tile) */
    double *top[2];   /* per-thread top-k lists of each set (n x kmax, ascending, INF-filled) */
    size_t cap[2];
    double *mind, *realism;             /* cross pass: nearest fake per real; realism per fake */
    uint8_t *rin_pr, *rin_dc, *fin_pr;  /* real in manifold(fake) (k_pr, k_dc); fake in manifold(real) */
    uint32_t *cnt;                      /* density counts per fake */
    int overflow;                       /* fp16: some distance rounded to infinity */
} knn_thr;

typedef struct {
    gm_feats x[2];   /* real, fake */
    double *nrm[2];  /* squared row norms (borrowed) */
    size_t n[2];     /* rows used (<= x[s].n) */
    size_t d, tile, kmax;
    int f32, fp16;
    int nthr;
    knn_thr *t;
    const gm_knn_config *cfg;
    /* cross pass inputs */
    const double *rad_real_pr, *rad_real_dc, *rad_fake_pr, *rad_fake_dc, *rrad;
    double rthr;
    size_t done, total; /* progress */
    const char *stage;
} knn_eng;

typedef struct {
    int s; /* 0, 1: set s against itself (upper triangle); 2: real rows x fake columns */
    size_t r0, mb, c0, c1;
} knn_item;

static int eng_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* nmax: the larger row count when both sets are known (in memory), else 0 (streaming). A tile beyond it is
 * cut to it: every item is then the same single block (same GEMM shapes, same bits) without tile² buffers
 * sized by a tile far beyond the data (--tile 65536 on 40 rows). */
static int eng_init(knn_eng *e, size_t d, const gm_knn_config *cfg, size_t nmax) {
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->d = d;
    e->tile = cfg->tile ? cfg->tile : 1024;
    if (nmax && e->tile > nmax) e->tile = nmax;
    e->kmax = 0;
    if (cfg->want_pr) e->kmax = cfg->k_pr;
    if (cfg->want_dc && cfg->k_dc > e->kmax) e->kmax = cfg->k_dc;
    e->f32 = cfg->f32;
    e->fp16 = cfg->fp16;
    e->nthr = eng_threads();
    size_t es = e->f32 ? sizeof(float) : sizeof(double);
    /* tile x tile and tile x d buffers: a huge tile fails here instead of wrapping the size (heap overrun) */
    if (e->tile > SIZE_MAX / es / e->tile || e->tile > SIZE_MAX / es / (d ? d : 1))
        return gm_set_error(GM_ENOMEM, "k-NN: a distance tile of %zu rows does not fit in memory", e->tile);
    e->t = gm_calloc((size_t)e->nthr, sizeof(knn_thr));
    if (!e->t) return GM_ENOMEM;
    for (int t = 0; t < e->nthr; t++) {
        knn_thr *w = &e->t[t];
        w->A = gm_malloc(e->tile * d * es);
        w->B = gm_malloc(e->tile * d * es);
        w->G = gm_malloc(e->tile * e->tile * es);
        w->D = gm_malloc(e->tile * sizeof(double));
        if (!w->A || !w->B || !w->G || !w->D) return GM_ENOMEM;
    }
    return GM_OK;
}

static void eng_free_cross(knn_eng *e) {
    for (int t = 0; e->t && t < e->nthr; t++) {
        knn_thr *w = &e->t[t];
        gm_free(w->mind);
        gm_free(w->realism);
        gm_free(w->rin_pr);
        gm_free(w->rin_dc);
        gm_free(w->fin_pr);
        gm_free(w->cnt);
        w->mind = w->realism = NULL;
        w->rin_pr = w->rin_dc = w->fin_pr = NULL;
        w->cnt = NULL;
    }
}

static void eng_free(knn_eng *e) {
    if (!e->t) return;
    eng_free_cross(e);
    for (int t = 0; t < e->nthr; t++) {
        knn_thr *w = &e->t[t];
        gm_free(w->A);
        gm_free(w->B);
        gm_free(w->G);
        gm_free(w->D);
        gm_free(w->top[0]);
        gm_free(w->top[1]);
    }
    gm_free(e->t);
    e->t = NULL;
}

/* Grow the per-thread top-k lists of set s to n rows (new rows INF). */
static int eng_reserve(knn_eng *e, int s, size_t n) {
    for (int t = 0; t < e->nthr; t++) {
        knn_thr *w = &e->t[t];
        if (w->cap[s] >= n) continue;
        size_t cap = w->cap[s] ? w->cap[s] : 1024;
        while (cap < n) cap += cap / 2 + 1;
        double *p = gm_realloc(w->top[s], cap * e->kmax * sizeof(double));
        if (!p) return GM_ENOMEM;
        for (size_t i = w->cap[s] * e->kmax; i < cap * e->kmax; i++) p[i] = INFINITY;
        w->top[s] = p;
        w->cap[s] = cap;
    }
    return GM_OK;
}

/* Pointer to rows [r0, r0+cnt) of x in the compute precision: the data itself when it already is, else a
 * converted copy in buf. */
static const void *rows_ptr(const knn_eng *e, const gm_feats *x, size_t r0, size_t cnt, void *buf) {
    if (!e->fp16 && (x->is_f64 != 0) == (e->f32 == 0))
        return (const char *)x->data + r0 * x->d * (x->is_f64 ? sizeof(double) : sizeof(float));
    load_rows(x, r0, cnt, e->f32, e->fp16, buf);
    return buf;
}

/* Squared distances of row ii of the Gram block (width wd) to columns [j0, wd): D[j] = max(na + nb[j] −
 * 2 g, 0) in double (a NaN becomes 0), rounded to binary16 under fp16. */
static void dist_row(const knn_eng *e, knn_thr *w, size_t ii, size_t wd, size_t j0, double na, const double *nb) {
    double *D = w->D;
    if (e->f32) {
        const float *g = (const float *)w->G + ii * wd;
        for (size_t j = j0; j < wd; j++) {
            double v = na + nb[j] - 2.0 * (double)g[j];
            D[j] = v > 0 ? v : 0;
        }
    } else {
        const double *g = (const double *)w->G + ii * wd;
        for (size_t j = j0; j < wd; j++) {
            double v = na + nb[j] - 2.0 * g[j];
            D[j] = v > 0 ? v : 0;
        }
    }
    if (e->fp16)
        for (size_t j = j0; j < wd; j++) {
            D[j] = gm_round_half(D[j]);
            if (isinf(D[j])) w->overflow = 1;
        }
}

/* P/R alone: every row and column of the item already inside a ball for this thread. */
static int pr_item_done(const knn_thr *w, const knn_item *it) {
    for (size_t i = it->r0; i < it->r0 + it->mb; i++)
        if (!w->rin_pr[i]) return 0;
    for (size_t j = it->c0; j < it->c1; j++)
        if (!w->fin_pr[j]) return 0;
    return 1;
}

static void run_item(knn_eng *e, knn_thr *w, const knn_item *it) {
    const gm_knn_config *c = e->cfg;
    int sa = it->s == 2 ? 0 : it->s, sb = it->s == 2 ? 1 : it->s;
    /* not under fp16: a skipped item could hide the overflow that switches to the fallback */
    int pr_only = it->s == 2 && c->want_pr && !c->want_dc && !w->realism && !e->fp16;
    if (pr_only && pr_item_done(w, it)) return;
    size_t wd = it->c1 - it->c0, mb = it->mb, k = e->kmax;
    const void *A = rows_ptr(e, &e->x[sa], it->r0, mb, w->A);
    if (it->s < 2 && it->r0 == it->c0) {
        syrk_block(e->f32, mb, e->d, A, w->G); /* diagonal item: mb == wd */
    } else {
        const void *B = rows_ptr(e, &e->x[sb], it->c0, wd, w->B);
        gemm_block(e->f32, mb, wd, e->d, A, B, w->G);
    }
    const double *na = e->nrm[sa], *nb = e->nrm[sb] + it->c0;
    const double *D = w->D;
    if (it->s < 2) {
        double *top = w->top[it->s];
        for (size_t ii = 0; ii < mb; ii++) {
            size_t i = it->r0 + ii;
            double *rt = top + i * k;
            size_t j0 = i >= it->c0 ? i + 1 - it->c0 : 0;
            dist_row(e, w, ii, wd, j0, na[i], nb);
            for (size_t j = j0; j < wd; j++) {
                double v = D[j];
                if (v < rt[k - 1]) topk_insert(rt, k, v);
                double *ct = top + (it->c0 + j) * k;
                if (v < ct[k - 1]) topk_insert(ct, k, v);
            }
        }
        return;
    }
    const double *rfp = c->want_pr ? e->rad_fake_pr + it->c0 : NULL, *rfd = c->want_dc ? e->rad_fake_dc + it->c0 : NULL;
    for (size_t ii = 0; ii < mb; ii++) {
        size_t i = it->r0 + ii;
        dist_row(e, w, ii, wd, 0, na[i], nb);
        if (pr_only) {
            uint8_t *fin = w->fin_pr + it->c0;
            int in_pr = w->rin_pr[i];
            double rp = e->rad_real_pr[i];
            for (size_t j = 0; j < wd; j++) {
                in_pr |= inside(D[j], rfp[j], c->cmp_pr);
                fin[j] |= (uint8_t)inside(D[j], rp, c->cmp_pr);
            }
            w->rin_pr[i] = (uint8_t)in_pr;
            continue;
        }
        double mn = w->mind[i];
        int in_pr = c->want_pr ? w->rin_pr[i] : 1, in_dc = c->want_dc ? w->rin_dc[i] : 1;
        double rp = c->want_pr ? e->rad_real_pr[i] : 0, rd = c->want_dc ? e->rad_real_dc[i] : 0;
        double rr = w->realism ? e->rrad[i] : 0;
        for (size_t jj = 0; jj < wd; jj++) {
            size_t j = it->c0 + jj;
            double v = D[jj];
            if (v < mn) mn = v;
            if (c->want_pr) {
                if (!in_pr && inside(v, rfp[jj], c->cmp_pr)) in_pr = 1;
                if (inside(v, rp, c->cmp_pr)) w->fin_pr[j] = 1;
            }
            if (c->want_dc) {
                if (!in_dc && inside(v, rfd[jj], c->cmp_dc)) in_dc = 1;
                if (inside(v, rd, c->cmp_dc)) w->cnt[j]++;
            }
            if (w->realism) {
                double t = realism_term(c->realism, rr, e->rthr, v);
                if (t > w->realism[j]) w->realism[j] = t;
            }
        }
        w->mind[i] = mn;
        if (c->want_pr) w->rin_pr[i] = (uint8_t)in_pr;
        if (c->want_dc) w->rin_dc[i] = (uint8_t)in_dc;
    }
}

/* Run items in one parallel region, dynamically scheduled; progress from the calling thread only. */
static void run_items(knn_eng *e, const knn_item *items, size_t m) {
    const gm_knn_config *c = e->cfg;
    size_t done0 = e->done;
#pragma omp parallel num_threads(e->nthr)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        knn_thr *w = &e->t[tid];
#pragma omp for schedule(dynamic, 1)
        for (long q = 0; q < (long)m; q++) {
            run_item(e, w, &items[q]);
            size_t dn;
#pragma omp atomic capture
            dn = ++e->done;
            if (tid == 0 && c->progress) c->progress(e->stage, (double)dn / (double)e->total, c->progress_ctx);
        }
    }
    e->done = done0 + m;
}

/* Upper-triangle items of set s whose column tile is tile index J (rows [0, min(n, (J+1)·tile))). */
static size_t sym_items_for_tile(const knn_eng *e, int s, size_t J, size_t n, knn_item *out) {
    size_t j0 = J * e->tile, j1 = j0 + e->tile < n ? j0 + e->tile : n, m = 0;
    for (size_t r0 = 0; r0 < j1; r0 += e->tile) {
        size_t mb = n - r0 < e->tile ? n - r0 : e->tile;
        size_t c0 = r0 > j0 ? r0 : j0;
        if (r0 + 1 >= j1) continue; /* no pair j > i */
        if (out) {
            out[m].s = s;
            out[m].r0 = r0;
            out[m].mb = mb;
            out[m].c0 = c0;
            out[m].c1 = j1;
        }
        m++;
    }
    return m;
}

static size_t sym_count(const knn_eng *e, size_t n, size_t J0, size_t J1) {
    size_t m = 0;
    for (size_t J = J0; J < J1; J++) m += sym_items_for_tile(e, 0, J, n, NULL);
    return m;
}

/* Run the sym items of tiles [J0, J1) of set s (n = the set's final or current row count). */
static int run_sym(knn_eng *e, int s, size_t n, size_t J0, size_t J1) {
    size_t m = sym_count(e, n, J0, J1);
    if (m == 0) return GM_OK;
    knn_item *it = gm_malloc(m * sizeof(knn_item));
    if (!it) return GM_ENOMEM;
    size_t q = 0;
    for (size_t J = J0; J < J1; J++) q += sym_items_for_tile(e, s, J, n, it + q);
    run_items(e, it, m);
    gm_free(it);
    return GM_OK;
}

/* Merge the per-thread top-k lists of set s into out (n x kmax). */
static void merge_top(const knn_eng *e, int s, size_t n, double *out) {
    size_t k = e->kmax;
    memcpy(out, e->t[0].top[s], n * k * sizeof(double));
    for (int t = 1; t < e->nthr; t++) {
        const double *p = e->t[t].top[s];
        for (size_t i = 0; i < n * k; i++) topk_insert(out + (i / k) * k, k, p[i]);
    }
}

/* median of v (np.percentile(v, 50)): NaN on ENOMEM */
static double median_of(const double *v, size_t n) {
    double *s = gm_malloc(n * sizeof(double));
    if (!s) return NAN;
    memcpy(s, v, n * sizeof(double));
    gm_sort_f64(s, n);
    double m = gm_median_sorted(s, n);
    gm_free(s);
    return m;
}

/* Allocate the result arrays. */
static int alloc_result(gm_knn_result *r, const gm_knn_config *c, size_t nr, size_t nf) {
    r->n_real = nr;
    r->n_fake = nf;
    int ok = 1;
    if (c->want_pr) {
        ok &= !!(r->fake_in_real = gm_calloc(nf, 1)) & !!(r->real_in_fake = gm_calloc(nr, 1));
        ok &= !!(r->radius_real_pr = gm_malloc(nr * sizeof(double))) &
              !!(r->radius_fake_pr = gm_malloc(nf * sizeof(double)));
    }
    if (c->want_dc) {
        ok &= !!(r->fake_in_real_dc = gm_calloc(nf, 1)) & !!(r->real_in_fake_dc = gm_calloc(nr, 1));
        ok &= !!(r->density_count = gm_calloc(nf, sizeof(uint32_t))) & !!(r->covered = gm_calloc(nr, 1));
        ok &= !!(r->radius_real_dc = gm_malloc(nr * sizeof(double))) &
              !!(r->radius_fake_dc = gm_malloc(nf * sizeof(double)));
    }
    if (c->realism != GM_REALISM_NONE) ok &= !!(r->realism = gm_malloc(nf * sizeof(double)));
    return ok ? GM_OK : GM_ENOMEM;
}

static int check_k(const gm_knn_config *c, size_t nr, size_t nf) {
    if (!c->want_pr && !c->want_dc) GM_FAIL(GM_EINVAL, "k-NN: nothing requested");
    if (c->realism == GM_REALISM_KYNKAAT && !c->want_pr) GM_FAIL(GM_EINVAL, "k-NN: kynkaat realism needs P/R");
    if (c->realism == GM_REALISM_DGM && !c->want_dc) GM_FAIL(GM_EINVAL, "k-NN: dgm-eval realism needs PRDC");
    size_t nmin = nr < nf ? nr : nf;
    size_t kk[2] = {c->want_pr ? c->k_pr : 1, c->want_dc ? c->k_dc : 1};
    for (int i = 0; i < 2; i++)
        if (kk[i] == 0 || kk[i] >= nmin)
            GM_FAIL(GM_EINVAL, "k-NN: k = %zu must be in 1..n-1 (sets have %zu and %zu rows)", kk[i], nr, nf);
    return GM_OK;
}

static int check_cfg(const gm_feats *real, const gm_feats *fake, const gm_knn_config *c) {
    int rc = gm_feats_check_pair(real, fake, 2, "k-NN");
    if (rc) return rc;
    return check_k(c, real->n, fake->n);
}

/* Per-sample outputs -> summary numbers. */
static void finish_result(gm_knn_result *r, const gm_knn_config *c, const double *mind) {
    size_t nr = r->n_real, nf = r->n_fake;
    if (c->want_pr) {
        size_t a = 0, b = 0;
        for (size_t j = 0; j < nf; j++) a += r->fake_in_real[j];
        for (size_t i = 0; i < nr; i++) b += r->real_in_fake[i];
        r->precision = (double)a / (double)nf;
        r->recall = (double)b / (double)nr;
        double s = r->precision + r->recall;
        r->f1 = 2 * r->precision * r->recall / (s > 1e-5 ? s : 1e-5);
    }
    if (c->want_dc) {
        size_t a = 0, b = 0, cov = 0;
        double dens = 0;
        for (size_t j = 0; j < nf; j++) {
            r->fake_in_real_dc[j] = r->density_count[j] > 0;
            a += r->fake_in_real_dc[j];
            dens += (double)r->density_count[j];
        }
        for (size_t i = 0; i < nr; i++) {
            r->covered[i] = (uint8_t)inside(mind[i], r->radius_real_dc[i], c->cmp_dc);
            b += r->real_in_fake_dc[i];
            cov += r->covered[i];
        }
        r->dc_precision = (double)a / (double)nf;
        r->dc_recall = (double)b / (double)nr;
        r->density = dens / ((double)c->k_dc * (double)nf);
        r->coverage = (double)cov / (double)nr;
    }
}

/* Realism weight of real point i: r_i² (kynkaat, used as r²/(d²+1e-5)) or r_i (dgm, r/d); eligible when
 * its radius is <= (kynkaat) / < (dgm) the median radius. */
static int realism_setup(const gm_knn_result *r, const gm_knn_config *c, double *thr, const double **rad) {
    if (c->realism == GM_REALISM_NONE) return GM_OK;
    *rad = c->realism == GM_REALISM_KYNKAAT ? r->radius_real_pr : r->radius_real_dc;
    *thr = median_of(*rad, r->n_real);
    return isnan(*thr) ? GM_ENOMEM : GM_OK;
}

static size_t ntiles(size_t n, size_t tile) { return (n + tile - 1) / tile; }

static int any_overflow(const knn_eng *e) {
    int o = 0;
    for (int t = 0; t < e->nthr; t++) o |= e->t[t].overflow;
    return o;
}

#define KNN_OVERFLOW 1000 /* internal: fp16 emulation overflowed, recompute without it */

/* Remaining radius items (tiles >= sym_done[s]), radii, then the real x fake pass into out. */
static int eng_finish(knn_eng *e, const size_t sym_done[2], gm_knn_result *out) {
    const gm_knn_config *c = e->cfg;
    size_t nr = e->n[0], nf = e->n[1], k = e->kmax;
    knn_item *it = NULL;
    double *tr = NULL, *tf = NULL, *mind = NULL;
    int rc;
    /* every failure from here on goes through `done`, which frees the partial result too */
    if ((rc = alloc_result(out, c, nr, nf))) goto done;
    if ((rc = eng_reserve(e, 0, nr)) || (rc = eng_reserve(e, 1, nf))) goto done;
    /* pass 1: both sets in one parallel region */
    size_t m0 = sym_count(e, nr, sym_done[0], ntiles(nr, e->tile)), m1 = sym_count(e, nf, sym_done[1], ntiles(nf, e->tile));
    it = gm_malloc((m0 + m1 + 1) * sizeof(knn_item));
    tr = gm_malloc(nr * k * sizeof(double));
    tf = gm_malloc(nf * k * sizeof(double));
    mind = gm_malloc(nr * sizeof(double));
    rc = GM_ENOMEM;
    if (!it || !tr || !tf || !mind) goto done;
    size_t q = 0;
    for (size_t J = sym_done[0]; J < ntiles(nr, e->tile); J++) q += sym_items_for_tile(e, 0, J, nr, it + q);
    for (size_t J = sym_done[1]; J < ntiles(nf, e->tile); J++) q += sym_items_for_tile(e, 1, J, nf, it + q);
    e->stage = "k-NN radii";
    e->done = 0;
    e->total = q;
    run_items(e, it, q);
    gm_free(it);
    it = NULL;
    if (e->fp16 && any_overflow(e)) {
        rc = KNN_OVERFLOW;
        goto done;
    }
    merge_top(e, 0, nr, tr);
    merge_top(e, 1, nf, tf);
    for (size_t i = 0; i < nr; i++) {
        if (c->want_pr) out->radius_real_pr[i] = tr[i * k + c->k_pr - 1];
        if (c->want_dc) out->radius_real_dc[i] = tr[i * k + c->k_dc - 1];
    }
    for (size_t j = 0; j < nf; j++) {
        if (c->want_pr) out->radius_fake_pr[j] = tf[j * k + c->k_pr - 1];
        if (c->want_dc) out->radius_fake_dc[j] = tf[j * k + c->k_dc - 1];
    }
    if ((rc = realism_setup(out, c, &e->rthr, &e->rrad))) goto done;
    e->rad_real_pr = out->radius_real_pr;
    e->rad_real_dc = out->radius_real_dc;
    e->rad_fake_pr = out->radius_fake_pr;
    e->rad_fake_dc = out->radius_fake_dc;
    /* pass 2: per-thread accumulators */
    rc = GM_ENOMEM;
    for (int t = 0; t < e->nthr; t++) {
        knn_thr *w = &e->t[t];
        if (!(w->mind = gm_malloc(nr * sizeof(double)))) goto done;
        for (size_t i = 0; i < nr; i++) w->mind[i] = INFINITY;
        if (c->want_pr && (!(w->rin_pr = gm_calloc(nr, 1)) || !(w->fin_pr = gm_calloc(nf, 1)))) goto done;
        if (c->want_dc && (!(w->rin_dc = gm_calloc(nr, 1)) || !(w->cnt = gm_calloc(nf, sizeof(uint32_t))))) goto done;
        if (out->realism && !(w->realism = gm_calloc(nf, sizeof(double)))) goto done;
    }
    size_t nb = ntiles(nr, e->tile), nt = ntiles(nf, e->tile);
    if (!(it = gm_malloc(nb * nt * sizeof(knn_item)))) goto done;
    q = 0;
    for (size_t b = 0; b < nb; b++)
        for (size_t J = 0; J < nt; J++) {
            size_t r0 = b * e->tile, j0 = J * e->tile;
            it[q].s = 2;
            it[q].r0 = r0;
            it[q].mb = nr - r0 < e->tile ? nr - r0 : e->tile;
            it[q].c0 = j0;
            it[q].c1 = nf - j0 < e->tile ? nf : j0 + e->tile;
            q++;
        }
    e->stage = "k-NN real x fake";
    e->done = 0;
    e->total = q;
    run_items(e, it, q);
    if (e->fp16 && any_overflow(e)) {
        rc = KNN_OVERFLOW;
        goto done;
    }
    /* merge (order-free: min, OR, integer sums, max) */
    for (size_t i = 0; i < nr; i++) {
        double mn = INFINITY;
        int a = 0, b = 0;
        for (int t = 0; t < e->nthr; t++) {
            const knn_thr *w = &e->t[t];
            if (w->mind[i] < mn) mn = w->mind[i];
            if (c->want_pr) a |= w->rin_pr[i];
            if (c->want_dc) b |= w->rin_dc[i];
        }
        mind[i] = mn;
        if (c->want_pr) out->real_in_fake[i] = (uint8_t)a;
        if (c->want_dc) out->real_in_fake_dc[i] = (uint8_t)b;
    }
    for (size_t j = 0; j < nf; j++) {
        int a = 0;
        uint32_t cnt = 0;
        double rl = 0;
        for (int t = 0; t < e->nthr; t++) {
            const knn_thr *w = &e->t[t];
            if (c->want_pr) a |= w->fin_pr[j];
            if (c->want_dc) cnt += w->cnt[j];
            if (w->realism && w->realism[j] > rl) rl = w->realism[j];
        }
        if (c->want_pr) out->fake_in_real[j] = (uint8_t)a;
        if (c->want_dc) out->density_count[j] = cnt;
        if (out->realism) out->realism[j] = rl;
    }
    finish_result(out, c, mind);
    rc = GM_OK;
done:
    gm_free(it);
    gm_free(tr);
    gm_free(tf);
    gm_free(mind);
    eng_free_cross(e);
    if (rc) gm_knn_result_free(out);
    return rc;
}

static int knn_run(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out) {
    knn_eng e;
    memset(&e, 0, sizeof e);
    size_t nr = real->n, nf = fake->n;
    double *nrr = gm_malloc(nr * sizeof(double)), *nrf = gm_malloc(nf * sizeof(double));
    int rc = GM_ENOMEM;
    if (!nrr || !nrf || eng_init(&e, real->d, cfg, nr > nf ? nr : nf)) goto done;
    e.x[0] = *real;
    e.x[1] = *fake;
    e.n[0] = nr;
    e.n[1] = nf;
    row_norms(real, 0, nr, e.f32, e.fp16, nrr);
    row_norms(fake, 0, nf, e.f32, e.fp16, nrf);
    e.nrm[0] = nrr;
    e.nrm[1] = nrf;
    size_t none[2] = {0, 0};
    rc = eng_finish(&e, none, out);
done:
    eng_free(&e);
    gm_free(nrr);
    gm_free(nrf);
    return rc;
}

/* Float32 P/R alone (torch-fidelity, nvidia): the certified engine of eval_knn_cert.c. */
static int use_cert(const gm_knn_config *c) {
    return c->f32 && c->want_pr && !c->want_dc && c->realism == GM_REALISM_NONE && !c->fp16;
}

static int knn_checked(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out,
                       int cert) {
    GM_ASSERT(cfg && out);
    memset(out, 0, sizeof *out);
    int rc = check_cfg(real, fake, cfg);
    if (rc) return rc;
    if (cert && use_cert(cfg)) return gm_knn_pr_cert(real, fake, cfg, GM_KNN_FILTER_AUTO, out, NULL);
    rc = knn_run(real, fake, cfg, out);
    if (rc == KNN_OVERFLOW) { /* binary16 overflow: recompute without the emulation (openai's fallback) */
        gm_knn_config c2 = *cfg;
        c2.fp16 = 0;
        rc = knn_run(real, fake, &c2, out);
        if (rc == GM_OK) out->fp16_fallback = 1;
    }
    return rc;
}

int gm_knn(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out) {
    return knn_checked(real, fake, cfg, out, 1);
}

int gm_knn_sgemm(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out) {
    return knn_checked(real, fake, cfg, out, 0);
}

int gm_knn_radii(const gm_feats *x, size_t kmax, size_t tile, int f32, double *radii) {
    GM_ASSERT(x && radii);
    if (kmax == 0 || kmax >= x->n)
        GM_FAIL(GM_EINVAL, "k-NN: k = %zu must be in 1..n-1 (the set has %zu rows)", kmax, x->n);
    gm_knn_config c = gm_knn_config_default();
    c.want_dc = 0;
    c.k_pr = kmax;
    c.tile = tile;
    c.f32 = f32;
    knn_eng e;
    memset(&e, 0, sizeof e);
    double *nrm = gm_malloc(x->n * sizeof(double));
    int rc = GM_ENOMEM;
    if (!nrm || eng_init(&e, x->d, &c, x->n) || eng_reserve(&e, 0, x->n)) goto done;
    e.x[0] = *x;
    e.n[0] = x->n;
    row_norms(x, 0, x->n, e.f32, 0, nrm);
    e.nrm[0] = nrm;
    e.stage = "k-NN radii";
    e.total = sym_count(&e, x->n, 0, ntiles(x->n, e.tile));
    if ((rc = run_sym(&e, 0, x->n, 0, ntiles(x->n, e.tile)))) goto done;
    merge_top(&e, 0, x->n, radii);
done:
    eng_free(&e);
    gm_free(nrm);
    return rc;
}

/* ---- streaming ----------------------------------------------------------------------------------- */

struct gm_knn_stream {
    gm_knn_config cfg;
    knn_eng e;
    void *buf[2];     /* rows in the compute precision (float when cfg.f32, else double) */
    double *nrm[2];
    size_t n[2], cap[2];
    size_t sym_done[2]; /* column tiles of each set whose radius items have run */
    void (*progress)(const char *stage, double frac, void *ctx);
    void *progress_ctx;
    int failed, finished;
};

int gm_knn_stream_create(gm_knn_stream **out, size_t d, const gm_knn_config *cfg) {
    GM_ASSERT(out && cfg);
    *out = NULL;
    if (d == 0) GM_FAIL(GM_EINVAL, "k-NN stream: feature dimension is 0");
    if (!cfg->want_pr && !cfg->want_dc) GM_FAIL(GM_EINVAL, "k-NN: nothing requested");
    gm_knn_stream *s = gm_calloc(1, sizeof *s);
    if (!s) return GM_ENOMEM;
    s->cfg = *cfg;
    s->progress = cfg->progress; /* used by finish only (feeds have no known total) */
    s->progress_ctx = cfg->progress_ctx;
    s->cfg.progress = NULL;
    if (eng_init(&s->e, d, &s->cfg, 0)) {
        gm_knn_stream_free(s);
        return GM_ENOMEM;
    }
    *out = s;
    return GM_OK;
}

int gm_knn_stream_feed(gm_knn_stream *s, int set, const gm_feats *rows) {
    GM_ASSERT(s && rows && (set == GM_KNN_REAL || set == GM_KNN_FAKE));
    if (s->failed) GM_FAIL(GM_EINVAL, "k-NN stream: an earlier call failed");
    if (s->finished) GM_FAIL(GM_EINVAL, "k-NN stream: feed after finish");
    if (rows->n == 0) return GM_OK;
    GM_ASSERT(rows->data);
    if (rows->d != s->e.d) GM_FAIL(GM_ESHAPE, "k-NN stream: rows have %zu columns, expected %zu", rows->d, s->e.d);
    knn_eng *e = &s->e;
    size_t es = e->f32 ? sizeof(float) : sizeof(double), n0 = s->n[set], n1 = n0 + rows->n;
    if (n1 > s->cap[set]) {
        size_t cap = s->cap[set] ? s->cap[set] : e->tile;
        while (cap < n1) cap += cap / 2 + 1;
        void *b = gm_realloc(s->buf[set], cap * e->d * es);
        double *nr = gm_realloc(s->nrm[set], cap * sizeof(double));
        if (b) s->buf[set] = b;
        if (nr) s->nrm[set] = nr;
        if (!b || !nr) {
            s->failed = 1;
            return GM_ENOMEM;
        }
        s->cap[set] = cap;
    }
    load_rows(rows, 0, rows->n, e->f32, 0, (char *)s->buf[set] + n0 * e->d * es);
    s->n[set] = n1;
    e->x[set].data = s->buf[set];
    e->x[set].n = n1;
    e->x[set].d = e->d;
    e->x[set].is_f64 = !e->f32;
    e->n[set] = n1;
    e->nrm[set] = s->nrm[set];
    row_norms(&e->x[set], n0, rows->n, e->f32, e->fp16, s->nrm[set] + n0);
    /* radius items of the column tiles completed by this batch (the certified engine runs at finish) */
    size_t full = n1 / e->tile;
    if (full > s->sym_done[set] && !use_cert(&s->cfg)) {
        int rc = eng_reserve(e, set, full * e->tile);
        if (!rc) {
            e->stage = "k-NN radii";
            e->total = e->done = 0;
            rc = run_sym(e, set, full * e->tile, s->sym_done[set], full);
        }
        if (rc) {
            s->failed = 1;
            return rc;
        }
        s->sym_done[set] = full;
    }
    return GM_OK;
}

int gm_knn_stream_finish(gm_knn_stream *s, gm_knn_result *out) {
    GM_ASSERT(s && out);
    memset(out, 0, sizeof *out);
    if (s->failed) GM_FAIL(GM_EINVAL, "k-NN stream: an earlier call failed");
    if (s->finished) GM_FAIL(GM_EINVAL, "k-NN stream: finish called twice");
    if (s->n[0] < 2 || s->n[1] < 2)
        GM_FAIL(GM_EINVAL, "k-NN: needs at least 2 rows per set (got %zu and %zu)", s->n[0], s->n[1]);
    int rc = check_k(&s->cfg, s->n[0], s->n[1]);
    if (rc) return rc;
    s->finished = 1;
    s->cfg.progress = s->progress;
    s->cfg.progress_ctx = s->progress_ctx;
    if (use_cert(&s->cfg)) {
        rc = gm_knn_pr_cert(&s->e.x[0], &s->e.x[1], &s->cfg, GM_KNN_FILTER_AUTO, out, NULL);
        s->cfg.progress = NULL;
        return rc;
    }
    rc = eng_finish(&s->e, s->sym_done, out);
    if (rc == KNN_OVERFLOW) {
        gm_knn_config c2 = s->cfg;
        c2.fp16 = 0;
        rc = knn_run(&s->e.x[0], &s->e.x[1], &c2, out);
        if (rc == GM_OK) out->fp16_fallback = 1;
    }
    s->cfg.progress = NULL;
    return rc;
}

void gm_knn_stream_free(gm_knn_stream *s) {
    if (!s) return;
    eng_free(&s->e);
    gm_free(s->buf[0]);
    gm_free(s->buf[1]);
    gm_free(s->nrm[0]);
    gm_free(s->nrm[1]);
    gm_free(s);
}

/* ---- naive reference ----------------------------------------------------------------------------- */

static double naive_d2(const gm_feats *a, size_t i, const gm_feats *b, size_t j) {
    double s = 0;
    for (size_t t = 0; t < a->d; t++) {
        double u = gm_feats_at(a, i, t) - gm_feats_at(b, j, t);
        s += u * u;
    }
    return s;
}

/* Full distance matrix of a set, k-th smallest per row by sorting (self excluded by index). */
static int naive_radii(const gm_feats *x, size_t k, double *rad) {
    size_t n = x->n;
    double *row = gm_malloc(n * sizeof(double));
    if (!row) return GM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) row[m++] = naive_d2(x, i, x, j);
        gm_sort_f64(row, m);
        rad[i] = row[k - 1];
    }
    gm_free(row);
    return GM_OK;
}

int gm_knn_ref(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out) {
    GM_ASSERT(cfg && out);
    memset(out, 0, sizeof *out);
    int rc = check_cfg(real, fake, cfg);
    if (rc) return rc;
    size_t nr = real->n, nf = fake->n;
    double *mind = gm_malloc(nr * sizeof(double));
    rc = GM_ENOMEM;
    if (!mind || alloc_result(out, cfg, nr, nf)) goto done;
    if (cfg->want_pr && ((rc = naive_radii(real, cfg->k_pr, out->radius_real_pr)) ||
                         (rc = naive_radii(fake, cfg->k_pr, out->radius_fake_pr))))
        goto done;
    if (cfg->want_dc && ((rc = naive_radii(real, cfg->k_dc, out->radius_real_dc)) ||
                         (rc = naive_radii(fake, cfg->k_dc, out->radius_fake_dc))))
        goto done;
    double thr = 0;
    const double *rrad = NULL;
    if ((rc = realism_setup(out, cfg, &thr, &rrad))) goto done;
    for (size_t i = 0; i < nr; i++) mind[i] = INFINITY;
    for (size_t j = 0; j < nf; j++) {
        double best = 0;
        for (size_t i = 0; i < nr; i++) {
            double d2 = naive_d2(real, i, fake, j);
            if (d2 < mind[i]) mind[i] = d2;
            if (cfg->want_pr) {
                if (inside(d2, out->radius_real_pr[i], cfg->cmp_pr)) out->fake_in_real[j] = 1;
                if (inside(d2, out->radius_fake_pr[j], cfg->cmp_pr)) out->real_in_fake[i] = 1;
            }
            if (cfg->want_dc) {
                if (inside(d2, out->radius_real_dc[i], cfg->cmp_dc)) out->density_count[j]++;
                if (inside(d2, out->radius_fake_dc[j], cfg->cmp_dc)) out->real_in_fake_dc[i] = 1;
            }
            if (out->realism) {
                double v = realism_term(cfg->realism, rrad[i], thr, d2);
                if (v > best) best = v;
            }
        }
        if (out->realism) out->realism[j] = best;
    }
    finish_result(out, cfg, mind);
    rc = GM_OK;
done:
    gm_free(mind);
    if (rc) gm_knn_result_free(out);
    return rc;
}
