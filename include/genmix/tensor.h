/* SPDX-License-Identifier: MIT */
/* genmix/tensor.h — float32 contiguous tensors (<= 4-D, row-major, no strides) and a growable arena.
 *
 * Usage:
 *     gm_tensor t;
 *     int64_t shape[2] = {128, 784};
 *     if (gm_tensor_alloc(&t, 2, shape) != GM_OK) return -1;   // zero-filled
 *     ... t.data[i * 784 + j] ...
 *     gm_tensor_free(&t);
 *
 *     gm_arena *a; gm_arena_create(&a, 1 << 20);
 *     float *tmp = gm_arena_floats(a, n);   // valid until gm_arena_reset(a)
 *     gm_arena_reset(a); gm_arena_free(a);
 *
 * Ownership: gm_tensor_alloc makes the tensor own `data`; gm_tensor_free frees it and zeroes the struct.
 * A tensor made with gm_tensor_view borrows its data and must not be freed (gm_tensor_free on it is a bug
 * caught by the `owned` flag: it only clears the struct). Arena memory belongs to the arena.
 * Thread safety: distinct objects may be used from distinct threads; one arena is single-threaded.
 */
#ifndef GM_TENSOR_H
#define GM_TENSOR_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float *data;      /* owned (owned=1) or borrowed (owned=0) */
    int64_t shape[4]; /* unused trailing dims are 1 */
    int ndim;         /* 0..4 */
    int owned;
} gm_tensor;

/* Allocate a zero-filled tensor. Fails with GM_EINVAL on ndim outside 0..4 or negative dims, GM_ENOMEM. */
int gm_tensor_alloc(gm_tensor *t, int ndim, const int64_t *shape);
/* Borrow `data` with the given shape (no allocation). */
gm_tensor gm_tensor_view(float *data, int ndim, const int64_t *shape);
/* Free owned data and zero the struct. NULL or an empty struct is a no-op. */
void gm_tensor_free(gm_tensor *t);
/* Number of elements (product of the first ndim dims; 1 for ndim 0). */
size_t gm_tensor_numel(const gm_tensor *t);
/* Change the shape without moving data; GM_ESHAPE if the element count differs. */
int gm_tensor_reshape(gm_tensor *t, int ndim, const int64_t *shape);

/* ---- arena ----------------------------------------------------------------------------------- */

typedef struct gm_arena gm_arena;

/* Create an arena with an initial block of `initial_bytes` (0 picks 1 MiB). */
int gm_arena_create(gm_arena **out, size_t initial_bytes);
/* `bytes` of uninitialised memory aligned to 64 bytes; NULL (GM_ENOMEM recorded) on failure.
 * The arena grows by adding blocks; pointers stay valid until gm_arena_reset. */
void *gm_arena_alloc(gm_arena *a, size_t bytes);
/* Zero-filled float array of n elements. */
float *gm_arena_floats(gm_arena *a, size_t n);
/* Release everything allocated so far. If the arena had to grow, the blocks are merged into one
 * block of the high-water size, so a steady-state step never calls malloc. */
void gm_arena_reset(gm_arena *a);
/* Bytes handed out since the last reset, and the high-water mark. */
size_t gm_arena_used(const gm_arena *a);
size_t gm_arena_peak(const gm_arena *a);
void gm_arena_free(gm_arena *a);

#ifdef __cplusplus
}
#endif
#endif /* GM_TENSOR_H */
