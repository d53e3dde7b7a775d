/* SPDX-License-Identifier: MIT */
/* genmix/classifier.h — the Fashion-MNIST image classifier: training (resumable), accuracy, and the
 * penultimate-layer features that are genmix's default feature space for Fashion-MNIST.
 *
 * Usage:
 *     gm_clf_config cfg = gm_clf_config_default();  cfg.epochs = 8;
 *     gm_clf *c; gm_clf_create(&c, &cfg);
 *     while (c->epoch < cfg.epochs) { gm_clf_train_epoch(c, X, y, n, NULL, NULL); gm_clf_save(c, "clf.safetensors"); }
 *     double acc; gm_clf_accuracy(c, Xtest, ytest, ntest, &acc);
 *     gm_clf_free(c);
 *     // later: gm_clf_load(&c, "clf.safetensors"); gm_clf_features(c, X, n, feats);   // feats(n, 128)
 *
 * Images are n x 784 floats in [0, 1] (row-major 28x28), labels 0..9. Training is deterministic for a
 * given seed (data order: Philox stream (GM_STREAM_DATA, epoch); dropout: a (GM_STREAM_NOISE, 0) stream
 * whose position is checkpointed), so an interrupted run resumed from its checkpoint gives bitwise the
 * same weights as an uninterrupted one. Checkpoints store the config JSON, optimizer m/v and step, epoch,
 * seed and RNG position in __metadata__.
 * Ownership: gm_clf owns its network, optimiser and tape. Errors: status codes (GM_ENUMERIC names the
 * step where the loss became NaN/Inf). Thread safety: one gm_clf per thread.
 */
#ifndef GM_CLASSIFIER_H
#define GM_CLASSIFIER_H

#include "genmix/models.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *spec;     /* architecture (models.h spec); default GM_CLF_SPEC */
    int64_t epochs;
    size_t batch;
    double lr, lr_min;    /* cosine schedule from lr to lr_min over all steps, after warmup */
    int64_t warmup;       /* warmup steps */
    float weight_decay;   /* AdamW decoupled weight decay */
    uint64_t seed;
} gm_clf_config;

#define GM_CLF_SPEC                                                                                      \
    "conv:32:3:1:1,relu,maxpool:2,conv:64:3:1:1,relu,maxpool:2,flatten,dropout:0.25,linear:128,relu,"  \
    "dropout:0.25,linear:10"

gm_clf_config gm_clf_config_default(void);

typedef struct {
    gm_seq *net;
    gm_optim opt;
    gm_rng noise;    /* dropout masks */
    int64_t epoch;   /* epochs completed */
    int64_t step;    /* optimizer steps completed */
    int64_t steps_per_epoch;
    gm_clf_config cfg;
    char *spec;      /* owned copy of cfg.spec */
    gm_tape *tape;
} gm_clf;

int gm_clf_create(gm_clf **out, const gm_clf_config *cfg);
void gm_clf_free(gm_clf *c);
/* Progress callback: called every `every` steps and at the end of the epoch (final = 1). */
typedef void (*gm_clf_progress_fn)(void *ctx, int64_t epoch, int64_t step, double loss, double images_per_s, int final);
/* One epoch over X(n,784), y(n). mean_loss (optional) receives the epoch's mean training loss. */
int gm_clf_train_epoch(gm_clf *c, const float *X, const uint8_t *y, size_t n, double *mean_loss,
                       gm_clf_progress_fn progress, void *ctx);
/* Predicted class (arg-max of the 10 logits, first index on ties) of n images X (n x 784 in [0,1]). */
int gm_clf_predict(gm_clf *c, const float *X, size_t n, uint8_t *labels);
int gm_clf_accuracy(gm_clf *c, const float *X, const uint8_t *y, size_t n, double *acc);
/* Penultimate-layer features (after the last hidden activation): out(n, gm_clf_feature_dim(c)). */
size_t gm_clf_feature_dim(const gm_clf *c);
int gm_clf_features(gm_clf *c, const float *X, size_t n, float *out);
/* Checkpoint with the full training state. */
int gm_clf_save(const gm_clf *c, const char *path);
/* Rebuild the classifier (architecture and config from __metadata__) with weights, optimiser and RNG. */
int gm_clf_load(gm_clf **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* GM_CLASSIFIER_H */
