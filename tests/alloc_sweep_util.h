/* SPDX-License-Identifier: MIT */
/* alloc_sweep_util.h — helpers shared by the allocation-failure sweeps (tests/test_alloc_sweep*.c):
 * a deterministic fill that allocates nothing, the NaN-to-status wrapper for functions that return a
 * value instead of a status, and a private temporary directory for the file round trips.
 * Test code only (static functions and state; one copy per test executable). */
#ifndef ALLOC_SWEEP_UTIL_H
#define ALLOC_SWEEP_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gm_test.h"

/* Deterministic pseudo-random fill in [-0.5, 0.5) (no library allocation involved). */
static inline void fill(double *x, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    }
}

/* NaN with a message = the allocation failed (GM_ENOMEM); NaN without one = bad input. */
static inline int nan_to_status(double v) { return isnan(v) ? (gm_last_error()[0] ? GM_ENOMEM : GM_EINVAL) : GM_OK; }

/* tmp_path(name) names a file in the directory made by tmp_dir_make (8 rotating buffers). */
static char g_dir[64];
static char *tmp_path(const char *name) {
    static char p[8][128];
    static int i;
    i = (i + 1) % 8;
    snprintf(p[i], sizeof p[i], "%s/%s", g_dir, name);
    return p[i];
}
static void tmp_dir_make(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/gm_sweep_XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
}
static void tmp_dir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    CHECK(system(cmd) == 0);
}

#endif /* ALLOC_SWEEP_UTIL_H */
