/* SPDX-License-Identifier: MIT */
/* moe_io.c — a fitted mixture of experts on disk: gm_moe_save writes the model with its column names
 * (features, target, class values) and an optional fit summary as JSON ("format": "genmix-moe") or as
 * .safetensors (F64 tensors gate/experts/class_values, names and summary in __metadata__); gm_moe_load
 * and gm_moe_load_mem read either, telling the formats apart by content (a .safetensors file starts
 * with a little-endian 8-byte header length, whose high bytes are 0; JSON text never holds a 0 byte),
 * not by file name. Owns the file layout of moe models (the layout string written into each file).
 * Thread safety: reentrant (cJSON's allocator hooks are process-global, set by the io module). */
#include "genmix/moe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "genmix/io.h"

const char *gm_moe_gate_name(gm_moe_gate g) {
    return g == GM_MOE_GATE_SIGMOID ? "sigmoid" : g == GM_MOE_GATE_TANH ? "tanh" : "identity";
}

int gm_moe_gate_parse(const char *s, gm_moe_gate *g) {
    GM_ASSERT(s != NULL && g != NULL);
    if (!strcmp(s, "identity") || !strcmp(s, "standard")) *g = GM_MOE_GATE_IDENTITY;
    else if (!strcmp(s, "sigmoid") || !strcmp(s, "modified")) *g = GM_MOE_GATE_SIGMOID;
    else if (!strcmp(s, "tanh")) *g = GM_MOE_GATE_TANH;
    else return -1;
    return 0;
}

void gm_moe_meta_free(gm_moe_meta *meta) {
    if (!meta) return;
    if (meta->features)
        for (size_t j = 0; j < meta->n_features; j++) gm_free(meta->features[j]);
    gm_free(meta->features);
    gm_free(meta->class_values);
    gm_free(meta->target);
    memset(meta, 0, sizeof *meta);
}

/* ---- writing --------------------------------------------------------------------------------- */

/* cJSON reports an allocation failure only through NULL returns (its Add* calls then drop the item), so
 * every builder below folds them into *ok and the caller discards a tree built with ok == 0. */
static cJSON *num_array(const double *v, size_t n, int *ok) {
    cJSON *a = cJSON_CreateArray();
    if (!a) *ok = 0;
    for (size_t i = 0; i < n && a; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) *ok = 0;
    return a;
}

static cJSON *str_array(char *const *v, size_t n, int *ok) {
    cJSON *a = cJSON_CreateArray();
    if (!a) *ok = 0;
    for (size_t i = 0; i < n && a; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) *ok = 0;
    return a;
}

static void add_item(cJSON *o, const char *key, cJSON *item, int *ok) {
    if (!item || !cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        *ok = 0;
    }
}

static int json_write(const char *path, const cJSON *root) {
    char *txt = cJSON_Print(root);
    if (!txt) GM_FAIL(GM_ENOMEM, "out of memory printing JSON");
    size_t n = strlen(txt);
    char *buf = gm_malloc(n + 2);
    if (!buf) {
        cJSON_free(txt);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    memcpy(buf, txt, n);
    buf[n] = '\n';
    cJSON_free(txt);
    int rc = gm_write_file_atomic(path, buf, n + 1);
    gm_free(buf);
    return rc;
}

static cJSON *model_to_json(const gm_moe *m, const gm_moe_meta *meta, const gm_moe_fit_result *res, uint64_t seed) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    int ok = 1;
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    add_item(root, "format", cJSON_CreateString("genmix-moe"), &ok);
    add_item(root, "genmix_version", cJSON_CreateString(gm_version()), &ok);
    add_item(root, "n_experts", cJSON_CreateNumber((double)k), &ok);
    add_item(root, "n_classes", cJSON_CreateNumber((double)S), &ok);
    add_item(root, "dim", cJSON_CreateNumber((double)d), &ok);
    add_item(root, "gate_transform", cJSON_CreateString(gm_moe_gate_name(m->gate)), &ok);
    add_item(root, "features", str_array(meta->features, d, &ok), &ok);
    add_item(root, "target", cJSON_CreateString(meta->target ? meta->target : ""), &ok);
    add_item(root, "class_values", num_array(meta->class_values, S, &ok), &ok);
    cJSON *W = cJSON_CreateArray();
    for (size_t j = 0; j < p && W; j++)
        if (!cJSON_AddItemToArray(W, num_array(m->W + j * k, k, &ok))) ok = 0;
    add_item(root, "gate", W, &ok);
    cJSON *E = cJSON_CreateArray();
    for (size_t i = 0; i < k && E; i++) {
        cJSON *e = cJSON_CreateArray();
        for (size_t j = 0; j < p && e; j++)
            if (!cJSON_AddItemToArray(e, num_array(m->V + (i * p + j) * S, S, &ok))) ok = 0;
        if (!cJSON_AddItemToArray(E, e)) {
            cJSON_Delete(e);
            ok = 0;
        }
    }
    add_item(root, "experts", E, &ok);
    add_item(root, "layout",
             cJSON_CreateString("gate[j][i]: row j (0 = intercept, then features), expert i (last = reference 0); "
                                "experts[i][j][s]: expert i, row j, class s (last = reference 0)"),
             &ok);
    if (res) {
        add_item(root, "loglik", cJSON_CreateNumber(res->loglik), &ok);
        add_item(root, "df", cJSON_CreateNumber((double)res->df), &ok);
        add_item(root, "n", cJSON_CreateNumber((double)res->n), &ok);
        add_item(root, "aic", cJSON_CreateNumber(res->aic), &ok);
        add_item(root, "bic", cJSON_CreateNumber(res->bic), &ok);
        add_item(root, "icl", cJSON_CreateNumber(res->icl), &ok);
        add_item(root, "grad_norm", cJSON_CreateNumber(res->grad_norm), &ok);
        add_item(root, "iterations", cJSON_CreateNumber((double)res->iterations), &ok);
        add_item(root, "flags", cJSON_CreateNumber(res->flags), &ok);
        add_item(root, "converged", cJSON_CreateBool((res->flags & GM_MOE_CONVERGED) != 0), &ok);
        add_item(root, "degenerate", cJSON_CreateBool((res->flags & GM_MOE_DEGENERATE) != 0), &ok);
        add_item(root, "restart_loglik", num_array(res->restart_loglik, res->n_restarts, &ok), &ok);
        add_item(root, "best_restart", cJSON_CreateNumber((double)res->best_restart), &ok);
    }
    add_item(root, "seed", cJSON_CreateNumber((double)seed), &ok);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int model_to_safetensors(const char *path, const gm_moe *m, const gm_moe_meta *meta,
                                const gm_moe_fit_result *res, uint64_t seed) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    gm_st_writer *w;
    int rc = gm_st_writer_create(&w);
    if (rc) return rc;
    int64_t sg[2] = {(int64_t)p, (int64_t)k}, se[3] = {(int64_t)k, (int64_t)p, (int64_t)S}, sc[1] = {(int64_t)S};
    int ok = 1;
    cJSON *fa = str_array(meta->features, d, &ok);
    char *ftxt = ok ? cJSON_PrintUnformatted(fa) : NULL;
    cJSON_Delete(fa);
    char num[64];
    rc = ftxt ? GM_OK : gm_set_error(GM_ENOMEM, "%s: out of memory", path);
    if (!rc) rc = gm_st_writer_add(w, "gate", GM_DTYPE_F64, 2, sg, m->W);
    if (!rc) rc = gm_st_writer_add(w, "experts", GM_DTYPE_F64, 3, se, m->V);
    if (!rc) rc = gm_st_writer_add(w, "class_values", GM_DTYPE_F64, 1, sc, meta->class_values);
    if (!rc) rc = gm_st_writer_meta(w, "format", "genmix-moe");
    if (!rc) rc = gm_st_writer_meta(w, "genmix_version", gm_version());
    if (!rc) rc = gm_st_writer_meta(w, "gate_transform", gm_moe_gate_name(m->gate));
    if (!rc) rc = gm_st_writer_meta(w, "target", meta->target ? meta->target : "");
    if (!rc) rc = gm_st_writer_meta(w, "features", ftxt);
    if (!rc) rc = gm_st_writer_meta(w, "layout",
                                    "gate[j][i]: row j (0 = intercept), expert i (last = reference 0); "
                                    "experts[i][j][s]: expert i, row j, class s (last = reference 0)");
    if (!rc && res) {
        const char *keys[6] = {"loglik", "aic", "bic", "icl", "grad_norm", "df"};
        double vals[6] = {res->loglik, res->aic, res->bic, res->icl, res->grad_norm, (double)res->df};
        for (int i = 0; i < 6 && !rc; i++) {
            snprintf(num, sizeof num, "%.17g", vals[i]);
            rc = gm_st_writer_meta(w, keys[i], num);
        }
        snprintf(num, sizeof num, "%d", res->flags);
        if (!rc) rc = gm_st_writer_meta(w, "flags", num);
        snprintf(num, sizeof num, "%zu", res->n);
        if (!rc) rc = gm_st_writer_meta(w, "n", num);
    }
    snprintf(num, sizeof num, "%llu", (unsigned long long)seed);
    if (!rc) rc = gm_st_writer_meta(w, "seed", num);
    if (!rc) rc = gm_st_writer_write(w, path);
    gm_st_writer_free(w);
    cJSON_free(ftxt);
    return rc;
}

int gm_moe_save(const char *path, gm_moe_file_format fmt, const gm_moe *m, const gm_moe_meta *meta,
                const gm_moe_fit_result *res, uint64_t seed) {
    GM_ASSERT(path != NULL && m != NULL && meta != NULL);
    GM_ASSERT(meta->n_features == m->dim && meta->n_classes == m->n_classes);
    GM_ASSERT(meta->class_values != NULL && (m->dim == 0 || meta->features != NULL));
    if (fmt == GM_MOE_FILE_SAFETENSORS) return model_to_safetensors(path, m, meta, res, seed);
    cJSON *root = model_to_json(m, meta, res, seed);
    if (!root) GM_FAIL(GM_ENOMEM, "%s: out of memory building JSON", path);
    int rc = json_write(path, root);
    cJSON_Delete(root);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------------- */

static int model_from_json(const void *data, size_t len, const char *path, gm_moe *m, gm_moe_meta *meta) {
    gm_clear_error();
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!root && gm_last_error()[0]) return gm_error_prefix(GM_ENOMEM, path); /* cJSON's gm_malloc failed */
    if (!root) GM_FAIL(GM_EFORMAT, "%s: not valid JSON", path);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(root, "n_experts");
    const cJSON *jS = cJSON_GetObjectItemCaseSensitive(root, "n_classes");
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(root, "dim");
    const cJSON *jg = cJSON_GetObjectItemCaseSensitive(root, "gate_transform");
    const cJSON *jf = cJSON_GetObjectItemCaseSensitive(root, "features");
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(root, "class_values");
    const cJSON *jW = cJSON_GetObjectItemCaseSensitive(root, "gate");
    const cJSON *jE = cJSON_GetObjectItemCaseSensitive(root, "experts");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "target");
    gm_moe_gate gate;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "genmix-moe") || !cJSON_IsNumber(jk) || !cJSON_IsNumber(jS) ||
        !cJSON_IsNumber(jd) || !cJSON_IsString(jg) || gm_moe_gate_parse(jg->valuestring, &gate) || !cJSON_IsArray(jf) ||
        !cJSON_IsArray(jc) || !cJSON_IsArray(jW) || !cJSON_IsArray(jE) || !(jk->valuedouble >= 1) ||
        !(jS->valuedouble >= 2) || !(jd->valuedouble >= 1) || jk->valuedouble > 1e4 || jS->valuedouble > 1e5 ||
        jd->valuedouble > 1e6) {
        cJSON_Delete(root);
        GM_FAIL(GM_EFORMAT, "%s: not a genmix-moe model (missing or bad fields)", path);
    }
    size_t k = (size_t)jk->valuedouble, S = (size_t)jS->valuedouble, d = (size_t)jd->valuedouble, p = d + 1;
    if ((size_t)cJSON_GetArraySize(jf) != d || (size_t)cJSON_GetArraySize(jc) != S ||
        (size_t)cJSON_GetArraySize(jW) != p || (size_t)cJSON_GetArraySize(jE) != k) {
        cJSON_Delete(root);
        GM_FAIL(GM_EFORMAT, "%s: array sizes do not match n_experts/n_classes/dim", path);
    }
    int rc = gm_moe_init(m, k, S, d, gate);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    meta->n_features = d;
    meta->n_classes = S;
    meta->features = gm_calloc(d, sizeof(char *));
    meta->class_values = gm_calloc(S, sizeof(double));
    rc = GM_ENOMEM;
    if (!meta->features || !meta->class_values) goto bad;
    rc = GM_EFORMAT;
    for (size_t j = 0; j < d; j++) {
        const cJSON *s = cJSON_GetArrayItem(jf, (int)j);
        if (!cJSON_IsString(s)) goto bad;
        if (!(meta->features[j] = gm_strdup(s->valuestring))) {
            rc = GM_ENOMEM;
            goto bad;
        }
    }
    for (size_t s = 0; s < S; s++) {
        const cJSON *v = cJSON_GetArrayItem(jc, (int)s);
        if (!cJSON_IsNumber(v)) goto bad;
        meta->class_values[s] = v->valuedouble;
    }
    for (size_t j = 0; j < p; j++) {
        const cJSON *row = cJSON_GetArrayItem(jW, (int)j);
        if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != k) goto bad;
        for (size_t i = 0; i < k; i++) {
            const cJSON *v = cJSON_GetArrayItem(row, (int)i);
            if (!cJSON_IsNumber(v)) goto bad;
            m->W[j * k + i] = v->valuedouble;
        }
    }
    for (size_t i = 0; i < k; i++) {
        const cJSON *e = cJSON_GetArrayItem(jE, (int)i);
        if (!cJSON_IsArray(e) || (size_t)cJSON_GetArraySize(e) != p) goto bad;
        for (size_t j = 0; j < p; j++) {
            const cJSON *row = cJSON_GetArrayItem(e, (int)j);
            if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != S) goto bad;
            for (size_t s = 0; s < S; s++) {
                const cJSON *v = cJSON_GetArrayItem(row, (int)s);
                if (!cJSON_IsNumber(v)) goto bad;
                m->V[(i * p + j) * S + s] = v->valuedouble;
            }
        }
    }
    meta->target = gm_strdup(cJSON_IsString(jt) ? jt->valuestring : "");
    cJSON_Delete(root);
    if (!meta->target) {
        gm_moe_meta_free(meta);
        gm_moe_free(m);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    return GM_OK;
bad:
    cJSON_Delete(root);
    gm_moe_meta_free(meta);
    gm_moe_free(m);
    if (rc == GM_ENOMEM) return gm_error_prefix(GM_ENOMEM, path);
    GM_FAIL(GM_EFORMAT, "%s: malformed model arrays (gate/experts/features/class_values)", path);
}

static int model_from_safetensors(const void *data, size_t len, const char *path, gm_moe *m, gm_moe_meta *meta) {
    gm_safetensors *st;
    int rc = gm_safetensors_parse(&st, data, len, path);
    if (rc) return rc;
    gm_array g = {0}, e = {0}, c = {0};
    cJSON *fa = NULL;
    const char *fmt = gm_safetensors_meta(st, "format"), *gt = gm_safetensors_meta(st, "gate_transform");
    const char *tg = gm_safetensors_meta(st, "target"), *ft = gm_safetensors_meta(st, "features");
    gm_moe_gate gate;
    if (!fmt || strcmp(fmt, "genmix-moe") || !gt || gm_moe_gate_parse(gt, &gate) || !tg || !ft) {
        gm_safetensors_free(st);
        GM_FAIL(GM_EFORMAT, "%s: not a genmix-moe model (missing or bad metadata)", path);
    }
    rc = gm_safetensors_get(st, "gate", &g);
    if (!rc) rc = gm_safetensors_get(st, "experts", &e);
    if (!rc) rc = gm_safetensors_get(st, "class_values", &c);
    if (rc) goto out;
    gm_clear_error();
    fa = cJSON_Parse(ft);
    if (!fa && gm_last_error()[0]) { /* cJSON allocates through gm_malloc, which left the message */
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto out;
    }
    rc = GM_EFORMAT;
    if (g.dtype != GM_DTYPE_F64 || e.dtype != GM_DTYPE_F64 || c.dtype != GM_DTYPE_F64 || g.ndim != 2 || e.ndim != 3 ||
        c.ndim != 1 || !cJSON_IsArray(fa)) {
        gm_set_error(GM_EFORMAT, "%s: tensors gate/experts/class_values must be F64 of ranks 2/3/1", path);
        goto out;
    }
    size_t p = (size_t)g.shape[0], k = (size_t)g.shape[1], S = (size_t)c.shape[0];
    if (p < 2 || k < 1 || S < 2 || (size_t)e.shape[0] != k || (size_t)e.shape[1] != p || (size_t)e.shape[2] != S ||
        (size_t)cJSON_GetArraySize(fa) != p - 1) {
        gm_set_error(GM_EFORMAT, "%s: inconsistent shapes (gate %zu x %zu, experts %lld x %lld x %lld, %zu classes)",
                     path, p, k, (long long)e.shape[0], (long long)e.shape[1], (long long)e.shape[2], S);
        goto out;
    }
    rc = gm_moe_init(m, k, S, p - 1, gate);
    if (rc) goto out;
    memcpy(m->W, g.data, p * k * sizeof(double));
    memcpy(m->V, e.data, k * p * S * sizeof(double));
    for (size_t i = 0; i < p * k; i++)
        if (!isfinite(m->W[i])) rc = GM_EFORMAT;
    for (size_t i = 0; i < k * p * S; i++)
        if (!isfinite(m->V[i])) rc = GM_EFORMAT;
    if (rc) {
        gm_set_error(GM_EFORMAT, "%s: non-finite coefficient", path);
        goto out;
    }
    meta->n_features = p - 1;
    meta->n_classes = S;
    meta->class_values = gm_malloc(S * sizeof(double));
    meta->features = gm_calloc(p - 1, sizeof(char *));
    meta->target = gm_strdup(tg);
    if (!meta->class_values || !meta->features || !meta->target) {
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto out;
    }
    memcpy(meta->class_values, c.data, S * sizeof(double));
    rc = GM_OK;
    for (size_t j = 0; j + 1 < p && !rc; j++) {
        const cJSON *sj = cJSON_GetArrayItem(fa, (int)j);
        if (!cJSON_IsString(sj)) {
            rc = gm_set_error(GM_EFORMAT, "%s: metadata 'features' must be a JSON array of names", path);
        } else if (!(meta->features[j] = gm_strdup(sj->valuestring))) {
            rc = gm_error_prefix(GM_ENOMEM, path);
        }
    }
out:
    cJSON_Delete(fa);
    gm_safetensors_free(st);
    if (rc) {
        gm_moe_meta_free(meta);
        gm_moe_free(m);
    }
    return rc;
}

gm_moe_file_format gm_moe_detect_format(const void *data, size_t len) {
    const unsigned char *b = data;
    /* the header length of a safetensors file is < 2^56 (the reader caps it at 1e8), so its 8th byte is 0;
     * JSON text never contains a 0 byte. A file shorter than 8 bytes can only be JSON. */
    return (len >= 8 && b[7] == 0) ? GM_MOE_FILE_SAFETENSORS : GM_MOE_FILE_JSON;
}

int gm_moe_load_mem(const void *data, size_t len, const char *label, gm_moe *m, gm_moe_meta *meta) {
    GM_ASSERT((data != NULL || len == 0) && m != NULL && meta != NULL);
    if (!label) label = "(memory)";
    memset(m, 0, sizeof *m);
    memset(meta, 0, sizeof *meta);
    if (gm_moe_detect_format(data, len) == GM_MOE_FILE_SAFETENSORS)
        return model_from_safetensors(data, len, label, m, meta);
    return model_from_json(data, len, label, m, meta);
}

int gm_moe_load(const char *path, gm_moe *m, gm_moe_meta *meta) {
    GM_ASSERT(path != NULL && m != NULL && meta != NULL);
    memset(m, 0, sizeof *m);
    memset(meta, 0, sizeof *meta);
    void *data;
    size_t len;
    int rc = gm_read_file(path, &data, &len);
    if (rc) return rc;
    rc = gm_moe_load_mem(data, len, path, m, meta);
    gm_free(data);
    return rc;
}
