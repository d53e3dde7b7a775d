/* SPDX-License-Identifier: MIT */
/* genmix/models.h — parameter tables over flat slabs, a small sequential model builder (MLP, CNN), and
 * safetensors checkpoints with the architecture and training state in __metadata__.
 *
 * Usage:
 *     gm_seq *net;
 *     int64_t in[3] = {1, 28, 28};
 *     gm_seq_create(&net, "conv:32:3:1:1,relu,maxpool:2,conv:64:3:1:1,relu,maxpool:2,flatten,"
 *                         "linear:128,relu,linear:10", 3, in);
 *     gm_seq_init(net, seed);                          // PyTorch-default uniform(+-1/sqrt(fan_in)) init
 *     gm_var *logits = gm_seq_forward(net, tape, x, -1, 1, NULL);   // x(B,1,28,28) on the tape
 *     gm_checkpoint_save("clf.safetensors", &net->params, &opt, &meta);
 *
 * Layer spec (comma-separated; the output shape of each layer is inferred from the input shape):
 *   linear:OUT[:nobias]    conv:OC:K[:STRIDE[:PAD]]    convT:OC:K[:STRIDE[:PAD]]    maxpool:K[:S]   avgpool:K[:S]
 *   upsample:F    flatten    dropout:P    layernorm    groupnorm:G    relu | leaky_relu[:A] | tanh | sigmoid |
 *   silu | softplus | gelu
 * Parameters are named like PyTorch's nn.Sequential ("<layer index>.weight", "<layer index>.bias"), with
 * PyTorch layouts: linear (OUT, IN), conv (OC, C, K, K), convT (C, OC, K, K).
 *
 * Other model families (VAE, GAN, flows, DDPM, MoE) build their own forward passes from tape ops and keep
 * their weights in a gm_params table (one per network, prefixed names such as "enc.0.weight"), so
 * initialisation, optimisers and checkpoints work unchanged.
 *
 * Ownership: gm_params owns its info array and slabs; gm_seq owns its params and layers. Checkpoint
 * functions borrow everything they are given. Errors: status codes; checkpoint errors name the file and
 * the tensor at fault. Thread safety: per object.
 */
#ifndef GM_MODELS_H
#define GM_MODELS_H

#include "genmix/base.h"
#include "genmix/optim.h" /* same module (nn): checkpoints carry the optimiser state */
#include "genmix/rng.h"
#include "genmix/tape.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== parameter tables (style §2.5) ============================================================ */
typedef struct {
    char name[96];
    size_t offset; /* in floats, into val/grad */
    size_t n;
    int ndim;
    int64_t shape[4];
} gm_param_info;

typedef struct {
    gm_param_info *info;
    size_t count, cap;
    size_t total;      /* floats in each slab */
    float *val, *grad; /* slabs, same layout; NULL until gm_params_alloc */
} gm_params;

void gm_params_init(gm_params *p);
/* Append a tensor (before gm_params_alloc). Returns its index (>= 0) or a negative status. */
long gm_params_add(gm_params *p, const char *name, int ndim, const int64_t *shape);
/* Allocate zeroed val and grad slabs for the table. */
int gm_params_alloc(gm_params *p);
void gm_params_free(gm_params *p);
long gm_params_find(const gm_params *p, const char *name);
void gm_params_zero_grad(gm_params *p);
/* A tape variable for tensor i; frozen = 1 gives no gradient. */
gm_var *gm_params_var(gm_params *p, gm_tape *t, size_t i, int frozen);
/* Uniform(-bound, bound) fill of tensor i from rng. */
void gm_params_uniform(gm_params *p, size_t i, double bound, gm_rng *rng);

/* ==== sequential models ======================================================================== */
typedef enum {
    GM_LAYER_LINEAR = 0,
    GM_LAYER_CONV,
    GM_LAYER_CONVT,
    GM_LAYER_MAXPOOL,
    GM_LAYER_AVGPOOL,
    GM_LAYER_UPSAMPLE,
    GM_LAYER_FLATTEN,
    GM_LAYER_DROPOUT,
    GM_LAYER_LAYERNORM,
    GM_LAYER_GROUPNORM,
    GM_LAYER_ACT
} gm_layer_kind;

typedef struct {
    gm_layer_kind kind;
    int a, b, c, d;    /* kind-specific: out/OC, K, stride, pad; pool K, S; groups; act id */
    float f;           /* dropout p, leaky alpha */
    long w, bias;      /* param indices or -1 */
    int in_ndim;
    int64_t in_shape[4]; /* per-sample input shape (no batch dim) */
    int out_ndim;
    int64_t out_shape[4];
} gm_layer;

typedef struct {
    gm_params params;
    gm_layer *layers;
    size_t n_layers;
    int in_ndim;
    int64_t in_shape[4]; /* per-sample input shape */
    char *spec;          /* the spec string it was built from */
} gm_seq;

/* Parse `spec` for per-sample inputs of shape in_shape (1..3 dims) and allocate the parameters (zero).
 * GM_EINVAL (unknown layer, bad number) or GM_ESHAPE (layer does not fit), naming the layer. */
int gm_seq_create(gm_seq **out, const char *spec, int in_ndim, const int64_t *in_shape);
void gm_seq_free(gm_seq *s);
/* PyTorch-default init: weights and biases ~ U(+-1/sqrt(fan_in)), Philox stream (GM_STREAM_INIT, 0). */
void gm_seq_init(gm_seq *s, uint64_t seed);
/* Run the first n_layers layers (-1 = all) on x(B, in_shape...). train = 1 enables dropout (rng needed);
 * frozen = 1 records no parameter gradients. Returns the output variable (NULL on failure, see tape). */
gm_var *gm_seq_forward(gm_seq *s, gm_tape *t, gm_var *x, long n_layers, int train, gm_rng *rng);
gm_var *gm_seq_forward_frozen(gm_seq *s, gm_tape *t, gm_var *x, long n_layers, int train, gm_rng *rng);
/* Per-sample output size after the first n_layers layers (-1 = all). */
size_t gm_seq_out_size(const gm_seq *s, long n_layers);
/* Builders of the two standard architectures (spec strings written into buf). */
const char *gm_mlp_spec(char *buf, size_t len, const int *hidden, int n_hidden, int out, gm_act act);
#define GM_CNN_SPEC "conv:32:3:1:1,relu,maxpool:2,conv:64:3:1:1,relu,maxpool:2,flatten,linear:128,relu,linear:10"

/* ==== checkpoints ============================================================================== */
/* Training state stored beside the weights. Strings are borrowed. */
typedef struct {
    const char *model;  /* e.g. "classifier" */
    const char *config; /* JSON string: architecture + hyper-parameters */
    int64_t step, epoch;
    uint64_t seed;
    const gm_rng *rng;  /* optional: RNG position */
} gm_checkpoint_meta;

/* Write `path` atomically: tensors "<name>" from p (F32), optimiser state "opt.m.<name>" / "opt.v.<name>"
 * (if opt), and __metadata__ {format: genmix, genmix_version, model, config, step, epoch, seed, rng,
 * optimizer, opt_step}. */
int gm_checkpoint_save(const char *path, const gm_params *p, const gm_optim *opt, const gm_checkpoint_meta *meta);

typedef struct gm_checkpoint gm_checkpoint;
/* Open and validate a checkpoint file (header, offsets, sizes, format == genmix). */
int gm_checkpoint_open(gm_checkpoint **out, const char *path);
void gm_checkpoint_close(gm_checkpoint *c);
/* __metadata__ value or NULL (borrowed, valid until close). */
const char *gm_checkpoint_meta_get(const gm_checkpoint *c, const char *key);
/* Copy every tensor of p from the checkpoint; a missing tensor, wrong dtype or shape is GM_EFORMAT /
 * GM_ESHAPE naming the tensor. */
int gm_checkpoint_load_params(const gm_checkpoint *c, gm_params *p);
/* Restore m/v/step of an optimiser initialised with the same kind and size. */
int gm_checkpoint_load_optim(const gm_checkpoint *c, const gm_params *p, gm_optim *opt);
/* Restore the RNG saved under "rng". */
int gm_checkpoint_load_rng(const gm_checkpoint *c, gm_rng *rng);

/* RNG state as a text token (and back), for metadata. buf needs >= 200 bytes. */
void gm_rng_state_format(const gm_rng *r, char *buf, size_t len);
int gm_rng_state_parse(gm_rng *r, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* GM_MODELS_H */
