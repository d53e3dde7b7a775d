/* SPDX-License-Identifier: MIT */
/* cmd_train_finetune.c — `genmix train ddpm-finetune`: the over-optimisation baseline of genmix align on
 * the toys: a KL-regularised copy of a trained toy DDPM fine-tuned by reward backprop through the sampling
 * chain; writes the fine-tuned checkpoint (a ddpm-mlp, sampleable by genmix sample / align --method base)
 * and a per-epoch JSON trace (E[r], KL, mode weights vs the closed-form tilted target). Options and
 * printing only (numerics in src/diffusion/diff_finetune.c). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "genmix/das.h"
#include "genmix/fileio.h"

static void usage(FILE *f) {
    fprintf(f, "usage: genmix train ddpm-finetune --model M.safetensors --reward R --alpha A --out OUT.safetensors [options]\n"
               "Fine-tune a copy of a toy DDPM (genmix train ddpm --data toy:*) by KL-regularised reward backprop through\n"
               "the S-step DDPM chain: per trajectory -r(x0)/alpha + sum_i |mu_phi - mu_theta|^2/(2 sigma_i^2).\n"
               "  --reward R      gmm1 | gmm2 | quad:... | linear:... (closed-form toy rewards, see genmix align --help)\n"
               "  --alpha A       KL weight, > 0\n"
               "  --steps S       chain steps (default 100; LEADING spacing, DDPM eta = 1)\n"
               "  --epochs E      Adam updates (default 500)\n"
               "  --batch B       trajectories per update (default 256)\n"
               "  --lr LR         learning rate (default 3e-5)\n"
               "  --clip C        global gradient-norm clip (default 5; 0 = none)\n"
               "  --trace FILE    per-epoch JSON trace (default OUT.json)\n"
               "  --snapshot K    also write the model every K epochs to OUT.epochN.safetensors (N = epochs done)\n"
               "  --seed S        seed (default 0)\n"
               "exit codes: 0 ok, 1 run-time error, 2 usage error (bad value, not a ddpm-mlp checkpoint),\n"
               "3 numerical failure (non-finite reward or gradient)\n");
}

static cJSON *num_array(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(isfinite(v[i]) ? v[i] : 0.0));
    return a;
}

int train_ddpm_finetune(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"reward", required_argument, 0, 'r'},
                                         {"alpha", required_argument, 0, 'a'}, {"steps", required_argument, 0, 'k'},
                                         {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
                                         {"lr", required_argument, 0, 'l'},    {"clip", required_argument, 0, 'c'},
                                         {"trace", required_argument, 0, 't'}, {"seed", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
                                         {"snapshot", required_argument, 0, 'S'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *reward = NULL, *out = NULL, *trace = NULL;
    gm_diff_ft_config cfg = gm_diff_ft_config_default();
    cfg.alpha = NAN;
    long l, snap = 0;
    unsigned long long seed = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'r': reward = optarg; break;
        case 'o': out = optarg; break;
        case 't': trace = optarg; break;
        case 'a':
            if (cli_parse_double(optarg, &cfg.alpha) || !(cfg.alpha > 0) || !isfinite(cfg.alpha))
                return cli_usage_error("train ddpm-finetune", "--alpha must be a number > 0 (got '%s')", optarg);
            break;
        case 'k':
            if (cli_parse_long(optarg, &l) || l < 1 || l > 1000) return cli_usage_error("train ddpm-finetune", "--steps must be in 1..1000");
            cfg.n_steps = (int)l;
            break;
        case 'e':
            if (cli_parse_long(optarg, &l) || l < 1 || l > 10000000) return cli_usage_error("train ddpm-finetune", "--epochs must be >= 1");
            cfg.epochs = (int)l;
            break;
        case 'b':
            if (cli_parse_long(optarg, &l) || l < 1 || l > 1000000) return cli_usage_error("train ddpm-finetune", "--batch must be >= 1");
            cfg.batch = (int)l;
            break;
        case 'l':
            if (cli_parse_double(optarg, &cfg.lr) || !(cfg.lr > 0) || !isfinite(cfg.lr))
                return cli_usage_error("train ddpm-finetune", "--lr must be > 0");
            break;
        case 'c':
            if (cli_parse_double(optarg, &cfg.clip) || !(cfg.clip >= 0) || !isfinite(cfg.clip))
                return cli_usage_error("train ddpm-finetune", "--clip must be >= 0");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("train ddpm-finetune", "--seed must be a non-negative integer");
            break;
        case 'S':
            if (cli_parse_long(optarg, &snap) || snap < 1) return cli_usage_error("train ddpm-finetune", "--snapshot must be >= 1");
            break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_bad_option("train ddpm-finetune", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("train ddpm-finetune", "unexpected argument '%s'", argv[optind]);
    if (!model || !reward || !out) return cli_usage_error("train ddpm-finetune", "--model, --reward and --out are required");
    if (isnan(cfg.alpha)) return cli_usage_error("train ddpm-finetune", "--alpha is required");
    cfg.seed = seed;
    char tpath[4200];
    snprintf(tpath, sizeof tpath, "%s", trace ? trace : out);
    if (!trace) snprintf(tpath, sizeof tpath, "%s.json", out);
    if (cli_check_input("train ddpm-finetune", "--model", model) || cli_check_output("train ddpm-finetune", "--out", out) ||
        cli_check_output("train ddpm-finetune", "--trace", tpath))
        return CLI_ERR;
    if (cli_check_not_input("train ddpm-finetune", (cli_file[]){{"--out", out}, {"--trace", tpath}, {0}}, (cli_file[]){{"--model", model}, {0}})) return CLI_USAGE;
    if (cli_diffusion_ckpt_kind(model) != 1)
        return cli_usage_error("train ddpm-finetune", "--model %s is not a ddpm-mlp checkpoint (genmix train ddpm --data toy:*)", model);

    gm_diff_schedule *sch = malloc(sizeof *sch);
    if (!sch) return cli_fail(gm_set_error(GM_ENOMEM, "out of memory"));
    gm_diff_schedule_init(sch, GM_BETA_LINEAR, 1000);
    gm_diff_mlp *base = NULL;
    gm_diff_ft *ft = NULL;
    gm_gmm g;
    memset(&g, 0, sizeof g);
    gm_toy_reward toy;
    int rc = gm_diff_mlp_load(&base, model, sch);
    const char *data = rc == GM_OK ? gm_diff_mlp_data(base) : "";
    if (rc == GM_OK && (strncmp(data, "toy:", 4) || gm_gmm_toy(&g, data + 4) != GM_OK))
        rc = gm_set_error(GM_EFORMAT, "%s: trained on '%s', not a toy mixture", model, data);
    if (rc == GM_OK && gm_toy_reward_parse(reward, gm_diff_mlp_dim(base), &toy) != GM_OK) {
        gm_diff_mlp_free(base);
        gm_gmm_free(&g);
        free(sch);
        return cli_usage_error("train ddpm-finetune", "--reward: %s", gm_last_error());
    }
    gm_reward rw = gm_toy_reward_as_reward(&toy);
    if (rc == GM_OK) rc = gm_diff_ft_create(&ft, &cfg, base, rw.eval, rw.ctx);

    /* closed-form target of the training mixture (the model approximates it) */
    size_t K = g.k, B = (size_t)cfg.batch;
    double *tw = calloc(K ? K : 1, sizeof *tw), *mw = calloc(K ? K : 1, sizeof *mw), log_z = NAN, e_tar = NAN;
    int *comp = malloc(B * sizeof *comp);
    if (rc == GM_OK && (!tw || !mw || !comp)) rc = gm_set_error(GM_ENOMEM, "out of memory");
    if (rc == GM_OK) rc = gm_gmm_tilt(&g, &toy, cfg.alpha, &log_z, tw, NULL, NULL, &e_tar);
    cJSON *root = cJSON_CreateObject(), *ep = cJSON_CreateArray();
    if (rc == GM_OK && (!root || !ep)) rc = gm_set_error(GM_ENOMEM, "out of memory for JSON");
    double t0 = gm_time_now();
    while (rc == GM_OK && !gm_diff_ft_done(ft)) {
        rc = gm_diff_ft_step(ft);
        if (rc != GM_OK) break;
        const gm_diff_ft_stats *st = gm_diff_ft_last(ft);
        gm_gmm_assign(&g, gm_diff_ft_samples(ft), B, comp);
        for (size_t k = 0; k < K; k++) mw[k] = 0;
        for (size_t i = 0; i < B; i++) mw[comp[i]] += 1.0 / (double)B;
        double tv = 0;
        for (size_t k = 0; k < K; k++) tv += 0.5 * fabs(mw[k] - tw[k]);
        cJSON *e = cJSON_CreateObject();
        if (!e) {
            rc = gm_set_error(GM_ENOMEM, "out of memory for JSON");
            break;
        }
        cJSON_AddNumberToObject(e, "epoch", (double)gm_diff_ft_epoch(ft) - 1);
        cJSON_AddNumberToObject(e, "mean_reward", st->mean_r);
        cJSON_AddNumberToObject(e, "kl", st->kl);
        cJSON_AddNumberToObject(e, "loss", st->loss);
        cJSON_AddNumberToObject(e, "grad_norm", st->grad_norm);
        cJSON_AddNumberToObject(e, "mode_tv", tv);
        cJSON_AddItemToObject(e, "mode_weights", num_array(mw, K));
        cJSON_AddItemToArray(ep, e);
        int64_t n = gm_diff_ft_epoch(ft);
        if (snap > 0 && n % snap == 0 && !gm_diff_ft_done(ft)) {
            char sp[4300];
            snprintf(sp, sizeof sp, "%s.epoch%lld.safetensors", out, (long long)n);
            rc = gm_diff_mlp_save(gm_diff_ft_model(ft), sp, n, seed, data);
            if (rc != GM_OK) break;
        }
        if (n % 50 == 0 || gm_diff_ft_done(ft))
            cli_progress("epoch %lld mean_reward %.4f kl %.4f mode_tv %.3f s %.1f", (long long)n, st->mean_r, st->kl, tv,
                         gm_time_now() - t0);
    }
    if (rc == GM_OK) rc = gm_diff_mlp_save(gm_diff_ft_model(ft), out, cfg.epochs, seed, data);
    if (rc == GM_OK) {
        cJSON_AddStringToObject(root, "model", model);
        cJSON_AddStringToObject(root, "reward", reward);
        cJSON_AddNumberToObject(root, "alpha", cfg.alpha);
        cJSON_AddNumberToObject(root, "steps", cfg.n_steps);
        cJSON_AddNumberToObject(root, "batch", cfg.batch);
        cJSON_AddNumberToObject(root, "lr", cfg.lr);
        cJSON_AddNumberToObject(root, "clip", cfg.clip);
        cJSON_AddNumberToObject(root, "seed", (double)seed);
        cJSON *cf = cJSON_CreateObject();
        cJSON_AddNumberToObject(cf, "mean_reward", e_tar);
        cJSON_AddNumberToObject(cf, "log_z", log_z);
        cJSON_AddItemToObject(cf, "mode_weights", num_array(tw, K));
        cJSON_AddItemToObject(root, "closed_form", cf);
        cJSON_AddItemToObject(root, "epochs", ep);
        ep = NULL;
        char *txt = cJSON_Print(root);
        rc = txt ? gm_write_file_atomic(tpath, txt, strlen(txt)) : gm_set_error(GM_ENOMEM, "out of memory for JSON");
        cJSON_free(txt);
    }
    if (rc == GM_OK) {
        const gm_diff_ft_stats *st = gm_diff_ft_last(ft);
        printf("ddpm-finetune: %d epochs, alpha %g, E[r] %.4f (target %.4f), KL %.4f, %.1f s; wrote %s and %s\n", cfg.epochs,
               cfg.alpha, st->mean_r, e_tar, st->kl, gm_time_now() - t0, out, tpath);
    }
    cJSON_Delete(ep);
    cJSON_Delete(root);
    free(tw);
    free(mw);
    free(comp);
    gm_diff_ft_free(ft);
    gm_diff_mlp_free(base);
    gm_gmm_free(&g);
    free(sch);
    if (rc == GM_EINVAL) return cli_usage_error("train ddpm-finetune", "%s", gm_last_error());
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}
