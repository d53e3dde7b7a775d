/* SPDX-License-Identifier: MIT */
/* cmd_moe_sample.c — `genmix moe sample`: draw rows from a saved model (gm_moe_sample, or gm_moe_sample_y
 * for the x of a CSV) with a Philox seed and write them as CSV. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_moe.h"

/* ============================================================================================== */
/* sample                                                                                          */
/* ============================================================================================== */

static void sample_usage(FILE *f) {
    fprintf(f,
            "usage: genmix moe sample --model model.json|model.safetensors --n N --out data.csv [options]\n\n"
            "Draw rows from a model (spec section 7.1 with a Philox generator): x_tj ~ U[-xr, xr], the expert\n"
            "z_t ~ Cat(pi(x_t)) and the class y_t ~ Cat(f_z(. | x_t)). Columns: the model's features, its target\n"
            "(class values) and, with --expert, the drawn expert (0-based). With --csv, the features are taken\n"
            "from that file instead (all its rows; --n is then not needed) and only y (and z) are drawn.\n\n"
            "options:\n"
            "  --n N         number of rows (required without --csv)\n"
            "  --xr R        half-width of the uniform x range (default 1)\n"
            "  --csv FILE    take x from this CSV's feature columns\n"
            "  --expert      add the drawn expert as column 'expert'\n"
            "  --seed N      Philox seed (default 0); the same seed gives the same rows\n"
            "  --out FILE    output CSV (required)\n");
}

int moe_sample(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"n", required_argument, 0, 'n'},
        {"xr", required_argument, 0, 'x'},    {"csv", required_argument, 0, 'c'},
        {"expert", no_argument, 0, 'z'},      {"seed", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *csv = NULL, *out = NULL;
    long nrows = -1;
    double xr = 1.0;
    int with_z = 0, c;
    unsigned long long seed = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, &nrows) || nrows < 1) return cli_usage_error("moe sample", "--n takes an integer >= 1");
            break;
        case 'x':
            if (cli_parse_double(optarg, &xr) || !(xr > 0) || !isfinite(xr))
                return cli_usage_error("moe sample", "--xr takes a finite number > 0");
            break;
        case 'c': csv = optarg; break;
        case 'z': with_z = 1; break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("moe sample", "--seed takes a non-negative integer");
            break;
        case 'o': out = optarg; break;
        case 'h': sample_usage(stdout); return CLI_OK;
        default: return cli_bad_option("moe sample", argv, NULL);
        }
    }
    if (!model || !out) return cli_usage_error("moe sample", "--model and --out are required");
    if (!csv && nrows < 0) return cli_usage_error("moe sample", "--n is required (or --csv)");
    if (cli_check_input("moe sample", "--model", model) || cli_check_input("moe sample", "--csv", csv) ||
        cli_check_output("moe sample", "--out", out))
        return CLI_ERR;
    if (cli_check_not_input("moe sample", (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"--model", model}, {"--csv", csv}, {0}})) return CLI_USAGE;
    gm_moe m;
    gm_moe_meta meta;
    int rc = gm_moe_load(model, &m, &meta);
    if (rc) return cli_fail(rc);
    char **features = meta.features, *target = meta.target;
    const double *classes = meta.class_values;
    size_t d = m.dim, n = csv ? 0 : (size_t)nrows;
    gm_csv tab;
    memset(&tab, 0, sizeof tab);
    double *X = NULL;
    int *y = NULL, *z = NULL, status = CLI_ERR;
    char *buf = NULL;
    if (csv) {
        rc = moe_csv_load(csv, &tab);
        if (rc) {
            status = cli_fail(rc);
            goto done;
        }
        n = tab.nrows;
    }
    X = malloc((n ? n : 1) * d * sizeof(double));
    y = malloc((n ? n : 1) * sizeof(int));
    z = malloc((n ? n : 1) * sizeof(int));
    if (!X || !y || !z) {
        status = cli_fail(GM_ENOMEM);
        goto done;
    }
    gm_rng r;
    gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_DATA, 0));
    if (csv) {
        rc = moe_features_from_csv(&tab, csv, model, features, d, X);
        if (rc == GM_OK) rc = gm_moe_sample_y(&m, X, n, &r, y, z);
    } else {
        rc = gm_moe_sample(&m, n, xr, &r, X, y, z);
    }
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    size_t cap = 256 + (d + 1) * 64 + strlen(target) + n * ((d + 2) * 26 + 8);
    for (size_t j = 0; j < d; j++) cap += strlen(features[j]);
    buf = malloc(cap);
    if (!buf) {
        status = cli_fail(GM_ENOMEM);
        goto done;
    }
    char *w = buf;
    for (size_t j = 0; j < d; j++) w += sprintf(w, "%s,", features[j]);
    w += sprintf(w, "%s%s\n", target[0] ? target : "y", with_z ? ",expert" : "");
    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++) w += sprintf(w, "%.17g,", X[t * d + j]);
        w += sprintf(w, "%.17g", classes[y[t]]);
        if (with_z) w += sprintf(w, ",%d", z[t]);
        *w++ = '\n';
    }
    rc = gm_write_file_atomic(out, buf, (size_t)(w - buf));
    if (rc) {
        status = cli_fail(rc);
        goto done;
    }
    printf("wrote %s (%zu rows, %zu features, %zu classes)\n", out, n, d, m.n_classes);
    status = CLI_OK;
done:
    gm_moe_meta_free(&meta);
    free(X);
    free(y);
    free(z);
    free(buf);
    gm_csv_free(&tab);
    gm_moe_free(&m);
    return status;
}
