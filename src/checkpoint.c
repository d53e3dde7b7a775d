/* checkpoint.c — .safetensors checkpoints of a gm_params table + optimiser state + training metadata.
 * A small private safetensors writer/reader (cJSON for the header) lives here so that checkpoints do not
 * depend on the io module; the format follows style §2.12 (8-byte little-endian header length, JSON header
 * padded with spaces to a multiple of 8, contiguous little-endian data, __metadata__ string map).
 * Owns: the file buffer and parsed entries of a gm_checkpoint. Thread safety: per object. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/io.h"
#include "genmix/models.h"

/* ==== RNG state as text ======================================================================== */

void gm_rng_state_format(const gm_rng *r, char *buf, size_t len) {
    uint64_t nb;
    memcpy(&nb, &r->normal, sizeof nb);
    snprintf(buf, len,
             "%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64
             ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%d:%d:%016" PRIx64,
             r->key[0], r->key[1], r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3], r->buf[0], r->buf[1], r->buf[2],
             r->buf[3], r->idx, r->has_normal, nb);
}

int gm_rng_state_parse(gm_rng *r, const char *s) {
    uint64_t v[10], nb;
    int idx, hn, used = 0;
    if (!s || sscanf(s,
                     "%" SCNx64 ":%" SCNx64 ":%" SCNx64 ":%" SCNx64 ":%" SCNx64 ":%" SCNx64 ":%" SCNx64 ":%" SCNx64
                     ":%" SCNx64 ":%" SCNx64 ":%d:%d:%" SCNx64 "%n",
                     &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &idx, &hn, &nb,
                     &used) != 13 ||
        s[used] != '\0' || idx < 0 || idx > 4 || (hn != 0 && hn != 1))
        GM_FAIL(GM_EFORMAT, "malformed RNG state '%.60s'", s ? s : "(null)");
    r->key[0] = v[0], r->key[1] = v[1];
    for (int i = 0; i < 4; i++) r->ctr[i] = v[2 + i], r->buf[i] = v[6 + i];
    r->idx = idx;
    r->has_normal = hn;
    memcpy(&r->normal, &nb, sizeof nb);
    return GM_OK;
}

/* ==== writer =================================================================================== */

typedef struct {
    const char *name;
    const char *prefix;
    int ndim;
    const int64_t *shape;
    const float *data;
    size_t n;
} st_item;

static int add_entry(cJSON *root, const st_item *it, size_t begin) {
    char key[256];
    snprintf(key, sizeof key, "%s%s", it->prefix, it->name);
    cJSON *e = cJSON_CreateObject();
    if (!e) return GM_ENOMEM;
    cJSON_AddItemToObject(root, key, e);
    cJSON_AddStringToObject(e, "dtype", "F32");
    cJSON *sh = cJSON_AddArrayToObject(e, "shape");
    for (int d = 0; d < it->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)it->shape[d]));
    cJSON *off = cJSON_AddArrayToObject(e, "data_offsets");
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(begin + it->n * 4)));
    return GM_OK;
}

int gm_checkpoint_save(const char *path, const gm_params *p, const gm_optim *opt, const gm_checkpoint_meta *meta) {
    size_t nitems = p->count * (opt ? (opt->v ? 3 : 2) : 1);
    st_item *items = gm_calloc(nitems ? nitems : 1, sizeof *items);
    cJSON *root = cJSON_CreateObject();
    char *hdr = NULL;
    int rc = GM_ENOMEM;
    if (!items || !root) goto fail;
    if (opt && opt->n != p->total) {
        rc = gm_set_error(GM_EINVAL, "%s: optimiser state does not match the parameter table", path);
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->count; i++) {
        const gm_param_info *in = &p->info[i];
        items[k++] = (st_item){in->name, "", in->ndim, in->shape, p->val + in->offset, in->n};
        if (opt) {
            items[k++] = (st_item){in->name, "opt.m.", in->ndim, in->shape, opt->m + in->offset, in->n};
            if (opt->v) items[k++] = (st_item){in->name, "opt.v.", in->ndim, in->shape, opt->v + in->offset, in->n};
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        if ((rc = add_entry(root, &items[i], off)) != GM_OK) goto fail;
        off += items[i].n * 4;
    }
    cJSON *md = cJSON_AddObjectToObject(root, "__metadata__");
    char num[64], rngs[256];
    cJSON_AddStringToObject(md, "format", "genmix");
    cJSON_AddStringToObject(md, "genmix_version", gm_version());
    if (meta) {
        cJSON_AddStringToObject(md, "model", meta->model ? meta->model : "");
        cJSON_AddStringToObject(md, "config", meta->config ? meta->config : "{}");
        snprintf(num, sizeof num, "%" PRId64, meta->step);
        cJSON_AddStringToObject(md, "step", num);
        snprintf(num, sizeof num, "%" PRId64, meta->epoch);
        cJSON_AddStringToObject(md, "epoch", num);
        snprintf(num, sizeof num, "%" PRIu64, meta->seed);
        cJSON_AddStringToObject(md, "seed", num);
        if (meta->rng) {
            gm_rng_state_format(meta->rng, rngs, sizeof rngs);
            cJSON_AddStringToObject(md, "rng", rngs);
        }
    }
    if (opt) {
        cJSON_AddStringToObject(md, "optimizer", gm_opt_name(opt->cfg.kind));
        snprintf(num, sizeof num, "%" PRId64, opt->step);
        cJSON_AddStringToObject(md, "opt_step", num);
    }
    hdr = cJSON_PrintUnformatted(root);
    if (!hdr) goto fail;
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    gm_atomic_file af;
    if ((rc = gm_atomic_open(&af, path)) != GM_OK) goto fail;
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    int ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(hdr, 1, hl, af.f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', af.f) != EOF;
    for (size_t i = 0; ok && i < k; i++) ok = fwrite(items[i].data, 4, items[i].n, af.f) == items[i].n;
    if (!ok) {
        gm_atomic_abort(&af);
        rc = gm_set_error(GM_EIO, "%s: write failed: %s", path, strerror(errno));
        goto fail;
    }
    rc = gm_atomic_commit(&af);
fail:
    if (hdr) cJSON_free(hdr);
    cJSON_Delete(root);
    gm_free(items);
    return rc;
}

/* ==== reader =================================================================================== */

typedef struct {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[8];
    uint64_t begin, end;
} st_entry;

struct gm_checkpoint {
    char *path;
    unsigned char *buf;
    size_t len;
    const unsigned char *data; /* start of the byte buffer */
    st_entry *e;
    size_t n;
    cJSON *meta;
};

static int cmp_begin(const void *a, const void *b) {
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

void gm_checkpoint_close(gm_checkpoint *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) gm_free(c->e[i].name);
    gm_free(c->e);
    cJSON_Delete(c->meta);
    gm_free(c->buf);
    gm_free(c->path);
    gm_free(c);
}

static int json_u64(const cJSON *x, uint64_t *out) {
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9007199254740992.0 ||
        x->valuedouble != floor(x->valuedouble))
        return -1;
    *out = (uint64_t)x->valuedouble;
    return 0;
}

int gm_checkpoint_open(gm_checkpoint **out, const char *path) {
    *out = NULL;
    gm_checkpoint *c = gm_calloc(1, sizeof *c);
    cJSON *root = NULL;
    st_entry **order = NULL;
    int rc = GM_ENOMEM;
    if (!c) return GM_ENOMEM;
    c->path = gm_strdup(path);
    if (!c->path) goto fail;
    void *buf = NULL;
    if ((rc = gm_read_file(path, &buf, &c->len)) != GM_OK) goto fail;
    c->buf = buf;
#define BAD(...)                                                     \
    do {                                                             \
        rc = gm_set_error(GM_EFORMAT, __VA_ARGS__);                  \
        goto fail;                                                   \
    } while (0)
    if (c->len < 8) BAD("%s: not a safetensors file (%zu bytes)", path, c->len);
    uint64_t N = 0;
    for (int b = 0; b < 8; b++) N |= (uint64_t)c->buf[b] << (8 * b);
    if (N > 100000000ULL || N + 8 > c->len) BAD("%s: header length %" PRIu64 " is past the end of the file", path, N);
    if (N < 2 || c->buf[8] != '{') BAD("%s: the header does not start with '{'", path);
    root = cJSON_ParseWithLength((const char *)c->buf + 8, (size_t)N);
    if (!root || !cJSON_IsObject(root)) BAD("%s: the header is not valid JSON", path);
    size_t cnt = 0;
    for (cJSON *it = root->child; it; it = it->next) cnt++;
    c->e = gm_calloc(cnt ? cnt : 1, sizeof *c->e);
    order = gm_calloc(cnt ? cnt : 1, sizeof *order);
    if (!c->e || !order) {
        rc = GM_ENOMEM;
        goto fail;
    }
    c->data = c->buf + 8 + N;
    size_t data_len = c->len - 8 - (size_t)N;
    for (cJSON *it = root->child; it; it = it->next) {
        for (cJSON *o = root->child; o != it; o = o->next)
            if (!strcmp(o->string, it->string)) BAD("%s: duplicate key '%s' in the header", path, it->string);
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) BAD("%s: __metadata__ is not an object", path);
            for (cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m)) BAD("%s: __metadata__ value '%s' is not a string", path, m->string);
            c->meta = cJSON_Duplicate(it, 1);
            continue;
        }
        st_entry *e = &c->e[c->n];
        e->name = gm_strdup(it->string);
        if (!e->name) {
            rc = GM_ENOMEM;
            goto fail;
        }
        c->n++;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(it, "shape"),
              *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt) || strlen(dt->valuestring) >= sizeof e->dtype || !cJSON_IsArray(sh) ||
            !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || cJSON_GetArraySize(sh) > 8)
            BAD("%s: tensor '%s': malformed header entry", path, e->name);
        strcpy(e->dtype, dt->valuestring);
        size_t esz = !strcmp(e->dtype, "F32") || !strcmp(e->dtype, "I32") || !strcmp(e->dtype, "U32") ? 4
                     : !strcmp(e->dtype, "F64") || !strcmp(e->dtype, "I64") || !strcmp(e->dtype, "U64") ? 8
                     : !strcmp(e->dtype, "F16") || !strcmp(e->dtype, "BF16") || !strcmp(e->dtype, "I16") ||
                             !strcmp(e->dtype, "U16")
                         ? 2
                     : !strcmp(e->dtype, "U8") || !strcmp(e->dtype, "I8") || !strcmp(e->dtype, "BOOL") ? 1
                                                                                                       : 0;
        if (!esz) BAD("%s: tensor '%s': unknown dtype '%s'", path, e->name, e->dtype);
        uint64_t nel = 1, v;
        e->ndim = cJSON_GetArraySize(sh);
        int d = 0;
        for (cJSON *x = sh->child; x; x = x->next, d++) {
            if (json_u64(x, &v)) BAD("%s: tensor '%s': bad shape", path, e->name);
            e->shape[d] = (int64_t)v;
            if (v && nel > UINT64_MAX / v) BAD("%s: tensor '%s': shape overflows", path, e->name);
            nel *= v;
        }
        if (json_u64(of->child, &e->begin) || json_u64(of->child->next, &e->end) || e->end < e->begin)
            BAD("%s: tensor '%s': bad data_offsets", path, e->name);
        if (nel > UINT64_MAX / esz || e->end - e->begin != nel * esz)
            BAD("%s: tensor '%s': data_offsets span %" PRIu64 " bytes, shape needs %" PRIu64, path, e->name,
                e->end - e->begin, nel * esz);
        order[c->n - 1] = e;
    }
    qsort(order, c->n, sizeof *order, cmp_begin);
    uint64_t pos = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (order[i]->begin != pos) BAD("%s: tensor '%s': data is not contiguous (offset %" PRIu64 ", expected %" PRIu64 ")",
                                        path, order[i]->name, order[i]->begin, pos);
        pos = order[i]->end;
    }
    if (pos != data_len) BAD("%s: data is %zu bytes but the header describes %" PRIu64 " (truncated or trailing bytes)",
                             path, data_len, pos);
    const char *fmt = c->meta ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->meta, "format")) : NULL;
    if (!fmt || strcmp(fmt, "genmix")) BAD("%s: not a genmix checkpoint (__metadata__.format != \"genmix\")", path);
#undef BAD
    cJSON_Delete(root);
    gm_free(order);
    *out = c;
    return GM_OK;
fail:
    cJSON_Delete(root);
    gm_free(order);
    gm_checkpoint_close(c);
    return rc;
}

const char *gm_checkpoint_meta_get(const gm_checkpoint *c, const char *key) {
    return c->meta ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->meta, key)) : NULL;
}

static const st_entry *find(const gm_checkpoint *c, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].name, name)) return &c->e[i];
    return NULL;
}

static int copy_tensor(const gm_checkpoint *c, const char *name, const gm_param_info *in, float *dst) {
    const st_entry *e = find(c, name);
    if (!e) GM_FAIL(GM_EFORMAT, "%s: missing tensor '%s'", c->path, name);
    if (strcmp(e->dtype, "F32")) GM_FAIL(GM_EFORMAT, "%s: tensor '%s' is %s, expected F32", c->path, name, e->dtype);
    int same = e->ndim == in->ndim;
    for (int d = 0; same && d < in->ndim; d++) same = e->shape[d] == in->shape[d];
    if (!same) {
        char a[96] = "", b[96] = "";
        size_t ka = 0, kb = 0;
        for (int d = 0; d < e->ndim; d++) ka += (size_t)snprintf(a + ka, sizeof a - ka, d ? ",%" PRId64 : "%" PRId64, e->shape[d]);
        for (int d = 0; d < in->ndim; d++) kb += (size_t)snprintf(b + kb, sizeof b - kb, d ? ",%" PRId64 : "%" PRId64, in->shape[d]);
        GM_FAIL(GM_ESHAPE, "%s: tensor '%s' has shape (%s), the model expects (%s)", c->path, name, a, b);
    }
    const unsigned char *src = c->data + e->begin;
    for (size_t i = 0; i < in->n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                     (uint32_t)src[4 * i + 3] << 24;
        memcpy(dst + i, &u, 4);
    }
    return GM_OK;
}

int gm_checkpoint_load_params(const gm_checkpoint *c, gm_params *p) {
    for (size_t i = 0; i < p->count; i++) {
        int rc = copy_tensor(c, p->info[i].name, &p->info[i], p->val + p->info[i].offset);
        if (rc != GM_OK) return rc;
        const float *v = p->val + p->info[i].offset;
        for (size_t k = 0; k < p->info[i].n; k++)
            if (!isfinite(v[k])) GM_FAIL(GM_ENUMERIC, "%s: tensor '%s' contains NaN/Inf", c->path, p->info[i].name);
    }
    return GM_OK;
}

int gm_checkpoint_load_optim(const gm_checkpoint *c, const gm_params *p, gm_optim *opt) {
    const char *kind = gm_checkpoint_meta_get(c, "optimizer"), *st = gm_checkpoint_meta_get(c, "opt_step");
    if (!kind || !st) GM_FAIL(GM_EFORMAT, "%s: no optimiser state (cannot resume)", c->path);
    if (strcmp(kind, gm_opt_name(opt->cfg.kind)))
        GM_FAIL(GM_EINVAL, "%s: optimiser is '%s', the run uses '%s'", c->path, kind, gm_opt_name(opt->cfg.kind));
    if (opt->n != p->total) GM_FAIL(GM_EINVAL, "%s: optimiser size mismatch", c->path);
    char name[128];
    for (size_t i = 0; i < p->count; i++) {
        snprintf(name, sizeof name, "opt.m.%s", p->info[i].name);
        int rc = copy_tensor(c, name, &p->info[i], opt->m + p->info[i].offset);
        if (rc == GM_OK && opt->v) {
            snprintf(name, sizeof name, "opt.v.%s", p->info[i].name);
            rc = copy_tensor(c, name, &p->info[i], opt->v + p->info[i].offset);
        }
        if (rc != GM_OK) return rc;
    }
    char *end;
    long long s = strtoll(st, &end, 10);
    if (*end || s < 0) GM_FAIL(GM_EFORMAT, "%s: bad opt_step '%s'", c->path, st);
    opt->step = s;
    return GM_OK;
}

int gm_checkpoint_load_rng(const gm_checkpoint *c, gm_rng *rng) {
    const char *s = gm_checkpoint_meta_get(c, "rng");
    if (!s) GM_FAIL(GM_EFORMAT, "%s: no RNG state in __metadata__", c->path);
    int rc = gm_rng_state_parse(rng, s);
    return rc == GM_OK ? rc : gm_error_prefix(rc, c->path);
}
