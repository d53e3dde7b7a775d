/* SPDX-License-Identifier: MIT */
/* diff_sampler.c — noise schedules (linear, cosine), inference timesteps and the DDPM/DDIM(eta) sampler
 * state machine over a gm_denoiser.
 *
 * Owns: the sampler's x and eps buffers. Borrows: schedule and denoiser. Thread safety: one sampler per
 * owner; the per-sample update loop is OpenMP-parallel with per-sample noise streams, so the bits do not
 * depend on the thread count. Numerics: schedule in double; update arithmetic in double, stored as float. */
#include <math.h>
#include <string.h>

#include "genmix/diffusion.h"
#include "genmix/rng.h"

int gm_diff_schedule_init(gm_diff_schedule *s, gm_beta_kind kind, int T) {
    if (T < 1 || T > GM_DIFF_MAX_T) GM_FAIL(GM_EINVAL, "diffusion schedule: T must be in 1..%d (got %d)", GM_DIFF_MAX_T, T);
    s->T = T;
    if (kind == GM_BETA_LINEAR) {
        for (int t = 0; t < T; t++) s->beta[t] = T == 1 ? 1e-4 : 1e-4 + (0.02 - 1e-4) * t / (T - 1);
    } else if (kind == GM_BETA_COSINE) {
        const double c = 0.008, pi = 3.14159265358979323846;
        for (int t = 0; t < T; t++) {
            double f0 = cos(((double)t / T + c) / (1 + c) * pi / 2), f1 = cos(((double)(t + 1) / T + c) / (1 + c) * pi / 2);
            double b = 1.0 - (f1 * f1) / (f0 * f0);
            s->beta[t] = b < 0.999 ? b : 0.999;
        }
    } else {
        GM_FAIL(GM_EINVAL, "diffusion schedule: unknown beta kind %d", (int)kind);
    }
    double ab = 1.0;
    for (int t = 0; t < T; t++) s->alpha_bar[t] = ab *= 1.0 - s->beta[t];
    return GM_OK;
}

int gm_diff_timesteps(const gm_diff_schedule *s, int S, gm_spacing spacing, int *t) {
    if (S < 1 || S > s->T) GM_FAIL(GM_EINVAL, "diffusion: number of steps must be in 1..%d (got %d)", s->T, S);
    if (spacing == GM_SPACING_LEADING) {
        if (s->T % S == 0) {
            int d = s->T / S;
            for (int i = 0; i < S; i++) t[i] = (S - 1 - i) * d + 1;
            if (d == 1)
                for (int i = 0; i < S; i++) t[i] = S - 1 - i; /* every step: T-1..0 */
        } else { /* floor((S-1-i) T/S) + 1: strictly decreasing, top < T, last 1 */
            for (int i = 0; i < S; i++) t[i] = (int)(((long long)(S - 1 - i) * s->T) / S) + 1;
        }
    } else if (spacing == GM_SPACING_LINSPACE) {
        for (int i = 0; i < S; i++) t[i] = S == 1 ? s->T - 1 : (int)lround((double)(s->T - 1) * (S - 1 - i) / (S - 1));
    } else {
        GM_FAIL(GM_EINVAL, "diffusion: unknown timestep spacing %d", (int)spacing);
    }
    return GM_OK;
}

double gm_diff_abar(const gm_diff_schedule *s, int t) { return s->alpha_bar[t < 0 ? 0 : t]; }

double gm_diff_sigma2(double ab, double ab_prev, double eta) {
    if (ab_prev <= ab) return 0.0; /* same (or no) noise level: deterministic */
    return eta * eta * (1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev);
}

struct gm_diff_sampler {
    const gm_diff_schedule *sch;
    gm_denoiser den;
    int S, i;
    double eta;
    size_t n;
    uint64_t seed;
    int *t;
    float *x, *eps;
};

void gm_diff_sampler_free(gm_diff_sampler *s) {
    if (!s) return;
    gm_free(s->t);
    gm_free(s->x);
    gm_free(s->eps);
    gm_free(s);
}

int gm_diff_sampler_create(gm_diff_sampler **out, const gm_diff_schedule *sch, const gm_denoiser *den, int S,
                           double eta, gm_spacing spacing, size_t n, uint64_t seed) {
    *out = NULL;
    if (!(eta >= 0.0 && eta <= 1.0)) GM_FAIL(GM_EINVAL, "diffusion sampler: eta must be in [0, 1] (got %g)", eta);
    if (n < 1) GM_FAIL(GM_EINVAL, "diffusion sampler: need at least one sample");
    gm_diff_sampler *s = gm_calloc(1, sizeof *s);
    if (!s) return GM_ENOMEM;
    s->sch = sch;
    s->den = *den;
    s->S = S;
    s->eta = eta;
    s->n = n;
    s->seed = seed;
    size_t d = den->dim;
    s->t = gm_malloc((S > 0 ? (size_t)S : 1) * sizeof *s->t);
    s->x = gm_malloc(n * d * sizeof *s->x);
    s->eps = gm_malloc(n * d * sizeof *s->eps);
    if (!s->t || !s->x || !s->eps) {
        gm_diff_sampler_free(s);
        return GM_ENOMEM;
    }
    int rc = gm_diff_timesteps(sch, S, spacing, s->t);
    if (rc != GM_OK) {
        gm_diff_sampler_free(s);
        return rc;
    }
#pragma omp parallel for schedule(static) if (n * d > 65536)
    for (size_t k = 0; k < n; k++) {
        gm_rng r;
        gm_rng_init128(&r, seed, gm_rng_stream_id(GM_STREAM_NOISE, k), 0);
        gm_rng_normal_fill(&r, s->x + k * d, d);
    }
    *out = s;
    return GM_OK;
}

int gm_diff_sampler_done(const gm_diff_sampler *s) { return s->i >= s->S; }
const float *gm_diff_sampler_samples(const gm_diff_sampler *s) { return s->x; }

int gm_diff_sampler_step(gm_diff_sampler *s) {
    if (s->i >= s->S) GM_FAIL(GM_EINVAL, "diffusion sampler: already finished");
    size_t d = s->den.dim, n = s->n;
    int t = s->t[s->i], tp = s->i + 1 < s->S ? s->t[s->i + 1] : -1;
    int rc = s->den.eps(s->den.ctx, s->x, n, t, s->eps);
    if (rc != GM_OK) return rc;
    double ab = gm_diff_abar(s->sch, t), abp = gm_diff_abar(s->sch, tp);
    double s2 = gm_diff_sigma2(ab, abp, s->eta), sig = sqrt(s2);
    double ce = sqrt(fmax(1.0 - abp - s2, 0.0)), sa = sqrt(ab), s1a = sqrt(1.0 - ab), sap = sqrt(abp);
    uint64_t block = (uint64_t)s->i + 1;
#pragma omp parallel for schedule(static) if (n * d > 65536)
    for (size_t k = 0; k < n; k++) {
        gm_rng r;
        gm_rng_init128(&r, s->seed, gm_rng_stream_id(GM_STREAM_NOISE, k), block);
        float *x = s->x + k * d;
        const float *e = s->eps + k * d;
        for (size_t j = 0; j < d; j++) {
            double x0 = ((double)x[j] - s1a * (double)e[j]) / sa;
            double v = sap * x0 + ce * (double)e[j];
            if (s2 > 0.0) v += sig * gm_rng_normal(&r);
            x[j] = (float)v;
        }
    }
    s->i++;
    return GM_OK;
}

int gm_diff_sample(const gm_diff_schedule *sch, const gm_denoiser *den, int S, double eta, gm_spacing spacing,
                   size_t n, uint64_t seed, float *out) {
    gm_diff_sampler *s;
    int rc = gm_diff_sampler_create(&s, sch, den, S, eta, spacing, n, seed);
    while (rc == GM_OK && !gm_diff_sampler_done(s)) rc = gm_diff_sampler_step(s);
    if (rc == GM_OK) memcpy(out, s->x, n * den->dim * sizeof *out);
    gm_diff_sampler_free(s);
    return rc;
}

int gm_diff_gauss_marginal(const gm_diff_schedule *sch, int S, double eta, gm_spacing spacing, double m, double s2,
                           double *mean, double *var) {
    int *t = gm_malloc((S > 0 ? (size_t)S : 1) * sizeof *t);
    if (!t) return GM_ENOMEM;
    int rc = gm_diff_timesteps(sch, S, spacing, t);
    double mu = 0.0, v = 1.0;
    for (int i = 0; rc == GM_OK && i < S; i++) {
        double ab = gm_diff_abar(sch, t[i]), abp = gm_diff_abar(sch, i + 1 < S ? t[i + 1] : -1);
        double sg2 = gm_diff_sigma2(ab, abp, eta), ce = sqrt(fmax(1 - abp - sg2, 0));
        double k = sqrt(1 - ab) / (ab * s2 + 1 - ab); /* eps^ = k (x - sqrt(ab) m) */
        double ea = k, eb = -k * sqrt(ab) * m;
        double xa = (1 - sqrt(1 - ab) * ea) / sqrt(ab), xb = -sqrt(1 - ab) * eb / sqrt(ab);
        double a = sqrt(abp) * xa + ce * ea, b = sqrt(abp) * xb + ce * eb;
        mu = a * mu + b;
        v = a * a * v + sg2;
    }
    gm_free(t);
    *mean = mu;
    *var = v;
    return rc;
}
