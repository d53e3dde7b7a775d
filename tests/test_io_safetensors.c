/* SPDX-License-Identifier: MIT */
/* test_io_safetensors.c — safetensors reader/writer: byte-identical output against
 * tests/golden/io/model.safetensors (tools/gen_io_safetensors.py, a hand-written implementation of the
 * format) and against the reference crate's own serialization test vectors; reading, views, metadata,
 * copy_f32 errors naming the tensor; writer argument checks. */
#include "gm_test.h"
#include "genmix/io.h"

#include <unistd.h>

#define G "tests/golden/io/"

static float fvf(size_t i) { return (float)(i % 17) * 0.25f - 1.5f; }

static char tmpdir[64];
static void remove_tmpdir(void) { rmdir(tmpdir); }
static const char *tmp_path(const char *name) {
    static char buf[256];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/gm_st_XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
        atexit(remove_tmpdir); /* cleanup is not a test case */
    }
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static int file_is(const char *path, const void *bytes, size_t n) {
    void *x;
    size_t nx;
    if (gm_read_file(path, &x, &nx)) return 0;
    int eq = nx == n && memcmp(x, bytes, n) == 0;
    gm_free(x);
    return eq;
}

/* The tensors of model.safetensors. */
static float w[12], bias[4];
static int64_t step = 12000;
static uint8_t mask[5] = {1, 0, 1, 1, 0};
static uint16_t h16[2] = {0x3e00, 0xc000}; /* 1.5, -2.0 in binary16 */
static double d[4];
static uint16_t b16[3] = {0x3f80, 0xc000, 0x4049};
static int32_t i32[2] = {-7, 7};
static uint16_t u16[1] = {65535};

static void add_model(gm_st_writer *wr) {
    for (size_t i = 0; i < 12; i++) w[i] = fvf(i);
    for (size_t i = 0; i < 4; i++) bias[i] = fvf(i), d[i] = (double)fvf(i);
    /* deliberately not in file order: the writer sorts */
    CHECK_OK(gm_st_writer_add(wr, "w\xc3\xa9", GM_DTYPE_U16, 1, (int64_t[]){1}, u16));
    CHECK_OK(gm_st_writer_add(wr, "mask", GM_DTYPE_U8, 1, (int64_t[]){5}, mask));
    CHECK_OK(gm_st_writer_add(wr, "enc.fc1.weight", GM_DTYPE_F32, 2, (int64_t[]){3, 4}, w));
    CHECK_OK(gm_st_writer_add(wr, "step", GM_DTYPE_I64, 0, NULL, &step));
    CHECK_OK(gm_st_writer_add(wr, "h", GM_DTYPE_F16, 1, (int64_t[]){2}, h16));
    CHECK_OK(gm_st_writer_add(wr, "enc.fc1.bias", GM_DTYPE_F32, 1, (int64_t[]){4}, bias));
    CHECK_OK(gm_st_writer_add(wr, "d", GM_DTYPE_F64, 2, (int64_t[]){2, 2}, d));
    CHECK_OK(gm_st_writer_add(wr, "b", GM_DTYPE_BF16, 1, (int64_t[]){3}, b16));
    CHECK_OK(gm_st_writer_add(wr, "empty", GM_DTYPE_F32, 2, (int64_t[]){0, 3}, NULL));
    CHECK_OK(gm_st_writer_add(wr, "i32", GM_DTYPE_I32, 1, (int64_t[]){2}, i32));
    CHECK_OK(gm_st_writer_meta(wr, "step", "12000"));
    CHECK_OK(gm_st_writer_meta(wr, "format", "old"));
    CHECK_OK(gm_st_writer_meta(wr, "config", "{\"a\": 1}\n\ttab"));
    CHECK_OK(gm_st_writer_meta(wr, "format", "genmix")); /* replaces */
}

GM_TEST(test_write_byte_identical) {
    gm_st_writer *wr;
    CHECK_OK(gm_st_writer_create(&wr));
    add_model(wr);
    CHECK_RC(gm_st_writer_add(wr, "mask", GM_DTYPE_U8, 1, (int64_t[]){5}, mask), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "duplicate tensor name 'mask'") != NULL);
    CHECK_RC(gm_st_writer_add(wr, "__metadata__", GM_DTYPE_U8, 1, (int64_t[]){5}, mask), GM_EINVAL);
    CHECK_RC(gm_st_writer_add(wr, "bad\xff", GM_DTYPE_U8, 1, (int64_t[]){5}, mask), GM_EINVAL);
    CHECK_RC(gm_st_writer_add(wr, "neg", GM_DTYPE_U8, 1, (int64_t[]){-5}, mask), GM_EINVAL);
    const char *p = tmp_path("model.safetensors");
    CHECK_OK(gm_st_writer_write(wr, p));
    gm_st_writer_free(wr);
    void *ref;
    size_t nref;
    CHECK_OK(gm_read_file(G "model.safetensors", &ref, &nref));
    CHECK(file_is(p, ref, nref));
    gm_free(ref);
    unlink(p);
}

GM_TEST(test_read_fixture) {
    gm_safetensors *st;
    CHECK_OK(gm_safetensors_read(&st, G "model.safetensors"));
    if (!st) return;
    static const char *names[] = {"b", "d", "empty", "enc.fc1.bias", "enc.fc1.weight",
                                  "h", "i32", "mask", "step", "w\xc3\xa9"};
    CHECK_INT_EQ(gm_safetensors_count(st), 10);
    for (size_t i = 0; i < 10 && i < gm_safetensors_count(st); i++) CHECK(!strcmp(gm_safetensors_name(st, i), names[i]));
    CHECK(!strcmp(gm_safetensors_meta(st, "format"), "genmix"));
    CHECK(!strcmp(gm_safetensors_meta(st, "config"), "{\"a\": 1}\n\ttab"));
    CHECK(gm_safetensors_meta(st, "nope") == NULL);
    CHECK_INT_EQ(gm_safetensors_meta_count(st), 3);
    if (gm_safetensors_meta_count(st) == 3) /* file order: the writer sorts the keys */
        CHECK(!strcmp(gm_safetensors_meta_key(st, 0), "config") && !strcmp(gm_safetensors_meta_key(st, 2), "step"));

    float buf[12];
    CHECK_OK(gm_safetensors_copy_f32(st, "enc.fc1.weight", buf, 12));
    for (size_t i = 0; i < 12; i++) CHECK(buf[i] == fvf(i));
    CHECK_RC(gm_safetensors_copy_f32(st, "enc.fc1.weight", buf, 11), GM_ESHAPE);
    CHECK(strstr(gm_last_error(), "'enc.fc1.weight'") && strstr(gm_last_error(), "12 elements"));
    CHECK_RC(gm_safetensors_copy_f32(st, "d", buf, 4), GM_ESHAPE);
    CHECK(strstr(gm_last_error(), "'d'") && strstr(gm_last_error(), "F64"));
    CHECK_RC(gm_safetensors_copy_f32(st, "dec.fc1.weight", buf, 4), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "missing tensor 'dec.fc1.weight'") != NULL);
    CHECK_OK(gm_safetensors_copy_f32(st, "empty", NULL, 0));

    gm_array a;
    CHECK_OK(gm_safetensors_get(st, "step", &a));
    CHECK(a.dtype == GM_DTYPE_I64 && a.ndim == 0 && a.nbytes == 8 && a.alloc_ == NULL);
    int64_t s;
    memcpy(&s, a.data, 8);
    CHECK(s == 12000);
    gm_array_free(&a); /* no-op on a view */
    CHECK_OK(gm_safetensors_get(st, "h", &a));
    CHECK_OK(gm_array_convert(&a, GM_DTYPE_F32)); /* copies the view */
    CHECK(((float *)a.data)[0] == 1.5f && ((float *)a.data)[1] == -2.0f);
    gm_array_free(&a);
    CHECK_OK(gm_safetensors_get(st, "b", &a));
    CHECK(a.dtype == GM_DTYPE_BF16 && a.shape[0] == 3);
    CHECK_OK(gm_array_convert(&a, GM_DTYPE_F64));
    CHECK(((double *)a.data)[2] == 3.140625);
    gm_array_free(&a);
    CHECK_OK(gm_safetensors_get(st, "w\xc3\xa9", &a));
    CHECK(a.dtype == GM_DTYPE_U16 && ((uint16_t *)a.data)[0] == 65535);
    CHECK_OK(gm_safetensors_get(st, "empty", &a));
    CHECK(a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 3 && a.nbytes == 0);
    CHECK_RC(gm_safetensors_get(st, "nope", &a), GM_EFORMAT);
    gm_safetensors_free(st);
    gm_safetensors_free(NULL);
}

/* Byte vectors from the reference crate's tests (safetensors/src/tensor.rs). */
GM_TEST(test_reference_vectors) {
    const char *p = tmp_path("ref.safetensors");
    float x[6] = {0, 1, 2, 3, 4, 5};
    gm_st_writer *wr;
    /* one F32 [1,2,3] tensor "attn.0": a 64-byte header needing no padding */
    CHECK_OK(gm_st_writer_create(&wr));
    CHECK_OK(gm_st_writer_add(wr, "attn.0", GM_DTYPE_F32, 3, (int64_t[]){1, 2, 3}, x));
    CHECK_OK(gm_st_writer_write(wr, p));
    gm_st_writer_free(wr);
    unsigned char want1[8 + 64 + 24] = {64};
    memcpy(want1 + 8, "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", 64);
    memcpy(want1 + 72, x, 24);
    CHECK(file_is(p, want1, sizeof want1));
    /* "attn0", shape [1,1,2,3]: padded with 7 spaces to 72 */
    CHECK_OK(gm_st_writer_create(&wr));
    CHECK_OK(gm_st_writer_add(wr, "attn0", GM_DTYPE_F32, 4, (int64_t[]){1, 1, 2, 3}, x));
    CHECK_OK(gm_st_writer_write(wr, p));
    gm_st_writer_free(wr);
    unsigned char want2[8 + 72 + 24] = {72};
    memcpy(want2 + 8, "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ", 72);
    memcpy(want2 + 80, x, 24);
    CHECK(file_is(p, want2, sizeof want2));
    gm_safetensors *st;
    CHECK_OK(gm_safetensors_read(&st, p));
    gm_array a;
    CHECK_OK(gm_safetensors_get(st, "attn0", &a));
    CHECK(a.ndim == 4 && a.shape[3] == 3 && ((float *)a.data)[5] == 5.0f);
    gm_safetensors_free(st);
    /* no tensors: "{}" + 6 spaces; with metadata {"framework": "pt"}: 40 bytes */
    CHECK_OK(gm_st_writer_create(&wr));
    CHECK_OK(gm_st_writer_write(wr, p));
    CHECK(file_is(p, "\x08\0\0\0\0\0\0\0{}      ", 16));
    CHECK_OK(gm_safetensors_read(&st, p));
    CHECK(gm_safetensors_count(st) == 0);
    gm_safetensors_free(st);
    CHECK_OK(gm_st_writer_meta(wr, "framework", "pt"));
    CHECK_OK(gm_st_writer_write(wr, p));
    gm_st_writer_free(wr);
    CHECK(file_is(p, "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ", 48));
    CHECK_OK(gm_safetensors_read(&st, p));
    CHECK(!strcmp(gm_safetensors_meta(st, "framework"), "pt"));
    gm_safetensors_free(st);
    /* the crate's documented 60-byte example header (no padding) is accepted */
    unsigned char ex[8 + 60 + 16] = {60};
    memcpy(ex + 8, "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 60);
    CHECK_OK(gm_safetensors_parse(&st, ex, sizeof ex, "example"));
    CHECK(st && gm_safetensors_count(st) == 1);
    gm_safetensors_free(st);
    unlink(p);
}

GM_TEST(test_roundtrip_all_dtypes) {
    const char *p = tmp_path("all.safetensors");
    uint8_t raw[64];
    for (int i = 0; i < 64; i++) raw[i] = (uint8_t)(i * 13 + 1);
    gm_st_writer *wr;
    CHECK_OK(gm_st_writer_create(&wr));
    char name[32];
    for (int t = 0; t < GM_DTYPE_COUNT; t++) {
        snprintf(name, sizeof name, "t%02d", t);
        size_t n = 8 / gm_dtype_size((gm_dtype)t);
        CHECK_OK(gm_st_writer_add(wr, name, (gm_dtype)t, 2, (int64_t[]){(int64_t)n, 1}, raw + t));
    }
    CHECK_OK(gm_st_writer_write(wr, p));
    gm_st_writer_free(wr);
    gm_safetensors *st;
    CHECK_OK(gm_safetensors_read(&st, p));
    CHECK_INT_EQ(gm_safetensors_count(st), GM_DTYPE_COUNT);
    for (int t = 0; t < GM_DTYPE_COUNT; t++) {
        snprintf(name, sizeof name, "t%02d", t);
        gm_array a;
        CHECK_OK(gm_safetensors_get(st, name, &a));
        CHECK(a.dtype == (gm_dtype)t && a.nbytes == 8 && memcmp(a.data, raw + t, 8) == 0);
        /* data of every tensor is aligned to its element size (writer sorts by alignment) */
        CHECK(((uintptr_t)a.data) % gm_dtype_size((gm_dtype)t) == 0);
    }
    gm_safetensors_free(st);
    unlink(p);
}


GM_TEST_MAIN({"write_byte_identical", test_write_byte_identical}, {"read_fixture", test_read_fixture},
             {"reference_vectors", test_reference_vectors}, {"roundtrip_all_dtypes", test_roundtrip_all_dtypes})
