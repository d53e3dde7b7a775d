/* SPDX-License-Identifier: MIT */
/* smc_reward.c — closed-form toy rewards (quadratic, linear), the closed-form tilt of a diagonal Gaussian
 * mixture by exp(r/alpha) (spec das.md §7.1), and the SIR-oracle / best-of-N baselines.
 *
 * Owns: nothing beyond the caller's gm_toy_reward. Thread safety: reentrant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/das.h"

int gm_toy_reward_parse(const char *spec, size_t dim, gm_toy_reward *out) {
    memset(out, 0, sizeof *out);
    out->dim = dim;
    if (dim < 1 || dim > GM_TOY_REWARD_MAXD) GM_FAIL(GM_EINVAL, "reward '%s': dimension %zu out of range", spec, dim);
    if (!strcmp(spec, "gmm1")) spec = "quad:0.01,1,0,0";
    else if (!strcmp(spec, "gmm2")) spec = "quad:1,0.1,0,1";
    size_t want;
    const char *p;
    if (!strncmp(spec, "quad:", 5)) {
        want = 2 * dim;
        p = spec + 5;
    } else if (!strncmp(spec, "linear:", 7)) {
        out->linear = 1;
        want = dim;
        p = spec + 7;
    } else {
        GM_FAIL(GM_EINVAL, "unknown reward '%s' (gmm1|gmm2|quad:a..,c..|linear:b..)", spec);
    }
    double v[2 * GM_TOY_REWARD_MAXD];
    size_t got = 0;
    while (*p) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x) || got >= want)
            GM_FAIL(GM_EINVAL, "reward '%s': expected %zu comma-separated numbers", spec, want);
        v[got++] = x;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') GM_FAIL(GM_EINVAL, "reward '%s': expected %zu comma-separated numbers", spec, want);
    }
    if (got != want) GM_FAIL(GM_EINVAL, "reward '%s': expected %zu numbers for dimension %zu, got %zu", spec, want, dim, got);
    for (size_t j = 0; j < dim; j++) {
        if (out->linear) {
            out->b[j] = v[j];
        } else {
            out->a[j] = v[j];
            out->c[j] = v[dim + j];
            if (v[j] < 0) GM_FAIL(GM_EINVAL, "reward '%s': quadratic coefficients must be >= 0", spec);
        }
    }
    return GM_OK;
}

static int toy_eval(void *ctx, const float *x, size_t n, double *r, float *grad) {
    const gm_toy_reward *t = ctx;
    size_t D = t->dim;
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < D; j++) {
            double xj = (double)x[i * D + j];
            if (t->linear) {
                s += t->b[j] * xj;
                if (grad) grad[i * D + j] = (float)t->b[j];
            } else {
                double u = xj - t->c[j];
                s -= t->a[j] * u * u;
                if (grad) grad[i * D + j] = (float)(-2.0 * t->a[j] * u);
            }
        }
        r[i] = s;
    }
    return GM_OK;
}

gm_reward gm_toy_reward_as_reward(gm_toy_reward *t) {
    gm_reward r = {t->dim, toy_eval, 1, t};
    return r;
}

int gm_gmm_tilt(const gm_gmm *g, const gm_toy_reward *t, double alpha, double *log_z, double *w, double *mean,
                double *var, double *e_r) {
    if (t->dim != g->dim) GM_FAIL(GM_ESHAPE, "tilt: reward dimension %zu != mixture dimension %zu", t->dim, g->dim);
    if (!(alpha > 0)) GM_FAIL(GM_EINVAL, "tilt: alpha must be > 0");
    size_t K = g->k, D = g->dim;
    double *lz = gm_malloc(K * sizeof *lz), *er = gm_malloc(K * sizeof *er);
    if (!lz || !er) {
        gm_free(lz);
        gm_free(er);
        return GM_ENOMEM;
    }
    for (size_t k = 0; k < K; k++) {
        double l = log(g->weight[k]), e = 0.0;
        for (size_t j = 0; j < D; j++) {
            double s2 = g->var[k * D + j], m = g->mean[k * D + j], v, mp;
            if (t->linear) {
                v = s2;
                mp = m + s2 * t->b[j] / alpha;
                l += t->b[j] * m / alpha + s2 * t->b[j] * t->b[j] / (2 * alpha * alpha);
                e += t->b[j] * mp;
            } else {
                double a = t->a[j], c = t->c[j];
                v = 1.0 / (1.0 / s2 + 2 * a / alpha);
                mp = v * (m / s2 + 2 * a * c / alpha);
                l += 0.5 * log(v / s2) - a * (m - c) * (m - c) / (alpha * (1 + 2 * a * s2 / alpha));
                e -= a * (v + (mp - c) * (mp - c));
            }
            if (mean) mean[k * D + j] = mp;
            if (var) var[k * D + j] = v;
        }
        lz[k] = l;
        er[k] = e;
    }
    double L = gm_log_sum_exp(lz, K), E = 0.0;
    for (size_t k = 0; k < K; k++) {
        double wk = exp(lz[k] - L);
        if (w) w[k] = wk;
        E += wk * er[k];
    }
    if (log_z) *log_z = L;
    if (e_r) *e_r = E;
    gm_free(lz);
    gm_free(er);
    return GM_OK;
}

int gm_sir_oracle(const gm_reward *rw, const float *x, size_t M, double alpha, double *W, double *log_z,
                  double *ess, double *r) {
    if (M < 1) GM_FAIL(GM_EINVAL, "sir oracle: need at least one base sample");
    if (!(alpha > 0)) GM_FAIL(GM_EINVAL, "sir oracle: alpha must be > 0");
    double *rr = r ? r : gm_malloc(M * sizeof *rr);
    if (!rr) return GM_ENOMEM;
    int rc = rw->eval(rw->ctx, x, M, rr, NULL);
    if (rc == GM_OK) {
        for (size_t k = 0; k < M; k++) W[k] = isfinite(rr[k]) ? rr[k] / alpha : -HUGE_VAL;
        double l = gm_log_sum_exp(W, M);
        if (l == -HUGE_VAL) rc = gm_set_error(GM_ENUMERIC, "sir oracle: every reward is non-finite");
        if (ess) *ess = gm_ess(W, M);
        gm_log_weights_normalise(W, M, W);
        if (log_z) *log_z = l - log((double)M);
    }
    if (!r) gm_free(rr);
    return rc;
}

int gm_best_of_n(const gm_reward *rw, const float *x, size_t n, size_t *best, double *best_r) {
    if (n < 1) GM_FAIL(GM_EINVAL, "best-of-n: need at least one sample");
    double *r = gm_malloc(n * sizeof *r);
    if (!r) return GM_ENOMEM;
    int rc = rw->eval(rw->ctx, x, n, r, NULL);
    if (rc == GM_OK) {
        size_t b = n;
        for (size_t k = 0; k < n; k++)
            if (isfinite(r[k]) && (b == n || r[k] > r[b])) b = k;
        if (b == n) rc = gm_set_error(GM_ENUMERIC, "best-of-n: every reward is non-finite");
        else {
            *best = b;
            if (best_r) *best_r = r[b];
        }
    }
    gm_free(r);
    return rc;
}
