/* SPDX-License-Identifier: MIT */
/* diff_unet.c — the Fashion-MNIST diffusion model: a small U-Net eps_theta(x, t) for 1 x 28 x 28 images
 * built from tape ops (residual blocks with group norm + SiLU and a per-channel time-embedding shift,
 * strided-conv down-sampling, nearest up-sampling + conv, skip connections by concatenation, sinusoidal
 * time embedding through a 2-layer MLP; no attention), eps-MSE training steps with Adam and an EMA copy,
 * a gm_denoiser over the EMA weights with input VJPs, and safetensors checkpoints.
 *
 * Architecture (C = base channels, G = 4 groups, E = 4C):
 *   emb  = lin2(silu(lin1(sinusoid(t, C))))                        (B, E)
 *   h    = conv_in(x)                          1 -> C      28 x 28
 *   h0   = res0(h)                             C -> C      28
 *   h1   = res1(down0(h0))                     C -> 2C     14   (down: 3x3 conv, stride 2, pad 1)
 *   m    = mid(down1(h1))                      2C -> 2C    7
 *   u    = resu1(concat(up1(upsample(m)), h1)) 4C -> 2C    14   (up: nearest x2, then 3x3 conv)
 *   u    = resu0(concat(up0(upsample(u)), h0)) 2C -> C     28
 *   eps^ = conv_out(silu(norm_out(u)))         C -> 1
 *   res(x) = conv2(silu(gn2(conv1(silu(gn1(x))) + temb(silu(emb))))) + skip(x)   (skip: 1x1 conv if the
 *   channel count changes, identity otherwise)
 * Parameter names follow the PyTorch module of tools/gen_unet_golden.py ("res0.conv1.weight", ...).
 *
 * Owns: two gm_params tables (training and EMA weights, same layout), the Adam state, a tape and its
 * input buffers. Thread safety: one model per thread (the denoiser reuses the model's tape). Kernels may
 * use OpenMP; results do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "genmix/diffusion.h"
#include "genmix/models.h"
#include "genmix/rng.h"

#include "diff_internal.h"

#define UNET_HW 28
#define UNET_D (UNET_HW * UNET_HW)
#define UNET_GROUPS 4

typedef struct {
    long w, b;
} lin_p; /* linear or conv weight and bias indices (-1 = absent) */

typedef struct {
    int cin, cout;
    lin_p n1, c1, temb, n2, c2, skip;
} res_p;

struct gm_diff_unet {
    int ch;
    const gm_diff_schedule *sch;
    gm_params net, ema;
    gm_optim opt;
    gm_tape *tape;
    lin_p te1, te2, conv_in, down0, down1, up1, up0, norm_out, conv_out;
    res_p r0, r1, mid, u1, u0;
    float *xt, *tgt, *tv; /* B x 784, B x 784, B */
    size_t cap;
    char data[32];
};

/* ---- parameter layout ------------------------------------------------------------------------ */

static long add(gm_params *p, int *rc, const char *pre, const char *name, int ndim, int64_t a, int64_t b, int64_t c,
                int64_t d) {
    char full[96];
    snprintf(full, sizeof full, "%s%s", pre, name);
    int64_t sh[4] = {a, b, c, d};
    long i = *rc == GM_OK ? gm_params_add(p, full, ndim, sh) : -1;
    if (i < 0 && *rc == GM_OK) *rc = (int)i;
    return i;
}

static lin_p add_conv(gm_params *p, int *rc, const char *name, int oc, int ic, int k) {
    char pre[64];
    snprintf(pre, sizeof pre, "%s.", name);
    lin_p l;
    l.w = add(p, rc, pre, "weight", 4, oc, ic, k, k);
    l.b = add(p, rc, pre, "bias", 1, oc, 0, 0, 0);
    return l;
}

static lin_p add_lin(gm_params *p, int *rc, const char *name, int out, int in) {
    char pre[64];
    snprintf(pre, sizeof pre, "%s.", name);
    lin_p l;
    l.w = add(p, rc, pre, "weight", 2, out, in, 0, 0);
    l.b = add(p, rc, pre, "bias", 1, out, 0, 0, 0);
    return l;
}

static lin_p add_gn(gm_params *p, int *rc, const char *name, int c) {
    char pre[64];
    snprintf(pre, sizeof pre, "%s.", name);
    lin_p l;
    l.w = add(p, rc, pre, "weight", 1, c, 0, 0, 0);
    l.b = add(p, rc, pre, "bias", 1, c, 0, 0, 0);
    return l;
}

static res_p add_res(gm_params *p, int *rc, const char *name, int cin, int cout, int E) {
    char n[64];
    res_p r;
    r.cin = cin;
    r.cout = cout;
    snprintf(n, sizeof n, "%s.norm1", name), r.n1 = add_gn(p, rc, n, cin);
    snprintf(n, sizeof n, "%s.conv1", name), r.c1 = add_conv(p, rc, n, cout, cin, 3);
    snprintf(n, sizeof n, "%s.temb", name), r.temb = add_lin(p, rc, n, cout, E);
    snprintf(n, sizeof n, "%s.norm2", name), r.n2 = add_gn(p, rc, n, cout);
    snprintf(n, sizeof n, "%s.conv2", name), r.c2 = add_conv(p, rc, n, cout, cout, 3);
    r.skip.w = r.skip.b = -1;
    if (cin != cout) snprintf(n, sizeof n, "%s.skip", name), r.skip = add_conv(p, rc, n, cout, cin, 1);
    return r;
}

static int layout(gm_diff_unet *m, gm_params *p) {
    int rc = GM_OK, C = m->ch, E = 4 * C;
    gm_params_init(p);
    m->te1 = add_lin(p, &rc, "time.lin1", E, C);
    m->te2 = add_lin(p, &rc, "time.lin2", E, E);
    m->conv_in = add_conv(p, &rc, "conv_in", C, 1, 3);
    m->r0 = add_res(p, &rc, "res0", C, C, E);
    m->down0 = add_conv(p, &rc, "down0", C, C, 3);
    m->r1 = add_res(p, &rc, "res1", C, 2 * C, E);
    m->down1 = add_conv(p, &rc, "down1", 2 * C, 2 * C, 3);
    m->mid = add_res(p, &rc, "mid", 2 * C, 2 * C, E);
    m->up1 = add_conv(p, &rc, "up1", 2 * C, 2 * C, 3);
    m->u1 = add_res(p, &rc, "resu1", 4 * C, 2 * C, E);
    m->up0 = add_conv(p, &rc, "up0", C, 2 * C, 3);
    m->u0 = add_res(p, &rc, "resu0", 2 * C, C, E);
    m->norm_out = add_gn(p, &rc, "norm_out", C);
    m->conv_out = add_conv(p, &rc, "conv_out", 1, C, 3);
    if (rc == GM_OK) rc = gm_params_alloc(p);
    return rc;
}

/* ---- forward on the tape --------------------------------------------------------------------- */

typedef struct {
    gm_tape *t;
    gm_params *p;
    int frozen;
} fctx;

static gm_var *P(fctx *f, long i) { return i < 0 ? NULL : gm_params_var(f->p, f->t, (size_t)i, f->frozen); }

static gm_var *conv(fctx *f, gm_var *x, lin_p l, int stride, int pad) {
    return gm_op_conv2d(f->t, x, P(f, l.w), P(f, l.b), stride, pad);
}

static gm_var *gn_silu(fctx *f, gm_var *x, lin_p l) {
    return gm_op_groupnorm_silu(f->t, x, UNET_GROUPS, P(f, l.w), P(f, l.b), 1e-5f); /* one fused node */
}

static gm_var *resblock(fctx *f, gm_var *x, gm_var *semb, const res_p *r) {
    gm_var *h = conv(f, gn_silu(f, x, r->n1), r->c1, 1, 1);
    h = gm_op_add_channel(f->t, h, gm_op_linear(f->t, semb, P(f, r->temb.w), P(f, r->temb.b)));
    h = conv(f, gn_silu(f, h, r->n2), r->c2, 1, 1);
    gm_var *s = r->skip.w >= 0 ? conv(f, x, r->skip, 1, 0) : x;
    return gm_op_add(f->t, h, s);
}

gm_var *gm_diff_unet_forward(gm_diff_unet *m, gm_tape *t, gm_params *p, gm_var *x, gm_var *tv, int frozen) {
    fctx f = {t, p, frozen};
    gm_var *emb = gm_op_time_embed(t, tv, m->ch);
    emb = gm_op_linear(t, gm_op_act(t, gm_op_linear(t, emb, P(&f, m->te1.w), P(&f, m->te1.b)), GM_ACT_SILU, 0),
                       P(&f, m->te2.w), P(&f, m->te2.b));
    gm_var *semb = gm_op_act(t, emb, GM_ACT_SILU, 0);
    gm_var *h0 = resblock(&f, conv(&f, x, m->conv_in, 1, 1), semb, &m->r0);
    gm_var *h1 = resblock(&f, conv(&f, h0, m->down0, 2, 1), semb, &m->r1);
    gm_var *u = resblock(&f, conv(&f, h1, m->down1, 2, 1), semb, &m->mid);
    u = conv(&f, gm_op_upsample(t, u, 2), m->up1, 1, 1);
    u = resblock(&f, gm_op_concat(t, u, h1, 1), semb, &m->u1);
    u = conv(&f, gm_op_upsample(t, u, 2), m->up0, 1, 1);
    u = resblock(&f, gm_op_concat(t, u, h0, 1), semb, &m->u0);
    return conv(&f, gn_silu(&f, u, m->norm_out), m->conv_out, 1, 1);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static int unet_reserve(gm_diff_unet *m, size_t B) {
    if (B <= m->cap) return GM_OK;
    float *a = gm_realloc(m->xt, B * UNET_D * sizeof(float));
    if (!a) return GM_ENOMEM;
    m->xt = a;
    a = gm_realloc(m->tgt, B * UNET_D * sizeof(float));
    if (!a) return GM_ENOMEM;
    m->tgt = a;
    a = gm_realloc(m->tv, B * sizeof(float));
    if (!a) return GM_ENOMEM;
    m->tv = a;
    m->cap = B;
    return GM_OK;
}

void gm_diff_unet_free(gm_diff_unet *m) {
    if (!m) return;
    gm_params_free(&m->net);
    gm_params_free(&m->ema);
    gm_optim_free(&m->opt);
    gm_tape_free(m->tape);
    gm_free(m->xt);
    gm_free(m->tgt);
    gm_free(m->tv);
    gm_free(m);
}

int gm_diff_unet_create(gm_diff_unet **out, int ch, const gm_diff_schedule *sch) {
    *out = NULL;
    if (ch < UNET_GROUPS || ch > 256 || ch % UNET_GROUPS)
        GM_FAIL(GM_EINVAL, "ddpm unet: base channels must be a multiple of %d in %d..256 (got %d)", UNET_GROUPS,
                UNET_GROUPS, ch);
    gm_diff_unet *m = gm_calloc(1, sizeof *m);
    if (!m) return GM_ENOMEM;
    m->ch = ch;
    m->sch = sch;
    int rc = layout(m, &m->net);
    if (rc == GM_OK) rc = layout(m, &m->ema);
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    if (rc == GM_OK) rc = gm_optim_init(&m->opt, &oc, m->net.total);
    if (rc == GM_OK) rc = gm_tape_create(&m->tape, 0);
    if (rc != GM_OK) {
        gm_diff_unet_free(m);
        return rc;
    }
    *out = m;
    return GM_OK;
}

/* PyTorch-default init (weights and biases U(+-1/sqrt(fan_in)); group-norm gamma 1, beta 0), Philox
 * stream (GM_STREAM_INIT, 0) of seed, tensors in table order. */
void gm_diff_unet_init(gm_diff_unet *m, uint64_t seed) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    gm_params *p = &m->net;
    for (size_t i = 0; i < p->count; i++) {
        gm_param_info *in = &p->info[i];
        size_t nl = strlen(in->name);
        int is_norm = strstr(in->name, "norm") != NULL;
        int is_bias = nl > 5 && !strcmp(in->name + nl - 5, ".bias");
        if (is_norm) {
            for (size_t j = 0; j < in->n; j++) p->val[in->offset + j] = is_bias ? 0.0f : 1.0f;
            continue;
        }
        /* the bias uses the fan-in of its weight (the tensor just before it) */
        const gm_param_info *w = is_bias ? &p->info[i - 1] : in;
        size_t fan_in = (size_t)w->shape[1] * (w->ndim == 4 ? (size_t)(w->shape[2] * w->shape[3]) : 1);
        gm_params_uniform(p, i, 1.0 / sqrt((double)fan_in), &r);
    }
    memcpy(m->ema.val, m->net.val, m->net.total * sizeof(float));
}

int gm_diff_unet_channels(const gm_diff_unet *m) { return m->ch; }
gm_params *gm_diff_unet_params(gm_diff_unet *m, int ema) { return ema ? &m->ema : &m->net; }
const char *gm_diff_unet_data(const gm_diff_unet *m) { return m->data; }

/* ---- training --------------------------------------------------------------------------------- */

int gm_diff_unet_train_step(gm_diff_unet *m, const float *x0, size_t B, float lr, float ema_decay, uint64_t seed,
                            uint64_t step, double *loss) {
    int rc = unet_reserve(m, B);
    if (rc != GM_OK) return rc;
    gm__diff_noise_batch(m->sch, x0, B, UNET_D, seed, step, NULL, m->tv, m->xt, m->tgt);
    gm_tape_reset(m->tape);
    int64_t xs[4] = {(int64_t)B, 1, UNET_HW, UNET_HW}, ts[1] = {(int64_t)B};
    gm_var *x = gm_tape_input(m->tape, m->xt, 4, xs, 0);
    gm_var *tv = gm_tape_input(m->tape, m->tv, 1, ts, 0);
    gm_var *target = gm_tape_input(m->tape, m->tgt, 4, xs, 0);
    gm_var *l = gm_op_mse(m->tape, gm_diff_unet_forward(m, m->tape, &m->net, x, tv, 0), target);
    rc = gm_tape_status(m->tape);
    if (rc == GM_OK) {
        gm_params_zero_grad(&m->net);
        rc = gm_tape_backward(m->tape, l);
    }
    if (rc == GM_OK) {
        if (loss) *loss = (double)l->val[0];
        gm_optim_step(&m->opt, m->net.val, m->net.grad, lr);
        gm_ema_update(m->ema.val, m->net.val, m->net.total, ema_decay);
    }
    return rc;
}

/* ---- denoiser over the EMA weights ------------------------------------------------------------- */

static int unet_eval(gm_diff_unet *m, const float *x, size_t n, int t, const float *u, float *eps, float *vjp) {
    int rc = unet_reserve(m, n);
    if (rc != GM_OK) return rc;
    for (size_t i = 0; i < n; i++) m->tv[i] = (float)t;
    memcpy(m->xt, x, n * UNET_D * sizeof(float));
    gm_tape_reset(m->tape);
    int64_t xs[4] = {(int64_t)n, 1, UNET_HW, UNET_HW}, ts[1] = {(int64_t)n};
    gm_var *xin = gm_tape_input(m->tape, m->xt, 4, xs, u != NULL);
    gm_var *tv = gm_tape_input(m->tape, m->tv, 1, ts, 0);
    int prev = gm_tape_no_grad(m->tape, u == NULL);
    gm_var *out = gm_diff_unet_forward(m, m->tape, &m->ema, xin, tv, 1);
    gm_tape_no_grad(m->tape, prev);
    rc = gm_tape_status(m->tape);
    if (rc != GM_OK) return rc;
    memcpy(eps, out->val, n * UNET_D * sizeof(float));
    if (!u) return GM_OK;
    rc = gm_tape_backward_from(m->tape, out, u);
    if (rc == GM_OK) memcpy(vjp, xin->grad, n * UNET_D * sizeof(float));
    return rc;
}

/* chunks of at most 64 rows keep the tape's arena small */
static int unet_eps_vjp(void *ctx, const float *x, size_t n, int t, const float *u, float *eps, float *vjp) {
    for (size_t i = 0; i < n; i += 64) {
        size_t k = n - i < 64 ? n - i : 64;
        int rc = unet_eval(ctx, x + i * UNET_D, k, t, u ? u + i * UNET_D : NULL, eps + i * UNET_D,
                           u ? vjp + i * UNET_D : NULL);
        if (rc != GM_OK) return rc;
    }
    return GM_OK;
}

static int unet_eps(void *ctx, const float *x, size_t n, int t, float *eps) {
    return unet_eps_vjp(ctx, x, n, t, NULL, eps, NULL);
}

gm_denoiser gm_diff_unet_denoiser(gm_diff_unet *m) {
    gm_denoiser d = {UNET_D, unet_eps, unet_eps_vjp, m};
    return d;
}

/* ---- checkpoints ------------------------------------------------------------------------------- */

static int save_ckpt(const gm_diff_unet *m, const char *path, const char *model, const gm_params *p,
                     const gm_optim *opt, int64_t step, uint64_t seed, const gm_rng *rng, const char *data) {
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "{\"image\": [1, 28, 28], \"channels\": %d, \"groups\": %d, \"T\": %d, \"beta\": \"linear\", "
             "\"data\": \"%s\"}",
             m->ch, UNET_GROUPS, m->sch->T, data ? data : "");
    return gm__diff_ckpt_save(path, model, cfg, p, opt, step, seed, rng);
}

int gm_diff_unet_save(const gm_diff_unet *m, const char *path, int64_t step, uint64_t seed, const char *data) {
    return save_ckpt(m, path, "ddpm-unet", &m->ema, NULL, step, seed, NULL, data);
}

int gm_diff_unet_load(gm_diff_unet **out, const char *path, const gm_diff_schedule *sch) {
    *out = NULL;
    gm_checkpoint *c;
    cJSON *j;
    int rc = gm__diff_ckpt_open(path, "ddpm-unet", &c, &j);
    if (rc != GM_OK) return rc;
    cJSON *jc = cJSON_GetObjectItem(j, "channels"), *jt = cJSON_GetObjectItem(j, "T"), *jd = cJSON_GetObjectItem(j, "data");
    if (!cJSON_IsNumber(jc) || !cJSON_IsNumber(jt) || (int)jt->valuedouble != sch->T) {
        cJSON_Delete(j);
        gm_checkpoint_close(c);
        GM_FAIL(GM_EFORMAT, "%s: bad ddpm-unet config (channels, T = %d expected)", path, sch->T);
    }
    gm_diff_unet *m;
    rc = gm_diff_unet_create(&m, (int)jc->valuedouble, sch);
    if (rc == GM_OK && cJSON_IsString(jd)) snprintf(m->data, sizeof m->data, "%s", jd->valuestring);
    cJSON_Delete(j);
    if (rc == GM_OK) rc = gm_checkpoint_load_params(c, &m->ema);
    gm_checkpoint_close(c);
    if (rc != GM_OK) {
        gm_diff_unet_free(m);
        return gm_error_prefix(rc, path);
    }
    memcpy(m->net.val, m->ema.val, m->ema.total * sizeof(float));
    *out = m;
    return GM_OK;
}

int gm_diff_unet_save_state(const gm_diff_unet *m, const char *path, int64_t step, uint64_t seed, const gm_rng *rng) {
    return save_ckpt(m, path, "ddpm-unet-train", &m->net, &m->opt, step, seed, rng, NULL);
}

int gm_diff_unet_load_state(gm_diff_unet *m, const char *path, int64_t *step, gm_rng *rng) {
    return gm__diff_state_load(path, "ddpm-unet", &m->net, &m->opt, step, rng);
}

int gm_diff_unet_load_ema(gm_diff_unet *m, const char *path) {
    gm_diff_unet *e;
    int rc = gm_diff_unet_load(&e, path, m->sch);
    if (rc != GM_OK) return rc;
    if (e->ch != m->ch) rc = gm_set_error(GM_ESHAPE, "%s: model shape differs from the training state", path);
    else memcpy(m->ema.val, e->ema.val, m->ema.total * sizeof(float));
    gm_diff_unet_free(e);
    return rc;
}
