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
    CHECK(msg_has(dir, "not a regular file"));
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

static void alloc_fail_sweep(reader_fn fn, const char *path) {
    int n, saw_ok = 0;
    for (n = 1; n < 200; n++) {
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
}

GM_TEST_MAIN({"npy_bad_headers", test_npy_bad_headers}, {"npy_bad_prefix", test_npy_bad_prefix},
             {"npy_bad_files", test_npy_bad_files}, {"alloc_failures", test_alloc_failures})
