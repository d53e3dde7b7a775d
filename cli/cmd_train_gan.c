/* SPDX-License-Identifier: MIT */
/* cmd_train_gan.c — `genmix train gan`: the PR-divergence GAN recipe of spec §2.2 (and the χ²/KL/rKL
 * f-GAN, hinge and PR-dual baselines) on 2-D toys through the gm_gan state machine of genmix/prdiv.h:
 * options, progress on stderr, checkpoints, bitwise --resume, samples (.npy) and a scatter PNG.
 * Options and printing only. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/plot.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix train gan --out CKPT.safetensors [options]\n"
            "\n"
            "Train an MLP GAN on a 2-D toy with the PR-divergence generator loss (Verine et al. 2023) or a\n"
            "baseline: n-critic chi2 critic steps per generator step, Adam (beta1 0), EMA of the generator,\n"
            "spectral normalisation of every critic layer.\n"
            "\n"
            "options:\n"
            "  --objective NAME      pr (default) | chi2 | kl | rkl | hinge | pr-dual | pr-kl (the PR loss on the\n"
            "                        ratio e^(v-1) of a KL critic, spec 1.5; pre-training then uses the KL f-GAN) |\n"
            "                        pr-nofloor (genmix variant, not the released code: the PR loss on the chi2\n"
            "                        ratio without its lower clamp for fakes, r = min(v,5)/2+1, so fakes at\n"
            "                        v <= -2 are still pushed; chi2 critic unchanged)\n"
            "  --lambda L            trade-off > 0 (1): large = precision, small = recall\n"
            "  --data NAME           toy:8gaussians (default) | toy:25gaussians | toy:8gaussians-wide (sigma 0.2) |\n"
            "                        fashion-mnist (the conv GAN: genmix train gan --data fashion-mnist --help)\n"
            "  --iters N             generator steps in total (2000)\n"
            "  --batch B (128)  --n-critic K (4)  --hidden H (128)  --dim-z Z (8)\n"
            "  --lr-g X, --lr-d X    learning rates (2e-4)\n"
            "  --ema-decay X (0.999) --ema-start N (500)   --no-sn  no spectral normalisation\n"
            "  --pretrain N          first N generator steps use the f-GAN loss of the critic (chi2; kl for\n"
            "                        pr-kl), then --objective (0)\n"
            "  --critic-gain G       critic output = G * MLP(x) (1, the spec); with spectral norm the critic is\n"
            "                        G-Lipschitz (see docs/pr_divergence.md: a 1-Lipschitz critic on a 2-D toy\n"
            "                        gives the PR loss no gradient at large lambda)\n"
            "  --seed S              (0)\n"
            "  --out FILE            checkpoint written at the end and every --checkpoint-every N steps\n"
            "  --resume FILE         continue a run from its checkpoint (bitwise the same as not stopping);\n"
            "                        the model options are taken from the checkpoint, except that an explicit\n"
            "                        --objective, --lambda, --n-critic, --lr-g or --lr-d replaces the\n"
            "                        checkpoint's from its step on (fine-tuning one pre-trained run with\n"
            "                        several lambda)\n"
            "  --log-every N         progress line every N steps (100; 0 = none)\n"
            "  --samples FILE.npy    write --n-samples (10000) samples of the EMA generator\n"
            "  --plot FILE.png       scatter of EMA samples over the data (rewritten at each checkpoint)\n"
            "  --data-samples FILE.npy  also write --n-samples points of the data set (seeded by --seed; for\n"
            "                        genmix eval / pr-curve)\n"
            "\n"
            "exit codes: 0 ok; 1 run-time error (unreadable/foreign checkpoint, write failure); 2 usage (unknown\n"
            "option, objective or data set, lambda <= 0, missing --out); 3 a loss became NaN/Inf.\n");
}

int cli_write_samples(const char *path, const char *what, const float *x, long n, long d) {
    for (long i = 0; i < n * d; i++)
        if (!isfinite(x[i])) return gm_set_error(GM_ENUMERIC, "%s: sample %ld is not finite", what, i / d);
    return gm_npy_write(path, GM_DTYPE_F32, 2, (int64_t[]){n, d}, x);
}

int cli_toy_scatter(const char *path, const char *title, int toy, uint64_t seed, const float *x, size_t n) {
    float *r = malloc(n * 2 * sizeof(float));
    double *px = malloc(n * 2 * sizeof(double));
    gm_plot *p = NULL;
    int rc = GM_ENOMEM;
    if (!r || !px) goto out;
    gm_toy_sample((gm_toy)toy, r, n, seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)6 << 32) + 1));
    if ((rc = gm_plot_create(&p, title, "x1", "x2"))) goto out;
    gm_plot_set_xrange(p, -3, 3);
    gm_plot_set_yrange(p, -3, 3);
    double *py = px + n;
    for (size_t i = 0; i < n; i++) px[i] = r[2 * i], py[i] = r[2 * i + 1];
    if ((rc = gm_plot_points(p, px, py, n, "data"))) goto out;
    for (size_t i = 0; i < n; i++) px[i] = x[2 * i], py[i] = x[2 * i + 1];
    if ((rc = gm_plot_points(p, px, py, n, "model"))) goto out;
    rc = gm_plot_write_png(p, path, 600, 600);
out:
    gm_plot_free(p);
    free(r);
    free(px);
    return rc;
}

static int write_plot(gm_gan *g, const char *path, size_t n) {
    float *x = malloc(n * 2 * sizeof(float));
    if (!x) return GM_ENOMEM;
    const gm_gan_config *c = gm_gan_get_config(g);
    int rc = gm_gan_sample(g, x, n, 1, 1);
    char title[160];
    snprintf(title, sizeof title, "GAN %s (EMA), lambda %g, step %lld", gm_gan_objective_name(c->objective),
             (double)c->lambda, (long long)gm_gan_get_step(g));
    if (!rc) rc = cli_toy_scatter(path, title, (int)c->data, c->seed, x, n);
    free(x);
    return rc;
}

int cli_gan_parse_real(const char *cmd, const char *opt, const char *s, int is_decay, double *d) {
    if (cli_parse_double(s, d) || !isfinite(*d)) return cli_usage_error(cmd, "--%s: '%s' is not a number", opt, s);
    if ((is_decay && !(*d >= 0 && *d < 1)) || (!is_decay && !(*d > 0)))
        return cli_usage_error(cmd, "--%s: %g is out of range (%s)", opt, *d, is_decay ? "[0, 1)" : "must be > 0");
    return CLI_OK;
}

void cli_gan_progress(const gm_gan_status *st, const char *speed_fmt, double speed) {
    char sp[64];
    snprintf(sp, sizeof sp, speed_fmt, speed);
    cli_progress("step %lld  L_D %.4f  L_G %.4f  alpha^ %.3f  beta^ %.3f  acc real %.0f%% fake %.0f%%  "
                 "fakes: v<=-2 %.0f%% PR-grad %.0f%% v q05/50/95 %.2f/%.2f/%.2f  %s",
                 (long long)st->step, (double)st->loss_d, (double)st->loss_g, (double)st->alpha_hat, (double)st->beta_hat,
                 (double)st->acc_real, (double)st->acc_fake, 100.0 * (double)st->frac_clamped, 100.0 * (double)st->frac_active,
                 (double)st->vf_q05, (double)st->vf_median, (double)st->vf_q95, sp);
}

int train_gan(int argc, char **argv) {
    if (cli_train_gan_is_conv(argc, argv)) return train_gan_conv(argc, argv); /* Fashion-MNIST: cmd_train_gan_conv.c */
    enum { O_OBJ = 256, O_LAM, O_DATA, O_ITERS, O_BATCH, O_NCRIT, O_HID, O_DIMZ, O_LRG, O_LRD, O_EMAD, O_EMAS,
           O_NOSN, O_SEED, O_OUT, O_RESUME, O_CKEV, O_LOG, O_SAMPLES, O_NSAMP, O_PLOT, O_DSAMP, O_PRE, O_GAIN };
    static const struct option lo[] = {
        {"objective", required_argument, 0, O_OBJ}, {"lambda", required_argument, 0, O_LAM},
        {"data", required_argument, 0, O_DATA},     {"iters", required_argument, 0, O_ITERS},
        {"batch", required_argument, 0, O_BATCH},   {"n-critic", required_argument, 0, O_NCRIT},
        {"hidden", required_argument, 0, O_HID},    {"dim-z", required_argument, 0, O_DIMZ},
        {"lr-g", required_argument, 0, O_LRG},      {"lr-d", required_argument, 0, O_LRD},
        {"ema-decay", required_argument, 0, O_EMAD}, {"ema-start", required_argument, 0, O_EMAS},
        {"no-sn", no_argument, 0, O_NOSN},          {"seed", required_argument, 0, O_SEED},
        {"out", required_argument, 0, O_OUT},       {"resume", required_argument, 0, O_RESUME},
        {"checkpoint-every", required_argument, 0, O_CKEV}, {"log-every", required_argument, 0, O_LOG},
        {"samples", required_argument, 0, O_SAMPLES}, {"n-samples", required_argument, 0, O_NSAMP},
        {"plot", required_argument, 0, O_PLOT},     {"data-samples", required_argument, 0, O_DSAMP},
        {"pretrain", required_argument, 0, O_PRE},  {"critic-gain", required_argument, 0, O_GAIN},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = "train gan", *out = NULL, *resume = NULL, *samples = NULL, *plot = NULL, *dsamples = NULL;
    gm_gan_config c = gm_gan_config_default();
    long iters = 2000, ckev = 0, log_every = 100, nsamp = 10000;
    int ch, set_ft = 0; /* fine-tuning options given (bits: objective, lambda, n-critic, lr-g, lr-d) */
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        long v;
        double d;
        unsigned long long u;
        switch (ch) {
        case 'h': usage(stdout); return CLI_OK;
        case O_OBJ: {
            int o = gm_gan_objective_from_name(optarg);
            if (o < 0) return cli_usage_error(cmd, "--objective: unknown '%s' (pr|chi2|kl|rkl|hinge|pr-dual|pr-kl|pr-nofloor)", optarg);
            c.objective = (gm_gan_objective)o;
            set_ft |= 1;
            break;
        }
        case O_DATA: {
            int t = gm_toy_from_name(optarg);
            if (t < 0) return cli_usage_error(cmd, "--data: unsupported '%s' (toy:8gaussians|toy:25gaussians|toy:8gaussians-wide)", optarg);
            c.data = (gm_toy)t;
            break;
        }
        case O_LAM:
        case O_GAIN:
        case O_LRG:
        case O_LRD:
        case O_EMAD:
            if (cli_gan_parse_real(cmd, lo[ch - O_OBJ].name, optarg, ch == O_EMAD, &d)) return CLI_USAGE;
            if (ch == O_LAM) c.lambda = (float)d, set_ft |= 2;
            if (ch == O_LRG) c.lr_g = (float)d, set_ft |= 8;
            if (ch == O_LRD) c.lr_d = (float)d, set_ft |= 16;
            if (ch == O_EMAD) c.ema_decay = (float)d;
            if (ch == O_GAIN) {
                if (d > 1e6) return cli_usage_error(cmd, "--critic-gain: %g is out of range (0, 1e6]", d);
                c.critic_gain = (float)d;
            }
            break;
        case O_ITERS:
        case O_BATCH:
        case O_NCRIT:
        case O_HID:
        case O_DIMZ:
        case O_EMAS:
        case O_CKEV:
        case O_LOG:
        case O_NSAMP:
        case O_PRE:
            if (cli_parse_count(cmd, lo[ch - O_OBJ].name, optarg, ch == O_EMAS || ch == O_CKEV || ch == O_LOG || ch == O_PRE || ch == O_ITERS ? 0 : 1, &v))
                return CLI_USAGE;
            if (ch == O_ITERS) iters = v;
            if (ch == O_BATCH) c.batch = (size_t)v;
            if (ch == O_NCRIT) c.n_critic = (size_t)v, set_ft |= 4;
            if (ch == O_HID) c.hidden = (size_t)v;
            if (ch == O_DIMZ) c.dim_z = (size_t)v;
            if (ch == O_EMAS) c.ema_start = v;
            if (ch == O_CKEV) ckev = v;
            if (ch == O_LOG) log_every = v;
            if (ch == O_NSAMP) nsamp = v;
            if (ch == O_PRE) c.pretrain = v;
            break;
        case O_NOSN: c.spectral_norm = 0; break;
        case O_SEED:
            if (cli_parse_u64(optarg, &u)) return cli_usage_error(cmd, "--seed: '%s' is not a number", optarg);
            c.seed = u;
            break;
        case O_OUT: out = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_SAMPLES: samples = optarg; break;
        case O_PLOT: plot = optarg; break;
        case O_DSAMP: dsamples = optarg; break;
        default: return cli_bad_option(cmd, argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out CKPT.safetensors is required");
    /* every file named, before the first training step (the output rule of genmix/fileio.h) */
    if (cli_check_input(cmd, "--resume", resume) || cli_check_output(cmd, "--out", out) ||
        cli_check_output(cmd, "--samples", samples) || cli_check_output(cmd, "--plot", plot) ||
        cli_check_output(cmd, "--data-samples", dsamples))
        return CLI_ERR;
    if (cli_check_distinct_outputs(cmd, (cli_file[]){{"--out", out}, {"--samples", samples}, {"--plot", plot}, {"--data-samples", dsamples}, {0}}))
        return CLI_USAGE;
    if (cli_check_not_input(cmd, (cli_file[]){{"--samples", samples}, {"--plot", plot}, {"--data-samples", dsamples}, {0}}, (cli_file[]){{"--resume", resume}, {0}})) return CLI_USAGE;
    gm_gan *g = NULL;
    int rc = resume ? gm_gan_load(&g, resume) : gm_gan_create(&g, &c);
    if (rc) return cli_fail(rc);
    if (resume && set_ft) { /* fine-tuning: the explicit options replace the checkpoint's */
        gm_gan_config fc = *gm_gan_get_config(g);
        if (set_ft & 1) fc.objective = c.objective;
        if (set_ft & 2) fc.lambda = c.lambda;
        if (set_ft & 4) fc.n_critic = c.n_critic;
        if (set_ft & 8) fc.lr_g = c.lr_g;
        if (set_ft & 16) fc.lr_d = c.lr_d;
        if ((rc = gm_gan_reconfigure(g, &fc))) {
            gm_gan_free(g);
            return cli_fail(rc);
        }
    }
    const gm_gan_config *gc = gm_gan_get_config(g);
    cli_progress("train gan: %s, lambda %g, %s, step %lld -> %ld", gm_gan_objective_name(gc->objective),
                 (double)gc->lambda, gm_toy_name(gc->data), (long long)gm_gan_get_step(g), iters);
    double t0 = gm_time_now();
    gm_gan_status st;
    memset(&st, 0, sizeof st);
    while (gm_gan_get_step(g) < iters) {
        if ((rc = gm_gan_step(g, &st))) goto done;
        int64_t s = st.step;
        if (log_every && (s % log_every == 0 || s == iters))
            cli_gan_progress(&st, "%.1f it/s", (double)s / (gm_time_now() - t0 + 1e-9));
        if (ckev && s % ckev == 0 && s != iters) {
            if ((rc = gm_gan_save(g, out))) goto done;
            if (plot && (rc = write_plot(g, plot, 2000))) goto done;
        }
    }
    if ((rc = gm_gan_save(g, out))) goto done;
    printf("checkpoint %s (step %lld)\n", out, (long long)gm_gan_get_step(g));
    if (plot) {
        if ((rc = write_plot(g, plot, 2000))) goto done;
        printf("plot %s\n", plot);
    }
    if (samples) {
        float *x = malloc((size_t)nsamp * 2 * sizeof(float));
        if (!x) {
            rc = GM_ENOMEM;
            goto done;
        }
        rc = gm_gan_sample(g, x, (size_t)nsamp, 1, 0);
        if (!rc) rc = gm_npy_write(samples, GM_DTYPE_F32, 2, (int64_t[]){nsamp, 2}, x);
        free(x);
        if (rc) goto done;
        printf("samples %s (%ld x 2)\n", samples, nsamp);
    }
    if (dsamples) {
        float *x = malloc((size_t)nsamp * 2 * sizeof(float));
        if (!x) {
            rc = GM_ENOMEM;
            goto done;
        }
        gm_toy_sample(gc->data, x, (size_t)nsamp, gc->seed, gm_rng_stream_id(GM_STREAM_EVAL, (uint64_t)6 << 32));
        rc = gm_npy_write(dsamples, GM_DTYPE_F32, 2, (int64_t[]){nsamp, 2}, x);
        free(x);
        if (rc) goto done;
        printf("data samples %s (%ld x 2)\n", dsamples, nsamp);
    }
done:
    gm_gan_free(g);
    return rc ? cli_fail(rc) : CLI_OK;
}
