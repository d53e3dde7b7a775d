/* SPDX-License-Identifier: MIT */
/* cmd_latent_study.c — `genmix latent-study`: the per-step measurements of the latent MCMC study that do
 * not need the feature-space metrics (those come from `genmix features` + `genmix eval`, run by
 * tools/study_latent_mcmc.sh on the .npy files written here). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/ae.h"
#include "genmix/classifier.h"
#include "genmix/eval.h"
#include "genmix/io.h"
#include "genmix/mcmc.h"
#include "genmix/rng.h"


/* class histogram of n images from the classifier's predictions (gm_clf_predict); hist[10] fractions */
static int class_hist(gm_clf *c, const float *x, size_t n, double hist[10]) {
    uint8_t *pred = malloc(n ? n : 1);
    if (!pred) return GM_ENOMEM;
    int rc = gm_clf_predict(c, x, n, pred);
    for (int k = 0; k < 10; k++) hist[k] = 0;
    if (rc == GM_OK)
        for (size_t i = 0; i < n; i++) hist[pred[i]] += 1;
    free(pred);
    for (int k = 0; k < 10; k++) hist[k] /= (double)n;
    return rc;
}

static int cmp_float(const void *a, const void *b) {
    float u = *(const float *)a, v = *(const float *)b;
    return (u > v) - (u < v);
}

int cmd_latent_study(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"clf", required_argument, 0, 'C'},
        {"n", required_argument, 0, 'n'},       {"record", required_argument, 0, 'R'},
        {"decode", required_argument, 0, 'd'},  {"encode", required_argument, 0, 'e'},
        {"corrupt", required_argument, 0, 'c'}, {"seed", required_argument, 0, 's'},
        {"train-subset", required_argument, 0, 't'}, {"data-dir", required_argument, 0, 'D'},
        {"out-dir", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *clfp = NULL, *odir = NULL, *dir = "/usr/share/datasets/fashion-mnist";
    long n = 2000, tsub = 10000;
    int dec = 0, enc = 1, have_corrupt = 0, c;
    double corrupt = 0;
    unsigned long long seed = 0;
    size_t rec[32] = {0, 1, 5, 10, 50, 100}, nrec = 6;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'C': clfp = optarg; break;
        case 'o': odir = optarg; break;
        case 'D': dir = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, &n) || n < 10 || n > 10000) return cli_usage_error("latent-study", "--n takes 10..10000");
            break;
        case 't':
            if (cli_parse_long(optarg, &tsub) || tsub < 10 || tsub > 60000) return cli_usage_error("latent-study", "--train-subset takes 10..60000");
            break;
        case 'R': {
            const char *p = optarg;
            nrec = 0;
            while (*p) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p || v < 0 || nrec >= 32 || (nrec && (size_t)v <= rec[nrec - 1]))
                    return cli_usage_error("latent-study", "--record takes increasing steps");
                rec[nrec++] = (size_t)v;
                if (*end && *end != ',') return cli_usage_error("latent-study", "--record takes increasing steps");
                p = *end ? end + 1 : end;
            }
            if (!nrec) return cli_usage_error("latent-study", "--record takes increasing steps");
            break;
        }
        case 'd':
            if (strcmp(optarg, "mean") && strcmp(optarg, "sample")) return cli_usage_error("latent-study", "--decode takes mean or sample");
            dec = !strcmp(optarg, "sample");
            break;
        case 'e':
            if (strcmp(optarg, "mean") && strcmp(optarg, "sample")) return cli_usage_error("latent-study", "--encode takes mean or sample");
            enc = !strcmp(optarg, "sample");
            break;
        case 'c':
            if (cli_parse_double(optarg, &corrupt) || !(corrupt >= 0)) return cli_usage_error("latent-study", "--corrupt takes a number >= 0");
            have_corrupt = 1;
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("latent-study", "--seed takes a non-negative integer");
            break;
        case 'h':
            printf("usage: genmix latent-study --model M.safetensors [--clf clf.safetensors] --out-dir DIR [options]\n\n"
                   "Runs N latent MCMC chains of an autoencoder and, after each recorded step, measures: latent MMD^2\n"
                   "(RBF, bandwidth fixed from test encodings + prior) to the sampled encodings of N test images\n"
                   "(baselines: prior and training encodings), the chains' drift, the class histogram of the\n"
                   "samples under the classifier (KL to uniform, classes with >= 5%%), and the nearest-training-\n"
                   "image pixel distance (memorisation: fraction below the 5th percentile of the same statistic for\n"
                   "test images). Writes DIR/test.npy, DIR/samples_t<T>.npy (for genmix features / eval) and\n"
                   "DIR/latent.json; prints a table.\n\n"
                   "  --n N (2000)  --record LIST (0,1,5,10,50,100)  --decode/--encode/--corrupt/--seed as in sample\n"
                   "  --train-subset K    training images searched for nearest neighbours (10000)\n");
            return CLI_OK;
        default: return cli_bad_option("latent-study", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("latent-study", "unexpected argument '%s'", argv[optind]);
    if (!model || !odir) return cli_usage_error("latent-study", "--model and --out-dir are required");
    if (cli_check_input("latent-study", "--model", model) || cli_check_input("latent-study", "--clf", clfp) ||
        cli_check_output_dir("latent-study", "--out-dir", odir))
        return CLI_ERR;
    {   /* an input that is one of the files written into --out-dir would be replaced */
        char st[32][40];
        const char *names[32 + 3] = {"test.npy", "latent.json"};
        for (size_t k = 0; k < nrec; k++) {
            snprintf(st[k], sizeof st[k], "samples_t%zu.npy", rec[k]);
            names[2 + k] = st[k];
        }
        names[2 + nrec] = NULL;
        if (cli_check_not_in_dir("latent-study", "--out-dir", odir, names, (cli_file[]){{"--model", model}, {"--clf", clfp}, {0}}))
            return CLI_USAGE;
    }
    int rc = cli_mkdirs(odir);
    if (rc) return cli_fail(rc);

    gm_ae *ae = NULL;
    gm_clf *clf = NULL;
    gm_latent_mcmc *s = NULL;
    float *Xtr = NULL, *Xte = NULL, *zt = NULL, *lv = NULL, *zp = NULL, *ztr = NULL, *img = NULL, *dist = NULL;
    uint8_t *ytr = NULL, *yte = NULL;
    size_t ntr, nte;
    char path[4096], *json = NULL;
    size_t jlen = 0, jcap = 1 << 16;
    if ((rc = gm_ae_load(&ae, model)) || (clfp && (rc = gm_clf_load(&clf, clfp)))) goto done;
    if ((rc = cli_fashion_mnist(dir, 1, &Xtr, &ytr, &ntr)) || (rc = cli_fashion_mnist(dir, 0, &Xte, &yte, &nte))) goto done;
    const gm_ae_config *ac = gm_ae_get_config(ae);
    const size_t d = ac->latent_dim, N = (size_t)n;
    if (N > nte || (size_t)tsub > ntr) {
        rc = gm_set_error(GM_EINVAL, "--n or --train-subset larger than the data");
        goto done;
    }
    zt = malloc(N * d * sizeof(float)), lv = malloc(N * d * sizeof(float)), zp = malloc(N * d * sizeof(float));
    ztr = malloc(N * d * sizeof(float)), img = malloc(N * 784 * sizeof(float)), dist = malloc(N * sizeof(float));
    json = malloc(jcap);
    if (!zt || !lv || !zp || !ztr || !img || !dist || !json) {
        rc = gm_set_error(GM_ENOMEM, "out of memory");
        goto done;
    }
    /* references: sampled encodings of N test images and of N training images; prior draws */
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 10));
    int stoch = ac->type == GM_AE_VAE || ac->type == GM_AE_DVAE;
    if ((rc = gm_ae_encode(ae, zt, stoch ? lv : NULL, Xte, N))) goto done;
    for (size_t i = 0; stoch && i < N * d; i++) zt[i] += expf(0.5f * lv[i]) * (float)gm_rng_normal(&r);
    if ((rc = gm_ae_encode(ae, ztr, stoch ? lv : NULL, Xtr, N))) goto done;
    for (size_t i = 0; stoch && i < N * d; i++) ztr[i] += expf(0.5f * lv[i]) * (float)gm_rng_normal(&r);
    gm_rng_normal_fill(&r, zp, N * d);
    double h, mmd_prior, mmd_floor;
    size_t act;
    if ((rc = gm_latent_median_distance(zt, N, zp, N, d, 1000, &h)) ||
        (rc = gm_latent_mmd2_rbf(zp, N, zt, N, d, h, &mmd_prior)) || (rc = gm_latent_mmd2_rbf(ztr, N, zt, N, d, h, &mmd_floor)))
        goto done;
    if ((rc = gm_ae_encode(ae, ztr, stoch ? lv : NULL, Xtr, N)) ||
        (rc = gm_latent_phat_moments(ztr, stoch ? lv : NULL, N, d, 0.01, NULL, NULL, &act)))
        goto done;
    /* memorisation reference: nearest-training distances of test images */
    if ((rc = gm_latent_nearest_sqdist(Xte, N, Xtr, (size_t)tsub, 784, dist))) goto done;
    qsort(dist, N, sizeof(float), cmp_float);
    const float p5 = dist[N / 20];
    double test_nn = 0;
    for (size_t i = 0; i < N; i++) test_nn += sqrt((double)dist[i]) / (double)N;
    const int64_t img_shape[2] = {(int64_t)N, 784}; /* test.npy and samples_t*.npy: float32 (N, 784) */
    snprintf(path, sizeof path, "%s/test.npy", odir);
    if ((rc = gm_npy_write(path, GM_DTYPE_F32, 2, img_shape, Xte))) goto done;
    double hist_test[10] = {0};
    if (clf && (rc = class_hist(clf, Xte, N, hist_test))) goto done;

    gm_ae_model m;
    gm_ae_as_model(ae, &m);
    gm_latent_mcmc_config mc = gm_latent_mcmc_config_default();
    mc.n_chains = N;
    mc.dec_mode = dec ? GM_LATENT_DECODE_SAMPLE : GM_LATENT_DECODE_MEAN;
    mc.enc_mode = enc ? GM_LATENT_ENCODE_SAMPLE : GM_LATENT_ENCODE_MEAN;
    mc.corrupt_sigma = have_corrupt ? corrupt : ac->sigma_c;
    mc.seed = seed;
    if ((rc = gm_latent_mcmc_create(&s, &mc, &m))) goto done;
    jlen += (size_t)snprintf(json + jlen, jcap - jlen,
                             "{\"model\": \"%s\", \"type\": \"%s\", \"latent_dim\": %zu, \"active_units\": %zu, "
                             "\"n\": %zu, \"decode\": \"%s\", \"encode\": \"%s\", \"corrupt\": %g, \"bandwidth\": %.6g, "
                             "\"mmd2_prior_vs_test\": %.6g, \"mmd2_train_vs_test\": %.6g, \"test_nn_dist\": %.6g, "
                             "\"steps\": [",
                             model, gm_ae_type_name(ac->type), d, act, N, dec ? "sample" : "mean",
                             enc ? "sample" : "mean", mc.corrupt_sigma, h, mmd_prior, mmd_floor, test_nn);
    printf("%s (%s, d=%zu, %zu active units), %zu chains, %s decode / %s encode, corrupt %g\n", model,
           gm_ae_type_name(ac->type), d, act, N, dec ? "sampled" : "mean", enc ? "sampled" : "mean", mc.corrupt_sigma);
    printf("latent MMD^2 to test encodings: prior %.4g, training encodings (floor) %.4g;  test->train NN dist %.3f\n",
           mmd_prior, mmd_floor, test_nn);
    printf("%5s %10s %10s %10s %8s %8s %9s %9s\n", "T", "MMD2", "drift_sq", "norm", "KL_unif", "cls>=5%", "NN_dist",
           "frac<p5");
    size_t done_steps = 0;
    for (size_t k = 0; k < nrec; k++) {
        for (; done_steps < rec[k]; done_steps++)
            if ((rc = gm_latent_mcmc_step(s))) goto done;
        double mmd;
        if ((rc = gm_latent_mmd2_rbf(gm_latent_mcmc_z(s), N, zt, N, d, h, &mmd))) goto done;
        if ((rc = gm_latent_mcmc_decode(s, img))) goto done;
        snprintf(path, sizeof path, "%s/samples_t%zu.npy", odir, rec[k]);
        if ((rc = gm_npy_write(path, GM_DTYPE_F32, 2, img_shape, img))) goto done;
        double hist[10] = {0}, kl = 0;
        int big = 0;
        if (clf && (rc = class_hist(clf, img, N, hist))) goto done;
        for (int j = 0; j < 10; j++) {
            if (hist[j] > 0) kl += hist[j] * log(hist[j] * 10.0);
            big += hist[j] >= 0.05;
        }
        if ((rc = gm_latent_nearest_sqdist(img, N, Xtr, (size_t)tsub, 784, dist))) goto done;
        double nn = 0, below = 0;
        for (size_t i = 0; i < N; i++) {
            nn += sqrt((double)dist[i]) / (double)N;
            below += dist[i] < p5;
        }
        below /= (double)N;
        gm_latent_mcmc_stats st = gm_latent_mcmc_get_stats(s);
        printf("%5zu %10.4g %10.4g %10.4g %8.4f %8d %9.3f %9.4f\n", rec[k], mmd, st.drift_sq, st.norm_mean,
               clf ? kl : (double)NAN, clf ? big : -1, nn, below);
        jlen += (size_t)snprintf(json + jlen, jcap - jlen,
                                 "%s{\"t\": %zu, \"mmd2\": %.6g, \"drift_sq\": %.6g, \"norm_mean\": %.6g, "
                                 "\"nn_dist\": %.6g, \"frac_below_test_p5\": %.6g, \"samples\": \"samples_t%zu.npy\"",
                                 k ? ", " : "", rec[k], mmd, st.drift_sq, st.norm_mean, nn, below, rec[k]);
        if (clf) {
            jlen += (size_t)snprintf(json + jlen, jcap - jlen, ", \"class_kl_uniform\": %.6g, \"classes_ge5\": %d, \"hist\": [",
                                     kl, big);
            for (int j = 0; j < 10; j++) jlen += (size_t)snprintf(json + jlen, jcap - jlen, "%s%.4f", j ? ", " : "", hist[j]);
            jlen += (size_t)snprintf(json + jlen, jcap - jlen, "]");
        }
        jlen += (size_t)snprintf(json + jlen, jcap - jlen, "}");
    }
    jlen += (size_t)snprintf(json + jlen, jcap - jlen, "]}\n");
    snprintf(path, sizeof path, "%s/latent.json", odir);
    rc = gm_write_file_atomic(path, json, jlen);
done:
    gm_latent_mcmc_free(s);
    gm_ae_free(ae);
    gm_clf_free(clf);
    gm_free(Xtr), gm_free(Xte), gm_free(ytr), gm_free(yte), free(zt), free(lv), free(zp), free(ztr), free(img), free(dist);
    free(json);
    return rc ? cli_fail(rc) : CLI_OK;
}
