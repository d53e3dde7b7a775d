/* SPDX-License-Identifier: MIT */
/* prdiv_iflow.c — a multi-scale RealNVP (Dinh et al. 2017) on grey images (Fashion-MNIST 1×28×28) as a
 * create/step/free state machine: uniform dequantisation and the logit map (with its log-determinant),
 * affine couplings (gm_op_coupling on the flattened tensor) with checkerboard and channel masks whose
 * scale/shift come from small residual conv nets (3×3 convs of the tape, SiLU, zero-initialised output conv),
 * the squeeze (space-to-depth) as a tape op, factoring out half the channels at each scale; exact log p(x),
 * bits/dim, sampling by the inverse, MLE training with Adam, the PR-divergence by procedure B of spec §3 (rows
 * weighted by w = f_λ′(r̂) − f_λ(r̂)/r̂, r̂ from a χ² conv critic trained against flow samples), checkpoints
 * (model "flow-image").
 *
 * Architecture (n_scales L, n_couplings K): for each scale, K checkerboard couplings on (C, H, W), squeeze to
 * (4C, H/2, W/2), K channel couplings (first or second half of the channels kept, alternating), then the
 * second half of the channels is factored out (becomes part of z) and the first half (2C) continues; after
 * the L scales K more checkerboard couplings. z = [factored pieces in scale order | final tensor], each
 * flattened (C, H, W)-major. Coupling i: xm = x ⊙ mask_i, h = conv_in(xm); n_res times h = h +
 * conv_b(silu(conv_a(silu(h)))); (s_raw, t) = conv_out(silu(h)) (2C channels: s first); the coupling takes
 * s = scale·tanh(s_raw) on the positions where mask_i = 0.
 * Owns: the parameter table (names "c<i>.in|res<r>.a|res<r>.b|out.weight|bias", PyTorch conv layouts; procedure
 * B appends "critic.{0,1,2}.weight|bias" and the critic's Adam moments "critic.adam.m|v"), the flow's Adam state,
 * the masks, a tape, batch buffers, the epoch permutation. Training images are borrowed
 * (gm_iflow_set_data). Thread safety: one gm_iflow per thread; gm_iflow_logprob / _sample use their own tape
 * and only read the parameters.
 * Determinism: the rows of step i are positions i·B .. i·B + B − 1 of the epoch permutations (Philox (seed,
 * DATA, epoch)), the dequantisation noise of image j in epoch e is Philox (seed, NOISE, e·2³² + j): a resumed
 * run is bitwise identical to an uninterrupted one. The critic's rows, their noise and the fakes' latents of
 * step i come from Philox purposes 107..109 keyed by i·n_critic + s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "prdiv_internal.h"

#define LN2 0.69314718055994530942

typedef struct {
    size_t C, H, W; /* the tensor the coupling acts on */
    size_t p0;      /* index of its first parameter tensor */
    float *mask;    /* C·H·W: 1 = kept (conditions), 0 = transformed */
} iflow_coup;

struct gm_iflow {
    gm_iflow_config cfg;
    size_t D, n_coup, per_coup;
    size_t fC[8], fH[8], fW[8]; /* factored-out pieces of each scale */
    size_t lC, lH, lW;          /* the final tensor */
    iflow_coup *cp;
    float *masks, *ones;
    gm_params P;
    gm_optim opt;
    int64_t step;
    gm_tape *tape;
    const float *data; /* borrowed n_data × D in [0, 1] */
    size_t n_data;
    size_t *perm;
    int64_t perm_epoch;
    float *y;   /* batch × D logits */
    double *ld; /* batch pre-processing log-determinants */
    /* procedure B (objective PR): the critic's tensors start at cbase in P, its Adam moments follow */
    size_t cbase;
    gm_optim opt_d;    /* m/v point into P */
    float *xc, *w;     /* 2·batch × D critic inputs; batch weights */
    float loss_d, w_zero;
};

gm_iflow_config gm_iflow_config_default(void) {
    gm_iflow_config c;
    memset(&c, 0, sizeof c);
    c.channels = 1, c.height = 28, c.width = 28;
    c.n_scales = 2;
    c.n_couplings = 3;
    c.hidden = 32;
    c.n_res = 1;
    c.scale = 2;
    c.alpha = 0.05f;
    c.batch = 64;
    c.lr = 1e-3f;
    c.clip = 100;
    c.objective = GM_FLOW_MLE;
    c.lambda = 1;
    c.n_critic = 1;
    c.critic_width = 16;
    c.lr_critic = 1e-3f;
    return c;
}

const gm_iflow_config *gm_iflow_get_config(const gm_iflow *f) { return &f->cfg; }
int64_t gm_iflow_get_step(const gm_iflow *f) { return f->step; }
size_t gm_iflow_dim(const gm_iflow *f) { return f->D; }
gm_params *gm_iflow_params(gm_iflow *f) { return &f->P; }

static int check_cfg(const gm_iflow_config *c) {
    if (c->channels < 1 || c->height < 1 || c->width < 1 || c->channels > 64 || c->height > 4096 || c->width > 4096)
        GM_FAIL(GM_EINVAL, "flow-image: image shape %zux%zux%zu is not supported", c->channels, c->height, c->width);
    if (c->n_scales > 6) GM_FAIL(GM_EINVAL, "flow-image: n_scales = %zu (at most 6)", c->n_scales);
    size_t m = (size_t)1 << c->n_scales;
    if (c->height % m || c->width % m)
        GM_FAIL(GM_ESHAPE, "flow-image: %zux%zu images cannot be squeezed %zu times (need multiples of %zu)", c->height,
                c->width, c->n_scales, m);
    if (c->n_couplings < 1 || c->n_couplings > 32 || c->hidden < 1 || c->hidden > 1024 || c->n_res > 16)
        GM_FAIL(GM_EINVAL, "flow-image: n_couplings (1..32), hidden (1..1024) and n_res (0..16) out of range");
    if (!(c->scale > 0) || !isfinite(c->scale) || !(c->alpha > 0 && c->alpha < 0.5f))
        GM_FAIL(GM_EINVAL, "flow-image: scale must be > 0 and alpha in (0, 0.5)");
    if (c->batch < 1 || c->batch > 65536 || !(c->lr > 0) || !isfinite(c->lr) || !(c->clip >= 0))
        GM_FAIL(GM_EINVAL, "flow-image: batch and lr must be positive, clip >= 0");
    if (c->objective != GM_FLOW_MLE && c->objective != GM_FLOW_PR) GM_FAIL(GM_EINVAL, "flow-image: unknown objective");
    if (c->objective == GM_FLOW_PR) {
        if (!(c->lambda > 0) || !isfinite(c->lambda))
            GM_FAIL(GM_EINVAL, "flow-image: lambda = %g must be finite and > 0", (double)c->lambda);
        if (c->n_critic < 1 || c->n_critic > 100 || c->critic_width < 1 || c->critic_width > 1024 || !(c->lr_critic > 0) ||
            !isfinite(c->lr_critic) || c->pretrain < 0)
            GM_FAIL(GM_EINVAL, "flow-image: procedure B needs n_critic in 1..100, a critic width, lr_critic > 0, pretrain >= 0");
        if (c->height % 4 || c->width % 4)
            GM_FAIL(GM_ESHAPE, "flow-image: the critic needs image sizes divisible by 4 (%zux%zu)", c->height, c->width);
    }
    return GM_OK;
}

void gm_iflow_init(gm_iflow *f, uint64_t seed, int zero_last) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    for (size_t k = 0; k < f->n_coup; k++)
        for (size_t j = 0; j < f->per_coup; j++) {
            size_t i = f->cp[k].p0 + j, w = i - j % 2; /* the weight of the pair */
            const int64_t *s = f->P.info[w].shape;
            double fan_in = (double)(s[1] * s[2] * s[3]);
            if (zero_last && j + 2 >= f->per_coup) memset(f->P.val + f->P.info[i].offset, 0, f->P.info[i].n * sizeof(float));
            else gm_params_uniform(&f->P, i, 1.0 / sqrt(fan_in), &r);
        }
}

static int add_conv(gm_params *P, const char *pre, const char *nm, size_t oc, size_t ic) {
    char name[64];
    int64_t ws[4] = {(int64_t)oc, (int64_t)ic, 3, 3}, bs = (int64_t)oc;
    snprintf(name, sizeof name, "%s.%s.weight", pre, nm);
    long r = gm_params_add(P, name, 4, ws);
    if (r < 0) return (int)r;
    snprintf(name, sizeof name, "%s.%s.bias", pre, nm);
    r = gm_params_add(P, name, 1, &bs);
    return r < 0 ? (int)r : GM_OK;
}

/* coupling k on (C, H, W): checkerboard (chan = 0) or channel mask of parity `par` */
static int add_coupling(gm_iflow *f, size_t k, size_t C, size_t H, size_t W, int chan, size_t par) {
    iflow_coup *c = &f->cp[k];
    c->C = C, c->H = H, c->W = W, c->p0 = f->P.count;
    c->mask = f->masks + k * f->D;
    for (size_t ch = 0; ch < C; ch++)
        for (size_t i = 0; i < H; i++)
            for (size_t j = 0; j < W; j++)
                c->mask[(ch * H + i) * W + j] = chan ? (float)((ch < C / 2) == (par % 2 == 0)) : (float)((i + j + par) % 2 == 0);
    char pre[32], nm[32];
    snprintf(pre, sizeof pre, "c%zu", k);
    size_t Hd = f->cfg.hidden;
    int rc = add_conv(&f->P, pre, "in", Hd, C);
    for (size_t r = 0; !rc && r < f->cfg.n_res; r++) {
        snprintf(nm, sizeof nm, "res%zu.a", r);
        if ((rc = add_conv(&f->P, pre, nm, Hd, Hd))) break;
        snprintf(nm, sizeof nm, "res%zu.b", r);
        rc = add_conv(&f->P, pre, nm, Hd, Hd);
    }
    return rc ? rc : add_conv(&f->P, pre, "out", 2 * C, Hd);
}

int gm_iflow_create(gm_iflow **out, const gm_iflow_config *cfg) {
    *out = NULL;
    int rc = check_cfg(cfg);
    if (rc) return rc;
    gm_iflow *f = gm_calloc(1, sizeof *f);
    if (!f) return GM_ENOMEM;
    f->cfg = *cfg;
    f->perm_epoch = -1;
    gm_params_init(&f->P);
    size_t L = cfg->n_scales, K = cfg->n_couplings, C = cfg->channels, H = cfg->height, W = cfg->width;
    f->D = C * H * W;
    f->n_coup = (2 * L + 1) * K;
    f->per_coup = 4 + 4 * cfg->n_res;
    rc = GM_ENOMEM;
    f->cp = gm_calloc(f->n_coup, sizeof *f->cp);
    f->masks = gm_malloc(f->n_coup * f->D * sizeof(float));
    f->ones = gm_malloc(f->D * sizeof(float));
    f->y = gm_malloc(cfg->batch * f->D * sizeof(float));
    f->ld = gm_malloc(cfg->batch * sizeof(double));
    if (!f->cp || !f->masks || !f->ones || !f->y || !f->ld) goto fail;
    for (size_t d = 0; d < f->D; d++) f->ones[d] = 1;
    size_t k = 0;
    for (size_t s = 0; s < L; s++) {
        for (size_t j = 0; j < K; j++)
            if ((rc = add_coupling(f, k++, C, H, W, 0, j))) goto fail;
        C *= 4, H /= 2, W /= 2;
        for (size_t j = 0; j < K; j++)
            if ((rc = add_coupling(f, k++, C, H, W, 1, j))) goto fail;
        f->fC[s] = C - C / 2, f->fH[s] = H, f->fW[s] = W;
        C /= 2;
    }
    for (size_t j = 0; j < K; j++)
        if ((rc = add_coupling(f, k++, C, H, W, 0, j))) goto fail;
    f->lC = C, f->lH = H, f->lW = W;
    if (cfg->objective == GM_FLOW_PR) { /* procedure B's critic and its Adam moments, after the flow's tensors */
        int64_t Wc = (int64_t)cfg->critic_width, C0 = (int64_t)cfg->channels;
        int64_t nl = 2 * Wc * (int64_t)(cfg->height / 4) * (int64_t)(cfg->width / 4);
        const int64_t shp[6][4] = {{Wc, C0, 4, 4}, {Wc}, {2 * Wc, Wc, 4, 4}, {2 * Wc}, {1, nl}, {1}};
        const int nd[6] = {4, 1, 4, 1, 2, 1};
        const char *nm[6] = {"critic.0.weight", "critic.0.bias", "critic.1.weight", "critic.1.bias", "critic.2.weight",
                             "critic.2.bias"};
        f->cbase = f->P.count;
        for (int j = 0; j < 6; j++) {
            long r = gm_params_add(&f->P, nm[j], nd[j], shp[j]);
            if (r < 0) {
                rc = (int)r;
                goto fail;
            }
        }
        const gm_param_info *I = f->P.info; /* the span of the critic, padding included */
        int64_t span = (int64_t)(I[f->cbase + 5].offset + I[f->cbase + 5].n - I[f->cbase].offset);
        for (int q = 0; q < 2; q++) {
            long r = gm_params_add(&f->P, q ? "critic.adam.v" : "critic.adam.m", 1, &span);
            if (r < 0) {
                rc = (int)r;
                goto fail;
            }
        }
        rc = GM_ENOMEM;
        f->xc = gm_malloc(2 * cfg->batch * f->D * sizeof(float));
        f->w = gm_malloc(cfg->batch * sizeof(float));
        if (!f->xc || !f->w) goto fail;
    }
    if ((rc = gm_params_alloc(&f->P))) goto fail;
    if (cfg->objective == GM_FLOW_PR) { /* critic init: uniform(±1/sqrt(fan_in)) from (GM_STREAM_INIT, 1); Adam β1 = 0 */
        gm_rng r;
        gm_rng_init(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_INIT, 1));
        for (size_t j = 0; j < 6; j++) {
            const gm_param_info *w = &f->P.info[f->cbase + j - j % 2];
            double fan_in = (double)(w->n / (size_t)w->shape[0]);
            gm_params_uniform(&f->P, f->cbase + j, 1.0 / sqrt(fan_in), &r);
        }
        gm_optim_config dc = gm_optim_config_default();
        dc.kind = GM_OPT_ADAM;
        dc.beta1 = 0, dc.beta2 = 0.999f, dc.eps = 1e-8f;
        const gm_param_info *m = &f->P.info[f->cbase + 6], *v = &f->P.info[f->cbase + 7];
        f->opt_d = (gm_optim){dc, m->n, f->P.val + m->offset, f->P.val + v->offset, 0};
    }
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    if ((rc = gm_optim_init(&f->opt, &oc, f->P.total))) goto fail;
    if ((rc = gm_tape_create(&f->tape, 0))) goto fail;
    gm_iflow_init(f, cfg->seed, 1);
    *out = f;
    return GM_OK;
fail:
    gm_iflow_free(f);
    return rc;
}

void gm_iflow_free(gm_iflow *f) {
    if (!f) return;
    gm_params_free(&f->P);
    gm_optim_free(&f->opt);
    gm_tape_free(f->tape);
    gm_free(f->cp);
    gm_free(f->masks);
    gm_free(f->ones);
    gm_free(f->perm);
    gm_free(f->y);
    gm_free(f->ld);
    gm_free(f->xc);
    gm_free(f->w);
    gm_free(f);
}

/* ---- squeeze (space-to-depth) as a tape op ---- */
/* dir +1: in (B, C, H, W) -> out (B, 4C, H/2, W/2), out channel 4c + 2(i mod 2) + (j mod 2) (PyTorch's
 * pixel_unshuffle order); dir −1: the inverse. acc = 1 adds into out. H, W are the large sizes. */
static void squeeze_k(float *out, const float *in, size_t B, size_t C, size_t H, size_t W, int dir, int acc) {
    size_t h2 = H / 2, w2 = W / 2;
    for (size_t b = 0; b < B; b++)
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < H; i++)
                for (size_t j = 0; j < W; j++) {
                    size_t big = ((b * C + c) * H + i) * W + j;
                    size_t sm = ((b * 4 * C + 4 * c + 2 * (i % 2) + (j % 2)) * h2 + i / 2) * w2 + j / 2;
                    size_t o = dir > 0 ? sm : big, src = dir > 0 ? big : sm;
                    out[o] = acc ? out[o] + in[src] : in[src];
                }
}

static void bw_squeeze(gm_tape *t, gm_node *n) {
    float *g = gm_tape_grad(t, n->in[0]);
    if (g)
        squeeze_k(g, n->out->grad, (size_t)n->ip[0], (size_t)n->ip[1], (size_t)n->ip[2], (size_t)n->ip[3], -(int)n->ip[4], 1);
}

/* x (B, C, H, W) -> (B, 4C, H/2, W/2) for dir +1; x (B, 4C, H/2, W/2) -> (B, C, H, W) for dir −1 */
static gm_var *op_squeeze(gm_tape *t, gm_var *x, int dir) {
    if (!x || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "squeeze: NULL input");
    int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t sh[4] = {B, dir > 0 ? 4 * C : C / 4, dir > 0 ? H / 2 : 2 * H, dir > 0 ? W / 2 : 2 * W};
    gm_var *y = gm_tape_new(t, 4, sh, 0);
    if (!y) return NULL;
    int64_t Cb = dir > 0 ? C : sh[1], Hb = dir > 0 ? H : sh[2], Wb = dir > 0 ? W : sh[3];
    squeeze_k(y->val, x->val, (size_t)B, (size_t)Cb, (size_t)Hb, (size_t)Wb, dir, 0);
    gm_node *n = gm_tape_record(t, bw_squeeze, y, 1, &x);
    if (n) n->ip[0] = B, n->ip[1] = Cb, n->ip[2] = Hb, n->ip[3] = Wb, n->ip[4] = dir;
    return y;
}

/* ---- couplings ---- */
static gm_var *reshape4(gm_tape *t, gm_var *x, size_t B, size_t C, size_t H, size_t W) {
    return gm_op_reshape(t, x, 4, (int64_t[]){(int64_t)B, (int64_t)C, (int64_t)H, (int64_t)W});
}
static gm_var *reshape2(gm_tape *t, gm_var *x, size_t B, size_t n) {
    return gm_op_reshape(t, x, 2, (int64_t[]){(int64_t)B, (int64_t)n});
}
/* SiLU through nn_gnsilu.c's vectorised sigmoid (gm_op_act's SiLU calls libm expf per element: 3x slower here) */
static gm_var *act(gm_tape *t, gm_var *x) { return gm_op_silu(t, x); }

/* coupling k applied to h (B, C, H, W) in direction dir; the (B, 1) log-determinant is added to *ld */
static gm_var *coupling(gm_iflow *f, gm_tape *t, gm_var *h, size_t k, int dir, int frozen, gm_var **ld) {
    if (!h || gm_tape_status(t)) return NULL;
    const iflow_coup *c = &f->cp[k];
    size_t B = (size_t)h->shape[0], Dk = c->C * c->H * c->W;
    float *mb = gm_arena_alloc(gm_tape_arena(t), B * Dk * sizeof(float));
    if (!mb) return gm_tape_fail(t, GM_ENOMEM, NULL);
    for (size_t b = 0; b < B; b++) memcpy(mb + b * Dk, c->mask, Dk * sizeof(float));
    gm_var *p[4 + 4 * 16];
    for (size_t j = 0; j < f->per_coup; j++) p[j] = gm_params_var(&f->P, t, c->p0 + j, frozen);
    gm_var *a = gm_op_conv2d(t, gm_op_mul(t, h, gm_tape_input(t, mb, 4, h->shape, 0)), p[0], p[1], 1, 1);
    for (size_t r = 0; r < f->cfg.n_res; r++) {
        gm_var *u = gm_op_conv2d(t, act(t, a), p[2 + 4 * r], p[3 + 4 * r], 1, 1);
        a = gm_op_add(t, a, gm_op_conv2d(t, act(t, u), p[4 + 4 * r], p[5 + 4 * r], 1, 1));
    }
    size_t q = f->per_coup - 2;
    gm_var *st = gm_op_conv2d(t, act(t, a), p[q], p[q + 1], 1, 1);
    gm_var *o = gm_op_coupling(t, reshape2(t, h, B, Dk), reshape2(t, st, B, 2 * Dk), c->mask, f->cfg.scale, dir), *y, *l;
    if (!o || gm_op_split(t, o, 1, (int64_t)Dk, &y, &l) != GM_OK) return NULL;
    *ld = *ld ? gm_op_add(t, *ld, l) : l;
    return reshape4(t, y, B, c->C, c->H, c->W);
}

gm_var *gm_iflow_forward(gm_iflow *f, gm_tape *t, gm_var *y, gm_var **logdet, int frozen) {
    const gm_iflow_config *c = &f->cfg;
    if (!y || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "flow-image: NULL input");
    if (y->ndim != 4 || (size_t)y->shape[1] != c->channels || (size_t)y->shape[2] != c->height ||
        (size_t)y->shape[3] != c->width)
        return gm_tape_fail(t, GM_ESHAPE, "flow-image: input is not (B, C, H, W) of the flow's image shape");
    size_t B = (size_t)y->shape[0], L = c->n_scales, K = c->n_couplings, k = 0;
    gm_var *h = y, *ld = NULL, *z = NULL;
    for (size_t s = 0; s < L; s++) {
        for (size_t j = 0; j < K; j++) h = coupling(f, t, h, k++, 1, frozen, &ld);
        h = op_squeeze(t, h, 1);
        for (size_t j = 0; j < K; j++) h = coupling(f, t, h, k++, 1, frozen, &ld);
        gm_var *keep, *out;
        if (!h || gm_op_split(t, h, 1, h->shape[1] / 2, &keep, &out) != GM_OK) return NULL;
        gm_var *zf = reshape2(t, out, B, out->n / B);
        z = z ? gm_op_concat(t, z, zf, 1) : zf;
        h = keep;
    }
    for (size_t j = 0; j < K; j++) h = coupling(f, t, h, k++, 1, frozen, &ld);
    if (!h) return NULL;
    gm_var *zl = reshape2(t, h, B, h->n / B);
    z = z ? gm_op_concat(t, z, zl, 1) : zl;
    if (logdet) *logdet = ld;
    return gm_tape_status(t) ? NULL : z;
}

gm_var *gm_iflow_inverse(gm_iflow *f, gm_tape *t, gm_var *z, gm_var **logdet, int frozen) {
    const gm_iflow_config *c = &f->cfg;
    if (!z || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "flow-image: NULL input");
    if (z->ndim != 2 || (size_t)z->shape[1] != f->D) return gm_tape_fail(t, GM_ESHAPE, "flow-image: latent is not (B, D)");
    size_t B = (size_t)z->shape[0], L = c->n_scales, K = c->n_couplings, k = f->n_coup;
    gm_var *zf[8] = {0}, *rest = z, *ld = NULL;
    for (size_t s = 0; s < L; s++)
        if (gm_op_split(t, rest, 1, (int64_t)(f->fC[s] * f->fH[s] * f->fW[s]), &zf[s], &rest) != GM_OK) return NULL;
    gm_var *h = reshape4(t, rest, B, f->lC, f->lH, f->lW);
    for (size_t j = 0; j < K; j++) h = coupling(f, t, h, --k, -1, frozen, &ld);
    for (size_t s = L; s-- > 0;) {
        h = gm_op_concat(t, h, reshape4(t, zf[s], B, f->fC[s], f->fH[s], f->fW[s]), 1);
        for (size_t j = 0; j < K; j++) h = coupling(f, t, h, --k, -1, frozen, &ld);
        h = op_squeeze(t, h, -1);
        for (size_t j = 0; j < K; j++) h = coupling(f, t, h, --k, -1, frozen, &ld);
    }
    if (logdet) *logdet = ld;
    return gm_tape_status(t) ? NULL : h;
}

gm_var *gm_iflow_logprob_logit(gm_iflow *f, gm_tape *t, gm_var *y, int frozen) {
    gm_var *ld = NULL, *z = gm_iflow_forward(f, t, y, &ld, frozen);
    if (!z) return NULL;
    gm_var *ones = gm_tape_input(t, f->ones, 2, (int64_t[]){1, (int64_t)f->D}, 0);
    gm_var *sq = gm_op_linear(t, gm_op_mul(t, z, z), ones, NULL); /* (B,1) = |z|^2 */
    const double log2pi = 1.8378770664093454836;
    gm_var *lz = gm_op_scale(t, sq, -0.5f, (float)(-0.5 * (double)f->D * log2pi));
    return gm_op_add(t, lz, ld);
}

/* ---- pre-processing ---- */
double gm_iflow_dequant(float alpha, const float *img, size_t D, uint64_t seed, uint64_t stream, float *y) {
    gm_rng r;
    gm_rng_init(&r, seed, stream);
    double a = (double)alpha, ld = 0, l12a = log(1 - 2 * a);
    for (size_t d = 0; d < D; d++) {
        double v = img[d] < 0 ? 0 : img[d] > 1 ? 1 : (double)img[d];
        double pix = floor(v * 255 + 0.5), u = gm_rng_uniform(&r);
        double x = (pix + u) / 256, p = a + (1 - 2 * a) * x;
        double lp = log(p), l1p = log1p(-p);
        y[d] = (float)(lp - l1p);
        ld += l12a - lp - l1p;
    }
    return ld;
}

static int check_images(const char *who, const float *x, size_t n, size_t D) {
    for (size_t i = 0; i < n * D; i++)
        if (!(x[i] >= 0 && x[i] <= 1))
            GM_FAIL(GM_EINVAL, "%s: image %zu pixel %zu = %g is not in [0, 1]", who, i / D, i % D, (double)x[i]);
    return GM_OK;
}

int gm_iflow_set_data(gm_iflow *f, const float *images, size_t n) {
    if (!images || n < 1) GM_FAIL(GM_EINVAL, "flow-image: no training images");
    if (n >= ((size_t)1 << 32)) GM_FAIL(GM_EINVAL, "flow-image: too many training images (%zu)", n);
    int rc = check_images("flow-image", images, n, f->D);
    if (rc) return rc;
    size_t *p = gm_malloc(n * sizeof *p);
    if (!p) return GM_ENOMEM;
    gm_free(f->perm);
    f->perm = p, f->perm_epoch = -1;
    f->data = images, f->n_data = n;
    return GM_OK;
}

/* the image at position pos of the concatenated epoch permutations; *epoch receives its epoch */
static size_t row_at(gm_iflow *f, uint64_t pos, uint64_t *epoch) {
    uint64_t e = pos / f->n_data;
    if ((int64_t)e != f->perm_epoch) {
        gm_rng r;
        gm_rng_init(&r, f->cfg.seed, gm_rng_stream_id(GM_STREAM_DATA, e));
        gm_rng_permutation(&r, f->perm, f->n_data);
        f->perm_epoch = (int64_t)e;
    }
    *epoch = e;
    return f->perm[pos % f->n_data];
}

/* the dequantised logits y and pre-processing log-dets of the rows of the current step into f->y, f->ld */
static int fill_batch(gm_iflow *f, double *lds) {
    const gm_iflow_config *c = &f->cfg;
    if (!f->data) GM_FAIL(GM_EINVAL, "flow-image: no training data (gm_iflow_set_data)");
    size_t B = c->batch, D = f->D;
    *lds = 0;
    for (size_t b = 0; b < B; b++) {
        uint64_t e, pos = (uint64_t)f->step * B + b;
        size_t j = row_at(f, pos, &e);
        if (e >= ((uint64_t)1 << 24)) GM_FAIL(GM_EINVAL, "flow-image: epoch %llu is out of range", (unsigned long long)e);
        f->ld[b] = gm_iflow_dequant(c->alpha, f->data + j * D, D, c->seed, gm_rng_stream_id(GM_STREAM_NOISE, (e << 32) | j),
                                    f->y + b * D);
        *lds += f->ld[b];
    }
    return GM_OK;
}

/* one Adam step on the rows in f->y: loss −mean_b(w_b log p(y_b))/(D ln 2) (w NULL: 1); *bpd = the unweighted
 * bits/dim of the batch in pixel space (lds: sum of the pre-processing log-dets) */
static int optimise(gm_iflow *f, const float *w, double lds, double *bpd_out) {
    const gm_iflow_config *c = &f->cfg;
    size_t B = c->batch, D = f->D;
    gm_tape *t = f->tape;
    gm_tape_reset(t);
    int64_t sh[4] = {(int64_t)B, (int64_t)c->channels, (int64_t)c->height, (int64_t)c->width};
    gm_var *lp = gm_iflow_logprob_logit(f, t, gm_tape_input(t, f->y, 4, sh, 0), 0), *lw = lp;
    if (w) lw = gm_op_mul(t, lp, gm_tape_input(t, (float *)w, 2, (int64_t[]){(int64_t)B, 1}, 0));
    gm_var *loss = gm_op_scale(t, gm_op_mean(t, lw), (float)(-1.0 / ((double)D * LN2)), 0);
    int rc = gm_tape_status(t);
    if (rc) return rc;
    gm_params_zero_grad(&f->P);
    if ((rc = gm_tape_backward(t, loss))) return rc;
    double lv = loss->val[0], lps = 0;
    for (size_t b = 0; b < B; b++) lps += (double)lp->val[b];
    if (!isfinite(lv) || !isfinite(lps)) GM_FAIL(GM_ENUMERIC, "flow-image: loss is %g at step %lld", isfinite(lv) ? lps : lv, (long long)f->step);
    if (c->clip > 0) {
        double gn = gm_clip_grad_norm(f->P.grad, f->P.total, (double)c->clip);
        if (!isfinite(gn)) GM_FAIL(GM_ENUMERIC, "flow-image: gradient is not finite at step %lld", (long long)f->step);
    }
    gm_optim_step(&f->opt, f->P.val, f->P.grad, c->lr);
    f->step++;
    gm_tape_reset(t);
    if (bpd_out) *bpd_out = -(lps + lds) / (double)B / ((double)D * LN2) + 8;
    return GM_OK;
}

int gm__iflow_step_with(gm_iflow *f, const float *w, double *bpd_out) {
    double lds;
    int rc = fill_batch(f, &lds);
    return rc ? rc : optimise(f, w, lds, bpd_out);
}

/* ---- procedure B (spec §3): weighted MLE with the ratio of a χ² critic ---- */
#define STREAM_CRITIC (GM_STREAM_USER + 7) /* purposes 107..109: critic rows, their noise, the fakes' latents */

/* critic v(x) (N, 1) of images x (N, C, H, W) in [−1, 1]: conv 4/2/1 -> Wc, LeakyReLU 0.2, conv 4/2/1 -> 2Wc,
 * LeakyReLU 0.2, linear -> 1 */
static gm_var *critic(gm_iflow *f, gm_tape *t, gm_var *x, int frozen) {
    gm_var *p[6];
    for (size_t j = 0; j < 6; j++) p[j] = gm_params_var(&f->P, t, f->cbase + j, frozen);
    gm_var *h = gm_op_conv2d_lrelu(t, x, p[0], p[1], 2, 1, 0.2f);
    h = gm_op_conv2d_lrelu(t, h, p[2], p[3], 2, 1, 0.2f);
    return gm_op_linear(t, h, p[4], p[5]);
}

/* n_critic χ² critic steps: B data rows (uniform with replacement, fresh dequantisation noise) against B flow
 * samples (the flow frozen) */
static int critic_steps(gm_iflow *f) {
    const gm_iflow_config *c = &f->cfg;
    gm_tape *t = f->tape;
    size_t B = c->batch, D = f->D;
    double a = (double)c->alpha;
    int64_t sh[4] = {(int64_t)(2 * B), (int64_t)c->channels, (int64_t)c->height, (int64_t)c->width};
    float *dgrad = f->P.grad + f->P.info[f->cbase].offset, *dval = f->P.val + f->P.info[f->cbase].offset;
    for (size_t s = 0; s < c->n_critic; s++) {
        uint64_t id = (uint64_t)f->step * c->n_critic + s;
        gm_rng r;
        gm_rng_init(&r, c->seed, gm_rng_stream_id(STREAM_CRITIC + 2, id));
        gm_rng_normal_fill(&r, f->xc, B * D); /* the fakes' latents */
        gm_tape_reset(t);
        int prev = gm_tape_no_grad(t, 1);
        gm_var *y = gm_iflow_inverse(f, t, gm_tape_input(t, f->xc, 2, (int64_t[]){(int64_t)B, (int64_t)D}, 0), NULL, 1);
        gm_tape_no_grad(t, prev);
        int rc = gm_tape_status(t);
        if (rc) return rc;
        for (size_t i = 0; i < B * D; i++) {
            double v = (1 / (1 + exp(-(double)y->val[i])) - a) / (1 - 2 * a);
            f->xc[i] = (float)(2 * (v < 0 ? 0 : v > 1 ? 1 : v) - 1);
        }
        gm_rng_init(&r, c->seed, gm_rng_stream_id(STREAM_CRITIC, id));
        gm_rng ru;
        gm_rng_init(&ru, c->seed, gm_rng_stream_id(STREAM_CRITIC + 1, id));
        for (size_t b = 0; b < B; b++) {
            const float *img = f->data + gm_rng_below(&r, f->n_data) * D;
            for (size_t d = 0; d < D; d++) {
                double v = img[d] < 0 ? 0 : img[d] > 1 ? 1 : (double)img[d];
                f->xc[(B + b) * D + d] = (float)(2 * (floor(v * 255 + 0.5) + gm_rng_uniform(&ru)) / 256 - 1);
            }
        }
        gm_tape_reset(t);
        gm_var *v = critic(f, t, gm_tape_input(t, f->xc, 4, sh, 0), 0), *vf, *vr;
        if (!v || gm_op_split(t, v, 0, (int64_t)B, &vf, &vr)) return gm_tape_status(t);
        gm_var *loss = gm_op_gan_critic_loss(t, vr, vf, GM_GAN_CHI2, c->lambda);
        if ((rc = gm_tape_status(t))) return rc;
        memset(dgrad, 0, f->opt_d.n * sizeof(float));
        if ((rc = gm_tape_backward(t, loss))) return rc;
        f->loss_d = loss->val[0];
        if (!isfinite(f->loss_d)) GM_FAIL(GM_ENUMERIC, "flow-image: critic loss is %g at step %lld", (double)f->loss_d, (long long)f->step);
        gm_optim_step(&f->opt_d, dval, dgrad, c->lr_critic);
    }
    gm_tape_reset(t);
    return GM_OK;
}

int gm_iflow_step(gm_iflow *f, double *bpd) {
    const gm_iflow_config *c = &f->cfg;
    if (c->objective != GM_FLOW_PR) return gm__iflow_step_with(f, NULL, bpd);
    if (!f->data) GM_FAIL(GM_EINVAL, "flow-image: no training data (gm_iflow_set_data)");
    int rc = critic_steps(f); /* also during the MLE pre-training: the critic is trained when the PR loss starts */
    if (rc) return rc;
    double lds;
    if ((rc = fill_batch(f, &lds))) return rc;
    if (f->step < c->pretrain) return optimise(f, NULL, lds, bpd);
    /* weights w = f_λ′(r̂) − f_λ(r̂)/r̂ of the batch rows, r̂ = the χ² critic's ratio clamp(v, −2, 5)/2 + 1,
     * self-normalised to mean 1 as the toy trainer does */
    size_t B = c->batch, D = f->D;
    double a = (double)c->alpha;
    for (size_t i = 0; i < B * D; i++) f->xc[i] = (float)(2 * ((1 / (1 + exp(-(double)f->y[i])) - a) / (1 - 2 * a)) - 1);
    gm_tape *t = f->tape;
    gm_tape_reset(t);
    int prev = gm_tape_no_grad(t, 1);
    int64_t sh[4] = {(int64_t)B, (int64_t)c->channels, (int64_t)c->height, (int64_t)c->width};
    gm_var *v = critic(f, t, gm_tape_input(t, f->xc, 4, sh, 0), 1);
    gm_tape_no_grad(t, prev);
    if ((rc = gm_tape_status(t))) return rc;
    double ws = 0;
    size_t zero = 0;
    for (size_t b = 0; b < B; b++) {
        f->w[b] = (float)gm__prdiv_weight_b((double)c->lambda, gm_prdiv_chi2_ratio((double)v->val[b]));
        ws += (double)f->w[b];
        zero += f->w[b] == 0;
    }
    for (size_t b = 0; ws > 0 && b < B; b++) f->w[b] = (float)((double)f->w[b] * (double)B / ws);
    f->w_zero = (float)zero / (float)B;
    return optimise(f, f->w, lds, bpd);
}

void gm_iflow_pr_status(const gm_iflow *f, float *loss_d, float *w_zero) {
    if (loss_d) *loss_d = f->loss_d;
    if (w_zero) *w_zero = f->w_zero;
}

/* ---- evaluation ---- */
int gm_iflow_logprob(gm_iflow *f, const float *images, size_t n, uint64_t stream, double *logp) {
    const gm_iflow_config *c = &f->cfg;
    if (stream >= ((uint64_t)1 << 24)) GM_FAIL(GM_EINVAL, "flow-image: stream %llu is out of range (< 2^24)", (unsigned long long)stream);
    if (n >= ((size_t)1 << 32)) GM_FAIL(GM_EINVAL, "flow-image: too many images (%zu)", n);
    int rc = check_images("flow-image logprob", images, n, f->D);
    if (rc) return rc;
    gm_tape *t;
    if ((rc = gm_tape_create(&t, 0))) return rc;
    gm_tape_no_grad(t, 1);
    size_t D = f->D, chunk = 128;
    float *y = gm_malloc(chunk * D * sizeof(float));
    double *ld = gm_malloc(chunk * sizeof(double));
    if (!y || !ld) rc = GM_ENOMEM;
    for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        for (size_t i = 0; i < m; i++)
            ld[i] = gm_iflow_dequant(c->alpha, images + (i0 + i) * D, D, c->seed,
                                     gm_rng_stream_id(GM_STREAM_EVAL, (stream << 32) | (i0 + i)), y + i * D);
        gm_tape_reset(t);
        int64_t sh[4] = {(int64_t)m, (int64_t)c->channels, (int64_t)c->height, (int64_t)c->width};
        gm_var *l = gm_iflow_logprob_logit(f, t, gm_tape_input(t, y, 4, sh, 0), 1);
        if (!(rc = gm_tape_status(t)))
            for (size_t i = 0; i < m; i++) logp[i0 + i] = (double)l->val[i] + ld[i];
    }
    gm_free(y);
    gm_free(ld);
    gm_tape_free(t);
    return rc;
}

double gm_iflow_bits_per_dim(const gm_iflow *f, double logp) { return -logp / ((double)f->D * LN2) + 8; }

int gm_iflow_sample(gm_iflow *f, float *x, size_t n, float temperature, uint64_t stream) {
    const gm_iflow_config *c = &f->cfg;
    if (!(temperature >= 0) || !isfinite(temperature)) GM_FAIL(GM_EINVAL, "flow-image: temperature must be >= 0");
    gm_tape *t;
    int rc = gm_tape_create(&t, 0);
    if (rc) return rc;
    gm_tape_no_grad(t, 1);
    gm_rng r;
    gm_rng_init(&r, c->seed, gm_rng_stream_id(GM_STREAM_USER, stream));
    size_t D = f->D, chunk = 128;
    double a = (double)c->alpha;
    for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        float *z = x + i0 * D;
        gm_rng_normal_fill(&r, z, m * D);
        for (size_t i = 0; i < m * D; i++) z[i] *= temperature;
        gm_tape_reset(t);
        gm_var *y = gm_iflow_inverse(f, t, gm_tape_input(t, z, 2, (int64_t[]){(int64_t)m, (int64_t)D}, 0), NULL, 1);
        if ((rc = gm_tape_status(t))) break;
        for (size_t i = 0; i < m * D; i++) {
            double p = 1 / (1 + exp(-(double)y->val[i])), v = (p - a) / (1 - 2 * a);
            z[i] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
    }
    gm_tape_free(t);
    return rc;
}

/* ---- checkpoints ---- */
int gm_iflow_save(const gm_iflow *f, const char *path) {
    const gm_iflow_config *c = &f->cfg;
    char js[512];
    snprintf(js, sizeof js,
             "{\"channels\":%zu,\"height\":%zu,\"width\":%zu,\"n_scales\":%zu,\"n_couplings\":%zu,\"hidden\":%zu,"
             "\"n_res\":%zu,\"scale\":%.9g,\"alpha\":%.9g,\"batch\":%zu,\"lr\":%.9g,\"clip\":%.9g,"
             "\"objective\":\"%s\",\"procedure\":\"B\",\"lambda\":%.9g,\"pretrain\":%lld,\"n_critic\":%zu,"
             "\"critic_width\":%zu,\"lr_critic\":%.9g}",
             c->channels, c->height, c->width, c->n_scales, c->n_couplings, c->hidden, c->n_res, (double)c->scale,
             (double)c->alpha, c->batch, (double)c->lr, (double)c->clip, c->objective == GM_FLOW_PR ? "pr" : "mle",
             (double)c->lambda, (long long)c->pretrain, c->n_critic, c->critic_width, (double)c->lr_critic);
    gm_checkpoint_meta m = {"flow-image", js, f->step, 0, c->seed, NULL};
    return gm_checkpoint_save(path, &f->P, &f->opt, &m);
}

int gm_iflow_load(gm_iflow **out, const char *path) {
    *out = NULL;
    gm_checkpoint *ck;
    const char *js, *step, *seed;
    int rc = gm__gan_ckpt_open(&ck, path, "flow-image", "image-flow", &js, &step, &seed);
    if (rc) return rc;
    gm_iflow_config c = gm_iflow_config_default();
    int bad = 0, oom = 0, absent = 0;
#define R(k, t) GM__CK_REQ(gm_iflow_config, k, t)
#define O(k, t) GM__CK_OPT(gm_iflow_config, k, t)
    static const gm__ck_field rows[] = {
        R(channels, SIZE), R(height, SIZE), R(width, SIZE), R(n_scales, SIZE), R(n_couplings, SIZE),
        R(hidden, SIZE),   R(n_res, SIZE),  R(scale, F32),  R(alpha, F32),     R(batch, SIZE),
        R(lr, F32),        R(clip, F32),
        /* the PR fields are optional (checkpoints of MLE runs from before procedure B lack them: MLE) */
        O(lambda, F32), O(pretrain, I64), O(n_critic, SIZE), O(critic_width, SIZE), O(lr_critic, F32),
    };
#undef R
#undef O
    gm__ckpt_read_fields(js, rows, sizeof rows / sizeof rows[0], &c, &bad, &oom);
    char obj[16];
    if (gm__json_str(js, "objective", &absent, &oom, obj, sizeof obj)) {
        if (!strcmp(obj, "pr")) c.objective = GM_FLOW_PR;
        else if (strcmp(obj, "mle")) bad = 1;
    }
    c.seed = strtoull(seed, NULL, 10);
    if ((rc = gm__ckpt_config_end(ck, path, "image-flow", bad, oom))) return rc;
    gm_iflow *f = NULL;
    if (!(rc = gm_iflow_create(&f, &c)) && !(rc = gm_checkpoint_load_params(ck, &f->P)) &&
        !(rc = gm_checkpoint_load_optim(ck, &f->P, &f->opt)))
        f->step = strtoll(step, NULL, 10);
    if (!rc && c.objective == GM_FLOW_PR) f->opt_d.step = f->step * (int64_t)c.n_critic;
    gm_checkpoint_close(ck);
    if (rc) {
        gm_iflow_free(f);
        return rc;
    }
    *out = f;
    return GM_OK;
}
