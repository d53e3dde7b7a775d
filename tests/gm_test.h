/* gm_test.h — genmix's minimal test runner (minctest / redis testhelp style).
 *
 *     GM_TEST(test_thing) { CHECK(1 + 1 == 2); CHECK_NEAR(x, 1.0, 1e-12, 0); }
 *     GM_TEST_MAIN({"thing", test_thing}, ...)
 *
 * A test passes when none of its checks fail. Each executable prints one line per failed check
 * (file:line and the condition) and ends with exactly one "N passed, N failed" line; it exits non-zero
 * if anything failed. `./test_x NAME` runs only the tests whose name contains NAME.
 * GM_TEST_DATA(p) names a file under tests/ (ctest runs from the source root). */
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

static int gm_t_failed_checks;

#define GM_TEST(name) static void name(void)

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) {                                                              \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
            gm_t_failed_checks++;                                                \
        }                                                                        \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                        \
    do {                                                                                          \
        long long gm_t_a = (long long)(a), gm_t_b = (long long)(b);                               \
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
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(cases[i].name, argv[1])) continue;
        int before = gm_t_failed_checks;
        double t0 = gm_time_now();
        cases[i].fn();
        double dt = gm_time_now() - t0;
        if (gm_t_failed_checks == before) {
            passed++;
            fprintf(stderr, "ok   %s (%.2fs)\n", cases[i].name, dt);
        } else {
            failed++;
            fprintf(stderr, "FAIL %s (%.2fs)\n", cases[i].name, dt);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define GM_TEST_MAIN(...)                                                         \
    int main(int argc, char **argv) {                                             \
        static const gm_test_case gm_t_cases[] = {__VA_ARGS__};                   \
        return gm_test_run(gm_t_cases, sizeof gm_t_cases / sizeof gm_t_cases[0], \
                           argc, argv);                                           \
    }

#endif /* GM_TEST_H */
