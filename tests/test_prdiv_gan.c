/* SPDX-License-Identifier: MIT */
/* test_prdiv_gan.c — GAN training pieces: spec V10's MLP χ² critic approaches 2(e^(½−x) − 1) (the linear
 * KL / BCE critics are in test_prdiv_v10_slow.c), the gm_gan state machine
 * (bitwise resume from a checkpoint, foreign checkpoints refused, bad configurations), toy densities. */
#include "gm_test.h"
#include "genmix/models.h"
#include "genmix/optim.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "../src/prdiv/prdiv_internal.h"

#include <stdio.h>
#include <unistd.h>

enum { NV = 100000 };

/* V3 samples: real N(0,1), fake N(1,1) */
static void v3(float *xr, float *xf) {
    gm_rng r;
    gm_rng_init(&r, 21, gm_rng_stream_id(GM_STREAM_SIM, 21));
    for (int i = 0; i < NV; i++) xr[i] = (float)gm_rng_normal(&r), xf[i] = (float)(1 + gm_rng_normal(&r));
}

GM_TEST(test_v10_chi2_mlp_critic) {
    static float xr[NV], xf[NV];
    v3(xr, xf);
    gm_seq *net;
    CHECK_OK(gm_seq_create(&net, "linear:32,tanh,linear:32,tanh,linear:1", 1, (int64_t[]){1}));
    gm_seq_init(net, 3);
    gm_optim o;
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    CHECK_OK(gm_optim_init(&o, &oc, net->params.total));
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    enum { BS = 1000 };
    for (int it = 0; it < 1500; it++) {
        size_t off = (size_t)(it % (NV / BS)) * BS;
        gm_tape_reset(t);
        gm_var *vr = gm_seq_forward(net, t, gm_tape_input(t, xr + off, 2, (int64_t[]){BS, 1}, 0), -1, 0, NULL);
        gm_var *vf = gm_seq_forward(net, t, gm_tape_input(t, xf + off, 2, (int64_t[]){BS, 1}, 0), -1, 0, NULL);
        gm_var *loss = gm_op_gan_critic_loss(t, vr, vf, GM_GAN_CHI2, 1);
        gm_params_zero_grad(&net->params);
        CHECK_OK(gm_tape_backward(t, loss));
        gm_optim_step(&o, net->params.val, net->params.grad, it < 1000 ? 3e-3f : 5e-4f);
    }
    float grid[38];
    for (int i = 0; i < 38; i++) grid[i] = (float)(-0.7 + 0.1 * i);
    gm_tape_reset(t);
    gm_tape_no_grad(t, 1);
    gm_var *v = gm_seq_forward(net, t, gm_tape_input(t, grid, 2, (int64_t[]){38, 1}, 0), -1, 0, NULL);
    double worst = 0, mean = 0;
    for (int i = 0; i < 38; i++) {
        double want = 2 * (exp(0.5 - (double)grid[i]) - 1), e = fabs((double)v->val[i] - want);
        worst = fmax(worst, e);
        mean += e / 38;
    }
    fprintf(stderr, "    V10 chi2 MLP critic vs 2(e^(1/2-x) - 1) on [-0.7, 3]: max |err| %.3f, mean %.3f\n", worst, mean);
    CHECK(worst < 0.35);
    CHECK(mean < 0.1);
    gm_tape_free(t);
    gm_optim_free(&o);
    gm_seq_free(net);
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

GM_TEST(test_gan_resume_bitwise) {
    gm_gan_config c = gm_gan_config_default();
    c.hidden = 16, c.batch = 32, c.ema_start = 2, c.seed = 5, c.lambda = 2;
    char pa[64], pb[64], pc[64];
    snprintf(pa, sizeof pa, "/tmp/gm_gan_a_%d.safetensors", (int)getpid());
    snprintf(pb, sizeof pb, "/tmp/gm_gan_b_%d.safetensors", (int)getpid());
    snprintf(pc, sizeof pc, "/tmp/gm_gan_c_%d.safetensors", (int)getpid());
    gm_gan *a, *b, *b2;
    gm_gan_status st;
    CHECK_OK(gm_gan_create(&a, &c));
    for (int i = 0; i < 6; i++) CHECK_OK(gm_gan_step(a, &st));
    CHECK(isfinite(st.alpha_hat) && st.alpha_hat >= 0 && st.alpha_hat <= 1.0001f);
    CHECK_OK(gm_gan_save(a, pa));
    CHECK_OK(gm_gan_create(&b, &c));
    for (int i = 0; i < 3; i++) CHECK_OK(gm_gan_step(b, &st));
    CHECK_OK(gm_gan_save(b, pb));
    gm_gan_free(b);
    CHECK_OK(gm_gan_load(&b2, pb));
    CHECK_INT_EQ(gm_gan_get_step(b2), 3);
    for (int i = 0; i < 3; i++) CHECK_OK(gm_gan_step(b2, &st));
    CHECK_OK(gm_gan_save(b2, pc));
    CHECK(files_equal(pa, pc));
    /* samples and critic values agree too */
    float xa[20], xb[20], va[10], vb[10];
    CHECK_OK(gm_gan_sample(a, xa, 10, 1, 3));
    CHECK_OK(gm_gan_sample(b2, xb, 10, 1, 3));
    CHECK(!memcmp(xa, xb, sizeof xa));
    CHECK_OK(gm_gan_critic(a, xa, 10, va));
    CHECK_OK(gm_gan_critic(b2, xa, 10, vb));
    CHECK(!memcmp(va, vb, sizeof va));
    gm_gan_free(a);
    gm_gan_free(b2);
    /* a checkpoint of another model is refused */
    gm_params p;
    gm_params_init(&p);
    gm_params_add(&p, "w", 1, (int64_t[]){3});
    CHECK_OK(gm_params_alloc(&p));
    gm_checkpoint_meta m = {"classifier", "{}", 0, 0, 0, NULL};
    CHECK_OK(gm_checkpoint_save(pb, &p, NULL, &m));
    gm_gan *x = NULL;
    CHECK_RC(gm_gan_load(&x, pb), GM_EFORMAT);
    CHECK(x == NULL);
    /* ... and the message says why: the user sees which model the file holds, not a config parse error */
    CHECK(strstr(gm_last_error(), "not a genmix") && strstr(gm_last_error(), "(model 'classifier')"));
    /* a "gan" checkpoint whose config is not JSON / lacks a field is a format error (not GM_ENOMEM) */
    static const char *bad_cfg[2] = {"{\"objective\": ", "{\"objective\": \"pr\", \"data\": \"toy:8gaussians\"}"};
    for (int i = 0; i < 2; i++) {
        gm_checkpoint_meta mb = {"gan", bad_cfg[i], 1, 0, 0, NULL};
        CHECK_OK(gm_checkpoint_save(pb, &p, NULL, &mb));
        CHECK_RC(gm_gan_load(&x, pb), GM_EFORMAT);
        CHECK(x == NULL && strstr(gm_last_error(), "malformed GAN config"));
        mb.model = "flow";
        CHECK_OK(gm_checkpoint_save(pb, &p, NULL, &mb));
        gm_flowtrain *fx = NULL;
        CHECK_RC(gm_flowtrain_load(&fx, pb), GM_EFORMAT);
        CHECK(fx == NULL && strstr(gm_last_error(), "not a genmix flow checkpoint"));
    }
    gm_params_free(&p);
    remove(pa), remove(pb), remove(pc);
}

GM_TEST(test_gan_bad_config_and_toys) {
    gm_gan_config c = gm_gan_config_default();
    gm_gan *g = NULL;
    c.lambda = 0;
    CHECK_RC(gm_gan_create(&g, &c), GM_EINVAL);
    c.lambda = -1;
    CHECK_RC(gm_gan_create(&g, &c), GM_EINVAL);
    c = gm_gan_config_default();
    c.objective = (gm_gan_objective)99;
    CHECK_RC(gm_gan_create(&g, &c), GM_EINVAL);
    CHECK(g == NULL);
    CHECK_INT_EQ(gm_toy_from_name("toy:25gaussians"), GM_TOY_25GAUSS);
    CHECK_INT_EQ(gm_toy_from_name("fashion-mnist"), -1);
    /* toy densities integrate to 1 (midpoint rule on [-4, 4]^2) */
    CHECK_INT_EQ(gm_toy_from_name("toy:8gaussians-wide"), GM_TOY_8GAUSS_WIDE);
    CHECK(!strcmp(gm_toy_name(GM_TOY_8GAUSS_WIDE), "toy:8gaussians-wide"));
    for (int toy = 0; toy < 3; toy++) {
        double s = 0, h = 0.01;
        for (double x = -4 + h / 2; x < 4; x += h)
            for (double y = -4 + h / 2; y < 4; y += h) s += gm_toy_density((gm_toy)toy, x, y) * h * h;
        CHECK_NEAR(s, 1, 0, 1e-6);
    }
    /* samples sit within 5 sigma of a mode */
    float x[2000];
    double cs[50], sd;
    size_t K = gm_toy_modes(GM_TOY_8GAUSS, cs, &sd);
    gm_toy_sample(GM_TOY_8GAUSS, x, 1000, 1, 7);
    int far = 0;
    for (int i = 0; i < 1000; i++) {
        double best = 1e9;
        for (size_t k = 0; k < K; k++) best = fmin(best, hypot((double)x[2 * i] - cs[2 * k], (double)x[2 * i + 1] - cs[2 * k + 1]));
        far += best > 5 * sd;
    }
    CHECK_INT_EQ(far, 0);
    /* the wide ring: same centres, σ 0.2; the sample SD around the nearest centre is 0.2 within 3 % */
    double cw[50], sdw;
    CHECK_INT_EQ(gm_toy_modes(GM_TOY_8GAUSS_WIDE, cw, &sdw), 8);
    CHECK_NEAR(sdw, 0.2, 0, 0);
    CHECK_NEAR(cw[2], cs[2], 0, 0);
    gm_toy_sample(GM_TOY_8GAUSS_WIDE, x, 1000, 1, 7);
    double ss = 0;
    for (int i = 0; i < 1000; i++) {
        double best = 1e9;
        for (size_t k = 0; k < K; k++) best = fmin(best, hypot((double)x[2 * i] - cw[2 * k], (double)x[2 * i + 1] - cw[2 * k + 1]));
        ss += best * best;
    }
    CHECK_NEAR(sqrt(ss / 2000), 0.2, 0, 0.006); /* 2 coordinates per point; SE of the SD ≈ 0.2/sqrt(4000) */
}


GM_TEST(test_flowtrain_resume_and_config) {
    gm_flowtrain_config c = gm_flowtrain_config_default();
    c.n_layers = 2, c.hidden = 8, c.batch = 16, c.pretrain = 2, c.seed = 4, c.lambda = 3;
    char pa[64], pb[64], pc[64];
    snprintf(pa, sizeof pa, "/tmp/gm_flow_a_%d.safetensors", (int)getpid());
    snprintf(pb, sizeof pb, "/tmp/gm_flow_b_%d.safetensors", (int)getpid());
    snprintf(pc, sizeof pc, "/tmp/gm_flow_c_%d.safetensors", (int)getpid());
    for (int proc = 0; proc < 3; proc++) {
        c.procedure = "CBA"[proc]; /* A: the critic, its Adam state and step count survive the checkpoint too */
        gm_flowtrain *a, *b, *b2;
        double loss;
        CHECK_OK(gm_flowtrain_create(&a, &c));
        for (int i = 0; i < 5; i++) CHECK_OK(gm_flowtrain_step(a, &loss));
        CHECK(isfinite(loss));
        CHECK_OK(gm_flowtrain_save(a, pa));
        CHECK_OK(gm_flowtrain_create(&b, &c));
        for (int i = 0; i < 3; i++) CHECK_OK(gm_flowtrain_step(b, &loss));
        CHECK_OK(gm_flowtrain_save(b, pb));
        gm_flowtrain_free(b);
        CHECK_OK(gm_flowtrain_load(&b2, pb));
        for (int i = 0; i < 2; i++) CHECK_OK(gm_flowtrain_step(b2, &loss));
        CHECK_OK(gm_flowtrain_save(b2, pc));
        CHECK(files_equal(pa, pc));
        /* exact-density α: both halves agree within Monte-Carlo error and stay in [0, min(λ,1)] */
        double lam[3] = {0.1, 1, 10}, al[3], ap[3], aq[3];
        CHECK_OK(gm_flow_toy_alpha(gm_flowtrain_flow(a), GM_TOY_8GAUSS, lam, 3, 4000, 1, al, ap, aq));
        for (int l = 0; l < 3; l++) {
            CHECK(al[l] >= 0 && al[l] <= fmin(lam[l], 1) + 1e-12);
            CHECK_NEAR(ap[l], aq[l], 0, 6 * fmin(lam[l], 1) / (2 * sqrt(4000.0)) + 1e-3);
        }
        gm_flowtrain_free(a);
        gm_flowtrain_free(b2);
    }
    gm_flowtrain *x = NULL;
    c.procedure = 'Z';
    CHECK_RC(gm_flowtrain_create(&x, &c), GM_EINVAL);
    c.procedure = 'A', c.n_critic = 0;
    CHECK_RC(gm_flowtrain_create(&x, &c), GM_EINVAL);
    c.n_critic = 4;
    c.procedure = 'C';
    c.lambda = 0;
    CHECK_RC(gm_flowtrain_create(&x, &c), GM_EINVAL);
    /* a GAN checkpoint is not a flow checkpoint and vice versa */
    gm_gan_config gc = gm_gan_config_default();
    gc.hidden = 4, gc.batch = 4;
    gm_gan *g;
    CHECK_OK(gm_gan_create(&g, &gc));
    CHECK_OK(gm_gan_save(g, pb));
    gm_gan_free(g);
    CHECK_RC(gm_flowtrain_load(&x, pb), GM_EFORMAT);
    CHECK(x == NULL);
    gm_gan *g2 = NULL;
    CHECK_RC(gm_gan_load(&g2, pc), GM_EFORMAT);
    remove(pa), remove(pb), remove(pc);
}


/* allocation failures anywhere in create + two steps: GM_ENOMEM, never a crash or a leak (ASan) */
/* The diagnostics of gm_gan_status and the mechanism behind the GAN λ study: with spectral norm a fresh
 * critic is ~1-Lipschitz and its outputs on the ring stay near 0, so at λ = 100 no fake has
 * v < 2/λ − 2 = −1.98: every PR gradient is exactly zero and the generator does not move (bitwise);
 * at λ = 0.1 every fake in (−2, 5) is pushed and the generator moves. critic_gain scales v exactly and
 * survives a checkpoint round trip. */
GM_TEST(test_gan_pr_gradient_diagnostics) {
    float before[64], after[64];
    for (int k = 0; k < 2; k++) {
        gm_gan_config c = gm_gan_config_default();
        c.hidden = 32, c.batch = 32, c.n_critic = 2, c.seed = 7, c.lambda = k ? 0.1f : 100.0f;
        gm_gan *g = NULL;
        CHECK_OK(gm_gan_create(&g, &c));
        if (!g) return;
        CHECK_OK(gm_gan_sample(g, before, 32, 0, 5));
        gm_gan_status st;
        float act = 0, clamp = 0;
        for (int i = 0; i < 5; i++) {
            CHECK_OK(gm_gan_step(g, &st));
            act += st.frac_active, clamp += st.frac_clamped;
            CHECK(st.vf_q05 <= st.vf_median && st.vf_median <= st.vf_q95);
        }
        CHECK_OK(gm_gan_sample(g, after, 32, 0, 5));
        printf("  lambda %g: mean fraction of fakes with a PR gradient %.3f, at the clamp %.3f, v_f in [%.3f, %.3f]\n",
               (double)c.lambda, (double)act / 5, (double)clamp / 5, (double)st.vf_q05, (double)st.vf_q95);
        CHECK(clamp == 0);
        if (k == 0) {
            CHECK(act == 0);
            CHECK(memcmp(before, after, sizeof before) == 0); /* zero gradient: Adam (β1 = 0) leaves G as it is */
        } else {
            CHECK(act == 5);
            CHECK(memcmp(before, after, sizeof before) != 0);
        }
        gm_gan_free(g);
    }
    /* critic gain: v(gain 3) = 3 v(gain 1) with the same weights; kept in the checkpoint */
    gm_gan_config c = gm_gan_config_default();
    c.hidden = 16, c.batch = 8, c.seed = 3;
    gm_gan *a = NULL, *b = NULL, *l = NULL;
    CHECK_OK(gm_gan_create(&a, &c));
    c.critic_gain = 3;
    CHECK_OK(gm_gan_create(&b, &c));
    float x[8] = {0.1f, 2, -1, 0.5f, 2, 2, -1.5f, -0.3f}, va[4], vb[4];
    if (!a || !b) return;
    CHECK_OK(gm_gan_critic(a, x, 4, va));
    CHECK_OK(gm_gan_critic(b, x, 4, vb));
    for (int i = 0; i < 4; i++) CHECK_NEAR(vb[i], 3 * va[i], 1e-6, 1e-6);
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_gain_%d.safetensors", (int)getpid());
    CHECK_OK(gm_gan_save(b, path));
    CHECK_OK(gm_gan_load(&l, path));
    if (l) CHECK(gm_gan_get_config(l)->critic_gain == 3.0f);
    /* a checkpoint written before critic_gain existed (the key absent) loads with the default gain 1;
     * without a required key ("hidden") it is a malformed config */
    gm_checkpoint *ck = NULL;
    CHECK_OK(gm_checkpoint_open(&ck, path));
    const char *js = ck ? gm_checkpoint_meta_get(ck, "config") : NULL, *cut = js ? strstr(js, "\"critic_gain\":3,") : NULL;
    CHECK(cut != NULL);
    if (cut) {
        char old[1024], nohid[1024];
        snprintf(old, sizeof old, "%.*s%s", (int)(cut - js), js, cut + strlen("\"critic_gain\":3,"));
        const char *h = strstr(old, "\"hidden\":16,");
        CHECK(h != NULL);
        snprintf(nohid, sizeof nohid, "%.*s%s", h ? (int)(h - old) : 0, old, h ? h + strlen("\"hidden\":16,") : "");
        gm_checkpoint_meta mo = {"gan", old, gm_gan_get_step(b), 0, c.seed, NULL};
        gm_gan *o = NULL;
        CHECK_OK(gm_checkpoint_save(path, gm__gan_params(b), NULL, &mo));
        CHECK_OK(gm_gan_load(&o, path));
        if (o) CHECK(gm_gan_get_config(o)->critic_gain == 1.0f && gm_gan_get_config(o)->hidden == 16);
        gm_gan_free(o);
        o = NULL;
        mo.config = nohid;
        CHECK_OK(gm_checkpoint_save(path, gm__gan_params(b), NULL, &mo));
        CHECK_RC(gm_gan_load(&o, path), GM_EFORMAT);
        CHECK(o == NULL && strstr(gm_last_error(), "malformed GAN config") && strstr(gm_last_error(), path));
    }
    gm_checkpoint_close(ck);
    c.critic_gain = 0;
    gm_gan *z = NULL;
    CHECK_RC(gm_gan_create(&z, &c), GM_EINVAL);
    remove(path);
    gm_gan_free(a), gm_gan_free(b), gm_gan_free(l);
}

/* the table-driven config reader of the trainer loaders: types, optional rows, missing rows, OOM; and its end */
typedef struct {
    float f;
    size_t z;
    int64_t l;
    int i;
    float opt;
} ck_probe;

GM_TEST(test_ckpt_read_fields) {
    static const gm__ck_field rows[] = {GM__CK_REQ(ck_probe, f, F32), GM__CK_REQ(ck_probe, z, SIZE),
                                        GM__CK_REQ(ck_probe, l, I64), GM__CK_REQ(ck_probe, i, INT),
                                        GM__CK_OPT(ck_probe, opt, F32)};
    ck_probe p = {0, 0, 0, 0, 7};
    int bad = 0, oom = 0;
    gm__ckpt_read_fields("{\"f\":0.1,\"z\":12,\"l\":-5,\"i\":1,\"opt\":2.5}", rows, 5, &p, &bad, &oom);
    CHECK(!bad && !oom && p.f == 0.1f && p.z == 12 && p.l == -5 && p.i == 1 && p.opt == 2.5f);
    ck_probe q = {0, 0, 0, 0, 7}; /* optional absent: kept, not bad */
    gm__ckpt_read_fields("{\"f\":1,\"z\":3,\"l\":4,\"i\":0}", rows, 5, &q, &bad, &oom);
    CHECK(!bad && !oom && q.f == 1 && q.z == 3 && q.l == 4 && q.i == 0 && q.opt == 7);
    ck_probe r = {0, 0, 0, 0, 7}; /* a required one absent: bad, the others still read */
    gm__ckpt_read_fields("{\"f\":1,\"l\":4,\"i\":1,\"opt\":3}", rows, 5, &r, &bad, &oom);
    CHECK(bad && !oom && r.f == 1 && r.z == 0 && r.l == 4 && r.i == 1 && r.opt == 3);
    bad = 0, oom = 1; /* after an allocation failure nothing more is read */
    ck_probe s = {0, 0, 0, 0, 7};
    gm__ckpt_read_fields("{\"f\":1,\"z\":3,\"l\":4,\"i\":0,\"opt\":3}", rows, 5, &s, &bad, &oom);
    CHECK(oom && s.f == 0 && s.z == 0 && s.opt == 7);
    CHECK_OK(gm__ckpt_config_end(NULL, "m.safetensors", "image-flow", 0, 0));
    CHECK_RC(gm__ckpt_config_end(NULL, "m.safetensors", "image-flow", 1, 0), GM_EFORMAT);
    CHECK(!strcmp(gm_last_error(), "m.safetensors: malformed image-flow config in __metadata__"));
    gm_set_error(GM_ENOMEM, "out of memory (planted)");
    CHECK_RC(gm__ckpt_config_end(NULL, "m.safetensors", "image-flow", 1, 1), GM_ENOMEM);
    CHECK(strstr(gm_last_error(), "m.safetensors") && strstr(gm_last_error(), "(planted)"));
}

GM_TEST(test_alloc_failure_sweep) {
    gm_gan_config gc = gm_gan_config_default();
    gc.hidden = 4, gc.batch = 4, gc.n_critic = 1;
    gm_flowtrain_config fc = gm_flowtrain_config_default();
    fc.n_layers = 2, fc.hidden = 4, fc.batch = 4, fc.pretrain = 1;
    for (int which = 0; which < 2; which++) {
        int done = 0, bad = 0;
        for (long n = 1; n < 2000 && !done; n++) {
            gm_alloc_fail_nth(n, 1);
            int rc;
            if (which == 0) {
                gm_gan *g = NULL;
                rc = gm_gan_create(&g, &gc);
                for (int i = 0; !rc && i < 2; i++) rc = gm_gan_step(g, NULL);
                gm_gan_free(g);
            } else {
                gm_flowtrain *f = NULL;
                rc = gm_flowtrain_create(&f, &fc);
                for (int i = 0; !rc && i < 2; i++) rc = gm_flowtrain_step(f, NULL);
                gm_flowtrain_free(f);
            }
            gm_alloc_fail_nth(0, 0);
            if (rc == GM_OK) done = 1;
            else if (rc != GM_ENOMEM) bad++;
            if (done) fprintf(stderr, "    %s: %ld allocation sites swept\n", which ? "flow" : "gan", n - 1);
        }
        CHECK(done);
        CHECK_INT_EQ(bad, 0);
    }
}

/* Procedure A (spec §3 A): the flow is the generator of the PR loss. With a fresh critic (v ≈ 0, r̂ ≈ 1)
 * λ = 100 puts no fake in its band (v < 2/λ − 2 = −1.98): the flow's parameters stay bitwise the same
 * while the critic trains; λ = 0.1 pushes every fake: the flow moves. */
GM_TEST(test_flow_procedure_a) {
    gm_flowtrain_config c = gm_flowtrain_config_default();
    c.procedure = 'A', c.n_layers = 2, c.hidden = 16, c.batch = 64, c.pretrain = 0, c.seed = 5;
    float lams[2] = {100.0f, 0.1f};
    for (int li = 0; li < 2; li++) {
        c.lambda = lams[li];
        gm_flowtrain *f;
        CHECK_OK(gm_flowtrain_create(&f, &c));
        gm_params *P = &gm_flowtrain_flow(f)->params;
        size_t nflow = P->info[6 * c.n_layers].offset, ncrit = P->info[6 * c.n_layers + 6].offset - nflow;
        float *before = malloc((nflow + ncrit) * sizeof(float));
        memcpy(before, P->val, (nflow + ncrit) * sizeof(float));
        double loss;
        CHECK_OK(gm_flowtrain_step(f, &loss));
        CHECK(isfinite(loss));
        int flow_same = !memcmp(before, P->val, nflow * sizeof(float));
        int crit_same = !memcmp(before + nflow, P->val + nflow, ncrit * sizeof(float));
        CHECK(!crit_same);
        if (li == 0) CHECK(flow_same);
        else CHECK(!flow_same);
        free(before);
        gm_flowtrain_free(f);
    }
}

/* The batch diagnostics by hand (spec §2.2): with the χ² ratio r = clamp(v, −2, 5)/2 + 1, a fake gets a PR-loss
 * gradient only inside the clamp (−2 < v < 5) and where λ r < 1; v ≤ −2 is "at the clamp" (no gradient). */
GM_TEST(test_gan_status_by_hand) {
    const float vf[8] = {-3.0f, -2.5f, -1.9f, -1.0f, 0.5f, 1.0f, 6.0f, -0.2f};
    const float vr[8] = {1.0f, 2.0f, -1.0f, 0.3f, 4.0f, -0.5f, 0.1f, 7.0f};
    float scratch[8];
    gm_gan_status st;
    memset(&st, 0, sizeof st);
    /* λ = 1: active where −2 < v < 0: −1.9, −1.0, −0.2 → 3/8; clamped: −3, −2.5 → 2/8 */
    gm__gan_status_fill(&st, vf, vr, 8, 0.0f, GM_GAN_PR, 1.0f, scratch);
    CHECK_NEAR(st.frac_active, 3.0 / 8, 0, 1e-7);
    CHECK_NEAR(st.frac_clamped, 2.0 / 8, 0, 1e-7);
    /* λ = 2: λ r < 1 ↔ v < −1: −1.9 only (−3 and −2.5 are at the clamp) → 1/8 */
    gm__gan_status_fill(&st, vf, vr, 8, 0.0f, GM_GAN_PR, 2.0f, scratch);
    CHECK_NEAR(st.frac_active, 1.0 / 8, 0, 1e-7);
    /* accuracies at threshold 0: reals with v > 0: 6 of 8 → 75 %; fakes with v > 0: 3 → 100 − 37.5 */
    CHECK_NEAR(st.acc_real, 75.0, 0, 1e-5);
    CHECK_NEAR(st.acc_fake, 62.5, 0, 1e-5);
    /* quantiles of v_f (sorted −3, −2.5, −1.9, −1, −0.2, 0.5, 1, 6): indices round(0.05·7) = 0, round(3.5) = 4,
     * round(6.65) = 7 */
    CHECK_NEAR(st.vf_q05, -3.0, 0, 0);
    CHECK_NEAR(st.vf_median, -0.2, 0, 1e-7);
    CHECK_NEAR(st.vf_q95, 6.0, 0, 0);
    /* pr-nofloor: the clamped fakes are active too: λ = 1: v < 0 → 5/8 (clamped still 2/8); λ = 2: v < −1 → 3/8 */
    gm__gan_status_fill(&st, vf, vr, 8, 0.0f, GM_GAN_PR_NOFLOOR, 1.0f, scratch);
    CHECK_NEAR(st.frac_active, 5.0 / 8, 0, 1e-7);
    CHECK_NEAR(st.frac_clamped, 2.0 / 8, 0, 1e-7);
    gm__gan_status_fill(&st, vf, vr, 8, 0.0f, GM_GAN_PR_NOFLOOR, 2.0f, scratch);
    CHECK_NEAR(st.frac_active, 3.0 / 8, 0, 1e-7);
}

/* The trainer with pr-nofloor (genmix variant): at λ = 100 the released band −2 < v < −1.98 is (almost) empty,
 * so with a wide critic (no SN, gain 100) pr leaves G bitwise unchanged while pr-nofloor moves it through
 * the fakes at v <= −2; both runs see the same first critic steps, so the first status shows active(nofloor)
 * = active(pr) + clamped(pr); the reported α̂/β̂ (released ratio) agree; the objective survives save/load. */
GM_TEST(test_gan_nofloor_moves_clamped_fakes) {
    float before[64], after[2][64];
    gm_gan_status st[2];
    for (int k = 0; k < 2; k++) {
        gm_gan_config c = gm_gan_config_default();
        c.hidden = 32, c.batch = 32, c.n_critic = 2, c.seed = 7, c.lambda = 100, c.spectral_norm = 0, c.critic_gain = 100;
        c.objective = k ? GM_GAN_PR_NOFLOOR : GM_GAN_PR;
        gm_gan *g = NULL;
        CHECK_OK(gm_gan_create(&g, &c));
        if (!g) return;
        CHECK_OK(gm_gan_sample(g, before, 32, 0, 5));
        CHECK_OK(gm_gan_step(g, &st[k]));
        CHECK_OK(gm_gan_sample(g, after[k], 32, 0, 5));
        printf("  %s: fakes with a gradient %.3f, at the clamp %.3f\n", gm_gan_objective_name(c.objective),
               (double)st[k].frac_active, (double)st[k].frac_clamped);
        if (k) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/gm_nofloor_%d.safetensors", (int)getpid());
            gm_gan *l = NULL;
            CHECK_OK(gm_gan_save(g, path));
            CHECK_OK(gm_gan_load(&l, path));
            if (l) CHECK(gm_gan_get_config(l)->objective == GM_GAN_PR_NOFLOOR);
            gm_gan_free(l);
            remove(path);
        }
        gm_gan_free(g);
    }
    CHECK(st[0].frac_active == 0 && st[0].frac_clamped > 0.1f);
    CHECK(memcmp(before, after[0], sizeof before) == 0);
    CHECK(st[1].frac_clamped == st[0].frac_clamped);
    CHECK_NEAR(st[1].frac_active, st[0].frac_clamped, 0, 1e-7);
    CHECK(st[1].alpha_hat == st[0].alpha_hat && st[1].beta_hat == st[0].beta_hat && st[1].loss_d == st[0].loss_d);
    CHECK(st[1].loss_g > st[0].loss_g);
    CHECK(memcmp(before, after[1], sizeof before) != 0);
}

GM_TEST_MAIN({"v10_chi2_mlp_critic", test_v10_chi2_mlp_critic}, {"gan_status_by_hand", test_gan_status_by_hand},
             {"gan_resume_bitwise", test_gan_resume_bitwise}, {"gan_bad_config_and_toys", test_gan_bad_config_and_toys},
             {"flowtrain_resume_and_config", test_flowtrain_resume_and_config},
             {"gan_pr_gradient_diagnostics", test_gan_pr_gradient_diagnostics},
             {"gan_nofloor_moves_clamped_fakes", test_gan_nofloor_moves_clamped_fakes},
             {"alloc_failure_sweep", test_alloc_failure_sweep},
             {"ckpt_read_fields", test_ckpt_read_fields}, {"flow_procedure_a", test_flow_procedure_a})
