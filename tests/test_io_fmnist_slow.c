/* SPDX-License-Identifier: MIT */
/* test_io_fmnist_slow.c — Fashion-MNIST's 60000-image train split (Debian dataset-fashion-mnist) against
 * figures computed independently with Python gzip + NumPy. Labelled slow: 188 MB of floats. */
#include "gm_test.h"
#include "genmix/io.h"
#include <sys/stat.h>

GM_TEST(test_fashion_mnist_train_split) {
    gm_tensor x;
    uint8_t *y;
    size_t n;
    struct stat st;
    if (stat(GM_FASHION_MNIST_DIR, &st) != 0) GM_SKIP("Fashion-MNIST absent from " GM_FASHION_MNIST_DIR);
    CHECK_OK(gm_fashion_mnist_load(NULL, 1, &x, &y, &n));
    if (!x.data) return;
    CHECK_INT_EQ(n, 60000);
    CHECK(x.ndim == 2 && x.shape[0] == 60000 && x.shape[1] == 784);
    size_t hist[10] = {0};
    for (size_t i = 0; i < n; i++) hist[y[i]]++;
    for (int c = 0; c < 10; c++) CHECK_INT_EQ(hist[c], 6000);
    static const uint8_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    CHECK(memcmp(y, first, 10) == 0);
    long long sum = 0, wsum = 0;
    double fsum = 0.0;
    for (size_t i = 0; i < n * 784; i++) {
        long long p = lrintf(x.data[i] * 255.0f);
        sum += p;
        wsum += p * (long long)(i % 1009);
        fsum += (double)x.data[i];
    }
    CHECK_INT_EQ(sum, 3431114169LL);
    CHECK_INT_EQ(wsum, 1729192650007LL);
    CHECK_NEAR(fsum, 13455349.927203527, 1e-10, 0);
    CHECK(x.data[404] == 237.0f / 255.0f);
    gm_tensor_free(&x);
    gm_free(y);
}

GM_TEST_MAIN({"fashion_mnist_train_split", test_fashion_mnist_train_split})
