/* SPDX-License-Identifier: MIT */
/* test_moe_io.c — gm_moe_save / gm_moe_load round trips (JSON and .safetensors, bit-exact coefficients and
 * names), format detection by content (a .safetensors model named .json and vice versa), bad files (empty,
 * truncated, wrong format, missing fields, non-finite coefficients, missing file) with messages naming the
 * file, an allocation-failure sweep over load, gm_moe_score and gm_moe_sim_summarize known answers. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "genmix/io.h"
#include "genmix/moe.h"
#include "gm_test.h"

/* a 3-expert, 3-class, 2-feature model with coefficients that need all 17 digits */
static void make_model(gm_moe *m, gm_moe_gate gate) {
    CHECK_OK(gm_moe_init(m, 3, 3, 2, gate));
    size_t nw = 3 * 3, nv = 3 * 3 * 3;
    for (size_t i = 0; i < nw; i++) m->W[i] = (i % 3 == 2) ? 0.0 : 1.0 / (double)(i + 3) - 0.1 * (double)i;
    for (size_t i = 0; i < nv; i++) m->V[i] = (i % 3 == 2) ? 0.0 : sin((double)i + 0.5) * 1e-3 * (double)(i + 1) + 1.0 / 3.0;
}

static char *names[2] = {"x one", "x\"2"};
static double cvals[3] = {-1.0, 2.0, 7.0};

static char *tmp_path(const char *suffix) {
    static char buf[8][256];
    static int k = 0;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "/tmp/gm_test_moe_io_%d_%s", (int)getpid(), suffix);
    return p;
}

/* exact = 1: bit-identical coefficients (.safetensors); 0: within cJSON's print tolerance (it prints 15
 * digits when they read back within DBL_EPSILON relative, else 17) */
static int same_model_tol(const gm_moe *a, const gm_moe *b, int exact) {
    if (a->n_experts != b->n_experts || a->n_classes != b->n_classes || a->dim != b->dim || a->gate != b->gate) return 0;
    size_t p = a->dim + 1, nw = p * a->n_experts, nv = a->n_experts * p * a->n_classes;
    if (exact) return !memcmp(a->W, b->W, nw * sizeof(double)) && !memcmp(a->V, b->V, nv * sizeof(double));
    for (size_t i = 0; i < nw; i++)
        if (fabs(a->W[i] - b->W[i]) > 2.3e-16 * fabs(a->W[i])) return 0;
    for (size_t i = 0; i < nv; i++)
        if (fabs(a->V[i] - b->V[i]) > 2.3e-16 * fabs(a->V[i])) return 0;
    return 1;
}
#define same_model(a, b) same_model_tol(a, b, 0)

static void check_meta(const gm_moe_meta *m) {
    CHECK_INT_EQ(m->n_features, 2);
    CHECK_INT_EQ(m->n_classes, 3);
    CHECK(!strcmp(m->features[0], "x one") && !strcmp(m->features[1], "x\"2"));
    CHECK(!strcmp(m->target, "label"));
    for (int s = 0; s < 3; s++) CHECK(m->class_values[s] == cvals[s]);
}

GM_TEST(test_round_trip) {
    for (int f = 0; f < 2; f++)
        for (int g = 0; g < 3; g++) {
            gm_moe m, back;
            make_model(&m, (gm_moe_gate)g);
            gm_moe_meta meta = {2, 3, names, cvals, "label"}, mb;
            /* the extension does not decide the reader: write each format under the other's name */
            const char *path = tmp_path(f ? "model.json" : "model.safetensors");
            CHECK_OK(gm_moe_save(path, f ? GM_MOE_FILE_SAFETENSORS : GM_MOE_FILE_JSON, &m, &meta, NULL, 42));
            CHECK_OK(gm_moe_load(path, &back, &mb));
            CHECK(same_model_tol(&m, &back, f));
            check_meta(&mb);
            /* the same bytes from memory */
            void *data;
            size_t len;
            CHECK_OK(gm_read_file(path, &data, &len));
            CHECK(gm_moe_detect_format(data, len) == (f ? GM_MOE_FILE_SAFETENSORS : GM_MOE_FILE_JSON));
            gm_moe mm;
            gm_moe_meta mmeta;
            CHECK_OK(gm_moe_load_mem(data, len, "buf", &mm, &mmeta));
            CHECK(same_model_tol(&m, &mm, f));
            gm_free(data);
            gm_moe_free(&mm);
            gm_moe_meta_free(&mmeta);
            gm_moe_free(&back);
            gm_moe_meta_free(&mb);
            gm_moe_free(&m);
            unlink(path);
        }
}

/* a real fit's summary goes into both formats; predictions of the loaded models agree */
GM_TEST(test_fit_summary) {
    gm_moe truth;
    double xr;
    CHECK_OK(gm_moe_spec_design(&truth, 'A', 0, GM_MOE_GATE_IDENTITY, &xr));
    size_t n = 400;
    double *X = malloc(n * sizeof(double)), *P0 = malloc(n * 3 * sizeof(double)), *P1 = malloc(n * 3 * sizeof(double));
    int *y = malloc(n * sizeof(int));
    CHECK_OK(gm_moe_sample_lcg(&truth, n, 7, xr, X, y, NULL));
    gm_moe_fit_config cfg = gm_moe_fit_config_default();
    cfg.n_experts = 2;
    cfg.n_restarts = 2;
    gm_moe_fit_result res;
    CHECK_OK(gm_moe_fit(&cfg, X, y, n, 1, 3, NULL, &res));
    char *fn[1] = {"x"};
    double cv[3] = {0, 1, 2};
    gm_moe_meta meta = {1, 3, fn, cv, "y"};
    const char *pj = tmp_path("fit.json"), *ps = tmp_path("fit.safetensors");
    CHECK_OK(gm_moe_save(pj, GM_MOE_FILE_JSON, &res.model, &meta, &res, 5));
    CHECK_OK(gm_moe_save(ps, GM_MOE_FILE_SAFETENSORS, &res.model, &meta, &res, 5));
    void *data;
    size_t len;
    CHECK_OK(gm_read_file(pj, &data, &len));
    CHECK(strstr(data, "\"loglik\"") != NULL && strstr(data, "\"restart_loglik\"") != NULL);
    gm_free(data);
    gm_safetensors *st;
    CHECK_OK(gm_safetensors_read(&st, ps));
    const char *ll = gm_safetensors_meta(st, "loglik"), *sd = gm_safetensors_meta(st, "seed");
    CHECK(ll && strtod(ll, NULL) == res.loglik);
    CHECK(sd && !strcmp(sd, "5"));
    gm_safetensors_free(st);
    gm_moe a, b;
    gm_moe_meta ma, mb;
    CHECK_OK(gm_moe_load(pj, &a, &ma));
    CHECK_OK(gm_moe_load(ps, &b, &mb));
    CHECK(same_model_tol(&a, &res.model, 0) && same_model_tol(&b, &res.model, 1));
    gm_moe_predict_proba(&a, X, n, P0);
    gm_moe_predict_proba(&b, X, n, P1);
    for (size_t i = 0; i < n * 3; i++) CHECK_NEAR(P0[i], P1[i], 0, 1e-13);
    gm_moe_free(&a);
    gm_moe_free(&b);
    gm_moe_meta_free(&ma);
    gm_moe_meta_free(&mb);
    gm_moe_fit_result_free(&res);
    gm_moe_free(&truth);
    unlink(pj);
    unlink(ps);
    free(X), free(P0), free(P1), free(y);
}

static void expect_bad(const void *buf, size_t len, int want, const char *msg) {
    gm_moe m;
    gm_moe_meta meta;
    int rc = gm_moe_load_mem(buf, len, "bad.model", &m, &meta);
    CHECK_INT_EQ(rc, want);
    CHECK(strstr(gm_last_error(), "bad.model") != NULL);
    if (msg && !strstr(gm_last_error(), msg)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", gm_last_error(), msg);
        CHECK(0);
    }
    CHECK(m.W == NULL && m.V == NULL && meta.features == NULL && meta.class_values == NULL && meta.target == NULL);
}

GM_TEST(test_bad_files) {
    gm_moe m;
    make_model(&m, GM_MOE_GATE_IDENTITY);
    gm_moe_meta meta = {2, 3, names, cvals, "label"};
    const char *pj = tmp_path("b.json"), *ps = tmp_path("b.safetensors");
    CHECK_OK(gm_moe_save(pj, GM_MOE_FILE_JSON, &m, &meta, NULL, 0));
    CHECK_OK(gm_moe_save(ps, GM_MOE_FILE_SAFETENSORS, &m, &meta, NULL, 0));
    void *j, *s;
    size_t jl, sl;
    CHECK_OK(gm_read_file(pj, &j, &jl));
    CHECK_OK(gm_read_file(ps, &s, &sl));
    expect_bad("", 0, GM_EFORMAT, "not valid JSON");
    expect_bad("{}", 2, GM_EFORMAT, "not a genmix-moe model");
    expect_bad("hello world", 11, GM_EFORMAT, "not valid JSON");
    expect_bad(j, jl / 2, GM_EFORMAT, "not valid JSON");
    expect_bad(s, 100, GM_EFORMAT, "runs past the end");
    expect_bad(s, 5, GM_EFORMAT, NULL);
    expect_bad(s, sl - 8, GM_EFORMAT, NULL);
    /* wrong shapes / fields in JSON */
    const char *bad_json[] = {
        "{\"format\":\"genmix-moe\",\"n_experts\":1,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"identity\","
        "\"features\":[\"a\"],\"class_values\":[0,1],\"gate\":[[0]],\"experts\":[[[0,0],[0,0]]]}",
        "{\"format\":\"genmix-moe\",\"n_experts\":1,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"cubic\","
        "\"features\":[\"a\"],\"class_values\":[0,1],\"gate\":[[0],[0]],\"experts\":[[[0,0],[0,0]]]}",
        "{\"format\":\"genmix-moe\",\"n_experts\":1,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"identity\","
        "\"features\":[3],\"class_values\":[0,1],\"gate\":[[0],[0]],\"experts\":[[[0,0],[0,0]]]}",
        "{\"format\":\"genmix-moe\",\"n_experts\":1,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"identity\","
        "\"features\":[\"a\"],\"class_values\":[0,1],\"gate\":[[0],[0]],\"experts\":[[[0,\"x\"],[0,0]]]}",
        "{\"format\":\"other\",\"n_experts\":1,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"identity\","
        "\"features\":[\"a\"],\"class_values\":[0,1],\"gate\":[[0],[0]],\"experts\":[[[0,0],[0,0]]]}",
        "{\"format\":\"genmix-moe\",\"n_experts\":0,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"identity\","
        "\"features\":[\"a\"],\"class_values\":[0,1],\"gate\":[[0],[0]],\"experts\":[]}"};
    const char *want[] = {"array sizes", "not a genmix-moe model", "malformed", "malformed", "not a genmix-moe model",
                          "not a genmix-moe model"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++)
        expect_bad(bad_json[i], strlen(bad_json[i]), GM_EFORMAT, want[i]);
    /* the good minimal one of the same family loads */
    const char *good = "{\"format\":\"genmix-moe\",\"n_experts\":1,\"n_classes\":2,\"dim\":1,\"gate_transform\":\"identity\","
                       "\"features\":[\"a\"],\"class_values\":[0,1],\"gate\":[[0],[0]],\"experts\":[[[0.5,0],[2,0]]]}";
    gm_moe g;
    gm_moe_meta gmeta;
    CHECK_OK(gm_moe_load_mem(good, strlen(good), "good", &g, &gmeta));
    CHECK(g.V[2] == 2.0 && !strcmp(gmeta.target, ""));
    gm_moe_free(&g);
    gm_moe_meta_free(&gmeta);
    /* non-finite coefficient in a safetensors model */
    m.V[0] = NAN;
    CHECK_OK(gm_moe_save(ps, GM_MOE_FILE_SAFETENSORS, &m, &meta, NULL, 0));
    gm_moe x;
    gm_moe_meta xm;
    CHECK_RC(gm_moe_load(ps, &x, &xm), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "non-finite") != NULL);
    /* a safetensors file of another kind */
    gm_st_writer *w;
    CHECK_OK(gm_st_writer_create(&w));
    int64_t sh[1] = {3};
    CHECK_OK(gm_st_writer_add(w, "x", GM_DTYPE_F64, 1, sh, cvals));
    CHECK_OK(gm_st_writer_write(w, ps));
    gm_st_writer_free(w);
    CHECK_RC(gm_moe_load(ps, &x, &xm), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "not a genmix-moe model") != NULL);
    /* missing file: I/O error naming it */
    unlink(pj);
    CHECK_RC(gm_moe_load(pj, &x, &xm), GM_EIO);
    CHECK(strstr(gm_last_error(), pj) != NULL);
    unlink(ps);
    gm_free(j);
    gm_free(s);
    gm_moe_free(&m);
}

/* every allocation of load and save fails in turn: an error, nothing leaked (ASan), then success */
GM_TEST(test_alloc_failures) {
    gm_moe m;
    make_model(&m, GM_MOE_GATE_SIGMOID);
    gm_moe_meta meta = {2, 3, names, cvals, "label"};
    for (int f = 0; f < 2; f++) {
        const char *path = tmp_path(f ? "af.safetensors" : "af.json");
        gm_moe_file_format fmt = f ? GM_MOE_FILE_SAFETENSORS : GM_MOE_FILE_JSON;
        int ok_save = 0, ok_load = 0;
        for (long k = 1; k < 20000 && !ok_save; k++) {
            gm_alloc_fail_nth(k, 0);
            int rc = gm_moe_save(path, fmt, &m, &meta, NULL, 1);
            gm_alloc_fail_nth(0, 0);
            if (rc == GM_OK) ok_save = 1;
            else CHECK(rc == GM_ENOMEM);
        }
        CHECK(ok_save);
        for (long k = 1; k < 20000 && !ok_load; k++) {
            gm_moe b;
            gm_moe_meta mb;
            gm_alloc_fail_nth(k, 0);
            int rc = gm_moe_load(path, &b, &mb);
            gm_alloc_fail_nth(0, 0);
            if (rc == GM_OK) {
                ok_load = 1;
                CHECK(same_model_tol(&m, &b, f));
                gm_moe_free(&b);
                gm_moe_meta_free(&mb);
            } else {
                CHECK(rc == GM_ENOMEM || rc == GM_EFORMAT); /* cJSON reports its allocation failures as bad JSON */
                CHECK(b.W == NULL && mb.features == NULL);
            }
        }
        CHECK(ok_load);
        unlink(path);
    }
    gm_moe_free(&m);
}

GM_TEST(test_score) {
    /* 4 rows, 2 classes: arg-max 0,1,0(tie -> 0),1; labels 0,0,0,-1 (skipped) */
    double P[8] = {0.8, 0.2, 0.3, 0.7, 0.5, 0.5, 0.1, 0.9};
    int y[4] = {0, 0, 0, -1};
    size_t known;
    double acc, ll;
    gm_moe_score(P, 4, 2, y, &known, &acc, &ll);
    CHECK_INT_EQ(known, 3);
    CHECK_NEAR(acc, 2.0 / 3.0, 1e-15, 0);
    CHECK_NEAR(ll, (log(0.8) + log(0.3) + log(0.5)) / 3.0, 1e-15, 0);
    int none[1] = {5};
    gm_moe_score(P, 1, 2, none, &known, &acc, &ll);
    CHECK(known == 0 && isnan(acc) && isnan(ll));
}

/* summary of hand-made records: medians/means with a NaN, slopes of exact power laws */
GM_TEST(test_sim_summary) {
    const size_t G = 4, R = 3;
    double ns[4] = {100, 400, 1600, 6400};
    gm_moe_sim_record rec[12];
    memset(rec, 0, sizeof rec);
    for (size_t g = 0; g < G; g++)
        for (size_t r = 0; r < R; r++) {
            gm_moe_sim_record *q = &rec[g * R + r];
            double scale = pow(ns[g], -0.5) * (double)(r + 1); /* median = 2 n^-1/2, mean = 2 n^-1/2 */
            q->loss.total = scale;
            q->loss.b_multi = 0.5 * scale;
            q->loss1.n_multi = r == 0 ? 0 : 1; /* rep 0 has no multi-atom cell: cell quantity NaN */
            q->loss1.beta_multi = pow(ns[g], -0.25) * (double)r;
            q->loss1.a_multi = 0;
            q->loss1.mass = 1.0;
            q->loss1.beta = q->loss1.beta_multi + 1.0;
            q->iterations = 10 * (r + 1) + g;
            q->flags = (g == 1 && r == 2) ? GM_MOE_DEGENERATE : 0;
        }
    gm_moe_sim_summary s;
    CHECK_OK(gm_moe_sim_summarize(rec, ns, G, R, &s));
    for (size_t g = 0; g < G; g++) {
        CHECK_NEAR(s.median[GM_MOE_SIM_D1][g], 2 * pow(ns[g], -0.5), 1e-14, 0);
        CHECK_NEAR(s.mean[GM_MOE_SIM_D1][g], 2 * pow(ns[g], -0.5), 1e-14, 0);
        CHECK_NEAR(s.median[GM_MOE_SIM_D1_NOB][g], pow(ns[g], -0.5), 1e-14, 0);
        CHECK_NEAR(s.median[GM_MOE_SIM_CELL][g], 1.5 * pow(ns[g], -0.25), 1e-14, 0); /* median of {1, 2} x n^-1/4 */
        CHECK_NEAR(s.median[GM_MOE_SIM_SINGLE][g], 1.0, 1e-14, 0);
    }
    CHECK_NEAR(s.slope_median[GM_MOE_SIM_D1], -0.5, 1e-12, 1e-12);
    CHECK_NEAR(s.slope_mean[GM_MOE_SIM_D1], -0.5, 1e-12, 1e-12);
    CHECK_NEAR(s.slope_median_upper[GM_MOE_SIM_D1], -0.5, 1e-12, 1e-12);
    CHECK_NEAR(s.intercept_median[GM_MOE_SIM_D1], log(2.0), 1e-12, 1e-12);
    CHECK_NEAR(s.slope_median[GM_MOE_SIM_CELL], -0.25, 1e-12, 1e-12);
    CHECK_NEAR(s.slope_median[GM_MOE_SIM_SINGLE], 0.0, 0, 1e-12);
    CHECK_INT_EQ(s.degenerate, 1);
    CHECK_NEAR(s.median_iterations_at_nmax, 23.0, 0, 0);
    CHECK(!strcmp(gm_moe_sim_quantity_name(GM_MOE_SIM_CELL), "cell_params"));
    CHECK_RC(gm_moe_sim_summarize(rec, ns, 1, R, &s), GM_EINVAL);
    CHECK_RC(gm_moe_sim_summarize(rec, ns, G, 0, &s), GM_EINVAL);
}

GM_TEST_MAIN({"round_trip", test_round_trip}, {"fit_summary", test_fit_summary}, {"bad_files", test_bad_files},
             {"alloc_failures", test_alloc_failures}, {"score", test_score}, {"sim_summary", test_sim_summary})
