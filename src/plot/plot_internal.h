/* SPDX-License-Identifier: MIT */
/* plot_internal.h — private to src/plot/: the plot object and its series, the tick and layout records that
 * plot.c (data, ranges, ticks, layout) computes and plot_render.c (canvas, text, rasterisation) draws, and
 * the few functions they call across the two files (gm__plot_ prefix). Not installed. */
#ifndef GM_PLOT_INTERNAL_H
#define GM_PLOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "genmix/plot.h"

typedef enum { SER_LINE, SER_POINTS, SER_BAND, SER_HLINE } ser_kind;

typedef struct {
    ser_kind kind;
    int color;   /* palette index, or -1 - k for the k-th reference-line gray */
    int marker;  /* points: 0 circle, 1 square, 2 triangle, 3 diamond */
    char *label; /* NULL: no legend entry */
    size_t n;
    double *x, *y, *y2; /* band: y = lo, y2 = hi; hline: y[0] */
} series;

struct gm_plot {
    char *title, *xlabel, *ylabel;
    int log_x, log_y;
    double xfix[2], yfix[2]; /* NaN = automatic */
    int grid, antialias;
    series *s;
    size_t ns, cap;
    int next_color;  /* palette index of the next line/points series */
    int last_color;  /* colour of the most recent line/points series (-1: none yet) */
    int n_markers, n_hlines;
};

#define MAX_TICKS 64

typedef struct {
    int n;
    double t[MAX_TICKS];        /* axis coordinates */
    int major[MAX_TICKS];       /* labelled ticks are major; minor ticks are short and unlabelled */
    char label[MAX_TICKS][GM_PLOT_LABEL_MAX];
} ticks;

typedef struct {
    int sc;                          /* text scale */
    int left, top, right, bottom;    /* plot area [left,right) x [top,bottom) */
    double xr[2], yr[2];             /* axis coordinate ranges */
    ticks xt, yt;
} layout;

typedef struct {
    uint8_t *rgb;
    int w, h;
    float *cov;    /* coverage layer, w*h, zero outside the current bounding box */
    uint8_t *occ;  /* 1 where data was drawn (legend placement) */
    int bx0, by0, bx1, by1; /* bounding box of non-zero coverage, [bx0,bx1) x [by0,by1) */
    int cx0, cy0, cx1, cy1; /* clip rectangle for the layer */
    int aa;
} canvas;

/* Value -> axis coordinate (log10 on log axes); NaN when the value cannot be shown (plot.c). */
double gm__plot_axis_t(double v, int logscale);
/* Text scale, plot area, axis ranges and ticks for an image of width x height (plot.c). */
int gm__plot_compute_layout(const gm_plot *p, int width, int height, layout *L);
/* Width in pixels of s in the bitmap font at scale sc (plot_render.c). */
int gm__plot_text_width(const char *s, int sc);

#endif
