/* SPDX-License-Identifier: MIT */
/* test_plot.c — plot rendering: determinism, pixel geometry of a known line, gaps at NaN and at
 * non-positive values on log axes, empty plots, bands, legend placement, ticks, bad arguments. */
#include "gm_test.h"
#include "genmix/io.h"
#include "genmix/plot.h"

#include <unistd.h>

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[256];
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/gm_plot_XXXXXX");
        if (!mkdtemp(g_dir)) abort();
    }
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

typedef struct {
    uint8_t *px;
    int w, h, c;
} image;

static int render(const gm_plot *p, int w, int h, image *im) {
    const char *path = tmp_path("r.png");
    memset(im, 0, sizeof *im);
    int rc = gm_plot_write_png(p, path, w, h);
    if (rc) return rc;
    rc = gm_png_read(path, &im->px, &im->w, &im->h, &im->c);
    unlink(path);
    return rc;
}

static const uint8_t *pix(const image *im, int x, int y) { return im->px + ((size_t)y * im->w + x) * 3; }
static int is_white(const image *im, int x, int y) {
    const uint8_t *q = pix(im, x, y);
    return q[0] == 255 && q[1] == 255 && q[2] == 255;
}

/* ---- tests ------------------------------------------------------------------------------------- */

static gm_plot *demo_plot(void) {
    enum { N = 50 };
    double x[N], y[N], lo[N], hi[N], z[N];
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[i] = exp(-i / 10.0);
        lo[i] = y[i] - 0.1;
        hi[i] = y[i] + 0.1;
        z[i] = 0.5 + 0.3 * sin(i / 5.0);
    }
    gm_plot *p = NULL;
    if (gm_plot_create(&p, "demo: score vs round", "round", "score")) return NULL;
    gm_plot_line(p, x, y, N, "decay");
    gm_plot_band(p, x, lo, hi, N);
    gm_plot_points(p, x, z, N, "wave");
    gm_plot_hline(p, 0.25, "reference");
    return p;
}

GM_TEST(test_deterministic) {
    gm_plot *a = demo_plot(), *b = demo_plot();
    CHECK(a && b);
    if (!a || !b) return;
    char pa[256], pb[256], pc[256];
    snprintf(pa, sizeof pa, "%s", tmp_path("a.png"));
    snprintf(pb, sizeof pb, "%s", tmp_path("b.png"));
    snprintf(pc, sizeof pc, "%s", tmp_path("c.png"));
    CHECK_OK(gm_plot_write_png(a, pa, 640, 400));
    CHECK_OK(gm_plot_write_png(b, pb, 640, 400));
    CHECK_OK(gm_plot_write_png(a, pc, 640, 400)); /* writing twice from one object */
    void *da, *db, *dc;
    size_t la, lb, lc;
    CHECK_OK(gm_read_file(pa, &da, &la));
    CHECK_OK(gm_read_file(pb, &db, &lb));
    CHECK_OK(gm_read_file(pc, &dc, &lc));
    CHECK(la == lb && la == lc && memcmp(da, db, la) == 0 && memcmp(da, dc, la) == 0);
    gm_free(da);
    gm_free(db);
    gm_free(dc);
    /* and the picture is not trivial: the palette's first two colours appear */
    image im;
    CHECK_OK(render(a, 640, 400, &im));
    int blue = 0, orange = 0;
    for (int i = 0; i < im.w * im.h; i++) {
        const uint8_t *q = im.px + 3 * (size_t)i;
        if (q[0] == 0x00 && q[1] == 0x72 && q[2] == 0xB2) blue++;
        if (q[0] == 0xD5 && q[1] == 0x5E && q[2] == 0x00) orange++;
    }
    CHECK(blue > 100);
    CHECK(orange > 100);
    gm_free(im.px);
    unlink(pa);
    unlink(pb);
    unlink(pc);
    gm_plot_free(a);
    gm_plot_free(b);
}

/* Distance from pixel centre (x+.5, y+.5) to the diagonal from (left, bottom) to (right, top). */
static double diag_dist(const gm_plot_frame *f, int x, int y) {
    double ax = f->left, ay = f->bottom, bx = f->right, by = f->top;
    double dx = bx - ax, dy = by - ay, px = x + 0.5 - ax, py = y + 0.5 - ay;
    return fabs(px * dy - py * dx) / sqrt(dx * dx + dy * dy);
}

static void check_diagonal(int antialias) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, NULL, NULL, NULL));
    gm_plot_set_grid(p, 0);
    gm_plot_set_antialias(p, antialias);
    gm_plot_set_xrange(p, 0, 1);
    gm_plot_set_yrange(p, 0, 1);
    double x[2] = {0, 1}, y[2] = {0, 1};
    CHECK_OK(gm_plot_line(p, x, y, 2, NULL));
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 500, 400, &f));
    CHECK(f.left > 10 && f.right < 500 && f.top >= 0 && f.bottom < 400 && f.right - f.left > 300);
    CHECK(f.xmin == 0 && f.xmax == 1 && f.ymin == 0 && f.ymax == 1);
    image im;
    CHECK_OK(render(p, 500, 400, &im));
    CHECK(im.w == 500 && im.h == 400 && im.c == 3);
    long on_line = 0, lit_near = 0, far = 0, far_white = 0;
    for (int y0 = f.top; y0 < f.bottom; y0++)
        for (int x0 = f.left; x0 < f.right; x0++) {
            double d = diag_dist(&f, x0, y0);
            if (d <= 0.5) {
                on_line++;
                const uint8_t *q = pix(&im, x0, y0);
                /* close to the series colour 0x0072B2 */
                if (q[0] < 60 && q[2] > 150) lit_near++;
            } else if (d >= 2.5) {
                far++;
                far_white += is_white(&im, x0, y0);
            }
        }
    CHECK(on_line > 300);
    CHECK_INT_EQ(lit_near, on_line);
    CHECK_INT_EQ(far_white, far);
    /* the axis box is just outside the area */
    const uint8_t *q = pix(&im, f.left - 1, (f.top + f.bottom) / 2);
    CHECK(q[0] < 100 && q[1] < 100 && q[2] < 100);
    q = pix(&im, f.right, (f.top + f.bottom) / 2);
    CHECK(q[0] < 100);
    gm_free(im.px);
    gm_plot_free(p);
}

GM_TEST(test_diagonal_line) {
    check_diagonal(1);
    check_diagonal(0);
}

/* A zoomed-in view of a steep line: the visible part must be the diagonal of the area, i.e. the
 * segment is clipped exactly rather than distorted by far-away end points. */
GM_TEST(test_zoomed_line_clipped) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, NULL, NULL, NULL));
    gm_plot_set_grid(p, 0);
    gm_plot_set_xrange(p, 0, 1e-12);
    gm_plot_set_yrange(p, 0, 1);
    double x[2] = {-1, 1}, y[2] = {-1e12, 1e12};
    CHECK_OK(gm_plot_line(p, x, y, 2, NULL));
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 400, 300, &f));
    image im;
    CHECK_OK(render(p, 400, 300, &im));
    long on = 0, lit = 0, far = 0, white = 0;
    for (int y0 = f.top; y0 < f.bottom; y0++)
        for (int x0 = f.left; x0 < f.right; x0++) {
            double d = diag_dist(&f, x0, y0);
            if (d <= 0.5) {
                on++;
                lit += !is_white(&im, x0, y0);
            } else if (d >= 2.5) {
                far++;
                white += is_white(&im, x0, y0);
            }
        }
    CHECK(on > 200);
    CHECK_INT_EQ(lit, on);
    CHECK_INT_EQ(white, far);
    gm_free(im.px);
    /* spans that overflow cannot be drawn; nearly equal values are widened like a single value */
    double big[2] = {-1.7e308, 1.7e308};
    gm_plot *q;
    CHECK_OK(gm_plot_create(&q, NULL, NULL, NULL));
    CHECK_OK(gm_plot_line(q, x, big, 2, NULL));
    CHECK_RC(gm_plot_write_png(q, tmp_path("big.png"), 300, 200), GM_EINVAL);
    gm_plot_free(q);
    double same[2] = {1000.0, 1000.0 + 1e-10};
    CHECK_OK(gm_plot_create(&q, NULL, NULL, NULL));
    CHECK_OK(gm_plot_line(q, x, same, 2, NULL));
    CHECK_OK(gm_plot_frame_get(q, 300, 200, &f));
    CHECK_NEAR(f.ymin, 900, 1e-12, 0);
    CHECK_NEAR(f.ymax, 1100, 1e-12, 0);
    gm_plot_free(q);
    /* a band and markers far outside a fixed view do not crash and leave the view white */
    double bx[3] = {-1e300, 0, 1e300}, lo[3] = {-1e300, -1e300, 1e300}, hi[3] = {1e300, 1e300, 1e300};
    CHECK_OK(gm_plot_create(&q, NULL, NULL, NULL));
    gm_plot_set_grid(q, 0);
    gm_plot_set_xrange(q, 0, 1);
    gm_plot_set_yrange(q, 0, 1);
    CHECK_OK(gm_plot_points(q, bx, bx, 3, NULL));
    CHECK_OK(gm_plot_band(q, bx, lo, hi, 3));
    CHECK_OK(gm_plot_hline(q, 1e300, NULL));
    CHECK_OK(render(q, 300, 200, &im));
    CHECK_OK(gm_plot_frame_get(q, 300, 200, &f));
    int colored = 0, total = 0; /* the band covers the whole view: every pixel has the band tint */
    for (int y0 = f.top + 8; y0 < f.bottom - 8; y0++)
        for (int x0 = f.left + 8; x0 < f.right - 8; x0++) {
            const uint8_t *t = pix(&im, x0, y0);
            total++;
            colored += t[0] == 199 && t[1] == 224 && t[2] == 238; /* exact: blending rounds to nearest */
        }
    CHECK(total > 1000);
    CHECK_INT_EQ(colored, total);
    gm_free(im.px);
    gm_plot_free(q);
    gm_plot_free(p);
}

/* Count non-white pixels of the plot area in the pixel column at data x. */
static int column_ink(const image *im, const gm_plot_frame *f, double xv, int logx) {
    double t = logx ? (log10(xv) - log10(f->xmin)) / (log10(f->xmax) - log10(f->xmin))
                    : (xv - f->xmin) / (f->xmax - f->xmin);
    int x = (int)floor(f->left + t * (f->right - f->left));
    int ink = 0;
    for (int y = f->top; y < f->bottom; y++) ink += !is_white(im, x, y);
    return ink;
}

GM_TEST(test_nan_breaks_line) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, "nan", "x", "y"));
    gm_plot_set_grid(p, 0);
    double x[7] = {0, 1, 2, 3, 4, 5, 6}, y[7] = {0, 1, NAN, 1, 0, INFINITY, 1};
    CHECK_OK(gm_plot_line(p, x, y, 7, NULL));
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 600, 400, &f));
    CHECK(f.xmin < 0 && f.xmax > 6 && f.ymin < 0 && f.ymax > 1 && f.ymax < 1.2); /* Inf ignored */
    image im;
    CHECK_OK(render(p, 600, 400, &im));
    CHECK(column_ink(&im, &f, 0.5, 0) > 0);
    CHECK(column_ink(&im, &f, 3.5, 0) > 0);
    CHECK_INT_EQ(column_ink(&im, &f, 1.5, 0), 0); /* gap around the NaN */
    CHECK_INT_EQ(column_ink(&im, &f, 2.5, 0), 0);
    CHECK_INT_EQ(column_ink(&im, &f, 5.0, 0), 0); /* the Inf point */
    CHECK(column_ink(&im, &f, 6.0, 0) > 0);       /* isolated last point still drawn as a dot */
    gm_free(im.px);
    gm_plot_free(p);
}

GM_TEST(test_log_axes_drop_nonpositive) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, "log", "n", "err"));
    gm_plot_set_grid(p, 0);
    gm_plot_set_log(p, 1, 1);
    double x[6] = {1, 10, 100, 1000, 10000, -5}, y[6] = {1, 0.1, 0, -1, 1e-4, 7};
    CHECK_OK(gm_plot_line(p, x, y, 6, NULL));
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 600, 400, &f));
    /* range from the positive points only, with 4% margins in decades */
    CHECK_NEAR(log10(f.xmin), -0.16, 1e-9, 1e-9);
    CHECK_NEAR(log10(f.xmax), 4.16, 1e-9, 1e-9);
    CHECK_NEAR(log10(f.ymin), -4.16, 1e-9, 1e-9);
    CHECK_NEAR(log10(f.ymax), 0.16, 1e-9, 1e-9);
    image im;
    CHECK_OK(render(p, 600, 400, &im));
    CHECK(column_ink(&im, &f, 3.0, 1) > 0);
    CHECK_INT_EQ(column_ink(&im, &f, 300.0, 1), 0); /* y = 0 and y = -1 are gaps */
    CHECK(column_ink(&im, &f, 10000.0, 1) > 0);
    gm_free(im.px);
    /* decade labels */
    double v[16];
    char lab[16][GM_PLOT_LABEL_MAX];
    int n = gm_plot_ticks(p, 1, 600, 400, v, lab, 16);
    CHECK_INT_EQ(n, 5);
    const char *want[5] = {"0.0001", "0.001", "0.01", "0.1", "1"};
    for (int i = 0; i < n && i < 5; i++) {
        CHECK(!strcmp(lab[i], want[i]));
        CHECK_NEAR(v[i], strtod(want[i], NULL), 1e-12, 0);
    }
    n = gm_plot_ticks(p, 0, 600, 400, v, lab, 16);
    CHECK(n == 5 && !strcmp(lab[0], "1") && !strcmp(lab[2], "100") && !strcmp(lab[4], "1e4"));
    /* less than a decade: 1-2-3-5 mantissas get labels so that at least 3 ticks are labelled */
    gm_plot_set_yrange(p, 0.027, 0.12);
    n = gm_plot_ticks(p, 1, 480, 360, v, lab, 16);
    CHECK(n == 3 && !strcmp(lab[0], "0.03") && !strcmp(lab[1], "0.05") && !strcmp(lab[2], "0.1"));
    /* many decades: every k-th decade labelled, never more than ~12 labels */
    gm_plot_set_yrange(p, 1e-30, 1e30);
    n = gm_plot_ticks(p, 1, 480, 360, v, lab, 16);
    CHECK(n >= 3 && n <= 12);
    for (int i = 1; i < n; i++) CHECK_NEAR(log10(v[i]) - log10(v[i - 1]), log10(v[1]) - log10(v[0]), 1e-9, 1e-9);
    /* labels of neighbouring ticks are distinct even where the value tolerance of a label (1e-12 relative)
     * exceeds the tick spacing: a linear axis 1e6 .. 1e6 + 1e-6 */
    gm_plot_set_log(p, 0, 0);
    gm_plot_set_yrange(p, 1e6, 1e6 + 1e-6);
    n = gm_plot_ticks(p, 1, 480, 360, v, lab, 16);
    CHECK(n >= 3);
    for (int i = 1; i < n; i++) CHECK(strcmp(lab[i], lab[i - 1]) != 0);
    gm_plot_set_log(p, 1, 1);
    /* a fixed non-positive end on a log axis is an error */
    gm_plot_set_yrange(p, 0, 1);
    CHECK_RC(gm_plot_write_png(p, tmp_path("bad.png"), 300, 200), GM_EINVAL);
    gm_plot_free(p);
}

GM_TEST(test_linear_ticks) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, NULL, NULL, NULL));
    struct {
        double lo, hi;
    } cases[] = {{0, 1}, {0, 10}, {-3.7, 12.2}, {1000, 1000.003}, {0, 2e6}, {-1e-6, 1e-6}, {0.25, 0.26}, {-50, -10}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gm_plot_set_xrange(p, cases[c].lo, cases[c].hi);
        gm_plot_set_yrange(p, cases[c].lo, cases[c].hi);
        for (int axis = 0; axis < 2; axis++) {
            double v[64];
            char lab[64][GM_PLOT_LABEL_MAX];
            int n = gm_plot_ticks(p, axis, 640, 400, v, lab, 64);
            CHECK(n >= 3 && n <= 12);
            if (n < 2) continue;
            double step = v[1] - v[0];
            double mag = pow(10.0, floor(log10(step) + 1e-9)), m = step / mag;
            CHECK(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6);
            for (int i = 0; i < n; i++) {
                CHECK(v[i] >= cases[c].lo - 1e-9 * step && v[i] <= cases[c].hi + 1e-9 * step);
                if (i) CHECK_NEAR(v[i] - v[i - 1], step, 1e-6, 0);
                CHECK_NEAR(strtod(lab[i], NULL), v[i], 0, 1e-6 * step);
                if (i) CHECK(strcmp(lab[i], lab[i - 1]) != 0);
                CHECK(strlen(lab[i]) <= 9);
            }
        }
    }
    /* exact labels for a simple case: [0, 10] on the x axis of a 640-pixel plot: 0 2 4 6 8 10 */
    gm_plot_set_xrange(p, 0, 10);
    char lab[16][GM_PLOT_LABEL_MAX];
    int n = gm_plot_ticks(p, 0, 640, 400, NULL, lab, 16);
    CHECK_INT_EQ(n, 6);
    CHECK(n == 6 && !strcmp(lab[0], "0") && !strcmp(lab[1], "2") && !strcmp(lab[5], "10"));
    gm_plot_set_xrange(p, 0, 2e6);
    n = gm_plot_ticks(p, 0, 640, 400, NULL, lab, 16);
    CHECK(n >= 3 && !strcmp(lab[0], "0") && strchr(lab[n - 1], 'e') != NULL);
    gm_plot_set_xrange(p, 0, 1);
    n = gm_plot_ticks(p, 0, 640, 400, NULL, lab, 16);
    CHECK(n >= 3 && !strcmp(lab[0], "0.0") && !strcmp(lab[n - 1], "1.0"));
    gm_plot_free(p);
}

GM_TEST(test_empty_plot) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, "empty", "x", "y"));
    image im;
    CHECK_OK(render(p, 320, 240, &im));
    CHECK(im.w == 320 && im.h == 240 && im.c == 3);
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 320, 240, &f));
    CHECK(f.xmin == 0 && f.xmax == 1 && f.ymin == 0 && f.ymax == 1);
    if (im.px) {
        const uint8_t *q = pix(&im, f.left - 1, (f.top + f.bottom) / 2);
        CHECK(q[0] < 100); /* axis box drawn */
        q = pix(&im, (f.left + f.right) / 2, f.bottom);
        CHECK(q[0] < 100);
        /* tick labels left of the box */
        int ink = 0;
        for (int y = f.top; y < f.bottom; y++)
            for (int x = 0; x < f.left - 8; x++) ink += !is_white(&im, x, y);
        CHECK(ink > 50);
    }
    gm_free(im.px);
    /* series of length zero and a lone hline are fine too */
    CHECK_OK(gm_plot_line(p, NULL, NULL, 0, "nothing"));
    CHECK_OK(gm_plot_hline(p, 3.0, NULL));
    CHECK_OK(gm_plot_frame_get(p, 320, 240, &f));
    CHECK(f.ymin < 3 && f.ymax > 3);
    CHECK_OK(render(p, 320, 240, &im));
    gm_free(im.px);
    gm_plot_free(p);
}

GM_TEST(test_band_colour_and_legend_corner) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, NULL, NULL, NULL));
    gm_plot_set_grid(p, 0);
    gm_plot_set_xrange(p, 0, 1);
    gm_plot_set_yrange(p, 0, 1);
    /* data only in the top-right quadrant: the legend must go elsewhere (top-left is next) */
    double x[2] = {0.6, 1.0}, y[2] = {0.9, 0.9}, lo[2] = {0.7, 0.7}, hi[2] = {0.98, 0.98};
    CHECK_OK(gm_plot_line(p, x, y, 2, "a long legend label"));
    CHECK_OK(gm_plot_band(p, x, lo, hi, 2));
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 500, 400, &f));
    image im;
    CHECK_OK(render(p, 500, 400, &im));
    /* band pixel away from the line: white blended with 0x0072B2 at alpha 0.22 */
    int bx = (int)(f.left + 0.8 * (f.right - f.left)), by = (int)(f.bottom - 0.75 * (f.bottom - f.top));
    const uint8_t *q = pix(&im, bx, by);
    CHECK(abs(q[0] - (int)(255 * 0.78 + 0x00 * 0.22 + 0.5)) <= 1);
    CHECK(abs(q[1] - (int)(255 * 0.78 + 0x72 * 0.22 + 0.5)) <= 1);
    CHECK(abs(q[2] - (int)(255 * 0.78 + 0xB2 * 0.22 + 0.5)) <= 1);
    /* legend border (0xBBBBBB) in the top-left quadrant, none in the others */
    int quad[4] = {0, 0, 0, 0};
    int mx = (f.left + f.right) / 2, my = (f.top + f.bottom) / 2;
    for (int yy = f.top; yy < f.bottom; yy++)
        for (int xx = f.left; xx < f.right; xx++) {
            const uint8_t *r = pix(&im, xx, yy);
            if (r[0] == 0xBB && r[1] == 0xBB && r[2] == 0xBB) quad[(yy >= my) * 2 + (xx >= mx)]++;
        }
    CHECK(quad[0] > 50);
    CHECK(quad[1] == 0 && quad[2] == 0 && quad[3] == 0);
    gm_free(im.px);
    gm_plot_free(p);
}

GM_TEST(test_series_colours_named) {
    /* three horizontal lines: the pixels of the i-th are gm_plot_color_rgb(i); names cycle with the palette */
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, NULL, NULL, NULL));
    gm_plot_set_grid(p, 0);
    gm_plot_set_xrange(p, 0, 1);
    gm_plot_set_yrange(p, 0, 1);
    double x[2] = {0.0, 1.0}, y[3][2] = {{0.2, 0.2}, {0.5, 0.5}, {0.8, 0.8}};
    for (int i = 0; i < 3; i++) CHECK_OK(gm_plot_line(p, x, y[i], 2, NULL));
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 400, 300, &f));
    image im;
    CHECK_OK(render(p, 400, 300, &im));
    int cx = (f.left + f.right) / 2;
    for (int i = 0; i < 3; i++) {
        uint32_t want = gm_plot_color_rgb((size_t)i);
        int yc = (int)(f.bottom - y[i][0] * (f.bottom - f.top)), found = 0;
        for (int yy = yc - 2; yy <= yc + 2; yy++) {
            const uint8_t *q = pix(&im, cx, yy);
            found |= q[0] == (want >> 16 & 0xFF) && q[1] == (want >> 8 & 0xFF) && q[2] == (want & 0xFF);
        }
        CHECK(found);
    }
    CHECK(!strcmp(gm_plot_color_name(0), "blue") && !strcmp(gm_plot_color_name(1), "vermillion"));
    CHECK(!strcmp(gm_plot_color_name(8), gm_plot_color_name(0)) && gm_plot_color_rgb(9) == gm_plot_color_rgb(1));
    gm_free(im.px);
    gm_plot_free(p);
}

GM_TEST(test_bad_args) {
    gm_plot *p;
    CHECK_OK(gm_plot_create(&p, "t", NULL, NULL));
    double x[2] = {0, 1};
    CHECK_RC(gm_plot_line(p, NULL, x, 2, NULL), GM_EINVAL);
    CHECK_RC(gm_plot_points(p, x, NULL, 2, NULL), GM_EINVAL);
    CHECK_RC(gm_plot_band(p, x, x, NULL, 2), GM_EINVAL);
    CHECK_RC(gm_plot_hline(p, NAN, "x"), GM_EINVAL);
    CHECK_OK(gm_plot_line(p, x, x, 2, "ok"));
    const char *path = tmp_path("bad.png");
    CHECK_RC(gm_plot_write_png(p, path, 50, 300), GM_EINVAL);
    CHECK_RC(gm_plot_write_png(p, path, 300, 0), GM_EINVAL);
    CHECK_RC(gm_plot_write_png(p, path, 20000, 300), GM_EINVAL);
    CHECK_RC(gm_plot_write_png(p, "", 300, 300), GM_EINVAL);
    gm_plot_set_xrange(p, 1, 1);
    CHECK_RC(gm_plot_write_png(p, path, 300, 300), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "range") != NULL);
    gm_plot_set_xrange(p, 2, 1);
    CHECK_RC(gm_plot_write_png(p, path, 300, 300), GM_EINVAL);
    gm_plot_set_xrange(p, NAN, INFINITY);
    CHECK_RC(gm_plot_write_png(p, path, 300, 300), GM_EINVAL);
    CHECK(access(path, F_OK) != 0);
    /* one fixed end, the other automatic */
    gm_plot_set_xrange(p, -1, NAN);
    gm_plot_frame f;
    CHECK_OK(gm_plot_frame_get(p, 300, 300, &f));
    CHECK(f.xmin == -1 && f.xmax > 1 && f.xmax < 1.2);
    CHECK_RC(gm_plot_write_png(p, "/nonexistent/dir/p.png", 300, 300), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/dir/p.png") != NULL);
    gm_plot_free(p);
    gm_plot_free(NULL);
}

GM_TEST(test_alloc_failure) {
    double x[3] = {1, 2, 3};
    int n_enomem = 0;
    for (long k = 1; k <= 30; k++) {
        gm_plot *p = NULL;
        gm_alloc_fail_nth(k, 0);
        int rc = gm_plot_create(&p, "t", "x", "y");
        if (rc == GM_OK) rc = gm_plot_line(p, x, x, 3, "l");
        if (rc == GM_OK) rc = gm_plot_band(p, x, x, x, 3);
        if (rc == GM_OK) rc = gm_plot_write_png(p, tmp_path("oom.png"), 200, 150);
        gm_alloc_fail_nth(0, 0);
        CHECK(rc == GM_OK || rc == GM_ENOMEM);
        if (rc == GM_ENOMEM) n_enomem++;
        gm_plot_free(p);
    }
    CHECK(n_enomem >= 10);
    unlink(tmp_path("oom.png"));
    unlink(tmp_path("bad.png"));
    rmdir(g_dir);
}

GM_TEST_MAIN({"deterministic", test_deterministic}, {"diagonal_line", test_diagonal_line},
             {"zoomed_line_clipped", test_zoomed_line_clipped},
             {"nan_breaks_line", test_nan_breaks_line}, {"log_axes_drop_nonpositive", test_log_axes_drop_nonpositive},
             {"linear_ticks", test_linear_ticks}, {"series_colours_named", test_series_colours_named}, {"empty_plot", test_empty_plot},
             {"band_colour_and_legend_corner", test_band_colour_and_legend_corner}, {"bad_args", test_bad_args},
             {"alloc_failure", test_alloc_failure})
