/* SPDX-License-Identifier: MIT */
/* cmd_sample_prdiv.c — the GAN and flow branch of `genmix sample` (2-D toy checkpoints of genmix train
 * gan|flow: samples as .npy, a scatter PNG over the data) and `genmix flow logprob` (exact log-density of
 * a RealNVP checkpoint at given points). Options and printing only; numerics are gm_gan_sample,
 * gm_flow_sample and gm_flow_logprob_eval. Owns nothing beyond one call. Thread safety: CLI, single call. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/models.h"
#include "genmix/prdiv.h"

/* 1 and the --model checkpoint's "model" metadata (e.g. "gan", "flow", "ddpm-unet") in type; 0 when argv names no
 * readable checkpoint with one (then genmix sample treats --model as an autoencoder). */
int cli_sample_model_type(int argc, char **argv, char *type, size_t len) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) path = argv[i + 1];
        else if (!strncmp(argv[i], "--model=", 8)) path = argv[i] + 8;
    }
    gm_checkpoint *ck = NULL;
    if (!path || gm_checkpoint_open(&ck, path)) {
        gm_clear_error();
        return 0;
    }
    const char *m = gm_checkpoint_meta_get(ck, "model");
    int ok = m && (size_t)snprintf(type, len, "%s", m) < len;
    gm_checkpoint_close(ck);
    return ok;
}

static void sample_usage(FILE *f) {
    fprintf(f, "usage: genmix sample --model CKPT.safetensors --n N --out samples.npy [--plot samples.png] [--seed S] [--raw]\n"
               "\n"
               "GAN and flow checkpoints of genmix train gan|flow (2-D toys): N samples (N x 2 float32 .npy) from\n"
               "the noise stream S of the model's seed. --seed 0 of a GAN reproduces train gan --samples, --seed 1\n"
               "of a flow reproduces train flow --samples (bit for bit).\n"
               "\n"
               "  --model FILE     checkpoint (model \"gan\" or \"flow\" in its metadata)\n"
               "  --n N            number of samples (1..1e7)\n"
               "  --seed S         noise stream (default 0)\n"
               "  --raw            GAN: the raw generator instead of its EMA\n"
               "  --out FILE.npy   samples;  --plot FILE.png (alias --grid)  scatter of the first 3000 over the data\n"
               "\n"
               "exit codes: 0 ok; 1 unreadable or foreign checkpoint, write failure; 2 usage.\n");
}

int cmd_sample_prdiv(int argc, char **argv, const char *type) {
    enum { O_MODEL = 1, O_N, O_SEED, O_OUT, O_PLOT, O_RAW };
    static const struct option opts[] = {{"model", required_argument, 0, O_MODEL}, {"n", required_argument, 0, O_N},
                                         {"seed", required_argument, 0, O_SEED},   {"out", required_argument, 0, O_OUT},
                                         {"plot", required_argument, 0, O_PLOT},   {"grid", required_argument, 0, O_PLOT},
                                         {"raw", no_argument, 0, O_RAW},           {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "sample", *model = NULL, *out = NULL, *plot = NULL;
    long n = 0;
    unsigned long long seed = 0;
    int raw = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_OUT: out = optarg; break;
        case O_PLOT: plot = optarg; break;
        case O_RAW: raw = 1; break;
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
    int is_gan = !strcmp(type, "gan");
    if (raw && !is_gan) return cli_usage_error(cmd, "--raw applies to GAN checkpoints only");
    if (cli_check_not_input(cmd, (cli_file[]){{"--out", out}, {"--plot", plot}, {0}}, (cli_file[]){{"--model", model}, {0}})) return CLI_USAGE;
    gm_gan *g = NULL;
    gm_flowtrain *f = NULL;
    float *x = malloc((size_t)n * 2 * sizeof(float));
    int rc = x ? GM_OK : GM_ENOMEM, toy = 0;
    uint64_t mseed = 0;
    char title[160];
    if (!rc && is_gan && !(rc = gm_gan_load(&g, model))) {
        const gm_gan_config *gc = gm_gan_get_config(g);
        toy = (int)gc->data, mseed = gc->seed;
        snprintf(title, sizeof title, "GAN %s (%s), lambda %g, step %lld", gm_gan_objective_name(gc->objective),
                 raw ? "raw" : "EMA", (double)gc->lambda, (long long)gm_gan_get_step(g));
        rc = gm_gan_sample(g, x, (size_t)n, !raw, (uint64_t)seed);
    } else if (!rc && !is_gan && !(rc = gm_flowtrain_load(&f, model))) {
        const gm_flowtrain_config *fc = gm_flowtrain_get_config(f);
        toy = (int)fc->data, mseed = fc->seed;
        snprintf(title, sizeof title, "flow %s, lambda %g, step %lld", fc->objective == GM_FLOW_MLE ? "mle" : "pr",
                 (double)fc->lambda, (long long)gm_flowtrain_get_step(f));
        rc = gm_flow_sample(gm_flowtrain_flow(f), x, (size_t)n, fc->seed, (uint64_t)seed);
    }
    if (!rc && !(rc = cli_write_samples(out, model, x, n, 2)))
        printf("samples %s (%ld x 2, %s, stream %llu)\n", out, n, type, seed);
    if (!rc && plot && !(rc = cli_toy_scatter(plot, title, toy, mseed, x, n < 3000 ? (size_t)n : 3000)))
        printf("plot %s\n", plot);
    free(x);
    gm_gan_free(g);
    gm_flowtrain_free(f);
    return rc ? cli_fail(rc) : CLI_OK;
}

/* ---- genmix flow logprob ---- */
static void flow_usage(FILE *f) {
    fprintf(f, "usage: genmix flow logprob --model FLOW.safetensors --x X.npy [--out LOGQ.npy] [--stream S]\n"
               "\n"
               "Exact log-density log q(x) (natural log) of a RealNVP checkpoint of genmix train flow at the rows\n"
               "of X (N x 2 float32/float64 .npy); writes N float64 values and prints their mean.\n"
               "Image flows (genmix train flow --data fashion-mnist): X holds N images (N x 784, N x 28 x 28 or\n"
               "N x 1 x 28 x 28; float values in [0,1] or uint8 pixels), dequantised with noise stream S (0 = the\n"
               "stream train flow's test bits/dim uses); log p is the density of the dequantised image on [0,1)^784 and\n"
               "the mean is also printed as bits/dim = -log p/(784 ln 2) + 8.\n"
               "\n"
               "exit codes: 0 ok; 1 unreadable/foreign checkpoint, X of the wrong shape, not finite or outside [0,1]\n"
               "(images); 2 usage.\n");
}

int cmd_flow(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        flow_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "logprob")) return cli_usage_error("flow", "unknown action '%s' (logprob)", argv[1]);
    argc--, argv++;
    enum { O_MODEL = 1, O_X, O_OUT, O_STREAM };
    static const struct option opts[] = {{"model", required_argument, 0, O_MODEL}, {"x", required_argument, 0, O_X},
                                         {"out", required_argument, 0, O_OUT},     {"stream", required_argument, 0, O_STREAM},
                                         {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    unsigned long long stream = 0;
    const char *cmd = "flow logprob", *model = NULL, *xp = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_X: xp = optarg; break;
        case O_OUT: out = optarg; break;
        case O_STREAM:
            if (cli_parse_u64(optarg, &stream)) return cli_usage_error(cmd, "--stream takes a non-negative integer");
            break;
        case 'h': flow_usage(stdout); return CLI_OK;
        default: return cli_bad_option(cmd, argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model || !xp) return cli_usage_error(cmd, "--model and --x are required");
    if (cli_check_input(cmd, "--model", model) || cli_check_input(cmd, "--x", xp) || cli_check_output(cmd, "--out", out))
        return CLI_ERR;
    if (cli_check_not_input(cmd, (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"--model", model}, {"--x", xp}, {0}})) return CLI_USAGE;
    {
        char mt[16], *av[3] = {"flow", "--model", (char *)model};
        if (cli_sample_model_type(3, av, mt, sizeof mt) && !strcmp(mt, "flow-image"))
            return cli_flow_logprob_image(model, xp, out, stream);
    }
    gm_flowtrain *f = NULL;
    gm_array a;
    memset(&a, 0, sizeof a);
    float *x = NULL;
    double *lq = NULL;
    int64_t rows = 0, cols = 0;
    int rc = gm_npy_read(xp, &a);
    if (!rc && (a.ndim != 2 || a.shape[1] != 2 || a.shape[0] < 1))
        rc = a.ndim == 2 ? gm_set_error(GM_EINVAL, "%s: shape (%lld, %lld), the flow needs N x 2 points", xp,
                                        (long long)a.shape[0], (long long)a.shape[1])
                         : gm_set_error(GM_EINVAL, "%s: a %d-D array, the flow needs N x 2 points", xp, a.ndim);
    if (!rc) rc = gm_array_convert(&a, GM_DTYPE_F32);
    if (!rc) x = a.data, rows = a.shape[0], cols = 2;
    for (int64_t i = 0; !rc && i < rows * cols; i++)
        if (!isfinite(x[i])) rc = gm_set_error(GM_EINVAL, "%s: value %lld is not finite", xp, (long long)i);
    if (!rc) rc = gm_flowtrain_load(&f, model);
    if (!rc && !(lq = malloc((size_t)rows * sizeof(double)))) rc = GM_ENOMEM;
    if (!rc) rc = gm_flow_logprob_eval(gm_flowtrain_flow(f), x, (size_t)rows, lq);
    if (!rc) {
        double s = 0;
        for (int64_t i = 0; i < rows; i++) s += lq[i];
        printf("mean log q %.9g (%lld points)\n", s / (double)rows, (long long)rows);
        if (out && !(rc = gm_npy_write(out, GM_DTYPE_F64, 1, (int64_t[]){rows}, lq))) printf("log q %s\n", out);
    }
    gm_array_free(&a);
    free(lq);
    gm_flowtrain_free(f);
    return rc ? cli_fail(rc) : CLI_OK;
}
