/* eval_internal.h — private helpers shared by the src/eval_*.c files (never installed).
 * Dense linear algebra behind GM_HAVE_BLAS with naive fallbacks, row-block conversion, fixed-order sums. */
#ifndef GM_EVAL_INTERNAL_H
#define GM_EVAL_INTERNAL_H

#include "genmix/eval.h"
#include "linalg_internal.h"

/* C(m,n) = alpha * A(m,k) B(n,k)^T + beta * C, row-major (lda = ldb = k, ldc = n). */
void gm__dgemm_nt(size_t m, size_t n, size_t k, double alpha, const double *A, const double *B, double beta,
                  double *C);
void gm__sgemm_nt(size_t m, size_t n, size_t k, const float *A, const float *B, float *C);
/* C(m,n) = A(m,k) B(k,n), row-major. */
void gm__dgemm_nn(size_t m, size_t n, size_t k, const double *A, const double *B, double *C);
/* C(d,d) = A(n,d)^T A(n,d) (both triangles), row-major. */
void gm__dsyrk_tn(size_t n, size_t d, const double *A, double *C);
/* C(n,n) = A(n,d) A(n,d)^T (both triangles). */
void gm__dsyrk_nt(size_t n, size_t d, const double *A, double *C);
void gm__ssyrk_nt(size_t n, size_t d, const float *A, float *C);

/* Rows [r0, r0+cnt) of x converted into dst (double / float), row-major cnt x d. */
void gm__rows_f64(const gm_feats *x, size_t r0, size_t cnt, double *dst);
void gm__rows_f32(const gm_feats *x, size_t r0, size_t cnt, float *dst);
/* Squared row norms in double of rows [0, n). */
void gm__row_norms(const gm_feats *x, double *out);

/* Validate a pair of feature sets (non-NULL, n >= min_n, equal d). */
int gm__check_pair(const gm_feats *a, const gm_feats *b, size_t min_n, const char *what);

#endif
