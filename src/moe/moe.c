/* moe.c — softmax-gated multinomial-logistic mixture of experts: model storage, likelihood, gradient,
 * prediction, the multinomial-logit Newton solver shared by the gate and expert M-steps, the EM fitter
 * state machine, restarts, the Newton polish, standard errors and the LCG data generator.
 *
 * Owns: gm_moe arrays (W, V), fitter work buffers. Thread safety: no shared state; every call is
 * single-threaded (gm_moe_simulate in moe_sim.c parallelises over replications).
 * Numerics: all arithmetic in double; log-softmax with max subtraction; reductions in a fixed order.
 *
 * module: moe (src/moe/) owns the softmax-gated mixture of experts: model, EM fitter, selection, sampling,
 * the identifiability simulation and its Voronoi losses (genmix/moe.h). A method: it uses core, io, linalg,
 * nn and eval. */
#include "genmix/moe.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "genmix/rng.h"
#include "linalg_internal.h"

#ifdef GM_HAVE_BLAS
#include <lapacke.h>
#endif

/* ============================================================================================== */
/* model storage                                                                                   */
/* ============================================================================================== */

int gm_moe_init(gm_moe *m, size_t n_experts, size_t n_classes, size_t dim, gm_moe_gate gate) {
    memset(m, 0, sizeof *m);
    if (n_experts < 1) GM_FAIL(GM_EINVAL, "moe: number of experts K must be >= 1 (got %zu)", n_experts);
    if (n_classes < 2) GM_FAIL(GM_EINVAL, "moe: need at least 2 classes (got %zu)", n_classes);
    if (dim < 1) GM_FAIL(GM_EINVAL, "moe: need at least 1 feature");
    if (gate != GM_MOE_GATE_IDENTITY && gate != GM_MOE_GATE_SIGMOID && gate != GM_MOE_GATE_TANH)
        GM_FAIL(GM_EINVAL, "moe: unknown gate transform %d", (int)gate);
    size_t p = dim + 1;
    m->W = gm_calloc(p * n_experts, sizeof(double));
    m->V = gm_calloc(n_experts * p * n_classes, sizeof(double));
    if (!m->W || !m->V) {
        gm_free(m->W);
        gm_free(m->V);
        memset(m, 0, sizeof *m);
        return GM_ENOMEM;
    }
    m->n_experts = n_experts;
    m->n_classes = n_classes;
    m->dim = dim;
    m->gate = gate;
    return GM_OK;
}

void gm_moe_free(gm_moe *m) {
    if (!m) return;
    gm_free(m->W);
    gm_free(m->V);
    m->W = m->V = NULL;
}

int gm_moe_copy(gm_moe *dst, const gm_moe *src) {
    int rc = gm_moe_init(dst, src->n_experts, src->n_classes, src->dim, src->gate);
    if (rc) return rc;
    size_t p = src->dim + 1;
    memcpy(dst->W, src->W, p * src->n_experts * sizeof(double));
    memcpy(dst->V, src->V, src->n_experts * p * src->n_classes * sizeof(double));
    return GM_OK;
}

size_t gm_moe_df(const gm_moe *m) {
    size_t p = m->dim + 1;
    return (m->n_experts - 1) * p + m->n_experts * (m->n_classes - 1) * p;
}

void gm_moe_pack(const gm_moe *m, double *theta) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1, o = 0;
    for (size_t i = 0; i + 1 < k; i++)
        for (size_t j = 0; j < p; j++) theta[o++] = m->W[j * k + i];
    for (size_t i = 0; i < k; i++)
        for (size_t s = 0; s + 1 < S; s++)
            for (size_t j = 0; j < p; j++) theta[o++] = m->V[(i * p + j) * S + s];
}

void gm_moe_unpack(gm_moe *m, const double *theta) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1, o = 0;
    for (size_t j = 0; j < p; j++) m->W[j * k + (k - 1)] = 0.0;
    for (size_t i = 0; i + 1 < k; i++)
        for (size_t j = 0; j < p; j++) m->W[j * k + i] = theta[o++];
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < p; j++) m->V[(i * p + j) * S + (S - 1)] = 0.0;
        for (size_t s = 0; s + 1 < S; s++)
            for (size_t j = 0; j < p; j++) m->V[(i * p + j) * S + s] = theta[o++];
    }
}

void gm_moe_set_reference(gm_moe *m, size_t gate_ref, size_t class_ref) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    GM_ASSERT(gate_ref < k && class_ref < S);
    for (size_t j = 0; j < p; j++) {
        double r = m->W[j * k + gate_ref];
        for (size_t i = 0; i < k; i++) m->W[j * k + i] -= r;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < p; j++) {
            double *row = m->V + (i * p + j) * S;
            double r = row[class_ref];
            for (size_t s = 0; s < S; s++) row[s] -= r;
        }
}

void gm_moe_normalize(gm_moe *m) { gm_moe_set_reference(m, m->n_experts - 1, m->n_classes - 1); }

int gm_moe_permute(gm_moe *m, const size_t *perm) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    gm_moe old;
    int rc = gm_moe_copy(&old, m);
    if (rc) return rc;
    for (size_t i = 0; i < k; i++) {
        size_t src = perm[i];
        if (src >= k) {
            gm_moe_free(&old);
            GM_FAIL(GM_EINVAL, "moe_permute: index %zu out of range", src);
        }
        for (size_t j = 0; j < p; j++) m->W[j * k + i] = old.W[j * k + src];
        memcpy(m->V + i * p * S, old.V + src * p * S, p * S * sizeof(double));
    }
    gm_moe_free(&old);
    gm_moe_normalize(m);
    return GM_OK;
}

double gm_moe_gate_apply(gm_moe_gate g, double x) {
    switch (g) {
    case GM_MOE_GATE_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case GM_MOE_GATE_TANH: return tanh(x);
    default: return x;
    }
}

/* ============================================================================================== */
/* per-row evaluation                                                                              */
/* ============================================================================================== */

/* In place: v[0..m-1] <- log-softmax(v); returns the log-sum-exp. */
static double log_softmax(double *v, size_t m) {
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
static void design_rows(gm_moe_gate gate, const double *x, size_t d, double *xt, double *gt) {
    xt[0] = gt[0] = 1.0;
    for (size_t j = 0; j < d; j++) {
        xt[j + 1] = x[j];
        gt[j + 1] = gm_moe_gate_apply(gate, x[j]);
    }
}

/* logpi[k] = gate log-probabilities, logf[k*S] = expert class log-probabilities for one row. */
static void row_eval(const gm_moe *m, const double *xt, const double *gt, double *logpi, double *logf) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    for (size_t i = 0; i < k; i++) logpi[i] = 0.0;
    for (size_t j = 0; j < p; j++) {
        const double *wr = m->W + j * k;
        double g = gt[j];
        for (size_t i = 0; i < k; i++) logpi[i] += wr[i] * g;
    }
    log_softmax(logpi, k);
    for (size_t i = 0; i < k; i++) {
        double *lf = logf + i * S;
        for (size_t s = 0; s < S; s++) lf[s] = 0.0;
        for (size_t j = 0; j < p; j++) {
            const double *vr = m->V + (i * p + j) * S;
            double xv = xt[j];
            for (size_t s = 0; s < S; s++) lf[s] += vr[s] * xv;
        }
        log_softmax(lf, S);
    }
}

/* Scratch for the per-row functions: xt, gt (p each), logpi (k), logf (k*S), L (k). */
typedef struct {
    double *xt, *gt, *logpi, *logf, *L;
    void *block;
} row_scratch;

static int scratch_alloc(row_scratch *w, const gm_moe *m) {
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
static double estep_design(const gm_moe *m, const double *Xt, const double *Gt, const int *y, size_t n,
                           double *tau, row_scratch *w) {
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
            row_eval(m, xt, gt, w->logpi, w->logf);
            for (size_t i = 0; i < k; i++) w->L[i] = w->logpi[i] + w->logf[i * S + yt];
            ll += log_softmax(w->L, k);
            if (tau)
                for (size_t i = 0; i < k; i++) tau[t * k + i] = exp(w->L[i]);
        }
    }
    return ll;
}

double gm_moe_loglik(const gm_moe *m, const double *X, const int *y, size_t n, double *tau) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim;
    row_scratch w;
    if (scratch_alloc(&w, m)) return NAN;
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (y[t] < 0 || (size_t)y[t] >= S) {
            ll = NAN;
            break;
        }
        design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        for (size_t i = 0; i < k; i++) w.L[i] = w.logpi[i] + w.logf[i * S + (size_t)y[t]];
        ll += log_softmax(w.L, k);
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
    row_scratch w;
    if (scratch_alloc(&w, m)) return NAN;
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        size_t yt = (size_t)y[t];
        for (size_t i = 0; i < k; i++) w.L[i] = w.logpi[i] + w.logf[i * S + yt];
        ll += log_softmax(w.L, k);
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
    row_scratch w;
    if (scratch_alloc(&w, m)) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        row_eval(m, w.xt, w.gt, w.logpi, w.logf);
        for (size_t i = 0; i < k; i++) G[t * k + i] = exp(w.logpi[i]);
    }
    gm_free(w.block);
    return GM_OK;
}

int gm_moe_predict_proba(const gm_moe *m, const double *X, size_t n, double *P) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim;
    row_scratch w;
    if (scratch_alloc(&w, m)) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        design_rows(m->gate, X + t * d, d, w.xt, w.gt);
        row_eval(m, w.xt, w.gt, w.logpi, w.logf);
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

/* ============================================================================================== */
/* dense symmetric positive-definite solves                                                        */
/* ============================================================================================== */

/* Solve A X = B for symmetric positive definite A (m x m, row-major, destroyed), B (m x nrhs, row-major,
 * overwritten by X). Returns 0, or > 0 if A is not positive definite. */
static int spd_solve_naive(double *A, double *B, size_t m, size_t nrhs) {
    /* naive Cholesky A = L L^T (lower triangle) */
    for (size_t j = 0; j < m; j++) {
        double s = A[j * m + j];
        for (size_t l = 0; l < j; l++) s -= A[j * m + l] * A[j * m + l];
        if (!(s > 0.0)) return 1;
        double ljj = sqrt(s);
        A[j * m + j] = ljj;
        for (size_t i = j + 1; i < m; i++) {
            double v = A[i * m + j];
            for (size_t l = 0; l < j; l++) v -= A[i * m + l] * A[j * m + l];
            A[i * m + j] = v / ljj;
        }
    }
    for (size_t r = 0; r < nrhs; r++) {
        for (size_t i = 0; i < m; i++) {
            double v = B[i * nrhs + r];
            for (size_t l = 0; l < i; l++) v -= A[i * m + l] * B[l * nrhs + r];
            B[i * nrhs + r] = v / A[i * m + i];
        }
        for (size_t i = m; i-- > 0;) {
            double v = B[i * nrhs + r];
            for (size_t l = i + 1; l < m; l++) v -= A[l * m + i] * B[l * nrhs + r];
            B[i * nrhs + r] = v / A[i * m + i];
        }
    }
    return 0;
}

/* LAPACKE dposv for systems of size >= 48; smaller ones by the naive Cholesky, because OpenBLAS's
 * threading overhead dominates tiny solves (measured: > 50% of EM time at m = 2..6 in libgomp). */
static int spd_solve(double *A, double *B, size_t m, size_t nrhs) {
#ifdef GM_HAVE_BLAS
    if (m >= 48) {
        lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)m, (lapack_int)nrhs, A, (lapack_int)m, B,
                                        (lapack_int)nrhs);
        return info == 0 ? 0 : 1;
    }
#endif
    return spd_solve_naive(A, B, m, nrhs);
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
 * gm__dsyev: LAPACK for m >= 48, its Jacobi reference below (OpenBLAS threading overhead dominates tiny
 * problems). work: m*m + m; Q row c = eigenvector of ev[c]. Returns 0, 1 (no direction) or -1 (ENOMEM). */
static int polish_direction(const double *H, const double *g, size_t m, double *delta, double *work) {
    double *Q = work, *ev = work + m * m;
    memcpy(Q, H, m * m * sizeof(double));
    int rc = gm__dsyev(Q, m, ev, 1, m >= 48);
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
    row_scratch rs;
    double ll, obj, obj_old;
    size_t iter;
    int flags;
};

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

static int fitter_estep(gm_moe_fitter *f) {
    f->ll = estep_design(&f->m, f->Xt, f->Gt, f->y, f->n, f->tau, &f->rs);
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
    if (scratch_alloc(&f->rs, &f->m)) goto fail;
    for (size_t t = 0; t < n; t++) design_rows(cfg->gate, X + t * d, d, f->Xt + t * p, f->Gt + t * p);

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
    rc = fitter_estep(f);
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
    rc = fitter_estep(f);
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

/* penalised gradient at theta (model m is overwritten with theta); returns the penalised objective */
static double pen_gradient(gm_moe *m, const double *theta, const double *Xt, const double *Gt, const int *y,
                           size_t n, double lambda, double *grad, row_scratch *w) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1, df = gm_moe_df(m), off = (k - 1) * p;
    gm_moe_unpack(m, theta);
    memset(grad, 0, df * sizeof(double));
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        const double *xt = Xt + t * p, *gt = Gt + t * p;
        row_eval(m, xt, gt, w->logpi, w->logf);
        size_t yt = (size_t)y[t];
        for (size_t i = 0; i < k; i++) w->L[i] = w->logpi[i] + w->logf[i * S + yt];
        ll += log_softmax(w->L, k);
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
                           row_scratch *w) {
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
    int rc = fitter_estep(f);
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
    row_scratch w = {0};
    double *Xt = gm_malloc(n * p * sizeof(double)), *Gt = gm_malloc(n * p * sizeof(double));
    double *buf = gm_malloc((2 * df * df + 4 * df + 1) * sizeof(double));
    rc = GM_ENOMEM;
    if (!Xt || !Gt || !buf || scratch_alloc(&w, &mm)) goto done;
    for (size_t t = 0; t < n; t++) design_rows(m->gate, X + t * d, d, Xt + t * p, Gt + t * p);
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
    if (cfg->n_restarts < 1) GM_FAIL(GM_EINVAL, "moe: need at least one restart");
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
/* LCG data generator (spec section 7.1; identical to the R code there)                            */
/* ============================================================================================== */

static double lcg_next(uint32_t *s) {
    *s = 1664525u * *s + 1013904223u;
    return ((double)*s + 0.5) / 4294967296.0;
}

/* smallest index with u < cumsum(softmax(v)); the last index if rounding leaves none */
static size_t inverse_cdf(double *v, size_t m, double u) {
    double mx = v[0];
    for (size_t i = 1; i < m; i++)
        if (v[i] > mx) mx = v[i];
    double s = 0.0;
    for (size_t i = 0; i < m; i++) {
        v[i] = exp(v[i] - mx);
        s += v[i];
    }
    double c = 0.0;
    for (size_t i = 0; i < m; i++) {
        c += v[i] / s;
        if (u < c) return i;
    }
    return m - 1;
}

/* One draw of (z, y) at x from two uniforms, by inverse CDF of the gate and then of expert z's class
 * probabilities. work: k + S + 2 (d + 1) doubles. */
static void draw_row(const gm_moe *m, const double *x, double uz, double uy, double *work, int *y, int *z) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    double *v = work, *f = work + k, *xt = f + S, *gt = xt + p;
    design_rows(m->gate, x, d, xt, gt);
    for (size_t i = 0; i < k; i++) {
        double e = 0.0;
        for (size_t j = 0; j < p; j++) e += m->W[j * k + i] * gt[j];
        v[i] = e;
    }
    size_t zi = inverse_cdf(v, k, uz);
    for (size_t c = 0; c < S; c++) {
        double e = 0.0;
        for (size_t j = 0; j < p; j++) e += m->V[(zi * p + j) * S + c] * xt[j];
        f[c] = e;
    }
    *y = (int)inverse_cdf(f, S, uy);
    if (z) *z = (int)zi;
}

static double *draw_work(const gm_moe *m) {
    return gm_malloc((m->n_experts + m->n_classes + 2 * (m->dim + 1)) * sizeof(double));
}

int gm_moe_sample_lcg(const gm_moe *m, size_t n, uint32_t seed, double xr, double *X, int *y, int *z) {
    size_t d = m->dim;
    uint32_t s = seed;
    double *w = draw_work(m);
    if (!w) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        double *x = X + t * d;
        for (size_t j = 0; j < d; j++) x[j] = xr * (-1.0 + 2.0 * lcg_next(&s));
        double uz = lcg_next(&s), uy = lcg_next(&s);
        draw_row(m, x, uz, uy, w, y + t, z ? z + t : NULL);
    }
    gm_free(w);
    return GM_OK;
}

/* ============================================================================================== */
/* sampling with Philox and choosing k                                                             */
/* ============================================================================================== */

int gm_moe_sample_y(const gm_moe *m, const double *X, size_t n, gm_rng *rng, int *y, int *z) {
    double *w = draw_work(m);
    if (!w) return GM_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        double uz = gm_rng_uniform(rng), uy = gm_rng_uniform(rng);
        draw_row(m, X + t * m->dim, uz, uy, w, y + t, z ? z + t : NULL);
    }
    gm_free(w);
    return GM_OK;
}

int gm_moe_sample(const gm_moe *m, size_t n, double xr, gm_rng *rng, double *X, int *y, int *z) {
    size_t d = m->dim;
    for (size_t t = 0; t < n * d; t++) X[t] = xr * (-1.0 + 2.0 * gm_rng_uniform(rng));
    return gm_moe_sample_y(m, X, n, rng, y, z);
}

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
