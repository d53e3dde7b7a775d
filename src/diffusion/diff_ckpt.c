/* SPDX-License-Identifier: MIT */
/* diff_ckpt.c — shared by the trainable diffusion models (diff_mlp.c, diff_unet.c): forward noising of a
 * training batch and the checkpoint / training-state files (see diff_internal.h).
 * Owns: nothing. Thread safety: reentrant.
 *
 * module: diffusion (src/diffusion/) owns diffusion models: noise schedules, the DDPM/DDIM sampler state
 * machine over the gm_denoiser interface, exact Gaussian-mixture denoisers, the toy MLP and the 28x28 U-Net
 * denoisers and their checkpoints (genmix/diffusion.h). A method: it uses core, io, linalg and nn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diff_internal.h"

void gm__diff_noise_batch(const gm_diff_schedule *sch, const float *x0, size_t B, size_t D, uint64_t seed,
                          uint64_t step, int *t, float *tf, float *xt, float *eps) {
    gm_rng r;
    gm_rng_init128(&r, seed, gm_rng_stream_id(GM_STREAM_NOISE, 0), step);
    for (size_t i = 0; i < B; i++) {
        int ti = (int)gm_rng_below(&r, (uint64_t)sch->T);
        if (t) t[i] = ti;
        if (tf) tf[i] = (float)ti;
        double ab = sch->alpha_bar[ti], sa = sqrt(ab), sb = sqrt(1.0 - ab);
        for (size_t j = 0; j < D; j++) {
            double e = gm_rng_normal(&r);
            eps[i * D + j] = (float)e;
            xt[i * D + j] = (float)(sa * (double)x0[i * D + j] + sb * e);
        }
    }
}

int gm__diff_ckpt_save(const char *path, const char *model, const char *config, const gm_params *p,
                       const gm_optim *opt, int64_t step, uint64_t seed, const gm_rng *rng) {
    gm_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.model = model;
    meta.config = config;
    meta.step = step;
    meta.seed = seed;
    meta.rng = rng;
    return gm_checkpoint_save(path, p, opt, &meta);
}

int gm__diff_state_load(const char *path, const char *model, gm_params *p, gm_optim *opt, int64_t *step, gm_rng *rng) {
    gm_checkpoint *c;
    int rc = gm_checkpoint_open(&c, path);
    if (rc != GM_OK) return rc;
    char want[64];
    snprintf(want, sizeof want, "%s-train", model);
    const char *m = gm_checkpoint_meta_get(c, "model"), *st = gm_checkpoint_meta_get(c, "step");
    if (!m || strcmp(m, want) || !st) rc = gm_set_error(GM_EFORMAT, "%s: not a %s training state", path, model);
    if (rc == GM_OK) rc = gm_checkpoint_load_params(c, p);
    if (rc == GM_OK) rc = gm_checkpoint_load_optim(c, p, opt);
    if (rc == GM_OK) rc = gm_checkpoint_load_rng(c, rng);
    if (rc == GM_OK) *step = strtoll(st, NULL, 10);
    gm_checkpoint_close(c);
    return rc == GM_OK ? rc : gm_error_prefix(rc, path);
}

int gm__diff_ckpt_open(const char *path, const char *model, gm_checkpoint **c, cJSON **cfg) {
    *cfg = NULL;
    int rc = gm_checkpoint_open(c, path);
    if (rc != GM_OK) return rc;
    const char *m = gm_checkpoint_meta_get(*c, "model"), *conf = gm_checkpoint_meta_get(*c, "config");
    if (!m || strcmp(m, model)) {
        rc = gm_set_error(GM_EFORMAT, "%s: a '%s' checkpoint, not a %s diffusion model", path, m ? m : "?", model);
        gm_checkpoint_close(*c);
        return rc;
    }
    gm_clear_error();
    *cfg = conf ? cJSON_Parse(conf) : NULL;
    if (conf && !*cfg && gm_last_error()[0]) { /* cJSON allocates through gm_malloc, which left the message */
        gm_checkpoint_close(*c);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    return GM_OK;
}
