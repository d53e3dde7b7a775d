/* SPDX-License-Identifier: MIT */
/* smc.c — the particle system state machine: unnormalised log-weights, log Ẑ, ESS-triggered resampling
 * that gathers every registered per-particle array through one ancestor vector.
 *
 * Owns: log-weights, normalised-weight and ancestor buffers, one scratch buffer for the gather.
 * Borrows: the registered arrays. Thread safety: one gm_smc per thread. Everything here is O(N) serial
 * work in a fixed order, so results never depend on the thread count.
 *
 * module: smc (src/smc/) owns sequential Monte Carlo: the particle system, resampling, tempering, and DAS
 * test-time alignment with its rewards and baselines (genmix/smc.h, genmix/das.h). It sits above diffusion,
 * whose samplers DAS drives, and uses core, io, linalg, nn and eval. */
#include <math.h>
#include <string.h>

#include "genmix/smc.h"

#define SMC_MAX_ARRAYS 32
#define SMC_RESAMPLE_ENTITY ((uint64_t)1 << 55)

struct gm_smc {
    gm_smc_config cfg;
    size_t n;
    double *lw, *W;
    size_t *anc;
    unsigned char *scratch;
    size_t scratch_bytes;
    void *arr[SMC_MAX_ARRAYS];
    size_t row_bytes[SMC_MAX_ARRAYS];
    int n_arrays;
    double log_z, ess;
    double lse; /* LSE(lw), kept from the last reweighting: the next step's "before" term */
    int steps, resamples;
};

gm_smc_config gm_smc_config_default(size_t n_particles) {
    gm_smc_config c;
    memset(&c, 0, sizeof c);
    c.n_particles = n_particles;
    c.ess_threshold = 0.5;
    c.scheme = GM_RESAMPLE_SSP;
    c.seed = 42;
    return c;
}

int gm_smc_create(gm_smc **out, const gm_smc_config *cfg) {
    *out = NULL;
    if (cfg->n_particles < 1) GM_FAIL(GM_EINVAL, "smc: number of particles must be >= 1");
    if (!(cfg->ess_threshold == cfg->ess_threshold))
        GM_FAIL(GM_EINVAL, "smc: ESS threshold is NaN");
    if ((unsigned)cfg->scheme > GM_RESAMPLE_MULTINOMIAL) GM_FAIL(GM_EINVAL, "smc: unknown resampling scheme %d", (int)cfg->scheme);
    gm_smc *s = gm_calloc(1, sizeof *s);
    if (!s) return GM_ENOMEM;
    s->cfg = *cfg;
    s->n = cfg->n_particles;
    s->lw = gm_calloc(s->n, sizeof *s->lw);
    s->W = gm_calloc(s->n, sizeof *s->W);
    s->anc = gm_calloc(s->n, sizeof *s->anc);
    if (!s->lw || !s->W || !s->anc) {
        gm_smc_free(s);
        return GM_ENOMEM;
    }
    for (size_t k = 0; k < s->n; k++) s->anc[k] = k;
    s->ess = (double)s->n;
    s->lse = log((double)s->n);
    *out = s;
    return GM_OK;
}

void gm_smc_free(gm_smc *s) {
    if (!s) return;
    gm_free(s->lw);
    gm_free(s->W);
    gm_free(s->anc);
    gm_free(s->scratch);
    gm_free(s);
}

int gm_smc_register(gm_smc *s, void *data, size_t row_bytes) {
    if (s->n_arrays >= SMC_MAX_ARRAYS) GM_FAIL(GM_EINVAL, "smc: more than %d registered arrays", SMC_MAX_ARRAYS);
    if (!data || row_bytes == 0) GM_FAIL(GM_EINVAL, "smc: registered array needs data and a row width");
    if (row_bytes * s->n > s->scratch_bytes) {
        unsigned char *p = gm_realloc(s->scratch, row_bytes * s->n);
        if (!p) return GM_ENOMEM;
        s->scratch = p;
        s->scratch_bytes = row_bytes * s->n;
    }
    s->arr[s->n_arrays] = data;
    s->row_bytes[s->n_arrays] = row_bytes;
    s->n_arrays++;
    return GM_OK;
}

int gm_smc_resample_now(gm_smc *s) {
    gm_rng r;
    gm_rng_init128(&r, s->cfg.seed, gm_rng_stream_id(GM_STREAM_PARTICLE, SMC_RESAMPLE_ENTITY), (uint64_t)s->steps);
    gm_log_weights_normalise(s->lw, s->n, s->W);
    int rc = gm_resample(s->cfg.scheme, s->W, s->n, s->n, &r, s->anc);
    if (rc != GM_OK) return rc;
    for (int a = 0; a < s->n_arrays; a++) {
        size_t rb = s->row_bytes[a];
        unsigned char *base = s->arr[a];
        for (size_t k = 0; k < s->n; k++) memcpy(s->scratch + k * rb, base + s->anc[k] * rb, rb);
        memcpy(base, s->scratch, rb * s->n);
    }
    for (size_t k = 0; k < s->n; k++) s->lw[k] = 0.0;
    s->lse = log((double)s->n); /* LSE of n zero log-weights */
    s->resamples++;
    return GM_OK;
}

/* One pass for both: LSE(lw) = mx + log(s1) (the operations of gm_log_sum_exp, so the bits are the same)
 * and ESS = s1^2 / s2 with s1 = sum e_k, s2 = sum e_k^2, e_k = exp(lw_k - mx). */
static double lse_and_ess(const double *lw, size_t n, double *ess) {
    double mx = -HUGE_VAL, s1 = 0.0, s2 = 0.0;
    for (size_t k = 0; k < n; k++)
        if (lw[k] > mx) mx = lw[k];
    if (mx == -HUGE_VAL) {
        *ess = 0.0;
        return -HUGE_VAL;
    }
    for (size_t k = 0; k < n; k++) {
        double e = exp(lw[k] - mx);
        s1 += e;
        s2 += e * e;
    }
    *ess = s1 * s1 / s2;
    return mx + log(s1);
}

int gm_smc_reweight(gm_smc *s, const double *a) {
    for (size_t k = 0; k < s->n; k++)
        if (isnan(a[k]) || a[k] == HUGE_VAL)
            GM_FAIL(GM_ENUMERIC, "smc step %d: incremental log-weight of particle %zu is %g", s->steps, k, a[k]);
    double before = s->lse; /* LSE of the current lw, computed when they were set */
    for (size_t k = 0; k < s->n; k++) s->lw[k] += a[k];
    double ess, after = lse_and_ess(s->lw, s->n, &ess);
    if (after == -HUGE_VAL) GM_FAIL(GM_ENUMERIC, "smc step %d: every particle has weight zero", s->steps);
    s->log_z += after - before;
    s->lse = after;
    s->ess = ess;
    for (size_t k = 0; k < s->n; k++) s->anc[k] = k;
    return GM_OK;
}

int gm_smc_step(gm_smc *s, const double *a, int *resampled) {
    if (resampled) *resampled = 0;
    int rc = gm_smc_reweight(s, a);
    if (rc != GM_OK) return rc;
    if (s->ess < s->cfg.ess_threshold * (double)s->n) {
        rc = gm_smc_resample_now(s);
        if (rc == GM_OK && resampled) *resampled = 1;
    }
    s->steps++;
    return rc;
}

size_t gm_smc_size(const gm_smc *s) { return s->n; }
const double *gm_smc_log_weights(const gm_smc *s) { return s->lw; }
void gm_smc_weights(const gm_smc *s, double *W) { gm_log_weights_normalise(s->lw, s->n, W); }
double gm_smc_ess(const gm_smc *s) { return s->ess; }
double gm_smc_log_evidence(const gm_smc *s) { return s->log_z; }
const size_t *gm_smc_ancestors(const gm_smc *s) { return s->anc; }
int gm_smc_n_steps(const gm_smc *s) { return s->steps; }
int gm_smc_n_resamples(const gm_smc *s) { return s->resamples; }
