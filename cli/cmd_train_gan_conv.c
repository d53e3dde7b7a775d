/* SPDX-License-Identifier: MIT */
/* cmd_train_gan_conv.c — `genmix train gan --data fashion-mnist` (the conv PR-GAN of genmix/prdiv.h,
 * gm_cgan_*: options, progress on stderr, checkpoints, bitwise --resume, --finetune of a pre-trained
 * checkpoint at another objective/λ, samples .npy and PNG grids) and the "gan-conv" branch of
 * `genmix sample`. Options and printing only. Thread safety: CLI, single call. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/classifier.h"
#include "genmix/io.h"
#include "genmix/prdiv.h"

/* 1 when a train gan command line is for the conv GAN: --data fashion-mnist, or --resume/--finetune of a
 * "gan-conv" checkpoint */
int cli_train_gan_is_conv(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--data") && i + 1 < argc) v = argv[i + 1];
        else if (!strncmp(a, "--data=", 7)) v = a + 7;
        if (v && !strcmp(v, "fashion-mnist")) return 1;
        if ((!strcmp(a, "--resume") || !strcmp(a, "--finetune")) && i + 1 < argc) {
            char mt[16], *av[3] = {"sample", "--model", argv[i + 1]};
            if (cli_sample_model_type(3, av, mt, sizeof mt) && !strcmp(mt, "gan-conv")) return 1;
        }
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix train gan --data fashion-mnist --out CKPT.safetensors [options]\n"
            "\n"
            "Train a DCGAN-style conv GAN on Fashion-MNIST (28x28, scaled to [-1,1]) with the PR-divergence\n"
            "generator loss (Verine et al. 2023) or a baseline: generator z -> 2W x 7 x 7 -> W x 14 x 14 -> 1 x 28 x 28\n"
            "(transposed convs, group norm, ReLU, tanh), spectral-normalised conv critic (LeakyReLU 0.2), n-critic\n"
            "critic steps per generator step, Adam (beta1 0), EMA of the generator.\n"
            "\n"
            "options:\n"
            "  --objective NAME      pr (default) | chi2 | kl | rkl | hinge | pr-dual | pr-nofloor (genmix variant:\n"
            "                        the PR loss without the lower ratio clamp for fakes, see train gan --help)\n"
            "  --lambda L            trade-off > 0 (1): large = precision, small = recall\n"
            "  --iters N             generator steps in total (2000)\n"
            "  --batch B (64)  --n-critic K (2)  --g-width W (32)  --d-width W (32)  --dim-z Z (64)\n"
            "  --groups G            group-norm groups of the generator, must divide --g-width (8)\n"
            "  --lr-g X, --lr-d X    learning rates (2e-4)\n"
            "  --ema-decay X (0.999) --ema-start N (500)   --no-sn  no spectral normalisation\n"
            "  --pretrain N          first N generator steps use the chi2 f-GAN loss, then --objective (0)\n"
            "  --seed S              (0)\n"
            "  --out FILE            checkpoint written at the end and every --checkpoint-every N steps\n"
            "  --resume FILE         continue a run from its checkpoint (bitwise the same as not stopping)\n"
            "  --finetune FILE       start from a checkpoint's state (weights, Adam, EMA, step) but train with\n"
            "                        this --objective/--lambda (and --ema-decay if given; the paper fine-tunes\n"
            "                        pre-trained GANs this way)\n"
            "  --log-every N         progress line every N steps (100; 0 = none)\n"
            "  --samples FILE.npy    write --n-samples (10000) EMA samples (N x 784 float32 in [0,1])\n"
            "  --grid FILE.png       8 x 8 grid of EMA samples (rewritten at each checkpoint)\n"
            "  --data-dir DIR        Fashion-MNIST idx files (" GM_FASHION_MNIST_DIR ")\n"
            "  --limit N             use the first N training images only\n"
            "\n"
            "exit codes: 0 ok; 1 run-time error (unreadable/foreign checkpoint, missing data, write failure);\n"
            "2 usage (unknown option or objective, lambda <= 0, missing --out); 3 a loss became NaN/Inf.\n");
}

static int write_grid(gm_cgan *g, const char *path) {
    float x[64 * 784];
    int rc = gm_cgan_sample(g, x, 64, 1, 1);
    return rc ? rc : gm_png_write_grid(path, x, 64, 1, 28, 28, 8, 2);
}

/* n samples to `path`; *keep (if not NULL) receives them (caller frees) */
static int write_samples(gm_cgan *g, const char *path, long n, int ema, uint64_t stream, float **keep) {
    float *x = malloc((size_t)n * 784 * sizeof(float));
    if (!x) return GM_ENOMEM;
    int rc = gm_cgan_sample(g, x, (size_t)n, ema, stream);
    if (!rc) rc = cli_write_samples(path, "gan-conv", x, n, 784);
    if (!rc && keep) *keep = x;
    else free(x);
    return rc;
}

int train_gan_conv(int argc, char **argv) {
    enum { O_OBJ = 256, O_LAM, O_DATA, O_ITERS, O_BATCH, O_NCRIT, O_GW, O_DW, O_DIMZ, O_LRG, O_LRD, O_EMAD, O_EMAS,
           O_NOSN, O_SEED, O_OUT, O_RESUME, O_FINE, O_CKEV, O_LOG, O_SAMPLES, O_NSAMP, O_GRID, O_DDIR, O_LIMIT, O_PRE, O_GROUPS };
    static const struct option lo[] = {
        {"objective", required_argument, 0, O_OBJ}, {"lambda", required_argument, 0, O_LAM},
        {"data", required_argument, 0, O_DATA},     {"iters", required_argument, 0, O_ITERS},
        {"batch", required_argument, 0, O_BATCH},   {"n-critic", required_argument, 0, O_NCRIT},
        {"g-width", required_argument, 0, O_GW},    {"d-width", required_argument, 0, O_DW},
        {"dim-z", required_argument, 0, O_DIMZ},    {"lr-g", required_argument, 0, O_LRG},
        {"lr-d", required_argument, 0, O_LRD},      {"ema-decay", required_argument, 0, O_EMAD},
        {"ema-start", required_argument, 0, O_EMAS}, {"no-sn", no_argument, 0, O_NOSN},
        {"seed", required_argument, 0, O_SEED},     {"out", required_argument, 0, O_OUT},
        {"resume", required_argument, 0, O_RESUME}, {"finetune", required_argument, 0, O_FINE},
        {"checkpoint-every", required_argument, 0, O_CKEV}, {"log-every", required_argument, 0, O_LOG},
        {"samples", required_argument, 0, O_SAMPLES}, {"n-samples", required_argument, 0, O_NSAMP},
        {"grid", required_argument, 0, O_GRID},     {"data-dir", required_argument, 0, O_DDIR},
        {"limit", required_argument, 0, O_LIMIT},   {"pretrain", required_argument, 0, O_PRE},
        {"groups", required_argument, 0, O_GROUPS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = "train gan", *out = NULL, *resume = NULL, *fine = NULL, *samples = NULL, *grid = NULL;
    const char *ddir = GM_FASHION_MNIST_DIR;
    gm_cgan_config c = gm_cgan_config_default();
    long iters = 2000, ckev = 0, log_every = 100, nsamp = 10000, limit = 0;
    int ch, set_obj = 0, set_lam = 0, set_ema = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        long v;
        double d;
        unsigned long long u;
        switch (ch) {
        case 'h': usage(stdout); return CLI_OK;
        case O_OBJ: {
            int o = gm_gan_objective_from_name(optarg);
            if (o < 0) return cli_usage_error(cmd, "--objective: unknown '%s' (pr|chi2|kl|rkl|hinge|pr-dual|pr-nofloor)", optarg);
            c.objective = (gm_gan_objective)o, set_obj = 1;
            break;
        }
        case O_DATA:
            if (strcmp(optarg, "fashion-mnist")) return cli_usage_error(cmd, "--data: unsupported '%s'", optarg);
            break;
        case O_LAM:
        case O_LRG:
        case O_LRD:
        case O_EMAD:
            if (cli_gan_parse_real(cmd, lo[ch - O_OBJ].name, optarg, ch == O_EMAD, &d)) return CLI_USAGE;
            if (ch == O_LAM) c.lambda = (float)d, set_lam = 1;
            if (ch == O_LRG) c.lr_g = (float)d;
            if (ch == O_LRD) c.lr_d = (float)d;
            if (ch == O_EMAD) c.ema_decay = (float)d, set_ema = 1;
            break;
        case O_ITERS:
        case O_BATCH:
        case O_NCRIT:
        case O_GW:
        case O_DW:
        case O_DIMZ:
        case O_EMAS:
        case O_CKEV:
        case O_LOG:
        case O_NSAMP:
        case O_LIMIT:
        case O_PRE:
        case O_GROUPS:
            if (cli_parse_count(cmd, lo[ch - O_OBJ].name, optarg,
                                ch == O_EMAS || ch == O_CKEV || ch == O_LOG || ch == O_PRE || ch == O_ITERS || ch == O_LIMIT ? 0 : 1, &v))
                return CLI_USAGE;
            if (ch == O_ITERS) iters = v;
            if (ch == O_BATCH) c.batch = (size_t)v;
            if (ch == O_NCRIT) c.n_critic = (size_t)v;
            if (ch == O_GW) c.g_width = (size_t)v;
            if (ch == O_DW) c.d_width = (size_t)v;
            if (ch == O_DIMZ) c.dim_z = (size_t)v;
            if (ch == O_EMAS) c.ema_start = v;
            if (ch == O_CKEV) ckev = v;
            if (ch == O_LOG) log_every = v;
            if (ch == O_NSAMP) nsamp = v;
            if (ch == O_LIMIT) limit = v;
            if (ch == O_PRE) c.pretrain = v;
            if (ch == O_GROUPS) c.groups = (size_t)v;
            break;
        case O_NOSN: c.spectral_norm = 0; break;
        case O_SEED:
            if (cli_parse_u64(optarg, &u)) return cli_usage_error(cmd, "--seed: '%s' is not a number", optarg);
            c.seed = u;
            break;
        case O_OUT: out = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_FINE: fine = optarg; break;
        case O_SAMPLES: samples = optarg; break;
        case O_GRID: grid = optarg; break;
        case O_DDIR: ddir = optarg; break;
        default: return cli_bad_option(cmd, argv, "the conv GAN's options: genmix train gan --data fashion-mnist --help");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out CKPT.safetensors is required");
    if (resume && fine) return cli_usage_error(cmd, "--resume and --finetune exclude each other");
    if (cli_check_input(cmd, "--resume", resume) || cli_check_input(cmd, "--finetune", fine) ||
        cli_check_output(cmd, "--out", out) || cli_check_output(cmd, "--samples", samples) ||
        cli_check_output(cmd, "--grid", grid))
        return CLI_ERR;
    if (cli_check_not_input(cmd, (cli_file[]){{"--samples", samples}, {"--grid", grid}, {0}}, (cli_file[]){{"--resume", resume}, {0}}) ||
        cli_check_not_input(cmd, (cli_file[]){{"--out", out}, {"--samples", samples}, {"--grid", grid}, {0}},
                            (cli_file[]){{"--finetune", fine}, {0}}))
        return CLI_USAGE;
    gm_cgan *g = NULL;
    float *X = NULL;
    uint8_t *labels = NULL;
    size_t n = 0;
    int rc = resume ? gm_cgan_load(&g, resume) : fine ? gm_cgan_load(&g, fine) : gm_cgan_create(&g, &c);
    if (!rc && fine) {
        const gm_cgan_config *gc = gm_cgan_get_config(g);
        rc = gm_cgan_set_objective(g, set_obj ? c.objective : gc->objective, set_lam ? c.lambda : gc->lambda);
        if (!rc && set_ema) rc = gm_cgan_set_ema(g, c.ema_decay);
    }
    if (!rc) rc = cli_fashion_mnist(ddir, 1, &X, &labels, &n);
    if (!rc && limit > 0 && (size_t)limit < n) n = (size_t)limit;
    if (!rc) rc = gm_cgan_set_data(g, X, n);
    if (rc) goto done;
    const gm_cgan_config *gc = gm_cgan_get_config(g);
    cli_progress("train gan: %s, lambda %g, fashion-mnist (%zu images), G width %zu, D width %zu, n_critic %zu, "
                 "batch %zu, step %lld -> %ld",
                 gm_gan_objective_name(gc->objective), (double)gc->lambda, n, gc->g_width, gc->d_width, gc->n_critic,
                 gc->batch, (long long)gm_cgan_get_step(g), iters);
    double t0 = gm_time_now();
    int64_t s0 = gm_cgan_get_step(g);
    gm_gan_status st;
    memset(&st, 0, sizeof st);
    while (gm_cgan_get_step(g) < iters) {
        if ((rc = gm_cgan_step(g, &st))) goto done;
        int64_t s = st.step;
        if (log_every && (s % log_every == 0 || s == iters))
            cli_gan_progress(&st, "%.3f s/it", (gm_time_now() - t0) / (double)(s - s0));
        if (ckev && s % ckev == 0 && s != iters) {
            if ((rc = gm_cgan_save(g, out))) goto done;
            if (grid && (rc = write_grid(g, grid))) goto done;
        }
    }
    if ((rc = gm_cgan_save(g, out))) goto done;
    printf("checkpoint %s (step %lld)\n", out, (long long)gm_cgan_get_step(g));
    if (grid) {
        if ((rc = write_grid(g, grid))) goto done;
        printf("grid %s\n", grid);
    }
    if (samples) {
        if ((rc = write_samples(g, samples, nsamp, 1, 0, NULL))) goto done;
        printf("samples %s (%ld x 784)\n", samples, nsamp);
    }
done:
    gm_cgan_free(g);
    gm_free(X);
    gm_free(labels);
    return rc ? cli_fail(rc) : CLI_OK;
}

/* ---- genmix sample of a "gan-conv" checkpoint ---- */
static void sample_usage(FILE *f) {
    fprintf(f, "usage: genmix sample --model GAN.safetensors --n N --out samples.npy [--grid grid.png] [--seed S] [--raw]\n"
               "\n"
               "Conv GAN checkpoints of genmix train gan --data fashion-mnist: N images (N x 784 float32 in [0,1])\n"
               "from noise stream S of the model's seed (--seed 0 reproduces train gan --samples bit for bit).\n"
               "  --raw            the raw generator instead of its EMA\n"
               "  --grid FILE.png  (alias --plot) the first 64 samples as an 8 x 8 grid\n"
               "  --clf CLF        a genmix train classifier checkpoint: print the predicted-class histogram of\n"
               "                   the samples (fractions per class, its entropy in nats, classes holding >= 1%%)\n"
               "\n"
               "exit codes: 0 ok; 1 unreadable or foreign checkpoint, write failure; 2 usage.\n");
}

/* predicted-class histogram of n images x (n x 784 in [0, 1]) */
static int print_classes(gm_clf *clf, const float *x, long n) {
    uint8_t *pred = malloc((size_t)n);
    int rc = pred ? gm_clf_predict(clf, x, (size_t)n, pred) : GM_ENOMEM;
    if (!rc) {
        double h[10] = {0}, ent = 0;
        int used = 0;
        for (long i = 0; i < n; i++) h[pred[i] % 10] += 1.0 / (double)n;
        printf("classes");
        for (int k = 0; k < 10; k++) {
            printf(" %.4f", h[k]);
            if (h[k] > 0) ent -= h[k] * log(h[k]);
            used += h[k] >= 0.01;
        }
        printf("\nclass entropy %.4f nats (uniform %.4f), classes >= 1%%: %d\n", ent, log(10.0), used);
    }
    free(pred);
    return rc;
}

int cmd_sample_gan_conv(int argc, char **argv, const char *type) {
    (void)type;
    enum { O_MODEL = 1, O_N, O_SEED, O_OUT, O_GRID, O_RAW, O_CLF };
    static const struct option opts[] = {{"model", required_argument, 0, O_MODEL}, {"n", required_argument, 0, O_N},
                                         {"seed", required_argument, 0, O_SEED},   {"out", required_argument, 0, O_OUT},
                                         {"grid", required_argument, 0, O_GRID},   {"plot", required_argument, 0, O_GRID},
                                         {"raw", no_argument, 0, O_RAW},           {"clf", required_argument, 0, O_CLF},
                                         {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *cmd = "sample", *model = NULL, *out = NULL, *grid = NULL, *clfp = NULL;
    long n = 0;
    unsigned long long seed = 0;
    int raw = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_OUT: out = optarg; break;
        case O_GRID: grid = optarg; break;
        case O_RAW: raw = 1; break;
        case O_CLF: clfp = optarg; break;
        case O_N:
            if (cli_parse_long(optarg, &n) || n < 1 || n > 10000000) return cli_usage_error(cmd, "--n takes 1..1e7");
            break;
        case O_SEED:
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error(cmd, "--seed takes a non-negative integer");
            break;
        case 'h': sample_usage(stdout); return CLI_OK;
        default: return cli_bad_option(cmd, argv, "the options of this checkpoint type: genmix sample --model M --help");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model || !out || n < 1) return cli_usage_error(cmd, "--model, --n and --out are required");
    if (cli_check_output(cmd, "--out", out) || cli_check_output(cmd, "--grid", grid) || cli_check_input(cmd, "--clf", clfp))
        return CLI_ERR;
    if (cli_check_not_input(cmd, (cli_file[]){{"--out", out}, {"--grid", grid}, {0}}, (cli_file[]){{"--model", model}, {"--clf", clfp}, {0}})) return CLI_USAGE;
    gm_cgan *g = NULL;
    gm_clf *clf = NULL;
    int rc = gm_cgan_load(&g, model);
    if (!rc && clfp) rc = gm_clf_load(&clf, clfp);
    float *x = NULL;
    if (!rc && !(rc = write_samples(g, out, n, !raw, (uint64_t)seed, clf ? &x : NULL)))
        printf("samples %s (%ld x 784, gan-conv, stream %llu)\n", out, n, seed);
    if (!rc && clf) rc = print_classes(clf, x, n);
    free(x);
    if (!rc && grid) {
        float *xg = malloc(64 * 784 * sizeof(float));
        rc = xg ? gm_cgan_sample(g, xg, 64, !raw, (uint64_t)seed) : GM_ENOMEM;
        if (!rc) rc = gm_png_write_grid(grid, xg, n < 64 ? (size_t)n : 64, 1, 28, 28, 8, 2);
        if (!rc) printf("grid %s\n", grid);
        free(xg);
    }
    gm_cgan_free(g);
    gm_clf_free(clf);
    return rc ? cli_fail(rc) : CLI_OK;
}
