/* SPDX-License-Identifier: MIT */
/* test_io_idx.c — IDX parser (all element types, raw and gzip, concatenated gzip members), malformed IDX
 * and gzip input, and Fashion-MNIST's test split from /usr/share/datasets/fashion-mnist against figures
 * computed independently with Python gzip + NumPy (see docs/io.md). The 60000-image train split is
 * checked in test_io_fmnist_slow.c. */
#include "gm_test.h"
#include "genmix/io.h"

#include <zlib.h>

/* Big-endian IDX of the given type code, dims and element bytes (already big-endian). */
static size_t make_idx(uint8_t *buf, int type, int ndim, const uint32_t *dims, const void *data, size_t nbytes) {
    buf[0] = buf[1] = 0;
    buf[2] = (uint8_t)type;
    buf[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++) buf[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    memcpy(buf + 4 + 4 * ndim, data, nbytes);
    return 4 + 4 * (size_t)ndim + nbytes;
}

static size_t gzip_buf(uint8_t *out, size_t cap, const uint8_t *in, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) abort();
    size_t m = cap - zs.avail_out;
    deflateEnd(&zs);
    return m;
}

GM_TEST(test_types) {
    uint8_t buf[512], gz[1024];
    gm_array a;
    /* f32 2x3: big-endian bytes of 1.5f * i */
    uint8_t be[24];
    for (int i = 0; i < 6; i++) {
        float f = 1.5f * (float)i - 2.0f;
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++) be[4 * i + k] = (uint8_t)(u >> (24 - 8 * k));
    }
    size_t n = make_idx(buf, 0x0D, 2, (uint32_t[]){2, 3}, be, 24);
    CHECK_OK(gm_idx_parse(buf, n, "f.idx", &a));
    CHECK(a.dtype == GM_DTYPE_F32 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    for (int i = 0; i < 6; i++) CHECK(((float *)a.data)[i] == 1.5f * (float)i - 2.0f);
    gm_array_free(&a);
    /* the same through gzip, and as two concatenated gzip members split mid-header */
    size_t g = gzip_buf(gz, sizeof gz, buf, n);
    CHECK_OK(gm_idx_parse(gz, g, "f.idx.gz", &a));
    CHECK(a.dtype == GM_DTYPE_F32 && ((float *)a.data)[5] == 5.5f);
    gm_array_free(&a);
    size_t g1 = gzip_buf(gz, sizeof gz, buf, 7);
    size_t g2 = gzip_buf(gz + g1, sizeof gz - g1, buf + 7, n - 7);
    CHECK_OK(gm_idx_parse(gz, g1 + g2, "two.gz", &a));
    CHECK(a.ndim == 2 && ((float *)a.data)[4] == 4.0f);
    gm_array_free(&a);
    /* i16, i32, f64, i8, u8 */
    uint8_t i16[4] = {0xff, 0xfe, 0x01, 0x02}; /* -2, 258 */
    n = make_idx(buf, 0x0B, 1, (uint32_t[]){2}, i16, 4);
    CHECK_OK(gm_idx_parse(buf, n, "s.idx", &a));
    CHECK(a.dtype == GM_DTYPE_I16 && ((int16_t *)a.data)[0] == -2 && ((int16_t *)a.data)[1] == 258);
    gm_array_free(&a);
    uint8_t i32[4] = {0x80, 0, 0, 1};
    n = make_idx(buf, 0x0C, 3, (uint32_t[]){1, 1, 1}, i32, 4);
    CHECK_OK(gm_idx_parse(buf, n, "i.idx", &a));
    CHECK(a.dtype == GM_DTYPE_I32 && a.ndim == 3 && ((int32_t *)a.data)[0] == INT32_MIN + 1);
    gm_array_free(&a);
    uint8_t f64[8] = {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
    n = make_idx(buf, 0x0E, 1, (uint32_t[]){1}, f64, 8);
    CHECK_OK(gm_idx_parse(buf, n, "d.idx", &a));
    CHECK(a.dtype == GM_DTYPE_F64 && ((double *)a.data)[0] == 3.141592653589793);
    gm_array_free(&a);
    uint8_t i8[3] = {0xff, 0x7f, 0x80};
    n = make_idx(buf, 0x09, 1, (uint32_t[]){3}, i8, 3);
    CHECK_OK(gm_idx_parse(buf, n, "b.idx", &a));
    CHECK(a.dtype == GM_DTYPE_I8 && ((int8_t *)a.data)[0] == -1 && ((int8_t *)a.data)[2] == -128);
    gm_array_free(&a);
    n = make_idx(buf, 0x08, 2, (uint32_t[]){0, 5}, i8, 0);
    CHECK_OK(gm_idx_parse(buf, n, "e.idx", &a));
    CHECK(a.dtype == GM_DTYPE_U8 && a.shape[0] == 0 && a.nbytes == 0);
    gm_array_free(&a);
}

static int msg_has(const char *label, const char *what) {
    const char *m = gm_last_error();
    int ok = strstr(m, label) && strstr(m, what) && !strchr(m, '\n');
    if (!ok) fprintf(stderr, "  message '%s' lacks '%s' or '%s'\n", m, label, what);
    return ok;
}

GM_TEST(test_bad) {
    uint8_t buf[512], gz[1024], data[64] = {0};
    gm_array a;
    size_t n = make_idx(buf, 0x08, 2, (uint32_t[]){3, 4}, data, 12);
    CHECK_OK(gm_idx_parse(buf, n, "x.idx", &a));
    gm_array_free(&a);
    CHECK_RC(gm_idx_parse(buf, n - 1, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "truncated"));
    buf[n] = 0;
    CHECK_RC(gm_idx_parse(buf, n + 1, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "unexpected bytes"));
    CHECK_RC(gm_idx_parse(buf, 9, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "truncated IDX header"));
    CHECK_RC(gm_idx_parse(buf, 0, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "bad magic"));
    buf[0] = 1;
    CHECK_RC(gm_idx_parse(buf, n, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "bad magic"));
    buf[0] = 0;
    buf[2] = 0x0A;
    CHECK_RC(gm_idx_parse(buf, n, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "element type 0x0a"));
    buf[2] = 0x08;
    buf[3] = 0;
    CHECK_RC(gm_idx_parse(buf, n, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "rank 0"));
    buf[3] = 9;
    CHECK_RC(gm_idx_parse(buf, n, "x.idx", &a), GM_EFORMAT);
    CHECK(msg_has("x.idx", "rank 9"));
    /* dims whose product overflows int64: 2^32-1 cubed times 8 bytes */
    n = make_idx(buf, 0x0E, 3, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu}, data, 0);
    CHECK_RC(gm_idx_parse(buf, n, "o.idx", &a), GM_EFORMAT);
    CHECK(msg_has("o.idx", "overflows"));
    n = make_idx(buf, 0x0D, 2, (uint32_t[]){0xffffffffu, 0xffffu}, data, 8);
    CHECK_RC(gm_idx_parse(buf, n, "o.idx", &a), GM_EFORMAT);
    CHECK(msg_has("o.idx", "truncated"));
    /* corrupt gzip: every truncation, a flipped payload byte, a bad CRC, trailing garbage */
    uint8_t big[400];
    n = make_idx(big, 0x08, 1, (uint32_t[]){384}, big, 0);
    for (int i = 0; i < 384; i++) big[n + (size_t)i] = (uint8_t)((i * i) % 251);
    n += 384;
    size_t g = gzip_buf(gz, sizeof gz, big, n);
    CHECK_OK(gm_idx_parse(gz, g, "z.gz", &a));
    gm_array_free(&a);
    for (size_t cut = 2; cut < g; cut++) {
        int rc = gm_idx_parse(gz, cut, "z.gz", &a);
        CHECK_INT_EQ(rc, GM_EFORMAT);
        if (rc == GM_OK) gm_array_free(&a);
        else CHECK(strstr(gm_last_error(), "z.gz") != NULL);
    }
    gz[g - 6] ^= 0x55; /* CRC32 */
    CHECK_RC(gm_idx_parse(gz, g, "z.gz", &a), GM_EFORMAT);
    CHECK(msg_has("z.gz", "corrupt gzip"));
    gz[g - 6] ^= 0x55;
    gz[g / 2] ^= 0xff;
    CHECK_RC(gm_idx_parse(gz, g, "z.gz", &a), GM_EFORMAT);
    CHECK(msg_has("z.gz", "gzip"));
    gz[g / 2] ^= 0xff;
    gz[g] = 'x';
    CHECK_RC(gm_idx_parse(gz, g + 1, "z.gz", &a), GM_EFORMAT);
    CHECK(msg_has("z.gz", "trailing garbage"));
    /* N-th allocation failure */
    int k, ok = 0;
    for (k = 1; k < 50 && !ok; k++) {
        gm_alloc_fail_nth(k, 0);
        int rc = gm_idx_parse(gz, g, "z.gz", &a);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) ok = 1, gm_array_free(&a);
        else CHECK_INT_EQ(rc, GM_ENOMEM);
    }
    CHECK(ok && k > 2);
    CHECK_RC(gm_idx_read("/nonexistent/t.idx", &a), GM_EIO);
    CHECK(msg_has("/nonexistent/t.idx", "cannot open"));
}

GM_TEST(test_fashion_mnist_test_split) {
    gm_tensor x;
    uint8_t *y;
    size_t n;
    CHECK_OK(gm_fashion_mnist_load(NULL, 0, &x, &y, &n));
    if (!x.data) return;
    CHECK_INT_EQ(n, 10000);
    CHECK(x.ndim == 2 && x.shape[0] == 10000 && x.shape[1] == 784);
    size_t hist[10] = {0};
    for (size_t i = 0; i < n; i++) hist[y[i]]++;
    for (int c = 0; c < 10; c++) CHECK_INT_EQ(hist[c], 1000);
    static const uint8_t first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    CHECK(memcmp(y, first, 10) == 0);
    /* checksums from Python: pixel sum, index-weighted sum (weights (flat index) % 1009), float sum */
    long long sum = 0, wsum = 0;
    double fsum = 0.0, lo = 1.0, hi = 0.0;
    for (size_t i = 0; i < n * 784; i++) {
        long long p = lrintf(x.data[i] * 255.0f);
        sum += p;
        wsum += p * (long long)(i % 1009);
        fsum += (double)x.data[i];
        if ((double)x.data[i] < lo) lo = (double)x.data[i];
        if ((double)x.data[i] > hi) hi = (double)x.data[i];
    }
    CHECK_INT_EQ(sum, 573469082LL);
    CHECK_INT_EQ(wsum, 289573900493LL);
    CHECK_NEAR(fsum, 2248898.4019832574, 1e-10, 0);
    CHECK(lo == 0.0 && hi == 1.0);
    CHECK(x.data[404] == 98.0f / 255.0f && x.data[403] == 0.0f);
    CHECK(!strcmp(gm_fashion_mnist_classes[0], "T-shirt/top") && !strcmp(gm_fashion_mnist_classes[9], "Ankle boot"));
    gm_tensor_free(&x);
    gm_free(y);
    CHECK_RC(gm_fashion_mnist_load("/nonexistent", 1, &x, &y, &n), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/train-images-idx3-ubyte") != NULL && x.data == NULL && y == NULL);
}

GM_TEST_MAIN({"types", test_types}, {"bad", test_bad}, {"fashion_mnist_test_split", test_fashion_mnist_test_split})
