/* eval_perclass.c — metrics per class of the generated rows: gm_vendi_per_class (the Vendi score of each
 * class's rows and their unweighted mean, as dgm-eval reports per-class Vendi).
 * Owns: the result arrays (gm_vendi_per_class_free) and a call-local copy of one class's rows.
 * Thread safety: reentrant (gm_vendi's own threading). */
#include <stdlib.h>
#include <string.h>

#include "genmix/eval.h"

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void gm_vendi_per_class_free(gm_vendi_classes *r) {
    if (!r) return;
    gm_free(r->labels);
    gm_free(r->counts);
    gm_free(r->values);
    memset(r, 0, sizeof *r);
}

int gm_vendi_per_class(const gm_feats *x, const int64_t *labels, const gm_kernel *k, double q, gm_vendi_classes *out) {
    GM_ASSERT(x != NULL && k != NULL && out != NULL && (labels != NULL || x->n == 0));
    memset(out, 0, sizeof *out);
    size_t n = x->n, d = x->d, es = x->is_f64 ? sizeof(double) : sizeof(float);
    if (n == 0) GM_FAIL(GM_EINVAL, "per-class Vendi: no rows");
    int64_t *cls = gm_malloc(n * sizeof(int64_t));
    char *buf = gm_malloc(n * d * es);
    if (!cls || !buf) {
        gm_free(cls);
        gm_free(buf);
        return gm_error_prefix(GM_ENOMEM, "per-class Vendi");
    }
    memcpy(cls, labels, n * sizeof(int64_t));
    qsort(cls, n, sizeof(int64_t), cmp_i64);
    size_t ncls = 0;
    for (size_t a = 0; a < n; a++) ncls += a == 0 || cls[a] != cls[a - 1];
    out->labels = gm_malloc(ncls * sizeof(int64_t));
    out->counts = gm_malloc(ncls * sizeof(size_t));
    out->values = gm_malloc(ncls * sizeof(double));
    int rc = GM_OK;
    if (!out->labels || !out->counts || !out->values) rc = gm_error_prefix(GM_ENOMEM, "per-class Vendi");
    double sum = 0;
    size_t c = 0;
    for (size_t a = 0; a < n && !rc; a++) {
        if (a > 0 && cls[a] == cls[a - 1]) continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (labels[i] == cls[a]) memcpy(buf + m++ * d * es, (const char *)x->data + i * d * es, d * es);
        gm_feats sub = {buf, m, d, x->is_f64};
        double v;
        if ((rc = gm_vendi(&sub, k, q, &v, NULL))) break;
        out->labels[c] = cls[a];
        out->counts[c] = m;
        out->values[c] = v;
        sum += v;
        c++;
    }
    gm_free(cls);
    gm_free(buf);
    if (rc) {
        gm_vendi_per_class_free(out);
        return rc;
    }
    out->n_classes = ncls;
    out->mean = sum / (double)ncls;
    return GM_OK;
}
