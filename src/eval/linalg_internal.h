/* linalg_internal.h — transitional shim (removed with moe's switch to genmix/linalg.h): the old private
 * eigen entry point, forwarded to the shared linear algebra of src/linalg. */
#ifndef GM_LINALG_INTERNAL_H
#define GM_LINALG_INTERNAL_H

#include "genmix/linalg.h"

static inline int gm__dsyev(double *A, size_t n, double *w, int vecs, int use_lapack) {
    return use_lapack ? gm_la_syev(A, n, w, vecs) : gm_la_syev_ref(A, n, w, vecs);
}

#endif
