/* genmix/plot.h — small PNG line/scatter plots for reports (score vs round, PR curves, loss curves,
 * log-log rate plots). No dependency beyond libpng (through io); text is drawn with a built-in bitmap font.
 *
 * Usage:
 *     gm_plot *p;
 *     gm_plot_create(&p, "KID vs round", "round", "KID");
 *     gm_plot_line(p, x, y, n, "Mixture-UCB-CAB");
 *     gm_plot_band(p, x, lo, hi, n);          // shaded band under the next/previous line's colour
 *     gm_plot_set_log(p, 1, 1);               // log10 axes
 *     gm_plot_write_png(p, "kid.png", 800, 500);
 *     gm_plot_free(p);
 *
 * Ownership: series data is copied at the call. Thread safety: one plot per thread.
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
/* Markers only. */
int gm_plot_points(gm_plot *p, const double *x, const double *y, size_t n, const char *label);
/* A translucent band between lo and hi in the colour of the most recent line (e.g. mean +- std). */
int gm_plot_band(gm_plot *p, const double *x, const double *lo, const double *hi, size_t n);
/* A horizontal reference line (dashed) with optional label. */
int gm_plot_hline(gm_plot *p, double y, const char *label);
int gm_plot_write_png(const gm_plot *p, const char *path, int width, int height);
void gm_plot_free(gm_plot *p);

#ifdef __cplusplus
}
#endif
#endif /* GM_PLOT_H */
