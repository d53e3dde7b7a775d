/* SPDX-License-Identifier: MIT */
/* eval_kid.c — kernels (cubic polynomial, RBF), MMD² estimators, KID over subsets drawn exactly as
 * torch-fidelity draws them (NumPy RandomState MT19937 of core/mt19937.c + legacy permutation), full-set
 * MMD by tiles.
 * Owns nothing between calls. Thread safety: re-entrant. Reductions: per-row partial sums added in
 * row order, so results do not depend on the thread count. */
#include "eval_internal.h"
#include "genmix/rng.h"

#include <math.h>
#include <string.h>

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- kernels ------------------------------------------------------------------------------------ */

gm_kernel gm_kernel_poly3(void) {
    gm_kernel k = {GM_KERNEL_POLY, 3, 0.0, 1.0, 0.0};
    return k;
}

gm_kernel gm_kernel_rbf_sigma(double sigma) {
    gm_kernel k = {GM_KERNEL_RBF, 0, 0.0, 0.0, sigma};
    return k;
}

/* Apply the kernel in place to a block of dot products G (m x n); na/nb are squared norms (RBF). */
static inline double kval(const gm_kernel *k, double gamma, double dot, double na, double nb) {
    if (k->kind == GM_KERNEL_RBF) {
        double d2 = na + nb - 2 * dot;
        return gm_kernel_rbf(d2 < 0 ? 0 : d2, k->sigma); /* a NaN distance stays NaN */
    }
    if (k->kind == GM_KERNEL_COSINE) return dot / sqrt(na * nb);
    return gm_kernel_poly(dot, gamma, k->coef0, k->degree);
}

static double kgamma(const gm_kernel *k, size_t d) { return k->gamma > 0 ? k->gamma : 1.0 / (double)d; }

void gm_kernel_matrix(double *K, const double *X, size_t nx, const double *Y, size_t ny, size_t d,
                      const gm_kernel *k) {
    gm_la_dgemm_nt(nx, ny, d, 1.0, X, Y, 0.0, K);
    double g = kgamma(k, d);
#pragma omp parallel for schedule(static) if (nx * ny > 65536)
    for (long i = 0; i < (long)nx; i++) {
        double na = 0;
        for (size_t t = 0; t < d; t++) na += X[(size_t)i * d + t] * X[(size_t)i * d + t];
        for (size_t j = 0; j < ny; j++) {
            double nb = 0;
            if (k->kind != GM_KERNEL_POLY)
                for (size_t t = 0; t < d; t++) nb += Y[j * d + t] * Y[j * d + t];
            K[(size_t)i * ny + j] = kval(k, g, K[(size_t)i * ny + j], na, nb);
        }
    }
}

/* ---- block sums ---------------------------------------------------------------------------------- */

typedef struct {
    double full;  /* Σ over the whole block (or over i < j for symmetric blocks) */
    double diag;  /* Σ_i K_ii */
} ksum;

/* Kernel sums over a block of dot products G (m x n) with row norms na, nb. sym: the block is a
 * symmetric diagonal block: sum i < j only. rowbuf: m doubles of scratch (per-row partials). */
static ksum block_sum(const double *G, size_t m, size_t n, const double *na, const double *nb, const gm_kernel *k,
                      double gamma, int sym, double *rowbuf, double *rowdiag) {
#pragma omp parallel for schedule(static) if (m * n > 65536)
    for (long i = 0; i < (long)m; i++) {
        const double *g = G + (size_t)i * n;
        double s = 0;
        for (size_t j = sym ? (size_t)i + 1 : 0; j < n; j++) s += kval(k, gamma, g[j], na[i], nb[j]);
        rowbuf[i] = s;
        rowdiag[i] = (size_t)i < n ? kval(k, gamma, g[i], na[i], nb[i]) : 0;
    }
    ksum r = {0, 0};
    for (size_t i = 0; i < m; i++) {
        r.full += rowbuf[i];
        r.diag += rowdiag[i];
    }
    return r;
}

/* One float32 kernel value as torch-fidelity computes it: (gamma·g + coef0)^degree by repeated
 * multiplication in float (degree 3: (b·b)·b), or exp(-d²/(2σ²)) in float. */
static inline float kval_f32(const gm_kernel *k, float gamma, float g, float na, float nb) {
    if (k->kind == GM_KERNEL_RBF) return expf(-(na + nb - 2.0f * g) / (float)(2 * k->sigma * k->sigma));
    float b = gamma * g + (float)k->coef0, v = b;
    for (int p = 1; p < k->degree; p++) v *= b;
    return k->degree == 0 ? 1.0f : v;
}

#define KID_LANES 8

/* Σ_j≥j0 of the float32 kernel over one row of G, in double: KID_LANES interleaved partial sums (lane l
 * takes j ≡ j0 + l) added pairwise in a fixed order, then the tail. The order depends on n - j0 only, so
 * the value does not depend on the thread count; the independent chains let the loop pipeline. The
 * polynomial kernel reads no norms (na, nb may be NULL). */
static double row_sum_f32(const float *g, size_t j0, size_t n, const gm_kernel *k, float gamma, float nai,
                          const double *nb) {
    double acc[KID_LANES] = {0}, tail = 0;
    size_t j = j0;
    if (k->kind != GM_KERNEL_RBF) {
        float b0 = (float)k->coef0;
        if (k->degree == 3) { /* the KID kernel: no loop over the power */
            for (; j + KID_LANES <= n; j += KID_LANES)
                for (int l = 0; l < KID_LANES; l++) {
                    float b = gamma * g[j + l] + b0;
                    acc[l] += (double)(b * b * b);
                }
        }
        for (; j + KID_LANES <= n; j += KID_LANES)
            for (int l = 0; l < KID_LANES; l++) acc[l] += (double)kval_f32(k, gamma, g[j + l], 0, 0);
        for (; j < n; j++) tail += (double)kval_f32(k, gamma, g[j], 0, 0);
    } else {
        for (; j + KID_LANES <= n; j += KID_LANES)
            for (int l = 0; l < KID_LANES; l++)
                acc[l] += (double)kval_f32(k, gamma, g[j + l], nai, (float)nb[j + l]);
        for (; j < n; j++) tail += (double)kval_f32(k, gamma, g[j], nai, (float)nb[j]);
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

/* block_sum for a float32 Gram block. The diagonal (unbiased estimators skip it) keeps the RBF value in
 * double with the distance clamped at 0. */
static ksum block_sum_f32(const float *G, size_t m, size_t n, const double *na, const double *nb,
                          const gm_kernel *k, float gamma, int sym, double *rowbuf, double *rowdiag) {
    int rbf = k->kind == GM_KERNEL_RBF;
#pragma omp parallel for schedule(static) if (m * n > 65536)
    for (long i = 0; i < (long)m; i++) {
        const float *g = G + (size_t)i * n;
        float nai = rbf ? (float)na[i] : 0.0f;
        rowbuf[i] = row_sum_f32(g, sym ? (size_t)i + 1 : 0, n, k, gamma, nai, nb);
        rowdiag[i] = 0;
        if ((size_t)i < n) {
            if (rbf)
                rowdiag[i] = gm_kernel_rbf(fmax((double)(nai + (float)nb[i] - 2.0f * g[i]), 0.0), k->sigma);
            else
                rowdiag[i] = (double)kval_f32(k, gamma, g[i], 0, 0);
        }
    }
    ksum r = {0, 0};
    for (size_t i = 0; i < m; i++) {
        r.full += rowbuf[i];
        r.diag += rowdiag[i];
    }
    return r;
}

static double mmd_combine(gm_mmd_estimator est, double sxx_off, double sxx_diag, double syy_off, double syy_diag,
                          double sxy, double sxy_diag, double n1, double n2) {
    switch (est) {
    case GM_MMD_BIASED:
        return (2 * sxx_off + sxx_diag) / (n1 * n1) + (2 * syy_off + syy_diag) / (n2 * n2) - 2 * sxy / (n1 * n2);
    case GM_MMD_USTAT:
        return 2 * sxx_off / (n1 * (n1 - 1)) + 2 * syy_off / (n2 * (n2 - 1)) - 2 * (sxy - sxy_diag) / (n1 * (n1 - 1));
    default:
        return 2 * sxx_off / (n1 * (n1 - 1)) + 2 * syy_off / (n2 * (n2 - 1)) - 2 * sxy / (n1 * n2);
    }
}

/* ---- KID ----------------------------------------------------------------------------------------- */

gm_kid_config gm_kid_config_default(void) {
    gm_kid_config c;
    memset(&c, 0, sizeof c);
    c.subsets = 100;
    c.subset_size = 1000;
    c.seed = 2020;
    c.kernel = gm_kernel_poly3();
    c.estimator = GM_MMD_UNBIASED;
    c.strict = 0;
    c.f32 = 0;
    return c;
}

/* Per-thread scratch of one KID subset. */
typedef struct {
    void *X, *Y, *G;
    double *nx, *ny, *rb, *rd;
} kid_ws;

static void kid_ws_free(kid_ws *w) {
    gm_free(w->X);
    gm_free(w->Y);
    gm_free(w->G);
    gm_free(w->nx);
    gm_free(w->ny);
    gm_free(w->rb);
    gm_free(w->rd);
}

static int kid_ws_init(kid_ws *w, size_t m, size_t d, int f32) {
    size_t es = f32 ? sizeof(float) : sizeof(double);
    w->X = gm_malloc(m * d * es);
    w->Y = gm_malloc(m * d * es);
    w->G = gm_malloc(m * m * es);
    w->nx = gm_calloc(m, sizeof(double)); /* stay 0 for the polynomial kernel, which reads no norms */
    w->ny = gm_calloc(m, sizeof(double));
    w->rb = gm_malloc(m * sizeof(double));
    w->rd = gm_malloc(m * sizeof(double));
    return w->X && w->Y && w->G && w->nx && w->ny && w->rb && w->rd ? GM_OK : GM_ENOMEM;
}

/* Gram products of one subset. single = 1: one single-threaded BLAS call each (SYRK for the symmetric
 * blocks; used when whole subsets run in parallel), else the fixed-block helpers (thread-count invariant). */
static void gram_syrk(int f32, int single, size_t m, size_t d, const void *A, void *C) {
#ifdef GM_HAVE_BLAS
    if (single) {
        if (f32)
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)d, 1.0f, A, (int)d, 0.0f, C, (int)m);
        else
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)d, 1.0, A, (int)d, 0.0, C, (int)m);
        return;
    }
#endif
    (void)single;
    if (f32)
        gm_la_ssyrk_nt(m, d, A, C);
    else
        gm_la_dsyrk_nt(m, d, A, C);
}

static void gram_gemm(int f32, int single, size_t m, size_t d, const void *A, const void *B, void *C) {
#ifdef GM_HAVE_BLAS
    if (single) {
        if (f32)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)d, 1.0f, A, (int)d, B, (int)d,
                        0.0f, C, (int)m);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)d, 1.0, A, (int)d, B, (int)d,
                        0.0, C, (int)m);
        return;
    }
#endif
    (void)single;
    if (f32)
        gm_la_sgemm_nt(m, m, d, A, B, C);
    else
        gm_la_dgemm_nt(m, m, d, 1.0, A, B, 0.0, C);
}

/* MMD² of the subset (fake rows ix, real rows iy). block_sum reads the upper triangle and the diagonal. */
static double kid_subset(const gm_feats *real, const gm_feats *fake, const gm_kid_config *cfg, size_t m,
                         double gamma, const size_t *ix, const size_t *iy, kid_ws *w, int single) {
    size_t d = real->d;
    int f32 = cfg->f32;
    for (size_t i = 0; i < m; i++) {
        if (f32) {
            gm_feats_rows_f32(fake, ix[i], 1, (float *)w->X + i * d);
            gm_feats_rows_f32(real, iy[i], 1, (float *)w->Y + i * d);
        } else {
            gm_feats_rows_f64(fake, ix[i], 1, (double *)w->X + i * d);
            gm_feats_rows_f64(real, iy[i], 1, (double *)w->Y + i * d);
        }
    }
    for (size_t i = 0; cfg->kernel.kind != GM_KERNEL_POLY && i < m; i++) { /* norms: RBF and cosine only */
        double a = 0, b = 0;
        for (size_t t = 0; t < d; t++) {
            double u = f32 ? (double)((float *)w->X)[i * d + t] : ((double *)w->X)[i * d + t];
            double v = f32 ? (double)((float *)w->Y)[i * d + t] : ((double *)w->Y)[i * d + t];
            a += u * u;
            b += v * v;
        }
        w->nx[i] = a;
        w->ny[i] = b;
    }
    ksum sxx, syy, sxy;
    gram_syrk(f32, single, m, d, w->X, w->G);
    sxx = f32 ? block_sum_f32(w->G, m, m, w->nx, w->nx, &cfg->kernel, (float)gamma, 1, w->rb, w->rd)
              : block_sum(w->G, m, m, w->nx, w->nx, &cfg->kernel, gamma, 1, w->rb, w->rd);
    gram_syrk(f32, single, m, d, w->Y, w->G);
    syy = f32 ? block_sum_f32(w->G, m, m, w->ny, w->ny, &cfg->kernel, (float)gamma, 1, w->rb, w->rd)
              : block_sum(w->G, m, m, w->ny, w->ny, &cfg->kernel, gamma, 1, w->rb, w->rd);
    gram_gemm(f32, single, m, d, w->X, w->Y, w->G);
    sxy = f32 ? block_sum_f32(w->G, m, m, w->nx, w->ny, &cfg->kernel, (float)gamma, 0, w->rb, w->rd)
              : block_sum(w->G, m, m, w->nx, w->ny, &cfg->kernel, gamma, 0, w->rb, w->rd);
    return mmd_combine(cfg->estimator, sxx.full, sxx.diag, syy.full, syy.diag, sxy.full, sxy.diag, (double)m,
                       (double)m);
}

/* Subsets are drawn first (one MT19937 stream, in order). With >= 2 subsets, whole subsets run in parallel
 * (dynamic schedule), each with single-threaded SYRK/GEMM calls of fixed shape: every subset's value is
 * the same for any thread count, and the mean/std are summed in subset order. */
int gm_kid(const gm_feats *real, const gm_feats *fake, const gm_kid_config *cfg, gm_kid_result *out,
           double *per_subset) {
    int rc = gm_feats_check_pair(real, fake, 2, "KID");
    if (rc) return rc;
    GM_ASSERT(cfg && out);
    memset(out, 0, sizeof *out);
    if (cfg->subsets == 0) GM_FAIL(GM_EINVAL, "KID: number of subsets must be >= 1");
    if (cfg->kernel.kind == GM_KERNEL_RBF && !(cfg->kernel.sigma > 0)) GM_FAIL(GM_EINVAL, "KID: RBF sigma must be > 0");
    size_t m = cfg->subset_size, nmin = real->n < fake->n ? real->n : fake->n, d = real->d, S = cfg->subsets;
    if (m < 2) GM_FAIL(GM_EINVAL, "KID: subset size must be >= 2");
    if (m > nmin) {
        if (cfg->strict)
            GM_FAIL(GM_EINVAL, "KID: subset size %zu is larger than the smaller set (%zu rows)", m, nmin);
        m = nmin;
        out->shrunk = 1;
    }
    int nthr = 1;
#ifdef _OPENMP
    nthr = omp_get_max_threads();
#endif
    int par = S >= 2;
    int nws = par ? nthr : 1;
    size_t nmax = real->n > fake->n ? real->n : fake->n;
    size_t *work = gm_malloc(nmax * sizeof(size_t)), *idx = gm_malloc(2 * S * m * sizeof(size_t));
    double *vals = gm_malloc(S * sizeof(double));
    kid_ws *ws = gm_calloc((size_t)nws, sizeof(kid_ws));
    rc = GM_ENOMEM;
    if (!work || !idx || !vals || !ws) goto done;
    for (int t = 0; t < nws; t++)
        if (kid_ws_init(&ws[t], m, d, cfg->f32)) goto done;
    gm_mt19937 mt;
    gm_mt19937_seed(&mt, cfg->seed);
    for (size_t s = 0; s < S; s++) {
        gm_mt19937_choice(&mt, fake->n, m, idx + 2 * s * m, work);
        gm_mt19937_choice(&mt, real->n, m, idx + (2 * s + 1) * m, work);
    }
    double gamma = kgamma(&cfg->kernel, d);
    if (par) {
        size_t ndone = 0;
#pragma omp parallel num_threads(nthr)
        {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
#pragma omp for schedule(dynamic, 1)
            for (long s = 0; s < (long)S; s++) {
                vals[s] = kid_subset(real, fake, cfg, m, gamma, idx + 2 * (size_t)s * m, idx + (2 * (size_t)s + 1) * m,
                                     &ws[tid], 1);
                size_t dn;
#pragma omp atomic capture
                dn = ++ndone;
                if (tid == 0 && cfg->progress) cfg->progress("kid subsets", (double)dn / (double)S, cfg->progress_ctx);
            }
        }
    } else {
        vals[0] = kid_subset(real, fake, cfg, m, gamma, idx, idx + m, &ws[0], 0);
        if (cfg->progress) cfg->progress("kid subsets", 1.0, cfg->progress_ctx);
    }
    double mean = 0, var = 0;
    for (size_t s = 0; s < S; s++) mean += vals[s];
    mean /= (double)S;
    for (size_t s = 0; s < S; s++) var += (vals[s] - mean) * (vals[s] - mean);
    out->mean = mean;
    out->std = sqrt(var / (double)S);
    out->subsets = S;
    out->subset_size = m;
    if (per_subset) memcpy(per_subset, vals, S * sizeof(double));
    rc = isfinite(mean) ? GM_OK : gm_set_error(GM_ENUMERIC, "KID is not finite");
done:
    for (int t = 0; ws && t < nws; t++) kid_ws_free(&ws[t]);
    gm_free(ws);
    gm_free(work);
    gm_free(idx);
    gm_free(vals);
    return rc;
}

/* ---- full-set MMD by tiles ---------------------------------------------------------------------- */

#define MMD_TILE 1024

/* Σ k over A x B (sym: A == B, sum over i < j, diagonal returned too). */
static int tiled_sum(const gm_feats *a, const double *na, const gm_feats *b, const double *nb, const gm_kernel *k,
                     double gamma, int sym, double *full, double *diag) {
    size_t t = MMD_TILE, d = a->d;
    double *A = gm_malloc(t * d * sizeof(double)), *B = gm_malloc(t * d * sizeof(double));
    double *G = gm_malloc(t * t * sizeof(double)), *rb = gm_malloc(t * sizeof(double)),
           *rd = gm_malloc(t * sizeof(double));
    if (!A || !B || !G || !rb || !rd) {
        gm_free(A);
        gm_free(B);
        gm_free(G);
        gm_free(rb);
        gm_free(rd);
        return GM_ENOMEM;
    }
    *full = 0;
    *diag = 0;
    for (size_t i0 = 0; i0 < a->n; i0 += t) {
        size_t mi = a->n - i0 < t ? a->n - i0 : t;
        gm_feats_rows_f64(a, i0, mi, A);
        for (size_t j0 = sym ? i0 : 0; j0 < b->n; j0 += t) {
            size_t mj = b->n - j0 < t ? b->n - j0 : t;
            gm_feats_rows_f64(b, j0, mj, B);
            gm_la_dgemm_nt(mi, mj, d, 1.0, A, B, 0.0, G);
            int dblock = sym && j0 == i0;
            ksum s = block_sum(G, mi, mj, na + i0, nb + j0, k, gamma, dblock, rb, rd);
            *full += s.full;
            if (dblock) *diag += s.diag;
        }
    }
    gm_free(A);
    gm_free(B);
    gm_free(G);
    gm_free(rb);
    gm_free(rd);
    return GM_OK;
}

int gm_mmd(const gm_feats *x, const gm_feats *y, const gm_kernel *k, gm_mmd_estimator est, double *out) {
    int rc = gm_feats_check_pair(x, y, 2, "MMD");
    if (rc) return rc;
    if (k->kind == GM_KERNEL_RBF && !(k->sigma > 0)) GM_FAIL(GM_EINVAL, "MMD: RBF sigma must be > 0");
    if (est == GM_MMD_USTAT && x->n != y->n) GM_FAIL(GM_EINVAL, "MMD: the u-statistic needs sets of equal size");
    double *nx = gm_malloc(x->n * sizeof(double)), *ny = gm_malloc(y->n * sizeof(double));
    if (!nx || !ny) {
        gm_free(nx);
        gm_free(ny);
        return GM_ENOMEM;
    }
    gm_feats_row_norms(x, nx);
    gm_feats_row_norms(y, ny);
    double g = kgamma(k, x->d), sxx, dxx, syy, dyy, sxy, dxy = 0, unused;
    if (!(rc = tiled_sum(x, nx, x, nx, k, g, 1, &sxx, &dxx)) && !(rc = tiled_sum(y, ny, y, ny, k, g, 1, &syy, &dyy)) &&
        !(rc = tiled_sum(x, nx, y, ny, k, g, 0, &sxy, &unused))) {
        if (est == GM_MMD_USTAT) {
            /* Σ_i k(x_i, y_i): paired rows */
            for (size_t i = 0; i < x->n; i++) {
                double dot = 0;
                for (size_t t = 0; t < x->d; t++) dot += gm_feats_at(x, i, t) * gm_feats_at(y, i, t);
                dxy += kval(k, g, dot, nx[i], ny[i]);
            }
        }
        *out = mmd_combine(est, sxx, dxx, syy, dyy, sxy, dxy, (double)x->n, (double)y->n);
        if (!isfinite(*out)) rc = gm_set_error(GM_ENUMERIC, "MMD is not finite");
    }
    gm_free(nx);
    gm_free(ny);
    return rc;
}
