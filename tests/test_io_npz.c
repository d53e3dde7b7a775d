/* SPDX-License-Identifier: MIT */
/* test_io_npz.c — .npz reader against numpy.savez / savez_compressed fixtures (tools/gen_io_fixtures.py),
 * the writer (byte-compared with tests/golden/io/genmix_written.npz, which tools/check_io_numpy.py
 * verified numpy.load reads), and corrupt archives. fv/uv as in tools/gen_io_fixtures.py. */
#include "gm_test.h"
#include "genmix/io.h"

#include <unistd.h>

#define G "tests/golden/io/"

static double fv(size_t i) { return (double)(i % 17) * 0.25 - 1.5; }
static double uv(size_t i) { return (double)((i * 7) % 251); }

static int msg_has(const char *label, const char *what) {
    const char *m = gm_last_error();
    int ok = strstr(m, label) && strstr(m, what) && !strchr(m, '\n');
    if (!ok) fprintf(stderr, "  message '%s' lacks '%s' or '%s'\n", m, label, what);
    return ok;
}

static void check_values(gm_array *a, double (*f)(size_t)) {
    CHECK_OK(gm_array_convert(a, GM_DTYPE_F64));
    size_t n = gm_array_numel(a), bad = 0;
    for (size_t i = 0; i < n; i++) bad += ((double *)a->data)[i] != f(i);
    CHECK_INT_EQ(bad, 0);
}

GM_TEST(test_read_numpy_fixtures) {
    char **names;
    size_t n;
    CHECK_OK(gm_npz_list(G "stored.npz", &names, &n));
    CHECK_INT_EQ(n, 3);
    if (n == 3) CHECK(!strcmp(names[0], "mu") && !strcmp(names[1], "sigma") && !strcmp(names[2], "n"));
    gm_npz_names_free(names, n);
    gm_array a;
    CHECK_OK(gm_npz_read(G "stored.npz", "sigma", &a));
    CHECK(a.dtype == GM_DTYPE_F64 && a.ndim == 2 && a.shape[0] == 8 && a.shape[1] == 8);
    check_values(&a, fv);
    gm_array_free(&a);
    CHECK_OK(gm_npz_read(G "stored.npz", "n", &a));
    CHECK(a.dtype == GM_DTYPE_I64 && a.ndim == 0 && *(int64_t *)a.data == 1000);
    gm_array_free(&a);
    CHECK_OK(gm_npz_read(G "stored.npz", "mu.npy", &a)); /* the member's full name works too */
    CHECK(a.ndim == 1 && a.shape[0] == 8);
    gm_array_free(&a);
    /* deflate */
    CHECK_OK(gm_npz_list(G "deflated.npz", &names, &n));
    CHECK(n == 2 && !strcmp(names[0], "feats") && !strcmp(names[1], "labels"));
    gm_npz_names_free(names, n);
    CHECK_OK(gm_npz_read(G "deflated.npz", "feats", &a));
    CHECK(a.dtype == GM_DTYPE_F32 && a.ndim == 2 && a.shape[0] == 300 && a.shape[1] == 10);
    check_values(&a, fv);
    gm_array_free(&a);
    CHECK_OK(gm_npz_read(G "deflated.npz", "labels", &a));
    CHECK(a.dtype == GM_DTYPE_U8 && a.shape[0] == 300);
    check_values(&a, uv);
    gm_array_free(&a);
    /* positional names; NULL reads the first member */
    CHECK_OK(gm_npz_read(G "positional.npz", NULL, &a));
    CHECK(a.dtype == GM_DTYPE_F32 && a.shape[0] == 3);
    gm_array_free(&a);
    CHECK_OK(gm_npz_read(G "positional.npz", "arr_1", &a));
    CHECK(a.dtype == GM_DTYPE_U8 && a.shape[0] == 4);
    check_values(&a, uv);
    gm_array_free(&a);
    CHECK_RC(gm_npz_read(G "positional.npz", "arr_2", &a), GM_EFORMAT);
    CHECK(msg_has("positional.npz", "no member 'arr_2'"));
}

/* The arrays of genmix_written.npz. */
static void make_members(gm_array *m, float *x, int64_t *k, uint8_t *u) {
    for (int i = 0; i < 6; i++) x[i] = (float)fv((size_t)i);
    *k = -42;
    for (int i = 0; i < 5; i++) u[i] = (uint8_t)uv((size_t)i);
    memset(m, 0, 3 * sizeof *m);
    m[0] = (gm_array){.dtype = GM_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = x, .nbytes = 24};
    m[1] = (gm_array){.dtype = GM_DTYPE_I64, .ndim = 0, .data = k, .nbytes = 8};
    m[2] = (gm_array){.dtype = GM_DTYPE_U8, .ndim = 1, .shape = {5}, .data = u, .nbytes = 5};
}

GM_TEST(test_write_roundtrip) {
    char dir[] = "/tmp/gm_npz_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/out.npz", dir);
    float x[6];
    int64_t k;
    uint8_t u[5];
    gm_array m[3];
    make_members(m, x, &k, u);
    const char *names[3] = {"x", "count", "u"};
    CHECK_OK(gm_npz_write(p, 3, names, m));
    /* identical to the committed file that numpy.load was checked on */
    void *a, *b;
    size_t na, nb;
    CHECK_OK(gm_read_file(p, &a, &na));
    CHECK_OK(gm_read_file(G "genmix_written.npz", &b, &nb));
    CHECK(na == nb && memcmp(a, b, na) == 0);
    gm_free(a);
    gm_free(b);
    gm_array r;
    CHECK_OK(gm_npz_read(p, "x", &r));
    CHECK(r.dtype == GM_DTYPE_F32 && r.ndim == 2 && r.shape[1] == 3 && !memcmp(r.data, x, 24));
    gm_array_free(&r);
    CHECK_OK(gm_npz_read(p, "count", &r));
    CHECK(r.ndim == 0 && *(int64_t *)r.data == -42);
    gm_array_free(&r);
    CHECK_OK(gm_npz_read(p, "u", &r));
    CHECK(r.shape[0] == 5 && !memcmp(r.data, u, 5));
    gm_array_free(&r);
    /* empty archive; duplicate names and bf16 refused */
    CHECK_OK(gm_npz_write(p, 0, NULL, NULL));
    char **nm;
    size_t cnt;
    CHECK_OK(gm_npz_list(p, &nm, &cnt));
    CHECK(cnt == 0);
    gm_npz_names_free(nm, cnt);
    CHECK_RC(gm_npz_read(p, NULL, &r), GM_EFORMAT);
    const char *dup[2] = {"a", "a"};
    CHECK_RC(gm_npz_write(p, 2, dup, m), GM_EINVAL);
    CHECK(msg_has(p, "duplicate member name 'a'"));
    unlink(p);
    rmdir(dir);
}

GM_TEST(test_corrupt) {
    void *buf;
    size_t len;
    gm_array a;
    CHECK_OK(gm_read_file(G "stored.npz", &buf, &len));
    uint8_t *b = buf;
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < len; cut += 3) {
        int rc = gm_npz_parse(b, cut, "t.npz", "sigma", &a);
        CHECK_INT_EQ(rc, GM_EFORMAT);
        if (rc == GM_OK) gm_array_free(&a);
    }
    CHECK_RC(gm_npz_parse(b, 10, "t.npz", NULL, &a), GM_EFORMAT);
    CHECK(msg_has("t.npz", "truncated"));
    CHECK_RC(gm_npz_parse("hello world, this is not a zip file", 35, "t.npz", NULL, &a), GM_EFORMAT);
    CHECK(msg_has("t.npz", "not a zip"));
    /* a flipped data byte of a stored member: CRC mismatch */
    b[200] ^= 1;
    CHECK_RC(gm_npz_parse(b, len, "t.npz", "mu", &a), GM_EFORMAT);
    CHECK(msg_has("t.npz", "CRC-32 mismatch"));
    b[200] ^= 1;
    /* ZIP64 marker in the end record */
    size_t eocd = len - 22;
    CHECK(b[eocd] == 0x50 && b[eocd + 1] == 0x4b && b[eocd + 2] == 5 && b[eocd + 3] == 6);
    b[eocd + 8] = b[eocd + 9] = b[eocd + 10] = b[eocd + 11] = 0xff;
    CHECK_RC(gm_npz_parse(b, len, "t.npz", "mu", &a), GM_EFORMAT);
    CHECK(msg_has("t.npz", "ZIP64"));
    b[eocd + 8] = b[eocd + 10] = 3;
    b[eocd + 9] = b[eocd + 11] = 0;
    /* central directory offset past the end */
    b[eocd + 19] = 0x7f;
    CHECK_RC(gm_npz_parse(b, len, "t.npz", "mu", &a), GM_EFORMAT);
    CHECK(msg_has("t.npz", "outside the archive"));
    gm_free(buf);

    CHECK_OK(gm_read_file(G "deflated.npz", &buf, &len));
    b = buf;
    CHECK_OK(gm_npz_parse(b, len, "d.npz", "feats", &a));
    gm_array_free(&a);
    /* corrupt deflate stream (member data starts after the 30-byte header, name and extra field) */
    b[90] ^= 0xff;
    int rc = gm_npz_parse(b, len, "d.npz", "feats", &a);
    CHECK_INT_EQ(rc, GM_EFORMAT);
    if (rc == GM_OK) gm_array_free(&a);
    CHECK(msg_has("d.npz", "feats.npy"));
    b[90] ^= 0xff;
    /* unsupported method (12 = bzip2) and encryption, set in the central directory */
    size_t cd = (size_t)b[len - 6] | ((size_t)b[len - 5] << 8);
    b[cd + 10] = 12;
    CHECK_RC(gm_npz_parse(b, len, "d.npz", "feats", &a), GM_EFORMAT);
    CHECK(msg_has("d.npz", "compression method 12"));
    b[cd + 10] = 8;
    b[cd + 8] |= 1;
    CHECK_RC(gm_npz_parse(b, len, "d.npz", "feats", &a), GM_EFORMAT);
    CHECK(msg_has("d.npz", "encrypted"));
    b[cd + 8] &= 0xfe;
    /* N-th allocation failure: GM_ENOMEM and no leak */
    int k, ok = 0;
    for (k = 1; k < 100 && !ok; k++) {
        gm_alloc_fail_nth(k, 0);
        rc = gm_npz_parse(b, len, "d.npz", "labels", &a);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) ok = 1, gm_array_free(&a);
        else CHECK_INT_EQ(rc, GM_ENOMEM);
    }
    CHECK(ok && k > 2);
    for (k = 1; k < 100; k++) {
        char **nm;
        size_t cnt;
        gm_alloc_fail_nth(k, 0);
        rc = gm_npz_list(G "deflated.npz", &nm, &cnt);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) {
            gm_npz_names_free(nm, cnt);
            break;
        }
        CHECK_INT_EQ(rc, GM_ENOMEM);
    }
    gm_free(buf);
    CHECK_RC(gm_npz_read("/nonexistent/s.npz", NULL, &a), GM_EIO);
    CHECK(msg_has("/nonexistent/s.npz", "cannot open"));
}

/* A stored member whose central-directory sizes differ (uncompressed one byte less than compressed) is
 * refused before reading, whichever of the two is larger. */
GM_TEST(test_stored_sizes_differ) {
    void *buf;
    size_t len;
    gm_array a;
    CHECK_OK(gm_read_file(G "stored.npz", &buf, &len));
    if (!buf) return;
    uint8_t *b = buf;
    size_t cd = (size_t)b[len - 6] | (size_t)b[len - 5] << 8 | (size_t)b[len - 4] << 16 | (size_t)b[len - 3] << 24;
    CHECK(cd + 46 < len && b[cd] == 0x50 && b[cd + 1] == 0x4b && b[cd + 2] == 1 && b[cd + 3] == 2);
    size_t nl = (size_t)b[cd + 28] | (size_t)b[cd + 29] << 8;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(nl < 63 ? nl : 63), (const char *)b + cd + 46);
    CHECK(b[cd + 10] == 0 && b[cd + 24] > 1); /* stored; low byte of the size can go down */
    for (int dir = -1; dir <= 1; dir += 2) {
        b[cd + 24] = (uint8_t)(b[cd + 24] + dir);
        CHECK_RC(gm_npz_parse(b, len, "s.npz", name, &a), GM_EFORMAT);
        CHECK(msg_has("s.npz", "stored sizes differ"));
        b[cd + 24] = (uint8_t)(b[cd + 24] - dir);
    }
    CHECK_OK(gm_npz_parse(b, len, "s.npz", name, &a));
    gm_array_free(&a);
    gm_free(buf);
}

GM_TEST_MAIN({"read_numpy_fixtures", test_read_numpy_fixtures}, {"write_roundtrip", test_write_roundtrip},
             {"corrupt", test_corrupt},
             {"stored_sizes_differ", test_stored_sizes_differ})
