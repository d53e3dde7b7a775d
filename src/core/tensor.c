/* SPDX-License-Identifier: MIT */
/* tensor.c — float32 tensors and the growable 64-byte-aligned arena.
 * Owns: tensor data when owned=1; arena blocks. Thread safety: per object. */
#include "genmix/tensor.h"

#include <string.h>

int gm_tensor_alloc(gm_tensor *t, int ndim, const int64_t *shape) {
    GM_ASSERT(t != NULL);
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > 4) GM_FAIL(GM_EINVAL, "tensor rank %d outside 0..4", ndim);
    size_t n = 1;
    for (int i = 0; i < 4; i++) t->shape[i] = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) GM_FAIL(GM_EINVAL, "negative tensor dimension %lld", (long long)shape[i]);
        if (shape[i] > 0 && n > SIZE_MAX / sizeof(float) / (size_t)shape[i])
            GM_FAIL(GM_ENOMEM, "tensor of shape with %d dims overflows size_t", ndim);
        n *= (size_t)shape[i];
        t->shape[i] = shape[i];
    }
    t->ndim = ndim;
    t->data = gm_calloc(n ? n : 1, sizeof(float));
    if (!t->data) {
        memset(t, 0, sizeof *t);
        return GM_ENOMEM;
    }
    t->owned = 1;
    return GM_OK;
}

gm_tensor gm_tensor_view(float *data, int ndim, const int64_t *shape) {
    GM_ASSERT(ndim >= 0 && ndim <= 4);
    gm_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.ndim = ndim;
    for (int i = 0; i < 4; i++) t.shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

void gm_tensor_free(gm_tensor *t) {
    if (!t) return;
    if (t->owned) gm_free(t->data);
    memset(t, 0, sizeof *t);
}

size_t gm_tensor_numel(const gm_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

int gm_tensor_reshape(gm_tensor *t, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > 4) GM_FAIL(GM_EINVAL, "tensor rank %d outside 0..4", ndim);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (n != gm_tensor_numel(t)) GM_FAIL(GM_ESHAPE, "reshape from %zu to %zu elements", gm_tensor_numel(t), n);
    t->ndim = ndim;
    for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    return GM_OK;
}

/* ---- arena --------------------------------------------------------------------------------- */

#define ARENA_ALIGN 64

typedef struct block {
    struct block *next;
    size_t size, used;
    unsigned char *base; /* aligned start inside the allocation */
    void *raw;
} block;

struct gm_arena {
    block *head; /* current block first */
    size_t used, peak;
};

static block *block_new(size_t size) {
    block *b = gm_malloc(sizeof *b);
    if (!b) return NULL;
    b->raw = gm_malloc(size + ARENA_ALIGN);
    if (!b->raw) {
        gm_free(b);
        return NULL;
    }
    uintptr_t p = (uintptr_t)b->raw;
    p = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    b->base = (unsigned char *)p;
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

static void block_free_all(block *b) {
    while (b) {
        block *n = b->next;
        gm_free(b->raw);
        gm_free(b);
        b = n;
    }
}

int gm_arena_create(gm_arena **out, size_t initial_bytes) {
    *out = NULL;
    gm_arena *a = gm_calloc(1, sizeof *a);
    if (!a) return GM_ENOMEM;
    a->head = block_new(initial_bytes ? initial_bytes : (size_t)1 << 20);
    if (!a->head) {
        gm_free(a);
        return GM_ENOMEM;
    }
    *out = a;
    return GM_OK;
}

void *gm_arena_alloc(gm_arena *a, size_t bytes) {
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < bytes) {
        gm_set_error(GM_ENOMEM, "arena request of %zu bytes overflows", bytes);
        return NULL;
    }
    block *b = a->head;
    if (b->size - b->used < need) {
        size_t sz = b->size * 2 > need ? b->size * 2 : need;
        block *nb = block_new(sz);
        if (!nb) return NULL;
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->base + b->used;
    b->used += need;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *gm_arena_floats(gm_arena *a, size_t n) {
    if (n > SIZE_MAX / sizeof(float)) {
        gm_set_error(GM_ENOMEM, "arena request of %zu floats overflows", n);
        return NULL;
    }
    float *p = gm_arena_alloc(a, n * sizeof(float));
    if (p) memset(p, 0, n * sizeof(float));
    return p;
}

void gm_arena_reset(gm_arena *a) {
    if (!a) return;
    if (a->head->next) {
        /* merge: one block big enough for the high-water mark */
        block *nb = block_new(a->peak);
        if (nb) {
            block_free_all(a->head);
            a->head = nb;
        } else {
            /* keep the biggest block; the others go */
            block_free_all(a->head->next);
            a->head->next = NULL;
        }
    }
    a->head->used = 0;
    a->used = 0;
}

size_t gm_arena_used(const gm_arena *a) { return a->used; }
size_t gm_arena_peak(const gm_arena *a) { return a->peak; }

void gm_arena_free(gm_arena *a) {
    if (!a) return;
    block_free_all(a->head);
    gm_free(a);
}
