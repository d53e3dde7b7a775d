/* SPDX-License-Identifier: MIT */
/* genmix/moe.h — softmax-gated multinomial-logistic mixture of experts (MoE) for classification:
 * model, EM fitting with Newton/IRLS M-steps, prediction, information criteria, Voronoi losses against a
 * true parameter set, the deterministic LCG data generator shared with R, and the convergence-rate
 * simulation study (Nguyen, Akbarian, Nguyen & Ho, ICML 2024). Spec: shared/specs/moe.md.
 *
 * Model (d features, k experts, S classes):
 *     p(y = s | x) = sum_i pi_i(x) f_i(s | x)
 *     pi_i(x)  = softmax_i( W[0,i] + sum_j W[j,i] g_j(x) ),  g = x (standard) or M(x) (modified gating)
 *     f_i(s|x) = softmax_s( V_i[0,s] + sum_j V_i[j,s] x_j )
 * Conventions: the last expert is the gate reference (W[:,k-1] = 0) and the last class is each expert's
 * reference (V_i[:,S-1] = 0). Free parameters df = (k-1)(d+1) + k(S-1)(d+1), packed in the order
 * "gate (beta0, beta1) of experts 1..k-1, then for each expert i and class s < S: (b_is, a_is)".
 *
 * Usage:
 *     gm_moe_fit_config cfg = gm_moe_fit_config_default();
 *     cfg.n_experts = 2; cfg.n_restarts = 10; cfg.seed = 42;
 *     gm_moe_fit_result res;
 *     if (gm_moe_fit(&cfg, X, y, n, d, S, NULL, &res) != GM_OK) puts(gm_last_error());
 *     gm_moe_predict_proba(&res.model, X, n, P);          // P: n x S class probabilities
 *     printf("loglik %.6f BIC %.3f\n", res.loglik, res.bic);
 *     gm_moe_fit_result_free(&res);
 *
 *     // or drive EM yourself (GSL style: the caller owns the loop)
 *     gm_moe_fitter *f;
 *     gm_moe_fitter_create(&f, &cfg, X, y, n, d, S, init_or_NULL, restart_index);
 *     while (!gm_moe_fitter_test(f) && gm_moe_fitter_iter(f) < cfg.max_iter) gm_moe_fitter_iterate(f);
 *     gm_moe_fitter_free(f);
 *
 * Data: X is n x d row-major double, y holds class labels 0..S-1.
 * Ownership: gm_moe owns its W and V arrays (gm_moe_init / gm_moe_free); results own their model and
 * restart arrays (gm_moe_fit_result_free). Nothing keeps the caller's X/y past a call, except a fitter,
 * which borrows them until gm_moe_fitter_free.
 * Threading: every function is reentrant and single-threaded, except gm_moe_simulate, which runs
 * replications in parallel with OpenMP; its results do not depend on the number of threads.
 * Errors: int status (GM_OK or a negative gm_status) with the detail in gm_last_error().
 */
#ifndef GM_MOE_H
#define GM_MOE_H

#include "genmix/base.h"
#include "genmix/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model ----------------------------------------------------------------------------------- */

typedef enum {
    GM_MOE_GATE_IDENTITY = 0, /* standard gating: g(x) = x */
    GM_MOE_GATE_SIGMOID = 1,  /* modified gating: g(x) = 1 / (1 + exp(-x)), feature-wise */
    GM_MOE_GATE_TANH = 2      /* modified gating: g(x) = tanh(x) */
} gm_moe_gate;

/* Upper bound of gm_moe_fit_config.n_restarts (and of `moe fit --restarts`, Python restarts=): beyond it a fit
 * would run for days; more restarts than this add nothing a different seed would not. */
#define GM_MOE_MAX_RESTARTS 100000

typedef struct {
    size_t n_experts; /* k */
    size_t n_classes; /* S >= 2 */
    size_t dim;       /* d */
    gm_moe_gate gate; /* transform applied to x in the gate only */
    double *W;        /* gate, (d+1) x k row-major: W[j*k + i], row 0 = intercepts */
    double *V;        /* experts, k x (d+1) x S: V[(i*(d+1) + j)*S + s], row j = 0 intercepts */
} gm_moe;

/* Allocate a zero model (all experts and gate columns 0). GM_EINVAL if k < 1, S < 2 or d < 1. */
int gm_moe_init(gm_moe *m, size_t n_experts, size_t n_classes, size_t dim, gm_moe_gate gate);
/* Free W and V (the struct itself is the caller's); NULL and zeroed structs are no-ops. */
void gm_moe_free(gm_moe *m);
/* Deep copy into an uninitialised *dst. */
int gm_moe_copy(gm_moe *dst, const gm_moe *src);
size_t gm_moe_df(const gm_moe *m);
/* Pack / unpack the df free parameters (reference columns are not stored; unpack sets them to 0). */
void gm_moe_pack(const gm_moe *m, double *theta);
void gm_moe_unpack(gm_moe *m, const double *theta);
/* Subtract the reference columns: gate column `gate_ref` from every gate column and class column
 * `class_ref` from every expert's class columns. gm_moe_normalize(m) = (k-1, S-1) (genmix convention);
 * (0, 0) gives flexmix / nnet's first-component / first-class convention. ell and predictions unchanged. */
void gm_moe_set_reference(gm_moe *m, size_t gate_ref, size_t class_ref);
void gm_moe_normalize(gm_moe *m);
/* Reorder experts: new expert i = old expert perm[i]; then re-normalises. */
int gm_moe_permute(gm_moe *m, const size_t *perm);
/* The gate transform of one value. */
double gm_moe_gate_apply(gm_moe_gate g, double x);

/* ---- evaluation ------------------------------------------------------------------------------ */

/* Log-likelihood sum_t log p(y_t | x_t). If tau != NULL it receives the n x k posteriors
 * (responsibilities). Returns NaN if a label is out of range (asserted in debug) or on ENOMEM. */
double gm_moe_loglik(const gm_moe *m, const double *X, const int *y, size_t n, double *tau);
/* Gradient of the log-likelihood w.r.t. the packed parameters (df entries). Returns ell (NaN on ENOMEM). */
double gm_moe_gradient(const gm_moe *m, const double *X, const int *y, size_t n, double *grad);
/* Class probabilities P (n x S); gate probabilities G (n x k). GM_OK or GM_ENOMEM (row scratch). */
int gm_moe_predict_proba(const gm_moe *m, const double *X, size_t n, double *P);
int gm_moe_gate_proba(const gm_moe *m, const double *X, size_t n, double *G);
/* Arg-max class of each row. GM_OK or GM_ENOMEM. */
int gm_moe_predict(const gm_moe *m, const double *X, size_t n, int *labels);
/* Accuracy (arg-max of each row of P, first index on ties) and mean log P[t, y_t] of class probabilities
 * P (n x S) against labels y; rows with y_t outside 0..S-1 are skipped. *n_known gets the rows used; the
 * means are NaN if none. Outputs are nullable. */
void gm_moe_score(const double *P, size_t n, size_t S, const int *y, size_t *n_known, double *accuracy,
                  double *mean_loglik);
/* Observed information -d2 ell (df x df, symmetrised central differences of the analytic gradient,
 * step 1e-5*max(1,|theta|)) and standard errors sqrt(diag(I^-1)). If I is not positive definite the SEs
 * are NaN and *singular = 1. info may be NULL. */
int gm_moe_stderr(const gm_moe *m, const double *X, const int *y, size_t n, double *se, double *info,
                  int *singular);

/* ---- multinomial-logit M-step (shared Newton solver) ----------------------------------------- */

/* F(B) = sum_t w_t sum_c T_tc log P_tc(B) - lambda ||B||^2 for a C-class softmax regression on rows Z
 * (n x p) with class C-1 fixed at 0; B is (C-1) x p class-major (B[c*p + j]). Targets: soft T (n x C) or,
 * if T == NULL, one-hot `labels`; w NULL = unit weights. grad ((C-1)p) and negH (((C-1)p)^2, the full
 * negative Hessian with cross-class blocks) are written when non-NULL. Returns F. */
double gm_mlogit_objective(const double *B, const double *Z, size_t n, size_t p, size_t C, const double *T,
                           const int *labels, const double *w, double lambda, double *grad, double *negH);

typedef struct {
    size_t max_iter;     /* Newton iterations (300) */
    double rtol, atol;   /* stop when |dF| <= rtol|F| or |dF| <= atol (1e-7, 1e-6)... */
    double max_abs_coef; /* coefficients clipped to [-c, c] (1e3) */
} gm_mlogit_options;
gm_mlogit_options gm_mlogit_options_default(void);

/* Maximise F from the start value in B by Newton steps (Cholesky of -H via LAPACKE dposv; +mu I when not
 * positive definite) with step halving so that F never decreases. *F_out (nullable) gets the final F,
 * *iters (nullable) the number of accepted steps. GM_ENOMEM, or GM_OK (also when no progress). */
int gm_mlogit_newton(double *B, const double *Z, size_t n, size_t p, size_t C, const double *T,
                     const int *labels, const double *w, double lambda, const gm_mlogit_options *opt,
                     double *F_out, size_t *iters);

/* ---- EM fitting ------------------------------------------------------------------------------ */

typedef enum {
    GM_MOE_INIT_RANDOM_PARTITION = 0, /* hard random labels, posteriors 0.9/0.1, then an M-step (flexmix) */
    GM_MOE_INIT_RANDOM_PARAMS = 1     /* every free parameter N(0, 0.1^2) */
} gm_moe_init_kind;

/* Result flags. */
enum {
    GM_MOE_CONVERGED = 1,     /* relative change of the objective <= tol */
    GM_MOE_NONMONOTONE = 2,   /* the objective decreased by more than 1e-8 |ell| (a bug if it happens) */
    GM_MOE_DEGENERATE = 4,    /* max|coef| > degenerate_coef or a mean posterior < min_prior */
    GM_MOE_MAXITER = 8,       /* stopped at max_iter */
    GM_MOE_SINGULAR_INFO = 16 /* information matrix not positive definite */
};

typedef struct {
    size_t n_experts;        /* k (2) */
    gm_moe_gate gate;        /* (identity) */
    size_t n_restarts;       /* random restarts (10; 1..GM_MOE_MAX_RESTARTS); with a user init, restart 0 starts from it */
    gm_moe_init_kind init;   /* (random_partition) */
    size_t max_iter;         /* EM iterations per restart (5000) */
    double tol;              /* stop on |d obj| <= tol |obj| (1e-8) */
    size_t inner_max_iter;   /* Newton iterations per M-step block (300) */
    double ridge;            /* lambda on every free coefficient (1e-8); part of the objective */
    double max_abs_coef;     /* box on the coefficients (1e3) */
    double degenerate_coef;  /* DEGENERATE flag threshold (50) */
    double min_prior;        /* DEGENERATE when a component's mean posterior is below this (0.01) */
    int polish;              /* Newton polish on ell after EM (1) */
    uint64_t seed;           /* restart r uses Philox stream (GM_STREAM_INIT, r) of this seed */
} gm_moe_fit_config;
gm_moe_fit_config gm_moe_fit_config_default(void);

typedef struct gm_moe_fitter gm_moe_fitter;

/* Start one EM run: copies `init` (k, S, d, gate must match the config) or draws the start with the
 * restart's stream, then runs the first E-step. X and y are borrowed until gm_moe_fitter_free.
 * GM_EINVAL for bad sizes/labels (the message names the class or row), GM_ENOMEM. */
int gm_moe_fitter_create(gm_moe_fitter **out, const gm_moe_fit_config *cfg, const double *X, const int *y,
                         size_t n, size_t d, size_t n_classes, const gm_moe *init, size_t restart);
/* One EM iteration: M-step (gate softmax regression on the posteriors, then one weighted multinomial
 * regression per expert) and the E-step at the new parameters. GM_ENUMERIC on a non-finite objective. */
int gm_moe_fitter_iterate(gm_moe_fitter *f);
/* 1 when the relative change of the objective in the last iteration is <= tol, else 0. */
int gm_moe_fitter_test(const gm_moe_fitter *f);
/* Newton polish of the penalised log-likelihood (FD Hessian of the analytic gradient, step halving). */
int gm_moe_fitter_polish(gm_moe_fitter *f);
size_t gm_moe_fitter_iter(const gm_moe_fitter *f);
double gm_moe_fitter_loglik(const gm_moe_fitter *f);   /* ell at the current parameters */
double gm_moe_fitter_objective(const gm_moe_fitter *f); /* ell - ridge ||theta||^2 */
int gm_moe_fitter_flags(const gm_moe_fitter *f);       /* GM_MOE_* flags so far (DEGENERATE refreshed) */
const gm_moe *gm_moe_fitter_model(const gm_moe_fitter *f); /* borrowed */
const double *gm_moe_fitter_tau(const gm_moe_fitter *f);   /* borrowed n x k posteriors */
void gm_moe_fitter_free(gm_moe_fitter *f);

typedef struct {
    gm_moe model;           /* best restart (normalised) */
    double loglik;          /* ell of the best restart */
    double objective;       /* ell - ridge ||theta||^2 */
    double grad_norm;       /* max |d ell / d theta| at the best */
    size_t iterations;      /* EM iterations of the best restart */
    int flags;              /* GM_MOE_* of the best restart */
    size_t df, n;
    double aic, bic, icl;   /* -2 ell + 2 df, -2 ell + df log n, BIC - 2 sum tau log tau (smaller better) */
    size_t n_restarts, best_restart;
    double *restart_loglik; /* n_restarts entries */
    int *restart_flags;
} gm_moe_fit_result;

/* EM with restarts: keeps the best objective among non-degenerate restarts (degenerate ones only if all
 * are). `init` (nullable) is restart 0's start. GM_EINVAL (bad config/data), GM_ENOMEM, GM_ENUMERIC. */
int gm_moe_fit(const gm_moe_fit_config *cfg, const double *X, const int *y, size_t n, size_t d,
               size_t n_classes, const gm_moe *init, gm_moe_fit_result *res);
void gm_moe_fit_result_free(gm_moe_fit_result *res);

/* Check that labels are in 0..S-1 and every class has a row (message names the row or the class). */
int gm_moe_check_labels(const int *y, size_t n, size_t n_classes);

/* ---- data generation (identical to the R generator of the spec, section 7.1) ----------------- */

/* n observations with the LCG s' = 1664525 s + 1013904223 mod 2^32, u = (s + 0.5) / 2^32; observation t
 * uses d + 2 uniforms: x_tj = xr (-1 + 2u), then z (expert) and y (class) by inverse CDF. X (n x d),
 * y and z (nullable) are the caller's. GM_ENOMEM if its small work buffer cannot be allocated. */
int gm_moe_sample_lcg(const gm_moe *m, size_t n, uint32_t seed, double xr, double *X, int *y, int *z);

/* Draw (x, y) from the model with a Philox generator: x_tj ~ U[-xr, xr] (X is filled), then as
 * gm_moe_sample_y. X (n x d), y, z (nullable) are the caller's. */
int gm_moe_sample(const gm_moe *m, size_t n, double xr, gm_rng *rng, double *X, int *y, int *z);
/* Draw labels for given inputs X (n x d): z_t ~ Cat(pi(x_t)), y_t ~ Cat(f_{z_t}(. | x_t)), each by
 * inverse CDF of one uniform; z (nullable) receives the experts. */
int gm_moe_sample_y(const gm_moe *m, const double *X, size_t n, gm_rng *rng, int *y, int *z);

/* ---- model files (moe_io.c) ------------------------------------------------------------------ */

/* Names that travel with a model: its feature columns, the original values of the classes 0..S-1 and
 * the target column. Strings and arrays are owned (gm_moe_meta_free). */
typedef struct {
    size_t n_features;    /* = model dim */
    size_t n_classes;     /* = model n_classes */
    char **features;      /* n_features column names */
    double *class_values; /* n_classes values of the target column, class s <-> class_values[s] */
    char *target;         /* target column name ("" if unknown) */
} gm_moe_meta;
void gm_moe_meta_free(gm_moe_meta *meta); /* NULL-safe; zeroes *meta */

typedef enum { GM_MOE_FILE_JSON = 0, GM_MOE_FILE_SAFETENSORS = 1 } gm_moe_file_format;

/* "identity" / "sigmoid" / "tanh"; parse also accepts "standard" (identity) and "modified" (sigmoid);
 * returns -1 for another name. */
const char *gm_moe_gate_name(gm_moe_gate g);
int gm_moe_gate_parse(const char *s, gm_moe_gate *g);

/* Write m with its names (and, if res is non-NULL, the fit summary: loglik, df, n, AIC/BIC/ICL, ...; and
 * the seed) to path atomically. JSON: "format": "genmix-moe", gate[j][i], experts[i][j][s] (17 digits).
 * .safetensors: F64 tensors gate (p x k), experts (k x p x S), class_values (S), names and summary in
 * __metadata__. GM_EIO, GM_ENOMEM. */
int gm_moe_save(const char *path, gm_moe_file_format fmt, const gm_moe *m, const gm_moe_meta *meta,
                const gm_moe_fit_result *res, uint64_t seed);
/* Read a model written by gm_moe_save, in either format whatever the file is called (the content tells:
 * see gm_moe_detect_format). *m and *meta are overwritten (uninitialised is fine) and owned by the caller
 * on success, left empty on failure. GM_EIO (cannot read), GM_EFORMAT (message names the file), GM_ENOMEM. */
int gm_moe_load(const char *path, gm_moe *m, gm_moe_meta *meta);
/* The same from a buffer; `label` (nullable) names it in messages. */
int gm_moe_load_mem(const void *data, size_t len, const char *label, gm_moe *m, gm_moe_meta *meta);
/* SAFETENSORS if len >= 8 and byte 7 is 0 (a safetensors header length < 2^56), else JSON. */
gm_moe_file_format gm_moe_detect_format(const void *data, size_t len);

/* ---- choosing the number of experts ---------------------------------------------------------- */

typedef enum { GM_MOE_SELECT_BIC = 0, GM_MOE_SELECT_AIC = 1, GM_MOE_SELECT_ICL = 2 } gm_moe_criterion;

typedef struct {
    size_t k_max;            /* fits for k = 1..k_max */
    size_t best_k;           /* chosen k (1-based) */
    gm_moe_criterion criterion;
    gm_moe_fit_result *fits; /* k_max results, fits[k-1] (each owns its model) */
} gm_moe_select_result;

/* Fit k = 1..k_max experts (cfg->n_experts is ignored; k = 1 is the multinomial logit, no gate) and choose
 * the k with the smallest criterion among non-degenerate fits (among all fits if every one is degenerate;
 * ties go to the smaller k). GM_EINVAL (k_max < 1 or bad data), GM_ENOMEM, GM_ENUMERIC. */
int gm_moe_select(const gm_moe_fit_config *cfg, const double *X, const int *y, size_t n, size_t d,
                  size_t n_classes, size_t k_max, gm_moe_criterion criterion, gm_moe_select_result *res);
void gm_moe_select_result_free(gm_moe_select_result *res);
/* The criterion value of one fit. */
double gm_moe_criterion_value(const gm_moe_fit_result *r, gm_moe_criterion c);

/* ---- Voronoi losses -------------------------------------------------------------------------- */

typedef enum {
    GM_MOE_ALIGN_EXPERT_BLOCKS = 0, /* cells on (a, b), shift the gate by the reference cell, recompute */
    GM_MOE_ALIGN_NONE = 1           /* both models only normalised */
} gm_moe_align;

typedef struct {
    double r_single[3]; /* exponents for blocks (beta1, a, b) in singleton cells */
    double r_multi[3];  /* ... in cells with >= 2 fitted atoms */
    double c[3];        /* multipliers of the blocks */
    gm_moe_align align;
} gm_moe_voronoi_config;
/* D1: exponent 1 on singleton cells, 2 on multi-atom cells, c = 1, expert-block alignment. */
gm_moe_voronoi_config gm_moe_voronoi_d1(void);
/* D_{2,r}: exponent r on every block and cell. */
gm_moe_voronoi_config gm_moe_voronoi_d2r(double r);

typedef struct {
    double total;   /* mass + beta + a + b */
    double mass;    /* sum_j | sum_{i in A_j} e^{beta0_i} - e^{beta0*_j} | */
    double beta, a, b; /* parameter terms per block, weighted by e^{beta0_i} */
    double b_multi; /* the part of b from multi-atom cells (not identifiable in Regime 2) */
    double mass_multi, beta_multi, a_multi; /* the parts of mass, beta, a from multi-atom cells */
    size_t n_multi; /* number of true atoms whose cell has >= 2 fitted atoms */
    size_t n_empty; /* number of empty cells */
} gm_moe_voronoi;

/* Voronoi loss D(fit, truth) (same S, d, gate; any k). cell_of (nullable, fit->n_experts entries) gets
 * the true atom of each fitted atom. Ties go to the smallest true index; empty cells add e^{beta0*_j}. */
int gm_moe_voronoi_loss(const gm_moe *fit, const gm_moe *truth, const gm_moe_voronoi_config *cfg,
                        gm_moe_voronoi *out, size_t *cell_of);

/* OLS slope and intercept of log(y) on log(x) over the m points with x, y > 0. GM_EINVAL if < 2 points. */
int gm_loglog_slope(const double *x, const double *y, size_t m, double *slope, double *intercept);

/* ---- simulation study ------------------------------------------------------------------------ */

typedef struct {
    const gm_moe *truth;       /* k_* experts; its gate transform is used for data and fit */
    size_t k_fit;              /* fitted experts */
    double xr;                 /* x ~ U[-xr, xr] (1) */
    const double *ns;          /* sample sizes (n_grid) */
    size_t n_grid;
    size_t reps;               /* replications per n (40) */
    uint64_t seed;
    double init_sd_gate, init_sd_expert; /* nearTrue noise sd at n: sd * n^-0.083 (0.005, 0.05) */
    size_t random_restarts;    /* extra random-partition restarts besides nearTrue (0) */
    size_t split_atom;         /* nearTrue: SIZE_MAX (default) draws which true atoms the fitted atoms copy
                                  (spec 4.1); j < k_* makes every extra fitted atom copy true atom j, so the
                                  over-specified cell is around atom j in every replication */
    gm_moe_fit_config fit;     /* tol 1e-6, max_iter 2000, ridge 0, polish 0 (EM only, as the reference code) */
    gm_moe_voronoi_config loss;
} gm_moe_sim_config;
gm_moe_sim_config gm_moe_sim_config_default(void);

/* The spec's known-answer truths (k_* = 2, d = 1): design 'A' (section 7.2; S = 3, x in [-1, 1]) or 'B'
 * (section 7.3; S = 2, x in [-3, 3]). vanish != 0 sets expert 2's slopes to 0 (Regime 2); `gate` is the
 * gate transform. *m must be uninitialised; *xr (nullable) gets the x half-range. GM_EINVAL for another
 * design letter, GM_ENOMEM. */
int gm_moe_spec_design(gm_moe *m, char design, int vanish, gm_moe_gate gate, double *xr);

typedef struct {
    size_t n, rep;
    uint32_t data_seed;
    gm_moe_voronoi loss;       /* cfg->loss (D1 by default) */
    gm_moe_voronoi loss1;      /* D_{2,1}: exponent 1 on every block and cell, i.e. plain parameter errors
                                  (per-parameter rates: n^-1/2 singleton, n^-1/4 multi-atom cells) */
    double grad_norm;          /* max |d ell / d theta| at the returned fit (0 at an exact local maximum) */
    double loglik;
    size_t iterations;
    int flags;
} gm_moe_sim_record;

/* Run n_grid * reps fits (OpenMP over replications, schedule(static)); out has n_grid * reps records in
 * (grid, rep) order. Replication (g, r) uses the LCG seed hash(seed, g, r) for its data and Philox stream
 * (GM_STREAM_SIM, g * reps + r) for its nearTrue start, so results are identical for any thread count.
 * progress (nullable) is called after each finished grid point from one thread. */
int gm_moe_simulate(const gm_moe_sim_config *cfg, gm_moe_sim_record *out,
                    void (*progress)(size_t done, size_t total, void *ctx), void *ctx);
/* ---- summary of a simulation study (moe_sim.c) ----------------------------------------------- */

/* The quantities measured per fit: D1; D1 without the cell's b term; the plain (exponent 1) gate + expert
 * slope errors in the over-specified (multi-atom) cells (NaN if none); the D_{2,1} mass term; all plain
 * parameter errors in singleton cells. */
enum { GM_MOE_SIM_D1, GM_MOE_SIM_D1_NOB, GM_MOE_SIM_CELL, GM_MOE_SIM_MASS, GM_MOE_SIM_SINGLE, GM_MOE_SIM_NQ };
#define GM_MOE_SIM_MAX_GRID 64
/* "D1", "D1_without_cell_b", "cell_params", "mass", "singleton_params" */
const char *gm_moe_sim_quantity_name(int q);
void gm_moe_sim_quantities(const gm_moe_sim_record *rec, double out[GM_MOE_SIM_NQ]);

typedef struct {
    size_t n_grid, reps;
    double median[GM_MOE_SIM_NQ][GM_MOE_SIM_MAX_GRID]; /* over replications, NaN ignored (NaN if all are) */
    double mean[GM_MOE_SIM_NQ][GM_MOE_SIM_MAX_GRID];
    double slope_median[GM_MOE_SIM_NQ];       /* OLS slope of log median on log n, whole grid (NaN if < 2 points) */
    double intercept_median[GM_MOE_SIM_NQ];
    double slope_mean[GM_MOE_SIM_NQ];
    double slope_median_upper[GM_MOE_SIM_NQ]; /* ... on the upper half of the grid, g >= n_grid / 2 */
    size_t degenerate;                        /* fits flagged GM_MOE_DEGENERATE */
    double median_iterations_at_nmax;         /* median EM iterations at the largest n */
} gm_moe_sim_summary;
/* Summarise the n_grid * reps records of gm_moe_simulate (grid-major) over replications.
 * GM_EINVAL if n_grid is not in 2..GM_MOE_SIM_MAX_GRID or reps is 0; GM_ENOMEM. */
int gm_moe_sim_summarize(const gm_moe_sim_record *rec, const double *ns, size_t n_grid, size_t reps,
                         gm_moe_sim_summary *out);

/* The nearTrue start of the spec (section 4.1): fitted atoms copy random true atoms (all used, the last
 * fitted atom copies the reference), plus one scalar N(0, sd^2) per gate column / expert; m copies of one
 * true atom get the gate intercept beta0* - log m each (deviation from the reference code, which keeps
 * beta0* and so starts with m times the true mass in that cell). */
int gm_moe_init_near_true(const gm_moe *truth, size_t k_fit, double sd_gate, double sd_expert, uint64_t seed,
                          uint64_t stream, gm_moe *out);
/* As gm_moe_init_near_true, but with split_atom < k_* every fitted atom beyond the first k_* copies true
 * atom split_atom (fitted atoms 0..k_*-1 copy true atoms 0..k_*-1 in order, then the model is permuted so
 * the last fitted atom copies the reference); SIZE_MAX = the random draw of the spec. */
int gm_moe_init_near_true_split(const gm_moe *truth, size_t k_fit, double sd_gate, double sd_expert,
                                uint64_t seed, uint64_t stream, size_t split_atom, gm_moe *out);

#ifdef __cplusplus
}
#endif
#endif /* GM_MOE_H */
