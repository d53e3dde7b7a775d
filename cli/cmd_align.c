/* SPDX-License-Identifier: MIT */
/* cmd_align.c — `genmix align`: reward alignment of a diffusion model by DAS (tempered twisted SMC) and
 * its baselines; options, reward selection, output files and printing only (numerics in src/smc/). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "genmix/classifier.h"
#include "genmix/das.h"
#include "genmix/io.h"
#include "genmix/plot.h"
#include "genmix/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix align --model M --reward R --alpha A [options]\n"
            "Sample p(x) exp(r(x)/alpha) from a diffusion model without training (DAS: tempered SMC with a\n"
            "reward-twisted proposal and exact final reweighting), or run a baseline.\n"
            "model:\n"
            "  --model toy:gmm1|toy:gmm2   2-D Gaussian-mixture toys with their exact denoiser (T = 1000, linear beta)\n"
            "  --model MODEL.safetensors   a model trained by genmix train ddpm: 2-D toy MLP or Fashion-MNIST U-Net\n"
            "                              (both with full VJPs; U-Net samples are images in [-1, 1]^784)\n"
            "reward (--reward R):\n"
            "  gmm1 | gmm2                 the spec's toy rewards (-x^2/100 - y^2; -x^2 - (y-1)^2/10)\n"
            "  quad:a1,..,aD,c1,..,cD      -sum a_d (x_d - c_d)^2        linear:b1,..,bD   sum b_d x_d\n"
            "  'cmd:PROGRAM ARGS.. {in} {out}'  runs PROGRAM per evaluation: {in} = N x D float32 .npy of samples,\n"
            "                              {out} = where it writes N float64 rewards (.npy); no gradient: use --grad none\n"
            "  plugin:LIB.so               shared library with the genmix reward ABI v1 (see genmix/das.h)\n"
            "  classifier:CLF.safetensors:CLASSES\n"
            "                              log sum_{c in CLASSES} p(c|x) by a genmix classifier (train classifier) on\n"
            "                              (x+1)/2, with its input gradient; CLASSES e.g. trouser,bag,sneaker or 1,8,7\n"
            "options:\n"
            "  --alpha A           temperature > 0 (required)\n"
            "  --particles N       particles per run (default 16; for base/oracle/best-of-n: base samples)\n"
            "  --steps S           sampling steps 1..1000 (default 100; t_i = floor((S-1-i) 1000/S) + 1)\n"
            "  --tempering M       exp (default) | none (TDS) | adaptive\n"
            "  --gamma G           exp schedule rate (default 2^(1/(0.87 S)) - 1)\n"
            "  --resample M        ssp (default) | systematic | multinomial\n"
            "  --ess T             resample when ESS < T N (default 0.5; >= 1 always)\n"
            "  --grad M            full (default) | x0only | none (bootstrap SMC)\n"
            "  --method M          das (default) | guidance (plain reward guidance, unweighted) | base |\n"
            "                      oracle (SIR on base samples) | best-of-n\n"
            "  --guidance-scale R  guidance strength multiplier for --method guidance (default 1)\n"
            "  --output M          weighted (default: N particles + weights) | resample (N draws per run)\n"
            "  --runs K            independent runs (seeds seed..seed+K-1; default 1)\n"
            "  --seed S            random seed (default 42)\n"
            "  --out DIR           write samples.npy, weights.npy, summary.json, trace.png, samples.png\n"
            "  --json              print the summary as JSON on stdout\n"
            "  --eval-clf CLF      score the output with an independent classifier (genmix train classifier,\n"
            "                      another seed): weighted class histogram per run (mean +- SE), and for a\n"
            "                      classifier reward E[log p_eval(S|x)] over the reward's class set S;\n"
            "                      with --out also eval_features.npy (its penultimate features of the output)\n"
            "  --base-samples F[,F..]  base/oracle/best-of-n: use these .npy base samples (rows concatenated;\n"
            "                      run k takes rows kN..kN+N-1) instead of sampling the model\n"
            "  -h, --help          this help\n"
            "exit codes: 0 ok, 1 run-time error (e.g. a failing reward command, an unreadable or foreign\n"
            "checkpoint), 2 usage error (bad value, unknown toy model or reward), 3 numerical failure (every\n"
            "particle died, non-finite command reward)\n");
}

typedef struct {
    float *x;      /* m x D */
    double *W, *r; /* m */
    size_t m;
    double log_z, mean_r;
    int resamples;
    double *lambda, *ess; /* n_trace */
    int *resampled, n_trace;
} run_result;

static void run_free(run_result *r) {
    free(r->x);
    free(r->W);
    free(r->r);
    free(r->lambda);
    free(r->ess);
    free(r->resampled);
    memset(r, 0, sizeof *r);
}

typedef struct {
    const char *method;
    gm_das_config cfg;
    int resample_out;
    const float *base_x; /* --base-samples rows (NULL: sample the model) */
    size_t base_rows;
} align_opts;

static int alloc_result(run_result *res, size_t m, size_t D) {
    res->m = m;
    res->x = malloc(m * D * sizeof(float));
    res->W = malloc(m * sizeof(double));
    res->r = malloc(m * sizeof(double));
    return res->x && res->W && res->r ? GM_OK : gm_set_error(GM_ENOMEM, "out of memory for %zu samples", m);
}

/* Base-sample methods: base (uniform weights), oracle (SIR weights), best-of-n (one sample). */
static int run_base(const align_opts *o, const gm_diff_schedule *sch, const gm_denoiser *den, const gm_reward *rw,
                    uint64_t seed, long run, run_result *res) {
    size_t N = (size_t)o->cfg.n_particles, D = den->dim;
    int rc = alloc_result(res, N, D);
    if (rc == GM_OK && o->base_x) memcpy(res->x, o->base_x + (size_t)run * N * D, N * D * sizeof(float));
    else if (rc == GM_OK) rc = gm_diff_sample(sch, den, o->cfg.n_steps, o->cfg.eta, o->cfg.spacing, N, seed, res->x);
    if (rc != GM_OK) return rc;
    res->log_z = nan("");
    if (!strcmp(o->method, "oracle")) {
        rc = gm_sir_oracle(rw, res->x, N, o->cfg.alpha, res->W, &res->log_z, NULL, res->r);
    } else {
        rc = rw->eval(rw->ctx, res->x, N, res->r, NULL);
        for (size_t k = 0; k < N; k++) res->W[k] = 1.0 / (double)N;
        if (rc == GM_OK && !strcmp(o->method, "best-of-n")) {
            size_t b;
            double br;
            rc = gm_best_of_n(rw, res->x, N, &b, &br);
            if (rc == GM_OK) {
                memmove(res->x, res->x + b * D, D * sizeof(float));
                res->r[0] = br;
                res->W[0] = 1.0;
                res->m = 1;
            }
        }
    }
    res->mean_r = 0;
    for (size_t k = 0; k < res->m && rc == GM_OK; k++)
        if (res->W[k] > 0) res->mean_r += res->W[k] * res->r[k];
    return rc;
}

static int run_das(const align_opts *o, const gm_diff_schedule *sch, const gm_denoiser *den, const gm_reward *rw,
                   uint64_t seed, run_result *res) {
    gm_das_config c = o->cfg;
    c.seed = seed;
    gm_das *d;
    int rc = gm_das_create(&d, &c, sch, den, rw);
    if (rc != GM_OK) return rc;
    while (rc == GM_OK && !gm_das_done(d)) rc = gm_das_step(d);
    size_t N = gm_das_size(d), D = den->dim;
    if (rc == GM_OK) rc = alloc_result(res, N, D);
    if (rc == GM_OK) {
        gm_das_weights(d, res->W);
        memcpy(res->r, gm_das_rewards(d), N * sizeof(double));
        res->mean_r = gm_das_mean_reward(d);
        res->log_z = gm_das_log_evidence(d);
        res->resamples = gm_das_n_resamples(d);
        if (o->resample_out) {
            rc = gm_das_output_samples(d, GM_DAS_OUT_RESAMPLE, N, res->x);
            for (size_t k = 0; k < N; k++) res->W[k] = 1.0 / (double)N;
            /* rewards of the drawn rows */
            if (rc == GM_OK) rc = rw->eval(rw->ctx, res->x, N, res->r, NULL);
        } else {
            memcpy(res->x, gm_das_particles(d), N * D * sizeof(float));
        }
        const gm_das_trace *t = gm_das_get_trace(d);
        res->n_trace = t->n;
        res->lambda = malloc((size_t)t->n * sizeof(double));
        res->ess = malloc((size_t)t->n * sizeof(double));
        res->resampled = malloc((size_t)t->n * sizeof(int));
        if (!res->lambda || !res->ess || !res->resampled) rc = gm_set_error(GM_ENOMEM, "out of memory for traces");
        for (int i = 0; i < t->n && rc == GM_OK; i++) {
            res->lambda[i] = t->lambda[i];
            res->ess[i] = t->ess[i] / (double)N;
            res->resampled[i] = t->resampled[i];
        }
    }
    gm_das_free(d);
    return rc;
}

static cJSON *num_array(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(isfinite(v[i]) ? v[i] : 0.0));
    return a;
}

static int write_json(const char *path, cJSON *j) {
    char *txt = cJSON_Print(j);
    if (!txt) return gm_set_error(GM_ENOMEM, "out of memory for JSON");
    int rc = gm_write_file_atomic(path, txt, strlen(txt));
    cJSON_free(txt);
    return rc;
}

static int write_plots(const char *dir, const run_result *r0, const run_result *all, int K, size_t D, const char *title) {
    char path[4200];
    int rc = GM_OK;
    if (r0->n_trace > 0) {
        gm_plot *p;
        rc = gm_plot_create(&p, "DAS run 1: ESS/N and tempering exponent per step", "step", "");
        if (rc != GM_OK) return rc;
        double *xs = malloc((size_t)r0->n_trace * sizeof(double));
        if (!xs) rc = GM_ENOMEM;
        for (int i = 0; rc == GM_OK && i < r0->n_trace; i++) xs[i] = i;
        if (rc == GM_OK) rc = gm_plot_line(p, xs, r0->ess, (size_t)r0->n_trace, "ESS / N");
        if (rc == GM_OK) rc = gm_plot_line(p, xs, r0->lambda, (size_t)r0->n_trace, "lambda");
        gm_plot_set_yrange(p, 0.0, 1.05);
        snprintf(path, sizeof path, "%s/trace.png", dir);
        if (rc == GM_OK) rc = gm_plot_write_png(p, path, 720, 420);
        free(xs);
        gm_plot_free(p);
        if (rc != GM_OK) return rc;
    }
    if (D != 2) return GM_OK;
    gm_plot *p;
    rc = gm_plot_create(&p, title, "x", "y");
    if (rc != GM_OK) return rc;
    /* the samples with weight >= 1/(10 m) of each run (weighted output), or all draws */
    size_t tot = 0;
    for (int k = 0; k < K; k++) tot += all[k].m;
    double *px = malloc(tot * sizeof(double)), *py = malloc(tot * sizeof(double));
    size_t n = 0;
    if (!px || !py) rc = GM_ENOMEM;
    for (int k = 0; k < K && rc == GM_OK; k++)
        for (size_t i = 0; i < all[k].m; i++)
            if (all[k].W[i] >= 0.1 / (double)all[k].m) {
                px[n] = (double)all[k].x[i * 2];
                py[n++] = (double)all[k].x[i * 2 + 1];
            }
    gm_plot_set_xrange(p, -6, 6);
    gm_plot_set_yrange(p, -6, 6);
    if (rc == GM_OK && n) rc = gm_plot_points(p, px, py, n, "samples (weight >= 0.1/N)");
    snprintf(path, sizeof path, "%s/samples.png", dir);
    if (rc == GM_OK) rc = gm_plot_write_png(p, path, 560, 560);
    free(px);
    free(py);
    gm_plot_free(p);
    return rc;
}

/* --base-samples: the comma-separated .npy files' rows (each n x D), concatenated. */
static int load_base_samples(const char *list, size_t D, float **out, size_t *rows) {
    *out = NULL;
    *rows = 0;
    char *buf = strdup(list);
    if (!buf) return gm_set_error(GM_ENOMEM, "out of memory");
    int rc = GM_OK;
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f && rc == GM_OK; f = strtok_r(NULL, ",", &save)) {
        gm_array a;
        rc = gm_npy_read(f, &a);
        if (rc == GM_OK) rc = gm_array_convert(&a, GM_DTYPE_F32);
        if (rc == GM_OK && (a.ndim != 2 || (size_t)a.shape[1] != D))
            rc = gm_set_error(GM_ESHAPE, "--base-samples %s: expected an n x %zu array", f, D);
        if (rc == GM_OK) rc = gm_array_check_finite(&a, f);
        if (rc == GM_OK) {
            size_t n = (size_t)a.shape[0];
            float *nx = realloc(*out, (*rows + n) * D * sizeof(float));
            if (!nx) rc = gm_set_error(GM_ENOMEM, "out of memory for --base-samples");
            else {
                memcpy(nx + *rows * D, a.data, n * D * sizeof(float));
                *out = nx;
                *rows += n;
            }
        }
        gm_array_free(&a);
    }
    free(buf);
    if (rc != GM_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* The histogram (m[0..10)), in-set mass (m[10]) and E[log p_eval(S|x)] (m[11]) with their SEs into obj;
 * with a label (non-NULL) also the "eval_classes" line. */
static void eval_fields(cJSON *obj, const double *m, const double *se, int has_set, const char *label) {
    static const char *const names[10] = {"tshirt", "trouser", "pullover", "dress", "coat",
                                          "sandal", "shirt",   "sneaker",  "bag",   "boot"};
    cJSON_AddItemToObject(obj, "class_hist", num_array(m, 10));
    cJSON_AddItemToObject(obj, "class_hist_se", num_array(se, 10));
    if (has_set) {
        cJSON_AddNumberToObject(obj, "in_set", m[10]);
        cJSON_AddNumberToObject(obj, "in_set_se", se[10]);
        cJSON_AddNumberToObject(obj, "log_p_set", m[11]);
        cJSON_AddNumberToObject(obj, "log_p_set_se", se[11]);
    }
    if (label) {
        printf("eval_classes%s", label);
        for (int c = 0; c < 10; c++) printf(" %s %.3f", names[c], m[c]);
        printf("\n");
    }
}

/* --eval-clf: each run's output scored by an independent classifier: the weighted histogram of its
 * argmax classes, and E_W[log p_eval(S|x)] for the reward's class set S (classifier rewards only).
 * Mean over runs with the run-to-run standard error; for one run the delta-method SE of the weighted
 * mean, sqrt(sum_i W_i^2 (f_i - mean)^2). Adds "eval" to the summary and prints one line; for DAS over
 * several runs (pool_lz: each run's log Ẑ; NULL = none) also "pooled_by_zhat", the runs weighted by their Ẑ. */
static int eval_runs(const char *clf_path, const gm_reward_clf *rclf, const run_result *res, long runs, cJSON *sum,
                     int print, const double *pool_lz) {
    int in_set[10] = {0};
    char classes[32] = "";
    if (rclf) gm_reward_clf_classes(rclf, in_set);
    for (int c = 0, at = 0; c < 10; c++)
        if (!rclf || in_set[c]) at += snprintf(classes + at, sizeof classes - (size_t)at, at ? ",%d" : "%d", c);
    gm_reward_clf *E;
    gm_reward erw;
    int rc = gm_reward_clf_open(&E, clf_path, classes, 784, &erw);
    if (rc != GM_OK) return gm_error_prefix(rc, "--eval-clf");
    /* per run: 10 class masses, in-set mass, E[log p(S|x)] */
    double *v = calloc((size_t)runs * 12, sizeof(double)), *m = calloc(12, sizeof(double)), *se = calloc(12, sizeof(double));
    if (!v || !m || !se) rc = gm_set_error(GM_ENOMEM, "out of memory");
    for (long k = 0; k < runs && rc == GM_OK; k++) {
        const run_result *r = &res[k];
        double *lp = malloc(r->m * 10 * sizeof(double)), *ls = malloc(r->m * sizeof(double));
        int *lab = malloc(r->m * sizeof(int));
        if (!lp || !ls || !lab) rc = gm_set_error(GM_ENOMEM, "out of memory");
        if (rc == GM_OK) rc = gm_reward_clf_log_probs(E, r->x, r->m, lp);
        if (rc == GM_OK) rc = erw.eval(erw.ctx, r->x, r->m, ls, NULL);
        double *vk = v + k * 12;
        for (size_t i = 0; i < r->m && rc == GM_OK; i++) {
            int b = 0;
            for (int c = 1; c < 10; c++)
                if (lp[i * 10 + (size_t)c] > lp[i * 10 + (size_t)b]) b = c;
            lab[i] = b;
            vk[b] += r->W[i];
            if (in_set[b]) vk[10] += r->W[i];
            if (r->W[i] > 0) vk[11] += r->W[i] * ls[i];
        }
        if (rc == GM_OK && runs == 1) /* delta-method SE of the weighted means */
            for (size_t i = 0; i < r->m; i++)
                for (int j = 0; j < 12; j++) {
                    double f = j < 10 ? (lab[i] == j) : j == 10 ? in_set[lab[i]] : ls[i];
                    if (r->W[i] > 0) se[j] += r->W[i] * r->W[i] * (f - vk[j]) * (f - vk[j]);
                }
        free(lp);
        free(ls);
        free(lab);
    }
    if (rc == GM_OK) {
        for (long k = 0; k < runs; k++)
            for (int j = 0; j < 12; j++) m[j] += v[k * 12 + j] / (double)runs;
        for (int j = 0; j < 12; j++) {
            if (runs > 1) {
                for (long k = 0; k < runs; k++) se[j] += (v[k * 12 + j] - m[j]) * (v[k * 12 + j] - m[j]);
                se[j] /= (double)(runs - 1) * (double)runs;
            }
            se[j] = sqrt(se[j]);
        }
        cJSON *e = cJSON_AddObjectToObject(sum, "eval");
        cJSON_AddStringToObject(e, "classifier", clf_path);
        if (rclf)
            cJSON_AddItemToObject(e, "set", num_array((double[]){in_set[0], in_set[1], in_set[2], in_set[3], in_set[4],
                                                                 in_set[5], in_set[6], in_set[7], in_set[8], in_set[9]}, 10));
        eval_fields(e, m, se, rclf != NULL, print ? "" : NULL);
        if (print && rclf) printf("eval in_set %.4f +- %.4f  E[log p_eval(S|x)] %.4f +- %.4f\n", m[10], se[10], m[11], se[11]);
        /* DAS over several runs: the same quantities with the runs pooled by their Ẑ (gm_smc_pool_runs) */
        if (pool_lz && gm_smc_pool_runs(pool_lz, v, (size_t)runs, 12, m, se) == GM_OK)
            eval_fields(cJSON_AddObjectToObject(e, "pooled_by_zhat"), m, se, rclf != NULL,
                        print ? " (runs pooled by Z^)" : NULL);
    }
    free(v);
    free(m);
    free(se);
    gm_reward_clf_free(E);
    return rc;
}

int cmd_align(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},     {"reward", required_argument, 0, 'r'},
                                         {"alpha", required_argument, 0, 'a'},     {"particles", required_argument, 0, 'n'},
                                         {"steps", required_argument, 0, 's'},     {"tempering", required_argument, 0, 't'},
                                         {"gamma", required_argument, 0, 'G'},     {"resample", required_argument, 0, 'R'},
                                         {"ess", required_argument, 0, 'e'},       {"grad", required_argument, 0, 'g'},
                                         {"method", required_argument, 0, 'M'},    {"guidance-scale", required_argument, 0, 'S'},
                                         {"output", required_argument, 0, 'o'},    {"runs", required_argument, 0, 'k'},
                                         {"seed", required_argument, 0, 'x'},      {"out", required_argument, 0, 'O'},
                                         {"json", no_argument, 0, 'j'},            {"help", no_argument, 0, 'h'},
                                         {"eval-clf", required_argument, 0, 'E'},  {"base-samples", required_argument, 0, 'B'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *reward = NULL, *out = NULL, *eval_clf = NULL, *base_files = NULL;
    align_opts o;
    memset(&o, 0, sizeof o);
    o.method = "das";
    o.cfg = gm_das_config_default();
    double alpha = nan("");
    long runs = 1;
    int json = 0, c;
    unsigned long long seed = 42;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long l;
        double v;
        switch (c) {
        case 'm': model = optarg; break;
        case 'r': reward = optarg; break;
        case 'a':
            if (cli_parse_double(optarg, &alpha) || !(alpha > 0) || !isfinite(alpha))
                return cli_usage_error("align", "--alpha must be a number > 0 (got '%s')", optarg);
            break;
        case 'n':
            if (cli_parse_long(optarg, &l) || l < 1 || l > 100000000)
                return cli_usage_error("align", "--particles must be an integer >= 1 (got '%s')", optarg);
            o.cfg.n_particles = (int)l;
            break;
        case 's':
            if (cli_parse_long(optarg, &l) || l < 1 || l > 1000)
                return cli_usage_error("align", "--steps must be in 1..1000 (got '%s')", optarg);
            o.cfg.n_steps = (int)l;
            break;
        case 't':
            if (gm_temper_parse(optarg, &o.cfg.temper)) return cli_usage_error("align", "--tempering: %s", gm_last_error());
            break;
        case 'G':
            if (cli_parse_double(optarg, &v) || !(v > 0) || !isfinite(v))
                return cli_usage_error("align", "--gamma must be > 0 (got '%s')", optarg);
            o.cfg.gamma = v;
            break;
        case 'R':
            if (gm_resample_parse(optarg, &o.cfg.scheme)) return cli_usage_error("align", "--resample: %s", gm_last_error());
            break;
        case 'e':
            if (cli_parse_double(optarg, &v) || !(v >= 0) || !isfinite(v))
                return cli_usage_error("align", "--ess must be a number >= 0 (got '%s')", optarg);
            o.cfg.ess_threshold = v;
            break;
        case 'g':
            if (gm_das_grad_parse(optarg, &o.cfg.grad)) return cli_usage_error("align", "--grad: %s", gm_last_error());
            break;
        case 'M':
            if (strcmp(optarg, "das") && strcmp(optarg, "guidance") && strcmp(optarg, "base") && strcmp(optarg, "oracle") &&
                strcmp(optarg, "best-of-n"))
                return cli_usage_error("align", "unknown --method '%s' (das|guidance|base|oracle|best-of-n)", optarg);
            o.method = optarg;
            break;
        case 'S':
            if (cli_parse_double(optarg, &v) || !(v >= 0) || !isfinite(v))
                return cli_usage_error("align", "--guidance-scale must be >= 0 (got '%s')", optarg);
            o.cfg.guidance_scale = v;
            break;
        case 'o':
            if (!strcmp(optarg, "weighted")) o.resample_out = 0;
            else if (!strcmp(optarg, "resample")) o.resample_out = 1;
            else return cli_usage_error("align", "unknown --output '%s' (weighted|resample)", optarg);
            break;
        case 'k':
            if (cli_parse_long(optarg, &runs) || runs < 1 || runs > 100000)
                return cli_usage_error("align", "--runs must be an integer >= 1 (got '%s')", optarg);
            break;
        case 'x':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("align", "--seed must be a non-negative integer");
            break;
        case 'O': out = optarg; break;
        case 'E': eval_clf = optarg; break;
        case 'B': base_files = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_bad_option("align", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("align", "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error("align", "--model is required");
    if (!reward) return cli_usage_error("align", "--reward is required");
    if (isnan(alpha)) return cli_usage_error("align", "--alpha is required");
    if (cli_check_output_dir("align", "--out", out)) return CLI_ERR; /* before any sampling */
    if (out) { /* an input that is one of the files written into --out would be replaced */
        static const char *const names[] = {"samples.npy", "samples.png", "weights.npy",       "summary.json",
                                            "trace.png",   "grid.png",    "eval_features.npy", NULL};
        char bases[1024];
        cli_file ins[20];
        int nin = 0;
        ins[nin++] = (cli_file){"--model", strncmp(model, "toy:", 4) ? model : NULL};
        ins[nin++] = (cli_file){"--eval-clf", eval_clf};
        ins[nin++] = (cli_file){"--reward", !strncmp(reward, "plugin:", 7) ? reward + 7 : NULL};
        char clf_path[1024] = ""; /* classifier:CLF:CLASSES — the file is up to the last ':' (as gm_reward_clf_parse) */
        const char *clf_colon = !strncmp(reward, "classifier:", 11) ? strrchr(reward + 11, ':') : NULL;
        if (clf_colon && (size_t)(clf_colon - (reward + 11)) < sizeof clf_path) {
            memcpy(clf_path, reward + 11, (size_t)(clf_colon - (reward + 11)));
            clf_path[clf_colon - (reward + 11)] = '\0';
            ins[nin++] = (cli_file){"--reward", clf_path};
        }
        snprintf(bases, sizeof bases, "%s", base_files ? base_files : "");
        for (char *save = NULL, *t = strtok_r(bases, ",", &save); t && nin < 19; t = strtok_r(NULL, ",", &save))
            ins[nin++] = (cli_file){"--base-samples", t};
        ins[nin] = (cli_file){0};
        if (cli_check_not_in_dir("align", "--out", out, names, ins)) return CLI_USAGE;
    }
    if (eval_clf && cli_check_input("align", "--eval-clf", eval_clf)) return CLI_ERR;
    if (base_files && (!strcmp(o.method, "das") || !strcmp(o.method, "guidance")))
        return cli_usage_error("align", "--base-samples is for --method base|oracle|best-of-n");
    o.cfg.alpha = alpha;
    o.cfg.guidance_only = !strcmp(o.method, "guidance");
    o.cfg.seed = seed;

    /* model */
    gm_diff_schedule *sch = malloc(sizeof *sch);
    if (!sch) return cli_fail(gm_set_error(GM_ENOMEM, "out of memory"));
    gm_diff_schedule_init(sch, GM_BETA_LINEAR, 1000);
    gm_gmm g;
    memset(&g, 0, sizeof g);
    gm_diff_mlp *mlp = NULL;
    gm_diff_unet *unet = NULL;
    gm_denoiser den;
    int is_file = strncmp(model, "toy:", 4) != 0; /* a checkpoint of any name (it was refused unless *.safetensors) */
    if (is_file && cli_check_input("align", "--model", model)) {
        free(sch);
        return CLI_ERR;
    }
    if (is_file && cli_diffusion_ckpt_kind(model) == 2) {
        /* the Fashion-MNIST U-Net: no mode statistics (g.k = 0) */
        int lrc = gm_diff_unet_load(&unet, model, sch);
        if (lrc != GM_OK) {
            free(sch);
            return cli_fail(lrc);
        }
        den = gm_diff_unet_denoiser(unet);
    } else if (is_file) {
        /* a trained toy model (genmix train ddpm): modes of its training mixture for the statistics */
        int lrc = gm_diff_mlp_load(&mlp, model, sch);
        const char *data = lrc == GM_OK ? gm_diff_mlp_data(mlp) : "";
        if (lrc == GM_OK && (strncmp(data, "toy:", 4) || gm_gmm_toy(&g, data + 4) != GM_OK))
            lrc = gm_set_error(GM_EFORMAT, "%s: trained on '%s', not a toy mixture", model, data);
        if (lrc != GM_OK) {
            gm_diff_mlp_free(mlp);
            gm_diff_unet_free(unet);
            free(sch);
            return cli_fail(lrc);
        }
        den = gm_diff_mlp_denoiser(mlp);
    } else if (gm_gmm_toy(&g, model + 4) != GM_OK) {
        free(sch);
        return cli_usage_error("align", "unknown --model '%s' (toy:gmm1|toy:gmm2|MODEL.safetensors)", model);
    } else {
        den = gm_gmm_denoiser(&g, sch);
    }
    size_t D = den.dim;

    /* reward */
    gm_toy_reward toy;
    gm_reward rw;
    gm_reward_ext *ext = NULL;
    gm_reward_clf *clfr = NULL;
    int rc = GM_OK, is_toy = 0;
    if (!strncmp(reward, "classifier:", 11)) {
        rc = gm_reward_clf_parse(&clfr, reward + 11, D, &rw);
        if (rc == GM_EINVAL) {
            gm_diff_mlp_free(mlp);
            gm_diff_unet_free(unet);
            gm_gmm_free(&g);
            free(sch);
            return cli_usage_error("align", "--reward: %s", gm_last_error());
        }
    } else if (!strncmp(reward, "cmd:", 4)) {
        rc = gm_reward_cmd_open(&ext, reward + 4, D, &rw);
        if (rc == GM_EINVAL) {
            gm_gmm_free(&g);
            gm_diff_mlp_free(mlp);
            gm_diff_unet_free(unet);
            free(sch);
            return cli_usage_error("align", "--reward: %s", gm_last_error());
        }
    } else if (!strncmp(reward, "plugin:", 7)) {
        rc = gm_reward_plugin_open(&ext, reward + 7, D, &rw);
    } else {
        if (gm_toy_reward_parse(reward, D, &toy) != GM_OK) {
            gm_gmm_free(&g);
            gm_diff_mlp_free(mlp);
            gm_diff_unet_free(unet);
            free(sch);
            return cli_usage_error("align", "--reward: %s", gm_last_error());
        }
        rw = gm_toy_reward_as_reward(&toy);
        is_toy = 1;
    }
    if (rc == GM_OK && !rw.has_grad && o.cfg.grad != GM_DAS_GRAD_NONE &&
        (!strcmp(o.method, "das") || !strcmp(o.method, "guidance"))) {
        gm_reward_ext_free(ext);
        gm_gmm_free(&g);
        gm_diff_mlp_free(mlp);
        gm_diff_unet_free(unet);
        free(sch);
        return cli_usage_error("align", "reward '%s' has no gradient: use --grad none", reward);
    }
    if (rc != GM_OK) {
        gm_gmm_free(&g);
        gm_diff_mlp_free(mlp);
        gm_diff_unet_free(unet);
        free(sch);
        return cli_fail(gm_error_prefix(rc, "--reward"));
    }

    /* --base-samples: enough rows for every run, checked before any work */
    float *base_x = NULL;
    if (base_files) {
        size_t need = (size_t)o.cfg.n_particles * (size_t)runs;
        rc = load_base_samples(base_files, D, &base_x, &o.base_rows);
        if (rc != GM_OK && strncmp(gm_last_error(), "--base-samples", 14)) gm_error_prefix(rc, "--base-samples");
        else if (rc == GM_OK && o.base_rows < need)
            rc = gm_set_error(GM_ESHAPE, "--base-samples: %zu rows, %ld runs of %d need %zu", o.base_rows, runs,
                              o.cfg.n_particles, need);
        o.base_x = base_x;
    }
    if (rc == GM_OK && eval_clf && D != 784) rc = gm_set_error(GM_EINVAL, "--eval-clf needs a 28x28 image model");

    /* runs */
    run_result *res = rc == GM_OK ? calloc((size_t)runs, sizeof *res) : NULL;
    if (!res && rc == GM_OK) rc = gm_set_error(GM_ENOMEM, "out of memory");
    int is_das = !strcmp(o.method, "das") || !strcmp(o.method, "guidance");
    double t0 = gm_time_now();
    for (long k = 0; k < runs && rc == GM_OK; k++) {
        uint64_t s = seed + (uint64_t)k;
        rc = is_das ? run_das(&o, sch, &den, &rw, s, &res[k]) : run_base(&o, sch, &den, &rw, s, k, &res[k]);
        if (rc == GM_OK && runs > 1) cli_progress("run %ld/%ld mean_reward %.4f log_z %.4f", k + 1, runs, res[k].mean_r, res[k].log_z);
    }
    double secs = gm_time_now() - t0;

    cJSON *sum = NULL;
    if (rc == GM_OK) {
        /* per-run mode weights (toy mixtures) and the summary */
        double *mw = calloc((size_t)runs * g.k, sizeof(double)), lzm = 0, lzv = 0, erm = 0, erv = 0;
        int *comp = NULL;
        double *lzk = malloc((size_t)runs * sizeof(double)); /* each run's log Ẑ */
        if (lzk)
            for (long k = 0; k < runs; k++) lzk[k] = res[k].log_z;
        int pool = lzk && runs > 1 && !strcmp(o.method, "das"); /* DAS runs pooled by their Ẑ */
        sum = cJSON_CreateObject();
        cJSON_AddStringToObject(sum, "model", model);
        cJSON_AddStringToObject(sum, "reward", reward);
        cJSON_AddStringToObject(sum, "method", o.method);
        cJSON_AddNumberToObject(sum, "alpha", alpha);
        cJSON_AddNumberToObject(sum, "particles", o.cfg.n_particles);
        cJSON_AddNumberToObject(sum, "steps", o.cfg.n_steps);
        cJSON_AddStringToObject(sum, "tempering", o.cfg.temper == GM_TEMPER_EXP ? "exp" : o.cfg.temper == GM_TEMPER_NONE ? "none" : "adaptive");
        cJSON_AddNumberToObject(sum, "gamma", o.cfg.gamma > 0 ? o.cfg.gamma : gm_temper_default_gamma(o.cfg.n_steps));
        cJSON_AddStringToObject(sum, "resample", gm_resample_name(o.cfg.scheme));
        cJSON_AddNumberToObject(sum, "ess_threshold", o.cfg.ess_threshold);
        cJSON_AddStringToObject(sum, "grad", o.cfg.grad == GM_DAS_GRAD_FULL ? "full" : o.cfg.grad == GM_DAS_GRAD_X0ONLY ? "x0only" : "none");
        cJSON_AddNumberToObject(sum, "runs", (double)runs);
        cJSON_AddNumberToObject(sum, "seed", (double)seed);
        cJSON_AddNumberToObject(sum, "seconds", secs);
        cJSON *rl = cJSON_AddArrayToObject(sum, "run");
        for (long k = 0; k < runs; k++) {
            run_result *r = &res[k];
            if (g.k) {
                comp = realloc(comp, r->m * sizeof(int));
                gm_gmm_assign(&g, r->x, r->m, comp);
                for (size_t i = 0; i < r->m; i++) mw[(size_t)k * g.k + (size_t)comp[i]] += r->W[i];
            }
            lzm += r->log_z / (double)runs;
            erm += r->mean_r / (double)runs;
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "seed", (double)(seed + (uint64_t)k));
            cJSON_AddNumberToObject(j, "mean_reward", r->mean_r);
            if (isfinite(r->log_z)) cJSON_AddNumberToObject(j, "log_z", r->log_z);
            cJSON_AddNumberToObject(j, "resamples", r->resamples);
            cJSON_AddItemToObject(j, "mode_weights", num_array(mw + (size_t)k * g.k, g.k));
            if (r->n_trace) {
                cJSON_AddItemToObject(j, "ess_frac", num_array(r->ess, (size_t)r->n_trace));
                cJSON_AddItemToObject(j, "lambda", num_array(r->lambda, (size_t)r->n_trace));
            }
            cJSON_AddItemToArray(rl, j);
        }
        free(comp);
        double *mwm = calloc(g.k, sizeof(double)), *mws = calloc(g.k, sizeof(double));
        for (long k = 0; k < runs; k++) {
            lzv += (res[k].log_z - lzm) * (res[k].log_z - lzm);
            erv += (res[k].mean_r - erm) * (res[k].mean_r - erm);
            for (size_t c2 = 0; c2 < g.k; c2++) mwm[c2] += mw[(size_t)k * g.k + c2] / (double)runs;
        }
        for (long k = 0; k < runs; k++)
            for (size_t c2 = 0; c2 < g.k; c2++) {
                double dv = mw[(size_t)k * g.k + c2] - mwm[c2];
                mws[c2] += dv * dv;
            }
        for (size_t c2 = 0; c2 < g.k; c2++) mws[c2] = runs > 1 ? sqrt(mws[c2] / (double)(runs - 1) / (double)runs) : 0.0;
        double er_se = runs > 1 ? sqrt(erv / (double)(runs - 1) / (double)runs) : 0.0;
        cJSON_AddNumberToObject(sum, "mean_reward", erm);
        cJSON_AddNumberToObject(sum, "mean_reward_se", er_se);
        double lme = -HUGE_VAL; /* log of the mean of Ẑ over runs (the unbiased estimate of Z) */
        if (isfinite(lzm)) {
            if (lzk) lme = gm_log_sum_exp(lzk, (size_t)runs) - log((double)runs);
            cJSON_AddNumberToObject(sum, "log_mean_zhat", lme);
            cJSON_AddNumberToObject(sum, "log_z_mean", lzm);
            cJSON_AddNumberToObject(sum, "log_z_sd", runs > 1 ? sqrt(lzv / (double)(runs - 1)) : 0.0);
        }
        cJSON_AddItemToObject(sum, "mode_weights", num_array(mwm, g.k));
        cJSON_AddItemToObject(sum, "mode_weights_se", num_array(mws, g.k));
        if (g.k && pool) { /* the runs pooled by their Ẑ (gm_smc_pool_runs) */
            double *pm = calloc(g.k, sizeof(double)), *ps = calloc(g.k, sizeof(double));
            if (pm && ps && gm_smc_pool_runs(lzk, mw, (size_t)runs, g.k, pm, ps) == GM_OK) {
                cJSON_AddItemToObject(sum, "mode_weights_pooled_by_zhat", num_array(pm, g.k));
                cJSON_AddItemToObject(sum, "mode_weights_pooled_by_zhat_se", num_array(ps, g.k));
            }
            free(pm);
            free(ps);
        }
        cJSON_AddItemToObject(sum, "mode_means", num_array(g.mean, g.k * D));
        double cf_lz = nan(""), cf_er = nan("");
        if (is_toy) {
            double *cw = calloc(g.k, sizeof(double));
            if (gm_gmm_tilt(&g, &toy, alpha, &cf_lz, cw, NULL, NULL, &cf_er) == GM_OK) {
                cJSON *cf = cJSON_AddObjectToObject(sum, "closed_form");
                cJSON_AddStringToObject(cf, "note", "continuous-time target; the S-step sampler's own target differs slightly (use --method oracle)");
                cJSON_AddNumberToObject(cf, "log_z", cf_lz);
                cJSON_AddNumberToObject(cf, "mean_reward", cf_er);
                cJSON_AddItemToObject(cf, "mode_weights", num_array(cw, g.k));
            }
            free(cw);
        }
        if (!json) {
            printf("method %s  model %s  reward %s  alpha %g  particles %d  steps %d  runs %ld  (%.2f s)\n", o.method, model,
                   reward, alpha, o.cfg.n_particles, o.cfg.n_steps, runs, secs);
            printf("mean_reward %.5f +- %.5f", erm, er_se);
            if (is_toy) printf("   (closed form %.5f)", cf_er);
            printf("\n");
            if (isfinite(lzm)) {
                printf("log_z: log mean Z^ %.5f, mean log Z^ %.5f (sd %.5f over runs)", lme, lzm,
                       runs > 1 ? sqrt(lzv / (double)(runs - 1)) : 0.0);
                if (is_toy) printf("   (closed form %.5f)", cf_lz);
                printf("\n");
            }
            if (g.k) { /* toy mixtures only */
                printf("mode_weights");
                for (size_t c2 = 0; c2 < g.k; c2++) printf(" %.4f", mwm[c2]);
                printf("\n");
            }
        }
        free(mw);
        free(mwm);
        free(mws);
        if (eval_clf) rc = eval_runs(eval_clf, clfr, res, runs, sum, !json, pool ? lzk : NULL);
        free(lzk);
        if (rc == GM_OK && json) {
            char *txt = cJSON_Print(sum);
            if (txt) puts(txt);
            cJSON_free(txt);
        }
    }

    /* files: only after every run succeeded */
    if (rc == GM_OK && out) {
        rc = cli_mkdirs(out);
        size_t tot = 0;
        for (long k = 0; k < runs; k++) tot += res[k].m;
        float *X = malloc(tot * D * sizeof(float));
        double *WW = malloc(tot * sizeof(double));
        if (!X || !WW) rc = gm_set_error(GM_ENOMEM, "out of memory");
        size_t at = 0;
        for (long k = 0; k < runs && rc == GM_OK; k++) {
            memcpy(X + at * D, res[k].x, res[k].m * D * sizeof(float));
            for (size_t i = 0; i < res[k].m; i++) WW[at + i] = res[k].W[i] / (double)runs;
            at += res[k].m;
        }
        char path[4200];
        int64_t shape[2] = {(int64_t)tot, (int64_t)D};
        snprintf(path, sizeof path, "%s/samples.npy", out);
        if (rc == GM_OK) rc = gm_npy_write(path, GM_DTYPE_F32, 2, shape, X);
        snprintf(path, sizeof path, "%s/weights.npy", out);
        if (rc == GM_OK) rc = gm_npy_write(path, GM_DTYPE_F64, 1, shape, WW);
        snprintf(path, sizeof path, "%s/summary.json", out);
        if (rc == GM_OK) rc = write_json(path, sum);
        if (rc == GM_OK) rc = write_plots(out, &res[0], res, (int)runs, D, model);
        if (rc == GM_OK && D == 784) { /* images: up to 64 systematic draws from the pooled weights, [0, 1] */
            size_t m = tot < 64 ? tot : 64, *anc = malloc(m * sizeof *anc);
            float *G = malloc(m * D * sizeof(float));
            gm_rng r;
            gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, 0));
            if (!anc || !G) rc = gm_set_error(GM_ENOMEM, "out of memory");
            if (rc == GM_OK) rc = gm_resample(GM_RESAMPLE_SYSTEMATIC, WW, tot, m, &r, anc);
            for (size_t i = 0; i < m && rc == GM_OK; i++)
                for (size_t j = 0; j < D; j++) G[i * D + j] = fminf(fmaxf(0.5f * (X[anc[i] * D + j] + 1.0f), 0.0f), 1.0f);
            snprintf(path, sizeof path, "%s/grid.png", out);
            if (rc == GM_OK) rc = gm_png_write_grid(path, G, m, 1, 28, 28, 8, 2);
            free(anc);
            free(G);
        }
        if (rc == GM_OK && eval_clf) { /* the output rows' features in the independent classifier's space */
            gm_clf *ec = NULL;
            float *F = NULL;
            rc = gm_clf_load(&ec, eval_clf);
            size_t fd = rc == GM_OK ? gm_clf_feature_dim(ec) : 0;
            if (rc == GM_OK && !(F = malloc(tot * fd * sizeof(float)))) rc = gm_set_error(GM_ENOMEM, "out of memory");
            for (size_t i = 0; rc == GM_OK && i < tot * D; i++) X[i] = fminf(fmaxf(0.5f * (X[i] + 1.0f), 0.0f), 1.0f);
            if (rc == GM_OK) rc = gm_clf_features(ec, X, tot, F);
            int64_t fs[2] = {(int64_t)tot, (int64_t)fd};
            snprintf(path, sizeof path, "%s/eval_features.npy", out);
            if (rc == GM_OK) rc = gm_npy_write(path, GM_DTYPE_F32, 2, fs, F);
            free(F);
            gm_clf_free(ec);
        }
        free(X);
        free(WW);
    }
    cJSON_Delete(sum);
    for (long k = 0; res && k < runs; k++) run_free(&res[k]);
    free(res);
    free(base_x);
    gm_reward_ext_free(ext);
    gm_reward_clf_free(clfr);
    gm_gmm_free(&g);
    gm_diff_mlp_free(mlp);
    gm_diff_unet_free(unet);
    free(sch);
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}
