/* SPDX-License-Identifier: MIT */
/* diff_finetune.c — the over-optimisation baseline of the DAS spec (§9): KL-regularised fine-tuning of a
 * copy phi of the toy MLP DDPM theta by direct reward backprop through the whole S-step DDPM chain.
 * Per trajectory x_T -> ... -> x_0 drawn with phi (reparameterised: x_{i+1} = c1 x_i + c2 eps_phi(x_i) +
 * sigma_i z_i), the loss is
 *     L = -r(x_0)/alpha + sum_i ||mu_phi(x_i) - mu_theta(x_i)||^2 / (2 sigma_i^2),
 * mu_phi - mu_theta = c2 (eps_phi - eps_theta), i.e. the path KL of the Gaussian steps in units of alpha;
 * its minimiser over path laws is p_theta(x) exp(r(x)/alpha)/Z. One epoch = one Adam step on the batch
 * mean of L with global-norm clipping. The chain runs on the tape (both networks' forwards, the KL terms and a
 * reward node whose backward seeds -grad r/(alpha B) at x_0).
 *
 * Owns: the fine-tuned copy (a gm_diff_mlp whose EMA table is phi), its Adam state, a tape and the batch
 * buffers. Borrows the base model (frozen theta) and the reward. Thread safety: single owner; kernels may
 * use OpenMP and the result does not depend on the thread count (fixed-order kernels, serial RNG). */
#include <math.h>
#include <string.h>

#include "genmix/diffusion.h"
#include "genmix/models.h"
#include "genmix/optim.h"
#include "genmix/tape.h"

#include "diff_internal.h"

struct gm_diff_ft {
    gm_diff_ft_config cfg;
    gm_diff_mlp *base, *copy;
    gm_seq *theta, *phi;
    gm_diff_ft_reward_fn reward;
    void *reward_ctx;
    gm_optim opt;
    gm_tape *tape;
    int *t;       /* S timesteps */
    float *x0;    /* B x D samples of the last evaluated batch */
    double *r;    /* B rewards */
    float *rgrad; /* B x D reward gradients */
    size_t dim;
    int64_t epoch;
    gm_diff_ft_stats last;
};

gm_diff_ft_config gm_diff_ft_config_default(void) {
    gm_diff_ft_config c = {1.0, 100, 256, 500, 3e-5, 5.0, 0};
    return c;
}

void gm_diff_ft_free(gm_diff_ft *f) {
    if (!f) return;
    gm_diff_mlp_free(f->copy);
    gm_optim_free(&f->opt);
    gm_tape_free(f->tape);
    gm_free(f->t);
    gm_free(f->x0);
    gm_free(f->r);
    gm_free(f->rgrad);
    gm_free(f);
}

int gm_diff_ft_create(gm_diff_ft **out, const gm_diff_ft_config *cfg, gm_diff_mlp *base, gm_diff_ft_reward_fn reward,
                      void *reward_ctx) {
    *out = NULL;
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha)) GM_FAIL(GM_EINVAL, "finetune: alpha must be > 0 (got %g)", cfg->alpha);
    if (cfg->batch < 1 || cfg->epochs < 0) GM_FAIL(GM_EINVAL, "finetune: batch must be >= 1 and epochs >= 0");
    if (!(cfg->lr > 0) || !isfinite(cfg->lr)) GM_FAIL(GM_EINVAL, "finetune: lr must be > 0 (got %g)", cfg->lr);
    if (!base) GM_FAIL(GM_EINVAL, "finetune: no base model (a ddpm-mlp checkpoint is required)");
    if (!reward) GM_FAIL(GM_EINVAL, "finetune: no reward");
    size_t D = gm_diff_mlp_dim(base);
    gm_diff_ft *f = gm_calloc(1, sizeof *f);
    if (!f) return GM_ENOMEM;
    f->cfg = *cfg;
    f->base = base;
    f->reward = reward;
    f->reward_ctx = reward_ctx;
    f->dim = D;
    size_t B = (size_t)cfg->batch;
    int rc = gm__diff_mlp_clone(&f->copy, base);
    const gm_diff_schedule *sch = gm__diff_mlp_schedule(base);
    if (rc == GM_OK && (cfg->n_steps < 1 || cfg->n_steps > sch->T))
        rc = gm_set_error(GM_EINVAL, "finetune: steps must be in 1..%d (got %d)", sch->T, cfg->n_steps);
    f->t = gm_malloc((size_t)(cfg->n_steps > 0 ? cfg->n_steps : 1) * sizeof *f->t);
    f->x0 = gm_malloc(B * D * sizeof *f->x0);
    f->r = gm_malloc(B * sizeof *f->r);
    f->rgrad = gm_malloc(B * D * sizeof *f->rgrad);
    if (rc == GM_OK && (!f->t || !f->x0 || !f->r || !f->rgrad)) rc = GM_ENOMEM;
    if (rc == GM_OK) rc = gm_diff_timesteps(sch, cfg->n_steps, GM_SPACING_LEADING, f->t);
    if (rc == GM_OK) {
        f->theta = gm__diff_mlp_seq(base);
        f->phi = gm__diff_mlp_seq(f->copy);
        gm_optim_config oc = gm_optim_config_default();
        oc.kind = GM_OPT_ADAM;
        rc = gm_optim_init(&f->opt, &oc, f->phi->params.total);
    }
    if (rc == GM_OK) rc = gm_tape_create(&f->tape, 0);
    if (rc != GM_OK) {
        gm_diff_ft_free(f);
        return rc;
    }
    *out = f;
    return GM_OK;
}

/* The reward node: value -mean_k r_k / alpha; backward adds g * save (= -grad r / (alpha B)) into x_0. */
static void reward_backward(gm_tape *t, gm_node *n) {
    float *gx = gm_tape_grad(t, n->in[0]);
    if (!gx) return;
    const float *s = n->save[0];
    float g = n->out->grad[0];
    for (size_t j = 0; j < n->in[0]->n; j++) gx[j] += g * s[j];
}

static gm_var *reward_op(gm_diff_ft *f, gm_var *x, size_t B, double *value) {
    gm_tape *t = f->tape;
    if (!x) return NULL;
    size_t D = f->dim;
    memcpy(f->x0, x->val, B * D * sizeof(float));
    int rc = f->reward(f->reward_ctx, f->x0, B, f->r, f->rgrad);
    if (rc != GM_OK) return gm_tape_fail(t, rc, NULL); /* the reward set the message */
    double sum = 0;
    for (size_t k = 0; k < B; k++) sum += f->r[k];
    for (size_t j = 0; j < B * D; j++) sum += 0.0 * (double)f->rgrad[j]; /* NaN in a gradient poisons the loss */
    if (!isfinite(sum)) return gm_tape_fail(t, GM_ENUMERIC, "finetune: non-finite reward or reward gradient");
    int64_t one = 1;
    gm_var *out = gm_tape_new(t, 1, &one, 0);
    float *save = gm_arena_floats(gm_tape_arena(t), B * D);
    if (!out || !save) return gm_tape_fail(t, GM_ENOMEM, "finetune: out of memory");
    double sc = -1.0 / (f->cfg.alpha * (double)B);
    for (size_t j = 0; j < B * D; j++) save[j] = (float)(sc * (double)f->rgrad[j]);
    *value = sc * sum;
    out->val[0] = (float)*value;
    gm_node *n = gm_tape_record(t, reward_backward, out, 1, &x);
    if (n) n->save[0] = save;
    return out;
}

/* Build the chain of epoch `epoch` on the tape; returns the scalar batch-mean loss (NULL on failure). */
static gm_var *chain_loss(gm_diff_ft *f, uint64_t epoch, double *mean_r, double *kl) {
    gm_tape *t = f->tape;
    const gm_diff_schedule *sch = gm__diff_mlp_schedule(f->base);
    size_t B = (size_t)f->cfg.batch, D = f->dim;
    int S = f->cfg.n_steps;
    int64_t xs[2] = {(int64_t)B, (int64_t)D}, ts[2] = {(int64_t)B, 1};
    gm_var *x = gm_tape_new(t, 2, xs, 0);
    if (!x) return NULL;
    for (size_t k = 0; k < B; k++) {
        gm_rng g;
        gm_rng_init128(&g, f->cfg.seed, gm_rng_stream_id(GM_STREAM_NOISE, k), epoch * (uint64_t)(S + 1));
        gm_rng_normal_fill(&g, x->val + k * D, D);
    }
    gm_var *klsum = NULL;
    double klv = 0;
    for (int i = 0; i < S; i++) {
        int ti = f->t[i], tp = i + 1 < S ? f->t[i + 1] : -1;
        double ab = gm_diff_abar(sch, ti), abp = gm_diff_abar(sch, tp);
        double s2 = gm_diff_sigma2(ab, abp, 1.0), sig = sqrt(s2);
        double c1 = sqrt(abp / ab), c2 = sqrt(fmax(1.0 - abp - s2, 0.0)) - sqrt(abp) * sqrt(1.0 - ab) / sqrt(ab);
        gm_var *tv = gm_tape_new(t, 2, ts, 0), *z = gm_tape_new(t, 2, xs, 0);
        if (!tv || !z) return NULL;
        for (size_t k = 0; k < B; k++) tv->val[k] = (float)((double)ti / (double)sch->T);
        for (size_t k = 0; k < B; k++) {
            gm_rng g;
            gm_rng_init128(&g, f->cfg.seed, gm_rng_stream_id(GM_STREAM_NOISE, k), epoch * (uint64_t)(S + 1) + (uint64_t)i + 1);
            for (size_t j = 0; j < D; j++) z->val[k * D + j] = (float)(sig * gm_rng_normal(&g));
        }
        gm_var *in = gm_op_concat(t, x, tv, 1);
        gm_var *ep = gm_seq_forward(f->phi, t, in, -1, 0, NULL);
        gm_var *et = gm_seq_forward_frozen(f->theta, t, in, -1, 0, NULL);
        gm_var *d = gm_op_add(t, ep, gm_op_scale(t, et, -1.0f, 0.0f));
        /* sigma^2 = 0 (deterministic step): the path KL is infinite unless mu_phi = mu_theta; LEADING
         * spacing with eta = 1 never produces it */
        gm_var *kli = gm_op_scale(t, gm_op_sum(t, gm_op_mul(t, d, d)), (float)(c2 * c2 / (2.0 * s2 * (double)B)), 0.0f);
        klsum = klsum ? gm_op_add(t, klsum, kli) : kli;
        if (!kli) return NULL;
        klv += (double)kli->val[0];
        x = gm_op_add(t, gm_op_add(t, gm_op_scale(t, x, (float)c1, 0.0f), gm_op_scale(t, ep, (float)c2, 0.0f)), z);
    }
    double rv = 0;
    gm_var *rl = reward_op(f, x, B, &rv);
    if (!rl) return NULL;
    *mean_r = -rv * f->cfg.alpha;
    *kl = klv;
    return klsum ? gm_op_add(t, rl, klsum) : rl;
}

int gm_diff_ft_loss(gm_diff_ft *f, uint64_t epoch, double *loss, float *grad) {
    gm_tape_reset(f->tape);
    double mr = NAN, kl = NAN;
    gm_var *l = chain_loss(f, epoch, &mr, &kl);
    int rc = gm_tape_status(f->tape);
    if (rc == GM_OK && !l) rc = gm_set_error(GM_ENOMEM, "finetune: out of memory");
    if (rc == GM_OK && grad) {
        gm_params_zero_grad(&f->phi->params);
        rc = gm_tape_backward(f->tape, l);
        if (rc == GM_OK) memcpy(grad, f->phi->params.grad, f->phi->params.total * sizeof(float));
    }
    if (rc != GM_OK) return rc;
    f->last.loss = (double)l->val[0];
    f->last.mean_r = mr;
    f->last.kl = kl;
    if (loss) *loss = f->last.loss;
    return GM_OK;
}

int gm_diff_ft_step(gm_diff_ft *f) {
    if (gm_diff_ft_done(f)) GM_FAIL(GM_EINVAL, "finetune: already finished (%d epochs)", f->cfg.epochs);
    gm_tape_reset(f->tape);
    double mr = NAN, kl = NAN;
    gm_var *l = chain_loss(f, (uint64_t)f->epoch, &mr, &kl);
    int rc = gm_tape_status(f->tape);
    if (rc == GM_OK && !l) rc = gm_set_error(GM_ENOMEM, "finetune: out of memory");
    if (rc == GM_OK) {
        gm_params_zero_grad(&f->phi->params);
        rc = gm_tape_backward(f->tape, l);
    }
    if (rc != GM_OK) return rc;
    size_t n = f->phi->params.total;
    double gn = f->cfg.clip > 0 ? gm_clip_grad_norm(f->phi->params.grad, n, f->cfg.clip) : gm_grad_norm(f->phi->params.grad, n);
    if (!isfinite(gn)) GM_FAIL(GM_ENUMERIC, "finetune: gradient norm is %g at epoch %lld", gn, (long long)f->epoch);
    gm_optim_step(&f->opt, f->phi->params.val, f->phi->params.grad, (float)f->cfg.lr);
    f->last.loss = (double)l->val[0];
    f->last.mean_r = mr;
    f->last.kl = kl;
    f->last.grad_norm = gn;
    f->epoch++;
    return GM_OK;
}

int gm_diff_ft_done(const gm_diff_ft *f) { return f->epoch >= f->cfg.epochs; }
int64_t gm_diff_ft_epoch(const gm_diff_ft *f) { return f->epoch; }
const gm_diff_ft_stats *gm_diff_ft_last(const gm_diff_ft *f) { return &f->last; }
const float *gm_diff_ft_samples(const gm_diff_ft *f) { return f->x0; }
gm_diff_mlp *gm_diff_ft_model(gm_diff_ft *f) { return f->copy; }
float *gm_diff_ft_params(gm_diff_ft *f, size_t *n) {
    if (n) *n = f->phi->params.total;
    return f->phi->params.val;
}
