/* SPDX-License-Identifier: MIT */
/* test_mix_fmnist_slow.c — Mixture-UCB on Fashion-MNIST class-subset arms (spec §6.2): raw pixels in [0, 1]
 * (d = 784), sigma = 5, arms A = {0,1,2}, B = {3,4,5}, C = {6,7}, D = {8,9}, E = {0}. The reference is
 * class-balanced, so it equals 0.3A + 0.3B + 0.2C + 0.2D and the KID optimum is (0.3, 0.3, 0.2, 0.2, 0).
 * Train images only: reference = the first 300 of each class, arm pools = later, disjoint images.
 * Loaded with io.h's gm_fashion_mnist_load from GM_FASHION_MNIST_DIR; every case is a reported skip (exit 77)
 * if that directory is absent, and a failure if it is present but a load or library call fails.
 * Named _slow (ctest label "slow"): it runs in the release suite of `make test`, not in the ASan pass. */
#include "gm_test.h"
#include "genmix/io.h"
#include "genmix/mix.h"
#include <sys/stat.h>

#define NREF_PER_CLASS 300

static gm_tensor g_imgs; /* 60000 x 784 in [0, 1] */
static float *g_img;
static uint8_t *g_lab;
static size_t g_n;

/* 1 when the train split is loaded (io.h's loader), 0 when the data set directory is absent (tests skip),
 * -1 when it is present but does not load (tests fail). */
static int load_fmnist(void) {
    if (g_img) return 1;
    struct stat st;
    if (stat(GM_FASHION_MNIST_DIR, &st) != 0) return 0;
    if (gm_fashion_mnist_load(NULL, 1, &g_imgs, &g_lab, &g_n) != GM_OK) {
        fprintf(stderr, "  Fashion-MNIST not loaded from " GM_FASHION_MNIST_DIR ": %s\n", gm_last_error());
        return -1;
    }
    g_img = g_imgs.data;
    return 1;
}

/* Pool of `per_class` images of each class in `cls` (class-stratified), skipping the reference images. */
static float *make_pool(const int *cls, int ncls, size_t per_class, size_t *n_out) {
    float *p = malloc((size_t)ncls * per_class * 784 * sizeof *p);
    size_t n = 0;
    for (int c = 0; c < ncls; c++) {
        size_t seen = 0, got = 0;
        for (size_t i = 0; i < g_n && got < per_class; i++) {
            if (g_lab[i] != cls[c]) continue;
            if (seen++ < NREF_PER_CLASS) continue;
            memcpy(p + n * 784, g_img + i * 784, 784 * sizeof *p);
            n++, got++;
        }
    }
    *n_out = n;
    return p;
}

static float *make_ref(size_t *n_out) {
    float *y = malloc(10 * NREF_PER_CLASS * 784 * sizeof *y);
    size_t n = 0, cnt[10] = {0};
    for (size_t i = 0; i < g_n && n < 10 * NREF_PER_CLASS; i++)
        if (cnt[g_lab[i]] < NREF_PER_CLASS) {
            cnt[g_lab[i]]++;
            memcpy(y + n * 784, g_img + i * 784, 784 * sizeof *y);
            n++;
        }
    *n_out = n;
    return y;
}

static const int CA[3] = {0, 1, 2}, CB[3] = {3, 4, 5}, CC[2] = {6, 7}, CD[2] = {8, 9}, CE[1] = {0};
static const int *const CLS[5] = {CA, CB, CC, CD, CE};
static const int NCLS[5] = {3, 3, 2, 2, 1};

/* Shared fixtures, built once: the reference (3000 class-balanced images), pools of T = 3000 images per
 * arm and their KID reference terms (computed once, reused by every online run). */
#define T_ONLINE 3000
#define RUNS 3 /* replications = Philox streams (run 0, 1, 2) of seed 0: three fixed seeds */
static float *g_Y, *g_pool[5];
static size_t g_nref, g_pn[5];
static gm_mix_ref *g_ref;
static double *g_terms[5];

static void free_fixtures(void);
/* 1 ready, 0 data set absent, -1 a load or library call failed (message printed). */
static int g_fx_failed;
static int fixtures(void) {
    if (g_ref) return 1;
    if (g_fx_failed) return -1;
    static int registered;
    if (!registered) registered = 1, atexit(free_fixtures);
    int ld = load_fmnist();
    if (ld != 1) return ld;
    g_Y = make_ref(&g_nref);
    for (int i = 0; i < 5; i++) g_pool[i] = make_pool(CLS[i], NCLS[i], T_ONLINE / (size_t)NCLS[i], &g_pn[i]);
    gm_mix_ref *ref = NULL;
    if (gm_mix_ref_create(&ref, g_Y, g_nref, 784, GM_MIX_KERNEL_GAUSS, 5.0, 0, 5) != GM_OK) goto fail;
    for (int i = 0; i < 5; i++) {
        g_terms[i] = malloc(g_pn[i] * GM_MIX_NTERMS * sizeof *g_terms[i]);
        if (!g_terms[i] || gm_mix_ref_terms(ref, g_pool[i], g_pn[i], g_terms[i]) != GM_OK) goto fail;
    }
    g_ref = ref;
    return 1;
fail:
    fprintf(stderr, "  fixtures: %s\n", gm_last_error());
    g_fx_failed = 1;
    return -1;
}

/* Skip the case when the data set is absent; fail it when the fixtures could not be built. */
#define FIXTURES_OR_SKIP()                                                          \
    do {                                                                            \
        int fx_ = fixtures();                                                       \
        if (fx_ == 0) GM_SKIP("Fashion-MNIST absent from " GM_FASHION_MNIST_DIR);   \
        CHECK(fx_ == 1);                                                            \
        if (fx_ != 1) return;                                                       \
    } while (0)

/* Every other row of each pool: 1500 per arm, still class-balanced (the pools are stratified in blocks). */
static void halves(float **half, size_t *hn) {
    for (int i = 0; i < 5; i++) {
        hn[i] = g_pn[i] / 2;
        half[i] = malloc(hn[i] * 784 * sizeof *half[i]);
        for (size_t r = 0; r < hn[i]; r++) memcpy(half[i] + r * 784, g_pool[i] + 2 * r * 784, 784 * sizeof(float));
    }
}

static const double KID_STAR[5] = {0.3, 0.3, 0.2, 0.2, 0.0};

/* KID offline optimum from 1500 per arm, computed once (K_hat, f_hat reused for the single-arm KIDs). */
static double g_kid_a[5], g_kid_obj, g_kid_K[25], g_kid_f[5];
static int g_kid_done;

static int kid_offline(void) {
    if (g_kid_done) return 1;
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, 5, 784, T_ONLINE, GM_MIX_QUAD_KID, 0);
    cfg.sigma = 5.0;
    float *half[5];
    size_t hn[5];
    halves(half, hn);
    int rc = gm_mix_offline(&cfg, g_ref, (const float *const *)half, hn, NULL, g_kid_a, &g_kid_obj, g_kid_K, g_kid_f);
    for (int i = 0; i < 5; i++) free(half[i]);
    g_kid_done = rc == GM_OK;
    return g_kid_done;
}

GM_TEST(test_fmnist_kid_offline) {
    FIXTURES_OR_SKIP();
    CHECK(kid_offline());
    const double *a = g_kid_a, *K = g_kid_K, *f = g_kid_f, obj = g_kid_obj;
    double c = gm_mix_ref_self(g_ref);
    fprintf(stderr, "  offline n=1500: alpha %.3f %.3f %.3f %.3f %.3f KID %.5f; single arms", a[0], a[1], a[2], a[3], a[4],
            obj);
    for (int i = 0; i < 5; i++) fprintf(stderr, " %.4f", K[i * 5 + i] + f[i] + c);
    fprintf(stderr, "\n");
    /* spec: alpha* = (0.3, 0.3, 0.2, 0.2, 0) exactly; n = 1500 estimate within 0.05; KID ~ 0.0006 */
    for (int i = 0; i < 5; i++) CHECK_NEAR(a[i], KID_STAR[i], 0, 0.05);
    CHECK(obj < 0.002);
    for (int i = 0; i < 5; i++) CHECK(K[i * 5 + i] + f[i] + c > 5.0 * obj); /* the mixture beats every arm */
}

/* KID online, T = 3000, three replications each, checked run by run. With a KID scale this small (single
 * arms 0.016 - 0.12) the bonus dominates for thousands of rounds (spec §6.2): paper constants
 * (Delta_L = 4, Delta_kappa = 1) stay near uniform at T = 3000, so for them the checks are the collected
 * set's KID (< 1/3 of the best single arm; the mean over the runs falls between T = 1000 and T = 3000)
 * and the direction of the frequencies (the redundant arm E is pulled least in every run). Frequencies:
 * Delta_L = 0.05 without Delta_kappa, every run within 0.05 of alpha* and the mean of the runs within
 * 0.04; bonus-free variants (Mixture-Greedy, OGD with Delta_L = 0), every run within 0.035 and the mean
 * within 0.02 (measured: worst run 0.044 / 0.027, worst mean 0.033 / 0.013). */
GM_TEST(test_fmnist_kid_online) {
    FIXTURES_OR_SKIP();
    size_t T = T_ONLINE;
    if (!kid_offline()) return;
    double c = gm_mix_ref_self(g_ref), best_single = INFINITY;
    for (int i = 0; i < 5; i++) best_single = fmin(best_single, g_kid_K[i * 5 + i] + g_kid_f[i] + c);
    for (int v = 0; v < 6; v++) {
        gm_mix_config cfg;
        gm_mix_config_default(&cfg, 5, 784, T, GM_MIX_QUAD_KID, 0);
        cfg.sigma = 5.0;
        cfg.algo = v & 1 ? GM_MIX_OGD : GM_MIX_CAB;
        if (v / 2 == 1) cfg.delta_L = 0.05, cfg.delta_kappa = 0.0;
        if (v / 2 == 2) cfg.algo = v & 1 ? GM_MIX_OGD : GM_MIX_GREEDY, cfg.delta_L = 0.0, cfg.delta_kappa = 0.0;
        gm_mix_trace tr;
        CHECK_OK(gm_mix_simulate(&cfg, g_ref, (const float *const *)g_pool, g_pn, (const double *const *)g_terms, RUNS, &tr));
        if (!tr.freq) continue;
        double mf[5] = {0, 0, 0, 0, 0}, m1000 = 0.0, mend = 0.0;
        for (size_t r = 0; r < RUNS; r++) {
            const double *fr = tr.freq + (r * T + T - 1) * 5;
            double kid = tr.score[r * T + T - 1];
            for (int i = 0; i < 5; i++) mf[i] += fr[i] / RUNS;
            m1000 += tr.score[r * T + 999] / RUNS;
            mend += kid / RUNS;
            fprintf(stderr, "  online %s DL=%.2f Dk=%.0f run %zu: freq %.3f %.3f %.3f %.3f %.3f KID %.5f (T=1000: %.5f)\n",
                    gm_mix_algo_name(cfg.algo), cfg.delta_L, cfg.delta_kappa, r, fr[0], fr[1], fr[2], fr[3], fr[4], kid,
                    tr.score[r * T + 999]);
            if (v >= 2)
                for (int i = 0; i < 5; i++) CHECK_NEAR(fr[i], KID_STAR[i], 0, v >= 4 ? 0.035 : 0.05);
            else
                for (int i = 0; i < 4; i++) CHECK(fr[4] < fr[i]);
            CHECK(kid < best_single / 3.0);
        }
        if (v >= 2)
            for (int i = 0; i < 5; i++) CHECK_NEAR(mf[i], KID_STAR[i], 0, v >= 4 ? 0.02 : 0.04);
        CHECK(mend < m1000);
        gm_mix_trace_free(&tr);
    }
}

GM_TEST(test_fmnist_rke_offline) {
    FIXTURES_OR_SKIP();
    /* RKE offline with 500 per arm: spec values (approximate) RKE(mix) ~ 43.5, alpha ~ (0.17, 0.31, 0,
     * 0.52, 0); single arms A 16.6, B 24.5, C 13.4, D 27.3, E 9.0 */
    float *pool[5];
    size_t pn[5];
    for (int i = 0; i < 5; i++) pool[i] = make_pool(CLS[i], NCLS[i], 500 / (size_t)NCLS[i], &pn[i]);
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, 5, 784, 500, GM_MIX_QUAD_RKE, 0);
    cfg.sigma = 5.0;
    double a[5], obj, K[25];
    CHECK_OK(gm_mix_offline(&cfg, NULL, (const float *const *)pool, pn, NULL, a, &obj, K, NULL));
    fprintf(stderr, "  RKE offline: alpha %.3f %.3f %.3f %.3f %.3f RKE %.2f; single", a[0], a[1], a[2], a[3], a[4], 1.0 / obj);
    for (int i = 0; i < 5; i++) fprintf(stderr, " %.2f", 1.0 / K[i * 5 + i]);
    fprintf(stderr, "\n");
    CHECK_NEAR(1.0 / obj, 43.5, 0.05, 0);
    double want[5] = {0.17, 0.31, 0.0, 0.52, 0.0};
    for (int i = 0; i < 5; i++) CHECK_NEAR(a[i], want[i], 0, 0.06);
    double single[5] = {16.58, 24.45, 13.41, 27.29, 8.96};
    for (int i = 0; i < 5; i++) CHECK_NEAR(1.0 / K[i * 5 + i], single[i], 0.1, 0);
    for (int i = 0; i < 5; i++) free(pool[i]);
}

GM_TEST(test_fmnist_rke_online) {
    FIXTURES_OR_SKIP();
    size_t T = T_ONLINE;
    /* offline reference from the same pools, 1500 per arm (spec: 43.76) */
    float *half[5];
    size_t hn[5];
    halves(half, hn);
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, 5, 784, T, GM_MIX_QUAD_RKE, 0);
    cfg.sigma = 5.0;
    double a[5], obj, K[25], best_single = 0.0;
    CHECK_OK(gm_mix_offline(&cfg, NULL, (const float *const *)half, hn, NULL, a, &obj, K, NULL));
    for (int i = 0; i < 5; i++) best_single = fmax(best_single, 1.0 / K[i * 5 + i]);
    fprintf(stderr, "  RKE offline n=1500: alpha %.3f %.3f %.3f %.3f %.3f RKE %.2f, best single %.2f\n", a[0], a[1], a[2], a[3],
            a[4], 1.0 / obj, best_single);
    for (int i = 0; i < 5; i++) free(half[i]);
    /* spec §6.2 online table (T = 3000, one seed, offline ~ 43.7): CAB Delta_L = 2, Delta_kappa = 1 ~ 34.6,
     * freq ~ (0.19, 0.21, 0.17, 0.27, 0.16); CAB Delta_L = 0.6 without Delta_kappa ~ 38.4, freq (0.175, 0.206,
     * 0.135, 0.359, 0.126); OGD with the same constants ~ 33.9 / ~ 40.0; greedy ~ 42.6. Checked run by run
     * (three seeds): RKE within 6 % of the spec value (our pools are other images: the offline optimum here
     * is 44.6, 2 % above the spec's 43.7; runs spread by +-2 %), the CAB frequencies within 0.03 of the
     * spec's, greedy drops arm C (< 0.03) and puts > 0.45 on D; every online variant beats the best single
     * arm (spec 27.29, here 28.9); the means are ordered paper constants < 0.6 < greedy <= offline. */
    static const char *names[5] = {"CAB DL=2 Dk=1", "CAB DL=0.6 Dk=0", "OGD DL=2 Dk=1", "OGD DL=0.6 Dk=0", "greedy"};
    static const double want[5] = {34.6, 38.4, 33.9, 40.0, 42.6};
    static const double want_f[2][5] = {{0.19, 0.21, 0.17, 0.27, 0.16}, {0.175, 0.206, 0.135, 0.359, 0.126}};
    double mean[5] = {0, 0, 0, 0, 0};
    for (int v = 0; v < 5; v++) {
        gm_mix_config_default(&cfg, 5, 784, T, GM_MIX_QUAD_RKE, 0);
        cfg.sigma = 5.0;
        cfg.algo = v == 4 ? GM_MIX_GREEDY : v < 2 ? GM_MIX_CAB : GM_MIX_OGD;
        if (v == 1 || v == 3) cfg.delta_L = 0.6, cfg.delta_kappa = 0.0;
        gm_mix_trace tr;
        CHECK_OK(gm_mix_simulate(&cfg, NULL, (const float *const *)g_pool, g_pn, NULL, RUNS, &tr));
        if (!tr.freq) continue;
        for (size_t r = 0; r < RUNS; r++) {
            const double *fr = tr.freq + (r * T + T - 1) * 5;
            double rke = tr.score[r * T + T - 1];
            fprintf(stderr, "  online %-16s run %zu: RKE %.2f freq %.3f %.3f %.3f %.3f %.3f\n", names[v], r, rke, fr[0],
                    fr[1], fr[2], fr[3], fr[4]);
            CHECK_NEAR(rke, want[v], 0.06, 0);
            CHECK(rke > fmax(27.29, best_single));
            if (v < 2)
                for (int i = 0; i < 5; i++) CHECK_NEAR(fr[i], want_f[v][i], 0, 0.03);
            if (v == 4) CHECK(fr[2] < 0.03 && fr[3] > 0.45);
            mean[v] += rke / RUNS;
        }
        gm_mix_trace_free(&tr);
    }
    CHECK(mean[0] < mean[1] && mean[2] < mean[3] && mean[1] < mean[4] && mean[3] < mean[4]);
    CHECK(mean[4] < 1.02 / obj);
}

/* Frees the shared fixtures at exit (cleanup is not a test case). */
static void free_fixtures(void) {
    for (int i = 0; i < 5; i++) free(g_pool[i]), free(g_terms[i]);
    gm_mix_ref_free(g_ref);
    free(g_Y);
    gm_tensor_free(&g_imgs);
    gm_free(g_lab);
    g_img = NULL;
    g_ref = NULL;
}

GM_TEST_MAIN({"fmnist_kid_offline", test_fmnist_kid_offline}, {"fmnist_kid_online", test_fmnist_kid_online},
             {"fmnist_rke_offline", test_fmnist_rke_offline}, {"fmnist_rke_online", test_fmnist_rke_online})
