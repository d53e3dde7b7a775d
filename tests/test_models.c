/* SPDX-License-Identifier: MIT */
/* test_models.c — safetensors checkpoints: round trip of weights, optimiser state and RNG position;
 * corrupt / mismatched files give clear errors naming the tensor; an interrupted and resumed classifier
 * run equals an uninterrupted one bitwise (small synthetic data, tiny architecture with dropout). */
#include "gm_test.h"
#include "genmix/classifier.h"
#include "genmix/io.h"
#include "genmix/tape.h"

#include <unistd.h>

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "/tmp/gm_test_models_%d_%s", (int)getpid(), name);
    return buf[k];
}

static gm_seq *make_net(const char *spec) {
    gm_seq *s = NULL;
    int64_t in[1] = {5};
    CHECK_OK(gm_seq_create(&s, spec, 1, in));
    if (s) gm_seq_init(s, 11);
    return s;
}

GM_TEST(test_checkpoint_roundtrip) {
    gm_seq *s = make_net("linear:4,relu,linear:3");
    gm_optim_config oc = gm_optim_config_default();
    gm_optim o;
    CHECK_OK(gm_optim_init(&o, &oc, s->params.total));
    for (size_t i = 0; i < s->params.total; i++) s->params.grad[i] = (float)i * 0.01f - 0.1f;
    gm_optim_step(&o, s->params.val, s->params.grad, 0.01f);
    gm_rng r;
    gm_rng_init(&r, 77, 3);
    (void)gm_rng_normal(&r); /* leaves a cached normal: part of the state */
    (void)gm_rng_u64(&r);
    gm_checkpoint_meta m = {"test", "{\"a\":1}", 5, 2, 77, &r};
    const char *p = tmp_path("rt.safetensors");
    CHECK_OK(gm_checkpoint_save(p, &s->params, &o, &m));
    gm_seq *s2 = make_net("linear:4,relu,linear:3");
    memset(s2->params.val, 0, s2->params.total * sizeof(float));
    gm_optim o2;
    CHECK_OK(gm_optim_init(&o2, &oc, s2->params.total));
    gm_checkpoint *c;
    CHECK_OK(gm_checkpoint_open(&c, p));
    CHECK_OK(gm_checkpoint_load_params(c, &s2->params));
    CHECK_OK(gm_checkpoint_load_optim(c, &s2->params, &o2));
    gm_rng r2;
    CHECK_OK(gm_checkpoint_load_rng(c, &r2));
    CHECK(!strcmp(gm_checkpoint_meta_get(c, "model"), "test"));
    CHECK(!strcmp(gm_checkpoint_meta_get(c, "config"), "{\"a\":1}"));
    CHECK(!strcmp(gm_checkpoint_meta_get(c, "step"), "5") && !strcmp(gm_checkpoint_meta_get(c, "seed"), "77"));
    CHECK(!strcmp(gm_checkpoint_meta_get(c, "format"), "genmix"));
    gm_checkpoint_close(c);
    for (size_t i = 0; i < s->params.count; i++) { /* per tensor: the slab's alignment padding is not saved */
        size_t off = s->params.info[i].offset, nb = s->params.info[i].n * sizeof(float);
        CHECK(memcmp(s->params.val + off, s2->params.val + off, nb) == 0);
        CHECK(memcmp(o.m + off, o2.m + off, nb) == 0 && memcmp(o.v + off, o2.v + off, nb) == 0);
    }
    CHECK_INT_EQ(o2.step, 1);
    CHECK(gm_rng_u64(&r) == gm_rng_u64(&r2));
    CHECK(gm_rng_normal(&r) == gm_rng_normal(&r2));
    /* the file is a valid safetensors file: header length multiple of 8, starts with '{' */
    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(p, &buf, &len));
    uint64_t N = 0;
    memcpy(&N, buf, 8);
    CHECK(N % 8 == 0 && ((char *)buf)[8] == '{');
    gm_free(buf);
    remove(p);
    gm_optim_free(&o), gm_optim_free(&o2);
    gm_seq_free(s), gm_seq_free(s2);
}

static void write_bytes(const char *path, const void *b, size_t n) { CHECK_OK(gm_write_file_atomic(path, b, n)); }

GM_TEST(test_bad_checkpoints) {
    gm_seq *s = make_net("linear:4,relu,linear:3");
    gm_checkpoint_meta m = {"test", "{}", 0, 0, 1, NULL};
    const char *p = tmp_path("bad.safetensors"), *q = tmp_path("bad2.safetensors");
    CHECK_OK(gm_checkpoint_save(p, &s->params, NULL, &m));
    gm_checkpoint *c;
    /* wrong shapes: a different architecture */
    gm_seq *other = make_net("linear:6,relu,linear:3");
    CHECK_OK(gm_checkpoint_open(&c, p));
    CHECK_RC(gm_checkpoint_load_params(c, &other->params), GM_ESHAPE);
    CHECK(strstr(gm_last_error(), "'0.weight'") && strstr(gm_last_error(), "(4,5)") && strstr(gm_last_error(), "(6,5)"));
    /* missing tensor */
    gm_seq *more = make_net("linear:4,relu,linear:3,relu,linear:2");
    CHECK_RC(gm_checkpoint_load_params(c, &more->params), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "missing tensor '4.weight'") != NULL);
    /* no optimiser state */
    gm_optim o;
    gm_optim_config oc = gm_optim_config_default();
    CHECK_OK(gm_optim_init(&o, &oc, s->params.total));
    CHECK_RC(gm_checkpoint_load_optim(c, &s->params, &o), GM_EFORMAT);
    gm_optim_free(&o);
    gm_checkpoint_close(c);

    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(p, &buf, &len));
    unsigned char *b = buf;
    /* truncated data */
    write_bytes(q, b, len - 4);
    CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "truncated") != NULL);
    /* header length past the end */
    unsigned char *b2 = malloc(len);
    memcpy(b2, b, len);
    b2[0] = 0xff, b2[1] = 0xff, b2[2] = 0xff;
    write_bytes(q, b2, len);
    CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "past the end") != NULL);
    /* bad JSON */
    memcpy(b2, b, len);
    b2[9] = '!';
    write_bytes(q, b2, len);
    CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "JSON") != NULL);
    /* first byte not '{' */
    memcpy(b2, b, len);
    b2[8] = ' ';
    write_bytes(q, b2, len);
    CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
    /* a tensor whose offsets disagree with its shape: change the first "data_offsets":[0,N] end */
    memcpy(b2, b, len);
    char *h = (char *)b2 + 8;
    char *off = strstr(h, "\"data_offsets\":[0,");
    CHECK(off != NULL);
    if (off) {
        off[18] = off[18] == '1' ? '2' : '1';
        write_bytes(q, b2, len);
        CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
        CHECK(strstr(gm_last_error(), "tensor '") != NULL);
    }
    /* not a genmix file: format key changed */
    memcpy(b2, b, len);
    char *fmt = strstr((char *)b2 + 8, "\"genmix\"");
    if (fmt) {
        fmt[1] = 'G';
        write_bytes(q, b2, len);
        CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
        CHECK(strstr(gm_last_error(), "not a genmix checkpoint") != NULL);
    }
    /* tiny and missing files */
    write_bytes(q, b, 5);
    CHECK_RC(gm_checkpoint_open(&c, q), GM_EFORMAT);
    CHECK(gm_checkpoint_open(&c, "/nonexistent/x.safetensors") == GM_EIO);
    free(b2);
    gm_free(buf);
    remove(p), remove(q);
    gm_seq_free(s), gm_seq_free(other), gm_seq_free(more);
}

GM_TEST(test_rng_state_text) {
    gm_rng r, r2;
    gm_rng_init(&r, 5, 9);
    (void)gm_rng_u64(&r);
    char buf[256];
    gm_rng_state_format(&r, buf, sizeof buf);
    CHECK_OK(gm_rng_state_parse(&r2, buf));
    CHECK(gm_rng_u64(&r) == gm_rng_u64(&r2));
    CHECK_RC(gm_rng_state_parse(&r2, "12:zz"), GM_EFORMAT);
}

/* ---- classifier resume == uninterrupted ---- */
static void synth(float *X, uint8_t *y, size_t n) {
    gm_rng r;
    gm_rng_init(&r, 3, 0);
    for (size_t i = 0; i < n; i++) {
        y[i] = (uint8_t)(i % 10);
        for (size_t k = 0; k < 784; k++)
            X[i * 784 + k] = (float)(0.3 * gm_rng_uniform(&r) + ((k / 78) == y[i] ? 0.6 : 0.0));
    }
}

GM_TEST(test_classifier_resume) {
    const size_t n = 200;
    float *X = malloc(n * 784 * sizeof(float));
    uint8_t *y = malloc(n);
    synth(X, y, n);
    gm_clf_config cfg = gm_clf_config_default();
    cfg.spec = "conv:4:3:2:1,relu,maxpool:2,flatten,dropout:0.3,linear:16,relu,dropout:0.3,linear:10";
    cfg.epochs = 3;
    cfg.batch = 32;
    cfg.warmup = 3;
    cfg.seed = 9;
    gm_clf *a, *b, *b2;
    CHECK_OK(gm_clf_create(&a, &cfg));
    double l0 = 0, l2 = 0;
    CHECK_OK(gm_clf_train_epoch(a, X, y, n, &l0, NULL, NULL));
    CHECK_OK(gm_clf_train_epoch(a, X, y, n, NULL, NULL, NULL));
    CHECK_OK(gm_clf_train_epoch(a, X, y, n, &l2, NULL, NULL));
    CHECK(l2 < l0 && isfinite(l0));
    const char *p = tmp_path("clf.safetensors");
    CHECK_OK(gm_clf_create(&b, &cfg));
    CHECK_OK(gm_clf_train_epoch(b, X, y, n, NULL, NULL, NULL));
    CHECK_OK(gm_clf_save(b, p));
    gm_clf_free(b); /* "interrupted" */
    CHECK_OK(gm_clf_load(&b2, p));
    CHECK_INT_EQ(b2->epoch, 1);
    while (b2->epoch < cfg.epochs) CHECK_OK(gm_clf_train_epoch(b2, X, y, n, NULL, NULL, NULL));
    CHECK(memcmp(a->net->params.val, b2->net->params.val, a->net->params.total * sizeof(float)) == 0);
    CHECK(memcmp(a->opt.v, b2->opt.v, a->opt.n * sizeof(float)) == 0);
    CHECK_INT_EQ(a->step, b2->step);
    /* accuracy is a fraction; features have the penultimate width */
    double acc = -1;
    CHECK_OK(gm_clf_accuracy(a, X, y, n, &acc));
    CHECK(acc >= 0.0 && acc <= 1.0);
    CHECK_INT_EQ(gm_clf_feature_dim(a), 16);
    float *f = malloc(n * 16 * sizeof(float));
    CHECK_OK(gm_clf_features(a, X, n, f));
    for (size_t i = 0; i < n * 16; i++) CHECK(f[i] >= 0.0f); /* after ReLU */
    free(f);
    /* gm_clf_predict = the arg-max of a plain tape forward in batches of 256 (the latent-study CLI's former
     * path), and agrees with gm_clf_accuracy */
    {
        uint8_t *pred = malloc(n);
        CHECK_OK(gm_clf_predict(a, X, n, pred));
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) ok += pred[i] == y[i];
        CHECK_NEAR((double)ok / (double)n, acc, 0, 0);
        gm_tape *t;
        CHECK_OK(gm_tape_create(&t, 0));
        gm_tape_no_grad(t, 1);
        size_t same = 0;
        for (size_t r0 = 0; r0 < n; r0 += 64) {
            size_t nb = n - r0 < 64 ? n - r0 : 64;
            int64_t sh[4] = {(int64_t)nb, 1, 28, 28};
            gm_tape_reset(t);
            gm_var *in = gm_tape_input(t, X + r0 * 784, 4, sh, 0);
            gm_var *o = gm_seq_forward(a->net, t, in, -1, 0, NULL);
            CHECK_OK(gm_tape_status(t));
            for (size_t i = 0; i < nb; i++) {
                int best = 0;
                for (int k = 1; k < 10; k++)
                    if (o->val[i * 10 + k] > o->val[i * 10 + best]) best = k;
                same += best == pred[r0 + i];
            }
        }
        CHECK_INT_EQ(same, n);
        gm_tape_free(t);
        uint8_t one;
        gm_alloc_fail_nth(1, 0);
        CHECK_RC(gm_clf_predict(a, X, 1, &one), GM_ENOMEM);
        gm_alloc_fail_nth(0, 0);
        free(pred);
    }
    /* a NaN reaching the logits -> clear numeric error naming the step */
    a->net->params.val[a->net->params.info[a->net->params.count - 1].offset] = NAN;
    int rc = gm_clf_train_epoch(a, X, y, n, NULL, NULL, NULL);
    CHECK_INT_EQ(rc, GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "step") != NULL);
    /* a checkpoint of another model kind is refused */
    gm_seq *s = make_net("linear:3");
    gm_checkpoint_meta m = {"vae", "{}", 0, 0, 1, NULL};
    CHECK_OK(gm_checkpoint_save(p, &s->params, NULL, &m));
    CHECK_RC(gm_clf_load(&b, p), GM_EFORMAT);
    CHECK(strstr(gm_last_error(), "not a classifier") != NULL);
    gm_seq_free(s);
    remove(p);
    gm_clf_free(a);
    gm_clf_free(b2);
    free(X), free(y);
}

/* Accuracy on a separable set with a hand-set linear classifier: logit k sums the pixels of block k, and
 * synth() lifts block y of class-y images by 0.6 while the noise is < 0.3 per pixel, so every prediction
 * is right (accuracy exactly 1); relabelling every 4th image to another class gives exactly 0.75. */
GM_TEST(test_classifier_accuracy_separable) {
    const size_t n = 40;
    float *X = malloc(n * 784 * sizeof(float));
    uint8_t *y = malloc(n);
    synth(X, y, n);
    gm_clf_config cfg = gm_clf_config_default();
    cfg.spec = "flatten,linear:10";
    gm_clf *c;
    CHECK_OK(gm_clf_create(&c, &cfg));
    gm_params *P = &c->net->params;
    CHECK_INT_EQ(P->count, 2); /* weight, bias */
    memset(P->val, 0, P->total * sizeof(float));
    const gm_param_info *w = &P->info[0];
    CHECK(w->ndim == 2 && w->shape[0] == 10 && w->shape[1] == 784);
    for (size_t k = 0; k < 10; k++)
        for (size_t j = 0; j < 784; j++) P->val[w->offset + k * 784 + j] = (j / 78 == k) ? 1.0f : 0.0f;
    double acc = -1;
    CHECK_OK(gm_clf_accuracy(c, X, y, n, &acc));
    CHECK(acc == 1.0);
    for (size_t i = 0; i < n; i += 4) y[i] = (uint8_t)((y[i] + 1) % 10);
    CHECK_OK(gm_clf_accuracy(c, X, y, n, &acc));
    CHECK(acc == 0.75);
    CHECK_OK(gm_clf_accuracy(c, X, y, 0, &acc));
    CHECK(acc == 0.0);
    gm_clf_free(c);
    free(X);
    free(y);
}

GM_TEST_MAIN({"classifier_accuracy_separable", test_classifier_accuracy_separable}, {"checkpoint_roundtrip", test_checkpoint_roundtrip}, {"bad_checkpoints", test_bad_checkpoints},
             {"rng_state_text", test_rng_state_text}, {"classifier_resume", test_classifier_resume})
