/* SPDX-License-Identifier: MIT */
/* cmd_moe_predict.c — `genmix moe predict`: load a model (gm_moe_load, either format), class probabilities
 * and arg-max classes (gm_moe_predict_proba, gm_moe_predict) for a CSV's rows, written as CSV; accuracy and
 * mean log-likelihood on stderr when the CSV holds the target. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_moe.h"

/* ============================================================================================== */
/* predict                                                                                         */
/* ============================================================================================== */

static void predict_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe predict --model model.json|model.safetensors --csv data.csv [--out probs.csv]\n\n"
            "Class probabilities of a fitted model for every row of a CSV holding the model's feature columns.\n"
            "Writes columns p_<class> and the arg-max class 'pred' (to stdout without --out). If the CSV also\n"
            "holds the model's target column, prints the accuracy and mean log-likelihood on stderr.\n");
}

int moe_predict(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"csv", required_argument, 0, 'c'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *csv = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': csv = optarg; break;
        case 'o': out = optarg; break;
        case 'h': predict_usage(stdout); return CLI_OK;
        default: return cli_bad_option("moe predict", argv, NULL);
        }
    }
    if (!model || !csv) return cli_usage_error("moe predict", "--model and --csv are required");
    if (cli_check_input("moe predict", "--model", model) || cli_check_input("moe predict", "--csv", csv) ||
        cli_check_output("moe predict", "--out", out))
        return CLI_ERR;
    if (cli_check_not_input("moe predict", (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"--model", model}, {"--csv", csv}, {0}})) return CLI_USAGE;
    gm_moe m;
    gm_moe_meta meta;
    int rc = gm_moe_load(model, &m, &meta);
    if (rc) return cli_fail(rc);
    char **features = meta.features, *target = meta.target;
    const double *classes = meta.class_values;
    size_t d = m.dim, S = m.n_classes, n = 0;
    gm_csv tab;
    memset(&tab, 0, sizeof tab);
    double *X = NULL, *P = NULL;
    int *pred = NULL, *y = NULL, status = CLI_ERR;
    rc = moe_csv_load(csv, &tab);
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    n = tab.nrows;
    X = malloc((n ? n : 1) * d * sizeof(double));
    P = malloc((n ? n : 1) * S * sizeof(double));
    pred = malloc((n ? n : 1) * sizeof(int));
    y = malloc((n ? n : 1) * sizeof(int));
    if (!X || !P || !pred || !y) {
        status = cli_fail(GM_ENOMEM);
        goto done;
    }
    if ((rc = moe_features_from_csv(&tab, csv, model, features, d, X)) != GM_OK) {
        status = cli_fail(rc);
        goto done;
    }
    if ((rc = gm_moe_predict_proba(&m, X, n, P)) != GM_OK || (rc = gm_moe_predict(&m, X, n, pred)) != GM_OK) {
        status = cli_fail(rc);
        goto done;
    }
    {
        /* output table */
        size_t cap = 64 + S * 32 + n * (S + 1) * 26;
        char *buf = malloc(cap), *w = buf;
        if (!buf) {
            status = cli_fail(GM_ENOMEM);
            goto done;
        }
        for (size_t s = 0; s < S; s++) w += sprintf(w, "%sp_%.17g", s ? "," : "", classes[s]);
        w += sprintf(w, ",pred\n");
        for (size_t t = 0; t < n; t++) {
            for (size_t s = 0; s < S; s++) w += sprintf(w, "%s%.17g", s ? "," : "", P[t * S + s]);
            w += sprintf(w, ",%.17g\n", classes[pred[t]]);
        }
        if (out) {
            rc = gm_write_file_atomic(out, buf, (size_t)(w - buf));
            if (rc) {
                free(buf);
                status = cli_fail(rc);
                goto done;
            }
        } else {
            fwrite(buf, 1, (size_t)(w - buf), stdout);
        }
        free(buf);
    }
    /* accuracy if the target is present: the model names it; rows whose target value is no class of the
     * model are skipped */
    {
        long tcol = target[0] ? gm_csv_col(&tab, target) : -1;
        if (tcol >= 0 && n > 0) {
            for (size_t t = 0; t < n; t++) {
                double v = tab.values[t * tab.ncols + (size_t)tcol];
                y[t] = -1;
                for (size_t s = 0; s < S; s++)
                    if (classes[s] == v) y[t] = (int)s;
            }
            size_t known;
            double acc, ll;
            gm_moe_score(P, n, S, y, &known, &acc, &ll);
            if (known)
                fprintf(stderr, "moe predict: %zu rows, accuracy %.4f, mean log-likelihood %.6f\n", n, acc, ll);
        }
    }
    if (out) printf("wrote %s (%zu rows x %zu classes)\n", out, n, S);
    status = CLI_OK;
done:
    gm_moe_meta_free(&meta);
    free(X);
    free(P);
    free(pred);
    free(y);
    gm_csv_free(&tab);
    gm_moe_free(&m);
    return status;
}
