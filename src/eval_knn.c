/* eval_knn.c — tiled k-NN engine: per-row top-k radii over the symmetric X×X tiles (each tile computed
 * once and used for its rows and its columns), then one pass over the real×fake tiles for improved
 * precision/recall, density, coverage and realism. Memory O(n·k + tile²): no n×n matrix is formed.
 * Distances: D = ||a||² + ||b||² − 2 a·b (GEMM, clamped at 0), compared squared (d < r ⇔ d² < r²).
 * Determinism: each radius is the k-th smallest value of a set, counts are integers and flags are ORs,
 * so the results are the same for any tile order and thread count. Thread safety: re-entrant. */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COLBLK 64

gm_knn_config gm_knn_config_default(void) {
    gm_knn_config c;
    memset(&c, 0, sizeof c);
    c.k_pr = 3;
    c.cmp_pr = GM_CMP_LE;
    c.k_dc = 5;
    c.cmp_dc = GM_CMP_LT;
    c.want_pr = 1;
    c.want_dc = 1;
    c.realism = GM_REALISM_NONE;
    c.tile = 1024;
    c.f32 = 0;
    return c;
}

void gm_knn_result_free(gm_knn_result *r) {
    if (!r) return;
    gm_free(r->fake_in_real);
    gm_free(r->real_in_fake);
    gm_free(r->fake_in_real_dc);
    gm_free(r->real_in_fake_dc);
    gm_free(r->density_count);
    gm_free(r->covered);
    gm_free(r->realism);
    gm_free(r->radius_real_pr);
    gm_free(r->radius_fake_pr);
    gm_free(r->radius_real_dc);
    gm_free(r->radius_fake_dc);
    memset(r, 0, sizeof *r);
}

static inline void topk_insert(double *top, size_t k, double v) {
    if (!(v < top[k - 1])) return;
    size_t p = k - 1;
    while (p > 0 && top[p - 1] > v) {
        top[p] = top[p - 1];
        p--;
    }
    top[p] = v;
}

static inline int inside(double d2, double r2, gm_cmp c) { return c == GM_CMP_LE ? d2 <= r2 : d2 < r2; }

/* Tile workspace: row blocks in the GEMM precision and the assembled squared distances. */
typedef struct {
    size_t t, d;
    int f32;
    void *A, *B, *G;
    double *D;
} tilews;

static int tilews_init(tilews *w, size_t t, size_t d, int f32) {
    size_t es = f32 ? sizeof(float) : sizeof(double);
    w->t = t;
    w->d = d;
    w->f32 = f32;
    w->A = gm_malloc(t * d * es);
    w->B = gm_malloc(t * d * es);
    w->G = f32 ? gm_malloc(t * t * es) : NULL;
    w->D = gm_malloc(t * t * sizeof(double));
    if (!w->A || !w->B || (f32 && !w->G) || !w->D) return GM_ENOMEM;
    return GM_OK;
}

static void tilews_free(tilews *w) {
    gm_free(w->A);
    gm_free(w->B);
    gm_free(w->G);
    gm_free(w->D);
}

static void load_rows(tilews *w, void *dst, const gm_feats *x, size_t r0, size_t cnt) {
    if (w->f32)
        gm__rows_f32(x, r0, cnt, dst);
    else
        gm__rows_f64(x, r0, cnt, dst);
}

/* D(mi, mj) = max(na + nb - 2 A B^T, 0) for the loaded blocks. same: B is A (load skipped by caller). */
static void tile_dist(tilews *w, size_t mi, size_t mj, const double *na, const double *nb, int same) {
    const void *B = same ? w->A : w->B;
    double *D = w->D;
    if (w->f32) {
        gm__sgemm_nt(mi, mj, w->d, w->A, B, w->G);
        const float *G = w->G;
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
        for (long i = 0; i < (long)mi; i++)
            for (size_t j = 0; j < mj; j++) {
                double v = na[i] + nb[j] - 2.0 * (double)G[(size_t)i * mj + j];
                D[(size_t)i * mj + j] = v > 0 ? v : 0;
            }
    } else {
        gm__dgemm_nt(mi, mj, w->d, -2.0, w->A, B, 0.0, D);
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
        for (long i = 0; i < (long)mi; i++)
            for (size_t j = 0; j < mj; j++) {
                double v = na[i] + nb[j] + D[(size_t)i * mj + j];
                D[(size_t)i * mj + j] = v > 0 ? v : 0;
            }
    }
}

static int radii_impl(const gm_feats *x, const double *nrm, size_t kmax, size_t tile, int f32, double *radii,
                      void (*progress)(const char *, double, void *), void *pctx, const char *stage) {
    if (kmax == 0 || kmax >= x->n)
        GM_FAIL(GM_EINVAL, "k-NN: k = %zu must be in 1..n-1 (the set has %zu rows)", kmax, x->n);
    if (tile == 0) GM_FAIL(GM_EINVAL, "k-NN: tile size 0");
    size_t n = x->n;
    for (size_t i = 0; i < n * kmax; i++) radii[i] = INFINITY;
    tilews w;
    memset(&w, 0, sizeof w);
    if (tilews_init(&w, tile, x->d, f32)) {
        tilews_free(&w);
        return GM_ENOMEM;
    }
    size_t nt = (n + tile - 1) / tile, done = 0, total = nt * (nt + 1) / 2;
    for (size_t i0 = 0; i0 < n; i0 += tile) {
        size_t mi = n - i0 < tile ? n - i0 : tile;
        load_rows(&w, w.A, x, i0, mi);
        for (size_t j0 = i0; j0 < n; j0 += tile) {
            size_t mj = n - j0 < tile ? n - j0 : tile;
            int diag = j0 == i0;
            if (!diag) load_rows(&w, w.B, x, j0, mj);
            tile_dist(&w, mi, mj, nrm + i0, nrm + j0, diag);
            const double *D = w.D;
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
            for (long i = 0; i < (long)mi; i++) {
                double *top = radii + (i0 + (size_t)i) * kmax;
                const double *row = D + (size_t)i * mj;
                for (size_t j = 0; j < mj; j++)
                    if (!diag || j != (size_t)i) topk_insert(top, kmax, row[j]);
            }
            if (!diag) {
                size_t nb = (mj + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
                for (long b = 0; b < (long)nb; b++) {
                    size_t c0 = (size_t)b * COLBLK, c1 = c0 + COLBLK < mj ? c0 + COLBLK : mj;
                    for (size_t i = 0; i < mi; i++) {
                        const double *row = D + i * mj;
                        for (size_t j = c0; j < c1; j++) topk_insert(radii + (j0 + j) * kmax, kmax, row[j]);
                    }
                }
            }
            done++;
            if (progress) progress(stage, (double)done / (double)total, pctx);
        }
    }
    tilews_free(&w);
    return GM_OK;
}

int gm_knn_radii(const gm_feats *x, size_t kmax, size_t tile, int f32, double *radii) {
    GM_ASSERT(x && radii);
    double *nrm = gm_malloc(x->n * sizeof(double));
    if (!nrm) return GM_ENOMEM;
    gm__row_norms(x, nrm);
    int rc = radii_impl(x, nrm, kmax, tile, f32, radii, NULL, NULL, NULL);
    gm_free(nrm);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* np.percentile(v, 50) (linear interpolation) */
static double median_of(const double *v, size_t n) {
    double *s = gm_malloc(n * sizeof(double));
    if (!s) return NAN;
    memcpy(s, v, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    gm_free(s);
    return m;
}

/* Allocate the result arrays and pull the two radii of each k out of the sorted lists. */
static int alloc_result(gm_knn_result *r, const gm_knn_config *c, size_t nr, size_t nf) {
    r->n_real = nr;
    r->n_fake = nf;
    int ok = 1;
    if (c->want_pr) {
        ok &= !!(r->fake_in_real = gm_calloc(nf, 1)) & !!(r->real_in_fake = gm_calloc(nr, 1));
        ok &= !!(r->radius_real_pr = gm_malloc(nr * sizeof(double))) &
              !!(r->radius_fake_pr = gm_malloc(nf * sizeof(double)));
    }
    if (c->want_dc) {
        ok &= !!(r->fake_in_real_dc = gm_calloc(nf, 1)) & !!(r->real_in_fake_dc = gm_calloc(nr, 1));
        ok &= !!(r->density_count = gm_calloc(nf, sizeof(uint32_t))) & !!(r->covered = gm_calloc(nr, 1));
        ok &= !!(r->radius_real_dc = gm_malloc(nr * sizeof(double))) &
              !!(r->radius_fake_dc = gm_malloc(nf * sizeof(double)));
    }
    if (c->realism != GM_REALISM_NONE) ok &= !!(r->realism = gm_malloc(nf * sizeof(double)));
    return ok ? GM_OK : GM_ENOMEM;
}

static int check_cfg(const gm_feats *real, const gm_feats *fake, const gm_knn_config *c) {
    int rc = gm__check_pair(real, fake, 2, "k-NN");
    if (rc) return rc;
    if (!c->want_pr && !c->want_dc) GM_FAIL(GM_EINVAL, "k-NN: nothing requested");
    if (c->realism == GM_REALISM_KYNKAAT && !c->want_pr) GM_FAIL(GM_EINVAL, "k-NN: kynkaat realism needs P/R");
    if (c->realism == GM_REALISM_DGM && !c->want_dc) GM_FAIL(GM_EINVAL, "k-NN: dgm-eval realism needs PRDC");
    size_t nmin = real->n < fake->n ? real->n : fake->n;
    size_t kk[2] = {c->want_pr ? c->k_pr : 1, c->want_dc ? c->k_dc : 1};
    for (int i = 0; i < 2; i++)
        if (kk[i] == 0 || kk[i] >= nmin)
            GM_FAIL(GM_EINVAL, "k-NN: k = %zu must be in 1..n-1 (sets have %zu and %zu rows)", kk[i], real->n,
                    fake->n);
    return GM_OK;
}

/* Per-sample outputs -> summary numbers; realism threshold set up by the caller. */
static void finish_result(gm_knn_result *r, const gm_knn_config *c, const double *mind) {
    size_t nr = r->n_real, nf = r->n_fake;
    if (c->want_pr) {
        size_t a = 0, b = 0;
        for (size_t j = 0; j < nf; j++) a += r->fake_in_real[j];
        for (size_t i = 0; i < nr; i++) b += r->real_in_fake[i];
        r->precision = (double)a / (double)nf;
        r->recall = (double)b / (double)nr;
        double s = r->precision + r->recall;
        r->f1 = 2 * r->precision * r->recall / (s > 1e-5 ? s : 1e-5);
    }
    if (c->want_dc) {
        size_t a = 0, b = 0, cov = 0;
        double dens = 0;
        for (size_t j = 0; j < nf; j++) {
            r->fake_in_real_dc[j] = r->density_count[j] > 0;
            a += r->fake_in_real_dc[j];
            dens += (double)r->density_count[j];
        }
        for (size_t i = 0; i < nr; i++) {
            r->covered[i] = (uint8_t)inside(mind[i], r->radius_real_dc[i], c->cmp_dc);
            b += r->real_in_fake_dc[i];
            cov += r->covered[i];
        }
        r->dc_precision = (double)a / (double)nf;
        r->dc_recall = (double)b / (double)nr;
        r->density = dens / ((double)c->k_dc * (double)nf);
        r->coverage = (double)cov / (double)nr;
    }
}

/* Realism weight of real point i: w_i = r_i² (kynkaat, used as r²/(d²+1e-5)) or r_i (dgm, r/d); eligible
 * when its radius is <= (kynkaat) / < (dgm) the median radius. */
static int realism_setup(const gm_knn_result *r, const gm_knn_config *c, double *thr, const double **rad) {
    if (c->realism == GM_REALISM_NONE) return GM_OK;
    *rad = c->realism == GM_REALISM_KYNKAAT ? r->radius_real_pr : r->radius_real_dc;
    *thr = median_of(*rad, r->n_real);
    return isnan(*thr) ? GM_ENOMEM : GM_OK;
}

static inline double realism_term(gm_realism_kind kind, double r2, double thr, double d2) {
    if (kind == GM_REALISM_KYNKAAT) return r2 <= thr ? r2 / (d2 + 1e-5) : 0.0;
    if (!(r2 < thr)) return 0.0;
    return d2 > 0 ? sqrt(r2) / sqrt(d2) : (double)INFINITY;
}

int gm_knn(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out) {
    GM_ASSERT(cfg && out);
    memset(out, 0, sizeof *out);
    int rc = check_cfg(real, fake, cfg);
    if (rc) return rc;
    size_t nr = real->n, nf = fake->n, tile = cfg->tile ? cfg->tile : 1024;
    size_t kmax = 0;
    if (cfg->want_pr) kmax = cfg->k_pr;
    if (cfg->want_dc && cfg->k_dc > kmax) kmax = cfg->k_dc;
    double *nrr = gm_malloc(nr * sizeof(double)), *nrf = gm_malloc(nf * sizeof(double));
    double *tr = gm_malloc(nr * kmax * sizeof(double)), *tf = gm_malloc(nf * kmax * sizeof(double));
    double *mind = gm_malloc(nr * sizeof(double));
    tilews w;
    memset(&w, 0, sizeof w);
    rc = GM_ENOMEM;
    if (!nrr || !nrf || !tr || !tf || !mind || alloc_result(out, cfg, nr, nf)) goto done;
    gm__row_norms(real, nrr);
    gm__row_norms(fake, nrf);
    if ((rc = radii_impl(real, nrr, kmax, tile, cfg->f32, tr, cfg->progress, cfg->progress_ctx, "radii real")))
        goto done;
    if ((rc = radii_impl(fake, nrf, kmax, tile, cfg->f32, tf, cfg->progress, cfg->progress_ctx, "radii fake")))
        goto done;
    for (size_t i = 0; i < nr; i++) {
        if (cfg->want_pr) out->radius_real_pr[i] = tr[i * kmax + cfg->k_pr - 1];
        if (cfg->want_dc) out->radius_real_dc[i] = tr[i * kmax + cfg->k_dc - 1];
        mind[i] = INFINITY;
    }
    for (size_t j = 0; j < nf; j++) {
        if (cfg->want_pr) out->radius_fake_pr[j] = tf[j * kmax + cfg->k_pr - 1];
        if (cfg->want_dc) out->radius_fake_dc[j] = tf[j * kmax + cfg->k_dc - 1];
        if (out->realism) out->realism[j] = 0;
    }
    double thr = 0;
    const double *rrad = NULL;
    if ((rc = realism_setup(out, cfg, &thr, &rrad))) goto done;
    rc = GM_ENOMEM;
    if (tilews_init(&w, tile, real->d, cfg->f32)) goto done;
    size_t ntr = (nr + tile - 1) / tile, ntf = (nf + tile - 1) / tile, done_t = 0;
    const gm_knn_config *c = cfg;
    gm_knn_result *r = out;
    for (size_t i0 = 0; i0 < nr; i0 += tile) {
        size_t mi = nr - i0 < tile ? nr - i0 : tile;
        load_rows(&w, w.A, real, i0, mi);
        for (size_t j0 = 0; j0 < nf; j0 += tile) {
            size_t mj = nf - j0 < tile ? nf - j0 : tile;
            load_rows(&w, w.B, fake, j0, mj);
            tile_dist(&w, mi, mj, nrr + i0, nrf + j0, 0);
            const double *D = w.D;
            /* real side: recall flags and nearest fake distance */
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
            for (long ii = 0; ii < (long)mi; ii++) {
                size_t i = i0 + (size_t)ii;
                const double *row = D + (size_t)ii * mj;
                double mn = mind[i];
                int in_pr = c->want_pr ? r->real_in_fake[i] : 1, in_dc = c->want_dc ? r->real_in_fake_dc[i] : 1;
                for (size_t j = 0; j < mj; j++) {
                    double d2 = row[j];
                    if (d2 < mn) mn = d2;
                    if (!in_pr && inside(d2, r->radius_fake_pr[j0 + j], c->cmp_pr)) in_pr = 1;
                    if (!in_dc && inside(d2, r->radius_fake_dc[j0 + j], c->cmp_dc)) in_dc = 1;
                }
                mind[i] = mn;
                if (c->want_pr) r->real_in_fake[i] = (uint8_t)in_pr;
                if (c->want_dc) r->real_in_fake_dc[i] = (uint8_t)in_dc;
            }
            /* fake side: precision flags, density counts, realism (column blocks, rows in order) */
            size_t nb = (mj + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if (mi * mj > 65536)
            for (long b = 0; b < (long)nb; b++) {
                size_t c0 = (size_t)b * COLBLK, c1 = c0 + COLBLK < mj ? c0 + COLBLK : mj;
                for (size_t ii = 0; ii < mi; ii++) {
                    size_t i = i0 + ii;
                    const double *row = D + ii * mj;
                    double rp = c->want_pr ? r->radius_real_pr[i] : 0, rd = c->want_dc ? r->radius_real_dc[i] : 0;
                    for (size_t j = c0; j < c1; j++) {
                        double d2 = row[j];
                        if (c->want_pr && inside(d2, rp, c->cmp_pr)) r->fake_in_real[j0 + j] = 1;
                        if (c->want_dc && inside(d2, rd, c->cmp_dc)) r->density_count[j0 + j]++;
                        if (r->realism) {
                            double v = realism_term(c->realism, rrad[i], thr, d2);
                            if (v > r->realism[j0 + j]) r->realism[j0 + j] = v;
                        }
                    }
                }
            }
            done_t++;
            if (cfg->progress) cfg->progress("real x fake", (double)done_t / (double)(ntr * ntf), cfg->progress_ctx);
        }
    }
    finish_result(out, cfg, mind);
    rc = GM_OK;
done:
    tilews_free(&w);
    gm_free(nrr);
    gm_free(nrf);
    gm_free(tr);
    gm_free(tf);
    gm_free(mind);
    if (rc) gm_knn_result_free(out);
    return rc;
}

/* ---- naive reference ----------------------------------------------------------------------------- */

static double naive_d2(const gm_feats *a, size_t i, const gm_feats *b, size_t j) {
    double s = 0;
    for (size_t t = 0; t < a->d; t++) {
        double u = gm_feats_at(a, i, t) - gm_feats_at(b, j, t);
        s += u * u;
    }
    return s;
}

/* Full distance matrix of a set, k-th smallest per row by sorting (self excluded by index). */
static int naive_radii(const gm_feats *x, size_t k, double *rad) {
    size_t n = x->n;
    double *row = gm_malloc(n * sizeof(double));
    if (!row) return GM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) row[m++] = naive_d2(x, i, x, j);
        qsort(row, m, sizeof(double), cmp_double);
        rad[i] = row[k - 1];
    }
    gm_free(row);
    return GM_OK;
}

int gm_knn_ref(const gm_feats *real, const gm_feats *fake, const gm_knn_config *cfg, gm_knn_result *out) {
    GM_ASSERT(cfg && out);
    memset(out, 0, sizeof *out);
    int rc = check_cfg(real, fake, cfg);
    if (rc) return rc;
    size_t nr = real->n, nf = fake->n;
    double *mind = gm_malloc(nr * sizeof(double));
    rc = GM_ENOMEM;
    if (!mind || alloc_result(out, cfg, nr, nf)) goto done;
    if (cfg->want_pr && ((rc = naive_radii(real, cfg->k_pr, out->radius_real_pr)) ||
                         (rc = naive_radii(fake, cfg->k_pr, out->radius_fake_pr))))
        goto done;
    if (cfg->want_dc && ((rc = naive_radii(real, cfg->k_dc, out->radius_real_dc)) ||
                         (rc = naive_radii(fake, cfg->k_dc, out->radius_fake_dc))))
        goto done;
    double thr = 0;
    const double *rrad = NULL;
    if ((rc = realism_setup(out, cfg, &thr, &rrad))) goto done;
    for (size_t i = 0; i < nr; i++) mind[i] = INFINITY;
    for (size_t j = 0; j < nf; j++) {
        double best = 0;
        for (size_t i = 0; i < nr; i++) {
            double d2 = naive_d2(real, i, fake, j);
            if (d2 < mind[i]) mind[i] = d2;
            if (cfg->want_pr) {
                if (inside(d2, out->radius_real_pr[i], cfg->cmp_pr)) out->fake_in_real[j] = 1;
                if (inside(d2, out->radius_fake_pr[j], cfg->cmp_pr)) out->real_in_fake[i] = 1;
            }
            if (cfg->want_dc) {
                if (inside(d2, out->radius_real_dc[i], cfg->cmp_dc)) out->density_count[j]++;
                if (inside(d2, out->radius_fake_dc[j], cfg->cmp_dc)) out->real_in_fake_dc[i] = 1;
            }
            if (out->realism) {
                double v = realism_term(cfg->realism, rrad[i], thr, d2);
                if (v > best) best = v;
            }
        }
        if (out->realism) out->realism[j] = best;
    }
    finish_result(out, cfg, mind);
    rc = GM_OK;
done:
    gm_free(mind);
    if (rc) gm_knn_result_free(out);
    return rc;
}
