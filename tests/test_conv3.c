/* SPDX-License-Identifier: MIT */
/* test_conv3.c — the U-Net speed kernels against their naive twins:
 *   - 3x3 stride-1 grid convolution (src/nn/nn_conv3.c) vs gm_conv2d_forward_ref/backward_ref on odd
 *     shapes (1 and many channels, non-square, width 1, a batch that does not fill the last tile), += into
 *     pre-filled gradients; forward and input gradient bitwise equal on every instruction-set path the CPU
 *     has (plain C, AVX2, AVX-512); bitwise equal for 1 and 2 threads; the same for the 1x1 convolution
 *     (one GEMM per image);
 *   - fused group norm + SiLU and group norm + ReLU (src/nn/nn_gnsilu.c) vs their naive twins (group norm
 *     then SiLU with libm / then ReLU), finite-difference checks (max and mean criteria; ReLU: entries whose
 *     step moves a unit across the kink are left out, at most a quarter), 1 vs 2 threads bitwise, the tape
 *     ops (gm_op_groupnorm_relu vs gm_op_groupnorm then gm_op_act in values and gradients); its expf against double exp (max relative
 *     error over [-87, 0]), NaN propagation and the sigmoid's tails. */
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
static double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}
/* max |a - b| / max |b| */
static double rel(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    double m = maxabs(b, n);
    return d / (m > 0 ? m : 1);
}

typedef struct {
    float *y, *din, *dw, *db;
} c3_out;

static c3_out run_conv3(const gm_conv_dims *d, const float *x, const float *w, const float *b, const float *dy) {
    c3_out o;
    size_t nx = d->B * d->C * d->H * d->W, ny = d->B * d->OC * d->H * d->W, nw = d->OC * d->C * 9;
    o.y = fbuf(ny), o.din = fbuf(nx), o.dw = fbuf(nw), o.db = fbuf(d->OC);
    for (size_t i = 0; i < nx; i++) o.din[i] = 0.5f; /* backward adds */
    for (size_t i = 0; i < nw; i++) o.dw[i] = -0.25f;
    for (size_t i = 0; i < d->OC; i++) o.db[i] = 1.0f;
    float *work = fbuf(gm__conv3_work_size(d));
    gm__conv3_forward(o.y, x, w, b, d, work);
    gm__conv3_backward(o.din, o.dw, o.db, dy, x, w, d, 0, work);
    free(work);
    return o;
}
static void free_out(c3_out *o) { free(o->y), free(o->din), free(o->dw), free(o->db); }

GM_TEST(test_conv3_vs_ref) {
    /* B, C, OC, H, W */
    const size_t shapes[][5] = {{3, 5, 7, 6, 6}, {2, 1, 16, 28, 28}, {4, 16, 1, 7, 7}, {1, 3, 9, 5, 11},
                                {5, 2, 3, 4, 1}, {64, 2, 2, 7, 7}, {2, 32, 5, 9, 8}};
    gm_rng r;
    gm_rng_init(&r, 5, 0);
    int max_isa = gm__conv3_isa();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        gm_conv_dims d = {shapes[s][0], shapes[s][1], shapes[s][3], shapes[s][4], shapes[s][2], 3, 1, 1, 0, 0};
        CHECK_OK(gm_conv2d_dims(&d));
        CHECK(gm__conv3_applies(&d));
        size_t nx = d.B * d.C * d.H * d.W, ny = d.B * d.OC * d.OH * d.OW, nw = d.OC * d.C * 9;
        float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *dy = fbuf(ny);
        fill(x, nx, &r, 1.0), fill(w, nw, &r, 0.5), fill(b, d.OC, &r, 0.3), fill(dy, ny, &r, 1.0);
        float *yr = fbuf(ny), *dinr = fbuf(nx), *dwr = fbuf(nw), *dbr = fbuf(d.OC);
        for (size_t i = 0; i < nx; i++) dinr[i] = 0.5f;
        for (size_t i = 0; i < nw; i++) dwr[i] = -0.25f;
        for (size_t i = 0; i < d.OC; i++) dbr[i] = 1.0f;
        gm_conv2d_forward_ref(yr, x, w, b, &d);
        gm_conv2d_backward_ref(dinr, dwr, dbr, dy, x, w, &d);
        c3_out base = {0};
        for (int isa = GM__ISA_C; isa <= max_isa; isa++) {
            gm__conv3_force_isa(isa);
            c3_out o = run_conv3(&d, x, w, b, dy);
            double ey = rel(o.y, yr, ny), ed = rel(o.din, dinr, nx), ew = rel(o.dw, dwr, nw), eb = rel(o.db, dbr, d.OC);
            /* the twin's weight/bias gradients are float sums over B*H*W terms: 1e-5 */
            if (ey > 1e-6 || ed > 1e-6 || ew > 1e-5 || eb > 1e-5)
                fprintf(stderr, "  shape %zu isa %d: y %.2g din %.2g dw %.2g db %.2g\n", s, isa, ey, ed, ew, eb);
            CHECK(ey <= 1e-6 && ed <= 1e-6 && ew <= 1e-5 && eb <= 1e-5);
            /* din_set: a garbage din is overwritten with the bits of adding into zeros */
            float *dz = fbuf(nx), *dg = fbuf(nx), *wk = fbuf(gm__conv3_work_size(&d));
            for (size_t i = 0; i < nx; i++) dg[i] = NAN;
            gm__conv3_backward(dz, NULL, NULL, dy, x, w, &d, 0, wk);
            gm__conv3_backward(dg, NULL, NULL, dy, x, w, &d, 1, wk);
            CHECK(memcmp(dz, dg, nx * sizeof(float)) == 0);
            free(dz), free(dg), free(wk);
            if (isa == GM__ISA_C) {
                base = o;
                continue;
            }
            /* every output is one fused sum in the same order on every path */
            CHECK(memcmp(o.y, base.y, ny * sizeof(float)) == 0);
            CHECK(memcmp(o.din, base.din, nx * sizeof(float)) == 0);
            CHECK(memcmp(o.db, base.db, d.OC * sizeof(float)) == 0);
            free_out(&o);
        }
        gm__conv3_force_isa(-1);
        free_out(&base);
        free(x), free(w), free(b), free(dy), free(yr), free(dinr), free(dwr), free(dbr);
    }
}

GM_TEST(test_conv3_threads) {
    gm_conv_dims d = {64, 16, 14, 14, 32, 3, 1, 1, 0, 0};
    CHECK_OK(gm_conv2d_dims(&d));
    size_t nx = d.B * d.C * d.H * d.W, ny = d.B * d.OC * d.H * d.W, nw = d.OC * d.C * 9;
    gm_rng r;
    gm_rng_init(&r, 9, 0);
    float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *dy = fbuf(ny);
    fill(x, nx, &r, 1.0), fill(w, nw, &r, 0.2), fill(b, d.OC, &r, 0.3), fill(dy, ny, &r, 1.0);
    gm_test_set_threads(1);
    c3_out a = run_conv3(&d, x, w, b, dy);
    gm_test_set_threads(2);
    c3_out c = run_conv3(&d, x, w, b, dy);
    CHECK(memcmp(a.y, c.y, ny * sizeof(float)) == 0);
    CHECK(memcmp(a.din, c.din, nx * sizeof(float)) == 0);
    CHECK(memcmp(a.dw, c.dw, nw * sizeof(float)) == 0);
    CHECK(memcmp(a.db, c.db, d.OC * sizeof(float)) == 0);
    free_out(&a), free_out(&c);
    free(x), free(w), free(b), free(dy);
}

/* 1x1 convolution (one GEMM per image) vs the naive twin, += into pre-filled gradients, 1 vs 2 threads */
GM_TEST(test_conv1x1) {
    gm_conv_dims d = {5, 12, 7, 9, 6, 1, 1, 0, 0, 0};
    CHECK_OK(gm_conv2d_dims(&d));
    CHECK(gm__conv1x1_applies(&d));
    size_t nx = d.B * d.C * d.H * d.W, ny = d.B * d.OC * d.H * d.W, nw = d.OC * d.C;
    gm_rng r;
    gm_rng_init(&r, 12, 0);
    float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(d.OC), *dy = fbuf(ny), *yr = fbuf(ny);
    float *dxr = fbuf(nx), *dwr = fbuf(nw), *dbr = fbuf(d.OC);
    fill(x, nx, &r, 1.0), fill(w, nw, &r, 0.5), fill(b, d.OC, &r, 0.3), fill(dy, ny, &r, 1.0);
    for (size_t i = 0; i < nx; i++) dxr[i] = 0.5f;
    for (size_t i = 0; i < nw; i++) dwr[i] = -0.25f;
    gm_conv2d_forward_ref(yr, x, w, b, &d);
    gm_conv2d_backward_ref(dxr, dwr, dbr, dy, x, w, &d);
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int k = 0; k < 2; k++) {
        gm_test_set_threads(k + 1);
        y[k] = fbuf(ny), dx[k] = fbuf(nx), dw[k] = fbuf(nw), db[k] = fbuf(d.OC);
        for (size_t i = 0; i < nx; i++) dx[k][i] = 0.5f;
        for (size_t i = 0; i < nw; i++) dw[k][i] = -0.25f;
        gm__conv1x1_forward(y[k], x, w, b, &d);
        gm__conv1x1_backward(dx[k], dw[k], db[k], dy, x, w, &d);
        CHECK(rel(y[k], yr, ny) <= 1e-6 && rel(dx[k], dxr, nx) <= 1e-6);
        CHECK(rel(dw[k], dwr, nw) <= 1e-5 && rel(db[k], dbr, d.OC) <= 1e-5);
    }
    CHECK(memcmp(y[0], y[1], ny * sizeof(float)) == 0 && memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0 && memcmp(db[0], db[1], d.OC * sizeof(float)) == 0);
    for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(dw[k]), free(db[k]);
    free(x), free(w), free(b), free(dy), free(yr), free(dxr), free(dwr), free(dbr);
}

/* ---- group norm + SiLU ---------------------------------------------------------------------------- */

GM_TEST(test_expf_neg) {
    double worst = 0;
    for (int i = 0; i <= 2000000; i++) {
        float a = (float)(-87.0 * i / 2000000.0);
        double e = exp((double)a), got = (double)gm__expf_neg(a);
        worst = fmax(worst, fabs(got - e) / e);
    }
    fprintf(stderr, "  expf_neg max rel error over [-87, 0]: %.3g\n", worst);
    CHECK(worst <= 2.5e-7);
    CHECK(gm__expf_neg(0.0f) == 1.0f);
    CHECK(isnan(gm__expf_neg(NAN)));
    CHECK(gm__expf_neg(-1000.0f) > 0.0f && gm__expf_neg(-1000.0f) < 2e-38f);
    CHECK(isnan(gm__sigmoidf_fast(NAN)));
    CHECK(gm__sigmoidf_fast(200.0f) == 1.0f);
    CHECK(gm__sigmoidf_fast(-200.0f) >= 0.0f && gm__sigmoidf_fast(-200.0f) < 2e-38f);
    double ws = 0;
    for (int i = -4000; i <= 4000; i++) {
        float z = (float)(i / 100.0);
        double s = 1.0 / (1.0 + exp(-(double)z));
        ws = fmax(ws, fabs((double)gm__sigmoidf_fast(z) - s) / s);
    }
    fprintf(stderr, "  sigmoid max rel error over [-40, 40]: %.3g\n", ws);
    CHECK(ws <= 5e-7);
}

/* the fused group norm + activation kernels: relu = 0 SiLU, 1 ReLU */
typedef void (*gn_fwd_fn)(float *, float *, float *, const float *, const float *, const float *, size_t, size_t,
                          size_t, size_t, float);
typedef void (*gn_bwd_fn)(float *, float *, float *, const float *, const float *, const float *, const float *,
                          const float *, const float *, size_t, size_t, size_t, size_t, int, float *);
typedef void (*gn_bwd_ref_fn)(float *, float *, float *, const float *, const float *, const float *, const float *,
                              const float *, const float *, size_t, size_t, size_t, size_t, float *);

static void gn_act_vs_ref(int relu) {
    const gn_fwd_fn fwd = relu ? gm__gn_relu_forward : gm__gn_silu_forward,
                    fwd_ref = relu ? gm__gn_relu_forward_ref : gm__gn_silu_forward_ref;
    const gn_bwd_fn bwd = relu ? gm__gn_relu_backward : gm__gn_silu_backward;
    const gn_bwd_ref_fn bwd_ref = relu ? gm__gn_relu_backward_ref : gm__gn_silu_backward_ref;
    const char *nm[3] = {relu ? "gn_relu dx" : "gn_silu dx", relu ? "gn_relu dgamma" : "gn_silu dgamma",
                         relu ? "gn_relu dbeta" : "gn_silu dbeta"};
    const size_t shapes[][4] = {{3, 8, 49, 4}, {2, 16, 196, 4}, {5, 4, 7, 2}, {1, 6, 1, 3}}; /* B C S G */
    gm_rng r;
    gm_rng_init(&r, 3, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t B = shapes[s][0], C = shapes[s][1], S = shapes[s][2], G = shapes[s][3], N = B * C * S;
        float *x = fbuf(N), *g = fbuf(C), *be = fbuf(C), *dy = fbuf(N), *y = fbuf(N), *yr = fbuf(N);
        float *m = fbuf(B * G), *rs = fbuf(B * G), *mr = fbuf(B * G), *rsr = fbuf(B * G);
        fill(x, N, &r, 3.0), fill(g, C, &r, 1.5), fill(be, C, &r, 0.5), fill(dy, N, &r, 1.0);
        for (size_t i = 0; i < N; i++) x[i] += 2.0f; /* a nonzero mean */
        fwd(y, m, rs, x, g, be, B, C, S, G, 1e-5f);
        fwd_ref(yr, mr, rsr, x, g, be, B, C, S, G, 1e-5f);
        CHECK(rel(y, yr, N) <= 1e-6);
        size_t npos = 0;
        for (size_t i = 0; i < N; i++) npos += y[i] > 0.0f;
        if (N >= 100) /* both sides of the ReLU's kink (and SiLU's bend) are hit */
            CHECK(npos > N / 5 && npos < N - N / 5);
        CHECK(rel(m, mr, B * G) <= 1e-6 && rel(rs, rsr, B * G) <= 1e-6);
        float *dx = fbuf(N), *dg = fbuf(C), *db = fbuf(C), *dxr = fbuf(N), *dgr = fbuf(C), *dbr = fbuf(C);
        for (size_t i = 0; i < N; i++) dx[i] = dxr[i] = 0.25f;
        for (size_t i = 0; i < C; i++) dg[i] = dgr[i] = -1.0f, db[i] = dbr[i] = 2.0f;
        float *work = fbuf(gm__gn_silu_work_size(B, C, S, G)), *dz = fbuf(N);
        bwd(dx, dg, db, dy, x, m, rs, g, be, B, C, S, G, 0, work);
        bwd_ref(dxr, dgr, dbr, dy, x, mr, rsr, g, be, B, C, S, G, dz);
        double ex = rel(dx, dxr, N), eg = rel(dg, dgr, C), eb = rel(db, dbr, C);
        if (ex > 2e-6 || eg > 2e-6 || eb > 2e-6)
            fprintf(stderr, "  shape %zu: dx %.2g dg %.2g db %.2g\n", s, ex, eg, eb);
        CHECK(ex <= 2e-6 && eg <= 2e-6 && eb <= 2e-6);
        { /* din_set: garbage overwritten with the bits of adding into zeros */
            float *d0 = fbuf(N), *d1 = fbuf(N);
            for (size_t i = 0; i < N; i++) d1[i] = NAN;
            bwd(d0, NULL, NULL, dy, x, m, rs, g, be, B, C, S, G, 0, work);
            bwd(d1, NULL, NULL, dy, x, m, rs, g, be, B, C, S, G, 1, work);
            CHECK(memcmp(d0, d1, N * sizeof(float)) == 0);
            free(d0), free(d1);
        }
        /* finite differences of L = sum_i dy_i y_i (float forward, central, h = 1e-2 of unit-scale inputs);
         * only the small shapes: float round-off of L over more terms swamps small gradients */
        if (N <= 2000) {
            gm_gc gx = {0}, gg = {0}, gb = {0};
            float *yp = fbuf(N);
            size_t nkink = 0, ntot = 0;
            for (int which = 0; which < 3; which++) {
                float *v = which == 0 ? x : which == 1 ? g : be;
                float *an = which == 0 ? dx : which == 1 ? dg : db;
                size_t nv = which == 0 ? N : C;
                gm_gc *gc = which == 0 ? &gx : which == 1 ? &gg : &gb;
                for (size_t i = 0; i < nv; i++) {
                    float keep = v[i], h = 1e-2f;
                    double L[2];
                    int kink = 0;
                    for (int sgn = 0; sgn < 2; sgn++) {
                        v[i] = keep + (sgn ? -h : h);
                        fwd(yp, m, rs, x, g, be, B, C, S, G, 1e-5f);
                        double l = 0;
                        for (size_t j = 0; j < N; j++) l += (double)dy[j] * (double)yp[j];
                        for (size_t j = 0; relu && j < N; j++) kink |= (yp[j] > 0.0f) != (y[j] > 0.0f);
                        L[sgn] = l;
                    }
                    v[i] = keep;
                    ntot++;
                    if (kink) { /* a unit crossed the ReLU's kink within the step: no derivative to compare */
                        nkink++;
                        continue;
                    }
                    double base = which == 0 ? 0.25 : which == 1 ? -1.0 : 2.0;
                    gm_gc_add(gc, i, (double)an[i] - base, (L[0] - L[1]) / (2.0 * (double)h));
                }
            }
            CHECK(gm_gc_ok(&gx, nm[0], 2e-2, 2e-3));
            CHECK(gm_gc_ok(&gg, nm[1], 2e-2, 2e-3));
            CHECK(gm_gc_ok(&gb, nm[2], 2e-2, 2e-3));
            CHECK(nkink * 4 <= ntot); /* most entries are checked (ReLU: those far enough from the kink) */
            free(yp);
        }
        free(work), free(dz);
        free(x), free(g), free(be), free(dy), free(y), free(yr), free(m), free(rs), free(mr), free(rsr);
        free(dx), free(dg), free(db), free(dxr), free(dgr), free(dbr);
    }
}

GM_TEST(test_gn_silu_vs_ref) { gn_act_vs_ref(0); }
GM_TEST(test_gn_relu_vs_ref) { gn_act_vs_ref(1); }

static void gn_act_threads(int relu) {
    const gn_fwd_fn fwd = relu ? gm__gn_relu_forward : gm__gn_silu_forward;
    const gn_bwd_fn bwd = relu ? gm__gn_relu_backward : gm__gn_silu_backward;
    size_t B = 64, C = 32, S = 196, G = 4, N = B * C * S;
    gm_rng r;
    gm_rng_init(&r, 4, 0);
    float *x = fbuf(N), *g = fbuf(C), *be = fbuf(C), *dy = fbuf(N), *work = fbuf(gm__gn_silu_work_size(B, C, S, G));
    fill(x, N, &r, 2.0), fill(g, C, &r, 1.0), fill(be, C, &r, 0.5), fill(dy, N, &r, 1.0);
    float *y[2], *m = fbuf(B * G), *rs = fbuf(B * G), *dx[2], *dg[2], *db[2];
    for (int k = 0; k < 2; k++) {
        gm_test_set_threads(k + 1);
        y[k] = fbuf(N), dx[k] = fbuf(N), dg[k] = fbuf(C), db[k] = fbuf(C);
        fwd(y[k], m, rs, x, g, be, B, C, S, G, 1e-5f);
        bwd(dx[k], dg[k], db[k], dy, x, m, rs, g, be, B, C, S, G, 0, work);
    }
    CHECK(memcmp(y[0], y[1], N * sizeof(float)) == 0);
    CHECK(memcmp(dx[0], dx[1], N * sizeof(float)) == 0);
    CHECK(memcmp(dg[0], dg[1], C * sizeof(float)) == 0 && memcmp(db[0], db[1], C * sizeof(float)) == 0);
    for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(dg[k]), free(db[k]);
    free(x), free(g), free(be), free(dy), free(work), free(m), free(rs);
}
GM_TEST(test_gn_silu_threads) { gn_act_threads(0); }
GM_TEST(test_gn_relu_threads) { gn_act_threads(1); }

/* the tape op: one node, same values as the kernel, shape errors reported */
GM_TEST(test_gn_silu_op) {
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    float xv[2 * 4 * 3], gv[4] = {1, 2, 3, 4}, bv[4] = {0, 1, 0, -1}, gg[4] = {0}, gb[4] = {0};
    for (int i = 0; i < 24; i++) xv[i] = (float)((i * 7) % 5) - 2.0f;
    int64_t xs[3] = {2, 4, 3}, cs[1] = {4};
    gm_var *x = gm_tape_input(t, xv, 3, xs, 1);
    gm_var *y = gm_op_groupnorm_silu(t, x, 2, gm_tape_param(t, gv, gg, 1, cs), gm_tape_param(t, bv, gb, 1, cs), 1e-5f);
    CHECK_OK(gm_tape_status(t));
    CHECK(y != NULL && gm_tape_node_count(t) == 1);
    float yr[24], m[4], rs[4];
    gm__gn_silu_forward(yr, m, rs, xv, gv, bv, 2, 4, 3, 2, 1e-5f);
    CHECK(y && memcmp(y->val, yr, sizeof yr) == 0);
    CHECK_OK(gm_tape_backward(t, gm_op_sum(t, y)));
    CHECK(x->grad != NULL && gb[0] != 0.0f);
    CHECK(gm_op_groupnorm_silu(t, x, 3, NULL, NULL, 1e-5f) == NULL); /* 4 channels, 3 groups */
    CHECK(gm_tape_status(t) == GM_ESHAPE);
    gm_tape_free(t);
}

/* the ReLU op: one node, the kernel's values, and the values and gradients of group norm then ReLU (two
 * nodes) within float rounding (the group sums are accumulated in a different order) */
GM_TEST(test_gn_relu_op) {
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    enum { B = 3, C = 8, S = 10, N = B * C * S };
    float xv[N], gv[C], bv[C], gg[2][C] = {{0}}, gb[2][C] = {{0}}, gx[2][N] = {{0}};
    gm_rng r;
    gm_rng_init(&r, 9, 0);
    fill(xv, N, &r, 2.0), fill(gv, C, &r, 1.5), fill(bv, C, &r, 0.5);
    int64_t xs[3] = {B, C, S}, cs[1] = {C};
    float yk[N];
    for (int fused = 1; fused >= 0; fused--) {
        gm_tape_reset(t);
        gm_var *x = gm_tape_param(t, xv, gx[fused], 3, xs), *g = gm_tape_param(t, gv, gg[fused], 1, cs),
               *b = gm_tape_param(t, bv, gb[fused], 1, cs);
        gm_var *y = fused ? gm_op_groupnorm_relu(t, x, 4, g, b, 1e-5f)
                          : gm_op_act(t, gm_op_groupnorm(t, x, 4, g, b, 1e-5f), GM_ACT_RELU, 0.0f);
        CHECK_OK(gm_tape_status(t));
        CHECK(y != NULL);
        if (!y) break;
        if (fused) {
            CHECK(gm_tape_node_count(t) == 1);
            float m[B * 4], rs[B * 4];
            gm__gn_relu_forward(yk, m, rs, xv, gv, bv, B, C, S, 4, 1e-5f);
            CHECK(memcmp(y->val, yk, sizeof yk) == 0);
        } else
            CHECK(rel(y->val, yk, N) <= 1e-6);
        /* a weighted sum, so the gradients are not those of a plain sum (which group norm cancels) */
        float wv[N];
        gm_rng_init(&r, 10, 0);
        fill(wv, N, &r, 1.0);
        CHECK_OK(gm_tape_backward_from(t, y, wv));
    }
    CHECK(rel(gx[1], gx[0], N) <= 2e-6 && rel(gg[1], gg[0], C) <= 2e-6 && rel(gb[1], gb[0], C) <= 2e-6);
    CHECK(maxabs(gx[1], N) > 0 && maxabs(gg[1], C) > 0);
    gm_tape_reset(t);
    gm_var *x = gm_tape_input(t, xv, 3, xs, 1);
    CHECK(gm_op_groupnorm_relu(t, x, 3, NULL, NULL, 1e-5f) == NULL); /* 8 channels, 3 groups */
    CHECK(gm_tape_status(t) == GM_ESHAPE);
    gm_tape_free(t);
}

GM_TEST_MAIN({"conv3_vs_ref", test_conv3_vs_ref}, {"conv3_threads", test_conv3_threads}, {"conv1x1", test_conv1x1},
             {"expf_neg", test_expf_neg},
             {"gn_silu_vs_ref", test_gn_silu_vs_ref}, {"gn_silu_threads", test_gn_silu_threads},
             {"gn_silu_op", test_gn_silu_op}, {"gn_relu_vs_ref", test_gn_relu_vs_ref},
             {"gn_relu_threads", test_gn_relu_threads}, {"gn_relu_op", test_gn_relu_op})
