/* SPDX-License-Identifier: MIT */
/* eval_perclass.c — metrics per class of the generated rows: gm_vendi_per_class (the Vendi score of each
 * class's rows and their unweighted mean, as dgm-eval reports per-class Vendi) and the two-set metrics per
 * class (gm_fd_per_class, gm_kid_per_class, gm_knn_per_class: the metric between the real and generated
 * rows of each class, and the unweighted mean over classes).
 * Owns: the result arrays (gm_vendi_per_class_free, gm_class_metrics_free) and call-local copies of one
 * class's rows.
 * Thread safety: reentrant (gm_vendi's own threading). */
#include <stdio.h>
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

/* ---- two-set metrics per class ---------------------------------------------------------------------- */

void gm_class_metrics_free(gm_class_metrics *r) {
    if (!r) return;
    gm_free(r->labels);
    gm_free(r->n_real);
    gm_free(r->n_fake);
    gm_free(r->values);
    gm_free(r->mean);
    memset(r, 0, sizeof *r);
}

typedef int (*pc_metric)(const gm_feats *r, const gm_feats *f, const void *cfg, double *vals);

/* Copy the rows of x labelled c into buf; returns their count. */
static size_t gather(const gm_feats *x, const int64_t *labels, int64_t c, char *buf) {
    size_t es = x->is_f64 ? sizeof(double) : sizeof(float), row = x->d * es, m = 0;
    for (size_t i = 0; i < x->n; i++)
        if (labels[i] == c) memcpy(buf + m++ * row, (const char *)x->data + i * row, row);
    return m;
}

static int per_class(const gm_feats *real, const int64_t *lr, const gm_feats *fake, const int64_t *lf,
                     const char *what, size_t nv, pc_metric fn, const void *cfg, gm_class_metrics *out) {
    GM_ASSERT(real && fake && out);
    memset(out, 0, sizeof *out);
    if (real->n == 0 || fake->n == 0) GM_FAIL(GM_EINVAL, "per-class %s: no rows", what);
    if (!lr || !lf) GM_FAIL(GM_EINVAL, "per-class %s: labels are needed for both sets", what);
    if (real->d != fake->d)
        GM_FAIL(GM_ESHAPE, "per-class %s: feature dimensions differ (%zu vs %zu)", what, real->d, fake->d);
    size_t nr = real->n, nf = fake->n, d = real->d;
    int64_t *cls = gm_malloc(nf * sizeof(int64_t));
    char *br = gm_malloc(nr * d * (real->is_f64 ? 8 : 4)), *bf = gm_malloc(nf * d * (fake->is_f64 ? 8 : 4));
    int rc = GM_OK;
    if (!cls || !br || !bf) {
        rc = GM_ENOMEM;
        goto done;
    }
    memcpy(cls, lf, nf * sizeof(int64_t));
    qsort(cls, nf, sizeof(int64_t), cmp_i64);
    size_t nc = 0;
    for (size_t a = 0; a < nf; a++)
        if (a == 0 || cls[a] != cls[a - 1]) cls[nc++] = cls[a];
    out->labels = gm_malloc(nc * sizeof(int64_t));
    out->n_real = gm_malloc(nc * sizeof(size_t));
    out->n_fake = gm_malloc(nc * sizeof(size_t));
    out->values = gm_malloc(nc * nv * sizeof(double));
    out->mean = gm_calloc(nv, sizeof(double));
    if (!out->labels || !out->n_real || !out->n_fake || !out->values || !out->mean) {
        rc = GM_ENOMEM;
        goto done;
    }
    for (size_t c = 0; c < nc; c++) { /* every class must have real rows: checked before any metric runs */
        size_t m = 0;
        for (size_t i = 0; i < nr; i++) m += lr[i] == cls[c];
        if (m == 0) {
            rc = gm_set_error(GM_EINVAL, "per-class %s: class %lld has generated rows but no real rows", what,
                              (long long)cls[c]);
            goto done;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        gm_feats sr = {br, gather(real, lr, cls[c], br), d, real->is_f64};
        gm_feats sf = {bf, gather(fake, lf, cls[c], bf), d, fake->is_f64};
        out->labels[c] = cls[c];
        out->n_real[c] = sr.n;
        out->n_fake[c] = sf.n;
        if ((rc = fn(&sr, &sf, cfg, out->values + c * nv))) {
            char pre[64];
            snprintf(pre, sizeof pre, "per-class %s, class %lld", what, (long long)cls[c]);
            rc = gm_error_prefix(rc, pre);
            goto done;
        }
        for (size_t v = 0; v < nv; v++) out->mean[v] += out->values[c * nv + v];
    }
    for (size_t v = 0; v < nv; v++) out->mean[v] /= (double)nc;
    out->n_classes = nc;
    out->n_values = nv;
done:
    gm_free(cls);
    gm_free(br);
    gm_free(bf);
    if (rc) gm_class_metrics_free(out);
    return rc;
}

static int pc_fd(const gm_feats *r, const gm_feats *f, const void *cfg, double *vals) {
    gm_fd_result res;
    int rc = gm_fd(r, f, *(const gm_cov_norm *)cfg, &res);
    if (rc == GM_OK) vals[0] = res.fd;
    return rc;
}

static int pc_kid(const gm_feats *r, const gm_feats *f, const void *cfg, double *vals) {
    gm_kid_result res;
    int rc = gm_kid(r, f, cfg, &res, NULL);
    if (rc == GM_OK) {
        vals[0] = res.mean;
        vals[1] = res.std;
    }
    return rc;
}

static int pc_knn(const gm_feats *r, const gm_feats *f, const void *cfg, double *vals) {
    gm_knn_result res;
    int rc = gm_knn(r, f, cfg, &res);
    if (rc == GM_OK) {
        double v[7] = {res.precision, res.recall, res.f1, res.dc_precision, res.dc_recall, res.density, res.coverage};
        memcpy(vals, v, sizeof v);
        gm_knn_result_free(&res);
    }
    return rc;
}

int gm_fd_per_class(const gm_feats *real, const int64_t *real_labels, const gm_feats *fake,
                    const int64_t *fake_labels, gm_cov_norm norm, gm_class_metrics *out) {
    return per_class(real, real_labels, fake, fake_labels, "FD", 1, pc_fd, &norm, out);
}

int gm_kid_per_class(const gm_feats *real, const int64_t *real_labels, const gm_feats *fake,
                     const int64_t *fake_labels, const gm_kid_config *cfg, gm_class_metrics *out) {
    GM_ASSERT(cfg);
    return per_class(real, real_labels, fake, fake_labels, "KID", 2, pc_kid, cfg, out);
}

int gm_knn_per_class(const gm_feats *real, const int64_t *real_labels, const gm_feats *fake,
                     const int64_t *fake_labels, const gm_knn_config *cfg, gm_class_metrics *out) {
    GM_ASSERT(cfg);
    return per_class(real, real_labels, fake, fake_labels, "k-NN", 7, pc_knn, cfg, out);
}
