/* SPDX-License-Identifier: MIT */
/* cmd_ae.c — generative autoencoders and latent MCMC on the command line:
 *   genmix train vae|dvae|aae|daae ...   (train_ae, dispatched from cmd_train.c's table)
 *   genmix sample --model M --n N [--mcmc-steps T] ...
 *   genmix interpolate --model M ...
 * (Small local .npy writer and PNG grid writer until the io/plot modules are merged.) */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "genmix/ae.h"
#include "genmix/io.h"
#include "genmix/mcmc.h"
#include "genmix/rng.h"


/* Comma-separated increasing step list "0,1,5,10". */
static int parse_steps(const char *s, size_t *out, size_t max, size_t *n) {
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || *n >= max || (*n && (size_t)v <= out[*n - 1])) return -1;
        out[(*n)++] = (size_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return *n ? 0 : -1;
}

/* ---- genmix train vae|dvae|aae|daae ------------------------------------------------------------- */

static void train_progress(void *ctx, int64_t epoch, int64_t step, const gm_ae_stats *m, double ips, int final) {
    const gm_ae_config *c = ctx;
    if (c->type == GM_AE_VAE || c->type == GM_AE_DVAE)
        cli_progress("epoch %lld step %lld loss %.3f rec %.3f kl %.3f images/s %.0f%s", (long long)epoch + 1,
                     (long long)step, m->loss, m->rec, m->kl, ips, final ? " (epoch done)" : "");
    else
        cli_progress("epoch %lld step %lld loss %.3f rec %.3f adv %.3f disc %.3f images/s %.0f%s", (long long)epoch + 1,
                     (long long)step, m->loss, m->rec, m->adv, m->disc, ips, final ? " (epoch done)" : "");
}

int train_ae(int argc, char **argv) {
    const char *name = argv[0];
    int type = gm_ae_type_from_name(name);
    if (type < 0) return cli_usage_error("train", "unknown autoencoder '%s'", name);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "train %s", name);
    gm_ae_config cfg = gm_ae_config_default((gm_ae_type)type);
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},       {"data-dir", required_argument, 0, 'D'},
        {"out", required_argument, 0, 'o'},        {"latent", required_argument, 0, 'z'},
        {"hidden", required_argument, 0, 'H'},     {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'},      {"lr", required_argument, 0, 'l'},
        {"beta1", required_argument, 0, '1'},      {"beta", required_argument, 0, 'B'},
        {"sigma-c", required_argument, 0, 'c'},    {"lambda-adv", required_argument, 0, 'a'},
        {"likelihood", required_argument, 0, 'L'}, {"dec-sigma", required_argument, 0, 'g'},
        {"arch", required_argument, 0, 'A'},       {"seed", required_argument, 0, 's'},
        {"resume", no_argument, 0, 'r'},           {"limit", required_argument, 0, 'n'},
        {"stop-after", required_argument, 0, 'S'}, {"json", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    const char *data = "fashion-mnist", *dir = "/usr/share/datasets/fashion-mnist", *out = NULL, *json = NULL;
    unsigned long long seed = 42;
    long limit = 0, stop_after = 0;
    int resume = 0, c;
    const char *setting = NULL; /* the last model/training setting given (--resume takes them from the checkpoint) */
    long epochs_given = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        double x;
        if (strchr("zHe1bBcalLgAs", c)) {
            for (const struct option *o = opts; o->name; o++)
                if (o->val == c) setting = o->name;
        }
        switch (c) {
        case 'd': data = optarg; break;
        case 'D': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'j': json = optarg; break;
        case 'r': resume = 1; break;
        case 'z':
            if (cli_parse_long(optarg, &v) || v < 1 || v > 4096) return cli_usage_error(cmd, "--latent takes 1..4096");
            cfg.latent_dim = (size_t)v;
            break;
        case 'H': {
            long h0, h1;
            char *comma = strchr(optarg, ',');
            if (!comma) return cli_usage_error(cmd, "--hidden takes two widths, e.g. 512,256");
            *comma = '\0';
            if (cli_parse_long(optarg, &h0) || cli_parse_long(comma + 1, &h1) || h0 < 1 || h1 < 1 || h0 > 65536 ||
                h1 > 65536)
                return cli_usage_error(cmd, "--hidden takes two positive widths, e.g. 512,256");
            cfg.hidden[0] = (size_t)h0, cfg.hidden[1] = (size_t)h1;
            break;
        }
        case 'e':
            if (cli_parse_range(cmd, "--epochs", optarg, 1, 10000, &v)) return CLI_USAGE;
            cfg.epochs = epochs_given = v;
            break;
        case 'b':
            if (cli_parse_long(optarg, &v) || v < 1 || v > 65536) return cli_usage_error(cmd, "--batch takes 1..65536");
            cfg.batch = (size_t)v;
            break;
        case 'l':
            if (cli_parse_drange(cmd, "--lr", optarg, 0, 10, 1, &x)) return CLI_USAGE;
            cfg.lr = x;
            break;
        case '1':
            if (cli_parse_double(optarg, &x) || !(x >= 0 && x < 1)) return cli_usage_error(cmd, "--beta1 takes [0, 1)");
            cfg.beta1 = x;
            break;
        case 'B':
            if (cli_parse_double(optarg, &x) || !(x >= 0)) return cli_usage_error(cmd, "--beta takes a number >= 0");
            cfg.beta = x;
            break;
        case 'c':
            if (cli_parse_double(optarg, &x) || !(x >= 0 && x < 100)) return cli_usage_error(cmd, "--sigma-c takes a number in [0, 100)");
            cfg.sigma_c = x;
            break;
        case 'a':
            if (cli_parse_double(optarg, &x) || !(x >= 0)) return cli_usage_error(cmd, "--lambda-adv takes a number >= 0");
            cfg.lambda_adv = x;
            break;
        case 'L':
            if (!strcmp(optarg, "bernoulli")) cfg.gaussian = 0;
            else if (!strcmp(optarg, "gaussian")) cfg.gaussian = 1;
            else return cli_usage_error(cmd, "--likelihood takes bernoulli or gaussian");
            break;
        case 'g':
            if (cli_parse_double(optarg, &x) || !(x > 0)) return cli_usage_error(cmd, "--dec-sigma takes a positive number");
            cfg.dec_sigma = x;
            break;
        case 'A':
            if (!strcmp(optarg, "mlp")) cfg.conv = 0;
            else if (!strcmp(optarg, "conv")) cfg.conv = 1;
            else return cli_usage_error(cmd, "--arch takes mlp or conv");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error(cmd, "--seed takes a non-negative integer");
            break;
        case 'n':
            if (cli_parse_long(optarg, &v) || v < 1) return cli_usage_error(cmd, "--limit takes a positive integer");
            limit = v;
            break;
        case 'S':
            if (cli_parse_long(optarg, &v) || v < 1) return cli_usage_error(cmd, "--stop-after takes a positive integer");
            stop_after = v;
            break;
        case 'h':
            printf("usage: genmix train %s --data fashion-mnist --latent D --out model.safetensors [options]\n\n"
                   "Trains the %s model (MLP encoder/decoder 784-H0-H1-D, ReLU;\n%s) with Adam and writes a\n"
                   "checkpoint (weights, Adam state, config) after every epoch; --resume continues exactly.\n\n"
                   "  --data NAME          dataset (only fashion-mnist)\n"
                   "  --data-dir DIR       IDX files (default %s)\n"
                   "  --out FILE           checkpoint (required)\n"
                   "  --latent D           latent dimension (default %zu)\n"
                   "  --hidden H0,H1       hidden widths (default %zu,%zu; with --arch conv: channels, e.g. 32,64)\n"
                   "  --epochs E           (default %lld)   --batch B (default %zu)\n"
                   "  --lr LR              Adam learning rate (default %g)   --beta1 B1 (default %g)\n"
                   "  --likelihood L       bernoulli (pixel BCE, default) or gaussian (--dec-sigma S, default %g)\n"
                   "  --beta B             KL weight of the VAE types (default 1)\n"
                   "  --sigma-c S          input corruption std of the denoising types (default 0.5; no clipping)\n"
                   "  --lambda-adv L       adversarial weight of the AAE types (default 1)\n"
                   "  --arch mlp|conv      MLP (default) or conv: 4x4 stride-2 convs 1->H0->H1 (28->14->7), linear\n"
                   "                       to the code; mirrored transposed convs in the decoder\n"
                   "  --seed S             initialisation, data order and noise (default 42)\n"
                   "  --resume             continue from --out (settings taken from the checkpoint)\n"
                   "  --limit N            only the first N training images\n"
                   "  --stop-after K       stop after K epochs of this invocation (simulates an interruption)\n"
                   "  --json FILE          final losses and timing as JSON\n",
                   name, name,
                   type == GM_AE_VAE    ? "loss: BCE + KL"
                   : type == GM_AE_DVAE ? "encoder sees x + sigma_c N(0,I); loss: BCE on clean x + KL"
                   : type == GM_AE_AAE  ? "latent discriminator d-256-256-1 matches codes to N(0,I)"
                                        : "corrupted inputs + latent discriminator",
                   dir, cfg.latent_dim, cfg.hidden[0], cfg.hidden[1], (long long)cfg.epochs, cfg.batch, cfg.lr,
                   cfg.beta1, cfg.dec_sigma);
            return CLI_OK;
        default: return cli_bad_option(cmd, argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out is required");
    if (strcmp(data, "fashion-mnist")) return cli_usage_error(cmd, "--data: only 'fashion-mnist' is supported");

    if ((!resume && cli_check_output(cmd, "--out", out)) || cli_check_output(cmd, "--json", json)) return CLI_ERR;
    if (resume && cli_check_input(cmd, "--out (with --resume)", out)) return CLI_ERR;
    if (cli_check_distinct_outputs(cmd, (cli_file[]){{"--out", resume ? NULL : out}, {"--json", json}, {0}})) return CLI_USAGE;
    if (resume && cli_check_not_input(cmd, (cli_file[]){{"--json", json}, {0}}, (cli_file[]){{"--out (with --resume)", out}, {0}}))
        return CLI_USAGE;
    float *X = NULL;
    uint8_t *y = NULL;
    size_t n = 0;
    gm_ae *ae = NULL;
    int rc;
    if (resume) { /* the checkpoint before the data: a conflicting option fails before any work */
        if ((rc = gm_ae_load(&ae, out))) goto fail;
        const gm_ae_config *cc = gm_ae_get_config(ae);
        if (cc->type != (gm_ae_type)type) {
            rc = gm_set_error(GM_EINVAL, "%s: holds a %s, not a %s", out, gm_ae_type_name(cc->type), name);
            goto fail;
        }
        if (setting && !(strcmp(setting, "epochs") == 0 && epochs_given == cc->epochs)) {
            int code = cli_usage_error(cmd,
                                       "--%s with --resume: the run continues with the checkpoint's own settings "
                                       "(%lld epochs, batch %zu, lr %g); omit --%s or start a new --out",
                                       setting, (long long)cc->epochs, cc->batch, cc->lr, setting);
            gm_ae_free(ae);
            return code;
        }
        cli_progress("resuming %s at epoch %lld (step %lld) of %lld", out, (long long)gm_ae_epoch(ae),
                     (long long)gm_ae_step_count(ae), (long long)cc->epochs);
    }
    rc = cli_fashion_mnist(dir, 1, &X, &y, &n);
    if (rc) goto fail;
    if (limit > 0 && (size_t)limit < n) n = (size_t)limit;
    if (!resume && (rc = gm_ae_create(&ae, &cfg, seed))) goto fail;
    gm_ae_config ccopy = *gm_ae_get_config(ae);
    double t0 = gm_time_now();
    long done = 0;
    gm_ae_stats last;
    memset(&last, 0, sizeof last);
    while (gm_ae_epoch(ae) < ccopy.epochs && (!stop_after || done < stop_after)) {
        if ((rc = gm_ae_train_epoch(ae, X, n, train_progress, &ccopy, 100))) goto fail;
        if ((rc = gm_ae_save(ae, out))) goto fail;
        done++;
    }
    double secs = gm_time_now() - t0;
    if (done)
        printf("%s: %lld epochs (%lld steps), latent %zu, %.1f s this run, wrote %s\n", name, (long long)gm_ae_epoch(ae),
               (long long)gm_ae_step_count(ae), ccopy.latent_dim, secs, out);
    else
        printf("%s: %s already has all %lld epochs, nothing trained\n", name, out, (long long)gm_ae_epoch(ae));
    if (json) {
        char buf[512];
        int len = snprintf(buf, sizeof buf,
                           "{\"model\": \"%s\", \"checkpoint\": \"%s\", \"epochs\": %lld, \"steps\": %lld, "
                           "\"latent\": %zu, \"train_seconds\": %.2f, \"seed\": %llu}\n",
                           name, out, (long long)gm_ae_epoch(ae), (long long)gm_ae_step_count(ae), ccopy.latent_dim,
                           secs, (unsigned long long)gm_ae_seed(ae));
        if ((rc = gm_write_file_atomic(json, buf, (size_t)len))) goto fail;
    }
    gm_ae_free(ae);
    gm_free(X), gm_free(y);
    return CLI_OK;
fail:
    gm_ae_free(ae);
    gm_free(X), gm_free(y);
    return cli_fail(rc);
}

/* ---- genmix sample ------------------------------------------------------------------------------ */

static int parse_mode(const char *s, int *mode) {
    if (!strcmp(s, "mean")) *mode = 0;
    else if (!strcmp(s, "sample")) *mode = 1;
    else return -1;
    return 0;
}

static int sample_diffusion(int argc, char **argv, const char *model) {
    (void)model;
    return sample_ddpm(argc, argv);
}

/* genmix sample of the other model families, by the "model" metadata of the --model checkpoint */
static const struct {
    const char *model;
    int (*run)(int argc, char **argv, const char *model);
} samplers[] = {{"gan", cmd_sample_prdiv}, {"flow", cmd_sample_prdiv}, {"ddpm-unet", sample_diffusion},
                {"ddpm-mlp", sample_diffusion}, {"gan-conv", cmd_sample_gan_conv},
                {"flow-image", cmd_sample_flow_image}};

int cmd_sample(int argc, char **argv) {
    { /* model-type dispatch on the checkpoint's metadata; an autoencoder (or no metadata) stays here */
        char mt[16];
        if (cli_sample_model_type(argc, argv, mt, sizeof mt))
            for (size_t i = 0; i < sizeof samplers / sizeof samplers[0]; i++)
                if (!strcmp(mt, samplers[i].model)) return samplers[i].run(argc, argv, mt);
    }
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"n", required_argument, 0, 'n'},
        {"mcmc-steps", required_argument, 0, 'T'}, {"record", required_argument, 0, 'R'},
        {"decode", required_argument, 0, 'd'}, {"encode", required_argument, 0, 'e'},
        {"corrupt", required_argument, 0, 'c'}, {"z0-std", required_argument, 0, 'z'},
        {"seed", required_argument, 0, 's'},   {"out", required_argument, 0, 'o'},
        {"grid", required_argument, 0, 'g'},   {"latents", required_argument, 0, 'Z'},
        {"json", required_argument, 0, 'j'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *out = NULL, *grid = NULL, *zout = NULL, *json = NULL;
    long n = 0, T = 0;
    int dec = 0, enc = 1, have_corrupt = 0, c;
    double corrupt = 0, z0 = 1.0;
    unsigned long long seed = 0;
    size_t rec[64], nrec = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 'g': grid = optarg; break;
        case 'Z': zout = optarg; break;
        case 'j': json = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, &n) || n < 1 || n > 10000000) return cli_usage_error("sample", "--n takes 1..1e7");
            break;
        case 'T':
            if (cli_parse_long(optarg, &T) || T < 0 || T > 1000000) return cli_usage_error("sample", "--mcmc-steps takes 0..1e6");
            break;
        case 'R':
            if (parse_steps(optarg, rec, 64, &nrec)) return cli_usage_error("sample", "--record takes increasing steps, e.g. 0,1,5,10");
            break;
        case 'd':
            if (parse_mode(optarg, &dec)) return cli_usage_error("sample", "--decode takes mean or sample");
            break;
        case 'e':
            if (parse_mode(optarg, &enc)) return cli_usage_error("sample", "--encode takes mean or sample");
            break;
        case 'c':
            if (cli_parse_double(optarg, &corrupt) || !(corrupt >= 0 && corrupt < 100)) return cli_usage_error("sample", "--corrupt takes a number >= 0");
            have_corrupt = 1;
            break;
        case 'z':
            if (cli_parse_double(optarg, &z0) || !(z0 >= 0 && z0 < 1e6)) return cli_usage_error("sample", "--z0-std takes a number >= 0");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("sample", "--seed takes a non-negative integer");
            break;
        case 'h':
            printf("usage: genmix sample --model M.safetensors --n N [options] --out samples.npy [--grid samples.png]\n\n"
                   "Draws z_0 ~ N(0, z0_std^2 I), runs the latent decode->encode Markov chain for T steps and writes\n"
                   "the decoder means (N x 784 float32 .npy). With --record, one set per listed step\n"
                   "(R x N x 784). Every chain has its own random stream: results do not depend on --threads.\n\n"
                   "  --model FILE        autoencoder checkpoint from genmix train vae|dvae|aae|daae\n"
                   "  --n N               number of samples (chains)\n"
                   "  --mcmc-steps T      chain steps (default 0: plain prior sampling)\n"
                   "  --record LIST       write the samples after these steps instead, e.g. 0,1,5,10\n"
                   "  --decode MODE       mean (default, as all public code) or sample (paper eq. 1)\n"
                   "  --encode MODE       sample (default) or mean; AAE encoders are deterministic\n"
                   "  --corrupt SIGMA     corruption std inside the chain (default: the model's training\n"
                   "                      sigma_c, i.e. 0.5 for dvae/daae and 0 otherwise)\n"
                   "  --z0-std S          std of the starting codes (default 1)\n"
                   "  --seed S            (default 0)\n"
                   "  --out FILE.npy      samples;  --latents FILE.npy  final codes (N x d)\n"
                   "  --grid FILE.png     first min(N, 64) samples of the last recorded step as an 8-column grid (N columns if N < 8)\n"
                   "  --json FILE         chain diagnostics\n\n"
                   "GAN, flow and diffusion checkpoints (genmix train gan|flow|ddpm) take other options:\n"
                   "genmix sample --model THAT.safetensors --help lists them.\n");
            return CLI_OK;
        default: return cli_bad_option("sample", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("sample", "unexpected argument '%s'", argv[optind]);
    if (!model || !out || n < 1) return cli_usage_error("sample", "--model, --n and --out are required");
    if (nrec == 0) rec[nrec++] = (size_t)T;
    else if (T != 0 && (size_t)T != rec[nrec - 1]) return cli_usage_error("sample", "--mcmc-steps must equal the last --record step");
    if (cli_check_input("sample", "--model", model) || cli_check_output("sample", "--out", out) ||
        cli_check_output("sample", "--grid", grid) || cli_check_output("sample", "--latents", zout) ||
        cli_check_output("sample", "--json", json))
        return CLI_ERR;
    if (cli_check_not_input("sample",
                            (cli_file[]){{"--out", out}, {"--grid", grid}, {"--latents", zout}, {"--json", json}, {0}},
                            (cli_file[]){{"--model", model}, {0}}))
        return CLI_USAGE;

    gm_ae *ae = NULL;
    gm_latent_mcmc *s = NULL;
    float *x = NULL;
    int rc = gm_ae_load(&ae, model);
    if (rc) return cli_fail(rc);
    const gm_ae_config *ac = gm_ae_get_config(ae);
    if (ac->data_dim != 784) {
        rc = gm_set_error(GM_EINVAL, "%s: data dimension %zu, not 784 (28x28 images)", model, ac->data_dim);
        goto done;
    }
    gm_ae_model m;
    gm_ae_as_model(ae, &m);
    gm_latent_mcmc_config mc = gm_latent_mcmc_config_default();
    mc.n_chains = (size_t)n;
    mc.dec_mode = dec ? GM_LATENT_DECODE_SAMPLE : GM_LATENT_DECODE_MEAN;
    mc.enc_mode = enc ? GM_LATENT_ENCODE_SAMPLE : GM_LATENT_ENCODE_MEAN;
    mc.corrupt_sigma = have_corrupt ? corrupt : ac->sigma_c;
    mc.z0_std = z0;
    mc.seed = seed;
    if ((rc = gm_latent_mcmc_create(&s, &mc, &m))) goto done;
    x = malloc(nrec * (size_t)n * 784 * sizeof(float));
    if (!x) {
        rc = gm_set_error(GM_ENOMEM, "out of memory for %zu x %ld images", nrec, n);
        goto done;
    }
    cli_progress("sample: %ld chains, steps up to %zu (%s decode, %s encode, corrupt %g)", n, rec[nrec - 1],
                 dec ? "sampled" : "mean", enc ? "sampled" : "mean", mc.corrupt_sigma);
    double t0 = gm_time_now();
    if ((rc = gm_latent_mcmc_run(s, rec, nrec, x))) goto done;
    double secs = gm_time_now() - t0;
    {
        /* (n, 784) for one recorded step, else (steps, n, 784) */
        int64_t shape[3] = {(int64_t)nrec, (int64_t)n, 784};
        rc = nrec == 1 ? gm_npy_write(out, GM_DTYPE_F32, 2, shape + 1, x) : gm_npy_write(out, GM_DTYPE_F32, 3, shape, x);
        if (rc) goto done;
        int64_t zshape[2] = {(int64_t)n, (int64_t)ac->latent_dim};
        if (zout && (rc = gm_npy_write(zout, GM_DTYPE_F32, 2, zshape, gm_latent_mcmc_z(s)))) goto done;
    }
    /* last recorded step, up to 64 images, 8 columns, 2-pixel gray border */
    if (grid && (rc = gm_png_write_grid(grid, x + (nrec - 1) * (size_t)n * 784, (size_t)(n < 64 ? n : 64), 1, 28, 28, 8,
                                        2)))
        goto done;
    gm_latent_mcmc_stats st = gm_latent_mcmc_get_stats(s);
    printf("sample: %ld samples from %s (%s), steps %zu, E||z_t - z_0||^2 %.4f, E||z_t|| %.4f, %.2f s; wrote %s\n", n,
           model, gm_ae_type_name(ac->type), st.t, st.drift_sq, st.norm_mean, secs, out);
    if (json) {
        char buf[768];
        int len = snprintf(buf, sizeof buf,
                           "{\"model\": \"%s\", \"type\": \"%s\", \"n\": %ld, \"steps\": %zu, \"decode\": \"%s\", "
                           "\"encode\": \"%s\", \"corrupt\": %.17g, \"z0_std\": %.17g, \"seed\": %llu, "
                           "\"step_sq\": %.17g, \"drift_sq\": %.17g, \"norm_mean\": %.17g, \"norm_max\": %.17g, "
                           "\"seconds\": %.3f}\n",
                           model, gm_ae_type_name(ac->type), n, st.t, dec ? "sample" : "mean", enc ? "sample" : "mean",
                           mc.corrupt_sigma, z0, seed, st.step_sq, st.drift_sq, st.norm_mean, st.norm_max, secs);
        rc = gm_write_file_atomic(json, buf, (size_t)len);
    }
done:
    free(x);
    gm_latent_mcmc_free(s);
    gm_ae_free(ae);
    return rc ? cli_fail(rc) : CLI_OK;
}

/* ---- genmix interpolate ------------------------------------------------------------------------- */

int cmd_interpolate(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"a", required_argument, 0, 'a'},
        {"b", required_argument, 0, 'b'},       {"points", required_argument, 0, 'p'},
        {"record", required_argument, 0, 'R'},  {"linear", no_argument, 0, 'l'},
        {"decode", required_argument, 0, 'd'},  {"encode", required_argument, 0, 'e'},
        {"corrupt", required_argument, 0, 'c'}, {"seed", required_argument, 0, 's'},
        {"data-dir", required_argument, 0, 'D'}, {"out", required_argument, 0, 'o'},
        {"npy", required_argument, 0, 'N'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *out = NULL, *npy = NULL, *dir = "/usr/share/datasets/fashion-mnist";
    long ia = 0, ib = 1, points = 10;
    int lin = 0, dec = 0, enc = 1, have_corrupt = 0, c;
    double corrupt = 0;
    unsigned long long seed = 0;
    size_t rec[16] = {0, 1, 5, 10}, nrec = 4;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 'N': npy = optarg; break;
        case 'D': dir = optarg; break;
        case 'l': lin = 1; break;
        case 'a':
            if (cli_parse_long(optarg, &ia) || ia < 0) return cli_usage_error("interpolate", "--a takes a test-image index");
            break;
        case 'b':
            if (cli_parse_long(optarg, &ib) || ib < 0) return cli_usage_error("interpolate", "--b takes a test-image index");
            break;
        case 'p':
            if (cli_parse_long(optarg, &points) || points < 2 || points > 64) return cli_usage_error("interpolate", "--points takes 2..64");
            break;
        case 'R':
            if (parse_steps(optarg, rec, 16, &nrec)) return cli_usage_error("interpolate", "--record takes increasing steps, e.g. 0,1,5,10");
            break;
        case 'd':
            if (parse_mode(optarg, &dec)) return cli_usage_error("interpolate", "--decode takes mean or sample");
            break;
        case 'e':
            if (parse_mode(optarg, &enc)) return cli_usage_error("interpolate", "--encode takes mean or sample");
            break;
        case 'c':
            if (cli_parse_double(optarg, &corrupt) || !(corrupt >= 0)) return cli_usage_error("interpolate", "--corrupt takes a number >= 0");
            have_corrupt = 1;
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("interpolate", "--seed takes a non-negative integer");
            break;
        case 'h':
            printf("usage: genmix interpolate --model M.safetensors --a I --b J --out strip.png [options]\n\n"
                   "Encodes test images I and J (encoder means), decodes --points codes on the slerp path between\n"
                   "them (endpoints included), and refines each with its own latent MCMC chain. One PNG row per\n"
                   "recorded step (default rows: 0, 1, 5, 10 steps).\n\n"
                   "  --a I, --b J        Fashion-MNIST test-image indices (default 0 and 1)\n"
                   "  --points P          interpolants (default 10)\n"
                   "  --record LIST       rows (default 0,1,5,10)\n"
                   "  --linear            linear instead of spherical interpolation\n"
                   "  --decode, --encode, --corrupt, --seed   as in genmix sample\n"
                   "  --data-dir DIR      IDX files (default %s)\n"
                   "  --out FILE.png      the strip;  --npy FILE.npy  the images (rows x points x 784)\n",
                   dir);
            return CLI_OK;
        default: return cli_bad_option("interpolate", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("interpolate", "unexpected argument '%s'", argv[optind]);
    if (!model || !out) return cli_usage_error("interpolate", "--model and --out are required");
    if (cli_check_input("interpolate", "--model", model) || cli_check_output("interpolate", "--out", out) ||
        cli_check_output("interpolate", "--npy", npy))
        return CLI_ERR;
    if (cli_check_not_input("interpolate", (cli_file[]){{"--out", out}, {"--npy", npy}, {0}}, (cli_file[]){{"--model", model}, {0}}))
        return CLI_USAGE;
    gm_ae *ae = NULL;
    float *X = NULL, *img = NULL;
    uint8_t *y = NULL;
    size_t n;
    int rc = gm_ae_load(&ae, model);
    if (!rc) rc = cli_fashion_mnist(dir, 0, &X, &y, &n);
    if (rc) goto done;
    if ((size_t)ia >= n || (size_t)ib >= n) {
        rc = gm_set_error(GM_EINVAL, "%s %ld: test-image index out of range (%s has 0..%zu)", (size_t)ia >= n ? "--a" : "--b",
                          (size_t)ia >= n ? ia : ib, dir, n - 1);
        goto done;
    }
    const gm_ae_config *ac = gm_ae_get_config(ae);
    const size_t d = ac->latent_dim;
    float za[4096], zb[4096];
    if (d > 4096 || ac->data_dim != 784) {
        rc = gm_set_error(GM_EINVAL, "%s: unsupported dimensions", model);
        goto done;
    }
    if ((rc = gm_ae_encode(ae, za, NULL, X + (size_t)ia * 784, 1)) || (rc = gm_ae_encode(ae, zb, NULL, X + (size_t)ib * 784, 1)))
        goto done;
    gm_ae_model m;
    gm_ae_as_model(ae, &m);
    gm_latent_mcmc_config mc = gm_latent_mcmc_config_default();
    mc.dec_mode = dec ? GM_LATENT_DECODE_SAMPLE : GM_LATENT_DECODE_MEAN;
    mc.enc_mode = enc ? GM_LATENT_ENCODE_SAMPLE : GM_LATENT_ENCODE_MEAN;
    mc.corrupt_sigma = have_corrupt ? corrupt : ac->sigma_c;
    mc.seed = seed;
    img = malloc(nrec * (size_t)points * 784 * sizeof(float));
    if (!img) {
        rc = gm_set_error(GM_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = gm_latent_interpolate(&m, &mc, za, zb, (size_t)points, !lin, rec, nrec, img))) goto done;
    if ((rc = gm_png_write_grid(out, img, nrec * (size_t)points, 1, 28, 28, (int)points, 2))) goto done;
    int64_t ishape[3] = {(int64_t)nrec, (int64_t)points, 784};
    if (npy && (rc = gm_npy_write(npy, GM_DTYPE_F32, 3, ishape, img))) goto done;
    printf("interpolate: test images %ld -> %ld, %ld points (%s), rows after", ia, ib, points, lin ? "linear" : "slerp");
    for (size_t i = 0; i < nrec; i++) printf(" %zu", rec[i]);
    printf(" steps; wrote %s\n", out);
done:
    free(img);
    gm_free(X);
    gm_free(y);
    gm_ae_free(ae);
    return rc ? cli_fail(rc) : CLI_OK;
}
