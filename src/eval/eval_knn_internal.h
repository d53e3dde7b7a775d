/* SPDX-License-Identifier: MIT */
/* eval_knn_internal.h — private helpers of the two k-NN engines (eval_knn.c, eval_knn_cert.c): the sorted
 * top-k insertion and the in-ball comparison. Header-only, pure functions. */
#ifndef GM_EVAL_KNN_INTERNAL_H
#define GM_EVAL_KNN_INTERNAL_H

#include <stddef.h>

#include "genmix/eval.h"

/* Insert v into the ascending list top[0..k) (INF-filled), dropping the largest. */
static inline void topk_insert(double *top, size_t k, double v) {
    if (!(v < top[k - 1])) return;
    size_t p = k - 1;
    while (p > 0 && top[p - 1] > v) {
        top[p] = top[p - 1];
        p--;
    }
    top[p] = v;
}

static inline int inside(double d2, double r2, gm_cmp c) { return c == GM_CMP_LE ? d2 <= r2 : d2 < r2; }

#endif /* GM_EVAL_KNN_INTERNAL_H */
