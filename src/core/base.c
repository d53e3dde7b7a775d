/* SPDX-License-Identifier: MIT */
/* base.c — status strings, thread-local error buffer, assertion handler, allocator hooks.
 * Owns: the process-wide allocator hook and the fault-injection counters.
 *
 * module: core (src/core/) owns what every other module stands on: status codes and error messages,
 * the allocator and fault injection, tensors and arenas, the Philox RNG, atomic file writes and SHA-256.
 * It depends on nothing else in genmix (level 0 of docs/design.md's module map). */
#include "genmix/base.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char tl_error[512];

const char *gm_strerror(int code) {
    switch (code) {
    case GM_OK: return "success";
    case GM_EINVAL: return "invalid argument";
    case GM_ENOMEM: return "out of memory";
    case GM_EIO: return "input/output error";
    case GM_EFORMAT: return "malformed input";
    case GM_ESHAPE: return "shape mismatch";
    case GM_ENUMERIC: return "numerical failure";
    default: return "unknown error";
    }
}

const char *gm_last_error(void) { return tl_error; }

void gm_clear_error(void) { tl_error[0] = '\0'; }

int gm_set_error(int code, const char *fmt, ...) {
    /* formatted into a scratch buffer first: an argument may be gm_last_error() itself */
    char msg[sizeof tl_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(tl_error, msg, sizeof tl_error);
    /* one-line messages only */
    for (char *p = tl_error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}

int gm_error_prefix(int code, const char *prefix) {
    char tmp[2 * sizeof tl_error];
    snprintf(tmp, sizeof tmp, "%s: %s", prefix, tl_error);
    memcpy(tl_error, tmp, sizeof tl_error - 1);
    tl_error[sizeof tl_error - 1] = 0;
    return code;
}

void gm_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "%s:%d: GM_ASSERT(%s) failed\n", file, line, cond);
    fflush(stderr);
    abort();
}

/* ---- allocation ---------------------------------------------------------------------------- */

static void *default_malloc(size_t n, void *ctx) { (void)ctx; return malloc(n); }
static void *default_realloc(void *p, size_t n, void *ctx) { (void)ctx; return realloc(p, n); }
static void default_free(void *p, void *ctx) { (void)ctx; free(p); }

static gm_allocator g_alloc = {default_malloc, default_realloc, default_free, NULL};
static atomic_long g_fail_nth = 0;  /* 0: off */
static atomic_int g_fail_sticky = 0;
static atomic_long g_count = 0;

void gm_set_allocator(const gm_allocator *a) {
    if (a) g_alloc = *a;
    else g_alloc = (gm_allocator){default_malloc, default_realloc, default_free, NULL};
}

void gm_alloc_fail_nth(long n, int sticky) {
    atomic_store(&g_count, 0);
    atomic_store(&g_fail_sticky, sticky);
    atomic_store(&g_fail_nth, n);
}

long gm_alloc_count(void) { return atomic_load(&g_count); }

/* Returns 1 if this allocation must fail (fault injection). */
static int inject_failure(void) {
    long k = atomic_fetch_add(&g_count, 1) + 1;
    long n = atomic_load(&g_fail_nth);
    if (n <= 0) return 0;
    return k == n || (k > n && atomic_load(&g_fail_sticky));
}

void *gm_malloc(size_t size) {
    if (inject_failure()) {
        gm_set_error(GM_ENOMEM, "out of memory (injected) allocating %zu bytes", size);
        return NULL;
    }
    void *p = g_alloc.malloc_fn(size ? size : 1, g_alloc.ctx);
    if (!p) gm_set_error(GM_ENOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *gm_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) {
        gm_set_error(GM_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = gm_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *gm_realloc(void *p, size_t size) {
    if (inject_failure()) {
        gm_set_error(GM_ENOMEM, "out of memory (injected) reallocating %zu bytes", size);
        return NULL;
    }
    void *q = g_alloc.realloc_fn(p, size ? size : 1, g_alloc.ctx);
    if (!q) gm_set_error(GM_ENOMEM, "out of memory reallocating %zu bytes", size);
    return q;
}

void gm_free(void *p) {
    if (p) g_alloc.free_fn(p, g_alloc.ctx);
}

char *gm_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = gm_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

double gm_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *gm_version(void) {
#ifdef GM_VERSION_STRING
    return GM_VERSION_STRING;
#else
    return "0.1.0";
#endif
}
