/* test_mix_fmnist.c — Mixture-UCB on Fashion-MNIST class-subset arms (spec §6.2): raw pixels in [0, 1]
 * (d = 784), sigma = 5, arms A = {0,1,2}, B = {3,4,5}, C = {6,7}, D = {8,9}, E = {0}. The reference is
 * class-balanced, so it equals 0.3A + 0.3B + 0.2C + 0.2D and the KID optimum is (0.3, 0.3, 0.2, 0.2, 0).
 * Train images only: reference = the first 300 of each class, arm pools = later, disjoint images.
 * Loaded with io.h's gm_fashion_mnist_load from GM_FASHION_MNIST_DIR; every case is skipped if absent. */
#include "gm_test.h"
#include "genmix/io.h"
#include "genmix/mix.h"

#define NREF_PER_CLASS 300

static gm_tensor g_imgs; /* 60000 x 784 in [0, 1] */
static float *g_img;
static uint8_t *g_lab;
static size_t g_n;

/* 1 when the train split is loaded (io.h's loader), 0 when the dataset is absent (tests skip). */
static int load_fmnist(void) {
    if (g_img) return 1;
    if (gm_fashion_mnist_load(NULL, 1, &g_imgs, &g_lab, &g_n) != GM_OK) {
        fprintf(stderr, "  Fashion-MNIST not loaded from " GM_FASHION_MNIST_DIR " (%s): skipped\n", gm_last_error());
        return 0;
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

GM_TEST(test_fmnist_kid) {
    if (!load_fmnist()) return;
    size_t T = 3000, nref;
    float *Y = make_ref(&nref);
    gm_mix_ref *ref;
    CHECK_OK(gm_mix_ref_create(&ref, Y, nref, 784, GM_MIX_KERNEL_GAUSS, 5.0, 0, 5));
    /* pools of T images per arm, class-stratified */
    const int *cls[5] = {CA, CB, CC, CD, CE};
    int ncls[5] = {3, 3, 2, 2, 1};
    float *pool[5];
    size_t pn[5];
    for (int i = 0; i < 5; i++) pool[i] = make_pool(cls[i], ncls[i], T / (size_t)ncls[i], &pn[i]);
    double want[5] = {0.3, 0.3, 0.2, 0.2, 0.0};
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, 5, 784, T, GM_MIX_QUAD_KID, 0);
    cfg.sigma = 5.0;
    /* offline optimum from 1500 per arm (the first half of each pool: the pools are stratified by class
     * in blocks, so take every other row to keep the class balance) */
    float *half[5];
    size_t hn[5];
    for (int i = 0; i < 5; i++) {
        hn[i] = pn[i] / 2;
        half[i] = malloc(hn[i] * 784 * sizeof *half[i]);
        for (size_t r = 0; r < hn[i]; r++) memcpy(half[i] + r * 784, pool[i] + 2 * r * 784, 784 * sizeof(float));
    }
    double a[5], obj, K[25], f[25];
    CHECK_OK(gm_mix_offline(&cfg, ref, (const float *const *)half, hn, NULL, a, &obj, K, f));
    double c = gm_mix_ref_self(ref);
    fprintf(stderr, "  offline n=1500: alpha %.3f %.3f %.3f %.3f %.3f KID %.5f; single arms", a[0], a[1], a[2], a[3], a[4],
            obj);
    for (int i = 0; i < 5; i++) fprintf(stderr, " %.4f", K[i * 5 + i] + f[i] + c);
    fprintf(stderr, "\n");
    for (int i = 0; i < 5; i++) CHECK_NEAR(a[i], want[i], 0, 0.05);
    CHECK(obj < 0.002);
    for (int i = 0; i < 5; i++) CHECK(K[i * 5 + i] + f[i] + c > 5.0 * obj); /* the mixture beats every arm */
    for (int i = 0; i < 5; i++) free(half[i]);
    /* online, T = 3000, one run each; the reference terms of the pools are computed once. With a KID
     * scale this small (single arms 0.016 - 0.12) the bonus dominates for thousands of rounds (spec §6.2):
     * paper constants (Delta_L = 4, Delta_kappa = 1) stay near uniform at T = 3000, so for them only the
     * collected set's KID is checked (< 1/3 of the best single arm); the frequencies are checked for
     * Mixture-Greedy (no bonus, < 0.03) and Delta_L = 0.05 without Delta_kappa (< 0.05). */
    double *terms[5];
    for (int i = 0; i < 5; i++) {
        terms[i] = malloc(pn[i] * GM_MIX_NTERMS * sizeof *terms[i]);
        CHECK_OK(gm_mix_ref_terms(ref, pool[i], pn[i], terms[i]));
    }
    double best_single = INFINITY;
    for (int i = 0; i < 5; i++) best_single = fmin(best_single, K[i * 5 + i] + f[i] + c);
    for (int v = 0; v < 6; v++) {
        gm_mix_config_default(&cfg, 5, 784, T, GM_MIX_QUAD_KID, 0);
        cfg.sigma = 5.0;
        cfg.algo = v & 1 ? GM_MIX_OGD : GM_MIX_CAB;
        if (v / 2 == 1) cfg.delta_L = 0.05, cfg.delta_kappa = 0.0;
        if (v / 2 == 2) cfg.algo = v & 1 ? GM_MIX_OGD : GM_MIX_GREEDY, cfg.delta_L = 0.0, cfg.delta_kappa = 0.0;
        gm_mix_trace tr;
        CHECK_OK(gm_mix_simulate(&cfg, ref, (const float *const *)pool, pn, (const double *const *)terms, 1, &tr));
        if (!tr.freq) continue;
        const double *fr = tr.freq + (T - 1) * 5;
        fprintf(stderr, "  online %s DL=%.2f Dk=%.0f: freq %.3f %.3f %.3f %.3f %.3f KID %.5f\n", gm_mix_algo_name(cfg.algo),
                cfg.delta_L, cfg.delta_kappa, fr[0], fr[1], fr[2], fr[3], fr[4], tr.score[T - 1]);
        if (v >= 2)
            for (int i = 0; i < 5; i++) CHECK_NEAR(fr[i], want[i], 0, v >= 4 ? 0.03 : 0.05);
        CHECK(tr.score[T - 1] < best_single / 3.0);
        gm_mix_trace_free(&tr);
    }
    for (int i = 0; i < 5; i++) free(terms[i]);
    gm_mix_ref_free(ref);
    for (int i = 0; i < 5; i++) free(pool[i]);
    free(Y);
}

GM_TEST(test_fmnist_rke) {
    if (!load_fmnist()) return;
    /* RKE offline with 500 per arm: spec values (approximate) RKE(mix) ~ 43.5, alpha ~ (0.17, 0.31, 0,
     * 0.52, 0); single arms A 16.6, B 24.5, C 13.4, D 27.3, E 9.0 */
    const int *cls[5] = {CA, CB, CC, CD, CE};
    int ncls[5] = {3, 3, 2, 2, 1};
    float *pool[5];
    size_t pn[5];
    for (int i = 0; i < 5; i++) pool[i] = make_pool(cls[i], ncls[i], 500 / (size_t)ncls[i], &pn[i]);
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

GM_TEST(test_fmnist_cleanup) {
    gm_tensor_free(&g_imgs);
    gm_free(g_lab);
    g_img = NULL;
    g_lab = NULL;
}

GM_TEST_MAIN({"fmnist_kid", test_fmnist_kid}, {"fmnist_rke", test_fmnist_rke}, {"fmnist_cleanup", test_fmnist_cleanup})
