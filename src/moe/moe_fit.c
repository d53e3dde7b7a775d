/* SPDX-License-Identifier: MIT */
/* moe_fit.c — fitting a MoE: the EM fitter state machine (create / iterate / test / free; GSL style, the
 * caller owns the loop), restarts with random-partition starts (gm_moe_fit) and choosing the number of
 * experts by an information criterion (gm_moe_select).
 * Owns: the fitter's work buffers (design rows, posteriors, solver parameters) and the results' arrays.
 * Thread safety: a fitter is used by one thread at a time; no shared state. */
#include "genmix/moe.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "moe_internal.h"

#include "genmix/rng.h"

/* ============================================================================================== */
/* EM fitter (create / iterate / test / free)                                                      */
/* ============================================================================================== */

gm_moe_fit_config gm_moe_fit_config_default(void) {
    gm_moe_fit_config c;
    c.n_experts = 2;
    c.gate = GM_MOE_GATE_IDENTITY;
    c.n_restarts = 10;
    c.init = GM_MOE_INIT_RANDOM_PARTITION;
    c.max_iter = 5000;
    c.tol = 1e-8;
    c.inner_max_iter = 300;
    c.ridge = 1e-8;
    c.max_abs_coef = 1e3;
    c.degenerate_coef = 50.0;
    c.min_prior = 0.01;
    c.polish = 1;
    c.seed = 0;
    return c;
}


int gm_moe_check_labels(const int *y, size_t n, size_t n_classes) {
    size_t *cnt = gm_calloc(n_classes, sizeof(size_t));
    if (!cnt) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        if (y[t] < 0 || (size_t)y[t] >= n_classes) {
            int v = y[t];
            gm_free(cnt);
            GM_FAIL(GM_EINVAL, "moe: label %d of row %zu is outside 0..%zu", v, t + 1, n_classes - 1);
        }
        cnt[y[t]]++;
    }
    for (size_t s = 0; s < n_classes; s++)
        if (cnt[s] == 0) {
            gm_free(cnt);
            GM_FAIL(GM_EINVAL, "moe: class %zu has no rows", s);
        }
    gm_free(cnt);
    return GM_OK;
}


static double penalty(const gm_moe_fitter *f) {
    if (f->cfg.ridge == 0.0) return 0.0;
    size_t df = gm_moe_df(&f->m);
    gm_moe_pack(&f->m, f->theta);
    double s = 0.0;
    for (size_t i = 0; i < df; i++) s += f->theta[i] * f->theta[i];
    return f->cfg.ridge * s;
}

int gm__moe_fitter_estep(gm_moe_fitter *f) {
    f->ll = gm__moe_estep_design(&f->m, f->Xt, f->Gt, f->y, f->n, f->tau, &f->rs);
    f->obj = f->ll - penalty(f);
    if (!isfinite(f->obj)) GM_FAIL(GM_ENUMERIC, "moe: non-finite log-likelihood at EM iteration %zu", f->iter);
    return GM_OK;
}

static int fitter_mstep(gm_moe_fitter *f) {
    size_t k = f->k, S = f->S, p = f->p, n = f->n;
    gm_mlogit_options o = gm_mlogit_options_default();
    o.max_iter = f->cfg.inner_max_iter;
    o.max_abs_coef = f->cfg.max_abs_coef;
    int rc;
    if (k > 1) {
        for (size_t c = 0; c + 1 < k; c++)
            for (size_t j = 0; j < p; j++) f->B[c * p + j] = f->m.W[j * k + c];
        rc = gm_mlogit_newton(f->B, f->Gt, n, p, k, f->tau, NULL, NULL, f->cfg.ridge, &o, NULL, NULL);
        if (rc) return rc;
        for (size_t c = 0; c + 1 < k; c++)
            for (size_t j = 0; j < p; j++) f->m.W[j * k + c] = f->B[c * p + j];
    }
    for (size_t i = 0; i < k; i++) {
        for (size_t t = 0; t < n; t++) f->wcol[t] = f->tau[t * k + i];
        for (size_t s = 0; s + 1 < S; s++)
            for (size_t j = 0; j < p; j++) f->B[s * p + j] = f->m.V[(i * p + j) * S + s];
        rc = gm_mlogit_newton(f->B, f->Xt, n, p, S, NULL, f->y, f->wcol, f->cfg.ridge, &o, NULL, NULL);
        if (rc) return rc;
        for (size_t s = 0; s + 1 < S; s++)
            for (size_t j = 0; j < p; j++) f->m.V[(i * p + j) * S + s] = f->B[s * p + j];
    }
    return GM_OK;
}

static void update_degenerate(gm_moe_fitter *f) {
    size_t df = gm_moe_df(&f->m), k = f->k;
    gm_moe_pack(&f->m, f->theta);
    double mx = 0.0;
    for (size_t i = 0; i < df; i++) mx = fmax(mx, fabs(f->theta[i]));
    int deg = mx > f->cfg.degenerate_coef;
    for (size_t i = 0; i < k && !deg && k > 1; i++) {
        double s = 0.0;
        for (size_t t = 0; t < f->n; t++) s += f->tau[t * k + i];
        if (s / (double)f->n < f->cfg.min_prior) deg = 1;
    }
    if (deg)
        f->flags |= GM_MOE_DEGENERATE;
    else
        f->flags &= ~GM_MOE_DEGENERATE;
}

void gm_moe_fitter_free(gm_moe_fitter *f) {
    if (!f) return;
    gm_free(f->Xt);
    gm_free(f->Gt);
    gm_free(f->tau);
    gm_free(f->wcol);
    gm_free(f->B);
    gm_free(f->theta);
    gm_free(f->rs.block);
    gm_moe_free(&f->m);
    gm_free(f);
}

int gm_moe_fitter_create(gm_moe_fitter **out, const gm_moe_fit_config *cfg, const double *X, const int *y,
                         size_t n, size_t d, size_t n_classes, const gm_moe *init, size_t restart) {
    *out = NULL;
    if (cfg->n_experts < 1) GM_FAIL(GM_EINVAL, "moe: number of experts K must be >= 1 (got %zu)", cfg->n_experts);
    if (n == 0) GM_FAIL(GM_EINVAL, "moe: no data rows");
    if (!(cfg->tol >= 0.0) || !(cfg->ridge >= 0.0) || !(cfg->max_abs_coef > 0.0))
        GM_FAIL(GM_EINVAL, "moe: tol and ridge must be >= 0, max_abs_coef > 0");
    for (size_t t = 0; t < n * d; t++)
        if (!isfinite(X[t])) GM_FAIL(GM_EINVAL, "moe: non-finite feature in row %zu, column %zu", t / d + 1, t % d + 1);
    int rc = gm_moe_check_labels(y, n, n_classes);
    if (rc) return rc;
    if (init && (init->n_experts != cfg->n_experts || init->n_classes != n_classes || init->dim != d ||
                 init->gate != cfg->gate))
        GM_FAIL(GM_EINVAL, "moe: initial model has shape (K=%zu, S=%zu, d=%zu, gate %d), fit wants (%zu, %zu, %zu, %d)",
                init->n_experts, init->n_classes, init->dim, (int)init->gate, cfg->n_experts, n_classes, d,
                (int)cfg->gate);
    gm_moe_fitter *f = gm_calloc(1, sizeof *f);
    if (!f) return GM_ENOMEM;
    f->cfg = *cfg;
    f->y = y;
    f->n = n;
    f->d = d;
    f->p = d + 1;
    f->k = cfg->n_experts;
    f->S = n_classes;
    size_t p = f->p, k = f->k, S = n_classes;
    rc = gm_moe_init(&f->m, k, S, d, cfg->gate);
    if (rc) goto fail;
    rc = GM_ENOMEM;
    f->Xt = gm_malloc(n * p * sizeof(double));
    f->Gt = gm_malloc(n * p * sizeof(double));
    f->tau = gm_malloc(n * k * sizeof(double));
    f->wcol = gm_malloc(n * sizeof(double));
    f->B = gm_malloc((k > S ? k : S) * p * sizeof(double));
    f->theta = gm_malloc((gm_moe_df(&f->m) + 1) * sizeof(double));
    if (!f->Xt || !f->Gt || !f->tau || !f->wcol || !f->B || !f->theta) goto fail;
    if (gm__moe_scratch_alloc(&f->rs, &f->m)) goto fail;
    for (size_t t = 0; t < n; t++) gm__moe_design_rows(cfg->gate, X + t * d, d, f->Xt + t * p, f->Gt + t * p);

    if (init) {
        size_t pp = d + 1;
        memcpy(f->m.W, init->W, pp * k * sizeof(double));
        memcpy(f->m.V, init->V, k * pp * S * sizeof(double));
        gm_moe_normalize(&f->m);
    } else {
        gm_rng r;
        gm_rng_init(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_INIT, restart));
        if (cfg->init == GM_MOE_INIT_RANDOM_PARAMS) {
            size_t df = gm_moe_df(&f->m);
            for (size_t i = 0; i < df; i++) f->theta[i] = 0.1 * gm_rng_normal(&r);
            gm_moe_unpack(&f->m, f->theta);
        } else {
            for (size_t t = 0; t < n; t++) {
                size_t z = (size_t)gm_rng_below(&r, k);
                for (size_t i = 0; i < k; i++)
                    f->tau[t * k + i] = k == 1 ? 1.0 : (i == z ? 0.9 : 0.1 / (double)(k - 1));
            }
            rc = fitter_mstep(f);
            if (rc) goto fail;
        }
    }
    rc = gm__moe_fitter_estep(f);
    if (rc) goto fail;
    f->obj_old = -INFINITY;
    update_degenerate(f);
    *out = f;
    return GM_OK;
fail:
    gm_moe_fitter_free(f);
    return rc;
}

int gm_moe_fitter_iterate(gm_moe_fitter *f) {
    int rc = fitter_mstep(f);
    if (rc) return rc;
    f->obj_old = f->obj;
    f->iter++;
    rc = gm__moe_fitter_estep(f);
    if (rc) return rc;
    if (f->obj < f->obj_old - 1e-8 * fabs(f->obj_old)) f->flags |= GM_MOE_NONMONOTONE;
    return GM_OK;
}

int gm_moe_fitter_test(const gm_moe_fitter *f) {
    if (f->iter == 0) return 0;
    return fabs(f->obj - f->obj_old) <= f->cfg.tol * fabs(f->obj_old);
}

size_t gm_moe_fitter_iter(const gm_moe_fitter *f) { return f->iter; }
double gm_moe_fitter_loglik(const gm_moe_fitter *f) { return f->ll; }
double gm_moe_fitter_objective(const gm_moe_fitter *f) { return f->obj; }
const gm_moe *gm_moe_fitter_model(const gm_moe_fitter *f) { return &f->m; }
const double *gm_moe_fitter_tau(const gm_moe_fitter *f) { return f->tau; }
int gm_moe_fitter_flags(const gm_moe_fitter *f) {
    gm_moe_fitter *g = (gm_moe_fitter *)f; /* refresh the cached degeneracy flag */
    update_degenerate(g);
    return f->flags;
}

/* ============================================================================================== */
/* restarts                                                                                        */
/* ============================================================================================== */

void gm_moe_fit_result_free(gm_moe_fit_result *res) {
    if (!res) return;
    gm_moe_free(&res->model);
    gm_free(res->restart_loglik);
    gm_free(res->restart_flags);
    memset(res, 0, sizeof *res);
}

int gm_moe_fit(const gm_moe_fit_config *cfg, const double *X, const int *y, size_t n, size_t d,
               size_t n_classes, const gm_moe *init, gm_moe_fit_result *res) {
    memset(res, 0, sizeof *res);
    if (cfg->n_restarts < 1 || cfg->n_restarts > GM_MOE_MAX_RESTARTS)
        GM_FAIL(GM_EINVAL, "moe: n_restarts = %zu must be in 1..%d", cfg->n_restarts, GM_MOE_MAX_RESTARTS);
    if (cfg->max_iter < 1) GM_FAIL(GM_EINVAL, "moe: max_iter must be >= 1");
    size_t R = cfg->n_restarts;
    int rc = GM_OK;
    res->restart_loglik = gm_malloc(R * sizeof(double));
    res->restart_flags = gm_malloc(R * sizeof(int));
    if (!res->restart_loglik || !res->restart_flags) {
        gm_moe_fit_result_free(res);
        return GM_ENOMEM;
    }
    res->n_restarts = R;
    int have = 0, best_deg = 1;
    double best_obj = -INFINITY;
    double *tau = NULL, *grad = NULL;
    for (size_t r = 0; r < R; r++) {
        gm_moe_fitter *f;
        rc = gm_moe_fitter_create(&f, cfg, X, y, n, d, n_classes, r == 0 ? init : NULL, r);
        if (rc) goto fail;
        while (!gm_moe_fitter_test(f) && gm_moe_fitter_iter(f) < cfg->max_iter) {
            rc = gm_moe_fitter_iterate(f);
            if (rc) {
                gm_moe_fitter_free(f);
                goto fail;
            }
        }
        f->flags |= gm_moe_fitter_test(f) ? GM_MOE_CONVERGED : GM_MOE_MAXITER;
        update_degenerate(f);
        if (cfg->polish && !(f->flags & GM_MOE_DEGENERATE)) {
            rc = gm_moe_fitter_polish(f);
            if (rc) {
                gm_moe_fitter_free(f);
                goto fail;
            }
            update_degenerate(f);
        }
        int deg = (f->flags & GM_MOE_DEGENERATE) != 0;
        res->restart_loglik[r] = f->ll;
        res->restart_flags[r] = f->flags;
        int better = !have || (best_deg && !deg) || (deg == best_deg && f->obj > best_obj);
        if (better) {
            gm_moe_free(&res->model);
            rc = gm_moe_copy(&res->model, &f->m);
            if (rc) {
                gm_moe_fitter_free(f);
                goto fail;
            }
            have = 1;
            best_deg = deg;
            best_obj = f->obj;
            res->loglik = f->ll;
            res->objective = f->obj;
            res->iterations = f->iter;
            res->flags = f->flags;
            res->best_restart = r;
        }
        gm_moe_fitter_free(f);
    }
    {
        size_t k = res->model.n_experts, df = gm_moe_df(&res->model);
        tau = gm_malloc(n * k * sizeof(double));
        grad = gm_malloc((df + 1) * sizeof(double));
        rc = GM_ENOMEM;
        if (!tau || !grad) goto fail;
        if (isnan(gm_moe_loglik(&res->model, X, y, n, tau)) || isnan(gm_moe_gradient(&res->model, X, y, n, grad)))
            goto fail; /* rc is GM_ENOMEM: the row scratch (the labels were checked by the fitter) */
        res->grad_norm = 0.0;
        for (size_t i = 0; i < df; i++) res->grad_norm = fmax(res->grad_norm, fabs(grad[i]));
        double ent = 0.0;
        for (size_t i = 0; i < n * k; i++)
            if (tau[i] > 0.0) ent += tau[i] * log(tau[i]);
        res->df = df;
        res->n = n;
        res->aic = -2.0 * res->loglik + 2.0 * (double)df;
        res->bic = -2.0 * res->loglik + (double)df * log((double)n);
        res->icl = res->bic - 2.0 * ent;
    }
    gm_free(tau);
    gm_free(grad);
    return GM_OK;
fail:
    gm_free(tau);
    gm_free(grad);
    gm_moe_fit_result_free(res);
    return rc;
}

/* ============================================================================================== */
/* choosing k                                                                                      */
/* ============================================================================================== */

double gm_moe_criterion_value(const gm_moe_fit_result *r, gm_moe_criterion c) {
    return c == GM_MOE_SELECT_AIC ? r->aic : (c == GM_MOE_SELECT_ICL ? r->icl : r->bic);
}

void gm_moe_select_result_free(gm_moe_select_result *res) {
    if (!res) return;
    if (res->fits)
        for (size_t k = 0; k < res->k_max; k++) gm_moe_fit_result_free(&res->fits[k]);
    gm_free(res->fits);
    memset(res, 0, sizeof *res);
}

int gm_moe_select(const gm_moe_fit_config *cfg, const double *X, const int *y, size_t n, size_t d,
                  size_t n_classes, size_t k_max, gm_moe_criterion criterion, gm_moe_select_result *res) {
    memset(res, 0, sizeof *res);
    if (k_max < 1) GM_FAIL(GM_EINVAL, "moe select: the largest number of experts must be >= 1 (got %zu)", k_max);
    res->fits = gm_calloc(k_max, sizeof(gm_moe_fit_result));
    if (!res->fits) return GM_ENOMEM;
    res->k_max = k_max;
    res->criterion = criterion;
    int best_deg = 1;
    double best = INFINITY;
    for (size_t k = 1; k <= k_max; k++) {
        gm_moe_fit_config c = *cfg;
        c.n_experts = k;
        int rc = gm_moe_fit(&c, X, y, n, d, n_classes, NULL, &res->fits[k - 1]);
        if (rc) {
            gm_moe_select_result_free(res);
            return rc;
        }
        const gm_moe_fit_result *r = &res->fits[k - 1];
        int deg = (r->flags & GM_MOE_DEGENERATE) != 0;
        double v = gm_moe_criterion_value(r, criterion);
        if (res->best_k == 0 || (best_deg && !deg) || (deg == best_deg && v < best)) {
            res->best_k = k;
            best = v;
            best_deg = deg;
        }
    }
    return GM_OK;
}
