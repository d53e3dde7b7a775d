/* SPDX-License-Identifier: MIT */
/* fuzz_checkpoint.c — libFuzzer target for the model checkpoint readers: gm_ae_load and gm_clf_load
 * (safetensors container, __metadata__ strings, the JSON 'config' object, tensor shapes checked against
 * it, optimiser state). Seeds: small autoencoder checkpoints written by fuzz/run.sh. */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_file.h"
#include "genmix/ae.h"
#include "genmix/classifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_as_file(data, size);
    gm_ae *ae = NULL;
    if (gm_ae_load(&ae, path) == GM_OK) gm_ae_free(ae);
    gm_clf *c = NULL;
    if (gm_clf_load(&c, path) == GM_OK) gm_clf_free(c);
    return 0;
}
