/* SPDX-License-Identifier: MIT */
/* prdiv_gan_conv.c — the PR-GAN trainer of spec §2.2 on 28×28 grey images (Fashion-MNIST) as a create/step/free
 * state machine: a DCGAN-style generator (linear z -> 2W×7×7, group norm, ReLU, transposed conv 4/2/1 to
 * W×14×14, group norm, ReLU, transposed conv 4/2/1 to 1×28×28, tanh) and a spectral-normalised conv critic
 * (conv 4/2/1 1 -> Wd, LeakyReLU 0.2, conv 4/2/1 Wd -> 2Wd, LeakyReLU 0.2, linear 2Wd·49 -> 1), n_D critic
 * steps per generator step with the χ² critic (or the baseline critics of prdiv_loss.c), the PR generator
 * loss, Adam (β1 = 0), EMA of the generator, checkpoints through gm_checkpoint_save (model "gan-conv").
 * Owns: one gm_params table holding G, D, EMA(G), the spectral-norm vectors and both Adam moment pairs (the
 * two gm_optim structs point into it), a tape, the batch buffers. The training images are borrowed
 * (gm_cgan_set_data). Thread safety: one gm_cgan per thread.
 * Determinism: the rows and noise of iteration i come from Philox streams keyed by i, so a run resumed from
 * a checkpoint is bitwise identical to an uninterrupted one. Images enter and leave in [0, 1]; the networks
 * work on 2x − 1 ∈ [−1, 1]. The iteration, sampling loop
 * and checkpoint reading are shared with the toy trainer (prdiv_gan_common.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "prdiv_internal.h"

enum { NG = 10, ND = 6 };
/* tensor indices in the table */
enum { T_G = 0, T_D = T_G + NG, T_EMA = T_D + ND, T_U = T_EMA + NG, T_GM = T_U + 3, T_GV, T_DM, T_DV, T_COUNT };
enum { PIX = 784 };

struct gm_cgan {
    gm_cgan_config cfg;
    gm_params P;
    gm_optim opt_g, opt_d;
    size_t n_g, n_d; /* floats spanned by G and by D in the slab (padding included) */
    int64_t step;
    gm_tape *tape;
    const float *data; /* borrowed: n_data x 784 in [0, 1] */
    size_t n_data;
    float *xr, *z, *scratch; /* n_critic*batch*784 real rows, batch*dim_z noise, 2*batch floats */
};

gm_cgan_config gm_cgan_config_default(void) {
    gm_cgan_config c;
    memset(&c, 0, sizeof c);
    c.objective = GM_GAN_PR;
    c.lambda = 1;
    c.dim_z = 64;
    c.g_width = 32;
    c.d_width = 32;
    c.groups = 8;
    c.batch = 64;
    c.n_critic = 2;
    c.lr_g = c.lr_d = 2e-4f;
    c.beta1 = 0;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.ema_decay = 0.999f;
    c.ema_start = 500;
    c.spectral_norm = 1;
    return c;
}

const gm_cgan_config *gm_cgan_get_config(const gm_cgan *g) { return &g->cfg; }
int64_t gm_cgan_get_step(const gm_cgan *g) { return g->step; }
gm_params *gm__cgan_params(gm_cgan *g) { return &g->P; }
static float *T(gm_cgan *g, size_t i) { return g->P.val + g->P.info[i].offset; }

static int check_cfg(const gm_cgan_config *c) {
    if ((unsigned)c->objective >= GM_GAN_COUNT) GM_FAIL(GM_EINVAL, "gan-conv: unknown objective %d", (int)c->objective);
    if (!(c->lambda > 0) || !isfinite(c->lambda)) GM_FAIL(GM_EINVAL, "gan-conv: lambda = %g must be finite and > 0", (double)c->lambda);
    if (c->dim_z < 1 || c->dim_z > 4096 || c->g_width < 1 || c->g_width > 1024 || c->d_width < 1 || c->d_width > 1024 ||
        c->batch < 1 || c->batch > 65536 || c->n_critic < 1 || c->n_critic > 100)
        GM_FAIL(GM_EINVAL, "gan-conv: dim_z, widths, batch and n_critic must be positive (and sane)");
    if (c->groups < 1 || c->g_width % c->groups)
        GM_FAIL(GM_EINVAL, "gan-conv: groups = %zu must divide the generator width %zu", c->groups, c->g_width);
    if (!(c->lr_g > 0) || !(c->lr_d > 0) || !(c->ema_decay >= 0 && c->ema_decay < 1) || c->ema_start < 0 || c->pretrain < 0)
        GM_FAIL(GM_EINVAL, "gan-conv: learning rates must be > 0 and the EMA decay in [0, 1)");
    return GM_OK;
}

int gm_cgan_create(gm_cgan **out, const gm_cgan_config *cfg) {
    *out = NULL;
    int rc = check_cfg(cfg);
    if (rc) return rc;
    gm_cgan *g = gm_calloc(1, sizeof *g);
    if (!g) return GM_ENOMEM;
    g->cfg = *cfg;
    gm_params_init(&g->P);
    int64_t W = (int64_t)cfg->g_width, Wd = (int64_t)cfg->d_width, Z = (int64_t)cfg->dim_z;
    struct {
        const char *name;
        int nd;
        int64_t s[4];
    } gt[NG] = {{"fc.weight", 2, {2 * W * 49, Z}}, {"fc.bias", 1, {2 * W * 49}}, {"gn0.weight", 1, {2 * W}},
                {"gn0.bias", 1, {2 * W}},          {"ct1.weight", 4, {2 * W, W, 4, 4}}, {"ct1.bias", 1, {W}},
                {"gn1.weight", 1, {W}},            {"gn1.bias", 1, {W}}, {"ct2.weight", 4, {W, 1, 4, 4}},
                {"ct2.bias", 1, {1}}},
      dt[ND] = {{"c0.weight", 4, {Wd, 1, 4, 4}}, {"c0.bias", 1, {Wd}},          {"c1.weight", 4, {2 * Wd, Wd, 4, 4}},
                {"c1.bias", 1, {2 * Wd}},       {"fc.weight", 2, {1, 2 * Wd * 49}}, {"fc.bias", 1, {1}}};
    char name[48];
    for (int net = 0; net < 3; net++)
        for (int j = 0; j < (net == 1 ? ND : NG); j++) {
            snprintf(name, sizeof name, "%s.%s", net == 0 ? "G" : net == 1 ? "D" : "ema", net == 1 ? dt[j].name : gt[j].name);
            if ((rc = (int)gm_params_add(&g->P, name, net == 1 ? dt[j].nd : gt[j].nd, net == 1 ? dt[j].s : gt[j].s)) < 0) goto fail;
        }
    static const char *un[3] = {"D.c0.sn_u", "D.c1.sn_u", "D.fc.sn_u"};
    for (int k = 0; k < 3; k++)
        if ((rc = (int)gm_params_add(&g->P, un[k], 1, dt[2 * k].s)) < 0) goto fail;
    const gm_param_info *I = g->P.info;
    size_t ng = I[T_G + NG - 1].offset + I[T_G + NG - 1].n - I[T_G].offset;
    size_t nd = I[T_D + ND - 1].offset + I[T_D + ND - 1].n - I[T_D].offset;
    int64_t a = (int64_t)ng, b = (int64_t)nd;
    static const char *on[4] = {"adamG.m", "adamG.v", "adamD.m", "adamD.v"};
    for (int k = 0; k < 4; k++)
        if ((rc = (int)gm_params_add(&g->P, on[k], 1, k < 2 ? &a : &b)) < 0) goto fail;
    if ((rc = gm_params_alloc(&g->P))) goto fail;
    g->n_g = ng, g->n_d = nd;
    /* init (DCGAN, spec §2.3): weights N(0, 0.02), biases 0, group-norm scales 1; EMA = G; SN vectors
     * N(0, 1) normalised */
    gm_rng r;
    gm_rng_init(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    for (size_t j = 0; j < T_EMA; j++) {
        const char *nm = g->P.info[j].name;
        float *p = T(g, j);
        size_t n = g->P.info[j].n;
        if (strstr(nm, ".gn") && strstr(nm, "weight"))
            for (size_t i = 0; i < n; i++) p[i] = 1;
        else if (strstr(nm, "weight")) {
            gm_rng_normal_fill(&r, p, n);
            for (size_t i = 0; i < n; i++) p[i] *= 0.02f;
        }
    }
    gm__gan_layout L = {T_G, T_EMA, T_U, T_GM, ng, nd, T_D};
    gm__gan_init_tail(&g->P, &L, &r, cfg->beta1, cfg->beta2, cfg->eps, &g->opt_g, &g->opt_d);
    g->xr = gm_malloc(cfg->n_critic * cfg->batch * PIX * sizeof(float));
    g->z = gm_malloc(cfg->batch * cfg->dim_z * sizeof(float));
    g->scratch = gm_malloc(2 * cfg->batch * sizeof(float));
    rc = GM_ENOMEM;
    if (!g->xr || !g->z || !g->scratch) goto fail;
    if ((rc = gm_tape_create(&g->tape, 0))) goto fail;
    *out = g;
    return GM_OK;
fail:
    gm_cgan_free(g);
    return rc < 0 ? rc : GM_ENOMEM;
}

void gm_cgan_free(gm_cgan *g) {
    if (!g) return;
    gm_params_free(&g->P);
    gm_tape_free(g->tape);
    gm_free(g->xr);
    gm_free(g->z);
    gm_free(g->scratch);
    gm_free(g);
}

int gm_cgan_set_data(gm_cgan *g, const float *images, size_t n) {
    if (!images || n < 1) GM_FAIL(GM_EINVAL, "gan-conv: no training images");
    g->data = images, g->n_data = n;
    return GM_OK;
}

int gm_cgan_set_objective(gm_cgan *g, gm_gan_objective obj, float lambda) {
    gm_cgan_config c = g->cfg;
    c.objective = obj, c.lambda = lambda;
    int rc = check_cfg(&c);
    if (!rc) g->cfg = c;
    return rc;
}

int gm_cgan_set_ema(gm_cgan *g, float decay) {
    if (!(decay >= 0 && decay < 1)) GM_FAIL(GM_EINVAL, "gan-conv: EMA decay %g must be in [0, 1)", (double)decay);
    g->cfg.ema_decay = decay;
    return GM_OK;
}

/* generator with tensors from `base` (T_G or T_EMA) -> (B,1,28,28) in [−1, 1] */
static gm_var *G_fwd(gm_cgan *g, gm_var *z, size_t base, int frozen) {
    gm_tape *t = g->tape;
    const gm_cgan_config *c = &g->cfg;
    gm_var *p[NG];
    for (int j = 0; j < NG; j++) p[j] = gm_params_var(&g->P, t, base + (size_t)j, frozen || base != T_G);
    int64_t B = z->shape[0], W = (int64_t)c->g_width, s0[4] = {B, 2 * W, 7, 7};
    gm_var *h = gm_op_reshape(t, gm_op_linear(t, z, p[0], p[1]), 4, s0);
    h = gm_op_groupnorm_relu(t, h, (int)c->groups, p[2], p[3], 1e-5f); /* group norm + ReLU, one node */
    h = gm_op_conv_transpose2d(t, h, p[4], p[5], 2, 1);
    h = gm_op_groupnorm_relu(t, h, (int)c->groups, p[6], p[7], 1e-5f);
    return gm_op_act(t, gm_op_conv_transpose2d(t, h, p[8], p[9], 2, 1), GM_ACT_TANH, 0);
}

/* critic (one power iteration of every SN vector per call) -> (B,1) */
static gm_var *D_fwd(gm_cgan *g, gm_var *x, int frozen) {
    gm_tape *t = g->tape;
    gm_var *h = x;
    for (int k = 0; k < 3; k++) {
        gm_var *w = gm_params_var(&g->P, t, T_D + 2 * (size_t)k, frozen), *b = gm_params_var(&g->P, t, T_D + 2 * (size_t)k + 1, frozen);
        if (g->cfg.spectral_norm) w = gm_op_spectral_norm(t, w, T(g, T_U + (size_t)k), 1, 1e-12f);
        h = k < 2 ? gm_op_conv2d_lrelu(t, h, w, b, 2, 1, 0.2f) : gm_op_linear(t, h, w, b);
    }
    return h;
}

/* batch rows of chunk `idx` drawn uniformly with replacement, scaled to [−1, 1] */
static void draw_rows(gm_cgan *g, float *x, uint64_t idx) {
    gm_rng r;
    gm_rng_init(&r, g->cfg.seed, gm_rng_stream_id(GM_STREAM_DATA, idx));
    for (size_t i = 0; i < g->cfg.batch; i++) {
        const float *src = g->data + gm_rng_below(&r, g->n_data) * PIX;
        for (size_t j = 0; j < PIX; j++) x[i * PIX + j] = 2 * src[j] - 1;
    }
}

int gm_cgan_step(gm_cgan *g, gm_gan_status *st) { return gm__cgan_step_with(g, NULL, NULL, st); }

static gm_var *G_train(void *g, gm_var *z, int frozen) { return G_fwd(g, z, T_G, frozen); }
static gm_var *D_any(void *g, gm_var *x, int frozen) { return D_fwd(g, x, frozen); }

int gm__cgan_step_with(gm_cgan *g, const float *xr_in, const float *z_in, gm_gan_status *st) {
    const gm_cgan_config *c = &g->cfg;
    size_t B = c->batch, it = (size_t)g->step;
    if (!xr_in && !g->data) GM_FAIL(GM_EINVAL, "gan-conv: no training images (gm_cgan_set_data)");
    int64_t xs[4] = {(int64_t)B, 1, 28, 28};
    if (xr_in) memcpy(g->xr, xr_in, c->n_critic * B * PIX * sizeof(float));
    else
        for (size_t s = 0; s < c->n_critic; s++) draw_rows(g, g->xr + s * B * PIX, (uint64_t)(it * c->n_critic + s));
    gm__gan_layout L = {T_G, T_EMA, T_U, T_GM, g->n_g, g->n_d, T_D};
    gm_gan_objective o = c->objective;
    float thr = o == GM_GAN_KL ? 1 : o == GM_GAN_RKL ? -1 : o == GM_GAN_PR_DUAL ? c->lambda / 2 : 0;
    gm__gan_iter I = {g, G_train, D_any, "gan-conv", g->tape, &g->P, &L, &g->opt_g, &g->opt_d, &g->step, g->xr, g->z,
                      z_in, B, c->dim_z, c->n_critic, PIX, 4, xs, c->seed, gm_gan_critic_objective(o),
                      g->step < c->pretrain ? GM_GAN_CHI2 : o, o == GM_GAN_PR_NOFLOOR ? o : GM_GAN_PR, c->lambda, c->lr_g, c->lr_d, thr,
                      c->ema_decay, c->ema_start, g->scratch};
    return gm__gan_iterate(&I, st);
}

/* forward of n rows through G (net 0, x: n × 784 in [−1, 1]) or the critic (net 1, x: n values), then the
 * backward of sum(dout · out): parameter gradients (zeroed first) into the table's grad slab, the input
 * gradient into din (n × dim_z or n × 784). Used by the golden tests. */
int gm__cgan_fwd_bwd(gm_cgan *g, int net, const float *in, size_t n, const float *dout, float *out, float *din) {
    gm_tape *t = g->tape;
    size_t nin = net ? PIX : g->cfg.dim_z, nout = net ? 1 : PIX;
    float *xin = gm_malloc(n * nin * sizeof(float));
    if (!xin) return GM_ENOMEM;
    memcpy(xin, in, n * nin * sizeof(float));
    gm_tape_reset(t);
    gm_params_zero_grad(&g->P);
    gm_var *x = net ? gm_tape_input(t, xin, 4, (int64_t[]){(int64_t)n, 1, 28, 28}, 1)
                    : gm_tape_input(t, xin, 2, (int64_t[]){(int64_t)n, (int64_t)g->cfg.dim_z}, 1);
    gm_var *o = net ? D_fwd(g, x, 0) : G_fwd(g, x, T_G, 0);
    int rc = gm_tape_status(t);
    if (!rc) rc = gm_tape_backward_from(t, o, dout);
    if (!rc) {
        memcpy(out, o->val, n * nout * sizeof(float));
        memcpy(din, x->grad, n * nin * sizeof(float));
    }
    gm_tape_reset(t);
    gm_free(xin);
    return rc;
}

static gm_var *G_sample(void *g, gm_var *z, int ema) { return G_fwd(g, z, ema ? T_EMA : T_G, 1); }

int gm_cgan_sample(gm_cgan *g, float *x, size_t n, int ema, uint64_t stream) {
    return gm__gan_sample_loop(g, G_sample, g->tape, g->cfg.seed, g->cfg.dim_z, 256, PIX, 1, x, n, ema, stream);
}

/* ---- checkpoints ---- */
static void config_json(const gm_cgan_config *c, char *buf, size_t len) {
    snprintf(buf, len,
             "{\"objective\":\"%s\",\"lambda\":%.9g,\"dim_z\":%zu,\"g_width\":%zu,\"d_width\":%zu,\"groups\":%zu,"
             "\"batch\":%zu,\"n_critic\":%zu,\"lr_g\":%.9g,\"lr_d\":%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g,"
             "\"ema_decay\":%.9g,\"ema_start\":%lld,\"spectral_norm\":%d,\"pretrain\":%lld,\"data\":\"fashion-mnist\"}",
             gm_gan_objective_name(c->objective), (double)c->lambda, c->dim_z, c->g_width, c->d_width, c->groups, c->batch,
             c->n_critic, (double)c->lr_g, (double)c->lr_d, (double)c->beta1, (double)c->beta2, (double)c->eps,
             (double)c->ema_decay, (long long)c->ema_start, c->spectral_norm, (long long)c->pretrain);
}

int gm_cgan_save(const gm_cgan *g, const char *path) {
    char cfg[1024];
    config_json(&g->cfg, cfg, sizeof cfg);
    gm_checkpoint_meta m = {"gan-conv", cfg, g->step, 0, g->cfg.seed, NULL};
    return gm_checkpoint_save(path, &g->P, NULL, &m);
}

int gm_cgan_load(gm_cgan **out, const char *path) {
    *out = NULL;
    gm_checkpoint *ck;
    const char *js, *step, *seed;
    int rc = gm__gan_ckpt_open(&ck, path, "gan-conv", "conv-GAN", &js, &step, &seed);
    if (rc) return rc;
    gm_cgan_config c = gm_cgan_config_default();
    char v[128];
    int bad = 0, oom = 0, o;
    bad |= !gm__json_str(js, "objective", &bad, &oom, v, sizeof v) || (o = gm_gan_objective_from_name(v)) < 0;
    if (!bad) c.objective = (gm_gan_objective)o;
#define R(k, t) GM__CK_REQ(gm_cgan_config, k, t)
    static const gm__ck_field rows[] = {
        R(lambda, F32), R(dim_z, SIZE),    R(g_width, SIZE), R(d_width, SIZE),     R(groups, SIZE),
        R(batch, SIZE), R(n_critic, SIZE), R(lr_g, F32),     R(lr_d, F32),         R(beta1, F32),
        R(beta2, F32),  R(eps, F32),       R(ema_decay, F32), R(ema_start, I64),   R(spectral_norm, INT),
        R(pretrain, I64),
    };
#undef R
    gm__ckpt_read_fields(js, rows, sizeof rows / sizeof rows[0], &c, &bad, &oom);
    c.seed = strtoull(seed, NULL, 10);
    if ((rc = gm__ckpt_config_end(ck, path, "conv-GAN", bad, oom))) return rc;
    gm_cgan *g = NULL;
    if (!(rc = gm_cgan_create(&g, &c)) && !(rc = gm_checkpoint_load_params(ck, &g->P))) {
        g->step = strtoll(step, NULL, 10);
        g->opt_g.step = g->step;
        g->opt_d.step = g->step * (int64_t)c.n_critic;
    }
    gm_checkpoint_close(ck);
    if (rc) {
        gm_cgan_free(g);
        return rc;
    }
    *out = g;
    return GM_OK;
}
