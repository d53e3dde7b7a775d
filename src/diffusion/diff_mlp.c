/* SPDX-License-Identifier: MIT */
/* diff_mlp.c — the 2-D toy diffusion model: an MLP eps_theta([x, t/T]) (the official toy architecture,
 * dim+1 -> H -> H -> dim with ReLU), eps-MSE training steps with Adam and an EMA copy, a gm_denoiser over
 * the EMA weights with input VJPs through the tape, and safetensors checkpoints (EMA weights).
 *
 * Owns: two gm_seq (training and EMA weights), the Adam state, a tape and input buffers.
 * Thread safety: one model per thread (the denoiser reuses the model's tape). Kernels may use OpenMP;
 * results do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "genmix/diffusion.h"
#include "genmix/models.h"
#include "genmix/rng.h"

#include "diff_internal.h"

struct gm_diff_mlp {
    size_t dim;
    int hidden;
    const gm_diff_schedule *sch;
    gm_seq *net, *ema;
    gm_optim opt;
    gm_tape *tape;
    float *in;   /* B x (dim+1) */
    float *tgt;  /* B x dim (training noise) */
    size_t cap;
    char data[32]; /* training data name from the checkpoint ("toy:gmm2"), or "" */
};

static int mlp_reserve(gm_diff_mlp *m, size_t B) {
    if (B <= m->cap) return GM_OK;
    float *in = gm_realloc(m->in, B * (m->dim + 1) * sizeof(float));
    if (!in) return GM_ENOMEM;
    m->in = in;
    float *tg = gm_realloc(m->tgt, B * m->dim * sizeof(float));
    if (!tg) return GM_ENOMEM;
    m->tgt = tg;
    m->cap = B;
    return GM_OK;
}

void gm_diff_mlp_free(gm_diff_mlp *m) {
    if (!m) return;
    gm_seq_free(m->net);
    gm_seq_free(m->ema);
    gm_optim_free(&m->opt);
    gm_tape_free(m->tape);
    gm_free(m->in);
    gm_free(m->tgt);
    gm_free(m);
}

int gm_diff_mlp_create(gm_diff_mlp **out, size_t dim, int hidden, const gm_diff_schedule *sch) {
    *out = NULL;
    if (dim < 1 || dim > 64 || hidden < 1 || hidden > 4096)
        GM_FAIL(GM_EINVAL, "ddpm mlp: dim must be 1..64 and hidden 1..4096 (got %zu, %d)", dim, hidden);
    gm_diff_mlp *m = gm_calloc(1, sizeof *m);
    if (!m) return GM_ENOMEM;
    m->dim = dim;
    m->hidden = hidden;
    m->sch = sch;
    char spec[128];
    snprintf(spec, sizeof spec, "linear:%d,relu,linear:%d,relu,linear:%zu", hidden, hidden, dim);
    int64_t in_shape[1] = {(int64_t)dim + 1};
    int rc = gm_seq_create(&m->net, spec, 1, in_shape);
    if (rc == GM_OK) rc = gm_seq_create(&m->ema, spec, 1, in_shape);
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    if (rc == GM_OK) rc = gm_optim_init(&m->opt, &oc, m->net->params.total);
    if (rc == GM_OK) rc = gm_tape_create(&m->tape, 0);
    if (rc != GM_OK) {
        gm_diff_mlp_free(m);
        return rc;
    }
    *out = m;
    return GM_OK;
}

void gm_diff_mlp_init(gm_diff_mlp *m, uint64_t seed) {
    gm_seq_init(m->net, seed);
    memcpy(m->ema->params.val, m->net->params.val, m->net->params.total * sizeof(float));
}

size_t gm_diff_mlp_dim(const gm_diff_mlp *m) { return m->dim; }
const char *gm_diff_mlp_data(const gm_diff_mlp *m) { return m->data; }

/* rows x (B x dim) at timesteps t (one per row, or all = t0 if t == NULL) into m->in = [x, t/T] */
static void fill_input(gm_diff_mlp *m, const float *x, size_t B, const int *t, int t0) {
    size_t D = m->dim;
    for (size_t i = 0; i < B; i++) {
        memcpy(m->in + i * (D + 1), x + i * D, D * sizeof(float));
        m->in[i * (D + 1) + D] = (float)((double)(t ? t[i] : t0) / (double)m->sch->T);
    }
}

int gm_diff_mlp_train_step(gm_diff_mlp *m, const float *x0, size_t B, float lr, float ema_decay, uint64_t seed,
                           uint64_t step, double *loss) {
    size_t D = m->dim;
    int rc = mlp_reserve(m, B);
    if (rc != GM_OK) return rc;
    int *t = gm_malloc(B * sizeof *t);
    float *xt = gm_malloc(B * D * sizeof *xt);
    if (!t || !xt) {
        gm_free(t);
        gm_free(xt);
        return GM_ENOMEM;
    }
    gm__diff_noise_batch(m->sch, x0, B, D, seed, step, t, NULL, xt, m->tgt);
    fill_input(m, xt, B, t, 0);
    gm_tape_reset(m->tape);
    int64_t ishape[2] = {(int64_t)B, (int64_t)D + 1}, tshape[2] = {(int64_t)B, (int64_t)D};
    gm_var *xin = gm_tape_input(m->tape, m->in, 2, ishape, 0);
    gm_var *target = gm_tape_input(m->tape, m->tgt, 2, tshape, 0);
    gm_var *pred = gm_seq_forward(m->net, m->tape, xin, -1, 1, NULL);
    gm_var *l = gm_op_mse(m->tape, pred, target);
    rc = gm_tape_status(m->tape);
    if (rc == GM_OK) {
        gm_params_zero_grad(&m->net->params);
        rc = gm_tape_backward(m->tape, l);
    }
    if (rc == GM_OK) {
        if (loss) *loss = (double)l->val[0];
        gm_optim_step(&m->opt, m->net->params.val, m->net->params.grad, lr);
        gm_ema_update(m->ema->params.val, m->net->params.val, m->net->params.total, ema_decay);
    }
    gm_free(t);
    gm_free(xt);
    return rc;
}

static int mlp_eval(gm_diff_mlp *m, const float *x, size_t n, int t, const float *u, float *eps, float *vjp) {
    size_t D = m->dim;
    int rc = mlp_reserve(m, n);
    if (rc != GM_OK) return rc;
    fill_input(m, x, n, NULL, t);
    gm_tape_reset(m->tape);
    int64_t ishape[2] = {(int64_t)n, (int64_t)D + 1};
    gm_var *xin = gm_tape_input(m->tape, m->in, 2, ishape, u != NULL);
    gm_var *out = gm_seq_forward_frozen(m->ema, m->tape, xin, -1, 0, NULL);
    rc = gm_tape_status(m->tape);
    if (rc != GM_OK) return rc;
    memcpy(eps, out->val, n * D * sizeof(float));
    if (!u) return GM_OK;
    rc = gm_tape_backward_from(m->tape, out, u);
    if (rc != GM_OK) return rc;
    for (size_t i = 0; i < n; i++) memcpy(vjp + i * D, xin->grad + i * (D + 1), D * sizeof(float));
    return GM_OK;
}

static int mlp_eps(void *ctx, const float *x, size_t n, int t, float *eps) { return mlp_eval(ctx, x, n, t, NULL, eps, NULL); }
static int mlp_eps_vjp(void *ctx, const float *x, size_t n, int t, const float *u, float *eps, float *vjp) {
    return mlp_eval(ctx, x, n, t, u, eps, vjp);
}

gm_denoiser gm_diff_mlp_denoiser(gm_diff_mlp *m) {
    gm_denoiser d = {m->dim, mlp_eps, mlp_eps_vjp, m};
    return d;
}

/* Checkpoint of one of the model's tables (EMA weights, or training weights + Adam + RNG). */
static int save_ckpt(const gm_diff_mlp *m, const char *path, const char *model, const gm_params *p, const gm_optim *opt,
                     int64_t step, uint64_t seed, const gm_rng *rng, const char *data) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"dim\": %zu, \"hidden\": %d, \"T\": %d, \"beta\": \"linear\", \"data\": \"%s\"}", m->dim,
             m->hidden, m->sch->T, data ? data : "");
    return gm__diff_ckpt_save(path, model, cfg, p, opt, step, seed, rng);
}

int gm_diff_mlp_save(const gm_diff_mlp *m, const char *path, int64_t step, uint64_t seed, const char *data) {
    return save_ckpt(m, path, "ddpm-mlp", &m->ema->params, NULL, step, seed, NULL, data);
}

int gm_diff_mlp_load(gm_diff_mlp **out, const char *path, const gm_diff_schedule *sch) {
    *out = NULL;
    gm_checkpoint *c;
    cJSON *j;
    int rc = gm__diff_ckpt_open(path, "ddpm-mlp", &c, &j);
    if (rc != GM_OK) return rc;
    cJSON *jdata = cJSON_GetObjectItem(j, "data");
    cJSON *jd = cJSON_GetObjectItem(j, "dim"), *jh = cJSON_GetObjectItem(j, "hidden"), *jt = cJSON_GetObjectItem(j, "T");
    if (!cJSON_IsNumber(jd) || !cJSON_IsNumber(jh) || !cJSON_IsNumber(jt) || (int)jt->valuedouble != sch->T) {
        cJSON_Delete(j);
        gm_checkpoint_close(c);
        GM_FAIL(GM_EFORMAT, "%s: bad ddpm-mlp config (dim, hidden, T = %d expected)", path, sch->T);
    }
    gm_diff_mlp *m;
    rc = gm_diff_mlp_create(&m, (size_t)jd->valuedouble, (int)jh->valuedouble, sch);
    if (rc == GM_OK && cJSON_IsString(jdata)) snprintf(m->data, sizeof m->data, "%s", jdata->valuestring);
    cJSON_Delete(j);
    if (rc == GM_OK) rc = gm_checkpoint_load_params(c, &m->ema->params);
    gm_checkpoint_close(c);
    if (rc != GM_OK) {
        gm_diff_mlp_free(m);
        return gm_error_prefix(rc, path);
    }
    memcpy(m->net->params.val, m->ema->params.val, m->ema->params.total * sizeof(float));
    *out = m;
    return GM_OK;
}

int gm_diff_mlp_save_state(const gm_diff_mlp *m, const char *path, int64_t step, uint64_t seed, const gm_rng *rng) {
    return save_ckpt(m, path, "ddpm-mlp-train", &m->net->params, &m->opt, step, seed, rng, NULL);
}

int gm_diff_mlp_load_state(gm_diff_mlp *m, const char *path, int64_t *step, gm_rng *rng) {
    return gm__diff_state_load(path, "ddpm-mlp", &m->net->params, &m->opt, step, rng);
}

int gm_diff_mlp_load_ema(gm_diff_mlp *m, const char *path) {
    gm_diff_mlp *e;
    int rc = gm_diff_mlp_load(&e, path, m->sch);
    if (rc != GM_OK) return rc;
    if (e->dim != m->dim || e->hidden != m->hidden) rc = gm_set_error(GM_ESHAPE, "%s: model shape differs from the training state", path);
    else memcpy(m->ema->params.val, e->ema->params.val, m->ema->params.total * sizeof(float));
    gm_diff_mlp_free(e);
    return rc;
}

gm_seq *gm__diff_mlp_seq(gm_diff_mlp *m) { return m->ema; }
const gm_diff_schedule *gm__diff_mlp_schedule(const gm_diff_mlp *m) { return m->sch; }

int gm__diff_mlp_clone(gm_diff_mlp **out, const gm_diff_mlp *m) {
    int rc = gm_diff_mlp_create(out, m->dim, m->hidden, m->sch);
    if (rc != GM_OK) return rc;
    memcpy((*out)->net->params.val, m->net->params.val, m->net->params.total * sizeof(float));
    memcpy((*out)->ema->params.val, m->ema->params.val, m->ema->params.total * sizeof(float));
    memcpy((*out)->data, m->data, sizeof m->data);
    return GM_OK;
}
