/* mix_internal.h — dot-product helpers shared by the Mixture-UCB sources (not installed).
 * BLAS (sgemv/sgemm) when GM_HAVE_BLAS, else plain loops with eight float accumulators. Called from
 * inside OpenMP regions only, where OpenBLAS (openmp variant) runs single-threaded, so results do not
 * depend on the thread count. */
#ifndef GM_MIX_INTERNAL_H
#define GM_MIX_INTERNAL_H

#include <stddef.h>

/* out[i] = Y[i,:] . x for i < n (Y: n x d row-major). */
void gm_mix_dots(const float *Y, size_t n, size_t d, const float *x, float *out);
/* out (na x nb, row stride ldo) = A (na x d) B' (nb x d). */
void gm_mix_dots_tile(const float *A, size_t na, const float *B, size_t nb, size_t d, float *out, size_t ldo);

/* v[i] = exp(v[i]) for v[i] in [-87, 0] (the caller clamps), vectorisable; relative error a few float ulps. */
void gm_mix_exp_neg(float *v, size_t n);

/* Simplex-QP warm start on a known support (mix_qp.c): 1 if that support's KKT solution is optimal. */
int gm_mix_qp_try_support(const double *K, const double *c, size_t m, unsigned long mask, double *alpha);

#endif
