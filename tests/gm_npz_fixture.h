/* SPDX-License-Identifier: MIT */
/* gm_npz_fixture.h — test helper: one float32 array of a golden .npz fixture, copied into a malloc'd buffer
 * (the caller frees it). A missing fixture or a wrong dtype is a failed CHECK, not a skip. Include after
 * gm_test.h and genmix/io.h. */
#ifndef GM_NPZ_FIXTURE_H
#define GM_NPZ_FIXTURE_H

static inline float *gm_npz_fixture_f32(const char *path, const char *name, size_t *n) {
    gm_array a;
    if (n) *n = 0;
    if (gm_npz_read(path, name, &a) != GM_OK) {
        fprintf(stderr, "  fixture %s: %s\n", name, gm_last_error());
        CHECK(0);
        return NULL;
    }
    size_t k = gm_array_numel(&a);
    float *v = malloc(k * sizeof(float));
    CHECK(a.dtype == GM_DTYPE_F32);
    memcpy(v, a.data, k * sizeof(float));
    gm_array_free(&a);
    if (n) *n = k;
    return v;
}

#endif
