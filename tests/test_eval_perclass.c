/* SPDX-License-Identifier: MIT */
/* test_eval_perclass.c — gm_vendi_per_class: known answers (a class of m orthogonal rows has cosine Vendi m,
 * a class of identical rows has Vendi 1), label order and counts, the mean over classes, agreement with
 * gm_vendi on the extracted rows (f32 and f64), empty input, and an allocation-failure sweep. */
#include <stdint.h>
#include <string.h>

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

/* FD / KID / k-NN per class equal the whole-set functions on each class's rows bit for bit; class order,
 * counts and means; a generated class without real rows is GM_EINVAL naming it; allocation failures. */
GM_TEST(test_two_set_per_class) {
    enum { NR = 90, NF = 75, D = 4 };
    double R[NR * D], F[NF * D];
    int64_t lr[NR], lf[NF];
    uint64_t s = 12345;
    for (size_t i = 0; i < NR * D; i++) R[i] = (double)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) * 0x1.0p-53;
    for (size_t i = 0; i < NF * D; i++) F[i] = (double)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) * 0x1.0p-52;
    for (size_t i = 0; i < NR; i++) lr[i] = (int64_t)(i % 3) * 5 - 2; /* -2, 3, 8 */
    for (size_t i = 0; i < NF; i++) lf[i] = (int64_t)((i * 7) % 3) * 5 - 2;
    gm_feats r = gm_feats_f64(R, NR, D), f = gm_feats_f64(F, NF, D);
    gm_class_metrics fd, kid, knn;
    gm_kid_config kc = gm_kid_config_default();
    kc.subsets = 5;
    gm_knn_config nc = gm_knn_config_default();
    CHECK_OK(gm_fd_per_class(&r, lr, &f, lf, GM_COV_UNBIASED, &fd));
    CHECK_OK(gm_kid_per_class(&r, lr, &f, lf, &kc, &kid));
    CHECK_OK(gm_knn_per_class(&r, lr, &f, lf, &nc, &knn));
    CHECK(fd.n_classes == 3 && fd.labels[0] == -2 && fd.labels[1] == 3 && fd.labels[2] == 8);
    CHECK(fd.n_real[0] == 30 && fd.n_fake[0] == 25 && kid.n_values == 2 && knn.n_values == 7);
    double sum = 0;
    for (size_t c = 0; c < 3; c++) {
        double sr[NR * D], sf[NF * D];
        size_t mr = 0, mf = 0;
        for (size_t i = 0; i < NR; i++)
            if (lr[i] == fd.labels[c]) memcpy(sr + mr++ * D, R + i * D, D * sizeof(double));
        for (size_t i = 0; i < NF; i++)
            if (lf[i] == fd.labels[c]) memcpy(sf + mf++ * D, F + i * D, D * sizeof(double));
        gm_feats a = gm_feats_f64(sr, mr, D), b = gm_feats_f64(sf, mf, D);
        gm_fd_result one;
        gm_kid_result k1;
        gm_knn_result n1;
        CHECK_OK(gm_fd(&a, &b, GM_COV_UNBIASED, &one));
        CHECK_OK(gm_kid(&a, &b, &kc, &k1, NULL));
        CHECK_OK(gm_knn(&a, &b, &nc, &n1));
        CHECK(fd.values[c] == one.fd && kid.values[2 * c] == k1.mean && kid.values[2 * c + 1] == k1.std);
        CHECK(knn.values[7 * c] == n1.precision && knn.values[7 * c + 6] == n1.coverage);
        gm_knn_result_free(&n1);
        sum += one.fd;
    }
    CHECK(fd.mean[0] == sum / 3);
    gm_class_metrics_free(&fd);
    gm_class_metrics_free(&kid);
    gm_class_metrics_free(&knn);
    gm_class_metrics_free(NULL);
    lf[0] = 42;
    CHECK_RC(gm_fd_per_class(&r, lr, &f, lf, GM_COV_UNBIASED, &fd), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "class 42 has generated rows but no real rows") != NULL);
    CHECK(fd.labels == NULL && fd.n_classes == 0);
    lf[0] = -2;
    CHECK_RC(gm_fd_per_class(&r, NULL, &f, lf, GM_COV_UNBIASED, &fd), GM_EINVAL);
    int saw_ok = 0;
    for (long k = 1; k <= 300 && !saw_ok; k++) { /* allocation failure sweep: ENOMEM, no leak, clean result */
        gm_alloc_fail_nth(k, 0);
        int rc = gm_fd_per_class(&r, lr, &f, lf, GM_COV_UNBIASED, &fd);
        gm_alloc_fail_nth(0, 0);
        CHECK(rc == GM_OK || (rc == GM_ENOMEM && fd.labels == NULL && fd.values == NULL));
        saw_ok = rc == GM_OK;
        gm_class_metrics_free(&fd);
    }
    CHECK(saw_ok);
}

GM_TEST_MAIN({"known_answers", test_known_answers}, {"matches_vendi", test_matches_vendi},
             {"two_set_per_class", test_two_set_per_class})
