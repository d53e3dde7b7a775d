/* SPDX-License-Identifier: MIT */
/* test_base.c — status strings, error buffer, allocator fault injection, tensors, arena. */
#include "gm_test.h"
#include "genmix/tensor.h"

GM_TEST(test_strerror) {
    CHECK(strcmp(gm_strerror(GM_OK), "success") == 0);
    CHECK(strcmp(gm_strerror(GM_ENOMEM), "out of memory") == 0);
    CHECK(strcmp(gm_strerror(12345), "unknown error") == 0);
}

GM_TEST(test_error_message) {
    int rc = gm_set_error(GM_EFORMAT, "%s: bad magic\nsecond", "x.npy");
    CHECK_INT_EQ(rc, GM_EFORMAT);
    CHECK(strcmp(gm_last_error(), "x.npy: bad magic second") == 0); /* one line */
    gm_error_prefix(rc, "load");
    CHECK(strcmp(gm_last_error(), "load: x.npy: bad magic second") == 0);
    gm_clear_error();
    CHECK(gm_last_error()[0] == '\0');
}

/* The message may be built from the current one (re-raising with another code, adding to it): formatting
 * must not read the buffer it writes. */
GM_TEST(test_error_message_from_itself) {
    gm_set_error(GM_ENUMERIC, "x.npy: row 5 contains NaN (element 3)");
    int rc = gm_set_error(GM_EINVAL, "%s", gm_last_error());
    CHECK_INT_EQ(rc, GM_EINVAL);
    CHECK(strcmp(gm_last_error(), "x.npy: row 5 contains NaN (element 3)") == 0);
    gm_set_error(GM_EINVAL, "%s (reading --fake)", gm_last_error());
    CHECK(strcmp(gm_last_error(), "x.npy: row 5 contains NaN (element 3) (reading --fake)") == 0);
    gm_set_error(GM_EINVAL, "merge: %s", gm_last_error());
    CHECK(strcmp(gm_last_error(), "merge: x.npy: row 5 contains NaN (element 3) (reading --fake)") == 0);
    gm_clear_error();
}

GM_TEST(test_alloc_fail_nth) {
    gm_alloc_fail_nth(2, 0);
    void *a = gm_malloc(10), *b = gm_malloc(10), *c = gm_malloc(10);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL); /* not sticky */
    CHECK(strstr(gm_last_error(), "injected") != NULL);
    CHECK_INT_EQ(gm_alloc_count(), 3);
    gm_free(a);
    gm_free(c);
    gm_alloc_fail_nth(1, 1);
    CHECK(gm_malloc(1) == NULL);
    CHECK(gm_calloc(2, 2) == NULL); /* sticky */
    gm_alloc_fail_nth(0, 0);
    void *d = gm_calloc(4, 8);
    CHECK(d != NULL);
    CHECK(((char *)d)[31] == 0);
    gm_free(d);
    CHECK(gm_calloc(SIZE_MAX / 2, 4) == NULL); /* overflow */
    /* a product that wraps to a small size (2^61 + 1) x 8 = 8 (mod 2^64) is refused, not allocated */
    void *w = gm_calloc((SIZE_MAX >> 3) + 2, 8);
    CHECK(w == NULL);
    gm_free(w);
    CHECK(strstr(gm_last_error(), "overflows") != NULL);
}

GM_TEST(test_tensor) {
    gm_tensor t;
    int64_t shape[3] = {2, 3, 4};
    CHECK_OK(gm_tensor_alloc(&t, 3, shape));
    CHECK_INT_EQ(gm_tensor_numel(&t), 24);
    CHECK_INT_EQ(t.shape[3], 1);
    CHECK(t.data[23] == 0.0f);
    int64_t s2[2] = {6, 4};
    CHECK_OK(gm_tensor_reshape(&t, 2, s2));
    int64_t s3[1] = {25};
    CHECK_RC(gm_tensor_reshape(&t, 1, s3), GM_ESHAPE);
    gm_tensor_free(&t);
    CHECK(t.data == NULL);
    gm_tensor_free(NULL);
    int64_t bad[5] = {1, 1, 1, 1, 1};
    CHECK_RC(gm_tensor_alloc(&t, 5, bad), GM_EINVAL);
    int64_t neg[1] = {-3};
    CHECK_RC(gm_tensor_alloc(&t, 1, neg), GM_EINVAL);
    gm_alloc_fail_nth(1, 0);
    CHECK_RC(gm_tensor_alloc(&t, 3, shape), GM_ENOMEM);
    CHECK(t.data == NULL);
    gm_alloc_fail_nth(0, 0);
}

GM_TEST(test_arena) {
    gm_arena *a;
    CHECK_OK(gm_arena_create(&a, 256));
    float *x = gm_arena_floats(a, 10);
    CHECK(x != NULL && ((uintptr_t)x % 64) == 0);
    float *y = gm_arena_floats(a, 1000); /* forces growth */
    CHECK(y != NULL && ((uintptr_t)y % 64) == 0);
    y[999] = 1.0f;
    x[9] = 2.0f;
    CHECK(gm_arena_used(a) >= 4000);
    size_t peak = gm_arena_peak(a);
    gm_arena_reset(a);
    CHECK_INT_EQ(gm_arena_used(a), 0);
    /* after the merge, the same requests need no new allocation */
    gm_alloc_fail_nth(1, 1);
    CHECK(gm_arena_floats(a, 10) != NULL);
    CHECK(gm_arena_floats(a, 1000) != NULL);
    gm_alloc_fail_nth(0, 0);
    CHECK(gm_arena_peak(a) == peak);
    gm_arena_free(a);
    gm_arena_free(NULL);
    gm_alloc_fail_nth(2, 0);
    gm_arena *b = (gm_arena *)1;
    CHECK_RC(gm_arena_create(&b, 64), GM_ENOMEM);
    CHECK(b == NULL);
    gm_alloc_fail_nth(0, 0);
}

/* Release builds (NDEBUG, as CMake's Release/RelWithDebInfo set it): GM_ALWAYS/GM_NEVER evaluate their
 * condition once and return it, so the defensive branch runs; the debug behaviour is in test_base_always.c. */
static int defensive(volatile int *calls, int k, int n) {
    (*calls)++;
    if (GM_NEVER(k > n)) return GM_EINVAL;
    if (!GM_ALWAYS(n > 0)) return GM_ESHAPE;
    return GM_OK;
}

GM_TEST(test_always_never_release) {
#if defined(NDEBUG) && !defined(GM_COVERAGE)
    volatile int calls = 0;
    CHECK_RC(defensive(&calls, 1, 2), GM_OK);
    CHECK_RC(defensive(&calls, 3, 2), GM_EINVAL);
    CHECK_RC(defensive(&calls, 0, 0), GM_ESHAPE);
    CHECK_INT_EQ(calls, 3);
    int n = 0;
    CHECK(GM_NEVER(++n == 1) == 1 && n == 1);
    CHECK(GM_ALWAYS(++n == 7) == 0 && n == 2);
#endif
}

GM_TEST_MAIN({"strerror", test_strerror}, {"error_message", test_error_message},
             {"error_message_from_itself", test_error_message_from_itself},
             {"alloc_fail_nth", test_alloc_fail_nth}, {"tensor", test_tensor}, {"arena", test_arena},
             {"always_never_release", test_always_never_release})
