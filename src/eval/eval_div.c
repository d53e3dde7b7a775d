/* SPDX-License-Identifier: MIT */
/* eval_div.c — diversity and score metrics: Vendi (order q; cosine primal/dual or RBF primal), RKE
 * (exact Frobenius norm by tiles for several bandwidths in one pass, Monte-Carlo variant), RRKE and the
 * Inception Score. Owns nothing between calls. Thread safety: re-entrant; per-row partial sums are
 * added in row order, so results do not depend on the thread count. */
#include "eval_internal.h"
#include "genmix/rng.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- Vendi -------------------------------------------------------------------------------------- */

#define VENDI_CHUNK 2048 /* rows per chunk of the dual Gram X^T X (16 MB of doubles at d = 1024) */

/* exp of the order-q Rényi entropy of the eigenvalues w[0..n) (ascending; only w > 0 enter). */
static double vendi_entropy(const double *w, size_t n, double q) {
    if (isinf(q)) return exp(-log(w[n - 1]));
    if (q == 1) {
        double h = 0;
        for (size_t i = 0; i < n; i++)
            if (w[i] > 0) h -= w[i] * log(w[i]);
        return exp(h);
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0) s += pow(w[i], q);
    return exp(log(s) / (1 - q));
}

/* Zero eigenvalues below n·eps·λmax; returns their count (negative round-off included). */
static size_t clamp_eigs(double *w, size_t m, size_t n) {
    double thr = (double)n * DBL_EPSILON * w[m - 1];
    size_t c = 0;
    for (size_t i = 0; i < m; i++)
        if (w[i] < thr) {
            w[i] = 0;
            c++;
        }
    return c;
}

int gm_vendi_from_kernel(const double *K, size_t n, double q, double *out) {
    GM_ASSERT(K && out);
    if (n == 0) GM_FAIL(GM_EINVAL, "Vendi: empty kernel matrix");
    if (!(q >= 0) ) GM_FAIL(GM_EINVAL, "Vendi: order q must be >= 0");
    double *A = gm_malloc(n * n * sizeof(double)), *w = gm_malloc(n * sizeof(double));
    int rc = GM_ENOMEM;
    if (A && w) {
        for (size_t i = 0; i < n * n; i++) A[i] = K[i] / (double)n;
        if ((rc = gm_la_syev(A, n, w, 0)) == GM_OK) {
            clamp_eigs(w, n, n);
            *out = vendi_entropy(w, n, q);
        }
    }
    gm_free(A);
    gm_free(w);
    return rc;
}

int gm_vendi(const gm_feats *x, const gm_kernel *k, double q, double *out, size_t *n_clamped) {
    GM_ASSERT(x && k && out);
    size_t n = x->n, d = x->d;
    if (n < 1 || d < 1) GM_FAIL(GM_EINVAL, "Vendi: empty feature set");
    if (!(q >= 0)) GM_FAIL(GM_EINVAL, "Vendi: order q must be >= 0");
    if (k->kind == GM_KERNEL_RBF && !(k->sigma > 0)) GM_FAIL(GM_EINVAL, "Vendi: RBF sigma must be > 0");
    if (k->kind == GM_KERNEL_POLY) GM_FAIL(GM_EINVAL, "Vendi: use the cosine or RBF kernel");
    int dual = k->kind == GM_KERNEL_COSINE && n > d;
    size_t m = dual ? d : n;
    /* dual: rows stream through a buffer of VENDI_CHUNK rows (X^T X accumulated chunk by chunk), so the
     * n x d double copy is never formed; primal and RBF: all rows at once */
    size_t rows = dual && n > VENDI_CHUNK ? VENDI_CHUNK : n;
    double *X = gm_malloc(rows * d * sizeof(double)), *A = gm_calloc(m * m, sizeof(double)),
           *w = gm_malloc(m * sizeof(double));
    int rc = GM_ENOMEM;
    if (!X || !A || !w) goto done;
    if (k->kind == GM_KERNEL_COSINE) {
        for (size_t r0 = 0; r0 < n; r0 += rows) {
            size_t cnt = n - r0 < rows ? n - r0 : rows;
            long zero_row = -1; /* rows are independent: the bits do not depend on the thread count */
#pragma omp parallel for schedule(static) if (cnt * d > 1000000)
            for (long i = 0; i < (long)cnt; i++) {
                double s = 0, *xi = X + (size_t)i * d;
                gm_feats_rows_f64(x, r0 + (size_t)i, 1, xi);
                for (size_t j = 0; j < d; j++) s += xi[j] * xi[j];
                if (s == 0) {
#pragma omp critical(gm_vendi_zero)
                    if (zero_row < 0 || i < zero_row) zero_row = i;
                    continue;
                }
                s = 1 / sqrt(s);
                for (size_t j = 0; j < d; j++) xi[j] *= s;
            }
            if (zero_row >= 0) {
                rc = gm_set_error(GM_EINVAL, "Vendi (cosine): row %ld is all zeros", (long)r0 + zero_row);
                goto done;
            }
            if (dual)
                gm_la_dsyrk_tn_add(cnt, d, X, A);
            else
                gm_la_dsyrk_nt(n, d, X, A);
        }
        if (dual) gm_la_mirror_upper(A, m);
    } else {
        gm_feats_rows_f64(x, 0, n, X);
        gm_kernel_matrix(A, X, n, X, n, d, k);
    }
    for (size_t i = 0; i < m * m; i++) A[i] /= (double)n;
    if ((rc = gm_la_syev_values(A, m, w))) goto done;
    size_t c = clamp_eigs(w, m, n);
    if (n_clamped) *n_clamped = c;
    *out = vendi_entropy(w, m, q);
    rc = isfinite(*out) ? GM_OK : gm_set_error(GM_ENUMERIC, "Vendi score is not finite");
done:
    gm_free(X);
    gm_free(A);
    gm_free(w);
    return rc;
}

/* ---- RKE ------------------------------------------------------------------------------------------ */

int gm_rke_frobenius(const gm_feats *x, const double *sigmas, size_t ns, size_t tile, double *frob) {
    GM_ASSERT(x && sigmas && frob);
    size_t n = x->n, d = x->d;
    if (n < 1 || d < 1) GM_FAIL(GM_EINVAL, "RKE: empty feature set");
    if (ns == 0) GM_FAIL(GM_EINVAL, "RKE: at least one bandwidth is needed");
    for (size_t s = 0; s < ns; s++)
        if (!(sigmas[s] > 0)) GM_FAIL(GM_EINVAL, "RKE: bandwidth %g must be > 0", sigmas[s]);
    if (tile == 0) tile = 1024;
    if (tile > n) tile = n; /* one tile either way (same bits); a huge tile would wrap tile² x 8 bytes */
    double *nrm = gm_malloc(n * sizeof(double)), *A = gm_malloc(tile * d * sizeof(double)),
           *B = gm_malloc(tile * d * sizeof(double)), *G = gm_malloc(tile * tile * sizeof(double)),
           *rows = gm_malloc(tile * ns * sizeof(double)), *acc = gm_calloc(ns, sizeof(double));
    int rc = GM_ENOMEM;
    if (!nrm || !A || !B || !G || !rows || !acc) goto done;
    gm_feats_row_norms(x, nrm);
    for (size_t i0 = 0; i0 < n; i0 += tile) {
        size_t mi = n - i0 < tile ? n - i0 : tile;
        gm_feats_rows_f64(x, i0, mi, A);
        for (size_t j0 = i0; j0 < n; j0 += tile) {
            size_t mj = n - j0 < tile ? n - j0 : tile;
            int diag = j0 == i0;
            if (!diag) gm_feats_rows_f64(x, j0, mj, B);
            gm_la_dgemm_nt(mi, mj, d, -2.0, A, diag ? A : B, 0.0, G);
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
            for (long i = 0; i < (long)mi; i++) {
                double *acc_row = rows + (size_t)i * ns;
                for (size_t s = 0; s < ns; s++) acc_row[s] = 0;
                for (size_t j = diag ? (size_t)i + 1 : 0; j < mj; j++) {
                    double d2 = nrm[i0 + (size_t)i] + nrm[j0 + j] + G[(size_t)i * mj + j];
                    if (d2 < 0) d2 = 0;
                    for (size_t s = 0; s < ns; s++) acc_row[s] += exp(-d2 / (sigmas[s] * sigmas[s]));
                }
            }
            for (size_t i = 0; i < mi; i++)
                for (size_t s = 0; s < ns; s++) acc[s] += rows[i * ns + s];
        }
    }
    for (size_t s = 0; s < ns; s++) frob[s] = ((double)n + 2 * acc[s]) / ((double)n * (double)n);
    rc = GM_OK;
done:
    gm_free(nrm);
    gm_free(A);
    gm_free(B);
    gm_free(G);
    gm_free(rows);
    gm_free(acc);
    return rc;
}

int gm_rke_mc(const gm_feats *x, double sigma, size_t pairs, uint64_t seed, double *mode_count) {
    GM_ASSERT(x && mode_count);
    if (x->n < 1 || x->d < 1) GM_FAIL(GM_EINVAL, "RKE-MC: empty feature set");
    if (!(sigma > 0) || pairs == 0) GM_FAIL(GM_EINVAL, "RKE-MC: needs sigma > 0 and pairs >= 1");
    /* block b of 1024 pairs draws from its own stream (EVAL, 2^32 + b); block sums are added in order */
    size_t nblk = (pairs + 1023) / 1024;
    double *part = gm_malloc(nblk * sizeof(double));
    if (!part) return GM_ENOMEM;
#pragma omp parallel for schedule(static)
    for (long b = 0; b < (long)nblk; b++) {
        gm_rng r;
        gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)1 << 32) + (uint64_t)b));
        size_t p1 = ((size_t)b + 1) * 1024 < pairs ? ((size_t)b + 1) * 1024 : pairs;
        double s = 0;
        for (size_t p = (size_t)b * 1024; p < p1; p++) {
            size_t i = (size_t)gm_rng_below(&r, x->n), j = (size_t)gm_rng_below(&r, x->n);
            double d2 = 0;
            for (size_t t = 0; t < x->d; t++) {
                double u = gm_feats_at(x, i, t) - gm_feats_at(x, j, t);
                d2 += u * u;
            }
            s += exp(-d2 / (sigma * sigma));
        }
        part[b] = s;
    }
    double tot = 0;
    for (size_t b = 0; b < nblk; b++) tot += part[b];
    gm_free(part);
    *mode_count = (double)pairs / tot;
    return GM_OK;
}

int gm_rrke(const gm_feats *x, const gm_feats *y, double sigma, double *out) {
    int rc = gm_feats_check_pair(x, y, 1, "RRKE");
    if (rc) return rc;
    if (!(sigma > 0)) GM_FAIL(GM_EINVAL, "RRKE: sigma must be > 0");
    size_t n = x->n, m = y->n, d = x->d, r = n < m ? n : m;
    double *X = gm_malloc(n * d * sizeof(double)), *Y = gm_malloc(m * d * sizeof(double)),
           *K = gm_malloc(n * m * sizeof(double)), *s = gm_malloc(r * sizeof(double));
    rc = GM_ENOMEM;
    if (X && Y && K && s) {
        gm_feats_rows_f64(x, 0, n, X);
        gm_feats_rows_f64(y, 0, m, Y);
        gm_kernel k = gm_kernel_rbf_sigma(sigma);
        gm_kernel_matrix(K, X, n, Y, m, d, &k);
        double sc = 1 / sqrt((double)n * (double)m);
        for (size_t i = 0; i < n * m; i++) K[i] *= sc;
        if ((rc = gm_la_svd_values(K, n, m, s)) == GM_OK) {
            double nuc = 0;
            for (size_t i = 0; i < r; i++) nuc += s[i];
            *out = -log(nuc * nuc);
        }
    }
    gm_free(X);
    gm_free(Y);
    gm_free(K);
    gm_free(s);
    return rc;
}

/* ---- Inception Score --------------------------------------------------------------------------- */

int gm_inception_score(const gm_feats *x, int is_prob, size_t splits, gm_is_shuffle shuffle, int drop_remainder,
                       double *mean, double *std) {
    GM_ASSERT(x && mean && std);
    size_t n = x->n, c = x->d;
    if (n == 0 || c < 2) GM_FAIL(GM_EINVAL, "IS: needs at least one row of >= 2 classes");
    if (splits == 0 || splits > n) GM_FAIL(GM_EINVAL, "IS: %zu splits for %zu rows", splits, n);
    double *P = gm_malloc(n * c * sizeof(double)), *py = gm_malloc(c * sizeof(double)),
           *sc = gm_malloc(splits * sizeof(double));
    size_t *perm = gm_malloc(n * sizeof(size_t));
    int rc = GM_ENOMEM;
    if (!P || !py || !sc || !perm) goto done;
    gm_feats_rows_f64(x, 0, n, P);
    for (size_t i = 0; i < n; i++) {
        double *p = P + i * c;
        if (is_prob) {
            double s = 0;
            for (size_t j = 0; j < c; j++) {
                if (!(p[j] >= 0)) {
                    rc = gm_set_error(GM_EINVAL, "IS: row %zu has a negative probability", i);
                    goto done;
                }
                s += p[j];
            }
            if (fabs(s - 1) > 1e-6) {
                rc = gm_set_error(GM_EINVAL, "IS: row %zu sums to %.9g, not 1 (pass logits instead?)", i, s);
                goto done;
            }
        } else {
            double mx = p[0], s = 0;
            for (size_t j = 1; j < c; j++) mx = p[j] > mx ? p[j] : mx;
            for (size_t j = 0; j < c; j++) s += exp(p[j] - mx);
            double lse = mx + log(s);
            for (size_t j = 0; j < c; j++) p[j] = exp(p[j] - lse);
        }
    }
    if (shuffle == GM_IS_SHUFFLE_MT2020) {
        gm_mt19937 mt;
        gm_mt19937_seed(&mt, 2020);
        gm_mt19937_permutation(&mt, perm, n);
    } else {
        for (size_t i = 0; i < n; i++) perm[i] = i;
    }
    for (size_t s = 0; s < splits; s++) {
        size_t a = drop_remainder ? s * (n / splits) : s * n / splits;
        size_t b = drop_remainder ? (s + 1) * (n / splits) : (s + 1) * n / splits;
        for (size_t j = 0; j < c; j++) py[j] = 0;
        for (size_t i = a; i < b; i++)
            for (size_t j = 0; j < c; j++) py[j] += P[perm[i] * c + j];
        for (size_t j = 0; j < c; j++) py[j] /= (double)(b - a);
        double kl = 0;
        for (size_t i = a; i < b; i++) {
            const double *p = P + perm[i] * c;
            double r = 0;
            for (size_t j = 0; j < c; j++)
                if (p[j] > 0) r += p[j] * (log(p[j]) - log(py[j]));
            kl += r;
        }
        sc[s] = exp(kl / (double)(b - a));
    }
    double m = 0, v = 0;
    for (size_t s = 0; s < splits; s++) m += sc[s];
    m /= (double)splits;
    for (size_t s = 0; s < splits; s++) v += (sc[s] - m) * (sc[s] - m);
    *mean = m;
    *std = sqrt(v / (double)splits);
    rc = GM_OK;
done:
    gm_free(P);
    gm_free(py);
    gm_free(sc);
    gm_free(perm);
    return rc;
}
