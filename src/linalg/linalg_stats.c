/* SPDX-License-Identifier: MIT */
/* linalg_stats.c — order statistics shared by the modules (genmix/linalg.h): sorting, np.percentile
 * with linear interpolation, the median. Owns nothing. Thread safety: re-entrant. */
#include "genmix/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_f64(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void gm_sort_f64(double *v, size_t n) {
    if (n > 1) qsort(v, n, sizeof(double), cmp_f64);
}

double gm_percentile_sorted(const double *s, size_t n, double p) {
    if (n == 0) return NAN;
    double pos = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    double f = pos - (double)i;
    return i + 1 < n ? s[i] + (s[i + 1] - s[i]) * f : s[n - 1];
}

double gm_median_sorted(const double *s, size_t n) {
    if (n == 0) return NAN;
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

int gm_percentile(const double *v, size_t n, double p, double *out) {
    GM_ASSERT(out && (v || n == 0));
    if (n == 0) {
        *out = NAN;
        return GM_OK;
    }
    double *s = gm_malloc(n * sizeof(double));
    if (!s) return GM_ENOMEM;
    memcpy(s, v, n * sizeof(double));
    gm_sort_f64(s, n);
    *out = gm_percentile_sorted(s, n, p);
    gm_free(s);
    return GM_OK;
}
