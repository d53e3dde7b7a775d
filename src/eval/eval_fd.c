/* SPDX-License-Identifier: MIT */
/* eval_fd.c — Fréchet distance: streaming/mergeable float64 statistics (Chan's merge of per-chunk
 * centred DSYRK moments), the symmetric-eigen trace-sqrt path, the low-rank path for n < d, and a
 * naive Jacobi reference. Owns the arrays of gm_fdstats. Thread safety: re-entrant. */
#include "eval_internal.h"

#include <math.h>
#include <string.h>

#define FD_CHUNK 1024

/* ---- statistics ------------------------------------------------------------------------------- */

int gm_fdstats_init(gm_fdstats *s, size_t d) {
    GM_ASSERT(s != NULL);
    memset(s, 0, sizeof *s);
    if (d == 0) GM_FAIL(GM_EINVAL, "FD statistics: dimension 0");
    if (d > SIZE_MAX / d) GM_FAIL(GM_EINVAL, "FD statistics: dimension %zu: the %zu x %zu moment matrix overflows size_t", d, d, d);
    s->mean = gm_calloc(d, sizeof(double));
    s->m2 = gm_calloc(d * d, sizeof(double));
    if (!s->mean || !s->m2) {
        gm_fdstats_free(s);
        return GM_ENOMEM;
    }
    s->d = d;
    return GM_OK;
}

void gm_fdstats_free(gm_fdstats *s) {
    if (!s) return;
    gm_free(s->mean);
    gm_free(s->m2);
    memset(s, 0, sizeof *s);
}

void gm_fdstats_round_mean_f32(gm_fdstats *s) {
    for (size_t j = 0; j < s->d; j++) s->mean[j] = (double)(float)s->mean[j];
}

/* dst (na, mean, m2) <- merge with (nb, mb, m2b) by Chan's formula. */
static void chan_merge(gm_fdstats *dst, int64_t nb, const double *mb, const double *m2b) {
    size_t d = dst->d;
    int64_t na = dst->n;
    if (nb == 0) return;
    if (na == 0) {
        memcpy(dst->mean, mb, d * sizeof(double));
        memcpy(dst->m2, m2b, d * d * sizeof(double));
        dst->n = nb;
        return;
    }
    double n = (double)(na + nb);
    double f = (double)na * (double)nb / n;
    double *m2 = dst->m2;
    const double *ma = dst->mean;
#pragma omp parallel for schedule(static) if (d * d > 65536)
    for (long i = 0; i < (long)d; i++) {
        double di = mb[i] - ma[i];
        for (size_t j = 0; j < d; j++) m2[(size_t)i * d + j] += m2b[(size_t)i * d + j] + di * (mb[j] - ma[j]) * f;
    }
    for (size_t i = 0; i < d; i++) dst->mean[i] += (mb[i] - dst->mean[i]) * ((double)nb / n);
    dst->n = na + nb;
}

/* One call: the rows are shifted by K = the mean of the first chunk (a pilot mean) and accumulated as
 * U = Σ (x - K)(x - K)^T (upper triangle, one SYRK per chunk into the same matrix) and s = Σ (x - K); then
 * the call's mean is K + s/n and its centred moment U - s s^T / n, merged into the statistics once (Chan).
 * The shift keeps the cancellation small (K is within a few standard errors of the mean); the conversion
 * to double and the shift run in parallel by rows, the sums of s in row order. */
int gm_fdstats_add(gm_fdstats *s, const gm_feats *x) {
    GM_ASSERT(s && x);
    if (x->d != s->d) GM_FAIL(GM_ESHAPE, "FD statistics: rows of dimension %zu added to statistics of %zu", x->d, s->d);
    if (x->n == 0) return GM_OK;
    size_t d = s->d, n = x->n;
    size_t chunk = n < FD_CHUNK ? n : FD_CHUNK;
    double *buf = gm_malloc(chunk * d * sizeof(double));
    double *m2 = gm_calloc(d * d, sizeof(double));
    double *K = gm_calloc(d, sizeof(double));
    double *sum = gm_calloc(d, sizeof(double));
    if (!buf || !m2 || !K || !sum) {
        gm_free(buf);
        gm_free(m2);
        gm_free(K);
        gm_free(sum);
        return GM_ENOMEM;
    }
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t cnt = n - r0 < chunk ? n - r0 : chunk;
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
        for (long i = 0; i < (long)cnt; i++) gm_feats_rows_f64(x, r0 + (size_t)i, 1, buf + (size_t)i * d);
        if (r0 == 0) { /* the pilot mean */
            for (size_t i = 0; i < cnt; i++)
                for (size_t j = 0; j < d; j++) K[j] += buf[i * d + j];
            for (size_t j = 0; j < d; j++) K[j] /= (double)cnt;
        }
#pragma omp parallel for schedule(static) if (cnt * d > 65536)
        for (long i = 0; i < (long)cnt; i++)
            for (size_t j = 0; j < d; j++) buf[(size_t)i * d + j] -= K[j];
        for (size_t i = 0; i < cnt; i++)
            for (size_t j = 0; j < d; j++) sum[j] += buf[i * d + j];
        gm_la_dsyrk_tn_add(cnt, d, buf, m2);
    }
    /* the call's moments: mean K + s/n, centred second moment U - s s^T / n (upper triangle, then mirrored) */
#pragma omp parallel for schedule(static) if (d * d > 65536)
    for (long i = 0; i < (long)d; i++)
        for (size_t j = (size_t)i; j < d; j++) m2[(size_t)i * d + j] -= sum[i] * sum[j] / (double)n;
    gm_la_mirror_upper(m2, d);
    for (size_t j = 0; j < d; j++) K[j] += sum[j] / (double)n;
    chan_merge(s, (int64_t)n, K, m2);
    gm_free(buf);
    gm_free(m2);
    gm_free(K);
    gm_free(sum);
    return GM_OK;
}

int gm_fdstats_merge(gm_fdstats *dst, const gm_fdstats *src) {
    GM_ASSERT(dst && src);
    if (dst->d != src->d) GM_FAIL(GM_ESHAPE, "FD statistics of dimensions %zu and %zu cannot be merged", dst->d, src->d);
    chan_merge(dst, src->n, src->mean, src->m2);
    return GM_OK;
}

int gm_fdstats_cov(const gm_fdstats *s, gm_cov_norm norm, double *cov) {
    GM_ASSERT(s && cov);
    double den = norm == GM_COV_BIASED ? (double)s->n : (double)s->n - 1;
    if (den <= 0) GM_FAIL(GM_EINVAL, "FD statistics: %lld rows are too few for a covariance", (long long)s->n);
    for (size_t i = 0; i < s->d * s->d; i++) cov[i] = s->m2[i] / den;
    return GM_OK;
}

/* ---- eigen path -------------------------------------------------------------------------------- */

static void naive_nn(size_t m, size_t n, size_t k, const double *A, const double *B, double *C) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < k; t++) s += A[i * k + t] * B[t * n + j];
            C[i * n + j] = s;
        }
}

static void naive_nt(size_t m, size_t n, size_t k, const double *A, const double *B, double *C) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < k; t++) s += A[i * k + t] * B[j * k + t];
            C[i * n + j] = s;
        }
}

/* mean term and traces (shared by both paths) */
static void fd_terms(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                     gm_fd_result *out) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < d; i++) {
        double t = mu1[i] - mu2[i];
        out->mean_term += t * t;
        out->trace1 += S1[i * d + i];
        out->trace2 += S2[i * d + i];
    }
}

/* tr_sqrt from the eigenvalues of M (symmetrised in place, destroyed); fd and its finiteness. fast: 0
 * Jacobi, 1 dsyevd, 2 dsyevd_2stage. */
static int fd_finish(double *M, double *w, size_t d, int fast, gm_fd_result *out) {
    int finite = 1;
    for (size_t i = 0; i < d; i++) {
        finite &= isfinite(M[i * d + i]) != 0;
        for (size_t j = i + 1; j < d; j++) {
            double a = 0.5 * (M[i * d + j] + M[j * d + i]);
            M[i * d + j] = M[j * d + i] = a;
            finite &= isfinite(a) != 0;
        }
    }
    /* overflowing statistics (e.g. features near 1e300) reach here as Inf/NaN: name FD, not the solver */
    if (!finite) return gm_set_error(GM_ENUMERIC, "FD is not finite (NaN/Inf in the statistics?)");
    int rc = fast == 2 ? gm_la_syev_values(M, d, w) : (fast ? gm_la_syev : gm_la_syev_ref)(M, d, w, 0);
    if (rc) return rc;
    for (size_t i = 0; i < d; i++) {
        if (w[i] > 0)
            out->trace_sqrt += sqrt(w[i]);
        else
            out->neg_eig_mass -= w[i];
    }
    out->fd = out->mean_term + out->trace1 + out->trace2 - 2 * out->trace_sqrt;
    if (!isfinite(out->fd)) return gm_set_error(GM_ENUMERIC, "FD is not finite (NaN/Inf in the statistics?)");
    return GM_OK;
}

/* Cholesky path: S1 = L L^T, so S1 S2 is similar to M = L^T S2 L (symmetric PSD) and tr sqrt(S1 S2) =
 * Σ sqrt(eig(M)): one Cholesky, two triangular products and one eigenvalues-only solve (no eigenvectors).
 * GM_ENUMERIC (message cleared by the caller) when S1 is not numerically positive definite. The
 * Cholesky runs on one thread of an active parallel region (as gm_la_syev), so the bits do not depend
 * on the thread count. min_eig and cond are not computed on this path (NaN). */
static int fd_cholesky(const double *S1, const double *S2, size_t d, gm_fd_result *out) {
    size_t dd = d * d;
    double *L = gm_malloc(dd * sizeof(double)), *T = gm_malloc(dd * sizeof(double)), *w = gm_malloc(d * sizeof(double));
    int rc = GM_ENOMEM;
    if (!L || !T || !w) goto done;
    memcpy(L, S1, dd * sizeof(double));
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
#pragma omp master
        rc = gm_la_cholesky(L, d);
    }
#else
    rc = gm_la_cholesky(L, d);
#endif
    if (rc) goto done;
    gm_la_dcongruence_lower(d, L, S2, T); /* M = L^T S2 L */
    out->min_eig1 = out->min_eig2 = out->cond1 = out->cond2 = NAN;
    rc = fd_finish(T, w, d, 2, out); /* two-stage eigenvalues-only solver */
    out->method = "cholesky";
done:
    gm_free(L);
    gm_free(T);
    gm_free(w);
    return rc;
}

static int fd_moments_impl(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                           gm_fd_result *out, int fast) {
    GM_ASSERT(mu1 && S1 && mu2 && S2 && out);
    memset(out, 0, sizeof *out);
    if (d == 0) GM_FAIL(GM_EINVAL, "FD: dimension 0");
    fd_terms(mu1, S1, mu2, S2, d, out);
    size_t dd = d * d;
    double *U = gm_malloc(dd * sizeof(double)), *T = gm_malloc(dd * sizeof(double));
    double *M = gm_malloc(dd * sizeof(double)), *w = gm_malloc(d * sizeof(double));
    double *mu = gm_malloc(d * sizeof(double));
    int rc = GM_ENOMEM, rc1 = GM_OK, rc2 = GM_OK;
    if (!U || !T || !M || !w || !mu) goto fail;
    memcpy(U, S1, dd * sizeof(double));
    memcpy(M, S2, dd * sizeof(double));
    /* The two eigenproblems are independent: solve them side by side (each LAPACK call is
     * single-threaded, see gm_la_syev, so the bits do not depend on the thread count). mu holds the
     * eigenvalues of S2 until M is formed. */
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
        rc1 = (fast ? gm_la_syev : gm_la_syev_ref)(U, d, w, 1);
#pragma omp section
        rc2 = (fast ? gm_la_syev : gm_la_syev_ref)(M, d, mu, 0);
    }
    if ((rc = rc1) || (rc = rc2)) { /* the message was recorded on the worker thread */
        rc = rc == GM_ENOMEM ? gm_set_error(GM_ENOMEM, "FD: out of memory in the eigen solver (%zu x %zu)", d, d)
                             : gm_set_error(GM_ENUMERIC, "FD: the eigen solver failed on a %zu x %zu covariance", d, d);
        goto fail;
    }
    out->min_eig1 = w[0];
    out->cond1 = w[0] > 0 ? w[d - 1] / w[0] : (double)INFINITY;
    out->min_eig2 = mu[0];
    out->cond2 = mu[0] > 0 ? mu[d - 1] / mu[0] : (double)INFINITY;
    /* V = diag(sqrt(max(l, 0))) U^T (row i = scaled eigenvector i); V S2 V^T is similar to S1^½ S2 S1^½. */
    for (size_t i = 0; i < d; i++) {
        double sc = sqrt(fmax(w[i], 0.0));
        for (size_t j = 0; j < d; j++) U[i * d + j] *= sc;
    }
    if (fast) {
        gm_la_dgemm_nn(d, d, d, U, S2, T);
        gm_la_dgemm_nt(d, d, d, 1.0, T, U, 0.0, M);
    } else {
        naive_nn(d, d, d, U, S2, T);
        naive_nt(d, d, d, T, U, M);
    }
    out->method = fast ? "eigh" : "jacobi";
    rc = fd_finish(M, mu, d, fast, out);
fail:
    gm_free(U);
    gm_free(T);
    gm_free(M);
    gm_free(w);
    gm_free(mu);
    return rc;
}

int gm_fd_from_moments(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                       gm_fd_result *out) {
    GM_ASSERT(mu1 && S1 && mu2 && S2 && out);
    memset(out, 0, sizeof *out);
    if (d == 0) GM_FAIL(GM_EINVAL, "FD: dimension 0");
    fd_terms(mu1, S1, mu2, S2, d, out);
    int rc = fd_cholesky(S1, S2, d, out);
    if (rc != GM_ENUMERIC || out->method != NULL) return rc;
    /* S1 not positive definite (or non-finite): the eigen path, which handles PSD S1 */
    gm_clear_error();
    return fd_moments_impl(mu1, S1, mu2, S2, d, out, 1);
}

int gm_fd_from_moments_eigh(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                            gm_fd_result *out) {
    return fd_moments_impl(mu1, S1, mu2, S2, d, out, 1);
}

int gm_fd_from_moments_ref(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                           gm_fd_result *out) {
    return fd_moments_impl(mu1, S1, mu2, S2, d, out, 0);
}

int gm_fd_from_stats(const gm_fdstats *a, const gm_fdstats *b, gm_cov_norm norm, gm_fd_result *out) {
    GM_ASSERT(a && b && out);
    if (a->d != b->d) GM_FAIL(GM_ESHAPE, "FD: feature dimensions differ (%zu vs %zu)", a->d, b->d);
    size_t d = a->d;
    double *S1 = gm_malloc(d * d * sizeof(double)), *S2 = gm_malloc(d * d * sizeof(double));
    int rc = GM_ENOMEM;
    if (!S1 || !S2) goto done;
    if ((rc = gm_fdstats_cov(a, norm, S1)) || (rc = gm_fdstats_cov(b, norm, S2))) goto done;
    rc = gm_fd_from_moments(a->mean, S1, b->mean, S2, d, out);
    if (rc == GM_OK) out->rank_deficient = (size_t)a->n <= d || (size_t)b->n <= d;
done:
    gm_free(S1);
    gm_free(S2);
    return rc;
}

/* ---- low-rank path ---------------------------------------------------------------------------- */

/* A = (X - 1 mu^T) / sqrt(den), mu returned; A is n x d. */
static void centred_scaled(const gm_feats *x, double den, double *A, double *mu) {
    size_t n = x->n, d = x->d;
    gm_feats_rows_f64(x, 0, n, A);
    for (size_t j = 0; j < d; j++) mu[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mu[j] += A[i * d + j];
    for (size_t j = 0; j < d; j++) mu[j] /= (double)n;
    double sc = 1 / sqrt(den);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) A[i * d + j] = (A[i * d + j] - mu[j]) * sc;
}

int gm_fd_lowrank(const gm_feats *x1, const gm_feats *x2, gm_cov_norm norm, gm_fd_result *out) {
    int rc = gm_feats_check_pair(x1, x2, 2, "FD");
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    size_t n1 = x1->n, n2 = x2->n, d = x1->d, r = n1 < n2 ? n1 : n2;
    double *A1 = gm_malloc(n1 * d * sizeof(double)), *A2 = gm_malloc(n2 * d * sizeof(double));
    double *mu1 = gm_malloc(d * sizeof(double)), *mu2 = gm_malloc(d * sizeof(double));
    double *B = gm_malloc(n1 * n2 * sizeof(double)), *s = gm_malloc(r * sizeof(double));
    rc = GM_ENOMEM;
    if (!A1 || !A2 || !mu1 || !mu2 || !B || !s) goto done;
    centred_scaled(x1, norm == GM_COV_BIASED ? (double)n1 : (double)n1 - 1, A1, mu1);
    centred_scaled(x2, norm == GM_COV_BIASED ? (double)n2 : (double)n2 - 1, A2, mu2);
    for (size_t j = 0; j < d; j++) out->mean_term += (mu1[j] - mu2[j]) * (mu1[j] - mu2[j]);
    for (size_t i = 0; i < n1 * d; i++) out->trace1 += A1[i] * A1[i];
    for (size_t i = 0; i < n2 * d; i++) out->trace2 += A2[i] * A2[i];
    gm_la_dgemm_nt(n1, n2, d, 1.0, A1, A2, 0.0, B);
    if ((rc = gm_la_svd_values(B, n1, n2, s))) goto done;
    for (size_t i = 0; i < r; i++) out->trace_sqrt += s[i];
    out->fd = out->mean_term + out->trace1 + out->trace2 - 2 * out->trace_sqrt;
    out->min_eig1 = out->min_eig2 = out->cond1 = out->cond2 = NAN;
    out->rank_deficient = n1 <= d || n2 <= d;
    out->method = "lowrank";
    rc = isfinite(out->fd) ? GM_OK : gm_set_error(GM_ENUMERIC, "FD (low-rank) is not finite");
done:
    gm_free(A1);
    gm_free(A2);
    gm_free(mu1);
    gm_free(mu2);
    gm_free(B);
    gm_free(s);
    return rc;
}

int gm_fd(const gm_feats *x1, const gm_feats *x2, gm_cov_norm norm, gm_fd_result *out) {
    int rc = gm_feats_check_pair(x1, x2, 2, "FD");
    if (rc) return rc;
    if (x1->n < x1->d && x2->n < x2->d) return gm_fd_lowrank(x1, x2, norm, out);
    gm_fdstats a, b;
    if ((rc = gm_fdstats_init(&a, x1->d))) return rc;
    if ((rc = gm_fdstats_init(&b, x1->d))) {
        gm_fdstats_free(&a);
        return rc;
    }
    if (!(rc = gm_fdstats_add(&a, x1)) && !(rc = gm_fdstats_add(&b, x2))) rc = gm_fd_from_stats(&a, &b, norm, out);
    gm_fdstats_free(&a);
    gm_fdstats_free(&b);
    return rc;
}
