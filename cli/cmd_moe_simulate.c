/* SPDX-License-Identifier: MIT */
/* cmd_moe_simulate.c — `genmix moe simulate`: the convergence-rate study. Runs gm_moe_simulate per case,
 * summarises with gm_moe_sim_summarize, writes the per-fit CSV, the JSON summary and the log-log plots
 * (--replot redraws the plots from a summary). Options, files and printing only. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cmd_moe.h"
#include "genmix/plot.h"

/* ============================================================================================== */
/* simulate                                                                                        */
/* ============================================================================================== */

static void simulate_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe simulate [--case all|exact|over|regime2|modified] [options] --out DIR\n\n"
            "The convergence-rate study of the softmax-gated multinomial-logistic MoE (spec section 4.2): data\n"
            "from design A (default; K = 3 classes, 2 true experts, x ~ U[-1,1]) or B (--design B), drawn by the\n"
            "LCG generator shared with R; nearTrue start, EM (tol 1e-6, <= max-iter; as the reference code, no\n"
            "polish unless --polish). Cases:\n"
            "  exact     k = 2 fitted experts, standard gating\n"
            "  over      k = 3, standard gating, all true slopes non-zero (Regime 1)\n"
            "  regime2   k = 3, expert 2's slopes a*_2 = 0, standard gating (vanishing parameters)\n"
            "  modified  as regime2 with the modified gate sigmoid(x)\n"
            "Measured per fit: D1 (exponent 1 on singleton, 2 on multi-atom cells) and the plain parameter errors\n"
            "(exponent 1) of the over-specified cell's gate slopes and expert slopes, without its intercepts b\n"
            "(not identifiable when a* = 0). Summaries: median and mean over replications, OLS slopes of their\n"
            "logs on log n (whole grid and upper half). Theory: exact D1 n^-1/2; over D1 n^-1/2 and cell\n"
            "parameters n^-1/4; regime2 cell parameters slower than any polynomial; modified n^-1/4 again.\n"
            "Writes DIR/moe_sim_<case>.csv (one row per fit), DIR/moe_sim_summary.json and the log-log plots\n"
            "DIR/moe_sim.png (D1) and DIR/moe_sim_params.png (cell parameter errors).\n\n"
            "options:\n"
            "  --design A|B    true model: design A (default; spec 7.2) or design B (spec 7.3: K = 2 classes,\n"
            "                  x ~ U[-3,3], gate (0, 1.5), experts (0.5, 1) and (-0.5, -1.5); regime2 sets -1.5 to 0)\n"
            "  --reps R        replications per n (default 10; the documented study uses 40)\n"
            "  --nmin N        smallest n (default 1000)\n"
            "  --nmax N        largest n (default 32000; the documented study uses 100000)\n"
            "  --ngrid G       grid points, log-spaced (default 5; the documented study uses 8)\n"
            "  --max-iter N    EM iterations (default 2000)\n"
            "  --seed N        base seed (default 1)\n"
            "  --tol X         EM relative tolerance (default 1e-6)\n"
            "  --split J|random  nearTrue: the extra fitted atom copies true expert J (default 2, the expert\n"
            "                  whose slopes vanish in regime2/modified) or a random one (spec 4.1)\n"
            "  --polish        Newton-polish each EM fit to the local maximum (slow; see docs/moe.md)\n"
            "  --no-plot       do not write the PNG plots\n"
            "  --replot DIR    only redraw DIR's PNG plots from its moe_sim_summary.json (no fitting)\n"
            "  --out DIR       output directory (required)\n"
            "Replications run in parallel (--threads); results do not depend on the thread count.\n");
}

typedef struct {
    const char *name;
    size_t k_fit;
    int regime2;
    gm_moe_gate gate;
    const char *theory;
} sim_case;

static const sim_case sim_cases[] = {
    {"exact", 2, 0, GM_MOE_GATE_IDENTITY, "D1 -1/2; parameters -1/2"},
    {"over", 3, 0, GM_MOE_GATE_IDENTITY, "D1 -1/2; cell parameters -1/4"},
    {"regime2", 3, 1, GM_MOE_GATE_IDENTITY, "cell parameters slower than any polynomial (slope -> 0)"},
    {"modified", 3, 1, GM_MOE_GATE_SIGMOID, "cell parameters -1/4 (b of the cell not identifiable)"},
};
#define N_SIM_CASES 4

static const char *sim_title(char design) {
    return design == 'B' ? "MoE design B: median Voronoi loss D1 vs n" : "MoE design A: median Voronoi loss D1 vs n";
}

static void sim_progress(size_t done, size_t total, void *ctx) {
    cli_progress("moe simulate %s: n grid point %zu/%zu done (%.1f s)", ((const char **)ctx)[0], done, total,
                 gm_time_now() - *(const double *)((const char **)ctx)[1]);
}

#define N_Q GM_MOE_SIM_NQ
#define Q_D1 GM_MOE_SIM_D1
#define Q_CELL GM_MOE_SIM_CELL
#define Q_SINGLE GM_MOE_SIM_SINGLE
typedef gm_moe_sim_summary sim_summary;

static cJSON *num_array(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *num_array_nan(const double *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
    return a;
}

static void add_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* log-log plot of one quantity for every case run, slopes of the medians in the legend */
static int sim_plot(const char *path, const char *title, const char *ylabel, int qi, const double *ns, size_t G,
                    const sim_summary *sum, const int *ran, int with_ref) {
    gm_plot *p;
    int rc = gm_plot_create(&p, title, "n", ylabel);
    if (rc) return rc;
    gm_plot_set_log(p, 1, 1);
    double y0 = NAN;
    for (size_t ci = 0; ci < N_SIM_CASES && !rc; ci++) {
        if (!ran[ci] || !isfinite(sum[ci].slope_median[qi])) continue;
        char label[128];
        snprintf(label, sizeof label, "%s: slope %.2f", sim_cases[ci].name, sum[ci].slope_median[qi]);
        rc = gm_plot_line(p, ns, sum[ci].median[qi], G, label);
        if (isnan(y0) && isfinite(sum[ci].median[qi][0])) y0 = sum[ci].median[qi][0];
    }
    if (!rc && with_ref && isfinite(y0)) {
        double ref[64], ref4[64];
        for (size_t g = 0; g < G; g++) {
            ref[g] = y0 * pow(ns[g] / ns[0], -0.5);
            ref4[g] = y0 * pow(ns[g] / ns[0], -0.25);
        }
        rc = gm_plot_line(p, ns, ref, G, "reference n^-1/2");
        if (!rc) rc = gm_plot_line(p, ns, ref4, G, "reference n^-1/4");
    }
    if (!rc) rc = gm_plot_write_png(p, path, 900, 600);
    gm_plot_free(p);
    return rc;
}

/* --replot DIR: redraw the PNGs from DIR/moe_sim_summary.json (no fitting) */
static int sim_replot(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/moe_sim_summary.json", dir);
    void *data;
    size_t len;
    int rc = gm_read_file(path, &data, &len);
    if (rc) return cli_fail(rc);
    cJSON *root = cJSON_ParseWithLength(data, len);
    gm_free(data);
    const cJSON *jn = root ? cJSON_GetObjectItemCaseSensitive(root, "n") : NULL;
    const cJSON *jc = root ? cJSON_GetObjectItemCaseSensitive(root, "cases") : NULL;
    size_t G = cJSON_IsArray(jn) ? (size_t)cJSON_GetArraySize(jn) : 0;
    if (!cJSON_IsObject(jc) || G < 2 || G > 64) {
        cJSON_Delete(root);
        gm_set_error(GM_EFORMAT, "%s: not a moe simulate summary", path);
        return cli_fail(GM_EFORMAT);
    }
    double ns[64];
    sim_summary *sum = calloc(N_SIM_CASES, sizeof(sim_summary));
    int ran[N_SIM_CASES] = {0};
    if (!sum) {
        cJSON_Delete(root);
        return cli_fail(GM_ENOMEM);
    }
    for (size_t g = 0; g < G; g++) ns[g] = cJSON_GetNumberValue(cJSON_GetArrayItem(jn, (int)g));
    const int qs[2] = {Q_D1, Q_CELL};
    for (size_t ci = 0; ci < N_SIM_CASES; ci++) {
        const cJSON *cj = cJSON_GetObjectItemCaseSensitive(jc, sim_cases[ci].name);
        if (!cJSON_IsObject(cj)) continue;
        ran[ci] = 1;
        for (int a = 0; a < 2; a++) {
            int qi = qs[a];
            const cJSON *qo = cJSON_GetObjectItemCaseSensitive(cj, gm_moe_sim_quantity_name(qi));
            const cJSON *med = qo ? cJSON_GetObjectItemCaseSensitive(qo, "median") : NULL;
            const cJSON *sl = qo ? cJSON_GetObjectItemCaseSensitive(qo, "slope_median") : NULL;
            for (size_t g = 0; g < G; g++) {
                const cJSON *v = cJSON_IsArray(med) ? cJSON_GetArrayItem(med, (int)g) : NULL;
                sum[ci].median[qi][g] = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
            }
            sum[ci].slope_median[qi] = cJSON_IsNumber(sl) ? sl->valuedouble : (double)NAN;
        }
    }
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(root, "design");
    char design = cJSON_IsString(jd) && !strcmp(jd->valuestring, "B") ? 'B' : 'A';
    cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/moe_sim.png", dir);
    rc = sim_plot(path, sim_title(design), "median D1", Q_D1, ns, G, sum, ran, 1);
    if (!rc) {
        snprintf(path, sizeof path, "%s/moe_sim_params.png", dir);
        rc = sim_plot(path, "over-specified cell: gate + expert slope errors vs n", "median error", Q_CELL, ns, G,
                      sum, ran, 1);
    }
    free(sum);
    if (rc) return cli_fail(rc);
    printf("wrote %s/moe_sim.png and moe_sim_params.png\n", dir);
    return CLI_OK;
}

int moe_simulate(int argc, char **argv) {
    static const struct option opts[] = {
        {"case", required_argument, 0, 'c'},     {"reps", required_argument, 0, 'r'},
        {"nmin", required_argument, 0, 'a'},     {"nmax", required_argument, 0, 'b'},
        {"ngrid", required_argument, 0, 'g'},    {"max-iter", required_argument, 0, 'm'},
        {"seed", required_argument, 0, 's'},     {"out", required_argument, 0, 'o'},
        {"polish", no_argument, 0, 'P'},         {"tol", required_argument, 0, 'e'},
        {"split", required_argument, 0, 'S'},    {"no-plot", no_argument, 0, 'N'},
        {"replot", required_argument, 0, 'R'},   {"design", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *which = "all", *outdir = NULL;
    char design = 'A';
    int polish = 0, plot = 1;
    double tol = 1e-6;
    long reps = 10, ngrid = 5, max_iter = 2000, split = 2;
    double nmin = 1000, nmax = 32000;
    unsigned long long seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': which = optarg; break;
        case 'r':
            if (cli_parse_long(optarg, &reps) || reps < 1) return cli_usage_error("moe simulate", "--reps >= 1");
            break;
        case 'a':
            if (cli_parse_double(optarg, &nmin) || nmin < 50) return cli_usage_error("moe simulate", "--nmin >= 50");
            break;
        case 'b':
            if (cli_parse_double(optarg, &nmax) || nmax < 50) return cli_usage_error("moe simulate", "--nmax >= 50");
            break;
        case 'g':
            if (cli_parse_long(optarg, &ngrid) || ngrid < 2 || ngrid > 64)
                return cli_usage_error("moe simulate", "--ngrid between 2 and 64");
            break;
        case 'm':
            if (cli_parse_long(optarg, &max_iter) || max_iter < 1) return cli_usage_error("moe simulate", "--max-iter >= 1");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("moe simulate", "--seed takes an integer");
            break;
        case 'o': outdir = optarg; break;
        case 'P': polish = 1; break;
        case 'N': plot = 0; break;
        case 'R': return sim_replot(optarg);
        case 'D':
            if (strcmp(optarg, "A") && strcmp(optarg, "B")) return cli_usage_error("moe simulate", "--design takes A or B");
            design = optarg[0];
            break;
        case 'S':
            if (!strcmp(optarg, "random")) split = 0;
            else if (cli_parse_long(optarg, &split) || split < 1 || split > 2)
                return cli_usage_error("moe simulate", "--split takes 1, 2 or random");
            break;
        case 'e':
            if (cli_parse_double(optarg, &tol) || !(tol >= 0)) return cli_usage_error("moe simulate", "--tol >= 0");
            break;
        case 'h': simulate_usage(stdout); return CLI_OK;
        default: return cli_bad_option("moe simulate", argv, NULL);
        }
    }
    if (!outdir) return cli_usage_error("moe simulate", "--out DIR is required");
    if (nmax < nmin) return cli_usage_error("moe simulate", "--nmax must be >= --nmin");
    int any = 0;
    for (size_t i = 0; i < N_SIM_CASES; i++) any |= !strcmp(which, "all") || !strcmp(which, sim_cases[i].name);
    if (!any) return cli_usage_error("moe simulate", "--case must be all, exact, over, regime2 or modified");
    if (cli_check_output_dir("moe simulate", "--out", outdir)) return CLI_ERR;
    int rc = cli_mkdirs(outdir);
    if (rc) return cli_fail(rc);
    size_t G = (size_t)ngrid, R = (size_t)reps;
    double *ns = malloc(G * sizeof(double));
    gm_moe_sim_record *rec = malloc(G * R * sizeof(gm_moe_sim_record));
    sim_summary *sum = calloc(N_SIM_CASES, sizeof(sim_summary));
    int ran[N_SIM_CASES] = {0};
    if (!ns || !rec || !sum) {
        free(ns), free(rec), free(sum);
        return cli_fail(GM_ENOMEM);
    }
    for (size_t g = 0; g < G; g++) ns[g] = floor(exp(log(nmin) + (log(nmax) - log(nmin)) * (double)g / (double)(G - 1)) + 0.5);
    size_t h = G / 2;
    cJSON *summary = cJSON_CreateObject();
    cJSON_AddStringToObject(summary, "design", design == 'B' ? "B" : "A");
    cJSON_AddNumberToObject(summary, "reps", (double)R);
    cJSON_AddNumberToObject(summary, "seed", (double)seed);
    cJSON_AddBoolToObject(summary, "polish", polish);
    cJSON_AddNumberToObject(summary, "tol", tol);
    cJSON_AddNumberToObject(summary, "max_iter", (double)max_iter);
    if (split) cJSON_AddNumberToObject(summary, "split_expert", (double)split);
    else cJSON_AddStringToObject(summary, "split_expert", "random");
    cJSON_AddItemToObject(summary, "n", num_array(ns, G));
    cJSON_AddNumberToObject(summary, "upper_half_from_n", ns[h]);
    cJSON *cases = cJSON_AddObjectToObject(summary, "cases");
    int status = CLI_OK;
    printf("slopes of log(median over replications) on log n, whole grid | upper half (n >= %.0f)\n"
           "D1 = Voronoi loss D1; cell = gate+expert slope errors (exponent 1) in the over-specified cell;\n"
           "single = all parameter errors in singleton cells (exponent 1)\n", ns[h]);
    printf("%-9s %15s %15s %15s %6s %7s  %s\n", "case", "D1", "cell", "single", "degen", "med_it", "theory");
    double t_all = gm_time_now();
    for (size_t ci = 0; ci < N_SIM_CASES; ci++) {
        const sim_case *sc = &sim_cases[ci];
        if (strcmp(which, "all") && strcmp(which, sc->name)) continue;
        gm_moe truth;
        double xr = 1.0;
        rc = gm_moe_spec_design(&truth, design, sc->regime2, sc->gate, &xr);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        gm_moe_sim_config cfg = gm_moe_sim_config_default();
        cfg.truth = &truth;
        cfg.xr = xr;
        cfg.k_fit = sc->k_fit;
        cfg.ns = ns;
        cfg.n_grid = G;
        cfg.reps = R;
        cfg.seed = seed;
        cfg.fit.max_iter = (size_t)max_iter;
        cfg.fit.polish = polish;
        cfg.fit.tol = tol;
        cfg.split_atom = split ? (size_t)(split - 1) : SIZE_MAX;
        double t0 = gm_time_now();
        const void *ctx[2] = {sc->name, &t0};
        rc = gm_moe_simulate(&cfg, rec, sim_progress, (void *)ctx);
        gm_moe_free(&truth);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        ran[ci] = 1;
        /* per-fit CSV */
        char path[4096];
        snprintf(path, sizeof path, "%s/moe_sim_%s.csv", outdir, sc->name);
        size_t cap = 512 + G * R * 512;
        char *buf = malloc(cap), *w = buf;
        if (!buf) {
            status = cli_fail(GM_ENOMEM);
            break;
        }
        w += sprintf(w, "n,rep,data_seed,D1,D1_mass,D1_beta,D1_a,D1_b,D1_b_cell,n_multi,n_empty,err_mass,err_beta,"
                        "err_a,err_b,err_beta_cell,err_a_cell,err_b_cell,loglik,grad_norm,iterations,flags\n");
        for (size_t g = 0; g < G; g++)
            for (size_t r = 0; r < R; r++) {
                const gm_moe_sim_record *q = &rec[g * R + r];
                const gm_moe_voronoi *L = &q->loss, *E = &q->loss1;
                w += sprintf(w,
                             "%zu,%zu,%u,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%zu,%zu,%.17g,%.17g,%.17g,%.17g,%.17g,"
                             "%.17g,%.17g,%.17g,%.17g,%zu,%d\n",
                             q->n, q->rep, q->data_seed, L->total, L->mass, L->beta, L->a, L->b, L->b_multi,
                             L->n_multi, L->n_empty, E->mass, E->beta, E->a, E->b, E->beta_multi, E->a_multi,
                             E->b_multi, q->loglik, q->grad_norm, q->iterations, q->flags);
            }
        rc = gm_write_file_atomic(path, buf, (size_t)(w - buf));
        free(buf);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        sim_summary *S = &sum[ci];
        rc = gm_moe_sim_summarize(rec, ns, G, R, S);
        if (rc) {
            status = cli_fail(rc);
            break;
        }
        size_t degenerate = S->degenerate;
        double med_it = S->median_iterations_at_nmax;
        cJSON *cj = cJSON_AddObjectToObject(cases, sc->name);
        cJSON_AddNumberToObject(cj, "k_fit", (double)sc->k_fit);
        cJSON_AddStringToObject(cj, "gate", gm_moe_gate_name(sc->gate));
        cJSON_AddBoolToObject(cj, "vanishing_a2", sc->regime2);
        for (int qi = 0; qi < N_Q; qi++) {
            cJSON *qo = cJSON_AddObjectToObject(cj, gm_moe_sim_quantity_name(qi));
            cJSON_AddItemToObject(qo, "median", num_array_nan(S->median[qi], G));
            cJSON_AddItemToObject(qo, "mean", num_array_nan(S->mean[qi], G));
            add_num_or_null(qo, "slope_median", S->slope_median[qi]);
            add_num_or_null(qo, "slope_median_upper_half", S->slope_median_upper[qi]);
            add_num_or_null(qo, "slope_mean", S->slope_mean[qi]);
        }
        cJSON_AddNumberToObject(cj, "degenerate_fits", (double)degenerate);
        cJSON_AddNumberToObject(cj, "median_em_iterations_at_nmax", med_it);
        cJSON_AddStringToObject(cj, "theory", sc->theory);
        cJSON_AddNumberToObject(cj, "seconds", gm_time_now() - t0);
        printf("%-9s %6.3f | %6.3f %6.3f | %6.3f %6.3f | %6.3f %6zu %7.0f  %s\n", sc->name, S->slope_median[Q_D1],
               S->slope_median_upper[Q_D1], S->slope_median[Q_CELL], S->slope_median_upper[Q_CELL],
               S->slope_median[Q_SINGLE], S->slope_median_upper[Q_SINGLE], degenerate, med_it, sc->theory);
        fflush(stdout);
    }
    if (status == CLI_OK) {
        cJSON_AddNumberToObject(summary, "seconds", gm_time_now() - t_all);
        char path[4096];
        snprintf(path, sizeof path, "%s/moe_sim_summary.json", outdir);
        rc = moe_write_json(path, summary);
        if (rc) status = cli_fail(rc);
        if (!rc && plot) {
            snprintf(path, sizeof path, "%s/moe_sim.png", outdir);
            rc = sim_plot(path, sim_title(design), "median D1", Q_D1, ns, G, sum, ran, 1);
            if (!rc) {
                snprintf(path, sizeof path, "%s/moe_sim_params.png", outdir);
                rc = sim_plot(path, "over-specified cell: gate + expert slope errors vs n", "median error",
                              Q_CELL, ns, G, sum, ran, 1);
            }
            if (rc) status = cli_fail(rc);
        }
        if (status == CLI_OK)
            printf("wrote %s/moe_sim_*.csv, moe_sim_summary.json%s (%.1f s)\n", outdir,
                   plot ? ", moe_sim.png, moe_sim_params.png" : "", gm_time_now() - t_all);
    }
    cJSON_Delete(summary);
    free(ns);
    free(rec);
    free(sum);
    return status;
}

/* ============================================================================================== */
