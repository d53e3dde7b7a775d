/* mcmc.c — the latent decode->encode Markov chain of generative autoencoders (state machine), and
 * chain diagnostics: ESS, split R-hat, RBF MMD^2 between latent sets, median-distance bandwidth, slerp.
 *
 * Owns: the chain's state buffers (one allocation per role at create). Borrows the gm_ae_model.
 * Determinism: every random draw comes from the chain's own Philox stream (GM_STREAM_CHAIN, index), in a
 * fixed order per step, so results do not depend on the batch size or on the number of OpenMP threads.
 * Reductions are per-chain (or per-row) partials added in index order in double. */
#include "genmix/mcmc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif

/* ==== the chain ================================================================================== */

struct gm_latent_mcmc {
    gm_latent_mcmc_config cfg;
    gm_ae_model model;
    size_t n, d, D, batch, noise_dim;
    size_t t;
    float *z;         /* n x d current states */
    float *z0;        /* n x d starting states */
    float *x;         /* batch x D decoded / corrupted images */
    float *mu;        /* batch x d encoder means (or the sampled z of a custom sampler) */
    float *logvar;    /* batch x d (NULL for deterministic encoders) */
    float *eps;       /* batch x noise_dim encoder noise of a custom sampler */
    double *c_step;   /* n: ||z_t - z_{t-1}||^2 */
    double *c_drift;  /* n: ||z_t - z_0||^2 */
    double *c_norm;   /* n: ||z_t|| */
    gm_rng *rng;      /* n streams */
};

gm_latent_mcmc_config gm_latent_mcmc_config_default(void) {
    gm_latent_mcmc_config c;
    memset(&c, 0, sizeof c);
    c.n_chains = 1000;
    c.batch = 0;
    c.dec_mode = GM_LATENT_DECODE_MEAN;
    c.enc_mode = GM_LATENT_ENCODE_SAMPLE;
    c.corrupt_sigma = 0.0;
    c.z0_std = 1.0;
    c.seed = 0;
    return c;
}

static int check_model(const gm_latent_mcmc_config *cfg, const gm_ae_model *m) {
    if (m->data_dim == 0 || m->latent_dim == 0)
        GM_FAIL(GM_EINVAL, "latent mcmc: model dims must be positive (D=%zu, d=%zu)", m->data_dim, m->latent_dim);
    if (!m->decode) GM_FAIL(GM_EINVAL, "latent mcmc: model has no decode function");
    int custom = m->encode_sample != NULL && cfg->enc_mode == GM_LATENT_ENCODE_SAMPLE;
    if (!m->encode && !custom) GM_FAIL(GM_EINVAL, "latent mcmc: model has no encode function");
    if (m->encode_sample && m->enc_noise_dim == 0)
        GM_FAIL(GM_EINVAL, "latent mcmc: encode_sample needs enc_noise_dim > 0");
    if (m->likelihood != GM_AE_BERNOULLI && m->likelihood != GM_AE_GAUSSIAN)
        GM_FAIL(GM_EINVAL, "latent mcmc: unknown decoder likelihood %d", (int)m->likelihood);
    if (m->likelihood == GM_AE_GAUSSIAN && !m->dec_std && !(m->dec_sigma >= 0.0 && isfinite(m->dec_sigma)))
        GM_FAIL(GM_EINVAL, "latent mcmc: decoder std must be finite and >= 0 (got %g)", m->dec_sigma);
    return GM_OK;
}

int gm_latent_mcmc_create(gm_latent_mcmc **out, const gm_latent_mcmc_config *cfg, const gm_ae_model *model) {
    GM_ASSERT(out && cfg && model);
    *out = NULL;
    if (cfg->n_chains == 0) GM_FAIL(GM_EINVAL, "latent mcmc: n_chains must be >= 1");
    if (cfg->dec_mode != GM_LATENT_DECODE_MEAN && cfg->dec_mode != GM_LATENT_DECODE_SAMPLE)
        GM_FAIL(GM_EINVAL, "latent mcmc: unknown decode mode %d", (int)cfg->dec_mode);
    if (cfg->enc_mode != GM_LATENT_ENCODE_MEAN && cfg->enc_mode != GM_LATENT_ENCODE_SAMPLE)
        GM_FAIL(GM_EINVAL, "latent mcmc: unknown encode mode %d", (int)cfg->enc_mode);
    if (!(cfg->corrupt_sigma >= 0.0 && isfinite(cfg->corrupt_sigma)))
        GM_FAIL(GM_EINVAL, "latent mcmc: corrupt_sigma must be finite and >= 0 (got %g)", cfg->corrupt_sigma);
    if (!(cfg->z0_std >= 0.0 && isfinite(cfg->z0_std)))
        GM_FAIL(GM_EINVAL, "latent mcmc: z0_std must be finite and >= 0 (got %g)", cfg->z0_std);
    int rc = check_model(cfg, model);
    if (rc) return rc;

    gm_latent_mcmc *s = gm_calloc(1, sizeof *s);
    if (!s) return GM_ENOMEM;
    s->cfg = *cfg;
    s->model = *model;
    s->n = cfg->n_chains;
    s->d = model->latent_dim;
    s->D = model->data_dim;
    s->batch = cfg->batch ? cfg->batch : 1024;
    if (s->batch > s->n) s->batch = s->n;
    s->noise_dim = model->encode_sample ? model->enc_noise_dim : 0;
    size_t n = s->n, d = s->d, D = s->D, B = s->batch;
    if (n > SIZE_MAX / d / sizeof(float) || B > SIZE_MAX / D / sizeof(float)) {
        gm_free(s);
        GM_FAIL(GM_ENOMEM, "latent mcmc: %zu chains x %zu dims overflow", n, d);
    }
    s->z = gm_malloc(n * d * sizeof(float));
    s->z0 = gm_malloc(n * d * sizeof(float));
    s->x = gm_malloc(B * D * sizeof(float));
    s->mu = gm_malloc(B * d * sizeof(float));
    s->logvar = model->enc_stochastic ? gm_malloc(B * d * sizeof(float)) : NULL;
    s->eps = s->noise_dim ? gm_calloc(B * s->noise_dim, sizeof(float)) : NULL;
    s->c_step = gm_calloc(n, sizeof(double));
    s->c_drift = gm_calloc(n, sizeof(double));
    s->c_norm = gm_calloc(n, sizeof(double));
    s->rng = gm_malloc(n * sizeof(gm_rng));
    if (!s->z || !s->z0 || !s->x || !s->mu || (model->enc_stochastic && !s->logvar) || (s->noise_dim && !s->eps) ||
        !s->c_step || !s->c_drift || !s->c_norm || !s->rng) {
        gm_latent_mcmc_free(s);
        return GM_ENOMEM;
    }
    const float z0_std = (float)cfg->z0_std;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (long li = 0; li < (long)n; li++) {
        size_t i = (size_t)li;
        gm_rng_init(&s->rng[i], cfg->seed, gm_rng_stream_id(GM_STREAM_CHAIN, i));
        float *zi = s->z + i * d;
        double nn = 0.0;
        for (size_t j = 0; j < d; j++) {
            zi[j] = z0_std * (float)gm_rng_normal(&s->rng[i]);
            nn += (double)zi[j] * (double)zi[j];
        }
        s->c_norm[i] = sqrt(nn);
    }
    memcpy(s->z0, s->z, n * d * sizeof(float));
    *out = s;
    return GM_OK;
}

void gm_latent_mcmc_free(gm_latent_mcmc *s) {
    if (!s) return;
    gm_free(s->z);
    gm_free(s->z0);
    gm_free(s->x);
    gm_free(s->mu);
    gm_free(s->logvar);
    gm_free(s->eps);
    gm_free(s->c_step);
    gm_free(s->c_drift);
    gm_free(s->c_norm);
    gm_free(s->rng);
    gm_free(s);
}

/* One transition for chains [b0, b0 + nb). */
static int step_batch(gm_latent_mcmc *s, size_t b0, size_t nb) {
    const gm_ae_model *m = &s->model;
    const size_t d = s->d, D = s->D;
    float *x = s->x;
    /* A parallel region only pays off for enough work (results are identical either way). */
    const int par = nb * (D + d) >= 65536;
    (void)par;
    int rc = m->decode(x, s->z + b0 * d, nb, m->params);
    if (rc) return rc;

    const int dec_sample = s->cfg.dec_mode == GM_LATENT_DECODE_SAMPLE;
    const int bern = m->likelihood == GM_AE_BERNOULLI;
    const float sc = (float)s->cfg.corrupt_sigma;
    const float dsig = (float)m->dec_sigma;
    const int corrupt = s->cfg.corrupt_sigma > 0.0;
    if (dec_sample || corrupt) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
        for (long lr = 0; lr < (long)nb; lr++) {
            size_t r = (size_t)lr;
            gm_rng *g = &s->rng[b0 + r];
            float *xr = x + r * D;
            if (dec_sample) {
                if (bern) {
                    for (size_t j = 0; j < D; j++) xr[j] = gm_rng_uniform(g) < (double)xr[j] ? 1.0f : 0.0f;
                } else if (m->dec_std) {
                    for (size_t j = 0; j < D; j++) xr[j] += (float)(m->dec_std[j] * gm_rng_normal(g));
                } else {
                    for (size_t j = 0; j < D; j++) xr[j] += dsig * (float)gm_rng_normal(g);
                }
            }
            if (corrupt)
                for (size_t j = 0; j < D; j++) xr[j] += sc * (float)gm_rng_normal(g);
        }
    }

    const int enc_sample = s->cfg.enc_mode == GM_LATENT_ENCODE_SAMPLE;
    int custom = enc_sample && m->encode_sample != NULL;
    int add_noise = 0;
    if (custom) {
        const size_t K = s->noise_dim;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
        for (long lr = 0; lr < (long)nb; lr++) {
            size_t r = (size_t)lr;
            gm_rng *g = &s->rng[b0 + r];
            for (size_t k = 0; k < K; k++) s->eps[r * K + k] = (float)gm_rng_normal(g);
        }
        rc = m->encode_sample(s->mu, x, s->eps, nb, m->params);
    } else {
        rc = m->encode(s->mu, m->enc_stochastic ? s->logvar : NULL, x, nb, m->params);
        add_noise = enc_sample && m->enc_stochastic;
    }
    if (rc) return rc;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (long lr = 0; lr < (long)nb; lr++) {
        size_t r = (size_t)lr, i = b0 + r;
        gm_rng *g = &s->rng[i];
        float *zi = s->z + i * d;
        const float *z0i = s->z0 + i * d;
        const float *mur = s->mu + r * d;
        double st = 0.0, dr = 0.0, nn = 0.0;
        for (size_t j = 0; j < d; j++) {
            float zn = mur[j];
            if (add_noise) zn += expf(0.5f * s->logvar[r * d + j]) * (float)gm_rng_normal(g);
            double a = (double)zn - (double)zi[j], b = (double)zn - (double)z0i[j];
            st += a * a;
            dr += b * b;
            nn += (double)zn * (double)zn;
            zi[j] = zn;
        }
        s->c_step[i] = st;
        s->c_drift[i] = dr;
        s->c_norm[i] = sqrt(nn);
    }
    for (size_t r = 0; r < nb; r++)
        if (!isfinite(s->c_norm[b0 + r]))
            GM_FAIL(GM_ENUMERIC, "latent mcmc: chain %zu has a non-finite state at step %zu", b0 + r, s->t + 1);
    return GM_OK;
}

int gm_latent_mcmc_step(gm_latent_mcmc *s) {
    GM_ASSERT(s);
    for (size_t b0 = 0; b0 < s->n; b0 += s->batch) {
        size_t nb = s->n - b0 < s->batch ? s->n - b0 : s->batch;
        int rc = step_batch(s, b0, nb);
        if (rc) return rc;
    }
    s->t++;
    return GM_OK;
}

int gm_latent_mcmc_set_z(gm_latent_mcmc *s, const float *z) {
    GM_ASSERT(s && z);
    for (size_t i = 0; i < s->n * s->d; i++)
        if (!isfinite(z[i])) GM_FAIL(GM_ENUMERIC, "latent mcmc: start state of chain %zu is not finite", i / s->d);
    memcpy(s->z, z, s->n * s->d * sizeof(float));
    memcpy(s->z0, z, s->n * s->d * sizeof(float));
    for (size_t i = 0; i < s->n; i++) {
        double nn = 0.0;
        for (size_t j = 0; j < s->d; j++) nn += (double)z[i * s->d + j] * (double)z[i * s->d + j];
        s->c_norm[i] = sqrt(nn);
        s->c_step[i] = 0.0;
        s->c_drift[i] = 0.0;
    }
    s->t = 0;
    return GM_OK;
}

const float *gm_latent_mcmc_z(const gm_latent_mcmc *s) { return s->z; }
size_t gm_latent_mcmc_n_chains(const gm_latent_mcmc *s) { return s->n; }

int gm_latent_mcmc_decode(gm_latent_mcmc *s, float *x_out) {
    GM_ASSERT(s && x_out);
    for (size_t b0 = 0; b0 < s->n; b0 += s->batch) {
        size_t nb = s->n - b0 < s->batch ? s->n - b0 : s->batch;
        int rc = s->model.decode(x_out + b0 * s->D, s->z + b0 * s->d, nb, s->model.params);
        if (rc) return rc;
    }
    return GM_OK;
}

int gm_latent_mcmc_run(gm_latent_mcmc *s, const size_t *record, size_t n_record, float *out) {
    GM_ASSERT(s && (record || n_record == 0) && (out || n_record == 0));
    for (size_t r = 1; r < n_record; r++)
        if (record[r] <= record[r - 1]) GM_FAIL(GM_EINVAL, "latent mcmc: record steps must be strictly increasing");
    size_t done = 0;
    for (size_t r = 0; r < n_record; r++) {
        for (; done < record[r]; done++) {
            int rc = gm_latent_mcmc_step(s);
            if (rc) return rc;
        }
        int rc = gm_latent_mcmc_decode(s, out + r * s->n * s->D);
        if (rc) return rc;
    }
    return GM_OK;
}

int gm_latent_interpolate(const gm_ae_model *model, const gm_latent_mcmc_config *cfg, const float *za,
                          const float *zb, size_t n_points, int use_slerp, const size_t *record, size_t n_record,
                          float *out) {
    GM_ASSERT(model && cfg && za && zb);
    if (n_points < 2) GM_FAIL(GM_EINVAL, "interpolate: need >= 2 points (got %zu)", n_points);
    gm_latent_mcmc_config c = *cfg;
    c.n_chains = n_points;
    gm_latent_mcmc *s;
    int rc = gm_latent_mcmc_create(&s, &c, model);
    if (rc) return rc;
    const size_t d = model->latent_dim;
    /* the chain's own state buffer is overwritten through set_z from a temporary in z0 order */
    float *z = gm_malloc(n_points * d * sizeof(float));
    if (!z) {
        gm_latent_mcmc_free(s);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < n_points; i++) {
        double mu = (double)i / (double)(n_points - 1);
        if (use_slerp) {
            gm_latent_slerp(z + i * d, za, zb, d, mu);
        } else {
            for (size_t j = 0; j < d; j++) z[i * d + j] = (float)((1.0 - mu) * (double)za[j] + mu * (double)zb[j]);
        }
    }
    rc = gm_latent_mcmc_set_z(s, z);
    gm_free(z);
    if (!rc) rc = gm_latent_mcmc_run(s, record, n_record, out);
    gm_latent_mcmc_free(s);
    return rc;
}

gm_latent_mcmc_stats gm_latent_mcmc_get_stats(const gm_latent_mcmc *s) {
    gm_latent_mcmc_stats st;
    double a = 0.0, b = 0.0, c = 0.0, mx = 0.0;
    for (size_t i = 0; i < s->n; i++) {
        a += s->c_step[i];
        b += s->c_drift[i];
        c += s->c_norm[i];
        if (s->c_norm[i] > mx) mx = s->c_norm[i];
    }
    st.t = s->t;
    st.step_sq = a / (double)s->n;
    st.drift_sq = b / (double)s->n;
    st.norm_mean = c / (double)s->n;
    st.norm_max = mx;
    return st;
}

/* ==== ESS and R-hat ============================================================================== */

static double mean_of(const double *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

/* Between/within variances of m chains of n draws with the given stride between chains. */
static void chain_vars(const double *x, size_t m, size_t n, size_t stride, double *W, double *var_plus,
                       double *means) {
    double w = 0.0;
    for (size_t c = 0; c < m; c++) {
        const double *xc = x + c * stride;
        double mu = mean_of(xc, n), v = 0.0;
        for (size_t i = 0; i < n; i++) v += (xc[i] - mu) * (xc[i] - mu);
        means[c] = mu;
        w += v / (double)(n - 1);
    }
    w /= (double)m;
    double bn = 0.0; /* B / n = variance of the chain means */
    if (m > 1) {
        double mm = mean_of(means, m);
        for (size_t c = 0; c < m; c++) bn += (means[c] - mm) * (means[c] - mm);
        bn /= (double)(m - 1);
    }
    *W = w;
    *var_plus = (double)(n - 1) / (double)n * w + bn;
}

int gm_mcmc_rhat(const double *x, size_t m, size_t n, double *rhat) {
    GM_ASSERT(x && rhat);
    if (m == 0 || n < 4) GM_FAIL(GM_EINVAL, "rhat: need >= 1 chain of >= 4 draws (got %zu x %zu)", m, n);
    for (size_t i = 0; i < m * n; i++)
        if (!isfinite(x[i])) GM_FAIL(GM_ENUMERIC, "rhat: draw %zu of chain %zu is not finite", i % n, i / n);
    size_t h = n / 2;
    double *means = gm_malloc(2 * m * sizeof(double));
    if (!means) return GM_ENOMEM;
    /* half-chains: [c*n, c*n+h) and [c*n + n-h, c*n+n) */
    double w = 0.0, mm = 0.0;
    for (size_t c = 0; c < 2 * m; c++) {
        const double *xc = x + (c / 2) * n + (c % 2 ? n - h : 0);
        double mu = mean_of(xc, h), v = 0.0;
        for (size_t i = 0; i < h; i++) v += (xc[i] - mu) * (xc[i] - mu);
        means[c] = mu;
        mm += mu;
        w += v / (double)(h - 1);
    }
    w /= (double)(2 * m);
    mm /= (double)(2 * m);
    double bn = 0.0;
    for (size_t c = 0; c < 2 * m; c++) bn += (means[c] - mm) * (means[c] - mm);
    bn /= (double)(2 * m - 1);
    gm_free(means);
    double vp = (double)(h - 1) / (double)h * w + bn;
    if (w <= 0.0) {
        *rhat = bn > 0.0 ? HUGE_VAL : 1.0;
        return GM_OK;
    }
    *rhat = sqrt(vp / w);
    return GM_OK;
}

int gm_mcmc_ess(const double *x, size_t m, size_t n, double *ess) {
    GM_ASSERT(x && ess);
    if (m == 0 || n < 4) GM_FAIL(GM_EINVAL, "ess: need >= 1 chain of >= 4 draws (got %zu x %zu)", m, n);
    for (size_t i = 0; i < m * n; i++)
        if (!isfinite(x[i])) GM_FAIL(GM_ENUMERIC, "ess: draw %zu of chain %zu is not finite", i % n, i / n);
    double *means = gm_malloc((m + n) * sizeof(double));
    if (!means) return GM_ENOMEM;
    double *rho = means + m;
    double W, vp;
    chain_vars(x, m, n, n, &W, &vp, means);
    if (!(vp > 0.0)) { /* constant draws: every draw is as good as independent */
        gm_free(means);
        *ess = (double)(m * n);
        return GM_OK;
    }
    /* rho_t = 1 - (W - mean_c acov_c(t)) / var_plus, acov with denominator n (biased, as Stan). */
    double tau = -1.0, prev_pair = HUGE_VAL;
    for (size_t t = 0; t + 1 < n; t += 2) {
        double pair;
        for (size_t k = t; k <= t + 1; k++) {
            double ac = 0.0;
            for (size_t c = 0; c < m; c++) {
                const double *xc = x + c * n;
                double mu = means[c], s = 0.0;
                for (size_t i = 0; i + k < n; i++) s += (xc[i] - mu) * (xc[i + k] - mu);
                ac += s / (double)n;
            }
            ac /= (double)m;
            rho[k] = k == 0 ? 1.0 : 1.0 - (W - ac) / vp; /* Stan: unbiased W, biased acov */
        }
        pair = rho[t] + rho[t + 1];
        if (pair < 0.0) break;          /* initial positive sequence */
        if (pair > prev_pair) pair = prev_pair; /* initial monotone sequence */
        prev_pair = pair;
        tau += 2.0 * pair;
    }
    gm_free(means);
    /* Guard against antithetic chains producing a tiny tau (Stan caps ESS at mn log10(mn)). */
    double cap = 1.0 / log10((double)(m * n) > 10.0 ? (double)(m * n) : 10.0);
    if (tau < cap) tau = cap;
    *ess = (double)(m * n) / tau;
    return GM_OK;
}

/* ==== latent MMD and bandwidth ==================================================================== */

static double sqdist(const float *a, const float *b, size_t d) {
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
        double t = (double)a[j] - (double)b[j];
        s += t * t;
    }
    return s;
}

/* Sum over i of sum over j of k(a_i, b_j), excluding i == j when same != 0; per-row partials added in
 * order. rows: scratch of na doubles. */
static double kernel_sum(const float *a, size_t na, const float *b, size_t nb, size_t d, double g, int same,
                         double *rows) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (long li = 0; li < (long)na; li++) {
        size_t i = (size_t)li;
        double s = 0.0;
        for (size_t j = same ? i + 1 : 0; j < nb; j++) s += exp(-g * sqdist(a + i * d, b + j * d, d));
        rows[i] = same ? 2.0 * s : s;
    }
    double tot = 0.0;
    for (size_t i = 0; i < na; i++) tot += rows[i];
    return tot;
}

int gm_latent_mmd2_rbf(const float *x, size_t m, const float *y, size_t n, size_t d, double h, double *mmd2) {
    GM_ASSERT(x && y && mmd2);
    if (m < 2 || n < 2 || d == 0) GM_FAIL(GM_EINVAL, "mmd: need >= 2 points per set and d > 0 (m=%zu, n=%zu)", m, n);
    if (!(h > 0.0 && isfinite(h))) GM_FAIL(GM_EINVAL, "mmd: bandwidth must be positive and finite (got %g)", h);
    double *rows = gm_malloc((m > n ? m : n) * sizeof(double));
    if (!rows) return GM_ENOMEM;
    double g = 1.0 / (2.0 * h * h);
    double kxx = kernel_sum(x, m, x, m, d, g, 1, rows);
    double kyy = kernel_sum(y, n, y, n, d, g, 1, rows);
    double kxy = kernel_sum(x, m, y, n, d, g, 0, rows);
    gm_free(rows);
    *mmd2 = kxx / ((double)m * (double)(m - 1)) + kyy / ((double)n * (double)(n - 1)) -
            2.0 * kxy / ((double)m * (double)n);
    if (!isfinite(*mmd2)) GM_FAIL(GM_ENUMERIC, "mmd: non-finite result (NaN/Inf in the inputs?)");
    return GM_OK;
}

static int cmp_double(const void *a, const void *b) {
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

int gm_latent_median_distance(const float *x, size_t m, const float *y, size_t n, size_t d, size_t max_points,
                              double *h) {
    GM_ASSERT(x && h && (y || n == 0));
    size_t tot = m + n;
    if (tot < 2 || d == 0) GM_FAIL(GM_EINVAL, "median distance: need >= 2 points and d > 0");
    size_t k = max_points ? max_points : 1000;
    if (k < 2) k = 2;
    if (k > tot) k = tot;
    size_t np = k * (k - 1) / 2;
    double *dist = gm_malloc(np * sizeof(double));
    const float **pt = gm_malloc(k * sizeof(float *));
    if (!dist || !pt) {
        gm_free(dist);
        gm_free(pt);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        size_t idx = (size_t)(((double)i * (double)tot) / (double)k); /* evenly spaced rows of the pool */
        pt[i] = idx < m ? x + idx * d : y + (idx - m) * d;
    }
    size_t p = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++) dist[p++] = sqrt(sqdist(pt[i], pt[j], d));
    qsort(dist, np, sizeof(double), cmp_double);
    double med = np % 2 ? dist[np / 2] : 0.5 * (dist[np / 2 - 1] + dist[np / 2]);
    gm_free(dist);
    gm_free(pt);
    if (!isfinite(med)) GM_FAIL(GM_ENUMERIC, "median distance: non-finite (NaN/Inf in the inputs?)");
    *h = med;
    return GM_OK;
}

int gm_latent_swd(const float *x, const float *y, size_t n, size_t d, size_t L, uint64_t seed, double *swd) {
    GM_ASSERT(x && y && swd);
    if (n == 0 || d == 0 || L == 0) GM_FAIL(GM_EINVAL, "swd: need n, d, L > 0");
    double *px = gm_malloc((2 * n + d) * sizeof(double));
    if (!px) return GM_ENOMEM;
    double *py = px + n, *u = py + n;
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 0));
    double tot = 0.0;
    for (size_t l = 0; l < L; l++) {
        double nu = 0.0;
        for (size_t j = 0; j < d; j++) {
            u[j] = gm_rng_normal(&r);
            nu += u[j] * u[j];
        }
        nu = sqrt(nu);
        for (size_t j = 0; j < d; j++) u[j] /= nu;
        for (size_t i = 0; i < n; i++) {
            double a = 0.0, b = 0.0;
            for (size_t j = 0; j < d; j++) {
                a += u[j] * (double)x[i * d + j];
                b += u[j] * (double)y[i * d + j];
            }
            px[i] = a;
            py[i] = b;
        }
        qsort(px, n, sizeof(double), cmp_double);
        qsort(py, n, sizeof(double), cmp_double);
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += (px[i] - py[i]) * (px[i] - py[i]);
        tot += s / (double)n;
    }
    gm_free(px);
    *swd = sqrt(tot / (double)L);
    if (!isfinite(*swd)) GM_FAIL(GM_ENUMERIC, "swd: non-finite result (NaN/Inf in the inputs?)");
    return GM_OK;
}

int gm_latent_log_phat(double *out, const float *z, size_t m, const float *mu, const float *logvar, size_t N,
                       size_t d) {
    GM_ASSERT(out && z && mu && logvar);
    if (m == 0 || N == 0 || d == 0) GM_FAIL(GM_EINVAL, "log P-hat: need m, N, d > 0");
    const double c = -0.5 * (double)d * log(2.0 * 3.14159265358979323846) - log((double)N);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (long lq = 0; lq < (long)m; lq++) {
        size_t q = (size_t)lq;
        const float *zq = z + q * d;
        double mx = -HUGE_VAL, s = 0.0; /* streaming log-sum-exp */
        for (size_t i = 0; i < N; i++) {
            double l = 0.0;
            for (size_t j = 0; j < d; j++) {
                double lv = (double)logvar[i * d + j], t = (double)zq[j] - (double)mu[i * d + j];
                l -= 0.5 * (lv + t * t * exp(-lv));
            }
            if (l > mx) {
                s = s * exp(mx - l) + 1.0;
                mx = l;
            } else {
                s += exp(l - mx);
            }
        }
        out[q] = mx + log(s) + c;
    }
    for (size_t q = 0; q < m; q++)
        if (isnan(out[q])) GM_FAIL(GM_ENUMERIC, "log P-hat: NaN at query %zu (NaN in the inputs?)", q);
    return GM_OK;
}

/* Solve the SPD system H x = g (k x k, Cholesky, in place; H destroyed). GM_ENUMERIC if not SPD. */
static int chol_solve(double *H, double *g, size_t k) {
    for (size_t j = 0; j < k; j++) {
        double s = H[j * k + j];
        for (size_t l = 0; l < j; l++) s -= H[j * k + l] * H[j * k + l];
        if (!(s > 0.0)) GM_FAIL(GM_ENUMERIC, "c2st: Hessian not positive definite");
        double r = sqrt(s);
        H[j * k + j] = r;
        for (size_t i = j + 1; i < k; i++) {
            double t = H[i * k + j];
            for (size_t l = 0; l < j; l++) t -= H[i * k + l] * H[j * k + l];
            H[i * k + j] = t / r;
        }
    }
    for (size_t i = 0; i < k; i++) { /* L y = g */
        double t = g[i];
        for (size_t l = 0; l < i; l++) t -= H[i * k + l] * g[l];
        g[i] = t / H[i * k + i];
    }
    for (size_t i = k; i-- > 0;) { /* L^T x = y */
        double t = g[i];
        for (size_t l = i + 1; l < k; l++) t -= H[l * k + i] * g[l];
        g[i] = t / H[i * k + i];
    }
    return GM_OK;
}

int gm_latent_c2st(const float *x, size_t m, const float *y, size_t n, size_t d, uint64_t seed, double *acc) {
    GM_ASSERT(x && y && acc);
    if (m < 4 || n < 4 || d == 0) GM_FAIL(GM_EINVAL, "c2st: need >= 4 points per set and d > 0");
    const size_t tot = m + n, k = d + 1;
    size_t *perm = gm_malloc(tot * sizeof(size_t));
    double *w = gm_malloc((3 * k + k * k + tot) * sizeof(double));
    if (!perm || !w) {
        gm_free(perm);
        gm_free(w);
        return GM_ENOMEM;
    }
    double *g = w + k, *step = g + k, *H = step + k, *lab = H + k * k;
    /* the training set: the first half of each set in a seeded order; rows 0..m-1 are x, m.. are y */
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 1));
    gm_rng_permutation(&r, perm, m);
    gm_rng_permutation(&r, perm + m, n);
    for (size_t i = 0; i < n; i++) perm[m + i] += m;
    const size_t mt = m / 2, nt = n / 2;
    for (size_t i = 0; i < tot; i++) lab[i] = i < m ? 1.0 : 0.0;
#define C2ST_ROW(idx) ((idx) < m ? x + (idx) * d : y + ((idx) - m) * d)
    memset(w, 0, k * sizeof(double));
    int rc = GM_OK, converged = 0;
    for (int it = 0; it < 50 && !converged; it++) {
        /* gradient and Hessian of the mean negative log-likelihood (+ 1e-4/2 |w|^2, bias unpenalised) */
        memset(g, 0, k * sizeof(double));
        memset(H, 0, k * k * sizeof(double));
        const size_t ntr = mt + nt;
        for (size_t t = 0; t < ntr; t++) {
            size_t idx = t < mt ? perm[t] : perm[m + (t - mt)];
            const float *row = C2ST_ROW(idx);
            double a = w[d];
            for (size_t j = 0; j < d; j++) a += w[j] * (double)row[j];
            double p = 1.0 / (1.0 + exp(-a)), e = p - lab[idx], v = p * (1.0 - p);
            for (size_t j = 0; j <= d; j++) {
                double fj = j < d ? (double)row[j] : 1.0;
                g[j] += e * fj;
                for (size_t l = 0; l <= j; l++) H[j * k + l] += v * fj * (l < d ? (double)row[l] : 1.0);
            }
        }
        for (size_t j = 0; j < k; j++) {
            g[j] /= (double)ntr;
            for (size_t l = 0; l <= j; l++) H[j * k + l] /= (double)ntr;
            if (j < d) {
                g[j] += 1e-4 * w[j];
                H[j * k + j] += 1e-4;
            }
        }
        H[d * k + d] += 1e-10;
        for (size_t j = 0; j < k; j++)
            for (size_t l = j + 1; l < k; l++) H[j * k + l] = H[l * k + j];
        double gn = 0.0;
        for (size_t j = 0; j < k; j++) gn += g[j] * g[j];
        if (sqrt(gn) < 1e-9) {
            converged = 1;
            break;
        }
        memcpy(step, g, k * sizeof(double));
        if ((rc = chol_solve(H, step, k))) break;
        for (size_t j = 0; j < k; j++) w[j] -= step[j];
    }
    if (!rc && !converged) rc = gm_set_error(GM_ENUMERIC, "c2st: logistic regression did not converge");
    if (!rc) {
        size_t correct = 0, ntest = (m - mt) + (n - nt);
        for (size_t t = 0; t < ntest; t++) {
            size_t idx = t < m - mt ? perm[mt + t] : perm[m + nt + (t - (m - mt))];
            const float *row = C2ST_ROW(idx);
            double a = w[d];
            for (size_t j = 0; j < d; j++) a += w[j] * (double)row[j];
            correct += (a > 0.0) == (idx < m);
        }
        *acc = (double)correct / (double)ntest;
    }
#undef C2ST_ROW
    gm_free(perm);
    gm_free(w);
    return rc;
}

int gm_latent_phat_moments(const float *mu, const float *logvar, size_t N, size_t d, double active_thresh,
                           double *mean, double *var, size_t *n_active) {
    GM_ASSERT(mu);
    if (N < 2 || d == 0) GM_FAIL(GM_EINVAL, "P-hat moments: need N >= 2 encodings and d > 0");
    size_t act = 0;
    for (size_t j = 0; j < d; j++) {
        double s = 0.0, ev = 0.0;
        for (size_t i = 0; i < N; i++) {
            s += (double)mu[i * d + j];
            if (logvar) ev += exp((double)logvar[i * d + j]);
        }
        double mj = s / (double)N, v = 0.0;
        for (size_t i = 0; i < N; i++) v += ((double)mu[i * d + j] - mj) * ((double)mu[i * d + j] - mj);
        v /= (double)(N - 1);
        if (!isfinite(v) || !isfinite(ev)) GM_FAIL(GM_ENUMERIC, "P-hat moments: non-finite in dimension %zu", j);
        if (mean) mean[j] = mj;
        if (var) var[j] = ev / (double)N + v;
        act += v > active_thresh;
    }
    if (n_active) *n_active = act;
    return GM_OK;
}

int gm_latent_nearest_sqdist(const float *q, size_t m, const float *ref, size_t n, size_t d, float *out) {
    GM_ASSERT(q && ref && out);
    if (m == 0 || n == 0 || d == 0) GM_FAIL(GM_EINVAL, "nearest: empty input");
#ifdef GM_HAVE_BLAS
    const size_t TILE = 256;
    float *G = gm_malloc(TILE * n * sizeof(float)), *rn = gm_malloc(n * sizeof(float));
    if (!G || !rn) {
        gm_free(G);
        gm_free(rn);
        return GM_ENOMEM;
    }
    for (size_t j = 0; j < n; j++) {
        double s = 0.0;
        for (size_t k = 0; k < d; k++) s += (double)ref[j * d + k] * (double)ref[j * d + k];
        rn[j] = (float)s;
    }
    for (size_t i0 = 0; i0 < m; i0 += TILE) {
        size_t mb = m - i0 < TILE ? m - i0 : TILE;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mb, (int)n, (int)d, 1.0f, q + i0 * d, (int)d, ref,
                    (int)d, 0.0f, G, (int)n);
        for (size_t i = 0; i < mb; i++) {
            double qn = 0.0;
            for (size_t k = 0; k < d; k++) qn += (double)q[(i0 + i) * d + k] * (double)q[(i0 + i) * d + k];
            float best = HUGE_VALF;
            for (size_t j = 0; j < n; j++) {
                float v = (float)qn + rn[j] - 2.0f * G[i * n + j];
                if (v < best) best = v;
            }
            out[i0 + i] = best > 0.0f ? best : 0.0f;
        }
    }
    gm_free(G);
    gm_free(rn);
#else
    for (size_t i = 0; i < m; i++) {
        double best = HUGE_VAL;
        for (size_t j = 0; j < n; j++) {
            double v = sqdist(q + i * d, ref + j * d, d);
            if (v < best) best = v;
        }
        out[i] = (float)best;
    }
#endif
    for (size_t i = 0; i < m; i++)
        if (!isfinite(out[i])) GM_FAIL(GM_ENUMERIC, "nearest: non-finite distance for query %zu", i);
    return GM_OK;
}

void gm_latent_slerp(float *out, const float *a, const float *b, size_t d, double mu) {
    double na = 0.0, nb = 0.0, dot = 0.0;
    for (size_t j = 0; j < d; j++) {
        na += (double)a[j] * (double)a[j];
        nb += (double)b[j] * (double)b[j];
        dot += (double)a[j] * (double)b[j];
    }
    double th = 0.0;
    if (na > 0.0 && nb > 0.0) {
        double c = dot / sqrt(na * nb);
        if (c > 1.0) c = 1.0;
        if (c < -1.0) c = -1.0;
        th = acos(c);
    }
    if (th < 1e-6 || sin(th) < 1e-12) {
        for (size_t j = 0; j < d; j++) out[j] = (float)((1.0 - mu) * (double)a[j] + mu * (double)b[j]);
        return;
    }
    double s = sin(th), wa = sin((1.0 - mu) * th) / s, wb = sin(mu * th) / s;
    for (size_t j = 0; j < d; j++) out[j] = (float)(wa * (double)a[j] + wb * (double)b[j]);
}
