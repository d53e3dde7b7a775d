/* SPDX-License-Identifier: MIT */
/* test_prdiv_nn.c — the NN pieces of PR-divergence training: spectral normalisation, affine couplings
 * (forward/inverse, log-determinants), the RealNVP flow (inverse(forward) = identity, change-of-variables
 * density by brute force, integral over a 2-D grid), and the GAN losses of spec §2 (clamps, the PR
 * generator loss and its hand-written gradient). Every gradient is checked by central finite differences
 * with a max AND a mean criterion on e = |analytic − numeric| / (|analytic| + |numeric| + 1e-3). */
#include "gm_test.h"
#include "genmix/nn.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "genmix/tape.h"

static const double PI_ = 3.14159265358979323846;

typedef struct {
    double max, mean;
    size_t n;
} gc_stat;
static void gc_add(gc_stat *s, double a, double num) {
    double e = fabs(a - num) / (fabs(a) + fabs(num) + 1e-3);
    if (e > s->max) s->max = e;
    s->mean += e;
    s->n++;
}
static void gc_done(gc_stat *s, const char *what, double tol_max, double tol_mean) {
    s->mean /= (double)(s->n ? s->n : 1);
    fprintf(stderr, "    gradcheck %-28s n %4zu  max %.2e  mean %.2e\n", what, s->n, s->max, s->mean);
    CHECK(s->n > 0);
    CHECK(s->max <= tol_max);
    CHECK(s->mean <= tol_mean);
}
static double dotg(const float *a, const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)g[i];
    return s;
}
static void fill(gm_rng *r, float *x, size_t n, double sd) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * gm_rng_normal(r));
}

/* ---- spectral norm ----------------------------------------------------------------------------------- */
GM_TEST(test_spectral_norm) {
    enum { OC = 5, C = 7 };
    gm_rng r;
    gm_rng_init(&r, 1, gm_rng_stream_id(GM_STREAM_SIM, 1));
    float w[OC * C], u[OC], u2[OC], v[C], v2[C], wsn[OC * C], wsn2[OC * C], sig, sig2;
    fill(&r, w, OC * C, 1);
    fill(&r, u, OC, 1);
    memcpy(u2, u, sizeof u);
    gm_spectral_norm_forward(wsn, u, v, &sig, w, OC, C, 3, 1e-12f);
    gm_spectral_norm_forward_ref(wsn2, u2, v2, &sig2, w, OC, C, 3, 1e-12f);
    CHECK_NEAR(sig, sig2, 1e-5, 0);
    for (int i = 0; i < OC * C; i++) CHECK_NEAR(wsn[i], wsn2[i], 1e-5, 1e-6);
    /* σ converges to the largest singular value: W = R1 diag(3, 2, 1) R2 (Givens rotations) */
    float m[3 * 4] = {3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0}, um[3] = {0.3f, 0.5f, 0.8f}, vm[4], ws[12], sg;
    double c = cos(0.7), s = sin(0.7);
    for (int j = 0; j < 4; j++) { /* rows 0,1 rotated */
        double a = m[j], b = m[4 + j];
        m[j] = (float)(c * a - s * b), m[4 + j] = (float)(s * a + c * b);
    }
    for (int i = 0; i < 3; i++) { /* columns 1,3 rotated */
        double a = m[i * 4 + 1], b = m[i * 4 + 3];
        m[i * 4 + 1] = (float)(c * a + s * b), m[i * 4 + 3] = (float)(-s * a + c * b);
    }
    gm_spectral_norm_forward(ws, um, vm, &sg, m, 3, 4, 200, 1e-12f);
    CHECK_NEAR(sg, 3, 1e-6, 0);
    /* gradient with u, v constant (iters = 0): fast and naive backward against central differences */
    float g[OC * C], dw[OC * C] = {0}, dw2[OC * C] = {0}, wp[OC * C], tmp[OC * C], ut[OC], vt[C], st;
    fill(&r, g, OC * C, 1);
    gm_spectral_norm_forward(wsn, u, v, &sig, w, OC, C, 0, 1e-12f);
    gm_spectral_norm_backward(dw, g, wsn, u, v, sig, OC, C);
    gm_spectral_norm_backward_ref(dw2, g, wsn, u, v, sig, OC, C);
    gc_stat gs = {0, 0, 0};
    for (int k = 0; k < OC * C; k++) {
        CHECK_NEAR(dw[k], dw2[k], 1e-5, 1e-6);
        double h = 1e-2, lp, lm;
        memcpy(wp, w, sizeof w);
        wp[k] = w[k] + (float)h;
        memcpy(ut, u, sizeof u), memcpy(vt, v, sizeof v);
        gm_spectral_norm_forward(tmp, ut, vt, &st, wp, OC, C, 0, 1e-12f);
        lp = dotg(tmp, g, OC * C);
        wp[k] = w[k] - (float)h;
        gm_spectral_norm_forward(tmp, ut, vt, &st, wp, OC, C, 0, 1e-12f);
        lm = dotg(tmp, g, OC * C);
        gc_add(&gs, dw[k], (lp - lm) / (2 * h));
    }
    gc_done(&gs, "spectral_norm (kernel)", 1e-3, 2e-4);
}

/* the tape op after u has converged (then ∂σ/∂u = ∂σ/∂v = 0 and the constant-u gradient is exact) */
GM_TEST(test_spectral_norm_op) {
    enum { OC = 4, C = 6, B = 3 };
    gm_rng r;
    gm_rng_init(&r, 2, gm_rng_stream_id(GM_STREAM_SIM, 2));
    float w[OC * C], dw[OC * C] = {0}, u[OC], x[B * C], g[B * OC], v[C], ws[OC * C], sg;
    fill(&r, w, OC * C, 1);
    fill(&r, u, OC, 1);
    fill(&r, x, B * C, 1);
    fill(&r, g, B * OC, 1);
    gm_spectral_norm_forward(ws, u, v, &sg, w, OC, C, 500, 1e-12f);
    float u0[OC];
    memcpy(u0, u, sizeof u);
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_var *xv = gm_tape_input(t, x, 2, (int64_t[]){B, C}, 0);
    gm_var *wv = gm_tape_param(t, w, dw, 2, (int64_t[]){OC, C});
    gm_var *y = gm_op_linear(t, xv, gm_op_spectral_norm(t, wv, u, 1, 1e-12f), NULL);
    CHECK_OK(gm_tape_backward_from(t, y, g));
    gc_stat gs = {0, 0, 0};
    for (int k = 0; k < OC * C; k++) {
        double h = 1e-2, l[2];
        float keep = w[k];
        for (int sgn = 0; sgn < 2; sgn++) {
            w[k] = keep + (float)(sgn ? -h : h);
            memcpy(u, u0, sizeof u);
            gm_tape_reset(t);
            gm_var *xv2 = gm_tape_input(t, x, 2, (int64_t[]){B, C}, 0);
            gm_var *wv2 = gm_tape_param(t, w, NULL, 2, (int64_t[]){OC, C});
            gm_var *y2 = gm_op_linear(t, xv2, gm_op_spectral_norm(t, wv2, u, 1, 1e-12f), NULL);
            l[sgn] = dotg(y2->val, g, B * OC);
        }
        w[k] = keep;
        gc_add(&gs, dw[k], (l[0] - l[1]) / (2 * h));
    }
    gc_done(&gs, "spectral_norm (tape op)", 5e-3, 1e-3);
    gm_tape_free(t);
}

/* ---- coupling ------------------------------------------------------------------------------------------ */
GM_TEST(test_coupling_kernel) {
    enum { B = 4, D = 3 };
    const float mask[D] = {1, 0, 0}, scale = 2;
    gm_rng r;
    gm_rng_init(&r, 3, gm_rng_stream_id(GM_STREAM_SIM, 3));
    float x[B * D], st[B * 2 * D], g[B * (D + 1)], o[B * (D + 1)], o2[B * (D + 1)], back[B * (D + 1)];
    fill(&r, x, B * D, 1);
    fill(&r, st, B * 2 * D, 0.7);
    fill(&r, g, B * (D + 1), 1);
    for (int dir = -1; dir <= 1; dir += 2) {
        gm_coupling_forward(o, x, st, mask, B, D, scale, dir);
        gm_coupling_forward_ref(o2, x, st, mask, B, D, scale, dir);
        for (int i = 0; i < B * (D + 1); i++) CHECK_NEAR(o[i], o2[i], 1e-5, 1e-6);
        /* the other direction undoes it, and the log-determinants cancel */
        float y[B * D];
        for (int b = 0; b < B; b++) memcpy(y + b * D, o + b * (D + 1), D * sizeof(float));
        gm_coupling_forward(back, y, st, mask, B, D, scale, -dir);
        for (int b = 0; b < B; b++) {
            for (int d = 0; d < D; d++) CHECK_NEAR(back[b * (D + 1) + d], x[b * D + d], 0, 1e-5);
            CHECK_NEAR(back[b * (D + 1) + D] + o[b * (D + 1) + D], 0, 0, 1e-6);
        }
        float dx[B * D] = {0}, dst[B * 2 * D] = {0}, dx2[B * D] = {0}, dst2[B * 2 * D] = {0};
        gm_coupling_backward(dx, dst, g, x, st, mask, B, D, scale, dir);
        gm_coupling_backward_ref(dx2, dst2, g, x, st, mask, B, D, scale, dir);
        gc_stat gs = {0, 0, 0};
        for (int which = 0; which < 2; which++) {
            float *p = which ? st : x, *an = which ? dst : dx, *an2 = which ? dst2 : dx2;
            int n = which ? B * 2 * D : B * D;
            for (int k = 0; k < n; k++) {
                CHECK_NEAR(an[k], an2[k], 1e-5, 1e-6);
                float keep = p[k];
                double h = 1e-2, lp, lm;
                p[k] = keep + (float)h;
                gm_coupling_forward_ref(o2, x, st, mask, B, D, scale, dir);
                lp = dotg(o2, g, B * (D + 1));
                p[k] = keep - (float)h;
                gm_coupling_forward_ref(o2, x, st, mask, B, D, scale, dir);
                lm = dotg(o2, g, B * (D + 1));
                p[k] = keep;
                gc_add(&gs, an[k], (lp - lm) / (2 * h));
            }
        }
        gc_done(&gs, dir > 0 ? "coupling forward (x, st)" : "coupling inverse (x, st)", 2e-3, 3e-4);
    }
}

/* ---- flow ------------------------------------------------------------------------------------------------ */
static gm_flow *make_flow(size_t hidden, uint64_t seed, double shrink) {
    gm_flow *f;
    if (gm_flow_create(&f, 2, 4, hidden, seed)) return NULL;
    gm_flow_init(f, seed, 0);
    for (size_t i = 0; i < f->params.total; i++) f->params.val[i] *= (float)shrink;
    return f;
}

GM_TEST(test_flow_roundtrip_and_density) {
    gm_flow *f = make_flow(16, 5, 1.0);
    CHECK(f != NULL);
    if (!f) return;
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_tape_no_grad(t, 1);
    enum { B = 64 };
    float z[B * 2];
    gm_rng r;
    gm_rng_init(&r, 9, gm_rng_stream_id(GM_STREAM_SIM, 9));
    fill(&r, z, B * 2, 1.5);
    gm_var *ldf = NULL, *ldi = NULL;
    gm_var *x = gm_flow_forward(f, t, gm_tape_input(t, z, 2, (int64_t[]){B, 2}, 0), &ldf, 1);
    gm_var *zb = gm_flow_inverse(f, t, x, &ldi, 1);
    CHECK_OK(gm_tape_status(t));
    double emax = 0, lmax = 0;
    for (int i = 0; i < B * 2; i++) emax = fmax(emax, fabs(zb->val[i] - z[i]));
    for (int b = 0; b < B; b++) lmax = fmax(lmax, fabs(ldf->val[b] + ldi->val[b]));
    fprintf(stderr, "    flow inverse(forward(z)) max error %.2e, logdet sum %.2e\n", emax, lmax);
    CHECK(emax <= 1e-5);
    CHECK(lmax <= 1e-5);
    /* brute-force change of variables: log N(g^-1(x)) + log|det J| with J by central differences */
    double worst = 0;
    for (int b = 0; b < 5; b++) {
        double J[2][2], h = 1e-3;
        float xp[2];
        for (int c = 0; c < 2; c++) {
            float zz[2][2];
            for (int sg = 0; sg < 2; sg++) {
                xp[0] = x->val[2 * b], xp[1] = x->val[2 * b + 1];
                xp[c] += (float)(sg ? -h : h);
                gm_var *zi = gm_flow_inverse(f, t, gm_tape_input(t, xp, 2, (int64_t[]){1, 2}, 0), NULL, 1);
                zz[sg][0] = zi->val[0], zz[sg][1] = zi->val[1];
            }
            for (int rr = 0; rr < 2; rr++) J[rr][c] = ((double)zz[0][rr] - (double)zz[1][rr]) / (2 * h);
        }
        double z0 = zb->val[2 * b], z1 = zb->val[2 * b + 1];
        double brute = -0.5 * (z0 * z0 + z1 * z1) - log(2 * PI_) + log(fabs(J[0][0] * J[1][1] - J[0][1] * J[1][0]));
        xp[0] = x->val[2 * b], xp[1] = x->val[2 * b + 1];
        gm_var *lp = gm_flow_logprob(f, t, gm_tape_input(t, xp, 2, (int64_t[]){1, 2}, 0), 1);
        worst = fmax(worst, fabs(brute - (double)lp->val[0]));
    }
    fprintf(stderr, "    flow log q vs brute-force change of variables: max |diff| %.2e\n", worst);
    CHECK(worst <= 2e-3);
    /* ∫ q over [-12, 12]^2 by the midpoint rule on a 600 x 600 grid */
    enum { NG = 600 };
    const double L = 12, h = 2 * L / NG;
    static float grid[NG * 2];
    double total = 0;
    for (int i = 0; i < NG; i++) {
        for (int j = 0; j < NG; j++) {
            grid[2 * j] = (float)(-L + (i + 0.5) * h);
            grid[2 * j + 1] = (float)(-L + (j + 0.5) * h);
        }
        gm_tape_reset(t);
        gm_tape_no_grad(t, 1);
        gm_var *lq = gm_flow_logprob(f, t, gm_tape_input(t, grid, 2, (int64_t[]){NG, 2}, 0), 1);
        for (int j = 0; j < NG; j++) total += exp((double)lq->val[j]) * h * h;
    }
    fprintf(stderr, "    flow density integral on the grid: %.6f\n", total);
    CHECK_NEAR(total, 1, 0, 1e-3);
    gm_tape_free(t);
    gm_flow_free(f);
}

GM_TEST(test_flow_gradcheck) {
    gm_flow *f = make_flow(8, 6, 1.0);
    if (!f) {
        CHECK(0);
        return;
    }
    enum { B = 8 };
    float x[B * 2];
    gm_rng r;
    gm_rng_init(&r, 10, gm_rng_stream_id(GM_STREAM_SIM, 10));
    fill(&r, x, B * 2, 1);
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    /* mean log q(x) w.r.t. every parameter */
    gm_params_zero_grad(&f->params);
    gm_var *loss = gm_op_mean(t, gm_flow_logprob(f, t, gm_tape_input(t, x, 2, (int64_t[]){B, 2}, 0), 0));
    CHECK_OK(gm_tape_backward(t, loss));
    gc_stat gs = {0, 0, 0};
    for (size_t k = 0; k < f->params.total; k += 3) {
        float keep = f->params.val[k];
        double h = 1e-2, l[2];
        for (int sg = 0; sg < 2; sg++) {
            f->params.val[k] = keep + (float)(sg ? -h : h);
            gm_tape_reset(t);
            gm_tape_no_grad(t, 1);
            gm_var *lq = gm_flow_logprob(f, t, gm_tape_input(t, x, 2, (int64_t[]){B, 2}, 0), 1);
            double s = 0;
            for (int b = 0; b < B; b++) s += (double)lq->val[b];
            l[sg] = s / B;
        }
        f->params.val[k] = keep;
        gc_add(&gs, f->params.grad[k], (l[0] - l[1]) / (2 * h));
    }
    gc_done(&gs, "flow mean log q (params)", 2e-2, 2e-3);
    gm_tape_free(t);
    gm_flow_free(f);
}

/* ---- GAN losses ----------------------------------------------------------------------------------------- */
/* values away from every kink: clamps -2, 5, hinge ±1, 0, λ, and λ r = 1 (v = 2/λ - 2) */
static int near_kink(double v, double lam) {
    double k[8] = {-2, 5, 1, -1, 0, lam, 2 / lam - 2, 1 - log(lam)}; /* the last: λe^(v−1) = 1 (pr-kl) */
    for (int i = 0; i < 8; i++)
        if (fabs(v - k[i]) < 0.05) return 1;
    return 0;
}
GM_TEST(test_gan_losses) {
    enum { N = 24 };
    float lams[3] = {0.2f, 1.0f, 5.0f};
    gm_rng r;
    gm_rng_init(&r, 4, gm_rng_stream_id(GM_STREAM_SIM, 4));
    for (int li = 0; li < 3; li++) {
        float lam = lams[li], vr[N], vf[N];
        for (int i = 0; i < N; i++) {
            do vr[i] = (float)(-4 + 11 * gm_rng_uniform(&r)); while (near_kink(vr[i], lam));
            do vf[i] = (float)(-4 + 11 * gm_rng_uniform(&r)); while (near_kink(vf[i], lam));
        }
        for (int o = 0; o < GM_GAN_COUNT; o++) {
            gc_stat gs = {0, 0, 0};
            for (int gen = 0; gen < 2; gen++) {
                float one = 1, drr[N] = {0}, dff[N] = {0}, l1, l2;
                if (gen) gm_gan_gen_loss_backward(dff, drr, &one, vf, N, vr, N, (gm_gan_objective)o, lam);
                else gm_gan_critic_loss_backward(drr, dff, &one, vr, N, vf, N, (gm_gan_objective)o, lam);
                for (int which = 0; which < 2; which++)
                    for (int i = 0; i < N; i++) {
                        float *p = which ? vf : vr, keep = p[i];
                        double h = 1e-3;
                        /* the term of this one row alone (a batch of 1): float rounding of the whole
                         * batch's loss would swamp the small derivatives */
                        const float *rp = which ? NULL : &p[i], *fp = which ? &p[i] : NULL;
                        size_t nr1 = which ? 0 : 1, nf1 = which ? 1 : 0;
                        p[i] = keep + (float)h;
                        if (gen) gm_gan_gen_loss_forward(&l1, NULL, fp, nf1, rp, nr1, (gm_gan_objective)o, lam);
                        else gm_gan_critic_loss_forward(&l1, rp, nr1, fp, nf1, (gm_gan_objective)o, lam);
                        p[i] = keep - (float)h;
                        if (gen) gm_gan_gen_loss_forward(&l2, NULL, fp, nf1, rp, nr1, (gm_gan_objective)o, lam);
                        else gm_gan_critic_loss_forward(&l2, rp, nr1, fp, nf1, (gm_gan_objective)o, lam);
                        p[i] = keep;
                        if (gen && !which && !gm_gan_is_pr((gm_gan_objective)o)) l1 = l2 = 0; /* no real term */
                        double an = N * (double)(which ? dff[i] : drr[i]);
                        if (!gen || gm_gan_is_pr((gm_gan_objective)o) || which) gc_add(&gs, an, ((double)l1 - (double)l2) / (2 * h));
                        else CHECK(an == 0); /* f-GAN generator losses ignore the real rows */
                    }
            }
            char what[64];
            snprintf(what, sizeof what, "%s losses, lambda %g", gm_gan_objective_name((gm_gan_objective)o), (double)lam);
            if (li == 1 || gm_gan_is_pr((gm_gan_objective)o)) gc_done(&gs, what, 1e-3, 3e-4);
            else {
                gs.mean /= (double)gs.n;
                if (!(gs.max <= 1e-3 && gs.mean <= 3e-4)) fprintf(stderr, "    %s: max %.2e mean %.2e\n", what, gs.max, gs.mean);
                CHECK(gs.max <= 1e-3 && gs.mean <= 3e-4);
            }
        }
        /* the spec's closed form of ∂L_G/∂v_f for the PR loss: −(λ+1)/(8B)·1[λr < 1]·1[−2 < v < 5] */
        float one = 1, dff[N] = {0};
        gm_gan_gen_loss_backward(dff, NULL, &one, vf, N, vr, N, GM_GAN_PR, lam);
        for (int i = 0; i < N; i++) {
            double rr = gm_prdiv_chi2_ratio(vf[i]);
            double lamd = (double)lam, vi = (double)vf[i];
            double want = (lamd * rr < 1 && vi > -2 && vi < 5) ? -(lamd + 1) / (8.0 * N) : 0;
            CHECK_NEAR(dff[i], want, 1e-6, 1e-9);
        }
        /* pr-kl: r = e^(v−1), so ∂L_G/∂v_f = −(λ+1)/(4B)·e^(v−1)·1[λe^(v−1) < 1] — no dead zone below −2 */
        memset(dff, 0, sizeof dff);
        gm_gan_gen_loss_backward(dff, NULL, &one, vf, N, vr, N, GM_GAN_PR_KL, lam);
        int n_deep = 0;
        for (int i = 0; i < N; i++) {
            double lamd = (double)lam, e = exp((double)vf[i] - 1);
            double want = lamd * e < 1 ? -(lamd + 1) * e / (4.0 * N) : 0;
            CHECK_NEAR(dff[i], want, 1e-6, 1e-12);
            if (vf[i] < -2) {
                n_deep++;
                CHECK(dff[i] < 0);
            }
        }
        CHECK(n_deep > 0);
        CHECK(gm_gan_critic_objective(GM_GAN_PR_KL) == GM_GAN_KL && gm_gan_critic_objective(GM_GAN_PR) == GM_GAN_CHI2);
        /* pr-nofloor (genmix variant): ∂L_G/∂v_f = −(λ+1)/(8B)·1[v < min(2/λ − 2, 5)] — the released closed
         * form without the 1[v > −2]; the real rows' gradient, α̂/β̂ and the critic loss are those of pr */
        float dfn[N] = {0}, drn[N] = {0}, drp[N] = {0}, dfp[N] = {0}, abn[2], abp[2], ln, lp;
        gm_gan_gen_loss_backward(dfn, drn, &one, vf, N, vr, N, GM_GAN_PR_NOFLOOR, lam);
        gm_gan_gen_loss_backward(dfp, drp, &one, vf, N, vr, N, GM_GAN_PR, lam);
        n_deep = 0;
        for (int i = 0; i < N; i++) {
            double lamd = (double)lam, vi = (double)vf[i];
            double want = vi < fmin(2 / lamd - 2, 5) ? -(lamd + 1) / (8.0 * N) : 0;
            CHECK_NEAR(dfn[i], want, 1e-6, 1e-9);
            if (vi > -2) CHECK(dfn[i] == dfp[i]);
            else {
                n_deep++;
                CHECK(dfn[i] < 0 && dfp[i] == 0);
            }
            CHECK(drn[i] == drp[i]);
        }
        CHECK(n_deep > 0);
        gm_gan_gen_loss_forward(&ln, abn, vf, N, vr, N, GM_GAN_PR_NOFLOOR, lam);
        gm_gan_gen_loss_forward(&lp, abp, vf, N, vr, N, GM_GAN_PR, lam);
        CHECK(abn[0] == abp[0] && abn[1] == abp[1]);
        CHECK(ln > lp); /* a fake below −2 adds −¼(λ+1)r_f > 0 where pr adds 0 */
        {
            float cn, cp, dcr[2][N] = {{0}}, dcf[2][N] = {{0}};
            gm_gan_critic_loss_forward(&cn, vr, N, vf, N, GM_GAN_PR_NOFLOOR, lam);
            gm_gan_critic_loss_forward(&cp, vr, N, vf, N, GM_GAN_CHI2, lam);
            gm_gan_critic_loss_backward(dcr[0], dcf[0], &one, vr, N, vf, N, GM_GAN_PR_NOFLOOR, lam);
            gm_gan_critic_loss_backward(dcr[1], dcf[1], &one, vr, N, vf, N, GM_GAN_CHI2, lam);
            CHECK(cn == cp && memcmp(dcr[0], dcr[1], sizeof dcr[0]) == 0 && memcmp(dcf[0], dcf[1], sizeof dcf[0]) == 0);
        }
        CHECK(gm_gan_critic_objective(GM_GAN_PR_NOFLOOR) == GM_GAN_CHI2 && gm_gan_is_pr(GM_GAN_PR_NOFLOOR));
    }
    /* r = 1 everywhere (v = 0): α̂ = min(λ, 1), β̂ = min(1, 1/λ) */
    float z[4] = {0, 0, 0, 0}, ab[2], l;
    gm_gan_gen_loss_forward(&l, ab, z, 4, z, 4, GM_GAN_PR, 5);
    CHECK_NEAR(ab[0], 1, 0, 1e-7);
    CHECK_NEAR(ab[1], 0.2, 0, 1e-7);
    CHECK_NEAR(l, -0.6, 0, 1e-7);
    /* χ² critic clamps: v_r >= 5 and v_f <= -2 give no gradient */
    float vr[2] = {6, 1}, vf[2] = {-3, 0}, dr[2] = {0}, df[2] = {0}, one = 1;
    gm_gan_critic_loss_backward(dr, df, &one, vr, 2, vf, 2, GM_GAN_CHI2, 1);
    CHECK(dr[0] == 0 && dr[1] == -0.5f && df[0] == 0 && df[1] == 0.5f);
    /* pr-nofloor by hand: one fake at v = −3 (r = −0.5), λ = 2: L = −¼(λr + r) = 0.375, ∂L/∂v = −(λ+1)/8;
     * α̂, β̂ of the released ratio (r = 0): 0 from the fake; one real at v = 0 (r = 1): ½min(1, 2) = ½ and
     * ½min(½, 1) = ¼, its loss term −¾·½ */
    {
        float f3 = -3, r0 = 0, l3, ab3[2], d3 = 0;
        gm_gan_gen_loss_forward(&l3, ab3, &f3, 1, &r0, 1, GM_GAN_PR_NOFLOOR, 2);
        CHECK_NEAR(l3, 0, 0, 1e-7);
        CHECK(ab3[0] == 0.5f && ab3[1] == 0.25f);
        gm_gan_gen_loss_forward(&l3, ab3, &f3, 1, NULL, 0, GM_GAN_PR_NOFLOOR, 2);
        CHECK_NEAR(l3, 0.375, 0, 1e-7);
        CHECK(ab3[0] == 0 && ab3[1] == 0);
        gm_gan_gen_loss_backward(&d3, NULL, &one, &f3, 1, NULL, 0, GM_GAN_PR_NOFLOOR, 2);
        CHECK_NEAR(d3, -0.375, 0, 1e-7);
        double dr3;
        CHECK_NEAR(gm_gan_ratio(GM_GAN_PR_NOFLOOR, -3, &dr3), -0.5, 0, 0);
        CHECK(dr3 == 0.5);
        CHECK_NEAR(gm_gan_ratio(GM_GAN_PR_NOFLOOR, 6, &dr3), 3.5, 0, 0);
        CHECK(dr3 == 0);
        CHECK_INT_EQ(gm_gan_objective_from_name("pr-nofloor"), GM_GAN_PR_NOFLOOR);
        CHECK(!strcmp(gm_gan_objective_name(GM_GAN_PR_NOFLOOR), "pr-nofloor"));
        /* bad input through the tape op: λ <= 0, missing real rows */
        gm_tape *t = NULL;
        CHECK_OK(gm_tape_create(&t, 1 << 12));
        if (t) {
            int64_t sh[2] = {1, 1};
            gm_var *vfv = gm_tape_input(t, &f3, 2, sh, 1), *vrv = gm_tape_input(t, &r0, 2, sh, 1);
            CHECK(gm_op_gan_gen_loss(t, vfv, vrv, GM_GAN_PR_NOFLOOR, 0.0f, NULL) == NULL);
            CHECK_RC(gm_tape_status(t), GM_EINVAL);
            gm_tape_reset(t);
            vfv = gm_tape_input(t, &f3, 2, sh, 1);
            CHECK(gm_op_gan_gen_loss(t, vfv, NULL, GM_GAN_PR_NOFLOOR, 1.0f, NULL) == NULL);
            CHECK_RC(gm_tape_status(t), GM_EINVAL);
            gm_tape_free(t);
        }
    }
    CHECK_INT_EQ(gm_gan_objective_from_name("hinge"), GM_GAN_HINGE);
    CHECK_INT_EQ(gm_gan_objective_from_name("wgan"), -1);
}

GM_TEST_MAIN({"spectral_norm", test_spectral_norm}, {"spectral_norm_op", test_spectral_norm_op},
             {"coupling_kernel", test_coupling_kernel}, {"flow_roundtrip_and_density", test_flow_roundtrip_and_density},
             {"flow_gradcheck", test_flow_gradcheck}, {"gan_losses", test_gan_losses})
