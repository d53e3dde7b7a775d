/* SPDX-License-Identifier: MIT */
/* eval_internal.h — private helpers shared by the src/eval_*.c files (never installed).
 * The feature-set row helpers are public (gm_feats_* in genmix/eval.h); dense linear algebra is
 * genmix/linalg.h. */
#ifndef GM_EVAL_INTERNAL_H
#define GM_EVAL_INTERNAL_H

#include "genmix/eval.h"
#include "genmix/linalg.h"

/* ---- certified k-NN precision/recall (eval_knn_cert.c) ---- */

/* Which cheap distances screen the pairs: AUTO = AMX bf16 when the CPU has it, else float32 SGEMM; AMX
 * (falls back to F32 without AMX); F32; OFF = every pair's exact distance (the reference semantics). The
 * results are bitwise the same for all four. */
enum { GM_KNN_FILTER_AUTO = 0, GM_KNN_FILTER_AMX = 1, GM_KNN_FILTER_F32 = 2, GM_KNN_FILTER_OFF = 3 };

typedef struct {
    int mode;                    /* the filter that ran */
    size_t recorded;             /* radius pairs recorded by the filter */
    size_t exact_radii;          /* exact distances computed for the radii */
    size_t exact_cross;          /* exact distances computed for the in-ball flags */
    size_t resweeps;             /* radius sweeps redone with known thresholds (pair records full) */
    size_t exact_sweeps;         /* radius sweeps redone without the filter (still full) */
    double prep_s, radii_s, cross_s; /* wall seconds of the three stages */
    double gram_s;                   /* seconds in the Gram kernel, summed over threads */
} gm_knn_cert_stats;

/* P/R alone (cfg->want_pr; want_dc, realism and fp16 ignored) with the certified filter; stats may be
 * NULL. The float32 profiles' P/R (gm_knn with f32, P/R only) runs this with GM_KNN_FILTER_AUTO. */
int gm_knn_pr_cert(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, int filter,
                   gm_knn_result *out, gm_knn_cert_stats *stats);
/* Test hook: recorded radius pairs per thread before the fallback sweeps (0: the default, 64·n + 1024). */
void gm_knn_cert_test_pair_cap(size_t cap);
/* gm_knn without the certified path: the SGEMM engine of eval_knn.c (for benchmarks). */
int gm_knn_sgemm(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out);
/* The exact dot product of the certified distances (float32 inputs, double products and sums in a fixed
 * order, AVX-512 when the CPU has it); _ref is the portable twin with the same bits. */
double gm_cert_dot(const float *a, const float *b, size_t d);
double gm_cert_dot_ref(const float *a, const float *b, size_t d);

#endif
