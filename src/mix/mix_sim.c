/* SPDX-License-Identifier: MIT */
/* mix_sim.c — replications of the online algorithms (gm_mix_simulate: every run draws its own sample order
 * from the pools; runs in parallel with results independent of the thread count) and their traces.
 * Owns: gm_mix_trace arrays. Thread safety: reentrant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/mix.h"
#include "genmix/rng.h"
#include "mix_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ==== replications =============================================================================== */

void gm_mix_trace_free(gm_mix_trace *t) {
    if (!t) return;
    gm_free(t->objective);
    gm_free(t->score);
    gm_free(t->freq);
    gm_free(t->alpha);
    gm_free(t->qp_alpha);
    memset(t, 0, sizeof *t);
}

static int sim_one(const gm_mix_config *cfg0, const gm_mix_ref *ref, const float *const *pool, const size_t *pool_n,
                   const double *const *pool_terms, size_t run, gm_mix_trace *out) {
    gm_mix_config cfg = *cfg0;
    cfg.run = run;
    size_t m = cfg.m, d = cfg.d, T = cfg.T, B = cfg.lookahead;
    gm_mix *b = NULL;
    size_t *perm[GM_MIX_MAX_ARMS] = {0};
    size_t taken[GM_MIX_MAX_ARMS] = {0};
    float *gx = NULL;
    double *gt = NULL;
    int rc = gm_mix_create(&b, &cfg, ref);
    if (rc) return rc;
    rc = GM_ENOMEM;
    gx = gm_malloc((B ? B : 1) * d * sizeof *gx);
    gt = gm_malloc((B ? B : 1) * GM_MIX_NTERMS * sizeof *gt);
    if (!gx || !gt) goto done;
    for (size_t i = 0; i < m; i++) {
        perm[i] = gm_malloc(pool_n[i] * sizeof **perm);
        if (!perm[i]) goto done;
        for (size_t j = 0; j < pool_n[i]; j++) perm[i][j] = j;
        /* partial Fisher-Yates: the first T positions are a uniform random draw without replacement */
        gm_rng r;
        gm_rng_init(&r, cfg.seed, gm_rng_stream_id(GM_STREAM_ARM, (run << 16) | i));
        size_t lim = T < pool_n[i] ? T : pool_n[i];
        for (size_t j = 0; j < lim; j++) {
            size_t k = j + (size_t)gm_rng_below(&r, pool_n[i] - j);
            size_t tmp = perm[i][j];
            perm[i][j] = perm[i][k];
            perm[i][k] = tmp;
        }
    }
    for (size_t t = 0; t < T; t++) {
        size_t arm;
        if ((rc = gm_mix_select(b, &arm))) goto done;
        if (out->qp_alpha) memcpy(out->qp_alpha + (run * T + t) * m, b->alpha, m * sizeof *b->alpha);
        if (B) {
            if (gm_mix_queued(b, arm) == 0) {
                size_t cnt = pool_n[arm] - taken[arm];
                if (cnt > B) cnt = B;
                if (cnt == 0) {
                    rc = gm_set_error(GM_EINVAL, "arm %zu ran out of samples after %zu pulls", arm, taken[arm]);
                    goto done;
                }
                for (size_t r = 0; r < cnt; r++) {
                    size_t row = perm[arm][taken[arm] + r];
                    memcpy(gx + r * d, pool[arm] + row * d, d * sizeof *gx);
                    if (pool_terms) memcpy(gt + r * GM_MIX_NTERMS, pool_terms[arm] + row * GM_MIX_NTERMS, GM_MIX_NTERMS * sizeof *gt);
                }
                if ((rc = gm_mix_push_ahead(b, arm, gx, cnt, pool_terms ? gt : NULL))) goto done;
                taken[arm] += cnt;
            }
            if ((rc = gm_mix_update(b, arm, NULL, NULL))) goto done;
        } else {
            if (taken[arm] >= pool_n[arm]) {
                rc = gm_set_error(GM_EINVAL, "arm %zu ran out of samples after %zu pulls", arm, taken[arm]);
                goto done;
            }
            size_t row = perm[arm][taken[arm]++];
            if ((rc = gm_mix_update(b, arm, pool[arm] + row * d, pool_terms ? pool_terms[arm] + row * GM_MIX_NTERMS : NULL)))
                goto done;
        }
        double obj = gm_mix_objective(b);
        out->objective[run * T + t] = obj;
        out->score[run * T + t] = gm_mix_score_of(cfg.quad, cfg.lin, obj);
        for (size_t i = 0; i < m; i++) out->freq[(run * T + t) * m + i] = (double)b->n[i] / (double)(t + 1);
    }
    for (size_t i = 0; i < m; i++)
        out->alpha[run * m + i] = (cfg.algo == GM_MIX_CAB || cfg.algo == GM_MIX_GREEDY) ? b->alpha[i]
                                                                                       : (double)b->n[i] / (double)T;
    rc = GM_OK;
done:
    for (size_t i = 0; i < m; i++) gm_free(perm[i]);
    gm_free(gx);
    gm_free(gt);
    gm_mix_free(b);
    return rc;
}

int gm_mix_simulate(const gm_mix_config *cfg, const gm_mix_ref *ref, const float *const *pool, const size_t *pool_n,
                    const double *const *pool_terms, size_t runs, gm_mix_trace *out) {
    GM_ASSERT(cfg != NULL && pool != NULL && pool_n != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    int rc = gm_mix_config_check(cfg);
    if (rc) return rc;
    if (runs < 1) GM_FAIL(GM_EINVAL, "mixing: runs must be >= 1");
    size_t m = cfg->m, T = cfg->T;
    for (size_t i = 0; i < m; i++) {
        if (pool_n[i] == 0) GM_FAIL(GM_EINVAL, "arm %zu is empty", i);
        if (pool_n[i] < T) GM_FAIL(GM_EINVAL, "arm %zu has %zu samples, fewer than the %zu rounds", i, pool_n[i], T);
    }
    if (gm__mix_needs_terms(cfg) && !pool_terms && !ref) GM_FAIL(GM_EINVAL, "mixing: this score needs a reference set");
    if (ref && ref->d != cfg->d) GM_FAIL(GM_ESHAPE, "mixing: reference set has dimension %zu, arms have %zu", ref->d, cfg->d);
    /* per-sample reference terms once for all runs */
    double *own[GM_MIX_MAX_ARMS] = {0};
    const double *terms[GM_MIX_MAX_ARMS];
    if (gm__mix_needs_terms(cfg) && !pool_terms) {
        for (size_t i = 0; i < m; i++) {
            own[i] = gm_malloc(pool_n[i] * GM_MIX_NTERMS * sizeof *own[i]);
            if (!own[i] || (rc = gm_mix_ref_terms(ref, pool[i], pool_n[i], own[i])) != GM_OK) {
                if (!own[i]) rc = GM_ENOMEM;
                for (size_t j = 0; j <= i; j++) gm_free(own[j]);
                return rc;
            }
            terms[i] = own[i];
        }
        pool_terms = terms;
    }
    out->runs = runs;
    out->T = T;
    out->m = m;
    out->objective = gm_malloc(runs * T * sizeof *out->objective);
    out->score = gm_malloc(runs * T * sizeof *out->score);
    out->freq = gm_malloc(runs * T * m * sizeof *out->freq);
    out->alpha = gm_malloc(runs * m * sizeof *out->alpha);
    int qp = cfg->algo == GM_MIX_CAB || cfg->algo == GM_MIX_GREEDY;
    out->qp_alpha = qp ? gm_malloc(runs * T * m * sizeof *out->qp_alpha) : NULL;
    int *rcs = gm_calloc(runs, sizeof *rcs);
    char(*msg)[256] = gm_calloc(runs, sizeof *msg);
    if (!out->objective || !out->score || !out->freq || !out->alpha || (qp && !out->qp_alpha) || !rcs || !msg) {
        rc = GM_ENOMEM;
        goto done;
    }
    /* always inside a parallel region (even for one run): OpenBLAS then runs single-threaded, which is
     * both faster for these small products and independent of the thread count */
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < runs; r++) {
        rcs[r] = sim_one(cfg, ref, pool, pool_n, pool_terms, r, out);
        if (rcs[r]) snprintf(msg[r], sizeof msg[r], "%s", gm_last_error());
    }
    rc = GM_OK;
    for (size_t r = 0; r < runs; r++)
        if (rcs[r]) {
            rc = gm_set_error(rcs[r], "run %zu: %s", r, msg[r]);
            break;
        }
done:
    gm_free(rcs);
    gm_free(msg);
    for (size_t i = 0; i < m; i++) gm_free(own[i]);
    if (rc) gm_mix_trace_free(out);
    return rc;
}

/* ==== summary over runs ========================================================================== */

void gm_mix_trace_summary_free(gm_mix_trace_summary *s) {
    if (!s) return;
    gm_free(s->mean_score);
    gm_free(s->sd_score);
    gm_free(s->mean_objective);
    gm_free(s->mean_freq);
    gm_free(s->mean_qp);
    memset(s, 0, sizeof *s);
}

int gm_mix_trace_summarize(const gm_mix_trace *tr, gm_mix_trace_summary *out) {
    GM_ASSERT(tr != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if (tr->runs == 0 || tr->T == 0 || tr->m == 0 || tr->m > GM_MIX_MAX_ARMS)
        GM_FAIL(GM_EINVAL, "mixing summary: empty trace (runs %zu, rounds %zu, arms %zu)", tr->runs, tr->T, tr->m);
    size_t T = tr->T, m = tr->m, runs = tr->runs;
    out->runs = runs, out->T = T, out->m = m;
    out->mean_score = gm_calloc(T, sizeof(double));
    out->sd_score = gm_calloc(T, sizeof(double));
    out->mean_objective = gm_calloc(T, sizeof(double));
    out->mean_freq = gm_calloc(T * m, sizeof(double));
    if (tr->qp_alpha) out->mean_qp = gm_calloc(T * m, sizeof(double));
    if (!out->mean_score || !out->sd_score || !out->mean_objective || !out->mean_freq || (tr->qp_alpha && !out->mean_qp)) {
        gm_mix_trace_summary_free(out);
        return gm_error_prefix(GM_ENOMEM, "mixing summary");
    }
    for (size_t t = 0; t < T; t++) {
        double s = 0, s2 = 0, o = 0;
        for (size_t k = 0; k < runs; k++) {
            double v = tr->score[k * T + t];
            s += v, s2 += v * v, o += tr->objective[k * T + t];
            for (size_t i = 0; i < m; i++) out->mean_freq[t * m + i] += tr->freq[(k * T + t) * m + i] / (double)runs;
            if (out->mean_qp)
                for (size_t i = 0; i < m; i++) out->mean_qp[t * m + i] += tr->qp_alpha[(k * T + t) * m + i] / (double)runs;
        }
        out->mean_score[t] = s / (double)runs;
        double var = s2 / (double)runs - out->mean_score[t] * out->mean_score[t];
        out->sd_score[t] = runs > 1 && var > 0 ? sqrt(var * (double)runs / (double)(runs - 1)) : 0.0;
        out->mean_objective[t] = o / (double)runs;
    }
    out->final_score_mean = out->mean_score[T - 1];
    out->final_score_sd = out->sd_score[T - 1];
    out->final_objective = out->mean_objective[T - 1];
    for (size_t i = 0; i < m; i++) out->final_weights[i] = out->mean_freq[(T - 1) * m + i];
    return GM_OK;
}
