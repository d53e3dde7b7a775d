/* SPDX-License-Identifier: MIT */
/* cmd_moe_fit.c — `genmix moe fit` and `genmix moe select`: read a CSV, map the target's values to classes
 * 0..S-1, call gm_moe_fit / gm_moe_select, print the summary, write the model with gm_moe_save. Options and
 * printing only; the numerics and the file formats are the library's (genmix/moe.h). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cmd_moe.h"

static void fit_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe fit --csv data.csv --target COLUMN --experts K --out model.json|model.safetensors [options]\n\n"
            "Fit a softmax-gated multinomial-logistic mixture of experts by EM (Newton M-steps, random-partition\n"
            "restarts, Newton polish). Features are all other columns (or --features). Target values must be\n"
            "integers; classes are its distinct values in increasing order (or 0..S-1 with --classes S).\n\n"
            "options:\n"
            "  --csv FILE          numeric CSV with a header row (required)\n"
            "  --target NAME       class column (required)\n"
            "  --features A,B,..   feature columns (default: all but the target)\n"
            "  --experts K         number of experts, >= 1 (required)\n"
            "  --classes S         labels are 0..S-1 and every class must have rows\n"
            "  --restarts R        random restarts, 1..100000 (default 10)\n"
            "  --gating G          standard | modified (gate sees sigmoid(x)) (default standard)\n"
            "  --transform T       modified-gating transform: sigmoid | tanh (default sigmoid)\n"
            "  --max-iter N        EM iterations per restart (default 5000)\n"
            "  --tol X             relative change of the objective to stop (default 1e-8)\n"
            "  --ridge X           ridge on all coefficients (default 1e-8)\n"
            "  --no-polish         skip the Newton polish after EM\n"
            "  --seed N            restart seed (default 0)\n"
            "  --out FILE          model file, .json or .safetensors (required; '-': JSON on stdout)\n"
            "  --json              print the summary as JSON on stdout\n");
}

/* Trim blanks, quotes and line ends around a name (used for --features lists). */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '"') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == '"'))
        s[--n] = '\0';
    return s;
}

static int split_names(char *s, char ***out, size_t *n) {
    size_t c = 1;
    for (char *q = s; *q; q++) c += *q == ',';
    char **v = calloc(c, sizeof(char *));
    if (!v) return -1;
    size_t i = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) v[i++] = trim(tok);
    *out = v;
    *n = i;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void select_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe select --csv data.csv --target COLUMN --kmax K --out best.json|best.safetensors [options]\n\n"
            "Fit k = 1..K experts (k = 1 is the multinomial logit) with the options of 'genmix moe fit' and choose\n"
            "k by an information criterion (smaller is better; degenerate fits are skipped unless all are).\n"
            "Prints one line per k (loglik, df, AIC, BIC, ICL, flags) and writes the chosen model.\n\n"
            "options (besides those of 'genmix moe fit' except --experts):\n"
            "  --kmax K            largest number of experts, >= 1 (required)\n"
            "  --criterion C       bic | aic | icl (default bic)\n");
}

/* write the model with its column names as .safetensors or .json (by the extension of --out) */
static int write_model(const char *out, const gm_moe *m, char **fnames, const char *target, const double *classes,
                       const gm_moe_fit_result *res, unsigned long long seed) {
    gm_moe_meta meta = {m->dim, m->n_classes, fnames, (double *)classes, (char *)target};
    return gm_moe_save(out, moe_ends_with(out, ".safetensors") ? GM_MOE_FILE_SAFETENSORS : GM_MOE_FILE_JSON, m, &meta,
                       res, seed);
}

static int moe_fit_or_select(int argc, char **argv, int select) {
    static const struct option opts[] = {
        {"csv", required_argument, 0, 'c'},      {"target", required_argument, 0, 't'},
        {"features", required_argument, 0, 'F'}, {"experts", required_argument, 0, 'k'},
        {"classes", required_argument, 0, 'S'},  {"restarts", required_argument, 0, 'r'},
        {"gating", required_argument, 0, 'g'},   {"transform", required_argument, 0, 'T'},
        {"max-iter", required_argument, 0, 'm'}, {"tol", required_argument, 0, 'e'},
        {"ridge", required_argument, 0, 'l'},    {"no-polish", no_argument, 0, 'P'},
        {"seed", required_argument, 0, 's'},     {"out", required_argument, 0, 'o'},
        {"json", no_argument, 0, 'j'},           {"help", no_argument, 0, 'h'},
        {"kmax", required_argument, 0, 'K'},     {"criterion", required_argument, 0, 'C'},
        {0, 0, 0, 0}};
    const char *cmdname = select ? "moe select" : "moe fit";
    const char *csv = NULL, *target = NULL, *out = NULL, *gating = "standard", *transform = "sigmoid";
    long kmax = -1;
    gm_moe_criterion crit = GM_MOE_SELECT_BIC;
    char *features_arg = NULL;
    long K = -1, S_opt = 0, restarts = 10, max_iter = 5000;
    double tol = 1e-8, ridge = 1e-8;
    unsigned long long seed = 0;
    int polish = 1, json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': csv = optarg; break;
        case 't': target = optarg; break;
        case 'F': features_arg = optarg; break;
        case 'k':
            if (cli_parse_long(optarg, &K) || K < 1) /* (-1 stands for "not given" below) */
                return cli_usage_error(cmdname, "--experts takes an integer >= 1 (got '%s')", optarg);
            break;
        case 'S':
            if (cli_parse_long(optarg, &S_opt) || S_opt < 2)
                return cli_usage_error(cmdname, "--classes takes an integer >= 2");
            break;
        case 'r':
            if (cli_parse_range(cmdname, "--restarts", optarg, 1, GM_MOE_MAX_RESTARTS, &restarts)) return CLI_USAGE;
            break;
        case 'g': gating = optarg; break;
        case 'T': transform = optarg; break;
        case 'm':
            if (cli_parse_long(optarg, &max_iter) || max_iter < 1)
                return cli_usage_error(cmdname, "--max-iter takes an integer >= 1");
            break;
        case 'e':
            if (cli_parse_double(optarg, &tol) || !(tol >= 0)) return cli_usage_error(cmdname, "--tol takes a number >= 0");
            break;
        case 'l':
            if (cli_parse_double(optarg, &ridge) || !(ridge >= 0))
                return cli_usage_error(cmdname, "--ridge takes a number >= 0");
            break;
        case 'P': polish = 0; break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error(cmdname, "--seed takes a non-negative integer");
            break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        case 'K':
            if (!select || cli_parse_long(optarg, &kmax)) return cli_usage_error(cmdname, "--kmax takes an integer (select only)");
            if (kmax < 1) return cli_usage_error(cmdname, "--kmax takes an integer >= 1 (got '%s')", optarg);
            break;
        case 'C':
            if (!select) return cli_usage_error(cmdname, "--criterion is an option of 'moe select'");
            if (!strcmp(optarg, "bic")) crit = GM_MOE_SELECT_BIC;
            else if (!strcmp(optarg, "aic")) crit = GM_MOE_SELECT_AIC;
            else if (!strcmp(optarg, "icl")) crit = GM_MOE_SELECT_ICL;
            else return cli_usage_error(cmdname, "--criterion must be bic, aic or icl");
            break;
        case 'h': select ? select_usage(stdout) : fit_usage(stdout); return CLI_OK;
        default: return cli_bad_option(select ? "moe select" : "moe fit", argv, NULL);
        }
    }
    if (select) {
        if (K != -1) return cli_usage_error(cmdname, "use --kmax, not --experts");
        if (!csv || !target || !out || kmax == -1)
            return cli_usage_error(cmdname, "--csv, --target, --kmax and --out are required");
        if (kmax < 1) return cli_usage_error(cmdname, "--kmax takes an integer >= 1 (got %ld)", kmax);
        K = kmax;
    }
    if (!csv || !target || !out || K == -1)
        return cli_usage_error(cmdname, "--csv, --target, --experts and --out are required");
    if (K < 1) return cli_usage_error(cmdname, "--experts takes an integer >= 1 (got %ld)", K);
    gm_moe_gate gate = GM_MOE_GATE_IDENTITY;
    if (!strcmp(gating, "modified")) {
        if (gm_moe_gate_parse(transform, &gate) || gate == GM_MOE_GATE_IDENTITY)
            return cli_usage_error(cmdname, "--transform must be sigmoid or tanh");
    } else if (strcmp(gating, "standard")) {
        return cli_usage_error(cmdname, "--gating must be standard or modified");
    }
    struct stat ost; /* "-" and special files (/dev/null, a FIFO) get JSON */
    int special = gm_output_is_stdout(out) || (stat(out, &ost) == 0 && !S_ISREG(ost.st_mode) && !S_ISDIR(ost.st_mode));
    if (!moe_ends_with(out, ".json") && !moe_ends_with(out, ".safetensors") && !special)
        return cli_usage_error(cmdname, "--out must end in .json or .safetensors (or be '-': JSON on stdout)");
    if (cli_check_input(cmdname, "--csv", csv) || cli_check_output(cmdname, "--out", out)) return CLI_ERR;
    if (cli_check_not_input(cmdname, (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"--csv", csv}, {0}})) return CLI_USAGE;

    gm_csv tab;
    int rc = moe_csv_load(csv, &tab);
    if (rc) return cli_fail(rc);
    int status = CLI_ERR;
    char **fnames = NULL;
    size_t d = 0;
    long *fcol = NULL;
    double *X = NULL, *classes = NULL;
    int *y = NULL;
    gm_moe_fit_result res;
    memset(&res, 0, sizeof res);
    gm_moe_select_result sel;
    memset(&sel, 0, sizeof sel);
    long tcol = gm_csv_col(&tab, target);
    if (tcol < 0) {
        gm_set_error(GM_EINVAL, "%s: no target column '%s'", csv, target);
        goto fail;
    }
    if (features_arg) {
        if (split_names(features_arg, &fnames, &d)) goto fail;
    } else {
        fnames = calloc(tab.ncols, sizeof(char *));
        if (!fnames) goto fail;
        for (size_t j = 0; j < tab.ncols; j++)
            if ((long)j != tcol) fnames[d++] = tab.colnames[j];
    }
    if (d == 0) {
        gm_set_error(GM_EINVAL, "%s: no feature columns besides the target '%s'", csv, target);
        goto fail;
    }
    fcol = calloc(d, sizeof(long));
    if (!fcol) goto fail;
    for (size_t j = 0; j < d; j++) {
        fcol[j] = gm_csv_col(&tab, fnames[j]);
        if (fcol[j] < 0) {
            gm_set_error(GM_EINVAL, "%s: no feature column '%s'", csv, fnames[j]);
            goto fail;
        }
    }
    size_t n = tab.nrows;
    if (n == 0) {
        gm_set_error(GM_EINVAL, "%s: no data rows", csv);
        goto fail;
    }
    X = malloc(n * d * sizeof(double));
    y = malloc(n * sizeof(int));
    classes = malloc(n * sizeof(double));
    if (!X || !y || !classes) goto fail;
    for (size_t t = 0; t < n; t++) {
        double v = tab.values[t * tab.ncols + (size_t)tcol];
        if (v != floor(v) || fabs(v) > 1e9) {
            gm_set_error(GM_EINVAL, "%s: row %zu, column '%s': class label %g is not an integer", csv, t + 1, target, v);
            goto fail;
        }
        classes[t] = v;
        for (size_t j = 0; j < d; j++) X[t * d + j] = tab.values[t * tab.ncols + (size_t)fcol[j]];
    }
    size_t S;
    if (S_opt) {
        S = (size_t)S_opt;
        for (size_t t = 0; t < n; t++) {
            if (classes[t] < 0 || classes[t] >= (double)S) {
                gm_set_error(GM_EINVAL, "%s: row %zu, column '%s': label %g outside 0..%zu", csv, t + 1, target,
                             classes[t], S - 1);
                goto fail;
            }
            y[t] = (int)classes[t];
        }
        for (size_t s = 0; s < S; s++) classes[s] = (double)s;
        for (size_t s = 0; s < S; s++) {
            size_t cnt = 0;
            for (size_t t = 0; t < n; t++) cnt += (size_t)y[t] == s;
            if (cnt == 0) {
                gm_set_error(GM_EINVAL, "%s: column '%s': class %zu has no rows", csv, target, s);
                goto fail;
            }
        }
    } else {
        double *sorted = malloc(n * sizeof(double));
        if (!sorted) goto fail;
        memcpy(sorted, classes, n * sizeof(double));
        qsort(sorted, n, sizeof(double), cmp_double);
        S = 0;
        for (size_t t = 0; t < n; t++)
            if (t == 0 || sorted[t] != sorted[t - 1]) sorted[S++] = sorted[t];
        for (size_t t = 0; t < n; t++) {
            double *hit = bsearch(&classes[t], sorted, S, sizeof(double), cmp_double);
            y[t] = (int)(hit - sorted);
        }
        memcpy(classes, sorted, S * sizeof(double));
        free(sorted);
        if (S < 2) {
            gm_set_error(GM_EINVAL, "%s: column '%s' has a single class (%g); need >= 2", csv, target, classes[0]);
            goto fail;
        }
    }
    gm_moe_fit_config cfg = gm_moe_fit_config_default();
    cfg.n_experts = (size_t)K;
    cfg.n_restarts = (size_t)restarts;
    cfg.gate = gate;
    cfg.max_iter = (size_t)max_iter;
    cfg.tol = tol;
    cfg.ridge = ridge;
    cfg.polish = polish;
    cfg.seed = seed;
    cli_progress("%s: n %zu d %zu classes %zu experts %s%ld restarts %ld gate %s", cmdname, n, d, S, select ? "1.." : "",
                 K, restarts, gm_moe_gate_name(gate));
    double t0 = gm_time_now();
    if (select) {
        rc = gm_moe_select(&cfg, X, y, n, d, S, (size_t)K, crit, &sel);
        if (rc) {
            status = cli_fail(rc);
            goto done;
        }
        const gm_moe_fit_result *best = &sel.fits[sel.best_k - 1];
        rc = write_model(out, &best->model, fnames, target, classes, best, seed);
        if (rc) {
            status = cli_fail(rc);
            goto done;
        }
        double secs = gm_time_now() - t0;
        const char *cn = crit == GM_MOE_SELECT_AIC ? "aic" : (crit == GM_MOE_SELECT_ICL ? "icl" : "bic");
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", out);
            cJSON_AddStringToObject(o, "criterion", cn);
            cJSON_AddNumberToObject(o, "best_k", (double)sel.best_k);
            cJSON_AddNumberToObject(o, "n", (double)n);
            cJSON *arr = cJSON_AddArrayToObject(o, "fits");
            for (size_t k = 1; k <= (size_t)K; k++) {
                const gm_moe_fit_result *r = &sel.fits[k - 1];
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "k", (double)k);
                cJSON_AddNumberToObject(e, "loglik", r->loglik);
                cJSON_AddNumberToObject(e, "df", (double)r->df);
                cJSON_AddNumberToObject(e, "aic", r->aic);
                cJSON_AddNumberToObject(e, "bic", r->bic);
                cJSON_AddNumberToObject(e, "icl", r->icl);
                cJSON_AddBoolToObject(e, "degenerate", (r->flags & GM_MOE_DEGENERATE) != 0);
                cJSON_AddBoolToObject(e, "converged", (r->flags & GM_MOE_CONVERGED) != 0);
                cJSON_AddItemToArray(arr, e);
            }
            cJSON_AddNumberToObject(o, "seconds", secs);
            char *txt = cJSON_Print(o);
            printf("%s\n", txt);
            cJSON_free(txt);
            cJSON_Delete(o);
        } else {
            printf("%3s %16s %5s %12s %12s %12s  %s\n", "k", "loglik", "df", "AIC", "BIC", "ICL", "flags");
            for (size_t k = 1; k <= (size_t)K; k++) {
                const gm_moe_fit_result *r = &sel.fits[k - 1];
                printf("%3zu %16.6f %5zu %12.4f %12.4f %12.4f  %s%s%s\n", k, r->loglik, r->df, r->aic, r->bic, r->icl,
                       (r->flags & GM_MOE_CONVERGED) ? "converged" : "NOT converged",
                       (r->flags & GM_MOE_DEGENERATE) ? ", DEGENERATE" : "", k == sel.best_k ? "  <- chosen" : "");
            }
            printf("%s chooses k = %zu; wrote %s (%.2f s)\n", cn, sel.best_k, out, secs);
        }
        status = CLI_OK;
        goto done;
    }
    rc = gm_moe_fit(&cfg, X, y, n, d, S, NULL, &res);
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    double secs = gm_time_now() - t0;
    rc = write_model(out, &res.model, fnames, target, classes, &res, seed);
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    if (json) {
        cJSON *summary = cJSON_CreateObject();
        cJSON_AddStringToObject(summary, "model", out);
        cJSON_AddNumberToObject(summary, "n", (double)n);
        cJSON_AddNumberToObject(summary, "experts", (double)K);
        cJSON_AddNumberToObject(summary, "classes", (double)S);
        cJSON_AddNumberToObject(summary, "loglik", res.loglik);
        cJSON_AddNumberToObject(summary, "df", (double)res.df);
        cJSON_AddNumberToObject(summary, "aic", res.aic);
        cJSON_AddNumberToObject(summary, "bic", res.bic);
        cJSON_AddNumberToObject(summary, "icl", res.icl);
        cJSON_AddBoolToObject(summary, "degenerate", (res.flags & GM_MOE_DEGENERATE) != 0);
        cJSON_AddNumberToObject(summary, "seconds", secs);
        char *txt = cJSON_Print(summary);
        printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(summary);
    } else {
        printf("loglik %.10g  df %zu  AIC %.6g  BIC %.6g  ICL %.6g  (best of %ld restarts: #%zu, %zu EM iterations%s%s)\n",
               res.loglik, res.df, res.aic, res.bic, res.icl, restarts, res.best_restart, res.iterations,
               (res.flags & GM_MOE_CONVERGED) ? ", converged" : ", NOT converged",
               (res.flags & GM_MOE_DEGENERATE) ? ", DEGENERATE" : "");
        printf("restart logliks:");
        for (size_t r = 0; r < res.n_restarts; r++) printf(" %.6f", res.restart_loglik[r]);
        printf("\nwrote %s (%.2f s)\n", out, secs);
    }
    status = CLI_OK;
    goto done;
fail:
    status = cli_fail(gm_last_error()[0] ? GM_EINVAL : GM_ENOMEM);
done:
    gm_moe_fit_result_free(&res);
    gm_moe_select_result_free(&sel);
    free(fnames);
    free(fcol);
    free(X);
    free(y);
    free(classes);
    gm_csv_free(&tab);
    return status;
}

int moe_fit(int argc, char **argv) { return moe_fit_or_select(argc, argv, 0); }
int moe_select(int argc, char **argv) { return moe_fit_or_select(argc, argv, 1); }
