/* test_eval_perclass.c — gm_vendi_per_class: known answers (a class of m orthogonal rows has cosine Vendi m,
 * a class of identical rows has Vendi 1), label order and counts, the mean over classes, agreement with
 * gm_vendi on the extracted rows (f32 and f64), empty input, and an allocation-failure sweep. */
#include <stdint.h>

#include "genmix/eval.h"
#include "gm_test.h"

GM_TEST(test_known_answers) {
    /* d = 4; label 7: e1, e2, e3 (orthogonal, Vendi 3); label -2: three copies of (1,1,0,0) (Vendi 1);
     * label 3: e1, e4 (Vendi 2). Rows interleaved. */
    const size_t n = 8, d = 4;
    double X[8 * 4] = {0};
    int64_t lab[8] = {7, -2, 3, 7, -2, 7, 3, -2};
    int e7 = 0, e3[2] = {0, 3}, k3 = 0;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] == 7) X[i * d + e7++] = 2.0;
        else if (lab[i] == -2) X[i * d] = X[i * d + 1] = 1.0;
        else X[i * d + e3[k3++]] = 0.5;
    }
    gm_feats f = gm_feats_f64(X, n, d);
    gm_kernel k = {GM_KERNEL_COSINE, 0, 0, 0, 0};
    gm_vendi_classes r;
    CHECK_OK(gm_vendi_per_class(&f, lab, &k, 1.0, &r));
    CHECK_INT_EQ(r.n_classes, 3);
    int64_t want_lab[3] = {-2, 3, 7};
    size_t want_n[3] = {3, 2, 3};
    double want_v[3] = {1.0, 2.0, 3.0};
    for (int c = 0; c < 3; c++) {
        CHECK_INT_EQ(r.labels[c], want_lab[c]);
        CHECK_INT_EQ(r.counts[c], want_n[c]);
        CHECK_NEAR(r.values[c], want_v[c], 1e-9, 1e-9);
    }
    CHECK_NEAR(r.mean, 2.0, 1e-9, 0);
    gm_vendi_per_class_free(&r);
    CHECK(r.labels == NULL && r.n_classes == 0);
    gm_vendi_per_class_free(NULL);
}

/* each class's value equals gm_vendi on its rows extracted by hand; f32 input, RBF kernel, q = 2 */
GM_TEST(test_matches_vendi) {
    const size_t n = 60, d = 5;
    float X[60 * 5];
    int64_t lab[60];
    uint64_t s = 12345;
    for (size_t i = 0; i < n * d; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        X[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    for (size_t i = 0; i < n; i++) lab[i] = (int64_t)((i * 7) % 4);
    gm_feats f = gm_feats_f32(X, n, d);
    gm_kernel k = gm_kernel_rbf_sigma(0.7);
    gm_vendi_classes r;
    CHECK_OK(gm_vendi_per_class(&f, lab, &k, 2.0, &r));
    CHECK_INT_EQ(r.n_classes, 4);
    double sum = 0;
    for (size_t c = 0; c < r.n_classes; c++) {
        float sub[60 * 5];
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (lab[i] == r.labels[c]) memcpy(sub + m++ * d, X + i * d, d * sizeof(float));
        CHECK_INT_EQ(m, r.counts[c]);
        gm_feats g = gm_feats_f32(sub, m, d);
        double v;
        CHECK_OK(gm_vendi(&g, &k, 2.0, &v, NULL));
        CHECK(v == r.values[c]);
        sum += v;
    }
    CHECK(r.mean == sum / 4.0);
    gm_vendi_per_class_free(&r);
    /* allocation failures: every one is reported, nothing is left behind */
    int ok = 0;
    for (long kf = 1; kf < 2000 && !ok; kf++) {
        gm_alloc_fail_nth(kf, 0);
        int rc = gm_vendi_per_class(&f, lab, &k, 2.0, &r);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) ok = 1;
        else CHECK(rc == GM_ENOMEM && r.values == NULL);
        gm_vendi_per_class_free(&r);
    }
    CHECK(ok);
    gm_feats e = gm_feats_f32(X, 0, d);
    CHECK_RC(gm_vendi_per_class(&e, lab, &k, 1.0, &r), GM_EINVAL);
}

GM_TEST_MAIN({"known_answers", test_known_answers}, {"matches_vendi", test_matches_vendi})
