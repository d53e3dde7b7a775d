/* SPDX-License-Identifier: MIT */
/* nn_coupling.c — the affine coupling layer of RealNVP (Dinh et al. 2017) with tanh-bounded log-scales:
 * forward and inverse maps with their log-determinants in one kernel, the backward of both, the naive
 * twins and the tape op. Owns nothing. Thread safety: re-entrant; rows are independent (OpenMP over rows
 * for large batches), the per-row log-determinant is summed in index order. */
#include <math.h>

#include "genmix/nn.h"
#include "genmix/tape.h"
#include "nn_internal.h"

void gm_coupling_forward(float *out, const float *x, const float *st, const float *mask, size_t B, size_t D,
                         float scale, int dir) {
    GM_ASSERT(out && x && st && mask && (dir == 1 || dir == -1));
#pragma omp parallel for schedule(static) if (B * D > GM__PAR_MIN)
    for (long b = 0; b < (long)B; b++) {
        const float *xr = x + (size_t)b * D, *sr = st + (size_t)b * 2 * D, *tr = sr + D;
        float *o = out + (size_t)b * (D + 1);
        double ld = 0;
        for (size_t d = 0; d < D; d++) {
            if (mask[d] != 0.0f) {
                o[d] = xr[d];
                continue;
            }
            float s = scale * tanhf(sr[d]);
            o[d] = dir > 0 ? xr[d] * expf(s) + tr[d] : (xr[d] - tr[d]) * expf(-s);
            ld += (double)s;
        }
        o[D] = (float)(dir > 0 ? ld : -ld);
    }
}

void gm_coupling_backward(float *dx, float *dst, const float *dout, const float *x, const float *st,
                          const float *mask, size_t B, size_t D, float scale, int dir) {
#pragma omp parallel for schedule(static) if (B * D > GM__PAR_MIN)
    for (long b = 0; b < (long)B; b++) {
        const float *xr = x + (size_t)b * D, *sr = st + (size_t)b * 2 * D, *tr = sr + D, *g = dout + (size_t)b * (D + 1);
        float *dxr = dx ? dx + (size_t)b * D : NULL, *dsr = dst ? dst + (size_t)b * 2 * D : NULL;
        float gl = g[D];
        for (size_t d = 0; d < D; d++) {
            if (mask[d] != 0.0f) {
                if (dxr) dxr[d] += g[d];
                continue;
            }
            float th = tanhf(sr[d]), s = scale * th, ds;
            if (dir > 0) { /* y = x e^s + t, logdet = s */
                float e = expf(s);
                if (dxr) dxr[d] += g[d] * e;
                ds = g[d] * xr[d] * e + gl;
                if (dsr) dsr[D + d] += g[d];
            } else { /* y = (x - t) e^-s, logdet = -s */
                float e = expf(-s);
                if (dxr) dxr[d] += g[d] * e;
                ds = -g[d] * (xr[d] - tr[d]) * e - gl;
                if (dsr) dsr[D + d] -= g[d] * e;
            }
            if (dsr) dsr[d] += ds * scale * (1.0f - th * th);
        }
    }
}

/* ---- naive twins: double precision, one element at a time ---- */
void gm_coupling_forward_ref(float *out, const float *x, const float *st, const float *mask, size_t B, size_t D,
                             float scale, int dir) {
    for (size_t b = 0; b < B; b++) {
        double ld = 0;
        for (size_t d = 0; d < D; d++) {
            double xv = x[b * D + d], s = mask[d] != 0.0f ? 0 : (double)scale * tanh((double)st[b * 2 * D + d]);
            double t = mask[d] != 0.0f ? 0 : (double)st[b * 2 * D + D + d];
            out[b * (D + 1) + d] = (float)(dir > 0 ? xv * exp(s) + t : (xv - t) * exp(-s));
            ld += s;
        }
        out[b * (D + 1) + D] = (float)(dir > 0 ? ld : -ld);
    }
}

void gm_coupling_backward_ref(float *dx, float *dst, const float *dout, const float *x, const float *st,
                              const float *mask, size_t B, size_t D, float scale, int dir) {
    for (size_t b = 0; b < B; b++)
        for (size_t d = 0; d < D; d++) {
            double g = dout[b * (D + 1) + d], gl = dout[b * (D + 1) + D], xv = x[b * D + d];
            if (mask[d] != 0.0f) {
                if (dx) dx[b * D + d] += (float)g;
                continue;
            }
            double th = tanh((double)st[b * 2 * D + d]), s = (double)scale * th, t = (double)st[b * 2 * D + D + d];
            double e = exp(dir > 0 ? s : -s);
            double ddx = g * e, ds = dir > 0 ? g * xv * e + gl : -g * (xv - t) * e - gl, dt = dir > 0 ? g : -g * e;
            if (dx) dx[b * D + d] += (float)ddx;
            if (dst) {
                dst[b * 2 * D + d] += (float)(ds * (double)scale * (1 - th * th));
                dst[b * 2 * D + D + d] += (float)dt;
            }
        }
}

/* ---- tape op ---- */
static void bw_coupling(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0], *st = n->in[1];
    size_t B = (size_t)n->ip[0], D = (size_t)n->ip[1];
    gm_coupling_backward(gm_tape_grad(t, x), gm_tape_grad(t, st), n->out->grad, x->val, st->val, n->save[0], B, D,
                         n->fp[0], (int)n->ip[2]);
}

gm_var *gm_op_coupling(gm_tape *t, gm_var *x, gm_var *st, const float *mask, float scale, int dir) {
    if (!x || !st || !mask || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "coupling: NULL input");
    size_t B = (size_t)x->shape[0], D = B ? x->n / B : 0;
    if (x->ndim != 2 || st->n != 2 * x->n || (dir != 1 && dir != -1))
        return gm_tape_fail(t, GM_ESHAPE, "coupling: want x(B,D), st(B,2D), dir +-1");
    int64_t sh[2] = {(int64_t)B, (int64_t)D + 1};
    gm_var *y = gm_tape_new(t, 2, sh, 0);
    if (!y) return NULL;
    gm_coupling_forward(y->val, x->val, st->val, mask, B, D, scale, dir);
    gm_var *in[2] = {x, st};
    gm_node *n = gm_tape_record(t, bw_coupling, y, 2, in);
    if (n) {
        n->save[0] = (void *)mask;
        n->fp[0] = scale;
        n->ip[0] = (int64_t)B, n->ip[1] = (int64_t)D, n->ip[2] = dir;
    }
    return y;
}
