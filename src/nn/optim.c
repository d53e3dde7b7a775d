/* SPDX-License-Identifier: MIT */
/* optim.c — SGD/Adam/AdamW over flat slabs, clipping, EMA, LR schedules (see optim.h).
 * Owns: m and v of each gm_optim. Thread safety: per object; elementwise OpenMP loops. */
#include <math.h>
#include <string.h>

#include "genmix/optim.h"
#include "nn_internal.h"

gm_optim_config gm_optim_config_default(void) {
    gm_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = GM_OPT_ADAM;
    c.momentum = 0.9f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    return c;
}

static const char *const opt_names[] = {"sgd", "adam", "adamw"};
const char *gm_opt_name(gm_opt_kind k) { return (unsigned)k <= GM_OPT_ADAMW ? opt_names[k] : NULL; }
int gm_opt_from_name(const char *name) {
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, opt_names[i])) return i;
    return -1;
}

int gm_optim_init(gm_optim *o, const gm_optim_config *cfg, size_t n) {
    memset(o, 0, sizeof *o);
    if ((unsigned)cfg->kind > GM_OPT_ADAMW) GM_FAIL(GM_EINVAL, "optim: unknown optimiser kind %d", (int)cfg->kind);
    if (cfg->kind != GM_OPT_SGD && !(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1))
        GM_FAIL(GM_EINVAL, "optim: Adam betas must be in [0, 1)");
    o->cfg = *cfg;
    o->n = n;
    o->m = gm_calloc(n ? n : 1, sizeof(float));
    if (cfg->kind != GM_OPT_SGD) o->v = gm_calloc(n ? n : 1, sizeof(float));
    if (!o->m || (cfg->kind != GM_OPT_SGD && !o->v)) {
        gm_optim_free(o);
        return GM_ENOMEM;
    }
    return GM_OK;
}

void gm_optim_free(gm_optim *o) {
    if (!o) return;
    gm_free(o->m);
    gm_free(o->v);
    memset(o, 0, sizeof *o);
}

void gm_optim_step(gm_optim *o, float *p, const float *g, float lr) {
    const size_t n = o->n;
    const gm_optim_config c = o->cfg;
    float *m = o->m, *v = o->v;
    long i;
    o->step++;
    if (c.kind == GM_OPT_SGD) {
        const float mom = c.momentum, wd = c.weight_decay;
        const int first = o->step == 1;
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
        for (i = 0; i < (long)n; i++) {
            float d = g[i] + wd * p[i];
            if (mom != 0.0f) {
                m[i] = first ? d : mom * m[i] + d;
                d = c.nesterov ? d + mom * m[i] : m[i];
            }
            p[i] -= lr * d;
        }
        return;
    }
    /* Adam / AdamW, as torch.optim (1.13, single-tensor): bias corrections in double, update in float */
    const double t = (double)o->step;
    const float bc1 = (float)(1.0 - pow((double)c.beta1, t));
    const float bc2s = (float)sqrt(1.0 - pow((double)c.beta2, t));
    const float step_size = lr / bc1, b1 = c.beta1, b2 = c.beta2, eps = c.eps;
    const float wd = c.weight_decay, decay = 1.0f - lr * c.weight_decay;
    const int adamw = c.kind == GM_OPT_ADAMW;
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
    for (i = 0; i < (long)n; i++) {
        float gi = g[i];
        if (adamw)
            p[i] *= decay;
        else if (wd != 0.0f)
            gi += wd * p[i];
        m[i] = m[i] * b1 + (1.0f - b1) * gi;
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2s + eps;
        p[i] -= step_size * (m[i] / denom);
    }
}

double gm_grad_norm(const float *g, size_t n) {
    double part[GM__NB_MAX];
    size_t nb = gm__nblocks(n, GM__BLOCK_MIN);
    long k;
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
    for (k = 0; k < (long)nb; k++) {
        double s = 0.0;
        for (size_t i = gm__block_lo(n, nb, (size_t)k); i < gm__block_lo(n, nb, (size_t)k + 1); i++)
            s += (double)g[i] * (double)g[i];
        part[k] = s;
    }
    double s = 0.0;
    for (size_t j = 0; j < nb; j++) s += part[j];
    return sqrt(s);
}

double gm_clip_grad_norm(float *g, size_t n, double max_norm) {
    double norm = gm_grad_norm(g, n);
    if (isfinite(norm) && norm > max_norm) {
        float s = (float)(max_norm / (norm + 1e-6));
        long i;
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
        for (i = 0; i < (long)n; i++) g[i] *= s;
    }
    return norm;
}

void gm_ema_update(float *ema, const float *p, size_t n, float decay) {
    long i;
    const float a = 1.0f - decay;
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
    for (i = 0; i < (long)n; i++) ema[i] = decay * ema[i] + a * p[i];
}

gm_lr_schedule gm_lr_schedule_default(void) {
    gm_lr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = GM_LR_CONSTANT;
    s.base = 1e-3;
    s.gamma = 0.1;
    return s;
}

double gm_lr_at(const gm_lr_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    if (s->warmup > 0 && step < s->warmup) return s->base * (double)(step + 1) / (double)s->warmup;
    int64_t k = step - (s->warmup > 0 ? s->warmup : 0);
    switch (s->kind) {
    case GM_LR_STEP:
        return s->step_size > 0 ? s->base * pow(s->gamma, (double)(k / s->step_size)) : s->base;
    case GM_LR_COSINE: {
        if (s->total <= 0) return s->base;
        double f = k >= s->total ? 1.0 : (double)k / (double)s->total;
        return s->min + 0.5 * (s->base - s->min) * (1.0 + cos(3.14159265358979323846 * f));
    }
    default: return s->base;
    }
}
