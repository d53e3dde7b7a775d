/* cmd_moe.c — `genmix moe fit|predict|simulate`: softmax-gated multinomial-logistic mixture of experts.
 * No numerics here: CSV/JSON in and out, then the library (genmix/moe.h). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/moe.h"
#include "genmix/plot.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ============================================================================================== */
/* CSV (numeric table with a header row)                                                           */
/* ============================================================================================== */

/* gm_csv_read accepts "nan"/"inf" cells; the model cannot use them, so refuse them here, naming the
 * 1-based file line (header = line 1; gm_csv_read allows no blank lines inside the table) and the column. */
static int moe_csv_load(const char *path, gm_csv *out) {
    int rc = gm_csv_read(path, out);
    if (rc) return rc;
    for (size_t r = 0; r < out->nrows; r++)
        for (size_t j = 0; j < out->ncols; j++) {
            double v = out->values[r * out->ncols + j];
            if (!isfinite(v)) {
                gm_set_error(GM_EFORMAT, "%s:%zu: column '%s': '%g' is not a finite number", path, r + 2,
                             out->colnames[j], v);
                gm_csv_free(out);
                return GM_EFORMAT;
            }
        }
    return GM_OK;
}

/* ============================================================================================== */
/* model JSON                                                                                      */
/* ============================================================================================== */

static const char *gate_name(gm_moe_gate g) {
    return g == GM_MOE_GATE_SIGMOID ? "sigmoid" : g == GM_MOE_GATE_TANH ? "tanh" : "identity";
}

static int parse_gate(const char *s, gm_moe_gate *g) {
    if (!strcmp(s, "identity") || !strcmp(s, "standard")) *g = GM_MOE_GATE_IDENTITY;
    else if (!strcmp(s, "sigmoid") || !strcmp(s, "modified")) *g = GM_MOE_GATE_SIGMOID;
    else if (!strcmp(s, "tanh")) *g = GM_MOE_GATE_TANH;
    else return -1;
    return 0;
}

static cJSON *num_array(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static int write_json(const char *path, cJSON *root) {
    char *txt = cJSON_Print(root);
    if (!txt) GM_FAIL(GM_ENOMEM, "out of memory printing JSON");
    size_t n = strlen(txt);
    char *buf = malloc(n + 2);
    if (!buf) {
        cJSON_free(txt);
        GM_FAIL(GM_ENOMEM, "out of memory");
    }
    memcpy(buf, txt, n);
    buf[n] = '\n';
    cJSON_free(txt);
    int rc = gm_write_file_atomic(path, buf, n + 1);
    free(buf);
    return rc;
}

static int model_to_json(const gm_moe *m, char **features, const char *target, const double *class_values,
                         const gm_moe_fit_result *res, unsigned long long seed, cJSON **out) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "genmix-moe");
    cJSON_AddStringToObject(root, "genmix_version", gm_version());
    cJSON_AddNumberToObject(root, "n_experts", (double)k);
    cJSON_AddNumberToObject(root, "n_classes", (double)S);
    cJSON_AddNumberToObject(root, "dim", (double)d);
    cJSON_AddStringToObject(root, "gate_transform", gate_name(m->gate));
    cJSON *fa = cJSON_AddArrayToObject(root, "features");
    for (size_t j = 0; j < d; j++) cJSON_AddItemToArray(fa, cJSON_CreateString(features[j]));
    cJSON_AddStringToObject(root, "target", target);
    cJSON_AddItemToObject(root, "class_values", num_array(class_values, S));
    cJSON *W = cJSON_AddArrayToObject(root, "gate");
    for (size_t j = 0; j < p; j++) cJSON_AddItemToArray(W, num_array(m->W + j * k, k));
    cJSON *E = cJSON_AddArrayToObject(root, "experts");
    for (size_t i = 0; i < k; i++) {
        cJSON *e = cJSON_CreateArray();
        for (size_t j = 0; j < p; j++) cJSON_AddItemToArray(e, num_array(m->V + (i * p + j) * S, S));
        cJSON_AddItemToArray(E, e);
    }
    cJSON_AddStringToObject(root, "layout",
                            "gate[j][i]: row j (0 = intercept, then features), expert i (last = reference 0); "
                            "experts[i][j][s]: expert i, row j, class s (last = reference 0)");
    if (res) {
        cJSON_AddNumberToObject(root, "loglik", res->loglik);
        cJSON_AddNumberToObject(root, "df", (double)res->df);
        cJSON_AddNumberToObject(root, "n", (double)res->n);
        cJSON_AddNumberToObject(root, "aic", res->aic);
        cJSON_AddNumberToObject(root, "bic", res->bic);
        cJSON_AddNumberToObject(root, "icl", res->icl);
        cJSON_AddNumberToObject(root, "grad_norm", res->grad_norm);
        cJSON_AddNumberToObject(root, "iterations", (double)res->iterations);
        cJSON_AddNumberToObject(root, "flags", res->flags);
        cJSON_AddBoolToObject(root, "converged", (res->flags & GM_MOE_CONVERGED) != 0);
        cJSON_AddBoolToObject(root, "degenerate", (res->flags & GM_MOE_DEGENERATE) != 0);
        cJSON_AddItemToObject(root, "restart_loglik", num_array(res->restart_loglik, res->n_restarts));
        cJSON_AddNumberToObject(root, "best_restart", (double)res->best_restart);
    }
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    *out = root;
    return GM_OK;
}

/* Parse a model written by model_to_json. features/class_values are malloc'd (free with free_strings / free). */
static int model_from_json(const char *path, gm_moe *m, char ***features, double **class_values, char **target) {
    void *data;
    size_t len;
    int rc = gm_read_file(path, &data, &len);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(data, len);
    gm_free(data);
    if (!root) GM_FAIL(GM_EFORMAT, "%s: not valid JSON", path);
    rc = GM_EFORMAT;
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
        !cJSON_IsNumber(jd) || !cJSON_IsString(jg) || parse_gate(jg->valuestring, &gate) || !cJSON_IsArray(jf) ||
        !cJSON_IsArray(jc) || !cJSON_IsArray(jW) || !cJSON_IsArray(jE) || jk->valuedouble < 1 || jS->valuedouble < 2 ||
        jd->valuedouble < 1 || jk->valuedouble > 1e4 || jS->valuedouble > 1e5 || jd->valuedouble > 1e6) {
        cJSON_Delete(root);
        GM_FAIL(GM_EFORMAT, "%s: not a genmix-moe model (missing or bad fields)", path);
    }
    size_t k = (size_t)jk->valuedouble, S = (size_t)jS->valuedouble, d = (size_t)jd->valuedouble, p = d + 1;
    if ((size_t)cJSON_GetArraySize(jf) != d || (size_t)cJSON_GetArraySize(jc) != S ||
        (size_t)cJSON_GetArraySize(jW) != p || (size_t)cJSON_GetArraySize(jE) != k) {
        cJSON_Delete(root);
        GM_FAIL(GM_EFORMAT, "%s: array sizes do not match n_experts/n_classes/dim", path);
    }
    rc = gm_moe_init(m, k, S, d, gate);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    *features = calloc(d, sizeof(char *));
    *class_values = calloc(S, sizeof(double));
    rc = GM_EFORMAT;
    if (!*features || !*class_values) goto bad;
    for (size_t j = 0; j < d; j++) {
        const cJSON *s = cJSON_GetArrayItem(jf, (int)j);
        if (!cJSON_IsString(s)) goto bad;
        (*features)[j] = strdup(s->valuestring);
    }
    for (size_t s = 0; s < S; s++) {
        const cJSON *v = cJSON_GetArrayItem(jc, (int)s);
        if (!cJSON_IsNumber(v)) goto bad;
        (*class_values)[s] = v->valuedouble;
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
    *target = strdup(cJSON_IsString(jt) ? jt->valuestring : "");
    cJSON_Delete(root);
    if (!*target) goto bad;
    return GM_OK;
bad:
    cJSON_Delete(root);
    if (*features)
        for (size_t j = 0; j < d; j++) free((*features)[j]);
    free(*features);
    free(*class_values);
    *features = NULL;
    *class_values = NULL;
    gm_moe_free(m);
    GM_FAIL(GM_EFORMAT, "%s: malformed model arrays (gate/experts/features/class_values)", path);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* .safetensors model: tensors "gate" (F64, p x k), "experts" (F64, k x p x S), "class_values" (F64, S);
 * __metadata__: format "genmix-moe", gate_transform, target, features (JSON array of names), fit summary. */
static int model_to_safetensors(const char *path, const gm_moe *m, char **features, const char *target,
                                const double *class_values, const gm_moe_fit_result *res, unsigned long long seed) {
    size_t k = m->n_experts, S = m->n_classes, d = m->dim, p = d + 1;
    gm_st_writer *w;
    int rc = gm_st_writer_create(&w);
    if (rc) return rc;
    int64_t sg[2] = {(int64_t)p, (int64_t)k}, se[3] = {(int64_t)k, (int64_t)p, (int64_t)S}, sc[1] = {(int64_t)S};
    cJSON *fa = cJSON_CreateArray();
    for (size_t j = 0; j < d; j++) cJSON_AddItemToArray(fa, cJSON_CreateString(features[j]));
    char *ftxt = cJSON_PrintUnformatted(fa);
    cJSON_Delete(fa);
    char num[64];
    rc = ftxt ? GM_OK : GM_ENOMEM;
    if (!rc) rc = gm_st_writer_add(w, "gate", GM_DTYPE_F64, 2, sg, m->W);
    if (!rc) rc = gm_st_writer_add(w, "experts", GM_DTYPE_F64, 3, se, m->V);
    if (!rc) rc = gm_st_writer_add(w, "class_values", GM_DTYPE_F64, 1, sc, class_values);
    if (!rc) rc = gm_st_writer_meta(w, "format", "genmix-moe");
    if (!rc) rc = gm_st_writer_meta(w, "genmix_version", gm_version());
    if (!rc) rc = gm_st_writer_meta(w, "gate_transform", gate_name(m->gate));
    if (!rc) rc = gm_st_writer_meta(w, "target", target);
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
    snprintf(num, sizeof num, "%llu", seed);
    if (!rc) rc = gm_st_writer_meta(w, "seed", num);
    if (!rc) rc = gm_st_writer_write(w, path);
    gm_st_writer_free(w);
    cJSON_free(ftxt);
    return rc;
}

static int model_from_safetensors(const char *path, gm_moe *m, char ***features, double **class_values,
                                  char **target) {
    gm_safetensors *st;
    int rc = gm_safetensors_read(&st, path);
    if (rc) return rc;
    gm_array g = {0}, e = {0}, c = {0};
    cJSON *fa = NULL;
    const char *fmt = gm_safetensors_meta(st, "format"), *gt = gm_safetensors_meta(st, "gate_transform");
    const char *tg = gm_safetensors_meta(st, "target"), *ft = gm_safetensors_meta(st, "features");
    gm_moe_gate gate;
    *features = NULL;
    *class_values = NULL;
    *target = NULL;
    memset(m, 0, sizeof *m);
    if (!fmt || strcmp(fmt, "genmix-moe") || !gt || parse_gate(gt, &gate) || !tg || !ft) {
        gm_safetensors_free(st);
        GM_FAIL(GM_EFORMAT, "%s: not a genmix-moe model (missing or bad metadata)", path);
    }
    rc = gm_safetensors_get(st, "gate", &g);
    if (!rc) rc = gm_safetensors_get(st, "experts", &e);
    if (!rc) rc = gm_safetensors_get(st, "class_values", &c);
    if (rc) goto out;
    rc = GM_EFORMAT;
    fa = cJSON_Parse(ft);
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
    *class_values = malloc(S * sizeof(double));
    *features = calloc(p - 1, sizeof(char *));
    *target = strdup(tg);
    rc = GM_ENOMEM;
    if (!*class_values || !*features || !*target) goto out;
    memcpy(*class_values, c.data, S * sizeof(double));
    rc = GM_OK;
    for (size_t j = 0; j + 1 < p && !rc; j++) {
        const cJSON *sj = cJSON_GetArrayItem(fa, (int)j);
        if (!cJSON_IsString(sj)) {
            gm_set_error(GM_EFORMAT, "%s: metadata 'features' must be a JSON array of names", path);
            rc = GM_EFORMAT;
        } else if (!((*features)[j] = strdup(sj->valuestring))) {
            rc = GM_ENOMEM;
        }
    }
out:
    cJSON_Delete(fa);
    gm_safetensors_free(st);
    if (rc) {
        if (*features)
            for (size_t j = 0; j < m->dim; j++) free((*features)[j]);
        free(*features);
        free(*class_values);
        free(*target);
        *features = NULL;
        *class_values = NULL;
        *target = NULL;
        gm_moe_free(m);
    }
    return rc;
}

/* load a model written by fit/select: .safetensors by extension, JSON otherwise */
static int model_load(const char *path, gm_moe *m, char ***features, double **class_values, char **target) {
    if (ends_with(path, ".safetensors")) return model_from_safetensors(path, m, features, class_values, target);
    return model_from_json(path, m, features, class_values, target);
}

/* X (n x d) = the model's feature columns of the table, by name (the CSV may order them differently or
 * carry extra columns). GM_EINVAL naming the missing column otherwise. */
static int features_from_csv(const gm_csv *tab, const char *csv, const char *model, char *const *features, size_t d,
                             double *X) {
    size_t n = tab->nrows;
    for (size_t j = 0; j < d; j++) {
        long col = gm_csv_col(tab, features[j]);
        if (col < 0) GM_FAIL(GM_EINVAL, "%s: no feature column '%s' (needed by %s)", csv, features[j], model);
        for (size_t t = 0; t < n; t++) X[t * d + j] = tab->values[t * tab->ncols + (size_t)col];
    }
    return GM_OK;
}

static void model_names_free(char **features, size_t d, double *class_values, char *target) {
    for (size_t j = 0; j < d && features; j++) free(features[j]);
    free(features);
    free(class_values);
    free(target);
}

/* ============================================================================================== */
/* fit                                                                                             */
/* ============================================================================================== */

static void fit_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe fit --csv data.csv --target COLUMN --experts K --out model.json|model.safetensors [options]\n\n"
            "Fit a softmax-gated multinomial-logistic mixture of experts by EM (Newton M-steps, random-partition\n"
            "restarts, Newton polish). Features are all other columns (or --features). Target values must be\n"
            "integers; classes are its distinct values in increasing order (or 0..S-1 with --classes S).\n\n"
            "options:\n"
            "  --csv FILE          numeric CSV with a header row (required)\n"
            "  --target NAME       class column (required)\n"
            "  --features A,B,..   feature columns (default: all but the target)\n"
            "  --experts K         number of experts, >= 1 (required)\n"
            "  --classes S         labels are 0..S-1 and every class must have rows\n"
            "  --restarts R        random restarts (default 10)\n"
            "  --gating G          standard | modified (gate sees sigmoid(x)) (default standard)\n"
            "  --transform T       modified-gating transform: sigmoid | tanh (default sigmoid)\n"
            "  --max-iter N        EM iterations per restart (default 5000)\n"
            "  --tol X             relative change of the objective to stop (default 1e-8)\n"
            "  --ridge X           ridge on all coefficients (default 1e-8)\n"
            "  --no-polish         skip the Newton polish after EM\n"
            "  --seed N            restart seed (default 0)\n"
            "  --out FILE          model file, .json or .safetensors (required)\n"
            "  --json              print the summary as JSON on stdout\n");
}

/* Trim blanks, quotes and line ends around a name (used for --features lists). */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '"') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == '"'))
        s[--n] = '\0';
    return s;
}

static int split_names(char *s, char ***out, size_t *n) {
    size_t c = 1;
    for (char *q = s; *q; q++) c += *q == ',';
    char **v = calloc(c, sizeof(char *));
    if (!v) return -1;
    size_t i = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) v[i++] = trim(tok);
    *out = v;
    *n = i;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void select_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe select --csv data.csv --target COLUMN --kmax K --out best.json|best.safetensors [options]\n\n"
            "Fit k = 1..K experts (k = 1 is the multinomial logit) with the options of 'genmix moe fit' and choose\n"
            "k by an information criterion (smaller is better; degenerate fits are skipped unless all are).\n"
            "Prints one line per k (loglik, df, AIC, BIC, ICL, flags) and writes the chosen model.\n\n"
            "options (besides those of 'genmix moe fit' except --experts):\n"
            "  --kmax K            largest number of experts, >= 1 (required)\n"
            "  --criterion C       bic | aic | icl (default bic)\n");
}

/* write the model as .safetensors or .json (by extension) */
static int write_model(const char *out, const gm_moe *m, char **fnames, const char *target, const double *classes,
                       const gm_moe_fit_result *res, unsigned long long seed) {
    if (ends_with(out, ".safetensors")) return model_to_safetensors(out, m, fnames, target, classes, res, seed);
    cJSON *root;
    model_to_json(m, fnames, target, classes, res, seed, &root);
    int rc = write_json(out, root);
    cJSON_Delete(root);
    return rc;
}

static int moe_fit_or_select(int argc, char **argv, int select) {
    static const struct option opts[] = {
        {"csv", required_argument, 0, 'c'},      {"target", required_argument, 0, 't'},
        {"features", required_argument, 0, 'F'}, {"experts", required_argument, 0, 'k'},
        {"classes", required_argument, 0, 'S'},  {"restarts", required_argument, 0, 'r'},
        {"gating", required_argument, 0, 'g'},   {"transform", required_argument, 0, 'T'},
        {"max-iter", required_argument, 0, 'm'}, {"tol", required_argument, 0, 'e'},
        {"ridge", required_argument, 0, 'l'},    {"no-polish", no_argument, 0, 'P'},
        {"seed", required_argument, 0, 's'},     {"out", required_argument, 0, 'o'},
        {"json", no_argument, 0, 'j'},           {"help", no_argument, 0, 'h'},
        {"kmax", required_argument, 0, 'K'},     {"criterion", required_argument, 0, 'C'},
        {0, 0, 0, 0}};
    const char *cmdname = select ? "moe select" : "moe fit";
    const char *csv = NULL, *target = NULL, *out = NULL, *gating = "standard", *transform = "sigmoid";
    long kmax = -1;
    gm_moe_criterion crit = GM_MOE_SELECT_BIC;
    char *features_arg = NULL;
    long K = -1, S_opt = 0, restarts = 10, max_iter = 5000;
    double tol = 1e-8, ridge = 1e-8;
    unsigned long long seed = 0;
    int polish = 1, json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': csv = optarg; break;
        case 't': target = optarg; break;
        case 'F': features_arg = optarg; break;
        case 'k':
            if (cli_parse_long(optarg, &K)) return cli_usage_error(cmdname, "--experts takes an integer");
            break;
        case 'S':
            if (cli_parse_long(optarg, &S_opt) || S_opt < 2)
                return cli_usage_error(cmdname, "--classes takes an integer >= 2");
            break;
        case 'r':
            if (cli_parse_long(optarg, &restarts) || restarts < 1)
                return cli_usage_error(cmdname, "--restarts takes an integer >= 1");
            break;
        case 'g': gating = optarg; break;
        case 'T': transform = optarg; break;
        case 'm':
            if (cli_parse_long(optarg, &max_iter) || max_iter < 1)
                return cli_usage_error(cmdname, "--max-iter takes an integer >= 1");
            break;
        case 'e':
            if (cli_parse_double(optarg, &tol) || !(tol >= 0)) return cli_usage_error(cmdname, "--tol takes a number >= 0");
            break;
        case 'l':
            if (cli_parse_double(optarg, &ridge) || !(ridge >= 0))
                return cli_usage_error(cmdname, "--ridge takes a number >= 0");
            break;
        case 'P': polish = 0; break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error(cmdname, "--seed takes a non-negative integer");
            break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        case 'K':
            if (!select || cli_parse_long(optarg, &kmax)) return cli_usage_error(cmdname, "--kmax takes an integer (select only)");
            break;
        case 'C':
            if (!select) return cli_usage_error(cmdname, "--criterion is an option of 'moe select'");
            if (!strcmp(optarg, "bic")) crit = GM_MOE_SELECT_BIC;
            else if (!strcmp(optarg, "aic")) crit = GM_MOE_SELECT_AIC;
            else if (!strcmp(optarg, "icl")) crit = GM_MOE_SELECT_ICL;
            else return cli_usage_error(cmdname, "--criterion must be bic, aic or icl");
            break;
        case 'h': select ? select_usage(stdout) : fit_usage(stdout); return CLI_OK;
        default: select ? select_usage(stderr) : fit_usage(stderr); return CLI_USAGE;
        }
    }
    if (select) {
        if (K != -1) return cli_usage_error(cmdname, "use --kmax, not --experts");
        if (!csv || !target || !out || kmax == -1)
            return cli_usage_error(cmdname, "--csv, --target, --kmax and --out are required");
        if (kmax < 1) return cli_usage_error(cmdname, "--kmax takes an integer >= 1 (got %ld)", kmax);
        K = kmax;
    }
    if (!csv || !target || !out || K == -1)
        return cli_usage_error(cmdname, "--csv, --target, --experts and --out are required");
    if (K < 1) return cli_usage_error(cmdname, "--experts takes an integer >= 1 (got %ld)", K);
    gm_moe_gate gate = GM_MOE_GATE_IDENTITY;
    if (!strcmp(gating, "modified")) {
        if (parse_gate(transform, &gate) || gate == GM_MOE_GATE_IDENTITY)
            return cli_usage_error(cmdname, "--transform must be sigmoid or tanh");
    } else if (strcmp(gating, "standard")) {
        return cli_usage_error(cmdname, "--gating must be standard or modified");
    }
    if (!ends_with(out, ".json") && !ends_with(out, ".safetensors"))
        return cli_usage_error(cmdname, "--out must end in .json or .safetensors");
    if (cli_check_input(cmdname, "--csv", csv) || cli_check_output(cmdname, "--out", out)) return CLI_ERR;

    gm_csv tab;
    int rc = moe_csv_load(csv, &tab);
    if (rc) return cli_fail(rc);
    int status = CLI_ERR;
    char **fnames = NULL;
    size_t d = 0;
    long *fcol = NULL;
    double *X = NULL, *classes = NULL;
    int *y = NULL;
    gm_moe_fit_result res;
    memset(&res, 0, sizeof res);
    gm_moe_select_result sel;
    memset(&sel, 0, sizeof sel);
    long tcol = gm_csv_col(&tab, target);
    if (tcol < 0) {
        gm_set_error(GM_EINVAL, "%s: no target column '%s'", csv, target);
        goto fail;
    }
    if (features_arg) {
        if (split_names(features_arg, &fnames, &d)) goto fail;
    } else {
        fnames = calloc(tab.ncols, sizeof(char *));
        if (!fnames) goto fail;
        for (size_t j = 0; j < tab.ncols; j++)
            if ((long)j != tcol) fnames[d++] = tab.colnames[j];
    }
    if (d == 0) {
        gm_set_error(GM_EINVAL, "%s: no feature columns besides the target '%s'", csv, target);
        goto fail;
    }
    fcol = calloc(d, sizeof(long));
    if (!fcol) goto fail;
    for (size_t j = 0; j < d; j++) {
        fcol[j] = gm_csv_col(&tab, fnames[j]);
        if (fcol[j] < 0) {
            gm_set_error(GM_EINVAL, "%s: no feature column '%s'", csv, fnames[j]);
            goto fail;
        }
    }
    size_t n = tab.nrows;
    if (n == 0) {
        gm_set_error(GM_EINVAL, "%s: no data rows", csv);
        goto fail;
    }
    X = malloc(n * d * sizeof(double));
    y = malloc(n * sizeof(int));
    classes = malloc(n * sizeof(double));
    if (!X || !y || !classes) goto fail;
    for (size_t t = 0; t < n; t++) {
        double v = tab.values[t * tab.ncols + (size_t)tcol];
        if (v != floor(v) || fabs(v) > 1e9) {
            gm_set_error(GM_EINVAL, "%s: row %zu, column '%s': class label %g is not an integer", csv, t + 1, target, v);
            goto fail;
        }
        classes[t] = v;
        for (size_t j = 0; j < d; j++) X[t * d + j] = tab.values[t * tab.ncols + (size_t)fcol[j]];
    }
    size_t S;
    if (S_opt) {
        S = (size_t)S_opt;
        for (size_t t = 0; t < n; t++) {
            if (classes[t] < 0 || classes[t] >= (double)S) {
                gm_set_error(GM_EINVAL, "%s: row %zu, column '%s': label %g outside 0..%zu", csv, t + 1, target,
                             classes[t], S - 1);
                goto fail;
            }
            y[t] = (int)classes[t];
        }
        for (size_t s = 0; s < S; s++) classes[s] = (double)s;
        for (size_t s = 0; s < S; s++) {
            size_t cnt = 0;
            for (size_t t = 0; t < n; t++) cnt += (size_t)y[t] == s;
            if (cnt == 0) {
                gm_set_error(GM_EINVAL, "%s: column '%s': class %zu has no rows", csv, target, s);
                goto fail;
            }
        }
    } else {
        double *sorted = malloc(n * sizeof(double));
        if (!sorted) goto fail;
        memcpy(sorted, classes, n * sizeof(double));
        qsort(sorted, n, sizeof(double), cmp_double);
        S = 0;
        for (size_t t = 0; t < n; t++)
            if (t == 0 || sorted[t] != sorted[t - 1]) sorted[S++] = sorted[t];
        for (size_t t = 0; t < n; t++) {
            double *hit = bsearch(&classes[t], sorted, S, sizeof(double), cmp_double);
            y[t] = (int)(hit - sorted);
        }
        memcpy(classes, sorted, S * sizeof(double));
        free(sorted);
        if (S < 2) {
            gm_set_error(GM_EINVAL, "%s: column '%s' has a single class (%g); need >= 2", csv, target, classes[0]);
            goto fail;
        }
    }
    gm_moe_fit_config cfg = gm_moe_fit_config_default();
    cfg.n_experts = (size_t)K;
    cfg.n_restarts = (size_t)restarts;
    cfg.gate = gate;
    cfg.max_iter = (size_t)max_iter;
    cfg.tol = tol;
    cfg.ridge = ridge;
    cfg.polish = polish;
    cfg.seed = seed;
    cli_progress("%s: n %zu d %zu classes %zu experts %s%ld restarts %ld gate %s", cmdname, n, d, S, select ? "1.." : "",
                 K, restarts, gate_name(gate));
    double t0 = gm_time_now();
    if (select) {
        rc = gm_moe_select(&cfg, X, y, n, d, S, (size_t)K, crit, &sel);
        if (rc) {
            status = cli_fail(rc);
            goto done;
        }
        const gm_moe_fit_result *best = &sel.fits[sel.best_k - 1];
        rc = write_model(out, &best->model, fnames, target, classes, best, seed);
        if (rc) {
            status = cli_fail(rc);
            goto done;
        }
        double secs = gm_time_now() - t0;
        const char *cn = crit == GM_MOE_SELECT_AIC ? "aic" : (crit == GM_MOE_SELECT_ICL ? "icl" : "bic");
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", out);
            cJSON_AddStringToObject(o, "criterion", cn);
            cJSON_AddNumberToObject(o, "best_k", (double)sel.best_k);
            cJSON_AddNumberToObject(o, "n", (double)n);
            cJSON *arr = cJSON_AddArrayToObject(o, "fits");
            for (size_t k = 1; k <= (size_t)K; k++) {
                const gm_moe_fit_result *r = &sel.fits[k - 1];
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "k", (double)k);
                cJSON_AddNumberToObject(e, "loglik", r->loglik);
                cJSON_AddNumberToObject(e, "df", (double)r->df);
                cJSON_AddNumberToObject(e, "aic", r->aic);
                cJSON_AddNumberToObject(e, "bic", r->bic);
                cJSON_AddNumberToObject(e, "icl", r->icl);
                cJSON_AddBoolToObject(e, "degenerate", (r->flags & GM_MOE_DEGENERATE) != 0);
                cJSON_AddBoolToObject(e, "converged", (r->flags & GM_MOE_CONVERGED) != 0);
                cJSON_AddItemToArray(arr, e);
            }
            cJSON_AddNumberToObject(o, "seconds", secs);
            char *txt = cJSON_Print(o);
            printf("%s\n", txt);
            cJSON_free(txt);
            cJSON_Delete(o);
        } else {
            printf("%3s %16s %5s %12s %12s %12s  %s\n", "k", "loglik", "df", "AIC", "BIC", "ICL", "flags");
            for (size_t k = 1; k <= (size_t)K; k++) {
                const gm_moe_fit_result *r = &sel.fits[k - 1];
                printf("%3zu %16.6f %5zu %12.4f %12.4f %12.4f  %s%s%s\n", k, r->loglik, r->df, r->aic, r->bic, r->icl,
                       (r->flags & GM_MOE_CONVERGED) ? "converged" : "NOT converged",
                       (r->flags & GM_MOE_DEGENERATE) ? ", DEGENERATE" : "", k == sel.best_k ? "  <- chosen" : "");
            }
            printf("%s chooses k = %zu; wrote %s (%.2f s)\n", cn, sel.best_k, out, secs);
        }
        status = CLI_OK;
        goto done;
    }
    rc = gm_moe_fit(&cfg, X, y, n, d, S, NULL, &res);
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    double secs = gm_time_now() - t0;
    rc = write_model(out, &res.model, fnames, target, classes, &res, seed);
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    if (json) {
        cJSON *summary = cJSON_CreateObject();
        cJSON_AddStringToObject(summary, "model", out);
        cJSON_AddNumberToObject(summary, "n", (double)n);
        cJSON_AddNumberToObject(summary, "experts", (double)K);
        cJSON_AddNumberToObject(summary, "classes", (double)S);
        cJSON_AddNumberToObject(summary, "loglik", res.loglik);
        cJSON_AddNumberToObject(summary, "df", (double)res.df);
        cJSON_AddNumberToObject(summary, "aic", res.aic);
        cJSON_AddNumberToObject(summary, "bic", res.bic);
        cJSON_AddNumberToObject(summary, "icl", res.icl);
        cJSON_AddBoolToObject(summary, "degenerate", (res.flags & GM_MOE_DEGENERATE) != 0);
        cJSON_AddNumberToObject(summary, "seconds", secs);
        char *txt = cJSON_Print(summary);
        printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(summary);
    } else {
        printf("loglik %.10g  df %zu  AIC %.6g  BIC %.6g  ICL %.6g  (best of %ld restarts: #%zu, %zu EM iterations%s%s)\n",
               res.loglik, res.df, res.aic, res.bic, res.icl, restarts, res.best_restart, res.iterations,
               (res.flags & GM_MOE_CONVERGED) ? ", converged" : ", NOT converged",
               (res.flags & GM_MOE_DEGENERATE) ? ", DEGENERATE" : "");
        printf("restart logliks:");
        for (size_t r = 0; r < res.n_restarts; r++) printf(" %.6f", res.restart_loglik[r]);
        printf("\nwrote %s (%.2f s)\n", out, secs);
    }
    status = CLI_OK;
    goto done;
fail:
    status = cli_fail(gm_last_error()[0] ? GM_EINVAL : GM_ENOMEM);
done:
    gm_moe_fit_result_free(&res);
    gm_moe_select_result_free(&sel);
    free(fnames);
    free(fcol);
    free(X);
    free(y);
    free(classes);
    gm_csv_free(&tab);
    return status;
}

/* ============================================================================================== */
/* predict                                                                                         */
/* ============================================================================================== */

static void predict_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe predict --model model.json|model.safetensors --csv data.csv [--out probs.csv]\n\n"
            "Class probabilities of a fitted model for every row of a CSV holding the model's feature columns.\n"
            "Writes columns p_<class> and the arg-max class 'pred' (to stdout without --out). If the CSV also\n"
            "holds the model's target column, prints the accuracy and mean log-likelihood on stderr.\n");
}

static int moe_predict(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"csv", required_argument, 0, 'c'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *csv = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': csv = optarg; break;
        case 'o': out = optarg; break;
        case 'h': predict_usage(stdout); return CLI_OK;
        default: predict_usage(stderr); return CLI_USAGE;
        }
    }
    if (!model || !csv) return cli_usage_error("moe predict", "--model and --csv are required");
    if (cli_check_input("moe predict", "--model", model) || cli_check_input("moe predict", "--csv", csv) ||
        cli_check_output("moe predict", "--out", out))
        return CLI_ERR;
    gm_moe m;
    char **features = NULL, *target = NULL;
    double *classes = NULL;
    int rc = model_load(model, &m, &features, &classes, &target);
    if (rc) return cli_fail(rc);
    size_t d = m.dim, S = m.n_classes, n = 0;
    gm_csv tab;
    memset(&tab, 0, sizeof tab);
    double *X = NULL, *P = NULL;
    int status = CLI_ERR;
    rc = moe_csv_load(csv, &tab);
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    n = tab.nrows;
    X = malloc((n ? n : 1) * d * sizeof(double));
    P = malloc((n ? n : 1) * S * sizeof(double));
    if (!X || !P) {
        status = cli_fail(GM_ENOMEM);
        goto done;
    }
    if ((rc = features_from_csv(&tab, csv, model, features, d, X)) != GM_OK) {
        status = cli_fail(rc);
        goto done;
    }
    gm_moe_predict_proba(&m, X, n, P);
    {
        /* output table */
        size_t cap = 64 + S * 32 + n * (S + 1) * 26;
        char *buf = malloc(cap), *w = buf;
        if (!buf) {
            status = cli_fail(GM_ENOMEM);
            goto done;
        }
        for (size_t s = 0; s < S; s++) w += sprintf(w, "%sp_%.17g", s ? "," : "", classes[s]);
        w += sprintf(w, ",pred\n");
        for (size_t t = 0; t < n; t++) {
            size_t best = 0;
            for (size_t s = 0; s < S; s++) {
                w += sprintf(w, "%s%.17g", s ? "," : "", P[t * S + s]);
                if (P[t * S + s] > P[t * S + best]) best = s;
            }
            w += sprintf(w, ",%.17g\n", classes[best]);
        }
        if (out) {
            rc = gm_write_file_atomic(out, buf, (size_t)(w - buf));
            if (rc) {
                free(buf);
                status = cli_fail(rc);
                goto done;
            }
        } else {
            fwrite(buf, 1, (size_t)(w - buf), stdout);
        }
        free(buf);
    }
    /* accuracy if the target is present: the model names it */
    {
        long tcol = target[0] ? gm_csv_col(&tab, target) : -1;
        if (tcol >= 0 && n > 0) {
            size_t correct = 0, known = 0;
            double ll = 0.0;
            for (size_t t = 0; t < n; t++) {
                double v = tab.values[t * tab.ncols + (size_t)tcol];
                size_t best = 0, hit = S;
                for (size_t s = 0; s < S; s++) {
                    if (P[t * S + s] > P[t * S + best]) best = s;
                    if (classes[s] == v) hit = s;
                }
                if (hit < S) {
                    known++;
                    correct += best == hit;
                    ll += log(P[t * S + hit]);
                }
            }
            if (known)
                fprintf(stderr, "moe predict: %zu rows, accuracy %.4f, mean log-likelihood %.6f\n", n,
                        (double)correct / (double)known, ll / (double)known);
        }
    }
    if (out) printf("wrote %s (%zu rows x %zu classes)\n", out, n, S);
    status = CLI_OK;
done:
    model_names_free(features, d, classes, target);
    free(X);
    free(P);
    gm_csv_free(&tab);
    gm_moe_free(&m);
    return status;
}

/* ============================================================================================== */
/* sample                                                                                          */
/* ============================================================================================== */

static void sample_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe sample --model model.json|model.safetensors --n N --out data.csv [options]\n\n"
            "Draw rows from a model (spec section 7.1 with a Philox generator): x_tj ~ U[-xr, xr], the expert\n"
            "z_t ~ Cat(pi(x_t)) and the class y_t ~ Cat(f_z(. | x_t)). Columns: the model's features, its target\n"
            "(class values) and, with --expert, the drawn expert (0-based). With --csv, the features are taken\n"
            "from that file instead (all its rows; --n is then not needed) and only y (and z) are drawn.\n\n"
            "options:\n"
            "  --n N         number of rows (required without --csv)\n"
            "  --xr R        half-width of the uniform x range (default 1)\n"
            "  --csv FILE    take x from this CSV's feature columns\n"
            "  --expert      add the drawn expert as column 'expert'\n"
            "  --seed N      Philox seed (default 0); the same seed gives the same rows\n"
            "  --out FILE    output CSV (required)\n");
}

static int moe_sample(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"n", required_argument, 0, 'n'},
        {"xr", required_argument, 0, 'x'},    {"csv", required_argument, 0, 'c'},
        {"expert", no_argument, 0, 'z'},      {"seed", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *csv = NULL, *out = NULL;
    long nrows = -1;
    double xr = 1.0;
    int with_z = 0, c;
    unsigned long long seed = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, &nrows) || nrows < 1) return cli_usage_error("moe sample", "--n takes an integer >= 1");
            break;
        case 'x':
            if (cli_parse_double(optarg, &xr) || !(xr > 0) || !isfinite(xr))
                return cli_usage_error("moe sample", "--xr takes a finite number > 0");
            break;
        case 'c': csv = optarg; break;
        case 'z': with_z = 1; break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("moe sample", "--seed takes a non-negative integer");
            break;
        case 'o': out = optarg; break;
        case 'h': sample_usage(stdout); return CLI_OK;
        default: sample_usage(stderr); return CLI_USAGE;
        }
    }
    if (!model || !out) return cli_usage_error("moe sample", "--model and --out are required");
    if (!csv && nrows < 0) return cli_usage_error("moe sample", "--n is required (or --csv)");
    if (cli_check_input("moe sample", "--model", model) || cli_check_input("moe sample", "--csv", csv) ||
        cli_check_output("moe sample", "--out", out))
        return CLI_ERR;
    gm_moe m;
    char **features = NULL, *target = NULL;
    double *classes = NULL;
    int rc = model_load(model, &m, &features, &classes, &target);
    if (rc) return cli_fail(rc);
    size_t d = m.dim, n = csv ? 0 : (size_t)nrows;
    gm_csv tab;
    memset(&tab, 0, sizeof tab);
    double *X = NULL;
    int *y = NULL, *z = NULL, status = CLI_ERR;
    char *buf = NULL;
    if (csv) {
        rc = moe_csv_load(csv, &tab);
        if (rc) {
            status = cli_fail(rc);
            goto done;
        }
        n = tab.nrows;
    }
    X = malloc((n ? n : 1) * d * sizeof(double));
    y = malloc((n ? n : 1) * sizeof(int));
    z = malloc((n ? n : 1) * sizeof(int));
    if (!X || !y || !z) {
        status = cli_fail(GM_ENOMEM);
        goto done;
    }
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_DATA, 0));
    if (csv) {
        rc = features_from_csv(&tab, csv, model, features, d, X);
        if (rc == GM_OK) rc = gm_moe_sample_y(&m, X, n, &r, y, z);
    } else {
        rc = gm_moe_sample(&m, n, xr, &r, X, y, z);
    }
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    size_t cap = 256 + (d + 1) * 64 + strlen(target) + n * ((d + 2) * 26 + 8);
    for (size_t j = 0; j < d; j++) cap += strlen(features[j]);
    buf = malloc(cap);
    if (!buf) {
        status = cli_fail(GM_ENOMEM);
        goto done;
    }
    char *w = buf;
    for (size_t j = 0; j < d; j++) w += sprintf(w, "%s,", features[j]);
    w += sprintf(w, "%s%s\n", target[0] ? target : "y", with_z ? ",expert" : "");
    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++) w += sprintf(w, "%.17g,", X[t * d + j]);
        w += sprintf(w, "%.17g", classes[y[t]]);
        if (with_z) w += sprintf(w, ",%d", z[t]);
        *w++ = '\n';
    }
    rc = gm_write_file_atomic(out, buf, (size_t)(w - buf));
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    printf("wrote %s (%zu rows, %zu features, %zu classes)\n", out, n, d, m.n_classes);
    status = CLI_OK;
done:
    model_names_free(features, d, classes, target);
    free(X);
    free(y);
    free(z);
    free(buf);
    gm_csv_free(&tab);
    gm_moe_free(&m);
    return status;
}

/* ============================================================================================== */
/* simulate                                                                                        */
/* ============================================================================================== */

static void simulate_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe simulate [--case all|exact|over|regime2|modified] [options] --out DIR\n\n"
            "The convergence-rate study of the softmax-gated multinomial-logistic MoE (spec section 4.2): data\n"
            "from design A (default; K = 3 classes, 2 true experts, x ~ U[-1,1]) or B (--design B), drawn by the\n"
            "LCG generator shared with R; nearTrue start, EM (tol 1e-6, <= max-iter; as the reference code, no\n"
            "polish unless --polish). Cases:\n"
            "  exact     k = 2 fitted experts, standard gating\n"
            "  over      k = 3, standard gating, all true slopes non-zero (Regime 1)\n"
            "  regime2   k = 3, expert 2's slopes a*_2 = 0, standard gating (vanishing parameters)\n"
            "  modified  as regime2 with the modified gate sigmoid(x)\n"
            "Measured per fit: D1 (exponent 1 on singleton, 2 on multi-atom cells) and the plain parameter errors\n"
            "(exponent 1) of the over-specified cell's gate slopes and expert slopes, without its intercepts b\n"
            "(not identifiable when a* = 0). Summaries: median and mean over replications, OLS slopes of their\n"
            "logs on log n (whole grid and upper half). Theory: exact D1 n^-1/2; over D1 n^-1/2 and cell\n"
            "parameters n^-1/4; regime2 cell parameters slower than any polynomial; modified n^-1/4 again.\n"
            "Writes DIR/moe_sim_<case>.csv (one row per fit), DIR/moe_sim_summary.json and the log-log plots\n"
            "DIR/moe_sim.png (D1) and DIR/moe_sim_params.png (cell parameter errors).\n\n"
            "options:\n"
            "  --design A|B    true model: design A (default; spec 7.2) or design B (spec 7.3: K = 2 classes,\n"
            "                  x ~ U[-3,3], gate (0, 1.5), experts (0.5, 1) and (-0.5, -1.5); regime2 sets -1.5 to 0)\n"
            "  --reps R        replications per n (default 10; the documented study uses 40)\n"
            "  --nmin N        smallest n (default 1000)\n"
            "  --nmax N        largest n (default 32000; the documented study uses 100000)\n"
            "  --ngrid G       grid points, log-spaced (default 5; the documented study uses 8)\n"
            "  --max-iter N    EM iterations (default 2000)\n"
            "  --seed N        base seed (default 1)\n"
            "  --tol X         EM relative tolerance (default 1e-6)\n"
            "  --split J|random  nearTrue: the extra fitted atom copies true expert J (default 2, the expert\n"
            "                  whose slopes vanish in regime2/modified) or a random one (spec 4.1)\n"
            "  --polish        Newton-polish each EM fit to the local maximum (slow; see docs/moe.md)\n"
            "  --no-plot       do not write the PNG plots\n"
            "  --replot DIR    only redraw DIR's PNG plots from its moe_sim_summary.json (no fitting)\n"
            "  --out DIR       output directory (required)\n"
            "Replications run in parallel (--threads); results do not depend on the thread count.\n");
}

typedef struct {
    const char *name;
    size_t k_fit;
    int regime2;
    gm_moe_gate gate;
    const char *theory;
} sim_case;

static const sim_case sim_cases[] = {
    {"exact", 2, 0, GM_MOE_GATE_IDENTITY, "D1 -1/2; parameters -1/2"},
    {"over", 3, 0, GM_MOE_GATE_IDENTITY, "D1 -1/2; cell parameters -1/4"},
    {"regime2", 3, 1, GM_MOE_GATE_IDENTITY, "cell parameters slower than any polynomial (slope -> 0)"},
    {"modified", 3, 1, GM_MOE_GATE_SIGMOID, "cell parameters -1/4 (b of the cell not identifiable)"},
};
#define N_SIM_CASES 4

static const char *sim_title(char design) {
    return design == 'B' ? "MoE design B: median Voronoi loss D1 vs n" : "MoE design A: median Voronoi loss D1 vs n";
}

static void sim_progress(size_t done, size_t total, void *ctx) {
    cli_progress("moe simulate %s: n grid point %zu/%zu done (%.1f s)", ((const char **)ctx)[0], done, total,
                 gm_time_now() - *(const double *)((const char **)ctx)[1]);
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of v[0..m) ignoring NaN (NaN if none); sorts a scratch copy */
static double median_of(const double *v, size_t m, double *scratch) {
    size_t c = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(v[i])) scratch[c++] = v[i];
    if (c == 0) return NAN;
    qsort(scratch, c, sizeof(double), cmp_dbl);
    return c % 2 ? scratch[c / 2] : 0.5 * (scratch[c / 2 - 1] + scratch[c / 2]);
}

static double mean_of(const double *v, size_t m) {
    double s = 0.0;
    size_t c = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(v[i])) s += v[i], c++;
    return c ? s / (double)c : (double)NAN;
}

/* the measured quantities of one fit */
enum { Q_D1, Q_D1_NOB, Q_CELL, Q_MASS, Q_SINGLE, N_Q };
static const char *q_names[N_Q] = {"D1", "D1_without_cell_b", "cell_params", "mass", "singleton_params"};

static void record_quantities(const gm_moe_sim_record *q, double out[N_Q]) {
    out[Q_D1] = q->loss.total;
    out[Q_D1_NOB] = q->loss.total - q->loss.b_multi;
    /* plain (exponent 1) errors of gate and expert slopes in the multi-atom cells: the over-specified cell */
    out[Q_CELL] = q->loss1.n_multi ? q->loss1.beta_multi + q->loss1.a_multi : (double)NAN;
    out[Q_MASS] = q->loss1.mass;
    out[Q_SINGLE] = (q->loss1.beta - q->loss1.beta_multi) + (q->loss1.a - q->loss1.a_multi) +
                    (q->loss1.b - q->loss1.b_multi);
}

typedef struct {
    double median[N_Q][64], mean[N_Q][64];
    double slope_median[N_Q], slope_mean[N_Q], slope_median_upper[N_Q], intercept_median[N_Q];
} sim_summary;

static double slope_or_nan(const double *x, const double *y, size_t m, double *icpt) {
    double s = NAN, c = NAN;
    if (gm_loglog_slope(x, y, m, &s, &c) != GM_OK) s = c = NAN;
    if (icpt) *icpt = c;
    return s;
}

static cJSON *num_array_nan(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
    return a;
}

static void add_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* log-log plot of one quantity for every case run, slopes of the medians in the legend */
static int sim_plot(const char *path, const char *title, const char *ylabel, int qi, const double *ns, size_t G,
                    const sim_summary *sum, const int *ran, int with_ref) {
    gm_plot *p;
    int rc = gm_plot_create(&p, title, "n", ylabel);
    if (rc) return rc;
    gm_plot_set_log(p, 1, 1);
    double y0 = NAN;
    for (size_t ci = 0; ci < N_SIM_CASES && !rc; ci++) {
        if (!ran[ci] || !isfinite(sum[ci].slope_median[qi])) continue;
        char label[128];
        snprintf(label, sizeof label, "%s: slope %.2f", sim_cases[ci].name, sum[ci].slope_median[qi]);
        rc = gm_plot_line(p, ns, sum[ci].median[qi], G, label);
        if (isnan(y0) && isfinite(sum[ci].median[qi][0])) y0 = sum[ci].median[qi][0];
    }
    if (!rc && with_ref && isfinite(y0)) {
        double ref[64], ref4[64];
        for (size_t g = 0; g < G; g++) {
            ref[g] = y0 * pow(ns[g] / ns[0], -0.5);
            ref4[g] = y0 * pow(ns[g] / ns[0], -0.25);
        }
        rc = gm_plot_line(p, ns, ref, G, "reference n^-1/2");
        if (!rc) rc = gm_plot_line(p, ns, ref4, G, "reference n^-1/4");
    }
    if (!rc) rc = gm_plot_write_png(p, path, 900, 600);
    gm_plot_free(p);
    return rc;
}

/* --replot DIR: redraw the PNGs from DIR/moe_sim_summary.json (no fitting) */
static int sim_replot(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/moe_sim_summary.json", dir);
    void *data;
    size_t len;
    int rc = gm_read_file(path, &data, &len);
    if (rc) return cli_fail(rc);
    cJSON *root = cJSON_ParseWithLength(data, len);
    gm_free(data);
    const cJSON *jn = root ? cJSON_GetObjectItemCaseSensitive(root, "n") : NULL;
    const cJSON *jc = root ? cJSON_GetObjectItemCaseSensitive(root, "cases") : NULL;
    size_t G = cJSON_IsArray(jn) ? (size_t)cJSON_GetArraySize(jn) : 0;
    if (!cJSON_IsObject(jc) || G < 2 || G > 64) {
        cJSON_Delete(root);
        gm_set_error(GM_EFORMAT, "%s: not a moe simulate summary", path);
        return cli_fail(GM_EFORMAT);
    }
    double ns[64];
    sim_summary *sum = calloc(N_SIM_CASES, sizeof(sim_summary));
    int ran[N_SIM_CASES] = {0};
    if (!sum) {
        cJSON_Delete(root);
        return cli_fail(GM_ENOMEM);
    }
    for (size_t g = 0; g < G; g++) ns[g] = cJSON_GetNumberValue(cJSON_GetArrayItem(jn, (int)g));
    const int qs[2] = {Q_D1, Q_CELL};
    for (size_t ci = 0; ci < N_SIM_CASES; ci++) {
        const cJSON *cj = cJSON_GetObjectItemCaseSensitive(jc, sim_cases[ci].name);
        if (!cJSON_IsObject(cj)) continue;
        ran[ci] = 1;
        for (int a = 0; a < 2; a++) {
            int qi = qs[a];
            const cJSON *qo = cJSON_GetObjectItemCaseSensitive(cj, q_names[qi]);
            const cJSON *med = qo ? cJSON_GetObjectItemCaseSensitive(qo, "median") : NULL;
            const cJSON *sl = qo ? cJSON_GetObjectItemCaseSensitive(qo, "slope_median") : NULL;
            for (size_t g = 0; g < G; g++) {
                const cJSON *v = cJSON_IsArray(med) ? cJSON_GetArrayItem(med, (int)g) : NULL;
                sum[ci].median[qi][g] = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
            }
            sum[ci].slope_median[qi] = cJSON_IsNumber(sl) ? sl->valuedouble : (double)NAN;
        }
    }
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(root, "design");
    char design = cJSON_IsString(jd) && !strcmp(jd->valuestring, "B") ? 'B' : 'A';
    cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/moe_sim.png", dir);
    rc = sim_plot(path, sim_title(design), "median D1", Q_D1, ns, G, sum, ran, 1);
    if (!rc) {
        snprintf(path, sizeof path, "%s/moe_sim_params.png", dir);
        rc = sim_plot(path, "over-specified cell: gate + expert slope errors vs n", "median error", Q_CELL, ns, G,
                      sum, ran, 1);
    }
    free(sum);
    if (rc) return cli_fail(rc);
    printf("wrote %s/moe_sim.png and moe_sim_params.png\n", dir);
    return CLI_OK;
}

static int moe_simulate(int argc, char **argv) {
    static const struct option opts[] = {
        {"case", required_argument, 0, 'c'},     {"reps", required_argument, 0, 'r'},
        {"nmin", required_argument, 0, 'a'},     {"nmax", required_argument, 0, 'b'},
        {"ngrid", required_argument, 0, 'g'},    {"max-iter", required_argument, 0, 'm'},
        {"seed", required_argument, 0, 's'},     {"out", required_argument, 0, 'o'},
        {"polish", no_argument, 0, 'P'},         {"tol", required_argument, 0, 'e'},
        {"split", required_argument, 0, 'S'},    {"no-plot", no_argument, 0, 'N'},
        {"replot", required_argument, 0, 'R'},   {"design", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *which = "all", *outdir = NULL;
    char design = 'A';
    int polish = 0, plot = 1;
    double tol = 1e-6;
    long reps = 10, ngrid = 5, max_iter = 2000, split = 2;
    double nmin = 1000, nmax = 32000;
    unsigned long long seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': which = optarg; break;
        case 'r':
            if (cli_parse_long(optarg, &reps) || reps < 1) return cli_usage_error("moe simulate", "--reps >= 1");
            break;
        case 'a':
            if (cli_parse_double(optarg, &nmin) || nmin < 50) return cli_usage_error("moe simulate", "--nmin >= 50");
            break;
        case 'b':
            if (cli_parse_double(optarg, &nmax) || nmax < 50) return cli_usage_error("moe simulate", "--nmax >= 50");
            break;
        case 'g':
            if (cli_parse_long(optarg, &ngrid) || ngrid < 2 || ngrid > 64)
                return cli_usage_error("moe simulate", "--ngrid between 2 and 64");
            break;
        case 'm':
            if (cli_parse_long(optarg, &max_iter) || max_iter < 1) return cli_usage_error("moe simulate", "--max-iter >= 1");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("moe simulate", "--seed takes an integer");
            break;
        case 'o': outdir = optarg; break;
        case 'P': polish = 1; break;
        case 'N': plot = 0; break;
        case 'R': return sim_replot(optarg);
        case 'D':
            if (strcmp(optarg, "A") && strcmp(optarg, "B")) return cli_usage_error("moe simulate", "--design takes A or B");
            design = optarg[0];
            break;
        case 'S':
            if (!strcmp(optarg, "random")) split = 0;
            else if (cli_parse_long(optarg, &split) || split < 1 || split > 2)
                return cli_usage_error("moe simulate", "--split takes 1, 2 or random");
            break;
        case 'e':
            if (cli_parse_double(optarg, &tol) || !(tol >= 0)) return cli_usage_error("moe simulate", "--tol >= 0");
            break;
        case 'h': simulate_usage(stdout); return CLI_OK;
        default: simulate_usage(stderr); return CLI_USAGE;
        }
    }
    if (!outdir) return cli_usage_error("moe simulate", "--out DIR is required");
    if (nmax < nmin) return cli_usage_error("moe simulate", "--nmax must be >= --nmin");
    int any = 0;
    for (size_t i = 0; i < N_SIM_CASES; i++) any |= !strcmp(which, "all") || !strcmp(which, sim_cases[i].name);
    if (!any) return cli_usage_error("moe simulate", "--case must be all, exact, over, regime2 or modified");
    if (cli_check_output_dir("moe simulate", "--out", outdir)) return CLI_ERR;
    int rc = cli_mkdirs(outdir);
    if (rc) return cli_fail(rc);
    size_t G = (size_t)ngrid, R = (size_t)reps;
    double *ns = malloc(G * sizeof(double));
    gm_moe_sim_record *rec = malloc(G * R * sizeof(gm_moe_sim_record));
    double *vals = malloc(R * sizeof(double)), *scratch = malloc(R * sizeof(double));
    sim_summary *sum = calloc(N_SIM_CASES, sizeof(sim_summary));
    int ran[N_SIM_CASES] = {0};
    if (!ns || !rec || !vals || !scratch || !sum) {
        free(ns), free(rec), free(vals), free(scratch), free(sum);
        return cli_fail(GM_ENOMEM);
    }
    for (size_t g = 0; g < G; g++) ns[g] = floor(exp(log(nmin) + (log(nmax) - log(nmin)) * (double)g / (double)(G - 1)) + 0.5);
    size_t h = G / 2;
    cJSON *summary = cJSON_CreateObject();
    cJSON_AddStringToObject(summary, "design", design == 'B' ? "B" : "A");
    cJSON_AddNumberToObject(summary, "reps", (double)R);
    cJSON_AddNumberToObject(summary, "seed", (double)seed);
    cJSON_AddBoolToObject(summary, "polish", polish);
    cJSON_AddNumberToObject(summary, "tol", tol);
    cJSON_AddNumberToObject(summary, "max_iter", (double)max_iter);
    if (split) cJSON_AddNumberToObject(summary, "split_expert", (double)split);
    else cJSON_AddStringToObject(summary, "split_expert", "random");
    cJSON_AddItemToObject(summary, "n", num_array(ns, G));
    cJSON_AddNumberToObject(summary, "upper_half_from_n", ns[h]);
    cJSON *cases = cJSON_AddObjectToObject(summary, "cases");
    int status = CLI_OK;
    printf("slopes of log(median over replications) on log n, whole grid | upper half (n >= %.0f)\n"
           "D1 = Voronoi loss D1; cell = gate+expert slope errors (exponent 1) in the over-specified cell;\n"
           "single = all parameter errors in singleton cells (exponent 1)\n", ns[h]);
    printf("%-9s %15s %15s %15s %6s %7s  %s\n", "case", "D1", "cell", "single", "degen", "med_it", "theory");
    double t_all = gm_time_now();
    for (size_t ci = 0; ci < N_SIM_CASES; ci++) {
        const sim_case *sc = &sim_cases[ci];
        if (strcmp(which, "all") && strcmp(which, sc->name)) continue;
        gm_moe truth;
        double xr = 1.0;
        rc = gm_moe_spec_design(&truth, design, sc->regime2, sc->gate, &xr);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        gm_moe_sim_config cfg = gm_moe_sim_config_default();
        cfg.truth = &truth;
        cfg.xr = xr;
        cfg.k_fit = sc->k_fit;
        cfg.ns = ns;
        cfg.n_grid = G;
        cfg.reps = R;
        cfg.seed = seed;
        cfg.fit.max_iter = (size_t)max_iter;
        cfg.fit.polish = polish;
        cfg.fit.tol = tol;
        cfg.split_atom = split ? (size_t)(split - 1) : SIZE_MAX;
        double t0 = gm_time_now();
        const void *ctx[2] = {sc->name, &t0};
        rc = gm_moe_simulate(&cfg, rec, sim_progress, (void *)ctx);
        gm_moe_free(&truth);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        ran[ci] = 1;
        /* per-fit CSV */
        char path[4096];
        snprintf(path, sizeof path, "%s/moe_sim_%s.csv", outdir, sc->name);
        size_t cap = 512 + G * R * 512;
        char *buf = malloc(cap), *w = buf;
        if (!buf) {
            status = cli_fail(GM_ENOMEM);
            break;
        }
        w += sprintf(w, "n,rep,data_seed,D1,D1_mass,D1_beta,D1_a,D1_b,D1_b_cell,n_multi,n_empty,err_mass,err_beta,"
                        "err_a,err_b,err_beta_cell,err_a_cell,err_b_cell,loglik,grad_norm,iterations,flags\n");
        size_t degenerate = 0;
        double its[4096];
        for (size_t g = 0; g < G; g++)
            for (size_t r = 0; r < R; r++) {
                const gm_moe_sim_record *q = &rec[g * R + r];
                const gm_moe_voronoi *L = &q->loss, *E = &q->loss1;
                w += sprintf(w,
                             "%zu,%zu,%u,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%zu,%zu,%.17g,%.17g,%.17g,%.17g,%.17g,"
                             "%.17g,%.17g,%.17g,%.17g,%zu,%d\n",
                             q->n, q->rep, q->data_seed, L->total, L->mass, L->beta, L->a, L->b, L->b_multi,
                             L->n_multi, L->n_empty, E->mass, E->beta, E->a, E->b, E->beta_multi, E->a_multi,
                             E->b_multi, q->loglik, q->grad_norm, q->iterations, q->flags);
                degenerate += (q->flags & GM_MOE_DEGENERATE) != 0;
            }
        rc = gm_write_file_atomic(path, buf, (size_t)(w - buf));
        free(buf);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        sim_summary *S = &sum[ci];
        double med_it = 0.0;
        size_t nit = 0;
        for (size_t g = 0; g < G; g++) {
            for (int qi = 0; qi < N_Q; qi++) {
                for (size_t r = 0; r < R; r++) {
                    double qv[N_Q];
                    record_quantities(&rec[g * R + r], qv);
                    vals[r] = qv[qi];
                }
                S->median[qi][g] = median_of(vals, R, scratch);
                S->mean[qi][g] = mean_of(vals, R);
            }
            if (g == G - 1)
                for (size_t r = 0; r < R && nit < 4096; r++) its[nit++] = (double)rec[g * R + r].iterations;
        }
        med_it = median_of(its, nit, scratch);
        cJSON *cj = cJSON_AddObjectToObject(cases, sc->name);
        cJSON_AddNumberToObject(cj, "k_fit", (double)sc->k_fit);
        cJSON_AddStringToObject(cj, "gate", gate_name(sc->gate));
        cJSON_AddBoolToObject(cj, "vanishing_a2", sc->regime2);
        for (int qi = 0; qi < N_Q; qi++) {
            S->slope_median[qi] = slope_or_nan(ns, S->median[qi], G, &S->intercept_median[qi]);
            S->slope_mean[qi] = slope_or_nan(ns, S->mean[qi], G, NULL);
            S->slope_median_upper[qi] = slope_or_nan(ns + h, S->median[qi] + h, G - h, NULL);
            cJSON *qo = cJSON_AddObjectToObject(cj, q_names[qi]);
            cJSON_AddItemToObject(qo, "median", num_array_nan(S->median[qi], G));
            cJSON_AddItemToObject(qo, "mean", num_array_nan(S->mean[qi], G));
            add_num_or_null(qo, "slope_median", S->slope_median[qi]);
            add_num_or_null(qo, "slope_median_upper_half", S->slope_median_upper[qi]);
            add_num_or_null(qo, "slope_mean", S->slope_mean[qi]);
        }
        cJSON_AddNumberToObject(cj, "degenerate_fits", (double)degenerate);
        cJSON_AddNumberToObject(cj, "median_em_iterations_at_nmax", med_it);
        cJSON_AddStringToObject(cj, "theory", sc->theory);
        cJSON_AddNumberToObject(cj, "seconds", gm_time_now() - t0);
        printf("%-9s %6.3f | %6.3f %6.3f | %6.3f %6.3f | %6.3f %6zu %7.0f  %s\n", sc->name, S->slope_median[Q_D1],
               S->slope_median_upper[Q_D1], S->slope_median[Q_CELL], S->slope_median_upper[Q_CELL],
               S->slope_median[Q_SINGLE], S->slope_median_upper[Q_SINGLE], degenerate, med_it, sc->theory);
        fflush(stdout);
    }
    if (status == CLI_OK) {
        cJSON_AddNumberToObject(summary, "seconds", gm_time_now() - t_all);
        char path[4096];
        snprintf(path, sizeof path, "%s/moe_sim_summary.json", outdir);
        rc = write_json(path, summary);
        if (rc) status = cli_fail(rc);
        if (!rc && plot) {
            snprintf(path, sizeof path, "%s/moe_sim.png", outdir);
            rc = sim_plot(path, sim_title(design), "median D1", Q_D1, ns, G, sum, ran, 1);
            if (!rc) {
                snprintf(path, sizeof path, "%s/moe_sim_params.png", outdir);
                rc = sim_plot(path, "over-specified cell: gate + expert slope errors vs n", "median error",
                              Q_CELL, ns, G, sum, ran, 1);
            }
            if (rc) status = cli_fail(rc);
        }
        if (status == CLI_OK)
            printf("wrote %s/moe_sim_*.csv, moe_sim_summary.json%s (%.1f s)\n", outdir,
                   plot ? ", moe_sim.png, moe_sim_params.png" : "", gm_time_now() - t_all);
    }
    cJSON_Delete(summary);
    free(ns);
    free(rec);
    free(vals);
    free(scratch);
    free(sum);
    return status;
}

/* ============================================================================================== */

static void moe_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe <fit|select|predict|sample|simulate> [options]\n\n"
            "Softmax-gated multinomial-logistic mixture of experts (classification).\n"
            "  fit       EM fit with restarts from a CSV; writes a model .json or .safetensors\n"
            "  select    fit k = 1..K experts and choose k by BIC (or AIC/ICL)\n"
            "  predict   class probabilities of a fitted model on a CSV\n"
            "  sample    draw (x, y) rows from a model (x uniform on [-xr, xr]^d, or y for the x of a CSV)\n"
            "  simulate  the convergence-rate study (Voronoi losses vs n, log-log slopes)\n"
            "See 'genmix moe <sub> --help'.\n");
}

int cmd_moe(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        moe_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    optind = 1;
    if (!strcmp(sub, "fit")) return moe_fit_or_select(argc - 1, argv + 1, 0);
    if (!strcmp(sub, "select")) return moe_fit_or_select(argc - 1, argv + 1, 1);
    if (!strcmp(sub, "sample")) return moe_sample(argc - 1, argv + 1);
    if (!strcmp(sub, "predict")) return moe_predict(argc - 1, argv + 1);
    if (!strcmp(sub, "simulate")) return moe_simulate(argc - 1, argv + 1);
    fprintf(stderr, "genmix moe: unknown subcommand '%s'\n", sub);
    moe_usage(stderr);
    return CLI_USAGE;
}
