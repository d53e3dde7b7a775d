/* SPDX-License-Identifier: MIT */
/* genmix/mix.h — Mixture-UCB: learn online which mixture of m generators scores best (Rezaei, Farnia & Li,
 * ICLR 2025), with the baselines of the paper and the offline optimum.
 *
 * The score of a mixture with weights alpha on the simplex is quadratic in alpha:
 *     L(alpha) = alpha' K alpha + f' alpha,   K_ij = E kappa(X_i, X_j'),   f_i = E f(X_i)
 * with kappa = exp(-|x-y|^2/sigma^2) for RKE (RKE = 1/L), kappa = the KID/MMD kernel (Gaussian
 * exp(-|x-y|^2/(2 sigma^2)) or cubic polynomial (x.y/d + 1)^3) and f = -2 E_Y kappa(x, Y) for KID/MMD to a
 * reference set Y, plus the linear quality terms -lambda*precision(x) / -lambda*density(x) (k-NN balls of
 * the reference set, as in prdc).
 *
 * Usage (the caller owns the loop and the generators, GSL style):
 *     gm_mix_config cfg;
 *     gm_mix_config_default(&cfg, m, d, T, GM_MIX_QUAD_RKE, 0);  cfg.sigma = 5; cfg.algo = GM_MIX_CAB;
 *     gm_mix *b;  gm_mix_create(&b, &cfg, NULL);
 *     while (!gm_mix_done(b)) {
 *         size_t arm;  gm_mix_select(b, &arm);
 *         draw_feature(arm, x);                       // one sample of generator `arm`, mapped to R^d
 *         gm_mix_update(b, arm, x, NULL);
 *     }
 *     printf("%g\n", gm_mix_score(b));  gm_mix_free(b);
 *
 * Cost: each update evaluates the kernel once per stored sample (kernel sums S_ij kept in double). When
 * the caller knows the next samples of an arm in advance (pools drawn in a fixed order, as in
 * gm_mix_simulate) it may queue them with gm_mix_push_ahead; the kernel rows of a queued block are then
 * computed with one matrix product, and updates consume the queue (x = NULL). Results are the same up to
 * rounding. select/update never allocate: every array is sized at create for T samples.
 *
 * Ownership: gm_mix and gm_mix_ref own copies of what they need (the reference set is copied; arms'
 * samples are copied into the store). gm_mix_free / gm_mix_ref_free / gm_mix_trace_free accept NULL.
 * Thread safety: one gm_mix per thread; a gm_mix_ref is read-only after create and may be shared.
 * gm_mix_simulate runs replications in parallel with OpenMP; its results do not depend on the thread
 * count (RNG streams are keyed by (run, arm), see gm_mix_simulate).
 */
#ifndef GM_MIX_H
#define GM_MIX_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GM_MIX_MAX_ARMS 64      /* hard limit on m */
#define GM_MIX_QP_ENUM_MAX 12   /* the QP enumerates supports up to this m, else projected gradient */

typedef enum {
    GM_MIX_CAB = 0,   /* Mixture-UCB-CAB: alpha = argmin of the optimistic QP, b ~ alpha */
    GM_MIX_OGD,       /* Mixture-UCB-OGD: b = argmin of the optimistic gradient at n/t */
    GM_MIX_UCB,       /* Vanilla-UCB on the single-arm score (best single arm) */
    GM_MIX_SH,        /* successive halving on the single-arm score */
    GM_MIX_UNIFORM,   /* b ~ Uniform{0..m-1} */
    GM_MIX_ORACLE,    /* mixture oracle: b ~ cfg.oracle_alpha (offline optimum), no warm-up */
    GM_MIX_GREEDY,    /* CAB without bonus (Mixture-Greedy) */
    GM_MIX_BEST1,     /* one-arm oracle: always cfg.oracle_arm, no warm-up */
    GM_MIX_ALGO_COUNT
} gm_mix_algo;

typedef enum {
    GM_MIX_QUAD_NONE = 0, /* only linear terms */
    GM_MIX_QUAD_RKE,      /* order-2 Renyi kernel entropy; reported score RKE = 1/L (higher is better) */
    GM_MIX_QUAD_KID,      /* MMD^2 to the reference (V-statistic); reported as KID (lower is better) */
    GM_MIX_QUAD_MMD       /* same objective; reported as MMD = sqrt(max(MMD^2, 0)) */
} gm_mix_quad;

typedef enum { GM_MIX_KERNEL_GAUSS = 0, GM_MIX_KERNEL_POLY3 } gm_mix_kernel;

/* Linear quality terms (bit mask); each contributes -lambda * term(x). */
enum { GM_MIX_LIN_PRECISION = 1, GM_MIX_LIN_DENSITY = 2 };

/* Per-sample values that depend on the reference set: GM_MIX_NTERMS doubles per sample. */
enum { GM_MIX_TERM_KREF = 0, /* mean_y kappa(x, y) over the reference */
       GM_MIX_TERM_PREC = 1, /* 1 if x lies in some real k-NN ball (strict <) */
       GM_MIX_TERM_DENS = 2, /* (1/k) * number of real k-NN balls containing x */
       GM_MIX_NTERMS = 3 };

typedef struct {
    size_t m, d, T;        /* arms, feature dimension, horizon (= max samples stored) */
    gm_mix_algo algo;
    gm_mix_quad quad;
    gm_mix_kernel kernel;  /* KID/MMD kernel (RKE is always Gaussian) */
    int lin;               /* GM_MIX_LIN_* mask */
    double sigma;          /* Gaussian bandwidth, > 0 (required for Gaussian kernels; no heuristic) */
    double lambda;         /* weight of the linear quality terms (default 1) */
    double delta_L;        /* UCB width Delta_L (default 2*Delta_kappa + Delta_f: RKE 2, KID 4) */
    double delta_kappa;    /* bias bonus Delta_kappa / n_i (default 1 with a kernel term, else 0) */
    double beta;           /* confidence exponent (default 1) */
    double delta_G;        /* quality bonus lambda*delta_G/n_i (default 0; official code 0.4) */
    double ridge;          /* added to K's diagonal in the online QP (default 1e-8) */
    size_t n0;             /* warm-up pulls per arm, round robin (default 1; official code 5) */
    int code_compat;       /* 1: official-code bonus sqrt(beta ln t/n) without Delta_kappa, and the
                              diagonal double count of S_aa (spec §2.4 items 1-2) */
    size_t lookahead;      /* capacity of the per-arm queue of gm_mix_push_ahead (default 32; 0 = none) */
    uint64_t seed;         /* Philox seed of the algorithm's own draws */
    uint64_t run;          /* replication index: the algorithm stream is (GM_STREAM_ARM, run<<16 | 0xffff) */
    double oracle_alpha[GM_MIX_MAX_ARMS]; /* ORACLE: sampling weights (normalised at create) */
    size_t oracle_arm;     /* BEST1: the arm to pull */
} gm_mix_config;

/* Defaults of spec §8 for the given score (paper-faithful constants). sigma is set to 0 and must be
 * given by the caller when a Gaussian kernel is used. */
void gm_mix_config_default(gm_mix_config *cfg, size_t m, size_t d, size_t T, gm_mix_quad quad, int lin);
/* Switch to the official code's constants: n0 = 5, delta_L = 0.6, delta_kappa = 0, delta_G = 0.4,
 * code_compat = 1. */
void gm_mix_config_code(gm_mix_config *cfg);
/* Validate a configuration (GM_EINVAL with a message naming the field). */
int gm_mix_config_check(const gm_mix_config *cfg);

const char *gm_mix_algo_name(gm_mix_algo a);       /* "cab", "ogd", "ucb", "sh", "uniform", ... */
int gm_mix_algo_parse(const char *s, gm_mix_algo *out);

/* Median pairwise Euclidean distance of up to `pairs` random pairs of distinct rows of X (n x d, n >= 2),
 * drawn from Philox stream (GM_STREAM_EVAL, 0) of `seed`: a bandwidth suggestion to pass explicitly
 * as sigma (genmix never picks one silently). */
int gm_mix_median_bandwidth(const float *X, size_t n, size_t d, size_t pairs, uint64_t seed, double *sigma);

/* ---- simplex QP -------------------------------------------------------------------------------- */
/* alpha = argmin_{alpha >= 0, sum alpha = 1} alpha'K alpha + c'alpha, K (m x m, row-major) symmetric
 * PSD. m <= GM_MIX_QP_ENUM_MAX: exact, by enumerating supports and solving the KKT system of each
 * (the feasible candidate of lowest objective wins; ties go to the first support in enumeration order,
 * so the result is deterministic). Larger m: accelerated projected gradient to 1e-12. Writes the
 * objective to *obj if obj != NULL. Never allocates. */
int gm_mix_qp(const double *K, const double *c, size_t m, double *alpha, double *obj);

/* ---- reference set ----------------------------------------------------------------------------- */
typedef struct gm_mix_ref gm_mix_ref;

/* Copy the reference set Y (n x d) and precompute what the per-sample terms need: squared norms and,
 * when lin != 0, the k-NN radii of the reference (k = knn_k, default 5). kernel/sigma: the KID kernel.
 * Cost O(n^2 d) with precision/density, O(n d) otherwise. */
int gm_mix_ref_create(gm_mix_ref **out, const float *Y, size_t n, size_t d, gm_mix_kernel kernel, double sigma,
                      int lin, size_t knn_k);
/* The per-sample terms of rows X (n x d) into out (n x GM_MIX_NTERMS). Parallel over rows (OpenMP),
 * results independent of the thread count. */
int gm_mix_ref_terms(const gm_mix_ref *r, const float *X, size_t n, double *out);
/* c = mean over all ordered reference pairs of kappa (the constant of MMD^2). */
double gm_mix_ref_self(const gm_mix_ref *r);
size_t gm_mix_ref_size(const gm_mix_ref *r);
void gm_mix_ref_free(gm_mix_ref *r);

/* ---- the bandit state machine ------------------------------------------------------------------ */
typedef struct gm_mix gm_mix;

/* Allocate everything for cfg->T samples. `ref` (borrowed for the life of b) is required for KID/MMD
 * and linear terms unless every update passes its terms. */
int gm_mix_create(gm_mix **out, const gm_mix_config *cfg, const gm_mix_ref *ref);
/* The arm to pull next (warm-up round robin first). GM_EINVAL if done. */
int gm_mix_select(gm_mix *b, size_t *arm);
/* Add one sample of `arm`: x (d floats) or NULL to consume the next queued sample of that arm.
 * terms: GM_MIX_NTERMS values for x, or NULL to compute them from the reference. GM_EINVAL when the
 * store is full, the queue is empty for x == NULL, or x has a NaN/Inf. */
int gm_mix_update(gm_mix *b, size_t arm, const float *x, const double *terms);
/* Queue the next n (<= lookahead) samples of `arm` (the arm's queue must be empty); their kernel rows
 * against the stored samples are computed now, with one matrix product. terms as in update (n rows). */
int gm_mix_push_ahead(gm_mix *b, size_t arm, const float *x, size_t n, const double *terms);
size_t gm_mix_queued(const gm_mix *b, size_t arm);
int gm_mix_done(const gm_mix *b);
size_t gm_mix_count(const gm_mix *b);             /* t = samples so far */
const size_t *gm_mix_counts(const gm_mix *b);     /* n_i (m values) */
/* Objective of the collected set, L = sum S/t^2 + sum F/t (+ c for KID/MMD): lower is better. */
double gm_mix_objective(const gm_mix *b);
/* The reported score: RKE = 1/(sum S/t^2) for pure RKE, sqrt for MMD, else the objective. */
double gm_mix_score(const gm_mix *b);
/* The last CAB/greedy QP solution (m values; the uniform vector before the first solve). */
const double *gm_mix_alpha(const gm_mix *b);
/* Current estimates K_hat (m x m, V-statistic, no ridge) and f_hat (m), either may be NULL. */
void gm_mix_estimates(const gm_mix *b, double *K, double *f);
void gm_mix_free(gm_mix *b);

/* Reported score from an objective value (RKE: 1/L; MMD: sqrt; others: L). */
double gm_mix_score_of(gm_mix_quad quad, int lin, double objective);
/* 1 when a larger reported score is better (pure RKE). */
int gm_mix_higher_better(gm_mix_quad quad, int lin);

/* ---- offline optimum --------------------------------------------------------------------------- */
/* K_hat, f_hat from all samples of each arm (X[i]: n[i] x d; terms[i]: n[i] x GM_MIX_NTERMS or NULL =
 * computed from ref), then alpha* = argmin alpha'(K_hat + ridge I)alpha + f_hat'alpha (ridge 1e-7), and
 * obj = L_hat(alpha*) (+ c for KID). K_hat/f_hat may be NULL. Gram tiles in parallel, fixed-order sums. */
int gm_mix_offline(const gm_mix_config *cfg, const gm_mix_ref *ref, const float *const *X, const size_t *n,
                   const double *const *terms, double *alpha, double *obj, double *K_hat, double *f_hat);

/* ---- replications over pools ------------------------------------------------------------------- */
typedef struct {
    size_t runs, T, m;
    double *objective; /* runs x T: objective after t+1 samples */
    double *score;     /* runs x T: reported score after t+1 samples */
    double *freq;      /* runs x T x m: pull frequencies n_i/(t+1) */
    double *alpha;     /* runs x m: the last QP solution (CAB/greedy) or final frequencies */
    double *qp_alpha;  /* CAB/greedy only (else NULL): runs x T x m, the QP weights used for round t+1
                          (the uniform vector during the warm-up) */
} gm_mix_trace;

/* Run `runs` replications of cfg->algo. Arm i is a pool of pool_n[i] feature rows (pool[i], row-major)
 * with optional precomputed terms (pool_terms[i] or NULL). In run r, arm i yields its pool rows in the
 * order of a random permutation drawn from Philox stream (GM_STREAM_ARM, r<<16 | i) of cfg->seed; the
 * algorithm's own draws use stream (GM_STREAM_ARM, r<<16 | 0xffff). Each pool needs >= T rows.
 * Replications run in parallel (OpenMP, schedule(static)); results are bitwise independent of the thread
 * count. Fills *out (free with gm_mix_trace_free). */
int gm_mix_simulate(const gm_mix_config *cfg, const gm_mix_ref *ref, const float *const *pool,
                    const size_t *pool_n, const double *const *pool_terms, size_t runs, gm_mix_trace *out);
void gm_mix_trace_free(gm_mix_trace *t);

/* Means over the runs of a trace, per round t: score (and its sample sd, 0 for one run), objective, pull
 * frequencies and (CAB/greedy) QP weights; the final round's values. Sums run over the runs in order. */
typedef struct {
    size_t runs, T, m;
    double *mean_score, *sd_score, *mean_objective; /* T each */
    double *mean_freq;                              /* T x m */
    double *mean_qp;                                /* T x m, NULL if the trace has no QP weights */
    double final_score_mean, final_score_sd, final_objective; /* at round T */
    double final_weights[GM_MIX_MAX_ARMS];          /* mean pull frequencies at round T */
} gm_mix_trace_summary;
/* GM_EINVAL for an empty trace, GM_ENOMEM; free with gm_mix_trace_summary_free (NULL-safe). */
int gm_mix_trace_summarize(const gm_mix_trace *tr, gm_mix_trace_summary *out);
void gm_mix_trace_summary_free(gm_mix_trace_summary *s);

#ifdef __cplusplus
}
#endif
#endif /* GM_MIX_H */
