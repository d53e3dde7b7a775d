/* SPDX-License-Identifier: MIT */
/* cmd_mix.c — `genmix mix`: Mixture-UCB online mixing of generators (arms = pools of feature vectors in
 * .npy files), with the baselines and the offline optimum; per-round trajectories to CSV/JSON/PNG. */
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/mix.h"
#include "genmix/plot.h"
#include "genmix/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix mix --arm A.npy --arm B.npy ... --score SCORE --algo ALGO[,ALGO...] [options]\n"
            "\n"
            "Online selection of the best mixture of generators (Mixture-UCB, Rezaei et al., ICLR 2025). Each arm\n"
            "is a pool of generated feature vectors (N_i x D .npy), drawn in a seeded random order without\n"
            "replacement; each round an algorithm picks an arm and sees one sample. Scores are quadratic in the\n"
            "mixture weights: RKE (diversity, higher is better), KID/MMD to a reference set (lower is better),\n"
            "optionally plus -lambda*precision / -lambda*density (k-NN balls of the reference).\n"
            "\n"
            "required:\n"
            "  --arm FILE          an arm's features (repeat, 1..%d arms; same D; N_i >= rounds)\n"
            "  --score LIST        rke | kid | mmd, optionally with ,precision and/or ,density\n"
            "                      (precision/density alone are allowed); kid/mmd/precision/density need --ref\n"
            "  --sigma S|median    Gaussian kernel bandwidth (no default; raw Fashion-MNIST pixels: 5); 'median'\n"
            "                      = median distance of 10000 random pairs of the reference (else of the arms)\n"
            "options:\n"
            "  --ref FILE          reference (real) features, M x D .npy\n"
            "  --algo LIST         cab, ogd, ucb, sh, uniform, oracle, greedy, best1 (comma list; default ogd)\n"
            "  --rounds T          horizon (default 3000)\n"
            "  --runs R            replications (default 1; run in parallel, results independent of --threads)\n"
            "  --seed S            seed of every random draw (default 0)\n"
            "  --kernel K          KID/MMD kernel: gauss (default) | poly3 ((x.y/D + 1)^3)\n"
            "  --lambda L          weight of precision/density terms (default 1)\n"
            "  --delta-l X         UCB width Delta_L (default 2*Delta_kappa + Delta_f: rke 2, kid 4)\n"
            "  --delta-kappa X     bias bonus Delta_kappa/n_i (default 1 with a kernel score)\n"
            "  --beta B            confidence exponent (default 1)\n"
            "  --delta-g X         quality bonus lambda*X/n_i (default 0)\n"
            "  --warmup N          warm-up pulls per arm (default 1)\n"
            "  --ridge X           ridge on K in the online QP (default 1e-8)\n"
            "  --code-compat       official-code constants: warm-up 5, Delta_L 0.6, no Delta_kappa, delta_G 0.4,\n"
            "                      bonus without the 2, S_aa diagonal double count (for cross-checks only)\n"
            "  --offline-n N       samples per arm for the offline optimum (default 3000; 0 = all)\n"
            "  --knn K             k of the precision/density balls (default 5)\n"
            "  --json              print the summary as JSON\n"
            "  --out DIR           write mix.json, trajectory_<algo>.csv and score.png into DIR\n"
            "\n"
            "regret = objective of the collected set - objective of the offline optimum (lower is better).\n",
            GM_MIX_MAX_ARMS);
}

typedef struct {
    gm_mix_algo algo;
    gm_mix_trace tr;
    gm_mix_trace_summary sum; /* means over the runs (library) */
    double final_regret;
} algo_result;

/* ---- input: feature matrices through io.h --------------------------------------------------------------
 * Any .npy the io reader accepts (v1-v3, either endianness, C or Fortran order) with dtype float32, float64
 * or uint8 and rank 2 (N x D); converted to float32 and checked for NaN/Inf. */
static int load_features(const char *path, gm_array *a, const char *what) {
    int rc = gm_npy_read(path, a);
    if (rc) return rc;
    gm_dtype t = a->dtype;
    if (t != GM_DTYPE_F32 && t != GM_DTYPE_F64 && t != GM_DTYPE_U8)
        rc = gm_set_error(GM_EFORMAT, "%s: %s features must be float32, float64 or uint8 (got %s)", path, what,
                          gm_dtype_name(t));
    else if (a->ndim != 2 || a->shape[1] < 1)
        rc = gm_set_error(GM_ESHAPE, "%s: %s features must be a 2-D array (N x D)", path, what);
    else if (a->shape[0] == 0)
        rc = gm_set_error(GM_EINVAL, "%s: %s is empty (0 rows)", path, what);
    else if (gm_array_check_finite(a, path) != GM_OK) {
        char msg[512]; /* keep the io message ("row r contains NaN") but exit 1 like other bad input */
        snprintf(msg, sizeof msg, "%s", gm_last_error());
        rc = gm_set_error(GM_EINVAL, "%s", msg);
    } else if (!(rc = gm_array_convert(a, GM_DTYPE_F32))) {
        /* the values were finite: an infinity now is a float64 value beyond the float32 range */
        const float *x = a->data;
        size_t n = (size_t)a->shape[0] * (size_t)a->shape[1];
        for (size_t i = 0; i < n && !rc; i++)
            if (!isfinite(x[i]))
                rc = gm_set_error(GM_EINVAL, "%s: %s row %zu has a value beyond the float32 range (|x| > %.3g) that mixing computes in",
                                  path, what, i / (size_t)a->shape[1], (double)FLT_MAX);
    }
    if (rc) gm_array_free(a);
    return rc;
}

static int parse_score(const char *s, gm_mix_quad *quad, int *lin) {
    char buf[256];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    *quad = GM_MIX_QUAD_NONE;
    *lin = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        gm_mix_quad q = GM_MIX_QUAD_NONE;
        if (!strcmp(tok, "rke")) q = GM_MIX_QUAD_RKE;
        else if (!strcmp(tok, "kid")) q = GM_MIX_QUAD_KID;
        else if (!strcmp(tok, "mmd")) q = GM_MIX_QUAD_MMD;
        else if (!strcmp(tok, "precision")) *lin |= GM_MIX_LIN_PRECISION;
        else if (!strcmp(tok, "density")) *lin |= GM_MIX_LIN_DENSITY;
        else return -1;
        if (q != GM_MIX_QUAD_NONE) {
            if (*quad != GM_MIX_QUAD_NONE) return -2;
            *quad = q;
        }
    }
    return (*quad == GM_MIX_QUAD_NONE && !*lin) ? -1 : 0;
}

static const char *score_name(gm_mix_quad q, int lin) {
    if (!lin) return q == GM_MIX_QUAD_RKE ? "RKE" : q == GM_MIX_QUAD_KID ? "KID" : "MMD";
    return "objective";
}

/* ---- output: score vs round ----------------------------------------------------------------------------
 * One line per algorithm (legend = algorithm name, plot.h palette in the order of --algo; the colour names
 * are listed in mix.json "plot_colors"), the offline optimum as a dashed reference line. The y range covers
 * the rounds after the first 2 % (the first few samples give wild scores) and the optimum, plus 5 %. */
static int score_plot(const char *path, const algo_result *res, size_t nalgo, size_t T, size_t runs, const char *sn,
                      double hline) {
    double lo = INFINITY, hi = -INFINITY;
    size_t t0 = T > 20 ? T / 50 : 0;
    for (size_t a = 0; a < nalgo; a++)
        for (size_t t = t0; t < T; t++)
            if (isfinite(res[a].sum.mean_score[t])) lo = fmin(lo, res[a].sum.mean_score[t]), hi = fmax(hi, res[a].sum.mean_score[t]);
    if (isfinite(hline)) lo = fmin(lo, hline), hi = fmax(hi, hline);
    char title[128];
    if (runs > 1) snprintf(title, sizeof title, "%s vs round (mean of %zu runs)", sn, runs);
    else snprintf(title, sizeof title, "%s vs round", sn);
    double *x = gm_malloc(T * sizeof *x);
    gm_plot *p = NULL;
    int rc = x ? gm_plot_create(&p, title, "round", sn) : GM_ENOMEM;
    if (rc) goto out;
    for (size_t t = 0; t < T; t++) x[t] = (double)(t + 1);
    if (isfinite(lo) && isfinite(hi)) {
        double pad = hi > lo ? 0.05 * (hi - lo) : 0.05 * fmax(fabs(lo), 1e-12);
        gm_plot_set_yrange(p, lo - pad, hi + pad);
    }
    gm_plot_set_xrange(p, 1.0, T > 1 ? (double)T : 2.0);
    for (size_t a = 0; a < nalgo && !rc; a++) rc = gm_plot_line(p, x, res[a].sum.mean_score, T, gm_mix_algo_name(res[a].algo));
    if (!rc && isfinite(hline)) rc = gm_plot_hline(p, hline, "offline optimum");
    if (!rc) rc = gm_plot_write_png(p, path, 900, 560);
out:
    gm_plot_free(p);
    gm_free(x);
    return rc;
}

static int write_outputs(const char *dir, const gm_mix_config *base, size_t m, size_t d, char **arm_paths,
                         const char *ref_path, const double *opt_alpha, double opt_obj, const double *single,
                         algo_result *res, size_t nalgo, size_t runs, uint64_t seed, cJSON *summary) {
    int rc = cli_mkdirs(dir);
    if (rc) return rc;
    size_t T = base->T;
    char path[4096];
    (void)arm_paths, (void)ref_path, (void)d, (void)single, (void)seed;
    /* CSV per algorithm */
    for (size_t a = 0; a < nalgo; a++) {
        algo_result *r = &res[a];
        size_t cap = 64 + m * 16 + T * (80 + m * 32);
        char *buf = malloc(cap), *p = buf;
        if (!buf) GM_FAIL(GM_ENOMEM, "out of memory");
        p += sprintf(p, "round,score_mean,score_sd,objective_mean,regret_mean");
        for (size_t i = 0; i < m; i++) p += sprintf(p, ",w%zu", i);
        if (r->sum.mean_qp)
            for (size_t i = 0; i < m; i++) p += sprintf(p, ",qp%zu", i);
        p += sprintf(p, "\n");
        for (size_t t = 0; t < T; t++) {
            p += sprintf(p, "%zu,%.10g,%.10g,%.10g,%.10g", t + 1, r->sum.mean_score[t], r->sum.sd_score[t], r->sum.mean_objective[t],
                         r->sum.mean_objective[t] - opt_obj);
            for (size_t i = 0; i < m; i++) p += sprintf(p, ",%.6g", r->sum.mean_freq[t * m + i]);
            if (r->sum.mean_qp)
                for (size_t i = 0; i < m; i++) p += sprintf(p, ",%.6g", r->sum.mean_qp[t * m + i]);
            p += sprintf(p, "\n");
        }
        snprintf(path, sizeof path, "%s/trajectory_%s.csv", dir, gm_mix_algo_name(r->algo));
        rc = gm_write_file_atomic(path, buf, (size_t)(p - buf));
        free(buf);
        if (rc) return rc;
    }
    /* JSON: the summary plus the per-round trajectories */
    cJSON *traj = cJSON_AddObjectToObject(summary, "trajectories");
    for (size_t a = 0; a < nalgo; a++) {
        cJSON *o = cJSON_AddObjectToObject(traj, gm_mix_algo_name(res[a].algo));
        cJSON_AddItemToObject(o, "score", cJSON_CreateDoubleArray(res[a].sum.mean_score, (int)T));
        cJSON_AddItemToObject(o, "score_sd", cJSON_CreateDoubleArray(res[a].sum.sd_score, (int)T));
        double *reg = malloc(T * sizeof *reg);
        if (!reg) GM_FAIL(GM_ENOMEM, "out of memory");
        for (size_t t = 0; t < T; t++) reg[t] = res[a].sum.mean_objective[t] - opt_obj;
        cJSON_AddItemToObject(o, "regret", cJSON_CreateDoubleArray(reg, (int)T));
        free(reg);
        cJSON *w = cJSON_AddArrayToObject(o, "weights");
        for (size_t t = 0; t < T; t++) cJSON_AddItemToArray(w, cJSON_CreateDoubleArray(res[a].sum.mean_freq + t * m, (int)m));
        if (res[a].sum.mean_qp) {
            cJSON *q = cJSON_AddArrayToObject(o, "qp_weights");
            for (size_t t = 0; t < T; t++) cJSON_AddItemToArray(q, cJSON_CreateDoubleArray(res[a].sum.mean_qp + t * m, (int)m));
        }
    }
    char *js = cJSON_Print(summary);
    if (!js) GM_FAIL(GM_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/mix.json", dir);
    rc = gm_write_file_atomic(path, js, strlen(js));
    cJSON_free(js);
    if (rc) return rc;
    /* PNG: score vs round */
    snprintf(path, sizeof path, "%s/score.png", dir);
    rc = score_plot(path, res, nalgo, T, runs, score_name(base->quad, base->lin),
                    isfinite(opt_obj) ? gm_mix_score_of(base->quad, base->lin, opt_obj) : (double)NAN);
    (void)opt_alpha;
    return rc;
}

int cmd_mix(int argc, char **argv) {
    enum { O_SIGMA = 1000, O_KERNEL, O_LAMBDA, O_DL, O_DK, O_BETA, O_DG, O_WARM, O_RIDGE, O_COMPAT, O_OFFN, O_KNN, O_JSON, O_OUT };
    static const struct option opts[] = {
        {"arm", required_argument, 0, 'a'},      {"ref", required_argument, 0, 'r'},
        {"score", required_argument, 0, 's'},    {"algo", required_argument, 0, 'A'},
        {"rounds", required_argument, 0, 'T'},   {"runs", required_argument, 0, 'R'},
        {"seed", required_argument, 0, 'S'},     {"sigma", required_argument, 0, O_SIGMA},
        {"kernel", required_argument, 0, O_KERNEL}, {"lambda", required_argument, 0, O_LAMBDA},
        {"delta-l", required_argument, 0, O_DL}, {"delta-kappa", required_argument, 0, O_DK},
        {"beta", required_argument, 0, O_BETA},  {"delta-g", required_argument, 0, O_DG},
        {"warmup", required_argument, 0, O_WARM}, {"ridge", required_argument, 0, O_RIDGE},
        {"code-compat", no_argument, 0, O_COMPAT}, {"offline-n", required_argument, 0, O_OFFN},
        {"knn", required_argument, 0, O_KNN},    {"json", no_argument, 0, O_JSON},
        {"out", required_argument, 0, O_OUT},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    char *arm_paths[GM_MIX_MAX_ARMS];
    size_t m = 0;
    const char *ref_path = NULL, *score_s = NULL, *algo_s = "ogd", *out_dir = NULL, *kernel_s = "gauss";
    long T = 3000, runs = 1, warm = -1, offn = 3000, knn = 5;
    unsigned long long seed = 0;
    double sigma = NAN, lambda = 1.0, dl = NAN, dk = NAN, beta = 1.0, dg = NAN, ridge = 1e-8;
    int compat = 0, json = 0, sigma_median = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        double v;
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case 'a':
            if (m >= GM_MIX_MAX_ARMS) return cli_usage_error("mix", "at most %d arms", GM_MIX_MAX_ARMS);
            arm_paths[m++] = optarg;
            break;
        case 'r': ref_path = optarg; break;
        case 's': score_s = optarg; break;
        case 'A': algo_s = optarg; break;
        case 'T':
            if (cli_parse_range("mix", "--rounds", optarg, 1, 100000000, &T)) return CLI_USAGE;
            break;
        case 'R':
            if (cli_parse_range("mix", "--runs", optarg, 1, 100000, &runs)) return CLI_USAGE;
            break;
        case 'S':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("mix", "--seed takes a non-negative integer");
            break;
        case O_KERNEL: kernel_s = optarg; break;
        case O_WARM:
            if (cli_parse_long(optarg, &warm) || warm < 1) return cli_usage_error("mix", "--warmup takes a positive integer");
            break;
        case O_OFFN:
            if (cli_parse_long(optarg, &offn) || offn < 0) return cli_usage_error("mix", "--offline-n takes an integer >= 0");
            break;
        case O_KNN:
            if (cli_parse_long(optarg, &knn) || knn < 1 || knn > 64) return cli_usage_error("mix", "--knn takes an integer in 1..64");
            break;
        case O_COMPAT: compat = 1; break;
        case O_JSON: json = 1; break;
        case O_OUT: out_dir = optarg; break;
        case O_SIGMA:
            if (!strcmp(optarg, "median")) {
                sigma_median = 1;
                sigma = 1.0;
                break;
            }
            /* fall through */
        case O_LAMBDA: case O_DL: case O_DK: case O_BETA: case O_DG: case O_RIDGE:
            if (cli_parse_double(optarg, &v) || !isfinite(v) || v < 0 || (c == O_SIGMA && v <= 0))
                return cli_usage_error("mix", "--%s takes a %s number", opts[c - O_SIGMA + 7].name, c == O_SIGMA ? "positive" : "non-negative");
            if (c == O_SIGMA) sigma = v;
            else if (c == O_LAMBDA) lambda = v;
            else if (c == O_DL) dl = v;
            else if (c == O_DK) dk = v;
            else if (c == O_BETA) beta = v;
            else if (c == O_DG) dg = v;
            else ridge = v;
            break;
        default: return cli_bad_option("mix", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("mix", "unexpected argument '%s'", argv[optind]);
    if (m == 0) return cli_usage_error("mix", "give at least one --arm FILE");
    if (!score_s) return cli_usage_error("mix", "--score is required (rke, kid, mmd, precision, density)");
    gm_mix_quad quad;
    int lin, prc = parse_score(score_s, &quad, &lin);
    if (prc == -2) return cli_usage_error("mix", "--score: at most one of rke, kid, mmd");
    if (prc) return cli_usage_error("mix", "--score '%s': expected rke|kid|mmd[,precision][,density]", score_s);
    gm_mix_kernel kernel;
    if (!strcmp(kernel_s, "gauss")) kernel = GM_MIX_KERNEL_GAUSS;
    else if (!strcmp(kernel_s, "poly3")) kernel = GM_MIX_KERNEL_POLY3;
    else return cli_usage_error("mix", "--kernel must be gauss or poly3");
    int needs_ref = quad == GM_MIX_QUAD_KID || quad == GM_MIX_QUAD_MMD || lin;
    if (needs_ref && !ref_path) return cli_usage_error("mix", "--score %s needs --ref FILE", score_s);
    int gauss = quad == GM_MIX_QUAD_RKE || ((quad == GM_MIX_QUAD_KID || quad == GM_MIX_QUAD_MMD) && kernel == GM_MIX_KERNEL_GAUSS);
    if (gauss && !isfinite(sigma)) return cli_usage_error("mix", "--sigma is required for the Gaussian kernel (no silent default)");
    gm_mix_algo algos[GM_MIX_ALGO_COUNT];
    size_t nalgo = 0;
    {
        char buf[256];
        if (strlen(algo_s) >= sizeof buf) return cli_usage_error("mix", "--algo list too long");
        strcpy(buf, algo_s);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            gm_mix_algo a;
            if (gm_mix_algo_parse(tok, &a)) return cli_usage_error("mix", "%s", gm_last_error());
            for (size_t k = 0; k < nalgo; k++)
                if (algos[k] == a) return cli_usage_error("mix", "--algo lists '%s' twice", tok);
            algos[nalgo++] = a;
        }
        if (nalgo == 0) return cli_usage_error("mix", "--algo is empty");
    }
    /* files before work: the arms and --ref are readable regular files, --out is (or can become) a folder */
    for (size_t i = 0; i < m; i++)
        if (cli_check_input("mix", "--arm", arm_paths[i])) return CLI_ERR;
    if (cli_check_input("mix", "--ref", ref_path) || cli_check_output_dir("mix", "--out", out_dir)) return CLI_ERR;
    {   /* an input that is one of the files written into --out would be replaced */
        char traj[GM_MIX_ALGO_COUNT][64];
        const char *names[GM_MIX_ALGO_COUNT + 3] = {"mix.json", "score.png"};
        for (size_t k = 0; k < nalgo; k++) {
            snprintf(traj[k], sizeof traj[k], "trajectory_%s.csv", gm_mix_algo_name(algos[k]));
            names[2 + k] = traj[k];
        }
        names[2 + nalgo] = NULL;
        cli_file ins[GM_MIX_MAX_ARMS + 2];
        for (size_t i = 0; i < m; i++) ins[i] = (cli_file){"--arm", arm_paths[i]};
        ins[m] = (cli_file){"--ref", ref_path};
        ins[m + 1] = (cli_file){0};
        if (cli_check_not_in_dir("mix", "--out", out_dir, names, ins)) return CLI_USAGE;
    }

    int rc = GM_OK, ret = CLI_ERR;
    gm_array arms[GM_MIX_MAX_ARMS], refa;
    memset(arms, 0, sizeof arms);
    memset(&refa, 0, sizeof refa);
    size_t loaded = 0, d = 0;
    gm_mix_ref *ref = NULL;
    double *terms[GM_MIX_MAX_ARMS] = {0};
    float *off_x[GM_MIX_MAX_ARMS] = {0};
    double *off_t[GM_MIX_MAX_ARMS] = {0};
    algo_result *res = NULL;
    cJSON *summary = NULL;
    const float *pool[GM_MIX_MAX_ARMS];
    size_t pn[GM_MIX_MAX_ARMS], offn_i[GM_MIX_MAX_ARMS];

    for (size_t i = 0; i < m; i++) {
        char what[32];
        snprintf(what, sizeof what, "arm %zu", i);
        if ((rc = load_features(arm_paths[i], &arms[i], what))) goto fail;
        loaded++;
        size_t di = (size_t)arms[i].shape[1];
        if (i == 0) d = di;
        else if (di != d) {
            rc = gm_set_error(GM_ESHAPE, "%s: arm %zu has D = %zu features, arm 0 (%s) has D = %zu", arm_paths[i], i, di,
                              arm_paths[0], d);
            goto fail;
        }
        pool[i] = arms[i].data;
        pn[i] = (size_t)arms[i].shape[0];
        if (pn[i] < (size_t)T) {
            rc = gm_set_error(GM_EINVAL, "%s: arm %zu has %zu samples, fewer than --rounds %ld", arm_paths[i], i, pn[i], T);
            goto fail;
        }
    }
    if (ref_path) {
        if ((rc = load_features(ref_path, &refa, "the reference"))) goto fail;
        if ((size_t)refa.shape[1] != d) {
            rc = gm_set_error(GM_ESHAPE, "%s: reference has D = %lld features, the arms have D = %zu", ref_path,
                              (long long)refa.shape[1], d);
            goto fail;
        }
        cli_progress("mix: reference %s: %lld x %zu", ref_path, (long long)refa.shape[0], d);
    }
    if (sigma_median && gauss) {
        if (ref_path) {
            rc = gm_mix_median_bandwidth(refa.data, (size_t)refa.shape[0], d, 10000, seed, &sigma);
        } else { /* up to 2000 rows of each arm */
            size_t tot = 0;
            for (size_t i = 0; i < m; i++) tot += pn[i] < 2000 ? pn[i] : 2000;
            float *all = gm_malloc(tot * d * sizeof *all);
            if (!all) { rc = GM_ENOMEM; goto fail; }
            size_t o = 0;
            for (size_t i = 0; i < m; i++) {
                size_t k = pn[i] < 2000 ? pn[i] : 2000;
                memcpy(all + o * d, pool[i], k * d * sizeof *all);
                o += k;
            }
            rc = gm_mix_median_bandwidth(all, tot, d, 10000, seed, &sigma);
            gm_free(all);
        }
        if (rc) goto fail;
        cli_progress("mix: --sigma median = %.6g", sigma);
    }
    if (ref_path) {
        if ((rc = gm_mix_ref_create(&ref, refa.data, (size_t)refa.shape[0], d, kernel, gauss ? sigma : 1.0, lin, (size_t)knn)))
            goto fail;
        for (size_t i = 0; i < m; i++) {
            terms[i] = gm_malloc(pn[i] * GM_MIX_NTERMS * sizeof *terms[i]);
            if (!terms[i]) { rc = GM_ENOMEM; goto fail; }
            if ((rc = gm_mix_ref_terms(ref, pool[i], pn[i], terms[i]))) goto fail;
        }
    }
    gm_mix_config cfg;
    gm_mix_config_default(&cfg, m, d, (size_t)T, quad, lin);
    cfg.kernel = kernel;
    cfg.sigma = gauss ? sigma : 0.0;
    cfg.lambda = lambda;
    if (lin) { /* the default Delta_L depends on lambda */
        gm_mix_config tmp;
        gm_mix_config_default(&tmp, m, d, (size_t)T, quad, 0);
        cfg.delta_L = tmp.delta_L + lambda * (((lin & GM_MIX_LIN_PRECISION) ? 1 : 0) + ((lin & GM_MIX_LIN_DENSITY) ? 1 : 0));
    }
    if (compat) gm_mix_config_code(&cfg);
    if (isfinite(dl)) cfg.delta_L = dl;
    if (isfinite(dk)) cfg.delta_kappa = dk;
    if (isfinite(dg)) cfg.delta_G = dg;
    cfg.beta = beta;
    cfg.ridge = ridge;
    if (warm > 0) cfg.n0 = (size_t)warm;
    cfg.seed = seed;

    /* offline optimum from up to offline-n random samples per arm */
    double opt_alpha[GM_MIX_MAX_ARMS], opt_obj = NAN, Kh[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS], fh[GM_MIX_MAX_ARMS];
    double single[GM_MIX_MAX_ARMS];
    {
        double t0 = gm_time_now();
        for (size_t i = 0; i < m; i++) {
            size_t k = (offn == 0 || (size_t)offn > pn[i]) ? pn[i] : (size_t)offn;
            offn_i[i] = k;
            size_t *idx = gm_malloc(k * sizeof *idx);
            off_x[i] = gm_malloc(k * d * sizeof *off_x[i]);
            off_t[i] = gm_malloc(k * GM_MIX_NTERMS * sizeof *off_t[i]);
            if (!idx || !off_x[i] || !off_t[i]) { gm_free(idx); rc = GM_ENOMEM; goto fail; }
            gm_rng r;
            gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_EVAL, i));
            if ((rc = gm_rng_choice(&r, pn[i], k, idx))) { gm_free(idx); goto fail; }
            for (size_t j = 0; j < k; j++) {
                memcpy(off_x[i] + j * d, pool[i] + idx[j] * d, d * sizeof(float));
                if (terms[i]) memcpy(off_t[i] + j * GM_MIX_NTERMS, terms[i] + idx[j] * GM_MIX_NTERMS, GM_MIX_NTERMS * sizeof(double));
                else memset(off_t[i] + j * GM_MIX_NTERMS, 0, GM_MIX_NTERMS * sizeof(double));
            }
            gm_free(idx);
        }
        if ((rc = gm_mix_offline(&cfg, ref, (const float *const *)off_x, offn_i, (const double *const *)off_t, opt_alpha,
                                 &opt_obj, Kh, fh)))
            goto fail;
        double cst = ref && (quad == GM_MIX_QUAD_KID || quad == GM_MIX_QUAD_MMD) ? gm_mix_ref_self(ref) : 0.0;
        for (size_t i = 0; i < m; i++) single[i] = gm_mix_score_of(quad, lin, Kh[i * m + i] + fh[i] + cst);
        cli_progress("mix: offline optimum from %zu samples/arm in %.1f s", offn_i[0], gm_time_now() - t0);
    }

    res = gm_calloc(nalgo, sizeof *res);
    if (!res) { rc = GM_ENOMEM; goto fail; }
    for (size_t a = 0; a < nalgo; a++) {
        algo_result *r = &res[a];
        r->algo = algos[a];
        gm_mix_config ca = cfg;
        ca.algo = algos[a];
        if (ca.algo == GM_MIX_ORACLE) memcpy(ca.oracle_alpha, opt_alpha, m * sizeof *opt_alpha);
        if (ca.algo == GM_MIX_BEST1) {
            size_t best = 0;
            for (size_t i = 1; i < m; i++)
                if (Kh[i * m + i] + fh[i] < Kh[best * m + best] + fh[best]) best = i;
            ca.oracle_arm = best;
        }
        double t0 = gm_time_now();
        if ((rc = gm_mix_simulate(&ca, ref, pool, pn, ref ? (const double *const *)terms : NULL, (size_t)runs, &r->tr)))
            goto fail;
        if ((rc = gm_mix_trace_summarize(&r->tr, &r->sum))) goto fail;
        r->final_regret = r->sum.final_objective - opt_obj;
        cli_progress("mix: %s: %ld run(s) x %ld rounds in %.2f s", gm_mix_algo_name(r->algo), runs, T, gm_time_now() - t0);
    }

    /* ---- summary ---- */
    const char *sn = score_name(quad, lin);
    summary = cJSON_CreateObject();
    if (!summary) { rc = GM_ENOMEM; goto fail; }
    cJSON_AddStringToObject(summary, "score", score_s);
    cJSON_AddStringToObject(summary, "reported", sn);
    cJSON_AddBoolToObject(summary, "higher_is_better", gm_mix_higher_better(quad, lin));
    cJSON_AddNumberToObject(summary, "sigma", gauss ? sigma : 0.0);
    cJSON_AddStringToObject(summary, "kernel", quad == GM_MIX_QUAD_RKE ? "gauss(sigma/sqrt2)" : kernel_s);
    cJSON_AddNumberToObject(summary, "rounds", (double)T);
    cJSON_AddNumberToObject(summary, "runs", (double)runs);
    cJSON_AddNumberToObject(summary, "seed", (double)seed);
    cJSON_AddNumberToObject(summary, "delta_L", cfg.delta_L);
    cJSON_AddNumberToObject(summary, "delta_kappa", cfg.delta_kappa);
    cJSON_AddNumberToObject(summary, "beta", cfg.beta);
    cJSON_AddNumberToObject(summary, "warmup", (double)cfg.n0);
    cJSON_AddBoolToObject(summary, "code_compat", compat);
    cJSON *ja = cJSON_AddArrayToObject(summary, "arms");
    for (size_t i = 0; i < m; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", arm_paths[i]);
        cJSON_AddNumberToObject(o, "samples", (double)pn[i]);
        cJSON_AddNumberToObject(o, "single_score", single[i]);
        cJSON_AddItemToArray(ja, o);
    }
    if (ref_path) cJSON_AddStringToObject(summary, "ref", ref_path);
    cJSON *jo = cJSON_AddObjectToObject(summary, "offline");
    cJSON_AddNumberToObject(jo, "samples_per_arm", (double)offn_i[0]);
    cJSON_AddItemToObject(jo, "weights", cJSON_CreateDoubleArray(opt_alpha, (int)m));
    cJSON_AddNumberToObject(jo, "score", gm_mix_score_of(quad, lin, opt_obj));
    cJSON_AddNumberToObject(jo, "objective", opt_obj);
    cJSON *pc = cJSON_AddArrayToObject(summary, "plot_colors");
    for (size_t a = 0; a < nalgo; a++) cJSON_AddItemToArray(pc, cJSON_CreateString(gm_plot_color_name(a)));
    cJSON *jr = cJSON_AddObjectToObject(summary, "results");
    for (size_t a = 0; a < nalgo; a++) {
        cJSON *o = cJSON_AddObjectToObject(jr, gm_mix_algo_name(res[a].algo));
        cJSON_AddItemToObject(o, "weights", cJSON_CreateDoubleArray(res[a].sum.final_weights, (int)m));
        cJSON_AddNumberToObject(o, "score", res[a].sum.final_score_mean);
        cJSON_AddNumberToObject(o, "score_sd", res[a].sum.final_score_sd);
        cJSON_AddNumberToObject(o, "regret", res[a].final_regret);
    }
    if (json) {
        char *js = cJSON_Print(summary);
        if (js) puts(js);
        cJSON_free(js);
    } else {
        printf("arms: %zu (D = %zu), score %s, sigma %g, rounds %ld, runs %ld, seed %llu\n", m, d, score_s, gauss ? sigma : 0.0, T,
               runs, seed);
        printf("%-16s", "single arms");
        for (size_t i = 0; i < m; i++) printf(" %8.4g", single[i]);
        printf("   (%s)\n%-16s", sn, "offline optimum");
        for (size_t i = 0; i < m; i++) printf(" %8.3f", opt_alpha[i]);
        printf("   %s %.5g\n", sn, gm_mix_score_of(quad, lin, opt_obj));
        for (size_t a = 0; a < nalgo; a++) {
            printf("%-16s", gm_mix_algo_name(res[a].algo));
            for (size_t i = 0; i < m; i++) printf(" %8.3f", res[a].sum.final_weights[i]);
            printf("   %s %.5g", sn, res[a].sum.final_score_mean);
            if (runs > 1) printf(" +- %.2g", res[a].sum.final_score_sd);
            printf("   regret %.3g\n", res[a].final_regret);
        }
    }
    if (out_dir) {
        if ((rc = write_outputs(out_dir, &cfg, m, d, arm_paths, ref_path, opt_alpha, opt_obj, single, res, nalgo, (size_t)runs,
                                seed, summary)))
            goto fail;
        cli_progress("mix: wrote %s/mix.json, trajectory_*.csv, score.png", out_dir);
    }
    ret = CLI_OK;
    goto done;
fail:
    ret = cli_fail(rc);
done:
    cJSON_Delete(summary);
    if (res)
        for (size_t a = 0; a < nalgo; a++) {
            gm_mix_trace_free(&res[a].tr);
            gm_mix_trace_summary_free(&res[a].sum);
        }
    gm_free(res);
    for (size_t i = 0; i < m; i++) {
        gm_free(terms[i]);
        gm_free(off_x[i]);
        gm_free(off_t[i]);
    }
    gm_mix_ref_free(ref);
    for (size_t i = 0; i < loaded; i++) gm_array_free(&arms[i]);
    gm_array_free(&refa);
    return ret;
}
