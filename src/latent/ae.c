/* SPDX-License-Identifier: MIT */
/* ae.c — VAE / DVAE / AAE / DAAE with MLP encoder and decoder on the nn tape (genmix/ae.h).
 *
 * Owns: one slab per role (params, grads, Adam m, Adam v), noise buffers, a training tape and an
 * inference tape. The training step draws all noise from the stream (seed, GM_STREAM_NOISE, step), so
 * a run resumed from a checkpoint at step s repeats the uninterrupted run exactly.
 * Thread safety: one gm_ae per thread (kernels inside may use OpenMP).
 *
 * module: latent (src/latent/) owns the autoencoders (ae.h), the Fashion-MNIST classifier (classifier.h)
 * and latent-space MCMC with its linear-AE closed forms (mcmc.h). A method: it uses core, io, linalg, nn
 * and eval, and no other method. */
#include "genmix/ae.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "genmix/mcmc.h"
#include "genmix/models.h"
#include "genmix/optim.h"
#include "genmix/rng.h"
#include "genmix/tape.h"

#define AE_CHUNK 256 /* rows per inference forward */

struct gm_ae {
    gm_ae_config cfg;
    uint64_t seed;
    int64_t epoch;
    gm_params p;                             /* enc.* | dec.* | disc.* */
    gm_optim opt;                            /* Adam over the whole slab; opt.step = steps done */
    size_t enc_first, dec_first, disc_first; /* first tensor index of each part (6 tensors each) */
    size_t ae_end;                           /* floats of encoder + decoder */
    float *noise;                            /* eps | corrupt | prior for the current batch */
    size_t noise_cap;                        /* in rows */
    float *batch;                            /* gathered minibatch (cfg.batch x D) */
    gm_tape *train_tape, *inf_tape;
};

/* ==== names and configuration ===================================================================== */

static const char *const type_names[4] = {"vae", "dvae", "aae", "daae"};

const char *gm_ae_type_name(gm_ae_type t) { return (unsigned)t < 4 ? type_names[t] : "?"; }

int gm_ae_type_from_name(const char *name) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, type_names[i])) return i;
    return -1;
}

static int is_aae(gm_ae_type t) { return t == GM_AE_AAE || t == GM_AE_DAAE; }
static int is_denoising(gm_ae_type t) { return t == GM_AE_DVAE || t == GM_AE_DAAE; }

gm_ae_config gm_ae_config_default(gm_ae_type type) {
    gm_ae_config c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.data_dim = 784;
    c.latent_dim = 32;
    c.hidden[0] = 512;
    c.hidden[1] = 256;
    c.disc_hidden = 256;
    c.hidden_act = GM_ACT_RELU;
    c.gaussian = 0;
    c.dec_sigma = 0.1;
    c.beta = 1.0;
    c.sigma_c = is_denoising(type) ? 0.5 : 0.0;
    c.lambda_adv = 1.0;
    c.lr = 2e-4;
    c.beta1 = 0.5;
    c.beta2 = 0.999;
    c.adam_eps = 1e-8;
    c.epochs = 20;
    c.batch = 100;
    return c;
}

/* ==== create / free ================================================================================ */

static int add_linear(gm_ae *ae, const char *prefix, size_t in, size_t out) {
    char nm[64];
    int64_t w[2] = {(int64_t)out, (int64_t)in}, b[1] = {(int64_t)out};
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    long r = gm_params_add(&ae->p, nm, 2, w);
    if (r < 0) return (int)r;
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    r = gm_params_add(&ae->p, nm, 1, b);
    return r < 0 ? (int)r : GM_OK;
}

/* 4x4 kernel weight (s0, s1, 4, 4) and a bias of nb values */
static int add_conv(gm_ae *ae, const char *prefix, int64_t s0, int64_t s1, int64_t nb) {
    char nm[64];
    int64_t w[4] = {s0, s1, 4, 4}, b[1] = {nb};
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    long r = gm_params_add(&ae->p, nm, 4, w);
    if (r < 0) return (int)r;
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    r = gm_params_add(&ae->p, nm, 1, b);
    return r < 0 ? (int)r : GM_OK;
}

static int check_config(const gm_ae_config *cfg) {
    if (cfg->conv && cfg->data_dim != 784) GM_FAIL(GM_EINVAL, "ae: the convolutional model needs 28x28 images (D = 784)");
    if ((unsigned)cfg->type > GM_AE_DAAE) GM_FAIL(GM_EINVAL, "ae: unknown model type %d", (int)cfg->type);
    if (!cfg->data_dim || !cfg->latent_dim || !cfg->hidden[0] || !cfg->hidden[1])
        GM_FAIL(GM_EINVAL, "ae: dimensions must be positive");
    if (is_aae(cfg->type) && !cfg->disc_hidden) GM_FAIL(GM_EINVAL, "ae: disc_hidden must be positive");
    if (cfg->hidden_act < 0 || cfg->hidden_act >= GM_ACT_COUNT)
        GM_FAIL(GM_EINVAL, "ae: unknown activation %d", cfg->hidden_act);
    if (cfg->gaussian && !(cfg->dec_sigma > 0 && isfinite(cfg->dec_sigma)))
        GM_FAIL(GM_EINVAL, "ae: Gaussian decoder std must be positive (got %g)", cfg->dec_sigma);
    if (!(cfg->sigma_c >= 0 && isfinite(cfg->sigma_c))) GM_FAIL(GM_EINVAL, "ae: sigma_c must be >= 0");
    if (!(cfg->lr > 0 && cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1 && cfg->adam_eps > 0))
        GM_FAIL(GM_EINVAL, "ae: bad Adam settings (lr %g, betas %g %g)", cfg->lr, cfg->beta1, cfg->beta2);
    if (!(cfg->beta >= 0 && cfg->lambda_adv >= 0)) GM_FAIL(GM_EINVAL, "ae: beta and lambda_adv must be >= 0");
    if (cfg->epochs < 0 || cfg->batch == 0) GM_FAIL(GM_EINVAL, "ae: epochs must be >= 0 and batch >= 1");
    return GM_OK;
}

int gm_ae_create(gm_ae **out, const gm_ae_config *cfg, uint64_t seed) {
    GM_ASSERT(out && cfg);
    *out = NULL;
    int rc = check_config(cfg);
    if (rc) return rc;
    gm_ae *ae = gm_calloc(1, sizeof *ae);
    if (!ae) return GM_ENOMEM;
    ae->cfg = *cfg;
    if (!is_denoising(cfg->type)) ae->cfg.sigma_c = 0.0;
    ae->seed = seed;
    gm_params_init(&ae->p);
    const size_t D = cfg->data_dim, d = cfg->latent_dim, h0 = cfg->hidden[0], h1 = cfg->hidden[1];
    ae->enc_first = 0;
    const size_t eo = is_aae(cfg->type) ? d : 2 * d;
    if (cfg->conv) {
        /* conv weights (OC, C, 4, 4); transposed-conv weights (C, OC, 4, 4) as in PyTorch */
        if ((rc = add_conv(ae, "enc.conv1", (int64_t)h0, 1, (int64_t)h0)) || (rc = add_conv(ae, "enc.conv2", (int64_t)h1, (int64_t)h0, (int64_t)h1)) ||
            (rc = add_linear(ae, "enc.out", h1 * 49, eo)))
            goto fail;
        ae->dec_first = ae->p.count;
        if ((rc = add_linear(ae, "dec.fc", d, h1 * 49)) || (rc = add_conv(ae, "dec.convt1", (int64_t)h1, (int64_t)h0, (int64_t)h0)) ||
            (rc = add_conv(ae, "dec.convt2", (int64_t)h0, 1, 1)))
            goto fail;
    } else {
        if ((rc = add_linear(ae, "enc.fc1", D, h0)) || (rc = add_linear(ae, "enc.fc2", h0, h1)) ||
            (rc = add_linear(ae, "enc.out", h1, eo)))
            goto fail;
        ae->dec_first = ae->p.count;
        if ((rc = add_linear(ae, "dec.fc1", d, h1)) || (rc = add_linear(ae, "dec.fc2", h1, h0)) ||
            (rc = add_linear(ae, "dec.out", h0, D)))
            goto fail;
    }
    ae->disc_first = ae->p.count;
    if (is_aae(cfg->type) &&
        ((rc = add_linear(ae, "disc.fc1", d, cfg->disc_hidden)) ||
         (rc = add_linear(ae, "disc.fc2", cfg->disc_hidden, cfg->disc_hidden)) ||
         (rc = add_linear(ae, "disc.out", cfg->disc_hidden, 1))))
        goto fail;
    if ((rc = gm_params_alloc(&ae->p))) goto fail;
    ae->ae_end = ae->p.info[ae->dec_first + 5].offset + ae->p.info[ae->dec_first + 5].n;
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    oc.beta1 = (float)cfg->beta1;
    oc.beta2 = (float)cfg->beta2;
    oc.eps = (float)cfg->adam_eps;
    if ((rc = gm_optim_init(&ae->opt, &oc, ae->p.total))) goto fail;
    if ((rc = gm_tape_create(&ae->train_tape, 0)) || (rc = gm_tape_create(&ae->inf_tape, 0))) goto fail;
    gm_tape_no_grad(ae->inf_tape, 1);
    /* PyTorch default: weight and bias ~ U(+-1/sqrt(fan_in)), fan_in = dim 1 x kernel area (also for
     * transposed convs, as PyTorch computes it); a bias uses its weight's fan_in */
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    for (size_t i = 0; i < ae->p.count; i++) {
        const gm_param_info *in = ae->p.info[i].ndim == 1 ? &ae->p.info[i - 1] : &ae->p.info[i];
        double fan_in = (double)in->shape[1] * (in->ndim == 4 ? (double)(in->shape[2] * in->shape[3]) : 1.0);
        gm_params_uniform(&ae->p, i, 1.0 / sqrt(fan_in), &r);
    }
    *out = ae;
    return GM_OK;
fail:
    gm_ae_free(ae);
    return rc ? rc : GM_ENOMEM;
}

void gm_ae_free(gm_ae *ae) {
    if (!ae) return;
    gm_params_free(&ae->p);
    gm_optim_free(&ae->opt);
    gm_free(ae->noise);
    gm_free(ae->batch);
    gm_tape_free(ae->train_tape);
    gm_tape_free(ae->inf_tape);
    gm_free(ae);
}

const gm_ae_config *gm_ae_get_config(const gm_ae *ae) { return &ae->cfg; }
uint64_t gm_ae_seed(const gm_ae *ae) { return ae->seed; }
size_t gm_ae_num_params(const gm_ae *ae) { return ae->p.total; }
float *gm_ae_param_values(gm_ae *ae) { return ae->p.val; }
float *gm_ae_param_grads(gm_ae *ae) { return ae->p.grad; }
size_t gm_ae_ae_size(const gm_ae *ae) { return ae->ae_end; }
int64_t gm_ae_step_count(const gm_ae *ae) { return ae->opt.step; }
int64_t gm_ae_epoch(const gm_ae *ae) { return ae->epoch; }

/* ==== forward pieces ============================================================================== */

/* Parameter vars of tensors [first, first + 6): grads into the slab, or frozen (NULL grads). */
static int param_vars(gm_ae *ae, gm_tape *t, size_t first, int frozen, gm_var **p) {
    for (size_t i = 0; i < 6; i++) {
        p[i] = gm_params_var(&ae->p, t, first + i, frozen);
        if (!p[i]) return gm_tape_status(t) ? gm_tape_status(t) : GM_ENOMEM;
    }
    return GM_OK;
}

/* linear -> act -> linear -> act -> linear */
static gm_var *mlp3(gm_tape *t, gm_var *x, gm_var *const *p, gm_act act, float alpha) {
    gm_var *h = gm_op_act(t, gm_op_linear(t, x, p[0], p[1]), act, alpha);
    h = gm_op_act(t, gm_op_linear(t, h, p[2], p[3]), act, alpha);
    return gm_op_linear(t, h, p[4], p[5]);
}

/* Encoder / decoder forward for either architecture (p: the part's 6 parameter vars). */
static gm_var *enc_forward(gm_ae *ae, gm_tape *t, gm_var *x, gm_var *const *p) {
    const gm_act a = (gm_act)ae->cfg.hidden_act;
    if (!ae->cfg.conv) return mlp3(t, x, p, a, 0.0f);
    if (!x) return NULL;
    int64_t B = x->shape[0], s4[4] = {B, 1, 28, 28}, s2[2] = {B, (int64_t)ae->cfg.hidden[1] * 49};
    gm_var *h = gm_op_act(t, gm_op_conv2d(t, gm_op_reshape(t, x, 4, s4), p[0], p[1], 2, 1), a, 0.0f);
    h = gm_op_act(t, gm_op_conv2d(t, h, p[2], p[3], 2, 1), a, 0.0f);
    return gm_op_linear(t, gm_op_reshape(t, h, 2, s2), p[4], p[5]);
}

static gm_var *dec_forward(gm_ae *ae, gm_tape *t, gm_var *z, gm_var *const *p) {
    const gm_act a = (gm_act)ae->cfg.hidden_act;
    if (!ae->cfg.conv) return mlp3(t, z, p, a, 0.0f);
    if (!z) return NULL;
    int64_t B = z->shape[0], s4[4] = {B, (int64_t)ae->cfg.hidden[1], 7, 7}, s2[2] = {B, 784};
    gm_var *h = gm_op_act(t, gm_op_linear(t, z, p[0], p[1]), a, 0.0f);
    h = gm_op_act(t, gm_op_conv_transpose2d(t, gm_op_reshape(t, h, 4, s4), p[2], p[3], 2, 1), a, 0.0f);
    return gm_op_reshape(t, gm_op_conv_transpose2d(t, h, p[4], p[5], 2, 1), 2, s2);
}

/* z = mu + exp(logvar / 2) * eps (eps copied into the arena); composite node. */
static void reparam_backward(gm_tape *t, gm_node *n) {
    gm_var *mu = n->in[0], *lv = n->in[1], *z = n->out;
    const float *eps = n->save[0];
    if (!z->grad) return;
    float *dmu = gm_tape_grad(t, mu), *dlv = gm_tape_grad(t, lv);
    for (size_t i = 0; i < z->n; i++) {
        if (dmu) dmu[i] += z->grad[i];
        if (dlv) dlv[i] += z->grad[i] * 0.5f * expf(0.5f * lv->val[i]) * eps[i];
    }
}

static gm_var *op_reparam(gm_tape *t, gm_var *mu, gm_var *lv, const float *eps) {
    if (!mu || !lv) return NULL;
    if (mu->n != lv->n) return gm_tape_fail(t, GM_ESHAPE, "reparam: mu and logvar differ in size");
    gm_var *z = gm_tape_new(t, mu->ndim, mu->shape, 0);
    float *e = z ? gm_arena_alloc(gm_tape_arena(t), mu->n * sizeof(float)) : NULL;
    if (!z || !e) return gm_tape_fail(t, GM_ENOMEM, "reparam: out of memory");
    memcpy(e, eps, mu->n * sizeof(float));
    for (size_t i = 0; i < mu->n; i++) z->val[i] = mu->val[i] + expf(0.5f * lv->val[i]) * e[i];
    gm_var *in[2] = {mu, lv};
    gm_node *nd = gm_tape_record(t, reparam_backward, z, 2, in);
    if (nd) nd->save[0] = e;
    return z;
}

/* A constant input of n floats set to `value` (arena). */
static gm_var *const_var(gm_tape *t, int64_t rows, int64_t cols, float value) {
    int64_t shape[2] = {rows, cols};
    gm_var *v = gm_tape_new(t, 2, shape, 0);
    if (!v) return NULL;
    for (size_t i = 0; i < v->n; i++) v->val[i] = value;
    return v;
}

/* x~ (arena) = x + sigma_c * noise */
static gm_var *corrupted_input(gm_ae *ae, gm_tape *t, const float *x, size_t B, const float *noise) {
    const size_t D = ae->cfg.data_dim;
    int64_t shape[2] = {(int64_t)B, (int64_t)D};
    if (ae->cfg.sigma_c <= 0.0 || !noise) return gm_tape_input(t, (float *)(uintptr_t)x, 2, shape, 0);
    gm_var *v = gm_tape_new(t, 2, shape, 0);
    if (!v) return NULL;
    const float s = (float)ae->cfg.sigma_c;
    for (size_t i = 0; i < B * D; i++) v->val[i] = x[i] + s * noise[i];
    return v;
}

/* Reconstruction loss per image (summed over pixels), mean over the batch. */
static gm_var *rec_loss(gm_ae *ae, gm_tape *t, gm_var *logits, gm_var *xv) {
    const float D = (float)ae->cfg.data_dim;
    if (!ae->cfg.gaussian) return gm_op_scale(t, gm_op_bce_logits(t, logits, xv), D, 0.0f);
    float s2 = (float)(ae->cfg.dec_sigma * ae->cfg.dec_sigma);
    return gm_op_scale(t, gm_op_mse(t, gm_op_act(t, logits, GM_ACT_SIGMOID, 0.0f), xv), D / (2.0f * s2), 0.0f);
}

int gm_ae_loss(gm_ae *ae, gm_tape *t, const float *x, size_t B, const gm_ae_noise *noise, int which, gm_var **loss,
               gm_ae_stats *stats) {
    GM_ASSERT(ae && t && x && noise && loss);
    *loss = NULL;
    const size_t D = ae->cfg.data_dim, d = ae->cfg.latent_dim;
    const int aae = is_aae(ae->cfg.type);
    if (B == 0) GM_FAIL(GM_EINVAL, "ae: empty batch");
    if (which == 2 && !aae) GM_FAIL(GM_EINVAL, "ae: a %s has no discriminator", gm_ae_type_name(ae->cfg.type));
    if (which != 1 && which != 2) GM_FAIL(GM_EINVAL, "ae: loss selector must be 1 or 2");
    gm_var *enc[6], *dec[6], *disc[6];
    int64_t xs[2] = {(int64_t)B, (int64_t)D};
    int rc;
    gm_var *xv = gm_tape_input(t, (float *)(uintptr_t)x, 2, xs, 0);
    gm_var *xt = corrupted_input(ae, t, x, B, noise->corrupt);
    if (which == 2) {
        /* discriminator step: codes of x~ with no gradient into the encoder */
        if ((rc = param_vars(ae, t, ae->enc_first, 1, enc)) || (rc = param_vars(ae, t, ae->disc_first, 0, disc)))
            return rc;
        int prev = gm_tape_no_grad(t, 1);
        gm_var *zf = enc_forward(ae, t, xt, enc);
        gm_tape_no_grad(t, prev);
        int64_t zs[2] = {(int64_t)B, (int64_t)d};
        gm_var *zr = gm_tape_input(t, (float *)(uintptr_t)noise->prior, 2, zs, 0);
        gm_var *lr = gm_op_bce_logits(t, mlp3(t, zr, disc, GM_ACT_LEAKY_RELU, 0.2f), const_var(t, (int64_t)B, 1, 1.0f));
        gm_var *lf = gm_op_bce_logits(t, mlp3(t, zf, disc, GM_ACT_LEAKY_RELU, 0.2f), const_var(t, (int64_t)B, 1, 0.0f));
        *loss = gm_op_add(t, lr, lf);
        if ((rc = gm_tape_status(t))) return rc;
        if (stats) stats->disc = (double)(*loss)->val[0];
        return GM_OK;
    }
    if ((rc = param_vars(ae, t, ae->enc_first, 0, enc)) || (rc = param_vars(ae, t, ae->dec_first, 0, dec)))
        return rc;
    gm_var *o = enc_forward(ae, t, xt, enc);
    gm_var *z, *kl = NULL, *adv = NULL;
    if (!aae) {
        gm_var *mu = NULL, *lv = NULL;
        if (o && (rc = gm_op_split(t, o, 1, (int64_t)d, &mu, &lv))) return rc;
        z = op_reparam(t, mu, lv, noise->eps);
        kl = gm_op_gauss_kl(t, mu, lv);
    } else {
        z = o;
        if ((rc = param_vars(ae, t, ae->disc_first, 1, disc))) return rc;
        adv = gm_op_bce_logits(t, mlp3(t, z, disc, GM_ACT_LEAKY_RELU, 0.2f), const_var(t, (int64_t)B, 1, 1.0f));
    }
    gm_var *rec = rec_loss(ae, t, dec_forward(ae, t, z, dec), xv);
    if (!aae)
        *loss = gm_op_add(t, rec, gm_op_scale(t, kl, (float)ae->cfg.beta, 0.0f));
    else
        *loss = gm_op_add(t, rec, gm_op_scale(t, adv, (float)ae->cfg.lambda_adv, 0.0f));
    if ((rc = gm_tape_status(t))) return rc;
    if (stats) {
        stats->loss = (double)(*loss)->val[0];
        stats->rec = (double)rec->val[0];
        if (kl) stats->kl = (double)kl->val[0];
        if (adv) stats->adv = (double)adv->val[0];
    }
    return GM_OK;
}

/* ==== training ===================================================================================== */

/* Adam on the floats [lo, hi) only: a view of the optimiser over that range, taking the same update
 * number as the whole model (the caller advances opt.step once per training step). */
static void adam_range(gm_ae *ae, size_t lo, size_t hi) {
    gm_optim view = ae->opt;
    view.n = hi - lo;
    view.m = ae->opt.m + lo;
    view.v = ae->opt.v + lo;
    gm_optim_step(&view, ae->p.val + lo, ae->p.grad + lo, (float)ae->cfg.lr);
}

static int ensure_noise(gm_ae *ae, size_t B) {
    if (B <= ae->noise_cap) return GM_OK;
    const size_t per = 2 * ae->cfg.latent_dim + ae->cfg.data_dim;
    float *p = gm_realloc(ae->noise, B * per * sizeof(float));
    if (!p) return GM_ENOMEM;
    ae->noise = p;
    ae->noise_cap = B;
    return GM_OK;
}

int gm_ae_train_step(gm_ae *ae, const float *x, size_t B, gm_ae_stats *stats) {
    GM_ASSERT(ae && x);
    const size_t D = ae->cfg.data_dim, d = ae->cfg.latent_dim;
    int rc = ensure_noise(ae, B);
    if (rc) return rc;
    float *eps = ae->noise, *cor = eps + B * d, *pri = cor + B * D;
    gm_rng r;
    gm_rng_init(&r, ae->seed, gm_rng_stream_id(GM_STREAM_NOISE, (uint64_t)ae->opt.step));
    gm_rng_normal_fill(&r, eps, B * d);
    gm_rng_normal_fill(&r, cor, B * D);
    gm_rng_normal_fill(&r, pri, B * d);
    gm_ae_noise nz = {eps, cor, pri};
    gm_ae_stats st;
    memset(&st, 0, sizeof st);
    gm_tape *t = ae->train_tape;
    gm_var *loss;
    if (is_aae(ae->cfg.type)) {
        gm_tape_reset(t);
        memset(ae->p.grad + ae->ae_end, 0, (ae->p.total - ae->ae_end) * sizeof(float));
        if ((rc = gm_ae_loss(ae, t, x, B, &nz, 2, &loss, &st))) goto done;
        if (!isfinite(st.disc)) {
            rc = gm_set_error(GM_ENUMERIC, "ae: discriminator loss is %g at step %lld", st.disc,
                              (long long)ae->opt.step);
            goto done;
        }
        if ((rc = gm_tape_backward(t, loss))) goto done;
        adam_range(ae, ae->ae_end, ae->p.total);
    }
    gm_tape_reset(t);
    memset(ae->p.grad, 0, ae->ae_end * sizeof(float));
    if ((rc = gm_ae_loss(ae, t, x, B, &nz, 1, &loss, &st))) goto done;
    if (!isfinite(st.loss)) {
        rc = gm_set_error(GM_ENUMERIC, "ae: loss is %g at step %lld", st.loss, (long long)ae->opt.step);
        goto done;
    }
    if ((rc = gm_tape_backward(t, loss))) goto done;
    adam_range(ae, 0, ae->ae_end);
    ae->opt.step++;
    if (stats) *stats = st;
done:
    gm_tape_reset(t);
    return rc;
}

int gm_ae_train_epoch(gm_ae *ae, const float *X, size_t n, gm_ae_progress_fn progress, void *ctx, int64_t every) {
    GM_ASSERT(ae && X);
    if (n == 0) GM_FAIL(GM_EINVAL, "ae: no training data");
    const size_t D = ae->cfg.data_dim, B = ae->cfg.batch;
    if (!ae->batch && !(ae->batch = gm_malloc(B * D * sizeof(float)))) return GM_ENOMEM;
    size_t *perm = gm_malloc(n * sizeof(size_t));
    if (!perm) return GM_ENOMEM;
    gm_rng r;
    gm_rng_init(&r, ae->seed, gm_rng_stream_id(GM_STREAM_DATA, (uint64_t)ae->epoch));
    gm_rng_permutation(&r, perm, n);
    gm_ae_stats sum, st;
    memset(&sum, 0, sizeof sum);
    double t0 = gm_time_now();
    int rc = GM_OK;
    int64_t k = 0;
    for (size_t b0 = 0; b0 < n; b0 += B, k++) {
        size_t nb = n - b0 < B ? n - b0 : B;
        for (size_t i = 0; i < nb; i++) memcpy(ae->batch + i * D, X + perm[b0 + i] * D, D * sizeof(float));
        if ((rc = gm_ae_train_step(ae, ae->batch, nb, &st))) break;
        sum.loss += st.loss, sum.rec += st.rec, sum.kl += st.kl, sum.adv += st.adv, sum.disc += st.disc;
        int last = b0 + nb >= n;
        if (progress && (last || (every > 0 && (k + 1) % every == 0))) {
            gm_ae_stats mean = {sum.loss / (double)(k + 1), sum.rec / (double)(k + 1), sum.kl / (double)(k + 1),
                                sum.adv / (double)(k + 1), sum.disc / (double)(k + 1)};
            double dt = gm_time_now() - t0;
            progress(ctx, ae->epoch, ae->opt.step, &mean, dt > 0 ? (double)(b0 + nb) / dt : 0.0, last);
        }
    }
    gm_free(perm);
    if (!rc) ae->epoch++;
    return rc;
}

/* ==== checkpoints ================================================================================== */

int gm_ae_save(const gm_ae *ae, const char *path) {
    GM_ASSERT(ae && path);
    const gm_ae_config *c = &ae->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return GM_ENOMEM;
    int ok = 1;
    ok &= cJSON_AddStringToObject(j, "type", gm_ae_type_name(c->type)) != NULL;
    ok &= cJSON_AddStringToObject(j, "arch", c->conv ? "conv" : "mlp") != NULL;
    ok &= cJSON_AddNumberToObject(j, "data_dim", (double)c->data_dim) != NULL;
    ok &= cJSON_AddNumberToObject(j, "latent_dim", (double)c->latent_dim) != NULL;
    cJSON *h = cJSON_AddArrayToObject(j, "hidden");
    ok &= h != NULL;
    ok &= h && cJSON_AddItemToArray(h, cJSON_CreateNumber((double)c->hidden[0]));
    ok &= h && cJSON_AddItemToArray(h, cJSON_CreateNumber((double)c->hidden[1]));
    ok &= cJSON_AddNumberToObject(j, "disc_hidden", (double)c->disc_hidden) != NULL;
    ok &= cJSON_AddStringToObject(j, "hidden_act", gm_act_name((gm_act)c->hidden_act)) != NULL;
    ok &= cJSON_AddStringToObject(j, "likelihood", c->gaussian ? "gaussian" : "bernoulli") != NULL;
    ok &= cJSON_AddNumberToObject(j, "dec_sigma", c->dec_sigma) != NULL;
    ok &= cJSON_AddNumberToObject(j, "beta", c->beta) != NULL;
    ok &= cJSON_AddNumberToObject(j, "sigma_c", c->sigma_c) != NULL;
    ok &= cJSON_AddNumberToObject(j, "lambda_adv", c->lambda_adv) != NULL;
    ok &= cJSON_AddNumberToObject(j, "lr", c->lr) != NULL;
    ok &= cJSON_AddNumberToObject(j, "beta1", c->beta1) != NULL;
    ok &= cJSON_AddNumberToObject(j, "beta2", c->beta2) != NULL;
    ok &= cJSON_AddNumberToObject(j, "adam_eps", c->adam_eps) != NULL;
    ok &= cJSON_AddNumberToObject(j, "epochs", (double)c->epochs) != NULL;
    ok &= cJSON_AddNumberToObject(j, "batch", (double)c->batch) != NULL;
    char *js = ok ? cJSON_PrintUnformatted(j) : NULL; /* an Add that ran out of memory returned NULL/false */
    cJSON_Delete(j);
    if (!js) return gm_set_error(GM_ENOMEM, "out of memory writing the checkpoint config");
    gm_checkpoint_meta m = {gm_ae_type_name(c->type), js, ae->opt.step, ae->epoch, ae->seed, NULL};
    int rc = gm_checkpoint_save(path, &ae->p, &ae->opt, &m);
    cJSON_free(js);
    return rc;
}

static int jnum(const cJSON *o, const char *k, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) return -1;
    *v = x->valuedouble;
    return 0;
}

int gm_ae_load(gm_ae **out, const char *path) {
    GM_ASSERT(out && path);
    *out = NULL;
    gm_checkpoint *ck = NULL;
    cJSON *j = NULL;
    gm_ae *ae = NULL;
    int rc = gm_checkpoint_open(&ck, path);
    if (rc) return rc;
    const char *model = gm_checkpoint_meta_get(ck, "model"), *js = gm_checkpoint_meta_get(ck, "config");
    int type = gm_ae_type_from_name(model);
    if (type < 0) {
        rc = gm_set_error(GM_EFORMAT, "%s: not an autoencoder checkpoint (model '%s')", path, model ? model : "?");
        goto done;
    }
    gm_clear_error();
    j = js ? cJSON_Parse(js) : NULL;
    if (js && !j && gm_last_error()[0]) { /* cJSON allocates through gm_malloc, which left the message */
        rc = GM_ENOMEM;
        goto done;
    }
    gm_ae_config c = gm_ae_config_default((gm_ae_type)type);
    double v[16];
    const cJSON *h = j ? cJSON_GetObjectItemCaseSensitive(j, "hidden") : NULL;
    const char *act = j ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "hidden_act")) : NULL;
    const char *lik = j ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "likelihood")) : NULL;
    const char *arch = j ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "arch")) : NULL;
    const char *seed = gm_checkpoint_meta_get(ck, "seed"), *epoch = gm_checkpoint_meta_get(ck, "epoch");
    if (!j || jnum(j, "data_dim", &v[0]) || jnum(j, "latent_dim", &v[1]) || !cJSON_IsArray(h) ||
        cJSON_GetArraySize(h) != 2 || jnum(j, "disc_hidden", &v[2]) || jnum(j, "dec_sigma", &v[3]) ||
        jnum(j, "beta", &v[4]) || jnum(j, "sigma_c", &v[5]) || jnum(j, "lambda_adv", &v[6]) || jnum(j, "lr", &v[7]) ||
        jnum(j, "beta1", &v[8]) || jnum(j, "beta2", &v[9]) || jnum(j, "adam_eps", &v[10]) ||
        jnum(j, "epochs", &v[11]) || jnum(j, "batch", &v[12]) || !act || gm_act_from_name(act) < 0 || !lik ||
        !seed || !epoch || v[0] < 1 || v[1] < 1 || v[12] < 1 || !arch || (strcmp(arch, "mlp") && strcmp(arch, "conv"))) {
        rc = gm_set_error(GM_EFORMAT, "%s: __metadata__ 'config' is missing, invalid or incomplete", path);
        goto done;
    }
    c.data_dim = (size_t)v[0], c.latent_dim = (size_t)v[1];
    c.hidden[0] = (size_t)cJSON_GetArrayItem(h, 0)->valuedouble;
    c.hidden[1] = (size_t)cJSON_GetArrayItem(h, 1)->valuedouble;
    c.disc_hidden = (size_t)v[2], c.dec_sigma = v[3], c.beta = v[4], c.sigma_c = v[5], c.lambda_adv = v[6];
    c.lr = v[7], c.beta1 = v[8], c.beta2 = v[9], c.adam_eps = v[10], c.epochs = (int64_t)v[11];
    c.batch = (size_t)v[12];
    c.hidden_act = gm_act_from_name(act);
    c.gaussian = !strcmp(lik, "gaussian");
    c.conv = !strcmp(arch, "conv");
    if ((rc = gm_ae_create(&ae, &c, strtoull(seed, NULL, 10)))) {
        gm_error_prefix(rc, path);
        goto done;
    }
    ae->epoch = strtoll(epoch, NULL, 10);
    if ((rc = gm_checkpoint_load_params(ck, &ae->p)) || (rc = gm_checkpoint_load_optim(ck, &ae->p, &ae->opt))) goto done;
    *out = ae;
    ae = NULL;
done:
    gm_ae_free(ae);
    cJSON_Delete(j);
    gm_checkpoint_close(ck);
    return rc;
}

/* ==== inference ==================================================================================== */

int gm_ae_encode(gm_ae *ae, float *mu, float *logvar, const float *x, size_t n) {
    GM_ASSERT(ae && mu && x);
    const size_t D = ae->cfg.data_dim, d = ae->cfg.latent_dim;
    const int aae = is_aae(ae->cfg.type);
    gm_tape *t = ae->inf_tape;
    for (size_t r0 = 0; r0 < n; r0 += AE_CHUNK) {
        size_t nb = n - r0 < AE_CHUNK ? n - r0 : AE_CHUNK;
        gm_tape_reset(t);
        gm_var *p[6];
        int rc = param_vars(ae, t, ae->enc_first, 1, p);
        if (rc) return rc;
        int64_t xs[2] = {(int64_t)nb, (int64_t)D};
        gm_var *o = enc_forward(ae, t, gm_tape_input(t, (float *)(uintptr_t)(x + r0 * D), 2, xs, 0), p);
        if ((rc = gm_tape_status(t))) return rc;
        const size_t w = aae ? d : 2 * d;
        for (size_t i = 0; i < nb; i++) {
            memcpy(mu + (r0 + i) * d, o->val + i * w, d * sizeof(float));
            if (logvar) {
                if (aae)
                    for (size_t j = 0; j < d; j++) logvar[(r0 + i) * d + j] = -HUGE_VALF;
                else
                    memcpy(logvar + (r0 + i) * d, o->val + i * w + d, d * sizeof(float));
            }
        }
    }
    gm_tape_reset(t);
    return GM_OK;
}

int gm_ae_decode(gm_ae *ae, float *x_mean, const float *z, size_t n) {
    GM_ASSERT(ae && x_mean && z);
    const size_t D = ae->cfg.data_dim, d = ae->cfg.latent_dim;
    gm_tape *t = ae->inf_tape;
    for (size_t r0 = 0; r0 < n; r0 += AE_CHUNK) {
        size_t nb = n - r0 < AE_CHUNK ? n - r0 : AE_CHUNK;
        gm_tape_reset(t);
        gm_var *p[6];
        int rc = param_vars(ae, t, ae->dec_first, 1, p);
        if (rc) return rc;
        int64_t zs[2] = {(int64_t)nb, (int64_t)d};
        gm_var *o = dec_forward(ae, t, gm_tape_input(t, (float *)(uintptr_t)(z + r0 * d), 2, zs, 0), p);
        o = gm_op_act(t, o, GM_ACT_SIGMOID, 0.0f);
        if ((rc = gm_tape_status(t))) return rc;
        memcpy(x_mean + r0 * D, o->val, nb * D * sizeof(float));
    }
    gm_tape_reset(t);
    return GM_OK;
}

static int view_decode(float *x_mean, const float *z, size_t n, void *p) { return gm_ae_decode(p, x_mean, z, n); }
static int view_encode(float *mu, float *logvar, const float *x, size_t n, void *p) {
    return gm_ae_encode(p, mu, logvar, x, n);
}

void gm_ae_as_model(gm_ae *ae, gm_ae_model *out) {
    GM_ASSERT(ae && out);
    memset(out, 0, sizeof *out);
    out->data_dim = ae->cfg.data_dim;
    out->latent_dim = ae->cfg.latent_dim;
    out->decode = view_decode;
    out->likelihood = ae->cfg.gaussian ? GM_AE_GAUSSIAN : GM_AE_BERNOULLI;
    out->dec_sigma = ae->cfg.dec_sigma;
    out->encode = view_encode;
    out->enc_stochastic = !is_aae(ae->cfg.type);
    out->params = ae;
}
