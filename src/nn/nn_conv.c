/* SPDX-License-Identifier: MIT */
/* nn_conv.c — convolution kernels (im2col/col2im + SGEMM over the whole batch), transposed convolution,
 * pooling and nearest upsampling, each with a naive _ref twin (see nn.h for the contract).
 * Layout of the batched column matrix: col(C*K*K, B*OH*OW), row (c,kh,kw), column (b,oh,ow); one large
 * GEMM per pass keeps BLAS efficient for small images. Owns nothing. Thread safety: reentrant; OpenMP
 * over images/planes with schedule(static); no cross-thread reductions. */
#include <float.h>
#include <string.h>

#include "genmix/nn.h"
#include "nn_internal.h"

/* ==== geometry ================================================================================= */

int gm_conv2d_dims(gm_conv_dims *d) {
    if (d->K == 0 || d->stride == 0) GM_FAIL(GM_EINVAL, "conv2d: kernel size and stride must be positive");
    if (d->H + 2 * d->pad < d->K || d->W + 2 * d->pad < d->K)
        GM_FAIL(GM_ESHAPE, "conv2d: %zux%zu input with pad %zu is smaller than the %zux%zu kernel", d->H, d->W,
                d->pad, d->K, d->K);
    d->OH = (d->H + 2 * d->pad - d->K) / d->stride + 1;
    d->OW = (d->W + 2 * d->pad - d->K) / d->stride + 1;
    return GM_OK;
}

int gm_conv_transpose2d_dims(gm_conv_dims *d) {
    if (d->K == 0 || d->stride == 0 || d->H == 0 || d->W == 0)
        GM_FAIL(GM_EINVAL, "conv_transpose2d: kernel size, stride and input size must be positive");
    size_t oh = (d->H - 1) * d->stride + d->K, ow = (d->W - 1) * d->stride + d->K;
    if (oh <= 2 * d->pad || ow <= 2 * d->pad) GM_FAIL(GM_ESHAPE, "conv_transpose2d: padding %zu too large", d->pad);
    d->OH = oh - 2 * d->pad;
    d->OW = ow - 2 * d->pad;
    return GM_OK;
}

size_t gm_conv2d_col_size(const gm_conv_dims *d) { return d->C * d->K * d->K * d->B * d->OH * d->OW; }
size_t gm_conv2d_work_size(const gm_conv_dims *d) {
    return (d->OC + d->C * d->K * d->K) * d->B * d->OH * d->OW;
}

/* ==== im2col / col2im ========================================================================== */

void gm_im2col(float *col, const float *img, const gm_conv_dims *d) {
    const size_t K = d->K, P = d->OH * d->OW, NP = d->B * P;
    long bc;
    /* one (image, channel) pair per iteration: disjoint writes */
#pragma omp parallel for schedule(static) if (NP * d->C * K * K > GM__PAR_MIN)
    for (bc = 0; bc < (long)(d->B * d->C); bc++) {
        size_t b = (size_t)bc / d->C, c = (size_t)bc % d->C;
        const float *x = img + (b * d->C + c) * d->H * d->W;
        for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++) {
                float *row = col + ((c * K + kh) * K + kw) * NP + b * P;
                for (size_t oh = 0; oh < d->OH; oh++) {
                    long ih = (long)(oh * d->stride + kh) - (long)d->pad;
                    float *r = row + oh * d->OW;
                    if (ih < 0 || ih >= (long)d->H) {
                        memset(r, 0, d->OW * sizeof(float));
                        continue;
                    }
                    const float *xr = x + (size_t)ih * d->W;
                    if (d->stride == 1) {
                        /* contiguous run [lo, hi) with zero borders */
                        size_t lo = d->pad > kw ? d->pad - kw : 0, hi = d->W + d->pad - kw;
                        if (hi > d->OW) hi = d->OW;
                        if (lo > hi) lo = hi;
                        const size_t sh = kw - d->pad; /* ow + sh >= 0 for ow >= lo (wraps harmlessly) */
                        for (size_t ow = 0; ow < lo; ow++) r[ow] = 0.0f;
#pragma omp simd
                        for (size_t ow = lo; ow < hi; ow++) r[ow] = xr[ow + sh];
                        for (size_t ow = hi; ow < d->OW; ow++) r[ow] = 0.0f;
                    } else {
                        for (size_t ow = 0; ow < d->OW; ow++) {
                            long iw = (long)(ow * d->stride + kw) - (long)d->pad;
                            r[ow] = (iw >= 0 && iw < (long)d->W) ? xr[iw] : 0.0f;
                        }
                    }
                }
            }
    }
}

void gm_col2im(float *img, const float *col, const gm_conv_dims *d) {
    const size_t K = d->K, P = d->OH * d->OW, NP = d->B * P;
    long bc;
    /* each (image, channel) plane is owned by one iteration, and its kernel offsets are visited in a
     * fixed order, so the sums are thread-count independent */
#pragma omp parallel for schedule(static) if (NP * d->C * K * K > GM__PAR_MIN)
    for (bc = 0; bc < (long)(d->B * d->C); bc++) {
        size_t b = (size_t)bc / d->C, c = (size_t)bc % d->C;
        float *x = img + (b * d->C + c) * d->H * d->W;
        for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++) {
                const float *row = col + ((c * K + kh) * K + kw) * NP + b * P;
                for (size_t oh = 0; oh < d->OH; oh++) {
                    long ih = (long)(oh * d->stride + kh) - (long)d->pad;
                    if (ih < 0 || ih >= (long)d->H) continue;
                    float *xr = x + (size_t)ih * d->W;
                    const float *r = row + oh * d->OW;
                    if (d->stride == 1) {
                        size_t lo = d->pad > kw ? d->pad - kw : 0, hi = d->W + d->pad - kw;
                        if (hi > d->OW) hi = d->OW;
                        const size_t sh = kw - d->pad;
#pragma omp simd
                        for (size_t ow = lo; ow < hi; ow++) xr[ow + sh] += r[ow];
                        continue;
                    }
                    for (size_t ow = 0; ow < d->OW; ow++) {
                        long iw = (long)(ow * d->stride + kw) - (long)d->pad;
                        if (iw >= 0 && iw < (long)d->W) xr[iw] += r[ow];
                    }
                }
            }
    }
}

/* NCHW (B,C,P) <-> channel-major (C, B*P) */
static void to_cmajor(float *dst, const float *src, size_t B, size_t C, size_t P) {
    long bc;
#pragma omp parallel for schedule(static) if (B * C * P > GM__PAR_MIN)
    for (bc = 0; bc < (long)(B * C); bc++) {
        size_t b = (size_t)bc / C, c = (size_t)bc % C;
        memcpy(dst + c * B * P + b * P, src + (size_t)bc * P, P * sizeof(float));
    }
}
/* dst(B,C,P) (+)= src(C,B*P) + bias(C) */
static void from_cmajor(float *dst, const float *src, const float *bias, size_t B, size_t C, size_t P, int acc) {
    long bc;
#pragma omp parallel for schedule(static) if (B * C * P > GM__PAR_MIN)
    for (bc = 0; bc < (long)(B * C); bc++) {
        size_t b = (size_t)bc / C, c = (size_t)bc % C;
        const float *s = src + c * B * P + b * P;
        float *o = dst + (size_t)bc * P;
        float bb = bias ? bias[c] : 0.0f;
        if (acc)
            for (size_t p = 0; p < P; p++) o[p] += s[p];
        else
            for (size_t p = 0; p < P; p++) o[p] = s[p] + bb;
    }
}
/* db(C) += sum over b, p of x(B,C,P) (also the bias gradient of nn_conv3.c's kernels), in double: element p of
 * each (b, c) plane goes to partial sum p mod GM__CSUM_LANES, the partials carried over the images in order and
 * added at the end by gm__csum_total (eight independent add chains instead of one; a fixed order, which
 * nn_conv3.c's stride-2 backward repeats on its grid, so that its bias gradient has these bits) */
void gm__channel_sums(float *db, const float *x, size_t B, size_t C, size_t P) {
    long c;
#pragma omp parallel for schedule(static) if (B * C * P > GM__PAR_MIN)
    for (c = 0; c < (long)C; c++) {
        double s[GM__CSUM_LANES] = {0};
        for (size_t b = 0; b < B; b++) gm__csum_plane(s, x + (b * C + (size_t)c) * P, P);
        db[c] += (float)gm__csum_total(s);
    }
}

/* the partials t[0..7] added pairwise: t[j] += t[j + h] for h = 4, 2, 1 (t is overwritten) */
double gm__csum_total(double *t) {
    for (size_t h = GM__CSUM_LANES / 2; h >= 1; h /= 2)
        for (size_t j = 0; j < h; j++) t[j] += t[j + h];
    return t[0];
}

/* ==== conv2d =================================================================================== */

void gm_conv2d_forward(float *out, float *col, const float *in, const float *w, const float *b,
                       const gm_conv_dims *d, float *work) {
    GM_ASSERT(out && col && in && w && work && d->OH > 0);
    const size_t CKK = d->C * d->K * d->K, NP = d->B * d->OH * d->OW;
    gm_im2col(col, in, d);
    /* Y(OC, NP) = W(OC, CKK) col(CKK, NP) */
    gm__sgemm(0, 0, d->OC, NP, CKK, 1.0f, w, CKK, col, NP, 0.0f, work, NP);
    from_cmajor(out, work, b, d->B, d->OC, d->OH * d->OW, 0);
}

void gm_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *col, const float *w,
                        const gm_conv_dims *d, float *work) {
    GM_ASSERT(dout && col && work);
    const size_t CKK = d->C * d->K * d->K, P = d->OH * d->OW, NP = d->B * P;
    float *dY = work, *dcol = work + d->OC * NP;
    if (db) gm__channel_sums(db, dout, d->B, d->OC, P);
    if (!dw && !din) return;
    to_cmajor(dY, dout, d->B, d->OC, P);
    if (dw) gm__sgemm(0, 1, d->OC, CKK, NP, 1.0f, dY, NP, col, NP, 1.0f, dw, CKK); /* dW += dY col^T */
    if (din) {
        gm__sgemm(1, 0, CKK, NP, d->OC, 1.0f, w, CKK, dY, NP, 0.0f, dcol, NP); /* dcol = W^T dY */
        gm_col2im(din, dcol, d);
    }
}

void gm_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d) {
    const size_t K = d->K;
    for (size_t n = 0; n < d->B; n++)
        for (size_t o = 0; o < d->OC; o++)
            for (size_t oh = 0; oh < d->OH; oh++)
                for (size_t ow = 0; ow < d->OW; ow++) {
                    double s = b ? b[o] : 0.0f;
                    for (size_t c = 0; c < d->C; c++)
                        for (size_t kh = 0; kh < K; kh++)
                            for (size_t kw = 0; kw < K; kw++) {
                                long ih = (long)(oh * d->stride + kh) - (long)d->pad;
                                long iw = (long)(ow * d->stride + kw) - (long)d->pad;
                                if (ih < 0 || iw < 0 || ih >= (long)d->H || iw >= (long)d->W) continue;
                                s += (double)in[((n * d->C + c) * d->H + (size_t)ih) * d->W + (size_t)iw] *
                                     (double)w[((o * d->C + c) * K + kh) * K + kw];
                            }
                    out[((n * d->OC + o) * d->OH + oh) * d->OW + ow] = (float)s;
                }
}

void gm_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            const gm_conv_dims *d) {
    const size_t K = d->K;
    for (size_t n = 0; n < d->B; n++)
        for (size_t o = 0; o < d->OC; o++)
            for (size_t oh = 0; oh < d->OH; oh++)
                for (size_t ow = 0; ow < d->OW; ow++) {
                    float g = dout[((n * d->OC + o) * d->OH + oh) * d->OW + ow];
                    if (db) db[o] += g;
                    for (size_t c = 0; c < d->C; c++)
                        for (size_t kh = 0; kh < K; kh++)
                            for (size_t kw = 0; kw < K; kw++) {
                                long ih = (long)(oh * d->stride + kh) - (long)d->pad;
                                long iw = (long)(ow * d->stride + kw) - (long)d->pad;
                                if (ih < 0 || iw < 0 || ih >= (long)d->H || iw >= (long)d->W) continue;
                                size_t xi = ((n * d->C + c) * d->H + (size_t)ih) * d->W + (size_t)iw;
                                size_t wi = ((o * d->C + c) * K + kh) * K + kw;
                                if (din) din[xi] += g * w[wi];
                                if (dw) dw[wi] += g * in[xi];
                            }
                }
}

/* ==== transposed convolution =================================================================== */
/* ConvT from (C,H,W) to (OC,OH,OW) is the input-adjoint of the conv from (OC,OH,OW) to (C,H,W) with the
 * same K, stride, pad; `cd` is that conv's geometry, so its im2col/col2im do the work. */
static gm_conv_dims adjoint_dims(const gm_conv_dims *d) {
    gm_conv_dims c = *d;
    c.C = d->OC;
    c.H = d->OH;
    c.W = d->OW;
    c.OC = d->C;
    c.OH = d->H;
    c.OW = d->W;
    return c;
}

size_t gm_conv_transpose2d_work_size(const gm_conv_dims *d) {
    size_t N = d->B * d->H * d->W;
    return 2 * d->C * N + d->OC * d->K * d->K * N;
}

void gm_conv_transpose2d_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                                 float *work) {
    GM_ASSERT(out && in && w && work);
    gm_conv_dims cd = adjoint_dims(d);
    const size_t HW = d->H * d->W, N = d->B * HW, OKK = d->OC * d->K * d->K;
    float *Xg = work, *col = work + 2 * d->C * N;
    to_cmajor(Xg, in, d->B, d->C, HW);
    gm__sgemm(1, 0, OKK, N, d->C, 1.0f, w, OKK, Xg, N, 0.0f, col, N); /* col = Wm^T Xg */
    long bc;
#pragma omp parallel for schedule(static) if (d->B * d->OC * d->OH * d->OW > GM__PAR_MIN)
    for (bc = 0; bc < (long)(d->B * d->OC); bc++) {
        float *o = out + (size_t)bc * d->OH * d->OW;
        float bb = b ? b[(size_t)bc % d->OC] : 0.0f;
        for (size_t p = 0; p < d->OH * d->OW; p++) o[p] = bb;
    }
    gm_col2im(out, col, &cd);
}

void gm_conv_transpose2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                                  const float *w, const gm_conv_dims *d, float *work) {
    GM_ASSERT(dout && work);
    gm_conv_dims cd = adjoint_dims(d);
    const size_t HW = d->H * d->W, N = d->B * HW, OKK = d->OC * d->K * d->K;
    float *Xg = work, *dXg = work + d->C * N, *dcol = work + 2 * d->C * N;
    if (db) gm__channel_sums(db, dout, d->B, d->OC, d->OH * d->OW);
    if (!din && !dw) return;
    gm_im2col(dcol, dout, &cd); /* dcol(OKK, N) */
    if (dw) {
        to_cmajor(Xg, in, d->B, d->C, HW);
        gm__sgemm(0, 1, d->C, OKK, N, 1.0f, Xg, N, dcol, N, 1.0f, dw, OKK); /* dWm += Xg dcol^T */
    }
    if (din) {
        gm__sgemm(0, 0, d->C, N, OKK, 1.0f, w, OKK, dcol, N, 0.0f, dXg, N); /* dXg = Wm dcol */
        from_cmajor(din, dXg, NULL, d->B, d->C, HW, 1);
    }
}

void gm_conv_transpose2d_forward_ref(float *out, const float *in, const float *w, const float *b,
                                     const gm_conv_dims *d) {
    const size_t K = d->K;
    for (size_t n = 0; n < d->B; n++)
        for (size_t o = 0; o < d->OC; o++)
            for (size_t p = 0; p < d->OH * d->OW; p++) out[(n * d->OC + o) * d->OH * d->OW + p] = b ? b[o] : 0.0f;
    for (size_t n = 0; n < d->B; n++)
        for (size_t c = 0; c < d->C; c++)
            for (size_t ih = 0; ih < d->H; ih++)
                for (size_t iw = 0; iw < d->W; iw++) {
                    float x = in[((n * d->C + c) * d->H + ih) * d->W + iw];
                    for (size_t o = 0; o < d->OC; o++)
                        for (size_t kh = 0; kh < K; kh++)
                            for (size_t kw = 0; kw < K; kw++) {
                                long oh = (long)(ih * d->stride + kh) - (long)d->pad;
                                long ow = (long)(iw * d->stride + kw) - (long)d->pad;
                                if (oh < 0 || ow < 0 || oh >= (long)d->OH || ow >= (long)d->OW) continue;
                                out[((n * d->OC + o) * d->OH + (size_t)oh) * d->OW + (size_t)ow] +=
                                    x * w[((c * d->OC + o) * K + kh) * K + kw];
                            }
                }
}

void gm_conv_transpose2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                                      const float *w, const gm_conv_dims *d) {
    const size_t K = d->K;
    if (db)
        for (size_t n = 0; n < d->B; n++)
            for (size_t o = 0; o < d->OC; o++)
                for (size_t p = 0; p < d->OH * d->OW; p++) db[o] += dout[(n * d->OC + o) * d->OH * d->OW + p];
    for (size_t n = 0; n < d->B; n++)
        for (size_t c = 0; c < d->C; c++)
            for (size_t ih = 0; ih < d->H; ih++)
                for (size_t iw = 0; iw < d->W; iw++) {
                    size_t xi = ((n * d->C + c) * d->H + ih) * d->W + iw;
                    for (size_t o = 0; o < d->OC; o++)
                        for (size_t kh = 0; kh < K; kh++)
                            for (size_t kw = 0; kw < K; kw++) {
                                long oh = (long)(ih * d->stride + kh) - (long)d->pad;
                                long ow = (long)(iw * d->stride + kw) - (long)d->pad;
                                if (oh < 0 || ow < 0 || oh >= (long)d->OH || ow >= (long)d->OW) continue;
                                float g = dout[((n * d->OC + o) * d->OH + (size_t)oh) * d->OW + (size_t)ow];
                                size_t wi = ((c * d->OC + o) * K + kh) * K + kw;
                                if (din) din[xi] += g * w[wi];
                                if (dw) dw[wi] += g * in[xi];
                            }
                }
}

/* ==== pooling ================================================================================== */

static void avgpool_plane(float *o, const float *x, size_t H, size_t W, size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    float inv = 1.0f / (float)(K * K);
    for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
            float s = 0.0f;
            for (size_t i = 0; i < K; i++)
                for (size_t j = 0; j < K; j++) s += x[(oh * S + i) * W + ow * S + j];
            o[oh * OW + ow] = s * inv;
        }
}
static void avgpool_plane_back(float *dx, const float *dy, size_t H, size_t W, size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    float inv = 1.0f / (float)(K * K);
    for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
            float g = dy[oh * OW + ow] * inv;
            for (size_t i = 0; i < K; i++)
                for (size_t j = 0; j < K; j++) dx[(oh * S + i) * W + ow * S + j] += g;
        }
}
static void maxpool_plane(float *o, int32_t *am, const float *x, size_t H, size_t W, size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
            size_t best = oh * S * W + ow * S;
            float m = x[best];
            for (size_t i = 0; i < K; i++)
                for (size_t j = 0; j < K; j++) {
                    size_t idx = (oh * S + i) * W + ow * S + j;
                    if (x[idx] > m) {
                        m = x[idx];
                        best = idx;
                    }
                }
            o[oh * OW + ow] = m;
            am[oh * OW + ow] = (int32_t)best;
        }
}
static void maxpool_plane_back(float *dx, const float *dy, const int32_t *am, size_t OHW) {
    for (size_t p = 0; p < OHW; p++) dx[am[p]] += dy[p];
}

#define POOL_DIMS                                                                                     \
    GM_ASSERT(K > 0 && S > 0 && H >= K && W >= K);                                                    \
    const size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;                                          \
    (void)OH;                                                                                         \
    long pl

void gm_avgpool2d_forward(float *out, const float *in, size_t BC, size_t H, size_t W, size_t K, size_t S) {
    POOL_DIMS;
#pragma omp parallel for schedule(static) if (BC * H * W > GM__PAR_MIN)
    for (pl = 0; pl < (long)BC; pl++) avgpool_plane(out + (size_t)pl * OH * OW, in + (size_t)pl * H * W, H, W, K, S);
}
void gm_avgpool2d_backward(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t K, size_t S) {
    if (!din) return;
    POOL_DIMS;
#pragma omp parallel for schedule(static) if (BC * H * W > GM__PAR_MIN)
    for (pl = 0; pl < (long)BC; pl++)
        avgpool_plane_back(din + (size_t)pl * H * W, dout + (size_t)pl * OH * OW, H, W, K, S);
}
void gm_maxpool2d_forward(float *out, int32_t *argmax, const float *in, size_t BC, size_t H, size_t W, size_t K,
                          size_t S) {
    POOL_DIMS;
    if (K == 2 && S == 2) { /* the common case, unrolled */
#pragma omp parallel for schedule(static) if (BC * H * W > GM__PAR_MIN)
        for (pl = 0; pl < (long)BC; pl++) {
            const float *x = in + (size_t)pl * H * W;
            float *o = out + (size_t)pl * OH * OW;
            int32_t *am = argmax + (size_t)pl * OH * OW;
            for (size_t oh = 0; oh < OH; oh++)
                for (size_t ow = 0; ow < OW; ow++) {
                    size_t i0 = 2 * oh * W + 2 * ow, best = i0;
                    float m = x[i0];
                    if (x[i0 + 1] > m) { m = x[i0 + 1]; best = i0 + 1; }
                    if (x[i0 + W] > m) { m = x[i0 + W]; best = i0 + W; }
                    if (x[i0 + W + 1] > m) { m = x[i0 + W + 1]; best = i0 + W + 1; }
                    o[oh * OW + ow] = m;
                    am[oh * OW + ow] = (int32_t)best;
                }
        }
        return;
    }
#pragma omp parallel for schedule(static) if (BC * H * W > GM__PAR_MIN)
    for (pl = 0; pl < (long)BC; pl++)
        maxpool_plane(out + (size_t)pl * OH * OW, argmax + (size_t)pl * OH * OW, in + (size_t)pl * H * W, H, W, K, S);
}
void gm_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax, size_t BC, size_t H, size_t W,
                           size_t K, size_t S) {
    if (!din) return;
    POOL_DIMS;
#pragma omp parallel for schedule(static) if (BC * H * W > GM__PAR_MIN)
    for (pl = 0; pl < (long)BC; pl++)
        maxpool_plane_back(din + (size_t)pl * H * W, dout + (size_t)pl * OH * OW, argmax + (size_t)pl * OH * OW,
                           OH * OW);
}

void gm_avgpool2d_forward_ref(float *out, const float *in, size_t BC, size_t H, size_t W, size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    for (size_t p = 0; p < BC; p++) avgpool_plane(out + p * OH * OW, in + p * H * W, H, W, K, S);
}
void gm_avgpool2d_backward_ref(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    if (din)
        for (size_t p = 0; p < BC; p++) avgpool_plane_back(din + p * H * W, dout + p * OH * OW, H, W, K, S);
}
void gm_maxpool2d_forward_ref(float *out, int32_t *argmax, const float *in, size_t BC, size_t H, size_t W,
                              size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    for (size_t p = 0; p < BC; p++) maxpool_plane(out + p * OH * OW, argmax + p * OH * OW, in + p * H * W, H, W, K, S);
}
void gm_maxpool2d_backward_ref(float *din, const float *dout, const int32_t *argmax, size_t BC, size_t H,
                               size_t W, size_t K, size_t S) {
    size_t OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    if (din)
        for (size_t p = 0; p < BC; p++) maxpool_plane_back(din + p * H * W, dout + p * OH * OW, argmax + p * OH * OW, OH * OW);
}

/* ==== nearest upsampling ======================================================================= */

void gm_upsample_nearest_forward(float *out, const float *in, size_t BC, size_t H, size_t W, size_t F) {
    long pl;
    const size_t OW = W * F;
#pragma omp parallel for schedule(static) if (BC * H * W * F * F > GM__PAR_MIN)
    for (pl = 0; pl < (long)BC; pl++) {
        const float *x = in + (size_t)pl * H * W;
        float *o = out + (size_t)pl * H * W * F * F;
        if (F == 2) { /* the U-Net's case: each input row once, written to two output rows */
            for (size_t h = 0; h < H; h++) {
                const float *xr = x + h * W;
                float *r0 = o + 2 * h * OW, *r1 = r0 + OW;
                for (size_t w = 0; w < W; w++) r0[2 * w] = r0[2 * w + 1] = xr[w];
                for (size_t w = 0; w < OW; w++) r1[w] = r0[w];
            }
            continue;
        }
        for (size_t oh = 0; oh < H * F; oh++)
            for (size_t ow = 0; ow < OW; ow++) o[oh * OW + ow] = x[(oh / F) * W + ow / F];
    }
}
void gm_upsample_nearest_backward(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t F) {
    if (!din) return;
    long pl;
    const size_t OW = W * F;
#pragma omp parallel for schedule(static) if (BC * H * W * F * F > GM__PAR_MIN)
    for (pl = 0; pl < (long)BC; pl++) {
        float *dx = din + (size_t)pl * H * W;
        const float *g = dout + (size_t)pl * H * W * F * F;
        if (F == 2) { /* same sum order as the general loop: (0,0), (0,1), (1,0), (1,1) */
            for (size_t h = 0; h < H; h++) {
                const float *g0 = g + 2 * h * OW, *g1 = g0 + OW;
                float *d = dx + h * W;
                for (size_t w = 0; w < W; w++)
                    d[w] += (((0.0f + g0[2 * w]) + g0[2 * w + 1]) + g1[2 * w]) + g1[2 * w + 1];
            }
            continue;
        }
        for (size_t h = 0; h < H; h++)
            for (size_t w = 0; w < W; w++) {
                float s = 0.0f;
                for (size_t i = 0; i < F; i++)
                    for (size_t j = 0; j < F; j++) s += g[(h * F + i) * OW + w * F + j];
                dx[h * W + w] += s;
            }
    }
}
void gm_upsample_nearest_forward_ref(float *out, const float *in, size_t BC, size_t H, size_t W, size_t F) {
    for (size_t p = 0; p < BC; p++)
        for (size_t h = 0; h < H * F; h++)
            for (size_t w = 0; w < W * F; w++) out[(p * H * F + h) * W * F + w] = in[(p * H + h / F) * W + w / F];
}
void gm_upsample_nearest_backward_ref(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t F) {
    if (!din) return;
    for (size_t p = 0; p < BC; p++)
        for (size_t h = 0; h < H * F; h++)
            for (size_t w = 0; w < W * F; w++) din[(p * H + h / F) * W + w / F] += dout[(p * H * F + h) * W * F + w];
}

/* ==== fused conv2d + bias + ReLU + 2x2/2 max-pool =============================================== */
/* The batch is cut into chunks of `cimg` images (a function of the geometry only) so that a chunk's column
 * matrix, conv output and column gradient stay in L2; each chunk is im2col + one serial GEMM + the pooling
 * on one thread, and nothing of size B*OC*OH*OW is ever written to memory. The backward pass rebuilds the
 * chunk's columns (cheaper than storing them) and sums the weight/bias gradients per fixed group of chunks;
 * the group partials are added in group order, so results are the same for any thread count. */
#define CRP_SLOTS 16 /* threads that get their own scratch (more threads are not used) */
#define CRP_GROUPS 16
#ifndef CRP_CHUNK_BYTES
#define CRP_CHUNK_BYTES ((size_t)384 * 1024)
#endif

typedef struct {
    size_t CKK, P, PH, PW, cimg, nch, ng, slot;
} crp_geom;

static crp_geom crp_geom_of(const gm_conv_dims *d) {
    crp_geom g;
    g.CKK = d->C * d->K * d->K;
    g.P = d->OH * d->OW;
    g.PH = d->OH / 2;
    g.PW = d->OW / 2;
    size_t per = (2 * g.CKK + d->OC) * g.P * sizeof(float);
    g.cimg = CRP_CHUNK_BYTES / (per ? per : 1);
    if (g.cimg < 1) g.cimg = 1;
    if (g.cimg > d->B) g.cimg = d->B ? d->B : 1;
    g.nch = (d->B + g.cimg - 1) / g.cimg;
    g.ng = g.nch < CRP_GROUPS ? g.nch : CRP_GROUPS;
    if (g.ng < 1) g.ng = 1;
    g.slot = (2 * g.CKK + d->OC) * g.cimg * g.P; /* col | Y (or dY) | dcol */
    return g;
}

#ifdef _OPENMP
static int crp_threads(void) {
    int n = omp_get_max_threads();
    return n < CRP_SLOTS ? n : CRP_SLOTS;
}
static size_t crp_tid(void) { return (size_t)omp_get_thread_num(); }
#else /* serial build: the pragmas that call crp_threads() are ignored */
static size_t crp_tid(void) { return 0; }
#endif

/* One row of 2x2 windows over conv rows r0, r1 (+ bias), ReLU folded in. The order of the first-wins rule
 * (r0[2j], r0[2j+1], r1[2j], r1[2j+1]) is kept by taking each row's first maximum, then row 1 only if it is
 * strictly larger. Written with masks so that the compiler vectorises it (the comparisons are unpredictable,
 * branches would mispredict half the time). */
static void crp_pool_row(float *restrict orow, int32_t *restrict arow, const float *restrict r0,
                         const float *restrict r1, size_t PW, float bb, int32_t base, int32_t OW) {
#pragma omp simd
    for (size_t pw = 0; pw < PW; pw++) {
        float a = r0[2 * pw] + bb, b = r0[2 * pw + 1] + bb, c = r1[2 * pw] + bb, e = r1[2 * pw + 1] + bb;
        int32_t gb = -(int32_t)(b > a), ge = -(int32_t)(e > c);
        float h0 = b > a ? b : a, h1 = e > c ? e : c;
        int32_t g1 = -(int32_t)(h1 > h0);
        float m = h1 > h0 ? h1 : h0;
        int32_t k = (g1 & (OW + (ge & 1))) | (~g1 & (gb & 1));
        int32_t pos = -(int32_t)(m > 0.0f);
        orow[pw] = m > 0.0f ? m : 0.0f;
        arow[pw] = (pos & (base + 2 * (int32_t)pw + k)) | ~pos;
    }
}

size_t gm_conv_relu_pool_work_size(const gm_conv_dims *d) {
    crp_geom g = crp_geom_of(d);
    /* per group: db partial (OC doubles = 2 OC floats) and dW partial (OC*CKK); then the thread slots */
    return g.ng * (2 * d->OC + d->OC * g.CKK) + CRP_SLOTS * g.slot;
}

void gm_conv_relu_pool_forward(float *out, int32_t *argmax, const float *in, const float *w, const float *b,
                               const gm_conv_dims *d, float *work) {
    GM_ASSERT(out && argmax && in && w && work && d->OH >= 2 && d->OW >= 2);
    const crp_geom g = crp_geom_of(d);
    const size_t OC = d->OC, OW = d->OW, P = g.P, PH = g.PH, PW = g.PW, img = d->C * d->H * d->W;
    float *slots = work + g.ng * (2 * OC + OC * g.CKK);
    long ch;
#pragma omp parallel for schedule(static) num_threads(crp_threads()) if (g.nch > 1)
    for (ch = 0; ch < (long)g.nch; ch++) {
        float *col = slots + crp_tid() * g.slot, *Y = col + g.CKK * g.cimg * P;
        size_t b0 = (size_t)ch * g.cimg, nb = d->B - b0 < g.cimg ? d->B - b0 : g.cimg, cNP = nb * P;
        gm_conv_dims dc = *d;
        dc.B = nb;
        gm_im2col(col, in + b0 * img, &dc);
        gm__sgemm_serial(0, 0, OC, cNP, g.CKK, 1.0f, w, g.CKK, col, cNP, 0.0f, Y, cNP);
        for (size_t bl = 0; bl < nb; bl++)
            for (size_t o = 0; o < OC; o++) {
                const float *y = Y + o * cNP + bl * P;
                const float bb = b ? b[o] : 0.0f;
                size_t pl = ((b0 + bl) * OC + o) * PH * PW;
                float *po = out + pl;
                int32_t *pa = argmax + pl;
                for (size_t ph = 0; ph < PH; ph++) {
                    const float *r0 = y + 2 * ph * OW, *r1 = r0 + OW;
                    float *orow = po + ph * PW;
                    int32_t *arow = pa + ph * PW, base = (int32_t)(2 * ph * OW);
                    crp_pool_row(orow, arow, r0, r1, PW, bb, base, (int32_t)OW);
                }
            }
    }
}

void gm_conv_relu_pool_backward(float *din, float *dw, float *db, const float *dout, const int32_t *argmax,
                                const float *in, const float *w, const gm_conv_dims *d, float *work) {
    GM_ASSERT(dout && argmax && in && w && work);
    if ((!din && !dw && !db) || d->B == 0) return; /* an empty batch adds nothing */
    const crp_geom g = crp_geom_of(d);
    const size_t OC = d->OC, P = g.P, PQ = g.PH * g.PW, img = d->C * d->H * d->W;
    double *pdb = (double *)(void *)work;
    float *pdw = work + 2 * g.ng * OC, *slots = pdw + g.ng * OC * g.CKK;
    long gi;
#pragma omp parallel for schedule(static) num_threads(crp_threads()) if (g.ng > 1)
    for (gi = 0; gi < (long)g.ng; gi++) {
        float *col = slots + crp_tid() * g.slot, *dY = col + g.CKK * g.cimg * P, *dcol = dY + OC * g.cimg * P;
        double *gdb = pdb + (size_t)gi * OC;
        float *gdw = pdw + (size_t)gi * OC * g.CKK;
        size_t c_lo = g.nch * (size_t)gi / g.ng, c_hi = g.nch * (size_t)(gi + 1) / g.ng;
        for (size_t o = 0; o < OC; o++) gdb[o] = 0.0;
        for (size_t ch = c_lo; ch < c_hi; ch++) {
            size_t b0 = ch * g.cimg, nb = d->B - b0 < g.cimg ? d->B - b0 : g.cimg, cNP = nb * P;
            gm_conv_dims dc = *d;
            dc.B = nb;
            /* dY(OC, nb*P): the pooled gradient routed to the winning pixel when it was positive */
            memset(dY, 0, OC * cNP * sizeof(float));
            for (size_t bl = 0; bl < nb; bl++)
                for (size_t o = 0; o < OC; o++) {
                    size_t pl = ((b0 + bl) * OC + o) * PQ;
                    const float *go = dout + pl;
                    const int32_t *pa = argmax + pl;
                    float *dy = dY + o * cNP + bl * P;
                    double s = 0.0;
                    for (size_t q = 0; q < PQ; q++)
                        if (pa[q] >= 0) {
                            dy[pa[q]] = go[q];
                            s += (double)go[q];
                        }
                    gdb[o] += s;
                }
            if (dw) {
                gm_im2col(col, in + b0 * img, &dc);
                gm__sgemm_serial(0, 1, OC, g.CKK, cNP, 1.0f, dY, cNP, col, cNP, ch == c_lo ? 0.0f : 1.0f, gdw, g.CKK);
            }
            if (din) {
                gm__sgemm_serial(1, 0, g.CKK, cNP, OC, 1.0f, w, g.CKK, dY, cNP, 0.0f, dcol, cNP);
                gm_col2im(din + b0 * img, dcol, &dc);
            }
        }
    }
    if (db)
        for (size_t o = 0; o < OC; o++) {
            double s = 0.0;
            for (size_t k = 0; k < g.ng; k++) s += pdb[k * OC + o];
            db[o] += (float)s;
        }
    if (dw) {
        const size_t nw = OC * g.CKK;
        long i;
#pragma omp parallel for schedule(static) if (nw * g.ng > GM__PAR_MIN)
        for (i = 0; i < (long)nw; i++) {
            double s = 0.0;
            for (size_t k = 0; k < g.ng; k++) s += (double)pdw[k * nw + (size_t)i];
            dw[i] += (float)s;
        }
    }
}

/* naive twin: each pooled output recomputes its four conv values directly */
static double conv_at(const float *in, const float *w, const float *b, const gm_conv_dims *d, size_t n, size_t o,
                      size_t oh, size_t ow) {
    double s = b ? (double)b[o] : 0.0;
    for (size_t c = 0; c < d->C; c++)
        for (size_t kh = 0; kh < d->K; kh++)
            for (size_t kw = 0; kw < d->K; kw++) {
                long ih = (long)(oh * d->stride + kh) - (long)d->pad, iw = (long)(ow * d->stride + kw) - (long)d->pad;
                if (ih < 0 || iw < 0 || ih >= (long)d->H || iw >= (long)d->W) continue;
                s += (double)in[((n * d->C + c) * d->H + (size_t)ih) * d->W + (size_t)iw] *
                     (double)w[((o * d->C + c) * d->K + kh) * d->K + kw];
            }
    return s;
}

void gm_conv_relu_pool_forward_ref(float *out, int32_t *argmax, const float *in, const float *w, const float *b,
                                   const gm_conv_dims *d) {
    const size_t PH = d->OH / 2, PW = d->OW / 2;
    for (size_t n = 0; n < d->B; n++)
        for (size_t o = 0; o < d->OC; o++)
            for (size_t ph = 0; ph < PH; ph++)
                for (size_t pw = 0; pw < PW; pw++) {
                    float m = 0.0f;
                    int32_t best = -1;
                    for (size_t i = 0; i < 2; i++)
                        for (size_t j = 0; j < 2; j++) {
                            size_t oh = 2 * ph + i, ow = 2 * pw + j;
                            float v = (float)conv_at(in, w, b, d, n, o, oh, ow);
                            if (v > m) m = v, best = (int32_t)(oh * d->OW + ow);
                        }
                    size_t q = ((n * d->OC + o) * PH + ph) * PW + pw;
                    out[q] = m;
                    argmax[q] = best;
                }
}

void gm_conv_relu_pool_backward_ref(float *din, float *dw, float *db, const float *dout, const int32_t *argmax,
                                    const float *in, const float *w, const gm_conv_dims *d) {
    const size_t PQ = (d->OH / 2) * (d->OW / 2), K = d->K;
    for (size_t n = 0; n < d->B; n++)
        for (size_t o = 0; o < d->OC; o++)
            for (size_t q = 0; q < PQ; q++) {
                int32_t a = argmax[(n * d->OC + o) * PQ + q];
                if (a < 0) continue;
                float gq = dout[(n * d->OC + o) * PQ + q];
                size_t oh = (size_t)a / d->OW, ow = (size_t)a % d->OW;
                if (db) db[o] += gq;
                for (size_t c = 0; c < d->C; c++)
                    for (size_t kh = 0; kh < K; kh++)
                        for (size_t kw = 0; kw < K; kw++) {
                            long ih = (long)(oh * d->stride + kh) - (long)d->pad;
                            long iw = (long)(ow * d->stride + kw) - (long)d->pad;
                            if (ih < 0 || iw < 0 || ih >= (long)d->H || iw >= (long)d->W) continue;
                            size_t xi = ((n * d->C + c) * d->H + (size_t)ih) * d->W + (size_t)iw;
                            size_t wi = ((o * d->C + c) * K + kh) * K + kw;
                            if (din) din[xi] += gq * w[wi];
                            if (dw) dw[wi] += gq * in[xi];
                        }
            }
}
