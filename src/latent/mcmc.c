/* SPDX-License-Identifier: MIT */
/* mcmc.c — the latent decode->encode Markov chain of generative autoencoders (state machine), and
 * chain diagnostics: ESS, split R-hat, slerp (two-sample statistics of latent sets: eval_twosample.c).
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
