/* SPDX-License-Identifier: MIT */
/* test_nn.c — every nn kernel: float32 central-difference gradient checks (per input tensor, pass only if
 * the mean of |a-b|/(|a|+|b|+1e-3) <= 1e-4 AND its max <= 1e-2, gm_test.h gm_gc; inputs kept away from
 * kinks; the step is 1e-2 unless the op's curvature or its float32 round-off needs another), fast ==
 * reference, and identical results with 1 and 2 OpenMP threads. The scalar checked is L = sum r_i out_i
 * with a fixed random r, so backward is called with dout = r. */
#include "gm_test.h"
#include "genmix/nn.h"
#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- harness ----------------------------------------------------------------------------------- */

#define MAXIN 3
typedef struct gc gc;
struct gc {
    void (*fwd)(gc *);  /* out <- f(in...) */
    void (*bwd)(gc *);  /* d[i] += ... using dout */
    float *in[MAXIN], *d[MAXIN];
    size_t n[MAXIN];
    int nin;
    float *out, *dout;
    size_t nout;
    /* op parameters */
    gm_conv_dims cd;
    size_t B, C, H, W, K, S, G, OC, V;
    float alpha;
    int act;
    float *cache1, *cache2, *work, *col;
    int32_t *icache, *labels;
};

static float *fbuf(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    gm_rng r;
    gm_rng_init(&r, seed, 99);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)gm_rng_uniform(&r);
}

static double loss_of(gc *g, const float *r) {
    g->fwd(g);
    double s = 0.0;
    for (size_t i = 0; i < g->nout; i++) s += (double)r[i] * (double)g->out[i];
    return s;
}

/* Returns 1 if the gradient check passes; prints the worst entry otherwise. */
static int gradcheck(const char *name, gc *g, float eps) {
    float *r = fbuf(g->nout);
    fill(r, g->nout, 7, -1.0f, 1.0f);
    g->fwd(g);
    for (int k = 0; k < g->nin; k++)
        if (g->d[k]) memset(g->d[k], 0, g->n[k] * sizeof(float));
    memcpy(g->dout, r, g->nout * sizeof(float));
    g->bwd(g);
    int ok = 1, any = 0;
    for (int k = 0; k < g->nin; k++) {
        if (!g->d[k]) continue;
        gm_gc st;
        memset(&st, 0, sizeof st);
        for (size_t i = 0; i < g->n[k]; i++) {
            float x0 = g->in[k][i];
            g->in[k][i] = x0 + eps;
            double lp = loss_of(g, r);
            g->in[k][i] = x0 - eps;
            double lm = loss_of(g, r);
            g->in[k][i] = x0;
            gm_gc_add(&st, i, g->d[k][i], (lp - lm) / (2.0 * (double)eps));
        }
        char label[96];
        snprintf(label, sizeof label, "%s input %d", name, k);
        ok &= gm_gc_ok(&st, label, 1e-2, 1e-4);
        any = 1;
    }
    g->fwd(g);
    free(r);
    return ok && any;
}

static void gc_alloc(gc *g, int nin, const size_t *n, size_t nout) {
    g->nin = nin;
    for (int k = 0; k < nin; k++) {
        g->n[k] = n[k];
        g->in[k] = fbuf(n[k]);
        g->d[k] = fbuf(n[k]);
        fill(g->in[k], n[k], 100 + (uint64_t)k, -1.0f, 1.0f);
    }
    g->nout = nout;
    g->out = fbuf(nout);
    g->dout = fbuf(nout);
}
static void gc_free(gc *g) {
    for (int k = 0; k < g->nin; k++) {
        free(g->in[k]);
        free(g->d[k]);
    }
    free(g->out);
    free(g->dout);
    free(g->cache1);
    free(g->cache2);
    free(g->work);
    free(g->col);
    free(g->icache);
    free(g->labels);
    memset(g, 0, sizeof *g);
}
/* push values away from 0 (kinks of relu/leaky-relu) */
static void away_from_zero(float *x, size_t n, float m) {
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) < m) x[i] = x[i] < 0 ? -m - fabsf(x[i]) : m + x[i];
}

/* ---- linear ------------------------------------------------------------------------------------ */
static void lin_f(gc *g) { gm_linear_forward(g->out, g->in[0], g->in[1], g->in[2], g->B, g->C, g->OC); }
static void lin_b(gc *g) {
    gm_linear_backward(g->d[0], g->d[1], g->d[2], g->dout, g->in[0], g->in[1], g->B, g->C, g->OC);
}

GM_TEST(test_linear) {
    gc g = {0};
    g.B = 5, g.C = 7, g.OC = 4;
    size_t n[3] = {g.B * g.C, g.OC * g.C, g.OC};
    gc_alloc(&g, 3, n, g.B * g.OC);
    g.fwd = lin_f, g.bwd = lin_b;
    CHECK(gradcheck("linear", &g, 1e-2f));
    /* fast == ref */
    float *o2 = fbuf(g.nout), *d0 = fbuf(n[0]), *d1 = fbuf(n[1]), *d2 = fbuf(n[2]);
    gm_linear_forward_ref(o2, g.in[0], g.in[1], g.in[2], g.B, g.C, g.OC);
    lin_f(&g);
    for (size_t i = 0; i < g.nout; i++) CHECK_NEAR(g.out[i], o2[i], 1e-5, 1e-6);
    fill(g.dout, g.nout, 3, -1, 1);
    for (int k = 0; k < 3; k++) memset(g.d[k], 0, n[k] * 4);
    lin_b(&g);
    gm_linear_backward_ref(d0, d1, d2, g.dout, g.in[0], g.in[1], g.B, g.C, g.OC);
    for (size_t i = 0; i < n[0]; i++) CHECK_NEAR(g.d[0][i], d0[i], 1e-5, 1e-6);
    for (size_t i = 0; i < n[1]; i++) CHECK_NEAR(g.d[1][i], d1[i], 1e-5, 1e-6);
    for (size_t i = 0; i < n[2]; i++) CHECK_NEAR(g.d[2][i], d2[i], 1e-5, 1e-6);
    /* NULL skips, and backward accumulates */
    for (int k = 0; k < 3; k++) memcpy(g.d[k], k == 0 ? d0 : k == 1 ? d1 : d2, n[k] * 4);
    gm_linear_backward(NULL, g.d[1], NULL, g.dout, g.in[0], g.in[1], g.B, g.C, g.OC);
    for (size_t i = 0; i < n[1]; i++) CHECK_NEAR(g.d[1][i], 2 * d1[i], 1e-5, 1e-6);
    for (size_t i = 0; i < n[0]; i++) CHECK(g.d[0][i] == d0[i]);
    free(o2), free(d0), free(d1), free(d2);
    gc_free(&g);
}

/* ---- conv2d / conv-transpose2d ---------------------------------------------------------------- */
static void conv_f(gc *g) { gm_conv2d_forward(g->out, g->col, g->in[0], g->in[1], g->in[2], &g->cd, g->work); }
static void conv_b(gc *g) { gm_conv2d_backward(g->d[0], g->d[1], g->d[2], g->dout, g->col, g->in[1], &g->cd, g->work); }
static void convt_f(gc *g) { gm_conv_transpose2d_forward(g->out, g->in[0], g->in[1], g->in[2], &g->cd, g->work); }
static void convt_b(gc *g) {
    gm_conv_transpose2d_backward(g->d[0], g->d[1], g->d[2], g->dout, g->in[0], g->in[1], &g->cd, g->work);
}

static void check_conv(size_t B, size_t C, size_t H, size_t W, size_t OC, size_t K, size_t S, size_t P, int transposed) {
    gc g = {0};
    gm_conv_dims d = {B, C, H, W, OC, K, S, P, 0, 0};
    CHECK_OK(transposed ? gm_conv_transpose2d_dims(&d) : gm_conv2d_dims(&d));
    g.cd = d;
    size_t wn = transposed ? C * OC * K * K : OC * C * K * K;
    size_t n[3] = {B * C * H * W, wn, OC};
    gc_alloc(&g, 3, n, B * OC * d.OH * d.OW);
    if (transposed) {
        g.work = fbuf(gm_conv_transpose2d_work_size(&d));
        g.fwd = convt_f, g.bwd = convt_b;
    } else {
        g.col = fbuf(gm_conv2d_col_size(&d));
        g.work = fbuf(gm_conv2d_work_size(&d));
        g.fwd = conv_f, g.bwd = conv_b;
    }
    char name[64];
    snprintf(name, sizeof name, "%s K%zu S%zu P%zu", transposed ? "convT" : "conv", K, S, P);
    CHECK(gradcheck(name, &g, 1e-2f));
    /* fast == ref, forward and backward */
    float *o2 = fbuf(g.nout), *dr[3];
    for (int k = 0; k < 3; k++) dr[k] = fbuf(n[k]);
    g.fwd(&g);
    if (transposed)
        gm_conv_transpose2d_forward_ref(o2, g.in[0], g.in[1], g.in[2], &d);
    else
        gm_conv2d_forward_ref(o2, g.in[0], g.in[1], g.in[2], &d);
    for (size_t i = 0; i < g.nout; i++) CHECK_NEAR(g.out[i], o2[i], 1e-5, 1e-5);
    fill(g.dout, g.nout, 5, -1, 1);
    for (int k = 0; k < 3; k++) memset(g.d[k], 0, n[k] * 4);
    g.bwd(&g);
    if (transposed)
        gm_conv_transpose2d_backward_ref(dr[0], dr[1], dr[2], g.dout, g.in[0], g.in[1], &d);
    else
        gm_conv2d_backward_ref(dr[0], dr[1], dr[2], g.dout, g.in[0], g.in[1], &d);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < n[k]; i++) CHECK_NEAR(g.d[k][i], dr[k][i], 1e-4, 1e-5);
    free(o2);
    for (int k = 0; k < 3; k++) free(dr[k]);
    gc_free(&g);
}

GM_TEST(test_conv2d) {
    check_conv(2, 3, 6, 5, 4, 3, 1, 1, 0);
    check_conv(2, 2, 7, 7, 3, 3, 2, 0, 0);
    check_conv(1, 2, 5, 6, 2, 1, 1, 0, 0);
    gm_conv_dims bad = {1, 1, 2, 2, 1, 5, 1, 0, 0, 0};
    CHECK_RC(gm_conv2d_dims(&bad), GM_ESHAPE);
}
GM_TEST(test_conv_transpose2d) {
    check_conv(2, 3, 4, 3, 2, 4, 2, 1, 1);
    check_conv(2, 2, 3, 3, 3, 3, 1, 1, 1);
    /* conv-transpose is the adjoint of conv: <convT(x), y> == <x, conv(y)> with the same weights */
    gm_conv_dims t = {2, 3, 4, 4, 2, 4, 2, 1, 0, 0};
    CHECK_OK(gm_conv_transpose2d_dims(&t));
    CHECK_INT_EQ(t.OH, 8);
    gm_conv_dims c = {2, 2, 8, 8, 3, 4, 2, 1, 0, 0};
    CHECK_OK(gm_conv2d_dims(&c));
    CHECK_INT_EQ(c.OH, 4);
    size_t nx = 2 * 3 * 16, ny = 2 * 2 * 64, nw = 3 * 2 * 16;
    float *x = fbuf(nx), *y = fbuf(ny), *w = fbuf(nw), *tx = fbuf(ny), *cy = fbuf(nx);
    fill(x, nx, 1, -1, 1), fill(y, ny, 2, -1, 1), fill(w, nw, 3, -1, 1);
    gm_conv_transpose2d_forward_ref(tx, x, w, NULL, &t);
    gm_conv2d_forward_ref(cy, y, w, NULL, &c); /* w(3,2,4,4) read as conv weight (OC=3, C=2) */
    double a = 0, b = 0;
    for (size_t i = 0; i < ny; i++) a += (double)tx[i] * (double)y[i];
    for (size_t i = 0; i < nx; i++) b += (double)x[i] * (double)cy[i];
    CHECK_NEAR(a, b, 1e-5, 1e-5);
    free(x), free(y), free(w), free(tx), free(cy);
}

/* ---- pooling / upsampling --------------------------------------------------------------------- */
static void avg_f(gc *g) { gm_avgpool2d_forward(g->out, g->in[0], g->B * g->C, g->H, g->W, g->K, g->S); }
static void avg_b(gc *g) { gm_avgpool2d_backward(g->d[0], g->dout, g->B * g->C, g->H, g->W, g->K, g->S); }
static void max_f(gc *g) { gm_maxpool2d_forward(g->out, g->icache, g->in[0], g->B * g->C, g->H, g->W, g->K, g->S); }
static void max_b(gc *g) {
    gm_maxpool2d_backward(g->d[0], g->dout, g->icache, g->B * g->C, g->H, g->W, g->K, g->S);
}
static void up_f(gc *g) { gm_upsample_nearest_forward(g->out, g->in[0], g->B * g->C, g->H, g->W, g->S); }
static void up_b(gc *g) { gm_upsample_nearest_backward(g->d[0], g->dout, g->B * g->C, g->H, g->W, g->S); }

/* ---- fused conv + relu + 2x2 max-pool ---------------------------------------------------------- */
static void crp_f(gc *g) {
    gm_conv_relu_pool_forward(g->out, g->icache, g->in[0], g->in[1], g->in[2], &g->cd, g->work);
}
static void crp_b(gc *g) {
    gm_conv_relu_pool_backward(g->d[0], g->d[1], g->d[2], g->dout, g->icache, g->in[0], g->in[1], &g->cd, g->work);
}

/* fast == ref (values, argmax, gradients) and, for a batch cut into many chunks and groups, identical
 * results with 1 and 2 threads */
static void check_crp(size_t B, size_t C, size_t H, size_t W, size_t OC, size_t K, size_t S, size_t P, int grad) {
    gc g = {0};
    gm_conv_dims d = {B, C, H, W, OC, K, S, P, 0, 0};
    CHECK_OK(gm_conv2d_dims(&d));
    g.cd = d;
    size_t n[3] = {B * C * H * W, OC * C * K * K, OC}, nout = B * OC * (d.OH / 2) * (d.OW / 2);
    gc_alloc(&g, 3, n, nout);
    fill(g.in[2], OC, 9, -2.0f, 0.5f);
    g.icache = calloc(nout, sizeof(int32_t));
    g.work = fbuf(gm_conv_relu_pool_work_size(&d));
    g.fwd = crp_f, g.bwd = crp_b;
    if (grad) CHECK(gradcheck("conv_relu_pool", &g, 4e-3f));
    float *o2 = fbuf(nout), *dr[3];
    int32_t *am = calloc(nout, sizeof(int32_t));
    for (int k = 0; k < 3; k++) dr[k] = fbuf(n[k]);
    crp_f(&g);
    gm_conv_relu_pool_forward_ref(o2, am, g.in[0], g.in[1], g.in[2], &d);
    size_t npos = 0, nam = 0;
    for (size_t i = 0; i < nout; i++) {
        CHECK_NEAR(g.out[i], o2[i], 1e-5, 1e-6);
        nam += am[i] == g.icache[i];
        npos += am[i] >= 0;
        CHECK(g.out[i] >= 0.0f && (g.icache[i] < 0) == (g.out[i] == 0.0f));
    }
    CHECK(nam == nout);
    if (nout > 64 && !(npos > 0 && npos < nout)) fprintf(stderr, "  B%zu: %zu of %zu windows positive\n", B, npos, nout);
    CHECK(nout <= 64 || (npos > 0 && npos < nout)); /* both branches of the ReLU are exercised */
    fill(g.dout, nout, 5, -1, 1);
    for (int k = 0; k < 3; k++) memset(g.d[k], 0, n[k] * 4);
    crp_b(&g);
    gm_conv_relu_pool_backward_ref(dr[0], dr[1], dr[2], g.dout, g.icache, g.in[0], g.in[1], &d);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < n[k]; i++) CHECK_NEAR(g.d[k][i], dr[k][i], 1e-4, 1e-5);
    /* NULL gradients are skipped; backward accumulates */
    memcpy(dr[1], g.d[1], n[1] * 4);
    gm_conv_relu_pool_backward(NULL, g.d[1], NULL, g.dout, g.icache, g.in[0], g.in[1], &d, g.work);
    for (size_t i = 0; i < n[1]; i++) CHECK_NEAR(g.d[1][i], 2.0f * dr[1][i], 1e-5, 1e-6);
#ifdef _OPENMP
    float *res[2][4];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        res[t][0] = fbuf(nout);
        for (int k = 0; k < 3; k++) res[t][k + 1] = fbuf(n[k]);
        gm_conv_relu_pool_forward(res[t][0], g.icache, g.in[0], g.in[1], g.in[2], &d, g.work);
        gm_conv_relu_pool_backward(res[t][1], res[t][2], res[t][3], g.dout, g.icache, g.in[0], g.in[1], &d, g.work);
    }
    omp_set_num_threads(2);
    CHECK(memcmp(res[0][0], res[1][0], nout * 4) == 0);
    for (int k = 0; k < 3; k++) CHECK(memcmp(res[0][k + 1], res[1][k + 1], n[k] * 4) == 0);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++) free(res[t][k]);
#endif
    free(o2), free(am);
    for (int k = 0; k < 3; k++) free(dr[k]);
    gc_free(&g);
}

GM_TEST(test_conv_relu_pool) {
    check_crp(2, 2, 6, 6, 3, 3, 1, 1, 1);  /* gradient check, one chunk */
    check_crp(2, 2, 7, 5, 3, 3, 1, 1, 1);  /* odd conv output: the last row/column is not pooled */
    check_crp(2, 3, 9, 9, 2, 3, 2, 0, 1);  /* stride 2, no padding */
    check_crp(37, 8, 16, 16, 16, 3, 1, 1, 0); /* 19 chunks of <= 2 images in 16 groups */
    check_crp(5, 1, 28, 28, 8, 3, 1, 1, 0);   /* the first layer of the Fashion-MNIST CNN */
    /* the fused kernel equals conv2d -> relu -> maxpool:2 run one after the other */
    gm_conv_dims d = {3, 4, 10, 10, 5, 3, 1, 1, 0, 0};
    CHECK_OK(gm_conv2d_dims(&d));
    size_t nx = 3 * 4 * 100, nw = 5 * 4 * 9, ny = 3 * 5 * 100, np = 3 * 5 * 25;
    float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(5), *y = fbuf(ny), *r = fbuf(ny), *p1 = fbuf(np), *p2 = fbuf(np);
    float *col = fbuf(gm_conv2d_col_size(&d)), *work = fbuf(gm_conv2d_work_size(&d));
    float *work2 = fbuf(gm_conv_relu_pool_work_size(&d));
    int32_t *a1 = calloc(np, 4), *a2 = calloc(np, 4);
    fill(x, nx, 1, -1, 1), fill(w, nw, 2, -1, 1), fill(b, 5, 3, -1, 1);
    gm_conv2d_forward(y, col, x, w, b, &d, work);
    gm_act_forward(GM_ACT_RELU, r, y, ny, 0.0f);
    gm_maxpool2d_forward(p1, a1, r, 15, 10, 10, 2, 2);
    gm_conv_relu_pool_forward(p2, a2, x, w, b, &d, work2);
    for (size_t i = 0; i < np; i++) {
        CHECK_NEAR(p2[i], p1[i], 1e-6, 1e-7);
        if (p1[i] > 0.0f) CHECK(a1[i] == a2[i]);
        else CHECK(a2[i] == -1);
    }
    free(x), free(w), free(b), free(y), free(r), free(p1), free(p2), free(col), free(work), free(work2), free(a1), free(a2);
}

GM_TEST(test_pool_upsample) {
    size_t shapes[3][2] = {{2, 2}, {3, 2}, {3, 1}}; /* (K, S) */
    for (int s = 0; s < 3; s++) {
        for (int mx = 0; mx < 2; mx++) {
            gc g = {0};
            g.B = 2, g.C = 3, g.H = 6, g.W = 7, g.K = shapes[s][0], g.S = shapes[s][1];
            size_t OH = (g.H - g.K) / g.S + 1, OW = (g.W - g.K) / g.S + 1;
            size_t n[1] = {g.B * g.C * g.H * g.W};
            gc_alloc(&g, 1, n, g.B * g.C * OH * OW);
            /* distinct values so the max is unique and stable under +-eps */
            if (mx)
                for (size_t i = 0; i < n[0]; i++) g.in[0][i] = (float)((i * 37) % n[0]) * 0.05f - 1.0f;
            g.icache = calloc(g.nout, sizeof(int32_t));
            g.fwd = mx ? max_f : avg_f, g.bwd = mx ? max_b : avg_b;
            CHECK(gradcheck(mx ? "maxpool" : "avgpool", &g, 1e-2f));
            float *o2 = fbuf(g.nout), *d2 = fbuf(n[0]);
            int32_t *am = calloc(g.nout, sizeof(int32_t));
            g.fwd(&g);
            if (mx)
                gm_maxpool2d_forward_ref(o2, am, g.in[0], g.B * g.C, g.H, g.W, g.K, g.S);
            else
                gm_avgpool2d_forward_ref(o2, g.in[0], g.B * g.C, g.H, g.W, g.K, g.S);
            CHECK(memcmp(o2, g.out, g.nout * 4) == 0);
            if (mx) CHECK(memcmp(am, g.icache, g.nout * 4) == 0);
            memset(g.d[0], 0, n[0] * 4);
            g.bwd(&g);
            if (mx)
                gm_maxpool2d_backward_ref(d2, g.dout, am, g.B * g.C, g.H, g.W, g.K, g.S);
            else
                gm_avgpool2d_backward_ref(d2, g.dout, g.B * g.C, g.H, g.W, g.K, g.S);
            CHECK(memcmp(d2, g.d[0], n[0] * 4) == 0);
            free(o2), free(d2), free(am);
            gc_free(&g);
        }
    }
    gc g = {0};
    g.B = 2, g.C = 2, g.H = 3, g.W = 4, g.S = 2;
    size_t n[1] = {g.B * g.C * g.H * g.W};
    gc_alloc(&g, 1, n, n[0] * 4);
    g.fwd = up_f, g.bwd = up_b;
    CHECK(gradcheck("upsample", &g, 1e-2f));
    float *o2 = fbuf(g.nout);
    gm_upsample_nearest_forward_ref(o2, g.in[0], 4, 3, 4, 2);
    g.fwd(&g);
    CHECK(memcmp(o2, g.out, g.nout * 4) == 0);
    CHECK(g.out[0] == g.in[0][0] && g.out[1] == g.in[0][0] && g.out[8] == g.in[0][0] && g.out[2] == g.in[0][1]);
    free(o2);
    gc_free(&g);
}

/* ---- activations ------------------------------------------------------------------------------ */
static void act_f(gc *g) { gm_act_forward((gm_act)g->act, g->out, g->in[0], g->n[0], g->alpha); }
static void act_b(gc *g) { gm_act_backward((gm_act)g->act, g->d[0], g->dout, g->in[0], g->out, g->n[0], g->alpha); }

GM_TEST(test_activations) {
    for (int a = 0; a < GM_ACT_COUNT; a++) {
        gc g = {0};
        size_t n[1] = {40};
        gc_alloc(&g, 1, n, n[0]);
        for (size_t i = 0; i < n[0]; i++) g.in[0][i] *= 3.0f;
        away_from_zero(g.in[0], n[0], 0.05f);
        g.act = a, g.alpha = 0.2f;
        g.fwd = act_f, g.bwd = act_b;
        CHECK(gradcheck(gm_act_name((gm_act)a), &g, 3e-3f));
        CHECK_INT_EQ(gm_act_from_name(gm_act_name((gm_act)a)), a);
        float *o2 = fbuf(n[0]), *d2 = fbuf(n[0]);
        gm_act_forward_ref((gm_act)a, o2, g.in[0], n[0], 0.2f);
        act_f(&g);
        CHECK(memcmp(o2, g.out, n[0] * 4) == 0);
        memset(g.d[0], 0, n[0] * 4);
        act_b(&g);
        gm_act_backward_ref((gm_act)a, d2, g.dout, g.in[0], g.out, n[0], 0.2f);
        for (size_t i = 0; i < n[0]; i++) CHECK_NEAR(g.d[0][i], d2[i], 1e-6, 1e-7);
        free(o2), free(d2);
        gc_free(&g);
    }
    /* known values */
    float x[4] = {-1.0f, 0.0f, 1.0f, 30.0f}, y[4];
    gm_gelu_forward(y, x, 4);
    CHECK_NEAR(y[2], 0.8413447460685429, 1e-6, 0);
    gm_softplus_forward(y, x, 4);
    CHECK_NEAR(y[0], 0.31326168751822286, 1e-6, 0);
    CHECK_NEAR(y[3], 30.0, 1e-7, 0);
    gm_silu_forward(y, x, 4);
    CHECK_NEAR(y[2], 0.7310585786300049, 1e-6, 0);
    gm_leaky_relu_forward(y, x, 4, 0.1f);
    CHECK(y[0] == -0.1f && y[3] == 30.0f);
    CHECK_INT_EQ(gm_act_from_name("nope"), -1);
}

/* ---- normalisation ---------------------------------------------------------------------------- */
static void ln_f(gc *g) {
    gm_layernorm_forward(g->out, g->cache1, g->cache2, g->in[0], g->in[1], g->in[2], g->B, g->C, 1e-5f);
}
static void ln_b(gc *g) {
    gm_layernorm_backward(g->d[0], g->d[1], g->d[2], g->dout, g->in[0], g->cache1, g->cache2, g->in[1], g->B, g->C);
}
static void gn_f(gc *g) {
    gm_groupnorm_forward(g->out, g->cache1, g->cache2, g->in[0], g->in[1], g->in[2], g->B, g->C, g->H * g->W, g->G,
                         1e-5f);
}
static void gn_b(gc *g) {
    gm_groupnorm_backward(g->d[0], g->d[1], g->d[2], g->dout, g->in[0], g->cache1, g->cache2, g->in[1], g->B, g->C,
                          g->H * g->W, g->G);
}

GM_TEST(test_norms) {
    gc g = {0};
    g.B = 4, g.C = 6;
    size_t n[3] = {24, 6, 6};
    gc_alloc(&g, 3, n, 24);
    g.cache1 = fbuf(4), g.cache2 = fbuf(4);
    g.fwd = ln_f, g.bwd = ln_b;
    CHECK(gradcheck("layernorm", &g, 3e-3f));
    /* the normalised rows have mean 0 / variance 1 before the affine */
    float *o2 = fbuf(24), *m2 = fbuf(4), *r2 = fbuf(4), *dr[3];
    gm_layernorm_forward_ref(o2, m2, r2, g.in[0], NULL, NULL, 4, 6, 1e-5f);
    double s = 0, s2 = 0;
    for (int i = 0; i < 6; i++) s += (double)o2[i], s2 += (double)o2[i] * (double)o2[i];
    CHECK_NEAR(s, 0, 0, 1e-5);
    CHECK_NEAR(s2 / 6, 1, 1e-3, 0);
    gm_layernorm_forward_ref(o2, m2, r2, g.in[0], g.in[1], g.in[2], 4, 6, 1e-5f);
    ln_f(&g);
    CHECK(memcmp(o2, g.out, 24 * 4) == 0);
    for (int k = 0; k < 3; k++) dr[k] = fbuf(n[k]), memset(g.d[k], 0, n[k] * 4);
    ln_b(&g);
    gm_layernorm_backward_ref(dr[0], dr[1], dr[2], g.dout, g.in[0], g.cache1, g.cache2, g.in[1], 4, 6);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < n[k]; i++) CHECK_NEAR(g.d[k][i], dr[k][i], 1e-5, 1e-6);
    for (int k = 0; k < 3; k++) free(dr[k]);
    free(o2), free(m2), free(r2);
    gc_free(&g);

    g.B = 2, g.C = 6, g.H = 2, g.W = 3, g.G = 3;
    size_t m[3] = {72, 6, 6};
    gc_alloc(&g, 3, m, 72);
    g.cache1 = fbuf(6), g.cache2 = fbuf(6);
    g.fwd = gn_f, g.bwd = gn_b;
    CHECK(gradcheck("groupnorm", &g, 1e-2f));
    o2 = fbuf(72), m2 = fbuf(6), r2 = fbuf(6);
    gm_groupnorm_forward_ref(o2, m2, r2, g.in[0], g.in[1], g.in[2], 2, 6, 6, 3, 1e-5f);
    gn_f(&g);
    CHECK(memcmp(o2, g.out, 72 * 4) == 0);
    for (int k = 0; k < 3; k++) dr[k] = fbuf(m[k]), memset(g.d[k], 0, m[k] * 4);
    gn_b(&g);
    gm_groupnorm_backward_ref(dr[0], dr[1], dr[2], g.dout, g.in[0], g.cache1, g.cache2, g.in[1], 2, 6, 6, 3);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < m[k]; i++) CHECK_NEAR(g.d[k][i], dr[k][i], 1e-5, 1e-6);
    for (int k = 0; k < 3; k++) free(dr[k]);
    free(o2), free(m2), free(r2);
    gc_free(&g);
}

/* ---- elementwise / shape ops ------------------------------------------------------------------- */
static void drop_f(gc *g) { gm_dropout_forward(g->out, g->in[0], g->cache1, g->n[0]); }
static void drop_b(gc *g) { gm_dropout_backward(g->d[0], g->dout, g->cache1, g->n[0]); }
static void add_f(gc *g) { gm_add_forward(g->out, g->in[0], g->in[1], g->n[0]); }
static void add_b(gc *g) { gm_add_backward(g->d[0], g->d[1], g->dout, g->n[0]); }
static void mul_f(gc *g) { gm_mul_forward(g->out, g->in[0], g->in[1], g->n[0]); }
static void mul_b(gc *g) { gm_mul_backward(g->d[0], g->d[1], g->dout, g->in[0], g->in[1], g->n[0]); }
static void scale_f(gc *g) { gm_scale_forward(g->out, g->in[0], g->alpha, 0.5f, g->n[0]); }
static void scale_b(gc *g) { gm_scale_backward(g->d[0], g->dout, g->alpha, g->n[0]); }
static void addc_f(gc *g) { gm_add_channel_forward(g->out, g->in[0], g->in[1], g->B, g->C, g->H); }
static void addc_b(gc *g) { gm_add_channel_backward(g->d[0], g->d[1], g->dout, g->B, g->C, g->H); }
static void cat_f(gc *g) { gm_concat_forward(g->out, g->in[0], g->in[1], g->B, g->C, g->OC, g->H); }
static void cat_b(gc *g) { gm_concat_backward(g->d[0], g->d[1], g->dout, g->B, g->C, g->OC, g->H); }
static void split_f(gc *g) {
    /* out = [a ; b] flattened, so the split's two outputs are checked at once */
    gm_split_forward(g->out, g->out + g->B * g->C * g->H, g->in[0], g->B, g->C, g->OC, g->H);
}
static void split_b(gc *g) {
    gm_split_backward(g->d[0], g->dout, g->dout + g->B * g->C * g->H, g->B, g->C, g->OC, g->H);
}
static void resh_f(gc *g) { gm_reshape_forward(g->out, g->in[0], g->n[0]); }
static void resh_b(gc *g) { gm_reshape_backward(g->d[0], g->dout, g->n[0]); }
static void sum_f(gc *g) { gm_sum_forward(g->out, g->in[0], g->n[0]); }
static void sum_b(gc *g) { gm_sum_backward(g->d[0], g->dout, g->n[0]); }
static void mean_f(gc *g) { gm_mean_forward(g->out, g->in[0], g->n[0]); }
static void mean_b(gc *g) { gm_mean_backward(g->d[0], g->dout, g->n[0]); }

static void run_simple(const char *name, void (*f)(gc *), void (*b)(gc *), int nin, size_t n0, size_t n1, size_t nout,
                       gc *proto) {
    gc g = *proto;
    size_t n[2] = {n0, n1};
    gc_alloc(&g, nin, n, nout);
    if (proto->cache1) {
        g.cache1 = fbuf(n0);
        memcpy(g.cache1, proto->cache1, n0 * 4);
    }
    g.fwd = f, g.bwd = b;
    CHECK(gradcheck(name, &g, 1e-2f));
    gc_free(&g);
}

GM_TEST(test_elementwise) {
    gc p = {0};
    float mask[30];
    for (int i = 0; i < 30; i++) mask[i] = (i % 3 == 0) ? 0.0f : 1.5f;
    p.cache1 = mask;
    run_simple("dropout", drop_f, drop_b, 1, 30, 0, 30, &p);
    p.cache1 = NULL;
    run_simple("add", add_f, add_b, 2, 30, 30, 30, &p);
    run_simple("mul", mul_f, mul_b, 2, 30, 30, 30, &p);
    p.alpha = -1.7f;
    run_simple("scale", scale_f, scale_b, 1, 30, 0, 30, &p);
    p.B = 2, p.C = 3, p.H = 5, p.OC = 4;
    run_simple("add_channel", addc_f, addc_b, 2, 30, 6, 30, &p);
    run_simple("concat", cat_f, cat_b, 2, 30, 40, 70, &p);
    run_simple("split", split_f, split_b, 1, 70, 0, 70, &p);
    run_simple("reshape", resh_f, resh_b, 1, 30, 0, 30, &p);
    run_simple("sum", sum_f, sum_b, 1, 30, 0, 1, &p);
    run_simple("mean", mean_f, mean_b, 1, 30, 0, 1, &p);
    /* concat then split is the identity */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {7, 8, 9, 10}, c[10], a2[6], b2[4];
    gm_concat_forward(c, a, b, 2, 3, 2, 1);
    float want[10] = {1, 2, 3, 7, 8, 4, 5, 6, 9, 10};
    CHECK(memcmp(c, want, sizeof want) == 0);
    gm_split_forward(a2, b2, c, 2, 3, 2, 1);
    CHECK(memcmp(a, a2, sizeof a) == 0 && memcmp(b, b2, sizeof b) == 0);
    float big[5000];
    for (int i = 0; i < 5000; i++) big[i] = (float)(i % 7);
    float s;
    gm_sum_forward(&s, big, 5000);
    double ref = 0;
    for (int i = 0; i < 5000; i++) ref += (double)big[i];
    CHECK(s == (float)ref);
}

/* ---- losses ------------------------------------------------------------------------------------ */
static void xent_f(gc *g) { gm_softmax_xent_forward(g->out, NULL, g->cache1, g->in[0], g->labels, g->B, g->V); }
static void xent_b(gc *g) { gm_softmax_xent_backward(g->d[0], g->dout, g->cache1, g->labels, g->B, g->V); }
static void bce_f(gc *g) { gm_bce_logits_forward(g->out, g->in[0], g->in[1], g->n[0]); }
static void bce_b(gc *g) { gm_bce_logits_backward(g->d[0], g->d[1], g->dout, g->in[0], g->in[1], g->n[0]); }
static void mse_f(gc *g) { gm_mse_forward(g->out, g->in[0], g->in[1], g->n[0]); }
static void mse_b(gc *g) { gm_mse_backward(g->d[0], g->d[1], g->dout, g->in[0], g->in[1], g->n[0]); }
static void kl_f(gc *g) { gm_gauss_kl_forward(g->out, g->in[0], g->in[1], g->B, g->C); }
static void kl_b(gc *g) { gm_gauss_kl_backward(g->d[0], g->d[1], g->dout, g->in[0], g->in[1], g->B, g->C); }
static void temb_f(gc *g) { gm_time_embed_forward(g->out, g->in[0], g->B, g->C, 10000.0f); }
static void temb_b(gc *g) { gm_time_embed_backward(g->d[0], g->dout, g->in[0], g->B, g->C, 10000.0f); }

GM_TEST(test_losses) {
    gc g = {0};
    g.B = 5, g.V = 7;
    size_t n[1] = {35};
    gc_alloc(&g, 1, n, 1);
    for (size_t i = 0; i < 35; i++) g.in[0][i] *= 3.0f;
    g.cache1 = fbuf(35);
    g.labels = calloc(5, sizeof(int32_t));
    for (int i = 0; i < 5; i++) g.labels[i] = (i * 3) % 7;
    g.fwd = xent_f, g.bwd = xent_b;
    CHECK(gradcheck("softmax_xent", &g, 5e-2f)); /* one float32 scalar output: round-off needs a wide step */
    /* fast == ref; per-row losses; a closed form */
    float o2, *p2 = fbuf(35), l[5], *dr = fbuf(35);
    gm_softmax_xent_forward_ref(&o2, l, p2, g.in[0], g.labels, 5, 7);
    xent_f(&g);
    CHECK(o2 == g.out[0]);
    double lsum = 0;
    for (int i = 0; i < 5; i++) lsum += (double)l[i];
    CHECK_NEAR(lsum / 5, o2, 1e-6, 0);
    memset(g.d[0], 0, 35 * 4);
    g.dout[0] = 1.3f;
    xent_b(&g);
    gm_softmax_xent_backward_ref(dr, g.dout, p2, g.labels, 5, 7);
    for (int i = 0; i < 35; i++) CHECK_NEAR(g.d[0][i], dr[i], 1e-6, 1e-7);
    float z[3] = {0, 0, 0}, pz[3], lz;
    int32_t lab = 1;
    gm_softmax_xent_forward(&lz, NULL, pz, z, &lab, 1, 3);
    CHECK_NEAR(lz, log(3.0), 1e-6, 0);
    float zbig[2] = {1000.0f, -1000.0f};
    lab = 0;
    gm_softmax_xent_forward(&lz, NULL, pz, zbig, &lab, 1, 2);
    CHECK(lz == 0.0f && isfinite(lz));
    free(p2), free(dr);
    gc_free(&g);

    gc p = {0};
    run_simple("bce_logits", bce_f, bce_b, 2, 20, 20, 1, &p);
    run_simple("mse", mse_f, mse_b, 2, 20, 20, 1, &p);
    p.B = 4, p.C = 5;
    run_simple("gauss_kl", kl_f, kl_b, 2, 20, 20, 1, &p);
    p.B = 3, p.C = 8;
    run_simple("time_embed", temb_f, temb_b, 1, 3, 0, 24, &p);
    /* closed forms */
    float x[2] = {0.0f, 2.0f}, t[2] = {1.0f, 0.0f}, out;
    gm_bce_logits_forward(&out, x, t, 2);
    CHECK_NEAR(out, (log(2.0) + log1p(exp(2.0))) / 2, 1e-6, 0);
    float mu[2] = {1.0f, 0.0f}, lv[2] = {0.0f, log(2.0f)};
    gm_gauss_kl_forward(&out, mu, lv, 1, 2);
    CHECK_NEAR(out, 0.5 * (1.0 + (2.0 - 1.0 - log(2.0))), 1e-6, 0);
    float tt[1] = {0.0f}, emb[4];
    gm_time_embed_forward(emb, tt, 1, 4, 10000.0f);
    CHECK(emb[0] == 0.0f && emb[1] == 0.0f && emb[2] == 1.0f && emb[3] == 1.0f);
}

/* ---- 1 vs 2 threads: bitwise identical ---------------------------------------------------------- */
GM_TEST(test_thread_invariance) {
#ifdef _OPENMP
    const size_t B = 64, C = 32, H = 12, W = 12, OC = 16;
    gm_conv_dims d = {B, C, H, W, OC, 3, 1, 1, 0, 0};
    CHECK_OK(gm_conv2d_dims(&d));
    size_t nx = B * C * H * W, nw = OC * C * 9, ny = B * OC * H * W;
    float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(OC), *dy = fbuf(ny);
    fill(x, nx, 1, -1, 1), fill(w, nw, 2, -1, 1), fill(b, OC, 3, -1, 1), fill(dy, ny, 4, -1, 1);
    float *res[2][8];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        float *y = fbuf(ny), *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(OC);
        float *col = fbuf(gm_conv2d_col_size(&d)), *work = fbuf(gm_conv2d_work_size(&d));
        gm_conv2d_forward(y, col, x, w, b, &d, work);
        gm_conv2d_backward(dx, dw, db, dy, col, w, &d, work);
        float *ln = fbuf(nx), *m = fbuf(B * C * H), *r = fbuf(B * C * H), *dln = fbuf(nx), *dg = fbuf(W), *dbb = fbuf(W);
        gm_layernorm_forward(ln, m, r, x, NULL, NULL, B * C * H, W, 1e-5f);
        gm_layernorm_backward(dln, dg, dbb, x, x, m, r, NULL, B * C * H, W);
        float *s = fbuf(4);
        gm_sum_forward(s, x, nx);
        gm_mse_forward(s + 1, x, dln, nx);
        gm_bce_logits_forward(s + 2, x, dln, nx);
        gm_gauss_kl_forward(s + 3, x, dln, B, nx / B);
        res[t][0] = y, res[t][1] = dx, res[t][2] = dw, res[t][3] = db, res[t][4] = ln, res[t][5] = dln, res[t][6] = dg;
        res[t][7] = s;
        free(col), free(work), free(m), free(r), free(dbb);
    }
    size_t sz[8] = {ny, nx, nw, OC, nx, nx, W, 4};
    for (int k = 0; k < 8; k++) {
        if (memcmp(res[0][k], res[1][k], sz[k] * 4) != 0) fprintf(stderr, "  result %d differs\n", k);
        CHECK(memcmp(res[0][k], res[1][k], sz[k] * 4) == 0);
        free(res[0][k]), free(res[1][k]);
    }
    omp_set_num_threads(2);
    free(x), free(w), free(b), free(dy);
#endif
}

/* The blocked reductions against their sequential _ref twins, on random inputs large enough for several
 * blocks (and OpenMP partitions): relative error <= 1e-6 (double partial sums, one float rounding). */
GM_TEST(test_reduction_refs) {
    /* known answers first, so that the twins are not merely equal to each other */
    const float x3[3] = {1.0f, 2.0f, 6.0f}, y3[3] = {0.0f, 2.0f, 4.0f};
    float v;
    gm_sum_forward_ref(&v, x3, 3);
    CHECK(v == 9.0f);
    gm_mean_forward_ref(&v, x3, 3);
    CHECK(v == 3.0f);
    gm_mse_forward_ref(&v, x3, y3, 3); /* (1 + 0 + 4) / 3 */
    CHECK_NEAR(v, 5.0 / 3.0, 1e-7, 0);
    gm_gauss_kl_forward_ref(&v, y3, y3 + 1, 1, 1); /* mu 0, logvar 2: -0.5 (1 + 2 - e^2) */
    CHECK_NEAR(v, -0.5 * (3.0 - exp(2.0)), 1e-6, 0);
    gm_bce_logits_forward_ref(&v, y3, y3 + 1, 1); /* x 0, t 2: log 2 */
    CHECK_NEAR(v, log(2.0), 1e-7, 0);
    const size_t sizes[3] = {1, 1000, 70001};
    for (int k = 0; k < 3; k++) {
        size_t N = sizes[k];
        float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
        if (!a || !b) {
            CHECK(0);
            free(a);
            free(b);
            return;
        }
        fill(a, N, 40 + (uint64_t)k, -2.0f, 2.0f);
        fill(b, N, 50 + (uint64_t)k, -1.0f, 1.0f);
        float f, r;
        gm_sum_forward(&f, a, N);
        gm_sum_forward_ref(&r, a, N);
        CHECK_NEAR(f, r, 1e-6, 1e-6);
        gm_mean_forward(&f, a, N);
        gm_mean_forward_ref(&r, a, N);
        CHECK_NEAR(f, r, 1e-6, 1e-7);
        for (size_t i = 0; i < N; i++) b[i] = b[i] > 0 ? 1.0f : 0.0f; /* BCE targets */
        gm_bce_logits_forward(&f, a, b, N);
        gm_bce_logits_forward_ref(&r, a, b, N);
        CHECK_NEAR(f, r, 1e-6, 0);
        gm_mse_forward(&f, a, b, N);
        gm_mse_forward_ref(&r, a, b, N);
        CHECK_NEAR(f, r, 1e-6, 0);
        size_t B = N >= 1000 ? 10 : 1;
        gm_gauss_kl_forward(&f, b, a, B, N / B);
        gm_gauss_kl_forward_ref(&r, b, a, B, N / B);
        CHECK_NEAR(f, r, 1e-6, 0);
        free(a);
        free(b);
    }
}

GM_TEST_MAIN({"linear", test_linear}, {"conv2d", test_conv2d}, {"conv_transpose2d", test_conv_transpose2d},
             {"conv_relu_pool", test_conv_relu_pool},
             {"pool_upsample", test_pool_upsample}, {"activations", test_activations}, {"norms", test_norms},
             {"elementwise", test_elementwise}, {"losses", test_losses}, {"thread_invariance", test_thread_invariance},
             {"reduction_refs", test_reduction_refs})
