/* SPDX-License-Identifier: MIT */
/* cmd_train_ddpm.c — `genmix train ddpm`: the 2-D toy diffusion model (MLP eps_theta([x, t/T]), eps-MSE,
 * Adam, EMA) on draws from a toy mixture, or the Fashion-MNIST U-Net; writes the EMA weights as
 * .safetensors for `genmix align --model` and `genmix sample`. Options and printing only (numerics in
 * src/diffusion/diff_mlp.c and diff_unet.c). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/diffusion.h"
#include "genmix/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix train ddpm --data toy:gmm1|toy:gmm2|fashion-mnist --out MODEL.safetensors [options]\n"
            "Train an eps-prediction DDPM (T = 1000, linear beta 1e-4..0.02); the EMA weights are written.\n"
            "  toy:*          2-D toy model (MLP [x, t/1000] -> H -> H -> 2, ReLU) on draws from the toy mixture\n"
            "  fashion-mnist  U-Net on the 60000 training images scaled to [-1, 1] (residual blocks, group norm,\n"
            "                 SiLU, sinusoidal time embedding; C, 2C, 2C channels at 28, 14, 7 pixels)\n"
            "options:\n"
            "  --points N      toy: training points drawn once from the mixture (default 100000)\n"
            "  --steps K       Adam steps (default 5000 toy, 20000 fashion-mnist)\n"
            "  --batch B       minibatch size (default 1024 toy, 64 fashion-mnist)\n"
            "  --lr LR         learning rate (default 1e-3 toy, 5e-4 fashion-mnist)\n"
            "  --hidden H      toy: hidden width (default 64)\n"
            "  --channels C    fashion-mnist: base channels, a multiple of 4 (default 16)\n"
            "  --source DIR    fashion-mnist: dataset directory (default /usr/share/datasets/fashion-mnist)\n"
            "  --ema D         EMA decay (default 0.995 toy, 0.999 fashion-mnist)\n"
            "  --seed S        seed (default 42)\n"
            "  --every K       checkpoint every K steps (default 500)\n"
            "  --resume        continue from OUT and OUT.train (written every --every steps and at the end) up to\n"
            "                  --steps; the result is bitwise the same as an uninterrupted run\n"
            "  -h, --help      this help\n"
            "Progress (stderr): step, loss, running loss, seconds.\n");
}

/* Fashion-MNIST U-Net: minibatches drawn with replacement (stream {GM_STREAM_DATA, 0}, position saved in
 * the training state), pixels scaled to [-1, 1]. */
static int train_unet(const char *out, const char *src, long steps, long batch, double lr, double ema, int channels,
                      long every, unsigned long long seed, int resume) {
    float *X = NULL, *xb = malloc((size_t)batch * 784 * sizeof(float));
    uint8_t *y = NULL;
    size_t n = 0;
    gm_diff_schedule *sch = malloc(sizeof *sch);
    gm_diff_unet *m = NULL;
    int rc = sch && xb ? GM_OK : gm_set_error(GM_ENOMEM, "out of memory");
    if (rc == GM_OK) rc = cli_fashion_mnist(src, 1, &X, &y, &n);
    if (rc == GM_OK) rc = gm_diff_schedule_init(sch, GM_BETA_LINEAR, 1000);
    if (rc == GM_OK) rc = gm_diff_unet_create(&m, channels, sch);
    char state[4200];
    snprintf(state, sizeof state, "%s.train", out);
    if (rc == GM_OK) {
        gm_diff_unet_init(m, seed);
        gm_rng r;
        gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_DATA, 0));
        int64_t s0 = 0;
        if (resume) {
            rc = gm_diff_unet_load_state(m, state, &s0, &r);
            if (rc == GM_OK) rc = gm_diff_unet_load_ema(m, out);
            if (rc == GM_OK && gm_diff_unet_channels(m) != channels) rc = gm_set_error(GM_EINVAL, "%s: --channels differs", state);
            if (rc == GM_OK) cli_progress("resuming at step %lld", (long long)s0);
        }
        if (rc == GM_OK && s0 >= steps)
            rc = gm_set_error(GM_EINVAL, "train ddpm: %s is already at step %lld >= --steps %ld", state, (long long)s0, steps);
        double t0 = gm_time_now(), avg = 0;
        long report = every < 100 ? every : 100;
        for (long s = (long)s0; s < steps && rc == GM_OK; s++) {
            for (long i = 0; i < batch; i++) {
                uint64_t j = gm_rng_below(&r, (uint64_t)n);
                for (int k = 0; k < 784; k++) xb[i * 784 + k] = 2.0f * X[j * 784 + (size_t)k] - 1.0f;
            }
            double loss;
            rc = gm_diff_unet_train_step(m, xb, (size_t)batch, (float)lr, (float)ema, seed, (uint64_t)s, &loss);
            avg = s > s0 ? 0.99 * avg + 0.01 * loss : loss;
            if (rc == GM_OK && !isfinite(loss)) rc = gm_set_error(GM_ENUMERIC, "train ddpm: loss is %g at step %ld", loss, s);
            if (rc == GM_OK && ((s + 1) % report == 0 || s + 1 == steps))
                cli_progress("step %ld loss %.4f (running %.4f) s %.1f", s + 1, loss, avg, gm_time_now() - t0);
            if (rc == GM_OK && ((s + 1) % every == 0 || s + 1 == steps)) {
                rc = gm_diff_unet_save_state(m, state, s + 1, seed, &r);
                if (rc == GM_OK) rc = gm_diff_unet_save(m, out, s + 1, seed, "fashion-mnist");
            }
        }
        if (rc == GM_OK)
            printf("ddpm: fashion-mnist, %ld steps, batch %ld, channels %d, running loss %.4f, %.1f s; wrote %s\n", steps, batch,
                   channels, avg, gm_time_now() - t0, out);
    }
    gm_diff_unet_free(m);
    gm_free(X);
    gm_free(y);
    free(sch);
    free(xb);
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}

int train_ddpm(int argc, char **argv) {
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},  {"out", required_argument, 0, 'o'},
                                         {"points", required_argument, 0, 'p'}, {"steps", required_argument, 0, 'k'},
                                         {"batch", required_argument, 0, 'b'},  {"lr", required_argument, 0, 'l'},
                                         {"hidden", required_argument, 0, 'H'}, {"ema", required_argument, 0, 'e'},
                                         {"seed", required_argument, 0, 's'},   {"help", no_argument, 0, 'h'},
                                         {"resume", no_argument, 0, 'r'},       {"channels", required_argument, 0, 'C'},
                                         {"source", required_argument, 0, 'S'}, {"every", required_argument, 0, 'E'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *out = NULL, *src = "/usr/share/datasets/fashion-mnist";
    long points = 100000, steps = -1, batch = -1, hidden = 64, channels = 16, every = 500;
    double lr = -1, ema = -1;
    unsigned long long seed = 42;
    int c, resume = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'p':
            if (cli_parse_long(optarg, &points) || points < 1) return cli_usage_error("train ddpm", "--points must be >= 1");
            break;
        case 'k':
            if (cli_parse_long(optarg, &steps) || steps < 1) return cli_usage_error("train ddpm", "--steps must be >= 1");
            break;
        case 'b':
            if (cli_parse_long(optarg, &batch) || batch < 1) return cli_usage_error("train ddpm", "--batch must be >= 1");
            break;
        case 'H':
            if (cli_parse_long(optarg, &hidden) || hidden < 1 || hidden > 4096)
                return cli_usage_error("train ddpm", "--hidden must be in 1..4096");
            break;
        case 'l':
            if (cli_parse_double(optarg, &lr) || !(lr > 0) || !isfinite(lr)) return cli_usage_error("train ddpm", "--lr must be > 0");
            break;
        case 'e':
            if (cli_parse_double(optarg, &ema) || !(ema >= 0 && ema < 1)) return cli_usage_error("train ddpm", "--ema must be in [0, 1)");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("train ddpm", "--seed must be a non-negative integer");
            break;
        case 'r': resume = 1; break;
        case 'C':
            if (cli_parse_long(optarg, &channels) || channels < 4 || channels > 256 || channels % 4)
                return cli_usage_error("train ddpm", "--channels must be a multiple of 4 in 4..256");
            break;
        case 'S': src = optarg; break;
        case 'E':
            if (cli_parse_long(optarg, &every) || every < 1) return cli_usage_error("train ddpm", "--every must be >= 1");
            break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_bad_option("train ddpm", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("train ddpm", "unexpected argument '%s'", argv[optind]);
    if (!data || !out) return cli_usage_error("train ddpm", "--data and --out are required");
    if (cli_check_output("train ddpm", "--out", out)) return CLI_ERR; /* before the first training step */
    int fm = !strcmp(data, "fashion-mnist");
    if (steps < 0) steps = fm ? 20000 : 5000;
    if (batch < 0) batch = fm ? 64 : 1024;
    if (lr < 0) lr = fm ? 5e-4 : 1e-3;
    if (ema < 0) ema = fm ? 0.999 : 0.995;
    if (fm) return train_unet(out, src, steps, batch, lr, ema, (int)channels, every, seed, resume);
    gm_gmm g;
    if (strncmp(data, "toy:", 4) || gm_gmm_toy(&g, data + 4) != GM_OK)
        return cli_usage_error("train ddpm", "unknown --data '%s' (toy:gmm1|toy:gmm2|fashion-mnist)", data);
    gm_diff_schedule *sch = malloc(sizeof *sch);
    float *x = malloc((size_t)points * 2 * sizeof(float)), *xb = malloc((size_t)batch * 2 * sizeof(float));
    gm_diff_mlp *m = NULL;
    int rc = sch && x && xb ? GM_OK : gm_set_error(GM_ENOMEM, "out of memory");
    if (rc == GM_OK) rc = gm_diff_schedule_init(sch, GM_BETA_LINEAR, 1000);
    if (rc == GM_OK) rc = gm_diff_mlp_create(&m, 2, (int)hidden, sch);
    char state[4200];
    snprintf(state, sizeof state, "%s.train", out);
    if (rc == GM_OK) {
        gm_gmm_sample(&g, (size_t)points, seed, x);
        gm_diff_mlp_init(m, seed);
        gm_rng r;
        gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_DATA, 0));
        int64_t s0 = 0;
        if (resume) {
            rc = gm_diff_mlp_load_state(m, state, &s0, &r);
            if (rc == GM_OK) rc = gm_diff_mlp_load_ema(m, out);
            if (rc == GM_OK) cli_progress("resuming at step %lld", (long long)s0);
        }
        double t0 = gm_time_now(), avg = 0;
        for (long s = (long)s0; s < steps && rc == GM_OK; s++) {
            for (long i = 0; i < batch; i++) {
                uint64_t j = gm_rng_below(&r, (uint64_t)points);
                xb[i * 2] = x[j * 2];
                xb[i * 2 + 1] = x[j * 2 + 1];
            }
            double loss;
            rc = gm_diff_mlp_train_step(m, xb, (size_t)batch, (float)lr, (float)ema, seed, (uint64_t)s, &loss);
            avg = s > s0 ? 0.99 * avg + 0.01 * loss : loss;
            if (rc == GM_OK && !isfinite(loss)) rc = gm_set_error(GM_ENUMERIC, "train ddpm: loss is %g at step %ld", loss, s);
            if (rc == GM_OK && ((s + 1) % every == 0 || s + 1 == steps)) {
                cli_progress("step %ld loss %.4f (running %.4f) s %.1f", s + 1, loss, avg, gm_time_now() - t0);
                /* training state first, then the EMA model: a crash in between leaves a resumable pair
                 * whose steps differ, which --resume would continue from the state's step */
                rc = gm_diff_mlp_save_state(m, state, s + 1, seed, &r);
                if (rc == GM_OK) rc = gm_diff_mlp_save(m, out, s + 1, seed, data);
            }
        }
        if (rc == GM_OK && s0 >= steps) rc = gm_set_error(GM_EINVAL, "train ddpm: %s is already at step %lld >= --steps %ld", state, (long long)s0, steps);
        if (rc == GM_OK) printf("ddpm: %ld steps, batch %ld, hidden %ld, running loss %.4f, %.1f s; wrote %s\n", steps, batch, hidden, avg,
                               gm_time_now() - t0, out);
    }
    gm_diff_mlp_free(m);
    gm_gmm_free(&g);
    free(sch);
    free(x);
    free(xb);
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}
