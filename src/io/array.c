/* SPDX-License-Identifier: MIT */
/* array.c — gm_array: typed n-d arrays as read from .npy/.npz/.safetensors/IDX files, dtype tables and
 * conversion to float32/float64 (f16 and bf16 decoded in software).
 * Owns: the data block (alloc_) or the read-only mapping (map_) of each owned array; views own nothing.
 * Thread safety: per object.
 *
 * module: io (src/io/) owns the file formats: .npy/.npz arrays, .safetensors, IDX (Fashion-MNIST), CSV and
 * PNG (genmix/io.h). It uses core only; everything above may use it. */
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>

#include "io_internal.h"

/* ==== dtypes ================================================================================== */

static const struct {
    size_t size;
    const char *name;
} dtype_info[GM_DTYPE_COUNT] = {
    [GM_DTYPE_BOOL] = {1, "BOOL"}, [GM_DTYPE_U8] = {1, "U8"},     [GM_DTYPE_I8] = {1, "I8"},
    [GM_DTYPE_I16] = {2, "I16"},   [GM_DTYPE_U16] = {2, "U16"},   [GM_DTYPE_I32] = {4, "I32"},
    [GM_DTYPE_U32] = {4, "U32"},   [GM_DTYPE_I64] = {8, "I64"},   [GM_DTYPE_U64] = {8, "U64"},
    [GM_DTYPE_F16] = {2, "F16"},   [GM_DTYPE_BF16] = {2, "BF16"}, [GM_DTYPE_F32] = {4, "F32"},
    [GM_DTYPE_F64] = {8, "F64"},
};

size_t gm_dtype_size(gm_dtype t) {
    GM_ASSERT((int)t >= 0 && t < GM_DTYPE_COUNT);
    return dtype_info[t].size;
}

const char *gm_dtype_name(gm_dtype t) {
    if ((int)t < 0 || t >= GM_DTYPE_COUNT) return "?";
    return dtype_info[t].name;
}

/* ==== shapes and allocation =================================================================== */

int gm__shape_nbytes(int ndim, const int64_t *shape, size_t itemsize, size_t *numel, size_t *nbytes) {
    uint64_t n = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) zero = 1;
    }
    /* even an empty array must not have a product that overflows in the remaining dims */
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d == 0) continue;
        if (n > (uint64_t)INT64_MAX / d) return -1;
        n *= d;
    }
    if (n > (uint64_t)INT64_MAX / (itemsize ? itemsize : 1)) return -1;
    if (n > SIZE_MAX / (itemsize ? itemsize : 1)) return -1;
    if (zero) n = 0;
    if (numel) *numel = (size_t)n;
    if (nbytes) *nbytes = (size_t)n * itemsize;
    return 0;
}

int gm__array_alloc(gm_array *a, gm_dtype dtype, int ndim, const int64_t *shape, const char *label) {
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > GM_ARRAY_MAX_DIMS)
        GM_FAIL(GM_EFORMAT, "%s: rank %d outside 0..%d", GM__LABEL(label), ndim, GM_ARRAY_MAX_DIMS);
    size_t nbytes;
    if (gm__shape_nbytes(ndim, shape, gm_dtype_size(dtype), NULL, &nbytes))
        GM_FAIL(GM_EFORMAT, "%s: shape size overflows or has a negative dimension", GM__LABEL(label));
    void *p = gm_malloc(nbytes ? nbytes : 1);
    if (!p) return label ? gm_error_prefix(GM_ENOMEM, label) : GM_ENOMEM;
    a->dtype = dtype;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->data = p;
    a->alloc_ = p;
    a->nbytes = nbytes;
    return GM_OK;
}

void gm__byteswap(void *data, size_t n, size_t size) {
    uint8_t *p = data;
    for (size_t i = 0; i < n; i++, p += size)
        for (size_t j = 0; j < size / 2; j++) {
            uint8_t t = p[j];
            p[j] = p[size - 1 - j];
            p[size - 1 - j] = t;
        }
}

void gm_array_free(gm_array *a) {
    if (!a) return;
    if (a->map_) munmap(a->map_, a->map_len_);
    gm_free(a->alloc_);
    memset(a, 0, sizeof *a);
}

size_t gm_array_numel(const gm_array *a) {
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++) n *= (size_t)a->shape[i];
    return n;
}

/* ==== conversion ============================================================================== */

/* IEEE 754 binary16 -> float (exact: every half is a float). */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13); /* Inf / NaN (payload kept) */
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Element i of a raw buffer of dtype t, as double (exact for all but >2^53 64-bit integers). */
static double elem_as_double(const void *data, gm_dtype t, size_t i) {
    const uint8_t *p = (const uint8_t *)data + i * dtype_info[t].size;
    switch (t) {
    case GM_DTYPE_BOOL: return p[0] ? 1.0 : 0.0;
    case GM_DTYPE_U8: return (double)p[0];
    case GM_DTYPE_I8: return (double)(int8_t)p[0];
    case GM_DTYPE_I16: { int16_t v; memcpy(&v, p, 2); return (double)v; }
    case GM_DTYPE_U16: { uint16_t v; memcpy(&v, p, 2); return (double)v; }
    case GM_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return (double)v; }
    case GM_DTYPE_U32: { uint32_t v; memcpy(&v, p, 4); return (double)v; }
    case GM_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case GM_DTYPE_U64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    case GM_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); return (double)half_to_float(v); }
    case GM_DTYPE_BF16: { uint16_t v; memcpy(&v, p, 2); return (double)bf16_to_float(v); }
    case GM_DTYPE_F32: { float v; memcpy(&v, p, 4); return (double)v; }
    case GM_DTYPE_F64: { double v; memcpy(&v, p, 8); return v; }
    default: GM_ASSERT(0 && "bad dtype"); return 0.0;
    }
}

/* Element i as float; integers go straight to float (one rounding), not through double. */
static float elem_as_float(const void *data, gm_dtype t, size_t i) {
    const uint8_t *p = (const uint8_t *)data + i * dtype_info[t].size;
    switch (t) {
    case GM_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (float)v; }
    case GM_DTYPE_U64: { uint64_t v; memcpy(&v, p, 8); return (float)v; }
    case GM_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); return half_to_float(v); }
    case GM_DTYPE_BF16: { uint16_t v; memcpy(&v, p, 2); return bf16_to_float(v); }
    case GM_DTYPE_F32: { float v; memcpy(&v, p, 4); return v; }
    default: return (float)elem_as_double(data, t, i);
    }
}

static int is_view(const gm_array *a) { return a->alloc_ == NULL && a->map_ == NULL; }

int gm_array_convert(gm_array *a, gm_dtype to) {
    GM_ASSERT(a != NULL);
    if (to != GM_DTYPE_F32 && to != GM_DTYPE_F64)
        GM_FAIL(GM_EINVAL, "gm_array_convert: target dtype %s not supported (F32 or F64 only)", gm_dtype_name(to));
    if (a->dtype == to && !is_view(a)) return GM_OK;
    size_t n = gm_array_numel(a);
    size_t out_size = gm_dtype_size(to);
    if (n > SIZE_MAX / out_size) GM_FAIL(GM_ENOMEM, "gm_array_convert: %zu elements overflow size_t", n);
    void *dst = gm_malloc(n ? n * out_size : 1);
    if (!dst) return GM_ENOMEM;
    if (to == GM_DTYPE_F32) {
        float *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = elem_as_float(a->data, a->dtype, i);
    } else {
        double *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = elem_as_double(a->data, a->dtype, i);
    }
    gm_array old = *a;
    a->dtype = to;
    a->data = dst;
    a->alloc_ = dst;
    a->map_ = NULL;
    a->map_len_ = 0;
    a->nbytes = n * out_size;
    if (!is_view(&old)) gm_array_free(&old);
    return GM_OK;
}

int gm_array_to_tensor(gm_array *a, gm_tensor *out) {
    GM_ASSERT(a != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if (a->ndim > 4)
        GM_FAIL(GM_ESHAPE, "array of rank %d cannot become a tensor (rank <= 4)", a->ndim);
    int rc;
    if (a->dtype != GM_DTYPE_F32 || a->alloc_ == NULL) {
        /* convert (also copies views and mmaps into owned heap memory) */
        if (a->dtype == GM_DTYPE_F32) {
            size_t n = gm_array_numel(a);
            void *p = gm_malloc(n ? n * 4 : 1);
            if (!p) return GM_ENOMEM;
            memcpy(p, a->data, n * 4);
            gm_array old = *a;
            a->data = a->alloc_ = p;
            a->map_ = NULL;
            a->map_len_ = 0;
            if (!is_view(&old)) gm_array_free(&old);
        } else if ((rc = gm_array_convert(a, GM_DTYPE_F32)) != GM_OK) {
            return rc;
        }
    }
    if (a->data != a->alloc_) memmove(a->alloc_, a->data, a->nbytes);
    out->data = a->alloc_;
    out->owned = 1;
    out->ndim = a->ndim;
    for (int i = 0; i < 4; i++) out->shape[i] = i < a->ndim ? a->shape[i] : 1;
    a->alloc_ = NULL; /* moved */
    gm_array_free(a);
    return GM_OK;
}

int gm_array_check_finite(const gm_array *a, const char *what) {
    GM_ASSERT(a != NULL);
    gm_dtype t = a->dtype;
    if (t != GM_DTYPE_F16 && t != GM_DTYPE_BF16 && t != GM_DTYPE_F32 && t != GM_DTYPE_F64) return GM_OK;
    size_t n = gm_array_numel(a);
    size_t row_len = (a->ndim >= 1 && a->shape[0] > 0) ? n / (size_t)a->shape[0] : 1;
    if (row_len == 0) return GM_OK;
    for (size_t i = 0; i < n; i++) {
        double v = elem_as_double(a->data, t, i);
        if (!isfinite(v)) {
            const char *kind = isnan(v) ? "NaN" : "Inf";
            if (a->ndim == 0) GM_FAIL(GM_ENUMERIC, "%s: value is %s", GM__LABEL(what), kind);
            GM_FAIL(GM_ENUMERIC, "%s: row %zu contains %s (element %zu)", GM__LABEL(what), i / row_len, kind,
                    i % row_len);
        }
    }
    return GM_OK;
}

void gm_array_summary(const gm_array *a, gm_array_stats *s) {
    GM_ASSERT(a != NULL && s != NULL);
    memset(s, 0, sizeof *s);
    size_t n = gm_array_numel(a), finite = 0;
    s->count = n;
    double lo = (double)INFINITY, hi = -(double)INFINITY, sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = elem_as_double(a->data, a->dtype, i);
        if (isnan(v)) s->n_nan++;
        else if (isinf(v)) s->n_inf++;
        else {
            finite++;
            sum += v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    if (finite == 0) {
        s->min = s->max = s->mean = s->std = (double)NAN;
        return;
    }
    double mean = sum / (double)finite, ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = elem_as_double(a->data, a->dtype, i);
        if (isfinite(v)) ss += (v - mean) * (v - mean);
    }
    s->min = lo;
    s->max = hi;
    s->mean = mean;
    s->std = sqrt(ss / (double)finite);
}
