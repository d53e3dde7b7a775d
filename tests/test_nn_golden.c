/* SPDX-License-Identifier: MIT */
/* test_nn_golden.c — llm.c-style golden test against PyTorch 1.13 (fixtures from tools/gen_nn_golden.py):
 * same weights and inputs give the same logits, loss, input gradient and parameter gradients (1e-5
 * relative, with a tiny absolute floor for values near 0), and one Adam step gives the same weights,
 * for an MLP (tanh, gelu) and a small CNN (conv, relu, maxpool, strided conv, silu). */
#include "gm_test.h"
#include "genmix/models.h"

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[4];
    size_t n;
    float *v;
} gt;

static size_t load(const char *path, gt *t, size_t max, char *spec, size_t speclen) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return 0;
    size_t k = 0;
    char name[64];
    int nd;
    while (k < max && fscanf(f, "%63s %d", name, &nd) == 2) {
        if (!strcmp(name, "spec")) {
            CHECK(fscanf(f, " %255s", spec) == 1);
            (void)speclen;
            continue;
        }
        gt *g = &t[k++];
        snprintf(g->name, sizeof g->name, "%s", name);
        g->ndim = nd;
        g->n = 1;
        for (int i = 0; i < nd; i++) {
            long long d;
            CHECK(fscanf(f, "%lld", &d) == 1);
            g->shape[i] = d;
            g->n *= (size_t)d;
        }
        g->v = malloc(g->n * sizeof(float));
        for (size_t i = 0; i < g->n; i++) CHECK(fscanf(f, "%f", &g->v[i]) == 1);
    }
    fclose(f);
    return k;
}

static gt *get(gt *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    fprintf(stderr, "  missing fixture tensor %s\n", name);
    return NULL;
}

static int close_all(const char *what, const float *a, const float *b, size_t n, double rtol, double atol) {
    double worst = 0;
    size_t wi = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]), lim = atol + rtol * fabs((double)b[i]);
        if (d > lim) ok = 0;
        if (d - lim > worst) worst = d - lim, wi = i;
    }
    if (!ok) fprintf(stderr, "  %s: mismatch at %zu: %.9g vs torch %.9g\n", what, wi, (double)a[wi], (double)b[wi]);
    return ok;
}

static void run_golden(const char *path, int ndim, const int64_t *in) {
    gt t[64];
    memset(t, 0, sizeof t);
    char spec[256] = "";
    size_t n = load(path, t, 64, spec, sizeof spec);
    CHECK(n > 0);
    gm_seq *s;
    CHECK_OK(gm_seq_create(&s, spec, ndim, in));
    if (!s) return;
    char key[128];
    for (size_t i = 0; i < s->params.count; i++) {
        snprintf(key, sizeof key, "w.%s", s->params.info[i].name);
        gt *w = get(t, n, key);
        CHECK(w && w->n == s->params.info[i].n);
        if (w) memcpy(s->params.val + s->params.info[i].offset, w->v, w->n * sizeof(float));
    }
    gt *x = get(t, n, "input"), *lab = get(t, n, "labels");
    if (!x || !lab) return;
    int32_t y[64];
    for (size_t i = 0; i < lab->n; i++) y[i] = (int32_t)lab->v[i];
    gm_tape *tp;
    CHECK_OK(gm_tape_create(&tp, 0));
    gm_var *xv = gm_tape_input(tp, x->v, x->ndim, x->shape, 1);
    gm_var *logits = gm_seq_forward(s, tp, xv, -1, 0, NULL);
    gm_var *loss = gm_op_softmax_xent(tp, logits, y);
    gm_params_zero_grad(&s->params);
    CHECK_OK(gm_tape_backward(tp, loss));
    /* 1e-5 relative; atol 1e-7 covers values that are ~0 where relative error is meaningless */
    CHECK(close_all("logits", logits->val, get(t, n, "logits")->v, logits->n, 1e-5, 1e-7));
    CHECK(close_all("loss", loss->val, get(t, n, "loss")->v, 1, 1e-5, 0));
    CHECK(close_all("dinput", xv->grad, get(t, n, "dinput")->v, xv->n, 1e-5, 1e-7));
    for (size_t i = 0; i < s->params.count; i++) {
        snprintf(key, sizeof key, "g.%s", s->params.info[i].name);
        CHECK(close_all(key, s->params.grad + s->params.info[i].offset, get(t, n, key)->v, s->params.info[i].n, 1e-5, 1e-7));
    }
    gm_optim_config oc = gm_optim_config_default();
    gm_optim o;
    CHECK_OK(gm_optim_init(&o, &oc, s->params.total));
    gm_optim_step(&o, s->params.val, s->params.grad, 1e-2f);
    for (size_t i = 0; i < s->params.count; i++) {
        snprintf(key, sizeof key, "adam.%s", s->params.info[i].name);
        CHECK(close_all(key, s->params.val + s->params.info[i].offset, get(t, n, key)->v, s->params.info[i].n, 1e-5, 1e-7));
    }
    gm_optim_free(&o);
    gm_tape_free(tp);
    gm_seq_free(s);
    for (size_t i = 0; i < n; i++) free(t[i].v);
}

GM_TEST(test_golden_mlp) {
    int64_t in[1] = {12};
    run_golden("tests/golden/nn_mlp.txt", 1, in);
}
GM_TEST(test_golden_cnn) {
    int64_t in[3] = {2, 8, 8};
    run_golden("tests/golden/nn_cnn.txt", 3, in);
}

GM_TEST_MAIN({"golden_mlp", test_golden_mlp}, {"golden_cnn", test_golden_cnn})
