/* SPDX-License-Identifier: MIT */
/* cmd_sample_ddpm.c — `genmix sample --model DIFFUSION.safetensors`: DDPM/DDIM(eta) samples of a diffusion
 * checkpoint from `genmix train ddpm` (the Fashion-MNIST U-Net or the 2-D toy MLP), as .npy and, for
 * images, a PNG grid. cmd_sample (cmd_ae.c) hands over when the checkpoint's model type is a diffusion
 * model. Options and printing only (numerics in src/diffusion/). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/diffusion.h"
#include "genmix/io.h"
#include "genmix/models.h"

/* 2 for a "ddpm-unet" checkpoint, 1 for "ddpm-mlp", 0 otherwise (including unreadable files: the other
 * loaders then report the error). */
int cli_diffusion_ckpt_kind(const char *path) {
    gm_checkpoint *c;
    if (gm_checkpoint_open(&c, path) != GM_OK) return 0;
    const char *m = gm_checkpoint_meta_get(c, "model");
    int r = !m ? 0 : !strcmp(m, "ddpm-unet") ? 2 : !strcmp(m, "ddpm-mlp") ? 1 : 0;
    gm_checkpoint_close(c);
    return r;
}

int sample_ddpm(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"n", required_argument, 0, 'n'},
                                         {"steps", required_argument, 0, 'S'}, {"eta", required_argument, 0, 'e'},
                                         {"spacing", required_argument, 0, 'p'}, {"seed", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},  {"grid", required_argument, 0, 'g'},
                                         {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    const char *model = NULL, *out = NULL, *grid = NULL;
    long n = 0, S = 100;
    double eta = 1.0;
    unsigned long long seed = 0;
    gm_spacing spacing = GM_SPACING_LEADING;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 'g': grid = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, &n) || n < 1 || n > 10000000) return cli_usage_error("sample", "--n takes 1..1e7");
            break;
        case 'S':
            if (cli_parse_long(optarg, &S) || S < 1 || S > 1000) return cli_usage_error("sample", "--steps takes 1..1000");
            break;
        case 'e':
            if (cli_parse_double(optarg, &eta) || !(eta >= 0 && eta <= 1)) return cli_usage_error("sample", "--eta takes a number in [0, 1]");
            break;
        case 'p':
            if (!strcmp(optarg, "leading")) spacing = GM_SPACING_LEADING;
            else if (!strcmp(optarg, "linspace")) spacing = GM_SPACING_LINSPACE;
            else return cli_usage_error("sample", "--spacing takes leading or linspace");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("sample", "--seed takes a non-negative integer");
            break;
        case 'h':
            printf("usage: genmix sample --model DIFFUSION.safetensors --n N --out samples.npy [--grid samples.png]\n\n"
                   "Samples of a diffusion model from genmix train ddpm by the DDIM(eta) sampler (eta = 1: DDPM).\n"
                   "Fashion-MNIST models write N x 784 float32 images mapped from [-1, 1] to [0, 1] (clipped);\n"
                   "toy models write N x 2 points. Sample k uses its own noise streams, so N changes sample k only\n"
                   "by float round-off (the network runs in batches).\n\n"
                   "  --steps S       sampler steps (default 100)\n"
                   "  --eta E         DDIM eta in [0, 1] (default 1)\n"
                   "  --spacing SP    leading (default; t = 991..1 for S = 100) or linspace\n"
                   "  --seed S        (default 0)\n"
                   "  --grid FILE.png first min(N, 64) images as an 8-column grid (images only)\n");
            return CLI_OK;
        default: return cli_bad_option("sample", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("sample", "unexpected argument '%s'", argv[optind]);
    if (!model || !out || n < 1) return cli_usage_error("sample", "--model, --n and --out are required");
    if (cli_check_output("sample", "--out", out) || cli_check_output("sample", "--grid", grid)) return CLI_ERR;
    if (cli_check_not_input("sample", (cli_file[]){{"--out", out}, {"--grid", grid}, {0}}, (cli_file[]){{"--model", model}, {0}})) return CLI_USAGE;
    gm_diff_schedule *sch = malloc(sizeof *sch);
    gm_diff_unet *u = NULL;
    gm_diff_mlp *mlp = NULL;
    float *x = NULL;
    int rc = sch ? gm_diff_schedule_init(sch, GM_BETA_LINEAR, 1000) : gm_set_error(GM_ENOMEM, "out of memory");
    gm_denoiser den;
    if (rc == GM_OK && gm_diff_unet_load(&u, model, sch) == GM_OK) den = gm_diff_unet_denoiser(u);
    else if (rc == GM_OK && (rc = gm_diff_mlp_load(&mlp, model, sch)) == GM_OK) den = gm_diff_mlp_denoiser(mlp);
    if (rc == GM_OK && grid && !u) rc = gm_set_error(GM_EINVAL, "--grid: %s is not an image model", model);
    size_t D = rc == GM_OK ? den.dim : 0;
    if (rc == GM_OK && !(x = malloc((size_t)n * D * sizeof(float))))
        rc = gm_set_error(GM_ENOMEM, "out of memory for %ld x %zu samples", n, D);
    double t0 = gm_time_now();
    if (rc == GM_OK) {
        cli_progress("sample: %ld samples, %ld steps, eta %g", n, S, eta);
        rc = gm_diff_sample(sch, &den, (int)S, eta, spacing, (size_t)n, seed, x);
    }
    double secs = gm_time_now() - t0;
    if (rc == GM_OK && u)
        for (size_t i = 0; i < (size_t)n * D; i++) x[i] = fminf(fmaxf(0.5f * (x[i] + 1.0f), 0.0f), 1.0f);
    int64_t shape[2] = {(int64_t)n, (int64_t)D};
    if (rc == GM_OK) rc = gm_npy_write(out, GM_DTYPE_F32, 2, shape, x);
    if (rc == GM_OK && grid) rc = gm_png_write_grid(grid, x, (size_t)(n < 64 ? n : 64), 1, 28, 28, 8, 2);
    if (rc == GM_OK)
        printf("sample: %ld samples from %s (%s), %ld steps, eta %g, %.2f s; wrote %s\n", n, model,
               u ? "ddpm-unet" : "ddpm-mlp", S, eta, secs, out);
    gm_diff_unet_free(u);
    gm_diff_mlp_free(mlp);
    free(sch);
    free(x);
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}
