/* SPDX-License-Identifier: MIT */
/* gm_test.h — genmix's minimal test runner (minctest / redis testhelp style).
 *
 *     GM_TEST(test_thing) { CHECK(1 + 1 == 2); CHECK_NEAR(x, 1.0, 1e-12, 0); }
 *     GM_TEST_MAIN({"thing", test_thing}, ...)
 *
 * A test passes when none of its checks fail. Each executable prints one line per failed check
 * (file:line and the condition) and ends with exactly one "N passed, N failed" line; it exits non-zero
 * if anything failed. `./test_x NAME` runs only the tests whose name contains NAME.
 * GM_TEST_DATA(p) names a file under tests/ (ctest runs from the source root).
 * A test that executes no check fails (an assertion-free test cannot catch anything); GM_SKIP("why") inside
 * a test marks it skipped (e.g. optional data set missing) and returns; if every test that ran was skipped
 * and none failed, the binary exits GM_TEST_SKIP_CODE (77, ctest's SKIP_RETURN_CODE, see CMakeLists.txt). */
#ifndef GM_TEST_H
#define GM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/base.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Thread count for the OpenMP loops of the code under test (no-op in a serial build). */
static inline void gm_test_set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

static int gm_t_failed_checks, gm_t_checks, gm_t_skip;
#define GM_TEST_SKIP_CODE 77
#define GM_SKIP(why)                                       \
    do {                                                   \
        fprintf(stderr, "  skipped: %s\n", (const char *)(why)); \
        gm_t_skip = 1;                                     \
        return;                                            \
    } while (0)

/* Finite-difference gradient checks (ggml's rule): per element rel = |a - n| / (|a| + |n| + 1e-3) between the
 * analytic gradient a and the central difference n; a check passes only if BOTH the max and the mean of
 * rel over the elements of ONE tensor are within their tolerances (run one gm_gc per parameter tensor,
 * real elements only, never slab padding). */
typedef struct {
    double sum, max, worst_a, worst_n;
    size_t n, worst_i;
} gm_gc;
static inline void gm_gc_add(gm_gc *g, size_t i, double a, double n) {
    double rel = fabs(a - n) / (fabs(a) + fabs(n) + 1e-3);
    if (isnan(rel)) rel = (double)INFINITY;
    g->sum += rel, g->n++;
    if (rel > g->max || g->n == 1) g->max = rel, g->worst_i = i, g->worst_a = a, g->worst_n = n;
}
static inline int gm_gc_ok(const gm_gc *g, const char *name, double max_tol, double mean_tol) {
    double mean = g->n ? g->sum / (double)g->n : (double)INFINITY;
    int ok = g->n > 0 && g->max <= max_tol && mean <= mean_tol;
    if (!ok || getenv("GC_VERBOSE"))
        fprintf(stderr, "  gradcheck %s: %zu elements, mean rel %.3g (tol %g), max rel %.3g (tol %g) at %zu: "
                "analytic %.6g numeric %.6g\n", name, g->n, mean, mean_tol, g->max, max_tol, g->worst_i,
                g->worst_a, g->worst_n);
    return ok;
}

#define GM_TEST(name) static void name(void)

#define CHECK(c)                                                                 \
    do {                                                                         \
        gm_t_checks++;                                                           \
        if (!(c)) {                                                              \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
            gm_t_failed_checks++;                                                \
        }                                                                        \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                        \
    do {                                                                                          \
        long long gm_t_a = (long long)(a), gm_t_b = (long long)(b);                               \
        gm_t_checks++;                                                                            \
        if (gm_t_a != gm_t_b) {                                                                   \
            fprintf(stderr, "  %s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, #a, #b, \
                    gm_t_a, gm_t_b);                                                              \
            gm_t_failed_checks++;                                                                 \
        }                                                                                         \
    } while (0)

/* |a - b| <= atol + rtol * |b|; NaN never passes. */
#define CHECK_NEAR(a, b, rtol, atol)                                                                 \
    do {                                                                                             \
        double gm_t_a = (double)(a), gm_t_b = (double)(b);                                           \
        gm_t_checks++;                                                                               \
        if (!(fabs(gm_t_a - gm_t_b) <= (double)(atol) + (double)(rtol) * fabs(gm_t_b))) {            \
            fprintf(stderr, "  %s:%d: %s ~ %s failed: %.17g vs %.17g (rtol %g atol %g)\n", __FILE__,  \
                    __LINE__, #a, #b, gm_t_a, gm_t_b, (double)(rtol), (double)(atol));              \
            gm_t_failed_checks++;                                                                    \
        }                                                                                            \
    } while (0)

/* Expect a status code; prints gm_last_error() when it differs. */
#define CHECK_RC(expr, want)                                                                      \
    do {                                                                                          \
        int gm_t_rc = (expr);                                                                     \
        gm_t_checks++;                                                                            \
        if (gm_t_rc != (want)) {                                                                  \
            fprintf(stderr, "  %s:%d: %s returned %d (%s), wanted %d; last error: %s\n", __FILE__,  \
                    __LINE__, #expr, gm_t_rc, gm_strerror(gm_t_rc), (int)(want), gm_last_error()); \
            gm_t_failed_checks++;                                                                 \
        }                                                                                         \
    } while (0)
#define CHECK_OK(expr) CHECK_RC(expr, GM_OK)

/* ---- allocation-failure sweep ----------------------------------------------------------------
 *
 *     static int run_knn(void *ctx) { ...; int rc = gm_knn(...); if (!rc) gm_knn_result_free(&r); return rc; }
 *     GM_TEST(test_knn_oom) { CHECK_ALLOC_SWEEP(run_knn, &data); }
 *
 * Runs fn(ctx) with the k-th allocation through the genmix allocator failing, for k = 1, 2, ... until a
 * run that makes fewer than k allocations (the injected failure was not reached) returns GM_OK. At every
 * k whose failure was reached the call must return GM_ENOMEM with a message (a crash, an abort or another
 * status fails the test), and leave no genmix allocation live: a counting allocator (gm_set_allocator)
 * compares the live-block count before and after each run, so a leak is reported with its k even in a
 * release build (the ASan build also catches leaks of non-genmix memory at exit). fn must release
 * whatever the call returned on success, and nothing it did not get. A k whose failure the call absorbed
 * (GM_OK although the injected allocation failed) is counted as a failure too: a library that swallows
 * an allocation failure returns wrong or partial results. Returns the number of allocation points swept
 * (the allocations made by the clean run; CHECK_ALLOC_SWEEP_ABSORBS below relaxes the absorbed case);
 * sweeps stop with a failure after GM_SWEEP_MAX_K points. */
#ifndef GM_SWEEP_MAX_K
#define GM_SWEEP_MAX_K 20000
#endif

static long gm_t_live; /* genmix blocks currently allocated through the counting allocator */

static inline void *gm_t_count_malloc(size_t n, void *ctx) {
    (void)ctx;
    void *p = malloc(n);
    if (p) __atomic_add_fetch(&gm_t_live, 1, __ATOMIC_RELAXED);
    return p;
}
static inline void *gm_t_count_realloc(void *p, size_t n, void *ctx) {
    (void)ctx;
    void *q = realloc(p, n);
    if (q && !p) __atomic_add_fetch(&gm_t_live, 1, __ATOMIC_RELAXED);
    return q;
}
static inline void gm_t_count_free(void *p, void *ctx) {
    (void)ctx;
    if (p) __atomic_sub_fetch(&gm_t_live, 1, __ATOMIC_RELAXED);
    free(p);
}

static inline long gm_test_alloc_sweep_(const char *what, int (*fn)(void *), void *ctx, int absorbs, const char *file,
                                        int line) {
    static const gm_allocator counting = {gm_t_count_malloc, gm_t_count_realloc, gm_t_count_free, NULL};
    gm_set_allocator(&counting);
    gm_t_checks++; /* a sweep is one check; each way it can fail counts as a failed check below */
    long k, points = -1;
    for (k = 1; k <= GM_SWEEP_MAX_K; k++) {
        long live0 = __atomic_load_n(&gm_t_live, __ATOMIC_RELAXED);
        gm_clear_error();
        gm_alloc_fail_nth(k, 0);
        int rc = fn(ctx);
        long made = gm_alloc_count();
        gm_alloc_fail_nth(0, 0);
        long leaked = __atomic_load_n(&gm_t_live, __ATOMIC_RELAXED) - live0;
        int reached = made >= k;
        if (leaked != 0) {
            fprintf(stderr, "  %s:%d: %s: %ld block(s) leaked with allocation %ld failing (rc %d)\n", file, line,
                    what, leaked, k, rc);
            gm_t_failed_checks++;
            __atomic_sub_fetch(&gm_t_live, leaked, __ATOMIC_RELAXED); /* report each k once */
        }
        if (!reached) {
            if (rc != GM_OK) {
                fprintf(stderr, "  %s:%d: %s: clean run (no injected failure) returned %d: %s\n", file, line,
                        what, rc, gm_last_error());
                gm_t_failed_checks++;
            }
            points = made;
            break;
        }
        if (rc == GM_OK && absorbs) continue;
        if (rc == GM_OK) {
            fprintf(stderr, "  %s:%d: %s: allocation %ld failed but the call returned GM_OK\n", file, line, what, k);
            gm_t_failed_checks++;
        } else if (rc != GM_ENOMEM || !gm_last_error()[0]) {
            fprintf(stderr, "  %s:%d: %s: allocation %ld failed, wanted GM_ENOMEM with a message, got %d (%s)\n",
                    file, line, what, k, rc, gm_last_error());
            gm_t_failed_checks++;
        }
    }
    if (points < 0) {
        fprintf(stderr, "  %s:%d: %s: sweep stopped after %d allocation points\n", file, line, what, GM_SWEEP_MAX_K);
        gm_t_failed_checks++;
    }
    gm_set_allocator(NULL);
    if (getenv("GM_SWEEP_VERBOSE")) fprintf(stderr, "  sweep %s: %ld allocation points\n", what, points);
    return points;
}
#define CHECK_ALLOC_SWEEP(fn, ctx) gm_test_alloc_sweep_(#fn, (fn), (ctx), 0, __FILE__, __LINE__)
/* For calls documented to fall back when an allocation fails (gm_arena_reset keeps its old blocks): GM_OK
 * at a failing k is accepted; GM_ENOMEM otherwise, and no leak, are still required. */
#define CHECK_ALLOC_SWEEP_ABSORBS(fn, ctx) gm_test_alloc_sweep_(#fn, (fn), (ctx), 1, __FILE__, __LINE__)

typedef struct {
    const char *name;
    void (*fn)(void);
} gm_test_case;

static int gm_test_run(const gm_test_case *cases, size_t n, int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(cases[i].name, argv[1])) continue;
        int before = gm_t_failed_checks, checks = gm_t_checks;
        double t0 = gm_time_now();
        gm_t_skip = 0;
        cases[i].fn();
        double dt = gm_time_now() - t0;
        if (gm_t_skip && gm_t_failed_checks == before) {
            skipped++;
            fprintf(stderr, "SKIP %s\n", cases[i].name);
        } else if (gm_t_checks == checks) {
            failed++;
            fprintf(stderr, "FAIL %s: no check executed\n", cases[i].name);
        } else if (gm_t_failed_checks == before) {
            passed++;
            fprintf(stderr, "ok   %s (%.2fs)\n", cases[i].name, dt);
        } else {
            failed++;
            fprintf(stderr, "FAIL %s (%.2fs)\n", cases[i].name, dt);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed || passed + skipped == 0) return 1; /* a filter matching nothing is an error too */
    return skipped && !passed ? GM_TEST_SKIP_CODE : 0;
}

#define GM_TEST_MAIN(...)                                                         \
    int main(int argc, char **argv) {                                             \
        static const gm_test_case gm_t_cases[] = {__VA_ARGS__};                   \
        return gm_test_run(gm_t_cases, sizeof gm_t_cases / sizeof gm_t_cases[0], \
                           argc, argv);                                           \
    }

#endif /* GM_TEST_H */
