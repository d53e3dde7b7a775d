/* SPDX-License-Identifier: MIT */
/* test_io_bad.c — malformed inputs for every reader (npy, npz, safetensors, IDX): each gives the right
 * status and a one-line message naming the input and the problem, never a crash (run under ASan/UBSan);
 * and N-th allocation failure over the readers gives GM_ENOMEM without leaks. */
#include "gm_test.h"
#include "genmix/io.h"

#include <unistd.h>

#define G "tests/golden/io/"

/* The message names `label` and contains `what`, on one line. */
static int msg_has(const char *label, const char *what) {
    const char *m = gm_last_error();
    int ok = strstr(m, label) != NULL && strstr(m, what) != NULL && strchr(m, '\n') == NULL;
    if (!ok) fprintf(stderr, "  message '%s' lacks '%s' or '%s'\n", m, label, what);
    return ok;
}

/* ==== .npy ==================================================================================== */

/* A v1 .npy in buf: prefix, header text (padded to 64 with spaces + '\n' unless raw), data_len zero bytes. */
static size_t make_npy(unsigned char *buf, const char *header, size_t data_len, int raw) {
    size_t hl = strlen(header);
    size_t total_h = raw ? hl : ((10 + hl + 1 + 63) / 64) * 64 - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(total_h & 0xff);
    buf[9] = (unsigned char)(total_h >> 8);
    memcpy(buf + 10, header, hl);
    if (!raw) {
        memset(buf + 10 + hl, ' ', total_h - hl - 1);
        buf[10 + total_h - 1] = '\n';
    }
    memset(buf + 10 + total_h, 0, data_len);
    return 10 + total_h + data_len;
}

static void npy_case(const char *header, size_t data_len, int want, const char *what) {
    static unsigned char buf[20000];
    size_t n = make_npy(buf, header, data_len, 0);
    gm_array a;
    int rc = gm_npy_parse(buf, n, "case.npy", &a);
    if (rc != want) fprintf(stderr, "  header %s: rc %d, wanted %d (%s)\n", header, rc, want, gm_last_error());
    CHECK_INT_EQ(rc, want);
    if (rc == GM_OK) gm_array_free(&a);
    else CHECK(msg_has("case.npy", what));
}

GM_TEST(test_npy_bad_headers) {
    /* control: a good header parses */
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, GM_OK, "");
    npy_case("{\"shape\":(2,3),\"fortran_order\":False,\"descr\":\"<f4\"}", 24, GM_OK, "");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L), }", 24, GM_OK, "");
    /* shape larger than the data, data larger than the shape */
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, GM_EFORMAT, "truncated");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, GM_EFORMAT, "unexpected bytes");
    /* overflowing shape products and dimensions */
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0, GM_EFORMAT, "overflow");
    npy_case("{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 2), }", 0, GM_EFORMAT, "overflow");
    npy_case("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }", 0, GM_EFORMAT, "overflow");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, GM_EFORMAT, "dimension");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }", 0, GM_EFORMAT, "dimension");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, GM_EFORMAT, "dimensions");
    /* bad dtypes */
    npy_case("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8, GM_EFORMAT, "unsupported dtype '<c8'");
    npy_case("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8, GM_EFORMAT, "object dtype");
    npy_case("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, GM_EFORMAT, "structured");
    npy_case("{'descr': '|V8', 'fortran_order': False, 'shape': (1,), }", 8, GM_EFORMAT, "structured");
    npy_case("{'descr': '<f3', 'fortran_order': False, 'shape': (1,), }", 4, GM_EFORMAT, "unsupported dtype");
    npy_case("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", 16, GM_EFORMAT, "unsupported dtype");
    npy_case("{'descr': 3, 'fortran_order': False, 'shape': (1,), }", 4, GM_EFORMAT, "descr");
    /* malformed dicts */
    npy_case("{'descr': '<f4', 'shape': (1,), }", 4, GM_EFORMAT, "lacks 'fortran_order'");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, GM_EFORMAT, "unexpected key");
    npy_case("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, GM_EFORMAT, "duplicate");
    npy_case("{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,)}", 4, GM_EFORMAT, "fortran_order");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 4, GM_EFORMAT, "shape");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", 4, GM_EFORMAT, "shape");
    npy_case("['descr', '<f4']", 4, GM_EFORMAT, "dict");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", 4, GM_EFORMAT, "trailing");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'd\xc3\xa9': 1}", 4, GM_EFORMAT, "non-ASCII");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", 4, GM_EFORMAT, "shape");
    npy_case("{'descr': '<f4\\n', 'fortran_order': False, 'shape': (1,)}", 4, GM_EFORMAT, "descr");
}

GM_TEST(test_npy_bad_prefix) {
    unsigned char buf[256];
    gm_array a;
    size_t n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 0);
    /* wrong magic */
    buf[3] = 'X';
    CHECK_RC(gm_npy_parse(buf, n, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "bad magic"));
    buf[3] = 'M';
    CHECK_OK(gm_npy_parse(buf, n, "m.npy", &a));
    gm_array_free(&a);
    /* empty and truncated prefixes */
    CHECK_RC(gm_npy_parse(buf, 0, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "bad magic"));
    CHECK_RC(gm_npy_parse(buf, 8, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "truncated"));
    /* unsupported version */
    buf[6] = 4;
    CHECK_RC(gm_npy_parse(buf, n, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "version 4.0"));
    buf[6] = 1;
    buf[7] = 1;
    CHECK_RC(gm_npy_parse(buf, n, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "version 1.1"));
    buf[7] = 0;
    /* HEADER_LEN past the end, and above the 10000-byte cap */
    buf[8] = 200;
    CHECK_RC(gm_npy_parse(buf, n, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "runs past the end"));
    buf[8] = 0x11;
    buf[9] = 0x27; /* 10001 */
    CHECK_RC(gm_npy_parse(buf, n, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "10000-byte limit"));
    /* header not ending in a newline */
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 1);
    CHECK_RC(gm_npy_parse(buf, n, "m.npy", &a), GM_EFORMAT);
    CHECK(msg_has("m.npy", "newline"));
}

GM_TEST(test_npy_bad_files) {
    char dir[] = "/tmp/gm_bad_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/x.npy", dir);
    gm_array a;
    CHECK_RC(gm_npy_read("/nonexistent/none.npy", &a), GM_EIO);
    CHECK(msg_has("/nonexistent/none.npy", "cannot open"));
    CHECK_RC(gm_npy_read(dir, &a), GM_EIO);
    CHECK(msg_has(dir, "is a directory"));
    /* every truncation of a good file fails cleanly, from the file and from memory */
    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(G "f4_3x4.npy", &buf, &len));
    for (size_t cut = 0; cut < len; cut += (cut < 140 ? 1 : 7)) {
        CHECK_OK(gm_write_file_atomic(p, buf, cut));
        int rc = gm_npy_read(p, &a);
        CHECK_INT_EQ(rc, GM_EFORMAT);
        if (rc == GM_OK) gm_array_free(&a);
        CHECK(strstr(gm_last_error(), p) != NULL);
        rc = gm_npy_mmap(p, &a);
        CHECK_INT_EQ(rc, GM_EFORMAT);
        if (rc == GM_OK) gm_array_free(&a);
        rc = gm_npy_parse(buf, cut, "cut.npy", &a);
        CHECK_INT_EQ(rc, GM_EFORMAT);
        if (rc == GM_OK) gm_array_free(&a);
    }
    /* lying HEADER_LEN in a file */
    unsigned char *b = buf;
    b[8] = 0xff;
    b[9] = 0x20;
    CHECK_OK(gm_write_file_atomic(p, buf, len));
    CHECK_RC(gm_npy_read(p, &a), GM_EFORMAT);
    CHECK(msg_has(p, "runs past the end of the file"));
    gm_free(buf);
    unlink(p);
    rmdir(dir);
}


/* ==== .safetensors ============================================================================ */

/* 8-byte N, the JSON text (N = its length unless n_override >= 0), then data_len bytes. */
static size_t make_st(unsigned char *buf, const char *json, size_t data_len, long long n_override) {
    size_t n = strlen(json);
    unsigned long long N = n_override >= 0 ? (unsigned long long)n_override : n;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(N >> (8 * i));
    memcpy(buf + 8, json, n);
    memset(buf + 8 + n, 0x11, data_len);
    return 8 + n + data_len;
}

static void st_case(const char *json, size_t data_len, int want, const char *what) {
    static unsigned char buf[4096];
    size_t n = make_st(buf, json, data_len, -1);
    gm_safetensors *st = (gm_safetensors *)1;
    int rc = gm_safetensors_parse(&st, buf, n, "case.safetensors");
    if (rc != want) fprintf(stderr, "  header %s: rc %d, wanted %d (%s)\n", json, rc, want, gm_last_error());
    CHECK_INT_EQ(rc, want);
    if (rc == GM_OK) gm_safetensors_free(st);
    else CHECK(st == NULL && msg_has("case.safetensors", what));
}

#define T(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

GM_TEST(test_st_bad_headers) {
    /* controls */
    st_case("{" T("a", "F32", "[2]", "0", "8") "," T("b", "U8", "[3]", "8", "11") "}", 11, GM_OK, "");
    st_case("{" T("b", "U8", "[3]", "8", "11") "," T("a", "F32", "[2]", "0", "8") "}   ", 11, GM_OK, "");
    st_case("{" T("e", "F32", "[0]", "0", "0") "," T("s", "I64", "[]", "0", "8") "}", 8, GM_OK, "");
    st_case("{}", 0, GM_OK, "");
    /* overlapping offsets, holes, wrong start, span/shape mismatch, end < begin */
    st_case("{" T("a", "F32", "[2]", "0", "8") "," T("b", "F32", "[2]", "4", "12") "}", 12, GM_EFORMAT, "overlap");
    st_case("{" T("a", "F32", "[2]", "0", "8") "," T("b", "F32", "[2]", "12", "20") "}", 20, GM_EFORMAT, "hole");
    st_case("{" T("a", "F32", "[2]", "4", "12") "}", 12, GM_EFORMAT, "hole");
    st_case("{" T("a", "F32", "[3]", "0", "8") "}", 8, GM_EFORMAT, "need 12");
    st_case("{" T("a", "F32", "[2]", "8", "0") "}", 8, GM_EFORMAT, "end 0 < begin 8");
    /* the buffer does not end where the tensors end */
    st_case("{" T("a", "F32", "[2]", "0", "8") "}", 9, GM_EFORMAT, "cover 8 data bytes");
    st_case("{" T("a", "F32", "[2]", "0", "8") "}", 7, GM_EFORMAT, "cover 8 data bytes");
    /* overflow of the shape product, out-of-range and non-integer numbers */
    st_case("{" T("a", "F32", "[4294967296,4294967296]", "0", "0") "}", 0, GM_EFORMAT, "overflows");
    st_case("{" T("a", "F64", "[9007199254740992,9007199254740992]", "0", "0") "}", 0, GM_EFORMAT, "overflows");
    st_case("{" T("a", "F32", "[18446744073709551616]", "0", "0") "}", 0, GM_EFORMAT, "2^53");
    st_case("{" T("a", "F32", "[-1]", "0", "0") "}", 0, GM_EFORMAT, "non-negative");
    st_case("{" T("a", "F32", "[1.5]", "0", "6") "}", 6, GM_EFORMAT, "non-negative");
    st_case("{" T("a", "F32", "[1]", "0", "1e300") "}", 4, GM_EFORMAT, "data_offsets");
    st_case("{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", "0", "4") "}", 4, GM_EFORMAT, "dimensions");
    /* duplicate keys (top level, metadata, inside an entry) */
    st_case("{" T("a", "F32", "[2]", "0", "8") "," T("a", "F32", "[2]", "8", "16") "}", 16, GM_EFORMAT, "duplicate key 'a'");
    st_case("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, GM_EFORMAT, "duplicate key 'k'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GM_EFORMAT, "duplicate key 'dtype'");
    /* bad dtypes and entries */
    st_case("{" T("a", "C64", "[1]", "0", "8") "}", 8, GM_EFORMAT, "unsupported dtype 'C64'");
    st_case("{" T("a", "F8_E4M3", "[1]", "0", "1") "}", 1, GM_EFORMAT, "unsupported dtype");
    st_case("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GM_EFORMAT, "dtype is not a string");
    st_case("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GM_EFORMAT, "lacks 'dtype'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, GM_EFORMAT, "shape is not an array");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, GM_EFORMAT, "not a pair");
    st_case("{\"a\":[1,2]}", 0, GM_EFORMAT, "not an object");
    st_case("{\"__metadata__\":{\"k\":1}}", 0, GM_EFORMAT, "not a string");
    st_case("{\"__metadata__\":[]}", 0, GM_EFORMAT, "__metadata__ is not an object");
    /* not JSON, not UTF-8, not starting with '{', trailing garbage, NUL */
    st_case("{\"a\":", 0, GM_EFORMAT, "not valid JSON");
    st_case(" {}", 0, GM_EFORMAT, "does not start with '{'");
    st_case("[{}]", 0, GM_EFORMAT, "does not start with '{'");
    st_case("{\"\xc3(\":1}", 0, GM_EFORMAT, "UTF-8");
    st_case("{\"\xed\xa0\x80\":1}", 0, GM_EFORMAT, "UTF-8");
    st_case("{} x", 0, GM_EFORMAT, "after the JSON header");
    st_case("{}{}", 0, GM_EFORMAT, "after the JSON header");
}

GM_TEST(test_st_bad_prefix) {
    unsigned char buf[256];
    gm_safetensors *st;
    size_t n = make_st(buf, "{}", 0, -1);
    CHECK_OK(gm_safetensors_parse(&st, buf, n, "p.safetensors"));
    gm_safetensors_free(st);
    /* too short for N; N past EOF; N above the limit; N = 0 */
    CHECK_RC(gm_safetensors_parse(&st, buf, 7, "p.safetensors"), GM_EFORMAT);
    CHECK(msg_has("p.safetensors", "too short"));
    n = make_st(buf, "{}", 0, 3);
    CHECK_RC(gm_safetensors_parse(&st, buf, n, "p.safetensors"), GM_EFORMAT);
    CHECK(msg_has("p.safetensors", "runs past the end"));
    n = make_st(buf, "{}", 0, 100000001);
    CHECK_RC(gm_safetensors_parse(&st, buf, n, "p.safetensors"), GM_EFORMAT);
    CHECK(msg_has("p.safetensors", "100000000-byte limit"));
    n = make_st(buf, "{}", 0, -1);
    for (int i = 0; i < 8; i++) buf[i] = 0xff; /* 2^64 - 1 */
    CHECK_RC(gm_safetensors_parse(&st, buf, n, "p.safetensors"), GM_EFORMAT);
    n = make_st(buf, "{}", 0, 0);
    CHECK_RC(gm_safetensors_parse(&st, buf, n, "p.safetensors"), GM_EFORMAT);
    CHECK(msg_has("p.safetensors", "does not start with '{'"));
    /* files: missing, truncated at every length */
    CHECK_RC(gm_safetensors_read(&st, "/nonexistent/m.safetensors"), GM_EIO);
    CHECK(msg_has("/nonexistent/m.safetensors", "cannot open"));
    void *file;
    size_t len;
    CHECK_OK(gm_read_file(G "model.safetensors", &file, &len));
    char dir[] = "/tmp/gm_badst_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/t.safetensors", dir);
    for (size_t cut = 0; cut < len; cut += 5) {
        CHECK_OK(gm_write_file_atomic(p, file, cut));
        int rc = gm_safetensors_read(&st, p);
        CHECK_INT_EQ(rc, GM_EFORMAT);
        if (rc == GM_OK) gm_safetensors_free(st);
        CHECK(strstr(gm_last_error(), p) != NULL);
    }
    /* header length pointing past EOF */
    unsigned char *b = file;
    b[5] = 1;
    CHECK_OK(gm_write_file_atomic(p, file, len));
    CHECK_RC(gm_safetensors_read(&st, p), GM_EFORMAT);
    CHECK(msg_has(p, "exceeds") || msg_has(p, "runs past"));
    gm_free(file);
    unlink(p);
    rmdir(dir);
}

/* N-th allocation failure: every failing allocation gives GM_ENOMEM and leaks nothing (ASan/valgrind). */
typedef int (*reader_fn)(const char *path);
static int rd_npy(const char *p) {
    gm_array a;
    int rc = gm_npy_read(p, &a);
    if (!rc) gm_array_free(&a);
    return rc;
}
static int rd_npy_f32(const char *p) {
    gm_tensor t;
    int rc = gm_npy_read_f32(p, &t);
    if (!rc) gm_tensor_free(&t);
    return rc;
}

static int rd_st(const char *p) {
    gm_safetensors *st;
    int rc = gm_safetensors_read(&st, p);
    if (!rc) {
        float w[12];
        rc = gm_safetensors_copy_f32(st, "enc.fc1.weight", w, 12);
        gm_safetensors_free(st);
    }
    return rc;
}
static int wr_st(const char *p) {
    (void)p;
    static float x[6];
    gm_st_writer *w;
    int rc = gm_st_writer_create(&w);
    if (rc) return rc;
    char name[16];
    for (int i = 0; i < 20 && !rc; i++) {
        snprintf(name, sizeof name, "t%d", i);
        rc = gm_st_writer_add(w, name, GM_DTYPE_F32, 1, (int64_t[]){6}, x);
    }
    if (!rc) rc = gm_st_writer_meta(w, "a", "b");
    if (!rc) rc = gm_st_writer_meta(w, "c", "d");
    if (!rc) rc = gm_st_writer_write(w, "/tmp/gm_io_bad_wr.safetensors");
    gm_st_writer_free(w);
    unlink("/tmp/gm_io_bad_wr.safetensors");
    return rc;
}

static void alloc_fail_sweep(reader_fn fn, const char *path) {
    int n, saw_ok = 0;
    for (n = 1; n < 2000; n++) {
        gm_alloc_fail_nth(n, 0);
        int rc = fn(path);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) {
            saw_ok = 1;
            break;
        }
        if (rc != GM_ENOMEM) fprintf(stderr, "  %s: allocation %d failing gave %d (%s)\n", path, n, rc, gm_last_error());
        CHECK_INT_EQ(rc, GM_ENOMEM);
    }
    CHECK(saw_ok && n > 1);
}

GM_TEST(test_alloc_failures) {
    alloc_fail_sweep(rd_npy, G "f4_3x4.npy");
    alloc_fail_sweep(rd_npy, G "i4_fortran_2x3x4.npy");
    alloc_fail_sweep(rd_npy_f32, G "f2_2x3.npy");
    alloc_fail_sweep(rd_npy_f32, G "f4_3x4.npy");
    alloc_fail_sweep(rd_st, G "model.safetensors");
    alloc_fail_sweep(wr_st, NULL);
}

GM_TEST_MAIN({"npy_bad_headers", test_npy_bad_headers}, {"npy_bad_prefix", test_npy_bad_prefix},
             {"npy_bad_files", test_npy_bad_files},
             {"st_bad_headers", test_st_bad_headers}, {"st_bad_prefix", test_st_bad_prefix}, {"alloc_failures", test_alloc_failures})
