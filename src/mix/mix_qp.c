/* SPDX-License-Identifier: MIT */
/* mix_qp.c — the simplex-constrained convex QP of Mixture-UCB:
 *     min alpha'K alpha + c'alpha  s.t. alpha >= 0, sum alpha = 1     (K symmetric PSD, m x m)
 * Exact for m <= GM_MIX_QP_ENUM_MAX by enumerating the supports A and solving the equality-constrained
 * KKT system of each, [2 K_AA 1; 1' 0][alpha_A; nu] = [-c_A; 1]; every feasible solution is a point of the
 * simplex and the optimum's support is among them, so the feasible candidate of lowest objective is the
 * minimiser (the KKT systems by gm_la_lu_solve_ref). Larger m: FISTA with the sort-based simplex
 * projection. No allocation (stack arrays).
 * Thread-safe (no state). */
#include <math.h>
#include <string.h>

#include "genmix/linalg.h"
#include "genmix/mix.h"

static double qp_objective(const double *K, const double *c, size_t m, const double *a) {
    double v = 0.0;
    for (size_t i = 0; i < m; i++) {
        if (a[i] == 0.0) continue;
        double r = 0.0;
        for (size_t j = 0; j < m; j++) r += K[i * m + j] * a[j];
        v += a[i] * (r + c[i]);
    }
    return v;
}

/* KKT system of min a'Ka + c'a on the simplex restricted to the support `mask`: [2K_AA 1; 1' 0] [a_A; -nu]
 * = [-c_A; 1], solved in place. On success (0) idx[0..*k) lists the support, r[0..*k) its weights and r[*k]
 * the multiplier -nu. M and r hold (GM_MIX_QP_ENUM_MAX + 1)^2 and GM_MIX_QP_ENUM_MAX + 1 doubles. */
static int kkt_support(const double *K, const double *c, size_t m, unsigned long mask, double scale, double *M,
                       double *r, size_t *idx, size_t *k_out) {
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (mask & (1UL << i)) idx[k++] = i;
    size_t n = k + 1;
    for (size_t a = 0; a < k; a++) {
        for (size_t b = 0; b < k; b++) M[a * n + b] = 2.0 * K[idx[a] * m + idx[b]];
        M[a * n + k] = 1.0;
        M[k * n + a] = 1.0;
        r[a] = -c[idx[a]];
    }
    M[k * n + k] = 0.0;
    r[k] = 1.0;
    *k_out = k;
    /* LU with partial pivoting, the reference path (no allocation, same bits on every build) */
    return gm_la_lu_solve_ref(M, r, n, 1, 1e-13 * scale) == GM_OK ? 0 : -1;
}

static void qp_enumerate(const double *K, const double *c, size_t m, double *alpha, double *obj) {
    double scale = 1.0;
    for (size_t i = 0; i < m * m; i++) scale = fmax(scale, fabs(K[i]));
    double M[(GM_MIX_QP_ENUM_MAX + 1) * (GM_MIX_QP_ENUM_MAX + 1)], r[GM_MIX_QP_ENUM_MAX + 1];
    double cand[GM_MIX_QP_ENUM_MAX];
    size_t idx[GM_MIX_QP_ENUM_MAX];
    double best = INFINITY;
    for (unsigned long mask = 1; mask < (1UL << m); mask++) {
        size_t k;
        if (kkt_support(K, c, m, mask, scale, M, r, idx, &k) != 0) continue;
        int ok = 1;
        double sum = 0.0;
        for (size_t a = 0; a < k; a++) {
            if (!(r[a] >= -1e-10)) { ok = 0; break; }
            sum += r[a] > 0.0 ? r[a] : 0.0;
        }
        if (!ok || !(sum > 0.0)) continue;
        memset(cand, 0, m * sizeof *cand);
        for (size_t a = 0; a < k; a++) cand[idx[a]] = r[a] > 0.0 ? r[a] / sum : 0.0;
        double v = qp_objective(K, c, m, cand);
        /* strictly better beyond rounding: earlier supports (smaller masks) win ties */
        if (isinf(best) || v < best - 1e-13 * (1.0 + fabs(best))) {
            best = v;
            memcpy(alpha, cand, m * sizeof *alpha);
        }
    }
    if (obj) *obj = best;
}

/* Euclidean projection onto the simplex (sort-based). */
static void project_simplex(double *v, size_t m) {
    double u[GM_MIX_MAX_ARMS];
    memcpy(u, v, m * sizeof *u);
    for (size_t i = 1; i < m; i++) { /* insertion sort, descending */
        double x = u[i];
        size_t j = i;
        while (j > 0 && u[j - 1] < x) u[j] = u[j - 1], j--;
        u[j] = x;
    }
    double cum = 0.0, theta = 0.0;
    for (size_t i = 0; i < m; i++) {
        cum += u[i];
        double t = (cum - 1.0) / (double)(i + 1);
        if (u[i] - t > 0.0) theta = t;
    }
    for (size_t i = 0; i < m; i++) v[i] = v[i] > theta ? v[i] - theta : 0.0;
}

static void qp_fista(const double *K, const double *c, size_t m, double *alpha, double *obj) {
    double L = 0.0; /* Lipschitz constant of the gradient 2K alpha + c: 2 * max row sum of |K| */
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t j = 0; j < m; j++) s += fabs(K[i * m + j]);
        L = fmax(L, 2.0 * s);
    }
    if (!(L > 0.0)) L = 1.0;
    double x[GM_MIX_MAX_ARMS], y[GM_MIX_MAX_ARMS], xn[GM_MIX_MAX_ARMS];
    for (size_t i = 0; i < m; i++) x[i] = y[i] = 1.0 / (double)m;
    double tk = 1.0;
    for (int it = 0; it < 200000; it++) {
        for (size_t i = 0; i < m; i++) {
            double g = c[i];
            for (size_t j = 0; j < m; j++) g += 2.0 * K[i * m + j] * y[j];
            xn[i] = y[i] - g / L;
        }
        project_simplex(xn, m);
        double tn = 0.5 * (1.0 + sqrt(1.0 + 4.0 * tk * tk)), diff = 0.0;
        for (size_t i = 0; i < m; i++) {
            diff = fmax(diff, fabs(xn[i] - x[i]));
            y[i] = xn[i] + (tk - 1.0) / tn * (xn[i] - x[i]);
            x[i] = xn[i];
        }
        tk = tn;
        if (diff < 1e-14 && it > 10) break;
    }
    memcpy(alpha, x, m * sizeof *alpha);
    if (obj) *obj = qp_objective(K, c, m, alpha);
}

int gm_mix_qp(const double *K, const double *c, size_t m, double *alpha, double *obj) {
    if (m == 0 || m > GM_MIX_MAX_ARMS) GM_FAIL(GM_EINVAL, "mixture QP: m = %zu arms (1..%d allowed)", m, GM_MIX_MAX_ARMS);
    for (size_t i = 0; i < m * m; i++)
        if (!isfinite(K[i])) GM_FAIL(GM_ENUMERIC, "mixture QP: non-finite kernel matrix entry");
    for (size_t i = 0; i < m; i++)
        if (!isfinite(c[i])) GM_FAIL(GM_ENUMERIC, "mixture QP: non-finite linear term");
    if (m <= GM_MIX_QP_ENUM_MAX)
        qp_enumerate(K, c, m, alpha, obj);
    else
        qp_fista(K, c, m, alpha, obj);
    return GM_OK;
}

/* Warm start (internal, see mix_internal.h): solve the KKT system on support `mask` and accept it only
 * if it certifies optimality (alpha_A >= 0 and 2K alpha + c >= nu off the support, up to rounding).
 * With a strictly convex objective (ridge > 0) the minimiser is unique, so an accepted answer equals the
 * enumeration's up to rounding. Returns 1 when accepted (alpha written), else 0. */
int gm_mix_qp_try_support(const double *K, const double *c, size_t m, unsigned long mask, double *alpha) {
    if (m > GM_MIX_QP_ENUM_MAX || mask == 0 || mask >= (1UL << m)) return 0;
    double scale = 1.0;
    for (size_t i = 0; i < m * m; i++) scale = fmax(scale, fabs(K[i]));
    double M[(GM_MIX_QP_ENUM_MAX + 1) * (GM_MIX_QP_ENUM_MAX + 1)], r[GM_MIX_QP_ENUM_MAX + 1];
    size_t idx[GM_MIX_QP_ENUM_MAX], k;
    if (kkt_support(K, c, m, mask, scale, M, r, idx, &k) != 0) return 0;
    double cand[GM_MIX_QP_ENUM_MAX] = {0}, sum = 0.0;
    for (size_t a = 0; a < k; a++) {
        if (!(r[a] > 0.0)) return 0;
        cand[idx[a]] = r[a];
        sum += r[a];
    }
    for (size_t i = 0; i < m; i++) cand[i] /= sum;
    double nu = -r[k], tol = 1e-12 * (scale + 1.0);
    for (size_t i = 0; i < m; i++) {
        if (mask & (1UL << i)) continue;
        double g = c[i];
        for (size_t j = 0; j < m; j++) g += 2.0 * K[i * m + j] * cand[j];
        if (g < nu - tol) return 0;
    }
    memcpy(alpha, cand, m * sizeof *alpha);
    return 1;
}
