/* SPDX-License-Identifier: MIT */
/* mix.c — Mixture-UCB: algorithm names, configuration defaults and checks, scores of an objective and the
 * median-distance bandwidth. The folder src/mix/ owns the mixing module: mix.c (configuration), mix_ref.c
 * (reference-set terms), mix_bandit.c (the bandit state machine), mix_offline.c (offline optimum),
 * mix_sim.c (replications and their summary), mix_qp.c (simplex QP), mix_dots.c (dot products);
 * mix_internal.h holds what they share privately.
 * Thread safety: no shared state. Spec: shared/specs/mixture_ucb.md (paper-faithful constants by default,
 * code_compat optional).
 *
 * module: mix (src/mix/) owns Mixture-UCB: the bandit state machine, reference-set terms, the mixture QP,
 * the offline optimum and replications (genmix/mix.h). A method: it uses core, io, linalg, nn and eval.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/linalg.h"
#include "genmix/mix.h"
#include "genmix/rng.h"
#include "mix_internal.h"

/* ==== configuration ============================================================================== */

static const char *const algo_names[GM_MIX_ALGO_COUNT] = {"cab", "ogd", "ucb", "sh", "uniform", "oracle", "greedy", "best1"};

const char *gm_mix_algo_name(gm_mix_algo a) { return (unsigned)a < GM_MIX_ALGO_COUNT ? algo_names[a] : "?"; }

int gm_mix_algo_parse(const char *s, gm_mix_algo *out) {
    GM_ASSERT(s != NULL && out != NULL);
    for (int i = 0; i < GM_MIX_ALGO_COUNT; i++)
        if (!strcmp(s, algo_names[i])) {
            *out = (gm_mix_algo)i;
            return GM_OK;
        }
    GM_FAIL(GM_EINVAL, "unknown mixing algorithm '%s' (cab, ogd, ucb, sh, uniform, oracle, greedy, best1)", s);
}

void gm_mix_config_default(gm_mix_config *cfg, size_t m, size_t d, size_t T, gm_mix_quad quad, int lin) {
    GM_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->m = m;
    cfg->d = d;
    cfg->T = T;
    cfg->algo = GM_MIX_OGD;
    cfg->quad = quad;
    cfg->kernel = GM_MIX_KERNEL_GAUSS;
    cfg->lin = lin;
    cfg->sigma = 0.0;
    cfg->lambda = 1.0;
    /* Theorem 1 constants: Delta_L = 2 Delta_kappa + Delta_f with Gaussian kernels in [0, 1]. */
    double dk = quad != GM_MIX_QUAD_NONE ? 1.0 : 0.0;
    double df = (quad == GM_MIX_QUAD_KID || quad == GM_MIX_QUAD_MMD) ? 2.0 : 0.0;
    if (lin & GM_MIX_LIN_PRECISION) df += cfg->lambda;
    if (lin & GM_MIX_LIN_DENSITY) df += cfg->lambda; /* density is not bounded by 1; a working scale */
    cfg->delta_L = 2.0 * dk + df;
    cfg->delta_kappa = dk;
    cfg->beta = 1.0;
    cfg->delta_G = 0.0;
    cfg->ridge = 1e-8;
    cfg->n0 = 1;
    cfg->code_compat = 0;
    cfg->lookahead = 32;
    cfg->seed = 0;
    cfg->run = 0;
    for (size_t i = 0; i < m && i < GM_MIX_MAX_ARMS; i++) cfg->oracle_alpha[i] = 1.0;
    cfg->oracle_arm = 0;
}

void gm_mix_config_code(gm_mix_config *cfg) {
    GM_ASSERT(cfg != NULL);
    cfg->n0 = 5;
    cfg->delta_L = 0.6;
    cfg->delta_kappa = 0.0;
    cfg->delta_G = 0.4;
    cfg->code_compat = 1;
}

int gm_mix_config_check(const gm_mix_config *c) {
    GM_ASSERT(c != NULL);
    if (c->m < 1 || c->m > GM_MIX_MAX_ARMS) GM_FAIL(GM_EINVAL, "mixing: %zu arms (1..%d allowed)", c->m, GM_MIX_MAX_ARMS);
    if (c->d < 1) GM_FAIL(GM_EINVAL, "mixing: feature dimension must be >= 1");
    if (c->T < 1) GM_FAIL(GM_EINVAL, "mixing: horizon T must be >= 1");
    if ((unsigned)c->algo >= GM_MIX_ALGO_COUNT) GM_FAIL(GM_EINVAL, "mixing: bad algorithm %d", (int)c->algo);
    if (c->quad < GM_MIX_QUAD_NONE || c->quad > GM_MIX_QUAD_MMD) GM_FAIL(GM_EINVAL, "mixing: bad score %d", (int)c->quad);
    if (c->quad == GM_MIX_QUAD_NONE && !c->lin) GM_FAIL(GM_EINVAL, "mixing: no score term (need rke, kid, mmd, precision or density)");
    int gauss = c->quad == GM_MIX_QUAD_RKE || ((c->quad == GM_MIX_QUAD_KID || c->quad == GM_MIX_QUAD_MMD) && c->kernel == GM_MIX_KERNEL_GAUSS);
    if (gauss && !(c->sigma > 0.0 && isfinite(c->sigma)))
        GM_FAIL(GM_EINVAL, "mixing: the Gaussian kernel needs a bandwidth sigma > 0 (got %g)", c->sigma);
    if (!(c->lambda >= 0.0) || !(c->delta_L >= 0.0) || !(c->delta_kappa >= 0.0) || !(c->beta >= 0.0) ||
        !(c->delta_G >= 0.0) || !(c->ridge >= 0.0))
        GM_FAIL(GM_EINVAL, "mixing: lambda, delta_L, delta_kappa, beta, delta_G and ridge must be >= 0");
    int needs_warm = c->algo != GM_MIX_ORACLE && c->algo != GM_MIX_BEST1;
    if (needs_warm && c->n0 < 1) GM_FAIL(GM_EINVAL, "mixing: warm-up n0 must be >= 1");
    if (needs_warm && c->n0 * c->m > c->T)
        GM_FAIL(GM_EINVAL, "mixing: warm-up of %zu pulls per arm needs %zu rounds, more than T = %zu", c->n0, c->n0 * c->m, c->T);
    if (c->algo == GM_MIX_BEST1 && c->oracle_arm >= c->m) GM_FAIL(GM_EINVAL, "mixing: one-arm oracle arm %zu out of range", c->oracle_arm);
    if (c->algo == GM_MIX_ORACLE) {
        double s = 0.0;
        for (size_t i = 0; i < c->m; i++) {
            if (!(c->oracle_alpha[i] >= 0.0) || !isfinite(c->oracle_alpha[i])) GM_FAIL(GM_EINVAL, "mixing: oracle weights must be finite and >= 0");
            s += c->oracle_alpha[i];
        }
        if (!(s > 0.0)) GM_FAIL(GM_EINVAL, "mixing: oracle weights sum to 0");
    }
    if (c->run >= (1ULL << 40)) GM_FAIL(GM_EINVAL, "mixing: run index too large");
    return GM_OK;
}

double gm_mix_score_of(gm_mix_quad quad, int lin, double objective) {
    if (quad == GM_MIX_QUAD_RKE && !lin) return 1.0 / objective;
    if (quad == GM_MIX_QUAD_MMD) return sqrt(objective > 0.0 ? objective : 0.0);
    return objective;
}

int gm_mix_higher_better(gm_mix_quad quad, int lin) { return quad == GM_MIX_QUAD_RKE && !lin; }

int gm_mix_median_bandwidth(const float *X, size_t n, size_t d, size_t pairs, uint64_t seed, double *sigma) {
    GM_ASSERT((X != NULL || n == 0) && sigma != NULL);
    if (n < 2 || d < 1) GM_FAIL(GM_EINVAL, "median bandwidth: need at least 2 rows");
    if (pairs == 0) pairs = 10000;
    double *dist = gm_malloc(pairs * sizeof *dist);
    if (!dist) return GM_ENOMEM;
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 0));
    for (size_t p = 0; p < pairs; p++) {
        size_t i = (size_t)gm_rng_below(&r, n), j = (size_t)gm_rng_below(&r, n - 1);
        if (j >= i) j++;
        double s = 0.0;
        for (size_t k = 0; k < d; k++) {
            double t = (double)X[i * d + k] - (double)X[j * d + k];
            s += t * t;
        }
        dist[p] = sqrt(s);
    }
    gm_sort_f64(dist, pairs);
    *sigma = gm_median_sorted(dist, pairs);
    gm_free(dist);
    if (!isfinite(*sigma)) GM_FAIL(GM_ENUMERIC, "median bandwidth: non-finite distance (NaN in the data?)");
    return GM_OK;
}
