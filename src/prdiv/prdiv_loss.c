/* SPDX-License-Identifier: MIT */
/* prdiv_loss.c — GAN critic and generator losses of spec §2.1–2.2 (χ² critic with its clamps, the PR
 * generator loss on the χ² ratio estimate r = clamp(v,−2,5)/2 + 1 or, objective "pr-kl", on the KL
 * critic's r = e^(v−1) (spec §1.5 / §2.1), or, objective "pr-nofloor" (a genmix variant, not the released
 * code), on the χ² ratio without its lower clamp for the fakes, r = min(v,5)/2 + 1; and the f-GAN / hinge /
 * PR-dual baselines) as forward/backward kernels over critic outputs, plus their tape ops.
 * Owns nothing. Thread safety: re-entrant; sums in index order in double. */
#include <math.h>
#include <string.h>

#include "genmix/prdiv.h"

static const char *obj_names[GM_GAN_COUNT] = {"pr", "chi2", "kl", "rkl", "hinge", "pr-dual", "pr-kl", "pr-nofloor"};
const char *gm_gan_objective_name(gm_gan_objective o) { return (unsigned)o < GM_GAN_COUNT ? obj_names[o] : NULL; }
int gm_gan_objective_from_name(const char *name) {
    for (int i = 0; name && i < GM_GAN_COUNT; i++)
        if (!strcmp(name, obj_names[i])) return i;
    return -1;
}

double gm_prdiv_chi2_ratio(double v) { return fmin(fmax(v, -2.0), 5.0) / 2 + 1; }

int gm_gan_is_pr(gm_gan_objective o) { return o == GM_GAN_PR || o == GM_GAN_PR_KL || o == GM_GAN_PR_NOFLOOR; }

gm_gan_objective gm_gan_critic_objective(gm_gan_objective o) {
    if (o == GM_GAN_PR_NOFLOOR) return GM_GAN_CHI2; /* the released χ² critic, unchanged */
    return o == GM_GAN_PR ? GM_GAN_CHI2 : o == GM_GAN_PR_KL ? GM_GAN_KL : o;
}

double gm_gan_ratio(gm_gan_objective o, double v, double *dr) {
    if (o == GM_GAN_PR_KL) { /* KL critic: r = (f*)'(v) = e^(v−1), no clamp (spec §2.1) */
        double r = exp(v - 1);
        if (dr) *dr = r;
        return r;
    }
    if (o == GM_GAN_PR_NOFLOOR) { /* fakes only: r = min(v,5)/2 + 1, linear (and < 0) below v = −2 */
        if (dr) *dr = v < 5 ? 0.5 : 0;
        return fmin(v, 5.0) / 2 + 1;
    }
    if (dr) *dr = v > -2 && v < 5 ? 0.5 : 0;
    return gm_prdiv_chi2_ratio(v);
}

/* ---- per-sample terms: value and derivative in v ---- */
/* critic, real rows: L += term_r / nr */
static double crit_r(gm_gan_objective o, double v, float lam, double *d) {
    (void)lam;
    switch (o) {
    case GM_GAN_PR:
    case GM_GAN_PR_NOFLOOR:
    case GM_GAN_CHI2: *d = v < 5 ? -1 : 0; return -fmin(v, 5);
    case GM_GAN_KL:
    case GM_GAN_PR_KL:
    case GM_GAN_PR_DUAL: *d = -1; return -v;
    case GM_GAN_RKL: { double e = exp(-v / 10); *d = -e / 10; return e; } /* -T, T = -exp(-v/10) */
    case GM_GAN_HINGE: *d = v < 1 ? -1 : 0; return fmax(1 - v, 0);
    default: *d = 0; return NAN;
    }
}
static double crit_f(gm_gan_objective o, double v, float lam, double *d) {
    switch (o) {
    case GM_GAN_PR:
    case GM_GAN_PR_NOFLOOR:
    case GM_GAN_CHI2: {
        double u = fmax(v, -2);
        *d = v > -2 ? u / 2 + 1 : 0;
        return u * u / 4 + u;
    }
    case GM_GAN_KL:
    case GM_GAN_PR_KL: {
        double e = exp(fmin(v, 10) - 1);
        *d = v < 10 ? e : 0;
        return e;
    }
    case GM_GAN_RKL: {
        double T = -exp(-v / 10), Tc = fmax(T, -5), g = 1 / (-Tc + 1e-3);
        *d = T > -5 ? g * exp(-v / 10) / 10 : 0;
        return -1 - log(-Tc + 1e-3);
    }
    case GM_GAN_HINGE: *d = v > -1 ? 1 : 0; return fmax(1 + v, 0);
    case GM_GAN_PR_DUAL: *d = v > 0 ? 1 / (double)lam : 0; return fmax(v, 0) / (double)lam;
    default: *d = 0; return NAN;
    }
}
/* generator f-GAN / hinge / dual terms on fake rows */
static double gen_f(gm_gan_objective o, double v, float lam, double *d) {
    switch (o) {
    case GM_GAN_CHI2: {
        double u = fmax(v, -2);
        *d = v > -2 ? -(u / 2 + 1) : 0;
        return -(u * u / 4 + u);
    }
    case GM_GAN_KL: {
        double e = exp(fmin(v, 10) - 1);
        *d = v < 10 ? -e : 0;
        return -e;
    }
    case GM_GAN_RKL: {
        double e = exp(-v / 10), g = 1 / (e + 1e-3); /* -T + 1e-3 = e + 1e-3 */
        *d = -g * e / 10;                               /* d/dv [1 + log(e + 1e-3)] */
        return 1 + log(e + 1e-3);
    }
    case GM_GAN_HINGE: *d = -1; return -v;
    case GM_GAN_PR_DUAL: *d = v < (double)lam ? -1 / (double)lam : 0; return -fmin(v, (double)lam) / (double)lam;
    default: *d = 0; return NAN;
    }
}
/* PR loss terms on the ratio r(v) of the objective's critic (dr = dr/dv): fake rows contribute
 * −¼[min(λr,1) + min(r,1/λ)], real rows −¼[min(1/r,λ) + min(1/(λr),1)]. *a, *b: the fake row's halves of
 * α̂, β̂ — for pr-nofloor those of the released (clamped) ratio, so they stay estimates in [0, ½] while the
 * loss term runs on the floor-free ratio (−¼(λ+1)r, linear in v, for every fake with λr < 1). */
static double pr_fake(gm_gan_objective o, double v, double lam, double *d, double *a, double *b) {
    double dr, r = gm_gan_ratio(o, v, &dr);
    *a = 0.5 * fmin(lam * r, 1);
    *b = 0.5 * fmin(r, 1 / lam);
    *d = lam * r < 1 ? -(lam + 1) / 4 * dr : 0;
    double term = -0.5 * (*a + *b);
    if (o == GM_GAN_PR_NOFLOOR) {
        double rc = gm_prdiv_chi2_ratio(v);
        *a = 0.5 * fmin(lam * rc, 1);
        *b = 0.5 * fmin(rc, 1 / lam);
    }
    return term;
}
/* real rows of pr-nofloor use the released ratio (r ≥ 0; the real terms do not reach the generator) */
static double pr_real(gm_gan_objective o, double v, double lam, double *d, double *a, double *b) {
    double dr, r = gm_gan_ratio(o == GM_GAN_PR_NOFLOOR ? GM_GAN_PR : o, v, &dr);
    *a = 0.5 * fmin(1 / r, lam);
    *b = 0.5 * fmin(1 / (lam * r), 1);
    *d = lam * r > 1 ? (1 + 1 / lam) / (4 * r * r) * dr : 0;
    return -0.5 * (*a + *b);
}

void gm_gan_critic_loss_forward(float *loss, const float *v_r, size_t nr, const float *v_f, size_t nf,
                                gm_gan_objective obj, float lambda) {
    double sr = 0, sf = 0, d;
    for (size_t i = 0; i < nr; i++) sr += crit_r(obj, v_r[i], lambda, &d);
    for (size_t j = 0; j < nf; j++) sf += crit_f(obj, v_f[j], lambda, &d);
    loss[0] = (float)((nr ? sr / (double)nr : 0) + (nf ? sf / (double)nf : 0));
}

void gm_gan_critic_loss_backward(float *dv_r, float *dv_f, const float *dloss, const float *v_r, size_t nr,
                                 const float *v_f, size_t nf, gm_gan_objective obj, float lambda) {
    double g = dloss[0], d;
    for (size_t i = 0; dv_r && i < nr; i++) {
        crit_r(obj, v_r[i], lambda, &d);
        dv_r[i] += (float)(g * d / (double)nr);
    }
    for (size_t j = 0; dv_f && j < nf; j++) {
        crit_f(obj, v_f[j], lambda, &d);
        dv_f[j] += (float)(g * d / (double)nf);
    }
}

void gm_gan_gen_loss_forward(float *loss, float *ab, const float *v_f, size_t nf, const float *v_r, size_t nr,
                             gm_gan_objective obj, float lambda) {
    double s = 0, d, a, b, sa = 0, sb = 0, ra = 0, rb = 0;
    if (gm_gan_is_pr(obj)) {
        for (size_t j = 0; j < nf; j++) {
            s += pr_fake(obj, v_f[j], lambda, &d, &a, &b) / (double)nf;
            sa += a, sb += b;
        }
        for (size_t i = 0; v_r && i < nr; i++) {
            s += pr_real(obj, v_r[i], lambda, &d, &a, &b) / (double)nr;
            ra += a, rb += b;
        }
        if (ab) {
            ab[0] = (float)(sa / (double)nf + (nr ? ra / (double)nr : 0));
            ab[1] = (float)(sb / (double)nf + (nr ? rb / (double)nr : 0));
        }
    } else {
        for (size_t j = 0; j < nf; j++) s += gen_f(obj, v_f[j], lambda, &d);
        s /= (double)nf;
    }
    loss[0] = (float)s;
}

void gm_gan_gen_loss_backward(float *dv_f, float *dv_r, const float *dloss, const float *v_f, size_t nf,
                              const float *v_r, size_t nr, gm_gan_objective obj, float lambda) {
    double g = dloss[0], d, a, b;
    for (size_t j = 0; dv_f && j < nf; j++) {
        if (gm_gan_is_pr(obj)) pr_fake(obj, v_f[j], lambda, &d, &a, &b);
        else gen_f(obj, v_f[j], lambda, &d);
        dv_f[j] += (float)(g * d / (double)nf);
    }
    for (size_t i = 0; gm_gan_is_pr(obj) && dv_r && v_r && i < nr; i++) {
        pr_real(obj, v_r[i], lambda, &d, &a, &b);
        dv_r[i] += (float)(g * d / (double)nr);
    }
}

/* ---- tape ops ---- */
static void bw_crit(gm_tape *t, gm_node *n) {
    gm_var *r = n->in[0], *f = n->in[1];
    gm_gan_critic_loss_backward(gm_tape_grad(t, r), gm_tape_grad(t, f), n->out->grad, r->val, r->n, f->val, f->n,
                                (gm_gan_objective)n->ip[0], n->fp[0]);
}
static void bw_gen(gm_tape *t, gm_node *n) {
    gm_var *f = n->in[0], *r = n->in[1];
    gm_gan_gen_loss_backward(gm_tape_grad(t, f), r ? gm_tape_grad(t, r) : NULL, n->out->grad, f->val, f->n,
                             r ? r->val : NULL, r ? r->n : 0, (gm_gan_objective)n->ip[0], n->fp[0]);
}

static int bad_obj(gm_gan_objective obj, float lambda) {
    return (unsigned)obj >= GM_GAN_COUNT || !(lambda > 0) || !isfinite(lambda);
}

gm_var *gm_op_gan_critic_loss(gm_tape *t, gm_var *v_r, gm_var *v_f, gm_gan_objective obj, float lambda) {
    if (!v_r || !v_f || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "gan critic loss: NULL input");
    if (bad_obj(obj, lambda) || !v_r->n || !v_f->n) return gm_tape_fail(t, GM_EINVAL, "gan critic loss: bad objective, lambda or empty batch");
    int64_t one = 1;
    gm_var *y = gm_tape_new(t, 1, &one, 0);
    if (!y) return NULL;
    gm_gan_critic_loss_forward(y->val, v_r->val, v_r->n, v_f->val, v_f->n, obj, lambda);
    gm_var *in[2] = {v_r, v_f};
    gm_node *n = gm_tape_record(t, bw_crit, y, 2, in);
    if (n) n->ip[0] = obj, n->fp[0] = lambda;
    return y;
}

gm_var *gm_op_gan_gen_loss(gm_tape *t, gm_var *v_f, gm_var *v_r, gm_gan_objective obj, float lambda, float *ab) {
    if (!v_f || (gm_gan_is_pr(obj) && !v_r) || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "gan generator loss: NULL input");
    if (bad_obj(obj, lambda) || !v_f->n) return gm_tape_fail(t, GM_EINVAL, "gan generator loss: bad objective, lambda or empty batch");
    int64_t one = 1;
    gm_var *y = gm_tape_new(t, 1, &one, 0);
    if (!y) return NULL;
    gm_gan_gen_loss_forward(y->val, ab, v_f->val, v_f->n, v_r ? v_r->val : NULL, v_r ? v_r->n : 0, obj, lambda);
    gm_var *in[2] = {v_f, v_r};
    gm_node *n = gm_tape_record(t, bw_gen, y, v_r ? 2 : 1, in);
    if (n) n->ip[0] = obj, n->fp[0] = lambda;
    return y;
}
