/* SPDX-License-Identifier: MIT */
/* test_public_api.c — public functions that nothing else in the tree calls, each checked against a closed
 * form or an independent computation: the named activation kernels (values and derivatives), the row
 * softmax, the RBF kernel of eval.h, the pluggable allocator, borrowed tensor views, the tape ops
 * add_channel / mean / time_embed (values and finite-difference gradients), gm_seq_forward_frozen, and the
 * naive nearest-upsampling backward. (gm_mix_count/counts/alpha/ref_size are in test_mix, gm_moe_predict in
 * test_moe, gm_latent_mcmc_n_chains in test_mcmc.) */
#include "gm_test.h"
#include "genmix/eval.h"
#include "genmix/linalg.h"
#include "genmix/models.h"
#include "genmix/nn.h"
#include "genmix/tensor.h"

static const float XS[6] = {-2.5f, -1.0f, -0.1f, 0.2f, 1.0f, 3.0f};

static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* Closed forms f(x) and f'(x) of each activation, in double. */
static void act_closed(int a, double x, double *f, double *df) {
    switch (a) {
    case GM_ACT_RELU: *f = x > 0 ? x : 0, *df = x > 0; break;
    case GM_ACT_LEAKY_RELU: *f = x > 0 ? x : 0.2 * x, *df = x > 0 ? 1 : 0.2; break;
    case GM_ACT_TANH: *f = tanh(x), *df = 1 - tanh(x) * tanh(x); break;
    case GM_ACT_SIGMOID: *f = sigm(x), *df = sigm(x) * (1 - sigm(x)); break;
    case GM_ACT_SILU: *f = x * sigm(x), *df = sigm(x) * (1 + x * (1 - sigm(x))); break;
    case GM_ACT_SOFTPLUS: *f = log1p(exp(x)), *df = sigm(x); break;
    default: /* GELU, exact */
        *f = 0.5 * x * (1 + erf(x / sqrt(2.0)));
        *df = 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * 3.14159265358979323846);
    }
}

GM_TEST(test_named_activations) {
    const int kinds[7] = {GM_ACT_RELU, GM_ACT_LEAKY_RELU, GM_ACT_TANH, GM_ACT_SIGMOID,
                          GM_ACT_SILU, GM_ACT_SOFTPLUS, GM_ACT_GELU};
    for (int k = 0; k < 7; k++) {
        int a = kinds[k];
        float out[6], din[6], dout[6];
        for (int i = 0; i < 6; i++) din[i] = 0.5f, dout[i] = 1.0f + 0.25f * (float)i; /* backward adds */
        switch (a) {
        case GM_ACT_RELU: gm_relu_forward(out, XS, 6); gm_relu_backward(din, dout, XS, 6); break;
        case GM_ACT_LEAKY_RELU:
            gm_leaky_relu_forward(out, XS, 6, 0.2f);
            gm_leaky_relu_backward(din, dout, XS, 6, 0.2f);
            break;
        case GM_ACT_TANH: gm_tanh_forward(out, XS, 6); gm_tanh_backward(din, dout, out, 6); break;
        case GM_ACT_SIGMOID: gm_sigmoid_forward(out, XS, 6); gm_sigmoid_backward(din, dout, out, 6); break;
        case GM_ACT_SILU: gm_silu_forward(out, XS, 6); gm_silu_backward(din, dout, XS, 6); break;
        case GM_ACT_SOFTPLUS: gm_softplus_forward(out, XS, 6); gm_softplus_backward(din, dout, XS, 6); break;
        default: gm_gelu_forward(out, XS, 6); gm_gelu_backward(din, dout, XS, 6);
        }
        for (int i = 0; i < 6; i++) {
            double f, df;
            act_closed(a, (double)XS[i], &f, &df);
            CHECK_NEAR(out[i], f, 1e-6, 1e-7);
            CHECK_NEAR(din[i], 0.5 + (double)dout[i] * df, 1e-5, 1e-6);
        }
    }
}

GM_TEST(test_softmax_rows) {
    const float in[6] = {1.0f, 2.0f, 3.0f, -1000.0f, 0.0f, 1000.0f};
    float out[6];
    gm_softmax_forward(out, in, 2, 3);
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    for (int j = 0; j < 3; j++) CHECK_NEAR(out[j], exp(1.0 + j) / z, 1e-6, 0);
    /* stable for huge logits: all the mass on the largest */
    CHECK(out[3] == 0.0f && out[4] == 0.0f && out[5] == 1.0f);
}

GM_TEST(test_kernel_rbf) {
    CHECK(gm_kernel_rbf(0.0, 1.7) == 1.0);
    CHECK_NEAR(gm_kernel_rbf(2.0, 1.0), exp(-1.0), 1e-15, 0);
    CHECK_NEAR(gm_kernel_rbf(9.0, 3.0), exp(-0.5), 1e-15, 0);
    /* the kernel struct of the same bandwidth agrees: biased MMD^2 of {0, 2} vs {1, 3} (d^2 = 4 within each
     * set; 1, 9, 1, 1 across) = (1 + k(4)) - (3 k(1) + k(9)) / 2 */
    double x[2] = {0.0, 2.0}, y[2] = {1.0, 3.0}, v;
    gm_feats fx = gm_feats_f64(x, 2, 1), fy = gm_feats_f64(y, 2, 1);
    gm_kernel k = gm_kernel_rbf_sigma(0.8);
    CHECK_OK(gm_mmd(&fx, &fy, &k, GM_MMD_BIASED, &v));
    CHECK_NEAR(v, 1 + gm_kernel_rbf(4, 0.8) - (3 * gm_kernel_rbf(1, 0.8) + gm_kernel_rbf(9, 0.8)) / 2, 1e-12, 0);
}

/* ---- allocator hook ---- */
static size_t g_allocs, g_frees, g_reallocs;
static void *count_malloc(size_t n, void *ctx) {
    (void)ctx;
    g_allocs++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ctx) {
    (void)ctx;
    g_reallocs++;
    return realloc(p, n);
}
static void count_free(void *p, void *ctx) {
    (void)ctx;
    if (p) g_frees++;
    free(p);
}

GM_TEST(test_set_allocator) {
    gm_allocator a = {count_malloc, count_realloc, count_free, NULL};
    gm_set_allocator(&a);
    float *p = gm_malloc(64);
    CHECK(p != NULL);
    p = gm_realloc(p, 128);
    gm_free(p);
    gm_tensor t;
    int64_t sh[2] = {3, 4};
    CHECK_OK(gm_tensor_alloc(&t, 2, sh)); /* library objects go through the hook too */
    gm_tensor_free(&t);
    gm_set_allocator(NULL);
    CHECK(g_allocs >= 2 && g_reallocs == 1 && g_frees == 2);
    size_t before = g_allocs;
    gm_free(gm_malloc(8)); /* restored: the hook is no longer called */
    CHECK_INT_EQ(g_allocs, before);
}

GM_TEST(test_tensor_view) {
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t sh[2] = {2, 3};
    gm_tensor v = gm_tensor_view(buf, 2, sh);
    CHECK(v.data == buf && v.owned == 0 && v.ndim == 2 && v.shape[0] == 2 && v.shape[1] == 3);
    CHECK(v.shape[2] == 1 && v.shape[3] == 1);
    CHECK_INT_EQ(gm_tensor_numel(&v), 6);
    int64_t sh2[1] = {6};
    CHECK_OK(gm_tensor_reshape(&v, 1, sh2));
    CHECK(v.data == buf && v.shape[0] == 6);
    const int64_t fewer[2] = {1, 5}, more[2] = {7, 1};
    CHECK_RC(gm_tensor_reshape(&v, 2, fewer), GM_ESHAPE); /* the element count must match exactly */
    CHECK_RC(gm_tensor_reshape(&v, 2, more), GM_ESHAPE);
    CHECK(v.ndim == 1 && v.shape[0] == 6);
    gm_tensor_free(&v); /* a view: clears the struct, leaves the borrowed data alone */
    CHECK(v.data == NULL && buf[5] == 6.0f);
}

/* ---- tape ops ---- */

/* loss = sum r_i y_i of one op on the tape; gradient of every input by central differences (float32,
 * eps 1e-2, double accumulation), gm_gc max and mean criteria. */
typedef gm_var *(*op2_fn)(gm_tape *t, gm_var *a, gm_var *b, int arg);

static double run_op(op2_fn f, float *a, const int64_t *sa, int na, float *b, const int64_t *sb, int nb, int arg,
                     const float *r, float *ga, float *gb) {
    gm_tape *t;
    if (gm_tape_create(&t, 0)) return NAN;
    gm_var *va = gm_tape_param(t, a, ga, na, sa), *vb = b ? gm_tape_param(t, b, gb, nb, sb) : NULL;
    gm_var *y = f(t, va, vb, arg);
    double s = NAN;
    if (y) {
        int64_t rs[1] = {(int64_t)y->n};
        gm_var *rv = gm_tape_input(t, (float *)(uintptr_t)r, 1, rs, 0);
        gm_var *l = gm_op_sum(t, gm_op_mul(t, gm_op_reshape(t, y, 1, rs), rv));
        if (l) s = (double)l->val[0];
        if (l && ga) gm_tape_backward(t, l);
    }
    gm_tape_free(t);
    return s;
}

static int op_gradcheck(const char *name, op2_fn f, float *a, const int64_t *sa, int na, size_t n_a, float *b,
                        const int64_t *sb, int nb, size_t n_b, int arg, size_t n_out) {
    float *r = malloc(n_out * sizeof(float)), *ga = calloc(n_a, sizeof(float)), *gb = calloc(n_b ? n_b : 1, sizeof(float));
    for (size_t i = 0; i < n_out; i++) r[i] = (float)sin(1.0 + 0.7 * (double)i);
    run_op(f, a, sa, na, b, sb, nb, arg, r, ga, b ? gb : NULL);
    int ok = 1;
    for (int which = 0; which < (b ? 2 : 1); which++) {
        float *v = which ? b : a, *g = which ? gb : ga;
        gm_gc st;
        memset(&st, 0, sizeof st);
        for (size_t i = 0; i < (which ? n_b : n_a); i++) {
            float v0 = v[i];
            v[i] = v0 + 1e-2f;
            double lp = run_op(f, a, sa, na, b, sb, nb, arg, r, NULL, NULL);
            v[i] = v0 - 1e-2f;
            double lm = run_op(f, a, sa, na, b, sb, nb, arg, r, NULL, NULL);
            v[i] = v0;
            gm_gc_add(&st, i, g[i], (lp - lm) / 2e-2);
        }
        char label[64];
        snprintf(label, sizeof label, "%s input %d", name, which);
        ok &= gm_gc_ok(&st, label, 1e-2, 1e-3);
    }
    free(r), free(ga), free(gb);
    return ok;
}

static gm_var *op_add_channel(gm_tape *t, gm_var *a, gm_var *b, int arg) {
    (void)arg;
    return gm_op_add_channel(t, a, b);
}
static gm_var *op_mean(gm_tape *t, gm_var *a, gm_var *b, int arg) {
    (void)b, (void)arg;
    return gm_op_mean(t, a);
}
static gm_var *op_time_embed(gm_tape *t, gm_var *a, gm_var *b, int arg) {
    (void)b;
    return gm_op_time_embed(t, a, arg);
}

GM_TEST(test_tape_ops) {
    /* add_channel: x(2,3,2,2) + v(2,3) over the trailing dims */
    float x[24], v[6];
    for (int i = 0; i < 24; i++) x[i] = 0.1f * (float)i - 1.0f;
    for (int i = 0; i < 6; i++) v[i] = (float)(i * i) - 2.0f;
    const int64_t sx[4] = {2, 3, 2, 2}, sv[2] = {2, 3}, s1[1] = {4};
    gm_tape *t;
    CHECK_OK(gm_tape_create(&t, 0));
    gm_var *y = gm_op_add_channel(t, gm_tape_input(t, x, 4, sx, 0), gm_tape_input(t, v, 2, sv, 0));
    CHECK(y != NULL && y->ndim == 4);
    int bad = 0;
    for (int i = 0; y && i < 24; i++) bad += y->val[i] != x[i] + v[i / 4];
    CHECK_INT_EQ(bad, 0);
    /* mean of all elements */
    gm_var *m = gm_op_mean(t, gm_tape_input(t, x, 4, sx, 0));
    CHECK(m != NULL && m->n == 1);
    if (m) CHECK_NEAR(m->val[0], (0.1 * 23 * 24 / 2 - 24) / 24, 1e-6, 1e-7);
    /* time embedding: [sin(t f_i), cos(t f_i)], f_i = 10000^(-i/half) */
    float tv[4] = {0.0f, 1.0f, 7.5f, 250.0f};
    gm_var *e = gm_op_time_embed(t, gm_tape_input(t, tv, 1, s1, 0), 6);
    CHECK(e != NULL && e->ndim == 2 && e->shape[0] == 4 && e->shape[1] == 6);
    for (int b = 0; e && b < 4; b++)
        for (int i = 0; i < 3; i++) {
            double f = pow(10000.0, -(double)i / 3), a = (double)tv[b] * f;
            CHECK_NEAR(e->val[b * 6 + i], sin(a), 0, 2e-4);
            CHECK_NEAR(e->val[b * 6 + 3 + i], cos(a), 0, 2e-4);
        }
    CHECK(gm_op_time_embed(t, gm_tape_input(t, tv, 1, s1, 0), 5) == NULL); /* odd dim: shape error */
    CHECK_RC(gm_tape_status(t), GM_ESHAPE);
    gm_tape_free(t);
    /* gradients */
    CHECK(op_gradcheck("add_channel", op_add_channel, x, sx, 4, 24, v, sv, 2, 6, 0, 24));
    CHECK(op_gradcheck("mean", op_mean, x, sx, 4, 24, NULL, NULL, 0, 0, 0, 1));
    float tt[3] = {0.3f, 1.1f, 2.0f};
    const int64_t s3[1] = {3};
    CHECK(op_gradcheck("time_embed", op_time_embed, tt, s3, 1, 3, NULL, NULL, 0, 0, 8, 24));
}

GM_TEST(test_seq_forward_frozen) {
    const int64_t in[1] = {4};
    gm_seq *s;
    CHECK_OK(gm_seq_create(&s, "linear:3,tanh,linear:2", 1, in));
    if (!s) return;
    gm_seq_init(s, 4);
    float x[8] = {0.1f, -0.2f, 0.3f, 0.4f, 1.0f, 0.5f, -0.5f, 0.0f};
    const int64_t sx[2] = {2, 4};
    float out[2][4];
    for (int frozen = 0; frozen < 2; frozen++) {
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        gm_params_zero_grad(&s->params);
        gm_var *xv = gm_tape_input(t, x, 2, sx, 1);
        gm_var *y = frozen ? gm_seq_forward_frozen(s, t, xv, -1, 0, NULL) : gm_seq_forward(s, t, xv, -1, 0, NULL);
        CHECK(y != NULL && y->n == 4);
        if (!y) continue;
        memcpy(out[frozen], y->val, sizeof out[frozen]);
        CHECK_OK(gm_tape_backward(t, gm_op_sum(t, y)));
        double gsum = 0, xg = 0;
        for (size_t i = 0; i < s->params.total; i++) gsum += fabs((double)s->params.grad[i]);
        for (int i = 0; i < 8; i++) xg += fabs((double)xv->grad[i]);
        /* frozen: same output, no parameter gradient, but the input still gets one */
        if (frozen) CHECK(gsum == 0.0);
        else CHECK(gsum > 0.0);
        CHECK(xg > 0.0);
        gm_tape_free(t);
    }
    CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0);
    gm_seq_free(s);
}

GM_TEST(test_upsample_backward_ref) {
    /* 1 channel 2x3 upsampled by 2: each input gradient is the sum of its 2x2 block of dout, added */
    float dout[24], din[6], din2[6];
    for (int i = 0; i < 24; i++) dout[i] = (float)i;
    for (int i = 0; i < 6; i++) din[i] = din2[i] = 1.0f;
    gm_upsample_nearest_backward_ref(din, dout, 1, 2, 3, 2);
    for (int h = 0; h < 2; h++)
        for (int w = 0; w < 3; w++) {
            double s = 1;
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) s += (double)dout[(2 * h + a) * 6 + 2 * w + b];
            CHECK_NEAR(din[h * 3 + w], s, 0, 0);
        }
    gm_upsample_nearest_backward(din2, dout, 1, 2, 3, 2);
    CHECK(memcmp(din, din2, sizeof din) == 0);
}

GM_TEST_MAIN({"named_activations", test_named_activations}, {"softmax_rows", test_softmax_rows},
             {"kernel_rbf", test_kernel_rbf}, {"set_allocator", test_set_allocator}, {"tensor_view", test_tensor_view},
             {"tape_ops", test_tape_ops}, {"seq_forward_frozen", test_seq_forward_frozen},
             {"upsample_backward_ref", test_upsample_backward_ref})
