/* SPDX-License-Identifier: MIT */
/* genmix/das.h — DAS (Diffusion Alignment as Sampling; Kim, Kim & Park, ICLR 2025): sample
 * p_tar(x) ∝ p_theta(x) exp(r(x)/alpha) from a diffusion model by tempered, twisted SMC; rewards; closed
 * forms of tilted Gaussian mixtures; baselines (SIR oracle, best-of-N, plain guidance, TDS, bootstrap).
 * The algorithm is the DAS spec §3.2 (/work/shared/specs/das.md); docs/das.md has usage and measurements.
 *
 * Usage:
 *     gm_das_config c = gm_das_config_default();  c.alpha = 1;  c.n_particles = 100;  c.n_steps = 100;
 *     gm_das *d;  gm_das_create(&d, &c, &schedule, &denoiser, &reward);
 *     while (!gm_das_done(d)) if ((rc = gm_das_step(d)) != GM_OK) ...;   // S moves + the final reweighting
 *     gm_das_weights(d, W);  gm_das_particles(d);  gm_das_log_evidence(d);  gm_das_trace(d);
 *     gm_das_free(d);
 *
 * This header joins two modules (smc.h: resampling/tempering; diffusion.h: schedule/denoiser) and is the
 * one public header that includes other modules' headers.
 * Randomness: particle k's noise at step i is Philox stream {GM_STREAM_PARTICLE, k}, counter word 3 = i + 1
 * (x_T: word 3 = 0); resampling as in smc.h. Results are bitwise identical for any thread count.
 * Ownership: gm_das borrows schedule, denoiser and reward (they must outlive it) and owns its particles,
 * weights and traces. Thread safety: one gm_das per owner; the denoiser and reward must accept
 * concurrent calls on disjoint rows only if the caller runs several gm_das at once.
 */
#ifndef GM_DAS_H
#define GM_DAS_H

#include "genmix/base.h"
#include "genmix/diffusion.h"
#include "genmix/smc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rewards --------------------------------------------------------------------------------- */

typedef struct {
    size_t dim;
    /* r[i] = r(x_i) for the n rows of x (n x dim); if grad != NULL also grad[i] = grad r(x_i) (n x dim).
     * A non-finite r[i] is allowed (that particle dies). Returns GM_OK or an error (message set). */
    int (*eval)(void *ctx, const float *x, size_t n, double *r, float *grad);
    int has_grad; /* eval accepts grad != NULL */
    void *ctx;
} gm_reward;

/* Closed-form toy rewards on R^dim (dim <= GM_TOY_REWARD_MAXD):
 *   quadratic  r(x) = -sum_d a_d (x_d - c_d)^2      spec "quad:a_1,..,a_D,c_1,..,c_D"
 *   linear     r(x) = sum_d b_d x_d                 spec "linear:b_1,..,b_D"
 *   "gmm1" = quad:0.01,1,0,0 (-x^2/100 - y^2);  "gmm2" = quad:1,0.1,0,1 (-x^2 - (y-1)^2/10). */
#define GM_TOY_REWARD_MAXD 64
typedef struct {
    int linear;
    size_t dim;
    double a[GM_TOY_REWARD_MAXD], c[GM_TOY_REWARD_MAXD], b[GM_TOY_REWARD_MAXD];
} gm_toy_reward;

/* Parse a spec for dimension dim; GM_EINVAL naming the spec if malformed or of the wrong length. */
int gm_toy_reward_parse(const char *spec, size_t dim, gm_toy_reward *out);
gm_reward gm_toy_reward_as_reward(gm_toy_reward *t); /* t must outlive the reward */

/* External rewards (gm_reward_ext_free releases either kind):
 *   command: "PROGRAM ARGS... {in} {out}" (split on spaces, no shell). Per call the rows are written to
 *     {in} as an N x D float32 .npy in a private temporary directory, the program runs, and {out} must
 *     hold N rewards (float64 .npy, shape (N,) or (N, 1); other float dtypes are converted). A non-zero
 *     exit, a missing/wrong-shape output or a non-finite reward is an error naming the command. No
 *     gradient (pair with grad none).
 *   plugin: a shared library exporting the genmix reward ABI v1 (C linkage):
 *       int genmix_reward_v1(const float *x, size_t n, size_t dim, double *r, float *grad);
 *         rows x (n x dim) -> rewards r[n]; if grad != NULL also d r / d x (n x dim); 0 = success.
 *       int genmix_reward_v1_has_grad(void);        optional: non-zero if grad is supported
 *       int genmix_reward_v1_init(size_t dim);      optional: called once; non-zero = refuse dim
 *     A plugin's non-finite reward kills that particle (as for built-in rewards). */
typedef struct gm_reward_ext gm_reward_ext;
int gm_reward_cmd_open(gm_reward_ext **out, const char *cmdline, size_t dim, gm_reward *rw);
int gm_reward_plugin_open(gm_reward_ext **out, const char *path, size_t dim, gm_reward *rw);
void gm_reward_ext_free(gm_reward_ext *e);

/* ---- closed forms (spec §7.1) ---------------------------------------------------------------- */

/* Classifier reward (spec §8): r(x) = log sum_{c in S} p(c | (x + 1)/2) with genmix's Fashion-MNIST
 * classifier (gm_clf checkpoint) on images x in [-1, 1]^784, and its input gradient through the CNN.
 * classes: comma-separated indices 0..9 or names (tshirt, trouser, pullover, dress, coat, sandal, shirt,
 * sneaker, bag, boot; case and punctuation ignored). parse takes "CLF.safetensors:CLASSES" (the last ':'
 * separates). GM_EINVAL for dim != 784, an unknown class or an empty set; load errors name the file. */
typedef struct gm_reward_clf gm_reward_clf;
int gm_reward_clf_open(gm_reward_clf **out, const char *clf_path, const char *classes, size_t dim, gm_reward *rw);
int gm_reward_clf_parse(gm_reward_clf **out, const char *spec, size_t dim, gm_reward *rw);
void gm_reward_clf_free(gm_reward_clf *r);

/* Tilt of the diagonal-covariance mixture g by exp(r/alpha) for a toy reward: log Z = log E_g[e^{r/alpha}],
 * tilted component weights w[k], means mean[k x dim], variances var[k x dim] (any output may be NULL) and
 * E_tar[r] (e_r, may be NULL). */
int gm_gmm_tilt(const gm_gmm *g, const gm_toy_reward *t, double alpha, double *log_z, double *w, double *mean,
                double *var, double *e_r);

/* ---- DAS ------------------------------------------------------------------------------------- */

typedef enum { GM_DAS_GRAD_FULL = 0, GM_DAS_GRAD_X0ONLY = 1, GM_DAS_GRAD_NONE = 2 } gm_das_grad;
typedef enum { GM_DAS_OUT_WEIGHTED = 0, GM_DAS_OUT_RESAMPLE = 1, GM_DAS_OUT_ARGMAX = 2 } gm_das_output;

int gm_das_grad_parse(const char *name, gm_das_grad *out); /* "full" | "x0only" | "none" */

typedef struct {
    int n_particles;          /* N >= 1 (default 16) */
    int n_steps;              /* S (default 100) */
    double alpha;             /* > 0 */
    gm_temper_mode temper;    /* default GM_TEMPER_EXP */
    double gamma;             /* <= 0: gm_temper_default_gamma(S) */
    double ess_threshold;     /* tau (0.5); >= 1 always resample; <= 0 never */
    double adapt_target_ess;  /* rho for GM_TEMPER_ADAPTIVE (0.5) */
    gm_resample_scheme scheme;/* default GM_RESAMPLE_SSP */
    gm_das_grad grad;         /* default GM_DAS_GRAD_FULL (needs den->eps_vjp; X0ONLY otherwise) */
    double eta;               /* 1 (DDPM posterior variance) */
    gm_spacing spacing;       /* GM_SPACING_LEADING */
    /* Baseline "plain reward guidance" (DPS-style): same proposal with g scaled by guidance_scale, no
     * weights, no resampling (log Ẑ is NaN). */
    int guidance_only;
    double guidance_scale;    /* 1 */
    /* Regression only: reproduce the official code's bug (krafton-ai/DAS#1): after resampling the guidance
     * and the twist keep their old order. Biased; never use it for results. */
    int debug_permutation_bug;
    uint64_t seed;
} gm_das_config;

gm_das_config gm_das_config_default(void);

typedef struct {
    int n;              /* entries filled: one per step, S moves + the final reweighting */
    double *lambda;     /* lambda_i used at step i (1 at the final reweighting) */
    double *ess;        /* ESS after the reweighting of step i (before resampling) */
    int *resampled;     /* 1 if step i resampled */
    double *log_z;      /* log Ẑ after step i */
} gm_das_trace;

typedef struct gm_das gm_das;

/* Validates everything (alpha > 0, N >= 1, steps vs schedule, reward/denoiser dims, grad mode vs
 * available gradients) before allocating. */
int gm_das_create(gm_das **out, const gm_das_config *cfg, const gm_diff_schedule *sch, const gm_denoiser *den,
                  const gm_reward *rw);
/* One step: i < S moves the particles (reweight, maybe resample, propose); i = S applies the exact terminal
 * reweighting exp(r(x0)/alpha). GM_ENUMERIC if every particle died (non-finite rewards). */
int gm_das_step(gm_das *d);
int gm_das_done(const gm_das *d);
void gm_das_free(gm_das *d);

size_t gm_das_size(const gm_das *d);
const float *gm_das_particles(const gm_das *d);   /* N x dim (x0 once done) */
const double *gm_das_rewards(const gm_das *d);    /* r(x0) of each particle once done */
void gm_das_weights(const gm_das *d, double *W);  /* normalised final weights */
double gm_das_log_evidence(const gm_das *d);      /* log Ẑ (NaN for guidance_only) */
const gm_das_trace *gm_das_get_trace(const gm_das *d);
int gm_das_n_resamples(const gm_das *d);
/* Denoiser forward/VJP and reward calls made so far (rows). */
void gm_das_costs(const gm_das *d, long *eps_rows, long *vjp_rows, long *reward_rows);
/* Weighted mean of the final rewards, sum_k W_k r(x0_k) (allocates nothing). */
double gm_das_mean_reward(const gm_das *d);
/* Weighted fraction of particles per mixture component (nearest by gm_gmm_assign) into w[0..g->k-1]. */
int gm_das_mode_weights(const gm_das *d, const gm_gmm *g, double *w);
/* Output per cfg.output once done: WEIGHTED copies the N particles (m = N); RESAMPLE draws m rows by
 * systematic resampling of the final weights (stream {GM_STREAM_PARTICLE, 2^55 + 1}); ARGMAX copies the
 * largest-weight particle m times. out is m x dim. */
int gm_das_output_samples(const gm_das *d, gm_das_output mode, size_t m, float *out);

/* ---- baselines ------------------------------------------------------------------------------- */

/* Reweighting oracle / SIR on M base samples x: W ∝ exp(r/alpha), log Z = log mean exp(r/alpha), its ESS,
 * and the rewards themselves (r, M entries; may be NULL). Non-finite rewards get weight 0. */
int gm_sir_oracle(const gm_reward *rw, const float *x, size_t M, double alpha, double *W, double *log_z,
                  double *ess, double *r);
/* Best-of-N: index of the largest reward among the n rows (first on ties). */
int gm_best_of_n(const gm_reward *rw, const float *x, size_t n, size_t *best, double *best_r);

#ifdef __cplusplus
}
#endif
#endif /* GM_DAS_H */
