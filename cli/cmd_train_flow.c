/* SPDX-License-Identifier: MIT */
/* cmd_train_flow.c — `genmix train flow`: a RealNVP flow on a 2-D toy by maximum likelihood or by the
 * PR-divergence (procedure C: known target density; B: weighted MLE; A: adversarial) through the gm_flowtrain state
 * machine of genmix/prdiv.h; progress, checkpoints, --resume, samples, a scatter PNG and the exact-density
 * α_λ/β_λ at the end. Options and printing only. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix train flow --out CKPT.safetensors [options]\n"
            "\n"
            "Train a RealNVP flow (affine couplings, tanh-bounded log-scales) on a 2-D toy.\n"
            "\n"
            "options:\n"
            "  --objective mle|pr    maximum likelihood, or the PR-divergence D_lambda (default pr)\n"
            "  --procedure C|B|A     pr: C = pathwise on the known target density (default), B = weighted MLE,\n"
            "                        A = adversarial (chi2 critic, the PR generator loss through the flow's samples)\n"
            "  --n-critic K          procedure A: critic steps per step, also during --pretrain (4)\n"
            "  --lambda L            > 0 (1)      --pretrain N  MLE steps before the PR objective (500)\n"
            "  --data NAME           toy:8gaussians (default) | toy:25gaussians | toy:8gaussians-wide (sigma 0.2) |\n"
            "                        fashion-mnist (the multi-scale image flow: genmix train flow --data fashion-mnist --help)\n"
            "  --iters N (2000)  --batch B (256)  --lr X (1e-3)  --layers K (6)  --hidden H (64)  --seed S (0)\n"
            "  --out FILE            checkpoint (written at the end)   --resume FILE  continue a run\n"
            "  --log-every N         progress every N steps (100; 0 = none)\n"
            "  --samples FILE.npy    --n-samples N (10000) samples of the flow   --plot FILE.png  scatter\n"
            "  --eval-n N            samples per side of the exact-density alpha/beta printed at the end (20000)\n"
            "\n"
            "exit codes: 0 ok; 1 run-time error (unreadable or foreign checkpoint); 2 usage (unknown option,\n"
            "objective, procedure or data set, lambda <= 0, missing --out); 3 the loss became NaN/Inf.\n");
}

int train_flow(int argc, char **argv) {
    enum { O_OBJ = 256, O_PROC, O_LAM, O_DATA, O_ITERS, O_BATCH, O_LR, O_LAYERS, O_HID, O_PRE, O_SEED, O_OUT,
           O_RESUME, O_LOG, O_SAMPLES, O_NSAMP, O_PLOT, O_EVALN, O_NCRIT };
    static const struct option lo[] = {
        {"objective", required_argument, 0, O_OBJ}, {"procedure", required_argument, 0, O_PROC},
        {"lambda", required_argument, 0, O_LAM},    {"data", required_argument, 0, O_DATA},
        {"iters", required_argument, 0, O_ITERS},   {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR},         {"layers", required_argument, 0, O_LAYERS},
        {"hidden", required_argument, 0, O_HID},    {"pretrain", required_argument, 0, O_PRE},
        {"seed", required_argument, 0, O_SEED},     {"out", required_argument, 0, O_OUT},
        {"resume", required_argument, 0, O_RESUME}, {"log-every", required_argument, 0, O_LOG},
        {"samples", required_argument, 0, O_SAMPLES}, {"n-samples", required_argument, 0, O_NSAMP},
        {"plot", required_argument, 0, O_PLOT},     {"eval-n", required_argument, 0, O_EVALN},
        {"n-critic", required_argument, 0, O_NCRIT},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    if (cli_train_flow_is_image(argc, argv)) return train_flow_image(argc, argv); /* Fashion-MNIST: cmd_train_flow_image.c */
    const char *cmd = "train flow", *out = NULL, *resume = NULL, *samples = NULL, *plot = NULL;
    gm_flowtrain_config c = gm_flowtrain_config_default();
    long iters = 2000, log_every = 100, nsamp = 10000, evaln = 20000;
    int ch;
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
            if (strcmp(optarg, "A") && strcmp(optarg, "B") && strcmp(optarg, "C"))
                return cli_usage_error(cmd, "--procedure: unknown '%s' (C|B|A)", optarg);
            c.procedure = optarg[0];
            break;
        case O_DATA: {
            int t = gm_toy_from_name(optarg);
            if (t < 0) return cli_usage_error(cmd, "--data: unsupported '%s' (toy:8gaussians|toy:25gaussians|toy:8gaussians-wide)", optarg);
            c.data = (gm_toy)t;
            break;
        }
        case O_LAM:
        case O_LR:
            if (cli_parse_double(optarg, &d) || !isfinite(d) || !(d > 0))
                return cli_usage_error(cmd, "--%s: '%s' must be a number > 0", lo[ch - O_OBJ].name, optarg);
            if (ch == O_LAM) c.lambda = (float)d;
            else c.lr = (float)d;
            break;
        case O_ITERS:
        case O_BATCH:
        case O_LAYERS:
        case O_HID:
        case O_PRE:
        case O_LOG:
        case O_NSAMP:
        case O_EVALN:
        case O_NCRIT:
            if (cli_parse_count(cmd, lo[ch - O_OBJ].name, optarg, ch == O_PRE || ch == O_LOG || ch == O_EVALN ? 0 : 1, &v))
                return CLI_USAGE;
            if (ch == O_ITERS) iters = v;
            if (ch == O_BATCH) c.batch = (size_t)v;
            if (ch == O_LAYERS) c.n_layers = (size_t)v;
            if (ch == O_HID) c.hidden = (size_t)v;
            if (ch == O_PRE) c.pretrain = v;
            if (ch == O_LOG) log_every = v;
            if (ch == O_NSAMP) nsamp = v;
            if (ch == O_EVALN) evaln = v;
            if (ch == O_NCRIT) {
                if (v > 100) return cli_usage_error(cmd, "--n-critic: %ld is out of range (1..100)", v);
                c.n_critic = (size_t)v;
            }
            break;
        case O_SEED:
            if (cli_parse_u64(optarg, &u)) return cli_usage_error(cmd, "--seed: '%s' is not a number", optarg);
            c.seed = u;
            break;
        case O_OUT: out = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_SAMPLES: samples = optarg; break;
        case O_PLOT: plot = optarg; break;
        default: return cli_bad_option(cmd, argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out CKPT.safetensors is required");
    /* every file named, before the first training step (the output rule of genmix/fileio.h) */
    if (cli_check_input(cmd, "--resume", resume) || cli_check_output(cmd, "--out", out) ||
        cli_check_output(cmd, "--samples", samples) || cli_check_output(cmd, "--plot", plot))
        return CLI_ERR;
    if (cli_check_distinct_outputs(cmd, (cli_file[]){{"--out", out}, {"--samples", samples}, {"--plot", plot}, {0}})) return CLI_USAGE;
    if (cli_check_not_input(cmd, (cli_file[]){{"--samples", samples}, {"--plot", plot}, {0}}, (cli_file[]){{"--resume", resume}, {0}})) return CLI_USAGE;
    gm_flowtrain *f = NULL;
    int rc = resume ? gm_flowtrain_load(&f, resume) : gm_flowtrain_create(&f, &c);
    if (rc) return cli_fail(rc);
    const gm_flowtrain_config *fc = gm_flowtrain_get_config(f);
    cli_progress("train flow: %s%s%c, lambda %g, %s, step %lld -> %ld", fc->objective == GM_FLOW_MLE ? "mle" : "pr",
                 fc->objective == GM_FLOW_MLE ? "" : " procedure ", fc->objective == GM_FLOW_MLE ? ' ' : fc->procedure,
                 (double)fc->lambda, gm_toy_name(fc->data), (long long)gm_flowtrain_get_step(f), iters);
    double t0 = gm_time_now(), loss = 0;
    float *x = NULL;
    while (gm_flowtrain_get_step(f) < iters) {
        if ((rc = gm_flowtrain_step(f, &loss))) goto done;
        int64_t s = gm_flowtrain_get_step(f);
        if (log_every && (s % log_every == 0 || s == iters))
            cli_progress("step %lld  loss %.5f  %.1f it/s", (long long)s, loss, (double)s / (gm_time_now() - t0 + 1e-9));
    }
    if ((rc = gm_flowtrain_save(f, out))) goto done;
    printf("checkpoint %s (step %lld)\n", out, (long long)gm_flowtrain_get_step(f));
    gm_flow *fl = gm_flowtrain_flow(f);
    if (evaln > 0) {
        double lam[7] = {0.1, 0.2, 0.5, 1, 2, 5, 10}, a[7], ap[7], aq[7];
        if ((rc = gm_flow_toy_alpha(fl, fc->data, lam, 7, (size_t)evaln, fc->seed, a, ap, aq))) goto done;
        printf("exact-density PR curve (%ld samples per side)\n%8s %10s %10s %10s %10s %10s\n", evaln, "lambda", "alpha",
               "beta", "D_lambda", "alpha_P", "alpha_Q");
        for (int l = 0; l < 7; l++)
            printf("%8g %10.5f %10.5f %10.5f %10.5f %10.5f\n", lam[l], a[l], a[l] / lam[l], gm_prdiv_from_alpha(lam[l], a[l]),
                   ap[l], aq[l]);
    }
    size_t n = (size_t)nsamp;
    if (samples || plot) {
        x = malloc(n * 2 * sizeof(float));
        if (!x) {
            rc = GM_ENOMEM;
            goto done;
        }
        if ((rc = gm_flow_sample(fl, x, n, fc->seed, 1))) goto done;
    }
    if (samples) {
        if ((rc = gm_npy_write(samples, GM_DTYPE_F32, 2, (int64_t[]){(int64_t)n, 2}, x))) goto done;
        printf("samples %s (%zu x 2)\n", samples, n);
    }
    if (plot) {
        char title[160];
        snprintf(title, sizeof title, "flow %s, lambda %g, step %lld", fc->objective == GM_FLOW_MLE ? "mle" : "pr",
                 (double)fc->lambda, (long long)gm_flowtrain_get_step(f));
        if ((rc = cli_toy_scatter(plot, title, (int)fc->data, fc->seed, x, n < 3000 ? n : 3000))) goto done;
        printf("plot %s\n", plot);
    }
done:
    free(x);
    gm_flowtrain_free(f);
    return rc ? cli_fail(rc) : CLI_OK;
}
