/* SPDX-License-Identifier: MIT */
/* genmix/prdiv.h — precision–recall curves and PR-divergences (Verine et al. 2023; Sajjadi et al. 2018;
 * Simon et al. 2019): exact curves for given densities, estimators from samples, D_λ-PR, the
 * f-divergence-as-mixture identity, and the PR-GAN losses (spec /work/shared/specs/pr_divergence.md).
 *
 * Usage:
 *     double lam[3] = {0.1, 1, 10}, a[3], b[3];
 *     gm_prcurve_discrete(p, q, n, lam, 3, a, b);              // exact α_λ = Σ min(λp, q), β_λ = α_λ/λ
 *     gm_prcurve_config pc = gm_prcurve_config_default();      // classifier: 10 runs, median of logits
 *     gm_prcurve_estimate(&R, &F, GM_PRCURVE_KNN, &pc, lam, 3, a, b);
 *     double dpr = gm_prdiv_from_alpha(lam[1], a[1]);           // D_λ-PR = min(λ,1) − α_λ
 *
 * Conventions: P = real/target (density p), Q = fake/model (density q), r = p/q; every API takes (real,
 * fake) in that order. α_λ = ∫ min(λp, q) (precision), β_λ = α_λ/λ (recall); λ > 0 (finite).
 * Estimators (all return an α̂/β̂ curve on the caller's λ grid):
 *   GM_PRCURVE_CLASSIFIER  Simon et al.: each set is split in halves by a per-row coin flip; `runs`
 *     classifiers (logit > 0 = real; linear, or one hidden ReLU layer) are trained with BCE + Adam (L2
 *     weight decay) on the training halves; α̂_λ = min_t [λ·P̂(s < t) + Q̂(s ≥ t)] over thresholds t of the
 *     median (over runs) logit s on the test halves. An upper bound of α_λ in expectation for a fixed
 *     classifier; the minimum over thresholds makes it slightly optimistic on small test sets.
 *   GM_PRCURVE_KNN  k-NN density ratio: p̂, q̂ ∝ k / (n ρ_k^d) (ρ_k = k-th neighbour distance, self
 *     excluded within a set, n − 1 in that case), r̂ = p̂/q̂, α̂ = ½ mean_Q min(λr̂, 1) + ½ mean_P min(λ, 1/r̂),
 *     clamped to min(λ, 1) (r̂ is not normalised). Consistent as n → ∞ with k → ∞, k/n → 0; biased at fixed k
 *     in high dimension.
 *   GM_PRCURVE_HIST  Sajjadi's PRD (gm_prd: k-means on the union, 1001 angles, runs averaged), read at each
 *     λ by linear interpolation between the two neighbouring angles (the histogram curve is piecewise
 *     linear in λ, so this is exact except within one angle step of a kink).
 * Ownership: inputs borrowed; outputs caller-owned arrays of n_lambda doubles.
 * Errors: GM_EINVAL (λ ≤ 0 or not finite, empty sets, k too large, bad config), GM_ESHAPE (dimensions
 * differ), GM_ENOMEM, GM_ENUMERIC (non-finite scores). The library never exits.
 * Thread safety: no shared state; results do not depend on the thread count (fixed-order reductions).
 */
#ifndef GM_PRDIV_H
#define GM_PRDIV_H

#include <stddef.h>
#include <stdint.h>

#include "genmix/base.h"
#include "genmix/eval.h"   /* gm_feats, gm_prd_config */
#include "genmix/models.h" /* gm_params (flows) */
#include "genmix/tape.h"   /* loss and flow ops */

#ifdef __cplusplus
extern "C" {
#endif

/* ==== exact curves ================================================================================ */

/* f_λ(u) = max(λu, 1) − max(λ, 1). */
double gm_prdiv_f(double lambda, double u);
/* D_λ-PR = min(λ, 1) − α_λ (the theorem of spec §1.3). */
double gm_prdiv_from_alpha(double lambda, double alpha);
/* Check a λ grid: every entry finite and > 0 (GM_EINVAL naming the first bad entry). */
int gm_prcurve_check_lambdas(const double *lambdas, size_t n_lambda);

/* Discrete densities (non-negative, each summing to 1 within 1e-6): α_λ = Σ min(λ p_i, q_i). */
int gm_prcurve_discrete(const double *p, const double *q, size_t n, const double *lambdas, size_t n_lambda,
                        double *alpha, double *beta);
/* Densities tabulated on a uniform grid with cell volume h (1-D step, 2-D step², ...): α_λ = h Σ min(λp, q)
 * (midpoint rule; use cell centres). No normalisation check (truncated tails are the caller's business). */
int gm_prcurve_grid(const double *p, const double *q, size_t n, double h, const double *lambdas,
                    size_t n_lambda, double *alpha, double *beta);
/* Two 1-D Gaussians P = N(mp, sp²), Q = N(mq, sq²): exact α_λ from the roots of log(λp/q) (a quadratic). */
double gm_prcurve_gauss1d(double mp, double sp, double mq, double sq, double lambda);
/* D_λ-PR of the same pair by its hockey-stick form (λ ≥ 1: ∫(q − λp)₊; λ < 1: ∫(λp − q)₊), accurate in
 * relative terms far into the tails (where min(λ,1) − α would cancel). */
double gm_prdiv_gauss1d(double mp, double sp, double mq, double sq, double lambda);

/* ==== from log density ratios ====================================================================== */
/* lr_fake[j] = log r(y_j) at fake samples, lr_real[i] = log r(x_i) at real samples (either may be NULL
 * with count 0, not both): α̂_Q = mean_j min(λ e^{lr}, 1), α̂_P = mean_i min(λ, e^{−lr}) (both unbiased
 * for α_λ, spec V9a); α = their average when both are given. alpha_q / alpha_p may be NULL. */
int gm_prcurve_from_logratio(const double *lr_real, size_t n_real, const double *lr_fake, size_t n_fake,
                             const double *lambdas, size_t n_lambda, double *alpha, double *beta,
                             double *alpha_p, double *alpha_q);
/* Classifier characterisation from scores (higher = more real): α̂_λ = min_t [λ·#{s_real < t}/n_real +
 * #{s_fake ≥ t}/n_fake] over all thresholds (including ±∞). */
int gm_prcurve_from_scores(const double *s_real, size_t n_real, const double *s_fake, size_t n_fake,
                           const double *lambdas, size_t n_lambda, double *alpha, double *beta);

/* ==== estimators from samples ===================================================================== */
typedef enum { GM_PRCURVE_CLASSIFIER = 0, GM_PRCURVE_KNN = 1, GM_PRCURVE_HIST = 2 } gm_prcurve_estimator;
/* "classifier", "knn", "hist" (NULL / -1 when unknown). */
const char *gm_prcurve_estimator_name(gm_prcurve_estimator e);
int gm_prcurve_estimator_from_name(const char *name);

typedef struct {
    /* classifier */
    size_t runs;         /* 10 */
    size_t epochs;       /* 10 */
    size_t batch;        /* 128 */
    double lr;           /* 1e-3 (Adam) */
    double weight_decay; /* 0.1 (L2, Simon et al.) */
    size_t hidden;       /* 0: linear classifier; > 0: one hidden ReLU layer of that width */
    int bias;            /* 1: the linear layer(s) have a bias (Simon et al. use none on Inception features) */
    /* k-NN */
    size_t k;            /* 5 */
    /* histogram */
    gm_prd_config prd;   /* gm_prd_config_default() */
    uint64_t seed;       /* 0 */
} gm_prcurve_config;
gm_prcurve_config gm_prcurve_config_default(void);

int gm_prcurve_estimate(const gm_feats *real, const gm_feats *fake, gm_prcurve_estimator est,
                        const gm_prcurve_config *cfg, const double *lambdas, size_t n_lambda, double *alpha,
                        double *beta);
/* The estimators one by one (same contract). */
int gm_prcurve_classifier(const gm_feats *real, const gm_feats *fake, const gm_prcurve_config *cfg,
                          const double *lambdas, size_t n_lambda, double *alpha, double *beta);
int gm_prcurve_knn(const gm_feats *real, const gm_feats *fake, size_t k, const double *lambdas, size_t n_lambda,
                   double *alpha, double *beta);
int gm_prcurve_hist(const gm_feats *real, const gm_feats *fake, const gm_prd_config *prd, const double *lambdas,
                    size_t n_lambda, double *alpha, double *beta);
/* Log density ratios log p̂/q̂ of the k-NN estimator at each real and fake row (caller arrays). */
int gm_prcurve_knn_logratio(const gm_feats *real, const gm_feats *fake, size_t k, double *lr_real,
                            double *lr_fake);

/* ==== f-divergences as mixtures of PR-divergences (spec §1.4) ===================================== */
typedef enum {
    GM_FDIV_KL = 0,      /* KL(P‖Q), f = u log u, w = 1/λ² */
    GM_FDIV_RKL,         /* KL(Q‖P), f = −log u, w = 1/λ */
    GM_FDIV_PEARSON,     /* ∫(p−q)²/q, w = 2/λ³ */
    GM_FDIV_NEYMAN,      /* ∫(p−q)²/p, w = 2 */
    GM_FDIV_HELLINGER,   /* ∫(√p−√q)², w = ½ λ^(−3/2) */
    GM_FDIV_JS2,         /* 2·JS, w = 1/(λ(1+λ)) */
    GM_FDIV_COUNT
} gm_fdiv;
const char *gm_fdiv_name(gm_fdiv f);
/* f(u) and the mixture weight w_f(λ) = f″(1/λ)/λ³. */
double gm_fdiv_f(gm_fdiv f, double u);
double gm_fdiv_weight(gm_fdiv f, double lambda);
/* D_f(P‖Q) = Σ q f(p/q) of discrete densities (terms with q = 0 or p = 0 use the limits; +∞ possible). */
double gm_fdiv_discrete(gm_fdiv f, const double *p, const double *q, size_t n);
/* ∫ w_f(λ) D_λ dλ = ∫ w_f(e^s) e^s D(e^s) ds over s ∈ [s_lo, s_hi] by composite Simpson with n_panels
 * panels of equal width (a kink of D at λ = 1 is exact when s = 0 is a panel edge). D(λ, ctx) supplies
 * D_λ-PR. GM_EINVAL for a bad interval/panel count, GM_ENUMERIC when D returns NaN. */
typedef double (*gm_prdiv_fn)(double lambda, void *ctx);
int gm_prdiv_mixture(gm_fdiv f, gm_prdiv_fn D, void *ctx, double s_lo, double s_hi, size_t n_panels,
                     double *out);

/* ==== GAN losses (spec §2.1–2.2; prdiv_loss.c) ====================================================== */
/* Objectives of `genmix train gan --objective`: PR (χ² critic + the PR generator loss), the f-GAN
 * baselines CHI2 / KL / RKL, HINGE, and PR_DUAL (dual of D_λ-PR, baseline only). */
/* PR_KL: the PR generator loss on the KL critic's ratio r = e^(v−1) (spec §1.5 / §2.1 table, auxiliary
 * KL instead of the paper's χ²), critic trained with the KL loss; no ratio clamp, so the PR loss has a
 * (small) gradient at every fake with λr < 1 instead of none for v <= −2. */
/* PR_NOFLOOR ("pr-nofloor"; a genmix variant, NOT the released code): the PR generator loss with the fakes'
 * ratio r = min(v, 5)/2 + 1, i.e. the χ² estimate without its lower clamp, so min(λr, 1) = λr continues
 * linearly below v = −2 and every fake with v < min(2/λ − 2, 5) gets ∂L_G/∂v_f = −(λ+1)/(8B) (the
 * released loss gives fakes at v <= −2 none); identical to PR for v > −2. Critic: the released χ² loss;
 * real rows and the reported α̂/β̂ use the released (clamped) ratio. */
typedef enum { GM_GAN_PR = 0, GM_GAN_CHI2, GM_GAN_KL, GM_GAN_RKL, GM_GAN_HINGE, GM_GAN_PR_DUAL, GM_GAN_PR_KL, GM_GAN_PR_NOFLOOR, GM_GAN_COUNT } gm_gan_objective;
const char *gm_gan_objective_name(gm_gan_objective o);
int gm_gan_objective_from_name(const char *name); /* -1 when unknown */
/* Ratio estimate of the χ² critic: r = clamp(v, −2, 5)/2 + 1 ∈ [0, 3.5]. */
double gm_prdiv_chi2_ratio(double v);
/* 1 for the PR objectives (PR, PR_KL, PR_NOFLOOR); the critic loss each objective trains with (PR and
 * PR_NOFLOOR: CHI2, PR_KL: KL, others: themselves); the ratio estimate r(v) a PR objective's generator loss
 * uses for fakes and dr/dv in *dr (may be NULL; χ²: 0 outside the clamps; PR_NOFLOOR: 0.5 for v < 5, r < 0
 * for v < −2). */
int gm_gan_is_pr(gm_gan_objective o);
gm_gan_objective gm_gan_critic_objective(gm_gan_objective o);
double gm_gan_ratio(gm_gan_objective o, double v, double *dr);
/* Critic loss (minimised) of critic outputs v_r(nr) on real and v_f(nf) on fake rows (PR uses the χ²
 * critic). backward: dv_r += dloss ∂L/∂v_r, dv_f += dloss ∂L/∂v_f (NULL skips). Kinks (clamps) take the
 * one-sided derivative of the inactive branch (0 beyond the clamp). */
void gm_gan_critic_loss_forward(float *loss, const float *v_r, size_t nr, const float *v_f, size_t nf,
                                gm_gan_objective obj, float lambda);
void gm_gan_critic_loss_backward(float *dv_r, float *dv_f, const float *dloss, const float *v_r, size_t nr,
                                 const float *v_f, size_t nf, gm_gan_objective obj, float lambda);
/* Generator loss. PR: L = −½α̂ − ½β̂ with α̂ = mean_f ½min(λr_f, 1) + mean_r ½min(1/r_r, λ), β̂ =
 * mean_f ½min(r_f, 1/λ) + mean_r ½min(1/(λr_r), 1) (ab[0] = α̂, ab[1] = β̂ when ab != NULL; other
 * objectives leave ab alone and ignore v_r). PR_NOFLOOR: the same L with the floor-free r_f (so L is no
 * longer −½α̂ − ½β̂ once a fake is below v = −2), ab the released χ² estimates. backward: exact
 * derivatives in both v_f and v_r. */
void gm_gan_gen_loss_forward(float *loss, float *ab, const float *v_f, size_t nf, const float *v_r, size_t nr,
                             gm_gan_objective obj, float lambda);
void gm_gan_gen_loss_backward(float *dv_f, float *dv_r, const float *dloss, const float *v_f, size_t nf,
                              const float *v_r, size_t nr, gm_gan_objective obj, float lambda);
/* Tape ops: scalar losses of critic outputs v_r(nr,1), v_f(nf,1). For the generator, v_r may be NULL for
 * objectives other than PR; ab (may be NULL) receives α̂, β̂ of the PR loss. */
gm_var *gm_op_gan_critic_loss(gm_tape *t, gm_var *v_r, gm_var *v_f, gm_gan_objective obj, float lambda);
gm_var *gm_op_gan_gen_loss(gm_tape *t, gm_var *v_f, gm_var *v_r, gm_gan_objective obj, float lambda, float *ab);

/* ==== RealNVP flow (affine couplings, prdiv_flow.c) ================================================ */
/* D-dimensional flow of n_layers affine couplings with alternating masks (even dims kept in layer 0,
 * odd in layer 1, ...), conditioner MLP D -> hidden -> hidden -> 2D with tanh, log-scales scale·tanh(·).
 * Generative direction x = g(z), z ~ N(0, I); density log q(x) = log N(g⁻¹(x)) + log|det ∂g⁻¹/∂x|.
 * Parameters in one gm_params table (names "c<k>.<layer>.weight|bias"). */
typedef struct gm_flow gm_flow;
struct gm_flow {
    size_t D, n_layers, hidden;
    float scale;    /* log-scale bound (2) */
    gm_params params;
    float *masks;   /* n_layers x D */
    float *ones;    /* D ones (row sums) */
};
int gm_flow_create(gm_flow **out, size_t D, size_t n_layers, size_t hidden, uint64_t seed);
void gm_flow_free(gm_flow *f);
/* Uniform(±1/sqrt(fan_in)) init of every tensor from (GM_STREAM_INIT, 0); zero_last = 1 zeroes each
 * conditioner's output layer (the flow starts as the identity). */
void gm_flow_init(gm_flow *f, uint64_t seed, int zero_last);
/* x = g(z) on the tape; *logdet (B,1) = log|det ∂g/∂z| (may be NULL). frozen = 1: no parameter gradients. */
gm_var *gm_flow_forward(gm_flow *f, gm_tape *t, gm_var *z, gm_var **logdet, int frozen);
/* z = g⁻¹(x); *logdet (B,1) = log|det ∂g⁻¹/∂x|. */
gm_var *gm_flow_inverse(gm_flow *f, gm_tape *t, gm_var *x, gm_var **logdet, int frozen);
/* log q(x) (B,1). */
gm_var *gm_flow_logprob(gm_flow *f, gm_tape *t, gm_var *x, int frozen);

/* ==== 2-D toy data (spec §4.2) ===================================================================== */
typedef enum { GM_TOY_8GAUSS = 0, GM_TOY_25GAUSS = 1, GM_TOY_8GAUSS_WIDE = 2 } gm_toy;
/* "toy:8gaussians" / "toy:25gaussians" / "toy:8gaussians-wide" (the ring with σ 0.2, spec §4.2's
 * alternative) (or without the "toy:" prefix); -1 when unknown. */
int gm_toy_from_name(const char *name);
const char *gm_toy_name(gm_toy toy);
/* n points (n x 2): 8 Gaussians on a ring of radius 2 (σ 0.1; -wide: σ 0.2), or 25 on the grid {−2..2}² (σ 0.05),
 * equal weights; the mode of row i is drawn with the point. Philox stream (seed, stream). */
void gm_toy_sample(gm_toy toy, float *x, size_t n, uint64_t seed, uint64_t stream);
/* Exact density of the toy at (x, y) and its modes (centres[2·k], count returned; sigma in *sd). */
double gm_toy_density(gm_toy toy, double x, double y);
size_t gm_toy_modes(gm_toy toy, double *centres, double *sd);

/* ==== GAN trainer (spec §2.2; prdiv_gan.c) — state machine create / step / free ==================== */
typedef struct {
    gm_gan_objective objective; /* GM_GAN_PR */
    float lambda;               /* 1 */
    size_t dim_z;               /* 8 */
    size_t hidden;              /* 128 (G and critic: two hidden layers) */
    size_t batch;               /* 128 */
    size_t n_critic;            /* 4 critic steps per generator step */
    float lr_g, lr_d;           /* 2e-4 */
    float beta1, beta2, eps;    /* 0, 0.999, 1e-8 */
    float ema_decay;            /* 0.999 (spec: 0.9999 for 10^5-iteration image runs) */
    int64_t ema_start;          /* 500: before it the EMA copies G */
    int spectral_norm;          /* 1: every critic layer, one power iteration */
    float critic_gain;          /* critic output v = gain * MLP(x) (1 = spec §2; with spectral norm the critic is
                                   gain-Lipschitz, which bounds how far v can spread on a 2-D toy) */
    int64_t pretrain;           /* 0: generator steps with the χ² f-GAN loss before `objective` (fine-tuning,
                                   as spec §2.3 / §7 do; needed for large λ, whose PR loss ignores fakes
                                   the critic already rejects) */
    gm_toy data;
    uint64_t seed;
} gm_gan_config;
gm_gan_config gm_gan_config_default(void);

typedef struct gm_gan gm_gan;
typedef struct {
    int64_t step;            /* generator steps done */
    float loss_d, loss_g;    /* of the last step (loss_d: the last critic step) */
    float alpha_hat, beta_hat; /* PR estimates of the last generator batch (χ²-ratio, spec §2.2) */
    float acc_real, acc_fake;  /* % v_r > thr, 100 − % v_f > thr (thresholds of spec §2.2) */
    /* diagnostics of the last generator batch (any objective; the PR rule of spec §2.2 at cfg.lambda):
     * fraction of fakes at the χ² clamp (v_f <= −2, zero PR gradient except with pr-nofloor), fraction with a
     * non-zero PR gradient (−2 < v_f < 5 and λ r̂ < 1, i.e. v_f < 2/λ − 2; for pr-nofloor every
     * v_f < min(2/λ − 2, 5), the clamped ones included), and the 5 %, 50 %, 95 % quantiles of the fakes'
     * critic outputs (nearest rank) */
    float frac_clamped, frac_active, vf_q05, vf_median, vf_q95;
} gm_gan_status;

int gm_gan_create(gm_gan **out, const gm_gan_config *cfg);
void gm_gan_free(gm_gan *g);
/* One iteration: n_critic critic steps then one generator step and the EMA update. Data and noise of
 * iteration i come from Philox streams keyed by i, so a resumed run is bitwise identical.
 * GM_ENUMERIC if a loss is not finite. */
int gm_gan_step(gm_gan *g, gm_gan_status *st);
/* n samples (n x 2) of the EMA generator (ema = 0: the raw generator) from stream (seed, stream). */
int gm_gan_sample(gm_gan *g, float *x, size_t n, int ema, uint64_t stream);
/* Critic outputs v at n points x (n x 2). */
int gm_gan_critic(gm_gan *g, const float *x, size_t n, float *v);
const gm_gan_config *gm_gan_get_config(const gm_gan *g);
int64_t gm_gan_get_step(const gm_gan *g);
/* Fine-tuning a (loaded) run from its current step on: takes objective, lambda, n_critic, lr_g and lr_d
 * from cfg and keeps everything else (architecture, data, seed, EMA, networks, optimiser states, step).
 * GM_EINVAL (state unchanged) for an unknown objective, λ <= 0 or a bad rate/count; GM_ENOMEM. */
int gm_gan_reconfigure(gm_gan *g, const gm_gan_config *cfg);
/* Checkpoint (.safetensors via gm_checkpoint_save): G, D, EMA, spectral-norm vectors, both Adam states,
 * step and the config. load checks that the file is a "gan" checkpoint of the same architecture and
 * restores everything (GM_EFORMAT naming the file otherwise). */
int gm_gan_save(const gm_gan *g, const char *path);
int gm_gan_load(gm_gan **out, const char *path);

/* ==== flow trainer on 2-D toys (spec §3; prdiv_flowtrain.c) — create / step / free ================== */
typedef enum { GM_FLOW_MLE = 0, GM_FLOW_PR = 1 } gm_flow_objective;
typedef struct {
    gm_flow_objective objective; /* GM_FLOW_PR */
    char procedure;              /* 'C' (known target density, pathwise), 'B' (weighted MLE, exact ratio) or 'A'
                                    (adversarial: χ² critic 2 -> hidden -> hidden -> 1, LeakyReLU 0.2, no spectral
                                    norm, Adam β1 = 0 at lr; the PR generator loss of spec §2.2 through x = g(z)) */
    float lambda;                /* 1 */
    size_t n_layers, hidden;     /* 6, 64 */
    size_t batch;                /* 256 */
    float lr;                    /* 1e-3 (Adam) */
    int64_t pretrain;            /* MLE steps before the PR objective (500) */
    size_t n_critic;             /* procedure A: critic steps per step, also during pre-training (4) */
    gm_toy data;
    uint64_t seed;
} gm_flowtrain_config;
gm_flowtrain_config gm_flowtrain_config_default(void);
typedef struct gm_flowtrain gm_flowtrain;
int gm_flowtrain_create(gm_flowtrain **out, const gm_flowtrain_config *cfg);
void gm_flowtrain_free(gm_flowtrain *f);
/* One Adam step; *loss receives the minimised value (NULL ok). Data/noise keyed by the step number. */
int gm_flowtrain_step(gm_flowtrain *f, double *loss);
int64_t gm_flowtrain_get_step(const gm_flowtrain *f);
gm_flow *gm_flowtrain_flow(gm_flowtrain *f);
const gm_flowtrain_config *gm_flowtrain_get_config(const gm_flowtrain *f);
int gm_flowtrain_save(const gm_flowtrain *f, const char *path);
int gm_flowtrain_load(gm_flowtrain **out, const char *path);
/* n samples x = g(z) of a flow (n x 2), z from stream (seed, stream). */
int gm_flow_sample(gm_flow *f, float *x, size_t n, uint64_t seed, uint64_t stream);
/* log q at n points (n x D) -> lq (double). */
int gm_flow_logprob_eval(gm_flow *f, const float *x, size_t n, double *lq);
/* α_λ of the flow against the toy with exact densities (spec V9a): α_Q = mean over n flow samples of
 * min(λ p/q, 1), α_P = mean over n data samples of min(λ, q/p); alpha = their average. */
int gm_flow_toy_alpha(gm_flow *f, gm_toy toy, const double *lambdas, size_t n_lambda, size_t n, uint64_t seed,
                      double *alpha, double *alpha_p, double *alpha_q);

/* ==== conv GAN on 28×28 grey images (Fashion-MNIST; prdiv_gan_conv.c) — create / step / free ============ */
/* Generator: z(dim_z) -> linear 2W·7·7 -> group norm, ReLU -> transposed conv 4/2/1 to W×14×14 -> group norm,
 * ReLU -> transposed conv 4/2/1 to 1×28×28 -> tanh (W = g_width). Critic: conv 4/2/1 1 -> Wd, LeakyReLU 0.2,
 * conv 4/2/1 Wd -> 2Wd, LeakyReLU 0.2, linear 2Wd·49 -> 1 (Wd = d_width), spectral norm on all three
 * (one power iteration per critic call). Training as gm_gan (spec §2.2). Images enter (gm_cgan_set_data)
 * and leave (gm_cgan_sample) as n × 784 floats in [0, 1]; the networks see 2x − 1. */
typedef struct {
    gm_gan_objective objective; /* GM_GAN_PR */
    float lambda;               /* 1 */
    size_t dim_z;               /* 64 */
    size_t g_width, d_width;    /* 32, 32 */
    size_t groups;              /* 8: group-norm groups (divides g_width) */
    size_t batch;               /* 64 */
    size_t n_critic;            /* 2 */
    float lr_g, lr_d;           /* 2e-4 */
    float beta1, beta2, eps;    /* 0, 0.999, 1e-8 */
    float ema_decay;            /* 0.999 */
    int64_t ema_start;          /* 500 */
    int spectral_norm;          /* 1 */
    int64_t pretrain;           /* generator steps with the χ² f-GAN loss before `objective` (0) */
    uint64_t seed;
} gm_cgan_config;
gm_cgan_config gm_cgan_config_default(void);
typedef struct gm_cgan gm_cgan;
int gm_cgan_create(gm_cgan **out, const gm_cgan_config *cfg);
void gm_cgan_free(gm_cgan *g);
/* Borrow n training images (n × 784 in [0, 1]; must outlive the steps). */
int gm_cgan_set_data(gm_cgan *g, const float *images, size_t n);
/* Change the objective and λ (fine-tuning a pre-trained model; GM_EINVAL for λ <= 0 or an unknown one). */
int gm_cgan_set_objective(gm_cgan *g, gm_gan_objective obj, float lambda);
/* Change the EMA decay (fine-tuning: a shorter average forgets the pre-trained generator; GM_EINVAL outside [0, 1)). */
int gm_cgan_set_ema(gm_cgan *g, float decay);
/* One iteration (n_critic critic steps, one generator step, EMA); rows of iteration i: uniform with
 * replacement from Philox (seed, DATA, i·n_critic + s). GM_ENUMERIC if a loss is not finite. */
int gm_cgan_step(gm_cgan *g, gm_gan_status *st);
/* n images (n × 784 in [0, 1]) of the EMA generator (ema = 0: raw) from noise stream (seed, stream). */
int gm_cgan_sample(gm_cgan *g, float *x, size_t n, int ema, uint64_t stream);
const gm_cgan_config *gm_cgan_get_config(const gm_cgan *g);
int64_t gm_cgan_get_step(const gm_cgan *g);
/* Checkpoint (model "gan-conv"): G, D, EMA, SN vectors, both Adam states, step, config. load refuses a
 * checkpoint of another model (GM_EFORMAT naming the file). */
int gm_cgan_save(const gm_cgan *g, const char *path);
int gm_cgan_load(gm_cgan **out, const char *path);


/* ==== multi-scale RealNVP on images (Fashion-MNIST; prdiv_iflow.c) — create / step / free ============== */
/* Pre-processing (RealNVP, Dinh et al. 2017): pixel = round(255 v) of an image value v ∈ [0, 1], uniform
 * dequantisation x = (pixel + u)/256 with u ~ U[0, 1) per pixel, then the logit y = logit(a + (1 − 2a)x), a = alpha
 * (0.05); its log-determinant Σ log((1 − 2a) / (p(1 − p))), p = a + (1 − 2a)x, is part of log p(x).
 * Flow y -> z (normalising direction; sampling runs it backwards): for each of n_scales scales, n_couplings
 * affine couplings with checkerboard masks on (C, H, W), squeeze to (4C, H/2, W/2) (PyTorch pixel_unshuffle
 * order), n_couplings couplings with channel masks (first/second half kept, alternating), then the second half
 * of the channels is factored out into z; finally n_couplings checkerboard couplings. Each coupling's scale
 * and shift come from conv3×3(C -> hidden), n_res residual blocks h + conv(silu(conv(silu h))), silu,
 * conv3×3(hidden -> 2C) (s first, zero-initialised so the flow starts as the identity), s = scale·tanh(raw).
 * z = [factored pieces in scale order | final tensor], each flattened (C, H, W)-major; prior N(0, I).
 * Densities: log p(x) = log N(z) + log|det ∂z/∂y| + pre-processing log-det (nats, density of the dequantised
 * x on [0, 1)^D); bits/dim = −log p(x)/(D ln 2) + 8 (the usual convention: 8 bits for the 256 levels).
 * Training: MLE (mean bits/dim of a batch), Adam, gradient-norm clip; the rows of step i are positions
 * i·B … i·B + B − 1 of per-epoch Philox permutations (seed, DATA, epoch), the noise u of image j in epoch e
 * is Philox (seed, NOISE, e·2³² + j): a resumed run is bitwise identical. Tensor names "c<i>.in.weight",
 * "c<i>.res<r>.a.bias", "c<i>.out.weight", … (coupling i in the y -> z order; PyTorch conv layouts).
 * Errors: GM_EINVAL (bad config, images outside [0, 1]), GM_ESHAPE (H, W not divisible by 2^n_scales),
 * GM_EFORMAT (checkpoint of another model), GM_ENUMERIC (loss NaN/Inf), GM_ENOMEM.
 * Thread safety: one gm_iflow per thread for training; logprob/sample use their own tapes (read-only). */
typedef struct {
    size_t channels, height, width; /* 1, 28, 28 */
    size_t n_scales;                /* 2 */
    size_t n_couplings;             /* 3 per group */
    size_t hidden;                  /* 32 conv channels */
    size_t n_res;                   /* 1 residual block per coupling net */
    float scale;                    /* 2: log-scale bound */
    float alpha;                    /* 0.05 */
    size_t batch;                   /* 64 */
    float lr;                       /* 1e-3 (Adam) */
    float clip;                     /* 100: gradient-norm clip of the bits/dim loss (0 = none) */
    uint64_t seed;
    /* PR-divergence by procedure B (spec §3, weighted MLE): objective GM_FLOW_PR; after `pretrain` MLE steps the
     * batch rows are weighted by w = f_λ′(r̂) − f_λ(r̂)/r̂ (clipped to [0, 100], self-normalised to mean 1), r̂ =
     * clamp(v, −2, 5)/2 + 1 of a χ² critic (conv 4/2/1 C -> Wc, LeakyReLU 0.2, conv 4/2/1 -> 2Wc, LeakyReLU 0.2,
     * linear -> 1; no spectral norm; Adam β1 = 0, β2 0.999) that takes n_critic steps per step (also during the
     * pre-training) on fresh data rows against flow samples. Needs H, W divisible by 4. */
    gm_flow_objective objective; /* GM_FLOW_MLE */
    float lambda;                /* 1 */
    int64_t pretrain;            /* 0 */
    size_t n_critic;             /* 1 */
    size_t critic_width;         /* 16 */
    float lr_critic;             /* 1e-3 */
} gm_iflow_config;
gm_iflow_config gm_iflow_config_default(void);
typedef struct gm_iflow gm_iflow;
int gm_iflow_create(gm_iflow **out, const gm_iflow_config *cfg);
void gm_iflow_free(gm_iflow *f);
/* Uniform(±1/sqrt(fan_in)) init from (GM_STREAM_INIT, 0); zero_last = 1 zeroes every output conv (identity). */
void gm_iflow_init(gm_iflow *f, uint64_t seed, int zero_last);
const gm_iflow_config *gm_iflow_get_config(const gm_iflow *f);
int64_t gm_iflow_get_step(const gm_iflow *f);
size_t gm_iflow_dim(const gm_iflow *f); /* D = C·H·W */
gm_params *gm_iflow_params(gm_iflow *f);
/* Borrow n training images (n × D in [0, 1]; must outlive the steps). */
int gm_iflow_set_data(gm_iflow *f, const float *images, size_t n);
/* One step (MLE, or PR: n_critic critic steps then the weighted MLE step); *bpd (may be NULL) receives the
 * batch's unweighted bits/dim (before the step). */
int gm_iflow_step(gm_iflow *f, double *bpd);
/* PR: the last critic loss and the fraction of the last batch's rows with weight 0. */
void gm_iflow_pr_status(const gm_iflow *f, float *loss_d, float *w_zero);
/* Tape ops: z(B, D) = f(y) for logits y(B, C, H, W), *logdet (B, 1) = log|det ∂z/∂y| (may be NULL); the
 * inverse y = f⁻¹(z) with *logdet = log|det ∂y/∂z|; log N(f(y)) + log|det ∂z/∂y| (B, 1). */
gm_var *gm_iflow_forward(gm_iflow *f, gm_tape *t, gm_var *y, gm_var **logdet, int frozen);
gm_var *gm_iflow_inverse(gm_iflow *f, gm_tape *t, gm_var *z, gm_var **logdet, int frozen);
gm_var *gm_iflow_logprob_logit(gm_iflow *f, gm_tape *t, gm_var *y, int frozen);
/* The pre-processing of one image of D values with noise stream (seed, stream): logits into y, returns the
 * log-determinant of x -> y. */
double gm_iflow_dequant(float alpha, const float *img, size_t D, uint64_t seed, uint64_t stream, float *y);
/* log p(x) (nats) of n images (n × D in [0, 1]) dequantised with noise stream (seed, EVAL, stream·2³² + i)
 * (stream < 2^24); bits/dim of a log p. */
int gm_iflow_logprob(gm_iflow *f, const float *images, size_t n, uint64_t stream, double *logp);
double gm_iflow_bits_per_dim(const gm_iflow *f, double logp);
/* n images (n × D in [0, 1]): z ~ N(0, T² I) from (seed, USER, stream), y = f⁻¹(z), x = (σ(y) − a)/(1 − 2a)
 * clipped to [0, 1]. */
int gm_iflow_sample(gm_iflow *f, float *x, size_t n, float temperature, uint64_t stream);
/* Checkpoint (model "flow-image"): parameters, Adam state, step, config. load refuses other models. */
int gm_iflow_save(const gm_iflow *f, const char *path);
int gm_iflow_load(gm_iflow **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* GM_PRDIV_H */
