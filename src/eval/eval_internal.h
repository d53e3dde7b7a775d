/* eval_internal.h — private helpers shared by the src/eval_*.c files (never installed).
 * Row-block conversion, row norms, input checks (dense linear algebra: genmix/linalg.h). */
#ifndef GM_EVAL_INTERNAL_H
#define GM_EVAL_INTERNAL_H

#include "genmix/eval.h"
#include "genmix/linalg.h"

/* Rows [r0, r0+cnt) of x converted into dst (double / float), row-major cnt x d. */
void gm__rows_f64(const gm_feats *x, size_t r0, size_t cnt, double *dst);
void gm__rows_f32(const gm_feats *x, size_t r0, size_t cnt, float *dst);
/* Squared row norms in double of rows [0, n). */
void gm__row_norms(const gm_feats *x, double *out);

/* Validate a pair of feature sets (non-NULL, n >= min_n, equal d). */
int gm__check_pair(const gm_feats *a, const gm_feats *b, size_t min_n, const char *what);

#endif
