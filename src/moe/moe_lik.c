/* SPDX-License-Identifier: MIT */
/* moe_lik.c — log-likelihood, E-step posteriors, gradient, class and gate probabilities, arg-max
 * prediction and scoring of a gm_moe; the per-row evaluation helpers the fitter shares (moe_internal.h).
 * Owns: nothing beyond call-local scratch. Thread safety: reentrant, single-threaded.
 * Numerics: log-softmax with max subtraction; probability-space E-step with a log-space fallback for tiny
 * mixture probabilities; reductions in a fixed order. */
#include "genmix/moe.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "moe_internal.h"

/* In place: v[0..m-1] <- log-softmax(v); returns the log-sum-exp. */
double gm__moe_log_softmax(double *v, size_t m) {
    double mx = v[0];
    for (size_t i = 1; i < m; i++)
        if (v[i] > mx) mx = v[i];
    double s = 0.0;
    for (size_t i = 0; i < m; i++) s += exp(v[i] - mx);
    double lse = mx + log(s);
    for (size_t i = 0; i < m; i++) v[i] -= lse;
    return lse;
}

/* Design rows of one observation: xt = (1, x), gt = (1, g(x)). */
void gm__moe_design_rows(gm_moe_gate gate, const double *x, size_t d, double *xt, double *gt) {
    xt[0] = gt[0] = 1.0;
    for (size_t j = 0; j < d; j++) {
        xt[j + 1] = x[j];
        gt[j + 1] = gm_moe_gate_apply(gate, x[j]);
    }
}

/* logpi[k] = gate log-probabilities, logf[k*S] = expert class log-probabilities for one row. */
void gm__moe_row_eval(const gm_moe *m, const double *xt, const double *gt, double *logpi, double *logf) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    for (size_t i = 0; i < k; i++) logpi[i] = 0.0;
    for (size_t j = 0; j < p; j++) {
        const double *wr = m->W + j * k;
        double g = gt[j];
        for (size_t i = 0; i < k; i++) logpi[i] += wr[i] * g;
    }
    gm__moe_log_softmax(logpi, k);
    for (size_t i = 0; i < k; i++) {
        double *lf = logf + i * S;
        for (size_t s = 0; s < S; s++) lf[s] = 0.0;
        for (size_t j = 0; j < p; j++) {
            const double *vr = m->V + (i * p + j) * S;
            double xv = xt[j];
            for (size_t s = 0; s < S; s++) lf[s] += vr[s] * xv;
        }
        gm__moe_log_softmax(lf, S);
    }
}


int gm__moe_scratch_alloc(gm__moe_row_scratch *w, const gm_moe *m) {
    size_t p = m->dim + 1, k = m->n_experts, S = m->n_classes;
    w->block = gm_malloc((2 * p + 2 * k + k * S) * sizeof(double));
    if (!w->block) return GM_ENOMEM;
    w->xt = w->block;
    w->gt = w->xt + p;
    w->logpi = w->gt + p;
    w->logf = w->logpi + k;
    w->L = w->logf + k * S;
    return GM_OK;
}

/* ell and posteriors from precomputed design matrices Xt, Gt (n x p each). Works in probability space
 * (k + kS exps and one log per row) and falls back to the log-space path for rows whose mixture
 * probability is tiny (extreme logits), so nothing underflows. */
double gm__moe_estep_design(const gm_moe *m, const double *Xt, const double *Gt, const int *y, size_t n,
                           double *tau, gm__moe_row_scratch *w) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    double ll = 0.0, *q = w->L, *xi = w->logf;
    for (size_t t = 0; t < n; t++) {
        const double *xt = Xt + t * p, *gt = Gt + t * p;
        size_t yt = (size_t)y[t];
        for (size_t i = 0; i < k; i++) q[i] = 0.0;
        for (size_t j = 0; j < p; j++) {
            const double *wr = m->W + j * k;
            for (size_t i = 0; i < k; i++) q[i] += wr[i] * gt[j];
        }
        double mg = q[0];
        for (size_t i = 1; i < k; i++)
            if (q[i] > mg) mg = q[i];
        double zg = 0.0;
        for (size_t i = 0; i < k; i++) zg += (q[i] = exp(q[i] - mg));
        double pt = 0.0;
        for (size_t i = 0; i < k; i++) {
            for (size_t s = 0; s < S; s++) xi[s] = 0.0;
            for (size_t j = 0; j < p; j++) {
                const double *vr = m->V + (i * p + j) * S;
                for (size_t s = 0; s < S; s++) xi[s] += vr[s] * xt[j];
            }
            double mx = xi[0];
            for (size_t s = 1; s < S; s++)
                if (xi[s] > mx) mx = xi[s];
            double zs = 0.0;
            for (size_t s = 0; s < S; s++) zs += exp(xi[s] - mx);
            q[i] = q[i] / zg * (exp(xi[yt] - mx) / zs);
            pt += q[i];
        }
        if (pt > 1e-250) {
            ll += log(pt);
            if (tau)
                for (size_t i = 0; i < k; i++) tau[t * k + i] = q[i] / pt;
        } else {
            gm__moe_row_eval(m, xt, gt, w->logpi, w->logf);
            for (size_t i = 0; i < k; i++) w->L[i] = w->logpi[i] + w->logf[i * S + yt];
            ll += gm__moe_log_softmax(w->L, k);
            if (tau)
                for (size_t i = 0; i < k; i++) tau[t * k + i] = exp(w->L[i]);
        }
    }
    return ll;
}

double gm_moe_loglik(const gm_moe *m, const double *X, const int *y, size_t n, double *tau) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim;
    gm__moe_row_scratch w;
    if (gm__moe_scratch_alloc(&w, m)) return NAN;
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (y[t] < 0 || (size_t)y[t] >= S) {
            ll = NAN;
            break;
        }
        gm__moe_design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        gm__moe_row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        for (size_t i = 0; i < k; i++) w.L[i] = w.logpi[i] + w.logf[i * S + (size_t)y[t]];
        ll += gm__moe_log_softmax(w.L, k);
        if (tau)
            for (size_t i = 0; i < k; i++) tau[t * k + i] = exp(w.L[i]);
    }
    gm_free(w.block);
    return ll;
}

double gm_moe_gradient(const gm_moe *m, const double *X, const int *y, size_t n, double *grad) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    size_t df = gm_moe_df(m), off = (k - 1) * p;
    memset(grad, 0, df * sizeof(double));
    gm__moe_row_scratch w;
    if (gm__moe_scratch_alloc(&w, m)) return NAN;
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        gm__moe_design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        gm__moe_row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        size_t yt = (size_t)y[t];
        for (size_t i = 0; i < k; i++) w.L[i] = w.logpi[i] + w.logf[i * S + yt];
        ll += gm__moe_log_softmax(w.L, k);
        for (size_t i = 0; i + 1 < k; i++) {
            double r = exp(w.L[i]) - exp(w.logpi[i]);
            for (size_t j = 0; j < p; j++) grad[i * p + j] += r * w.gt[j];
        }
        for (size_t i = 0; i < k; i++) {
            double ti = exp(w.L[i]);
            for (size_t s = 0; s + 1 < S; s++) {
                double r = ti * ((s == yt ? 1.0 : 0.0) - exp(w.logf[i * S + s]));
                double *g = grad + off + (i * (S - 1) + s) * p;
                for (size_t j = 0; j < p; j++) g[j] += r * w.xt[j];
            }
        }
    }
    gm_free(w.block);
    return ll;
}

int gm_moe_gate_proba(const gm_moe *m, const double *X, size_t n, double *G) {
    size_t k = m->n_experts, d = m->dim;
    gm__moe_row_scratch w;
    if (gm__moe_scratch_alloc(&w, m)) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        gm__moe_design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        gm__moe_row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        for (size_t i = 0; i < k; i++) G[t * k + i] = exp(w.logpi[i]);
    }
    gm_free(w.block);
    return GM_OK;
}

int gm_moe_predict_proba(const gm_moe *m, const double *X, size_t n, double *P) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim;
    gm__moe_row_scratch w;
    if (gm__moe_scratch_alloc(&w, m)) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        gm__moe_design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        gm__moe_row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        double *pr = P + t * S;
        for (size_t s = 0; s < S; s++) pr[s] = 0.0;
        for (size_t i = 0; i < k; i++) {
            double pi = exp(w.logpi[i]);
            for (size_t s = 0; s < S; s++) pr[s] += pi * exp(w.logf[i * S + s]);
        }
        double tot = 0.0;
        for (size_t s = 0; s < S; s++) tot += pr[s];
        for (size_t s = 0; s < S; s++) pr[s] /= tot;
    }
    gm_free(w.block);
    return GM_OK;
}

int gm_moe_predict(const gm_moe *m, const double *X, size_t n, int *labels) {
    size_t S = m->n_classes, d = m->dim;
    double *P = gm_malloc(S * sizeof(double));
    if (!P) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        if (gm_moe_predict_proba(m, X + t * d, 1, P)) {
            gm_free(P);
            return GM_ENOMEM;
        }
        size_t best = 0;
        for (size_t s = 1; s < S; s++)
            if (P[s] > P[best]) best = s;
        labels[t] = (int)best;
    }
    gm_free(P);
    return GM_OK;
}

void gm_moe_score(const double *P, size_t n, size_t S, const int *y, size_t *n_known, double *accuracy,
                  double *mean_loglik) {
    GM_ASSERT((P != NULL && y != NULL) || n == 0);
    size_t correct = 0, known = 0;
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (y[t] < 0 || (size_t)y[t] >= S) continue;
        size_t best = 0, hit = (size_t)y[t];
        for (size_t s = 0; s < S; s++)
            if (P[t * S + s] > P[t * S + best]) best = s;
        known++;
        correct += best == hit;
        ll += log(P[t * S + hit]);
    }
    if (n_known) *n_known = known;
    if (accuracy) *accuracy = known ? (double)correct / (double)known : (double)NAN;
    if (mean_loglik) *mean_loglik = known ? ll / (double)known : (double)NAN;
}

