/* SPDX-License-Identifier: MIT */
/* moe_internal.h — private to src/moe/: the per-row evaluation helpers of moe_lik.c, the fitter object
 * (moe_fit.c creates and steps it, moe_newton.c polishes it). Not installed. */
#ifndef GM_MOE_INTERNAL_H
#define GM_MOE_INTERNAL_H

#include "genmix/moe.h"

/* Scratch for the per-row functions: xt, gt (p each), logpi (k), logf (k*S), L (k). */
typedef struct {
    double *xt, *gt, *logpi, *logf, *L;
    void *block;
} gm__moe_row_scratch;

/* log-sum-exp of v[0..m), v becomes log-softmax(v) */
double gm__moe_log_softmax(double *v, size_t m);
/* Design rows of one observation: xt = (1, x), gt = (1, g(x)). */
void gm__moe_design_rows(gm_moe_gate gate, const double *x, size_t d, double *xt, double *gt);
/* logpi[k] = gate log-probabilities, logf[k*S] = expert class log-probabilities for one row. */
void gm__moe_row_eval(const gm_moe *m, const double *xt, const double *gt, double *logpi, double *logf);
int gm__moe_scratch_alloc(gm__moe_row_scratch *w, const gm_moe *m);
/* ell and posteriors (tau, nullable, n x k) from precomputed design matrices Xt, Gt (n x p each). */
double gm__moe_estep_design(const gm_moe *m, const double *Xt, const double *Gt, const int *y, size_t n,
                            double *tau, gm__moe_row_scratch *w);

struct gm_moe_fitter {
    gm_moe_fit_config cfg;
    const int *y;
    size_t n, d, p, k, S;
    double *Xt, *Gt; /* n x p design rows for experts / gate */
    double *tau;     /* n x k */
    double *wcol;    /* n: posterior column of one expert */
    double *B;       /* solver parameters, max(k-1, S-1) * p */
    double *theta;   /* df */
    gm_moe m;
    gm__moe_row_scratch rs;
    double ll, obj, obj_old;
    size_t iter;
    int flags;
};
/* E-step at the fitter's current model: f->ll, f->tau and the objective (moe_fit.c). */
int gm__moe_fitter_estep(gm_moe_fitter *f);

#endif
