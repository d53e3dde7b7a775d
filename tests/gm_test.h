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
