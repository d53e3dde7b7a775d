/* linalg_internal.h — small dense symmetric/SVD solvers shared by modules (never installed); implemented
 * in eval_linalg.c: LAPACKE when built with BLAS, else (or when asked) a cyclic Jacobi reference. */
#ifndef GM_LINALG_INTERNAL_H
#define GM_LINALG_INTERNAL_H

#include <stddef.h>

/* Eigenvalues (ascending) of the symmetric n x n matrix A (destroyed). If vecs != 0, on return row i of
 * A holds the unit eigenvector of w[i]. use_lapack = 0 forces the cyclic Jacobi reference (also used
 * when genmix is built without BLAS). GM_ENOMEM / GM_ENUMERIC with a message on failure. */
int gm__dsyev(double *A, size_t n, double *w, int vecs, int use_lapack);
/* Singular values (descending) of the m x n matrix A (destroyed). */
int gm__dsvd_values(double *A, size_t m, size_t n, double *s, int use_lapack);

#endif
