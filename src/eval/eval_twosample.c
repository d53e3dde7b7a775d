/* SPDX-License-Identifier: MIT */
/* eval_twosample.c — two-sample statistics between point sets of equal dimension, float rows (latent
 * codes, images): unbiased RBF MMD^2 (through gm_mmd), median-distance bandwidth, sliced Wasserstein,
 * a VAE's empirical aggregated posterior log P-hat and its moments, the classifier two-sample test
 * (logistic regression by Newton with gm_la_spd_solve_ref), nearest-neighbour squared distances.
 * Owns nothing between calls. Thread safety: re-entrant; OpenMP loops are per row with partials added
 * in index order, so results do not depend on the thread count. */
#include "eval_internal.h"
#include "genmix/rng.h"

#include <math.h>
#include <string.h>

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif

static double sqdist(const float *a, const float *b, size_t d) {
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
        double t = (double)a[j] - (double)b[j];
        s += t * t;
    }
    return s;
}

int gm_latent_mmd2_rbf(const float *x, size_t m, const float *y, size_t n, size_t d, double h, double *mmd2) {
    GM_ASSERT(x && y && mmd2);
    if (m < 2 || n < 2 || d == 0) GM_FAIL(GM_EINVAL, "mmd: need >= 2 points per set and d > 0 (m=%zu, n=%zu)", m, n);
    if (!(h > 0.0 && isfinite(h))) GM_FAIL(GM_EINVAL, "mmd: bandwidth must be positive and finite (got %g)", h);
    gm_feats fx = gm_feats_f32(x, m, d), fy = gm_feats_f32(y, n, d);
    gm_kernel k = gm_kernel_rbf_sigma(h);
    int rc = gm_mmd(&fx, &fy, &k, GM_MMD_UNBIASED, mmd2);
    if (rc == GM_ENUMERIC) GM_FAIL(GM_ENUMERIC, "mmd: non-finite result (NaN/Inf in the inputs?)");
    return rc;
}

int gm_latent_median_distance(const float *x, size_t m, const float *y, size_t n, size_t d, size_t max_points,
                              double *h) {
    GM_ASSERT(x && h && (y || n == 0));
    size_t tot = m + n;
    if (tot < 2 || d == 0) GM_FAIL(GM_EINVAL, "median distance: need >= 2 points and d > 0");
    size_t k = max_points ? max_points : 1000;
    if (k < 2) k = 2;
    if (k > tot) k = tot;
    size_t np = k * (k - 1) / 2;
    double *dist = gm_malloc(np * sizeof(double));
    const float **pt = gm_malloc(k * sizeof(float *));
    if (!dist || !pt) {
        gm_free(dist);
        gm_free(pt);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        size_t idx = (size_t)(((double)i * (double)tot) / (double)k); /* evenly spaced rows of the pool */
        pt[i] = idx < m ? x + idx * d : y + (idx - m) * d;
    }
    size_t p = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++) dist[p++] = sqrt(sqdist(pt[i], pt[j], d));
    gm_sort_f64(dist, np);
    double med = gm_median_sorted(dist, np);
    gm_free(dist);
    gm_free(pt);
    if (!isfinite(med)) GM_FAIL(GM_ENUMERIC, "median distance: non-finite (NaN/Inf in the inputs?)");
    *h = med;
    return GM_OK;
}

int gm_latent_swd(const float *x, const float *y, size_t n, size_t d, size_t L, uint64_t seed, double *swd) {
    GM_ASSERT(x && y && swd);
    if (n == 0 || d == 0 || L == 0) GM_FAIL(GM_EINVAL, "swd: need n, d, L > 0");
    double *px = gm_malloc((2 * n + d) * sizeof(double));
    if (!px) return GM_ENOMEM;
    double *py = px + n, *u = py + n;
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 0));
    double tot = 0.0;
    for (size_t l = 0; l < L; l++) {
        double nu = 0.0;
        for (size_t j = 0; j < d; j++) {
            u[j] = gm_rng_normal(&r);
            nu += u[j] * u[j];
        }
        nu = sqrt(nu);
        for (size_t j = 0; j < d; j++) u[j] /= nu;
        for (size_t i = 0; i < n; i++) {
            double a = 0.0, b = 0.0;
            for (size_t j = 0; j < d; j++) {
                a += u[j] * (double)x[i * d + j];
                b += u[j] * (double)y[i * d + j];
            }
            px[i] = a;
            py[i] = b;
        }
        gm_sort_f64(px, n);
        gm_sort_f64(py, n);
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += (px[i] - py[i]) * (px[i] - py[i]);
        tot += s / (double)n;
    }
    gm_free(px);
    *swd = sqrt(tot / (double)L);
    if (!isfinite(*swd)) GM_FAIL(GM_ENUMERIC, "swd: non-finite result (NaN/Inf in the inputs?)");
    return GM_OK;
}

int gm_latent_log_phat(double *out, const float *z, size_t m, const float *mu, const float *logvar, size_t N,
                       size_t d) {
    GM_ASSERT(out && z && mu && logvar);
    if (m == 0 || N == 0 || d == 0) GM_FAIL(GM_EINVAL, "log P-hat: need m, N, d > 0");
    const double c = -0.5 * (double)d * log(2.0 * 3.14159265358979323846) - log((double)N);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (long lq = 0; lq < (long)m; lq++) {
        size_t q = (size_t)lq;
        const float *zq = z + q * d;
        double mx = -HUGE_VAL, s = 0.0; /* streaming log-sum-exp */
        for (size_t i = 0; i < N; i++) {
            double l = 0.0;
            for (size_t j = 0; j < d; j++) {
                double lv = (double)logvar[i * d + j], t = (double)zq[j] - (double)mu[i * d + j];
                l -= 0.5 * (lv + t * t * exp(-lv));
            }
            if (l > mx) {
                s = s * exp(mx - l) + 1.0;
                mx = l;
            } else {
                s += exp(l - mx);
            }
        }
        out[q] = mx + log(s) + c;
    }
    for (size_t q = 0; q < m; q++)
        if (isnan(out[q])) GM_FAIL(GM_ENUMERIC, "log P-hat: NaN at query %zu (NaN in the inputs?)", q);
    return GM_OK;
}

int gm_latent_c2st(const float *x, size_t m, const float *y, size_t n, size_t d, uint64_t seed, double *acc) {
    GM_ASSERT(x && y && acc);
    if (m < 4 || n < 4 || d == 0) GM_FAIL(GM_EINVAL, "c2st: need >= 4 points per set and d > 0");
    const size_t tot = m + n, k = d + 1;
    size_t *perm = gm_malloc(tot * sizeof(size_t));
    double *w = gm_malloc((3 * k + k * k + tot) * sizeof(double));
    if (!perm || !w) {
        gm_free(perm);
        gm_free(w);
        return GM_ENOMEM;
    }
    double *g = w + k, *step = g + k, *H = step + k, *lab = H + k * k;
    /* the training set: the first half of each set in a seeded order; rows 0..m-1 are x, m.. are y */
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 1));
    gm_rng_permutation(&r, perm, m);
    gm_rng_permutation(&r, perm + m, n);
    for (size_t i = 0; i < n; i++) perm[m + i] += m;
    const size_t mt = m / 2, nt = n / 2;
    for (size_t i = 0; i < tot; i++) lab[i] = i < m ? 1.0 : 0.0;
#define C2ST_ROW(idx) ((idx) < m ? x + (idx) * d : y + ((idx) - m) * d)
    memset(w, 0, k * sizeof(double));
    int rc = GM_OK, converged = 0;
    for (int it = 0; it < 50 && !converged; it++) {
        /* gradient and Hessian of the mean negative log-likelihood (+ 1e-4/2 |w|^2, bias unpenalised) */
        memset(g, 0, k * sizeof(double));
        memset(H, 0, k * k * sizeof(double));
        const size_t ntr = mt + nt;
        for (size_t t = 0; t < ntr; t++) {
            size_t idx = t < mt ? perm[t] : perm[m + (t - mt)];
            const float *row = C2ST_ROW(idx);
            double a = w[d];
            for (size_t j = 0; j < d; j++) a += w[j] * (double)row[j];
            double p = 1.0 / (1.0 + exp(-a)), e = p - lab[idx], v = p * (1.0 - p);
            for (size_t j = 0; j <= d; j++) {
                double fj = j < d ? (double)row[j] : 1.0;
                g[j] += e * fj;
                for (size_t l = 0; l <= j; l++) H[j * k + l] += v * fj * (l < d ? (double)row[l] : 1.0);
            }
        }
        for (size_t j = 0; j < k; j++) {
            g[j] /= (double)ntr;
            for (size_t l = 0; l <= j; l++) H[j * k + l] /= (double)ntr;
            if (j < d) {
                g[j] += 1e-4 * w[j];
                H[j * k + j] += 1e-4;
            }
        }
        H[d * k + d] += 1e-10;
        for (size_t j = 0; j < k; j++)
            for (size_t l = j + 1; l < k; l++) H[j * k + l] = H[l * k + j];
        double gn = 0.0;
        for (size_t j = 0; j < k; j++) gn += g[j] * g[j];
        if (sqrt(gn) < 1e-9) {
            converged = 1;
            break;
        }
        memcpy(step, g, k * sizeof(double));
        if ((rc = gm_la_spd_solve_ref(H, step, k, 1))) {
            rc = gm_set_error(rc, "c2st: Hessian not positive definite");
            break;
        }
        for (size_t j = 0; j < k; j++) w[j] -= step[j];
    }
    if (!rc && !converged) rc = gm_set_error(GM_ENUMERIC, "c2st: logistic regression did not converge");
    if (!rc) {
        size_t correct = 0, ntest = (m - mt) + (n - nt);
        for (size_t t = 0; t < ntest; t++) {
            size_t idx = t < m - mt ? perm[mt + t] : perm[m + nt + (t - (m - mt))];
            const float *row = C2ST_ROW(idx);
            double a = w[d];
            for (size_t j = 0; j < d; j++) a += w[j] * (double)row[j];
            correct += (a > 0.0) == (idx < m);
        }
        *acc = (double)correct / (double)ntest;
    }
#undef C2ST_ROW
    gm_free(perm);
    gm_free(w);
    return rc;
}

int gm_latent_phat_moments(const float *mu, const float *logvar, size_t N, size_t d, double active_thresh,
                           double *mean, double *var, size_t *n_active) {
    GM_ASSERT(mu);
    if (N < 2 || d == 0) GM_FAIL(GM_EINVAL, "P-hat moments: need N >= 2 encodings and d > 0");
    size_t act = 0;
    for (size_t j = 0; j < d; j++) {
        double s = 0.0, ev = 0.0;
        for (size_t i = 0; i < N; i++) {
            s += (double)mu[i * d + j];
            if (logvar) ev += exp((double)logvar[i * d + j]);
        }
        double mj = s / (double)N, v = 0.0;
        for (size_t i = 0; i < N; i++) v += ((double)mu[i * d + j] - mj) * ((double)mu[i * d + j] - mj);
        v /= (double)(N - 1);
        if (!isfinite(v) || !isfinite(ev)) GM_FAIL(GM_ENUMERIC, "P-hat moments: non-finite in dimension %zu", j);
        if (mean) mean[j] = mj;
        if (var) var[j] = ev / (double)N + v;
        act += v > active_thresh;
    }
    if (n_active) *n_active = act;
    return GM_OK;
}

int gm_latent_nearest_sqdist(const float *q, size_t m, const float *ref, size_t n, size_t d, float *out) {
    GM_ASSERT(q && ref && out);
    if (m == 0 || n == 0 || d == 0) GM_FAIL(GM_EINVAL, "nearest: empty input");
#ifdef GM_HAVE_BLAS
    const size_t TILE = 256;
    float *G = gm_malloc(TILE * n * sizeof(float)), *rn = gm_malloc(n * sizeof(float));
    if (!G || !rn) {
        gm_free(G);
        gm_free(rn);
        return GM_ENOMEM;
    }
    for (size_t j = 0; j < n; j++) {
        double s = 0.0;
        for (size_t k = 0; k < d; k++) s += (double)ref[j * d + k] * (double)ref[j * d + k];
        rn[j] = (float)s;
    }
    for (size_t i0 = 0; i0 < m; i0 += TILE) {
        size_t mb = m - i0 < TILE ? m - i0 : TILE;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mb, (int)n, (int)d, 1.0f, q + i0 * d, (int)d, ref,
                    (int)d, 0.0f, G, (int)n);
        for (size_t i = 0; i < mb; i++) {
            double qn = 0.0;
            for (size_t k = 0; k < d; k++) qn += (double)q[(i0 + i) * d + k] * (double)q[(i0 + i) * d + k];
            float best = HUGE_VALF;
            for (size_t j = 0; j < n; j++) {
                float v = (float)qn + rn[j] - 2.0f * G[i * n + j];
                if (v < best) best = v;
            }
            out[i0 + i] = best > 0.0f ? best : 0.0f;
        }
    }
    gm_free(G);
    gm_free(rn);
#else
    for (size_t i = 0; i < m; i++) {
        double best = HUGE_VAL;
        for (size_t j = 0; j < n; j++) {
            double v = sqdist(q + i * d, ref + j * d, d);
            if (v < best) best = v;
        }
        out[i] = (float)best;
    }
#endif
    for (size_t i = 0; i < m; i++)
        if (!isfinite(out[i])) GM_FAIL(GM_ENUMERIC, "nearest: non-finite distance for query %zu", i);
    return GM_OK;
}
