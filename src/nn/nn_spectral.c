/* SPDX-License-Identifier: MIT */
/* nn_spectral.c — spectral normalisation of a weight matrix (Miyato et al. 2018; PyTorch's
 * torch.nn.utils.spectral_norm in training mode): power iterations on a persistent vector u, sigma =
 * u^T W v, W_sn = W / sigma, and the backward with u, v held constant; plus the tape op.
 * Owns nothing (u is the caller's persistent buffer). Thread safety: re-entrant; serial loops with double
 * accumulation in index order (the matrices are small), so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "genmix/nn.h"
#include "genmix/tape.h"

static void normalise(float *x, size_t n, const double *acc, float eps) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += acc[i] * acc[i];
    double nrm = sqrt(s);
    if (nrm < (double)eps) nrm = (double)eps;
    for (size_t i = 0; i < n; i++) x[i] = (float)(acc[i] / nrm);
}

/* Fast path: no scratch; the unnormalised products are parked in v / u (float) and scaled in place. */
void gm_spectral_norm_forward(float *wsn, float *u, float *v, float *sigma, const float *w, size_t OC, size_t C,
                              int iters, float eps) {
    GM_ASSERT(wsn && u && v && sigma && w && OC && C);
    for (int it = 0; it < iters; it++) {
        /* v = normalise(W^T u), accumulated in float64 one column at a time (u, W rows in order) */
        double s = 0;
        for (size_t j = 0; j < C; j++) {
            double a = 0;
            for (size_t i = 0; i < OC; i++) a += (double)w[i * C + j] * (double)u[i];
            v[j] = (float)a;
            s += a * a;
        }
        double nv = sqrt(s) < (double)eps ? (double)eps : sqrt(s);
        /* keep the unrounded direction: v_j = a_j / |a| (recomputed in float from the float a_j) */
        for (size_t j = 0; j < C; j++) v[j] = (float)((double)v[j] / nv);
        s = 0;
        for (size_t i = 0; i < OC; i++) {
            double a = 0;
            for (size_t j = 0; j < C; j++) a += (double)w[i * C + j] * (double)v[j];
            u[i] = (float)a;
            s += a * a;
        }
        double nu = sqrt(s) < (double)eps ? (double)eps : sqrt(s);
        for (size_t i = 0; i < OC; i++) u[i] = (float)((double)u[i] / nu);
    }
    double sg = 0;
    for (size_t i = 0; i < OC; i++) {
        double a = 0;
        for (size_t j = 0; j < C; j++) a += (double)w[i * C + j] * (double)v[j];
        sg += (double)u[i] * a;
    }
    sigma[0] = (float)sg;
    float inv = (float)(1.0 / sg);
    for (size_t k = 0; k < OC * C; k++) wsn[k] = w[k] * inv;
}

void gm_spectral_norm_backward(float *dw, const float *dwsn, const float *wsn, const float *u, const float *v,
                               float sigma, size_t OC, size_t C) {
    if (!dw) return;
    double dot = 0;
    for (size_t k = 0; k < OC * C; k++) dot += (double)dwsn[k] * (double)wsn[k];
    double is = 1.0 / (double)sigma, c = dot * is;
    for (size_t i = 0; i < OC; i++)
        for (size_t j = 0; j < C; j++)
            dw[i * C + j] += (float)((double)dwsn[i * C + j] * is - c * (double)u[i] * (double)v[j]);
}

/* ---- naive twins: full temporaries, the textbook formulas ---- */
void gm_spectral_norm_forward_ref(float *wsn, float *u, float *v, float *sigma, const float *w, size_t OC,
                                  size_t C, int iters, float eps) {
    double a[4096], b[4096];
    GM_ASSERT(OC <= 4096 && C <= 4096);
    for (int it = 0; it < iters; it++) {
        for (size_t j = 0; j < C; j++) {
            a[j] = 0;
            for (size_t i = 0; i < OC; i++) a[j] += (double)w[i * C + j] * (double)u[i];
        }
        normalise(v, C, a, eps);
        for (size_t i = 0; i < OC; i++) {
            b[i] = 0;
            for (size_t j = 0; j < C; j++) b[i] += (double)w[i * C + j] * (double)v[j];
        }
        normalise(u, OC, b, eps);
    }
    double sg = 0;
    for (size_t i = 0; i < OC; i++)
        for (size_t j = 0; j < C; j++) sg += (double)u[i] * (double)w[i * C + j] * (double)v[j];
    sigma[0] = (float)sg;
    for (size_t k = 0; k < OC * C; k++) wsn[k] = (float)((double)w[k] / sg);
}

void gm_spectral_norm_backward_ref(float *dw, const float *dwsn, const float *wsn, const float *u,
                                   const float *v, float sigma, size_t OC, size_t C) {
    if (!dw) return;
    for (size_t i = 0; i < OC; i++)
        for (size_t j = 0; j < C; j++) {
            double g = (double)dwsn[i * C + j] / (double)sigma;
            for (size_t k = 0; k < OC * C; k++)
                g -= (double)dwsn[k] * (double)wsn[k] / (double)sigma * (double)u[i] * (double)v[j];
            dw[i * C + j] += (float)g;
        }
}

/* ---- tape op ---- */
static void bw_sn(gm_tape *t, gm_node *n) {
    gm_var *w = n->in[0];
    size_t OC = (size_t)n->ip[0], C = (size_t)n->ip[1];
    gm_spectral_norm_backward(gm_tape_grad(t, w), n->out->grad, n->out->val, n->save[0], n->save[1], n->fp[0], OC, C);
}

gm_var *gm_op_spectral_norm(gm_tape *t, gm_var *w, float *u, int iters, float eps) {
    if (!w || !u || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "spectral_norm: NULL input");
    size_t OC = (size_t)w->shape[0], C = OC ? w->n / OC : 0;
    if (w->ndim < 2 || C == 0 || iters < 0) return gm_tape_fail(t, GM_ESHAPE, "spectral_norm: weight must be (OC, C...)");
    gm_var *y = gm_tape_new(t, w->ndim, w->shape, 0);
    float *us = gm_arena_alloc(gm_tape_arena(t), OC * sizeof(float)), *vs = gm_arena_alloc(gm_tape_arena(t), C * sizeof(float));
    if (!y || !us || !vs) return gm_tape_fail(t, GM_ENOMEM, NULL);
    float sigma;
    gm_spectral_norm_forward(y->val, u, vs, &sigma, w->val, OC, C, iters > 0 ? iters : 1, eps);
    if (!(fabsf(sigma) > 0) || !isfinite(sigma)) return gm_tape_fail(t, GM_ENUMERIC, "spectral_norm: sigma is zero or not finite");
    memcpy(us, u, OC * sizeof(float));
    gm_var *in[1] = {w};
    gm_node *n = gm_tape_record(t, bw_sn, y, 1, in);
    if (n) {
        n->save[0] = us;
        n->save[1] = vs;
        n->fp[0] = sigma;
        n->ip[0] = (int64_t)OC;
        n->ip[1] = (int64_t)C;
    }
    return y;
}
