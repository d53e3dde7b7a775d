/* SPDX-License-Identifier: MIT */
/* genmix/diffusion.h — diffusion-model building blocks: noise schedules, inference timesteps, the
 * denoiser interface, DDPM/DDIM(eta) samplers as state machines, and exact denoisers of Gaussian-mixture
 * targets (closed-form score).
 *
 * Usage:
 *     gm_diff_schedule sch;  gm_diff_schedule_init(&sch, GM_BETA_LINEAR, 1000);
 *     gm_gmm g;  gm_gmm_toy(&g, "gmm2");            // or gm_gmm_init + fill
 *     gm_denoiser den = gm_gmm_denoiser(&g, &sch);  // exact eps-hat(x, t) and its input VJP
 *     gm_diff_sampler *s;
 *     gm_diff_sampler_create(&s, &sch, &den, 100, 1.0, GM_SPACING_LEADING, n, seed);
 *     while (!gm_diff_sampler_done(s)) gm_diff_sampler_step(s);
 *     const float *x0 = gm_diff_sampler_samples(s);  // n x dim
 *     gm_diff_sampler_free(s);  gm_gmm_free(&g);
 *
 * Conventions: alpha_bar[t] = prod_{s<=t} (1 - beta_s), t = 0..T-1. x_t = sqrt(ab_t) x0 + sqrt(1-ab_t) eps.
 * Inference timesteps t_0 > ... > t_{S-1}; the step from t_i goes to t'_i = t_{i+1}, and after the last
 * step to "t = -1" with alpha_bar := alpha_bar[0] (so every sigma^2 > 0 with LEADING spacing; LINSPACE ends
 * at t = 0 where sigma^2 = 0 and that step is deterministic). DDIM step with eta (eta = 1: DDPM ancestral):
 *     x0^ = (x - sqrt(1-ab) eps^)/sqrt(ab);  s2 = eta^2 (1-ab')/(1-ab) (1 - ab/ab');
 *     x' = sqrt(ab') x0^ + sqrt(max(1-ab'-s2, 0)) eps^ + sqrt(s2) z.
 * Noise of sample k at step i: Philox stream {GM_STREAM_NOISE, k}, counter word 3 = i + 1.
 *
 * Ownership: a gm_denoiser borrows its ctx; a sampler borrows the schedule and the denoiser and owns
 * its state. Thread safety: denoisers must be callable concurrently on disjoint rows; samplers are
 * single-owner (they parallelise over samples internally; results do not depend on the thread count).
 */
#ifndef GM_DIFFUSION_H
#define GM_DIFFUSION_H

#include "genmix/base.h"
#include "genmix/models.h" /* gm_params, gm_tape: the U-Net runs on the tape */
#include "genmix/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- schedules ------------------------------------------------------------------------------- */

typedef enum {
    GM_BETA_LINEAR = 0, /* beta linear from 1e-4 to 0.02 (DDPM) */
    GM_BETA_COSINE = 1  /* Nichol & Dhariwal: abar(t) = f(t)/f(0), f = cos^2(((t/T)+s)/(1+s) pi/2), s = 0.008,
                           beta clipped at 0.999 */
} gm_beta_kind;

typedef enum {
    GM_SPACING_LEADING = 0, /* t_i = floor((S-1-i) T/S) + 1 (991..1 for S = 100; T-1..0 for S = T) */
    GM_SPACING_LINSPACE = 1 /* t_i = round(linspace(T-1, 0, S)) (the toy notebooks) */
} gm_spacing;

#define GM_DIFF_MAX_T 10000
typedef struct {
    int T;
    double beta[GM_DIFF_MAX_T];
    double alpha_bar[GM_DIFF_MAX_T];
} gm_diff_schedule;

int gm_diff_schedule_init(gm_diff_schedule *s, gm_beta_kind kind, int T);
/* Timesteps t[0..S-1] (noisiest first). GM_EINVAL if S < 1 or S > T. */
int gm_diff_timesteps(const gm_diff_schedule *s, int S, gm_spacing spacing, int *t);
/* alpha_bar at timestep t (t < 0 -> alpha_bar[0]). */
double gm_diff_abar(const gm_diff_schedule *s, int t);
/* sigma^2 of the DDIM(eta) step from ab to ab_prev. */
double gm_diff_sigma2(double ab, double ab_prev, double eta);

/* ---- denoiser interface ---------------------------------------------------------------------- */

typedef struct {
    size_t dim;
    /* eps_out[n x dim] = eps^(x[n x dim], t). Returns GM_OK or an error. */
    int (*eps)(void *ctx, const float *x, size_t n, int t, float *eps_out);
    /* Optional (NULL if unavailable): eps_out = eps^(x, t) and vjp_out[i] = J_i^T u[i], J_i = d eps^/d x
     * at row i. */
    int (*eps_vjp)(void *ctx, const float *x, size_t n, int t, const float *u, float *eps_out, float *vjp_out);
    void *ctx;
} gm_denoiser;

/* ---- samplers -------------------------------------------------------------------------------- */

typedef struct gm_diff_sampler gm_diff_sampler;

/* n samples, S steps, DDIM eta in [0, 1] (1 = DDPM ancestral). x_T ~ N(0, I) from the noise streams. */
int gm_diff_sampler_create(gm_diff_sampler **out, const gm_diff_schedule *sch, const gm_denoiser *den, int S,
                           double eta, gm_spacing spacing, size_t n, uint64_t seed);
int gm_diff_sampler_step(gm_diff_sampler *s);
int gm_diff_sampler_done(const gm_diff_sampler *s);
const float *gm_diff_sampler_samples(const gm_diff_sampler *s); /* n x dim; x0 once done */
void gm_diff_sampler_free(gm_diff_sampler *s);
/* Convenience: create, run to the end, copy the n x dim samples into out. */
int gm_diff_sample(const gm_diff_schedule *sch, const gm_denoiser *den, int S, double eta, gm_spacing spacing,
                   size_t n, uint64_t seed, float *out);

/* Exact law of the S-step sampler's output on the 1-D Gaussian target N(m, s2) with the exact denoiser
 * (the step is affine in x, so mean' = a mean + b, var' = a^2 var + sigma^2 from N(0, 1)). */
int gm_diff_gauss_marginal(const gm_diff_schedule *sch, int S, double eta, gm_spacing spacing, double m, double s2,
                           double *mean, double *var);

/* ---- exact denoiser of a Gaussian mixture with diagonal component covariances ---------------- */

typedef struct {
    size_t k, dim;
    double *weight; /* k, sum 1 */
    double *mean;   /* k x dim */
    double *var;    /* k x dim (diagonal variances, > 0) */
    const gm_diff_schedule *sch; /* borrowed; set by gm_gmm_denoiser */
} gm_gmm;

int gm_gmm_init(gm_gmm *g, size_t k, size_t dim); /* zero weights/means, unit variances */
void gm_gmm_free(gm_gmm *g);
/* The spec's toys (s^2 = 0.3, equal weights): "gmm1" = 3x3 grid {-4,0,4}^2, "gmm2" = 8 means on the
 * circle of radius 4 (angles 0, 45, ... deg). GM_EINVAL naming the string otherwise. */
int gm_gmm_toy(gm_gmm *g, const char *name);
/* Exact eps^(x, t) = -sqrt(1-ab) grad log p_t(x) of the mixture pushed through the forward process, and
 * its input VJP. g must outlive the denoiser. */
gm_denoiser gm_gmm_denoiser(gm_gmm *g, const gm_diff_schedule *sch);
/* Component index (most probable under the mixture) of each row of x; for mode-weight statistics. */
void gm_gmm_assign(const gm_gmm *g, const float *x, size_t n, int *comp);
/* n i.i.d. draws (stream {GM_STREAM_SIM, 0} of seed). */
void gm_gmm_sample(const gm_gmm *g, size_t n, uint64_t seed, float *x);

/* ---- the 2-D toy model: MLP eps_theta([x, t/T]), dim+1 -> H -> H -> dim, ReLU ---------------- */

typedef struct gm_diff_mlp gm_diff_mlp;

int gm_diff_mlp_create(gm_diff_mlp **out, size_t dim, int hidden, const gm_diff_schedule *sch);
void gm_diff_mlp_free(gm_diff_mlp *m);
/* PyTorch-default init from seed; the EMA copy starts equal. */
void gm_diff_mlp_init(gm_diff_mlp *m, uint64_t seed);
size_t gm_diff_mlp_dim(const gm_diff_mlp *m);
/* The training data recorded in a loaded checkpoint (e.g. "toy:gmm2"; "" if unknown). */
const char *gm_diff_mlp_data(const gm_diff_mlp *m);
/* One Adam step of the eps-MSE loss on the batch x0 (B x dim): t ~ U{0..T-1} and eps ~ N(0, I) from
 * Philox stream {GM_STREAM_NOISE, 0} of seed at block `step`; then ema = decay ema + (1 - decay) w. */
int gm_diff_mlp_train_step(gm_diff_mlp *m, const float *x0, size_t B, float lr, float ema_decay, uint64_t seed,
                           uint64_t step, double *loss);
/* Denoiser over the EMA weights, with input VJPs (through the tape). Not reentrant: one caller at a time. */
gm_denoiser gm_diff_mlp_denoiser(gm_diff_mlp *m);
/* Checkpoint (.safetensors) of the EMA weights; metadata model "ddpm-mlp", config {dim, hidden, T, data}.
 * Loading another model type is GM_EFORMAT naming the file. */
int gm_diff_mlp_save(const gm_diff_mlp *m, const char *path, int64_t step, uint64_t seed, const char *data);
int gm_diff_mlp_load(gm_diff_mlp **out, const char *path, const gm_diff_schedule *sch);
/* Training state for bitwise resume (training weights, Adam state, step, data-RNG position; model
 * "ddpm-mlp-train"). The EMA weights travel in the gm_diff_mlp_save
 * file: gm_diff_mlp_load_ema copies them from it into m. */
int gm_diff_mlp_save_state(const gm_diff_mlp *m, const char *path, int64_t step, uint64_t seed, const gm_rng *rng);
int gm_diff_mlp_load_state(gm_diff_mlp *m, const char *path, int64_t *step, gm_rng *rng);
int gm_diff_mlp_load_ema(gm_diff_mlp *m, const char *path);

/* ---- KL-regularised reward fine-tuning of the toy MLP (DAS spec §9, the over-optimisation baseline) ------ */
/* The reward is a callback with the signature of gm_reward.eval (genmix/das.h; pass rw.eval, rw.ctx): it
 * must fill grad (d r / d x) whenever grad != NULL. A copy phi of a trained toy MLP DDPM theta is trained by direct reward backprop through the S-step
 * DDPM chain (eta = 1, LEADING spacing, reparameterised noise): per trajectory
 *     L = -r(x_0)/alpha + sum_i ||mu_phi(x_i) - mu_theta(x_i)||^2 / (2 sigma_i^2)
 * (the path KL in units of alpha; optimum p_theta exp(r/alpha)/Z). One step = one epoch = one Adam update
 * on the batch mean of L, global gradient norm clipped. Noise of trajectory k at epoch e: Philox stream
 * {GM_STREAM_NOISE, k}, high stream word e (S + 1) + i (x_T: i = 0; step i: i + 1). src/diffusion/diff_finetune.c.
 * The model borrows base (frozen) and the reward; gm_diff_ft_model is the fine-tuned copy (save it with
 * gm_diff_mlp_save; its denoiser samples phi). Bitwise identical for any thread count. */
typedef struct {
    double alpha;  /* > 0 */
    int n_steps;   /* S (100) */
    int batch;     /* trajectories per epoch (256) */
    int epochs;    /* 500 */
    double lr;     /* Adam (3e-5) */
    double clip;   /* global gradient-norm clip (5; <= 0: none) */
    uint64_t seed;
} gm_diff_ft_config;
gm_diff_ft_config gm_diff_ft_config_default(void);

typedef struct {
    double loss;      /* batch mean of L */
    double mean_r;    /* batch mean of r(x_0) */
    double kl;        /* batch mean of the path KL term */
    double grad_norm; /* before clipping (gm_diff_ft_step only) */
} gm_diff_ft_stats;

typedef struct gm_diff_ft gm_diff_ft;
typedef int (*gm_diff_ft_reward_fn)(void *ctx, const float *x, size_t n, double *r, float *grad);
/* GM_EINVAL for alpha <= 0, batch < 1, lr <= 0, steps outside 1..T, base == NULL or reward == NULL. */
int gm_diff_ft_create(gm_diff_ft **out, const gm_diff_ft_config *cfg, gm_diff_mlp *base, gm_diff_ft_reward_fn reward,
                      void *reward_ctx);
/* One epoch (GM_ENUMERIC for a non-finite reward or gradient). */
int gm_diff_ft_step(gm_diff_ft *f);
int gm_diff_ft_done(const gm_diff_ft *f);
int64_t gm_diff_ft_epoch(const gm_diff_ft *f);
/* Loss (and, if grad != NULL, d loss / d phi into grad[n]) of the batch of epoch `epoch` at the current
 * phi, without updating (for gradient checks). */
int gm_diff_ft_loss(gm_diff_ft *f, uint64_t epoch, double *loss, float *grad);
const gm_diff_ft_stats *gm_diff_ft_last(const gm_diff_ft *f);
const float *gm_diff_ft_samples(const gm_diff_ft *f); /* batch x dim x_0 of the last evaluated batch */
gm_diff_mlp *gm_diff_ft_model(gm_diff_ft *f);
float *gm_diff_ft_params(gm_diff_ft *f, size_t *n); /* phi (borrowed; n parameters) */
void gm_diff_ft_free(gm_diff_ft *f);


/* ---- the Fashion-MNIST model: a small U-Net eps_theta(x, t) on 1 x 28 x 28 images ------------- */
/* Residual blocks (group norm, SiLU, time-embedding shift), strided-conv down / nearest+conv up,
 * skip connections, sinusoidal time embedding; base channels C (C, 2C, 2C at 28, 14, 7 pixels),
 * 4 groups. Architecture and parameter names: src/diffusion/diff_unet.c. Images in [-1, 1], d = 784. */

typedef struct gm_diff_unet gm_diff_unet;

/* GM_EINVAL unless ch is a multiple of 4 in 4..256. */
int gm_diff_unet_create(gm_diff_unet **out, int ch, const gm_diff_schedule *sch);
void gm_diff_unet_free(gm_diff_unet *m);
/* PyTorch-default init from seed (group norm: gamma 1, beta 0); the EMA copy starts equal. */
void gm_diff_unet_init(gm_diff_unet *m, uint64_t seed);
int gm_diff_unet_channels(const gm_diff_unet *m);
/* The training (ema = 0) or EMA (ema = 1) weight table (same layout; borrowed). */
gm_params *gm_diff_unet_params(gm_diff_unet *m, int ema);
const char *gm_diff_unet_data(const gm_diff_unet *m);
/* eps^ of x(B,1,28,28) at float timesteps tv(B) with the weights p (one of the model's two tables) on
 * the tape; frozen = 1 records no parameter gradients. NULL on failure (see gm_tape_status). */
gm_var *gm_diff_unet_forward(gm_diff_unet *m, gm_tape *t, gm_params *p, gm_var *x, gm_var *tv, int frozen);
/* One Adam step of the eps-MSE loss on x0 (B x 784 in [-1, 1]); t and eps as gm_diff_mlp_train_step. */
int gm_diff_unet_train_step(gm_diff_unet *m, const float *x0, size_t B, float lr, float ema_decay, uint64_t seed,
                            uint64_t step, double *loss);
/* Denoiser over the EMA weights with input VJPs (batches of <= 64 rows). Not reentrant. */
gm_denoiser gm_diff_unet_denoiser(gm_diff_unet *m);
/* Checkpoints as for the MLP: model "ddpm-unet" (EMA weights, config {channels, T, data}) and
 * "ddpm-unet-train" (training weights, Adam, step, data-RNG position). */
int gm_diff_unet_save(const gm_diff_unet *m, const char *path, int64_t step, uint64_t seed, const char *data);
int gm_diff_unet_load(gm_diff_unet **out, const char *path, const gm_diff_schedule *sch);
int gm_diff_unet_save_state(const gm_diff_unet *m, const char *path, int64_t step, uint64_t seed, const gm_rng *rng);
int gm_diff_unet_load_state(gm_diff_unet *m, const char *path, int64_t *step, gm_rng *rng);
int gm_diff_unet_load_ema(gm_diff_unet *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* GM_DIFFUSION_H */
