/* SPDX-License-Identifier: MIT */
/* eval_prd.c — PRD curves (Sajjadi et al. 2018): k-means++ (Philox-seeded) + Lloyd on the union of the
 * generated and real sets, cluster histograms, precision/recall over num_angles slopes, max F_8 / F_1/8.
 * Matches msmsajjadi/precision-recall-distributions in distribution (its MiniBatchKMeans is unseeded),
 * not in bits. Owns nothing between calls. Thread safety: re-entrant; deterministic for any thread count. */
#include "eval_internal.h"
#include "genmix/rng.h"

#include <math.h>
#include <string.h>

gm_prd_config gm_prd_config_default(void) {
    gm_prd_config c = {20, 1001, 10, 10, 100, 0};
    return c;
}

int gm_prd_from_histograms(const double *eval_hist, const double *ref_hist, size_t nbins, size_t num_angles,
                           double *precision, double *recall) {
    if (num_angles < 3) GM_FAIL(GM_EINVAL, "PRD: num_angles must be >= 3");
    const double eps = 1e-10, a0 = eps, a1 = 1.5707963267948966 - eps; /* pi/2 - eps */
    for (size_t a = 0; a < num_angles; a++) {
        double ang = a0 + (a1 - a0) * (double)a / (double)(num_angles - 1);
        double slope = tan(ang), p = 0;
        for (size_t w = 0; w < nbins; w++) {
            double u = ref_hist[w] * slope, v = eval_hist[w];
            p += u < v ? u : v;
        }
        double r = p / slope;
        if (p > 1.001 || r > 1.001) GM_FAIL(GM_ENUMERIC, "PRD: precision/recall above 1.001 (histograms not normalised?)");
        precision[a] = fmin(fmax(p, 0), 1);
        recall[a] = fmin(fmax(r, 0), 1);
    }
    return GM_OK;
}

double gm_prd_fbeta_max(const double *precision, const double *recall, size_t n, double beta) {
    double best = 0, b2 = beta * beta;
    for (size_t i = 0; i < n; i++) {
        double f = (1 + b2) * precision[i] * recall[i] / (b2 * precision[i] + recall[i] + 1e-10);
        if (f > best) best = f;
    }
    return best;
}

/* Squared distances of the N points to the K centers: D(N,K) = |x|² + |c|² - 2 X C^T, labels, inertia. */
static double assign(const double *X, const double *xn, size_t N, size_t d, const double *C, size_t K, double *D,
                     size_t *lab, double *rowmin) {
    gm_la_dgemm_nt(N, K, d, -2.0, X, C, 0.0, D);
    double cn[256];
    for (size_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t t = 0; t < d; t++) s += C[k * d + t] * C[k * d + t];
        cn[k] = s;
    }
#pragma omp parallel for schedule(static) if (N * K > 65536)
    for (long i = 0; i < (long)N; i++) {
        size_t best = 0;
        double bv = INFINITY;
        for (size_t k = 0; k < K; k++) {
            double v = xn[i] + cn[k] + D[(size_t)i * K + k];
            if (v < bv) {
                bv = v;
                best = k;
            }
        }
        lab[i] = best;
        rowmin[i] = bv > 0 ? bv : 0;
    }
    double in = 0;
    for (size_t i = 0; i < N; i++) in += rowmin[i];
    return in;
}

/* k-means++ seeding then Lloyd iterations; returns the inertia, labels in lab. */
static double kmeans_once(const double *X, const double *xn, size_t N, size_t d, size_t K, size_t max_iter,
                          gm_rng *rng, double *C, double *D, size_t *lab, double *w, size_t *cnt) {
    size_t first = (size_t)gm_rng_below(rng, N);
    memcpy(C, X + first * d, d * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t t = 0; t < d; t++) {
            double u = X[i * d + t] - C[t];
            s += u * u;
        }
        w[i] = s;
    }
    for (size_t k = 1; k < K; k++) {
        double tot = 0;
        for (size_t i = 0; i < N; i++) tot += w[i];
        size_t pick = 0;
        if (tot > 0) {
            double u = gm_rng_uniform(rng) * tot, acc = 0;
            pick = N - 1;
            for (size_t i = 0; i < N; i++) {
                acc += w[i];
                if (u < acc) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (size_t)gm_rng_below(rng, N);
        }
        memcpy(C + k * d, X + pick * d, d * sizeof(double));
#pragma omp parallel for schedule(static) if (N * d > 65536)
        for (long i = 0; i < (long)N; i++) {
            double s = 0;
            for (size_t t = 0; t < d; t++) {
                double u = X[(size_t)i * d + t] - C[k * d + t];
                s += u * u;
            }
            if (s < w[i]) w[i] = s;
        }
    }
    double inertia = assign(X, xn, N, d, C, K, D, lab, w);
    for (size_t it = 0; it < max_iter; it++) {
        memset(C, 0, K * d * sizeof(double));
        memset(cnt, 0, K * sizeof(size_t));
        for (size_t i = 0; i < N; i++) {
            cnt[lab[i]]++;
            for (size_t t = 0; t < d; t++) C[lab[i] * d + t] += X[i * d + t];
        }
        for (size_t k = 0; k < K; k++) {
            if (cnt[k] == 0) { /* empty cluster: move it to the point farthest from its center */
                size_t far = 0;
                for (size_t i = 1; i < N; i++)
                    if (w[i] > w[far]) far = i;
                memcpy(C + k * d, X + far * d, d * sizeof(double));
                w[far] = 0;
            } else {
                for (size_t t = 0; t < d; t++) C[k * d + t] /= (double)cnt[k];
            }
        }
        double prev = inertia;
        inertia = assign(X, xn, N, d, C, K, D, lab, w);
        if (prev - inertia <= 1e-12 * prev) break;
    }
    return inertia;
}

int gm_prd(const gm_feats *ref, const gm_feats *eval, const gm_prd_config *cfg, double *precision, double *recall,
           double *f8, double *f1_8) {
    int rc = gm_feats_check_pair(ref, eval, 1, "PRD");
    if (rc) return rc;
    size_t K = cfg->num_clusters, A = cfg->num_angles, d = ref->d, N = ref->n + eval->n;
    if (K < 1 || K > 256) GM_FAIL(GM_EINVAL, "PRD: num_clusters must be in 1..256");
    if (K > N) GM_FAIL(GM_EINVAL, "PRD: %zu clusters for %zu points", K, N);
    if (cfg->num_runs < 1 || cfg->n_init < 1) GM_FAIL(GM_EINVAL, "PRD: num_runs and n_init must be >= 1");
    double *X = gm_malloc(N * d * sizeof(double)), *xn = gm_malloc(N * sizeof(double));
    double *C = gm_malloc(K * d * sizeof(double)), *D = gm_malloc(N * K * sizeof(double));
    double *w = gm_malloc(N * sizeof(double)), *pc = gm_malloc(A * sizeof(double)), *rcv = gm_malloc(A * sizeof(double));
    double *he = gm_malloc(K * sizeof(double)), *hr = gm_malloc(K * sizeof(double));
    size_t *lab = gm_malloc(N * sizeof(size_t)), *best = gm_malloc(N * sizeof(size_t)), *cnt = gm_malloc(K * sizeof(size_t));
    rc = GM_ENOMEM;
    if (!X || !xn || !C || !D || !w || !pc || !rcv || !he || !hr || !lab || !best || !cnt) goto done;
    /* vstack([eval, ref]) as in the reference */
    gm_feats_rows_f64(eval, 0, eval->n, X);
    gm_feats_rows_f64(ref, 0, ref->n, X + eval->n * d);
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t t = 0; t < d; t++) s += X[i * d + t] * X[i * d + t];
        xn[i] = s;
    }
    for (size_t a = 0; a < A; a++) precision[a] = recall[a] = 0;
    for (size_t run = 0; run < cfg->num_runs; run++) {
        double best_in = INFINITY;
        for (size_t init = 0; init < cfg->n_init; init++) {
            gm_rng r;
            gm_rng_init(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)2 << 32) + run * cfg->n_init + init));
            double in = kmeans_once(X, xn, N, d, K, cfg->max_iter, &r, C, D, lab, w, cnt);
            if (in < best_in) {
                best_in = in;
                memcpy(best, lab, N * sizeof(size_t));
            }
        }
        for (size_t k = 0; k < K; k++) he[k] = hr[k] = 0;
        for (size_t i = 0; i < eval->n; i++) he[best[i]] += 1.0 / (double)eval->n;
        for (size_t i = eval->n; i < N; i++) hr[best[i]] += 1.0 / (double)ref->n;
        if ((rc = gm_prd_from_histograms(he, hr, K, A, pc, rcv))) goto done;
        for (size_t a = 0; a < A; a++) {
            precision[a] += pc[a] / (double)cfg->num_runs;
            recall[a] += rcv[a] / (double)cfg->num_runs;
        }
    }
    if (f8) *f8 = gm_prd_fbeta_max(precision, recall, A, 8);
    if (f1_8) *f1_8 = gm_prd_fbeta_max(precision, recall, A, 1.0 / 8);
    rc = GM_OK;
done:
    gm_free(X);
    gm_free(xn);
    gm_free(C);
    gm_free(D);
    gm_free(w);
    gm_free(pc);
    gm_free(rcv);
    gm_free(he);
    gm_free(hr);
    gm_free(lab);
    gm_free(best);
    gm_free(cnt);
    return rc;
}
