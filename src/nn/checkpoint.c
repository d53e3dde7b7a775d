/* SPDX-License-Identifier: MIT */
/* checkpoint.c — .safetensors checkpoints of a gm_params table + optimiser state + training metadata.
 * The file format (style §2.12) is handled by the io module (gm_st_writer_* / gm_safetensors_*); this file
 * only maps a parameter table, an optimiser and a gm_checkpoint_meta onto tensor names and __metadata__
 * keys, and adds the checkpoint-level checks (format == "genmix", shapes against the model, finite weights).
 * Owns: the parsed gm_safetensors of a gm_checkpoint. Thread safety: per object.
 *
 * module: nn (src/nn/) owns the neural-network layer: llm.c-style kernels with naive _ref twins (nn.h), the
 * eager tape (tape.h), optimisers (optim.h), parameter tables, sequential models and checkpoints
 * (models.h). It uses core, io and linalg; eval and the methods build on it. */
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

/* "<prefix><name>" into buf; GM_EINVAL if it does not fit. */
static int tensor_key(char *buf, size_t len, const char *prefix, const char *name, const char *path) {
    int k = snprintf(buf, len, "%s%s", prefix, name);
    if (k < 0 || (size_t)k >= len) GM_FAIL(GM_EINVAL, "%s: tensor name '%s%.60s' is too long", path, prefix, name);
    return GM_OK;
}

static int add_f32(gm_st_writer *w, const char *path, const char *prefix, const gm_param_info *in, const float *data) {
    char key[256];
    int rc = tensor_key(key, sizeof key, prefix, in->name, path);
    if (rc == GM_OK) rc = gm_st_writer_add(w, key, GM_DTYPE_F32, in->ndim, in->shape, data);
    return rc == GM_OK || rc == GM_ENOMEM ? rc : gm_error_prefix(rc, path);
}

int gm_checkpoint_save(const char *path, const gm_params *p, const gm_optim *opt, const gm_checkpoint_meta *meta) {
    if (opt && opt->n != p->total)
        GM_FAIL(GM_EINVAL, "%s: optimiser state does not match the parameter table", path);
    gm_st_writer *w = NULL;
    int rc = gm_st_writer_create(&w);
    if (rc != GM_OK) return rc;
    for (size_t i = 0; rc == GM_OK && i < p->count; i++) {
        const gm_param_info *in = &p->info[i];
        rc = add_f32(w, path, "", in, p->val + in->offset);
        if (rc == GM_OK && opt) rc = add_f32(w, path, "opt.m.", in, opt->m + in->offset);
        if (rc == GM_OK && opt && opt->v) rc = add_f32(w, path, "opt.v.", in, opt->v + in->offset);
    }
    char num[64], rngs[256];
#define META(k, v)                                              \
    do {                                                        \
        if (rc == GM_OK) rc = gm_st_writer_meta(w, (k), (v));  \
    } while (0)
    META("format", "genmix");
    META("genmix_version", gm_version());
    if (meta) {
        META("model", meta->model ? meta->model : "");
        META("config", meta->config ? meta->config : "{}");
        snprintf(num, sizeof num, "%" PRId64, meta->step);
        META("step", num);
        snprintf(num, sizeof num, "%" PRId64, meta->epoch);
        META("epoch", num);
        snprintf(num, sizeof num, "%" PRIu64, meta->seed);
        META("seed", num);
        if (meta->rng) {
            gm_rng_state_format(meta->rng, rngs, sizeof rngs);
            META("rng", rngs);
        }
    }
    if (opt) {
        META("optimizer", gm_opt_name(opt->cfg.kind));
        snprintf(num, sizeof num, "%" PRId64, opt->step);
        META("opt_step", num);
    }
#undef META
    if (rc != GM_OK && rc != GM_ENOMEM) rc = gm_error_prefix(rc, path);
    if (rc == GM_OK) rc = gm_st_writer_write(w, path); /* atomic; its errors already name the file */
    gm_st_writer_free(w);
    return rc;
}

/* ==== reader =================================================================================== */

struct gm_checkpoint {
    char *path;
    gm_safetensors *st;
};

void gm_checkpoint_close(gm_checkpoint *c) {
    if (!c) return;
    gm_safetensors_free(c->st);
    gm_free(c->path);
    gm_free(c);
}

int gm_checkpoint_open(gm_checkpoint **out, const char *path) {
    *out = NULL;
    gm_checkpoint *c = gm_calloc(1, sizeof *c);
    if (!c) return GM_ENOMEM;
    c->path = gm_strdup(path);
    if (!c->path) {
        gm_checkpoint_close(c);
        return GM_ENOMEM;
    }
    int rc = gm_safetensors_read(&c->st, path); /* validates header, offsets, sizes; errors name the file */
    if (rc != GM_OK) {
        /* a size mismatch between the header and the data is almost always a cut-off copy: say so */
        if (rc == GM_EFORMAT && strstr(gm_last_error(), "data bytes but the file has")) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", gm_last_error());
            gm_set_error(rc, "%s (truncated or trailing bytes)", msg);
        }
        gm_checkpoint_close(c);
        return rc;
    }
    const char *fmt = gm_safetensors_meta(c->st, "format");
    if (!fmt || strcmp(fmt, "genmix")) {
        gm_checkpoint_close(c);
        GM_FAIL(GM_EFORMAT, "%s: not a genmix checkpoint (__metadata__.format != \"genmix\")", path);
    }
    *out = c;
    return GM_OK;
}

const char *gm_checkpoint_meta_get(const gm_checkpoint *c, const char *key) { return gm_safetensors_meta(c->st, key); }

static void shape_text(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t k = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, d ? ",%" PRId64 : "%" PRId64, shape[d]);
}

static int copy_tensor(const gm_checkpoint *c, const char *name, const gm_param_info *in, float *dst) {
    gm_array v;
    if (gm_safetensors_get(c->st, name, &v) != GM_OK) GM_FAIL(GM_EFORMAT, "%s: missing tensor '%s'", c->path, name);
    if (v.dtype != GM_DTYPE_F32)
        GM_FAIL(GM_EFORMAT, "%s: tensor '%s' is %s, expected F32", c->path, name, gm_dtype_name(v.dtype));
    int same = v.ndim == in->ndim;
    for (int d = 0; same && d < in->ndim; d++) same = v.shape[d] == in->shape[d];
    if (!same) {
        char a[96], b[96];
        shape_text(a, sizeof a, v.ndim, v.shape);
        shape_text(b, sizeof b, in->ndim, in->shape);
        GM_FAIL(GM_ESHAPE, "%s: tensor '%s' has shape (%s), the model expects (%s)", c->path, name, a, b);
    }
    int rc = gm_safetensors_copy_f32(c->st, name, dst, in->n);
    return rc == GM_OK || rc == GM_ENOMEM ? rc : gm_error_prefix(rc, c->path);
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
    char name[256];
    for (size_t i = 0; i < p->count; i++) {
        int rc = tensor_key(name, sizeof name, "opt.m.", p->info[i].name, c->path);
        if (rc == GM_OK) rc = copy_tensor(c, name, &p->info[i], opt->m + p->info[i].offset);
        if (rc == GM_OK && opt->v) {
            rc = tensor_key(name, sizeof name, "opt.v.", p->info[i].name, c->path);
            if (rc == GM_OK) rc = copy_tensor(c, name, &p->info[i], opt->v + p->info[i].offset);
        }
        if (rc != GM_OK) return rc;
    }
    char *end;
    long long s = strtoll(st, &end, 10);
    if (end == st || *end || s < 0) GM_FAIL(GM_EFORMAT, "%s: bad opt_step '%s'", c->path, st);
    opt->step = s;
    return GM_OK;
}

int gm_checkpoint_load_rng(const gm_checkpoint *c, gm_rng *rng) {
    const char *s = gm_checkpoint_meta_get(c, "rng");
    if (!s) GM_FAIL(GM_EFORMAT, "%s: no RNG state in __metadata__", c->path);
    int rc = gm_rng_state_parse(rng, s);
    return rc == GM_OK ? rc : gm_error_prefix(rc, c->path);
}
