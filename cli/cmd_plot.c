/* SPDX-License-Identifier: MIT */
/* cmd_plot.c — `genmix plot`: line/point plots of CSV columns (e.g. the per-round trajectories that other
 * subcommands write) as a PNG. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"
#include "genmix/plot.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix plot --csv FILE --x COL --y COL[,COL...] --out PLOT.png [options]\n"
            "\n"
            "Plot one or more columns of a CSV file (header row of names, numeric cells) against another.\n"
            "Each --y column becomes a line in the next colour of a colour-blind-safe palette, with a legend\n"
            "entry when there is more than one. NaN cells (and non-positive ones on a log axis) leave gaps.\n"
            "\n"
            "options:\n"
            "  --csv FILE          input table (see docs/plot.md for the accepted CSV dialect)\n"
            "  --x COL             column for the horizontal axis\n"
            "  --y COL[,COL...]    column(s) to plot; may be repeated (a name containing commas is matched\n"
            "                      whole first)\n"
            "  --out FILE          output PNG (written atomically)\n"
            "  --points            markers instead of lines\n"
            "  --logx, --logy      log10 axes\n"
            "  --xrange LO,HI      fix the x range (leave an end empty for automatic, e.g. '0,')\n"
            "  --yrange LO,HI      fix the y range\n"
            "  --hline Y           dashed horizontal reference line at Y (may be repeated, up to 8)\n"
            "  --title T           title (default: none)\n"
            "  --xlabel T          x axis label (default: the --x column name)\n"
            "  --ylabel T          y axis label (default: the --y column name when there is one)\n"
            "  --width W           image width in pixels (default 800)\n"
            "  --height H          image height in pixels (default 500)\n"
            "  -h, --help          this help\n"
            "\n"
            "example:\n"
            "  genmix plot --csv rounds.csv --x round --y kid_ucb,kid_oracle --logy --title 'KID vs round' \\\n"
            "      --out kid.png\n");
}

/* "LO,HI" with either end possibly empty (NaN = automatic). */
static int parse_range(const char *s, double r[2]) {
    const char *comma = strchr(s, ',');
    if (!comma || strchr(comma + 1, ',')) return -1;
    char lo[64], hi[64];
    size_t nl = (size_t)(comma - s), nh = strlen(comma + 1);
    if (nl >= sizeof lo || nh >= sizeof hi) return -1;
    memcpy(lo, s, nl);
    lo[nl] = 0;
    memcpy(hi, comma + 1, nh + 1);
    r[0] = r[1] = NAN;
    if (nl && cli_parse_double(lo, &r[0])) return -1;
    if (nh && cli_parse_double(hi, &r[1])) return -1;
    return 0;
}

#define MAX_Y 64
#define MAX_HLINES 8

/* Append the columns named in `arg` (comma separated, unless the whole string names a column). */
static int add_y(const gm_csv *t, const char *arg, long *cols, int *ny, const char *csv_path) {
    long j = gm_csv_col(t, arg);
    if (j >= 0) {
        if (*ny >= MAX_Y) return gm_set_error(GM_EINVAL, "too many --y columns (at most %d)", MAX_Y);
        cols[(*ny)++] = j;
        return GM_OK;
    }
    const char *s = arg;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char name[256];
        if (n == 0 || n >= sizeof name) return gm_set_error(GM_EINVAL, "bad --y column list '%s'", arg);
        memcpy(name, s, n);
        name[n] = 0;
        j = gm_csv_col(t, name);
        if (j < 0) {
            char list[300];
            size_t off = 0;
            list[0] = 0;
            for (size_t k = 0; k < t->ncols && off + 4 < sizeof list; k++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s'%s'", k ? ", " : "", t->colnames[k]);
            return gm_set_error(GM_EINVAL, "%s: no column '%s' (columns: %s)", csv_path, name, list);
        }
        if (*ny >= MAX_Y) return gm_set_error(GM_EINVAL, "too many --y columns (at most %d)", MAX_Y);
        cols[(*ny)++] = j;
        if (!e) break;
        s = e + 1;
    }
    return GM_OK;
}

int cmd_plot(int argc, char **argv) {
    const char *cmd = "plot";
    const char *csv_path = NULL, *xcol = NULL, *out = NULL, *title = NULL, *xlabel = NULL, *ylabel = NULL;
    const char *yargs[MAX_Y];
    int nyargs = 0, logx = 0, logy = 0, points = 0, nh = 0;
    long width = 800, height = 500;
    double xr[2] = {NAN, NAN}, yr[2] = {NAN, NAN}, hl[MAX_HLINES];
    enum { O_CSV = 256, O_X, O_Y, O_OUT, O_LOGX, O_LOGY, O_TITLE, O_XLABEL, O_YLABEL, O_W, O_H, O_XR, O_YR, O_PTS, O_HL };
    static const struct option opts[] = {
        {"csv", required_argument, NULL, O_CSV},       {"x", required_argument, NULL, O_X},
        {"y", required_argument, NULL, O_Y},           {"out", required_argument, NULL, O_OUT},
        {"logx", no_argument, NULL, O_LOGX},           {"logy", no_argument, NULL, O_LOGY},
        {"title", required_argument, NULL, O_TITLE},   {"xlabel", required_argument, NULL, O_XLABEL},
        {"ylabel", required_argument, NULL, O_YLABEL}, {"width", required_argument, NULL, O_W},
        {"height", required_argument, NULL, O_H},      {"xrange", required_argument, NULL, O_XR},
        {"yrange", required_argument, NULL, O_YR},     {"points", no_argument, NULL, O_PTS},
        {"hline", required_argument, NULL, O_HL},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case O_CSV: csv_path = optarg; break;
        case O_X: xcol = optarg; break;
        case O_Y:
            if (nyargs >= MAX_Y) return cli_usage_error(cmd, "too many --y options");
            yargs[nyargs++] = optarg;
            break;
        case O_OUT: out = optarg; break;
        case O_LOGX: logx = 1; break;
        case O_LOGY: logy = 1; break;
        case O_TITLE: title = optarg; break;
        case O_XLABEL: xlabel = optarg; break;
        case O_YLABEL: ylabel = optarg; break;
        case O_PTS: points = 1; break;
        case O_W:
            if (cli_parse_long(optarg, &width) || width < GM_PLOT_MIN_SIZE || width > GM_PLOT_MAX_SIZE)
                return cli_usage_error(cmd, "--width takes an integer in %d..%d", GM_PLOT_MIN_SIZE, GM_PLOT_MAX_SIZE);
            break;
        case O_H:
            if (cli_parse_long(optarg, &height) || height < GM_PLOT_MIN_SIZE || height > GM_PLOT_MAX_SIZE)
                return cli_usage_error(cmd, "--height takes an integer in %d..%d", GM_PLOT_MIN_SIZE, GM_PLOT_MAX_SIZE);
            break;
        case O_XR:
            if (parse_range(optarg, xr)) return cli_usage_error(cmd, "--xrange takes LO,HI (got '%s')", optarg);
            break;
        case O_YR:
            if (parse_range(optarg, yr)) return cli_usage_error(cmd, "--yrange takes LO,HI (got '%s')", optarg);
            break;
        case O_HL:
            if (nh >= MAX_HLINES) return cli_usage_error(cmd, "at most %d --hline options", MAX_HLINES);
            if (cli_parse_double(optarg, &hl[nh]) || !isfinite(hl[nh]))
                return cli_usage_error(cmd, "--hline takes a finite number (got '%s')", optarg);
            nh++;
            break;
        case 'h': usage(stdout); return CLI_OK;
        case ':': return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!csv_path) return cli_usage_error(cmd, "--csv is required");
    if (!xcol) return cli_usage_error(cmd, "--x is required");
    if (!nyargs) return cli_usage_error(cmd, "--y is required");
    if (!out) return cli_usage_error(cmd, "--out is required");
    for (int a = 0; a < 2; a++) { /* a fixed range is a usage error here, before the CSV is read */
        const double *r = a ? yr : xr;
        const char *opt = a ? "--yrange" : "--xrange", *lg = a ? (logy ? "--logy" : NULL) : (logx ? "--logx" : NULL);
        if (isinf(r[0]) || isinf(r[1])) return cli_usage_error(cmd, "%s: the ends must be finite numbers", opt);
        if (!isnan(r[0]) && !isnan(r[1]) && !(r[0] < r[1]))
            return cli_usage_error(cmd, "%s: LO must be below HI (got %g,%g)", opt, r[0], r[1]);
        if (lg && (r[0] <= 0 || r[1] <= 0)) return cli_usage_error(cmd, "%s: the ends must be > 0 with %s", opt, lg);
    }
    if (cli_check_input(cmd, "--csv", csv_path) || cli_check_output(cmd, "--out", out)) return CLI_ERR;
    if (cli_check_not_input(cmd, (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"--csv", csv_path}, {0}})) return CLI_USAGE;

    gm_csv t;
    int rc = gm_csv_read(csv_path, &t);
    if (rc) return cli_fail(rc);
    gm_plot *p = NULL;
    double *x = NULL, *y = NULL;
    long ycols[MAX_Y];
    int ny = 0;
    long xj = gm_csv_col(&t, xcol);
    if (xj < 0) {
        rc = gm_set_error(GM_EINVAL, "%s: no column '%s'", csv_path, xcol);
        goto done;
    }
    for (int i = 0; i < nyargs; i++) {
        rc = add_y(&t, yargs[i], ycols, &ny, csv_path);
        if (rc) goto done;
    }
    if (!ylabel && ny == 1) ylabel = t.colnames[ycols[0]];
    if (!xlabel) xlabel = t.colnames[xj];
    rc = gm_plot_create(&p, title, xlabel, ylabel);
    if (rc) goto done;
    gm_plot_set_log(p, logx, logy);
    gm_plot_set_xrange(p, xr[0], xr[1]);
    gm_plot_set_yrange(p, yr[0], yr[1]);
    x = malloc((t.nrows ? t.nrows : 1) * sizeof *x);
    y = malloc((t.nrows ? t.nrows : 1) * sizeof *y);
    if (!x || !y) {
        rc = gm_set_error(GM_ENOMEM, "out of memory for %zu rows", t.nrows);
        goto done;
    }
    for (size_t r = 0; r < t.nrows; r++) x[r] = t.values[r * t.ncols + (size_t)xj];
    for (int k = 0; k < ny; k++) {
        for (size_t r = 0; r < t.nrows; r++) y[r] = t.values[r * t.ncols + (size_t)ycols[k]];
        const char *label = ny > 1 ? t.colnames[ycols[k]] : NULL;
        rc = points ? gm_plot_points(p, x, y, t.nrows, label) : gm_plot_line(p, x, y, t.nrows, label);
        if (rc) goto done;
    }
    for (int k = 0; k < nh; k++) {
        rc = gm_plot_hline(p, hl[k], NULL);
        if (rc) goto done;
    }
    rc = gm_plot_write_png(p, out, (int)width, (int)height);
    if (rc) goto done;
    printf("wrote %s (%ldx%ld): %d series, %zu rows from %s\n", out, width, height, ny, t.nrows, csv_path);
done:
    free(x);
    free(y);
    gm_plot_free(p);
    gm_csv_free(&t);
    return rc ? cli_fail(rc) : CLI_OK;
}
