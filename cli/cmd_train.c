/* SPDX-License-Identifier: MIT */
/* cmd_train.c — `genmix train <model> ...`: dispatch to one trainer per model family.
 * Other model families add `int train_<name>(int argc, char **argv)` (declared in cli.h, defined in their
 * own cli/cmd_<name>.c) and one line in the trainers[] table below. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "genmix/classifier.h"
#include "genmix/io.h"

struct train_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static int train_classifier(int argc, char **argv);

static const struct train_cmd trainers[] = {
    {"classifier", train_classifier, "CNN image classifier on Fashion-MNIST (the default feature extractor)"},
    {"vae", train_ae, "variational autoencoder (MLP), for latent MCMC sampling"},
    {"dvae", train_ae, "denoising VAE (inputs corrupted by N(0, sigma_c^2))"},
    {"aae", train_ae, "adversarial autoencoder (latent discriminator matches codes to N(0, I))"},
    {"daae", train_ae, "denoising adversarial autoencoder"},
    {"ddpm", train_ddpm, "2-D toy diffusion model (MLP eps-prediction DDPM, EMA) for genmix align"},
    {"ddpm-finetune", train_ddpm_finetune, "KL-regularised reward fine-tuning of a toy DDPM (over-optimisation baseline)"},
    {"gan", train_gan, "GAN on 2-D toys with the PR-divergence loss (lambda) or chi2/kl/rkl/hinge baselines"},
    {"flow", train_flow, "RealNVP flow by MLE or the PR-divergence: 2-D toys (procedures C, B, A), multi-scale on Fashion-MNIST (B)"},
};
static const size_t n_trainers = sizeof trainers / sizeof trainers[0];

static void train_help(FILE *f) {
    fprintf(f, "usage: genmix train <model> [options]   (genmix train <model> --help)\n\nmodels:\n");
    for (size_t i = 0; i < n_trainers; i++) fprintf(f, "  %-14s %s\n", trainers[i].name, trainers[i].summary);
}

int cmd_train(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        train_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < n_trainers; i++)
        if (!strcmp(argv[1], trainers[i].name)) {
            optind = 1;
            return trainers[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "genmix train: unknown model '%s'\n", argv[1]);
    train_help(stderr);
    return CLI_USAGE;
}

/* ---- Fashion-MNIST ------------------------------------------------------------------------------ */
/* Images (n x 784 floats in [0,1]) and labels through io's gm_fashion_mnist_load; both come from the
 * library allocator, so callers release them with gm_free(). */
int cli_fashion_mnist(const char *dir, int train, float **images, uint8_t **labels, size_t *n) {
    gm_tensor t;
    int rc = gm_fashion_mnist_load(dir, train, &t, labels, n);
    if (rc != GM_OK) return rc;
    *images = t.data; /* ownership moves to the caller */
    return GM_OK;
}

/* ---- train classifier -------------------------------------------------------------------------- */

static void progress(void *ctx, int64_t epoch, int64_t step, double loss, double ips, int final) {
    (void)ctx;
    if (final)
        cli_progress("epoch %lld step %lld loss %.4f images/s %.0f", (long long)epoch, (long long)step, loss, ips);
    else
        cli_progress("epoch %lld step %lld loss %.4f images/s %.0f", (long long)epoch, (long long)step, loss, ips);
}

static int train_classifier(int argc, char **argv) {
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},   {"out", required_argument, 0, 'o'},
                                         {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
                                         {"lr", required_argument, 0, 'l'},     {"seed", required_argument, 0, 's'},
                                         {"resume", no_argument, 0, 'r'},       {"data-dir", required_argument, 0, 'D'},
                                         {"limit", required_argument, 0, 'n'},  {"stop-after", required_argument, 0, 'S'},
                                         {"json", required_argument, 0, 'j'},   {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = "fashion-mnist", *out = NULL, *dir = "/usr/share/datasets/fashion-mnist", *json = NULL;
    gm_clf_config cfg = gm_clf_config_default();
    int resume = 0, set_epochs = 0, set_batch = 0, set_lr = 0, set_seed = 0;
    long limit = 0, stop_after = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        double d;
        unsigned long long u;
        switch (c) {
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'D': dir = optarg; break;
        case 'j': json = optarg; break;
        case 'r': resume = 1; break;
        case 'e':
            if (cli_parse_long(optarg, &v) || v < 1 || v > 1000) return cli_usage_error("train classifier", "--epochs takes 1..1000");
            cfg.epochs = v;
            set_epochs = 1;
            break;
        case 'b':
            if (cli_parse_long(optarg, &v) || v < 1 || v > 65536) return cli_usage_error("train classifier", "--batch takes 1..65536");
            cfg.batch = (size_t)v;
            set_batch = 1;
            break;
        case 'l':
            if (cli_parse_drange("train classifier", "--lr", optarg, 0, 10, 1, &d)) return CLI_USAGE;
            cfg.lr = d;
            set_lr = 1;
            break;
        case 's':
            if (cli_parse_u64(optarg, &u)) return cli_usage_error("train classifier", "--seed takes a non-negative integer");
            cfg.seed = u;
            set_seed = 1;
            break;
        case 'n':
            if (cli_parse_long(optarg, &v) || v < 1) return cli_usage_error("train classifier", "--limit takes a positive integer");
            limit = v;
            break;
        case 'S':
            if (cli_parse_long(optarg, &v) || v < 1) return cli_usage_error("train classifier", "--stop-after takes a positive integer");
            stop_after = v;
            break;
        case 'h':
            printf("usage: genmix train classifier --data fashion-mnist --out clf.safetensors [options]\n\n"
                   "Trains the CNN\n  %s\nwith AdamW and a cosine learning-rate schedule, writes a .safetensors\n"
                   "checkpoint (weights, optimizer state, RNG position, config) after every epoch, and prints the\n"
                   "test accuracy. Its penultimate layer (128 features) is genmix's Fashion-MNIST feature space.\n\n"
                   "  --data NAME       dataset (only fashion-mnist)\n"
                   "  --data-dir DIR    IDX files (default %s)\n"
                   "  --out FILE        checkpoint to write (required)\n"
                   "  --epochs E        epochs (default %lld)\n"
                   "  --batch B         minibatch size (default %zu)\n"
                   "  --lr LR           peak learning rate (default %g)\n"
                   "  --seed S          seed of initialisation, data order and dropout (default %llu)\n"
                   "  --resume          continue from --out (config taken from the checkpoint; bitwise the same\n"
                   "                    result as an uninterrupted run)\n"
                   "  --limit N         use only the first N training and test images (for quick tests)\n"
                   "  --stop-after K    stop after K epochs of this invocation (simulates an interruption)\n"
                   "  --json FILE       write {test_accuracy, epochs, seconds, ...} to FILE\n",
                   GM_CLF_SPEC, dir, (long long)cfg.epochs, cfg.batch, cfg.lr, (unsigned long long)cfg.seed);
            return CLI_OK;
        default: return cli_bad_option("train classifier", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("train classifier", "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error("train classifier", "--out is required");
    if (strcmp(data, "fashion-mnist")) return cli_usage_error("train classifier", "--data: only 'fashion-mnist' is supported");
    if ((!resume && cli_check_output("train classifier", "--out", out)) || cli_check_output("train classifier", "--json", json))
        return CLI_ERR;
    if (resume && cli_check_input("train classifier", "--out (with --resume)", out)) return CLI_ERR;
    if (cli_check_distinct_outputs("train classifier", (cli_file[]){{"--out", resume ? NULL : out}, {"--json", json}, {0}})) return CLI_USAGE;
    if (cli_check_not_input("train classifier", (cli_file[]){{"--json", json}, {0}}, (cli_file[]){{"--out (with --resume)", resume ? out : NULL}, {0}})) return CLI_USAGE;

    float *Xtr = NULL, *Xte = NULL;
    uint8_t *ytr = NULL, *yte = NULL;
    size_t ntr, nte;
    gm_clf *clf = NULL;
    int rc;
    if (resume) { /* the checkpoint first: it is cheap, and a conflicting option must fail before any work */
        if ((rc = gm_clf_load(&clf, out)) != GM_OK) goto fail;
        const char *clash = set_epochs && cfg.epochs != clf->cfg.epochs ? "--epochs"
                            : set_batch && cfg.batch != clf->cfg.batch  ? "--batch"
                            : set_lr && cfg.lr != clf->cfg.lr           ? "--lr"
                            : set_seed && cfg.seed != clf->cfg.seed     ? "--seed"
                                                                        : NULL;
        if (clash) {
            int code = cli_usage_error("train classifier",
                                   "%s differs from the checkpoint %s; --resume continues its own run (%lld epochs, "
                                   "batch %zu, lr %g, seed %llu): omit %s or start a new --out",
                                   clash, out, (long long)clf->cfg.epochs, clf->cfg.batch, clf->cfg.lr,
                                   (unsigned long long)clf->cfg.seed, clash);
            gm_clf_free(clf);
            return code;
        }
        cli_progress("resuming %s at epoch %lld (step %lld) of %lld", out, (long long)clf->epoch, (long long)clf->step,
                     (long long)clf->cfg.epochs);
    }
    rc = cli_fashion_mnist(dir, 1, &Xtr, &ytr, &ntr);
    if (rc == GM_OK) rc = cli_fashion_mnist(dir, 0, &Xte, &yte, &nte);
    if (rc != GM_OK) goto fail;
    if (limit > 0 && (size_t)limit < ntr) ntr = (size_t)limit;
    if (limit > 0 && (size_t)limit < nte) nte = (size_t)limit;
    if (!resume && (rc = gm_clf_create(&clf, &cfg)) != GM_OK) goto fail;
    double t0 = gm_time_now();
    long done = 0;
    while (clf->epoch < clf->cfg.epochs && (!stop_after || done < stop_after)) {
        if ((rc = gm_clf_train_epoch(clf, Xtr, ytr, ntr, NULL, progress, NULL)) != GM_OK) goto fail;
        if ((rc = gm_clf_save(clf, out)) != GM_OK) goto fail;
        done++;
    }
    double secs = gm_time_now() - t0, acc = 0;
    if ((rc = gm_clf_accuracy(clf, Xte, yte, nte, &acc)) != GM_OK) goto fail;
    if (done)
        printf("classifier: %lld epochs, test accuracy %.4f, %.1f s training, wrote %s\n", (long long)clf->epoch, acc,
               secs, out);
    else
        printf("classifier: %s already has all %lld epochs, test accuracy %.4f, nothing trained\n", out,
               (long long)clf->epoch, acc);
    if (json) {
        char buf[512];
        int len = snprintf(buf, sizeof buf,
                           "{\"model\": \"classifier\", \"checkpoint\": \"%s\", \"epochs\": %lld, \"steps\": %lld, "
                           "\"test_accuracy\": %.6f, \"train_seconds\": %.2f, \"seed\": %llu}\n",
                           out, (long long)clf->epoch, (long long)clf->step, acc, secs,
                           (unsigned long long)clf->cfg.seed);
        if ((rc = gm_write_file_atomic(json, buf, (size_t)len)) != GM_OK) goto fail;
    }
    gm_clf_free(clf);
    gm_free(Xtr), gm_free(ytr), gm_free(Xte), gm_free(yte);
    return CLI_OK;
fail:
    gm_clf_free(clf);
    gm_free(Xtr), gm_free(ytr), gm_free(Xte), gm_free(yte);
    return cli_fail(rc);
}
