/* SPDX-License-Identifier: MIT */
/* mcmc_linear.c — linear-Gaussian autoencoders: the gm_ae_model adapter used by tests and studies, and
 * the closed forms of spec latent_mcmc.md section 3 (one-step law, t-step moments, stationary law by the
 * doubling algorithm for the discrete Lyapunov equation, aggregated posterior).
 *
 * Owns nothing beyond O(d^2) temporaries inside a call; gm_linear_ae borrows its arrays.
 * Thread safety: reentrant. All arithmetic in double. */
#include <math.h>
#include <string.h>

#include "genmix/linalg.h"
#include "genmix/mcmc.h"

/* ==== gm_ae_model adapter ======================================================================== */

static int lin_decode(float *x_mean, const float *z, size_t n, void *params) {
    const gm_linear_ae *ae = params;
    const size_t D = ae->D, d = ae->d;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < D; k++) {
            double s = ae->c ? ae->c[k] : 0.0;
            for (size_t j = 0; j < d; j++) s += ae->W[k * d + j] * (double)z[i * d + j];
            x_mean[i * D + k] = (float)s;
        }
    return GM_OK;
}

static int lin_encode(float *mu, float *logvar, const float *x, size_t n, void *params) {
    const gm_linear_ae *ae = params;
    const size_t D = ae->D, d = ae->d;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double s = ae->b ? ae->b[j] : 0.0;
            for (size_t k = 0; k < D; k++) s += ae->A[j * D + k] * (double)x[i * D + k];
            mu[i * d + j] = (float)s;
            if (logvar) logvar[i * d + j] = (float)(2.0 * log(ae->enc_std[j])); /* std 0 -> -inf -> exp 0 */
        }
    return GM_OK;
}

gm_ae_model gm_linear_ae_model(const gm_linear_ae *ae) {
    GM_ASSERT(ae && ae->A && ae->W && ae->D > 0 && ae->d > 0);
    gm_ae_model m;
    memset(&m, 0, sizeof m);
    m.data_dim = ae->D;
    m.latent_dim = ae->d;
    m.decode = lin_decode;
    m.likelihood = GM_AE_GAUSSIAN;
    m.dec_sigma = 0.0;
    m.dec_std = ae->dec_std;
    m.encode = lin_encode;
    m.enc_stochastic = ae->enc_std != NULL;
    m.params = (void *)(uintptr_t)ae; /* read-only use */
    return m;
}

/* ==== small dense helpers ========================================================================= */

/* C (r x c) = A (r x k) B (k x c) */
static void matmul(double *C, const double *A, const double *B, size_t r, size_t k, size_t c) {
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) {
            double s = 0.0;
            for (size_t l = 0; l < k; l++) s += A[i * k + l] * B[l * c + j];
            C[i * c + j] = s;
        }
}

/* out (d x d) = M S M^T; tmp d x d scratch */
static void sandwich(double *out, const double *M, const double *S, size_t d, double *tmp) {
    matmul(tmp, M, S, d, d, d);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++) s += tmp[i * d + l] * M[j * d + l];
            out[i * d + j] = s;
        }
}

static double frob(const double *A, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += A[i] * A[i];
    return sqrt(s);
}

/* Solve (I - M) x = m (d x d, LU with partial pivoting; work: d x d). GM_ENUMERIC if singular. */
static int solve_i_minus(const double *M, const double *m, double *x, size_t d, double *work) {
    for (size_t i = 0; i < d; i++) {
        for (size_t j = 0; j < d; j++) work[i * d + j] = (i == j ? 1.0 : 0.0) - M[i * d + j];
        x[i] = m[i];
    }
    if (gm_la_lu_solve_ref(work, x, d, 1, 1e-14) != GM_OK)
        GM_FAIL(GM_ENUMERIC, "linear AE: I - A W is singular (a unit eigenvalue: no stationary law)");
    return GM_OK;
}

/* ==== closed forms ================================================================================ */

void gm_linear_ae_transition(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em,
                             double sigma_c, double *M, double *m, double *Q) {
    GM_ASSERT(ae && ae->A && ae->W);
    const size_t D = ae->D, d = ae->d;
    const double *A = ae->A;
    if (M) matmul(M, A, ae->W, d, D, d);
    if (m)
        for (size_t i = 0; i < d; i++) {
            double s = ae->b ? ae->b[i] : 0.0;
            if (ae->c)
                for (size_t k = 0; k < D; k++) s += A[i * D + k] * ae->c[k];
            m[i] = s;
        }
    if (Q)
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) {
                double s = 0.0;
                for (size_t k = 0; k < D; k++) {
                    double v = sigma_c * sigma_c;
                    if (dm == GM_LATENT_DECODE_SAMPLE && ae->dec_std) v += ae->dec_std[k] * ae->dec_std[k];
                    s += A[i * D + k] * v * A[j * D + k];
                }
                if (i == j && em == GM_LATENT_ENCODE_SAMPLE && ae->enc_std) s += ae->enc_std[i] * ae->enc_std[i];
                Q[i * d + j] = s;
            }
}

int gm_linear_ae_moments_at(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em,
                            double sigma_c, const double *mu0, const double *Sigma0, size_t t, double *mu_t,
                            double *Sigma_t) {
    GM_ASSERT(ae && mu_t && Sigma_t);
    const size_t d = ae->d;
    double *buf = gm_malloc((3 * d * d + 2 * d) * sizeof(double));
    if (!buf) return GM_ENOMEM;
    double *M = buf, *Q = M + d * d, *tmp = Q + d * d, *m = tmp + d * d, *mu = m + d;
    gm_linear_ae_transition(ae, dm, em, sigma_c, M, m, Q);
    for (size_t i = 0; i < d; i++) mu_t[i] = mu0 ? mu0[i] : 0.0;
    for (size_t i = 0; i < d * d; i++) Sigma_t[i] = Sigma0 ? Sigma0[i] : 0.0;
    for (size_t s = 0; s < t; s++) {
        matmul(mu, M, mu_t, d, d, 1);
        for (size_t i = 0; i < d; i++) mu_t[i] = mu[i] + m[i];
        sandwich(Sigma_t, M, Sigma_t, d, tmp); /* tmp holds M Sigma before Sigma_t is overwritten */
        for (size_t i = 0; i < d * d; i++) Sigma_t[i] += Q[i];
    }
    gm_free(buf);
    for (size_t i = 0; i < d; i++)
        if (!isfinite(mu_t[i])) GM_FAIL(GM_ENUMERIC, "linear AE: moments overflowed after %zu steps", t);
    return GM_OK;
}

int gm_linear_ae_stationary(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em,
                            double sigma_c, double *mu_inf, double *Sigma_inf, double *rho_out) {
    GM_ASSERT(ae);
    const size_t d = ae->d;
    double *buf = gm_malloc((6 * d * d + d * (d + 1) + d) * sizeof(double));
    if (!buf) return GM_ENOMEM;
    double *M = buf, *Q = M + d * d, *Ak = Q + d * d, *P = Ak + d * d, *T1 = P + d * d, *T2 = T1 + d * d,
           *work = T2 + d * d, *m = work + d * (d + 1);
    gm_linear_ae_transition(ae, dm, em, sigma_c, M, m, Q);
    /* Doubling: P_{k+1} = P_k + A_k P_k A_k^T, A_{k+1} = A_k^2 with A_0 = M, P_0 = Q; then
     * P_k = sum_{i < 2^k} M^i Q M^iT and ||A_k||^(1/2^k) -> spectral radius of M. */
    memcpy(Ak, M, d * d * sizeof(double));
    memcpy(P, Q, d * d * sizeof(double));
    double rho = 0.0, scale = 1.0;
    int converged = 0;
    for (int k = 0; k < 64; k++) {
        double nk = frob(Ak, d * d);
        if (!isfinite(nk)) break;
        rho = nk > 0.0 ? pow(nk, 1.0 / scale) : 0.0;
        if (nk < 1e-18) {
            converged = 1;
            break;
        }
        sandwich(T2, Ak, P, d, T1);
        for (size_t i = 0; i < d * d; i++) P[i] += T2[i];
        matmul(T1, Ak, Ak, d, d, d);
        memcpy(Ak, T1, d * d * sizeof(double));
        scale *= 2.0;
    }
    if (rho_out) *rho_out = rho;
    if (!converged) {
        gm_free(buf);
        GM_FAIL(GM_ENUMERIC, "linear AE chain has no stationary law: spectral radius of A W is %.6g >= 1", rho);
    }
    int rc = GM_OK;
    if (Sigma_inf) memcpy(Sigma_inf, P, d * d * sizeof(double));
    if (mu_inf) rc = solve_i_minus(M, m, mu_inf, d, work);
    gm_free(buf);
    return rc;
}

void gm_linear_ae_aggregated_posterior(const gm_linear_ae *ae, const double *mu_x, const double *Sigma_x,
                                       double sigma_c, double *mean, double *cov) {
    GM_ASSERT(ae && mu_x && Sigma_x && mean && cov);
    const size_t D = ae->D, d = ae->d;
    const double *A = ae->A;
    for (size_t i = 0; i < d; i++) {
        double s = ae->b ? ae->b[i] : 0.0;
        for (size_t k = 0; k < D; k++) s += A[i * D + k] * mu_x[k];
        mean[i] = s;
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0.0;
            for (size_t k = 0; k < D; k++) {
                double r = 0.0; /* (Sigma_x + sigma_c^2 I) A^T, column j, row k */
                for (size_t l = 0; l < D; l++) r += Sigma_x[k * D + l] * A[j * D + l];
                r += sigma_c * sigma_c * A[j * D + k];
                s += A[i * D + k] * r;
            }
            if (i == j && ae->enc_std) s += ae->enc_std[i] * ae->enc_std[i];
            cov[i * d + j] = s;
        }
}
