/* SPDX-License-Identifier: MIT */
/* diff_internal.h — helpers shared by the trainable diffusion models of src/diffusion (diff_mlp.c,
 * diff_unet.c): the forward-noising of a training batch and the checkpoint/training-state files.
 * Internal to the module; not installed. Thread safety: reentrant. */
#ifndef GM_DIFF_INTERNAL_H
#define GM_DIFF_INTERNAL_H

#include "genmix/diffusion.h"
#include "genmix/models.h"

/* x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps for B rows of D values: per row t ~ U{0..T-1}, then D normals,
 * from Philox stream {GM_STREAM_NOISE, 0} of seed at block `step`. t (ints) and/or tf (floats) may be NULL. */
void gm__diff_noise_batch(const gm_diff_schedule *sch, const float *x0, size_t B, size_t D, uint64_t seed,
                          uint64_t step, int *t, float *tf, float *xt, float *eps);
/* Checkpoint of a weight table: __metadata__ model, config (JSON), step, seed, optional optimiser/RNG. */
int gm__diff_ckpt_save(const char *path, const char *model, const char *config, const gm_params *p,
                       const gm_optim *opt, int64_t step, uint64_t seed, const gm_rng *rng);
/* Open a weights checkpoint of model `model` and parse its JSON config: GM_OK with *c open and *cfg the
 * parsed config (NULL if absent; the caller cJSON_Deletes it and closes *c), GM_EFORMAT for another model
 * type, GM_ENOMEM when the JSON parser ran out of memory; *c is closed on failure. */
struct cJSON;
int gm__diff_ckpt_open(const char *path, const char *model, gm_checkpoint **c, struct cJSON **cfg);
/* Training state "<model>-train": weights, Adam state, RNG position and step. */
int gm__diff_state_load(const char *path, const char *model, gm_params *p, gm_optim *opt, int64_t *step, gm_rng *rng);

/* For diff_finetune.c: the EMA weight network of a toy MLP (borrowed), and a deep copy of the model
 * (same shape, schedule, weights and data name; fresh Adam state). */
gm_seq *gm__diff_mlp_seq(gm_diff_mlp *m);
const gm_diff_schedule *gm__diff_mlp_schedule(const gm_diff_mlp *m);
int gm__diff_mlp_clone(gm_diff_mlp **out, const gm_diff_mlp *m);

#endif
