/* SPDX-License-Identifier: MIT */
/* moe_sim.c — Voronoi losses between a fitted and a true MoE (label switching and gate translation
 * handled by cells and the expert-block alignment of spec section 5.7), log-log slopes, the nearTrue start
 * and the convergence-rate simulation study (OpenMP over replications; results independent of the
 * thread count because every replication's data and start depend only on (seed, grid index, rep)).
 * Thread safety: no shared state. */
#include "genmix/linalg.h"
#include "genmix/moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ============================================================================================== */
/* Voronoi loss                                                                                    */
/* ============================================================================================== */

gm_moe_voronoi_config gm_moe_voronoi_d1(void) {
    gm_moe_voronoi_config c;
    for (int b = 0; b < 3; b++) {
        c.r_single[b] = 1.0;
        c.r_multi[b] = 2.0;
        c.c[b] = 1.0;
    }
    c.align = GM_MOE_ALIGN_EXPERT_BLOCKS;
    return c;
}

gm_moe_voronoi_config gm_moe_voronoi_d2r(double r) {
    gm_moe_voronoi_config c = gm_moe_voronoi_d1();
    for (int b = 0; b < 3; b++) c.r_single[b] = c.r_multi[b] = r;
    return c;
}

/* block distances between fitted atom i of f and true atom j of g: out[0] beta1, out[1] a, out[2] b */
static void block_dist(const gm_moe *f, size_t i, const gm_moe *g, size_t j, double out[3]) {
    size_t d = f->dim, p = d + 1, S = f->n_classes, kf = f->n_experts, kg = g->n_experts;
    double sb = 0.0, sa = 0.0, sc = 0.0;
    for (size_t r = 1; r < p; r++) {
        double v = f->W[r * kf + i] - g->W[r * kg + j];
        sb += v * v;
    }
    for (size_t r = 0; r < p; r++)
        for (size_t s = 0; s < S; s++) {
            double v = f->V[(i * p + r) * S + s] - g->V[(j * p + r) * S + s];
            if (r == 0)
                sc += v * v;
            else
                sa += v * v;
        }
    out[0] = sqrt(sb);
    out[1] = sqrt(sa);
    out[2] = sqrt(sc);
}

/* cells: cell_of[i] = argmin_j dist; use_gate = include the beta1 block */
static void assign_cells(const gm_moe *f, const gm_moe *g, int use_gate, size_t *cell_of) {
    for (size_t i = 0; i < f->n_experts; i++) {
        double best = INFINITY;
        size_t bj = 0;
        for (size_t j = 0; j < g->n_experts; j++) {
            double bd[3];
            block_dist(f, i, g, j, bd);
            double dd = (use_gate ? bd[0] : 0.0) + bd[1] + bd[2];
            if (dd < best) {
                best = dd;
                bj = j;
            }
        }
        cell_of[i] = bj;
    }
}

int gm_moe_voronoi_loss(const gm_moe *fit, const gm_moe *truth, const gm_moe_voronoi_config *cfg,
                        gm_moe_voronoi *out, size_t *cell_of_out) {
    memset(out, 0, sizeof *out);
    if (fit->n_classes != truth->n_classes || fit->dim != truth->dim)
        GM_FAIL(GM_ESHAPE, "voronoi: fitted (S=%zu, d=%zu) and true (S=%zu, d=%zu) models differ", fit->n_classes,
                fit->dim, truth->n_classes, truth->dim);
    size_t kf = fit->n_experts, kt = truth->n_experts, p = fit->dim + 1;
    gm_moe f, g;
    int rc = gm_moe_copy(&f, fit);
    if (rc) return rc;
    rc = gm_moe_copy(&g, truth);
    if (rc) {
        gm_moe_free(&f);
        return rc;
    }
    gm_moe_normalize(&f);
    gm_moe_normalize(&g);
    size_t *cell = gm_malloc(kf * sizeof(size_t));
    size_t *size = gm_calloc(kt, sizeof(size_t));
    double *mass = gm_calloc(kt, sizeof(double));
    rc = GM_ENOMEM;
    if (!cell || !size || !mass) goto done;
    if (cfg->align == GM_MOE_ALIGN_EXPERT_BLOCKS) {
        assign_cells(&f, &g, 0, cell);
        size_t ref = kt - 1, m = 0, only = 0;
        double lse_max = -INFINITY;
        for (size_t i = 0; i < kf; i++)
            if (cell[i] == ref) {
                m++;
                only = i;
                lse_max = fmax(lse_max, f.W[i]);
            }
        if (m > 0) {
            double t0, *t1 = gm_calloc(p, sizeof(double));
            if (!t1) goto done;
            if (m == 1) {
                t0 = f.W[only];
                for (size_t r = 1; r < p; r++) t1[r] = f.W[r * kf + only];
            } else {
                double s = 0.0;
                for (size_t i = 0; i < kf; i++)
                    if (cell[i] == ref) s += exp(f.W[i] - lse_max);
                t0 = lse_max + log(s);
                for (size_t i = 0; i < kf; i++)
                    if (cell[i] == ref) {
                        double wgt = exp(f.W[i] - lse_max) / s;
                        for (size_t r = 1; r < p; r++) t1[r] += wgt * f.W[r * kf + i];
                    }
            }
            t1[0] = t0;
            for (size_t r = 0; r < p; r++)
                for (size_t i = 0; i < kf; i++) f.W[r * kf + i] -= t1[r];
            gm_free(t1);
        }
    }
    assign_cells(&f, &g, 1, cell);
    for (size_t i = 0; i < kf; i++) {
        size[cell[i]]++;
        mass[cell[i]] += exp(f.W[i]);
    }
    for (size_t j = 0; j < kt; j++) {
        out->mass += fabs(mass[j] - exp(g.W[j]));
        if (size[j] >= 2) out->mass_multi += fabs(mass[j] - exp(g.W[j]));
        if (size[j] == 0) out->n_empty++;
        if (size[j] >= 2) out->n_multi++;
    }
    for (size_t i = 0; i < kf; i++) {
        size_t j = cell[i];
        const double *r = size[j] >= 2 ? cfg->r_multi : cfg->r_single;
        double bd[3], wi = exp(f.W[i]);
        block_dist(&f, i, &g, j, bd);
        double tb = wi * cfg->c[0] * pow(bd[0], r[0]);
        double ta = wi * cfg->c[1] * pow(bd[1], r[1]);
        double tc = wi * cfg->c[2] * pow(bd[2], r[2]);
        out->beta += tb;
        out->a += ta;
        out->b += tc;
        if (size[j] >= 2) {
            out->b_multi += tc;
            out->beta_multi += tb;
            out->a_multi += ta;
        }
    }
    out->total = out->mass + out->beta + out->a + out->b;
    if (cell_of_out) memcpy(cell_of_out, cell, kf * sizeof(size_t));
    rc = GM_OK;
done:
    gm_free(cell);
    gm_free(size);
    gm_free(mass);
    gm_moe_free(&f);
    gm_moe_free(&g);
    return rc;
}

int gm_loglog_slope(const double *x, const double *y, size_t m, double *slope, double *intercept) {
    double sx = 0.0, sy = 0.0;
    size_t c = 0;
    for (size_t i = 0; i < m; i++)
        if (x[i] > 0.0 && y[i] > 0.0 && isfinite(x[i]) && isfinite(y[i])) {
            sx += log(x[i]);
            sy += log(y[i]);
            c++;
        }
    if (c < 2) GM_FAIL(GM_EINVAL, "loglog_slope: need at least 2 positive points (got %zu)", c);
    double mx = sx / (double)c, my = sy / (double)c, sxx = 0.0, sxy = 0.0;
    for (size_t i = 0; i < m; i++)
        if (x[i] > 0.0 && y[i] > 0.0 && isfinite(x[i]) && isfinite(y[i])) {
            double a = log(x[i]) - mx, b = log(y[i]) - my;
            sxx += a * a;
            sxy += a * b;
        }
    if (!(sxx > 0.0)) GM_FAIL(GM_EINVAL, "loglog_slope: all x values are equal");
    *slope = sxy / sxx;
    if (intercept) *intercept = my - *slope * mx;
    return GM_OK;
}

/* ============================================================================================== */
/* nearTrue start and the simulation study                                                         */
/* ============================================================================================== */

int gm_moe_init_near_true(const gm_moe *truth, size_t k_fit, double sd_gate, double sd_expert, uint64_t seed,
                          uint64_t stream, gm_moe *out) {
    return gm_moe_init_near_true_split(truth, k_fit, sd_gate, sd_expert, seed, stream, SIZE_MAX, out);
}

int gm_moe_init_near_true_split(const gm_moe *truth, size_t k_fit, double sd_gate, double sd_expert,
                                uint64_t seed, uint64_t stream, size_t split_atom, gm_moe *out) {
    size_t kt = truth->n_experts, S = truth->n_classes, p = truth->dim + 1;
    if (k_fit < kt) GM_FAIL(GM_EINVAL, "near_true: k_fit %zu < true number of experts %zu", k_fit, kt);
    if (split_atom != SIZE_MAX && split_atom >= kt)
        GM_FAIL(GM_EINVAL, "near_true: split atom %zu out of range (k_* = %zu)", split_atom, kt);
    int rc = gm_moe_init(out, k_fit, S, truth->dim, truth->gate);
    if (rc) return rc;
    size_t *src = gm_malloc(k_fit * sizeof(size_t));
    int *used = gm_malloc(kt * sizeof(int));
    if (!src || !used) {
        gm_free(src);
        gm_free(used);
        gm_moe_free(out);
        return GM_ENOMEM;
    }
    gm_moe g;
    rc = gm_moe_copy(&g, truth);
    if (rc) {
        gm_free(src);
        gm_free(used);
        gm_moe_free(out);
        return rc;
    }
    gm_moe_normalize(&g);
    gm_rng r;
    gm_rng_init(&r, seed, stream);
    for (;;) {
        if (split_atom != SIZE_MAX) {
            /* fitted atoms: the non-reference true atoms in order, the extra copies of split_atom, and the
             * reference last (so the reference is copied by the last fitted atom, as in the spec) */
            size_t i = 0;
            for (size_t j = 0; j + 1 < kt; j++) src[i++] = j;
            while (i + 1 < k_fit) src[i++] = split_atom;
            src[k_fit - 1] = kt - 1;
            break;
        }
        for (size_t j = 0; j < kt; j++) used[j] = 0;
        for (size_t i = 0; i + 1 < k_fit; i++) src[i] = (size_t)gm_rng_below(&r, kt);
        src[k_fit - 1] = kt - 1;
        for (size_t i = 0; i < k_fit; i++) used[src[i]] = 1;
        int all = 1;
        for (size_t j = 0; j < kt; j++) all &= used[j];
        if (all) break;
    }
    for (size_t i = 0; i < k_fit; i++) {
        size_t j = src[i], copies = 0;
        for (size_t l = 0; l < k_fit; l++) copies += src[l] == j;
        double eg = sd_gate * gm_rng_normal(&r), ee = sd_expert * gm_rng_normal(&r);
        for (size_t q = 0; q < p; q++) out->W[q * k_fit + i] = g.W[q * kt + j] + eg;
        /* copies of one true atom share its gate mass (intercept - log copies), so that the start's mixing
         * measure is near G_* (the reference code copies the full intercept; see docs/moe.md) */
        out->W[i] -= log((double)copies);
        for (size_t q = 0; q < p; q++)
            for (size_t s = 0; s + 1 < S; s++) out->V[(i * p + q) * S + s] = g.V[(j * p + q) * S + s] + ee;
    }
    gm_moe_normalize(out);
    gm_moe_free(&g);
    gm_free(src);
    gm_free(used);
    return GM_OK;
}

int gm_moe_spec_design(gm_moe *m, char design, int vanish, gm_moe_gate gate, double *xr) {
    if (design != 'A' && design != 'B') GM_FAIL(GM_EINVAL, "moe: unknown design '%c' (A or B)", design);
    size_t S = design == 'A' ? 3 : 2, p = 2;
    int rc = gm_moe_init(m, 2, S, 1, gate);
    if (rc) return rc;
    double *v1 = m->V, *v2 = m->V + p * S; /* row 0 intercepts, row 1 slopes; last class 0 */
    if (design == 'A') {
        m->W[0] = 0.5, m->W[2] = 3.0;
        v1[0] = 1.0, v1[1] = 0.5, v1[3] = 2.0, v1[4] = -1.0;
        v2[0] = -0.5, v2[1] = 1.0, v2[3] = vanish ? 0.0 : -2.0, v2[4] = vanish ? 0.0 : 1.5;
    } else {
        m->W[2] = 1.5;
        v1[0] = 0.5, v1[2] = 1.0;
        v2[0] = -0.5, v2[2] = vanish ? 0.0 : -1.5;
    }
    if (xr) *xr = design == 'A' ? 1.0 : 3.0;
    return GM_OK;
}

gm_moe_sim_config gm_moe_sim_config_default(void) {
    gm_moe_sim_config c;
    memset(&c, 0, sizeof c);
    c.xr = 1.0;
    c.reps = 40;
    c.seed = 1;
    c.init_sd_gate = 0.005;
    c.init_sd_expert = 0.05;
    c.split_atom = SIZE_MAX;
    c.fit = gm_moe_fit_config_default();
    c.fit.tol = 1e-6;
    c.fit.max_iter = 2000;
    c.fit.ridge = 0.0;
    c.fit.n_restarts = 1;
    c.fit.polish = 0; /* the reference protocol (meteoritsSim / CRPE-SGaME): EM from nearTrue, tol 1e-6 */
    c.loss = gm_moe_voronoi_d1();
    return c;
}

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int sim_one(const gm_moe_sim_config *cfg, size_t gi, size_t rep, gm_moe_sim_record *rec) {
    const gm_moe *truth = cfg->truth;
    size_t n = (size_t)llround(cfg->ns[gi]), d = truth->dim, S = truth->n_classes;
    memset(rec, 0, sizeof *rec);
    rec->n = n;
    rec->rep = rep;
    rec->data_seed = (uint32_t)(mix64(mix64(cfg->seed ^ 0x6D6F65ULL) + gi * 1000003ULL + rep) >> 32);
    double *X = gm_malloc(n * d * sizeof(double));
    int *y = gm_malloc(n * sizeof(int));
    int rc = GM_ENOMEM;
    gm_moe init = {0};
    gm_moe_fit_result res = {0};
    if (!X || !y) goto done;
    if ((rc = gm_moe_sample_lcg(truth, n, rec->data_seed, cfg->xr, X, y, NULL)) != GM_OK) goto done;
    /* a class with no rows (tiny n) cannot be fitted: record as degenerate with NaN loss */
    if ((rc = gm_moe_check_labels(y, n, S)) == GM_ENOMEM) goto done;
    if (rc != GM_OK) {
        rec->flags = GM_MOE_DEGENERATE;
        rec->loss.total = rec->loss1.total = NAN;
        rc = GM_OK;
        goto done;
    }
    double shrink = pow((double)n, -0.083);
    rc = gm_moe_init_near_true_split(truth, cfg->k_fit, cfg->init_sd_gate * shrink, cfg->init_sd_expert * shrink,
                                     cfg->seed, gm_rng_stream_id(GM_STREAM_SIM, gi * cfg->reps + rep),
                                     cfg->split_atom, &init);
    if (rc) goto done;
    gm_moe_fit_config fc = cfg->fit;
    fc.n_experts = cfg->k_fit;
    fc.gate = truth->gate;
    fc.n_restarts = 1 + cfg->random_restarts;
    fc.seed = mix64(cfg->seed + 0x1234567ULL * (gi * cfg->reps + rep + 1));
    rc = gm_moe_fit(&fc, X, y, n, d, S, &init, &res);
    if (rc) goto done;
    rec->loglik = res.loglik;
    rec->iterations = res.iterations;
    rec->flags = res.flags;
    rec->grad_norm = res.grad_norm;
    rc = gm_moe_voronoi_loss(&res.model, truth, &cfg->loss, &rec->loss, NULL);
    if (rc) goto done;
    gm_moe_voronoi_config c1 = gm_moe_voronoi_d2r(1.0);
    c1.align = cfg->loss.align;
    rc = gm_moe_voronoi_loss(&res.model, truth, &c1, &rec->loss1, NULL);
done:
    gm_free(X);
    gm_free(y);
    gm_moe_free(&init);
    gm_moe_fit_result_free(&res);
    return rc;
}

int gm_moe_simulate(const gm_moe_sim_config *cfg, gm_moe_sim_record *out,
                    void (*progress)(size_t done, size_t total, void *ctx), void *ctx) {
    if (!cfg->truth || cfg->n_grid == 0 || cfg->reps == 0 || !cfg->ns)
        GM_FAIL(GM_EINVAL, "simulate: need a true model, a grid of sample sizes and reps >= 1");
    if (cfg->k_fit < cfg->truth->n_experts)
        GM_FAIL(GM_EINVAL, "simulate: k_fit %zu < true experts %zu", cfg->k_fit, cfg->truth->n_experts);
    for (size_t g = 0; g < cfg->n_grid; g++)
        if (!(cfg->ns[g] >= 10.0)) GM_FAIL(GM_EINVAL, "simulate: sample size %g < 10", cfg->ns[g]);
    int status = GM_OK;
    char msg[512] = "";
    for (size_t g = 0; g < cfg->n_grid; g++) {
        long R = (long)cfg->reps;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (long r = 0; r < R; r++) {
            int rc = sim_one(cfg, g, (size_t)r, &out[g * cfg->reps + (size_t)r]);
            if (rc) {
#ifdef _OPENMP
#pragma omp critical(gm_moe_sim_err)
#endif
                {
                    if (status == GM_OK) {
                        status = rc;
                        strncpy(msg, gm_last_error(), sizeof msg - 1);
                    }
                }
            }
        }
        if (status) return gm_set_error(status, "simulate: %s", msg);
        if (progress) progress(g + 1, cfg->n_grid, ctx);
    }
    return GM_OK;
}

/* ============================================================================================== */
/* summary over replications                                                                       */
/* ============================================================================================== */

static const char *const q_names[GM_MOE_SIM_NQ] = {"D1", "D1_without_cell_b", "cell_params", "mass",
                                                   "singleton_params"};

const char *gm_moe_sim_quantity_name(int q) {
    GM_ASSERT(q >= 0 && q < GM_MOE_SIM_NQ);
    return q_names[q];
}

void gm_moe_sim_quantities(const gm_moe_sim_record *q, double out[GM_MOE_SIM_NQ]) {
    out[GM_MOE_SIM_D1] = q->loss.total;
    out[GM_MOE_SIM_D1_NOB] = q->loss.total - q->loss.b_multi;
    /* plain (exponent 1) errors of gate and expert slopes in the multi-atom cells: the over-specified cell */
    out[GM_MOE_SIM_CELL] = q->loss1.n_multi ? q->loss1.beta_multi + q->loss1.a_multi : (double)NAN;
    out[GM_MOE_SIM_MASS] = q->loss1.mass;
    out[GM_MOE_SIM_SINGLE] = (q->loss1.beta - q->loss1.beta_multi) + (q->loss1.a - q->loss1.a_multi) +
                             (q->loss1.b - q->loss1.b_multi);
}

/* median of v[0..m) ignoring NaN (NaN if none); sorts a scratch copy */
static double median_nan(const double *v, size_t m, double *scratch) {
    size_t c = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(v[i])) scratch[c++] = v[i];
    if (c == 0) return NAN;
    gm_sort_f64(scratch, c);
    return gm_median_sorted(scratch, c);
}

static double mean_nan(const double *v, size_t m) {
    double s = 0.0;
    size_t c = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(v[i])) s += v[i], c++;
    return c ? s / (double)c : (double)NAN;
}

static double slope_or_nan(const double *x, const double *y, size_t m, double *icpt) {
    double s = NAN, c = NAN;
    if (gm_loglog_slope(x, y, m, &s, &c) != GM_OK) s = c = NAN;
    if (icpt) *icpt = c;
    return s;
}

int gm_moe_sim_summarize(const gm_moe_sim_record *rec, const double *ns, size_t G, size_t R, gm_moe_sim_summary *out) {
    GM_ASSERT(rec != NULL && ns != NULL && out != NULL);
    if (G < 2 || G > GM_MOE_SIM_MAX_GRID || R == 0)
        GM_FAIL(GM_EINVAL, "moe sim summary: need 2..%d grid points and >= 1 replication (got %zu, %zu)",
                GM_MOE_SIM_MAX_GRID, G, R);
    memset(out, 0, sizeof *out);
    out->n_grid = G;
    out->reps = R;
    double *vals = gm_malloc(R * sizeof(double)), *scratch = gm_malloc(R * sizeof(double));
    if (!vals || !scratch) {
        gm_free(vals);
        gm_free(scratch);
        return gm_error_prefix(GM_ENOMEM, "moe sim summary");
    }
    for (size_t g = 0; g < G; g++) {
        for (int qi = 0; qi < GM_MOE_SIM_NQ; qi++) {
            for (size_t r = 0; r < R; r++) {
                double qv[GM_MOE_SIM_NQ];
                gm_moe_sim_quantities(&rec[g * R + r], qv);
                vals[r] = qv[qi];
            }
            out->median[qi][g] = median_nan(vals, R, scratch);
            out->mean[qi][g] = mean_nan(vals, R);
        }
        for (size_t r = 0; r < R; r++) out->degenerate += (rec[g * R + r].flags & GM_MOE_DEGENERATE) != 0;
    }
    for (size_t r = 0; r < R; r++) vals[r] = (double)rec[(G - 1) * R + r].iterations;
    out->median_iterations_at_nmax = median_nan(vals, R, scratch);
    size_t h = G / 2;
    for (int qi = 0; qi < GM_MOE_SIM_NQ; qi++) {
        out->slope_median[qi] = slope_or_nan(ns, out->median[qi], G, &out->intercept_median[qi]);
        out->slope_mean[qi] = slope_or_nan(ns, out->mean[qi], G, NULL);
        out->slope_median_upper[qi] = slope_or_nan(ns + h, out->median[qi] + h, G - h, NULL);
    }
    gm_free(vals);
    gm_free(scratch);
    return GM_OK;
}
