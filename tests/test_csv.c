/* SPDX-License-Identifier: MIT */
/* test_csv.c — CSV reading (dialect, errors with line and column), writing, exact round trips. */
#include "gm_test.h"
#include "genmix/io.h"

#include <dirent.h>
#include <unistd.h>

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[256];
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/gm_csv_XXXXXX");
        if (!mkdtemp(g_dir)) abort();
    }
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

/* Write `text` to a temp file and read it as CSV. */
static int read_text(const char *text, gm_csv *t) {
    const char *path = tmp_path("in.csv");
    if (gm_write_file_atomic(path, text, strlen(text)) != GM_OK) return -100;
    return gm_csv_read(path, t);
}

GM_TEST(test_read_basic) {
    gm_csv t;
    CHECK_OK(read_text("round,kid,fd\n1,0.5,-2e3\n2, 0.25 ,1e-300\n3,.125,+7\n", &t));
    CHECK_INT_EQ(t.nrows, 3);
    CHECK_INT_EQ(t.ncols, 3);
    if (t.ncols == 3 && t.nrows == 3) {
        CHECK(!strcmp(t.colnames[0], "round") && !strcmp(t.colnames[1], "kid") && !strcmp(t.colnames[2], "fd"));
        const double want[9] = {1, 0.5, -2e3, 2, 0.25, 1e-300, 3, 0.125, 7};
        for (int i = 0; i < 9; i++) CHECK(t.values[i] == want[i]);
        CHECK_INT_EQ(gm_csv_col(&t, "kid"), 1);
        CHECK_INT_EQ(gm_csv_col(&t, "fd"), 2);
        CHECK_INT_EQ(gm_csv_col(&t, "KID"), -1);
        CHECK_INT_EQ(gm_csv_col(&t, "nope"), -1);
    }
    gm_csv_free(&t);
    CHECK(t.values == NULL && t.colnames == NULL && t.nrows == 0);
    gm_csv_free(&t); /* twice is fine */
    gm_csv_free(NULL);
}

GM_TEST(test_read_dialect) {
    gm_csv t;
    /* BOM, quoted header names with commas and "" escapes, CRLF, trailing blank lines, quoted numbers */
    CHECK_OK(read_text("\xEF\xBB\xBF\"x, in units\" , \"say \"\"hi\"\"\",  plain  \r\n"
                       "1,2,3\r\n\"4\",5 ,6\r\n\r\n  \r\n\n",
                       &t));
    CHECK_INT_EQ(t.ncols, 3);
    CHECK_INT_EQ(t.nrows, 2);
    if (t.ncols == 3 && t.nrows == 2) {
        CHECK(!strcmp(t.colnames[0], "x, in units"));
        CHECK(!strcmp(t.colnames[1], "say \"hi\""));
        CHECK(!strcmp(t.colnames[2], "plain"));
        CHECK(t.values[3] == 4 && t.values[4] == 5 && t.values[5] == 6);
    }
    gm_csv_free(&t);
    /* no final newline; header only; nan/inf and hex floats are accepted (documented) */
    CHECK_OK(read_text("a,b\n1,2", &t));
    CHECK(t.nrows == 1 && t.values[1] == 2);
    gm_csv_free(&t);
    CHECK_OK(read_text("a,b\n", &t));
    CHECK(t.nrows == 0 && t.ncols == 2);
    gm_csv_free(&t);
    CHECK_OK(read_text("a,b,c,d\nnan,-inf,Infinity,0x1p-2\n", &t));
    if (t.nrows == 1 && t.ncols == 4) {
        CHECK(isnan(t.values[0]));
        CHECK(isinf(t.values[1]) && t.values[1] < 0);
        CHECK(isinf(t.values[2]) && t.values[2] > 0);
        CHECK(t.values[3] == 0.25);
    }
    gm_csv_free(&t);
    /* a single column */
    CHECK_OK(read_text("loss\n3\n4\n", &t));
    CHECK(t.ncols == 1 && t.nrows == 2 && t.values[1] == 4);
    gm_csv_free(&t);
}

static void expect_error(const char *text, int code, const char *fragment1, const char *fragment2) {
    gm_csv t;
    int rc = read_text(text, &t);
    CHECK_INT_EQ(rc, code);
    CHECK(t.values == NULL && t.colnames == NULL && t.nrows == 0 && t.ncols == 0);
    if (fragment1 && !strstr(gm_last_error(), fragment1)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", gm_last_error(), fragment1);
        CHECK(0);
    }
    if (fragment2 && !strstr(gm_last_error(), fragment2)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", gm_last_error(), fragment2);
        CHECK(0);
    }
    CHECK(strstr(gm_last_error(), "in.csv") != NULL);
}

GM_TEST(test_read_errors) {
    /* non-numeric cells name the 1-based line and the column */
    expect_error("a,b\n1,2\n3,abc\n", GM_EFORMAT, ":3:", "column 'b'");
    expect_error("a,b\n1,2\n3,4x\n", GM_EFORMAT, ":3:", "'4x'");
    expect_error("a,b\n1,\n", GM_EFORMAT, ":2:", "empty cell");
    expect_error("a,b\n,1\n", GM_EFORMAT, ":2:", "column 'a'");
    expect_error("a,b\n1,\"\"\n", GM_EFORMAT, ":2:", "empty cell");
    expect_error("a,b\r\n1,2\r\n3,1.0.0\r\n", GM_EFORMAT, ":3:", "column 'b'");
    /* ragged rows */
    expect_error("a,b,c\n1,2,3\n4,5\n", GM_EFORMAT, ":3:", "2 fields");
    expect_error("a,b\n1,2,3\n", GM_EFORMAT, ":2:", "3 fields");
    expect_error("a,b\n1,2,\n", GM_EFORMAT, ":2:", "3 fields");
    /* blank line inside the table */
    expect_error("a\n1\n\n2\n", GM_EFORMAT, ":3:", "empty line");
    /* header problems */
    expect_error("", GM_EFORMAT, ":1:", "header");
    expect_error("\n1,2\n", GM_EFORMAT, ":1:", "header");
    expect_error("a,a\n1,2\n", GM_EFORMAT, ":1:", "duplicate");
    expect_error("\"a,b\n1,2\n", GM_EFORMAT, ":1:", "unterminated");
    expect_error("\"a\"x,b\n1,2\n", GM_EFORMAT, ":1:", "closing quote");
    /* NUL byte inside a cell */
    {
        const char text[] = "a,b\n1,2\0 3\n";
        const char *path = tmp_path("in.csv");
        CHECK_OK(gm_write_file_atomic(path, text, sizeof text - 1));
        gm_csv t;
        CHECK_RC(gm_csv_read(path, &t), GM_EFORMAT);
        CHECK(strstr(gm_last_error(), ":2:") != NULL);
    }
    gm_csv t;
    CHECK_RC(gm_csv_read("/nonexistent/t.csv", &t), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/t.csv") != NULL);
}

GM_TEST(test_write_roundtrip) {
    const char *names[4] = {"round", "score, mean", "say \"x\"", ""};
    double v[3 * 4] = {1, 0.1, 1.0 / 3.0, -0.0, 2, 1e-310, 6.02214076e23, NAN, 3, -INFINITY, INFINITY, 123456789.123456789};
    const char *path = tmp_path("out.csv");
    CHECK_OK(gm_csv_write(path, 3, 4, names, v));
    gm_csv t;
    CHECK_OK(gm_csv_read(path, &t));
    CHECK_INT_EQ(t.nrows, 3);
    CHECK_INT_EQ(t.ncols, 4);
    if (t.nrows == 3 && t.ncols == 4) {
        for (int j = 0; j < 4; j++) CHECK(!strcmp(t.colnames[j], names[j]));
        for (int i = 0; i < 12; i++) {
            if (isnan(v[i])) CHECK(isnan(t.values[i]));
            else CHECK(memcmp(&t.values[i], &v[i], sizeof(double)) == 0); /* bit-exact, incl. -0 */
        }
    }
    gm_csv_free(&t);
    /* exact text of a small file */
    const char *n2[2] = {"x", "y"};
    double v2[4] = {0.5, 2, 0.1, -3};
    CHECK_OK(gm_csv_write(path, 2, 2, n2, v2));
    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(path, &buf, &len));
    CHECK(!strcmp(buf, "x,y\n0.5,2\n0.10000000000000001,-3\n"));
    gm_free(buf);
    /* zero rows: header only */
    CHECK_OK(gm_csv_write(path, 0, 2, n2, NULL));
    CHECK_OK(gm_csv_read(path, &t));
    CHECK(t.nrows == 0 && t.ncols == 2);
    gm_csv_free(&t);
    unlink(path);
}

GM_TEST(test_write_errors) {
    const char *names[2] = {"a", "b"};
    const char *dup[2] = {"a", "a"};
    const char *nl[2] = {"a", "b\nc"};
    double v[2] = {1, 2};
    const char *path = tmp_path("w.csv");
    CHECK_RC(gm_csv_write(path, 1, 0, names, v), GM_EINVAL);
    CHECK_RC(gm_csv_write(path, 1, 2, NULL, v), GM_EINVAL);
    CHECK_RC(gm_csv_write(path, 1, 2, names, NULL), GM_EINVAL);
    CHECK_RC(gm_csv_write(path, 1, 2, dup, v), GM_EINVAL);
    CHECK_RC(gm_csv_write(path, 1, 2, nl, v), GM_EINVAL);
    CHECK(access(path, F_OK) != 0);
    CHECK_RC(gm_csv_write("/nonexistent/dir/w.csv", 1, 2, names, v), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/dir/w.csv") != NULL);
}

/* Mutated tables (deterministic LCG): gm_csv_read returns OK or GM_EFORMAT, never crashes or leaks,
 * and a successful read is a consistent table. */
GM_TEST(test_read_mutations) {
    const char base[] = "\"a b\",c,\"d\"\"e\"\r\n1.5,-2,nan\r\n3e4,0x10, 7 \n\"8\",9,10\n\n";
    const char alphabet[] = ",\"\r\n 0123456789.eE+-xnai\t";
    const char *path = tmp_path("mut.csv");
    uint64_t s = 777;
    int n_ok = 0, n_bad = 0, n_other = 0;
    for (int it = 0; it < 300; it++) {
        char buf[sizeof base + 8];
        size_t len = sizeof base - 1;
        memcpy(buf, base, len);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int nmut = 1 + (int)((s >> 33) % 3);
        for (int k = 0; k < nmut; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((s >> 33) % len);
            int op = (int)((s >> 20) % 3);
            char ch = alphabet[(s >> 40) % (sizeof alphabet - 1)];
            if (op == 0) buf[pos] = ch;                                  /* replace */
            else if (op == 1 && len > 1) memmove(buf + pos, buf + pos + 1, --len - pos); /* delete */
            else if (len + 1 < sizeof buf) {                              /* insert */
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = ch;
                len++;
            }
        }
        FILE *f = fopen(path, "wb");
        if (!f) break;
        fwrite(buf, 1, len, f);
        fclose(f);
        gm_csv t;
        int rc = gm_csv_read(path, &t);
        if (rc == GM_OK) {
            n_ok++;
            CHECK(t.ncols >= 1 && t.colnames != NULL && t.values != NULL);
            for (size_t j = 0; j < t.ncols; j++) CHECK(t.colnames[j] != NULL);
        } else if (rc == GM_EFORMAT) {
            n_bad++;
            CHECK(strstr(gm_last_error(), "mut.csv:") != NULL);
        } else {
            n_other++;
        }
        gm_csv_free(&t);
    }
    CHECK_INT_EQ(n_other, 0);
    CHECK(n_ok > 10 && n_bad > 10);
    unlink(path);
}

GM_TEST(test_alloc_failure) {
    const char *path = tmp_path("in.csv");
    const char *text = "a,b,c,d,e,f,g,h,i,j\n1,2,3,4,5,6,7,8,9,10\n";
    CHECK_OK(gm_write_file_atomic(path, text, strlen(text)));
    int n_enomem = 0;
    for (long k = 1; k <= 20; k++) {
        gm_csv t;
        gm_alloc_fail_nth(k, 0);
        int rc = gm_csv_read(path, &t);
        gm_alloc_fail_nth(0, 0);
        CHECK(rc == GM_OK || rc == GM_ENOMEM);
        if (rc == GM_ENOMEM) {
            n_enomem++;
            CHECK(t.values == NULL && t.colnames == NULL);
        }
        gm_csv_free(&t);
    }
    CHECK(n_enomem >= 10);
    unlink(path);
    unlink(tmp_path("out.csv"));
    unlink(tmp_path("w.csv"));
    rmdir(g_dir);
}

GM_TEST_MAIN({"read_basic", test_read_basic}, {"read_dialect", test_read_dialect}, {"read_errors", test_read_errors},
             {"write_roundtrip", test_write_roundtrip}, {"write_errors", test_write_errors},
             {"read_mutations", test_read_mutations},
             {"alloc_failure", test_alloc_failure})
