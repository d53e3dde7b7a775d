/* SPDX-License-Identifier: MIT */
/* test_eval_zip64.c — the .npz reader on ZIP64 archives written by NumPy (tools/gen_eval_zip64.py: zipfile
 * limits lowered so small files carry the ZIP64 records NumPy writes past 4 GiB), stored and deflated, and
 * corrupt ZIP64 records. (FD statistics files are .npz, so genmix eval reads them through this path.) */
#include <stdio.h>
#include <string.h>

#include "gm_test.h"
#include "genmix/io.h"

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void check_members(const char *path) {
    gm_array mu, sg, n;
    CHECK_OK(gm_npz_read(path, "mu", &mu));
    CHECK_OK(gm_npz_read(path, "sigma", &sg));
    CHECK_OK(gm_npz_read(path, "n", &n));
    CHECK(mu.dtype == GM_DTYPE_F64 && mu.ndim == 1 && mu.shape[0] == 5);
    CHECK(sg.dtype == GM_DTYPE_F64 && sg.ndim == 2 && sg.shape[0] == 5 && sg.shape[1] == 5);
    CHECK(n.dtype == GM_DTYPE_I64 && n.ndim == 0 && *(const int64_t *)n.data == 12345);
    const double *m = mu.data, *s = sg.data;
    for (int i = 0; i < 5; i++) CHECK(m[i] == 0.5 * i - 1.0);
    /* sigma = A A^T + I with A[i][j] = (5i + j)/10 */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            double v = i == j ? 1.0 : 0.0;
            for (int t = 0; t < 5; t++) v += ((5 * i + t) / 10.0) * ((5 * j + t) / 10.0);
            CHECK_NEAR(s[i * 5 + j], v, 1e-15, 1e-15);
        }
    char **names;
    size_t cnt;
    CHECK_OK(gm_npz_list(path, &names, &cnt));
    CHECK_INT_EQ(cnt, 3);
    for (size_t i = 0; i < cnt; i++) free(names[i]);
    free(names);
    gm_array_free(&mu);
    gm_array_free(&sg);
    gm_array_free(&n);
}

GM_TEST(test_zip64_numpy) {
    check_members("tests/golden/eval_zip64.npz");
    check_members("tests/golden/eval_zip64_defl.npz");
}

/* Offset of the last occurrence of a 4-byte signature. */
static size_t find_sig(const unsigned char *b, size_t len, uint32_t sig) {
    for (size_t i = len - 4 + 1; i-- > 0;)
        if (((uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24) == sig)
            return i;
    return (size_t)-1;
}

GM_TEST(test_zip64_corrupt) {
    size_t len;
    unsigned char *b = slurp("tests/golden/eval_zip64.npz", &len);
    CHECK(b != NULL);
    if (!b) return;
    gm_array a;
    CHECK_OK(gm_npz_parse(b, len, "z", "sigma", &a));
    gm_array_free(&a);
    size_t e64 = find_sig(b, len, 0x06064b50u);
    CHECK(e64 != (size_t)-1);
    b[e64] ^= 0xff; /* ZIP64 end record signature broken */
    CHECK_RC(gm_npz_parse(b, len, "z", "sigma", &a), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "ZIP64") != NULL);
    b[e64] ^= 0xff;
    /* the central directory's ZIP64 extra field renamed (id 0x0001 -> 0x0009): sizes cannot be known */
    size_t cd = find_sig(b, len, 0x02014b50u);
    CHECK(cd != (size_t)-1);
    size_t fn = (size_t)b[cd + 28] | (size_t)b[cd + 29] << 8;
    CHECK(b[cd + 46 + fn] == 1 && b[cd + 47 + fn] == 0);
    b[cd + 46 + fn] = 9;
    CHECK_RC(gm_npz_parse(b, len, "z", "n", &a), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "ZIP64 extra") != NULL);
    b[cd + 46 + fn] = 1;
    /* the ZIP64 record's central-directory offset pointed past the end */
    b[e64 + 48 + 7] = 0x7f;
    CHECK_RC(gm_npz_parse(b, len, "z", "n", &a), GM_EFORMAT);
    free(b);
}

GM_TEST_MAIN({"zip64_numpy", test_zip64_numpy}, {"zip64_corrupt", test_zip64_corrupt})
