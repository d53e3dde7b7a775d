/* SPDX-License-Identifier: MIT */
/* cmd_pr_curve.c — `genmix pr-curve`: precision–recall curves α_λ/β_λ (and D_λ-PR) of one or more
 * generated sample sets against a real set, by the classifier, k-NN density-ratio or histogram estimator
 * of genmix/prdiv.h; table or JSON on stdout, optional PNG with every model's curve and the λ grid marked.
 * Options and printing only. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/plot.h"
#include "genmix/prdiv.h"

#define MAX_FAKE 8
#define MAX_LAMBDA 1024
#define PLOT_DENSE 161 /* λ = 10^(-4 .. 4) for the plotted curve */

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix pr-curve --real R.npy --fake F.npy [--fake G.npy ...] [options]\n"
            "\n"
            "Precision-recall curve of each generated set (Q) against the real set (P): for every lambda of the\n"
            "grid, alpha = integral of min(lambda p, q) (precision), beta = alpha / lambda (recall) and the\n"
            "PR-divergence D = min(lambda, 1) - alpha. Inputs are N x D float32/float64 .npy matrices (a 1-D\n"
            "array is N x 1); all sets must have the same D.\n"
            "\n"
            "options:\n"
            "  --real FILE           real samples (required)\n"
            "  --fake FILE           generated samples (required; up to %d)\n"
            "  --label NAME          legend/JSON name of the matching --fake (default: its path)\n"
            "  --lambda-grid LIST    comma-separated lambdas > 0, or log:LO:HI:N (N log-spaced values)\n"
            "                        (default 0.1,0.2,0.5,1,2,5,10)\n"
            "  --estimator NAME      knn (default) | classifier | hist\n"
            "  --k K                 knn: neighbours (5)\n"
            "  --runs R, --epochs E  classifier: classifiers combined by median logit (10), epochs (10)\n"
            "  --hidden H            classifier: one hidden ReLU layer of width H (default 0 = linear)\n"
            "  --clusters C          hist: k-means clusters (20); --seed S  seed (0)\n"
            "  --json                print the results as JSON instead of a table\n"
            "  --plot FILE.png       precision (alpha) vs recall (beta), one curve per model (lambda from\n"
            "                        1e-4 to 1e4) and the grid's lambdas as a points series of its own\n"
            "\n"
            "exit codes: 0 ok; 1 unreadable input, wrong shape (not 1-D/2-D, dimensions differ, too few rows),\n"
            "NaN/Inf in a file; 2 usage (unknown option, missing --real/--fake, lambda <= 0 or malformed grid).\n",
            MAX_FAKE);
}

/* Parse "a,b,c" or "log:LO:HI:N" into lam; returns the count or -1 (message in err). */
static long parse_grid(const char *s, double *lam, char *err, size_t errlen) {
    long n = 0;
    if (!strncmp(s, "log:", 4)) {
        double lo, hi;
        long cnt;
        char *e1, *e2, *e3;
        lo = strtod(s + 4, &e1);
        if (*e1 != ':') goto bad;
        hi = strtod(e1 + 1, &e2);
        if (*e2 != ':') goto bad;
        cnt = strtol(e2 + 1, &e3, 10);
        if (*e3 || cnt < 1 || cnt > MAX_LAMBDA) goto bad;
        if (!(lo > 0) || !(hi >= lo) || !isfinite(hi)) {
            snprintf(err, errlen, "--lambda-grid: need 0 < LO <= HI (got %g, %g)", lo, hi);
            return -1;
        }
        for (long i = 0; i < cnt; i++) lam[i] = cnt == 1 ? lo : exp(log(lo) + (log(hi) - log(lo)) * (double)i / (double)(cnt - 1));
        return cnt;
    }
    const char *p = s;
    while (*p) {
        char *e;
        double v = strtod(p, &e);
        if (e == p || (*e && *e != ',')) goto bad;
        if (!(v > 0) || !isfinite(v)) {
            snprintf(err, errlen, "--lambda-grid: lambda = %g must be finite and > 0", v);
            return -1;
        }
        if (n >= MAX_LAMBDA) goto bad;
        lam[n++] = v;
        p = *e ? e + 1 : e;
    }
    if (n == 0) goto bad;
    return n;
bad:
    snprintf(err, errlen, "--lambda-grid: malformed '%s' (want L1,L2,... or log:LO:HI:N, at most %d values)", s, MAX_LAMBDA);
    return -1;
}

/* Read an N x D (or N) float matrix as gm_feats (float32 kept, anything else converted to float64). */
static int read_feats(const char *path, gm_array *a, gm_feats *f) {
    int rc = gm_npy_read(path, a);
    if (rc) return rc;
    if (a->ndim < 1 || a->ndim > 2 || a->shape[0] < 1) {
        gm_array_free(a);
        GM_FAIL(GM_ESHAPE, "%s: want an N x D matrix (or a vector), got %d dimensions", path, a->ndim);
    }
    if (a->dtype != GM_DTYPE_F32 && (rc = gm_array_convert(a, GM_DTYPE_F64))) {
        gm_array_free(a);
        return rc;
    }
    if ((rc = gm_array_check_finite(a, path))) {
        gm_array_free(a);
        return rc == GM_ENUMERIC ? gm_set_error(GM_EINVAL, "%s", gm_last_error()) : rc;
    }
    size_t n = (size_t)a->shape[0], d = a->ndim == 2 ? (size_t)a->shape[1] : 1;
    *f = a->dtype == GM_DTYPE_F32 ? gm_feats_f32(a->data, n, d) : gm_feats_f64(a->data, n, d);
    return GM_OK;
}

int cmd_pr_curve(int argc, char **argv) {
    enum { O_REAL = 256, O_FAKE, O_LABEL, O_GRID, O_EST, O_K, O_RUNS, O_EPOCHS, O_HIDDEN, O_CLUST, O_SEED, O_JSON, O_PLOT };
    static const struct option lo[] = {
        {"real", required_argument, 0, O_REAL},     {"fake", required_argument, 0, O_FAKE},
        {"label", required_argument, 0, O_LABEL},   {"lambda-grid", required_argument, 0, O_GRID},
        {"estimator", required_argument, 0, O_EST}, {"k", required_argument, 0, O_K},
        {"runs", required_argument, 0, O_RUNS},     {"epochs", required_argument, 0, O_EPOCHS},
        {"hidden", required_argument, 0, O_HIDDEN}, {"clusters", required_argument, 0, O_CLUST},
        {"seed", required_argument, 0, O_SEED},     {"json", no_argument, 0, O_JSON},
        {"plot", required_argument, 0, O_PLOT},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *real_path = NULL, *fake_path[MAX_FAKE], *label[MAX_FAKE] = {0}, *plot = NULL;
    int nfake = 0, nlabel = 0, json = 0;
    double lam[MAX_LAMBDA] = {0.1, 0.2, 0.5, 1, 2, 5, 10};
    long nlam = 7;
    gm_prcurve_estimator est = GM_PRCURVE_KNN;
    gm_prcurve_config pc = gm_prcurve_config_default();
    const char *cmd = "pr-curve";
    char err[256];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        long v;
        unsigned long long u;
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case O_REAL: real_path = optarg; break;
        case O_FAKE:
            if (nfake >= MAX_FAKE) return cli_usage_error(cmd, "at most %d --fake sets", MAX_FAKE);
            fake_path[nfake++] = optarg;
            break;
        case O_LABEL:
            if (nlabel >= MAX_FAKE) return cli_usage_error(cmd, "at most %d --label names", MAX_FAKE);
            label[nlabel++] = optarg;
            break;
        case O_GRID:
            if ((nlam = parse_grid(optarg, lam, err, sizeof err)) < 0) return cli_usage_error(cmd, "%s", err);
            break;
        case O_EST: {
            int e = gm_prcurve_estimator_from_name(optarg);
            if (e < 0) return cli_usage_error(cmd, "--estimator: unknown '%s' (classifier|knn|hist)", optarg);
            est = (gm_prcurve_estimator)e;
            break;
        }
        case O_K:
        case O_RUNS:
        case O_EPOCHS:
        case O_HIDDEN:
        case O_CLUST:
            if (cli_parse_long(optarg, &v) || v < (c == O_HIDDEN ? 0 : 1) || v > 100000)
                return cli_usage_error(cmd, "--%s: '%s' is not a valid count", lo[c - O_REAL].name, optarg);
            if (c == O_K) pc.k = (size_t)v;
            if (c == O_RUNS) pc.runs = (size_t)v;
            if (c == O_EPOCHS) pc.epochs = (size_t)v;
            if (c == O_HIDDEN) pc.hidden = (size_t)v;
            if (c == O_CLUST) pc.prd.num_clusters = (size_t)v;
            break;
        case O_SEED:
            if (cli_parse_u64(optarg, &u)) return cli_usage_error(cmd, "--seed: '%s' is not a number", optarg);
            pc.seed = pc.prd.seed = u;
            break;
        case O_JSON: json = 1; break;
        case O_PLOT: plot = optarg; break;
        default: return cli_bad_option(cmd, argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!real_path || nfake == 0) return cli_usage_error(cmd, "--real and at least one --fake are required");
    if (nlabel > nfake) return cli_usage_error(cmd, "more --label names (%d) than --fake sets (%d)", nlabel, nfake);
    if (cli_check_input(cmd, "--real", real_path) || cli_check_output(cmd, "--plot", plot)) return CLI_ERR;
    cli_file ins[MAX_FAKE + 2] = {{"--real", real_path}};
    for (int i = 0; i < nfake; i++) ins[i + 1] = (cli_file){"--fake", fake_path[i]};
    if (cli_check_not_input(cmd, (cli_file[]){{"--plot", plot}, {0}}, ins)) return CLI_USAGE;

    /* λ grid for the table plus a dense grid for the plotted curve, in one estimator call per model */
    size_t ntot = (size_t)nlam + (plot ? PLOT_DENSE : 0);
    double *all = malloc(ntot * sizeof(double)), *A = malloc((size_t)nfake * ntot * sizeof(double));
    gm_array ra, fa[MAX_FAKE];
    gm_feats rf, ff[MAX_FAKE];
    int nread = 0, rc = GM_ENOMEM, have_real = 0;
    cJSON *root = NULL;
    gm_plot *pl = NULL;
    if (!all || !A) goto out;
    memcpy(all, lam, (size_t)nlam * sizeof(double));
    for (size_t i = 0; plot && i < PLOT_DENSE; i++) all[nlam + i] = pow(10.0, -4.0 + 8.0 * (double)i / (PLOT_DENSE - 1));
    if ((rc = read_feats(real_path, &ra, &rf))) goto out;
    have_real = 1;
    for (; nread < nfake; nread++) {
        if ((rc = read_feats(fake_path[nread], &fa[nread], &ff[nread]))) goto out;
        if (ff[nread].d != rf.d) {
            rc = gm_set_error(GM_ESHAPE, "%s has %zu columns but --real %s has %zu", fake_path[nread], ff[nread].d,
                              real_path, rf.d);
            nread++;
            goto out;
        }
    }
    for (int m = 0; m < nfake; m++) {
        cli_progress("pr-curve: %s estimator on %s (%zu x %zu) vs %s (%zu)", gm_prcurve_estimator_name(est),
                     fake_path[m], ff[m].n, ff[m].d, real_path, rf.n);
        if ((rc = gm_prcurve_estimate(&rf, &ff[m], est, &pc, all, ntot, A + (size_t)m * ntot, NULL))) goto out;
    }
    if (json) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "real", real_path);
        cJSON_AddStringToObject(root, "estimator", gm_prcurve_estimator_name(est));
        if (est == GM_PRCURVE_KNN) cJSON_AddNumberToObject(root, "k", (double)pc.k);
        cJSON_AddItemToObject(root, "lambda", cJSON_CreateDoubleArray(lam, (int)nlam));
        cJSON *models = cJSON_AddArrayToObject(root, "models");
        for (int m = 0; m < nfake; m++) {
            cJSON *j = cJSON_CreateObject(), *ja = cJSON_AddArrayToObject(j, "alpha"), *jb = cJSON_AddArrayToObject(j, "beta"),
                  *jd = cJSON_AddArrayToObject(j, "d_pr");
            cJSON_AddStringToObject(j, "fake", fake_path[m]);
            cJSON_AddStringToObject(j, "label", label[m] ? label[m] : fake_path[m]);
            for (long l = 0; l < nlam; l++) {
                double a = A[(size_t)m * ntot + (size_t)l];
                cJSON_AddItemToArray(ja, cJSON_CreateNumber(a));
                cJSON_AddItemToArray(jb, cJSON_CreateNumber(a / lam[l]));
                cJSON_AddItemToArray(jd, cJSON_CreateNumber(gm_prdiv_from_alpha(lam[l], a)));
            }
            cJSON_AddItemToArray(models, j);
        }
        char *txt = cJSON_Print(root);
        if (!txt) {
            rc = GM_ENOMEM;
            goto out;
        }
        printf("%s\n", txt);
        cJSON_free(txt);
    } else {
        char extra[48] = "";
        if (est == GM_PRCURVE_KNN) snprintf(extra, sizeof extra, ", k = %zu", pc.k);
        if (est == GM_PRCURVE_CLASSIFIER) snprintf(extra, sizeof extra, ", %zu runs", pc.runs);
        printf("PR curve (%s estimator%s), real %s (n = %zu, d = %zu)\n", gm_prcurve_estimator_name(est), extra,
               real_path, rf.n, rf.d);
        for (int m = 0; m < nfake; m++) {
            printf("\n%s (n = %zu)\n%12s %10s %10s %10s\n", label[m] ? label[m] : fake_path[m], ff[m].n, "lambda",
                   "alpha", "beta", "D_lambda");
            for (long l = 0; l < nlam; l++) {
                double a = A[(size_t)m * ntot + (size_t)l];
                printf("%12.6g %10.6f %10.6f %10.6f\n", lam[l], a, a / lam[l], gm_prdiv_from_alpha(lam[l], a));
            }
        }
    }
    if (plot) {
        char title[160];
        snprintf(title, sizeof title, "PR curves (%s); points: the lambda grid", gm_prcurve_estimator_name(est));
        if ((rc = gm_plot_create(&pl, title, "recall (beta)", "precision (alpha)"))) goto out;
        gm_plot_set_xrange(pl, 0, 1);
        gm_plot_set_yrange(pl, 0, 1);
        double bx[PLOT_DENSE > MAX_LAMBDA ? PLOT_DENSE : MAX_LAMBDA];
        for (int m = 0; m < nfake && !rc; m++) {
            const double *a = A + (size_t)m * ntot;
            for (size_t i = 0; i < PLOT_DENSE; i++) bx[i] = a[nlam + i] / all[nlam + i];
            rc = gm_plot_line(pl, bx, a + nlam, PLOT_DENSE, label[m] ? label[m] : fake_path[m]);
            for (long l = 0; l < nlam && !rc; l++) bx[l] = a[l] / lam[l];
            char pl_label[300];
            snprintf(pl_label, sizeof pl_label, "%s: lambda grid", label[m] ? label[m] : fake_path[m]);
            if (!rc) rc = gm_plot_points(pl, bx, a, (size_t)nlam, pl_label);
        }
        if (!rc) rc = gm_plot_write_png(pl, plot, 800, 600);
        if (!rc) cli_progress("pr-curve: wrote %s", plot);
    }
out:
    cJSON_Delete(root);
    gm_plot_free(pl);
    if (have_real) gm_array_free(&ra);
    for (int m = 0; m < nread; m++) gm_array_free(&fa[m]);
    free(all);
    free(A);
    fflush(stdout);
    return rc ? cli_fail(rc) : CLI_OK;
}
