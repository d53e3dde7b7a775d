/* SPDX-License-Identifier: MIT */
/* test_io_npy.c — .npy reader/writer against NumPy 1.24 fixtures (tools/gen_io_fixtures.py), gm_array
 * conversions (f16/bf16 decoding), tensors, mmap. Values: fv(i) = (i % 17) * 0.25 - 1.5,
 * uv(i) = (i * 7) % 251, sv(i) = (i * 37) % 201 - 100 over the C-order flat index i. */
#include "gm_test.h"
#include "genmix/io.h"

#include <unistd.h>

#define G "tests/golden/io/"

static double fv(size_t i) { return (double)(i % 17) * 0.25 - 1.5; }
static double uv(size_t i) { return (double)((i * 7) % 251); }
static double sv(size_t i) { return (double)((long)((i * 37) % 201) - 100); }

static char tmpdir[64];
static void remove_tmpdir(void) { rmdir(tmpdir); }
static const char *tmp_path(const char *name) {
    static char buf[256];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/gm_npy_XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
        atexit(remove_tmpdir); /* cleanup is not a test case */
    }
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static int files_equal(const char *a, const char *b) {
    void *x, *y;
    size_t nx, ny;
    if (gm_read_file(a, &x, &nx) || gm_read_file(b, &y, &ny)) return 0;
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    gm_free(x);
    gm_free(y);
    return eq;
}

/* Read `file`, check dtype/shape, compare the f64-converted values with f(i). */
static void check_fixture(const char *file, gm_dtype dt, int ndim, const int64_t *shape, double (*f)(size_t)) {
    gm_array a;
    CHECK_OK(gm_npy_read(file, &a));
    CHECK_INT_EQ(a.dtype, dt);
    CHECK_INT_EQ(a.ndim, ndim);
    for (int i = 0; i < ndim && i < a.ndim; i++) CHECK_INT_EQ(a.shape[i], shape[i]);
    size_t n = gm_array_numel(&a);
    CHECK_INT_EQ(a.nbytes, n * gm_dtype_size(dt));
    CHECK_OK(gm_array_convert(&a, GM_DTYPE_F64));
    const double *d = a.data;
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += d[i] != f(i);
    if (bad) fprintf(stderr, "  %s: %d values differ\n", file, bad);
    CHECK_INT_EQ(bad, 0);
    gm_array_free(&a);
}

static double booly(size_t i) { return i % 3 == 0; }
static double scalar_i8(size_t i) { (void)i; return -123456789012.0; }

GM_TEST(test_read_fixtures) {
    check_fixture(G "f4_3x4.npy", GM_DTYPE_F32, 2, (int64_t[]){3, 4}, fv);
    check_fixture(G "f8_5.npy", GM_DTYPE_F64, 1, (int64_t[]){5}, fv);
    check_fixture(G "i8_scalar.npy", GM_DTYPE_I64, 0, NULL, scalar_i8);
    check_fixture(G "u1_2x3.npy", GM_DTYPE_U8, 2, (int64_t[]){2, 3}, uv);
    check_fixture(G "i4_0x3.npy", GM_DTYPE_I32, 2, (int64_t[]){0, 3}, fv);
    check_fixture(G "i1_7.npy", GM_DTYPE_I8, 1, (int64_t[]){7}, sv);
    check_fixture(G "i2_2x2.npy", GM_DTYPE_I16, 2, (int64_t[]){2, 2}, sv);
    check_fixture(G "u2_3.npy", GM_DTYPE_U16, 1, (int64_t[]){3}, uv);
    check_fixture(G "u4_3.npy", GM_DTYPE_U32, 1, (int64_t[]){3}, uv);
    check_fixture(G "u8_3.npy", GM_DTYPE_U64, 1, (int64_t[]){3}, uv);
    check_fixture(G "b1_4.npy", GM_DTYPE_BOOL, 1, (int64_t[]){4}, booly);
    check_fixture(G "f2_2x3.npy", GM_DTYPE_F16, 2, (int64_t[]){2, 3}, fv);
    check_fixture(G "f4_2x3x4x5.npy", GM_DTYPE_F32, 4, (int64_t[]){2, 3, 4, 5}, fv);
    check_fixture(G "f4_long_dim.npy", GM_DTYPE_F32, 2, (int64_t[]){12345678901LL, 0}, fv);
}

GM_TEST(test_read_bigendian_fortran_versions) {
    check_fixture(G "f4be_2x3.npy", GM_DTYPE_F32, 2, (int64_t[]){2, 3}, fv);
    check_fixture(G "f8be_4.npy", GM_DTYPE_F64, 1, (int64_t[]){4}, fv);
    check_fixture(G "i8be_3.npy", GM_DTYPE_I64, 1, (int64_t[]){3}, sv);
    check_fixture(G "f2be_3.npy", GM_DTYPE_F16, 1, (int64_t[]){3}, fv);
    /* Fortran order is transposed into C order: values equal the C-order closed form */
    check_fixture(G "f4_fortran_3x4.npy", GM_DTYPE_F32, 2, (int64_t[]){3, 4}, fv);
    check_fixture(G "i4_fortran_2x3x4.npy", GM_DTYPE_I32, 3, (int64_t[]){2, 3, 4}, sv);
    check_fixture(G "f4_v2_3x4.npy", GM_DTYPE_F32, 2, (int64_t[]){3, 4}, fv);
    check_fixture(G "f4_v3_3x4.npy", GM_DTYPE_F32, 2, (int64_t[]){3, 4}, fv);
    check_fixture(G "f8_align16_2x3.npy", GM_DTYPE_F64, 2, (int64_t[]){2, 3}, fv);
}

/* genmix writes the same bytes as numpy.save for every fixture written by np.save in C order */
GM_TEST(test_write_byte_identical) {
    static const char *files[] = {"f4_3x4.npy", "f8_5.npy",   "i8_scalar.npy", "u1_2x3.npy", "i4_0x3.npy",
                                  "i1_7.npy",   "i2_2x2.npy", "u2_3.npy",      "u4_3.npy",   "u8_3.npy",
                                  "b1_4.npy",   "f2_2x3.npy", "f4_2x3x4x5.npy", "f4_long_dim.npy"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char src[256];
        snprintf(src, sizeof src, G "%s", files[k]);
        gm_array a;
        CHECK_OK(gm_npy_read(src, &a));
        const char *dst = tmp_path(files[k]);
        CHECK_OK(gm_npy_write(dst, a.dtype, a.ndim, a.shape, a.data));
        int eq = files_equal(src, dst);
        if (!eq) fprintf(stderr, "  %s differs from numpy.save output\n", files[k]);
        CHECK(eq);
        unlink(dst);
        gm_array_free(&a);
    }
}

GM_TEST(test_header_layout) {
    /* the documented NumPy 1.24 layout: HEADER_LEN 118, data at 128 */
    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(G "f4_3x4.npy", &buf, &len));
    const unsigned char *p = buf;
    CHECK(len == 128 + 48);
    CHECK(p[8] == 118 && p[9] == 0 && p[127] == '\n');
    CHECK(memcmp(p + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 59) == 0);
    gm_free(buf);
}

GM_TEST(test_mmap) {
    gm_array a;
    CHECK_OK(gm_npy_mmap(G "f4_3x4.npy", &a));
    CHECK(a.map_ != NULL && a.alloc_ == NULL);
    CHECK(a.dtype == GM_DTYPE_F32 && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 4);
    const float *x = a.data;
    for (size_t i = 0; i < 12; i++) CHECK(x[i] == (float)fv(i));
    /* to_tensor copies the mapping into owned memory */
    gm_tensor t;
    CHECK_OK(gm_array_to_tensor(&a, &t));
    CHECK(a.data == NULL && a.map_ == NULL);
    CHECK(t.owned && t.ndim == 2 && t.shape[0] == 3 && t.shape[1] == 4 && t.shape[2] == 1);
    CHECK(t.data[11] == (float)fv(11));
    gm_tensor_free(&t);
    /* big-endian and Fortran files fall back to a converted heap read */
    CHECK_OK(gm_npy_mmap(G "f4be_2x3.npy", &a));
    CHECK(a.map_ == NULL && a.alloc_ != NULL && ((float *)a.data)[5] == (float)fv(5));
    gm_array_free(&a);
    CHECK_OK(gm_npy_mmap(G "f4_fortran_3x4.npy", &a));
    CHECK(a.map_ == NULL && ((float *)a.data)[1] == (float)fv(1));
    gm_array_free(&a);
    CHECK_OK(gm_npy_mmap(G "f8_align16_2x3.npy", &a));
    CHECK(a.map_ != NULL && ((double *)a.data)[5] == fv(5));
    gm_array_free(&a);
}

GM_TEST(test_half_bf16_decode) {
    uint16_t h[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x7e00};
    float want[] = {1.0f, -2.0f, 0x1p-24f, 0x1.ff8p-15f, 0x1p-14f, 65504.0f, INFINITY, -INFINITY, -0.0f,
                    0x1.554p-2f};
    gm_array a;
    memset(&a, 0, sizeof a);
    a.dtype = GM_DTYPE_F16;
    a.ndim = 1;
    a.shape[0] = 11;
    a.data = h; /* a borrowed view: convert copies */
    a.nbytes = sizeof h;
    CHECK_OK(gm_array_convert(&a, GM_DTYPE_F32));
    CHECK(a.alloc_ != NULL && a.data != h && h[0] == 0x3c00);
    const float *f = a.data;
    for (int i = 0; i < 10; i++) CHECK(f[i] == want[i] && signbit(f[i]) == signbit(want[i]));
    CHECK(isnan(f[10]));
    gm_array_free(&a);

    uint16_t b[] = {0x3f80, 0xc000, 0x4049, 0x7f80, 0x0001};
    memset(&a, 0, sizeof a);
    a.dtype = GM_DTYPE_BF16;
    a.ndim = 1;
    a.shape[0] = 5;
    a.data = b;
    a.nbytes = sizeof b;
    CHECK_OK(gm_array_convert(&a, GM_DTYPE_F64));
    const double *d = a.data;
    CHECK(d[0] == 1.0 && d[1] == -2.0 && d[2] == 3.140625 && isinf(d[3]) && d[4] == 0x1p-133);
    gm_array_free(&a);
    CHECK_RC(gm_array_convert(&a, GM_DTYPE_I32), GM_EINVAL);
}

GM_TEST(test_dtype_table) {
    CHECK(gm_dtype_size(GM_DTYPE_BOOL) == 1 && gm_dtype_size(GM_DTYPE_BF16) == 2 && gm_dtype_size(GM_DTYPE_U32) == 4 &&
          gm_dtype_size(GM_DTYPE_F64) == 8 && gm_dtype_size(GM_DTYPE_I64) == 8);
    CHECK(!strcmp(gm_dtype_name(GM_DTYPE_F32), "F32") && !strcmp(gm_dtype_name(GM_DTYPE_BF16), "BF16") &&
          !strcmp(gm_dtype_name(GM_DTYPE_BOOL), "BOOL") && !strcmp(gm_dtype_name(GM_DTYPE_U64), "U64"));
}

GM_TEST(test_tensor_roundtrip_and_finite) {
    gm_tensor t, r;
    int64_t shape[3] = {2, 3, 5};
    CHECK_OK(gm_tensor_alloc(&t, 3, shape));
    for (size_t i = 0; i < 30; i++) t.data[i] = (float)fv(i) * 3.0f;
    const char *p = tmp_path("t.npy");
    CHECK_OK(gm_npy_write_f32(p, &t));
    CHECK_OK(gm_npy_read_f32(p, &r));
    CHECK(r.ndim == 3 && r.shape[0] == 2 && r.shape[1] == 3 && r.shape[2] == 5 && r.shape[3] == 1);
    CHECK(memcmp(r.data, t.data, 30 * sizeof(float)) == 0);
    gm_tensor_free(&r);
    /* an integer file becomes a float tensor */
    CHECK_OK(gm_npy_read_f32(G "u1_2x3.npy", &r));
    CHECK(r.ndim == 2 && r.data[5] == (float)uv(5));
    gm_tensor_free(&r);
    /* rank > 4 is refused */
    int64_t s5[5] = {1, 2, 1, 1, 2};
    CHECK_OK(gm_npy_write(p, GM_DTYPE_F32, 5, s5, t.data));
    CHECK_RC(gm_npy_read_f32(p, &r), GM_ESHAPE);
    CHECK(strstr(gm_last_error(), p) != NULL);
    /* NaN/Inf detection names the row */
    gm_array a;
    t.data[17] = NAN;
    CHECK_OK(gm_npy_write_f32(p, &t));
    CHECK_OK(gm_npy_read(p, &a));
    CHECK_RC(gm_array_check_finite(&a, "feats.npy"), GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "feats.npy") && strstr(gm_last_error(), "row 1") && strstr(gm_last_error(), "NaN"));
    gm_array_free(&a);
    t.data[17] = 0.0f;
    CHECK_OK(gm_npy_write_f32(p, &t));
    CHECK_OK(gm_npy_read(p, &a));
    CHECK_OK(gm_array_check_finite(&a, "feats.npy"));
    gm_array_free(&a);
    unlink(p);
    gm_tensor_free(&t);
    /* writer argument checks */
    int64_t neg[1] = {-1};
    CHECK_RC(gm_npy_write(p, GM_DTYPE_F32, 1, neg, NULL), GM_EINVAL);
    CHECK_RC(gm_npy_write(p, GM_DTYPE_BF16, 0, NULL, "ab"), GM_EINVAL);
    CHECK(access(p, F_OK) != 0);
}

GM_TEST(test_parse_from_memory) {
    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(G "i4_fortran_2x3x4.npy", &buf, &len));
    gm_array a;
    CHECK_OK(gm_npy_parse(buf, len, "mem", &a));
    CHECK(a.dtype == GM_DTYPE_I32 && a.ndim == 3);
    const int32_t *x = a.data;
    for (size_t i = 0; i < 24; i++) CHECK(x[i] == (int32_t)sv(i));
    gm_array_free(&a);
    gm_free(buf);
}

GM_TEST(test_summary) {
    float x[6] = {1.0f, NAN, 3.0f, INFINITY, -INFINITY, 5.0f};
    gm_array a;
    memset(&a, 0, sizeof a);
    a.dtype = GM_DTYPE_F32;
    a.ndim = 2;
    a.shape[0] = 2;
    a.shape[1] = 3;
    a.data = x;
    gm_array_stats s;
    gm_array_summary(&a, &s);
    CHECK(s.count == 6 && s.n_nan == 1 && s.n_inf == 2);
    CHECK(s.min == 1.0 && s.max == 5.0 && s.mean == 3.0);
    CHECK_NEAR(s.std, sqrt(8.0 / 3.0), 1e-15, 0);
    int32_t k[4] = {-2, 0, 0, 2};
    a.dtype = GM_DTYPE_I32;
    a.ndim = 1;
    a.shape[0] = 4;
    a.data = k;
    gm_array_summary(&a, &s);
    CHECK(s.n_nan == 0 && s.min == -2.0 && s.max == 2.0 && s.mean == 0.0 && s.std == sqrt(2.0));
    a.shape[0] = 0;
    gm_array_summary(&a, &s);
    CHECK(s.count == 0 && isnan(s.mean));
}


GM_TEST_MAIN({"read_fixtures", test_read_fixtures}, {"read_bigendian_fortran_versions", test_read_bigendian_fortran_versions},
             {"write_byte_identical", test_write_byte_identical}, {"header_layout", test_header_layout},
             {"mmap", test_mmap}, {"half_bf16_decode", test_half_bf16_decode}, {"dtype_table", test_dtype_table},
             {"tensor_roundtrip_and_finite", test_tensor_roundtrip_and_finite},
             {"parse_from_memory", test_parse_from_memory}, {"summary", test_summary})
