/* SPDX-License-Identifier: MIT */
/* test_prdiv_golden.c — PR-divergence pieces against PyTorch (fixtures written once by
 * tools/gen_prdiv_golden.py into tests/golden/prdiv_golden.txt; torch is not needed here): spectral norm
 * (forward, updated u, sigma, weight gradient), an affine coupling in both directions (output, log-det,
 * gradients), and one full PR-GAN iteration of gm_gan (2 χ² critic steps + the PR generator step, Adam
 * β1 = 0) on the same weights, SN vectors, data and noise: losses and every updated tensor within 1e-5. */
#include "gm_test.h"
#include "genmix/models.h"
#include "genmix/nn.h"
#include "genmix/prdiv.h"
#include "../src/prdiv/prdiv_internal.h"

#include <stdio.h>

typedef struct {
    char name[64];
    size_t n;
    float *v;
} fx;
enum { NFX = 96 };
static fx tab[NFX];
static size_t ntab;

static void load_all(void) {
    if (ntab) return;
    FILE *f = fopen("tests/golden/prdiv_golden.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char name[64];
    int nd;
    while (ntab < NFX && fscanf(f, "%63s %d", name, &nd) == 2) {
        fx *t = &tab[ntab++];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->n = 1;
        for (int i = 0; i < nd; i++) {
            long long d = 0;
            CHECK(fscanf(f, "%lld", &d) == 1);
            t->n *= (size_t)d;
        }
        t->v = malloc(t->n * sizeof(float));
        for (size_t i = 0; i < t->n; i++) CHECK(fscanf(f, "%f", &t->v[i]) == 1);
    }
    fclose(f);
}

static const fx *want(const char *name) {
    load_all();
    for (size_t i = 0; i < ntab; i++)
        if (!strcmp(tab[i].name, name)) return &tab[i];
    fprintf(stderr, "  missing fixture tensor %s\n", name);
    CHECK(0);
    static fx empty;
    return &empty;
}

/* |a - b| <= 1e-5 (|b| + 1e-2) elementwise, i.e. 1e-5 relative with an absolute floor of 1e-7 */
static void close_to(const char *what, const float *a, const char *name, size_t n) {
    const fx *b = want(name);
    CHECK(b->n == n);
    if (b->n != n) return;
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b->v[i]) / (fabs((double)b->v[i]) + 1e-2);
        if (d > worst) worst = d, wi = i;
    }
    printf("  %-22s max rel err %.2e\n", what, worst);
    if (worst > 1e-5) fprintf(stderr, "  %s[%zu]: %.9g vs torch %.9g\n", what, wi, (double)a[wi], (double)b->v[wi]);
    CHECK(worst <= 1e-5);
}

GM_TEST(test_golden_spectral_norm) {
    const fx *w = want("sn.w"), *u0 = want("sn.u0"), *g = want("sn.g");
    if (w->n != 35 || u0->n != 5) return;
    float wsn[35], u[5], v[7], sig, dw[35] = {0};
    memcpy(u, u0->v, sizeof u);
    gm_spectral_norm_forward(wsn, u, v, &sig, w->v, 5, 7, 1, 1e-12f);
    gm_spectral_norm_backward(dw, g->v, wsn, u, v, sig, 5, 7);
    close_to("sn W/sigma", wsn, "sn.wsn", 35);
    close_to("sn u after 1 iter", u, "sn.u1", 5);
    close_to("sn sigma", &sig, "sn.sigma", 1);
    close_to("sn dW", dw, "sn.dw", 35);
}

GM_TEST(test_golden_coupling) {
    const fx *x = want("cp.x"), *st = want("cp.st"), *mask = want("cp.mask");
    if (x->n != 12 || st->n != 24 || mask->n != 3) return;
    for (int dir = 1; dir >= -1; dir -= 2) {
        const char *dn = dir > 0 ? "fwd" : "inv";
        char key[64];
        float o[16], dx[12] = {0}, dst[24] = {0};
        gm_coupling_forward(o, x->v, st->v, mask->v, 4, 3, 2.0f, dir);
        snprintf(key, sizeof key, "cp.%s.dout", dn);
        gm_coupling_backward(dx, dst, want(key)->v, x->v, st->v, mask->v, 4, 3, 2.0f, dir);
        snprintf(key, sizeof key, "cp.%s.out", dn);
        close_to(dir > 0 ? "coupling fwd [y|ld]" : "coupling inv [y|ld]", o, key, 16);
        snprintf(key, sizeof key, "cp.%s.dx", dn);
        close_to(dir > 0 ? "coupling fwd dx" : "coupling inv dx", dx, key, 12);
        snprintf(key, sizeof key, "cp.%s.dst", dn);
        close_to(dir > 0 ? "coupling fwd dst" : "coupling inv dst", dst, key, 24);
    }
}

static float *tensor(gm_params *P, const char *name, size_t *n) {
    for (size_t i = 0; i < P->count; i++)
        if (!strcmp(P->info[i].name, name)) {
            *n = P->info[i].n;
            return P->val + P->info[i].offset;
        }
    fprintf(stderr, "  no tensor %s in the GAN\n", name);
    CHECK(0);
    return NULL;
}

GM_TEST(test_golden_gan_iteration) {
    const fx *cf = want("gan.config");
    if (cf->n != 6) return;
    gm_gan_config c = gm_gan_config_default();
    c.objective = GM_GAN_PR;
    c.dim_z = (size_t)cf->v[0], c.hidden = (size_t)cf->v[1], c.batch = (size_t)cf->v[2], c.n_critic = (size_t)cf->v[3];
    c.lambda = cf->v[4], c.lr_g = c.lr_d = cf->v[5];
    gm_gan *g = NULL;
    CHECK_OK(gm_gan_create(&g, &c));
    if (!g) return;
    gm_params *P = gm__gan_params(g);
    static const char *names[] = {"G.0.weight", "G.0.bias", "G.2.weight", "G.2.bias", "G.4.weight", "G.4.bias",
                                  "D.0.weight", "D.0.bias", "D.2.weight", "D.2.bias", "D.4.weight", "D.4.bias",
                                  "D.0.sn_u",   "D.2.sn_u", "D.4.sn_u"};
    for (size_t i = 0; i < 15; i++) {
        size_t n = 0;
        float *p = tensor(P, names[i], &n);
        const fx *w = want(names[i]);
        CHECK(p && w->n == n);
        if (p && w->n == n) memcpy(p, w->v, n * sizeof(float));
    }
    gm_gan_status st;
    CHECK_OK(gm__gan_step_with(g, want("gan.xr")->v, want("gan.z")->v, &st));
    close_to("gan L_D (last critic)", &st.loss_d, "gan.loss_d", 1);
    close_to("gan L_G", &st.loss_g, "gan.loss_g", 1);
    float ab[2] = {st.alpha_hat, st.beta_hat};
    close_to("gan alpha^, beta^", ab, "gan.alpha_beta", 2);
    for (size_t i = 0; i < 15; i++) {
        size_t n = 0;
        float *p = tensor(P, names[i], &n);
        char key[80];
        snprintf(key, sizeof key, "new.%s", names[i]);
        if (p) close_to(key, p, key, n);
    }
    gm_gan_free(g);
}

GM_TEST_MAIN({"golden_spectral_norm", test_golden_spectral_norm}, {"golden_coupling", test_golden_coupling},
             {"golden_gan_iteration", test_golden_gan_iteration})
