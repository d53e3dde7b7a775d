/* SPDX-License-Identifier: MIT */
/* classifier.c — the Fashion-MNIST CNN classifier: deterministic, resumable training with AdamW and a
 * cosine schedule; accuracy; penultimate-layer features; checkpoints (see classifier.h).
 * Owns: the gm_clf's network, optimiser, tape. Thread safety: one gm_clf per thread. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/classifier.h"

gm_clf_config gm_clf_config_default(void) {
    gm_clf_config c;
    memset(&c, 0, sizeof c);
    c.spec = GM_CLF_SPEC;
    c.epochs = 6;
    c.batch = 128;
    c.lr = 2e-3;
    c.lr_min = 1e-5;
    c.warmup = 100;
    c.weight_decay = 1e-4f;
    c.seed = 1;
    return c;
}

static const int64_t img_shape[3] = {1, 28, 28};

int gm_clf_create(gm_clf **out, const gm_clf_config *cfg) {
    *out = NULL;
    if (cfg->epochs < 1 || cfg->batch < 1 || !(cfg->lr > 0) || cfg->lr_min < 0 || cfg->warmup < 0)
        GM_FAIL(GM_EINVAL, "classifier: epochs, batch and lr must be positive");
    gm_clf *c = gm_calloc(1, sizeof *c);
    if (!c) return GM_ENOMEM;
    int rc;
    c->cfg = *cfg;
    c->spec = gm_strdup(cfg->spec ? cfg->spec : GM_CLF_SPEC);
    if (!c->spec) { rc = GM_ENOMEM; goto fail; }
    c->cfg.spec = c->spec;
    if ((rc = gm_seq_create(&c->net, c->spec, 3, img_shape)) != GM_OK) goto fail;
    if (gm_seq_out_size(c->net, -1) != 10) {
        rc = gm_set_error(GM_EINVAL, "classifier: the architecture must end with 10 outputs");
        goto fail;
    }
    gm_seq_init(c->net, cfg->seed);
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAMW;
    oc.weight_decay = cfg->weight_decay;
    if ((rc = gm_optim_init(&c->opt, &oc, c->net->params.total)) != GM_OK) goto fail;
    gm_rng_init(&c->noise, cfg->seed, gm_rng_stream_id(GM_STREAM_NOISE, 0));
    if ((rc = gm_tape_create(&c->tape, 64u << 20)) != GM_OK) goto fail;
    *out = c;
    return GM_OK;
fail:
    gm_clf_free(c);
    return rc;
}

void gm_clf_free(gm_clf *c) {
    if (!c) return;
    gm_seq_free(c->net);
    gm_optim_free(&c->opt);
    gm_tape_free(c->tape);
    gm_free(c->spec);
    gm_free(c);
}

static double lr_for(const gm_clf *c, int64_t step) {
    gm_lr_schedule s = gm_lr_schedule_default();
    s.kind = GM_LR_COSINE;
    s.base = c->cfg.lr;
    s.min = c->cfg.lr_min;
    s.warmup = c->cfg.warmup;
    s.total = c->cfg.epochs * c->steps_per_epoch - c->cfg.warmup;
    return gm_lr_at(&s, step);
}

int gm_clf_train_epoch(gm_clf *c, const float *X, const uint8_t *y, size_t n, double *mean_loss,
                       gm_clf_progress_fn progress, void *ctx) {
    if (n == 0) GM_FAIL(GM_EINVAL, "classifier: no training data");
    const size_t B = c->cfg.batch, D = 784;
    c->steps_per_epoch = (int64_t)((n + B - 1) / B);
    size_t *perm = gm_malloc(n * sizeof *perm);
    float *xb = gm_malloc(B * D * sizeof(float));
    int32_t *yb = gm_malloc(B * sizeof(int32_t));
    int rc = GM_OK;
    if (!perm || !xb || !yb) { rc = GM_ENOMEM; goto done; }
    gm_rng dr;
    gm_rng_init(&dr, c->cfg.seed, gm_rng_stream_id(GM_STREAM_DATA, (uint64_t)c->epoch));
    gm_rng_permutation(&dr, perm, n);
    double t0 = gm_time_now(), tl = t0, loss_sum = 0.0;
    size_t seen = 0, seen_last = 0;
    gm_params *P = &c->net->params;
    for (size_t s0 = 0; s0 < n; s0 += B) {
        size_t bs = n - s0 < B ? n - s0 : B;
        for (size_t i = 0; i < bs; i++) {
            memcpy(xb + i * D, X + perm[s0 + i] * D, D * sizeof(float));
            yb[i] = y[perm[s0 + i]];
            if (yb[i] > 9) {
                rc = gm_set_error(GM_EINVAL, "classifier: label %d of image %zu is not in 0..9", yb[i], perm[s0 + i]);
                goto done;
            }
        }
        gm_tape_reset(c->tape);
        int64_t xs[4] = {(int64_t)bs, 1, 28, 28};
        gm_var *x = gm_tape_input(c->tape, xb, 4, xs, 0);
        gm_var *logits = gm_seq_forward(c->net, c->tape, x, -1, 1, &c->noise);
        gm_var *loss = gm_op_softmax_xent(c->tape, logits, yb);
        if ((rc = gm_tape_status(c->tape)) != GM_OK) goto done;
        double lv = loss->val[0];
        if (!isfinite(lv)) {
            rc = gm_set_error(GM_ENUMERIC, "classifier: loss is %s at step %" PRId64 " (epoch %" PRId64 ")",
                              isnan(lv) ? "NaN" : "Inf", c->step + 1, c->epoch + 1);
            goto done;
        }
        gm_params_zero_grad(P);
        if ((rc = gm_tape_backward(c->tape, loss)) != GM_OK) goto done;
        gm_optim_step(&c->opt, P->val, P->grad, (float)lr_for(c, c->step));
        c->step++;
        loss_sum += lv * (double)bs;
        seen += bs;
        if (progress && (c->step % 100 == 0)) {
            double now = gm_time_now();
            progress(ctx, c->epoch + 1, c->step, lv, (double)(seen - seen_last) / (now - tl + 1e-12), 0);
            tl = now;
            seen_last = seen;
        }
    }
    c->epoch++;
    if (mean_loss) *mean_loss = loss_sum / (double)seen;
    if (progress) progress(ctx, c->epoch, c->step, loss_sum / (double)seen, (double)seen / (gm_time_now() - t0 + 1e-12), 1);
done:
    gm_tape_reset(c->tape);
    gm_free(perm);
    gm_free(xb);
    gm_free(yb);
    return rc;
}

/* Evaluate in chunks without recording (no-grad): outputs of the first n_layers layers. */
static int run_eval(gm_clf *c, const float *X, size_t n, long n_layers, float *out, size_t dim) {
    const size_t CH = 500;
    int prev = gm_tape_no_grad(c->tape, 1), rc = GM_OK;
    for (size_t s0 = 0; s0 < n && rc == GM_OK; s0 += CH) {
        size_t bs = n - s0 < CH ? n - s0 : CH;
        gm_tape_reset(c->tape);
        int64_t xs[4] = {(int64_t)bs, 1, 28, 28};
        gm_var *x = gm_tape_input(c->tape, (float *)(X + s0 * 784), 4, xs, 0);
        gm_var *h = gm_seq_forward(c->net, c->tape, x, n_layers, 0, NULL);
        if ((rc = gm_tape_status(c->tape)) == GM_OK) memcpy(out + s0 * dim, h->val, bs * dim * sizeof(float));
    }
    gm_tape_reset(c->tape);
    gm_tape_no_grad(c->tape, prev);
    return rc;
}

int gm_clf_predict(gm_clf *c, const float *X, size_t n, uint8_t *labels) {
    GM_ASSERT(c != NULL && (n == 0 || (X != NULL && labels != NULL)));
    float *logits = gm_malloc((n ? n : 1) * 10 * sizeof(float));
    if (!logits) return GM_ENOMEM;
    int rc = run_eval(c, X, n, -1, logits, 10);
    if (rc == GM_OK)
        for (size_t i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < 10; k++)
                if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
            labels[i] = (uint8_t)best;
        }
    gm_free(logits);
    return rc;
}

int gm_clf_accuracy(gm_clf *c, const float *X, const uint8_t *y, size_t n, double *acc) {
    uint8_t *pred = gm_malloc(n ? n : 1);
    if (!pred) return GM_ENOMEM;
    int rc = gm_clf_predict(c, X, n, pred);
    if (rc == GM_OK) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) ok += pred[i] == y[i];
        *acc = n ? (double)ok / (double)n : 0.0;
    }
    gm_free(pred);
    return rc;
}

static long penultimate(const gm_clf *c) {
    for (size_t i = c->net->n_layers; i-- > 0;)
        if (c->net->layers[i].kind == GM_LAYER_LINEAR) return (long)i;
    return (long)c->net->n_layers;
}
size_t gm_clf_feature_dim(const gm_clf *c) { return gm_seq_out_size(c->net, penultimate(c)); }
int gm_clf_features(gm_clf *c, const float *X, size_t n, float *out) {
    return run_eval(c, X, n, penultimate(c), out, gm_clf_feature_dim(c));
}

/* ---- checkpoints ---- */

int gm_clf_save(const gm_clf *c, const char *path) {
    cJSON *cfg = cJSON_CreateObject();
    if (!cfg) return GM_ENOMEM;
    int ok = 1;
    ok &= cJSON_AddStringToObject(cfg, "spec", c->spec) != NULL;
    cJSON *in = cJSON_AddArrayToObject(cfg, "input");
    ok &= in != NULL;
    for (int i = 0; i < 3; i++) ok &= in && cJSON_AddItemToArray(in, cJSON_CreateNumber((double)img_shape[i]));
    ok &= cJSON_AddNumberToObject(cfg, "epochs", (double)c->cfg.epochs) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "batch", (double)c->cfg.batch) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "lr", c->cfg.lr) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "lr_min", c->cfg.lr_min) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "warmup", (double)c->cfg.warmup) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "weight_decay", (double)c->cfg.weight_decay) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "steps_per_epoch", (double)c->steps_per_epoch) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "classes", 10) != NULL;
    ok &= cJSON_AddNumberToObject(cfg, "feature_dim", (double)gm_clf_feature_dim(c)) != NULL;
    char *js = ok ? cJSON_PrintUnformatted(cfg) : NULL; /* an Add that ran out of memory returned NULL/false */
    cJSON_Delete(cfg);
    if (!js) return gm_set_error(GM_ENOMEM, "out of memory writing the checkpoint config");
    gm_checkpoint_meta m = {"classifier", js, c->step, c->epoch, c->cfg.seed, &c->noise};
    int rc = gm_checkpoint_save(path, &c->net->params, &c->opt, &m);
    cJSON_free(js);
    return rc;
}

static int num_field(const cJSON *o, const char *k, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x)) return -1;
    *v = x->valuedouble;
    return 0;
}

int gm_clf_load(gm_clf **out, const char *path) {
    *out = NULL;
    gm_checkpoint *ck = NULL;
    cJSON *cfg = NULL;
    gm_clf *c = NULL;
    int rc = gm_checkpoint_open(&ck, path);
    if (rc != GM_OK) return rc;
    const char *model = gm_checkpoint_meta_get(ck, "model"), *js = gm_checkpoint_meta_get(ck, "config");
    if (!model || strcmp(model, "classifier")) {
        rc = gm_set_error(GM_EFORMAT, "%s: not a classifier checkpoint (model '%s')", path, model ? model : "?");
        goto done;
    }
    gm_clear_error();
    cfg = js ? cJSON_Parse(js) : NULL;
    if (js && !cfg && gm_last_error()[0]) { /* cJSON allocates through gm_malloc, which left the message */
        rc = GM_ENOMEM;
        goto done;
    }
    const char *spec = cfg ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "spec")) : NULL;
    double ep, bt, lr, lrm, wu, wd, spe;
    if (!spec || num_field(cfg, "epochs", &ep) || num_field(cfg, "batch", &bt) || num_field(cfg, "lr", &lr) ||
        num_field(cfg, "lr_min", &lrm) || num_field(cfg, "warmup", &wu) || num_field(cfg, "weight_decay", &wd) ||
        num_field(cfg, "steps_per_epoch", &spe)) {
        rc = gm_set_error(GM_EFORMAT, "%s: __metadata__ 'config' is missing or is not valid JSON", path);
        goto done;
    }
    gm_clf_config cc = gm_clf_config_default();
    cc.spec = spec;
    cc.epochs = (int64_t)ep, cc.batch = (size_t)bt, cc.lr = lr, cc.lr_min = lrm, cc.warmup = (int64_t)wu;
    cc.weight_decay = (float)wd;
    const char *seed = gm_checkpoint_meta_get(ck, "seed"), *step = gm_checkpoint_meta_get(ck, "step"),
               *epoch = gm_checkpoint_meta_get(ck, "epoch");
    if (!seed || !step || !epoch) {
        rc = gm_set_error(GM_EFORMAT, "%s: __metadata__ lacks seed/step/epoch", path);
        goto done;
    }
    cc.seed = strtoull(seed, NULL, 10);
    if ((rc = gm_clf_create(&c, &cc)) != GM_OK) {
        gm_error_prefix(rc, path);
        goto done;
    }
    c->step = strtoll(step, NULL, 10);
    c->epoch = strtoll(epoch, NULL, 10);
    c->steps_per_epoch = (int64_t)spe;
    if ((rc = gm_checkpoint_load_params(ck, &c->net->params)) != GM_OK) goto done;
    if ((rc = gm_checkpoint_load_optim(ck, &c->net->params, &c->opt)) != GM_OK) goto done;
    if ((rc = gm_checkpoint_load_rng(ck, &c->noise)) != GM_OK) goto done;
    *out = c;
    c = NULL;
done:
    gm_clf_free(c);
    cJSON_Delete(cfg);
    gm_checkpoint_close(ck);
    return rc;
}
