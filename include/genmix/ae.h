/* SPDX-License-Identifier: MIT */
/* genmix/ae.h — generative autoencoders for latent MCMC: VAE, DVAE (denoising VAE), AAE (adversarial
 * prior matching with a discriminator on the codes) and DAAE (denoising AAE), MLP encoder/decoder on
 * the nn engine's tape (spec latent_mcmc.md sections 4.1-4.2).
 *
 * Usage:
 *     gm_ae_config cfg = gm_ae_config_default(GM_AE_VAE);
 *     cfg.latent_dim = 32;
 *     gm_ae *ae;
 *     if (gm_ae_create(&ae, &cfg, seed) != GM_OK) ...
 *     for (step ...) gm_ae_train_step(ae, batch, B, &stats);   // Adam; noise keyed by (seed, step)
 *     gm_ae_model m;  gm_ae_as_model(ae, &m);                   // decode/encode for gm_latent_mcmc
 *     gm_ae_free(ae);
 *
 * Architecture: encoder D -> hidden[0] -> hidden[1] -> (2d: mean, log-variance | d: code), ReLU (hidden_act);
 * decoder d -> hidden[1] -> hidden[0] -> D logits (mean = sigmoid(logits) for both likelihoods);
 * discriminator (AAE/DAAE) d -> disc_hidden -> disc_hidden -> 1 logit, leaky ReLU 0.2.
 * Parameters live in one gm_params table (models.h) in the order encoder | decoder | discriminator, with
 * PyTorch-style names (enc.fc1.weight, ...) and layouts (weights (OC, C)); Adam is optim.h's gm_optim.
 * Losses (per image, averaged over the batch): reconstruction = summed pixel BCE (Bernoulli) or
 * sum (x - mean)^2 / (2 s^2) (Gaussian) on the clean x; VAE: + beta KL(q(z|x~) || N(0, I));
 * AAE: discriminator loss -mean[log D(z_prior) + log(1 - D(enc(x~)))], encoder adversarial loss
 * -mean log D(enc(x~)) (non-saturating) weighted by lambda_adv. x~ = x + sigma_c N(0, I) for the
 * denoising types (no clipping), x otherwise.
 * Ownership: gm_ae owns its parameter table, optimiser state, noise buffers and two tapes (training, and an inference tape used by the
 * gm_ae_model view (valid until gm_ae_free). Thread safety: one gm_ae per thread.
 */
#ifndef GM_AE_H
#define GM_AE_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gm_tape;
struct gm_var;
/* ---- the autoencoder interface (what latent MCMC and the study tools see) ----------------------- */

typedef enum {
    GM_AE_BERNOULLI = 0, /* decoder mean = pixel probabilities; a sample is x_j ~ Bernoulli(p_j) */
    GM_AE_GAUSSIAN = 1   /* decoder mean = Gaussian mean; a sample is x_j = mean_j + std_j N(0,1) */
} gm_ae_likelihood;

/* An autoencoder seen by the chain: deterministic batched functions plus a description of the noise.
 * Every callback returns GM_OK or a status (with gm_set_error); n is the number of rows. */
typedef struct gm_ae_model {
    size_t data_dim;   /* D */
    size_t latent_dim; /* d */
    /* Decoder mean E[x|z]: x_mean (n, D) <- z (n, d). Required. */
    int (*decode)(float *x_mean, const float *z, size_t n, void *params);
    gm_ae_likelihood likelihood;
    double dec_sigma;      /* Gaussian decoder std (all pixels) when dec_std is NULL */
    const double *dec_std; /* optional per-pixel Gaussian std (D values) */
    /* Encoder: mu (n, d), logvar (n, d) <- x (n, D). For a deterministic encoder (AAE) set
     * enc_stochastic = 0: logvar is then NULL and z = mu. Required unless encode_sample is set and the
     * chain only ever samples. */
    int (*encode)(float *mu, float *logvar, const float *x, size_t n, void *params);
    int enc_stochastic;
    /* Optional general reparameterised encoder sampler z (n, d) <- g(x (n, D), eps (n, enc_noise_dim)),
     * eps ~ N(0, I) from the chain's streams. When set, it replaces mu + exp(logvar/2) eps in
     * GM_LATENT_ENCODE_SAMPLE mode (e.g. an exact mixture posterior). */
    int (*encode_sample)(float *z, const float *x, const float *eps, size_t n, void *params);
    size_t enc_noise_dim;
    void *params;
} gm_ae_model;


typedef enum { GM_AE_VAE = 0, GM_AE_DVAE = 1, GM_AE_AAE = 2, GM_AE_DAAE = 3 } gm_ae_type;

/* "vae", "dvae", "aae", "daae"; gm_ae_type_from_name returns -1 for unknown names. */
const char *gm_ae_type_name(gm_ae_type t);
int gm_ae_type_from_name(const char *name);

typedef struct {
    gm_ae_type type;
    size_t data_dim;       /* D (784) */
    size_t latent_dim;     /* d (32) */
    int conv;              /* 0: MLP (default); 1: convolutional (28x28 images only): encoder 4x4 stride-2
                            * convs 1 -> hidden[0] -> hidden[1] channels (28 -> 14 -> 7), linear to the code;
                            * decoder linear to hidden[1] x 7 x 7, 4x4 stride-2 transposed convs back to 1 x 28 x 28 */
    size_t hidden[2];      /* MLP widths (512, 256) or conv channels (32, 64) */
    size_t disc_hidden;    /* AAE discriminator width (256) */
    int hidden_act;        /* gm_act of the encoder/decoder hidden layers (GM_ACT_RELU; smooth ones such as
                            * GM_ACT_TANH are used by the finite-difference gradient checks) */
    int gaussian;          /* 0: Bernoulli decoder (BCE), 1: Gaussian decoder with std dec_sigma */
    double dec_sigma;      /* Gaussian decoder std (0.1) */
    double beta;           /* KL weight (1) */
    double sigma_c;        /* corruption std of the denoising types (0.5; forced to 0 for VAE/AAE) */
    double lambda_adv;     /* adversarial weight (1) */
    double lr, beta1, beta2, adam_eps; /* Adam: 2e-4, 0.5, 0.999, 1e-8 */
    int64_t epochs;        /* training epochs (20) */
    size_t batch;          /* minibatch size (100) */
} gm_ae_config;

gm_ae_config gm_ae_config_default(gm_ae_type type);

typedef struct {
    double loss;  /* total objective of the autoencoder step */
    double rec;   /* reconstruction term */
    double kl;    /* VAE: KL term (unweighted) */
    double adv;   /* AAE: encoder adversarial term */
    double disc;  /* AAE: discriminator loss */
} gm_ae_stats;

typedef struct gm_ae gm_ae;

/* Create and initialise (PyTorch Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
 * biases, from the stream (seed, GM_STREAM_INIT, 0)). GM_EINVAL on a bad configuration. */
int gm_ae_create(gm_ae **out, const gm_ae_config *cfg, uint64_t seed);
void gm_ae_free(gm_ae *ae);
const gm_ae_config *gm_ae_get_config(const gm_ae *ae);
uint64_t gm_ae_seed(const gm_ae *ae);

/* The parameter slab and its gradient slab (same layout; names enc.fc1.weight ... disc.out.bias in
 * models.h gm_params order). Borrowed; valid until gm_ae_free. */
size_t gm_ae_num_params(const gm_ae *ae);
float *gm_ae_param_values(gm_ae *ae);
float *gm_ae_param_grads(gm_ae *ae);
/* Floats of the encoder + decoder (the discriminator's parameters follow them in the slab). */
size_t gm_ae_ae_size(const gm_ae *ae);
/* Optimizer steps and epochs completed. */
int64_t gm_ae_step_count(const gm_ae *ae);
int64_t gm_ae_epoch(const gm_ae *ae);

/* Checkpoint (models.h format: weights, Adam m/v, __metadata__ model = "vae"|..., config JSON, step,
 * epoch, seed) written atomically / read back; gm_ae_load restores everything needed to resume. */
int gm_ae_save(const gm_ae *ae, const char *path);
int gm_ae_load(gm_ae **out, const char *path);

/* Noise of one training step, drawn from (seed, GM_STREAM_NOISE, step): eps (B x d) reparameterisation
 * noise, corrupt (B x D) corruption noise (scaled by sigma_c inside), prior (B x d) prior draws. */
typedef struct {
    const float *eps;
    const float *corrupt;
    const float *prior;
} gm_ae_noise;

/* Record the losses of one batch x (B x D) on tape t with the given noise (for gradient checks and the
 * training step). ae_loss: the autoencoder objective (rec + beta KL, or rec + lambda_adv adv with the
 * discriminator frozen); disc_loss (AAE types only, NULL otherwise): the discriminator objective with the
 * encoder output detached. Gradients flow into gm_ae_grads after gm_tape_backward. `which` selects what to
 * record: 1 = autoencoder loss, 2 = discriminator loss. stats (optional) receives the loss values. */
int gm_ae_loss(gm_ae *ae, struct gm_tape *t, const float *x, size_t B, const gm_ae_noise *noise, int which,
               struct gm_var **loss, gm_ae_stats *stats);

/* One training step on x (B x D): for AAE types a discriminator Adam step, then the autoencoder Adam
 * step (encoder + decoder); noise from the step counter, so an interrupted and resumed run repeats
 * exactly. GM_ENUMERIC (naming the step) when a loss is NaN/Inf. */
int gm_ae_train_step(gm_ae *ae, const float *x, size_t B, gm_ae_stats *stats);

/* One epoch over X (n x D): minibatches of cfg.batch in the order of a permutation from
 * (seed, GM_STREAM_DATA, epoch) (the last partial batch included); progress (optional) is called every
 * `every` steps and at the end with the running mean of the loss. */
typedef void (*gm_ae_progress_fn)(void *ctx, int64_t epoch, int64_t step, const gm_ae_stats *mean, double images_per_s,
                                  int final);
int gm_ae_train_epoch(gm_ae *ae, const float *X, size_t n, gm_ae_progress_fn progress, void *ctx, int64_t every);

/* Encoder means (and log-variances for VAE types; logvar may be NULL) / decoder means, no gradient,
 * in batches of any size n. */
int gm_ae_encode(gm_ae *ae, float *mu, float *logvar, const float *x, size_t n);
int gm_ae_decode(gm_ae *ae, float *x_mean, const float *z, size_t n);

/* A gm_ae_model view for gm_latent_mcmc (borrows ae): Bernoulli or Gaussian likelihood as configured;
 * VAE types stochastic encoders, AAE types deterministic. */
void gm_ae_as_model(gm_ae *ae, struct gm_ae_model *out);

#ifdef __cplusplus
}
#endif
#endif /* GM_AE_H */
