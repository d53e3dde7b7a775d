/* SPDX-License-Identifier: MIT */
/* eval_boot.c — percentile bootstraps (k-NN indicators, subset means, FD with multinomial row counts)
 * and the compatibility profiles. Replicates draw from Philox streams keyed by the replicate index, so
 * the intervals do not depend on the thread count. Owns nothing between calls. Thread safety: re-entrant.
 *
 * module: eval (src/eval/) owns the sample-quality metrics between feature sets (FD, KID/MMD, k-NN P/R and
 * density/coverage, PRD, Vendi, RKE, IS), their bootstraps and the compatibility profiles (genmix/eval.h).
 * It uses core, io, linalg and nn; the methods (mix, moe, latent, ...) may use it. */
#include "eval_internal.h"
#include "genmix/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double gm_eval_percentile(const double *v, size_t n, double q) {
    double r;
    return gm_percentile(v, n, q, &r) == GM_OK ? r : (double)NAN;
}

/* Central `level` percentile interval of v[0..B); GM_ENOMEM (not a NaN interval) when the copy fails. */
static int interval(const double *v, size_t B, double level, gm_ci *c) {
    if (B == 0) {
        c->lo = c->hi = NAN;
        return GM_OK;
    }
    double *s = gm_malloc(B * sizeof(double));
    if (!s) return GM_ENOMEM;
    memcpy(s, v, B * sizeof(double));
    gm_sort_f64(s, B);
    c->lo = gm_percentile_sorted(s, B, 50 * (1 - level));
    c->hi = gm_percentile_sorted(s, B, 100 - 50 * (1 - level));
    gm_free(s);
    return GM_OK;
}

gm_ci gm_ci_bias_corrected(const double *v, size_t B, double estimate, double level) {
    gm_ci c;
    if (interval(v, B, level, &c)) return (gm_ci){NAN, NAN};
    double m = 0;
    for (size_t b = 0; b < B; b++) m += v[b];
    double bias = B ? m / (double)B - estimate : 0;
    c.lo -= bias;
    c.hi -= bias;
    return c;
}

int gm_knn_bootstrap(const gm_knn_result *r, const gm_knn_config *cfg, size_t B, uint64_t seed, double level,
                     gm_knn_ci *ci) {
    GM_ASSERT(r && cfg && ci);
    if (B < 2 || !(level > 0 && level < 1)) GM_FAIL(GM_EINVAL, "bootstrap: needs B >= 2 and 0 < level < 1");
    memset(ci, 0, sizeof *ci);
    double *v = gm_malloc(6 * B * sizeof(double));
    if (!v) return GM_ENOMEM;
    size_t nr = r->n_real, nf = r->n_fake;
#pragma omp parallel for schedule(static)
    for (long b = 0; b < (long)B; b++) {
        gm_rng g;
        gm_rng_init(&g, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)3 << 32) + (uint64_t)b));
        double p = 0, pd = 0, dens = 0, rc = 0, rd = 0, cov = 0;
        for (size_t t = 0; t < nf; t++) {
            size_t j = (size_t)gm_rng_below(&g, nf);
            if (cfg->want_pr) p += r->fake_in_real[j];
            if (cfg->want_dc) {
                pd += r->density_count[j] > 0;
                dens += r->density_count[j];
            }
        }
        for (size_t t = 0; t < nr; t++) {
            size_t i = (size_t)gm_rng_below(&g, nr);
            if (cfg->want_pr) rc += r->real_in_fake[i];
            if (cfg->want_dc) {
                rd += r->real_in_fake_dc[i];
                cov += r->covered[i];
            }
        }
        double *o = v + 6 * (size_t)b;
        o[0] = p / (double)nf;
        o[1] = rc / (double)nr;
        o[2] = pd / (double)nf;
        o[3] = rd / (double)nr;
        o[4] = cfg->want_dc ? dens / ((double)cfg->k_dc * (double)nf) : 0;
        o[5] = cov / (double)nr;
    }
    double *col = gm_malloc(B * sizeof(double));
    if (!col) {
        gm_free(v);
        return GM_ENOMEM;
    }
    gm_ci *dst[6] = {&ci->precision, &ci->recall, &ci->dc_precision, &ci->dc_recall, &ci->density, &ci->coverage};
    int rc = GM_OK;
    for (int m = 0; m < 6 && !rc; m++) {
        for (size_t b = 0; b < B; b++) col[b] = v[6 * b + (size_t)m];
        rc = interval(col, B, level, dst[m]);
    }
    gm_free(col);
    gm_free(v);
    return rc;
}

int gm_mean_bootstrap(const double *x, size_t n, size_t B, uint64_t seed, double level, gm_ci *ci) {
    if (n == 0 || B < 2 || !(level > 0 && level < 1)) GM_FAIL(GM_EINVAL, "bootstrap: needs n >= 1, B >= 2, 0 < level < 1");
    double *v = gm_malloc(B * sizeof(double));
    if (!v) return GM_ENOMEM;
    for (size_t b = 0; b < B; b++) {
        gm_rng g;
        gm_rng_init(&g, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)5 << 32) + b));
        double s = 0;
        for (size_t t = 0; t < n; t++) s += x[gm_rng_below(&g, n)];
        v[b] = s / (double)n;
    }
    int rc = interval(v, B, level, ci);
    gm_free(v);
    return rc;
}

/* Weighted statistics of x with integer row counts c (Σc = n): mean, M2 = Σ c_i (x_i - mu)(x_i - mu)^T. */
static int weighted_stats(const gm_feats *x, const uint32_t *c, gm_fdstats *s, double *A) {
    size_t n = x->n, d = x->d, rows = 0;
    for (size_t j = 0; j < d; j++) s->mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            for (size_t j = 0; j < d; j++) s->mean[j] += (double)c[i] * gm_feats_at(x, i, j);
    for (size_t j = 0; j < d; j++) s->mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        if (!c[i]) continue;
        double w = sqrt((double)c[i]);
        for (size_t j = 0; j < d; j++) A[rows * d + j] = w * (gm_feats_at(x, i, j) - s->mean[j]);
        rows++;
    }
    gm_la_dsyrk_tn(rows, d, A, s->m2);
    s->n = (int64_t)n;
    return GM_OK;
}

int gm_fd_bootstrap(const gm_feats *x1, const gm_feats *x2, gm_cov_norm norm, size_t B, uint64_t seed,
                    double *values) {
    int rc = gm_feats_check_pair(x1, x2, 2, "FD bootstrap");
    if (rc) return rc;
    size_t d = x1->d, nmax = x1->n > x2->n ? x1->n : x2->n;
    gm_fdstats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    uint32_t *c = gm_malloc(nmax * sizeof(uint32_t));
    double *A = gm_malloc(nmax * d * sizeof(double));
    rc = GM_ENOMEM;
    if (!c || !A || gm_fdstats_init(&s1, d) || gm_fdstats_init(&s2, d)) goto done;
    for (size_t b = 0; b < B; b++) {
        gm_rng g;
        gm_rng_init(&g, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)4 << 32) + b));
        const gm_feats *xs[2] = {x1, x2};
        gm_fdstats *ss[2] = {&s1, &s2};
        for (int k = 0; k < 2; k++) {
            size_t n = xs[k]->n;
            memset(c, 0, n * sizeof(uint32_t));
            for (size_t t = 0; t < n; t++) c[gm_rng_below(&g, n)]++;
            weighted_stats(xs[k], c, ss[k], A);
        }
        gm_fd_result r;
        if ((rc = gm_fd_from_stats(&s1, &s2, norm, &r))) goto done;
        values[b] = r.fd;
    }
    rc = GM_OK;
done:
    gm_free(c);
    gm_free(A);
    gm_fdstats_free(&s1);
    gm_fdstats_free(&s2);
    return rc;
}

static int cmpz(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int gm_feats_subsample(const gm_feats *x, size_t m, uint64_t seed, uint64_t stream, void **buf, gm_feats *out) {
    GM_ASSERT(x && buf && out);
    size_t n = x->n, d = x->d, es = x->is_f64 ? sizeof(double) : sizeof(float);
    if (m > n) m = n;
    size_t *idx = gm_malloc((n ? n : 1) * sizeof(size_t));
    *buf = gm_malloc(((m * d) != 0 ? m * d : 1) * es);
    if (!idx || !*buf) {
        gm_free(idx);
        gm_free(*buf);
        *buf = NULL;
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    gm_rng g;
    gm_rng_init(&g, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)6 << 32) + stream));
    for (size_t i = 0; i < m && m < n; i++) {
        size_t j = i + (size_t)gm_rng_below(&g, n - i), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    qsort(idx, m, sizeof(size_t), cmpz);
    for (size_t i = 0; i < m; i++)
        memcpy((char *)*buf + i * d * es, (const char *)x->data + idx[i] * d * es, d * es);
    gm_free(idx);
    out->data = *buf;
    out->n = m;
    out->d = d;
    out->is_f64 = x->is_f64;
    return GM_OK;
}

/* ---- profiles ---------------------------------------------------------------------------------------- */

int gm_eval_profile_get(const char *name, gm_eval_profile *p) {
    GM_ASSERT(name && p);
    memset(p, 0, sizeof *p);
    p->cov_norm = GM_COV_UNBIASED;
    p->kid = gm_kid_config_default();
    p->knn = gm_knn_config_default();
    p->is_splits = 10;
    p->is_shuffle = GM_IS_SHUFFLE_NONE;
    if (!strcmp(name, "genmix")) {
    } else if (!strcmp(name, "torch-fidelity")) {
        p->fd_mean_f32 = 1;
        p->kid.f32 = 1;
        p->kid.strict = 1;
        p->knn.f32 = 1;
        p->knn.want_dc = 0;
        p->is_shuffle = GM_IS_SHUFFLE_MT2020;
    } else if (!strcmp(name, "clean-fid")) {
        p->fd_mean_f32 = 1;
        p->kid.f32 = 1;
    } else if (!strcmp(name, "nvidia")) {
        p->cov_norm = GM_COV_BIASED;
        p->kid.f32 = 1;
        p->knn.want_dc = 0;
    } else if (!strcmp(name, "openai")) { /* guided-diffusion evaluator: k 3, <=, fp16 squared distances */
        p->knn.f32 = 1;
        p->knn.fp16 = 1;
        p->knn.want_dc = 0;
    } else if (!strcmp(name, "prdc") || !strcmp(name, "dgm-eval")) {
        p->knn.k_pr = 5;
        p->knn.cmp_pr = GM_CMP_LT;
        p->knn.want_pr = 0;
        if (!strcmp(name, "prdc")) {
            p->knn_f32_if_input_f32 = 1;
        } else {
            p->knn_subsample = 10000;
            p->knn.realism = GM_REALISM_DGM;
            p->is_shuffle = GM_IS_SHUFFLE_MT2020;
            p->is_drop_remainder = 1;
        }
    } else {
        GM_FAIL(GM_EINVAL, "unknown profile '%s' (genmix, torch-fidelity, clean-fid, prdc, dgm-eval, nvidia, openai)", name);
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    return GM_OK;
}
