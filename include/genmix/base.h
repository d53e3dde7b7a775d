/* SPDX-License-Identifier: MIT */
/* genmix/base.h — status codes, thread-local error messages, assertions, allocator hooks.
 *
 * Usage:
 *     int rc = gm_npy_read("x.npy", &arr);
 *     if (rc != GM_OK) fprintf(stderr, "error: %s\n", gm_last_error());
 *
 * Error convention: every fallible function returns an int status, GM_OK (0) on success or a negative
 * gm_status. The detail ("file:line-free", one line, naming the file/tensor/row at fault) is kept in a
 * thread-local buffer read with gm_last_error(); it stays valid until the next failure on that thread.
 * Programmer errors (broken shape or NULL contracts) hit GM_ASSERT, which is always on and aborts;
 * GM_ALWAYS/GM_NEVER mark defensive branches (abort in debug builds, handled in release builds).
 * The library never calls exit().
 *
 * Ownership: memory returned by gm_malloc/gm_calloc/gm_realloc is freed with gm_free.
 * Thread safety: everything here is thread-safe except gm_set_allocator and the fault-injection
 * hooks, which are meant to be set once (or in single-threaded tests).
 */
#ifndef GM_BASE_H
#define GM_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GM_VERSION_MAJOR 0
#define GM_VERSION_MINOR 1
#define GM_VERSION_PATCH 0

typedef enum {
    GM_OK = 0,
    GM_EINVAL = -1,   /* bad argument or configuration */
    GM_ENOMEM = -2,   /* allocation failed */
    GM_EIO = -3,      /* open/read/write failed (errno text in the message) */
    GM_EFORMAT = -4,  /* malformed npy / npz / safetensors / IDX / CSV / JSON */
    GM_ESHAPE = -5,   /* shapes do not conform */
    GM_ENUMERIC = -6  /* NaN/Inf produced, or an iteration diverged */
} gm_status;

/* Static description of a status code ("invalid argument", ...). Never NULL. */
const char *gm_strerror(int code);

/* The detail of the last failure on this thread ("" if none). Borrowed; valid until the next failure. */
const char *gm_last_error(void);

/* Forget the last error on this thread. */
void gm_clear_error(void);

/* Record a failure (printf-style message) and return `code`. Used by GM_FAIL; public so that
 * applications built on genmix report their own errors the same way. */
int gm_set_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix the current message with "prefix: " (e.g. a file name added by a caller). Returns `code`. */
int gm_error_prefix(int code, const char *prefix);

#define GM_FAIL(code, ...) return gm_set_error((code), __VA_ARGS__)

/* Always-on assertion for programmer errors: prints file:line and the condition, then aborts. */
void gm_assert_fail(const char *cond, const char *file, int line);
#define GM_ASSERT(c) ((c) ? (void)0 : gm_assert_fail(#c, __FILE__, __LINE__))

/* Defensive branches (SQLite's ALWAYS/NEVER): a condition believed always true (GM_ALWAYS) or never true
 * (GM_NEVER) that the code handles anyway, e.g. `if (GM_NEVER(k > n)) return GM_EINVAL;`.
 *   - debug builds (NDEBUG not defined): a wrong belief aborts like GM_ASSERT, so tests find it;
 *   - release builds (NDEBUG): the condition is evaluated and the defensive branch runs when it holds;
 *   - coverage builds (-DGM_COVERAGE): the constants 1 / 0, so the unreachable branch is not reported
 *     as untested.
 * Both evaluate x exactly once (except in coverage builds, where x is not evaluated: no side effects). */
#if defined(GM_COVERAGE)
#define GM_ALWAYS(x) (1)
#define GM_NEVER(x) (0)
#elif !defined(NDEBUG)
#define GM_ALWAYS(x) ((x) ? 1 : (gm_assert_fail("GM_ALWAYS(" #x ")", __FILE__, __LINE__), 0))
#define GM_NEVER(x) ((x) ? (gm_assert_fail("GM_NEVER(" #x ")", __FILE__, __LINE__), 1) : 0)
#else
#define GM_ALWAYS(x) ((x) ? 1 : 0)
#define GM_NEVER(x) ((x) ? 1 : 0)
#endif

/* ---- allocation ------------------------------------------------------------------------------ */

typedef struct {
    void *(*malloc_fn)(size_t size, void *ctx);
    void *(*realloc_fn)(void *p, size_t size, void *ctx);
    void (*free_fn)(void *p, void *ctx);
    void *ctx;
} gm_allocator;

/* Replace the allocator used by the whole library (NULL restores malloc/realloc/free). */
void gm_set_allocator(const gm_allocator *a);

/* Allocation through the hook. gm_malloc(0) returns a unique non-NULL pointer. On failure they return
 * NULL and record GM_ENOMEM with the requested size. gm_calloc checks n*size for overflow. */
void *gm_malloc(size_t size);
void *gm_calloc(size_t n, size_t size);
void *gm_realloc(void *p, size_t size);
void gm_free(void *p);
/* strdup through the hook (free with gm_free). */
char *gm_strdup(const char *s);

/* Fault injection for tests (SQLite test_malloc style): the nth allocation from now (1-based) fails,
 * and, if sticky, every one after it too. n = 0 turns injection off. */
void gm_alloc_fail_nth(long n, int sticky);
/* Allocations performed since the last gm_alloc_fail_nth() call. */
long gm_alloc_count(void);

/* Monotonic clock in seconds (for progress reports and benchmarks). */
double gm_time_now(void);

/* Library version as "MAJOR.MINOR.PATCH". */
const char *gm_version(void);

#ifdef __cplusplus
}
#endif
#endif /* GM_BASE_H */
