/* SPDX-License-Identifier: MIT */
/* test_png.c — PNG write/read round trips, grid geometry and pixel placement, clipping, bad input. */
#include "gm_test.h"
#include "genmix/io.h"

#include <dirent.h>
#include <unistd.h>

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[256];
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/gm_png_XXXXXX");
        if (!mkdtemp(g_dir)) abort();
    }
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

static int count_tmp_files(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

GM_TEST(test_roundtrip_channels) {
    const int W = 7, H = 5;
    for (int ch = 1; ch <= 4; ch++) {
        if (ch == 2) continue;
        uint8_t px[7 * 5 * 4];
        for (int i = 0; i < W * H * ch; i++) px[i] = (uint8_t)(i * 37 + ch * 11);
        const char *path = tmp_path("rt.png");
        CHECK_OK(gm_png_write(path, px, W, H, ch));
        uint8_t *back = NULL;
        int w, h, c;
        CHECK_OK(gm_png_read(path, &back, &w, &h, &c));
        CHECK_INT_EQ(w, W);
        CHECK_INT_EQ(h, H);
        CHECK_INT_EQ(c, ch);
        CHECK(back && memcmp(back, px, (size_t)(W * H * ch)) == 0);
        gm_free(back);
        unlink(path);
    }
    CHECK_INT_EQ(count_tmp_files(), 0);
}

GM_TEST(test_deterministic_bytes) {
    uint8_t px[16 * 16 * 3];
    for (int i = 0; i < 16 * 16 * 3; i++) px[i] = (uint8_t)(i ^ (i >> 3));
    char a[256], b[256];
    snprintf(a, sizeof a, "%s", tmp_path("d1.png"));
    snprintf(b, sizeof b, "%s", tmp_path("d2.png"));
    CHECK_OK(gm_png_write(a, px, 16, 16, 3));
    CHECK_OK(gm_png_write(b, px, 16, 16, 3));
    void *da, *db;
    size_t la, lb;
    CHECK_OK(gm_read_file(a, &da, &la));
    CHECK_OK(gm_read_file(b, &db, &lb));
    CHECK(la == lb && la > 8 && memcmp(da, db, la) == 0);
    CHECK(memcmp(da, "\x89PNG\r\n\x1a\n", 8) == 0);
    gm_free(da);
    gm_free(db);
    unlink(a);
    unlink(b);
}

/* Geometry: cols = min(ncols, n), rows = ceil(n / cols);
 * width = cols*(W+pad)+pad, height = rows*(H+pad)+pad; image k's pixel (y, x) lands at
 * (pad + (k / cols)*(H+pad) + y, pad + (k % cols)*(W+pad) + x). Everything else is 128. */
GM_TEST(test_grid_geometry_gray) {
    enum { N = 5, H = 4, W = 3, PAD = 2, NC = 3 };
    float imgs[N * H * W];
    for (int k = 0; k < N; k++)
        for (int i = 0; i < H * W; i++) imgs[k * H * W + i] = (float)(k * 12 + i) / 255.0f;
    const char *path = tmp_path("grid.png");
    CHECK_OK(gm_png_write_grid(path, imgs, N, 1, H, W, NC, PAD));
    uint8_t *px = NULL;
    int w, h, c;
    CHECK_OK(gm_png_read(path, &px, &w, &h, &c));
    CHECK_INT_EQ(w, NC * (W + PAD) + PAD); /* 17 */
    CHECK_INT_EQ(h, 2 * (H + PAD) + PAD);  /* 14 */
    CHECK_INT_EQ(c, 1);
    if (px && w == 17 && h == 14) {
        int bad = 0;
        for (int k = 0; k < N; k++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int yy = PAD + (k / NC) * (H + PAD) + y, xx = PAD + (k % NC) * (W + PAD) + x;
                    if (px[yy * w + xx] != k * 12 + y * W + x) bad++;
                }
        CHECK_INT_EQ(bad, 0);
        CHECK_INT_EQ(px[0], 128);                   /* corner border */
        CHECK_INT_EQ(px[PAD * w + PAD + W], 128);   /* gap between images 0 and 1 */
        CHECK_INT_EQ(px[(h - 1) * w + (w - 1)], 128);
        /* the empty cell (row 1, col 2) is gray */
        CHECK_INT_EQ(px[(PAD + H + PAD + 1) * w + PAD + 2 * (W + PAD) + 1], 128);
    }
    gm_free(px);
    /* ncols larger than n is capped; ncols <= 0 means ceil(sqrt(n)) columns */
    CHECK_OK(gm_png_write_grid(path, imgs, 2, 1, H, W, 10, PAD));
    CHECK_OK(gm_png_read(path, &px, &w, &h, &c));
    CHECK_INT_EQ(w, 2 * (W + PAD) + PAD);
    CHECK_INT_EQ(h, H + 2 * PAD);
    gm_free(px);
    CHECK_OK(gm_png_write_grid(path, imgs, 5, 1, H, W, 0, 0));
    CHECK_OK(gm_png_read(path, &px, &w, &h, &c));
    CHECK_INT_EQ(w, 3 * W);
    CHECK_INT_EQ(h, 2 * H);
    gm_free(px);
    unlink(path);
}

GM_TEST(test_grid_rgb_planar) {
    /* 2 RGB images 2x2, planar (C,H,W); check interleaving */
    enum { H = 2, W = 2 };
    float imgs[2 * 3 * H * W];
    for (int k = 0; k < 2; k++)
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < H * W; i++) imgs[(k * 3 + ch) * H * W + i] = (float)(k * 100 + ch * 40 + i) / 255.0f;
    const char *path = tmp_path("rgb.png");
    CHECK_OK(gm_png_write_grid(path, imgs, 2, 3, H, W, 2, 1));
    uint8_t *px = NULL;
    int w, h, c;
    CHECK_OK(gm_png_read(path, &px, &w, &h, &c));
    CHECK_INT_EQ(w, 2 * 3 + 1);
    CHECK_INT_EQ(h, 4);
    CHECK_INT_EQ(c, 3);
    if (px && w == 7 && h == 4 && c == 3) {
        /* image 1, pixel (y=1, x=0) -> row 2, column 1 + 3 = 4 */
        const uint8_t *p = px + (2 * w + 4) * 3;
        CHECK_INT_EQ(p[0], 100 + 0 + 2);
        CHECK_INT_EQ(p[1], 100 + 40 + 2);
        CHECK_INT_EQ(p[2], 100 + 80 + 2);
        CHECK(px[0] == 128 && px[1] == 128 && px[2] == 128);
    }
    gm_free(px);
    unlink(path);
}

GM_TEST(test_grid_clipping) {
    float v[8] = {-1.0f, 2.0f, NAN, 0.5f, INFINITY, -INFINITY, 1.0f, 0.0f};
    const char *path = tmp_path("clip.png");
    CHECK_OK(gm_png_write_grid(path, v, 1, 1, 1, 8, 1, 0));
    uint8_t *px = NULL;
    int w, h, c;
    CHECK_OK(gm_png_read(path, &px, &w, &h, &c));
    CHECK(w == 8 && h == 1 && c == 1);
    if (px && w == 8) {
        const uint8_t want[8] = {0, 255, 0, 128, 255, 0, 255, 0};
        for (int i = 0; i < 8; i++) CHECK_INT_EQ(px[i], want[i]);
    }
    gm_free(px);
    unlink(path);
}

GM_TEST(test_bad_args) {
    uint8_t px[12] = {0};
    float f[12] = {0};
    const char *path = tmp_path("bad.png");
    CHECK_RC(gm_png_write(path, px, 0, 2, 1), GM_EINVAL);
    CHECK_RC(gm_png_write(path, px, 2, -1, 1), GM_EINVAL);
    CHECK_RC(gm_png_write(path, px, 2, 2, 2), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "channels") != NULL);
    CHECK_RC(gm_png_write(path, px, 2, 2, 5), GM_EINVAL);
    CHECK_RC(gm_png_write(path, NULL, 2, 2, 1), GM_EINVAL);
    CHECK_RC(gm_png_write_grid(path, f, 1, 2, 2, 2, 1, 0), GM_EINVAL);
    CHECK_RC(gm_png_write_grid(path, f, 1, 4, 1, 1, 1, 0), GM_EINVAL);
    CHECK_RC(gm_png_write_grid(path, f, 0, 1, 2, 2, 1, 0), GM_EINVAL);
    CHECK_RC(gm_png_write_grid(path, f, 1, 1, 0, 2, 1, 0), GM_EINVAL);
    CHECK_RC(gm_png_write_grid(path, f, 1, 1, 2, 2, 1, -1), GM_EINVAL);
    CHECK(access(path, F_OK) != 0);
    /* unwritable destination */
    CHECK_RC(gm_png_write("/nonexistent/dir/x.png", px, 2, 2, 1), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/dir/x.png") != NULL);
    CHECK_RC(gm_png_write_grid("/nonexistent/dir/g.png", f, 1, 1, 2, 2, 1, 1), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/dir/g.png") != NULL);
}

GM_TEST(test_read_bad_files) {
    uint8_t *px = (uint8_t *)1;
    int w, h, c;
    CHECK_RC(gm_png_read("/nonexistent/x.png", &px, &w, &h, &c), GM_EIO);
    CHECK(px == NULL);
    const char *path = tmp_path("notpng.png");
    CHECK_OK(gm_write_file_atomic(path, "hello, this is not a png file", 29));
    CHECK_RC(gm_png_read(path, &px, &w, &h, &c), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), path) != NULL);
    /* a valid PNG truncated at various points: libpng errors unwind without leaks (ASan) */
    uint8_t img[32 * 32 * 3];
    for (int i = 0; i < 32 * 32 * 3; i++) img[i] = (uint8_t)(i * 7919u >> 3);
    CHECK_OK(gm_png_write(path, img, 32, 32, 3));
    void *data;
    size_t len;
    CHECK_OK(gm_read_file(path, &data, &len));
    size_t cuts[] = {9, 20, 33, 40, len / 2, len - 13};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK_OK(gm_write_file_atomic(path, data, cuts[i]));
        CHECK_RC(gm_png_read(path, &px, &w, &h, &c), GM_EFORMAT);
        CHECK(px == NULL);
        CHECK(strstr(gm_last_error(), path) != NULL && strstr(gm_last_error(), "png") != NULL);
    }
    /* corrupt a byte inside the IDAT data: CRC error */
    uint8_t *bytes = data;
    bytes[len / 2] ^= 0x5a;
    CHECK_OK(gm_write_file_atomic(path, data, len));
    CHECK_RC(gm_png_read(path, &px, &w, &h, &c), GM_EFORMAT);
    gm_free(data);
    unlink(path);
}

/* Mutated PNGs (deterministic LCG): gm_png_read returns OK or GM_EFORMAT, never crashes or leaks. */
GM_TEST(test_read_mutations) {
    uint8_t img[24 * 20 * 4];
    for (int i = 0; i < 24 * 20 * 4; i++) img[i] = (uint8_t)((i * 31) ^ (i >> 4));
    const char *path = tmp_path("mut.png");
    int chans[3] = {1, 3, 4};
    uint64_t s = 12345;
    int n_ok = 0, n_bad = 0, n_other = 0;
    for (int ci = 0; ci < 3; ci++) {
        CHECK_OK(gm_png_write(path, img, 24, 20, chans[ci]));
        void *orig;
        size_t len;
        CHECK_OK(gm_read_file(path, &orig, &len));
        uint8_t *buf = gm_malloc(len);
        for (int it = 0; it < 60; it++) {
            memcpy(buf, orig, len);
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int nmut = 1 + (int)((s >> 33) % 4);
            for (int k = 0; k < nmut; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                size_t pos = 8 + (size_t)((s >> 33) % (len - 8)); /* keep the signature */
                buf[pos] ^= (uint8_t)(1u << ((s >> 20) & 7));
            }
            FILE *f = fopen(path, "wb");
            if (!f) break;
            fwrite(buf, 1, len, f);
            fclose(f);
            uint8_t *px = NULL;
            int w, h, c;
            int rc = gm_png_read(path, &px, &w, &h, &c);
            if (rc == GM_OK) n_ok++;
            else if (rc == GM_EFORMAT) n_bad++;
            else n_other++;
            gm_free(px);
        }
        gm_free(buf);
        gm_free(orig);
    }
    CHECK_INT_EQ(n_other, 0);
    CHECK(n_bad > 120); /* CRCs catch nearly every flip */
    unlink(path);
}

GM_TEST(test_alloc_failure) {
    float f[4 * 4] = {0};
    const char *path = tmp_path("oom.png");
    int got_enomem = 0;
    for (long k = 1; k <= 4; k++) {
        gm_alloc_fail_nth(k, 0);
        int rc = gm_png_write_grid(path, f, 1, 1, 4, 4, 1, 1);
        gm_alloc_fail_nth(0, 0);
        CHECK(rc == GM_OK || rc == GM_ENOMEM);
        if (rc == GM_ENOMEM) got_enomem++;
    }
    CHECK(got_enomem >= 1);
    unlink(path);
    CHECK_INT_EQ(count_tmp_files(), 0);
    rmdir(g_dir);
}

GM_TEST_MAIN({"roundtrip_channels", test_roundtrip_channels}, {"deterministic_bytes", test_deterministic_bytes},
             {"grid_geometry_gray", test_grid_geometry_gray}, {"grid_rgb_planar", test_grid_rgb_planar},
             {"grid_clipping", test_grid_clipping}, {"bad_args", test_bad_args},
             {"read_bad_files", test_read_bad_files},
             {"read_mutations", test_read_mutations}, {"alloc_failure", test_alloc_failure})
