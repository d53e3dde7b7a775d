/* SPDX-License-Identifier: MIT */
/* moe_newton.c — the Newton parts of the MoE module: dense SPD solves (naive Cholesky, LAPACKE dposv for
 * m >= 48), the regularised Newton and eigenvalue-clipped polish directions, the multinomial-logit
 * objective and Newton solver shared by the gate and expert M-steps, the fitter's Newton polish
 * (finite-difference Hessian of the penalised gradient) and the standard errors.
 * Owns: call-local work buffers. Thread safety: reentrant, single-threaded. */
#include "genmix/moe.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "genmix/linalg.h"
#include "moe_internal.h"

/* ============================================================================================== */
/* dense symmetric positive-definite solves                                                        */
/* ============================================================================================== */

/* Solve A X = B for symmetric positive definite A (m x m, row-major, destroyed), B (m x nrhs, row-major,
 * overwritten by X). Returns 0, or 1 if A is not positive definite. LAPACKE dposv for systems of size
 * >= 48; smaller ones by the naive Cholesky, because OpenBLAS's threading overhead dominates tiny solves
 * (measured: > 50% of EM time at m = 2..6 in libgomp). */
static int spd_solve(double *A, double *B, size_t m, size_t nrhs) {
    return (m >= 48 ? gm_la_spd_solve : gm_la_spd_solve_ref)(A, B, m, nrhs) != GM_OK;
}

/* Newton direction: solve (H + mu I) delta = g for the negative Hessian H (m x m), raising mu from 0 by
 * factors of 10 until the matrix is positive definite. work: m*m. Returns 0 or 1 (gave up). */
static int newton_direction(const double *H, const double *g, size_t m, double *delta, double *work) {
    double mu = 0.0, dmax = 0.0;
    for (size_t i = 0; i < m; i++) dmax = fmax(dmax, fabs(H[i * m + i]));
    for (int tries = 0; tries < 40; tries++) {
        memcpy(work, H, m * m * sizeof(double));
        for (size_t i = 0; i < m; i++) work[i * m + i] += mu;
        memcpy(delta, g, m * sizeof(double));
        int bad = spd_solve(work, delta, m, 1);
        for (size_t i = 0; i < m && !bad; i++)
            if (!isfinite(delta[i])) bad = 1;
        if (!bad) return 0;
        mu = mu == 0.0 ? 1e-10 * (1.0 + dmax) : mu * 10.0;
    }
    return 1;
}

/* Saddle-free Newton direction for the polish: delta = V |Lambda|^-1 V^T g with the eigenvalues of the
 * negative Hessian replaced by max(|lambda|, 1e-8 max|lambda|), so that delta is an ascent direction even
 * where ell is not concave; the step is then capped to max|delta_i| <= 1. Eigen-decomposition by
 * gm_la_syev: LAPACK for m >= 48, its Jacobi reference below (OpenBLAS threading overhead dominates tiny
 * problems). work: m*m + m; Q row c = eigenvector of ev[c]. Returns 0, 1 (no direction) or -1 (ENOMEM). */
static int polish_direction(const double *H, const double *g, size_t m, double *delta, double *work) {
    double *Q = work, *ev = work + m * m;
    memcpy(Q, H, m * m * sizeof(double));
    int rc = (m >= 48 ? gm_la_syev : gm_la_syev_ref)(Q, m, ev, 1);
    if (rc == GM_ENOMEM) return -1; /* the Jacobi reference's work arrays: an error, not a failed step */
    if (rc != GM_OK) return 1;
    double emax = 0.0;
    for (size_t i = 0; i < m; i++) emax = fmax(emax, fabs(ev[i]));
    if (!(emax > 0.0)) return 1;
    memset(delta, 0, m * sizeof(double));
    for (size_t c = 0; c < m; c++) {
        double proj = 0.0;
        for (size_t i = 0; i < m; i++) proj += Q[c * m + i] * g[i];
        proj /= fmax(fabs(ev[c]), 1e-8 * emax);
        for (size_t i = 0; i < m; i++) delta[i] += proj * Q[c * m + i];
    }
    double mx = 0.0;
    for (size_t i = 0; i < m; i++) {
        if (!isfinite(delta[i])) return 1;
        mx = fmax(mx, fabs(delta[i]));
    }
    if (mx > 1.0)
        for (size_t i = 0; i < m; i++) delta[i] /= mx;
    return 0;
}

/* ============================================================================================== */
/* multinomial-logit objective and Newton solver                                                   */
/* ============================================================================================== */

gm_mlogit_options gm_mlogit_options_default(void) {
    gm_mlogit_options o;
    o.max_iter = 300;
    o.rtol = 1e-7;
    o.atol = 1e-6;
    o.max_abs_coef = 1e3;
    return o;
}

double gm_mlogit_objective(const double *B, const double *Z, size_t n, size_t p, size_t C, const double *T,
                           const int *labels, const double *w, double lambda, double *grad, double *negH) {
    size_t m = (C - 1) * p;
    double F = 0.0;
    double eta[128];
    double *et = C <= 64 ? eta : gm_malloc(2 * C * sizeof(double));
    GM_ASSERT(et != NULL);
    if (grad) memset(grad, 0, m * sizeof(double));
    if (negH) memset(negH, 0, m * m * sizeof(double));
    for (size_t t = 0; t < n; t++) {
        double wt = w ? w[t] : 1.0;
        if (wt == 0.0) continue;
        const double *z = Z + t * p;
        for (size_t c = 0; c + 1 < C; c++) {
            double v = 0.0;
            for (size_t j = 0; j < p; j++) v += B[c * p + j] * z[j];
            et[c] = v;
        }
        et[C - 1] = 0.0;
        /* one exp per class and one log per row: lse, then log P_c = eta_c - lse, P_c = e_c / sum */
        double mx = et[0];
        for (size_t c = 1; c < C; c++)
            if (et[c] > mx) mx = et[c];
        double sum = 0.0, *ex = et + C;
        for (size_t c = 0; c < C; c++) sum += (ex[c] = exp(et[c] - mx));
        double lse = mx + log(sum);
        if (T) {
            const double *tr = T + t * C;
            double f = 0.0;
            for (size_t c = 0; c < C; c++)
                if (tr[c] != 0.0) f += tr[c] * (et[c] - lse);
            F += wt * f;
        } else {
            F += wt * (et[labels[t]] - lse);
        }
        if (!grad && !negH) continue;
        for (size_t c = 0; c < C; c++) et[c] = ex[c] / sum;
        if (grad) {
            for (size_t c = 0; c + 1 < C; c++) {
                double tc = T ? T[t * C + c] : ((size_t)labels[t] == c ? 1.0 : 0.0);
                double r = wt * (tc - et[c]);
                for (size_t j = 0; j < p; j++) grad[c * p + j] += r * z[j];
            }
        }
        if (negH) {
            for (size_t c = 0; c + 1 < C; c++)
                for (size_t l = c; l + 1 < C; l++) {
                    double h = wt * et[c] * ((c == l ? 1.0 : 0.0) - et[l]);
                    if (h == 0.0) continue;
                    for (size_t j = 0; j < p; j++) {
                        double hz = h * z[j];
                        double *row = negH + (c * p + j) * m + l * p;
                        for (size_t jj = 0; jj < p; jj++) row[jj] += hz * z[jj];
                    }
                }
        }
    }
    if (et != eta) gm_free(et);
    double pen = 0.0;
    for (size_t i = 0; i < m; i++) pen += B[i] * B[i];
    F -= lambda * pen;
    if (grad)
        for (size_t i = 0; i < m; i++) grad[i] -= 2.0 * lambda * B[i];
    if (negH) {
        /* mirror the upper class blocks (c < l) into the lower ones, add the ridge */
        for (size_t a = 0; a < m; a++)
            for (size_t b = 0; b < m; b++)
                if (b / p < a / p) negH[a * m + b] = negH[b * m + a];
        for (size_t i = 0; i < m; i++) negH[i * m + i] += 2.0 * lambda;
    }
    return F;
}

int gm_mlogit_newton(double *B, const double *Z, size_t n, size_t p, size_t C, const double *T,
                     const int *labels, const double *w, double lambda, const gm_mlogit_options *opt,
                     double *F_out, size_t *iters) {
    gm_mlogit_options o = opt ? *opt : gm_mlogit_options_default();
    size_t m = (C - 1) * p, acc = 0;
    if (m == 0) {
        if (F_out) *F_out = gm_mlogit_objective(B, Z, n, p, C, T, labels, w, lambda, NULL, NULL);
        if (iters) *iters = 0;
        return GM_OK;
    }
    double *buf = gm_malloc((3 * m * m + 4 * m) * sizeof(double));
    if (!buf) return GM_ENOMEM;
    double *H = buf, *Hn = H + m * m, *work = Hn + m * m, *g = work + m * m, *gn = g + m, *delta = gn + m,
           *Bn = delta + m;
    double F = gm_mlogit_objective(B, Z, n, p, C, T, labels, w, lambda, g, H);
    for (size_t it = 0; it < o.max_iter; it++) {
        if (newton_direction(H, g, m, delta, work)) break;
        double s = 1.0, Fn = -INFINITY;
        int ok = 0, have_derivs = 0;
        for (int h = 0; h <= 30; h++, s *= 0.5) {
            for (size_t i = 0; i < m; i++) {
                double v = B[i] + s * delta[i];
                Bn[i] = v > o.max_abs_coef ? o.max_abs_coef : (v < -o.max_abs_coef ? -o.max_abs_coef : v);
            }
            /* the full step is usually accepted: get its derivatives in the same pass */
            Fn = gm_mlogit_objective(Bn, Z, n, p, C, T, labels, w, lambda, h == 0 ? gn : NULL, h == 0 ? Hn : NULL);
            if (Fn >= F) {
                ok = 1;
                have_derivs = h == 0;
                break;
            }
        }
        if (!ok) break;
        double dF = Fn - F, Fold = F;
        memcpy(B, Bn, m * sizeof(double));
        F = Fn;
        acc++;
        if (dF <= o.rtol * fabs(Fold) || dF <= o.atol) break;
        if (have_derivs) {
            double *tmp = H;
            H = Hn;
            Hn = tmp;
            tmp = g;
            g = gn;
            gn = tmp;
        } else {
            F = gm_mlogit_objective(B, Z, n, p, C, T, labels, w, lambda, g, H);
        }
    }
    gm_free(buf);
    if (F_out) *F_out = F;
    if (iters) *iters = acc;
    return GM_OK;
}


/* penalised gradient at theta (model m is overwritten with theta); returns the penalised objective */
static double pen_gradient(gm_moe *m, const double *theta, const double *Xt, const double *Gt, const int *y,
                           size_t n, double lambda, double *grad, gm__moe_row_scratch *w) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1, df = gm_moe_df(m), off = (k - 1) * p;
    gm_moe_unpack(m, theta);
    memset(grad, 0, df * sizeof(double));
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        const double *xt = Xt + t * p, *gt = Gt + t * p;
        gm__moe_row_eval(m, xt, gt, w->logpi, w->logf);
        size_t yt = (size_t)y[t];
        for (size_t i = 0; i < k; i++) w->L[i] = w->logpi[i] + w->logf[i * S + yt];
        ll += gm__moe_log_softmax(w->L, k);
        for (size_t i = 0; i + 1 < k; i++) {
            double r = exp(w->L[i]) - exp(w->logpi[i]);
            for (size_t j = 0; j < p; j++) grad[i * p + j] += r * gt[j];
        }
        for (size_t i = 0; i < k; i++) {
            double ti = exp(w->L[i]);
            for (size_t s = 0; s + 1 < S; s++) {
                double r = ti * ((s == yt ? 1.0 : 0.0) - exp(w->logf[i * S + s]));
                double *g = grad + off + (i * (S - 1) + s) * p;
                for (size_t j = 0; j < p; j++) g[j] += r * xt[j];
            }
        }
    }
    double pen = 0.0;
    for (size_t i = 0; i < df; i++) {
        pen += theta[i] * theta[i];
        grad[i] -= 2.0 * lambda * theta[i];
    }
    return ll - lambda * pen;
}

/* negH = -(d grad / d theta) by symmetrised central differences; buffers: th (df), gp, gm (df). */
static void fd_neg_hessian(gm_moe *m, const double *theta, const double *Xt, const double *Gt, const int *y,
                           size_t n, double lambda, double *negH, double *th, double *gp, double *gmn,
                           gm__moe_row_scratch *w) {
    size_t df = gm_moe_df(m);
    memcpy(th, theta, df * sizeof(double));
    for (size_t j = 0; j < df; j++) {
        double h = 1e-5 * fmax(1.0, fabs(theta[j]));
        th[j] = theta[j] + h;
        pen_gradient(m, th, Xt, Gt, y, n, lambda, gp, w);
        th[j] = theta[j] - h;
        pen_gradient(m, th, Xt, Gt, y, n, lambda, gmn, w);
        th[j] = theta[j];
        for (size_t i = 0; i < df; i++) negH[i * df + j] = -(gp[i] - gmn[i]) / (2.0 * h);
    }
    for (size_t i = 0; i < df; i++)
        for (size_t j = i + 1; j < df; j++) {
            double a = 0.5 * (negH[i * df + j] + negH[j * df + i]);
            negH[i * df + j] = negH[j * df + i] = a;
        }
    gm_moe_unpack(m, theta);
}

int gm_moe_fitter_polish(gm_moe_fitter *f) {
    size_t df = gm_moe_df(&f->m);
    if (df == 0) return GM_OK;
    double *buf = gm_malloc((3 * df * df + 8 * df) * sizeof(double));
    if (!buf) return GM_ENOMEM;
    double *H = buf, *work = H + df * df, *th = work + 2 * df * df + df, *g = th + df, *gp = g + df, *gmn = gp + df,
           *delta = gmn + df, *tn = delta + df, *tmp = tn + df;
    double lam = f->cfg.ridge, cap = f->cfg.max_abs_coef;
    gm_moe_pack(&f->m, th);
    double F = pen_gradient(&f->m, th, f->Xt, f->Gt, f->y, f->n, lam, g, &f->rs);
    for (int it = 0; it < 50; it++) {
        double gmax = 0.0;
        for (size_t i = 0; i < df; i++) gmax = fmax(gmax, fabs(g[i]));
        if (gmax <= 1e-8) break;
        fd_neg_hessian(&f->m, th, f->Xt, f->Gt, f->y, f->n, lam, H, tn, gp, gmn, &f->rs);
        int dir = polish_direction(H, g, df, delta, work);
        if (dir < 0) {
            gm_moe_unpack(&f->m, th);
            gm_free(buf);
            return GM_ENOMEM;
        }
        if (dir) break;
        double s = 1.0, Fn = -INFINITY;
        int ok = 0;
        for (int h = 0; h <= 30; h++, s *= 0.5) {
            for (size_t i = 0; i < df; i++) {
                double v = th[i] + s * delta[i];
                tn[i] = v > cap ? cap : (v < -cap ? -cap : v);
            }
            Fn = pen_gradient(&f->m, tn, f->Xt, f->Gt, f->y, f->n, lam, tmp, &f->rs);
            if (Fn >= F) {
                ok = 1;
                break;
            }
        }
        if (!ok) break;
        double dF = Fn - F;
        memcpy(th, tn, df * sizeof(double));
        memcpy(g, tmp, df * sizeof(double));
        F = Fn;
        if (dF <= 1e-13 * fabs(F)) break;
        /* running off along a flat direction towards the box: leave it to the DEGENERATE flag */
        double cmax = 0.0;
        for (size_t i = 0; i < df; i++) cmax = fmax(cmax, fabs(th[i]));
        if (cmax > f->cfg.degenerate_coef) break;
    }
    gm_moe_unpack(&f->m, th);
    gm_free(buf);
    double before = f->obj;
    int rc = gm__moe_fitter_estep(f);
    if (rc) return rc;
    if (f->obj < before - 1e-8 * fabs(before)) f->flags |= GM_MOE_NONMONOTONE;
    return GM_OK;
}

int gm_moe_stderr(const gm_moe *m, const double *X, const int *y, size_t n, double *se, double *info,
                  int *singular) {
    size_t d = m->dim, p = d + 1, df = gm_moe_df(m);
    *singular = 0;
    gm_moe mm;
    int rc = gm_moe_copy(&mm, m);
    if (rc) return rc;
    gm_moe_normalize(&mm);
    gm__moe_row_scratch w = {0};
    double *Xt = gm_malloc(n * p * sizeof(double)), *Gt = gm_malloc(n * p * sizeof(double));
    double *buf = gm_malloc((2 * df * df + 4 * df + 1) * sizeof(double));
    rc = GM_ENOMEM;
    if (!Xt || !Gt || !buf || gm__moe_scratch_alloc(&w, &mm)) goto done;
    for (size_t t = 0; t < n; t++) gm__moe_design_rows(m->gate, X + t * d, d, Xt + t * p, Gt + t * p);
    double *H = buf, *E = H + df * df, *th = E + df * df, *tn = th + df, *gp = tn + df, *gmn = gp + df;
    gm_moe_pack(&mm, th);
    fd_neg_hessian(&mm, th, Xt, Gt, y, n, 0.0, H, tn, gp, gmn, &w);
    if (info) memcpy(info, H, df * df * sizeof(double));
    memset(E, 0, df * df * sizeof(double));
    for (size_t i = 0; i < df; i++) E[i * df + i] = 1.0;
    if (spd_solve(H, E, df, df)) {
        *singular = 1;
        for (size_t i = 0; i < df; i++) se[i] = NAN;
    } else {
        for (size_t i = 0; i < df; i++) se[i] = E[i * df + i] > 0.0 ? sqrt(E[i * df + i]) : (double)NAN;
    }
    rc = GM_OK;
done:
    gm_free(Xt);
    gm_free(Gt);
    gm_free(buf);
    gm_free(w.block);
    gm_moe_free(&mm);
    return rc;
}
