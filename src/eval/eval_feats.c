/* SPDX-License-Identifier: MIT */
/* eval_feats.c — feature-row helpers of the metrics: gm_feats views, row conversion to double/float
 * blocks, squared row norms and input checks (the dense linear algebra lives in src/linalg).
 * Owns nothing. Thread safety: re-entrant; the row-norm loop is a static OpenMP loop in which each
 * output element is computed by one thread. */
#include "eval_internal.h"

#include <string.h>

/* ---- feature rows ------------------------------------------------------------------------------ */

gm_feats gm_feats_f32(const float *x, size_t n, size_t d) {
    gm_feats f = {x, n, d, 0};
    return f;
}

gm_feats gm_feats_f64(const double *x, size_t n, size_t d) {
    gm_feats f = {x, n, d, 1};
    return f;
}

double gm_feats_at(const gm_feats *x, size_t i, size_t j) {
    return x->is_f64 ? ((const double *)x->data)[i * x->d + j] : (double)((const float *)x->data)[i * x->d + j];
}

void gm_feats_rows_f64(const gm_feats *x, size_t r0, size_t cnt, double *dst) {
    size_t m = cnt * x->d;
    if (x->is_f64) {
        memcpy(dst, (const double *)x->data + r0 * x->d, m * sizeof(double));
    } else {
        const float *s = (const float *)x->data + r0 * x->d;
        for (size_t i = 0; i < m; i++) dst[i] = (double)s[i];
    }
}

void gm_feats_rows_f32(const gm_feats *x, size_t r0, size_t cnt, float *dst) {
    size_t m = cnt * x->d;
    if (!x->is_f64) {
        memcpy(dst, (const float *)x->data + r0 * x->d, m * sizeof(float));
    } else {
        const double *s = (const double *)x->data + r0 * x->d;
        for (size_t i = 0; i < m; i++) dst[i] = (float)s[i];
    }
}

void gm_feats_row_norms(const gm_feats *x, double *out) {
    size_t d = x->d;
#pragma omp parallel for schedule(static) if (x->n * d > 65536)
    for (long i = 0; i < (long)x->n; i++) {
        double s = 0;
        if (x->is_f64) {
            const double *r = (const double *)x->data + (size_t)i * d;
            for (size_t j = 0; j < d; j++) s += r[j] * r[j];
        } else {
            const float *r = (const float *)x->data + (size_t)i * d;
            for (size_t j = 0; j < d; j++) s += (double)r[j] * (double)r[j];
        }
        out[i] = s;
    }
}

int gm_feats_check_pair(const gm_feats *a, const gm_feats *b, size_t min_n, const char *what) {
    GM_ASSERT(a && b);
    if (a->d == 0 || b->d == 0) GM_FAIL(GM_EINVAL, "%s: feature dimension is 0", what);
    if (a->d != b->d) GM_FAIL(GM_ESHAPE, "%s: feature dimensions differ (%zu vs %zu)", what, a->d, b->d);
    if (a->n < min_n || b->n < min_n)
        GM_FAIL(GM_EINVAL, "%s: needs at least %zu rows per set (got %zu and %zu)", what, min_n, a->n, b->n);
    GM_ASSERT(a->data && b->data);
    return GM_OK;
}
