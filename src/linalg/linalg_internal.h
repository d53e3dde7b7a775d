/* SPDX-License-Identifier: MIT */
/* linalg_internal.h — shared by the LAPACKE-backed files of src/linalg/: turning a negative LAPACKE
 * status into a genmix error. Owns nothing; re-entrant. Only included where GM_HAVE_BLAS is set. */
#ifndef GM_LINALG_INTERNAL_H
#define GM_LINALG_INTERNAL_H

#include <lapacke.h>

#include "genmix/base.h"

/* The high-level LAPACKE drivers allocate their work and transpose buffers with malloc (out of reach of
 * genmix's allocator and fault injection) and report a failed allocation as a status of their own: that
 * is GM_ENOMEM, not a numerical failure. Any other status is GM_ENUMERIC naming the routine. */
static inline int gm_la_lapack_fail(lapack_int info, const char *routine, size_t m, size_t n) {
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return gm_set_error(GM_ENOMEM, "out of memory in LAPACKE %s (%zu x %zu matrix)", routine, m, n);
    return gm_set_error(GM_ENUMERIC, "%s failed (info %d) on a %zu x %zu matrix", routine, (int)info, m, n);
}

#endif /* GM_LINALG_INTERNAL_H */
