/* SPDX-License-Identifier: MIT */
/* io_internal.h — private helpers shared by array.c, npy.c, npz.c, safetensors.c and idx.c (never installed).
 * Owns nothing. Thread safety: pure functions. */
#ifndef GM_IO_INTERNAL_H
#define GM_IO_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "genmix/io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "genmix's file formats assume a little-endian host"
#endif

/* Allocate an owned array of `dtype` and `shape` (uninitialised data, data == alloc_).
 * GM_ENOMEM, or GM_EFORMAT naming `label` when the byte size overflows size_t. */
int gm__array_alloc(gm_array *a, gm_dtype dtype, int ndim, const int64_t *shape, const char *label);

/* prod(shape) * itemsize with overflow checks (against both int64 and size_t). Returns 0 on success,
 * -1 on overflow or a negative dimension. */
int gm__shape_nbytes(int ndim, const int64_t *shape, size_t itemsize, size_t *numel, size_t *nbytes);

/* Reverse the bytes of every `size`-byte element (size 2, 4 or 8) in place. */
void gm__byteswap(void *data, size_t n, size_t size);

static inline uint16_t gm__rd16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t gm__rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t gm__rd64le(const uint8_t *p) {
    return (uint64_t)gm__rd32le(p) | ((uint64_t)gm__rd32le(p + 4) << 32);
}
static inline uint32_t gm__rd32be(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void gm__wr16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void gm__wr32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void gm__wr64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Build a v1.0 .npy prefix+header byte-identical to numpy.save (NumPy 1.24) for a C-order array into
 * out[cap]; returns its length (a multiple of 64) or -1 (dtype without NumPy equivalent, bad rank). */
int gm__npy_header(char *out, size_t cap, gm_dtype dtype, int ndim, const int64_t *shape);

/* Label used in messages when a parser is given no name. */
#define GM__LABEL(s) ((s) ? (s) : "<memory>")

#endif
