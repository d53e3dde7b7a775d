/* SPDX-License-Identifier: MIT */
/* diff_gmm.c — Gaussian mixtures with diagonal covariances as exact diffusion targets: the closed-form
 * noise prediction eps^(x, t) = -sqrt(1-ab) grad log p_t(x) and its input VJP, toy mixtures, sampling
 * and nearest-component assignment.
 *
 * Owns: the gm_gmm arrays. Thread safety: the denoiser reads the mixture only (rows in parallel).
 * Math: p_t = sum_k pi_k N(sqrt(ab) m_k, diag(ab s_k^2 + 1 - ab)). With responsibilities r_k(x) and
 * component scores u_k = -(x - mu_k)/v_k, the score is S = sum_k r_k u_k and its (symmetric) Jacobian
 * H = sum_k r_k u_k u_k^T - S S^T - diag(sum_k r_k / v_k); eps^ = -sqrt(1-ab) S, J_eps = -sqrt(1-ab) H.
 */
#include <math.h>
#include <string.h>

#include "genmix/diffusion.h"
#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int gm_gmm_init(gm_gmm *g, size_t k, size_t dim) {
    memset(g, 0, sizeof *g);
    if (k < 1 || dim < 1) GM_FAIL(GM_EINVAL, "gmm: need k >= 1 components and dim >= 1");
    g->k = k;
    g->dim = dim;
    g->weight = gm_calloc(k, sizeof(double));
    g->mean = gm_calloc(k * dim, sizeof(double));
    g->var = gm_calloc(k * dim, sizeof(double));
    if (!g->weight || !g->mean || !g->var) {
        gm_gmm_free(g);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < k * dim; i++) g->var[i] = 1.0;
    return GM_OK;
}

void gm_gmm_free(gm_gmm *g) {
    gm_free(g->weight);
    gm_free(g->mean);
    gm_free(g->var);
    memset(g, 0, sizeof *g);
}

int gm_gmm_toy(gm_gmm *g, const char *name) {
    int rc;
    if (!strcmp(name, "gmm1")) {
        if ((rc = gm_gmm_init(g, 9, 2)) != GM_OK) return rc;
        /* row-major from (-4, 4): y descending, x ascending */
        for (int i = 0; i < 9; i++) {
            g->mean[i * 2] = -4.0 + 4.0 * (i % 3);
            g->mean[i * 2 + 1] = 4.0 - 4.0 * (i / 3);
        }
    } else if (!strcmp(name, "gmm2")) {
        if ((rc = gm_gmm_init(g, 8, 2)) != GM_OK) return rc;
        for (int i = 0; i < 8; i++) {
            double a = i * 3.14159265358979323846 / 4.0;
            g->mean[i * 2] = 4.0 * cos(a);
            g->mean[i * 2 + 1] = 4.0 * sin(a);
        }
    } else {
        GM_FAIL(GM_EINVAL, "unknown toy mixture '%s' (gmm1|gmm2)", name);
    }
    for (size_t i = 0; i < g->k; i++) g->weight[i] = 1.0 / (double)g->k;
    for (size_t i = 0; i < g->k * g->dim; i++) g->var[i] = 0.3;
    return GM_OK;
}

/* Score S (and, if u != NULL, H u) of row x at noise level ab; resp, comp: k and k x d scratch. */
static void gmm_score(const gm_gmm *g, double ab, const float *x, const float *u, double *resp, double *comp,
                      double *S, double *Hu) {
    size_t K = g->k, d = g->dim;
    double sa = sqrt(ab), mx = -HUGE_VAL;
    for (size_t c = 0; c < K; c++) {
        double lp = log(g->weight[c]);
        for (size_t j = 0; j < d; j++) {
            double v = ab * g->var[c * d + j] + 1.0 - ab, diff = (double)x[j] - sa * g->mean[c * d + j];
            comp[c * d + j] = -diff / v;
            lp += -0.5 * (diff * diff / v + log(v));
        }
        resp[c] = lp;
        if (lp > mx) mx = lp;
    }
    double z = 0.0;
    for (size_t c = 0; c < K; c++) z += resp[c] = exp(resp[c] - mx);
    for (size_t c = 0; c < K; c++) resp[c] /= z;
    for (size_t j = 0; j < d; j++) {
        double s = 0.0;
        for (size_t c = 0; c < K; c++) s += resp[c] * comp[c * d + j];
        S[j] = s;
    }
    if (!u) return;
    double su = 0.0;
    for (size_t j = 0; j < d; j++) su += S[j] * (double)u[j];
    for (size_t j = 0; j < d; j++) Hu[j] = -S[j] * su;
    for (size_t c = 0; c < K; c++) {
        double cu = 0.0;
        for (size_t j = 0; j < d; j++) cu += comp[c * d + j] * (double)u[j];
        for (size_t j = 0; j < d; j++)
            Hu[j] += resp[c] * (comp[c * d + j] * cu - (double)u[j] / (ab * g->var[c * d + j] + 1.0 - ab));
    }
}

static int gmm_eval(gm_gmm *g, const float *x, size_t n, int t, const float *u, float *eps, float *vjp) {
    size_t K = g->k, d = g->dim, per = K + K * d + 2 * d;
    double ab = gm_diff_abar(g->sch, t), c = -sqrt(1.0 - ab);
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    double *scratch = gm_malloc((size_t)nt * per * sizeof *scratch);
    if (!scratch) return GM_ENOMEM;
#pragma omp parallel num_threads(nt) if (n * per > 262144)
    {
        int id = 0;
#ifdef _OPENMP
        id = omp_get_thread_num();
#endif
        double *resp = scratch + (size_t)id * per, *comp = resp + K, *S = comp + K * d, *Hu = S + d;
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            gmm_score(g, ab, x + i * d, u ? u + i * d : NULL, resp, comp, S, Hu);
            for (size_t j = 0; j < d; j++) {
                eps[i * d + j] = (float)(c * S[j]);
                if (u) vjp[i * d + j] = (float)(c * Hu[j]);
            }
        }
    }
    gm_free(scratch);
    return GM_OK;
}

static int gmm_eps(void *ctx, const float *x, size_t n, int t, float *eps) { return gmm_eval(ctx, x, n, t, NULL, eps, NULL); }
static int gmm_eps_vjp(void *ctx, const float *x, size_t n, int t, const float *u, float *eps, float *vjp) {
    return gmm_eval(ctx, x, n, t, u, eps, vjp);
}

gm_denoiser gm_gmm_denoiser(gm_gmm *g, const gm_diff_schedule *sch) {
    g->sch = sch;
    gm_denoiser d = {g->dim, gmm_eps, gmm_eps_vjp, g};
    return d;
}

void gm_gmm_assign(const gm_gmm *g, const float *x, size_t n, int *comp) {
    size_t d = g->dim;
    for (size_t i = 0; i < n; i++) {
        double best = -HUGE_VAL;
        int bc = 0;
        for (size_t c = 0; c < g->k; c++) {
            double lp = log(g->weight[c]);
            for (size_t j = 0; j < d; j++) {
                double v = g->var[c * d + j], diff = (double)x[i * d + j] - g->mean[c * d + j];
                lp += -0.5 * (diff * diff / v + log(v));
            }
            if (lp > best) { best = lp; bc = (int)c; }
        }
        comp[i] = bc;
    }
}

void gm_gmm_sample(const gm_gmm *g, size_t n, uint64_t seed, float *x) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_SIM, 0));
    size_t d = g->dim;
    for (size_t i = 0; i < n; i++) {
        size_t c = gm_rng_categorical(&r, g->weight, g->k);
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float)(g->mean[c * d + j] + sqrt(g->var[c * d + j]) * gm_rng_normal(&r));
    }
}
