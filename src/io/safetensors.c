/* SPDX-License-Identifier: MIT */
/* safetensors.c — .safetensors reader and writer (huggingface/safetensors format).
 *
 * Layout: u64 LE N, N bytes of UTF-8 JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [B, E]},
 * "__metadata__": {"k": "v"}} (space-padded), then the little-endian byte buffer. The reader checks:
 * N <= 100,000,000; first byte '{'; valid UTF-8; JSON parsed by cJSON with nothing but spaces after it;
 * no duplicate keys; known dtypes; shapes of non-negative integers (<= 2^53, the exact range of a JSON
 * number in cJSON); E - B == prod(shape) * size with overflow checks; sorted offsets start at 0 and are
 * contiguous; 8 + N + last E == file size. The writer sorts tensors like the reference (dtype order
 * descending, i.e. by alignment, then by name), writes compact JSON with __metadata__ first (keys sorted),
 * and pads the header with spaces to a multiple of 8.
 * Owns: the header entries and the data buffer of a gm_safetensors; a writer owns its name/metadata copies
 * and borrows tensor data until gm_st_writer_write. Thread safety: per object. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "io_internal.h"

#define ST_MAX_HEADER 100000000ULL
#define ST_MAX_EXACT 9007199254740992.0 /* 2^53 */

typedef struct {
    char *name;
    gm_dtype dtype;
    int ndim;
    int64_t shape[GM_ARRAY_MAX_DIMS];
    size_t begin, end;
} st_entry;

struct gm_safetensors {
    size_t n;
    st_entry *e; /* sorted by name */
    size_t nmeta;
    char **meta_k, **meta_v;
    uint8_t *data; /* the byte buffer (owned) */
    size_t data_len;
};

/* Reference dtype order (safetensors Dtype enum, increasing alignment): the writer sorts by it descending. */
static const struct {
    const char *name;
    gm_dtype dt;
    int rank;
} st_dtypes[] = {{"BOOL", GM_DTYPE_BOOL, 0}, {"U8", GM_DTYPE_U8, 1},    {"I8", GM_DTYPE_I8, 2},
                 {"I16", GM_DTYPE_I16, 5},   {"U16", GM_DTYPE_U16, 6},  {"F16", GM_DTYPE_F16, 7},
                 {"BF16", GM_DTYPE_BF16, 8}, {"I32", GM_DTYPE_I32, 9},  {"U32", GM_DTYPE_U32, 10},
                 {"F32", GM_DTYPE_F32, 11},  {"F64", GM_DTYPE_F64, 12}, {"I64", GM_DTYPE_I64, 13},
                 {"U64", GM_DTYPE_U64, 14}};

static int dtype_rank(gm_dtype t) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].dt == t) return st_dtypes[i].rank;
    return -1;
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* ==== reader ================================================================================== */

void gm_safetensors_free(gm_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) gm_free(st->e[i].name);
    for (size_t i = 0; i < st->nmeta; i++) {
        gm_free(st->meta_k[i]);
        gm_free(st->meta_v[i]);
    }
    gm_free(st->e);
    gm_free(st->meta_k);
    gm_free(st->meta_v);
    gm_free(st->data);
    gm_free(st);
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}
static int cmp_entry_off(const void *a, const void *b) {
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* cJSON allocates through genmix's hooks so that fault injection reaches it. */
static _Thread_local int cjson_oom;
static void *cjson_malloc(size_t n) {
    void *p = gm_malloc(n);
    if (!p) cjson_oom = 1;
    return p;
}
static void cjson_free(void *p) { gm_free(p); }
static void cjson_hooks(void) {
    cJSON_Hooks h = {cjson_malloc, cjson_free};
    cJSON_InitHooks(&h);
}

/* An exact non-negative integer JSON number <= 2^53. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_EXACT || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* Fill one entry from the tensor object `obj` named `name`. */
static int parse_entry(const cJSON *obj, const char *name, const char *label, st_entry *e) {
    if (!cJSON_IsObject(obj)) GM_FAIL(GM_EFORMAT, "%s: entry '%s' is not an object", label, name);
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        const cJSON **slot = !strcmp(c->string, "dtype") ? &dt
                             : !strcmp(c->string, "shape") ? &shape
                             : !strcmp(c->string, "data_offsets") ? &offs
                                                                  : NULL;
        if (!slot) continue; /* unknown fields are ignored, as by the reference reader */
        if (*slot) GM_FAIL(GM_EFORMAT, "%s: duplicate key '%s' in tensor '%s'", label, c->string, name);
        *slot = c;
    }
    if (!dt || !shape || !offs)
        GM_FAIL(GM_EFORMAT, "%s: tensor '%s' lacks '%s'", label, name, !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt)) GM_FAIL(GM_EFORMAT, "%s: tensor '%s': dtype is not a string", label, name);
    int found = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(dt->valuestring, st_dtypes[i].name)) {
            e->dtype = st_dtypes[i].dt;
            found = 1;
        }
    if (!found) GM_FAIL(GM_EFORMAT, "%s: tensor '%s': unsupported dtype '%.32s'", label, name, dt->valuestring);
    if (!cJSON_IsArray(shape)) GM_FAIL(GM_EFORMAT, "%s: tensor '%s': shape is not an array", label, name);
    e->ndim = 0;
    for (const cJSON *c = shape->child; c; c = c->next) {
        uint64_t v;
        if (e->ndim == GM_ARRAY_MAX_DIMS)
            GM_FAIL(GM_EFORMAT, "%s: tensor '%s': more than %d dimensions", label, name, GM_ARRAY_MAX_DIMS);
        if (json_uint(c, &v))
            GM_FAIL(GM_EFORMAT, "%s: tensor '%s': shape entry is not a non-negative integer <= 2^53", label, name);
        e->shape[e->ndim++] = (int64_t)v;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        GM_FAIL(GM_EFORMAT, "%s: tensor '%s': data_offsets is not a pair", label, name);
    uint64_t b, en;
    if (json_uint(offs->child, &b) || json_uint(offs->child->next, &en))
        GM_FAIL(GM_EFORMAT, "%s: tensor '%s': data_offsets are not non-negative integers <= 2^53", label, name);
    if (en < b) GM_FAIL(GM_EFORMAT, "%s: tensor '%s': data_offsets end %llu < begin %llu", label, name,
                        (unsigned long long)en, (unsigned long long)b);
    size_t nbytes;
    if (gm__shape_nbytes(e->ndim, e->shape, gm_dtype_size(e->dtype), NULL, &nbytes))
        GM_FAIL(GM_EFORMAT, "%s: tensor '%s': shape product overflows", label, name);
    if (en - b != nbytes)
        GM_FAIL(GM_EFORMAT, "%s: tensor '%s': data_offsets span %llu bytes but dtype and shape need %zu", label, name,
                (unsigned long long)(en - b), nbytes);
    e->begin = (size_t)b;
    e->end = (size_t)en;
    return GM_OK;
}

/* Parse and validate the JSON header hdr[0..n) for a byte buffer of data_len bytes. */
static int parse_json_header(gm_safetensors *st, const uint8_t *hdr, size_t n, size_t data_len, const char *label) {
    if (n == 0 || hdr[0] != '{') GM_FAIL(GM_EFORMAT, "%s: header does not start with '{'", label);
    if (!utf8_valid(hdr, n)) GM_FAIL(GM_EFORMAT, "%s: header is not valid UTF-8", label);
    for (size_t i = 0; i < n; i++)
        if (hdr[i] == 0) GM_FAIL(GM_EFORMAT, "%s: NUL byte in header", label);
    const char *end = NULL;
    cjson_oom = 0;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)hdr, n, &end, 0);
    if (!root) {
        /* cJSON also fails on allocation failure; its hooks call gm_malloc, which records ENOMEM */
        if (cjson_oom) return gm_error_prefix(GM_ENOMEM, label);
        GM_FAIL(GM_EFORMAT, "%s: header is not valid JSON (near byte %td)", label,
                cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - (const char *)hdr : (ptrdiff_t)0);
    }
    int rc = GM_OK;
    char **keys = NULL;
    st_entry **byoff = NULL;
    for (const char *p = end; p && p < (const char *)hdr + n; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
            rc = gm_set_error(GM_EFORMAT, "%s: unexpected bytes after the JSON header", label);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = gm_set_error(GM_EFORMAT, "%s: header is not a JSON object", label);
        goto done;
    }
    size_t nkeys = 0, ntensors = 0;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) nkeys++;
    keys = gm_calloc(nkeys ? nkeys : 1, sizeof *keys);
    if (!keys) {
        rc = gm_error_prefix(GM_ENOMEM, label);
        goto done;
    }
    nkeys = 0;
    for (const cJSON *c = root->child; c; c = c->next) keys[nkeys++] = c->string;
    qsort(keys, nkeys, sizeof *keys, cmp_str);
    for (size_t i = 1; i < nkeys; i++)
        if (!strcmp(keys[i - 1], keys[i])) {
            rc = gm_set_error(GM_EFORMAT, "%s: duplicate key '%.200s' in header", label, keys[i]);
            goto done;
        }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) meta = c;
        else ntensors++;
    }
    /* __metadata__: a flat string -> string map */
    if (meta) {
        if (!cJSON_IsObject(meta)) {
            rc = gm_set_error(GM_EFORMAT, "%s: __metadata__ is not an object", label);
            goto done;
        }
        size_t nm = 0;
        for (const cJSON *c = meta->child; c; c = c->next) {
            if (!cJSON_IsString(c)) {
                rc = gm_set_error(GM_EFORMAT, "%s: __metadata__ value of '%.200s' is not a string", label, c->string);
                goto done;
            }
            nm++;
        }
        st->meta_k = gm_calloc(nm ? nm : 1, sizeof(char *));
        st->meta_v = gm_calloc(nm ? nm : 1, sizeof(char *));
        if (!st->meta_k || !st->meta_v) {
            rc = gm_error_prefix(GM_ENOMEM, label);
            goto done;
        }
        for (const cJSON *c = meta->child; c; c = c->next) {
            for (size_t i = 0; i < st->nmeta; i++)
                if (!strcmp(st->meta_k[i], c->string)) {
                    rc = gm_set_error(GM_EFORMAT, "%s: duplicate key '%.200s' in __metadata__", label, c->string);
                    goto done;
                }
            char *k = gm_strdup(c->string), *v = gm_strdup(c->valuestring);
            if (!k || !v) {
                gm_free(k);
                gm_free(v);
                rc = gm_error_prefix(GM_ENOMEM, label);
                goto done;
            }
            st->meta_k[st->nmeta] = k;
            st->meta_v[st->nmeta++] = v;
        }
    }
    st->e = gm_calloc(ntensors ? ntensors : 1, sizeof *st->e);
    byoff = gm_calloc(ntensors ? ntensors : 1, sizeof *byoff);
    if (!st->e || !byoff) {
        rc = gm_error_prefix(GM_ENOMEM, label);
        goto done;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        st_entry *e = &st->e[st->n];
        rc = parse_entry(c, c->string, label, e);
        if (rc) goto done;
        e->name = gm_strdup(c->string);
        if (!e->name) {
            rc = gm_error_prefix(GM_ENOMEM, label);
            goto done;
        }
        byoff[st->n] = e;
        st->n++;
    }
    /* offsets: sorted, contiguous from 0, ending exactly at the end of the file */
    qsort(byoff, st->n, sizeof *byoff, cmp_entry_off);
    size_t pos = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (byoff[i]->begin != pos) {
            rc = gm_set_error(GM_EFORMAT, "%s: tensor '%.200s' starts at byte %zu of the data, expected %zu (%s)", label,
                              byoff[i]->name, byoff[i]->begin, pos, byoff[i]->begin < pos ? "overlap" : "hole");
            goto done;
        }
        pos = byoff[i]->end;
    }
    if (pos != data_len) {
        rc = gm_set_error(GM_EFORMAT, "%s: tensors cover %zu data bytes but the file has %zu after the header", label, pos,
                          data_len);
        goto done;
    }
    qsort(st->e, st->n, sizeof *st->e, cmp_entry_name);
done:
    gm_free(keys);
    gm_free(byoff);
    cJSON_Delete(root);
    return rc;
}

/* Shared by read and parse: header bytes hdr[0..n), data obtained by `fill` into st->data. */
static int st_check_prefix(const uint8_t *first8, size_t total, const char *label, size_t *n_out) {
    if (total < 8) GM_FAIL(GM_EFORMAT, "%s: %zu bytes, too short for a safetensors header length", label, total);
    uint64_t n = gm__rd64le(first8);
    if (n > ST_MAX_HEADER)
        GM_FAIL(GM_EFORMAT, "%s: not a safetensors file? its first 8 bytes give a header of %llu bytes, which exceeds the "
                "100000000-byte limit", label, (unsigned long long)n);
    if (n > total - 8)
        GM_FAIL(GM_EFORMAT, "%s: header of %llu bytes runs past the end of the file (%zu bytes)", label,
                (unsigned long long)n, total);
    *n_out = (size_t)n;
    return GM_OK;
}

int gm_safetensors_parse(gm_safetensors **out, const void *buf, size_t len, const char *label) {
    GM_ASSERT(out != NULL && (buf != NULL || len == 0));
    *out = NULL;
    label = GM__LABEL(label);
    const uint8_t *p = buf;
    size_t n;
    int rc = st_check_prefix(p, len, label, &n);
    if (rc) return rc;
    cjson_hooks();
    gm_safetensors *st = gm_calloc(1, sizeof *st);
    if (!st) return gm_error_prefix(GM_ENOMEM, label);
    st->data_len = len - 8 - n;
    rc = parse_json_header(st, p + 8, n, st->data_len, label);
    if (rc) goto fail;
    st->data = gm_malloc(st->data_len ? st->data_len : 1);
    if (!st->data) {
        rc = gm_error_prefix(GM_ENOMEM, label);
        goto fail;
    }
    if (st->data_len) memcpy(st->data, p + 8 + n, st->data_len);
    *out = st;
    return GM_OK;
fail:
    gm_safetensors_free(st);
    return rc;
}

int gm_safetensors_read(gm_safetensors **out, const char *path) {
    GM_ASSERT(out != NULL && path != NULL);
    *out = NULL;
    struct stat sb;
    FILE *f = gm_open_read(path, &sb); /* regular files only; a FIFO is refused, not waited on */
    if (!f) return GM_EIO;
    size_t total = (size_t)sb.st_size, n;
    uint8_t first8[8] = {0};
    uint8_t *hdr = NULL;
    gm_safetensors *st = NULL;
    int rc;
    if (fread(first8, 1, total < 8 ? total : 8, f) != (total < 8 ? total : 8)) {
        rc = gm_set_error(GM_EIO, "%s: read failed", path);
        goto fail;
    }
    rc = st_check_prefix(first8, total, path, &n);
    if (rc) goto fail;
    hdr = gm_malloc(n ? n : 1);
    st = gm_calloc(1, sizeof *st);
    if (!hdr || !st) {
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto fail;
    }
    if (n && fread(hdr, 1, n, f) != n) {
        rc = gm_set_error(GM_EIO, "%s: read failed", path);
        goto fail;
    }
    cjson_hooks();
    st->data_len = total - 8 - n;
    rc = parse_json_header(st, hdr, n, st->data_len, path);
    if (rc) goto fail;
    st->data = gm_malloc(st->data_len ? st->data_len : 1);
    if (!st->data) {
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto fail;
    }
    if (st->data_len && fread(st->data, 1, st->data_len, f) != st->data_len) {
        rc = gm_set_error(GM_EIO, "%s: read failed (file changed size?)", path);
        goto fail;
    }
    fclose(f);
    gm_free(hdr);
    *out = st;
    return GM_OK;
fail:
    fclose(f);
    gm_free(hdr);
    gm_safetensors_free(st);
    return rc;
}

size_t gm_safetensors_count(const gm_safetensors *st) { return st->n; }

const char *gm_safetensors_name(const gm_safetensors *st, size_t i) {
    GM_ASSERT(i < st->n);
    return st->e[i].name;
}

static const st_entry *find_entry(const gm_safetensors *st, const char *name) {
    st_entry key;
    key.name = (char *)name;
    return bsearch(&key, st->e, st->n, sizeof *st->e, cmp_entry_name);
}

int gm_safetensors_get(const gm_safetensors *st, const char *name, gm_array *view) {
    GM_ASSERT(st != NULL && name != NULL && view != NULL);
    memset(view, 0, sizeof *view);
    const st_entry *e = find_entry(st, name);
    if (!e) GM_FAIL(GM_EFORMAT, "missing tensor '%s'", name);
    view->dtype = e->dtype;
    view->ndim = e->ndim;
    for (int i = 0; i < e->ndim; i++) view->shape[i] = e->shape[i];
    view->data = st->data + e->begin;
    view->nbytes = e->end - e->begin;
    return GM_OK;
}

int gm_safetensors_copy_f32(const gm_safetensors *st, const char *name, float *dst, size_t numel) {
    GM_ASSERT(st != NULL && name != NULL && (dst != NULL || numel == 0));
    const st_entry *e = find_entry(st, name);
    if (!e) GM_FAIL(GM_EFORMAT, "missing tensor '%s'", name);
    if (e->dtype != GM_DTYPE_F32)
        GM_FAIL(GM_ESHAPE, "tensor '%s' has dtype %s, expected F32", name, gm_dtype_name(e->dtype));
    size_t have = (e->end - e->begin) / 4;
    if (have != numel) GM_FAIL(GM_ESHAPE, "tensor '%s' has %zu elements, expected %zu", name, have, numel);
    if (numel) memcpy(dst, st->data + e->begin, numel * 4);
    return GM_OK;
}

const char *gm_safetensors_meta(const gm_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta_k[i], key)) return st->meta_v[i];
    return NULL;
}

size_t gm_safetensors_meta_count(const gm_safetensors *st) { return st->nmeta; }

const char *gm_safetensors_meta_key(const gm_safetensors *st, size_t i) {
    GM_ASSERT(i < st->nmeta);
    return st->meta_k[i];
}

/* ==== writer ================================================================================== */

typedef struct {
    char *name;
    gm_dtype dtype;
    int ndim;
    int64_t shape[GM_ARRAY_MAX_DIMS];
    const void *data;
    size_t nbytes;
} w_item;

struct gm_st_writer {
    size_t n, cap;
    w_item *items;
    size_t nmeta, mcap;
    char **mk, **mv;
};

int gm_st_writer_create(gm_st_writer **out) {
    *out = gm_calloc(1, sizeof **out);
    return *out ? GM_OK : GM_ENOMEM;
}

void gm_st_writer_free(gm_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) gm_free(w->items[i].name);
    for (size_t i = 0; i < w->nmeta; i++) {
        gm_free(w->mk[i]);
        gm_free(w->mv[i]);
    }
    gm_free(w->items);
    gm_free(w->mk);
    gm_free(w->mv);
    gm_free(w);
}

int gm_st_writer_add(gm_st_writer *w, const char *name, gm_dtype dtype, int ndim, const int64_t *shape,
                     const void *data) {
    GM_ASSERT(w != NULL && name != NULL);
    if ((int)dtype < 0 || dtype >= GM_DTYPE_COUNT) GM_FAIL(GM_EINVAL, "tensor '%s': bad dtype", name);
    if (!*name || !strcmp(name, "__metadata__") || !utf8_valid((const uint8_t *)name, strlen(name)))
        GM_FAIL(GM_EINVAL, "bad tensor name '%s'", name);
    if (ndim < 0 || ndim > GM_ARRAY_MAX_DIMS) GM_FAIL(GM_EINVAL, "tensor '%s': rank %d outside 0..%d", name, ndim, GM_ARRAY_MAX_DIMS);
    size_t nbytes;
    if (gm__shape_nbytes(ndim, shape, gm_dtype_size(dtype), NULL, &nbytes))
        GM_FAIL(GM_EINVAL, "tensor '%s': negative or overflowing shape", name);
    GM_ASSERT(data != NULL || nbytes == 0);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->items[i].name, name)) GM_FAIL(GM_EINVAL, "duplicate tensor name '%s'", name);
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        w_item *p = gm_realloc(w->items, nc * sizeof *p);
        if (!p) return GM_ENOMEM;
        w->items = p;
        w->cap = nc;
    }
    w_item *it = &w->items[w->n];
    memset(it, 0, sizeof *it);
    it->name = gm_strdup(name);
    if (!it->name) return GM_ENOMEM;
    it->dtype = dtype;
    it->ndim = ndim;
    for (int i = 0; i < ndim; i++) it->shape[i] = shape[i];
    it->data = data;
    it->nbytes = nbytes;
    w->n++;
    return GM_OK;
}

int gm_st_writer_meta(gm_st_writer *w, const char *key, const char *value) {
    GM_ASSERT(w != NULL && key != NULL && value != NULL);
    if (!utf8_valid((const uint8_t *)key, strlen(key)) || !utf8_valid((const uint8_t *)value, strlen(value)))
        GM_FAIL(GM_EINVAL, "metadata '%s' is not valid UTF-8", key);
    for (size_t i = 0; i < w->nmeta; i++)
        if (!strcmp(w->mk[i], key)) { /* replace */
            char *v = gm_strdup(value);
            if (!v) return GM_ENOMEM;
            gm_free(w->mv[i]);
            w->mv[i] = v;
            return GM_OK;
        }
    if (w->nmeta == w->mcap) {
        size_t nc = w->mcap ? 2 * w->mcap : 8;
        char **k = gm_realloc(w->mk, nc * sizeof *k);
        if (!k) return GM_ENOMEM;
        w->mk = k;
        char **v = gm_realloc(w->mv, nc * sizeof *v);
        if (!v) return GM_ENOMEM;
        w->mv = v;
        w->mcap = nc;
    }
    char *k = gm_strdup(key), *v = gm_strdup(value);
    if (!k || !v) {
        gm_free(k);
        gm_free(v);
        return GM_ENOMEM;
    }
    w->mk[w->nmeta] = k;
    w->mv[w->nmeta++] = v;
    return GM_OK;
}

/* Growable byte buffer for the JSON header. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *q = gm_realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* JSON string as serde_json writes it: ", \, and control characters escaped; other bytes verbatim. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        switch (c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_puts(b, esc);
            } else {
                sb_put(b, s, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_item(const void *a, const void *b) {
    const w_item *x = *(w_item *const *)a, *y = *(w_item *const *)b;
    int rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
    if (rx != ry) return ry - rx; /* descending dtype order = descending alignment */
    return strcmp(x->name, y->name);
}

int gm_st_writer_write(gm_st_writer *w, const char *path) {
    GM_ASSERT(w != NULL && path != NULL);
    w_item **order = gm_calloc(w->n ? w->n : 1, sizeof *order);
    size_t *midx = gm_calloc(w->nmeta ? w->nmeta : 1, sizeof *midx);
    sbuf b = {0};
    int rc = GM_OK;
    if (!order || !midx) {
        rc = GM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < w->n; i++) order[i] = &w->items[i];
    qsort(order, w->n, sizeof *order, cmp_item);
    /* metadata keys sorted (insertion sort: few keys) */
    for (size_t i = 0; i < w->nmeta; i++) {
        size_t j = i;
        while (j > 0 && strcmp(w->mk[midx[j - 1]], w->mk[i]) > 0) {
            midx[j] = midx[j - 1];
            j--;
        }
        midx[j] = i;
    }
    sb_puts(&b, "{");
    int first = 1;
    if (w->nmeta) {
        sb_puts(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nmeta; i++) {
            if (i) sb_puts(&b, ",");
            sb_json_str(&b, w->mk[midx[i]]);
            sb_puts(&b, ":");
            sb_json_str(&b, w->mv[midx[i]]);
        }
        sb_puts(&b, "}");
        first = 0;
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const w_item *it = order[i];
        char num[64];
        if (!first) sb_puts(&b, ",");
        first = 0;
        sb_json_str(&b, it->name);
        sb_puts(&b, ":{\"dtype\":\"");
        sb_puts(&b, gm_dtype_name(it->dtype));
        sb_puts(&b, "\",\"shape\":[");
        for (int k = 0; k < it->ndim; k++) {
            snprintf(num, sizeof num, k ? ",%lld" : "%lld", (long long)it->shape[k]);
            sb_puts(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + it->nbytes);
        sb_puts(&b, num);
        if (it->nbytes > SIZE_MAX - off) {
            rc = gm_set_error(GM_EINVAL, "%s: total tensor size overflows", path);
            goto done;
        }
        off += it->nbytes;
    }
    sb_puts(&b, "}");
    while (!b.oom && b.n % 8) sb_puts(&b, " ");
    if (b.oom) {
        rc = GM_ENOMEM;
        goto done;
    }
    uint8_t n8[8];
    gm__wr64le(n8, (uint64_t)b.n);
    gm_atomic_file af;
    rc = gm_atomic_open(&af, path);
    if (rc) goto done;
    int ok = fwrite(n8, 1, 8, af.f) == 8 && fwrite(b.p, 1, b.n, af.f) == b.n;
    for (size_t i = 0; ok && i < w->n; i++)
        if (order[i]->nbytes) ok = fwrite(order[i]->data, 1, order[i]->nbytes, af.f) == order[i]->nbytes;
    if (!ok) {
        int e = errno;
        gm_atomic_abort(&af);
        rc = gm_set_error(GM_EIO, "%s: write failed: %s", path, strerror(e));
        goto done;
    }
    rc = gm_atomic_commit(&af);
done:
    gm_free(order);
    gm_free(midx);
    gm_free(b.p);
    return rc;
}
