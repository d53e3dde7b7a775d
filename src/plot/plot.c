/* SPDX-License-Identifier: MIT */
/* plot.c — small PNG line/scatter plots rasterised in memory (RGB, 8 bits) and written with gm_png_write.
 * This file: the plot object (series copies, options), axis ranges, ticks and their labels, the layout
 * and the public frame/tick queries; plot_render.c rasterises and writes the PNG.
 *
 * Owns: copies of every series (gm_plot); during gm_plot_write_png an RGB canvas, one float coverage
 * layer and an occupancy mask, freed before returning.
 * Rendering: each series is rasterised into the coverage layer (anti-aliased by distance to the
 * segment, or binary when anti-aliasing is off) taking the max over its segments, then composited once
 * in its colour, so joints are clean and translucent bands do not double up. Text uses the built-in
 * 5x9 bitmap font (src/plot/plot_font.h) at an integer scale chosen from the image size.
 * Output is a pure function of the plot and the size (no time stamps, no threads): same input, same bytes.
 * Thread safety: one plot per thread.
 *
 * module: plot (src/plot/) owns the PNG line/scatter/band plots and their bitmap font (genmix/plot.h).
 * It uses core and io; at the methods' level, so only the CLI uses it.
 */
#include "genmix/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/io.h"
#include "plot_internal.h"

/* ---- data ------------------------------------------------------------------------------------- */




/* Okabe & Ito (2008) colour-blind-safe palette, ordered for contrast on white (yellow last). */
static const uint32_t palette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xE69F00, 0xCC79A7, 0x56B4E9, 0x000000, 0xF0E442};
static const char *const palette_names[] = {"blue", "vermillion", "bluish green", "orange",
                                            "reddish purple", "sky blue", "black", "yellow"};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))
_Static_assert(sizeof palette_names / sizeof palette_names[0] == sizeof palette / sizeof palette[0],
               "one name per palette colour");

const char *gm_plot_color_name(size_t i) { return palette_names[i % (size_t)N_PALETTE]; }
uint32_t gm_plot_color_rgb(size_t i) { return palette[i % (size_t)N_PALETTE]; }


static char *dup_or_null(const char *s) { return s ? gm_strdup(s) : NULL; }

int gm_plot_create(gm_plot **out, const char *title, const char *xlabel, const char *ylabel) {
    GM_ASSERT(out);
    *out = NULL;
    gm_plot *p = gm_calloc(1, sizeof *p);
    if (!p) return GM_ENOMEM;
    p->xfix[0] = p->xfix[1] = p->yfix[0] = p->yfix[1] = NAN;
    p->grid = 1;
    p->antialias = 1;
    p->last_color = -1;
    p->title = dup_or_null(title);
    p->xlabel = dup_or_null(xlabel);
    p->ylabel = dup_or_null(ylabel);
    if ((title && !p->title) || (xlabel && !p->xlabel) || (ylabel && !p->ylabel)) {
        gm_plot_free(p);
        return GM_ENOMEM;
    }
    *out = p;
    return GM_OK;
}

void gm_plot_free(gm_plot *p) {
    if (!p) return;
    for (size_t i = 0; i < p->ns; i++) {
        gm_free(p->s[i].label);
        gm_free(p->s[i].x);
        gm_free(p->s[i].y);
        gm_free(p->s[i].y2);
    }
    gm_free(p->s);
    gm_free(p->title);
    gm_free(p->xlabel);
    gm_free(p->ylabel);
    gm_free(p);
}

void gm_plot_set_log(gm_plot *p, int log_x, int log_y) {
    GM_ASSERT(p);
    p->log_x = log_x != 0;
    p->log_y = log_y != 0;
}

void gm_plot_set_xrange(gm_plot *p, double lo, double hi) {
    GM_ASSERT(p);
    p->xfix[0] = lo;
    p->xfix[1] = hi;
}

void gm_plot_set_yrange(gm_plot *p, double lo, double hi) {
    GM_ASSERT(p);
    p->yfix[0] = lo;
    p->yfix[1] = hi;
}

void gm_plot_set_grid(gm_plot *p, int on) {
    GM_ASSERT(p);
    p->grid = on != 0;
}

void gm_plot_set_antialias(gm_plot *p, int on) {
    GM_ASSERT(p);
    p->antialias = on != 0;
}

static double *dup_doubles(const double *v, size_t n) {
    double *d = gm_malloc(n * sizeof *d);
    if (d && n) memcpy(d, v, n * sizeof *d);
    return d;
}

/* Append a series, copying the arrays (any of them may be NULL when unused). */
static int add_series(gm_plot *p, ser_kind kind, const double *x, const double *y, const double *y2, size_t n,
                      const char *label, series **added) {
    if (p->ns == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        series *ns = gm_realloc(p->s, cap * sizeof *ns);
        if (!ns) return GM_ENOMEM;
        p->s = ns;
        p->cap = cap;
    }
    series s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.n = n;
    s.label = dup_or_null(label);
    s.x = x ? dup_doubles(x, n) : NULL;
    s.y = y ? dup_doubles(y, n) : NULL;
    s.y2 = y2 ? dup_doubles(y2, n) : NULL;
    if ((label && !s.label) || (x && !s.x) || (y && !s.y) || (y2 && !s.y2)) {
        gm_free(s.label);
        gm_free(s.x);
        gm_free(s.y);
        gm_free(s.y2);
        return GM_ENOMEM;
    }
    p->s[p->ns] = s;
    *added = &p->s[p->ns++];
    return GM_OK;
}

static int add_xy(gm_plot *p, ser_kind kind, const double *x, const double *y, size_t n, const char *label,
                  const char *what) {
    GM_ASSERT(p);
    if (n && (!x || !y)) GM_FAIL(GM_EINVAL, "%s: NULL data for %zu points", what, n);
    series *s;
    int rc = add_series(p, kind, x, y, NULL, n, label, &s);
    if (rc) return rc;
    s->color = p->next_color++;
    p->last_color = s->color;
    if (kind == SER_POINTS) s->marker = p->n_markers++ % 4;
    return GM_OK;
}

int gm_plot_line(gm_plot *p, const double *x, const double *y, size_t n, const char *label) {
    return add_xy(p, SER_LINE, x, y, n, label, "gm_plot_line");
}

int gm_plot_points(gm_plot *p, const double *x, const double *y, size_t n, const char *label) {
    return add_xy(p, SER_POINTS, x, y, n, label, "gm_plot_points");
}

int gm_plot_band(gm_plot *p, const double *x, const double *lo, const double *hi, size_t n) {
    GM_ASSERT(p);
    if (n && (!x || !lo || !hi)) GM_FAIL(GM_EINVAL, "gm_plot_band: NULL data for %zu points", n);
    series *s;
    int rc = add_series(p, SER_BAND, x, lo, hi, n, NULL, &s);
    if (rc) return rc;
    /* the most recent line's colour; before any line, the colour the next line will get */
    s->color = p->last_color >= 0 ? p->last_color : p->next_color;
    return GM_OK;
}

int gm_plot_hline(gm_plot *p, double y, const char *label) {
    GM_ASSERT(p);
    if (!isfinite(y)) GM_FAIL(GM_EINVAL, "gm_plot_hline: y must be finite");
    series *s;
    int rc = add_series(p, SER_HLINE, NULL, &y, NULL, 1, label, &s);
    if (rc) return rc;
    s->color = -1 - p->n_hlines++;
    return GM_OK;
}

/* ---- ranges and ticks ------------------------------------------------------------------------- */

/* Value -> axis coordinate (log10 on log axes); NaN when the value cannot be shown. */
double gm__plot_axis_t(double v, int logscale) {
    if (!isfinite(v)) return NAN;
    if (logscale) return v > 0 ? log10(v) : (double)NAN;
    return v;
}

static void range_add(double *lo, double *hi, double t) {
    if (isnan(t)) return;
    if (t < *lo) *lo = t;
    if (t > *hi) *hi = t;
}

/* The data range of each axis in axis coordinates (lo > hi when there is no data). */
static void data_ranges(const gm_plot *p, double xr[2], double yr[2]) {
    xr[0] = yr[0] = INFINITY;
    xr[1] = yr[1] = -INFINITY;
    for (size_t i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (s->kind == SER_HLINE) {
            range_add(&yr[0], &yr[1], gm__plot_axis_t(s->y[0], p->log_y));
            continue;
        }
        for (size_t k = 0; k < s->n; k++) {
            double tx = gm__plot_axis_t(s->x[k], p->log_x);
            double ty = gm__plot_axis_t(s->y[k], p->log_y);
            double ty2 = s->kind == SER_BAND ? gm__plot_axis_t(s->y2[k], p->log_y) : ty;
            if (isnan(tx) || isnan(ty) || isnan(ty2)) continue;
            range_add(&xr[0], &xr[1], tx);
            range_add(&yr[0], &yr[1], ty);
            range_add(&yr[0], &yr[1], ty2);
        }
    }
}

/* Final axis range in axis coordinates: fixed ends are used as given, automatic ends get a 4% margin. */
static int final_range(const double fix[2], double dr[2], int logscale, const char *axis, double out[2]) {
    for (int e = 0; e < 2; e++)
        if (!isnan(fix[e]) && (!isfinite(fix[e]) || (logscale && fix[e] <= 0)))
            GM_FAIL(GM_EINVAL, "plot: fixed %s range end %g is not usable%s", axis, fix[e],
                    logscale ? " on a log axis" : "");
    double lo = isnan(fix[0]) ? dr[0] : gm__plot_axis_t(fix[0], logscale);
    double hi = isnan(fix[1]) ? dr[1] : gm__plot_axis_t(fix[1], logscale);
    int auto_lo = isnan(fix[0]), auto_hi = isnan(fix[1]);
    if (!isnan(fix[0]) && !isnan(fix[1]) && !(lo < hi))
        GM_FAIL(GM_EINVAL, "plot: %s range [%g, %g] is empty", axis, fix[0], fix[1]);
    /* auto ends that agree to ~12 digits are one value (ticks cannot resolve less) */
    if (auto_lo && auto_hi && lo < hi && hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) hi = lo;
    if (lo > hi) { /* no data (or a fixed end beyond all of it) */
        if (auto_lo && auto_hi) {
            lo = 0;
            hi = 1;
        } else if (auto_lo) {
            lo = hi - 1;
        } else {
            hi = lo + 1;
        }
    } else if (lo == hi) { /* a single value: widen around it */
        double d = logscale ? 0.5 : (lo == 0 ? 1.0 : 0.1 * fabs(lo));
        if (auto_lo) lo -= d;
        if (auto_hi) hi += d;
    } else {
        double m = 0.04 * (hi - lo);
        if (auto_lo) lo -= m;
        if (auto_hi) hi += m;
    }
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo) || !(hi > lo))
        GM_FAIL(GM_EINVAL, "plot: %s range [%g, %g] cannot be drawn", axis, lo, hi);
    out[0] = lo;
    out[1] = hi;
    return GM_OK;
}


/* Compact %g: "1e-05" -> "1e-5", "1e+06" -> "1e6", "-0" -> "0". */
static void fmt_num(char *buf, size_t n, double v, int prec) {
    if (v == 0) v = 0; /* drop the sign of -0 */
    snprintf(buf, n, "%.*g", prec, v);
    char *e = strchr(buf, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

/* Format one label: plain decimals with `prec` decimals, or compact %g with prec+1 significant digits
 * when |v| >= big or |v| < small. */
static void fmt_label(char *buf, size_t n, double v, int prec, double big, double small) {
    double a = fabs(v);
    if (a != 0 && (a >= big || a < small)) fmt_num(buf, n, v, prec + 1);
    else snprintf(buf, n, "%.*f", prec, v == 0 ? 0.0 : v);
}

static int faithful(const char *label, double v, double spacing) {
    return fabs(strtod(label, NULL) - v) <= 1e-9 * spacing + 1e-12 * fabs(v);
}

/* Labels for the major ticks of a linear axis: plain decimals ("0.25", "1500") with the fewest decimals
 * (shared by all labels) that keep every label within 1e-9 of the spacing of its value and distinct from
 * its neighbour; compact %g ("1e-5", "2.5e6") for magnitudes >= 1e5 or below 1e-4. */
static void label_values(ticks *tk, const double *v, double spacing) {
    int any_compact = 0; /* then zero is written "0", not "0.0" next to "5e5" */
    for (int i = 0; i < tk->n; i++)
        if (tk->major[i] && v[i] != 0 && (fabs(v[i]) >= 1e5 || fabs(v[i]) < 1e-4)) any_compact = 1;
    for (int prec = 0; prec <= 17; prec++) {
        int ok = 1;
        const char *prev = NULL;
        for (int i = 0; i < tk->n && ok; i++) {
            if (!tk->major[i]) continue;
            fmt_label(tk->label[i], sizeof tk->label[i], v[i], prec, 1e5, 1e-4);
            if (v[i] == 0 && any_compact) snprintf(tk->label[i], sizeof tk->label[i], "0");
            if (!faithful(tk->label[i], v[i], spacing)) ok = 0;
            if (prev && !strcmp(prev, tk->label[i])) ok = 0;
            prev = tk->label[i];
        }
        if (ok) return;
    }
}

/* Log axis labels: each value on its own, shortest faithful form ("0.01", "100", "1e4", "2e-5"). */
static void label_values_log(ticks *tk, const double *v) {
    for (int i = 0; i < tk->n; i++) {
        if (!tk->major[i]) continue;
        for (int prec = 0; prec <= 17; prec++) {
            fmt_label(tk->label[i], sizeof tk->label[i], v[i], prec, 1e4, 1e-3);
            if (faithful(tk->label[i], v[i], 0.0)) break;
        }
    }
}

/* 1-2-5 step giving about `target` intervals over [lo, hi]. */
static double nice_step(double span, double target) {
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double step = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
    return step * mag;
}

static void linear_ticks(ticks *tk, double lo, double hi, double target) {
    tk->n = 0;
    double step = nice_step(hi - lo, target);
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    double v[MAX_TICKS];
    for (double k = k0; k <= k1 && tk->n < MAX_TICKS; k++) {
        double t = k * step;
        if (fabs(t) < 1e-9 * step) t = 0;
        tk->t[tk->n] = t;
        tk->major[tk->n] = 1;
        v[tk->n++] = t;
    }
    label_values(tk, v, step);
}

/* Log axis in decades [lo, hi] (log10 units): decade ticks (every k-th labelled when there are many),
 * minor ticks at 2..9 when the range is short, more labelled mantissas when decades alone would label
 * fewer than 3 ticks; with a very short range, 1-2-5 ticks in value space. */
static void log_ticks(ticks *tk, double lo, double hi, double target) {
    tk->n = 0;
    double v[MAX_TICKS];
    double d0 = ceil(lo - 1e-9), d1 = floor(hi + 1e-9);
    int ndec = (int)(d1 - d0) + 1;
    if (hi - lo < 0.6) { /* less than a factor ~4: plain nice ticks in value space */
        double vlo = pow(10.0, lo), vhi = pow(10.0, hi);
        double step = nice_step(vhi - vlo, target);
        for (double k = ceil(vlo / step - 1e-9); k * step <= vhi * (1 + 1e-12) && tk->n < MAX_TICKS; k++) {
            tk->t[tk->n] = log10(k * step);
            tk->major[tk->n] = 1;
            v[tk->n++] = k * step;
        }
        label_values(tk, v, step);
        return;
    }
    int every = 1;
    while (ndec / every > (int)target + 1) every++;
    int minor = (hi - lo) <= 8;
    /* Labelled mantissas: decades only; when that labels fewer than 3 ticks, 1-2-5; then 1-2-3-5;
     * then every integer mantissa (ranges of about a decade). */
    static const unsigned masks[4] = {1u << 1, (1u << 1) | (1u << 2) | (1u << 5),
                                      (1u << 1) | (1u << 2) | (1u << 3) | (1u << 5), 0x3FEu};
    unsigned mask = masks[0];
    for (int k = 0; k < 4; k++) {
        mask = masks[k];
        if (k && every > 1) break;
        int cnt = 0;
        for (double d = floor(lo); d <= ceil(hi); d++)
            for (int m = 1; m <= 9; m++) {
                double t = d + log10((double)m);
                if (t >= lo - 1e-9 && t <= hi + 1e-9 && (mask & (1u << m))) cnt++;
            }
        if (cnt >= 3) break;
    }
    for (double d = floor(lo); d <= ceil(hi) && tk->n < MAX_TICKS - 9; d++) {
        for (int m = 1; m <= 9; m++) {
            double t = d + log10((double)m);
            if (t < lo - 1e-9 || t > hi + 1e-9) continue;
            int major = m == 1 ? fmod(fabs(d), (double)every) == 0 : (mask & (1u << m)) != 0;
            if (!major && !(minor && (m == 1 || every == 1))) continue;
            tk->t[tk->n] = t;
            tk->major[tk->n] = major;
            v[tk->n++] = pow(10.0, d) * m;
        }
    }
    label_values_log(tk, v);
}

/* ---- layout ----------------------------------------------------------------------------------- */


static int text_scale(int width, int height) {
    int s = width / 600 < height / 400 ? width / 600 : height / 400;
    return s < 1 ? 1 : s;
}

int gm__plot_compute_layout(const gm_plot *p, int width, int height, layout *L) {
    memset(L, 0, sizeof *L);
    double dx[2], dy[2];
    data_ranges(p, dx, dy);
    int rc = final_range(p->xfix, dx, p->log_x, "x", L->xr);
    if (rc) return rc;
    rc = final_range(p->yfix, dy, p->log_y, "y", L->yr);
    if (rc) return rc;
    int sc = L->sc = text_scale(width, height);
    int line_h = 9 * sc, tick_len = 5 * sc, gap = 4 * sc;
    /* y ticks first: their label width sets the left margin */
    int top = gap * 2 + (p->title ? line_h + gap * 2 : 0);
    int bottom = height - (gap * 2 + tick_len + line_h + (p->xlabel ? line_h + gap * 2 : 0));
    double ytarget = (bottom - top) / (double)(40 * sc);
    if (ytarget < 2) ytarget = 2;
    if (ytarget > 10) ytarget = 10;
    if (p->log_y) log_ticks(&L->yt, L->yr[0], L->yr[1], ytarget);
    else linear_ticks(&L->yt, L->yr[0], L->yr[1], ytarget);
    int ylw = 0;
    for (int i = 0; i < L->yt.n; i++)
        if (L->yt.major[i]) {
            int w = gm__plot_text_width(L->yt.label[i], sc);
            if (w > ylw) ylw = w;
        }
    int left = gap * 2 + (p->ylabel ? line_h + gap * 2 : 0) + ylw + gap + tick_len;
    int right = width - gap * 5;
    if (right - left < 20 || bottom - top < 20)
        GM_FAIL(GM_EINVAL, "plot: %d x %d pixels leaves no room for the plot area", width, height);
    double xtarget = (right - left) / (double)(80 * sc);
    if (xtarget < 2) xtarget = 2;
    if (xtarget > 10) xtarget = 10;
    for (;;) { /* fewer x ticks until their labels do not collide */
        if (p->log_x) log_ticks(&L->xt, L->xr[0], L->xr[1], xtarget);
        else linear_ticks(&L->xt, L->xr[0], L->xr[1], xtarget);
        double span = L->xr[1] - L->xr[0], prev_end = -1e300;
        int collide = 0;
        for (int i = 0; i < L->xt.n; i++) {
            if (!L->xt.major[i]) continue;
            double cx = left + (L->xt.t[i] - L->xr[0]) / span * (right - left);
            int w = gm__plot_text_width(L->xt.label[i], sc);
            if (cx - w / 2.0 < prev_end + 3 * gap) collide = 1;
            prev_end = cx + w / 2.0;
        }
        if (!collide || xtarget <= 1.01) break;
        xtarget = xtarget / 1.5 < 1 ? 1 : xtarget / 1.5;
    }
    L->left = left;
    L->top = top;
    L->right = right;
    L->bottom = bottom;
    return GM_OK;
}


int gm_plot_frame_get(const gm_plot *p, int width, int height, gm_plot_frame *out) {
    GM_ASSERT(p && out);
    memset(out, 0, sizeof *out);
    if (width < GM_PLOT_MIN_SIZE || height < GM_PLOT_MIN_SIZE || width > GM_PLOT_MAX_SIZE ||
        height > GM_PLOT_MAX_SIZE)
        GM_FAIL(GM_EINVAL, "plot: size %d x %d outside %d..%d", width, height, GM_PLOT_MIN_SIZE, GM_PLOT_MAX_SIZE);
    layout L;
    int rc = gm__plot_compute_layout(p, width, height, &L);
    if (rc) return rc;
    out->left = L.left;
    out->top = L.top;
    out->right = L.right;
    out->bottom = L.bottom;
    out->xmin = p->log_x ? pow(10.0, L.xr[0]) : L.xr[0];
    out->xmax = p->log_x ? pow(10.0, L.xr[1]) : L.xr[1];
    out->ymin = p->log_y ? pow(10.0, L.yr[0]) : L.yr[0];
    out->ymax = p->log_y ? pow(10.0, L.yr[1]) : L.yr[1];
    return GM_OK;
}

int gm_plot_ticks(const gm_plot *p, int axis, int width, int height, double *values,
                  char (*labels)[GM_PLOT_LABEL_MAX], int max) {
    GM_ASSERT(p && (axis == 0 || axis == 1) && max >= 0);
    gm_plot_frame fr;
    int rc = gm_plot_frame_get(p, width, height, &fr);
    if (rc) return rc;
    layout L;
    rc = gm__plot_compute_layout(p, width, height, &L);
    if (rc) return rc;
    const ticks *tk = axis == 0 ? &L.xt : &L.yt;
    int lg = axis == 0 ? p->log_x : p->log_y, n = 0;
    for (int i = 0; i < tk->n && n < max; i++) {
        if (!tk->major[i]) continue;
        if (values) values[n] = lg ? pow(10.0, tk->t[i]) : tk->t[i];
        if (labels) memcpy(labels[n], tk->label[i], GM_PLOT_LABEL_MAX);
        n++;
    }
    return n;
}
