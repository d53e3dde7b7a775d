/* SPDX-License-Identifier: MIT */
/* mix_offline.c — the offline optimum of the mixture objective from every arm's full sample pool (the
 * "oracle" the online algorithms' regret is measured against): blocked kernel sums, then the simplex QP.
 * Owns: call-local buffers. Thread safety: reentrant; parallel over blocks (fixed reduction order). */
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

/* ==== offline optimum ============================================================================ */

typedef struct {
    size_t arm, start, len;
} mix_block;

int gm_mix_offline(const gm_mix_config *cfg, const gm_mix_ref *ref, const float *const *X, const size_t *n,
                   const double *const *terms, double *alpha, double *obj, double *K_hat, double *f_hat) {
    GM_ASSERT(cfg != NULL && X != NULL && n != NULL && alpha != NULL && obj != NULL);
    gm_mix_config c = *cfg;
    if (c.algo == GM_MIX_ORACLE || c.algo == GM_MIX_BEST1) c.algo = GM_MIX_CAB; /* no warm-up checks */
    if (c.n0 * c.m > c.T) c.n0 = 1, c.T = c.m;
    int rc = gm_mix_config_check(&c);
    if (rc) return rc;
    size_t m = c.m, d = c.d;
    for (size_t i = 0; i < m; i++)
        if (n[i] == 0) GM_FAIL(GM_EINVAL, "offline mixture: arm %zu has no samples", i);
    gm__mixk k;
    if (c.quad == GM_MIX_QUAD_RKE) {
        k.type = GM__MIX_KT_GAUSS;
        k.g = 1.0 / (c.sigma * c.sigma);
        k.invd = 1.0 / (double)d;
    } else if (c.quad == GM_MIX_QUAD_KID || c.quad == GM_MIX_QUAD_MMD) {
        k = gm__mix_kernel_of(c.kernel, c.sigma, d);
    } else {
        k.type = GM__MIX_KT_NONE;
    }
    double K[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS] = {0}, f[GM_MIX_MAX_ARMS] = {0};
    /* linear part */
    if (gm__mix_needs_terms(&c)) {
        for (size_t i = 0; i < m; i++) {
            const double *tv = terms ? terms[i] : NULL;
            double *own = NULL;
            if (!tv) {
                if (!ref) GM_FAIL(GM_EINVAL, "offline mixture: this score needs a reference set");
                own = gm_malloc(n[i] * GM_MIX_NTERMS * sizeof *own);
                if (!own) return GM_ENOMEM;
                rc = gm_mix_ref_terms(ref, X[i], n[i], own);
                if (rc) {
                    gm_free(own);
                    return rc;
                }
                tv = own;
            }
            double s = 0.0;
            for (size_t r = 0; r < n[i]; r++) s += gm__mix_fval_of(&c, tv + r * GM_MIX_NTERMS);
            f[i] = s / (double)n[i];
            gm_free(own);
        }
    }
    /* quadratic part: symmetric block tiles, one m x m partial per row block, summed in order */
    if (k.type != GM__MIX_KT_NONE) {
        size_t nblk = 0;
        for (size_t i = 0; i < m; i++) nblk += (n[i] + GM__MIX_TILE - 1) / GM__MIX_TILE;
        mix_block *blk = gm_malloc(nblk * sizeof *blk);
        double *part = gm_calloc(nblk * m * m, sizeof *part);
        double **sqs = gm_calloc(m, sizeof *sqs);
        if (!blk || !part || !sqs) {
            gm_free(blk);
            gm_free(part);
            gm_free(sqs);
            return GM_ENOMEM;
        }
        int err = 0;
        size_t q = 0;
        for (size_t i = 0; i < m; i++) {
            for (size_t s0 = 0; s0 < n[i]; s0 += GM__MIX_TILE) {
                blk[q].arm = i;
                blk[q].start = s0;
                blk[q].len = n[i] - s0 < GM__MIX_TILE ? n[i] - s0 : GM__MIX_TILE;
                q++;
            }
            sqs[i] = gm_malloc(n[i] * sizeof **sqs);
            if (!sqs[i]) err = 1;
            else
                for (size_t r = 0; r < n[i]; r++) {
                    if (!gm__mix_row_finite(X[i] + r * d, d)) err = 2;
                    sqs[i][r] = gm__mix_sqnorm(X[i] + r * d, d);
                }
        }
        if (!err) {
#pragma omp parallel for schedule(static, 1)
            for (size_t I = 0; I < nblk; I++) {
                float *tile = gm_malloc(GM__MIX_TILE * GM__MIX_TILE * sizeof *tile);
                if (!tile) {
#pragma omp atomic write
                    err = 1;
                    continue;
                }
                const mix_block *bi = &blk[I];
                double *P = part + I * m * m;
                for (size_t J = I; J < nblk; J++) {
                    const mix_block *bj = &blk[J];
                    gm__mix_dots_tile(X[bi->arm] + bi->start * d, bi->len, X[bj->arm] + bj->start * d, bj->len, d, tile,
                                     bj->len);
                    double acc = 0.0;
                    for (size_t a = 0; a < bi->len; a++) {
                        double sa = sqs[bi->arm][bi->start + a];
                        for (size_t bb = 0; bb < bj->len; bb++) {
                            if (I == J && a == bb)
                                acc += gm__mix_kself(&k, sa);
                            else
                                acc += gm__mix_kval(&k, tile[a * bj->len + bb], sa, sqs[bj->arm][bj->start + bb]);
                        }
                    }
                    if (I == J) {
                        P[bi->arm * m + bi->arm] += acc;
                    } else {
                        P[bi->arm * m + bj->arm] += acc;
                        P[bj->arm * m + bi->arm] += acc;
                    }
                }
                gm_free(tile);
            }
        }
        for (size_t I = 0; I < nblk; I++)
            for (size_t e = 0; e < m * m; e++) K[e] += part[I * m * m + e];
        for (size_t i = 0; i < m; i++) gm_free(sqs[i]);
        gm_free(sqs);
        gm_free(blk);
        gm_free(part);
        if (err == 1) GM_FAIL(GM_ENOMEM, "offline mixture: out of memory");
        if (err == 2) GM_FAIL(GM_ENUMERIC, "offline mixture: a sample has a NaN or Inf");
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) K[i * m + j] /= (double)n[i] * (double)n[j];
    }
    double Kr[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS], a[GM_MIX_MAX_ARMS];
    memcpy(Kr, K, m * m * sizeof *K);
    for (size_t i = 0; i < m; i++) Kr[i * m + i] += 1e-7;
    rc = gm_mix_qp(Kr, f, m, a, NULL);
    if (rc) return rc;
    double v = 0.0;
    for (size_t i = 0; i < m; i++) {
        double r = f[i];
        for (size_t j = 0; j < m; j++) r += K[i * m + j] * a[j];
        v += a[i] * r;
    }
    if ((c.quad == GM_MIX_QUAD_KID || c.quad == GM_MIX_QUAD_MMD) && ref) v += ref->self;
    if (alpha) memcpy(alpha, a, m * sizeof *a);
    if (obj) *obj = v;
    if (K_hat) memcpy(K_hat, K, m * m * sizeof *K);
    if (f_hat) memcpy(f_hat, f, m * sizeof *f);
    return GM_OK;
}
