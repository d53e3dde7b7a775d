/* SPDX-License-Identifier: MIT */
/* cmd_moe.c — `genmix moe fit|select|predict|sample|simulate`: the dispatch table of the moe subcommands
 * (one file each: cmd_moe_fit.c (fit and select), cmd_moe_predict.c, cmd_moe_sample.c, cmd_moe_simulate.c)
 * and the CSV/file helpers they share. No numerics here: the library (genmix/moe.h) fits, predicts, samples,
 * simulates and reads/writes model files. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cmd_moe.h"

/* gm_csv_read accepts "nan"/"inf" cells; the model cannot use them, so refuse them here, naming the
 * 1-based file line (header = line 1; gm_csv_read allows no blank lines inside the table) and the column. */
int moe_csv_load(const char *path, gm_csv *out) {
    int rc = gm_csv_read(path, out);
    if (rc) return rc;
    for (size_t r = 0; r < out->nrows; r++)
        for (size_t j = 0; j < out->ncols; j++) {
            double v = out->values[r * out->ncols + j];
            if (!isfinite(v)) {
                gm_set_error(GM_EFORMAT, "%s:%zu: column '%s': '%g' is not a finite number", path, r + 2,
                             out->colnames[j], v);
                gm_csv_free(out);
                return GM_EFORMAT;
            }
        }
    return GM_OK;
}

int moe_features_from_csv(const gm_csv *tab, const char *csv, const char *model, char *const *features, size_t d,
                          double *X) {
    size_t n = tab->nrows;
    for (size_t j = 0; j < d; j++) {
        long col = gm_csv_col(tab, features[j]);
        if (col < 0) GM_FAIL(GM_EINVAL, "%s: no feature column '%s' (needed by %s)", csv, features[j], model);
        for (size_t t = 0; t < n; t++) X[t * d + j] = tab->values[t * tab->ncols + (size_t)col];
    }
    return GM_OK;
}

int moe_ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int moe_write_json(const char *path, const void *root) {
    char *txt = cJSON_Print((const cJSON *)root);
    if (!txt) GM_FAIL(GM_ENOMEM, "out of memory printing JSON");
    size_t n = strlen(txt);
    char *buf = malloc(n + 2);
    if (!buf) {
        cJSON_free(txt);
        GM_FAIL(GM_ENOMEM, "out of memory");
    }
    memcpy(buf, txt, n);
    buf[n] = '\n';
    cJSON_free(txt);
    int rc = gm_write_file_atomic(path, buf, n + 1);
    free(buf);
    return rc;
}

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} moe_subcommand;

static const moe_subcommand moe_subcommands[] = {
    {"fit", moe_fit, "EM fit with restarts from a CSV; writes a model .json or .safetensors"},
    {"select", moe_select, "fit k = 1..K experts and choose k by BIC (or AIC/ICL)"},
    {"predict", moe_predict, "class probabilities of a fitted model on a CSV"},
    {"sample", moe_sample, "draw (x, y) rows from a model (x uniform on [-xr, xr]^d, or y for the x of a CSV)"},
    {"simulate", moe_simulate, "the convergence-rate study (Voronoi losses vs n, log-log slopes)"},
};
#define N_MOE_SUBCOMMANDS (sizeof moe_subcommands / sizeof moe_subcommands[0])

static void moe_usage(FILE *f) {
    fprintf(f, "usage: genmix moe <fit|select|predict|sample|simulate> [options]\n\n"
               "Softmax-gated multinomial-logistic mixture of experts (classification).\n");
    for (size_t i = 0; i < N_MOE_SUBCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", moe_subcommands[i].name, moe_subcommands[i].help);
    fprintf(f, "See 'genmix moe <sub> --help'.\n");
}

int cmd_moe(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        moe_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    optind = 1;
    for (size_t i = 0; i < N_MOE_SUBCOMMANDS; i++)
        if (!strcmp(sub, moe_subcommands[i].name)) return moe_subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "genmix moe: unknown subcommand '%s'\n", sub);
    moe_usage(stderr);
    return CLI_USAGE;
}
