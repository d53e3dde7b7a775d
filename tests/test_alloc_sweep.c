/* SPDX-License-Identifier: MIT */
/* test_alloc_sweep.c — allocation-failure sweeps over the public API (issue 12, "robust error paths").
 *
 * Every public function that allocates (tools/list_allocating.py lists them from the call graph) runs
 * under CHECK_ALLOC_SWEEP (tests/gm_test.h): the k-th allocation fails for k = 1, 2, ... until the call
 * succeeds, and at each k the call must return GM_ENOMEM and leave nothing allocated. Inputs are tiny
 * so that the sweeps stay cheap under ASan; what the results are is checked by the module tests, here only
 * that the failure paths clean up. Thread count 1 so that the allocation order is the same at every k.
 * Functions that return a value instead of a status (NaN/NULL on failure) are wrapped to a status. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "genmix/ae.h"
#include "genmix/classifier.h"
#include "genmix/eval.h"
#include "genmix/hash.h"
#include "genmix/io.h"
#include "genmix/mcmc.h"
#include "genmix/mix.h"
#include "genmix/models.h"
#include "genmix/moe.h"
#include "genmix/optim.h"
#include "genmix/plot.h"
#include "genmix/rng.h"
#include "genmix/tape.h"
#include "genmix/tensor.h"
#include "alloc_sweep_util.h"
#include "gm_test.h"

/* ---- eval ---------------------------------------------------------------------------------------- */

enum { NR = 40, NF = 36, D = 5 };
static double g_real[NR * D], g_fake[NF * D];
static gm_feats R, F;

static void eval_data(void) {
    fill(g_real, NR * D, 1);
    fill(g_fake, NF * D, 2);
    for (size_t i = 0; i < NF * D; i++) g_fake[i] += 0.1;
    R = gm_feats_f64(g_real, NR, D);
    F = gm_feats_f64(g_fake, NF, D);
}

static int run_knn(void *ctx) {
    gm_knn_config c = *(const gm_knn_config *)ctx;
    gm_knn_result r;
    int rc = gm_knn(&R, &F, &c, &r);
    if (!rc) gm_knn_result_free(&r); /* on failure the call owns the cleanup */
    return rc;
}
static int run_knn_ref(void *ctx) {
    gm_knn_result r;
    int rc = gm_knn_ref(&R, &F, (const gm_knn_config *)ctx, &r);
    if (!rc) gm_knn_result_free(&r);
    return rc;
}
static int run_knn_radii(void *ctx) {
    double rad[NR * 3];
    return gm_knn_radii(&R, 3, 16, *(int *)ctx, rad);
}
static int run_knn_stream(void *ctx) {
    gm_knn_stream *s;
    int rc = gm_knn_stream_create(&s, D, (const gm_knn_config *)ctx);
    if (rc) return rc;
    gm_feats a = gm_feats_f64(g_real, 20, D), b = gm_feats_f64(g_real + 20 * D, NR - 20, D);
    gm_knn_result r;
    memset(&r, 0, sizeof r);
    if (!(rc = gm_knn_stream_feed(s, GM_KNN_REAL, &a)) && !(rc = gm_knn_stream_feed(s, GM_KNN_FAKE, &F)) &&
        !(rc = gm_knn_stream_feed(s, GM_KNN_REAL, &b)))
        rc = gm_knn_stream_finish(s, &r);
    if (!rc) gm_knn_result_free(&r);
    gm_knn_stream_free(s);
    return rc;
}

GM_TEST(test_sweep_knn) {
    gm_test_set_threads(1);
    eval_data();
    gm_knn_config c = gm_knn_config_default();
    c.tile = 16;
    c.want_pr = c.want_dc = 1;
    CHECK(CHECK_ALLOC_SWEEP(run_knn, &c) >= 20);
    c.realism = GM_REALISM_KYNKAAT;
    CHECK_ALLOC_SWEEP(run_knn, &c);
    c.realism = GM_REALISM_DGM;
    c.f32 = 1;
    CHECK_ALLOC_SWEEP(run_knn, &c);
    c.fp16 = 1;
    CHECK_ALLOC_SWEEP(run_knn, &c);
    CHECK_ALLOC_SWEEP(run_knn_ref, &c);
    int f32 = 0;
    CHECK_ALLOC_SWEEP(run_knn_radii, &f32);
    f32 = 1;
    CHECK_ALLOC_SWEEP(run_knn_radii, &f32);
    c = gm_knn_config_default();
    c.tile = 8;
    CHECK_ALLOC_SWEEP(run_knn_stream, &c);
}


static int run_fd(void *ctx) {
    gm_fd_result r;
    int rc = gm_fd(&R, &F, GM_COV_UNBIASED, &r);
    if (rc) return rc;
    if ((rc = gm_fd_lowrank(&R, &F, GM_COV_BIASED, &r))) return rc;
    gm_fdstats a, b;
    if ((rc = gm_fdstats_init(&a, D))) return rc;
    if ((rc = gm_fdstats_init(&b, D))) {
        gm_fdstats_free(&a);
        return rc;
    }
    if (!(rc = gm_fdstats_add(&a, &R)) && !(rc = gm_fdstats_add(&b, &F)) &&
        !(rc = gm_fd_from_stats(&a, &b, GM_COV_UNBIASED, &r))) {
        double S1[D * D], S2[D * D];
        if (!(rc = gm_fdstats_cov(&a, GM_COV_UNBIASED, S1)) && !(rc = gm_fdstats_cov(&b, GM_COV_UNBIASED, S2)) &&
            !(rc = gm_fd_from_moments(a.mean, S1, b.mean, S2, D, &r)))
            rc = gm_fd_from_moments_ref(a.mean, S1, b.mean, S2, D, &r);
    }
    gm_fdstats_free(&a);
    gm_fdstats_free(&b);
    if (rc) return rc;
    double v[3];
    return gm_fd_bootstrap(&R, &F, GM_COV_UNBIASED, 3, 7, v);
}

static int run_kid_mmd(void *ctx) {
    gm_kid_config c = gm_kid_config_default();
    c.subsets = 3;
    c.subset_size = 20;
    gm_kid_result r;
    double per[3], m;
    int rc = gm_kid(&R, &F, &c, &r, per);
    if (rc) return rc;
    c.f32 = 1;
    if ((rc = gm_kid(&R, &F, &c, &r, per))) return rc;
    gm_kernel k = gm_kernel_rbf_sigma(1.0);
    if ((rc = gm_mmd(&R, &F, &k, GM_MMD_UNBIASED, &m))) return rc;
    k = gm_kernel_poly3();
    return gm_mmd(&R, &F, &k, GM_MMD_BIASED, &m);
}

static int run_prd(void *ctx) {
    gm_prd_config c = gm_prd_config_default();
    c.num_clusters = 3;
    c.num_angles = 11;
    c.num_runs = 2;
    c.n_init = 2;
    c.max_iter = 5;
    double p[11], r[11], f8, f18;
    return gm_prd(&R, &F, &c, p, r, &f8, &f18);
}

static int run_diversity(void *ctx) {
    gm_kernel k = gm_kernel_rbf_sigma(0.7);
    double v, sig[2] = {0.5, 1.0}, frob[2];
    size_t nc;
    int rc;
    if ((rc = gm_vendi(&R, &k, 1.0, &v, &nc)) || (rc = gm_vendi(&R, &k, 2.0, &v, &nc))) return rc;
    double K[9] = {1, 0.5, 0.2, 0.5, 1, 0.1, 0.2, 0.1, 1};
    if ((rc = gm_vendi_from_kernel(K, 3, 1.0, &v))) return rc;
    if ((rc = gm_rke_frobenius(&R, sig, 2, 16, frob))) return rc;
    if ((rc = gm_rke_mc(&R, 0.7, 50, 3, &v))) return rc;
    return gm_rrke(&R, &F, 0.7, &v);
}

static int run_is_boot(void *ctx) {
    double p[12 * 3], m, sd;
    for (int i = 0; i < 12; i++) p[3 * i] = 0.2, p[3 * i + 1] = 0.3 + 0.01 * i, p[3 * i + 2] = 0.5 - 0.01 * i;
    gm_feats P = gm_feats_f64(p, 12, 3);
    int rc = gm_inception_score(&P, 1, 2, GM_IS_SHUFFLE_MT2020, 0, &m, &sd);
    if (rc) return rc;
    double v[20];
    fill(v, 20, 9);
    if ((rc = nan_to_status(gm_eval_percentile(v, 20, 0.3)))) return rc;
    gm_ci ci = gm_ci_bias_corrected(v, 20, 0.01, 0.95);
    if ((rc = nan_to_status(ci.lo))) return rc;
    if ((rc = gm_mean_bootstrap(v, 20, 30, 5, 0.9, &ci))) return rc;
    void *buf;
    gm_feats sub;
    if ((rc = gm_feats_subsample(&R, 10, 3, 0, &buf, &sub))) return rc;
    gm_free(buf);
    return GM_OK;
}

static int run_knn_bootstrap(void *ctx) {
    gm_knn_ci ci;
    static gm_knn_config c;
    c = gm_knn_config_default();
    c.want_pr = c.want_dc = 1;
    return gm_knn_bootstrap((const gm_knn_result *)ctx, &c, 20, 4, 0.9, &ci);
}

static int run_sha(void *ctx) {
    char hex[65];
    return gm_sha256_file((const char *)ctx, hex);
}

GM_TEST(test_sweep_eval) {
    gm_test_set_threads(1);
    eval_data();
    CHECK_ALLOC_SWEEP(run_fd, NULL);
    CHECK_ALLOC_SWEEP(run_kid_mmd, NULL);
    CHECK_ALLOC_SWEEP(run_prd, NULL);
    CHECK_ALLOC_SWEEP(run_diversity, NULL);
    CHECK_ALLOC_SWEEP(run_is_boot, NULL);
    gm_knn_config c = gm_knn_config_default();
    c.want_pr = c.want_dc = 1;
    gm_knn_result r;
    CHECK_OK(gm_knn(&R, &F, &c, &r));
    CHECK_ALLOC_SWEEP(run_knn_bootstrap, &r);
    gm_knn_result_free(&r);
    CHECK_ALLOC_SWEEP(run_sha, "tests/gm_test.h");
}

/* ---- core and io: tensors, arenas, files ----------------------------------------------------------- */

static int run_tensor_arena(void *ctx) {
    gm_tensor t;
    int rc = gm_tensor_alloc(&t, 2, (int64_t[]){3, 4});
    if (rc) return rc;
    gm_tensor_free(&t);
    gm_arena *a;
    if ((rc = gm_arena_create(&a, 64))) return rc;
    rc = GM_ENOMEM;
    for (int i = 0; i < 4; i++)
        if (!gm_arena_alloc(a, 100) || !gm_arena_floats(a, 50)) goto done;
    gm_arena_reset(a); /* merges the blocks; keeps the biggest if that allocation fails */
    if (!gm_arena_alloc(a, 1000)) goto done;
    rc = GM_OK;
done:
    gm_arena_free(a);
    return rc;
}

static int run_npy(void *ctx) {
    const char *p = tmp_path("a.npy");
    double x[6] = {1, 2, 3, 4, 5, 6};
    int rc = gm_npy_write(p, GM_DTYPE_F64, 2, (int64_t[]){2, 3}, x);
    if (rc) return rc;
    gm_array a;
    if ((rc = gm_npy_read(p, &a))) return rc;
    rc = gm_array_convert(&a, GM_DTYPE_F32);
    gm_tensor t;
    if (!rc && !(rc = gm_array_to_tensor(&a, &t))) gm_tensor_free(&t);
    gm_array_free(&a);
    if (rc) return rc;
    if ((rc = gm_npy_mmap(p, &a))) return rc;
    gm_array_free(&a);
    if ((rc = gm_npy_read_f32(p, &t))) return rc;
    rc = gm_npy_write_f32(tmp_path("b.npy"), &t);
    gm_tensor_free(&t);
    if (rc) return rc;
    void *buf;
    size_t len;
    if ((rc = gm_read_file(p, &buf, &len))) return rc;
    if (!(rc = gm_npy_parse(buf, len, "a.npy", &a))) gm_array_free(&a);
    gm_free(buf);
    return rc;
}

static int run_npz(void *ctx) {
    const char *p = tmp_path("a.npz");
    double x[4] = {1, 2, 3, 4};
    gm_array arr[2];
    memset(arr, 0, sizeof arr);
    for (int i = 0; i < 2; i++) {
        arr[i].dtype = GM_DTYPE_F64;
        arr[i].ndim = 1;
        arr[i].shape[0] = 4;
        arr[i].data = x;
        arr[i].nbytes = sizeof x;
    }
    const char *names[2] = {"x", "y"};
    int rc = gm_npz_write(p, 2, names, arr);
    if (rc) return rc;
    char **nm;
    size_t cnt;
    if ((rc = gm_npz_list(p, &nm, &cnt))) return rc;
    gm_npz_names_free(nm, cnt);
    gm_array a;
    if ((rc = gm_npz_read(p, "y", &a))) return rc;
    gm_array_free(&a);
    void *buf;
    size_t len;
    if ((rc = gm_read_file(p, &buf, &len))) return rc;
    if (!(rc = gm_npz_parse(buf, len, "a.npz", "x", &a))) gm_array_free(&a);
    gm_free(buf);
    return rc;
}

static int run_safetensors(void *ctx) {
    const char *p = tmp_path("a.safetensors");
    float x[6] = {1, 2, 3, 4, 5, 6};
    gm_st_writer *w;
    int rc = gm_st_writer_create(&w);
    if (rc) return rc;
    if (!(rc = gm_st_writer_add(w, "w", GM_DTYPE_F32, 2, (int64_t[]){2, 3}, x)) &&
        !(rc = gm_st_writer_add(w, "b", GM_DTYPE_F32, 1, (int64_t[]){6}, x)) &&
        !(rc = gm_st_writer_meta(w, "format", "pt")))
        rc = gm_st_writer_write(w, p);
    gm_st_writer_free(w);
    if (rc) return rc;
    gm_safetensors *st;
    if ((rc = gm_safetensors_read(&st, p))) return rc;
    gm_safetensors_free(st);
    void *buf;
    size_t len;
    if ((rc = gm_read_file(p, &buf, &len))) return rc;
    if (!(rc = gm_safetensors_parse(&st, buf, len, "a.safetensors"))) gm_safetensors_free(st);
    gm_free(buf);
    return rc;
}

static int write_idx(const char *path, const uint8_t *hdr, size_t hl, const uint8_t *body, size_t bl) {
    FILE *f = fopen(path, "wb");
    if (!f) return GM_EIO;
    fwrite(hdr, 1, hl, f);
    fwrite(body, 1, bl, f);
    return fclose(f) ? GM_EIO : GM_OK;
}

static int run_idx(void *ctx) {
    gm_array a;
    int rc = gm_idx_read(tmp_path("t10k-labels-idx1-ubyte"), &a);
    if (rc) return rc;
    gm_array_free(&a);
    void *buf;
    size_t len;
    if ((rc = gm_read_file(tmp_path("t10k-images-idx3-ubyte"), &buf, &len))) return rc;
    if (!(rc = gm_idx_parse(buf, len, "images", &a))) gm_array_free(&a);
    gm_free(buf);
    if (rc) return rc;
    gm_tensor im;
    uint8_t *lab;
    size_t n;
    if ((rc = gm_fashion_mnist_load(g_dir, 0, &im, &lab, &n))) return rc;
    gm_tensor_free(&im);
    gm_free(lab);
    return GM_OK;
}

static int run_csv(void *ctx) {
    const char *p = tmp_path("a.csv");
    const char *cols[2] = {"x", "y"};
    double v[6] = {1, 2, 3, 4, 5, 6};
    int rc = gm_csv_write(p, 3, 2, cols, v);
    if (rc) return rc;
    gm_csv t;
    if ((rc = gm_csv_read(p, &t))) return rc;
    gm_csv_free(&t);
    return GM_OK;
}

static int run_png(void *ctx) {
    const char *p = tmp_path("a.png");
    uint8_t px[4 * 3 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);
    int rc = gm_png_write(p, px, 4, 3, 3);
    if (rc) return rc;
    uint8_t *q;
    int w, h, c;
    if ((rc = gm_png_read(p, &q, &w, &h, &c))) return rc;
    gm_free(q);
    float im[2 * 4 * 4];
    for (size_t i = 0; i < 32; i++) im[i] = (float)i / 32.0f;
    return gm_png_write_grid(tmp_path("g.png"), im, 2, 1, 4, 4, 2, 1);
}

static int run_atomic(void *ctx) {
    gm_atomic_file af;
    int rc = gm_atomic_open(&af, tmp_path("c.txt"));
    if (rc) return rc;
    fputs("hello\n", af.f);
    if ((rc = gm_atomic_commit(&af))) return rc;
    return gm_write_file_atomic(tmp_path("d.txt"), "abc", 3);
}

GM_TEST(test_sweep_core_io) {
    gm_test_set_threads(1);
    tmp_dir_make();
    CHECK_ALLOC_SWEEP_ABSORBS(run_tensor_arena, NULL);
    CHECK_ALLOC_SWEEP(run_npy, NULL);
    CHECK_ALLOC_SWEEP(run_npz, NULL);
    CHECK_ALLOC_SWEEP(run_safetensors, NULL);
    uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28}, lh[8] = {0, 0, 8, 1, 0, 0, 0, 3};
    static uint8_t px[3 * 784];
    uint8_t lab[3] = {1, 7, 9};
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)i;
    CHECK_OK(write_idx(tmp_path("t10k-images-idx3-ubyte"), ih, 16, px, sizeof px));
    CHECK_OK(write_idx(tmp_path("t10k-labels-idx1-ubyte"), lh, 8, lab, 3));
    CHECK_ALLOC_SWEEP(run_idx, NULL);
    CHECK_ALLOC_SWEEP(run_csv, NULL);
    CHECK_ALLOC_SWEEP(run_png, NULL);
    CHECK_ALLOC_SWEEP(run_atomic, NULL);
    tmp_dir_remove();
}

/* ---- nn: the tape and every op, sequential models, optimiser, checkpoints -------------------------- */

static float g_x[2 * 2 * 4 * 4], g_w[3 * 2 * 3 * 3], g_dw[3 * 2 * 3 * 3], g_b[3], g_db[3];
static float g_wt[3 * 2 * 2 * 2], g_dwt[3 * 2 * 2 * 2], g_wl[3 * 32], g_dwl[3 * 32], g_tgt[2 * 32];
static float g_w4[3 * 2 * 4 * 4], g_dw4[3 * 2 * 4 * 4]; /* 4x4 stride-2 (the grid kernels where SIMD is there) */

static void nn_data(void) {
    double tmp[2 * 32 * 3];
    fill(tmp, sizeof tmp / sizeof tmp[0], 5);
    float *dst[] = {g_x, g_w, g_b, g_wt, g_wl, g_tgt};
    size_t len[] = {64, 54, 3, 24, 96, 64};
    for (size_t k = 0, o = 0; k < 6; k++)
        for (size_t i = 0; i < len[k]; i++, o = (o + 1) % (sizeof tmp / sizeof tmp[0])) dst[k][i] = (float)tmp[o];
    for (size_t i = 0; i < 64; i++) g_tgt[i] = g_tgt[i] > 0 ? 1.0f : 0.0f;
}

static void custom_backward(gm_tape *t, gm_node *n) {
    float *g = gm_tape_grad(t, n->in[0]);
    if (g) g[0] += n->out->grad[0];
}

/* One graph through every op (a small arena so that it grows), a scalar loss, backward. */
static int run_tape(void *ctx) {
    gm_tape *t;
    int rc = gm_tape_create(&t, 256);
    if (rc) return rc;
    gm_rng rng;
    gm_rng_init(&rng, 3, 1);
    static const int32_t labels[2] = {0, 2};
    gm_var *x = gm_tape_input(t, g_x, 4, (int64_t[]){2, 2, 4, 4}, 1);
    gm_var *w = gm_tape_param(t, g_w, g_dw, 4, (int64_t[]){3, 2, 3, 3});
    gm_var *b = gm_tape_param(t, g_b, g_db, 1, (int64_t[]){3});
    gm_var *wt = gm_tape_param(t, g_wt, g_dwt, 4, (int64_t[]){3, 2, 2, 2});
    gm_var *wl = gm_tape_param(t, g_wl, g_dwl, 2, (int64_t[]){3, 32});
    gm_var *tg = gm_tape_input(t, g_tgt, 2, (int64_t[]){2, 32}, 0);
    gm_var *c1 = gm_op_conv2d(t, x, w, b, 1, 1);                                /* 2,3,4,4 */
    gm_var *crp = gm_op_conv_relu_pool(t, x, w, b, 1, 1);                       /* 2,3,2,2 */
    gm_var *ct = gm_op_conv_transpose2d(t, crp, wt, NULL, 2, 0);                /* 2,2,4,4 */
    gm_var *w4 = gm_tape_param(t, g_w4, g_dw4, 4, (int64_t[]){3, 2, 4, 4});
    gm_var *lr = gm_op_conv2d_lrelu(t, x, w4, b, 2, 1, 0.2f);                    /* 2,3,2,2 */
    gm_var *c4 = gm_op_conv2d(t, x, w4, NULL, 2, 1);                            /* 2,3,2,2 */
    gm_var *t4 = gm_op_conv_transpose2d(t, gm_op_add(t, lr, c4), w4, NULL, 2, 1); /* 2,2,4,4 */
    gm_var *mp = gm_op_maxpool2d(t, c1, 2, 2), *ap = gm_op_avgpool2d(t, c1, 2, 2);
    gm_var *up = gm_op_upsample(t, gm_op_add(t, mp, ap), 2);                    /* 2,3,4,4 */
    gm_var *ac = gm_op_act(t, up, GM_ACT_TANH, 0);
    gm_var *gn = gm_op_groupnorm(t, c1, 3, b, b, 1e-5f);
    gm_var *dr = gm_op_dropout(t, gn, 0.5f, &rng);
    gm_var *gs = gm_op_groupnorm_silu(t, up, 3, b, b, 1e-5f);
    gm_var *gr = gm_op_groupnorm_relu(t, up, 3, b, b, 1e-5f);
    gm_var *ch = gm_op_add_channel(t, gm_op_mul(t, gm_op_add(t, ac, gm_op_add(t, gs, gr)), dr),
                                   gm_tape_input(t, g_wl, 2, (int64_t[]){2, 3}, 0));
    gm_var *cat = gm_op_concat(t, ch, ct, 1);                                   /* 2,5,4,4 */
    gm_var *sa = NULL, *sb = NULL;
    gm_op_split(t, cat, 1, 2, &sa, &sb);
    gm_var *fl = gm_op_reshape(t, gm_op_scale(t, sa, 2.0f, 0.5f), 2, (int64_t[]){2, 32});
    gm_var *ln = gm_op_layernorm(t, fl, NULL, NULL, 1e-5f);
    gm_var *lg = gm_op_linear(t, ln, wl, b);                                    /* 2,3 */
    gm_var *l1 = gm_op_softmax_xent(t, lg, labels);
    gm_var *l2 = gm_op_bce_logits(t, ln, tg);
    gm_var *l3 = gm_op_mse(t, fl, tg);
    gm_var *l4 = gm_op_gauss_kl(t, lg, gm_var_detach(t, lg));
    gm_var *te = gm_op_time_embed(t, gm_op_reshape(t, lg, 1, (int64_t[]){6}), 4);
    gm_var *l5 = gm_op_add(t, gm_op_add(t, gm_op_mean(t, te), gm_op_sum(t, sb)), gm_op_sum(t, t4));
    gm_var *loss = gm_op_add(t, gm_op_add(t, gm_op_add(t, l1, l2), gm_op_add(t, l3, l4)), l5);
    if (!(rc = gm_tape_status(t))) rc = gm_tape_backward(t, loss);
    if (!rc && !gm_tape_grad(t, c1)) rc = GM_ENOMEM; /* already allocated by backward: returns it */
    if (!rc) { /* a custom node through the public recording API */
        gm_var *in1[1] = {x}, *o = gm_tape_new(t, 1, (int64_t[]){1}, 1);
        if (!o || !gm_tape_record(t, custom_backward, o, 1, in1) || !gm_tape_grad(t, o))
            rc = gm_tape_status(t) ? gm_tape_status(t) : GM_ENOMEM;
    }
    gm_tape_reset(t);
    if (!rc) { /* again after the reset (the arena merges its blocks), seeded with an output gradient */
        wl = gm_tape_param(t, g_wl, g_dwl, 2, (int64_t[]){3, 32}); /* the reset forgot every var */
        gm_var *y = gm_op_linear(t, gm_tape_input(t, g_tgt, 2, (int64_t[]){2, 32}, 1), wl, NULL);
        gm_var *n = gm_tape_new(t, 2, (int64_t[]){2, 3}, 0);
        if (!(rc = gm_tape_status(t)) && !(rc = n ? GM_OK : GM_ENOMEM)) {
            float dout[6] = {1, 2, 3, 4, 5, 6};
            rc = gm_tape_backward_from(t, y, dout);
        }
    }
    gm_tape_free(t);
    return rc;
}

static int run_seq(void *ctx) {
    gm_seq *s;
    int rc = gm_seq_create(&s, "conv:3:3:1:1,relu,maxpool:2,dropout:0.25,flatten,linear:4,layernorm,linear:3", 3,
                           (int64_t[]){2, 4, 4});
    if (rc) return rc;
    gm_seq_init(s, 5);
    gm_tape *t = NULL;
    gm_optim o;
    memset(&o, 0, sizeof o);
    gm_optim_config oc = gm_optim_config_default();
    if ((rc = gm_tape_create(&t, 0)) || (rc = gm_optim_init(&o, &oc, s->params.total))) goto done;
    gm_rng rng;
    gm_rng_init(&rng, 9, 0);
    gm_var *x = gm_tape_input(t, g_x, 4, (int64_t[]){2, 2, 4, 4}, 0);
    gm_var *y = gm_seq_forward(s, t, x, -1, 1, &rng), *z = gm_seq_forward_frozen(s, t, x, 3, 0, NULL);
    gm_var *l = gm_op_add(t, gm_op_mean(t, y), gm_op_mean(t, z));
    gm_var *pv = gm_params_var(&s->params, t, 0, 0);
    l = gm_op_add(t, l, gm_op_mean(t, pv));
    gm_params_zero_grad(&s->params);
    if ((rc = gm_tape_status(t)) || (rc = gm_tape_backward(t, l))) goto done;
    gm_optim_step(&o, s->params.val, s->params.grad, 0.01f);
    gm_checkpoint_meta m = {"sweep", "{\"x\":1}", 1, 0, 5, &rng};
    const char *p = (const char *)ctx;
    if ((rc = gm_checkpoint_save(p, &s->params, &o, &m))) goto done;
    gm_checkpoint *c;
    if ((rc = gm_checkpoint_open(&c, p))) goto done;
    if (!(rc = gm_checkpoint_load_params(c, &s->params)) && !(rc = gm_checkpoint_load_optim(c, &s->params, &o)))
        rc = gm_checkpoint_load_rng(c, &rng);
    gm_checkpoint_close(c);
done:
    gm_optim_free(&o);
    gm_tape_free(t);
    gm_seq_free(s);
    return rc;
}

static int run_params(void *ctx) {
    gm_params p;
    gm_params_init(&p);
    int rc = GM_ENOMEM;
    if (gm_params_add(&p, "a.weight", 2, (int64_t[]){3, 4}) < 0 || gm_params_add(&p, "a.bias", 1, (int64_t[]){3}) < 0)
        goto done;
    for (int i = 0; i < 20; i++) { /* grows the info table */
        char name[32];
        snprintf(name, sizeof name, "p%d", i);
        if (gm_params_add(&p, name, 1, (int64_t[]){2}) < 0) goto done;
    }
    rc = gm_params_alloc(&p);
done:
    gm_params_free(&p);
    return rc;
}

GM_TEST(test_sweep_nn) {
    gm_test_set_threads(1);
    nn_data();
    CHECK(CHECK_ALLOC_SWEEP_ABSORBS(run_tape, NULL) > 10); /* gm_tape_reset keeps the old blocks if merging fails */
    char path[64];
    snprintf(path, sizeof path, "/tmp/gm_sweep_%d.safetensors", (int)getpid());
    CHECK_ALLOC_SWEEP(run_seq, path);
    remove(path);
    CHECK_ALLOC_SWEEP(run_params, NULL);
}


/* ---- latent: autoencoders, classifier, latent MCMC and its metrics --------------------------------- */

enum { AE_D = 6, AE_Z = 2, AE_N = 8 };
static float g_ax[AE_N * AE_D];

static int run_ae(void *ctx) {
    gm_ae_config c = gm_ae_config_default(*(const gm_ae_type *)ctx);
    c.data_dim = AE_D;
    c.latent_dim = AE_Z;
    c.hidden[0] = 5;
    c.hidden[1] = 4;
    c.disc_hidden = 3;
    c.batch = 4;
    c.epochs = 1;
    gm_ae *ae, *ae2 = NULL;
    int rc = gm_ae_create(&ae, &c, 3);
    if (rc) return rc;
    gm_ae_stats st;
    float mu[AE_N * AE_Z], lv[AE_N * AE_Z], xm[AE_N * AE_D];
    const char *path = tmp_path("ae.safetensors");
    if ((rc = gm_ae_train_step(ae, g_ax, 4, &st)) || (rc = gm_ae_train_epoch(ae, g_ax, AE_N, NULL, NULL, 0)) ||
        (rc = gm_ae_encode(ae, mu, lv, g_ax, AE_N)) || (rc = gm_ae_decode(ae, xm, mu, AE_N)) ||
        (rc = gm_ae_save(ae, path)) || (rc = gm_ae_load(&ae2, path)))
        goto done;
    gm_tape *t;
    if ((rc = gm_tape_create(&t, 0))) goto done;
    float eps[4 * AE_Z] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f};
    float cor[4 * AE_D] = {0}, prior[4 * AE_Z] = {0};
    gm_ae_noise nz = {eps, cor, prior};
    gm_var *loss;
    rc = gm_ae_loss(ae, t, g_ax, 4, &nz, 1, &loss, &st);
    gm_tape_free(t);
done:
    gm_ae_free(ae2);
    gm_ae_free(ae);
    return rc;
}

static int run_clf(void *ctx) {
    gm_clf_config c = gm_clf_config_default();
    c.spec = "conv:2:3:1:1,relu,maxpool:2,flatten,dropout:0.25,linear:3,relu,linear:10";
    c.epochs = 1;
    c.batch = 2;
    c.warmup = 0;
    gm_clf *m, *m2 = NULL;
    int rc = gm_clf_create(&m, &c);
    if (rc) return rc;
    static float X[3 * 784];
    static const uint8_t y[3] = {1, 4, 9};
    for (size_t i = 0; i < 3 * 784; i++) X[i] = (float)(i % 17) / 17.0f;
    double loss, acc;
    const char *path = tmp_path("clf.safetensors");
    if ((rc = gm_clf_train_epoch(m, X, y, 3, &loss, NULL, NULL)) || (rc = gm_clf_accuracy(m, X, y, 3, &acc)))
        goto done;
    static float feat[3 * 64];
    if (gm_clf_feature_dim(m) > 64) GM_FAIL(GM_EINVAL, "feature dimension %zu", gm_clf_feature_dim(m));
    if ((rc = gm_clf_features(m, X, 3, feat)) || (rc = gm_clf_save(m, path))) goto done;
    rc = gm_clf_load(&m2, path);
done:
    gm_clf_free(m2);
    gm_clf_free(m);
    return rc;
}

static int run_mcmc(void *ctx) {
    gm_ae_config c = gm_ae_config_default(GM_AE_VAE);
    c.data_dim = AE_D;
    c.latent_dim = AE_Z;
    c.hidden[0] = 5;
    c.hidden[1] = 4;
    gm_ae *ae;
    int rc = gm_ae_create(&ae, &c, 3);
    if (rc) return rc;
    gm_ae_model m;
    gm_ae_as_model(ae, &m);
    gm_latent_mcmc_config mc = gm_latent_mcmc_config_default();
    mc.n_chains = 3;
    mc.batch = 2;
    gm_latent_mcmc *ch;
    if ((rc = gm_latent_mcmc_create(&ch, &mc, &m))) goto done;
    float out[2 * 3 * AE_D], za[AE_Z] = {0.1f, 0.2f}, zb[AE_Z] = {-0.3f, 0.4f};
    size_t rec[2] = {0, 2};
    if (!(rc = gm_latent_mcmc_step(ch)) && !(rc = gm_latent_mcmc_run(ch, rec, 2, out)))
        rc = gm_latent_mcmc_decode(ch, out);
    gm_latent_mcmc_free(ch);
    if (!rc) rc = gm_latent_interpolate(&m, &mc, za, zb, 3, 1, rec, 2, out);
done:
    gm_ae_free(ae);
    return rc;
}

static int run_latent_metrics(void *ctx) {
    static float x[12 * 3], y[10 * 3];
    double t[30];
    fill(t, 30, 11);
    for (int i = 0; i < 36; i++) x[i] = (float)t[i % 30] + (float)(i / 30);
    for (int i = 0; i < 30; i++) y[i] = (float)t[29 - i] * 1.5f;
    double v, h, ess[3], rhat[3];
    float nd[12];
    int rc;
    if ((rc = gm_latent_mmd2_rbf(x, 12, y, 10, 3, 1.0, &v)) || (rc = gm_latent_median_distance(x, 12, y, 10, 3, 8, &h)) ||
        (rc = gm_latent_swd(x, y, 10, 3, 4, 1, &v)) || (rc = gm_latent_c2st(x, 12, y, 10, 3, 2, &v)) ||
        (rc = gm_latent_nearest_sqdist(x, 12, y, 10, 3, nd)))
        return rc;
    double ch[3 * 10];
    fill(ch, 30, 12);
    if ((rc = gm_mcmc_ess(ch, 3, 10, ess)) || (rc = gm_mcmc_rhat(ch, 3, 10, rhat))) return rc;
    /* a linear autoencoder with D = 2, d = 1 */
    static const double A[2] = {0.6, 0.3}, b[1] = {0.1}, es[1] = {0.5}, W[2] = {0.9, -0.4}, cc[2] = {0, 0.2},
                        ds[2] = {0.3, 0.4};
    gm_linear_ae la = {2, 1, A, b, es, W, cc, ds};
    double mu0[1] = {0.5}, S0[1] = {1.0}, mut[1], St[1], rho;
    if ((rc = gm_linear_ae_moments_at(&la, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.1, mu0, S0, 5, mut, St)))
        return rc;
    return gm_linear_ae_stationary(&la, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, mut, St, &rho);
}

GM_TEST(test_sweep_latent) {
    gm_test_set_threads(1);
    tmp_dir_make();
    double t[AE_N * AE_D];
    fill(t, AE_N * AE_D, 13);
    for (size_t i = 0; i < AE_N * AE_D; i++) g_ax[i] = (float)(t[i] + 0.5);
    gm_ae_type types[4] = {GM_AE_VAE, GM_AE_DVAE, GM_AE_AAE, GM_AE_DAAE};
    for (int i = 0; i < 4; i++) CHECK_ALLOC_SWEEP(run_ae, &types[i]);
    CHECK_ALLOC_SWEEP(run_clf, NULL);
    CHECK_ALLOC_SWEEP(run_mcmc, NULL);
    CHECK_ALLOC_SWEEP(run_latent_metrics, NULL);
    tmp_dir_remove();
}

/* ---- plot and rng ------------------------------------------------------------------------------------- */

static int run_plot(void *ctx) {
    gm_plot *p;
    int rc = gm_plot_create(&p, "sweep", "x", "y");
    if (rc) return rc;
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {2, 1, 4, 3, 5}, lo[5], hi[5];
    for (int i = 0; i < 5; i++) lo[i] = y[i] - 0.5, hi[i] = y[i] + 0.5;
    for (int i = 0; i < 12 && !rc; i++) rc = gm_plot_line(p, x, y, 5, "line"); /* grows the series table */
    if (!rc && !(rc = gm_plot_points(p, x, y, 5, "pts")) && !(rc = gm_plot_band(p, x, lo, hi, 5)) &&
        !(rc = gm_plot_hline(p, 2.5, "ref")))
        rc = gm_plot_write_png(p, tmp_path("plot.png"), 160, 120);
    gm_plot_free(p);
    return rc;
}

static int run_rng(void *ctx) {
    gm_rng r;
    gm_rng_init(&r, 1, 2);
    size_t out[5];
    return gm_rng_choice(&r, 20, 5, out);
}

GM_TEST(test_sweep_plot_rng) {
    gm_test_set_threads(1);
    tmp_dir_make();
    CHECK_ALLOC_SWEEP(run_plot, NULL);
    CHECK_ALLOC_SWEEP(run_rng, NULL);
    tmp_dir_remove();
}


/* ---- mix: reference terms, the bandit, the offline optimum, replications ---------------------------- */

enum { MIX_M = 3, MIX_N = 12, MIX_T = 10 };
static float g_pool[MIX_M][MIX_N * 2], g_ref[16 * 2];

static int run_mix(void *ctx) {
    const gm_mix_quad quad = *(const gm_mix_quad *)ctx;
    const int lin = quad == GM_MIX_QUAD_KID ? GM_MIX_LIN_PRECISION | GM_MIX_LIN_DENSITY : 0;
    double sigma;
    int rc = gm_mix_median_bandwidth(g_ref, 16, 2, 30, 1, &sigma);
    if (rc) return rc;
    gm_mix_ref *ref = NULL;
    gm_mix *b = NULL;
    gm_mix_trace tr;
    memset(&tr, 0, sizeof tr);
    if (quad == GM_MIX_QUAD_KID && (rc = gm_mix_ref_create(&ref, g_ref, 16, 2, GM_MIX_KERNEL_GAUSS, sigma, lin, 3)))
        return rc;
    static double terms[MIX_M][MIX_N * GM_MIX_NTERMS];
    const double *tp[MIX_M] = {NULL, NULL, NULL};
    if (ref)
        for (size_t i = 0; i < MIX_M; i++) {
            if ((rc = gm_mix_ref_terms(ref, g_pool[i], MIX_N, terms[i]))) goto done;
            tp[i] = terms[i];
        }
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, MIX_M, 2, MIX_T, quad, lin);
    cfg.sigma = sigma;
    const float *pool[MIX_M] = {g_pool[0], g_pool[1], g_pool[2]};
    size_t pn[MIX_M] = {MIX_N, MIX_N, MIX_N};
    double alpha[MIX_M], obj, K[MIX_M * MIX_M], f[MIX_M];
    if ((rc = gm_mix_offline(&cfg, ref, pool, pn, ref ? tp : NULL, alpha, &obj, K, f))) goto done;
    if ((rc = gm_mix_create(&b, &cfg, ref))) goto done;
    size_t used[MIX_M] = {0};
    if ((rc = gm_mix_push_ahead(b, 1, g_pool[1] + 2 * (MIX_N - 2), 2, ref ? tp[1] + GM_MIX_NTERMS * (MIX_N - 2) : NULL)))
        goto done;
    for (int round = 0; !gm_mix_done(b) && round < 4 * MIX_T; round++) {
        size_t a;
        if ((rc = gm_mix_select(b, &a))) goto done;
        size_t j = used[a]++ % (MIX_N - 2);
        if (gm_mix_queued(b, a)) rc = gm_mix_update(b, a, NULL, NULL); /* the pushed-ahead sample */
        else rc = gm_mix_update(b, a, g_pool[a] + 2 * j, ref ? tp[a] + GM_MIX_NTERMS * j : NULL);
        if (rc) goto done;
    }
    if ((rc = gm_mix_simulate(&cfg, ref, pool, pn, ref ? tp : NULL, 2, &tr))) goto done;
    gm_mix_trace_free(&tr);
    double Kq[4] = {1, 0.3, 0.3, 1}, c[2] = {0.1, -0.2}, aq[2];
    rc = gm_mix_qp(Kq, c, 2, aq, &obj);
done:
    gm_mix_free(b);
    gm_mix_ref_free(ref);
    return rc;
}

GM_TEST(test_sweep_mix) {
    gm_test_set_threads(1);
    double t[MIX_M * MIX_N * 2 + 32];
    fill(t, sizeof t / sizeof t[0], 21);
    for (size_t i = 0; i < MIX_M; i++)
        for (size_t j = 0; j < MIX_N * 2; j++) g_pool[i][j] = (float)(t[i * MIX_N * 2 + j] + 0.3 * (double)i);
    for (size_t j = 0; j < 32; j++) g_ref[j] = (float)t[MIX_M * MIX_N * 2 + j];
    gm_mix_quad q = GM_MIX_QUAD_RKE;
    CHECK_ALLOC_SWEEP(run_mix, &q);
    q = GM_MIX_QUAD_KID;
    CHECK_ALLOC_SWEEP(run_mix, &q);
}


/* ---- moe: model, sampling, fitting, selection, standard errors, Voronoi loss, simulation ----------- */

enum { MOE_N = 30 };

static int run_moe(void *ctx) {
    gm_moe truth, fit, cp, nt;
    memset(&fit, 0, sizeof fit);
    memset(&cp, 0, sizeof cp);
    memset(&nt, 0, sizeof nt);
    double xr, X[MOE_N], P[MOE_N * 3], G[MOE_N * 2], ll, g[64];
    int y[MOE_N], z[MOE_N], lab[MOE_N];
    int rc = gm_moe_spec_design(&truth, 'A', 0, GM_MOE_GATE_IDENTITY, &xr);
    if (rc) return rc;
    gm_rng rng;
    gm_rng_init(&rng, 4, 0);
    if ((rc = gm_moe_sample_lcg(&truth, MOE_N, 7, xr, X, y, z)) || (rc = gm_moe_sample(&truth, MOE_N, xr, &rng, X, y, z)) ||
        (rc = gm_moe_sample_y(&truth, X, MOE_N, &rng, y, z)) || (rc = gm_moe_check_labels(y, MOE_N, 3)) ||
        (rc = gm_moe_predict_proba(&truth, X, MOE_N, P)) || (rc = gm_moe_gate_proba(&truth, X, MOE_N, G)) ||
        (rc = gm_moe_predict(&truth, X, MOE_N, lab)) || (rc = nan_to_status(gm_moe_loglik(&truth, X, y, MOE_N, NULL))) ||
        (rc = nan_to_status(gm_moe_gradient(&truth, X, y, MOE_N, g))))
        goto done;
    if ((rc = gm_moe_copy(&cp, &truth))) goto done;
    if ((rc = gm_moe_permute(&cp, (const size_t[]){1, 0}))) goto done;
    if ((rc = gm_moe_init_near_true(&truth, 3, 0.01, 0.05, 5, 0, &nt))) goto done;
    gm_moe_free(&nt);
    if ((rc = gm_moe_init_near_true_split(&truth, 3, 0.01, 0.05, 5, 0, 1, &nt))) goto done;
    gm_moe_free(&cp);
    if ((rc = gm_moe_init(&cp, 2, 3, 1, GM_MOE_GATE_SIGMOID))) goto done;
    gm_moe_fit_config fc = gm_moe_fit_config_default();
    fc.n_restarts = 2;
    fc.max_iter = 2;
    fc.inner_max_iter = 3;
    fc.polish = 0; /* gm_moe_fitter_polish is swept on its own below */
    gm_moe_fit_result res;
    if ((rc = gm_moe_fit(&fc, X, y, MOE_N, 1, 3, NULL, &res))) goto done;
    double se[64], info[64 * 64];
    int singular;
    rc = gm_moe_copy(&fit, &res.model);
    gm_moe_fit_result_free(&res);
    if (rc || (rc = gm_moe_stderr(&fit, X, y, MOE_N, se, info, &singular))) goto done;
    gm_moe_voronoi vl;
    size_t cells[3];
    gm_moe_voronoi_config vc = gm_moe_voronoi_d1();
    if ((rc = gm_moe_voronoi_loss(&nt, &truth, &vc, &vl, cells))) goto done;
    gm_moe_fitter *f;
    if ((rc = gm_moe_fitter_create(&f, &fc, X, y, MOE_N, 1, 3, &fit, 0))) goto done;
    for (int i = 0; i < 3 && !rc; i++) rc = gm_moe_fitter_iterate(f);
    if (!rc) rc = gm_moe_fitter_polish(f);
    fc.polish = 1;
    fc.n_restarts = 1;
    gm_moe_fit_result r1;
    if (!rc && !(rc = gm_moe_fit(&fc, X, y, MOE_N, 1, 3, &fit, &r1))) gm_moe_fit_result_free(&r1);
    fc.polish = 0;
    gm_moe_fitter_free(f);
    if (rc) goto done;
    gm_moe_select_result sr;
    fc.n_restarts = 1;
    if ((rc = gm_moe_select(&fc, X, y, MOE_N, 1, 3, 2, GM_MOE_SELECT_BIC, &sr))) goto done;
    gm_moe_select_result_free(&sr);
    double B[2 * 3] = {0}, Z[MOE_N * 2], Fv;
    size_t it;
    for (int t = 0; t < MOE_N; t++) Z[2 * t] = 1, Z[2 * t + 1] = X[t];
    gm_mlogit_options mo = gm_mlogit_options_default();
    mo.max_iter = 5;
    rc = gm_mlogit_newton(B, Z, MOE_N, 2, 3, NULL, y, NULL, 1e-6, &mo, &Fv, &it);
    if (!rc) rc = nan_to_status(gm_mlogit_objective(B, Z, MOE_N, 2, 3, NULL, y, NULL, 1e-6, NULL, NULL));
    (void)ll;
done:
    gm_moe_free(&nt);
    gm_moe_free(&cp);
    gm_moe_free(&fit);
    gm_moe_free(&truth);
    return rc;
}

static int run_moe_sim(void *ctx) {
    gm_moe m;
    int rc = gm_moe_spec_design(&m, 'B', 0, GM_MOE_GATE_IDENTITY, NULL);
    if (rc) return rc;
    gm_moe_sim_config sc = gm_moe_sim_config_default();
    const double ns[2] = {40, 50};
    sc.truth = &m;
    sc.k_fit = 2;
    sc.xr = 3.0;
    sc.ns = ns;
    sc.n_grid = 2;
    sc.reps = 1;
    sc.seed = 2024;
    sc.fit.max_iter = 3;
    gm_moe_sim_record rec[4];
    rc = gm_moe_simulate(&sc, rec, NULL, NULL);
    gm_moe_free(&m);
    return rc;
}

GM_TEST(test_sweep_moe) {
    gm_test_set_threads(1);
    CHECK_ALLOC_SWEEP(run_moe, NULL);
    CHECK_ALLOC_SWEEP(run_moe_sim, NULL);
}

GM_TEST_MAIN({"sweep_knn", test_sweep_knn}, {"sweep_eval", test_sweep_eval}, {"sweep_core_io", test_sweep_core_io},
             {"sweep_nn", test_sweep_nn},
             {"sweep_latent", test_sweep_latent}, {"sweep_plot_rng", test_sweep_plot_rng},
             {"sweep_mix", test_sweep_mix},
             {"sweep_moe", test_sweep_moe})
