/* SPDX-License-Identifier: MIT */
/* test_base_always.c — GM_ALWAYS/GM_NEVER in a debug build (this file undefines NDEBUG before including
 * genmix/base.h): a right belief passes the value through, a wrong one aborts with the condition named
 * (checked in a forked child). The release-build behaviour (evaluate and take the defensive branch) is
 * checked in test_base.c. */
#undef NDEBUG
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gm_test.h"

/* Runs fn in a child; returns 1 if the child died of SIGABRT. */
static int aborts(void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        freopen("/dev/null", "w", stderr); /* the expected "GM_NEVER(...) failed" line */
        fn();
        _exit(0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return 0;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static volatile int g_zero = 0, g_one = 1;
static void wrong_always(void) { (void)GM_ALWAYS(g_zero == 1); }
static void wrong_never(void) { (void)GM_NEVER(g_one == 1); }
static void right_beliefs(void) {
    if (!GM_ALWAYS(g_one == 1) || GM_NEVER(g_zero == 1)) _exit(3);
}

GM_TEST(test_always_never_debug) {
    int n = 0;
    CHECK(GM_ALWAYS(++n == 1) == 1); /* evaluated once, value passed through */
    CHECK_INT_EQ(n, 1);
    CHECK(GM_NEVER(++n == 5) == 0);
    CHECK_INT_EQ(n, 2);
    CHECK(aborts(wrong_always));
    CHECK(aborts(wrong_never));
    CHECK(!aborts(right_beliefs));
}

GM_TEST_MAIN({"always_never_debug", test_always_never_debug})
