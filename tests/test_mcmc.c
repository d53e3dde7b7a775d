/* SPDX-License-Identifier: MIT */
/* test_mcmc.c — the latent decode->encode chain against the linear-Gaussian closed forms of
 * spec latent_mcmc.md section 3 (stationary mean/covariance within 5 standard errors over fixed seeds),
 * determinism over batch sizes and thread counts, the chain's noise sources, bad input and OOM paths,
 * and the diagnostics (ESS, split R-hat, slerp); the two-sample statistics are in test_eval_twosample.c. */
#include "gm_test.h"
#include "genmix/mcmc.h"
#include "genmix/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define KSE 5.0 /* tolerance in standard errors */

/* printed by tools/gen_mcmc_fixtures.py */
#define GOLDEN_ESS 21.784985688732441
#define GOLDEN_RHAT 1.0891068547481837

/* ---- helpers -------------------------------------------------------------------------------------- */

static void empirical_moments(const float *z, size_t n, size_t d, double *mean, double *cov) {
    for (size_t j = 0; j < d; j++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += (double)z[i * d + j];
        mean[j] = s / (double)n;
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++) s += ((double)z[i * d + a] - mean[a]) * ((double)z[i * d + b] - mean[b]);
            cov[a * d + b] = s / (double)(n - 1);
        }
}

/* Mean within KSE * sqrt(Sigma_ii / n); covariance entries within KSE * sqrt((S_aa S_bb + S_ab^2) / n),
 * the standard error of a Gaussian sample covariance (n independent draws: the chains' end states). */
static int check_moments(const float *z, size_t n, size_t d, const double *mu, const double *Sigma) {
    double mean[16], cov[256];
    GM_ASSERT(d <= 16);
    empirical_moments(z, n, d, mean, cov);
    int bad = 0;
    for (size_t a = 0; a < d; a++) {
        double se = sqrt(Sigma[a * d + a] / (double)n);
        if (!(fabs(mean[a] - mu[a]) <= KSE * se + 1e-6)) {
            fprintf(stderr, "  mean[%zu] %.6f vs %.6f (se %.2g)\n", a, mean[a], mu[a], se);
            bad++;
        }
        for (size_t b = 0; b < d; b++) {
            double S = Sigma[a * d + b];
            double se2 = sqrt((Sigma[a * d + a] * Sigma[b * d + b] + S * S) / (double)n);
            if (!(fabs(cov[a * d + b] - S) <= KSE * se2 + 1e-6)) {
                fprintf(stderr, "  cov[%zu,%zu] %.6f vs %.6f (se %.2g)\n", a, b, cov[a * d + b], S, se2);
                bad++;
            }
        }
    }
    return bad;
}

/* Optimal linear VAE / DAAE per data eigen-direction (spec section 3) in D = 4 pixels, d = 2 latents,
 * rotated by the orthogonal H4/2 (so A and W are full matrices): W = U diag(w), A = diag(a) U^T. */
typedef struct {
    double A[2 * 4], W[4 * 2], b[2], c[4], es[2], ds[4];
    gm_linear_ae ae;
} fixture;

static const double H4[16] = {0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, -0.5, 0.5, -0.5, -0.5, 0.5};

static void fixture_init(fixture *f, const double a[2], const double w[2], const double *enc_std, double dec_std) {
    memset(f, 0, sizeof *f);
    for (size_t k = 0; k < 4; k++)
        for (size_t l = 0; l < 2; l++) {
            f->W[k * 2 + l] = H4[k * 4 + l] * w[l];
            f->A[l * 4 + k] = a[l] * H4[k * 4 + l];
        }
    f->ae.D = 4;
    f->ae.d = 2;
    f->ae.A = f->A;
    f->ae.W = f->W;
    if (enc_std) {
        f->es[0] = enc_std[0];
        f->es[1] = enc_std[1];
        f->ae.enc_std = f->es;
    }
    if (dec_std >= 0) {
        for (int k = 0; k < 4; k++) f->ds[k] = dec_std;
        f->ae.dec_std = f->ds;
    }
}

/* pPCA optimum with decoder noise s2: w = sqrt(lam - s2), a = sqrt(lam - s2) / lam, enc var s2 / lam. */
static void fixture_vae(fixture *f, const double lam[2], double s2) {
    double a[2], w[2], es[2];
    for (int l = 0; l < 2; l++) {
        w[l] = sqrt(lam[l] - s2);
        a[l] = w[l] / lam[l];
        es[l] = sqrt(s2 / lam[l]);
    }
    fixture_init(f, a, w, es, sqrt(s2));
}

/* Linear DAAE optimum for corruption sc: A = (lam + sc^2)^-1/2, W = lam (lam + sc^2)^-1/2, deterministic. */
static void fixture_daae(fixture *f, const double lam[2], double sc) {
    double a[2], w[2];
    for (int l = 0; l < 2; l++) {
        a[l] = 1.0 / sqrt(lam[l] + sc * sc);
        w[l] = lam[l] / sqrt(lam[l] + sc * sc);
    }
    fixture_init(f, a, w, NULL, -1.0);
}

/* Run n chains for T steps; returns the chain (caller frees) or NULL. */
static gm_latent_mcmc *run_chain(const gm_ae_model *m, size_t n, size_t T, gm_latent_decode_mode dm,
                                 gm_latent_encode_mode em, double sc, uint64_t seed, size_t batch) {
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = n;
    cfg.dec_mode = dm;
    cfg.enc_mode = em;
    cfg.corrupt_sigma = sc;
    cfg.seed = seed;
    cfg.batch = batch;
    gm_latent_mcmc *s = NULL;
    int rc = gm_latent_mcmc_create(&s, &cfg, m);
    if (rc) {
        fprintf(stderr, "  create: %s\n", gm_last_error());
        return NULL;
    }
    for (size_t t = 0; t < T; t++)
        if (gm_latent_mcmc_step(s) != GM_OK) {
            fprintf(stderr, "  step: %s\n", gm_last_error());
            gm_latent_mcmc_free(s);
            return NULL;
        }
    return s;
}

/* ---- closed forms (no simulation) ------------------------------------------------------------------ */

GM_TEST(test_closed_forms_table) {
    const double lam[2] = {4.0, 2.0}, s2 = 0.5, sc = sqrt(0.5);
    fixture f;
    fixture_vae(&f, lam, s2);
    double mu[2], S[4], rho, M[4];
    /* sample / sample: exact Gibbs; stationary variance 1 = P-hat variance */
    CHECK_OK(gm_linear_ae_stationary(&f.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, mu, S, &rho));
    CHECK_NEAR(S[0], 1.0, 1e-12, 1e-12);
    CHECK_NEAR(S[3], 1.0, 1e-12, 1e-12);
    CHECK_NEAR(S[1], 0.0, 0, 1e-12);
    CHECK_NEAR(mu[0], 0.0, 0, 1e-14);
    CHECK_NEAR(rho, 0.875, 0.01, 0); /* r = 1 - s2 / lam for the slowest direction */
    gm_linear_ae_transition(&f.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, M, NULL, NULL);
    CHECK_NEAR(M[0], 0.875, 1e-12, 0);
    CHECK_NEAR(M[3], 0.75, 1e-12, 0);
    /* P-hat of the data N(0, U diag(lam, lam, 0.5, 0.5) U^T): variance 1 (same as the prior) */
    double mux[4] = {0}, Sx[16], diag[4] = {4.0, 2.0, 0.5, 0.5}, pm[2], pc[4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0.0;
            for (int l = 0; l < 4; l++) s += H4[i * 4 + l] * diag[l] * H4[j * 4 + l];
            Sx[i * 4 + j] = s;
        }
    gm_linear_ae_aggregated_posterior(&f.ae, mux, Sx, 0.0, pm, pc);
    CHECK_NEAR(pc[0], 1.0, 1e-12, 0);
    CHECK_NEAR(pc[3], 1.0, 1e-12, 0);
    CHECK_NEAR(pc[1], 0.0, 0, 1e-12);
    /* mean / sample (Kaixhin's VAE chain): lam / (2 lam - s2) */
    CHECK_OK(gm_linear_ae_stationary(&f.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, mu, S, NULL));
    CHECK_NEAR(S[0], 4.0 / 7.5, 1e-12, 0);
    CHECK_NEAR(S[3], 2.0 / 3.5, 1e-12, 0);
    /* mean / mean: collapse (Q = 0) */
    CHECK_OK(gm_linear_ae_stationary(&f.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, mu, S, NULL));
    CHECK_NEAR(S[0], 0.0, 0, 1e-300);
    /* and the t-step moments shrink by r^2 per step: variance r^(2t) from Sigma_0 = I */
    double I2[4] = {1, 0, 0, 1}, mut[2];
    CHECK_OK(gm_linear_ae_moments_at(&f.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, NULL, I2, 400, mut, S));
    CHECK_NEAR(S[0], pow(0.875, 800), 1e-9, 0);
    CHECK(S[0] < 1e-45);
    /* linear DAAE, mean / deterministic / sigma_c: (lam + sc^2) / (2 lam + sc^2); corrupted P-hat var 1 */
    fixture g;
    fixture_daae(&g, lam, sc);
    CHECK_OK(gm_linear_ae_stationary(&g.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, sc, mu, S, NULL));
    CHECK_NEAR(S[0], 4.5 / 8.5, 1e-12, 0);
    CHECK_NEAR(S[3], 2.5 / 4.5, 1e-12, 0);
    gm_linear_ae_aggregated_posterior(&g.ae, mux, Sx, 0.0, pm, pc);
    CHECK_NEAR(pc[0], 4.0 / 4.5, 1e-12, 0); /* clean P-hat: lam / (lam + sc^2) = 0.889 */
    gm_linear_ae_aggregated_posterior(&g.ae, mux, Sx, sc, pm, pc);
    CHECK_NEAR(pc[0], 1.0, 1e-12, 0);
    /* 3 r^t from z_0 ~ N(3, 1) (exact Gibbs): 2.625, 1.539, 0.789, 0.004 */
    double mu0[2] = {3.0, 0.0};
    const size_t ts[4] = {1, 5, 10, 50};
    const double want[4] = {2.625, 1.5393, 0.7895, 0.0038};
    for (int i = 0; i < 4; i++) {
        CHECK_OK(gm_linear_ae_moments_at(&f.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, mu0, I2, ts[i],
                                         mut, S));
        CHECK_NEAR(mut[0], 3.0 * pow(0.875, (double)ts[i]), 1e-12, 0);
        CHECK_NEAR(mut[0], want[i], 0, 6e-4);
        CHECK_NEAR(S[0], 1.0, 1e-12, 0); /* started at the stationary variance: stays there */
    }
}

GM_TEST(test_closed_form_random_walk) {
    /* A W = I with a noisy encoder: the random walk z' = z + eta has no stationary law */
    double A = 1.0, W = 1.0, es = 0.5;
    gm_linear_ae ae = {1, 1, &A, NULL, &es, &W, NULL, NULL};
    double mu, S, rho;
    CHECK_RC(gm_linear_ae_stationary(&ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, &mu, &S, &rho),
             GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "no stationary law") != NULL);
    CHECK_NEAR(rho, 1.0, 1e-9, 0);
    double S0 = 1.0, mt;
    CHECK_OK(gm_linear_ae_moments_at(&ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, NULL, &S0, 100, &mt, &S));
    CHECK_NEAR(S, 1.0 + 100 * 0.25, 1e-12, 0); /* variance grows linearly */
    /* and a growing map fails too */
    W = 1.5;
    CHECK_RC(gm_linear_ae_stationary(&ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, &mu, &S, &rho), GM_ENUMERIC);
    CHECK(rho > 1.4);
}

/* ---- chains vs closed forms ------------------------------------------------------------------------ */

static void chain_vs_stationary(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em, double sc,
                                size_t n, size_t T, uint64_t seed) {
    double mu[16], S[256];
    CHECK_OK(gm_linear_ae_stationary(ae, dm, em, sc, mu, S, NULL));
    gm_ae_model m = gm_linear_ae_model(ae);
    gm_latent_mcmc *s = run_chain(&m, n, T, dm, em, sc, seed, 0);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_INT_EQ(check_moments(gm_latent_mcmc_z(s), n, ae->d, mu, S), 0);
    gm_latent_mcmc_free(s);
}

GM_TEST(test_chain_sample_sample_reaches_phat) {
    const double lam[2] = {4.0, 2.0};
    fixture f;
    fixture_vae(&f, lam, 0.5);
    for (uint64_t seed = 1; seed <= 2; seed++)
        chain_vs_stationary(&f.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, 20000, 100, seed);
}

GM_TEST(test_chain_mean_decode_halves_variance) {
    const double lam[2] = {4.0, 2.0};
    fixture f;
    fixture_vae(&f, lam, 0.5);
    for (uint64_t seed = 1; seed <= 2; seed++)
        chain_vs_stationary(&f.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, 20000, 100, seed);
    /* the simulated variance itself is well below P-hat's 1 */
    gm_ae_model m = gm_linear_ae_model(&f.ae);
    gm_latent_mcmc *s = run_chain(&m, 5000, 100, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, 9, 0);
    CHECK(s != NULL);
    if (!s) return;
    double mean[2], cov[4];
    empirical_moments(gm_latent_mcmc_z(s), 5000, 2, mean, cov);
    CHECK(cov[0] > 0.50 && cov[0] < 0.57);
    gm_latent_mcmc_free(s);
}

GM_TEST(test_chain_mean_mean_collapses) {
    const double lam[2] = {4.0, 2.0};
    fixture f;
    fixture_vae(&f, lam, 0.5);
    /* offsets: the chain collapses onto the fixed point mu_inf = (I - AW)^-1 (A c + b) */
    f.b[0] = 0.3;
    f.b[1] = -0.2;
    for (int k = 0; k < 4; k++) f.c[k] = 0.1 * (k + 1);
    f.ae.b = f.b;
    f.ae.c = f.c;
    double mu[2], S[4];
    CHECK_OK(gm_linear_ae_stationary(&f.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, mu, S, NULL));
    CHECK(fabs(mu[0]) > 0.5); /* a non-trivial fixed point */
    gm_ae_model m = gm_linear_ae_model(&f.ae);
    gm_latent_mcmc *s = run_chain(&m, 2000, 300, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, 5, 0);
    CHECK(s != NULL);
    if (!s) return;
    const float *z = gm_latent_mcmc_z(s);
    double maxdev = 0.0;
    for (size_t i = 0; i < 2000; i++)
        for (int j = 0; j < 2; j++) maxdev = fmax(maxdev, fabs((double)z[i * 2 + j] - mu[j]));
    CHECK(maxdev < 1e-5);
    double mean[2], cov[4];
    empirical_moments(z, 2000, 2, mean, cov);
    CHECK(cov[0] < 1e-12 && cov[3] < 1e-12);
    gm_latent_mcmc_stats st = gm_latent_mcmc_get_stats(s);
    CHECK(st.step_sq < 1e-12); /* stuck at the fixed point */
    CHECK(st.drift_sq > 0.5);
    gm_latent_mcmc_free(s);
}

GM_TEST(test_chain_linear_daae) {
    const double lam[2] = {4.0, 2.0};
    fixture g;
    fixture_daae(&g, lam, sqrt(0.5));
    for (uint64_t seed = 1; seed <= 2; seed++)
        chain_vs_stationary(&g.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, sqrt(0.5), 20000, 100, seed);
}

/* Generic model: random A (3x5), W scaled to spectral radius 0.8, offsets, diagonal noises, corruption. */
typedef struct {
    double A[15], W[15], b[3], c[5], es[3], ds[5];
    gm_linear_ae ae;
} generic;

static void generic_init(generic *g, uint64_t seed) {
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_SIM, 0));
    for (int i = 0; i < 15; i++) g->A[i] = 0.5 * gm_rng_normal(&r);
    for (int i = 0; i < 15; i++) g->W[i] = gm_rng_normal(&r);
    for (int i = 0; i < 3; i++) g->b[i] = gm_rng_normal(&r);
    for (int i = 0; i < 5; i++) g->c[i] = gm_rng_normal(&r);
    for (int i = 0; i < 3; i++) g->es[i] = 0.2 + 0.5 * gm_rng_uniform(&r);
    for (int i = 0; i < 5; i++) g->ds[i] = 0.1 + 0.5 * gm_rng_uniform(&r);
    gm_linear_ae ae = {5, 3, g->A, g->b, g->es, g->W, g->c, g->ds};
    g->ae = ae;
    double rho;
    (void)gm_linear_ae_stationary(&g->ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, NULL, NULL, &rho);
    for (int i = 0; i < 15; i++) g->W[i] *= 0.8 / rho;
}

GM_TEST(test_chain_generic_linear) {
    for (uint64_t seed = 11; seed <= 12; seed++) {
        generic g;
        generic_init(&g, seed);
        double rho, mu[3], S[9];
        CHECK_OK(gm_linear_ae_stationary(&g.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, mu, S, &rho));
        CHECK_NEAR(rho, 0.8, 0.03, 0);
        /* the doubling solution satisfies the Lyapunov equation */
        double M[9], Q[9], m[3];
        gm_linear_ae_transition(&g.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, M, m, Q);
        for (int i = 0; i < 3; i++) {
            double s = m[i];
            for (int j = 0; j < 3; j++) s += M[i * 3 + j] * mu[j];
            CHECK_NEAR(s, mu[i], 1e-10, 1e-10);
            for (int j = 0; j < 3; j++) {
                double v = Q[i * 3 + j];
                for (int k = 0; k < 3; k++)
                    for (int l = 0; l < 3; l++) v += M[i * 3 + k] * S[k * 3 + l] * M[j * 3 + l];
                CHECK_NEAR(v, S[i * 3 + j], 1e-10, 1e-10);
            }
        }
        /* every sampling mode against its own closed form */
        chain_vs_stationary(&g.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, 20000, 100, seed);
        chain_vs_stationary(&g.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, 20000, 100, seed + 100);
        chain_vs_stationary(&g.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_MEAN, 0.0, 20000, 100, seed + 200);
    }
}

GM_TEST(test_aggregated_posterior_matches_encodings) {
    /* P-hat formula vs encodings of Gaussian data x = mu_x + L e (the encoder samples) */
    generic g;
    generic_init(&g, 21);
    double mux[5], L[25], Sx[25];
    gm_rng r;
    gm_rng_init(&r, 21, gm_rng_stream_id(GM_STREAM_SIM, 1));
    for (int i = 0; i < 5; i++) mux[i] = gm_rng_normal(&r);
    for (int i = 0; i < 25; i++) L[i] = (i % 6 == 0) ? 1.0 : ((i % 5) < (i / 5) ? 0.4 * gm_rng_normal(&r) : 0.0);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0.0;
            for (int k = 0; k < 5; k++) s += L[i * 5 + k] * L[j * 5 + k];
            Sx[i * 5 + j] = s;
        }
    for (int corrupt = 0; corrupt <= 1; corrupt++) {
        double sc = corrupt ? 0.5 : 0.0;
        double pm[3], pc[9];
        gm_linear_ae_aggregated_posterior(&g.ae, mux, Sx, sc, pm, pc);
        const size_t n = 20000;
        float *z = malloc(n * 3 * sizeof(float)), x[5], mu[3], lv[3];
        gm_ae_model m = gm_linear_ae_model(&g.ae);
        for (size_t i = 0; i < n; i++) {
            double e[5];
            for (int k = 0; k < 5; k++) e[k] = gm_rng_normal(&r);
            for (int k = 0; k < 5; k++) {
                double s = mux[k] + sc * gm_rng_normal(&r);
                for (int l = 0; l < 5; l++) s += L[k * 5 + l] * e[l];
                x[k] = (float)s;
            }
            CHECK_OK(m.encode(mu, lv, x, 1, m.params));
            for (int j = 0; j < 3; j++) z[i * 3 + j] = mu[j] + expf(0.5f * lv[j]) * (float)gm_rng_normal(&r);
        }
        CHECK_INT_EQ(check_moments(z, n, 3, pm, pc), 0);
        free(z);
    }
}

GM_TEST(test_chain_convergence_3rt) {
    /* 1-D exact Gibbs chain (lam 4, s2 0.5, r = 0.875) from z_0 ~ N(3, 1): mean 3 r^t */
    double lam = 4.0, s2 = 0.5, w = sqrt(lam - s2), a = w / lam, es = sqrt(s2 / lam), ds = sqrt(s2);
    gm_linear_ae ae = {1, 1, &a, NULL, &es, &w, NULL, &ds};
    gm_ae_model m = gm_linear_ae_model(&ae);
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    const size_t n = 20000;
    cfg.n_chains = n;
    cfg.dec_mode = GM_LATENT_DECODE_SAMPLE;
    cfg.enc_mode = GM_LATENT_ENCODE_SAMPLE;
    cfg.seed = 77;
    gm_latent_mcmc *s;
    CHECK_OK(gm_latent_mcmc_create(&s, &cfg, &m));
    CHECK_INT_EQ(gm_latent_mcmc_n_chains(s), n);
    float *z0 = malloc(n * sizeof(float));
    gm_rng r;
    gm_rng_init(&r, 77, gm_rng_stream_id(GM_STREAM_SIM, 0));
    for (size_t i = 0; i < n; i++) z0[i] = 3.0f + (float)gm_rng_normal(&r);
    CHECK_OK(gm_latent_mcmc_set_z(s, z0));
    size_t t = 0;
    const size_t ts[4] = {1, 5, 10, 50};
    for (int k = 0; k < 4; k++) {
        while (t < ts[k]) {
            CHECK_OK(gm_latent_mcmc_step(s));
            t++;
        }
        double mean[1], var[1], mu0 = 3.0, S0 = 1.0, mt, St;
        empirical_moments(gm_latent_mcmc_z(s), n, 1, mean, var);
        CHECK_OK(gm_linear_ae_moments_at(&ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, &mu0, &S0, t, &mt,
                                         &St));
        CHECK_NEAR(mean[0], 3.0 * pow(0.875, (double)t), 0, KSE * sqrt(St / (double)n));
        CHECK_NEAR(var[0], St, 0, KSE * St * sqrt(2.0 / (double)n));
    }
    CHECK_INT_EQ(gm_latent_mcmc_get_stats(s).t, 50);
    free(z0);
    gm_latent_mcmc_free(s);
}

GM_TEST(test_chain_random_walk_grows) {
    double A = 1.0, W = 1.0, es = 0.5;
    gm_linear_ae ae = {1, 1, &A, NULL, &es, &W, NULL, NULL};
    gm_ae_model m = gm_linear_ae_model(&ae);
    gm_latent_mcmc *s = run_chain(&m, 20000, 100, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, 3, 0);
    CHECK(s != NULL);
    if (!s) return;
    double mean[1], var[1];
    empirical_moments(gm_latent_mcmc_z(s), 20000, 1, mean, var);
    CHECK_NEAR(var[0], 26.0, 0, KSE * 26.0 * sqrt(2.0 / 20000.0));
    gm_latent_mcmc_stats st = gm_latent_mcmc_get_stats(s);
    CHECK_NEAR(st.drift_sq, 25.0, 0.05, 0);   /* E||z_t - z_0||^2 = 0.25 t */
    CHECK_NEAR(st.step_sq, 0.25, 0.05, 0);
    gm_latent_mcmc_free(s);
}

/* ---- determinism ------------------------------------------------------------------------------------ */

GM_TEST(test_chain_deterministic_batch_threads) {
    generic g;
    generic_init(&g, 31);
    gm_ae_model m = gm_linear_ae_model(&g.ae);
    const size_t n = 301, T = 5;
    gm_latent_mcmc *ref = run_chain(&m, n, T, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, 8, 0);
    CHECK(ref != NULL);
    if (!ref) return;
    const size_t batches[4] = {1, 7, 64, 1000};
    for (int b = 0; b < 4; b++) {
        gm_latent_mcmc *s = run_chain(&m, n, T, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, 8, batches[b]);
        CHECK(s && memcmp(gm_latent_mcmc_z(s), gm_latent_mcmc_z(ref), n * 3 * sizeof(float)) == 0);
        gm_latent_mcmc_free(s);
    }
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        gm_latent_mcmc *s = run_chain(&m, n, T, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, 8, 0);
        CHECK(s && memcmp(gm_latent_mcmc_z(s), gm_latent_mcmc_z(ref), n * 3 * sizeof(float)) == 0);
        gm_latent_mcmc_stats a = gm_latent_mcmc_get_stats(s), c = gm_latent_mcmc_get_stats(ref);
        CHECK(a.step_sq == c.step_sq && a.drift_sq == c.drift_sq && a.norm_mean == c.norm_mean);
        gm_latent_mcmc_free(s);
    }
    omp_set_num_threads(saved);
#endif
    /* chain i of a larger run equals chain i of a smaller run (streams keyed by chain index) */
    gm_latent_mcmc *big = run_chain(&m, 2 * n, T, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, 8, 0);
    CHECK(big && memcmp(gm_latent_mcmc_z(big), gm_latent_mcmc_z(ref), n * 3 * sizeof(float)) == 0);
    gm_latent_mcmc_free(big);
    /* another seed differs */
    gm_latent_mcmc *other = run_chain(&m, n, T, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.3, 9, 0);
    CHECK(other && memcmp(gm_latent_mcmc_z(other), gm_latent_mcmc_z(ref), n * 3 * sizeof(float)) != 0);
    gm_latent_mcmc_free(other);
    gm_latent_mcmc_free(ref);
}

GM_TEST(test_chain_deterministic_parallel_path) {
    /* wide enough (batch x (D + d) >= 65536) for the OpenMP regions to run: 1 vs 2 threads and a
     * serial batch-of-1 run give bit-identical states */
    enum { D = 200, d = 4, N = 400 };
    static double A[d * D], W[D * d], es[d], ds[D];
    gm_rng r;
    gm_rng_init(&r, 3, gm_rng_stream_id(GM_STREAM_SIM, 0));
    for (int i = 0; i < d * D; i++) A[i] = 0.05 * gm_rng_normal(&r);
    for (int i = 0; i < D * d; i++) W[i] = 0.05 * gm_rng_normal(&r);
    for (int i = 0; i < d; i++) es[i] = 0.3;
    for (int i = 0; i < D; i++) ds[i] = 0.2;
    gm_linear_ae ae = {D, d, A, NULL, es, W, NULL, ds};
    gm_ae_model m = gm_linear_ae_model(&ae);
    gm_latent_mcmc *ref = run_chain(&m, N, 4, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.1, 6, 1);
    CHECK(ref != NULL);
    if (!ref) return;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        gm_latent_mcmc *s = run_chain(&m, N, 4, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.1, 6, N);
        CHECK(s && memcmp(gm_latent_mcmc_z(s), gm_latent_mcmc_z(ref), N * d * sizeof(float)) == 0);
        gm_latent_mcmc_free(s);
    }
    omp_set_num_threads(saved);
#endif
    gm_latent_mcmc_free(ref);
}

/* ---- noise sources with toy models ------------------------------------------------------------------ */

/* decoder mean p_j = (j + 0.5) / 6 whatever z; encoder mu = x (deterministic) */
static int toy_decode(float *x, const float *z, size_t n, void *p) {
    (void)z;
    (void)p;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 6; j++) x[i * 6 + j] = (float)((j + 0.5) / 6.0);
    return GM_OK;
}
static int toy_encode(float *mu, float *lv, const float *x, size_t n, void *p) {
    (void)p;
    (void)lv;
    memcpy(mu, x, n * 6 * sizeof(float));
    return GM_OK;
}
/* custom reparameterised sampler: z = x + 2 eps_0 - eps_1 (noise dim 2) */
static int toy_encode_sample(float *z, const float *x, const float *eps, size_t n, void *p) {
    (void)p;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 6; j++) z[i * 6 + j] = x[i * 6 + j] + 2.0f * eps[i * 2] - eps[i * 2 + 1];
    return GM_OK;
}

GM_TEST(test_bernoulli_decode_and_corruption) {
    gm_ae_model m;
    memset(&m, 0, sizeof m);
    m.data_dim = 6;
    m.latent_dim = 6;
    m.decode = toy_decode;
    m.encode = toy_encode;
    m.likelihood = GM_AE_BERNOULLI;
    const size_t n = 20000;
    for (int corrupt = 0; corrupt <= 1; corrupt++) {
        double sc = corrupt ? 0.3 : 0.0;
        gm_latent_mcmc *s = run_chain(&m, n, 1, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, sc, 4, 0);
        CHECK(s != NULL);
        if (!s) return;
        const float *z = gm_latent_mcmc_z(s);
        int binary = 1;
        for (size_t i = 0; i < n * 6 && !corrupt; i++) binary &= z[i] == 0.0f || z[i] == 1.0f;
        CHECK(binary);
        double mu[6], S[36];
        for (int j = 0; j < 6; j++) {
            double p = (j + 0.5) / 6.0;
            mu[j] = p;
            for (int k = 0; k < 6; k++) S[j * 6 + k] = j == k ? p * (1 - p) + sc * sc : 0.0;
        }
        CHECK_INT_EQ(check_moments(z, n, 6, mu, S), 0);
        gm_latent_mcmc_free(s);
    }
    /* decode mean: z = p exactly */
    gm_latent_mcmc *s = run_chain(&m, 10, 1, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, 4, 0);
    CHECK(s && gm_latent_mcmc_z(s)[7] == (float)(1.5 / 6.0));
    /* decode() of the current states gives the decoder means */
    float xb[60];
    CHECK_OK(gm_latent_mcmc_decode(s, xb));
    CHECK(xb[59] == (float)(5.5 / 6.0));
    gm_latent_mcmc_free(s);
    /* a custom reparameterised encoder sampler: z = p + 2 e0 - e1, variance 5 */
    m.encode_sample = toy_encode_sample;
    m.enc_noise_dim = 2;
    s = run_chain(&m, n, 1, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_SAMPLE, 0.0, 4, 0);
    CHECK(s != NULL);
    if (!s) return;
    double mean[6], cov[36], mu[6], S[36];
    empirical_moments(gm_latent_mcmc_z(s), n, 6, mean, cov);
    for (int j = 0; j < 6; j++) {
        mu[j] = (j + 0.5) / 6.0;
        for (int k = 0; k < 6; k++) S[j * 6 + k] = 5.0; /* one shared noise: all coordinates correlated */
    }
    CHECK_INT_EQ(check_moments(gm_latent_mcmc_z(s), n, 6, mu, S), 0);
    gm_latent_mcmc_free(s);
    /* mean mode ignores the custom sampler: z = mu(x) = p */
    s = run_chain(&m, 10, 1, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, 4, 0);
    CHECK(s && gm_latent_mcmc_z(s)[0] == (float)(0.5 / 6.0));
    gm_latent_mcmc_free(s);
}

GM_TEST(test_chain_stats_exact) {
    /* z' = 0.5 z (mean/mean, no noise): step_sq = drift_sq = 0.25 E z0^2, norm = 0.5 E|z0| after one step */
    double A = 1.0, W = 0.5;
    gm_linear_ae ae = {1, 1, &A, NULL, NULL, &W, NULL, NULL};
    gm_ae_model m = gm_linear_ae_model(&ae);
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = 100;
    cfg.seed = 2;
    cfg.z0_std = 2.0;
    gm_latent_mcmc *s;
    CHECK_OK(gm_latent_mcmc_create(&s, &cfg, &m));
    double e2 = 0.0, ea = 0.0;
    for (int i = 0; i < 100; i++) {
        double z = gm_latent_mcmc_z(s)[i];
        e2 += z * z / 100.0;
        ea += fabs(z) / 100.0;
    }
    CHECK(e2 > 2.0); /* z0_std = 2 was applied */
    gm_latent_mcmc_stats st = gm_latent_mcmc_get_stats(s);
    CHECK_INT_EQ(st.t, 0);
    CHECK_NEAR(st.norm_mean, ea, 1e-12, 0);
    CHECK_OK(gm_latent_mcmc_step(s));
    st = gm_latent_mcmc_get_stats(s);
    CHECK_NEAR(st.step_sq, 0.25 * e2, 1e-6, 0);
    CHECK_NEAR(st.drift_sq, 0.25 * e2, 1e-6, 0);
    CHECK_NEAR(st.norm_mean, 0.5 * ea, 1e-6, 0);
    CHECK_OK(gm_latent_mcmc_step(s));
    st = gm_latent_mcmc_get_stats(s);
    CHECK_NEAR(st.step_sq, 0.0625 * e2, 1e-6, 0);
    CHECK_NEAR(st.drift_sq, 0.5625 * e2, 1e-6, 0);
    CHECK_INT_EQ(st.t, 2);
    gm_latent_mcmc_free(s);
}

/* ---- bad input, errors, OOM ------------------------------------------------------------------------- */

static int nan_decode(float *x, const float *z, size_t n, void *p) {
    (void)z;
    (void)p;
    for (size_t i = 0; i < n * 6; i++) x[i] = i == 6 * 3 ? NAN : 0.5f;
    return GM_OK;
}
static int failing_encode(float *mu, float *lv, const float *x, size_t n, void *p) {
    (void)mu, (void)lv, (void)x, (void)n, (void)p;
    GM_FAIL(GM_EIO, "encoder exploded");
}

GM_TEST(test_bad_config_and_errors) {
    gm_ae_model m;
    memset(&m, 0, sizeof m);
    m.data_dim = 6;
    m.latent_dim = 6;
    m.decode = toy_decode;
    m.encode = toy_encode;
    m.likelihood = GM_AE_GAUSSIAN;
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = 5;
    gm_latent_mcmc *s = (gm_latent_mcmc *)&cfg;
    cfg.n_chains = 0;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    CHECK(s == NULL);
    cfg.n_chains = 5;
    cfg.corrupt_sigma = -1.0;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    cfg.corrupt_sigma = 0.0;
    cfg.z0_std = NAN;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    cfg.z0_std = 1.0;
    m.dec_sigma = -1.0;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    m.dec_sigma = 0.1;
    m.decode = NULL;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    CHECK(strstr(gm_last_error(), "decode") != NULL);
    m.decode = toy_decode;
    m.encode = NULL;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    m.encode = toy_encode;
    m.latent_dim = 0;
    CHECK_RC(gm_latent_mcmc_create(&s, &cfg, &m), GM_EINVAL);
    m.latent_dim = 6;
    /* a NaN from the model is reported with the chain and the step */
    m.decode = nan_decode;
    CHECK_OK(gm_latent_mcmc_create(&s, &cfg, &m));
    CHECK_RC(gm_latent_mcmc_step(s), GM_ENUMERIC);
    CHECK(strstr(gm_last_error(), "chain 3") != NULL && strstr(gm_last_error(), "step 1") != NULL);
    gm_latent_mcmc_free(s);
    /* model errors are passed on */
    m.decode = toy_decode;
    m.encode = failing_encode;
    CHECK_OK(gm_latent_mcmc_create(&s, &cfg, &m));
    CHECK_RC(gm_latent_mcmc_step(s), GM_EIO);
    CHECK(strstr(gm_last_error(), "exploded") != NULL);
    float zbad[30] = {0};
    zbad[13] = INFINITY;
    CHECK_RC(gm_latent_mcmc_set_z(s, zbad), GM_ENUMERIC);
    gm_latent_mcmc_free(s);
    gm_latent_mcmc_free(NULL);
}

GM_TEST(test_create_oom) {
    generic g;
    generic_init(&g, 41);
    gm_ae_model m = gm_linear_ae_model(&g.ae);
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = 50;
    int ok = 0;
    for (long k = 1; k < 100 && !ok; k++) {
        gm_latent_mcmc *s = (gm_latent_mcmc *)&cfg;
        gm_alloc_fail_nth(k, 0);
        int rc = gm_latent_mcmc_create(&s, &cfg, &m);
        gm_alloc_fail_nth(0, 0);
        if (rc == GM_OK) {
            ok = 1;
            CHECK(gm_latent_mcmc_step(s) == GM_OK);
            gm_latent_mcmc_free(s);
        } else {
            CHECK_INT_EQ(rc, GM_ENOMEM);
            CHECK(s == NULL);
        }
    }
    CHECK(ok);
    /* the closed forms report OOM too */
    double mu[3], S[9];
    gm_alloc_fail_nth(1, 0);
    CHECK_RC(gm_linear_ae_stationary(&g.ae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, mu, S, NULL),
             GM_ENOMEM);
    gm_alloc_fail_nth(0, 0);
}

GM_TEST(test_step_does_not_allocate) {
    generic g;
    generic_init(&g, 42);
    gm_ae_model m = gm_linear_ae_model(&g.ae);
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = 40;
    cfg.batch = 16;
    cfg.dec_mode = GM_LATENT_DECODE_SAMPLE;
    cfg.corrupt_sigma = 0.2;
    gm_latent_mcmc *s;
    CHECK_OK(gm_latent_mcmc_create(&s, &cfg, &m));
    gm_alloc_fail_nth(1, 1); /* every allocation from now on fails */
    for (int t = 0; t < 3; t++) CHECK_OK(gm_latent_mcmc_step(s));
    float x[40 * 5];
    CHECK_OK(gm_latent_mcmc_decode(s, x));
    CHECK_INT_EQ(gm_alloc_count(), 0);
    gm_alloc_fail_nth(0, 0);
    gm_latent_mcmc_free(s);
}

/* ---- diagnostics ------------------------------------------------------------------------------------ */

static void ar1(double *x, size_t m, size_t n, double phi, uint64_t seed) {
    for (size_t c = 0; c < m; c++) {
        gm_rng r;
        gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_SIM, c));
        double v = gm_rng_normal(&r) / sqrt(1 - phi * phi); /* stationary start */
        for (size_t i = 0; i < n; i++) {
            x[c * n + i] = v;
            v = phi * v + gm_rng_normal(&r);
        }
    }
}

GM_TEST(test_ess_rhat_ar1) {
    const size_t m = 4, n = 5000;
    double *x = malloc(m * n * sizeof(double)), ess, rhat;
    /* iid: ESS ~ m n, R-hat ~ 1 */
    ar1(x, m, n, 0.0, 1);
    CHECK_OK(gm_mcmc_ess(x, m, n, &ess));
    CHECK_NEAR(ess / (double)(m * n), 1.0, 0.1, 0);
    CHECK_OK(gm_mcmc_rhat(x, m, n, &rhat));
    CHECK_NEAR(rhat, 1.0, 0, 0.01);
    /* AR(1): ESS / N -> (1 - phi) / (1 + phi) */
    const double phis[2] = {0.5, 0.9};
    for (int k = 0; k < 2; k++) {
        ar1(x, m, n, phis[k], 2 + k);
        CHECK_OK(gm_mcmc_ess(x, m, n, &ess));
        CHECK_NEAR(ess / (double)(m * n), (1 - phis[k]) / (1 + phis[k]), 0.15, 0);
        CHECK_OK(gm_mcmc_rhat(x, m, n, &rhat));
        CHECK(rhat < 1.02);
    }
    /* chains stuck at different levels: R-hat large */
    ar1(x, m, n, 0.5, 9);
    for (size_t c = 0; c < m; c++)
        for (size_t i = 0; i < n; i++) x[c * n + i] += 3.0 * (double)c;
    CHECK_OK(gm_mcmc_rhat(x, m, n, &rhat));
    CHECK(rhat > 2.0);
    /* a trend within chains is caught by the split */
    for (size_t i = 0; i < n; i++) x[i] = (double)i / (double)n;
    CHECK_OK(gm_mcmc_rhat(x, 1, n, &rhat));
    CHECK(rhat > 1.3);
    /* constant input */
    for (size_t i = 0; i < m * n; i++) x[i] = 2.5;
    CHECK_OK(gm_mcmc_ess(x, m, n, &ess));
    CHECK_NEAR(ess, (double)(m * n), 0, 0);
    CHECK_OK(gm_mcmc_rhat(x, m, n, &rhat));
    CHECK_NEAR(rhat, 1.0, 0, 0);
    /* bad input */
    CHECK_RC(gm_mcmc_ess(x, m, 3, &ess), GM_EINVAL);
    CHECK_RC(gm_mcmc_rhat(x, 0, n, &rhat), GM_EINVAL);
    x[7] = NAN;
    CHECK_RC(gm_mcmc_ess(x, m, n, &ess), GM_ENUMERIC);
    free(x);
}

GM_TEST(test_ess_rhat_known_answer) {
    /* tools/gen_mcmc_fixtures.py (NumPy, independent vectorised implementation of the same formulas):
     * 3 chains x 20 draws x[c][i] = sin(0.7 i + c) + 0.3 c + 0.05 i */
    double x[60];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 20; i++) x[c * 20 + i] = sin(0.7 * i + c) + 0.3 * c + 0.05 * i;
    double ess, rhat;
    CHECK_OK(gm_mcmc_ess(x, 3, 20, &ess));
    CHECK_OK(gm_mcmc_rhat(x, 3, 20, &rhat));
    CHECK_NEAR(ess, GOLDEN_ESS, 1e-10, 0);
    CHECK_NEAR(rhat, GOLDEN_RHAT, 1e-12, 0);
}

GM_TEST(test_run_and_interpolate) {
    const double lam[2] = {4.0, 2.0};
    fixture f;
    fixture_vae(&f, lam, 0.5);
    f.b[0] = 0.3;
    f.ae.b = f.b;
    gm_ae_model m = gm_linear_ae_model(&f.ae);
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = 8;
    cfg.dec_mode = GM_LATENT_DECODE_SAMPLE;
    cfg.seed = 4;
    /* run(record {0, 3, 5}) equals decode, 3 steps, decode, 2 steps, decode of an identical chain */
    gm_latent_mcmc *a, *b;
    CHECK_OK(gm_latent_mcmc_create(&a, &cfg, &m));
    CHECK_OK(gm_latent_mcmc_create(&b, &cfg, &m));
    const size_t rec[3] = {0, 3, 5};
    float out[3 * 8 * 4], ref[8 * 4];
    CHECK_OK(gm_latent_mcmc_run(a, rec, 3, out));
    CHECK_OK(gm_latent_mcmc_decode(b, ref));
    CHECK(memcmp(out, ref, sizeof ref) == 0);
    for (int t = 0; t < 5; t++) CHECK_OK(gm_latent_mcmc_step(b));
    CHECK_OK(gm_latent_mcmc_decode(b, ref));
    CHECK(memcmp(out + 2 * 32, ref, sizeof ref) == 0);
    CHECK_INT_EQ(gm_latent_mcmc_get_stats(a).t, 5);
    const size_t bad[2] = {3, 3};
    CHECK_RC(gm_latent_mcmc_run(a, bad, 2, out), GM_EINVAL);
    gm_latent_mcmc_free(a);
    gm_latent_mcmc_free(b);

    /* interpolation: row T = 0 decodes the slerp points (endpoints exactly); a mean/mean chain
     * drives every point to the decoded fixed point */
    float za[2] = {1.0f, 0.0f}, zb[2] = {0.0f, 2.0f}, iv[2 * 5 * 4];
    const size_t rec2[2] = {0, 300};
    cfg.dec_mode = GM_LATENT_DECODE_MEAN;
    cfg.enc_mode = GM_LATENT_ENCODE_MEAN;
    CHECK_OK(gm_latent_interpolate(&m, &cfg, za, zb, 5, 1, rec2, 2, iv));
    float xa[4], xb[4], zs[2], xs[4];
    CHECK_OK(m.decode(xa, za, 1, m.params));
    CHECK_OK(m.decode(xb, zb, 1, m.params));
    gm_latent_slerp(zs, za, zb, 2, 0.5);
    CHECK_OK(m.decode(xs, zs, 1, m.params));
    for (int k = 0; k < 4; k++) {
        CHECK_NEAR(iv[k], xa[k], 0, 1e-6);
        CHECK_NEAR(iv[4 * 4 + k], xb[k], 0, 1e-6);
        CHECK_NEAR(iv[2 * 4 + k], xs[k], 0, 1e-6);
    }
    double mu[2], S[4];
    CHECK_OK(gm_linear_ae_stationary(&f.ae, GM_LATENT_DECODE_MEAN, GM_LATENT_ENCODE_MEAN, 0.0, mu, S, NULL));
    float zf[2] = {(float)mu[0], (float)mu[1]}, xf[4];
    CHECK_OK(m.decode(xf, zf, 1, m.params));
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++) CHECK_NEAR(iv[20 + i * 4 + k], xf[k], 0, 1e-5);
    /* linear interpolation midpoint */
    CHECK_OK(gm_latent_interpolate(&m, &cfg, za, zb, 3, 0, rec2, 1, iv));
    float zl[2] = {0.5f, 1.0f};
    CHECK_OK(m.decode(xs, zl, 1, m.params));
    for (int k = 0; k < 4; k++) CHECK_NEAR(iv[4 + k], xs[k], 0, 1e-6);
    CHECK_RC(gm_latent_interpolate(&m, &cfg, za, zb, 1, 0, rec2, 1, iv), GM_EINVAL);
}

GM_TEST(test_slerp) {
    float a[2] = {1, 0}, b[2] = {0, 1}, o[2];
    gm_latent_slerp(o, a, b, 2, 0.5);
    CHECK_NEAR(o[0], sqrt(0.5), 1e-6, 0);
    CHECK_NEAR(o[1], sqrt(0.5), 1e-6, 0);
    gm_latent_slerp(o, a, b, 2, 0.0);
    CHECK_NEAR(o[0], 1.0, 0, 1e-7);
    CHECK_NEAR(o[1], 0.0, 0, 1e-7);
    gm_latent_slerp(o, a, b, 2, 1.0 / 3.0); /* angle pi/6 from a */
    CHECK_NEAR(o[0], sqrt(3.0) / 2.0, 1e-6, 0);
    CHECK_NEAR(o[1], 0.5, 1e-6, 0);
    float c[2] = {2, 0};
    gm_latent_slerp(o, a, c, 2, 0.25); /* parallel: linear */
    CHECK_NEAR(o[0], 1.25, 1e-7, 0);
}

GM_TEST_MAIN({"closed_forms_table", test_closed_forms_table}, {"closed_form_random_walk", test_closed_form_random_walk},
             {"chain_sample_sample_reaches_phat", test_chain_sample_sample_reaches_phat},
             {"chain_mean_decode_halves_variance", test_chain_mean_decode_halves_variance},
             {"chain_mean_mean_collapses", test_chain_mean_mean_collapses},
             {"chain_linear_daae", test_chain_linear_daae}, {"chain_generic_linear", test_chain_generic_linear},
             {"aggregated_posterior_matches_encodings", test_aggregated_posterior_matches_encodings},
             {"chain_convergence_3rt", test_chain_convergence_3rt},
             {"chain_random_walk_grows", test_chain_random_walk_grows},
             {"chain_deterministic_batch_threads", test_chain_deterministic_batch_threads},
             {"chain_deterministic_parallel_path", test_chain_deterministic_parallel_path},
             {"bernoulli_decode_and_corruption", test_bernoulli_decode_and_corruption},
             {"chain_stats_exact", test_chain_stats_exact}, {"bad_config_and_errors", test_bad_config_and_errors},
             {"create_oom", test_create_oom}, {"step_does_not_allocate", test_step_does_not_allocate},
             {"ess_rhat_ar1", test_ess_rhat_ar1}, {"ess_rhat_known_answer", test_ess_rhat_known_answer},
             {"run_and_interpolate", test_run_and_interpolate}, {"slerp", test_slerp})
