/* SPDX-License-Identifier: MIT */
/* moe_sample.c — drawing data from a MoE: the LCG generator identical to the spec's R code (section 7.1)
 * and the Philox samplers of x and of (z, y) given x, each class and expert by inverse CDF.
 * Owns: call-local work buffers. Thread safety: reentrant; a gm_rng is used by one thread at a time. */
#include "genmix/moe.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "moe_internal.h"

#include "genmix/rng.h"

/* ============================================================================================== */
/* LCG data generator (spec section 7.1; identical to the R code there)                            */
/* ============================================================================================== */

static double lcg_next(uint32_t *s) {
    *s = 1664525u * *s + 1013904223u;
    return ((double)*s + 0.5) / 4294967296.0;
}

/* smallest index with u < cumsum(softmax(v)); the last index if rounding leaves none */
static size_t inverse_cdf(double *v, size_t m, double u) {
    double mx = v[0];
    for (size_t i = 1; i < m; i++)
        if (v[i] > mx) mx = v[i];
    double s = 0.0;
    for (size_t i = 0; i < m; i++) {
        v[i] = exp(v[i] - mx);
        s += v[i];
    }
    double c = 0.0;
    for (size_t i = 0; i < m; i++) {
        c += v[i] / s;
        if (u < c) return i;
    }
    return m - 1;
}

/* One draw of (z, y) at x from two uniforms, by inverse CDF of the gate and then of expert z's class
 * probabilities. work: k + S + 2 (d + 1) doubles. */
static void draw_row(const gm_moe *m, const double *x, double uz, double uy, double *work, int *y, int *z) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    double *v = work, *f = work + k, *xt = f + S, *gt = xt + p;
    gm__moe_design_rows(m->gate, x, d, xt, gt);
    for (size_t i = 0; i < k; i++) {
        double e = 0.0;
        for (size_t j = 0; j < p; j++) e += m->W[j * k + i] * gt[j];
        v[i] = e;
    }
    size_t zi = inverse_cdf(v, k, uz);
    for (size_t c = 0; c < S; c++) {
        double e = 0.0;
        for (size_t j = 0; j < p; j++) e += m->V[(zi * p + j) * S + c] * xt[j];
        f[c] = e;
    }
    *y = (int)inverse_cdf(f, S, uy);
    if (z) *z = (int)zi;
}

static double *draw_work(const gm_moe *m) {
    return gm_malloc((m->n_experts + m->n_classes + 2 * (m->dim + 1)) * sizeof(double));
}

int gm_moe_sample_lcg(const gm_moe *m, size_t n, uint32_t seed, double xr, double *X, int *y, int *z) {
    size_t d = m->dim;
    uint32_t s = seed;
    double *w = draw_work(m);
    if (!w) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        double *x = X + t * d;
        for (size_t j = 0; j < d; j++) x[j] = xr * (-1.0 + 2.0 * lcg_next(&s));
        double uz = lcg_next(&s), uy = lcg_next(&s);
        draw_row(m, x, uz, uy, w, y + t, z ? z + t : NULL);
    }
    gm_free(w);
    return GM_OK;
}

/* ============================================================================================== */
/* sampling with Philox                                                                            */
/* ============================================================================================== */

int gm_moe_sample_y(const gm_moe *m, const double *X, size_t n, gm_rng *rng, int *y, int *z) {
    double *w = draw_work(m);
    if (!w) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        double uz = gm_rng_uniform(rng), uy = gm_rng_uniform(rng);
        draw_row(m, X + t * m->dim, uz, uy, w, y + t, z ? z + t : NULL);
    }
    gm_free(w);
    return GM_OK;
}

int gm_moe_sample(const gm_moe *m, size_t n, double xr, gm_rng *rng, double *X, int *y, int *z) {
    size_t d = m->dim;
    for (size_t t = 0; t < n * d; t++) X[t] = xr * (-1.0 + 2.0 * gm_rng_uniform(rng));
    return gm_moe_sample_y(m, X, n, rng, y, z);
}
