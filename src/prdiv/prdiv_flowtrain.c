/* SPDX-License-Identifier: MIT */
/* prdiv_flowtrain.c — training a RealNVP flow (prdiv_flow.c) on a 2-D toy with maximum likelihood or the
 * PR-divergence (spec §3): procedure C (known target density: D_λ = E_z f_λ(p(x)/q(x)), x = g(z), pathwise
 * gradient through a custom tape op), procedure B (weighted MLE on data with w = f_λ′(r) − f_λ(r)/r held
 * constant, r = p/q exact for toys) and procedure A (adversarial: the flow is the generator of spec §2.2 —
 * n_critic χ² critic steps per step, then the PR generator loss on the critic's ratio, pathwise through
 * x = g(z)), all after `pretrain` MLE steps (A trains its critic during them too); sampling, log q on
 * points, and the exact-density α_λ estimates of spec V9a. A create/step/free state machine with checkpoints.
 * Owns: the flow (procedure A: with the critic and its Adam moments in the flow's table), the flow's Adam
 * state, a tape and batch buffers. Thread safety: one trainer per thread.
 * Determinism: the data and noise of step i come from Philox streams keyed by i (bitwise resume). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "prdiv_internal.h"

struct gm_flowtrain {
    gm_flowtrain_config cfg;
    gm_flow *flow;
    gm_optim opt;
    int64_t step;
    gm_tape *tape;
    float *x, *z; /* batch x 2 */
    /* procedure A */
    size_t cbase;  /* index of critic.0.weight in the flow's table */
    gm_optim opt_d; /* the critic's Adam (β1 = 0, as spec §2.3); m/v point into the table */
    float *xr;     /* n_critic x batch x 2 real rows of the current step */
};

gm_flowtrain_config gm_flowtrain_config_default(void) {
    gm_flowtrain_config c;
    memset(&c, 0, sizeof c);
    c.objective = GM_FLOW_PR;
    c.procedure = 'C';
    c.lambda = 1;
    c.n_layers = 6;
    c.hidden = 64;
    c.batch = 256;
    c.lr = 1e-3f;
    c.pretrain = 500;
    c.n_critic = 4;
    c.data = GM_TOY_8GAUSS;
    return c;
}

int gm_flowtrain_create(gm_flowtrain **out, const gm_flowtrain_config *cfg) {
    *out = NULL;
    if (cfg->objective != GM_FLOW_MLE && cfg->objective != GM_FLOW_PR) GM_FAIL(GM_EINVAL, "flow: unknown objective");
    if (cfg->procedure != 'A' && cfg->procedure != 'B' && cfg->procedure != 'C')
        GM_FAIL(GM_EINVAL, "flow: procedure '%c' is unknown (A, B or C)", cfg->procedure ? cfg->procedure : '?');
    if (cfg->procedure == 'A' && (cfg->n_critic < 1 || cfg->n_critic > 100))
        GM_FAIL(GM_EINVAL, "flow: procedure A needs n_critic in 1..100");
    if (!(cfg->lambda > 0) || !isfinite(cfg->lambda)) GM_FAIL(GM_EINVAL, "flow: lambda = %g must be finite and > 0", (double)cfg->lambda);
    if (cfg->batch < 1 || cfg->batch > 1000000 || !(cfg->lr > 0) || cfg->pretrain < 0)
        GM_FAIL(GM_EINVAL, "flow: batch and lr must be positive, pretrain >= 0");
    if (!gm_toy_name(cfg->data)) GM_FAIL(GM_EINVAL, "flow: unknown data set");
    gm_flowtrain *f = gm_calloc(1, sizeof *f);
    if (!f) return GM_ENOMEM;
    f->cfg = *cfg;
    int A = cfg->procedure == 'A';
    int rc = gm__flow_create(&f->flow, 2, cfg->n_layers, cfg->hidden, cfg->seed, A ? cfg->hidden : 0);
    if (rc) goto fail;
    if (A) { /* critic init: uniform(±1/sqrt(fan_in)) from (GM_STREAM_INIT, 1); Adam moments zero */
        gm_params *P = &f->flow->params;
        f->cbase = 6 * cfg->n_layers;
        gm_rng r;
        gm_rng_init(&r, cfg->seed, gm_rng_stream_id(GM_STREAM_INIT, 1));
        for (size_t j = 0; j < 6; j++)
            gm_params_uniform(P, f->cbase + j, 1.0 / sqrt((double)P->info[f->cbase + j - j % 2].shape[1]), &r);
        gm_optim_config dc = gm_optim_config_default();
        dc.kind = GM_OPT_ADAM;
        dc.beta1 = 0, dc.beta2 = 0.999f, dc.eps = 1e-8f;
        const gm_param_info *m = &P->info[f->cbase + 6], *v = &P->info[f->cbase + 7];
        f->opt_d = (gm_optim){dc, m->n, P->val + m->offset, P->val + v->offset, 0};
        rc = GM_ENOMEM;
        if (!(f->xr = gm_malloc(cfg->n_critic * cfg->batch * 2 * sizeof(float)))) goto fail;
    }
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    if ((rc = gm_optim_init(&f->opt, &oc, f->flow->params.total))) goto fail;
    if ((rc = gm_tape_create(&f->tape, 0))) goto fail;
    f->x = gm_malloc(cfg->batch * 2 * sizeof(float));
    f->z = gm_malloc(cfg->batch * 2 * sizeof(float));
    rc = GM_ENOMEM;
    if (!f->x || !f->z) goto fail;
    *out = f;
    return GM_OK;
fail:
    gm_flowtrain_free(f);
    return rc;
}

void gm_flowtrain_free(gm_flowtrain *f) {
    if (!f) return;
    gm_flow_free(f->flow);
    gm_optim_free(&f->opt);
    gm_tape_free(f->tape);
    gm_free(f->x);
    gm_free(f->z);
    gm_free(f->xr);
    gm_free(f);
}

int64_t gm_flowtrain_get_step(const gm_flowtrain *f) { return f->step; }
gm_flow *gm_flowtrain_flow(gm_flowtrain *f) { return f->flow; }
const gm_flowtrain_config *gm_flowtrain_get_config(const gm_flowtrain *f) { return &f->cfg; }

/* log p of the toy and its gradient (log-sum-exp over the modes). */
static double toy_logp(gm_toy toy, double x, double y, double *gx, double *gy) {
    double c[50], sd;
    size_t K = gm_toy_modes(toy, c, &sd);
    double e[25], m = -INFINITY, s2 = sd * sd;
    for (size_t k = 0; k < K; k++) {
        double dx = x - c[2 * k], dy = y - c[2 * k + 1];
        e[k] = -0.5 * (dx * dx + dy * dy) / s2;
        if (e[k] > m) m = e[k];
    }
    double s = 0, ax = 0, ay = 0;
    for (size_t k = 0; k < K; k++) {
        double w = exp(e[k] - m);
        s += w;
        ax += w * (c[2 * k] - x) / s2;
        ay += w * (c[2 * k + 1] - y) / s2;
    }
    if (gx) *gx = ax / s, *gy = ay / s;
    return m + log(s) - log((double)K * 6.283185307179586477 * s2);
}

/* ---- the procedure-C loss: mean f_λ(exp(log p(x) − lq)) over the batch ---- */
#define LOGR_MAX 30.0
static void bw_procC(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0], *lq = n->in[1];
    const double *r = n->save[0], *g = n->save[1]; /* r (clipped), ∇ log p */
    size_t B = x->n / 2;
    double lam = (double)n->fp[0], go = (double)n->out->grad[0];
    float *dx = gm_tape_grad(t, x), *dl = gm_tape_grad(t, lq);
    for (size_t i = 0; i < B; i++) {
        if (!(lam * r[i] > 1)) continue;
        double c = go * lam * r[i] / (double)B; /* d/d log r of λ r */
        if (dx) dx[2 * i] += (float)(c * g[2 * i]), dx[2 * i + 1] += (float)(c * g[2 * i + 1]);
        if (dl) dl[i] -= (float)c;
    }
}
static gm_var *procC_loss(gm_tape *t, gm_var *x, gm_var *lq, gm_toy toy, float lambda) {
    size_t B = x->n / 2;
    gm_arena *a = gm_tape_arena(t);
    double *r = gm_arena_alloc(a, B * sizeof(double)), *g = gm_arena_alloc(a, 2 * B * sizeof(double));
    int64_t one = 1;
    gm_var *y = gm_tape_new(t, 1, &one, 0);
    if (!r || !g || !y) return gm_tape_fail(t, GM_ENOMEM, NULL);
    double lam = (double)lambda, s = 0;
    for (size_t i = 0; i < B; i++) {
        double lp = toy_logp(toy, x->val[2 * i], x->val[2 * i + 1], &g[2 * i], &g[2 * i + 1]);
        double lr = fmin(lp - (double)lq->val[i], LOGR_MAX);
        r[i] = exp(lr);
        if (lr == LOGR_MAX) r[i] = 0; /* clipped: no gradient (and no overflow) */
        s += fmax(lam * exp(lr), 1.0) - fmax(lam, 1.0);
    }
    y->val[0] = (float)(s / (double)B);
    gm_var *in[2] = {x, lq};
    gm_node *n = gm_tape_record(t, bw_procC, y, 2, in);
    if (n) n->save[0] = r, n->save[1] = g, n->fp[0] = lambda;
    return y;
}

/* weight of procedure B: w = f_λ'(r) − f_λ(r)/r (clipped to [0, 100]); also the image flow's (prdiv_iflow.c) */
double gm__prdiv_weight_b(double lam, double r) {
    double w;
    if (lam >= 1) w = lam * r > 1 ? lam / r : (lam - 1) / r;
    else w = lam * r > 1 ? 1 / r : 0;
    return fmin(fmax(w, 0), 100);
}

/* ---- procedure A: the χ² critic of spec §2.2 on flow samples ---- */
#define STREAM_A ((uint64_t)1 << 40) /* procedure A's data / noise ids, apart from the per-step ones */
static gm_var *critic_fwd(gm_flowtrain *f, gm_var *x, int frozen) {
    gm_tape *t = f->tape;
    gm_var *h = x;
    for (size_t k = 0; k < 3; k++) {
        gm_var *w = gm_params_var(&f->flow->params, t, f->cbase + 2 * k, frozen);
        gm_var *b = gm_params_var(&f->flow->params, t, f->cbase + 2 * k + 1, frozen);
        h = gm_op_linear(t, h, w, b);
        if (k < 2) h = gm_op_act(t, h, GM_ACT_LEAKY_RELU, 0.2f);
    }
    return h;
}

/* n_critic critic steps on fresh real chunks (kept in f->xr) and flow samples (no flow gradient) */
static int critic_steps(gm_flowtrain *f) {
    const gm_flowtrain_config *c = &f->cfg;
    gm_tape *t = f->tape;
    gm_params *P = &f->flow->params;
    size_t B = c->batch;
    int64_t sh[2] = {(int64_t)B, 2};
    float *dgrad = P->grad + P->info[f->cbase].offset, *dval = P->val + P->info[f->cbase].offset;
    for (size_t s = 0; s < c->n_critic; s++) {
        uint64_t id = STREAM_A + (uint64_t)f->step * c->n_critic + s;
        float *xr = f->xr + s * B * 2;
        gm_toy_sample(c->data, xr, B, c->seed, gm_rng_stream_id(GM_STREAM_DATA, id));
        gm_rng r;
        gm_rng_init(&r, c->seed, gm_rng_stream_id(GM_STREAM_NOISE, id));
        gm_rng_normal_fill(&r, f->z, B * 2);
        gm_tape_reset(t);
        int prev = gm_tape_no_grad(t, 1);
        gm_var *xf = gm_flow_forward(f->flow, t, gm_tape_input(t, f->z, 2, sh, 0), NULL, 1);
        gm_tape_no_grad(t, prev);
        gm_var *v = critic_fwd(f, gm_op_concat(t, gm_var_detach(t, xf), gm_tape_input(t, xr, 2, sh, 0), 0), 0), *vf, *vr;
        if (gm_op_split(t, v, 0, (int64_t)B, &vf, &vr)) return gm_tape_status(t);
        gm_var *loss = gm_op_gan_critic_loss(t, vr, vf, GM_GAN_CHI2, c->lambda);
        int rc = gm_tape_status(t);
        if (rc) return rc;
        memset(dgrad, 0, f->opt_d.n * sizeof(float));
        if ((rc = gm_tape_backward(t, loss))) return rc;
        if (!isfinite(loss->val[0])) GM_FAIL(GM_ENUMERIC, "flow: critic loss is %g at step %lld", (double)loss->val[0], (long long)f->step);
        gm_optim_step(&f->opt_d, dval, dgrad, c->lr);
    }
    gm_tape_reset(t);
    return GM_OK;
}

int gm_flowtrain_step(gm_flowtrain *f, double *loss_out) {
    const gm_flowtrain_config *c = &f->cfg;
    gm_tape *t = f->tape;
    size_t B = c->batch;
    int64_t sh[2] = {(int64_t)B, 2};
    int mle = c->objective == GM_FLOW_MLE || f->step < c->pretrain;
    if (c->procedure == 'A' && c->objective == GM_FLOW_PR) {
        int rc = critic_steps(f);
        if (rc) return rc;
    }
    gm_tape_reset(t);
    gm_var *loss = NULL;
    if (mle || c->procedure == 'B') {
        gm_toy_sample(c->data, f->x, B, c->seed, gm_rng_stream_id(GM_STREAM_DATA, (uint64_t)f->step));
        gm_var *lq = gm_flow_logprob(f->flow, t, gm_tape_input(t, f->x, 2, sh, 0), 0);
        if (!lq) return gm_tape_status(t);
        if (mle) {
            loss = gm_op_scale(t, gm_op_mean(t, lq), -1, 0);
        } else {
            float *w = gm_arena_alloc(gm_tape_arena(t), B * sizeof(float));
            if (!w) return GM_ENOMEM;
            double ws = 0;
            for (size_t i = 0; i < B; i++) {
                double lp = toy_logp(c->data, f->x[2 * i], f->x[2 * i + 1], NULL, NULL);
                w[i] = (float)gm__prdiv_weight_b((double)c->lambda, exp(fmin(lp - (double)lq->val[i], LOGR_MAX)));
                ws += (double)w[i];
            }
            /* self-normalised: the batch mean weight is 1 (a positive rescaling of the gradient estimate,
             * which keeps Adam's effective step stable when the weights drift) */
            for (size_t i = 0; ws > 0 && i < B; i++) w[i] = (float)((double)w[i] * (double)B / ws);
            gm_var *wv = gm_tape_input(t, w, 2, (int64_t[]){(int64_t)B, 1}, 0);
            loss = gm_op_scale(t, gm_op_mean(t, gm_op_mul(t, wv, lq)), -1, 0);
        }
    } else if (c->procedure == 'A') { /* the PR generator loss on the critic's χ² ratio, pathwise through g */
        gm_rng r;
        gm_rng_init(&r, c->seed, gm_rng_stream_id(GM_STREAM_NOISE, (uint64_t)f->step));
        gm_rng_normal_fill(&r, f->z, B * 2);
        gm_var *x = gm_flow_forward(f->flow, t, gm_tape_input(t, f->z, 2, sh, 0), NULL, 0), *vf, *vr;
        gm_var *v = critic_fwd(f, gm_op_concat(t, x, gm_tape_input(t, f->xr, 2, sh, 0), 0), 1);
        if (gm_op_split(t, v, 0, (int64_t)B, &vf, &vr)) return gm_tape_status(t);
        loss = gm_op_gan_gen_loss(t, vf, vr, GM_GAN_PR, c->lambda, NULL);
    } else { /* procedure C */
        gm_rng r;
        gm_rng_init(&r, c->seed, gm_rng_stream_id(GM_STREAM_NOISE, (uint64_t)f->step));
        gm_rng_normal_fill(&r, f->z, B * 2);
        gm_var *ld = NULL, *x = gm_flow_forward(f->flow, t, gm_tape_input(t, f->z, 2, sh, 0), &ld, 0);
        if (!x) return gm_tape_status(t);
        float *lz = gm_arena_alloc(gm_tape_arena(t), B * sizeof(float));
        if (!lz) return GM_ENOMEM;
        for (size_t i = 0; i < B; i++) {
            double a = f->z[2 * i], b = f->z[2 * i + 1];
            lz[i] = (float)(-0.5 * (a * a + b * b) - 1.8378770664093454836);
        }
        /* log q(x) = log N(z) − log|det ∂g/∂z| */
        gm_var *lq = gm_op_add(t, gm_tape_input(t, lz, 2, (int64_t[]){(int64_t)B, 1}, 0), gm_op_scale(t, ld, -1, 0));
        loss = procC_loss(t, x, lq, c->data, c->lambda);
    }
    int rc = gm_tape_status(t);
    if (rc) return rc;
    gm_params_zero_grad(&f->flow->params);
    if ((rc = gm_tape_backward(t, loss))) return rc;
    double lv = loss->val[0];
    if (!isfinite(lv)) GM_FAIL(GM_ENUMERIC, "flow: loss is %g at step %lld", lv, (long long)f->step);
    double gn = gm_clip_grad_norm(f->flow->params.grad, f->flow->params.total, 100.0);
    if (!isfinite(gn)) GM_FAIL(GM_ENUMERIC, "flow: gradient is not finite at step %lld", (long long)f->step);
    gm_optim_step(&f->opt, f->flow->params.val, f->flow->params.grad, c->lr);
    f->step++;
    gm_tape_reset(t);
    if (loss_out) *loss_out = lv;
    return GM_OK;
}

/* ---- evaluation ---- */
int gm_flow_sample(gm_flow *f, float *x, size_t n, uint64_t seed, uint64_t stream) {
    gm_tape *t;
    int rc = gm_tape_create(&t, 0);
    if (rc) return rc;
    gm_tape_no_grad(t, 1);
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_USER, stream));
    size_t D = f->D, chunk = 4096;
    for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        float *z = x + i0 * D;
        gm_rng_normal_fill(&r, z, m * D);
        gm_tape_reset(t);
        gm_var *y = gm_flow_forward(f, t, gm_tape_input(t, z, 2, (int64_t[]){(int64_t)m, (int64_t)D}, 0), NULL, 1);
        if (!(rc = gm_tape_status(t))) memcpy(z, y->val, m * D * sizeof(float));
    }
    gm_tape_free(t);
    return rc;
}

int gm_flow_logprob_eval(gm_flow *f, const float *x, size_t n, double *lq) {
    gm_tape *t;
    int rc = gm_tape_create(&t, 0);
    if (rc) return rc;
    gm_tape_no_grad(t, 1);
    size_t D = f->D, chunk = 4096;
    for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        gm_tape_reset(t);
        gm_var *l = gm_flow_logprob(f, t, gm_tape_input(t, (float *)(x + i0 * D), 2, (int64_t[]){(int64_t)m, (int64_t)D}, 0), 1);
        if (!(rc = gm_tape_status(t)))
            for (size_t i = 0; i < m; i++) lq[i0 + i] = l->val[i];
    }
    gm_tape_free(t);
    return rc;
}

int gm_flow_toy_alpha(gm_flow *f, gm_toy toy, const double *lambdas, size_t n_lambda, size_t n, uint64_t seed,
                      double *alpha, double *alpha_p, double *alpha_q) {
    if (f->D != 2) GM_FAIL(GM_ESHAPE, "flow alpha: the toys are 2-D, the flow is %zu-D", f->D);
    if (n == 0) GM_FAIL(GM_EINVAL, "flow alpha: n must be > 0");
    float *xs = gm_malloc(n * 2 * sizeof(float)), *xd = gm_malloc(n * 2 * sizeof(float));
    double *ls = gm_malloc(n * sizeof(double)), *ld = gm_malloc(n * sizeof(double));
    int rc = GM_ENOMEM;
    if (!xs || !xd || !ls || !ld) goto done;
    if ((rc = gm_flow_sample(f, xs, n, seed, 7))) goto done;
    gm_toy_sample(toy, xd, n, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)6 << 32) + 2));
    if ((rc = gm_flow_logprob_eval(f, xs, n, ls)) || (rc = gm_flow_logprob_eval(f, xd, n, ld))) goto done;
    for (size_t i = 0; i < n; i++) {
        ls[i] = toy_logp(toy, xs[2 * i], xs[2 * i + 1], NULL, NULL) - ls[i];
        ld[i] = toy_logp(toy, xd[2 * i], xd[2 * i + 1], NULL, NULL) - ld[i];
    }
    rc = gm_prcurve_from_logratio(ld, n, ls, n, lambdas, n_lambda, alpha, NULL, alpha_p, alpha_q);
done:
    gm_free(xs);
    gm_free(xd);
    gm_free(ls);
    gm_free(ld);
    return rc;
}

/* ---- checkpoints ---- */
int gm_flowtrain_save(const gm_flowtrain *f, const char *path) {
    const gm_flowtrain_config *c = &f->cfg;
    char js[512];
    snprintf(js, sizeof js,
             "{\"objective\":\"%s\",\"procedure\":\"%c\",\"lambda\":%.9g,\"n_layers\":%zu,\"hidden\":%zu,"
             "\"batch\":%zu,\"lr\":%.9g,\"pretrain\":%lld,\"data\":\"%s\",\"n_critic\":%zu}",
             c->objective == GM_FLOW_MLE ? "mle" : "pr", c->procedure, (double)c->lambda, c->n_layers, c->hidden,
             c->batch, (double)c->lr, (long long)c->pretrain, gm_toy_name(c->data), c->n_critic);
    gm_checkpoint_meta m = {"flow", js, f->step, 0, c->seed, NULL};
    return gm_checkpoint_save(path, &f->flow->params, &f->opt, &m);
}

/* out, or NULL when the field is missing or an earlier/this parse ran out of memory (*oom = 1; the
 * message of the failed allocation is kept: no further parse after it). */
static const char *jfind(const char *js, const char *key, char *out, size_t len, int *oom) {
    if (*oom) return NULL;
    int rc = gm__json_field(js, key, out, len);
    if (rc == GM_ENOMEM) *oom = 1;
    return rc ? NULL : out;
}

int gm_flowtrain_load(gm_flowtrain **out, const char *path) {
    *out = NULL;
    gm_checkpoint *ck;
    const char *js, *step, *seed;
    int rc = gm__gan_ckpt_open(&ck, path, "flow", "flow", &js, &step, &seed);
    if (rc) return rc;
    gm_flowtrain_config c = gm_flowtrain_config_default();
    char v[7][64];
    int t = -1, oom = 0;
    if (!jfind(js, "objective", v[0], 64, &oom) || !jfind(js, "procedure", v[1], 64, &oom) ||
        !jfind(js, "lambda", v[2], 64, &oom) || !jfind(js, "n_layers", v[3], 64, &oom) ||
        !jfind(js, "hidden", v[4], 64, &oom) || !jfind(js, "batch", v[5], 64, &oom) ||
        !jfind(js, "data", v[6], 64, &oom) || (t = gm_toy_from_name(v[6])) < 0) {
        gm_checkpoint_close(ck);
        if (oom) return gm_error_prefix(GM_ENOMEM, path); /* an allocation failed: not a format error */
        /* the same message as a checkpoint of another model (the model here is "flow") */
        GM_FAIL(GM_EFORMAT, "%s: not a genmix flow checkpoint (model 'flow')", path);
    }
    char lr[64], pre[64], nc[64];
    c.objective = strcmp(v[0], "mle") ? GM_FLOW_PR : GM_FLOW_MLE;
    c.procedure = v[1][0];
    c.lambda = (float)strtod(v[2], NULL);
    c.n_layers = strtoul(v[3], NULL, 10);
    c.hidden = strtoul(v[4], NULL, 10);
    c.batch = strtoul(v[5], NULL, 10);
    if (jfind(js, "lr", lr, 64, &oom)) c.lr = (float)strtod(lr, NULL);
    if (jfind(js, "pretrain", pre, 64, &oom)) c.pretrain = strtoll(pre, NULL, 10);
    if (jfind(js, "n_critic", nc, 64, &oom)) c.n_critic = strtoul(nc, NULL, 10);
    if (oom) { /* lr / pretrain could not be read: the defaults would silently replace them */
        gm_checkpoint_close(ck);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    c.data = (gm_toy)t;
    c.seed = strtoull(seed, NULL, 10);
    gm_flowtrain *f = NULL;
    if (!(rc = gm_flowtrain_create(&f, &c)) && !(rc = gm_checkpoint_load_params(ck, &f->flow->params)) &&
        !(rc = gm_checkpoint_load_optim(ck, &f->flow->params, &f->opt)))
        f->step = strtoll(step, NULL, 10);
    if (!rc && c.procedure == 'A' && c.objective == GM_FLOW_PR) f->opt_d.step = f->step * (int64_t)c.n_critic;
    gm_checkpoint_close(ck);
    if (rc) {
        gm_flowtrain_free(f);
        return rc;
    }
    *out = f;
    return GM_OK;
}
