/* SPDX-License-Identifier: MIT */
/* cmd_train_flow_image.c — the Fashion-MNIST branch of `genmix train flow` (the multi-scale RealNVP of
 * genmix/prdiv.h, gm_iflow_*: options, progress on stderr, checkpoints, bitwise --resume, test-set bits/dim,
 * samples .npy and a PNG grid, --json), the "flow-image" branch of `genmix sample` and of `genmix flow logprob`.
 * Options and printing only. Thread safety: CLI, single call. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/fileio.h"
#include "genmix/io.h"
#include "genmix/prdiv.h"

/* 1 when a train flow command line is for the image flow: --data fashion-mnist, or --resume of a "flow-image"
 * checkpoint */
int cli_train_flow_is_image(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--data") && i + 1 < argc) v = argv[i + 1];
        else if (!strncmp(a, "--data=", 7)) v = a + 7;
        if (v && !strcmp(v, "fashion-mnist")) return 1;
        if (!strcmp(a, "--resume") && i + 1 < argc) {
            char mt[16], *av[3] = {"sample", "--model", argv[i + 1]};
            if (cli_sample_model_type(3, av, mt, sizeof mt) && !strcmp(mt, "flow-image")) return 1;
        }
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix train flow --data fashion-mnist --out CKPT.safetensors [options]\n"
            "\n"
            "Train a multi-scale RealNVP (Dinh et al. 2017) on Fashion-MNIST by maximum likelihood (or the PR-divergence,\n"
            "procedure B of the spec): pixels dequantised\n"
            "(x = (pixel + u)/256, u ~ U[0,1)) and mapped to logits y = logit(0.05 + 0.9 x); per scale K checkerboard\n"
            "couplings, squeeze, K channel couplings, half the channels factored out; then K checkerboard couplings.\n"
            "Each coupling's scale/shift: 3x3 conv net with residual blocks (SiLU), s = 2 tanh(raw), zero-initialised\n"
            "output. Reports bits/dim = -log p(x)/(784 ln 2) + 8 (train batches; the test set at the end).\n"
            "\n"
            "options:\n"
            "  --objective mle|pr    maximum likelihood (default), or the PR-divergence D_lambda by procedure B\n"
            "  --procedure B         pr: weighted MLE, w = f'(r) - f(r)/r with r from a chi2 conv critic (the only\n"
            "                        procedure for images)\n"
            "  --lambda L (1)  --pretrain N  MLE steps before the weighting (0)  --n-critic K  critic steps per step (1)\n"
            "  --critic-width W (16)  --lr-critic X (1e-3)   (the chi2 ratio is clamped to [0, 3.5]: lambda <= 0.29\n"
            "                        gives every row weight 0; genmix warns)\n"
            "  --iters N             Adam steps in total (2000)     --batch B (64)   --lr X (1e-3)\n"
            "  --scales L (2)  --couplings K (3)  --hidden H (32)  --res-blocks R (1)\n"
            "  --seed S              (0)\n"
            "  --out FILE            checkpoint written at the end and every --checkpoint-every N steps\n"
            "  --resume FILE         continue a run from its checkpoint (bitwise the same as not stopping)\n"
            "  --log-every N         progress line every N steps (50; 0 = none)\n"
            "  --test-n N            test images for the final bits/dim (10000; 0 = skip)\n"
            "  --samples FILE.npy    write --n-samples (1000) samples (N x 784 float32 in [0,1])\n"
            "  --grid FILE.png       8 x 8 grid of samples   --temperature T  of the samples' prior (1)\n"
            "  --json FILE           {model, objective, lambda, steps, train_bpd, test_bpd, test_n, seconds, seed}\n"
            "  --data-dir DIR        Fashion-MNIST idx files (" GM_FASHION_MNIST_DIR ")\n"
            "  --limit N             use the first N training images only\n"
            "\n"
            "exit codes: 0 ok; 1 run-time error (unreadable/foreign checkpoint, missing data, write failure);\n"
            "2 usage (unknown option, objective or procedure, lambda <= 0, missing --out); 3 the loss became NaN/Inf.\n");
}

static int write_grid(gm_iflow *f, const char *path, float temp, uint64_t stream) {
    float *x = malloc(64 * 784 * sizeof(float));
    int rc = x ? gm_iflow_sample(f, x, 64, temp, stream) : GM_ENOMEM;
    if (!rc) rc = gm_png_write_grid(path, x, 64, 1, 28, 28, 8, 2);
    free(x);
    return rc;
}

static int write_samples(gm_iflow *f, const char *path, long n, float temp, uint64_t stream) {
    float *x = malloc((size_t)n * 784 * sizeof(float));
    if (!x) return GM_ENOMEM;
    int rc = gm_iflow_sample(f, x, (size_t)n, temp, stream);
    if (!rc) rc = cli_write_samples(path, "flow-image", x, n, 784);
    free(x);
    return rc;
}

/* the checkpoint's images must be Fashion-MNIST's 1 x 28 x 28 */
static int check_shape(const gm_iflow *f, const char *what) {
    const gm_iflow_config *c = gm_iflow_get_config(f);
    if (c->channels != 1 || c->height != 28 || c->width != 28)
        GM_FAIL(GM_ESHAPE, "%s: the flow is for %zux%zux%zu images, the data are 1x28x28", what, c->channels, c->height,
                c->width);
    return GM_OK;
}

int train_flow_image(int argc, char **argv) {
    enum { O_OBJ = 256, O_DATA, O_ITERS, O_BATCH, O_LR, O_SCALES, O_COUP, O_HID, O_RES, O_SEED, O_OUT, O_RESUME,
           O_CKEV, O_LOG, O_TESTN, O_SAMPLES, O_NSAMP, O_GRID, O_TEMP, O_JSON, O_DDIR, O_LIMIT, O_PROC, O_LAM, O_PRE,
           O_NCRIT, O_CW, O_LRC };
    static const struct option lo[] = {
        {"objective", required_argument, 0, O_OBJ}, {"data", required_argument, 0, O_DATA},
        {"iters", required_argument, 0, O_ITERS},   {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR},         {"scales", required_argument, 0, O_SCALES},
        {"couplings", required_argument, 0, O_COUP}, {"hidden", required_argument, 0, O_HID},
        {"res-blocks", required_argument, 0, O_RES}, {"seed", required_argument, 0, O_SEED},
        {"out", required_argument, 0, O_OUT},       {"resume", required_argument, 0, O_RESUME},
        {"checkpoint-every", required_argument, 0, O_CKEV}, {"log-every", required_argument, 0, O_LOG},
        {"test-n", required_argument, 0, O_TESTN},  {"samples", required_argument, 0, O_SAMPLES},
        {"n-samples", required_argument, 0, O_NSAMP}, {"grid", required_argument, 0, O_GRID},
        {"temperature", required_argument, 0, O_TEMP}, {"json", required_argument, 0, O_JSON},
        {"data-dir", required_argument, 0, O_DDIR}, {"limit", required_argument, 0, O_LIMIT},
        {"procedure", required_argument, 0, O_PROC}, {"lambda", required_argument, 0, O_LAM},
        {"pretrain", required_argument, 0, O_PRE},  {"n-critic", required_argument, 0, O_NCRIT},
        {"critic-width", required_argument, 0, O_CW}, {"lr-critic", required_argument, 0, O_LRC},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *cmd = "train flow", *out = NULL, *resume = NULL, *samples = NULL, *grid = NULL, *json = NULL;
    const char *ddir = GM_FASHION_MNIST_DIR;
    gm_iflow_config c = gm_iflow_config_default();
    long iters = 2000, ckev = 0, log_every = 50, testn = 10000, nsamp = 1000, limit = 0;
    double temp = 1;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        long v;
        double d;
        unsigned long long u;
        switch (ch) {
        case 'h': usage(stdout); return CLI_OK;
        case O_OBJ:
            if (!strcmp(optarg, "mle")) c.objective = GM_FLOW_MLE;
            else if (!strcmp(optarg, "pr")) c.objective = GM_FLOW_PR;
            else return cli_usage_error(cmd, "--objective: unknown '%s' (mle|pr)", optarg);
            break;
        case O_PROC:
            if (strcmp(optarg, "B"))
                return cli_usage_error(cmd, "--procedure: '%s' is not available for fashion-mnist (B)", optarg);
            break;
        case O_DATA:
            if (strcmp(optarg, "fashion-mnist")) return cli_usage_error(cmd, "--data: unsupported '%s'", optarg);
            break;
        case O_LR:
        case O_TEMP:
        case O_LAM:
        case O_LRC:
            if (cli_parse_double(optarg, &d) || !isfinite(d) || !(ch == O_TEMP ? d >= 0 : d > 0))
                return cli_usage_error(cmd, "--%s: '%s' must be a number %s", lo[ch - O_OBJ].name, optarg,
                                       ch == O_TEMP ? ">= 0" : "> 0");
            if (ch == O_LR) c.lr = (float)d;
            if (ch == O_TEMP) temp = d;
            if (ch == O_LAM) c.lambda = (float)d;
            if (ch == O_LRC) c.lr_critic = (float)d;
            break;
        case O_PRE:
        case O_NCRIT:
        case O_CW:
            if (cli_parse_count(cmd, lo[ch - O_OBJ].name, optarg, ch == O_PRE ? 0 : 1, &v)) return CLI_USAGE;
            if (ch == O_PRE) c.pretrain = v;
            if (ch == O_NCRIT) {
                if (v > 100) return cli_usage_error(cmd, "--n-critic: %ld is out of range (1..100)", v);
                c.n_critic = (size_t)v;
            }
            if (ch == O_CW) c.critic_width = (size_t)v;
            break;
        case O_ITERS:
        case O_BATCH:
        case O_SCALES:
        case O_COUP:
        case O_HID:
        case O_RES:
        case O_CKEV:
        case O_LOG:
        case O_TESTN:
        case O_NSAMP:
        case O_LIMIT:
            if (cli_parse_count(cmd, lo[ch - O_OBJ].name, optarg,
                                ch == O_ITERS || ch == O_RES || ch == O_CKEV || ch == O_LOG || ch == O_TESTN ||
                                        ch == O_LIMIT || ch == O_SCALES ? 0 : 1,
                                &v))
                return CLI_USAGE;
            if (ch == O_ITERS) iters = v;
            if (ch == O_BATCH) c.batch = (size_t)v;
            if (ch == O_SCALES) {
                if (v > 2) return cli_usage_error(cmd, "--scales: %ld is too many for 28x28 images (0..2)", v);
                c.n_scales = (size_t)v;
            }
            if (ch == O_COUP) c.n_couplings = (size_t)v;
            if (ch == O_HID) c.hidden = (size_t)v;
            if (ch == O_RES) c.n_res = (size_t)v;
            if (ch == O_CKEV) ckev = v;
            if (ch == O_LOG) log_every = v;
            if (ch == O_TESTN) testn = v;
            if (ch == O_NSAMP) nsamp = v;
            if (ch == O_LIMIT) limit = v;
            break;
        case O_SEED:
            if (cli_parse_u64(optarg, &u)) return cli_usage_error(cmd, "--seed: '%s' is not a number", optarg);
            c.seed = u;
            break;
        case O_OUT: out = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_SAMPLES: samples = optarg; break;
        case O_GRID: grid = optarg; break;
        case O_JSON: json = optarg; break;
        case O_DDIR: ddir = optarg; break;
        default: return cli_bad_option(cmd, argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out CKPT.safetensors is required");
    if (cli_check_input(cmd, "--resume", resume) || cli_check_output(cmd, "--out", out) ||
        cli_check_output(cmd, "--samples", samples) || cli_check_output(cmd, "--grid", grid) ||
        cli_check_output(cmd, "--json", json))
        return CLI_ERR;
    /* --resume X --out X continues the checkpoint in place (as the other trainers); its other outputs may not be it */
    if (cli_check_distinct_outputs(cmd, (cli_file[]){{"--out", out}, {"--samples", samples}, {"--grid", grid}, {"--json", json}, {0}}))
        return CLI_USAGE;
    if (cli_check_not_input(cmd, (cli_file[]){{"--samples", samples}, {"--grid", grid}, {"--json", json}, {0}},
                            (cli_file[]){{"--resume", resume}, {0}}))
        return CLI_USAGE;
    gm_iflow *f = NULL;
    float *X = NULL, *Xt = NULL;
    uint8_t *labels = NULL, *lt = NULL;
    double *lp = NULL;
    size_t n = 0, nt = 0;
    int rc = resume ? gm_iflow_load(&f, resume) : gm_iflow_create(&f, &c);
    if (!rc) rc = check_shape(f, resume ? resume : "--data fashion-mnist");
    if (!rc) rc = cli_fashion_mnist(ddir, 1, &X, &labels, &n);
    if (!rc && limit > 0 && (size_t)limit < n) n = (size_t)limit;
    if (!rc) rc = gm_iflow_set_data(f, X, n);
    if (rc) goto done;
    const gm_iflow_config *fc = gm_iflow_get_config(f);
    if (fc->objective == GM_FLOW_PR && fc->lambda * 3.5f <= 1.0f)
        cli_warn(cmd, "lambda %g <= 1/3.5: the chi2 ratio is at most 3.5, so every row gets weight 0 after --pretrain",
                 (double)fc->lambda);
    char what[96] = "mle";
    if (fc->objective == GM_FLOW_PR)
        snprintf(what, sizeof what, "pr procedure B, lambda %g, pretrain %lld, n_critic %zu", (double)fc->lambda,
                 (long long)fc->pretrain, fc->n_critic);
    cli_progress("train flow: %s, fashion-mnist (%zu images), %zu scales x %zu couplings, hidden %zu, %zu res blocks, "
                 "batch %zu, step %lld -> %ld",
                 what, n, fc->n_scales, fc->n_couplings, fc->hidden, fc->n_res, fc->batch, (long long)gm_iflow_get_step(f), iters);
    double t0 = gm_time_now(), bpd = NAN, run = 0;
    int64_t s0 = gm_iflow_get_step(f);
    long nrun = 0;
    while (gm_iflow_get_step(f) < iters) {
        if ((rc = gm_iflow_step(f, &bpd))) goto done;
        run += bpd, nrun++;
        int64_t s = gm_iflow_get_step(f);
        if (log_every && (s % log_every == 0 || s == iters)) {
            float ld = 0, wz = 0;
            gm_iflow_pr_status(f, &ld, &wz);
            char pr[80] = "";
            if (fc->objective == GM_FLOW_PR)
                snprintf(pr, sizeof pr, "  critic loss %.4f  weight-0 rows %.0f%%", (double)ld, 100 * (double)wz);
            cli_progress("step %lld  bits/dim %.4f (mean of the last %ld batches)%s  %.3f s/it", (long long)s,
                         run / (double)nrun, nrun, pr, (gm_time_now() - t0) / (double)(s - s0));
            run = 0, nrun = 0;
        }
        if (ckev && s % ckev == 0 && s != iters) {
            if ((rc = gm_iflow_save(f, out))) goto done;
            if (grid && (rc = write_grid(f, grid, (float)temp, 1))) goto done;
        }
    }
    double secs = gm_time_now() - t0;
    if ((rc = gm_iflow_save(f, out))) goto done;
    printf("checkpoint %s (step %lld)\n", out, (long long)gm_iflow_get_step(f));
    double tbpd = NAN;
    if (testn > 0) {
        if ((rc = cli_fashion_mnist(ddir, 0, &Xt, &lt, &nt))) goto done;
        if ((size_t)testn < nt) nt = (size_t)testn;
        if (!(lp = malloc(nt * sizeof(double)))) {
            rc = GM_ENOMEM;
            goto done;
        }
        if ((rc = gm_iflow_logprob(f, Xt, nt, 0, lp))) goto done;
        double s = 0;
        for (size_t i = 0; i < nt; i++) s += lp[i];
        tbpd = gm_iflow_bits_per_dim(f, s / (double)nt);
        printf("test bits/dim %.4f (%zu test images, mean log p %.2f nats)\n", tbpd, nt, s / (double)nt);
    }
    if (grid) {
        if ((rc = write_grid(f, grid, (float)temp, 1))) goto done;
        printf("grid %s\n", grid);
    }
    if (samples) {
        if ((rc = write_samples(f, samples, nsamp, (float)temp, 0))) goto done;
        printf("samples %s (%ld x 784, temperature %g)\n", samples, nsamp, temp);
    }
    if (json) {
        char buf[512];
        int len = snprintf(buf, sizeof buf,
                           "{\"model\": \"flow-image\", \"objective\": \"%s\", \"lambda\": %g, \"steps\": %lld, "
                           "\"train_bpd\": %.6f, \"test_bpd\": %.6f, \"test_n\": %zu, \"train_seconds\": %.2f, \"seed\": %llu}\n",
                           fc->objective == GM_FLOW_PR ? "pr" : "mle", (double)fc->lambda, (long long)gm_iflow_get_step(f), isfinite(bpd) ? bpd : -1.0, isfinite(tbpd) ? tbpd : -1.0,
                           testn > 0 ? nt : 0, secs, (unsigned long long)fc->seed);
        if ((rc = gm_write_file_atomic(json, buf, (size_t)len))) goto done;
    }
done:
    gm_iflow_free(f);
    gm_free(X);
    gm_free(labels);
    gm_free(Xt);
    gm_free(lt);
    free(lp);
    return rc ? cli_fail(rc) : CLI_OK;
}

/* ---- genmix sample of a "flow-image" checkpoint ---- */
static void sample_usage(FILE *f) {
    fprintf(f, "usage: genmix sample --model FLOW.safetensors --n N --out samples.npy [--grid grid.png] [--seed S]\n"
               "                     [--temperature T]\n"
               "\n"
               "Image-flow checkpoints of genmix train flow --data fashion-mnist: N images (N x 784 float32 in [0,1]),\n"
               "z ~ N(0, T^2 I) from noise stream S of the model's seed, pushed through the inverse flow (--seed 0\n"
               "reproduces train flow --samples bit for bit).\n"
               "  --grid FILE.png  (alias --plot) the first 64 samples as an 8 x 8 grid\n"
               "  --temperature T  prior standard deviation (1; RealNVP papers show samples at T < 1 too)\n"
               "\n"
               "exit codes: 0 ok; 1 unreadable or foreign checkpoint, write failure; 2 usage.\n");
}

int cmd_sample_flow_image(int argc, char **argv, const char *type) {
    (void)type;
    enum { O_MODEL = 1, O_N, O_SEED, O_OUT, O_GRID, O_TEMP };
    static const struct option opts[] = {{"model", required_argument, 0, O_MODEL}, {"n", required_argument, 0, O_N},
                                         {"seed", required_argument, 0, O_SEED},   {"out", required_argument, 0, O_OUT},
                                         {"grid", required_argument, 0, O_GRID},   {"plot", required_argument, 0, O_GRID},
                                         {"temperature", required_argument, 0, O_TEMP},
                                         {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *cmd = "sample", *model = NULL, *out = NULL, *grid = NULL;
    long n = 0;
    unsigned long long seed = 0;
    double temp = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_OUT: out = optarg; break;
        case O_GRID: grid = optarg; break;
        case O_N:
            if (cli_parse_long(optarg, &n) || n < 1 || n > 10000000) return cli_usage_error(cmd, "--n takes 1..1e7");
            break;
        case O_SEED:
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error(cmd, "--seed takes a non-negative integer");
            break;
        case O_TEMP:
            if (cli_parse_double(optarg, &temp) || !isfinite(temp) || temp < 0)
                return cli_usage_error(cmd, "--temperature: '%s' must be a number >= 0", optarg);
            break;
        case 'h': sample_usage(stdout); return CLI_OK;
        default: return cli_bad_option(cmd, argv, "the options of this checkpoint type: genmix sample --model M --help");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model || !out || n < 1) return cli_usage_error(cmd, "--model, --n and --out are required");
    if (cli_check_output(cmd, "--out", out) || cli_check_output(cmd, "--grid", grid)) return CLI_ERR;
    if (cli_check_not_input(cmd, (cli_file[]){{"--out", out}, {"--grid", grid}, {0}}, (cli_file[]){{"--model", model}, {0}}))
        return CLI_USAGE;
    gm_iflow *f = NULL;
    int rc = gm_iflow_load(&f, model);
    if (!rc) rc = check_shape(f, model);
    if (!rc && !(rc = write_samples(f, out, n, (float)temp, (uint64_t)seed)))
        printf("samples %s (%ld x 784, flow-image, stream %llu, temperature %g)\n", out, n, seed, temp);
    if (!rc && grid && !(rc = write_grid(f, grid, (float)temp, (uint64_t)seed))) printf("grid %s\n", grid);
    gm_iflow_free(f);
    return rc ? cli_fail(rc) : CLI_OK;
}

/* ---- genmix flow logprob of a "flow-image" checkpoint ---- */
int cli_flow_logprob_image(const char *model, const char *xp, const char *out, unsigned long long stream) {
    gm_iflow *f = NULL;
    gm_array a;
    memset(&a, 0, sizeof a);
    double *lp = NULL;
    int rc = gm_npy_read(xp, &a);
    int64_t rows = a.ndim >= 1 ? a.shape[0] : 0, per = 1;
    for (int k = 1; !rc && k < a.ndim; k++) per *= a.shape[k];
    if (!rc && (a.ndim < 2 || a.ndim > 4 || per != 784 || rows < 1))
        rc = gm_set_error(GM_ESHAPE, "%s: the image flow needs N x 784 (or N x 28 x 28, N x 1 x 28 x 28) images, got rank %d "
                          "with %lld values per row", xp, a.ndim, (long long)per);
    if (!rc && a.dtype == GM_DTYPE_U8) { /* raw pixels 0..255 */
        if (!(rc = gm_array_convert(&a, GM_DTYPE_F32)))
            for (int64_t i = 0; i < rows * 784; i++) ((float *)a.data)[i] /= 255.0f;
    } else if (!rc)
        rc = gm_array_convert(&a, GM_DTYPE_F32);
    if (!rc && stream >= ((unsigned long long)1 << 24)) rc = gm_set_error(GM_EINVAL, "--stream %llu is out of range (< 2^24)", stream);
    if (!rc) rc = gm_iflow_load(&f, model);
    if (!rc) rc = check_shape(f, model);
    if (!rc && !(lp = malloc((size_t)rows * sizeof(double)))) rc = GM_ENOMEM;
    if (!rc) rc = gm_iflow_logprob(f, a.data, (size_t)rows, (uint64_t)stream, lp);
    if (!rc) {
        double s = 0;
        for (int64_t i = 0; i < rows; i++) s += lp[i];
        printf("mean log p %.9g nats, %.6f bits/dim (%lld images, dequantisation stream %llu)\n", s / (double)rows,
               gm_iflow_bits_per_dim(f, s / (double)rows), (long long)rows, stream);
        if (out && !(rc = gm_npy_write(out, GM_DTYPE_F64, 1, (int64_t[]){rows}, lp))) printf("log p %s\n", out);
    }
    gm_array_free(&a);
    free(lp);
    gm_iflow_free(f);
    return rc ? cli_fail(rc) : CLI_OK;
}
