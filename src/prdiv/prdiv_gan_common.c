/* SPDX-License-Identifier: MIT */
/* prdiv_gan_common.c — what the toy GAN trainer (prdiv_gan.c) and the Fashion-MNIST conv GAN trainer
 * (prdiv_gan_conv.c) share, so that both run the same code: one training iteration (gm__gan_iterate: n_D
 * critic steps, the generator step, the α̂/β̂ diagnostic, the batch diagnostics, the generator Adam step and
 * the EMA) with the networks passed in as callbacks, the tail of create (EMA = G, spectral-norm vectors, Adam
 * pairs), the sampling loop over noise chunks, and the reading of a trainer checkpoint's metadata (open and
 * model check, the table-driven config reader gm__ckpt_read_fields and its close-and-fail end, also used by
 * the image flow's loader in prdiv_iflow.c).
 * Owns: nothing (caller-owned tables, tapes, buffers and checkpoints). Thread safety: reentrant; one trainer
 * per thread as the trainers themselves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/rng.h"
#include "prdiv_internal.h"

void gm__gan_init_tail(gm_params *P, const gm__gan_layout *L, gm_rng *r, float beta1, float beta2, float eps,
                       gm_optim *opt_g, gm_optim *opt_d) {
    float *val = P->val;
    memcpy(val + P->info[L->t_ema].offset, val + P->info[L->t_g].offset, L->n_g * sizeof(float));
    for (int k = 0; k < 3; k++) {
        float *u = val + P->info[L->t_u + (size_t)k].offset;
        size_t n = P->info[L->t_u + (size_t)k].n;
        double s = 0;
        gm_rng_normal_fill(r, u, n);
        for (size_t i = 0; i < n; i++) s += (double)u[i] * (double)u[i];
        for (size_t i = 0; i < n; i++) u[i] = (float)((double)u[i] / sqrt(s));
    }
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    oc.beta1 = beta1, oc.beta2 = beta2, oc.eps = eps;
    *opt_g = (gm_optim){oc, L->n_g, val + P->info[L->t_gm].offset, val + P->info[L->t_gm + 1].offset, 0};
    *opt_d = (gm_optim){oc, L->n_d, val + P->info[L->t_gm + 2].offset, val + P->info[L->t_gm + 3].offset, 0};
}

void gm__gan_gen_update(gm_params *P, const gm__gan_layout *L, gm_optim *opt_g, float lr_g, int64_t *step,
                        int64_t ema_start, float ema_decay) {
    float *G = P->val + P->info[L->t_g].offset, *E = P->val + P->info[L->t_ema].offset;
    gm_optim_step(opt_g, G, P->grad + P->info[L->t_g].offset, lr_g);
    ++*step;
    if (*step <= ema_start) memcpy(E, G, L->n_g * sizeof(float));
    else gm_ema_update(E, G, L->n_g, ema_decay);
}

static void draw_noise(const gm__gan_iter *it, uint64_t idx) {
    gm_rng r;
    gm_rng_init(&r, it->seed, gm_rng_stream_id(GM_STREAM_NOISE, idx));
    gm_rng_normal_fill(&r, it->z, it->batch * it->dim_z);
}

int gm__gan_iterate(const gm__gan_iter *it, gm_gan_status *st) {
    gm_tape *t = it->tape;
    gm_params *P = it->P;
    size_t B = it->batch, Zn = B * it->dim_z, n_critic = it->n_critic, i = (size_t)*it->step;
    int64_t zs[2] = {(int64_t)B, (int64_t)it->dim_z};
    float *dslab = P->grad + P->info[it->L->t_d].offset, *gslab = P->grad + P->info[it->L->t_g].offset;
    float loss_d = 0, loss_g = 0, ab[2] = {0, 0};
    for (size_t s = 0; s < n_critic; s++) { /* critic steps, G frozen */
        gm_tape_reset(t);
        if (it->z_in) memcpy(it->z, it->z_in + s * Zn, Zn * sizeof(float));
        else draw_noise(it, (uint64_t)(i * (n_critic + 1) + s));
        int prev = gm_tape_no_grad(t, 1);
        gm_var *xf = it->G(it->net, gm_tape_input(t, it->z, 2, zs, 0), 1);
        gm_tape_no_grad(t, prev);
        gm_var *xr = gm_tape_input(t, it->xr + s * B * it->row, it->x_nd, it->x_shape, 0), *vf, *vr;
        gm_var *v = it->D(it->net, gm_op_concat(t, gm_var_detach(t, xf), xr, 0), 0);
        if (gm_op_split(t, v, 0, (int64_t)B, &vf, &vr)) return gm_tape_status(t);
        gm_var *loss = gm_op_gan_critic_loss(t, vr, vf, it->crit_obj, it->lambda);
        if (gm_tape_status(t)) return gm_tape_status(t);
        memset(dslab, 0, it->L->n_d * sizeof(float));
        int rc = gm_tape_backward(t, loss);
        if (rc) return rc;
        loss_d = loss->val[0];
        if (!isfinite(loss_d)) GM_FAIL(GM_ENUMERIC, "%s: critic loss is %g at step %lld", it->who, (double)loss_d, (long long)*it->step);
        gm_optim_step(it->opt_d, P->val + P->info[it->L->t_d].offset, dslab, it->lr_d);
    }
    /* generator step: fresh noise, the first real chunk (as the released code) */
    gm_tape_reset(t);
    if (it->z_in) memcpy(it->z, it->z_in + n_critic * Zn, Zn * sizeof(float));
    else draw_noise(it, (uint64_t)(i * (n_critic + 1) + n_critic));
    gm_var *xf = it->G(it->net, gm_tape_input(t, it->z, 2, zs, 0), 0);
    gm_var *xr = gm_tape_input(t, it->xr, it->x_nd, it->x_shape, 0), *vf, *vr;
    gm_var *v = it->D(it->net, gm_op_concat(t, xf, xr, 0), 1);
    if (gm_op_split(t, v, 0, (int64_t)B, &vf, &vr)) return gm_tape_status(t);
    gm_var *loss = gm_op_gan_gen_loss(t, vf, vr, it->gen_obj, it->lambda, ab);
    if (gm_tape_status(t)) return gm_tape_status(t);
    memset(gslab, 0, it->L->n_g * sizeof(float));
    int rc = gm_tape_backward(t, loss);
    if (rc) return rc;
    loss_g = loss->val[0];
    if (!isfinite(loss_g)) GM_FAIL(GM_ENUMERIC, "%s: generator loss is %g at step %lld", it->who, (double)loss_g, (long long)*it->step);
    if (it->gen_obj != it->ratio_obj) { /* α̂/β̂ of the critic's ratio (χ² unless pr-kl) as a diagnostic */
        float tmp;
        gm_gan_gen_loss_forward(&tmp, ab, vf->val, B, vr->val, B, it->ratio_obj, it->lambda);
    }
    if (st) {
        gm__gan_status_fill(st, vf->val, vr->val, B, it->thr, it->ratio_obj, it->lambda, it->scratch);
        st->step = *it->step + 1;
        st->loss_d = loss_d, st->loss_g = loss_g;
        st->alpha_hat = ab[0], st->beta_hat = ab[1];
    }
    gm__gan_gen_update(P, it->L, it->opt_g, it->lr_g, it->step, it->ema_start, it->ema_decay);
    gm_tape_reset(t);
    return GM_OK;
}

int gm__gan_sample_loop(void *net, gm_var *(*G)(void *net, gm_var *z, int ema), gm_tape *t, uint64_t seed, size_t Z,
                        size_t chunk, size_t row, int to_unit, float *x, size_t n, int ema, uint64_t stream) {
    float *z = gm_malloc(chunk * Z * sizeof(float));
    if (!z) return GM_ENOMEM;
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_USER, stream));
    int rc = GM_OK;
    for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        gm_rng_normal_fill(&r, z, m * Z);
        gm_tape_reset(t);
        int prev = gm_tape_no_grad(t, 1);
        gm_var *xf = G(net, gm_tape_input(t, z, 2, (int64_t[]){(int64_t)m, (int64_t)Z}, 0), ema);
        gm_tape_no_grad(t, prev);
        if ((rc = gm_tape_status(t))) break;
        if (!to_unit) memcpy(x + i0 * row, xf->val, m * row * sizeof(float));
        else
            for (size_t i = 0; i < m * row; i++) x[i0 * row + i] = 0.5f * xf->val[i] + 0.5f;
    }
    gm_tape_reset(t);
    gm_free(z);
    return rc;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void gm__gan_status_fill(gm_gan_status *st, const float *vf, const float *vr, size_t B, float thr,
                         gm_gan_objective ratio_obj, float lambda, float *scratch) {
    size_t nr = 0, nf = 0, ncl = 0, nact = 0;
    for (size_t i = 0; i < B; i++) {
        double vi = vf[i];
        double dr, ri = gm_gan_ratio(ratio_obj, vi, &dr);
        nr += vr[i] > thr, nf += vf[i] > thr;
        ncl += (ratio_obj == GM_GAN_PR || ratio_obj == GM_GAN_PR_NOFLOOR) && vi <= -2;
        nact += dr > 0 && (double)lambda * ri < 1;
    }
    memcpy(scratch, vf, B * sizeof(float));
    qsort(scratch, B, sizeof(float), cmp_f);
    st->vf_q05 = scratch[(size_t)(0.05 * (double)(B - 1) + 0.5)];
    st->vf_median = scratch[(size_t)(0.50 * (double)(B - 1) + 0.5)];
    st->vf_q95 = scratch[(size_t)(0.95 * (double)(B - 1) + 0.5)];
    st->acc_real = (float)(100.0 * (double)nr / (double)B);
    st->acc_fake = (float)(100.0 - 100.0 * (double)nf / (double)B);
    st->frac_clamped = (float)((double)ncl / (double)B);
    st->frac_active = (float)((double)nact / (double)B);
}

int gm__gan_ckpt_open(gm_checkpoint **ck, const char *path, const char *model_name, const char *what, const char **js,
                      const char **step, const char **seed) {
    *ck = NULL;
    int rc = gm_checkpoint_open(ck, path);
    if (rc) return rc;
    const char *model = gm_checkpoint_meta_get(*ck, "model");
    *js = gm_checkpoint_meta_get(*ck, "config"), *step = gm_checkpoint_meta_get(*ck, "step");
    *seed = gm_checkpoint_meta_get(*ck, "seed");
    if (!model || strcmp(model, model_name) || !*js || !*step || !*seed) {
        rc = gm_set_error(GM_EFORMAT, "%s: not a genmix %s checkpoint (model '%s')", path, what, model ? model : "?");
        gm_checkpoint_close(*ck); /* model is borrowed from ck: format the message first */
        *ck = NULL;
        return rc;
    }
    return GM_OK;
}

int gm__json_str(const char *js, const char *key, int *bad, int *oom, char *v, size_t len) {
    int jr = GM_OK;
    if (*oom || (jr = gm__json_field(js, key, v, len)) != GM_OK) {
        if (*oom || jr == GM_ENOMEM) *oom = 1;
        *bad = 1;
        return 0;
    }
    return 1;
}

int gm__json_num(const char *js, const char *key, int *bad, int *oom, double *x) {
    char v[128];
    if (!gm__json_str(js, key, bad, oom, v, sizeof v)) return 0;
    *x = strtod(v, NULL);
    return 1;
}

void gm__ckpt_read_fields(const char *js, const gm__ck_field *f, size_t n, void *cfg, int *bad, int *oom) {
    for (size_t i = 0; i < n; i++) {
        int absent = 0;
        double x;
        if (!gm__json_num(js, f[i].key, f[i].optional ? &absent : bad, oom, &x)) continue;
        char *dst = (char *)cfg + f[i].offset;
        switch (f[i].type) {
        case GM__CK_F32: *(float *)dst = (float)x; break;
        case GM__CK_SIZE: *(size_t *)dst = (size_t)x; break;
        case GM__CK_I64: *(int64_t *)dst = (int64_t)x; break;
        case GM__CK_INT: *(int *)dst = (int)x; break;
        }
    }
}

int gm__ckpt_config_end(gm_checkpoint *ck, const char *path, const char *what, int bad, int oom) {
    if (oom) { /* an allocation failed while reading the config: not a format error */
        gm_checkpoint_close(ck);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    if (bad) {
        gm_checkpoint_close(ck);
        GM_FAIL(GM_EFORMAT, "%s: malformed %s config in __metadata__", path, what);
    }
    return GM_OK;
}
