/* SPDX-License-Identifier: MIT */
/* plot_render.c — rasterising a gm_plot: the RGB canvas, the anti-aliased coverage layer, the 5x9 bitmap
 * text, series/grid/frame/legend drawing and gm_plot_write_png (layout and ticks come from plot.c).
 * Owns: the canvas, coverage layer and occupancy mask, allocated and freed inside gm_plot_write_png.
 * Output is a pure function of the plot and the size. Thread safety: one plot per thread. */
#include "genmix/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/io.h"
#include "plot_font.h"
#include "plot_internal.h"

/* ---- canvas, coverage layer, text ------------------------------------------------------------- */


static void blend(canvas *c, int x, int y, uint32_t rgb, float a) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || !(a > 0.0f)) return;
    if (a > 1.0f) a = 1.0f;
    uint8_t *px = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    const float col[3] = {(float)((rgb >> 16) & 255), (float)((rgb >> 8) & 255), (float)(rgb & 255)};
    for (int k = 0; k < 3; k++) {
        float v = (float)px[k] * (1.0f - a) + col[k] * a;
        px[k] = (uint8_t)(v + 0.5f);
    }
}

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb, float a) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) blend(c, x, y, rgb, a);
}

static void layer_begin(canvas *c, int x0, int y0, int x1, int y1) {
    c->cx0 = x0 < 0 ? 0 : x0;
    c->cy0 = y0 < 0 ? 0 : y0;
    c->cx1 = x1 > c->w ? c->w : x1;
    c->cy1 = y1 > c->h ? c->h : y1;
    c->bx0 = c->cx1;
    c->by0 = c->cy1;
    c->bx1 = c->cx0;
    c->by1 = c->cy0;
}

/* Add coverage (clamped at 1): pieces of one shape that tile a pixel, e.g. band columns split between
 * two segments. */
static void cov_add(canvas *c, int x, int y, float v) {
    if (x < c->cx0 || y < c->cy0 || x >= c->cx1 || y >= c->cy1 || !(v > 0.0f)) return;
    float *d = c->cov + (size_t)y * (size_t)c->w + (size_t)x;
    float t = *d + v;
    *d = t > 1.0f ? 1.0f : t;
    if (x < c->bx0) c->bx0 = x;
    if (y < c->by0) c->by0 = y;
    if (x + 1 > c->bx1) c->bx1 = x + 1;
    if (y + 1 > c->by1) c->by1 = y + 1;
}

static void cov_put(canvas *c, int x, int y, float v) {
    if (x < c->cx0 || y < c->cy0 || x >= c->cx1 || y >= c->cy1 || !(v > 0.0f)) return;
    if (!c->aa) v = v >= 0.5f ? 1.0f : 0.0f;
    if (v > 1.0f) v = 1.0f;
    float *d = c->cov + (size_t)y * (size_t)c->w + (size_t)x;
    if (v > *d) *d = v;
    if (x < c->bx0) c->bx0 = x;
    if (y < c->by0) c->by0 = y;
    if (x + 1 > c->bx1) c->bx1 = x + 1;
    if (y + 1 > c->by1) c->by1 = y + 1;
}

/* Composite the layer in colour rgb with opacity alpha, clear it, and mark occupancy if `mark`. */
static void layer_end(canvas *c, uint32_t rgb, float alpha, int mark) {
    for (int y = c->by0; y < c->by1; y++)
        for (int x = c->bx0; x < c->bx1; x++) {
            float *d = c->cov + (size_t)y * (size_t)c->w + (size_t)x;
            if (*d > 0.0f) {
                float v = c->aa ? *d : (*d >= 0.5f ? 1.0f : 0.0f);
                blend(c, x, y, rgb, v * alpha);
                if (mark) c->occ[(size_t)y * (size_t)c->w + (size_t)x] = 1;
                *d = 0.0f;
            }
        }
}

/* A segment of half-width hw between pixel-space points (continuous coordinates; pixel (i,j) has its
 * centre at (i+0.5, j+0.5)). Coverage falls off linearly over one pixel at the edge. */
static void cov_segment(canvas *c, double x0, double y0, double x1, double y1, double hw) {
    double pad = hw + 1.0;
    int ix0 = (int)floor(fmin(x0, x1) - pad), ix1 = (int)ceil(fmax(x0, x1) + pad);
    int iy0 = (int)floor(fmin(y0, y1) - pad), iy1 = (int)ceil(fmax(y0, y1) + pad);
    if (ix0 < c->cx0) ix0 = c->cx0;
    if (iy0 < c->cy0) iy0 = c->cy0;
    if (ix1 > c->cx1) ix1 = c->cx1;
    if (iy1 > c->cy1) iy1 = c->cy1;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    int steep = fabs(dy) > fabs(dx);
    /* Walk the major axis; on each line of it only a window around the segment can be covered, so the
     * cost is proportional to the length, not to the bounding box. */
    int m0 = steep ? iy0 : ix0, m1 = steep ? iy1 : ix1;
    for (int m = m0; m < m1; m++) {
        int n0, n1;
        if (steep) { /* x as a function of y */
            double ya = fmax(fmin(y0, y1), m - pad), yb = fmin(fmax(y0, y1), m + 1 + pad);
            if (ya > yb) continue;
            double xa = x0 + (ya - y0) / dy * dx, xb = x0 + (yb - y0) / dy * dx;
            n0 = (int)floor(fmin(xa, xb) - pad);
            n1 = (int)ceil(fmax(xa, xb) + pad);
            if (n0 < ix0) n0 = ix0;
            if (n1 > ix1) n1 = ix1;
        } else if (dx != 0) {
            double xa = fmax(fmin(x0, x1), m - pad), xb = fmin(fmax(x0, x1), m + 1 + pad);
            if (xa > xb) continue;
            double ya = y0 + (xa - x0) / dx * dy, yb = y0 + (xb - x0) / dx * dy;
            n0 = (int)floor(fmin(ya, yb) - pad);
            n1 = (int)ceil(fmax(ya, yb) + pad);
            if (n0 < iy0) n0 = iy0;
            if (n1 > iy1) n1 = iy1;
        } else { /* a dot */
            n0 = iy0;
            n1 = iy1;
        }
        for (int n = n0; n < n1; n++) {
            int x = steep ? n : m, y = steep ? m : n;
            double px = x + 0.5 - x0, py = y + 0.5 - y0;
            double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0;
            if (t < 0) t = 0;
            if (t > 1) t = 1;
            double ex = px - t * dx, ey = py - t * dy;
            double d = sqrt(ex * ex + ey * ey);
            cov_put(c, x, y, (float)(hw + 0.5 - d));
        }
    }
}

/* Filled marker centred at (cx, cy) with "radius" r, 4x4 supersampled. */
static int in_marker(int shape, double dx, double dy, double r) {
    switch (shape) {
    case 1: return fabs(dx) <= 0.85 * r && fabs(dy) <= 0.85 * r;
    case 2: { /* triangle pointing up: apex (0,-r), base y = 0.6r, half-width 1.05r */
        double yb = 0.6 * r, ya = -1.1 * r;
        if (dy > yb || dy < ya) return 0;
        return fabs(dx) <= 1.05 * r * (dy - ya) / (yb - ya);
    }
    case 3: return fabs(dx) + fabs(dy) <= 1.25 * r;
    default: return dx * dx + dy * dy <= r * r;
    }
}

static void cov_marker(canvas *c, double cx, double cy, double r, int shape) {
    int ix0 = (int)floor(cx - 1.5 * r - 1), ix1 = (int)ceil(cx + 1.5 * r + 1);
    int iy0 = (int)floor(cy - 1.5 * r - 1), iy1 = (int)ceil(cy + 1.5 * r + 1);
    for (int y = iy0; y < iy1; y++)
        for (int x = ix0; x < ix1; x++) {
            int hits = 0;
            for (int sy = 0; sy < 4; sy++)
                for (int sx = 0; sx < 4; sx++)
                    hits += in_marker(shape, x + (sx + 0.5) / 4.0 - cx, y + (sy + 0.5) / 4.0 - cy, r);
            cov_put(c, x, y, (float)hits / 16.0f);
        }
}

/* Vertical span [ya, yb] (continuous) in pixel column x, weighted by `w` (the fraction of the column
 * inside the shape), with fractional coverage at the ends; added to the layer. */
static void cov_vspan(canvas *c, int x, double ya, double yb, double w) {
    if (ya > yb) {
        double t = ya;
        ya = yb;
        yb = t;
    }
    int y0 = (int)fmax(floor(ya), (double)c->cy0), y1 = (int)fmin(ceil(yb), (double)c->cy1);
    for (int y = y0; y < y1; y++) {
        double lo = fmax(ya, y), hi = fmin(yb, y + 1.0);
        if (hi > lo) cov_add(c, x, y, (float)((hi - lo) * w));
    }
}

/* ---- text (5x9 bitmap font, integer scale) ---------------------------------------------------- */

/* Columns [first, last] used by a glyph (proportional spacing); space is 3 columns wide. */
static void glyph_cols(int ch, int *first, int *last) {
    if (ch < 32 || ch > 126) ch = '?';
    unsigned m = 0;
    for (int r = 0; r < 9; r++) m |= gm_font5x9[ch - 32][r];
    if (!m) {
        *first = 0;
        *last = 2;
        return;
    }
    int f = 0, l = 4;
    while (!(m & (0x10u >> f))) f++;
    while (!(m & (0x10u >> l))) l--;
    *first = f;
    *last = l;
}

/* Next displayable character: ASCII as is, each UTF-8 sequence as one '?'. */
static int next_char(const char **s) {
    unsigned char c = (unsigned char)**s;
    (*s)++;
    if (c < 0x80) return c >= 32 ? c : '?';
    while ((**s & 0xC0) == 0x80) (*s)++;
    return '?';
}

/* Width in pixels of a string at scale sc (1 pixel of spacing between glyphs, none after the last). */
int gm__plot_text_width(const char *s, int sc) {
    int w = 0, n = 0;
    while (s && *s) {
        int f, l;
        glyph_cols(next_char(&s), &f, &l);
        w += l - f + 1 + 1;
        n++;
    }
    return n ? (w - 1) * sc : 0;
}

#define TEXT_H 7 /* cap height in font rows; descenders go 2 rows below */

/* Draw text with its top-left corner at (x, y) (rot = 0), or rotated 90 degrees counter-clockwise with
 * the start of the text at the bottom-left (x, y) (rot = 1: reads bottom to top). bold draws twice. */
static void draw_text(canvas *c, int x, int y, const char *s, int sc, uint32_t rgb, int rot, int bold) {
    int pen = 0;
    while (s && *s) {
        int ch = next_char(&s), f, l;
        glyph_cols(ch, &f, &l);
        const uint8_t *g = gm_font5x9[(ch < 32 || ch > 126 ? '?' : ch) - 32];
        for (int r = 0; r < 9; r++)
            for (int col = f; col <= l; col++) {
                if (!(g[r] & (0x10u >> col))) continue;
                int gx = (pen + col - f) * sc, gy = r * sc;
                for (int b = 0; b <= bold; b++)
                    for (int yy = 0; yy < sc; yy++)
                        for (int xx = 0; xx < sc; xx++) {
                            if (!rot) blend(c, x + gx + xx + b, y + gy + yy, rgb, 1.0f);
                            else blend(c, x + gy + yy, y - gx - xx - b, rgb, 1.0f);
                        }
            }
        pen += l - f + 2;
    }
}

/* ---- rendering -------------------------------------------------------------------------------- */

static const uint32_t ref_grays[] = {0x333333, 0x888888};

static uint32_t series_rgb(int color) {
    if (color >= 0) return gm_plot_color_rgb((size_t)color);
    return ref_grays[(-1 - color) % 2];
}

static double map_x(const layout *L, double t) {
    return L->left + (t - L->xr[0]) / (L->xr[1] - L->xr[0]) * (L->right - L->left);
}

static double map_y(const layout *L, double t) {
    return L->bottom - (t - L->yr[0]) / (L->yr[1] - L->yr[0]) * (L->bottom - L->top);
}

#define C_BG 0xFFFFFF
#define C_TEXT 0x222222
#define C_AXIS 0x333333
#define C_GRID 0xE6E6E6

/* Pixel coordinates of far-away data are clamped to +-GM_FAR before any integer conversion; a point
 * that far outside the view only moves an already clipped part of a line. */
#define GM_FAR 1e30

static double clamp_far(double v) { return v < -GM_FAR ? -GM_FAR : v > GM_FAR ? GM_FAR : v; }

/* Liang-Barsky: clip the segment to [x0,x1] x [y0,y1]; 0 if nothing is left. */
static int clip_segment(double *ax, double *ay, double *bx, double *by, double x0, double y0, double x1, double y1) {
    double dx = *bx - *ax, dy = *by - *ay, t0 = 0.0, t1 = 1.0;
    const double pp[4] = {-dx, dx, -dy, dy};
    const double qq[4] = {*ax - x0, x1 - *ax, *ay - y0, y1 - *ay};
    for (int i = 0; i < 4; i++) {
        if (pp[i] == 0) {
            if (qq[i] < 0) return 0;
            continue;
        }
        double r = qq[i] / pp[i];
        if (pp[i] < 0) {
            if (r > t1) return 0;
            if (r > t0) t0 = r;
        } else {
            if (r < t0) return 0;
            if (r < t1) t1 = r;
        }
    }
    double sx = *ax, sy = *ay;
    *ax = sx + t0 * dx;
    *ay = sy + t0 * dy;
    *bx = sx + t1 * dx;
    *by = sy + t1 * dy;
    return 1;
}

static void draw_series(canvas *c, const gm_plot *p, const layout *L, const series *s) {
    double lw = 0.9 * L->sc + 0.1; /* half-width of data lines */
    layer_begin(c, L->left, L->top, L->right, L->bottom);
    if (s->kind == SER_HLINE) {
        double ty = gm__plot_axis_t(s->y[0], p->log_y);
        if (isnan(ty)) return;
        double py = map_y(L, ty);
        if (!(py > L->top - 4.0 && py < L->bottom + 4.0)) return; /* outside the view */
        double dash = 6.0 * L->sc, period = (s->color == -1 ? 10.0 : 6.0) * L->sc;
        if (s->color != -1) dash = 3.0 * L->sc;
        for (double x0 = L->left; x0 < L->right; x0 += period)
            cov_segment(c, x0, py, fmin(x0 + dash, L->right), py, 0.6 * L->sc);
        layer_end(c, series_rgb(s->color), 1.0f, 1);
        return;
    }
    if (s->kind == SER_BAND) {
        /* fill between consecutive valid points, column by column */
        for (size_t k = 0; k + 1 < s->n; k++) {
            double ta = gm__plot_axis_t(s->x[k], p->log_x), tb = gm__plot_axis_t(s->x[k + 1], p->log_x);
            double la = gm__plot_axis_t(s->y[k], p->log_y), lb = gm__plot_axis_t(s->y[k + 1], p->log_y);
            double ha = gm__plot_axis_t(s->y2[k], p->log_y), hb = gm__plot_axis_t(s->y2[k + 1], p->log_y);
            if (isnan(ta) || isnan(tb) || isnan(la) || isnan(lb) || isnan(ha) || isnan(hb)) continue;
            double xa = clamp_far(map_x(L, ta)), xb = clamp_far(map_x(L, tb));
            double ya0 = clamp_far(map_y(L, la)), yb0 = clamp_far(map_y(L, lb));
            double ya1 = clamp_far(map_y(L, ha)), yb1 = clamp_far(map_y(L, hb));
            if (xa > xb) {
                double t;
                t = xa, xa = xb, xb = t;
                t = ya0, ya0 = yb0, yb0 = t;
                t = ya1, ya1 = yb1, yb1 = t;
            }
            int i0 = (int)fmax(floor(xa), (double)c->cx0), i1 = (int)fmin(ceil(xb), (double)c->cx1);
            for (int x = i0; x < i1; x++) {
                double cx = x + 0.5;
                /* fraction of this pixel column inside [xa, xb] */
                double wfrac = fmin(xb, x + 1.0) - fmax(xa, (double)x);
                if (wfrac <= 0) continue;
                double u = xb > xa ? (fmin(fmax(cx, xa), xb) - xa) / (xb - xa) : 0.0;
                double y0 = ya0 + u * (yb0 - ya0), y1 = ya1 + u * (yb1 - ya1);
                cov_vspan(c, x, y0, y1, c->aa ? wfrac : 1.0);
            }
        }
        layer_end(c, series_rgb(s->color), 0.22f, 1);
        return;
    }
    /* lines: polyline broken at missing points; points: markers */
    double prevx = NAN, prevy = NAN;
    for (size_t k = 0; k < s->n; k++) {
        double tx = gm__plot_axis_t(s->x[k], p->log_x), ty = gm__plot_axis_t(s->y[k], p->log_y);
        if (isnan(tx) || isnan(ty)) {
            prevx = prevy = NAN;
            continue;
        }
        double px = clamp_far(map_x(L, tx)), py = clamp_far(map_y(L, ty));
        /* the view plus a margin wide enough for line ends and markers */
        double m = 4.0 * L->sc + 4.0;
        double vx0 = L->left - m, vy0 = L->top - m, vx1 = L->right + m, vy1 = L->bottom + m;
        int inside = px >= vx0 && px <= vx1 && py >= vy0 && py <= vy1;
        if (s->kind == SER_POINTS) {
            if (inside) cov_marker(c, px, py, 2.8 * L->sc + 0.2, s->marker);
        } else if (!isnan(prevx)) {
            double ax = prevx, ay = prevy, bx = px, by = py;
            if (clip_segment(&ax, &ay, &bx, &by, vx0, vy0, vx1, vy1)) cov_segment(c, ax, ay, bx, by, lw);
        } else if (inside &&
                   (k + 1 >= s->n || isnan(gm__plot_axis_t(s->x[k + 1], p->log_x)) || isnan(gm__plot_axis_t(s->y[k + 1], p->log_y)))) {
            cov_segment(c, px, py, px, py, lw * 1.3); /* an isolated point still shows as a dot */
        }
        prevx = px;
        prevy = py;
    }
    layer_end(c, series_rgb(s->color), 1.0f, 1);
}

static void draw_grid(canvas *c, const layout *L, int grid) {
    if (grid) {
        for (int i = 0; i < L->xt.n; i++) {
            if (!L->xt.major[i]) continue;
            int x = (int)floor(map_x(L, L->xt.t[i]));
            if (x > L->left && x < L->right - 1) fill_rect(c, x, L->top, x + 1, L->bottom, C_GRID, 1.0f);
        }
        for (int i = 0; i < L->yt.n; i++) {
            if (!L->yt.major[i]) continue;
            int y = (int)floor(map_y(L, L->yt.t[i]));
            if (y > L->top && y < L->bottom - 1) fill_rect(c, L->left, y, L->right, y + 1, C_GRID, 1.0f);
        }
    }
}

static void draw_frame_and_labels(canvas *c, const gm_plot *p, const layout *L) {
    int sc = L->sc, tick_len = 5 * sc, gap = 4 * sc, line_h = 9 * sc;
    int lw = sc; /* frame line width */
    /* box just outside the plot area */
    fill_rect(c, L->left - lw, L->top - lw, L->right + lw, L->top, C_AXIS, 1.0f);
    fill_rect(c, L->left - lw, L->bottom, L->right + lw, L->bottom + lw, C_AXIS, 1.0f);
    fill_rect(c, L->left - lw, L->top, L->left, L->bottom, C_AXIS, 1.0f);
    fill_rect(c, L->right, L->top, L->right + lw, L->bottom, C_AXIS, 1.0f);
    /* x ticks and labels */
    for (int i = 0; i < L->xt.n; i++) {
        int x = (int)floor(map_x(L, L->xt.t[i]));
        if (x < L->left - 1 || x > L->right) continue;
        int len = L->xt.major[i] ? tick_len : (tick_len + 1) / 2;
        fill_rect(c, x, L->bottom + lw, x + sc, L->bottom + lw + len, C_AXIS, 1.0f);
        if (!L->xt.major[i]) continue;
        int w = gm__plot_text_width(L->xt.label[i], sc);
        draw_text(c, x + sc / 2 - w / 2, L->bottom + lw + tick_len + gap, L->xt.label[i], sc, C_TEXT, 0, 0);
    }
    /* y ticks and labels (right-aligned, vertically centred on the tick) */
    for (int i = 0; i < L->yt.n; i++) {
        int y = (int)floor(map_y(L, L->yt.t[i]));
        if (y < L->top - 1 || y > L->bottom) continue;
        int len = L->yt.major[i] ? tick_len : (tick_len + 1) / 2;
        fill_rect(c, L->left - lw - len, y, L->left - lw, y + sc, C_AXIS, 1.0f);
        if (!L->yt.major[i]) continue;
        int w = gm__plot_text_width(L->yt.label[i], sc);
        draw_text(c, L->left - lw - tick_len - gap - w, y + sc / 2 - (TEXT_H * sc) / 2, L->yt.label[i], sc, C_TEXT,
                  0, 0);
    }
    /* axis labels and title */
    if (p->xlabel) {
        int w = gm__plot_text_width(p->xlabel, sc);
        draw_text(c, (L->left + L->right) / 2 - w / 2, L->bottom + lw + tick_len + gap + line_h + gap, p->xlabel, sc,
                  C_TEXT, 0, 0);
    }
    if (p->ylabel) {
        int w = gm__plot_text_width(p->ylabel, sc);
        draw_text(c, gap * 2, (L->top + L->bottom) / 2 + w / 2, p->ylabel, sc, C_TEXT, 1, 0);
    }
    if (p->title) {
        int w = gm__plot_text_width(p->title, sc) + sc;
        draw_text(c, (L->left + L->right) / 2 - w / 2, gap * 2, p->title, sc, C_TEXT, 0, 1);
    }
}

/* Legend: entries for labelled series, in a corner of the plot area chosen to cover the fewest drawn
 * data pixels (ties: top-right, top-left, bottom-left, bottom-right). */
static void draw_legend(canvas *c, const gm_plot *p, const layout *L) {
    int sc = L->sc, gap = 4 * sc, line_h = 9 * sc, sample_w = 22 * sc;
    int n = 0, tw = 0;
    for (size_t i = 0; i < p->ns; i++)
        if (p->s[i].label && p->s[i].kind != SER_BAND) {
            n++;
            int w = gm__plot_text_width(p->s[i].label, sc);
            if (w > tw) tw = w;
        }
    if (!n) return;
    int row_h = line_h + 2 * sc;
    int bw = gap + sample_w + gap + tw + gap * 2, bh = gap + n * row_h + gap - 2 * sc;
    int margin = 2 * gap;
    if (bw > L->right - L->left - 2 * margin || bh > L->bottom - L->top - 2 * margin) {
        margin = gap;
    }
    int cand[4][2] = {{L->right - margin - bw, L->top + margin},
                      {L->left + margin, L->top + margin},
                      {L->left + margin, L->bottom - margin - bh},
                      {L->right - margin - bw, L->bottom - margin - bh}};
    long best = -1;
    int bx = cand[0][0], by = cand[0][1];
    for (int k = 0; k < 4; k++) {
        long cnt = 0;
        for (int y = cand[k][1]; y < cand[k][1] + bh; y++)
            for (int x = cand[k][0]; x < cand[k][0] + bw; x++)
                if (x >= 0 && y >= 0 && x < c->w && y < c->h) cnt += c->occ[(size_t)y * (size_t)c->w + (size_t)x];
        if (best < 0 || cnt < best) {
            best = cnt;
            bx = cand[k][0];
            by = cand[k][1];
        }
    }
    fill_rect(c, bx, by, bx + bw, by + bh, C_BG, 0.88f);
    fill_rect(c, bx, by, bx + bw, by + 1, 0xBBBBBB, 1.0f);
    fill_rect(c, bx, by + bh - 1, bx + bw, by + bh, 0xBBBBBB, 1.0f);
    fill_rect(c, bx, by, bx + 1, by + bh, 0xBBBBBB, 1.0f);
    fill_rect(c, bx + bw - 1, by, bx + bw, by + bh, 0xBBBBBB, 1.0f);
    int row = 0;
    for (size_t i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (!s->label || s->kind == SER_BAND) continue;
        int ty = by + gap + row * row_h;
        double cy = ty + (TEXT_H * sc) / 2.0;
        double x0 = bx + gap, x1 = bx + gap + sample_w;
        layer_begin(c, bx, by, bx + bw, by + bh);
        /* a band in this series' colour shows behind its sample */
        for (size_t j = 0; j < p->ns; j++)
            if (p->s[j].kind == SER_BAND && p->s[j].color == s->color && s->kind != SER_HLINE) {
                fill_rect(c, (int)x0, (int)(cy - 3.5 * sc), (int)x1, (int)(cy + 3.5 * sc) + 1, series_rgb(s->color),
                          0.22f);
                break;
            }
        if (s->kind == SER_LINE) cov_segment(c, x0, cy, x1, cy, 0.9 * sc + 0.1);
        else if (s->kind == SER_POINTS) cov_marker(c, (x0 + x1) / 2, cy, 2.8 * sc + 0.2, s->marker);
        else {
            double dash = (s->color == -1 ? 6.0 : 3.0) * sc, period = (s->color == -1 ? 10.0 : 6.0) * sc;
            for (double xx = x0; xx < x1; xx += period) cov_segment(c, xx, cy, fmin(xx + dash, x1), cy, 0.6 * sc);
        }
        layer_end(c, series_rgb(s->color), 1.0f, 0);
        draw_text(c, (int)x1 + gap, ty, s->label, sc, C_TEXT, 0, 0);
        row++;
    }
}

int gm_plot_write_png(const gm_plot *p, const char *path, int width, int height) {
    GM_ASSERT(p);
    if (!path || !*path) GM_FAIL(GM_EINVAL, "plot: empty output path");
    if (width < GM_PLOT_MIN_SIZE || height < GM_PLOT_MIN_SIZE || width > GM_PLOT_MAX_SIZE ||
        height > GM_PLOT_MAX_SIZE)
        GM_FAIL(GM_EINVAL, "%s: plot size %d x %d outside %d..%d", path, width, height, GM_PLOT_MIN_SIZE,
                GM_PLOT_MAX_SIZE);
    layout L;
    int rc = gm__plot_compute_layout(p, width, height, &L);
    if (rc) return gm_error_prefix(rc, path);
    size_t npx = (size_t)width * (size_t)height;
    canvas c;
    memset(&c, 0, sizeof c);
    c.w = width;
    c.h = height;
    c.aa = p->antialias;
    c.rgb = gm_malloc(npx * 3);
    c.cov = gm_calloc(npx, sizeof(float));
    c.occ = gm_calloc(npx, 1);
    if (!c.rgb || !c.cov || !c.occ) {
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto done;
    }
    memset(c.rgb, 255, npx * 3);
    draw_grid(&c, &L, p->grid);
    for (size_t i = 0; i < p->ns; i++) /* bands under everything else */
        if (p->s[i].kind == SER_BAND) draw_series(&c, p, &L, &p->s[i]);
    for (size_t i = 0; i < p->ns; i++)
        if (p->s[i].kind == SER_HLINE) draw_series(&c, p, &L, &p->s[i]);
    for (size_t i = 0; i < p->ns; i++)
        if (p->s[i].kind == SER_LINE || p->s[i].kind == SER_POINTS) draw_series(&c, p, &L, &p->s[i]);
    draw_frame_and_labels(&c, p, &L);
    draw_legend(&c, p, &L);
    rc = gm_png_write(path, c.rgb, width, height, 3);
done:
    gm_free(c.rgb);
    gm_free(c.cov);
    gm_free(c.occ);
    return rc;
}
