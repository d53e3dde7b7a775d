/* SPDX-License-Identifier: MIT */
/* npy.c — NumPy .npy reader (v1/v2/v3, from a file, from memory or memory-mapped) and writer (v1.0,
 * byte-identical to numpy.save of NumPy 1.24 for C-order arrays).
 *
 * Format (numpy/lib/format.py docstring): "\x93NUMPY", major, minor (0), HEADER_LEN (uint16 LE for v1,
 * uint32 LE for v2/v3), then HEADER_LEN bytes of a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and ending in '\n',
 * then the raw data. The reader checks every size against the bytes it actually has.
 * Owns: the gm_array it fills. Thread safety: no shared state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"

#define NPY_MAX_HEADER 10000 /* NumPy's _MAX_HEADER_SIZE */
#define NPY_ALIGN 64

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef struct {
    gm_dtype dtype;
    int swap;    /* data is big-endian: byte-swap after reading */
    int fortran; /* data is in Fortran order: transpose after reading */
    int ndim;
    int64_t shape[GM_ARRAY_MAX_DIMS];
    size_t numel, nbytes;
    size_t data_off; /* prefix + HEADER_LEN */
} npy_hdr;

/* ==== header parsing =========================================================================== */

/* Prefix: magic, version, HEADER_LEN. `avail` bytes are at p. Sets *data_off. */
static int parse_prefix(const uint8_t *p, size_t avail, const char *name, size_t *prefix_len, size_t *data_off) {
    if (avail < 10 || memcmp(p, npy_magic, 6) != 0) {
        if (avail >= 6 && memcmp(p, npy_magic, 6) == 0)
            GM_FAIL(GM_EFORMAT, "%s: truncated .npy prefix (%zu bytes)", name, avail);
        GM_FAIL(GM_EFORMAT, "%s: not a .npy file (bad magic)", name);
    }
    int major = p[6], minor = p[7];
    if (major < 1 || major > 3 || minor != 0)
        GM_FAIL(GM_EFORMAT, "%s: unsupported .npy version %d.%d", name, major, minor);
    size_t hlen;
    if (major == 1) {
        hlen = gm__rd16le(p + 8);
        *prefix_len = 10;
    } else {
        if (avail < 12) GM_FAIL(GM_EFORMAT, "%s: truncated .npy prefix (%zu bytes)", name, avail);
        hlen = gm__rd32le(p + 8);
        *prefix_len = 12;
    }
    if (hlen > NPY_MAX_HEADER)
        GM_FAIL(GM_EFORMAT, "%s: .npy header of %zu bytes exceeds the %d-byte limit", name, hlen, NPY_MAX_HEADER);
    *data_off = *prefix_len + hlen;
    return GM_OK;
}

typedef struct {
    const char *s, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->s < c->end && *c->s == ch) {
        c->s++;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes into out[cap]; returns 0 or -1. */
static int parse_str(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"')) return -1;
    char q = *c->s++;
    size_t n = 0;
    while (c->s < c->end && *c->s != q) {
        if (*c->s == '\\' || *c->s == '\n' || n + 1 >= cap) return -1;
        out[n++] = *c->s++;
    }
    if (c->s >= c->end) return -1;
    c->s++;
    out[n] = 0;
    return 0;
}

static int match_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->s) >= n && memcmp(c->s, w, n) == 0) {
        c->s += n;
        return 1;
    }
    return 0;
}

/* Non-negative decimal integer (optional Python 2 'L' suffix); -1 on overflow or syntax error. */
static int parse_dim(cursor *c, int64_t *v) {
    skip_ws(c);
    if (c->s >= c->end || *c->s < '0' || *c->s > '9') return -1;
    int64_t x = 0;
    while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
        int d = *c->s++ - '0';
        if (x > (INT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    if (c->s < c->end && *c->s == 'L') c->s++;
    *v = x;
    return 0;
}

static int parse_descr(const char *d, const char *name, npy_hdr *h) {
    char order = '=';
    const char *t = d;
    if (*t == '<' || *t == '>' || *t == '|' || *t == '=') order = *t++;
    if (!strcmp(t, "?")) t = "b1";
    static const struct {
        const char *code;
        gm_dtype dt;
    } tab[] = {{"f2", GM_DTYPE_F16}, {"f4", GM_DTYPE_F32}, {"f8", GM_DTYPE_F64}, {"i1", GM_DTYPE_I8},
               {"i2", GM_DTYPE_I16}, {"i4", GM_DTYPE_I32}, {"i8", GM_DTYPE_I64}, {"u1", GM_DTYPE_U8},
               {"u2", GM_DTYPE_U16}, {"u4", GM_DTYPE_U32}, {"u8", GM_DTYPE_U64}, {"b1", GM_DTYPE_BOOL}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(t, tab[i].code)) {
            h->dtype = tab[i].dt;
            h->swap = order == '>' && gm_dtype_size(tab[i].dt) > 1;
            return GM_OK;
        }
    if (t[0] == 'O') GM_FAIL(GM_EFORMAT, "%s: object dtype '%s' refused (the payload is a pickle)", name, d);
    if (t[0] == 'V') GM_FAIL(GM_EFORMAT, "%s: structured/void dtype '%s' not supported", name, d);
    GM_FAIL(GM_EFORMAT, "%s: unsupported dtype '%s'", name, d);
}

/* Parse the dict literal h[0..len) into hdr (dtype, order, shape and sizes). */
static int parse_dict(const char *text, size_t len, const char *name, npy_hdr *h) {
    cursor c = {text, text + len};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!eat(&c, '{')) GM_FAIL(GM_EFORMAT, "%s: .npy header is not a dict literal", name);
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32], descr[64];
        if (parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            GM_FAIL(GM_EFORMAT, "%s: malformed .npy header near offset %td", name, c.s - text);
        if (!strcmp(key, "descr")) {
            if (have_descr) GM_FAIL(GM_EFORMAT, "%s: duplicate key 'descr' in .npy header", name);
            skip_ws(&c);
            if (c.s < c.end && (*c.s == '[' || *c.s == '{'))
                GM_FAIL(GM_EFORMAT, "%s: structured dtype (list/dict descr) not supported", name);
            if (parse_str(&c, descr, sizeof descr)) GM_FAIL(GM_EFORMAT, "%s: malformed 'descr' in .npy header", name);
            int rc = parse_descr(descr, name, h);
            if (rc) return rc;
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran) GM_FAIL(GM_EFORMAT, "%s: duplicate key 'fortran_order' in .npy header", name);
            if (match_word(&c, "True")) h->fortran = 1;
            else if (match_word(&c, "False")) h->fortran = 0;
            else GM_FAIL(GM_EFORMAT, "%s: 'fortran_order' is not True/False", name);
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (have_shape) GM_FAIL(GM_EFORMAT, "%s: duplicate key 'shape' in .npy header", name);
            if (!eat(&c, '(')) GM_FAIL(GM_EFORMAT, "%s: 'shape' is not a tuple", name);
            h->ndim = 0;
            for (;;) {
                if (eat(&c, ')')) break;
                int64_t v;
                if (h->ndim == GM_ARRAY_MAX_DIMS)
                    GM_FAIL(GM_EFORMAT, "%s: more than %d dimensions not supported", name, GM_ARRAY_MAX_DIMS);
                if (parse_dim(&c, &v))
                    GM_FAIL(GM_EFORMAT, "%s: bad dimension in 'shape' (not a non-negative int64)", name);
                h->shape[h->ndim++] = v;
                if (eat(&c, ',')) continue;
                if (eat(&c, ')')) break;
                GM_FAIL(GM_EFORMAT, "%s: malformed 'shape' tuple", name);
            }
            have_shape = 1;
        } else {
            GM_FAIL(GM_EFORMAT, "%s: unexpected key '%s' in .npy header", name, key);
        }
        if (eat(&c, ',')) continue;
        if (eat(&c, '}')) break;
        GM_FAIL(GM_EFORMAT, "%s: malformed .npy header near offset %td", name, c.s - text);
    }
    skip_ws(&c);
    if (c.s != c.end) GM_FAIL(GM_EFORMAT, "%s: trailing characters after the .npy header dict", name);
    if (!have_descr || !have_fortran || !have_shape)
        GM_FAIL(GM_EFORMAT, "%s: .npy header lacks '%s'", name,
                !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    if (gm__shape_nbytes(h->ndim, h->shape, gm_dtype_size(h->dtype), &h->numel, &h->nbytes))
        GM_FAIL(GM_EFORMAT, "%s: shape product overflows", name);
    return GM_OK;
}

/* Parse prefix and header from p[0..avail) (avail must cover the header), check the data size
 * against `total` (the file or member size). */
static int parse_header(const uint8_t *p, size_t avail, size_t total, const char *name, npy_hdr *h) {
    memset(h, 0, sizeof *h);
    size_t prefix, off;
    int rc = parse_prefix(p, avail, name, &prefix, &off);
    if (rc) return rc;
    if (off > avail)
        GM_FAIL(GM_EFORMAT, "%s: .npy header of %zu bytes runs past the end of the data (%zu bytes)", name,
                off - prefix, avail);
    const char *text = (const char *)p + prefix;
    size_t len = off - prefix;
    if (len == 0 || text[len - 1] != '\n') GM_FAIL(GM_EFORMAT, "%s: .npy header does not end with a newline", name);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 0x80 || (text[i] == 0))
            GM_FAIL(GM_EFORMAT, "%s: non-ASCII byte in .npy header", name);
    rc = parse_dict(text, len, name, h);
    if (rc) return rc;
    h->data_off = off;
    size_t have = total - off;
    if (have < h->nbytes)
        GM_FAIL(GM_EFORMAT, "%s: truncated: shape needs %zu data bytes, only %zu present", name, h->nbytes, have);
    if (have > h->nbytes)
        GM_FAIL(GM_EFORMAT, "%s: %zu unexpected bytes after the data (shape needs %zu)", name, have - h->nbytes,
                h->nbytes);
    return GM_OK;
}

/* ==== data fix-up ============================================================================== */

/* Fortran order -> C order: dst[c] = src[f(c)], walking c in C order and updating f incrementally. */
static void fortran_to_c(uint8_t *dst, const uint8_t *src, int ndim, const int64_t *shape, size_t isz,
                         size_t numel) {
    size_t fstride[GM_ARRAY_MAX_DIMS], idx[GM_ARRAY_MAX_DIMS] = {0};
    size_t s = 1;
    for (int k = 0; k < ndim; k++) {
        fstride[k] = s;
        s *= (size_t)shape[k];
    }
    size_t f = 0;
    for (size_t c = 0; c < numel; c++) {
        switch (isz) {
        case 1: dst[c] = src[f]; break;
        case 2: memcpy(dst + 2 * c, src + 2 * f, 2); break;
        case 4: memcpy(dst + 4 * c, src + 4 * f, 4); break;
        default: memcpy(dst + 8 * c, src + 8 * f, 8); break;
        }
        for (int k = ndim - 1; k >= 0; k--) {
            idx[k]++;
            f += fstride[k];
            if (idx[k] < (size_t)shape[k]) break;
            f -= idx[k] * fstride[k];
            idx[k] = 0;
        }
    }
}

static int finish_data(gm_array *a, const npy_hdr *h, const char *name) {
    size_t isz = gm_dtype_size(h->dtype);
    if (h->swap) gm__byteswap(a->data, h->numel, isz);
    int nontrivial = 0;
    for (int k = 0; k < h->ndim; k++) nontrivial += h->shape[k] > 1;
    if (h->fortran && nontrivial > 1) {
        void *dst = gm_malloc(h->nbytes);
        if (!dst) return gm_error_prefix(GM_ENOMEM, name);
        fortran_to_c(dst, a->data, h->ndim, h->shape, isz, h->numel);
        gm_free(a->alloc_);
        a->data = a->alloc_ = dst;
    }
    return GM_OK;
}

/* ==== readers ================================================================================= */

int gm_npy_parse(const void *buf, size_t len, const char *name, gm_array *out) {
    GM_ASSERT(out != NULL && (buf != NULL || len == 0));
    memset(out, 0, sizeof *out);
    name = GM__LABEL(name);
    npy_hdr h;
    int rc = parse_header(buf, len, len, name, &h);
    if (rc) return rc;
    rc = gm__array_alloc(out, h.dtype, h.ndim, h.shape, name);
    if (rc) return rc;
    if (h.nbytes) memcpy(out->data, (const uint8_t *)buf + h.data_off, h.nbytes);
    rc = finish_data(out, &h, name);
    if (rc) gm_array_free(out);
    return rc;
}

/* Open `path` and parse its header. On success *fp is open and positioned after the header. */
static int open_and_parse(const char *path, FILE **fp, size_t *fsize, npy_hdr *h) {
    *fp = NULL;
    struct stat st;
    FILE *f = gm_open_read(path, &st); /* regular files only; a FIFO is refused, not waited on */
    if (!f) return GM_EIO;
    size_t size = (size_t)st.st_size;
    uint8_t hb[12 + NPY_MAX_HEADER];
    size_t want = size < 12 ? size : 12;
    if (fread(hb, 1, want, f) != want) {
        fclose(f);
        GM_FAIL(GM_EIO, "%s: read failed", path);
    }
    size_t prefix, off;
    int rc = parse_prefix(hb, want, path, &prefix, &off);
    if (rc == GM_OK && off > size)
        rc = gm_set_error(GM_EFORMAT, "%s: .npy header of %zu bytes runs past the end of the file (%zu bytes)", path,
                          off - prefix, size);
    if (rc) {
        fclose(f);
        return rc;
    }
    if (off > want && fread(hb + want, 1, off - want, f) != off - want) {
        fclose(f);
        GM_FAIL(GM_EIO, "%s: read failed", path);
    }
    if (off < want && fseek(f, (long)off, SEEK_SET) != 0) {
        fclose(f);
        GM_FAIL(GM_EIO, "%s: seek failed", path);
    }
    rc = parse_header(hb, off, size, path, h);
    if (rc) {
        fclose(f);
        return rc;
    }
    *fp = f;
    *fsize = size;
    return GM_OK;
}

int gm_npy_read(const char *path, gm_array *out) {
    GM_ASSERT(path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    FILE *f;
    size_t size;
    npy_hdr h;
    int rc = open_and_parse(path, &f, &size, &h);
    if (rc) return rc;
    rc = gm__array_alloc(out, h.dtype, h.ndim, h.shape, path);
    if (rc) goto fail;
    if (h.nbytes && fread(out->data, 1, h.nbytes, f) != h.nbytes) {
        rc = gm_set_error(GM_EIO, "%s: read failed (file changed size?)", path);
        goto fail;
    }
    fclose(f);
    f = NULL;
    rc = finish_data(out, &h, path);
    if (rc) goto fail;
    return GM_OK;
fail:
    if (f) fclose(f);
    gm_array_free(out);
    return rc;
}

int gm_npy_mmap(const char *path, gm_array *out) {
    GM_ASSERT(path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    FILE *f;
    size_t size;
    npy_hdr h;
    int rc = open_and_parse(path, &f, &size, &h);
    if (rc) return rc;
    size_t isz = gm_dtype_size(h.dtype);
    if (h.swap || (h.fortran && h.ndim > 1) || h.nbytes == 0 || h.data_off % isz != 0) {
        fclose(f);
        return gm_npy_read(path, out);
    }
    void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    int e = errno;
    fclose(f);
    if (base == MAP_FAILED) GM_FAIL(GM_EIO, "%s: mmap failed: %s", path, strerror(e));
    out->dtype = h.dtype;
    out->ndim = h.ndim;
    for (int i = 0; i < h.ndim; i++) out->shape[i] = h.shape[i];
    out->data = (uint8_t *)base + h.data_off;
    out->nbytes = h.nbytes;
    out->map_ = base;
    out->map_len_ = size;
    return GM_OK;
}

int gm_npy_read_f32(const char *path, gm_tensor *out) {
    gm_array a;
    memset(out, 0, sizeof *out);
    int rc = gm_npy_read(path, &a);
    if (rc) return rc;
    rc = gm_array_to_tensor(&a, out);
    if (rc) {
        gm_error_prefix(rc, path);
        gm_array_free(&a);
    }
    return rc;
}

/* ==== writer ================================================================================== */

static const char *npy_descr(gm_dtype t) {
    switch (t) {
    case GM_DTYPE_BOOL: return "|b1";
    case GM_DTYPE_U8: return "|u1";
    case GM_DTYPE_I8: return "|i1";
    case GM_DTYPE_I16: return "<i2";
    case GM_DTYPE_U16: return "<u2";
    case GM_DTYPE_I32: return "<i4";
    case GM_DTYPE_U32: return "<u4";
    case GM_DTYPE_I64: return "<i8";
    case GM_DTYPE_U64: return "<u8";
    case GM_DTYPE_F16: return "<f2";
    case GM_DTYPE_F32: return "<f4";
    case GM_DTYPE_F64: return "<f8";
    default: return NULL; /* bf16 has no NumPy dtype */
    }
}

/* Build the v1.0 prefix + header exactly as numpy.lib.format._write_array_header (NumPy 1.24):
 * sorted keys, shape repr, 21 - len(repr(shape[0])) spare spaces, then spaces and '\n' so that the
 * data starts at a multiple of 64. `out` needs NPY_HEADER_CAP bytes. Returns the length or -1. */
int gm__npy_header(char *out, size_t cap, gm_dtype dtype, int ndim, const int64_t *shape) {
    const char *descr = npy_descr(dtype);
    if (!descr || ndim < 0 || ndim > GM_ARRAY_MAX_DIMS) return -1;
    char dict[512], shp[256];
    size_t n = 0;
    shp[n++] = '(';
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(shp + n, sizeof shp - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (ndim == 1) shp[n++] = ',';
    shp[n++] = ')';
    shp[n] = 0;
    int m = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shp);
    size_t dl = (size_t)m;
    if (ndim > 0) {
        char first[32];
        int fl = snprintf(first, sizeof first, "%lld", (long long)shape[0]);
        for (int i = fl; i < 21; i++) dict[dl++] = ' ';
    }
    size_t hlen = dl + 1;
    size_t padlen = NPY_ALIGN - ((6 + 2 + 2 + hlen) % NPY_ALIGN);
    size_t total = 10 + hlen + padlen;
    if (total > cap || hlen + padlen > 65535) return -1;
    memcpy(out, npy_magic, 6);
    out[6] = 1;
    out[7] = 0;
    gm__wr16le((uint8_t *)out + 8, (uint16_t)(hlen + padlen));
    memcpy(out + 10, dict, dl);
    memset(out + 10 + dl, ' ', padlen);
    out[total - 1] = '\n';
    return (int)total;
}

int gm_npy_write(const char *path, gm_dtype dtype, int ndim, const int64_t *shape, const void *data) {
    GM_ASSERT(path != NULL);
    if ((int)dtype < 0 || dtype >= GM_DTYPE_COUNT || !npy_descr(dtype))
        GM_FAIL(GM_EINVAL, "%s: dtype %s cannot be written to .npy", path, gm_dtype_name(dtype));
    if (ndim < 0 || ndim > GM_ARRAY_MAX_DIMS) GM_FAIL(GM_EINVAL, "%s: rank %d outside 0..%d", path, ndim, GM_ARRAY_MAX_DIMS);
    size_t nbytes;
    if (gm__shape_nbytes(ndim, shape, gm_dtype_size(dtype), NULL, &nbytes))
        GM_FAIL(GM_EINVAL, "%s: bad shape (negative or overflowing)", path);
    GM_ASSERT(data != NULL || nbytes == 0);
    char hdr[1024];
    int hl = gm__npy_header(hdr, sizeof hdr, dtype, ndim, shape);
    GM_ASSERT(hl > 0);
    gm_atomic_file af;
    int rc = gm_atomic_open(&af, path);
    if (rc) return rc;
    if (fwrite(hdr, 1, (size_t)hl, af.f) != (size_t)hl || (nbytes && fwrite(data, 1, nbytes, af.f) != nbytes)) {
        int e = errno;
        gm_atomic_abort(&af);
        GM_FAIL(GM_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return gm_atomic_commit(&af);
}

int gm_npy_write_f32(const char *path, const gm_tensor *t) {
    GM_ASSERT(t != NULL);
    return gm_npy_write(path, GM_DTYPE_F32, t->ndim, t->shape, t->data);
}
