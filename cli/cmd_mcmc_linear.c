/* SPDX-License-Identifier: MIT */
/* cmd_mcmc_linear.c — `genmix mcmc-linear`: the decode->encode chain of one-direction linear-Gaussian
 * autoencoders, closed form vs simulation (spec latent_mcmc.md section 3 table and the 3 r^t row). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/mcmc.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix mcmc-linear [options]\n"
            "Run the latent decode->encode chain of optimal one-direction linear autoencoders and compare\n"
            "the simulated stationary variance with the closed form (spec latent_mcmc.md section 3).\n"
            "Data variance lambda, decoder noise s2, corruption variance sc2:\n"
            "  VAE (pPCA optimum): W = sqrt(lambda - s2), A = W / lambda, encoder variance s2 / lambda\n"
            "  DAAE: A = (lambda + sc2)^-1/2, W = lambda A, deterministic encoder\n"
            "options:\n"
            "  --lambda L      data variance of the direction (default 4)\n"
            "  --s2 S          decoder noise variance (default 0.5)\n"
            "  --sc2 S         corruption variance of the denoising row (default 0.5)\n"
            "  --chains N      independent chains (default 20000)\n"
            "  --steps T       steps before measuring the stationary variance (default 400)\n"
            "  --seed S        random seed (default 1)\n"
            "  --json FILE     also write the table as JSON\n"
            "  -h, --help      this help\n"
            "Output: one row per chain with decode/encode mode, closed-form and simulated variance, and the\n"
            "variance of the distribution the chain should sample (P-hat); then the mean of the exact Gibbs\n"
            "chain started at N(3, 1) after t = 1, 5, 10, 50 steps against 3 r^t.\n");
}

typedef struct {
    const char *name, *dec, *enc;
    double closed, sim, target;
} row;

/* Simulate n chains of a 1-D linear AE for T steps; returns the variance of z_T (or NaN on error). */
static int simulate(const gm_linear_ae *ae, gm_latent_decode_mode dm, gm_latent_encode_mode em, double sc, size_t n,
                    size_t T, uint64_t seed, const float *z0, const size_t *rec, double *rec_mean, size_t nrec,
                    double *var) {
    gm_ae_model m = gm_linear_ae_model(ae);
    gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default();
    cfg.n_chains = n;
    cfg.dec_mode = dm;
    cfg.enc_mode = em;
    cfg.corrupt_sigma = sc;
    cfg.seed = seed;
    gm_latent_mcmc *s;
    int rc = gm_latent_mcmc_create(&s, &cfg, &m);
    if (rc) return rc;
    if (z0 && (rc = gm_latent_mcmc_set_z(s, z0))) goto done;
    size_t r = 0;
    for (size_t t = 1; t <= T; t++) {
        if ((rc = gm_latent_mcmc_step(s))) goto done;
        if (r < nrec && rec[r] == t) {
            const float *z = gm_latent_mcmc_z(s);
            double a = 0;
            for (size_t i = 0; i < n; i++) a += (double)z[i];
            rec_mean[r++] = a / (double)n;
        }
    }
    const float *z = gm_latent_mcmc_z(s);
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) a += (double)z[i];
    a /= (double)n;
    for (size_t i = 0; i < n; i++) b += ((double)z[i] - a) * ((double)z[i] - a);
    *var = b / (double)(n - 1);
done:
    gm_latent_mcmc_free(s);
    return rc;
}

int cmd_mcmc_linear(int argc, char **argv) {
    double lam = 4.0, s2 = 0.5, sc2 = 0.5;
    long chains = 20000, steps = 400;
    unsigned long long seed = 1;
    const char *json = NULL;
    static const struct option opts[] = {{"lambda", required_argument, 0, 'l'}, {"s2", required_argument, 0, 's'},
                                         {"sc2", required_argument, 0, 'c'},    {"chains", required_argument, 0, 'n'},
                                         {"steps", required_argument, 0, 't'},  {"seed", required_argument, 0, 'S'},
                                         {"json", required_argument, 0, 'j'},   {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_double(optarg, &lam)) return cli_usage_error(argv[0], "--lambda takes a number");
            break;
        case 's':
            if (cli_parse_double(optarg, &s2)) return cli_usage_error(argv[0], "--s2 takes a number");
            break;
        case 'c':
            if (cli_parse_double(optarg, &sc2)) return cli_usage_error(argv[0], "--sc2 takes a number");
            break;
        case 'n':
            if (cli_parse_long(optarg, &chains) || chains < 2) return cli_usage_error(argv[0], "--chains takes an integer >= 2");
            break;
        case 't':
            if (cli_parse_long(optarg, &steps) || steps < 50) return cli_usage_error(argv[0], "--steps takes an integer >= 50");
            break;
        case 'S':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error(argv[0], "--seed takes a non-negative integer");
            break;
        case 'j':
            json = optarg;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            return cli_bad_option(argv[0], argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!(s2 > 0 && lam > s2 && isfinite(lam))) return cli_usage_error(argv[0], "need lambda > s2 > 0");
    if (!(sc2 > 0 && isfinite(sc2))) return cli_usage_error(argv[0], "need sc2 > 0");
    if (cli_check_output(argv[0], "--json", json)) return CLI_ERR;

    /* the two 1-D models */
    double w = sqrt(lam - s2), a = w / lam, es = sqrt(s2 / lam), ds = sqrt(s2);
    gm_linear_ae vae = {1, 1, &a, NULL, &es, &w, NULL, &ds};
    double ad = 1.0 / sqrt(lam + sc2), wd = lam * ad, sc = sqrt(sc2);
    gm_linear_ae daae = {1, 1, &ad, NULL, NULL, &wd, NULL, NULL};
    const double r = 1.0 - s2 / lam;

    row rows[4] = {{"VAE exact Gibbs", "sample", "sample", 0, 0, 1.0},
                   {"VAE (Kaixhin)", "mean", "sample", 0, 0, 1.0},
                   {"VAE mean/mean", "mean", "mean", 0, 0, 1.0},
                   {"linear DAAE", "mean", "det", 0, 0, lam / (lam + sc2)}};
    const gm_latent_decode_mode dms[4] = {GM_LATENT_DECODE_SAMPLE, GM_LATENT_DECODE_MEAN, GM_LATENT_DECODE_MEAN,
                                          GM_LATENT_DECODE_MEAN};
    const gm_latent_encode_mode ems[4] = {GM_LATENT_ENCODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, GM_LATENT_ENCODE_MEAN,
                                          GM_LATENT_ENCODE_MEAN};
    int rc;
    for (int i = 0; i < 4; i++) {
        const gm_linear_ae *ae = i == 3 ? &daae : &vae;
        double sci = i == 3 ? sc : 0.0, S;
        if (i == 2) { /* collapse: the variance after `steps` steps from N(0, 1) */
            double S0 = 1.0, mu;
            rc = gm_linear_ae_moments_at(ae, dms[i], ems[i], sci, NULL, &S0, (size_t)steps, &mu, &S);
        } else {
            rc = gm_linear_ae_stationary(ae, dms[i], ems[i], sci, NULL, &S, NULL);
        }
        if (rc) return cli_fail(rc);
        rows[i].closed = S;
        cli_progress("mcmc-linear: %s (%ld chains x %ld steps)", rows[i].name, chains, steps);
        rc = simulate(ae, dms[i], ems[i], sci, (size_t)chains, (size_t)steps, seed + (uint64_t)i, NULL, NULL, NULL, 0,
                      &rows[i].sim);
        if (rc) return cli_fail(rc);
    }
    /* convergence of the exact Gibbs chain from N(3, 1) */
    const size_t rec[4] = {1, 5, 10, 50};
    double rec_mean[4], vdummy;
    float *z0 = malloc((size_t)chains * sizeof(float));
    if (!z0) return cli_fail(gm_set_error(GM_ENOMEM, "out of memory"));
    {
        gm_latent_mcmc_config cfg = gm_latent_mcmc_config_default(); /* borrow a chain's N(0,1) draws */
        cfg.n_chains = (size_t)chains;
        cfg.seed = seed + 100;
        gm_ae_model m = gm_linear_ae_model(&vae);
        gm_latent_mcmc *s0;
        if ((rc = gm_latent_mcmc_create(&s0, &cfg, &m))) {
            free(z0);
            return cli_fail(rc);
        }
        const float *z = gm_latent_mcmc_z(s0);
        for (long i = 0; i < chains; i++) z0[i] = 3.0f + z[i];
        gm_latent_mcmc_free(s0);
    }
    rc = simulate(&vae, GM_LATENT_DECODE_SAMPLE, GM_LATENT_ENCODE_SAMPLE, 0.0, (size_t)chains, 50, seed + 4, z0, rec,
                  rec_mean, 4, &vdummy);
    free(z0);
    if (rc) return cli_fail(rc);

    printf("lambda %g  s2 %g  sc2 %g  r = 1 - s2/lambda = %g  (%ld chains, %ld steps, seed %llu)\n", lam, s2, sc2, r,
           chains, steps, seed);
    printf("%-18s %-7s %-7s %12s %12s %12s\n", "chain", "decode", "encode", "closed_form", "simulated", "P-hat_var");
    for (int i = 0; i < 4; i++)
        printf("%-18s %-7s %-7s %12.6g %12.6g %12.6g\n", rows[i].name, rows[i].dec, rows[i].enc, rows[i].closed,
               rows[i].sim, rows[i].target);
    printf("exact Gibbs from N(3,1): t  3r^t  simulated\n");
    for (int i = 0; i < 4; i++) printf("  %3zu  %8.4f  %8.4f\n", rec[i], 3.0 * pow(r, (double)rec[i]), rec_mean[i]);

    if (json) {
        char buf[4096];
        size_t p = 0;
        p += (size_t)snprintf(buf + p, sizeof buf - p,
                              "{\"lambda\": %.17g, \"s2\": %.17g, \"sc2\": %.17g, \"chains\": %ld, \"steps\": %ld, "
                              "\"seed\": %llu, \"rows\": [",
                              lam, s2, sc2, chains, steps, seed);
        for (int i = 0; i < 4; i++)
            p += (size_t)snprintf(buf + p, sizeof buf - p,
                                  "%s{\"chain\": \"%s\", \"decode\": \"%s\", \"encode\": \"%s\", \"closed_form\": %.17g, "
                                  "\"simulated\": %.17g, \"phat_var\": %.17g}",
                                  i ? ", " : "", rows[i].name, rows[i].dec, rows[i].enc, rows[i].closed, rows[i].sim,
                                  rows[i].target);
        p += (size_t)snprintf(buf + p, sizeof buf - p, "], \"convergence\": [");
        for (int i = 0; i < 4; i++)
            p += (size_t)snprintf(buf + p, sizeof buf - p, "%s{\"t\": %zu, \"theory\": %.17g, \"simulated\": %.17g}",
                                  i ? ", " : "", rec[i], 3.0 * pow(r, (double)rec[i]), rec_mean[i]);
        p += (size_t)snprintf(buf + p, sizeof buf - p, "]}\n");
        if ((rc = gm_write_file_atomic(json, buf, p))) return cli_fail(rc);
    }
    return CLI_OK;
}
