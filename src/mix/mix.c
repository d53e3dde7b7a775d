/* mix.c — Mixture-UCB bandit state machine, reference-set terms, offline optimum and replications.
 *
 * Owns: a gm_mix holds the sample store (T x d floats, squared norms, arm labels), the kernel sums
 * S (m x m, double), F (m, double), the per-arm look-ahead queues and their kernel rows. A gm_mix_ref
 * holds a copy of the reference set, its squared norms and k-NN radii.
 * Thread safety: one gm_mix per thread; gm_mix_ref is read-only after create.
 * Spec: shared/specs/mixture_ucb.md (paper-faithful constants by default, code_compat optional).
 *
 * module: mix (src/mix/) owns Mixture-UCB: the bandit state machine, reference-set terms, the mixture QP,
 * the offline optimum and replications (genmix/mix.h). A method: it uses core, io, linalg, nn and eval.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/mix.h"
#include "genmix/rng.h"
#include "mix_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ==== kernels ==================================================================================== */

enum { KT_NONE = 0, KT_GAUSS = 1, KT_POLY = 2 };
typedef struct {
    int type;
    double g;    /* Gaussian: kappa = exp(-g |x-y|^2) */
    double invd; /* poly: kappa = (x.y/d + 1)^3 */
} mixk;

static inline double kval(const mixk *k, double dot, double sqx, double sqy) {
    if (k->type == KT_POLY) {
        double v = dot * k->invd + 1.0;
        return v * v * v;
    }
    double d2 = sqx + sqy - 2.0 * dot;
    if (d2 < 0.0) d2 = 0.0;
    /* single-precision exp: its relative error (~1e-7) is far below that of the float dot product in
     * d2, and it is about twice as fast as exp(); the sums stay in double */
    return (double)expf((float)(-d2 * k->g));
}
/* kappa(x, x) exactly (no cancellation). */
static inline double kself(const mixk *k, double sqx) {
    if (k->type == KT_POLY) {
        double v = sqx * k->invd + 1.0;
        return v * v * v;
    }
    return 1.0;
}

/* Kernel values of x (squared norm sqx) against n rows with squared norms sq, from their dot products:
 * v[i] = kappa, overwriting the dots in place. Gaussian: the exponents in one pass (distances in double),
 * then gm_mix_exp_neg over the row, which vectorises. */
static void krow(const mixk *k, float *v, const double *sq, double sqx, size_t n) {
    if (k->type == KT_POLY) {
        for (size_t i = 0; i < n; i++) {
            double u = (double)v[i] * k->invd + 1.0;
            v[i] = (float)(u * u * u);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double e = (sqx + sq[i] - 2.0 * (double)v[i]) * k->g;
        e = e < 0.0 ? 0.0 : e > 87.0 ? 87.0 : e; /* exp(-87) ~ 1.6e-38: below it, 1.6e-38 instead of less */
        v[i] = (float)-e;
    }
    gm_mix_exp_neg(v, n);
}

/* out[lab[i]] += v[i] (m arms), in double, with two interleaved accumulator sets so that runs of one
 * label do not serialise on one memory cell; the order of the additions is fixed. */
static void acc_arms(const float *v, const unsigned char *lab, size_t n, size_t m, double *out) {
    double a0[GM_MIX_MAX_ARMS], a1[GM_MIX_MAX_ARMS];
    for (size_t j = 0; j < m; j++) a0[j] = a1[j] = 0.0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        a0[lab[i]] += (double)v[i];
        a1[lab[i + 1]] += (double)v[i + 1];
    }
    if (i < n) a0[lab[i]] += (double)v[i];
    for (size_t j = 0; j < m; j++) out[j] += a0[j] + a1[j];
}

static mixk kid_kernel(gm_mix_kernel kernel, double sigma, size_t d) {
    mixk k;
    k.type = kernel == GM_MIX_KERNEL_POLY3 ? KT_POLY : KT_GAUSS;
    k.g = k.type == KT_GAUSS ? 1.0 / (2.0 * sigma * sigma) : 0.0;
    k.invd = 1.0 / (double)d;
    return k;
}

static double sqnorm(const float *x, size_t d) {
    double s = 0.0;
    for (size_t i = 0; i < d; i++) s += (double)x[i] * (double)x[i];
    return s;
}

static int row_finite(const float *x, size_t d) {
    for (size_t i = 0; i < d; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ==== configuration ============================================================================== */

static const char *const algo_names[GM_MIX_ALGO_COUNT] = {"cab", "ogd", "ucb", "sh", "uniform", "oracle", "greedy", "best1"};

const char *gm_mix_algo_name(gm_mix_algo a) { return (unsigned)a < GM_MIX_ALGO_COUNT ? algo_names[a] : "?"; }

int gm_mix_algo_parse(const char *s, gm_mix_algo *out) {
    for (int i = 0; i < GM_MIX_ALGO_COUNT; i++)
        if (!strcmp(s, algo_names[i])) {
            *out = (gm_mix_algo)i;
            return GM_OK;
        }
    GM_FAIL(GM_EINVAL, "unknown mixing algorithm '%s' (cab, ogd, ucb, sh, uniform, oracle, greedy, best1)", s);
}

void gm_mix_config_default(gm_mix_config *cfg, size_t m, size_t d, size_t T, gm_mix_quad quad, int lin) {
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
    cfg->n0 = 5;
    cfg->delta_L = 0.6;
    cfg->delta_kappa = 0.0;
    cfg->delta_G = 0.4;
    cfg->code_compat = 1;
}

int gm_mix_config_check(const gm_mix_config *c) {
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

static int needs_terms(const gm_mix_config *c) {
    return c->quad == GM_MIX_QUAD_KID || c->quad == GM_MIX_QUAD_MMD || c->lin != 0;
}

/* f(x) from the per-sample terms. */
static double fval_of(const gm_mix_config *c, const double *terms) {
    double f = 0.0;
    if (c->quad == GM_MIX_QUAD_KID || c->quad == GM_MIX_QUAD_MMD) f += -2.0 * terms[GM_MIX_TERM_KREF];
    if (c->lin & GM_MIX_LIN_PRECISION) f -= c->lambda * terms[GM_MIX_TERM_PREC];
    if (c->lin & GM_MIX_LIN_DENSITY) f -= c->lambda * terms[GM_MIX_TERM_DENS];
    return f;
}

double gm_mix_score_of(gm_mix_quad quad, int lin, double objective) {
    if (quad == GM_MIX_QUAD_RKE && !lin) return 1.0 / objective;
    if (quad == GM_MIX_QUAD_MMD) return sqrt(objective > 0.0 ? objective : 0.0);
    return objective;
}

int gm_mix_higher_better(gm_mix_quad quad, int lin) { return quad == GM_MIX_QUAD_RKE && !lin; }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int gm_mix_median_bandwidth(const float *X, size_t n, size_t d, size_t pairs, uint64_t seed, double *sigma) {
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
    qsort(dist, pairs, sizeof *dist, cmp_double);
    *sigma = pairs % 2 ? dist[pairs / 2] : 0.5 * (dist[pairs / 2 - 1] + dist[pairs / 2]);
    gm_free(dist);
    if (!isfinite(*sigma)) GM_FAIL(GM_ENUMERIC, "median bandwidth: non-finite distance (NaN in the data?)");
    return GM_OK;
}

/* ==== reference set ============================================================================== */

struct gm_mix_ref {
    size_t n, d, knn;
    int lin;
    mixk k;
    float *Y;
    double *sq;
    double *rad2; /* squared k-NN radii (n), when lin */
    double self;  /* mean kappa over all ordered pairs */
};

#define MIX_TILE 128
#define MIX_KB 4096 /* stored samples per block of the online kernel sums (one GEMV per sample up to this t) */
#define MIX_KBA 1024 /* stored samples per block of a look-ahead push: one SGEMM each, run as OpenMP tasks */

int gm_mix_ref_create(gm_mix_ref **out, const float *Y, size_t n, size_t d, gm_mix_kernel kernel, double sigma, int lin,
                      size_t knn_k) {
    *out = NULL;
    if (n < 1 || d < 1) GM_FAIL(GM_EINVAL, "reference set is empty");
    if (kernel == GM_MIX_KERNEL_GAUSS && !(sigma > 0.0 && isfinite(sigma)))
        GM_FAIL(GM_EINVAL, "reference set: Gaussian kernel needs sigma > 0 (got %g)", sigma);
    if (knn_k == 0) knn_k = 5;
    if (knn_k > 64) GM_FAIL(GM_EINVAL, "reference set: k = %zu nearest neighbours (at most 64)", knn_k);
    if (lin && knn_k >= n) GM_FAIL(GM_EINVAL, "reference set: k = %zu nearest neighbours need more than %zu points", knn_k, n);
    for (size_t i = 0; i < n; i++)
        if (!row_finite(Y + i * d, d)) GM_FAIL(GM_ENUMERIC, "reference set: row %zu has a NaN or Inf", i);
    gm_mix_ref *r = gm_calloc(1, sizeof *r);
    if (!r) return GM_ENOMEM;
    r->n = n;
    r->d = d;
    r->knn = knn_k;
    r->lin = lin;
    r->k = kid_kernel(kernel, sigma, d);
    r->Y = gm_malloc(n * d * sizeof *r->Y);
    r->sq = gm_malloc(n * sizeof *r->sq);
    r->rad2 = lin ? gm_malloc(n * sizeof *r->rad2) : NULL;
    size_t nblk = (n + MIX_TILE - 1) / MIX_TILE;
    double *part = gm_calloc(nblk, sizeof *part);
    if (!r->Y || !r->sq || (lin && !r->rad2) || !part) {
        gm_free(part);
        gm_mix_ref_free(r);
        return GM_ENOMEM;
    }
    memcpy(r->Y, Y, n * d * sizeof *Y);
    for (size_t i = 0; i < n; i++) r->sq[i] = sqnorm(Y + i * d, d);
    int err = 0;
    /* One pass over row blocks: kernel sums (for c) and the k-th nearest other point of each row. */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        size_t i0 = b * MIX_TILE, ni = n - i0 < MIX_TILE ? n - i0 : MIX_TILE;
        float *tile = gm_malloc(ni * n * sizeof *tile);
        if (!tile) {
#pragma omp atomic write
            err = 1;
            continue;
        }
        gm_mix_dots_tile(r->Y + i0 * d, ni, r->Y, n, d, tile, n);
        double acc = 0.0;
        for (size_t a = 0; a < ni; a++) {
            size_t i = i0 + a;
            double best[64];
            size_t nb = 0;
            double rowacc = 0.0;
            for (size_t j = 0; j < n; j++) {
                double dot = tile[a * n + j];
                rowacc += j == i ? kself(&r->k, r->sq[i]) : kval(&r->k, dot, r->sq[i], r->sq[j]);
                if (lin && j != i) {
                    double d2 = r->sq[i] + r->sq[j] - 2.0 * dot;
                    if (d2 < 0.0) d2 = 0.0;
                    /* keep the knn smallest, sorted ascending */
                    if (nb < knn_k || d2 < best[nb - 1]) {
                        size_t p = nb < knn_k ? nb++ : nb - 1;
                        while (p > 0 && best[p - 1] > d2) best[p] = best[p - 1], p--;
                        best[p] = d2;
                    }
                }
            }
            acc += rowacc;
            if (lin) r->rad2[i] = best[knn_k - 1];
        }
        part[b] = acc;
        gm_free(tile);
    }
    if (err) {
        gm_free(part);
        gm_mix_ref_free(r);
        GM_FAIL(GM_ENOMEM, "reference set: out of memory");
    }
    double s = 0.0;
    for (size_t b = 0; b < nblk; b++) s += part[b];
    r->self = s / ((double)n * (double)n);
    gm_free(part);
    *out = r;
    return GM_OK;
}

/* Terms of one row x (norm sqx) with dots = Y x already in `dots`. */
static void ref_terms_row(const gm_mix_ref *r, const float *dots, double sqx, double *t) {
    double ks = 0.0, cnt = 0.0;
    for (size_t j = 0; j < r->n; j++) {
        ks += kval(&r->k, dots[j], sqx, r->sq[j]);
        if (r->lin) {
            double d2 = sqx + r->sq[j] - 2.0 * (double)dots[j];
            if (d2 < 0.0) d2 = 0.0;
            if (d2 < r->rad2[j]) cnt += 1.0;
        }
    }
    t[GM_MIX_TERM_KREF] = ks / (double)r->n;
    t[GM_MIX_TERM_PREC] = cnt > 0.0 ? 1.0 : 0.0;
    t[GM_MIX_TERM_DENS] = cnt / (double)r->knn;
}

int gm_mix_ref_terms(const gm_mix_ref *r, const float *X, size_t n, double *out) {
    for (size_t i = 0; i < n; i++)
        if (!row_finite(X + i * r->d, r->d)) GM_FAIL(GM_ENUMERIC, "sample row %zu has a NaN or Inf", i);
    size_t nblk = (n + MIX_TILE - 1) / MIX_TILE;
    int err = 0;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        size_t i0 = b * MIX_TILE, ni = n - i0 < MIX_TILE ? n - i0 : MIX_TILE;
        float *tile = gm_malloc(ni * r->n * sizeof *tile);
        if (!tile) {
#pragma omp atomic write
            err = 1;
            continue;
        }
        gm_mix_dots_tile(X + i0 * r->d, ni, r->Y, r->n, r->d, tile, r->n);
        for (size_t a = 0; a < ni; a++)
            ref_terms_row(r, tile + a * r->n, sqnorm(X + (i0 + a) * r->d, r->d), out + (i0 + a) * GM_MIX_NTERMS);
        gm_free(tile);
    }
    if (err) GM_FAIL(GM_ENOMEM, "reference terms: out of memory");
    return GM_OK;
}

double gm_mix_ref_self(const gm_mix_ref *r) { return r->self; }
size_t gm_mix_ref_size(const gm_mix_ref *r) { return r->n; }

void gm_mix_ref_free(gm_mix_ref *r) {
    if (!r) return;
    gm_free(r->Y);
    gm_free(r->sq);
    gm_free(r->rad2);
    gm_free(r);
}

/* ==== bandit ===================================================================================== */

struct gm_mix {
    gm_mix_config cfg;
    const gm_mix_ref *ref;
    mixk k;
    size_t m, d, T, B, t;
    size_t n[GM_MIX_MAX_ARMS];
    double S[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS];
    double F[GM_MIX_MAX_ARMS];
    double alpha[GM_MIX_MAX_ARMS];
    float *X;        /* T x d stored samples */
    double *sq;      /* T squared norms */
    unsigned char *lab; /* T arm labels */
    float *dots;     /* max(T, B*m, n_ref) scratch */
    /* look-ahead queues: arm a owns rows [a*B, a*B + B) */
    float *Qx;
    double *Qsq, *Qf, *QR; /* QR: (m*B) x m kernel sums against stored samples per arm */
    size_t qpos[GM_MIX_MAX_ARMS], qcnt[GM_MIX_MAX_ARMS];
    float *tile;     /* B x T */
    double *part;    /* per-block partial kernel sums: nblk(T) x max(B, 1) x m */
    gm_rng rng;
    /* successive halving */
    int sh_init;
    unsigned char alive[GM_MIX_MAX_ARMS];
    size_t sh_phase, sh_phases, sh_len, sh_end, sh_rr;
    unsigned long qp_mask; /* support of the last QP solution (warm start) */
};

int gm_mix_create(gm_mix **out, const gm_mix_config *cfg, const gm_mix_ref *ref) {
    *out = NULL;
    int rc = gm_mix_config_check(cfg);
    if (rc) return rc;
    if (ref && ref->d != cfg->d)
        GM_FAIL(GM_ESHAPE, "mixing: reference set has dimension %zu, arms have %zu", ref->d, cfg->d);
    if (ref && (cfg->lin & ~ref->lin)) GM_FAIL(GM_EINVAL, "mixing: the reference set was created without k-NN radii");
    gm_mix *b = gm_calloc(1, sizeof *b);
    if (!b) return GM_ENOMEM;
    b->cfg = *cfg;
    b->ref = ref;
    b->m = cfg->m;
    b->d = cfg->d;
    b->T = cfg->T;
    b->B = cfg->lookahead;
    if (cfg->quad == GM_MIX_QUAD_RKE) {
        b->k.type = KT_GAUSS;
        b->k.g = 1.0 / (cfg->sigma * cfg->sigma);
        b->k.invd = 1.0 / (double)cfg->d;
    } else if (cfg->quad == GM_MIX_QUAD_KID || cfg->quad == GM_MIX_QUAD_MMD) {
        b->k = kid_kernel(cfg->kernel, cfg->sigma, cfg->d);
    } else {
        b->k.type = KT_NONE;
    }
    size_t m = b->m, B = b->B, T = b->T, d = b->d;
    size_t nd = T;
    if (B * m > nd) nd = B * m;
    if (ref && ref->n > nd) nd = ref->n;
    b->X = gm_malloc(T * d * sizeof *b->X);
    b->sq = gm_malloc(T * sizeof *b->sq);
    b->lab = gm_malloc(T);
    b->dots = gm_malloc(nd * sizeof *b->dots);
    if (B) {
        b->Qx = gm_malloc(m * B * d * sizeof *b->Qx);
        b->Qsq = gm_malloc(m * B * sizeof *b->Qsq);
        b->Qf = gm_malloc(m * B * sizeof *b->Qf);
        b->QR = gm_malloc(m * B * m * sizeof *b->QR);
        b->tile = gm_malloc(B * T * sizeof *b->tile);
    }
    b->part = gm_malloc(((T + MIX_KBA - 1) / MIX_KBA) * (B ? B : 1) * m * sizeof *b->part); /* MIX_KBA <= MIX_KB */
    if (!b->X || !b->sq || !b->lab || !b->dots || !b->part || (B && (!b->Qx || !b->Qsq || !b->Qf || !b->QR || !b->tile))) {
        gm_mix_free(b);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) b->alpha[i] = 1.0 / (double)m;
    if (cfg->algo == GM_MIX_ORACLE) {
        double s = 0.0;
        for (size_t i = 0; i < m; i++) s += cfg->oracle_alpha[i];
        for (size_t i = 0; i < m; i++) b->cfg.oracle_alpha[i] = cfg->oracle_alpha[i] / s;
    }
    gm_rng_init(&b->rng, cfg->seed, gm_rng_stream_id(GM_STREAM_ARM, (cfg->run << 16) | 0xffffu));
    *out = b;
    return GM_OK;
}

void gm_mix_free(gm_mix *b) {
    if (!b) return;
    gm_free(b->X);
    gm_free(b->sq);
    gm_free(b->lab);
    gm_free(b->dots);
    gm_free(b->Qx);
    gm_free(b->Qsq);
    gm_free(b->Qf);
    gm_free(b->QR);
    gm_free(b->tile);
    gm_free(b->part);
    gm_free(b);
}

int gm_mix_done(const gm_mix *b) { return b->t >= b->T; }
size_t gm_mix_count(const gm_mix *b) { return b->t; }
const size_t *gm_mix_counts(const gm_mix *b) { return b->n; }
const double *gm_mix_alpha(const gm_mix *b) { return b->alpha; }
size_t gm_mix_queued(const gm_mix *b, size_t arm) { return arm < b->m ? b->qcnt[arm] - b->qpos[arm] : 0; }

void gm_mix_estimates(const gm_mix *b, double *K, double *f) {
    size_t m = b->m;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < m; j++) {
            double den = (double)b->n[i] * (double)b->n[j];
            if (K) K[i * m + j] = den > 0.0 ? b->S[i * m + j] / den : 0.0;
        }
        if (f) f[i] = b->n[i] ? b->F[i] / (double)b->n[i] : 0.0;
    }
}

double gm_mix_objective(const gm_mix *b) {
    if (b->t == 0) return NAN;
    double s = 0.0, f = 0.0, t = (double)b->t;
    for (size_t i = 0; i < b->m * b->m; i++) s += b->S[i];
    for (size_t i = 0; i < b->m; i++) f += b->F[i];
    double v = s / (t * t) + f / t;
    if ((b->cfg.quad == GM_MIX_QUAD_KID || b->cfg.quad == GM_MIX_QUAD_MMD) && b->ref) v += b->ref->self;
    return v;
}

double gm_mix_score(const gm_mix *b) { return gm_mix_score_of(b->cfg.quad, b->cfg.lin, gm_mix_objective(b)); }

static size_t argmin(const double *v, size_t m, const unsigned char *mask) {
    size_t best = m;
    for (size_t i = 0; i < m; i++) {
        if (mask && !mask[i]) continue;
        if (best == m || v[i] < v[best]) best = i;
    }
    return best;
}

static void sh_step(gm_mix *b, const double *Kh, const double *fh, size_t warm) {
    size_t m = b->m;
    if (!b->sh_init) {
        b->sh_init = 1;
        for (size_t i = 0; i < m; i++) b->alive[i] = 1;
        size_t p = 0;
        while (((size_t)1 << p) < m) p++;
        b->sh_phases = p;
        b->sh_len = (b->T - warm) / (p + 1);
        if (b->sh_len < 1) b->sh_len = 1;
        b->sh_end = warm + b->sh_len;
    }
    if (b->t >= b->sh_end && b->sh_phase < b->sh_phases) {
        size_t alive = 0;
        for (size_t i = 0; i < m; i++) alive += b->alive[i];
        size_t keep = (alive + 1) / 2;
        double sc[GM_MIX_MAX_ARMS];
        unsigned char nxt[GM_MIX_MAX_ARMS] = {0};
        for (size_t i = 0; i < m; i++) sc[i] = Kh[i * m + i] + fh[i];
        for (size_t r = 0; r < keep; r++) {
            size_t a = argmin(sc, m, b->alive);
            nxt[a] = 1;
            b->alive[a] = 0;
        }
        memcpy(b->alive, nxt, m);
        b->sh_phase++;
        b->sh_end = b->sh_phase == b->sh_phases ? b->T : b->sh_end + b->sh_len;
        b->sh_rr = 0;
    }
}

int gm_mix_select(gm_mix *b, size_t *arm) {
    if (b->t >= b->T) GM_FAIL(GM_EINVAL, "mixing: all %zu rounds are done", b->T);
    const gm_mix_config *c = &b->cfg;
    size_t m = b->m;
    if (c->algo == GM_MIX_BEST1) {
        *arm = c->oracle_arm;
        return GM_OK;
    }
    if (c->algo == GM_MIX_ORACLE) {
        *arm = gm_rng_categorical(&b->rng, c->oracle_alpha, m);
        return GM_OK;
    }
    size_t warm = c->n0 * m;
    if (b->t < warm || m == 1) {
        *arm = b->t % m;
        return GM_OK;
    }
    if (c->algo == GM_MIX_UNIFORM) {
        *arm = (size_t)gm_rng_below(&b->rng, m);
        return GM_OK;
    }
    double Kh[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS], fh[GM_MIX_MAX_ARMS], eps[GM_MIX_MAX_ARMS];
    gm_mix_estimates(b, Kh, fh);
    double lnt = log((double)b->t);
    for (size_t i = 0; i < m; i++) {
        double ni = (double)b->n[i];
        if (c->algo == GM_MIX_UCB) /* the official code keeps the 2 here, also in compat mode */
            eps[i] = c->delta_L * sqrt(c->beta * lnt / (2.0 * ni));
        else if (c->code_compat)
            eps[i] = c->delta_L * sqrt(c->beta * lnt / ni);
        else
            eps[i] = c->delta_L * sqrt(c->beta * lnt / (2.0 * ni)) + c->delta_kappa / ni;
        if (c->lin) eps[i] += c->lambda * c->delta_G / ni;
        if (c->algo == GM_MIX_GREEDY) eps[i] = 0.0;
    }
    switch (c->algo) {
    case GM_MIX_CAB:
    case GM_MIX_GREEDY: {
        double cc[GM_MIX_MAX_ARMS] = {0}, a[GM_MIX_MAX_ARMS];
        for (size_t i = 0; i < m; i++) {
            Kh[i * m + i] += c->ridge;
            cc[i] = fh[i] - eps[i];
        }
        if (!gm_mix_qp_try_support(Kh, cc, m, b->qp_mask, a)) {
            int rc = gm_mix_qp(Kh, cc, m, a, NULL);
            if (rc) return rc;
        }
        b->qp_mask = 0;
        for (size_t i = 0; i < m; i++)
            if (a[i] > 0.0) b->qp_mask |= 1UL << i;
        double s = 0.0;
        for (size_t i = 0; i < m; i++) {
            if (!(a[i] > 0.0)) a[i] = 0.0;
            s += a[i];
        }
        if (!(s > 0.0)) GM_FAIL(GM_ENUMERIC, "mixing: QP returned no weight");
        for (size_t i = 0; i < m; i++) b->alpha[i] = a[i] / s;
        *arm = gm_rng_categorical(&b->rng, b->alpha, m);
        return GM_OK;
    }
    case GM_MIX_OGD: {
        double h[GM_MIX_MAX_ARMS], t = (double)b->t;
        for (size_t i = 0; i < m; i++) {
            double g = c->ridge * (double)b->n[i];
            for (size_t j = 0; j < m; j++) g += Kh[i * m + j] * (double)b->n[j];
            h[i] = 2.0 / t * g + fh[i] - eps[i];
        }
        *arm = argmin(h, m, NULL);
        return GM_OK;
    }
    case GM_MIX_UCB: {
        double h[GM_MIX_MAX_ARMS];
        for (size_t i = 0; i < m; i++) h[i] = Kh[i * m + i] + fh[i] - eps[i];
        *arm = argmin(h, m, NULL);
        return GM_OK;
    }
    case GM_MIX_SH: {
        sh_step(b, Kh, fh, warm);
        size_t alive = 0, idx[GM_MIX_MAX_ARMS];
        for (size_t i = 0; i < m; i++)
            if (b->alive[i]) idx[alive++] = i;
        *arm = idx[b->sh_rr++ % alive];
        return GM_OK;
    }
    default:
        GM_FAIL(GM_EINVAL, "mixing: bad algorithm");
    }
}

/* Terms of a single row from the reference (uses b->dots; no allocation). */
static int terms_from_ref(gm_mix *b, const float *x, double sqx, double *t) {
    if (!b->ref) GM_FAIL(GM_EINVAL, "mixing: this score needs a reference set (or per-sample terms)");
    gm_mix_dots(b->ref->Y, b->ref->n, b->d, x, b->dots);
    ref_terms_row(b->ref, b->dots, sqx, t);
    return GM_OK;
}

int gm_mix_update(gm_mix *b, size_t arm, const float *x, const double *terms) {
    size_t m = b->m, d = b->d, B = b->B;
    if (arm >= m) GM_FAIL(GM_EINVAL, "mixing: arm %zu out of range (m = %zu)", arm, m);
    if (b->t >= b->T) GM_FAIL(GM_EINVAL, "mixing: the store is full (T = %zu samples)", b->T);
    int quad = b->k.type != KT_NONE;
    double s[GM_MIX_MAX_ARMS] = {0};
    const float *xv;
    double sqx, fv = 0.0;
    size_t skip_row = (size_t)-1;
    if (!x) {
        if (b->qpos[arm] >= b->qcnt[arm]) GM_FAIL(GM_EINVAL, "mixing: no queued sample for arm %zu", arm);
        size_t r = arm * B + b->qpos[arm]++;
        xv = b->Qx + r * d;
        sqx = b->Qsq[r];
        fv = b->Qf[r];
        if (quad) memcpy(s, b->QR + r * m, m * sizeof *s);
        skip_row = r;
    } else {
        if (!row_finite(x, d)) GM_FAIL(GM_ENUMERIC, "mixing: sample of arm %zu has a NaN or Inf", arm);
        xv = x;
        sqx = sqnorm(x, d);
        if (needs_terms(&b->cfg)) {
            double tv[GM_MIX_NTERMS];
            if (terms) {
                memcpy(tv, terms, sizeof tv);
            } else {
                int rc = terms_from_ref(b, x, sqx, tv);
                if (rc) return rc;
            }
            fv = fval_of(&b->cfg, tv);
        }
        if (quad && b->t > 0) {
            /* one GEMV per fixed block of MIX_KB stored samples, partial sums added in block order */
            size_t t = b->t, nblk = (t + MIX_KB - 1) / MIX_KB;
            for (size_t k = 0; k < nblk; k++) {
                size_t i0 = k * MIX_KB, ni = t - i0 < MIX_KB ? t - i0 : MIX_KB;
                double *P = b->part + k * m;
                for (size_t j = 0; j < m; j++) P[j] = 0.0;
                gm_mix_dots(b->X + i0 * d, ni, d, xv, b->dots + i0);
                krow(&b->k, b->dots + i0, b->sq + i0, sqx, ni);
                acc_arms(b->dots + i0, b->lab + i0, ni, m, P);
            }
            for (size_t k = 0; k < nblk; k++)
                for (size_t j = 0; j < m; j++) s[j] += b->part[k * m + j];
        }
    }
    if (quad) {
        /* the new sample enters the kernel rows of every queued (future) sample */
        for (size_t a = 0; a < m && B; a++) {
            size_t r0 = a * B + b->qpos[a], r1 = a * B + b->qcnt[a];
            if (r1 <= r0) continue;
            gm_mix_dots(b->Qx + r0 * d, r1 - r0, d, xv, b->dots);
            krow(&b->k, b->dots, b->Qsq + r0, sqx, r1 - r0);
            for (size_t r = r0; r < r1; r++)
                if (r != skip_row) b->QR[r * m + arm] += (double)b->dots[r - r0];
        }
        double kxx = kself(&b->k, sqx);
        for (size_t j = 0; j < m; j++) {
            if (j == arm) {
                b->S[arm * m + arm] += 2.0 * s[arm] + (b->cfg.code_compat ? 2.0 : 1.0) * kxx;
            } else {
                b->S[arm * m + j] += s[j];
                b->S[j * m + arm] += s[j];
            }
        }
    }
    b->F[arm] += fv;
    memmove(b->X + b->t * d, xv, d * sizeof *xv);
    b->sq[b->t] = sqx;
    b->lab[b->t] = (unsigned char)arm;
    b->n[arm]++;
    b->t++;
    return GM_OK;
}

int gm_mix_push_ahead(gm_mix *b, size_t arm, const float *x, size_t n, const double *terms) {
    size_t m = b->m, d = b->d, B = b->B;
    if (arm >= m) GM_FAIL(GM_EINVAL, "mixing: arm %zu out of range (m = %zu)", arm, m);
    if (n > B) GM_FAIL(GM_EINVAL, "mixing: %zu samples exceed the look-ahead capacity %zu", n, B);
    if (b->qpos[arm] < b->qcnt[arm]) GM_FAIL(GM_EINVAL, "mixing: arm %zu still has queued samples", arm);
    for (size_t r = 0; r < n; r++)
        if (!row_finite(x + r * d, d)) GM_FAIL(GM_ENUMERIC, "mixing: queued sample %zu of arm %zu has a NaN or Inf", r, arm);
    float *Q = b->Qx + arm * B * d;
    memcpy(Q, x, n * d * sizeof *x);
    for (size_t r = 0; r < n; r++) {
        size_t row = arm * B + r;
        b->Qsq[row] = sqnorm(Q + r * d, d);
        b->Qf[row] = 0.0;
        if (needs_terms(&b->cfg)) {
            double tv[GM_MIX_NTERMS];
            if (terms) {
                memcpy(tv, terms + r * GM_MIX_NTERMS, sizeof tv);
            } else {
                int rc = terms_from_ref(b, Q + r * d, b->Qsq[row], tv);
                if (rc) return rc;
            }
            b->Qf[row] = fval_of(&b->cfg, tv);
        }
        double *R = b->QR + row * m;
        for (size_t j = 0; j < m; j++) R[j] = 0.0;
    }
    if (b->k.type != KT_NONE && b->t > 0 && n > 0) {
        /* one SGEMM per fixed block of MIX_KBA stored samples (columns i0.. of the n x T tile), per-block
         * partial sums added in block order, so the result does not depend on which thread ran a block.
         * The blocks are OpenMP tasks: gm_mix_simulate calls this inside its replication loop's parallel
         * region, where a thread without a replication of its own (e.g. one run on 2 threads) waits at the
         * loop's barrier and runs tasks, and OpenBLAS stays single-threaded. (A nested `parallel for` here
         * would run serially inside that region; outside any region the tasks run on the calling thread.) */
        size_t t = b->T, nblk = (b->t + MIX_KBA - 1) / MIX_KBA;
        for (size_t k = 0; k < nblk; k++) {
#pragma omp task default(shared) firstprivate(k) if (nblk > 1)
            {
                size_t i0 = k * MIX_KBA, ni = b->t - i0 < MIX_KBA ? b->t - i0 : MIX_KBA;
                gm_mix_dots_tile(Q, n, b->X + i0 * d, ni, d, b->tile + i0, t);
                for (size_t r = 0; r < n; r++) {
                    double *P = b->part + (k * B + r) * m;
                    for (size_t j = 0; j < m; j++) P[j] = 0.0;
                    float *tr = b->tile + r * t + i0;
                    krow(&b->k, tr, b->sq + i0, b->Qsq[arm * B + r], ni);
                    acc_arms(tr, b->lab + i0, ni, m, P);
                }
            }
        }
#pragma omp taskwait
        for (size_t r = 0; r < n; r++) {
            double *R = b->QR + (arm * B + r) * m;
            for (size_t k = 0; k < nblk; k++)
                for (size_t j = 0; j < m; j++) R[j] += b->part[(k * B + r) * m + j];
        }
    }
    b->qpos[arm] = 0;
    b->qcnt[arm] = n;
    return GM_OK;
}

/* ==== offline optimum ============================================================================ */

typedef struct {
    size_t arm, start, len;
} mix_block;

int gm_mix_offline(const gm_mix_config *cfg, const gm_mix_ref *ref, const float *const *X, const size_t *n,
                   const double *const *terms, double *alpha, double *obj, double *K_hat, double *f_hat) {
    gm_mix_config c = *cfg;
    if (c.algo == GM_MIX_ORACLE || c.algo == GM_MIX_BEST1) c.algo = GM_MIX_CAB; /* no warm-up checks */
    if (c.n0 * c.m > c.T) c.n0 = 1, c.T = c.m;
    int rc = gm_mix_config_check(&c);
    if (rc) return rc;
    size_t m = c.m, d = c.d;
    for (size_t i = 0; i < m; i++)
        if (n[i] == 0) GM_FAIL(GM_EINVAL, "offline mixture: arm %zu has no samples", i);
    mixk k;
    if (c.quad == GM_MIX_QUAD_RKE) {
        k.type = KT_GAUSS;
        k.g = 1.0 / (c.sigma * c.sigma);
        k.invd = 1.0 / (double)d;
    } else if (c.quad == GM_MIX_QUAD_KID || c.quad == GM_MIX_QUAD_MMD) {
        k = kid_kernel(c.kernel, c.sigma, d);
    } else {
        k.type = KT_NONE;
    }
    double K[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS] = {0}, f[GM_MIX_MAX_ARMS] = {0};
    /* linear part */
    if (needs_terms(&c)) {
        for (size_t i = 0; i < m; i++) {
            const double *tv = terms ? terms[i] : NULL;
            double *own = NULL;
            if (!tv) {
                if (!ref) GM_FAIL(GM_EINVAL, "offline mixture: this score needs a reference set");
                own = gm_malloc(n[i] * GM_MIX_NTERMS * sizeof *own);
                if (!own) return GM_ENOMEM;
                rc = gm_mix_ref_terms(ref, X[i], n[i], own);
                if (rc) {
                    gm_free(own);
                    return rc;
                }
                tv = own;
            }
            double s = 0.0;
            for (size_t r = 0; r < n[i]; r++) s += fval_of(&c, tv + r * GM_MIX_NTERMS);
            f[i] = s / (double)n[i];
            gm_free(own);
        }
    }
    /* quadratic part: symmetric block tiles, one m x m partial per row block, summed in order */
    if (k.type != KT_NONE) {
        size_t nblk = 0;
        for (size_t i = 0; i < m; i++) nblk += (n[i] + MIX_TILE - 1) / MIX_TILE;
        mix_block *blk = gm_malloc(nblk * sizeof *blk);
        double *part = gm_calloc(nblk * m * m, sizeof *part);
        double **sqs = gm_calloc(m, sizeof *sqs);
        if (!blk || !part || !sqs) {
            gm_free(blk);
            gm_free(part);
            gm_free(sqs);
            return GM_ENOMEM;
        }
        int err = 0;
        size_t q = 0;
        for (size_t i = 0; i < m; i++) {
            for (size_t s0 = 0; s0 < n[i]; s0 += MIX_TILE) {
                blk[q].arm = i;
                blk[q].start = s0;
                blk[q].len = n[i] - s0 < MIX_TILE ? n[i] - s0 : MIX_TILE;
                q++;
            }
            sqs[i] = gm_malloc(n[i] * sizeof **sqs);
            if (!sqs[i]) err = 1;
            else
                for (size_t r = 0; r < n[i]; r++) {
                    if (!row_finite(X[i] + r * d, d)) err = 2;
                    sqs[i][r] = sqnorm(X[i] + r * d, d);
                }
        }
        if (!err) {
#pragma omp parallel for schedule(static, 1)
            for (size_t I = 0; I < nblk; I++) {
                float *tile = gm_malloc(MIX_TILE * MIX_TILE * sizeof *tile);
                if (!tile) {
#pragma omp atomic write
                    err = 1;
                    continue;
                }
                const mix_block *bi = &blk[I];
                double *P = part + I * m * m;
                for (size_t J = I; J < nblk; J++) {
                    const mix_block *bj = &blk[J];
                    gm_mix_dots_tile(X[bi->arm] + bi->start * d, bi->len, X[bj->arm] + bj->start * d, bj->len, d, tile,
                                     bj->len);
                    double acc = 0.0;
                    for (size_t a = 0; a < bi->len; a++) {
                        double sa = sqs[bi->arm][bi->start + a];
                        for (size_t bb = 0; bb < bj->len; bb++) {
                            if (I == J && a == bb)
                                acc += kself(&k, sa);
                            else
                                acc += kval(&k, tile[a * bj->len + bb], sa, sqs[bj->arm][bj->start + bb]);
                        }
                    }
                    if (I == J) {
                        P[bi->arm * m + bi->arm] += acc;
                    } else {
                        P[bi->arm * m + bj->arm] += acc;
                        P[bj->arm * m + bi->arm] += acc;
                    }
                }
                gm_free(tile);
            }
        }
        for (size_t I = 0; I < nblk; I++)
            for (size_t e = 0; e < m * m; e++) K[e] += part[I * m * m + e];
        for (size_t i = 0; i < m; i++) gm_free(sqs[i]);
        gm_free(sqs);
        gm_free(blk);
        gm_free(part);
        if (err == 1) GM_FAIL(GM_ENOMEM, "offline mixture: out of memory");
        if (err == 2) GM_FAIL(GM_ENUMERIC, "offline mixture: a sample has a NaN or Inf");
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) K[i * m + j] /= (double)n[i] * (double)n[j];
    }
    double Kr[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS], a[GM_MIX_MAX_ARMS];
    memcpy(Kr, K, m * m * sizeof *K);
    for (size_t i = 0; i < m; i++) Kr[i * m + i] += 1e-7;
    rc = gm_mix_qp(Kr, f, m, a, NULL);
    if (rc) return rc;
    double v = 0.0;
    for (size_t i = 0; i < m; i++) {
        double r = f[i];
        for (size_t j = 0; j < m; j++) r += K[i * m + j] * a[j];
        v += a[i] * r;
    }
    if ((c.quad == GM_MIX_QUAD_KID || c.quad == GM_MIX_QUAD_MMD) && ref) v += ref->self;
    if (alpha) memcpy(alpha, a, m * sizeof *a);
    if (obj) *obj = v;
    if (K_hat) memcpy(K_hat, K, m * m * sizeof *K);
    if (f_hat) memcpy(f_hat, f, m * sizeof *f);
    return GM_OK;
}

/* ==== replications =============================================================================== */

void gm_mix_trace_free(gm_mix_trace *t) {
    if (!t) return;
    gm_free(t->objective);
    gm_free(t->score);
    gm_free(t->freq);
    gm_free(t->alpha);
    gm_free(t->qp_alpha);
    memset(t, 0, sizeof *t);
}

static int sim_one(const gm_mix_config *cfg0, const gm_mix_ref *ref, const float *const *pool, const size_t *pool_n,
                   const double *const *pool_terms, size_t run, gm_mix_trace *out) {
    gm_mix_config cfg = *cfg0;
    cfg.run = run;
    size_t m = cfg.m, d = cfg.d, T = cfg.T, B = cfg.lookahead;
    gm_mix *b = NULL;
    size_t *perm[GM_MIX_MAX_ARMS] = {0};
    size_t taken[GM_MIX_MAX_ARMS] = {0};
    float *gx = NULL;
    double *gt = NULL;
    int rc = gm_mix_create(&b, &cfg, ref);
    if (rc) return rc;
    rc = GM_ENOMEM;
    gx = gm_malloc((B ? B : 1) * d * sizeof *gx);
    gt = gm_malloc((B ? B : 1) * GM_MIX_NTERMS * sizeof *gt);
    if (!gx || !gt) goto done;
    for (size_t i = 0; i < m; i++) {
        perm[i] = gm_malloc(pool_n[i] * sizeof **perm);
        if (!perm[i]) goto done;
        for (size_t j = 0; j < pool_n[i]; j++) perm[i][j] = j;
        /* partial Fisher-Yates: the first T positions are a uniform random draw without replacement */
        gm_rng r;
        gm_rng_init(&r, cfg.seed, gm_rng_stream_id(GM_STREAM_ARM, (run << 16) | i));
        size_t lim = T < pool_n[i] ? T : pool_n[i];
        for (size_t j = 0; j < lim; j++) {
            size_t k = j + (size_t)gm_rng_below(&r, pool_n[i] - j);
            size_t tmp = perm[i][j];
            perm[i][j] = perm[i][k];
            perm[i][k] = tmp;
        }
    }
    for (size_t t = 0; t < T; t++) {
        size_t arm;
        if ((rc = gm_mix_select(b, &arm))) goto done;
        if (out->qp_alpha) memcpy(out->qp_alpha + (run * T + t) * m, b->alpha, m * sizeof *b->alpha);
        if (B) {
            if (gm_mix_queued(b, arm) == 0) {
                size_t cnt = pool_n[arm] - taken[arm];
                if (cnt > B) cnt = B;
                if (cnt == 0) {
                    rc = gm_set_error(GM_EINVAL, "arm %zu ran out of samples after %zu pulls", arm, taken[arm]);
                    goto done;
                }
                for (size_t r = 0; r < cnt; r++) {
                    size_t row = perm[arm][taken[arm] + r];
                    memcpy(gx + r * d, pool[arm] + row * d, d * sizeof *gx);
                    if (pool_terms) memcpy(gt + r * GM_MIX_NTERMS, pool_terms[arm] + row * GM_MIX_NTERMS, GM_MIX_NTERMS * sizeof *gt);
                }
                if ((rc = gm_mix_push_ahead(b, arm, gx, cnt, pool_terms ? gt : NULL))) goto done;
                taken[arm] += cnt;
            }
            if ((rc = gm_mix_update(b, arm, NULL, NULL))) goto done;
        } else {
            if (taken[arm] >= pool_n[arm]) {
                rc = gm_set_error(GM_EINVAL, "arm %zu ran out of samples after %zu pulls", arm, taken[arm]);
                goto done;
            }
            size_t row = perm[arm][taken[arm]++];
            if ((rc = gm_mix_update(b, arm, pool[arm] + row * d, pool_terms ? pool_terms[arm] + row * GM_MIX_NTERMS : NULL)))
                goto done;
        }
        double obj = gm_mix_objective(b);
        out->objective[run * T + t] = obj;
        out->score[run * T + t] = gm_mix_score_of(cfg.quad, cfg.lin, obj);
        for (size_t i = 0; i < m; i++) out->freq[(run * T + t) * m + i] = (double)b->n[i] / (double)(t + 1);
    }
    for (size_t i = 0; i < m; i++)
        out->alpha[run * m + i] = (cfg.algo == GM_MIX_CAB || cfg.algo == GM_MIX_GREEDY) ? b->alpha[i]
                                                                                       : (double)b->n[i] / (double)T;
    rc = GM_OK;
done:
    for (size_t i = 0; i < m; i++) gm_free(perm[i]);
    gm_free(gx);
    gm_free(gt);
    gm_mix_free(b);
    return rc;
}

int gm_mix_simulate(const gm_mix_config *cfg, const gm_mix_ref *ref, const float *const *pool, const size_t *pool_n,
                    const double *const *pool_terms, size_t runs, gm_mix_trace *out) {
    memset(out, 0, sizeof *out);
    int rc = gm_mix_config_check(cfg);
    if (rc) return rc;
    if (runs < 1) GM_FAIL(GM_EINVAL, "mixing: runs must be >= 1");
    size_t m = cfg->m, T = cfg->T;
    for (size_t i = 0; i < m; i++) {
        if (pool_n[i] == 0) GM_FAIL(GM_EINVAL, "arm %zu is empty", i);
        if (pool_n[i] < T) GM_FAIL(GM_EINVAL, "arm %zu has %zu samples, fewer than the %zu rounds", i, pool_n[i], T);
    }
    if (needs_terms(cfg) && !pool_terms && !ref) GM_FAIL(GM_EINVAL, "mixing: this score needs a reference set");
    if (ref && ref->d != cfg->d) GM_FAIL(GM_ESHAPE, "mixing: reference set has dimension %zu, arms have %zu", ref->d, cfg->d);
    /* per-sample reference terms once for all runs */
    double *own[GM_MIX_MAX_ARMS] = {0};
    const double *terms[GM_MIX_MAX_ARMS];
    if (needs_terms(cfg) && !pool_terms) {
        for (size_t i = 0; i < m; i++) {
            own[i] = gm_malloc(pool_n[i] * GM_MIX_NTERMS * sizeof *own[i]);
            if (!own[i] || (rc = gm_mix_ref_terms(ref, pool[i], pool_n[i], own[i])) != GM_OK) {
                if (!own[i]) rc = GM_ENOMEM;
                for (size_t j = 0; j <= i; j++) gm_free(own[j]);
                return rc;
            }
            terms[i] = own[i];
        }
        pool_terms = terms;
    }
    out->runs = runs;
    out->T = T;
    out->m = m;
    out->objective = gm_malloc(runs * T * sizeof *out->objective);
    out->score = gm_malloc(runs * T * sizeof *out->score);
    out->freq = gm_malloc(runs * T * m * sizeof *out->freq);
    out->alpha = gm_malloc(runs * m * sizeof *out->alpha);
    int qp = cfg->algo == GM_MIX_CAB || cfg->algo == GM_MIX_GREEDY;
    out->qp_alpha = qp ? gm_malloc(runs * T * m * sizeof *out->qp_alpha) : NULL;
    int *rcs = gm_calloc(runs, sizeof *rcs);
    char(*msg)[256] = gm_calloc(runs, sizeof *msg);
    if (!out->objective || !out->score || !out->freq || !out->alpha || (qp && !out->qp_alpha) || !rcs || !msg) {
        rc = GM_ENOMEM;
        goto done;
    }
    /* always inside a parallel region (even for one run): OpenBLAS then runs single-threaded, which is
     * both faster for these small products and independent of the thread count */
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < runs; r++) {
        rcs[r] = sim_one(cfg, ref, pool, pool_n, pool_terms, r, out);
        if (rcs[r]) snprintf(msg[r], sizeof msg[r], "%s", gm_last_error());
    }
    rc = GM_OK;
    for (size_t r = 0; r < runs; r++)
        if (rcs[r]) {
            rc = gm_set_error(rcs[r], "run %zu: %s", r, msg[r]);
            break;
        }
done:
    gm_free(rcs);
    gm_free(msg);
    for (size_t i = 0; i < m; i++) gm_free(own[i]);
    if (rc) gm_mix_trace_free(out);
    return rc;
}
