/* SPDX-License-Identifier: MIT */
/* mix_ref.c — the reference set of Mixture-UCB (gm_mix_ref): a copy of the reference samples, their squared
 * norms and k-NN radii, its self-similarity, and the per-sample terms (kernel mean against the reference,
 * precision and density indicators) that the linear parts of the objective use.
 * Owns: a gm_mix_ref's arrays. Thread safety: read-only after create; gm_mix_ref_terms parallelises rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/mix.h"
#include "genmix/rng.h"
#include "mix_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ==== reference set ============================================================================== */

int gm_mix_ref_create(gm_mix_ref **out, const float *Y, size_t n, size_t d, gm_mix_kernel kernel, double sigma, int lin,
                      size_t knn_k) {
    GM_ASSERT(out != NULL && (Y != NULL || n == 0));
    *out = NULL;
    if (n < 1 || d < 1) GM_FAIL(GM_EINVAL, "reference set is empty");
    if (kernel == GM_MIX_KERNEL_GAUSS && !(sigma > 0.0 && isfinite(sigma)))
        GM_FAIL(GM_EINVAL, "reference set: Gaussian kernel needs sigma > 0 (got %g)", sigma);
    if (knn_k == 0) knn_k = 5;
    if (knn_k > 64) GM_FAIL(GM_EINVAL, "reference set: k = %zu nearest neighbours (at most 64)", knn_k);
    if (lin && knn_k >= n) GM_FAIL(GM_EINVAL, "reference set: k = %zu nearest neighbours need more than %zu points", knn_k, n);
    for (size_t i = 0; i < n; i++)
        if (!gm__mix_row_finite(Y + i * d, d)) GM_FAIL(GM_ENUMERIC, "reference set: row %zu has a NaN or Inf", i);
    gm_mix_ref *r = gm_calloc(1, sizeof *r);
    if (!r) return GM_ENOMEM;
    r->n = n;
    r->d = d;
    r->knn = knn_k;
    r->lin = lin;
    r->k = gm__mix_kernel_of(kernel, sigma, d);
    r->Y = gm_malloc(n * d * sizeof *r->Y);
    r->sq = gm_malloc(n * sizeof *r->sq);
    r->rad2 = lin ? gm_malloc(n * sizeof *r->rad2) : NULL;
    size_t nblk = (n + GM__MIX_TILE - 1) / GM__MIX_TILE;
    double *part = gm_calloc(nblk, sizeof *part);
    if (!r->Y || !r->sq || (lin && !r->rad2) || !part) {
        gm_free(part);
        gm_mix_ref_free(r);
        return GM_ENOMEM;
    }
    memcpy(r->Y, Y, n * d * sizeof *Y);
    for (size_t i = 0; i < n; i++) r->sq[i] = gm__mix_sqnorm(Y + i * d, d);
    int err = 0;
    /* One pass over row blocks: kernel sums (for c) and the k-th nearest other point of each row. */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        size_t i0 = b * GM__MIX_TILE, ni = n - i0 < GM__MIX_TILE ? n - i0 : GM__MIX_TILE;
        float *tile = gm_malloc(ni * n * sizeof *tile);
        if (!tile) {
#pragma omp atomic write
            err = 1;
            continue;
        }
        gm__mix_dots_tile(r->Y + i0 * d, ni, r->Y, n, d, tile, n);
        double acc = 0.0;
        for (size_t a = 0; a < ni; a++) {
            size_t i = i0 + a;
            double best[64];
            size_t nb = 0;
            double rowacc = 0.0;
            for (size_t j = 0; j < n; j++) {
                double dot = tile[a * n + j];
                rowacc += j == i ? gm__mix_kself(&r->k, r->sq[i]) : gm__mix_kval(&r->k, dot, r->sq[i], r->sq[j]);
                if (lin && j != i) {
                    double d2 = r->sq[i] + r->sq[j] - 2.0 * dot;
                    if (d2 < 0.0) d2 = 0.0;
                    /* keep the knn smallest, sorted ascending */
                    if (nb < knn_k || d2 < best[nb - 1]) {
                        size_t p = nb < knn_k ? nb++ : nb - 1;
                        while (p > 0 && best[p - 1] > d2) best[p] = best[p - 1], p--;
                        best[p] = d2;
                    }
                }
            }
            acc += rowacc;
            if (lin) r->rad2[i] = best[knn_k - 1];
        }
        part[b] = acc;
        gm_free(tile);
    }
    if (err) {
        gm_free(part);
        gm_mix_ref_free(r);
        GM_FAIL(GM_ENOMEM, "reference set: out of memory");
    }
    double s = 0.0;
    for (size_t b = 0; b < nblk; b++) s += part[b];
    r->self = s / ((double)n * (double)n);
    gm_free(part);
    *out = r;
    return GM_OK;
}

/* Terms of one row x (norm sqx) with dots = Y x already in `dots`. */
void gm__mix_ref_terms_row(const gm_mix_ref *r, const float *dots, double sqx, double *t) {
    double ks = 0.0, cnt = 0.0;
    for (size_t j = 0; j < r->n; j++) {
        ks += gm__mix_kval(&r->k, dots[j], sqx, r->sq[j]);
        if (r->lin) {
            double d2 = sqx + r->sq[j] - 2.0 * (double)dots[j];
            if (d2 < 0.0) d2 = 0.0;
            if (d2 < r->rad2[j]) cnt += 1.0;
        }
    }
    t[GM_MIX_TERM_KREF] = ks / (double)r->n;
    t[GM_MIX_TERM_PREC] = cnt > 0.0 ? 1.0 : 0.0;
    t[GM_MIX_TERM_DENS] = cnt / (double)r->knn;
}

int gm_mix_ref_terms(const gm_mix_ref *r, const float *X, size_t n, double *out) {
    GM_ASSERT(r != NULL && (X != NULL || n == 0) && out != NULL);
    for (size_t i = 0; i < n; i++)
        if (!gm__mix_row_finite(X + i * r->d, r->d)) GM_FAIL(GM_ENUMERIC, "sample row %zu has a NaN or Inf", i);
    size_t nblk = (n + GM__MIX_TILE - 1) / GM__MIX_TILE;
    int err = 0;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        size_t i0 = b * GM__MIX_TILE, ni = n - i0 < GM__MIX_TILE ? n - i0 : GM__MIX_TILE;
        float *tile = gm_malloc(ni * r->n * sizeof *tile);
        if (!tile) {
#pragma omp atomic write
            err = 1;
            continue;
        }
        gm__mix_dots_tile(X + i0 * r->d, ni, r->Y, r->n, r->d, tile, r->n);
        for (size_t a = 0; a < ni; a++)
            gm__mix_ref_terms_row(r, tile + a * r->n, gm__mix_sqnorm(X + (i0 + a) * r->d, r->d), out + (i0 + a) * GM_MIX_NTERMS);
        gm_free(tile);
    }
    if (err) GM_FAIL(GM_ENOMEM, "reference terms: out of memory");
    return GM_OK;
}

double gm_mix_ref_self(const gm_mix_ref *r) {
    GM_ASSERT(r != NULL);
    return r->self;
}
size_t gm_mix_ref_size(const gm_mix_ref *r) {
    GM_ASSERT(r != NULL);
    return r->n;
}

void gm_mix_ref_free(gm_mix_ref *r) {
    if (!r) return;
    gm_free(r->Y);
    gm_free(r->sq);
    gm_free(r->rad2);
    gm_free(r);
}
