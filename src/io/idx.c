/* SPDX-License-Identifier: MIT */
/* idx.c — IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed, and the Fashion-MNIST loader.
 *
 * IDX: bytes 0-1 zero, byte 2 the element type (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64),
 * byte 3 the number of dimensions, then one big-endian uint32 per dimension, then the big-endian data.
 * A file starting with the gzip magic 1f 8b is inflated first (zlib, CRC and length checked; concatenated
 * members allowed). Owns: the gm_array it fills. Thread safety: no shared state. */
#include <zlib.h>

#include "io_internal.h"

/* Inflate a gzip stream into a gm_malloc'd buffer. */
static int gunzip(const uint8_t *in, size_t len, const char *label, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t cap = len < ((size_t)1 << 20) ? 4 * len + 1024 : 4 * len; /* grows as needed */
    if (len >= 8) { /* ISIZE (uncompressed size mod 2^32) of the last member: a hint, not trusted */
        size_t hint = gm__rd32le(in + len - 4);
        if (hint > cap && hint / 1100 <= len) cap = hint + 1; /* deflate cannot exceed ~1032:1 */
    }
    uint8_t *buf = gm_malloc(cap);
    if (!buf) return gm_error_prefix(GM_ENOMEM, label);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        gm_free(buf);
        GM_FAIL(GM_ENOMEM, "%s: zlib inflateInit2 failed", label);
    }
    size_t pos = 0, in_pos = 0;
    int rc = GM_OK;
    for (;;) {
        if (pos == cap) {
            if (cap > SIZE_MAX / 2) {
                rc = gm_set_error(GM_EFORMAT, "%s: gzip data too large", label);
                break;
            }
            uint8_t *nb = gm_realloc(buf, cap * 2);
            if (!nb) {
                rc = gm_error_prefix(GM_ENOMEM, label);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t in_chunk = len - in_pos > (size_t)UINT_MAX ? UINT_MAX : len - in_pos;
        size_t out_chunk = cap - pos > (size_t)UINT_MAX ? UINT_MAX : cap - pos;
        zs.next_in = (Bytef *)(in + in_pos);
        zs.avail_in = (uInt)in_chunk;
        zs.next_out = buf + pos;
        zs.avail_out = (uInt)out_chunk;
        int z = inflate(&zs, Z_NO_FLUSH);
        in_pos += in_chunk - zs.avail_in;
        pos += out_chunk - zs.avail_out;
        if (z == Z_STREAM_END) {
            /* another member follows? (skip trailing zero padding) */
            while (in_pos < len && in[in_pos] == 0) in_pos++;
            if (in_pos + 2 <= len && in[in_pos] == 0x1f && in[in_pos + 1] == 0x8b) {
                inflateReset(&zs);
                continue;
            }
            if (in_pos != len) rc = gm_set_error(GM_EFORMAT, "%s: trailing garbage after the gzip data", label);
            break;
        }
        if (z == Z_MEM_ERROR) {
            rc = gm_set_error(GM_ENOMEM, "%s: out of memory inflating gzip data", label);
            break;
        }
        if (z == Z_DATA_ERROR || z == Z_NEED_DICT || z == Z_STREAM_ERROR) {
            rc = gm_set_error(GM_EFORMAT, "%s: corrupt gzip data (%s)", label, zs.msg ? zs.msg : "inflate error");
            break;
        }
        if (z == Z_BUF_ERROR && zs.avail_out != 0) { /* no progress possible: input exhausted */
            rc = gm_set_error(GM_EFORMAT, "%s: truncated gzip data", label);
            break;
        }
        if (in_pos == len && zs.avail_out != 0 && z == Z_OK) {
            rc = gm_set_error(GM_EFORMAT, "%s: truncated gzip data", label);
            break;
        }
    }
    inflateEnd(&zs);
    if (rc) {
        gm_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = pos;
    return GM_OK;
}

static int parse_raw(const uint8_t *p, size_t len, const char *label, gm_array *out) {
    if (len < 4 || p[0] != 0 || p[1] != 0) GM_FAIL(GM_EFORMAT, "%s: not an IDX file (bad magic)", label);
    gm_dtype dt;
    switch (p[2]) {
    case 0x08: dt = GM_DTYPE_U8; break;
    case 0x09: dt = GM_DTYPE_I8; break;
    case 0x0B: dt = GM_DTYPE_I16; break;
    case 0x0C: dt = GM_DTYPE_I32; break;
    case 0x0D: dt = GM_DTYPE_F32; break;
    case 0x0E: dt = GM_DTYPE_F64; break;
    default: GM_FAIL(GM_EFORMAT, "%s: unknown IDX element type 0x%02x", label, p[2]);
    }
    int ndim = p[3];
    if (ndim < 1 || ndim > GM_ARRAY_MAX_DIMS)
        GM_FAIL(GM_EFORMAT, "%s: IDX rank %d outside 1..%d", label, ndim, GM_ARRAY_MAX_DIMS);
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr) GM_FAIL(GM_EFORMAT, "%s: truncated IDX header (%zu of %zu bytes)", label, len, hdr);
    int64_t shape[GM_ARRAY_MAX_DIMS];
    for (int i = 0; i < ndim; i++) shape[i] = gm__rd32be(p + 4 + 4 * i);
    size_t numel, nbytes, isz = gm_dtype_size(dt);
    if (gm__shape_nbytes(ndim, shape, isz, &numel, &nbytes))
        GM_FAIL(GM_EFORMAT, "%s: IDX shape product overflows", label);
    if (len - hdr < nbytes)
        GM_FAIL(GM_EFORMAT, "%s: truncated: IDX shape needs %zu data bytes, only %zu present", label, nbytes, len - hdr);
    if (len - hdr > nbytes)
        GM_FAIL(GM_EFORMAT, "%s: %zu unexpected bytes after the IDX data", label, len - hdr - nbytes);
    int rc = gm__array_alloc(out, dt, ndim, shape, label);
    if (rc) return rc;
    if (nbytes) memcpy(out->data, p + hdr, nbytes);
    if (isz > 1) gm__byteswap(out->data, numel, isz);
    return GM_OK;
}

int gm_idx_parse(const void *buf, size_t len, const char *label, gm_array *out) {
    GM_ASSERT(out != NULL && (buf != NULL || len == 0));
    memset(out, 0, sizeof *out);
    label = GM__LABEL(label);
    const uint8_t *p = buf;
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        uint8_t *raw;
        size_t n;
        int rc = gunzip(p, len, label, &raw, &n);
        if (rc) return rc;
        rc = parse_raw(raw, n, label, out);
        gm_free(raw);
        return rc;
    }
    return parse_raw(p, len, label, out);
}

int gm_idx_read(const char *path, gm_array *out) {
    GM_ASSERT(path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    void *buf;
    size_t len;
    int rc = gm_read_file(path, &buf, &len);
    if (rc) return rc;
    rc = gm_idx_parse(buf, len, path, out);
    gm_free(buf);
    return rc;
}

/* ==== Fashion-MNIST =========================================================================== */

const char *const gm_fashion_mnist_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* dir/stem.gz, or dir/stem if that exists instead. */
static int read_member(const char *dir, const char *stem, gm_array *out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gz", dir, stem);
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    else {
        char raw[4096];
        snprintf(raw, sizeof raw, "%s/%s", dir, stem);
        if ((f = fopen(raw, "rb")) != NULL) {
            fclose(f);
            memcpy(path, raw, sizeof raw);
        }
    }
    return gm_idx_read(path, out);
}

int gm_fashion_mnist_load(const char *dir, int train, gm_tensor *images, uint8_t **labels, size_t *n) {
    GM_ASSERT(images != NULL && labels != NULL && n != NULL);
    memset(images, 0, sizeof *images);
    *labels = NULL;
    *n = 0;
    if (!dir) dir = GM_FASHION_MNIST_DIR;
    const char *pre = train ? "train" : "t10k";
    char stem_i[64], stem_l[64];
    snprintf(stem_i, sizeof stem_i, "%s-images-idx3-ubyte", pre);
    snprintf(stem_l, sizeof stem_l, "%s-labels-idx1-ubyte", pre);
    gm_array im, lb;
    memset(&lb, 0, sizeof lb);
    int rc = read_member(dir, stem_i, &im);
    if (rc) return rc;
    rc = read_member(dir, stem_l, &lb);
    if (rc) goto fail;
    if (im.dtype != GM_DTYPE_U8 || im.ndim != 3 || im.shape[1] != 28 || im.shape[2] != 28) {
        rc = gm_set_error(GM_EFORMAT, "%s/%s: expected uint8 N x 28 x 28 images", dir, stem_i);
        goto fail;
    }
    if (lb.dtype != GM_DTYPE_U8 || lb.ndim != 1 || lb.shape[0] != im.shape[0]) {
        rc = gm_set_error(GM_EFORMAT, "%s/%s: expected %lld uint8 labels", dir, stem_l, (long long)im.shape[0]);
        goto fail;
    }
    size_t count = (size_t)im.shape[0];
    const uint8_t *l = lb.data;
    for (size_t i = 0; i < count; i++)
        if (l[i] > 9) {
            rc = gm_set_error(GM_EFORMAT, "%s/%s: label %d of image %zu outside 0..9", dir, stem_l, l[i], i);
            goto fail;
        }
    rc = gm_tensor_alloc(images, 2, (int64_t[]){(int64_t)count, 784});
    if (rc) goto fail;
    const uint8_t *px = im.data;
    for (size_t i = 0; i < count * 784; i++) images->data[i] = (float)px[i] / 255.0f;
    gm_array_free(&im);
    *labels = lb.alloc_; /* gm_malloc'd, data == alloc_ */
    lb.alloc_ = NULL;
    gm_array_free(&lb);
    *n = count;
    return GM_OK;
fail:
    gm_array_free(&im);
    gm_array_free(&lb);
    gm_tensor_free(images);
    return rc;
}
