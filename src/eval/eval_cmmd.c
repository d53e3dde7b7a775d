/* SPDX-License-Identifier: MIT */
/* eval_cmmd.c — CMMD (Jayasumana et al. 2024) and FD-infinity (Chong & Forsyth 2020), built on the eval
 * module's MMD and Frechet-distance routines.
 *   CMMD = 1000 * MMD^2(real, gen) with the Gaussian RBF kernel exp(-||x - y||^2 / (2 sigma^2)), sigma = 10,
 *          on embeddings the caller provides (CLIP in the paper). Estimator: unbiased (diagonals excluded,
 *          as the paper states) by default; GM_MMD_BIASED gives the all-pairs means of the paper's code.
 *   FD-infinity: FD of the full real statistics against subsets of N_p generated rows, N_p =
 *          trunc(linspace(n_min, n_gen, points)), each subset drawn without replacement from Philox stream
 *          (EVAL, 6*2^32 + 1000 + p) of `seed` (gm_feats_subsample), then the least-squares line
 *          FD_N = FD_inf + slope / N; FD_inf is its intercept.
 * Owns: nothing beyond call-local buffers. Thread safety: reentrant (no shared state); results are
 * independent of the thread count as the routines it calls are. */
#include <math.h>
#include <string.h>

#include "genmix/eval.h"

int gm_cmmd(const gm_feats *real, const gm_feats *gen, double sigma, gm_mmd_estimator est, double *out) {
    GM_ASSERT(real && gen && out);
    if (!(sigma > 0) || !isfinite(sigma)) GM_FAIL(GM_EINVAL, "CMMD: sigma must be a positive number, got %g", sigma);
    if (est == GM_MMD_USTAT) GM_FAIL(GM_EINVAL, "CMMD: estimator must be unbiased or biased");
    if (est == GM_MMD_UNBIASED && (real->n < 2 || gen->n < 2))
        GM_FAIL(GM_EINVAL, "CMMD: the unbiased estimator needs at least 2 rows per set (got %zu and %zu)", real->n,
                gen->n);
    gm_kernel k = gm_kernel_rbf_sigma(sigma);
    double v;
    int rc = gm_mmd(real, gen, &k, est, &v);
    if (rc) return rc;
    *out = 1000.0 * v;
    return GM_OK;
}

int gm_fd_infinity(const gm_fdstats *real, const gm_feats *gen, gm_cov_norm norm, size_t n_min, size_t points,
                   uint64_t seed, int shuffle, double *fd_inf, double *slope, size_t *ns, double *fds) {
    GM_ASSERT(real && gen && fd_inf);
    size_t n = gen->n, d = gen->d;
    if (real->d != d) GM_FAIL(GM_ESHAPE, "FD-infinity: feature dimensions differ (%zu and %zu)", real->d, d);
    if (points < 2) GM_FAIL(GM_EINVAL, "FD-infinity: needs at least 2 points, got %zu", points);
    if (n_min < 2 || n_min >= n)
        GM_FAIL(GM_EINVAL, "FD-infinity: the smallest subset (%zu) must be in 2..%zu (the generated rows - 1)", n_min,
                n - 1);
    size_t *N = gm_malloc(points * sizeof(size_t));
    double *F = gm_malloc(points * sizeof(double)), *cov_r = gm_malloc(d * d * sizeof(double)),
           *cov_g = gm_malloc(d * d * sizeof(double));
    gm_fdstats s;
    memset(&s, 0, sizeof s);
    int rc = GM_OK;
    if (!N || !F || !cov_r || !cov_g) {
        rc = GM_ENOMEM;
        goto done;
    }
    if ((rc = gm_fdstats_cov(real, norm, cov_r))) goto done;
    for (size_t p = 0; p < points && !rc; p++) {
        /* np.linspace(n_min, n, points).astype(int32): truncation of n_min + p (n - n_min) / (points - 1) */
        double t = (double)n_min + (double)p * ((double)(n - n_min) / (double)(points - 1));
        N[p] = p + 1 == points ? n : (size_t)t;
        void *buf = NULL;
        gm_feats sub = *gen;
        sub.n = N[p];
        if (shuffle && (rc = gm_feats_subsample(gen, N[p], seed, 1000 + (uint64_t)p, &buf, &sub))) break;
        gm_fd_result r;
        if (!(rc = gm_fdstats_init(&s, d)) && !(rc = gm_fdstats_add(&s, &sub)) && !(rc = gm_fdstats_cov(&s, norm, cov_g)))
            rc = gm_fd_from_moments(real->mean, cov_r, s.mean, cov_g, d, &r);
        gm_fdstats_free(&s);
        gm_free(buf);
        if (!rc) F[p] = r.fd;
    }
    if (rc) goto done;
    /* least squares of F on x = 1/N, centred sums in index order */
    double mx = 0, my = 0, sxx = 0, sxy = 0;
    for (size_t p = 0; p < points; p++) {
        mx += 1.0 / (double)N[p];
        my += F[p];
    }
    mx /= (double)points;
    my /= (double)points;
    for (size_t p = 0; p < points; p++) {
        double dx = 1.0 / (double)N[p] - mx;
        sxx += dx * dx;
        sxy += dx * (F[p] - my);
    }
    if (!(sxx > 0)) {
        rc = gm_set_error(GM_EINVAL, "FD-infinity: the subset sizes are all equal (n_min too close to %zu)", n);
        goto done;
    }
    double b = sxy / sxx;
    *fd_inf = my - b * mx;
    if (slope) *slope = b;
    if (ns) memcpy(ns, N, points * sizeof(size_t));
    if (fds) memcpy(fds, F, points * sizeof(double));
done:
    gm_free(N);
    gm_free(F);
    gm_free(cov_r);
    gm_free(cov_g);
    return rc;
}
