/* mix_dots.c — dot products for the Mixture-UCB kernel sums (see mix_internal.h). */
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

void gm_mix_dots(const float *Y, size_t n, size_t d, const float *x, float *out) {
    if (n == 0) return;
#ifdef GM_HAVE_BLAS
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)d, 1.0f, Y, (int)d, x, 1, 0.0f, out, 1);
#else
    for (size_t i = 0; i < n; i++) out[i] = dot8(Y + i * d, x, d);
#endif
}

void gm_mix_dots_tile(const float *A, size_t na, const float *B, size_t nb, size_t d, float *out, size_t ldo) {
    if (na == 0 || nb == 0) return;
#ifdef GM_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)d, 1.0f, A, (int)d, B, (int)d, 0.0f,
                out, (int)ldo);
#else
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) out[i * ldo + j] = dot8(A + i * d, B + j * d, d);
#endif
}
