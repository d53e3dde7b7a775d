/* SPDX-License-Identifier: MIT */
/* genmix/io.h — arrays and weights on disk: .npy/.npz, .safetensors, IDX (MNIST), CSV, PNG, atomic writes.
 *
 * Usage:
 *     gm_array a;
 *     if (gm_npy_read("feats.npy", &a) != GM_OK) { puts(gm_last_error()); return 1; }
 *     if (gm_array_convert(&a, GM_DTYPE_F64) != GM_OK) ...       // any numeric dtype -> f64
 *     double *x = a.data;  // a.shape[0] x a.shape[1], C order, native endianness
 *     gm_array_free(&a);
 *
 *     int64_t shape[2] = {n, d};
 *     gm_npy_write("out.npy", GM_DTYPE_F32, 2, shape, data);          // temp file + rename
 *
 * Ownership: every reader fills a gm_array that owns its data (malloc'd or a read-only mmap); release it
 * with gm_array_free. gm_safetensors_get returns a *borrowed* view into the gm_safetensors object (valid
 * until gm_safetensors_free); gm_array_free on a view is a no-op. Writers never keep the caller's buffers
 * past the call (the safetensors writer borrows them until gm_st_writer_write).
 * Errors: GM_EIO (errno text), GM_EFORMAT (malformed file), GM_ESHAPE, GM_ENOMEM; the message names the
 * file and the problem in one line. Every writer writes `path.tmp.XXXXXX` then renames it over `path`.
 * Thread safety: no shared state; distinct objects may be used from distinct threads.
 */
#ifndef GM_IO_H
#define GM_IO_H

#include <stdio.h>

#include "genmix/base.h"
#include "genmix/fileio.h" /* the file layer (core): atomic writes, the output rule, whole-file reads */
#include "genmix/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GM_DTYPE_BOOL = 0,
    GM_DTYPE_U8,
    GM_DTYPE_I8,
    GM_DTYPE_I16,
    GM_DTYPE_U16,
    GM_DTYPE_I32,
    GM_DTYPE_U32,
    GM_DTYPE_I64,
    GM_DTYPE_U64,
    GM_DTYPE_F16,
    GM_DTYPE_BF16,
    GM_DTYPE_F32,
    GM_DTYPE_F64,
    GM_DTYPE_COUNT
} gm_dtype;

size_t gm_dtype_size(gm_dtype t);
/* safetensors-style name: "F32", "I64", "U8", ... */
const char *gm_dtype_name(gm_dtype t);

#define GM_ARRAY_MAX_DIMS 8

typedef struct {
    gm_dtype dtype;
    int ndim;
    int64_t shape[GM_ARRAY_MAX_DIMS];
    void *data;     /* native endianness, C (row-major) order */
    size_t nbytes;
    void *alloc_;   /* internal: heap block to free (NULL for views) */
    void *map_;     /* internal: mmap base (NULL if not mapped) */
    size_t map_len_;
} gm_array;

void gm_array_free(gm_array *a);
size_t gm_array_numel(const gm_array *a);
/* Convert in place to f32 or f64 (from any integer or float dtype, including f16/bf16). A borrowed view
 * is copied into owned memory first. GM_EINVAL for unsupported targets. */
int gm_array_convert(gm_array *a, gm_dtype to);
/* Take the data of an f32 array of rank <= 4 as a gm_tensor (moves ownership; `a` is emptied).
 * Converts other dtypes first. GM_ESHAPE if rank > 4. */
int gm_array_to_tensor(gm_array *a, gm_tensor *out);
/* Fail (GM_ENUMERIC) naming the file and first row with a NaN/Inf in a float array (row = first dim). */
int gm_array_check_finite(const gm_array *a, const char *what);

/* Summary statistics of any numeric array, accumulated in double in a fixed order (two passes).
 * min/max/mean/std (population) are over the finite elements; NaN when there are none. */
typedef struct {
    size_t count;        /* all elements */
    size_t n_nan, n_inf; /* non-finite elements (float dtypes only) */
    double min, max, mean, std;
} gm_array_stats;
void gm_array_summary(const gm_array *a, gm_array_stats *s);

/* ---- .npy ------------------------------------------------------------------------------------ */
/* Read a .npy file: versions 1/2/3; dtypes <f2 <f4 <f8 |u1 |i1 |b1 <i2 <u2 <i4 <u4 <i8 <u8 (and their
 * big-endian forms, byte-swapped); Fortran order is transposed into C order. Object and structured
 * dtypes are refused. Header <= 10000 bytes; data length checked against the file size. */
int gm_npy_read(const char *path, gm_array *out);
/* The same from memory (used for .npz members and fuzzing); `name` only labels error messages. */
int gm_npy_parse(const void *buf, size_t len, const char *name, gm_array *out);
/* Memory-map a little-endian, C-order .npy read-only (falls back to gm_npy_read otherwise). */
int gm_npy_mmap(const char *path, gm_array *out);
/* Write v1.0 .npy (<f4 <f8 <i4 <i8 |u1 ... any dtype above except bf16), C order, 64-byte aligned header. */
int gm_npy_write(const char *path, gm_dtype dtype, int ndim, const int64_t *shape, const void *data);
/* Convenience: read any numeric .npy as a float32 tensor (rank <= 4) / write a tensor as <f4. */
int gm_npy_read_f32(const char *path, gm_tensor *out);
int gm_npy_write_f32(const char *path, const gm_tensor *t);

/* ---- .npz (zip of .npy members; stored or deflate) ------------------------------------------- */
/* Names of the members without the ".npy" suffix; free with gm_npz_names_free. */
int gm_npz_list(const char *path, char ***names, size_t *count);
void gm_npz_names_free(char **names, size_t count);
/* Read member `name` (without ".npy"); NULL reads the first member. */
int gm_npz_read(const char *path, const char *name, gm_array *out);
/* Parse an in-memory .npz (fuzzing); same contract as gm_npz_read. */
int gm_npz_parse(const void *buf, size_t len, const char *label, const char *name, gm_array *out);
/* Write an uncompressed .npz with n members (names without ".npy"). */
int gm_npz_write(const char *path, size_t n, const char *const *names, const gm_array *arrays);

/* ---- .safetensors ---------------------------------------------------------------------------- */
typedef struct gm_safetensors gm_safetensors;
/* Load and validate a whole file (header <= 100 MB, offsets contiguous from 0, sizes match dtype and
 * shape, 8 + N + last END == file size, no duplicate keys). */
int gm_safetensors_read(gm_safetensors **out, const char *path);
int gm_safetensors_parse(gm_safetensors **out, const void *buf, size_t len, const char *label);
size_t gm_safetensors_count(const gm_safetensors *st);
const char *gm_safetensors_name(const gm_safetensors *st, size_t i); /* sorted by name */
/* Borrowed view of tensor `name`; GM_EFORMAT "missing tensor 'name'" if absent. */
int gm_safetensors_get(const gm_safetensors *st, const char *name, gm_array *view);
/* Copy tensor `name` (must be F32 with exactly `numel` elements, else GM_ESHAPE naming it) into dst. */
int gm_safetensors_copy_f32(const gm_safetensors *st, const char *name, float *dst, size_t numel);
/* __metadata__ value for `key`, or NULL. Borrowed. */
const char *gm_safetensors_meta(const gm_safetensors *st, const char *key);
/* Number of __metadata__ entries and the i-th key, in file order (borrowed). */
size_t gm_safetensors_meta_count(const gm_safetensors *st);
const char *gm_safetensors_meta_key(const gm_safetensors *st, size_t i);
void gm_safetensors_free(gm_safetensors *st);

typedef struct gm_st_writer gm_st_writer;
int gm_st_writer_create(gm_st_writer **out);
/* Add a tensor; `data` is borrowed until gm_st_writer_write. Duplicate names are GM_EINVAL. */
int gm_st_writer_add(gm_st_writer *w, const char *name, gm_dtype dtype, int ndim, const int64_t *shape,
                     const void *data);
int gm_st_writer_meta(gm_st_writer *w, const char *key, const char *value);
/* Write atomically: 8-byte length, JSON header padded with spaces to a multiple of 8, data in the
 * reference writer's order (by alignment, then name). */
int gm_st_writer_write(gm_st_writer *w, const char *path);
void gm_st_writer_free(gm_st_writer *w);

/* ---- IDX (MNIST / Fashion-MNIST), raw or gzip -------------------------------------------------- */
int gm_idx_read(const char *path, gm_array *out);
int gm_idx_parse(const void *buf, size_t len, const char *label, gm_array *out);

#define GM_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
/* Load Fashion-MNIST from `dir` (NULL = GM_FASHION_MNIST_DIR): images as an N x 784 float32 tensor in
 * [0, 1] (pixel / 255), labels 0..9 (gm_malloc'd, free with gm_free). train=1: 60000, train=0: 10000. */
int gm_fashion_mnist_load(const char *dir, int train, gm_tensor *images, uint8_t **labels, size_t *n);
extern const char *const gm_fashion_mnist_classes[10];

/* ---- CSV (numeric tables with a header row) ---------------------------------------------------- */
typedef struct {
    size_t nrows, ncols;
    char **colnames; /* ncols names */
    double *values;  /* nrows x ncols, row-major */
} gm_csv;
/* Read a comma-separated file with a header row; every cell must be a number (error names the
 * 1-based line and the column name). Empty lines at the end are ignored. */
int gm_csv_read(const char *path, gm_csv *out);
/* Column index of `name`, or -1. */
long gm_csv_col(const gm_csv *t, const char *name);
int gm_csv_write(const char *path, size_t nrows, size_t ncols, const char *const *colnames, const double *values);
void gm_csv_free(gm_csv *t);

/* ---- PNG --------------------------------------------------------------------------------------- */
/* 8-bit PNG, channels 1 (gray), 3 (RGB) or 4 (RGBA), rows top to bottom. */
int gm_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels);
/* Grid of n images (each channels x height x width, floats clipped to [0, 1]) with `ncols` columns
 * and `pad` pixels of gray border; channels 1 or 3. */
int gm_png_write_grid(const char *path, const float *images, size_t n, int channels, int height, int width,
                      int ncols, int pad);
/* Read an 8-bit PNG (gray/RGB/RGBA); *pixels is gm_malloc'd. Used by tests. */
int gm_png_read(const char *path, uint8_t **pixels, int *width, int *height, int *channels);

#ifdef __cplusplus
}
#endif
#endif /* GM_IO_H */
