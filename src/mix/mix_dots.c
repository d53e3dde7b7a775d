/* SPDX-License-Identifier: MIT */
/* mix_dots.c — dot products for the Mixture-UCB kernel sums (see mix_internal.h). */
#include <stdint.h>
#include <string.h>

#include "mix_internal.h"

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif

#ifndef GM_HAVE_BLAS
static float dot8(const float *a, const float *b, size_t d) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; i < d; i++) r += a[i] * b[i];
    return r;
}
#endif

void gm__mix_dots(const float *Y, size_t n, size_t d, const float *x, float *out) {
    if (n == 0) return;
#ifdef GM_HAVE_BLAS
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)d, 1.0f, Y, (int)d, x, 1, 0.0f, out, 1);
#else
    for (size_t i = 0; i < n; i++) out[i] = dot8(Y + i * d, x, d);
#endif
}

void gm__mix_dots_tile(const float *A, size_t na, const float *B, size_t nb, size_t d, float *out, size_t ldo) {
    if (na == 0 || nb == 0) return;
#ifdef GM_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)d, 1.0f, A, (int)d, B, (int)d, 0.0f,
                out, (int)ldo);
#else
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) out[i * ldo + j] = dot8(A + i * d, B + j * d, d);
#endif
}

/* exp of floats in [-87, 0], in place (the caller clamps: a clamp here would stop the vectorisation). Range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split in two
 * parts (Cody-Waite), n rounded with the 1.5*2^23 trick; exp(r) = 1 + r + r^2 P(r) with the degree-5
 * minimax polynomial of the Cephes expf; 2^n built from its exponent bits (exp(-87) ~ 1.6e-38 is still
 * a normal float). Branch-free, so the loop vectorises (omp simd); relative
 * error within a few float ulps (checked against exp() in tests/test_mix.c). */
void gm__mix_exp_neg(float *v, size_t n) {
    const float log2e = 1.44269504088896341f, c1 = 0.693359375f, c2 = -2.12194440e-4f, magic = 12582912.0f;
#ifdef _OPENMP
#pragma omp simd
#endif
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        float t = x * log2e + magic;
        float fn = t - magic;
        int32_t ti, ni;
        memcpy(&ti, &t, sizeof ti);
        ni = ti - 0x4b400000; /* bits of magic: the rounded n sits in the low mantissa bits */
        float r = x - fn * c1;
        r = r - fn * c2;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        int32_t eb = (ni + 127) << 23;
        float s;
        memcpy(&s, &eb, sizeof s);
        v[i] = p * s;
    }
}
