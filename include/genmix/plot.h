/* SPDX-License-Identifier: MIT */
/* genmix/plot.h — small PNG line/scatter plots for reports (score vs round, PR curves, loss curves,
 * log-log rate plots). No dependency beyond libpng (through io); text is drawn with a built-in bitmap font.
 *
 * Usage:
 *     gm_plot *p;
 *     gm_plot_create(&p, "KID vs round", "round", "KID");
 *     gm_plot_line(p, x, y, n, "Mixture-UCB-CAB");
 *     gm_plot_band(p, x, lo, hi, n);          // translucent band in the most recent line's colour
 *     gm_plot_set_log(p, 1, 1);               // log10 axes
 *     gm_plot_write_png(p, "kid.png", 800, 500);
 *     gm_plot_free(p);
 *
 * Missing values: NaN/Inf (and values <= 0 on a log axis) are skipped and break a line into pieces.
 * Errors: the adders return GM_EINVAL for NULL data with n > 0 and GM_ENOMEM; gm_plot_write_png returns
 * GM_EINVAL (bad size or range) or GM_EIO naming the file. Output is deterministic (same bytes).
 * Ownership: series data is copied at the call. Thread safety: one plot per thread.
 * See docs/plot.md for ticks, colours, legend placement and the CLI `genmix plot`.
 */
#ifndef GM_PLOT_H
#define GM_PLOT_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_plot gm_plot;

int gm_plot_create(gm_plot **out, const char *title, const char *xlabel, const char *ylabel);
/* log10 axes (non-positive values are dropped from a log axis). */
void gm_plot_set_log(gm_plot *p, int log_x, int log_y);
/* Fix an axis range (NaN leaves that end automatic). */
void gm_plot_set_xrange(gm_plot *p, double lo, double hi);
void gm_plot_set_yrange(gm_plot *p, double lo, double hi);
/* A polyline with a legend label (NULL: no legend entry); colours cycle through a fixed palette. */
int gm_plot_line(gm_plot *p, const double *x, const double *y, size_t n, const char *label);
/* The colour of the i-th line/points series of a plot (the palette cycles): its name ("blue",
 * "vermillion", ...) and 0xRRGGBB value, so that programs can describe a plot's legend in text/JSON. */
const char *gm_plot_color_name(size_t i);
uint32_t gm_plot_color_rgb(size_t i);
/* Markers only. */
int gm_plot_points(gm_plot *p, const double *x, const double *y, size_t n, const char *label);
/* A translucent band between lo and hi in the colour of the most recent line (e.g. mean +- std). */
int gm_plot_band(gm_plot *p, const double *x, const double *lo, const double *hi, size_t n);
/* A horizontal reference line (dashed) with optional label. */
int gm_plot_hline(gm_plot *p, double y, const char *label);
/* Render and write an RGB PNG atomically (width and height in GM_PLOT_MIN_SIZE..GM_PLOT_MAX_SIZE).
 * GM_EINVAL for a bad size or an unusable fixed range (empty, or <= 0 on a log axis). Same plot and
 * size give byte-identical files. */
int gm_plot_write_png(const gm_plot *p, const char *path, int width, int height);
void gm_plot_free(gm_plot *p);

#define GM_PLOT_MIN_SIZE 120
#define GM_PLOT_MAX_SIZE 10000

/* Light grid lines at the labelled ticks (default on). */
void gm_plot_set_grid(gm_plot *p, int on);
/* Anti-aliased lines, markers and bands (default on); off gives hard-edged pixels. */
void gm_plot_set_antialias(gm_plot *p, int on);

/* Where the data area lands for a given image size: pixels [left, right) x [top, bottom) (the axis box
 * is drawn just outside), and the axis ranges after margins (values, not log10, on log axes).
 * Continuous pixel coordinates: x = left + (t(v) - t(xmin)) / (t(xmax) - t(xmin)) * (right - left),
 * y = bottom - (...) * (bottom - top), with t = log10 on log axes; pixel (i, j) has its centre at
 * (i + 0.5, j + 0.5). For tests and for callers who annotate plots. */
typedef struct {
    int left, top, right, bottom;
    double xmin, xmax, ymin, ymax;
} gm_plot_frame;
int gm_plot_frame_get(const gm_plot *p, int width, int height, gm_plot_frame *out);

/* The labelled ticks of axis 0 (x) or 1 (y) for an image size: up to `max` values (in data units) and
 * their labels as drawn. Returns the number of labelled ticks (>= 0) or a negative status. */
#define GM_PLOT_LABEL_MAX 32
int gm_plot_ticks(const gm_plot *p, int axis, int width, int height, double *values,
                  char (*labels)[GM_PLOT_LABEL_MAX], int max);

#ifdef __cplusplus
}
#endif
#endif /* GM_PLOT_H */
