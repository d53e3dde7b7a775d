/* SPDX-License-Identifier: MIT */
/* prdiv_gan.c — the GAN trainer of spec §2.2 on 2-D toys as a create/step/free state machine: MLP
 * generator and critic (spectral norm on every critic layer, one power iteration per critic call), n_D
 * critic steps per generator step, Adam (β1 = 0), EMA of the generator, the PR / f-GAN / hinge objectives
 * of prdiv_loss.c; checkpoints through gm_checkpoint_save with every piece of state in one table.
 * Owns: one gm_params table holding G, D, EMA(G), the spectral-norm vectors and both Adam moment pairs
 * (the two gm_optim structs point into it), and a tape. Thread safety: one gm_gan per thread.
 * Determinism: the data and noise of iteration i come from Philox streams keyed by i, so a run resumed
 * from a checkpoint is bitwise identical to an uninterrupted one. The iteration, sampling loop and checkpoint
 * reading are shared with the conv trainer (prdiv_gan_common.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "prdiv_internal.h"

/* tensor indices in the table */
enum { T_G = 0, T_D = 6, T_EMA = 12, T_U = 18, T_GM = 21, T_GV, T_DM, T_DV, T_COUNT };

struct gm_gan {
    gm_gan_config cfg;
    gm_params P;
    gm_optim opt_g, opt_d; /* m/v point into P */
    size_t n_g, n_d;       /* floats spanned by G and by D in the slab (from tensors T_G and T_D, padding included) */
    int64_t step;
    gm_tape *tape;
    float *xr, *z; /* n_critic*batch*2 real rows, batch*dim_z noise */
};

gm_gan_config gm_gan_config_default(void) {
    gm_gan_config c;
    memset(&c, 0, sizeof c);
    c.objective = GM_GAN_PR;
    c.lambda = 1;
    c.dim_z = 8;
    c.hidden = 128;
    c.batch = 128;
    c.n_critic = 4;
    c.lr_g = c.lr_d = 2e-4f;
    c.beta1 = 0;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.ema_decay = 0.999f;
    c.ema_start = 500;
    c.spectral_norm = 1;
    c.critic_gain = 1;
    c.data = GM_TOY_8GAUSS;
    return c;
}

const gm_gan_config *gm_gan_get_config(const gm_gan *g) { return &g->cfg; }
int64_t gm_gan_get_step(const gm_gan *g) { return g->step; }

static int check_cfg(const gm_gan_config *c);
int gm_gan_reconfigure(gm_gan *g, const gm_gan_config *cfg) {
    gm_gan_config c = g->cfg; /* everything but the fine-tuning fields stays the run's own */
    c.objective = cfg->objective, c.lambda = cfg->lambda, c.n_critic = cfg->n_critic;
    c.lr_g = cfg->lr_g, c.lr_d = cfg->lr_d;
    int rc = check_cfg(&c);
    if (rc) return rc;
    if (c.n_critic > g->cfg.n_critic) {
        float *xr = gm_malloc(c.n_critic * c.batch * 2 * sizeof(float));
        if (!xr) return GM_ENOMEM;
        gm_free(g->xr);
        g->xr = xr;
    }
    g->cfg = c;
    return GM_OK;
}

static float *T(gm_gan *g, size_t i) { return g->P.val + g->P.info[i].offset; }

static int check_cfg(const gm_gan_config *c) {
    if ((unsigned)c->objective >= GM_GAN_COUNT) GM_FAIL(GM_EINVAL, "gan: unknown objective %d", (int)c->objective);
    if (!(c->lambda > 0) || !isfinite(c->lambda)) GM_FAIL(GM_EINVAL, "gan: lambda = %g must be finite and > 0", (double)c->lambda);
    if (c->dim_z < 1 || c->hidden < 1 || c->batch < 1 || c->n_critic < 1 || c->dim_z > 4096 || c->hidden > 8192 ||
        c->batch > 65536 || c->n_critic > 100 || !(c->critic_gain > 0 && c->critic_gain <= 1e6f))
        GM_FAIL(GM_EINVAL, "gan: dim_z, hidden, batch, n_critic and critic_gain must be positive (and sane)");
    if (!(c->lr_g > 0) || !(c->lr_d > 0) || !(c->ema_decay >= 0 && c->ema_decay < 1) || c->ema_start < 0 || c->pretrain < 0)
        GM_FAIL(GM_EINVAL, "gan: learning rates must be > 0 and the EMA decay in [0, 1)");
    if (gm_toy_name(c->data) == NULL) GM_FAIL(GM_EINVAL, "gan: unknown data set %d", (int)c->data);
    return GM_OK;
}

int gm_gan_create(gm_gan **out, const gm_gan_config *cfg) {
    *out = NULL;
    int rc = check_cfg(cfg);
    if (rc) return rc;
    gm_gan *g = gm_calloc(1, sizeof *g);
    if (!g) return GM_ENOMEM;
    g->cfg = *cfg;
    gm_params_init(&g->P);
    int64_t H = (int64_t)cfg->hidden, Z = (int64_t)cfg->dim_z;
    int64_t gs[6][2] = {{H, Z}, {H, 1}, {H, H}, {H, 1}, {2, H}, {2, 1}};
    int64_t ds[6][2] = {{H, 2}, {H, 1}, {H, H}, {H, 1}, {1, H}, {1, 1}};
    const char *pre[3] = {"G", "D", "ema"};
    for (int net = 0; net < 3; net++)
        for (int j = 0; j < 6; j++) {
            char name[32];
            snprintf(name, sizeof name, "%s.%d.%s", pre[net], 2 * (j / 2), j % 2 ? "bias" : "weight");
            const int64_t *sh = net == 1 ? ds[j] : gs[j];
            if ((rc = (int)gm_params_add(&g->P, name, j % 2 ? 1 : 2, sh)) < 0) goto fail;
        }
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "D.%d.sn_u", 2 * k);
        int64_t n = ds[2 * k][0];
        if ((rc = (int)gm_params_add(&g->P, name, 1, &n)) < 0) goto fail;
    }
    /* the span of each net in the slab, padding included: gm_params keeps every tensor 16-float aligned,
     * so the sum of the tensor sizes would miss the tail of the last layer whenever a size is not a
     * multiple of 16 (e.g. --hidden 100 or --dim-z 3) */
    const gm_param_info *I = g->P.info;
    size_t ng = I[T_G + 5].offset + I[T_G + 5].n - I[T_G].offset, nd = I[T_D + 5].offset + I[T_D + 5].n - I[T_D].offset;
    int64_t a = (int64_t)ng, b = (int64_t)nd;
    const char *on[4] = {"adamG.m", "adamG.v", "adamD.m", "adamD.v"};
    for (int k = 0; k < 4; k++)
        if ((rc = (int)gm_params_add(&g->P, on[k], 1, k < 2 ? &a : &b)) < 0) goto fail;
    if ((rc = gm_params_alloc(&g->P))) goto fail;
    g->n_g = ng, g->n_d = nd;
    /* init: PyTorch-default uniform(±1/sqrt(fan_in)); EMA = G; SN vectors ~ N(0,1) normalised */
    gm_rng r;
    gm_rng_init(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    for (int j = 0; j < 12; j++) {
        double fan_in = (double)g->P.info[j - j % 2].shape[1];
        gm_params_uniform(&g->P, (size_t)j, 1.0 / sqrt(fan_in), &r);
    }
    gm__gan_layout L = {T_G, T_EMA, T_U, T_GM, ng, nd, T_D};
    gm__gan_init_tail(&g->P, &L, &r, cfg->beta1, cfg->beta2, cfg->eps, &g->opt_g, &g->opt_d);
    g->xr = gm_malloc(cfg->n_critic * cfg->batch * 2 * sizeof(float));
    g->z = gm_malloc(cfg->batch * cfg->dim_z * sizeof(float));
    rc = GM_ENOMEM;
    if (!g->xr || !g->z) goto fail;
    if ((rc = gm_tape_create(&g->tape, 0))) goto fail;
    *out = g;
    return GM_OK;
fail:
    gm_gan_free(g);
    return rc < 0 ? rc : GM_ENOMEM;
}

void gm_gan_free(gm_gan *g) {
    if (!g) return;
    gm_params_free(&g->P);
    gm_tape_free(g->tape);
    gm_free(g->xr);
    gm_free(g->z);
    gm_free(g);
}

/* generator with tensors from `base` (T_G or T_EMA) */
static gm_var *G_fwd(gm_gan *g, gm_var *z, size_t base, int frozen) {
    gm_tape *t = g->tape;
    gm_var *p[6];
    for (int j = 0; j < 6; j++) p[j] = gm_params_var(&g->P, t, base + (size_t)j, frozen || base != T_G);
    gm_var *h = gm_op_act(t, gm_op_linear(t, z, p[0], p[1]), GM_ACT_RELU, 0);
    h = gm_op_act(t, gm_op_linear(t, h, p[2], p[3]), GM_ACT_RELU, 0);
    return gm_op_linear(t, h, p[4], p[5]);
}

static gm_var *D_fwd(gm_gan *g, gm_var *x, int frozen) {
    gm_tape *t = g->tape;
    gm_var *h = x;
    for (int k = 0; k < 3; k++) {
        gm_var *w = gm_params_var(&g->P, t, T_D + 2 * (size_t)k, frozen), *b = gm_params_var(&g->P, t, T_D + 2 * (size_t)k + 1, frozen);
        if (g->cfg.spectral_norm) w = gm_op_spectral_norm(t, w, T(g, T_U + (size_t)k), 1, 1e-12f);
        h = gm_op_linear(t, h, w, b);
        if (k < 2) h = gm_op_act(t, h, GM_ACT_LEAKY_RELU, 0.2f);
    }
    return g->cfg.critic_gain != 1 ? gm_op_scale(t, h, g->cfg.critic_gain, 0) : h;
}

static float threshold(const gm_gan_config *c) {
    switch (c->objective) {
    case GM_GAN_KL:
    case GM_GAN_PR_KL: return 1;
    case GM_GAN_RKL: return -1;
    case GM_GAN_PR_DUAL: return c->lambda / 2;
    default: return 0;
    }
}

int gm_gan_step(gm_gan *g, gm_gan_status *st) { return gm__gan_step_with(g, NULL, NULL, st); }

gm_params *gm__gan_params(gm_gan *g) { return &g->P; }

static gm_var *G_train(void *g, gm_var *z, int frozen) { return G_fwd(g, z, T_G, frozen); }
static gm_var *D_any(void *g, gm_var *x, int frozen) { return D_fwd(g, x, frozen); }

int gm__gan_step_with(gm_gan *g, const float *xr_in, const float *z_in, gm_gan_status *st) {
    const gm_gan_config *c = &g->cfg;
    size_t B = c->batch, it = (size_t)g->step;
    int64_t xs[2] = {(int64_t)B, 2};
    if (xr_in) memcpy(g->xr, xr_in, c->n_critic * B * 2 * sizeof(float));
    else
        for (size_t s = 0; s < c->n_critic; s++)
            gm_toy_sample(c->data, g->xr + s * B * 2, B, c->seed, gm_rng_stream_id(GM_STREAM_DATA, (uint64_t)(it * c->n_critic + s)));
    gm__gan_layout L = {T_G, T_EMA, T_U, T_GM, g->n_g, g->n_d, T_D};
    /* pre-training: the f-GAN loss of the objective's own critic (χ² for pr, KL for pr-kl); g->z (batch*dim_z
     * >= batch floats) is free for the status once the generator step has run */
    gm_gan_objective gen_obj = g->step < c->pretrain ? (c->objective == GM_GAN_PR_KL ? GM_GAN_KL : GM_GAN_CHI2) : c->objective;
    gm__gan_iter I = {g, G_train, D_any, "gan", g->tape, &g->P, &L, &g->opt_g, &g->opt_d, &g->step, g->xr, g->z, z_in,
                      B, c->dim_z, c->n_critic, 2, 2, xs, c->seed, gm_gan_critic_objective(c->objective), gen_obj,
                      gm_gan_is_pr(c->objective) ? c->objective : GM_GAN_PR, c->lambda, c->lr_g, c->lr_d, threshold(c),
                      c->ema_decay, c->ema_start, g->z};
    return gm__gan_iterate(&I, st);
}

static gm_var *G_sample(void *g, gm_var *z, int ema) { return G_fwd(g, z, ema ? T_EMA : T_G, 1); }

int gm_gan_sample(gm_gan *g, float *x, size_t n, int ema, uint64_t stream) {
    return gm__gan_sample_loop(g, G_sample, g->tape, g->cfg.seed, g->cfg.dim_z, 4096, 2, 0, x, n, ema, stream);
}

int gm_gan_critic(gm_gan *g, const float *x, size_t n, float *v) {
    gm_tape *t = g->tape;
    /* evaluate with a copy of the SN vectors so that probing does not advance the training state */
    size_t nu = 0;
    for (int k = 0; k < 3; k++) nu += g->P.info[T_U + k].n;
    float *keep = gm_malloc(nu * sizeof(float));
    if (!keep) return GM_ENOMEM;
    memcpy(keep, T(g, T_U), nu * sizeof(float)); /* the three vectors are contiguous */
    gm_tape_reset(t);
    int prev = gm_tape_no_grad(t, 1);
    gm_var *o = D_fwd(g, gm_tape_input(t, (float *)x, 2, (int64_t[]){(int64_t)n, 2}, 0), 1);
    gm_tape_no_grad(t, prev);
    int rc = gm_tape_status(t);
    if (!rc) memcpy(v, o->val, n * sizeof(float));
    memcpy(T(g, T_U), keep, nu * sizeof(float));
    gm_tape_reset(t);
    gm_free(keep);
    return rc;
}

/* ---- checkpoints ---- */
static void config_json(const gm_gan_config *c, int64_t d_steps, char *buf, size_t len) {
    snprintf(buf, len,
             "{\"objective\":\"%s\",\"lambda\":%.9g,\"dim_z\":%zu,\"hidden\":%zu,\"batch\":%zu,\"n_critic\":%zu,"
             "\"lr_g\":%.9g,\"lr_d\":%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g,\"ema_decay\":%.9g,"
             "\"ema_start\":%lld,\"spectral_norm\":%d,\"critic_gain\":%.9g,\"pretrain\":%lld,\"data\":\"%s\","
             "\"d_steps\":%lld}",
             gm_gan_objective_name(c->objective), (double)c->lambda, c->dim_z, c->hidden, c->batch, c->n_critic,
             (double)c->lr_g, (double)c->lr_d, (double)c->beta1, (double)c->beta2, (double)c->eps,
             (double)c->ema_decay, (long long)c->ema_start, c->spectral_norm, (double)c->critic_gain, (long long)c->pretrain,
             gm_toy_name(c->data), (long long)d_steps);
}

int gm_gan_save(const gm_gan *g, const char *path) {
    char cfg[1024];
    config_json(&g->cfg, g->opt_d.step, cfg, sizeof cfg);
    gm_checkpoint_meta m = {"gan", cfg, g->step, 0, g->cfg.seed, NULL};
    return gm_checkpoint_save(path, &g->P, NULL, &m);
}

int gm__json_field(const char *js, const char *key, char *out, size_t len) {
    gm_clear_error();
    cJSON *root = cJSON_Parse(js);
    if (!root && gm_last_error()[0]) return GM_ENOMEM; /* cJSON allocates through gm_malloc (message left) */
    const cJSON *it = root ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;
    int n = -1;
    if (cJSON_IsString(it)) n = snprintf(out, len, "%s", it->valuestring);
    else if (cJSON_IsNumber(it)) n = snprintf(out, len, "%.17g", it->valuedouble);
    cJSON_Delete(root);
    return n >= 0 && (size_t)n < len ? GM_OK : GM_EFORMAT;
}

int gm_gan_load(gm_gan **out, const char *path) {
    *out = NULL;
    gm_checkpoint *ck;
    const char *js, *step, *seed;
    int rc = gm__gan_ckpt_open(&ck, path, "gan", "GAN", &js, &step, &seed);
    if (rc) return rc;
    gm_gan_config c = gm_gan_config_default();
    char v[128];
    int bad = 0, oom = 0, o, jr;
    bad |= !gm__json_str(js, "objective", &bad, &oom, v, sizeof v) || (o = gm_gan_objective_from_name(v)) < 0;
    if (!bad) c.objective = (gm_gan_objective)o;
    bad |= !gm__json_str(js, "data", &bad, &oom, v, sizeof v) || (o = gm_toy_from_name(v)) < 0;
    if (!bad) c.data = (gm_toy)o;
#define R(k, t) GM__CK_REQ(gm_gan_config, k, t)
    static const gm__ck_field rows[] = {
        R(lambda, F32),  R(dim_z, SIZE), R(hidden, SIZE),    R(batch, SIZE),     R(n_critic, SIZE),
        R(lr_g, F32),    R(lr_d, F32),   R(beta1, F32),      R(beta2, F32),      R(eps, F32),
        R(ema_decay, F32), R(ema_start, I64), R(spectral_norm, INT), R(pretrain, I64),
        GM__CK_OPT(gm_gan_config, critic_gain, F32), /* optional (absent: 1) */
    };
#undef R
    gm__ckpt_read_fields(js, rows, sizeof rows / sizeof rows[0], &c, &bad, &oom);
    int64_t d_steps = -1; /* optional (absent: step × n_critic, exact unless n_critic was changed by fine-tuning) */
    if (!oom) {
        jr = gm__json_field(js, "d_steps", v, sizeof v);
        if (jr == GM_ENOMEM) oom = 1;
        else if (jr == GM_OK) d_steps = strtoll(v, NULL, 10);
    }
    c.seed = strtoull(seed, NULL, 10);
    if ((rc = gm__ckpt_config_end(ck, path, "GAN", bad, oom))) return rc;
    gm_gan *g = NULL;
    if (!(rc = gm_gan_create(&g, &c)) && !(rc = gm_checkpoint_load_params(ck, &g->P))) {
        g->step = strtoll(step, NULL, 10);
        g->opt_g.step = g->step;
        g->opt_d.step = d_steps >= 0 ? d_steps : g->step * (int64_t)c.n_critic;
    }
    gm_checkpoint_close(ck);
    if (rc) {
        gm_gan_free(g);
        return rc;
    }
    *out = g;
    return GM_OK;
}
