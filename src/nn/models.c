/* SPDX-License-Identifier: MIT */
/* models.c — parameter tables over flat slabs and the sequential model builder (MLP/CNN from a spec).
 * Owns: gm_params info/slabs, gm_seq layers and spec. Thread safety: per object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/models.h"

/* ==== parameter tables ========================================================================= */

void gm_params_init(gm_params *p) { memset(p, 0, sizeof *p); }

long gm_params_add(gm_params *p, const char *name, int ndim, const int64_t *shape) {
    if (p->val) GM_FAIL(GM_EINVAL, "params: '%s' added after allocation", name);
    if (strlen(name) >= sizeof p->info[0].name) GM_FAIL(GM_EINVAL, "params: name '%s' too long", name);
    if (ndim < 1 || ndim > 4) GM_FAIL(GM_EINVAL, "params: '%s' must have 1..4 dims", name);
    if (gm_params_find(p, name) >= 0) GM_FAIL(GM_EINVAL, "params: duplicate name '%s'", name);
    if (p->count == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        gm_param_info *ni = gm_realloc(p->info, cap * sizeof *ni);
        if (!ni) return GM_ENOMEM;
        p->info = ni;
        p->cap = cap;
    }
    gm_param_info *in = &p->info[p->count];
    memset(in, 0, sizeof *in);
    snprintf(in->name, sizeof in->name, "%s", name);
    in->ndim = ndim;
    in->n = 1;
    for (int i = 0; i < 4; i++) {
        in->shape[i] = i < ndim ? shape[i] : 1;
        if (i < ndim) {
            if (shape[i] <= 0) GM_FAIL(GM_EINVAL, "params: '%s' has a non-positive dim", name);
            in->n *= (size_t)shape[i];
        }
    }
    in->offset = p->total;
    /* keep each tensor 16-float (64-byte) aligned inside the slab */
    p->total += (in->n + 15) & ~(size_t)15;
    return (long)p->count++;
}

int gm_params_alloc(gm_params *p) {
    p->val = gm_calloc(p->total ? p->total : 1, sizeof(float));
    p->grad = gm_calloc(p->total ? p->total : 1, sizeof(float));
    if (!p->val || !p->grad) {
        gm_free(p->val);
        gm_free(p->grad);
        p->val = p->grad = NULL;
        return GM_ENOMEM;
    }
    return GM_OK;
}

void gm_params_free(gm_params *p) {
    if (!p) return;
    gm_free(p->info);
    gm_free(p->val);
    gm_free(p->grad);
    memset(p, 0, sizeof *p);
}

long gm_params_find(const gm_params *p, const char *name) {
    for (size_t i = 0; i < p->count; i++)
        if (!strcmp(p->info[i].name, name)) return (long)i;
    return -1;
}

void gm_params_zero_grad(gm_params *p) { memset(p->grad, 0, p->total * sizeof(float)); }

gm_var *gm_params_var(gm_params *p, gm_tape *t, size_t i, int frozen) {
    GM_ASSERT(i < p->count && p->val);
    const gm_param_info *in = &p->info[i];
    return gm_tape_param(t, p->val + in->offset, frozen ? NULL : p->grad + in->offset, in->ndim, in->shape);
}

void gm_params_uniform(gm_params *p, size_t i, double bound, gm_rng *rng) {
    float *x = p->val + p->info[i].offset;
    for (size_t k = 0; k < p->info[i].n; k++) x[k] = (float)((2.0 * gm_rng_uniform(rng) - 1.0) * bound);
}

/* ==== sequential models ======================================================================== */

static size_t numel(int nd, const int64_t *s) {
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)s[i];
    return n;
}

/* parse "name:a:b:c" into fields; returns the number of numeric fields */
static int split_fields(char *tok, char **name, double *v, int maxv) {
    *name = tok;
    int n = 0;
    char *p = strchr(tok, ':');
    while (p && n < maxv) {
        *p++ = '\0';
        char *end;
        if (!strcmp(p, "nobias") || !strncmp(p, "nobias:", 7)) {
            v[n++] = -1e300; /* marker */
        } else {
            v[n++] = strtod(p, &end);
            if (end == p || (*end && *end != ':')) return -1;
        }
        p = strchr(p, ':');
    }
    return p ? -1 : n;
}

static int bad_layer(size_t i, const char *tok, const char *why) {
    GM_FAIL(GM_EINVAL, "model spec: layer %zu '%s': %s", i, tok, why);
}

int gm_seq_create(gm_seq **out, const char *spec, int in_ndim, const int64_t *in_shape) {
    *out = NULL;
    if (!spec || in_ndim < 1 || in_ndim > 3) GM_FAIL(GM_EINVAL, "model: input must have 1..3 dims per sample");
    gm_seq *s = gm_calloc(1, sizeof *s);
    char *buf = NULL;
    int rc = GM_ENOMEM;
    if (!s) return GM_ENOMEM;
    gm_params_init(&s->params);
    s->in_ndim = in_ndim;
    for (int i = 0; i < 4; i++) s->in_shape[i] = i < in_ndim ? in_shape[i] : 1;
    s->spec = gm_strdup(spec);
    buf = gm_strdup(spec);
    size_t ntok = 1;
    for (const char *c = spec; *c; c++) ntok += *c == ',';
    s->layers = gm_calloc(ntok, sizeof *s->layers);
    if (!s->spec || !buf || !s->layers) goto fail;

    int nd = in_ndim;
    int64_t sh[4];
    memcpy(sh, s->in_shape, sizeof sh);
    char *save = NULL;
    size_t li = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), li++) {
        char orig[64];
        snprintf(orig, sizeof orig, "%s", tok);
        char *name;
        double v[4] = {0, 0, 0, 0};
        int nv = split_fields(tok, &name, v, 4);
        gm_layer *L = &s->layers[li];
        memset(L, 0, sizeof *L);
        L->w = L->bias = -1;
        L->in_ndim = nd;
        memcpy(L->in_shape, sh, sizeof sh);
        char pname[64];
        rc = GM_EINVAL;
        if (nv < 0) {
            rc = bad_layer(li, orig, "malformed numbers");
            goto fail;
        }
        for (int k = 0; k < nv; k++)
            if (v[k] != -1e300 && (v[k] < 0 || v[k] > 1e7)) {
                rc = bad_layer(li, orig, "number out of range");
                goto fail;
            }
        if (!strcmp(name, "linear")) {
            if (nv < 1 || v[0] < 1) { rc = bad_layer(li, orig, "needs linear:OUT"); goto fail; }
            L->kind = GM_LAYER_LINEAR;
            L->a = (int)v[0];
            int64_t ws[2] = {L->a, (int64_t)numel(nd, sh)};
            snprintf(pname, sizeof pname, "%zu.weight", li);
            if ((L->w = gm_params_add(&s->params, pname, 2, ws)) < 0) { rc = (int)L->w; goto fail; }
            if (!(nv >= 2 && v[1] == -1e300)) {
                snprintf(pname, sizeof pname, "%zu.bias", li);
                if ((L->bias = gm_params_add(&s->params, pname, 1, ws)) < 0) { rc = (int)L->bias; goto fail; }
            }
            nd = 1, sh[0] = L->a, sh[1] = sh[2] = sh[3] = 1;
        } else if (!strcmp(name, "conv") || !strcmp(name, "convT")) {
            int tr = name[4] == 'T';
            if (nv < 2 || v[0] < 1 || v[1] < 1) { rc = bad_layer(li, orig, "needs conv:OC:K[:S[:P]]"); goto fail; }
            if (nd != 3) { rc = GM_ESHAPE; bad_layer(li, orig, "needs a (C,H,W) input"); goto fail; }
            L->kind = tr ? GM_LAYER_CONVT : GM_LAYER_CONV;
            L->a = (int)v[0], L->b = (int)v[1], L->c = nv > 2 ? (int)v[2] : 1, L->d = nv > 3 ? (int)v[3] : 0;
            if (L->c < 1) { rc = bad_layer(li, orig, "stride must be >= 1"); goto fail; }
            gm_conv_dims d = {1, (size_t)sh[0], (size_t)sh[1], (size_t)sh[2], (size_t)L->a, (size_t)L->b,
                              (size_t)L->c, (size_t)L->d, 0, 0};
            if ((tr ? gm_conv_transpose2d_dims(&d) : gm_conv2d_dims(&d)) != GM_OK) {
                char why[200];
                snprintf(why, sizeof why, "%s", gm_last_error());
                rc = GM_ESHAPE;
                bad_layer(li, orig, why);
                goto fail;
            }
            int64_t ws[4] = {tr ? sh[0] : L->a, tr ? L->a : sh[0], L->b, L->b}, bs[1] = {L->a};
            snprintf(pname, sizeof pname, "%zu.weight", li);
            if ((L->w = gm_params_add(&s->params, pname, 4, ws)) < 0) { rc = (int)L->w; goto fail; }
            snprintf(pname, sizeof pname, "%zu.bias", li);
            if ((L->bias = gm_params_add(&s->params, pname, 1, bs)) < 0) { rc = (int)L->bias; goto fail; }
            sh[0] = L->a, sh[1] = (int64_t)d.OH, sh[2] = (int64_t)d.OW;
        } else if (!strcmp(name, "maxpool") || !strcmp(name, "avgpool")) {
            if (nv < 1 || v[0] < 1) { rc = bad_layer(li, orig, "needs pool:K[:S]"); goto fail; }
            L->kind = name[0] == 'm' ? GM_LAYER_MAXPOOL : GM_LAYER_AVGPOOL;
            L->a = (int)v[0], L->b = nv > 1 ? (int)v[1] : L->a;
            if (nd != 3 || sh[1] < L->a || sh[2] < L->a || L->b < 1) {
                rc = GM_ESHAPE;
                bad_layer(li, orig, "needs a (C,H,W) input at least as large as the window");
                goto fail;
            }
            sh[1] = (sh[1] - L->a) / L->b + 1, sh[2] = (sh[2] - L->a) / L->b + 1;
        } else if (!strcmp(name, "upsample")) {
            if (nv < 1 || v[0] < 1 || nd != 3) { rc = bad_layer(li, orig, "needs upsample:F on (C,H,W)"); goto fail; }
            L->kind = GM_LAYER_UPSAMPLE;
            L->a = (int)v[0];
            sh[1] *= L->a, sh[2] *= L->a;
        } else if (!strcmp(name, "flatten")) {
            L->kind = GM_LAYER_FLATTEN;
            sh[0] = (int64_t)numel(nd, sh), sh[1] = sh[2] = sh[3] = 1, nd = 1;
        } else if (!strcmp(name, "dropout")) {
            if (nv < 1 || v[0] >= 1) { rc = bad_layer(li, orig, "needs dropout:P with P < 1"); goto fail; }
            L->kind = GM_LAYER_DROPOUT;
            L->f = (float)v[0];
        } else if (!strcmp(name, "layernorm")) {
            L->kind = GM_LAYER_LAYERNORM;
            int64_t gs[1] = {sh[nd - 1]};
            snprintf(pname, sizeof pname, "%zu.weight", li);
            if ((L->w = gm_params_add(&s->params, pname, 1, gs)) < 0) { rc = (int)L->w; goto fail; }
            snprintf(pname, sizeof pname, "%zu.bias", li);
            if ((L->bias = gm_params_add(&s->params, pname, 1, gs)) < 0) { rc = (int)L->bias; goto fail; }
        } else if (!strcmp(name, "groupnorm")) {
            if (nv < 1 || v[0] < 1 || nd != 3 || sh[0] % (int64_t)v[0]) {
                rc = bad_layer(li, orig, "needs groupnorm:G dividing the channels of a (C,H,W) input");
                goto fail;
            }
            L->kind = GM_LAYER_GROUPNORM;
            L->a = (int)v[0];
            int64_t gs[1] = {sh[0]};
            snprintf(pname, sizeof pname, "%zu.weight", li);
            if ((L->w = gm_params_add(&s->params, pname, 1, gs)) < 0) { rc = (int)L->w; goto fail; }
            snprintf(pname, sizeof pname, "%zu.bias", li);
            if ((L->bias = gm_params_add(&s->params, pname, 1, gs)) < 0) { rc = (int)L->bias; goto fail; }
        } else {
            int a = gm_act_from_name(name);
            if (a < 0) { rc = bad_layer(li, orig, "unknown layer"); goto fail; }
            L->kind = GM_LAYER_ACT;
            L->a = a;
            L->f = a == GM_ACT_LEAKY_RELU ? (nv > 0 ? (float)v[0] : 0.01f) : 0.0f;
        }
        L->out_ndim = nd;
        memcpy(L->out_shape, sh, sizeof sh);
    }
    s->n_layers = li;
    if (li == 0) { rc = GM_EINVAL; gm_set_error(rc, "model spec is empty"); goto fail; }
    if ((rc = gm_params_alloc(&s->params)) != GM_OK) goto fail;
    /* norm layers start at identity */
    for (size_t i = 0; i < s->n_layers; i++)
        if (s->layers[i].kind == GM_LAYER_LAYERNORM || s->layers[i].kind == GM_LAYER_GROUPNORM) {
            const gm_param_info *w = &s->params.info[s->layers[i].w];
            for (size_t k = 0; k < w->n; k++) s->params.val[w->offset + k] = 1.0f;
        }
    gm_free(buf);
    *out = s;
    return GM_OK;
fail:
    gm_free(buf);
    gm_seq_free(s);
    return rc;
}

void gm_seq_free(gm_seq *s) {
    if (!s) return;
    gm_params_free(&s->params);
    gm_free(s->layers);
    gm_free(s->spec);
    gm_free(s);
}

void gm_seq_init(gm_seq *s, uint64_t seed) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_INIT, 0));
    for (size_t i = 0; i < s->n_layers; i++) {
        gm_layer *L = &s->layers[i];
        if (L->kind != GM_LAYER_LINEAR && L->kind != GM_LAYER_CONV && L->kind != GM_LAYER_CONVT) continue;
        const gm_param_info *w = &s->params.info[L->w];
        /* PyTorch: fan_in = size(1) * receptive field (for ConvTranspose, size(1) is OC) */
        size_t fan_in = (size_t)w->shape[1] * (w->ndim == 4 ? (size_t)(w->shape[2] * w->shape[3]) : 1);
        double bound = 1.0 / sqrt((double)fan_in);
        gm_params_uniform(&s->params, (size_t)L->w, bound, &r);
        if (L->bias >= 0) gm_params_uniform(&s->params, (size_t)L->bias, bound, &r);
    }
}

static gm_var *seq_forward(gm_seq *s, gm_tape *t, gm_var *x, long n_layers, int train, gm_rng *rng, int frozen) {
    if (!x) return NULL;
    if (n_layers < 0 || (size_t)n_layers > s->n_layers) n_layers = (long)s->n_layers;
    size_t per = numel(s->in_ndim, s->in_shape);
    if (x->shape[0] < 1 || x->n != (size_t)x->shape[0] * per) {
        gm_set_error(GM_ESHAPE, "model: input has %zu values, not a multiple of the %zu per sample", x->n, per);
        return gm_tape_fail(t, GM_ESHAPE, NULL);
    }
    int64_t B = x->shape[0];
    gm_var *h = x;
    if (x->ndim != s->in_ndim + 1) {
        int64_t sh[4] = {B, s->in_shape[0], s->in_shape[1], s->in_shape[2]};
        h = gm_op_reshape(t, x, s->in_ndim + 1, sh);
    }
    for (long i = 0; i < n_layers && h; i++) {
        gm_layer *L = &s->layers[i];
        gm_var *w = L->w >= 0 ? gm_params_var(&s->params, t, (size_t)L->w, frozen) : NULL;
        gm_var *b = L->bias >= 0 ? gm_params_var(&s->params, t, (size_t)L->bias, frozen) : NULL;
        switch (L->kind) {
        case GM_LAYER_LINEAR: h = gm_op_linear(t, h, w, b); break;
        case GM_LAYER_CONV:
            if (i + 2 < n_layers && L[1].kind == GM_LAYER_ACT && L[1].a == GM_ACT_RELU &&
                L[2].kind == GM_LAYER_MAXPOOL && L[2].a == 2 && L[2].b == 2) {
                /* conv -> relu -> maxpool:2 runs as one fused node (same values, far less memory traffic) */
                h = gm_op_conv_relu_pool(t, h, w, b, L->c, L->d);
                i += 2;
            } else
                h = gm_op_conv2d(t, h, w, b, L->c, L->d);
            break;
        case GM_LAYER_CONVT: h = gm_op_conv_transpose2d(t, h, w, b, L->c, L->d); break;
        case GM_LAYER_MAXPOOL: h = gm_op_maxpool2d(t, h, L->a, L->b); break;
        case GM_LAYER_AVGPOOL: h = gm_op_avgpool2d(t, h, L->a, L->b); break;
        case GM_LAYER_UPSAMPLE: h = gm_op_upsample(t, h, L->a); break;
        case GM_LAYER_FLATTEN: {
            int64_t sh[2] = {B, (int64_t)(h->n / (size_t)B)};
            h = gm_op_reshape(t, h, 2, sh);
            break;
        }
        case GM_LAYER_DROPOUT: h = train ? gm_op_dropout(t, h, L->f, rng) : h; break;
        case GM_LAYER_LAYERNORM: h = gm_op_layernorm(t, h, w, b, 1e-5f); break;
        case GM_LAYER_GROUPNORM: h = gm_op_groupnorm(t, h, L->a, w, b, 1e-5f); break;
        case GM_LAYER_ACT: h = gm_op_act(t, h, (gm_act)L->a, L->f); break;
        }
    }
    return h;
}

gm_var *gm_seq_forward(gm_seq *s, gm_tape *t, gm_var *x, long n_layers, int train, gm_rng *rng) {
    return seq_forward(s, t, x, n_layers, train, rng, 0);
}
gm_var *gm_seq_forward_frozen(gm_seq *s, gm_tape *t, gm_var *x, long n_layers, int train, gm_rng *rng) {
    return seq_forward(s, t, x, n_layers, train, rng, 1);
}

size_t gm_seq_out_size(const gm_seq *s, long n_layers) {
    if (n_layers < 0 || (size_t)n_layers > s->n_layers) n_layers = (long)s->n_layers;
    if (n_layers == 0) return numel(s->in_ndim, s->in_shape);
    const gm_layer *L = &s->layers[n_layers - 1];
    return numel(L->out_ndim, L->out_shape);
}

const char *gm_mlp_spec(char *buf, size_t len, const int *hidden, int n_hidden, int out, gm_act act) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n_hidden && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "linear:%d,%s,", hidden[i], gm_act_name(act));
    if (k < len) snprintf(buf + k, len - k, "linear:%d", out);
    return buf;
}
