/* SPDX-License-Identifier: MIT */
/* smc_resample.c — resampling schemes (systematic, SSP, multinomial), log-sum-exp, ESS, pooling of
 * independent runs by their Ẑ, and tempering exponents (exp schedule, adaptive bisection on ESS).
 *
 * Owns: nothing (pure functions; SSP uses a temporary count array). Thread safety: reentrant.
 * Numerics: weights and cumulative sums in double; every inverse-CDF loop clamps the ancestor at n - 1
 * and compares against the input size n (guard against a cumulative sum that ends below 1). */
#include <math.h>
#include <string.h>

#include "genmix/smc.h"

int gm_resample_parse(const char *name, gm_resample_scheme *out) {
    if (!strcmp(name, "systematic")) *out = GM_RESAMPLE_SYSTEMATIC;
    else if (!strcmp(name, "ssp")) *out = GM_RESAMPLE_SSP;
    else if (!strcmp(name, "multinomial")) *out = GM_RESAMPLE_MULTINOMIAL;
    else GM_FAIL(GM_EINVAL, "unknown resampling scheme '%s' (systematic|ssp|multinomial)", name);
    return GM_OK;
}

const char *gm_resample_name(gm_resample_scheme s) {
    switch (s) {
    case GM_RESAMPLE_SYSTEMATIC: return "systematic";
    case GM_RESAMPLE_SSP: return "ssp";
    case GM_RESAMPLE_MULTINOMIAL: return "multinomial";
    }
    return "?";
}

/* Ancestors of sorted positions u[0..m-1] in [0, 1) under the CDF of W (n entries). */
static void inverse_cdf(const double *W, size_t n, const double *u, size_t m, size_t *anc) {
    size_t k = 0;
    double c = W[0];
    for (size_t j = 0; j < m; j++) {
        while (u[j] >= c && k + 1 < n) c += W[++k];
        anc[j] = k < n ? k : n - 1;
    }
}

/* Pairwise resolution of the fractional parts (Gerber, Chopin & Whiteley 2019). counts[] holds the
 * integer parts on entry and the final counts on exit. */
static int ssp_counts(const double *W, size_t n, size_t m, gm_rng *rng, size_t *counts) {
    const double eps = 1e-9;
    double *xi = gm_malloc(n * sizeof *xi);
    if (!xi) return GM_ENOMEM;
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        double nw = (double)m * W[k];
        double fl = floor(nw);
        counts[k] = (size_t)fl;
        xi[k] = nw - fl;
        total += counts[k];
    }
    size_t p = n; /* carried unresolved index (n = none) */
    for (size_t k = 0; k < n; k++) {
        if (xi[k] <= eps) continue;
        if (xi[k] >= 1.0 - eps) { counts[k]++; total++; continue; }
        if (p == n) { p = k; continue; }
        double dp = fmin(xi[k], 1.0 - xi[p]); /* delta_i with i = p */
        double dk = fmin(xi[p], 1.0 - xi[k]);
        if (gm_rng_uniform(rng) * (dp + dk) < dk) { xi[p] += dp; xi[k] -= dp; }
        else { xi[p] -= dk; xi[k] += dk; }
        /* at least one of the two is now 0 or 1: settle it, carry the other */
        size_t settle = (xi[p] <= eps || xi[p] >= 1.0 - eps) ? p : k;
        size_t carry = settle == p ? k : p;
        if (xi[settle] >= 1.0 - eps) { counts[settle]++; total++; }
        xi[settle] = 0.0;
        p = (xi[carry] <= eps) ? n : carry;
        if (p != n && xi[p] >= 1.0 - eps) { counts[p]++; total++; xi[p] = 0.0; p = n; }
    }
    int rc = GM_OK;
    if (total + 1 == m && p != n && xi[p] > 0.99) { counts[p]++; total++; }
    if (total != m) rc = gm_set_error(GM_ENUMERIC, "ssp resampling: %zu children for %zu draws after round-off repair", total, m);
    gm_free(xi);
    return rc;
}

int gm_resample(gm_resample_scheme scheme, const double *W, size_t n, size_t m, gm_rng *rng, size_t *anc) {
    if (n < 1 || m < 1) GM_FAIL(GM_EINVAL, "resample: need n >= 1 and m >= 1 (got %zu, %zu)", n, m);
    for (size_t k = 0; k < n; k++)
        if (!(W[k] >= 0.0) || !isfinite(W[k])) GM_FAIL(GM_EINVAL, "resample: weight %zu is %g", k, W[k]);
    int rc = GM_OK;
    if (scheme == GM_RESAMPLE_SSP) {
        size_t *counts = gm_malloc(n * sizeof *counts);
        if (!counts) return GM_ENOMEM;
        rc = ssp_counts(W, n, m, rng, counts);
        if (rc == GM_OK) {
            size_t j = 0;
            for (size_t k = 0; k < n; k++)
                for (size_t c = 0; c < counts[k]; c++) anc[j++] = k;
        }
        gm_free(counts);
        return rc;
    }
    double *u = gm_malloc(m * sizeof *u);
    if (!u) return GM_ENOMEM;
    if (scheme == GM_RESAMPLE_SYSTEMATIC) {
        double U = gm_rng_uniform(rng);
        for (size_t j = 0; j < m; j++) u[j] = (U + (double)j) / (double)m;
    } else if (scheme == GM_RESAMPLE_MULTINOMIAL) {
        /* sorted uniforms from normalised cumulative sums of m + 1 exponentials */
        double s = 0.0;
        for (size_t j = 0; j < m; j++) { s += -log(gm_rng_uniform_pos(rng)); u[j] = s; }
        s += -log(gm_rng_uniform_pos(rng));
        for (size_t j = 0; j < m; j++) u[j] /= s;
    } else {
        gm_free(u);
        GM_FAIL(GM_EINVAL, "resample: unknown scheme %d", (int)scheme);
    }
    inverse_cdf(W, n, u, m, anc);
    gm_free(u);
    return rc;
}

/* max and sum_k exp(x_k - max); the weights are exp(x_k - max)/sum, never exp(x_k - LSE): when |max| is
 * above ~2^52 the LSE's log(sum) term is lost to round-off and the weights would not sum to 1. */
static double max_and_sum(const double *x, size_t n, double *sum) {
    double mx = -HUGE_VAL, s = 0.0;
    for (size_t k = 0; k < n; k++)
        if (x[k] > mx) mx = x[k];
    if (mx != -HUGE_VAL)
        for (size_t k = 0; k < n; k++) s += exp(x[k] - mx);
    *sum = s;
    return mx;
}

double gm_log_weights_normalise(const double *lw, size_t n, double *W) {
    double s, mx = max_and_sum(lw, n, &s);
    for (size_t k = 0; k < n; k++) W[k] = mx == -HUGE_VAL ? 0.0 : exp(lw[k] - mx) / s;
    return mx == -HUGE_VAL ? -HUGE_VAL : mx + log(s);
}

double gm_ess(const double *lw, size_t n) {
    double s, mx = max_and_sum(lw, n, &s);
    if (mx == -HUGE_VAL) return 0.0;
    double s2 = 0.0;
    for (size_t k = 0; k < n; k++) {
        double w = exp(lw[k] - mx) / s;
        s2 += w * w;
    }
    return 1.0 / s2;
}

double gm_log_sum_exp(const double *x, size_t n) {
    double s, mx = max_and_sum(x, n, &s);
    return mx == -HUGE_VAL ? -HUGE_VAL : mx + log(s);
}

int gm_smc_pool_runs(const double *log_z, const double *v, size_t runs, size_t nv, double *mean, double *se) {
    GM_ASSERT(log_z && (v || nv == 0) && (mean || nv == 0));
    double mx = -HUGE_VAL;
    for (size_t k = 0; k < runs; k++) {
        if (isnan(log_z[k]) || log_z[k] == HUGE_VAL) GM_FAIL(GM_EINVAL, "pooling runs: run %zu has log Z^ = %g", k, log_z[k]);
        if (log_z[k] > mx) mx = log_z[k];
    }
    if (mx == -HUGE_VAL) GM_FAIL(GM_EINVAL, "pooling runs: no run has a finite log Z^");
    double sa = 0;
    for (size_t k = 0; k < runs; k++) sa += exp(log_z[k] - mx);
    for (size_t j = 0; j < nv; j++) {
        double m = 0, s2 = 0;
        for (size_t k = 0; k < runs; k++) m += exp(log_z[k] - mx) / sa * v[k * nv + j];
        for (size_t k = 0; k < runs; k++) {
            double a = exp(log_z[k] - mx) / sa, dv = v[k * nv + j] - m;
            s2 += a * a * dv * dv;
        }
        mean[j] = m;
        if (se) se[j] = sqrt(s2);
    }
    return GM_OK;
}

int gm_temper_parse(const char *name, gm_temper_mode *out) {
    if (!strcmp(name, "exp")) *out = GM_TEMPER_EXP;
    else if (!strcmp(name, "none")) *out = GM_TEMPER_NONE;
    else if (!strcmp(name, "adaptive")) *out = GM_TEMPER_ADAPTIVE;
    else GM_FAIL(GM_EINVAL, "unknown tempering '%s' (exp|none|adaptive)", name);
    return GM_OK;
}

double gm_temper_exp(int i, double gamma) {
    double l = pow(1.0 + gamma, (double)i) - 1.0;
    return l < 1.0 ? l : 1.0;
}

double gm_temper_default_gamma(int n_steps) { return pow(2.0, 1.0 / (0.87 * (double)n_steps)) - 1.0; }

/* ESS(lw + base + l*slope)/N, in a scratch-free two-pass form. */
static double ess_frac(const double *lw, const double *base, const double *slope, size_t n, double l) {
    double mx = -HUGE_VAL;
    for (size_t k = 0; k < n; k++) {
        double v = lw[k] + base[k] + l * slope[k];
        if (isfinite(v) && v > mx) mx = v;
    }
    if (mx == -HUGE_VAL) return 0.0;
    double s1 = 0.0, s2 = 0.0;
    for (size_t k = 0; k < n; k++) {
        double v = lw[k] + base[k] + l * slope[k];
        if (!isfinite(v)) continue;
        double e = exp(v - mx);
        s1 += e;
        s2 += e * e;
    }
    return s1 * s1 / s2 / (double)n;
}

double gm_temper_adapt(const double *lw, const double *base, const double *slope, size_t n, double lo,
                       double rho) {
    double hi = 1.0;
    if (lo >= 1.0) return 1.0;
    if (ess_frac(lw, base, slope, n, hi) >= rho) return 1.0;
    if (ess_frac(lw, base, slope, n, lo) < rho) return lo;
    for (int it = 0; it < 100 && hi - lo >= 1e-4; it++) {
        double mid = 0.5 * (lo + hi);
        if (ess_frac(lw, base, slope, n, mid) >= rho) lo = mid;
        else hi = mid;
    }
    return lo;
}
