/* SPDX-License-Identifier: MIT */
/* genmix/eval.h — sample-quality metrics between feature sets (one embedding per row).
 *
 * Usage:
 *     gm_feats R = gm_feats_f32(real, n_real, d), G = gm_feats_f32(fake, n_fake, d);
 *     gm_fd_result fd;
 *     if (gm_fd(&R, &G, GM_COV_UNBIASED, &fd) != GM_OK) puts(gm_last_error());
 *     gm_kid_config kc = gm_kid_config_default();
 *     gm_kid_result kid;
 *     gm_kid(&R, &G, &kc, &kid, NULL);                     // mean ± std over 100 subsets of 1000
 *     gm_knn_config nc = gm_knn_config_default();
 *     gm_knn_result knn;
 *     gm_knn(&R, &G, &nc, &knn);                            // P/R (k 3, <=) and PRDC (k 5, <)
 *     gm_knn_result_free(&knn);
 *
 * Metrics: Fréchet distance (streaming/mergeable float64 statistics, symmetric-eigen and low-rank paths),
 * KID / MMD (cubic polynomial or RBF kernel, subsets drawn exactly as torch-fidelity draws them),
 * k-NN precision/recall + realism, density/coverage (tiled distances, O(n·k + tile²) memory), PRD curves,
 * Vendi (order q), RKE / RRKE, Inception Score. Formulas and conventions: docs/eval.md.
 *
 * Ownership: inputs are borrowed for the duration of a call. Results with arrays (gm_knn_result,
 * gm_fdstats) own them; free with the matching *_free (a no-op on a zeroed struct).
 * Errors: GM_EINVAL (bad configuration: k >= n, empty sets, subset larger than a set in strict mode),
 * GM_ESHAPE (feature dimensions differ), GM_ENUMERIC (an eigen/SVD solver failed or a NaN appeared),
 * GM_ENOMEM. Inputs are assumed finite (check files with gm_array_check_finite).
 * Thread safety: no shared state (a gm_knn_stream must not be used by two threads at once). With OpenMP,
 * parallel loops use static partitions and per-block partial sums added in index order, or (k-NN items,
 * KID subsets) dynamically scheduled work units of fixed shape whose results are combined by order-free
 * operations, so every result is bitwise the same for any thread count.
 */
#ifndef GM_EVAL_H
#define GM_EVAL_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- feature matrices ------------------------------------------------------------------------ */

/* A borrowed n x d row-major matrix of float32 (is_f64 = 0) or float64 (is_f64 = 1) features. */
typedef struct {
    const void *data;
    size_t n, d;
    int is_f64;
} gm_feats;

/* Feature-set row access, shared by eval and the methods that measure feature sets (e.g. prdiv).
 * Rows [r0, r0+cnt) of x converted into dst (double / float), row-major cnt x d. */
void gm_feats_rows_f64(const gm_feats *x, size_t r0, size_t cnt, double *dst);
void gm_feats_rows_f32(const gm_feats *x, size_t r0, size_t cnt, float *dst);
/* Squared row norms in double of rows [0, n). */
void gm_feats_row_norms(const gm_feats *x, double *out);
/* Validate a pair of feature sets (non-NULL, n >= min_n, equal d); GM_EINVAL with a message naming `what`. */
int gm_feats_check_pair(const gm_feats *a, const gm_feats *b, size_t min_n, const char *what);

gm_feats gm_feats_f32(const float *x, size_t n, size_t d);
gm_feats gm_feats_f64(const double *x, size_t n, size_t d);
/* Row i, column j as a double. */
double gm_feats_at(const gm_feats *x, size_t i, size_t j);
/* Copy m rows drawn without replacement (Philox stream (EVAL, 6·2^32 + stream), partial Fisher-Yates,
 * kept in ascending row order) into a new buffer of the same dtype: *buf is gm_malloc'd (free with
 * gm_free) and *out views it. m >= n copies everything. */
int gm_feats_subsample(const gm_feats *x, size_t m, uint64_t seed, uint64_t stream, void **buf, gm_feats *out);

/* ---- kernels (shared with other modules) ------------------------------------------------------ */

/* The scalar kernel values gm_kernel_poly / gm_kernel_rbf are in genmix/linalg.h. */
/* K(nx, ny) = poly(X Y^T) or rbf(||x||² + ||y||² - 2 X Y^T) in float64 (DGEMM).
 * kind GM_KERNEL_POLY uses gamma (<= 0 means 1/d), coef0, degree; GM_KERNEL_RBF uses sigma. */
typedef enum { GM_KERNEL_POLY = 0, GM_KERNEL_RBF = 1, GM_KERNEL_COSINE = 2 } gm_kernel_kind;
typedef struct {
    gm_kernel_kind kind;
    int degree;    /* poly: 3 */
    double gamma;  /* poly: <= 0 means 1/d */
    double coef0;  /* poly: 1 */
    double sigma;  /* rbf bandwidth */
} gm_kernel;
gm_kernel gm_kernel_poly3(void);
gm_kernel gm_kernel_rbf_sigma(double sigma);
void gm_kernel_matrix(double *K, const double *X, size_t nx, const double *Y, size_t ny, size_t d,
                      const gm_kernel *k);

/* ---- Fréchet distance --------------------------------------------------------------------------- */

typedef enum { GM_COV_UNBIASED = 0, /* M2 / (n - 1) */ GM_COV_BIASED = 1 /* M2 / n */ } gm_cov_norm;

/* Streaming, mergeable float64 statistics: count, mean and centred second moments M2 = Σ(x-mu)(x-mu)^T.
 * Each gm_fdstats_add centres its rows by their own mean, forms their M2 with DSYRK and merges it with
 * Chan's formula; adding the same rows in the same chunks gives the same bits. */
typedef struct {
    size_t d;
    int64_t n;
    double *mean; /* d */
    double *m2;   /* d x d, both triangles filled */
} gm_fdstats;

int gm_fdstats_init(gm_fdstats *s, size_t d);
/* Add n rows (float32 or float64). Rows are processed in chunks of 1024. */
int gm_fdstats_add(gm_fdstats *s, const gm_feats *x);
/* dst += src (same d). */
int gm_fdstats_merge(gm_fdstats *dst, const gm_fdstats *src);
/* cov (d x d) = M2 / (n-1) or M2 / n. GM_EINVAL if n < 2 (unbiased) or n < 1. */
int gm_fdstats_cov(const gm_fdstats *s, gm_cov_norm norm, double *cov);
void gm_fdstats_free(gm_fdstats *s);
/* Round the mean to float32 (the float32 np.mean of torch-fidelity / clean-fid, to within NumPy's
 * pairwise-summation error). */
void gm_fdstats_round_mean_f32(gm_fdstats *s);

typedef struct {
    double fd;           /* mean_term + trace1 + trace2 - 2 trace_sqrt (unclamped) */
    double mean_term;    /* ||mu1 - mu2||² */
    double trace1, trace2;
    double trace_sqrt;   /* tr((S1 S2)^{1/2}) */
    double neg_eig_mass; /* Σ|μ| over the negative eigenvalues of S1^{1/2} S2 S1^{1/2} (or 0) */
    double min_eig1, min_eig2, cond1, cond2; /* NaN when not computed (low-rank, Cholesky paths) */
    int rank_deficient;  /* 1 when n <= d for one of the sets */
    const char *method;  /* "eigh", "lowrank", "jacobi" */
} gm_fd_result;

/* FD from means and covariances (d x d, symmetric). Cholesky path (method "cholesky"): S1 = L L^T,
 * M = L^T S2 L, tr_sqrt = Σ sqrt(max(eig(M), 0)) with eigenvalues only; min_eig/cond are NaN. When S1 is
 * not numerically positive definite it falls back to gm_fd_from_moments_eigh. */
int gm_fd_from_moments(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                       gm_fd_result *out);
/* Eigen path (method "eigh"): S1 = U diag(l) U^T (dsyevd), M = V S2 V^T with V = diag(sqrt(max(l,0))) U^T,
 * tr_sqrt = Σ sqrt(max(eig(M), 0)); also reports min_eig and cond of S1 and S2. Handles PSD S1. */
int gm_fd_from_moments_eigh(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                            gm_fd_result *out);
/* FD from two statistics objects with the given covariance normalisation. */
int gm_fd_from_stats(const gm_fdstats *a, const gm_fdstats *b, gm_cov_norm norm, gm_fd_result *out);
/* Low-rank path from raw features: tr_sqrt = ||A1 A2^T||_* with A_i the centred, scaled rows. */
int gm_fd_lowrank(const gm_feats *x1, const gm_feats *x2, gm_cov_norm norm, gm_fd_result *out);
/* FD between two feature sets: the low-rank path when both n1, n2 < d, the eigen path otherwise. */
int gm_fd(const gm_feats *x1, const gm_feats *x2, gm_cov_norm norm, gm_fd_result *out);
/* The same, always through the naive (no BLAS/LAPACK, Jacobi eigen) reference path. */
int gm_fd_from_moments_ref(const double *mu1, const double *S1, const double *mu2, const double *S2, size_t d,
                           gm_fd_result *out);

/* ---- KID / MMD ---------------------------------------------------------------------------------- */

typedef enum { GM_MMD_UNBIASED = 0, GM_MMD_USTAT = 1, GM_MMD_BIASED = 2 } gm_mmd_estimator;

typedef struct {
    size_t subsets;       /* 100 */
    size_t subset_size;   /* 1000 */
    uint32_t seed;        /* 2020: MT19937 subsets as torch-fidelity draws them */
    gm_kernel kernel;     /* poly3 (gamma 1/d, coef0 1) */
    gm_mmd_estimator estimator;
    int strict;           /* 1: GM_EINVAL if a set has fewer rows than subset_size; 0: shrink m */
    int f32;              /* 1: float32 GEMM and element-wise kernel (torch-fidelity/clean-fid) */
    void (*progress)(const char *stage, double frac, void *ctx); /* may be NULL */
    void *progress_ctx;
} gm_kid_config;
gm_kid_config gm_kid_config_default(void);

typedef struct {
    double mean, std;     /* over subsets; std with ddof 0 */
    size_t subsets, subset_size;
    int shrunk;           /* 1 if subset_size was reduced to min(n_real, n_fake) */
} gm_kid_result;

/* Per subset s: idx_f = choice(n_fake, m), then idx_r = choice(n_real, m) from one MT19937 stream
 * (torch-fidelity's input1 = generated), MMD² of the two subsets. `per_subset` (may be NULL) receives
 * the `subsets` values. */
int gm_kid(const gm_feats *real, const gm_feats *fake, const gm_kid_config *cfg, gm_kid_result *out,
           double *per_subset);
/* MMD² between full sets (n1 != n2 allowed); tiled, float64. */
int gm_mmd(const gm_feats *x, const gm_feats *y, const gm_kernel *k, gm_mmd_estimator est, double *out);

/* ---- k-NN precision/recall, density/coverage ----------------------------------------------------- */

typedef enum { GM_CMP_LE = 0, /* inside iff d <= r */ GM_CMP_LT = 1 /* inside iff d < r */ } gm_cmp;
typedef enum { GM_REALISM_NONE = 0, GM_REALISM_KYNKAAT = 1, GM_REALISM_DGM = 2 } gm_realism_kind;

typedef struct {
    size_t k_pr;      /* 3: improved precision/recall */
    gm_cmp cmp_pr;    /* GM_CMP_LE */
    size_t k_dc;      /* 5: density/coverage (and PRDC's precision/recall) */
    gm_cmp cmp_dc;    /* GM_CMP_LT */
    int want_pr, want_dc;
    gm_realism_kind realism;
    size_t tile;      /* 1024 rows per distance tile (cut to the larger row count by gm_knn) */
    int f32;          /* 1: SGEMM dot products (distances still assembled in float64) */
    int fp16;         /* 1: binary16 emulation (nvidia/openai): features, then each squared distance, rounded
                         to binary16 (nearest even); if a distance overflows, everything is recomputed without
                         it and the result says fp16_fallback = 1 */
    void (*progress)(const char *stage, double frac, void *ctx); /* may be NULL */
    void *progress_ctx;
} gm_knn_config;
gm_knn_config gm_knn_config_default(void);

typedef struct {
    size_t n_real, n_fake;
    double precision, recall, f1;                 /* k_pr, cmp_pr */
    double dc_precision, dc_recall, density, coverage; /* k_dc, cmp_dc */
    /* per-sample indicators (owned; NULL when not requested) */
    uint8_t *fake_in_real;   /* n_fake, k_pr: fake j inside manifold(real) */
    uint8_t *real_in_fake;   /* n_real, k_pr */
    uint8_t *fake_in_real_dc; /* n_fake, k_dc */
    uint8_t *real_in_fake_dc; /* n_real, k_dc */
    uint32_t *density_count; /* n_fake: #real i with d(R_i, G_j) < r_i (k_dc) */
    uint8_t *covered;        /* n_real: nearest fake within r_i (k_dc) */
    double *realism;         /* n_fake or NULL */
    double *radius_real_pr, *radius_fake_pr, *radius_real_dc, *radius_fake_dc; /* squared radii */
    int fp16_fallback;       /* 1: fp16 was requested but a distance overflowed binary16 (recomputed without) */
} gm_knn_result;

int gm_knn(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out);
void gm_knn_result_free(gm_knn_result *r);
/* Naive reference: full distance matrices, sort per row. Same outputs (indicators and counts); ignores fp16. */
int gm_knn_ref(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out);
/* Squared k-th nearest neighbour distance of each row of x within x (self excluded), tiled:
 * radii[i*kmax + (k-1)] for k = 1..kmax (ascending). */
int gm_knn_radii(const gm_feats *x, size_t kmax, size_t tile, int f32, double *radii);
/* x rounded to the nearest IEEE binary16 value (ties to even; |x| >= 65520 -> ±inf), as a double. */
double gm_round_half(double x);

/* Streaming k-NN: feed real and fake rows in batches of any size (any order, interleaved), then finish.
 * The stream keeps the rows (in the compute precision: float when cfg->f32, else double), their norms and
 * the top-k lists; each batch that completes a column tile runs that tile's radius items at once, and
 * finish runs the rest. The result is bitwise identical to gm_knn on the concatenated sets, for any batch
 * sizes and thread count (items have shapes fixed by n and tile). Lifecycle: create -> feed* -> finish ->
 * free; after an error or finish, feed/finish return GM_EINVAL. cfg->progress is used by finish only. */
typedef struct gm_knn_stream gm_knn_stream;
enum { GM_KNN_REAL = 0, GM_KNN_FAKE = 1 };
int gm_knn_stream_create(gm_knn_stream **out, size_t d, const gm_knn_config *cfg);
int gm_knn_stream_feed(gm_knn_stream *s, int set, const gm_feats *rows);
int gm_knn_stream_finish(gm_knn_stream *s, gm_knn_result *out);
void gm_knn_stream_free(gm_knn_stream *s);

/* ---- PRD ------------------------------------------------------------------------------------------ */

typedef struct {
    size_t num_clusters;  /* 20 */
    size_t num_angles;    /* 1001 */
    size_t num_runs;      /* 10 */
    size_t n_init;        /* 10 k-means++ restarts per run, best inertia kept */
    size_t max_iter;      /* 100 Lloyd iterations */
    uint64_t seed;
} gm_prd_config;
gm_prd_config gm_prd_config_default(void);

/* Curves from histograms: precision[a], recall[a] for the num_angles slopes (§ PRD). */
int gm_prd_from_histograms(const double *eval_hist, const double *ref_hist, size_t nbins, size_t num_angles,
                           double *precision, double *recall);
/* max F_beta over the curve. */
double gm_prd_fbeta_max(const double *precision, const double *recall, size_t n, double beta);
/* PRD of eval (= generated) against ref (= real); precision/recall have num_angles entries each. */
int gm_prd(const gm_feats *ref, const gm_feats *eval, const gm_prd_config *cfg, double *precision,
           double *recall, double *f8, double *f1_8);

/* ---- Vendi, RKE --------------------------------------------------------------------------------- */

/* Vendi score of order q (q = INFINITY allowed) with the cosine kernel (primal when n <= d, dual otherwise)
 * or an RBF kernel (primal). Eigenvalues below n·eps·λmax are zeroed; *n_clamped (may be NULL) gets
 * their count. */
int gm_vendi(const gm_feats *x, const gm_kernel *k, double q, double *out, size_t *n_clamped);
/* Per-class Vendi (eval_perclass.c): the Vendi score of the rows of each class (labels: one integer per row
 * of x) and the unweighted mean over classes (dgm-eval's per-class Vendi). Classes come in increasing label
 * order. Fills *out (free with gm_vendi_per_class_free, NULL-safe). GM_EINVAL (no rows), GM_ENOMEM, or the
 * status of gm_vendi. */
typedef struct {
    size_t n_classes;
    int64_t *labels; /* n_classes distinct labels, increasing */
    size_t *counts;  /* rows of each class */
    double *values;  /* Vendi of each class */
    double mean;     /* sum of values / n_classes, summed in label order */
} gm_vendi_classes;
int gm_vendi_per_class(const gm_feats *x, const int64_t *labels, const gm_kernel *k, double q, gm_vendi_classes *out);
void gm_vendi_per_class_free(gm_vendi_classes *r);
/* Per-class FD / KID / k-NN metrics (eval_perclass.c): the metric between the real and generated rows of
 * each class (one integer label per row of each set). Classes are the distinct generated labels, in
 * increasing order; each must have rows in the real set (GM_EINVAL naming the label otherwise; real-only
 * classes are ignored). values is n_classes x n_values, mean the unweighted mean over classes of each
 * value (summed in label order). FD: 1 value (fd, gm_fd with norm). KID: 2 (mean, std; gm_kid with cfg, so
 * a class with fewer rows than subset_size shrinks m unless cfg->strict). k-NN: 7 (precision, recall, f1
 * with k_pr; dc_precision, dc_recall, density, coverage with k_dc; gm_knn with cfg). Free with
 * gm_class_metrics_free (NULL-safe). Errors: GM_EINVAL, GM_ENOMEM or the metric's status, prefixed
 * with the class label. */
typedef struct {
    size_t n_classes, n_values;
    int64_t *labels;        /* n_classes distinct generated labels, increasing */
    size_t *n_real, *n_fake; /* rows of each class in each set */
    double *values;         /* n_classes x n_values */
    double *mean;           /* n_values */
} gm_class_metrics;
int gm_fd_per_class(const gm_feats *real, const int64_t *real_labels, const gm_feats *fake,
                    const int64_t *fake_labels, gm_cov_norm norm, gm_class_metrics *out);
int gm_kid_per_class(const gm_feats *real, const int64_t *real_labels, const gm_feats *fake,
                     const int64_t *fake_labels, const gm_kid_config *cfg, gm_class_metrics *out);
int gm_knn_per_class(const gm_feats *real, const int64_t *real_labels, const gm_feats *fake,
                     const int64_t *fake_labels, const gm_knn_config *cfg, gm_class_metrics *out);
void gm_class_metrics_free(gm_class_metrics *r);
/* Vendi of a given PSD kernel matrix (n x n, k_ii = 1). */
int gm_vendi_from_kernel(const double *K, size_t n, double q, double *out);
/* ||K/n||_F² for each of n_sigma Gaussian bandwidths, exact by tiles (one pass). */
int gm_rke_frobenius(const gm_feats *x, const double *sigmas, size_t n_sigma, size_t tile, double *frob);
/* Monte-Carlo estimate of 1/mean(k²) over `pairs` uniform pairs (with replacement) from a Philox stream. */
int gm_rke_mc(const gm_feats *x, double sigma, size_t pairs, uint64_t seed, double *mode_count);
/* RRKE_{1/2}(X, Y) = -log(||K_XY / sqrt(nm)||_*²). */
int gm_rrke(const gm_feats *x, const gm_feats *y, double sigma, double *out);

/* ---- Inception Score ----------------------------------------------------------------------------- */

typedef enum { GM_IS_SHUFFLE_NONE = 0, GM_IS_SHUFFLE_MT2020 = 1 } gm_is_shuffle;
/* IS from logits (is_prob = 0: softmax in float64) or probabilities (rows sum to 1 ± 1e-6, else
 * GM_EINVAL). Split s is rows [s·N/splits, (s+1)·N/splits) of the (optionally shuffled) order;
 * drop_remainder uses s·(N/splits) bounds (dgm-eval). */
int gm_inception_score(const gm_feats *x, int is_prob, size_t splits, gm_is_shuffle shuffle,
                       int drop_remainder, double *mean, double *std);

/* ---- two-sample statistics of float point sets (latent codes, images) -------------------------- */

/* Unbiased MMD^2 with the RBF kernel k(a,b) = exp(-||a-b||^2 / (2 h^2)) between x (m x d) and
 * y (n x d), m, n >= 2:
 *   1/(m(m-1)) sum_{i!=j} k(x_i,x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i,y_j) - 2/(mn) sum_{i,j} k(x_i,y_j).
 * gm_mmd with gm_kernel_rbf_sigma(h) and GM_MMD_UNBIASED: identical for any thread count. O((m+n)^2 d). */
int gm_latent_mmd2_rbf(const float *x, size_t m, const float *y, size_t n, size_t d, double h, double *mmd2);
/* Median of the pairwise Euclidean distances of the pooled set {x, y} (y may be NULL with n = 0),
 * computed on at most max_points evenly spaced rows of the pool (0 = 1000). Allocates O(max_points^2). */
int gm_latent_median_distance(const float *x, size_t m, const float *y, size_t n, size_t d, size_t max_points,
                              double *h);

/* Sliced Wasserstein-2 distance between equal-size sets x, y (n x d, n >= 1): L random unit
 * directions from the Philox stream (seed, GM_STREAM_EVAL, 0); for each, sort both projections and
 * average the squared differences; average over directions; square root. Allocates O(n + d). */
int gm_latent_swd(const float *x, const float *y, size_t n, size_t d, size_t L, uint64_t seed, double *swd);
/* log of the empirical aggregated posterior of a VAE at m query points z (m x d):
 * out[q] = logsumexp_i log N(z_q; mu_i, diag exp(logvar_i)) - log N over the N encodings (mu, logvar
 * N x d). Parallel over queries (identical for any thread count). O(m N d). */
int gm_latent_log_phat(double *out, const float *z, size_t m, const float *mu, const float *logvar, size_t N,
                       size_t d);

/* Classifier two-sample test: logistic regression (L2 penalty 1e-4 per weight, Newton's method) on
 * the first half of each set (rows in a seeded random order), accuracy on the second half. 0.5 means
 * indistinguishable; sd under the null ~ 0.5 / sqrt((m + n) / 2). Needs m, n >= 4. Allocates
 * O((m + n) + d^2). GM_ENUMERIC if Newton's method does not converge in 50 iterations. */
int gm_latent_c2st(const float *x, size_t m, const float *y, size_t n, size_t d, uint64_t seed, double *acc);
/* Per-dimension moments of a VAE's aggregated posterior from N encodings (mu, logvar: N x d):
 * mean_j = E mu_j, var_j = E exp(logvar_j) + Var mu_j (logvar NULL: deterministic encoder), and the
 * number of active dimensions, Var mu_j > active_thresh (spec: 0.01). Outputs may be NULL. */
int gm_latent_phat_moments(const float *mu, const float *logvar, size_t N, size_t d, double active_thresh,
                           double *mean, double *var, size_t *n_active);

/* Squared Euclidean distance from each of the m query rows q (m x d) to its nearest row of ref (n x d):
 * out (m). BLAS SGEMM in tiles when built with BLAS (||a||^2 + ||b||^2 - 2 a.b, clamped at 0), naive
 * double loops otherwise. Allocates O(tile x n). Used for memorisation checks (nearest training image). */
int gm_latent_nearest_sqdist(const float *q, size_t m, const float *ref, size_t n, size_t d, float *out);

/* ---- uncertainty --------------------------------------------------------------------------------- */

/* np.percentile(v, q) with linear interpolation (q in [0, 100]); v is not modified. NaN on ENOMEM. */
double gm_eval_percentile(const double *v, size_t n, double q);

typedef struct {
    double lo, hi;
} gm_ci;

typedef struct {
    gm_ci precision, recall, dc_precision, dc_recall, density, coverage;
} gm_knn_ci;

/* Percentile bootstrap of the k-NN metrics, conditional on the radii: replicate b resamples the fake
 * and the real indicators/counts with replacement from Philox stream (EVAL, 3·2^32 + b). level = 0.95. */
int gm_knn_bootstrap(const gm_knn_result *r, const gm_knn_config *cfg, size_t B, uint64_t seed, double level,
                     gm_knn_ci *ci);
/* Percentile interval of bootstrap replicates v[0..B) shifted by the bootstrap bias estimate
 * (mean(v) - estimate): [q_lo - bias, q_hi - bias]. Used for FD, whose plug-in estimate is biased
 * upwards by O(d/n) and whose resamples (with duplicated rows) are biased further. {NaN, NaN} on ENOMEM. */
gm_ci gm_ci_bias_corrected(const double *v, size_t B, double estimate, double level);
/* Percentile bootstrap interval of the mean of v (e.g. the KID subset values). */
int gm_mean_bootstrap(const double *v, size_t n, size_t B, uint64_t seed, double level, gm_ci *ci);
/* FD bootstrap: replicate b draws multinomial row counts for both sets (stream EVAL, 4·2^32 + b) and
 * recomputes the weighted statistics and FD; values[0..B) receive the replicate FDs. */
int gm_fd_bootstrap(const gm_feats *x1, const gm_feats *x2, gm_cov_norm norm, size_t B, uint64_t seed,
                    double *values);

/* ---- compatibility profiles ------------------------------------------------------------------------ */

/* The conventions of one reference tool (docs/eval.md, spec §3). */
typedef struct {
    char name[32];
    gm_cov_norm cov_norm;
    int fd_mean_f32;       /* round the means to float32, as a float32 np.mean does */
    gm_kid_config kid;
    gm_knn_config knn;
    int knn_f32_if_input_f32; /* prdc: distances in the input dtype */
    size_t knn_subsample;  /* dgm-eval: subsample both sets to this many rows (0 = all) */
    size_t is_splits;
    gm_is_shuffle is_shuffle;
    int is_drop_remainder;
} gm_eval_profile;

/* Fill `out` for "genmix", "torch-fidelity", "clean-fid", "prdc", "dgm-eval", "nvidia" or "openai";
 * GM_EINVAL naming the known profiles otherwise. */
int gm_eval_profile_get(const char *name, gm_eval_profile *out);

/* ---- CMMD, FD-infinity (eval_cmmd.c) --------------------------------------------------------------- */

/* CMMD (Jayasumana et al. 2024) = 1000 * MMD^2(real, gen) with the Gaussian kernel
 * exp(-||x-y||^2 / (2 sigma^2)) (sigma = 10 in the paper) on embeddings the caller provides (CLIP).
 * est: GM_MMD_UNBIASED (diagonals excluded, the paper's text) or GM_MMD_BIASED (all-pairs means, the
 * paper's code). GM_EINVAL for sigma <= 0, GM_MMD_USTAT, or fewer than 2 rows (unbiased). */
int gm_cmmd(const gm_feats *real, const gm_feats *gen, double sigma, gm_mmd_estimator est, double *out);
/* FD-infinity (Chong & Forsyth 2020): FD of `real` (statistics, covariance with `norm`) against `points`
 * subsets of the generated rows of sizes N_p = trunc(linspace(n_min, n_gen, points)) — drawn without
 * replacement from Philox stream (EVAL, 6*2^32 + 1000 + p) of `seed` when shuffle = 1, the first N_p rows
 * otherwise — and the least-squares line FD_N = fd_inf + slope / N. ns/fds (may be NULL) receive the
 * `points` sizes and FD values. GM_EINVAL for points < 2 or n_min outside 2..n_gen-1. */
int gm_fd_infinity(const gm_fdstats *real, const gm_feats *gen, gm_cov_norm norm, size_t n_min, size_t points,
                   uint64_t seed, int shuffle, double *fd_inf, double *slope, size_t *ns, double *fds);

#ifdef __cplusplus
}
#endif
#endif /* GM_EVAL_H */
