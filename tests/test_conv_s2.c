/* SPDX-License-Identifier: MIT */
/* test_conv_s2.c — the conv GAN speed kernels against their naive twins and the im2col path:
 *   - stride-2 pad-1 convolution on phase grids (K = 4 and 3; src/nn/nn_conv3.c gm__convs2_*) vs
 *     gm_conv2d_forward_ref/backward_ref and vs gm_conv2d_forward/backward (im2col + SGEMM) on odd shapes
 *     (1 and many channels, non-square, 2x2 inputs, a batch that does not fill the last tile, a batch cut
 *     into chunks of unequal size), += into
 *     pre-filled gradients; forward and input gradient bitwise equal on every instruction-set path the CPU
 *     has; bitwise equal for 1 and 2 threads; din_set (write) = adding into zeros, bitwise;
 *   - the transposed convolution (gm__convts2_*) the same way vs gm_conv_transpose2d_*_ref and the
 *     GEMM + col2im path;
 *   - finite-difference gradient checks of both (max and mean criteria) through a quadratic loss;
 *   - the tape ops pick the kernels for K = 4 and K = 3 stride 2 pad 1 (bitwise the kernel's result) and not
 *     for odd inputs;
 *   - conv + bias + LeakyReLU fused (gm__convs2_*_lrelu, gm_op_conv2d_lrelu) bitwise equal to the conv kernels
 *     then gm_act_* (its naive twin is that composition of naive twins), on every instruction set;
 *   - the weight gradient's lane sums (gm__lane_sums, AVX-512) bitwise their scalar twin;
 *   - the vectorised ReLU / LeakyReLU / tanh-derivative loops of gm_act_* bitwise vs the scalar _ref twins
 *     (lengths that are not multiples of 4, zeros, signed zeros, NaN).
 * Tolerances vs the references: max |a - b| <= 2e-6 max |b| (float sums of at most C K^2 products in a
 * different order), 2e-5 for the bias gradient vs the naive twins, which sum it in float. */
#include <math.h>
#include <string.h>

#include "genmix/nn.h"
#include "genmix/rng.h"
#include "genmix/tape.h"
#include "gm_test.h"
#include "nn_internal.h"

static float *fbuf(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static void fill(float *a, size_t n, gm_rng *r, double s) {
    for (size_t i = 0; i < n; i++) a[i] = (float)(s * (2.0 * gm_rng_uniform(r) - 1.0));
}
/* max |a - b| / max |b| */
static double rel(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i])), m = fmax(m, fabs((double)b[i]));
    return d / (m > 0 ? m : 1);
}
static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

typedef struct {
    float *y, *din, *dw, *db;
} s2_out;
static void free_out(s2_out *o) { free(o->y), free(o->din), free(o->dw), free(o->db); }

/* sizes of x, y and w for conv (tr = 0: x(B,C,H,W) -> y(B,OC,OH,OW)) or transposed conv (tr = 1) dims */
static void sizes(const gm_conv_dims *d, size_t *nx, size_t *ny, size_t *nw) {
    *nx = d->B * d->C * d->H * d->W, *ny = d->B * d->OC * d->OH * d->OW, *nw = d->OC * d->C * d->K * d->K;
}
static s2_out alloc_out(const gm_conv_dims *d) {
    size_t nx, ny, nw;
    sizes(d, &nx, &ny, &nw);
    s2_out o = {fbuf(ny), fbuf(nx), fbuf(nw), fbuf(d->OC)};
    for (size_t i = 0; i < nx; i++) o.din[i] = 0.5f; /* backward adds */
    for (size_t i = 0; i < nw; i++) o.dw[i] = -0.25f;
    for (size_t i = 0; i < d->OC; i++) o.db[i] = 1.0f;
    return o;
}

/* which: 0 grid kernel, 1 naive twin, 2 im2col/col2im + SGEMM path; tr: transposed convolution */
static s2_out run(int which, int tr, const gm_conv_dims *d, const float *x, const float *w, const float *b,
                  const float *dy) {
    s2_out o = alloc_out(d);
    float *work = NULL;
    if (which == 0) {
        work = fbuf(tr ? gm__convts2_work_size(d) : gm__convs2_work_size(d));
        (tr ? gm__convts2_forward : gm__convs2_forward)(o.y, x, w, b, d, work);
        (tr ? gm__convts2_backward : gm__convs2_backward)(o.din, o.dw, o.db, dy, x, w, d, 0, work);
    } else if (which == 1 && !tr) {
        gm_conv2d_forward_ref(o.y, x, w, b, d);
        gm_conv2d_backward_ref(o.din, o.dw, o.db, dy, x, w, d);
    } else if (which == 1) {
        gm_conv_transpose2d_forward_ref(o.y, x, w, b, d);
        gm_conv_transpose2d_backward_ref(o.din, o.dw, o.db, dy, x, w, d);
    } else if (!tr) {
        float *col = fbuf(gm_conv2d_col_size(d));
        work = fbuf(gm_conv2d_work_size(d));
        gm_conv2d_forward(o.y, col, x, w, b, d, work);
        gm_conv2d_backward(o.din, o.dw, o.db, dy, col, w, d, work);
        free(col);
    } else {
        work = fbuf(gm_conv_transpose2d_work_size(d));
        gm_conv_transpose2d_forward(o.y, x, w, b, d, work);
        gm_conv_transpose2d_backward(o.din, o.dw, o.db, dy, x, w, d, work);
    }
    free(work);
    return o;
}

/* conv dims (tr = 0) or transposed-conv dims (tr = 1) from B, C, OC, H, W, K */
static gm_conv_dims mk(int tr, size_t B, size_t C, size_t OC, size_t H, size_t W, size_t K) {
    gm_conv_dims d = {B, C, H, W, OC, K, 2, 1, 0, 0};
    int rc = tr ? gm_conv_transpose2d_dims(&d) : gm_conv2d_dims(&d);
    CHECK_OK(rc);
    return d;
}

static const size_t SHAPES[][6] = {/* B, C, OC, H, W, K (conv input H x W; the transposed conv maps H x W up) */
                                   {3, 5, 7, 6, 6, 4},  {2, 1, 16, 28, 28, 4}, {4, 16, 1, 14, 14, 4}, {1, 3, 9, 4, 10, 4},
                                   {5, 2, 3, 2, 2, 4},  {64, 2, 2, 14, 14, 4}, {2, 32, 5, 8, 6, 4},   {3, 4, 6, 6, 8, 3},
                                   {2, 1, 5, 10, 4, 3}, {4, 9, 1, 2, 2, 3},
                                   {20, 32, 8, 14, 14, 4}}; /* the last: batch chunks of 11 + 9 images */

static void check_vs(int tr, int isa_loop) {
    gm_rng r;
    gm_rng_init(&r, 3 + (uint64_t)tr, 0);
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        const size_t *v = SHAPES[s];
        /* the transposed conv gets (H/2, W/2) inputs so that it maps up to the conv's shapes */
        gm_conv_dims d = tr ? mk(1, v[0], v[1], v[2], v[3] / 2, v[4] / 2, v[5]) : mk(0, v[0], v[1], v[2], v[3], v[4], v[5]);
        if (tr && v[5] == 3) { /* K 3 stride 2 pad 1 maps H up to 2H - 1: no even phase split */
            CHECK(!gm__convts2_applies(&d));
            continue;
        }
        CHECK(tr ? gm__convts2_applies(&d) : gm__convs2_applies(&d));
        size_t nx, ny, nw;
        sizes(&d, &nx, &ny, &nw);
        float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *dy = fbuf(ny);
        fill(x, nx, &r, 1.0), fill(w, nw, &r, 0.3), fill(b, d.OC, &r, 0.5), fill(dy, ny, &r, 1.0);
        s2_out k = run(0, tr, &d, x, w, b, dy), f = run(1, tr, &d, x, w, b, dy), g = run(2, tr, &d, x, w, b, dy);
        double e[4] = {rel(k.y, f.y, ny), rel(k.din, f.din, nx), rel(k.dw, f.dw, nw), rel(k.db, f.db, d.OC)};
        double e2[4] = {rel(k.y, g.y, ny), rel(k.din, g.din, nx), rel(k.dw, g.dw, nw), rel(k.db, g.db, d.OC)};
        for (int i = 0; i < 4; i++) {
            /* the naive twins sum the bias gradient in float (up to 64 x 784 terms): 2e-5 there */
            const double tol = i == 3 ? 2e-5 : 2e-6;
            if (!(e[i] <= tol) || !(e2[i] <= 2e-6))
                fprintf(stderr, "  %s shape %zu output %d: rel err vs ref %.3g, vs im2col %.3g\n", tr ? "convT" : "conv", s,
                        i, e[i], e2[i]);
            CHECK(e[i] <= tol && e2[i] <= 2e-6);
        }
        if (isa_loop) /* forward and input gradient: the same bits on every instruction set */
            for (int isa = GM__ISA_C; isa <= gm__conv3_isa(); isa++) {
                gm__conv3_force_isa(isa);
                s2_out c = run(0, tr, &d, x, w, b, dy);
                gm__conv3_force_isa(-1);
                CHECK(same(c.y, k.y, ny) && same(c.din, k.din, nx));
                CHECK(rel(c.dw, k.dw, nw) <= 2e-6);
                free_out(&c);
            }
        free_out(&k), free_out(&f), free_out(&g);
        free(x), free(w), free(b), free(dy);
    }
}
GM_TEST(test_convs2_vs_ref) { check_vs(0, 1); }
GM_TEST(test_convts2_vs_ref) { check_vs(1, 1); }

/* 1 vs 2 threads bitwise (GAN-sized: the parallel branches run), and din_set writes = adds into zeros */
GM_TEST(test_s2_threads_and_set) {
    for (int tr = 0; tr < 2; tr++) {
        gm_conv_dims d = tr ? mk(1, 64, 64, 32, 7, 7, 4) : mk(0, 64, 32, 64, 14, 14, 4);
        size_t nx, ny, nw;
        sizes(&d, &nx, &ny, &nw);
        gm_rng r;
        gm_rng_init(&r, 9, 0);
        float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *dy = fbuf(ny);
        fill(x, nx, &r, 1.0), fill(w, nw, &r, 0.2), fill(b, d.OC, &r, 0.3), fill(dy, ny, &r, 1.0);
        gm_test_set_threads(1);
        s2_out a = run(0, tr, &d, x, w, b, dy);
        gm_test_set_threads(2);
        s2_out c = run(0, tr, &d, x, w, b, dy);
        CHECK(same(a.y, c.y, ny) && same(a.din, c.din, nx) && same(a.dw, c.dw, nw) && same(a.db, c.db, d.OC));
        /* din_set: garbage in din is overwritten with exactly 0 + grad */
        float *z = fbuf(nx), *g = fbuf(nx), *work = fbuf(tr ? gm__convts2_work_size(&d) : gm__convs2_work_size(&d));
        for (size_t i = 0; i < nx; i++) g[i] = NAN;
        (tr ? gm__convts2_backward : gm__convs2_backward)(z, NULL, NULL, dy, x, w, &d, 0, work);
        (tr ? gm__convts2_backward : gm__convs2_backward)(g, NULL, NULL, dy, x, w, &d, 1, work);
        CHECK(same(z, g, nx));
        free_out(&a), free_out(&c);
        free(x), free(w), free(b), free(dy), free(z), free(g), free(work);
    }
}

/* L = 1/2 sum (r . y)^2 over the outputs, in double; dL/dy = r^2 y */
static double loss(int tr, const gm_conv_dims *d, const float *x, const float *w, const float *b, const float *r,
                   float *y, float *work) {
    (tr ? gm__convts2_forward : gm__convs2_forward)(y, x, w, b, d, work);
    size_t nx, ny, nw;
    sizes(d, &nx, &ny, &nw);
    double s = 0;
    for (size_t i = 0; i < ny; i++) s += 0.5 * (double)r[i] * (double)r[i] * (double)y[i] * (double)y[i];
    return s;
}

GM_TEST(test_s2_gradcheck) {
    for (int tr = 0; tr < 2; tr++)
        for (size_t K = tr ? 4 : 3; K <= 4; K++) {
            gm_conv_dims d = tr ? mk(1, 2, 3, 4, 3, 4, K) : mk(0, 2, 3, 4, 6, 8, K);
            size_t nx, ny, nw;
            sizes(&d, &nx, &ny, &nw);
            gm_rng rg;
            gm_rng_init(&rg, 21 + K, (uint64_t)tr);
            float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *r = fbuf(ny), *y = fbuf(ny), *dy = fbuf(ny);
            float *gx = fbuf(nx), *gw = fbuf(nw), *gb = fbuf(d.OC);
            float *work = fbuf(tr ? gm__convts2_work_size(&d) : gm__convs2_work_size(&d));
            fill(x, nx, &rg, 1.0), fill(w, nw, &rg, 0.5), fill(b, d.OC, &rg, 0.5), fill(r, ny, &rg, 1.0);
            loss(tr, &d, x, w, b, r, y, work);
            for (size_t i = 0; i < ny; i++) dy[i] = r[i] * r[i] * y[i];
            (tr ? gm__convts2_backward : gm__convs2_backward)(gx, gw, gb, dy, x, w, &d, 0, work);
            float *ps[3] = {x, w, b}, *gs[3] = {gx, gw, gb};
            size_t ns[3] = {nx, nw, d.OC};
            static const char *names[3] = {"x", "w", "b"};
            for (int t = 0; t < 3; t++) {
                gm_gc gc = {0};
                for (size_t i = 0; i < ns[t]; i++) {
                    const float v0 = ps[t][i], h = 1e-2f, vp = v0 + h, vm = v0 - h;
                    ps[t][i] = vp;
                    double lp = loss(tr, &d, x, w, b, r, y, work);
                    ps[t][i] = vm;
                    double lm = loss(tr, &d, x, w, b, r, y, work);
                    ps[t][i] = v0;
                    gm_gc_add(&gc, i, (double)gs[t][i], (lp - lm) / ((double)vp - (double)vm));
                }
                char nm[48];
                snprintf(nm, sizeof nm, "%s K%zu d%s", tr ? "convT" : "conv", K, names[t]);
                CHECK(gm_gc_ok(&gc, nm, 1e-2, 1e-3));
            }
            free(x), free(w), free(b), free(r), free(y), free(dy), free(gx), free(gw), free(gb), free(work);
        }
}

/* the tape ops take the grid path for K = 4 stride 2 pad 1 and give the kernel's bits; an odd input falls
 * back to im2col */
GM_TEST(test_s2_tape) {
    if (gm__conv3_isa() == GM__ISA_C) GM_SKIP("the tape uses the grid kernels only with SIMD");
    gm_rng rg;
    gm_rng_init(&rg, 4, 0);
    float xv[2 * 3 * 8 * 6], wv[5 * 3 * 16], bv[5], wt[3 * 5 * 16], gxa[2 * 3 * 8 * 6] = {0}, gw[5 * 3 * 16] = {0};
    fill(xv, sizeof xv / 4, &rg, 1), fill(wv, sizeof wv / 4, &rg, 1), fill(bv, 5, &rg, 1), fill(wt, sizeof wt / 4, &rg, 1);
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    int64_t xs[4] = {2, 3, 8, 6}, ws[4] = {5, 3, 4, 4}, wts[4] = {3, 5, 4, 4}, bs[1] = {5};
    gm_var *x = gm_tape_param(t, xv, gxa, 4, xs);
    gm_var *y = gm_op_conv2d(t, x, gm_tape_param(t, wv, gw, 4, ws), gm_tape_input(t, bv, 1, bs, 0), 2, 1);
    gm_var *z = gm_op_conv_transpose2d(t, x, gm_tape_input(t, wt, 4, wts, 0), gm_tape_input(t, bv, 1, bs, 0), 2, 1);
    CHECK_OK(gm_tape_status(t));
    gm_conv_dims d = mk(0, 2, 3, 5, 8, 6, 4), dt = mk(1, 2, 3, 5, 8, 6, 4);
    float yr[2 * 5 * 4 * 3], zr[2 * 5 * 16 * 12];
    float *work = fbuf(gm__convts2_work_size(&dt) + gm__convs2_work_size(&d));
    gm__convs2_forward(yr, xv, wv, bv, &d, work);
    gm__convts2_forward(zr, xv, wt, bv, &dt, work);
    CHECK(y && z && same(y->val, yr, sizeof yr / 4) && same(z->val, zr, sizeof zr / 4));
    CHECK_OK(gm_tape_backward(t, gm_op_add(t, gm_op_sum(t, y), gm_op_sum(t, z))));
    /* the same gradients from the kernels: dx = conv^T(1) + convT^T(1), dw = conv weight gradient of 1 */
    float ones[2 * 5 * 16 * 12], gx2[2 * 3 * 8 * 6] = {0}, gw2[5 * 3 * 16] = {0};
    for (size_t i = 0; i < sizeof ones / 4; i++) ones[i] = 1.0f;
    gm__convs2_backward(gx2, gw2, NULL, ones, xv, wv, &d, 0, work);
    gm__convts2_backward(gx2, NULL, NULL, ones, xv, wt, &dt, 0, work);
    CHECK(rel(gxa, gx2, sizeof gx2 / 4) <= 1e-6 && same(gw, gw2, sizeof gw / 4));
    gm_tape_reset(t);
    /* K = 3 stride 2 (the U-Net's down-sampling) takes the phase-grid kernel too, forward and gradients */
    float w3[5 * 3 * 9], gw3[5 * 3 * 9] = {0}, gw3k[5 * 3 * 9] = {0}, gx3[2 * 3 * 8 * 6] = {0}, gx3k[2 * 3 * 8 * 6] = {0};
    fill(w3, sizeof w3 / 4, &rg, 1);
    int64_t w3s[4] = {5, 3, 3, 3};
    gm_var *x3 = gm_tape_param(t, xv, gx3, 4, xs);
    gm_var *y3 = gm_op_conv2d(t, x3, gm_tape_param(t, w3, gw3, 4, w3s), gm_tape_input(t, bv, 1, bs, 0), 2, 1);
    gm_conv_dims d3 = mk(0, 2, 3, 5, 8, 6, 3);
    float y3r[2 * 5 * 4 * 3];
    gm__convs2_forward(y3r, xv, w3, bv, &d3, work);
    CHECK(y3 && gm__convs2_applies(&d3) && same(y3->val, y3r, sizeof y3r / 4));
    CHECK_OK(gm_tape_backward(t, gm_op_sum(t, y3)));
    gm__convs2_backward(gx3k, gw3k, NULL, ones, xv, w3, &d3, 0, work);
    CHECK(same(gx3, gx3k, sizeof gx3 / 4) && same(gw3, gw3k, sizeof gw3 / 4));
    gm_tape_reset(t);
    int64_t os[4] = {1, 3, 7, 7};
    gm_var *xo = gm_tape_input(t, xv, 4, os, 0); /* 7x7: no even phase split, the im2col path */
    gm_var *yo = gm_op_conv2d(t, xo, gm_tape_input(t, wv, 4, ws, 0), NULL, 2, 1);
    gm_conv_dims od = mk(0, 1, 3, 5, 7, 7, 4);
    CHECK(!gm__convs2_applies(&od) && yo != NULL && yo->shape[2] == 3);
    float yo_ref[5 * 9];
    gm_conv2d_forward_ref(yo_ref, xv, wv, NULL, &od);
    CHECK(yo && rel(yo->val, yo_ref, 45) <= 2e-6);
    gm_tape_free(t);
    free(work);
}

/* conv + bias + LeakyReLU fused (gm__convs2_*_lrelu) = the conv kernels then gm_act_*, bit for bit, on every
 * instruction set; and the tape op gm_op_conv2d_lrelu = gm_op_act(gm_op_conv2d) in values and gradients */
GM_TEST(test_s2_lrelu) {
    /* the last two: output rows wider than 64 pixels, and output planes of more than 1024 pixels (the bias
     * sums' pixel-by-pixel and piecewise paths) */
    const size_t shapes[][6] = {{3, 5, 7, 6, 6, 4},     {64, 32, 64, 14, 14, 4}, {2, 1, 16, 28, 28, 4},
                                {1, 3, 9, 4, 10, 4},    {1, 2, 3, 96, 140, 4},   {2, 2, 3, 80, 60, 4}};
    gm_rng r;
    gm_rng_init(&r, 12, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t *v = shapes[s];
        gm_conv_dims d = mk(0, v[0], v[1], v[2], v[3], v[4], v[5]);
        size_t nx, ny, nw;
        sizes(&d, &nx, &ny, &nw);
        float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *g = fbuf(ny), *z = fbuf(ny), *y = fbuf(ny), *y2 = fbuf(ny);
        float *dz = fbuf(ny), *work = fbuf(gm__convs2_work_size(&d));
        fill(x, nx, &r, 1.0), fill(w, nw, &r, 0.3), fill(b, d.OC, &r, 0.5), fill(g, ny, &r, 1.0);
        x[0] = 0.0f;
        s2_out a = alloc_out(&d), c = alloc_out(&d);
        gm__convs2_forward(z, x, w, b, &d, work); /* the separate ops */
        if (s >= 4) { /* + and - 2^40 in turn on the pixels where the slope is 1 (an even number per channel): the
                       * bias gradient is O(10), the double partial sums O(2^40), so the float result shows the
                       * order of the sums (gm__channel_sums' and the fused op's must be one order) */
            const size_t P = d.OH * d.OW;
            for (size_t o = 0; o < d.OC; o++) {
                size_t npos = 0, k = 0;
                for (size_t bi = 0; bi < d.B; bi++)
                    for (size_t p = 0; p < P; p++) npos += z[(bi * d.OC + o) * P + p] > 0.0f;
                for (size_t bi = 0; bi < d.B; bi++)
                    for (size_t p = 0; p < P; p++) {
                        const size_t i = (bi * d.OC + o) * P + p;
                        if (z[i] > 0.0f && k < npos / 2 * 2) g[i] += k++ % 2 ? -0x1p40f : 0x1p40f;
                    }
            }
        }
        gm_act_forward(GM_ACT_LEAKY_RELU, y, z, ny, 0.2f);
        gm_act_backward(GM_ACT_LEAKY_RELU, dz, g, z, y, ny, 0.2f);
        gm__convs2_backward(a.din, a.dw, a.db, dz, x, w, &d, 0, work);
        for (int isa = GM__ISA_C; isa <= gm__conv3_isa(); isa++) {
            gm__conv3_force_isa(isa);
            gm__convs2_forward_lrelu(y2, x, w, b, 0.2f, &d, work);
            CHECK(same(y, y2, ny));
            gm__conv3_force_isa(-1);
        }
        gm__convs2_backward_lrelu(c.din, c.dw, c.db, g, y2, 0.2f, x, w, &d, 0, work);
        CHECK(same(a.din, c.din, nx) && same(a.dw, c.dw, nw) && same(a.db, c.db, d.OC));
        free_out(&a), free_out(&c);
        free(x), free(w), free(b), free(g), free(z), free(y), free(y2), free(dz), free(work);
    }
    /* tape: fused node vs the two ops (and the fallback for a 7x7 input is the two ops) */
    for (int fused = 0; fused < 2; fused++) {
        float xv[2 * 3 * 8 * 6], wv[5 * 3 * 16], bv[5], rv[2 * 5 * 4 * 3];
        gm_rng_init(&r, 13, 0);
        fill(xv, sizeof xv / 4, &r, 1), fill(wv, sizeof wv / 4, &r, 1), fill(bv, 5, &r, 1), fill(rv, sizeof rv / 4, &r, 1);
        static float ref_y[2 * 5 * 4 * 3], ref_gx[2 * 3 * 8 * 6], ref_gw[5 * 3 * 16], ref_gb[5];
        float gw[5 * 3 * 16] = {0}, gb[5] = {0};
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        int64_t xs[4] = {2, 3, 8, 6}, ws[4] = {5, 3, 4, 4}, bs[1] = {5};
        gm_var *x = gm_tape_input(t, xv, 4, xs, 1), *w = gm_tape_param(t, wv, gw, 4, ws), *b = gm_tape_param(t, bv, gb, 1, bs);
        size_t n0 = gm_tape_node_count(t);
        gm_var *y = fused ? gm_op_conv2d_lrelu(t, x, w, b, 2, 1, 0.2f)
                          : gm_op_act(t, gm_op_conv2d(t, x, w, b, 2, 1), GM_ACT_LEAKY_RELU, 0.2f);
        CHECK_OK(gm_tape_status(t));
        if (fused && gm__conv3_isa() != GM__ISA_C) CHECK(gm_tape_node_count(t) == n0 + 1);
        CHECK_OK(gm_tape_backward_from(t, y, rv));
        if (!fused) {
            memcpy(ref_y, y->val, sizeof ref_y), memcpy(ref_gx, x->grad, sizeof ref_gx);
            memcpy(ref_gw, gw, sizeof gw), memcpy(ref_gb, gb, sizeof gb);
        } else
            CHECK(same(ref_y, y->val, 120) && same(ref_gx, x->grad, 288) && same(ref_gw, gw, 240) && same(ref_gb, gb, 5));
        gm_tape_reset(t);
        int64_t os[4] = {1, 3, 7, 7};
        gm_var *yo = gm_op_conv2d_lrelu(t, gm_tape_input(t, xv, 4, os, 1), gm_tape_input(t, wv, 4, ws, 0), NULL, 2, 1, 0.2f);
        CHECK(yo != NULL && gm_tape_node_count(t) == 2); /* conv2d + act */
        gm_tape_free(t);
    }
}

/* the vector loops of gm_act_forward/backward equal the scalar twins bit for bit */
GM_TEST(test_act_fast_bits) {
    enum { N = 4099 };
    float *x = fbuf(N), *y = fbuf(N), *y2 = fbuf(N), *g = fbuf(N), *d = fbuf(N), *d2 = fbuf(N), *yt = fbuf(N);
    gm_rng r;
    gm_rng_init(&r, 8, 0);
    fill(x, N, &r, 3.0), fill(g, N, &r, 1.0);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = NAN, x[3] = -NAN, x[N - 1] = -1.0f, x[N - 2] = 2.0f;
    gm_act acts[3] = {GM_ACT_RELU, GM_ACT_LEAKY_RELU, GM_ACT_TANH};
    for (int a = 0; a < 3; a++)
        for (size_t n = N - 4; n <= N; n += 2) { /* tails of 3 and 1 after the blocks of 4 */
            gm_act_forward(acts[a], y, x, n, 0.2f);
            gm_act_forward_ref(acts[a], y2, x, n, 0.2f);
            CHECK(same(y, y2, n));
            gm_act_forward_ref(GM_ACT_TANH, yt, x, n, 0.0f);
            for (size_t i = 0; i < n; i++) d[i] = d2[i] = (float)i * 0.001f - 1.0f;
            gm_act_backward(acts[a], d, g, x, yt, n, 0.2f);
            gm_act_backward_ref(acts[a], d2, g, x, yt, n, 0.2f);
            CHECK(same(d, d2, n));
        }
    free(x), free(y), free(y2), free(g), free(d), free(d2), free(yt);
}

/* the weight gradient's lane sums: the vectorised pairwise tree (gm__lane_sums) bitwise its scalar twin, for
 * 16, 8 and 1 lanes, 1 and 2 threads, a count that is not a multiple of the thread blocks, pre-filled dw */
GM_TEST(test_lane_sums) {
    enum { N = 1000 };
    static float lanes[N * 16], a[N], b[N];
    gm_rng rg;
    gm_rng_init(&rg, 12, 0);
    for (int vw = 16; vw >= 1; vw /= 2) {
        fill(lanes, (size_t)N * (size_t)vw, &rg, 1e3);
        for (size_t i = 0; i < N; i += 7) lanes[i * (size_t)vw] = 3e7f; /* large and small lanes: the order shows */
        for (int th = 1; th <= 2; th++) {
            gm_test_set_threads(th);
            for (size_t i = 0; i < N; i++) a[i] = b[i] = (float)i - 100.0f;
            gm__lane_sums(a, lanes, N, vw);
            gm__lane_sums_ref(b, lanes, N, vw);
            CHECK(same(a, b, N));
        }
        if (vw == 8) vw = 2; /* 16, 8, 1 */
    }
    double t[16] = {0};
    for (int j = 0; j < 16; j++) lanes[j] = (float)(j * j) - 7.5f, t[j] = (double)lanes[j];
    double e[8]; /* the tree by hand: h = 8, 4, then (e0 + e2) + (e1 + e3) */
    for (int j = 0; j < 8; j++) e[j] = t[j] + t[j + 8];
    for (int j = 0; j < 4; j++) e[j] += e[j + 4];
    const double want = (e[0] + e[2]) + (e[1] + e[3]);
    a[0] = 0.0f;
    gm__lane_sums(a, lanes, 1, 16);
    CHECK(a[0] == (float)want);
}

GM_TEST_MAIN({"lane_sums", test_lane_sums}, {"convs2_vs_ref", test_convs2_vs_ref}, {"convts2_vs_ref", test_convts2_vs_ref},
             {"s2_threads_and_set", test_s2_threads_and_set}, {"s2_gradcheck", test_s2_gradcheck},
             {"s2_tape", test_s2_tape}, {"s2_lrelu", test_s2_lrelu}, {"act_fast_bits", test_act_fast_bits})
