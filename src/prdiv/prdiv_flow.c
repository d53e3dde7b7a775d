/* SPDX-License-Identifier: MIT */
/* prdiv_flow.c — a RealNVP flow of affine couplings (gm_op_coupling) with MLP conditioners, built from
 * tape ops: the generative map x = g(z), its inverse, and log q(x) by change of variables.
 * Owns: its gm_params table, masks and a ones vector. Thread safety: one flow per thread while training;
 * forward passes on separate tapes may share a flow read-only (frozen = 1). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "prdiv_internal.h"

/* parameter index of layer k's tensor j (0..5: w1 b1 w2 b2 w3 b3) */
#define PIDX(k, j) ((size_t)(k) * 6 + (size_t)(j))

int gm_flow_create(gm_flow **out, size_t D, size_t n_layers, size_t hidden, uint64_t seed) {
    return gm__flow_create(out, D, n_layers, hidden, seed, 0);
}

int gm__flow_create(gm_flow **out, size_t D, size_t n_layers, size_t hidden, uint64_t seed, size_t critic_hidden) {
    *out = NULL;
    if (D < 2 || n_layers < 1 || hidden < 1 || D > 4096 || hidden > 65536 || n_layers > 256)
        GM_FAIL(GM_EINVAL, "flow: need D >= 2, n_layers >= 1, hidden >= 1");
    gm_flow *f = gm_calloc(1, sizeof *f);
    if (!f) return GM_ENOMEM;
    f->D = D, f->n_layers = n_layers, f->hidden = hidden, f->scale = 2.0f;
    gm_params_init(&f->params);
    int rc = GM_ENOMEM;
    f->masks = gm_malloc(n_layers * D * sizeof(float));
    f->ones = gm_malloc(D * sizeof(float));
    if (!f->masks || !f->ones) goto fail;
    for (size_t d = 0; d < D; d++) f->ones[d] = 1;
    for (size_t k = 0; k < n_layers; k++)
        for (size_t d = 0; d < D; d++) f->masks[k * D + d] = (float)((d + k) % 2 == 0);
    int64_t H = (int64_t)hidden, Dd = (int64_t)D;
    int64_t shapes[6][2] = {{H, Dd}, {H, 1}, {H, H}, {H, 1}, {2 * Dd, H}, {2 * Dd, 1}};
    for (size_t k = 0; k < n_layers; k++)
        for (int j = 0; j < 6; j++) {
            char name[64];
            snprintf(name, sizeof name, "c%zu.%d.%s", k, 2 * (j / 2), j % 2 ? "bias" : "weight");
            long r = gm_params_add(&f->params, name, j % 2 ? 1 : 2, shapes[j]);
            if (r < 0) {
                rc = (int)r;
                goto fail;
            }
        }
    if (critic_hidden) { /* procedure A's critic D -> Hc -> Hc -> 1 and its Adam moments (prdiv_flowtrain.c) */
        int64_t C = (int64_t)critic_hidden, cs[6][2] = {{C, Dd}, {C, 1}, {C, C}, {C, 1}, {1, C}, {1, 1}};
        const char *cn[6] = {"critic.0.weight", "critic.0.bias", "critic.2.weight", "critic.2.bias", "critic.4.weight", "critic.4.bias"};
        size_t base = 6 * n_layers;
        for (int j = 0; j < 6; j++) {
            long r = gm_params_add(&f->params, cn[j], j % 2 ? 1 : 2, cs[j]);
            if (r < 0) {
                rc = (int)r;
                goto fail;
            }
        }
        const gm_param_info *I = f->params.info; /* the span of the critic, padding included */
        int64_t span = (int64_t)(I[base + 5].offset + I[base + 5].n - I[base].offset);
        for (int k = 0; k < 2; k++) {
            long r = gm_params_add(&f->params, k ? "critic.adam.v" : "critic.adam.m", 1, &span);
            if (r < 0) {
                rc = (int)r;
                goto fail;
            }
        }
    }
    if ((rc = gm_params_alloc(&f->params))) goto fail;
    gm_flow_init(f, seed, 1);
    *out = f;
    return GM_OK;
fail:
    gm_flow_free(f);
    return rc;
}

void gm_flow_free(gm_flow *f) {
    if (!f) return;
    gm_params_free(&f->params);
    gm_free(f->masks);
    gm_free(f->ones);
    gm_free(f);
}

void gm_flow_init(gm_flow *f, uint64_t seed, int zero_last) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    for (size_t k = 0; k < f->n_layers; k++)
        for (int j = 0; j < 6; j++) {
            size_t i = PIDX(k, j);
            double fan_in = (double)(j < 2 ? f->D : f->hidden);
            if (zero_last && j >= 4) memset(f->params.val + f->params.info[i].offset, 0, f->params.info[i].n * sizeof(float));
            else gm_params_uniform(&f->params, i, 1.0 / sqrt(fan_in), &r);
        }
}

/* Conditioner of layer k on x (B,D): st = MLP(x ⊙ mask_k). */
static gm_var *conditioner(gm_flow *f, gm_tape *t, gm_var *x, size_t k, int frozen) {
    size_t B = (size_t)x->shape[0], D = f->D;
    float *mb = gm_arena_alloc(gm_tape_arena(t), B * D * sizeof(float));
    if (!mb) return gm_tape_fail(t, GM_ENOMEM, NULL);
    for (size_t b = 0; b < B; b++) memcpy(mb + b * D, f->masks + k * D, D * sizeof(float));
    gm_var *m = gm_tape_input(t, mb, 2, x->shape, 0);
    gm_var *p[6];
    for (int j = 0; j < 6; j++) p[j] = gm_params_var(&f->params, t, PIDX(k, j), frozen);
    gm_var *h = gm_op_act(t, gm_op_linear(t, gm_op_mul(t, x, m), p[0], p[1]), GM_ACT_TANH, 0);
    h = gm_op_act(t, gm_op_linear(t, h, p[2], p[3]), GM_ACT_TANH, 0);
    return gm_op_linear(t, h, p[4], p[5]);
}

static gm_var *run(gm_flow *f, gm_tape *t, gm_var *x, gm_var **logdet, int frozen, int dir) {
    if (!x || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "flow: NULL input");
    if (x->ndim != 2 || (size_t)x->shape[1] != f->D) return gm_tape_fail(t, GM_ESHAPE, "flow: input is not (B, D)");
    gm_var *ld = NULL;
    for (size_t i = 0; i < f->n_layers; i++) {
        size_t k = dir > 0 ? i : f->n_layers - 1 - i;
        gm_var *o = gm_op_coupling(t, x, conditioner(f, t, x, k, frozen), f->masks + k * f->D, f->scale, dir), *l = NULL;
        if (gm_op_split(t, o, 1, (int64_t)f->D, &x, &l) != GM_OK) return NULL;
        ld = ld ? gm_op_add(t, ld, l) : l;
    }
    if (logdet) *logdet = ld;
    return gm_tape_status(t) ? NULL : x;
}

gm_var *gm_flow_forward(gm_flow *f, gm_tape *t, gm_var *z, gm_var **logdet, int frozen) {
    return run(f, t, z, logdet, frozen, 1);
}
gm_var *gm_flow_inverse(gm_flow *f, gm_tape *t, gm_var *x, gm_var **logdet, int frozen) {
    return run(f, t, x, logdet, frozen, -1);
}

gm_var *gm_flow_logprob(gm_flow *f, gm_tape *t, gm_var *x, int frozen) {
    gm_var *ld = NULL, *z = gm_flow_inverse(f, t, x, &ld, frozen);
    if (!z) return NULL;
    gm_var *ones = gm_tape_input(t, f->ones, 2, (int64_t[]){1, (int64_t)f->D}, 0);
    gm_var *sq = gm_op_linear(t, gm_op_mul(t, z, z), ones, NULL); /* (B,1) = |z|^2 */
    const double log2pi = 1.8378770664093454836;
    gm_var *lz = gm_op_scale(t, sq, -0.5f, (float)(-0.5 * (double)f->D * log2pi));
    return gm_op_add(t, lz, ld);
}
