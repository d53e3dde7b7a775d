/* SPDX-License-Identifier: MIT */
/* das_test_util.h — shared helpers of test_das.c and test_das_slow.c: many independent DAS runs with
 * weighted mode fractions, E[r] and Ẑ statistics; the SIR oracle on base samples of the same sampler with
 * delta-method standard errors; the mode-weight match criterion. Test code only (static functions). */
#ifndef DAS_TEST_UTIL_H
#define DAS_TEST_UTIL_H

#include <math.h>
#include <string.h>

#include "genmix/das.h"
#include "gm_test.h"

static gm_diff_schedule sch;
static void init_sch(void) {
    if (sch.T == 0) gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
}

/* A toy mixture with its exact denoiser and the matching toy reward ("gmm1"/"gmm2"); used in place (the
 * denoiser and reward point into the struct). */
typedef struct {
    gm_gmm g;
    gm_denoiser den;
    gm_toy_reward tr;
    gm_reward rw;
} toy_setup;

static void toy_init(toy_setup *s, const char *name) {
    init_sch();
    CHECK_OK(gm_gmm_toy(&s->g, name));
    s->den = gm_gmm_denoiser(&s->g, &sch);
    CHECK_OK(gm_toy_reward_parse(name, 2, &s->tr));
    s->rw = gm_toy_reward_as_reward(&s->tr);
}

/* Create and run one DAS to the end. */
static inline int das_run(gm_das **d, const gm_das_config *c, const gm_denoiser *den, const gm_reward *rw) {
    int rc = gm_das_create(d, c, &sch, den, rw);
    while (rc == GM_OK && !gm_das_done(*d)) rc = gm_das_step(*d);
    return rc;
}

typedef struct {
    double mode[16], mode_se[16]; /* mean over runs of the weighted mode fractions, and their SE */
    double er, er_se;             /* weighted E[r] */
    double logz_mean, zhat_log;   /* mean log Ẑ, log(mean Ẑ) */
    double zhat_rel_se;           /* SE(mean Ẑ)/mean Ẑ */
    double resamples, min_ess_frac, logz_sd;
} das_stats;

static int run_das_many(const gm_gmm *g, const gm_denoiser *den, gm_reward *rw, gm_das_config c, int R, das_stats *st) {
    size_t N = (size_t)c.n_particles, K = g->k;
    double *W = malloc(sizeof(double) * N), sm[16] = {0}, sm2[16] = {0}, se = 0, se2 = 0, sz = 0, sz2 = 0, slz = 0, zmax = -HUGE_VAL;
    int *comp = malloc(sizeof(int) * N), rc = GM_OK;
    double *lzs = malloc(sizeof(double) * (size_t)R);
    memset(st, 0, sizeof *st);
    st->min_ess_frac = 1.0;
    for (int run = 0; run < R && rc == GM_OK; run++) {
        c.seed = 1000 + (uint64_t)run;
        gm_das *d;
        rc = gm_das_create(&d, &c, &sch, den, rw);
        if (rc != GM_OK) break;
        while (rc == GM_OK && !gm_das_done(d)) rc = gm_das_step(d);
        if (rc == GM_OK) {
            gm_das_weights(d, W);
            gm_gmm_assign(g, gm_das_particles(d), N, comp);
            double f[16] = {0}, e = 0;
            for (size_t k = 0; k < N; k++) {
                f[comp[k]] += W[k];
                e += W[k] * gm_das_rewards(d)[k];
            }
            for (size_t k = 0; k < K; k++) {
                sm[k] += f[k];
                sm2[k] += f[k] * f[k];
            }
            se += e;
            se2 += e * e;
            lzs[run] = gm_das_log_evidence(d);
            slz += lzs[run];
            if (lzs[run] > zmax) zmax = lzs[run];
            st->resamples += gm_das_n_resamples(d);
            const gm_das_trace *tr = gm_das_get_trace(d);
            for (int i = 0; i < tr->n; i++)
                if (tr->ess[i] / (double)N < st->min_ess_frac) st->min_ess_frac = tr->ess[i] / (double)N;
        }
        gm_das_free(d);
    }
    double lv = 0;
    for (int run = 0; run < R; run++) lv += (lzs[run] - slz / R) * (lzs[run] - slz / R);
    st->logz_sd = sqrt(lv / (R > 1 ? R - 1 : 1));
    for (int run = 0; run < R; run++) {
        double z = exp(lzs[run] - zmax);
        sz += z;
        sz2 += z * z;
    }
    for (size_t k = 0; k < K; k++) {
        st->mode[k] = sm[k] / R;
        st->mode_se[k] = sqrt(fmax(sm2[k] / R - st->mode[k] * st->mode[k], 0) / R);
    }
    st->er = se / R;
    st->er_se = sqrt(fmax(se2 / R - st->er * st->er, 0) / R);
    st->logz_mean = slz / R;
    st->zhat_log = zmax + log(sz / R);
    st->zhat_rel_se = sqrt(fmax(sz2 / R - (sz / R) * (sz / R), 0) / R) / (sz / R);
    st->resamples /= R;
    free(W);
    free(comp);
    free(lzs);
    return rc;
}

typedef struct {
    double mode[16], mode_se[16], er, er_se, log_z, z_rel_se, ess;
} oracle_stats;

/* SIR oracle on M base samples of the same S-step sampler (exact denoiser). */
static void run_oracle(const gm_gmm *g, const gm_denoiser *den, gm_reward *rw, int S, size_t M, oracle_stats *o) {
    float *x = malloc(sizeof(float) * M * g->dim);
    double *W = malloc(sizeof(double) * M), *r = malloc(sizeof(double) * M);
    int *comp = malloc(sizeof(int) * M);
    CHECK_OK(gm_diff_sample(&sch, den, S, 1.0, GM_SPACING_LEADING, M, 777, x));
    CHECK_OK(gm_sir_oracle(rw, x, M, 1.0, W, &o->log_z, &o->ess, r));
    gm_gmm_assign(g, x, M, comp);
    memset(o->mode, 0, sizeof o->mode);
    o->er = 0;
    for (size_t i = 0; i < M; i++) {
        o->mode[comp[i]] += W[i];
        o->er += W[i] * r[i];
    }
    /* delta-method SEs of the self-normalised estimates: sqrt(sum W_i^2 (f_i - est)^2) */
    for (size_t k = 0; k < g->k; k++) {
        double v = 0;
        for (size_t i = 0; i < M; i++) {
            double f = (comp[i] == (int)k) - o->mode[k];
            v += W[i] * W[i] * f * f;
        }
        o->mode_se[k] = sqrt(v);
    }
    double v = 0, s = 0, s2 = 0;
    for (size_t i = 0; i < M; i++) {
        v += W[i] * W[i] * (r[i] - o->er) * (r[i] - o->er);
        double e = exp(r[i]);
        s += e;
        s2 += e * e;
    }
    o->er_se = sqrt(v);
    o->z_rel_se = sqrt((s2 / M - (s / M) * (s / M)) / M) / (s / M);
    free(x);
    free(W);
    free(r);
    free(comp);
}

/* |DAS - oracle| within 4 combined SE + 0.02 finite-N allowance for every mode. Returns the worst ratio. */
static int modes_match(const das_stats *d, const oracle_stats *o, size_t K, double *worst) {
    int ok = 1;
    *worst = 0;
    for (size_t k = 0; k < K; k++) {
        double tol = 4 * sqrt(d->mode_se[k] * d->mode_se[k] + o->mode_se[k] * o->mode_se[k]) + 0.02;
        double dev = fabs(d->mode[k] - o->mode[k]);
        if (dev / tol > *worst) *worst = dev / tol;
        if (dev > tol) ok = 0;
    }
    return ok;
}

static void report(const char *what, const das_stats *d, const oracle_stats *o, const int *modes, int nm) {
    fprintf(stderr, "  %-26s", what);
    for (int j = 0; j < nm; j++)
        fprintf(stderr, " %.4f±%.4f (or %.4f)", d->mode[modes[j]], d->mode_se[modes[j]], o->mode[modes[j]]);
    fprintf(stderr, "  E[r] %.4f±%.4f (or %.4f)  log mean Z^ %.4f (or %.4f; mean log Z^ %.3f sd %.3f)  resamples %.1f\n", d->er, d->er_se,
            o->er, d->zhat_log, o->log_z, d->logz_mean, d->logz_sd, d->resamples);
}

#endif
