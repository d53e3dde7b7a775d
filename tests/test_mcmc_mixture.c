/* SPDX-License-Identifier: MIT */
/* test_mcmc_mixture.c — spec latent_mcmc.md T2: exact Gibbs with a learned latent law P-hat != prior.
 *
 * Latent target r(z) = sum_k pi_k N(z; m_k, s_k I) (d = 2, 4 modes, pi = (0.4, 0.3, 0.2, 0.1)); decoder
 * N(W z, I_D) with W = g Q, Q (D x 2) orthonormal columns, D = 20; data x ~ int p(x|z) r(z) dz.
 * The encoder is the exact posterior, a mixture: V_k = (1/s_k + g^2)^-1 I, mu_k(x) = V_k (m_k/s_k + W^T x),
 * gamma_k(x) ∝ pi_k N(x; W m_k, C_k), C_k = W s_k W^T + I = I + g^2 s_k Q Q^T, whose inverse is
 * I - (g^2 s_k / (1 + g^2 s_k)) Q Q^T and log det is 2 log(1 + g^2 s_k). Then P-hat = r, and the
 * sample/sample chain is a two-block Gibbs sampler whose stationary law is r. Replacing the encoder by
 * its moment-matched single Gaussian breaks compatibility and shifts the stationary law. */
#include "gm_test.h"
#include "genmix/eval.h"
#include "genmix/mcmc.h"
#include "genmix/rng.h"

enum { D = 20, d = 2, K = 4 };
#define G2 2.0 /* W^T W = G2 I: the latent signal-to-noise ratio of the decoder */

typedef struct {
    double Q[D * d]; /* orthonormal columns */
    double W[D * d];
    double m[K][d];
    double s[K];
    double pi[K];
} mixture;

static void mixture_init(mixture *mx) {
    gm_rng r;
    gm_rng_init(&r, 2024, gm_rng_stream_id(GM_STREAM_SIM, 0));
    double a[D], b[D];
    for (int i = 0; i < D; i++) a[i] = gm_rng_normal(&r), b[i] = gm_rng_normal(&r);
    double na = 0, ab = 0, nb = 0;
    for (int i = 0; i < D; i++) na += a[i] * a[i];
    for (int i = 0; i < D; i++) a[i] /= sqrt(na);
    for (int i = 0; i < D; i++) ab += a[i] * b[i];
    for (int i = 0; i < D; i++) b[i] -= ab * a[i];
    for (int i = 0; i < D; i++) nb += b[i] * b[i];
    for (int i = 0; i < D; i++) b[i] /= sqrt(nb);
    for (int i = 0; i < D; i++) {
        mx->Q[i * d] = a[i];
        mx->Q[i * d + 1] = b[i];
        mx->W[i * d] = sqrt(G2) * a[i];
        mx->W[i * d + 1] = sqrt(G2) * b[i];
    }
    const double mm[K][d] = {{1.2, 1.2}, {-1.2, 1.2}, {1.2, -1.2}, {-1.2, -1.2}};
    const double ss[K] = {0.15, 0.2, 0.25, 0.3}, pp[K] = {0.4, 0.3, 0.2, 0.1};
    memcpy(mx->m, mm, sizeof mm);
    memcpy(mx->s, ss, sizeof ss);
    memcpy(mx->pi, pp, sizeof pp);
}

static int mix_decode(float *x, const float *z, size_t n, void *p) {
    const mixture *mx = p;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < D; k++)
            x[i * D + k] = (float)(mx->W[k * d] * (double)z[i * d] + mx->W[k * d + 1] * (double)z[i * d + 1]);
    return GM_OK;
}

/* responsibilities gamma_k(x) and component posterior means mu_k(x) */
static void posterior(const mixture *mx, const float *x, double gam[K], double mu[K][d], double V[K]) {
    double wtx[d] = {0, 0}, qtx[d] = {0, 0}, xx = 0;
    for (int i = 0; i < D; i++) {
        double xi = (double)x[i];
        xx += xi * xi;
        for (int j = 0; j < d; j++) {
            wtx[j] += mx->W[i * d + j] * xi;
            qtx[j] += mx->Q[i * d + j] * xi;
        }
    }
    double lg[K], mx_l = -HUGE_VAL;
    for (int k = 0; k < K; k++) {
        /* u = x - W m_k: u^T u = x^T x - 2 g m.(Q^T x) + g^2 |m|^2, Q^T u = Q^T x - g m */
        double uu = xx, qu2 = 0;
        for (int j = 0; j < d; j++) {
            uu += -2.0 * sqrt(G2) * mx->m[k][j] * qtx[j] + G2 * mx->m[k][j] * mx->m[k][j];
            double q = qtx[j] - sqrt(G2) * mx->m[k][j];
            qu2 += q * q;
        }
        double c = G2 * mx->s[k] / (1.0 + G2 * mx->s[k]);
        lg[k] = log(mx->pi[k]) - 0.5 * (uu - c * qu2) - log(1.0 + G2 * mx->s[k]);
        if (lg[k] > mx_l) mx_l = lg[k];
        V[k] = 1.0 / (1.0 / mx->s[k] + G2);
        for (int j = 0; j < d; j++) mu[k][j] = V[k] * (mx->m[k][j] / mx->s[k] + wtx[j]);
    }
    double tot = 0;
    for (int k = 0; k < K; k++) tot += (gam[k] = exp(lg[k] - mx_l));
    for (int k = 0; k < K; k++) gam[k] /= tot;
}

/* exact posterior sampler: component by Phi(eps_0), then mu_k + sqrt(V_k) eps_{1,2} */
static int mix_encode_sample(float *z, const float *x, const float *eps, size_t n, void *p) {
    const mixture *mx = p;
    for (size_t i = 0; i < n; i++) {
        double gam[K], mu[K][d], V[K];
        posterior(mx, x + i * D, gam, mu, V);
        double u = 0.5 * erfc(-(double)eps[i * 3] / sqrt(2.0)), c = 0;
        int k = 0;
        for (; k < K - 1; k++) {
            c += gam[k];
            if (u < c) break;
        }
        for (int j = 0; j < d; j++) z[i * d + j] = (float)(mu[k][j] + sqrt(V[k]) * (double)eps[i * 3 + 1 + j]);
    }
    return GM_OK;
}

/* posterior mean and the moment-matched diagonal variance */
static int mix_encode(float *mean, float *logvar, const float *x, size_t n, void *p) {
    const mixture *mx = p;
    for (size_t i = 0; i < n; i++) {
        double gam[K], mu[K][d], V[K];
        posterior(mx, x + i * D, gam, mu, V);
        for (int j = 0; j < d; j++) {
            double m1 = 0, m2 = 0;
            for (int k = 0; k < K; k++) {
                m1 += gam[k] * mu[k][j];
                m2 += gam[k] * (V[k] + mu[k][j] * mu[k][j]);
            }
            mean[i * d + j] = (float)m1;
            if (logvar) logvar[i * d + j] = (float)log(fmax(m2 - m1 * m1, 1e-12));
        }
    }
    return GM_OK;
}

static void draw_r(const mixture *mx, float *z, size_t n, uint64_t seed) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_SIM, 7));
    for (size_t i = 0; i < n; i++) {
        size_t k = gm_rng_categorical(&r, mx->pi, K);
        for (int j = 0; j < d; j++) z[i * d + j] = (float)(mx->m[k][j] + sqrt(mx->s[k]) * gm_rng_normal(&r));
    }
}

static gm_ae_model mix_model(mixture *mx, int exact) {
    gm_ae_model m;
    memset(&m, 0, sizeof m);
    m.data_dim = D;
    m.latent_dim = d;
    m.decode = mix_decode;
    m.likelihood = GM_AE_GAUSSIAN;
    m.dec_sigma = 1.0;
    m.encode = mix_encode;
    m.enc_stochastic = 1;
    if (exact) {
        m.encode_sample = mix_encode_sample;
        m.enc_noise_dim = 3;
    }
    m.params = mx;
    return m;
}

static float *run(gm_ae_model *m, size_t n, size_t T, gm_latent_decode_mode dm, uint64_t seed) {
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = n;
    cfg.dec_mode = dm;
    cfg.enc_mode = GM_LATENT_ENCODE_SAMPLE;
    cfg.seed = seed;
    gm_latent_mcmc *s;
    if (gm_latent_mcmc_create(&s, &cfg, m) != GM_OK) return NULL;
    for (size_t t = 0; t < T; t++)
        if (gm_latent_mcmc_step(s) != GM_OK) {
            gm_latent_mcmc_free(s);
            return NULL;
        }
    float *z = malloc(n * d * sizeof(float));
    memcpy(z, gm_latent_mcmc_z(s), n * d * sizeof(float));
    gm_latent_mcmc_free(s);
    return z;
}

enum { N = 1000, NREP = 12 };

/* MMD^2 null: two independent r samples of size N, NREP replicates -> mean and sd */
static void null_mmd(const mixture *mx, double h, double *mean, double *sd) {
    float *a = malloc(N * d * sizeof(float)), *b = malloc(N * d * sizeof(float));
    double s = 0, s2 = 0;
    for (int rep = 0; rep < NREP; rep++) {
        draw_r(mx, a, N, 100 + 2 * rep);
        draw_r(mx, b, N, 101 + 2 * rep);
        double v = 0;
        gm_latent_mmd2_rbf(a, N, b, N, d, h, &v);
        s += v;
        s2 += v * v;
    }
    *mean = s / NREP;
    *sd = sqrt(fmax(s2 / NREP - *mean * *mean, 0) * NREP / (NREP - 1));
    free(a);
    free(b);
}

GM_TEST(test_exact_gibbs_reaches_mixture) {
    mixture mx;
    mixture_init(&mx);
    float *ref = malloc(N * d * sizeof(float));
    draw_r(&mx, ref, N, 1);
    double h, nmean, nsd;
    CHECK_OK(gm_latent_median_distance(ref, N, NULL, 0, d, 0, &h));
    null_mmd(&mx, h, &nmean, &nsd);
    CHECK(fabs(nmean) < 3 * nsd); /* the unbiased estimator is centred on 0 */

    gm_ae_model exact = mix_model(&mx, 1);
    float *z = run(&exact, N, 60, GM_LATENT_DECODE_SAMPLE, 5);
    CHECK(z != NULL);
    if (!z) return;
    double v;
    CHECK_OK(gm_latent_mmd2_rbf(z, N, ref, N, d, h, &v));
    fprintf(stderr, "  exact Gibbs: MMD^2 %.2e (null sd %.2e)\n", v, nsd);
    CHECK(v < 5 * nsd);
    /* the mixture's moments, within 5 standard errors (SE from the empirical 4th moments) */
    double mu[d] = {0, 0}, C[d][d] = {{0, 0}, {0, 0}};
    for (int k = 0; k < K; k++)
        for (int a = 0; a < d; a++) mu[a] += mx.pi[k] * mx.m[k][a];
    for (int k = 0; k < K; k++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++) C[a][b] += mx.pi[k] * ((a == b ? mx.s[k] : 0) + mx.m[k][a] * mx.m[k][b]);
    for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) C[a][b] -= mu[a] * mu[b];
    for (int a = 0; a < d; a++) {
        double e = 0;
        for (int i = 0; i < N; i++) e += (double)z[i * d + a];
        e /= N;
        CHECK_NEAR(e, mu[a], 0, 5 * sqrt(C[a][a] / N));
        for (int b = 0; b < d; b++) {
            double s1 = 0, s2 = 0;
            for (int i = 0; i < N; i++) {
                double p = ((double)z[i * d + a] - mu[a]) * ((double)z[i * d + b] - mu[b]);
                s1 += p;
                s2 += p * p;
            }
            double cm = s1 / N, se = sqrt((s2 / N - cm * cm) / N);
            CHECK_NEAR(cm, C[a][b], 0, 5 * se);
        }
    }
    /* from the prior start, the law at T = 60 is also much closer to r than the prior itself */
    float *prior = malloc(N * d * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 9, gm_rng_stream_id(GM_STREAM_SIM, 9));
    for (int i = 0; i < N * d; i++) prior[i] = (float)gm_rng_normal(&r);
    double vp;
    CHECK_OK(gm_latent_mmd2_rbf(prior, N, ref, N, d, h, &vp));
    fprintf(stderr, "  prior vs r: MMD^2 %.2e\n", vp);
    CHECK(vp > 20 * nsd);

    /* negative control: mean decoding contracts the modes and settles elsewhere; the moment-matched
     * single-Gaussian encoder (incompatible) is reported */
    gm_ae_model mm = mix_model(&mx, 0);
    float *zm = run(&mm, N, 60, GM_LATENT_DECODE_SAMPLE, 5);
    float *zd = run(&exact, N, 60, GM_LATENT_DECODE_MEAN, 5);
    CHECK(zm && zd);
    if (zm && zd) {
        double vm, vd;
        CHECK_OK(gm_latent_mmd2_rbf(zm, N, ref, N, d, h, &vm));
        CHECK_OK(gm_latent_mmd2_rbf(zd, N, ref, N, d, h, &vd));
        fprintf(stderr, "  moment-matched encoder: MMD^2 %.2e; mean decoding: %.2e\n", vm, vd);
        /* Report only: at this signal-to-noise ratio the moment-matched chain keeps the mode weights
         * (quadrant counts within sampling error of pi) and its MMD^2 to r is inside the null band at
         * N = 1000, so the incompatibility is too small to assert here. */
        CHECK(vd > 8 * nsd);
        /* mean decoding: the within-mode spread shrinks (distance to the nearest mode centre) */
        double sd_exact = 0, sd_mean = 0;
        for (int i = 0; i < N; i++) {
            double be = HUGE_VAL, bm = HUGE_VAL;
            for (int k = 0; k < K; k++) {
                double de = 0, dm = 0;
                for (int j = 0; j < d; j++) {
                    de += pow((double)z[i * d + j] - mx.m[k][j], 2);
                    dm += pow((double)zd[i * d + j] - mx.m[k][j], 2);
                }
                be = fmin(be, de);
                bm = fmin(bm, dm);
            }
            sd_exact += be;
            sd_mean += bm;
        }
        CHECK(sd_mean < 0.8 * sd_exact);
    }
    free(z);
    free(zm);
    free(zd);
    free(prior);
    free(ref);
}

GM_TEST_MAIN({"exact_gibbs_reaches_mixture", test_exact_gibbs_reaches_mixture})
